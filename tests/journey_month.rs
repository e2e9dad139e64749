//! The three shipped journeys over a hand-computed month each, like the DND
//! week tables: a handful of contacts in three timezones (Rome UTC+1, New
//! York UTC−5, Tokyo UTC+9 all month: no DST change in Nov–Dec), with and
//! without orders, one opted out of email, one at its frequency cap, quiet
//! hours deferring a send. Every step's outcome and its reason is written
//! in the table at the top of each test, then checked against `journey
//! enrollments` (history and state), the outbox (files, the Date of deferred
//! ones, the promotion code in the body) and each profile's timeline; and
//! `journey simulate`, run before the scheduler, must forecast the same.
//!
//! Calendar: 2026-11-24 is a Tuesday.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::Env;
use serde_json::{Value, json};

fn shipped(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo_data/journeys")
        .join(format!("{name}.toml"))
        .display()
        .to_string()
}

/// Quiet hours in the contact's zone, deferred: email 22:00–08:00, sms
/// 20:00–10:30 (so an SMS at 10:00 waits until 10:30), push 21:00–09:00;
/// at most one email per rolling day and one push per rolling week.
const POLICY: &str = "timezone = \"Europe/Rome\"\n\
    [quiet_hours]\nemail = \"22:00-08:00\"\nsms = \"20:00-10:30\"\npush = \"21:00-09:00\"\non_quiet = \"defer\"\n\
    [[caps]]\nchannel = \"email\"\nmax = 1\nper = \"1d\"\n\
    [[caps]]\nchannel = \"push\"\nmax = 1\nper = \"7d\"\n";

/// A one-off campaign on `channel` to `tag:TAG` at 12:30Z on Tue 24 Nov,
/// run (and delivered) before the month begins at 13:00Z: it fills that
/// channel's cap of the contact holding the tag.
fn fill_the_cap(env: &Env, channel: &str, tag: &str) {
    let name = format!("news_{channel}");
    env.write(
        "news.toml",
        format!(
            "name = \"{name}\"\nchannel = \"{channel}\"\npriority = \"normal\"\nsubject = \"News\"\nbody = \"news\"\n\
             [audience]\ninclude = [\"tag:{tag}\"]\n[schedule]\nat = \"2026-11-24T12:30:00Z\"\n"
        ),
    );
    env.run(&["campaign", "create", "news.toml"]).ok();
    env.run(&["campaign", "schedule", &name]).ok();
    env.run(&["scheduler", "run", "--until", START]).ok();
    assert_eq!(env.json(&["campaign", "show", &name])["stats"]["sent"], 1);
}

/// The month: from Tue 24 Nov 13:00Z to Thu 24 Dec 13:00Z.
const START: &str = "2026-11-24T13:00:00Z";
const END: &str = "2026-12-24T13:00:00Z";

/// Creates, simulates (before anything runs) and starts `journey`, then
/// runs the scheduler over [from, until]; returns the simulation.
fn simulate_then_run(env: &Env, journey: &str, from: &str, until: &str) -> Value {
    let forecast = env.json(&["--now", from, "journey", "simulate", journey, "--until", until]);
    assert_eq!(forecast["from"], from);
    env.run(&["--now", from, "journey", "start", journey]).ok();
    env.run(&["--now", from, "scheduler", "run", "--until", until]).ok();
    forecast
}

/// Each contact's latest run, by external id: (run, state, history).
fn enrollments(env: &Env, journey: &str, ids: &HashMap<u64, &str>) -> BTreeMap<String, (u64, String, String)> {
    let rows = env.json(&["journey", "enrollments", journey]);
    rows.as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            let c = r["contact"].as_u64().expect("contact id");
            let who = ids.get(&c).unwrap_or_else(|| panic!("unexpected contact {c} in {r}"));
            (
                who.to_string(),
                (
                    r["run"].as_u64().unwrap(),
                    r["state"].as_str().unwrap().to_string(),
                    r["history"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// Per step, outcome → runs, from `step:outcome` histories (a send's code
/// is left out: `sent(CART5-7KQ2)` counts as `sent`).
fn outcome_counts<'a>(histories: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for h in histories {
        // `ab:branch 1 wait:waited`: a word without `:` belongs to the outcome before it
        let mut steps: Vec<(String, String)> = Vec::new();
        for word in h.split_whitespace() {
            match word.split_once(':') {
                Some((step, outcome)) => steps.push((step.to_string(), outcome.to_string())),
                None => {
                    let last = steps.last_mut().unwrap_or_else(|| panic!("bad history {h}"));
                    last.1 = format!("{} {word}", last.1);
                }
            }
        }
        for (step, outcome) in steps {
            let outcome = if outcome.starts_with("sent(") { "sent".to_string() } else { outcome };
            *out.entry(step).or_default().entry(outcome).or_default() += 1;
        }
    }
    out
}

/// The simulation's outcomes per step, the steps nobody reached left out.
fn simulated_counts(sim: &Value) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for s in sim["steps"].as_array().expect("steps") {
        let o: BTreeMap<String, u64> = serde_json::from_value(s["outcomes"].clone()).expect("outcomes");
        if !o.is_empty() {
            out.insert(s["name"].as_str().unwrap().to_string(), o);
        }
    }
    out
}

/// The codes in a history, in order.
fn codes(history: &str) -> Vec<String> {
    history
        .split_whitespace()
        .filter_map(|t| t.split_once(":sent(").map(|(_, c)| c.trim_end_matches(')').to_string()))
        .collect()
}

/// Journey email files in the Maildir, sorted.
fn mails(env: &Env, journey: &str) -> Vec<String> {
    let prefix = format!("journey.{journey}.");
    let mut names: Vec<String> = std::fs::read_dir(env.path("outbox/email/new"))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| n.starts_with(&prefix));
    names.sort();
    names
}

fn mail(env: &Env, name: &str) -> String {
    std::fs::read_to_string(env.path(&format!("outbox/email/new/{name}"))).expect("mail file")
}

fn header<'a>(mail: &'a str, name: &str) -> &'a str {
    let p = format!("{name}: ");
    mail.lines().find_map(|l| l.strip_prefix(p.as_str())).unwrap_or_else(|| panic!("no {name} in {mail}"))
}

/// The contact's journey lines, oldest first: `TS what`.
fn timeline(env: &Env, who: &str, journey: &str) -> Vec<String> {
    let c = env.json(&["contacts", "show", who]);
    let rows = c["timeline"].as_array().cloned().unwrap_or_default();
    let prefix = format!("{journey}: ");
    let mut lines: Vec<(String, usize, String)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let what = a["what"].as_str()?;
            what.starts_with(&prefix).then(|| (a["ts"].as_str().unwrap_or("?").to_string(), i, what.to_string()))
        })
        .collect();
    // newest first in the profile: reverse, keeping the order of equal instants
    lines.reverse();
    // what a run does at one instant is one line (`waited 1d, email sent`):
    // read part by part, as the tables list them
    lines
        .into_iter()
        .flat_map(|(ts, _, what)| {
            let parts: Vec<String> = what[prefix.len()..].split(", ").map(|p| format!("{ts} {prefix}{p}")).collect();
            parts
        })
        .collect()
}

fn lines(journey: &str, rows: &[(&str, &str)]) -> Vec<String> {
    rows.iter().map(|(ts, what)| format!("{ts} {journey}: {what}")).collect()
}

/// Abandoned cart (`demo_data/journeys/abandoned_cart.toml`), steps by index:
/// 0 last_order_old, 1 recent_customer, 2 wait_4h, 3 wait_24h, 4 reminder,
/// 5 wait_second, 6 still_no_order, 7 second_email. Policy: email quiet
/// 22:00–08:00 local (defer), email cap 1 per rolling day. The month runs
/// from Tue 24 Nov 13:00Z; the `news` campaign went to `cap` at 12:30Z.
///
/// | contact | orders before | abandons | hand-computed steps |
/// |---|---|---|---|
/// | 1 rome (Rome) | 16 Oct | Wed 25 Nov 10:00 Rome (09:00Z) | last order 39 d old → then; ordered in the last 6 months → then (24 h); reminder Thu 26 09:00Z (10:00 Rome) sent; wait 2 d; orders Fri 27 18:00Z → goal: exited on purchase mid-wait |
/// | 2 ny (NY) | 20 Apr | Mon 30 Nov 10:00 NY (15:00Z) | 224 d → then; Apr is over 6 months ago → else (4 h); reminder 14:00 NY (19:00Z) sent; wait 2 d; Wed 2 Dec 19:00Z no order since entry, 1 order (disengaging, not loyal) → then; 2nd email with a CART5 code sent (last email 2 d ago: cap free); completed |
/// | 3 tokyo (Tokyo) | never | Thu 26 Nov 20:00 Tokyo (11:00Z) | never ordered → then; else (4 h); reminder due Fri 00:00 Tokyo (15:00Z): quiet → deferred to 08:00 Tokyo (Thu 26 23:00Z), sent then (Date 23:00Z); wait 2 d from the send; Sun 29 08:00 Tokyo (Sat 28 23:00Z): quiet is over at 08:00 → 2nd email with code sent; completed |
/// | 4 loyal (Rome) | 23 Aug, 2 Oct, 11 Nov | Tue 1 Dec 16:00 Rome (15:00Z) | 20 d → then; then (24 h); reminder Wed 2 Dec 15:00Z sent; Fri 4 Dec 15:00Z: 3 orders, the last 23 d ago → lifecycle loyal → else → the end (`exit` target = end: completed) |
/// | 5 optout (NY, email opt-out) | never | Wed 2 Dec 12:00 NY (17:00Z) | then; else (4 h); reminder 21:00Z suppressed(no_consent); Fri 4 Dec 21:00Z then; 2nd email suppressed(no_consent), no code; completed |
/// | 6 cap (Rome, tag vipmail) | never | Tue 24 Nov 15:00 Rome (14:00Z) | then; else (4 h); reminder 18:00Z: the campaign at 12:30Z fills email 1/1d → suppressed(cap); Thu 26 18:00Z then; 2nd email (nothing in the last day) sent with code; completed |
/// | 7 recent (Tokyo) | Sat 28 Nov 03:00Z | Thu 3 Dec 12:00 Tokyo (03:00Z) | last order 5 d old → else → the end: completed at once |
/// | 8 twice (Rome) | never | Mon 7 Dec 09:00Z, Tue 8 Dec 10:00Z, Mon 14 Dec 09:00Z | run 1 from 7 Dec: reminder 13:00Z sent, 2nd email Wed 9 Dec 13:00Z sent, completed; the abandon of 8 Dec comes during run 1: no entry (after_exit); run 2 from 14 Dec: reminder 13:00Z sent, 2nd email Wed 16 Dec 13:00Z sent (another code), completed |
///
/// Runs 9 (entered), completed 8, exited on goal 1, active 0; one entry refused (re-entry).
#[test]
fn abandoned_cart_month() {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,timezone,consent_email,tags\n\
         rome,rome@x.it,Anna,Europe/Rome,true,\n\
         ny,ny@x.com,Ned,America/New_York,true,\n\
         tokyo,tokyo@x.jp,Aiko,Asia/Tokyo,true,\n\
         loyal,loyal@x.it,Lia,Europe/Rome,true,\n\
         optout,optout@x.com,Otto,America/New_York,false,\n\
         cap,cap@x.it,Carlo,Europe/Rome,true,vipmail\n\
         recent,recent@x.jp,Ren,Asia/Tokyo,true,\n\
         twice,twice@x.it,Tina,Europe/Rome,true,\n",
        &[],
    )
    .ok();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,amount\n\
         ny,2026-04-20T15:00:00Z,purchase,35\n\
         loyal,2026-08-23T10:00:00Z,purchase,120\n\
         loyal,2026-10-02T10:00:00Z,purchase,45\n\
         rome,2026-10-16T10:00:00Z,purchase,80\n\
         loyal,2026-11-11T10:00:00Z,purchase,70\n\
         cap,2026-11-24T14:00:00Z,cart_abandon,25\n\
         rome,2026-11-25T09:00:00Z,cart_abandon,59.90\n\
         tokyo,2026-11-26T11:00:00Z,cart_abandon,120\n\
         rome,2026-11-27T18:00:00Z,purchase,59.90\n\
         recent,2026-11-28T03:00:00Z,purchase,200\n\
         ny,2026-11-30T15:00:00Z,cart_abandon,42\n\
         loyal,2026-12-01T15:00:00Z,cart_abandon,64\n\
         optout,2026-12-02T17:00:00Z,cart_abandon,18\n\
         recent,2026-12-03T03:00:00Z,cart_abandon,75\n\
         twice,2026-12-07T09:00:00Z,cart_abandon,30\n\
         twice,2026-12-08T10:00:00Z,cart_abandon,31\n\
         twice,2026-12-14T09:00:00Z,cart_abandon,32\n",
        &[],
    )
    .ok();
    env.write("p.toml", POLICY);
    env.run(&["policy", "set", "p.toml"]).ok();
    fill_the_cap(&env, "email", "vipmail");
    env.run(&["journey", "create", &shipped("abandoned_cart")]).ok();
    let sim = simulate_then_run(&env, "abandoned_cart", START, END);

    let ids: HashMap<u64, &str> =
        [(1, "rome"), (2, "ny"), (3, "tokyo"), (4, "loyal"), (5, "optout"), (6, "cap"), (7, "recent"), (8, "twice")]
            .into_iter()
            .collect();
    let runs = enrollments(&env, "abandoned_cart", &ids);
    let got = |who: &str| runs.get(who).unwrap_or_else(|| panic!("{who} has no run: {runs:?}")).clone();
    let with_code = |h: &str| {
        let c = codes(h);
        assert_eq!(c.len(), 1, "one code in {h}");
        c[0].clone()
    };
    let all_else = "last_order_old:then recent_customer:else wait_4h:waited reminder:sent wait_second:waited \
                    still_no_order:then second_email:sent";

    // 1 rome: 24 h, reminder, the order mid-wait ends it
    assert_eq!(
        got("rome"),
        (
            1,
            "exited (goal)".into(),
            "last_order_old:then recent_customer:then wait_24h:waited reminder:sent wait_second:waited".into()
        )
    );
    // 2 ny: 4 h, reminder, 5% code
    let (run, state, h) = got("ny");
    assert_eq!((run, state.as_str()), (1, "completed"));
    let ny_code = with_code(&h);
    assert_eq!(h, format!("{all_else}({ny_code})"));
    assert!(ny_code.starts_with("CART5-") && ny_code.len() == 10, "{ny_code}");
    // 3 tokyo: deferred reminder, then the code
    let (run, state, h) = got("tokyo");
    assert_eq!((run, state.as_str()), (1, "completed"));
    let tokyo_code = with_code(&h);
    assert_eq!(h, format!("{all_else}({tokyo_code})"));
    // 4 loyal: no second email
    assert_eq!(
        got("loyal"),
        (
            1,
            "completed".into(),
            "last_order_old:then recent_customer:then wait_24h:waited reminder:sent wait_second:waited \
             still_no_order:else"
                .into()
        )
    );
    // 5 optout: both suppressed, no code
    assert_eq!(
        got("optout"),
        (
            1,
            "completed".into(),
            "last_order_old:then recent_customer:else wait_4h:waited reminder:suppressed(no_consent) \
             wait_second:waited still_no_order:then second_email:suppressed(no_consent)"
                .into()
        )
    );
    // 6 cap: reminder capped, second email sent
    let (run, state, h) = got("cap");
    assert_eq!((run, state.as_str()), (1, "completed"));
    let cap_code = with_code(&h);
    assert_eq!(
        h,
        format!(
            "last_order_old:then recent_customer:else wait_4h:waited reminder:suppressed(cap) wait_second:waited \
             still_no_order:then second_email:sent({cap_code})"
        )
    );
    // 7 recent: ordered 5 days before
    assert_eq!(got("recent"), (1, "completed".into(), "last_order_old:else".into()));
    // 8 twice: the latest run is the second
    let (run, state, h) = got("twice");
    assert_eq!((run, state.as_str()), (2, "completed"));
    let twice2_code = with_code(&h);
    assert_eq!(h, format!("{all_else}({twice2_code})"));
    assert_eq!(runs.len(), 8, "{runs:?}");

    // the outbox: which journey emails, their dates, their codes
    assert_eq!(
        mails(&env, "abandoned_cart"),
        [
            "journey.abandoned_cart.1.4.1",
            "journey.abandoned_cart.1.4.2",
            "journey.abandoned_cart.1.4.3",
            "journey.abandoned_cart.1.4.4",
            "journey.abandoned_cart.1.4.8",
            "journey.abandoned_cart.1.7.2",
            "journey.abandoned_cart.1.7.3",
            "journey.abandoned_cart.1.7.6",
            "journey.abandoned_cart.1.7.8",
            "journey.abandoned_cart.2.4.8",
            "journey.abandoned_cart.2.7.8",
        ]
    );
    let dates: Vec<(&str, &str)> = vec![
        ("journey.abandoned_cart.1.4.1", "Thu, 26 Nov 2026 09:00:00 +0000"),
        ("journey.abandoned_cart.1.4.2", "Mon, 30 Nov 2026 19:00:00 +0000"),
        // deferred from 15:00Z (midnight in Tokyo) to 08:00 Tokyo
        ("journey.abandoned_cart.1.4.3", "Thu, 26 Nov 2026 23:00:00 +0000"),
        ("journey.abandoned_cart.1.4.4", "Wed, 2 Dec 2026 15:00:00 +0000"),
        ("journey.abandoned_cart.1.4.8", "Mon, 7 Dec 2026 13:00:00 +0000"),
        ("journey.abandoned_cart.1.7.2", "Wed, 2 Dec 2026 19:00:00 +0000"),
        ("journey.abandoned_cart.1.7.3", "Sat, 28 Nov 2026 23:00:00 +0000"),
        ("journey.abandoned_cart.1.7.6", "Thu, 26 Nov 2026 18:00:00 +0000"),
        ("journey.abandoned_cart.1.7.8", "Wed, 9 Dec 2026 13:00:00 +0000"),
        ("journey.abandoned_cart.2.4.8", "Mon, 14 Dec 2026 13:00:00 +0000"),
        ("journey.abandoned_cart.2.7.8", "Wed, 16 Dec 2026 13:00:00 +0000"),
    ];
    for (name, date) in dates {
        let m = mail(&env, name);
        assert_eq!(header(&m, "Date"), date, "{name}");
        if name.contains(".4.") {
            assert!(header(&m, "Subject").ends_with("your cart is waiting"), "{m}");
            assert!(!m.contains("CART5-"), "{m}");
        } else {
            assert_eq!(header(&m, "Subject"), "5% off your cart", "{m}");
        }
    }
    let code_in = |name: &str| {
        let m = mail(&env, name);
        let at = m.find("<b>").expect("a code") + 3;
        m[at..at + m[at..].find("</b>").unwrap()].to_string()
    };
    assert_eq!(code_in("journey.abandoned_cart.1.7.2"), ny_code);
    assert_eq!(code_in("journey.abandoned_cart.1.7.3"), tokyo_code);
    assert_eq!(code_in("journey.abandoned_cart.1.7.6"), cap_code);
    assert_eq!(code_in("journey.abandoned_cart.2.7.8"), twice2_code);
    let twice1_code = code_in("journey.abandoned_cart.1.7.8");
    assert!(twice1_code.starts_with("CART5-"), "{twice1_code}");
    let mut all = vec![&ny_code, &tokyo_code, &cap_code, &twice1_code, &twice2_code];
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5, "codes are unique");

    // the profiles' timelines
    let j = "abandoned_cart";
    assert_eq!(
        timeline(&env, "rome", j),
        lines(
            j,
            &[
                ("2026-11-25T09:00:00Z", "entered"),
                ("2026-11-26T09:00:00Z", "waited 1d"),
                ("2026-11-26T09:00:00Z", "email sent"),
                ("2026-11-27T18:00:00Z", "exited on purchase"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "ny", j),
        lines(
            j,
            &[
                ("2026-11-30T15:00:00Z", "entered"),
                ("2026-11-30T19:00:00Z", "waited 4h"),
                ("2026-11-30T19:00:00Z", "email sent"),
                ("2026-12-02T19:00:00Z", "waited 2d"),
                ("2026-12-02T19:00:00Z", &format!("email sent with code {ny_code}")),
                ("2026-12-02T19:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "tokyo", j),
        lines(
            j,
            &[
                ("2026-11-26T11:00:00Z", "entered"),
                ("2026-11-26T15:00:00Z", "waited 4h"),
                ("2026-11-26T15:00:00Z", "email deferred until 2026-11-26T23:00:00Z"),
                ("2026-11-26T23:00:00Z", "email sent"),
                ("2026-11-28T23:00:00Z", "waited 2d"),
                ("2026-11-28T23:00:00Z", &format!("email sent with code {tokyo_code}")),
                ("2026-11-28T23:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "loyal", j),
        lines(
            j,
            &[
                ("2026-12-01T15:00:00Z", "entered"),
                ("2026-12-02T15:00:00Z", "waited 1d"),
                ("2026-12-02T15:00:00Z", "email sent"),
                ("2026-12-04T15:00:00Z", "waited 2d"),
                ("2026-12-04T15:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "optout", j),
        lines(
            j,
            &[
                ("2026-12-02T17:00:00Z", "entered"),
                ("2026-12-02T21:00:00Z", "waited 4h"),
                ("2026-12-02T21:00:00Z", "email suppressed: no_consent"),
                ("2026-12-04T21:00:00Z", "waited 2d"),
                ("2026-12-04T21:00:00Z", "email suppressed: no_consent"),
                ("2026-12-04T21:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "cap", j),
        lines(
            j,
            &[
                ("2026-11-24T14:00:00Z", "entered"),
                ("2026-11-24T18:00:00Z", "waited 4h"),
                ("2026-11-24T18:00:00Z", "email suppressed: cap(email 1/1d)"),
                ("2026-11-26T18:00:00Z", "waited 2d"),
                ("2026-11-26T18:00:00Z", &format!("email sent with code {cap_code}")),
                ("2026-11-26T18:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "recent", j),
        lines(j, &[("2026-12-03T03:00:00Z", "entered"), ("2026-12-03T03:00:00Z", "completed")])
    );
    assert_eq!(
        timeline(&env, "twice", j),
        lines(
            j,
            &[
                ("2026-12-07T09:00:00Z", "entered"),
                ("2026-12-07T13:00:00Z", "waited 4h"),
                ("2026-12-07T13:00:00Z", "email sent"),
                ("2026-12-09T13:00:00Z", "waited 2d"),
                ("2026-12-09T13:00:00Z", &format!("email sent with code {twice1_code}")),
                ("2026-12-09T13:00:00Z", "completed"),
                ("2026-12-14T09:00:00Z", "entered"),
                ("2026-12-14T13:00:00Z", "waited 4h"),
                ("2026-12-14T13:00:00Z", "email sent"),
                ("2026-12-16T13:00:00Z", "waited 2d"),
                ("2026-12-16T13:00:00Z", &format!("email sent with code {twice2_code}")),
                ("2026-12-16T13:00:00Z", "completed"),
            ]
        )
    );

    // the forecast made before the run: the same runs, step by step (twice's
    // first run is no longer in the enrollments: its history is the table's,
    // checked above through its mails and timeline)
    let twice1 = format!("{all_else}({twice1_code})");
    let histories: Vec<String> = runs.values().map(|r| r.2.clone()).chain([twice1]).collect();
    let counted = outcome_counts(histories.iter().map(String::as_str));
    assert_eq!(simulated_counts(&sim), counted, "simulation {sim}");
    assert_eq!(
        counted,
        serde_json::from_value::<BTreeMap<String, BTreeMap<String, u64>>>(json!({
            "last_order_old": {"then": 8, "else": 1},
            "recent_customer": {"then": 2, "else": 6},
            "wait_4h": {"waited": 6},
            "wait_24h": {"waited": 2},
            "reminder": {"sent": 6, "suppressed(no_consent)": 1, "suppressed(cap)": 1},
            "wait_second": {"waited": 8},
            "still_no_order": {"then": 6, "else": 1},
            "second_email": {"sent": 5, "suppressed(no_consent)": 1},
        }))
        .unwrap()
    );
    assert_eq!(sim["steps"][4]["deferred"], 1, "tokyo's reminder");
    assert_eq!(
        (&sim["entered"], &sim["completed"], &sim["exited"], &sim["active"], &sim["not_entered"]),
        (&json!(9), &json!(8), &json!({"goal": 1}), &json!(0), &json!({"reentry": 1}))
    );
    // the journey's own counts (latest runs) say the same
    let counts = env.json(&["journey", "show", "abandoned_cart"])["counts"].clone();
    assert_eq!(
        (&counts["entered"], &counts["completed"], &counts["exited"], &counts["active"]),
        (&json!(8), &json!(7), &json!({"goal": 1}), &json!(0))
    );
}

/// Checks the Date header of each Maildir file.
fn dates(env: &Env, expected: &[(&str, &str)]) {
    for (name, date) in expected {
        assert_eq!(header(&mail(env, name), "Date"), *date, "{name}");
    }
}

/// The code between `<b>` and `</b>` in a mail's body.
fn code_in(env: &Env, name: &str) -> String {
    let m = mail(env, name);
    let at = m.find("<b>").unwrap_or_else(|| panic!("no code in {m}")) + 3;
    m[at..at + m[at..].find("</b>").unwrap()].to_string()
}

/// Reactivation (`demo_data/journeys/reactivation.toml`), steps by index:
/// 0 big_last_order, 1 code_3m, 2 news, 3 wait_6m (90d), 4 frequent,
/// 5 code_6m_10, 6 code_6m_5, 7 wait_12m (180d), 8 regular, 9 ultimatum_15,
/// 10 ultimatum_10. A run enters 90 days after the last order (if no later
/// one came); purchase amounts are net. Same policy as the abandoned cart.
/// The month, then the same store run on to Thu 30 Sep 2027 13:00Z (a
/// month shows only the 3-month step; the year shows the 6 and 12).
///
/// | contact | orders | hand-computed steps |
/// |---|---|---|
/// | 1 rome (Rome) | Tue 1 Sep 09:00Z, 180 | enters Mon 30 Nov 09:00Z (10:00 Rome); 180 > 150 → then; code_3m BACK5 sent; waits 90 d → Sun 28 Feb 09:00Z: 1 order → else; code_6m_5 BACK5 sent; waits 180 d → Fri 27 Aug 2027 09:00Z: else; ultimatum_10 LAST10 sent; completed |
/// | 2 ny (NY) | 1 Mar, 10 May, 1 Jul, Thu 10 Sep 20:00Z 150 | enters Wed 9 Dec 20:00Z (15:00 NY); 150 is not > 150 → else; news sent; 90 d → Tue 9 Mar 20:00Z: 4 orders > 3 → then; code_6m_10 BACK10 sent; 180 d → Sun 5 Sep 2027 20:00Z: then; ultimatum_15 LAST15 sent; completed |
/// | 3 tokyo (Tokyo) | Sat 5 Sep 14:00Z, 300 | enters Fri 4 Dec 14:00Z = 23:00 Tokyo: then; code_3m in quiet hours → deferred to 08:00 Tokyo (23:00Z), sent then; 90 d from the send → Thu 4 Mar 23:00Z (08:00 Tokyo, quiet is over): else; code_6m_5 sent; 180 d → Tue 31 Aug 2027 23:00Z: else; ultimatum_10 sent; completed |
/// | 4 optout (NY, email opt-out) | Tue 15 Sep 16:00Z, 90 | enters Mon 14 Dec 16:00Z: else; news suppressed(no_consent); 14 Mar 2027: else, code_6m_5 suppressed(no_consent); 10 Sep 2027: else, ultimatum_10 suppressed(no_consent); completed |
/// | 5 cap (Rome, vipmail) | Wed 26 Aug 18:00Z, 200 | enters Tue 24 Nov 18:00Z: then; code_3m: the campaign at 12:30Z fills email 1/1d → suppressed(cap), no code; Mon 22 Feb 2027 18:00Z: else, code_6m_5 sent; Sat 21 Aug 2027 18:00Z: else, ultimatum_10 sent; completed |
/// | 6 back (Rome) | Thu 3 Sep 10:00Z 60; Thu 10 Dec 15:00Z 45 | run 1 enters Wed 2 Dec 10:00Z: else; news sent; the order of 10 Dec ends it mid-wait (goal). Run 2 (after_exit) enters 90 d after that order, Wed 10 Mar 2027 15:00Z: 45 → else; news sent; Tue 8 Jun 15:00Z: 2 orders → else; code_6m_5 sent; waits until 5 Dec 2027 (active at the end) |
/// | 7 later (Tokyo) | Sun 30 Aug 10:00Z 100; Tue 20 Oct 10:00Z 500 | 30 Aug + 90 d (28 Nov) is superseded by the order of 20 Oct: no entry in the month; enters Mon 18 Jan 2027 10:00Z: 500 → then; code_3m sent; Sun 18 Apr: 2 orders → else; code_6m_5 sent; waits until 15 Oct 2027 (active) |
/// | 8 old (NY) | 10 Jan 2026 | its moment (10 Apr 2026) was before the journey started: never enters |
///
/// Month: entered 6, exited on goal 1, active 5. Year: runs 8, completed 5,
/// goal 1, active 2.
#[test]
fn reactivation_month_and_year() {
    const YEAR_END: &str = "2027-09-30T13:00:00Z";
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,timezone,consent_email,tags\n\
         rome,rome@x.it,Anna,Europe/Rome,true,\n\
         ny,ny@x.com,Ned,America/New_York,true,\n\
         tokyo,tokyo@x.jp,Aiko,Asia/Tokyo,true,\n\
         optout,optout@x.com,Otto,America/New_York,false,\n\
         cap,cap@x.it,Carlo,Europe/Rome,true,vipmail\n\
         back,back@x.it,Bea,Europe/Rome,true,\n\
         later,later@x.jp,Ken,Asia/Tokyo,true,\n\
         old,old@x.com,Olga,America/New_York,true,\n",
        &[],
    )
    .ok();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,amount\n\
         old,2026-01-10T10:00:00Z,purchase,70\n\
         ny,2026-03-01T20:00:00Z,purchase,40\n\
         ny,2026-05-10T20:00:00Z,purchase,60\n\
         ny,2026-07-01T20:00:00Z,purchase,30\n\
         cap,2026-08-26T18:00:00Z,purchase,200\n\
         later,2026-08-30T10:00:00Z,purchase,100\n\
         rome,2026-09-01T09:00:00Z,purchase,180\n\
         back,2026-09-03T10:00:00Z,purchase,60\n\
         tokyo,2026-09-05T14:00:00Z,purchase,300\n\
         ny,2026-09-10T20:00:00Z,purchase,150\n\
         optout,2026-09-15T16:00:00Z,purchase,90\n\
         later,2026-10-20T10:00:00Z,purchase,500\n\
         back,2026-12-10T15:00:00Z,purchase,45\n",
        &[],
    )
    .ok();
    env.write("p.toml", POLICY);
    env.run(&["policy", "set", "p.toml"]).ok();
    fill_the_cap(&env, "email", "vipmail");
    env.run(&["journey", "create", &shipped("reactivation")]).ok();
    // both forecasts are made before anything runs
    let year_sim = env.json(&["--now", START, "journey", "simulate", "reactivation", "--until", YEAR_END]);
    let sim = simulate_then_run(&env, "reactivation", START, END);

    let ids: HashMap<u64, &str> =
        [(1, "rome"), (2, "ny"), (3, "tokyo"), (4, "optout"), (5, "cap"), (6, "back"), (7, "later"), (8, "old")]
            .into_iter()
            .collect();
    let j = "reactivation";

    // ---- the month ----
    let runs = enrollments(&env, j, &ids);
    let states: BTreeMap<&str, (u64, &str)> = runs.iter().map(|(k, v)| (k.as_str(), (v.0, v.1.as_str()))).collect();
    assert_eq!(
        states,
        BTreeMap::from([
            ("back", (1, "exited (goal)")),
            ("cap", (1, "waiting until 2027-02-22T18:00:00Z")),
            ("ny", (1, "waiting until 2027-03-09T20:00:00Z")),
            ("optout", (1, "waiting until 2027-03-14T16:00:00Z")),
            ("rome", (1, "waiting until 2027-02-28T09:00:00Z")),
            ("tokyo", (1, "waiting until 2027-03-04T23:00:00Z")),
        ])
    );
    let h = |who: &str| runs[who].2.clone();
    let one_code = |hist: &str| {
        let c = codes(hist);
        assert_eq!(c.len(), 1, "{hist}");
        c[0].clone()
    };
    let rome_a = one_code(&h("rome"));
    let tokyo_a = one_code(&h("tokyo"));
    assert!(rome_a.starts_with("BACK5-") && tokyo_a.starts_with("BACK5-"), "{rome_a} {tokyo_a}");
    assert_eq!(h("rome"), format!("big_last_order:then code_3m:sent({rome_a}) wait_6m:waited"));
    assert_eq!(h("tokyo"), format!("big_last_order:then code_3m:sent({tokyo_a}) wait_6m:waited"));
    assert_eq!(h("ny"), "big_last_order:else news:sent wait_6m:waited");
    assert_eq!(h("optout"), "big_last_order:else news:suppressed(no_consent) wait_6m:waited");
    assert_eq!(h("cap"), "big_last_order:then code_3m:suppressed(cap) wait_6m:waited");
    assert_eq!(h("back"), "big_last_order:else news:sent wait_6m:waited");
    assert_eq!(
        mails(&env, j),
        [
            "journey.reactivation.1.1.1",
            "journey.reactivation.1.1.3",
            "journey.reactivation.1.2.2",
            "journey.reactivation.1.2.6"
        ]
    );
    dates(
        &env,
        &[
            ("journey.reactivation.1.1.1", "Mon, 30 Nov 2026 09:00:00 +0000"),
            // deferred from 14:00Z (23:00 Tokyo) to 08:00 Tokyo
            ("journey.reactivation.1.1.3", "Fri, 4 Dec 2026 23:00:00 +0000"),
            ("journey.reactivation.1.2.2", "Wed, 9 Dec 2026 20:00:00 +0000"),
            ("journey.reactivation.1.2.6", "Wed, 2 Dec 2026 10:00:00 +0000"),
        ],
    );
    assert_eq!(code_in(&env, "journey.reactivation.1.1.1"), rome_a);
    assert_eq!(code_in(&env, "journey.reactivation.1.1.3"), tokyo_a);
    assert_eq!(
        timeline(&env, "tokyo", j),
        lines(
            j,
            &[
                ("2026-12-04T14:00:00Z", "entered"),
                ("2026-12-04T14:00:00Z", "email deferred until 2026-12-04T23:00:00Z"),
                ("2026-12-04T23:00:00Z", &format!("email sent with code {tokyo_a}")),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "back", j),
        lines(
            j,
            &[
                ("2026-12-02T10:00:00Z", "entered"),
                ("2026-12-02T10:00:00Z", "email sent"),
                ("2026-12-10T15:00:00Z", "exited on purchase"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "cap", j),
        lines(j, &[("2026-11-24T18:00:00Z", "entered"), ("2026-11-24T18:00:00Z", "email suppressed: cap(email 1/1d)")])
    );
    assert_eq!(
        timeline(&env, "optout", j),
        lines(j, &[("2026-12-14T16:00:00Z", "entered"), ("2026-12-14T16:00:00Z", "email suppressed: no_consent")])
    );
    assert_eq!(timeline(&env, "later", j), Vec::<String>::new());
    assert_eq!(timeline(&env, "old", j), Vec::<String>::new());
    let counted = outcome_counts(runs.values().map(|r| r.2.as_str()));
    assert_eq!(simulated_counts(&sim), counted, "simulation {sim}");
    assert_eq!(sim["steps"][1]["deferred"], 1, "tokyo's code_3m");
    assert_eq!(
        (&sim["entered"], &sim["completed"], &sim["exited"], &sim["active"], &sim["not_entered"]),
        (&json!(6), &json!(0), &json!({"goal": 1}), &json!(5), &json!({}))
    );

    // ---- on to the end of September 2027 ----
    env.run(&["--now", END, "scheduler", "run", "--until", YEAR_END]).ok();
    let runs = enrollments(&env, j, &ids);
    let states: BTreeMap<&str, (u64, &str)> = runs.iter().map(|(k, v)| (k.as_str(), (v.0, v.1.as_str()))).collect();
    assert_eq!(
        states,
        BTreeMap::from([
            ("back", (2, "waiting until 2027-12-05T15:00:00Z")),
            ("cap", (1, "completed")),
            ("later", (1, "waiting until 2027-10-15T10:00:00Z")),
            ("ny", (1, "completed")),
            ("optout", (1, "completed")),
            ("rome", (1, "completed")),
            ("tokyo", (1, "completed")),
        ])
    );
    let h = |who: &str| runs[who].2.clone();
    let cs = |who: &str| codes(&h(who));
    let (rome, ny, tokyo, cap, back, later) = (cs("rome"), cs("ny"), cs("tokyo"), cs("cap"), cs("back"), cs("later"));
    assert_eq!(rome[0], rome_a);
    assert_eq!(tokyo[0], tokyo_a);
    assert_eq!(
        h("rome"),
        format!(
            "big_last_order:then code_3m:sent({}) wait_6m:waited frequent:else code_6m_5:sent({}) wait_12m:waited \
             regular:else ultimatum_10:sent({})",
            rome[0], rome[1], rome[2]
        )
    );
    assert_eq!(
        h("ny"),
        format!(
            "big_last_order:else news:sent wait_6m:waited frequent:then code_6m_10:sent({}) wait_12m:waited \
             regular:then ultimatum_15:sent({})",
            ny[0], ny[1]
        )
    );
    assert_eq!(
        h("tokyo"),
        format!(
            "big_last_order:then code_3m:sent({}) wait_6m:waited frequent:else code_6m_5:sent({}) wait_12m:waited \
             regular:else ultimatum_10:sent({})",
            tokyo[0], tokyo[1], tokyo[2]
        )
    );
    assert_eq!(
        h("optout"),
        "big_last_order:else news:suppressed(no_consent) wait_6m:waited frequent:else \
         code_6m_5:suppressed(no_consent) wait_12m:waited regular:else ultimatum_10:suppressed(no_consent)"
    );
    assert_eq!(
        h("cap"),
        format!(
            "big_last_order:then code_3m:suppressed(cap) wait_6m:waited frequent:else code_6m_5:sent({}) \
             wait_12m:waited regular:else ultimatum_10:sent({})",
            cap[0], cap[1]
        )
    );
    assert_eq!(
        h("back"),
        format!(
            "big_last_order:else news:sent wait_6m:waited frequent:else code_6m_5:sent({}) wait_12m:waited",
            back[0]
        )
    );
    assert_eq!(
        h("later"),
        format!(
            "big_last_order:then code_3m:sent({}) wait_6m:waited frequent:else code_6m_5:sent({}) wait_12m:waited",
            later[0], later[1]
        )
    );
    // each code's prefix is its step's
    for (c, prefix) in [
        (&rome[1], "BACK5-"),
        (&rome[2], "LAST10-"),
        (&ny[0], "BACK10-"),
        (&ny[1], "LAST15-"),
        (&tokyo[1], "BACK5-"),
        (&tokyo[2], "LAST10-"),
        (&cap[0], "BACK5-"),
        (&cap[1], "LAST10-"),
        (&back[0], "BACK5-"),
        (&later[0], "BACK5-"),
        (&later[1], "BACK5-"),
    ] {
        assert!(c.starts_with(prefix), "{c} is not {prefix}…");
    }
    let mut expected = vec![
        ("journey.reactivation.1.1.1", "Mon, 30 Nov 2026 09:00:00 +0000", Some(&rome[0])),
        ("journey.reactivation.1.6.1", "Sun, 28 Feb 2027 09:00:00 +0000", Some(&rome[1])),
        ("journey.reactivation.1.10.1", "Fri, 27 Aug 2027 09:00:00 +0000", Some(&rome[2])),
        ("journey.reactivation.1.2.2", "Wed, 9 Dec 2026 20:00:00 +0000", None),
        ("journey.reactivation.1.5.2", "Tue, 9 Mar 2027 20:00:00 +0000", Some(&ny[0])),
        ("journey.reactivation.1.9.2", "Sun, 5 Sep 2027 20:00:00 +0000", Some(&ny[1])),
        ("journey.reactivation.1.1.3", "Fri, 4 Dec 2026 23:00:00 +0000", Some(&tokyo[0])),
        ("journey.reactivation.1.6.3", "Thu, 4 Mar 2027 23:00:00 +0000", Some(&tokyo[1])),
        ("journey.reactivation.1.10.3", "Tue, 31 Aug 2027 23:00:00 +0000", Some(&tokyo[2])),
        ("journey.reactivation.1.6.5", "Mon, 22 Feb 2027 18:00:00 +0000", Some(&cap[0])),
        ("journey.reactivation.1.10.5", "Sat, 21 Aug 2027 18:00:00 +0000", Some(&cap[1])),
        ("journey.reactivation.1.2.6", "Wed, 2 Dec 2026 10:00:00 +0000", None),
        ("journey.reactivation.2.2.6", "Wed, 10 Mar 2027 15:00:00 +0000", None),
        ("journey.reactivation.2.6.6", "Tue, 8 Jun 2027 15:00:00 +0000", Some(&back[0])),
        ("journey.reactivation.1.1.7", "Mon, 18 Jan 2027 10:00:00 +0000", Some(&later[0])),
        ("journey.reactivation.1.6.7", "Sun, 18 Apr 2027 10:00:00 +0000", Some(&later[1])),
    ];
    expected.sort();
    assert_eq!(mails(&env, j), expected.iter().map(|x| x.0).collect::<Vec<_>>());
    for (name, date, code) in &expected {
        let m = mail(&env, name);
        assert_eq!(header(&m, "Date"), *date, "{name}");
        match code {
            Some(c) => assert_eq!(&&code_in(&env, name), c, "{name}"),
            None => assert!(!m.contains("<b>"), "{m}"),
        }
    }
    assert_eq!(
        timeline(&env, "rome", j),
        lines(
            j,
            &[
                ("2026-11-30T09:00:00Z", "entered"),
                ("2026-11-30T09:00:00Z", &format!("email sent with code {}", rome[0])),
                ("2027-02-28T09:00:00Z", "waited 90d"),
                ("2027-02-28T09:00:00Z", &format!("email sent with code {}", rome[1])),
                ("2027-08-27T09:00:00Z", "waited 180d"),
                ("2027-08-27T09:00:00Z", &format!("email sent with code {}", rome[2])),
                ("2027-08-27T09:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "back", j),
        lines(
            j,
            &[
                ("2026-12-02T10:00:00Z", "entered"),
                ("2026-12-02T10:00:00Z", "email sent"),
                ("2026-12-10T15:00:00Z", "exited on purchase"),
                ("2027-03-10T15:00:00Z", "entered"),
                ("2027-03-10T15:00:00Z", "email sent"),
                ("2027-06-08T15:00:00Z", "waited 90d"),
                ("2027-06-08T15:00:00Z", &format!("email sent with code {}", back[0])),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "optout", j),
        lines(
            j,
            &[
                ("2026-12-14T16:00:00Z", "entered"),
                ("2026-12-14T16:00:00Z", "email suppressed: no_consent"),
                ("2027-03-14T16:00:00Z", "waited 90d"),
                ("2027-03-14T16:00:00Z", "email suppressed: no_consent"),
                ("2027-09-10T16:00:00Z", "waited 180d"),
                ("2027-09-10T16:00:00Z", "email suppressed: no_consent"),
                ("2027-09-10T16:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(timeline(&env, "old", j), Vec::<String>::new());
    // back's first run is the month's (its history checked above)
    let histories: Vec<String> =
        runs.values().map(|r| r.2.clone()).chain(["big_last_order:else news:sent wait_6m:waited".into()]).collect();
    let counted = outcome_counts(histories.iter().map(String::as_str));
    assert_eq!(simulated_counts(&year_sim), counted, "simulation {year_sim}");
    assert_eq!(
        counted,
        serde_json::from_value::<BTreeMap<String, BTreeMap<String, u64>>>(json!({
            "big_last_order": {"then": 4, "else": 4},
            "code_3m": {"sent": 3, "suppressed(cap)": 1},
            "news": {"sent": 3, "suppressed(no_consent)": 1},
            "wait_6m": {"waited": 8},
            "frequent": {"then": 1, "else": 6},
            "code_6m_10": {"sent": 1},
            "code_6m_5": {"sent": 5, "suppressed(no_consent)": 1},
            "wait_12m": {"waited": 7},
            "regular": {"then": 1, "else": 4},
            "ultimatum_15": {"sent": 1},
            "ultimatum_10": {"sent": 3, "suppressed(no_consent)": 1},
        }))
        .unwrap()
    );
    assert_eq!(
        (&year_sim["entered"], &year_sim["completed"], &year_sim["exited"], &year_sim["active"]),
        (&json!(8), &json!(5), &json!({"goal": 1}), &json!(2))
    );
}

/// The JSON lines of `outbox/CHANNEL.jsonl` that a journey wrote: (key, at, body).
fn jsonl(env: &Env, channel: &str, journey: &str) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(env.path(&format!("outbox/{channel}.jsonl"))).unwrap_or_default();
    let mut out: Vec<(String, String, String)> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .filter(|v| v["campaign"] == format!("journey:{journey}"))
        .map(|v| {
            (
                v["key"].as_str().unwrap().to_string(),
                v["at"].as_str().unwrap().to_string(),
                v["body"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Prospect nurture (`demo_data/journeys/prospect_nurture.toml`): every
/// contact with no order and no cart add enters when the journey starts
/// (Tue 24 Nov 13:00Z = 14:00 Rome, 08:00 New York, 22:00 Tokyo). A wait
/// of "N days at 10:00" ends at 10:00 local on the Nth calendar day after
/// the previous message's (or the entry's) day, so "day 1" is Wed 25 Nov
/// in every zone however late on the 24th the contact entered, and an SMS
/// deferred to 10:30 does not push the next message a day further. Steps by index: 0 young_city, 1 middle, 2 senior, 3–8 the
/// others' (o_d2_wait, o_d2, o_d6_wait, o_d6, o_d12_wait, o_d12), 9–20 the
/// 18–35 city branch (y_d1, y_push, y_d2, y_common_2, y_d3, y_trending,
/// y_d6, y_chat, y_d7, y_sms, y_d12, y_survey), 21–32 the 35–50 branch
/// (m_d1, m_welcome, m_d2, m_common_2, m_d4, m_video, m_d6, m_chat, m_d10,
/// m_code, m_d12, m_survey), 33–44 over 50 (s_d1, s_welcome, s_d2,
/// s_common_2, s_d5, s_webinar, s_d6, s_chat, s_d12, s_survey, s_d14,
/// s_code). Policy as above: sms quiet until 10:30, push cap 1 a week (the
/// `news_push` campaign reached `capped` at 12:30Z).
///
/// | contact | profile | hand-computed steps |
/// |---|---|---|
/// | 1 young (Rome) | 26, Milano, email+sms+push | 18–35 in a city → y; day 1 push Wed 25 Nov 09:00Z (10:00 Rome, 20 h after entry) sent; emails day 2 Thu 26, day 3 Fri 27, day 6 Mon 30 Nov 09:00Z sent (a day apart exactly: the 1/1d cap is free); day 7 SMS Tue 1 Dec 10:00 Rome is quiet → deferred to 10:30 (09:30Z), sent with a HELLO10 code; 5 days on, day 12 Sun 6 Dec 09:00Z: survey sent; completed |
/// | 2 mid (NY) | 40, no city, email | not young → middle; 10:00 NY = 15:00Z: welcome Wed 25 Nov, common Thu 26, video Sat 28, chat Mon 30, code (FIRST10) Fri 4 Dec, survey Sun 6 Dec, all sent; completed |
/// | 3 senior (Tokyo) | 60, Osaka, email | → s; 10:00 Tokyo = 01:00Z: welcome Wed 25 Nov (12 h after entry), common Thu 26, webinar Sun 29, chat Mon 30, survey Sun 6 Dec, code (FIRST10) Tue 8 Dec, all sent; completed |
/// | 4 nocity (Rome) | 22, no city, email | young but no city → else, else, else → the common messages, days 2, 6 and 12 at 10:00 Rome → Thu 26 Nov, Mon 30 Nov, Sun 6 Dec 09:00Z, sent; completed |
/// | 5 optout (NY, email opt-out) | 45 | → middle; the six emails at the mid's instants, each suppressed(no_consent); completed Sun 6 Dec 15:00Z |
/// | 6 buyer (Tokyo) | 30, Osaka, email+push | → y; push Wed 25 Nov 01:00Z sent; day 2 email Thu 26 Nov 01:00Z sent; orders Thu 26 Nov 12:00Z, during the wait for day 3 → exited on purchase |
/// | 7 capped (Rome, tag vippush) | 28, Torino, email+sms+push | → y; push Wed 25 Nov 09:00Z: the campaign's push at 12:30Z on the 24th fills push 1/7d → suppressed(cap); then as young: emails 26, 27, 30 Nov 09:00Z sent; SMS deferred to 10:30 Rome (Tue 1 Dec 09:30Z), sent with code; survey Sun 6 Dec 09:00Z sent; completed |
/// | 8 prior (Rome) | 31, Roma, added to cart in October | not in the entry segment: never enters |
///
/// Entered 7, completed 6, exited on goal 1, active 0.
#[test]
fn prospect_nurture_month() {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,timezone,consent_email,consent_sms,consent_push,phone,birth_date,city,tags\n\
         young,young@x.it,Anna,Europe/Rome,true,true,true,+393331112222,2000-05-01,Milano,\n\
         mid,mid@x.com,Ned,America/New_York,true,false,false,,1986-03-10,,\n\
         senior,senior@x.jp,Aiko,Asia/Tokyo,true,false,false,,1966-07-01,Osaka,\n\
         nocity,nocity@x.it,Nina,Europe/Rome,true,false,false,,2004-02-02,,\n\
         optout,optout@x.com,Otto,America/New_York,false,false,false,,1981-06-15,,\n\
         buyer,buyer@x.jp,Ken,Asia/Tokyo,true,false,true,,1996-09-09,Osaka,\n\
         capped,capped@x.it,Cody,Europe/Rome,true,true,true,+393339998888,1998-01-20,Torino,vippush\n\
         prior,prior@x.it,Pia,Europe/Rome,true,false,false,,1995-04-04,Roma,\n",
        &[],
    )
    .ok();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,amount\n\
         prior,2026-10-01T10:00:00Z,cart_add,20\n\
         buyer,2026-11-26T12:00:00Z,purchase,80\n",
        &[],
    )
    .ok();
    env.write("p.toml", POLICY);
    env.run(&["policy", "set", "p.toml"]).ok();
    fill_the_cap(&env, "push", "vippush");
    env.run(&["journey", "create", &shipped("prospect_nurture")]).ok();
    let sim = simulate_then_run(&env, "prospect_nurture", START, END);

    let ids: HashMap<u64, &str> = [
        (1, "young"),
        (2, "mid"),
        (3, "senior"),
        (4, "nocity"),
        (5, "optout"),
        (6, "buyer"),
        (7, "capped"),
        (8, "prior"),
    ]
    .into_iter()
    .collect();
    let j = "prospect_nurture";
    let runs = enrollments(&env, j, &ids);
    let states: BTreeMap<&str, (u64, &str)> = runs.iter().map(|(k, v)| (k.as_str(), (v.0, v.1.as_str()))).collect();
    assert_eq!(
        states,
        BTreeMap::from([
            ("buyer", (1, "exited (goal)")),
            ("capped", (1, "completed")),
            ("mid", (1, "completed")),
            ("nocity", (1, "completed")),
            ("optout", (1, "completed")),
            ("senior", (1, "completed")),
            ("young", (1, "completed")),
        ])
    );
    let h = |who: &str| runs[who].2.clone();
    let one = |who: &str| {
        let c = codes(&h(who));
        assert_eq!(c.len(), 1, "{}", h(who));
        c[0].clone()
    };
    let (young_code, mid_code, senior_code, capped_code) = (one("young"), one("mid"), one("senior"), one("capped"));
    assert!(young_code.starts_with("HELLO10-") && capped_code.starts_with("HELLO10-"));
    assert!(mid_code.starts_with("FIRST10-") && senior_code.starts_with("FIRST10-"));
    let y = |push: &str, code: &str| {
        format!(
            "young_city:then y_d1:waited y_push:{push} y_d2:waited y_common_2:sent y_d3:waited y_trending:sent \
             y_d6:waited y_chat:sent y_d7:waited y_sms:sent({code}) y_d12:waited y_survey:sent"
        )
    };
    assert_eq!(h("young"), y("sent", &young_code));
    assert_eq!(h("capped"), y("suppressed(cap)", &capped_code));
    let m = |s: &str, code: &str| {
        format!(
            "young_city:else middle:then m_d1:waited m_welcome:{s} m_d2:waited m_common_2:{s} m_d4:waited \
             m_video:{s} m_d6:waited m_chat:{s} m_d10:waited m_code:{code} m_d12:waited m_survey:{s}"
        )
    };
    assert_eq!(h("mid"), m("sent", &format!("sent({mid_code})")));
    assert_eq!(h("optout"), m("suppressed(no_consent)", "suppressed(no_consent)"));
    assert_eq!(
        h("senior"),
        format!(
            "young_city:else middle:else senior:then s_d1:waited s_welcome:sent s_d2:waited s_common_2:sent \
             s_d5:waited s_webinar:sent s_d6:waited s_chat:sent s_d12:waited s_survey:sent s_d14:waited \
             s_code:sent({senior_code})"
        )
    );
    assert_eq!(
        h("nocity"),
        "young_city:else middle:else senior:else o_d2_wait:waited o_d2:sent o_d6_wait:waited o_d6:sent \
         o_d12_wait:waited o_d12:sent"
    );
    assert_eq!(h("buyer"), "young_city:then y_d1:waited y_push:sent y_d2:waited y_common_2:sent y_d3:waited");

    // the outbox: emails and their dates, the push and SMS lines
    let mut expected: Vec<(&str, &str)> = vec![
        ("journey.prospect_nurture.1.12.1", "Thu, 26 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.14.1", "Fri, 27 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.16.1", "Mon, 30 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.20.1", "Sun, 6 Dec 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.22.2", "Wed, 25 Nov 2026 15:00:00 +0000"),
        ("journey.prospect_nurture.1.24.2", "Thu, 26 Nov 2026 15:00:00 +0000"),
        ("journey.prospect_nurture.1.26.2", "Sat, 28 Nov 2026 15:00:00 +0000"),
        ("journey.prospect_nurture.1.28.2", "Mon, 30 Nov 2026 15:00:00 +0000"),
        ("journey.prospect_nurture.1.30.2", "Fri, 4 Dec 2026 15:00:00 +0000"),
        ("journey.prospect_nurture.1.32.2", "Sun, 6 Dec 2026 15:00:00 +0000"),
        ("journey.prospect_nurture.1.34.3", "Wed, 25 Nov 2026 01:00:00 +0000"),
        ("journey.prospect_nurture.1.36.3", "Thu, 26 Nov 2026 01:00:00 +0000"),
        ("journey.prospect_nurture.1.38.3", "Sun, 29 Nov 2026 01:00:00 +0000"),
        ("journey.prospect_nurture.1.40.3", "Mon, 30 Nov 2026 01:00:00 +0000"),
        ("journey.prospect_nurture.1.42.3", "Sun, 6 Dec 2026 01:00:00 +0000"),
        ("journey.prospect_nurture.1.44.3", "Tue, 8 Dec 2026 01:00:00 +0000"),
        ("journey.prospect_nurture.1.4.4", "Thu, 26 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.6.4", "Mon, 30 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.8.4", "Sun, 6 Dec 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.12.6", "Thu, 26 Nov 2026 01:00:00 +0000"),
        ("journey.prospect_nurture.1.12.7", "Thu, 26 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.14.7", "Fri, 27 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.16.7", "Mon, 30 Nov 2026 09:00:00 +0000"),
        ("journey.prospect_nurture.1.20.7", "Sun, 6 Dec 2026 09:00:00 +0000"),
    ];
    expected.sort();
    assert_eq!(mails(&env, j), expected.iter().map(|x| x.0).collect::<Vec<_>>());
    dates(&env, &expected);
    assert_eq!(code_in(&env, "journey.prospect_nurture.1.30.2"), mid_code);
    assert_eq!(code_in(&env, "journey.prospect_nurture.1.44.3"), senior_code);
    assert_eq!(header(&mail(&env, "journey.prospect_nurture.1.38.3"), "Subject"), "Join our webinar");
    assert_eq!(header(&mail(&env, "journey.prospect_nurture.1.26.2"), "Subject"), "A two-minute video tour");
    assert_eq!(
        jsonl(&env, "push", j),
        [
            (
                "journey:prospect_nurture:1.10:1".to_string(),
                "2026-11-25T09:00:00Z".to_string(),
                "Welcome Anna! New arrivals picked for you.".to_string()
            ),
            (
                "journey:prospect_nurture:1.10:6".to_string(),
                "2026-11-25T01:00:00Z".to_string(),
                "Welcome Ken! New arrivals picked for you.".to_string()
            ),
        ]
    );
    assert_eq!(
        jsonl(&env, "sms", j),
        [
            (
                "journey:prospect_nurture:1.18:1".to_string(),
                "2026-12-01T09:30:00Z".to_string(),
                format!("Anna, 10% off for 24 hours: {young_code}")
            ),
            (
                "journey:prospect_nurture:1.18:7".to_string(),
                "2026-12-01T09:30:00Z".to_string(),
                format!("Cody, 10% off for 24 hours: {capped_code}")
            ),
        ]
    );

    // the timelines
    assert_eq!(
        timeline(&env, "young", j),
        lines(
            j,
            &[
                ("2026-11-24T13:00:00Z", "entered"),
                ("2026-11-25T09:00:00Z", "waited 20h"),
                ("2026-11-25T09:00:00Z", "push sent"),
                ("2026-11-26T09:00:00Z", "waited 1d"),
                ("2026-11-26T09:00:00Z", "email sent"),
                ("2026-11-27T09:00:00Z", "waited 1d"),
                ("2026-11-27T09:00:00Z", "email sent"),
                ("2026-11-30T09:00:00Z", "waited 3d"),
                ("2026-11-30T09:00:00Z", "email sent"),
                ("2026-12-01T09:00:00Z", "waited 1d"),
                ("2026-12-01T09:00:00Z", "sms deferred until 2026-12-01T09:30:00Z"),
                ("2026-12-01T09:30:00Z", &format!("sms sent with code {young_code}")),
                ("2026-12-06T09:00:00Z", "waited 4d 23h 30m"),
                ("2026-12-06T09:00:00Z", "email sent"),
                ("2026-12-06T09:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "mid", j),
        lines(
            j,
            &[
                ("2026-11-24T13:00:00Z", "entered"),
                ("2026-11-25T15:00:00Z", "waited 1d 2h"),
                ("2026-11-25T15:00:00Z", "email sent"),
                ("2026-11-26T15:00:00Z", "waited 1d"),
                ("2026-11-26T15:00:00Z", "email sent"),
                ("2026-11-28T15:00:00Z", "waited 2d"),
                ("2026-11-28T15:00:00Z", "email sent"),
                ("2026-11-30T15:00:00Z", "waited 2d"),
                ("2026-11-30T15:00:00Z", "email sent"),
                ("2026-12-04T15:00:00Z", "waited 4d"),
                ("2026-12-04T15:00:00Z", &format!("email sent with code {mid_code}")),
                ("2026-12-06T15:00:00Z", "waited 2d"),
                ("2026-12-06T15:00:00Z", "email sent"),
                ("2026-12-06T15:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "senior", j),
        lines(
            j,
            &[
                ("2026-11-24T13:00:00Z", "entered"),
                ("2026-11-25T01:00:00Z", "waited 12h"),
                ("2026-11-25T01:00:00Z", "email sent"),
                ("2026-11-26T01:00:00Z", "waited 1d"),
                ("2026-11-26T01:00:00Z", "email sent"),
                ("2026-11-29T01:00:00Z", "waited 3d"),
                ("2026-11-29T01:00:00Z", "email sent"),
                ("2026-11-30T01:00:00Z", "waited 1d"),
                ("2026-11-30T01:00:00Z", "email sent"),
                ("2026-12-06T01:00:00Z", "waited 6d"),
                ("2026-12-06T01:00:00Z", "email sent"),
                ("2026-12-08T01:00:00Z", "waited 2d"),
                ("2026-12-08T01:00:00Z", &format!("email sent with code {senior_code}")),
                ("2026-12-08T01:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "nocity", j),
        lines(
            j,
            &[
                ("2026-11-24T13:00:00Z", "entered"),
                ("2026-11-26T09:00:00Z", "waited 1d 20h"),
                ("2026-11-26T09:00:00Z", "email sent"),
                ("2026-11-30T09:00:00Z", "waited 4d"),
                ("2026-11-30T09:00:00Z", "email sent"),
                ("2026-12-06T09:00:00Z", "waited 6d"),
                ("2026-12-06T09:00:00Z", "email sent"),
                ("2026-12-06T09:00:00Z", "completed"),
            ]
        )
    );
    let optout = timeline(&env, "optout", j);
    assert_eq!(optout.iter().filter(|l| l.ends_with("email suppressed: no_consent")).count(), 6, "{optout:?}");
    assert_eq!(optout.first().map(String::as_str), Some("2026-11-24T13:00:00Z prospect_nurture: entered"));
    assert_eq!(optout.last().map(String::as_str), Some("2026-12-06T15:00:00Z prospect_nurture: completed"));
    assert_eq!(optout.len(), 14, "{optout:?}");
    assert_eq!(
        timeline(&env, "buyer", j),
        lines(
            j,
            &[
                ("2026-11-24T13:00:00Z", "entered"),
                ("2026-11-25T01:00:00Z", "waited 12h"),
                ("2026-11-25T01:00:00Z", "push sent"),
                ("2026-11-26T01:00:00Z", "waited 1d"),
                ("2026-11-26T01:00:00Z", "email sent"),
                ("2026-11-26T12:00:00Z", "exited on purchase"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "capped", j),
        lines(
            j,
            &[
                ("2026-11-24T13:00:00Z", "entered"),
                ("2026-11-25T09:00:00Z", "waited 20h"),
                ("2026-11-25T09:00:00Z", "push suppressed: cap(push 1/7d)"),
                ("2026-11-26T09:00:00Z", "waited 1d"),
                ("2026-11-26T09:00:00Z", "email sent"),
                ("2026-11-27T09:00:00Z", "waited 1d"),
                ("2026-11-27T09:00:00Z", "email sent"),
                ("2026-11-30T09:00:00Z", "waited 3d"),
                ("2026-11-30T09:00:00Z", "email sent"),
                ("2026-12-01T09:00:00Z", "waited 1d"),
                ("2026-12-01T09:00:00Z", "sms deferred until 2026-12-01T09:30:00Z"),
                ("2026-12-01T09:30:00Z", &format!("sms sent with code {capped_code}")),
                ("2026-12-06T09:00:00Z", "waited 4d 23h 30m"),
                ("2026-12-06T09:00:00Z", "email sent"),
                ("2026-12-06T09:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(timeline(&env, "prior", j), Vec::<String>::new());

    // the forecast
    let counted = outcome_counts(runs.values().map(|r| r.2.as_str()));
    assert_eq!(simulated_counts(&sim), counted, "simulation {sim}");
    assert_eq!(counted["young_city"], BTreeMap::from([("then".to_string(), 3), ("else".to_string(), 4)]));
    assert_eq!(counted["y_push"], BTreeMap::from([("sent".to_string(), 2), ("suppressed(cap)".to_string(), 1)]));
    assert_eq!(sim["steps"][18]["deferred"], 2, "both SMS");
    assert_eq!(
        (&sim["entered"], &sim["completed"], &sim["exited"], &sim["active"], &sim["not_entered"]),
        (&json!(7), &json!(6), &json!({"goal": 1}), &json!(0), &json!({}))
    );
}

/// A holdout: a journey of the test's own with a 60/40 split whose 40% is
/// a holdout group (receives nothing, leaves the journey). The branch is
/// the run's bucket, FNV-1a of (journey, contact, run) mod 100, worked out
/// by hand for `lift`: contact 1 → 72 (run 2 → 3), 2 → 7, 3 → 90, 4 → 53,
/// 5 → 52, 6 → 71. Buckets below 60 take the first branch.
///
/// | contact (Rome) | abandons | hand-computed steps |
/// |---|---|---|
/// | 1 | Wed 25 Nov 10:00Z; Tue 1 Dec 10:00Z | run 1: 72 → holdout, exited at once, nothing sent; run 2 (after_exit): 3 → branch 1, waits 4 h, mail 14:00Z sent, completed |
/// | 2 | 10:05Z | 7 → branch 1; mail 14:05Z sent; completed |
/// | 3 | 10:10Z | 90 → holdout |
/// | 4 | 10:15Z, orders 12:00Z | 53 → branch 1; the order during the 4 h wait → exited on purchase |
/// | 5 | 10:20Z | 52 → branch 1; mail 14:20Z sent; completed |
/// | 6 | 10:25Z | 71 → holdout |
#[test]
fn a_holdout_receives_nothing_and_leaves() {
    let env = Env::new();
    let mut contacts = String::from("external_id,email,first_name,timezone,consent_email\n");
    for i in 1..=6 {
        contacts.push_str(&format!("h{i},h{i}@x.it,H{i},Europe/Rome,true\n"));
    }
    env.import("contacts", "c.csv", &contacts, &[]).ok();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,amount\n\
         h1,2026-11-25T10:00:00Z,cart_abandon,10\nh2,2026-11-25T10:05:00Z,cart_abandon,10\n\
         h3,2026-11-25T10:10:00Z,cart_abandon,10\nh4,2026-11-25T10:15:00Z,cart_abandon,10\n\
         h5,2026-11-25T10:20:00Z,cart_abandon,10\nh6,2026-11-25T10:25:00Z,cart_abandon,10\n\
         h4,2026-11-25T12:00:00Z,purchase,10\nh1,2026-12-01T10:00:00Z,cart_abandon,10\n",
        &[],
    )
    .ok();
    env.write("p.toml", POLICY);
    env.run(&["policy", "set", "p.toml"]).ok();
    env.write(
        "lift.toml",
        "name = \"lift\"\n\n[entry]\nevent = \"cart_abandon\"\n\n[[goal]]\nevent = \"purchase\"\n\n\
         [[step]]\nname = \"ab\"\nsplit = [{ percent = 60, next = \"wait\" }, { percent = 40, holdout = true }]\n\n\
         [[step]]\nname = \"wait\"\nwait = \"4h\"\n\n\
         [[step]]\nname = \"mail\"\nsend = \"email\"\nsubject = \"Your cart\"\nbody = \"<p>Hi {{ first_name }}</p>\"\n",
    );
    env.run(&["journey", "create", "lift.toml"]).ok();
    let sim = simulate_then_run(&env, "lift", START, END);

    let ids: HashMap<u64, &str> = (1..=6).map(|i| (i, ["h1", "h2", "h3", "h4", "h5", "h6"][i as usize - 1])).collect();
    let runs = enrollments(&env, "lift", &ids);
    let got: Vec<(&str, u64, &str, &str)> =
        runs.iter().map(|(k, v)| (k.as_str(), v.0, v.1.as_str(), v.2.as_str())).collect();
    assert_eq!(
        got,
        [
            ("h1", 2, "completed", "ab:branch 1 wait:waited mail:sent"),
            ("h2", 1, "completed", "ab:branch 1 wait:waited mail:sent"),
            ("h3", 1, "exited (holdout)", "ab:holdout"),
            ("h4", 1, "exited (goal)", "ab:branch 1 wait:waited"),
            ("h5", 1, "completed", "ab:branch 1 wait:waited mail:sent"),
            ("h6", 1, "exited (holdout)", "ab:holdout"),
        ]
    );
    assert_eq!(mails(&env, "lift"), ["journey.lift.1.2.2", "journey.lift.1.2.5", "journey.lift.2.2.1"]);
    dates(
        &env,
        &[
            ("journey.lift.1.2.2", "Wed, 25 Nov 2026 14:05:00 +0000"),
            ("journey.lift.1.2.5", "Wed, 25 Nov 2026 14:20:00 +0000"),
            ("journey.lift.2.2.1", "Tue, 1 Dec 2026 14:00:00 +0000"),
        ],
    );
    assert_eq!(
        timeline(&env, "h1", "lift"),
        lines(
            "lift",
            &[
                ("2026-11-25T10:00:00Z", "entered"),
                ("2026-11-25T10:00:00Z", "held out (receives nothing)"),
                ("2026-12-01T10:00:00Z", "entered"),
                ("2026-12-01T14:00:00Z", "waited 4h"),
                ("2026-12-01T14:00:00Z", "email sent"),
                ("2026-12-01T14:00:00Z", "completed"),
            ]
        )
    );
    assert_eq!(
        timeline(&env, "h3", "lift"),
        lines("lift", &[("2026-11-25T10:10:00Z", "entered"), ("2026-11-25T10:10:00Z", "held out (receives nothing)")])
    );
    assert_eq!(
        timeline(&env, "h4", "lift"),
        lines("lift", &[("2026-11-25T10:15:00Z", "entered"), ("2026-11-25T12:00:00Z", "exited on purchase")])
    );
    let histories: Vec<&str> = runs.values().map(|r| r.2.as_str()).chain(["ab:holdout"]).collect();
    assert_eq!(simulated_counts(&sim), outcome_counts(histories), "simulation {sim}");
    assert_eq!(sim["steps"][0]["outcomes"], json!({"branch 1": 4, "holdout": 3}));
    assert_eq!(
        (&sim["entered"], &sim["completed"], &sim["exited"], &sim["active"]),
        (&json!(7), &json!(3), &json!({"holdout": 3, "goal": 1}), &json!(0))
    );
}

/// Deferrals cut short, hand-computed (Rome policy above, email quiet
/// 22:00–08:00 local): a journey that waits 4 h after a cart abandon, then
/// mails; any order ends it. Until Tue 1 Dec 03:00Z.
///
/// | contact | events | hand-computed |
/// |---|---|---|
/// | 1 a (Rome) | abandons Sun 29 Nov 19:00Z, orders Mon 30 Nov 05:00Z | mail due 23:00Z = 00:00 Rome: deferred to 08:00 Rome (07:00Z); the order at 05:00Z comes first → exited on purchase, nothing sent |
/// | 2 b (Rome) | abandons Mon 30 Nov 20:00Z | mail due 00:00Z (01:00 Rome): deferred to 07:00Z, after the end → still waiting at the mail |
/// | 3 c (NY) | abandons Mon 30 Nov 12:00Z | mail 16:00Z (11:00 NY) sent; completed |
#[test]
fn deferrals_cut_short_by_a_goal_or_the_end() {
    const UNTIL: &str = "2026-12-01T03:00:00Z";
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,timezone,consent_email\n\
         a,a@x.it,A,Europe/Rome,true\nb,b@x.it,B,Europe/Rome,true\nc,c@x.com,C,America/New_York,true\n",
        &[],
    )
    .ok();
    env.import(
        "events",
        "e.csv",
        "contact,ts,kind,amount\n\
         a,2026-11-29T19:00:00Z,cart_abandon,10\na,2026-11-30T05:00:00Z,purchase,10\n\
         c,2026-11-30T12:00:00Z,cart_abandon,10\nb,2026-11-30T20:00:00Z,cart_abandon,10\n",
        &[],
    )
    .ok();
    env.write("p.toml", POLICY);
    env.run(&["policy", "set", "p.toml"]).ok();
    env.write(
        "late.toml",
        "name = \"late\"\n\n[entry]\nevent = \"cart_abandon\"\n\n[[goal]]\nevent = \"purchase\"\n\n\
         [[step]]\nname = \"wait\"\nwait = \"4h\"\n\n\
         [[step]]\nname = \"mail\"\nsend = \"email\"\nsubject = \"Your cart\"\nbody = \"<p>Hi</p>\"\n",
    );
    env.run(&["journey", "create", "late.toml"]).ok();
    let sim = simulate_then_run(&env, "late", START, UNTIL);
    let ids: HashMap<u64, &str> = [(1, "a"), (2, "b"), (3, "c")].into_iter().collect();
    let runs = enrollments(&env, "late", &ids);
    let got: Vec<(&str, &str, &str)> = runs.iter().map(|(k, v)| (k.as_str(), v.1.as_str(), v.2.as_str())).collect();
    assert_eq!(
        got,
        [
            ("a", "exited (goal)", "wait:waited"),
            ("b", "waiting until 2026-12-01T07:00:00Z", "wait:waited"),
            ("c", "completed", "wait:waited mail:sent"),
        ]
    );
    assert_eq!(mails(&env, "late"), ["journey.late.1.1.3"]);
    assert_eq!(
        timeline(&env, "a", "late"),
        lines(
            "late",
            &[
                ("2026-11-29T19:00:00Z", "entered"),
                ("2026-11-29T23:00:00Z", "waited 4h"),
                ("2026-11-29T23:00:00Z", "email deferred until 2026-11-30T07:00:00Z"),
                ("2026-11-30T05:00:00Z", "exited on purchase"),
            ]
        )
    );
    let counted = outcome_counts(runs.values().map(|r| r.2.as_str()));
    assert_eq!(simulated_counts(&sim), counted, "simulation {sim}");
    assert_eq!(sim["steps"][1]["waiting_at_end"], 1, "{sim}");
    assert_eq!(
        (&sim["entered"], &sim["completed"], &sim["exited"], &sim["active"]),
        (&json!(3), &json!(1), &json!({"goal": 1}), &json!(1))
    );
}
