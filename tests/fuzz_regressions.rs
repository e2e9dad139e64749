//! The fuzz targets' inputs replayed without nightly: every crasher the
//! fuzzer found (tests/fuzz_regressions/TARGET/, kept once fixed) and the
//! committed seeds (fuzz/seeds/TARGET/) go through the same code the
//! target runs (`reach::fuzzing`), which panics on what the fuzzer would
//! have reported. See scripts/fuzz.sh.

use reach::app::{Clock, Session};
use reach::import::What;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The files kept for `target`, seeds and crashers, with their names.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [root.join("fuzz/seeds").join(target), root.join("tests/fuzz_regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no inputs for {target}");
    out
}

/// Runs `f` on each input of `target`, naming the input that panics.
fn replay(target: &str, f: impl Fn(&[u8])) {
    for (path, data) in inputs(target) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&data))).is_err() {
            panic!("{}: panicked (see above)", path.display());
        }
    }
}

fn demo_session() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let store = reach::fuzzing::demo_store(&dir.path().join("fuzz.db")).unwrap();
    (dir, Session::over(Arc::new(store), reach::config::Config::default(), Clock::Fixed(reach::fuzzing::NOW)))
}

#[test]
fn segment() {
    replay("segment", reach::fuzzing::segment);
}

#[test]
fn import_contacts() {
    let (_dir, s) = demo_session();
    replay("import_contacts", |d| reach::fuzzing::import(s.store(), What::Contacts, d));
}

#[test]
fn import_events() {
    let (_dir, s) = demo_session();
    replay("import_events", |d| reach::fuzzing::import(s.store(), What::Events, d));
}

/// The targets' inputs holding `reach::fuzzing::NEXT_FILE` are read as
/// several files of one import (each target has such a seed): every
/// file's rows are imported, an empty file passed over, and a later file
/// that does not match the first is refused by its name.
#[test]
fn fuzz_inputs_of_several_files() {
    use reach::import::{ImportOptions, input::Input};
    let (_dir, s) = demo_session();
    let inputs = |files: &[&str]| -> Vec<Input> {
        files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let reader = Box::new(std::io::Cursor::new(f.as_bytes().to_vec()));
                Input::from_reader(format!("f{i}.csv"), reader, Some(f.len() as u64), None, 1 << 20, "the limit", None)
                    .unwrap()
            })
            .collect()
    };
    let opts = ImportOptions { now: reach::fuzzing::NOW, ..ImportOptions::default() };
    let a = "contact,ts,kind\nk1,2024-11-10T10:00:00Z,visit\n";
    let b = "contact,ts,kind\nk2,2024-11-10T11:00:00Z,visit\nk1,2024-11-10T12:00:00Z,visit\n";
    let r = reach::import::import_files_rolled_back(s.store(), What::Events, inputs(&[a, "", b]), &opts).unwrap();
    assert_eq!((r.rows, r.events, r.contacts_created), (3, 3, 2));
    let c = "contact,kind,ts\nk2,visit,2024-11-10T11:00:00Z\n";
    let e = reach::import::import_files_rolled_back(s.store(), What::Events, inputs(&[a, c]), &opts).unwrap_err();
    assert!(e.message.starts_with("f1.csv: its columns differ from f0.csv's: column 2 is `kind`"), "{}", e.message);
    for target in ["import_events", "import_contacts"] {
        let several = inputs_named(target, "several");
        assert!(
            several.iter().all(|d| d.windows(reach::fuzzing::NEXT_FILE.len()).any(|w| w == reach::fuzzing::NEXT_FILE)),
            "{target}"
        );
        assert!(!several.is_empty(), "{target}: a seed of several files");
    }
}

/// The harness reads a renames line starting `columns=` as the columns
/// of a CSV file without a header (after `text:`, of text with backslash
/// escapes), and each import target has such a seed: its first line is a
/// row.
#[test]
fn fuzz_inputs_without_a_header() {
    let (_dir, s) = demo_session();
    let cases = [
        ("import_events", "headerless", What::Events, 3, false),
        ("import_contacts", "headerless", What::Contacts, 3, false),
        ("import_events", "text", What::Events, 4, true),
    ];
    for (target, prefix, what, rows, text) in cases {
        let seeds = inputs_named(target, prefix);
        assert_eq!(seeds.len(), 1, "{target}: a seed without a header");
        let (opts, file) = reach::fuzzing::import_options(&seeds[0]).unwrap();
        assert!(opts.columns.is_some() && opts.maps.is_empty() && opts.text_format == text, "{target}");
        let reader = Box::new(std::io::Cursor::new(file.to_vec()));
        let input = reach::import::input::Input::from_reader(
            "f.csv".into(),
            reader,
            None,
            opts.format,
            1 << 20,
            "the limit",
            None,
        )
        .unwrap();
        let r = reach::import::import_rolled_back(s.store(), what, input, &opts).unwrap();
        assert_eq!((r.rows, r.rejected), (rows, 1), "{target}: {r:?}");
    }
}

/// The seeds of `target` whose name starts with `prefix`.
fn inputs_named(target: &str, prefix: &str) -> Vec<Vec<u8>> {
    inputs(target)
        .into_iter()
        .filter(|(p, _)| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .map(|(_, d)| d)
        .collect()
}

#[test]
fn import_parquet() {
    let (_dir, s) = demo_session();
    replay("import_parquet", |d| {
        reach::fuzzing::import_parquet(s.store(), What::Events, d);
        reach::fuzzing::import_parquet(s.store(), What::Contacts, d);
    });
}

#[test]
fn campaign_file() {
    let (_dir, s) = demo_session();
    replay("campaign_file", |d| reach::fuzzing::campaign_file(&s, d));
}

#[test]
fn policy_file() {
    replay("policy_file", reach::fuzzing::policy_file);
}

#[test]
fn journey_file() {
    replay("journey_file", reach::fuzzing::journey_file);
}

#[test]
fn config_file() {
    replay("config_file", reach::fuzzing::config_file);
}

#[test]
fn keymap_file() {
    replay("keymap_file", reach::fuzzing::keymap_file);
}

#[test]
fn stored_value() {
    replay("stored_value", reach::fuzzing::stored_value);
}

/// Every value a demo store keeps decodes, reads back the same and agrees
/// with its partial decode; and each cut short or with one byte changed
/// gives an error or a value, never a panic.
#[test]
fn stored_value_of_a_healthy_file_and_damaged_ones() {
    let (_dir, s) = demo_session();
    // a timeline entry shared by many contacts
    let all: roaring::RoaringBitmap = s.store().begin_read().unwrap().contact_ids().unwrap();
    assert!(all.len() >= reach::store::action_groups::MIN_GROUP as u64);
    s.change_tag("seeded", &all, true, "test").unwrap();
    let values = reach::fuzzing::stored_values(s.store()).unwrap();
    let kinds: std::collections::BTreeSet<u8> = values.iter().map(|v| v[0] & 7).collect();
    assert_eq!(kinds.len(), 8, "a value of every decoder: {kinds:?}");
    for v in &values {
        reach::fuzzing::stored_value(v);
        for cut in [1, 2, v.len() / 2, v.len() - 1] {
            reach::fuzzing::stored_value(&v[..cut.max(1)]);
        }
        for at in (1..v.len()).step_by(v.len() / 16 + 1) {
            let mut d = v.clone();
            d[at] ^= 0x5a;
            reach::fuzzing::stored_value(&d);
        }
    }
    // the seeds of the fuzz target: REACH_WRITE_SEEDS=1 cargo test --test fuzz_regressions
    if std::env::var_os("REACH_WRITE_SEEDS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/stored_value");
        std::fs::create_dir_all(&dir).unwrap();
        for (i, v) in values.iter().enumerate() {
            std::fs::write(dir.join(format!("{}-{i:03}", v[0] & 7)), v).unwrap();
        }
    }
}
