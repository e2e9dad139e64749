//! Contact records in rows of `PER_ROW` consecutive ids (`CONTACT_RECORDS`,
//! key: id / `PER_ROW`). Up to schema 7 each record was a B-tree row of its
//! own, and a million-contact import spent a fifth of its writing thread on
//! a million B-tree inserts; rows of 64 cost one insert per 64 contacts and
//! hold their records side by side (about 13 KB a row).
//!
//! A row: for each contact present, in id order, its id's place in the row
//! (one byte, below `PER_ROW`), the record's length (varint), then the
//! record (postcard `Contact`). A row is never empty: it is removed with its
//! last contact. Reading one contact reads its row and skips to its entry;
//! changing one rewrites its row (the writer gathers changes by row first,
//! see `Writer::put_contacts`).

use super::codec::{get_uvarint, put_uvarint};
use crate::error::{Error, Result};
use redb::ReadableTable;

/// Contacts per row.
pub const PER_ROW: u32 = 64;

/// The row holding a contact.
pub fn row_of(id: u32) -> u32 {
    id / PER_ROW
}

fn corrupt() -> Error {
    Error::runtime("corrupt contact record row")
}

/// The (contact id, record) entries of row `row`, in id order; an error for
/// bytes no writer produces (places out of order or out of range, a length
/// past the end).
pub fn entries(row: u32, bytes: &[u8]) -> Entries<'_> {
    Entries { base: row as u64 * PER_ROW as u64, bytes, pos: 0, next_place: 0 }
}

pub struct Entries<'a> {
    base: u64,
    bytes: &'a [u8],
    pos: usize,
    /// the smallest place the next entry may have
    next_place: u32,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(u32, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let place = self.bytes[self.pos] as u32;
        self.pos += 1;
        let entry = (|| {
            if place < self.next_place || place >= PER_ROW {
                return None;
            }
            let id = u32::try_from(self.base + place as u64).ok()?;
            let len = usize::try_from(get_uvarint(self.bytes, &mut self.pos)?).ok()?;
            let end = self.pos.checked_add(len).filter(|&e| e <= self.bytes.len())?;
            let record = &self.bytes[self.pos..end];
            self.pos = end;
            self.next_place = place + 1;
            Some((id, record))
        })();
        match entry {
            Some(e) => Some(Ok(e)),
            None => {
                self.pos = self.bytes.len();
                Some(Err(corrupt()))
            }
        }
    }
}

/// The record of `id` in its row's bytes.
pub fn find(bytes: &[u8], id: u32) -> Result<Option<&[u8]>> {
    for e in entries(row_of(id), bytes) {
        let (c, record) = e?;
        if c == id {
            return Ok(Some(record));
        }
        if c > id {
            break;
        }
    }
    Ok(None)
}

/// Appends `v` in postcard's format to `out`. postcard's own
/// `to_extend` pushes each varint and each short string through a call to
/// `memcpy` (about half of the samples of the contacts import's encoding
/// thread went there). Here short runs go into the vector byte by byte.
pub fn encode_into<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) -> Result<()> {
    postcard::serialize_with_flavor(v, VecFlavor(out))?;
    Ok(())
}

/// A postcard output appending to a borrowed vector.
struct VecFlavor<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for VecFlavor<'_> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, b: u8) -> postcard::Result<()> {
        self.0.push(b);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if data.len() <= 8 {
            // varints and short strings: no call
            self.0.reserve(data.len());
            for &b in data {
                self.0.push(b);
            }
        } else {
            self.0.extend_from_slice(data);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends one entry (ids ascending within a row).
pub fn push(out: &mut Vec<u8>, id: u32, record: &[u8]) {
    out.push((id % PER_ROW) as u8);
    put_uvarint(out, record.len() as u64);
    out.extend_from_slice(record);
}

/// The record of `id`, from the table (the tests' way in: the store's
/// readers keep a row for its neighbouring ids).
#[cfg(test)]
pub fn get(t: &impl ReadableTable<u32, &'static [u8]>, id: u32) -> Result<Option<Vec<u8>>> {
    match t.get(row_of(id))? {
        Some(row) => Ok(find(row.value(), id)?.map(<[u8]>::to_vec)),
        None => Ok(None),
    }
}

/// Calls `f(id, record)` for every contact of the table, in id order;
/// stops early when `f` returns false.
pub fn for_each(
    t: &impl ReadableTable<u32, &'static [u8]>,
    mut f: impl FnMut(u32, &[u8]) -> Result<bool>,
) -> Result<()> {
    for row in t.iter()? {
        let (k, v) = row?;
        for e in entries(k.value(), v.value()) {
            let (id, record) = e?;
            if !f(id, record)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Writes records and removes contacts: `changes` (id, new record or None
/// to remove), ids ascending and distinct. Each row touched is read,
/// merged and written once.
pub fn apply(t: &mut redb::Table<u32, &'static [u8]>, changes: &[(u32, Option<&[u8]>)]) -> Result<()> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let row = row_of(changes[i].0);
        let end = i + changes[i..].iter().take_while(|(id, _)| row_of(*id) == row).count();
        let part = &changes[i..end];
        out.clear();
        {
            let old = t.get(row)?;
            let old_bytes = old.as_ref().map(|v| v.value()).unwrap_or_default();
            let mut olds = entries(row, old_bytes).peekable();
            let mut news = part.iter().peekable();
            loop {
                let take_old = match (olds.peek(), news.peek()) {
                    (None, None) => break,
                    (Some(Err(_)), _) => return Err(corrupt()),
                    (Some(Ok((a, _))), Some((b, _))) => {
                        if a == b {
                            olds.next();
                            false
                        } else {
                            a < b
                        }
                    }
                    (Some(Ok(_)), None) => true,
                    (None, Some(_)) => false,
                };
                if take_old {
                    let Some(Ok((id, record))) = olds.next() else { unreachable!("peeked") };
                    push(&mut out, id, record);
                } else if let Some(&(id, new)) = news.next()
                    && let Some(record) = new
                {
                    push(&mut out, id, record);
                }
            }
        }
        if out.is_empty() {
            t.remove(row)?;
        } else {
            t.insert(row, out.as_slice())?;
        }
        i = end;
    }
    Ok(())
}

/// Writes a row of new contacts (entries as `push` appends them). A row
/// that already holds contacts (the first of a batch, when an earlier one
/// ended inside it) gets the new entries merged in; an id it already holds
/// is an error.
pub fn insert_new_row(t: &mut redb::Table<u32, &'static [u8]>, row: u32, bytes: &[u8]) -> Result<()> {
    let Some(old) = t.get(row)?.map(|v| v.value().to_vec()) else {
        t.insert(row, bytes)?;
        return Ok(());
    };
    let mut news = entries(row, bytes).peekable();
    let mut merged = Vec::with_capacity(old.len() + bytes.len());
    for e in entries(row, &old) {
        let (id, record) = e?;
        while let Some(n) = news.next_if(|n| n.as_ref().is_ok_and(|(n, _)| *n < id)) {
            let (n, r) = n?;
            push(&mut merged, n, r);
        }
        if news.next_if(|n| n.as_ref().is_ok_and(|(n, _)| *n == id)).is_some() {
            return Err(Error::runtime(format!("contact {id} written twice as new")));
        }
        push(&mut merged, id, record);
    }
    for n in news {
        let (n, r) = n?;
        push(&mut merged, n, r);
    }
    t.insert(row, merged.as_slice())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, TableDefinition};

    const T: TableDefinition<u32, &[u8]> = TableDefinition::new("records");

    /// `encode_into` writes what postcard's own output does, for every kind
    /// of field: strings of every length around the short-copy bound,
    /// numbers around each varint width, every attribute variant.
    #[test]
    fn encode_into_is_postcard() {
        use crate::model::attribute::AttrValue;
        use crate::model::contact::{Action, ActionKind, Consent};
        use crate::model::{Contact, Decimal};
        let text = |n: usize| "é".repeat(n / 2) + &"a".repeat(n % 2);
        let nums = [0i64, 1, -1, 63, 64, -65, 127, 128, 16_383, 16_384, i64::MAX, i64::MIN];
        let mut out = vec![7u8];
        for (k, n) in (0..40usize).enumerate() {
            let x = nums[k % nums.len()];
            let c = Contact {
                id: (x as u32).wrapping_add(n as u32),
                external_id: (n % 3 != 0).then(|| text(n).into()),
                email: (n % 2 == 0).then(|| format!("{}@example.com", text(n)).into()),
                created_at: x,
                timezone: (n % 4 != 1).then(|| "Europe/Rome".to_string().into()),
                score: x.wrapping_neg(),
                consent: [
                    Some(Consent { opted_in: n % 2 == 0, at: x }),
                    None,
                    Some(Consent { opted_in: true, at: x.wrapping_neg() }),
                ],
                unsubscribed_at: (n % 5 == 0).then_some(x),
                bounced_at: (n % 7 == 0).then_some(x.wrapping_neg()),
                categories: (0..n % 4).map(|i| text(n + i).into()).collect(),
                attrs: vec![
                    (0, AttrValue::Number(Decimal(x))),
                    (1, AttrValue::Text(text(n).into())),
                    (200, AttrValue::Bool(n % 2 == 1)),
                    (300, AttrValue::Date(x as i32)),
                    (u16::MAX, AttrValue::Enum(n as u16 * 1000)),
                    (5, AttrValue::Set((0..n as u16).map(|i| i * 997).collect())),
                ],
            };
            let at = out.len();
            encode_into(&c, &mut out).unwrap();
            assert_eq!(&out[at..], postcard::to_allocvec(&c).unwrap(), "contact {n}");
            let a = Action { ts: x, what: ActionKind::TagAdded(text(n)), detail: text(n + 3) };
            let at = out.len();
            encode_into(&a, &mut out).unwrap();
            assert_eq!(&out[at..], postcard::to_allocvec(&a).unwrap(), "action {n}");
        }
        assert_eq!(out[0], 7, "appends");
    }

    fn all(db: &redb::Database) -> Vec<(u32, Vec<u8>)> {
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(T).unwrap();
        let mut out = Vec::new();
        for_each(&t, |id, r| {
            out.push((id, r.to_vec()));
            Ok(true)
        })
        .unwrap();
        out
    }

    fn rec(id: u32, v: u8) -> Vec<u8> {
        vec![v; (id % 7) as usize + 1]
    }

    #[test]
    fn apply_writes_replaces_and_removes_by_row() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("r.redb")).unwrap();
        let mut model = std::collections::BTreeMap::new();
        for (round, ids) in
            [(0u8, (0..300).collect::<Vec<u32>>()), (1, (50..90).step_by(3).collect()), (2, vec![63, 64, 299])]
        {
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(T).unwrap();
                let recs: Vec<(u32, Vec<u8>)> = ids.iter().map(|&id| (id, rec(id, round))).collect();
                let changes: Vec<(u32, Option<&[u8]>)> = recs
                    .iter()
                    // the third round removes its contacts
                    .map(|(id, r)| (*id, (round < 2).then_some(r.as_slice())))
                    .collect();
                apply(&mut t, &changes).unwrap();
                for (id, r) in recs {
                    if round < 2 {
                        model.insert(id, r);
                    } else {
                        model.remove(&id);
                    }
                }
            }
            tx.commit().unwrap();
            assert_eq!(all(&db), model.clone().into_iter().collect::<Vec<_>>());
        }
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(T).unwrap();
        assert_eq!(get(&t, 51).unwrap(), model.get(&51).cloned());
        assert_eq!(get(&t, 53).unwrap(), Some(rec(53, 1)));
        assert_eq!(get(&t, 63).unwrap(), None);
        assert_eq!(get(&t, 1000).unwrap(), None);
    }

    #[test]
    fn new_rows_merge_into_a_row_begun_before() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("r.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(T).unwrap();
            let first: Vec<(u32, Vec<u8>)> = (0..70).map(|id| (id, rec(id, 1))).collect();
            let changes: Vec<(u32, Option<&[u8]>)> = first.iter().map(|(id, r)| (*id, Some(r.as_slice()))).collect();
            apply(&mut t, &changes).unwrap();
            // ids 70..200 as new rows: row 1 already holds 64..70
            let mut rows: Vec<(u32, Vec<u8>)> = Vec::new();
            for id in 70..200 {
                if rows.last().is_none_or(|(r, _)| *r != row_of(id)) {
                    rows.push((row_of(id), Vec::new()));
                }
                push(&mut rows.last_mut().unwrap().1, id, &rec(id, 2));
            }
            for (r, b) in &rows {
                insert_new_row(&mut t, *r, b).unwrap();
            }
            // the same ids again are refused
            assert!(insert_new_row(&mut t, rows[0].0, &rows[0].1).is_err());
        }
        tx.commit().unwrap();
        let want: Vec<(u32, Vec<u8>)> = (0..200).map(|id| (id, rec(id, if id < 70 { 1 } else { 2 }))).collect();
        assert_eq!(all(&db), want);
    }

    #[test]
    fn damaged_rows_are_errors() {
        // place out of range, places out of order, a length past the end
        for bytes in [&[64u8, 0][..], &[3, 0, 2, 0], &[0, 5, 1]] {
            assert!(entries(0, bytes).any(|e| e.is_err()), "{bytes:?}");
            assert!(find(bytes, 63).is_err(), "{bytes:?}");
        }
        // the last row's ids stay below 2^32
        assert!(entries(u32::MAX / PER_ROW, &[63, 0]).all(|e| e.is_ok()));
        assert!(entries(u32::MAX, &[63, 0]).any(|e| e.is_err()));
    }
}
