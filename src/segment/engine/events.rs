//! Event partitions (one per kind, a list of time-sorted columnar chunks as
//! stored) and the scan that aggregates a kind's events per contact inside
//! a time range, through an optional filter.

use super::filter::BoundFilter;
use crate::error::{Error, Result};
use crate::store::Reader;
use crate::store::codec::{EventBlock, NUM_NONE, ParamData};
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

#[derive(Default)]
pub struct Partition {
    pub chunks: Vec<Chunk>,
}

impl Partition {
    /// Loads a kind's blocks: this thread reads them out of the store and
    /// decodes every other one; a helper thread decodes the rest as they come
    /// (at most a couple of encoded blocks are in flight, so memory stays flat).
    pub fn load(r: &Reader, kind: u16) -> Result<Partition> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, u64, Vec<u8>)>(2);
        let (mine, theirs) = std::thread::scope(|s| {
            let helper = s.spawn(move || -> Result<Vec<(usize, Chunk)>> {
                let mut out = Vec::new();
                for (i, id, bytes) in rx {
                    out.push((i, Chunk { id, block: EventBlock::decode(&bytes)? }));
                }
                Ok(out)
            });
            let mut mine = Vec::new();
            let mut i = 0usize;
            let read = r.for_each_block_bytes_of(kind, |id, bytes| {
                if i.is_multiple_of(2) {
                    mine.push((i, Chunk { id, block: EventBlock::decode(bytes)? }));
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
        Ok(Partition { chunks: all.into_iter().map(|(_, c)| c).collect() })
    }

    /// Adds or replaces chunks (appends and rewrites); an empty block removes its chunk.
    pub fn put(&mut self, id: u64, block: Option<EventBlock>) {
        let pos = self.chunks.iter().position(|c| c.id == id);
        match (pos, block) {
            (Some(i), Some(b)) => self.chunks[i].block = b,
            (Some(i), None) => {
                self.chunks.remove(i);
            }
            (None, Some(b)) => {
                let at = self.chunks.partition_point(|c| c.id < id);
                self.chunks.insert(at, Chunk { id, block: b });
            }
            (None, None) => {}
        }
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.block.len()).sum()
    }

    /// The latest event time (i64::MIN when empty).
    pub fn max_ts(&self) -> i64 {
        self.chunks.iter().map(|c| c.max_ts()).max().unwrap_or(i64::MIN)
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
                    let m = mask(filter, b, from, to);
                    for (i, &c) in b.contact[from..to].iter().enumerate() {
                        if m[i]
                            && let Some(x) = cnt.get_mut(c as usize)
                        {
                            *x += 1;
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
                        if !present[c] || (is_min && x < v[c]) || (!is_min && x > v[c]) {
                            v[c] = x;
                        }
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
                        let t = b.ts[i];
                        if !present[c] || (last && t > v[c]) || (!last && t < v[c]) {
                            v[c] = t;
                        }
                        present[c] = true;
                    }
                }
                Ok(())
            })?;
            Ok(Values::Ext { v, present })
        }
    }
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
