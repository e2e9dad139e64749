//! Journey files: a full file read back, and bad files refused at their line.

use super::*;
use crate::segment::StaticCatalog;

fn cat() -> StaticCatalog {
    StaticCatalog::builtin()
        .with_tags(&["vip"])
        .with_field("tier", FieldType::Enum(vec!["gold".into(), "silver".into()]))
}

fn read(text: &str) -> Result<Journey, FileError> {
    let c = cat();
    parse_journey(text, &Checker { catalog: &c }, 1_000).map(|(j, _)| j)
}

const GOOD: &str = r#"
name = "cart"
description = "abandoned cart"

[entry]
event = "cart_abandon"
where = "amount > 20"
if = "consent.email = true"
reentry = "after 30d"

[[goal]]
event = "purchase"

[[step]]
name = "recent"
if = "not days_since_last(purchase) < 15"
else = "exit"

[[step]]
name = "customer"
if = "count(purchase, last 6mo) >= 1"
then = "wait_long"

[[step]]
name = "wait_short"
wait = "4h"
next = "remind"

[[step]]
name = "wait_long"
wait = "24h"
at = "10:00"

[[step]]
name = "remind"
send = "email"
priority = "high"
subject = "Your cart"
body = "Hi {{ first_name }}"

[[step]]
name = "watch"
wait_for = "purchase"
timeout = "2d"
on_event = "done"

[[step]]
name = "ab"
split = [{ percent = 45 }, { percent = 45, next = "tagged" }, { percent = 10, holdout = true }]

[[step]]
name = "code"
send = "sms"
body = "5% off: {{ promo_code }}"
promo = { percent = 5, valid = "7d", prefix = "CART5" }

[[step]]
name = "tagged"
tag_add = "cart_rescued"

[[step]]
if = "count(purchase, since entry) = 0"

[[step]]
score = -2

[[step]]
set = { tier = "silver" }

[[step]]
name = "done"
exit = true
"#;

#[test]
fn a_full_file_is_read() {
    let j = read(GOOD).unwrap();
    assert_eq!(j.name, "cart");
    assert_eq!(j.trigger, Trigger::Event { kind: "cart_abandon".into(), filter: Some("amount > 20".into()) });
    assert_eq!(j.entry_if.as_deref(), Some("consent.email = true"));
    assert_eq!(j.reentry, Reentry::AfterWindow(Dur::parse("30d").unwrap()));
    assert_eq!(j.goals, vec![Goal::Event { kind: "purchase".into(), filter: None }]);
    let names: Vec<&str> = j.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "recent",
            "customer",
            "wait_short",
            "wait_long",
            "remind",
            "watch",
            "ab",
            "code",
            "tagged",
            "step10",
            "step11",
            "step12",
            "done"
        ]
    );
    let end = j.steps.len();
    assert_eq!(
        j.steps[0].action,
        Action::If { expr: "not days_since_last(purchase) < 15".into(), then: 1, otherwise: end }
    );
    assert_eq!(j.steps[1].action, Action::If { expr: "count(purchase, last 6mo) >= 1".into(), then: 3, otherwise: 2 });
    assert_eq!(j.steps[2].next, 4);
    assert_eq!(j.steps[3].action, Action::Wait { dur: Some(Dur::parse("24h").unwrap()), at: Some(600) });
    assert!(matches!(
        &j.steps[4].action,
        Action::Send { channel: Channel::Email, priority: Priority::High, promo: None, .. }
    ));
    assert!(matches!(&j.steps[5].action, Action::WaitFor { on_event: 12, .. }));
    assert_eq!(
        j.steps[6].action,
        Action::Split {
            branches: vec![
                Branch { percent: 45, next: Some(7) },
                Branch { percent: 45, next: Some(8) },
                Branch { percent: 10, next: None }
            ]
        }
    );
    match &j.steps[7].action {
        Action::Send { promo: Some(p), channel: Channel::Sms, .. } => {
            assert_eq!((p.percent, p.valid.secs, p.prefix.as_str()), (5, 7 * 86_400, "CART5"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(j.steps[10].action, Action::Score(-2));
    assert_eq!(j.steps[11].action, Action::Set { attribute: "tier".into(), value: "silver".into() });
    assert_eq!(j.steps[12].action, Action::Exit);
    assert_eq!(j.steps[12].line, 70, "the line of its [[step]]");
    assert_eq!(j.status, Status::Draft);
}

/// `GOOD` with `from` replaced by `to`: the error's line and a piece of its reason.
fn bad(from: &str, to: &str) -> FileError {
    assert!(GOOD.contains(from), "{from}");
    read(&GOOD.replacen(from, to, 1)).unwrap_err()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[track_caller]
fn refused(from: &str, to: &str, needle: &str, reason: &str) {
    let e = bad(from, to);
    let text = GOOD.replacen(from, to, 1);
    assert_eq!(e.line, line_of(&text, needle), "{e}");
    assert!(e.reason.contains(reason), "{e} does not say {reason:?}");
}

#[test]
fn bad_files_are_refused_at_their_line() {
    // a step pointing nowhere, or back
    refused("then = \"wait_long\"", "then = \"wait_lnog\"", "wait_lnog", "points nowhere");
    refused("next = \"remind\"", "next = \"recent\"", "next = \"recent\"", "points back to an earlier step");
    refused("on_event = \"done\"", "on_event = \"watch\"", "on_event = \"watch\"", "points back");
    // unknown event kind or parameter
    refused(
        "event = \"cart_abandon\"",
        "event = \"cart_abandn\"",
        "cart_abandn",
        "unknown event kind `cart_abandn`, did you mean `cart_abandon`",
    );
    refused("where = \"amount > 20\"", "where = \"amont > 20\"", "amont", "amont");
    refused("wait_for = \"purchase\"", "wait_for = \"purchse\"", "purchse", "unknown event kind");
    // a condition that does not parse
    refused(
        "if = \"count(purchase, last 6mo) >= 1\"",
        "if = \"count(purchase, last 6mo) >=\"",
        "last 6mo) >=",
        "column 29",
    );
    refused("if = \"consent.email = true\"", "if = \"citty = 1\"", "citty", "unknown field");
    // zero and negative waits
    refused("wait = \"4h\"", "wait = \"0h\"", "\"0h\"", "longer than zero");
    refused("wait = \"24h\"", "wait = \"-1d\"", "-1d", "longer than zero");
    refused("timeout = \"2d\"", "timeout = \"0d\"", "\"0d\"", "longer than zero");
    // percentages not summing to 100
    refused("{ percent = 10, holdout = true }", "{ percent = 20, holdout = true }", "split =", "sum to 110, not 100");
    // a channel without a delivery adapter
    refused("send = \"sms\"", "send = \"fax\"", "send = \"fax\"", "no delivery adapter for channel `fax`");
    // TOML syntax and unknown keys
    refused("score = -2", "score = ", "score = ", "");
    refused("score = -2", "scroe = -2", "scroe", "unknown field `scroe`");
    // two actions, a modifier of another action
    refused("score = -2", "score = -2\nexit = true", "exit = true", "one action per step");
    refused(
        "tag_add = \"cart_rescued\"",
        "tag_add = \"cart_rescued\"\ntimeout = \"1d\"",
        "timeout = \"1d\"",
        "`timeout` goes with `wait_for`",
    );
    // a time of day, an attribute, a promo
    refused("at = \"10:00\"", "at = \"25:00\"", "25:00", "not a local time of day");
    refused("set = { tier = \"silver\" }", "set = { tier = \"bronze\" }", "bronze", "not a value of `tier`");
    refused("set = { tier = \"silver\" }", "set = { tierr = \"gold\" }", "tierr", "unknown attribute `tierr`");
    refused("percent = 5, valid", "percent = 0, valid", "percent = 0", "1 to 100");
    // entry problems
    refused("reentry = \"after 30d\"", "reentry = \"sometimes\"", "sometimes", "not `once`");
    refused("event = \"cart_abandon\"", "segment = \"tag:vip\"", "amount > 20", "a segment entry has none");
    let e = bad("name = \"recent\"", "name = \"done\"");
    assert_eq!((e.line, e.reason.as_str()), (71, "two steps are named `done`"), "the second one");
    refused("name = \"cart\"", "name = \"a cart\"", "a cart", "not a valid journey name");
    refused("body = \"Hi {{ first_name }}\"", "body = \"Hi {{ first_name \"", "Hi {{", "");
}

#[test]
fn a_journey_without_steps_or_entry_is_refused() {
    let e = read("name = \"x\"\n[entry]\nevent = \"purchase\"\n").unwrap_err();
    assert!(e.reason.contains("at least one [[step]]"), "{e}");
    let e = read("name = \"x\"\n[entry]\nreentry = \"once\"\n[[step]]\nexit = true\n").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.reason.contains("give one of `event`, `segment` or `after_last`"), "{e}");
    let e = read("name = \"x\"\n[entry]\nafter_last = \"purchase\"\n[[step]]\nexit = true\n").unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    assert!(e.reason.contains("needs `delay`"), "{e}");
    let ok =
        read("name = \"x\"\n[entry]\nafter_last = \"purchase\"\ndelay = \"90d\"\n[[step]]\nexit = true\n").unwrap();
    assert!(matches!(ok.trigger, Trigger::AfterLast { ref delay, .. } if delay.secs == 90 * 86_400));
}

/// The three shipped scenarios are valid over the built-in fields and kinds
/// (those of the demo data).
#[test]
fn the_shipped_scenarios_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo_data/journeys");
    for (file, steps) in [("abandoned_cart", 8), ("reactivation", 11), ("prospect_nurture", 45)] {
        let text = std::fs::read_to_string(dir.join(format!("{file}.toml"))).unwrap();
        let (j, warnings) = parse_journey(&text, &Checker { catalog: &StaticCatalog::builtin() }, 0)
            .unwrap_or_else(|e| panic!("{file}.toml:{e}"));
        assert_eq!(j.name, file, "named after its file");
        assert_eq!(j.steps.len(), steps, "{file}");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(j.goals, vec![Goal::Event { kind: "purchase".into(), filter: None }]);
    }
}
