//! A per-contact summary of events (counts, sums, first/last times) and the
//! derived facts computed from it at a given "now".

use super::{Engagement, Lifecycle, Thresholds};
use crate::model::Schema;
use crate::store::codec::{EventBlock, NUM_NONE, ParamData};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindSummary {
    pub count: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// What the profile needs about one contact's events.
#[derive(Clone, Debug, Default)]
pub struct ContactFacts {
    /// per kind index
    pub kinds: Vec<KindSummary>,
    /// lifetime purchase amount in decimal units
    pub purchase_amount: i128,
    pub email_sent_window: u64,
    pub email_open_window: u64,
}

impl ContactFacts {
    /// Builds the facts of one contact from its events (positions in blocks).
    pub fn from_events<'a>(
        schema: &Schema,
        events: impl IntoIterator<Item = (&'a EventBlock, &'a [usize])>,
        now: i64,
        th: &Thresholds,
    ) -> ContactFacts {
        let mut f = ContactFacts { kinds: vec![KindSummary::default(); schema.kinds.len()], ..Default::default() };
        let purchase = schema.kind("purchase").map(|(k, def)| (k, def.param("amount").map(|p| p.0)));
        let sent = schema.kind("email_sent").map(|k| k.0);
        let open = schema.kind("email_open").map(|k| k.0);
        let since = now - th.engagement_window_days * 86_400;
        for (b, pos) in events {
            let amount_col = match purchase {
                Some((k, Some(p))) if k == b.kind => b.params.iter().find(|(id, _)| *id == p).map(|(_, d)| d),
                _ => None,
            };
            for &i in pos {
                let ts = b.ts[i];
                if ts > now {
                    continue;
                }
                let s = &mut f.kinds[b.kind as usize];
                s.count += 1;
                s.first = Some(s.first.map_or(ts, |x| x.min(ts)));
                s.last = Some(s.last.map_or(ts, |x| x.max(ts)));
                if let Some(ParamData::Num(v)) = amount_col
                    && v[i] != NUM_NONE
                {
                    f.purchase_amount += v[i] as i128;
                }
                if ts > since {
                    if Some(b.kind) == sent {
                        f.email_sent_window += 1;
                    } else if Some(b.kind) == open {
                        f.email_open_window += 1;
                    }
                }
            }
        }
        f
    }

    pub fn engagement(&self, th: &Thresholds) -> Engagement {
        th.engagement(self.email_sent_window, self.email_open_window)
    }

    pub fn lifecycle(&self, schema: &Schema, now: i64, th: &Thresholds) -> Lifecycle {
        match schema.kind("purchase") {
            Some((k, _)) => {
                let s = &self.kinds[k as usize];
                th.lifecycle(s.count, s.last, now)
            }
            None => Lifecycle::Prospect,
        }
    }
}

/// Recency, frequency and monetary values of every buyer, for RFM scores.
#[derive(Clone, Debug, Default)]
pub struct Buyers {
    pub ids: Vec<u32>,
    pub last: Vec<i128>,
    pub count: Vec<i128>,
    pub amount: Vec<i128>,
}

impl Buyers {
    /// Scans the purchase events (up to `now`) of every contact.
    pub fn scan(r: &crate::store::Reader, schema: &Schema, now: i64) -> crate::error::Result<Buyers> {
        let Some((pk, def)) = schema.kind("purchase") else {
            return Ok(Buyers::default());
        };
        let amount = def.param("amount").map(|p| p.0);
        let mut by: std::collections::HashMap<u32, (i64, i128, i128)> = Default::default();
        r.for_each_block(|_, b| {
            if b.kind != pk {
                return Ok(());
            }
            let col = amount.and_then(|a| b.params.iter().find(|(p, _)| *p == a)).map(|(_, d)| d);
            for i in 0..b.len() {
                if b.ts[i] > now {
                    continue;
                }
                let e = by.entry(b.contact[i]).or_insert((i64::MIN, 0, 0));
                e.0 = e.0.max(b.ts[i]);
                e.1 += 1;
                if let Some(ParamData::Num(v)) = col
                    && v[i] != NUM_NONE
                {
                    e.2 += v[i] as i128;
                }
            }
            Ok(())
        })?;
        let mut rows: Vec<_> = by.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        let mut out = Buyers::default();
        for (id, (last, count, amount)) in rows {
            out.ids.push(id);
            out.last.push(last as i128);
            out.count.push(count);
            out.amount.push(amount);
        }
        Ok(out)
    }

    /// (r, f, m) quintiles of one buyer; None for non-buyers.
    pub fn rfm_of(&self, id: u32) -> Option<(u8, u8, u8)> {
        let i = self.ids.binary_search(&id).ok()?;
        let q = |v: &[i128]| {
            let n = v.len();
            let r = v.iter().filter(|x| **x < v[i]).count();
            (1 + 5 * r / n) as u8
        };
        Some((q(&self.last), q(&self.count), q(&self.amount)))
    }
}
