//! `reach serve` and the owner's socket, through the real binary: while a
//! process owns the database, other `reach` commands on it run through
//! that owner with the same output and exit codes as on their own; the
//! owner stops cleanly on SIGTERM; a killed owner leaves nothing in the way.

mod common;

use common::{Env, NOW, Run, wait_until};
use std::process::{Child, Stdio};
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
                && std::fs::read_to_string(&lock).is_ok_and(|s| s.trim() == pid)),
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
