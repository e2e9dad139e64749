//! Importing contacts: each row upserts one contact, matched on external id,
//! then email. Empty cells never erase; tags and categories are added.
//! Duplicate keys inside one file are refused (the second row is the bad one).

use super::mapping::{CONTACT_ALIASES, field_name};
use super::records::Fields;
use super::{ImportContext, ImportReport};
use crate::error::{Error, Result};
use crate::model::attribute::{AttrDef, AttrType, AttrValue, parse_bool};
use crate::model::contact::looks_like_email;
use crate::model::schema::CONTACT_COLUMNS;
use crate::model::time::TimeFormat;
use crate::model::written_number::DecimalMark;
use crate::model::{Action, ActionKind, Channel, Consent, Contact};
use crate::model::{push_in_place, trim_fast};
use crate::store::keys::{KeyTable, email_key, key_hash};
use crate::store::{Loader, Writer};
use compact_str::CompactString;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap as HashMap;
use std::cell::Cell;

#[derive(Clone, Debug)]
enum Col {
    Id,
    ExternalId,
    Email,
    CreatedAt,
    Score,
    Timezone,
    Consent(Channel),
    ConsentAt(Channel),
    UnsubscribedAt,
    BouncedAt,
    Tags,
    Categories,
    Attr(u16),
    Ignore,
}

/// One validated row, ready to apply.
#[derive(Default)]
pub(super) struct Row {
    id_hint: Option<u32>,
    /// inline up to 24 bytes, as `Contact` keeps them
    external_id: Option<CompactString>,
    email: Option<CompactString>,
    created_at: Option<i64>,
    score: Option<i64>,
    timezone: Option<CompactString>,
    consent: [Option<bool>; 3],
    consent_at: [Option<i64>; 3],
    unsubscribed_at: Option<i64>,
    bounced_at: Option<i64>,
    tags: Vec<String>,
    /// the categories cell as written (split where applied: a file
    /// repeats a few lists of categories on most rows)
    categories: CompactString,
    attrs: Vec<(u16, AttrValue)>,
    /// whether `attrs` is in index order (found where the row is parsed,
    /// while they are in that core's cache)
    attrs_sorted: bool,
    /// `keys::key_hash` of the external id and of the normalized email,
    /// computed where the row is parsed (the reader thread, for CSV)
    xid_hash: u64,
    email_hash: u64,
}

pub(super) struct ContactSink<'a, 'w> {
    /// the transaction, through the load that holds its key maps
    pub w: Loader<'a, 'w>,
    pub ctx: &'a ImportContext,
    pub report: &'a mut ImportReport,
    cols: Vec<Col>,
    /// external id → the line that set it on a contact that existed
    /// (the keys of contacts this import creates are in `new_xids` and
    /// `new_emails`, their lines in `seen_ids`)
    seen_xid: HashMap<CompactString, u64>,
    /// normalized email → the line that set it on a contact that existed
    seen_email: HashMap<CompactString, u64>,
    /// contact id → the line that imported it, and whether it created it
    seen_ids: IdLines,
    /// contacts to write, and the score each had before (None: new)
    pending: Vec<Contact>,
    pending_old_score: Vec<Option<i64>>,
    /// contacts this import creates, their keys registered in the load
    /// already: written without reading anything back, keys in order
    pending_new: Vec<Contact>,
    /// the keys of the contacts this import creates (emails normalized),
    /// found here by the rows after them: they reach the key tables at the
    /// end, in one pass each
    new_emails: KeyTable,
    new_xids: KeyTable,
    /// the tables sized for the whole input (emails, external ids), being
    /// made on a thread of their own: the keys go to the tables above
    /// until they come (`take_sized_tables`)
    sized_tables: Option<std::thread::JoinHandle<(Option<KeyTable>, Option<KeyTable>)>>,
    /// the input's size in bytes, and the bytes of its first rows: the
    /// tables of new keys are sized from them once (`size_key_tables`)
    input_bytes: Option<u64>,
    first_rows: (u64, u64),
    tags: HashMap<String, RoaringBitmap>,
    /// category leaves named so far, with the contacts placed in each
    leaves: Vec<(CompactString, RoaringBitmap)>,
    /// a category path as written → its leaf's index in `leaves`
    known_categories: HashMap<String, usize>,
    /// a categories cell as written → its leaves (`CATEGORY_LISTS` at most)
    category_lists: HashMap<String, Vec<usize>>,
    /// a leaf → its index in `leaves`
    leaf_index: HashMap<String, usize>,
    /// the leaves of the current row (kept for the next row)
    row_leaves: Vec<usize>,
    has_consent_col: [bool; 3],
    /// timezones found valid (rows parsed here: JSONL)
    tz_ok: TzNames,
    /// the files of an import of several, in turn (`RowSink::next_file`):
    /// the lines noted above hold the file's index from `FILE_SHIFT` up
    files: Vec<String>,
}

/// Where a noted line holds its file's index in an import of several.
const FILE_SHIFT: u32 = 40;

/// Rows whose size estimates the input's count of rows.
const SIZING_ROWS: u64 = 256;
/// At most this many new keys are made room for ahead.
const SIZING_MAX: u64 = 1 << 23;
/// Distinct categories cells whose leaves are remembered.
const CATEGORY_LISTS: usize = 4096;
/// Changed contacts written at a time.
const FLUSH: usize = 20_000;
/// New contacts written at a time (their records and timeline entries go
/// in id order; their keys wait for the end of the import).
const FLUSH_NEW: usize = 50_000;

impl<'a, 'w> ContactSink<'a, 'w> {
    pub fn new(
        w: &'a mut Writer<'w>,
        ctx: &'a ImportContext,
        report: &'a mut ImportReport,
        input_bytes: Option<u64>,
    ) -> Result<Self> {
        let mut w = Loader::new(w);
        w.load_keys()?;
        Ok(ContactSink {
            w,
            ctx,
            report,
            cols: vec![],
            seen_xid: HashMap::default(),
            seen_email: HashMap::default(),
            seen_ids: IdLines::default(),
            pending: vec![],
            pending_old_score: vec![],
            pending_new: vec![],
            new_emails: KeyTable::default(),
            new_xids: KeyTable::default(),
            sized_tables: None,
            input_bytes,
            first_rows: (0, 0),
            tags: HashMap::default(),
            leaves: Vec::new(),
            known_categories: HashMap::default(),
            category_lists: HashMap::default(),
            leaf_index: HashMap::default(),
            row_leaves: Vec::new(),
            has_consent_col: [false; 3],
            tz_ok: TzNames::default(),
            files: Vec::new(),
        })
    }

    fn resolve(&mut self, field: &str) -> Result<Col> {
        Ok(match field {
            "id" => Col::Id,
            "external_id" => Col::ExternalId,
            "email" => Col::Email,
            "created_at" => Col::CreatedAt,
            "score" => Col::Score,
            "timezone" => Col::Timezone,
            "consent_email" => Col::Consent(Channel::Email),
            "consent_sms" => Col::Consent(Channel::Sms),
            "consent_push" => Col::Consent(Channel::Push),
            "consent_email_at" => Col::ConsentAt(Channel::Email),
            "consent_sms_at" => Col::ConsentAt(Channel::Sms),
            "consent_push_at" => Col::ConsentAt(Channel::Push),
            "unsubscribed_at" => Col::UnsubscribedAt,
            "bounced_at" => Col::BouncedAt,
            "tags" => Col::Tags,
            "categories" => Col::Categories,
            other => {
                if let Some((i, _)) = self.w.schema().attr(other) {
                    Col::Attr(i)
                } else {
                    let name = field_name(other);
                    if name.is_empty() {
                        return Ok(Col::Ignore);
                    }
                    match self.w.schema().attr(&name) {
                        Some((i, _)) => Col::Attr(i),
                        None => {
                            let i = self
                                .w
                                .schema_mut()
                                .add_attribute(&name, AttrType::Text)
                                .map_err(|e| Error::input(format!("column `{other}`: {e}")))?;
                            self.report.created.push(format!("attribute {name} (text)"));
                            Col::Attr(i)
                        }
                    }
                }
            }
        })
    }

    /// Parses a row here (JSONL, whose columns can grow as it goes) and
    /// checks it against the rows before.
    fn parse_row(&mut self, rec: &Fields) -> Result<Row> {
        let shopify = self.shopify();
        let r = parse_fields(
            &self.cols,
            &self.w.schema().attributes,
            &self.ctx.time_format,
            self.ctx.decimal_mark,
            shopify,
            &mut self.tz_ok,
            rec,
        )?;
        Ok(r)
    }

    /// The contacts the row's keys name now: by external id, by email
    /// (contacts from before, then those this import created).
    fn keyed(&self, r: &Row) -> (Option<u32>, Option<u32>) {
        let by_x = r.external_id.as_deref().and_then(|x| {
            self.w.id_by_external_id_hashed(x, r.xid_hash).or_else(|| self.new_xids.get_hashed(x, r.xid_hash))
        });
        let by_e = r.email.as_deref().and_then(|e| {
            let k = email_key(e);
            self.w.id_by_email_key_hashed(&k, r.email_hash).or_else(|| self.new_emails.get_hashed(&k, r.email_hash))
        });
        (by_x, by_e)
    }

    /// Refuses a second row with a key an earlier row of the file had: a
    /// key an earlier row set on a contact that existed, or the key of a
    /// contact an earlier row created (`by_x`, `by_e`: whom the keys name).
    fn check_seen(&self, r: &Row, (by_x, by_e): (Option<u32>, Option<u32>)) -> Result<()> {
        // the maps of keys set on contacts from before are empty in an
        // import of new contacts: no key hashed (nor email normalized) for them
        if let Some(x) = &r.external_id
            && let Some(first) = (!self.seen_xid.is_empty())
                .then(|| self.seen_xid.get(x.as_str()).copied())
                .flatten()
                .or_else(|| by_x.and_then(|id| self.seen_ids.created(id)))
        {
            return Err(Error::input(format!("duplicate external_id `{x}` (first on {})", self.place(first))));
        }
        if let Some(e) = &r.email
            && let Some(first) = (!self.seen_email.is_empty())
                .then(|| self.seen_email.get(email_key(e).as_ref()).copied())
                .flatten()
                .or_else(|| by_e.and_then(|id| self.seen_ids.created(id)))
        {
            return Err(Error::input(format!("duplicate email `{e}` (first on {})", self.place(first))));
        }
        Ok(())
    }

    /// An earlier row's place as noted (`row`): "line 12", or of an
    /// import of several files "line 12 of a.csv".
    fn place(&self, noted: u64) -> String {
        let line = noted & ((1 << FILE_SHIFT) - 1);
        match self.files.get((noted >> FILE_SHIFT) as usize) {
            Some(name) if self.files.len() > 1 => format!("line {line} of {name}"),
            _ => format!("line {line}"),
        }
    }

    fn shopify(&self) -> bool {
        self.ctx.preset == Some(super::mapping::Preset::Shopify)
    }

    /// Finds the contact a row updates, checking that its keys do not point at two contacts.
    fn target(&self, r: &Row, (by_x, by_e): (Option<u32>, Option<u32>)) -> Result<Option<u32>> {
        match (by_x, by_e) {
            (Some(a), Some(b)) if a != b => Err(Error::input(format!(
                "external_id `{}` is contact {a} but email `{}` is contact {b}",
                r.external_id.as_deref().unwrap_or(""),
                r.email.as_deref().unwrap_or("")
            ))),
            (Some(a), _) => Ok(Some(a)),
            (None, Some(b)) => {
                // matched on email: the contact must not already have another external id
                Ok(Some(b))
            }
            (None, None) => Ok(None),
        }
    }

    /// Counts the bytes of the first rows; after `SIZING_ROWS` of them,
    /// sizes the tables of new keys for as many rows as the input holds at
    /// that rate (at most `SIZING_MAX`), so that they never grow (each
    /// growth re-inserts every key).
    fn size_key_tables(&mut self, rec: &Fields) {
        let (rows, bytes) = &mut self.first_rows;
        if *rows >= SIZING_ROWS {
            return;
        }
        *rows += 1;
        *bytes += (rec.as_bytes().len() + rec.len()) as u64;
        if *rows == SIZING_ROWS
            && let Some(total) = self.input_bytes
        {
            let expected = (total / (*bytes / SIZING_ROWS).max(1)).min(SIZING_MAX) as usize;
            // a table the first rows left empty stays small
            let wanted = |t: &KeyTable| !t.is_empty() && t.needs_room_for(expected);
            let (emails, xids) = (wanted(&self.new_emails), wanted(&self.new_xids));
            if emails || xids {
                // made aside (the kernel zeroes their fresh pages: 26 to
                // 356 ms for a million keys in traced runs here, while this
                // thread would wait and the reader with it)
                let make = move |want: bool| want.then(|| KeyTable::with_capacity(expected));
                self.sized_tables = Some(std::thread::spawn(move || (make(emails), make(xids))));
            }
        }
    }

    /// Moves the keys so far into the tables sized for the whole input once
    /// they are made (`wait`: waiting for them).
    fn take_sized_tables(&mut self, wait: bool) {
        if self.sized_tables.as_ref().is_none_or(|h| !wait && !h.is_finished()) {
            return;
        }
        let Some(h) = self.sized_tables.take() else { return };
        let (emails, xids) = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        if let Some(t) = emails {
            self.new_emails = std::mem::take(&mut self.new_emails).moved_into(t);
        }
        if let Some(t) = xids {
            self.new_xids = std::mem::take(&mut self.new_xids).moved_into(t);
        }
    }

    /// The leaves of a categories cell seen for the first time (each path
    /// declared when new), remembered for the rows that repeat the cell.
    fn cell_leaves(&mut self, cell: &str, cats: &mut Vec<usize>) -> Result<()> {
        for c in split_list(cell) {
            let leaf = match self.known_categories.get(&c) {
                Some(&i) => i,
                None => {
                    let l = self.w.ensure_category(&c)?;
                    let i = match self.leaf_index.get(&l) {
                        Some(&i) => i,
                        None => {
                            self.leaf_index.insert(l.clone(), self.leaves.len());
                            self.leaves.push((l.into(), RoaringBitmap::new()));
                            self.leaves.len() - 1
                        }
                    };
                    self.known_categories.insert(c, i);
                    i
                }
            };
            cats.push(leaf);
        }
        if !cell.is_empty() && self.category_lists.len() < CATEGORY_LISTS {
            self.category_lists.insert(cell.to_string(), cats.clone());
        }
        Ok(())
    }

    /// Writes the contacts this import created so far, with their
    /// timeline's "created" line.
    fn flush_new(&mut self) -> Result<()> {
        if self.pending_new.is_empty() {
            return Ok(());
        }
        // rows naming their ids (`id` column) come in file order
        if !self.pending_new.is_sorted_by_key(|c| c.id) {
            self.pending_new.sort_unstable_by_key(|c| c.id);
        }
        let created = Action { ts: self.ctx.now, what: ActionKind::Created, detail: self.detail() };
        let ids: Vec<u32> = self.pending_new.iter().map(|c| c.id).collect();
        // the batch is noted into the columns and freed (a dozen
        // allocations per contact) on another thread, beside the next rows
        self.w.put_new_contact_records_owned(&mut self.pending_new)?;
        self.w.add_action_to_each(ids, &created)
    }

    /// The timeline entries' free text.
    fn detail(&self) -> String {
        format!("import {}", self.ctx.source_name)
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.w.put_contacts(&self.pending)?;
        let mut actions = Vec::with_capacity(self.pending.len());
        let detail = format!("import {}", self.ctx.source_name);
        for (c, old) in self.pending.drain(..).zip(self.pending_old_score.drain(..)) {
            let what = if old.is_none() { ActionKind::Created } else { ActionKind::Updated };
            actions.push((c.id, Action { ts: self.ctx.now, what, detail: detail.clone() }));
            if let Some(o) = old
                && o != c.score
            {
                let what = ActionKind::ScoreChanged { from: o, to: c.score };
                actions.push((c.id, Action { ts: self.ctx.now, what, detail: detail.clone() }));
            }
        }
        self.w.add_actions(&actions)?;
        Ok(())
    }

    /// Writes the last contacts, tags and categories, then what the load
    /// still holds (with the rest of the sink already freed).
    pub fn finish(mut self) -> Result<()> {
        self.write_rest()?;
        self.into_loader().finish()
    }

    fn into_loader(self) -> Loader<'a, 'w> {
        self.w
    }

    fn write_rest(&mut self) -> Result<()> {
        self.flush_new()?;
        self.take_sized_tables(true);
        let (emails, xids) = (std::mem::take(&mut self.new_emails), std::mem::take(&mut self.new_xids));
        self.w.put_new_key_tables(&emails, &xids)?;
        drop((emails, xids));
        self.flush()?;
        let mut tags: Vec<_> = self.tags.drain().collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        // each tag's entries in turn, the contacts in id order
        let mut added = Vec::with_capacity(tags.len());
        for (t, ids) in tags {
            let ids = self.w.tag_add(&t, &ids)?;
            added.push((t, ids));
        }
        for (t, ids) in added {
            let a = Action { ts: self.ctx.now, what: ActionKind::TagAdded(t), detail: self.detail() };
            self.w.add_action_to_each(ids.iter(), &a)?;
        }
        // each leaf once (`leaf_index`)
        let members: std::collections::HashMap<String, RoaringBitmap> =
            std::mem::take(&mut self.leaves).into_iter().map(|(l, ids)| (l.into_string(), ids)).collect();
        self.w.add_category_members(&members)?;
        Ok(())
    }
}

impl super::rows::RowSink for ContactSink<'_, '_> {
    fn columns(&mut self, added: &[String]) -> Result<()> {
        let mut targets: Vec<String> = Vec::new();
        // reach's own fields in any case, or under other tools' names
        let present: Vec<&str> = self
            .cols
            .iter()
            .filter_map(|c| match c {
                Col::ExternalId => Some("external_id"),
                Col::Email => Some("email"),
                Col::CreatedAt => Some("created_at"),
                Col::Timezone => Some("timezone"),
                _ => None,
            })
            .collect();
        // (`id`, reach's own contact id, only as written: an `ID` column is
        // another tool's)
        let builtins: Vec<&str> = CONTACT_COLUMNS.iter().copied().filter(|c| *c != "id").collect();
        // (an attribute the user declared under an alias's name keeps its column)
        let schema = self.w.schema();
        let declared = |n: &str| schema.attr(n).is_some();
        let fields = self.ctx.mapping.fields_for(
            added,
            &present,
            &builtins,
            CONTACT_ALIASES,
            &declared,
            &mut self.report.read_as,
        );
        for (c, field) in added.iter().zip(fields) {
            let col = match field {
                Some(f) => {
                    if let Some(prev) = targets.iter().position(|t| *t == f) {
                        return Err(Error::input(format!("columns `{}` and `{c}` both map to `{f}`", added[prev])));
                    }
                    targets.push(f.clone());
                    self.resolve(&f)?
                }
                None => {
                    targets.push(String::new());
                    Col::Ignore
                }
            };
            if let Col::Consent(ch) = col {
                self.has_consent_col[ch as usize] = true;
            }
            self.cols.push(col);
        }
        Ok(())
    }

    fn next_file(&mut self, name: &str) {
        self.files.push(name.to_string());
    }

    type Pre = ContactPre;
    /// A parsed contact takes a few hundred bytes beside its fields, and
    /// 4096 of them (over 1.5 MB, with their fields) spill out of a core's
    /// cache on their way to the other. With 1024, 1M contacts took 0.93–0.97
    /// of the CPU time in paired runs (wall time 0.95 in one pairing, equal
    /// in another). The events sink keeps 4096: its 5M-row log took 1.08 of
    /// the time with 1024.
    const BATCH_ROWS: usize = 1024;

    fn preparer(&mut self) -> Option<super::rows::Preparer<ContactPre>> {
        Some(Box::new(ContactPreparer {
            cols: self.cols.clone(),
            attrs: self.w.schema().attributes.clone(),
            time_format: self.ctx.time_format.clone(),
            decimal_mark: self.ctx.decimal_mark,
            shopify: self.shopify(),
            tz_ok: TzNames::default(),
        }))
    }

    fn prefetch(&self, pre: &ContactPre) {
        let (x, e) = (pre.xid_hash, pre.email_hash);
        self.w.prefetch_keys(x, e);
        if let Some(h) = x {
            self.new_xids.prefetch_hashed(h);
        }
        if let Some(h) = e {
            self.new_emails.prefetch_hashed(h);
        }
    }

    fn prefetch_row(&self, rec: &Fields, pre: &ContactPre) {
        if pre.prepared {
            // the parsed row is all `row` reads (the fields' bytes only
            // for their length, in the first rows)
            super::rows::prefetch(std::slice::from_ref(pre));
        } else {
            super::rows::prefetch(rec.as_bytes());
            super::rows::prefetch(rec.spans());
        }
    }

    fn row(&mut self, line: u64, rec: &Fields, pre: &ContactPre) -> Result<()> {
        let r = match pre.row.take() {
            Some(parsed) => parsed?,
            None => self.parse_row(rec)?,
        };
        self.size_key_tables(rec);
        self.take_sized_tables(false);
        // noted with its file, of several
        let line = line | ((self.files.len().saturating_sub(1) as u64) << FILE_SHIFT);
        let keyed = self.keyed(&r);
        self.check_seen(&r, keyed)?;
        let target = self.target(&r, keyed)?;
        if let Some(first) = target.and_then(|id| self.seen_ids.get(id)) {
            return Err(Error::input(format!(
                "this row is for contact {} which {} already imported",
                target.unwrap_or(0),
                self.place(first)
            )));
        }
        let old = match target {
            Some(id) => Some(
                self.w.contact(id)?.ok_or_else(|| Error::runtime(format!("contact {id} is indexed but missing")))?,
            ),
            None => None,
        };
        // keys must not collide with other contacts (whom they name was
        // looked up above: `target` refuses keys naming two contacts, so
        // these hold unless that changes)
        if let (Some(e), Some(o)) = (&r.email, &old)
            && let Some(other) = keyed.1.filter(|x| *x != o.id)
        {
            return Err(Error::input(format!("email `{e}` already belongs to contact {other}")));
        }
        if let (Some(x), Some(o)) = (&r.external_id, &old) {
            if let Some(other) = keyed.0.filter(|y| *y != o.id) {
                return Err(Error::input(format!("external_id `{x}` already belongs to contact {other}")));
            }
            if o.external_id.as_deref().is_some_and(|ox| ox != x) {
                return Err(Error::input(format!(
                    "email `{}` belongs to contact {} whose external_id is `{}`, not `{x}`",
                    r.email.as_deref().unwrap_or(""),
                    o.id,
                    o.external_id.as_deref().unwrap_or("")
                )));
            }
        }
        // categories are checked before anything changes
        let mut cats = std::mem::take(&mut self.row_leaves);
        cats.clear();
        match self.category_lists.get(r.categories.as_str()) {
            Some(leaves) => cats.extend_from_slice(leaves),
            None => self.cell_leaves(&r.categories, &mut cats)?,
        }
        let now = self.ctx.now;
        let (xid_hash, email_hash) = (r.xid_hash, r.email_hash);
        let mut c = match &old {
            Some(o) => o.clone(),
            None => {
                let id = self.w.alloc_contact_id(r.id_hint)?;
                Contact { id, created_at: now, ..Default::default() }
            }
        };
        // a new contact's keys go to the load's key maps below
        if let Some(x) = r.external_id {
            if old.is_some() {
                self.seen_xid.insert(CompactString::from(x.as_str()), line);
            }
            c.external_id = Some(x);
        }
        if let Some(e) = r.email {
            if old.is_some() {
                self.seen_email.insert(CompactString::from(email_key(&e).as_ref()), line);
            }
            c.email = Some(e);
        }
        if let Some(t) = r.created_at {
            c.created_at = t;
        }
        if let Some(s) = r.score {
            c.score = s;
        }
        if let Some(tz) = r.timezone {
            c.timezone = Some(tz);
        }
        for ch in Channel::ALL {
            let i = ch as usize;
            let given =
                r.consent[i].or_else(|| (!self.has_consent_col[i] && r.consent_at[i].is_some()).then_some(true));
            if let Some(opted_in) = given {
                let at = r.consent_at[i].unwrap_or_else(|| match c.consent[i] {
                    Some(prev) if prev.opted_in == opted_in => prev.at,
                    _ => now,
                });
                c.consent[i] = Some(Consent { opted_in, at });
            }
        }
        if let Some(t) = r.unsubscribed_at {
            c.unsubscribed_at = Some(t);
            c.consent[Channel::Email as usize] = Some(Consent { opted_in: false, at: t });
        }
        if let Some(t) = r.bounced_at {
            c.bounced_at = Some(t);
        }
        if c.attrs.is_empty() && r.attrs_sorted {
            // what setting them one by one makes, without shifting and growing
            c.attrs = r.attrs;
        } else {
            for (a, v) in r.attrs {
                c.set_attr(a, Some(v));
            }
        }
        for t in r.tags {
            self.tags.entry(t).or_default().insert(c.id);
        }
        for &i in &cats {
            let (leaf, ids) = &mut self.leaves[i];
            if !c.categories.contains(leaf) {
                c.categories.push(leaf.clone());
                ids.insert(c.id);
            }
        }
        self.row_leaves = cats;
        self.seen_ids.insert(c.id, line, old.is_none());
        if old.is_some() {
            self.report.updated += 1;
        } else {
            self.report.inserted += 1;
        }
        if old.is_none() {
            // no other contact has these keys (`target` found none, and
            // `seen_*` refuses a second row with them): findable from now on
            if let Some(x) = &c.external_id {
                self.new_xids.insert_hashed(x, xid_hash, c.id);
            }
            if let Some(e) = &c.email {
                self.new_emails.insert_hashed(&email_key(e), email_hash, c.id);
            }
            self.pending_new.push(c);
            if self.pending_new.len() >= FLUSH_NEW {
                self.flush_new()?;
            }
            return Ok(());
        }
        self.pending_old_score.push(old.as_ref().map(|o| o.score));
        self.pending.push(c);
        if self.pending.len() >= FLUSH {
            self.flush()?;
        }
        Ok(())
    }
}

/// Splits `a;b`, `a, b`, `a|b` and Mailchimp's `"a","b"` into trimmed names.
pub fn split_list(v: &str) -> Vec<String> {
    v.split([';', ',', '|'])
        .map(|s| s.trim().trim_matches('"').trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .fold(Vec::new(), |mut acc, s| {
            if !acc.contains(&s) {
                acc.push(s);
            }
            acc
        })
}

/// Contact id → the line that imported it (lines start at 1), in a vector
/// over the ids near the first one (the ids a file creates or names are
/// mostly dense), in a map for the rest. The top bit marks a contact the
/// import created.
#[derive(Default)]
struct IdLines {
    base: u32,
    near: Vec<u64>,
    far: HashMap<u32, u64>,
}

const CREATED: u64 = 1 << 63;

impl IdLines {
    fn insert(&mut self, id: u32, line: u64, created: bool) {
        let v = line | if created { CREATED } else { 0 };
        if self.near.is_empty() && self.far.is_empty() {
            self.base = id;
        }
        match id.checked_sub(self.base).map(|i| i as usize) {
            Some(i) if i < self.near.len() => self.near[i] = v,
            Some(i) if i < self.near.len() + 4096 => {
                self.near.resize(i, 0);
                self.near.push(v);
            }
            _ => {
                self.far.insert(id, v);
            }
        }
    }

    fn raw(&self, id: u32) -> Option<u64> {
        let near = id.checked_sub(self.base).and_then(|i| self.near.get(i as usize)).copied().filter(|v| *v != 0);
        near.or_else(|| self.far.get(&id).copied())
    }

    /// The line that imported contact `id`.
    fn get(&self, id: u32) -> Option<u64> {
        self.raw(id).map(|v| v & !CREATED)
    }

    /// The line that created contact `id` (None: not created by this import).
    fn created(&self, id: u32) -> Option<u64> {
        self.raw(id).filter(|v| v & CREATED != 0).map(|v| v & !CREATED)
    }
}

/// Shopify prefixes ids and phone numbers with `'` to keep spreadsheets
/// from mangling them; the preset takes the value without it.
fn shopify_unquote(shopify: bool, v: &str) -> &str {
    if shopify { v.strip_prefix('\'').unwrap_or(v) } else { v }
}

/// `parse_bool` without lowercasing a copy for the usual spellings.
fn parse_bool_fast(v: &str) -> Option<bool> {
    match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => parse_bool(v),
    }
}

/// Timezone names already found valid (a file names a handful of them;
/// `chrono_tz` looks each up by a search through every name).
#[derive(Clone, Default)]
struct TzNames(Vec<Box<str>>);

impl TzNames {
    fn check(&mut self, v: &str) -> Result<()> {
        if self.0.iter().any(|n| &**n == v) {
            return Ok(());
        }
        v.parse::<chrono_tz::Tz>()
            .map_err(|_| Error::input(format!("unknown timezone `{v}` (expected an IANA name such as Europe/Rome)")))?;
        if self.0.len() < 64 {
            self.0.push(v.into());
        }
        Ok(())
    }
}

/// The part of reading a row that needs nothing of the rows before it:
/// each field parsed and checked in column order, then the keys.
fn parse_fields(
    cols: &[Col],
    attrs: &[AttrDef],
    tf: &TimeFormat,
    mark: DecimalMark,
    shopify: bool,
    tz: &mut TzNames,
    rec: &Fields,
) -> Result<Row> {
    let mut r = Row::default();
    r.attrs.reserve(cols.iter().filter(|c| matches!(c, Col::Attr(_))).count());
    for (i, col) in cols.iter().enumerate() {
        let v = trim_fast(rec.get(i).unwrap_or(""));
        if v.is_empty() {
            continue;
        }
        match col {
            Col::Ignore => {}
            Col::Id => r.id_hint = Some(v.parse().map_err(|_| Error::input(format!("id `{v}` is not a contact id")))?),
            Col::ExternalId => r.external_id = Some(shopify_unquote(shopify, rec.get(i).unwrap_or("")).into()),
            Col::Email => {
                if !looks_like_email(v) {
                    return Err(Error::input(format!("`{v}` is not an email address")));
                }
                r.email = Some(v.into());
            }
            Col::CreatedAt => r.created_at = Some(tf.parse(v).map_err(|e| Error::input(format!("created_at: {e}")))?),
            Col::Score => {
                r.score = Some(v.parse().map_err(|_| Error::input(format!("score `{v}` is not a whole number")))?)
            }
            Col::Timezone => {
                tz.check(v)?;
                r.timezone = Some(v.into());
            }
            Col::Consent(c) => {
                r.consent[*c as usize] = Some(
                    parse_bool_fast(v)
                        .ok_or_else(|| Error::input(format!("consent_{} `{v}` is not true or false", c.name())))?,
                )
            }
            Col::ConsentAt(c) => {
                r.consent_at[*c as usize] =
                    Some(tf.parse(v).map_err(|e| Error::input(format!("consent_{}_at: {e}", c.name())))?)
            }
            Col::UnsubscribedAt => {
                r.unsubscribed_at = Some(tf.parse(v).map_err(|e| Error::input(format!("unsubscribed_at: {e}")))?)
            }
            Col::BouncedAt => r.bounced_at = Some(tf.parse(v).map_err(|e| Error::input(format!("bounced_at: {e}")))?),
            Col::Tags => r.tags = split_list(v),
            Col::Categories => r.categories = v.into(),
            Col::Attr(a) => {
                let def = &attrs[*a as usize];
                let v = if def.name == "phone" { shopify_unquote(shopify, v) } else { v };
                if matches!(def.ty, AttrType::Text) && !trim_fast(v).is_empty() {
                    // what `parse` makes of text, stored in the room
                    // reserved above without a call whose result is
                    // reloaded from the stack (most of this function's
                    // time went to reloading it)
                    push_in_place(&mut r.attrs, (*a, AttrValue::Text(v.into())));
                } else {
                    def.parse_into(v, *a, mark, &mut r.attrs).map_err(Error::input)?;
                }
            }
        }
    }
    if r.external_id.is_none() && r.email.is_none() {
        return Err(Error::input("the row has neither external_id nor email"));
    }
    r.attrs_sorted = r.attrs.windows(2).all(|w| w[0].0 < w[1].0);
    if let Some(x) = &r.external_id {
        r.xid_hash = key_hash(x);
    }
    if let Some(e) = &r.email {
        r.email_hash = key_hash(&email_key(e));
    }
    Ok(r)
}

/// A row parsed on the reader thread: taken (once) by the sink. Empty for
/// rows the preparer did not see (JSONL), which the sink parses itself.
#[derive(Default)]
pub(super) struct ContactPre {
    row: Cell<Option<Result<Row>>>,
    /// whether `row` was filled by the preparer
    prepared: bool,
    /// the `key_hash`es of the row's keys, for `RowSink::prefetch`
    xid_hash: Option<u64>,
    email_hash: Option<u64>,
}

impl super::rows::PreSlot for ContactPre {
    /// Clears only what the preparer may not overwrite: a slot is a few
    /// hundred bytes, last written on the sink's core, and writing it whole
    /// twice per row (here, then when the row is parsed into it) was 4% of
    /// a contacts import's CPU samples, on the reader thread.
    fn reset(&mut self) {
        let row = self.row.get_mut();
        if row.is_some() {
            *row = None;
        }
        self.prepared = false;
        self.xid_hash = None;
        self.email_hash = None;
    }
}

/// Parses rows on the reader thread, with copies of what parsing reads
/// (the columns and attribute definitions are fixed once the CSV header
/// is read).
struct ContactPreparer {
    cols: Vec<Col>,
    attrs: Vec<AttrDef>,
    time_format: TimeFormat,
    decimal_mark: DecimalMark,
    shopify: bool,
    tz_ok: TzNames,
}

impl super::rows::Prepare<ContactPre> for ContactPreparer {
    fn prepare(&mut self, rec: &Fields, pre: &mut ContactPre) {
        // parsed into its place (`Cell::set` would move the row out and in
        // again: a few hundred bytes copied twice per row)
        let slot = pre.row.get_mut();
        *slot = Some(parse_fields(
            &self.cols,
            &self.attrs,
            &self.time_format,
            self.decimal_mark,
            self.shopify,
            &mut self.tz_ok,
            rec,
        ));
        let keys = match slot {
            Some(Ok(r)) => (r.external_id.is_some().then_some(r.xid_hash), r.email.is_some().then_some(r.email_hash)),
            _ => (None, None),
        };
        (pre.xid_hash, pre.email_hash) = keys;
        pre.prepared = true;
    }
}
