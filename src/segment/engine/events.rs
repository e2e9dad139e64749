//! Event partitions (one per kind, the time-sorted columnar chunks of the
//! time spans read so far, as stored) and the scan that aggregates a kind's
//! events per contact inside a time range, through an optional filter.

use super::filter::BoundFilter;
use crate::error::{Error, Result};
use crate::store::Reader;
use crate::store::codec::{Columns, EventBlock, NUM_NONE, ParamData};
use crate::store::time_parts;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Chunk {
    pub id: u64,
    pub block: EventBlock,
}

impl Chunk {
    fn min_ts(&self) -> i64 {
        *self.block.ts.first().unwrap_or(&i64::MAX)
    }
    fn max_ts(&self) -> i64 {
        *self.block.ts.last().unwrap_or(&i64::MIN)
    }
}

/// The events of one kind read so far: the blocks of the time spans that
/// queries needed (see `store::time_parts`), by block id, each decoded
/// with the columns queries needed so far (a windowed count reads no
/// parameter; a block changed by a write comes whole).
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
}

impl Partition {
    /// Reads the blocks of the spans `lo..=hi` that were not read yet, and
    /// gives every block the columns `need` names: when a query needs a
    /// column the blocks read do not hold, they are read again with it.
    pub fn ensure(&mut self, r: &Reader, kind: u16, lo: u32, hi: u32, need: &Columns) -> Result<()> {
        if self.chunks.is_empty() || !self.cols.covers(need) {
            self.cols.add(need);
            self.cols.add(&std::mem::take(&mut self.plan));
            if !self.chunks.is_empty() {
                let ids: Vec<u64> = self.chunks.iter().map(|c| c.id).collect();
                self.chunks = load_blocks(r, kind, &ids, &self.cols)?;
            }
        }
        let missing = self.missing(lo, hi);
        if missing.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::new();
        for &(a, b) in &missing {
            ids.extend(r.block_spans(kind, a, b)?.into_iter().map(|(_, id, _, _)| id));
        }
        let new = load_blocks(r, kind, &ids, &self.cols)?;
        for (a, b) in missing {
            self.mark(a, b);
        }
        self.chunks.extend(new);
        self.chunks.sort_unstable_by_key(|c| c.id);
        Ok(())
    }

    /// Notes columns a criterion about to be counted will read, so the
    /// blocks are decoded with them from the start (see `ensure`).
    pub fn plan(&mut self, need: &Columns) {
        if !self.cols.covers(need) {
            self.plan.add(need);
        }
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
        let pos = self.chunks.iter().position(|c| c.id == id);
        match (pos, block) {
            (Some(i), Some(b)) => self.chunks[i].block = b,
            (Some(i), None) => {
                self.chunks.remove(i);
            }
            (None, Some(b)) => {
                if b.ts.first().is_some_and(|&t| self.holds_span(time_parts::part_of(t))) {
                    let at = self.chunks.partition_point(|c| c.id < id);
                    self.chunks.insert(at, Chunk { id, block: b });
                }
            }
            (None, None) => {}
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.block.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f(block, from, to)` for each chunk's positions with lo <= ts <= hi.
    pub fn for_range(
        &self,
        lo: i64,
        hi: i64,
        mut f: impl FnMut(&EventBlock, usize, usize) -> Result<()>,
    ) -> Result<()> {
        for c in &self.chunks {
            if c.max_ts() < lo || c.min_ts() > hi {
                continue;
            }
            let ts = &c.block.ts;
            let a = if c.min_ts() >= lo { 0 } else { ts.partition_point(|t| *t < lo) };
            let b = if c.max_ts() <= hi { ts.len() } else { ts.partition_point(|t| *t <= hi) };
            if a < b {
                f(&c.block, a, b)?;
            }
        }
        Ok(())
    }
}

/// Reads the given blocks of a kind: this thread reads them out of the
/// store and decodes every other one; a helper thread decodes the rest as
/// they come (at most a couple of encoded blocks are in flight, so memory
/// stays flat).
fn load_blocks(r: &Reader, kind: u16, ids: &[u64], cols: &Columns) -> Result<Vec<Chunk>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, u64, Vec<u8>)>(2);
    let (mine, theirs) = std::thread::scope(|s| {
        let helper = s.spawn(move || -> Result<Vec<(usize, Chunk)>> {
            let mut out = Vec::new();
            for (i, id, bytes) in rx {
                out.push((i, Chunk { id, block: EventBlock::decode_columns(&bytes, cols)? }));
            }
            Ok(out)
        });
        let mut mine = Vec::new();
        let mut i = 0usize;
        let read = r.for_each_block_bytes_in(kind, ids, |id, bytes| {
            if i.is_multiple_of(2) {
                mine.push((i, Chunk { id, block: EventBlock::decode_columns(bytes, cols)? }));
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
    /// sum of a numeric parameter, with the number of events that had it
    Sum(u16),
    Min(u16),
    Max(u16),
    /// latest timestamp
    Last,
    /// earliest timestamp
    First,
}

/// Per-contact results of one aggregation (dense by contact id).
pub enum Values {
    Count(Vec<u32>),
    Sum {
        sum: Vec<i128>,
        n: Vec<u32>,
    },
    /// the same when no contact's sum overflows i64 (the usual case: half the memory)
    Sum64 {
        sum: Vec<i64>,
        n: Vec<u32>,
    },
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
            Values::Sum { sum, n } => (sum[id], n[id]),
            Values::Sum64 { sum, n } => (sum[id] as i128, n[id]),
            _ => (0, 0),
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            Values::Count(v) => v.len() * 4,
            Values::Sum { sum, .. } => sum.len() * 20,
            Values::Sum64 { sum, .. } => sum.len() * 12,
            Values::Ext { v, .. } => v.len() * 9,
        }
    }
}

pub fn cancelled(c: &AtomicBool) -> Result<()> {
    if c.load(Ordering::Relaxed) { Err(Error::runtime("cancelled")) } else { Ok(()) }
}

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
    match measure {
        Measure::Count => {
            let mut cnt = vec![0u32; n];
            part.for_range(lo, hi, |b, from, to| {
                cancelled(cancel)?;
                if filter.is_none() {
                    for &c in &b.contact[from..to] {
                        if let Some(x) = cnt.get_mut(c as usize) {
                            *x += 1;
                        }
                    }
                } else {
                    // adding the filter's verdict (0 or 1): no branch on it
                    let m = mask(filter, b, from, to);
                    for (&c, &ok) in b.contact[from..to].iter().zip(&m) {
                        if let Some(x) = cnt.get_mut(c as usize) {
                            *x += ok as u32;
                        }
                    }
                }
                Ok(())
            })?;
            Ok(Values::Count(cnt))
        }
        Measure::Sum(p) => {
            // i64 sums (contacts' totals up to 9.2 million in units of 10^-6)
            // halve the memory traffic; an overflow anywhere redoes it in i128
            let mut sum = vec![0i64; n];
            let mut k = vec![0u32; n];
            let mut overflow = false;
            part.for_range(lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let Some(ParamData::Num(col)) = param(b, p) else { return Ok(()) };
                let m = mask(filter, b, from, to);
                for ((&v, &c), &ok) in col[from..to].iter().zip(&b.contact[from..to]).zip(&m) {
                    let c = c as usize;
                    if v == NUM_NONE || !ok || c >= n {
                        continue;
                    }
                    let (s2, o) = sum[c].overflowing_add(v);
                    sum[c] = s2;
                    overflow |= o;
                    k[c] += 1;
                }
                Ok(())
            })?;
            if !overflow {
                return Ok(Values::Sum64 { sum, n: k });
            }
            let mut sum = vec![0i128; n];
            part.for_range(lo, hi, |b, from, to| {
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
        Measure::Min(p) | Measure::Max(p) => {
            let is_min = matches!(measure, Measure::Min(_));
            let mut v = vec![0i64; n];
            let mut present = vec![false; n];
            part.for_range(lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let Some(ParamData::Num(col)) = param(b, p) else { return Ok(()) };
                let m = mask(filter, b, from, to);
                for (i, &x) in col.iter().enumerate().take(to).skip(from) {
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
            let mut v = vec![0i64; n];
            let mut present = vec![false; n];
            part.for_range(lo, hi, |b, from, to| {
                cancelled(cancel)?;
                let m = mask(filter, b, from, to);
                for i in from..to {
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
