//! The store under hostile conditions: files written by other programs or
//! by a newer reach, a second process, kill -9 during an import, and
//! erasure that leaves nothing behind.

mod common;

use common::{Env, wait_until};
use redb::{ReadableDatabase, TableDefinition};
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn seeded() -> Env {
    let env = Env::new();
    env.import("contacts", "base.csv", "external_id,email\nc1,c1@example.com\nc2,c2@example.com\n", &[]).ok();
    env
}

/// Every read and write command must refuse the file with exit 2 and `expected` in the message, leaving it untouched.
#[track_caller]
fn refused_everywhere(env: &Env, expected: &str) {
    let before = std::fs::read(&env.db).unwrap();
    env.write("c.csv", "external_id\nz1\n");
    for args in [
        &["contacts", "list"][..],
        &["export", "contacts"],
        &["export", "events"],
        &["tags", "list"],
        &["import", "contacts", "c.csv"],
        &["contacts", "show", "z1"],
    ] {
        let err = env.run(args).fails(2);
        let first = err.lines().next().unwrap_or("");
        assert!(first.starts_with("error: ") && first.contains(expected), "{args:?}: {err}");
        assert!(first.contains("reach.redb"), "the message names the file: {err}");
    }
    assert!(std::fs::read(&env.db).unwrap() == before, "a refused file was modified");
}

#[test]
fn random_bytes_are_not_a_database() {
    let env = Env::new();
    let mut bytes = vec![0u8; 64 * 1024];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&env.db, &bytes).unwrap();
    refused_everywhere(&env, "not a reach database (the file was written by another program)");
    // a file that merely starts like redb's magic is still refused cleanly
    let mut fake = b"redb".to_vec();
    fake.extend_from_slice(&bytes[..4096]);
    std::fs::write(&env.db, &fake).unwrap();
    refused_everywhere(&env, "not a reach database (the file was written by another program)");
}

#[test]
fn a_redb_file_of_another_program_is_refused() {
    let env = Env::new();
    {
        let db = redb::Database::create(&env.db).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let users: TableDefinition<&str, u64> = TableDefinition::new("users");
            tx.open_table(users).unwrap().insert("alice", 1).unwrap();
        }
        tx.commit().unwrap();
    }
    refused_everywhere(&env, "not a reach database (its tables were written by another program)");
}

#[test]
fn a_redb_file_with_a_foreign_meta_table_is_refused() {
    let env = Env::new();
    {
        let db = redb::Database::create(&env.db).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(META).unwrap().insert("format", b"someone-else".as_slice()).unwrap();
        tx.commit().unwrap();
    }
    refused_everywhere(&env, "not a reach database (written by another program)");
}

#[test]
fn a_newer_schema_version_is_refused() {
    let env = seeded();
    {
        let db = redb::Database::open(&env.db).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(META).unwrap().insert("schema_version", 99u32.to_le_bytes().as_slice()).unwrap();
        tx.commit().unwrap();
    }
    let expected = format!(
        "written by a newer reach (schema version 99, this one reads up to {}); upgrade reach",
        reach::store::SCHEMA_VERSION
    );
    refused_everywhere(&env, &expected);
    // and the file still says 99: nothing downgraded it
    let db = redb::Database::open(&env.db).unwrap();
    let tx = db.begin_read().unwrap();
    let v = tx.open_table(META).unwrap().get("schema_version").unwrap().unwrap().value().to_vec();
    assert_eq!(v, 99u32.to_le_bytes());
}

/// A running `reach import events -` holds the database while it waits for
/// stdin; a second command is refused at once with exit 3 and the pid.
#[test]
fn a_second_process_gets_exit_3_with_the_pid() {
    let env = seeded();
    let mut holder = env
        .cmd(&["import", "events", "-", "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = holder.id();
    let lock = env.path("reach.redb.lock");
    assert!(
        wait_until(Duration::from_secs(20), || std::fs::read_to_string(&lock)
            .is_ok_and(|s| s.trim() == pid.to_string())),
        "the importer never took the lock"
    );
    for args in [&["contacts", "list"][..], &["export", "events"], &["import", "contacts", "base.csv"]] {
        let started = Instant::now();
        let err = env.run(args).fails(3);
        assert!(started.elapsed() < Duration::from_secs(2), "{args:?} took {:?}", started.elapsed());
        assert!(err.contains(&format!("database in use (pid {pid})")), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
    // let the holder finish normally
    let mut stdin = holder.stdin.take().unwrap();
    stdin.write_all(b"contact,ts,kind\nc1,2026-01-01T00:00:00Z,page_view\n").unwrap();
    drop(stdin);
    let out = holder.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.event_rows().len(), 1);
}

/// `rows` purchase events over `contacts` keys, one line each.
fn events_csv(rows: usize, contacts: usize) -> Vec<u8> {
    let mut s = String::with_capacity(rows * 64);
    s.push_str("contact,ts,kind,amount,product\n");
    for i in 0..rows {
        let c = i % contacts;
        s.push_str(&format!(
            "k{c:05},2026-{:02}-{:02}T{:02}:{:02}:00Z,purchase,{}.{:02},p{}\n",
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60,
            i % 500,
            i % 100,
            i % 997
        ));
    }
    s.into_bytes()
}

fn kill9(child: &mut std::process::Child) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    let status = child.wait().unwrap();
    assert!(!status.success());
}

/// After a crash the database opens normally and still holds its earlier data.
fn check_after_crash(env: &Env, baseline_contacts: &str) -> usize {
    let contacts = env.export("contacts");
    let events = env.event_rows().len();
    // a later import still works on the reopened file
    env.import("contacts", "after.csv", "external_id\nafter1\n", &[]).ok();
    assert!(env.export("contacts").contains("after1"));
    if events == 0 {
        assert_eq!(contacts, baseline_contacts, "contacts changed although no event was kept");
    }
    events
}

/// Whether redb itself had to run its crash recovery on a copy of the file (informational).
fn redb_needed_repair(env: &Env) -> bool {
    let copy = env.path("copy.redb");
    std::fs::copy(&env.db, &copy).unwrap();
    let repaired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = repaired.clone();
    let db = redb::Builder::new()
        .set_repair_callback(move |_| flag.store(true, std::sync::atomic::Ordering::Relaxed))
        .open(&copy)
        .expect("redb opens the crashed file");
    drop(db);
    std::fs::remove_file(&copy).unwrap();
    repaired.load(std::sync::atomic::Ordering::Relaxed)
}

/// kill -9 while an import reads stdin (half the data written, no EOF yet):
/// the database opens and holds none of that import.
#[test]
fn kill_9_during_a_stdin_import_keeps_none_of_it() {
    let env = seeded();
    let baseline = env.export("contacts");
    let data = events_csv(300_000, 20_000);
    let half = data.len() / 2;
    let mut child = env
        .cmd(&["import", "events", "-", "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // returns once the importer has read all but a pipe buffer of it
    stdin.write_all(&data[..half]).unwrap();
    kill9(&mut child);
    drop(stdin);
    eprintln!("stdin crash: redb recovery ran: {}", redb_needed_repair(&env));
    assert_eq!(check_after_crash(&env, &baseline), 0, "a killed import left events behind");
}

/// kill -9 in the middle of a file import: none or all of it.
#[test]
fn kill_9_during_a_file_import_keeps_none_or_all() {
    let env = seeded();
    let baseline = env.export("contacts");
    let rows = 300_000;
    let data = events_csv(rows, 20_000);
    let total = data.len() as u64;
    std::fs::write(env.path("big.csv"), &data).unwrap();
    let mut child =
        env.cmd(&["import", "events", "big.csv"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let io = format!("/proc/{}/io", child.id());
    // read past a third of the input, or finished
    let read_enough = || {
        std::fs::read_to_string(&io)
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("rchar: ").and_then(|v| v.trim().parse::<u64>().ok())))
            .is_some_and(|n| n > total / 3)
    };
    let mut finished = false;
    assert!(
        wait_until(Duration::from_secs(120), || {
            finished = matches!(child.try_wait(), Ok(Some(_)));
            finished || read_enough()
        }),
        "the import made no progress"
    );
    if !finished {
        kill9(&mut child);
    }
    eprintln!("file crash: finished before kill: {finished}; redb recovery ran: {}", redb_needed_repair(&env));
    let n = check_after_crash(&env, &baseline);
    assert!(n == 0 || n == rows, "after kill -9 the database holds {n} of {rows} events");
    if finished {
        assert_eq!(n, rows);
    }
}

/// `contacts delete` erases the contact, its events, its timeline and its
/// keys, and dictionary values only its events used leave the file itself.
#[test]
fn erasure_leaves_no_trace() {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,tags\nerase-me-8812,zqx.forget@example.com,Zqxforgetname,vip\nkeep-1,keep@example.com,Kim,vip\n",
        &[],
    )
    .ok();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,amount,product,utm_campaign\n\
         erase-me-8812,2026-01-01T00:00:00Z,purchase,1.00,ZqxUniqueProduct,ZqxUniqueCampaign\n\
         erase-me-8812,2026-01-02T00:00:00Z,purchase,2.00,SharedProduct,\n\
         keep-1,2026-01-02T00:00:00Z,purchase,3.00,SharedProduct,\n",
        &[],
    )
    .ok();
    let raw = std::fs::read(&env.db).unwrap();
    let has = |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has(&raw, "ZqxUniqueProduct"), "precondition: the value is in the file");
    let before = text_in_tables(&env.db, &["ZqxUniqueProduct", "erase-me-8812", "Zqxforgetname"]);
    for (t, n) in [
        ("dict_chunks", "ZqxUniqueProduct"),
        ("contact_external_ids", "erase-me-8812"),
        ("contact_columns", "Zqxforgetname"),
    ] {
        assert!(before.contains(&(t.to_string(), n)), "precondition: the scan sees {n} in {t}: {before:?}");
    }
    let id = env.contact("erase-me-8812")["id"].clone();
    let keep = env.contact("keep-1")["id"].clone();
    let ids = |ids: &[&String]| -> Vec<u32> { ids.iter().map(|i| i.parse().unwrap()).collect() };
    assert_eq!(indexed_contacts(&env.db), ids(&[&id, &keep]), "precondition: both are in the index");

    let out = env.json(&["contacts", "delete", "zqx.forget@example.com"]);
    assert_eq!(out["deleted"], 1);

    let events = env.event_rows();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events.iter().all(|r| !r.starts_with(&format!("{id},"))));
    assert!(!env.export("contacts").contains("erase-me-8812"));
    for key in [id.as_str(), "erase-me-8812", "zqx.forget@example.com"] {
        let err = env.run(&["contacts", "show", key]).fails(2);
        assert_eq!(err.lines().next(), Some(format!("error: no such contact: {key}").as_str()));
    }
    assert_eq!(env.json(&["tags", "list"]), serde_json::json!([{"tag": "vip", "count": 1}]));
    // the kept contact's data is intact
    assert!(env.export("events").contains("SharedProduct"));

    let needles = ["ZqxUniqueProduct", "ZqxUniqueCampaign", "erase-me-8812", "zqx.forget@example.com", "Zqxforgetname"];
    assert_eq!(indexed_contacts(&env.db), ids(&[&keep]), "the erased contact is still in the index of event blocks");
    let left = text_in_tables(&env.db, &needles);
    assert!(left.is_empty(), "still in a table: {left:?}");
    // redb does not zero freed pages, so `contacts delete` compacts the file
    // afterwards: the erased values are gone from the raw bytes too.
    let raw = std::fs::read(&env.db).unwrap();
    let stale: Vec<&str> = needles.into_iter().filter(|n| has(&raw, n)).collect();
    assert!(stale.is_empty(), "erased values still in the raw file: {stale:?}");
    // the key can be used again by a new contact
    env.import("contacts", "again.csv", "external_id\nerase-me-8812\n", &[]).ok();
}

/// The contacts with an entry in the per-contact index of event blocks.
fn indexed_contacts(db: &std::path::Path) -> Vec<u32> {
    use redb::ReadableTable;
    let db = redb::ReadOnlyDatabase::open(db).unwrap();
    let tx = db.begin_read().unwrap();
    let t = tx.open_table(reach::store::tables::CONTACT_BLOCKS).unwrap();
    let mut ids = Vec::new();
    for row in t.iter().unwrap() {
        let (k, v) = row.unwrap();
        for (c, _) in reach::store::contact_index::decode_row(k.value(), v.value()).unwrap() {
            ids.push(c);
        }
    }
    ids
}

/// Which of `needles` occur in any key or value of any table of the database
/// (read with redb directly); fails on a table this test does not know.
fn text_in_tables(db: &std::path::Path, needles: &[&'static str]) -> Vec<(String, &'static str)> {
    use reach::store::tables::*;
    use redb::{ReadableTable, TableHandle};
    let db = redb::ReadOnlyDatabase::open(db).unwrap();
    let tx = db.begin_read().unwrap();
    let mut texts: Vec<(String, Vec<u8>)> = Vec::new();
    macro_rules! scan {
        ($def:expr, |$k:ident, $v:ident| $bytes:expr) => {{
            let t = tx.open_table($def).unwrap();
            for row in t.iter().unwrap() {
                let (k, v) = row.unwrap();
                let ($k, $v) = (k.value(), v.value());
                texts.push(($def.name().to_string(), $bytes));
            }
        }};
    }
    scan!(META, |k, v| [k.as_bytes(), v].concat());
    scan!(SCHEMA, |k, v| [k.as_bytes(), v].concat());
    scan!(CONTACT_RECORDS, |_k, v| v.to_vec());
    // the records' fields as columns: emails, names, cities
    scan!(CONTACT_COLUMNS, |_k, v| v.to_vec());
    scan!(EMAIL_KEYS, |_k, v| v.to_vec());
    scan!(EXTERNAL_ID_KEYS, |_k, v| v.to_vec());
    scan!(TAGS, |k, v| [k.as_bytes(), v].concat());
    scan!(CATEGORY_TREE, |k, v| [k.as_bytes(), v.as_bytes()].concat());
    scan!(CATEGORY_MEMBERS, |k, v| [k.as_bytes(), v].concat());
    scan!(DICT_CHUNKS, |_k, v| v.to_vec());
    scan!(EVENT_BLOCKS, |_k, v| v.to_vec());
    scan!(CONTACT_BLOCKS, |_k, v| v.to_vec()); // numbers only: checked by `indexed_contacts`
    scan!(ACTIONS, |_k, v| v.to_vec());
    scan!(ACTION_GROUPS, |_k, v| v.to_vec());
    scan!(SEGMENTS, |k, v| [k.as_bytes(), v].concat());
    scan!(SEGMENT_HISTORY, |k, _v| k.0.as_bytes().to_vec());
    scan!(CAMPAIGNS, |k, v| [k.as_bytes(), v].concat());
    scan!(SETTINGS, |k, v| [k.as_bytes(), v].concat());
    scan!(DELIVERIES, |k, v| [k.1.as_bytes(), v].concat());
    scan!(JOURNEYS, |k, v| [k.as_bytes(), v].concat());
    scan!(ENROLLMENTS, |k, v| [k.0.as_bytes(), v].concat());
    scan!(JOURNEY_TIMERS, |k, _v| k.1.as_bytes().to_vec());
    scan!(JOURNEY_STEPS, |k, v| [k.0.as_bytes(), v].concat());
    scan!(AUDIT, |_k, v| v.to_vec());
    scan!(PROMO_CODES, |k, v| [k.as_bytes(), v].concat());
    let known: std::collections::BTreeSet<&str> = [
        META.name(),
        SCHEMA.name(),
        CONTACT_RECORDS.name(),
        CONTACT_COLUMNS.name(),
        EMAIL_KEYS.name(),
        EXTERNAL_ID_KEYS.name(),
        TAGS.name(),
        CATEGORY_TREE.name(),
        CATEGORY_MEMBERS.name(),
        DICT_CHUNKS.name(),
        EVENT_BLOCKS.name(),
        // numbers only: kind, span, block id and the block's first and last instants
        EVENT_PARTS.name(),
        // numbers only: counts, instants and parameter totals per contact
        CONTACT_SUMMARIES.name(),
        CONTACT_BLOCKS.name(),
        ACTIONS.name(),
        ACTION_GROUPS.name(),
        SEGMENTS.name(),
        SEGMENT_HISTORY.name(),
        CAMPAIGNS.name(),
        SETTINGS.name(),
        DELIVERIES.name(),
        JOURNEYS.name(),
        ENROLLMENTS.name(),
        JOURNEY_TIMERS.name(),
        JOURNEY_STEPS.name(),
        AUDIT.name(),
        PROMO_CODES.name(),
    ]
    .into();
    for t in tx.list_tables().unwrap() {
        assert!(known.contains(t.name()), "table `{}` is not scanned by this test", t.name());
    }
    let mut out = Vec::new();
    for (table, bytes) in &texts {
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                out.push((table.clone(), *n));
            }
        }
    }
    out
}
