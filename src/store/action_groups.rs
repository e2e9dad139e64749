//! Timeline entries shared by many contacts (schema 7): an import's
//! "created" and "tag added" lines are the same entry for each contact it
//! touches, so they are stored once per `CHUNK` of contact ids with the
//! set of those contacts, instead of a row per contact in `ACTIONS`.
//!
//! Key: (id / `CHUNK`, sequence), the sequence taken from the same counter
//! as `ACTIONS`, so a contact's timeline is the two tables' entries merged
//! by sequence. Value: the postcard `Action`'s length (varint), the
//! `Action`, then a roaring bitmap of the contacts' ids modulo `CHUNK`.

use super::codec::{get_uvarint, put_uvarint};
use super::read::{decode_bitmap, encode_bitmap};
use crate::error::{Error, Result};
use crate::model::Action;
use redb::{ReadableTable, Table};
use roaring::RoaringBitmap;

/// Contact ids per row.
pub const CHUNK: u32 = 4096;

/// Fewer contacts than this get a row each in `ACTIONS`.
pub const MIN_GROUP: usize = 32;

fn split(row: &[u8]) -> Result<(&[u8], &[u8])> {
    let bad = || Error::runtime("damaged timeline group");
    let mut pos = 0;
    let len = usize::try_from(get_uvarint(row, &mut pos).ok_or_else(bad)?).map_err(|_| bad())?;
    let end = pos.checked_add(len).filter(|e| *e <= row.len()).ok_or_else(bad)?;
    Ok((&row[pos..end], &row[end..]))
}

/// A row: the entry and the ids (modulo `CHUNK`) that have it.
pub fn decode(row: &[u8]) -> Result<(Action, RoaringBitmap)> {
    let (action, members) = split(row)?;
    Ok((postcard::from_bytes(action)?, decode_bitmap(members)?))
}

/// The row of an entry given its encoded `Action` and members.
fn encode_row(action: &[u8], members: &RoaringBitmap) -> Vec<u8> {
    let mut row = Vec::with_capacity(action.len() + 2 + members.serialized_size());
    put_uvarint(&mut row, action.len() as u64);
    row.extend_from_slice(action);
    row.extend_from_slice(&encode_bitmap(members));
    row
}

/// The row of an entry.
pub fn encode(a: &Action, members: &RoaringBitmap) -> Result<Vec<u8>> {
    Ok(encode_row(&postcard::to_allocvec(a)?, members))
}

/// Stores one entry for each of `ids` (ascending) under sequence `seq`.
pub fn add(t: &mut Table<(u32, u64), &'static [u8]>, ids: &[u32], seq: u64, a: &Action) -> Result<()> {
    let action = postcard::to_allocvec(a)?;
    let mut i = 0;
    while i < ids.len() {
        let chunk = ids[i] / CHUNK;
        let end = i + ids[i..].iter().take_while(|id| **id / CHUNK == chunk).count();
        let members = RoaringBitmap::from_sorted_iter(ids[i..end].iter().map(|id| id % CHUNK))
            .map_err(|_| Error::runtime("timeline group ids out of order"))?;
        t.insert((chunk, seq), encode_row(&action, &members).as_slice())?;
        i = end;
    }
    Ok(())
}

/// The entries of contact `id`: (sequence, entry).
pub fn of(t: &impl ReadableTable<(u32, u64), &'static [u8]>, id: u32) -> Result<Vec<(u64, Action)>> {
    let chunk = id / CHUNK;
    let mut out = Vec::new();
    for row in t.range((chunk, 0)..=(chunk, u64::MAX))? {
        let (k, v) = row?;
        let (action, members) = split(v.value())?;
        if decode_bitmap(members)?.contains(id % CHUNK) {
            out.push((k.value().1, postcard::from_bytes(action)?));
        }
    }
    Ok(out)
}

/// Removes `ids` from every entry, and entries left with nobody.
pub fn remove(t: &mut Table<(u32, u64), &'static [u8]>, ids: &RoaringBitmap) -> Result<()> {
    let chunks: std::collections::BTreeSet<u32> = ids.iter().map(|id| id / CHUNK).collect();
    for chunk in chunks {
        let gone = RoaringBitmap::from_sorted_iter(
            ids.range(chunk * CHUNK..(chunk * CHUNK).saturating_add(CHUNK)).map(|id| id % CHUNK),
        )
        .map_err(|_| Error::runtime("ids out of order"))?;
        let mut changes = Vec::new();
        for row in t.range((chunk, 0)..=(chunk, u64::MAX))? {
            let (k, v) = row?;
            let (action, members) = split(v.value())?;
            let members = decode_bitmap(members)?;
            if members.is_disjoint(&gone) {
                continue;
            }
            let left = members - &gone;
            let row = (!left.is_empty()).then(|| encode_row(action, &left));
            changes.push((k.value(), row));
        }
        for (k, row) in changes {
            match row {
                Some(row) => t.insert(k, row.as_slice())?,
                None => t.remove(k)?,
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ActionKind;
    use redb::{ReadableTableMetadata, TableDefinition};

    const T: TableDefinition<(u32, u64), &[u8]> = TableDefinition::new("groups");

    #[test]
    fn entries_by_contact_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("g.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(T).unwrap();
            let created = Action { ts: 10, what: ActionKind::Created, detail: "import a.csv".into() };
            let tagged = Action { ts: 11, what: ActionKind::TagAdded("vip".into()), detail: "import a.csv".into() };
            let ids: Vec<u32> = (1..10_000).collect();
            add(&mut t, &ids, 5, &created).unwrap();
            add(&mut t, &[3, 4095, 4096, 9000], 9, &tagged).unwrap();
            assert_eq!(of(&t, 4096).unwrap(), vec![(5, created.clone()), (9, tagged.clone())]);
            assert_eq!(of(&t, 4097).unwrap(), vec![(5, created.clone())]);
            assert_eq!(of(&t, 0).unwrap(), vec![]);
            assert_eq!(of(&t, 10_000).unwrap(), vec![]);
            assert_eq!(t.len().unwrap(), 3 + 3, "a row per chunk and entry");
            let gone: RoaringBitmap = [3, 4096, 9000].into_iter().collect();
            remove(&mut t, &gone).unwrap();
            assert_eq!(of(&t, 4096).unwrap(), vec![]);
            assert_eq!(of(&t, 4095).unwrap(), vec![(5, created.clone()), (9, tagged.clone())]);
            // the tag's entry in the third chunk held only 9000: gone
            assert_eq!(t.len().unwrap(), 3 + 1);
            remove(&mut t, &(0..10_000).collect()).unwrap();
            assert_eq!(t.len().unwrap(), 0);
        }
        tx.commit().unwrap();
    }
}
