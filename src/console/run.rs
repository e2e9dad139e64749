//! The terminal side of the console: raw mode and the alternate screen,
//! restored on every exit path (errors, panics, SIGTERM/SIGHUP); the event
//! loop over keys, resizes, finished jobs and scheduler activity, drawing
//! once per batch of messages and only when something changed; Ctrl-Z
//! suspend and $EDITOR hand-offs; stderr captured so nothing a library
//! prints can tear the screen. The same loop runs a console on a remote
//! terminal (`run_remote`: an SSH channel), whose keys and size changes
//! come as messages and which has no shell or editor to hand over to.

use super::app::{App, EditKind, Effect};
use super::keymap::Keymap;
use super::theme::Theme;
use super::ui;
use super::worker::{Finished, Shared, Workers};
use crate::app::Session;
use crate::app::scheduler::SchedulerTask;
use crate::error::{Error, Result};
use crossterm::event::{self, Event, KeyEventKind};
use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use std::io::{IsTerminal, Read, Write};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything the loop wakes up for.
pub enum Msg {
    Key(crossterm::event::KeyEvent),
    Resize(u16, u16),
    Done(Finished),
    Activity,
    Signal,
    /// the database changed (coalesced: at most one every `CHANGES_EVERY`)
    Changed(super::app::Changed),
}

/// How often store changes reach the loop at most: an import commits many
/// times a second, and each batch asks the lists again.
const CHANGES_EVERY: Duration = Duration::from_millis(300);

/// Forwards the store's changes to the loop, coalesced, until it closes.
fn forward_changes(changes: Receiver<crate::store::Change>, tx: Sender<Msg>) {
    while let Ok(first) = changes.recv() {
        let mut c = super::app::Changed::default();
        c.add(&first);
        for more in changes.try_iter() {
            c.add(&more);
        }
        if tx.send(Msg::Changed(c)).is_err() {
            return;
        }
        // what arrives meanwhile waits in the channel and goes as one
        std::thread::sleep(CHANGES_EVERY);
    }
}

/// Input thread states: reading, asked to pause, paused.
const READING: u8 = 0;
const PAUSE: u8 = 1;
const PAUSED: u8 = 2;

/// Leaves raw mode and the alternate screen (safe to call twice).
pub fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(std::io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

fn enter_terminal() -> Result<()> {
    terminal::enable_raw_mode().map_err(|e| Error::runtime(format!("cannot set up the terminal: {e}")))?;
    execute!(std::io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
    Ok(())
}

/// The real stderr while it is captured (-1: not captured), for the panic hook.
static SAVED_STDERR: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Puts the real stderr back (the panic hook's first step).
fn release_stderr() {
    let fd = SAVED_STDERR.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: restores the descriptor saved when the capture started.
        unsafe {
            libc::dup2(fd, 2);
            libc::close(fd);
        }
    }
}

/// fd 2 sent to a pipe while the console runs; lines land in `capture`.
struct StderrCapture;

impl StderrCapture {
    fn start(capture: Arc<Mutex<Vec<String>>>, wake: Sender<Msg>) -> Option<StderrCapture> {
        let mut fds = [0i32; 2];
        // SAFETY: plain POSIX calls on descriptors this function owns.
        unsafe {
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                return None;
            }
            let saved = libc::dup(2);
            if saved < 0 || libc::dup2(fds[1], 2) < 0 {
                return None;
            }
            libc::close(fds[1]);
            let mut reader = std::fs::File::from_raw_fd(fds[0]);
            std::thread::Builder::new()
                .name("stderr".into())
                .spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = reader.read(&mut chunk) {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = buf.drain(..=i).collect();
                            let text = String::from_utf8_lossy(&line).trim_end().to_string();
                            if let Ok(mut c) = capture.lock() {
                                c.push(text);
                                let n = c.len();
                                if n > 1000 {
                                    c.drain(..n - 1000);
                                }
                            }
                            let _ = wake.send(Msg::Activity);
                        }
                    }
                })
                .ok()?;
            SAVED_STDERR.store(saved, Ordering::SeqCst);
            Some(StderrCapture)
        }
    }
}

impl Drop for StderrCapture {
    fn drop(&mut self) {
        release_stderr();
    }
}

/// mimalloc's `mi_option_purge_delay` (see src/main.rs).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The binary tells mimalloc never to hand freed memory back (short
/// commands, bulk imports); a console stays open for hours with four
/// threads each freeing into its own heap, so it lets mimalloc return
/// memory unused for 100 ms.
pub fn long_running_allocator() {
    // SAFETY: sets a numeric allocator option (read by mimalloc when it purges).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
}

/// The console's options from the command line and config.
pub struct Options {
    /// keymap NAME or PATH
    pub keymap: String,
    /// run the scheduler in the console (it owns the database)
    pub scheduler: bool,
    /// the activity of a scheduler run elsewhere in this process (`reach
    /// serve`'s, for its SSH consoles), shown on the Activity screen
    pub activity: Option<Arc<Mutex<crate::app::scheduler::Activity>>>,
}

/// Opens the console on a session until the operator quits.
pub fn run(session: Arc<Session>, opts: Options) -> Result<()> {
    // a bad keymap stops the start, before the terminal is touched
    let keymap = Keymap::load(&opts.keymap).map_err(|e| Error::input(e.to_string()))?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::input("the console needs a terminal; for scripts see `reach --help`"));
    }
    long_running_allocator();
    // the gazetteer behind `near("…")` and its completions is parsed and
    // indexed off the UI thread, before it is typed
    let _ = std::thread::Builder::new().name("gazetteer".into()).spawn(crate::geo::warm);
    let (w, h) = terminal::size().unwrap_or((80, 24));
    let db_name = session.store().path().display().to_string();
    let mut app = App::new(Theme::from_env(), keymap, (w, h), db_name, session.now());
    let (tx, rx) = channel::<Msg>();
    let capture = Arc::new(Mutex::new(Vec::new()));

    // a panic anywhere (a worker too) is a bug: the terminal and stderr
    // are restored, the one-line message printed, and the process ends
    // (every write is a transaction: nothing is left half-done)
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if crate::error::panic_is_caught() {
            return; // a library's, on a damaged file: said as an error
        }
        restore_terminal();
        release_stderr();
        previous(info);
        std::process::exit(101);
    }));
    enter_terminal()?;
    let guard = StderrCapture::start(capture.clone(), tx.clone());
    let result = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .map_err(Error::from)
        .and_then(|mut terminal| event_loop(&session, &mut app, &tx, rx, capture, &opts, &mut terminal, None));
    drop(guard);
    restore_terminal();
    let _ = std::panic::take_hook();
    result
}

/// The loop over one terminal: this process's (`remote` None: an input
/// thread reads it, signals end the loop, the shell and an editor can
/// have it), or a remote one whose keys and sizes arrive on `rx` and
/// whose jobs act as `remote`'s actor.
#[allow(clippy::too_many_arguments)]
pub(super) fn event_loop<B: Backend<Error = std::io::Error>>(
    session: &Arc<Session>,
    app: &mut App,
    tx: &Sender<Msg>,
    rx: Receiver<Msg>,
    capture: Arc<Mutex<Vec<String>>>,
    opts: &Options,
    terminal: &mut Terminal<B>,
    remote: Option<crate::app::audit::Actor>,
) -> Result<()> {
    let local = remote.is_none();
    let wake: Arc<dyn Fn() + Send + Sync> = {
        let tx = Mutex::new(tx.clone());
        Arc::new(move || {
            if let Ok(t) = tx.lock() {
                let _ = t.send(Msg::Activity);
            }
        })
    };
    let shared = Shared { capture, progress: app.progress.clone(), wake: Some(wake), actor: remote };
    let mut workers = Workers::start(session.clone(), tx.clone(), Msg::Done, shared);
    // changes made by others (the socket's clients, the scheduler) reach the screens
    {
        let (changes, tx) = (session.store().subscribe(), tx.clone());
        let _ = std::thread::Builder::new().name("changes".into()).spawn(move || forward_changes(changes, tx));
    }
    // signals end the loop like a quit
    if local {
        let tx = tx.clone();
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([libc::SIGTERM, libc::SIGHUP, libc::SIGINT]) {
            let _ = std::thread::Builder::new().name("signals".into()).spawn(move || {
                if signals.forever().next().is_some() {
                    let _ = tx.send(Msg::Signal);
                }
            });
        }
    }
    let input = Arc::new(AtomicU8::new(READING));
    let stop_input = Arc::new(AtomicBool::new(false));
    if local {
        let (tx, input, stop) = (tx.clone(), input.clone(), stop_input.clone());
        let _ = std::thread::Builder::new().name("input".into()).spawn(move || input_thread(tx, input, stop));
    }
    // another's scheduler: the loop wakes when its activity changes
    if let Some(slot) = opts.activity.clone() {
        let (tx, stop) = (tx.clone(), stop_input.clone());
        let _ = std::thread::Builder::new().name("activity".into()).spawn(move || {
            let mut seen = u64::MAX;
            while !stop.load(Ordering::SeqCst) {
                let v = slot.lock().unwrap_or_else(|e| e.into_inner()).version;
                if v != seen {
                    seen = v;
                    if tx.send(Msg::Activity).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        });
    }
    // the scheduler starts once the first screen is complete (or after 3 s):
    // its own start reads every contact, and the operator comes first
    let mut scheduler: Option<SchedulerTask> = None;
    let scheduler_from = std::time::Instant::now() + Duration::from_secs(3);
    let start_scheduler = || {
        let tx = Mutex::new(tx.clone());
        SchedulerTask::start(session.clone(), move |_| {
            if let Ok(t) = tx.lock() {
                let _ = t.send(Msg::Activity);
            }
        })
    };
    app.start(&mut workers);
    let mut activity_version = u64::MAX;
    let result = loop {
        {
            app.load_rows(session);
            let shown = scheduler.as_ref().map(|s| s.activity.clone()).or_else(|| opts.activity.clone());
            if let Some(slot) = shown {
                let a = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if a.version != activity_version {
                    activity_version = a.version;
                    app.scheduler_update(a, &mut workers);
                }
            }
            terminal.draw(|f| ui::draw(f, app))?;
        }
        if opts.scheduler && scheduler.is_none() {
            let ready = app.contacts.list.as_ref().is_some_and(|l| l.facts.complete);
            if ready || std::time::Instant::now() >= scheduler_from {
                scheduler = Some(start_scheduler());
            }
        }
        let first = if opts.scheduler && scheduler.is_none() {
            match rx.recv_timeout(scheduler_from.saturating_duration_since(std::time::Instant::now())) {
                Ok(m) => m,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(_) => break Ok(()),
            }
        } else {
            match rx.recv() {
                Ok(m) => m,
                Err(_) => break Ok(()),
            }
        };
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let mut quit = false;
        for m in batch {
            match m {
                Msg::Key(k) => {
                    // a new key clears the last status message
                    app.status = None;
                    app.on_key(k, &mut workers);
                }
                Msg::Resize(w, h) => {
                    app.resized(w, h);
                    terminal.autoresize()?;
                }
                Msg::Done(d) => app.finish(d, &mut workers),
                Msg::Activity => {}
                Msg::Signal => quit = true,
                Msg::Changed(c) => app.data_changed(c, &mut workers),
            }
        }
        for e in std::mem::take(&mut app.effects) {
            match e {
                Effect::Suspend | Effect::Edit(..) if !local => {
                    app.status = Some(("not over SSH: there is no shell or editor on this side".into(), true));
                }
                Effect::Quit => quit = true,
                Effect::Redraw => terminal.clear()?,
                Effect::Suspend => {
                    pause_input(&input);
                    restore_terminal();
                    suspend();
                    take_back_terminal(terminal, app, &input)?;
                }
                Effect::Edit(kind, text) => {
                    pause_input(&input);
                    restore_terminal();
                    let edited = edit(kind, &text);
                    take_back_terminal(terminal, app, &input)?;
                    match edited {
                        Ok(Some(t)) => app.edited(kind, t, &mut workers),
                        Ok(None) => app.status = Some(("edit abandoned".into(), false)),
                        Err(e) => app.status = Some((e.to_string(), true)),
                    }
                }
            }
        }
        if quit {
            break Ok(());
        }
    };
    stop_input.store(true, Ordering::SeqCst);
    if let Some(s) = scheduler {
        // the step in progress is recorded before we go
        s.stop();
    }
    result
}

/// Stops the whole job, as Ctrl-Z typed at the shell would (raw mode
/// turned that key into input), and returns once it is continued (`fg`,
/// `bg`). The signal goes to the process group, not just this process: run
/// under a wrapper (`cargo run`, a script) the shell waits for the wrapper,
/// which must stop too for the shell to take the terminal back. Where no
/// shell can continue the job (an orphaned process group) the kernel
/// discards the signal and this returns at once.
fn suspend() {
    // SAFETY: sends a signal to this process's own process group.
    unsafe { libc::kill(0, libc::SIGTSTP) };
}

/// Takes the terminal back after the shell or an editor had it: raw mode
/// and the alternate screen again, the size it has now (a resize meanwhile
/// was seen by the foreground program, not by this one), a full redraw,
/// and the input thread reading.
fn take_back_terminal<B: Backend<Error = std::io::Error>>(
    term: &mut Terminal<B>,
    app: &mut App,
    input: &AtomicU8,
) -> Result<()> {
    enter_terminal()?;
    if let Ok((w, h)) = terminal::size()
        && (w, h) != app.size
    {
        app.resized(w, h);
    }
    term.autoresize()?;
    term.clear()?;
    input.store(READING, Ordering::SeqCst);
    Ok(())
}

/// Reads terminal events and forwards them; parks while the terminal is
/// handed to an editor or the shell.
fn input_thread(tx: Sender<Msg>, state: Arc<AtomicU8>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        if state.load(Ordering::SeqCst) != READING {
            state.store(PAUSED, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        match event::poll(Duration::from_millis(250)) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        if state.load(Ordering::SeqCst) != READING {
            continue;
        }
        let msg = match event::read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => Msg::Key(k),
            Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// Asks the input thread to stop reading and waits until it has.
fn pause_input(state: &AtomicU8) {
    state.store(PAUSE, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while state.load(Ordering::SeqCst) != PAUSED && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Opens `text` in $VISUAL / $EDITOR (vi by default) in a private temporary
/// file; None when the editor failed or the file came back unchanged and empty.
fn edit(kind: EditKind, text: &str) -> Result<Option<String>> {
    let dir = std::env::temp_dir().join(format!("reach-edit-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let name = match kind {
        EditKind::Campaign { .. } => "campaign.toml",
        EditKind::Policy => "policy.toml",
    };
    let path = dir.join(name);
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
        f.write_all(text.as_bytes())?;
    }
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| std::env::var("EDITOR").ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .map_err(|e| Error::runtime(format!("cannot run the editor `{editor}`: {e}")))?;
    let out = std::fs::read_to_string(&path)?;
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Ok(None);
    }
    Ok(Some(out))
}
