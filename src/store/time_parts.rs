//! Time partitions of event storage: every event block holds events of one
//! kind from one span of `PART_SECS` seconds (about 12 days), and the
//! `EVENT_PARTS` table lists each kind's blocks by span, so a criterion over
//! the last 14 days reads the blocks of those days and no other.
//!
//! Owns the span arithmetic and the blocks being filled during a load, one
//! per (kind, span), with a bound on the events they hold in all (a log
//! grouped by contact fills every span at once; when the bound is reached
//! every block is written as it stands).

use super::codec::{BLOCK_EVENTS, EventBlock, ParamVal};
use rustc_hash::FxHashMap as HashMap;

/// log2 of a span's length in seconds: 2^20 s is 12.1 days.
pub const PART_SHIFT: u32 = 20;
/// The first span: the one holding the instant 0 (1970-01-01).
const PART_BIAS: i64 = 1 << 31;

/// Events held in blocks being filled before all of them are written
/// (about 40 bytes each in memory).
pub const PENDING_EVENTS: usize = 6 << 20;

/// The span holding the instant `ts` (seconds since the epoch).
pub fn part_of(ts: i64) -> u32 {
    ((ts >> PART_SHIFT) + PART_BIAS).clamp(0, u32::MAX as i64) as u32
}

/// The spans holding the instants `lo..=hi`.
pub fn parts_of(lo: i64, hi: i64) -> (u32, u32) {
    (part_of(lo), part_of(hi))
}

/// Positions `[from, to)` of a time-sorted block, one run per span.
pub fn runs(ts: &[i64]) -> Vec<(u32, usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while from < ts.len() {
        let p = part_of(ts[from]);
        // the first instant of the next span
        let next = (p as i64 + 1 - PART_BIAS) << PART_SHIFT;
        let to = if p == u32::MAX { ts.len() } else { from + ts[from..].partition_point(|t| *t < next) };
        out.push((p, from, to));
        from = to;
    }
    out
}

/// The blocks being filled during a load, one per (kind, span).
#[derive(Default)]
pub struct Filling {
    blocks: HashMap<(u16, u32), EventBlock>,
    events: usize,
    /// each kind's latest span
    latest: HashMap<u16, u32>,
}

impl Filling {
    /// Adds one event to the block of its kind and span; returns the blocks
    /// to write now: that block once full, and, when the event opens a
    /// kind's newer span, the kind's blocks two spans or more behind it (a
    /// log in time order has moved past them; an event arriving later than
    /// that starts a block of its own).
    pub fn push(
        &mut self,
        kind: u16,
        contact: u32,
        ts: i64,
        source: u8,
        utm: [u32; 3],
        params: &[(u16, ParamVal)],
    ) -> Vec<EventBlock> {
        let p = part_of(ts);
        let mut out = Vec::new();
        let b = match self.blocks.get_mut(&(kind, p)) {
            Some(b) => b,
            None => {
                out = self.open_span(kind, p);
                self.blocks.entry((kind, p)).or_insert_with(|| EventBlock::new(kind))
            }
        };
        b.push(contact, ts, source, utm, params);
        self.events += 1;
        if b.len() >= BLOCK_EVENTS {
            out.extend(self.take(kind, p));
        }
        out
    }

    /// A block of (kind, p) is about to start: the kind's blocks two spans
    /// or more behind `p` when `p` is its newest span.
    fn open_span(&mut self, kind: u16, p: u32) -> Vec<EventBlock> {
        let latest = self.latest.entry(kind).or_insert(p);
        if p <= *latest {
            return Vec::new();
        }
        *latest = p;
        let mut behind: Vec<(u16, u32)> =
            self.blocks.keys().filter(|&&(k, q)| k == kind && q + 1 < p).copied().collect();
        behind.sort_unstable();
        behind.into_iter().filter_map(|(k, q)| self.take(k, q)).collect()
    }

    /// Adds positions `lo..hi` of `src`, all in the span `part`; returns the
    /// blocks that filled up.
    pub fn add_rows(&mut self, src: &EventBlock, part: u32, mut lo: usize, hi: usize) -> Vec<EventBlock> {
        let mut full = Vec::new();
        while lo < hi {
            let b = self.blocks.entry((src.kind, part)).or_insert_with(|| EventBlock::new(src.kind));
            let take = (BLOCK_EVENTS - b.len().min(BLOCK_EVENTS)).min(hi - lo).max(1);
            b.append_rows(src, lo, lo + take);
            self.events += take;
            lo += take;
            if b.len() >= BLOCK_EVENTS {
                full.extend(self.take(src.kind, part));
            }
        }
        full
    }

    fn take(&mut self, kind: u16, part: u32) -> Option<EventBlock> {
        let b = self.blocks.remove(&(kind, part))?;
        self.events -= b.len();
        Some(b)
    }

    /// Whether the blocks hold more events than `PENDING_EVENTS`.
    pub fn over_bound(&self) -> bool {
        self.events > PENDING_EVENTS
    }

    /// Every block being filled, taken out in (kind, span) order.
    pub fn drain(&mut self) -> Vec<EventBlock> {
        let mut keys: Vec<(u16, u32)> = self.blocks.keys().copied().collect();
        keys.sort_unstable();
        self.events = 0;
        keys.into_iter().filter_map(|k| self.blocks.remove(&k)).filter(|b| !b.is_empty()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_ordered_and_cover_every_instant() {
        let span = 1i64 << PART_SHIFT;
        assert_eq!(part_of(0), PART_BIAS as u32);
        assert_eq!(part_of(span - 1), PART_BIAS as u32);
        assert_eq!(part_of(span), PART_BIAS as u32 + 1);
        assert_eq!(part_of(-1), PART_BIAS as u32 - 1);
        assert_eq!(part_of(i64::MIN), 0);
        assert_eq!(part_of(i64::MAX), u32::MAX);
        assert!(part_of(1_700_000_000) < part_of(1_700_000_000 + span));
    }

    #[test]
    fn runs_split_a_sorted_block_at_span_boundaries() {
        let span = 1i64 << PART_SHIFT;
        let ts = vec![-5, 0, 1, span - 1, span, span + 3, 5 * span, i64::MAX];
        let r = runs(&ts);
        assert_eq!(
            r,
            vec![
                (part_of(-5), 0, 1),
                (part_of(0), 1, 4),
                (part_of(span), 4, 6),
                (part_of(5 * span), 6, 7),
                (u32::MAX, 7, 8)
            ]
        );
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn filling_writes_full_blocks_and_drains_in_order() {
        let mut f = Filling::default();
        let span = 1i64 << PART_SHIFT;
        let mut full = Vec::new();
        for i in 0..(BLOCK_EVENTS as i64 + 10) {
            for kind in [3u16, 1] {
                let ts = if i % 2 == 0 { i } else { span + i };
                full.extend(f.push(kind, 7, ts, 0, [0; 3], &[]));
            }
        }
        assert!(full.is_empty(), "each (kind, span) holds half the events");
        let left = f.drain();
        assert_eq!(left.iter().map(|b| b.kind).collect::<Vec<_>>(), vec![1, 1, 3, 3]);
        assert!(left.iter().all(|b| b.ts.iter().all(|&t| part_of(t) == part_of(b.ts[0]))));
        let mut src = EventBlock::new(2);
        for i in 0..(BLOCK_EVENTS as i64 * 2 + 1) {
            src.push(1, i, 0, [0; 3], &[]);
        }
        let full = f.add_rows(&src, part_of(0), 0, src.len());
        assert_eq!(full.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![BLOCK_EVENTS, BLOCK_EVENTS]);
        assert_eq!(f.drain().iter().map(|b| b.len()).collect::<Vec<_>>(), vec![1]);
        assert!(!f.over_bound());
    }

    #[test]
    fn a_kind_moving_two_spans_on_writes_the_blocks_behind() {
        let span = 1i64 << PART_SHIFT;
        let mut f = Filling::default();
        assert!(f.push(1, 1, 10, 0, [0; 3], &[]).is_empty());
        assert!(f.push(2, 1, 10, 0, [0; 3], &[]).is_empty());
        assert!(f.push(1, 1, span + 10, 0, [0; 3], &[]).is_empty(), "one span on: the last one may still get events");
        let out = f.push(1, 1, 2 * span + 10, 0, [0; 3], &[]);
        assert_eq!(out.iter().map(|b| (b.kind, b.ts.clone())).collect::<Vec<_>>(), vec![(1, vec![10])]);
        // a late event of an old span starts a block again; kind 2 kept its own
        assert!(f.push(1, 1, 11, 0, [0; 3], &[]).is_empty());
        assert_eq!(
            f.drain().iter().map(|b| (b.kind, b.len())).collect::<Vec<_>>(),
            vec![(1, 1), (1, 1), (1, 1), (2, 1)]
        );
    }
}
