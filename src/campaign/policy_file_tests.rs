//! Policy file tests: the spec's example, round trips, each exact error.

use super::*;
use crate::campaign::window::WindowUnit;

/// The spec's example, verbatim.
const SPEC_EXAMPLE: &str = r#"timezone = "Europe/Rome"          # for contacts without one
[quiet_hours]                      # in the contact's local time
email = "22:00-08:00"
sms   = "20:00-09:00"
push  = "21:00-09:00"
on_quiet = "defer"                 # or "drop"
[[caps]]                            # rolling windows
channel = "email"                   # "email" | "sms" | "push" | "any" (all channels together)
max = 1
per = "1d"
[[caps]]
channel = "email"
max = 3
per = "7d"
[[caps]]
channel = "any"
max = 5
per = "7d"
[priorities.critical]               # e.g. service messages
bypass_caps = true
bypass_quiet_hours = false
"#;

fn err(text: &str) -> String {
    parse_policy(text, "policy.toml").unwrap_err().to_string()
}

/// A valid base policy to which each error test appends or replaces lines.
const BASE: &str = "timezone = \"Europe/Rome\"\n[quiet_hours]\nemail = \"22:00-08:00\"\n";

#[test]
fn the_spec_example_is_the_default() {
    assert_eq!(parse_policy(SPEC_EXAMPLE, "p.toml").unwrap(), Policy::default());
}

#[test]
fn to_toml_round_trips() {
    let p = Policy::default();
    assert_eq!(parse_policy(&p.to_toml(), "shown.toml").unwrap(), p);

    let text = r#"
timezone = "America/New_York"
on_quiet = "drop"
[quiet_hours]
email = ["12:00-13:30", "22:00-07:00"]
[[caps]]
channel = "push"
max = 2
per = "1w"
calendar = true
[[caps]]
channel = "sms"
max = 4
per = "3mo"
[priorities.low]
counts_toward_caps = false
[priorities.high]
bypass_quiet_hours = true
"#;
    let p = parse_policy(text, "p.toml").unwrap();
    assert_eq!(p.on_quiet, OnQuiet::Drop);
    assert_eq!(p.quiet_ranges(Channel::Email).len(), 2);
    assert!(p.quiet_ranges(Channel::Sms).is_empty());
    assert_eq!(p.caps[0].per, Window::new(1, WindowUnit::Weeks));
    assert!(p.caps[0].calendar);
    assert_eq!(p.caps[1].per, Window::new(3, WindowUnit::Months));
    assert!(!p.rules(Priority::Low).counts_toward_caps);
    assert!(p.rules(Priority::High).bypass_quiet_hours);
    // Unlisted: defaults.
    assert_eq!(p.rules(Priority::Normal), PriorityRules::default());
    assert_eq!(parse_policy(&p.to_toml(), "shown.toml").unwrap(), p);
}

#[test]
fn serde_json_round_trips() {
    let p = Policy::default();
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"timezone\":\"Europe/Rome\""), "{json}");
    assert!(json.contains("\"per\":\"7d\""), "{json}");
    assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), p);
}

#[test]
fn unknown_channel_in_quiet_hours() {
    assert_eq!(
        err(&format!("{BASE}fax = \"22:00-08:00\"\n")),
        "policy.toml:4: quiet_hours: unknown channel `fax` (expected email, sms or push)"
    );
}

#[test]
fn unknown_channel_in_a_cap() {
    let text = format!("{BASE}[[caps]]\nchannel = \"fax\"\nmax = 1\nper = \"1d\"\n");
    assert_eq!(err(&text), "policy.toml:5: cap: unknown channel `fax` (expected email, sms, push or any)");
}

#[test]
fn unknown_priority() {
    let text = format!("{BASE}\n[priorities.urgent]\nbypass_caps = true\n");
    assert_eq!(
        err(&text),
        "policy.toml:5: priorities: unknown priority `urgent` (expected critical, high, normal or low)"
    );
}

#[test]
fn bad_timezone() {
    assert_eq!(
        err("# policy\ntimezone = \"Europe/Roma\"\n"),
        "policy.toml:2: unknown timezone `Europe/Roma` (expected an IANA name such as Europe/Rome)"
    );
}

#[test]
fn malformed_quiet_hours() {
    let text = "timezone = \"UTC\"\n[quiet_hours]\nsms = \"20:00-09:00\"\nemail = \"25:00-08:00\"\n";
    assert_eq!(
        err(text),
        "policy.toml:4: quiet_hours.email: `25:00-08:00` is not a range HH:MM-HH:MM: hour 25 is not in 00-23"
    );
    assert_eq!(
        err("timezone = \"UTC\"\n[quiet_hours]\npush = \"9pm-9am\"\n"),
        "policy.toml:3: quiet_hours.push: `9pm-9am` is not a range HH:MM-HH:MM: `9pm` is not a time HH:MM"
    );
}

#[test]
fn quiet_hours_start_equal_to_end() {
    assert_eq!(
        err("timezone = \"UTC\"\n[quiet_hours]\nemail = \"08:00-08:00\"\n"),
        "policy.toml:3: quiet_hours.email: `08:00-08:00` starts and ends at the same time (an empty or a whole-day range is ambiguous)"
    );
}

#[test]
fn overlapping_quiet_hours() {
    let text = "timezone = \"UTC\"\n[quiet_hours]\nemail = [\n  \"22:00-08:00\",\n  \"07:00-09:00\",\n]\n";
    assert_eq!(err(text), "policy.toml:5: quiet_hours.email: `07:00-09:00` overlaps `22:00-08:00`");
}

#[test]
fn cap_max_zero() {
    let text = format!("{BASE}[[caps]]\nchannel = \"email\"\nmax = 0\nper = \"1d\"\n");
    assert_eq!(err(&text), "policy.toml:6: cap: max must be at least 1 (got 0)");
}

#[test]
fn cap_per_zero() {
    let text = format!("{BASE}[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"0d\"\n");
    assert_eq!(err(&text), "policy.toml:7: cap: per `0d` is an empty window (per must be greater than zero)");
}

#[test]
fn cap_per_malformed() {
    let text = format!("{BASE}[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"1m\"\n");
    assert_eq!(err(&text), "policy.toml:7: cap: per `1m` is not a duration (expected Nh, Nd, Nw or Nmo, e.g. 7d)");
}

#[test]
fn calendar_cap_needs_one_day_week_or_month() {
    let text = format!("{BASE}[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"2d\"\ncalendar = true\n");
    assert_eq!(err(&text), "policy.toml:7: cap: a calendar cap needs per = 1d, 1w or 1mo (got `2d`)");
}

#[test]
fn on_quiet_must_be_defer_or_drop() {
    assert_eq!(
        err(&format!("{BASE}on_quiet = \"later\"\n")),
        "policy.toml:4: on_quiet must be \"defer\" or \"drop\" (got `later`)"
    );
    assert_eq!(
        err(&format!("on_quiet = \"drop\"\n{BASE}on_quiet = \"defer\"\n")),
        "policy.toml:5: on_quiet is given twice"
    );
}

#[test]
fn unknown_key() {
    let text = format!("{BASE}[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"1d\"\nrolling = true\n");
    assert_eq!(
        err(&text),
        "policy.toml:8: unknown field `rolling`, expected one of `channel`, `max`, `per`, `calendar`"
    );
    assert_eq!(
        err("timezone = \"UTC\"\nquiet = 1\n"),
        "policy.toml:2: unknown field `quiet`, expected one of `timezone`, `quiet_hours`, `on_quiet`, `caps`, `priorities`"
    );
    assert_eq!(
        err("timezone = \"UTC\"\n[priorities.low]\nbypass = true\n"),
        "policy.toml:3: unknown field `bypass`, expected one of `bypass_caps`, `bypass_quiet_hours`, `counts_toward_caps`"
    );
}

#[test]
fn bad_toml_syntax() {
    let e = err("timezone = \"UTC\"\n[quiet_hours\nemail = \"22:00-08:00\"\n");
    assert!(e.starts_with("policy.toml:2: "), "{e}");
    assert_eq!(e, "policy.toml:2: unclosed table, expected `]`");
}

#[test]
fn wrong_types_and_missing_fields() {
    assert_eq!(
        err(&format!("{BASE}[[caps]]\nchannel = \"email\"\nmax = \"one\"\nper = \"1d\"\n")),
        "policy.toml:6: invalid type: string \"one\", expected i64"
    );
    assert_eq!(err("[quiet_hours]\nemail = \"22:00-08:00\"\n"), "policy.toml:1: missing field `timezone`");
}

#[test]
fn quiet_hours_covering_the_whole_day() {
    let text = "timezone = \"UTC\"\n[quiet_hours]\nsms = [\"08:00-20:00\", \"20:00-08:00\"]\n";
    assert_eq!(
        err(text),
        "policy.toml:3: quiet_hours.sms: the ranges cover the whole day, so nothing could ever be sent"
    );
}
