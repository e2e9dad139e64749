//! Helpers of the segment SQL oracle test.

pub mod exprs;
pub mod fixture;
