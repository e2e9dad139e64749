//! `journey simulate`: a journey run in simulated time over the store's
//! history, step by step, with every send decided by the campaigns' DND
//! code; nothing is written.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use roaring::RoaringBitmap;
use serde::Serialize;

use super::model::{Action, Goal, Journey, Reentry, Trigger, with_entry};
use crate::campaign::run::{Audiences, dnd_contact};
use crate::campaign::{Decision, Message, PastSend, Policy, Request, decide_until_settled};
use crate::error::{Error, Result};
use crate::model::time::{Ts, format_ts};
use crate::store::Reader;

/// What happened at one step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StepTally {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// runs that reached the step
    pub reached: u64,
    /// outcome → runs: `waited`, `then`, `else`, `event`, `timeout`,
    /// `branch 1`, `holdout`, `sent`, `suppressed(cap)`, `done`, `exit`, `goal`
    pub outcomes: BTreeMap<String, u64>,
    /// of the sends: decided after a deferral (quiet hours)
    pub deferred: u64,
    /// runs still waiting here at the end
    pub waiting_at_end: u64,
}

/// A whole simulation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Simulation {
    pub from: String,
    pub until: String,
    /// runs that entered
    pub entered: u64,
    /// entries refused: `entry_if` not matched, or re-entry not allowed yet
    pub not_entered: BTreeMap<String, u64>,
    pub steps: Vec<StepTally>,
    pub completed: u64,
    /// left early, by reason
    pub exited: BTreeMap<String, u64>,
    /// still in the journey at `until`
    pub active: u64,
}

const ENTRY: u32 = u32::MAX;

struct Run {
    run: u32,
    entered: Ts,
    /// the entry event's instant (for `if_entry`)
    entry_event: Option<Ts>,
    active: bool,
    ended: Ts,
}

struct Sim<'a> {
    j: &'a Journey,
    r: &'a Reader,
    aud: &'a mut dyn Audiences,
    policy: &'a Policy,
    never: AtomicBool,
    contacts: Vec<Option<crate::campaign::Contact>>,
    history: HashMap<u32, Vec<PastSend>>,
    /// (kind, filter) → contact → event instants, sorted
    times: HashMap<(String, Option<String>), HashMap<u32, Vec<Ts>>>,
    /// segment expressions' members by (text, instant)
    members: HashMap<(String, Ts), RoaringBitmap>,
    /// events matching a filter at one instant, by (kind, filter, instant)
    at_instant: HashMap<(String, String, Ts), RoaringBitmap>,
}

fn utc(t: Ts) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A journey's segment expression parsed, its error naming the journey.
pub(crate) fn parse_expr(journey: &str, expr: &str) -> Result<crate::segment::Expr> {
    crate::segment::parse(expr).map_err(|e| Error::input(format!("journey {journey}: `{expr}`: {e}")))
}

/// The members of `expr` at `t`, counted once per (expression, instant):
/// the simulation and the runner ask the same conditions for many runs.
pub(crate) fn members_at<'m>(
    memo: &'m mut HashMap<(String, Ts), RoaringBitmap>,
    aud: &mut dyn Audiences,
    never: &AtomicBool,
    journey: &str,
    expr: &str,
    t: Ts,
) -> Result<&'m RoaringBitmap> {
    let key = (expr.to_string(), t);
    if !memo.contains_key(&key) {
        let m = aud.members(&parse_expr(journey, expr)?, t, never)?;
        memo.insert(key.clone(), m);
    }
    Ok(&memo[&key])
}

impl Sim<'_> {
    fn members(&mut self, expr: &str, t: Ts) -> Result<&RoaringBitmap> {
        members_at(&mut self.members, &mut *self.aud, &self.never, &self.j.name, expr, t)
    }

    /// Contacts with an event of `kind` matching `filter` at instant `t`.
    fn matching_at(&mut self, kind: &str, filter: &str, t: Ts) -> Result<bool> {
        let key = (kind.to_string(), filter.to_string(), t);
        if !self.at_instant.contains_key(&key) {
            let w = format_ts(t);
            let e = format!("count({kind} where {filter}, between {w} and {w}) >= 1");
            let m = self.members(&e, t)?.clone();
            self.at_instant.insert(key.clone(), m);
        }
        Ok(!self.at_instant[&key].is_empty())
    }

    /// Every contact's instants of events of `kind` (matching `filter`).
    fn times(&mut self, kind: &str, filter: &Option<String>) -> Result<&HashMap<u32, Vec<Ts>>> {
        let key = (kind.to_string(), filter.clone());
        if !self.times.contains_key(&key) {
            let schema = self.r.schema()?;
            let mut by: HashMap<u32, Vec<Ts>> = HashMap::new();
            if let Some((k, _)) = schema.kind(kind) {
                self.r.for_each_block_of(k, |_, b| {
                    for (c, t) in b.contact.iter().zip(&b.ts) {
                        by.entry(*c).or_default().push(*t);
                    }
                    Ok(())
                })?;
            }
            if let Some(f) = filter {
                // keep the instants at which some event matches, then the contacts among them
                let mut instants: Vec<Ts> = by.values().flatten().copied().collect();
                instants.sort_unstable();
                instants.dedup();
                let mut keep: HashMap<Ts, RoaringBitmap> = HashMap::new();
                for t in instants {
                    if self.matching_at(kind, f, t)? {
                        keep.insert(t, self.at_instant[&(kind.to_string(), f.clone(), t)].clone());
                    }
                }
                for (c, ts) in by.iter_mut() {
                    ts.retain(|t| keep.get(t).is_some_and(|m| m.contains(*c)));
                }
                by.retain(|_, v| !v.is_empty());
            }
            for v in by.values_mut() {
                v.sort_unstable();
            }
            self.times.insert(key.clone(), by);
        }
        Ok(&self.times[&key])
    }

    /// The first event of `kind` (matching `filter`) for `c` in (a, b].
    fn first_in(&mut self, c: u32, kind: &str, filter: &Option<String>, a: Ts, b: Ts) -> Result<Option<Ts>> {
        Ok(self.times(kind, filter)?.get(&c).and_then(|v| v.iter().copied().find(|&t| t > a && t <= b)))
    }

    fn tz(&self, c: u32) -> Tz {
        self.contacts.get(c as usize).copied().flatten().and_then(|x| x.timezone).unwrap_or(self.policy.timezone)
    }

    /// The moment a goal is reached in (a, b], if one is.
    fn goal_in(&mut self, c: u32, a: Ts, b: Ts, entered: Ts) -> Result<Option<Ts>> {
        let mut best: Option<Ts> = None;
        for g in self.j.goals.clone() {
            let at = match &g {
                Goal::Event { kind, filter } => self.first_in(c, kind, filter, a.max(entered), b)?,
                Goal::Segment { expr } => {
                    let e = with_entry(expr, entered);
                    if self.members(&e, b)?.contains(c) { Some(b) } else { None }
                }
            };
            best = match (best, at) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
        }
        Ok(best)
    }
}

/// A run's place in the random split: the same for a (journey, contact,
/// run) every time (FNV-1a), so a simulation and the real run agree.
pub fn split_bucket(journey: &str, contact: u32, run: u32) -> u8 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in journey.bytes().chain(contact.to_le_bytes()).chain(run.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 100) as u8
}

/// Runs `j` from `from` to `until` over the store's history (events after
/// `from` happen as recorded), counting what every step does.
pub fn simulate(
    j: &Journey,
    r: &Reader,
    aud: &mut dyn Audiences,
    policy: &Policy,
    from: Ts,
    until: Ts,
) -> Result<Simulation> {
    let mut contacts = Vec::new();
    r.for_each_contact_view(|v| {
        let id = v.id as usize;
        if contacts.len() <= id {
            contacts.resize(id + 1, None);
        }
        contacts[id] = Some(dnd_contact(&v));
    })?;
    let mut history: HashMap<u32, Vec<PastSend>> = HashMap::new();
    r.for_each_delivery(|c, _, d| {
        if d.is_send() {
            history.entry(c).or_default().push(PastSend { at: utc(d.at), channel: d.channel, priority: d.priority });
        }
    })?;
    let mut s = Sim {
        j,
        r,
        aud,
        policy,
        never: AtomicBool::new(false),
        contacts,
        history,
        times: HashMap::new(),
        members: HashMap::new(),
        at_instant: HashMap::new(),
    };
    let mut out = Simulation {
        from: format_ts(from),
        until: format_ts(until),
        steps: j
            .steps
            .iter()
            .map(|st| StepTally { name: st.name.clone(), kind: st.action.kind().into(), ..Default::default() })
            .collect(),
        ..Default::default()
    };
    // (moment, contact, step or ENTRY, previous moment / entry event)
    let mut agenda: BinaryHeap<Reverse<(Ts, u32, u32, Ts)>> = BinaryHeap::new();
    match &j.trigger {
        Trigger::Event { kind, filter } => {
            // a journey not yet started looks back on events before `from`
            // (the latest per contact, entering at `from`), as its start will
            let back = j.lookback.as_ref().filter(|_| j.started_at.is_none_or(|s| s >= from)).map_or(0, |d| d.secs);
            for (c, ts) in s.times(kind, filter)?.clone() {
                if let Some(&e) = ts.iter().rev().find(|&&e| e > from - back && e <= from) {
                    agenda.push(Reverse((from, c, ENTRY, e)));
                }
                for t in ts.into_iter().filter(|&t| t > from && t <= until) {
                    agenda.push(Reverse((t, c, ENTRY, t)));
                }
            }
        }
        Trigger::AfterLast { kind, filter, delay } => {
            for (c, ts) in s.times(kind, filter)?.clone() {
                for (i, &e) in ts.iter().enumerate() {
                    let m = e + delay.secs;
                    let superseded = ts.get(i + 1).is_some_and(|&n| n <= m);
                    if !superseded && m > from && m <= until {
                        agenda.push(Reverse((m, c, ENTRY, e)));
                    }
                }
            }
        }
        Trigger::Segment { expr } => {
            // members when it starts, then those who join at each UTC midnight
            let mut before = RoaringBitmap::new();
            let mut t = from;
            loop {
                let now = s.members(expr, t)?.clone();
                for c in &(&now - &before) {
                    agenda.push(Reverse((t, c, ENTRY, t)));
                }
                before = now;
                t = (t.div_euclid(86_400) + 1) * 86_400;
                if t > until {
                    break;
                }
            }
        }
    }
    let mut runs: HashMap<u32, Run> = HashMap::new();
    let end = j.steps.len() as u32;
    while let Some(Reverse((t, c, step, prev))) = agenda.pop() {
        if t > until {
            if step != ENTRY && step < end {
                // a goal reached by `until`, during a wait that outlasts it, ends the run there
                let entered = runs.get(&c).map_or(prev, |r| r.entered);
                if s.goal_in(c, prev, until, entered)?.is_some() {
                    *out.exited.entry("goal".into()).or_default() += 1;
                } else {
                    out.steps[step as usize].waiting_at_end += 1;
                    out.active += 1;
                }
            }
            continue;
        }
        if step == ENTRY {
            let last = runs.get(&c);
            let allowed = match (last, &j.reentry) {
                (None, _) => true,
                (Some(r), _) if r.active => false,
                (Some(_), Reentry::Once) => false,
                (Some(r), Reentry::AfterExit) => r.ended <= t,
                (Some(r), Reentry::AfterWindow(d)) => r.ended <= t && t >= r.entered + d.secs,
            };
            if !allowed {
                *out.not_entered.entry("reentry".into()).or_default() += 1;
                continue;
            }
            if let Some(cond) = &j.entry_if
                && !s.members(cond, t)?.contains(c)
            {
                *out.not_entered.entry("entry_if".into()).or_default() += 1;
                continue;
            }
            // an event looked back on: the run counts from it, unless a goal came since
            let entered = if matches!(j.trigger, Trigger::Event { .. }) { prev } else { t };
            if entered < t && s.goal_in(c, entered, t, entered)?.is_some() {
                *out.not_entered.entry("goal".into()).or_default() += 1;
                continue;
            }
            let n = runs.get(&c).map_or(1, |r| r.run + 1);
            let entry_event = matches!(j.trigger, Trigger::Event { .. } | Trigger::AfterLast { .. }).then_some(prev);
            runs.insert(c, Run { run: n, entered, entry_event, active: true, ended: 0 });
            out.entered += 1;
            agenda.push(Reverse((t, c, 0, t)));
            continue;
        }
        let (run_no, entered, entry_event) = {
            let r = runs.get(&c).expect("entered");
            (r.run, r.entered, r.entry_event)
        };
        let finish = |runs: &mut HashMap<u32, Run>, out: &mut Simulation, reason: Option<&str>, at: Ts| {
            if let Some(r) = runs.get_mut(&c) {
                r.active = false;
                r.ended = at;
            }
            match reason {
                Some(x) => *out.exited.entry(x.into()).or_default() += 1,
                None => out.completed += 1,
            }
        };
        if step >= end {
            finish(&mut runs, &mut out, None, t);
            continue;
        }
        let i = step as usize;
        // a goal reached while waiting for this step ends the run
        if let Some(g) = s.goal_in(c, prev, t, entered)? {
            finish(&mut runs, &mut out, Some("goal"), g);
            continue;
        }
        let st = &j.steps[i];
        out.steps[i].reached += 1;
        let mut tally = |what: String| *out.steps[i].outcomes.entry(what).or_default() += 1;
        match &st.action {
            Action::Wait { dur, at } => {
                tally("waited".into());
                let due = super::run::wait_end(s.tz(c), t, dur.as_ref().map_or(0, |d| d.secs), *at);
                agenda.push(Reverse((due, c, st.next as u32, t)));
            }
            Action::WaitFor { kind, filter, timeout, on_event } => {
                match s.first_in(c, kind, filter, t, t + timeout.secs)? {
                    Some(e) => {
                        tally("event".into());
                        agenda.push(Reverse((e, c, *on_event as u32, t)));
                    }
                    None => {
                        tally("timeout".into());
                        agenda.push(Reverse((t + timeout.secs, c, st.next as u32, t)));
                    }
                }
            }
            Action::If { expr, then, otherwise } => {
                let e = with_entry(expr, entered);
                let yes = s.members(&e, t)?.contains(c);
                tally(if yes { "then" } else { "else" }.into());
                agenda.push(Reverse((t, c, if yes { *then } else { *otherwise } as u32, t)));
            }
            Action::IfEntry { filter, then, otherwise } => {
                let kind = match &j.trigger {
                    Trigger::Event { kind, .. } | Trigger::AfterLast { kind, .. } => kind.clone(),
                    Trigger::Segment { .. } => String::new(),
                };
                let yes = match entry_event {
                    Some(te) if !kind.is_empty() => {
                        s.matching_at(&kind, filter, te)?
                            && s.at_instant[&(kind.clone(), filter.clone(), te)].contains(c)
                    }
                    _ => false,
                };
                tally(if yes { "then" } else { "else" }.into());
                agenda.push(Reverse((t, c, if yes { *then } else { *otherwise } as u32, t)));
            }
            Action::Split { branches } => {
                let b = split_bucket(&j.name, c, run_no);
                let mut acc = 0u16;
                let mut chosen = (branches.len() - 1, branches[branches.len() - 1].next);
                for (k, br) in branches.iter().enumerate() {
                    acc += u16::from(br.percent);
                    if u16::from(b) < acc {
                        chosen = (k, br.next);
                        break;
                    }
                }
                match chosen.1 {
                    Some(n) => {
                        tally(format!("branch {}", chosen.0 + 1));
                        agenda.push(Reverse((t, c, n as u32, t)));
                    }
                    None => {
                        tally("holdout".into());
                        finish(&mut runs, &mut out, Some("holdout"), t);
                    }
                }
            }
            Action::Send { channel, priority, .. } => {
                let Some(info) = s.contacts.get(c as usize).copied().flatten() else { continue };
                let hist = s.history.get(&c).map_or(&[][..], Vec::as_slice);
                let req = Request {
                    message: Message { channel: *channel, priority: *priority, at: utc(t) },
                    contact: &info,
                    history: hist,
                    scheduled: &[],
                    already_received: false,
                };
                let settled = decide_until_settled(s.policy, &req);
                let at = settled.at.timestamp();
                if at > t {
                    // deferred: as the runner does, a goal reached before the
                    // new moment ends the run unsent, and a deferral that
                    // outlasts `until` is still waiting at this step
                    if let Some(g) = s.goal_in(c, t, at.min(until), entered)? {
                        finish(&mut runs, &mut out, Some("goal"), g);
                        continue;
                    }
                    if at > until {
                        out.steps[i].waiting_at_end += 1;
                        out.active += 1;
                        continue;
                    }
                }
                if !settled.deferrals.is_empty() {
                    out.steps[i].deferred += 1;
                }
                let what = match &settled.decision {
                    Decision::Send => {
                        s.history.entry(c).or_default().push(PastSend {
                            at: settled.at,
                            channel: *channel,
                            priority: *priority,
                        });
                        "sent".to_string()
                    }
                    Decision::Suppress(r) => format!("suppressed({})", r.code()),
                    Decision::Defer { .. } => "deferred".to_string(),
                };
                *out.steps[i].outcomes.entry(what).or_default() += 1;
                agenda.push(Reverse((at.max(t), c, st.next as u32, t)));
            }
            Action::TagAdd(_) | Action::TagRemove(_) | Action::Score(_) | Action::Set { .. } => {
                tally("done".into());
                agenda.push(Reverse((t, c, st.next as u32, t)));
            }
            Action::Exit => {
                tally("exit".into());
                finish(&mut runs, &mut out, Some("exit"), t);
            }
        }
    }
    Ok(out)
}
