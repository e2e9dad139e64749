//! A full disk during an import or a delivery: one clear message, exit 1,
//! the database as before, and nothing sent twice once space returns.
//!
//! Each test mounts a small tmpfs (`mount -t tmpfs -o size=…`) on its own
//! test directory, so the database, the outbox and the input files share
//! one real, size-limited file system that really fills up (ENOSPC from
//! the kernel, not an injected error). Mounting needs root, as CI runs;
//! elsewhere the test fails saying so.

mod common;

use common::Env;
use std::process::Command;

/// The test directory with a tmpfs of `mb` MiB mounted on it (unmounted
/// when dropped).
struct SmallDisk {
    env: Env,
}

impl SmallDisk {
    fn new(mb: u32) -> SmallDisk {
        let env = Env::new();
        let dir = env.path("");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m,mode=0700"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "these tests mount a size-limited tmpfs and need root: mount said {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        SmallDisk { env }
    }

    /// Fills the disk but for about `kib` KiB.
    fn fill(&self, kib: u64) {
        let out = Command::new("df").args(["--output=avail", "-k"]).arg(self.env.path("")).output().unwrap();
        let avail: u64 = String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap();
        let n = avail.saturating_sub(kib) as usize * 1024;
        std::fs::write(self.env.path("filler"), vec![0u8; n]).expect("fill the disk");
    }

    fn free(&self) {
        std::fs::remove_file(self.env.path("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.env.path("")).status();
    }
}

fn events(env: &Env) -> u64 {
    let s = env.json(&["stats"]);
    let row = s.as_array().unwrap().iter().find(|r| r["what"] == "events (count)").cloned().unwrap();
    row["rows"].as_u64().unwrap()
}

const FULL: &str = "error: no space left on the device: the change in progress was not kept";

#[test]
fn an_import_on_a_full_disk_fails_cleanly_and_keeps_the_database_as_it_was() {
    let disk = SmallDisk::new(48);
    let env = &disk.env;
    let mut contacts = String::from("external_id,email,consent_email\n");
    for i in 0..2000 {
        contacts.push_str(&format!("c{i},c{i}@example.com,true\n"));
    }
    env.import("contacts", "c.csv", &contacts, &[]).ok();
    env.import("events", "first.csv", "contact,ts,kind,amount\nc1,2026-11-01T10:00:00Z,purchase,10\n", &[]).ok();
    let before = env.export("events");
    // 300,000 purchases in time order, contacts interleaved
    let mut big = String::from("contact,ts,kind,amount\n");
    for i in 0..300_000u32 {
        big.push_str(&format!(
            "c{},2026-11-{:02}T{:02}:{:02}:{:02}Z,purchase,{}.{:02}\n",
            (i * 7919) % 2000,
            2 + i / 20_000,
            i / 900 % 24,
            i / 15 % 60,
            i % 60,
            i % 300,
            i % 100
        ));
    }
    env.write("big.csv", &big);
    disk.fill(1024);

    let err = env.run(&["import", "events", "big.csv"]).fails(1);
    assert!(err.starts_with(FULL), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    disk.free();
    // nothing of the import is there: the same events as before
    assert_eq!(events(env), 1);
    assert_eq!(env.export("events"), before);

    // with space again, the same import goes through, once
    env.run(&["import", "events", "big.csv"]).ok();
    assert_eq!(events(env), 300_001);
}

/// Policy: one email a day. A campaign for 3,000 contacts is delivered
/// into the Maildir on a disk that fills up: the run stops with the
/// message (the campaign is not paused: it is not its fault); once there
/// is space the next run delivers the rest, each contact exactly once,
/// and a second campaign the same day finds every cap full.
#[test]
fn a_delivery_on_a_full_disk_stops_and_resumes_without_sending_twice() {
    const N: usize = 3000;
    let disk = SmallDisk::new(32);
    let env = &disk.env;
    env.one_a_day_audience(N);
    for (name, at) in [("first", "2026-11-24T13:00:00Z"), ("second", "2026-11-24T14:00:00Z")] {
        let file = env.campaign_file(name, at);
        env.run(&["campaign", "create", &file]).ok();
        env.run(&["campaign", "schedule", name]).ok();
    }
    // room for a few hundred messages (a file takes a 4 KiB page)
    disk.fill(1500);
    let err = env.run(&["scheduler", "run", "--until", "2026-11-24T13:30:00Z"]).fails(1);
    assert!(err.starts_with(FULL), "{err}");
    let tmp = || std::fs::read_dir(env.path("outbox/email/tmp")).map(|d| d.count()).unwrap_or(0);
    let at_full = env.mail_count();
    assert!(at_full < N, "the disk was not full ({at_full} messages)");
    assert_eq!(tmp(), 0, "a message half written is left behind");
    disk.free();
    assert_eq!(env.json(&["campaign", "show", "first"])["status"], "scheduled", "not paused for a full disk");

    let out = env.json(&["scheduler", "run", "--until", "2026-11-25T00:00:00Z"]);
    eprintln!("{at_full} messages at the full disk; then {out}");
    assert_eq!(env.mail_count(), N);
    for i in 1..=N {
        assert!(env.path(&format!("outbox/email/new/first.20261124T1300.{i}")).exists(), "contact {i}");
    }
    let first = env.json(&["campaign", "show", "first"])["stats"].clone();
    assert_eq!((first["sent"].as_u64(), first["pending"].as_u64()), (Some(N as u64), Some(0)));
    let second = env.json(&["campaign", "show", "second"])["stats"].clone();
    assert_eq!((second["sent"].as_u64(), second["suppressed"]["cap"].as_u64()), (Some(0), Some(N as u64)));
}
