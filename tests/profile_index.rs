//! A contact's profile reads its events through the per-contact index of
//! event blocks: after a demo, after more events for existing contacts and
//! after an erasure, `contacts show` lists exactly the events a scan of
//! every event finds (`export events --contact`), and the index holds a row
//! for every contact with events naming exactly the blocks that hold them.

mod common;

use common::Env;
use serde_json::Value;
use std::collections::BTreeMap;

/// (ts, kind, source) of one event.
type Row = (String, String, Option<String>);
/// contact → (kind, block id) of its event blocks
type Blocks = BTreeMap<u32, Vec<(u16, u64)>>;

/// (ts, kind, source) of every event of a contact as `export events` finds
/// them (a scan of every block), sorted.
fn exported(env: &Env, id: u32) -> Vec<Row> {
    let key = format!("#{id}");
    let out = env.run(&["export", "events", "--contact", &key, "--format", "jsonl"]).ok();
    let mut rows: Vec<Row> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["contact_id"], id, "{l}");
            (
                v["ts"].as_str().unwrap().into(),
                v["kind"].as_str().unwrap().into(),
                v["source"].as_str().map(String::from),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The events of a contact's profile timeline, sorted like `exported`, and
/// the newest-first order of the timeline checked.
fn shown(env: &Env, id: u32, limit: usize) -> Vec<Row> {
    let key = format!("#{id}");
    let p = env.json(&["contacts", "show", &key, "--limit", &limit.to_string()]);
    let timeline = p["timeline"].as_array().unwrap();
    assert_eq!(p["timeline_total"].as_u64().unwrap() as usize, timeline.len(), "the whole timeline fits in {limit}");
    let ts: Vec<&str> = timeline.iter().map(|e| e["ts"].as_str().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "timeline of {id} not newest first");
    let mut rows: Vec<Row> = timeline
        .iter()
        .filter(|e| e["type"] == "event")
        .map(|e| {
            (
                e["ts"].as_str().unwrap().into(),
                e["kind"].as_str().unwrap().into(),
                e["source"].as_str().map(String::from),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Every contact's events counted from the full export.
fn counts(env: &Env) -> BTreeMap<u32, usize> {
    let mut n = BTreeMap::new();
    for row in env.event_rows() {
        *n.entry(row.split(',').next().unwrap().parse::<u32>().unwrap()).or_insert(0) += 1;
    }
    n
}

/// The index rows (contact → blocks) and what a scan of the blocks says they must be.
fn index_and_scan(env: &Env) -> (Blocks, Blocks) {
    use reach::store::codec::EventBlock;
    use reach::store::tables::{CONTACT_BLOCKS, EVENT_BLOCKS};
    use redb::{ReadableDatabase, ReadableTable};
    let db = redb::ReadOnlyDatabase::open(&env.db).unwrap();
    let tx = db.begin_read().unwrap();
    let mut index = BTreeMap::new();
    for row in tx.open_table(CONTACT_BLOCKS).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        for (c, list) in reach::store::contact_index::decode_row(k.value(), v.value()).unwrap() {
            index.insert(c, list);
        }
    }
    let mut scan: Blocks = BTreeMap::new();
    for row in tx.open_table(EVENT_BLOCKS).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        for c in EventBlock::decode_contacts(v.value()).unwrap().1 {
            let list = scan.entry(c).or_default();
            if list.last() != Some(&k.value()) {
                list.push(k.value());
            }
        }
    }
    (index, scan)
}

/// Checks the profiles of `ids` against the export, and the whole index against the blocks.
#[track_caller]
fn check(env: &Env, ids: &[u32]) {
    let (index, scan) = index_and_scan(env);
    assert_eq!(index, scan, "the index differs from a scan of the blocks");
    for &id in ids {
        let want = exported(env, id);
        assert_eq!(shown(env, id, want.len() + 10), want, "contact {id}");
    }
}

#[test]
fn profiles_read_through_the_index_match_a_scan() {
    let env = Env::new();
    env.run(&["demo", "--contacts", "1500", "--seed", "7"]).ok();
    let n = counts(&env);
    let mut by_count: Vec<(usize, u32)> = n.iter().map(|(&c, &k)| (k, c)).collect();
    by_count.sort();
    let heaviest = by_count.last().unwrap().1;
    let median = by_count[by_count.len() / 2].1;
    let lightest = by_count[0].1;
    assert!(n[&heaviest] > 100, "the demo has a heavy contact ({} events)", n[&heaviest]);
    let quiet = (1..=1500u32).find(|c| !n.contains_key(c));
    let mut ids = vec![heaviest, median, lightest, 1, 750];
    ids.extend(quiet);
    check(&env, &ids);
    if let Some(q) = quiet {
        assert!(exported(&env, q).is_empty());
    }

    // more events for existing contacts, in two imports (two commits, new
    // blocks next to their old ones), one of them for a contact that had none
    let xid = |id: u32| -> String {
        let p = env.json(&["contacts", "show", &format!("#{id}"), "--limit", "1"]);
        p["external_id"].as_str().unwrap().to_string()
    };
    let (m, h) = (xid(median), xid(heaviest));
    let mut csv = String::from("contact,ts,kind,amount,product\n");
    for d in 1..=9 {
        csv.push_str(&format!("{m},2026-11-{d:02}T10:00:00Z,purchase,{d}.50,Extra{d}\n"));
        csv.push_str(&format!("{h},2026-11-{d:02}T11:00:00Z,page_view,,\n"));
    }
    env.import("events", "more1.csv", &csv, &[]).ok();
    let mut csv = String::from("contact,ts,kind\n");
    for d in 10..=12 {
        csv.push_str(&format!("{m},2026-11-{d:02}T12:00:00Z,email_open\n"));
    }
    if let Some(q) = quiet {
        csv.push_str(&format!("{},2026-11-20T12:00:00Z,email_open\n", xid(q)));
    }
    env.import("events", "more2.csv", &csv, &[]).ok();
    let n2 = counts(&env);
    assert_eq!(n2[&median], n[&median] + 12);
    assert_eq!(n2[&heaviest], n[&heaviest] + 9);
    check(&env, &ids);

    // erasure: no index row is left for the contact, the others still match
    env.run(&["contacts", "delete", &format!("#{median}")]).ok();
    assert!(!counts(&env).contains_key(&median), "events of the erased contact are left");
    let (index, _) = index_and_scan(&env);
    assert!(!index.contains_key(&median), "the erased contact keeps an index row");
    ids.retain(|&c| c != median);
    check(&env, &ids);
}
