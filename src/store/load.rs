//! Bulk loading (imports, the demo): a `Loader` borrows a write transaction
//! for the length of a load and owns what only adding many contacts and
//! events needs: the key maps (email and external id → contact), the
//! dictionary's write cache, the event blocks being filled and the contacts
//! of the blocks written, and the contact ids present or handed out.
//! `finish` writes what it still holds into the transaction; an ordinary
//! `Writer` carries none of it.

use super::codec::{EventBlock, ParamVal};
use super::contact_index;
use super::dict::{WriteDict, decode_chunk, encode_chunk};
use super::keys::{KeySnapshot, KeyTable, Keys};
use super::tables::{CONTACT_BLOCKS, DICT_CHUNKS, EMAIL_KEYS, EXTERNAL_ID_KEYS};
use super::time_parts::{self, Filling};
use super::write::Writer;
use crate::error::{Error, Result};
use crate::model::{Action, Contact, Schema};
use redb::ReadableTable;
use roaring::RoaringBitmap;
use std::sync::Arc;

/// A bulk load into a write transaction. Reads go to the writer (`Deref`);
/// writes that the caches must follow go through the loader. A load only
/// adds: `finish` it before erasing contacts. The writer refuses to commit
/// while a load is unfinished.
pub struct Loader<'a, 's> {
    w: &'a mut Writer<'s>,
    /// lowercased email → id, external id → id (complete once `load_keys` ran)
    keys: Keys,
    keys_loaded: bool,
    /// `load_external_ids` ran: the emails are read on first need
    emails_pending: bool,
    dict: WriteDict,
    dict_loaded: bool,
    /// the blocks being filled, one per kind and time span
    pending: Filling,
    /// the contacts of the blocks written, not yet in `CONTACT_BLOCKS`
    index: contact_index::Pending,
    /// the ids present when an id was first asked for
    known_ids: Option<RoaringBitmap>,
    /// ids handed out on request by `alloc_contact_id`
    reserved: RoaringBitmap,
}

/// Reads a key table (see `key_buckets`) into memory. Its rows come in
/// bucket order, which is the order of the slots the keys land in, so the
/// table fills front to back; a first pass over the rows' counts sizes it.
fn load_key_map(t: &impl ReadableTable<u32, &'static [u8]>) -> Result<KeyTable> {
    let mut n = 0;
    for row in t.iter()? {
        n += super::key_buckets::count(row?.1.value())?;
    }
    let mut map = KeyTable::with_capacity(n as usize);
    for row in t.iter()? {
        let (_, v) = row?;
        let mut bad = false;
        super::key_buckets::for_each(v.value(), |k, id| match std::str::from_utf8(k) {
            Ok(k) => map.insert(k, id),
            Err(_) => bad = true,
        })?;
        if bad {
            return Err(Error::runtime("a contact key is not UTF-8"));
        }
    }
    Ok(map)
}

impl<'s> std::ops::Deref for Loader<'_, 's> {
    type Target = Writer<'s>;

    fn deref(&self) -> &Writer<'s> {
        self.w
    }
}

impl<'a, 's> Loader<'a, 's> {
    /// Starts a load; nothing is read until `load_keys` or `load_dict`.
    pub fn new(w: &'a mut Writer<'s>) -> Loader<'a, 's> {
        w.loading = true;
        Loader {
            w,
            keys: Keys::default(),
            keys_loaded: false,
            emails_pending: false,
            dict: WriteDict::default(),
            dict_loaded: false,
            pending: Filling::default(),
            index: contact_index::Pending::default(),
            known_ids: None,
            reserved: RoaringBitmap::new(),
        }
    }

    /// Writes the blocks being filled (by kind), their contacts' index
    /// entries and the new dictionary values, leaving the writer to commit.
    pub fn finish(mut self) -> Result<()> {
        self.end_of_events()?;
        // the index's rows beside the summaries' (two tables, two threads)
        let mut index = std::mem::take(&mut self.index);
        self.w.flush_summaries_beside(move |tx| write_index(&mut index, tx))?;
        // new values go to the end of their chunk (ids only grow)
        let mut d = self.w.tx.open_table(DICT_CHUNKS)?;
        for (chunk, entries) in self.dict.take_unsaved() {
            let mut bytes = d.get(chunk)?.map(|v| v.value().to_vec()).unwrap_or_default();
            bytes.extend_from_slice(&encode_chunk(entries));
            d.insert(chunk, bytes.as_slice())?;
        }
        drop(d);
        self.w.loading = false;
        Ok(())
    }

    /// No more events in this load: writes the blocks being filled and
    /// has their summaries merged on the summaries thread meanwhile
    /// (`Writer::merge_summaries_aside`). What the load writes after
    /// (contacts, the index) overlaps that merge.
    pub fn end_of_events(&mut self) -> Result<()> {
        self.write_pending()?;
        self.index.group_aside();
        self.w.merge_summaries_aside()
    }

    // ---------- the writer's writes, kept in step with the caches ----------

    /// Mutable schema; saved at commit.
    pub fn schema_mut(&mut self) -> &mut Schema {
        self.w.schema_mut()
    }

    /// `Writer::put_contacts`, keeping the loaded key maps in step.
    pub fn put_contacts(&mut self, list: &[Contact]) -> Result<()> {
        self.w.put_contacts_keyed(list, self.keys_loaded.then_some(&mut self.keys))
    }

    /// `Writer::update_contacts`: changes that leave the keys as they are.
    pub fn update_contacts(&mut self, ids: &[u32], f: impl FnMut(&mut Contact)) -> Result<()> {
        self.w.update_contacts(ids, f)
    }

    /// `Writer::put_new_contact_records`: their keys are registered already.
    pub fn put_new_contact_records(&mut self, list: &[Contact]) -> Result<()> {
        self.w.put_new_contact_records(list)
    }

    /// `Writer::put_new_contact_records_owned`: the batch noted and freed
    /// on another thread, `list` left empty.
    pub fn put_new_contact_records_owned(&mut self, list: &mut Vec<Contact>) -> Result<()> {
        self.w.put_new_contact_records_owned(list)
    }

    /// `Writer::put_new_keys`: the keys of the contacts `put_new_contact_records` wrote.
    pub fn put_new_keys<K: AsRef<str> + Sync>(&mut self, emails: &[(K, u32)], xids: &[(K, u32)]) -> Result<()> {
        self.w.put_new_keys(emails, xids)
    }

    pub fn put_new_key_tables(&mut self, emails: &KeyTable, xids: &KeyTable) -> Result<()> {
        self.w.put_new_key_tables(emails, xids)
    }

    pub fn add_actions(&mut self, actions: &[(u32, Action)]) -> Result<()> {
        self.w.add_actions(actions)
    }

    pub fn add_action_to_each(&mut self, ids: impl IntoIterator<Item = u32>, a: &Action) -> Result<()> {
        self.w.add_action_to_each(ids, a)
    }

    pub fn tag_add(&mut self, name: &str, ids: &RoaringBitmap) -> Result<RoaringBitmap> {
        self.w.tag_add(name, ids)
    }

    pub fn ensure_category(&mut self, path: &str) -> Result<String> {
        self.w.ensure_category(path)
    }

    pub fn add_category_members(&mut self, members: &std::collections::HashMap<String, RoaringBitmap>) -> Result<()> {
        self.w.add_category_members(members)
    }

    // ---------- contacts ----------

    /// Loads every email and external id into memory.
    pub fn load_keys(&mut self) -> Result<()> {
        if self.keys_loaded {
            return Ok(());
        }
        let (xid, email) = if self.w.keys_written {
            let tx = &self.w.tx;
            (load_key_map(&tx.open_table(EXTERNAL_ID_KEYS)?)?, load_key_map(&tx.open_table(EMAIL_KEYS)?)?)
        } else {
            // nothing written to the key tables yet: the last commit is what
            // this transaction sees, so a second thread reads the emails from it
            let (store, tx) = (self.w.store, &self.w.tx);
            let (email, xid) = crate::parallel::both(
                move || load_key_map(&redb::ReadableDatabase::begin_read(store.redb())?.open_table(EMAIL_KEYS)?),
                || load_key_map(&tx.open_table(EXTERNAL_ID_KEYS)?),
            );
            (xid?, email?)
        };
        self.keys = Keys::new(KeySnapshot { xid, email, ..Default::default() });
        self.keys_loaded = true;
        Ok(())
    }

    /// Loads the external ids only; the emails are read by the first
    /// `find_by_email`. An events import names its contacts by external id
    /// nearly always, and a million emails took 0.2-0.4 s to load.
    pub fn load_external_ids(&mut self) -> Result<()> {
        if self.keys_loaded {
            return Ok(());
        }
        let xid = load_key_map(&self.w.tx.open_table(EXTERNAL_ID_KEYS)?)?;
        self.keys = Keys::new(KeySnapshot { xid, ..Default::default() });
        self.keys_loaded = true;
        self.emails_pending = true;
        Ok(())
    }

    /// Looks a contact up by email, case-insensitively, reading the emails
    /// first if `load_external_ids` left them (requires one of the loads).
    pub fn find_by_email(&mut self, email: &str) -> Result<Option<u32>> {
        debug_assert!(self.keys_loaded);
        if self.emails_pending {
            // what this transaction wrote is in the table, what it registered in the overlay
            let emails = load_key_map(&self.w.tx.open_table(EMAIL_KEYS)?)?;
            self.keys.set_late_emails(emails);
            self.emails_pending = false;
        }
        Ok(self.keys.by_email(email))
    }

    /// Looks a contact up by external id (requires `load_keys`).
    pub fn id_by_external_id(&self, xid: &str) -> Option<u32> {
        debug_assert!(self.keys_loaded);
        self.keys.by_external_id(xid)
    }

    /// Looks a contact up by email, case-insensitively (requires
    /// `load_keys`; the tests' way in: imports pass the key's hash, see
    /// `id_by_email_key_hashed`).
    #[cfg(test)]
    pub fn id_by_email(&self, email: &str) -> Option<u32> {
        debug_assert!(self.keys_loaded && !self.emails_pending);
        self.keys.by_email(email)
    }

    /// The keys as loaded by `load_keys`, for threads resolving rows ahead of this loader.
    pub fn key_snapshot(&self) -> Arc<KeySnapshot> {
        self.keys.snapshot()
    }

    /// `id_by_external_id` of a key whose `keys::key_hash` is `h`.
    pub fn id_by_external_id_hashed(&self, xid: &str, h: u64) -> Option<u32> {
        debug_assert!(self.keys_loaded);
        self.keys.by_external_id_hashed(xid, h)
    }

    /// The contact of a normalized email (`keys::email_key`) whose
    /// `keys::key_hash` is `h` (requires `load_keys`).
    pub fn id_by_email_key_hashed(&self, key: &str, h: u64) -> Option<u32> {
        debug_assert!(self.keys_loaded && !self.emails_pending);
        self.keys.by_email_key_hashed(key, h)
    }

    /// Starts loading the key slots that looking up an external id and a
    /// normalized email of these `keys::key_hash`es will read.
    pub fn prefetch_keys(&self, xid_hash: Option<u64>, email_hash: Option<u64>) {
        self.keys.prefetch_hashed(xid_hash, email_hash);
    }

    /// Makes a not-yet-written contact findable by its external id in this load.
    pub fn register_external_id(&mut self, xid: &str, id: u32) {
        self.keys.insert_external_id(xid, id);
    }

    /// Makes a not-yet-written contact findable by its email in this load.
    pub fn register_email(&mut self, email: &str, id: u32) {
        self.keys.insert_email(email, id);
    }

    /// Reserves a new contact id; `want` is honoured when free (restores keep ids).
    pub fn alloc_contact_id(&mut self, want: Option<u32>) -> Result<u32> {
        if let Some(w) = want.filter(|w| *w > 0) {
            if self.known_ids.is_none() {
                self.known_ids = Some(self.w.contact_ids()?);
            }
            let taken = self.known_ids.as_ref().is_some_and(|k| k.contains(w));
            if !taken && !self.w.touched_contacts.contains(w) && self.reserved.insert(w) {
                self.w.next_contact = self.w.next_contact.max(w as u64 + 1);
                return Ok(w);
            }
        }
        // reserved too, so that a later row asking for this id gets another
        let id = self.w.new_contact_id()?;
        self.reserved.insert(id);
        Ok(id)
    }

    // ---------- events ----------

    /// Loads the whole dictionary into memory.
    pub fn load_dict(&mut self) -> Result<()> {
        if self.dict_loaded {
            return Ok(());
        }
        let t = self.w.tx.open_table(DICT_CHUNKS)?;
        let mut d = WriteDict::new(1);
        for row in t.iter()? {
            let (k, v) = row?;
            decode_chunk(k.value(), v.value(), |id, s| d.load(id, s))?;
        }
        d.loaded(u32::try_from(self.w.next_dict).map_err(|_| Error::runtime("dictionary counter out of range"))?);
        self.dict = d;
        self.dict_loaded = true;
        Ok(())
    }

    /// The dictionary id of a text value, adding it if new.
    pub fn intern(&mut self, s: &str) -> Result<u32> {
        if !self.dict_loaded {
            self.load_dict()?;
        }
        let id = self.dict.intern(s)?;
        self.w.next_dict = self.dict.next_id() as u64;
        Ok(id)
    }

    /// Appends one event; it reaches the table in a block of its kind and
    /// time span.
    pub fn append_event(
        &mut self,
        kind: u16,
        contact: u32,
        ts: i64,
        source: u8,
        utm: [u32; 3],
        params: &[(u16, ParamVal)],
    ) -> Result<()> {
        for b in self.pending.push(kind, contact, ts, source, utm, params) {
            self.insert_block(b)?;
        }
        if self.pending.over_bound() {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Adds a block of events of one kind, in any order: they join the
    /// blocks being filled for their time spans.
    pub fn write_block(&mut self, mut b: EventBlock) -> Result<()> {
        b.sort_by_time();
        for (part, from, to) in time_parts::runs(&b.ts) {
            for full in self.pending.add_rows(&b, part, from, to) {
                self.insert_block(full)?;
            }
        }
        if self.pending.over_bound() {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes every block being filled as it stands.
    fn write_pending(&mut self) -> Result<()> {
        for b in self.pending.drain() {
            self.insert_block(b)?;
        }
        Ok(())
    }

    /// Writes one block of one kind and span (sorted by time here, cut
    /// where a piece fits redb's allocation better: `encode_fitted`); its
    /// contacts reach the per-contact index at the next flush.
    fn insert_block(&mut self, mut b: EventBlock) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        b.sort_by_time();
        for (mut piece, bytes) in b.encode_fitted() {
            let key = self.w.insert_block(&piece, &bytes)?;
            self.index.add(key, std::mem::take(&mut piece.contact));
        }
        if self.index.events() >= contact_index::FLUSH_EVENTS {
            self.flush_index()?;
        }
        Ok(())
    }

    /// Merges the contacts of the blocks written so far into `CONTACT_BLOCKS`.
    fn flush_index(&mut self) -> Result<()> {
        write_index(&mut self.index, &self.w.tx)
    }
}

/// Merges what `index` holds into `CONTACT_BLOCKS` (the table is opened
/// only when there is something to merge).
fn write_index(index: &mut contact_index::Pending, tx: &redb::WriteTransaction) -> Result<()> {
    if index.is_empty() {
        return Ok(());
    }
    index.flush(&mut tx.open_table(CONTACT_BLOCKS)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{OpenMode, Store};

    /// A load dropped before `finish` (its blocks never written) leaves a
    /// writer that refuses to commit; a finished one commits what it held.
    #[test]
    fn an_unfinished_load_cannot_be_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("l.redb"), OpenMode::Create).unwrap();
        let mut w = store.begin_write().unwrap();
        {
            let mut l = Loader::new(&mut w);
            l.append_event(0, 1, 10, 0, [0; 3], &[]).unwrap();
        }
        assert!(w.commit().is_err());
        assert!(store.begin_read().unwrap().events_of(1).unwrap().is_empty(), "nothing was committed");

        let mut w = store.begin_write().unwrap();
        let mut l = Loader::new(&mut w);
        l.append_event(0, 1, 10, 0, [0; 3], &[]).unwrap();
        l.finish().unwrap();
        w.commit().unwrap();
        assert_eq!(store.begin_read().unwrap().events_of(1).unwrap().len(), 1);
    }

    /// Keys written earlier in the transaction, and by the load itself,
    /// are found by the load.
    #[test]
    fn emails_are_read_on_first_need() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("l.redb"), OpenMode::Create).unwrap();
        let mut w = store.begin_write().unwrap();
        let ids: Vec<u32> = (0..3).map(|_| w.new_contact_id().unwrap()).collect();
        let c = |id, e: &str, x: &str| Contact {
            id,
            email: Some(e.into()),
            external_id: Some(x.into()),
            ..Default::default()
        };
        w.put_contacts(&[c(ids[0], "A@example.com", "X0"), c(ids[1], "b@example.com", "X1")]).unwrap();
        w.commit().unwrap();
        let mut w = store.begin_write().unwrap();
        let mut l = Loader::new(&mut w);
        l.load_external_ids().unwrap();
        assert_eq!(l.id_by_external_id("X1"), Some(ids[1]));
        assert_eq!(l.key_snapshot().resolve("a@example.com"), None, "the snapshot has no emails");
        // changed before the emails are read: the table and the overlay both say so
        l.put_contacts(&[c(ids[1], "new@example.com", "X1"), c(ids[2], "c@example.com", "X2")]).unwrap();
        l.register_email("d@example.com", 99);
        assert_eq!(l.find_by_email("a@EXAMPLE.com").unwrap(), Some(ids[0]));
        assert_eq!(l.find_by_email("b@example.com").unwrap(), None);
        assert_eq!(l.find_by_email("new@example.com").unwrap(), Some(ids[1]));
        assert_eq!(l.find_by_email("c@example.com").unwrap(), Some(ids[2]));
        assert_eq!(l.find_by_email("d@example.com").unwrap(), Some(99));
        // and after
        l.put_contacts(&[c(ids[0], "e@example.com", "X0")]).unwrap();
        assert_eq!(l.find_by_email("a@example.com").unwrap(), None);
        assert_eq!(l.find_by_email("e@example.com").unwrap(), Some(ids[0]));
        l.finish().unwrap();
        w.commit().unwrap();
    }

    #[test]
    fn keys_follow_the_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("l.redb"), OpenMode::Create).unwrap();
        let mut w = store.begin_write().unwrap();
        let a = w.new_contact_id().unwrap();
        w.put_contacts(&[Contact { id: a, email: Some("A@example.com".into()), ..Default::default() }]).unwrap();
        let mut l = Loader::new(&mut w);
        l.load_keys().unwrap();
        assert_eq!(l.id_by_email("a@example.com"), Some(a));
        let b = l.alloc_contact_id(Some(a)).unwrap();
        assert_ne!(b, a, "a taken id is not handed out again");
        l.put_contacts(&[Contact { id: a, external_id: Some("X1".into()), ..Default::default() }]).unwrap();
        assert_eq!(l.id_by_external_id("X1"), Some(a));
        assert_eq!(l.id_by_email("a@example.com"), None, "the email was dropped from the record");
        l.finish().unwrap();
        w.commit().unwrap();
    }
}
