//! The segment engine: exact counts and member lists for any expression,
//! shared by the CLI, the console and the scheduler.
//!
//! In memory, loaded lazily from one store snapshot and kept current by
//! `apply`ing the store's change notifications (never a rebuild per edit):
//! contact fields as columns, tags and categories as bitmaps, events as
//! per-kind partitions of time-sorted columnar chunks. Per-contact
//! aggregates (counts, sums, extremes per kind, window and filter) and leaf
//! results are cached, so editing one criterion recomputes one leaf and
//! recombines bitsets. Every scan checks a cancel flag, so a UI can drop a
//! stale count the moment the operator types again.

pub mod bits;
mod bytes;
pub mod catalog;
pub mod columns;
mod derived;
mod eval;
pub mod event_times;
pub mod events;
pub mod filter;
mod lifetime;
pub mod listing;
mod recent_sums;
pub mod sparse;
mod zeroed;

use crate::derived::Thresholds;
use crate::error::Result;
use crate::model::Schema;
use crate::segment::ast::Expr;
use crate::store::codec::Columns;
use crate::store::read::CategoryRow;
use crate::store::{Change, Reader};
use bits::Bits;
use columns::ContactColumns;
use events::{Partition, Values};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use catalog::StoreCatalog;
pub use eval::{ExplainNode, window_range};

/// Key of a cached per-contact aggregate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ValKey {
    kind: u16,
    measure: events::Measure,
    lo: i64,
    hi: i64,
    filter: String,
}

/// Cached aggregate vectors are large (up to 20 bytes per contact); keep a bounded set.
const MAX_CACHED_BYTES: usize = 512 << 20;

/// Who exists: the id space and the set of live contact ids.
pub struct Base {
    pub n: usize,
    pub alive: Bits,
}

pub struct Engine {
    reader: Reader,
    base: Option<Base>,
    schema: Schema,
    th: Thresholds,
    contacts: Option<ContactColumns>,
    tags: Option<HashMap<String, RoaringBitmap>>,
    categories: Option<Vec<CategoryRow>>,
    segments: Option<HashMap<String, String>>,
    partitions: HashMap<u16, Partition>,
    values: HashMap<ValKey, Arc<Values>>,
    /// lifetime, unfiltered aggregates (read from the store's per-contact
    /// summaries, or computed from the blocks in memory): kept like data,
    /// until events change
    summaries: HashMap<ValKey, Arc<Values>>,
    /// by kind, the lifetime measures the expression being counted reads
    /// from the summaries: the first pass over a kind's summaries fills
    /// them together
    lifetime_plan: HashMap<u16, lifetime::Wanted>,
    values_bytes: usize,
    leaves: HashMap<String, Arc<Bits>>,
    /// compiled filters by (kind, printed filter): dictionary lookups done once
    filters: HashMap<(u16, String), Arc<filter::BoundFilter>>,
    /// filters compiled over the values of the blocks read (no dictionary
    /// loaded), with the version of the kind's blocks they are right for
    block_filters: HashMap<(u16, String), (u64, Arc<filter::BoundFilter>)>,
    dict: Option<ArenaDict>,
    derived: Option<derived::DerivedCols>,
    age: Option<(i64, Vec<i16>)>,
    /// bumped by every applied change
    pub generation: u64,
}

impl Engine {
    /// An engine over a store snapshot; nothing is loaded until needed.
    pub fn new(reader: Reader, th: Thresholds) -> Result<Engine> {
        let schema = reader.schema()?;
        Ok(Engine {
            reader,
            base: None,
            schema,
            th,
            contacts: None,
            tags: None,
            categories: None,
            segments: None,
            partitions: HashMap::new(),
            values: HashMap::new(),
            summaries: HashMap::new(),
            lifetime_plan: HashMap::new(),
            values_bytes: 0,
            leaves: HashMap::new(),
            filters: HashMap::new(),
            block_filters: HashMap::new(),
            dict: None,
            derived: None,
            age: None,
            generation: 0,
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Loads everything now (a long-lived host warms up once at start).
    pub fn warm(&mut self) -> Result<()> {
        self.contact_fields(&columns::ColField::all(&self.schema))?;
        self.tags()?;
        self.categories()?;
        for k in 0..self.schema.kinds.len() as u16 {
            self.events_in(k, i64::MIN, i64::MAX, &Columns::ALL)?;
        }
        self.dict()?;
        Ok(())
    }

    pub(crate) fn base(&mut self) -> Result<&Base> {
        if self.base.is_none() {
            let n = self.reader.meta("next_contact")?.max(1) as usize;
            let ids = self.reader.contact_ids()?;
            let n = n.max(ids.max().map(|m| m as usize + 1).unwrap_or(0));
            self.base = Some(Base { n, alive: Bits::from_roaring(&ids, n) });
        }
        Ok(self.base.as_ref().expect("loaded"))
    }

    /// The contact columns with `fields` read (each read once, from the
    /// store's columns: never every record).
    pub(crate) fn contact_fields(&mut self, fields: &[columns::ColField]) -> Result<&ContactColumns> {
        let n = self.base()?.n;
        let cols = self.contacts.get_or_insert_with(|| ContactColumns::new(&self.schema, n));
        cols.grow(n);
        if fields.iter().any(|&f| !cols.is_loaded(f)) {
            cols.ensure(&self.reader, &self.schema, fields)?;
        }
        Ok(self.contacts.as_ref().expect("loaded"))
    }

    pub fn tags(&mut self) -> Result<&HashMap<String, RoaringBitmap>> {
        if self.tags.is_none() {
            self.tags = Some(self.reader.tags()?.into_iter().collect());
        }
        Ok(self.tags.as_ref().expect("loaded"))
    }

    pub(crate) fn categories(&mut self) -> Result<&Vec<CategoryRow>> {
        if self.categories.is_none() {
            self.categories = Some(self.reader.categories()?);
        }
        Ok(self.categories.as_ref().expect("loaded"))
    }

    pub(crate) fn segments(&mut self) -> Result<&HashMap<String, String>> {
        if self.segments.is_none() {
            self.segments = Some(self.reader.segments()?.into_iter().map(|s| (s.name, s.expr)).collect());
        }
        Ok(self.segments.as_ref().expect("loaded"))
    }

    /// A kind's events with their blocks read for every time span that
    /// `lo..=hi` touches (nothing more is read for an empty range), each
    /// with at least the columns `need` names.
    pub(crate) fn events_in(&mut self, kind: u16, lo: i64, hi: i64, need: &Columns) -> Result<&Partition> {
        let p = self.partitions.entry(kind).or_default();
        if lo <= hi {
            p.ensure(&self.reader, kind, (lo, hi), need)?;
        }
        Ok(p)
    }

    /// The event blocks read so far and the events they hold, all kinds.
    pub fn events_read(&self) -> (usize, usize) {
        let blocks = self.partitions.values().map(|p| p.chunks.len()).sum();
        (blocks, self.partitions.values().map(|p| p.len()).sum())
    }

    /// The instant of a kind's last event (i64::MIN when it has none), from
    /// the list of blocks by span: no block is read.
    pub(crate) fn last_event(&self, kind: u16) -> Result<i64> {
        Ok(self.reader.last_span(kind)?.map(|(_, t)| t).unwrap_or(i64::MIN))
    }

    /// Drops cached results: the next count computes every windowed or
    /// filtered criterion from the columns and events again. Loaded data and
    /// what is maintained like data (derived facts and age for the current
    /// `now`, compiled filters, lifetime unfiltered aggregates) stay. For
    /// benchmarks.
    pub fn clear_caches(&mut self) {
        self.values.clear();
        self.values_bytes = 0;
        self.leaves.clear();
    }

    /// Computes the derived facts for `now` ahead of the first query that needs them.
    pub fn refresh_derived(&mut self, now: i64) -> Result<()> {
        use derived::Which;
        for w in [Which::Engagement, Which::Lifecycle, Which::Rfm] {
            self.ensure_derived(w, now)?;
        }
        self.age_col(now)?;
        Ok(())
    }

    /// The dictionary, loaded (or extended with new values) on demand.
    pub(crate) fn dict(&mut self) -> Result<&ArenaDict> {
        if self.dict.is_none() {
            let mut d = ArenaDict { next: 1, ..Default::default() };
            d.extend(&self.reader)?;
            self.dict = Some(d);
        }
        Ok(self.dict.as_ref().expect("loaded"))
    }

    /// Number of contacts.
    pub fn total(&mut self) -> Result<u64> {
        Ok(self.base()?.alive.count())
    }

    /// Exact number of contacts matching `e` at `now`.
    pub fn count(&mut self, e: &Expr, now: i64, cancel: &AtomicBool) -> Result<u64> {
        Ok(self.eval(e, now, cancel)?.count())
    }

    /// The contacts matching `e` at `now`.
    pub fn members(&mut self, e: &Expr, now: i64, cancel: &AtomicBool) -> Result<RoaringBitmap> {
        Ok(self.eval(e, now, cancel)?.to_roaring())
    }

    /// Takes a newer snapshot and brings the loaded parts up to date with
    /// what the changes name: contacts re-read one by one, event chunks
    /// appended or replaced, tag bitmaps re-read. Caches of results go.
    pub fn apply(&mut self, changes: &[Change], reader: Reader) -> Result<()> {
        self.reader = reader;
        for c in changes {
            match c {
                Change::Schema => {
                    self.schema = self.reader.schema()?;
                    if let Some(cols) = &mut self.contacts {
                        cols.sync_schema(&self.schema);
                    }
                }
                Change::Contacts(ids) => {
                    let n = self.reader.meta("next_contact")? as usize;
                    if let Some(base) = &mut self.base {
                        base.n = base.n.max(n);
                        base.alive.grow(base.n);
                        for &id in ids {
                            base.alive.set(id as usize);
                        }
                    }
                    if let Some(cols) = &mut self.contacts {
                        cols.grow(n);
                        for &id in ids {
                            if let Some(c) = self.reader.contact(id)? {
                                cols.upsert(&self.schema, &crate::model::contact::ContactView::of(&c));
                            }
                        }
                    }
                }
                Change::ContactsDeleted(ids) => {
                    if let Some(base) = &mut self.base {
                        for &id in ids {
                            base.alive.clear(id as usize);
                        }
                    }
                    if let Some(cols) = &mut self.contacts {
                        for &id in ids {
                            cols.remove(&self.schema, id);
                        }
                    }
                }
                Change::EventBlocks(ids) | Change::EventBlocksRewritten(ids) => {
                    if matches!(c, Change::EventBlocksRewritten(_)) {
                        // deletes may have dropped dictionary values: reload it when needed
                        self.dict = None;
                    }
                    for &(kind, id) in ids {
                        if let Some(p) = self.partitions.get_mut(&kind) {
                            let b = self.reader.blocks(&[(kind, id)])?.pop().map(|(_, b)| b);
                            p.put(id, b);
                        }
                    }
                }
                Change::Tags(names) => {
                    if let Some(t) = &mut self.tags {
                        for n in names {
                            match self.reader.tag(n)? {
                                Some(bm) => t.insert(n.clone(), bm),
                                None => t.remove(n),
                            };
                        }
                    }
                }
                Change::Categories => self.categories = None,
                Change::Segments => self.segments = None,
                _ => {}
            }
        }
        if let Some(d) = &mut self.dict {
            d.extend(&self.reader)?;
        }
        self.values.clear();
        self.values_bytes = 0;
        self.summaries.clear();
        self.leaves.clear();
        self.filters.clear();
        self.block_filters.clear();
        self.derived = None;
        self.age = None;
        self.generation += 1;
        Ok(())
    }

    fn cache_values(&mut self, key: ValKey, v: Arc<Values>) {
        let b = v.bytes();
        if self.values_bytes + b > MAX_CACHED_BYTES {
            self.values.clear();
            self.values_bytes = 0;
        }
        self.values_bytes += b;
        self.values.insert(key, v);
    }
}

/// The values one text column of a kind's blocks read so far holds, looked
/// up in the store's dictionary on demand: what a filter needs when the
/// whole dictionary is not loaded (a count from a fresh process reads the
/// few chunks holding, say, the manufacturers, not a million order ids).
/// A filter compiled over it is right for those blocks only (see
/// `Engine::block_filters`).
pub(crate) struct ValuesRead<'a> {
    part: &'a Partition,
    reader: &'a Reader,
}

impl filter::Dict for ValuesRead<'_> {
    fn matching(&self, target: filter::Target, pred: &mut dyn FnMut(&str) -> bool) -> Result<Vec<u32>> {
        let mut seen: Vec<u64> = Vec::new();
        let mut mark = |ids: &[u32]| {
            for &id in ids {
                let w = id as usize >> 6;
                if w >= seen.len() {
                    seen.resize(w + 1, 0);
                }
                seen[w] |= 1 << (id & 63);
            }
        };
        for c in &self.part.chunks {
            let b = &c.block;
            match target {
                filter::Target::Utm(k) => mark(&b.utm[k]),
                filter::Target::Param(p) => {
                    if let Some((_, crate::store::codec::ParamData::Text(v))) = b.params.iter().find(|(q, _)| *q == p) {
                        mark(v);
                    }
                }
                filter::Target::Source => {}
            }
        }
        let ids: std::collections::BTreeSet<u32> = seen
            .iter()
            .enumerate()
            .flat_map(|(w, &bits)| (0..64).filter(move |i| bits >> i & 1 == 1).map(move |i| (w * 64 + i) as u32))
            .filter(|&id| id != 0)
            .collect();
        let mut out: Vec<u32> =
            self.reader.dict_values(&ids)?.into_iter().filter(|(_, s)| pred(s)).map(|(id, _)| id).collect();
        out.sort_unstable();
        Ok(out)
    }
}

/// The event-value dictionary in one arena, loaded on first use and
/// extended as values are added: a lookup is a scan at memory speed (a few
/// milliseconds for a million order ids), with no index to build or keep.
#[derive(Default)]
pub(crate) struct ArenaDict {
    arena: String,
    /// (id, start, len) in id order
    entries: Vec<(u32, u32, u32)>,
    next: u32,
}

impl ArenaDict {
    fn extend(&mut self, r: &Reader) -> Result<()> {
        let from = self.next;
        r.for_each_dict_from(from, |id, s| {
            self.entries.push((id, self.arena.len() as u32, s.len() as u32));
            self.arena.push_str(s);
            self.next = self.next.max(id + 1);
        })
    }
}

impl filter::Dict for ArenaDict {
    fn matching(&self, _: filter::Target, pred: &mut dyn FnMut(&str) -> bool) -> Result<Vec<u32>> {
        Ok(self
            .entries
            .iter()
            .filter(|(_, s, l)| pred(&self.arena[*s as usize..(*s + *l) as usize]))
            .map(|(id, _, _)| *id)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// A filter compiled over the blocks read (no dictionary loaded) is
    /// compiled again only when blocks come or go: not when the same
    /// blocks are read again with another column or with their times, nor
    /// when spans without blocks are asked for (a window past the last
    /// event).
    #[test]
    fn a_filter_over_the_blocks_read_is_kept_while_the_blocks_are() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("r.redb"), crate::store::OpenMode::Create).unwrap();
        let now = crate::cli::parse_now("2026-11-24T12:00:00Z").unwrap();
        let mut w = store.begin_write().unwrap();
        let opts = crate::demo::DemoOptions { contacts: 300, seed: 4, now, events_per_contact: 10.0 };
        crate::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
        w.commit().unwrap();
        let never = AtomicBool::new(false);
        let mut e = Engine::new(store.begin_read().unwrap(), Thresholds::default()).unwrap();
        let count = |e: &mut Engine, src: &str, now: i64| {
            e.count(&crate::segment::parse(src).unwrap(), now, &never).unwrap();
            let kind = e.schema.kind("purchase").unwrap().0;
            e.partitions[&kind].version
        };
        let acme = "count(purchase where manufacturer = \"Acme\", last 6mo) >= 1";
        let v = count(&mut e, acme, now);
        let compiled = |e: &Engine| {
            let (_, (_, c)) = e.block_filters.iter().find(|(k, _)| k.1.contains("Acme")).expect("compiled");
            Arc::as_ptr(c)
        };
        let first = compiled(&e);
        // the same blocks with another column, then with times (a window
        // cutting them), then spans past the last event
        assert_eq!(count(&mut e, "count(purchase where source = paid, last 6mo) >= 1", now), v);
        assert_eq!(count(&mut e, "count(purchase, last 45d) >= 1", now), v);
        assert_eq!(count(&mut e, "count(purchase, last 7d) >= 1", now + 30 * 86_400), v);
        e.clear_caches();
        count(&mut e, acme, now);
        assert_eq!(compiled(&e), first, "no block came or went: the same compiled filter");
        // older spans bring blocks: compiled again over them
        assert_eq!(count(&mut e, "count(purchase, last 2y) >= 1", now), v + 1);
        e.clear_caches();
        count(&mut e, acme, now);
        assert_ne!(compiled(&e), first, "compiled again");
        assert!(e.dict.is_none(), "the filters were compiled over the blocks read");
    }
}
