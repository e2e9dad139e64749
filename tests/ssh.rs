//! `reach serve --ssh` with the real OpenSSH client: keys made by
//! `ssh-keygen` in the test's directory, `ssh` in batch mode. Commands run
//! as the operator with their output and exit status; roles refuse what
//! they do not allow, naming the role needed; unknown keys and passwords
//! are refused; two consoles at once in tmux (a private socket) with their
//! own sizes, one resizing; SIGTERM mid-session ends everything cleanly.
//! Nothing sleeps for a fixed time: every wait polls with a deadline.

mod common;

use common::{Env, NOW, Run, require_program, wait_until};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one step may take (a loaded 2-core machine, a debug build).
const DEADLINE: Duration = Duration::from_secs(30);
/// The console's tab bar: on screen exactly while the console is.
const TAB_BAR: &str = "1 Contacts  2 Tags";
/// A campaign's send time, after NOW.
const AT: &str = "2026-11-24T13:00:00Z";

fn need_tools() {
    require_program("ssh", &["ssh", "-V"], "sudo apt-get install openssh-client");
    require_program("ssh-keygen", &["sh", "-c", "command -v ssh-keygen"], "sudo apt-get install openssh-client");
}

/// A demo database with a draft campaign, and keys for anna (admin), eve
/// (editor), vic (viewer) and mallory (not an operator).
struct World {
    env: Env,
    ops: PathBuf,
}

impl World {
    fn new() -> World {
        need_tools();
        let env = Env::new();
        env.run(&["--now", NOW, "demo", "--contacts", "400", "--seed", "7"]).ok();
        let campaign = format!(
            "name = \"spring\"\nchannel = \"email\"\npriority = \"normal\"\n\
             subject = \"Hello\"\nbody = \"Hi\"\n\
             [audience]\ninclude = [\"tag:vip\"]\nexclude = []\n[schedule]\nat = \"{AT}\"\n"
        );
        env.write("spring.toml", campaign);
        env.run(&["campaign", "create", "spring.toml"]).ok();
        let mut ops = String::new();
        for (name, role) in [("anna", "admin"), ("eve", "editor"), ("vic", "viewer")] {
            let key = keygen(&env, name);
            ops.push_str(&format!("[[operator]]\nname = \"{name}\"\nrole = \"{role}\"\nkey = \"{key}\"\n\n"));
        }
        keygen(&env, "mallory");
        let ops = env.write("operators.toml", ops);
        World { env, ops }
    }

    fn key(&self, name: &str) -> PathBuf {
        self.env.path(&format!("{name}_key"))
    }
}

/// Makes an ed25519 key pair NAME_key / NAME_key.pub; returns the public key line.
fn keygen(env: &Env, name: &str) -> String {
    let path = env.path(&format!("{name}_key"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", &format!("{name}@test"), "-f"])
        .arg(&path)
        .output()
        .expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(format!("{}.pub", path.display())).expect("public key").trim().to_string()
}

/// A running `reach serve --ssh 127.0.0.1:0`, its log read as it comes.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(w: &World, extra: &[&str]) -> Server {
        let ops = w.ops.display().to_string();
        let mut args = vec!["serve", "--ssh", "127.0.0.1:0", "--operators", &ops];
        args.extend_from_slice(extra);
        let mut child = w.env.cmd(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn serve");
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
        let port = std::cell::Cell::new(0u16);
        let listening = wait_until(DEADLINE, || {
            let l = log.lock().unwrap();
            if let Some(rest) = l.split("SSH on 127.0.0.1:").nth(1) {
                port.set(rest.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("0").parse().unwrap_or(0));
            }
            port.get() != 0
        });
        assert!(listening, "the SSH server never listened; log:\n{}", log.lock().unwrap());
        Server { child, port: port.get(), log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status and the whole log.
    fn stop(mut self) -> (i32, String) {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait");
        let log = self.log.clone();
        let done = wait_until(DEADLINE, || log.lock().unwrap().contains("stopped ("));
        assert!(done || status.code() != Some(0), "no end of log");
        (status.code().unwrap_or(-1), self.log())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The OpenSSH client's options: this test's key and known_hosts only.
fn ssh_opts(w: &World, key: &Path, port: u16) -> Vec<String> {
    let known = w.env.path("known_hosts").display().to_string();
    [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        &format!("UserKnownHostsFile={known}"),
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=20",
        "-i",
        &key.display().to_string(),
        "-p",
        &port.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `ssh -i KEY user@127.0.0.1 COMMAND` (no pty), with `extra` options.
fn ssh(w: &World, who: &str, port: u16, extra: &[&str], command: &str) -> Run {
    let out: Output = Command::new("ssh")
        .args(ssh_opts(w, &w.key(who), port))
        .args(extra)
        .arg(format!("{who}@127.0.0.1"))
        .arg(command)
        .env("HOME", w.env.dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run ssh");
    Run::from_output(out)
}

#[test]
fn commands_over_ssh_run_as_the_operator_with_output_exit_status_and_roles() {
    let w = World::new();
    // timings taken out
    let strip = |s: &str| s.lines().filter(|l| !l.contains("elapsed_ms")).collect::<Vec<_>>().join("\n");
    let count = strip(&w.env.run(&["segment", "count", "tag:vip and not tag:churned"]).ok());
    let server = Server::start(&w, &[]);
    let p = server.port;

    // the same output as a local run, exit 0
    let r = ssh(&w, "vic", p, &[], "reach segment count 'tag:vip and not tag:churned'");
    assert_eq!((r.code, strip(&r.stdout)), (0, count), "{}", r.stderr);
    // a bad expression: exit 2 and the message on stderr
    let r = ssh(&w, "vic", p, &[], "segment count 'tag:'");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.starts_with("error: "), "{r:?}");

    // a viewer may not schedule: exit 4, the role needed named
    let r = ssh(&w, "vic", p, &[], "reach campaign schedule spring");
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("campaign.schedule needs the admin role; vic is a viewer"), "{r:?}");
    // nor tag; an editor may tag but not schedule
    let r = ssh(&w, "vic", p, &[], "reach tags add ssh_tagged --where 'tag:vip'");
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("needs the editor role"), "{r:?}");
    let r = ssh(&w, "eve", p, &[], "reach tags add ssh_tagged --where 'tag:vip'");
    assert_eq!(r.code, 0, "{r:?}");
    let r = ssh(&w, "eve", p, &[], "reach campaign schedule spring");
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stderr.contains("needs the admin role; eve is an editor"), "{r:?}");
    // an admin may; a file on the server is nobody's over SSH
    let r = ssh(&w, "anna", p, &[], "reach campaign schedule spring");
    assert_eq!(r.code, 0, "{r:?}");
    let r = ssh(&w, "anna", p, &[], "reach policy set /etc/passwd");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no file on the server"), "{r:?}");

    // an unknown key and a password are refused before any command runs
    let r = ssh(&w, "mallory", p, &[], "reach stats");
    assert_eq!(r.code, 255, "{r:?}");
    assert!(r.stderr.contains("Permission denied (publickey)"), "{r:?}");
    let r = ssh(&w, "anna", p, &["-o", "PreferredAuthentications=password,keyboard-interactive"], "reach stats");
    assert_eq!(r.code, 255, "{r:?}");
    assert!(r.stderr.contains("Permission denied"), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");

    // the changes are the operators', through ssh, in the audit log
    let audit = ssh(&w, "vic", p, &[], "reach audit --format csv").ok();
    assert!(audit.lines().any(|l| l.contains(",eve,ssh,") && l.contains("ssh_tagged")), "{audit}");
    assert!(audit.lines().any(|l| l.contains(",anna,ssh,") && l.contains("spring")), "{audit}");
    assert!(!audit.contains(",vic,"), "{audit}");

    let log = server.log();
    assert!(log.contains("refused an unknown key"), "{log}");
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");

    // the host key was made once, private, and is the one served next time
    use std::os::unix::fs::MetadataExt;
    let key = w.env.path("reach.redb.ssh_host_ed25519_key");
    assert_eq!(std::fs::metadata(&key).expect("host key").mode() & 0o777, 0o600);
    let server = Server::start(&w, &[]);
    let r = ssh(&w, "vic", server.port, &["-o", "StrictHostKeyChecking=yes"], "reach stats");
    assert_eq!(r.code, 0, "the host key changed: {r:?}");
}

#[test]
fn a_bad_operators_file_is_refused_at_start_with_its_line() {
    need_tools();
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "50", "--seed", "7"]).ok();
    let key = keygen(&env, "anna");
    env.write("ops.toml", format!("[[operator]]\nname = \"anna\"\nrole = \"root\"\nkey = \"{key}\"\n"));
    let err = env.run(&["serve", "--ssh", "127.0.0.1:0", "--operators", "ops.toml"]).fails(2);
    assert_eq!(err.trim(), "error: ops.toml:3: unknown role `root`: viewer, editor or admin");
    let err = env.run(&["serve", "--ssh", "127.0.0.1:0"]).fails(2);
    assert!(err.contains("--ssh needs --operators FILE"), "{err}");
}

/// A tmux server on a private socket, one session per pane.
struct Tmux {
    name: String,
    sockets: PathBuf,
}

impl Tmux {
    fn new(env: &Env) -> Tmux {
        require_program("tmux", &["tmux", "-V"], "sudo apt-get install tmux");
        Tmux { name: format!("reach-ssh-{}", std::process::id()), sockets: env.dir.path().to_path_buf() }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-u", "-f", "/dev/null", "-L", &self.name])
            .args(args)
            .env_remove("TMUX")
            .env("TMUX_TMPDIR", &self.sockets)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    /// A session `s` of `w`x`h` running `ssh -tt` as `who`.
    fn login(&self, world: &World, s: &str, (w, h): (u16, u16), who: &str, port: u16) {
        let mut cmd = String::from("env -i PATH=\"$PATH\" LANG=C.UTF-8 TERM=xterm-256color ssh -tt -o SendEnv=LANG");
        for o in ssh_opts(world, &world.key(who), port) {
            cmd.push_str(&format!(" '{o}'"));
        }
        cmd.push_str(&format!(" {who}@127.0.0.1; echo SSH_EXITED=$?; exec sleep 600"));
        let out =
            self.tmux(&["new-session", "-d", "-s", s, "-x", &w.to_string(), "-y", &h.to_string(), "sh", "-c", &cmd]);
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn screen(&self, s: &str) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", s]).stdout).into_owned()
    }

    fn keys(&self, s: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", s];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success(), "send-keys {keys:?}");
    }

    #[track_caller]
    fn wait(&self, s: &str, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(s);
            if cond(&screen) {
                return screen;
            }
            if start.elapsed() > DEADLINE {
                panic!("session {s}: waited {DEADLINE:?} for {what}; last screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The widest line on a screen, in characters.
fn widest(screen: &str) -> usize {
    screen.lines().map(|l| l.trim_end().chars().count()).max().unwrap_or(0)
}

/// The rows down to the last one written (the console's key hints are on
/// its last row).
fn rows(screen: &str) -> usize {
    screen.lines().collect::<Vec<_>>().iter().rposition(|l| !l.trim().is_empty()).map_or(0, |i| i + 1)
}

#[test]
fn two_consoles_over_ssh_with_their_own_sizes_and_roles_until_sigterm() {
    let w = World::new();
    let server = Server::start(&w, &[]);
    let t = Tmux::new(&w.env);
    t.login(&w, "a", (100, 30), "anna", server.port);
    t.login(&w, "v", (80, 24), "vic", server.port);
    let a = t.wait("a", "anna's console", |s| s.contains(TAB_BAR) && s.contains("Contacts"));
    let v = t.wait("v", "vic's console", |s| s.contains(TAB_BAR));
    assert_eq!((rows(&a), rows(&v)), (30, 24), "{a}\n{v}");
    assert!(widest(&a) > 80 && widest(&v) <= 80, "{a}\n{v}");
    // both are on the one server: its log names both logins and their sizes
    let log = server.log();
    assert!(log.contains("anna opened a console (100x30, TERM=xterm-256color)"), "{log}");
    assert!(log.contains("vic opened a console (80x24"), "{log}");

    // anna's terminal grows; the console redraws at the new size, vic's stays
    assert!(t.tmux(&["resize-window", "-t", "a", "-x", "120", "-y", "40"]).status.success());
    t.wait("a", "a 120x40 redraw", |s| rows(s) == 40 && widest(s) > 100 && s.contains(TAB_BAR));
    assert_eq!(rows(&t.screen("v")), 24);

    // the viewer is not offered scheduling, and is refused it by its key
    t.keys("v", &["5"]);
    t.wait("v", "the campaigns screen", |s| s.contains("spring"));
    t.keys("v", &["?"]);
    t.wait("v", "help with scheduling greyed", |s| s.contains("[admin] schedule the selected campaign"));
    t.keys("v", &["Escape"]);
    t.wait("v", "help closed", |s| !s.contains("[admin] schedule"));
    t.keys("v", &["t"]);
    t.wait("v", "the refusal", |s| s.contains("campaign.schedule needs the admin role; you are viewer"));

    // SIGTERM mid-session: the consoles close, the clients end, exit 0
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    for s in ["a", "v"] {
        let screen = t.wait(s, "the client to end", |x| x.contains("SSH_EXITED="));
        assert!(!screen.contains(TAB_BAR), "session {s}: the console's screen is left behind:\n{screen}");
    }
}

#[test]
fn an_idle_console_is_closed_and_its_terminal_given_back() {
    let w = World::new();
    let server = Server::start(&w, &["--idle-timeout", "2s"]);
    let t = Tmux::new(&w.env);
    t.login(&w, "i", (80, 24), "vic", server.port);
    t.wait("i", "the console", |s| s.contains(TAB_BAR));
    let screen = t.wait("i", "the idle login to close", |s| s.contains("SSH_EXITED="));
    assert!(!screen.contains(TAB_BAR), "the console's screen is left behind:\n{screen}");
    let log = server.log();
    assert!(log.contains("closed vic's idle login"), "{log}");
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
}

/// The demo's count of a segment, without an owner or through one.
fn count(w: &World, q: &str) -> u64 {
    w.env.json(&["segment", "count", q])["count"].as_u64().unwrap()
}

/// Two operators connected (anna on Contacts, vic on the Audit screen)
/// while a cron-style script imports contacts and their orders through the
/// owner's socket and counts: both screens follow without a key pressed,
/// and the script's counts are what the screens show.
#[test]
fn a_script_imports_and_counts_while_two_consoles_follow() {
    let w = World::new();
    let server = Server::start(&w, &[]);
    let t = Tmux::new(&w.env);
    t.login(&w, "a", (100, 30), "anna", server.port);
    t.login(&w, "v", (80, 24), "vic", server.port);
    t.wait("a", "anna's contacts", |s| s.contains("400 of 400 contacts"));
    t.wait("v", "vic's console", |s| s.contains(TAB_BAR));
    t.keys("v", &["9"]);
    // the draft campaign made before the server started is the last entry
    t.wait("v", "the audit screen", |s| s.contains("Audit 1 change") && s.contains("campaign spring created"));

    // the script: 25 new contacts tagged `batch`, then an order from each
    let mut contacts = String::from("external_id,email,first_name,tags\n");
    let mut orders = String::from("contact,ts,kind,amount\n");
    for i in 1..=25 {
        contacts.push_str(&format!("b{i},b{i}@example.com,B{i},batch\n"));
        orders.push_str(&format!("b{i},2026-11-24T08:{i:02}:00Z,purchase,{i}.50\n"));
    }
    w.env.write("batch.csv", contacts);
    w.env.write("orders.csv", orders);
    w.env.run(&["import", "contacts", "batch.csv"]).ok();
    let r = w.env.json(&["segment", "count", "tag:batch"]);
    assert_eq!((r["count"].as_u64(), r["total"].as_u64()), (Some(25), Some(425)), "{r}");
    // anna's screen follows the import
    t.wait("a", "anna's count after the import", |s| s.contains("425 of 425 contacts"));
    // vic's follows the audit log: the import, by this process's user, through the owner
    let v = t.wait("v", "the import on vic's audit screen", |s| {
        s.contains("Audit 2 changes") && s.contains("imported contacts from batch.csv: 25 new, 0 updated")
    });
    assert!(v.contains("cli via owner (pid"), "{v}");

    let bought = "tag:batch and count(purchase, last 1d) >= 1";
    assert_eq!(count(&w, bought), 0);
    w.env.run(&["import", "events", "orders.csv"]).ok();
    assert_eq!(count(&w, bought), 25);
    t.wait("v", "the events import on vic's audit screen", |s| {
        s.contains("Audit 3 changes") && s.contains("imported events from orders.csv: 25 events, 0 new contacts")
    });
    // anna filters by the script's segment: her count is the script's
    t.keys("a", &["/"]);
    t.keys("a", &["-l", bought]);
    t.keys("a", &["Enter"]);
    t.wait("a", "anna's filtered count", |s| s.contains("25 of 425 contacts"));
    // both still there, each at its own size
    assert_eq!((rows(&t.screen("a")), rows(&t.screen("v"))), (30, 24));
    // the server's scheduler is the one vic's Activity screen shows
    t.keys("v", &["7"]);
    let v = t.wait("v", "the server's scheduler", |s| {
        s.contains("Activity the campaign scheduler") && s.contains("next due")
    });
    assert!(!v.contains("does not run in this console"), "{v}");
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
}

/// SIGTERM while an operator has a console open: what was changed before it
/// (a tag added by a command over SSH, a segment saved from the console's
/// command line) is all there once the server has stopped, exit 0, and in
/// the audit log with who made it and how.
#[test]
fn sigterm_mid_session_loses_nothing() {
    let w = World::new();
    let vips = count(&w, "tag:vip");
    let server = Server::start(&w, &[]);
    let t = Tmux::new(&w.env);
    t.login(&w, "a", (100, 30), "anna", server.port);
    t.wait("a", "anna's console", |s| s.contains("400 of 400 contacts"));
    let r = ssh(&w, "eve", server.port, &[], "reach tags add kept --where tag:vip");
    assert_eq!(r.code, 0, "{r:?}");
    // anna saves a segment over it from her console's command line
    t.keys("a", &[":"]);
    t.keys("a", &["-l", "segment save kept_vips tag:kept"]);
    t.keys("a", &["Enter"]);
    t.wait("a", "the save's output", |s| s.contains("kept_vips") && s.contains(&vips.to_string()));
    // the console is still open when the server is told to stop
    assert!(t.screen("a").contains("1 Contacts"));
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    t.wait("a", "the client to end", |s| s.contains("SSH_EXITED="));

    // on its own again: both changes are in the file
    assert!(!w.env.path("reach.redb.run").exists(), "the socket is removed");
    assert_eq!(count(&w, "tag:kept"), vips);
    assert_eq!(count(&w, "segment:kept_vips"), vips);
    let audit = w.env.run(&["audit", "--format", "csv"]).ok();
    assert!(audit.lines().any(|l| l.contains(",eve,ssh,") && l.contains("tag kept added to")), "{audit}");
    assert!(audit.lines().any(|l| l.contains(",anna,ssh,") && l.contains("segment kept_vips saved")), "{audit}");
    // and a new server serves them
    let server = Server::start(&w, &[]);
    let r = ssh(&w, "vic", server.port, &[], "reach segment count segment:kept_vips");
    assert_eq!(r.code, 0, "{r:?}");
    let n: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(n["count"].as_u64(), Some(vips));
}
