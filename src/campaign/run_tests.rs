//! The scheduler core's progress reports: what a front end is told while a
//! campaign's recipients are decided and its messages delivered.

use super::*;
use crate::campaign::model::{Audience, Schedule};
use crate::store::OpenMode;
use std::cell::RefCell;

/// 2026-11-24T12:00:00Z, a Tuesday noon (no quiet hours in the demo's zones)
const NOW: Ts = 1_795_521_600;

/// A demo store of `contacts` with one SMS campaign to everyone due at NOW.
fn store_with_campaign(dir: &std::path::Path, contacts: u64) -> Store {
    let store = Store::open(&dir.join("demo.redb"), OpenMode::Create).unwrap();
    let mut w = store.begin_write().unwrap();
    let opts = crate::demo::DemoOptions { contacts, seed: 7, now: NOW, events_per_contact: 2.0 };
    crate::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
    w.put_campaign(&Campaign {
        name: "everyone".into(),
        channel: Channel::Sms,
        priority: Priority::Normal,
        status: Status::Scheduled,
        subject: String::new(),
        body: "Hi {{ first_name }}".into(),
        audience: Audience { include: vec!["score >= 0".into()], exclude: vec![] },
        schedule: Schedule {
            at: Some(NOW),
            every: None,
            time: None,
            timezone: None,
            local_time: false,
            once_per_contact: false,
        },
        created_at: NOW - 3600,
        updated_at: NOW - 3600,
        cursor: None,
        runs: vec![],
        error: None,
    })
    .unwrap();
    w.commit().unwrap();
    store
}

/// Every report, unthrottled: the first when the recipients are known,
/// one every PROGRESS_STRIDE decisions, one as the (single) chunk is
/// written, then the delivering step batch by batch up to every message
/// decided `sent`; counts never go back.
#[test]
fn a_run_reports_its_decisions_and_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_campaign(dir.path(), 3000);
    let seen = RefCell::new(Vec::<Progress>::new());
    let mut s = Scheduler::open(&store, Thresholds::default(), NOW, Some(&DeliveryConfig::default())).unwrap();
    s.on_progress(Duration::ZERO, |p| seen.borrow_mut().push(p.clone()));
    s.step(NOW).unwrap();
    let totals = s.totals.clone();
    drop(s);
    let seen = seen.into_inner();
    assert!(totals.decided > 2 * PROGRESS_STRIDE && totals.sent > BATCH_FIRST as u64, "{totals:?}");

    let first = &seen[0];
    assert_eq!((first.phase, first.decided, first.due), (Phase::Deciding, 0, totals.decided), "{first:?}");
    assert!(seen.iter().all(|p| p.campaign == "everyone" && p.due == totals.decided), "{seen:?}");
    let deciding: Vec<u64> =
        seen.iter().filter(|p| p.phase == Phase::Deciding && p.decided > 0).map(|p| p.decided).collect();
    let strides: Vec<u64> = (1..=totals.decided / PROGRESS_STRIDE).map(|k| k * PROGRESS_STRIDE).collect();
    assert_eq!(deciding, strides, "a report every {PROGRESS_STRIDE} decisions");
    let phases: Vec<Phase> = seen.iter().map(|p| p.phase).collect();
    let recording = phases.iter().position(|&p| p == Phase::Recording).expect("a recording report");
    assert!(phases[..recording].iter().all(|&p| p == Phase::Deciding), "{phases:?}");
    assert!(phases[recording + 1..].iter().all(|&p| p == Phase::Delivering), "{phases:?}");
    assert_eq!((seen[recording].decided, seen[recording].sends), (totals.decided, 0));
    for w in seen.windows(2) {
        assert!(w[1].decided >= w[0].decided && w[1].delivered >= w[0].delivered, "went back: {w:?}");
    }
    let delivering: Vec<&Progress> = seen.iter().filter(|p| p.phase == Phase::Delivering).collect();
    assert!(delivering.len() >= 3, "the start and at least two batches: {delivering:?}");
    assert_eq!(delivering[0].delivered, 0);
    assert!(delivering.iter().all(|p| p.decided == totals.decided && p.sends == totals.sent), "{delivering:?}");
    let last = seen.last().unwrap();
    assert_eq!((last.phase, last.delivered, last.sends), (Phase::Delivering, totals.sent, totals.sent), "{last:?}");
    // what was reported delivered is in the outbox
    let lines = std::fs::read_to_string(store.outbox_dir().join("sms.jsonl")).unwrap().lines().count();
    assert_eq!(lines as u64, totals.sent);
}

/// Throttled: within the interval only the reports starting a step are
/// made (the recipients known, the chunk written, its messages delivered);
/// without a listener nothing is reported and the run is the same.
#[test]
fn reports_are_throttled_and_optional() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_campaign(dir.path(), 3000);
    let seen = RefCell::new(Vec::<Progress>::new());
    let mut s = Scheduler::open(&store, Thresholds::default(), NOW, Some(&DeliveryConfig::default())).unwrap();
    s.on_progress(Duration::from_secs(3600), |p| seen.borrow_mut().push(p.clone()));
    s.step(NOW).unwrap();
    let with = s.totals.clone();
    drop(s);
    let seen = seen.into_inner();
    let steps: Vec<(Phase, u64, u64, u64)> = seen.iter().map(|p| (p.phase, p.decided, p.delivered, p.sends)).collect();
    let d = with.decided;
    assert_eq!(
        steps,
        vec![(Phase::Deciding, 0, 0, 0), (Phase::Recording, d, 0, 0), (Phase::Delivering, d, 0, with.sent)]
    );

    let dir = tempfile::tempdir().unwrap();
    let store = store_with_campaign(dir.path(), 3000);
    let mut s = Scheduler::open(&store, Thresholds::default(), NOW, Some(&DeliveryConfig::default())).unwrap();
    s.step(NOW).unwrap();
    let without = Totals { decide_ms: with.decide_ms, deliver_ms: with.deliver_ms, ..s.totals.clone() };
    assert_eq!(without, with);
}

/// Batches aim at BATCH_TIME, within their bounds, growing at most fourfold.
#[test]
fn delivery_batches_follow_the_adapters_speed() {
    let ms = Duration::from_millis;
    assert_eq!(next_batch(64, ms(1)), 256, "fast: grows, fourfold at most");
    assert_eq!(next_batch(40_000, ms(1)), BATCH_MAX);
    assert_eq!(next_batch(1000, BATCH_TIME), 1000, "on time: the same");
    assert_eq!(next_batch(1000, BATCH_TIME * 2), 500, "slow: shrinks");
    assert_eq!(next_batch(64, Duration::from_secs(60)), BATCH_MIN, "very slow: the least");
    assert_eq!(next_batch(64, Duration::ZERO), 256);
}
