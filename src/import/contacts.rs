//! Importing contacts: each row upserts one contact, matched on external id,
//! then email. Empty cells never erase; tags and categories are added.
//! Duplicate keys inside one file are refused (the second row is the bad one).

use super::mapping::field_name;
use super::records::Fields;
use super::{ImportContext, ImportReport};
use crate::error::{Error, Result};
use crate::model::attribute::{AttrType, AttrValue, parse_bool};
use crate::model::contact::{looks_like_email, normalize_email};
use crate::model::{Action, ActionKind, Channel, Consent, Contact};
use crate::store::{Loader, Writer};
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap as HashMap;

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
struct Row {
    id_hint: Option<u32>,
    external_id: Option<String>,
    email: Option<String>,
    created_at: Option<i64>,
    score: Option<i64>,
    timezone: Option<String>,
    consent: [Option<bool>; 3],
    consent_at: [Option<i64>; 3],
    unsubscribed_at: Option<i64>,
    bounced_at: Option<i64>,
    tags: Vec<String>,
    categories: Vec<String>,
    attrs: Vec<(u16, AttrValue)>,
}

pub(super) struct ContactSink<'a, 'w> {
    /// the transaction, through the load that holds its key maps
    pub w: Loader<'a, 'w>,
    pub ctx: &'a ImportContext,
    pub report: &'a mut ImportReport,
    cols: Vec<Col>,
    seen_xid: HashMap<String, u64>,
    seen_email: HashMap<String, u64>,
    seen_ids: HashMap<u32, u64>,
    /// contacts to write, and the score each had before (None: new)
    pending: Vec<Contact>,
    pending_old_score: Vec<Option<i64>>,
    /// contacts this import creates, their keys registered in the load
    /// already: written without reading anything back, keys in order
    pending_new: Vec<Contact>,
    tags: HashMap<String, RoaringBitmap>,
    categories: std::collections::HashMap<String, RoaringBitmap>,
    known_categories: HashMap<String, String>,
    has_consent_col: [bool; 3],
}

/// Changed contacts written at a time.
const FLUSH: usize = 20_000;
/// New contacts written at a time: their keys go in sorted, so the more at
/// once, the fewer times each page of the key tables is rewritten.
const FLUSH_NEW: usize = 200_000;

impl<'a, 'w> ContactSink<'a, 'w> {
    pub fn new(w: &'a mut Writer<'w>, ctx: &'a ImportContext, report: &'a mut ImportReport) -> Result<Self> {
        let mut w = Loader::new(w);
        w.load_keys()?;
        Ok(ContactSink {
            w,
            ctx,
            report,
            cols: vec![],
            seen_xid: HashMap::default(),
            seen_email: HashMap::default(),
            seen_ids: HashMap::default(),
            pending: vec![],
            pending_old_score: vec![],
            pending_new: vec![],
            tags: HashMap::default(),
            categories: Default::default(),
            known_categories: HashMap::default(),
            has_consent_col: [false; 3],
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

    fn parse_row(&mut self, line: u64, rec: &Fields) -> Result<Row> {
        let mut r = Row::default();
        let tf = &self.ctx.time_format;
        for (i, col) in self.cols.iter().enumerate() {
            let v = rec.get(i).unwrap_or("").trim();
            if v.is_empty() {
                continue;
            }
            match col {
                Col::Ignore => {}
                Col::Id => {
                    r.id_hint = Some(v.parse().map_err(|_| Error::input(format!("id `{v}` is not a contact id")))?)
                }
                Col::ExternalId => r.external_id = Some(self.shopify_unquote(rec.get(i).unwrap_or("")).to_string()),
                Col::Email => {
                    if !looks_like_email(v) {
                        return Err(Error::input(format!("`{v}` is not an email address")));
                    }
                    r.email = Some(v.to_string());
                }
                Col::CreatedAt => {
                    r.created_at = Some(tf.parse(v).map_err(|e| Error::input(format!("created_at: {e}")))?)
                }
                Col::Score => {
                    r.score = Some(v.parse().map_err(|_| Error::input(format!("score `{v}` is not a whole number")))?)
                }
                Col::Timezone => {
                    v.parse::<chrono_tz::Tz>().map_err(|_| {
                        Error::input(format!("unknown timezone `{v}` (expected an IANA name such as Europe/Rome)"))
                    })?;
                    r.timezone = Some(v.to_string());
                }
                Col::Consent(c) => {
                    r.consent[*c as usize] = Some(
                        parse_bool(v)
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
                Col::BouncedAt => {
                    r.bounced_at = Some(tf.parse(v).map_err(|e| Error::input(format!("bounced_at: {e}")))?)
                }
                Col::Tags => r.tags = split_list(v),
                Col::Categories => r.categories = split_list(v),
                Col::Attr(a) => {
                    let def = &self.w.schema().attributes[*a as usize];
                    let v = if def.name == "phone" { self.shopify_unquote(v) } else { v };
                    if let Some(val) = def.parse(v).map_err(Error::input)? {
                        r.attrs.push((*a, val));
                    }
                }
            }
        }
        if r.external_id.is_none() && r.email.is_none() {
            return Err(Error::input("the row has neither external_id nor email"));
        }
        if let Some(x) = &r.external_id
            && let Some(first) = self.seen_xid.get(x)
        {
            return Err(Error::input(format!("duplicate external_id `{x}` (first on line {first})")));
        }
        if let Some(e) = &r.email
            && let Some(first) = self.seen_email.get(&normalize_email(e))
        {
            return Err(Error::input(format!("duplicate email `{e}` (first on line {first})")));
        }
        let _ = line;
        Ok(r)
    }

    /// Shopify prefixes ids and phone numbers with `'` to keep spreadsheets
    /// from mangling them; the preset takes the value without it.
    fn shopify_unquote<'v>(&self, v: &'v str) -> &'v str {
        if self.ctx.preset == Some(super::mapping::Preset::Shopify) { v.strip_prefix('\'').unwrap_or(v) } else { v }
    }

    /// Finds the contact a row updates, checking that its keys do not point at two contacts.
    fn target(&self, r: &Row) -> Result<Option<u32>> {
        let by_x = r.external_id.as_deref().and_then(|x| self.w.id_by_external_id(x));
        let by_e = r.email.as_deref().and_then(|e| self.w.id_by_email(e));
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

    /// Writes the contacts this import created so far, with their
    /// timeline's "created" line.
    fn flush_new(&mut self) -> Result<()> {
        if self.pending_new.is_empty() {
            return Ok(());
        }
        self.w.put_new_contacts(&self.pending_new)?;
        let detail = format!("import {}", self.ctx.source_name);
        let actions: Vec<(u32, Action)> = self
            .pending_new
            .drain(..)
            .map(|c| (c.id, Action { ts: self.ctx.now, what: ActionKind::Created, detail: detail.clone() }))
            .collect();
        self.w.add_actions(&actions)
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
        self.flush()?;
        let mut tags: Vec<_> = self.tags.drain().collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        let mut actions = Vec::new();
        for (t, ids) in tags {
            let added = self.w.tag_add(&t, &ids)?;
            for id in &added {
                actions.push((
                    id,
                    Action {
                        ts: self.ctx.now,
                        what: ActionKind::TagAdded(t.clone()),
                        detail: format!("import {}", self.ctx.source_name),
                    },
                ));
            }
        }
        self.w.add_actions(&actions)?;
        self.w.add_category_members(&self.categories)?;
        Ok(())
    }
}

impl super::rows::RowSink for ContactSink<'_, '_> {
    fn columns(&mut self, added: &[String]) -> Result<()> {
        let mut targets: Vec<String> = Vec::new();
        for c in added {
            let col = match self.ctx.mapping.field_for(c) {
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

    type Pre = ();

    fn row(&mut self, line: u64, rec: &Fields, _pre: &()) -> Result<()> {
        let r = self.parse_row(line, rec)?;
        let target = self.target(&r)?;
        if let Some(first) = target.and_then(|id| self.seen_ids.get(&id)) {
            return Err(Error::input(format!(
                "this row is for contact {} which line {first} already imported",
                target.unwrap_or(0)
            )));
        }
        let old = match target {
            Some(id) => Some(
                self.w.contact(id)?.ok_or_else(|| Error::runtime(format!("contact {id} is indexed but missing")))?,
            ),
            None => None,
        };
        // keys must not collide with other contacts
        if let (Some(e), Some(o)) = (&r.email, &old)
            && let Some(other) = self.w.id_by_email(e).filter(|x| *x != o.id)
        {
            return Err(Error::input(format!("email `{e}` already belongs to contact {other}")));
        }
        if let (Some(x), Some(o)) = (&r.external_id, &old) {
            if let Some(other) = self.w.id_by_external_id(x).filter(|y| *y != o.id) {
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
        let mut cats = Vec::new();
        for c in &r.categories {
            let leaf = match self.known_categories.get(c) {
                Some(l) => l.clone(),
                None => {
                    let l = self.w.ensure_category(c)?;
                    self.known_categories.insert(c.clone(), l.clone());
                    l
                }
            };
            cats.push(leaf);
        }
        let now = self.ctx.now;
        let mut c = match &old {
            Some(o) => o.clone(),
            None => {
                let id = self.w.alloc_contact_id(r.id_hint)?;
                Contact { id, created_at: now, ..Default::default() }
            }
        };
        if let Some(x) = r.external_id {
            self.seen_xid.insert(x.clone(), line);
            c.external_id = Some(x);
        }
        if let Some(e) = r.email {
            self.seen_email.insert(normalize_email(&e), line);
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
        for (a, v) in r.attrs {
            c.set_attr(a, Some(v));
        }
        for t in r.tags {
            self.tags.entry(t).or_default().insert(c.id);
        }
        for leaf in cats {
            if !c.categories.contains(&leaf) {
                c.categories.push(leaf.clone());
                self.categories.entry(leaf).or_default().insert(c.id);
            }
        }
        self.seen_ids.insert(c.id, line);
        if old.is_some() {
            self.report.updated += 1;
        } else {
            self.report.inserted += 1;
        }
        if old.is_none() {
            // no other contact has these keys (`target` found none, and
            // `seen_*` refuses a second row with them): findable from now on
            if let Some(x) = &c.external_id {
                self.w.register_external_id(x, c.id);
            }
            if let Some(e) = &c.email {
                self.w.register_email(e, c.id);
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
