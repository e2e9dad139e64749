//! The journey runner: the scheduler's part that lets contacts enter
//! active journeys and moves them through their steps, with every message
//! decided by the same DND code and ledger as campaigns.
//!
//! **A tick** ([`Scheduler::journeys_step`] at moment `t`) takes, for each
//! active journey, everything due in (cursor, t], in time order: the
//! durable timers due, the entries (trigger events, the moments after a
//! last event, segment joins at start and at each UTC midnight), and the
//! wake-ups of goal and awaited events. Each is done at its own instant, as
//! `journey simulate` does, so a run over the same period agrees with the
//! simulation. The cursor (where entries were last looked for) is kept in
//! the store; an event imported with a time at or before it does not make
//! its contact enter.
//!
//! **Exactly once.** What a tick does is written in chunks: one transaction
//! holds the chunk's enrollments (and their timers), one step record per
//! (journey, contact, run, step), the timeline entries, tags, scores and
//! attributes, promotion codes, and `pending` delivery records; then the
//! messages are rendered and handed to the adapters (idempotent by key),
//! then marked `sent`. A kill before a commit leaves the durable state of
//! before the chunk, which the next tick does again the same way (entries
//! already made are recognised by their entry instant); a kill after it
//! leaves `pending` records that the next start delivers.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveTime, Utc};
use roaring::RoaringBitmap;
use rustc_hash::{FxHashMap, FxHashSet};

use super::model::{
    Action, Enrollment, Goal, Journey, Phase, PromoCode, RunState, Status, StepRecord, Trigger, may_enter, with_entry,
};
use super::simulate::{members_at, parse_expr, split_bucket};
use crate::campaign::model::{Delivery, DeliveryState, delivery_key, instant_in};
use crate::campaign::run::{Future, MessageSpec, Scheduler};
use crate::campaign::template::Templates;
use crate::campaign::{Decision, Message, Priority, Request, ScheduledSend, decide_until_settled};
use crate::error::{Error, Result};
use crate::model::contact::{Action as TimelineEntry, ActionKind};
use crate::model::time::{Ts, format_ts};
use crate::store::Reader;

use super::write::{Chunk, write_chunk};

/// A chunk's transaction in flight on the writer thread.
type Writing<'s> = std::thread::ScopedJoinHandle<'s, Result<Option<Vec<(u32, String, Delivery)>>>>;

/// With `$REACH_JOURNEY_TRACE` set, the phases of each tick on stderr.
pub(super) fn trace(what: &str, since: std::time::Instant) {
    if std::env::var_os("REACH_JOURNEY_TRACE").is_some() {
        eprintln!("journeys: {what} {} ms", since.elapsed().as_millis());
    }
}

/// Journey messages are delivery records of the "campaign" `journey:NAME`.
pub const JOURNEY_PREFIX: &str = "journey:";

/// Transactions hold at most this many contacts' changes.
fn chunk_size() -> usize {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        std::env::var("REACH_SCHEDULER_CHUNK").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(50_000)
    })
}

fn utc(t: Ts) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A duration as people say it: `4h`, `2d`, `1d 6h`, `45m`.
pub fn human(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m}m"));
    }
    parts.join(" ")
}

/// A unique-looking code `PREFIX-XXXX` for (journey, contact, run, step),
/// the same on every replay; `salt` picks another when one is taken, and
/// longer codes after a few tries.
pub fn promo_code(prefix: &str, journey: &str, contact: u32, run: u32, step: u32, salt: u32) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in journey.bytes().chain(contact.to_le_bytes()).chain(run.to_le_bytes()).chain(step.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= u64::from(salt).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h = h.wrapping_mul(0x0100_0000_01b3) ^ (h >> 29);
    let len = 4 + (salt / 8) as usize;
    let code: String = (0..len).map(|i| ALPHABET[((h >> (i * 5)) & 31) as usize] as char).collect();
    format!("{prefix}-{code}")
}

/// An event kind and its optional `where` filter.
type EventKey = (String, Option<String>);

/// What a tick has to do, in time order: (instant, contact, what, the
/// entry event's instant).
type Item = Reverse<(Ts, u32, u8, Option<Ts>)>;
const WAKE: u8 = 0;
const ENTER: u8 = 1;

/// One journey's tick in progress: its agenda, the runs it changed and
/// what it will write.
struct Tick<'j> {
    j: &'j Journey,
    t: Ts,
    reader: Reader,
    agenda: BinaryHeap<Item>,
    runs: FxHashMap<u32, Option<Enrollment>>,
    /// each loaded run's timer moment as stored (to move it without reading it again)
    stored_due: FxHashMap<u32, Option<Ts>>,
    dirty: FxHashSet<u32>,
    steps: Vec<(u32, u32, u32, StepRecord)>,
    timeline: Vec<(u32, TimelineEntry)>,
    deliveries: Vec<(u32, String, Delivery)>,
    promos: Vec<(String, PromoCode)>,
    promo_ctx: HashMap<String, (String, u8, Ts)>,
    taken: HashSet<String>,
    tags: BTreeMap<(String, bool), RoaringBitmap>,
    scores: BTreeMap<u32, i64>,
    attrs: BTreeMap<u32, Vec<(String, String)>>,
    /// events of the goals' and awaited kinds in (cursor, t]: (kind, filter)
    /// → contact → instants (a few kinds: looked up without building a key)
    events: Vec<(EventKey, HashMap<u32, Vec<Ts>>)>,
    members: HashMap<(String, Ts), RoaringBitmap>,
    entry_match: HashMap<(String, Ts), HashSet<u32>>,
    /// by a send's priority: the campaigns of higher priority to come
    futures: HashMap<Priority, Vec<Future>>,
    scheduled: Vec<ScheduledSend>,
}

impl Tick<'_> {
    fn run(&mut self, c: u32) -> Result<Option<Enrollment>> {
        if let Some(e) = self.runs.get(&c) {
            return Ok(e.clone());
        }
        let e = self.reader.enrollment(&self.j.name, c)?;
        self.stored_due.insert(c, e.as_ref().and_then(Enrollment::due));
        self.runs.insert(c, e.clone());
        Ok(e)
    }

    /// Loads the runs of every contact on the agenda at once.
    fn preload(&mut self) -> Result<()> {
        let mut ids: Vec<u32> = self.agenda.iter().map(|Reverse(x)| x.1).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|c| !self.runs.contains_key(c));
        self.runs.reserve(ids.len());
        self.stored_due.reserve(ids.len());
        for (c, e) in ids.iter().zip(self.reader.enrollments_of(&self.j.name, &ids)?) {
            self.stored_due.insert(*c, e.as_ref().and_then(Enrollment::due));
            self.runs.insert(*c, e);
        }
        Ok(())
    }

    fn set(&mut self, c: u32, e: Enrollment) {
        if let RunState::Waiting { until } = e.state
            && until <= self.t
        {
            self.agenda.push(Reverse((until, c, WAKE, None)));
        }
        self.runs.insert(c, Some(e));
        self.dirty.insert(c);
    }

    /// A timeline line; what a run does at one instant makes one line
    /// (`waited 4h, email sent with code CART5-7KQ2, completed`).
    fn note(&mut self, c: u32, at: Ts, what: String) {
        if let Some((lc, last)) = self.timeline.last_mut()
            && *lc == c
            && last.ts == at
            && let ActionKind::Journey { what: line, .. } = &mut last.what
        {
            line.push_str(", ");
            line.push_str(&what);
            return;
        }
        let what = ActionKind::Journey { journey: self.j.name.clone(), what };
        self.timeline.push((c, TimelineEntry { ts: at, what, detail: String::new() }));
    }

    fn record(&mut self, c: u32, e: &Enrollment, at: Ts, outcome: String, code: Option<String>, deferred: bool) {
        self.steps.push((c, e.run, e.step, StepRecord { at, outcome, code, deferred }));
    }

    /// The first event of (kind, filter) for `c` in (a, b], among those of the tick.
    fn first_event(&self, c: u32, kind: &str, filter: &Option<String>, a: Ts, b: Ts) -> Option<Ts> {
        let (_, by) = self.events.iter().find(|((k, f), _)| k == kind && f == filter)?;
        by.get(&c)?.iter().copied().find(|&x| x > a && x <= b)
    }

    /// The first goal event reached by `c` in (a, b], with the goal's kind.
    fn goal_event(&self, c: u32, a: Ts, b: Ts) -> Option<(Ts, String)> {
        let mut best: Option<(Ts, String)> = None;
        for g in &self.j.goals {
            if let Goal::Event { kind, filter } = g
                && let Some(x) = self.first_event(c, kind, filter, a, b)
                && best.as_ref().is_none_or(|(y, _)| x < *y)
            {
                best = Some((x, kind.clone()));
            }
        }
        best
    }

    fn writes(&self) -> usize {
        self.dirty.len()
    }

    /// Takes what the tick did since the last chunk, in key order. Each
    /// run's timer moment is taken as written from here on (the chunk is
    /// written before any later one, or the tick ends).
    fn take_chunk(&mut self, cursor: Option<Ts>) -> Chunk {
        let mut runs = Vec::with_capacity(self.dirty.len());
        for c in self.dirty.drain() {
            if let Some(Some(e)) = self.runs.get(&c) {
                let before = self.stored_due.insert(c, e.due()).flatten();
                runs.push((c, before, e.clone()));
            }
        }
        let mut chunk = Chunk {
            runs,
            steps: std::mem::take(&mut self.steps),
            promos: std::mem::take(&mut self.promos),
            sends: std::mem::take(&mut self.deliveries),
            timeline: std::mem::take(&mut self.timeline),
            tags: std::mem::take(&mut self.tags),
            scores: std::mem::take(&mut self.scores),
            attrs: std::mem::take(&mut self.attrs),
            cursor,
        };
        chunk.sort();
        chunk
    }
}

/// Where a journey that has never ticked looks for entries from: its start,
/// or earlier by its `lookback`.
fn first_cursor(j: &Journey) -> Option<Ts> {
    j.started_at.map(|s| s - j.lookback.as_ref().map_or(0, |d| d.secs))
}

fn end(e: &mut Enrollment, at: Ts, reason: Option<&str>) {
    e.state = match reason {
        Some(r) => RunState::Exited { at, reason: r.to_string() },
        None => RunState::Completed { at },
    };
    e.since = at;
    e.phase = Phase::Arrive;
}

/// Kinds whose events wake waiting runs: the goals' and the `wait_for` steps'.
fn awaited(j: &Journey) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for g in &j.goals {
        if let Goal::Event { kind, filter } = g {
            out.push((kind.clone(), filter.clone()));
        }
    }
    for s in &j.steps {
        if let Action::WaitFor { kind, filter, .. } = &s.action {
            out.push((kind.clone(), filter.clone()));
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Scheduler<'_> {
    /// The next moment a journey has something to do (entries, timers,
    /// awaited events), if any.
    pub(crate) fn journeys_next(&mut self) -> Result<Option<Ts>> {
        let r = self.store.begin_read()?;
        let journeys: Vec<Journey> = r.journeys()?.into_iter().filter(|j| j.status == Status::Active).collect();
        if journeys.is_empty() {
            return Ok(None);
        }
        let names: HashSet<&str> = journeys.iter().map(|j| j.name.as_str()).collect();
        let mut next = r.next_timer_among(&names)?;
        let mut min = |x: Option<Ts>| {
            if let Some(x) = x {
                next = Some(next.map_or(x, |n: Ts| n.min(x)));
            }
        };
        for j in &journeys {
            let stored = r.journey_cursor(&j.name)?;
            let cursor = stored.or_else(|| first_cursor(j)).unwrap_or(i64::MIN + 1);
            match &j.trigger {
                Trigger::Event { kind, filter } => {
                    // events looked back on enter at the start
                    let floor = if stored.is_none() { j.started_at.unwrap_or(cursor) } else { cursor };
                    min(self.engine.first_event_after(kind, filter.as_deref(), cursor)?.map(|e| e.max(floor)));
                }
                Trigger::AfterLast { kind, filter, delay } => {
                    let e =
                        self.engine.first_event_after(kind, filter.as_deref(), cursor.saturating_sub(delay.secs))?;
                    min(e.map(|e| e + delay.secs));
                }
                Trigger::Segment { .. } => {
                    min(Some(if stored.is_none() { cursor } else { (cursor.div_euclid(86_400) + 1) * 86_400 }));
                }
            }
            for (kind, filter) in awaited(j) {
                min(self.engine.first_event_after(&kind, filter.as_deref(), cursor)?);
            }
        }
        Ok(next)
    }

    /// Does what active journeys have due at or before `t` (see the module
    /// docs); a paused journey's cursor follows the clock (nobody enters
    /// while it is paused).
    pub(crate) fn journeys_step(&mut self, t: Ts) -> Result<()> {
        let started = std::time::Instant::now();
        let out = self.journeys_step_inner(t);
        self.totals.journey_ms += started.elapsed().as_millis() as u64;
        out
    }

    fn journeys_step_inner(&mut self, t: Ts) -> Result<()> {
        let journeys = self.store.begin_read()?.journeys()?;
        for j in journeys {
            match j.status {
                Status::Active => self.run_journey(&j, t)?,
                Status::Paused => {
                    let mut w = self.store.begin_write()?;
                    if w.journey_cursor(&j.name)?.is_none_or(|c| c < t) {
                        w.set_journey_cursor(&j.name, t)?;
                        w.commit()?;
                    }
                }
                Status::Draft | Status::Stopped => {}
            }
        }
        Ok(())
    }

    fn run_journey(&mut self, j: &Journey, t: Ts) -> Result<()> {
        let started = std::time::Instant::now();
        let reader = self.store.begin_read()?;
        let stored = reader.journey_cursor(&j.name)?;
        if stored.is_none() && j.started_at.is_some_and(|s| t < s) {
            // a tick before the journey's start (a clock set back): nothing yet
            return Ok(());
        }
        let cursor = stored.or_else(|| first_cursor(j)).unwrap_or(t);
        let mut tick = Tick {
            j,
            t,
            reader,
            agenda: BinaryHeap::new(),
            runs: FxHashMap::default(),
            stored_due: FxHashMap::default(),
            dirty: FxHashSet::default(),
            steps: Vec::new(),
            timeline: Vec::new(),
            deliveries: Vec::new(),
            promos: Vec::new(),
            promo_ctx: HashMap::new(),
            taken: HashSet::new(),
            tags: BTreeMap::new(),
            scores: BTreeMap::new(),
            attrs: BTreeMap::new(),
            events: Vec::new(),
            members: HashMap::new(),
            entry_match: HashMap::new(),
            futures: HashMap::new(),
            scheduled: Vec::new(),
        };
        let due = tick.reader.due_timers_of(&j.name, t)?;
        // sized once: growing maps of a million runs costs more than filling them
        tick.agenda.reserve(due.len());
        tick.runs.reserve(due.len());
        tick.stored_due.reserve(due.len());
        tick.dirty.reserve(due.len().min(chunk_size()));
        for (due, c, e) in due {
            tick.agenda.push(Reverse((due, c, WAKE, None)));
            tick.stored_due.insert(c, Some(due));
            tick.runs.insert(c, Some(e));
        }
        if cursor < t || stored.is_none() {
            self.entries(&mut tick, cursor, stored.is_none())?;
            for (kind, filter) in awaited(j) {
                let evs = self.engine.event_times(&kind, filter.as_deref(), cursor.saturating_add(1), t)?;
                let mut by: HashMap<u32, Vec<Ts>> = HashMap::new();
                for (e, c) in evs {
                    by.entry(c).or_default().push(e);
                    tick.agenda.push(Reverse((e, c, WAKE, None)));
                }
                tick.events.push(((kind, filter), by));
            }
        }
        trace("agenda", started);
        let t0 = std::time::Instant::now();
        tick.preload()?;
        trace("load runs", t0);
        // a chunk is written on a second thread while the next one is
        // worked out; its messages go out once its commit has landed
        let (store, name) = (self.store, j.name.as_str());
        std::thread::scope(|s| {
            let mut writing: Option<Writing<'_>> = None;
            let mut t0 = std::time::Instant::now();
            while let Some(Reverse((at, c, what, event))) = tick.agenda.pop() {
                if what == ENTER {
                    self.enter(&mut tick, c, at, event)?;
                } else {
                    self.wake(&mut tick, c, at)?;
                }
                if tick.writes() >= chunk_size() {
                    trace("steps", t0);
                    let chunk = tick.take_chunk(None);
                    if let Some(h) = writing.take()
                        && !self.landed(h, &mut tick)?
                    {
                        return Ok(());
                    }
                    writing = Some(s.spawn(move || write_chunk(store, name, chunk)));
                    t0 = std::time::Instant::now();
                }
            }
            let chunk = tick.take_chunk(Some(t.max(cursor)));
            if let Some(h) = writing.take()
                && !self.landed(h, &mut tick)?
            {
                return Ok(());
            }
            let last = write_chunk(store, name, chunk);
            self.delivered(last, &mut tick).map(|_| ())
        })
    }

    /// Waits for a chunk's transaction; false if the journey was paused or
    /// stopped meanwhile (the tick stops: what it did since is dropped).
    fn landed(&mut self, h: Writing<'_>, tick: &mut Tick<'_>) -> Result<bool> {
        let out = h.join().unwrap_or_else(|_| Err(Error::runtime("the journey writer thread panicked")));
        self.delivered(out, tick)
    }

    /// After a chunk's commit: reads from it on, and delivers its messages.
    fn delivered(&mut self, out: Result<Option<Vec<(u32, String, Delivery)>>>, tick: &mut Tick<'_>) -> Result<bool> {
        let Some(sends) = out? else { return Ok(false) };
        tick.reader = self.store.begin_read()?;
        if !sends.is_empty() {
            self.deliver_journey(tick.j, sends, &tick.promo_ctx)?;
        }
        Ok(true)
    }

    /// Pushes the entries in (cursor, t] (and, on the first tick of a
    /// segment journey, its members at the start).
    fn entries(&mut self, tick: &mut Tick<'_>, cursor: Ts, first: bool) -> Result<()> {
        let (j, t) = (tick.j, tick.t);
        match &j.trigger {
            Trigger::Event { kind, filter } => {
                // events before the start (looked back on): the latest per contact, entering at the start
                let start = j.started_at.unwrap_or(cursor);
                let mut before: HashMap<u32, Ts> = HashMap::new();
                for (e, c) in self.engine.event_times(kind, filter.as_deref(), cursor.saturating_add(1), t)? {
                    if e <= start {
                        let x = before.entry(c).or_insert(e);
                        *x = (*x).max(e);
                    } else {
                        tick.agenda.push(Reverse((e, c, ENTER, Some(e))));
                    }
                }
                for (c, e) in before {
                    tick.agenda.push(Reverse((start, c, ENTER, Some(e))));
                }
            }
            Trigger::AfterLast { kind, filter, delay } => {
                let lo = cursor.saturating_sub(delay.secs).saturating_add(1);
                let mut by: HashMap<u32, Vec<Ts>> = HashMap::new();
                for (e, c) in self.engine.event_times(kind, filter.as_deref(), lo, t)? {
                    by.entry(c).or_default().push(e);
                }
                for (c, ts) in by {
                    for (i, &e) in ts.iter().enumerate() {
                        let m = e + delay.secs;
                        let superseded = ts.get(i + 1).is_some_and(|&n| n <= m);
                        if !superseded && m > cursor && m <= t {
                            tick.agenda.push(Reverse((m, c, ENTER, Some(e))));
                        }
                    }
                }
            }
            Trigger::Segment { expr } => {
                let e = parse_expr(&j.name, expr)?;
                let mut before = if first {
                    let m = self.engine.members(&e, cursor, &self.never)?;
                    for c in &m {
                        tick.agenda.push(Reverse((cursor, c, ENTER, None)));
                    }
                    m
                } else {
                    self.engine.members(&e, cursor, &self.never)?
                };
                let mut m = (cursor.div_euclid(86_400) + 1) * 86_400;
                while m <= t {
                    let now = self.engine.members(&e, m, &self.never)?;
                    for c in &(&now - &before) {
                        tick.agenda.push(Reverse((m, c, ENTER, None)));
                    }
                    before = now;
                    m += 86_400;
                }
            }
        }
        Ok(())
    }

    fn member(&mut self, tick: &mut Tick<'_>, expr: &str, at: Ts, c: u32) -> Result<bool> {
        Ok(members_at(&mut tick.members, &mut *self.engine, &self.never, &tick.j.name, expr, at)?.contains(c))
    }

    fn enter(&mut self, tick: &mut Tick<'_>, c: u32, at: Ts, event: Option<Ts>) -> Result<()> {
        let last = tick.run(c)?;
        if let Some(l) = &last {
            // an entry this journey already made (a tick done again after a kill)
            if l.entered_at >= at || (event.is_some() && l.entry_event >= event) {
                return Ok(());
            }
        }
        if !may_enter(&tick.j.reentry, last.as_ref(), at) {
            return Ok(());
        }
        // an event looked back on (before the start): the run counts from
        // the event, and a goal reached since then means it has no reason to
        let looked_back =
            matches!(tick.j.trigger, Trigger::Event { .. }).then_some(event).flatten().filter(|&e| e < at);
        if let Some(ev) = looked_back
            && tick.goal_event(c, ev, at).is_some()
        {
            return Ok(());
        }
        if let Some(cond) = tick.j.entry_if.clone()
            && !self.member(tick, &cond, at, c)?
        {
            return Ok(());
        }
        let e = Enrollment {
            run: last.map_or(1, |l| l.run + 1),
            entered_at: looked_back.unwrap_or(at),
            step: 0,
            since: at,
            state: RunState::Waiting { until: at },
            entry_event: event,
            phase: Phase::Arrive,
        };
        tick.note(c, at, "entered".into());
        self.advance(tick, c, e, at)
    }

    fn wake(&mut self, tick: &mut Tick<'_>, c: u32, at: Ts) -> Result<()> {
        let Some(mut e) = tick.run(c)? else { return Ok(()) };
        let RunState::Waiting { until } = e.state else { return Ok(()) };
        if let Some((g, kind)) = tick.goal_event(c, e.since.max(e.entered_at), at) {
            end(&mut e, g, Some("goal"));
            tick.note(c, g, format!("exited on {kind}"));
            tick.set(c, e);
            return Ok(());
        }
        let j = tick.j;
        match e.phase {
            Phase::WaitFor => {
                let Action::WaitFor { kind, filter, timeout, on_event } = &j.steps[e.step as usize].action else {
                    return Err(Error::runtime(format!("journey {}: step {} is not a wait_for", j.name, e.step)));
                };
                let timeout_at = e.since + timeout.secs;
                if let Some(x) = tick.first_event(c, kind, filter, e.since, at.min(timeout_at)) {
                    tick.record(c, &e, x, "event".into(), None, false);
                    tick.note(c, x, format!("{kind} came"));
                    e.step = *on_event as u32;
                    self.advance(tick, c, e, x)
                } else if at >= timeout_at {
                    tick.record(c, &e, timeout_at, "timeout".into(), None, false);
                    tick.note(c, timeout_at, format!("no {kind} within {}", timeout.text));
                    e.step = j.steps[e.step as usize].next as u32;
                    self.advance(tick, c, e, timeout_at)
                } else {
                    Ok(())
                }
            }
            Phase::Arrive | Phase::Deferred if at >= until => {
                if e.phase == Phase::Arrive && until > e.since {
                    tick.note(c, until, format!("waited {}", human(until - e.since)));
                }
                self.advance(tick, c, e, until)
            }
            _ => Ok(()),
        }
    }

    /// Does the run's steps from `e.step` at instant `d` until one waits or
    /// the run ends.
    fn advance(&mut self, tick: &mut Tick<'_>, c: u32, mut e: Enrollment, mut d: Ts) -> Result<()> {
        let j = tick.j;
        let end_step = j.steps.len() as u32;
        loop {
            if e.step >= end_step {
                end(&mut e, d, None);
                tick.note(c, d, "completed".into());
                break;
            }
            let st = &j.steps[e.step as usize];
            self.totals.journey_steps += 1;
            match &st.action {
                Action::Wait { dur, at } => {
                    let due = wait_end(self.tz_of(c), d, dur.as_ref().map_or(0, |x| x.secs), *at);
                    tick.record(c, &e, d, "waited".into(), None, false);
                    e.step = st.next as u32;
                    e.since = d;
                    e.phase = Phase::Arrive;
                    e.state = RunState::Waiting { until: due };
                    if due > d {
                        break;
                    }
                }
                Action::WaitFor { timeout, .. } => {
                    e.since = d;
                    e.phase = Phase::WaitFor;
                    e.state = RunState::Waiting { until: d + timeout.secs };
                    break;
                }
                Action::If { expr, then, otherwise } => {
                    let yes = self.member(tick, &with_entry(expr, e.entered_at), d, c)?;
                    tick.record(c, &e, d, if yes { "then" } else { "else" }.into(), None, false);
                    e.step = if yes { *then } else { *otherwise } as u32;
                }
                Action::IfEntry { filter, then, otherwise } => {
                    let yes = match (&j.trigger, e.entry_event) {
                        (Trigger::Event { kind, .. } | Trigger::AfterLast { kind, .. }, Some(te)) => {
                            let key = (filter.clone(), te);
                            if !tick.entry_match.contains_key(&key) {
                                let set = self.engine.event_times(kind, Some(filter), te, te)?;
                                tick.entry_match.insert(key.clone(), set.into_iter().map(|x| x.1).collect());
                            }
                            tick.entry_match[&key].contains(&c)
                        }
                        _ => false,
                    };
                    tick.record(c, &e, d, if yes { "then" } else { "else" }.into(), None, false);
                    e.step = if yes { *then } else { *otherwise } as u32;
                }
                Action::Split { branches } => {
                    let b = u16::from(split_bucket(&j.name, c, e.run));
                    let mut acc = 0u16;
                    let mut chosen = (branches.len() - 1, branches[branches.len() - 1].next);
                    for (k, br) in branches.iter().enumerate() {
                        acc += u16::from(br.percent);
                        if b < acc {
                            chosen = (k, br.next);
                            break;
                        }
                    }
                    match chosen.1 {
                        Some(n) => {
                            tick.record(c, &e, d, format!("branch {}", chosen.0 + 1), None, false);
                            e.step = n as u32;
                        }
                        None => {
                            tick.record(c, &e, d, "holdout".into(), None, false);
                            end(&mut e, d, Some("holdout"));
                            tick.note(c, d, "held out (receives nothing)".into());
                            break;
                        }
                    }
                }
                Action::Send { channel, priority, promo, .. } => {
                    let Some(info) = self.contacts.get(c as usize).copied().flatten() else {
                        end(&mut e, d, Some("gone"));
                        break;
                    };
                    let deferred_before = e.phase == Phase::Deferred;
                    let name = format!("{JOURNEY_PREFIX}{}", j.name);
                    // campaigns of higher priority to come: a send may not take their place
                    if !tick.futures.contains_key(priority) {
                        let f = self.futures_above(&name, *priority, tick.t)?;
                        tick.futures.insert(*priority, f);
                    }
                    self.scheduled_for(c, &tick.futures[priority], &mut tick.scheduled);
                    let hist = self.ledger.history.get(&c).map_or(&[][..], Vec::as_slice);
                    let req = Request {
                        message: Message { channel: *channel, priority: *priority, at: utc(d) },
                        contact: &info,
                        history: hist,
                        scheduled: &tick.scheduled,
                        already_received: false,
                    };
                    let settled = decide_until_settled(&self.policy, &req);
                    let at = settled.at.timestamp();
                    if at > d {
                        if !deferred_before {
                            self.totals.deferred += 1;
                            tick.note(c, d, format!("{channel} deferred until {}", format_ts(at)));
                        }
                        e.since = d;
                        e.phase = Phase::Deferred;
                        e.state = RunState::Waiting { until: at };
                        break;
                    }
                    self.totals.decided += 1;
                    match settled.decision {
                        Decision::Send => {
                            self.totals.sent += 1;
                            let run = format!("{}.{}", e.run, e.step);
                            let key = delivery_key(&name, &run, c);
                            let code = match promo {
                                Some(p) => Some(self.issue_promo(tick, c, &e, p, d, &key)?),
                                None => None,
                            };
                            let rec = Delivery {
                                campaign: name.clone(),
                                run,
                                channel: *channel,
                                priority: *priority,
                                state: DeliveryState::Pending,
                                at: d,
                                deferred: deferred_before,
                            };
                            self.ledger.note_decided(c, &rec);
                            tick.deliveries.push((c, key, rec));
                            let what = match &code {
                                Some(x) => format!("{channel} sent with code {x}"),
                                None => format!("{channel} sent"),
                            };
                            tick.note(c, d, what);
                            tick.record(c, &e, d, "sent".into(), code, deferred_before);
                        }
                        Decision::Suppress(r) => {
                            self.totals.suppressed += 1;
                            tick.note(c, d, format!("{channel} suppressed: {r}"));
                            tick.record(c, &e, d, format!("suppressed({})", r.code()), None, deferred_before);
                        }
                        Decision::Defer { .. } => {
                            tick.record(c, &e, d, "deferred".into(), None, true);
                        }
                    }
                    e.phase = Phase::Arrive;
                    e.step = st.next as u32;
                }
                Action::TagAdd(tag) | Action::TagRemove(tag) => {
                    let add = matches!(st.action, Action::TagAdd(_));
                    tick.tags.entry((tag.clone(), add)).or_default().insert(c);
                    tick.note(c, d, format!("tag {}{tag}", if add { '+' } else { '-' }));
                    tick.record(c, &e, d, "done".into(), None, false);
                    e.step = st.next as u32;
                }
                Action::Score(n) => {
                    *tick.scores.entry(c).or_default() += n;
                    tick.note(c, d, format!("score {n:+}"));
                    tick.record(c, &e, d, "done".into(), None, false);
                    e.step = st.next as u32;
                }
                Action::Set { attribute, value } => {
                    tick.attrs.entry(c).or_default().push((attribute.clone(), value.clone()));
                    tick.note(c, d, format!("{attribute} set to {value}"));
                    tick.record(c, &e, d, "done".into(), None, false);
                    e.step = st.next as u32;
                }
                Action::Exit => {
                    tick.record(c, &e, d, "exit".into(), None, false);
                    end(&mut e, d, Some("exit"));
                    tick.note(c, d, "exited".into());
                    break;
                }
            }
            d = d.max(e.since);
        }
        tick.set(c, e);
        Ok(())
    }

    /// A new unique code for a send step, recorded in the tick.
    fn issue_promo(
        &mut self,
        tick: &mut Tick<'_>,
        c: u32,
        e: &Enrollment,
        p: &super::model::Promo,
        d: Ts,
        key: &str,
    ) -> Result<String> {
        let mut salt = 0;
        let code = loop {
            let code = promo_code(&p.prefix, &tick.j.name, c, e.run, e.step, salt);
            if !tick.taken.contains(&code) && !tick.reader.promo_exists(&code)? {
                break code;
            }
            salt += 1;
        };
        let valid_until = d + p.valid.secs;
        tick.taken.insert(code.clone());
        tick.promo_ctx.insert(key.to_string(), (code.clone(), p.percent, valid_until));
        tick.promos.push((
            code.clone(),
            PromoCode {
                journey: tick.j.name.clone(),
                contact: c,
                run: e.run,
                step: e.step,
                percent: p.percent,
                issued_at: d,
                valid_until,
            },
        ));
        Ok(code)
    }

    /// Renders and delivers a journey's `pending` messages, step by step.
    fn deliver_journey(
        &mut self,
        j: &Journey,
        rows: Vec<(u32, String, Delivery)>,
        promos: &HashMap<String, (String, u8, Ts)>,
    ) -> Result<()> {
        let mut by_step: BTreeMap<usize, Vec<(u32, String, Delivery)>> = BTreeMap::new();
        for row in rows {
            let step = row.2.run.split('.').nth(1).and_then(|s| s.parse().ok()).unwrap_or(usize::MAX);
            by_step.entry(step).or_default().push(row);
        }
        let name = format!("{JOURNEY_PREFIX}{}", j.name);
        for (step, rows) in by_step {
            let Some(Action::Send { channel, subject, body, .. }) = j.steps.get(step).map(|s| &s.action) else {
                continue;
            };
            let tpl = Templates::compile(*channel, subject, body)?;
            let spec = MessageSpec { name: &name, channel: *channel, tpl: &tpl, promos: Some(promos) };
            self.deliver(&spec, rows, None)?;
        }
        Ok(())
    }

    /// Delivers the `pending` messages of `journey` an interrupted run left.
    pub(crate) fn recover_journey(&mut self, journey: &str, rows: Vec<(u32, String, Delivery)>) -> Result<()> {
        let r = self.store.begin_read()?;
        let Some(j) = r.journey(journey)? else { return Ok(()) };
        let mut promos = HashMap::new();
        for (c, key, d) in &rows {
            let mut parts = d.run.split('.');
            let (Some(run), Some(step)) = (parts.next(), parts.next()) else { continue };
            let (Ok(run), Ok(step)) = (run.parse::<u32>(), step.parse::<u32>()) else { continue };
            for (rr, ss, rec) in r.steps_of(journey, *c)? {
                if rr == run
                    && ss == step
                    && let Some(code) = rec.code
                    && let Some(Action::Send { promo: Some(p), .. }) = j.steps.get(step as usize).map(|s| &s.action)
                {
                    promos.insert(key.clone(), (code, p.percent, rec.at + p.valid.secs));
                }
            }
        }
        drop(r);
        self.deliver_journey(&j, rows, &promos)
    }
}

/// When a wait of `secs` begun at `t` ends, in zone `tz`. With a local
/// time `at` (minutes past midnight): a wait of whole days ends on the
/// local day that many days after `t`'s, at that time ("day 3 at 10:00",
/// however late on its day the wait began); any other wait at the first
/// such local time once `secs` have passed.
pub fn wait_end(tz: chrono_tz::Tz, t: Ts, secs: i64, at: Option<u32>) -> Ts {
    let Some(m) = at else { return t + secs };
    if secs > 0 && secs % 86_400 == 0 {
        let Some(hm) = NaiveTime::from_num_seconds_from_midnight_opt(m * 60, 0) else { return t + secs };
        let day = utc(t).with_timezone(&tz).date_naive() + Duration::days(secs / 86_400);
        return instant_in(tz, day.and_time(hm)).max(t);
    }
    next_local(tz, t + secs, m)
}

/// The first instant at or after `t` whose local time in `tz` is `minutes`
/// after midnight.
pub fn next_local(tz: chrono_tz::Tz, t: Ts, minutes: u32) -> Ts {
    let Some(hm) = NaiveTime::from_num_seconds_from_midnight_opt(minutes * 60, 0) else { return t };
    let day = utc(t).with_timezone(&tz).date_naive();
    for d in 0..3 {
        let at = instant_in(tz, (day + Duration::days(d)).and_time(hm));
        if at >= t {
            return at;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promo_codes_are_stable_and_vary() {
        let a = promo_code("CART5", "abandoned_cart", 7, 1, 8, 0);
        assert_eq!(a, promo_code("CART5", "abandoned_cart", 7, 1, 8, 0));
        assert!(a.starts_with("CART5-") && a.len() == "CART5-".len() + 4, "{a}");
        assert_ne!(a, promo_code("CART5", "abandoned_cart", 8, 1, 8, 0));
        assert_ne!(a, promo_code("CART5", "abandoned_cart", 7, 1, 8, 1));
        assert_eq!(promo_code("X", "j", 1, 1, 1, 8).len(), "X-".len() + 5);
        let many: HashSet<String> = (0..10_000).map(|c| promo_code("P", "j", c, 1, 1, 0)).collect();
        assert!(many.len() > 9_900, "{}", many.len());
    }

    /// Whole days with a time of day count calendar days in the contact's
    /// zone; shorter waits take the next such time once they have passed.
    #[test]
    fn a_wait_of_days_at_a_time_lands_on_that_day() {
        let rome: chrono_tz::Tz = "Europe/Rome".parse().unwrap();
        let ts = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        // Tue 24 Nov 14:00 Rome: "1d at 10:00" is Wed 25 Nov 10:00 Rome (09:00Z), 20 h later
        assert_eq!(wait_end(rome, ts("2026-11-24T13:00:00Z"), 86_400, Some(600)), ts("2026-11-25T09:00:00Z"));
        // from 08:00 Rome the same day: still the next day's 10:00
        assert_eq!(wait_end(rome, ts("2026-11-24T07:00:00Z"), 86_400, Some(600)), ts("2026-11-25T09:00:00Z"));
        // 5 days from a message deferred to 10:30: day 5 at 10:00, not day 6
        assert_eq!(wait_end(rome, ts("2026-12-02T09:30:00Z"), 5 * 86_400, Some(600)), ts("2026-12-07T09:00:00Z"));
        // across the end of summer time (25 Oct 2026): still 10:00 local
        assert_eq!(wait_end(rome, ts("2026-10-24T08:00:00Z"), 2 * 86_400, Some(600)), ts("2026-10-26T09:00:00Z"));
        // a wait in hours: the next 10:00 once 4 h have passed
        assert_eq!(wait_end(rome, ts("2026-11-24T07:00:00Z"), 4 * 3600, Some(600)), ts("2026-11-25T09:00:00Z"));
        assert_eq!(wait_end(rome, ts("2026-11-24T05:00:00Z"), 3600, Some(600)), ts("2026-11-24T09:00:00Z"));
        // no time of day: the duration
        assert_eq!(wait_end(rome, 100, 86_400, None), 86_500);
        // a bare `wait_until`: the next such time
        assert_eq!(wait_end(rome, ts("2026-11-24T13:00:00Z"), 0, Some(600)), ts("2026-11-25T09:00:00Z"));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(4 * 3600), "4h");
        assert_eq!(human(2 * 86_400), "2d");
        assert_eq!(human(86_400 + 6 * 3600), "1d 6h");
        assert_eq!(human(45 * 60), "45m");
        assert_eq!(human(0), "0m");
    }
}
