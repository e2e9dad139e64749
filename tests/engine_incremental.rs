//! The engine kept current by change notifications gives the same counts as
//! an engine built fresh from the store, after imports, tag changes and
//! erasure.

use reach::derived::Thresholds;
use reach::segment::engine::Engine;
use reach::store::{OpenMode, Store};
use std::sync::atomic::AtomicBool;

const EXPRS: &[&str] = &[
    "tag:vip",
    "tag:fresh",
    "score > 10",
    "city = \"Milano\"",
    "count(purchase) >= 1",
    "sum(purchase.amount) >= 100",
    "count(purchase where product = \"NewThing\") >= 1",
    "engagement = dormant or lifecycle = new",
    "rfm.m >= 4",
    "email contains \"incremental\"",
];

fn counts(e: &mut Engine, now: i64) -> Vec<u64> {
    let never = AtomicBool::new(false);
    EXPRS.iter().map(|s| e.count(&reach::segment::parse(s).unwrap(), now, &never).unwrap()).collect()
}

#[test]
fn applied_changes_match_a_fresh_engine() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.redb");
    let store = Store::open(&db, OpenMode::Create).unwrap();
    let now = reach::cli::parse_now("2026-11-24T12:00:00Z").unwrap();
    {
        let mut w = store.begin_write().unwrap();
        let opts = reach::demo::DemoOptions { contacts: 800, seed: 3, now, events_per_contact: 10.0 };
        reach::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
        w.commit().unwrap();
    }
    let changes = store.subscribe();
    let mut live = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    live.warm().unwrap();
    let before = counts(&mut live, now);

    // an import of contacts and events (new and existing contacts, a new product)
    let contacts = dir.path().join("c.csv");
    std::fs::write(
        &contacts,
        "external_id,email,city,tags\nC0000001,,Milano,fresh\nNEW-1,new1.incremental@example.com,Milano,fresh;vip\n",
    )
    .unwrap();
    let events = dir.path().join("e.csv");
    std::fs::write(
        &events,
        "contact,ts,kind,amount,product\nNEW-1,2026-11-20T10:00:00Z,purchase,120.50,NewThing\nC0000002,2026-11-21T10:00:00Z,purchase,99.99,NewThing\nNEW-2,2026-11-22T10:00:00Z,purchase,5,NewThing\n",
    )
    .unwrap();
    let opts = reach::import::ImportOptions { now, ..Default::default() };
    reach::import::import(&store, reach::import::What::Contacts, contacts.to_str().unwrap(), &opts, &mut |_, _, _| {
        Ok(())
    })
    .unwrap();
    reach::import::import(&store, reach::import::What::Events, events.to_str().unwrap(), &opts, &mut |_, _, _| Ok(()))
        .unwrap();
    // a tag change and an erasure
    {
        let mut w = store.begin_write().unwrap();
        let mut ids = roaring::RoaringBitmap::new();
        ids.insert(5);
        ids.insert(6);
        w.tag_add("fresh", &ids).unwrap();
        let mut gone = roaring::RoaringBitmap::new();
        gone.insert(2);
        gone.insert(7);
        w.delete_contacts(&gone).unwrap();
        w.commit().unwrap();
    }
    let received: Vec<_> = changes.try_iter().collect();
    assert!(!received.is_empty());
    live.apply(&received, store.begin_read().unwrap()).unwrap();
    let after = counts(&mut live, now);
    let mut fresh = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    assert_eq!(after, counts(&mut fresh, now), "live engine drifted from the store");
    assert_ne!(before, after, "the changes should have changed some counts");
}

#[test]
fn a_count_stops_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.redb"), OpenMode::Create).unwrap();
    let now = reach::cli::parse_now("2026-11-24T12:00:00Z").unwrap();
    let mut w = store.begin_write().unwrap();
    let opts = reach::demo::DemoOptions { contacts: 200, seed: 1, now, events_per_contact: 5.0 };
    reach::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
    w.commit().unwrap();
    let mut e = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    let expr = reach::segment::parse("count(page_view, last 30d) >= 1").unwrap();
    let stop = AtomicBool::new(true);
    let err = e.count(&expr, now, &stop).unwrap_err();
    assert_eq!(err.message, "cancelled");
    // a stale count leaves nothing behind: the next one is exact
    let go = AtomicBool::new(false);
    let n = e.count(&expr, now, &go).unwrap();
    let mut fresh = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    assert_eq!(n, fresh.count(&expr, now, &go).unwrap());
}
