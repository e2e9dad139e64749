//! End to end: the real `reach` console driven in tmux (spec/tui.md
//! "Tests"). Each test runs its own tmux server on a private socket with a
//! pane of a fixed size and a known environment, types with `send-keys`
//! and reads the screen with `capture-pane`. Nothing sleeps for a fixed
//! time: every step waits until the screen shows what it must (polled every
//! 50 ms, up to 20 s, the last screen in the failure). The console is
//! started by a script that prints `REACH_EXITED=<code>` when it ends and
//! keeps the pane open, so a test also sees the exit code and that the
//! terminal was restored (the tab bar gone with the alternate screen).
//! The database is checked through the CLI before the console opens or
//! after it quits (the console holds the database while it runs).

mod common;

use common::{Env, NOW, bin};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one step may take (a loaded 2-core machine, a debug build).
const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);
/// The console's tab bar: on screen exactly while the console is.
const TAB_BAR: &str = "1 Contacts  2 Tags";
/// The campaign's send time: an hour after NOW (the console's clock is
/// fixed at NOW, and a time in the past is refused).
const AT: &str = "2026-11-24T13:00:00Z";
/// The prompt of the shell in `Tmux::start_shell`.
const SHELL_PROMPT: &str = "e2e-shell$ ";

static SESSIONS: AtomicUsize = AtomicUsize::new(0);

fn require_tmux() {
    common::require_program("tmux", &["tmux", "-V"], "apt-get install tmux");
}

/// A demo database of 2,000 contacts for seed 7 at NOW.
fn demo() -> Env {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "2000", "--seed", "7"]).ok();
    env
}

/// Quotes a word for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// How the console's pane is set up.
struct Pane {
    size: (u16, u16),
    utf8: bool,
    /// extra environment of the console (EDITOR, …)
    env: Vec<(String, String)>,
}

impl Default for Pane {
    fn default() -> Pane {
        Pane { size: (100, 30), utf8: true, env: Vec::new() }
    }
}

/// One tmux server on a private socket with one session running the
/// console; the server is killed when this is dropped, failed test or not.
struct Tmux {
    name: String,
    /// TMUX_TMPDIR: the socket lives in the test's directory and goes with it
    sockets: PathBuf,
    pidfile: PathBuf,
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

impl Tmux {
    /// Opens `reach --db DB console` in a new tmux server. The pane's
    /// environment is only what is set here: TERM, the locale, HOME and
    /// XDG directories in the test's directory, REACH_NOW, PATH.
    fn start(env: &Env, pane: Pane) -> Tmux {
        let n = SESSIONS.fetch_add(1, Ordering::SeqCst);
        let pidfile = env.path(&format!("console-{n}.pid"));
        // the console's pid goes to a file (for signals), its exit code to
        // the screen; then the pane stays open
        let script = env.write(
            &format!("console-{n}.sh"),
            format!(
                "#!/bin/sh\n\
                 sh -c 'echo $$ > \"$1\"; shift; exec \"$@\"' sh {} {} --db {} console\n\
                 echo \"REACH_EXITED=$?\"\n\
                 exec sleep 600\n",
                sh_quote(&pidfile.display().to_string()),
                sh_quote(bin()),
                sh_quote(&env.db.display().to_string()),
            ),
        );
        Tmux::launch(env, pane, n, pidfile, &format!("sh {}", sh_quote(&script.display().to_string())))
    }

    /// Opens an interactive shell with job control (bash without start-up
    /// files, prompt SHELL_PROMPT) in a new tmux server, in the same
    /// environment as `start`; `$REACH_CONSOLE` is a script that runs the
    /// console as its child (not `exec`: a job of two processes, as
    /// `cargo run` makes) and prints `REACH_EXITED=<code>`.
    fn start_shell(env: &Env, mut pane: Pane) -> Tmux {
        let n = SESSIONS.fetch_add(1, Ordering::SeqCst);
        let pidfile = env.path(&format!("console-{n}.pid"));
        let script = env.write(
            &format!("console-{n}.sh"),
            format!(
                "#!/bin/sh\n\
                 sh -c 'echo $$ > \"$1\"; shift; exec \"$@\"' sh {} {} --db {} console\n\
                 echo \"REACH_EXITED=$?\"\n",
                sh_quote(&pidfile.display().to_string()),
                sh_quote(bin()),
                sh_quote(&env.db.display().to_string()),
            ),
        );
        pane.env.push(("PS1".into(), SHELL_PROMPT.into()));
        pane.env.push(("HISTFILE".into(), String::new()));
        pane.env.push(("REACH_CONSOLE".into(), script.display().to_string()));
        Tmux::launch(env, pane, n, pidfile, "bash --norc --noprofile -i")
    }

    /// A tmux server on a private socket whose one pane runs `program`
    /// (a shell command line) under `env -i` with the pane's environment.
    fn launch(env: &Env, pane: Pane, n: usize, pidfile: PathBuf, program: &str) -> Tmux {
        let name = format!("reach-e2e-{}-{n}", std::process::id());
        let dir = env.dir.path().display().to_string();
        let mut vars = vec![
            ("PATH".to_string(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
            ("TERM".into(), "xterm-256color".into()),
            ("LANG".into(), if pane.utf8 { "C.UTF-8" } else { "C" }.into()),
            ("HOME".into(), dir.clone()),
            ("XDG_CONFIG_HOME".into(), dir.clone()),
            ("XDG_DATA_HOME".into(), dir.clone()),
            ("XDG_STATE_HOME".into(), dir.clone()),
            ("XDG_CACHE_HOME".into(), dir.clone()),
            ("TMPDIR".into(), dir.clone()),
            ("REACH_NOW".into(), NOW.into()),
        ];
        if !pane.utf8 {
            vars.push(("NO_COLOR".into(), "1".into()));
        }
        vars.extend(pane.env);
        let mut command = String::from("env -i");
        for (k, v) in &vars {
            command.push_str(&format!(" {k}={}", sh_quote(v)));
        }
        command.push(' ');
        command.push_str(program);
        let t = Tmux { name, sockets: env.dir.path().to_path_buf(), pidfile };
        let (w, h) = (pane.size.0.to_string(), pane.size.1.to_string());
        let out = t.tmux(&["new-session", "-d", "-s", &t.name, "-x", &w, "-y", &h, &command]);
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        t
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

    /// The visible screen as text.
    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", &self.name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen with its colours and attributes as escapes.
    fn screen_ansi(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-e", "-t", &self.name]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends keys by tmux name (`Down`, `Enter`, `Escape`, `C-s`, `q` …).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend_from_slice(keys);
        let out = self.tmux(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Types `text` literally.
    fn text(&self, text: &str) {
        let out = self.tmux(&["send-keys", "-t", &self.name, "-l", text]);
        assert!(out.status.success(), "send-keys -l {text:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Waits until the screen contains `text`; returns the screen.
    #[track_caller]
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("`{text}`"), |s| s.contains(text))
    }

    /// Waits until `text` is no longer on the screen.
    #[track_caller]
    fn wait_gone(&self, text: &str) -> String {
        self.wait_until(&format!("`{text}` to go"), |s| !s.contains(text))
    }

    /// Waits until the screen satisfies `cond`, polling every 50 ms for up
    /// to DEADLINE; fails with the last screen, at once if the console
    /// exited meanwhile.
    #[track_caller]
    fn wait_until(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        self.poll(what, DEADLINE, false, cond)
    }

    #[track_caller]
    fn poll(&self, what: &str, deadline: Duration, exit_expected: bool, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return screen;
            }
            if !exit_expected && screen.contains("REACH_EXITED=") {
                panic!("the console exited while waiting for {what}; screen:\n{screen}");
            }
            if start.elapsed() > deadline {
                panic!("waited {deadline:?} for {what}; last screen:\n{screen}");
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for the console to end with exit code 0 and checks the
    /// terminal was given back (the alternate screen left).
    #[track_caller]
    fn wait_exit_ok(&self) {
        let screen = self.poll("REACH_EXITED=0", DEADLINE, true, |s| s.contains("REACH_EXITED="));
        assert!(screen.contains("REACH_EXITED=0"), "the console failed; screen:\n{screen}");
        assert!(!screen.contains(TAB_BAR), "the console's screen is still shown after it ended:\n{screen}");
    }

    fn resize(&self, w: u16, h: u16) {
        let out = self.tmux(&["resize-window", "-t", &self.name, "-x", &w.to_string(), "-y", &h.to_string()]);
        assert!(out.status.success(), "resize-window: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The console's process id (written by the start script).
    fn pid(&self) -> String {
        let mut pid = String::new();
        let found = common::wait_until(DEADLINE, || {
            pid = std::fs::read_to_string(&self.pidfile).unwrap_or_default().trim().to_string();
            !pid.is_empty()
        });
        assert!(found, "no pid in {}", self.pidfile.display());
        pid
    }
}

/// `(shown, total)` from the contacts header `Contacts N of T contacts`,
/// once it is not loading.
fn contacts_count(screen: &str) -> Option<(u64, u64)> {
    let line = screen.lines().find(|l| l.starts_with("Contacts ") && l.contains(" contacts ("))?;
    if line.contains("loading") {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    Some((words.get(1)?.parse().ok()?, words.get(3)?.parse().ok()?))
}

/// The builder's count, once it is settled: counted for the text on
/// screen (not stale, nothing counting).
fn builder_count(screen: &str) -> Option<u64> {
    let line = screen.lines().find(|l| l.starts_with("Builder:"))?;
    if line.contains("stale") || line.contains("counting") {
        return None;
    }
    let (head, _) = line.split_once(" of ")?;
    head.split_whitespace().last()?.parse().ok()
}

/// The builder's expression text (the line inside the `expression` box).
fn builder_text(screen: &str) -> Option<String> {
    let mut lines = screen.lines();
    lines.find(|l| l.contains(" expression "))?;
    Some(lines.next()?.trim_matches(|c: char| c == '│' || c == '|' || c.is_whitespace()).to_string())
}

/// Waits until the builder shows `text` with its settled count; returns it.
#[track_caller]
fn builder_settled(t: &Tmux, text: &str) -> (u64, String) {
    let screen = t.wait_until(&format!("the builder's count of `{text}`"), |s| {
        builder_text(s).as_deref() == Some(text) && builder_count(s).is_some()
    });
    (builder_count(&screen).unwrap(), screen)
}

/// Whether SGR escapes set a foreground or background colour.
fn has_colour(ansi: &str) -> bool {
    ansi.split('\x1b')
        .filter_map(|s| s.strip_prefix('['))
        .filter_map(|s| s.split_once('m').map(|x| x.0))
        .any(|p| p.split(';').any(|n| matches!(n.parse::<u32>(), Ok(30..=38 | 40..=48 | 90..=97 | 100..=107))))
}

/// No symbol of the UTF-8 theme on screen (arrows, ellipsis, bars,
/// sparklines, tree branches).
#[track_caller]
fn assert_ascii_symbols(screen: &str) {
    for sym in ["▲", "▼", "…", "█", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "├─", "└─"] {
        let hit = screen.lines().find(|l| l.contains(sym) && !is_box_edge(l, sym));
        assert!(hit.is_none(), "`{sym}` outside a UTF-8 locale:\n{screen}");
    }
}

/// Whether `sym` on this line is only the corner of a box (borders are
/// drawn by the widgets, not the theme).
fn is_box_edge(line: &str, sym: &str) -> bool {
    sym == "└─" && line.trim_start().starts_with("└─") && line.trim_end().ends_with('┘')
}

fn count_of(env: &Env, expr: &str) -> u64 {
    env.json(&["segment", "count", expr])["count"].as_u64().expect("count")
}

/// Demo data → filter contacts → a profile and its timeline by kind → a
/// segment typed and built from the tree, its live count changing → saved
/// → listed → help and the command line → quit; then the CLI agrees with
/// every count the screen showed.
#[test]
fn console_filters_opens_a_profile_builds_and_saves_a_segment() {
    require_tmux();
    let env = demo();
    // what the screen must show, from the CLI before the console holds
    // the database (a count on screen is waited for exactly: a transient
    // one while typing cannot pass for it)
    let full = "tag:vip and score > 10 and tag:beta";
    let vip = count_of(&env, "tag:vip");
    let vip_scored = count_of(&env, "tag:vip and score > 10");
    let vip_scored_beta = count_of(&env, full);
    assert!(vip > 1 && vip < 2000, "the demo has {vip} vip contacts");
    assert!(vip != vip_scored && vip_scored != vip_scored_beta, "each step must change the count");
    let t = Tmux::start(&env, Pane::default());

    // 1. the contacts list, in colour (no NO_COLOR here)
    t.wait_for("Contacts 2000 of 2000 contacts");
    assert!(t.screen().contains(TAB_BAR));
    assert!(has_colour(&t.screen_ansi()), "no colours without NO_COLOR:\n{}", t.screen_ansi());

    // 2. filter by a segment expression
    t.keys(&["/"]);
    t.text("tag:vip");
    t.keys(&["Enter"]);
    t.wait_until(&format!("`Contacts {vip} of 2000 contacts` filtered by tag:vip"), |s| {
        s.contains("/ segment tag:vip") && contacts_count(s) == Some((vip, 2000))
    });

    // 3. the second contact's profile; its timeline filtered by kind
    t.keys(&["Down", "Enter"]);
    let screen = t.wait_for("timeline:");
    assert!(
        screen.lines().any(|l| l.starts_with("tags") && l.contains("vip")),
        "the profile of a vip contact shows no vip tag:\n{screen}"
    );
    t.keys(&["f"]);
    t.wait_for("events (newest first)");

    // 4. back to the list, then the builder: typed text, live counts
    t.keys(&["q"]);
    t.wait_until("the contacts list again", |s| !s.contains("timeline:") && contacts_count(s) == Some((vip, 2000)));
    t.keys(&["4"]);
    t.wait_for("expression (editing)");
    t.text("tag:vip");
    let (n1, _) = builder_settled(&t, "tag:vip");
    assert_eq!(n1, vip, "the builder's count of tag:vip");
    t.text(" and score > 10");
    let (n2, _) = builder_settled(&t, "tag:vip and score > 10");
    assert_eq!(n2, vip_scored, "the builder's count of tag:vip and score > 10");
    // leave the text (Esc alone: Esc and a key in one read are Alt-key)
    t.keys(&["Escape"]);
    t.wait_until("the tree to have the keys", |s| !s.contains("expression (editing)") && s.contains("i edit text"));
    // add a condition from the tree
    t.keys(&["a"]);
    t.wait_for("condition (e.g.");
    t.text("tag:beta");
    t.keys(&["Enter"]);
    let (n3, screen) = builder_settled(&t, full);
    assert!(screen.contains("└─ tag:beta"), "the tree does not show the new condition:\n{screen}");
    assert_eq!(n3, vip_scored_beta, "the builder's count of {full}");

    // 5. save under a name
    t.keys(&["C-s"]);
    t.wait_for("save segment as");
    t.text("e2e_seg");
    t.keys(&["Enter"]);
    t.wait_for("saved segment e2e_seg");

    // 6. listed on the Segments screen with the builder's count
    t.keys(&["3"]);
    let screen = t.wait_until("e2e_seg in the segments list", |s| s.lines().any(|l| l.starts_with("e2e_seg ")));
    let line = screen.lines().find(|l| l.starts_with("e2e_seg ")).unwrap();
    assert_eq!(line.split_whitespace().nth(1), Some(n3.to_string().as_str()), "{screen}");
    assert!(line.contains(full), "{screen}");

    // 7. help, then the command line runs a CLI command
    t.keys(&["?"]);
    t.wait_for("help:");
    t.keys(&["Escape"]);
    t.wait_gone("help:");
    t.keys(&[":"]);
    t.wait_for(": command (");
    t.text("tags list");
    t.keys(&["Enter"]);
    let vip_row = vec!["vip".to_string(), vip.to_string()];
    t.wait_until("`vip` in the output of tags list", |s| {
        s.lines().any(|l| {
            let words: Vec<String> =
                l.trim_matches(|c: char| c == '│' || c.is_whitespace()).split_whitespace().map(String::from).collect();
            words == vip_row
        })
    });
    t.keys(&["Escape"]);
    t.wait_gone(": command (");

    // 8. q on a top-level screen quits; the terminal is restored
    t.keys(&["q"]);
    t.wait_exit_ok();
    drop(t);

    // after the console: the same counts, and the segment saved as shown
    assert_eq!(count_of(&env, "tag:vip"), vip);
    assert_eq!(count_of(&env, "tag:vip and score > 10"), n2);
    assert_eq!(count_of(&env, full), n3);
    let list = env.json(&["segment", "list"]);
    let saved = list.as_array().unwrap().iter().find(|s| s["name"] == "e2e_seg").expect("e2e_seg saved");
    assert_eq!(saved["expr"], full, "{saved}");
    assert_eq!(saved["count"].as_u64(), Some(n3), "{saved}");
}

/// The fake $EDITOR: the first call writes a campaign with an unknown
/// channel; the console refuses it and reopens the file with its error as
/// `# reach:` comments on top, and on that call the editor writes a valid
/// campaign. Every file the editor is given is kept as editor-in-N.toml.
fn fake_editor(env: &Env) -> PathBuf {
    let dir = env.dir.path().display().to_string();
    let campaign = |channel: &str| {
        format!(
            "name = \"e2e_campaign\"\nchannel = \"{channel}\"\npriority = \"normal\"\n\
             subject = \"Hello {{{{ first_name }}}}\"\nbody = \"Hi {{{{ first_name }}}}\"\n\
             [audience]\ninclude = [\"tag:vip\"]\nexclude = []\n[schedule]\nat = \"{AT}\"\n"
        )
    };
    let script = format!(
        "#!/bin/sh\n\
         # fake $EDITOR for tests/console_tmux.rs\n\
         d={dir}\n\
         n=1\n\
         while [ -e \"$d/editor-in-$n.toml\" ]; do n=$((n + 1)); done\n\
         cp \"$1\" \"$d/editor-in-$n.toml\"\n\
         if grep -q '^# reach:' \"$1\"; then\n\
         cat > \"$1\" <<'EOF'\n{}EOF\n\
         else\n\
         cat > \"$1\" <<'EOF'\n{}EOF\n\
         fi\n",
        campaign("email"),
        campaign("fax"),
        dir = sh_quote(&dir),
    );
    let path = env.write("fake_editor.sh", script);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// A campaign created in $EDITOR (refused once, reopened with its error,
/// fixed), its forecast, scheduled with a confirmation, and the scheduler's
/// activity; the CLI then shows it scheduled.
#[test]
fn console_creates_a_campaign_in_the_editor_and_schedules_it() {
    require_tmux();
    assert!(AT > NOW, "the campaign must be due after NOW");
    let env = demo();
    let editor = fake_editor(&env);
    let pane = Pane { env: vec![("EDITOR".into(), editor.display().to_string())], ..Pane::default() };
    let t = Tmux::start(&env, pane);
    t.wait_for("Contacts 2000 of 2000 contacts");

    t.keys(&["5"]);
    t.wait_for("Campaigns 0 campaigns");
    t.keys(&["n"]);
    let screen = t.wait_until("e2e_campaign in the campaigns list", |s| {
        s.lines().any(|l| l.starts_with("e2e_campaign ") && l.contains("draft"))
    });
    assert!(screen.contains("Campaigns 1 campaigns"), "{screen}");
    // the editor ran twice: the template, then the refused file with its error
    let first = env.read("editor-in-1.toml");
    assert!(first.contains("name = \"new_campaign\""), "the first edit is not the template:\n{first}");
    let second = env.read("editor-in-2.toml");
    let mut lines = second.lines();
    assert!(lines.next().is_some_and(|l| l.starts_with("# reach: refused")), "{second}");
    assert!(lines.next().is_some_and(|l| l.starts_with("# reach: ") && l.contains("fax")), "{second}");
    assert!(second.contains("channel = \"fax\""), "the refused text is not reopened:\n{second}");
    assert!(!env.path("editor-in-3.toml").exists(), "the editor ran a third time");

    // the detail and its forecast
    t.keys(&["Enter"]);
    let screen = t.wait_until("the forecast", |s| s.contains("forecast of the next run") && s.contains("would send"));
    let would_send: u64 = screen
        .lines()
        .find_map(|l| l.strip_prefix("would send "))
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `would send N`:\n{screen}"));
    assert!(screen.contains("audience    (tag:vip)"), "{screen}");

    // schedule, confirmed
    t.keys(&["t"]);
    t.wait_for("Schedule campaign e2e_campaign?");
    t.keys(&["y"]);
    let screen = t.wait_for("is scheduled");
    assert!(screen.contains("campaign e2e_campaign is scheduled"), "{screen}");

    // the scheduler in the console knows it is due at AT
    t.keys(&["7"]);
    // (the scheduler's snapshot may lag the status change: wait for it)
    let screen = t.wait_until("the scheduler's activity, next due 2026-11-24 13:00", |s| {
        s.lines().any(|l| l.starts_with("state"))
            && s.lines().any(|l| l.starts_with("next due") && l.contains("2026-11-24 13:00"))
    });
    let state = screen.lines().find(|l| l.starts_with("state")).unwrap_or_default();
    assert!(!state.contains("failed"), "the scheduler failed:\n{screen}");
    t.keys(&["q"]);
    t.wait_exit_ok();
    drop(t);

    let show = env.json(&["campaign", "show", "e2e_campaign"]);
    assert_eq!(show["status"], "scheduled", "{show}");
    assert_eq!(show["channel"], "email", "{show}");
    let preview = env.json(&["campaign", "preview", "e2e_campaign"]);
    assert_eq!(preview["send"].as_u64(), Some(would_send), "the console's forecast differs: {preview}");
}

/// The Journeys screen: the demo's journeys listed as drafts with their
/// steps, one started from the list with a confirmation, its status
/// changing on screen and in the database.
#[test]
fn console_starts_a_journey_with_confirmation() {
    require_tmux();
    let env = demo();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo_data/journeys");
    for name in ["abandoned_cart", "reactivation"] {
        env.run(&["--now", NOW, "journey", "create", dir.join(format!("{name}.toml")).to_str().unwrap()]).ok();
    }
    let t = Tmux::start(&env, Pane::default());
    t.wait_for("Contacts 2000 of 2000 contacts");
    t.keys(&["8"]);
    let screen = t.wait_for("Journeys 2 journeys");
    let row = |s: &str| s.lines().find(|l| l.starts_with("abandoned_cart ")).unwrap_or_default().to_string();
    let screen =
        if row(&screen).contains("draft") { screen } else { t.wait_until("the list", |s| row(s).contains("draft")) };
    assert!(screen.contains("steps of abandoned_cart"), "{screen}");
    t.keys(&["t"]);
    t.wait_for("Start journey abandoned_cart?");
    t.keys(&["y"]);
    let screen = t.wait_until("abandoned_cart active", |s| {
        s.contains("journey abandoned_cart is active") && row(s).contains("active")
    });
    assert!(!screen.contains("Start journey"), "{screen}");
    t.keys(&["q"]);
    t.wait_exit_ok();
    drop(t);
    let show = env.json(&["journey", "show", "abandoned_cart"]);
    assert_eq!(show["status"], "active", "{show}");
}

/// Refusals that need no terminal: a bad keymap names its file and line
/// before anything else; `reach` alone off a terminal says what to do.
#[test]
fn console_refuses_a_bad_keymap_and_a_missing_terminal() {
    let env = demo();
    env.write("bad.toml", "[global]\n\"q\" = \"app.quit\"\n\"x\" = \"no.such_action\"\n");
    let err = env.run(&["console", "--keymap", "bad.toml"]).fails(2);
    assert!(err.contains("bad.toml:3:") && err.contains("unknown action"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let mut cmd = Command::new(bin());
    cmd.current_dir(env.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("XDG_CONFIG_HOME", env.dir.path())
        .env("XDG_DATA_HOME", env.dir.path())
        .env("REACH_DB", &env.db)
        .stdin(Stdio::null());
    let out = cmd.output().expect("run reach");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs a terminal") && err.contains("reach --help"), "{err}");
}

/// At 80x24 in the C locale with NO_COLOR: ASCII symbols and no colours;
/// a window too small says so and the screen comes back when it grows;
/// SIGTERM quits cleanly and restores the terminal.
#[test]
fn console_in_ascii_survives_resizes_and_quits_on_sigterm() {
    require_tmux();
    let env = demo();
    let t = Tmux::start(&env, Pane { size: (80, 24), utf8: false, ..Pane::default() });
    t.wait_for("Contacts 2000 of 2000 contacts");
    let ansi = t.screen_ansi();
    assert!(!has_colour(&ansi), "colours under NO_COLOR:\n{ansi}");

    // sort arrows in ASCII
    t.keys(&["s"]);
    let screen = t.wait_for("sorted by name ^");
    assert!(screen.contains("name^"), "{screen}");
    t.keys(&["S"]);
    // the rows come after the header: long emails are cut with "..."
    let screen = t.wait_until("the list sorted by name v, emails cut with ...", |s| {
        s.contains("sorted by name v")
            && !s.contains("loading")
            && s.lines().any(|l| l.contains('@') && l.contains("..."))
    });
    assert!(screen.contains("namev"), "{screen}");
    assert_ascii_symbols(&screen);

    // tree branches in ASCII
    t.keys(&["4"]);
    t.wait_for("expression (editing)");
    t.text("tag:vip and tag:beta");
    builder_settled(&t, "tag:vip and tag:beta");
    t.keys(&["Escape"]);
    let screen = t.wait_for("i edit text");
    assert!(screen.contains("|- tag:vip") && screen.contains("`- tag:beta"), "{screen}");
    let tree: Vec<&str> = screen.lines().filter(|l| l.contains("- tag:")).collect();
    assert_eq!(tree.len(), 2, "{screen}");
    // the branches before each condition (the boxes around are drawn apart)
    for l in &tree {
        let branch = l.split("tag:").next().unwrap_or_default();
        assert!(branch.is_ascii(), "a tree branch outside ASCII in the C locale:\n{screen}");
    }
    assert_ascii_symbols(&screen);

    // too small, then big again
    t.keys(&["1"]);
    t.wait_for("sorted by name v");
    t.resize(20, 5);
    t.wait_for("too small");
    t.resize(100, 30);
    let screen = t.wait_until("the contacts screen at 100x30", |s| {
        s.contains(TAB_BAR) && s.contains("Contacts 2000 of 2000 contacts")
    });
    assert!(!screen.contains("too small"), "{screen}");

    // SIGTERM: a clean quit
    let pid = t.pid();
    let out = Command::new("kill").args(["-TERM", &pid]).output().expect("run kill");
    assert!(out.status.success(), "kill -TERM {pid}: {}", String::from_utf8_lossy(&out.stderr));
    t.wait_exit_ok();
}

/// The last line of the screen with text on it, without trailing blanks.
fn last_line(screen: &str) -> &str {
    screen.lines().map(str::trim_end).rfind(|l| !l.is_empty()).unwrap_or_default()
}

/// Whether the shell waits at its prompt (nothing typed after it).
fn at_prompt(screen: &str) -> bool {
    last_line(screen) == SHELL_PROMPT.trim_end()
}

/// The contacts table's rows on screen (lines with text between its
/// header and the key hints).
fn table_rows(screen: &str) -> usize {
    screen
        .lines()
        .skip_while(|l| !l.starts_with("name "))
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.contains("Enter open"))
        .count()
}

/// Types a command that prints `MARK=N`, N the number of raw-mode flags
/// (`-icanon`, `-echo`, `-isig`) the terminal has; waits for its answer.
#[track_caller]
fn raw_flags(t: &Tmux, mark: &str) -> u32 {
    t.wait_until("the shell's prompt", at_prompt);
    t.text(&format!("echo {mark}=$(stty -a | tr ' ;' '\\n\\n' | grep -c -x -e -icanon -e -echo -e -isig)"));
    t.keys(&["Enter"]);
    let want = format!("{mark}=");
    let screen = t.poll(&format!("`{mark}=N` printed"), DEADLINE, true, |s| {
        s.lines().any(|l| l.starts_with(&want) && l[want.len()..].trim().parse::<u32>().is_ok())
    });
    let line = screen.lines().find(|l| l.starts_with(&want)).unwrap();
    line[want.len()..].trim().parse().unwrap()
}

/// Ctrl-Z in a shell with job control: the terminal goes back to the
/// shell as it was (cooked, the main screen) and the job shows as
/// stopped, the console and its wrapper alike (a job of two processes, as
/// under `cargo run`); the window grows meanwhile; `fg` brings the console
/// back at the new size, answering keys; quitting then leaves the
/// terminal as the shell had it.
#[test]
fn console_suspends_on_ctrl_z_and_resumes_with_fg() {
    require_tmux();
    common::require_program("bash", &["bash", "--version"], "apt-get install bash");
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "300", "--seed", "7"]).ok();
    let t = Tmux::start_shell(&env, Pane::default());
    assert_eq!(raw_flags(&t, "BEFORE"), 0, "the shell's terminal is not cooked:\n{}", t.screen());

    t.text("sh \"$REACH_CONSOLE\"");
    t.keys(&["Enter"]);
    t.wait_for("Contacts 300 of 300 contacts");

    // Ctrl-Z: the shell's prompt, the job stopped, the console's screen gone
    t.keys(&["C-z"]);
    let screen = t.wait_until("the job `Stopped` at the shell's prompt", |s| {
        !s.contains(TAB_BAR) && s.lines().any(|l| l.contains("Stopped") && l.contains("REACH_CONSOLE")) && at_prompt(s)
    });
    assert!(!screen.contains("REACH_EXITED="), "the console ended instead of stopping:\n{screen}");
    assert_eq!(raw_flags(&t, "SUSPENDED"), 0, "the terminal is left raw while suspended:\n{}", t.screen());

    // the window grows while the console is stopped (it gets no SIGWINCH)
    t.resize(110, 36);
    t.wait_until("the shell's prompt at 110x36", |s| s.lines().count() == 36 && at_prompt(s));

    // fg: the console is back, drawn for 110x36 with every row of the
    // taller table filled (its page follows the size), and answers keys
    t.text("fg");
    t.keys(&["Enter"]);
    t.wait_until("the contacts screen again, 30 rows filling 110x36", |s| {
        let lines: Vec<&str> = s.lines().collect();
        s.contains(TAB_BAR)
            && s.contains("Contacts 300 of 300 contacts")
            && lines.len() == 36
            && lines.last().is_some_and(|l| l.contains("Enter open"))
            && table_rows(s) == 36 - 6
    });
    t.keys(&["2"]);
    t.wait_until("the tags screen", |s| s.contains(TAB_BAR) && s.lines().any(|l| l.starts_with("Tags ")));
    t.keys(&["1"]);
    t.wait_until("the contacts screen", |s| s.contains("Contacts 300 of 300 contacts"));

    // quit: the exit code, the main screen and a cooked terminal
    t.keys(&["q"]);
    t.wait_exit_ok();
    let screen = t.screen();
    assert!(screen.contains("Stopped"), "the shell's screen is not the one left at Ctrl-Z:\n{screen}");
    assert_eq!(raw_flags(&t, "AFTER"), 0, "the terminal is left raw after quitting:\n{}", t.screen());
}
