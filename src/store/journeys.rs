//! Journeys in the store: their records, enrollments (each contact's latest
//! run), durable timers of waiting runs, and the exactly-once step log.

use super::tables::*;
use super::{Reader, Writer};
use crate::error::Result;
use crate::journey::model::{Enrollment, Journey, PromoCode, StepRecord};
use crate::model::time::Ts;
use redb::{ReadableTable, ReadableTableMetadata};
use roaring::RoaringBitmap;
use std::collections::BTreeMap;

impl Writer<'_> {
    pub fn put_journey(&mut self, j: &Journey) -> Result<()> {
        self.tx.open_table(JOURNEYS)?.insert(j.name.as_str(), postcard::to_allocvec(j)?.as_slice())?;
        self.note_journeys();
        Ok(())
    }

    pub fn journey(&self, name: &str) -> Result<Option<Journey>> {
        match self.tx.open_table(JOURNEYS)?.get(name)? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn enrollment(&self, journey: &str, contact: u32) -> Result<Option<Enrollment>> {
        match self.tx.open_table(ENROLLMENTS)?.get((journey, contact))? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    /// Writes a contact's run and keeps its timer in step: the old timer
    /// (if it was waiting) is removed, a new one added if it waits now.
    pub fn put_enrollment(&mut self, journey: &str, contact: u32, e: &Enrollment) -> Result<()> {
        let old = self.enrollment(journey, contact)?;
        let bytes = postcard::to_allocvec(e)?;
        let mut timers = self.tx.open_table(JOURNEY_TIMERS)?;
        if let Some(due) = old.as_ref().and_then(Enrollment::due) {
            timers.remove((due, journey, contact))?;
        }
        if let Some(due) = e.due() {
            timers.insert((due, journey, contact), bytes.as_slice())?;
        }
        drop(timers);
        self.tx.open_table(ENROLLMENTS)?.insert((journey, contact), bytes.as_slice())?;
        self.note_journeys();
        Ok(())
    }

    /// Where a journey's entries were last looked for (events at or before
    /// it have been considered).
    pub fn journey_cursor(&self, journey: &str) -> Result<Option<Ts>> {
        let t = self.tx.open_table(SETTINGS)?;
        let v = t.get(format!("journey_cursor/{journey}").as_str())?;
        Ok(v.and_then(|v| v.value().try_into().ok().map(i64::from_le_bytes)))
    }

    pub fn set_journey_cursor(&mut self, journey: &str, at: Ts) -> Result<()> {
        self.put_setting(&format!("journey_cursor/{journey}"), &at.to_le_bytes())
    }

    /// Whether a promotion code is taken.
    pub fn promo_exists(&self, code: &str) -> Result<bool> {
        Ok(self.tx.open_table(PROMO_CODES)?.get(code)?.is_some())
    }

    pub fn put_promo(&mut self, code: &str, p: &PromoCode) -> Result<()> {
        self.tx.open_table(PROMO_CODES)?.insert(code, postcard::to_allocvec(p)?.as_slice())?;
        Ok(())
    }

    /// Writes many runs of one journey whose timers' previous moments are
    /// known (`None`: it had none), keeping the timers in step, with each
    /// table opened once.
    pub fn put_enrollments(&mut self, journey: &str, rows: &[(u32, Option<Ts>, &Enrollment)]) -> Result<()> {
        let mut timers = self.tx.open_table(JOURNEY_TIMERS)?;
        let mut runs = self.tx.open_table(ENROLLMENTS)?;
        // the timers moved: removed by moment, many at once in one pass
        // over their range (runs woken together lie side by side)
        let mut gone: BTreeMap<Ts, RoaringBitmap> = BTreeMap::new();
        for (c, old_due, e) in rows {
            if let Some(d) = old_due
                && *old_due != e.due()
            {
                gone.entry(*d).or_default().insert(*c);
            }
        }
        for (due, ids) in gone {
            let (Some(lo), Some(hi)) = (ids.min(), ids.max()) else { continue };
            if ids.len() < 64 {
                for c in &ids {
                    timers.remove((due, journey, c))?;
                }
            } else {
                timers.retain_in((due, journey, lo)..=(due, journey, hi), |k, _| !ids.contains(k.2))?;
            }
        }
        let mut buf = Vec::new();
        for (c, _, e) in rows {
            buf.clear();
            let bytes = postcard::to_extend(*e, std::mem::take(&mut buf))?;
            // a waiting run's timer carries it (written again when it changed)
            if let Some(d) = e.due() {
                timers.insert((d, journey, *c), bytes.as_slice())?;
            }
            runs.insert((journey, *c), bytes.as_slice())?;
            buf = bytes;
        }
        drop((timers, runs));
        self.note_journeys();
        Ok(())
    }

    /// Records many steps of one journey's runs, in the transaction that
    /// moves those runs on (which is what makes each happen once: the
    /// runner never does a step its run is past, so no key is written twice).
    pub fn record_steps(&mut self, journey: &str, rows: &[(u32, u32, u32, StepRecord)]) -> Result<()> {
        let mut t = self.tx.open_table(JOURNEY_STEPS)?;
        let mut buf = Vec::new();
        for (c, run, step, r) in rows {
            buf.clear();
            let bytes = postcard::to_extend(r, std::mem::take(&mut buf))?;
            t.insert((journey, *c, *run, *step), bytes.as_slice())?;
            buf = bytes;
        }
        Ok(())
    }

    /// Records what a step of a run did, once: false (and nothing written)
    /// if that (journey, contact, run, step) was already recorded.
    pub fn record_step(&mut self, journey: &str, contact: u32, run: u32, step: u32, r: &StepRecord) -> Result<bool> {
        let mut t = self.tx.open_table(JOURNEY_STEPS)?;
        if t.get((journey, contact, run, step))?.is_some() {
            return Ok(false);
        }
        t.insert((journey, contact, run, step), postcard::to_allocvec(r)?.as_slice())?;
        Ok(true)
    }
}

/// Replaces the first build's timers (run numbers) by timers carrying their
/// runs, made from the enrollments of waiting runs.
pub(super) fn rebuild_timers(tx: &redb::WriteTransaction) -> Result<()> {
    let runs = tx.open_table(ENROLLMENTS)?;
    let mut timers = tx.open_table(JOURNEY_TIMERS)?;
    for row in runs.iter()? {
        let (k, v) = row?;
        let (journey, c) = k.value();
        let e: Enrollment = postcard::from_bytes(v.value())?;
        if let Some(due) = e.due() {
            timers.insert((due, journey, c), v.value())?;
        }
    }
    drop((runs, timers));
    tx.delete_table(OLD_JOURNEY_TIMERS)?;
    Ok(())
}

/// Removes every journey row of erased contacts.
pub(super) fn erase_contacts(tx: &redb::WriteTransaction, ids: &RoaringBitmap) -> Result<()> {
    tx.open_table(ENROLLMENTS)?.retain(|k, _| !ids.contains(k.1))?;
    tx.open_table(JOURNEY_TIMERS)?.retain(|k, _| !ids.contains(k.2))?;
    tx.open_table(JOURNEY_STEPS)?.retain(|k, _| !ids.contains(k.1))?;
    tx.open_table(PROMO_CODES)?
        .retain(|_, v| postcard::from_bytes::<PromoCode>(v).map_or(true, |p| !ids.contains(p.contact)))?;
    Ok(())
}

impl Reader {
    /// Every journey, by name.
    pub fn journeys(&self) -> Result<Vec<Journey>> {
        let t = self.tx.open_table(JOURNEYS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            out.push(postcard::from_bytes(row?.1.value())?);
        }
        Ok(out)
    }

    pub fn journey(&self, name: &str) -> Result<Option<Journey>> {
        match self.tx.open_table(JOURNEYS)?.get(name)? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    /// A journey's enrollments (each contact's latest run), by contact.
    pub fn enrollments(&self, journey: &str) -> Result<Vec<(u32, Enrollment)>> {
        let t = self.tx.open_table(ENROLLMENTS)?;
        let mut out = Vec::new();
        for row in t.range((journey, 0)..=(journey, u32::MAX))? {
            let (k, v) = row?;
            out.push((k.value().1, postcard::from_bytes(v.value())?));
        }
        Ok(out)
    }

    /// The timers due at or before `t`: (due, journey, contact, run), earliest first.
    pub fn due_timers(&self, t: Ts) -> Result<Vec<(Ts, String, u32, u32)>> {
        let timers = self.tx.open_table(JOURNEY_TIMERS)?;
        let mut out = Vec::new();
        for row in timers.range((i64::MIN, "", 0)..=(t, "\u{10FFFF}", u32::MAX))? {
            let (k, v) = row?;
            let (due, j, c) = k.value();
            let e: Enrollment = postcard::from_bytes(v.value())?;
            out.push((due, j.to_string(), c, e.run));
        }
        Ok(out)
    }

    /// A journey's timers due at or before `t`, each with its run: (due,
    /// contact, run), earliest first.
    pub fn due_timers_of(&self, journey: &str, t: Ts) -> Result<Vec<(Ts, u32, Enrollment)>> {
        let timers = self.tx.open_table(JOURNEY_TIMERS)?;
        let mut out = Vec::new();
        for row in timers.range((i64::MIN, "", 0)..=(t, "\u{10FFFF}", u32::MAX))? {
            let (k, v) = row?;
            let (due, j, c) = k.value();
            if j == journey {
                out.push((due, c, postcard::from_bytes(v.value())?));
            }
        }
        Ok(out)
    }

    /// The latest runs of many contacts (`ids` sorted), in their order:
    /// many read in one pass over the journey's rows, a few looked up.
    pub fn enrollments_of(&self, journey: &str, ids: &[u32]) -> Result<Vec<Option<Enrollment>>> {
        let t = self.tx.open_table(ENROLLMENTS)?;
        let mut out = Vec::with_capacity(ids.len());
        if let (Some(&lo), Some(&hi)) = (ids.first(), ids.last())
            && ids.len() > 4096
        {
            let mut want = ids.iter().peekable();
            for row in t.range((journey, lo)..=(journey, hi))? {
                let (k, v) = row?;
                let c = k.value().1;
                while want.next_if(|&&w| w < c).is_some() {
                    out.push(None);
                }
                if want.next_if(|&&w| w == c).is_some() {
                    out.push(Some(postcard::from_bytes(v.value())?));
                }
            }
            out.extend(want.map(|_| None));
            return Ok(out);
        }
        for &c in ids {
            out.push(match t.get((journey, c))? {
                Some(v) => Some(postcard::from_bytes(v.value())?),
                None => None,
            });
        }
        Ok(out)
    }

    /// One contact's latest run of a journey.
    pub fn enrollment(&self, journey: &str, contact: u32) -> Result<Option<Enrollment>> {
        match self.tx.open_table(ENROLLMENTS)?.get((journey, contact))? {
            Some(v) => Ok(Some(postcard::from_bytes(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn journey_cursor(&self, journey: &str) -> Result<Option<Ts>> {
        let v = self.setting(&format!("journey_cursor/{journey}"))?;
        Ok(v.and_then(|v| v.as_slice().try_into().ok().map(i64::from_le_bytes)))
    }

    /// Whether a promotion code is taken.
    pub fn promo_exists(&self, code: &str) -> Result<bool> {
        Ok(self.tx.open_table(PROMO_CODES)?.get(code)?.is_some())
    }

    /// The earliest timer, if any.
    pub fn next_timer(&self) -> Result<Option<Ts>> {
        Ok(self.tx.open_table(JOURNEY_TIMERS)?.first()?.map(|(k, _)| k.value().0))
    }

    /// The earliest timer of any of `journeys`.
    pub fn next_timer_among(&self, journeys: &std::collections::HashSet<&str>) -> Result<Option<Ts>> {
        for row in self.tx.open_table(JOURNEY_TIMERS)?.iter()? {
            let (k, _) = row?;
            let (due, j, _) = k.value();
            if journeys.contains(j) {
                return Ok(Some(due));
            }
        }
        Ok(None)
    }

    pub fn timer_count(&self) -> Result<u64> {
        Ok(self.tx.open_table(JOURNEY_TIMERS)?.len()?)
    }

    /// The recorded steps of one contact's runs of a journey: (run, step, record).
    pub fn steps_of(&self, journey: &str, contact: u32) -> Result<Vec<(u32, u32, StepRecord)>> {
        let t = self.tx.open_table(JOURNEY_STEPS)?;
        let mut out = Vec::new();
        for row in t.range((journey, contact, 0, 0)..=(journey, contact, u32::MAX, u32::MAX))? {
            let (k, v) = row?;
            let (_, _, run, step) = k.value();
            out.push((run, step, postcard::from_bytes(v.value())?));
        }
        Ok(out)
    }

    /// How a journey's steps went over every run of every contact: per step
    /// index, each outcome's code (the text before its first `(`: `sent`,
    /// `suppressed`, `then`, `branch 2`) with its count.
    pub fn step_outcomes(&self, journey: &str) -> Result<BTreeMap<u32, BTreeMap<String, u64>>> {
        let t = self.tx.open_table(JOURNEY_STEPS)?;
        let mut out: BTreeMap<u32, BTreeMap<String, u64>> = BTreeMap::new();
        for row in t.range((journey, 0, 0, 0)..=(journey, u32::MAX, u32::MAX, u32::MAX))? {
            let (k, v) = row?;
            let r: StepRecord = postcard::from_bytes(v.value())?;
            let code = r.outcome.split('(').next().unwrap_or_default().trim();
            let per = out.entry(k.value().3).or_default();
            match per.get_mut(code) {
                Some(n) => *n += 1,
                None => {
                    per.insert(code.to_string(), 1);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::journey::model::{Enrollment, Phase, RunState, StepRecord};
    use crate::store::{OpenMode, Store};

    fn waiting(run: u32, until: i64) -> Enrollment {
        Enrollment {
            run,
            entered_at: 10,
            step: 1,
            since: 10,
            state: RunState::Waiting { until },
            entry_event: None,
            phase: Phase::Arrive,
        }
    }

    /// A file of the first journeys build (timers holding run numbers, in
    /// `journey_timers`) opens with its waiting runs' timers rebuilt.
    #[test]
    fn the_first_builds_timers_are_rebuilt_on_open() {
        use crate::store::tables::{JOURNEY_TIMERS, OLD_JOURNEY_TIMERS};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        let store = Store::open(&path, OpenMode::Create).unwrap();
        let mut w = store.begin_write().unwrap();
        w.put_enrollment("cart", 7, &waiting(1, 100)).unwrap();
        w.put_enrollment("cart", 8, &Enrollment { state: RunState::Completed { at: 60 }, ..waiting(2, 0) }).unwrap();
        w.commit().unwrap();
        // lay the timers out as the first build did
        let tx = store.redb().begin_write().unwrap();
        tx.delete_table(JOURNEY_TIMERS).unwrap();
        tx.open_table(OLD_JOURNEY_TIMERS).unwrap().insert((100, "cart", 7), 1).unwrap();
        tx.commit().unwrap();
        drop(store);

        let store = Store::open(&path, OpenMode::Existing).unwrap();
        let r = store.begin_read().unwrap();
        assert_eq!(r.due_timers(i64::MAX).unwrap(), vec![(100, "cart".into(), 7, 1)]);
        assert_eq!(r.due_timers_of("cart", 100).unwrap(), vec![(100, 7, waiting(1, 100))]);
        let names: Vec<String> = {
            use redb::{ReadableDatabase, TableHandle};
            let tx = store.redb().begin_read().unwrap();
            tx.list_tables().unwrap().map(|t| t.name().to_string()).collect()
        };
        assert!(!names.iter().any(|n| n == "journey_timers"), "{names:?}");
    }

    #[test]
    fn timers_follow_enrollments_and_steps_are_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("j.redb"), OpenMode::Create).unwrap();
        let mut w = store.begin_write().unwrap();
        w.put_enrollment("cart", 7, &waiting(1, 100)).unwrap();
        w.put_enrollment("cart", 8, &waiting(1, 50)).unwrap();
        w.put_enrollment("other", 7, &waiting(1, 300)).unwrap();
        w.commit().unwrap();
        let r = store.begin_read().unwrap();
        assert_eq!(r.due_timers(100).unwrap(), vec![(50, "cart".into(), 8, 1), (100, "cart".into(), 7, 1)]);
        assert_eq!(r.next_timer().unwrap(), Some(50));
        drop(r);
        // moving on: the old timer goes, the new one comes; an ended run has none
        let mut w = store.begin_write().unwrap();
        w.put_enrollment("cart", 7, &waiting(1, 200)).unwrap();
        let done = Enrollment { state: RunState::Completed { at: 60 }, ..waiting(1, 0) };
        w.put_enrollment("cart", 8, &done).unwrap();
        let rec = StepRecord { at: 60, outcome: "sent".into(), code: None, deferred: false };
        assert!(w.record_step("cart", 8, 1, 2, &rec).unwrap());
        assert!(
            !w.record_step(
                "cart",
                8,
                1,
                2,
                &StepRecord { at: 61, outcome: "again".into(), code: None, deferred: false }
            )
            .unwrap()
        );
        assert!(w.record_step("cart", 8, 2, 2, &rec).unwrap(), "another run");
        let capped = StepRecord { at: 60, outcome: "suppressed(cap(email 1/1d))".into(), code: None, deferred: false };
        assert!(w.record_step("cart", 7, 1, 2, &capped).unwrap());
        w.commit().unwrap();
        let r = store.begin_read().unwrap();
        assert_eq!(r.due_timers(i64::MAX).unwrap(), vec![(200, "cart".into(), 7, 1), (300, "other".into(), 7, 1)]);
        assert_eq!(r.enrollments("cart").unwrap().len(), 2);
        assert_eq!(r.steps_of("cart", 8).unwrap(), vec![(1, 2, rec.clone()), (2, 2, rec)]);
        assert_eq!(r.timer_count().unwrap(), 2);
        let outcomes = r.step_outcomes("cart").unwrap();
        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[&2].get("sent"), Some(&2), "{outcomes:?}");
        assert_eq!(outcomes[&2].get("suppressed"), Some(&1), "the code before `(`: {outcomes:?}");
        assert!(r.step_outcomes("other").unwrap().is_empty());
        drop(r);
        // erasing a contact erases its journeys
        let mut w = store.begin_write().unwrap();
        w.delete_contacts(&roaring::RoaringBitmap::from_iter([7u32])).unwrap();
        w.commit().unwrap();
        let r = store.begin_read().unwrap();
        assert_eq!(r.due_timers(i64::MAX).unwrap(), vec![]);
        assert_eq!(r.enrollments("cart").unwrap().len(), 1);
    }
}
