//! Event partitions (one per kind, the time-sorted columnar chunks of the
//! time spans read so far, as stored) and the scan that aggregates a kind's
//! events per contact inside a time range, through an optional filter.

use super::filter::BoundFilter;
use super::sparse::{Pair, Totals};
use super::zeroed::zeroed;
use crate::error::{Error, Result};
use crate::store::Reader;
use crate::store::codec::{Columns, EventBlock, NUM_NONE, ParamData};
use crate::store::time_parts;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Chunk {
    pub id: u64,
    /// the block's first and last instants (from the list of blocks by
    /// span, or its times): whether a window holds it whole, cuts it or
    /// misses it, with or without its times decoded
    first: i64,
    last: i64,
    pub block: EventBlock,
}

impl Chunk {
    /// A chunk of a block decoded with its times.
    pub fn whole(id: u64, block: EventBlock) -> Chunk {
        let first = *block.ts.first().unwrap_or(&i64::MAX);
        let last = *block.ts.last().unwrap_or(&i64::MIN);
        Chunk { id, first, last, block }
    }
    /// Whether the block's times were decoded (an empty block has none to).
    fn has_times(&self) -> bool {
        self.block.ts.len() == self.block.len()
    }
    /// Whether `lo..=hi` holds some of the block's events but not all.
    fn cut_by(&self, lo: i64, hi: i64) -> bool {
        cuts(self.first, self.last, lo, hi)
    }
}

/// Whether `lo..=hi` holds some of the instants `first..=last` but not all.
fn cuts(first: i64, last: i64, lo: i64, hi: i64) -> bool {
    lo <= hi && !(last < lo || first > hi) && (first < lo || last > hi)
}

/// The events of one kind read so far: the blocks of the time spans that
/// queries needed (see `store::time_parts`), by block id, each decoded
/// with the columns queries needed so far (a windowed count reads no
/// parameter, nor the times of a block its window holds whole; a block
/// changed by a write comes whole).
#[derive(Default)]
pub struct Partition {
    pub chunks: Vec<Chunk>,
    /// the spans read, as disjoint inclusive ranges in order
    spans: Vec<(u32, u32)>,
    /// the columns every chunk holds (at least)
    cols: Columns,
    /// columns the criteria of the count under way will read: given to the
    /// blocks when they are first read (or read again anyway)
    plan: Columns,
    /// changes whenever a block is added, replaced or removed: what a
    /// filter compiled over the blocks' values depends on. A block read
    /// again with more columns or with its times holds the same values
    /// in the columns it had (every column a filter reads was read before
    /// it was compiled, and columns are only added), so that keeps it.
    pub version: u64,
}

impl Partition {
    /// Reads the blocks of the spans `lo..=hi` that were not read yet, and
    /// gives every block the columns `need` names: when a query needs a
    /// column the blocks read do not hold, they are read again with it.
    ///
    /// Times are decoded for the blocks the window `from..=to` cuts (or for
    /// every block when `need` names them): the blocks it holds whole are
    /// counted without them. A block read earlier without its times that
    /// this window cuts is read again with them.
    pub fn ensure(&mut self, r: &Reader, kind: u16, (from, to): (i64, i64), need: &Columns) -> Result<()> {
        let (lo, hi) = time_parts::parts_of(from, to);
        if self.chunks.is_empty() || !self.cols.covers(need) {
            self.cols.add(need);
            self.cols.add(&std::mem::take(&mut self.plan));
            if !self.chunks.is_empty() {
                let blocks: Vec<Listed> = self.chunks.iter().map(|c| (c.id, c.first, c.last)).collect();
                self.chunks = load_blocks(r, kind, &blocks, &self.cols, (from, to))?;
            }
        }
        let cut: Vec<Listed> = self
            .chunks
            .iter()
            .filter(|c| !c.has_times() && c.cut_by(from, to))
            .map(|c| (c.id, c.first, c.last))
            .collect();
        if !cut.is_empty() {
            let cols = Columns { times: true, ..self.cols.clone() };
            for again in load_blocks(r, kind, &cut, &cols, (from, to))? {
                let at = self.chunks.partition_point(|c| c.id < again.id);
                self.chunks[at] = again;
            }
        }
        let missing = self.missing(lo, hi);
        if missing.is_empty() {
            return Ok(());
        }
        let mut blocks = Vec::new();
        for &(a, b) in &missing {
            blocks.extend(r.block_spans(kind, a, b)?.into_iter().map(|(_, id, first, last)| (id, first, last)));
        }
        let new = load_blocks(r, kind, &blocks, &self.cols, (from, to))?;
        for (a, b) in missing {
            self.mark(a, b);
        }
        if !new.is_empty() {
            // (spans without blocks, past the last event say, add none)
            self.chunks.extend(new);
            self.chunks.sort_unstable_by_key(|c| c.id);
            self.version += 1;
        }
        Ok(())
    }

    /// Notes columns a criterion about to be counted will read, so the
    /// blocks are decoded with them from the start (see `ensure`).
    pub fn plan(&mut self, need: &Columns) {
        if !self.cols.covers(need) {
            self.plan.add(need);
        }
    }

    /// Whether the blocks read hold (at least) the columns `need` names.
    pub fn covers(&self, need: &Columns) -> bool {
        self.cols.covers(need)
    }

    /// Whether the blocks of every span of `lo..=hi` were read.
    pub fn holds(&self, lo: u32, hi: u32) -> bool {
        self.missing(lo, hi).is_empty()
    }

    /// The parts of `lo..=hi` outside the spans read.
    fn missing(&self, lo: u32, hi: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut at = lo as u64;
        for &(a, b) in &self.spans {
            if at > hi as u64 {
                break;
            }
            if (b as u64) < at {
                continue;
            }
            if (a as u64) > at {
                out.push((at as u32, (a as u64 - 1).min(hi as u64) as u32));
            }
            at = b as u64 + 1;
        }
        if at <= hi as u64 {
            out.push((at as u32, hi));
        }
        out
    }

    fn mark(&mut self, lo: u32, hi: u32) {
        self.spans.push((lo, hi));
        self.spans.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.spans.len());
        for &(a, b) in &self.spans {
            match merged.last_mut() {
                Some(last) if a as u64 <= last.1 as u64 + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.spans = merged;
    }

    /// Whether the blocks of span `p` were read.
    fn holds_span(&self, p: u32) -> bool {
        self.spans.iter().any(|&(a, b)| a <= p && p <= b)
    }

    /// Adds or replaces chunks (appends and rewrites); an empty block
    /// removes its chunk. A new block of a span not read is left to be read
    /// with its span.
    pub fn put(&mut self, id: u64, block: Option<EventBlock>) {
        self.version += 1;
        let pos = self.chunks.iter().position(|c| c.id == id);
        match (pos, block) {
            (Some(i), Some(b)) => self.chunks[i] = Chunk::whole(id, b),
            (Some(i), None) => {
                self.chunks.remove(i);
            }
            (None, Some(b)) => {
                if b.ts.first().is_some_and(|&t| self.holds_span(time_parts::part_of(t))) {
                    let at = self.chunks.partition_point(|c| c.id < id);
                    self.chunks.insert(at, Chunk::whole(id, b));
                }
            }
            (None, None) => {}
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.block.len()).sum()
    }

    /// Events with lo <= ts <= hi in the chunks read; an error where the
    /// range cuts a block read without its times.
    pub fn events_between(&self, lo: i64, hi: i64) -> Result<usize> {
        events_in_range(&self.chunks, lo, hi)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f(block, from, to)` for each chunk's positions with lo <= ts <= hi.
    pub fn for_range(&self, lo: i64, hi: i64, f: impl FnMut(&EventBlock, usize, usize) -> Result<()>) -> Result<()> {
        for_range_in(&self.chunks, lo, hi, f)
    }
}

/// Whether a chunk holds events with lo <= ts <= hi (at its ends); never
/// for an empty range (`between` a later and an earlier day, `since` a
/// day after the last event).
fn overlaps(c: &Chunk, lo: i64, hi: i64) -> bool {
    lo <= hi && !(c.last < lo || c.first > hi)
}

/// `Partition::for_range` over some of its chunks.
pub(super) fn for_range_in(
    chunks: &[Chunk],
    lo: i64,
    hi: i64,
    mut f: impl FnMut(&EventBlock, usize, usize) -> Result<()>,
) -> Result<()> {
    for c in chunks {
        if !overlaps(c, lo, hi) {
            continue;
        }
        let ts = &c.block.ts;
        if c.cut_by(lo, hi) && !c.has_times() {
            // `Partition::ensure` reads the blocks a window cuts with times
            return Err(Error::runtime("an event block's times were not read"));
        }
        let a = if c.first >= lo { 0 } else { ts.partition_point(|t| *t < lo) };
        let b = if c.last <= hi { c.block.len() } else { ts.partition_point(|t| *t <= hi) };
        if a < b {
            f(&c.block, a, b)?;
        }
    }
    Ok(())
}

/// A block as the list of blocks by span gives it: its id, first and last instants.
type Listed = (u64, i64, i64);

/// Reads the given blocks of a kind: this thread reads them out of the
/// store and decodes every other one; a helper thread decodes the rest as
/// they come (at most a couple of encoded blocks are in flight, so memory
/// stays flat). Each is decoded with `cols`, and with its times when the
/// window `from..=to` cuts it.
fn load_blocks(r: &Reader, kind: u16, blocks: &[Listed], cols: &Columns, (from, to): (i64, i64)) -> Result<Vec<Chunk>> {
    let with_times = Columns { times: true, ..cols.clone() };
    let bounds: rustc_hash::FxHashMap<u64, (i64, i64)> = blocks.iter().map(|&(id, a, b)| (id, (a, b))).collect();
    let chunk = |id: u64, bytes: &[u8]| -> Result<Chunk> {
        let (first, last) = bounds.get(&id).copied().unwrap_or((i64::MIN, i64::MAX));
        let cols = if cuts(first, last, from, to) { &with_times } else { cols };
        let block = EventBlock::decode_columns(bytes, cols)?;
        Ok(if block.ts.is_empty() { Chunk { id, first, last, block } } else { Chunk::whole(id, block) })
    };
    let ids: Vec<u64> = blocks.iter().map(|b| b.0).collect();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, u64, Vec<u8>)>(2);
    let (mine, theirs) = std::thread::scope(|s| {
        let helper = s.spawn(|| -> Result<Vec<(usize, Chunk)>> {
            let mut out = Vec::new();
            for (i, id, bytes) in rx {
                out.push((i, chunk(id, &bytes)?));
            }
            Ok(out)
        });
        let mut mine = Vec::new();
        let mut i = 0usize;
        let read = r.for_each_block_bytes_in(kind, &ids, |id, bytes| {
            if i.is_multiple_of(2) {
                mine.push((i, chunk(id, bytes)?));
            } else if tx.send((i, id, bytes.to_vec())).is_err() {
                return Err(Error::runtime("block decoder stopped"));
            }
            i += 1;
            Ok(())
        });
        drop(tx);
        let theirs = helper.join().unwrap_or_else(|_| Err(Error::runtime("block decoder panicked")));
        (read.map(|_| mine), theirs)
    });
    let mut all = mine?;
    all.extend(theirs?);
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, c)| c).collect())
}

/// What to compute per contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    /// number of events
    Count,
    /// whether a contact has any event, as a bitset: all that `count(…) >=
    /// 1` or `count(…) = 0` needs, and an eighth of a byte per contact
    /// where a count takes four (the scattered updates stay in cache)
    Exists,
    /// number of events up to 255 (saturating): exact for a comparison
    /// with a whole threshold below 255, a byte per contact
    Count8,
    /// sum of a numeric parameter, with the number of events that had it
    Sum(u16),
    /// the sum alone, what `sum(…) op v` needs: half the per-contact
    /// updates of `Sum` (its `Values` have no counts)
    Total(u16),
    Min(u16),
    Max(u16),
    /// latest timestamp
    Last,
    /// earliest timestamp
    First,
}

impl Measure {
    /// The measures whose values also answer every comparison this one
    /// is chosen for, narrowest first.
    pub fn wider(self) -> Vec<Measure> {
        match self {
            Measure::Exists => vec![Measure::Count8, Measure::Count],
            Measure::Count8 => vec![Measure::Count],
            Measure::Total(p) => vec![Measure::Sum(p)],
            _ => Vec::new(),
        }
    }
}

/// Per-contact results of one aggregation (dense by contact id).
pub enum Values {
    Count(Vec<u32>),
    /// bit `id % 64` of word `id / 64`: whether contact `id` has an event
    Exists(Vec<u64>),
    /// counts saturated at 255
    Count8(Vec<u8>),
    Sum {
        sum: Vec<i128>,
        /// events summed, per contact (empty for `Measure::Total`)
        n: Vec<u32>,
    },
    /// the same when no contact's sum overflows i64 (the usual case: half the memory)
    Sum64 {
        sum: Vec<i64>,
        /// as in `Sum`
        n: Vec<u32>,
    },
    /// a sum without counts (`Measure::Total`) over few events: the
    /// totals of the contacts that had one (every other contact's is 0)
    Sparse(Totals),
    /// a value per contact where `present`
    Ext {
        v: Vec<i64>,
        present: Vec<bool>,
    },
}

impl Values {
    /// A contact's sum and count of summed events (sum measures only).
    #[inline]
    pub fn sum_at(&self, id: usize) -> (i128, u32) {
        match self {
            Values::Sum { sum, n } => (sum[id], n.get(id).copied().unwrap_or(0)),
            Values::Sum64 { sum, n } => (sum[id] as i128, n.get(id).copied().unwrap_or(0)),
            Values::Sparse(t) => (t.get(id), 0),
            _ => (0, 0),
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            Values::Count(v) => v.len() * 4,
            Values::Exists(w) => w.len() * 8,
            Values::Count8(v) => v.len(),
            Values::Sum { sum, n } => sum.len() * 16 + n.len() * 4,
            Values::Sum64 { sum, n } => sum.len() * 8 + n.len() * 4,
            Values::Sparse(t) => t.bytes(),
            Values::Ext { v, .. } => v.len() * 9,
        }
    }
}

pub fn cancelled(c: &AtomicBool) -> Result<()> {
    if c.load(Ordering::Relaxed) { Err(Error::runtime("cancelled")) } else { Ok(()) }
}

/// Events an aggregate reads above which two threads share the work (and
/// at least a quarter as many as there are contacts: merging the two
/// results is a pass over every contact, in order, where the scan updates
/// one contact per event at a random place).
const SPLIT_EVENTS: usize = 1 << 18;

/// Aggregates the events of `part` with lo <= ts <= hi that pass `filter`.
pub fn aggregate(
    part: &Partition,
    n: usize,
    measure: Measure,
    lo: i64,
    hi: i64,
    filter: Option<&BoundFilter>,
    cancel: &AtomicBool,
) -> Result<Values> {
    let job = Job { n, measure, lo, hi, filter, cancel };
    aggregate_split(&part.chunks, job, SPLIT_EVENTS.max(n / 4))
}

/// One aggregate: `measure` per contact below `n`, of the events with lo
/// <= ts <= hi that pass `filter`.
#[derive(Clone, Copy)]
struct Job<'a> {
    n: usize,
    measure: Measure,
    lo: i64,
    hi: i64,
    filter: Option<&'a BoundFilter>,
    cancel: &'a AtomicBool,
}

/// `aggregate` over `chunks`: when they hold `split` events or more in the
/// range, a helper thread aggregates the later half of them (by events)
/// while this one does the first, and the two results are merged.
fn aggregate_split(chunks: &[Chunk], job: Job, split: usize) -> Result<Values> {
    let (lo, hi) = (job.lo, job.hi);
    let in_range = |c: &Chunk| if overlaps(c, lo, hi) { c.block.len() } else { 0 };
    let events: usize = chunks.iter().map(in_range).sum();
    if events < split || chunks.len() < 2 {
        return aggregate_in(chunks, job);
    }
    let mut seen = 0;
    let at = chunks
        .iter()
        .position(|c| {
            seen += in_range(c);
            seen * 2 >= events
        })
        .map_or(chunks.len(), |i| i + 1)
        .min(chunks.len() - 1);
    let (first, second) = chunks.split_at(at);
    if let (Measure::Sum(p) | Measure::Total(p), Some(_)) = (job.measure, job.filter)
        && let Some(v) = filtered_sums_split(chunks, at, job, p)?
    {
        return Ok(v);
    }
    let (a, b) = std::thread::scope(|s| {
        let helper = s.spawn(|| aggregate_in(second, job));
        let a = aggregate_in(first, job);
        (a, helper.join().unwrap_or_else(|_| Err(Error::runtime("aggregate helper panicked"))))
    });
    Ok(merge(a?, b?, job.measure))
}

/// One result from two over disjoint sets of events.
fn merge(a: Values, b: Values, measure: Measure) -> Values {
    match (a, b) {
        (Values::Count(mut x), Values::Count(y)) => {
            in_halves(&mut x, &y, |x, y| {
                for (x, y) in x.iter_mut().zip(y) {
                    *x += y;
                }
                false
            });
            Values::Count(x)
        }
        (Values::Exists(mut x), Values::Exists(y)) => {
            for (x, y) in x.iter_mut().zip(y) {
                *x |= y;
            }
            Values::Exists(x)
        }
        (Values::Count8(mut x), Values::Count8(y)) => {
            in_halves(&mut x, &y, |x, y| {
                for (x, y) in x.iter_mut().zip(y) {
                    *x = x.saturating_add(*y);
                }
                false
            });
            Values::Count8(x)
        }
        (Values::Sum64 { sum: mut s, n: mut k }, Values::Sum64 { sum: t, n: m }) => {
            let overflow = in_halves(&mut s, &t, |s, t| {
                let mut overflow = false;
                for (s, t) in s.iter_mut().zip(t) {
                    let (v, o) = s.overflowing_add(*t);
                    *s = v;
                    overflow |= o;
                }
                overflow
            });
            in_halves(&mut k, &m, |k, m| {
                for (k, m) in k.iter_mut().zip(m) {
                    *k += m;
                }
                false
            });
            if !overflow {
                return Values::Sum64 { sum: s, n: k };
            }
            // some contact's total left i64: add wide (subtracting t
            // undoes the wrapping add exactly)
            let sum = s.iter().zip(&t).map(|(s, t)| s.wrapping_sub(*t) as i128 + *t as i128).collect();
            Values::Sum { sum, n: k }
        }
        (Values::Sparse(a), Values::Sparse(b)) => Values::Sparse(a.merge(b)),
        (a, b) if matches!(a, Values::Sum { .. } | Values::Sum64 { .. } | Values::Sparse(_)) => {
            // one half few events, the other many: both dense (as long as
            // the half that stayed dense)
            let n = dense_len(&a).max(dense_len(&b));
            let (sa, ka) = wide(a, n);
            let (sb, kb) = wide(b, n);
            let k = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
            let sum = sa.iter().zip(&sb).map(|(x, y)| x + y).collect();
            let counts = if ka.is_empty() && kb.is_empty() {
                Vec::new()
            } else {
                (0..n).map(|i| k(&ka, i) + k(&kb, i)).collect()
            };
            Values::Sum { sum, n: counts }
        }
        (Values::Ext { v: mut x, present: mut p }, Values::Ext { v: y, present: q }) => {
            let min = matches!(measure, Measure::Min(_) | Measure::First);
            for i in 0..x.len() {
                x[i] = if q[i] { extreme(p[i], x[i], y[i], min) } else { x[i] };
                p[i] |= q[i];
            }
            Values::Ext { v: x, present: p }
        }
        // one measure gives both halves one shape: not reached
        (a, _) => a,
    }
}

/// Values per contact above which a merge runs on two threads: it is a
/// pass over every contact's entry of both results (at 10M contacts, two
/// arrays of 80 MB read and one written).
const SPLIT_MERGE: usize = 1 << 20;

/// `f(x, y)` over `x` and `y` (the same length), in two halves on two
/// threads when they are long; true when either call returned true.
fn in_halves<T: Send, U: Sync>(x: &mut [T], y: &[U], f: impl Fn(&mut [T], &[U]) -> bool + Sync) -> bool {
    if x.len() < SPLIT_MERGE || y.len() != x.len() {
        return f(x, y);
    }
    let at = x.len() / 2;
    let (x1, x2) = x.split_at_mut(at);
    let (y1, y2) = y.split_at(at);
    let (other, mine) = crate::parallel::both(|| f(x2, y2), || f(x1, y1));
    mine | other
}

/// Contacts a dense sum covers (0 for sparse totals).
fn dense_len(v: &Values) -> usize {
    match v {
        Values::Sum { sum, .. } => sum.len(),
        Values::Sum64 { sum, .. } => sum.len(),
        _ => 0,
    }
}

/// A sum's per-contact totals and counts, as i128 (`n` contacts for
/// sparse totals, which have no counts).
fn wide(v: Values, n: usize) -> (Vec<i128>, Vec<u32>) {
    match v {
        Values::Sum { sum, n } => (sum, n),
        Values::Sum64 { sum, n } => (sum.into_iter().map(i128::from).collect(), n),
        Values::Sparse(t) => (t.dense(n), Vec::new()),
        _ => (vec![], vec![]),
    }
}

/// `aggregate` over `chunks` (in tests: not a whole partition).
#[cfg(test)]
pub(super) fn aggregate_chunks(chunks: &[Chunk], n: usize, measure: Measure, lo: i64, hi: i64) -> Result<Values> {
    let never = AtomicBool::new(false);
    aggregate_in(chunks, Job { n, measure, lo, hi, filter: None, cancel: &never })
}

/// `aggregate` over some chunks, on this thread.
fn aggregate_in(chunks: &[Chunk], job: Job) -> Result<Values> {
    let Job { n, measure, lo, hi, filter, cancel } = job;
    match measure {
        Measure::Count => {
            let mut cnt = zeroed::<u32>(n);
            for_range_in(chunks, lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let cs = &b.contact[from..to];
                if filter.is_none() {
                    for (j, &c) in cs.iter().enumerate() {
                        prefetch_for(&cnt, cs, j);
                        if let Some(x) = cnt.get_mut(c as usize) {
                            *x += 1;
                        }
                    }
                } else {
                    // adding the filter's verdict (0 or 1): no branch on it
                    let m = mask(filter, b, from, to);
                    for (j, (&c, &ok)) in cs.iter().zip(&m).enumerate() {
                        prefetch_for(&cnt, cs, j);
                        if let Some(x) = cnt.get_mut(c as usize) {
                            *x += ok as u32;
                        }
                    }
                }
                Ok(())
            })?;
            Ok(Values::Count(cnt))
        }
        Measure::Exists => {
            let mut w = zeroed::<u64>(n.div_ceil(64));
            for_range_in(chunks, lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let cs = &b.contact[from..to];
                if filter.is_none() {
                    for &c in cs {
                        let c = c as usize;
                        if c < n {
                            w[c >> 6] |= 1 << (c & 63);
                        }
                    }
                } else {
                    // or'ing in the filter's verdict: no branch on it
                    let m = mask(filter, b, from, to);
                    for (&c, &ok) in cs.iter().zip(&m) {
                        let c = c as usize;
                        if c < n {
                            w[c >> 6] |= (ok as u64) << (c & 63);
                        }
                    }
                }
                Ok(())
            })?;
            Ok(Values::Exists(w))
        }
        Measure::Count8 => {
            let mut cnt = zeroed::<u8>(n);
            for_range_in(chunks, lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let m = mask(filter, b, from, to);
                let cs = &b.contact[from..to];
                for (j, (&c, &ok)) in cs.iter().zip(&m).enumerate() {
                    prefetch_for(&cnt, cs, j);
                    if let Some(x) = cnt.get_mut(c as usize) {
                        *x = x.saturating_add(ok as u8);
                    }
                }
                Ok(())
            })?;
            Ok(Values::Count8(cnt))
        }
        Measure::Sum(p) => sums::<true>(chunks, job, p),
        Measure::Total(p) => sums::<false>(chunks, job, p),
        Measure::Min(p) | Measure::Max(p) => {
            let is_min = matches!(measure, Measure::Min(_));
            let mut v = zeroed::<i64>(n);
            let mut present = zeroed::<bool>(n);
            for_range_in(chunks, lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let Some(ParamData::Num(col)) = param(b, p) else { return Ok(()) };
                let m = mask(filter, b, from, to);
                for (i, &x) in col.iter().enumerate().take(to).skip(from) {
                    prefetch_for(&v, &b.contact[..to], i);
                    prefetch_for(&present, &b.contact[..to], i);
                    if x == NUM_NONE || !m[i - from] {
                        continue;
                    }
                    let c = b.contact[i] as usize;
                    if c < n {
                        v[c] = extreme(present[c], v[c], x, is_min);
                        present[c] = true;
                    }
                }
                Ok(())
            })?;
            Ok(Values::Ext { v, present })
        }
        Measure::Last | Measure::First => {
            let last = measure == Measure::Last;
            let mut v = zeroed::<i64>(n);
            let mut present = zeroed::<bool>(n);
            for_range_in(chunks, lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let m = mask(filter, b, from, to);
                for i in from..to {
                    prefetch_for(&v, &b.contact[..to], i);
                    prefetch_for(&present, &b.contact[..to], i);
                    if !m[i - from] {
                        continue;
                    }
                    let c = b.contact[i] as usize;
                    if c < n {
                        v[c] = extreme(present[c], v[c], b.ts[i], !last);
                        present[c] = true;
                    }
                }
                Ok(())
            })?;
            Ok(Values::Ext { v, present })
        }
    }
}

/// Per-contact sums of parameter `p` (`Measure::Sum`, or without the
/// counts of summed events for `Measure::Total`).
fn sums<const COUNTS: bool>(chunks: &[Chunk], job: Job, p: u16) -> Result<Values> {
    let Job { n, lo, hi, filter, .. } = job;
    // a sum without counts lists its (contact, amount) pairs while they
    // stay few next to the contacts (a selective filter, a short window),
    // and sorts them at the end (`sparse`); past that it goes on dense
    let sparse = !COUNTS && (filter.is_some() || events_in_range(chunks, lo, hi)? <= n / SPARSE_SHARE);
    sums_from::<COUNTS>(chunks, job, p, sparse)
}

/// `sums`, starting with a list of pairs when `sparse`.
fn sums_from<const COUNTS: bool>(chunks: &[Chunk], job: Job, p: u16, mut sparse: bool) -> Result<Values> {
    let Job { n, lo, hi, filter, cancel, .. } = job;
    let cap = n / SPARSE_SHARE;
    // room for the most pairs kept, and a block past them, so the list is
    // not copied as it grows (pages untouched cost nothing)
    let mut pairs: Vec<Pair> = Vec::with_capacity(if sparse { cap + 1 + (1 << 16) } else { 0 });
    // i64 sums (contacts' totals up to 9.2 million in units of 10^-6)
    // halve the memory traffic; an overflow anywhere redoes it in i128
    let mut sum = if sparse { Vec::new() } else { zeroed::<i64>(n) };
    let mut k = if COUNTS { zeroed::<u32>(n) } else { Vec::new() };
    let mut overflow = false;
    // a dense block's summed events, reused from block to block
    let mut kept: Vec<Pair> = Vec::new();
    for_range_in(chunks, lo, hi, |b, from, to| {
        cancelled(cancel)?;
        let Some(ParamData::Num(col)) = param(b, p) else { return Ok(()) };
        let cs = &b.contact[from..to];
        if sparse {
            let m = mask(filter, b, from, to);
            push_pairs(&mut pairs, &col[from..to], cs, &m, n);
            if pairs.len() > cap {
                // too many for a sort to pay: the pairs so far go dense
                sparse = false;
                sum = zeroed::<i64>(n);
                overflow |= add_pairs::<false>(&mut sum, &mut [], 0, &std::mem::take(&mut pairs));
            }
            return Ok(());
        }
        if filter.is_some() {
            // the events the filter keeps first listed (no branch on its
            // verdict), then added: only their entries are prefetched,
            // where prefetching every event's entry also fetched those of
            // the events it drops
            kept.clear();
            push_pairs(&mut kept, &col[from..to], cs, &mask(filter, b, from, to), n);
            overflow |= add_pairs::<COUNTS>(&mut sum, &mut k, 0, &kept);
            return Ok(());
        }
        for (j, (&v, &c)) in col[from..to].iter().zip(cs).enumerate() {
            prefetch_for(&sum, cs, j);
            let c = c as usize;
            if v == NUM_NONE || c >= n {
                continue;
            }
            let (s2, o) = sum[c].overflowing_add(v);
            sum[c] = s2;
            overflow |= o;
            if COUNTS {
                k[c] += 1;
            }
        }
        Ok(())
    })?;
    if sparse {
        return Ok(Values::Sparse(Totals::from_pairs(pairs, n)));
    }
    if !overflow {
        return Ok(Values::Sum64 { sum, n: k });
    }
    let mut sum = zeroed::<i128>(n);
    for_range_in(chunks, lo, hi, |b, from, to| {
        let Some(ParamData::Num(col)) = param(b, p) else { return Ok(()) };
        let m = mask(filter, b, from, to);
        for ((&v, &c), &ok) in col[from..to].iter().zip(&b.contact[from..to]).zip(&m) {
            if v != NUM_NONE && ok && (c as usize) < n {
                sum[c as usize] += v as i128;
            }
        }
        Ok(())
    })?;
    Ok(Values::Sum { sum, n: k })
}

/// A sum through a filter on two threads: each lists the (contact,
/// amount) pairs its half of the events keeps, then each adds the pairs
/// of both lists whose contact is in its half of the contacts into its
/// half of one array. Against two whole arrays added up afterwards (what
/// a sum without a filter does), half the memory is zeroed and there is
/// no pass to merge them, for a second read of the pairs, which a filter
/// keeps few of. A sum without counts over few pairs stays a list (see
/// `SPARSE_SHARE`). None when a half's filter keeps more than `n / 2`
/// pairs: the lists would then take more memory than the two arrays of
/// the split by events, which the caller goes on with.
fn filtered_sums_split(chunks: &[Chunk], split: usize, job: Job, p: u16) -> Result<Option<Values>> {
    let Job { n, measure, lo, hi, filter, cancel } = job;
    let (first, second) = chunks.split_at(split);
    let list = |chunks: &[Chunk]| -> Result<Option<Vec<Pair>>> {
        let mut pairs = Vec::new();
        let mut kept_few = true;
        for_range_in(chunks, lo, hi, |b, from, to| {
            cancelled(cancel)?;
            let Some(ParamData::Num(col)) = param(b, p) else { return Ok(()) };
            if kept_few {
                let m = mask(filter, b, from, to);
                push_pairs(&mut pairs, &col[from..to], &b.contact[from..to], &m, n);
                kept_few = pairs.len() <= n / 2;
            }
            Ok(())
        })?;
        Ok(kept_few.then_some(pairs))
    };
    let (b, a) = crate::parallel::both(|| list(second), || list(first));
    let (Some(mut a), Some(b)) = (a?, b?) else { return Ok(None) };
    let counts = matches!(measure, Measure::Sum(_));
    if !counts && a.len() + b.len() <= n / SPARSE_SHARE {
        a.extend(b);
        return Ok(Some(Values::Sparse(Totals::from_pairs(a, n))));
    }
    let at = n / 2;
    let mut sum = zeroed_by_halves::<i64>(n, at);
    let mut k = if counts { zeroed_by_halves::<u32>(n, at) } else { Vec::new() };
    let k_at = at.min(k.len());
    let (s1, s2) = sum.split_at_mut(at);
    let (k1, k2) = k.split_at_mut(k_at);
    let add = |base: usize, sum: &mut [i64], k: &mut [u32]| {
        let add = |pairs: &[Pair], sum: &mut [i64], k: &mut [u32]| {
            if counts { add_pairs::<true>(sum, k, base, pairs) } else { add_pairs::<false>(sum, k, base, pairs) }
        };
        add(&a, sum, k) | add(&b, sum, k)
    };
    let (second, first) = crate::parallel::both(|| add(at, s2, k2), || add(0, s1, k1));
    if !(first | second) {
        return Ok(Some(Values::Sum64 { sum, n: k }));
    }
    // some contact's total left i64: the one-thread sum adds wide
    aggregate_in(chunks, job).map(Some)
}

/// `n` zeros, the first `at` written by this thread and the rest by a
/// helper at once (each half's pages faulted in by the thread that will
/// use them).
fn zeroed_by_halves<T: Copy + Default + Send + Sync>(n: usize, at: usize) -> Vec<T> {
    filled_by_halves(n, at, None)
}

/// `from[..n]` copied (zeros when None), in halves as `zeroed_by_halves`.
pub(super) fn filled_by_halves<T: Copy + Default + Send + Sync>(n: usize, at: usize, from: Option<&[T]>) -> Vec<T> {
    use std::mem::MaybeUninit;
    let mut v: Vec<T> = Vec::with_capacity(n);
    let (a, b) = v.spare_capacity_mut()[..n].split_at_mut(at);
    let fill = |s: &mut [MaybeUninit<T>], start: usize| match from {
        None => s.fill(MaybeUninit::new(T::default())),
        Some(f) => {
            let len = s.len();
            for (o, &x) in s.iter_mut().zip(&f[start..start + len]) {
                *o = MaybeUninit::new(x);
            }
        }
    };
    crate::parallel::both(|| fill(b, at), || fill(a, 0));
    // SAFETY: all `n` slots were written just above (a copy from a
    // slice shorter than `n` panics first, at its indexing).
    unsafe { v.set_len(n) };
    v
}

/// Adds the amount of each pair whose contact is in `base .. base +
/// sum.len()` into `sum[contact - base]` (and counts it in `k` when
/// COUNTS), prefetching the entries of the pair `AHEAD` on; true when a
/// total wrapped past i64. Split by contacts, about half the pairs of a
/// list fall outside a thread's half, at random: rather than branch on
/// it, such a pair adds 0 to the first entry.
fn add_pairs<const COUNTS: bool>(sum: &mut [i64], k: &mut [u32], base: usize, pairs: &[Pair]) -> bool {
    let len = sum.len();
    if len == 0 {
        return false;
    }
    let mut overflow = false;
    for (j, p) in pairs.iter().enumerate() {
        if let Some(q) = pairs.get(j + AHEAD) {
            let i = (q.contact as usize).wrapping_sub(base);
            prefetch(sum, i);
            if COUNTS {
                prefetch(k, i);
            }
        }
        let i = (p.contact as usize).wrapping_sub(base);
        let inside = i < len;
        let at = if inside { i } else { 0 };
        let (s2, o) = sum[at].overflowing_add(if inside { p.amount } else { 0 });
        sum[at] = s2;
        overflow |= o;
        if COUNTS {
            k[at] += inside as u32;
        }
    }
    overflow
}

/// A sum without counts stays a list of pairs while it holds at most one
/// per this many contacts: sorting them then costs less than zeroing,
/// updating at random places, merging and comparing a dense array. (At
/// one per 4, the benchmark's 6-month Acme sum, over 16% of the
/// contacts, stayed sparse and was slower at 10M contacts: 48 against
/// 34 ms, BENCHMARKS.md "What a console holds".)
const SPARSE_SHARE: usize = 32;

/// Events of `chunks` with lo <= ts <= hi; an error for a block the
/// range cuts that was read without its times.
fn events_in_range(chunks: &[Chunk], lo: i64, hi: i64) -> Result<usize> {
    let mut k = 0;
    for_range_in(chunks, lo, hi, |_, from, to| {
        k += to - from;
        Ok(())
    })?;
    Ok(k)
}

/// Appends the (contact, amount) of each event that passes `mask`, has
/// an amount and a contact below `n`: every event is written and the
/// length moves only for those kept, so there is no branch on the filter's
/// verdict.
fn push_pairs(pairs: &mut Vec<Pair>, amounts: &[i64], contacts: &[u32], mask: &[bool], n: usize) {
    pairs.reserve(amounts.len());
    let start = pairs.len();
    let spare = &mut pairs.spare_capacity_mut()[..amounts.len()];
    let mut kept = 0;
    for ((&amount, &contact), &ok) in amounts.iter().zip(contacts).zip(mask) {
        spare[kept].write(Pair { contact, amount });
        kept += (ok & (amount != NUM_NONE) & ((contact as usize) < n)) as usize;
    }
    // SAFETY: every slot below `kept` was written (slot i when kept was i,
    // and kept only grows by one after a write)
    unsafe { pairs.set_len(start + kept) };
}

/// Events ahead whose contact's entry is prefetched: the per-contact
/// arrays are updated at random places (events come in time order), each
/// a cache miss the loop would otherwise wait for.
pub(super) const AHEAD: usize = 48;

/// Hints the CPU to load the entry of `v` that the event `AHEAD` places
/// after event `j` of `contacts` will update.
#[inline(always)]
fn prefetch_for<T>(v: &[T], contacts: &[u32], j: usize) {
    if let Some(&c) = contacts.get(j + AHEAD) {
        prefetch(v, c as usize);
    }
}

/// Hints the CPU to load `v[i]` (when i is inside `v`).
#[inline(always)]
pub(super) fn prefetch<T>(v: &[T], i: usize) {
    if i < v.len() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint; the address is inside `v`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(v.as_ptr().add(i).cast());
        }
    }
}

/// A contact's new minimum (or maximum) after value `x`, given whether it
/// had one (`cur`): computed without branches, as the events come in no
/// order the branch predictor could learn.
#[inline(always)]
fn extreme(had: bool, cur: i64, x: i64, min: bool) -> i64 {
    let better = if min { cur.min(x) } else { cur.max(x) };
    if had { better } else { x }
}

/// The filter's result over `from..to` (all true without a filter).
fn mask(filter: Option<&BoundFilter>, b: &EventBlock, from: usize, to: usize) -> Vec<bool> {
    match filter {
        None => vec![true; to - from],
        Some(f) => f.bind(b).mask(b, from, to),
    }
}

pub fn param(b: &EventBlock, p: u16) -> Option<&ParamData> {
    b.params.iter().find(|(id, _)| *id == p).map(|(_, d)| d)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::codec::ParamVal;

    /// Three blocks of events over 50 contacts, amounts in parameter 0
    /// (some missing; `big` puts totals past i64 for a few contacts).
    pub(in crate::segment::engine) fn chunks(big: bool) -> Vec<Chunk> {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        (0..3u64)
            .map(|id| {
                let mut b = EventBlock::new(0);
                for i in 0..400 {
                    let c = (next() % 50) as u32;
                    let ts = id as i64 * 10_000 + i * 10;
                    let amount = match next() % 10 {
                        0 => None,
                        _ if big && c < 3 => Some(i64::MAX / 4),
                        r => Some(r as i64 * 1_000 - 3_000),
                    };
                    let params: Vec<(u16, ParamVal)> = amount.map(|a| (0, ParamVal::Num(a))).into_iter().collect();
                    b.push(c, ts, 0, [0; 3], &params);
                }
                Chunk::whole(id, b)
            })
            .collect()
    }

    fn same(a: &Values, b: &Values) -> bool {
        match (a, b) {
            (Values::Count(x), Values::Count(y)) => x == y,
            (Values::Exists(x), Values::Exists(y)) => x == y,
            (Values::Count8(x), Values::Count8(y)) => x == y,
            (Values::Ext { v: x, present: p }, Values::Ext { v: y, present: q }) => {
                p == q && x.iter().zip(y).zip(p).all(|((x, y), p)| !p || x == y)
            }
            _ => {
                let n = 60;
                (0..n).all(|i| a.sum_at(i) == b.sum_at(i))
                    && matches!(a, Values::Sum { .. } | Values::Sum64 { .. } | Values::Sparse(_))
                    && matches!(b, Values::Sum { .. } | Values::Sum64 { .. } | Values::Sparse(_))
            }
        }
    }

    /// `Exists` is whether the count is above 0 and `Count8` the count
    /// saturated at 255, whole or split, with a contact past 255 events.
    #[test]
    fn narrow_counts_agree_with_counts() {
        let never = AtomicBool::new(false);
        let mut cs = chunks(false);
        let mut b = EventBlock::new(0);
        for i in 0..300 {
            b.push(5, 40_000 + i, 0, [0; 3], &[]);
        }
        cs.push(Chunk::whole(3, b));
        for (lo, hi) in [(i64::MIN + 1, i64::MAX), (5_000, 25_000), (10_000, 10_000), (40_000, 40_100)] {
            for split in [usize::MAX, 1] {
                let run = |measure| {
                    let job = Job { n: 60, measure, lo, hi, filter: None, cancel: &never };
                    aggregate_split(&cs, job, split).unwrap()
                };
                let (Values::Count(c), Values::Exists(e), Values::Count8(c8)) =
                    (run(Measure::Count), run(Measure::Exists), run(Measure::Count8))
                else {
                    panic!("measures gave other shapes");
                };
                for id in 0..60 {
                    assert_eq!((e[id / 64] >> (id % 64)) & 1 == 1, c[id] > 0, "exists of {id} over {lo}..={hi}");
                    assert_eq!(c8[id] as u32, c[id].min(255), "count8 of {id} over {lo}..={hi}");
                }
                if lo == i64::MIN + 1 {
                    assert!(c[5] > 255, "a count past 255 is checked");
                }
            }
        }
    }

    /// Time ranges over `chunks`: all of it, cutting blocks, one instant,
    /// and past the last event.
    const WINDOWS: [(i64, i64); 4] = [(i64::MIN + 1, i64::MAX), (5_000, 25_000), (10_000, 10_000), (40_000, 50_000)];

    /// Splitting an aggregate between two threads gives what one thread
    /// gives, for every measure, windows cutting blocks, and sums that
    /// leave i64.
    #[test]
    fn split_aggregates_equal_whole_ones() {
        let never = AtomicBool::new(false);
        for big in [false, true] {
            let cs = chunks(big);
            for (lo, hi) in WINDOWS {
                for m in [
                    Measure::Count,
                    Measure::Exists,
                    Measure::Count8,
                    Measure::Sum(0),
                    Measure::Total(0),
                    Measure::Min(0),
                    Measure::Max(0),
                    Measure::Last,
                    Measure::First,
                ] {
                    let job = Job { n: 60, measure: m, lo, hi, filter: None, cancel: &never };
                    let whole = aggregate_split(&cs, job, usize::MAX).unwrap();
                    let split = aggregate_split(&cs, job, 1).unwrap();
                    assert!(same(&whole, &split), "{m:?} over {lo}..={hi}, big {big}");
                }
            }
            // the split really happened past i64: the wide sums agree
            if big {
                let all = Job {
                    n: 60,
                    measure: Measure::Sum(0),
                    lo: i64::MIN + 1,
                    hi: i64::MAX,
                    filter: None,
                    cancel: &never,
                };
                let v = aggregate_split(&cs, all, 1).unwrap();
                assert!(matches!(v, Values::Sum { .. }), "totals past i64 come wide");
            }
        }
    }

    /// A numeric filter on the amount itself (`amount > min`), compiled
    /// as the engine compiles one (no dictionary needed).
    fn amount_filter(min: i64) -> BoundFilter {
        use crate::model::{KindDef, ParamDef, ParamType};
        use crate::segment::ast::{BoolExpr, Predicate};
        struct NoDict;
        impl crate::segment::engine::filter::Dict for NoDict {
            fn matching(
                &self,
                _: crate::segment::engine::filter::Target,
                _: &mut dyn FnMut(&str) -> bool,
            ) -> Result<Vec<u32>> {
                Ok(Vec::new())
            }
        }
        let e = crate::segment::parse(&format!("sum(purchase.amount where amount > {min}) > 0")).unwrap();
        let BoolExpr::Pred(Predicate::Agg(a)) = e else { panic!("one aggregate") };
        let kind = KindDef {
            name: "purchase".into(),
            params: vec![ParamDef { name: "amount".into(), ty: ParamType::Number }],
        };
        BoundFilter::compile(a.filter.as_deref().expect("a filter"), &kind, &NoDict).unwrap()
    }

    /// Through a filter, split sums (each half's pairs listed, then added
    /// by halves of the contacts) equal the one-thread sums, dense or
    /// sparse, with and without counts, past i64 too; at n = 60 a half
    /// keeps more than n / 2 pairs, and the sum is split by events.
    #[test]
    fn filtered_split_sums_equal_whole_ones() {
        let never = AtomicBool::new(false);
        for big in [false, true] {
            let cs = chunks(big);
            // amounts run from -2 to 6 (in units of 10^-6 a thousand
            // apart): a filter passing most and one passing few
            for min in [-3_000, 4_500] {
                let f = amount_filter(min);
                for (lo, hi) in WINDOWS {
                    for n in [60, 2_000, 100_000] {
                        for m in [Measure::Sum(0), Measure::Total(0)] {
                            let job = Job { n, measure: m, lo, hi, filter: Some(&f), cancel: &never };
                            let whole = aggregate_split(&cs, job, usize::MAX).unwrap();
                            let split = aggregate_split(&cs, job, 1).unwrap();
                            for id in 0..60 {
                                let (w, s) = (whole.sum_at(id), split.sum_at(id));
                                assert_eq!(w.0, s.0, "{m:?} of {id}, n {n}, over {min} in {lo}..={hi}");
                                if m == Measure::Sum(0) {
                                    assert_eq!(w.1, s.1, "count of {id}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A sum without counts gives the totals of a sum with counts whether
    /// it stays sparse (many contacts), goes dense part way (its pairs
    /// pass a 32nd of the contacts in the first block) or is dense
    /// from the start, whole or split, past i64 too, with and without
    /// events of the range.
    #[test]
    fn sparse_totals_equal_dense_sums() {
        let never = AtomicBool::new(false);
        for big in [false, true] {
            let cs = chunks(big);
            for (lo, hi) in WINDOWS {
                for n in [60, 2_000, 100_000] {
                    let run = |measure, split| {
                        let job = Job { n, measure, lo, hi, filter: None, cancel: &never };
                        aggregate_split(&cs, job, split).unwrap()
                    };
                    let want = run(Measure::Sum(0), usize::MAX);
                    for split in [usize::MAX, 1] {
                        let got = run(Measure::Total(0), split);
                        if n == 100_000 {
                            assert!(matches!(got, Values::Sparse(_)), "few events stay sparse");
                        }
                        for id in 0..n.min(60) {
                            assert_eq!(got.sum_at(id).0, want.sum_at(id).0, "{id} at n = {n} over {lo}..={hi}");
                        }
                    }
                    // started sparse whatever the events (as with a
                    // filter): dense part way at n = 2,000 over them all
                    let job = Job { n, measure: Measure::Total(0), lo, hi, filter: None, cancel: &never };
                    let got = sums_from::<false>(&cs, job, 0, true).unwrap();
                    if n == 2_000 && lo == i64::MIN + 1 {
                        assert!(!matches!(got, Values::Sparse(_)), "the pairs went dense");
                    }
                    for id in 0..n.min(60) {
                        assert_eq!(got.sum_at(id).0, want.sum_at(id).0, "{id} at n = {n}, from sparse");
                    }
                }
            }
        }
    }

    /// Two halves whose totals fit i64 but whose sum does not merge wide
    /// and exact.
    #[test]
    fn long_merges_run_in_halves_and_see_an_overflow_in_either() {
        let n = SPLIT_MERGE + 3;
        let sums = |f: fn(i64) -> i64| (0..n as i64).map(f).collect::<Vec<i64>>();
        let plain = merge(
            Values::Sum64 { sum: sums(|i| i), n: vec![1; n] },
            Values::Sum64 { sum: sums(|i| 2 * i), n: vec![2; n] },
            Measure::Sum(0),
        );
        assert!((0..n).all(|i| plain.sum_at(i) == (3 * i as i128, 3)));
        assert!(matches!(plain, Values::Sum64 { .. }));
        // an overflow in the first half, then in the second
        for at in [5, n - 2] {
            let mut big = sums(|i| 2 * i);
            big[at] = i64::MAX;
            let v = merge(
                Values::Sum64 { sum: sums(|i| i), n: vec![1; n] },
                Values::Sum64 { sum: big, n: vec![2; n] },
                Measure::Sum(0),
            );
            assert!(matches!(v, Values::Sum { .. }), "an overflow at {at} makes the sums wide");
            assert_eq!(v.sum_at(at), (at as i128 + i64::MAX as i128, 3));
            assert_eq!(v.sum_at(n - 1), (3 * (n - 1) as i128, 3));
        }
        let counts = merge(Values::Count(vec![1; n]), Values::Count(vec![2; n]), Measure::Count);
        assert!(matches!(&counts, Values::Count(c) if c.iter().all(|&x| x == 3)));
    }

    #[test]
    fn merged_sums_past_i64_are_exact() {
        let half = i64::MAX / 2 + 1;
        let a = Values::Sum64 { sum: vec![half, -5], n: vec![1, 1] };
        let b = Values::Sum64 { sum: vec![half, 7], n: vec![2, 1] };
        let v = merge(a, b, Measure::Sum(0));
        assert!(matches!(v, Values::Sum { .. }));
        assert_eq!(v.sum_at(0), (2 * half as i128, 3));
        assert_eq!(v.sum_at(1), (2, 2));
    }
}
