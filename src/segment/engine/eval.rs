//! Evaluating an expression to the set of matching contacts, with the
//! language's two-valued semantics: a missing value compares false, `not`
//! complements within all contacts, aggregates over no events are 0 for
//! count and sum and "no value" for the rest. Only events up to `now`
//! count, so `--now` in the past shows the segment as it was.

use super::bits::Bits;
use super::columns::{AttrCol, ColField, DATE_NONE, ENUM_NONE, TextCol};
use super::events::{Measure, Values, aggregate, cancelled};
use super::filter::BoundFilter;
use super::{Engine, ValKey};
use crate::error::{Error, Result};
use crate::model::attribute::{AttrType, date_to_days};
use crate::model::decimal::SCALE;
use crate::model::time::days_from_civil;
use crate::segment::ast::*;
use crate::segment::printer::{print, print_filter};
use chrono::{DateTime, Datelike, Months, Utc};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const DAY: i64 = 86_400;
/// How deep `segment:` references may nest before it is called a cycle.
const MAX_SEGMENT_NESTING: usize = 32;

/// `explain`: each node with its own count.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExplainNode {
    pub node: String,
    pub count: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ExplainNode>,
}

/// `a op b` for numbers and text alike.
#[inline]
fn cmp<T: PartialOrd>(op: CmpOp, a: T, b: T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

fn units(l: &Lit) -> Result<i128> {
    match &l.value {
        Value::Number(d) => Ok(d.units() as i128),
        other => Err(Error::input(format!("expected a number, found {other:?}"))),
    }
}

fn text(l: &Lit) -> Result<&str> {
    l.value.as_text().ok_or_else(|| Error::input(format!("expected a text value, found {:?}", l.value)))
}

/// Start of a date, or the instant itself.
fn instant(d: DateLit) -> i64 {
    match d {
        DateLit::Date(x) => x.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp(),
        DateLit::DateTime(t) => t.timestamp(),
    }
}

/// The inclusive [lo, hi] time range of a window at `now`.
pub fn window_range(w: Option<&Window>, now: i64) -> (i64, i64) {
    match w {
        None => (i64::MIN + 1, now),
        Some(Window::Last { n, unit }) => {
            let n = *n as i64;
            let start = match unit {
                DurUnit::Hours => now - n * 3600,
                DurUnit::Days => now - n * DAY,
                DurUnit::Weeks => now - n * 7 * DAY,
                DurUnit::Months | DurUnit::Years => {
                    let months = if *unit == DurUnit::Months { n } else { n * 12 };
                    DateTime::<Utc>::from_timestamp(now, 0)
                        .and_then(|t| t.checked_sub_months(Months::new(months.min(u32::MAX as i64) as u32)))
                        .map(|t| t.timestamp())
                        .unwrap_or(i64::MIN)
                }
            };
            (start.saturating_add(1), now)
        }
        Some(Window::Since(d)) => (instant(*d), now),
        Some(Window::Between(a, b)) => {
            let hi = match b {
                DateLit::Date(_) => instant(*b) + DAY - 1,
                DateLit::DateTime(t) => t.timestamp(),
            };
            (instant(*a), hi.min(now))
        }
    }
}

/// Whole days from a date `d` (days since epoch) to `today`, as whole years (age).
fn years_between(birth: i32, today: i64) -> i16 {
    let (by, bm, bd) = crate::model::time::civil_from_days(birth as i64);
    let (ty, tm, td) = crate::model::time::civil_from_days(today);
    let mut y = ty - by;
    if (tm, td) < (bm, bd) {
        y -= 1;
    }
    y as i16
}

/// Ages on one day without a calendar conversion per contact: `born_by[k]`
/// is the last birth day of anyone aged k or more that day (the same month
/// and day k years back, Feb 29 becoming Feb 28 in a common year), so an
/// age is the largest k whose day is not before the birth.
struct AgesOn {
    today: i64,
    born_by: Vec<i64>,
}

impl AgesOn {
    const YEARS: usize = 150;

    fn new(today: i64) -> AgesOn {
        use crate::model::time::{civil_from_days, days_from_civil, days_in_month};
        let (ty, tm, td) = civil_from_days(today);
        let born_by =
            (0..=Self::YEARS as i64).map(|k| days_from_civil(ty - k, tm, td.min(days_in_month(ty - k, tm)))).collect();
        AgesOn { today, born_by }
    }

    fn age(&self, birth: i32) -> i16 {
        let b = birth as i64;
        // births in the future or more than YEARS back: by the calendar
        if b > self.today || b <= self.born_by[Self::YEARS] {
            return years_between(birth, self.today);
        }
        // a year is at least 365 days: the estimate is never above the age
        let mut k = (((self.today - b) / 366) as usize).min(Self::YEARS);
        while k < Self::YEARS && b <= self.born_by[k + 1] {
            k += 1;
        }
        k as i16
    }
}

enum Field {
    Score,
    CreatedAt,
    Email,
    ExternalId,
    Timezone,
    Consent(usize),
    Age,
    Engagement,
    Lifecycle,
    Rfm,
    RfmPart(usize),
    Attr(u16),
}

impl Engine {
    pub(crate) fn eval(&mut self, e: &Expr, now: i64, cancel: &AtomicBool) -> Result<Bits> {
        self.lifetime_plan.clear();
        self.plan_columns(e, &mut Vec::new());
        self.eval_nested(e, now, cancel, &mut Vec::new())
    }

    /// Notes the block columns each kind's criteria in `e` read, so that a
    /// kind's blocks are decoded once with all of them, not again for each
    /// criterion naming a column the first did not; and the lifetime
    /// measures they read from the summaries, so that one pass over a
    /// kind's summaries fills those and no others. Saved segments `e`
    /// names are planned too, each once (`seen`).
    fn plan_columns(&mut self, e: &Expr, seen: &mut Vec<String>) {
        match e {
            BoolExpr::And(xs) | BoolExpr::Or(xs) => xs.iter().for_each(|x| self.plan_columns(x, seen)),
            BoolExpr::Not(x) => self.plan_columns(x, seen),
            BoolExpr::Pred(Predicate::Segment(name)) => {
                // (`eval` refuses chains longer than this)
                if seen.contains(&name.text) || seen.len() >= MAX_SEGMENT_NESTING {
                    return;
                }
                seen.push(name.text.clone());
                let saved = self.segments().ok().and_then(|m| m.get(&name.text).cloned());
                if let Some(expr) = saved.and_then(|src| crate::segment::parse(&src).ok()) {
                    self.plan_columns(&expr, seen);
                }
            }
            BoolExpr::Pred(Predicate::Agg(a)) => {
                let Some((kind, kd)) = self.schema.kind(&a.kind.text) else { return };
                let param = match a.func {
                    AggFunc::Count | AggFunc::DaysSinceLast | AggFunc::DaysSinceFirst => None,
                    _ => a.param.as_ref().and_then(|p| kd.param(&p.text)).map(|(p, _)| p),
                };
                let mut need = super::filter::aggregate_columns(kd, param, a.filter.as_deref());
                // a first or last time with a filter or a window reads every
                // block's times (over all time, the summaries give it)
                need.times = (a.filter.is_some() || a.window.is_some())
                    && matches!(a.func, AggFunc::DaysSinceLast | AggFunc::DaysSinceFirst);
                self.partitions.entry(kind).or_default().plan(&need);
                if a.filter.is_none() && a.window.is_none() {
                    // what `eval_agg` reads from the summaries
                    let measure = match (a.func, param) {
                        (AggFunc::Count, _) => Some(Measure::Count),
                        (AggFunc::DaysSinceLast, _) => Some(Measure::Last),
                        (AggFunc::DaysSinceFirst, _) => Some(Measure::First),
                        (AggFunc::Sum | AggFunc::Avg, Some(p)) => Some(Measure::Sum(p)),
                        (AggFunc::Min, Some(p)) => Some(Measure::Min(p)),
                        (AggFunc::Max, Some(p)) => Some(Measure::Max(p)),
                        _ => None,
                    };
                    if let Some(m) = measure {
                        self.lifetime_plan.entry(kind).or_default().add(m);
                    }
                }
            }
            BoolExpr::Pred(Predicate::Cond(
                Cond::Cmp { field, .. }
                | Cond::In { field, .. }
                | Cond::Between { field, .. }
                | Cond::Contains { field, .. }
                | Cond::IsSet { field, .. },
            )) => match field.text.as_str() {
                "lifecycle" => self.plan_purchases(false),
                "rfm" | "rfm.r" | "rfm.f" | "rfm.m" => self.plan_purchases(true),
                _ => {}
            },
            BoolExpr::Pred(_) => {}
        }
    }

    fn eval_nested(&mut self, e: &Expr, now: i64, cancel: &AtomicBool, stack: &mut Vec<String>) -> Result<Bits> {
        cancelled(cancel)?;
        match e {
            BoolExpr::And(xs) => {
                let mut acc: Option<Bits> = None;
                for x in xs {
                    let b = self.eval_nested(x, now, cancel, stack)?;
                    acc = Some(match acc {
                        None => b,
                        Some(mut a) => {
                            a.and_with(&b);
                            a
                        }
                    });
                    if acc.as_ref().is_some_and(|a| a.is_empty()) {
                        break;
                    }
                }
                match acc {
                    Some(a) => Ok(a),
                    None => Ok(self.base()?.alive.clone()),
                }
            }
            BoolExpr::Or(xs) => {
                let mut acc = Bits::new(self.base()?.n);
                for x in xs {
                    acc.or_with(&self.eval_nested(x, now, cancel, stack)?);
                }
                Ok(acc)
            }
            BoolExpr::Not(x) => {
                let inner = self.eval_nested(x, now, cancel, stack)?;
                let mut all = self.base()?.alive.clone();
                all.and_not_with(&inner);
                Ok(all)
            }
            BoolExpr::Pred(p) => {
                if let Predicate::Segment(name) = p {
                    return self.eval_segment(&name.text, now, cancel, stack);
                }
                let key = format!("{now}\u{1}{}", print(e));
                if let Some(b) = self.leaves.get(&key) {
                    return Ok((**b).clone());
                }
                let mut b = self.eval_pred(p, now, cancel)?;
                // results cover every contact id known now
                let base = self.base()?;
                b.grow(base.n);
                b.and_with(&base.alive);
                self.leaves.insert(key, Arc::new(b.clone()));
                Ok(b)
            }
        }
    }

    fn eval_segment(&mut self, name: &str, now: i64, cancel: &AtomicBool, stack: &mut Vec<String>) -> Result<Bits> {
        if stack.iter().any(|s| s == name) || stack.len() >= MAX_SEGMENT_NESTING {
            stack.push(name.to_string());
            return Err(Error::input(format!("segment cycle: {}", stack.join(" → "))));
        }
        let Some(src) = self.segments()?.get(name).cloned() else {
            // a segment that does not exist (yet) matches nobody
            return Ok(Bits::new(self.base()?.n));
        };
        let expr = crate::segment::parse(&src).map_err(|e| Error::input(format!("saved segment `{name}`: {e}")))?;
        stack.push(name.to_string());
        let r = self.eval_nested(&expr, now, cancel, stack);
        stack.pop();
        r
    }

    fn eval_pred(&mut self, p: &Predicate, now: i64, cancel: &AtomicBool) -> Result<Bits> {
        let n = self.base()?.n;
        match p {
            Predicate::Tag(t) => {
                Ok(self.tags()?.get(&t.text).map(|bm| Bits::from_roaring(bm, n)).unwrap_or_else(|| Bits::new(n)))
            }
            Predicate::Category(c) => {
                let cats = self.categories()?;
                // the category and every descendant
                let mut names = vec![c.text.clone()];
                let mut i = 0;
                while i < names.len() {
                    for row in cats.iter() {
                        if row.parent.as_deref() == Some(names[i].as_str()) && !names.contains(&row.name) {
                            names.push(row.name.clone());
                        }
                    }
                    i += 1;
                }
                let mut out = Bits::new(n);
                for row in cats.iter().filter(|r| names.contains(&r.name)) {
                    out.or_with(&Bits::from_roaring(&row.members, n));
                }
                Ok(out)
            }
            Predicate::Segment(_) => unreachable!("handled by eval_segment"),
            Predicate::Cond(c) => self.eval_field(c, now),
            Predicate::Near { place, radius, unit, .. } => self.eval_near(place, *radius, *unit),
            Predicate::Agg(a) => self.eval_agg(a, now, cancel),
        }
    }

    fn field(&self, name: &str) -> Result<Field> {
        Ok(match name {
            "score" => Field::Score,
            "created_at" => Field::CreatedAt,
            "email" => Field::Email,
            "external_id" => Field::ExternalId,
            "timezone" => Field::Timezone,
            "consent.email" => Field::Consent(0),
            "consent.sms" => Field::Consent(1),
            "consent.push" => Field::Consent(2),
            "age" => Field::Age,
            "engagement" => Field::Engagement,
            "lifecycle" => Field::Lifecycle,
            "rfm" => Field::Rfm,
            "rfm.r" => Field::RfmPart(0),
            "rfm.f" => Field::RfmPart(1),
            "rfm.m" => Field::RfmPart(2),
            other => match self.schema.attr(other) {
                Some((i, _)) => Field::Attr(i),
                None => return Err(Error::input(format!("unknown field `{other}`"))),
            },
        })
    }

    pub(crate) fn age_col(&mut self, now: i64) -> Result<&Vec<i16>> {
        let today = now.div_euclid(DAY);
        if self.age.as_ref().is_none_or(|(d, _)| *d != today) {
            let idx = self.schema.attr("birth_date").map(|(i, _)| i);
            let fields: Vec<ColField> = idx.map(ColField::Attr).into_iter().collect();
            let cols = self.contact_fields(&fields)?;
            let mut v = vec![i16::MIN; cols.n];
            if let Some(i) = idx
                && let AttrCol::Date(d) = &cols.attrs[i as usize]
            {
                let ages = AgesOn::new(today);
                for (id, &b) in d.iter().enumerate() {
                    if b != DATE_NONE {
                        v[id] = ages.age(b);
                    }
                }
            }
            self.age = Some((today, v));
        }
        Ok(&self.age.as_ref().expect("set").1)
    }

    fn eval_field(&mut self, c: &Cond, now: i64) -> Result<Bits> {
        let f = self.field(&c.field().text)?;
        // derived columns are computed (and cached) before borrowing the columns
        match f {
            Field::Engagement => self.ensure_derived(super::derived::Which::Engagement, now)?,
            Field::Lifecycle => self.ensure_derived(super::derived::Which::Lifecycle, now)?,
            Field::Rfm | Field::RfmPart(_) => self.ensure_derived(super::derived::Which::Rfm, now)?,
            _ => {}
        }
        if matches!(f, Field::Age) {
            self.age_col(now)?;
        }
        self.base()?;
        // derived facts need no contact records
        let base = self.base.as_ref().expect("loaded");
        let n = base.n;
        let alive = &base.alive;
        let scan = Scan { n, alive };
        match f {
            Field::RfmPart(k) => {
                let col = &self.derived.as_ref().and_then(|d| d.rfm.as_ref()).expect("computed")[k];
                // 0: no score (no purchase)
                return match int_range(c, SCALE as i128)? {
                    Some(r) => {
                        let ranges = super::bytes::ranges_of(r.lo, r.hi, r.inside, Some(0));
                        Ok(super::bytes::where_bytes(n, alive, col, &ranges, true))
                    }
                    None => num_cond(c, scan, |id| (col[id] != 0).then(|| col[id] as i128 * SCALE as i128)),
                };
            }
            Field::Engagement | Field::Lifecycle => {
                let d = self.derived.as_ref().expect("computed");
                let (col, names): (&Vec<u8>, Vec<&str>) = if matches!(f, Field::Engagement) {
                    (
                        d.engagement.as_ref().expect("computed"),
                        crate::derived::Engagement::ALL.iter().map(|e| e.name()).collect(),
                    )
                } else {
                    (
                        d.lifecycle.as_ref().expect("computed"),
                        crate::derived::Lifecycle::ALL.iter().map(|e| e.name()).collect(),
                    )
                };
                return enum_cond(c, scan, &names, Some(col), |id| Some(col[id] as u16));
            }
            Field::Rfm => {
                let [r, f, m] = self.derived.as_ref().and_then(|d| d.rfm.as_ref()).expect("computed");
                return string_cond(c, scan, |id| (r[id] != 0).then(|| format!("{}{}{}", r[id], f[id], m[id])));
            }
            _ => {}
        }
        let needs = match f {
            Field::Score => Some(ColField::Score),
            Field::CreatedAt => Some(ColField::CreatedAt),
            Field::Email => Some(ColField::Email),
            Field::ExternalId => Some(ColField::ExternalId),
            Field::Timezone => Some(ColField::Timezone),
            Field::Consent(ch) => Some(ColField::Consent(ch as u8)),
            Field::Attr(i) => Some(ColField::Attr(i)),
            Field::Age | Field::Engagement | Field::Lifecycle | Field::Rfm | Field::RfmPart(_) => None,
        };
        self.contact_fields(needs.as_slice())?;
        let base = self.base.as_ref().expect("loaded");
        let alive = &base.alive;
        let scan = Scan { n, alive };
        let cols = self.contacts.as_ref().expect("loaded");
        match f {
            Field::Score => match int_range(c, SCALE as i128)? {
                Some(r) => Ok(r.scan(scan, &cols.score, None)),
                None => num_cond(c, scan, |id| Some(cols.score[id] as i128 * SCALE as i128)),
            },
            Field::Age => {
                let age = &self.age.as_ref().expect("computed").1;
                match int_range(c, SCALE as i128)? {
                    Some(r) => Ok(r.scan(scan, age, Some(i16::MIN))),
                    None => num_cond(c, scan, |id| (age[id] != i16::MIN).then(|| age[id] as i128 * SCALE as i128)),
                }
            }
            Field::CreatedAt => time_cond(c, scan, |id| Some(cols.created_at[id])),
            Field::Email => text_cond(c, scan, &cols.email),
            Field::ExternalId => text_cond(c, scan, &cols.external_id),
            Field::Timezone => text_cond(c, scan, &cols.timezone),
            Field::Consent(ch) => bool_cond(c, scan, |id| match cols.consent[ch][id] {
                0 => None,
                v => Some(v == 2),
            }),
            Field::RfmPart(_) | Field::Engagement | Field::Lifecycle | Field::Rfm => {
                unreachable!("derived facts are answered above without contact records")
            }
            Field::Attr(i) => {
                let def = &self.schema.attributes[i as usize];
                match (&cols.attrs[i as usize], &def.ty) {
                    (AttrCol::Number(v), _) => match int_range(c, 1)? {
                        Some(r) => Ok(r.scan(scan, v, Some(crate::store::codec::NUM_NONE))),
                        None => {
                            num_cond(c, scan, |id| (v[id] != crate::store::codec::NUM_NONE).then_some(v[id] as i128))
                        }
                    },
                    (AttrCol::Text(t), _) => text_cond(c, scan, t),
                    (AttrCol::Bool(v), _) => bool_cond(c, scan, |id| match v[id] {
                        0 => None,
                        x => Some(x == 2),
                    }),
                    (AttrCol::Date(v), _) => date_cond(c, scan, |id| (v[id] != DATE_NONE).then_some(v[id])),
                    (AttrCol::Enum(v), AttrType::Enum(vals)) => {
                        let names: Vec<&str> = vals.iter().map(String::as_str).collect();
                        enum_cond(c, scan, &names, None, |id| (v[id] != ENUM_NONE).then_some(v[id]))
                    }
                    (AttrCol::Set(sets, any), AttrType::Set(vals)) => set_cond(c, n, sets, any, vals),
                    _ => Err(Error::runtime(format!("attribute `{}` changed type", def.name))),
                }
            }
        }
    }

    fn eval_near(&mut self, place: &Place, radius: crate::model::Decimal, unit: DistUnit) -> Result<Bits> {
        let (plat, plon) = match place {
            Place::Coords { lat, lon } => (lat.to_f64(), lon.to_f64()),
            Place::City(name) => match crate::geo::lookup(&name.text) {
                Some(c) => (c.lat, c.lon),
                None => return Err(Error::input(format!("unknown place `{}`", name.text))),
            },
        };
        let km = radius.to_f64() * if unit == DistUnit::Mi { 1.609344 } else { 1.0 };
        let (ilat, ilon) = (self.schema.attr("lat").map(|a| a.0), self.schema.attr("lon").map(|a| a.0));
        self.base()?;
        let fields: Vec<ColField> = [ilat, ilon].into_iter().flatten().map(ColField::Attr).collect();
        self.contact_fields(&fields)?;
        let base = self.base.as_ref().expect("loaded");
        let cols = self.contacts.as_ref().expect("loaded");
        let (Some(ilat), Some(ilon)) = (ilat, ilon) else { return Ok(Bits::new(base.n)) };
        let (AttrCol::Number(lat), AttrCol::Number(lon)) = (&cols.attrs[ilat as usize], &cols.attrs[ilon as usize])
        else {
            return Ok(Bits::new(base.n));
        };
        // a cheap box first: 1 degree of latitude is at least 110.5 km
        let dlat = km / 110.0 + 0.01;
        // candidates: inside a box a little wider than that, compared in
        // the columns' integer units without a branch (a missing value,
        // `NUM_NONE`, is below every box)
        let units = |deg: f64| deg * SCALE as f64;
        // (never down to `NUM_NONE`, whatever the radius)
        let lat_box = (((units(plat - dlat) - 1.0) as i64).max(i64::MIN + 1), (units(plat + dlat) + 1.0) as i64);
        let lon_box = match lon_span(plat, plon, km) {
            Some(d) => ((units(plon - d) - 1.0) as i64, (units(plon + d) + 1.0) as i64),
            None => (i64::MIN + 1, i64::MAX),
        };
        let within = |x: i64, (lo, hi): (i64, i64)| x.wrapping_sub(lo) as u64 <= hi.wrapping_sub(lo) as u64;
        // both columns read for every contact (`&`: a read only after the
        // latitude passed would miss the cache, the prefetcher not knowing
        // it), the exact test only for the few inside the box (a branch
        // taken rarely), while the contact's values are at hand
        let exact = |id: usize| {
            let la = lat[id] as f64 / SCALE as f64;
            let lo = lon[id] as f64 / SCALE as f64;
            (la - plat).abs() <= dlat && crate::geo::haversine_km(plat, plon, la, lo) <= km
        };
        Ok(Bits::from_fn(base.n, &base.alive, |id| {
            // (black_box: the compiler would load the longitude only after
            // the latitude passed, which is what this avoids)
            let (la, lo) = (lat[id], std::hint::black_box(lon[id]));
            (within(la, lat_box) & within(lo, lon_box)) && exact(id)
        }))
    }

    /// Per-contact values of an aggregate, cached.
    pub(crate) fn values(
        &mut self,
        kind: u16,
        measure: Measure,
        lo: i64,
        hi: i64,
        filter: Option<&Filter>,
        cancel: &AtomicBool,
    ) -> Result<Arc<Values>> {
        // a lifetime aggregate without filter is a per-contact summary: kept
        // like data (until events change), and independent of now once every
        // event is at or before it
        let lifetime = is_summary(filter.is_some(), lo);
        let last = if lifetime { self.last_event(kind)? } else { i64::MAX };
        let hi = if lifetime && last <= hi { i64::MAX } else { hi };
        let key = ValKey { kind, measure, lo, hi, filter: filter.map(print_filter).unwrap_or_default() };
        if let Some(v) = self.values.get(&key).or_else(|| self.summaries.get(&key)) {
            return Ok(v.clone());
        }
        // a wider measure already computed answers a narrow one (after an
        // edit from `>= 2` to `>= 1`, say)
        for wider in measure.wider() {
            if let Some(v) = self.values.get(&ValKey { measure: wider, ..key.clone() }) {
                return Ok(v.clone());
            }
        }
        let param = match measure {
            Measure::Sum(p) | Measure::Total(p) | Measure::Min(p) | Measure::Max(p) => Some(p),
            _ => None,
        };
        let mut need = super::filter::aggregate_columns(&self.schema.kinds[kind as usize], param, filter);
        // the first or last event's time reads every block's times
        need.times = matches!(measure, Measure::Last | Measure::First);
        let (first_span, last_span) = crate::store::time_parts::parts_of(lo, last.min(hi));
        // (blocks read without the columns this needs would be read again)
        let in_memory = self.partitions.get(&kind).is_some_and(|p| p.holds(first_span, last_span) && p.covers(&need));
        if lifetime && hi == i64::MAX && !in_memory {
            // every event of the kind, not read yet: the store's per-contact
            // summaries (when every block is in memory, a pass over them is
            // quicker than decoding the summaries)
            let n = self.base()?.n;
            // with it, what else the expression reads from these summaries
            // and is not known yet
            let plan = self.lifetime_plan.get(&kind).copied().unwrap_or_default();
            let want = super::lifetime::Wanted::of(measure)
                .with(plan)
                .without(|m| m != measure && self.summaries.contains_key(&ValKey { measure: m, ..key.clone() }));
            let mut found = None;
            for (m, v) in super::lifetime::from_summaries(&self.reader, kind, want, n)? {
                let v = Arc::new(v);
                if m == measure {
                    found = Some(v.clone());
                }
                self.summaries.insert(ValKey { measure: m, ..key.clone() }, v);
            }
            return found.ok_or_else(|| Error::runtime("summaries gave no value for the measure"));
        }
        let compiled = match filter {
            Some(f) => {
                let fk = (kind, key.filter.clone());
                match self.filters.get(&fk) {
                    Some(c) => Some(c.clone()),
                    None if self.dict.is_some() => {
                        let kd = self.schema.kinds[kind as usize].clone();
                        let c = Arc::new(BoundFilter::compile(f, &kd, self.dict()?)?);
                        self.filters.insert(fk, c.clone());
                        Some(c)
                    }
                    None => {
                        // no dictionary loaded (a fresh process, or one that
                        // never needed it): the values of the blocks read
                        // are enough, and the filter stays right for them
                        // until the kind's blocks change
                        self.events_in(kind, lo, hi, &need)?;
                        let part = &self.partitions[&kind];
                        match self.block_filters.get(&fk) {
                            Some((version, c)) if *version == part.version => Some(c.clone()),
                            _ => {
                                let kd = &self.schema.kinds[kind as usize];
                                let values = super::ValuesRead { part, reader: &self.reader };
                                let c = Arc::new(BoundFilter::compile(f, kd, &values)?);
                                self.block_filters.insert(fk, (part.version, c.clone()));
                                Some(c)
                            }
                        }
                    }
                }
            }
            None => None,
        };
        let n = self.base()?.n;
        self.events_in(kind, lo, hi, &need)?;
        if compiled.is_none()
            && let Some(v) = self.window_as_lifetime_less(kind, measure, (lo, hi), &need, cancel)?
        {
            self.cache_values(key, v.clone());
            return Ok(v);
        }
        let part = &self.partitions[&kind];
        let v = Arc::new(aggregate(part, n, measure, lo, hi, compiled.as_deref(), cancel)?);
        if lifetime && hi == i64::MAX {
            // the same per-contact summary the store's summaries give,
            // computed from the blocks in memory: kept like them
            self.summaries.insert(key, v.clone());
        } else {
            self.cache_values(key, v.clone());
        }
        Ok(v)
    }

    fn eval_agg(&mut self, a: &Agg, now: i64, cancel: &AtomicBool) -> Result<Bits> {
        let n = self.base()?.n;
        let Some((kind, kd)) = self.schema.kind(&a.kind.text) else {
            return Err(Error::input(format!("unknown event kind `{}`", a.kind.text)));
        };
        let param = match &a.param {
            Some(p) => Some(
                kd.param(&p.text)
                    .map(|x| x.0)
                    .ok_or_else(|| Error::input(format!("`{}` has no parameter `{}`", kd.name, p.text)))?,
            ),
            None => None,
        };
        let need = |p: Option<u16>| {
            p.ok_or_else(|| {
                Error::input(format!(
                    "{}() needs a parameter, e.g. {}(purchase.amount)",
                    a.func.as_str(),
                    a.func.as_str()
                ))
            })
        };
        let (lo, hi) = window_range(a.window.as_ref(), now);
        let target = units(&a.value)?;
        // a lifetime aggregate without filter is a per-contact summary, kept
        // whole (counts, sums with counts); others take the narrowest
        // measure that decides the comparison
        let summary = is_summary(a.filter.is_some(), lo);
        let measure = match a.func {
            AggFunc::Count if summary => Measure::Count,
            AggFunc::Count => count_measure(a.op, target),
            AggFunc::Sum if !summary => Measure::Total(need(param)?),
            AggFunc::Sum | AggFunc::Avg => Measure::Sum(need(param)?),
            AggFunc::Min => Measure::Min(need(param)?),
            AggFunc::Max => Measure::Max(need(param)?),
            AggFunc::DaysSinceLast => Measure::Last,
            AggFunc::DaysSinceFirst => Measure::First,
        };
        let v = self.values(kind, measure, lo, hi, a.filter.as_deref(), cancel)?;
        let op = a.op;
        let alive = &self.base.as_ref().expect("loaded").alive;
        let scale = SCALE as i128;
        let out = match (&*v, a.func) {
            (Values::Count(c), _) => {
                // compare in whole counts when the threshold is whole
                if target % scale == 0
                    && let Ok(t) = i64::try_from(target / scale)
                {
                    cmp_col(n, alive, op, t, c, |x| x as i64)
                } else {
                    Bits::from_col(n, alive, c, |x| cmp(op, x as i128 * scale, target))
                }
            }
            // whole thresholds only (`count_measure`)
            (Values::Exists(w), _) => {
                let t = (target / scale) as i64;
                let (with, without) = (cmp(op, 1, t), cmp(op, 0, t));
                let keep = |yes: bool| if yes { u64::MAX } else { 0 };
                let (with, without) = (keep(with), keep(without));
                Bits::from_words(n, alive, |wi| (w[wi] & with) | (!w[wi] & without))
            }
            (Values::Count8(c), _) => cmp_col(n, alive, op, (target / scale) as u8, c, |x| x),
            (Values::Sum { sum, .. }, AggFunc::Sum) => cmp_col(n, alive, op, target, sum, |x| x),
            (Values::Sum64 { sum, .. }, AggFunc::Sum) => match i64::try_from(target) {
                Ok(t) => cmp_col(n, alive, op, t, sum, |x| x),
                Err(_) => Bits::from_col(n, alive, sum, |x| cmp(op, x as i128, target)),
            },
            // only `Measure::Total` is sparse, and only `sum` takes it
            (Values::Sparse(t), _) => {
                // contacts without a summed event total 0: they all go one
                // way, then each listed contact is set by its own total
                let mut out = if cmp(op, 0, target) { alive.clone() } else { Bits::new(n) };
                out.grow(n);
                for (&id, &s) in t.ids.iter().zip(&t.sum) {
                    let id = id as usize;
                    if id < n && alive.get(id) {
                        if cmp(op, s, target) { out.set(id) } else { out.clear(id) }
                    }
                }
                out
            }
            (Values::Sum64 { sum, n: k }, _) => {
                Bits::from_cols(n, alive, sum, k, |s, k| k > 0 && cmp(op, s as i128, target * k as i128))
            }
            // avg op v  <=>  sum op v*k  (k > 0): exact, no division
            (Values::Sum { sum, n: k }, _) => {
                Bits::from_cols(n, alive, sum, k, |s, k| k > 0 && cmp(op, s, target * k as i128))
            }
            (Values::Ext { v: x, present }, AggFunc::DaysSinceLast | AggFunc::DaysSinceFirst) => {
                // whole days since an instant only fall as the instant
                // grows, so the comparison holds on a range of instants:
                // found once, then each contact is one unsigned compare
                let (lo, hi, inside) = days_since_instants(op, now, target);
                if lo > hi {
                    Bits::from_col(n, alive, present, |p| p & !inside)
                } else {
                    // lo <= x <= hi as one unsigned compare; `&` rather
                    // than `&&`: no branch to mispredict per contact
                    let width = hi.wrapping_sub(lo) as u64;
                    Bits::from_cols(n, alive, x, present, |x, p| p & ((x.wrapping_sub(lo) as u64 <= width) == inside))
                }
            }
            (Values::Ext { v: x, present }, _) => {
                Bits::from_cols(n, alive, x, present, |x, p| p & cmp(op, x as i128, target))
            }
        };
        Ok(out)
    }

    /// The tree with each node's own count.
    pub fn explain(&mut self, e: &Expr, now: i64, cancel: &AtomicBool) -> Result<ExplainNode> {
        let count = self.eval(e, now, cancel)?.count();
        let children = match e {
            BoolExpr::And(xs) | BoolExpr::Or(xs) => {
                xs.iter().map(|x| self.explain(x, now, cancel)).collect::<Result<Vec<_>>>()?
            }
            BoolExpr::Not(x) => vec![self.explain(x, now, cancel)?],
            BoolExpr::Pred(_) => vec![],
        };
        let node = match e {
            BoolExpr::And(_) => "and".to_string(),
            BoolExpr::Or(_) => "or".to_string(),
            BoolExpr::Not(_) => "not".to_string(),
            BoolExpr::Pred(_) => print(e),
        };
        Ok(ExplainNode { node, count, children })
    }
}

/// Degrees of longitude east and west of (plat, plon) that hold every
/// point within `km` of it (with a margin), or None when no such band
/// helps: the circle holds a pole or the band crosses the antimeridian.
/// The widest point of a circle of angular radius r around latitude φ is
/// asin(sin r / cos φ) of longitude away.
fn lon_span(plat: f64, plon: f64, km: f64) -> Option<f64> {
    let r = km / crate::geo::EARTH_RADIUS_KM;
    let phi = plat.abs().to_radians();
    if !(r.is_finite() && r >= 0.0) || phi + r * 1.01 >= std::f64::consts::FRAC_PI_2 {
        return None;
    }
    let s = r.sin() / phi.cos();
    if s >= 1.0 {
        return None;
    }
    let d = s.asin().to_degrees() * 1.01 + 0.01;
    (plon - d > -180.0 && plon + d < 180.0).then_some(d)
}

/// Whether an aggregate from `lo` (with or without a filter) is a
/// per-contact summary: every event of the kind, unfiltered.
fn is_summary(filtered: bool, lo: i64) -> bool {
    !filtered && lo <= i64::MIN + 1
}

/// The narrowest count measure that decides `count op target` exactly:
/// whether there is an event, when that is all the comparison asks;
/// counts saturated at 255 for a whole threshold below 255; else counts.
fn count_measure(op: CmpOp, target: i128) -> Measure {
    let scale = SCALE as i128;
    if target % scale != 0 {
        return Measure::Count;
    }
    match (target / scale, op) {
        (0, _) | (1, CmpOp::Ge | CmpOp::Lt) => Measure::Exists,
        // a count of 255 or more saturated at 255 is still above t
        (2..=254, _) => Measure::Count8,
        _ => Measure::Count,
    }
}

/// The ids below `n` in `alive` whose value in `col` (through `get`)
/// `op` `t` holds, the operator chosen once rather than for each contact.
#[inline]
fn cmp_col<E: Copy + Sync, T: PartialOrd + Copy + Sync>(
    n: usize,
    alive: &Bits,
    op: CmpOp,
    t: T,
    col: &[E],
    get: impl Fn(E) -> T + Sync,
) -> Bits {
    match op {
        CmpOp::Eq => Bits::from_col(n, alive, col, |x| get(x) == t),
        CmpOp::Ne => Bits::from_col(n, alive, col, |x| get(x) != t),
        CmpOp::Lt => Bits::from_col(n, alive, col, |x| get(x) < t),
        CmpOp::Le => Bits::from_col(n, alive, col, |x| get(x) <= t),
        CmpOp::Gt => Bits::from_col(n, alive, col, |x| get(x) > t),
        CmpOp::Ge => Bits::from_col(n, alive, col, |x| get(x) >= t),
    }
}

/// Whole days from instant `x` to `now`, as `days_since_last` counts them.
fn days_since(now: i64, x: i128) -> i128 {
    (now as i128 - x).div_euclid(DAY as i128)
}

/// The last instant `x` (as i128, within i64) for which `holds(x)` is
/// true, where `holds` is true up to some instant and false after it; one
/// below i64's range when it never holds.
fn last_instant_where(holds: impl Fn(i128) -> bool) -> i128 {
    let (mut lo, mut hi) = (i64::MIN as i128 - 1, i64::MAX as i128);
    if holds(hi) {
        return hi;
    }
    // invariant: holds(lo) (or lo is below the range), !holds(hi)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if holds(mid) { lo = mid } else { hi = mid }
    }
    lo
}

/// `days_since(now, x) * SCALE op target` as a range of instants: it
/// holds exactly when `(lo <= x && x <= hi) == inside` (lo > hi: an empty
/// range).
fn days_since_instants(op: CmpOp, now: i64, target: i128) -> (i64, i64, bool) {
    let (after, upto, inside) = days_since_bounds(op, now, target);
    if after >= i64::MAX as i128 || upto < i64::MIN as i128 {
        return (1, 0, inside);
    }
    ((after + 1) as i64, upto as i64, inside)
}

/// `days_since_instants` as `(after, upto, inside)`: holds exactly when
/// `(after < x && x <= upto) == inside`, the bounds possibly one past
/// i64's range.
fn days_since_bounds(op: CmpOp, now: i64, target: i128) -> (i128, i128, bool) {
    let scale = SCALE as i128;
    let at = |x: i128| days_since(now, x) * scale;
    // the last instant at least `target` days back, and the last more than that
    let ge = last_instant_where(|x| at(x) >= target);
    let gt = last_instant_where(|x| at(x) > target);
    let none = i64::MIN as i128 - 1;
    match op {
        CmpOp::Ge => (none, ge, true),
        CmpOp::Gt => (none, gt, true),
        CmpOp::Lt => (none, ge, false),
        CmpOp::Le => (none, gt, false),
        CmpOp::Eq => (gt, ge, true),
        CmpOp::Ne => (gt, ge, false),
    }
}

/// Where a field condition is evaluated: ids below `n` that are alive.
#[derive(Clone, Copy)]
struct Scan<'a> {
    n: usize,
    alive: &'a Bits,
}

impl Scan<'_> {
    #[inline]
    fn run(self, f: impl Fn(usize) -> bool) -> Bits {
        Bits::from_fn(self.n, self.alive, f)
    }
}

/// A comparison or range of a number, turned into one range of the
/// integers a column holds (each the number's units divided by `mul`):
/// the condition holds for a set value x exactly when `(lo <= x && x <=
/// hi) == inside`.
#[derive(Debug, PartialEq)]
struct IntRange {
    lo: i128,
    hi: i128,
    inside: bool,
}

/// `c` as an `IntRange` of a column whose integers are `mul` units each;
/// None for conditions that are not one range (`in`, `is set`).
fn int_range(c: &Cond, mul: i128) -> Result<Option<IntRange>> {
    let (floor, ceil) = (|t: i128| t.div_euclid(mul), |t: i128| -(-t).div_euclid(mul));
    let (min, max) = (i128::MIN / 2, i128::MAX / 2);
    let r = |lo, hi, inside| Some(IntRange { lo, hi, inside });
    Ok(match c {
        Cond::Cmp { op, value, .. } => {
            let t = units(value)?;
            let exact = t.rem_euclid(mul) == 0;
            match op {
                CmpOp::Ge => r(ceil(t), max, true),
                CmpOp::Gt => r(floor(t) + 1, max, true),
                CmpOp::Le => r(min, floor(t), true),
                CmpOp::Lt => r(min, ceil(t) - 1, true),
                CmpOp::Eq if exact => r(floor(t), floor(t), true),
                CmpOp::Ne if exact => r(floor(t), floor(t), false),
                // no integer equals t
                CmpOp::Eq => r(1, 0, true),
                CmpOp::Ne => r(1, 0, false),
            }
        }
        Cond::Between { lo, hi, .. } => r(ceil(units(lo)?), floor(units(hi)?), true),
        _ => None,
    })
}

impl IntRange {
    /// The contacts of `scan` whose value in `col` (unset where `none`)
    /// meets the range: one unsigned compare each, no branch.
    fn scan<T: Copy + Into<i64>>(&self, scan: Scan, col: &[T], none: Option<T>) -> Bits {
        self.scan_by(scan, |id| col[id].into(), none.map(Into::into))
    }

    /// `scan` over the values `get` gives.
    #[inline]
    fn scan_by(&self, scan: Scan, get: impl Fn(usize) -> i64, none: Option<i64>) -> Bits {
        // the range within i64 (an empty one stays empty)
        let (lo, hi) = (self.lo.max(i64::MIN as i128), self.hi.min(i64::MAX as i128));
        if lo > hi {
            return scan.run(|id| Some(get(id)) != none && !self.inside);
        }
        let (lo, width) = (lo as i64, (hi - lo) as u64);
        let inside = self.inside;
        match none {
            Some(none) => scan.run(|id| {
                let x = get(id);
                (x != none) & ((x.wrapping_sub(lo) as u64 <= width) == inside)
            }),
            None => scan.run(|id| (get(id).wrapping_sub(lo) as u64 <= width) == inside),
        }
    }
}

fn num_cond(c: &Cond, scan: Scan, get: impl Fn(usize) -> Option<i128>) -> Result<Bits> {
    Ok(match c {
        Cond::Cmp { op, value, .. } => {
            let v = units(value)?;
            scan.run(|id| get(id).is_some_and(|x| cmp(*op, x, v)))
        }
        Cond::In { values, .. } => {
            let vs: Vec<i128> = values.iter().map(units).collect::<Result<_>>()?;
            scan.run(|id| get(id).is_some_and(|x| vs.contains(&x)))
        }
        Cond::Between { lo, hi, .. } => {
            let (a, b) = (units(lo)?, units(hi)?);
            scan.run(|id| get(id).is_some_and(|x| a <= x && x <= b))
        }
        Cond::IsSet { negated, .. } => scan.run(|id| get(id).is_some() != *negated),
        Cond::Contains { field, .. } => {
            return Err(Error::input(format!(
                "`contains` needs a text or many-of field, `{}` is a number",
                field.text
            )));
        }
    })
}

fn text_cond(c: &Cond, scan: Scan, col: &TextCol) -> Result<Bits> {
    Ok(match c {
        Cond::Cmp { op, value, .. } => {
            let v = text(value)?;
            scan.run(|id| col.get(id).is_some_and(|x| cmp(*op, x, v)))
        }
        Cond::In { values, .. } => {
            let vs: Vec<&str> = values.iter().map(text).collect::<Result<_>>()?;
            scan.run(|id| col.get(id).is_some_and(|x| vs.contains(&x)))
        }
        Cond::Between { lo, hi, .. } => {
            let (a, b) = (text(lo)?, text(hi)?);
            scan.run(|id| col.get(id).is_some_and(|x| a <= x && x <= b))
        }
        Cond::Contains { value, .. } => {
            let v = text(value)?;
            scan.run(|id| col.get(id).is_some_and(|x| x.contains(v)))
        }
        Cond::IsSet { negated, .. } => scan.run(|id| col.get(id).is_some() != *negated),
    })
}

/// Text conditions through the string itself (ordering, between, contains).
fn string_cond(c: &Cond, scan: Scan, get: impl Fn(usize) -> Option<String>) -> Result<Bits> {
    Ok(match c {
        Cond::Cmp { op, value, .. } => {
            let v = text(value)?;
            scan.run(|id| get(id).is_some_and(|x| cmp(*op, x.as_str(), v)))
        }
        Cond::In { values, .. } => {
            let vs: Vec<&str> = values.iter().map(text).collect::<Result<_>>()?;
            scan.run(|id| get(id).is_some_and(|x| vs.contains(&x.as_str())))
        }
        Cond::Between { lo, hi, .. } => {
            let (a, b) = (text(lo)?, text(hi)?);
            scan.run(|id| get(id).is_some_and(|x| a <= x.as_str() && x.as_str() <= b))
        }
        Cond::Contains { value, .. } => {
            let v = text(value)?;
            scan.run(|id| get(id).is_some_and(|x| x.contains(v)))
        }
        Cond::IsSet { negated, .. } => scan.run(|id| get(id).is_some() != *negated),
    })
}

fn bool_cond(c: &Cond, scan: Scan, get: impl Fn(usize) -> Option<bool>) -> Result<Bits> {
    let b = |l: &Lit| match l.value {
        Value::Bool(b) => Ok(b),
        _ => Err(Error::input("expected true or false")),
    };
    Ok(match c {
        Cond::Cmp { op: CmpOp::Eq, value, .. } => {
            let v = b(value)?;
            scan.run(|id| get(id) == Some(v))
        }
        Cond::Cmp { op: CmpOp::Ne, value, .. } => {
            let v = b(value)?;
            scan.run(|id| get(id).is_some_and(|x| x != v))
        }
        Cond::In { values, .. } => {
            let vs: Vec<bool> = values.iter().map(b).collect::<Result<_>>()?;
            scan.run(|id| get(id).is_some_and(|x| vs.contains(&x)))
        }
        Cond::IsSet { negated, .. } => scan.run(|id| get(id).is_some() != *negated),
        _ => return Err(Error::input(format!("`{}` is true or false: use = or !=", c.field().text))),
    })
}

fn lit_days(l: &Lit) -> Result<i32> {
    match &l.value {
        Value::Date(d) => Ok(date_to_days(*d)),
        Value::DateTime(t) => Ok(date_to_days(t.date_naive())),
        _ => Err(Error::input("expected a date (YYYY-MM-DD)")),
    }
}

fn date_cond(c: &Cond, scan: Scan, get: impl Fn(usize) -> Option<i32>) -> Result<Bits> {
    Ok(match c {
        Cond::Cmp { op, value, .. } => {
            let v = lit_days(value)? as i128;
            scan.run(|id| get(id).is_some_and(|x| cmp(*op, x as i128, v)))
        }
        Cond::In { values, .. } => {
            let vs: Vec<i32> = values.iter().map(lit_days).collect::<Result<_>>()?;
            scan.run(|id| get(id).is_some_and(|x| vs.contains(&x)))
        }
        Cond::Between { lo, hi, .. } => {
            let (a, b) = (lit_days(lo)?, lit_days(hi)?);
            scan.run(|id| get(id).is_some_and(|x| a <= x && x <= b))
        }
        Cond::IsSet { negated, .. } => scan.run(|id| get(id).is_some() != *negated),
        Cond::Contains { .. } => return Err(Error::input("`contains` does not apply to dates")),
    })
}

/// The instant range [start, end) a date or timestamp literal stands for:
/// a date is its whole UTC day, a timestamp one second.
fn lit_span(l: &Lit) -> Result<(i64, i64)> {
    match &l.value {
        Value::Date(d) => {
            let s = days_from_civil(d.year() as i64, d.month() as i64, d.day() as i64) * DAY;
            Ok((s, s + DAY))
        }
        Value::DateTime(t) => Ok((t.timestamp(), t.timestamp() + 1)),
        _ => Err(Error::input("expected a date or timestamp")),
    }
}

fn time_cond(c: &Cond, scan: Scan, get: impl Fn(usize) -> Option<i64>) -> Result<Bits> {
    let within = |x: i64, op: CmpOp, (s, e): (i64, i64)| match op {
        CmpOp::Eq => s <= x && x < e,
        CmpOp::Ne => !(s <= x && x < e),
        CmpOp::Lt => x < s,
        CmpOp::Le => x < e,
        CmpOp::Gt => x >= e,
        CmpOp::Ge => x >= s,
    };
    Ok(match c {
        Cond::Cmp { op, value, .. } => {
            let span = lit_span(value)?;
            scan.run(|id| get(id).is_some_and(|x| within(x, *op, span)))
        }
        Cond::In { values, .. } => {
            let spans: Vec<(i64, i64)> = values.iter().map(lit_span).collect::<Result<_>>()?;
            scan.run(|id| get(id).is_some_and(|x| spans.iter().any(|s| within(x, CmpOp::Eq, *s))))
        }
        Cond::Between { lo, hi, .. } => {
            let (a, b) = (lit_span(lo)?, lit_span(hi)?);
            scan.run(|id| get(id).is_some_and(|x| a.0 <= x && x < b.1))
        }
        Cond::IsSet { negated, .. } => scan.run(|id| get(id).is_some() != *negated),
        Cond::Contains { .. } => return Err(Error::input("`contains` does not apply to timestamps")),
    })
}

/// A condition on a value out of `names`, each contact's index into them
/// given by `get`, or by `bytes` when every contact has one that fits a
/// byte (then tested sixteen contacts at a time).
fn enum_cond(
    c: &Cond,
    scan: Scan,
    names: &[&str],
    bytes: Option<&[u8]>,
    get: impl Fn(usize) -> Option<u16>,
) -> Result<Bits> {
    let idx = |l: &Lit| -> Result<Option<u16>> {
        let t = text(l)?;
        Ok(names
            .iter()
            .position(|n| *n == t)
            .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(t)))
            .map(|i| i as u16))
    };
    if let Some(col) = bytes {
        // every contact has a value: the condition is "one of these" or "none of these"
        let (values, inside): (Vec<u16>, bool) = match c {
            Cond::Cmp { op: CmpOp::Eq, value, .. } => (idx(value)?.into_iter().collect(), true),
            Cond::Cmp { op: CmpOp::Ne, value, .. } => (idx(value)?.into_iter().collect(), false),
            Cond::In { values, .. } => {
                (values.iter().map(idx).collect::<Result<Vec<_>>>()?.into_iter().flatten().collect(), true)
            }
            Cond::IsSet { negated, .. } => (Vec::new(), *negated),
            // the operators an enum does not take: the message below
            _ => return enum_cond(c, scan, names, None, get),
        };
        let ranges: Vec<(u8, u8)> = values.iter().filter(|&&v| v < 256).map(|&v| (v as u8, v as u8)).collect();
        return Ok(super::bytes::where_bytes(scan.n, scan.alive, col, &ranges, inside));
    }
    Ok(match c {
        Cond::Cmp { op: CmpOp::Eq, value, .. } => {
            let v = idx(value)?;
            scan.run(|id| v.is_some() && get(id) == v)
        }
        Cond::Cmp { op: CmpOp::Ne, value, .. } => {
            let v = idx(value)?;
            scan.run(|id| get(id).is_some_and(|x| Some(x) != v))
        }
        Cond::In { values, .. } => {
            let vs: Vec<u16> = values.iter().map(idx).collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
            if vs.iter().all(|&v| v < 64) {
                // the values as the bits of one word: a shift and a mask per contact
                let word = vs.iter().fold(0u64, |w, &v| w | 1 << v);
                scan.run(|id| get(id).is_some_and(|x| x < 64 && (word >> (x & 63)) & 1 == 1))
            } else {
                scan.run(|id| get(id).is_some_and(|x| vs.contains(&x)))
            }
        }
        Cond::IsSet { negated, .. } => scan.run(|id| get(id).is_some() != *negated),
        _ => return Err(Error::input(format!("`{}` is one of {}: use =, != or in", c.field().text, names.join(", ")))),
    })
}

fn set_cond(c: &Cond, n: usize, sets: &[Bits], any: &Bits, vals: &[String]) -> Result<Bits> {
    let of = |l: &Lit| -> Result<Bits> {
        let t = text(l)?;
        Ok(vals.iter().position(|v| v == t).and_then(|i| sets.get(i)).cloned().unwrap_or_else(|| Bits::new(n)))
    };
    Ok(match c {
        Cond::Contains { value, .. } => of(value)?,
        Cond::In { values, .. } => {
            let mut out = Bits::new(n);
            for v in values {
                out.or_with(&of(v)?);
            }
            out
        }
        Cond::IsSet { negated: false, .. } => any.clone(),
        Cond::IsSet { negated: true, .. } => {
            let mut out = Bits::new(n);
            for i in 0..n {
                if !any.get(i) {
                    out.set(i);
                }
            }
            out
        }
        _ => return Err(Error::input(format!("`{}` holds many values: use contains, in, or is set", c.field().text))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ages from the table equal ages by the calendar, for every birth day
    /// from 200 years back to 3 years ahead, on days around Feb 29, the
    /// end of a year and an ordinary day.
    #[test]
    fn ages_from_the_table_equal_the_calendar() {
        use crate::model::time::days_from_civil;
        for (y, m, d) in [
            (2024, 2, 29),
            (2024, 2, 28),
            (2024, 3, 1),
            (2025, 2, 28),
            (2025, 3, 1),
            (2026, 12, 31),
            (2026, 1, 1),
            (2026, 11, 24),
        ] {
            let today = days_from_civil(y, m, d);
            let ages = AgesOn::new(today);
            for b in (today - 200 * 366)..(today + 3 * 366) {
                let b = b as i32;
                assert_eq!(ages.age(b), years_between(b, today), "born {b} on {y}-{m}-{d}");
            }
        }
    }

    /// The range of instants agrees with counting the days for each
    /// instant, for every operator, whole and fractional thresholds, and
    /// instants around day boundaries, before and after now.
    #[test]
    fn days_since_as_a_range_of_instants() {
        let now = 1_764_000_123;
        let scale = SCALE as i128;
        let targets = [-2 * scale, -scale / 2, 0, 1, scale / 2, scale, 90 * scale, 90 * scale + scale / 3, 365 * scale];
        let mut xs = vec![i64::MIN, i64::MIN + 1, i64::MAX, 0, now, now + 1, now - 1];
        for d in [-3i64, -1, 0, 1, 2, 89, 90, 91, 364, 365, 366] {
            for off in [-1, 0, 1, 7_000] {
                xs.push(now - d * DAY + off);
            }
        }
        for op in CmpOp::ALL {
            for &t in &targets {
                let (lo, hi, inside) = days_since_instants(op, now, t);
                for &x in &xs {
                    let want = cmp(op, days_since(now, x as i128) * scale, t);
                    let got = (lo <= x && x <= hi) == inside;
                    assert_eq!(got, want, "{op:?} {t} at {x}");
                }
            }
        }
    }

    fn cond(src: &str) -> Cond {
        match crate::segment::parse(src).unwrap() {
            BoolExpr::Pred(Predicate::Cond(c)) => c,
            other => panic!("{src} is not one condition: {other:?}"),
        }
    }

    /// A comparison or range as a range of a column's integers agrees with
    /// comparing the number itself, for whole and fractional thresholds,
    /// columns of whole units and of millionths, and values at the ends.
    #[test]
    fn number_conditions_as_integer_ranges() {
        let mut xs: Vec<i64> = (-40..40).collect();
        xs.extend([i16::MIN as i64 + 1, i16::MAX as i64, i64::MIN + 1, i64::MAX, 999_999, 1_000_000, 1_000_001]);
        let ts = ["0", "3", "-3", "3.5", "-3.5", "0.000001", "17", "1", "99999999999"];
        for mul in [1i128, 7, SCALE as i128] {
            for t in ts {
                for op in ["=", "!=", "<", "<=", ">", ">="] {
                    let c = cond(&format!("score {op} {t}"));
                    let Cond::Cmp { op, value, .. } = &c else { unreachable!() };
                    let r = int_range(&c, mul).unwrap().unwrap();
                    for &x in &xs {
                        let want = cmp(*op, x as i128 * mul, units(value).unwrap());
                        assert_eq!((r.lo <= x as i128 && x as i128 <= r.hi) == r.inside, want, "{x}*{mul} {op:?} {t}");
                    }
                }
            }
            let c = cond("score between -3.5 and 17");
            let r = int_range(&c, mul).unwrap().unwrap();
            for &x in &xs {
                let v = x as i128 * mul;
                let want = (-3_500_000..=17 * SCALE as i128).contains(&v);
                assert_eq!((r.lo <= x as i128 && x as i128 <= r.hi) == r.inside, want, "{x}*{mul} between");
            }
        }
        // through a column with an unset marker, beyond i16 and i64
        let col: Vec<i16> = vec![i16::MIN, -5, 0, 5, 18, 35, 36, i16::MAX];
        let alive = Bits::from_fn(col.len(), &full(col.len()), |_| true);
        let scan = Scan { n: col.len(), alive: &alive };
        let ids = |src: &str| {
            let r = int_range(&cond(src), SCALE as i128).unwrap().unwrap();
            r.scan(scan, &col, Some(i16::MIN)).ones().collect::<Vec<_>>()
        };
        assert_eq!(ids("age between 18 and 35"), [4, 5]);
        assert_eq!(ids("age <= 0"), [1, 2]);
        assert_eq!(ids("age != 5"), [1, 2, 4, 5, 6, 7]);
        assert_eq!(ids("age = 5.5"), Vec::<usize>::new());
        assert_eq!(ids("age != 5.5"), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(ids("age > 99999999999"), Vec::<usize>::new());
        assert_eq!(ids("age < 99999999999"), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(ids("age > -99999999999"), [1, 2, 3, 4, 5, 6, 7]);
    }

    fn full(n: usize) -> Bits {
        let mut b = Bits::new(n);
        for i in 0..n {
            b.set(i);
        }
        b
    }

    /// Every point within the radius lies inside the band of longitude,
    /// near the equator, at high latitudes, south and for large radii.
    #[test]
    fn longitude_band_holds_the_circle() {
        let r = crate::geo::EARTH_RADIUS_KM;
        for (plat, plon) in [(45.4642, 9.19), (0.0, 0.0), (-60.0, 100.0), (71.0, 25.0), (84.0, -20.0), (10.0, 179.0)] {
            for km in [0.5, 20.0, 300.0, 2_000.0] {
                let Some(d) = lon_span(plat, plon, km) else {
                    assert!(plat.abs() > 80.0 || plon.abs() > 170.0 || km > 1_000.0, "no band at {plat},{plon} {km}");
                    continue;
                };
                for deg in 0..360 {
                    for f in [0.5, 0.999] {
                        // the point `f * km` away on bearing `deg`
                        let (p1, l1, th, dl) =
                            (plat.to_radians(), plon.to_radians(), (deg as f64).to_radians(), f * km / r);
                        let p2 = (p1.sin() * dl.cos() + p1.cos() * dl.sin() * th.cos()).asin();
                        let l2 = l1 + (th.sin() * dl.sin() * p1.cos()).atan2(dl.cos() - p1.sin() * p2.sin());
                        let (la, lo) = (p2.to_degrees(), l2.to_degrees());
                        assert!(crate::geo::haversine_km(plat, plon, la, lo) <= km, "{la},{lo} is within {km}");
                        assert!((lo - plon).abs() <= d, "{la},{lo}: {} from {plon}, band {d}", (lo - plon).abs());
                    }
                }
            }
        }
    }
}
