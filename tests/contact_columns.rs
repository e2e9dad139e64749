//! The store keeps every contact field as a column next to the records
//! (`store::contact_columns`), and the engine reads criteria on fields from
//! the columns only. Here the columns must hold exactly what the records
//! hold, field by field and contact by contact, after each kind of write:
//! the demo, an import that changes some contacts and adds others, a field
//! declared later, erasures in several rows of 4,096 contacts; and counts
//! over the columns must match counts made by reading the records.

use reach::derived::Thresholds;
use reach::model::Schema;
use reach::model::attribute::AttrValue;
use reach::model::contact::Contact;
use reach::segment::engine::Engine;
use reach::store::contact_columns::{CHUNK, Col, Field, NONE};
use reach::store::{OpenMode, Reader, Store};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

/// What the records say a field holds, written independently of the store's code.
#[derive(Debug, PartialEq)]
enum Value {
    Number(i64),
    Text(String),
    Set(Vec<u16>),
}

fn from_record(f: Field, c: &Contact) -> Option<Value> {
    match f {
        Field::Score => Some(Value::Number(c.score)),
        Field::CreatedAt => Some(Value::Number(c.created_at)),
        Field::Email => c.email.as_deref().map(|s| Value::Text(s.to_string())),
        Field::ExternalId => c.external_id.as_deref().map(|s| Value::Text(s.to_string())),
        Field::Timezone => c.timezone.as_deref().map(|s| Value::Text(s.to_string())),
        Field::Consent(ch) => c.consent[ch as usize].map(|x| Value::Number(x.opted_in as i64)),
        Field::Attr(i) => match c.attr(i)? {
            AttrValue::Number(d) => Some(Value::Number(d.units())),
            AttrValue::Text(s) => Some(Value::Text(s.to_string())),
            AttrValue::Bool(b) => Some(Value::Number(*b as i64)),
            AttrValue::Date(d) => Some(Value::Number(*d as i64)),
            AttrValue::Enum(e) => Some(Value::Number(*e as i64)),
            AttrValue::Set(v) => Some(Value::Set(v.clone())),
        },
    }
}

fn from_column(col: &Col, slot: usize) -> Option<Value> {
    match col {
        Col::Numbers(v) => (v[slot] != NONE).then_some(Value::Number(v[slot])),
        Col::Texts(t) => t.get(slot).map(|s| Value::Text(s.to_string())),
        Col::Sets(s) => (!s[slot].is_empty()).then(|| Value::Set(s[slot].clone())),
    }
}

/// Every field of every id: the columns against the records. Returns how
/// many values were compared.
fn check(r: &Reader, step: &str) -> usize {
    let schema: Schema = r.schema().unwrap();
    let mut records: BTreeMap<u32, Contact> = BTreeMap::new();
    let ids: Vec<u32> = r.contact_ids().unwrap().iter().collect();
    for (id, c) in ids.iter().zip(r.contacts(&ids).unwrap()) {
        records.insert(*id, c.expect("listed contact has a record"));
    }
    let max = ids.last().copied().unwrap_or(0) + CHUNK;
    let mut compared = 0;
    for f in Field::all(&schema) {
        let mut stored: BTreeMap<u32, Value> = BTreeMap::new();
        r.for_each_column_row(f, |first, col| {
            for slot in 0..CHUNK as usize {
                if let Some(v) = from_column(&col, slot) {
                    stored.insert(first + slot as u32, v);
                }
            }
        })
        .unwrap();
        for id in 0..max {
            let want = records.get(&id).and_then(|c| from_record(f, c));
            let got = stored.remove(&id);
            assert_eq!(got, want, "{step}: field {f:?} of contact {id}");
            compared += want.is_some() as usize;
        }
        assert!(stored.is_empty(), "{step}: field {f:?} has values beyond the contacts: {stored:?}");
    }
    compared
}

/// Counts from the columns (the engine) against counts made by reading
/// every record and applying the criterion by hand.
fn check_counts(store: &Store, now: i64, step: &str) {
    let r = store.begin_read().unwrap();
    let schema = r.schema().unwrap();
    let mut e = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    let never = AtomicBool::new(false);
    let count = |e: &mut Engine, s: &str| e.count(&reach::segment::parse(s).unwrap(), now, &never).unwrap();
    let ids: Vec<u32> = r.contact_ids().unwrap().iter().collect();
    let all: Vec<Contact> = r.contacts(&ids).unwrap().into_iter().flatten().collect();
    let city = schema.attr("city").unwrap().0;
    let by_hand =
        |name: &str| all.iter().filter(|c| matches!(c.attr(city), Some(AttrValue::Text(s)) if s == name)).count();
    assert_eq!(count(&mut e, "city = \"Milano\"") as usize, by_hand("Milano"), "{step}: city");
    assert_eq!(count(&mut e, "city = \"Torino\"") as usize, by_hand("Torino"), "{step}: city");
    let with_email = all.iter().filter(|c| c.email.is_some()).count();
    assert_eq!(count(&mut e, "email is set") as usize, with_email, "{step}: email");
    let high = all.iter().filter(|c| c.score > 10).count();
    assert_eq!(count(&mut e, "score > 10") as usize, high, "{step}: score");
}

#[test]
fn columns_hold_what_the_records_hold_after_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.redb"), OpenMode::Create).unwrap();
    let now = reach::cli::parse_now("2026-11-24T12:00:00Z").unwrap();
    {
        let mut w = store.begin_write().unwrap();
        // three rows of 4,096 contacts, the last one partly filled
        let opts = reach::demo::DemoOptions { contacts: 9000, seed: 3, now, events_per_contact: 1.0 };
        reach::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
        w.commit().unwrap();
    }
    let n = check(&store.begin_read().unwrap(), "demo");
    assert!(n > 9000 * 10, "the demo fills most fields: {n}");
    check_counts(&store, now, "demo");

    // an import: existing contacts in every row change city and score, one
    // loses nothing it does not name, new contacts come after the last id
    let mut csv = String::from("external_id,email,city,score,consent_email\n");
    for i in [1u32, 2, 4095, 4096, 4097, 8191, 8999] {
        csv.push_str(&format!("C{i:07},,Torino,{},true\n", 40 + i % 7));
    }
    for i in 0..30 {
        csv.push_str(&format!("NEW-{i},new{i}.columns@example.com,Milano,,\n"));
    }
    let path = dir.path().join("c.csv");
    std::fs::write(&path, csv).unwrap();
    let opts = reach::import::ImportOptions { now, ..Default::default() };
    reach::import::import(&store, reach::import::What::Contacts, path.to_str().unwrap(), &opts, &mut |_, _, _| Ok(()))
        .unwrap();
    check(&store.begin_read().unwrap(), "after an import");
    check_counts(&store, now, "after an import");

    // a field declared after the contacts exist, then given values
    {
        let mut w = store.begin_write().unwrap();
        w.schema_mut()
            .add_attribute("tier", reach::model::attribute::AttrType::Enum(vec!["gold".into(), "silver".into()]))
            .unwrap();
        w.commit().unwrap();
    }
    let tiers = dir.path().join("t.csv");
    std::fs::write(&tiers, "external_id,tier\nC0000003,gold\nC0004100,silver\nNEW-3,gold\n").unwrap();
    reach::import::import(&store, reach::import::What::Contacts, tiers.to_str().unwrap(), &opts, &mut |_, _, _| Ok(()))
        .unwrap();
    check(&store.begin_read().unwrap(), "after a new field");
    let mut e = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
    let never = AtomicBool::new(false);
    assert_eq!(e.count(&reach::segment::parse("tier = gold").unwrap(), now, &never).unwrap(), 2);

    // erasures in the first and the last row, and a whole row's worth
    {
        let mut w = store.begin_write().unwrap();
        let mut gone = roaring::RoaringBitmap::new();
        gone.insert_range(4096..8192);
        gone.insert(3);
        gone.insert(8999);
        w.delete_contacts(&gone).unwrap();
        w.commit().unwrap();
    }
    check(&store.begin_read().unwrap(), "after erasures");
    check_counts(&store, now, "after erasures");
    let r = store.begin_read().unwrap();
    let mut middle = 0;
    r.for_each_column_row(Field::Email, |first, _| middle += (first == 4096) as u32).unwrap();
    assert_eq!(middle, 0, "an erased row of contacts leaves no row of values");
}

/// A file written before the columns existed gets them on open: the
/// reach-3 fixture, migrated through every step, holds the same values in
/// its columns as in its records.
#[test]
fn an_old_file_gets_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.redb");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v3_demo.redb"), &path).unwrap();
    let store = Store::open(&path, OpenMode::Existing).unwrap();
    let n = check(&store.begin_read().unwrap(), "migrated");
    assert!(n > 1000, "{n}");
}
