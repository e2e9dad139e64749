//! Lifetime aggregates without a filter (every event of a kind, at any
//! time), read from the store's per-contact summaries (`store::summaries`)
//! instead of the kind's events: the same values `events::aggregate` gives
//! over all of them, without reading one block.

use super::events::{Measure, Values};
use crate::error::Result;
use crate::store::Reader;
use crate::store::summaries::CHUNK;

/// The lifetime measures of one kind that one pass over its summaries
/// fills: any of the count, the first and the last instant, and one
/// measure of a numeric parameter (a sum, a minimum or a maximum). Each is
/// a per-contact array (4 or 8 bytes a contact, with a byte a contact
/// saying who has a first or last), so a pass fills only what its
/// expression asks: in a fresh process, the pages of an array no
/// criterion reads were most of what a lifetime count cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    pub count: bool,
    pub first: bool,
    pub last: bool,
    pub param: Option<Measure>,
}

impl Wanted {
    /// Adds `m` (measures a summary cannot give are left out; a second
    /// measure of a parameter waits for a pass of its own).
    pub fn add(&mut self, m: Measure) {
        match m {
            Measure::Count => self.count = true,
            Measure::First => self.first = true,
            Measure::Last => self.last = true,
            Measure::Sum(_) | Measure::Min(_) | Measure::Max(_) if self.param.is_none() => self.param = Some(m),
            _ => {}
        }
    }

    pub fn of(m: Measure) -> Wanted {
        let mut w = Wanted::default();
        w.add(m);
        w
    }

    /// With what `plan` wants too (this one's parameter measure first).
    pub fn with(mut self, plan: Wanted) -> Wanted {
        self.count |= plan.count;
        self.first |= plan.first;
        self.last |= plan.last;
        self.param = self.param.or(plan.param);
        self
    }

    /// The parameter whose measure is wanted.
    fn param_index(&self) -> Option<u16> {
        match self.param {
            Some(Measure::Sum(p) | Measure::Min(p) | Measure::Max(p)) => Some(p),
            _ => None,
        }
    }

    /// Without the measures `done` says are already known.
    pub fn without(mut self, done: impl Fn(Measure) -> bool) -> Wanted {
        self.count &= !done(Measure::Count);
        self.first &= !done(Measure::First);
        self.last &= !done(Measure::Last);
        self.param = self.param.filter(|&m| !done(m));
        self
    }
}

/// Per-contact values of each measure `want` names over all of `kind`'s
/// events, for contact ids below `n`, from one pass over the summaries.
pub fn from_summaries(r: &Reader, kind: u16, want: Wanted, n: usize) -> Result<Vec<(Measure, Values)>> {
    let col = |yes: bool| if yes { n } else { 0 };
    let mut cols = Cols {
        n,
        cnt: vec![0u32; col(want.count)],
        first: vec![0i64; col(want.first)],
        last: vec![0i64; col(want.last)],
        present: vec![false; col(want.first || want.last)],
        // sums in i64 (half the memory of i128), kept aside where one does not fit
        sum: vec![],
        k: vec![],
        ext: vec![],
        has: vec![],
    };
    match want.param {
        Some(Measure::Sum(_)) => (cols.sum, cols.k) = (vec![0i64; n], vec![0u32; n]),
        Some(Measure::Min(_) | Measure::Max(_)) => (cols.ext, cols.has) = (vec![0i64; n], vec![false; n]),
        _ => {}
    }
    let job = Job { r, kind, want };
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
    let Cols { cnt, first, last, present, sum, k, ext, has, .. } = cols;
    let mut out = Vec::new();
    if want.count {
        out.push((Measure::Count, Values::Count(cnt)));
    }
    match (want.first, want.last) {
        (true, true) => {
            out.push((Measure::First, Values::Ext { v: first, present: present.clone() }));
            out.push((Measure::Last, Values::Ext { v: last, present }));
        }
        (true, false) => out.push((Measure::First, Values::Ext { v: first, present })),
        (false, true) => out.push((Measure::Last, Values::Ext { v: last, present })),
        (false, false) => {}
    }
    match want.param {
        Some(m @ Measure::Sum(_)) if wide.is_empty() => out.push((m, Values::Sum64 { sum, n: k })),
        Some(m @ Measure::Sum(_)) => {
            let mut sum: Vec<i128> = sum.into_iter().map(i128::from).collect();
            for (i, v) in wide {
                sum[i] = v;
            }
            out.push((m, Values::Sum { sum, n: k }))
        }
        Some(m @ (Measure::Min(_) | Measure::Max(_))) => out.push((m, Values::Ext { v: ext, present: has })),
        _ => {}
    }
    Ok(out)
}

/// Contacts from which the summaries are decoded on two threads (low, so
/// that small test databases take this path too: a thread costs tens of
/// microseconds).
const PARALLEL_FROM: usize = 1024;

/// The per-contact columns filled from the summaries, each empty unless
/// wanted (`present` with a first or a last instant, `sum`/`k` with a sum,
/// `ext`/`has` with a minimum or maximum).
struct Cols {
    /// contacts
    n: usize,
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
    /// contacts in the part
    len: usize,
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
        let len = at.min(self.n);
        (
            Part { len, cnt, first, last, present, sum, k, ext, has },
            Part {
                len: self.n - len,
                cnt: cnt2,
                first: first2,
                last: last2,
                present: present2,
                sum: sum2,
                k: k2,
                ext: ext2,
                has: has2,
            },
        )
    }
}

/// What one thread decodes.
struct Job<'a> {
    r: &'a Reader,
    kind: u16,
    want: Wanted,
}

impl Job<'_> {
    /// Decodes summary rows `rows` into `part` (whose first contact is
    /// `base`); returns the sums that do not fit 64 bits, by contact.
    fn fill(&self, rows: std::ops::Range<u32>, base: usize, p: Part<'_>) -> Result<Vec<(usize, i128)>> {
        let mut wide = Vec::new();
        let n = p.len;
        let param = self.want.param_index();
        // a sum (`sum`, `k`), else a minimum or maximum (`ext`, `has`)
        let is_sum = matches!(self.want.param, Some(Measure::Sum(_)));
        let is_min = matches!(self.want.param, Some(Measure::Min(_)));
        self.r.for_each_summary_in(self.kind, rows, param.is_some(), |s| {
            let Some(i) = (s.contact as usize).checked_sub(base).filter(|&i| i < n) else {
                return Ok(());
            };
            if s.count == 0 {
                return Ok(());
            }
            if self.want.count {
                p.cnt[i] = s.count;
            }
            if self.want.first {
                p.first[i] = s.first;
            }
            if self.want.last {
                p.last[i] = s.last;
            }
            if self.want.first || self.want.last {
                p.present[i] = true;
            }
            if let Some(t) = param.and_then(|q| s.param(q)).filter(|t| t.n > 0) {
                if is_sum {
                    p.k[i] = t.n;
                    match i64::try_from(t.sum) {
                        Ok(v) => p.sum[i] = v,
                        Err(_) => wide.push((base + i, t.sum)),
                    }
                } else {
                    (p.ext[i], p.has[i]) = (if is_min { t.min } else { t.max }, true);
                }
            }
            Ok(())
        })?;
        Ok(wide)
    }
}
