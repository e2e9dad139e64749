//! reach: the domain core (model, store, import/export, segments, campaigns)
//! and the scripted CLI front end. The core never prints or exits.

pub mod campaign;
pub mod model;
pub mod segment;
pub mod error;
pub mod store;
pub mod derived;
pub mod demo; pub mod geo;
