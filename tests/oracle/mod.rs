//! Helpers of the segment SQL oracle test.

pub mod cases;
pub mod exprs;
pub mod fixture;
