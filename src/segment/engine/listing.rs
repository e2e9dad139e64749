//! Orders and per-contact facts for browsing front ends: the contacts table
//! sorted by a column over the engine's in-memory columns (no record is
//! read), each contact's last activity, and derived labels. A million
//! contacts sort in tens of milliseconds.

use super::Engine;
use super::columns::{AttrCol, ColField, DATE_NONE};
use super::derived::Which;
use super::events::{Measure, Values};
use crate::error::Result;
use crate::store::codec::NUM_NONE;
use roaring::RoaringBitmap;
use std::sync::atomic::AtomicBool;

/// A column of the contacts table to order by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortBy {
    Id,
    Score,
    Created,
    Email,
    LastActivity,
    /// a schema attribute by name (first_name, city, …)
    Attr(String),
}

#[derive(PartialEq, PartialOrd)]
enum Key<'a> {
    Num(i64),
    Text(&'a str),
}

impl Engine {
    /// Ids of the live contacts in `only` (everyone when None), ordered by
    /// `by` (missing values last either way, ties by id).
    pub fn sorted_ids(
        &mut self,
        only: Option<&RoaringBitmap>,
        by: &SortBy,
        desc: bool,
        now: i64,
        cancel: &AtomicBool,
    ) -> Result<Vec<u32>> {
        let ids: Vec<u32> = match only {
            Some(o) => {
                let alive = &self.base()?.alive;
                o.iter().filter(|&i| alive.get(i as usize)).collect()
            }
            None => self.base()?.alive.ones().map(|i| i as u32).collect(),
        };
        if *by == SortBy::Id {
            let mut ids = ids;
            if desc {
                ids.reverse();
            }
            return Ok(ids);
        }
        let last = if *by == SortBy::LastActivity { Some(self.last_activity(now, cancel)?) } else { None };
        let schema_attr = match by {
            SortBy::Attr(name) => self.schema.attr(name).map(|(i, _)| i as usize),
            _ => None,
        };
        let field = match by {
            SortBy::Score => Some(ColField::Score),
            SortBy::Created => Some(ColField::CreatedAt),
            SortBy::Email => Some(ColField::Email),
            SortBy::Attr(_) => schema_attr.map(|a| ColField::Attr(a as u16)),
            _ => None,
        };
        let cols = self.contact_fields(field.as_slice())?;
        let key = |id: u32| -> Option<Key<'_>> {
            let i = id as usize;
            match by {
                SortBy::Id => Some(Key::Num(id as i64)),
                SortBy::Score => cols.score.get(i).map(|&s| Key::Num(s)),
                SortBy::Created => cols.created_at.get(i).map(|&s| Key::Num(s)),
                SortBy::Email => cols.email.get(i).map(Key::Text),
                SortBy::LastActivity => last.as_ref().and_then(|l| l.get(i).copied().flatten()).map(Key::Num),
                SortBy::Attr(_) => match schema_attr.and_then(|a| cols.attrs.get(a)) {
                    Some(AttrCol::Number(v)) => v.get(i).filter(|&&x| x != NUM_NONE).map(|&x| Key::Num(x)),
                    Some(AttrCol::Date(v)) => v.get(i).filter(|&&x| x != DATE_NONE).map(|&x| Key::Num(x as i64)),
                    Some(AttrCol::Text(t)) => t.get(i).map(Key::Text),
                    Some(AttrCol::Bool(v)) => v.get(i).filter(|&&x| x != 0).map(|&x| Key::Num(x as i64)),
                    Some(AttrCol::Enum(v)) => v.get(i).filter(|&&x| x != u16::MAX).map(|&x| Key::Num(x as i64)),
                    _ => None,
                },
            }
        };
        let mut keyed: Vec<(Option<Key<'_>>, u32)> = ids.into_iter().map(|id| (key(id), id)).collect();
        super::events::cancelled(cancel)?;
        keyed.sort_unstable_by(|(a, x), (b, y)| {
            use std::cmp::Ordering::*;
            match (a, b) {
                (None, None) => x.cmp(y),
                (None, _) => Greater,
                (_, None) => Less,
                (Some(p), Some(q)) => {
                    let o = p.partial_cmp(q).unwrap_or(Equal);
                    (if desc { o.reverse() } else { o }).then(x.cmp(y))
                }
            }
        });
        Ok(keyed.into_iter().map(|(_, id)| id).collect())
    }

    /// Each contact's latest event time over every kind (None: no events).
    pub fn last_activity(&mut self, now: i64, cancel: &AtomicBool) -> Result<Vec<Option<i64>>> {
        let mut out: Vec<Option<i64>> = vec![None; self.base()?.n];
        for k in 0..self.schema.kinds.len() as u16 {
            self.last_activity_of_kind(k, now, &mut out, cancel)?;
        }
        Ok(out)
    }

    /// Folds the events of one kind into `out` (by contact id: the latest
    /// event time so far), so that a caller may release the engine between
    /// kinds and let a count in.
    pub fn last_activity_of_kind(
        &mut self,
        k: u16,
        now: i64,
        out: &mut Vec<Option<i64>>,
        cancel: &AtomicBool,
    ) -> Result<()> {
        let n = self.base()?.n;
        if out.len() < n {
            out.resize(n, None);
        }
        {
            let v = self.values(k, Measure::Last, i64::MIN + 1, now, None, cancel)?;
            if let Values::Ext { v, present } = &*v {
                for (i, (&t, &p)) in v.iter().zip(present).enumerate().take(n) {
                    if p && out[i].is_none_or(|o| o < t) {
                        out[i] = Some(t);
                    }
                }
            }
            // not kept: a vector per kind would stay for a column shown a
            // page at a time (a criterion that needs one computes it again)
            drop(v);
            self.summaries.retain(|key, _| !(key.kind == k && key.measure == Measure::Last));
            let mut freed = 0;
            self.values.retain(|key, v| {
                let keep = !(key.kind == k && key.measure == Measure::Last);
                if !keep {
                    freed += v.bytes();
                }
                keep
            });
            self.values_bytes = self.values_bytes.saturating_sub(freed);
        }
        Ok(())
    }

    /// A contact's lifecycle stage name at `now`.
    pub fn lifecycle_of(&mut self, id: u32, now: i64) -> Result<Option<&'static str>> {
        self.ensure_derived(Which::Lifecycle, now)?;
        let d = self.derived.as_ref().and_then(|d| d.lifecycle.as_ref());
        Ok(d.and_then(|v| v.get(id as usize))
            .and_then(|&i| crate::derived::Lifecycle::ALL.get(i as usize))
            .map(|l| l.name()))
    }
}

impl Engine {
    /// Live contacts whose id, email, external id, first or last name
    /// contains `needle` (case-insensitive).
    pub fn text_matches(&mut self, needle: &str, cancel: &AtomicBool) -> Result<RoaringBitmap> {
        let needle = needle.trim().to_lowercase();
        let names: Vec<usize> =
            ["first_name", "last_name"].iter().filter_map(|n| self.schema.attr(n).map(|(i, _)| i as usize)).collect();
        let alive: Vec<u32> = self.base()?.alive.ones().map(|i| i as u32).collect();
        let mut fields = vec![ColField::Email, ColField::ExternalId];
        fields.extend(names.iter().map(|&a| ColField::Attr(a as u16)));
        let cols = self.contact_fields(&fields)?;
        let hit = |s: Option<&str>| s.is_some_and(|s| contains_ci(s, &needle));
        // ids are matched only by an all-digit needle, without formatting each id
        let digits = !needle.is_empty() && needle.bytes().all(|b| b.is_ascii_digit());
        let mut buf = String::with_capacity(10);
        let mut out = RoaringBitmap::new();
        for (n, id) in alive.into_iter().enumerate() {
            if n % 65_536 == 0 {
                super::events::cancelled(cancel)?;
            }
            let i = id as usize;
            let id_hit = digits && {
                use std::fmt::Write as _;
                buf.clear();
                let _ = write!(buf, "{id}");
                buf.contains(&needle)
            };
            let found = id_hit
                || hit(cols.email.get(i))
                || hit(cols.external_id.get(i))
                || names.iter().any(|&a| match cols.attrs.get(a) {
                    Some(AttrCol::Text(t)) => hit(t.get(i)),
                    _ => false,
                });
            if found {
                out.insert(id);
            }
        }
        Ok(out)
    }
}

/// `hay` contains the lowercase `needle`, ignoring case (ASCII fast path).
fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

impl Engine {
    /// A contact's RFM scores at `now` (None for non-buyers), from the
    /// engine's derived column (computed once for everyone, then cached).
    pub fn rfm_of(&mut self, id: u32, now: i64) -> Result<Option<(u8, u8, u8)>> {
        self.ensure_derived(Which::Rfm, now)?;
        let d = self.derived.as_ref().and_then(|d| d.rfm.as_ref());
        let i = id as usize;
        Ok(d.filter(|[r, ..]| r.get(i).is_some_and(|&x| x != 0)).map(|[r, f, m]| (r[i], f[i], m[i])))
    }
}

impl Engine {
    /// How `members` spread over the lifecycle stages at `now`.
    pub fn lifecycle_spread(&mut self, members: &RoaringBitmap, now: i64) -> Result<Vec<(&'static str, u64)>> {
        self.ensure_derived(Which::Lifecycle, now)?;
        let all = crate::derived::Lifecycle::ALL;
        let mut counts = vec![0u64; all.len()];
        if let Some(col) = self.derived.as_ref().and_then(|d| d.lifecycle.as_ref()) {
            for id in members {
                if let Some(&i) = col.get(id as usize)
                    && (i as usize) < counts.len()
                {
                    counts[i as usize] += 1;
                }
            }
        }
        Ok(all.iter().map(|l| l.name()).zip(counts).collect())
    }
}
