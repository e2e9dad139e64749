//! Shared helpers for the end-to-end tests: every test runs the real
//! `reach` binary against a database in its own temporary directory, with
//! a fixed clock and no user configuration.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const NOW: &str = "2026-11-24T12:00:00Z";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_reach")
}

/// A temporary directory holding one database and the files a test writes.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

/// What a finished command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(o: Output) -> Run {
        Run::from(o)
    }

    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "expected success\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self.stdout
    }

    /// Asserts exit code `code` and returns stderr.
    #[track_caller]
    pub fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "expected exit {code}\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        assert!(!self.stderr.contains("internal error"), "internal error: {}", self.stderr);
        self.stderr
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("reach.redb");
        Env { dir, db }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the test directory and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("make the test file's directory");
        }
        std::fs::write(&p, contents).expect("write test file");
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read test file")
    }

    /// A `reach` command on this environment's database, run in the test
    /// directory (so error messages name files by their bare names).
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_db(&self.db, args)
    }

    pub fn cmd_db(&self, db: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .env("REACH_NOW", NOW)
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path())
            .arg("--db")
            .arg(db)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("run reach"))
    }

    pub fn run_db(&self, db: &Path, args: &[&str]) -> Run {
        Run::from(self.cmd_db(db, args).output().expect("run reach"))
    }

    /// Runs with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        self.run_db_stdin(&self.db, args, input)
    }

    /// Runs on `db` with `input` on stdin.
    pub fn run_db_stdin(&self, db: &Path, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd_db(db, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write stdin");
        drop(stdin);
        Run::from(child.wait_with_output().expect("wait"))
    }

    /// Writes `contents` to `name` and imports it as contacts or events.
    pub fn import(&self, what: &str, name: &str, contents: &str, extra: &[&str]) -> Run {
        self.write(name, contents);
        let mut args = vec!["import", what, name];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    pub fn export(&self, what: &str) -> String {
        self.run(&["export", what]).ok()
    }

    /// Exported event rows (without the header).
    pub fn event_rows(&self) -> Vec<String> {
        self.export("events").lines().skip(1).map(str::to_string).collect()
    }

    /// The contacts export as a list of records keyed by column name.
    pub fn contacts(&self) -> Vec<std::collections::HashMap<String, String>> {
        csv_records(&self.export("contacts"))
    }

    /// The exported contact with this external id.
    #[track_caller]
    pub fn contact(&self, external_id: &str) -> std::collections::HashMap<String, String> {
        self.contacts()
            .into_iter()
            .find(|c| c["external_id"] == external_id)
            .unwrap_or_else(|| panic!("no contact with external_id {external_id}"))
    }

    /// Messages in the email outbox (a Maildir).
    pub fn mail_count(&self) -> usize {
        std::fs::read_dir(self.path("outbox/email/new")).map(|d| d.count()).unwrap_or(0)
    }

    /// `n` contacts `x1`.. tagged `all` who consented to email, in UTC; a
    /// policy without quiet hours and with one email a day.
    pub fn one_a_day_audience(&self, n: usize) {
        let mut csv = String::from("external_id,email,consent_email,timezone,tags\n");
        for i in 1..=n {
            csv.push_str(&format!("x{i},p{i}@example.com,true,UTC,all\n"));
        }
        self.import("contacts", "c.csv", &csv, &[]).ok();
        self.write("p.toml", "timezone = \"UTC\"\n[[caps]]\nchannel = \"email\"\nmax = 1\nper = \"1d\"\n");
        self.run(&["policy", "set", "p.toml"]).ok();
    }

    /// Writes `NAME.toml`: an email campaign to `tag:all` at `at`.
    pub fn campaign_file(&self, name: &str, at: &str) -> String {
        let file = format!("{name}.toml");
        self.write(
            &file,
            format!(
                "name = \"{name}\"\nchannel = \"email\"\nsubject = \"s\"\nbody = \"b\"\n\
                 [audience]\ninclude = [\"tag:all\"]\n[schedule]\nat = \"{at}\"\n"
            ),
        );
        file
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--format", "json"]);
        let out = self.run(&a).ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

/// Parses CSV text into records keyed by header name.
pub fn csv_records(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = rdr.headers().expect("header").iter().map(str::to_string).collect();
    rdr.records()
        .map(|r| {
            let r = r.expect("record");
            head.iter().cloned().zip(r.iter().map(str::to_string)).collect()
        })
        .collect()
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Panics with one line, `NAME is missing: run scripts/test.sh, or install
/// it with: INSTALL`, when the `probe` command (program and arguments)
/// cannot run or exits non-zero. For tests that need an outside program.
#[allow(dead_code)]
#[track_caller]
pub fn require_program(name: &str, probe: &[&str], install: &str) {
    let (program, args) = probe.split_first().expect("a probe command");
    let ok = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        panic!("{name} is missing: run scripts/test.sh, or install it with: {install}");
    }
}
