//! The segment engine against SQLite: `segment sql` of random expressions
//! over the CSV exports of a generated database must select exactly the
//! contacts the engine selects.
//!
//! `REACH_ORACLE_CONTACTS` (default 2000) sets the demo size and
//! `PROPTEST_CASES` (default 256) the number of random expressions.

#[allow(dead_code)]
mod oracle;

use oracle::cases::{EDGES, SPEC_EXAMPLES};
use oracle::exprs::{Gen, Pool};
use oracle::fixture::{Fixture, NOW, NOWS, build, sql_ids};
use proptest::prelude::*;
use reach::derived::Thresholds;
use reach::segment::engine::Engine;
use reach::segment::sql::{Dialect, to_sql};
use reach::segment::{BoolExpr, Expr, check, parse, print};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

static FIXTURE: OnceLock<Fixture> = OnceLock::new();
static POOL: OnceLock<Pool> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let n = std::env::var("REACH_ORACLE_CONTACTS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
        let t = std::time::Instant::now();
        let f = build(n);
        eprintln!("oracle fixture: {} contacts in {:?}", f.contacts, t.elapsed());
        f
    })
}

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let f = fixture();
        Pool::new(&f.sqlite.lock().unwrap(), &f.cat)
    })
}

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn engine_ids(e: &Expr, now: i64) -> Result<BTreeSet<u32>, String> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Engine::new(fixture().store.begin_read().unwrap(), Thresholds::default()).unwrap());
        }
        let eng = slot.as_mut().unwrap();
        let never = AtomicBool::new(false);
        let m = eng.members(e, now, &never).map_err(|e| e.to_string())?;
        let c = eng.count(e, now, &never).map_err(|e| e.to_string())?;
        assert_eq!(c, m.len(), "count and members disagree for {}", print(e));
        Ok(m.iter().collect())
    })
}

fn sqlite_ids(e: &Expr, now: i64) -> (String, Result<BTreeSet<u32>, String>) {
    let f = fixture();
    match to_sql(e, Dialect::Sqlite, now, &f.cat, &Thresholds::default()) {
        Err(err) => (String::new(), Err(err.to_string())),
        Ok(sql) => {
            let r = sql_ids(&f.sqlite.lock().unwrap(), &sql).map_err(|e| format!("sqlite: {e}"));
            (sql, r)
        }
    }
}

fn subtrees(e: &Expr, out: &mut Vec<Expr>) {
    out.push(e.clone());
    match e {
        BoolExpr::And(xs) | BoolExpr::Or(xs) => xs.iter().for_each(|x| subtrees(x, out)),
        BoolExpr::Not(x) => subtrees(x, out),
        BoolExpr::Pred(_) => {}
    }
}

fn show(ids: &BTreeSet<u32>) -> String {
    let v: Vec<String> = ids.iter().take(10).map(|i| i.to_string()).collect();
    format!("{} [{}{}]", ids.len(), v.join(", "), if ids.len() > 10 { ", …" } else { "" })
}

/// Compares engine and SQLite on `e`; on a mismatch, reports the smallest
/// mismatching sub-expression with its SQL and both results.
fn compare(e: &Expr, now: i64) -> Result<u64, String> {
    let a = engine_ids(e, now);
    let (sql, b) = sqlite_ids(e, now);
    match (&a, &b) {
        (Ok(x), Ok(y)) if x == y => return Ok(x.len() as u64),
        (Err(_), Err(_)) => return Ok(0),
        _ => {}
    }
    let mut subs = Vec::new();
    subtrees(e, &mut subs);
    subs.sort_by_key(|s| print(s).len());
    for s in &subs {
        let a2 = engine_ids(s, now);
        let (sql2, b2) = sqlite_ids(s, now);
        let same = match (&a2, &b2) {
            (Ok(x), Ok(y)) => x == y,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !same {
            let fmt = |r: &Result<BTreeSet<u32>, String>| match r {
                Ok(ids) => show(ids),
                Err(e) => format!("error: {e}"),
            };
            let only_engine: Vec<u32> = match (&a2, &b2) {
                (Ok(x), Ok(y)) => x.difference(y).take(5).copied().collect(),
                _ => vec![],
            };
            let only_sql: Vec<u32> = match (&a2, &b2) {
                (Ok(x), Ok(y)) => y.difference(x).take(5).copied().collect(),
                _ => vec![],
            };
            return Err(format!(
                "mismatch at now={now}\nexpression: {}\nsmallest mismatching part: {}\nengine: {}\nsqlite: {}\n\
                 only engine: {only_engine:?}\nonly sqlite: {only_sql:?}\nSQL:\n{sql2}\n",
                print(e),
                print(s),
                fmt(&a2),
                fmt(&b2),
            ));
        }
    }
    Err(format!("mismatch at now={now} on {} but no part differs\nSQL:\n{sql}", print(e)))
}

#[test]
fn spec_examples_and_edge_cases() {
    let f = fixture();
    let t = std::time::Instant::now();
    let mut failures = Vec::new();
    for src in SPEC_EXAMPLES {
        let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
        check(&e, src, &f.cat).unwrap_or_else(|err| panic!("{src}: {err}"));
    }
    // the edge cases include expressions the checker refuses (wrong-case
    // enum values …): the engine still gives them a meaning, and so must SQL
    for src in SPEC_EXAMPLES.iter().chain(EDGES) {
        let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
        for now in NOWS {
            match compare(&e, now) {
                Ok(n) if now == NOW => eprintln!("{n:>6}  {src}"),
                Ok(_) => {}
                Err(m) => failures.push(m),
            }
        }
    }
    eprintln!("fixed cases in {:?}", t.elapsed());
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_expressions_match_sqlite(seed in any::<u64>(), which in 0usize..NOWS.len()) {
        let f = fixture();
        let mut g = Gen::new(seed, pool(), NOWS[which]);
        let raw = g.expr(3);
        let src = print(&raw);
        let e = parse(&src).map_err(|err| TestCaseError::fail(format!("{src}: {err}")))?;
        // expressions the checker refuses (e.g. `gender = "FEMALE"`) are
        // compared too: the engine gives them a meaning, and so must SQL
        let _ = check(&e, &src, &f.cat);
        // every sub-expression too, so that an `and`/`or` cannot mask a wrong leaf
        let mut subs = Vec::new();
        subtrees(&e, &mut subs);
        for s in subs.iter().skip(1) {
            compare(s, NOWS[which]).map_err(TestCaseError::fail)?;
        }
        let n = compare(&e, NOWS[which]).map_err(TestCaseError::fail)?;
        if std::env::var_os("REACH_ORACLE_VERBOSE").is_some() {
            let err = engine_ids(&e, NOWS[which]).err().unwrap_or_default();
            eprintln!("{n:>6} {err} {src}");
        }
    }
}

/// Counts each expression of `seq`, in order, through one long-lived
/// engine at `now`: each equals a fresh engine's and SQLite's.
fn one_engine_in_order(seq: &[&str], now: i64) {
    let f = fixture();
    let never = AtomicBool::new(false);
    let mut long = Engine::new(f.store.begin_read().unwrap(), Thresholds::default()).unwrap();
    for src in seq {
        let e = parse(src).unwrap();
        let mut fresh = Engine::new(f.store.begin_read().unwrap(), Thresholds::default()).unwrap();
        let want = fresh.members(&e, now, &never).unwrap();
        let got = long.members(&e, now, &never).unwrap();
        assert_eq!(got.iter().collect::<Vec<_>>(), want.iter().collect::<Vec<_>>(), "{src} at {now}");
        let sql = sqlite_ids(&e, now).1.unwrap();
        assert_eq!(sql, got.iter().collect::<BTreeSet<u32>>(), "{src} at {now} against SQLite");
    }
}

/// A long-lived engine decodes event blocks with the columns its queries
/// named so far; a query naming another column reads them again with it.
/// Each count here, from one engine in this order, equals a fresh engine's.
#[test]
fn columns_read_later_give_the_same_counts() {
    let seq = [
        "count(purchase, last 1y) >= 1",
        "sum(purchase.amount, last 1y) > 100",
        "count(purchase where source = paid, last 1y) >= 1",
        "sum(purchase.amount where manufacturer = \"Acme\", last 1y) > 50",
        "count(page_view, last 30d) >= 2",
        "count(page_view where utm_source = \"newsletter\" or category = \"running\") >= 1",
        "count(purchase) >= 1 and max(purchase.amount, last 2y) > 200",
    ];
    one_engine_in_order(&seq, NOW);
}

/// A long-lived engine reads from the summaries only the lifetime measures
/// each expression names (a count, a first or last time, one parameter's
/// measure), so later expressions find some measures known and read the
/// others in passes of their own. Each count here, from one engine in this
/// order, equals a fresh engine's and SQLite's.
#[test]
fn lifetime_measures_read_later_give_the_same_counts() {
    let seq = [
        "days_since_last(purchase) > 30",
        "count(purchase) >= 2",
        "lifecycle = lapsed or lifecycle = loyal",
        "min(purchase.amount) < 20 and max(purchase.amount) > 100",
        "rfm.m >= 4 and rfm.r <= 2",
        "days_since_first(purchase) < 200 and avg(purchase.amount) > 50",
        "count(page_view) >= 1 and days_since_last(page_view) > 10",
        "engagement = dormant or sum(purchase.amount) > 300",
        "count(purchase) >= 3 and lifecycle = active and rfm.f >= 2",
    ];
    // the fixture's events run to its `NOW` and past it: a later now has
    // them all before it, so lifetime measures come from the summaries
    for now in NOWS.into_iter().chain([NOW + 400 * 86_400]) {
        one_engine_in_order(&seq, now);
    }
}
