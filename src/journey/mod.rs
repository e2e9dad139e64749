//! Automation journeys: files, the stored model, enrollments and their
//! steps, the runner the scheduler drives, and the simulation of a journey
//! over the store's history.

pub mod file;
pub mod model;
pub mod run;
pub mod simulate;
mod write;

pub use file::{Checker, FileError, parse_journey};
pub use model::{Action, Branch, Dur, Goal, Journey, Promo, Reentry, Status, Step, Target, Trigger};
