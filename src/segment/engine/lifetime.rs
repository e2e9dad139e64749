//! Lifetime aggregates without a filter (every event of a kind, at any
//! time), read from the store's per-contact summaries (`store::summaries`)
//! instead of the kind's events: the same values `events::aggregate` gives
//! over all of them, without reading one block.

use super::events::{Measure, Values};
use crate::error::Result;
use crate::store::Reader;
use crate::store::summaries::CHUNK;

/// Per-contact values of `measure` over all of `kind`'s events, for contact
/// ids below `n`; with them, from the same pass over the summaries, the
/// kind's count, first and last instant (criteria often need several:
/// lifecycle takes the count and the last purchase).
pub fn from_summaries(r: &Reader, kind: u16, measure: Measure, n: usize) -> Result<Vec<(Measure, Values)>> {
    let param = match measure {
        Measure::Sum(p) | Measure::Min(p) | Measure::Max(p) => Some(p),
        _ => None,
    };
    let mut cols = Cols {
        cnt: vec![0u32; n],
        first: vec![0i64; n],
        last: vec![0i64; n],
        present: vec![false; n],
        // sums in i64 (half the memory of i128), kept aside where one does not fit
        sum: vec![],
        k: vec![],
        ext: vec![],
        has: vec![],
    };
    match measure {
        Measure::Sum(_) => (cols.sum, cols.k) = (vec![0i64; n], vec![0u32; n]),
        Measure::Min(_) | Measure::Max(_) => (cols.ext, cols.has) = (vec![0i64; n], vec![false; n]),
        _ => {}
    }
    let job =
        Job { r, kind, param, is_sum: matches!(measure, Measure::Sum(_)), is_min: matches!(measure, Measure::Min(_)) };
    // two threads, each decoding the rows of one half of the contacts into
    // its half of the columns
    let rows = n.div_ceil(CHUNK as usize) as u32;
    let wide = if n >= PARALLEL_FROM {
        let mid = rows / 2;
        let at = (mid as usize * CHUNK as usize).min(n);
        let (lo, hi) = cols.split_at_mut(at);
        let (b, a) = crate::parallel::both(|| job.fill(mid..u32::MAX, at, hi), || job.fill(0..mid, 0, lo));
        let mut wide = a?;
        wide.extend(b?);
        wide
    } else {
        job.fill(0..u32::MAX, 0, cols.split_at_mut(n).0)?
    };
    let Cols { cnt, first, last, present, sum, k, ext, has } = cols;
    let mut out = vec![
        (Measure::Count, Values::Count(cnt)),
        (Measure::First, Values::Ext { v: first, present: present.clone() }),
        (Measure::Last, Values::Ext { v: last, present }),
    ];
    match measure {
        Measure::Sum(_) if wide.is_empty() => out.push((measure, Values::Sum64 { sum, n: k })),
        Measure::Sum(_) => {
            let mut sum: Vec<i128> = sum.into_iter().map(i128::from).collect();
            for (i, v) in wide {
                sum[i] = v;
            }
            out.push((measure, Values::Sum { sum, n: k }))
        }
        Measure::Min(_) | Measure::Max(_) => out.push((measure, Values::Ext { v: ext, present: has })),
        _ => {}
    }
    Ok(out)
}

/// Contacts from which the summaries are decoded on two threads (low, so
/// that small test databases take this path too: a thread costs tens of
/// microseconds).
const PARALLEL_FROM: usize = 1024;

/// The per-contact columns filled from the summaries (`sum`/`k` only for a
/// sum, `ext`/`has` only for a minimum or maximum: empty otherwise).
struct Cols {
    cnt: Vec<u32>,
    first: Vec<i64>,
    last: Vec<i64>,
    present: Vec<bool>,
    sum: Vec<i64>,
    k: Vec<u32>,
    ext: Vec<i64>,
    has: Vec<bool>,
}

/// A part of `Cols`: the contacts from some id on.
struct Part<'a> {
    cnt: &'a mut [u32],
    first: &'a mut [i64],
    last: &'a mut [i64],
    present: &'a mut [bool],
    sum: &'a mut [i64],
    k: &'a mut [u32],
    ext: &'a mut [i64],
    has: &'a mut [bool],
}

impl Cols {
    /// The contacts below `at`, and those from `at` on.
    fn split_at_mut(&mut self, at: usize) -> (Part<'_>, Part<'_>) {
        fn cut<T>(v: &mut [T], at: usize) -> (&mut [T], &mut [T]) {
            v.split_at_mut(at.min(v.len()))
        }
        let (cnt, cnt2) = cut(&mut self.cnt, at);
        let (first, first2) = cut(&mut self.first, at);
        let (last, last2) = cut(&mut self.last, at);
        let (present, present2) = cut(&mut self.present, at);
        let (sum, sum2) = cut(&mut self.sum, at);
        let (k, k2) = cut(&mut self.k, at);
        let (ext, ext2) = cut(&mut self.ext, at);
        let (has, has2) = cut(&mut self.has, at);
        (
            Part { cnt, first, last, present, sum, k, ext, has },
            Part { cnt: cnt2, first: first2, last: last2, present: present2, sum: sum2, k: k2, ext: ext2, has: has2 },
        )
    }
}

/// What one thread decodes.
struct Job<'a> {
    r: &'a Reader,
    kind: u16,
    param: Option<u16>,
    /// a sum (`sum`, `k`), else a minimum or maximum (`ext`, `has`)
    is_sum: bool,
    is_min: bool,
}

impl Job<'_> {
    /// Decodes summary rows `rows` into `part` (whose first contact is
    /// `base`); returns the sums that do not fit 64 bits, by contact.
    fn fill(&self, rows: std::ops::Range<u32>, base: usize, p: Part<'_>) -> Result<Vec<(usize, i128)>> {
        let mut wide = Vec::new();
        let n = p.cnt.len();
        self.r.for_each_summary_in(self.kind, rows, self.param.is_some(), |s| {
            let Some(i) = (s.contact as usize).checked_sub(base).filter(|&i| i < n) else {
                return Ok(());
            };
            if s.count == 0 {
                return Ok(());
            }
            p.cnt[i] = s.count;
            (p.first[i], p.last[i], p.present[i]) = (s.first, s.last, true);
            if let Some(t) = self.param.and_then(|q| s.param(q)).filter(|t| t.n > 0) {
                if self.is_sum {
                    p.k[i] = t.n;
                    match i64::try_from(t.sum) {
                        Ok(v) => p.sum[i] = v,
                        Err(_) => wide.push((base + i, t.sum)),
                    }
                } else {
                    (p.ext[i], p.has[i]) = (if self.is_min { t.min } else { t.max }, true);
                }
            }
            Ok(())
        })?;
        Ok(wide)
    }
}
