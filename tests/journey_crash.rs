//! Exactly once for journeys: a scheduler killed with SIGKILL while it
//! moves thousands of contacts through a journey (sending, tagging,
//! scoring, handing out codes), then restarted, leaves every step of every
//! run done once: one message, one code, one tag, one score change each.

mod common;

use common::{Env, wait_until};
use std::collections::HashSet;
use std::time::Duration;

const N: usize = 6000;
const START: &str = "2026-11-23T06:00:00Z";
const END: &str = "2026-11-24T06:00:00Z";

fn mails(env: &Env) -> usize {
    std::fs::read_dir(env.path("outbox/email/new")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_killed_scheduler_resumes_each_journey_step_once() {
    let env = Env::new();
    let mut csv = String::from("external_id,email,consent_email,timezone\n");
    let mut events = String::from("contact,ts,kind\n");
    for i in 1..=N {
        csv.push_str(&format!("x{i},p{i}@example.com,true,UTC\n"));
        events.push_str(&format!("x{i},2026-11-23T{:02}:{:02}:00Z,cart_abandon\n", 7 + i % 3, i % 60));
    }
    env.import("contacts", "c.csv", &csv, &[]).ok();
    env.import("events", "e.csv", &events, &[]).ok();
    env.write("p.toml", "timezone = \"UTC\"\n");
    env.run(&["policy", "set", "p.toml"]).ok();
    env.write(
        "j.toml",
        "name = \"cart\"\n[entry]\nevent = \"cart_abandon\"\n\n\
         [[step]]\nname = \"wait\"\nwait = \"1h\"\n\n\
         [[step]]\nname = \"mail\"\nsend = \"email\"\nsubject = \"s\"\nbody = \"code {{ promo_code }}\"\n\
         promo = { percent = 5, valid = \"7d\", prefix = \"C5\" }\n\n\
         [[step]]\nname = \"tag\"\ntag_add = \"reminded\"\n\n\
         [[step]]\nname = \"score\"\nscore = 10\n",
    );
    env.run(&["--now", START, "journey", "create", "j.toml"]).ok();
    env.run(&["--now", START, "journey", "start", "cart"]).ok();

    let mut child = env
        .cmd(&["--now", START, "scheduler", "run", "--until", END])
        .env("REACH_SCHEDULER_CHUNK", "300")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(Duration::from_secs(120), || mails(&env) >= N / 4 + 150));
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = mails(&env);
    assert!(alive && at_kill < N, "the scheduler finished before it could be killed ({at_kill} messages)");
    eprintln!("killed with {at_kill} of {N} messages out");

    env.run(&["--now", START, "scheduler", "run", "--until", END]).ok();
    assert_eq!(mails(&env), N, "one message per contact");
    let runs = env.json(&["journey", "enrollments", "cart"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), N);
    let mut codes = HashSet::new();
    for r in runs {
        assert_eq!(r["state"], "completed", "{r}");
        let h = r["history"].as_str().unwrap();
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 4, "{h}");
        assert_eq!((parts[0], parts[2], parts[3]), ("wait:waited", "tag:done", "score:done"), "{h}");
        let code = parts[1].strip_prefix("mail:sent(").and_then(|x| x.strip_suffix(')')).expect(h);
        assert!(codes.insert(code.to_string()), "code {code} handed out twice");
    }
    assert_eq!(codes.len(), N);
    // the code in each message is the one recorded
    let one = std::fs::read_to_string(env.path("outbox/email/new/journey.cart.1.1.1")).unwrap();
    let code1 = runs.iter().find(|r| r["contact"] == 1).unwrap()["history"].as_str().unwrap().to_string();
    let code1 = code1.split(' ').nth(1).unwrap().trim_start_matches("mail:sent(").trim_end_matches(')').to_string();
    assert!(one.contains(&format!("code {code1}")), "{one}");
    // one tag and one score change each
    assert_eq!(env.json(&["segment", "count", "tag:reminded"])["count"], N);
    assert_eq!(env.json(&["segment", "count", "score = 10"])["count"], N);
    let c = env.json(&["contacts", "show", "x7"]);
    let journey_lines: Vec<String> = c["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["what"].as_str().filter(|w| w.starts_with("cart: ")).map(String::from))
        .collect();
    assert_eq!(journey_lines.len(), 2, "{journey_lines:?}");
    let code7 = runs.iter().find(|r| r["contact"] == 7).unwrap()["history"].as_str().unwrap().to_string();
    let code7 = code7.split(' ').nth(1).unwrap().trim_start_matches("mail:sent(").trim_end_matches(')').to_string();
    assert_eq!(
        journey_lines[0],
        format!("cart: waited 1h, email sent with code {code7}, tag +reminded, score +10, completed")
    );
    assert_eq!(journey_lines[1], "cart: entered");
}
