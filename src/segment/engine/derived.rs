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

// the columns hold each fact's variant number, its index in `ALL`
const _: () = {
    let mut i = 0;
    while i < Engagement::ALL.len() {
        assert!(Engagement::ALL[i] as usize == i);
        i += 1;
    }
    let mut i = 0;
    while i < Lifecycle::ALL.len() {
        assert!(Lifecycle::ALL[i] as usize == i);
        i += 1;
    }
};

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
    /// Plans the lifetime measures lifecycle reads from the purchases'
    /// summaries (their count and last instant), and RFM's sum of their
    /// amounts when `rfm` (unless a parameter's measure is planned already).
    pub(crate) fn plan_purchases(&mut self, rfm: bool) {
        let Some((pk, def)) = self.schema.kind("purchase") else { return };
        let amount = def.param("amount").map(|(p, _)| p);
        let plan = self.lifetime_plan.entry(pk).or_default();
        plan.add(Measure::Count);
        plan.add(Measure::Last);
        if let (true, Some(p)) = (rfm, amount) {
            plan.add(Measure::Sum(p));
        }
    }

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
                // (a kind that does not exist counts nothing)
                let none = match (sent.as_deref(), opened.as_deref()) {
                    (Some(Values::Count(_)), Some(Values::Count(_))) => Vec::new(),
                    _ => vec![0u32; n],
                };
                fn counts<'a>(v: &'a Option<Arc<Values>>, none: &'a [u32], n: usize) -> &'a [u32] {
                    match v.as_deref() {
                        Some(Values::Count(c)) => &c[..n],
                        _ => none,
                    }
                }
                // the index into Engagement::ALL is the variant's number
                let col: Vec<u8> = counts(&sent, &none, n)
                    .iter()
                    .zip(counts(&opened, &none, n))
                    .map(|(&s, &o)| th.engagement(s as u64, o as u64) as u8)
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
                // one pass over the purchases' summaries for all they read
                // (RFM asks for the sum first: a requested measure goes first)
                self.plan_purchases(false);
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
                    // the index into Lifecycle::ALL is the variant's number
                    let col: Vec<u8> = cnt[..n]
                        .iter()
                        .zip(&lastv[..n])
                        .zip(&present[..n])
                        .map(|((&c, &last), &has)| th.lifecycle(c as u64, has.then_some(last), now) as u8)
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
