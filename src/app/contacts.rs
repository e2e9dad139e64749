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
}

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
        // the per-contact facts when already known; else tags only (`row_facts` fills the rest)
        let facts = match self.row_facts.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some((g, f)) if *g == eng.generation => f.clone(),
            _ => {
                let mut tags: Vec<(String, RoaringBitmap)> =
                    eng.tags()?.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                tags.sort_by(|a, b| a.0.cmp(&b.0));
                Arc::new(RowFacts { last_activity: Vec::new(), lifecycle: Vec::new(), tags, complete: false })
            }
        };
        Ok(ContactList { ids: Arc::new(ids), total, facts })
    }

    /// Every contact's last activity, lifecycle and tags, for the table
    /// (computed once per data generation: it reads every event).
    pub fn row_facts(&self, cancel: &AtomicBool) -> AppResult<Arc<RowFacts>> {
        let now = self.now();
        let mut eng = self.engine()?;
        let mut cache = self.row_facts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((g, f)) = cache.as_ref()
            && *g == eng.generation
        {
            return Ok(f.clone());
        }
        let last_activity: Vec<i64> =
            eng.last_activity(now, cancel)?.into_iter().map(|t| t.unwrap_or(NO_TIME)).collect();
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
        let f = Arc::new(RowFacts { last_activity, lifecycle, tags, complete: true });
        *cache = Some((eng.generation, f.clone()));
        Ok(f)
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
            let name = format!("{} {}", text(&c, "first_name"), text(&c, "last_name")).trim().to_string();
            out.push(ContactRow {
                id: c.id,
                name,
                email: c.email.clone().unwrap_or_default(),
                city: text(&c, "city"),
                score: c.score,
                lifecycle: facts
                    .lifecycle
                    .get(i)
                    .and_then(|&l| crate::derived::Lifecycle::ALL.get(l as usize))
                    .map(|l| l.name().to_string())
                    .unwrap_or_default(),
                tags: facts.tags.iter().filter(|(_, bm)| bm.contains(c.id)).map(|(n, _)| n.clone()).collect(),
                last_activity: facts.last_activity.get(i).copied().filter(|&t| t != NO_TIME),
            });
        }
        Ok(out)
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
        let facts = ContactFacts::from_events(&schema, &events, now, th);
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
        "email" => c.email.clone().map(SortKey::Text).unwrap_or(SortKey::Missing),
        "external_id" => c.external_id.clone().map(SortKey::Text).unwrap_or(SortKey::Missing),
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
