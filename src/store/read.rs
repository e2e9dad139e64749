//! The read side: a consistent snapshot of the store (one redb read
//! transaction) with typed accessors.

use super::codec::EventBlock;
use super::dict;
use super::record_rows;
use super::tables::*;
use crate::error::{Error, Result};
use crate::model::{Action, Contact, Schema};
use redb::{ReadTransaction, ReadableTable};
use roaring::RoaringBitmap;

pub struct Reader {
    pub(super) tx: ReadTransaction,
}

pub fn decode_bitmap(b: &[u8]) -> Result<RoaringBitmap> {
    RoaringBitmap::deserialize_from(b).map_err(|e| Error::runtime(format!("corrupt bitmap: {e}")))
}

pub fn encode_bitmap(bm: &RoaringBitmap) -> Vec<u8> {
    let mut v = Vec::with_capacity(bm.serialized_size());
    bm.serialize_into(&mut v).expect("writing to a Vec cannot fail");
    v
}

fn sizes<K: redb::Key + 'static, V: redb::Value + 'static>(
    t: &redb::ReadOnlyTable<K, V>,
    kb: impl Fn(&K::SelfType<'_>) -> usize,
    vb: impl Fn(&V::SelfType<'_>) -> usize,
) -> Result<(u64, u64)> {
    let (mut rows, mut bytes) = (0u64, 0u64);
    for row in t.iter()? {
        let (k, v) = row?;
        rows += 1;
        bytes += (kb(&k.value()) + vb(&v.value())) as u64;
    }
    Ok((rows, bytes))
}

/// Decodes the records of `ids` from the contacts table (read or write
/// side); missing ones are None.
pub(super) fn read_contacts(t: &impl ReadableTable<u32, &'static [u8]>, ids: &[u32]) -> Result<Vec<Option<Contact>>> {
    let mut out = Vec::with_capacity(ids.len());
    // neighbouring ids share their row: read it once
    let mut row = None;
    for &id in ids {
        if row.as_ref().is_none_or(|(r, _)| *r != record_rows::row_of(id)) {
            row = Some((record_rows::row_of(id), t.get(record_rows::row_of(id))?));
        }
        let record = match row.as_ref().and_then(|(_, bytes)| bytes.as_ref()) {
            Some(bytes) => record_rows::find(bytes.value(), id)?,
            None => None,
        };
        out.push(record.map(postcard::from_bytes).transpose()?);
    }
    Ok(out)
}

pub fn meta_u64(v: Option<&[u8]>) -> u64 {
    v.and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0)
}

/// A category with its parent and directly assigned members.
#[derive(Clone, Debug)]
pub struct CategoryRow {
    pub name: String,
    pub parent: Option<String>,
    pub members: RoaringBitmap,
}

impl Reader {
    pub(super) fn new(tx: ReadTransaction) -> Reader {
        Reader { tx }
    }

    pub fn schema(&self) -> Result<Schema> {
        let t = self.tx.open_table(SCHEMA)?;
        let v = t.get("schema")?.ok_or_else(|| Error::runtime("schema missing from the database"))?;
        Ok(postcard::from_bytes(v.value())?)
    }

    pub fn meta(&self, key: &str) -> Result<u64> {
        let t = self.tx.open_table(META)?;
        Ok(meta_u64(t.get(key)?.as_ref().map(|v| v.value())))
    }

    pub fn contact_count(&self) -> Result<u64> {
        Ok(self.contact_ids()?.len())
    }

    pub fn contact(&self, id: u32) -> Result<Option<Contact>> {
        Ok(read_contacts(&self.tx.open_table(CONTACT_RECORDS)?, &[id])?.pop().flatten())
    }

    /// Finds a contact by internal id (`#12` or `12` when no external id
    /// `12` exists), email, or external id.
    pub fn find_contact(&self, key: &str) -> Result<Option<u32>> {
        let key = key.trim();
        if let Some(n) = key.strip_prefix('#').and_then(|s| s.parse::<u32>().ok()) {
            return Ok(self.contact(n)?.map(|_| n));
        }
        if let Some(id) = super::key_buckets::get(&self.tx.open_table(EXTERNAL_ID_KEYS)?, key)? {
            return Ok(Some(id));
        }
        let email = crate::model::contact::normalize_email(key);
        if let Some(id) = super::key_buckets::get(&self.tx.open_table(EMAIL_KEYS)?, &email)? {
            return Ok(Some(id));
        }
        if let Ok(n) = key.parse::<u32>() {
            return Ok(self.contact(n)?.map(|_| n));
        }
        Ok(None)
    }

    /// Calls `f` for every contact in id order; stop early by returning false.
    pub fn for_each_contact(&self, mut f: impl FnMut(Contact) -> Result<bool>) -> Result<()> {
        record_rows::for_each(&self.tx.open_table(CONTACT_RECORDS)?, |_, record| f(postcard::from_bytes(record)?))
    }

    /// Calls `f` with each row of one contact field's column: the first id
    /// of the row's chunk and the values (see `contact_columns`).
    pub fn for_each_column_row(
        &self,
        field: super::contact_columns::Field,
        f: impl FnMut(u32, super::contact_columns::Col),
    ) -> Result<()> {
        super::contact_columns::for_each_row(&self.tx.open_table(CONTACT_COLUMNS)?, field, f)
    }

    /// Calls `f` for every contact decoded without copying its text.
    pub fn for_each_contact_view(&self, mut f: impl FnMut(crate::model::contact::ContactView<'_>)) -> Result<()> {
        record_rows::for_each(&self.tx.open_table(CONTACT_RECORDS)?, |_, record| {
            f(postcard::from_bytes(record)?);
            Ok(true)
        })
    }

    /// Every contact id present (kept in `meta` by every commit).
    pub fn contact_ids(&self) -> Result<RoaringBitmap> {
        let t = self.tx.open_table(META)?;
        if let Some(v) = t.get("contact_ids")? {
            return decode_bitmap(v.value());
        }
        let mut bm = RoaringBitmap::new();
        record_rows::for_each(&self.tx.open_table(CONTACT_RECORDS)?, |id, _| {
            bm.insert(id);
            Ok(true)
        })?;
        Ok(bm)
    }

    pub fn tags(&self) -> Result<Vec<(String, RoaringBitmap)>> {
        let t = self.tx.open_table(TAGS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            out.push((k.value().to_string(), decode_bitmap(v.value())?));
        }
        Ok(out)
    }

    /// The tags' names, sorted, without decoding their members (what the
    /// checker needs to know a tag: every count from a fresh process).
    pub fn tag_names(&self) -> Result<Vec<String>> {
        let t = self.tx.open_table(TAGS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(row?.0.value().to_string());
        }
        Ok(out)
    }

    /// The categories' names and parents (declared categories), without
    /// their members.
    pub fn category_tree(&self) -> Result<Vec<(String, Option<String>)>> {
        let tree = self.tx.open_table(CATEGORY_TREE)?;
        let mut out = Vec::new();
        for row in tree.iter()? {
            let (k, v) = row?;
            out.push((k.value().to_string(), Some(v.value().to_string()).filter(|p| !p.is_empty())));
        }
        Ok(out)
    }

    pub fn tag(&self, name: &str) -> Result<Option<RoaringBitmap>> {
        let t = self.tx.open_table(TAGS)?;
        match t.get(name)? {
            Some(v) => Ok(Some(decode_bitmap(v.value())?)),
            None => Ok(None),
        }
    }

    /// Tags of one contact, sorted.
    pub fn tags_of(&self, id: u32) -> Result<Vec<String>> {
        Ok(self.tags()?.into_iter().filter(|(_, bm)| bm.contains(id)).map(|(n, _)| n).collect())
    }

    pub fn categories(&self) -> Result<Vec<CategoryRow>> {
        let tree = self.tx.open_table(CATEGORY_TREE)?;
        let members = self.tx.open_table(CATEGORY_MEMBERS)?;
        let mut out = Vec::new();
        for row in tree.iter()? {
            let (k, v) = row?;
            let name = k.value().to_string();
            let parent = Some(v.value().to_string()).filter(|p| !p.is_empty());
            let members = match members.get(name.as_str())? {
                Some(b) => decode_bitmap(b.value())?,
                None => RoaringBitmap::new(),
            };
            out.push(CategoryRow { name, parent, members });
        }
        Ok(out)
    }

    /// The whole event-value dictionary; index = id (0 is the empty string).
    pub fn dict(&self) -> Result<Vec<String>> {
        let mut out = vec![String::new()];
        self.for_each_dict_from(0, |id, s| {
            let id = id as usize;
            if out.len() <= id {
                out.resize(id + 1, String::new());
            }
            out[id] = s.to_string();
        })?;
        Ok(out)
    }

    /// The text of some dictionary ids, reading only the chunks that hold
    /// them (a profile needs a few dozen values, not the whole dictionary).
    pub fn dict_values(&self, ids: &std::collections::BTreeSet<u32>) -> Result<std::collections::HashMap<u32, String>> {
        let t = self.tx.open_table(DICT_CHUNKS)?;
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        let chunks: std::collections::BTreeSet<u32> = ids.iter().map(|&id| dict::chunk_of(id)).collect();
        for c in chunks {
            if let Some(v) = t.get(c)? {
                dict::decode_chunk(c, v.value(), |id, s| {
                    if ids.contains(&id) {
                        out.insert(id, s.to_string());
                    }
                })?;
            }
        }
        Ok(out)
    }

    /// The ids of dictionary values satisfying `pred`, in one pass over the
    /// dictionary without copying it.
    pub fn dict_matching(&self, mut pred: impl FnMut(&str) -> bool) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        self.for_each_dict_from(0, |id, s| {
            if pred(s) {
                out.push(id);
            }
        })?;
        Ok(out)
    }

    /// Calls `f(id, text)` for every dictionary value with id >= `from`.
    pub fn for_each_dict_from(&self, from: u32, mut f: impl FnMut(u32, &str)) -> Result<()> {
        let t = self.tx.open_table(DICT_CHUNKS)?;
        for row in t.range(dict::chunk_of(from)..)? {
            let (k, v) = row?;
            dict::decode_chunk(k.value(), v.value(), |id, s| {
                if id >= from {
                    f(id, s)
                }
            })?;
        }
        Ok(())
    }

    /// Calls `f` for every event block, by kind and then block id.
    pub fn for_each_block(&self, mut f: impl FnMut(u64, EventBlock) -> Result<()>) -> Result<()> {
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        for row in t.iter()? {
            let (k, v) = row?;
            f(k.value().1, EventBlock::decode(v.value())?)?;
        }
        Ok(())
    }

    /// The blocks of one kind in the time spans `lo..=hi` (see `time_parts`):
    /// (span, block id, first instant, last instant), by span and id.
    pub fn block_spans(&self, kind: u16, lo: u32, hi: u32) -> Result<Vec<(u32, u64, i64, i64)>> {
        let t = self.tx.open_table(EVENT_PARTS)?;
        let mut out = Vec::new();
        for row in t.range((kind, lo, 0)..=(kind, hi, u64::MAX))? {
            let (k, v) = row?;
            let (_, p, id) = k.value();
            let (a, b) = v.value();
            out.push((p, id, a, b));
        }
        Ok(out)
    }

    /// Calls `f` for every contact's summary of `kind`'s events (see
    /// `summaries`), in id order; without `params`, no parameter totals.
    pub fn for_each_summary(
        &self,
        kind: u16,
        params: bool,
        f: impl FnMut(&super::summaries::Summary) -> Result<()>,
    ) -> Result<()> {
        super::summaries::for_each(&self.tx.open_table(CONTACT_SUMMARIES)?, kind, params, f)
    }

    /// `for_each_summary` over the contacts of rows `rows` only (a row holds
    /// `summaries::CHUNK` consecutive ids), so that two threads can each
    /// take a part.
    pub fn for_each_summary_in(
        &self,
        kind: u16,
        rows: std::ops::Range<u32>,
        params: bool,
        f: impl FnMut(&super::summaries::Summary) -> Result<()>,
    ) -> Result<()> {
        super::summaries::for_each_in(&self.tx.open_table(CONTACT_SUMMARIES)?, kind, rows, params, f)
    }

    /// The latest time span holding events of `kind`, and the latest instant
    /// in it (the kind's last event); None when the kind has no events.
    pub fn last_span(&self, kind: u16) -> Result<Option<(u32, i64)>> {
        let t = self.tx.open_table(EVENT_PARTS)?;
        let Some(last) = t.range((kind, 0, 0)..=(kind, u32::MAX, u64::MAX))?.next_back() else {
            return Ok(None);
        };
        let part = last?.0.value().1;
        let mut max = i64::MIN;
        for row in t.range((kind, part, 0)..=(kind, part, u64::MAX))? {
            max = max.max(row?.1.value().1);
        }
        Ok(Some((part, max)))
    }

    /// Calls `f(block id, encoded bytes)` for the given blocks of one kind, in
    /// the order given (a block missing is skipped).
    pub fn for_each_block_bytes_in(
        &self,
        kind: u16,
        ids: &[u64],
        mut f: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        for &id in ids {
            if let Some(v) = t.get((kind, id))? {
                f(id, v.value())?;
            }
        }
        Ok(())
    }

    /// Calls `f` for every block of one kind, in block id order.
    pub fn for_each_block_of(&self, kind: u16, mut f: impl FnMut(u64, EventBlock) -> Result<()>) -> Result<()> {
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        for row in t.range((kind, 0)..=(kind, u64::MAX))? {
            let (k, v) = row?;
            f(k.value().1, EventBlock::decode(v.value())?)?;
        }
        Ok(())
    }

    /// Reads the given blocks (e.g. the ones a change notification named).
    pub fn blocks(&self, ids: &[(u16, u64)]) -> Result<Vec<((u16, u64), EventBlock)>> {
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        let mut out = Vec::new();
        for &id in ids {
            if let Some(v) = t.get(id)? {
                out.push((id, EventBlock::decode(v.value())?));
            }
        }
        Ok(out)
    }

    pub fn event_count(&self) -> Result<u64> {
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        let mut n = 0u64;
        for row in t.iter()? {
            let (_, v) = row?;
            let b = v.value();
            n += u32::from_le_bytes(b[5..9].try_into().map_err(|_| Error::runtime("corrupt event block"))?) as u64;
        }
        Ok(n)
    }

    /// Every event of one contact: each block holding one of its events,
    /// in (kind, block id) order, with the positions of its events there.
    /// Reads only those blocks (found in `CONTACT_BLOCKS`), each decoded once.
    pub fn events_of(&self, id: u32) -> Result<Vec<(EventBlock, Vec<usize>)>> {
        let keys = super::contact_index::lookup(&self.tx.open_table(CONTACT_BLOCKS)?, id)?;
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(v) = t.get(key)? else {
                debug_assert!(false, "contact {id}: indexed block {key:?} missing");
                continue;
            };
            let b = EventBlock::decode(v.value())?;
            let pos: Vec<usize> = b.contact.iter().enumerate().filter(|(_, c)| **c == id).map(|(i, _)| i).collect();
            if !pos.is_empty() {
                out.push((b, pos));
            }
        }
        Ok(out)
    }

    /// The events of several contacts, each block read once however many
    /// of them it holds, and of each block only their events decoded:
    /// contact ids, times, and the parameter `param(kind)` names, if any.
    /// For the facts of a page of rows (`ContactFacts`), whose contacts'
    /// events lie in blocks that hold everyone's.
    pub fn events_of_many(&self, ids: &[u32], param: impl Fn(u16) -> Option<u16>) -> Result<Vec<EventBlock>> {
        let index = self.tx.open_table(CONTACT_BLOCKS)?;
        let mut keys = std::collections::BTreeSet::new();
        for &id in ids {
            keys.extend(super::contact_index::lookup(&index, id)?);
        }
        let wanted: RoaringBitmap = ids.iter().copied().collect();
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(v) = t.get(key)? else { continue };
            let b = EventBlock::decode_some(v.value(), |c| wanted.contains(c), param(key.0))?;
            if !b.contact.is_empty() {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// The events of several contacts of the kinds `params` gives (kind →
    /// the parameters to decode; `None` for other kinds, whose blocks are
    /// not read).
    pub fn events_of_kinds(&self, ids: &[u32], params: impl Fn(u16) -> Option<Vec<u16>>) -> Result<Vec<EventBlock>> {
        let index = self.tx.open_table(CONTACT_BLOCKS)?;
        let mut keys = std::collections::BTreeSet::new();
        for &id in ids {
            keys.extend(super::contact_index::lookup(&index, id)?.into_iter().filter(|k| params(k.0).is_some()));
        }
        let wanted: RoaringBitmap = ids.iter().copied().collect();
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(v) = t.get(key)? else { continue };
            let want = params(key.0).unwrap_or_default();
            let b = EventBlock::decode_some_params(v.value(), |c| wanted.contains(c), &want)?;
            if !b.contact.is_empty() {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// `events_of` by reading every block (what it did before the index):
    /// the reference the index is checked against.
    #[cfg(test)]
    pub(crate) fn events_of_by_scan(&self, id: u32) -> Result<Vec<(EventBlock, Vec<usize>)>> {
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row?;
            let (_, contacts) = EventBlock::decode_contacts(v.value())?;
            let pos: Vec<usize> = contacts.iter().enumerate().filter(|(_, c)| **c == id).map(|(i, _)| i).collect();
            if !pos.is_empty() {
                out.push((EventBlock::decode(v.value())?, pos));
            }
        }
        Ok(out)
    }

    pub fn actions_of(&self, id: u32) -> Result<Vec<Action>> {
        let t = self.tx.open_table(ACTIONS)?;
        let mut out = super::action_groups::of(&self.tx.open_table(ACTION_GROUPS)?, id)?;
        let shared = out.len();
        for row in t.range((id, 0)..=(id, u64::MAX))? {
            let (k, v) = row?;
            out.push((k.value().1, postcard::from_bytes(v.value())?));
        }
        if shared > 0 {
            out.sort_by_key(|(seq, _)| *seq);
        }
        Ok(out.into_iter().map(|(_, a)| a).collect())
    }

    pub fn segments(&self) -> Result<Vec<crate::model::segment::SavedSegment>> {
        let t = self.tx.open_table(SEGMENTS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(postcard::from_bytes(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn segment(&self, name: &str) -> Result<Option<crate::model::segment::SavedSegment>> {
        let t = self.tx.open_table(SEGMENTS)?;
        match t.get(name)? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    /// The size history of a segment: (ts, count), oldest first.
    pub fn segment_history(&self, name: &str) -> Result<Vec<(i64, u64)>> {
        let t = self.tx.open_table(SEGMENT_HISTORY)?;
        let mut out = Vec::new();
        for row in t.range((name, i64::MIN)..=(name, i64::MAX))? {
            let (k, v) = row?;
            out.push((k.value().1, v.value()));
        }
        Ok(out)
    }

    /// Rows and key+value bytes of every table (for `reach stats`).
    pub fn table_sizes(&self) -> Result<Vec<(String, u64, u64)>> {
        use redb::TableHandle;
        let mut out = Vec::new();
        for h in self.tx.list_tables()? {
            let name = h.name().to_string();
            let (rows, bytes) = match name.as_str() {
                "contact_records" => sizes(&self.tx.open_table(CONTACT_RECORDS)?, |_| 4, |v| v.len())?,
                "event_blocks" => sizes(&self.tx.open_table(EVENT_BLOCKS)?, |_| 10, |v| v.len())?,
                "event_parts" => sizes(&self.tx.open_table(EVENT_PARTS)?, |_| 14, |_| 16)?,
                "contact_blocks" => sizes(&self.tx.open_table(CONTACT_BLOCKS)?, |_| 4, |v| v.len())?,
                "contact_columns" => sizes(&self.tx.open_table(CONTACT_COLUMNS)?, |_| 6, |v| v.len())?,
                "contact_summaries" => sizes(&self.tx.open_table(CONTACT_SUMMARIES)?, |_| 6, |v| v.len())?,
                "dict_chunks" => sizes(&self.tx.open_table(DICT_CHUNKS)?, |_| 4, |v| v.len())?,
                "contact_emails" => sizes(&self.tx.open_table(EMAIL_KEYS)?, |_| 4, |v| v.len())?,
                "contact_external_ids" => sizes(&self.tx.open_table(EXTERNAL_ID_KEYS)?, |_| 4, |v| v.len())?,
                "tags" => sizes(&self.tx.open_table(TAGS)?, |k| k.len(), |v| v.len())?,
                "actions" => sizes(&self.tx.open_table(ACTIONS)?, |_| 12, |v| v.len())?,
                "action_groups" => sizes(&self.tx.open_table(ACTION_GROUPS)?, |_| 12, |v| v.len())?,
                _ => continue,
            };
            out.push((name, rows, bytes));
        }
        Ok(out)
    }

    /// Raw access to a settings document (policy, config snapshots).
    pub fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let t = self.tx.open_table(SETTINGS)?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    // ---------- campaigns, policy, deliveries ----------

    pub fn campaigns(&self) -> Result<Vec<crate::campaign::Campaign>> {
        let t = self.tx.open_table(CAMPAIGNS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(postcard::from_bytes(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn campaign(&self, name: &str) -> Result<Option<crate::campaign::Campaign>> {
        let t = self.tx.open_table(CAMPAIGNS)?;
        match t.get(name)? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    /// The stored DND policy's TOML text (under `policy` in SETTINGS), if
    /// one was set; `campaign::stored_policy` parses it.
    pub fn policy_text(&self) -> Result<Option<String>> {
        match self.setting("policy")? {
            Some(b) => Ok(Some(String::from_utf8(b).map_err(|_| Error::runtime("stored policy is not UTF-8"))?)),
            None => Ok(None),
        }
    }

    /// Calls `f(contact, key, delivery)` for every delivery record, by contact.
    pub fn for_each_delivery(&self, mut f: impl FnMut(u32, &str, crate::campaign::Delivery)) -> Result<()> {
        let t = self.tx.open_table(DELIVERIES)?;
        for row in t.iter()? {
            let (k, v) = row?;
            let (c, key) = k.value();
            f(c, key, postcard::from_bytes(v.value())?);
        }
        Ok(())
    }

    /// The delivery records of one contact: (key, record).
    pub fn deliveries_of(&self, id: u32) -> Result<Vec<(String, crate::campaign::Delivery)>> {
        let t = self.tx.open_table(DELIVERIES)?;
        let mut out = Vec::new();
        for row in t.range((id, "")..=(id, "\u{10FFFF}"))? {
            let (k, v) = row?;
            out.push((k.value().1.to_string(), postcard::from_bytes(v.value())?));
        }
        Ok(out)
    }

    /// Many contacts with one table open; missing ones are None.
    pub fn contacts(&self, ids: &[u32]) -> Result<Vec<Option<Contact>>> {
        read_contacts(&self.tx.open_table(CONTACT_RECORDS)?, ids)
    }
}
