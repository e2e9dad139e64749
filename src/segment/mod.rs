//! The segment language: lexer, parser, AST, canonical printer and checker.

pub mod ast;
pub mod error;
pub mod lexer;
pub mod parser;
pub mod printer;
pub mod suggest;

pub use ast::{
    Agg, AggFunc, BoolExpr, CmpOp, Cond, DateLit, DistUnit, DurUnit, Expr, Filter, Lit, Name,
    Place, Predicate, Span, Value, Window, is_ident, normalize,
};
pub use error::{ParseError, Warning};
pub use parser::{MAX_DEPTH, parse};
pub use printer::{print, print_filter};
pub use suggest::suggest;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
