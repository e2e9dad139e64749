//! Derived facts as columns at a given now: engagement from email sends
//! and opens in the window, lifecycle from purchases, RFM quintiles over
//! buyers. Each is built on first use from cached aggregates and kept until
//! the data or `now` changes.

use super::Engine;
use super::events::{Measure, Values};
use crate::derived::{Engagement, Lifecycle, quintiles};
use crate::error::Result;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Default)]
pub struct DerivedCols {
    pub now: i64,
    /// index into Engagement::ALL
    pub engagement: Option<Vec<u8>>,
    /// index into Lifecycle::ALL
    pub lifecycle: Option<Vec<u8>>,
    /// (r, f, m) 1–5; 0 for non-buyers
    pub rfm: Option<[Vec<u8>; 3]>,
}

const DAY: i64 = 86_400;

/// Which derived column.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Engagement,
    Lifecycle,
    Rfm,
}

impl Engine {
    fn count_values(&mut self, kind: &str, lo: i64, now: i64) -> Result<Option<Arc<Values>>> {
        let never = AtomicBool::new(false);
        match self.schema.kind(kind).map(|k| k.0) {
            Some(k) => Ok(Some(self.values(k, Measure::Count, lo, now, None, &never)?)),
            None => Ok(None),
        }
    }

    /// Makes sure the given derived column exists for `now`.
    pub(crate) fn ensure_derived(&mut self, which: Which, now: i64) -> Result<()> {
        if self.derived.as_ref().is_none_or(|d| d.now != now) {
            self.derived = Some(DerivedCols { now, ..Default::default() });
        }
        let d = self.derived.as_ref().expect("set");
        let have = match which {
            Which::Engagement => d.engagement.is_some(),
            Which::Lifecycle => d.lifecycle.is_some(),
            Which::Rfm => d.rfm.is_some(),
        };
        if have {
            return Ok(());
        }
        let n = self.base()?.n;
        let th = self.th.clone();
        let never = AtomicBool::new(false);
        match which {
            Which::Engagement => {
                let lo = now - th.engagement_window_days * DAY + 1;
                let sent = self.count_values("email_sent", lo, now)?;
                let opened = self.count_values("email_open", lo, now)?;
                let get = |v: &Option<Arc<Values>>, id: usize| match v.as_deref() {
                    Some(Values::Count(c)) => c[id] as u64,
                    _ => 0,
                };
                let col: Vec<u8> = (0..n)
                    .map(|id| {
                        let lvl = th.engagement(get(&sent, id), get(&opened, id));
                        Engagement::ALL.iter().position(|x| *x == lvl).unwrap_or(3) as u8
                    })
                    .collect();
                self.derived.as_mut().expect("set").engagement = Some(col);
            }
            Which::Lifecycle | Which::Rfm => {
                let Some((pk, def)) = self.schema.kind("purchase").map(|(k, d)| (k, d.clone())) else {
                    let d = self.derived.as_mut().expect("set");
                    d.lifecycle = Some(vec![0; n]);
                    d.rfm = Some([vec![0; n], vec![0; n], vec![0; n]]);
                    return Ok(());
                };
                let all = i64::MIN + 1;
                // the amounts first: the same pass over the summaries gives
                // the counts and last purchases RFM and lifecycle read
                let amount = match def.param("amount") {
                    Some((p, _)) if which == Which::Rfm => {
                        Some(self.values(pk, Measure::Sum(p), all, now, None, &never)?)
                    }
                    _ => None,
                };
                let counts = self.values(pk, Measure::Count, all, now, None, &never)?;
                let last = self.values(pk, Measure::Last, all, now, None, &never)?;
                let (Values::Count(cnt), Values::Ext { v: lastv, present }) = (&*counts, &*last) else {
                    unreachable!("measures give these shapes")
                };
                if which == Which::Lifecycle {
                    let col: Vec<u8> = (0..n)
                        .map(|id| {
                            let l = th.lifecycle(cnt[id] as u64, present[id].then_some(lastv[id]), now);
                            Lifecycle::ALL.iter().position(|x| *x == l).unwrap_or(0) as u8
                        })
                        .collect();
                    self.derived.as_mut().expect("set").lifecycle = Some(col);
                } else {
                    let alive = &self.base()?.alive;
                    let buyers: Vec<usize> = (0..n).filter(|&id| cnt[id] > 0 && alive.get(id)).collect();
                    // recency on a second thread, frequency and monetary on
                    // this one; each ranked in its own width: a time, a
                    // count, a sum
                    let (r, (f, m)) = crate::parallel::both(
                        || quintiles(&buyers.iter().map(|&id| lastv[id]).collect::<Vec<i64>>()),
                        || {
                            let f = quintiles(&buyers.iter().map(|&id| cnt[id]).collect::<Vec<u32>>());
                            let m = match amount.as_deref() {
                                Some(Values::Sum64 { sum, .. }) => {
                                    quintiles(&buyers.iter().map(|&id| sum[id]).collect::<Vec<i64>>())
                                }
                                Some(Values::Sum { sum, .. }) => {
                                    let wide: Vec<i128> = buyers.iter().map(|&id| sum[id]).collect();
                                    match wide
                                        .iter()
                                        .map(|&x| i64::try_from(x))
                                        .collect::<std::result::Result<Vec<i64>, _>>()
                                    {
                                        Ok(narrow) => quintiles(&narrow),
                                        Err(_) => quintiles(&wide),
                                    }
                                }
                                _ => vec![1; buyers.len()],
                            };
                            (f, m)
                        },
                    );
                    // a column per score: a condition on one reads a byte per contact
                    let mut col = [vec![0u8; n], vec![0u8; n], vec![0u8; n]];
                    for (i, &id) in buyers.iter().enumerate() {
                        (col[0][id], col[1][id], col[2][id]) = (r[i], f[i], m[i]);
                    }
                    self.derived.as_mut().expect("set").rfm = Some(col);
                }
            }
        }
        Ok(())
    }
}
