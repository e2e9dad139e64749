//! Derived facts as columns at a given now: engagement from email sends
//! and opens in the window, lifecycle from purchases, RFM quintiles over
//! buyers. Built from cached aggregates, so they cost one scan per kind.

use super::Engine;
use super::events::{Measure, Values};
use crate::derived::{Engagement, Lifecycle, quintiles};
use crate::error::Result;
use std::sync::atomic::AtomicBool;

pub struct DerivedCols {
    pub now: i64,
    /// index into Engagement::ALL
    pub engagement: Vec<u8>,
    /// index into Lifecycle::ALL
    pub lifecycle: Vec<u8>,
    /// (r, f, m) 1–5; 0 for non-buyers
    pub rfm: Vec<[u8; 3]>,
}

const DAY: i64 = 86_400;

impl Engine {
    pub(crate) fn derived(&mut self, now: i64) -> Result<&DerivedCols> {
        if self.derived.as_ref().is_some_and(|d| d.now == now) {
            return Ok(self.derived.as_ref().expect("checked"));
        }
        let never = AtomicBool::new(false);
        let n = self.base()?.n;
        let th = self.th.clone();
        let window = (now - th.engagement_window_days * DAY + 1, now);
        let count_of = |e: &mut Engine, kind: &str, lo: i64| -> Result<Option<std::sync::Arc<Values>>> {
            match e.schema.kind(kind).map(|k| k.0) {
                Some(k) => Ok(Some(e.values(k, Measure::Count, lo, now, None, &never)?)),
                None => Ok(None),
            }
        };
        let sent = count_of(self, "email_sent", window.0)?;
        let opened = count_of(self, "email_open", window.0)?;
        let get = |v: &Option<std::sync::Arc<Values>>, id: usize| match v.as_deref() {
            Some(Values::Count(c)) => c[id] as u64,
            _ => 0,
        };
        let mut engagement = vec![0u8; n];
        for (id, e) in engagement.iter_mut().enumerate() {
            let lvl = th.engagement(get(&sent, id), get(&opened, id));
            *e = Engagement::ALL.iter().position(|x| *x == lvl).unwrap_or(3) as u8;
        }
        // purchases: lifetime count, last time, amount
        let mut lifecycle = vec![0u8; n];
        let mut rfm = vec![[0u8; 3]; n];
        if let Some((pk, def)) = self.schema.kind("purchase").map(|(k, d)| (k, d.clone())) {
            let counts = self.values(pk, Measure::Count, i64::MIN + 1, now, None, &never)?;
            let last = self.values(pk, Measure::Last, i64::MIN + 1, now, None, &never)?;
            let amount = match def.param("amount") {
                Some((p, _)) => Some(self.values(pk, Measure::Sum(p), i64::MIN + 1, now, None, &never)?),
                None => None,
            };
            let (Values::Count(cnt), Values::Ext { v: lastv, present }) = (&*counts, &*last) else {
                unreachable!("measures give these shapes")
            };
            let mut buyers = Vec::new();
            for id in 0..n {
                let l = th.lifecycle(cnt[id] as u64, present[id].then_some(lastv[id]), now);
                lifecycle[id] = Lifecycle::ALL.iter().position(|x| *x == l).unwrap_or(0) as u8;
                if cnt[id] > 0 {
                    buyers.push(id);
                }
            }
            let alive = &self.base()?.alive;
            buyers.retain(|id| alive.get(*id));
            let r = quintiles(&buyers.iter().map(|&id| lastv[id] as i128).collect::<Vec<_>>());
            let f = quintiles(&buyers.iter().map(|&id| cnt[id] as i128).collect::<Vec<_>>());
            let m = match amount.as_deref() {
                Some(Values::Sum { sum, .. }) => quintiles(&buyers.iter().map(|&id| sum[id]).collect::<Vec<_>>()),
                _ => vec![1; buyers.len()],
            };
            for (i, &id) in buyers.iter().enumerate() {
                rfm[id] = [r[i], f[i], m[i]];
            }
        }
        self.derived = Some(DerivedCols { now, engagement, lifecycle, rfm });
        Ok(self.derived.as_ref().expect("set"))
    }
}
