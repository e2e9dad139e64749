//! Journeys through the CLI: the shipped scenarios created, listed, shown,
//! started, paused and stopped; bad files refused at their line with
//! nothing created; enrollments by step; the simulation on a tiny store.

mod common;

use common::Env;
use serde_json::{Value, json};

fn shipped(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo_data/journeys")
        .join(format!("{name}.toml"))
        .display()
        .to_string()
}

fn world() -> Env {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,timezone,consent_email\n\
         rome,rome@x.it,Anna,Europe/Rome,true\n\
         ny,ny@x.com,Ned,America/New_York,true\n",
        &[],
    )
    .ok();
    env
}

#[test]
fn the_shipped_scenarios_are_created_and_run_through_their_statuses() {
    let env = world();
    for name in ["abandoned_cart", "reactivation", "prospect_nurture"] {
        let out = env.run(&["journey", "create", &shipped(name), "--format", "table"]).ok();
        assert!(out.starts_with(&format!("created journey {name} (draft, ")), "{out}");
    }
    let list = env.json(&["journey", "list"]);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["abandoned_cart", "prospect_nurture", "reactivation"]);
    assert_eq!(list[0]["status"], "draft");
    assert_eq!(list[0]["entry"], "event cart_abandon (and the 1d before the start)");
    assert_eq!(list[2]["entry"], "90d after the last purchase");

    let show = env.run(&["journey", "show", "abandoned_cart", "--format", "table"]).ok();
    for line in [
        "abandoned_cart (draft)",
        "  entry      on event cart_abandon (and the 1d before the start)",
        "  re-entry   after_exit",
        "  goal       event purchase",
        "last_order_old",
        "if not days_since_last(purchase) < 15 then recent_customer else end",
        "wait 4h -> reminder",
        "send email (normal) \"5% off your cart\" with a 5% code (CART5-…, valid 7d)",
    ] {
        assert!(show.contains(line), "missing {line:?} in\n{show}");
    }
    let j = env.json(&["journey", "show", "reactivation"]);
    assert_eq!(
        j["steps"][0],
        json!({"name": "big_last_order", "type": "if_entry", "waiting": 0,
        "what": "if entry amount > 150 then code_3m else news"})
    );

    // statuses: start, pause, start again, stop; refusals are conflicts (exit 2)
    assert_eq!(env.run(&["journey", "start", "abandoned_cart"]).ok(), "journey abandoned_cart is active\n");
    assert!(env.run(&["journey", "start", "abandoned_cart"]).fails(2).contains("is active; cannot make it active"));
    assert_eq!(env.run(&["journey", "pause", "abandoned_cart"]).ok(), "journey abandoned_cart is paused\n");
    assert!(env.run(&["journey", "pause", "abandoned_cart"]).fails(2).contains("is paused"));
    env.run(&["journey", "start", "abandoned_cart"]).ok();
    assert_eq!(env.run(&["journey", "stop", "abandoned_cart"]).ok(), "journey abandoned_cart is stopped\n");
    assert!(env.run(&["journey", "start", "abandoned_cart"]).fails(2).contains("is stopped"));
    let j = env.json(&["journey", "show", "abandoned_cart"]);
    assert_eq!(j["status"], "stopped");
    assert_eq!(j["started_at"], "2026-11-24T12:00:00Z");

    // enrollments: none yet; a step is checked
    assert_eq!(env.json(&["journey", "enrollments", "abandoned_cart"]), json!([]));
    assert_eq!(env.json(&["journey", "enrollments", "abandoned_cart", "--step", "reminder"]), json!([]));
    let err = env.run(&["journey", "enrollments", "abandoned_cart", "--step", "remindr"]).fails(2);
    assert!(err.contains("has no step `remindr`, did you mean `reminder`?"), "{err}");
    assert!(env.run(&["journey", "show", "nope"]).fails(2).contains("no journey named `nope`"));
    assert!(
        env.run(&["journey", "create", &shipped("reactivation")])
            .fails(2)
            .contains("journey `reactivation` already exists")
    );
}

const BASE: &str = r#"name = "j"

[entry]
event = "cart_abandon"

[[step]]
name = "wait"
wait = "4h"

[[step]]
name = "check"
if = "count(purchase, since entry) = 0"
else = "exit"

[[step]]
name = "mail"
send = "email"
subject = "Hi"
body = "Hello {{ first_name }}"
"#;

#[test]
fn bad_files_are_refused_at_their_line_and_nothing_is_created() {
    let env = world();
    let cases: Vec<(String, &str)> = vec![
        (
            BASE.replace("else = \"exit\"", "else = \"nowhere\""),
            "bad.toml:13: step check: else `nowhere` points nowhere",
        ),
        (
            BASE.replace("else = \"exit\"", "else = \"wait\""),
            "bad.toml:13: step check: else `wait` points back to an earlier step",
        ),
        (
            BASE.replace("event = \"cart_abandon\"", "event = \"cart_abandn\""),
            "bad.toml:4: entry.event: unknown event kind `cart_abandn`, did you mean `cart_abandon`?",
        ),
        (
            BASE.replace("event = \"cart_abandon\"", "event = \"cart_abandon\"\nwhere = \"amont > 1\""),
            "bad.toml:5: entry.event.where `amont > 1`: column 1: event `cart_abandon` has no parameter `amont`, did you mean `amount`?",
        ),
        (
            BASE.replace("since entry) = 0", "since entry) ="),
            "bad.toml:12: step check: if `count(purchase, since entry) =`: column",
        ),
        (BASE.replace("\"4h\"", "\"0h\""), "bad.toml:8: step wait: wait: `0h`: a wait must be longer than zero"),
        (BASE.replace("\"4h\"", "\"-4h\""), "bad.toml:8: step wait: wait: `-4h`: a wait must be longer than zero"),
        (
            BASE.replace("wait = \"4h\"", "split = [{ percent = 50 }, { percent = 40 }]"),
            "bad.toml:8: step wait: the split's percentages sum to 90, not 100",
        ),
        (
            BASE.replace("send = \"email\"", "send = \"fax\""),
            "bad.toml:17: step mail: no delivery adapter for channel `fax`",
        ),
        (BASE.replace("wait = \"4h\"", "wiat = \"4h\""), "bad.toml:8: unknown field `wiat`"),
        (
            BASE.replace("event = \"cart_abandon\"", "segment = \"score > 1\"\nlookback = \"1d\""),
            "bad.toml:5: entry.lookback goes with `event`",
        ),
        (
            BASE.replace("event = \"cart_abandon\"", "event = \"cart_abandon\"\nlookback = \"1y\""),
            "bad.toml:5: entry.lookback: `1y` is not a duration",
        ),
    ];
    for (text, reason) in cases {
        env.write("bad.toml", &text);
        let err = env.run(&["journey", "create", "bad.toml"]).fails(2);
        assert!(err.starts_with(&format!("error: {reason}")), "expected `{reason}` in: {err}\n{text}");
    }
    assert_eq!(env.json(&["journey", "list"]), json!([]));
    env.write("ok.toml", BASE);
    env.run(&["journey", "create", "ok.toml"]).ok();
    let list: Value = env.json(&["journey", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
}

/// The world and a third contact, `late` (Europe/Rome).
fn world_with_late() -> Env {
    let env = world();
    env.import(
        "contacts",
        "late.csv",
        "external_id,email,timezone,consent_email\nlate,late@x.it,Europe/Rome,true\n",
        &[],
    )
    .ok();
    env
}

/// The store of the hand-computed day: three contacts, their abandons and
/// one order, the quiet-hours policy, and journey `j` (BASE with a goal).
fn hand_computed_day() -> Env {
    let env = world_with_late();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind\nrome,2026-11-24T13:00:00Z,cart_abandon\nny,2026-11-24T14:00:00Z,cart_abandon\n\
         ny,2026-11-24T15:00:00Z,purchase\nlate,2026-11-24T20:00:00Z,cart_abandon\n",
        &[],
    )
    .ok();
    env.write("p.toml", "timezone = \"UTC\"\n[quiet_hours]\nemail = \"22:00-08:00\"\non_quiet = \"defer\"\n");
    env.run(&["policy", "set", "p.toml"]).ok();
    env.write(
        "j.toml",
        BASE.replace("[[step]]\nname = \"wait\"", "[[goal]]\nevent = \"purchase\"\n\n[[step]]\nname = \"wait\""),
    );
    env.run(&["journey", "create", "j.toml"]).ok();
    env
}

/// Hand-computed: policy in UTC, email quiet 22:00-08:00 (defer), no caps.
/// rome (Europe/Rome) abandons at 13:00Z, waits 4 h, has not ordered: the
/// mail at 17:00Z (18:00 Rome) is sent. ny abandons at 14:00Z and orders at
/// 15:00Z: the goal ends its run during the wait. late (Europe/Rome)
/// abandons at 20:00Z: due at 00:00Z (01:00 Rome, quiet), deferred to 08:00
/// Rome, then sent. Nothing is written.
#[test]
fn simulate_counts_each_step_by_hand() {
    let env = hand_computed_day();
    let s = env.json(&["journey", "simulate", "j", "--until", "2026-11-26T00:00:00Z"]);
    assert_eq!(s["entered"], 3);
    assert_eq!(s["steps"][0]["outcomes"], json!({"waited": 3}));
    assert_eq!(s["steps"][1]["outcomes"], json!({"then": 2}));
    assert_eq!(s["steps"][2]["outcomes"], json!({"sent": 2}));
    assert_eq!(s["steps"][2]["deferred"], 1);
    assert_eq!(
        (s["completed"].clone(), s["exited"].clone(), s["active"].clone()),
        (json!(2), json!({"goal": 1}), json!(0))
    );
    // writes nothing
    assert_eq!(env.json(&["journey", "enrollments", "j"]), json!([]));
    assert_eq!(env.json(&["journey", "show", "j"])["status"], "draft");
}

fn mails(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.path("outbox/email/new"))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn timeline(env: &Env, who: &str) -> Vec<String> {
    let c = env.json(&["contacts", "show", who]);
    let rows = c["timeline"].as_array().cloned().unwrap_or_default();
    // oldest first
    rows.iter()
        .rev()
        .filter_map(|a| {
            let what = a["what"].as_str()?;
            what.starts_with("j: ").then(|| format!("{} {what}", a["ts"].as_str().unwrap_or("?")))
        })
        .collect()
}

/// The same hand-computed day as `simulate_counts_each_step_by_hand`, now
/// run by the scheduler: what the simulation forecast is what happens, and
/// each contact's enrollment, messages and timeline say so.
#[test]
fn the_scheduler_runs_the_day_the_simulation_forecast() {
    run_the_hand_computed_day(None);
}

/// The same day written one contact's changes per transaction: each chunk
/// is written on the writer thread while the next is worked out, and the
/// outcome is the same to the letter.
#[test]
fn the_day_comes_out_the_same_written_a_contact_at_a_time() {
    run_the_hand_computed_day(Some("1"));
}

fn run_the_hand_computed_day(chunk: Option<&str>) {
    let env = hand_computed_day();
    let forecast = env.json(&["journey", "simulate", "j", "--until", "2026-11-26T00:00:00Z"]);
    env.run(&["journey", "start", "j"]).ok();
    let mut run = env.cmd(&["scheduler", "run", "--until", "2026-11-26T00:00:00Z"]);
    if let Some(n) = chunk {
        run.env("REACH_SCHEDULER_CHUNK", n);
    }
    common::Run::from_output(run.output().unwrap()).ok();

    let runs = env.json(&["journey", "enrollments", "j"]);
    let states: Vec<(String, String)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["contact"].to_string(), r["state"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        states,
        [("1".into(), "completed".into()), ("2".into(), "exited (goal)".into()), ("3".into(), "completed".into())]
    );
    let history: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["history"].as_str().unwrap()).collect();
    assert_eq!(history, ["wait:waited check:then mail:sent", "wait:waited", "wait:waited check:then mail:sent"]);
    // the two mails: rome's at 17:00Z, late's deferred from 00:00Z to 08:00 Rome (07:00Z)
    assert_eq!(mails(&env), ["journey.j.1.2.1", "journey.j.1.2.3"]);
    let late = std::fs::read_to_string(env.path("outbox/email/new/journey.j.1.2.3")).unwrap();
    assert!(late.contains("Date: Wed, 25 Nov 2026 07:00:00 +0000"), "{late}");
    assert_eq!(
        timeline(&env, "rome"),
        ["2026-11-24T13:00:00Z j: entered", "2026-11-24T17:00:00Z j: waited 4h, email sent, completed"]
    );
    assert_eq!(timeline(&env, "ny"), ["2026-11-24T14:00:00Z j: entered", "2026-11-24T15:00:00Z j: exited on purchase"]);
    assert_eq!(
        timeline(&env, "late"),
        [
            "2026-11-24T20:00:00Z j: entered",
            "2026-11-25T00:00:00Z j: waited 4h, email deferred until 2026-11-25T07:00:00Z",
            "2026-11-25T07:00:00Z j: email sent, completed"
        ]
    );
    // the forecast, step by step
    let counts = env.json(&["journey", "show", "j"])["counts"].clone();
    for k in ["entered", "completed", "exited", "active"] {
        assert_eq!(counts[k], forecast[k], "{k}: {counts} against {forecast}");
    }
    // running again changes nothing: each step happened once
    env.run(&["scheduler", "run", "--until", "2026-11-26T00:00:00Z"]).ok();
    assert_eq!(mails(&env).len(), 2);
    assert_eq!(timeline(&env, "late").len(), 3);
}

/// `lookback`: carts left in the day before the start enter at the start,
/// counted from the abandon (a goal reached since keeps the contact out;
/// an older cart is not looked at); `recent.page_view` shows the views up
/// to the send, newest first. The simulation forecasts the same entries.
/// Hand-computed (start 2026-11-24T12:00Z, no policy): rome abandons at
/// 10:00Z (enters, entered_at 10:00Z, mail at 16:00Z after the 4 h wait
/// from the start); ny abandons at 09:00Z and orders at 11:00Z (no entry);
/// late abandoned two days before (no entry) and again at 13:00Z (a normal
/// entry, mail at 17:00Z).
#[test]
fn lookback_enters_recent_carts_at_the_start_and_templates_see_recent_views() {
    let env = world_with_late();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,product,category\n\
         rome,2026-11-24T08:00:00Z,page_view,Boots,shoes\nrome,2026-11-24T09:00:00Z,page_view,Tent,camping\n\
         rome,2026-11-24T10:00:00Z,cart_abandon,,\nny,2026-11-24T09:00:00Z,cart_abandon,,\n\
         ny,2026-11-24T11:00:00Z,purchase,,\nlate,2026-11-22T09:00:00Z,cart_abandon,,\n\
         late,2026-11-24T13:00:00Z,cart_abandon,,\nrome,2026-11-24T20:00:00Z,page_view,Later,late\n",
        &[],
    )
    .ok();
    let file = BASE
        .replace("event = \"cart_abandon\"", "event = \"cart_abandon\"\nlookback = \"1d\"")
        .replace("[[step]]\nname = \"wait\"", "[[goal]]\nevent = \"purchase\"\n\n[[step]]\nname = \"wait\"")
        .replace(
            "body = \"Hello {{ first_name }}\"",
            "body = \"{% for v in recent.page_view %}{{ v.product }}@{{ v.at }};{% endfor %}\"",
        );
    env.write("j.toml", &file);
    env.run(&["journey", "create", "j.toml"]).ok();
    let s = env.json(&["journey", "simulate", "j", "--until", "2026-11-26T00:00:00Z"]);
    assert_eq!(s["entered"], 2, "{s}");
    assert_eq!(s["not_entered"], json!({"goal": 1}), "{s}");

    env.run(&["journey", "start", "j"]).ok();
    env.run(&["scheduler", "run", "--until", "2026-11-26T00:00:00Z"]).ok();
    let runs = env.json(&["journey", "enrollments", "j"]);
    let got: Vec<(String, String, String)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["contact"].to_string(), r["entered_at"].as_str().unwrap().into(), r["state"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1".into(), "2026-11-24T10:00:00Z".into(), "completed".into()),
            ("3".into(), "2026-11-24T13:00:00Z".into(), "completed".into())
        ]
    );
    assert_eq!(mails(&env), ["journey.j.1.2.1", "journey.j.1.2.3"]);
    let rome = std::fs::read_to_string(env.path("outbox/email/new/journey.j.1.2.1")).unwrap();
    assert!(rome.contains("Date: Tue, 24 Nov 2026 16:00:00 +0000"), "{rome}");
    assert!(rome.trim_end().ends_with("\nTent@2026-11-24T09:00:00Z;Boots@2026-11-24T08:00:00Z;"), "{rome}");
    let late = std::fs::read_to_string(env.path("outbox/email/new/journey.j.1.2.3")).unwrap();
    assert!(late.contains("Date: Tue, 24 Nov 2026 17:00:00 +0000"), "{late}");
}

/// Reservation: a journey's normal-priority mail may not take the place of
/// a high-priority campaign to come under a cap of one email a day.
/// Hand-computed (policy UTC, email 1/1d): rome and ny abandon at 12:30Z;
/// their mails are due at 16:30Z; the campaign `launch` (high, 18:00Z) is
/// for rome only, so rome's journey mail is suppressed as reserved(launch)
/// and rome gets the campaign; ny gets the journey mail.
#[test]
fn a_journey_send_does_not_take_the_place_of_a_higher_priority_campaign() {
    let env = world();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind\nrome,2026-11-24T12:30:00Z,cart_abandon\nny,2026-11-24T12:30:00Z,cart_abandon\n",
        &[],
    )
    .ok();
    env.write("p.toml", "timezone = \"UTC\"\n[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"1d\"\n");
    env.run(&["policy", "set", "p.toml"]).ok();
    env.run(&["segment", "save", "romeonly", "email = \"rome@x.it\""]).ok();
    env.write(
        "launch.toml",
        "name = \"launch\"\nchannel = \"email\"\npriority = \"high\"\nsubject = \"Launch\"\nbody = \"<p>new</p>\"\n\
         [audience]\ninclude = [\"segment:romeonly\"]\n[schedule]\nat = \"2026-11-24T18:00:00Z\"\n",
    );
    env.run(&["campaign", "create", "launch.toml"]).ok();
    env.run(&["campaign", "schedule", "launch"]).ok();
    env.write("j.toml", BASE);
    env.run(&["journey", "create", "j.toml"]).ok();
    env.run(&["journey", "start", "j"]).ok();
    env.run(&["scheduler", "run", "--until", "2026-11-25T00:00:00Z"]).ok();
    let runs = env.json(&["journey", "enrollments", "j"]);
    let history: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["history"].as_str().unwrap()).collect();
    assert_eq!(history, ["wait:waited check:then mail:suppressed(reserved)", "wait:waited check:then mail:sent"]);
    assert_eq!(mails(&env), ["journey.j.1.2.2", "launch.20261124T1800.1"]);
}
