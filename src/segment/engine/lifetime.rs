//! Lifetime aggregates without a filter (every event of a kind, at any
//! time), read from the store's per-contact summaries (`store::summaries`)
//! instead of the kind's events: the same values `events::aggregate` gives
//! over all of them, without reading one block.

use super::events::{Measure, Values};
use crate::error::Result;
use crate::store::Reader;

/// Per-contact values of `measure` over all of `kind`'s events, for contact
/// ids below `n`.
pub fn from_summaries(r: &Reader, kind: u16, measure: Measure, n: usize) -> Result<Values> {
    Ok(match measure {
        Measure::Count => {
            let mut cnt = vec![0u32; n];
            r.for_each_summary(kind, |s| {
                if let Some(x) = cnt.get_mut(s.contact as usize) {
                    *x = s.count;
                }
                Ok(())
            })?;
            Values::Count(cnt)
        }
        Measure::Sum(p) => {
            let (mut sum, mut k) = (vec![0i128; n], vec![0u32; n]);
            let mut fits = true;
            r.for_each_summary(kind, |s| {
                if let (Some(t), true) = (s.param(p), (s.contact as usize) < n) {
                    sum[s.contact as usize] = t.sum;
                    k[s.contact as usize] = t.n;
                    fits &= i64::try_from(t.sum).is_ok();
                }
                Ok(())
            })?;
            if fits {
                Values::Sum64 { sum: sum.into_iter().map(|v| v as i64).collect(), n: k }
            } else {
                Values::Sum { sum, n: k }
            }
        }
        Measure::Min(p) | Measure::Max(p) => {
            let (mut v, mut present) = (vec![0i64; n], vec![false; n]);
            r.for_each_summary(kind, |s| {
                if let (Some(t), true) = (s.param(p), (s.contact as usize) < n)
                    && t.n > 0
                {
                    v[s.contact as usize] = if matches!(measure, Measure::Min(_)) { t.min } else { t.max };
                    present[s.contact as usize] = true;
                }
                Ok(())
            })?;
            Values::Ext { v, present }
        }
        Measure::Last | Measure::First => {
            let (mut v, mut present) = (vec![0i64; n], vec![false; n]);
            r.for_each_summary(kind, |s| {
                if (s.contact as usize) < n && s.count > 0 {
                    v[s.contact as usize] = if measure == Measure::Last { s.last } else { s.first };
                    present[s.contact as usize] = true;
                }
                Ok(())
            })?;
            Values::Ext { v, present }
        }
    })
}
