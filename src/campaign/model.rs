//! Campaigns as stored, their files (TOML or JSON), their schedules, and
//! the delivery records of the DELIVERIES table.
//!
//! Decisions taken here (see also the module docs of `run`):
//! - A campaign **run** is identified by its nominal wall-clock moment
//!   (`N`, a naive date-time, written `YYYYMMDDTHHMM` in keys). An `at`
//!   schedule has one run; `every` has one per matching day.
//! - Without `local_time`, a recurring `time` is read in the schedule's
//!   `timezone` (default: the policy's timezone) and `at` is an instant.
//!   With `local_time`, the run's wall clock (for `at`: its date and time as
//!   written, read in UTC) is applied in each contact's own timezone, so one
//!   run is due at several instants, one per distinct timezone.
//! - `once_per_contact` (recurring only, default false = every run): a
//!   contact that was sent any earlier run is `duplicate`.
//! - The idempotency key of a message is `campaign:run:contact`, e.g.
//!   `spring-launch:20261102T2000:42`; campaign names cannot hold `:` or `.`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::channel::{Channel, Priority};
use super::quiet::local_to_utc_after;
use crate::model::time::{Ts, format_ts};

/// Where a campaign is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Scheduled,
    Running,
    Done,
    Paused,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Scheduled => "scheduled",
            Status::Running => "running",
            Status::Done => "done",
            Status::Paused => "paused",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether the scheduler works on it.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Scheduled | Status::Running)
    }
}

/// (OR of includes) AND NOT (OR of excludes), as segment expressions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl Audience {
    /// The audience as one segment expression.
    pub fn expression(&self) -> String {
        let inc = self.include.iter().map(|e| format!("({e})")).collect::<Vec<_>>().join(" or ");
        if self.exclude.is_empty() {
            return inc;
        }
        let exc = self.exclude.iter().map(|e| format!("({e})")).collect::<Vec<_>>().join(" or ");
        format!("({inc}) and not ({exc})")
    }

    /// The saved segments named by `segment:NAME` includes (their size
    /// history gets a point at each run).
    pub fn included_segments(&self) -> Vec<String> {
        self.include
            .iter()
            .filter_map(|e| e.trim().strip_prefix("segment:"))
            .map(|s| s.trim().to_string())
            .filter(|s| crate::model::schema::valid_name(s))
            .collect()
    }
}

/// How often a recurring campaign runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Every {
    Day,
    Weekday(u8),
}

/// The weekdays as campaign files write them, Monday first.
const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

impl Every {
    pub fn parse(s: &str) -> Result<Every, String> {
        if s == "day" {
            return Ok(Every::Day);
        }
        DAYS.iter()
            .position(|d| *d == s)
            .map(|i| Every::Weekday(i as u8))
            .ok_or_else(|| format!("schedule.every `{s}` is not `day` or a weekday (monday … sunday)"))
    }

    pub fn matches(self, d: NaiveDate) -> bool {
        match self {
            Every::Day => true,
            Every::Weekday(i) => d.weekday().num_days_from_monday() == u32::from(i),
        }
    }

    pub fn name(self) -> String {
        match self {
            Every::Day => "day".into(),
            // as `parse` reads it (chrono's own names are `Mon` … `Sun`)
            Every::Weekday(i) => DAYS.get(usize::from(i)).copied().unwrap_or_default().into(),
        }
    }
}

/// A run due at an instant: its wall-clock moment, and the zone whose
/// contacts it is for (`None`: every contact).
pub type DueRun = (NaiveDateTime, Option<Tz>);

/// When a campaign runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// One run at this instant.
    pub at: Option<Ts>,
    /// Or recurring, at `time` (minutes after local midnight).
    pub every: Option<Every>,
    pub time: Option<u32>,
    /// The zone of `time` when not `local_time` (None: the policy's).
    pub timezone: Option<String>,
    pub local_time: bool,
    pub once_per_contact: bool,
}

/// Formats a run's nominal moment for keys: `20261102T2000`.
pub fn run_id(n: NaiveDateTime) -> String {
    n.format("%Y%m%dT%H%M").to_string()
}

fn as_utc(ts: Ts) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The instant a wall-clock moment happens in `tz` (DST: see
/// [`local_to_utc_after`]).
pub fn instant_in(tz: Tz, n: NaiveDateTime) -> Ts {
    let far_before = n.and_utc() - Duration::days(2);
    local_to_utc_after(tz, n, far_before).timestamp()
}

impl Schedule {
    /// The timezone a non-local recurring time is read in.
    pub fn zone(&self, policy_tz: Tz) -> Tz {
        self.timezone.as_deref().and_then(|z| z.parse().ok()).unwrap_or(policy_tz)
    }

    /// Every (run, instant, timezone) due strictly after `after` and up
    /// to the earliest such instant: the next group of due sends. `zones`
    /// are the contacts' effective timezones (used with `local_time`).
    /// Returns the instant and the runs/zones due then; for non-local
    /// schedules the zone list is empty (every contact).
    pub fn next_due(&self, after: Ts, policy_tz: Tz, zones: &[Tz]) -> Option<(Ts, Vec<DueRun>)> {
        let mut cands: Vec<(Ts, NaiveDateTime, Option<Tz>)> = Vec::new();
        let mut push = |n: NaiveDateTime| {
            if self.local_time {
                for &tz in zones {
                    cands.push((instant_in(tz, n), n, Some(tz)));
                }
            } else if let Some(at) = self.at {
                cands.push((at, n, None));
            } else {
                cands.push((instant_in(self.zone(policy_tz), n), n, None));
            }
        };
        if let Some(at) = self.at {
            push(as_utc(at).naive_utc());
        } else if let (Some(every), Some(time)) = (self.every, self.time) {
            let t = NaiveTime::from_num_seconds_from_midnight_opt(time * 60, 0)?;
            // Local dates around `after`: timezones are at most ±14h away.
            let start = as_utc(after).date_naive() - Duration::days(2);
            for i in 0..10 {
                let d = start + Duration::days(i);
                if every.matches(d) {
                    push(d.and_time(t));
                }
            }
        }
        let min = cands.iter().filter(|c| c.0 > after).map(|c| c.0).min()?;
        Some((min, cands.into_iter().filter(|c| c.0 == min).map(|c| (c.1, c.2)).collect()))
    }

    /// Human text: `at 2026-11-02T20:00:00Z`, `every monday 10:00 local`.
    pub fn describe(&self) -> String {
        let mut s = match (self.at, self.every, self.time) {
            (Some(at), _, _) => format!("at {}", format_ts(at)),
            (None, Some(e), Some(t)) => format!("every {} {:02}:{:02}", e.name(), t / 60, t % 60),
            _ => "unscheduled".into(),
        };
        if self.local_time {
            s.push_str(" contact local time");
        } else if let Some(z) = &self.timezone {
            s.push_str(&format!(" {z}"));
        }
        if self.once_per_contact {
            s.push_str(", once per contact");
        }
        s
    }
}

/// One run's record on the campaign: when, and the audience size then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: String,
    pub at: Ts,
    pub audience: u64,
}

/// A campaign as stored (postcard, CAMPAIGNS table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub name: String,
    pub channel: Channel,
    pub priority: Priority,
    pub status: Status,
    pub subject: String,
    pub body: String,
    pub audience: Audience,
    pub schedule: Schedule,
    pub created_at: Ts,
    pub updated_at: Ts,
    /// Every due instant ≤ cursor has been decided (set when scheduled).
    pub cursor: Option<Ts>,
    pub runs: Vec<RunRecord>,
    /// Why the scheduler paused it, if it did.
    pub error: Option<String>,
}

/// The state of one recipient of one campaign run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    /// Decided `sent`, not yet confirmed written by the adapter.
    Pending,
    Sent,
    /// Waiting to be decided again at `until`.
    Deferred {
        until: Ts,
    },
    /// With the reason as the spec writes it: `cap(email 1/1d)`.
    Suppressed {
        reason: String,
    },
    /// Decided `sent`, refused for good by the adapter (an SMTP 5xx, an
    /// HTTP 4xx, a bad address), with its answer. Never retried; counts
    /// toward caps like a send (it was attempted). Last, so the stored
    /// variant numbers of the others do not change.
    Failed {
        reason: String,
    },
}

/// A DELIVERIES row: (contact, key) → this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub campaign: String,
    pub run: String,
    pub channel: Channel,
    pub priority: Priority,
    pub state: DeliveryState,
    /// The instant of the latest decision (the send time when sent).
    pub at: Ts,
    /// Deferred at some point.
    pub deferred: bool,
}

impl Delivery {
    pub fn key(&self, contact: u32) -> String {
        delivery_key(&self.campaign, &self.run, contact)
    }

    /// `sent`, `pending`, `deferred(until …)`, `suppressed(reason)`.
    pub fn describe(&self) -> String {
        match &self.state {
            DeliveryState::Pending => "pending".into(),
            DeliveryState::Sent => "sent".into(),
            DeliveryState::Deferred { until } => format!("deferred(until {})", format_ts(*until)),
            DeliveryState::Suppressed { reason } => format!("suppressed({reason})"),
            DeliveryState::Failed { reason } => format!("failed({reason})"),
        }
    }

    /// Counts toward caps: decided `sent` (confirmed, not yet, or failed).
    pub fn is_send(&self) -> bool {
        matches!(self.state, DeliveryState::Pending | DeliveryState::Sent | DeliveryState::Failed { .. })
    }
}

/// `campaign:run:contact`.
pub fn delivery_key(campaign: &str, run: &str, contact: u32) -> String {
    format!("{campaign}:{run}:{contact}")
}

/// The code of a stored reason: `cap(email 1/1d)` → `cap`.
pub fn reason_code(reason: &str) -> &str {
    reason.split('(').next().unwrap_or(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Ts {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp()
    }

    /// Found by the campaign_file fuzz target: `every = "monday"` was
    /// written back as `every = "mon"`, which campaign files refuse.
    #[test]
    fn every_names_read_back() {
        for e in std::iter::once(Every::Day).chain((0..7).map(Every::Weekday)) {
            assert_eq!(Every::parse(&e.name()), Ok(e), "{}", e.name());
        }
        assert_eq!(Every::Weekday(0).name(), "monday");
    }

    #[test]
    fn a_daily_schedule_is_due_at_the_next_local_time() {
        let s = Schedule {
            at: None,
            every: Some(Every::Day),
            time: Some(10 * 60),
            timezone: None,
            local_time: false,
            once_per_contact: false,
        };
        let rome = chrono_tz::Europe::Rome;
        let (t, runs) = s.next_due(ts("2026-11-24T12:00:00Z"), rome, &[]).unwrap();
        assert_eq!(format_ts(t), "2026-11-25T09:00:00Z");
        assert_eq!(run_id(runs[0].0), "20261125T1000");
        let weekly = Schedule { every: Some(Every::parse("monday").unwrap()), ..s.clone() };
        let (t, _) = weekly.next_due(ts("2026-11-24T12:00:00Z"), rome, &[]).unwrap();
        assert_eq!(format_ts(t), "2026-11-30T09:00:00Z");
    }

    #[test]
    fn local_time_gives_one_instant_per_zone() {
        let s = Schedule {
            at: Some(ts("2026-11-25T10:00:00Z")),
            every: None,
            time: None,
            timezone: None,
            local_time: true,
            once_per_contact: false,
        };
        let zones = [chrono_tz::Europe::Rome, chrono_tz::America::New_York];
        let (t1, g1) = s.next_due(0, chrono_tz::UTC, &zones).unwrap();
        assert_eq!((format_ts(t1), g1[0].1), ("2026-11-25T09:00:00Z".into(), Some(chrono_tz::Europe::Rome)));
        let (t2, g2) = s.next_due(t1, chrono_tz::UTC, &zones).unwrap();
        assert_eq!((format_ts(t2), g2[0].1), ("2026-11-25T15:00:00Z".into(), Some(chrono_tz::America::New_York)));
        assert!(s.next_due(t2, chrono_tz::UTC, &zones).is_none());
    }

    #[test]
    fn audience_expression_ors_includes_and_removes_excludes() {
        let a = Audience { include: vec!["tag:a".into(), "segment:b".into()], exclude: vec!["tag:c".into()] };
        assert_eq!(a.expression(), "((tag:a) or (segment:b)) and not ((tag:c))");
        assert_eq!(a.included_segments(), ["b"]);
        assert_eq!(reason_code("cap(email 1/1d)"), "cap");
    }
}
