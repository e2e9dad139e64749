//! Journeys for front ends: create from file text (validated, `FILE:line:
//! reason`), list with enrollment counts, show, start, pause and stop (each
//! a read and a write in one transaction), enrollments by step, and the
//! simulation.

use super::{AppError, AppResult, Session};
use crate::journey::model::{Enrollment, Journey, RunState, Status};
use crate::journey::{Checker, parse_journey};
use std::collections::BTreeMap;

/// How many runs a journey has, by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// contacts that entered (latest runs)
    pub entered: u64,
    /// waiting at a step
    pub active: u64,
    pub completed: u64,
    /// left early, by reason (`exit`, `goal`, `holdout`, `stopped`)
    pub exited: BTreeMap<String, u64>,
    /// active runs by the step they wait at
    pub at_step: BTreeMap<String, u64>,
}

impl Counts {
    fn add(&mut self, j: &Journey, e: &Enrollment) {
        self.entered += 1;
        match &e.state {
            RunState::Waiting { .. } => {
                self.active += 1;
                *self.at_step.entry(j.target_name(e.step as usize).to_string()).or_default() += 1;
            }
            RunState::Completed { .. } => self.completed += 1,
            RunState::Exited { reason, .. } => *self.exited.entry(reason.clone()).or_default() += 1,
        }
    }
}

/// A journey and where its contacts are.
#[derive(Clone, Debug)]
pub struct JourneySummary {
    pub journey: Journey,
    pub counts: Counts,
}

/// A status change an operator asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JourneyChange {
    Start,
    Pause,
    Stop,
}

impl Session {
    /// Reads and validates journey file text against the store; errors are
    /// invalid input `NAME:line: reason`.
    pub fn parse_journey(&self, text: &str, file_name: &str) -> AppResult<(Journey, Vec<String>)> {
        let cat = self.catalog()?;
        parse_journey(text, &Checker { catalog: &cat }, self.now())
            .map_err(|e| AppError::invalid(format!("{file_name}:{}: {}", e.line, e.reason)))
    }

    /// Creates a draft journey from file text (nothing is written if it is
    /// refused, or if a journey of that name exists).
    pub fn create_journey(&self, text: &str, file_name: &str) -> AppResult<(Journey, Vec<String>)> {
        let (j, warnings) = self.parse_journey(text, file_name)?;
        let mut w = self.store.begin_write()?;
        if w.journey(&j.name)?.is_some() {
            let line = text.lines().position(|l| l.trim_start().starts_with("name")).map_or(1, |i| i + 1);
            return Err(AppError::invalid(format!("{file_name}:{line}: journey `{}` already exists", j.name)));
        }
        w.put_journey(&j)?;
        w.audit(&self.audit_entry(format!("journey {} created from {file_name}", j.name)))?;
        w.commit()?;
        Ok((j, warnings))
    }

    pub fn journey(&self, name: &str) -> AppResult<Journey> {
        self.store.begin_read()?.journey(name)?.ok_or_else(|| AppError::not_found("journey", name))
    }

    /// Every journey with its counts, by name.
    pub fn journeys(&self) -> AppResult<Vec<JourneySummary>> {
        let r = self.store.begin_read()?;
        let mut out = Vec::new();
        for j in r.journeys()? {
            let mut counts = Counts::default();
            for (_, e) in r.enrollments(&j.name)? {
                counts.add(&j, &e);
            }
            out.push(JourneySummary { journey: j, counts });
        }
        Ok(out)
    }

    /// One journey with its counts.
    pub fn journey_summary(&self, name: &str) -> AppResult<JourneySummary> {
        let r = self.store.begin_read()?;
        let j = r.journey(name)?.ok_or_else(|| AppError::not_found("journey", name))?;
        let mut counts = Counts::default();
        for (_, e) in r.enrollments(name)? {
            counts.add(&j, &e);
        }
        Ok(JourneySummary { journey: j, counts })
    }

    /// Starts (a draft or paused journey), pauses (an active one) or stops
    /// one for good (its runs in progress exit as `stopped`).
    pub fn change_journey(&self, name: &str, change: JourneyChange) -> AppResult<Journey> {
        let now = self.now();
        let mut w = self.store.begin_write()?;
        let mut j = w.journey(name)?.ok_or_else(|| AppError::not_found("journey", name))?;
        let (ok, to) = match change {
            JourneyChange::Start => (matches!(j.status, Status::Draft | Status::Paused), Status::Active),
            JourneyChange::Pause => (j.status == Status::Active, Status::Paused),
            JourneyChange::Stop => (j.status != Status::Stopped, Status::Stopped),
        };
        if !ok {
            return Err(AppError::Conflict(format!(
                "journey {name} is {}; cannot make it {}",
                j.status.as_str(),
                to.as_str()
            )));
        }
        if change == JourneyChange::Start && j.status == Status::Draft {
            j.started_at = Some(now);
        }
        if to == Status::Stopped {
            let runs = self.store.begin_read()?.enrollments(name)?;
            for (c, mut e) in runs.into_iter().filter(|(_, e)| e.is_active()) {
                e.state = RunState::Exited { at: now, reason: "stopped".into() };
                e.since = now;
                w.put_enrollment(name, c, &e)?;
            }
        }
        j.status = to;
        j.updated_at = now;
        w.put_journey(&j)?;
        w.audit(&self.audit_entry(format!("journey {name} {}", to.as_str())))?;
        w.commit()?;
        Ok(j)
    }

    /// A journey's enrollments (each contact's latest run), optionally only
    /// those waiting at step `step`.
    pub fn enrollments(&self, name: &str, step: Option<&str>) -> AppResult<(Journey, Vec<(u32, Enrollment)>)> {
        let r = self.store.begin_read()?;
        let j = r.journey(name)?.ok_or_else(|| AppError::not_found("journey", name))?;
        let at = match step {
            None => None,
            Some(s) => Some(j.step_index(s).ok_or_else(|| {
                let names: Vec<String> = j.steps.iter().map(|s| s.name.clone()).collect();
                let hint =
                    crate::segment::suggest(s, &names).map(|x| format!(", did you mean `{x}`?")).unwrap_or_default();
                AppError::invalid(format!("journey {name} has no step `{s}`{hint}"))
            })?),
        };
        let mut list = r.enrollments(name)?;
        if let Some(i) = at {
            list.retain(|(_, e)| e.is_active() && e.step as usize == i);
        }
        Ok((j, list))
    }
}

impl Session {
    /// What each step of a contact's run did, in order: (step name, record).
    pub fn run_history(
        &self,
        journey: &Journey,
        contact: u32,
        run: u32,
    ) -> AppResult<Vec<(String, crate::journey::model::StepRecord)>> {
        let r = self.store.begin_read()?;
        let mut steps: Vec<(u32, crate::journey::model::StepRecord)> =
            r.steps_of(&journey.name, contact)?.into_iter().filter(|x| x.0 == run).map(|x| (x.1, x.2)).collect();
        steps.sort_by_key(|(i, rec)| (rec.at, *i));
        Ok(steps.into_iter().map(|(i, rec)| (journey.target_name(i as usize).to_string(), rec)).collect())
    }
}

impl Session {
    /// Runs a journey from now to `until` in simulated time over the
    /// store's history, writing nothing (the journey may be a draft).
    pub fn simulate_journey(&self, name: &str, until: i64) -> AppResult<crate::journey::simulate::Simulation> {
        let now = self.now();
        if until < now {
            return Err(AppError::invalid(format!(
                "--until {} is before now ({})",
                crate::model::time::format_ts(until),
                crate::model::time::format_ts(now)
            )));
        }
        let r = self.store.begin_read()?;
        let j = r.journey(name)?.ok_or_else(|| AppError::not_found("journey", name))?;
        let policy = crate::campaign::stored_policy(&r)?;
        let mut engine = self.engine()?;
        Ok(crate::journey::simulate::simulate(&j, &r, &mut *engine, &policy, now, until)?)
    }
}

/// A journey as the console's detail shows it: its counts and, per step
/// index, how the step went over every run (outcome code → count: `sent`,
/// `suppressed`, `then`, `branch 2`, `waited`).
#[derive(Clone, Debug)]
pub struct JourneyDetail {
    pub summary: JourneySummary,
    pub outcomes: BTreeMap<u32, BTreeMap<String, u64>>,
}

impl JourneyDetail {
    /// How many runs step `step` ended with outcome `code`.
    pub fn outcome(&self, step: usize, code: &str) -> u64 {
        self.outcomes.get(&(step as u32)).and_then(|m| m.get(code)).copied().unwrap_or(0)
    }
}

impl Session {
    /// One journey with its counts and its steps' outcomes, read in one
    /// transaction (so the waiting and the done agree).
    pub fn journey_detail(&self, name: &str) -> AppResult<JourneyDetail> {
        let r = self.store.begin_read()?;
        let j = r.journey(name)?.ok_or_else(|| AppError::not_found("journey", name))?;
        let mut counts = Counts::default();
        for (_, e) in r.enrollments(name)? {
            counts.add(&j, &e);
        }
        let outcomes = r.step_outcomes(name)?;
        Ok(JourneyDetail { summary: JourneySummary { journey: j, counts }, outcomes })
    }
}
