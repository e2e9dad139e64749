//! Contact fields stored as columns (`CONTACT_COLUMNS`), next to the
//! records: a criterion on `age` or `near(...)` reads the one or two
//! columns it needs, never a million records. The records stay the source
//! of truth; the columns are kept in step by the writer.
//!
//! A row holds one field's values for `CHUNK` consecutive contact ids (key:
//! (field number, id / `CHUNK`)); a field with no value in a chunk has no
//! row. Encoding: the shape (1 numbers, 2 texts, 3 sets), which slots have
//! a value (0 none, 1 all, 2 a bitmap of `CHUNK` bits follows), then the
//! present values in slot order: numbers as their minimum (zigzag varint),
//! a bit width and the differences to the minimum packed in 64-bit words;
//! texts as their byte lengths (varints) then their bytes, or (shape 4,
//! when at most half of them are distinct: cities, time zones) the number
//! of distinct values, their lengths and bytes, then each slot's index into
//! them packed like numbers; sets as a count and the value indexes
//! (varints).
//!
//! The writer notes every contact it writes or erases in `Pending` (dense
//! per chunk, no copy of the record) and merges the chunks into their rows
//! at commit, or when they hold more than `MAX_HELD_BYTES`.

use super::codec::{get_uvarint, put_uvarint, unzigzag, zigzag};
use crate::error::{Error, Result};
use crate::model::Schema;
use crate::model::attribute::AttrType;
use crate::model::contact::{AttrValueView, Contact, ContactView};
use redb::ReadableTable;
use rustc_hash::FxHashMap;

/// Contact ids per row.
pub const CHUNK: u32 = 4096;
const SLOTS: usize = CHUNK as usize;

/// Chunks held before they are merged into the table.
const MAX_HELD_BYTES: usize = 256 << 20;

/// Whole rows held before they are written (an import of new contacts
/// writes them as it goes).
const READY_BYTES: usize = 16 << 20;

/// "No value" in a column of numbers.
pub const NONE: i64 = i64::MIN;

/// A field of the contact record kept as a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Score,
    CreatedAt,
    Email,
    ExternalId,
    Timezone,
    /// opted in (1) or out (0), by channel
    Consent(u8),
    /// a schema attribute by index: numbers in units, dates in days,
    /// booleans 0/1, one-of values by index, texts, sets
    Attr(u16),
}

/// How a field's values are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Numbers,
    Texts,
    Sets,
}

impl Field {
    /// The field's number in the table key.
    pub fn key(self) -> u16 {
        match self {
            Field::Score => 0,
            Field::CreatedAt => 1,
            Field::Email => 2,
            Field::ExternalId => 3,
            Field::Timezone => 4,
            Field::Consent(c) => 5 + c as u16,
            Field::Attr(i) => 16 + i,
        }
    }

    /// Every field of a contact under `schema`.
    pub fn all(schema: &Schema) -> Vec<Field> {
        let mut v = vec![Field::Score, Field::CreatedAt, Field::Email, Field::ExternalId, Field::Timezone];
        v.extend((0..3).map(Field::Consent));
        v.extend((0..schema.attributes.len() as u16).map(Field::Attr));
        v
    }

    pub fn shape(self, schema: &Schema) -> Shape {
        match self {
            Field::Email | Field::ExternalId | Field::Timezone => Shape::Texts,
            Field::Attr(i) => match schema.attributes.get(i as usize).map(|a| &a.ty) {
                Some(AttrType::Text) => Shape::Texts,
                Some(AttrType::Set(_)) => Shape::Sets,
                _ => Shape::Numbers,
            },
            _ => Shape::Numbers,
        }
    }
}

/// Text values by slot: one arena, (start, len) per slot, len `NO_TEXT` for none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Texts {
    start: Vec<u32>,
    len: Vec<u32>,
    arena: String,
}

const NO_TEXT: u32 = u32::MAX;

impl Texts {
    fn new() -> Texts {
        Texts { start: vec![0; SLOTS], len: vec![NO_TEXT; SLOTS], arena: String::new() }
    }
    pub fn get(&self, slot: usize) -> Option<&str> {
        match self.len[slot] {
            NO_TEXT => None,
            l => Some(&self.arena[self.start[slot] as usize..(self.start[slot] + l) as usize]),
        }
    }
    fn set(&mut self, slot: usize, v: Option<&str>) {
        match v {
            None => self.len[slot] = NO_TEXT,
            Some(s) => {
                self.start[slot] = self.arena.len() as u32;
                self.len[slot] = s.len() as u32;
                self.arena.push_str(s);
            }
        }
    }
}

/// One field's values for the `CHUNK` slots of a chunk (slot = id % `CHUNK`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Col {
    Numbers(Vec<i64>),
    Texts(Texts),
    Sets(Vec<Vec<u16>>),
}

impl Col {
    pub fn empty(shape: Shape) -> Col {
        match shape {
            Shape::Numbers => Col::Numbers(vec![NONE; SLOTS]),
            Shape::Texts => Col::Texts(Texts::new()),
            Shape::Sets => Col::Sets(vec![Vec::new(); SLOTS]),
        }
    }

    fn present(&self, slot: usize) -> bool {
        match self {
            Col::Numbers(v) => v[slot] != NONE,
            Col::Texts(t) => t.len[slot] != NO_TEXT,
            Col::Sets(s) => !s[slot].is_empty(),
        }
    }

    /// Takes slot `slot`'s value from `other` (same shape).
    fn copy_slot(&mut self, other: &Col, slot: usize) {
        match (self, other) {
            (Col::Numbers(a), Col::Numbers(b)) => a[slot] = b[slot],
            (Col::Texts(a), Col::Texts(b)) => a.set(slot, b.get(slot)),
            (Col::Sets(a), Col::Sets(b)) => a[slot].clone_from(&b[slot]),
            _ => {}
        }
    }

    /// Sets slot `slot` to contact `c`'s value of `f` (none for no contact).
    fn set_from(&mut self, slot: usize, f: Field, c: Option<&ContactView>) {
        match self {
            Col::Numbers(v) => v[slot] = c.and_then(|c| number_of(f, c)).unwrap_or(NONE),
            Col::Texts(t) => t.set(slot, c.and_then(|c| text_of(f, c))),
            Col::Sets(s) => {
                s[slot].clear();
                if let Field::Attr(i) = f
                    && let Some(AttrValueView::Set(vs)) = c.and_then(|c| c.attr(i))
                {
                    s[slot].extend_from_slice(vs);
                }
            }
        }
    }

    fn held_bytes(&self) -> usize {
        match self {
            Col::Numbers(_) => SLOTS * 8,
            Col::Texts(t) => SLOTS * 8 + t.arena.len(),
            Col::Sets(s) => SLOTS * 24 + s.iter().map(|x| x.len() * 2).sum::<usize>(),
        }
    }

    /// The row's bytes; None when no slot has a value.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let present: Vec<usize> = (0..SLOTS).filter(|&s| self.present(s)).collect();
        if present.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        // texts say below whether they keep a dictionary (4) or not (2)
        out.push(match self {
            Col::Numbers(_) => 1,
            Col::Texts(_) => 2,
            Col::Sets(_) => 3,
        });
        if present.len() == SLOTS {
            out.push(1);
        } else {
            out.push(2);
            let mut bits = [0u8; SLOTS / 8];
            for &s in &present {
                bits[s / 8] |= 1 << (s % 8);
            }
            out.extend_from_slice(&bits);
        }
        match self {
            Col::Numbers(v) => {
                let min = present.iter().map(|&s| v[s]).min().expect("not empty");
                let max = present.iter().map(|&s| v[s]).max().expect("not empty");
                let width = 64 - (max as u64).wrapping_sub(min as u64).leading_zeros();
                put_uvarint(&mut out, zigzag(min));
                pack(&mut out, present.iter().map(|&s| (v[s] as u64).wrapping_sub(min as u64)), width);
            }
            Col::Texts(t) => {
                // few distinct values (cities, time zones): each once, then an index per slot
                let mut distinct: FxHashMap<&str, u32> = FxHashMap::default();
                let mut order: Vec<&str> = Vec::new();
                let mut index = Vec::with_capacity(present.len());
                for (n, &s) in present.iter().enumerate() {
                    // mostly distinct so far (emails, phones): no dictionary
                    if n == 256 && order.len() > 128 {
                        break;
                    }
                    let v = t.get(s).expect("present");
                    let next = order.len() as u32;
                    let i = *distinct.entry(v).or_insert(next);
                    if i == next {
                        order.push(v);
                    }
                    index.push(i as u64);
                }
                let dictionary = index.len() == present.len() && order.len() * 2 <= present.len();
                if dictionary {
                    put_uvarint(&mut out, order.len() as u64);
                    for v in &order {
                        put_uvarint(&mut out, v.len() as u64);
                    }
                    for v in &order {
                        out.extend_from_slice(v.as_bytes());
                    }
                } else {
                    out.reserve(present.len() * 2 + t.arena.len());
                    for &s in &present {
                        put_uvarint(&mut out, t.len[s] as u64);
                    }
                    // texts set once each in slot order (new contacts) lie
                    // in the arena as they are written: copied in one go
                    let end = |s: usize| t.start[s] + t.len[s];
                    if present.windows(2).all(|w| t.start[w[1]] == end(w[0])) {
                        let (first, last) = (present[0], present[present.len() - 1]);
                        out.extend_from_slice(&t.arena.as_bytes()[t.start[first] as usize..end(last) as usize]);
                    } else {
                        for &s in &present {
                            out.extend_from_slice(t.get(s).expect("present").as_bytes());
                        }
                    }
                }
                if dictionary {
                    let width = 64 - (order.len() as u64 - 1).leading_zeros();
                    pack(&mut out, index.into_iter(), width);
                }
                out[0] = if dictionary { 4 } else { 2 };
            }
            Col::Sets(sets) => {
                for &s in &present {
                    put_uvarint(&mut out, sets[s].len() as u64);
                    for &x in &sets[s] {
                        put_uvarint(&mut out, x as u64);
                    }
                }
            }
        }
        Some(out)
    }

    pub fn decode(b: &[u8]) -> Result<Col> {
        decode(b).ok_or_else(|| Error::runtime("corrupt contact column row"))
    }
}

fn decode(b: &[u8]) -> Option<Col> {
    let (&shape, rest) = b.split_first()?;
    let (&mode, mut rest) = rest.split_first()?;
    let present: Vec<usize> = match mode {
        1 => (0..SLOTS).collect(),
        2 => {
            let bits = rest.get(..SLOTS / 8)?;
            rest = &rest[SLOTS / 8..];
            (0..SLOTS).filter(|&s| bits[s / 8] & (1 << (s % 8)) != 0).collect()
        }
        _ => return None,
    };
    let mut pos = 0;
    match shape {
        1 => {
            let min = unzigzag(get_uvarint(rest, &mut pos)?);
            let mut v = vec![NONE; SLOTS];
            let d = unpack(rest, &mut pos, present.len())?;
            if !padding(&rest[pos.min(rest.len())..]) {
                return None;
            }
            for (&s, d) in present.iter().zip(d) {
                v[s] = (min as u64).wrapping_add(d) as i64;
            }
            Some(Col::Numbers(v))
        }
        2 | 4 => {
            let dictionary = shape == 4;
            let k = if dictionary { get_uvarint(rest, &mut pos)? as usize } else { present.len() };
            if k > rest.len() || (dictionary && k == 0) {
                return None;
            }
            let mut lens = Vec::with_capacity(k);
            for _ in 0..k {
                lens.push(u32::try_from(get_uvarint(rest, &mut pos)?).ok().filter(|&l| l != NO_TEXT)?);
            }
            let total = lens.iter().try_fold(0u32, |a, &l| a.checked_add(l))? as usize;
            let bytes = std::str::from_utf8(rest.get(pos..pos.checked_add(total)?)?).ok()?;
            pos += total;
            // where each value starts in `bytes`; each must end on a character boundary
            let mut starts = Vec::with_capacity(k);
            let mut at = 0u32;
            for &l in &lens {
                starts.push(at);
                at += l;
                bytes.get(..at as usize)?;
            }
            let mut t = Texts::new();
            t.arena = bytes.to_string();
            let index: Vec<u64> =
                if dictionary { unpack(rest, &mut pos, present.len())? } else { (0..k as u64).collect() };
            if !padding(&rest[pos.min(rest.len())..]) {
                return None;
            }
            for (&s, &i) in present.iter().zip(&index) {
                let i = usize::try_from(i).ok().filter(|&i| i < k)?;
                t.start[s] = starts[i];
                t.len[s] = lens[i];
            }
            Some(Col::Texts(t))
        }
        3 => {
            let mut sets = vec![Vec::new(); SLOTS];
            for &s in &present {
                let n = get_uvarint(rest, &mut pos)? as usize;
                if n == 0 || n > rest.len() {
                    return None;
                }
                for _ in 0..n {
                    sets[s].push(u16::try_from(get_uvarint(rest, &mut pos)?).ok()?);
                }
            }
            if !padding(&rest[pos.min(rest.len())..]) {
                return None;
            }
            Some(Col::Sets(sets))
        }
        _ => None,
    }
}

/// Zeros after a row's values: an erasure pads a shortened row to its old
/// length (see `Pending::flush`).
fn padding(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == 0)
}

/// Writes a bit width, then `values` (each below 2^width) packed in 64-bit words.
fn pack(out: &mut Vec<u8>, values: impl ExactSizeIterator<Item = u64>, width: u32) {
    out.push(width as u8);
    if width == 0 {
        return;
    }
    let width = width as usize;
    let mut words = vec![0u64; (values.len() * width).div_ceil(64)];
    for (i, d) in values.enumerate() {
        let (w, off) = ((i * width) / 64, (i * width) % 64);
        words[w] |= d << off;
        if off + width > 64 {
            words[w + 1] |= d >> (64 - off);
        }
    }
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

/// Reads what `pack` wrote for `n` values at `pos`, advancing it.
fn unpack(b: &[u8], pos: &mut usize, n: usize) -> Option<Vec<u64>> {
    let width = *b.get(*pos)? as usize;
    *pos += 1;
    if width > 64 {
        return None;
    }
    if width == 0 {
        return Some(vec![0; n]);
    }
    let nwords = (n * width).div_ceil(64);
    let words: Vec<u64> = b
        .get(*pos..*pos + nwords * 8)?
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    *pos += nwords * 8;
    let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
    Some(
        (0..n)
            .map(|i| {
                let (w, off) = ((i * width) / 64, (i * width) % 64);
                let mut d = words[w] >> off;
                if off + width > 64 {
                    d |= words[w + 1] << (64 - off);
                }
                d & mask
            })
            .collect(),
    )
}

/// Contact `c`'s value of a field held as a number.
fn number_of(f: Field, c: &ContactView) -> Option<i64> {
    match f {
        Field::Score => Some(c.score),
        Field::CreatedAt => Some(c.created_at),
        Field::Consent(ch) => c.consent.get(ch as usize).copied().flatten().map(|x| x.opted_in as i64),
        Field::Attr(i) => match c.attr(i)? {
            AttrValueView::Number(d) => Some(d.units()),
            AttrValueView::Bool(b) => Some(*b as i64),
            AttrValueView::Date(d) => Some(*d as i64),
            AttrValueView::Enum(e) => Some(*e as i64),
            AttrValueView::Text(_) | AttrValueView::Set(_) => None,
        },
        Field::Email | Field::ExternalId | Field::Timezone => None,
    }
    .filter(|&v| v != NONE)
}

fn text_of<'a>(f: Field, c: &ContactView<'a>) -> Option<&'a str> {
    match f {
        Field::Email => c.email,
        Field::ExternalId => c.external_id,
        Field::Timezone => c.timezone,
        Field::Attr(i) => match c.attr(i)? {
            AttrValueView::Text(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// A row's key: (field number, chunk).
type RowKey = (u16, u32);

/// One field's values written in one chunk, not yet merged into its row.
struct FieldEdit {
    col: Col,
    /// the slots written, and how many
    written: Vec<bool>,
    n_written: usize,
}

/// The contacts written or erased in one chunk: for each field (as
/// `Field::all` of the schema), the values that changed.
struct ChunkEdit {
    fields: Vec<Option<FieldEdit>>,
    /// some slot was erased
    erased: bool,
}

/// The writer's contacts not yet in the columns.
#[derive(Default)]
pub struct Pending {
    chunks: FxHashMap<u32, ChunkEdit>,
    /// rows whose every slot was written (an import's new contacts),
    /// encoded as soon as the last one was: (key, bytes or none)
    ready: Vec<(RowKey, Option<Vec<u8>>)>,
    ready_bytes: usize,
    /// the fields and shapes of the schema last seen (by its attribute count)
    fields: Vec<(Field, Shape)>,
    bytes: usize,
}

/// Field `f` holds the same value for `a` and `b`.
fn same_value(f: Field, a: &ContactView, b: &ContactView) -> bool {
    match f {
        Field::Attr(i) => a.attr(i) == b.attr(i),
        _ => number_of(f, a) == number_of(f, b) && text_of(f, a) == text_of(f, b),
    }
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.ready.is_empty()
    }

    pub fn over_bound(&self) -> bool {
        self.bytes > MAX_HELD_BYTES
    }

    /// Enough whole rows are encoded to be written now (`flush_ready`).
    pub fn ready_to_write(&self) -> bool {
        self.ready_bytes > READY_BYTES
    }

    /// Writes the whole rows encoded so far (a write in key order per call).
    pub fn flush_ready(&mut self, t: &mut redb::Table<(u16, u32), &[u8]>) -> Result<()> {
        let mut ready = std::mem::take(&mut self.ready);
        self.bytes = self.bytes.saturating_sub(self.ready_bytes);
        self.ready_bytes = 0;
        ready.sort_by_key(|(k, _)| *k);
        for (key, row) in ready {
            match row {
                Some(bytes) => t.insert(key, bytes.as_slice())?,
                None => t.remove(key)?,
            };
        }
        Ok(())
    }

    /// Notes contact `id` as written with record `new` (or erased, for
    /// `None`); `old` is its record before, when it had one: only the
    /// fields whose value changed are noted (a score update notes the
    /// score alone).
    pub fn note(&mut self, schema: &Schema, id: u32, new: Option<&ContactView>, old: Option<&ContactView>) {
        self.know_fields(schema);
        let chunk = id / CHUNK;
        let slot = (id % CHUNK) as usize;
        let e = self.chunks.entry(chunk).or_insert_with(|| ChunkEdit { fields: Vec::new(), erased: false });
        e.erased |= new.is_none();
        e.fields.resize_with(self.fields.len(), || None);
        for (j, &(f, shape)) in self.fields.iter().enumerate() {
            if let (Some(a), Some(b)) = (new, old)
                && same_value(f, a, b)
            {
                continue;
            }
            let fe = e.fields[j].get_or_insert_with(|| {
                let col = Col::empty(shape);
                self.bytes += col.held_bytes() + SLOTS;
                FieldEdit { col, written: vec![false; SLOTS], n_written: 0 }
            });
            if !fe.written[slot] {
                fe.written[slot] = true;
                fe.n_written += 1;
            }
            if let (Col::Texts(_), Some(c)) = (&fe.col, new) {
                self.bytes += text_of(f, c).map_or(0, str::len);
            }
            fe.col.set_from(slot, f, new);
            if fe.n_written == SLOTS && !e.erased {
                // every slot written: nothing stored to keep, encode it now
                let fe = e.fields[j].take().expect("noted");
                self.bytes = self.bytes.saturating_sub(fe.col.held_bytes() + SLOTS);
                let row = fe.col.encode();
                self.bytes += row.as_ref().map_or(0, Vec::len);
                self.ready_bytes += row.as_ref().map_or(0, Vec::len);
                self.ready.push(((f.key(), chunk), row));
            }
        }
    }

    /// The fields and shapes of `schema` (kept while its attributes stay).
    fn know_fields(&mut self, schema: &Schema) {
        if self.fields.len() != 8 + schema.attributes.len() {
            self.fields = Field::all(schema).into_iter().map(|f| (f, f.shape(schema))).collect();
        }
    }

    /// `note` of new contacts, `list` in ascending id order (as
    /// `Writer::put_new_contact_records` takes them). A chunk they fill
    /// whole, with nothing noted in it before, is built column by column
    /// and encoded at once, with none of `note`'s bookkeeping per value
    /// (which was most of the time an import of new contacts spent noting
    /// them); the contacts of other chunks go through `note`.
    pub fn note_new(&mut self, schema: &Schema, list: &[Contact]) {
        self.know_fields(schema);
        let mut view = ContactView::default();
        let mut cols: Vec<Col> = Vec::new();
        let mut i = 0;
        while i < list.len() {
            let id = list[i].id;
            let chunk = id / CHUNK;
            // ascending ids from the chunk's first to its last: all of it
            let whole = id.is_multiple_of(CHUNK)
                && list.get(i + SLOTS - 1).is_some_and(|c| c.id == id + (CHUNK - 1))
                && !self.chunks.contains_key(&chunk);
            if !whole {
                view.refill(&list[i]);
                self.note(schema, id, Some(&view), None);
                i += 1;
                continue;
            }
            cols.clear();
            cols.extend(self.fields.iter().map(|&(_, shape)| Col::empty(shape)));
            for c in &list[i..i + SLOTS] {
                view.refill(c);
                let slot = (c.id % CHUNK) as usize;
                for (col, &(f, _)) in cols.iter_mut().zip(&self.fields) {
                    col.set_from(slot, f, Some(&view));
                }
            }
            for (col, &(f, _)) in cols.iter().zip(&self.fields) {
                let row = col.encode();
                let n = row.as_ref().map_or(0, Vec::len);
                self.bytes += n;
                self.ready_bytes += n;
                self.ready.push(((f.key(), chunk), row));
            }
            i += SLOTS;
        }
    }

    /// Merges the noted values into their rows: each row read once, its
    /// written slots replaced, the row written back (or removed when
    /// nothing is left in it).
    pub fn flush(&mut self, t: &mut redb::Table<(u16, u32), &[u8]>) -> Result<()> {
        // whole rows first: a row written again afterwards merges on top
        self.flush_ready(t)?;
        let mut chunks: Vec<(u32, ChunkEdit)> = self.chunks.drain().collect();
        self.bytes = 0;
        chunks.sort_unstable_by_key(|(c, _)| *c);
        for (chunk, e) in chunks {
            for (j, fe) in e.fields.into_iter().enumerate() {
                let Some(FieldEdit { mut col, written, n_written }) = fe else { continue };
                let key = (self.fields[j].0.key(), chunk);
                let all_written = n_written == SLOTS;
                let stored = if all_written && !e.erased { None } else { t.get(key)?.map(|v| v.value().to_vec()) };
                if let Some(old) = stored.as_deref().filter(|_| !all_written).map(Col::decode).transpose()? {
                    // keep the stored values of the slots not written
                    let mut merged = old;
                    if std::mem::discriminant(&merged) == std::mem::discriminant(&col) {
                        for (s, &w) in written.iter().enumerate() {
                            if w {
                                merged.copy_slot(&col, s);
                            }
                        }
                        col = merged;
                    }
                }
                let bytes = col.encode();
                match (bytes, stored) {
                    // an erasure overwrites the old row in place first: redb
                    // rewrites a value of the same length where it lies, but
                    // leaves the bytes of a shorter one behind in the page
                    (bytes, Some(old)) if e.erased && bytes.as_ref().is_none_or(|b| b.len() < old.len()) => {
                        let mut padded = bytes.clone().unwrap_or_default();
                        padded.resize(old.len(), 0);
                        t.insert(key, padded.as_slice())?;
                        if bytes.is_none() {
                            t.remove(key)?;
                        }
                    }
                    (Some(bytes), _) => {
                        t.insert(key, bytes.as_slice())?;
                    }
                    (None, _) => {
                        t.remove(key)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Builds every column from the contact records (the 5 → 6 migration).
pub fn build(
    schema: &Schema,
    contacts: &impl ReadableTable<u32, &'static [u8]>,
    t: &mut redb::Table<(u16, u32), &[u8]>,
) -> Result<()> {
    let mut p = Pending::default();
    for row in contacts.iter()? {
        let (id, v) = row?;
        let c: ContactView = postcard::from_bytes(v.value())?;
        p.note(schema, id.value(), Some(&c), None);
        if p.over_bound() {
            p.flush(t)?;
        } else if p.ready_to_write() {
            p.flush_ready(t)?;
        }
    }
    p.flush(t)
}

/// Calls `f` with each row of `field`'s column: (the chunk's first id, its values).
pub fn for_each_row(
    t: &impl ReadableTable<(u16, u32), &'static [u8]>,
    field: Field,
    mut f: impl FnMut(u32, Col),
) -> Result<()> {
    for row in t.range((field.key(), 0)..=(field.key(), u32::MAX))? {
        let (k, v) = row?;
        f(k.value().1 * CHUNK, Col::decode(v.value())?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(vals: &[(usize, i64)]) -> Col {
        let mut v = vec![NONE; SLOTS];
        for &(s, x) in vals {
            v[s] = x;
        }
        Col::Numbers(v)
    }

    /// A contact with every kind of value, some left out by its id.
    fn varied_contact(schema: &Schema, id: u32) -> Contact {
        use crate::model::attribute::AttrValue;
        use crate::model::{Consent, Decimal};
        let attrs = (schema.attributes.iter().enumerate())
            .filter(|(i, _)| !(id as usize + i).is_multiple_of(5))
            .map(|(i, a)| {
                let n = id as i64 * 7 + i as i64;
                let v = match &a.ty {
                    AttrType::Number => {
                        AttrValue::Number(Decimal::parse(&format!("{}.{}", n % 1000, n % 100)).unwrap())
                    }
                    AttrType::Text => AttrValue::Text(format!("t{}", n % (3 + 50 * (i as i64 % 2))).into()),
                    AttrType::Bool => AttrValue::Bool(n % 2 == 0),
                    AttrType::Date => AttrValue::Date((n % 20_000) as i32),
                    AttrType::Enum(vs) => AttrValue::Enum((n as usize % vs.len()) as u16),
                    AttrType::Set(vs) => {
                        AttrValue::Set((0..vs.len() as u16).filter(|k| (n + *k as i64) % 3 == 0).collect())
                    }
                };
                (i as u16, v)
            })
            .collect();
        Contact {
            id,
            external_id: (!id.is_multiple_of(3)).then(|| format!("C{id:07}").into()),
            email: (!id.is_multiple_of(4)).then(|| format!("p{id}@example.com").into()),
            created_at: 1_700_000_000 + id as i64,
            timezone: (!id.is_multiple_of(6))
                .then(|| ["Europe/Rome", "Europe/Paris"][id as usize % 2].to_string().into()),
            score: id as i64 % 17 - 3,
            consent: [id.is_multiple_of(2).then_some(Consent { opted_in: id.is_multiple_of(4), at: 5 }), None, None],
            attrs,
            ..Default::default()
        }
    }

    /// Every row of a table, in key order.
    fn rows_of(p: &mut Pending) -> Vec<((u16, u32), Vec<u8>)> {
        use redb::TableDefinition;
        const T: TableDefinition<(u16, u32), &[u8]> = TableDefinition::new("columns");
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("c.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        p.flush(&mut tx.open_table(T).unwrap()).unwrap();
        let t = tx.open_table(T).unwrap();
        t.iter().unwrap().map(|r| r.unwrap()).map(|(k, v)| (k.value(), v.value().to_vec())).collect()
    }

    /// New contacts noted in bulk (whole chunks built column by column,
    /// the ends value by value) give the rows noting each in turn gives:
    /// a run starting inside a chunk, two whole chunks, a chunk noted
    /// before, and a run ending inside one.
    #[test]
    fn new_contacts_noted_in_bulk_are_noted_each() {
        let schema = Schema::default();
        let c = CHUNK;
        let ids: Vec<u32> = (c - 10..3 * c).chain(4 * c + 5..5 * c).chain(5 * c..6 * c + 20).collect();
        let list: Vec<Contact> = ids.iter().map(|&id| varied_contact(&schema, id)).collect();
        let (mut bulk, mut each) = (Pending::default(), Pending::default());
        // a batch before, ending inside chunk 4
        let before = [varied_contact(&schema, 4 * c + 1)];
        bulk.note_new(&schema, &before);
        bulk.note_new(&schema, &list[..100]);
        bulk.note_new(&schema, &list[100..]);
        for x in before.iter().chain(&list) {
            each.note(&schema, x.id, Some(&ContactView::of(x)), None);
        }
        let (bulk, each) = (rows_of(&mut bulk), rows_of(&mut each));
        assert_eq!(bulk.len(), each.len());
        assert!(bulk.iter().any(|((_, chunk), _)| *chunk == 5), "a whole chunk written");
        assert!(bulk == each, "the same rows");
    }

    #[test]
    fn numbers_round_trip_at_every_width() {
        for vals in [
            vec![(0, 5)],
            vec![(0, 0), (1, 0), (4095, 0)],
            vec![(3, -7), (9, 1 << 40), (100, 12)],
            vec![(1, i64::MIN + 1), (2, i64::MAX)],
        ] {
            let c = numbers(&vals);
            assert_eq!(Col::decode(&c.encode().unwrap()).unwrap(), c);
        }
        let all = Col::Numbers((0..SLOTS as i64).map(|i| i * 37 - 1000).collect());
        assert_eq!(Col::decode(&all.encode().unwrap()).unwrap(), all);
        assert_eq!(numbers(&[]).encode(), None);
    }

    /// Texts encode the same whether the arena holds them in slot order
    /// (copied in one go) or not (copied one by one), with or without a
    /// dictionary.
    #[test]
    fn texts_encode_the_same_in_any_arena_order() {
        for distinct in [3, SLOTS] {
            let value = |s: usize| (s % 7 != 3).then(|| format!("v{}-{}", s % distinct, "x".repeat(s % 5)));
            let (mut in_order, mut reversed, mut rewritten) = (Texts::new(), Texts::new(), Texts::new());
            for s in 0..SLOTS {
                in_order.set(s, value(s).as_deref());
                rewritten.set(s, Some("old"));
            }
            for s in (0..SLOTS).rev() {
                reversed.set(s, value(s).as_deref());
            }
            for s in 0..SLOTS {
                rewritten.set(s, value(s).as_deref());
            }
            let want = Col::Texts(in_order).encode().unwrap();
            assert_eq!(want[0], if distinct == 3 { 4 } else { 2 }, "dictionary only for few values");
            assert_eq!(Col::Texts(reversed).encode().unwrap(), want);
            assert_eq!(Col::Texts(rewritten).encode().unwrap(), want);
            let Col::Texts(back) = Col::decode(&want).unwrap() else { panic!("texts") };
            assert!((0..SLOTS).all(|s| back.get(s) == value(s).as_deref()), "decoded");
        }
    }

    #[test]
    fn texts_and_sets_round_trip() {
        let mut t = Texts::new();
        t.set(0, Some("ana@example.com"));
        t.set(7, Some(""));
        t.set(4095, Some("Zoë"));
        t.set(7, Some("Łódź"));
        let c = Col::Texts(t);
        let back = Col::decode(&c.encode().unwrap()).unwrap();
        let Col::Texts(b) = &back else { panic!("texts") };
        assert_eq!(
            (b.get(0), b.get(7), b.get(4095), b.get(1)),
            (Some("ana@example.com"), Some("Łódź"), Some("Zoë"), None)
        );
        // few distinct values: kept once each
        let mut t = Texts::new();
        for slot in 0..3000 {
            t.set(slot, Some(["Europe/Rome", "Europe/Paris", "Ämerica/Zürich"][slot % 3]));
        }
        let c = Col::Texts(t);
        let bytes = c.encode().unwrap();
        assert_eq!(bytes[0], 4);
        assert!(bytes.len() < 2000, "{}", bytes.len());
        let Col::Texts(b) = Col::decode(&bytes).unwrap() else { panic!("texts") };
        assert_eq!(
            (b.get(0), b.get(2), b.get(2999), b.get(3000)),
            (Some("Europe/Rome"), Some("Ämerica/Zürich"), Some("Ämerica/Zürich"), None)
        );
        for cut in 0..bytes.len() {
            assert!(Col::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut s = vec![Vec::new(); SLOTS];
        s[2] = vec![0, 3];
        s[4000] = vec![1];
        let c = Col::Sets(s);
        assert_eq!(Col::decode(&c.encode().unwrap()).unwrap(), c);
    }

    #[test]
    fn a_row_padded_by_an_erasure_reads_the_same() {
        let c = numbers(&[(1, 5), (2, 900)]);
        let mut b = c.encode().unwrap();
        b.resize(b.len() + 40, 0);
        assert_eq!(Col::decode(&b).unwrap(), c);
        b.push(1);
        assert!(Col::decode(&b).is_err(), "only zeros pad a row");
    }

    #[test]
    fn corrupt_rows_are_errors_not_panics() {
        let good = numbers(&[(1, 5), (2, 900)]).encode().unwrap();
        for cut in 0..good.len() {
            assert!(Col::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        for bad in
            [vec![9u8, 1], vec![1, 7], vec![2, 1, 0xff, 0xff, 0xff, 0xff, 0x0f], vec![1, 1, 0, 65], vec![4, 1, 0]]
        {
            assert!(Col::decode(&bad).is_err(), "{bad:?}");
        }
    }
}
