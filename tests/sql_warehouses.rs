//! `segment sql --dialect duckdb|clickhouse` run by the real engines, DuckDB
//! (the `duckdb` wheel) and ClickHouse's own engine (the `chdb` wheel),
//! over the files `reach export` writes, loaded as users load them: with
//! the engine's own type inference, and into the tables `reach export
//! schema` declares. Every query must select exactly the contacts the
//! engine selects (tests/support/warehouse.py runs the queries).
//!
//! Needs `python3 -m pip install duckdb chdb` (scripts/test.sh installs
//! them). Each fixed case is counted at one of the fixture's instants in
//! turn, at all of them with `REACH_WAREHOUSE_ALL_NOWS` set.
//! `REACH_WAREHOUSE_CONTACTS` (default 2000) sets the fixture's
//! size and `REACH_WAREHOUSE_RANDOM` (default 40) the number of random
//! expressions.

#[allow(dead_code)]
mod oracle;

use assert_cmd::Command;
use oracle::cases::{EDGES, SPEC_EXAMPLES};
use oracle::exprs::{Gen, Pool};
use oracle::fixture::{NOWS, build};
use reach::derived::Thresholds;
use reach::export::{ExportFormat, export_contacts, export_events};
use reach::segment::engine::Engine;
use reach::segment::sql::{Dialect, to_sql};
use reach::segment::{BoolExpr, Expr, parse, print};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

const ENGINES: [(&str, Dialect); 2] = [("duckdb", Dialect::Duckdb), ("clickhouse", Dialect::Clickhouse)];
const LOADS: [&str; 4] = ["csv", "csv-ddl", "parquet", "parquet-ddl"];
const BENCH_QUERIES: &str = include_str!("../benches/queries.txt");

fn helper() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/warehouse.py")
}

/// Fails with one line when python3 or a wheel is missing.
fn require_wheels() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import duckdb, chdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "sql_warehouses needs python3 with the duckdb and chdb wheels: python3 -m pip install duckdb chdb");
}

type Ids = Result<BTreeSet<u32>, String>;
type Export = fn(
    &reach::store::Reader,
    &mut dyn std::io::Write,
    ExportFormat,
    Option<&roaring::RoaringBitmap>,
) -> reach::error::Result<u64>;

/// Runs `sqls` in `engine` over the export in `dir` loaded by `load`:
/// each query's ids, and the column types the engine gave the tables.
fn run_engine(engine: &str, load: &str, dir: &Path, sqls: &[String]) -> (Vec<Ids>, String) {
    let qfile = dir.join(format!("queries-{engine}-{load}.json"));
    std::fs::write(&qfile, serde_json::to_vec(sqls).unwrap()).unwrap();
    let out = std::process::Command::new("python3").arg(helper()).args([engine, load]).arg(dir).arg(&qfile).output();
    let out = out.unwrap_or_else(|e| panic!("python3 {}: {e}", helper().display()));
    assert!(out.status.success(), "{engine} over {load}: {}", String::from_utf8_lossy(&out.stderr).trim());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| match r.get("ids") {
            Some(ids) => Ok(ids.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()),
            None => Err(r["error"].as_str().unwrap_or("?").to_string()),
        })
        .collect::<Vec<Ids>>();
    assert_eq!(results.len(), sqls.len());
    (results, v["columns"].to_string())
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
    let v: Vec<String> = ids.iter().take(8).map(|i| i.to_string()).collect();
    format!("{} [{}{}]", ids.len(), v.join(", "), if ids.len() > 8 { ", …" } else { "" })
}

/// One expression at one instant, with what the engine selects.
struct Case {
    expr: Expr,
    now: i64,
    want: Ids,
}

/// The export of the oracle fixture (demo contacts and the hand-made edge
/// cases) in every engine and load, against the engine, for the spec's
/// examples, the edge cases, the benchmark set and random expressions
/// with all their sub-expressions.
#[test]
fn generated_sql_counts_what_the_engine_counts() {
    require_wheels();
    let n = std::env::var("REACH_WAREHOUSE_CONTACTS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let randoms = std::env::var("REACH_WAREHOUSE_RANDOM").ok().and_then(|s| s.parse().ok()).unwrap_or(40u64);
    let t = std::time::Instant::now();
    let f = build(n);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("contacts.csv"), &f.contacts_csv).unwrap();
    std::fs::write(d.join("events.csv"), &f.events_csv).unwrap();
    let r = f.store.begin_read().unwrap();
    for (table, write) in [("contacts", export_contacts as Export), ("events", export_events)] {
        let mut file = std::fs::File::create(d.join(format!("{table}.parquet"))).unwrap();
        write(&r, &mut file, ExportFormat::Parquet, None).unwrap();
    }
    let schema = r.schema().unwrap();
    drop(r);
    for (engine, dialect) in ENGINES {
        std::fs::write(d.join(format!("schema-{engine}.sql")), reach::export::ddl::schema_sql(&schema, dialect))
            .unwrap();
    }
    eprintln!("fixture: {} contacts in {:?}", f.contacts, t.elapsed());

    let mut eng = Engine::new(f.store.begin_read().unwrap(), Thresholds::default()).unwrap();
    let never = AtomicBool::new(false);
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |e: Expr, now: i64, eng: &mut Engine| {
        let want = eng.members(&e, now, &never).map(|m| m.iter().collect()).map_err(|e| e.to_string());
        cases.push(Case { expr: e, now, want });
    };
    let bench = BENCH_QUERIES.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    // each fixed case at one of the instants in turn (all of them with
    // REACH_WAREHOUSE_ALL_NOWS set: five times the engines' work)
    let all_nows = std::env::var_os("REACH_WAREHOUSE_ALL_NOWS").is_some();
    for (i, src) in SPEC_EXAMPLES.iter().copied().chain(EDGES.iter().copied()).chain(bench).enumerate() {
        let e = parse(src).unwrap_or_else(|err| panic!("{src}: {err}"));
        for (k, now) in NOWS.into_iter().enumerate() {
            if all_nows || k == i % NOWS.len() {
                add(e.clone(), now, &mut eng);
            }
        }
    }
    let pool = Pool::new(&f.sqlite.lock().unwrap(), &f.cat);
    for seed in 0..randoms {
        let now = NOWS[seed as usize % NOWS.len()];
        let raw = Gen::new(seed * 7919 + 1, &pool, now).expr(3);
        let e = parse(&print(&raw)).unwrap();
        let mut subs = Vec::new();
        subtrees(&e, &mut subs);
        for s in subs {
            add(s, now, &mut eng);
        }
    }
    eprintln!("{} cases, engine done at {:?}", cases.len(), t.elapsed());

    let mut failures = Vec::new();
    let mut checked = 0;
    for (engine, dialect) in ENGINES {
        let sqls: Vec<Result<String, String>> = cases
            .iter()
            .map(|c| to_sql(&c.expr, dialect, c.now, &f.cat, &Thresholds::default()).map_err(|e| e.to_string()))
            .collect();
        let runnable: Vec<String> = sqls.iter().filter_map(|s| s.as_ref().ok().cloned()).collect();
        for load in LOADS {
            let started = std::time::Instant::now();
            let (got, columns) = run_engine(engine, load, d, &runnable);
            let mut got = got.into_iter();
            let mut bad = Vec::new();
            for (c, sql) in cases.iter().zip(&sqls) {
                let have: Ids = match sql {
                    Ok(_) => got.next().unwrap(),
                    Err(e) => Err(format!("no SQL: {e}")),
                };
                let same = match (&c.want, &have) {
                    (Ok(a), Ok(b)) => a == b,
                    (Err(_), Err(_)) => true,
                    _ => false,
                };
                checked += 1;
                if !same {
                    bad.push((c, sql, have));
                }
            }
            eprintln!(
                "{engine:>10} over {load:<11}: {} queries in {:?}, {} mismatches",
                runnable.len(),
                started.elapsed(),
                bad.len()
            );
            // the smallest mismatching expressions tell most
            bad.sort_by_key(|(c, _, _)| print(&c.expr).len());
            for (c, sql, have) in bad.iter().take(3) {
                let fmt = |r: &Ids| match r {
                    Ok(ids) => show(ids),
                    Err(e) => format!("error: {e}"),
                };
                let (only_engine, only_sql): (Vec<u32>, Vec<u32>) = match (&c.want, have) {
                    (Ok(a), Ok(b)) => {
                        (a.difference(b).take(5).copied().collect(), b.difference(a).take(5).copied().collect())
                    }
                    _ => (vec![], vec![]),
                };
                failures.push(format!(
                    "{engine} over {load} at now={}: {}\nengine: {}\n{engine}: {}\nonly engine: {only_engine:?}\n\
                     only {engine}: {only_sql:?}\ncolumns: {columns}\nSQL:\n{}\n",
                    c.now,
                    print(&c.expr),
                    fmt(&c.want),
                    fmt(have),
                    sql.as_deref().unwrap_or_else(|e| e),
                ));
            }
            if bad.len() > 3 {
                failures.push(format!("… and {} more mismatches of {engine} over {load}", bad.len() - 3));
            }
        }
    }
    eprintln!("{checked} comparisons in {:?}", t.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the comparisons are not vacuous: most cases select someone, not everyone
    let sizes: Vec<usize> = cases.iter().filter_map(|c| c.want.as_ref().ok().map(|s| s.len())).collect();
    let some = sizes.iter().filter(|&&k| k > 0 && (k as u64) < f.contacts).count();
    assert!(some * 2 > sizes.len(), "only {some} of {} cases select some but not all contacts", sizes.len());
}

// ---------- the CLI, as a user runs it ----------

const CLI_NOW: &str = "2026-03-15T12:00:00Z";

fn reach(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("reach").unwrap();
    c.env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("REACH_NOW")
        .arg("--db")
        .arg(dir.join("cli.redb"))
        .arg("--now")
        .arg(CLI_NOW);
    c
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `reach demo`, `reach export`, `reach export schema` and `reach segment
/// sql --dialect D` as a user runs them; the engines' counts are `reach
/// segment count`'s.
#[test]
fn cli_sql_counts_match_segment_count_in_duckdb_and_clickhouse() {
    require_wheels();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(reach(d).args(["demo", "--contacts", "1500", "--seed", "5"]));
    stdout(reach(d).args(["segment", "save", "big_spenders", "sum(purchase.amount) >= 500"]));
    stdout(reach(d).args(["segment", "save", "recent_buyers", "days_since_last(purchase) <= 30"]));
    export_all(d);
    let exprs: Vec<&str> = BENCH_QUERIES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .chain(SPEC_EXAMPLES.iter().copied())
        .collect();
    let (counts, failures) = mismatches(d, &exprs, &[("duckdb", &LOADS), ("clickhouse", &LOADS)]);
    assert!(counts.iter().filter(|&&c| c > 0).count() * 2 > counts.len(), "{counts:?}");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

// ---------- edge cases a user makes with the CLI ----------

/// Writes what a user loads into `d`: the CSV and Parquet exports and the
/// DDL of each engine.
fn export_all(d: &Path) {
    for t in ["contacts", "events"] {
        stdout(reach(d).args(["export", t, "-o"]).arg(d.join(format!("{t}.csv"))));
        stdout(reach(d).args(["export", t, "--format", "parquet", "-o"]).arg(d.join(format!("{t}.parquet"))));
    }
    for (engine, _) in ENGINES {
        let ddl = stdout(reach(d).args(["export", "schema", "--dialect", engine]));
        std::fs::write(d.join(format!("schema-{engine}.sql")), ddl).unwrap();
    }
}

/// `reach segment count` of each expression against the generated SQL run
/// by each engine over each of its loads (and SQLite over the CSV as text):
/// the counts, and one line per mismatch.
fn mismatches(d: &Path, exprs: &[&str], loads: &[(&str, &[&str])]) -> (Vec<u64>, Vec<String>) {
    let counts: Vec<u64> = exprs
        .iter()
        .map(|e| {
            let v: serde_json::Value =
                serde_json::from_str(&stdout(reach(d).args(["segment", "count", e, "--format", "json"]))).unwrap();
            v["count"].as_u64().unwrap()
        })
        .collect();
    let mut failures = Vec::new();
    for (engine, engine_loads) in loads {
        let sqls: Vec<String> =
            exprs.iter().map(|e| stdout(reach(d).args(["segment", "sql", e, "--dialect", engine]))).collect();
        for load in *engine_loads {
            let (got, columns) = run_engine(engine, load, d, &sqls);
            for ((e, want), (have, sql)) in exprs.iter().zip(&counts).zip(got.iter().zip(&sqls)) {
                match have {
                    Ok(ids) if ids.len() as u64 == *want => {}
                    other => failures.push(format!(
                        "{engine} over {load}: {e:?}\nreach: {want}\n{engine}: {:?}\ncolumns: {columns}\n{sql}",
                        other.as_ref().map(|s| s.len())
                    )),
                }
            }
        }
    }
    let conn = oracle::fixture::sqlite_from(
        &std::fs::read(d.join("contacts.csv")).unwrap(),
        &std::fs::read(d.join("events.csv")).unwrap(),
    );
    for (e, want) in exprs.iter().zip(&counts) {
        let sql = stdout(reach(d).args(["segment", "sql", e, "--dialect", "sqlite"]));
        match oracle::fixture::sql_ids(&conn, &sql) {
            Ok(ids) if ids.len() as u64 == *want => {}
            other => failures.push(format!(
                "sqlite: {e:?}\nreach: {want}\nsqlite: {:?}\n{sql}",
                other.map(|s| s.len()).map_err(|e| e.to_string())
            )),
        }
    }
    (counts, failures)
}

/// Text that type inference or a CSV sniffer could take for something
/// else, control characters in expressions, contacts without coordinates,
/// extreme targets: each engine over each load counts what reach counts.
#[test]
fn cli_edge_cases_count_as_reach_does() {
    require_wheels();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(reach(d).args(["demo", "--contacts", "300", "--seed", "3"]));
    std::fs::write(
        d.join("more.csv"),
        "email,note\nq1@example.com,\"q\"\"uote\"\nq2@example.com,\"a,b\"\nq3@example.com,\"a;b\"\n\
         q4@example.com,\"x\ry\"\nq5@example.com,\"x\ny\"\n",
    )
    .unwrap();
    stdout(reach(d).args(["import", "contacts"]).arg(d.join("more.csv")));
    std::fs::write(
        d.join("more-events.csv"),
        "contact,ts,kind,product\nq1@example.com,2026-01-02T10:00:00Z,view,\"q\"\"uote\"\n\
         q2@example.com,2026-01-02T10:00:00Z,view,\"a,b\"\nq3@example.com,2026-01-02T10:00:00Z,view,\"a;b\"\n",
    )
    .unwrap();
    stdout(reach(d).args(["import", "events"]).arg(d.join("more-events.csv")));
    export_all(d);
    let exprs = [
        "tag:vip",
        "email = \"a\rb\" or tag:vip",
        "email = \"a\u{2028}b\" or tag:vip",
        "email = \"a\u{85}b\" or tag:vip",
        "note = \"x\ry\" or note = \"x\ny\"",
        "note in [\"q\\\"uote\", \"a,b\", \"a;b\"]",
        "count(view where product in [\"q\\\"uote\", \"a,b\", \"a;b\"]) >= 1",
        // contacts without coordinates are never near, whatever the radius
        "near(\"Milano\") within 20km",
        "near(\"Milano\") within 20016km",
        "not near(\"Milano\") within 30000km",
        "near(45.4642, 9.19) within 13000mi",
        // avg op v is sum op v·count: no overflow for the largest targets
        "avg(purchase.amount) < 9000000000000",
        "avg(purchase.amount) > -9000000000000",
        "not avg(purchase.amount) = 9000000000000",
        "avg(purchase.amount, last 1y) <= 100000000000",
    ];
    let (_, failures) = mismatches(d, &exprs, &[("duckdb", &LOADS), ("clickhouse", &LOADS)]);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// A database with contacts and no events: DuckDB's `read_csv_auto` makes
/// every column of the header-only events file VARCHAR, and the DDL loads
/// of both engines take a file with no rows. (ClickHouse's own inference,
/// `file('events.csv', CSVWithNames)`, cannot read a header-only file.)
#[test]
fn cli_no_events_counts_as_reach_does() {
    require_wheels();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("people.csv"),
        "email,tags,birth_date\na@example.com,vip,1980-02-03\nb@example.com,,1950-12-31\nc@example.com,vip;x,\n",
    )
    .unwrap();
    stdout(reach(d).args(["import", "contacts"]).arg(d.join("people.csv")));
    export_all(d);
    let exprs = [
        "tag:vip",
        "lifecycle = prospect",
        "lifecycle != new",
        "engagement = none",
        "rfm.r >= 1",
        "count(purchase) = 0",
        "sum(purchase.amount) >= 0",
        "days_since_last(purchase) > 3",
        "not avg(purchase.amount) > 1",
        "age >= 60",
    ];
    let loads: [(&str, &[&str]); 2] = [("duckdb", &LOADS), ("clickhouse", &["csv-ddl", "parquet", "parquet-ddl"])];
    let (_, failures) = mismatches(d, &exprs, &loads);
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
