//! The segment expression tree: boolean structure, predicates, values, spans.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::Decimal;

/// A byte range in the source text. Spans never take part in equality or
/// hashing, so a parsed tree equals a hand-built one (`Span::default()`).
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Hash for Span {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

/// A name as written: identifier or quoted string. For fields the dotted
/// path is joined with `.` (`consent.email`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

impl Name {
    pub fn new(text: impl Into<String>) -> Name {
        Name { text: text.into(), span: Span::default() }
    }
}

/// A literal value with its position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lit {
    pub value: Value,
    pub span: Span,
}

impl Lit {
    pub fn new(value: Value) -> Lit {
        Lit { value, span: Span::default() }
    }
}

/// A literal. `Ident` is a bare identifier used as a value (`source = paid`,
/// `engagement = dormant`); it is kept apart from `Str` so printing gives
/// back what was written. An `Ident` always holds identifier syntax and is
/// never `true`/`false` (those are `Bool`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Number(Decimal),
    Str(String),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Ident(String),
}

impl Value {
    /// The text of a string or bare identifier value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Ident(s) => Some(s),
            _ => None,
        }
    }
}

/// Boolean structure shared by segment expressions and aggregate filters.
/// The parser flattens nested `and`/`or` (see [`normalize`]), so an `And`
/// never directly holds an `And`, and `And`/`Or` have at least two children.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BoolExpr<P> {
    Or(Vec<BoolExpr<P>>),
    And(Vec<BoolExpr<P>>),
    Not(Box<BoolExpr<P>>),
    Pred(P),
}

/// A segment expression over one contact.
pub type Expr = BoolExpr<Predicate>;
/// An aggregate's `where` filter over one event's parameters and `source`.
pub type Filter = BoolExpr<Cond>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Predicate {
    Tag(Name),
    Category(Name),
    Segment(Name),
    /// A condition on a contact field.
    Cond(Cond),
    /// `span` covers the whole `near(…) within …` text.
    Near {
        place: Place,
        radius: Decimal,
        unit: DistUnit,
        span: Span,
    },
    Agg(Agg),
}

/// A condition on one field (contact field, or event parameter in a filter).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    Cmp { field: Name, op: CmpOp, value: Lit },
    In { field: Name, values: Vec<Lit> },
    Between { field: Name, lo: Lit, hi: Lit },
    Contains { field: Name, value: Lit },
    IsSet { field: Name, negated: bool },
}

impl Cond {
    pub fn field(&self) -> &Name {
        match self {
            Cond::Cmp { field, .. }
            | Cond::In { field, .. }
            | Cond::Between { field, .. }
            | Cond::Contains { field, .. }
            | Cond::IsSet { field, .. } => field,
        }
    }
}

/// `func(kind[.param] [where filter] [, window]) op value`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Agg {
    pub func: AggFunc,
    pub kind: Name,
    pub param: Option<Name>,
    pub filter: Option<Box<Filter>>,
    pub window: Option<Window>,
    pub op: CmpOp,
    pub value: Lit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub const ALL: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    DaysSinceLast,
    DaysSinceFirst,
}

impl AggFunc {
    pub const ALL: [AggFunc; 7] = [
        AggFunc::Count,
        AggFunc::Sum,
        AggFunc::Avg,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::DaysSinceLast,
        AggFunc::DaysSinceFirst,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::DaysSinceLast => "days_since_last",
            AggFunc::DaysSinceFirst => "days_since_first",
        }
    }
    /// Case-insensitive lookup.
    pub fn from_name(s: &str) -> Option<AggFunc> {
        AggFunc::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s))
    }
    /// `sum`, `avg`, `min`, `max` aggregate a numeric parameter.
    pub fn needs_param(self) -> bool {
        matches!(self, AggFunc::Sum | AggFunc::Avg | AggFunc::Min | AggFunc::Max)
    }
}

/// A date or a timestamp as written (`2024-05-01`, `2024-05-01T10:00:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateLit {
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    /// `last N unit`: events with ts > now − N units.
    Last {
        n: u32,
        unit: DurUnit,
    },
    Since(DateLit),
    /// Inclusive on both ends.
    Between(DateLit, DateLit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DurUnit {
    Hours,
    Days,
    Weeks,
    /// Calendar months.
    Months,
    /// Calendar years.
    Years,
}

impl DurUnit {
    pub const ALL: [DurUnit; 5] = [DurUnit::Hours, DurUnit::Days, DurUnit::Weeks, DurUnit::Months, DurUnit::Years];
    pub fn as_str(self) -> &'static str {
        match self {
            DurUnit::Hours => "h",
            DurUnit::Days => "d",
            DurUnit::Weeks => "w",
            DurUnit::Months => "mo",
            DurUnit::Years => "y",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DistUnit {
    Km,
    Mi,
}

impl DistUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            DistUnit::Km => "km",
            DistUnit::Mi => "mi",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// A city known to the gazetteer, always written as a string.
    City(Name),
    Coords {
        lat: Decimal,
        lon: Decimal,
    },
}

/// True if `s` can be written bare as a NAME: `[A-Za-z_][A-Za-z0-9_-]*`.
pub fn is_ident(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Flattens `And` in `And` and `Or` in `Or`, and replaces a one-child
/// `And`/`Or` by its child, everywhere (filters included). The parser only
/// produces normalised trees, so `parse(print(t)) == normalize(t)` for every
/// tree whose `And`/`Or` nodes are non-empty.
pub fn normalize(e: &Expr) -> Expr {
    normalize_with(e, &|p| match p {
        Predicate::Agg(a) => Predicate::Agg(Agg {
            filter: a.filter.as_ref().map(|f| Box::new(normalize_with(f, &Cond::clone))),
            ..a.clone()
        }),
        other => other.clone(),
    })
}

fn normalize_with<P>(e: &BoolExpr<P>, leaf: &dyn Fn(&P) -> P) -> BoolExpr<P> {
    match e {
        BoolExpr::Pred(p) => BoolExpr::Pred(leaf(p)),
        BoolExpr::Not(x) => BoolExpr::Not(Box::new(normalize_with(x, leaf))),
        BoolExpr::And(xs) => join(xs, true, leaf),
        BoolExpr::Or(xs) => join(xs, false, leaf),
    }
}

fn join<P>(xs: &[BoolExpr<P>], and: bool, leaf: &dyn Fn(&P) -> P) -> BoolExpr<P> {
    let mut out = Vec::new();
    for x in xs {
        match (normalize_with(x, leaf), and) {
            (BoolExpr::And(ys), true) | (BoolExpr::Or(ys), false) => out.extend(ys),
            (y, _) => out.push(y),
        }
    }
    if out.len() == 1 {
        return out.pop().expect("one element");
    }
    if and { BoolExpr::And(out) } else { BoolExpr::Or(out) }
}
