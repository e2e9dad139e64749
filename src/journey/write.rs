//! Writing a journey tick's chunk: what one chunk changed (runs and their
//! timers, step records, timeline lines, tags, scores, attributes,
//! promotion codes, `pending` deliveries, at the end the cursor), taken out
//! of the tick in key order, and the one transaction that writes it.
//!
//! The runner computes the next chunk while this one is written on another
//! thread (`run.rs`): a chunk is self-contained, its rows are sorted and
//! its runs' timer moments recorded when it is taken, so nothing of it is
//! read back before its commit has landed.

use std::collections::{BTreeMap, HashSet};

use roaring::RoaringBitmap;

use super::model::{Enrollment, PromoCode, Status, StepRecord};
use crate::campaign::model::Delivery;
use crate::error::{Error, Result};
use crate::model::contact::Action as TimelineEntry;
use crate::model::time::Ts;
use crate::store::Store;

/// What one chunk of a tick writes.
#[derive(Default)]
pub(super) struct Chunk {
    /// (contact, its timer's moment as stored before, its run), by contact
    pub runs: Vec<(u32, Option<Ts>, Enrollment)>,
    /// (contact, run, step, record), in key order
    pub steps: Vec<(u32, u32, u32, StepRecord)>,
    pub promos: Vec<(String, PromoCode)>,
    /// `pending` deliveries: (contact, idempotency key, record)
    pub sends: Vec<(u32, String, Delivery)>,
    /// timeline lines by contact (a contact's in the order they happened)
    pub timeline: Vec<(u32, TimelineEntry)>,
    pub tags: BTreeMap<(String, bool), RoaringBitmap>,
    pub scores: BTreeMap<u32, i64>,
    pub attrs: BTreeMap<u32, Vec<(String, String)>>,
    /// where entries were looked for up to, on the tick's last chunk
    pub cursor: Option<Ts>,
}

impl Chunk {
    /// Puts the rows in key order: each B-tree page is then written once
    /// per chunk.
    pub fn sort(&mut self) {
        self.runs.sort_unstable_by_key(|r| r.0);
        self.steps.sort_unstable_by_key(|(c, run, step, _)| (*c, *run, *step));
        self.timeline.sort_by_key(|(c, _)| *c); // stable: a contact's lines keep their order
    }
}

/// Writes `chunk` of journey `name` in one transaction. `None` (and
/// nothing written) when the journey was paused or stopped meanwhile;
/// otherwise the chunk's `pending` deliveries, to be delivered now that
/// they are durable.
pub(super) fn write_chunk(store: &Store, name: &str, chunk: Chunk) -> Result<Option<Vec<(u32, String, Delivery)>>> {
    let trace = |what: &str, t0: std::time::Instant| super::run::trace(what, t0);
    let mut w = store.begin_write()?;
    if w.journey(name)?.is_none_or(|s| s.status != Status::Active) {
        return Ok(None);
    }
    let Chunk { runs, steps, promos, sends, timeline, tags, scores, attrs, cursor } = chunk;
    let t0 = std::time::Instant::now();
    let rows: Vec<(u32, Option<Ts>, &Enrollment)> = runs.iter().map(|(c, d, e)| (*c, *d, e)).collect();
    w.put_enrollments(name, &rows)?;
    trace("write runs", t0);
    let t0 = std::time::Instant::now();
    w.record_steps(name, &steps)?;
    trace("write steps", t0);
    for (code, p) in &promos {
        w.put_promo(code, p)?;
    }
    w.put_deliveries(&sends)?;
    // tags, scores and attributes are on the journey's own timeline lines
    for ((tag, add), ids) in tags {
        if add {
            w.tag_add(&tag, &ids)?;
        } else {
            w.tag_remove(&tag, &ids)?;
        }
    }
    let ids: Vec<u32> = scores.keys().chain(attrs.keys()).copied().collect::<HashSet<u32>>().into_iter().collect();
    if !ids.is_empty() {
        let schema = w.schema().clone();
        let mut changed = Vec::new();
        for mut contact in w.contacts(&ids)?.into_iter().flatten() {
            if let Some(n) = scores.get(&contact.id) {
                contact.score = contact.score.saturating_add(*n);
            }
            for (attr, value) in attrs.get(&contact.id).into_iter().flatten() {
                if let Some((i, def)) = schema.attr(attr) {
                    let v = def.parse(value).map_err(|e| Error::input(format!("journey {name}: {attr}: {e}")))?;
                    contact.set_attr(i, v);
                }
            }
            changed.push(contact);
        }
        w.put_contacts(&changed)?;
    }
    let t0 = std::time::Instant::now();
    w.add_actions(&timeline)?;
    trace("write timeline", t0);
    if let Some(t) = cursor {
        w.set_journey_cursor(name, t)?;
    }
    let t0 = std::time::Instant::now();
    w.commit()?;
    trace("commit", t0);
    Ok(Some(sends))
}
