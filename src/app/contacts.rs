//! Contacts for front ends: the ordered, filtered list behind the contacts
//! table (ids only, so a million rows cost four megabytes), the rows of the
//! visible window, and a contact's profile with a page of its timeline.

use super::{AppError, AppResult, Session};
use crate::derived::summary::ContactFacts;
use crate::model::decimal::Decimal;
use crate::model::{Contact, Schema, Source};
use crate::segment::engine::listing::SortBy;
use crate::store::codec::{NUM_NONE, ParamData};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What narrows the contacts table.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ContactFilter {
    #[default]
    All,
    /// quick text: id, email, external id, first or last name contain it
    Text(String),
    /// a segment expression
    Expr(String),
}

impl ContactFilter {
    /// Tells a segment expression from quick text: operators, a `:` (tag:,
    /// segment:), parentheses or the language's keywords make it an expression.
    pub fn detect(s: &str) -> ContactFilter {
        let t = s.trim();
        if t.is_empty() {
            return ContactFilter::All;
        }
        let words = ["and", "or", "not", "between", "within", "in", "contains", "is"];
        let expr = t.contains([':', '<', '>', '=', '(', ')', '!'])
            || t.split_whitespace().any(|w| words.contains(&w.to_ascii_lowercase().as_str()));
        if expr { ContactFilter::Expr(t.to_string()) } else { ContactFilter::Text(t.to_string()) }
    }
}

/// Per-contact facts the table shows that are not in the record.
#[derive(Default)]
pub struct RowFacts {
    /// by contact id; `NO_TIME` when the contact has no events
    pub last_activity: Vec<i64>,
    /// by contact id: an index into `Lifecycle::ALL`, `NO_STAGE` when none
    pub lifecycle: Vec<u8>,
    pub tags: Vec<(String, RoaringBitmap)>,
    /// last activity and lifecycle are filled in
    pub complete: bool,
    /// until then, (last activity, lifecycle) of the first rows of the list
    /// it came with, computed from those contacts' own events
    pub early: HashMap<u32, (i64, u8)>,
}

/// Rows at the top of a list given their facts before `row_facts` is
/// ready: the first screen of a 160x48 terminal (42 rows) and then some.
/// Their events lie in blocks shared with everyone's, so the cost grows
/// with the blocks they touch (10 on the 1M demo) rather than the rows.
pub const EARLY_ROWS: usize = 50;

/// `RowFacts::last_activity` of a contact without events.
pub const NO_TIME: i64 = i64::MIN;
/// `RowFacts::lifecycle` of a contact without a stage.
pub const NO_STAGE: u8 = u8::MAX;

/// The ordered result of a filter and sort.
#[derive(Clone)]
pub struct ContactList {
    pub ids: Arc<Vec<u32>>,
    /// all live contacts
    pub total: u64,
    pub facts: Arc<RowFacts>,
}

/// One row of the contacts table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRow {
    pub id: u32,
    pub name: String,
    pub email: String,
    pub city: String,
    pub score: i64,
    pub lifecycle: String,
    pub tags: Vec<String>,
    pub last_activity: Option<i64>,
}

impl Session {
    /// The contacts matching `filter` (and the expression `within`, when
    /// given: a tag's members), ordered by `sort`.
    pub fn contact_list(
        &self,
        filter: &ContactFilter,
        within: Option<&str>,
        sort: &SortBy,
        desc: bool,
        cancel: &AtomicBool,
    ) -> AppResult<ContactList> {
        let now = self.now();
        let within = match within {
            Some(src) => {
                let e = self.check_expr(src)?.expr;
                Some(self.engine()?.members(&e, now, cancel)?)
            }
            None => None,
        };
        let only = match filter {
            ContactFilter::All => None,
            ContactFilter::Text(t) => Some(self.engine()?.text_matches(t, cancel)?),
            ContactFilter::Expr(src) => {
                let e = self.check_expr(src)?.expr;
                Some(self.engine()?.members(&e, now, cancel)?)
            }
        };
        let only = match (only, within) {
            (Some(a), Some(b)) => Some(a & b),
            (a, b) => a.or(b),
        };
        let mut eng = self.engine()?;
        let ids = eng.sorted_ids(only.as_ref(), sort, desc, now, cancel)?;
        let total = eng.total()?;
        // the per-contact facts when already known; else tags and the first
        // rows' own (`row_facts` fills the rest)
        let known = self.row_facts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let facts = match known {
            Some((g, f)) if g == eng.generation => f,
            _ => {
                let mut tags: Vec<(String, RoaringBitmap)> =
                    eng.tags()?.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                tags.sort_by(|a, b| a.0.cmp(&b.0));
                drop(eng);
                let early = self.early_facts(&ids[..ids.len().min(EARLY_ROWS)])?;
                Arc::new(RowFacts { last_activity: Vec::new(), lifecycle: Vec::new(), tags, complete: false, early })
            }
        };
        Ok(ContactList { ids: Arc::new(ids), total, facts })
    }

    /// Every contact's last activity, lifecycle and tags, for the table
    /// (computed once per data generation: it reads every event).
    pub fn row_facts(&self, cancel: &AtomicBool) -> AppResult<Arc<RowFacts>> {
        let now = self.now();
        let (generation, kinds) = {
            let eng = self.engine()?;
            (eng.generation, eng.schema().kinds.len() as u16)
        };
        // the cache is not held while computing: `contact_list` reads it
        if let Some((g, f)) = self.row_facts.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && *g == generation
        {
            return Ok(f.clone());
        }
        // kind by kind, the engine released in between: a count asked
        // meanwhile (the builder's first) waits for one kind, not for all
        let mut last: Vec<Option<i64>> = Vec::new();
        for k in 0..kinds {
            self.let_others_in();
            self.engine()?.last_activity_of_kind(k, now, &mut last, cancel)?;
        }
        let mut eng = self.engine()?;
        let last_activity: Vec<i64> = last.into_iter().map(|t| t.unwrap_or(NO_TIME)).collect();
        let n = last_activity.len();
        let stages = crate::derived::Lifecycle::ALL;
        let mut lifecycle = vec![NO_STAGE; n];
        for (i, l) in lifecycle.iter_mut().enumerate() {
            if let Some(name) = eng.lifecycle_of(i as u32, now)? {
                *l = stages.iter().position(|s| s.name() == name).map_or(NO_STAGE, |p| p as u8);
            }
        }
        let mut tags: Vec<(String, RoaringBitmap)> = eng.tags()?.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        tags.sort_by(|a, b| a.0.cmp(&b.0));
        let f = Arc::new(RowFacts { last_activity, lifecycle, tags, complete: true, early: HashMap::new() });
        *self.row_facts.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, f.clone()));
        Ok(f)
    }

    /// (last activity, lifecycle) of a few contacts from their own events
    /// (the per-contact index), while `row_facts`, which reads every event
    /// of every kind, is not ready: what the first screen shows.
    pub fn early_facts(&self, ids: &[u32]) -> AppResult<HashMap<u32, (i64, u8)>> {
        let now = self.now();
        let th = &self.config.derived;
        let r = self.store.begin_read()?;
        let schema = r.schema()?;
        // of the events, lifecycle needs only the purchases' amounts
        let amount = schema.kind("purchase").and_then(|(k, def)| def.param("amount").map(|p| (k, p.0)));
        let blocks = r.events_of_many(ids, |k| amount.filter(|a| a.0 == k).map(|a| a.1))?;
        // per contact: (block, its positions there)
        let mut positions: HashMap<u32, Vec<(usize, Vec<usize>)>> = HashMap::new();
        for (n, b) in blocks.iter().enumerate() {
            for (i, c) in b.contact.iter().enumerate() {
                let lists = positions.entry(*c).or_default();
                match lists.last_mut() {
                    Some((m, p)) if *m == n => p.push(i),
                    _ => lists.push((n, vec![i])),
                }
            }
        }
        let stages = crate::derived::Lifecycle::ALL;
        let mut out = HashMap::with_capacity(ids.len());
        for &id in ids {
            let lists = positions.remove(&id).unwrap_or_default();
            let events = lists.iter().map(|(n, p)| (&blocks[*n], p.as_slice()));
            let f = ContactFacts::from_events(&schema, events, now, th);
            let last = f.kinds.iter().filter_map(|k| k.last).max().unwrap_or(NO_TIME);
            let stage = f.lifecycle(&schema, now, th);
            let stage = stages.iter().position(|s| s.name() == stage.name()).map_or(NO_STAGE, |p| p as u8);
            out.insert(id, (last, stage));
        }
        Ok(out)
    }

    /// The rows for some ids of a list (the visible window): a few point reads.
    pub fn contact_rows(&self, ids: &[u32], facts: &RowFacts) -> AppResult<Vec<ContactRow>> {
        let r = self.store.begin_read()?;
        let schema = r.schema()?;
        let text = |c: &Contact, name: &str| -> String {
            schema.attr(name).and_then(|(i, d)| c.attr(i).map(|v| d.format(v))).unwrap_or_default()
        };
        let mut out = Vec::with_capacity(ids.len());
        for c in r.contacts(ids)?.into_iter().flatten() {
            let i = c.id as usize;
            let (last, stage) = match facts.early.get(&c.id) {
                Some(&(t, l)) if !facts.complete => (Some(t), Some(l)),
                _ => (facts.last_activity.get(i).copied(), facts.lifecycle.get(i).copied()),
            };
            let name = format!("{} {}", text(&c, "first_name"), text(&c, "last_name")).trim().to_string();
            out.push(ContactRow {
                id: c.id,
                name,
                email: c.email.as_deref().unwrap_or_default().to_string(),
                city: text(&c, "city"),
                score: c.score,
                lifecycle: stage
                    .and_then(|l| crate::derived::Lifecycle::ALL.get(l as usize))
                    .map(|l| l.name().to_string())
                    .unwrap_or_default(),
                tags: facts.tags.iter().filter(|(_, bm)| bm.contains(c.id)).map(|(n, _)| n.clone()).collect(),
                last_activity: last.filter(|&t| t != NO_TIME),
            });
        }
        Ok(out)
    }

    /// Erases contacts and everything about them (right to be forgotten)
    /// in one transaction; how many were erased. The freed pages keep the
    /// bytes until redb reuses them or the file is compacted.
    pub fn delete_contacts(&self, ids: &RoaringBitmap) -> AppResult<u64> {
        let mut w = self.store.begin_write()?;
        let n = w.delete_contacts(ids)?;
        // what was erased is not said: only how many
        w.audit(&self.audit_entry(format!("erased {n} contact{}", if n == 1 { "" } else { "s" })))?;
        w.commit()?;
        Ok(n)
    }

    /// Resolves an id, email or external id.
    pub fn find_contact(&self, key: &str) -> AppResult<u32> {
        self.store.begin_read()?.find_contact(key)?.ok_or_else(|| AppError::invalid(format!("no such contact: {key}")))
    }

    /// A contact's card and `limit` timeline entries from `offset`, newest
    /// first, optionally of one event kind only (then without actions).
    pub fn profile(&self, id: u32, kind: Option<&str>, offset: usize, limit: usize) -> AppResult<Profile> {
        let now = self.now();
        let r = self.store.begin_read()?;
        let schema = r.schema()?;
        let contact = r.contact(id)?.ok_or_else(|| AppError::invalid(format!("no such contact: {id}")))?;
        if let Some(k) = kind
            && schema.kind(k).is_none()
        {
            return Err(AppError::invalid(format!("unknown event kind `{k}`")));
        }
        let tags = r.tags_of(id)?;
        let events = r.events_of(id)?;
        let th = &self.config.derived;
        let facts = ContactFacts::from_events(&schema, events.iter().map(|(b, p)| (b, p.as_slice())), now, th);
        let rfm = self.engine()?.rfm_of(id, now)?;
        // only the dictionary values this contact's events use
        let mut wanted = std::collections::BTreeSet::new();
        for (b, pos) in &events {
            for &i in pos {
                for (_, d) in &b.params {
                    if let ParamData::Text(v) = d
                        && v[i] != 0
                    {
                        wanted.insert(v[i]);
                    }
                }
                wanted.extend(b.utm_at(i).iter().copied().filter(|&u| u != 0));
            }
        }
        let dict = r.dict_values(&wanted)?;
        let text = |id: u32| dict.get(&id).cloned().unwrap_or_default();
        let mut timeline: Vec<TimelineEntry> = Vec::new();
        for (b, pos) in &events {
            let kd = &schema.kinds[b.kind as usize];
            if kind.is_some_and(|k| k != kd.name) {
                continue;
            }
            for &i in pos {
                let mut params = Vec::new();
                for (pid, d) in &b.params {
                    let name = kd.params[*pid as usize].name.clone();
                    match d {
                        ParamData::Num(v) if v[i] != NUM_NONE => params.push((name, Decimal(v[i]).to_string())),
                        ParamData::Text(v) if v[i] != 0 => params.push((name, text(v[i]))),
                        _ => {}
                    }
                }
                let utm = b.utm_at(i);
                for (j, n) in ["utm_source", "utm_medium", "utm_campaign"].iter().enumerate() {
                    if utm[j] != 0 {
                        params.push((n.to_string(), text(utm[j])));
                    }
                }
                timeline.push(TimelineEntry {
                    ts: b.ts[i],
                    what: Entry::Event {
                        kind: kd.name.clone(),
                        source: Source::from_code(b.source[i]).map(|s| s.name()),
                        params,
                    },
                });
            }
        }
        if kind.is_none() {
            for act in r.actions_of(id)? {
                timeline.push(TimelineEntry { ts: act.ts, what: Entry::Action { what: act.what, detail: act.detail } });
            }
        }
        // newest first; at one instant, what was recorded last first (the
        // reverse keeps that through the stable sort)
        timeline.reverse();
        timeline.sort_by_key(|x| std::cmp::Reverse(x.ts));
        let timeline_total = timeline.len();
        let timeline: Vec<TimelineEntry> = timeline.into_iter().skip(offset).take(limit).collect();
        Ok(Profile {
            engagement: facts.engagement(th).name(),
            lifecycle: facts.lifecycle(&schema, now, th).name(),
            rfm: rfm.map(|(r, f, m)| format!("{r}{f}{m}")),
            schema,
            contact,
            tags,
            timeline,
            timeline_total,
        })
    }
}

/// A contact's card and one page of its timeline.
pub struct Profile {
    pub schema: Schema,
    pub contact: Contact,
    pub tags: Vec<String>,
    pub engagement: &'static str,
    pub lifecycle: &'static str,
    pub rfm: Option<String>,
    pub timeline: Vec<TimelineEntry>,
    /// entries in the whole (filtered) timeline
    pub timeline_total: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimelineEntry {
    pub ts: i64,
    pub what: Entry,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    Event {
        kind: String,
        source: Option<&'static str>,
        params: Vec<(String, String)>,
    },
    /// deliveries, suppressions with their reason, deferrals, tag and score changes
    Action {
        what: crate::model::contact::ActionKind,
        detail: String,
    },
}

impl Profile {
    /// The contact's name from its first and last name attributes.
    pub fn name(&self) -> String {
        [self.schema.attr("first_name"), self.schema.attr("last_name")]
            .iter()
            .flatten()
            .filter_map(|(i, d)| self.contact.attr(*i).map(|v| d.format(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(PartialEq, PartialOrd)]
enum SortKey {
    Missing,
    Num(i128),
    Text(String),
}

fn sort_key(schema: &Schema, c: &Contact, field: &str) -> AppResult<SortKey> {
    Ok(match field {
        "id" => SortKey::Num(c.id as i128),
        "score" => SortKey::Num(c.score as i128),
        "created_at" => SortKey::Num(c.created_at as i128),
        "email" => c.email.as_deref().map(|s| SortKey::Text(s.to_string())).unwrap_or(SortKey::Missing),
        "external_id" => c.external_id.as_deref().map(|s| SortKey::Text(s.to_string())).unwrap_or(SortKey::Missing),
        other => {
            let (i, def) = schema.attr(other).ok_or_else(|| {
                let mut names: Vec<String> =
                    ["id", "score", "created_at", "email", "external_id"].iter().map(|s| s.to_string()).collect();
                names.extend(schema.attributes.iter().map(|a| a.name.clone()));
                AppError::invalid(format!("unknown field `{other}` (one of: {})", names.join(", ")))
            })?;
            match c.attr(i) {
                None => SortKey::Missing,
                Some(crate::model::AttrValue::Number(d)) => SortKey::Num(d.units() as i128),
                Some(crate::model::AttrValue::Date(d)) => SortKey::Num(*d as i128),
                Some(v) => SortKey::Text(def.format(v)),
            }
        }
    })
}

impl Session {
    /// Contacts in `only` (everyone when None) ordered by a field (`id`,
    /// `score`, `created_at`, `email`, `external_id` or an attribute; true:
    /// descending; missing values last either way, ties by id), from
    /// `offset`, at most `limit`: the CLI's `contacts list`.
    pub fn contacts_page(
        &self,
        only: Option<&RoaringBitmap>,
        sort: Option<(&str, bool)>,
        offset: usize,
        limit: usize,
    ) -> AppResult<Vec<Contact>> {
        let r = self.store.begin_read()?;
        let schema = r.schema()?;
        let want = offset.saturating_add(limit);
        let mut picked: Vec<(SortKey, Contact)> = Vec::new();
        let mut err = None;
        r.for_each_contact(|c| {
            if only.is_some_and(|o| !o.contains(c.id)) {
                return Ok(true);
            }
            match sort {
                None => {
                    picked.push((SortKey::Missing, c));
                    Ok(picked.len() < want)
                }
                Some((f, _)) => match sort_key(&schema, &c, f) {
                    Ok(k) => {
                        picked.push((k, c));
                        Ok(true)
                    }
                    Err(e) => {
                        err = Some(e);
                        Ok(false)
                    }
                },
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        if let Some((_, desc)) = sort {
            picked.sort_by(|x, y| {
                let o = match (&x.0, &y.0) {
                    (SortKey::Missing, SortKey::Missing) => std::cmp::Ordering::Equal,
                    (SortKey::Missing, _) => return std::cmp::Ordering::Greater,
                    (_, SortKey::Missing) => return std::cmp::Ordering::Less,
                    (p, q) => p.partial_cmp(q).unwrap_or(std::cmp::Ordering::Equal),
                };
                let o = if desc { o.reverse() } else { o };
                o.then(x.1.id.cmp(&y.1.id))
            });
        }
        Ok(picked.into_iter().skip(offset).take(limit).map(|(_, c)| c).collect())
    }
}
