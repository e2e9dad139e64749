//! A saved segment: a name for an expression, with its timestamps.

use super::time::Ts;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSegment {
    pub name: String,
    /// canonical text of the expression
    pub expr: String,
    pub created_at: Ts,
    pub updated_at: Ts,
}
