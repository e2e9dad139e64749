//! Deciding campaign runs: the scheduler's core, without printing or
//! sleeping. The CLI drives it in simulated time (`--until`), once, or
//! from a tokio task.
//!
//! How a moment `t` is processed ([`Scheduler::step`]):
//! 1. If `t` passed one or more UTC midnights since the last moment, each
//!    saved segment gets a size-history point at each midnight.
//! 2. Everything due at or before `t` (campaign runs whose next instant
//!    is ≤ t, and deferred recipients whose `until` is ≤ t) is decided at
//!    `t`, highest priority first (then by campaign name), one campaign
//!    at a time, so a higher-priority send is in the history (caps) of
//!    every lower-priority decision of the same moment.
//! 3. For a run: the audience is evaluated at `t` by the segment engine;
//!    its size is recorded on the campaign (and each `segment:NAME`
//!    include gets a history point). Recipients already holding a
//!    delivery record for this run are skipped (a replay adds nothing).
//!
//! Each recipient, in contact id order, is decided by [`decide`] with:
//! consent from the contact record (email also needs an address;
//! `unsubscribed_at` unsubscribes every channel; `bounced_at` is a hard
//! bounce of email only); its timezone, else the policy's; its past sends
//! (every `sent`/`pending` delivery record) for caps; for reservation the
//! next run of every other active campaign of higher priority whose
//! audience, evaluated at `t`, holds the contact; and, for
//! `once_per_contact` campaigns, whether any earlier run was sent to it.
//!
//! **Exactly once.** Recipients are recorded in chunks: one transaction
//! writes the chunk's delivery records (`pending` for sends, final states
//! otherwise) and timeline actions; then the `pending` messages are
//! rendered and handed to the adapters (idempotent by key) and flushed;
//! then a second transaction marks them `sent`. A kill at any point
//! leaves either no record (the recipient is decided again on restart),
//! or a `pending` record (delivered again on restart: the adapter skips it
//! if it got there), or `sent`. Caps count `pending` and `sent` alike, so
//! the counters always equal the deliveries table.
//!
//! **Progress.** A front end that asks ([`Scheduler::on_progress`]) is told
//! how far the campaign being processed is: recipients decided of those
//! due, messages handed to the adapter of those decided `sent`. The
//! messages of a chunk are rendered and delivered in batches sized to take
//! about [`BATCH_TIME`] each, so a slow adapter (SMTP, a webhook) reports
//! as it goes. Reports are throttled (the clock is read every
//! [`PROGRESS_STRIDE`] recipients or batch, a report made at most once per
//! the interval asked for, except when a step begins: a campaign's
//! recipients known, a chunk's decisions being written, its messages being
//! delivered), and cost nothing without a listener.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use roaring::RoaringBitmap;
use serde::Serialize;

use super::channel::{Channel, Priority};
use super::decide::{
    self, ChannelFlags, Decision, Message, PastSend, Request, ScheduledSend, decide, decide_until_settled,
};
use super::deliver::{Adapters, OutMessage, Outcome};
use super::model::{
    Campaign, Delivery, DeliveryState, RunRecord, Status, delivery_key, instant_in, reason_code, run_id,
};
use super::policy::Policy;
use super::template::{Templates, UNSUBSCRIBE_BASE, context};
use crate::delivery_config::DeliveryConfig;
use crate::derived::Thresholds;
use crate::error::{Error, Result};
use crate::model::time::Ts;
use crate::model::{Action, ActionKind, Schema};
use crate::segment::engine::Engine;
use crate::store::Store;

/// Recipients recorded per transaction.
pub const CHUNK: usize = 100_000;

/// [`CHUNK`], or `$REACH_SCHEDULER_CHUNK` (tests use small chunks to have
/// more instants to crash at).
fn chunk_size() -> usize {
    std::env::var("REACH_SCHEDULER_CHUNK").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(CHUNK)
}

const DAY: i64 = 86_400;

/// Recipients decided between two looks at the clock for a progress report.
pub const PROGRESS_STRIDE: u64 = 1024;

/// About how long one batch of messages (rendered, then handed to the
/// adapter) takes: the delivering step's progress moves at least this often.
pub const BATCH_TIME: Duration = Duration::from_millis(200);

/// The first batch's size, and the bounds of the next ones' (each at most
/// four times the last: one slow message does not shrink them for long,
/// nor a fast start make one batch take seconds).
const BATCH_FIRST: usize = 64;
const BATCH_MIN: usize = 16;
const BATCH_MAX: usize = 65_536;

/// The next batch's size after `n` messages took `took`: about [`BATCH_TIME`].
fn next_batch(n: usize, took: Duration) -> usize {
    let secs = took.as_secs_f64().max(1e-6);
    let want = (n as f64 * BATCH_TIME.as_secs_f64() / secs) as usize;
    want.clamp(BATCH_MIN, BATCH_MAX).min(n.saturating_mul(4).max(BATCH_MIN))
}

/// Which step of a campaign's processing a [`Progress`] is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// deciding recipients
    Deciding,
    /// writing a chunk's decisions (delivery records, timeline entries)
    Recording,
    /// rendering the messages decided `sent` and handing them to the adapter
    Delivering,
}

/// How far the campaign being processed is (its due run, or its deferred
/// recipients whose wait ended). Recipients are decided and delivered in
/// chunks, so the phase goes back and forth on a large audience.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub campaign: String,
    pub phase: Phase,
    /// recipients decided (and recorded, chunk by chunk) of `due`
    pub decided: u64,
    pub due: u64,
    /// messages handed to the adapter of `sends`, those decided `sent` so
    /// far (with no adapters, when only deciding, both stay 0)
    pub delivered: u64,
    pub sends: u64,
}

/// A listener to progress reports.
type ProgressSink<'s> = Box<dyn FnMut(&Progress) + 's>;

/// Where progress goes: a listener, called at most once per `every`
/// (except for the report starting a step, made at once).
struct Reporter<'s> {
    sink: Option<ProgressSink<'s>>,
    every: Duration,
    last: Option<Instant>,
}

impl Reporter<'_> {
    fn report(&mut self, p: &Progress, at_once: bool) {
        let Some(f) = self.sink.as_mut() else { return };
        let now = Instant::now();
        if !at_once && self.last.is_some_and(|l| now.duration_since(l) < self.every) {
            return;
        }
        self.last = Some(now);
        f(p);
    }
}

fn utc(ts: Ts) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A recipient waiting for its deferral to end.
#[derive(Clone, Debug)]
struct Waiting {
    contact: u32,
    campaign: String,
    run: String,
}

/// What the deliveries table says, held in memory while the scheduler runs.
#[derive(Default)]
pub(crate) struct Ledger {
    /// contact → its sends (for caps)
    pub(crate) history: HashMap<u32, Vec<PastSend>>,
    /// campaign → run → contacts with a record
    decided: HashMap<String, HashMap<String, RoaringBitmap>>,
    /// campaign → contacts sent any run (for once per contact)
    got: HashMap<String, RoaringBitmap>,
    deferrals: BTreeMap<Ts, Vec<Waiting>>,
    /// campaign → recipients waiting
    waiting: HashMap<String, u64>,
    /// records decided `sent` but not confirmed delivered (at load)
    pending: Vec<(u32, String, Delivery)>,
}

impl Ledger {
    /// Notes a record read from the table (a `pending` one is kept for
    /// [`Scheduler::recover`]).
    fn note(&mut self, contact: u32, key: &str, d: &Delivery) {
        self.note_decided(contact, d);
        if d.state == DeliveryState::Pending {
            self.pending.push((contact, key.to_string(), d.clone()));
        }
    }

    /// Notes a record just decided (delivered by the caller).
    pub(crate) fn note_decided(&mut self, contact: u32, d: &Delivery) {
        let runs = match self.decided.get_mut(&d.campaign) {
            Some(r) => r,
            None => self.decided.entry(d.campaign.clone()).or_default(),
        };
        match runs.get_mut(&d.run) {
            Some(b) => {
                b.insert(contact);
            }
            None => {
                runs.insert(d.run.clone(), RoaringBitmap::from_iter([contact]));
            }
        }
        match &d.state {
            DeliveryState::Pending | DeliveryState::Sent | DeliveryState::Failed { .. } => {
                self.history.entry(contact).or_default().push(PastSend {
                    at: utc(d.at),
                    channel: d.channel,
                    priority: d.priority,
                });
                match self.got.get_mut(&d.campaign) {
                    Some(b) => {
                        b.insert(contact);
                    }
                    None => {
                        self.got.insert(d.campaign.clone(), RoaringBitmap::from_iter([contact]));
                    }
                }
            }
            DeliveryState::Deferred { until } => {
                self.deferrals.entry(*until).or_default().push(Waiting {
                    contact,
                    campaign: d.campaign.clone(),
                    run: d.run.clone(),
                });
                *self.waiting.entry(d.campaign.clone()).or_default() += 1;
            }
            DeliveryState::Suppressed { .. } => {}
        }
    }
}

/// What a scheduler did so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub moments: u64,
    pub decided: u64,
    pub sent: u64,
    pub deferred: u64,
    pub suppressed: u64,
    /// pending messages of an interrupted run delivered at start
    pub recovered: u64,
    /// messages decided `sent` that the adapter refused for good
    pub failed: u64,
    /// wall time spent deciding and recording (audience evaluation included)
    pub decide_ms: u64,
    /// wall time spent rendering, handing to adapters and marking sent
    pub deliver_ms: u64,
    /// journey steps done (sends among them are also in `decided` and its parts)
    pub journey_steps: u64,
    /// wall time spent on journeys (entries, steps, their writes and messages)
    pub journey_ms: u64,
}

/// A campaign's forecast (`campaign preview`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Forecast {
    pub at: Ts,
    pub audience: u64,
    pub send: u64,
    pub deferred: u64,
    pub suppressed: BTreeMap<String, u64>,
}

/// A campaign's statistics from the deliveries table: each recipient
/// (contact × run) counted once by its final state; `pending` holds those
/// not final yet (waiting for a deferral to end, or decided `sent` and not
/// yet confirmed by the adapter); `deferred` counts recipients deferred at
/// some point, whatever came after (so it overlaps the others).
/// `failed` counts those the adapter refused for good.
/// `audience` = `sent` + `pending` + `failed` + Σ `suppressed`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub audience: u64,
    pub sent: u64,
    pub pending: u64,
    pub failed: u64,
    pub deferred: u64,
    pub suppressed: BTreeMap<String, u64>,
}

impl Stats {
    /// No recipient yet, every suppression reason listed at zero.
    pub fn new() -> Stats {
        let mut s = Stats::default();
        for code in ["no_consent", "bounced", "unsubscribed", "cap", "quiet_hours", "reserved", "duplicate"] {
            s.suppressed.insert(code.to_string(), 0);
        }
        s
    }

    /// Counts one recipient's delivery record.
    pub fn add(&mut self, d: &Delivery) {
        self.audience += 1;
        if d.deferred {
            self.deferred += 1;
        }
        match &d.state {
            DeliveryState::Sent => self.sent += 1,
            DeliveryState::Failed { .. } => self.failed += 1,
            DeliveryState::Pending | DeliveryState::Deferred { .. } => self.pending += 1,
            DeliveryState::Suppressed { reason } => {
                *self.suppressed.entry(reason_code(reason).to_string()).or_default() += 1
            }
        }
    }
}

/// Scans the deliveries table for one campaign.
pub fn campaign_stats(store: &Store, name: &str) -> Result<Stats> {
    let mut s = Stats::new();
    store.begin_read()?.for_each_delivery(|_, _, d| {
        if d.campaign == name {
            s.add(&d);
        }
    })?;
    Ok(s)
}

/// A higher-priority campaign's next run, for reservation.
pub(crate) struct Future {
    name: String,
    channel: Channel,
    priority: Priority,
    audience: RoaringBitmap,
    at: FutureAt,
}

enum FutureAt {
    Fixed(Ts),
    /// local time: the run's wall clock, in each contact's zone; only
    /// instants after `after` (the campaign's cursor) count.
    Local {
        run: NaiveDateTime,
        after: Ts,
    },
}

/// Where the scheduler's audiences are counted: its own engine (a
/// one-shot `scheduler run`), or the owning process's warm one (the
/// console, `reach serve`), so one engine serves both.
pub trait Audiences {
    fn members(&mut self, e: &crate::segment::Expr, now: Ts, cancel: &AtomicBool) -> Result<RoaringBitmap>;
    fn count(&mut self, e: &crate::segment::Expr, now: Ts, cancel: &AtomicBool) -> Result<u64>;
    /// Events of `kind` (through `filter`) with `lo <= ts <= hi`: (ts, contact), sorted.
    fn event_times(&mut self, kind: &str, filter: Option<&str>, lo: Ts, hi: Ts) -> Result<Vec<(Ts, u32)>>;
    /// The instant of the first event of `kind` (through `filter`) after `after`.
    fn first_event_after(&mut self, kind: &str, filter: Option<&str>, after: Ts) -> Result<Option<Ts>>;
}

impl Audiences for Engine {
    fn members(&mut self, e: &crate::segment::Expr, now: Ts, cancel: &AtomicBool) -> Result<RoaringBitmap> {
        Engine::members(self, e, now, cancel)
    }
    fn count(&mut self, e: &crate::segment::Expr, now: Ts, cancel: &AtomicBool) -> Result<u64> {
        Engine::count(self, e, now, cancel)
    }
    fn event_times(&mut self, kind: &str, filter: Option<&str>, lo: Ts, hi: Ts) -> Result<Vec<(Ts, u32)>> {
        Engine::event_times(self, kind, filter, lo, hi)
    }
    fn first_event_after(&mut self, kind: &str, filter: Option<&str>, after: Ts) -> Result<Option<Ts>> {
        Engine::first_event_after(self, kind, filter, after)
    }
}

/// What the DND decision knows of a contact, from its record: consent
/// (email also needs an address; `unsubscribed_at` unsubscribes every
/// channel; `bounced_at` is a hard bounce of email only) and timezone.
pub fn dnd_contact(v: &crate::model::contact::ContactView<'_>) -> decide::Contact {
    let mut opted = ChannelFlags::NONE;
    for ch in Channel::ALL {
        let i = ch as usize;
        opted = opted.with(ch, v.consent[i].is_some_and(|c| c.opted_in));
    }
    if v.email.is_none() {
        opted = opted.with(Channel::Email, false);
    }
    decide::Contact {
        opted_in: opted,
        unsubscribed: if v.unsubscribed_at.is_some() { ChannelFlags::ALL } else { ChannelFlags::NONE },
        hard_bounced: if v.bounced_at.is_some() { ChannelFlags::only(Channel::Email) } else { ChannelFlags::NONE },
        timezone: v.timezone.and_then(|z| z.parse::<Tz>().ok()),
    }
}

/// The scheduler's state over one store.
pub struct Scheduler<'s> {
    pub(crate) store: &'s Store,
    pub(crate) engine: Box<dyn Audiences + 's>,
    pub(crate) policy: Policy,
    schema: Schema,
    pub(crate) contacts: Vec<Option<decide::Contact>>,
    /// every contact's effective timezone, once each
    zones: Vec<Tz>,
    pub(crate) ledger: Ledger,
    adapters: Option<Adapters>,
    /// the last moment processed (for midnights)
    clock: Ts,
    pub(crate) never: AtomicBool,
    progress: Reporter<'s>,
    pub totals: Totals,
    /// what went wrong without stopping the scheduler (a campaign paused
    /// with its reason); the front end takes and shows them
    pub warnings: Vec<String>,
}

impl<'s> Scheduler<'s> {
    /// Loads contacts and the deliveries table. With `delivery`, opens the
    /// configured adapters (default paths under the store's `outbox/`) and
    /// delivers what an interrupted run left `pending`; without, decides
    /// only (forecasts).
    pub fn open(store: &'s Store, th: Thresholds, now: Ts, delivery: Option<&DeliveryConfig>) -> Result<Scheduler<'s>> {
        let engine = Engine::new(store.begin_read()?, th)?;
        Scheduler::open_with(store, Box::new(engine), now, delivery)
    }

    /// The same, counting audiences with `engine`.
    pub fn open_with(
        store: &'s Store,
        engine: Box<dyn Audiences + 's>,
        now: Ts,
        delivery: Option<&DeliveryConfig>,
    ) -> Result<Scheduler<'s>> {
        let r = store.begin_read()?;
        let policy = super::stored_policy(&r)?;
        let schema = r.schema()?;
        let mut contacts: Vec<Option<decide::Contact>> = Vec::new();
        let mut zones = std::collections::HashSet::new();
        r.for_each_contact_view(|v| {
            let c = dnd_contact(&v);
            zones.insert(c.timezone.unwrap_or(policy.timezone));
            let id = v.id as usize;
            if contacts.len() <= id {
                contacts.resize(id + 1, None);
            }
            contacts[id] = Some(c);
        })?;
        let mut zones: Vec<Tz> = zones.into_iter().collect();
        zones.sort_by_key(|z| z.name());
        let mut ledger = Ledger::default();
        r.for_each_delivery(|c, key, d| ledger.note(c, key, &d))?;
        drop(r);
        let adapters = match delivery {
            Some(cfg) => Some(Adapters::open(&store.outbox_dir(), cfg)?),
            None => None,
        };
        let deliver = adapters.is_some();
        let mut s = Scheduler {
            store,
            engine,
            policy,
            schema,
            contacts,
            zones,
            ledger,
            adapters,
            clock: now,
            never: AtomicBool::new(false),
            progress: Reporter { sink: None, every: Duration::ZERO, last: None },
            totals: Totals::default(),
            warnings: Vec::new(),
        };
        if deliver {
            s.recover()?;
        }
        Ok(s)
    }

    /// Reports the progress of each campaign processed from now on to `f`:
    /// at once when a step begins (its recipients known, a chunk's
    /// decisions written, its messages delivered), otherwise at most once
    /// per `every` (see the module docs).
    pub fn on_progress(&mut self, every: Duration, f: impl FnMut(&Progress) + 's) {
        self.progress = Reporter { sink: Some(Box::new(f)), every, last: None };
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub(crate) fn tz_of(&self, id: u32) -> Tz {
        self.contacts.get(id as usize).copied().flatten().and_then(|c| c.timezone).unwrap_or(self.policy.timezone)
    }

    /// Delivers the `pending` records left by an interrupted run.
    fn recover(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.ledger.pending);
        if pending.is_empty() {
            return Ok(());
        }
        let campaigns: HashMap<String, Campaign> =
            self.store.begin_read()?.campaigns()?.into_iter().map(|c| (c.name.clone(), c)).collect();
        let mut by_campaign: BTreeMap<String, Vec<(u32, String, Delivery)>> = BTreeMap::new();
        for p in pending {
            by_campaign.entry(p.2.campaign.clone()).or_default().push(p);
        }
        for (name, rows) in by_campaign {
            if let Some(journey) = name.strip_prefix(crate::journey::run::JOURNEY_PREFIX) {
                self.totals.recovered += rows.len() as u64;
                self.recover_journey(journey, rows)?;
                continue;
            }
            let Some(c) = campaigns.get(&name) else { continue };
            let tpl = Templates::compile(c.channel, &c.subject, &c.body)?;
            self.totals.recovered += rows.len() as u64;
            let spec = MessageSpec { name: &c.name, channel: c.channel, tpl: &tpl, promos: None };
            self.deliver(&spec, rows, None)?;
        }
        Ok(())
    }

    /// The next moment something is due (possibly in the past: the caller
    /// processes it at `max(due, now)`), or the next UTC midnight after the
    /// last moment, whichever is first.
    pub fn next_moment(&mut self) -> Result<Ts> {
        let mut next = (self.clock.div_euclid(DAY) + 1) * DAY;
        let campaigns = self.store.begin_read()?.campaigns()?;
        let active: HashMap<&str, &Campaign> =
            campaigns.iter().filter(|c| c.status.is_active()).map(|c| (c.name.as_str(), c)).collect();
        for c in active.values() {
            if let Some((due, _)) =
                c.schedule.next_due(c.cursor.unwrap_or(c.created_at), self.policy.timezone, &self.zones)
            {
                next = next.min(due);
            }
        }
        if let Some((&until, _)) =
            self.ledger.deferrals.iter().find(|(_, w)| w.iter().any(|w| active.contains_key(w.campaign.as_str())))
        {
            next = next.min(until);
        }
        if let Some(j) = self.journeys_next()? {
            next = next.min(j);
        }
        Ok(next)
    }

    /// Processes everything due at or before `t`, deciding at `t`.
    pub fn step(&mut self, t: Ts) -> Result<()> {
        self.totals.moments += 1;
        self.midnights(t)?;
        self.clock = self.clock.max(t);
        loop {
            let campaigns = self.store.begin_read()?.campaigns()?;
            let mut items: Vec<(Priority, String, bool)> = Vec::new();
            for c in campaigns.iter().filter(|c| c.status.is_active()) {
                let cursor = c.cursor.unwrap_or(c.created_at);
                if c.schedule.next_due(cursor, self.policy.timezone, &self.zones).is_some_and(|(due, _)| due <= t) {
                    items.push((c.priority, c.name.clone(), true));
                }
                let waiting = self.ledger.deferrals.range(..=t).any(|(_, w)| w.iter().any(|w| w.campaign == c.name));
                if waiting {
                    items.push((c.priority, c.name.clone(), false));
                }
            }
            // highest priority first, then name, deferrals before new runs
            items.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            let Some((_, name, is_run)) = items.into_iter().next() else { break };
            let mut c = campaigns.into_iter().find(|c| c.name == name).expect("listed above");
            if let Err(e) = self.process(&mut c, t, is_run) {
                // a campaign that cannot run is paused with the reason, so the
                // scheduler neither stops nor loops on it
                if e.kind == crate::error::ErrorKind::Busy || e.is_disk_full() {
                    return Err(e);
                }
                let mut w = self.store.begin_write()?;
                if let Some(mut stored) = w.campaign(&name)? {
                    stored.status = Status::Paused;
                    stored.error = Some(e.message.clone());
                    stored.updated_at = t;
                    w.put_campaign(&stored)?;
                }
                w.commit()?;
                self.warnings.push(format!("campaign {name} paused: {}", e.message));
            }
        }
        self.journeys_step(t)?;
        Ok(())
    }

    /// A size-history point per saved segment at each UTC midnight in
    /// (clock, t].
    fn midnights(&mut self, t: Ts) -> Result<()> {
        let first = (self.clock.div_euclid(DAY) + 1) * DAY;
        if first > t {
            return Ok(());
        }
        let segments = self.store.begin_read()?.segments()?;
        if segments.is_empty() {
            return Ok(());
        }
        let mut points = Vec::new();
        // at most the last 31 midnights when catching up
        let mut m = first.max(t.div_euclid(DAY) * DAY - 30 * DAY);
        while m <= t {
            for s in &segments {
                if let Ok(e) = crate::segment::parse(&s.expr)
                    && let Ok(n) = self.engine.count(&e, m, &self.never)
                {
                    points.push((s.name.clone(), m, n));
                }
            }
            m += DAY;
        }
        let mut w = self.store.begin_write()?;
        for (name, ts, n) in points {
            w.add_history_point(&name, ts, n)?;
        }
        w.commit()?;
        Ok(())
    }

    fn audience(&mut self, c: &Campaign, t: Ts) -> Result<RoaringBitmap> {
        let expr = crate::segment::parse(&c.audience.expression())
            .map_err(|e| Error::input(format!("campaign {}: audience: {e}", c.name)))?;
        self.engine.members(&expr, t, &self.never)
    }

    /// The next runs of active campaigns of higher priority than `c`.
    fn futures(&mut self, c: &Campaign, t: Ts) -> Result<Vec<Future>> {
        self.futures_above(&c.name, c.priority, t)
    }

    /// The next runs of active campaigns (other than `name`) of priority
    /// above `priority`: what a message of that priority may not take the
    /// place of (reservation).
    pub(crate) fn futures_above(&mut self, name: &str, priority: Priority, t: Ts) -> Result<Vec<Future>> {
        let mut out = Vec::new();
        for f in self.store.begin_read()?.campaigns()? {
            if f.name == name || !f.status.is_active() || f.priority <= priority {
                continue;
            }
            if self.policy.rules(f.priority).bypass_caps {
                continue;
            }
            let cursor = f.cursor.unwrap_or(f.created_at);
            let Some((due, groups)) = f.schedule.next_due(cursor, self.policy.timezone, &self.zones) else {
                continue;
            };
            let at = if f.schedule.local_time {
                FutureAt::Local { run: groups[0].0, after: cursor }
            } else {
                FutureAt::Fixed(due.max(t))
            };
            let audience = self.audience(&f, t)?;
            out.push(Future { name: f.name, channel: f.channel, priority: f.priority, audience, at });
        }
        Ok(out)
    }

    /// The sends of `futures` that contact `id` is in, at their instants
    /// (in its own zone for local-time runs), into `scheduled`.
    pub(crate) fn scheduled_for(&self, id: u32, futures: &[Future], scheduled: &mut Vec<ScheduledSend>) {
        let tz = self.tz_of(id);
        scheduled.clear();
        for f in futures.iter().filter(|f| f.audience.contains(id)) {
            let at = match f.at {
                FutureAt::Fixed(ts) => ts,
                FutureAt::Local { run, after } => {
                    let i = instant_in(tz, run);
                    if i <= after {
                        continue;
                    }
                    i
                }
            };
            scheduled.push(ScheduledSend {
                at: utc(at),
                channel: f.channel,
                priority: f.priority,
                campaign: f.name.clone(),
            });
        }
    }

    /// Decides one recipient of `c` at `t`; None if the contact is gone.
    fn decide_one(
        &self,
        c: &Campaign,
        id: u32,
        t: Ts,
        futures: &[Future],
        scheduled: &mut Vec<ScheduledSend>,
        settle: bool,
    ) -> Option<(Decision, Vec<Ts>)> {
        let info = self.contacts.get(id as usize).copied().flatten()?;
        self.scheduled_for(id, futures, scheduled);
        let history = self.ledger.history.get(&id).map_or(&[][..], Vec::as_slice);
        let already = c.schedule.once_per_contact && self.ledger.got.get(&c.name).is_some_and(|b| b.contains(id));
        let req = Request {
            message: Message { channel: c.channel, priority: c.priority, at: utc(t) },
            contact: &info,
            history,
            scheduled,
            already_received: already,
        };
        if settle {
            let s = decide_until_settled(&self.policy, &req);
            Some((s.decision, s.deferrals.iter().map(|d| d.timestamp()).collect()))
        } else {
            Some((decide(&self.policy, &req), Vec::new()))
        }
    }

    /// Forecasts a campaign's run at `at` without writing anything: each
    /// audience member decided with today's history, deferrals followed
    /// to their end (with the same history). With `local_time`, each
    /// contact is decided at the run's wall clock in its own zone.
    pub fn forecast(&mut self, c: &Campaign, at: Ts) -> Result<Forecast> {
        let audience = self.audience(c, at)?;
        let futures = self.futures(c, at)?;
        let local_run =
            if c.schedule.local_time { c.schedule.next_due(at - 1, self.policy.timezone, &self.zones) } else { None };
        let mut f = Forecast { at, audience: audience.len(), ..Default::default() };
        let mut scheduled = Vec::new();
        for id in &audience {
            let t = match &local_run {
                Some((_, g)) => instant_in(self.tz_of(id), g[0].0),
                None => at,
            };
            let Some((d, deferrals)) = self.decide_one(c, id, t, &futures, &mut scheduled, true) else { continue };
            if !deferrals.is_empty() {
                f.deferred += 1;
            }
            match d {
                Decision::Send => f.send += 1,
                Decision::Defer { .. } => {}
                Decision::Suppress(r) => *f.suppressed.entry(r.code().to_string()).or_default() += 1,
            }
        }
        Ok(f)
    }

    /// Decides and records one campaign's due run (`is_run`) or its
    /// deferred recipients due at `t`.
    fn process(&mut self, c: &mut Campaign, t: Ts, is_run: bool) -> Result<()> {
        let mut started = std::time::Instant::now();
        let mut runs: Vec<String> = Vec::new();
        let mut recips: Vec<(u32, u16)> = Vec::new();
        let mut deferred_before = RoaringBitmap::new();
        if is_run {
            let cursor = c.cursor.unwrap_or(c.created_at);
            let (due, groups) = c
                .schedule
                .next_due(cursor, self.policy.timezone, &self.zones)
                .ok_or_else(|| Error::runtime("not due"))?;
            let audience = self.audience(c, t)?;
            for (n, tz) in &groups {
                let rid = run_id(*n);
                let decided = self.ledger.decided.get(&c.name).and_then(|m| m.get(&rid)).cloned().unwrap_or_default();
                let ri = runs.len() as u16;
                let mut size = 0u64;
                for id in &audience {
                    if tz.is_some_and(|z| self.tz_of(id) != z) {
                        continue;
                    }
                    size += 1;
                    if !decided.contains(id) {
                        recips.push((id, ri));
                    }
                }
                match c.runs.iter_mut().find(|r| r.run == rid) {
                    Some(r) if tz.is_some() => r.audience += size,
                    Some(r) => r.audience = size,
                    None => c.runs.push(RunRecord { run: rid.clone(), at: t, audience: size }),
                }
                runs.push(rid);
            }
            c.cursor = Some(due);
            if c.schedule.at.is_some() {
                c.status = Status::Running;
            }
        } else {
            let due: Vec<Ts> = self.ledger.deferrals.range(..=t).map(|(k, _)| *k).collect();
            for k in due {
                let list = self.ledger.deferrals.remove(&k).unwrap_or_default();
                let (mine, others): (Vec<Waiting>, Vec<Waiting>) = list.into_iter().partition(|w| w.campaign == c.name);
                if !others.is_empty() {
                    self.ledger.deferrals.insert(k, others);
                }
                for w in mine {
                    let ri = match runs.iter().position(|r| *r == w.run) {
                        Some(i) => i,
                        None => {
                            runs.push(w.run.clone());
                            runs.len() - 1
                        }
                    } as u16;
                    recips.push((w.contact, ri));
                    deferred_before.insert(w.contact);
                    if let Some(n) = self.ledger.waiting.get_mut(&c.name) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            recips.sort_unstable();
        }
        let futures = self.futures(c, t)?;
        let tpl = Templates::compile(c.channel, &c.subject, &c.body)?;
        let mut scheduled = Vec::new();
        let mut progress = Progress {
            campaign: c.name.clone(),
            phase: Phase::Deciding,
            decided: 0,
            due: recips.len() as u64,
            delivered: 0,
            sends: 0,
        };
        self.progress.report(&progress, true);
        for chunk in recips.chunks(chunk_size()) {
            let mut rows: Vec<(u32, String, Delivery)> = Vec::with_capacity(chunk.len());
            let mut actions: Vec<(u32, Action)> = Vec::with_capacity(chunk.len());
            for &(id, ri) in chunk {
                progress.decided += 1;
                if progress.decided.is_multiple_of(PROGRESS_STRIDE) {
                    self.progress.report(&progress, false);
                }
                let Some((d, _)) = self.decide_one(c, id, t, &futures, &mut scheduled, false) else { continue };
                let run = &runs[ri as usize];
                let key = delivery_key(&c.name, run, id);
                let (state, what) = match d {
                    Decision::Send => {
                        self.totals.sent += 1;
                        (
                            DeliveryState::Pending,
                            ActionKind::Delivery { campaign: c.name.clone(), channel: c.channel.to_string() },
                        )
                    }
                    Decision::Defer { until } => {
                        let until = until.timestamp().max(t + 60);
                        self.totals.deferred += 1;
                        (DeliveryState::Deferred { until }, ActionKind::Deferral { campaign: c.name.clone(), until })
                    }
                    Decision::Suppress(r) => {
                        self.totals.suppressed += 1;
                        (
                            DeliveryState::Suppressed { reason: r.to_string() },
                            ActionKind::Suppression { campaign: c.name.clone(), reason: r.to_string() },
                        )
                    }
                };
                self.totals.decided += 1;
                let deferred = deferred_before.contains(id) || matches!(state, DeliveryState::Deferred { .. });
                let rec = Delivery {
                    campaign: c.name.clone(),
                    run: run.clone(),
                    channel: c.channel,
                    priority: c.priority,
                    state,
                    at: t,
                    deferred,
                };
                self.ledger.note_decided(id, &rec);
                actions.push((id, Action { ts: t, what, detail: key.clone() }));
                rows.push((id, key, rec));
            }
            progress.phase = Phase::Recording;
            self.progress.report(&progress, true);
            let mut w = self.store.begin_write()?;
            w.put_deliveries(&rows)?;
            w.add_actions(&actions)?;
            w.commit()?;
            let sends: Vec<(u32, String, Delivery)> =
                rows.into_iter().filter(|r| r.2.state == DeliveryState::Pending).collect();
            self.totals.decide_ms += started.elapsed().as_millis() as u64;
            let delivering = std::time::Instant::now();
            if self.adapters.is_some() && !sends.is_empty() {
                progress.phase = Phase::Delivering;
                progress.sends += sends.len() as u64;
                self.progress.report(&progress, true);
            }
            let spec = MessageSpec { name: &c.name, channel: c.channel, tpl: &tpl, promos: None };
            self.deliver(&spec, sends, Some(&mut progress))?;
            progress.phase = Phase::Deciding;
            self.totals.deliver_ms += delivering.elapsed().as_millis() as u64;
            started = std::time::Instant::now();
        }
        self.totals.decide_ms += started.elapsed().as_millis() as u64;
        // the campaign record: cursor, status, run sizes; segment history
        let waiting = self.ledger.waiting.get(&c.name).copied().unwrap_or(0);
        let more = c.schedule.next_due(c.cursor.unwrap_or(c.created_at), self.policy.timezone, &self.zones).is_some();
        if c.schedule.at.is_some() && !more && waiting == 0 {
            c.status = Status::Done;
        }
        c.updated_at = t;
        let mut points = Vec::new();
        if is_run {
            for s in c.audience.included_segments() {
                if let Ok(e) = crate::segment::parse(&format!("segment:{s}"))
                    && let Ok(n) = self.engine.count(&e, t, &self.never)
                {
                    points.push((s, n));
                }
            }
        }
        let mut w = self.store.begin_write()?;
        if let Some(stored) = w.campaign(&c.name)?
            && !stored.status.is_active()
        {
            // paused or cancelled meanwhile: keep that
            c.status = stored.status;
        }
        w.put_campaign(c)?;
        for (s, n) in points {
            w.add_history_point(&s, t, n)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Renders and hands `pending` records to the adapter, then marks them
    /// `sent` (or `failed`, when the adapter refused one for good; see the
    /// module docs), in batches of about [`BATCH_TIME`], each counted in
    /// `progress`. A transient failure that outlasted the adapter's retries
    /// stops here: what was delivered is marked, the rest stays `pending`
    /// for the next start, and the error is returned.
    pub(crate) fn deliver(
        &mut self,
        c: &MessageSpec<'_>,
        mut rows: Vec<(u32, String, Delivery)>,
        mut progress: Option<&mut Progress>,
    ) -> Result<()> {
        let Some(adapters) = self.adapters.as_mut() else { return Ok(()) };
        if rows.is_empty() {
            return Ok(());
        }
        let ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let reader = self.store.begin_read()?;
        let records = reader.contacts(&ids)?;
        let kinds = c.tpl.recent_kinds();
        let recent = if kinds.is_empty() {
            None
        } else {
            let until = rows.iter().map(|r| r.2.at).max().unwrap_or(0);
            Some(super::recent::Recent::read(&reader, &self.schema, &ids, &kinds, until)?)
        };
        drop(reader);
        // render on every core (minijinja is the larger part of the work)
        let schema = &self.schema;
        let recent = recent.as_ref();
        let render = |rows: &[(u32, String, Delivery)], records: &[Option<crate::model::Contact>]| {
            rows.iter()
                .zip(records)
                .filter_map(|((id, key, d), rec)| {
                    let contact = rec.as_ref()?;
                    Some(render_message(schema, c, *id, key, d.at, contact, recent))
                })
                .collect::<Vec<OutMessage>>()
        };
        let mut stopped = None;
        let (mut from, mut batch) = (0, BATCH_FIRST);
        while from < rows.len() && stopped.is_none() {
            let started = Instant::now();
            let to = (from + batch).min(rows.len());
            let (part, recs) = (&mut rows[from..to], &records[from..to]);
            let threads = workers(part.len());
            let msgs: Vec<OutMessage> = if threads == 1 {
                render(part, recs)
            } else {
                let per = part.len().div_ceil(threads);
                std::thread::scope(|sc| {
                    let parts: Vec<_> = part
                        .chunks(per)
                        .zip(recs.chunks(per))
                        .map(|(r, rec)| sc.spawn(move || render(r, rec)))
                        .collect();
                    parts.into_iter().flat_map(|h| h.join().expect("render thread")).collect()
                })
            };
            let outcomes = adapters.get(c.channel).deliver_all(&msgs);
            // messages are in row order (rows without a contact left out)
            let mut results = msgs.iter().zip(outcomes).peekable();
            for (_, key, d) in part.iter_mut() {
                let Some((m, _)) = results.peek() else { break };
                if m.key != *key {
                    continue;
                }
                let Some((_, o)) = results.next() else { break };
                match o {
                    Ok(Outcome::Delivered | Outcome::Duplicate) => d.state = DeliveryState::Sent,
                    Ok(Outcome::Failed(reason)) => {
                        self.totals.failed += 1;
                        d.state = DeliveryState::Failed { reason };
                    }
                    Err(e) => {
                        if stopped.is_none() {
                            stopped = Some(e);
                        }
                    }
                }
            }
            if let Some(p) = progress.as_deref_mut() {
                p.delivered += (to - from) as u64;
                self.progress.report(p, false);
            }
            batch = next_batch(to - from, started.elapsed());
            from = to;
        }
        adapters.flush()?;
        rows.retain(|r| r.2.state != DeliveryState::Pending);
        let mut w = self.store.begin_write()?;
        w.put_deliveries(&rows)?;
        w.commit()?;
        match stopped {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Threads for rendering and writing `n` messages: one for small batches,
/// else `$REACH_DELIVERY_THREADS` or the cores, up to 4.
pub(crate) fn workers(n: usize) -> usize {
    if n < 256 {
        return 1;
    }
    std::env::var("REACH_DELIVERY_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |p| p.get()))
        .clamp(1, 4)
}

/// A message to render and deliver: a campaign's, or a journey step's
/// (whose recipients may each hold a promotion code).
pub(crate) struct MessageSpec<'a> {
    pub name: &'a str,
    pub channel: Channel,
    pub tpl: &'a Templates,
    /// delivery key → (code, percent off, valid until)
    pub promos: Option<&'a HashMap<String, (String, u8, Ts)>>,
}

fn render_message(
    schema: &Schema,
    c: &MessageSpec<'_>,
    id: u32,
    key: &str,
    at: Ts,
    contact: &crate::model::Contact,
    recent: Option<&super::recent::Recent>,
) -> OutMessage {
    let mut ctx = context(schema, contact, c.name);
    if let Some(r) = recent {
        ctx = minijinja::context! { recent => r.of(id, at), ..ctx };
    }
    if let Some((code, percent, until)) = c.promos.and_then(|p| p.get(key)) {
        ctx = minijinja::context! {
            promo_code => code,
            promo_percent => percent,
            promo_valid_until => crate::model::time::format_ts(*until),
            ..ctx
        };
    }
    let (subject, body) = match c.tpl.render(&ctx) {
        Ok(x) => x,
        Err(e) => (String::new(), format!("(template error: {})", e.message)),
    };
    let to = match c.channel {
        Channel::Email => contact.email.as_deref().unwrap_or_default().to_string(),
        Channel::Sms => phone_text(schema, contact).unwrap_or_else(|| contact.label()),
        Channel::Push => contact.external_id.as_deref().map_or_else(|| format!("#{id}"), str::to_string),
    };
    OutMessage {
        key: key.to_string(),
        campaign: c.name.to_string(),
        channel: c.channel,
        contact: id,
        to,
        subject,
        body,
        at,
        unsubscribe_url: format!("{UNSUBSCRIBE_BASE}/{}/{id}", c.name),
    }
}

fn phone_text(schema: &Schema, c: &crate::model::Contact) -> Option<String> {
    let (i, def) = schema.attr("phone")?;
    c.attr(i).map(|v| def.format(v))
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
