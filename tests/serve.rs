//! `reach serve` and the owner's socket, through the real binary: while a
//! process owns the database, other `reach` commands on it run through
//! that owner with the same output and exit codes as on their own; the
//! owner stops cleanly on SIGTERM; a killed owner leaves nothing in the way;
//! its scheduler delivers with nobody logged in, when a campaign falls due
//! on the real clock; killed with SIGKILL mid-delivery and started again,
//! it delivers every message exactly once. Waits poll with deadlines.

mod common;

use common::{Env, NOW, Run, wait_until};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn demo() -> Env {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "400", "--seed", "7"]).ok();
    env
}

/// A running `reach serve` on the environment's database.
struct Owner {
    child: Child,
}

impl Owner {
    fn start(env: &Env) -> Owner {
        let child = env.cmd(&["serve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn serve");
        let socket = env.path("reach.redb.run/socket");
        let lock = env.path("reach.redb.lock");
        let pid = child.id().to_string();
        assert!(
            wait_until(Duration::from_secs(30), || socket.exists()
                && std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == format!("{pid} owner"))),
            "the owner never listened"
        );
        Owner { child }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGTERM, then the exit status and what it logged.
    fn stop(mut self) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let out = std::mem::replace(&mut self.child, std::process::Command::new("true").spawn().unwrap())
            .wait_with_output()
            .expect("wait");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a command did, with timings (`elapsed_ms`) taken out.
fn seen(r: Run) -> (i32, String, String) {
    let strip = |s: &str| s.lines().filter(|l| !l.contains("elapsed_ms")).collect::<Vec<_>>().join("\n");
    (r.code, strip(&r.stdout), r.stderr)
}

const COMMANDS: &[&[&str]] = &[
    &["segment", "count", "tag:vip and not tag:churned"],
    &["segment", "count", "count(purchase, last 90d) >= 1", "--format", "table"],
    &["segment", "explain", "tag:vip or lifecycle = lapsed"],
    &["segment", "count", "tag:"],
    &["segment", "list"],
    &["tags", "list"],
    &["contacts", "show", "7"],
    &["contacts", "list", "--limit", "5"],
    &["campaign", "list"],
    &["policy", "show"],
    &["schema", "show"],
    &["contacts", "show", "no-such-contact"],
    &["segment", "sql", "tag:vip", "--dialect", "sqlite"],
];

/// Every command gives the same output and exit code through the owner
/// as on its own, including refusals (exit 2 with the column).
#[test]
fn commands_through_the_owner_match_their_own_runs() {
    let env = demo();
    let alone: Vec<_> = COMMANDS.iter().map(|a| seen(env.run(a))).collect();
    assert!(alone.iter().any(|(c, _, _)| *c == 2), "some command is refused");
    let owner = Owner::start(&env);
    for (args, before) in COMMANDS.iter().zip(&alone) {
        let through = seen(env.run(args));
        assert_eq!(&through, before, "{args:?}");
    }
    // an import from stdin is refused (the owner does not read the client's)
    let err =
        env.run_stdin(&["import", "events", "-"], b"contact,ts,kind\n1,2026-11-24T08:00:00Z,page_view\n").fails(2);
    assert!(err.contains("give the file's name"), "{err}");
    // a command that needs the file to itself is refused with the owner's pid
    let err = env.run(&["compact"]).fails(3);
    assert!(err.contains(&format!("database in use (pid {})", owner.child.id())), "{err}");
    let (code, log) = owner.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("commands served"), "{log}");
}

/// A change made through the owner (an import from a relative file name, a
/// tag, a saved segment) is what the next command sees, and what the
/// database holds once the owner has stopped.
#[test]
fn changes_through_the_owner_are_seen_at_once_and_kept() {
    let env = demo();
    let owner = Owner::start(&env);
    let count = |q: &str| env.json(&["segment", "count", q])["count"].as_u64().unwrap();
    let buyers = count("count(purchase, last 1d) >= 1");
    std::fs::create_dir(env.path("in")).unwrap();
    env.write(
        "in/orders.csv",
        "contact,ts,kind,amount\n1,2026-11-24T08:00:00Z,purchase,10.00\n2,2026-11-24T09:00:00Z,purchase,12.50\n",
    );
    // a file name relative to the client's directory, not the owner's
    let imported = env.cmd(&["import", "events", "orders.csv"]).current_dir(env.path("in")).output().unwrap();
    Run::from_output(imported).ok();
    let after = count("count(purchase, last 1d) >= 1");
    assert!(after > buyers && after <= buyers + 2, "{buyers} -> {after}");
    env.run(&["tags", "add", "served", "--where", "count(purchase, last 1d) >= 1"]).ok();
    assert_eq!(count("tag:served"), after);
    env.run(&["segment", "save", "fresh_buyers", "tag:served"]).ok();
    // a file name is taken from the client's directory, not the owner's
    env.write(
        "in/campaign.toml",
        "name = \"served_thanks\"\nchannel = \"email\"\nsubject = \"Thanks\"\nbody = \"Hi\"\n\
         [audience]\ninclude = [\"segment:fresh_buyers\"]\n[schedule]\nat = \"2026-11-25T10:00:00Z\"\n",
    );
    let created = env.cmd(&["campaign", "create", "campaign.toml"]).current_dir(env.path("in")).output().unwrap();
    Run::from_output(created).ok();
    assert!(env.run(&["campaign", "list"]).ok().contains("served_thanks"));
    let (code, log) = owner.stop();
    assert_eq!(code, 0, "{log}");
    assert!(!env.path("reach.redb.run").exists(), "the socket is removed");
    // on its own again: the same counts from the file
    assert_eq!(count("segment:fresh_buyers"), after);
    // the audit log says the changes came through the owner
    let audit = env.json(&["audit"]);
    let tag = audit.as_array().unwrap().iter().find(|e| e["what"].as_str().unwrap().starts_with("tag served")).unwrap();
    assert!(tag["via"].as_str().unwrap().starts_with("cli via owner (pid "), "{tag}");
}

/// The socket is its user's alone: 0600 in a 0700 directory.
#[test]
fn the_socket_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = demo();
    let owner = Owner::start(&env);
    let mode = |p: &str| std::fs::metadata(env.path(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("reach.redb.run"), 0o700);
    assert_eq!(mode("reach.redb.run/socket"), 0o600);
    drop(owner);
}

/// An owner killed with SIGKILL leaves its socket behind: the next command
/// finds nobody answering there and runs on its own, and the next owner
/// replaces the socket.
#[test]
fn a_killed_owner_leaves_nothing_in_the_way() {
    let env = demo();
    let mut owner = Owner::start(&env);
    owner.signal(libc::SIGKILL);
    owner.child.wait().unwrap();
    assert!(env.path("reach.redb.run/socket").exists(), "a dead owner's socket stays");
    let n = env.json(&["segment", "count", "tag:vip"])["count"].as_u64().unwrap();
    assert!(n > 0);
    let again = Owner::start(&env);
    assert_eq!(env.json(&["segment", "count", "tag:vip"])["count"].as_u64().unwrap(), n);
    assert_eq!(again.stop().0, 0);
}

/// Something at the socket that never answers (a hung owner) is a clear
/// error within the wait the client allows, not a hang.
#[test]
fn a_silent_socket_is_an_error_not_a_hang() {
    let env = demo();
    std::fs::create_dir(env.path("reach.redb.run")).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(env.path("reach.redb.run/socket")).unwrap();
    let started = std::time::Instant::now();
    let err =
        Run::from_output(env.cmd(&["segment", "count", "tag:vip"]).env("REACH_OWNER_WAIT_MS", "300").output().unwrap())
            .fails(3);
    assert!(err.contains("its owner does not answer"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// How long one step may take (a loaded 2-core machine, a debug build).
const DEADLINE: Duration = Duration::from_secs(60);

/// A running `reach serve` whose log (stderr) is read as it comes, so a
/// long run never fills the pipe.
struct Served {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `cmd` (a `reach serve` command) and waits until it answers on
    /// its socket.
    fn start(mut cmd: Command) -> Served {
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn serve");
        let log = Arc::new(Mutex::new(String::new()));
        {
            let (log, err) = (log.clone(), child.stderr.take().expect("stderr"));
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        // it says so once its socket listens (a killed owner's socket may
        // still be there before that)
        let serving = format!("(pid {}; SIGTERM", child.id());
        let up = wait_until(DEADLINE, || log.lock().unwrap().contains(&serving));
        assert!(up, "the owner never listened; log:\n{}", log.lock().unwrap());
        Served { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// SIGTERM; the exit status and the whole log.
    fn stop(mut self) -> (i32, String) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().expect("wait");
        let log = self.log.clone();
        wait_until(DEADLINE, || log.lock().unwrap().contains("stopped ("));
        (status.code().unwrap_or(-1), self.log())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command on the real clock (no `REACH_NOW`).
fn real_clock(env: &Env, args: &[&str]) -> Command {
    let mut c = env.cmd(args);
    c.env_remove("REACH_NOW");
    c
}

/// A campaign scheduled through the owner, on the real clock, a few seconds
/// ahead: nobody has a console open, and `reach serve`'s scheduler delivers
/// it once it is due, not before.
#[test]
fn the_server_delivers_a_campaign_when_due_with_nobody_logged_in() {
    const N: usize = 40;
    let env = Env::new();
    env.one_a_day_audience(N);
    let owner = Served::start(real_clock(&env, &["serve"]));
    // due 4 s from now, to the second
    let at = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 4) as i64;
    let at_text = chrono::DateTime::from_timestamp(at, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    env.campaign_file("soon", &at_text);
    Run::from_output(real_clock(&env, &["campaign", "create", "soon.toml"]).output().unwrap()).ok();
    Run::from_output(real_clock(&env, &["campaign", "schedule", "soon"]).output().unwrap()).ok();
    assert!(
        wait_until(DEADLINE, || env.mail_count() == N),
        "{} of {N} delivered; log:\n{}",
        env.mail_count(),
        owner.log()
    );
    // none before it was due (the Maildir file's time is its delivery's)
    for f in std::fs::read_dir(env.path("outbox/email/new")).unwrap() {
        let f = f.unwrap();
        let written = f.metadata().unwrap().modified().unwrap();
        let written = written.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!(written >= at, "{:?} written at {written}, before {at}", f.file_name());
    }
    // the owner's log tells of it (once the step is recorded); the
    // campaign's counts, asked through it, agree
    let told = format!("decided {N}, sent {N}, deferred 0, suppressed 0");
    assert!(wait_until(DEADLINE, || owner.log().contains(&told)), "{}", owner.log());
    let show = Run::from_output(real_clock(&env, &["campaign", "show", "soon", "--format", "json"]).output().unwrap());
    let stats: serde_json::Value = serde_json::from_str(&show.ok()).unwrap();
    let stats = &stats["stats"];
    assert_eq!((stats["sent"].as_u64(), stats["pending"].as_u64()), (Some(N as u64), Some(0)), "{stats}");
    let (code, log) = owner.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(env.mail_count(), N);
}

/// `reach serve` killed with SIGKILL while its scheduler delivers, then
/// started again: every recipient has exactly one message, the deliveries
/// table agrees (a second campaign an hour later finds every one-a-day cap
/// full), and nothing is left pending.
#[test]
fn a_server_killed_mid_delivery_resumes_without_sending_twice() {
    const N: usize = 6000;
    const BEFORE: &str = "2026-11-24T06:00:00Z";
    let env = Env::new();
    env.one_a_day_audience(N);
    for (name, at) in [("first", "2026-11-24T10:00:00Z"), ("second", "2026-11-24T11:00:00Z")] {
        env.campaign_file(name, at);
        env.run(&["--now", BEFORE, "campaign", "create", &format!("{name}.toml")]).ok();
        env.run(&["--now", BEFORE, "campaign", "schedule", name]).ok();
    }
    // the clock at NOW (12:00): both are due as the server starts
    let serve = || {
        let mut c = env.cmd(&["serve"]);
        c.env("REACH_SCHEDULER_CHUNK", "500");
        c
    };
    let mut owner = Served::start(serve());
    // killed once some but not all messages are out, likely in the middle
    // of a chunk (the restart then re-delivers its `pending` records)
    assert!(wait_until(DEADLINE, || env.mail_count() >= N / 4 + 250), "log:\n{}", owner.log());
    let alive = owner.alive();
    owner.signal(libc::SIGKILL);
    owner.child.wait().unwrap();
    let at_kill = env.mail_count();
    assert!(alive && at_kill < N, "the server finished before it could be killed ({at_kill} messages)");
    eprintln!("killed with {at_kill} of {N} messages out");
    drop(owner);

    let again = Served::start(serve());
    let stats = |name: &str| env.json(&["campaign", "show", name])["stats"].clone();
    let done = wait_until(DEADLINE, || {
        let s = stats("second");
        s["suppressed"]["cap"].as_u64() == Some(N as u64)
    });
    assert!(done, "the second campaign never finished: {}; log:\n{}", stats("second"), again.log());
    assert_eq!(env.mail_count(), N);
    for i in 1..=N {
        assert!(env.path(&format!("outbox/email/new/first.20261124T1000.{i}")).exists(), "contact {i}");
    }
    let first = stats("first");
    assert_eq!(
        (first["audience"].as_u64(), first["sent"].as_u64(), first["pending"].as_u64()),
        (Some(N as u64), Some(N as u64), Some(0)),
        "{first}"
    );
    assert_eq!(stats("second")["sent"].as_u64(), Some(0));
    let (code, log) = again.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(env.mail_count(), N);
}

/// A command started while `reach serve` holds the lock but is still
/// opening the database (its lock file says `PID owner`, its socket is not
/// there yet) waits for the socket and runs through the owner, instead of
/// failing with "database in use". A plain holder is still refused at once
/// (tests/store_safety.rs).
#[test]
fn a_command_waits_for_an_owner_still_opening_the_database() {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "2000", "--seed", "7"]).ok();
    let expected = env.run(&["segment", "count", "tag:vip", "--format", "json"]).ok();
    // the owner pauses between announcing itself and opening the database
    // (otherwise a window of a millisecond or two): the command starts in it
    let mut child = env
        .cmd(&["serve"])
        .env("REACH_TEST_OWNER_PAUSE_MS", "1500")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let lock = env.path("reach.redb.lock");
    let owner = format!("{} owner", child.id());
    assert!(
        wait_until(Duration::from_secs(30), || std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == owner)),
        "the owner never took the lock"
    );
    let socket_yet = env.path("reach.redb.run/socket").exists();
    let out = env.run(&["segment", "count", "tag:vip", "--format", "json"]);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let log = {
        let mut s = String::new();
        use std::io::Read;
        child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
        child.wait().unwrap();
        s
    };
    assert!(!socket_yet, "the owner was listening before the command started: nothing was waited for");
    let got = out.ok();
    let count = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap()["count"].clone();
    assert_eq!(count(&got), count(&expected));
    assert!(log.contains("stopped (1 commands served)"), "the command did not go through the owner: {log}");
}
