//! The data model: contacts, attributes, events, tags, categories. Types and
//! rules only, no I/O.

pub mod decimal;

pub use decimal::Decimal;
