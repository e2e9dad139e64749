//! Importing events: each row appends one event of its kind to the
//! contact it names (by external id or email, created when unknown, or by
//! internal `contact_id`). Unknown kinds and parameters are declared on the
//! fly (parameters as text). Score rules, hard bounces and unsubscribes
//! update the contact once, at the end.

use super::mapping::{EVENT_ALIASES, field_name};
use super::records::Fields;
use super::{ImportContext, ImportReport};
use crate::derived::ScoreRules;
use crate::error::{Error, Result};
use crate::model::contact::looks_like_email;
use crate::model::trim_fast as trim;
use crate::model::written_number::{parse_written, written_currency};
use crate::model::{Action, ActionKind, Channel, Consent, Contact, ParamType, Source};
use crate::store::codec::ParamVal;
use crate::store::keys::{KeyTable, email_key_owned};
use crate::store::{Loader, Writer};
use compact_str::CompactString;
use rustc_hash::FxHashMap as HashMap;

#[derive(Clone, Debug, PartialEq)]
enum Col {
    Contact,
    ContactId,
    Ts,
    Kind,
    Source,
    Utm(usize),
    /// a parameter column, by field name
    Param(String),
    Ignore,
}

#[derive(Default)]
struct Effects {
    score: i64,
    bounced_at: Option<i64>,
    unsubscribed_at: Option<i64>,
}

/// What a column feeds for one kind.
#[derive(Clone, Copy, Debug)]
enum Feeds {
    /// a declared parameter: index, and whether it is a number / one-of
    Param(u16, PType),
    /// a parameter column this kind does not declare yet: declared (as
    /// text) when a row of the kind first has a value there
    Undeclared,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PType {
    Num,
    Text,
    Enum,
}

fn ptype(t: &ParamType) -> PType {
    match t {
        ParamType::Number => PType::Num,
        ParamType::Text => PType::Text,
        ParamType::Enum(_) => PType::Enum,
    }
}

/// The columns that feed parameters of one kind: (column, what it feeds).
type KindCols = Vec<(usize, Feeds)>;

/// No such column (in `utm_cols`).
const NO_COL: usize = usize::MAX;

/// Where the fixed event fields are.
#[derive(Default)]
struct FixedCols {
    contact: Option<usize>,
    contact_id: Option<usize>,
    ts: Option<usize>,
    kind: Option<usize>,
    source: Option<usize>,
}

pub(super) struct EventSink<'a, 'w> {
    /// the transaction, through the load that holds its key maps, dictionary and blocks
    pub w: Loader<'a, 'w>,
    pub ctx: &'a ImportContext,
    pub report: &'a mut ImportReport,
    rules: ScoreRules,
    cols: Vec<Col>,
    /// by kind index; empty until the kind is first seen
    kind_cols: Vec<KindCols>,
    kind_by_name: HashMap<String, u16>,
    /// the kind of the previous row (files often repeat it)
    last_kind: Option<(String, u16)>,
    /// per column, the text values interned lately, with their ids
    recent_text: Vec<RecentTexts>,
    /// the columns of utm_source, utm_medium, utm_campaign
    utm_cols: [usize; 3],
    fixed: FixedCols,
    /// contacts this import created, by id: (id, key, whether the key is an email)
    new_contacts: Vec<(u32, String, bool)>,
    /// the first id this import hands out, and the earliest event time of
    /// each contact created from there on
    first_new: u64,
    created_at: Vec<i64>,
    /// by the reader thread's number of a key that named no contact before
    /// the import (`PreContact::New`): its contact (`NO_CONTACT` until its
    /// first good row) and the earliest event seen for it since
    new_keys: Vec<(u32, i64)>,
    effects: HashMap<u32, Effects>,
    existing_ids: Option<roaring::RoaringBitmap>,
    params: Vec<(u16, ParamVal)>,
    /// (parameter, column) of the text values of the current row
    text_vals: Vec<(u16, usize)>,
    special: Specials,
}

/// Kind indexes with side effects.
#[derive(Default)]
struct Specials {
    bounce: Option<(u16, Option<u16>)>,
    unsubscribe: Option<u16>,
}

impl<'a, 'w> EventSink<'a, 'w> {
    pub fn new(
        w: &'a mut Writer<'w>,
        ctx: &'a ImportContext,
        report: &'a mut ImportReport,
        rules: ScoreRules,
    ) -> Result<Self> {
        let mut w = Loader::new(w);
        w.load_external_ids()?;
        w.load_dict()?;
        let special = Specials {
            bounce: w.schema().kind("email_bounce").map(|(k, d)| (k, d.param("type").map(|p| p.0))),
            unsubscribe: w.schema().kind("unsubscribe").map(|k| k.0),
        };
        let first_new = w.next_contact_id();
        Ok(EventSink {
            w,
            ctx,
            report,
            rules,
            cols: vec![],
            kind_cols: Vec::new(),
            kind_by_name: HashMap::default(),
            last_kind: None,
            recent_text: Vec::new(),
            utm_cols: [NO_COL; 3],
            fixed: FixedCols::default(),
            new_contacts: Vec::new(),
            first_new,
            created_at: Vec::new(),
            new_keys: Vec::new(),
            effects: HashMap::default(),
            existing_ids: None,
            params: Vec::new(),
            text_vals: Vec::new(),
            special,
        })
    }

    fn kind_index(&mut self, name: &str) -> Result<u16> {
        if let Some((n, k)) = &self.last_kind
            && n == name
        {
            return Ok(*k);
        }
        if let Some(&k) = self.kind_by_name.get(name) {
            self.remember_kind(name, k);
            return Ok(k);
        }
        let k = match self.w.schema().kind(name) {
            Some((k, _)) => k,
            None => {
                let k = self.w.schema_mut().add_kind(name).map_err(Error::input)?;
                self.report.created.push(format!("event kind {name}"));
                k
            }
        };
        let kd = &self.w.schema().kinds[k as usize];
        let kc: KindCols = self
            .cols
            .iter()
            .enumerate()
            .filter_map(|(c, col)| match col {
                Col::Param(p) => Some((
                    c,
                    match kd.param(p).or_else(|| kd.param(&field_name(p))) {
                        Some((i, d)) => Feeds::Param(i, ptype(&d.ty)),
                        None => Feeds::Undeclared,
                    },
                )),
                _ => None,
            })
            .collect();
        if self.kind_cols.len() <= k as usize {
            self.kind_cols.resize(k as usize + 1, Vec::new());
        }
        self.kind_cols[k as usize] = kc;
        self.kind_by_name.insert(name.to_string(), k);
        self.remember_kind(name, k);
        Ok(k)
    }

    /// The kind of the last row, kept in the same buffer (a log names a
    /// different kind on most rows than on the row before).
    fn remember_kind(&mut self, name: &str, k: u16) {
        let (last, id) = self.last_kind.get_or_insert_with(|| (String::new(), 0));
        last.clear();
        last.push_str(name);
        *id = k;
    }

    /// Interns the text of column `col`, remembering it: a value the column
    /// had lately costs a comparison in a few kilobytes of its own, rather
    /// than a look-up in the dictionary (megabytes, once a log's order ids
    /// are in it).
    fn intern_col(&mut self, col: usize, v: &str) -> Result<u32> {
        if col >= self.recent_text.len() {
            self.recent_text.resize_with(col + 1, RecentTexts::default);
        }
        if let Some(id) = self.recent_text[col].get(v.as_bytes()) {
            return Ok(id);
        }
        let d = self.w.intern(v)?;
        self.recent_text[col].put(v.as_bytes(), d);
        Ok(d)
    }

    /// A contact created by this import exists since its earliest event.
    fn note_created_at(&mut self, id: u32, ts: i64) {
        if let Some(t) = (id as u64).checked_sub(self.first_new).and_then(|i| self.created_at.get_mut(i as usize)) {
            *t = (*t).min(ts);
        }
    }

    fn contact_for_key(&mut self, key: &str, ts: i64) -> Result<u32> {
        if let Some(id) = self.w.id_by_external_id(key) {
            return Ok(id);
        }
        self.contact_by_email_or_new(key, ts, true)
    }

    /// The contact of a key that is no contact's external id: the one with
    /// that email when the key is one, else a contact created for it, whose
    /// key the load finds from then on when `register` (a key the reader
    /// thread numbered is never looked up again: its later rows come with
    /// its number).
    fn contact_by_email_or_new(&mut self, key: &str, ts: i64, register: bool) -> Result<u32> {
        let is_email = looks_like_email(key);
        if is_email && let Some(id) = self.w.find_by_email(key)? {
            return Ok(id);
        }
        // unknown: create it, keyed by email when the key is one
        let id = self.w.alloc_contact_id(None)?;
        if let Some(i) = (id as u64).checked_sub(self.first_new) {
            if self.created_at.len() <= i as usize {
                self.created_at.resize(i as usize + 1, i64::MAX);
            }
            self.created_at[i as usize] = ts;
        }
        if register {
            if is_email {
                self.w.register_email(key, id);
            } else {
                self.w.register_external_id(key, id);
            }
        }
        self.new_contacts.push((id, key.to_string(), is_email));
        self.report.contacts_created += 1;
        Ok(id)
    }

    /// The contact of the `n`-th key the reader thread did not know: looked
    /// up (or created) at its first good row, then kept by number, so that
    /// its later rows cost no key look-up.
    fn contact_for_new_key(&mut self, n: u32, key: &str, ts: i64) -> Result<u32> {
        let n = n as usize;
        if n >= self.new_keys.len() {
            self.new_keys.resize(n + 1, (NO_CONTACT, i64::MAX));
        }
        let (id, first) = &mut self.new_keys[n];
        if *id != NO_CONTACT {
            *first = (*first).min(ts);
            return Ok(*id);
        }
        // no external id from before is this key (the reader looked), nor
        // one this import added (each of those has a number of its own): a
        // contact from before by email (the reader's snapshot may not hold
        // the emails), or one created now
        let id = self.contact_by_email_or_new(key, ts, false)?;
        self.new_keys[n] = (id, ts);
        Ok(id)
    }

    /// Writes the contacts the import created or changed, then what the
    /// load still holds (with the rest of the sink already freed).
    pub fn finish(mut self) -> Result<()> {
        // the summaries are merged on their thread while the new contacts are written
        self.w.end_of_events()?;
        self.write_contacts()?;
        self.into_loader().finish()
    }

    fn into_loader(self) -> Loader<'a, 'w> {
        self.w
    }

    fn write_contacts(&mut self) -> Result<()> {
        const CHUNK: usize = 50_000;
        let now = self.ctx.now;
        let detail = format!("import {}", self.ctx.source_name);
        let created = Action { ts: now, what: ActionKind::Created, detail: detail.clone() };
        let mut actions = Vec::new();
        let mut batch: Vec<Contact> = Vec::with_capacity(CHUNK);
        // each contact's key, unless it moved into the record (long keys)
        let mut batch_keys: Vec<(Option<String>, bool)> = Vec::with_capacity(CHUNK);
        // the earliest events of the contacts of numbered keys
        for (id, first) in std::mem::take(&mut self.new_keys) {
            if id != NO_CONTACT {
                self.note_created_at(id, first);
            }
        }
        // new contacts (ids ascending): created at their first event; written
        // in chunks, with nothing to compare with and keys known to be free;
        // their keys all at once at the end, so each key bucket is written once
        let new = std::mem::take(&mut self.new_contacts);
        let total = new.len();
        let (mut emails, mut xids) = (Vec::new(), Vec::new());
        for (n, (id, key, is_email)) in new.into_iter().enumerate() {
            let created_at =
                (id as u64).checked_sub(self.first_new).and_then(|i| self.created_at.get(i as usize)).copied();
            // a short key is copied inline into the record and kept for the
            // key lists below; a long one moves into the record, its
            // allocation with it, and back out once the record is written
            let short = key.len() <= std::mem::size_of::<CompactString>();
            let (in_record, kept) =
                if short { (CompactString::from(key.as_str()), Some(key)) } else { (CompactString::from(key), None) };
            let (email, external_id) = if is_email { (Some(in_record), None) } else { (None, Some(in_record)) };
            let mut c =
                Contact { id, created_at: created_at.unwrap_or_default(), email, external_id, ..Default::default() };
            apply_effects(&self.effects, &mut c, &mut actions, now, &detail);
            batch.push(c);
            batch_keys.push((kept, is_email));
            if batch.len() == CHUNK || n + 1 == total {
                self.w.put_new_contact_records(&batch)?;
                // "created" first, then what their events did
                self.w.add_action_to_each(batch.iter().map(|c| c.id), &created)?;
                self.w.add_actions(&actions)?;
                for (c, (kept, is_email)) in batch.drain(..).zip(batch_keys.drain(..)) {
                    let in_record = if is_email { c.email } else { c.external_id };
                    // (a long key is in the record: nothing above clears it)
                    let Some(key) = kept.or_else(|| in_record.map(CompactString::into_string)) else { continue };
                    if is_email {
                        emails.push((email_key_owned(key), c.id));
                    } else {
                        xids.push((key.into_boxed_str(), c.id));
                    }
                }
                actions.clear();
            }
        }
        self.w.put_new_keys(&emails, &xids)?;
        drop((emails, xids));
        // contacts from before with a side effect (score, bounce, unsubscribe),
        // changed in place, their timeline entries after them
        let mut existing: Vec<(u32, &Effects)> =
            self.effects.iter().filter(|(id, _)| (**id as u64) < self.first_new).map(|(id, e)| (*id, e)).collect();
        existing.sort_unstable_by_key(|(id, _)| *id);
        for part in existing.chunks(CHUNK) {
            let ids: Vec<u32> = part.iter().map(|(id, _)| *id).collect();
            // the contacts come in id order: their effects are read in turn
            let mut at = 0;
            self.w.update_contacts(&ids, |c| {
                while part.get(at).is_some_and(|(id, _)| *id < c.id) {
                    at += 1;
                }
                if let Some((_, e)) = part.get(at).filter(|(id, _)| *id == c.id) {
                    apply_effect(e, c, &mut actions, now, &detail);
                }
            })?;
            self.w.add_actions(&actions)?;
            actions.clear();
        }
        Ok(())
    }
}

/// Applies what the imported events did to a contact (score, hard
/// bounce, unsubscribe), noting score changes on its timeline.
fn apply_effects(
    effects: &HashMap<u32, Effects>,
    c: &mut Contact,
    actions: &mut Vec<(u32, Action)>,
    now: i64,
    detail: &str,
) {
    if let Some(e) = effects.get(&c.id) {
        apply_effect(e, c, actions, now, detail);
    }
}

/// `apply_effects` of the contact's effects `e`.
fn apply_effect(e: &Effects, c: &mut Contact, actions: &mut Vec<(u32, Action)>, now: i64, detail: &str) {
    let before = c.score;
    c.score += e.score;
    if e.score != 0 {
        actions.push((
            c.id,
            Action {
                ts: now,
                what: ActionKind::ScoreChanged { from: before, to: c.score },
                detail: detail.to_string(),
            },
        ));
    }
    if let Some(b) = e.bounced_at {
        c.bounced_at = Some(c.bounced_at.map_or(b, |x| x.max(b)));
    }
    if let Some(u) = e.unsubscribed_at {
        c.unsubscribed_at = Some(c.unsubscribed_at.map_or(u, |x| x.max(u)));
        c.consent[Channel::Email as usize] = Some(Consent { opted_in: false, at: u });
    }
}

/// The columns an event import reads as its own fields.
const EVENT_FIELDS: [&str; 8] =
    ["contact", "contact_id", "ts", "kind", "source", "utm_source", "utm_medium", "utm_campaign"];

impl super::rows::RowSink for EventSink<'_, '_> {
    fn columns(&mut self, added: &[String]) -> Result<()> {
        if !self.kind_by_name.is_empty() {
            // JSONL: new keys after some kinds were resolved; resolve again lazily
            self.kind_cols.clear();
            self.kind_by_name.clear();
            self.last_kind = None;
        }
        // reach's own fields in any case, or under other tools' names
        let mut present: Vec<&str> = self
            .cols
            .iter()
            .filter_map(|c| match c {
                Col::Contact | Col::ContactId => Some("contact"),
                Col::Ts => Some("ts"),
                Col::Kind => Some("kind"),
                _ => None,
            })
            .collect();
        if self.ctx.kind.is_some() {
            present.push("kind"); // the kind given for every row
        }
        if added.iter().any(|c| self.ctx.mapping.field_for(c).is_some_and(|f| field_name(&f) == "contact_id")) {
            present.push("contact");
        }
        let fields = self.ctx.mapping.fields_for(
            added,
            &present,
            &EVENT_FIELDS,
            EVENT_ALIASES,
            &|_| false,
            &mut self.report.read_as,
        );
        for (c, field) in added.iter().zip(fields) {
            let col = match field {
                None => Col::Ignore,
                Some(f) => match f.as_str() {
                    "contact" => Col::Contact,
                    "contact_id" => Col::ContactId,
                    "ts" => Col::Ts,
                    "kind" => Col::Kind,
                    "source" => Col::Source,
                    "utm_source" => Col::Utm(0),
                    "utm_medium" => Col::Utm(1),
                    "utm_campaign" => Col::Utm(2),
                    other => {
                        let n =
                            if crate::model::schema::valid_name(other) { other.to_string() } else { field_name(other) };
                        if n.is_empty() { Col::Ignore } else { Col::Param(n) }
                    }
                },
            };
            if col != Col::Ignore && !matches!(col, Col::Param(_)) && self.cols.contains(&col) {
                return Err(Error::input(format!("two columns map to the event field of `{c}`")));
            }
            if let Col::Utm(j) = col {
                self.utm_cols[j] = self.cols.len();
            }
            self.cols.push(col);
            let i = self.cols.len() - 1;
            match self.cols[i] {
                Col::Contact => self.fixed.contact = Some(i),
                Col::ContactId => self.fixed.contact_id = Some(i),
                Col::Ts => self.fixed.ts = Some(i),
                Col::Kind => self.fixed.kind = Some(i),
                Col::Source => self.fixed.source = Some(i),
                _ => {}
            }
        }
        Ok(())
    }

    fn header_done(&mut self) -> Result<()> {
        let names = &self.ctx.names;
        if !self.cols.contains(&Col::Contact) && !self.cols.contains(&Col::ContactId) {
            return Err(Error::input(format!(
                "no `contact` column (the contact's external_id or email; map one with {} COLUMN=contact)",
                names.map
            )));
        }
        if !self.cols.contains(&Col::Ts) {
            return Err(Error::input(format!("no `ts` column (the event time; map one with {} COLUMN=ts)", names.map)));
        }
        if !self.cols.contains(&Col::Kind) && self.ctx.kind.is_none() {
            return Err(Error::input(format!("no `kind` column and no {}", names.kind)));
        }
        Ok(())
    }

    type Pre = EventPre;

    fn preparer(&mut self) -> Option<super::rows::Preparer<EventPre>> {
        Some(Box::new(EventPreparer {
            key_col: self.cols.iter().position(|c| *c == Col::Contact),
            ts_col: self.cols.iter().position(|c| *c == Col::Ts),
            keys: self.w.key_snapshot(),
            new_xids: KeyTable::default(),
            new_emails: KeyTable::default(),
            new_count: 0,
            time_format: self.ctx.time_format.clone(),
        }))
    }

    fn prefetch(&self, pre: &EventPre) {
        // a key new to the import: its contact and earliest event so far
        // (a random place in a vector of 16 bytes per new key)
        if let PreContact::New(n) = pre.contact
            && let Some(slot) = self.new_keys.get(n as usize)
        {
            super::rows::prefetch(std::slice::from_ref(slot));
        }
    }

    fn row(&mut self, _line: u64, rec: &Fields, pre: &EventPre) -> Result<()> {
        let ctx = self.ctx;
        let f = &self.fixed;
        let field = |c: Option<usize>| c.map(|i| rec.get(i).unwrap_or(""));
        let (key, cid, ts_s) = (field(f.contact), field(f.contact_id), field(f.ts));
        let kind_s = field(f.kind).filter(|v| !trim(v).is_empty()).or(ctx.kind.as_deref());
        let mut source = 0u8;
        if let Some(t) = field(f.source).map(trim).filter(|t| !t.is_empty()) {
            source = Source::parse(t)
                .ok_or_else(|| {
                    Error::input(format!("unknown source `{t}` (direct, referral, search, paid, email, social)"))
                })?
                .code();
        }
        let mut utm_s: [Option<&str>; 3] = [None; 3];
        for (j, u) in utm_s.iter_mut().enumerate() {
            if self.utm_cols[j] != NO_COL {
                *u = rec.get(self.utm_cols[j]);
            }
        }
        let ts = match pre.ts {
            Some(ts) => ts,
            None => {
                let ts_s = ts_s.map(trim).filter(|s| !s.is_empty()).ok_or_else(|| Error::input("empty `ts`"))?;
                self.ctx.time_format.parse(ts_s).map_err(Error::input)?
            }
        };
        let kind_name = kind_s.map(trim).filter(|s| !s.is_empty()).ok_or_else(|| Error::input("empty `kind`"))?;
        let kind = self.kind_index(kind_name)?;
        // parameters, validated before anything is created
        self.params.clear();
        let mut text_vals = std::mem::take(&mut self.text_vals);
        text_vals.clear();
        let mut bounce_type: Option<&str> = None;
        // a currency written beside an amount (`12,50 zł`), for a row
        // whose `currency` column is empty
        let mut written: Option<&str> = None;
        for j in 0..self.kind_cols[kind as usize].len() {
            let (i, feeds) = self.kind_cols[kind as usize][j];
            let v = trim(rec.get(i).unwrap_or(""));
            if v.is_empty() {
                continue;
            }
            let (pid, pt) = match feeds {
                Feeds::Param(pid, pt) => (pid, pt),
                Feeds::Undeclared => {
                    let pname = field_name(param_name(&self.cols[i]));
                    let pid = self.w.schema_mut().add_param(kind, &pname, ParamType::Text).map_err(Error::input)?;
                    self.report.created.push(format!("parameter {kind_name}.{pname} (text)"));
                    self.kind_cols[kind as usize][j] = (i, Feeds::Param(pid, PType::Text));
                    (pid, PType::Text)
                }
            };
            match pt {
                PType::Num => {
                    let d = parse_written(v, self.ctx.decimal_mark)
                        .map_err(|e| Error::input(format!("{kind_name}.{}: {e}", param_name(&self.cols[i]))))?;
                    self.params.push((pid, ParamVal::Num(d.units())));
                    // (a currency is at an end: a plain number looks no further)
                    let b = v.as_bytes();
                    if written.is_none() && !(b[0].is_ascii_digit() && b[b.len() - 1].is_ascii_digit()) {
                        written = written_currency(v);
                    }
                }
                PType::Text => text_vals.push((pid, i)),
                PType::Enum => {
                    let ParamType::Enum(vals) = &self.w.schema().kinds[kind as usize].params[pid as usize].ty else {
                        continue;
                    };
                    let hit = vals.iter().position(|x| x.eq_ignore_ascii_case(v)).ok_or_else(|| {
                        Error::input(format!(
                            "{kind_name}.{}: unknown value `{v}` (one of: {})",
                            param_name(&self.cols[i]),
                            vals.join(", ")
                        ))
                    })?;
                    if Some(kind) == self.special.bounce.map(|b| b.0)
                        && Some(pid) == self.special.bounce.and_then(|b| b.1)
                    {
                        bounce_type = Some(if vals[hit] == "hard" { "hard" } else { "soft" });
                    }
                    let canonical = vals[hit].clone();
                    let d = self.intern_col(i, &canonical)?;
                    self.params.push((pid, ParamVal::Text(d)));
                }
            }
        }
        let contact = match (key.map(trim).filter(|k| !k.is_empty()), cid.map(trim).filter(|k| !k.is_empty())) {
            (_, Some(c)) => {
                let id: u32 = c.parse().map_err(|_| Error::input(format!("contact_id `{c}` is not a contact id")))?;
                if self.existing_ids.is_none() {
                    self.existing_ids = Some(self.w.contact_ids()?);
                }
                if !self.existing_ids.as_ref().is_some_and(|b| b.contains(id))
                    && self.new_contacts.binary_search_by_key(&id, |c| c.0).is_err()
                {
                    return Err(Error::input(format!("contact_id {id} does not exist in this database")));
                }
                id
            }
            // resolved by the reader thread (a contact from before, or one this import created)
            (Some(k), None) => match pre.contact {
                PreContact::Existing(id) => id,
                PreContact::New(n) => self.contact_for_new_key(n, k, ts)?,
                PreContact::Unknown => {
                    let id = self.contact_for_key(k, ts)?;
                    self.note_created_at(id, ts);
                    id
                }
            },
            (None, None) => return Err(Error::input("empty contact key")),
        };
        for &(pid, i) in &text_vals {
            let d = self.intern_col(i, trim(rec.get(i).unwrap_or("")))?;
            self.params.push((pid, ParamVal::Text(d)));
        }
        if let Some(code) = written {
            let params = &self.w.schema().kinds[kind as usize].params;
            let currency = params.iter().position(|p| p.name == "currency" && p.ty == ParamType::Text);
            if let Some(pid) = currency.map(|p| p as u16)
                && !text_vals.iter().any(|&(p, _)| p == pid)
            {
                let d = self.w.intern(code)?;
                self.params.push((pid, ParamVal::Text(d)));
            }
        }
        let mut utm = [0u32; 3];
        for (j, u) in utm_s.iter().enumerate() {
            if let Some(u) = u.map(trim).filter(|s| !s.is_empty()) {
                utm[j] = self.intern_col(self.utm_cols[j], u)?;
            }
        }
        self.text_vals = text_vals;
        let delta = if self.ctx.score_rules { self.rules.delta(kind_name, bounce_type) } else { 0 };
        let is_bounce = bounce_type == Some("hard");
        let is_unsub = Some(kind) == self.special.unsubscribe;
        if delta != 0 || is_bounce || is_unsub {
            let e = self.effects.entry(contact).or_default();
            e.score += delta;
            if is_bounce {
                e.bounced_at = Some(e.bounced_at.map_or(ts, |x| x.max(ts)));
            }
            if is_unsub {
                e.unsubscribed_at = Some(e.unsubscribed_at.map_or(ts, |x| x.max(ts)));
            }
        }
        let params = std::mem::take(&mut self.params);
        self.w.append_event(kind, contact, ts, source, utm, &params)?;
        self.params = params;
        self.report.events += 1;
        Ok(())
    }
}

/// Resolves keys of contacts that existed before the import, numbers the
/// other keys, and parses times, on the reader thread.
struct EventPreparer {
    key_col: Option<usize>,
    ts_col: Option<usize>,
    keys: std::sync::Arc<crate::store::keys::KeySnapshot>,
    /// keys the snapshot does not hold, by number in the order they first
    /// appear: external ids as written, emails normalized (as the sink
    /// looks them up: `a@x.com` and `A@X.com` name one contact)
    new_xids: KeyTable,
    new_emails: KeyTable,
    new_count: u32,
    time_format: crate::model::time::TimeFormat,
}

impl EventPreparer {
    /// The number of a key the snapshot does not hold, given at its first
    /// row; `h` is its `key_hash`.
    fn number(&mut self, key: &str, h: u64) -> u32 {
        let (table, key, h) = if looks_like_email(key) {
            let (k, h) = crate::store::keys::email_key_hashed(key, h);
            (&mut self.new_emails, k, h)
        } else {
            (&mut self.new_xids, std::borrow::Cow::Borrowed(key), h)
        };
        if let Some(n) = table.get_hashed(&key, h) {
            return n;
        }
        let n = self.new_count;
        self.new_count += 1;
        table.insert_hashed(&key, h, n);
        n
    }
}

impl super::rows::Prepare<EventPre> for EventPreparer {
    fn prefetch(&self, rec: &Fields, pre: &mut EventPre) {
        if let Some(k) = self.key_col.and_then(|i| rec.get(i)) {
            // hashed once for every table it is looked up in
            let k = trim(k);
            let h = crate::store::keys::key_hash(k);
            pre.key_hash = Some(h);
            let email = memchr::memchr(b'@', k.as_bytes()).is_some();
            pre.email = email;
            self.keys.prefetch_hashed(h, email);
            // where `number` would look (an `@` that is no email misses the hint)
            if email {
                self.new_emails.prefetch_hashed(h);
            } else {
                self.new_xids.prefetch_hashed(h);
            }
        }
    }

    fn prefetch_late(&self, _rec: &Fields, pre: &EventPre) {
        // an email is longer than a slot holds: its text lies elsewhere
        if let (Some(h), true) = (pre.key_hash, pre.email) {
            self.keys.prefetch_email_text(h);
        }
    }

    fn prepare(&mut self, rec: &Fields, pre: &mut EventPre) {
        let key = self.key_col.and_then(|i| rec.get(i)).map(trim).filter(|k| !k.is_empty());
        pre.contact = match key {
            None => PreContact::Unknown,
            Some(k) => {
                let (h, at) = match pre.key_hash {
                    Some(h) => (h, pre.email),
                    None => (crate::store::keys::key_hash(k), memchr::memchr(b'@', k.as_bytes()).is_some()),
                };
                match self.keys.resolve_hashed(k, h, at) {
                    Some(id) => PreContact::Existing(id),
                    None => PreContact::New(self.number(k, h)),
                }
            }
        };
        pre.ts = self.ts_col.and_then(|i| rec.get(i)).and_then(|t| self.time_format.parse(t).ok());
    }

    /// It reads the contact and time columns, found when it was made
    /// (their places stay as JSON lines add columns), and numbers new keys
    /// in order: it must see every row, so it is never replaced.
    fn wider_rows_ok(&self) -> bool {
        true
    }
}

/// What the reader thread works out for a row ahead of the sink.
#[derive(Default)]
pub(super) struct EventPre {
    contact: PreContact,
    /// the time, when it parsed
    ts: Option<i64>,
    /// the `key_hash` of the contact key, computed by `prefetch`
    key_hash: Option<u64>,
    /// whether that key has an `@`
    email: bool,
}

impl super::rows::PreSlot for EventPre {}

/// A row's contact key as the reader thread found it.
#[derive(Clone, Copy, Default)]
enum PreContact {
    /// not looked up (no key, or no reader thread): the sink looks it up
    #[default]
    Unknown,
    /// a contact that existed before the import
    Existing(u32),
    /// the `n`-th key, counted from 0, that named no contact before the
    /// import (or one the snapshot does not hold, such as an email the
    /// import did not load): the same number for the same key
    New(u32),
}

/// Text values of one column seen lately and their dictionary ids: a small
/// table with one place per value (picked from its length and three of its
/// bytes), the last value there winning. Values up to `RECENT_LEN` bytes.
struct RecentTexts(Box<[Recent; RECENT_SLOTS]>);

const RECENT_SLOTS: usize = 128;
const RECENT_LEN: usize = 27;

/// One place of `RecentTexts`: `len` 0 is empty (no empty value is interned).
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Recent {
    id: u32,
    len: u8,
    text: [u8; RECENT_LEN],
}

impl Default for RecentTexts {
    fn default() -> Self {
        RecentTexts(Box::new([Recent::default(); RECENT_SLOTS]))
    }
}

impl RecentTexts {
    fn place(v: &[u8]) -> usize {
        let (n, first, mid, last) = (v.len(), v[0] as usize, v[v.len() / 2] as usize, v[v.len() - 1] as usize);
        (n.wrapping_mul(31) ^ first ^ mid.wrapping_mul(7) ^ last.wrapping_mul(131)) % RECENT_SLOTS
    }

    fn get(&self, v: &[u8]) -> Option<u32> {
        if v.is_empty() || v.len() > RECENT_LEN {
            return None;
        }
        let r = &self.0[Self::place(v)];
        (r.len as usize == v.len() && &r.text[..v.len()] == v).then_some(r.id)
    }

    fn put(&mut self, v: &[u8], id: u32) {
        if v.is_empty() || v.len() > RECENT_LEN {
            return;
        }
        let r = &mut self.0[Self::place(v)];
        r.id = id;
        r.len = v.len() as u8;
        r.text[..v.len()].copy_from_slice(v);
    }
}

/// `EventSink::new_keys` of a key whose contact is not known yet.
const NO_CONTACT: u32 = u32::MAX;

fn param_name(c: &Col) -> &str {
    match c {
        Col::Param(p) => p,
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::RecentTexts;

    /// A value is found with the id it was put with until another value
    /// takes its place; values too long to hold are never found.
    #[test]
    fn recent_texts_hold_the_last_value_of_each_place() {
        let mut r = RecentTexts::default();
        let values: Vec<String> = (0..2000).map(|i| format!("v{i}")).collect();
        for (i, v) in values.iter().enumerate() {
            r.put(v.as_bytes(), i as u32 + 1);
            assert_eq!(r.get(v.as_bytes()), Some(i as u32 + 1));
        }
        let mut found = 0;
        for (i, v) in values.iter().enumerate() {
            // a value is either gone or found with its own id
            if let Some(id) = r.get(v.as_bytes()) {
                assert_eq!(id, i as u32 + 1, "{v}");
                found += 1;
            }
        }
        assert!(found > 0 && found <= super::RECENT_SLOTS, "{found}");
        let long = "x".repeat(super::RECENT_LEN + 1);
        r.put(long.as_bytes(), 7);
        assert_eq!(r.get(long.as_bytes()), None);
        assert_eq!(r.get(b""), None);
        let edge = "y".repeat(super::RECENT_LEN);
        r.put(edge.as_bytes(), 9);
        assert_eq!(r.get(edge.as_bytes()), Some(9));
        assert_eq!(r.get(&edge.as_bytes()[1..]), None, "a prefix is another value");
    }
}
