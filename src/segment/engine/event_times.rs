//! The instants of one kind's events in a time range, through an optional
//! `where` filter, contact by contact: what the journey runner needs to
//! find entries, goals and awaited events.

use super::Engine;
use super::filter::BoundFilter;
use crate::error::{Error, Result};
use crate::segment::ast::{BoolExpr, Filter, Predicate};
use crate::segment::print_filter;
use crate::store::codec::Columns;
use std::sync::Arc;

/// A filter's text as the segment language reads it inside
/// `count(KIND where FILTER)`.
pub fn parse_filter(kind: &str, filter: &str) -> Result<Filter> {
    let e = crate::segment::parse(&format!("count({kind} where {filter}) >= 1"))
        .map_err(|e| Error::input(format!("`{filter}`: {e}")))?;
    match e {
        BoolExpr::Pred(Predicate::Agg(a)) => a.filter.map(|f| *f).ok_or_else(|| Error::input("empty filter")),
        _ => Err(Error::input(format!("`{filter}` is not a filter over {kind}'s parameters"))),
    }
}

type FilterOf = (u16, Option<Arc<BoundFilter>>, Columns);

impl Engine {
    /// Every event of `kind` with `lo <= ts <= hi` matching `filter`, as
    /// (ts, contact), sorted. An unknown kind has none.
    pub fn event_times(&mut self, kind: &str, filter: Option<&str>, lo: i64, hi: i64) -> Result<Vec<(i64, u32)>> {
        let Some((k, compiled, need)) = self.kind_and_filter(kind, filter)? else { return Ok(Vec::new()) };
        let part = self.events_in(k, lo, hi, &need)?;
        let mut out = Vec::new();
        part.for_range(lo, hi, |b, from, to| {
            match &compiled {
                Some(f) => {
                    let mask = f.bind(b).mask(b, from, to);
                    for (i, keep) in (from..to).zip(mask) {
                        if keep {
                            out.push((b.ts[i], b.contact[i]));
                        }
                    }
                }
                None => out.extend((from..to).map(|i| (b.ts[i], b.contact[i]))),
            }
            Ok(())
        })?;
        out.sort_unstable();
        Ok(out)
    }

    /// The instant of the first event of `kind` (through `filter`) after `after`.
    pub fn first_event_after(&mut self, kind: &str, filter: Option<&str>, after: i64) -> Result<Option<i64>> {
        let Some((k, compiled, need)) = self.kind_and_filter(kind, filter)? else { return Ok(None) };
        let part = self.events_in(k, after.saturating_add(1), i64::MAX, &need)?;
        let mut best: Option<i64> = None;
        for c in &part.chunks {
            let b = &c.block;
            let from = b.ts.partition_point(|t| *t <= after);
            let bound = compiled.as_ref().map(|f| f.bind(b));
            for i in from..b.len() {
                if best.is_some_and(|x| b.ts[i] >= x) {
                    break;
                }
                if bound.as_ref().is_none_or(|f| f.test_bound(b, i)) {
                    best = Some(b.ts[i]);
                    break;
                }
            }
        }
        Ok(best)
    }

    /// A kind's index, its compiled filter and the block columns the filter
    /// reads (None: no such kind).
    fn kind_and_filter(&mut self, kind: &str, filter: Option<&str>) -> Result<Option<FilterOf>> {
        let Some((k, kd)) = self.schema.kind(kind) else { return Ok(None) };
        let kd = kd.clone();
        // the times of every event read
        let mut need = Columns { times: true, ..Columns::default() };
        let compiled = match filter {
            Some(text) => {
                let f = parse_filter(kind, text)?;
                need.add(&super::filter::aggregate_columns(&kd, None, Some(&f)));
                let fk = (k, print_filter(&f));
                match self.filters.get(&fk) {
                    Some(c) => Some(c.clone()),
                    None => {
                        let c = Arc::new(BoundFilter::compile(&f, &kd, self.dict()?)?);
                        self.filters.insert(fk, c.clone());
                        Some(c)
                    }
                }
            }
            None => None,
        };
        Ok(Some((k, compiled, need)))
    }
}
