//! A segment as SQL over the exported `contacts` and `events` tables
//! (spec/product.md), returning the matching contact ids.

use crate::derived::Thresholds;
use crate::error::{Error, Result};
use crate::segment::Expr;
use crate::segment::engine::StoreCatalog;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Duckdb,
    Postgres,
    Clickhouse,
}

pub fn to_sql(_e: &Expr, _d: Dialect, _now: i64, _cat: &StoreCatalog, _th: &Thresholds) -> Result<String> {
    Err(Error::runtime("segment sql is being written"))
}
