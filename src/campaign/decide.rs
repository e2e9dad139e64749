//! The pure decision core: rules 1–5 of the spec for one message to one contact.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::channel::{CapChannel, Channel, Priority};
use super::policy::{Cap, OnQuiet, Policy};
use super::quiet::quiet_until;
use super::window::Window;

/// One boolean per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ChannelFlags {
    pub email: bool,
    pub sms: bool,
    pub push: bool,
}

impl ChannelFlags {
    pub const NONE: ChannelFlags = ChannelFlags { email: false, sms: false, push: false };
    pub const ALL: ChannelFlags = ChannelFlags { email: true, sms: true, push: true };

    pub fn only(c: Channel) -> ChannelFlags {
        ChannelFlags::NONE.with(c, true)
    }

    pub fn get(self, c: Channel) -> bool {
        match c {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
            Channel::Push => self.push,
        }
    }

    pub fn with(mut self, c: Channel, v: bool) -> ChannelFlags {
        match c {
            Channel::Email => self.email = v,
            Channel::Sms => self.sms = v,
            Channel::Push => self.push = v,
        }
        self
    }
}

/// What the decision needs to know about the contact. Unsubscribe and hard
/// bounce are per channel (an email bounce says nothing about the phone);
/// a global unsubscribe is `ChannelFlags::ALL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contact {
    pub opted_in: ChannelFlags,
    pub unsubscribed: ChannelFlags,
    pub hard_bounced: ChannelFlags,
    /// `None`: the policy's timezone is used.
    pub timezone: Option<Tz>,
}

/// The message being decided: its channel and priority, and the candidate
/// send instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub channel: Channel,
    pub priority: Priority,
    pub at: DateTime<Utc>,
}

/// A message already sent to the contact. Sends whose priority does not
/// count toward caps are ignored, so the caller may pass all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PastSend {
    pub at: DateTime<Utc>,
    pub channel: Channel,
    pub priority: Priority,
}

/// A message already scheduled to the contact by another campaign (its
/// audience as evaluated now). Only those of strictly higher priority than
/// the message being decided, at or after its instant, matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledSend {
    pub at: DateTime<Utc>,
    pub channel: Channel,
    pub priority: Priority,
    pub campaign: String,
}

/// Everything `decide` looks at besides the policy.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub message: Message,
    pub contact: &'a Contact,
    pub history: &'a [PastSend],
    pub scheduled: &'a [ScheduledSend],
    /// The contact already got this campaign run (rule 5).
    pub already_received: bool,
}

/// Why a message is not sent. `Display` is the spec's vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    NoConsent,
    Bounced,
    Unsubscribed,
    /// The first cap of the policy (in file order) that is full.
    Cap {
        channel: CapChannel,
        max: u32,
        per: Window,
        calendar: bool,
    },
    QuietHours,
    /// The slot is kept for this higher-priority campaign.
    Reserved {
        campaign: String,
    },
    Duplicate,
}

impl Reason {
    /// The key for statistics: `no_consent`, `bounced`, `unsubscribed`,
    /// `cap`, `quiet_hours`, `reserved`, `duplicate`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoConsent => "no_consent",
            Reason::Bounced => "bounced",
            Reason::Unsubscribed => "unsubscribed",
            Reason::Cap { .. } => "cap",
            Reason::QuietHours => "quiet_hours",
            Reason::Reserved { .. } => "reserved",
            Reason::Duplicate => "duplicate",
        }
    }

    fn from_cap(c: &Cap) -> Reason {
        Reason::Cap { channel: c.channel, max: c.max, per: c.per, calendar: c.calendar }
    }
}

impl fmt::Display for Reason {
    /// `no_consent`, `cap(email 1/1d)`, `cap(email 1/1d calendar)`,
    /// `reserved(spring-launch)`, …
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Cap { channel, max, per, calendar } => {
                let cap = Cap { channel: *channel, max: *max, per: *per, calendar: *calendar };
                write!(f, "cap({cap})")
            }
            Reason::Reserved { campaign } => write!(f, "reserved({campaign})"),
            other => f.write_str(other.code()),
        }
    }
}

/// The outcome for one message at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Send,
    /// Decide again at `until` (the end of the quiet period), from rule 1.
    Defer {
        until: DateTime<Utc>,
    },
    Suppress(Reason),
}

impl fmt::Display for Decision {
    /// `sent`, `deferred(until 2026-01-16T07:00:00Z)`,
    /// `suppressed(cap(email 1/1d))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Send => f.write_str("sent"),
            Decision::Defer { until } => {
                write!(f, "deferred(until {})", until.to_rfc3339_opts(SecondsFormat::Secs, true))
            }
            Decision::Suppress(r) => write!(f, "suppressed({r})"),
        }
    }
}

/// Rules 1–5, in order, for `req.message` at `req.message.at`:
/// 1. consent: `bounced`, then `unsubscribed`, then `no_consent` (the most
///    permanent fact about the address first; an explicit opt-out with no
///    bounce and no unsubscribe is `no_consent`). Nothing bypasses it.
/// 2. quiet hours in the contact's timezone (the policy's if it has none),
///    unless the priority has `bypass_quiet_hours`: `defer` returns
///    [`Decision::Defer`] to the end of the quiet period; `drop` suppresses
///    as `quiet_hours`.
/// 3. caps, unless the priority has `bypass_caps`: for each cap on the
///    message's channel or `any` (in policy order, the first full one is
///    reported), the counting past sends in its window anchored at `t`
///    plus this one must be at most `max`. Rolling windows are
///    `(t − per, t]` in UTC instants (`mo`: calendar months back in UTC,
///    see [`Window`]); calendar caps count the contact's local day, ISO
///    week (Monday start) or month containing `t`. Past sends after `t`
///    are ignored.
/// 4. reservation for already-scheduled messages of strictly higher
///    priority, unless the priority has `bypass_caps` or does not count
///    toward caps (it then takes no slot from anyone).
/// 5. once: a contact that already got this campaign run is `duplicate`.
///    Being last, a repeat that is also in quiet hours is first deferred.
///
/// On `Defer` the caller decides again at `until`, from rule 1, with the
/// state of that moment (the scheduler does this with fresh history);
/// [`decide_until_settled`] does the loop with the state unchanged, which is
/// what a forecast (`campaign preview`) wants.
///
/// `req.scheduled` must hold only messages not yet decided: a
/// higher-priority campaign due at the same instant was decided first
/// (rule 4's ordering) and, if sent, belongs in `req.history` instead.
pub fn decide(policy: &Policy, req: &Request<'_>) -> Decision {
    let m = req.message;
    let contact = req.contact;
    // 1. Consent.
    if contact.hard_bounced.get(m.channel) {
        return Decision::Suppress(Reason::Bounced);
    }
    if contact.unsubscribed.get(m.channel) {
        return Decision::Suppress(Reason::Unsubscribed);
    }
    if !contact.opted_in.get(m.channel) {
        return Decision::Suppress(Reason::NoConsent);
    }
    let tz = contact.timezone.unwrap_or(policy.timezone);
    let rules = policy.rules(m.priority);
    // 2. Quiet hours.
    if !rules.bypass_quiet_hours
        && let Some(until) = quiet_until(policy.quiet_ranges(m.channel), tz, m.at)
    {
        return match policy.on_quiet {
            OnQuiet::Defer => Decision::Defer { until },
            OnQuiet::Drop => Decision::Suppress(Reason::QuietHours),
        };
    }
    // 3. Caps.
    if !rules.bypass_caps {
        for cap in policy.caps_for(m.channel) {
            if counted(policy, cap, m.at, req.history, tz) + 1 > u64::from(cap.max) {
                return Decision::Suppress(Reason::from_cap(cap));
            }
        }
    }
    // 4. Reservation.
    if !rules.bypass_caps
        && rules.counts_toward_caps
        && let Some(campaign) = reserved_by(policy, req, tz)
    {
        return Decision::Suppress(Reason::Reserved { campaign: campaign.to_string() });
    }
    // 5. Once.
    if req.already_received {
        return Decision::Suppress(Reason::Duplicate);
    }
    Decision::Send
}

/// Past sends that count on `cap` in its window anchored at `anchor`.
fn counted(policy: &Policy, cap: &Cap, anchor: DateTime<Utc>, history: &[PastSend], tz: Tz) -> u64 {
    let n = history
        .iter()
        .filter(|h| {
            cap.channel.covers(h.channel)
                && policy.rules(h.priority).counts_toward_caps
                && cap.window_contains(anchor, h.at, tz)
        })
        .count();
    n as u64
}

/// Rule 4: the first (earliest) scheduled higher-priority campaign that
/// sending `req.message` now would leave without room.
///
/// For each scheduled message `f` of strictly higher priority at `tf ≥ t`
/// whose priority does not bypass caps, and each cap `c` covering both `f`'s
/// channel and this message's channel whose window anchored at `tf`
/// contains `t` (rolling: `tf − per < t`; calendar: the same local period):
/// the projected count is the counting past sends in that window, plus the
/// other counting scheduled higher-priority messages in it (at or after
/// `t`, at or before `tf`), plus `f` itself. If that fits in `max` now but
/// not with this message added, this message is `reserved(f's campaign)`.
/// If `f` has no room even without this message, this message is not what
/// takes it away, so it is not blamed.
fn reserved_by<'r>(policy: &Policy, req: &'r Request<'_>, tz: Tz) -> Option<&'r str> {
    let m = req.message;
    let higher = |s: &&ScheduledSend| s.priority > m.priority && s.at >= m.at;
    let mut futures: Vec<&ScheduledSend> = req.scheduled.iter().filter(higher).collect();
    futures.sort_by(|a, b| a.at.cmp(&b.at).then(b.priority.cmp(&a.priority)));
    for (i, f) in futures.iter().enumerate() {
        if policy.rules(f.priority).bypass_caps {
            continue;
        }
        for cap in policy.caps_for(f.channel) {
            if !cap.channel.covers(m.channel) || !cap.window_contains(f.at, m.at, tz) {
                continue;
            }
            let others = futures
                .iter()
                .enumerate()
                .filter(|&(j, g)| {
                    j != i
                        && cap.channel.covers(g.channel)
                        && policy.rules(g.priority).counts_toward_caps
                        && cap.window_contains(f.at, g.at, tz)
                })
                .count() as u64;
            let without = counted(policy, cap, f.at, req.history, tz) + others + 1;
            let max = u64::from(cap.max);
            if without <= max && without + 1 > max {
                return Some(&f.campaign);
            }
        }
    }
    None
}

/// The end of a [`decide_until_settled`] loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// `Send` or `Suppress` (a `Defer` only if the loop did not settle in
    /// 16 rounds, which real policies cannot cause).
    pub decision: Decision,
    /// The instant of the final decision (the send time if `Send`).
    pub at: DateTime<Utc>,
    /// Each deferral on the way, in order (empty if decided at once).
    pub deferrals: Vec<DateTime<Utc>>,
}

/// Decides, and on each `Defer` decides again at `until` from rule 1 with
/// the same contact, history and scheduled messages, until it settles.
pub fn decide_until_settled(policy: &Policy, req: &Request<'_>) -> Settled {
    let mut req = *req;
    let mut deferrals = Vec::new();
    for _ in 0..16 {
        match decide(policy, &req) {
            Decision::Defer { until } if until > req.message.at => {
                deferrals.push(until);
                req.message.at = until;
            }
            decision => {
                return Settled { decision, at: req.message.at, deferrals };
            }
        }
    }
    Settled { decision: Decision::Defer { until: req.message.at }, at: req.message.at, deferrals }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
