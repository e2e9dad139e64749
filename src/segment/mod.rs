//! The segment language: lexer, parser, AST, canonical printer and checker.

pub mod ast;
pub mod catalog;
pub mod check;
pub mod engine;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod printer;
pub mod sql;
pub mod suggest;

pub use ast::{
    Agg, AggFunc, BoolExpr, CmpOp, Cond, DateLit, DistUnit, DurUnit, Expr, Filter, Lit, Name, Place, Predicate, Span,
    Value, Window, is_ident, normalize,
};
pub use catalog::StaticCatalog;
pub use check::{
    Catalog, FieldType, MAX_SEGMENT_DEPTH, SOURCES, check, check_segment, event_fields, parse_checked, segment_refs,
};
pub use error::{ParseError, Warning};
pub use parser::{MAX_DEPTH, parse};
pub use printer::{print, print_filter};
pub use suggest::suggest;
#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
