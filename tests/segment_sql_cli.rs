//! `reach segment sql EXPR --dialect sqlite` prints SQL that runs in SQLite
//! over the files `reach export` writes and gives `reach segment count`'s number.

#[allow(dead_code)]
mod oracle;

use assert_cmd::Command;
use oracle::fixture::{add_math, load_csv, sql_ids};

const NOW: &str = "2026-03-15T12:00:00Z";

fn reach(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("reach").unwrap();
    c.env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("REACH_NOW")
        .arg("--db")
        .arg(dir.join("cli.redb"))
        .arg("--now")
        .arg(NOW);
    c
}

fn stdout(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sqlite_sql_over_exports_gives_segment_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stdout(reach(d).args(["demo", "--contacts", "600"]));
    stdout(reach(d).args(["segment", "save", "big_spenders", "sum(purchase.amount) >= 500"]));
    let (c, e) = (d.join("contacts.csv"), d.join("events.csv"));
    stdout(reach(d).args(["export", "contacts", "-o"]).arg(&c));
    stdout(reach(d).args(["export", "events", "-o"]).arg(&e));
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    add_math(&conn);
    load_csv(&conn, "contacts", &std::fs::read(&c).unwrap());
    load_csv(&conn, "events", &std::fs::read(&e).unwrap());
    for expr in [
        "tag:vip and not tag:churned",
        "age between 18 and 35 and near(\"Milano\") within 20km",
        "count(purchase where source = paid) >= 1 and count(purchase where source != paid) = 0",
        "engagement = dormant or lifecycle in [\"disengaging\", \"lapsed\"]",
        "rfm.r >= 4 and not segment:big_spenders",
        "days_since_last(purchase) > 90 and sum(purchase.amount, last 1y) > 150",
    ] {
        let sql = stdout(reach(d).args(["segment", "sql", expr, "--dialect", "sqlite"]));
        let json = stdout(reach(d).args(["segment", "count", expr, "--format", "json"]));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let want = v["count"].as_u64().unwrap();
        let got = sql_ids(&conn, &sql).unwrap_or_else(|err| panic!("{expr}: {err}\n{sql}")).len() as u64;
        assert_eq!(got, want, "{expr}\n{sql}");
    }
    // every dialect prints something
    for dialect in ["duckdb", "postgres", "clickhouse"] {
        let sql = stdout(reach(d).args(["segment", "sql", "sum(purchase.amount) > 100", "--dialect", dialect]));
        assert!(sql.contains("SELECT c.\"id\" AS \"id\""), "{dialect}: {sql}");
    }
}

/// Names the exported tables would hold twice for the SQL engines that
/// compare quoted identifiers ignoring case (DuckDB, SQLite), and many-of
/// values that the `;`-joined export would split: refused, exit 2.
#[test]
fn ambiguous_columns_and_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let refused = |args: &[&str], want: &str| {
        let out = reach(d).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    };
    stdout(reach(d).args(["schema", "add-attribute", "hobby", "text"]));
    for name in ["Email", "City", "Score", "ID", "Tags", "HOBBY"] {
        refused(&["schema", "add-attribute", name, "text"], name);
    }
    for name in ["Kind", "TS", "Source", "Amount"] {
        refused(&["schema", "add-param", "purchase", name, "text"], name);
    }
    refused(&["schema", "add-attribute", "hob2", "many-of", "--values", "x;y,z"], "x;y");
    // an import that would declare `Hobby` next to `hobby` maps it to `hobby`
    std::fs::write(d.join("c.csv"), "email,Hobby\na@example.com,chess\n").unwrap();
    stdout(reach(d).args(["import", "contacts"]).arg(d.join("c.csv")));
    let show = stdout(reach(d).args(["schema", "show"]));
    assert!(!show.contains("Hobby"), "{show}");
}
