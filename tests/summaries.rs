//! Lifetime criteria without a filter are answered from the store's
//! per-contact summaries, without reading an event block; they must count
//! exactly what the same criteria count from the events (written here with
//! a window that covers all time, which reads the blocks): after the demo,
//! after an import in time order with new contacts, after an erasure, and
//! with sums beyond 64 bits. Events after `now` are not in a lifetime
//! criterion: the engine then counts from the events.

use reach::derived::Thresholds;
use reach::segment::engine::Engine;
use reach::store::{OpenMode, Store};
use std::sync::atomic::AtomicBool;

/// (lifetime criterion, the same over a window of all time)
const PAIRS: &[(&str, &str)] = &[
    ("count(page_view) >= 1", "count(page_view, since 1900-01-01) >= 1"),
    ("count(purchase) >= 3", "count(purchase, since 1900-01-01) >= 3"),
    ("count(email_sent) = 0", "count(email_sent, since 1900-01-01) = 0"),
    ("sum(purchase.amount) > 200", "sum(purchase.amount, since 1900-01-01) > 200"),
    ("sum(purchase.amount) > 9000000000000", "sum(purchase.amount, since 1900-01-01) > 9000000000000"),
    ("avg(purchase.amount) > 40", "avg(purchase.amount, since 1900-01-01) > 40"),
    ("min(purchase.amount) < 20", "min(purchase.amount, since 1900-01-01) < 20"),
    ("max(purchase.amount) >= 100", "max(purchase.amount, since 1900-01-01) >= 100"),
    ("days_since_last(email_open) > 30", "days_since_last(email_open, since 1900-01-01) > 30"),
    ("days_since_first(purchase) < 200", "days_since_first(purchase, since 1900-01-01) < 200"),
];

fn count(store: &Store, expr: &str, now: i64) -> (u64, usize) {
    let never = AtomicBool::new(false);
    let mut e = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    let n = e.count(&reach::segment::parse(expr).unwrap(), now, &never).unwrap();
    (n, e.events_read().0)
}

/// Checks every pair; `from_summaries`: the lifetime side must read no block.
fn check(store: &Store, now: i64, from_summaries: bool, step: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for (lifetime, windowed) in PAIRS {
        let (a, blocks) = count(store, lifetime, now);
        let (b, _) = count(store, windowed, now);
        assert_eq!(a, b, "{step}: `{lifetime}` counts {a}, `{windowed}` counts {b}");
        if from_summaries {
            assert_eq!(blocks, 0, "{step}: `{lifetime}` read {blocks} event blocks");
        }
        out.push(a);
    }
    out
}

#[test]
fn lifetime_criteria_from_summaries_match_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.redb"), OpenMode::Create).unwrap();
    let now = reach::cli::parse_now("2026-11-24T12:00:00Z").unwrap();
    {
        let mut w = store.begin_write().unwrap();
        let opts = reach::demo::DemoOptions { contacts: 1500, seed: 11, now, events_per_contact: 20.0 };
        reach::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
        w.commit().unwrap();
    }
    let demo = check(&store, now, true, "demo");
    assert!(demo.iter().filter(|&&n| n > 0).count() >= 8, "most criteria match someone: {demo:?}");

    // a log in time order, contacts interleaved, new ones among them, and
    // purchases whose sum does not fit in 64 bits
    let mut log = String::from("contact,ts,kind,amount,product\n");
    for i in 0..600 {
        let contact = if i % 3 == 0 { format!("NEW-{}", i % 40) } else { format!("C{:07}", 1 + (i * 7) % 1500) };
        let kind = ["purchase", "page_view", "email_open"][i % 3];
        let amount = if kind == "purchase" { format!("{}.{:02}", 5 + i % 190, i % 100) } else { String::new() };
        log.push_str(&format!("{contact},2026-11-{:02}T{:02}:00:00Z,{kind},{amount},P{}\n", 1 + i / 30, i % 24, i % 9));
    }
    log.push_str("C0000009,2026-11-23T10:00:00Z,purchase,9000000000000,Big\n");
    log.push_str("C0000009,2026-11-23T11:00:00Z,purchase,9000000000000,Big\n");
    // and one in the upper half of the ids (the summaries are read on two threads, split in the middle)
    log.push_str("C0001400,2026-11-23T10:00:00Z,purchase,9000000000000,Big\n");
    log.push_str("C0001400,2026-11-23T11:00:00Z,purchase,9000000000000,Big\n");
    let events = dir.path().join("e.csv");
    std::fs::write(&events, log).unwrap();
    let opts = reach::import::ImportOptions { now, ..Default::default() };
    reach::import::import(&store, reach::import::What::Events, events.to_str().unwrap(), &opts, &mut |_, _, _| Ok(()))
        .unwrap();
    let imported = check(&store, now, true, "after the import");
    assert_ne!(demo, imported, "the import changes some counts");
    assert_eq!(count(&store, "sum(purchase.amount) > 9000000000000", now).0, 2, "the 128-bit sums");

    // an erasure removes the contacts' summaries with their events
    {
        let mut w = store.begin_write().unwrap();
        let gone: roaring::RoaringBitmap = [9u32, 10, 11, 1500].into_iter().collect();
        w.delete_contacts(&gone).unwrap();
        w.commit().unwrap();
    }
    let erased = check(&store, now, true, "after the erasure");
    // nothing about them is left in the summaries (an erasure erases)
    let r = store.begin_read().unwrap();
    let mut left = Vec::new();
    for kind in 0..r.schema().unwrap().kinds.len() as u16 {
        r.for_each_summary(kind, true, |s| {
            if [9, 10, 11, 1500].contains(&s.contact) {
                left.push((kind, s.contact));
            }
            Ok(())
        })
        .unwrap();
    }
    assert!(left.is_empty(), "summaries of erased contacts: {left:?}");
    assert_eq!(count(&store, "sum(purchase.amount) > 9000000000000", now).0, 1, "contact 1400's");
    assert_ne!(imported, erased);

    // an event after now: lifetime criteria at now leave it out (from the
    // events), and count it once now is past it (from the summaries)
    let later = dir.path().join("later.csv");
    std::fs::write(&later, "contact,ts,kind,amount\nC0000100,2026-12-25T10:00:00Z,purchase,1000\n").unwrap();
    reach::import::import(&store, reach::import::What::Events, later.to_str().unwrap(), &opts, &mut |_, _, _| Ok(()))
        .unwrap();
    assert_eq!(check(&store, now, false, "with an event after now"), erased);
    let after = reach::cli::parse_now("2026-12-26T00:00:00Z").unwrap();
    check(&store, after, true, "after that event");
}
