//! Scenario tables for `decide`: each row says why its outcome is right.

// Unless a table says otherwise the policy is `Policy::default()` (the
// spec's example: Rome; quiet email 22:00-08:00, sms 20:00-09:00, push
// 21:00-09:00, defer; caps email 1/1d, email 3/7d, any 5/7d; critical
// bypasses caps but not quiet hours). January dates are winter time:
// Rome UTC+1, New York UTC−5, Tokyo UTC+9 (no DST).

use chrono_tz::America::New_York;
use chrono_tz::Asia::Tokyo;
use chrono_tz::Europe::Rome;

use super::*;
use crate::campaign::parse_policy;

use Channel::{Email, Push, Sms};
use Priority::{Critical, High, Low, Normal};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn contact(tz: Option<Tz>) -> Contact {
    Contact {
        opted_in: ChannelFlags::ALL,
        unsubscribed: ChannelFlags::NONE,
        hard_bounced: ChannelFlags::NONE,
        timezone: tz,
    }
}

const ROME: Option<Tz> = Some(Rome);
const NY: Option<Tz> = Some(New_York);
const TOKYO: Option<Tz> = Some(Tokyo);
const NO_TZ: Option<Tz> = None;

/// A past send.
fn sent(at: &str, channel: Channel, priority: Priority) -> PastSend {
    PastSend { at: utc(at), channel, priority }
}

/// A message already scheduled by another campaign.
fn sched(at: &str, channel: Channel, priority: Priority, campaign: &str) -> ScheduledSend {
    ScheduledSend { at: utc(at), channel, priority, campaign: campaign.to_string() }
}

struct Row {
    why: &'static str,
    contact: Contact,
    channel: Channel,
    priority: Priority,
    at: &'static str,
    history: Vec<PastSend>,
    scheduled: Vec<ScheduledSend>,
    already_received: bool,
    expect: &'static str,
}

/// A row with no history, nothing scheduled, not yet received.
fn row(
    why: &'static str,
    contact: Contact,
    channel: Channel,
    priority: Priority,
    at: &'static str,
    expect: &'static str,
) -> Row {
    Row { why, contact, channel, priority, at, history: vec![], scheduled: vec![], already_received: false, expect }
}

impl Row {
    fn history(mut self, h: Vec<PastSend>) -> Row {
        self.history = h;
        self
    }
    fn scheduled(mut self, s: Vec<ScheduledSend>) -> Row {
        self.scheduled = s;
        self
    }
    fn already_received(mut self) -> Row {
        self.already_received = true;
        self
    }
}

fn request(r: &Row) -> Request<'_> {
    Request {
        message: Message { channel: r.channel, priority: r.priority, at: utc(r.at) },
        contact: &r.contact,
        history: &r.history,
        scheduled: &r.scheduled,
        already_received: r.already_received,
    }
}

fn run(policy: &Policy, rows: &[Row]) {
    let mut failures = Vec::new();
    for r in rows {
        let got = decide(policy, &request(r)).to_string();
        if got != r.expect {
            failures.push(format!("{}\n    expected {}\n    got      {got}", r.why, r.expect));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn policy(text: &str) -> Policy {
    parse_policy(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[rustfmt::skip]
#[test]
fn quiet_hours_in_the_contacts_own_timezone() {
    run(
        &Policy::default(),
        &[
            // 21:30Z is 22:30 in Rome: inside 22:00-08:00, which crosses
            // midnight, so it ends at 08:00 CET the next day = 07:00Z.
            row("rome 22:30 defers to next morning", contact(ROME), Email, Normal,
                "2026-01-15T21:30:00Z", "deferred(until 2026-01-16T07:00:00Z)"),
            // 05:00Z is 06:00 in Rome, the after-midnight part: same day's 08:00.
            row("rome 06:00 defers to 08:00 same day", contact(ROME), Email, Normal,
                "2026-01-16T05:00:00Z", "deferred(until 2026-01-16T07:00:00Z)"),
            // The range is [22:00, 08:00): 08:00 itself is no longer quiet.
            row("rome 08:00 sharp is not quiet", contact(ROME), Email, Normal,
                "2026-01-16T07:00:00Z", "sent"),
            // 21:59 in Rome: a minute before the start.
            row("rome 21:59 is not quiet", contact(ROME), Email, Normal,
                "2026-01-15T20:59:00Z", "sent"),
            // Same instant as the first row, but 16:30 in New York: send.
            row("new york afternoon while Rome sleeps", contact(NY), Email, Normal,
                "2026-01-15T21:30:00Z", "sent"),
            // 04:00Z is 23:00 EST; 08:00 EST the next day is 13:00Z.
            row("new york 23:00 defers to 08:00 EST", contact(NY), Email, Normal,
                "2026-01-16T04:00:00Z", "deferred(until 2026-01-16T13:00:00Z)"),
            // 14:00Z is 23:00 JST; 08:00 JST on the 16th is 23:00Z on the 15th.
            row("tokyo 23:00 defers to 08:00 JST", contact(TOKYO), Email, Normal,
                "2026-01-15T14:00:00Z", "deferred(until 2026-01-15T23:00:00Z)"),
            // SMS quiet hours are 20:00-09:00: 19:30 JST is fine…
            row("tokyo sms 19:30 is before sms quiet hours", contact(TOKYO), Sms, Normal,
                "2026-01-15T10:30:00Z", "sent"),
            // …20:30 JST is not; 09:00 JST on the 16th is 00:00Z.
            row("tokyo sms 20:30 defers to 09:00 JST", contact(TOKYO), Sms, Normal,
                "2026-01-15T11:30:00Z", "deferred(until 2026-01-16T00:00:00Z)"),
            // Push: 21:00-09:00. 12:30Z is 21:30 JST.
            row("tokyo push 21:30 defers to 09:00 JST", contact(TOKYO), Push, Normal,
                "2026-01-15T12:30:00Z", "deferred(until 2026-01-16T00:00:00Z)"),
            // No timezone: the policy's (Rome) applies, as in the first row.
            row("no timezone falls back to Rome", contact(NO_TZ), Email, Normal,
                "2026-01-15T21:30:00Z", "deferred(until 2026-01-16T07:00:00Z)"),
            // 12:00Z is 13:00 in Rome: not quiet.
            row("no timezone, Rome midday", contact(NO_TZ), Email, Normal,
                "2026-01-15T12:00:00Z", "sent"),
            // Quiet hours hold for critical too (bypass_quiet_hours = false).
            row("critical is still deferred by quiet hours", contact(ROME), Email, Critical,
                "2026-01-15T21:30:00Z", "deferred(until 2026-01-16T07:00:00Z)"),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn quiet_hours_on_dst_days() {
    run(
        &Policy::default(),
        &[
            // 2026-03-29 is the last Sunday of March: Rome goes 02:00 CET ->
            // 03:00 CEST. 23:00Z on the 28th is 00:00 CET; the quiet period
            // ends at 08:00 CEST = 06:00Z (one hour earlier in UTC than the
            // day before).
            row("rome spring forward", contact(ROME), Email, Normal,
                "2026-03-28T23:00:00Z", "deferred(until 2026-03-29T06:00:00Z)"),
            // The day before, still winter time: 08:00 CET = 07:00Z.
            row("rome the night before spring forward", contact(ROME), Email, Normal,
                "2026-03-27T23:00:00Z", "deferred(until 2026-03-28T07:00:00Z)"),
            // 2026-10-25 is the last Sunday of October: 03:00 CEST -> 02:00 CET.
            // 21:30Z on the 24th is 23:30 CEST; 08:00 CET on the 25th = 07:00Z.
            row("rome fall back", contact(ROME), Email, Normal,
                "2026-10-24T21:30:00Z", "deferred(until 2026-10-25T07:00:00Z)"),
            // New York springs forward on 2026-03-08: 04:00Z on the 8th is
            // 23:00 EST on the 7th; 08:00 EDT on the 8th = 12:00Z.
            row("new york spring forward", contact(NY), Email, Normal,
                "2026-03-08T04:00:00Z", "deferred(until 2026-03-08T12:00:00Z)"),
            // Tokyo has no DST: 08:00 JST is always 23:00Z the day before.
            row("tokyo ignores european dst", contact(TOKYO), Email, Normal,
                "2026-03-28T14:00:00Z", "deferred(until 2026-03-28T23:00:00Z)"),
        ],
    );
    // A quiet period ending inside the skipped hour (02:30 does not exist in
    // Rome on 2026-03-29): the first valid instant after it is 03:00 CEST.
    let p = policy("timezone = \"Europe/Rome\"\n[quiet_hours]\nemail = \"23:00-02:30\"\n");
    run(
        &p,
        &[row("end in the DST gap", contact(NO_TZ), Email, Normal,
            "2026-03-28T23:00:00Z", "deferred(until 2026-03-29T01:00:00Z)")],
    );
}

#[rustfmt::skip]
#[test]
fn quiet_hours_drop_and_bypass() {
    let p = policy(
        r#"timezone = "Europe/Rome"
[quiet_hours]
email = "22:00-08:00"
on_quiet = "drop"
[priorities.high]
bypass_quiet_hours = true
"#,
    );
    run(
        &p,
        &[
            // on_quiet = drop: suppressed instead of deferred.
            row("drop suppresses", contact(ROME), Email, Normal,
                "2026-01-15T21:30:00Z", "suppressed(quiet_hours)"),
            // high bypasses quiet hours in this policy.
            row("high bypasses quiet hours", contact(ROME), Email, High,
                "2026-01-15T21:30:00Z", "sent"),
            // sms has no quiet hours in this policy.
            row("no range for sms", contact(ROME), Sms, Normal,
                "2026-01-15T23:30:00Z", "sent"),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn consent_comes_first_and_nothing_bypasses_it() {
    let opted_out_of_email = Contact {
        opted_in: ChannelFlags::ALL.with(Email, false),
        ..contact(ROME)
    };
    let bounced_email = Contact {
        hard_bounced: ChannelFlags::only(Email),
        ..contact(NY)
    };
    let bounced_and_unsubscribed = Contact {
        hard_bounced: ChannelFlags::only(Email),
        unsubscribed: ChannelFlags::ALL,
        ..contact(TOKYO)
    };
    let unsubscribed_not_opted_in = Contact {
        unsubscribed: ChannelFlags::ALL,
        opted_in: ChannelFlags::NONE,
        ..contact(NO_TZ)
    };
    let noon = "2026-01-15T12:00:00Z";
    run(
        &Policy::default(),
        &[
            // Explicit opt-out of email, no bounce, no unsubscribe.
            row("opted out of email", opted_out_of_email, Email, Normal, noon,
                "suppressed(no_consent)"),
            // The same contact is opted in to sms (12:00Z = 13:00 Rome).
            row("still opted in to sms", opted_out_of_email, Sms, Normal, noon, "sent"),
            // Consent is checked before quiet hours: no deferral for nothing.
            row("no consent beats quiet hours", opted_out_of_email, Email, Normal,
                "2026-01-15T21:30:00Z", "suppressed(no_consent)"),
            // Critical bypasses caps, never consent.
            row("critical needs consent", opted_out_of_email, Email, Critical, noon,
                "suppressed(no_consent)"),
            row("hard bounce", bounced_email, Email, Normal, noon, "suppressed(bounced)"),
            row("critical to a bounced address", bounced_email, Email, Critical, noon,
                "suppressed(bounced)"),
            // An email bounce says nothing about push (07:00 EST is push
            // quiet time, so use 15:00Z = 10:00 EST).
            row("bounce is per channel", bounced_email, Push, Normal,
                "2026-01-15T15:00:00Z", "sent"),
            // Bounced is reported before unsubscribed.
            row("bounced before unsubscribed", bounced_and_unsubscribed, Email, Normal, noon,
                "suppressed(bounced)"),
            row("unsubscribed from sms", bounced_and_unsubscribed, Sms, Normal,
                "2026-01-15T03:00:00Z", "suppressed(unsubscribed)"),
            // Unsubscribed is reported before a missing opt-in.
            row("unsubscribed before no consent", unsubscribed_not_opted_in, Email, Normal,
                noon, "suppressed(unsubscribed)"),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn rolling_caps() {
    // Every `t` is 10:00Z = 11:00 in Rome: never quiet.
    let t = "2026-01-15T10:00:00Z";
    run(
        &Policy::default(),
        &[
            // One email 22 h ago: email 1/1d is full.
            row("email 1/1d", contact(ROME), Email, Normal, t, "suppressed(cap(email 1/1d))")
                .history(vec![sent("2026-01-14T12:00:00Z", Email, Normal)]),
            // Exactly 24 h ago is outside (t − 1d, t].
            row("24h ago is outside the day", contact(ROME), Email, Normal, t, "sent")
                .history(vec![sent("2026-01-14T10:00:00Z", Email, Normal)]),
            // Three emails in the last 7 days, none in the last day.
            row("email 3/7d", contact(TOKYO), Email, Normal, t, "suppressed(cap(email 3/7d))")
                .history(vec![
                    sent("2026-01-09T10:00:01Z", Email, Normal),
                    sent("2026-01-11T10:00:00Z", Email, Low),
                    sent("2026-01-13T10:00:00Z", Email, High),
                ]),
            // The first of them exactly 7 days ago: only two count.
            row("7d ago is outside the week", contact(TOKYO), Email, Normal,
                "2026-01-15T10:00:01Z", "sent")
                .history(vec![
                    sent("2026-01-08T10:00:01Z", Email, Normal),
                    sent("2026-01-11T10:00:00Z", Email, Low),
                    sent("2026-01-13T10:00:00Z", Email, High),
                ]),
            // any 5/7d counts every channel: 3 sms + 2 push already.
            row("any 5/7d", contact(NY), Email, Normal, "2026-01-15T15:00:00Z",
                "suppressed(cap(any 5/7d))")
                .history(vec![
                    sent("2026-01-10T15:00:00Z", Sms, Normal),
                    sent("2026-01-11T15:00:00Z", Sms, Normal),
                    sent("2026-01-12T15:00:00Z", Sms, Normal),
                    sent("2026-01-13T15:00:00Z", Push, Normal),
                    sent("2026-01-14T15:00:00Z", Push, Normal),
                ]),
            // Four messages: the fifth fits in any 5/7d; sms has no own cap.
            row("any cap has room", contact(NY), Sms, Normal, "2026-01-15T15:00:00Z", "sent")
                .history(vec![
                    sent("2026-01-10T15:00:00Z", Sms, Normal),
                    sent("2026-01-11T15:00:00Z", Sms, Normal),
                    sent("2026-01-12T15:00:00Z", Email, Normal),
                    sent("2026-01-13T15:00:00Z", Push, Normal),
                ]),
            // Both email 1/1d and any 5/7d are full: the first cap in the
            // policy is reported.
            row("first full cap reported", contact(NO_TZ), Email, Normal, t,
                "suppressed(cap(email 1/1d))")
                .history(vec![
                    sent("2026-01-10T15:00:00Z", Sms, Normal),
                    sent("2026-01-11T15:00:00Z", Sms, Normal),
                    sent("2026-01-12T15:00:00Z", Push, Normal),
                    sent("2026-01-13T15:00:00Z", Push, Normal),
                    sent("2026-01-15T09:00:00Z", Email, Normal),
                ]),
            // Critical bypasses caps (and its sends still count for others).
            row("critical bypasses caps", contact(ROME), Email, Critical, t, "sent")
                .history(vec![sent("2026-01-15T09:00:00Z", Email, Critical)]),
            // …as shown here: yesterday's critical email fills email 1/1d.
            row("critical sends count", contact(ROME), Email, Normal, t,
                "suppressed(cap(email 1/1d))")
                .history(vec![sent("2026-01-15T09:00:00Z", Email, Critical)]),
            // A send after t (data from the future) is not in (t − per, t].
            row("later sends are not counted", contact(ROME), Email, Normal, t, "sent")
                .history(vec![sent("2026-01-15T11:00:00Z", Email, Normal)]),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn rolling_month_caps() {
    let p = policy(
        "timezone = \"UTC\"\n[[caps]]\nchannel = \"sms\"\nmax = 1\nper = \"1mo\"\n",
    );
    run(
        &p,
        &[
            // 31 March minus one month clamps to 28 February 11:00Z: a send
            // on 28 February at 12:00Z is inside.
            row("clamped month start, inside", contact(NO_TZ), Sms, Normal,
                "2026-03-31T11:00:00Z", "suppressed(cap(sms 1/1mo))")
                .history(vec![sent("2026-02-28T12:00:00Z", Sms, Normal)]),
            // From 12:00Z the window starts (exclusively) at 28 Feb 12:00Z.
            row("clamped month start, boundary", contact(NO_TZ), Sms, Normal,
                "2026-03-31T12:00:00Z", "sent")
                .history(vec![sent("2026-02-28T12:00:00Z", Sms, Normal)]),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn calendar_caps_count_the_contacts_local_period() {
    let p = policy(
        r#"timezone = "Europe/Rome"
[[caps]]
channel = "email"
max = 1
per = "1d"
calendar = true
[[caps]]
channel = "push"
max = 1
per = "1w"
calendar = true
[[caps]]
channel = "sms"
max = 1
per = "1mo"
calendar = true
"#,
    );
    run(
        &p,
        &[
            // 14:30Z = 23:30 JST on the 15th, 15:30Z = 00:30 JST on the 16th:
            // a new local day, although only an hour has passed.
            row("tokyo new local day", contact(TOKYO), Email, Normal,
                "2026-01-15T15:30:00Z", "sent")
                .history(vec![sent("2026-01-15T14:30:00Z", Email, Normal)]),
            // 00:30Z = 09:30 JST, 14:00Z = 23:00 JST: the same local day.
            row("tokyo same local day", contact(TOKYO), Email, Normal,
                "2026-01-15T14:00:00Z", "suppressed(cap(email 1/1d calendar))")
                .history(vec![sent("2026-01-15T00:30:00Z", Email, Normal)]),
            // Sunday 18 Jan 15:00 EST and 23:00 EST: the same ISO week,
            // although it is already Monday in UTC.
            row("new york same week", contact(NY), Push, Normal,
                "2026-01-19T04:00:00Z", "suppressed(cap(push 1/1w calendar))")
                .history(vec![sent("2026-01-18T20:00:00Z", Push, Normal)]),
            // 06:00Z on the 19th is Monday 01:00 EST: a new week (Monday start).
            row("new york monday starts a new week", contact(NY), Push, Normal,
                "2026-01-19T06:00:00Z", "sent")
                .history(vec![sent("2026-01-18T20:00:00Z", Push, Normal)]),
            // No timezone -> Rome: 31 Jan 23:30 CET then 1 Feb 00:30 CET.
            row("rome new month", contact(NO_TZ), Sms, Normal,
                "2026-01-31T23:30:00Z", "sent")
                .history(vec![sent("2026-01-31T22:30:00Z", Sms, Normal)]),
            // 1 Jan 10:00 CET and 31 Jan 23:00 CET: the same month.
            row("rome same month", contact(NO_TZ), Sms, Normal,
                "2026-01-31T22:00:00Z", "suppressed(cap(sms 1/1mo calendar))")
                .history(vec![sent("2026-01-01T09:00:00Z", Sms, Normal)]),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn reservation_keeps_the_slot_for_higher_priority() {
    // The newsletter goes out today at 10:00Z (11:00 Rome).
    let t = "2026-01-15T10:00:00Z";
    let launch_tomorrow = || vec![sched("2026-01-16T09:00:00Z", Email, High, "spring-launch")];
    run(
        &Policy::default(),
        &[
            // spring-launch is 23 h later: both fall in one 1d window of
            // email 1/1d, so the low newsletter would take its slot.
            row("low newsletter vs tomorrow's launch", contact(ROME), Email, Low, t,
                "suppressed(reserved(spring-launch))")
                .scheduled(launch_tomorrow()),
            // The same for normal priority: high is strictly higher.
            row("normal vs high", contact(NY), Email, Normal, "2026-01-15T15:00:00Z",
                "suppressed(reserved(spring-launch))")
                .scheduled(vec![sched("2026-01-16T14:00:00Z", Email, High, "spring-launch")]),
            // Launch exactly 24 h later: t is not in (tf − 1d, tf]; email
            // 3/7d and any 5/7d have room for both.
            row("launch a full day later", contact(ROME), Email, Low, t, "sent")
                .scheduled(vec![sched("2026-01-16T10:00:00Z", Email, High, "spring-launch")]),
            // A critical launch bypasses caps: it needs no room.
            row("critical needs no room", contact(ROME), Email, Low, t, "sent")
                .scheduled(vec![sched("2026-01-16T09:00:00Z", Email, Critical, "outage")]),
            // Equal priority is not reserved for (strictly higher only).
            row("same priority", contact(ROME), Email, High, t, "sent")
                .scheduled(launch_tomorrow()),
            // A lower-priority future message reserves nothing.
            row("lower priority future", contact(ROME), Email, Normal, t, "sent")
                .scheduled(vec![sched("2026-01-16T09:00:00Z", Email, Low, "digest")]),
            // An sms launch only shares any 5/7d with this email: with 3
            // sends this week there is room for both (3 + 1 + 1 = 5).
            row("sms launch, any cap has room", contact(TOKYO), Email, Low,
                "2026-01-15T03:00:00Z", "sent")
                .history(vec![
                    sent("2026-01-10T03:00:00Z", Sms, Normal),
                    sent("2026-01-11T03:00:00Z", Sms, Normal),
                    sent("2026-01-12T03:00:00Z", Push, Normal),
                ])
                .scheduled(vec![sched("2026-01-16T03:00:00Z", Sms, High, "sms-launch")]),
            // With 4 sends this week, the email would make it 6 > 5.
            row("sms launch, any cap full", contact(TOKYO), Email, Low,
                "2026-01-15T03:00:00Z", "suppressed(reserved(sms-launch))")
                .history(vec![
                    sent("2026-01-10T03:00:00Z", Sms, Normal),
                    sent("2026-01-11T03:00:00Z", Sms, Normal),
                    sent("2026-01-12T03:00:00Z", Push, Normal),
                    sent("2026-01-13T03:00:00Z", Push, Normal),
                ])
                .scheduled(vec![sched("2026-01-16T03:00:00Z", Sms, High, "sms-launch")]),
            // Two emails already this week. launch-a (tomorrow 11:00Z, listed
            // second) needs email 3/7d: 2 + 1 = 3 fits, 2 + 1 + 1 = 4 with the
            // newsletter does not; the earliest launch losing its slot is named.
            // (The 1d window of launch-a starts after t: no conflict there.)
            row("earliest launch that loses its slot", contact(ROME), Email, Low, t,
                "suppressed(reserved(launch-a))")
                .history(vec![
                    sent("2026-01-10T10:00:00Z", Email, Normal),
                    sent("2026-01-12T10:00:00Z", Email, Normal),
                ])
                .scheduled(vec![
                    sched("2026-01-18T10:00:00Z", Email, High, "launch-b"),
                    sched("2026-01-16T11:00:00Z", Email, High, "launch-a"),
                ]),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn reservation_not_blamed_when_the_slot_is_already_taken() {
    // any 1/1d. A critical message (bypasses caps but counts) at 08:00Z
    // tomorrow already takes the only slot of the high launch at 09:00Z,
    // so today's low message does not take anything away from it.
    let p = policy(
        "timezone = \"UTC\"\n[[caps]]\nchannel = \"any\"\nmax = 1\nper = \"1d\"\n\
         [priorities.critical]\nbypass_caps = true\n",
    );
    run(
        &p,
        &[
            row("high launch doomed by a critical one", contact(NO_TZ), Push, Low,
                "2026-01-15T10:00:00Z", "sent")
                .scheduled(vec![
                    sched("2026-01-16T08:00:00Z", Email, Critical, "outage"),
                    sched("2026-01-16T09:00:00Z", Sms, High, "launch"),
                ]),
            // Without the critical one, the launch needs the slot.
            row("high launch alone", contact(NO_TZ), Push, Low,
                "2026-01-15T10:00:00Z", "suppressed(reserved(launch))")
                .scheduled(vec![sched("2026-01-16T09:00:00Z", Sms, High, "launch")]),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn reservation_with_calendar_caps() {
    let p = policy(
        "timezone = \"Europe/Rome\"\n[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"1d\"\ncalendar = true\n",
    );
    run(
        &p,
        &[
            // 10:00 and 18:00 CET on the same local day: one slot for both.
            row("launch later the same local day", contact(NO_TZ), Email, Low,
                "2026-01-15T09:00:00Z", "suppressed(reserved(launch))")
                .scheduled(vec![sched("2026-01-15T17:00:00Z", Email, High, "launch")]),
            // 08:30 CET the next day is another calendar day: no conflict,
            // although a rolling 1d window would have reserved.
            row("launch the next local day", contact(NO_TZ), Email, Low,
                "2026-01-15T09:00:00Z", "sent")
                .scheduled(vec![sched("2026-01-16T07:30:00Z", Email, High, "launch")]),
            // In Tokyo, 09:00Z is 18:00 JST and 16:00Z is 01:00 JST the next day.
            row("tokyo: launch after local midnight", contact(TOKYO), Email, Low,
                "2026-01-15T09:00:00Z", "sent")
                .scheduled(vec![sched("2026-01-15T16:00:00Z", Email, High, "launch")]),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn once_per_run_is_checked_last() {
    run(
        &Policy::default(),
        &[
            // Everything else allows it, but the contact already got this run.
            row("duplicate", contact(ROME), Email, Normal, "2026-01-15T10:00:00Z",
                "suppressed(duplicate)")
                .already_received(),
            // Rules apply in order: quiet hours first, so a repeat is
            // deferred, and found duplicate when decided again.
            row("repeat in quiet hours is deferred first", contact(ROME), Email, Normal,
                "2026-01-15T21:30:00Z", "deferred(until 2026-01-16T07:00:00Z)")
                .already_received(),
            // And a full cap is reported before duplicate.
            row("cap before duplicate", contact(ROME), Email, Normal,
                "2026-01-15T10:00:00Z", "suppressed(cap(email 1/1d))")
                .history(vec![sent("2026-01-15T09:00:00Z", Email, Normal)])
                .already_received(),
        ],
    );
}

#[rustfmt::skip]
#[test]
fn priorities_that_do_not_count_toward_caps() {
    let p = policy(
        r#"timezone = "Europe/Rome"
[[caps]]
channel = "email"
max = 1
per = "1d"
[priorities.low]
counts_toward_caps = false
"#,
    );
    let t = "2026-01-15T10:00:00Z";
    run(
        &p,
        &[
            // Yesterday's low email is not counted: the normal one goes.
            row("low sends are not counted", contact(ROME), Email, Normal, t, "sent")
                .history(vec![sent("2026-01-15T08:00:00Z", Email, Low)]),
            // A low message still needs a free slot (it has no bypass_caps).
            row("low still needs room", contact(ROME), Email, Low, t,
                "suppressed(cap(email 1/1d))")
                .history(vec![sent("2026-01-15T08:00:00Z", Email, Normal)]),
            // A low message takes no slot, so it reserves nothing away.
            row("low takes no reserved slot", contact(ROME), Email, Low, t, "sent")
                .scheduled(vec![sched("2026-01-16T09:00:00Z", Email, High, "launch")]),
        ],
    );
}

#[test]
fn deferred_messages_are_decided_again_from_rule_1() {
    let p = Policy::default();
    let rome = contact(ROME);
    // One email at 08:00Z today. At 21:30Z it is quiet: deferred to
    // 07:00Z tomorrow, when the 08:00Z send is still inside (t − 1d, t].
    let history = [sent("2026-01-15T08:00:00Z", Email, Normal)];
    let req = Request {
        message: Message { channel: Email, priority: Normal, at: utc("2026-01-15T21:30:00Z") },
        contact: &rome,
        history: &history,
        scheduled: &[],
        already_received: false,
    };
    let s = decide_until_settled(&p, &req);
    assert_eq!(s.deferrals, vec![utc("2026-01-16T07:00:00Z")]);
    assert_eq!(s.at, utc("2026-01-16T07:00:00Z"));
    assert_eq!(s.decision.to_string(), "suppressed(cap(email 1/1d))");

    // Without history it is sent at the end of the quiet period.
    let s = decide_until_settled(&p, &Request { history: &[], ..req });
    assert_eq!(s.decision, Decision::Send);
    assert_eq!(s.at, utc("2026-01-16T07:00:00Z"));

    // Not quiet: settled at once.
    let noon = Message { at: utc("2026-01-15T12:00:00Z"), ..req.message };
    let s = decide_until_settled(&p, &Request { message: noon, history: &[], ..req });
    assert_eq!((s.decision, s.at, s.deferrals.len()), (Decision::Send, noon.at, 0));
}

#[test]
fn reasons_render_in_the_spec_vocabulary() {
    let cap = Reason::Cap { channel: CapChannel::Email, max: 1, per: "1d".parse().unwrap(), calendar: false };
    assert_eq!(Decision::Suppress(cap.clone()).to_string(), "suppressed(cap(email 1/1d))");
    assert_eq!(cap.code(), "cap");
    let reserved = Reason::Reserved { campaign: "spring-launch".into() };
    assert_eq!(reserved.to_string(), "reserved(spring-launch)");
    assert_eq!(reserved.code(), "reserved");
    let codes: Vec<String> =
        [Reason::NoConsent, Reason::Bounced, Reason::Unsubscribed, Reason::QuietHours, Reason::Duplicate]
            .iter()
            .map(|r| format!("suppressed({r})"))
            .collect();
    assert_eq!(
        codes,
        [
            "suppressed(no_consent)",
            "suppressed(bounced)",
            "suppressed(unsubscribed)",
            "suppressed(quiet_hours)",
            "suppressed(duplicate)"
        ]
    );
    assert_eq!(Decision::Send.to_string(), "sent");
    assert_eq!(
        Decision::Defer { until: utc("2026-01-16T07:00:00Z") }.to_string(),
        "deferred(until 2026-01-16T07:00:00Z)"
    );
}
