//! Canonical text of an expression: lowercase keywords, minimal parentheses.

use std::fmt::Write;

use chrono::SecondsFormat;

use super::ast::*;

/// The canonical form. `parse(print(t)) == normalize(t)` for every tree
/// whose `And`/`Or` nodes are non-empty (and `== t` for normalised trees).
pub fn print(e: &Expr) -> String {
    let mut out = String::new();
    bool_expr(&mut out, e, &predicate);
    out
}

/// The canonical form of an aggregate filter.
pub fn print_filter(f: &Filter) -> String {
    let mut out = String::new();
    bool_expr(&mut out, f, &cond);
    out
}

fn bool_expr<P>(out: &mut String, e: &BoolExpr<P>, leaf: &dyn Fn(&mut String, &P)) {
    match e {
        BoolExpr::Pred(p) => leaf(out, p),
        BoolExpr::Not(x) => {
            out.push_str("not ");
            child(out, x, matches!(**x, BoolExpr::And(_) | BoolExpr::Or(_)), leaf);
        }
        BoolExpr::And(xs) => {
            for (k, x) in xs.iter().enumerate() {
                if k > 0 {
                    out.push_str(" and ");
                }
                child(out, x, matches!(x, BoolExpr::Or(_)), leaf);
            }
        }
        BoolExpr::Or(xs) => {
            for (k, x) in xs.iter().enumerate() {
                if k > 0 {
                    out.push_str(" or ");
                }
                bool_expr(out, x, leaf);
            }
        }
    }
}

fn child<P>(out: &mut String, e: &BoolExpr<P>, parens: bool, leaf: &dyn Fn(&mut String, &P)) {
    if parens {
        out.push('(');
    }
    bool_expr(out, e, leaf);
    if parens {
        out.push(')');
    }
}

fn predicate(out: &mut String, p: &Predicate) {
    match p {
        Predicate::Tag(n) => {
            out.push_str("tag:");
            name(out, &n.text);
        }
        Predicate::Category(n) => {
            out.push_str("category:");
            name(out, &n.text);
        }
        Predicate::Segment(n) => {
            out.push_str("segment:");
            name(out, &n.text);
        }
        Predicate::Cond(c) => cond(out, c),
        Predicate::Near { place, radius, unit, .. } => {
            out.push_str("near(");
            match place {
                Place::City(n) => string(out, &n.text),
                Place::Coords { lat, lon } => {
                    let _ = write!(out, "{lat}, {lon}");
                }
            }
            let _ = write!(out, ") within {radius}{}", unit.as_str());
        }
        Predicate::Agg(a) => {
            let _ = write!(out, "{}(", a.func.as_str());
            name(out, &a.kind.text);
            if let Some(p) = &a.param {
                out.push('.');
                name(out, &p.text);
            }
            if let Some(f) = &a.filter {
                out.push_str(" where ");
                bool_expr(out, f, &cond);
            }
            if let Some(w) = &a.window {
                out.push_str(", ");
                window(out, w);
            }
            let _ = write!(out, ") {} ", a.op.as_str());
            value(out, &a.value.value);
        }
    }
}

fn cond(out: &mut String, c: &Cond) {
    field(out, &c.field().text);
    match c {
        Cond::Cmp { op, value: v, .. } => {
            let _ = write!(out, " {} ", op.as_str());
            value(out, &v.value);
        }
        Cond::In { values, .. } => {
            out.push_str(" in [");
            for (k, v) in values.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                value(out, &v.value);
            }
            out.push(']');
        }
        Cond::Between { lo, hi, .. } => {
            out.push_str(" between ");
            value(out, &lo.value);
            out.push_str(" and ");
            value(out, &hi.value);
        }
        Cond::Contains { value: v, .. } => {
            out.push_str(" contains ");
            value(out, &v.value);
        }
        Cond::IsSet { negated, .. } => {
            out.push_str(if *negated { " is not set" } else { " is set" });
        }
    }
}

fn window(out: &mut String, w: &Window) {
    match w {
        Window::Last { n, unit } => {
            let _ = write!(out, "last {n}{}", unit.as_str());
        }
        Window::Since(d) => {
            out.push_str("since ");
            date(out, d);
        }
        Window::Between(lo, hi) => {
            out.push_str("between ");
            date(out, lo);
            out.push_str(" and ");
            date(out, hi);
        }
    }
}

fn date(out: &mut String, d: &DateLit) {
    match d {
        DateLit::Date(d) => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
        DateLit::DateTime(t) => out.push_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

fn value(out: &mut String, v: &Value) {
    match v {
        Value::Number(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Str(s) => string(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Date(d) => date(out, &DateLit::Date(*d)),
        Value::DateTime(t) => date(out, &DateLit::DateTime(*t)),
        Value::Ident(s) => out.push_str(s),
    }
}

/// A dotted field: each part bare when it is an identifier. A first part
/// spelled `not` is quoted, since bare it would read as the operator.
fn field(out: &mut String, text: &str) {
    for (k, part) in text.split('.').enumerate() {
        if k > 0 {
            out.push('.');
        }
        if k == 0 && part.eq_ignore_ascii_case("not") {
            string(out, part);
        } else {
            name(out, part);
        }
    }
}

fn name(out: &mut String, s: &str) {
    if is_ident(s) {
        out.push_str(s);
    } else {
        string(out, s);
    }
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}
