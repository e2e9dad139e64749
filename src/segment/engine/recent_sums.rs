//! Sums over a window that reaches a kind's last event, computed as the
//! lifetime sums less the sums of the events before the window, when
//! those are fewer than the events inside it.
//!
//! A sum adds each event's amount at a random place of an array of every
//! contact: its cost is the events it reads. `sum(purchase.amount, last
//! 1y)` over a shop's history reads most of it (at 10M contacts, 10M of
//! 14.5M purchases), while the per-contact lifetime sums are kept like
//! data (`Engine::summaries`). When the blocks before the window are in
//! memory anyway (a lifetime criterion read them) and hold fewer events
//! than the window, the window's sums are the lifetime's less theirs,
//! exactly (integers, an overflow gives up for the direct sum).
//!
//! The lifetime sums are copied (a half of the contacts by each
//! thread), then each thread reads every event before the window and
//! takes the amounts of its half's contacts off its half: one array,
//! written by one thread per half, and no merge.

use super::events::{AHEAD, Chunk, Measure, Values, cancelled, filled_by_halves, for_range_in, param, prefetch};
use super::{Engine, ValKey};
use crate::error::Result;
use crate::store::codec::{Columns, NUM_NONE, ParamData};
use crate::store::time_parts;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

impl Engine {
    /// `measure` (a sum, with or without counts) of the events of `kind`
    /// at or after `lo`, without a filter, as the lifetime sums less those
    /// of the events before `lo`; None when that does not pay or is not
    /// known: the lifetime sums not kept, the window short of the kind's
    /// last event, the blocks before it not in memory with `need`, or
    /// more events before the window than in it. The caller has read the
    /// window's own blocks (`Engine::events_in`), so those `lo` cuts hold
    /// their times, and the events on either side of `lo` are counted.
    pub(super) fn window_as_lifetime_less(
        &mut self,
        kind: u16,
        measure: Measure,
        (lo, hi): (i64, i64),
        need: &Columns,
        cancel: &AtomicBool,
    ) -> Result<Option<Arc<Values>>> {
        let (Measure::Sum(p) | Measure::Total(p)) = measure else { return Ok(None) };
        let last = self.last_event(kind)?;
        if lo <= i64::MIN + 1 || hi < last || last < lo {
            return Ok(None);
        }
        let life_key = ValKey { kind, measure: Measure::Sum(p), lo: i64::MIN + 1, hi: i64::MAX, filter: String::new() };
        let Some(life) = self.summaries.get(&life_key).cloned() else { return Ok(None) };
        let n = self.base()?.n;
        let Some(part) = self.partitions.get(&kind) else { return Ok(None) };
        let (first, before) = time_parts::parts_of(i64::MIN + 1, lo - 1);
        if !part.holds(first, before) || !part.covers(need) {
            return Ok(None);
        }
        let (earlier, inside) = (part.events_between(i64::MIN + 1, lo - 1)?, part.events_between(lo, hi)?);
        if earlier >= inside {
            return Ok(None);
        }
        let Values::Sum64 { sum: ls, n: lk } = &*life else { return Ok(None) };
        if ls.len() != n || lk.len() != n {
            return Ok(None);
        }
        let counts = matches!(measure, Measure::Sum(_));
        Ok(less_earlier(&part.chunks, lo, p, (ls, counts.then_some(lk)), cancel)?.map(Arc::new))
    }
}

/// The lifetime sums `life` (and counts, when given) of every contact
/// less those of the events of `chunks` in parameter `p` before `lo`:
/// the contacts in two halves, each thread copying its half of `life`
/// and taking off the events of its half's contacts (an event of the
/// other half takes 0 off the first entry, no branch on it). None when
/// an amount taken off leaves i64 (the caller then sums directly).
fn less_earlier(
    chunks: &[Chunk],
    lo: i64,
    p: u16,
    (life, life_k): (&[i64], Option<&[u32]>),
    cancel: &AtomicBool,
) -> Result<Option<Values>> {
    let n = life.len();
    let at = n / 2;
    let mut sum = filled_by_halves(n, at, Some(life));
    let mut k = life_k.map(|lk| filled_by_halves(n, at, Some(lk))).unwrap_or_default();
    let counts = life_k.is_some();
    let (s1, s2) = sum.split_at_mut(at);
    let (k1, k2) = k.split_at_mut(if counts { at } else { 0 });
    let take_off = |base: usize, sum: &mut [i64], k: &mut [u32]| -> Result<bool> {
        let mut overflow = false;
        if sum.is_empty() {
            return Ok(false);
        }
        for_range_in(chunks, i64::MIN + 1, lo - 1, |b, from, to| {
            cancelled(cancel)?;
            let Some(ParamData::Num(col)) = param(b, p) else { return Ok(()) };
            let cs = &b.contact[from..to];
            for (j, (&v, &c)) in col[from..to].iter().zip(cs).enumerate() {
                // twice as far ahead as a whole sum: half the events
                // ahead are the other half's, and not prefetched
                if let Some(&ahead) = cs.get(j + 2 * AHEAD) {
                    let i = (ahead as usize).wrapping_sub(base);
                    prefetch(sum, i);
                    if counts {
                        prefetch(k, i);
                    }
                }
                let i = (c as usize).wrapping_sub(base);
                let inside = (i < sum.len()) & (v != NUM_NONE);
                let at = if inside { i } else { 0 };
                let (s, o) = sum[at].overflowing_sub(if inside { v } else { 0 });
                sum[at] = s;
                overflow |= o;
                if counts {
                    k[at] = k[at].wrapping_sub(inside as u32);
                }
            }
            Ok(())
        })?;
        Ok(overflow)
    };
    let (second, first) = crate::parallel::both(|| take_off(at, s2, k2), || take_off(0, s1, k1));
    if first? | second? {
        return Ok(None);
    }
    Ok(Some(Values::Sum64 { sum, n: k }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::engine::events::{aggregate_chunks, tests::chunks};

    /// The lifetime less the events before `lo` is the sum from `lo` on,
    /// every contact's total and count, `lo` inside a block, at a block's
    /// first event, before every event and past the last; with `n` odd,
    /// even and 1 (the blocks of `events::tests::chunks`: 50 contacts,
    /// instants from 0 to 23,990).
    #[test]
    fn lifetime_less_the_earlier_events_is_the_later_sum() {
        let never = AtomicBool::new(false);
        for big in [false, true] {
            let cs = chunks(big);
            for n in [1, 60, 61] {
                let Values::Sum64 { sum: life, n: life_k } =
                    aggregate_chunks(&cs, n, Measure::Sum(0), i64::MIN + 1, i64::MAX).unwrap()
                else {
                    assert!(big, "lifetime sums fit i64");
                    continue;
                };
                for lo in [15_005, 10_000, 20_000, -5, 50_000] {
                    let want = aggregate_chunks(&cs, n, Measure::Sum(0), lo, i64::MAX).unwrap();
                    for counts in [true, false] {
                        let got = less_earlier(&cs, lo, 0, (&life, counts.then_some(&life_k[..])), &never).unwrap();
                        let Some(got) = got else {
                            assert!(big, "only amounts near i64's end give up");
                            continue;
                        };
                        for id in 0..n {
                            let (w, g) = (want.sum_at(id), got.sum_at(id));
                            assert_eq!(w.0, g.0, "total of {id} from {lo}, n {n}");
                            assert_eq!(if counts { w.1 } else { 0 }, g.1, "count of {id} from {lo}, n {n}");
                        }
                    }
                }
            }
        }
    }
}
