//! reach: the domain core (model, store, import/export, segments, campaigns)
//! and the scripted CLI front end. The core never prints or exits.

#[doc(hidden)]
pub mod allocator;
pub mod app;
pub mod campaign;
pub mod cli;
pub mod config;
pub mod console;
pub mod delivery_config;
pub mod demo;
pub mod derived;
pub mod error;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod geo;
pub mod host;
pub mod import;
pub mod journey;
pub mod model;
pub mod parallel;
pub mod segment;
pub mod store;
