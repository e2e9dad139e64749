//! The data model: contacts, attributes, events, tags, categories. Types and
//! rules only, no I/O.

pub mod attribute;
pub mod contact;
pub mod decimal;
pub mod event;
pub mod schema;
pub mod segment;
pub mod time;

pub use attribute::{AttrDef, AttrType, AttrValue};
pub use contact::{Action, ActionKind, Channel, Consent, Contact, ContactId};
pub use decimal::Decimal;
pub use event::{KindDef, ParamDef, ParamType, Source};
pub use schema::Schema;
pub use time::Ts;
