//! Journeys as stored: entry, steps (forward only), goals, re-entry, status.

use serde::{Deserialize, Serialize};

use crate::campaign::{Channel, Priority};
use crate::model::time::Ts;

/// A positive length of time in whole seconds, with the text it was
/// written as (`4h`, `90d`, `2w`, `30m`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dur {
    pub secs: i64,
    pub text: String,
}

impl Dur {
    /// `N` followed by `m`, `h`, `d` or `w` (fixed lengths: a day is 24 h);
    /// zero and negative lengths are refused.
    pub fn parse(s: &str) -> Result<Dur, String> {
        let t = s.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit_secs = match unit {
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(format!("`{s}` is not a duration (a whole number and m, h, d or w: `4h`, `90d`)")),
        };
        let n: i64 = num.parse().map_err(|_| format!("`{s}` is not a duration (a whole number and m, h, d or w)"))?;
        if n <= 0 {
            return Err(format!("`{s}`: a wait must be longer than zero"));
        }
        let secs = n
            .checked_mul(unit_secs)
            .filter(|&x| x <= 100 * 366 * 86_400)
            .ok_or_else(|| format!("`{s}` is too long (at most 100 years)"))?;
        Ok(Dur { secs, text: t.to_string() })
    }
}

/// What makes a contact enter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// An event of `kind` whose parameters match `filter` (a segment
    /// filter: `amount > 20 and source = paid`).
    Event { kind: String, filter: Option<String> },
    /// Starting to match a segment expression (members when the journey
    /// starts enter too).
    Segment { expr: String },
    /// `delay` after the contact's last event of `kind` (matching
    /// `filter`), if no later one came: 90 days after the last purchase.
    AfterLast { kind: String, filter: Option<String>, delay: Dur },
}

/// Whether a contact may enter again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reentry {
    /// once ever
    Once,
    /// again once the previous run ended (completed, exited or goal)
    AfterExit,
    /// again once the previous run ended and at least this long after its entry
    AfterWindow(Dur),
}

impl Reentry {
    pub fn describe(&self) -> String {
        match self {
            Reentry::Once => "once".into(),
            Reentry::AfterExit => "after_exit".into(),
            Reentry::AfterWindow(d) => format!("after {}", d.text),
        }
    }
}

/// A goal: reaching it ends the contact's run at once (`goal` exit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Goal {
    /// An event of `kind` (matching `filter`) after entry.
    Event { kind: String, filter: Option<String> },
    /// Matching a segment expression.
    Segment { expr: String },
}

impl Goal {
    pub fn describe(&self) -> String {
        match self {
            Goal::Event { kind, filter: None } => format!("event {kind}"),
            Goal::Event { kind, filter: Some(f) } => format!("event {kind} where {f}"),
            Goal::Segment { expr } => format!("segment {expr}"),
        }
    }
}

/// A step's successor: an index into the steps, `steps.len()` being the
/// end of the journey (the run is completed).
pub type Target = usize;

/// One branch of a random split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    pub percent: u8,
    /// `None`: the holdout, which receives nothing and leaves the journey.
    pub next: Option<Target>,
}

/// A unique promotion code handed out by a send step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promo {
    /// percent off, 1–100
    pub percent: u8,
    /// how long the code is valid after it is sent
    pub valid: Dur,
    /// the code's prefix (`CART5`); codes are PREFIX-XXXX
    pub prefix: String,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Wait `dur` (if any), then until the next `at` (minutes after local
    /// midnight in the contact's timezone, if any).
    Wait {
        dur: Option<Dur>,
        at: Option<u32>,
    },
    /// Wait for an event (after the step began) or the timeout; the event
    /// goes to `on_event`, the timeout to the step's `next`.
    WaitFor {
        kind: String,
        filter: Option<String>,
        timeout: Dur,
        on_event: Target,
    },
    /// A segment expression evaluated at that moment (`since entry` windows
    /// are the contact's entry into this run).
    If {
        expr: String,
        then: Target,
        otherwise: Target,
    },
    /// A condition over the parameters of the event that made the contact
    /// enter (`amount > 150`); false when the entry had no event.
    IfEntry {
        filter: String,
        then: Target,
        otherwise: Target,
    },
    /// Random split; the percentages sum to 100.
    Split {
        branches: Vec<Branch>,
    },
    /// A message under the DND policy, like a campaign's.
    Send {
        channel: Channel,
        priority: Priority,
        subject: String,
        body: String,
        promo: Option<Promo>,
    },
    TagAdd(String),
    TagRemove(String),
    /// Adds to the score (negative to take away).
    Score(i64),
    /// Sets an attribute to a value (as text, parsed by its type).
    Set {
        attribute: String,
        value: String,
    },
    /// Leaves the journey (`exited`).
    Exit,
}

impl Action {
    /// The step type as files write it.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Wait { dur: Some(_), .. } => "wait",
            Action::Wait { dur: None, .. } => "wait_until",
            Action::WaitFor { .. } => "wait_for",
            Action::If { .. } => "if",
            Action::IfEntry { .. } => "if_entry",
            Action::Split { .. } => "split",
            Action::Send { .. } => "send",
            Action::TagAdd(_) => "tag_add",
            Action::TagRemove(_) => "tag_remove",
            Action::Score(_) => "score",
            Action::Set { .. } => "set",
            Action::Exit => "exit",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub action: Action,
    /// where the contact goes after this step (for branches: the default)
    pub next: Target,
    /// the line of the step in its file
    pub line: u32,
}

/// Where a journey is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// created, not started
    Draft,
    /// contacts enter and advance
    Active,
    /// nobody enters or advances; timers keep their moments
    Paused,
    /// ended for good: runs in progress are exited
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Active => "active",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A journey as stored (postcard, JOURNEYS table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journey {
    pub name: String,
    pub description: String,
    pub trigger: Trigger,
    /// a segment expression the contact must match at entry
    pub entry_if: Option<String>,
    pub reentry: Reentry,
    /// with an event entry: events this long before the start also make
    /// their contacts enter, at the start (the latest one per contact, when
    /// no goal was reached since it)
    pub lookback: Option<Dur>,
    pub goals: Vec<Goal>,
    pub steps: Vec<Step>,
    pub status: Status,
    pub created_at: Ts,
    pub updated_at: Ts,
    /// when it was last started (entries are looked for after this)
    pub started_at: Option<Ts>,
    /// the file it was created from
    pub source: String,
}

impl Journey {
    /// A step's index by name.
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// A target as text: a step's name, or `end`.
    pub fn target_name(&self, t: Target) -> &str {
        self.steps.get(t).map_or("end", |s| s.name.as_str())
    }

    pub fn describe_trigger(&self) -> String {
        match &self.trigger {
            Trigger::Event { kind, filter } => {
                let mut s = format!("event {kind}");
                if let Some(f) = filter {
                    s.push_str(&format!(" where {f}"));
                }
                if let Some(d) = &self.lookback {
                    s.push_str(&format!(" (and the {} before the start)", d.text));
                }
                s
            }
            Trigger::Segment { expr } => format!("segment {expr}"),
            Trigger::AfterLast { kind, filter, delay } => match filter {
                None => format!("{} after the last {kind}", delay.text),
                Some(f) => format!("{} after the last {kind} where {f}", delay.text),
            },
        }
    }
}

/// `since entry` in a condition, as the segment language reads it: the
/// contact's entry instant as an RFC 3339 timestamp.
pub fn with_entry(expr: &str, entered_at: Ts) -> String {
    replace_since_entry(expr, &crate::model::time::format_ts(entered_at)).0
}

/// Replaces every `since entry` (any case, any spaces between) by `since
/// WHEN`; returns the text and, for each replacement, (its offset in the
/// new text, the growth in bytes) to map error columns back.
pub fn replace_since_entry(expr: &str, when: &str) -> (String, Vec<(usize, isize)>) {
    let lower = expr.to_ascii_lowercase();
    let mut out = String::with_capacity(expr.len() + 16);
    let mut shifts = Vec::new();
    let mut i = 0;
    while let Some(p) = lower[i..].find("since") {
        let start = i + p;
        let after = start + 5;
        let rest = &lower[after..];
        let ws = rest.len() - rest.trim_start().len();
        let word_end = after + ws + 5;
        let boundary_before = start == 0 || !is_word(lower.as_bytes()[start - 1]);
        let is_entry = ws > 0
            && lower.get(after + ws..word_end) == Some("entry")
            && lower.as_bytes().get(word_end).is_none_or(|&b| !is_word(b));
        if boundary_before && is_entry {
            out.push_str(&expr[i..start]);
            let repl = format!("since {when}");
            shifts.push((out.len(), repl.len() as isize - (word_end - start) as isize));
            out.push_str(&repl);
            i = word_end;
        } else {
            out.push_str(&expr[i..after]);
            i = after;
        }
    }
    out.push_str(&expr[i..]);
    (out, shifts)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_positive_fixed_lengths() {
        assert_eq!(Dur::parse("4h").unwrap().secs, 4 * 3600);
        assert_eq!(Dur::parse("90d").unwrap().secs, 90 * 86_400);
        assert_eq!(Dur::parse("2w").unwrap().secs, 14 * 86_400);
        assert_eq!(Dur::parse("30m").unwrap().secs, 1800);
        assert!(Dur::parse("0h").unwrap_err().contains("longer than zero"));
        assert!(Dur::parse("-1d").unwrap_err().contains("longer than zero"));
        assert!(Dur::parse("3 days").is_err());
        assert!(Dur::parse("h").is_err());
        assert!(Dur::parse("99999999999w").is_err());
    }

    #[test]
    fn since_entry_becomes_the_entry_instant() {
        assert_eq!(
            with_entry("count(purchase, since entry) = 0", 86_400),
            "count(purchase, since 1970-01-02T00:00:00Z) = 0"
        );
        assert_eq!(with_entry("count(x, SINCE   Entry) = 0", 0), "count(x, since 1970-01-01T00:00:00Z) = 0");
        // not a window: left alone
        assert_eq!(with_entry("tag:since_entry", 0), "tag:since_entry");
        assert_eq!(with_entry("count(x, since 2026-01-01) > 1", 0), "count(x, since 2026-01-01) > 1");
        let (_, shifts) = replace_since_entry("count(a, since entry) = 0 and count(b, since entry) = 0", "2000-01-01");
        assert_eq!(shifts, vec![(9, 5), (44, 5)]);
    }
}

/// Where one contact's run of a journey stands (ENROLLMENTS: (journey,
/// contact) → the latest run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// 1 for the contact's first run of this journey, then 2, …
    pub run: u32,
    pub entered_at: Ts,
    /// the step it is at (`steps.len()` once ended)
    pub step: u32,
    /// when it reached that step (or began waiting inside it)
    pub since: Ts,
    pub state: RunState,
    /// the instant of the event that made it enter (`if_entry` reads its
    /// parameters; an event at or before it never makes the contact enter again)
    pub entry_event: Option<Ts>,
    /// what the timer is for: arriving at `step`, or waiting inside it
    pub phase: Phase,
}

/// What a waiting run's timer is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// at `until` the run arrives at `step` and does it
    #[default]
    Arrive,
    /// inside a `wait_for` step since `since`: an event (or the timeout at
    /// `until`) moves it on
    WaitFor,
    /// inside a `send` step whose message the DND policy deferred to `until`
    Deferred,
}

/// A run's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    /// due to be processed at `until` (a wait, a deferral, a timeout); a
    /// durable timer holds it
    Waiting { until: Ts },
    /// went through every step
    Completed { at: Ts },
    /// left early: `exit` step, `goal`, `holdout`, `stopped` (the journey was stopped)
    Exited { at: Ts, reason: String },
}

impl Enrollment {
    pub fn is_active(&self) -> bool {
        matches!(self.state, RunState::Waiting { .. })
    }

    /// The timer's moment, if waiting.
    pub fn due(&self) -> Option<Ts> {
        match self.state {
            RunState::Waiting { until } => Some(until),
            _ => None,
        }
    }

    /// When the run ended, if it did.
    pub fn ended_at(&self) -> Option<Ts> {
        match &self.state {
            RunState::Waiting { .. } => None,
            RunState::Completed { at } | RunState::Exited { at, .. } => Some(*at),
        }
    }

    /// `waiting until …`, `completed`, `exited (goal)`.
    pub fn describe(&self) -> String {
        match &self.state {
            RunState::Waiting { until } => format!("waiting until {}", crate::model::time::format_ts(*until)),
            RunState::Completed { .. } => "completed".into(),
            RunState::Exited { reason, .. } => format!("exited ({reason})"),
        }
    }
}

/// What happened at one step of one run (JOURNEY_STEPS, keyed by
/// (journey, contact, run, step): written once, so a replay finds it and
/// does nothing again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub at: Ts,
    /// `waited`, `then`, `else`, `event`, `timeout`, `branch 2`, `holdout`,
    /// `sent`, `suppressed(cap(email 1/1d))`, `done`, `exit`
    pub outcome: String,
    /// a send's promotion code
    pub code: Option<String>,
    /// a send decided after the DND policy deferred it
    pub deferred: bool,
}

/// A unique promotion code handed to a contact by a journey's send step
/// (PROMO_CODES: code → this).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromoCode {
    pub journey: String,
    pub contact: u32,
    pub run: u32,
    pub step: u32,
    pub percent: u8,
    pub issued_at: Ts,
    pub valid_until: Ts,
}

/// Whether a contact whose latest run is `last` may enter again at `t`.
pub fn may_enter(reentry: &Reentry, last: Option<&Enrollment>, t: Ts) -> bool {
    let Some(last) = last else { return true };
    let Some(ended) = last.ended_at() else { return false };
    match reentry {
        Reentry::Once => false,
        Reentry::AfterExit => ended <= t,
        Reentry::AfterWindow(d) => ended <= t && t >= last.entered_at + d.secs,
    }
}

#[cfg(test)]
mod enrollment_tests {
    use super::*;

    fn run(entered_at: Ts, state: RunState) -> Enrollment {
        Enrollment { run: 1, entered_at, step: 0, since: entered_at, state, entry_event: None, phase: Phase::Arrive }
    }

    #[test]
    fn reentry_rules() {
        let waiting = run(0, RunState::Waiting { until: 50 });
        let ended = run(0, RunState::Completed { at: 100 });
        let window = Reentry::AfterWindow(Dur::parse("1d").unwrap());
        assert!(may_enter(&Reentry::Once, None, 0));
        assert!(!may_enter(&Reentry::Once, Some(&ended), 1_000));
        for r in [Reentry::Once, Reentry::AfterExit, window.clone()] {
            assert!(!may_enter(&r, Some(&waiting), 1_000_000), "one run at a time");
        }
        assert!(may_enter(&Reentry::AfterExit, Some(&ended), 100));
        assert!(!may_enter(&window, Some(&ended), 86_399));
        assert!(may_enter(&window, Some(&ended), 86_400));
    }
}
