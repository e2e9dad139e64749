//! Format and schema-version checks on open, initialisation of a new file,
//! and the migration path from older schema versions.

use super::tables::*;
use super::{FORMAT, SCHEMA_VERSION, Store};
use crate::error::{Error, Result};
use crate::model::Schema;

/// One step: upgrades a file from version `from` to `from + 1` inside the
/// given transaction. Index 0 upgrades version 1 to 2, and so on.
type Step = fn(&redb::WriteTransaction) -> Result<()>;
const STEPS: &[Step] =
    &[dict_in_chunks, contact_index, time_partitions, contact_summaries, contact_columns, key_buckets, record_rows];

/// Version 1 kept one dictionary row per value.
const DICT_V1: redb::TableDefinition<u32, &str> = redb::TableDefinition::new("dict");

/// 1 → 2: the dictionary moves from a row per value to a row per chunk of ids.
fn dict_in_chunks(tx: &redb::WriteTransaction) -> Result<()> {
    use redb::ReadableTable;
    {
        let old = tx.open_table(DICT_V1)?;
        let mut new = tx.open_table(DICT_CHUNKS)?;
        let mut chunk: Vec<(u32, String)> = Vec::new();
        let mut write = |chunk: &mut Vec<(u32, String)>| -> Result<()> {
            if let Some((id, _)) = chunk.first() {
                let bytes = super::dict::encode_chunk(chunk.iter().map(|(i, s)| (*i, s.as_str())));
                new.insert(super::dict::chunk_of(*id), bytes.as_slice())?;
            }
            chunk.clear();
            Ok(())
        };
        for row in old.iter()? {
            let (k, v) = row?;
            let id = k.value();
            if chunk.first().is_some_and(|(c, _)| super::dict::chunk_of(*c) != super::dict::chunk_of(id)) {
                write(&mut chunk)?;
            }
            chunk.push((id, v.value().to_string()));
        }
        write(&mut chunk)?;
    }
    tx.delete_table(DICT_V1)?;
    Ok(())
}

/// 2 → 3: the per-contact index of event blocks, built in one pass over
/// the blocks (their contact columns only).
fn contact_index(tx: &redb::WriteTransaction) -> Result<()> {
    let blocks = tx.open_table(EVENT_BLOCKS)?;
    let mut index = tx.open_table(CONTACT_BLOCKS)?;
    super::contact_index::build(&blocks, &mut index)
}

/// 3 → 4: events filed by time span (see `time_parts`). Version 3 filled
/// a kind's blocks in the order events arrived, each block over any span
/// of time; every block is read once (and removed), its events refiled
/// into blocks of one span each under new ids, listed in `EVENT_PARTS`;
/// then the per-contact index is built again over the new blocks.
fn time_partitions(tx: &redb::WriteTransaction) -> Result<()> {
    use super::codec::EventBlock;
    use super::time_parts::{self, Filling};
    use redb::ReadableTable;
    let mut next = {
        let m = tx.open_table(META)?;
        super::read::meta_u64(m.get("next_block")?.as_ref().map(|v| v.value())).max(1)
    };
    {
        let mut blocks = tx.open_table(EVENT_BLOCKS)?;
        let mut parts = tx.open_table(EVENT_PARTS)?;
        let old: Vec<(u16, u64)> =
            blocks.iter()?.map(|r| r.map(|(k, _)| k.value())).collect::<std::result::Result<_, _>>()?;
        let mut filling = Filling::default();
        let mut put = |mut b: EventBlock, blocks: &mut redb::Table<(u16, u64), &[u8]>| -> Result<()> {
            b.sort_by_time();
            let (first, last) = (b.ts[0], b.ts[b.len() - 1]);
            blocks.insert((b.kind, next), b.encode().as_slice())?;
            parts.insert((b.kind, time_parts::part_of(first), next), (first, last))?;
            next += 1;
            Ok(())
        };
        for (i, key) in old.iter().enumerate() {
            let mut b = match blocks.remove(*key)? {
                Some(v) => EventBlock::decode(v.value())?,
                None => continue,
            };
            b.sort_by_time();
            for (part, from, to) in time_parts::runs(&b.ts) {
                for full in filling.add_rows(&b, part, from, to) {
                    put(full, &mut blocks)?;
                }
            }
            // a kind's last block, or too much held: write what is filling
            if old.get(i + 1).is_none_or(|n| n.0 != key.0) || filling.over_bound() {
                for b in filling.drain() {
                    put(b, &mut blocks)?;
                }
            }
        }
    }
    tx.open_table(META)?.insert("next_block", next.to_le_bytes().as_slice())?;
    tx.delete_table(CONTACT_BLOCKS)?;
    contact_index(tx)
}

/// 4 → 5: per-contact summaries of every kind (see `summaries`), built in
/// one pass over the blocks.
fn contact_summaries(tx: &redb::WriteTransaction) -> Result<()> {
    let blocks = tx.open_table(EVENT_BLOCKS)?;
    let mut t = tx.open_table(CONTACT_SUMMARIES)?;
    super::summaries::build(&blocks, &mut t)
}

/// 5 → 6: the contact records' fields as columns (see `contact_columns`).
fn contact_columns(tx: &redb::WriteTransaction) -> Result<()> {
    use redb::ReadableTable;
    let schema: Schema = postcard::from_bytes(
        tx.open_table(SCHEMA)?
            .get("schema")?
            .ok_or_else(|| Error::runtime("schema missing from the database"))?
            .value(),
    )?;
    let contacts = tx.open_table(OLD_CONTACTS)?;
    let mut t = tx.open_table(CONTACT_COLUMNS)?;
    super::contact_columns::build(&schema, &contacts, &mut t)
}

/// 6 → 7: the key tables move from a row per key to rows by bucket (see
/// `key_buckets`); timeline entries shared by many contacts get their
/// table (`action_groups`; the entries already written stay as they are).
/// The keys are moved in passes of about a million, each taking the
/// buckets whose number modulo the number of passes is the pass's, so
/// the memory held stays the same at any size.
fn key_buckets(tx: &redb::WriteTransaction) -> Result<()> {
    use super::key_buckets::{bucket_of, insert_new};
    use redb::{ReadableTable, ReadableTableMetadata};
    tx.open_table(ACTION_GROUPS)?;
    for (old, new) in [(OLD_BY_EMAIL, EMAIL_KEYS), (OLD_BY_EXTERNAL_ID, EXTERNAL_ID_KEYS)] {
        let passes = (tx.open_table(old)?.len()? / 1_000_000 + 1) as u32;
        for pass in 0..passes {
            let mut keys: Vec<(String, u32)> = Vec::new();
            for row in tx.open_table(old)?.iter()? {
                let (k, v) = row?;
                if bucket_of(k.value().as_bytes()) % passes == pass {
                    keys.push((k.value().to_string(), v.value()));
                }
            }
            insert_new(&mut tx.open_table(new)?, &keys)?;
        }
        tx.delete_table(old)?;
    }
    Ok(())
}

/// 7 → 8: the contact records move from a row per contact into rows of
/// `record_rows::PER_ROW` consecutive ids (see `record_rows`), read in id
/// order and written a row at a time. A file without the set of contact
/// ids in `meta` (none written since before the set existed) gets it, so
/// that counting contacts never reads the records. The old table's pages
/// are left free: `compact_pending` in `meta` has `Store::open` compact the
/// file (again at the next open, should that fail).
fn record_rows(tx: &redb::WriteTransaction) -> Result<()> {
    use super::record_rows::{push, row_of};
    use redb::ReadableTable;
    let mut ids = roaring::RoaringBitmap::new();
    {
        let old = tx.open_table(OLD_CONTACTS)?;
        let mut new = tx.open_table(CONTACT_RECORDS)?;
        let mut row: Option<u32> = None;
        let mut bytes = Vec::new();
        for r in old.iter()? {
            let (k, v) = r?;
            let id = k.value();
            if row.is_some_and(|r| r != row_of(id)) {
                new.insert(row.expect("checked"), bytes.as_slice())?;
                bytes.clear();
            }
            row = Some(row_of(id));
            push(&mut bytes, id, v.value());
            ids.insert(id);
        }
        if let Some(r) = row {
            new.insert(r, bytes.as_slice())?;
        }
    }
    tx.delete_table(OLD_CONTACTS)?;
    let mut meta = tx.open_table(META)?;
    if meta.get("contact_ids")?.is_none() {
        meta.insert("contact_ids", super::read::encode_bitmap(&ids).as_slice())?;
    }
    meta.insert("compact_pending", 1u64.to_le_bytes().as_slice())?;
    Ok(())
}

/// Creates a new file's tables, or checks an existing file and migrates it.
pub(super) fn check_and_upgrade(store: &Store) -> Result<()> {
    let path = store.path().display().to_string();
    let tx = store.redb().begin_write()?;
    let table_names: Vec<String> = {
        use redb::TableHandle;
        tx.list_tables()?.map(|t| t.name().to_string()).collect()
    };
    if table_names.is_empty() {
        init(&tx)?;
        tx.commit()?;
        return Ok(());
    }
    let (format, version) =
        if table_names.iter().any(|n| n == "meta") { read_meta(&tx.open_table(META)?)? } else { (None, None) };
    let version = check(&path, &table_names, format.as_deref(), version)?;
    let missing = ADDED_TABLES.iter().any(|t| !table_names.iter().any(|n| n == t));
    if missing {
        open_added_tables(&tx)?;
        if table_names.iter().any(|n| n == "journey_timers") {
            super::journeys::rebuild_timers(&tx)?;
        }
    }
    if version < SCHEMA_VERSION {
        for step in &STEPS[(version - 1) as usize..] {
            step(&tx)?;
        }
        let mut meta = tx.open_table(META)?;
        meta.insert("schema_version", SCHEMA_VERSION.to_le_bytes().as_slice())?;
        drop(meta);
        tx.commit()?;
    } else if missing {
        tx.commit()?;
    } else {
        tx.abort()?;
    }
    Ok(())
}

/// Reads `format` and `schema_version` from the meta table.
fn read_meta(meta: &impl redb::ReadableTable<&'static str, &'static [u8]>) -> Result<(Option<String>, Option<u32>)> {
    let format = meta.get("format")?.map(|v| String::from_utf8_lossy(v.value()).into_owned());
    let version = meta.get("schema_version")?.and_then(|v| v.value().try_into().ok().map(u32::from_le_bytes));
    Ok((format, version))
}

/// Refuses a non-empty file that is not a reach database or is too new; returns its schema version.
fn check(path: &str, table_names: &[String], format: Option<&str>, version: Option<u32>) -> Result<u32> {
    if !table_names.iter().any(|n| n == "meta") {
        return Err(Error::input(format!("{path}: not a reach database (its tables were written by another program)")));
    }
    if format != Some(FORMAT) {
        return Err(Error::input(format!("{path}: not a reach database (written by another program)")));
    }
    let version = version.ok_or_else(|| Error::input(format!("{path}: reach database without a schema version")))?;
    if version > SCHEMA_VERSION {
        return Err(Error::input(format!(
            "{path}: written by a newer reach (schema version {version}, this one reads up to {SCHEMA_VERSION}); upgrade reach"
        )));
    }
    if version == 0 {
        return Err(Error::input(format!("{path}: unknown schema version 0")));
    }
    Ok(version)
}

/// Checks an existing file read-only, before it is opened for writing (which
/// would already modify a file that turns out to be another program's or a
/// newer reach's). A file that needs crash recovery cannot be opened
/// read-only: it is checked again after the read-write open repaired it.
pub(super) fn probe(path: &std::path::Path) -> Result<()> {
    use redb::{ReadableDatabase, TableHandle};
    let db = match redb::ReadOnlyDatabase::open(path) {
        Ok(db) => db,
        Err(redb::DatabaseError::RepairAborted) => return Ok(()),
        Err(e) => return Err(super::open_error(path, e)),
    };
    let tx = db.begin_read()?;
    let table_names: Vec<String> = tx.list_tables()?.map(|t| t.name().to_string()).collect();
    if table_names.is_empty() {
        return Ok(());
    }
    let (format, version) =
        if table_names.iter().any(|n| n == "meta") { read_meta(&tx.open_table(META)?)? } else { (None, None) };
    check(&path.display().to_string(), &table_names, format.as_deref(), version)?;
    Ok(())
}

fn init(tx: &redb::WriteTransaction) -> Result<()> {
    {
        let mut meta = tx.open_table(META)?;
        meta.insert("format", FORMAT.as_bytes())?;
        meta.insert("schema_version", SCHEMA_VERSION.to_le_bytes().as_slice())?;
        // the set of contact ids, empty: a first import adds its contacts to
        // it at commit instead of reading every record it just wrote back
        meta.insert("contact_ids", super::read::encode_bitmap(&roaring::RoaringBitmap::new()).as_slice())?;
        let mut schema = tx.open_table(SCHEMA)?;
        schema.insert("schema", postcard::to_allocvec(&Schema::default())?.as_slice())?;
    }
    // create every table so readers never meet a missing one
    tx.open_table(CONTACT_RECORDS)?;
    tx.open_table(EMAIL_KEYS)?;
    tx.open_table(EXTERNAL_ID_KEYS)?;
    tx.open_table(TAGS)?;
    tx.open_table(CATEGORY_TREE)?;
    tx.open_table(CATEGORY_MEMBERS)?;
    tx.open_table(DICT_CHUNKS)?;
    tx.open_table(EVENT_BLOCKS)?;
    tx.open_table(EVENT_PARTS)?;
    tx.open_table(CONTACT_BLOCKS)?;
    tx.open_table(CONTACT_SUMMARIES)?;
    tx.open_table(CONTACT_COLUMNS)?;
    tx.open_table(ACTIONS)?;
    tx.open_table(ACTION_GROUPS)?;
    tx.open_table(SEGMENTS)?;
    tx.open_table(SEGMENT_HISTORY)?;
    tx.open_table(CAMPAIGNS)?;
    tx.open_table(SETTINGS)?;
    tx.open_table(DELIVERIES)?;
    open_added_tables(tx)?;
    Ok(())
}

/// Creates the tables of [`ADDED_TABLES`] (those that are missing).
fn open_added_tables(tx: &redb::WriteTransaction) -> Result<()> {
    tx.open_table(JOURNEYS)?;
    tx.open_table(ENROLLMENTS)?;
    tx.open_table(JOURNEY_TIMERS)?;
    tx.open_table(JOURNEY_STEPS)?;
    tx.open_table(AUDIT)?;
    tx.open_table(PROMO_CODES)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpenMode;
    use redb::{ReadableDatabase, TableHandle};

    /// A file laid out as version 1 wrote it is upgraded on open, keeping
    /// every dictionary value under its id.
    /// Records a row each, without the set of contact ids (as files before
    /// the set had them): moved into rows of 64, the set written, the file
    /// compacted, and every record read back by id and in order.
    #[test]
    fn a_version_7_file_gets_record_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v7.redb");
        let ids: Vec<u32> = (1..3000).filter(|i| i % 5 != 0).chain([63, 64, 4_000_000, u32::MAX]).collect();
        let ids: Vec<u32> = ids.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let record = |id: u32| {
            postcard::to_allocvec(&crate::model::Contact {
                id,
                external_id: Some(format!("C{id}").into()),
                ..Default::default()
            })
            .unwrap()
        };
        {
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            init(&tx).unwrap();
            tx.delete_table(CONTACT_RECORDS).unwrap();
            {
                let mut meta = tx.open_table(META).unwrap();
                meta.insert("schema_version", 7u32.to_le_bytes().as_slice()).unwrap();
                meta.remove("contact_ids").unwrap();
                let mut t = tx.open_table(OLD_CONTACTS).unwrap();
                for &id in &ids {
                    t.insert(id, record(id).as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let store = Store::open(&path, OpenMode::Existing).unwrap();
        let r = store.begin_read().unwrap();
        assert_eq!(r.meta("compact_pending").unwrap(), 0, "compacted, and the mark cleared");
        assert_eq!(r.contact_count().unwrap(), ids.len() as u64);
        assert_eq!(r.contact_ids().unwrap().iter().collect::<Vec<_>>(), ids);
        for &id in &[1, 4, 63, 64, 2999, 4_000_000, u32::MAX] {
            assert_eq!(r.contact(id).unwrap().map(|c| c.id), Some(id));
        }
        assert_eq!(r.contact(5).unwrap(), None);
        let mut seen = Vec::new();
        r.for_each_contact(|c| {
            assert_eq!(postcard::to_allocvec(&c).unwrap(), record(c.id));
            seen.push(c.id);
            Ok(true)
        })
        .unwrap();
        assert_eq!(seen, ids);
        let tables: Vec<String> = {
            use redb::{ReadableDatabase, TableHandle};
            store.redb().begin_read().unwrap().list_tables().unwrap().map(|t| t.name().to_string()).collect()
        };
        assert!(!tables.iter().any(|t| t == "contacts"), "{tables:?}");
    }

    #[test]
    fn a_version_1_file_is_upgraded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.redb");
        let values: Vec<(u32, String)> = (1..6000).filter(|i| i % 7 != 0).map(|i| (i, format!("value {i}"))).collect();
        {
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            init(&tx).unwrap();
            tx.delete_table(DICT_CHUNKS).unwrap();
            {
                let mut meta = tx.open_table(META).unwrap();
                meta.insert("schema_version", 1u32.to_le_bytes().as_slice()).unwrap();
                meta.insert("next_dict", 6000u64.to_le_bytes().as_slice()).unwrap();
                let mut d = tx.open_table(DICT_V1).unwrap();
                for (id, s) in &values {
                    d.insert(*id, s.as_str()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        {
            let store = Store::open(&path, OpenMode::Existing).unwrap();
            let dict = store.begin_read().unwrap().dict().unwrap();
            assert_eq!(dict.len(), 5999, "ids up to 5998 (5999 is a multiple of 7)");
            for (id, s) in &values {
                assert_eq!(&dict[*id as usize], s);
            }
            assert_eq!(dict[7], "", "a missing id stays missing");
            // and the writer continues after the last id
            let mut w = store.begin_write().unwrap();
            let mut l = crate::store::Loader::new(&mut w);
            assert_eq!(l.intern("value 3").unwrap(), 3);
            assert_eq!(l.intern("new").unwrap(), 6000);
            l.finish().unwrap();
            w.commit().unwrap();
        }
        let db = redb::ReadOnlyDatabase::open(&path).unwrap();
        let tx = db.begin_read().unwrap();
        let names: Vec<String> = tx.list_tables().unwrap().map(|t| t.name().to_string()).collect();
        assert!(!names.contains(&"dict".to_string()), "{names:?}");
        assert_eq!(read_meta(&tx.open_table(META).unwrap()).unwrap().1, Some(SCHEMA_VERSION));
    }

    /// A version-2 file (no per-contact index) gets its index on open, and
    /// `events_of` answers as the scan of every block answered before.
    #[test]
    fn a_version_2_file_gets_its_contact_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.redb");
        let contacts: Vec<u32> = (1..=500).collect();
        let ask: Vec<u32> = vec![1, 2, 77, 250, 499, 500, 501, 9999];
        let (before, written_rows) = {
            let store = Store::open(&path, OpenMode::Create).unwrap();
            for (round, n) in [200_000u32, 30_000, 5].into_iter().enumerate() {
                let mut w = store.begin_write().unwrap();
                let mut l = crate::store::Loader::new(&mut w);
                for i in 0..n {
                    // skewed: low ids get most events; 500 has one, 501 none
                    let c = contacts[((i as u64 * 7919 % 1000).pow(2) / 2000).min(498) as usize];
                    let kind = ((i + round as u32) % 3) as u16 * 2;
                    l.append_event(kind, c, i as i64 * 60, 0, [0; 3], &[]).unwrap();
                }
                if round == 0 {
                    l.append_event(4, 500, 1, 0, [0; 3], &[]).unwrap();
                }
                l.finish().unwrap();
                w.commit().unwrap();
            }
            let r = store.begin_read().unwrap();
            let before: Vec<_> = ask.iter().map(|&c| r.events_of_by_scan(c).unwrap()).collect();
            assert!(before[0].len() > 3 && before[5].len() == 1 && before[6].is_empty(), "a spread of histories");
            for (c, b) in ask.iter().zip(&before) {
                assert_eq!(&r.events_of(*c).unwrap(), b, "contact {c} as written");
            }
            drop(r);
            let (rows, scan) = crate::store::contact_index::rows_and_scan(&store);
            assert_eq!(rows, scan);
            (before, rows)
        };
        // what version 2 wrote: the same blocks, no index
        {
            let db = redb::Database::open(&path).unwrap();
            let tx = db.begin_write().unwrap();
            assert!(tx.delete_table(CONTACT_BLOCKS).unwrap());
            tx.open_table(META).unwrap().insert("schema_version", 2u32.to_le_bytes().as_slice()).unwrap();
            tx.commit().unwrap();
        }
        {
            let store = Store::open(&path, OpenMode::Existing).unwrap();
            let r = store.begin_read().unwrap();
            // the upgrade to version 4 files the events by time span too:
            // the same events, in other blocks
            let flat = |v: &[(crate::store::codec::EventBlock, Vec<usize>)]| {
                let mut e: Vec<(u16, i64, u32)> =
                    v.iter().flat_map(|(b, at)| at.iter().map(move |&i| (b.kind, b.ts[i], b.contact[i]))).collect();
                e.sort_unstable();
                e
            };
            for (c, b) in ask.iter().zip(&before) {
                assert_eq!(flat(&r.events_of(*c).unwrap()), flat(b), "contact {c} after the upgrade");
            }
            drop(r);
            let (rows, scan) = crate::store::contact_index::rows_and_scan(&store);
            assert_eq!(rows, scan);
            // the blocks were refiled under new ids: the same contacts are indexed
            assert_eq!(
                rows.keys().collect::<Vec<_>>(),
                written_rows.keys().collect::<Vec<_>>(),
                "the migration indexes every contact the writer indexed"
            );
        }
        let db = redb::ReadOnlyDatabase::open(&path).unwrap();
        let tx = db.begin_read().unwrap();
        assert_eq!(read_meta(&tx.open_table(META).unwrap()).unwrap().1, Some(SCHEMA_VERSION));
    }
}
