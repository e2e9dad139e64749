use super::*;
use crate::store::{OpenMode, Store};

fn run(contacts: u64, seed: u64) -> (tempfile::TempDir, Store, DemoSummary) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("demo.redb"), OpenMode::Create).unwrap();
    let opts = DemoOptions { contacts, seed, now: NOW, events_per_contact: 20.0 };
    let mut w = store.begin_write().unwrap();
    let sum = generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
    w.commit().unwrap();
    (dir, store, sum)
}

/// 2026-03-15T12:00:00Z
const NOW: i64 = 1_773_576_000;

#[test]
fn smoke() {
    let (_d, _s, sum) = run(2000, 1);
    eprintln!("{sum:#?}");
    assert_eq!(sum.contacts, 2000);
}
