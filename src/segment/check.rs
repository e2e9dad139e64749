//! Semantic check of a parsed expression against a catalog of names and types.

use std::collections::HashSet;

use super::ast::*;
use super::error::{ParseError, Warning};
use super::parser::parse;
use super::suggest::suggest;

/// The type of a contact field or event parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    Number,
    Text,
    Bool,
    Date,
    DateTime,
    /// One of the declared values.
    Enum(Vec<String>),
    /// Many of the declared values.
    Set(Vec<String>),
}

/// Traffic source classes, the values of an event's `source`.
pub const SOURCES: [&str; 6] = ["direct", "referral", "search", "paid", "email", "social"];

/// Names every event has besides its kind's parameters (usable in filters).
pub fn event_fields() -> Vec<(String, FieldType)> {
    vec![
        ("source".into(), FieldType::Enum(SOURCES.iter().map(|s| s.to_string()).collect())),
        ("utm_source".into(), FieldType::Text),
        ("utm_medium".into(), FieldType::Text),
        ("utm_campaign".into(), FieldType::Text),
    ]
}

/// What the checker needs to know about the store. The `*_names` methods
/// only feed suggestions and default to none.
pub trait Catalog {
    /// The type of a contact field, attribute or derived fact (`consent.email`, `rfm.r`).
    fn field(&self, name: &str) -> Option<FieldType>;
    fn field_names(&self) -> Vec<String>;
    /// The parameters of an event kind, `None` if the kind is unknown.
    fn kind_params(&self, kind: &str) -> Option<Vec<(String, FieldType)>>;
    fn kind_names(&self) -> Vec<String>;
    fn has_tag(&self, tag: &str) -> bool;
    fn tag_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn has_category(&self, category: &str) -> bool;
    fn category_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// The source text of a saved segment.
    fn segment_expr(&self, name: &str) -> Option<String>;
    fn segment_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether the gazetteer knows a city.
    fn has_place(&self, name: &str) -> bool;
    fn place_names(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Deepest chain of saved segments referring to each other that is followed.
pub const MAX_SEGMENT_DEPTH: usize = 64;

/// Checks `e` (parsed from `src`, whose byte spans it carries) against the
/// catalog. Unknown fields, kinds, parameters, enum values, places, wrong
/// value types and segment cycles are errors; tags, categories and segments
/// that do not exist are warnings. For a hand-built tree pass `src = ""`
/// (positions are then column 1).
pub fn check(e: &Expr, src: &str, cat: &dyn Catalog) -> Result<Vec<Warning>, ParseError> {
    check_inner(None, e, src, cat)
}

/// As [`check`], for the expression about to be saved as segment `name`:
/// a reference back to `name` through other segments is a cycle.
pub fn check_segment(name: &str, e: &Expr, src: &str, cat: &dyn Catalog) -> Result<Vec<Warning>, ParseError> {
    check_inner(Some(name), e, src, cat)
}

/// Parses and checks in one step.
pub fn parse_checked(src: &str, cat: &dyn Catalog) -> Result<(Expr, Vec<Warning>), ParseError> {
    let e = parse(src)?;
    let w = check(&e, src, cat)?;
    Ok((e, w))
}

fn check_inner(root: Option<&str>, e: &Expr, src: &str, cat: &dyn Catalog) -> Result<Vec<Warning>, ParseError> {
    let mut c = Checker { src, cat, warnings: Vec::new() };
    c.expr(e)?;
    c.cycles(root, e)?;
    Ok(c.warnings)
}

struct Checker<'a> {
    src: &'a str,
    cat: &'a dyn Catalog,
    warnings: Vec<Warning>,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(d) => format!("number {d}"),
        Value::Str(s) => format!("text {s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Date(d) => format!("date {d}"),
        Value::DateTime(t) => format!("timestamp {}", t.to_rfc3339()),
        Value::Ident(s) => format!("name `{s}`"),
    }
}

fn type_name(t: &FieldType) -> String {
    match t {
        FieldType::Number => "a number".into(),
        FieldType::Text => "text".into(),
        FieldType::Bool => "true or false".into(),
        FieldType::Date => "a date (YYYY-MM-DD)".into(),
        FieldType::DateTime => "a timestamp (date or RFC 3339)".into(),
        FieldType::Enum(v) => format!("one of {}", v.join(", ")),
        FieldType::Set(v) => format!("a set of {}", v.join(", ")),
    }
}

impl Checker<'_> {
    fn err(&self, span: Span, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.src, span.start, msg)
    }

    fn warn(&mut self, span: Span, msg: String, suggestion: Option<String>) {
        let mut w = Warning::new(self.src, span.start, msg);
        w.suggestion = suggestion;
        self.warnings.push(w);
    }

    fn expr(&mut self, e: &Expr) -> Result<(), ParseError> {
        match e {
            BoolExpr::Or(xs) | BoolExpr::And(xs) => xs.iter().try_for_each(|x| self.expr(x)),
            BoolExpr::Not(x) => self.expr(x),
            BoolExpr::Pred(p) => self.predicate(p),
        }
    }

    fn predicate(&mut self, p: &Predicate) -> Result<(), ParseError> {
        match p {
            Predicate::Tag(n) => {
                if !self.cat.has_tag(&n.text) {
                    let s = suggest(&n.text, &self.cat.tag_names());
                    self.warn(n.span, format!("tag `{}` does not exist yet", n.text), s);
                }
            }
            Predicate::Category(n) => {
                if !self.cat.has_category(&n.text) {
                    let s = suggest(&n.text, &self.cat.category_names());
                    self.warn(n.span, format!("category `{}` does not exist yet", n.text), s);
                }
            }
            Predicate::Segment(n) => {
                if self.cat.segment_expr(&n.text).is_none() {
                    let s = suggest(&n.text, &self.cat.segment_names());
                    self.warn(n.span, format!("segment `{}` does not exist yet", n.text), s);
                }
            }
            Predicate::Cond(c) => {
                let f = c.field();
                let Some(ty) = self.cat.field(&f.text) else {
                    return Err(self
                        .err(f.span, format!("unknown field `{}`", f.text))
                        .with_suggestion(suggest(&f.text, &self.cat.field_names())));
                };
                self.cond(c, &ty)?;
            }
            Predicate::Near { place, radius, span, .. } => {
                match place {
                    Place::City(n) => {
                        if !self.cat.has_place(&n.text) {
                            return Err(self
                                .err(n.span, format!("unknown place {:?}", n.text))
                                .with_suggestion(suggest(&n.text, &self.cat.place_names())));
                        }
                    }
                    Place::Coords { lat, lon } => {
                        let (la, lo) = (lat.to_f64(), lon.to_f64());
                        if !(-90.0..=90.0).contains(&la) || !(-180.0..=180.0).contains(&lo) {
                            return Err(self.err(
                                *span,
                                format!("coordinates {lat}, {lon} out of range (latitude ±90, longitude ±180)"),
                            ));
                        }
                    }
                }
                if radius.units() <= 0 {
                    return Err(self.err(*span, format!("the distance must be positive, found {radius}")));
                }
            }
            Predicate::Agg(a) => self.agg(a)?,
        }
        Ok(())
    }

    fn agg(&mut self, a: &Agg) -> Result<(), ParseError> {
        let kind = &a.kind;
        let Some(params) = self.cat.kind_params(&kind.text) else {
            return Err(self
                .err(kind.span, format!("unknown event kind `{}`", kind.text))
                .with_suggestion(suggest(&kind.text, &self.cat.kind_names())));
        };
        let func = a.func.as_str();
        let numeric: Vec<&String> = params.iter().filter(|(_, t)| *t == FieldType::Number).map(|(n, _)| n).collect();
        match (&a.param, a.func.needs_param()) {
            (None, true) => {
                let msg = format!("`{func}` needs a numeric parameter of `{}`", kind.text);
                let s = numeric.first().map(|p| format!("{func}({}.{p})", kind.text));
                return Err(self.err(kind.span, msg).with_suggestion(s));
            }
            (Some(p), false) => {
                let msg = format!("`{func}` takes no parameter (filter with `{func}({} where …)`)", kind.text);
                return Err(self.err(p.span, msg));
            }
            (Some(p), true) => match params.iter().find(|(n, _)| *n == p.text) {
                None => {
                    let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
                    let msg = format!("event `{}` has no parameter `{}`", kind.text, p.text);
                    return Err(self.err(p.span, msg).with_suggestion(suggest(&p.text, &names)));
                }
                Some((_, t)) if *t != FieldType::Number => {
                    let msg =
                        format!("`{func}` needs a numeric parameter; `{}.{}` is {}", kind.text, p.text, type_name(t));
                    let s = numeric.first().map(|n| n.to_string());
                    return Err(self.err(p.span, msg).with_suggestion(s));
                }
                Some(_) => {}
            },
            (None, false) => {}
        }
        if let Some(f) = &a.filter {
            let mut known = params.clone();
            known.extend(event_fields());
            self.filter(f, &kind.text, &known)?;
        }
        self.value(&a.value, &FieldType::Number, &format!("{func}(…)"))
    }

    fn filter(&mut self, f: &Filter, kind: &str, known: &[(String, FieldType)]) -> Result<(), ParseError> {
        match f {
            BoolExpr::Or(xs) | BoolExpr::And(xs) => xs.iter().try_for_each(|x| self.filter(x, kind, known)),
            BoolExpr::Not(x) => self.filter(x, kind, known),
            BoolExpr::Pred(c) => {
                let n = c.field();
                match known.iter().find(|(k, _)| *k == n.text) {
                    Some((_, t)) => self.cond(c, t),
                    None => {
                        let names: Vec<String> = known.iter().map(|(k, _)| k.clone()).collect();
                        let msg = format!("event `{kind}` has no parameter `{}`", n.text);
                        Err(self.err(n.span, msg).with_suggestion(suggest(&n.text, &names)))
                    }
                }
            }
        }
    }

    fn cond(&mut self, c: &Cond, ty: &FieldType) -> Result<(), ParseError> {
        let f = c.field();
        let name = f.text.as_str();
        match (c, ty) {
            (Cond::IsSet { .. }, _) => Ok(()),
            (Cond::Cmp { .. } | Cond::In { .. }, FieldType::Set(_)) => {
                Err(self.err(f.span, format!("`{name}` is a set: use `{name} contains …`")))
            }
            (Cond::Cmp { op, value, .. }, FieldType::Bool | FieldType::Enum(_))
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) =>
            {
                let msg = format!("`{}` does not apply to `{name}`, which is {}", op.as_str(), type_name(ty));
                Err(self.err(value.span, msg))
            }
            (Cond::Cmp { value, .. }, _) => self.value(value, ty, name),
            (Cond::In { values, .. }, _) => values.iter().try_for_each(|v| self.value(v, ty, name)),
            (Cond::Between { lo, .. }, FieldType::Bool | FieldType::Enum(_) | FieldType::Set(_)) => {
                let msg = format!("`between` does not apply to `{name}`, which is {}", type_name(ty));
                Err(self.err(lo.span, msg))
            }
            (Cond::Between { lo, hi, .. }, _) => {
                self.value(lo, ty, name)?;
                self.value(hi, ty, name)
            }
            (Cond::Contains { value, .. }, FieldType::Text | FieldType::Set(_)) => self.value(value, ty, name),
            (Cond::Contains { value, .. }, _) => {
                let msg = format!("`contains` applies to text and set fields; `{name}` is {}", type_name(ty));
                Err(self.err(value.span, msg))
            }
        }
    }

    fn value(&self, lit: &Lit, ty: &FieldType, name: &str) -> Result<(), ParseError> {
        let v = &lit.value;
        let ok = match (ty, v) {
            (FieldType::Number, Value::Number(_))
            | (FieldType::Text, Value::Str(_))
            | (FieldType::Bool, Value::Bool(_))
            | (FieldType::Date, Value::Date(_))
            | (FieldType::DateTime, Value::Date(_) | Value::DateTime(_)) => true,
            (FieldType::Enum(vals) | FieldType::Set(vals), Value::Str(s) | Value::Ident(s)) => {
                if vals.contains(s) {
                    true
                } else {
                    let msg = format!("`{name}` has no value `{s}` (it is {})", type_name(ty));
                    return Err(self.err(lit.span, msg).with_suggestion(suggest(s, vals)));
                }
            }
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let msg = format!("`{name}` is {}, found {}", type_name(ty), describe(v));
        let s = match (ty, v) {
            (FieldType::Text, Value::Ident(s)) => Some(format!("\"{s}\"")),
            (FieldType::Text, Value::Number(d)) => Some(format!("\"{d}\"")),
            (FieldType::Number, Value::Str(s)) => crate::model::Decimal::parse(s).ok().map(|d| d.to_string()),
            _ => None,
        };
        Err(self.err(lit.span, msg).with_suggestion(s))
    }

    /// Follows `segment:` references through the saved expressions; a name
    /// met again on the current path is a cycle.
    fn cycles(&mut self, root: Option<&str>, e: &Expr) -> Result<(), ParseError> {
        let mut done = HashSet::new();
        let path: Vec<String> = root.map(|r| vec![r.to_string()]).unwrap_or_default();
        for r in segment_refs(e) {
            let mut path = path.clone();
            if let Some(cycle) = self.follow(&r.text, &mut path, &mut done)? {
                return Err(self.err(r.span, format!("segment cycle: {}", cycle.join(" → "))));
            }
        }
        Ok(())
    }

    fn follow(
        &mut self,
        name: &str,
        path: &mut Vec<String>,
        done: &mut HashSet<String>,
    ) -> Result<Option<Vec<String>>, ParseError> {
        if let Some(k) = path.iter().position(|p| p == name) {
            let mut cycle = path[k..].to_vec();
            cycle.push(name.to_string());
            return Ok(Some(cycle));
        }
        if done.contains(name) || path.len() >= MAX_SEGMENT_DEPTH {
            return Ok(None);
        }
        let Some(text) = self.cat.segment_expr(name) else {
            return Ok(None);
        };
        let Ok(inner) = parse(&text) else {
            // a broken saved segment is reported when it is itself checked
            return Ok(None);
        };
        path.push(name.to_string());
        for r in segment_refs(&inner) {
            if let Some(c) = self.follow(&r.text, path, done)? {
                return Ok(Some(c));
            }
        }
        path.pop();
        done.insert(name.to_string());
        Ok(None)
    }
}

/// Every `segment:NAME` in `e`, in order.
pub fn segment_refs(e: &Expr) -> Vec<&Name> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            BoolExpr::Or(xs) | BoolExpr::And(xs) => stack.extend(xs.iter().rev()),
            BoolExpr::Not(x) => stack.push(x),
            BoolExpr::Pred(Predicate::Segment(n)) => out.push(n),
            BoolExpr::Pred(_) => {}
        }
    }
    out
}
