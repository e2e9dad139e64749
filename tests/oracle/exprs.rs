//! Random expression trees over the fields, kinds, parameters and values
//! that exist in the fixture's data (seed-driven, deterministic per seed).

use chrono::{DateTime, NaiveDate, Utc};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use reach::model::{Decimal, ParamType};
use reach::segment::ast::*;
use reach::segment::engine::StoreCatalog;
use rusqlite::Connection;
use std::collections::HashMap;

pub struct Pool {
    /// contact column → sampled values
    contact: HashMap<String, Vec<String>>,
    /// (kind, column) → sampled values
    event: HashMap<(String, String), Vec<String>>,
    /// (kind, param) → per-contact sums (as text)
    sums: HashMap<(String, String), Vec<String>>,
    kinds: Vec<(String, Vec<(String, ParamType)>)>,
    tags: Vec<String>,
    categories: Vec<String>,
    segments: Vec<String>,
    coords: Vec<(String, String)>,
}

fn sample(conn: &Connection, sql: &str, max: usize) -> Vec<String> {
    let mut st = conn.prepare(sql).unwrap();
    let all: Vec<String> = st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|x| x.unwrap()).collect();
    if all.len() <= max {
        return all;
    }
    let step = all.len() as f64 / max as f64;
    (0..max).map(|i| all[(i as f64 * step) as usize].clone()).collect()
}

const TEXT_COLS: &[&str] = &[
    "email",
    "external_id",
    "timezone",
    "first_name",
    "last_name",
    "phone",
    "city",
    "region",
    "country",
    "postal_code",
    "language",
    "created_at",
    "birth_date",
    "score",
    "lat",
    "lon",
];

impl Pool {
    pub fn new(conn: &Connection, cat: &StoreCatalog) -> Pool {
        let mut contact = HashMap::new();
        for c in TEXT_COLS {
            let v = sample(conn, &format!("SELECT DISTINCT \"{c}\" FROM contacts WHERE \"{c}\" <> '' ORDER BY 1"), 40);
            contact.insert(c.to_string(), v);
        }
        let mut event = HashMap::new();
        let mut sums = HashMap::new();
        let mut kinds = Vec::new();
        for k in &cat.schema.kinds {
            let mut params = Vec::new();
            for p in &k.params {
                params.push((p.name.clone(), p.ty.clone()));
                let v = sample(
                    conn,
                    &format!(
                        "SELECT DISTINCT \"{0}\" FROM events WHERE kind = '{1}' AND \"{0}\" <> '' ORDER BY 1",
                        p.name, k.name
                    ),
                    30,
                );
                event.insert((k.name.clone(), p.name.clone()), v);
                if p.ty == ParamType::Number {
                    let s = sample(
                        conn,
                        &format!(
                            "SELECT DISTINCT CAST(SUM(CAST(\"{0}\" AS REAL)) AS TEXT) FROM events \
                             WHERE kind = '{1}' AND \"{0}\" <> '' GROUP BY contact_id ORDER BY 1",
                            p.name, k.name
                        ),
                        30,
                    );
                    sums.insert((k.name.clone(), p.name.clone()), s);
                }
            }
            for u in ["utm_source", "utm_medium", "utm_campaign"] {
                let v = sample(
                    conn,
                    &format!(
                        "SELECT DISTINCT \"{u}\" FROM events WHERE kind = '{}' AND \"{u}\" <> '' ORDER BY 1",
                        k.name
                    ),
                    20,
                );
                event.insert((k.name.clone(), u.to_string()), v);
            }
            kinds.push((k.name.clone(), params));
        }
        let coords = {
            let mut st = conn
                .prepare("SELECT lat, lon FROM contacts WHERE lat <> '' AND lon <> '' ORDER BY CAST(id AS INTEGER)")
                .unwrap();
            let all: Vec<(String, String)> =
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|x| x.unwrap()).collect();
            all.into_iter().step_by(37).take(30).collect()
        };
        let mut tags = cat.tags.clone();
        tags.push("no_such_tag".into());
        let mut categories = cat.categories.clone();
        categories.push("no_such_category".into());
        let mut segments: Vec<String> = cat.segments.keys().cloned().collect();
        segments.sort();
        segments.push("no_such_segment".into());
        Pool { contact, event, sums, kinds, tags, categories, segments, coords }
    }
}

pub struct Gen<'a> {
    pub rng: ChaCha8Rng,
    pool: &'a Pool,
    now: i64,
}

fn n(s: &str) -> Lit {
    Lit::new(Value::Number(s.parse::<Decimal>().unwrap_or_else(|_| panic!("number {s}"))))
}
fn st(s: &str) -> Lit {
    Lit::new(Value::Str(s.to_string()))
}
fn name(s: &str) -> Name {
    Name::new(s)
}

const OPS: [CmpOp; 6] = CmpOp::ALL;

impl<'a> Gen<'a> {
    pub fn new(seed: u64, pool: &'a Pool, now: i64) -> Gen<'a> {
        Gen { rng: ChaCha8Rng::seed_from_u64(seed), pool, now }
    }

    fn pick<'b, T>(&mut self, xs: &'b [T]) -> &'b T {
        &xs[self.rng.random_range(0..xs.len())]
    }

    fn pick_str(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.rng.random_range(0..xs.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn op(&mut self) -> CmpOp {
        *self.pick(&OPS)
    }

    pub fn expr(&mut self, depth: u32) -> Expr {
        if depth == 0 || self.chance(0.4) {
            return BoolExpr::Pred(self.pred());
        }
        match self.rng.random_range(0..5) {
            0 | 1 => BoolExpr::And((0..self.rng.random_range(2..4)).map(|_| self.expr(depth - 1)).collect()),
            2 | 3 => BoolExpr::Or((0..self.rng.random_range(2..4)).map(|_| self.expr(depth - 1)).collect()),
            _ => BoolExpr::Not(Box::new(self.expr(depth - 1))),
        }
    }

    pub fn pred(&mut self) -> Predicate {
        match self.rng.random_range(0..20) {
            0 => Predicate::Tag(name(&self.pick(&self.pool.tags).clone())),
            1 => Predicate::Category(name(&self.pick(&self.pool.categories).clone())),
            2 => Predicate::Segment(name(&self.pick(&self.pool.segments).clone())),
            3 => self.near(),
            4..=11 => Predicate::Cond(self.field_cond()),
            _ => Predicate::Agg(self.agg()),
        }
    }

    fn near(&mut self) -> Predicate {
        let place = if self.chance(0.5) {
            let c = *self.pick(&["Milano", "Roma", "Berlin", "Paris", "Madrid", "Warszawa", "München", "Lyon"]);
            Place::City(name(c))
        } else {
            let (lat, lon) = self.pick(&self.pool.coords).clone();
            Place::Coords { lat: lat.parse().unwrap(), lon: lon.parse().unwrap() }
        };
        let r = *self.pick(&["0.5", "5", "20", "50", "150.5", "400"]);
        let unit = if self.chance(0.7) { DistUnit::Km } else { DistUnit::Mi };
        Predicate::Near { place, radius: r.parse().unwrap(), unit, span: Span::default() }
    }

    /// A text value near the data: an existing one, a prefix of one, or odd.
    fn text_near(&mut self, vals: &[String]) -> String {
        let base = if vals.is_empty() { "x".to_string() } else { self.pick(vals).clone() };
        match self.rng.random_range(0..6) {
            0 => {
                let cut = self.rng.random_range(0..=base.chars().count());
                base.chars().take(cut).collect()
            }
            1 => base.to_uppercase(),
            2 => (*self.pick(&["", "a", "zzz", "%", "_", "o'b", "M"])).to_string(),
            _ => base,
        }
    }

    fn substring(&mut self, vals: &[String]) -> String {
        let base = if vals.is_empty() { "x".to_string() } else { self.pick(vals).clone() };
        let cs: Vec<char> = base.chars().collect();
        if cs.is_empty() {
            return String::new();
        }
        let a = self.rng.random_range(0..cs.len());
        let b = self.rng.random_range(a..=cs.len().min(a + 4));
        cs[a..b].iter().collect()
    }

    fn lits(&mut self, f: impl Fn(&mut Self) -> Lit) -> Vec<Lit> {
        (0..3).map(|_| f(self)).collect()
    }

    fn num_cond(&mut self, f: &str, vals: &[String]) -> Cond {
        let vs = self.lits(|g| {
            if vals.is_empty() || g.chance(0.2) {
                n(g.pick_str(&["0", "1", "-7", "2.5", "18", "35", "100", "45.5"]))
            } else {
                n(&vals[g.rng.random_range(0..vals.len())])
            }
        });
        self.cond_shape(f, vs)
    }

    /// Cmp / In / Between / IsSet with values from `vs` (three of them).
    fn cond_shape(&mut self, f: &str, mut vs: Vec<Lit>) -> Cond {
        let field = name(f);
        match self.rng.random_range(0..5) {
            0 | 1 => Cond::Cmp { field, op: self.op(), value: vs.swap_remove(0) },
            2 => {
                vs.truncate(self.rng.random_range(1..4));
                Cond::In { field, values: vs }
            }
            3 => Cond::Between { field, lo: vs.swap_remove(0), hi: vs.swap_remove(0) },
            _ => Cond::IsSet { field, negated: self.chance(0.5) },
        }
    }

    /// = / != / in / is set with values from `vs` (three of them).
    fn eq_shape(&mut self, f: &str, mut vs: Vec<Lit>) -> Cond {
        let field = name(f);
        match self.rng.random_range(0..4) {
            0 => Cond::Cmp { field, op: CmpOp::Eq, value: vs.swap_remove(0) },
            1 => Cond::Cmp { field, op: CmpOp::Ne, value: vs.swap_remove(0) },
            2 => {
                vs.truncate(self.rng.random_range(1..4));
                Cond::In { field, values: vs }
            }
            _ => Cond::IsSet { field, negated: self.chance(0.5) },
        }
    }

    fn field_cond(&mut self) -> Cond {
        let pool = self.pool;
        match self.rng.random_range(0..16) {
            0 => {
                let vals: Vec<String> = pool.contact["score"].clone();
                self.num_cond("score", &vals)
            }
            1 => {
                let vals: Vec<String> = ["17", "18", "25", "26", "35", "50", "65", "29.5"].map(String::from).to_vec();
                self.num_cond("age", &vals)
            }
            2 => {
                let f = *self.pick(&["rfm.r", "rfm.f", "rfm.m"]);
                let vals: Vec<String> = ["1", "2", "3", "4", "5", "0", "6", "2.5"].map(String::from).to_vec();
                self.num_cond(f, &vals)
            }
            3 => {
                let f = *self.pick(&["lat", "lon"]);
                let vals = pool.contact[f].clone();
                self.num_cond(f, &vals)
            }
            4..=7 => {
                let f = *self.pick(&[
                    "email",
                    "external_id",
                    "timezone",
                    "first_name",
                    "last_name",
                    "phone",
                    "city",
                    "region",
                    "country",
                    "postal_code",
                    "language",
                ]);
                let vals = pool.contact[f].clone();
                self.text_cond(f, &vals)
            }
            8 => {
                let vals: Vec<String> = ["555", "111", "345", "5", "3", "", "55"].map(String::from).to_vec();
                self.text_cond("rfm", &vals)
            }
            9 => {
                let f = *self.pick(&["consent.email", "consent.sms", "consent.push"]);
                let vs = self.lits(|g| Lit::new(Value::Bool(g.rng.random_bool(0.5))));
                self.eq_shape(f, vs)
            }
            10 => {
                let vals = pool.contact["birth_date"].clone();
                let vs = self.lits(|g| {
                    let s = &vals[g.rng.random_range(0..vals.len())];
                    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
                        + chrono::Duration::days(g.rng.random_range(-2..=2));
                    if g.rng.random_bool(0.2) {
                        Lit::new(Value::DateTime(d.and_hms_opt(13, 0, 0).unwrap().and_utc()))
                    } else {
                        Lit::new(Value::Date(d))
                    }
                });
                self.cond_shape("birth_date", vs)
            }
            11 => {
                let vals = pool.contact["created_at"].clone();
                let vs = self.lits(|g| {
                    let s = &vals[g.rng.random_range(0..vals.len())];
                    let t: DateTime<Utc> = s.parse().unwrap();
                    match g.rng.random_range(0..3) {
                        0 => Lit::new(Value::DateTime(t)),
                        1 => Lit::new(Value::DateTime(t + chrono::Duration::seconds(1))),
                        _ => Lit::new(Value::Date(t.date_naive())),
                    }
                });
                self.cond_shape("created_at", vs)
            }
            12..=14 => {
                let (f, names): (&str, &[&str]) = match self.rng.random_range(0..3) {
                    0 => ("gender", &["female", "male", "other", "FEMALE", "nope"]),
                    1 => ("engagement", &["super_active", "moderate", "dormant", "none", "Dormant", "x"]),
                    _ => ("lifecycle", &["prospect", "new", "loyal", "active", "disengaging", "lapsed", "LAPSED"]),
                };
                let vs = self.lits(|g| {
                    let s = names[g.rng.random_range(0..names.len())];
                    if g.rng.random_bool(0.5) && is_ident(s) { Lit::new(Value::Ident(s.to_string())) } else { st(s) }
                });
                self.eq_shape(f, vs)
            }
            _ => {
                let field = name("interests");
                let all = [
                    "yoga", "running", "cycling", "cooking", "travel", "fashion", "tech", "gaming", "books", "outdoor",
                    "yog", "nope",
                ];
                let mut vs = self.lits(|g| st(all[g.rng.random_range(0..all.len())]));
                match self.rng.random_range(0..4) {
                    0 | 1 => Cond::Contains { field, value: vs.swap_remove(0) },
                    2 => {
                        vs.truncate(self.rng.random_range(1..4));
                        Cond::In { field, values: vs }
                    }
                    _ => Cond::IsSet { field, negated: self.chance(0.5) },
                }
            }
        }
    }

    fn text_cond(&mut self, f: &str, vals: &[String]) -> Cond {
        if self.chance(0.2) {
            let s = self.substring(vals);
            return Cond::Contains { field: name(f), value: st(&s) };
        }
        let vs = self.lits(|g| st(&g.text_near(vals)));
        self.cond_shape(f, vs)
    }

    fn date_lit(&mut self) -> DateLit {
        if self.chance(0.4) {
            // a boundary instant of the data, as its date or exactly
            let b = super::fixture::boundary_instants();
            let t = DateTime::<Utc>::from_timestamp(*self.pick(&b), 0).unwrap();
            return if self.chance(0.5) { DateLit::Date(t.date_naive()) } else { DateLit::DateTime(t) };
        }
        let back = self.rng.random_range(-3..800);
        let t =
            DateTime::<Utc>::from_timestamp(self.now - back * 86_400 + self.rng.random_range(-3600..3600), 0).unwrap();
        if self.chance(0.6) { DateLit::Date(t.date_naive()) } else { DateLit::DateTime(t) }
    }

    fn window(&mut self) -> Option<Window> {
        match self.rng.random_range(0..6) {
            0 | 1 => None,
            2 | 3 => {
                let unit = *self.pick(&DurUnit::ALL);
                let nmax = match unit {
                    DurUnit::Hours => 2000,
                    DurUnit::Days => 400,
                    DurUnit::Weeks => 60,
                    DurUnit::Months => 14,
                    DurUnit::Years => 3,
                };
                let n = if self.chance(0.6) {
                    match unit {
                        DurUnit::Hours => *self.pick(&[1, 24, 36, 48]),
                        DurUnit::Days => *self.pick(&[0, 1, 2, 7, 14, 30, 90, 365]),
                        DurUnit::Weeks => *self.pick(&[1, 2]),
                        DurUnit::Months => *self.pick(&[1, 6, 12, 14]),
                        DurUnit::Years => 1,
                    }
                } else {
                    self.rng.random_range(0..=nmax)
                };
                Some(Window::Last { n, unit })
            }
            4 => Some(Window::Since(self.date_lit())),
            _ => {
                let (a, b) = (self.date_lit(), self.date_lit());
                Some(Window::Between(a, b))
            }
        }
    }

    fn agg(&mut self) -> Agg {
        let pool = self.pool;
        let func = *self.pick(&AggFunc::ALL);
        let kinds_with_num: Vec<&(String, Vec<(String, ParamType)>)> =
            pool.kinds.iter().filter(|k| k.1.iter().any(|p| p.1 == ParamType::Number)).collect();
        let (kind, params) = if func.needs_param() || self.chance(0.5) {
            if func.needs_param() { (*self.pick(&kinds_with_num)).clone() } else { self.pick(&pool.kinds[..6]).clone() }
        } else {
            self.pick(&pool.kinds).clone()
        };
        let param = if func.needs_param() {
            let nums: Vec<&(String, ParamType)> = params.iter().filter(|p| p.1 == ParamType::Number).collect();
            Some(self.pick(&nums).0.clone())
        } else {
            None
        };
        let filter = if self.chance(0.45) { Some(Box::new(self.filter(&kind, &params, 2))) } else { None };
        let window = self.window();
        let value = match func {
            AggFunc::Count => n(self.pick_str(&["0", "1", "2", "3", "5", "1.5", "10"])),
            AggFunc::DaysSinceLast | AggFunc::DaysSinceFirst => {
                n(self.pick_str(&["0", "1", "7", "15", "15.5", "30", "90", "180", "365", "400"]))
            }
            AggFunc::Sum if self.chance(0.7) => {
                let s = &pool.sums[&(kind.clone(), param.clone().unwrap())];
                if s.is_empty() { n("100") } else { self.num_text(s) }
            }
            _ => {
                let s = &pool.event[&(kind.clone(), param.clone().unwrap())];
                if s.is_empty() || self.chance(0.1) { n("100") } else { self.num_text(s) }
            }
        };
        Agg { func, kind: name(&kind), param: param.map(|p| name(&p)), filter, window, op: self.op(), value }
    }

    /// A number from text as SQLite printed it, cut to 6 decimals.
    fn num_text(&mut self, s: &[String]) -> Lit {
        let t = self.pick(s).clone();
        let f: f64 = t.parse().unwrap();
        n(format!("{:.6}", f).trim_end_matches('0').trim_end_matches('.'))
    }

    fn filter(&mut self, kind: &str, params: &[(String, ParamType)], depth: u32) -> Filter {
        if depth == 0 || self.chance(0.5) {
            return BoolExpr::Pred(self.filter_cond(kind, params));
        }
        match self.rng.random_range(0..3) {
            0 => BoolExpr::And(vec![self.filter(kind, params, depth - 1), self.filter(kind, params, depth - 1)]),
            1 => BoolExpr::Or(vec![self.filter(kind, params, depth - 1), self.filter(kind, params, depth - 1)]),
            _ => BoolExpr::Not(Box::new(self.filter(kind, params, depth - 1))),
        }
    }

    fn filter_cond(&mut self, kind: &str, params: &[(String, ParamType)]) -> Cond {
        let pool = self.pool;
        let r = self.rng.random_range(0..10);
        if r < 3 || params.is_empty() {
            let srcs = ["paid", "email", "direct", "search", "social", "referral", "PAID", "nope"];
            let vs = self.lits(|g| {
                let s = srcs[g.rng.random_range(0..srcs.len())];
                if g.rng.random_bool(0.5) { Lit::new(Value::Ident(s.into())) } else { st(s) }
            });
            return self.eq_shape("source", vs);
        }
        let (f, ty) = if r < 4 {
            (self.pick(&["utm_source", "utm_medium", "utm_campaign"]).to_string(), ParamType::Text)
        } else {
            self.pick(params).clone()
        };
        let vals = pool.event[&(kind.to_string(), f.clone())].clone();
        match ty {
            ParamType::Number => {
                let vals: Vec<String> = vals.clone();
                self.num_cond(&f, &vals)
            }
            ParamType::Enum(vs) => {
                let lits = self.lits(|g| st(&vs[g.rng.random_range(0..vs.len())]));
                self.eq_shape(&f, lits)
            }
            ParamType::Text => self.text_cond(&f, &vals),
        }
    }
}
