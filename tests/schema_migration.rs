//! A database file written by the previous reach (schema version 3, events
//! in blocks filled in arrival order) opened by this one: migrated on open
//! to events filed by time span, answering every question as before.
//!
//! `tests/fixtures/v3_demo.redb` was written by reach at schema version 3
//! (commit f4f816f): `reach demo --contacts 1500 --seed 11 --now 2026-06-01`,
//! then an import of 3,000 time-ordered events of the last two months and
//! the deletion of contacts 5, 17 and 300. The counts, the export's digest
//! and contact 1's profile next to it are what that reach answered.

mod common;

use common::Env;
use std::process::Command;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn count(env: &Env, expr: &str) -> u64 {
    let out = env.run(&["segment", "count", expr, "--now", "2026-06-01", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v["count"].as_u64().expect("a count")
}

fn sorted_export_digest(env: &Env) -> String {
    let mut rows: Vec<String> = env.export("events").lines().map(str::to_string).collect();
    rows.sort();
    let mut text = rows.join("\n");
    text.push('\n');
    let path = env.write("events.sorted", text);
    let out = Command::new("sha256sum").arg(&path).output().expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

/// The row count `reach stats --format csv` gives a table.
fn rows(stats: &str, table: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("table {table},")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no row for table {table}:\n{stats}"))
}

#[test]
fn a_version_3_file_is_migrated_to_time_spans_and_answers_as_before() {
    let env = Env::new();
    std::fs::copy(fixture("v3_demo.redb"), &env.db).expect("copy the fixture");

    let table = env.run(&["stats", "--format", "csv"]).ok();
    assert!(table.contains("event_parts"), "the migration lists blocks by span:\n{table}");
    assert_eq!(rows(&table, "event_blocks"), rows(&table, "event_parts"), "every block listed under its span once");
    assert!(rows(&table, "contact_summaries") > 0, "the migration sums up each contact's events:\n{table}");

    let want = std::fs::read_to_string(fixture("v3_demo_counts.tsv")).expect("counts");
    for line in want.lines() {
        let (n, expr) = line.split_once('\t').expect("count<TAB>expression");
        assert_eq!(count(&env, expr), n.parse::<u64>().unwrap(), "{expr}");
    }
    let digest = std::fs::read_to_string(fixture("v3_demo_events.sha256")).expect("digest");
    assert_eq!(sorted_export_digest(&env), digest.trim(), "the same events, every value kept");
    let profile = env.run(&["contacts", "show", "1", "--now", "2026-06-01"]).ok();
    assert_eq!(profile, std::fs::read_to_string(fixture("v3_demo_contact1.txt")).unwrap(), "contact 1's profile");
    // the keys, moved into buckets (schema 7), still find their contacts
    for key in ["C0000001", "Sophie.Koch1@example.de"] {
        assert_eq!(env.run(&["contacts", "show", key, "--now", "2026-06-01"]).ok(), profile, "found by {key}");
    }
    assert!(rows(&table, "contact_external_ids") > 0 && !table.contains("contacts_by_email"), "{table}");
    // the records, moved into rows of 64 ids (schema 8): ids 1..=1500 in 24 rows, the export
    // as the schema-7 build (commit 2e4d8a8) wrote it from this file
    assert_eq!(rows(&table, "contact_records"), 24, "{table}");
    assert!(!table.contains("table contacts,"), "the table of a row per contact is gone:\n{table}");
    let contacts = env.export("contacts");
    assert_eq!(contacts.lines().count(), 1 + 1497, "1,500 contacts less the 3 deleted");
    let out = Command::new("sha256sum").arg(env.write("contacts.csv", contacts)).output().expect("sha256sum");
    let digest = std::fs::read_to_string(fixture("v3_demo_contacts.sha256")).expect("digest");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).split_whitespace().next(),
        Some(digest.trim()),
        "every record kept"
    );

    // the migrated file takes new events and erasures like a new one
    let before = count(&env, "count(page_view, last 14d) >= 1");
    env.import(
        "events",
        "more.csv",
        "contact_id,ts,kind,url\n2,2026-05-30T10:00:00Z,page_view,https://shop.example/p/9\n",
        &[],
    )
    .ok();
    let with_2 = count(&env, "count(page_view, last 14d) >= 1");
    env.run(&["contacts", "delete", "2", "--no-compact"]).ok();
    let without_2 = count(&env, "count(page_view, last 14d) >= 1");
    assert!(with_2 >= before && without_2 < with_2, "{before} -> {with_2} -> {without_2}");
    let table = env.run(&["stats", "--format", "csv"]).ok();
    assert_eq!(
        rows(&table, "event_blocks"),
        rows(&table, "event_parts"),
        "blocks and their list stay in step:\n{table}"
    );
}
