//! Lifetime aggregates without a filter (every event of a kind, at any
//! time), read from the store's per-contact summaries (`store::summaries`)
//! instead of the kind's events: the same values `events::aggregate` gives
//! over all of them, without reading one block.

use super::events::{Measure, Values};
use crate::error::Result;
use crate::store::Reader;

/// Per-contact values of `measure` over all of `kind`'s events, for contact
/// ids below `n`; with them, from the same pass over the summaries, the
/// kind's count, first and last instant (criteria often need several:
/// lifecycle takes the count and the last purchase).
pub fn from_summaries(r: &Reader, kind: u16, measure: Measure, n: usize) -> Result<Vec<(Measure, Values)>> {
    let mut cnt = vec![0u32; n];
    let (mut first, mut last, mut present) = (vec![0i64; n], vec![0i64; n], vec![false; n]);
    let param = match measure {
        Measure::Sum(p) | Measure::Min(p) | Measure::Max(p) => Some(p),
        _ => None,
    };
    // sums in i64 (half the memory of i128), kept aside where one does not fit
    let (mut sum, mut k, mut wide) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ext, mut has) = (Vec::new(), Vec::new());
    match measure {
        Measure::Sum(_) => (sum, k) = (vec![0i64; n], vec![0u32; n]),
        Measure::Min(_) | Measure::Max(_) => (ext, has) = (vec![0i64; n], vec![false; n]),
        _ => {}
    }
    let is_min = matches!(measure, Measure::Min(_));
    r.for_each_summary(kind, param.is_some(), |s| {
        let i = s.contact as usize;
        if i >= n || s.count == 0 {
            return Ok(());
        }
        cnt[i] = s.count;
        (first[i], last[i], present[i]) = (s.first, s.last, true);
        if let Some(t) = param.and_then(|p| s.param(p)).filter(|t| t.n > 0) {
            if !sum.is_empty() {
                k[i] = t.n;
                match i64::try_from(t.sum) {
                    Ok(v) => sum[i] = v,
                    Err(_) => wide.push((i, t.sum)),
                }
            } else {
                (ext[i], has[i]) = (if is_min { t.min } else { t.max }, true);
            }
        }
        Ok(())
    })?;
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
