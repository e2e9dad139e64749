//! The console: a ratatui front end over the application layer. Keys go
//! through the keymap to named actions, `App::update` turns actions into
//! state changes and jobs, slow work runs on worker lanes, and rendering is
//! a pure function of the state, drawn only when something changed.

pub mod action;
pub mod app;
pub mod input;
pub mod keymap;
pub mod remote;
pub mod run;
pub mod screens;
pub mod theme;
pub mod tree;
pub mod ui;
pub mod worker;
