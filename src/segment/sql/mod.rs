//! A segment as SQL over the exported `contacts` and `events` tables
//! (spec/product.md), returning the matching contact ids.
//!
//! The query mirrors the engine's semantics (src/segment/engine/eval.rs):
//!
//! - every column is read through a conversion that does not depend on the
//!   type the loader gave it (dialect.rs): text, exact decimals, dates and
//!   UTC instants; an empty cell and NULL both mean "no value";
//! - two-valued logic: each leaf is `COALESCE(cond, FALSE)`, so a missing
//!   value compares false and `NOT` is the complement within all contacts;
//! - numbers compare as integer micro-units (6 decimals), sums are integer
//!   sums and `avg op v` is `sum op v·count`, with no division;
//! - instants compare as the engine's UTC timestamps (SQLite: RFC 3339 text,
//!   which sorts in time order), against bounds computed here from `now`,
//!   which is baked in;
//! - aggregates are per-contact CTEs over `events` LEFT JOINed to `contacts`:
//!   count and sum are 0 over no events, the others have no value;
//! - derived facts (engagement, lifecycle, RFM quintiles) are CTEs with the
//!   configured thresholds baked in;
//! - saved segments are inlined, category descendants expanded here.

use crate::derived::{Engagement, Lifecycle, Thresholds};
use crate::error::{Error, Result};
use crate::model::attribute::{AttrType, date_to_days, days_to_date};
use crate::model::decimal::SCALE;
use crate::model::{ParamType, Source};
use crate::segment::ast::*;
use crate::segment::engine::StoreCatalog;
use crate::segment::printer::print;
use chrono::{DateTime, Datelike, Utc};
use dialect::ts_text;
use std::collections::HashMap;
use std::fmt::Write as _;

use crate::segment::engine::window_range;

mod dialect;
pub use dialect::Dialect;

const DAY: i64 = 86_400;
/// How deep `segment:` references may nest before it is called a cycle (as the engine).
const MAX_SEGMENT_NESTING: usize = 32;

fn units(l: &Lit) -> Result<i128> {
    match &l.value {
        Value::Number(d) => Ok(d.units() as i128),
        other => Err(Error::input(format!("expected a number, found {other:?}"))),
    }
}

fn text(l: &Lit) -> Result<&str> {
    l.value.as_text().ok_or_else(|| Error::input(format!("expected a text value, found {:?}", l.value)))
}

/// `s` on one line, safe inside a `--` comment: every character an engine
/// could take for a line end (any control character, U+2028, U+2029)
/// becomes a space, so nothing of the expression's text can end the comment.
fn comment_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || c == '\u{2028}' || c == '\u{2029}' { ' ' } else { c }).collect()
}

fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// What a contact-field value is, for building conditions on it.
enum Ty<'a> {
    /// integer micro-units
    Num,
    /// text, ordered byte-wise
    Text,
    /// 'true' / 'false'
    Bool,
    /// 'YYYY-MM-DD'
    Date,
    /// RFC 3339 instant
    Time,
    Enum(Vec<&'a str>),
    /// `;`-joined members of the declared values
    Set(&'a [String]),
}

struct Gen<'a> {
    d: Dialect,
    now: i64,
    cat: &'a StoreCatalog,
    th: &'a Thresholds,
    /// aggregate CTEs: (name, body), deduplicated by key
    ctes: Vec<(String, String)>,
    agg_keys: HashMap<String, String>,
    engagement: bool,
    buyers: bool,
    rfm: bool,
    math: bool,
    stack: Vec<String>,
}

/// SQL for `e`: one SELECT returning the matching `contacts.id` values as `id`.
pub fn to_sql(e: &Expr, d: Dialect, now: i64, cat: &StoreCatalog, th: &Thresholds) -> Result<String> {
    let mut g = Gen {
        d,
        now,
        cat,
        th,
        ctes: Vec::new(),
        agg_keys: HashMap::new(),
        engagement: false,
        buyers: false,
        rfm: false,
        math: false,
        stack: Vec::new(),
    };
    let cond = g.expr(e, 1)?;
    g.finish(e, &cond)
}

impl<'a> Gen<'a> {
    /// A contact column as text, NULL when missing.
    fn col(&self, name: &str) -> String {
        self.d.text(&format!("c.{}", self.d.ident(name)))
    }

    /// An event column as text, NULL when missing.
    fn ev(&self, name: &str) -> String {
        self.d.text(&format!("e.{}", self.d.ident(name)))
    }

    fn lit(&self, s: &str) -> String {
        self.d.str(s)
    }

    fn ts_lit(&self, ts: i64) -> String {
        self.d.time_lit(ts)
    }

    /// A contact column as a time value (dialect.rs).
    fn col_time(&self, name: &str) -> String {
        self.d.time(&format!("c.{}", self.d.ident(name)))
    }

    /// A contact column as a `YYYY-MM-DD` date.
    fn col_date(&self, name: &str) -> String {
        self.d.date(&format!("c.{}", self.d.ident(name)))
    }

    /// `events.contact_id` as a whole number, whatever type the loader gave it.
    fn ev_key(&self) -> String {
        self.d.key("e.\"contact_id\"")
    }

    /// `events.ts` as a time value.
    fn ev_ts(&self) -> String {
        self.d.time("e.\"ts\"")
    }

    fn leaf(&self, cond: String) -> String {
        self.d.two_valued(&cond)
    }

    fn indent(depth: usize) -> String {
        "  ".repeat(depth)
    }

    fn expr(&mut self, e: &Expr, depth: usize) -> Result<String> {
        Ok(match e {
            BoolExpr::And(xs) | BoolExpr::Or(xs) => {
                let join = if matches!(e, BoolExpr::And(_)) { "AND" } else { "OR" };
                if xs.is_empty() {
                    // as the engine: an empty `and` is everyone, an empty `or` nobody
                    return Ok(if join == "AND" { self.d.tru() } else { self.d.fals() }.to_string());
                }
                let parts = xs.iter().map(|x| self.expr(x, depth + 1)).collect::<Result<Vec<_>>>()?;
                let sep = format!("\n{}{join} ", Self::indent(depth));
                format!(
                    "(\n{}{}\n{})",
                    Self::indent(depth + 1),
                    parts.join(&sep),
                    Self::indent(depth.saturating_sub(1))
                )
            }
            BoolExpr::Not(x) => format!("NOT {}", self.expr(x, depth)?),
            BoolExpr::Pred(p) => self.pred(p, depth)?,
        })
    }

    fn pred(&mut self, p: &Predicate, depth: usize) -> Result<String> {
        Ok(match p {
            Predicate::Tag(t) => self.leaf(self.member(&self.col("tags"), &t.text)),
            Predicate::Category(c) => {
                // the category and every descendant, among the declared ones
                let parents = &self.cat.category_parents;
                let mut names = vec![c.text.clone()];
                let mut i = 0;
                while i < names.len() {
                    let mut kids: Vec<&String> = parents
                        .iter()
                        .filter(|(_, p)| p.as_deref() == Some(names[i].as_str()))
                        .map(|(n, _)| n)
                        .collect();
                    kids.sort();
                    for k in kids {
                        if !names.contains(k) {
                            names.push(k.clone());
                        }
                    }
                    i += 1;
                }
                names.retain(|n| parents.contains_key(n));
                if names.is_empty() {
                    return Ok(self.d.fals().to_string());
                }
                let col = self.col("categories");
                let tests: Vec<String> = names.iter().map(|n| self.member(&col, n)).collect();
                self.leaf(format!("({})", tests.join(" OR ")))
            }
            Predicate::Segment(name) => {
                let name = &name.text;
                if self.stack.iter().any(|s| s == name) || self.stack.len() >= MAX_SEGMENT_NESTING {
                    self.stack.push(name.clone());
                    return Err(Error::input(format!("segment cycle: {}", self.stack.join(" → "))));
                }
                let Some(src) = self.cat.segments.get(name) else {
                    // a segment that does not exist (yet) matches nobody
                    return Ok(self.d.fals().to_string());
                };
                let expr =
                    crate::segment::parse(src).map_err(|e| Error::input(format!("saved segment `{name}`: {e}")))?;
                self.stack.push(name.clone());
                let r = self.expr(&expr, depth);
                self.stack.pop();
                format!("/* segment:{} */ {}", name.replace("*/", "* /"), r?)
            }
            Predicate::Cond(c) => {
                let s = self.field_cond(c)?;
                self.leaf(s)
            }
            Predicate::Near { place, radius, unit, .. } => self.near(place, *radius, *unit)?,
            Predicate::Agg(a) => self.agg(a)?,
        })
    }

    /// `name` is one of the `;`-joined values of `col`.
    fn member(&self, col: &str, name: &str) -> String {
        let hay = format!("';' || {col} || ';'");
        self.d.contains(&hay, &self.lit(&format!(";{name};")))
    }

    // ---------- contact fields ----------

    fn field_cond(&mut self, c: &Cond) -> Result<String> {
        let name = c.field().text.as_str();
        let d = self.d;
        match name {
            "score" => self.cond_on(c, &format!("({} * 1000000)", d.int(&self.col("score"))), Ty::Num),
            "created_at" => self.cond_on(c, &self.col_time("created_at"), Ty::Time),
            "email" | "external_id" | "timezone" => self.cond_on(c, &self.col(name), Ty::Text),
            "consent.email" | "consent.sms" | "consent.push" => {
                let col = self.col(&name.replace('.', "_"));
                self.cond_on(c, &col, Ty::Bool)
            }
            "age" => {
                let x = self.age_expr();
                self.cond_on(c, &x, Ty::Num)
            }
            "engagement" => {
                let x = self.engagement_expr();
                self.cond_on(c, &x, Ty::Enum(Engagement::ALL.iter().map(|e| e.name()).collect()))
            }
            "lifecycle" => {
                let x = self.lifecycle_expr();
                self.cond_on(c, &x, Ty::Enum(Lifecycle::ALL.iter().map(|e| e.name()).collect()))
            }
            "rfm" => {
                self.rfm = true;
                let parts: Vec<String> = ["r", "f", "m"].iter().map(|p| d.to_text(&format!("rfm.{p}"))).collect();
                self.cond_on(c, &format!("({})", parts.join(" || ")), Ty::Text)
            }
            "rfm.r" | "rfm.f" | "rfm.m" => {
                self.rfm = true;
                self.cond_on(c, &format!("(rfm.{} * 1000000)", &name[4..]), Ty::Num)
            }
            other => {
                let Some((_, def)) = self.cat.schema.attr(other) else {
                    return Err(Error::input(format!("unknown field `{other}`")));
                };
                let col = self.col(other);
                match &def.ty {
                    AttrType::Number => self.cond_on(c, &d.units(&col), Ty::Num),
                    AttrType::Text => self.cond_on(c, &col, Ty::Text),
                    AttrType::Bool => self.cond_on(c, &col, Ty::Bool),
                    AttrType::Date => self.cond_on(c, &self.col_date(other), Ty::Date),
                    AttrType::Enum(v) => self.cond_on(c, &col, Ty::Enum(v.iter().map(String::as_str).collect())),
                    AttrType::Set(v) => self.cond_on(c, &col, Ty::Set(v)),
                }
            }
        }
    }

    /// A condition on a contact value `x` (NULL when missing); may be NULL itself.
    fn cond_on(&self, c: &Cond, x: &str, ty: Ty) -> Result<String> {
        let d = self.d;
        let f = &c.field().text;
        if let Cond::IsSet { negated, .. } = c {
            return Ok(format!("{x} IS {}NULL", if *negated { "" } else { "NOT " }));
        }
        let list = |xs: Vec<String>| -> String {
            if xs.is_empty() { d.fals().to_string() } else { format!("{x} IN ({})", xs.join(", ")) }
        };
        Ok(match ty {
            Ty::Num => match c {
                Cond::Cmp { op, value, .. } => format!("{x} {} {}", op_sql(*op), units(value)?),
                Cond::In { values, .. } => {
                    list(values.iter().map(|v| units(v).map(|u| u.to_string())).collect::<Result<_>>()?)
                }
                Cond::Between { lo, hi, .. } => format!("{x} BETWEEN {} AND {}", units(lo)?, units(hi)?),
                Cond::Contains { .. } => {
                    return Err(Error::input(format!("`contains` needs a text or many-of field, `{f}` is a number")));
                }
                Cond::IsSet { .. } => unreachable!("handled above"),
            },
            Ty::Text => match c {
                Cond::Cmp { op, value, .. } => {
                    let v = self.lit(text(value)?);
                    match op {
                        CmpOp::Eq | CmpOp::Ne => format!("{x} {} {v}", op_sql(*op)),
                        _ => format!("{} {} {v}", d.bytewise(x), op_sql(*op)),
                    }
                }
                Cond::In { values, .. } => {
                    list(values.iter().map(|v| text(v).map(|t| self.lit(t))).collect::<Result<_>>()?)
                }
                Cond::Between { lo, hi, .. } => {
                    let (a, b) = (self.lit(text(lo)?), self.lit(text(hi)?));
                    let xb = d.bytewise(x);
                    format!("({xb} >= {a} AND {xb} <= {b})")
                }
                Cond::Contains { value, .. } => {
                    let v = text(value)?;
                    if v.is_empty() { format!("{x} IS NOT NULL") } else { d.contains(x, &self.lit(v)) }
                }
                Cond::IsSet { .. } => unreachable!("handled above"),
            },
            Ty::Bool => {
                let b = |l: &Lit| match l.value {
                    Value::Bool(b) => Ok(self.lit(if b { "true" } else { "false" })),
                    _ => Err(Error::input("expected true or false")),
                };
                match c {
                    Cond::Cmp { op: op @ (CmpOp::Eq | CmpOp::Ne), value, .. } => {
                        format!("{x} {} {}", op_sql(*op), b(value)?)
                    }
                    Cond::In { values, .. } => list(values.iter().map(b).collect::<Result<_>>()?),
                    _ => return Err(Error::input(format!("`{f}` is true or false: use = or !="))),
                }
            }
            Ty::Date => {
                let day = |l: &Lit| -> Result<String> {
                    let dd = match &l.value {
                        Value::Date(d) => *d,
                        Value::DateTime(t) => t.date_naive(),
                        _ => return Err(Error::input("expected a date (YYYY-MM-DD)")),
                    };
                    // through days, as the engine stores dates
                    Ok(self.lit(&days_to_date(date_to_days(dd)).format("%Y-%m-%d").to_string()))
                };
                match c {
                    Cond::Cmp { op, value, .. } => format!("{x} {} {}", op_sql(*op), day(value)?),
                    Cond::In { values, .. } => list(values.iter().map(day).collect::<Result<_>>()?),
                    Cond::Between { lo, hi, .. } => format!("({x} >= {} AND {x} <= {})", day(lo)?, day(hi)?),
                    _ => return Err(Error::input("`contains` does not apply to dates")),
                }
            }
            Ty::Time => {
                // a date is its whole UTC day [s, e), a timestamp one second
                let span = |l: &Lit| -> Result<(String, String)> {
                    let (s, e) = match &l.value {
                        Value::Date(d) => {
                            let s = d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp();
                            (s, s + DAY)
                        }
                        Value::DateTime(t) => (t.timestamp(), t.timestamp() + 1),
                        _ => return Err(Error::input("expected a date or timestamp")),
                    };
                    Ok((self.ts_lit(s), self.ts_lit(e)))
                };
                match c {
                    Cond::Cmp { op, value, .. } => {
                        let (s, e) = span(value)?;
                        match op {
                            CmpOp::Eq => format!("({x} >= {s} AND {x} < {e})"),
                            CmpOp::Ne => format!("({x} < {s} OR {x} >= {e})"),
                            CmpOp::Lt => format!("{x} < {s}"),
                            CmpOp::Le => format!("{x} < {e}"),
                            CmpOp::Gt => format!("{x} >= {e}"),
                            CmpOp::Ge => format!("{x} >= {s}"),
                        }
                    }
                    Cond::In { values, .. } => {
                        let parts = values
                            .iter()
                            .map(|v| span(v).map(|(s, e)| format!("({x} >= {s} AND {x} < {e})")))
                            .collect::<Result<Vec<_>>>()?;
                        if parts.is_empty() { d.fals().to_string() } else { format!("({})", parts.join(" OR ")) }
                    }
                    Cond::Between { lo, hi, .. } => {
                        let (s, _) = span(lo)?;
                        let (_, e) = span(hi)?;
                        format!("({x} >= {s} AND {x} < {e})")
                    }
                    _ => return Err(Error::input("`contains` does not apply to timestamps")),
                }
            }
            Ty::Enum(names) => {
                let idx = |l: &Lit| -> Result<Option<&str>> {
                    let t = text(l)?;
                    Ok(names
                        .iter()
                        .find(|n| **n == t)
                        .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(t)))
                        .copied())
                };
                match c {
                    Cond::Cmp { op: CmpOp::Eq, value, .. } => match idx(value)? {
                        Some(v) => format!("{x} = {}", self.lit(v)),
                        None => d.fals().to_string(),
                    },
                    Cond::Cmp { op: CmpOp::Ne, value, .. } => match idx(value)? {
                        Some(v) => format!("{x} <> {}", self.lit(v)),
                        None => format!("{x} IS NOT NULL"),
                    },
                    Cond::In { values, .. } => {
                        let mut vs = Vec::new();
                        for v in values {
                            if let Some(n) = idx(v)? {
                                vs.push(self.lit(n));
                            }
                        }
                        list(vs)
                    }
                    _ => {
                        return Err(Error::input(format!("`{f}` is one of {}: use =, != or in", names.join(", "))));
                    }
                }
            }
            Ty::Set(vals) => {
                let of = |l: &Lit| -> Result<String> {
                    let t = text(l)?;
                    Ok(if vals.iter().any(|v| v == t) { self.member(x, t) } else { d.fals().to_string() })
                };
                match c {
                    Cond::Contains { value, .. } => of(value)?,
                    Cond::In { values, .. } => {
                        let parts = values.iter().map(of).collect::<Result<Vec<_>>>()?;
                        if parts.is_empty() { d.fals().to_string() } else { format!("({})", parts.join(" OR ")) }
                    }
                    _ => return Err(Error::input(format!("`{f}` holds many values: use contains, in, or is set"))),
                }
            }
        })
    }

    /// Whole years from `birth_date` to now's UTC date, in micro-units.
    fn age_expr(&self) -> String {
        match self.cat.schema.attr("birth_date") {
            Some((_, def)) if def.ty == AttrType::Date => {
                let today = DateTime::<Utc>::from_timestamp(self.now.div_euclid(DAY) * DAY, 0)
                    .map(|t| t.date_naive())
                    .unwrap_or_default();
                let b = self.col_date("birth_date");
                let d = self.d;
                let year = d.int(&format!("substr({b}, 1, 4)"));
                let md = self.lit(&format!("{:02}-{:02}", today.month(), today.day()));
                format!(
                    "(({} - {year} - CASE WHEN substr({b}, 6, 5) > {md} THEN 1 ELSE 0 END) * 1000000)",
                    today.year()
                )
            }
            _ => "NULL".to_string(),
        }
    }

    fn engagement_expr(&mut self) -> String {
        self.engagement = true;
        let th = self.th;
        let (s, o) = ("COALESCE(eng.sent, 0)", "COALESCE(eng.opened, 0)");
        format!(
            "(CASE WHEN {s} >= {} AND {o} * 100 >= {s} * {} THEN 'super_active' \
             WHEN {o} >= 1 THEN 'moderate' WHEN {s} >= 1 THEN 'dormant' ELSE 'none' END)",
            th.super_active_min_sent, th.super_active_open_pct
        )
    }

    fn lifecycle_expr(&mut self) -> String {
        self.buyers = true;
        let th = self.th;
        let now = self.now;
        let within = |days: i64| format!("buyers.last > {}", self.ts_lit(now - days * DAY));
        format!(
            "(CASE WHEN buyers.n IS NULL THEN 'prospect' \
             WHEN buyers.n = 1 AND {} THEN 'new' \
             WHEN buyers.n >= {} AND {} THEN 'loyal' \
             WHEN {} THEN 'active' \
             WHEN {} THEN 'disengaging' ELSE 'lapsed' END)",
            within(th.new_within_days),
            th.loyal_min_purchases,
            within(th.active_within_days),
            within(th.active_within_days),
            within(th.lapsed_after_days)
        )
    }

    // ---------- near ----------

    fn near(&mut self, place: &Place, radius: crate::model::Decimal, unit: DistUnit) -> Result<String> {
        let (plat, plon) = match place {
            Place::Coords { lat, lon } => (lat.to_f64(), lon.to_f64()),
            Place::City(name) => match crate::geo::lookup(&name.text) {
                Some(c) => (c.lat, c.lon),
                None => return Err(Error::input(format!("unknown place `{}`", name.text))),
            },
        };
        let km = radius.to_f64() * if unit == DistUnit::Mi { 1.609344 } else { 1.0 };
        let number = |n: &str| matches!(self.cat.schema.attr(n), Some((_, a)) if a.ty == AttrType::Number);
        if !(number("lat") && number("lon")) {
            return Ok(self.d.fals().to_string());
        }
        self.math = true;
        let d = self.d;
        // exactly the engine's f64 operations (geo::haversine_km), in the same order
        let deg = |x: &str| format!("(({}) / 1000000.0)", d.real(&d.units(x)));
        let rad = d.float(std::f64::consts::PI / 180.0);
        let (la, lo) = (deg(&self.col("lat")), deg(&self.col("lon")));
        let p1 = plat.to_radians();
        let p2 = format!("({la} * {rad})");
        let dp = format!("({p2} - {})", d.float(p1));
        let dl = format!("(({lo} - {}) * {rad})", d.float(plon));
        let s1 = format!("sin({dp} / 2.0)");
        let s2 = format!("sin({dl} / 2.0)");
        let h = format!("({s1} * {s1} + {} * cos({p2}) * ({s2} * {s2}))", d.float(p1.cos()));
        let dist =
            format!("{} * asin({})", d.float(2.0 * crate::geo::EARTH_RADIUS_KM), d.least(&format!("sqrt({h})"), "1.0"));
        // a missing coordinate matches nothing, as in the engine: least()
        // skips NULL in DuckDB, Postgres and ClickHouse, so a radius of half
        // the Earth's circumference or more would otherwise match it
        Ok(self.leaf(format!("({la} IS NOT NULL AND {lo} IS NOT NULL AND {dist} <= {})", d.float(km))))
    }

    // ---------- aggregates ----------

    fn agg(&mut self, a: &Agg) -> Result<String> {
        let d = self.d;
        let Some((_, kd)) = self.cat.schema.kind(&a.kind.text) else {
            return Err(Error::input(format!("unknown event kind `{}`", a.kind.text)));
        };
        let param = match &a.param {
            Some(p) => Some(
                kd.param(&p.text)
                    .map(|x| x.1.clone())
                    .ok_or_else(|| Error::input(format!("`{}` has no parameter `{}`", kd.name, p.text)))?,
            ),
            None => None,
        };
        if a.func.needs_param() && param.is_none() {
            return Err(Error::input(format!(
                "{}() needs a parameter, e.g. {}(purchase.amount)",
                a.func.as_str(),
                a.func.as_str()
            )));
        }
        // the parameter's micro-units per event (NULL when missing or not a number)
        let u = match &param {
            Some(p) if p.ty == ParamType::Number => d.units(&self.ev(&p.name)),
            _ => "NULL".to_string(),
        };
        let (lo, hi) = window_range(a.window.as_ref(), self.now);
        let mut wh = vec![format!("e.\"kind\" = {}", self.lit(&kd.name))];
        let (min_ts, max_ts) = d.time_range();
        let ts = self.ev_ts();
        if lo > hi || lo > max_ts || hi < min_ts {
            wh.push(d.fals().to_string());
        } else {
            wh.push(format!("{ts} <= {}", self.ts_lit(hi.min(max_ts))));
            if lo > min_ts {
                wh.push(format!("{ts} >= {}", self.ts_lit(lo)));
            }
        }
        if let Some(f) = &a.filter {
            wh.push(self.filter(f, kd)?);
        }
        let cols = match a.func {
            AggFunc::Count => "COUNT(*) AS n".to_string(),
            AggFunc::Sum | AggFunc::Avg => format!("SUM({u}) AS s, COUNT({u}) AS k"),
            AggFunc::Min => format!("MIN({u}) AS v"),
            AggFunc::Max => format!("MAX({u}) AS v"),
            AggFunc::DaysSinceLast => format!("MAX({ts}) AS t"),
            AggFunc::DaysSinceFirst => format!("MIN({ts}) AS t"),
        };
        let cid = self.ev_key();
        let body = format!(
            "SELECT {cid} AS contact_id, {cols}\n    FROM \"events\" AS e\n    WHERE {}\n    GROUP BY {cid}",
            wh.join("\n      AND ")
        );
        let name = match self.agg_keys.get(&body) {
            Some(n) => n.clone(),
            None => {
                let n = format!("agg_{}", self.ctes.len() + 1);
                self.ctes.push((n.clone(), body.clone()));
                self.agg_keys.insert(body, n.clone());
                n
            }
        };
        let target = units(&a.value)?;
        let op = op_sql(a.op);
        let scale = SCALE as i128;
        Ok(self.leaf(match a.func {
            AggFunc::Count => format!("COALESCE({name}.n, 0) * 1000000 {op} {target}"),
            AggFunc::Sum => format!("COALESCE({name}.s, 0) {op} {target}"),
            // avg op v  ⇔  sum op v·k  (k > 0)
            // (in a type wide enough for any target times any count)
            AggFunc::Avg => format!("({name}.k > 0 AND {name}.s {op} {} * {name}.k)", d.wide(target)),
            AggFunc::Min | AggFunc::Max => format!("{name}.v {op} {target}"),
            AggFunc::DaysSinceLast | AggFunc::DaysSinceFirst => {
                // whole days d = floor((now − t) / 1 day); d op target as bounds on t
                let t = format!("{name}.t");
                let fl = target.div_euclid(scale);
                let ce = fl + (target.rem_euclid(scale) != 0) as i128;
                let now = self.now as i128;
                let le = |k: i128| self.ts_cmp(&t, "<=", now - k * DAY as i128); // d >= k
                let gt = |k: i128| self.ts_cmp(&t, ">", now - (k + 1) * DAY as i128); // d <= k
                match a.op {
                    CmpOp::Ge => le(ce),
                    CmpOp::Gt => le(fl + 1),
                    CmpOp::Le => gt(fl),
                    CmpOp::Lt => gt(ce - 1),
                    CmpOp::Eq if fl == ce => format!("({} AND {})", le(fl), gt(fl)),
                    CmpOp::Eq => d.fals().to_string(),
                    CmpOp::Ne if fl == ce => format!("({t} IS NOT NULL AND NOT ({} AND {}))", le(fl), gt(fl)),
                    CmpOp::Ne => format!("{t} IS NOT NULL"),
                }
            }
        }))
    }

    /// `t op bound` for a timestamp text `t`, with bounds beyond the text range folded.
    fn ts_cmp(&self, t: &str, op: &str, bound: i128) -> String {
        let d = self.d;
        let (lo, hi) = d.time_range();
        let (lo, hi) = (lo as i128, hi as i128);
        match op {
            "<=" if bound < lo => d.fals().to_string(),
            "<=" if bound >= hi => format!("{t} IS NOT NULL"),
            ">" if bound >= hi => d.fals().to_string(),
            ">" if bound < lo => format!("{t} IS NOT NULL"),
            _ => format!("{t} {op} {}", self.ts_lit(bound as i64)),
        }
    }

    /// An event filter as a two-valued condition over `events AS e`.
    fn filter(&self, f: &Filter, kd: &crate::model::KindDef) -> Result<String> {
        Ok(match f {
            BoolExpr::And(xs) | BoolExpr::Or(xs) => {
                let join = if matches!(f, BoolExpr::And(_)) { " AND " } else { " OR " };
                if xs.is_empty() {
                    return Ok(if join == " AND " { self.d.tru() } else { self.d.fals() }.to_string());
                }
                let parts = xs.iter().map(|x| self.filter(x, kd)).collect::<Result<Vec<_>>>()?;
                format!("({})", parts.join(join))
            }
            BoolExpr::Not(x) => format!("NOT {}", self.filter(x, kd)?),
            BoolExpr::Pred(c) => self.leaf(self.filter_cond(c, kd)?),
        })
    }

    fn filter_cond(&self, c: &Cond, kd: &crate::model::KindDef) -> Result<String> {
        let d = self.d;
        let name = c.field().text.as_str();
        enum F {
            Source,
            Text,
            Num,
        }
        let (col, ty) = match name {
            "source" | "utm_source" | "utm_medium" | "utm_campaign" => {
                (self.ev(name), if name == "source" { F::Source } else { F::Text })
            }
            p => match kd.param(p) {
                Some((_, def)) => (self.ev(p), if def.ty == ParamType::Number { F::Num } else { F::Text }),
                None => return Err(Error::input(format!("`{}` has no parameter `{p}`", kd.name))),
            },
        };
        if let Cond::IsSet { negated, .. } = c {
            return Ok(format!("{col} IS {}NULL", if *negated { "" } else { "NOT " }));
        }
        let num = |l: &Lit| match &l.value {
            Value::Number(x) => Some(x.units()),
            _ => None,
        };
        let list = |xs: Vec<String>| -> String {
            if xs.is_empty() { d.fals().to_string() } else { format!("{col} IN ({})", xs.join(", ")) }
        };
        let unsupported = || Error::input(format!("unsupported condition on `{name}` in a filter"));
        Ok(match ty {
            F::Num => {
                let u = d.units(&col);
                match c {
                    Cond::Cmp { op, value, .. } => match num(value) {
                        Some(v) => format!("{u} {} {v}", op_sql(*op)),
                        None => d.fals().to_string(),
                    },
                    Cond::In { values, .. } => {
                        let vs: Vec<String> = values.iter().filter_map(num).map(|v| v.to_string()).collect();
                        if vs.is_empty() { d.fals().to_string() } else { format!("{u} IN ({})", vs.join(", ")) }
                    }
                    Cond::Between { lo, hi, .. } => match (num(lo), num(hi)) {
                        (Some(a), Some(b)) => format!("{u} BETWEEN {a} AND {b}"),
                        _ => d.fals().to_string(),
                    },
                    _ => return Err(unsupported()),
                }
            }
            F::Source => {
                let src = |l: &Lit| l.value.as_text().and_then(Source::parse).map(|s| self.lit(s.name()));
                match c {
                    Cond::Cmp { op: CmpOp::Eq, value, .. } => match src(value) {
                        Some(v) => format!("{col} = {v}"),
                        None => d.fals().to_string(),
                    },
                    Cond::Cmp { op: CmpOp::Ne, value, .. } => match src(value) {
                        Some(v) => format!("{col} <> {v}"),
                        None => format!("{col} IS NOT NULL"),
                    },
                    Cond::In { values, .. } => {
                        let mut vs: Vec<String> = values.iter().filter_map(src).collect();
                        vs.dedup();
                        list(vs)
                    }
                    _ => return Err(unsupported()),
                }
            }
            F::Text => {
                // a non-text value matches no value for = and in, and stands for "" otherwise
                let t = |l: &Lit| l.value.as_text().unwrap_or("").to_string();
                match c {
                    Cond::Cmp { op: CmpOp::Eq, value, .. } => match value.value.as_text() {
                        Some(v) => format!("{col} = {}", self.lit(v)),
                        None => d.fals().to_string(),
                    },
                    Cond::Cmp { op: CmpOp::Ne, value, .. } => match value.value.as_text() {
                        Some(v) => format!("{col} <> {}", self.lit(v)),
                        None => format!("{col} IS NOT NULL"),
                    },
                    Cond::In { values, .. } => {
                        list(values.iter().filter_map(|v| v.value.as_text()).map(|v| self.lit(v)).collect())
                    }
                    Cond::Cmp { op, value, .. } => {
                        format!("{} {} {}", d.bytewise(&col), op_sql(*op), self.lit(&t(value)))
                    }
                    Cond::Between { lo, hi, .. } => {
                        let cb = d.bytewise(&col);
                        format!("({cb} >= {} AND {cb} <= {})", self.lit(&t(lo)), self.lit(&t(hi)))
                    }
                    Cond::Contains { value, .. } => {
                        let v = t(value);
                        if v.is_empty() { format!("{col} IS NOT NULL") } else { d.contains(&col, &self.lit(&v)) }
                    }
                    Cond::IsSet { .. } => unreachable!("handled above"),
                }
            }
        })
    }

    // ---------- assembly ----------

    fn finish(mut self, e: &Expr, cond: &str) -> Result<String> {
        let d = self.d;
        let now = self.now;
        let ts = self.ev_ts();
        let cid = self.ev_key();
        let ckey = d.key("c.\"id\"");
        let mut out = String::new();
        let _ = writeln!(out, "-- reach segment: {}", comment_safe(&print(e)));
        let _ = writeln!(out, "-- dialect {}, now = {} (baked in)", d.name(), ts_text(now));
        let _ = writeln!(
            out,
            "-- over the tables of `reach export` (CSV or Parquet, typed or text): contacts(id, …), events(contact_id, ts, kind, …)"
        );
        if self.math && d == Dialect::Sqlite {
            let _ = writeln!(
                out,
                "-- needs SQLite's math functions (sin, cos, asin, sqrt: SQLITE_ENABLE_MATH_FUNCTIONS,\n\
                 -- on in the sqlite3 shell since 3.35), or the same functions registered by the application"
            );
        }
        let mut ctes: Vec<(String, String)> = Vec::new();
        let mut joins: Vec<String> = Vec::new();
        if self.engagement {
            let lo = now - self.th.engagement_window_days * DAY + 1;
            ctes.push((
                "eng".into(),
                format!(
                    "SELECT {cid} AS contact_id,\n      \
                     SUM(CASE WHEN e.\"kind\" = 'email_sent' THEN 1 ELSE 0 END) AS sent,\n      \
                     SUM(CASE WHEN e.\"kind\" = 'email_open' THEN 1 ELSE 0 END) AS opened\n    \
                     FROM \"events\" AS e\n    \
                     WHERE e.\"kind\" IN ('email_sent', 'email_open') AND {ts} >= {} AND {ts} <= {}\n    \
                     GROUP BY {cid}",
                    self.ts_lit(lo),
                    self.ts_lit(now)
                ),
            ));
            joins.push("eng".into());
        }
        if self.rfm {
            self.buyers = true;
        }
        if self.buyers {
            let amount = match self.cat.schema.kind("purchase").and_then(|(_, k)| k.param("amount")) {
                Some((_, p)) if p.ty == ParamType::Number => {
                    format!("COALESCE(SUM({}), 0)", d.units(&self.ev("amount")))
                }
                _ => "0".to_string(),
            };
            ctes.push((
                "buyers".into(),
                format!(
                    "SELECT {cid} AS contact_id, COUNT(*) AS n, MAX({ts}) AS last, {amount} AS m\n    \
                     FROM \"events\" AS e\n    \
                     WHERE e.\"kind\" = 'purchase' AND {ts} <= {}\n      \
                     AND {cid} IN (SELECT {} FROM \"contacts\")\n    \
                     GROUP BY {cid}",
                    self.ts_lit(now),
                    d.key("\"id\"")
                ),
            ));
            joins.push("buyers".into());
        }
        if self.rfm {
            // 1 + 5·r / n, r = buyers with a strictly smaller value (derived::quintiles)
            let q = |v: &str| d.idiv(&format!("5 * (RANK() OVER (ORDER BY {v}) - 1)"), "COUNT(*) OVER ()");
            ctes.push((
                "rfm".into(),
                format!(
                    "SELECT contact_id, 1 + {} AS r, 1 + {} AS f, 1 + {} AS m\n    FROM buyers",
                    q("last"),
                    q("n"),
                    q("m")
                ),
            ));
            joins.push("rfm".into());
        }
        for (n, body) in std::mem::take(&mut self.ctes) {
            joins.push(n.clone());
            ctes.push((n, body));
        }
        if !ctes.is_empty() {
            out.push_str("WITH\n");
            let parts: Vec<String> = ctes.iter().map(|(n, b)| format!("  {n} AS (\n    {b}\n  )")).collect();
            out.push_str(&parts.join(",\n"));
            out.push('\n');
        }
        out.push_str("SELECT c.\"id\" AS \"id\"\nFROM \"contacts\" AS c\n");
        for j in &joins {
            let _ = writeln!(out, "LEFT JOIN {j} ON {j}.contact_id = {ckey}");
        }
        let _ = writeln!(out, "WHERE {cond}");
        let _ = write!(out, "ORDER BY {ckey}");
        if d == Dialect::Clickhouse {
            // NULL for contacts without a row in an aggregate; DateTime
            // columns without a zone printed and parsed back in UTC
            out.push_str("\nSETTINGS join_use_nulls = 1, session_timezone = 'UTC'");
        }
        out.push(';');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::dialect::exact_float;
    use super::*;
    use crate::model::Schema;

    fn cat() -> StoreCatalog {
        StoreCatalog {
            schema: Schema::default(),
            tags: vec!["vip".into()],
            categories: vec!["sport".into(), "yoga".into()],
            category_parents: [("sport".to_string(), None), ("yoga".to_string(), Some("sport".to_string()))]
                .into_iter()
                .collect(),
            segments: [("big".to_string(), "sum(purchase.amount) > 100".to_string())].into_iter().collect(),
        }
    }

    #[test]
    fn every_dialect_produces_text() {
        let src = "tag:vip and not category:sport or segment:big and near(\"Milano\") within 20km \
                   and engagement = dormant and lifecycle in [\"new\", \"lapsed\"] and rfm.r >= 3 and rfm = \"555\" \
                   and avg(purchase.amount where source != paid and product contains \"X\", last 6mo) > 10.5 \
                   and days_since_last(purchase) > 15 and age between 18 and 35 and email contains \"@\"";
        let e = crate::segment::parse(src).unwrap();
        for d in [Dialect::Sqlite, Dialect::Duckdb, Dialect::Postgres, Dialect::Clickhouse] {
            let s = to_sql(&e, d, 1_700_000_000, &cat(), &Thresholds::default()).unwrap();
            assert!(s.contains("SELECT c.\"id\" AS \"id\""), "{s}");
            assert!(s.contains("rfm AS ("), "{s}");
            assert!(s.contains(&d.time_lit(1_700_000_000)), "{s}");
            // no column is compared before an explicit conversion
            if d != Dialect::Sqlite {
                assert!(!s.contains("NULLIF(c.") && !s.contains("NULLIF(e."), "{s}");
            }
        }
    }

    #[test]
    fn exact_floats() {
        for x in [45.4642_f64, 9.19, -73.98, 0.1, std::f64::consts::PI / 180.0, 12742.0176, 1e-300] {
            let s = exact_float(x);
            let v = match s.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
                Some(inner) => {
                    let (a, b) = inner.split_once(" / ").unwrap();
                    a.parse::<f64>().unwrap() / b.parse::<f64>().unwrap()
                }
                None => s.parse::<f64>().unwrap(),
            };
            assert_eq!(v, x, "{s}");
        }
    }

    #[test]
    fn cycles_are_errors() {
        let mut c = cat();
        c.segments.insert("a".into(), "segment:b".into());
        c.segments.insert("b".into(), "segment:a".into());
        let e = crate::segment::parse("segment:a").unwrap();
        assert!(to_sql(&e, Dialect::Sqlite, 0, &c, &Thresholds::default()).is_err());
        let e = crate::segment::parse("segment:nope").unwrap();
        assert!(to_sql(&e, Dialect::Sqlite, 0, &c, &Thresholds::default()).unwrap().contains("WHERE FALSE"));
    }
}
