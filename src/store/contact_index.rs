//! The per-contact index of event blocks (`CONTACT_BLOCKS`): for every
//! contact with events, the (kind, block id) of each block holding at least
//! one of them, so that a profile reads only its own blocks.
//!
//! A row holds the lists of `BUCKET` consecutive contact ids (key: id /
//! `BUCKET`); a row per contact would cost redb's per-row overhead, larger
//! than the list itself, and a read and a write per contact. For each id
//! of the row up to the last one with events: the number of entries of its
//! list (varint, 0 = no events), then the list in (kind, block id) order (the
//! order of `EVENT_BLOCKS`), each entry one varint when small: the block
//! id's difference to the previous entry's (zigzag) shifted left by 3, or'ed
//! with the kind's difference (0..=6; 7 escapes: the kind's difference and
//! the zigzag difference follow as two varints). A list starts from kind 0
//! and the first block of the previous list of the row: neighbouring ids
//! were usually written together. One to two bytes per (contact, block)
//! pair, list lengths included (1.6 on the 1M-contact demo: 0.3 bytes per
//! event). A row is decoded and re-encoded whole when it changes.
//!
//! The writer collects the contacts of the blocks a transaction writes and
//! merges them into the rows at commit (or every `FLUSH_EVENTS` events), in
//! id order: one read and one write per row, never per event.

use super::codec::{get_uvarint, put_uvarint, unzigzag, zigzag};
use crate::error::{Error, Result};
use redb::ReadableTable;
use roaring::RoaringBitmap;
use std::collections::BTreeSet;

/// An event block's key: (kind, block id).
pub type BlockKey = (u16, u64);

/// Contacts per row.
pub const BUCKET: u32 = 64;

/// Events held back before their pairs are merged into the table: the
/// contact ids of written blocks cost 4 bytes per event until then. Large
/// enough for a 1M/20M import to flush once: a second flush rewrites most
/// rows and leaves their pages part-filled.
pub const FLUSH_EVENTS: usize = 1 << 25;

/// The row holding a contact.
pub fn bucket_of(contact: u32) -> u32 {
    contact / BUCKET
}

fn corrupt() -> Error {
    Error::runtime("corrupt contact index row")
}

/// The lists of one row, decoded: (contact, range of `keys`) by contact.
#[derive(Default)]
struct Row {
    entries: Vec<(u32, usize, usize)>,
    keys: Vec<BlockKey>,
}

impl Row {
    fn clear(&mut self) {
        self.entries.clear();
        self.keys.clear();
    }

    fn list(&self, e: &(u32, usize, usize)) -> &[BlockKey] {
        &self.keys[e.1..e.2]
    }

    /// Appends a contact's list (ids ascending, lists sorted, not empty).
    fn push(&mut self, contact: u32, list: &[BlockKey]) {
        let start = self.keys.len();
        self.keys.extend_from_slice(list);
        self.entries.push((contact, start, self.keys.len()));
    }

    fn decode(&mut self, bucket: u32, bytes: &[u8]) -> Result<()> {
        self.clear();
        let (mut pos, mut low, mut first) = (0usize, 0u32, 0u64);
        while pos < bytes.len() {
            if low >= BUCKET {
                return Err(corrupt());
            }
            let n = get_uvarint(bytes, &mut pos).ok_or_else(corrupt)?;
            if n > (bytes.len() - pos) as u64 {
                return Err(corrupt());
            }
            if n > 0 {
                let start = self.keys.len();
                let (mut pk, mut pb) = (0u16, first);
                for _ in 0..n {
                    let v = get_uvarint(bytes, &mut pos).ok_or_else(corrupt)?;
                    let (dk, z) = match v & 7 {
                        7 if v == 7 => {
                            let dk = get_uvarint(bytes, &mut pos).ok_or_else(corrupt)?;
                            (dk, get_uvarint(bytes, &mut pos).ok_or_else(corrupt)?)
                        }
                        7 => return Err(corrupt()),
                        dk => (dk, v >> 3),
                    };
                    pk = u16::try_from(dk).ok().and_then(|dk| pk.checked_add(dk)).ok_or_else(corrupt)?;
                    pb = pb.wrapping_add(unzigzag(z) as u64);
                    // a list is in key order, without repeats
                    if self.keys.len() > start && self.keys.last() >= Some(&(pk, pb)) {
                        return Err(corrupt());
                    }
                    self.keys.push((pk, pb));
                }
                first = self.keys[start].1;
                self.entries.push((bucket * BUCKET + low, start, self.keys.len()));
            }
            low += 1;
        }
        Ok(())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        let (mut low, mut first) = (0u32, 0u64);
        for e in &self.entries {
            let list = self.list(e);
            for _ in low..e.0 % BUCKET {
                out.push(0);
            }
            put_uvarint(out, list.len() as u64);
            let (mut pk, mut pb) = (0u16, first);
            for &(k, b) in list {
                let dk = k - pk;
                let z = zigzag(b.wrapping_sub(pb) as i64);
                if dk < 7 && z < 1 << 60 {
                    put_uvarint(out, z << 3 | dk as u64);
                } else {
                    put_uvarint(out, 7);
                    put_uvarint(out, dk as u64);
                    put_uvarint(out, z);
                }
                (pk, pb) = (k, b);
            }
            first = list[0].1;
            low = e.0 % BUCKET + 1;
        }
    }

    /// Writes the row, or removes it when empty.
    fn save(&self, t: &mut redb::Table<u32, &[u8]>, bucket: u32, buf: &mut Vec<u8>) -> Result<()> {
        if self.entries.is_empty() {
            t.remove(bucket)?;
        } else {
            self.encode(buf);
            t.insert(bucket, buf.as_slice())?;
        }
        Ok(())
    }
}

/// Every (contact, blocks) entry of a row.
pub fn decode_row(bucket: u32, bytes: &[u8]) -> Result<Vec<(u32, Vec<BlockKey>)>> {
    let mut row = Row::default();
    row.decode(bucket, bytes)?;
    Ok(row.entries.iter().map(|e| (e.0, row.list(e).to_vec())).collect())
}

/// The blocks holding events of `contact`, in key order.
pub fn lookup(t: &impl ReadableTable<u32, &'static [u8]>, contact: u32) -> Result<Vec<BlockKey>> {
    let Some(bytes) = t.get(bucket_of(contact))? else { return Ok(Vec::new()) };
    let mut row = Row::default();
    row.decode(bucket_of(contact), bytes.value())?;
    Ok(row.entries.iter().find(|e| e.0 == contact).map(|e| row.list(e).to_vec()).unwrap_or_default())
}

/// Removes the lists of `ids`; returns the blocks they named.
pub fn remove(t: &mut redb::Table<u32, &[u8]>, ids: &RoaringBitmap) -> Result<BTreeSet<BlockKey>> {
    let mut blocks = BTreeSet::new();
    let (mut old, mut kept, mut buf) = (Row::default(), Row::default(), Vec::new());
    let mut ids = ids.iter().peekable();
    while let Some(first) = ids.next() {
        let bucket = bucket_of(first);
        let mut gone = vec![first];
        while let Some(&c) = ids.peek()
            && bucket_of(c) == bucket
        {
            gone.push(c);
            ids.next();
        }
        match t.get(bucket)? {
            Some(bytes) => old.decode(bucket, bytes.value())?,
            None => continue,
        }
        kept.clear();
        for e in &old.entries {
            if gone.contains(&e.0) {
                blocks.extend(old.list(e).iter().copied());
            } else {
                kept.push(e.0, old.list(e));
            }
        }
        if kept.entries.len() != old.entries.len() {
            kept.save(t, bucket, &mut buf)?;
        }
    }
    Ok(blocks)
}

/// Written blocks, each with the contact of each of its events.
type Blocks = Vec<(BlockKey, Vec<u32>)>;

/// The blocks written since the last flush, with the contact of each of
/// their events, waiting to be merged into the table.
#[derive(Default)]
pub struct Pending {
    blocks: Blocks,
    events: usize,
    /// blocks noted earlier, being sorted and grouped by contact on a
    /// thread of their own (`group_aside`)
    aside: Option<std::thread::JoinHandle<(Blocks, Grouping)>>,
}

/// The distinct blocks of each contact of a list of blocks: for every
/// contact in id order, indexes into the list, ascending.
struct Grouping {
    contacts: Vec<u32>,
    /// `blocks[ends[i - 1] .. ends[i]]` are contact `contacts[i]`'s
    ends: Vec<u32>,
    blocks: Vec<u32>,
}

impl Grouping {
    fn of(blocks: &[(BlockKey, Vec<u32>)]) -> Grouping {
        let mut g = Grouping { contacts: Vec::new(), ends: Vec::new(), blocks: Vec::new() };
        // `for_each_contact` hands over slices of its own arrays: copied
        // once, in order (the arrays it fills are as large)
        let _ = for_each_contact(blocks, |c, idx| {
            g.contacts.push(c);
            g.blocks.extend_from_slice(idx);
            g.ends.push(g.blocks.len() as u32);
            Ok(())
        });
        g
    }

    fn for_each(&self, mut f: impl FnMut(u32, &[u32]) -> Result<()>) -> Result<()> {
        let mut start = 0;
        for (i, &c) in self.contacts.iter().enumerate() {
            let end = self.ends[i] as usize;
            f(c, &self.blocks[start..end])?;
            start = end;
        }
        Ok(())
    }
}

impl Pending {
    /// Notes a block written under `key` holding events of `contacts` (in any order, repeated).
    pub fn add(&mut self, key: BlockKey, contacts: Vec<u32>) {
        self.events += contacts.len();
        self.blocks.push((key, contacts));
    }

    /// Events noted since the last flush (not counting those grouped aside).
    pub fn events(&self) -> usize {
        self.events
    }

    /// Nothing waits to be merged.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.aside.is_none()
    }

    /// Sorts and groups the blocks noted so far on a thread of their own
    /// (pure work over what was noted, so it overlaps the writer's next
    /// writes); `flush` merges the result.
    pub fn group_aside(&mut self) {
        if self.blocks.is_empty() || self.aside.is_some() {
            return;
        }
        let mut blocks = std::mem::take(&mut self.blocks);
        self.events = 0;
        self.aside = Some(std::thread::spawn(move || {
            blocks.sort_unstable_by_key(|(k, _)| *k);
            let g = Grouping::of(&blocks);
            (blocks, g)
        }));
    }

    /// Merges every noted (contact, block) pair into the table: one read
    /// and one write of each row holding one of the contacts, in id order.
    pub fn flush(&mut self, t: &mut redb::Table<u32, &[u8]>) -> Result<()> {
        if let Some(h) = self.aside.take() {
            let (blocks, g) = h.join().map_err(|_| Error::runtime("grouping the contact index failed"))?;
            let mut m = RowMerge::default();
            g.for_each(|contact, idx| m.add(t, contact, idx.iter().map(|&i| blocks[i as usize].0)))?;
            m.write(t)?;
        }
        if self.blocks.is_empty() {
            return Ok(());
        }
        let mut blocks = std::mem::take(&mut self.blocks);
        self.events = 0;
        blocks.sort_unstable_by_key(|(k, _)| *k);
        let mut m = RowMerge::default();
        for_each_contact(&blocks, |contact, idx| m.add(t, contact, idx.iter().map(|&i| blocks[i as usize].0)))?;
        m.write(t)
    }
}

/// The new blocks of the contacts of one row, and buffers to merge them in.
#[derive(Default)]
struct RowMerge {
    bucket: Option<u32>,
    new: Row,
    old: Row,
    out: Row,
    merged: Vec<BlockKey>,
    buf: Vec<u8>,
}

impl RowMerge {
    /// Adds a contact's new blocks (contacts in id order), writing the row
    /// before when the contact is in the next one.
    fn add(
        &mut self,
        t: &mut redb::Table<u32, &[u8]>,
        contact: u32,
        keys: impl Iterator<Item = BlockKey>,
    ) -> Result<()> {
        if self.bucket != Some(bucket_of(contact)) {
            self.write(t)?;
            self.bucket = Some(bucket_of(contact));
        }
        let start = self.new.keys.len();
        self.new.keys.extend(keys);
        self.new.entries.push((contact, start, self.new.keys.len()));
        Ok(())
    }

    /// Writes the row with the new blocks merged in, and empties `new`.
    fn write(&mut self, t: &mut redb::Table<u32, &[u8]>) -> Result<()> {
        let Some(bucket) = self.bucket.take() else { return Ok(()) };
        let RowMerge { new, old, out, merged, buf, .. } = self;
        match t.get(bucket)? {
            Some(bytes) => old.decode(bucket, bytes.value())?,
            None => old.clear(),
        }
        out.clear();
        let (mut a, mut b) = (old.entries.iter().peekable(), new.entries.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    merged.clear();
                    merge(old.list(x), new.list(y), merged);
                    out.push(x.0, merged);
                    a.next();
                    b.next();
                }
                (Some(x), y) if y.is_none_or(|y| x.0 < y.0) => {
                    out.push(x.0, old.list(x));
                    a.next();
                }
                (_, Some(y)) => {
                    out.push(y.0, new.list(y));
                    b.next();
                }
                _ => break,
            }
        }
        out.save(t, bucket, buf)?;
        new.clear();
        Ok(())
    }
}

/// Calls `f(contact, block indexes)` for every contact of `blocks`, in
/// contact order, with the (distinct, ascending) indexes of its blocks.
fn for_each_contact(blocks: &[(BlockKey, Vec<u32>)], mut f: impl FnMut(u32, &[u32]) -> Result<()>) -> Result<()> {
    let events: usize = blocks.iter().map(|(_, c)| c.len()).sum();
    let (mut lo, mut hi) = (u32::MAX, 0u32);
    for (_, cs) in blocks {
        for &c in cs {
            lo = lo.min(c);
            hi = hi.max(c);
        }
    }
    if lo > hi {
        return Ok(());
    }
    let span = (hi - lo) as usize + 1;
    if span > events.saturating_mul(4).max(1 << 16) {
        // ids too sparse for arrays over their range: sort the pairs
        let mut pairs: Vec<u64> = Vec::with_capacity(events);
        for (j, (_, cs)) in blocks.iter().enumerate() {
            pairs.extend(cs.iter().map(|&c| (c as u64) << 32 | j as u64));
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut idx = Vec::new();
        let mut i = 0;
        while i < pairs.len() {
            let c = (pairs[i] >> 32) as u32;
            idx.clear();
            while i < pairs.len() && (pairs[i] >> 32) as u32 == c {
                idx.push(pairs[i] as u32);
                i += 1;
            }
            f(c, &idx)?;
        }
        return Ok(());
    }
    // counting sort over the id range: `last` is the last block counted for
    // a contact (+1; 0 = none), `start` where its block indexes begin in `out`
    let mut last = vec![0u32; span];
    let mut start = vec![0u32; span + 1];
    for (j, (_, cs)) in blocks.iter().enumerate() {
        let stamp = j as u32 + 1;
        for &c in cs {
            let s = &mut last[(c - lo) as usize];
            if *s != stamp {
                *s = stamp;
                start[(c - lo) as usize + 1] += 1;
            }
        }
    }
    for i in 0..span {
        start[i + 1] += start[i];
    }
    let mut out = vec![0u32; start[span] as usize];
    // `last` becomes the fill cursor of each contact
    last.copy_from_slice(&start[..span]);
    for (j, (_, cs)) in blocks.iter().enumerate() {
        for &c in cs {
            let i = (c - lo) as usize;
            let at = last[i] as usize;
            if at > start[i] as usize && out[at - 1] == j as u32 {
                continue;
            }
            out[at] = j as u32;
            last[i] += 1;
        }
    }
    drop(last);
    for i in 0..span {
        let (a, b) = (start[i] as usize, start[i + 1] as usize);
        if a < b {
            f(lo + i as u32, &out[a..b])?;
        }
    }
    Ok(())
}

/// Merges two sorted lists without repeats.
fn merge(a: &[BlockKey], b: &[BlockKey], out: &mut Vec<BlockKey>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

/// Builds the whole index from the event blocks (the 2 → 3 migration, and
/// checks): one pass over the blocks, decoding only their contact columns.
pub fn build(blocks: &impl ReadableTable<(u16, u64), &'static [u8]>, t: &mut redb::Table<u32, &[u8]>) -> Result<()> {
    let mut pending = Pending::default();
    for row in blocks.iter()? {
        let (k, v) = row?;
        let (_, contacts) = super::codec::EventBlock::decode_contacts(v.value())?;
        pending.add(k.value(), contacts);
        if pending.events() >= FLUSH_EVENTS {
            pending.flush(t)?;
        }
    }
    pending.flush(t)
}

/// contact → its blocks
#[cfg(test)]
pub(crate) type Rows = std::collections::BTreeMap<u32, Vec<BlockKey>>;

/// Every (contact, blocks) row of the index, and what a scan of every
/// block says it should hold (tests: the two must be equal).
#[cfg(test)]
pub(crate) fn rows_and_scan(store: &super::Store) -> (Rows, Rows) {
    use super::tables::{CONTACT_BLOCKS, EVENT_BLOCKS};
    use redb::ReadableDatabase;
    let tx = store.redb().begin_read().unwrap();
    let mut rows = Rows::new();
    for row in tx.open_table(CONTACT_BLOCKS).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        let entries = decode_row(k.value(), v.value()).unwrap();
        assert!(!entries.is_empty(), "an empty row");
        for (c, list) in entries {
            assert!(!list.is_empty(), "an empty list for {c}");
            rows.insert(c, list);
        }
    }
    let mut scan: Rows = Default::default();
    for row in tx.open_table(EVENT_BLOCKS).unwrap().iter().unwrap() {
        let (k, v) = row.unwrap();
        for c in super::codec::EventBlock::decode_contacts(v.value()).unwrap().1 {
            let list = scan.entry(c).or_default();
            if list.last() != Some(&k.value()) {
                list.push(k.value());
            }
        }
    }
    (rows, scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{OpenMode, Store};
    use roaring::RoaringBitmap;

    #[test]
    fn rows_round_trip() {
        let lists: Vec<(u32, Vec<BlockKey>)> = vec![
            (128, vec![(0, 0), (0, 5), (0, 300), (2, 1), (2, 2), (7, u64::MAX), (u16::MAX, 0), (u16::MAX, 9)]),
            (130, vec![(3, 290)]),
            (131, vec![(0, 1), (9, 0)]),
            (191, vec![(1, u64::MAX)]),
        ];
        let mut row = Row::default();
        for (c, l) in &lists {
            row.push(*c, l);
        }
        let mut bytes = Vec::new();
        row.encode(&mut bytes);
        assert_eq!(decode_row(2, &bytes).unwrap(), lists);
        assert!(decode_row(2, &bytes[..bytes.len() - 1]).is_err(), "a cut row");
        assert_eq!(decode_row(2, &[]).unwrap(), vec![]);
        assert!(decode_row(2, &[0x80]).is_err());
        assert!(decode_row(0, &[0; 65]).is_err(), "more ids than a row holds");
        assert!(decode_row(0, &[2, 0]).is_err(), "a list longer than the row");
        // neighbours written together: about a byte per pair
        let mut row = Row::default();
        for c in 0..BUCKET {
            row.push(c, &[(0, 1000 + c as u64 / 8), (1, 1001), (2, 1003)]);
        }
        row.encode(&mut bytes);
        assert!(bytes.len() <= 64 * 4 + 2, "{} bytes", bytes.len());
        assert_eq!(decode_row(0, &bytes).unwrap().len(), 64);
    }

    #[test]
    fn merging_keeps_order_without_repeats() {
        let mut out = Vec::new();
        merge(&[(0, 1), (1, 4), (3, 3)], &[(0, 2), (1, 4), (2, 0), (3, 9)], &mut out);
        assert_eq!(out, vec![(0, 1), (0, 2), (1, 4), (2, 0), (3, 3), (3, 9)]);
    }

    /// Both ways of grouping (arrays over the id range, sorted pairs) give
    /// every contact its distinct blocks in key order.
    #[test]
    fn grouping_by_contact() {
        for spread in [1u32, 1_000_000] {
            let mut blocks: Vec<(BlockKey, Vec<u32>)> = Vec::new();
            let mut expect: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
            for j in 0..20u32 {
                let cs: Vec<u32> = (0..50u32).map(|i| ((i * 7 + j * 13) % 31) * spread + 3).collect();
                for &c in &cs {
                    let e = expect.entry(c).or_default();
                    if e.last() != Some(&j) {
                        e.push(j);
                    }
                }
                blocks.push(((j as u16 / 5, j as u64), cs));
            }
            let mut got: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
            for_each_contact(&blocks, |c, idx| {
                assert!(got.insert(c, idx.to_vec()).is_none(), "contact {c} twice");
                Ok(())
            })
            .unwrap();
            assert_eq!(got, expect, "spread {spread}");
        }
    }

    /// Blocks grouped aside, then more noted before the flush, give the
    /// rows that one flush of all of them gives.
    #[test]
    fn grouped_aside_then_more_blocks_give_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("g.redb")).unwrap();
        let block = |j: u32| -> (BlockKey, Vec<u32>) {
            ((j as u16 % 3, j as u64), (0..40u32).map(|i| (i * 11 + j * 17) % 300).collect())
        };
        let tx = db.begin_write().unwrap();
        let rows = |name: &str, aside_after: Option<u32>| {
            let def = redb::TableDefinition::<u32, &[u8]>::new(name);
            let mut t = tx.open_table(def).unwrap();
            let mut p = Pending::default();
            for j in 0..30 {
                p.add(block(j).0, block(j).1);
                if Some(j) == aside_after {
                    p.group_aside();
                    assert!(!p.is_empty());
                }
            }
            p.flush(&mut t).unwrap();
            assert!(p.is_empty());
            let mut out = Vec::new();
            for r in t.iter().unwrap() {
                let (k, v) = r.unwrap();
                out.push((k.value(), decode_row(k.value(), v.value()).unwrap()));
            }
            out
        };
        let once = rows("once", None);
        assert_eq!(rows("aside_first", Some(9)), once);
        assert_eq!(rows("aside_all", Some(29)), once);
        assert!(once.len() > 3);
    }

    /// Writes `n` events of `kind` spread over `contacts`, in one transaction.
    fn events(store: &Store, kind: u16, contacts: &[u32], n: u32, t0: i64) {
        let mut w = store.begin_write().unwrap();
        let mut l = crate::store::Loader::new(&mut w);
        for i in 0..n {
            let c = contacts[(i as usize * 7919) % contacts.len()];
            l.append_event(kind, c, t0 + i as i64, 0, [0; 3], &[]).unwrap();
        }
        l.finish().unwrap();
        w.commit().unwrap();
    }

    /// Every write keeps the index equal to a scan of the blocks, and
    /// erasing contacts leaves no row of theirs (nor a row naming a block
    /// that went away with them).
    #[test]
    fn writes_and_erasure_keep_the_index_exact() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("i.redb"), OpenMode::Create).unwrap();
        let many: Vec<u32> = (1..=300).collect();
        events(&store, 0, &many, 150_000, 0); // full blocks and a partial one
        events(&store, 1, &many[..20], 1000, 10);
        events(&store, 2, &[7], 3, 20); // a block of contact 7 alone
        events(&store, 0, &[8, 9, 300], 10, 30);
        let (rows, scan) = rows_and_scan(&store);
        assert_eq!(rows, scan);
        // kind 0's blocks, cut to fit redb's allocations (`encode_fitted`), then one of 1 and 2
        let of = |k: u16| rows[&7].iter().filter(|b| b.0 == k).count();
        assert!(of(0) >= 3 && of(1) == 1 && of(2) == 1, "{:?}", rows[&7]);
        let r = store.begin_read().unwrap();
        for c in [1, 7, 8, 20, 21, 300, 301] {
            assert_eq!(r.events_of(c).unwrap(), r.events_of_by_scan(c).unwrap(), "contact {c}");
        }
        assert!(r.events_of(301).unwrap().is_empty());
        drop(r);

        // two contacts of the first row, and every contact of the second
        let gone: RoaringBitmap = [7u32, 8].into_iter().chain(BUCKET..2 * BUCKET).collect();
        let alone = *rows[&7].iter().find(|k| k.0 == 2).unwrap();
        let mut w = store.begin_write().unwrap();
        w.delete_contacts(&gone).unwrap();
        w.commit().unwrap();
        let (rows, scan) = rows_and_scan(&store);
        assert_eq!(rows, scan);
        assert!(gone.iter().all(|c| !rows.contains_key(&c)), "an erased contact keeps its entry");
        assert!(rows.contains_key(&6) && rows.contains_key(&(2 * BUCKET)));
        {
            use redb::ReadableDatabase;
            let tx = store.redb().begin_read().unwrap();
            let t = tx.open_table(crate::store::tables::CONTACT_BLOCKS).unwrap();
            assert!(t.get(0).unwrap().is_some() && t.get(1).unwrap().is_none(), "the emptied row is removed");
        }
        assert!(rows.values().all(|l| !l.contains(&alone)), "a removed block is still indexed");
        let r = store.begin_read().unwrap();
        assert!(r.blocks(&[alone]).unwrap().is_empty(), "the block of contact 7 alone is gone");
        for c in [7, 8] {
            assert!(r.events_of(c).unwrap().is_empty());
            assert!(r.events_of_by_scan(c).unwrap().is_empty());
        }
        for c in [1, 9, 20, 300] {
            assert_eq!(r.events_of(c).unwrap(), r.events_of_by_scan(c).unwrap(), "contact {c}");
        }
    }

    /// Blocks written and contacts erased in one transaction, and events
    /// added to a contact that has some already: rows merge.
    #[test]
    fn one_transaction_writes_and_erases() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("i.redb"), OpenMode::Create).unwrap();
        events(&store, 3, &[1, 2, 3], 30, 0);
        let mut w = store.begin_write().unwrap();
        let mut l = crate::store::Loader::new(&mut w);
        for i in 0..20 {
            l.append_event(3, 1 + i % 4, 100 + i as i64, 0, [0; 3], &[]).unwrap();
            l.append_event(1, 5, 100 + i as i64, 0, [0; 3], &[]).unwrap();
        }
        l.finish().unwrap();
        w.delete_contacts(&[2u32].into_iter().collect()).unwrap();
        let mut l = crate::store::Loader::new(&mut w);
        l.append_event(3, 2, 500, 0, [0; 3], &[]).unwrap();
        l.finish().unwrap();
        w.commit().unwrap();
        let (rows, scan) = rows_and_scan(&store);
        assert_eq!(rows, scan);
        // blocks: (3, 1) first; then before the erasure (1, 2) and (3, 3); then (3, 4)
        assert_eq!(rows[&1], vec![(3, 1), (3, 3)]);
        assert_eq!(rows[&2], vec![(3, 4)], "only the event written after the erasure");
        assert_eq!(rows[&5], vec![(1, 2)]);
    }
}
