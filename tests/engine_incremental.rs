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
    "count(purchase, last 14d) >= 1",
    "count(page_view, last 30d) >= 2",
    "count(purchase, between 2025-05-01 and 2025-07-31) >= 1",
    // filters: compiled over the whole dictionary in a warm engine, over the
    // values of the blocks read in a fresh one
    "count(page_view where category != \"running\", last 30d) >= 1",
    "count(purchase where manufacturer in [\"Acme\", \"Kuchnia\"]) >= 1",
    "count(page_view where url contains \"/p/1\" and source = email) >= 1",
    "count(purchase where product > \"M\" and utm_source is set, last 1y) >= 1",
    "count(email_open where campaign contains \"newsletter\", last 60d) >= 2",
];

/// A demo database in a temporary folder (kept while the folder is), and
/// the demo's now.
fn demo(contacts: u64, seed: u64, events_per_contact: f64) -> (tempfile::TempDir, Store, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.redb"), OpenMode::Create).unwrap();
    let now = reach::cli::parse_now("2026-11-24T12:00:00Z").unwrap();
    let mut w = store.begin_write().unwrap();
    let opts = reach::demo::DemoOptions { contacts, seed, now, events_per_contact };
    reach::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
    w.commit().unwrap();
    (dir, store, now)
}

fn counts(e: &mut Engine, now: i64) -> Vec<u64> {
    let never = AtomicBool::new(false);
    EXPRS.iter().map(|s| e.count(&reach::segment::parse(s).unwrap(), now, &never).unwrap()).collect()
}

#[test]
fn applied_changes_match_a_fresh_engine() {
    changes_match_a_fresh_engine(true);
}

/// An engine that read only the time spans of one windowed count follows
/// changes to spans it read and to spans it did not.
#[test]
fn an_engine_that_read_a_few_time_spans_follows_changes() {
    changes_match_a_fresh_engine(false);
}

fn changes_match_a_fresh_engine(warm: bool) {
    let (dir, store, now) = demo(800, 3, 10.0);
    let changes = store.subscribe();
    let mut live = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    if warm {
        live.warm().unwrap();
    } else {
        let never = AtomicBool::new(false);
        live.count(&reach::segment::parse("count(purchase, last 14d) >= 1").unwrap(), now, &never).unwrap();
    }
    let before = if warm {
        counts(&mut live, now)
    } else {
        counts(&mut Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap(), now)
    };

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
        "contact,ts,kind,amount,product\nNEW-1,2026-11-20T10:00:00Z,purchase,120.50,NewThing\nC0000002,2026-11-21T10:00:00Z,purchase,99.99,NewThing\nNEW-2,2026-11-22T10:00:00Z,purchase,5,NewThing\nC0000003,2025-06-01T10:00:00Z,purchase,50,OldThing\n",
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

/// A count over the last 14 days reads the blocks of the spans those days
/// touch (about 12 days each), not the kind's whole history.
#[test]
fn a_windowed_count_reads_only_its_time_spans() {
    let (_dir, store, now) = demo(3000, 4, 20.0);
    let never = AtomicBool::new(false);
    let expr = reach::segment::parse("count(page_view, last 14d) >= 1").unwrap();
    let mut e = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    let n = e.count(&expr, now, &never).unwrap();
    let (blocks, events) = e.events_read();
    let mut all = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    // every span (a lifetime count would read none: it has the summaries)
    all.count(&reach::segment::parse("count(page_view, since 1900-01-01) >= 1").unwrap(), now, &never).unwrap();
    let (all_blocks, all_events) = all.events_read();
    assert!(n > 0 && blocks > 0);
    assert!(blocks <= 3 * 2, "at most the 2 or 3 spans of 14 days (a block or two each): {blocks} blocks");
    assert!(
        events * 10 < all_events,
        "{events} events read of {all_events} page views ({blocks} of {all_blocks} blocks)"
    );
    // the same count from every block
    assert_eq!(n, all.count(&expr, now, &never).unwrap());
}

/// A windowed count decodes the times of the blocks its window cuts only:
/// one engine counting window after window (each cutting blocks an
/// earlier one read whole, without times), then first and last event
/// times, gives what a warm engine (every block with its times) gives.
#[test]
fn windows_that_cut_blocks_read_without_times() {
    let (_dir, store, now) = demo(2_000, 6, 20.0);
    let never = AtomicBool::new(false);
    let mut warm = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    warm.warm().unwrap();
    let mut live = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    for src in [
        "count(page_view, last 60d) >= 1",
        // empty windows over blocks read without times: a later day
        // before an earlier one, a day to come
        "count(page_view, between 2026-10-25 and 2026-10-24) = 0",
        "count(page_view, since 2027-01-01) = 0",
        "count(page_view, last 20d) >= 2",
        "count(page_view, last 33d) >= 1 and count(page_view, last 5d) = 0",
        "count(page_view, between 2026-10-03 and 2026-10-29) >= 1",
        "count(page_view where source = email, last 47d) >= 1",
        "sum(purchase.amount, last 90d) > 100 and count(purchase, last 17d) >= 1",
        "days_since_last(page_view where source = email) > 3",
        "days_since_first(purchase where source = paid) < 200",
        "count(page_view, last 9d) >= 1",
        "days_since_last(purchase, last 40d) < 20",
    ] {
        let e = reach::segment::parse(src).unwrap();
        let want = warm.count(&e, now, &never).unwrap();
        assert!(want > 0, "{src} counts someone");
        assert_eq!(live.count(&e, now, &never).unwrap(), want, "{src}");
    }
}

#[test]
fn a_count_stops_when_cancelled() {
    let (_dir, store, now) = demo(200, 1, 5.0);
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

/// Edits that tighten and loosen an AND's first criterion, counted one
/// after another on one engine (which keeps the values of every
/// aggregate, and answers a narrow count with a wider one it kept), give
/// what a fresh engine gives for each.
#[test]
fn edits_of_an_and_match_a_fresh_engine() {
    let (_dir, store, now) = demo(2_000, 5, 16.0);
    let never = AtomicBool::new(false);
    let mut live = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    for first in ["= 1", ">= 1", ">= 2", ">= 3", ">= 2", ">= 4", "= 0", ">= 1"] {
        for later in [
            "sum(purchase.amount where manufacturer = \"Acme\", last 6mo) > 30",
            "sum(purchase.amount, last 1y) <= 150",
            "count(page_view, last 30d) = 0",
            "count(page_view where source = email, last 60d) >= 2",
            "max(purchase.amount, last 1y) >= 50",
            "days_since_last(email_open) > 10",
        ] {
            let src = format!("count(purchase where source = paid) {first} and not tag:vip and {later}");
            let e = reach::segment::parse(&src).unwrap();
            let mut fresh = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
            let want = fresh.count(&e, now, &never).unwrap();
            assert_eq!(live.count(&e, now, &never).unwrap(), want, "{src}");
        }
    }
}

/// An engine without the dictionary compiles a filter over the values of
/// the blocks it read: once a longer window reads older blocks holding a
/// value the recent ones lack, the same filter is compiled again over
/// them (and, after events arrive, over the new blocks, with values new
/// to the store).
#[test]
fn a_filter_follows_the_blocks_read() {
    let (dir, store, now) = demo(500, 8, 10.0);
    let import = |name: &str, body: &str| {
        let f = dir.path().join(name);
        std::fs::write(&f, body).unwrap();
        let opts = reach::import::ImportOptions { now, ..Default::default() };
        reach::import::import(&store, reach::import::What::Events, f.to_str().unwrap(), &opts, &mut |_, _, _| Ok(()))
            .unwrap();
    };
    // one purchase of a product sold only long ago
    import("old.csv", "contact,ts,kind,amount,product\nC0000003,2024-03-01T10:00:00Z,purchase,50,Vintage\n");
    let never = AtomicBool::new(false);
    let count = |e: &mut Engine, src: &str| e.count(&reach::segment::parse(src).unwrap(), now, &never).unwrap();
    let (recent, since) = (
        "count(purchase where product = \"Vintage\", last 30d) >= 1",
        "count(purchase where product = \"Vintage\", since 2020-01-01) >= 1",
    );
    let mut e = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    assert_eq!(count(&mut e, recent), 0);
    assert_eq!(count(&mut e, since), 1, "the older blocks hold the value");
    // a new purchase of it, applied as a change
    let changes = store.subscribe();
    import(
        "new.csv",
        "contact,ts,kind,amount,product\nC0000004,2026-11-23T10:00:00Z,purchase,60,Vintage\n\
         C0000005,2026-11-23T11:00:00Z,purchase,70,Brandnew\n",
    );
    let received: Vec<_> = changes.try_iter().collect();
    e.apply(&received, store.begin_read().unwrap()).unwrap();
    assert_eq!(count(&mut e, recent), 1);
    assert_eq!(count(&mut e, since), 2);
    // a value new to the store, arrived with the change
    assert_eq!(count(&mut e, "count(purchase where product = \"Brandnew\", last 30d) >= 1"), 1);
}

/// Windowed sums reaching the last event, on an engine that holds every
/// block and the lifetime sums (which computes them as the lifetime less
/// the events before the window, when those are fewer), equal a fresh
/// engine's (which sums the window's events), before and after events
/// arrive, old and new.
#[test]
fn recent_sums_from_the_lifetime_match_a_fresh_engine() {
    let (dir, store, now) = demo(2_000, 9, 16.0);
    let never = AtomicBool::new(false);
    let mut live = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    live.warm().unwrap();
    let check = |live: &mut Engine| {
        for window in [
            "sum(purchase.amount, last 1y) > 150",
            "sum(purchase.amount, last 18mo) > 0",
            "avg(purchase.amount, last 1y) >= 60",
            "sum(purchase.amount, last 2y) <= 40",
            "sum(purchase.amount, since 2025-06-01) >= 100",
            "sum(purchase.amount, last 7d) > 0",
        ] {
            // the lifetime sums first, as a console that counted them holds
            let src = format!("sum(purchase.amount) >= 0 and {window}");
            let e = reach::segment::parse(&src).unwrap();
            let mut fresh = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
            let want = fresh.count(&reach::segment::parse(window).unwrap(), now, &never).unwrap();
            assert!(want > 0, "{window} matches someone");
            assert_eq!(live.count(&e, now, &never).unwrap(), want, "{src}");
        }
    };
    check(&mut live);
    let changes = store.subscribe();
    let f = dir.path().join("more.csv");
    std::fs::write(
        &f,
        "contact,ts,kind,amount\nC0000003,2024-03-01T10:00:00Z,purchase,5000\nC0000004,2026-11-23T10:00:00Z,purchase,7000\n",
    )
    .unwrap();
    let opts = reach::import::ImportOptions { now, ..Default::default() };
    reach::import::import(&store, reach::import::What::Events, f.to_str().unwrap(), &opts, &mut |_, _, _| Ok(()))
        .unwrap();
    let received: Vec<_> = changes.try_iter().collect();
    live.apply(&received, store.begin_read().unwrap()).unwrap();
    check(&mut live);
}
