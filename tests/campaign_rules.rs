//! The DND rules end to end, through the CLI, over a simulated week.
//!
//! Contacts (November 2026: Rome UTC+1, New York UTC−5, Tokyo UTC+9):
//! 1 rome, 2 ny, 3 tokyo, 4 notz (no timezone → the policy's, Rome),
//! 5 optout (email opted out, SMS in), 6 bounced (hard bounce; no SMS
//! consent), 7 unsub (unsubscribed). All tagged `all`.
//!
//! Policy: quiet email 22:00-08:00, sms 20:00-09:00, defer; caps email
//! 1/1d, email 2/7d, any 3/7d; critical bypasses caps, not quiet hours.
//!
//! Campaigns (audience `all`, 7 recipients each), times UTC:
//! - A normal email Mon 23 10:00: rome 11:00, tokyo 19:00, notz → sent;
//!   ny 05:00 quiet → deferred to 08:00 NY = 13:00Z, then sent.
//!   5/6/7: no_consent, bounced, unsubscribed. A sends nothing that would
//!   take C's slot: C's 2/7d window holds A plus C = 2 ≤ 2.
//! - B low email Mon 15:00: rome/ny/notz have A in the last day → cap;
//!   tokyo is at 00:00 local → deferred to 08:00 Tokyo (23:00Z), then
//!   cap (A at 10:00Z is within a day).
//! - D low email Tue 12:00: no cap is full (A was > 1 day ago), but C (high,
//!   Wed 10:00) needs the 1/1d slot of (Tue 10:00, Wed 10:00], which holds
//!   Tue 12:00 → reserved(launch) ×4 (ny first deferred to 13:00Z).
//! - C high email Wed 10:00: past A only → sent ×4 (ny deferred to 13:00Z).
//! - E normal sms Thu 10:00: any 3/7d holds A, C → 2+1 ≤ 3 → sent to 1–5
//!   (ny deferred to 09:00 NY = 14:00Z); 6 no_consent, 7 unsubscribed.
//! - G normal sms Fri 10:00: any holds A, C, E → cap for 1–4 (ny deferred
//!   first); 5 has only E → sent; 6, 7 as above.
//! - H critical email Sat 10:00: email 2/7d holds A, C → full, bypassed →
//!   sent ×4 (ny still deferred: quiet hours are not bypassed); consent
//!   is not bypassed: 5, 6, 7 suppressed.
//! - I normal email Sun 10:00: 2/7d holds A, C, H (critical counts) → cap
//!   ×4 (ny deferred first).
//!
//! Sent: A4 + C4 + H4 = 12 emails, E5 + G1 = 6 SMS.

mod common;

use common::Env;
use serde_json::{Value, json};

const POLICY: &str = r#"timezone = "Europe/Rome"
[quiet_hours]
email = "22:00-08:00"
sms = "20:00-09:00"
on_quiet = "defer"
[[caps]]
channel = "email"
max = 1
per = "1d"
[[caps]]
channel = "email"
max = 2
per = "7d"
[[caps]]
channel = "any"
max = 3
per = "7d"
[priorities.critical]
bypass_caps = true
bypass_quiet_hours = false
"#;

const START: &str = "2026-11-23T06:00:00Z";
const END: &str = "2026-11-30T06:00:00Z";

fn world() -> Env {
    let env = Env::new();
    env.import(
        "contacts",
        "c.csv",
        "external_id,email,first_name,timezone,consent_email,consent_sms,bounced_at,unsubscribed_at,tags\n\
         rome,rome@x.it,Anna,Europe/Rome,true,true,,,all\n\
         ny,ny@x.com,,America/New_York,true,true,,,all\n\
         tokyo,tokyo@x.jp,Aki,Asia/Tokyo,true,true,,,all\n\
         notz,notz@x.it,Nino,,true,true,,,all\n\
         optout,optout@x.it,Olga,Europe/Rome,false,true,,,all\n\
         bounced,bounced@x.it,Bea,Europe/Rome,true,false,2026-10-01T00:00:00Z,,all\n\
         unsub,unsub@x.it,Ugo,Europe/Rome,true,true,,2026-10-01T00:00:00Z,all\n",
        &[],
    )
    .ok();
    env.write("policy.toml", POLICY);
    env.run(&["policy", "set", "policy.toml"]).ok();
    env.run(&["--now", START, "segment", "save", "everyone", "tag:all"]).ok();
    env
}

fn campaign(env: &Env, name: &str, channel: &str, priority: &str, at: &str, include: &str) {
    let file = format!("{name}.toml");
    env.write(
        &file,
        format!(
            "name = \"{name}\"\nchannel = \"{channel}\"\npriority = \"{priority}\"\n\
             subject = \"Hi {{{{ first_name | default(\\\"cliente\\\") }}}}\"\nbody = \"<p>{{{{ first_name }}}}</p>\"\n\
             [audience]\ninclude = [\"{include}\"]\n[schedule]\nat = \"{at}\"\n"
        ),
    );
    env.run(&["--now", START, "campaign", "create", &file]).ok();
    env.run(&["--now", START, "campaign", "schedule", name]).ok();
}

fn stats(env: &Env, name: &str) -> Value {
    env.json(&["campaign", "show", name])["stats"].clone()
}

fn expect(sent: u64, deferred: u64, suppressed: &[(&str, u64)]) -> Value {
    let mut s = json!({"no_consent": 0, "bounced": 0, "unsubscribed": 0, "cap": 0, "quiet_hours": 0, "reserved": 0, "duplicate": 0});
    for (k, n) in suppressed {
        s[*k] = json!(n);
    }
    json!({"audience": 7, "sent": sent, "pending": 0, "failed": 0, "deferred": deferred, "suppressed": s})
}

fn outbox_counts(env: &Env) -> (usize, usize) {
    let mails = std::fs::read_dir(env.path("outbox/email/new")).map(|d| d.count()).unwrap_or(0);
    let sms = std::fs::read_to_string(env.path("outbox/sms.jsonl")).map(|t| t.lines().count()).unwrap_or(0);
    (mails, sms)
}

#[test]
fn a_simulated_week_follows_every_rule_and_a_replay_adds_nothing() {
    let env = world();
    campaign(&env, "news", "email", "normal", "2026-11-23T10:00:00Z", "segment:everyone");
    campaign(&env, "late", "email", "low", "2026-11-23T15:00:00Z", "tag:all");
    campaign(&env, "promo", "email", "low", "2026-11-24T12:00:00Z", "tag:all");
    campaign(&env, "launch", "email", "high", "2026-11-25T10:00:00Z", "tag:all");
    campaign(&env, "sms1", "sms", "normal", "2026-11-26T10:00:00Z", "tag:all");
    campaign(&env, "sms2", "sms", "normal", "2026-11-27T10:00:00Z", "tag:all");
    campaign(&env, "alert", "email", "critical", "2026-11-28T10:00:00Z", "tag:all");
    campaign(&env, "sunday", "email", "normal", "2026-11-29T10:00:00Z", "tag:all");

    // the forecast of A before anything ran: 4 sends (ny after a deferral)
    let f = env.json(&["--now", START, "campaign", "preview", "news"]);
    assert_eq!((f["audience"].as_u64(), f["send"].as_u64(), f["deferred"].as_u64()), (Some(7), Some(4), Some(1)));
    assert_eq!(outbox_counts(&env), (0, 0), "a preview writes nothing");

    let out = env.json(&["--now", START, "scheduler", "run", "--until", END]);
    assert_eq!(out["totals"]["sent"], 18, "{out}");

    let consent3 = [("no_consent", 1), ("bounced", 1), ("unsubscribed", 1)];
    let with = |extra: (&'static str, u64)| {
        let mut v = consent3.to_vec();
        v.push(extra);
        v
    };
    assert_eq!(stats(&env, "news"), expect(4, 1, &consent3));
    assert_eq!(stats(&env, "late"), expect(0, 1, &with(("cap", 4))));
    assert_eq!(stats(&env, "promo"), expect(0, 1, &with(("reserved", 4))));
    assert_eq!(stats(&env, "launch"), expect(4, 1, &consent3));
    assert_eq!(stats(&env, "sms1"), expect(5, 1, &[("no_consent", 1), ("unsubscribed", 1)]));
    assert_eq!(stats(&env, "sms2"), expect(1, 1, &[("no_consent", 1), ("unsubscribed", 1), ("cap", 4)]));
    assert_eq!(stats(&env, "alert"), expect(4, 1, &consent3));
    assert_eq!(stats(&env, "sunday"), expect(0, 1, &with(("cap", 4))));
    assert_eq!(outbox_counts(&env), (12, 6));
    for name in ["news", "late", "promo", "launch", "sms1", "sms2", "alert", "sunday"] {
        assert_eq!(env.json(&["campaign", "show", name])["status"], "done", "{name}");
    }

    // reasons on the timeline, with the spec's wording
    let ny = env.json(&["contacts", "show", "ny"]).to_string();
    assert!(ny.contains("deferred news until 2026-11-23T13:00:00Z"), "{ny}");
    assert!(ny.contains("suppressed promo: reserved(launch)"), "{ny}");
    assert!(ny.contains("suppressed sunday: cap(email 2/7d)"), "{ny}");
    let tokyo = env.json(&["contacts", "show", "tokyo"]).to_string();
    assert!(tokyo.contains("deferred late until 2026-11-23T23:00:00Z"), "{tokyo}");
    assert!(tokyo.contains("suppressed sms2: cap(any 3/7d)"), "{tokyo}");

    // the sent messages are personalised
    let mail = std::fs::read_to_string(env.path("outbox/email/new/news.20261123T1000.1")).unwrap();
    assert!(mail.contains("Subject: Hi Anna\r\n") && mail.contains("<p>Anna</p>"), "{mail}");
    let mail = std::fs::read_to_string(env.path("outbox/email/new/news.20261123T1000.2")).unwrap();
    assert!(
        mail.contains("Subject: Hi cliente\r\n") && mail.contains("Date: Mon, 23 Nov 2026 13:00:00 +0000"),
        "{mail}"
    );

    // a daily size point per midnight crossed (7), the save, and the run of `news`
    let h = env.json(&["segment", "history", "everyone"]);
    assert_eq!(h.as_array().unwrap().len(), 9, "{h}");

    // replay: the same week again adds nothing
    let again = env.json(&["--now", START, "scheduler", "run", "--until", END]);
    assert_eq!(again["totals"]["decided"], 0, "{again}");
    assert_eq!(outbox_counts(&env), (12, 6));
    assert_eq!(stats(&env, "news"), expect(4, 1, &consent3));
}

#[test]
fn bad_campaign_files_are_refused_with_the_reason_and_nothing_is_stored() {
    let env = world();
    let base = |over: &str| -> String {
        let mut lines = [
            ("name", "\"x\""),
            ("channel", "\"email\""),
            ("priority", "\"normal\""),
            ("subject", "\"Hi\""),
            ("body", "\"Hello {{ first_name }}\""),
        ];
        let (k, v) = over.split_once('=').unwrap_or(("", ""));
        if let Some(l) = lines.iter_mut().find(|l| l.0 == k.trim()) {
            l.1 = v.trim();
        }
        let mut s: String = lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        s.push_str("[audience]\ninclude = [\"tag:all\"]\n[schedule]\nat = \"2026-12-01T10:00:00Z\"\n");
        s
    };
    let cases: Vec<(String, &str)> = vec![
        (base("channel = \"fax\""), "unknown channel `fax`"),
        (base("priority = \"urgent\""), "unknown priority `urgent`"),
        (base("body = \"{{ first_name \""), "body template does not compile"),
        (base("").replace("tag:all", "score >"), "audience.include `score >`"),
        (base("").replace("2026-12-01", "2026-01-01"), "schedule.at 2026-01-01T10:00:00Z is in the past"),
        (
            base("").replace("[schedule]\n", "[schedule]\ntimezone = \"Mars/Olympus\"\n"),
            "unknown timezone `Mars/Olympus`",
        ),
        (
            base("").replace("at = \"2026-12-01T10:00:00Z\"", "every = \"fortnight\"\ntime = \"10:00\""),
            "schedule.every",
        ),
    ];
    for (text, reason) in cases {
        env.write("bad.toml", &text);
        let err = env.run(&["campaign", "create", "bad.toml"]).fails(2);
        assert!(err.starts_with("error: bad.toml"), "{err}");
        assert!(err.contains(reason), "expected `{reason}` in: {err}\n{text}");
    }
    assert_eq!(env.json(&["campaign", "list"]), json!([]));

    // policies: overlapping quiet hours, cap max 0, a zero window
    for (text, reason) in [
        ("timezone = \"UTC\"\n[quiet_hours]\nemail = [\"20:00-23:00\", \"22:00-08:00\"]\n", "overlaps"),
        ("timezone = \"UTC\"\n[[caps]]\nchannel = \"email\"\nmax = 0\nper = \"1d\"\n", "max must be at least 1"),
        ("timezone = \"UTC\"\n[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"0d\"\n", "empty window"),
    ] {
        env.write("p.toml", text);
        let err = env.run(&["policy", "set", "p.toml"]).fails(2);
        assert!(err.starts_with("error: p.toml:") && err.contains(reason), "{err}");
    }
    // nothing stored: the policy in force is still the one set by world()
    let shown = env.run(&["policy", "show"]).ok();
    assert!(shown.contains("timezone = \"Europe/Rome\"") && shown.contains("max = 3"), "{shown}");

    // a campaign that exists cannot be created twice; an unknown one cannot be scheduled
    env.write("ok.toml", base(""));
    env.run(&["campaign", "create", "ok.toml"]).ok();
    assert!(env.run(&["campaign", "create", "ok.toml"]).fails(2).contains("already exists"));
    assert!(env.run(&["campaign", "schedule", "nope"]).fails(2).contains("no campaign named `nope`"));
    assert!(env.run(&["campaign", "pause", "x"]).fails(2).contains("is draft"));
}
