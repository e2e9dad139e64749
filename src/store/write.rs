//! The write side: one redb write transaction and what every write needs
//! (the schema, the id counters, what changed for the subscribers). Nothing
//! is visible to readers, or survives a crash, until `commit`: a write is
//! all or nothing. The caches of bulk writes (key maps, dictionary, event
//! blocks being filled) are a `Loader`'s, borrowing a writer for the load.

use super::codec::EventBlock;
use super::contact_index::{self, BlockKey};
use super::dict::{chunk_of, decode_chunk, encode_chunk};
use super::key_buckets;
use super::keys::{KeyTable, Keys, email_key};
use super::read::{decode_bitmap, encode_bitmap, meta_u64, read_contacts};
use super::record_rows;
use super::summaries::Done;
use super::tables::*;
use super::{Change, Store};
use crate::error::{Error, Result};
use crate::model::contact::{ContactView, normalize_email};
use crate::model::{Action, Contact, Schema};
use redb::{ReadableTable, WriteTransaction};
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, BTreeSet};

pub struct Writer<'s> {
    pub(super) store: &'s Store,
    pub(super) tx: WriteTransaction,
    schema: Schema,
    schema_dirty: bool,
    pub(super) next_contact: u64,
    next_block: u64,
    pub(super) next_dict: u64,
    next_action: u64,
    /// this transaction changed the key tables (a `Loader` then reads them from it)
    pub(super) keys_written: bool,
    /// contacts written (in id order, as a bitmap: an import of new
    /// contacts adds a million ascending ids)
    pub(super) touched_contacts: RoaringBitmap,
    new_blocks: Vec<BlockKey>,
    rewritten_blocks: Vec<BlockKey>,
    tags_changed: BTreeSet<String>,
    other_changes: Vec<Change>,
    deleted: Vec<u32>,
    /// the summaries of the blocks written, not yet merged into their
    /// rows, added up on a thread of their own (only a `Loader` writes
    /// blocks); `flush_summaries` takes them back and merges them
    summing: Option<super::summaries::Background>,
    /// this transaction wrote to the summaries table (a snapshot of the
    /// last commit no longer shows it as the transaction sees it)
    summaries_written: bool,
    /// the contacts written or erased, not yet merged into their columns
    columns: super::contact_columns::Pending,
    /// a batch of new contacts being noted into `columns` on a thread of
    /// its own (`put_new_contact_records_owned`), which hands back the
    /// columns and the batch's vector, emptied; whatever uses `columns`
    /// takes them back first (`join_columns`)
    columns_job: Option<std::thread::JoinHandle<(super::contact_columns::Pending, Vec<Contact>)>>,
    /// the vector the last batch noted came in, emptied, for the next
    spare_contacts: Vec<Contact>,
    /// changed records (encoded) not yet merged into their rows, so that a
    /// row is rewritten once for all its contacts (`flush_records`)
    records: BTreeMap<u32, Vec<u8>>,
    /// their bytes
    records_bytes: usize,
    /// a `Loader` holds blocks or values not yet written (its `finish` clears it)
    pub(super) loading: bool,
    /// the record row `contact` read last, as the table held it: an import
    /// updating contacts in id order asks for each in turn (and again in
    /// `put_contacts_keyed`), and redb's small cache had often dropped the
    /// row's page since (1M contacts over half as many read 2.1 GB for a
    /// 285 MB file). Cleared by `flush_records`, which every change to the
    /// records table runs first.
    last_row: std::sync::Mutex<Option<(u32, Option<Vec<u8>>)>>,
}

/// Items from which a bulk write splits its work over more threads
/// (`put_new_contact_records`: three; `insert_keys`: two). Below, starting
/// a thread costs more than it saves.
const PARALLEL_FROM: usize = 4096;

/// Contact records encoded per message by the thread that encodes them for
/// `put_new_contact_records` (rounded up to the end of a row).
const ENCODED_AHEAD: usize = 1024;

/// Bytes of changed records held before they are merged into their rows.
const RECORDS_HELD: usize = 16 << 20;

impl<'s> Writer<'s> {
    pub(super) fn begin(store: &'s Store) -> Result<Writer<'s>> {
        let tx = store.redb().begin_write()?;
        let (schema, counters) = {
            let s = tx.open_table(SCHEMA)?;
            let schema: Schema = postcard::from_bytes(
                s.get("schema")?.ok_or_else(|| Error::runtime("schema missing from the database"))?.value(),
            )?;
            let m = tx.open_table(META)?;
            let g = |k: &str| -> Result<u64> { Ok(meta_u64(m.get(k)?.as_ref().map(|v| v.value()))) };
            (
                schema,
                [g("next_contact")?.max(1), g("next_block")?.max(1), g("next_dict")?.max(1), g("next_action")?.max(1)],
            )
        };
        Ok(Writer {
            store,
            tx,
            schema,
            schema_dirty: false,
            next_contact: counters[0],
            next_block: counters[1],
            next_dict: counters[2],
            next_action: counters[3],
            keys_written: false,
            touched_contacts: RoaringBitmap::new(),
            new_blocks: Vec::new(),
            rewritten_blocks: Vec::new(),
            tags_changed: BTreeSet::new(),
            other_changes: Vec::new(),
            deleted: Vec::new(),
            summing: None,
            summaries_written: false,
            columns: Default::default(),
            columns_job: None,
            spare_contacts: Vec::new(),
            records: BTreeMap::new(),
            records_bytes: 0,
            loading: false,
            last_row: std::sync::Mutex::new(None),
        })
    }

    pub fn store(&self) -> &Store {
        self.store
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Mutable schema; saved at commit.
    pub fn schema_mut(&mut self) -> &mut Schema {
        self.schema_dirty = true;
        &mut self.schema
    }

    // ---------- contacts ----------

    /// Every contact id present as of the last commit (plus, when the
    /// stored set is missing, every record written so far).
    pub fn contact_ids(&self) -> Result<RoaringBitmap> {
        let m = self.tx.open_table(META)?;
        if let Some(v) = m.get("contact_ids")? {
            return decode_bitmap(v.value());
        }
        let mut bm = RoaringBitmap::new();
        record_rows::for_each(&self.tx.open_table(CONTACT_RECORDS)?, |id, _| {
            bm.insert(id);
            Ok(true)
        })?;
        bm.extend(self.records.keys().copied());
        Ok(bm)
    }

    /// The id `new_contact_id` hands out next; every id from here on is new.
    pub fn next_contact_id(&self) -> u64 {
        self.next_contact
    }

    /// Hands out a contact id never used before.
    pub fn new_contact_id(&mut self) -> Result<u32> {
        let id = self.next_contact;
        if id > u32::MAX as u64 {
            return Err(Error::runtime("contact id space exhausted (4,294,967,295 contacts)"));
        }
        self.next_contact += 1;
        Ok(id as u32)
    }

    pub fn contact(&self, id: u32) -> Result<Option<Contact>> {
        if let Some(r) = self.records.get(&id) {
            return Ok(Some(postcard::from_bytes(r)?));
        }
        let row = record_rows::row_of(id);
        let mut last = self.last_row.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref().is_none_or(|(have, _)| *have != row) {
            let bytes = self.tx.open_table(CONTACT_RECORDS)?.get(row)?.map(|v| v.value().to_vec());
            *last = Some((row, bytes));
        }
        match last.as_ref().and_then(|(_, bytes)| bytes.as_deref()) {
            Some(bytes) => Ok(record_rows::find(bytes, id)?.map(postcard::from_bytes).transpose()?),
            None => Ok(None),
        }
    }

    /// Reads many contacts with one table open; missing ones are None.
    pub fn contacts(&self, ids: &[u32]) -> Result<Vec<Option<Contact>>> {
        let mut out = read_contacts(&self.tx.open_table(CONTACT_RECORDS)?, ids)?;
        if !self.records.is_empty() {
            for (c, id) in out.iter_mut().zip(ids) {
                if let Some(r) = self.records.get(id) {
                    *c = Some(postcard::from_bytes(r)?);
                }
            }
        }
        Ok(out)
    }

    /// Merges the changed records held into their rows.
    fn flush_records(&mut self) -> Result<()> {
        *self.last_row.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        if self.records.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.records);
        self.records_bytes = 0;
        let changes: Vec<(u32, Option<&[u8]>)> = records.iter().map(|(id, r)| (*id, Some(r.as_slice()))).collect();
        record_rows::apply(&mut self.tx.open_table(CONTACT_RECORDS)?, &changes)
    }

    /// Changes contacts that exist, in place: `f` gets each of `ids`
    /// (ascending, distinct; ids with no record are skipped) and must not
    /// change its email or external id (an error if it does). Each row is
    /// read, decoded and written once, with no key to look up: what an
    /// events import's side effects (score, bounce, unsubscribe) need for
    /// hundreds of thousands of contacts, where `contacts` then
    /// `put_contacts` read and decoded every record twice.
    pub fn update_contacts(&mut self, ids: &[u32], mut f: impl FnMut(&mut Contact)) -> Result<()> {
        if !ids.windows(2).all(|w| w[0] < w[1]) {
            return Err(Error::runtime("update_contacts: ids must be ascending and distinct"));
        }
        // the rows as this transaction left them
        self.flush_records()?;
        self.join_columns();
        let (mut out, mut buf) = (Vec::new(), Vec::new());
        // a few thousand rows at a time, so that the columns noted stay bounded
        for part in ids.chunk_by(|a, b| record_rows::row_of(*a) / 1024 == record_rows::row_of(*b) / 1024) {
            let mut t = self.tx.open_table(CONTACT_RECORDS)?;
            for wanted in part.chunk_by(|a, b| record_rows::row_of(*a) == record_rows::row_of(*b)) {
                let row = record_rows::row_of(wanted[0]);
                let Some(old_row) = t.get(row)?.map(|v| v.value().to_vec()) else { continue };
                let mut wanted = wanted.iter().peekable();
                out.clear();
                let mut changed = false;
                for e in record_rows::entries(row, &old_row) {
                    let (id, record) = e?;
                    while wanted.next_if(|w| **w < id).is_some() {}
                    if wanted.next_if(|w| **w == id).is_none() {
                        record_rows::push(&mut out, id, record);
                        continue;
                    }
                    changed = true;
                    let old: Contact = postcard::from_bytes(record)?;
                    let mut c = old.clone();
                    f(&mut c);
                    if c.id != old.id || c.email != old.email || c.external_id != old.external_id {
                        return Err(Error::runtime(format!("contact {id}: an in-place update changed its keys")));
                    }
                    buf.clear();
                    record_rows::encode_into(&c, &mut buf)?;
                    record_rows::push(&mut out, id, &buf);
                    self.touched_contacts.insert(id);
                    self.columns.note(&self.schema, id, Some(&ContactView::of(&c)), Some(&ContactView::of(&old)));
                }
                if changed {
                    t.insert(row, out.as_slice())?;
                }
            }
            drop(t);
            self.bound_columns()?;
        }
        Ok(())
    }

    /// Writes contacts (new or changed), keeping the key tables in step.
    /// Fails with an input error if an email or external id belongs to another contact.
    pub fn put_contacts(&mut self, list: &[Contact]) -> Result<()> {
        self.put_contacts_keyed(list, None)
    }

    /// `put_contacts`, also keeping a `Loader`'s key maps in step.
    pub(super) fn put_contacts_keyed(&mut self, list: &[Contact], mut keys: Option<&mut Keys>) -> Result<()> {
        self.keys_written = true;
        self.join_columns();
        let mut te = self.tx.open_table(EMAIL_KEYS)?;
        let mut tx_ = self.tx.open_table(EXTERNAL_ID_KEYS)?;
        for c in list {
            // neighbouring ids share their row, read once (`contact` keeps it)
            let old = self.contact(c.id)?;
            let old_email = old.as_ref().and_then(|o| o.email.as_deref()).map(normalize_email);
            let new_email = c.email.as_deref().map(normalize_email);
            if old_email != new_email {
                let mut change: Vec<(&str, Option<u32>)> = Vec::with_capacity(2);
                if let Some(e) = &new_email {
                    if let Some(other) = key_buckets::get(&te, e)?.filter(|o| *o != c.id) {
                        return Err(Error::input(format!("email {e} already belongs to contact {other}")));
                    }
                    change.push((e, Some(c.id)));
                    if let Some(k) = keys.as_deref_mut() {
                        k.insert_email(e, c.id);
                    }
                }
                if let Some(e) = &old_email {
                    change.insert(0, (e, None));
                    if let Some(k) = keys.as_deref_mut() {
                        k.remove_email(e);
                    }
                }
                key_buckets::apply(&mut te, &change)?;
            }
            let old_x = old.as_ref().and_then(|o| o.external_id.clone());
            if old_x != c.external_id {
                let mut change: Vec<(&str, Option<u32>)> = Vec::with_capacity(2);
                if let Some(x) = &old_x {
                    change.push((x, None));
                    if let Some(k) = keys.as_deref_mut() {
                        k.remove_external_id(x);
                    }
                }
                if let Some(x) = &c.external_id {
                    if let Some(other) = key_buckets::get(&tx_, x)?.filter(|o| *o != c.id) {
                        return Err(Error::input(format!("external id {x} already belongs to contact {other}")));
                    }
                    change.push((x, Some(c.id)));
                    if let Some(k) = keys.as_deref_mut() {
                        k.insert_external_id(x, c.id);
                    }
                }
                key_buckets::apply(&mut tx_, &change)?;
            }
            let bytes = postcard::to_allocvec(c)?;
            self.records_bytes += bytes.len();
            if let Some(before) = self.records.insert(c.id, bytes) {
                self.records_bytes -= before.len();
            }
            self.touched_contacts.insert(c.id);
            self.columns.note(
                &self.schema,
                c.id,
                Some(&ContactView::of(c)),
                old.as_ref().map(ContactView::of).as_ref(),
            );
        }
        drop((te, tx_));
        if self.records_bytes > RECORDS_HELD {
            self.flush_records()?;
        }
        self.bound_columns()
    }

    /// Writes contacts this transaction created (ids never used before,
    /// keys checked free and registered), skipping what `put_contacts` does
    /// for a changed record: no old record to read, keys inserted in order.
    pub fn put_new_contacts(&mut self, list: &[Contact]) -> Result<()> {
        self.put_new_contact_records(list)?;
        let emails: Vec<_> = list.iter().filter_map(|c| Some((email_key(c.email.as_deref()?), c.id))).collect();
        let xids: Vec<_> = list.iter().filter_map(|c| Some((c.external_id.as_deref()?, c.id))).collect();
        self.insert_keys(&emails, &xids)
    }

    /// The records of contacts this transaction created, as
    /// `put_new_contacts` writes them, without their keys: those follow,
    /// all at once, through `put_new_keys`.
    pub fn put_new_contact_records(&mut self, list: &[Contact]) -> Result<()> {
        self.write_new_records(list, true)?;
        self.bound_columns()
    }

    /// `put_new_contact_records` of a batch the caller gives up: its
    /// records are written here, its contacts noted into their columns on
    /// a thread of their own while the caller goes on (and freed there),
    /// and `list` is left empty, with the room of an earlier batch.
    pub fn put_new_contact_records_owned(&mut self, list: &mut Vec<Contact>) -> Result<()> {
        // the batch before: noted, and its columns written if they hold too much
        self.bound_columns()?;
        self.write_new_records(list, false)?;
        // the first batch's room comes back with the first join
        let spare = match std::mem::take(&mut self.spare_contacts) {
            v if v.capacity() > 0 => v,
            _ => Vec::with_capacity(list.len()),
        };
        let batch = std::mem::replace(list, spare);
        let (mut columns, schema) = (std::mem::take(&mut self.columns), self.schema.clone());
        self.columns_job = Some(std::thread::spawn(move || {
            let mut batch = batch;
            note_new(&mut columns, &schema, &batch);
            batch.clear();
            (columns, batch)
        }));
        Ok(())
    }

    /// Takes back the columns (and the emptied vector) from the thread
    /// noting a batch, once it is done.
    fn join_columns(&mut self) {
        if let Some(job) = self.columns_job.take() {
            match job.join() {
                Ok((columns, spare)) => (self.columns, self.spare_contacts) = (columns, spare),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
    }

    /// The records of new contacts (`put_new_contact_records`), noted
    /// into their columns too when `note`.
    fn write_new_records(&mut self, list: &[Contact], note: bool) -> Result<()> {
        if !list.windows(2).all(|w| w[0].id < w[1].id) {
            return Err(Error::runtime("new contacts must come in id order"));
        }
        self.keys_written = true;
        // rows already holding contacts get the new ones merged in
        self.flush_records()?;
        if note {
            self.join_columns();
        }
        let mut t = self.tx.open_table(CONTACT_RECORDS)?;
        let (columns, schema, touched) = (&mut self.columns, &self.schema, &mut self.touched_contacts);
        let mut insert = |part: &[Contact], (buf, rows): EncodedRows| -> Result<()> {
            let mut start = 0;
            for (row, end) in rows {
                record_rows::insert_new_row(&mut t, row, &buf[start..end])?;
                start = end;
            }
            touched.extend(part.iter().map(|c| c.id));
            Ok(())
        };
        let mut note_all = move || note_new(columns, schema, list);
        if list.len() < PARALLEL_FROM {
            insert(list, encode_rows(list)?)?;
            if note {
                note_all();
            }
        } else {
            // many contacts: one thread notes their columns (unless the
            // caller's thread does), another encodes the records a part at
            // a time, and this one inserts them
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<EncodedRows>>(4);
            std::thread::scope(|s| {
                if note {
                    s.spawn(note_all);
                }
                s.spawn(move || {
                    for part in parts_by_row(list) {
                        if tx.send(encode_rows(part)).is_err() {
                            return;
                        }
                    }
                });
                // dropped on an error here, so the encoding thread stops
                let rx = rx;
                for (part, encoded) in parts_by_row(list).zip(rx.iter()) {
                    insert(part, encoded?)?;
                }
                Ok::<(), Error>(())
            })?;
        }
        drop(t);
        Ok(())
    }

    /// Merges the noted contacts into their columns when they hold too much.
    fn bound_columns(&mut self) -> Result<()> {
        self.join_columns();
        if self.columns.over_bound() {
            self.flush_columns()?;
        } else if self.columns.ready_to_write() {
            self.columns.flush_ready(&mut self.tx.open_table(CONTACT_COLUMNS)?)?;
        }
        Ok(())
    }

    /// Merges the contacts written or erased so far into their columns.
    fn flush_columns(&mut self) -> Result<()> {
        self.join_columns();
        if self.columns.is_empty() {
            return Ok(());
        }
        self.columns.flush(&mut self.tx.open_table(CONTACT_COLUMNS)?)
    }

    /// The keys of contacts written by `put_new_contact_records` (checked
    /// free; emails normalized), sorted here and inserted in key order.
    pub fn put_new_keys<K: AsRef<str> + Sync>(&mut self, emails: &[(K, u32)], xids: &[(K, u32)]) -> Result<()> {
        self.keys_written = true;
        self.insert_keys(emails, xids)
    }

    /// `put_new_keys` of the keys two key tables hold (a contacts
    /// import's new keys), ordered from the tables without listing them.
    pub fn put_new_key_tables(&mut self, emails: &KeyTable, xids: &KeyTable) -> Result<()> {
        self.keys_written = true;
        let (ne, nx) = (emails.used_slots(), xids.used_slots());
        self.insert_ordered(
            ne.min(nx),
            || key_buckets::by_bucket_from(ne, || emails.keys()),
            || key_buckets::by_bucket_from(nx, || xids.keys()),
        )
    }

    /// Adds new contacts' keys, each bucket of the key tables written once.
    fn insert_keys<E: AsRef<str> + Sync, X: AsRef<str>>(
        &mut self,
        emails: &[(E, u32)],
        xids: &[(X, u32)],
    ) -> Result<()> {
        self.insert_ordered(
            emails.len().min(xids.len()),
            || key_buckets::by_bucket(emails),
            || key_buckets::by_bucket(xids),
        )
    }

    /// Writes the keys `emails()` and `xids()` put in bucket order, on two
    /// threads when both have at least `PARALLEL_FROM` (`fewer`: the
    /// smaller count).
    fn insert_ordered<'k>(
        &mut self,
        fewer: usize,
        emails: impl FnOnce() -> Vec<(u32, &'k [u8], u32)> + Send,
        xids: impl FnOnce() -> Vec<(u32, &'k [u8], u32)>,
    ) -> Result<()> {
        let tx = &self.tx;
        let xids_in = || key_buckets::insert_sorted(&mut tx.open_table(EXTERNAL_ID_KEYS)?, &xids());
        let emails_in = || key_buckets::insert_sorted(&mut tx.open_table(EMAIL_KEYS)?, &emails());
        if fewer < PARALLEL_FROM {
            xids_in()?;
            return emails_in();
        }
        // many keys: the emails sorted and written aside while the external
        // ids are here (two tables of one transaction, each written from
        // one thread; redb's write buffer is striped for this)
        let (emails_written, xids_written) = crate::parallel::both(emails_in, xids_in);
        emails_written?;
        xids_written
    }

    /// Appends timeline entries.
    pub fn add_actions(&mut self, actions: &[(u32, Action)]) -> Result<()> {
        let mut t = self.tx.open_table(ACTIONS)?;
        let mut buf = Vec::new();
        for (id, a) in actions {
            buf.clear();
            record_rows::encode_into(a, &mut buf)?;
            t.insert((*id, self.next_action), buf.as_slice())?;
            self.next_action += 1;
        }
        Ok(())
    }

    /// Appends the same timeline entry to each of `ids`, encoding it once:
    /// for many contacts, one entry per chunk of ids (`action_groups`).
    pub fn add_action_to_each(&mut self, ids: impl IntoIterator<Item = u32>, a: &Action) -> Result<()> {
        let mut ids: Vec<u32> = ids.into_iter().collect();
        if ids.len() >= super::action_groups::MIN_GROUP {
            if !ids.is_sorted() {
                ids.sort_unstable();
            }
            ids.dedup();
            super::action_groups::add(&mut self.tx.open_table(ACTION_GROUPS)?, &ids, self.next_action, a)?;
            self.next_action += 1;
            return Ok(());
        }
        let mut t = self.tx.open_table(ACTIONS)?;
        let bytes = postcard::to_allocvec(a)?;
        for id in ids {
            t.insert((id, self.next_action), bytes.as_slice())?;
            self.next_action += 1;
        }
        Ok(())
    }

    // ---------- tags and categories ----------

    /// Adds `ids` to tag `name`; returns the ids that were not yet tagged.
    pub fn tag_add(&mut self, name: &str, ids: &RoaringBitmap) -> Result<RoaringBitmap> {
        let mut t = self.tx.open_table(TAGS)?;
        let mut bm = match t.get(name)? {
            Some(v) => decode_bitmap(v.value())?,
            None => RoaringBitmap::new(),
        };
        let added = ids - &bm;
        if !added.is_empty() || bm.is_empty() {
            bm |= ids;
            t.insert(name, encode_bitmap(&bm).as_slice())?;
            self.tags_changed.insert(name.to_string());
        }
        Ok(added)
    }

    /// Removes `ids` from tag `name` (the tag disappears when empty); returns the ids removed.
    pub fn tag_remove(&mut self, name: &str, ids: &RoaringBitmap) -> Result<RoaringBitmap> {
        let mut t = self.tx.open_table(TAGS)?;
        let Some(mut bm) = t.get(name)?.map(|v| decode_bitmap(v.value())).transpose()? else {
            return Ok(RoaringBitmap::new());
        };
        let removed = ids & &bm;
        if !removed.is_empty() {
            bm -= &removed;
            if bm.is_empty() {
                t.remove(name)?;
            } else {
                t.insert(name, encode_bitmap(&bm).as_slice())?;
            }
            self.tags_changed.insert(name.to_string());
        }
        Ok(removed)
    }

    /// Declares a category (and its parent chain for `a/b/c` paths); returns the leaf name.
    pub fn ensure_category(&mut self, path: &str) -> Result<String> {
        let mut t = self.tx.open_table(CATEGORY_TREE)?;
        let mut parent = String::new();
        let mut leaf = String::new();
        for part in path.split('/').map(str::trim).filter(|p| !p.is_empty()) {
            if !crate::model::schema::valid_name(part) {
                return Err(Error::input(format!("`{part}` is not a valid category name")));
            }
            let existing = t.get(part)?.map(|v| v.value().to_string());
            match existing {
                Some(p) if !parent.is_empty() && p != parent => {
                    return Err(Error::input(format!(
                        "category `{part}` already exists under `{}`",
                        if p.is_empty() { "(root)" } else { &p }
                    )));
                }
                Some(_) => {}
                None => {
                    t.insert(part, parent.as_str())?;
                    self.other_changes.push(Change::Categories);
                }
            }
            parent = part.to_string();
            leaf = part.to_string();
        }
        if leaf.is_empty() {
            return Err(Error::input("empty category name"));
        }
        Ok(leaf)
    }

    /// Sets the directly assigned categories of a contact (bitmap side).
    pub fn set_category_members(&mut self, id: u32, old: &[String], new: &[String]) -> Result<()> {
        let mut t = self.tx.open_table(CATEGORY_MEMBERS)?;
        for c in old.iter().filter(|c| !new.contains(c)) {
            let cur = t.get(c.as_str())?.map(|v| decode_bitmap(v.value())).transpose()?;
            if let Some(mut bm) = cur {
                bm.remove(id);
                t.insert(c.as_str(), encode_bitmap(&bm).as_slice())?;
            }
        }
        for c in new.iter().filter(|c| !old.contains(c)) {
            let cur = t.get(c.as_str())?.map(|v| decode_bitmap(v.value())).transpose()?;
            let mut bm = cur.unwrap_or_default();
            bm.insert(id);
            t.insert(c.as_str(), encode_bitmap(&bm).as_slice())?;
        }
        if old != new {
            self.other_changes.push(Change::Categories);
        }
        Ok(())
    }

    /// Bulk form of `set_category_members` for new contacts: adds ids per category.
    pub fn add_category_members(&mut self, members: &std::collections::HashMap<String, RoaringBitmap>) -> Result<()> {
        let mut t = self.tx.open_table(CATEGORY_MEMBERS)?;
        for (c, ids) in members {
            let cur = t.get(c.as_str())?.map(|v| decode_bitmap(v.value())).transpose()?;
            let mut bm = cur.unwrap_or_default();
            bm |= ids;
            t.insert(c.as_str(), encode_bitmap(&bm).as_slice())?;
        }
        if !members.is_empty() {
            self.other_changes.push(Change::Categories);
        }
        Ok(())
    }

    // ---------- events ----------

    /// Stores an encoded block (sorted by time, of one time span) under a
    /// new id and lists it under its span; its
    /// contacts are the caller's to index (`Loader::write_block`).
    pub(super) fn insert_block(&mut self, b: &EventBlock, encoded: &[u8]) -> Result<BlockKey> {
        let (Some(&first), Some(&last)) = (b.ts.first(), b.ts.last()) else {
            return Err(Error::runtime("an empty event block"));
        };
        let part = super::time_parts::part_of(first);
        debug_assert_eq!(part, super::time_parts::part_of(last), "a block holds one time span");
        let key = (b.kind, self.next_block);
        self.next_block += 1;
        self.tx.open_table(EVENT_BLOCKS)?.insert(key, encoded)?;
        self.tx.open_table(EVENT_PARTS)?.insert((b.kind, part, key.1), (first, last))?;
        self.new_blocks.push(key);
        if self.summing.as_ref().is_some_and(|s| s.merging()) {
            // blocks after `merge_summaries_aside`: those merged first
            self.flush_summaries()?;
        }
        let s = self.summing.get_or_insert_with(super::summaries::Background::start);
        s.add(b);
        if s.over_bound() {
            self.flush_summaries()?;
        }
        Ok(key)
    }

    /// Merges the summaries of the blocks written so far into their rows.
    fn flush_summaries(&mut self) -> Result<()> {
        let Some(s) = self.summing.take() else { return Ok(()) };
        if write_summaries(s, &self.tx)? {
            self.summaries_written = true;
        }
        Ok(())
    }

    /// `flush_summaries`, with `other` (writes to other tables of this
    /// transaction) run on a second thread meanwhile: the end of a load
    /// writes the contact index beside the summaries (redb's write
    /// transaction may be shared; each table is opened by one thread).
    pub(super) fn flush_summaries_beside(
        &mut self,
        other: impl FnOnce(&redb::WriteTransaction) -> Result<()> + Send,
    ) -> Result<()> {
        let Some(s) = self.summing.take() else { return other(&self.tx) };
        let tx = &self.tx;
        let (mine, theirs) = std::thread::scope(|scope| {
            let h = scope.spawn(move || other(tx));
            (write_summaries(s, tx), h.join())
        });
        let theirs = theirs.map_err(|_| Error::runtime("writing beside the summaries failed"))?;
        if mine? {
            self.summaries_written = true;
        }
        theirs
    }

    /// No more blocks for now: the summaries thread merges what it added
    /// with the stored rows and encodes them while this thread goes on
    /// (new contacts, the contact index); the end of the load
    /// (`flush_summaries_beside`) or `commit` only inserts the rows. When
    /// this transaction has already written summaries, they are merged at
    /// commit as usual.
    pub(super) fn merge_summaries_aside(&mut self) -> Result<()> {
        if self.summaries_written {
            return Ok(());
        }
        if let Some(s) = &mut self.summing {
            s.merge(redb::ReadableDatabase::begin_read(self.store.redb())?);
        }
        Ok(())
    }

    // ---------- erasure ----------

    /// Erases contacts and everything about them: record, keys, tags,
    /// categories, timeline, events, deliveries, and dictionary values no
    /// other event uses.
    pub fn delete_contacts(&mut self, ids: &RoaringBitmap) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.keys_written = true;
        self.join_columns();
        self.flush_records()?;
        let mut n = 0;
        {
            let mut t = self.tx.open_table(CONTACT_RECORDS)?;
            // keys to remove: (key, None)
            let mut emails: Vec<(String, Option<u32>)> = vec![];
            let mut xids: Vec<(String, Option<u32>)> = vec![];
            let ids_in_order: Vec<u32> = ids.iter().collect();
            // read and removed a part at a time: the decoded records of
            // millions of contacts would not all fit in memory
            for part in ids_in_order.chunks(65_536) {
                let mut removed: Vec<(u32, Option<&[u8]>)> = Vec::new();
                for (id, c) in part.iter().zip(read_contacts(&t, part)?) {
                    let (id, Some(c)) = (*id, c) else {
                        continue;
                    };
                    removed.push((id, None));
                    n += 1;
                    self.columns.note(&self.schema, id, None, None);
                    if let Some(e) = &c.email {
                        emails.push((normalize_email(e), None));
                    }
                    if let Some(x) = c.external_id {
                        xids.push((x.into_string(), None));
                    }
                }
                record_rows::apply(&mut t, &removed)?;
            }
            key_buckets::apply(&mut self.tx.open_table(EMAIL_KEYS)?, &emails)?;
            key_buckets::apply(&mut self.tx.open_table(EXTERNAL_ID_KEYS)?, &xids)?;
        }
        // tags and categories
        for (is_tags, def) in [(true, TAGS), (false, CATEGORY_MEMBERS)] {
            let mut t = self.tx.open_table(def)?;
            let mut updates = Vec::new();
            for row in t.iter()? {
                let (k, v) = row?;
                let bm = decode_bitmap(v.value())?;
                if !bm.is_disjoint(ids) {
                    updates.push((k.value().to_string(), bm - ids));
                }
            }
            for (k, bm) in updates {
                if bm.is_empty() && is_tags {
                    t.remove(k.as_str())?;
                } else {
                    t.insert(k.as_str(), encode_bitmap(&bm).as_slice())?;
                }
                if is_tags {
                    self.tags_changed.insert(k);
                }
            }
        }
        // timeline and deliveries
        {
            let mut t = self.tx.open_table(ACTIONS)?;
            for id in ids {
                t.retain_in((id, 0)..=(id, u64::MAX), |_, _| false)?;
            }
            super::action_groups::remove(&mut self.tx.open_table(ACTION_GROUPS)?, ids)?;
            let mut d = self.tx.open_table(DELIVERIES)?;
            for id in ids {
                d.retain_in((id, "")..=(id, "\u{10FFFF}"), |_, _| false)?;
            }
        }
        super::journeys::erase_contacts(&self.tx, ids)?;
        // their summaries (after merging what this transaction wrote)
        self.flush_summaries()?;
        super::summaries::remove_contacts(&mut self.tx.open_table(CONTACT_SUMMARIES)?, self.schema.kinds.len(), ids)?;
        self.summaries_written = true;
        // events: rewrite every block that holds one of theirs (the index
        // names them), and drop their index entries
        let mut orphan_candidates: BTreeSet<u32> = BTreeSet::new();
        {
            let blocks = contact_index::remove(&mut self.tx.open_table(CONTACT_BLOCKS)?, ids)?;
            let mut t = self.tx.open_table(EVENT_BLOCKS)?;
            let mut parts = self.tx.open_table(EVENT_PARTS)?;
            for key in blocks {
                let Some(mut b) = t.get(key)?.map(|v| EventBlock::decode(v.value())).transpose()? else {
                    continue;
                };
                let keep: Vec<u32> = (0..b.len() as u32).filter(|&i| !ids.contains(b.contact[i as usize])).collect();
                if keep.len() == b.len() {
                    continue;
                }
                for i in (0..b.len()).filter(|&i| ids.contains(b.contact[i])) {
                    orphan_candidates.extend(b.utm_at(i).iter().filter(|&&d| d != 0));
                    for (_, d) in &b.params {
                        if let super::codec::ParamData::Text(v) = d
                            && v[i] != 0
                        {
                            orphan_candidates.insert(v[i]);
                        }
                    }
                }
                let part = super::time_parts::part_of(b.ts[0]);
                b.apply_order(&keep);
                match (b.ts.first(), b.ts.last()) {
                    (Some(&first), Some(&last)) => {
                        t.insert(key, b.encode().as_slice())?;
                        parts.insert((key.0, part, key.1), (first, last))?;
                    }
                    _ => {
                        t.remove(key)?;
                        parts.remove((key.0, part, key.1))?;
                    }
                }
                self.rewritten_blocks.push(key);
            }
        }
        if !orphan_candidates.is_empty() {
            self.drop_unused_dict(orphan_candidates)?;
        }
        self.deleted.extend(ids.iter());
        Ok(n)
    }

    /// Removes dictionary values that no remaining event refers to.
    fn drop_unused_dict(&mut self, mut candidates: BTreeSet<u32>) -> Result<()> {
        let t = self.tx.open_table(EVENT_BLOCKS)?;
        for row in t.iter()? {
            let (_, v) = row?;
            let b = EventBlock::decode(v.value())?;
            for col in b.utm.iter() {
                for d in col {
                    candidates.remove(d);
                }
            }
            for (_, d) in &b.params {
                if let super::codec::ParamData::Text(v) = d {
                    for x in v {
                        candidates.remove(x);
                    }
                }
            }
            if candidates.is_empty() {
                return Ok(());
            }
        }
        drop(t);
        let mut d = self.tx.open_table(DICT_CHUNKS)?;
        let mut chunks: Vec<u32> = candidates.iter().map(|&id| chunk_of(id)).collect();
        chunks.dedup();
        for chunk in chunks {
            let Some(bytes) = d.get(chunk)?.map(|v| v.value().to_vec()) else { continue };
            let mut keep: Vec<(u32, String)> = Vec::new();
            decode_chunk(chunk, &bytes, |id, s| {
                if !candidates.contains(&id) {
                    keep.push((id, s.to_string()));
                }
            })?;
            if keep.is_empty() {
                d.remove(chunk)?;
            } else {
                d.insert(chunk, encode_chunk(keep.iter().map(|(id, s)| (*id, s.as_str()))).as_slice())?;
            }
        }
        Ok(())
    }

    // ---------- settings, segments, campaigns ----------

    pub fn put_segment(&mut self, s: &crate::model::segment::SavedSegment) -> Result<()> {
        self.tx.open_table(SEGMENTS)?.insert(s.name.as_str(), postcard::to_allocvec(s)?.as_slice())?;
        self.other_changes.push(Change::Segments);
        Ok(())
    }

    pub fn segment(&self, name: &str) -> Result<Option<crate::model::segment::SavedSegment>> {
        let t = self.tx.open_table(SEGMENTS)?;
        match t.get(name)? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    /// Removes a segment and its size history; false if there was none.
    pub fn delete_segment(&mut self, name: &str) -> Result<bool> {
        let existed = self.tx.open_table(SEGMENTS)?.remove(name)?.is_some();
        self.tx.open_table(SEGMENT_HISTORY)?.retain_in((name, i64::MIN)..=(name, i64::MAX), |_, _| false)?;
        self.other_changes.push(Change::Segments);
        Ok(existed)
    }

    /// Records a point of a segment's size history.
    pub fn add_history_point(&mut self, name: &str, ts: i64, count: u64) -> Result<()> {
        self.tx.open_table(SEGMENT_HISTORY)?.insert((name, ts), count)?;
        Ok(())
    }

    pub fn put_campaign(&mut self, c: &crate::campaign::Campaign) -> Result<()> {
        self.tx.open_table(CAMPAIGNS)?.insert(c.name.as_str(), postcard::to_allocvec(c)?.as_slice())?;
        self.other_changes.push(Change::Campaigns);
        Ok(())
    }

    pub fn campaign(&self, name: &str) -> Result<Option<crate::campaign::Campaign>> {
        let t = self.tx.open_table(CAMPAIGNS)?;
        match t.get(name)? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    /// Stores the DND policy as its TOML text (already validated).
    pub fn put_policy(&mut self, toml_text: &str) -> Result<()> {
        self.put_setting("policy", toml_text.as_bytes())?;
        self.other_changes.push(Change::Campaigns);
        Ok(())
    }

    /// Writes (inserts or replaces) delivery records in one table open.
    pub fn put_deliveries(&mut self, rows: &[(u32, String, crate::campaign::Delivery)]) -> Result<()> {
        let mut t = self.tx.open_table(DELIVERIES)?;
        let mut buf = Vec::new();
        for (c, key, d) in rows {
            buf.clear();
            let bytes = postcard::to_extend(d, std::mem::take(&mut buf))?;
            t.insert((*c, key.as_str()), bytes.as_slice())?;
            buf = bytes;
        }
        Ok(())
    }

    pub fn put_setting(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.tx.open_table(SETTINGS)?.insert(key, value)?;
        Ok(())
    }

    /// Marks the database as built by `reach demo` (so a new demo may replace it).
    pub fn mark_demo(&mut self) -> Result<()> {
        self.tx.open_table(META)?.insert("demo", 1u64.to_le_bytes().as_slice())?;
        Ok(())
    }

    pub(super) fn note_journeys(&mut self) {
        if !self.other_changes.contains(&Change::Journeys) {
            self.other_changes.push(Change::Journeys);
        }
    }

    pub fn note_change(&mut self, c: Change) {
        self.other_changes.push(c);
    }

    /// Makes everything durable at once and tells subscribers what changed.
    pub fn commit(mut self) -> Result<Vec<Change>> {
        if self.loading {
            return Err(Error::runtime("a bulk load was left unfinished: its blocks and values are not written"));
        }
        self.flush_summaries()?;
        self.flush_columns()?;
        self.flush_records()?;
        // the set of contact ids, so readers know who exists without reading every record
        if !self.touched_contacts.is_empty() || !self.deleted.is_empty() {
            let mut ids = self.contact_ids()?;
            let cur = {
                let m = self.tx.open_table(META)?;
                m.get("contact_ids")?.is_some()
            };
            if cur {
                ids |= &self.touched_contacts;
                for &id in &self.deleted {
                    ids.remove(id);
                }
            }
            self.tx.open_table(META)?.insert("contact_ids", encode_bitmap(&ids).as_slice())?;
        }
        {
            let mut m = self.tx.open_table(META)?;
            m.insert("next_contact", self.next_contact.to_le_bytes().as_slice())?;
            m.insert("next_block", self.next_block.to_le_bytes().as_slice())?;
            m.insert("next_dict", self.next_dict.to_le_bytes().as_slice())?;
            m.insert("next_action", self.next_action.to_le_bytes().as_slice())?;
            if self.schema_dirty {
                self.tx.open_table(SCHEMA)?.insert("schema", postcard::to_allocvec(&self.schema)?.as_slice())?;
            }
        }
        let mut changes = Vec::new();
        if self.schema_dirty {
            changes.push(Change::Schema);
        }
        // written and not deleted since (a search of `deleted` per written
        // contact was quadratic when a transaction held many of both)
        let mut live = self.touched_contacts.clone();
        for &id in &self.deleted {
            live.remove(id);
        }
        let touched: Vec<u32> = live.iter().collect();
        if !touched.is_empty() {
            changes.push(Change::Contacts(touched));
        }
        if !self.deleted.is_empty() {
            changes.push(Change::ContactsDeleted(std::mem::take(&mut self.deleted)));
        }
        if !self.new_blocks.is_empty() {
            changes.push(Change::EventBlocks(std::mem::take(&mut self.new_blocks)));
        }
        if !self.rewritten_blocks.is_empty() {
            changes.push(Change::EventBlocksRewritten(std::mem::take(&mut self.rewritten_blocks)));
        }
        if !self.tags_changed.is_empty() {
            changes.push(Change::Tags(std::mem::take(&mut self.tags_changed).into_iter().collect()));
        }
        for c in self.other_changes.drain(..) {
            if !changes.contains(&c) {
                changes.push(c);
            }
        }
        let store = self.store;
        self.tx.commit()?;
        store.publish(&changes);
        Ok(changes)
    }
}

/// `list` (ids ascending) cut into parts of about `ENCODED_AHEAD`
/// contacts, each ending at the end of a row.
fn parts_by_row(list: &[Contact]) -> impl Iterator<Item = &[Contact]> {
    let mut rest = list;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut n = rest.len().min(ENCODED_AHEAD);
        while n < rest.len() && record_rows::row_of(rest[n].id) == record_rows::row_of(rest[n - 1].id) {
            n += 1;
        }
        let (part, tail) = rest.split_at(n);
        rest = tail;
        Some(part)
    })
}

/// Notes new contacts (ids ascending) into their columns.
fn note_new(columns: &mut super::contact_columns::Pending, schema: &Schema, list: &[Contact]) {
    columns.note_new(schema, list);
}

/// Row entries (`record_rows::push`) and each row's number with the end of
/// its entries in them.
type EncodedRows = (Vec<u8>, Vec<(u32, usize)>);

/// The records of `list` (ids ascending) as row entries.
fn encode_rows(list: &[Contact]) -> Result<EncodedRows> {
    let mut buf = Vec::with_capacity(list.len() * 256);
    let mut rows: Vec<(u32, usize)> = Vec::new();
    let mut record = Vec::new();
    for c in list {
        record.clear();
        record_rows::encode_into(c, &mut record)?;
        let row = record_rows::row_of(c.id);
        if rows.last().is_none_or(|(r, _)| *r != row) {
            rows.push((row, 0));
        }
        record_rows::push(&mut buf, c.id, &record);
        rows.last_mut().expect("pushed").1 = buf.len();
    }
    Ok((buf, rows))
}

/// Ends the summaries thread `s` and writes what it holds into
/// `CONTACT_SUMMARIES`; false when it held nothing.
fn write_summaries(s: super::summaries::Background, tx: &redb::WriteTransaction) -> Result<bool> {
    let mut t = tx.open_table(CONTACT_SUMMARIES)?;
    match s.finish() {
        Done::Pending(mut pending) if !pending.is_empty() => pending.flush(&mut t)?,
        Done::Pending(_) => return Ok(false),
        Done::Rows(rows) => {
            for (key, row) in rows? {
                t.insert(key, row.as_slice())?;
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::contact::Consent;
    use crate::store::{OpenMode, Store};

    /// A commit tells its subscribers of the contacts it wrote, less those
    /// it deleted after writing them, and of those it deleted.
    #[test]
    fn a_commit_announces_written_contacts_less_deleted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.redb"), OpenMode::Create).unwrap();
        let changes = store.subscribe();
        let mut w = store.begin_write().unwrap();
        let new = |id: u32| Contact { id, email: Some(format!("c{id}@example.com").into()), ..Default::default() };
        w.put_contacts(&(1..=6).map(new).collect::<Vec<_>>()).unwrap();
        w.delete_contacts(&RoaringBitmap::from_iter([2u32, 5])).unwrap();
        w.commit().unwrap();
        let got: Vec<Change> = changes.try_iter().collect();
        assert!(got.iter().any(|c| matches!(c, Change::Contacts(ids) if *ids == [1, 3, 4, 6])), "{got:?}");
        assert!(got.iter().any(|c| matches!(c, Change::ContactsDeleted(ids) if *ids == [2, 5])), "{got:?}");
    }

    /// `contact` keeps the last record row it read: changes merged into the
    /// rows afterwards (a held change flushed by a delete, the delete
    /// itself) show in the next reads, in and after the transaction.
    #[test]
    fn contact_reads_see_rows_changed_since() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.redb"), OpenMode::Create).unwrap();
        let new =
            |id: u32| Contact { id, email: Some(format!("c{id}@example.com").into()), score: 1, ..Default::default() };
        let mut w = store.begin_write().unwrap();
        w.put_contacts(&(1..=200).map(new).collect::<Vec<_>>()).unwrap();
        w.commit().unwrap();
        let mut w = store.begin_write().unwrap();
        assert_eq!(w.contact(5).unwrap().map(|c| c.score), Some(1));
        w.put_contacts(&[Contact { score: 9, ..new(6) }]).unwrap();
        assert_eq!(w.contact(6).unwrap().map(|c| c.score), Some(9), "a held change");
        // the delete merges the held change into its row first
        w.delete_contacts(&RoaringBitmap::from_iter([7u32])).unwrap();
        assert_eq!(w.contact(6).unwrap().map(|c| c.score), Some(9), "the change merged into its row");
        assert!(w.contact(7).unwrap().is_none(), "deleted");
        assert_eq!(w.contact(8).unwrap().map(|c| c.score), Some(1));
        assert!(w.contact(201).unwrap().is_none());
        w.commit().unwrap();
        let w = store.begin_write().unwrap();
        assert_eq!(w.contact(6).unwrap().map(|c| c.score), Some(9));
        assert!(w.contact(7).unwrap().is_none());
    }

    /// Every row of the tables a new contact's write touches, in key order.
    fn rows(store: &Store) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = store.db.begin_read().unwrap();
        let mut out = Vec::new();
        for (name, def) in [("emails", EMAIL_KEYS), ("external ids", EXTERNAL_ID_KEYS), ("contacts", CONTACT_RECORDS)] {
            for row in tx.open_table(def).unwrap().iter().unwrap() {
                let (k, v) = row.unwrap();
                out.push((name, k.value().to_le_bytes().to_vec(), v.value().to_vec()));
            }
        }
        for row in tx.open_table(CONTACT_COLUMNS).unwrap().iter().unwrap() {
            let (k, v) = row.unwrap();
            let (f, chunk) = k.value();
            out.push(("columns", [f.to_le_bytes().as_slice(), &chunk.to_le_bytes()].concat(), v.value().to_vec()));
        }
        out
    }

    /// Many new contacts at once take the threaded paths (records encoded
    /// and columns noted beside the inserts, the two key tables sorted and
    /// written side by side); the
    /// same contacts a few at a time take the one-thread paths; handed over
    /// in batches (`put_new_contact_records_owned`, columns noted on a
    /// thread while the next batch is written, keys at the end), with an
    /// update between two of them. All write the same rows, and a new
    /// file's set of contact ids holds exactly them.
    #[test]
    fn many_new_contacts_write_what_few_at_a_time_write() {
        let n = 3 * PARALLEL_FROM as u32;
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a.redb"), dir.path().join("b.redb"), dir.path().join("c.redb"));
        let mut written = Vec::new();
        for (path, per_call) in [(&a, n as usize), (&b, PARALLEL_FROM / 8), (&c, 0)] {
            let store = Store::open(path, OpenMode::Create).unwrap();
            let mut w = store.begin_write().unwrap();
            let list: Vec<Contact> = (0..n)
                .map(|i| {
                    let id = w.new_contact_id().unwrap();
                    let mut c = Contact {
                        id,
                        created_at: 1_700_000_000_000 + i as i64 * 1000,
                        score: i as i64 % 97,
                        timezone: (i % 3 == 0).then(|| "Europe/Rome".to_string().into()),
                        email: (i % 5 != 0).then(|| format!("person{i}@example.com").into()),
                        external_id: (i % 7 != 0).then(|| format!("C{i:07}").into()),
                        ..Default::default()
                    };
                    c.consent[0] = (i % 2 == 0).then_some(Consent { opted_in: i % 4 == 0, at: 1_700_000_000_000 });
                    c
                })
                .collect();
            if per_call > 0 {
                for part in list.chunks(per_call) {
                    w.put_new_contacts(part).unwrap();
                }
            } else {
                for (k, part) in list.chunks(PARALLEL_FROM + 100).enumerate() {
                    let mut batch = part.to_vec();
                    w.put_new_contact_records_owned(&mut batch).unwrap();
                    assert!(batch.is_empty(), "the batch was taken");
                    if k == 1 {
                        // the columns are taken back before anything else uses them
                        w.update_contacts(&[list[7].id], |c| c.score += 0).unwrap();
                    }
                }
                let emails: Vec<_> =
                    list.iter().filter_map(|c| Some((email_key(c.email.as_deref()?).into_owned(), c.id))).collect();
                let xids: Vec<_> =
                    list.iter().filter_map(|c| Some((c.external_id.as_deref()?.to_string(), c.id))).collect();
                w.put_new_keys(&emails, &xids).unwrap();
            }
            w.commit().unwrap();
            let ids = store.begin_read().unwrap().contact_ids().unwrap();
            assert_eq!(ids.len(), n as u64);
            assert!(list.iter().all(|c| ids.contains(c.id)));
            let r = store.begin_read().unwrap();
            assert_eq!(r.contact(list[4321].id).unwrap().as_ref(), Some(&list[4321]));
            written.push(rows(&store));
        }
        // ids from 1: the records of n contacts in n / 64 + 1 rows
        let records = written[0].iter().filter(|(name, _, _)| *name == "contacts").count();
        assert_eq!(records, n as usize / record_rows::PER_ROW as usize + 1);
        assert!(written[0].len() > n as usize, "{} rows", written[0].len());
        assert!(written[0] == written[1], "the two paths wrote different rows");
        assert!(written[0] == written[2], "batches handed over wrote different rows");
    }

    /// `update_contacts` writes the rows (records and columns) that reading
    /// the contacts and putting them back writes, after a change held in
    /// the same transaction; ids with no record are skipped, and a change
    /// of keys is refused.
    #[test]
    fn update_contacts_writes_what_put_contacts_writes() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        let bump = |c: &mut Contact| {
            c.score += c.id as i64;
            c.bounced_at = Some(1_800_000_000_000);
        };
        let ids = [3u32, 63, 64, 65, 70, 150, 199, 500];
        for name in ["in_place.redb", "put.redb"] {
            let store = Store::open(&dir.path().join(name), OpenMode::Create).unwrap();
            let mut w = store.begin_write().unwrap();
            seed(&mut w);
            w.commit().unwrap();
            let mut w = store.begin_write().unwrap();
            // a change held in the writer, not yet in its row
            let mut c70 = w.contacts(&[70]).unwrap()[0].clone().unwrap();
            c70.timezone = Some("Europe/Rome".into());
            w.put_contacts(&[c70]).unwrap();
            if name == "in_place.redb" {
                w.update_contacts(&ids, bump).unwrap();
            } else {
                let mut cs: Vec<Contact> = w.contacts(&ids).unwrap().into_iter().flatten().collect();
                cs.iter_mut().for_each(bump);
                w.put_contacts(&cs).unwrap();
            }
            w.commit().unwrap();
            let r = store.begin_read().unwrap();
            let c = r.contact(70).unwrap().unwrap();
            assert_eq!((c.score, c.timezone.as_deref()), (69 + 70, Some("Europe/Rome")), "{name}");
            written.push(rows(&store));
            let mut w = store.begin_write().unwrap();
            let err = w.update_contacts(&[5], |c| c.email = None).unwrap_err();
            assert!(err.message.contains("changed its keys"), "{}", err.message);
        }
        assert!(written[0] == written[1], "the two ways wrote different rows");
    }

    /// Contacts 1..=200 (score one less than the id), each with an email,
    /// every third with an external id.
    fn seed(w: &mut Writer) {
        let list: Vec<Contact> = (0..200u32)
            .map(|i| Contact {
                id: w.new_contact_id().unwrap(),
                score: i as i64,
                email: Some(format!("p{i}@example.com").into()),
                external_id: (i % 3 == 0).then(|| format!("C{i}").into()),
                ..Default::default()
            })
            .collect();
        w.put_new_contacts(&list).unwrap();
    }

    /// Ids held only in the overlay (a row that does not exist yet, or
    /// exists without them), ids with no record, no row at all, a change
    /// that leaves a record as it was: `update_contacts` writes what
    /// reading then putting writes.
    #[test]
    fn update_contacts_with_overlay_records_and_missing_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        let ids = [1u32, 10, 11, 63, 199, 201, 205, 250, 300, 5000];
        let f = |c: &mut Contact| {
            if c.id != 11 {
                c.score += 1000 + c.id as i64;
                c.unsubscribed_at = Some(5);
            }
        };
        for name in ["a.redb", "b.redb"] {
            let store = Store::open(&dir.path().join(name), OpenMode::Create).unwrap();
            let mut w = store.begin_write().unwrap();
            seed(&mut w);
            w.commit().unwrap();
            let mut w = store.begin_write().unwrap();
            // records only in the overlay: a new row (300) and an existing one (201, 205 in row 3 with 192..199)
            let fresh = |id: u32| Contact {
                id,
                score: 7,
                email: Some(format!("f{id}@example.com").into()),
                ..Default::default()
            };
            w.put_contacts(&[fresh(201), fresh(205), fresh(300)]).unwrap();
            let mut c10 = w.contact(10).unwrap().unwrap();
            c10.timezone = Some("Europe/Rome".into());
            w.put_contacts(&[c10]).unwrap();
            let mut called = Vec::new();
            if name == "a.redb" {
                w.update_contacts(&ids, |c| {
                    called.push(c.id);
                    f(c)
                })
                .unwrap();
                assert_eq!(called, vec![1, 10, 11, 63, 199, 201, 205, 300]);
            } else {
                let mut cs: Vec<Contact> = w.contacts(&ids).unwrap().into_iter().flatten().collect();
                cs.iter_mut().for_each(f);
                w.put_contacts(&cs).unwrap();
            }
            let touched: Vec<u32> = w.touched_contacts.iter().collect();
            w.commit().unwrap();
            let r = store.begin_read().unwrap();
            let c = r.contact(10).unwrap().unwrap();
            assert_eq!((c.score, c.timezone.as_deref()), (9 + 1010, Some("Europe/Rome")));
            assert_eq!(r.contact(300).unwrap().unwrap().score, 1307);
            assert!(r.contact(250).unwrap().is_none());
            written.push((rows(&store), touched));
        }
        assert!(written[0].1 == written[1].1, "touched {:?} vs {:?}", written[0].1, written[1].1);
        assert!(written[0].0 == written[1].0, "the two ways wrote different rows");
    }

    /// `put_contacts` with neighbouring ids, some held in the overlay, one
    /// twice, keys moving between contacts of the list: the same as one
    /// contact per call.
    #[test]
    fn put_contacts_reads_each_row_once_as_one_by_one_would() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        for (name, one_by_one) in [("a.redb", false), ("b.redb", true)] {
            let store = Store::open(&dir.path().join(name), OpenMode::Create).unwrap();
            let mut w = store.begin_write().unwrap();
            seed(&mut w);
            w.commit().unwrap();
            let mut w = store.begin_write().unwrap();
            let mut c11 = w.contact(11).unwrap().unwrap();
            c11.score = -1;
            w.put_contacts(&[c11.clone()]).unwrap();
            let mut list = Vec::new();
            for id in [10u32, 11, 12, 70, 10, 13, 64, 3] {
                let mut c = w.contact(id).unwrap().unwrap();
                c.score += 100;
                list.push(c);
            }
            // 12 gives its email up, 13 takes it (after 12 in the list)
            list[2].email = Some("moved@example.com".into());
            list[5].email = Some("p12@example.com".into());
            list[4].timezone = Some("UTC".into());
            if one_by_one {
                for c in &list {
                    w.put_contacts(std::slice::from_ref(c)).unwrap();
                }
            } else {
                w.put_contacts(&list).unwrap();
            }
            w.commit().unwrap();
            written.push(rows(&store));
        }
        assert!(written[0] == written[1], "the two ways wrote different rows");
    }
}
