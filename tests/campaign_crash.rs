//! Exactly once: a scheduler killed with SIGKILL in the middle of
//! delivering, then restarted, leaves every recipient with exactly one
//! message, and the deliveries table (which caps count) agrees.

mod common;

use common::{Env, wait_until};
use std::time::Duration;

const N: usize = 6000;
const START: &str = "2026-11-23T06:00:00Z";
const END: &str = "2026-11-24T06:00:00Z";

#[test]
fn a_killed_scheduler_resumes_without_sending_twice() {
    let env = Env::new();
    // no quiet hours; one email a day
    env.one_a_day_audience(N);
    for (name, at) in [("first", "2026-11-23T10:00:00Z"), ("second", "2026-11-23T11:00:00Z")] {
        let file = env.campaign_file(name, at);
        env.run(&["--now", START, "campaign", "create", &file]).ok();
        env.run(&["--now", START, "campaign", "schedule", name]).ok();
    }

    let mut child = env
        .cmd(&["--now", START, "scheduler", "run", "--until", END])
        .env("REACH_SCHEDULER_CHUNK", "500")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // kill it once some but not all messages are out, likely in the middle
    // of a chunk (then the restart re-delivers its `pending` records)
    assert!(wait_until(Duration::from_secs(60), || env.mail_count() >= N / 4 + 250));
    let alive = child.try_wait().unwrap().is_none();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = env.mail_count();
    assert!(alive && at_kill < N, "the scheduler finished before it could be killed ({at_kill} messages)");

    eprintln!("killed with {at_kill} of {N} messages out");
    // the restart completes the run
    let out = env.json(&["--now", START, "scheduler", "run", "--until", END]);
    eprintln!("restart: {out}");
    assert!(out["totals"]["decided"].as_u64().unwrap() > 0, "{out}");
    assert_eq!(env.mail_count(), N);
    // one file per contact, named after its idempotency key
    for i in 1..=N {
        assert!(env.path(&format!("outbox/email/new/first.20261123T1000.{i}")).exists(), "contact {i}");
    }
    let first = env.json(&["campaign", "show", "first"])["stats"].clone();
    assert_eq!(
        (first["audience"].as_u64(), first["sent"].as_u64(), first["pending"].as_u64()),
        (Some(N as u64), Some(N as u64), Some(0))
    );
    // each contact has exactly one send in the table: the second campaign,
    // an hour later, finds every 1/1d cap full
    let second = env.json(&["campaign", "show", "second"])["stats"].clone();
    assert_eq!((second["sent"].as_u64(), second["suppressed"]["cap"].as_u64()), (Some(0), Some(N as u64)));
    // and a third run changes nothing
    let again = env.json(&["--now", START, "scheduler", "run", "--until", END]);
    assert_eq!(again["totals"]["decided"], 0);
    assert_eq!(env.mail_count(), N);
}
