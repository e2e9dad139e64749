//! The console's speed, headless: the real `App` driven by key events, its
//! jobs on the real worker lanes (`Workers`, two threads over one
//! `Session`, results back through a channel into `App::finish`, as the
//! terminal loop does), the scheduler task running beside it as in `reach
//! console`, and every frame drawn by `ui::draw` into ratatui's TestBackend
//! at 160x48. Nothing waits on a terminal; scripts/bench_console.sh measures
//! the same from a fresh process in a real one (tmux).
//!
//! Measured, in order, in one process (the figures of BENCHMARKS.md
//! "Console"):
//! - start: `Session::open` to the first frame of the contacts screen with
//!   its list and visible rows, to the rows' facts (last activity,
//!   lifecycle), and to every start job answered;
//! - the builder: each query of the file typed character by character at
//!   full speed (each key: `on_key`, arrived results, rows, draw), from the
//!   last keystroke to the frame showing its count; the first pass of the
//!   session (event partitions loaded on demand), then RUNS passes with the
//!   engine's result caches cleared before each query (as benches/engine.rs),
//!   and again with a 50 ms pause before the last key (the previous text's
//!   count has finished: what the last key costs with the lane idle); the
//!   time `on_key` takes while a count is in flight; the one-criterion
//!   edit: the last query's first threshold retyped (`>= 1` becomes `>= 2`,
//!   `>= 3`, …, never a value counted before), edit keystroke to drawn count;
//! - one frame of each screen (`terminal.draw`);
//! - the contacts table PageDown from top to bottom, then End and Home: per
//!   keypress, `on_key` + `load_rows` + draw;
//! - the largest timeline of the demo: its profile opened from the table
//!   (Enter to drawn first page) and paged to its end, per keypress;
//! - peak memory (VmHWM) with the console open after all of the above;
//! - where the time goes: the `Session` and engine calls behind these, each
//!   query's count job in parts (count, breakdown, preview) and whole, on
//!   this thread and on the fast lane, then the
//!   console closed and the start again without the scheduler task, the
//!   start's jobs one by one on a fresh session, and a fresh session's
//!   loading of every column and event before the row facts.
//!
//! Prints one JSON object.
//!
//! cargo bench --bench console -- DB NOW QUERIES_FILE [RUNS]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use reach::app::scheduler::SchedulerTask;
use reach::app::{Clock, Session};
use reach::config::Config;
use reach::console::app::{App, Sub, Tab};
use reach::console::keymap::Keymap;
use reach::console::screens::Runner;
use reach::console::screens::builder::PREVIEW;
use reach::console::screens::profile::ProfileView;
use reach::console::theme::Theme;
use reach::console::ui;
use reach::console::worker::{Finished, Job, Lane, Shared, Ticket, Workers};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

#[path = "common/status.rs"]
mod status;
use status::status_kb as proc_status;

// the binary's allocator, set up as src/main.rs does
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
/// mimalloc's `mi_option_purge_delay` (src/main.rs: freed memory is never returned).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

const SIZE: (u16, u16) = (160, 48);

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The value at quantile `p` (nearest rank).
fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s[((s.len() as f64 - 1.0) * p).round() as usize]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn stats(v: &[f64]) -> Value {
    json!({
        "n": v.len(),
        "p50_ms": round3(pct(v, 0.5)),
        "p95_ms": round3(pct(v, 0.95)),
        "p99_ms": round3(pct(v, 0.99)),
        "max_ms": round3(pct(v, 1.0)),
    })
}

/// The console as `console::run` assembles it, on a TestBackend.
struct Console {
    session: Arc<Session>,
    app: App,
    workers: Workers,
    rx: Receiver<Finished>,
    term: Terminal<TestBackend>,
    scheduler: Option<SchedulerTask>,
    activity_version: u64,
}

impl Console {
    /// One key, as the loop handles a `Msg::Key`; returns the time `on_key` took.
    fn press(&mut self, code: KeyCode) -> f64 {
        self.app.status = None;
        let t = Instant::now();
        self.app.on_key(KeyEvent::new(code, KeyModifiers::NONE), &mut self.workers);
        let d = ms(t);
        self.app.effects.clear();
        d
    }

    /// Results that have arrived, without waiting.
    fn pump(&mut self) {
        let batch: Vec<Finished> = self.rx.try_iter().collect();
        for d in batch {
            self.app.finish(d, &mut self.workers);
        }
    }

    /// What the loop does before it waits: rows of the visible window,
    /// the scheduler's activity, one frame.
    fn frame(&mut self) {
        self.app.load_rows(&self.session);
        if let Some(s) = &self.scheduler {
            let a = s.activity.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if a.version != self.activity_version {
                self.activity_version = a.version;
                self.app.scheduler_update(a, &mut self.workers);
            }
        }
        self.term.draw(|f| ui::draw(f, &self.app)).expect("draw");
    }

    /// A key handled and drawn as the loop would at full typing speed.
    fn key(&mut self, code: KeyCode) -> f64 {
        let d = self.press(code);
        self.pump();
        self.frame();
        d
    }

    /// Waits for results (each batch handled, then a frame) until `done`.
    fn settle(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(300);
        while !done(&self.app) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(d) => {
                    self.app.finish(d, &mut self.workers);
                    self.pump();
                    self.frame();
                }
                Err(_) => panic!("gave up waiting for {what}"),
            }
        }
    }

    /// Line `y` of the last frame.
    fn line(&self, y: u16) -> String {
        let buf = self.term.backend().buffer();
        let mut s = String::new();
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.trim_end().to_string()
    }

    /// The last non-blank line above the status line.
    fn last_line(&self) -> String {
        (2..SIZE.1 - 1).rev().map(|y| self.line(y)).find(|l| !l.trim().is_empty()).unwrap_or_default()
    }

    fn profile(&self) -> Option<&ProfileView> {
        match self.app.subs[0].last() {
            Some(Sub::Profile(v)) => Some(v),
            _ => None,
        }
    }
}

/// A console started and drawn once, without waiting for anything (its
/// scheduler, which the real console starts once the rows are complete,
/// left out); and the time that took.
fn open_console_no_wait(db: &str, now: i64) -> (Console, f64) {
    let t0 = Instant::now();
    let session =
        Arc::new(Session::open(std::path::Path::new(db), Config::default(), Clock::Fixed(now)).expect("open"));
    let (tx, rx) = channel::<Finished>();
    let workers = Workers::start(session.clone(), tx, |f| f, Shared::default());
    let app = App::new(Theme::plain(), Keymap::load("default").expect("keymap"), SIZE, db.to_string(), now);
    let term = Terminal::new(TestBackend::new(SIZE.0, SIZE.1)).expect("terminal");
    let mut c = Console { session, app, workers, rx, term, scheduler: None, activity_version: u64::MAX };
    c.app.start(&mut c.workers);
    c.frame();
    (c, ms(t0))
}

/// Opens the console as `console::run` does (with the scheduler task or
/// without) and times its start: `Session::open` to the first frame, to the
/// frame with the list and its visible rows, to the rows' facts, to every
/// start job answered; and when the scheduler beside it finished starting.
fn open_console(db: &str, now: i64, with_scheduler: bool) -> (Console, Value) {
    let t0 = Instant::now();
    let (mut c, first_frame_ms) = open_console_no_wait(db, now);
    c.settle("the contacts list", |a| a.contacts.list.is_some() && a.rows_needed().is_empty());
    let list_ms = ms(t0);
    let title = c.line(1);
    let first_row = c.line(4);
    c.settle("the rows' facts", |a| a.contacts.rows.values().any(|r| r.last_activity.is_some()));
    let facts_ms = ms(t0);
    // the scheduler starts once the whole table's facts are in, as
    // `console::run` starts it (or after 3 s there)
    c.settle("the table's facts", |a| a.contacts.list.as_ref().is_some_and(|l| l.facts.complete));
    c.scheduler = with_scheduler.then(|| SchedulerTask::start(c.session.clone(), |_| {}));
    // when the scheduler leaves "starting" (polled: it runs beside the jobs)
    let sched_ready = c.scheduler.as_ref().map(|s| {
        let a = s.activity.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while Instant::now() < deadline {
                if a.lock().unwrap_or_else(|e| e.into_inner()).state != "starting" {
                    return Some(ms(t0));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            None
        })
    });
    c.settle("every start job", |a| a.pending.is_empty());
    let settled_ms = ms(t0);
    let sched_ms = sched_ready.and_then(|h| h.join().ok().flatten());
    eprintln!(
        "start (scheduler {with_scheduler}): list+rows drawn {list_ms:.0} ms, facts {facts_ms:.0} ms, all {settled_ms:.0} ms, scheduler started {sched_ms:?} ms: {title}"
    );
    let v = json!({
        "with_scheduler": with_scheduler,
                "first_frame_ms": round3(first_frame_ms),
        "list_and_rows_drawn_ms": round3(list_ms),
        "rows_with_facts_drawn_ms": round3(facts_ms),
        "all_start_jobs_ms": round3(settled_ms),
        "scheduler_started_ms": sched_ms.map(round3),
        "title": title,
        "first_row": first_row,
        "rss_mb_after_start": proc_status("VmRSS:") / 1024,
    });
    (c, v)
}

/// Closes a console and waits until its session has let go of the database.
fn close_console(mut c: Console) {
    if let Some(s) = c.scheduler.take() {
        s.stop();
    }
    let session = c.session.clone();
    drop(c);
    // the lanes end when their queues close
    while Arc::strong_count(&session) > 1 {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Jobs kept in order, to run one by one.
#[derive(Default)]
struct Queue {
    jobs: std::collections::VecDeque<(u64, Job)>,
    next: u64,
}

impl Runner for Queue {
    fn submit(&mut self, _lane: Lane, job: Job) -> Ticket {
        self.next += 1;
        self.jobs.push_back((self.next, job));
        Ticket { id: self.next, cancel: Default::default() }
    }
}

fn profile_loaded(a: &App) -> bool {
    matches!(a.subs[0].last(), Some(Sub::Profile(v)) if v.loading.is_none() && (v.profile.is_some() || v.error.is_some()))
}

fn main() {
    // SAFETY: sets a numeric allocator option before any thread exists (as src/main.rs).
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // and, as `console::run::run` does, lets the long-running console return memory
    reach::console::run::long_running_allocator();
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.len() < 4 {
        eprintln!("usage: console DB NOW QUERIES_FILE [RUNS]");
        std::process::exit(2);
    }
    let (db, now, file) = (&args[1], &args[2], &args[3]);
    let runs: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(10).max(1);
    let now = reach::cli::parse_now(now).expect("now");
    let queries: Vec<String> = std::fs::read_to_string(file)
        .expect("queries")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let never = AtomicBool::new(false);
    let mut out = serde_json::Map::new();
    let loadavg = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string();
    out.insert("loadavg_before".into(), json!(loadavg()));

    // ---- start: Session::open to the first full contacts screen
    let (mut c, start) = open_console(db, now, true);
    out.insert("start".into(), start);
    let session = c.session.clone();

    // ---- the builder: typing each query at full speed
    c.key(KeyCode::Char('4'));
    assert_eq!(c.app.tab, Tab::Builder);
    let mut on_key_inflight = Vec::new();
    let mut on_key_idle = Vec::new();
    let mut key_loop = Vec::new();
    // the slowest on_key of the typing, in the first pass and after: (ms, query, characters typed)
    let mut slowest_first: Option<(f64, String, usize)> = None;
    let mut slowest_measured: Option<(f64, String, usize)> = None;
    // (last key to drawn count, the count, a count in flight at the last key, counts asked while typing)
    let mut type_query = |c: &mut Console, q: &str, clear: bool, pause: bool| -> (f64, u64, bool, usize) {
        if !c.app.builder.text.text().is_empty() || !c.app.builder.editing {
            // Esc leaves the text, n starts a new segment with the text focused
            if c.app.builder.editing {
                c.key(KeyCode::Esc);
            }
            c.key(KeyCode::Char('n'));
        }
        assert!(c.app.builder.editing && c.app.builder.text.text().is_empty());
        if clear {
            c.session.engine().expect("engine").clear_caches();
        }
        let mut last = Instant::now();
        let (mut asked, mut inflight) = (0, false);
        let n = q.chars().count();
        for (i, ch) in q.chars().enumerate() {
            if pause && i + 1 == n {
                // the lane idle before the last key: what the last count costs alone
                c.settle("the previous count", |a| a.builder.counting.is_none());
                std::thread::sleep(Duration::from_millis(50));
                c.pump();
                c.frame();
            }
            let before = c.app.builder.counting.as_ref().map(|t| t.id);
            inflight = before.is_some();
            last = Instant::now();
            let d = c.press(KeyCode::Char(ch));
            let after = c.app.builder.counting.as_ref().map(|t| t.id);
            c.pump();
            c.frame();
            key_loop.push(ms(last));
            if inflight {
                on_key_inflight.push(d)
            } else {
                on_key_idle.push(d)
            }
            let slowest = if clear { &mut slowest_measured } else { &mut slowest_first };
            if slowest.as_ref().is_none_or(|(m, _, _)| d > *m) {
                *slowest = Some((d, q.to_string(), c.app.builder.text.text().chars().count()));
            }
            if after.is_some() && after != before {
                asked += 1;
            }
        }
        c.settle("a count", |a| a.builder.counting.is_none());
        let t = ms(last);
        assert_eq!(c.app.builder.text.text(), q);
        if let Some((_, e)) = &c.app.builder.error {
            panic!("{q}: {e}");
        }
        let count = c.app.builder.count.expect("count").0;
        assert!(c.line(1).contains(&format!("{count} of")), "the drawn count: {}", c.line(1));
        (t, count, inflight, asked)
    };
    let mut first_pass = Vec::new();
    for q in &queries {
        let (t, n, _, asked) = type_query(&mut c, q, false, false);
        eprintln!("first pass {t:8.2} ms  {n:>8}  {q}");
        first_pass.push(json!({"query": q, "count": n, "ms": round3(t), "counts_asked_while_typing": asked}));
    }
    let mut per_query = Vec::new();
    let mut all = Vec::new();
    for q in &queries {
        let mut times = Vec::new();
        let (mut count, mut asked, mut busy) = (0, 0, 0);
        let mut paused = Vec::new();
        for _ in 0..runs {
            let (t, n, inflight, k) = type_query(&mut c, q, true, false);
            times.push(t);
            count = n;
            asked = k;
            busy += usize::from(inflight);
            paused.push(type_query(&mut c, q, true, true).0);
        }
        eprintln!(
            "typed  p50 {:8.2} ms  p95 {:8.2} ms  (after a pause p50 {:8.2} ms)  {count:>8}  ({asked} counts asked, one in flight at the last key {busy}/{runs})  {q}",
            pct(&times, 0.5),
            pct(&times, 0.95),
            pct(&paused, 0.5)
        );
        all.extend(&times);
        per_query.push(json!({
            "query": q,
            "count": count,
            "last_key_to_drawn_count": stats(&times),
            "counts_asked_while_typing": asked,
            "runs_with_a_count_in_flight_at_the_last_key": busy,
            "last_key_after_a_pause_to_drawn_count": stats(&paused),
        }));
    }

    // the one-criterion edit: the last query is in the builder, counted
    let mut edits = Vec::new();
    let mut edit_keys = Vec::new();
    for k in 0..runs {
        let text = c.app.builder.text.text();
        let at = text.find(">= ").expect("the last query has a `>= N` criterion") + 3;
        let digits = text[at..].chars().take_while(char::is_ascii_digit).count();
        c.key(KeyCode::Home);
        for _ in 0..at + digits {
            c.key(KeyCode::Right);
        }
        for _ in 0..digits {
            c.key(KeyCode::Backspace);
        }
        let mut last = Instant::now();
        for ch in (2 + k).to_string().chars() {
            let inflight = c.app.builder.counting.is_some();
            last = Instant::now();
            let d = c.press(KeyCode::Char(ch));
            c.pump();
            c.frame();
            edit_keys.push(d);
            if inflight { on_key_inflight.push(d) } else { on_key_idle.push(d) }
        }
        c.settle("the edited count", |a| a.builder.counting.is_none());
        edits.push(ms(last));
        assert!(c.app.builder.error.is_none(), "{:?}", c.app.builder.error);
    }
    let edited_text = c.app.builder.text.text();
    eprintln!("edit: p50 {:.2} ms p95 {:.2} ms max {:.2} ms", pct(&edits, 0.5), pct(&edits, 0.95), pct(&edits, 1.0));
    out.insert(
        "builder".into(),
        json!({
            "first_pass_last_key_to_drawn_count": first_pass,
            "queries": per_query,
            "all_queries_last_key_to_drawn_count": stats(&all),
            "edit_one_criterion_key_to_drawn_count": stats(&edits),
            "edit_last_text": edited_text,
            "on_key_while_count_in_flight": stats(&on_key_inflight),
            "on_key_no_count_in_flight": stats(&on_key_idle),
            "key_to_drawn_echo": stats(&key_loop),
            "slowest_on_key_first_pass": slowest_first.map(|(d, q, at)| json!({"ms": round3(d), "query": q, "after_chars": at})),
            "slowest_on_key_measured_passes": slowest_measured.map(|(d, q, at)| json!({"ms": round3(d), "query": q, "after_chars": at})),
        }),
    );

    // ---- one frame of each screen
    let draws = (runs * 20).max(100);
    c.key(KeyCode::Esc);
    let mut frames = serde_json::Map::new();
    let mut draw_screen = |c: &mut Console, name: &str| {
        c.frame();
        let mut v = Vec::new();
        for _ in 0..draws {
            let t = Instant::now();
            c.term.draw(|f| ui::draw(f, &c.app)).expect("draw");
            v.push(ms(t));
        }
        eprintln!(
            "frame {name:<10} p50 {:.3} ms  p95 {:.3} ms  max {:.3} ms",
            pct(&v, 0.5),
            pct(&v, 0.95),
            pct(&v, 1.0)
        );
        frames.insert(name.into(), stats(&v));
    };
    c.key(KeyCode::Char('1'));
    c.key(KeyCode::Home);
    draw_screen(&mut c, "contacts");
    c.key(KeyCode::Enter);
    c.settle("a profile", profile_loaded);
    draw_screen(&mut c, "profile");
    c.key(KeyCode::Esc);
    for (k, name) in
        [('2', "tags"), ('3', "segments"), ('4', "builder"), ('5', "campaigns"), ('6', "policy"), ('7', "activity")]
    {
        c.key(KeyCode::Char(k));
        draw_screen(&mut c, name);
    }
    out.insert("frame_draw".into(), Value::Object(frames));

    // ---- the contacts table end to end
    c.key(KeyCode::Char('1'));
    c.key(KeyCode::Home);
    let n = c.app.contacts.len();
    let mut pages = Vec::new();
    let t = Instant::now();
    while c.app.contacts.cursor.sel + 1 < n {
        let k = Instant::now();
        c.key(KeyCode::PageDown);
        pages.push(ms(k));
    }
    let scroll_total = ms(t);
    let last_row = c.last_line();
    let mut ends = Vec::new();
    for _ in 0..runs {
        for code in [KeyCode::Home, KeyCode::End] {
            let k = Instant::now();
            c.key(code);
            ends.push(ms(k));
        }
    }
    c.key(KeyCode::Home);
    eprintln!(
        "PageDown x{}: p50 {:.3} ms p95 {:.3} ms max {:.3} ms ({:.1} s); End/Home max {:.3} ms",
        pages.len(),
        pct(&pages, 0.5),
        pct(&pages, 0.95),
        pct(&pages, 1.0),
        scroll_total / 1000.0,
        pct(&ends, 1.0)
    );
    out.insert(
        "contacts_scroll".into(),
        json!({
            "rows": n,
            "page_down": stats(&pages),
            "page_down_total_s": round3(scroll_total / 1000.0),
            "end_home": stats(&ends),
            "last_row_drawn": last_row,
        }),
    );

    // ---- the largest timeline
    let mut biggest: Option<(u32, usize)> = None;
    let mut candidates = 0;
    for threshold in [10_000, 5_000, 2_500, 1_000, 100] {
        let e = reach::segment::parse(&format!("count(page_view) >= {threshold}")).expect("parse");
        let ids = session.preview(&e, 200, &never).expect("preview");
        if ids.is_empty() {
            continue;
        }
        candidates = ids.len();
        for (id, _) in ids {
            let total = session.profile(id, None, 0, 1).expect("profile").timeline_total;
            if biggest.is_none_or(|(_, t)| total > t) {
                biggest = Some((id, total));
            }
        }
        break;
    }
    let (big, big_total) = biggest.expect("a contact with events");
    let key = {
        let p = session.profile(big, None, 0, 1).expect("profile");
        p.contact.external_id.as_deref().map_or_else(|| p.contact.label(), str::to_string)
    };
    eprintln!("largest timeline: contact {big} ({key}), {big_total} entries, of {candidates} candidates");
    // find it from the table: / KEY Enter, then Enter on its row
    c.key(KeyCode::Char('/'));
    for ch in key.chars() {
        c.key(KeyCode::Char(ch));
    }
    c.key(KeyCode::Enter);
    c.settle("the filtered list", |a| a.contacts.loading.is_none() && a.contacts.list.is_some());
    let pos = c.app.contacts.list.as_ref().and_then(|l| l.ids.iter().position(|&i| i == big)).expect("found");
    for _ in 0..pos {
        c.key(KeyCode::Down);
    }
    let mut opens = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        c.key(KeyCode::Enter);
        c.settle("the profile", profile_loaded);
        opens.push(ms(t));
        c.key(KeyCode::Esc);
    }
    c.key(KeyCode::Enter);
    c.settle("the profile", profile_loaded);
    let mut steps = Vec::new();
    let mut stalls = Vec::new();
    let t = Instant::now();
    loop {
        let v = c.profile().expect("profile open");
        let (before, len) = (v.cursor.sel, v.profile.as_ref().map_or(0, |p| p.timeline.len()));
        let total = v.profile.as_ref().map_or(0, |p| p.timeline_total);
        if before + 1 >= total {
            break;
        }
        let k = Instant::now();
        c.key(KeyCode::PageDown);
        steps.push(ms(k));
        let v = c.profile().expect("profile open");
        if v.cursor.sel == before {
            if v.loading.is_some() || len < total {
                // at the end of what is loaded: the next page has not arrived
                let w = Instant::now();
                c.settle(
                    "the next timeline page",
                    |a| matches!(a.subs[0].last(), Some(Sub::Profile(v)) if v.loading.is_none()),
                );
                stalls.push(ms(w));
            } else {
                break;
            }
        }
    }
    let page_total = ms(t);
    let end = c.profile().expect("profile open");
    let reached = end.cursor.sel + 1;
    let last_entry = c.last_line();
    c.key(KeyCode::Esc);
    // a contact with a short history: the first row of the unfiltered table
    c.key(KeyCode::Char('/'));
    for _ in 0..key.len() {
        c.key(KeyCode::Backspace);
    }
    c.key(KeyCode::Enter);
    c.settle("the whole list", |a| a.contacts.loading.is_none() && a.contacts.len() > 1);
    c.key(KeyCode::Home);
    // the first contact of the table with a history of a typical size
    let (small_pos, small) = c
        .app
        .contacts
        .list
        .as_ref()
        .expect("list")
        .ids
        .iter()
        .take(1000)
        .enumerate()
        .map(|(i, &id)| (i, id))
        .find(|&(_, id)| session.profile(id, None, 0, 1).is_ok_and(|p| p.timeline_total >= 20))
        .expect("a contact with 20 entries");
    for _ in 0..small_pos {
        c.key(KeyCode::Down);
    }
    let mut small_opens = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        c.key(KeyCode::Enter);
        c.settle("the profile", profile_loaded);
        small_opens.push(ms(t));
        c.key(KeyCode::Esc);
    }
    let small_total = session.profile(small, None, 0, 1).expect("profile").timeline_total;
    eprintln!(
        "timeline {big_total}: open p50 {:.1} ms; PageDown x{} p50 {:.3} ms p95 {:.3} ms max {:.3} ms; {} page fetches waited for, max {:.1} ms; small profile ({small_total}) open p50 {:.1} ms",
        pct(&opens, 0.5),
        steps.len(),
        pct(&steps, 0.5),
        pct(&steps, 0.95),
        pct(&steps, 1.0),
        stalls.len(),
        pct(&stalls, 1.0),
        pct(&small_opens, 0.5)
    );
    out.insert(
        "timeline".into(),
        json!({
            "contact": big,
            "key": key,
            "entries": big_total,
            "reached_entry": reached,
            "ten_thousand_or_more": big_total >= 10_000,
            "open_to_first_page_drawn": stats(&opens),
            "page_down": stats(&steps),
            "waits_for_next_page": stats(&stalls),
            "page_through_total_s": round3(page_total / 1000.0),
            "last_line_drawn": last_entry,
            "small_contact": small,
            "small_entries": small_total,
            "small_open_to_first_page_drawn": stats(&small_opens),
        }),
    );

    let peak_console_kb = proc_status("VmHWM:");
    let rss_console_kb = proc_status("VmRSS:");

    // ---- where the time goes: the calls behind the screens, on this thread
    let mut calls = serde_json::Map::new();
    let mut time = |name: &str, f: &mut dyn FnMut()| {
        let mut v = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            f();
            v.push(ms(t));
        }
        eprintln!("call {name:<40} p50 {:9.3} ms  max {:9.3} ms", pct(&v, 0.5), pct(&v, 1.0));
        calls.insert(name.into(), stats(&v));
    };
    use reach::app::contacts::ContactFilter;
    use reach::segment::engine::listing::SortBy;
    let list = session.contact_list(&ContactFilter::All, None, &SortBy::Id, false, &never).expect("list");
    time("contact_list(all, by id)", &mut || {
        session.contact_list(&ContactFilter::All, None, &SortBy::Id, false, &never).expect("list");
    });
    time("contact_list(all, by score desc)", &mut || {
        session.contact_list(&ContactFilter::All, None, &SortBy::Score, true, &never).expect("list");
    });
    let window: Vec<u32> = list.ids.iter().take(c.app.page()).copied().collect();
    time("contact_rows(one page of 42)", &mut || {
        session.contact_rows(&window, &list.facts).expect("rows");
    });
    time("engine last_activity (caches cleared)", &mut || {
        let mut e = session.engine().expect("engine");
        e.clear_caches();
        e.last_activity(now, &never).expect("last activity");
    });
    time("engine lifecycle_of x all contacts", &mut || {
        let mut e = session.engine().expect("engine");
        let n = e.total().expect("total") as u32;
        for i in 0..=n {
            e.lifecycle_of(i, now).expect("lifecycle");
        }
    });
    time(&format!("profile(largest, first 500 of {big_total})"), &mut || {
        session.profile(big, None, 0, 500).expect("profile");
    });
    time(&format!("profile(largest, all {big_total})"), &mut || {
        session.profile(big, None, 0, big_total).expect("profile");
    });
    time(&format!("profile(small, {small_total} entries)"), &mut || {
        session.profile(small, None, 0, 500).expect("profile");
    });
    // the builder's count job for a fresh edit: count, breakdown, preview
    let mut k = runs + 2;
    let base = queries.last().expect("queries").clone();
    let mut fresh = || {
        k += 1;
        reach::segment::parse(&base.replacen(">= 1", &format!(">= {k}"), 1)).expect("parse")
    };
    session.count(&reach::segment::parse(&base).expect("parse"), &never).expect("count");
    time("edit: Session::count", &mut || {
        session.count(&fresh(), &never).expect("count");
    });
    time("edit: count + explain + preview (the job)", &mut || {
        let e = fresh();
        session.count(&e, &never).expect("count");
        session.explain(&e, &never).expect("explain");
        session.preview(&e, 20, &never).expect("preview");
    });
    // each query's count job in parts, result caches cleared before each part's first run
    let mut parts = Vec::new();
    for q in &queries {
        let e = reach::segment::parse(q).expect("parse");
        let (mut count, mut explain, mut preview, mut warm) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut inline, mut lane) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            session.engine().expect("engine").clear_caches();
            let t = Instant::now();
            session.count(&e, &never).expect("count");
            count.push(ms(t));
            let t = Instant::now();
            session.explain(&e, &never).expect("explain");
            explain.push(ms(t));
            let t = Instant::now();
            session.preview(&e, 20, &never).expect("preview");
            preview.push(ms(t));
            let t = Instant::now();
            session.count(&e, &never).expect("count");
            warm.push(ms(t));
            // the whole job on this thread, then on the fast lane (submit to result received)
            session.engine().expect("engine").clear_caches();
            let t = Instant::now();
            let job = Job::Count { expr: e.clone(), preview: PREVIEW };
            reach::console::worker::run(&session, job, &Arc::new(AtomicBool::new(false)), &Shared::default())
                .expect("job");
            inline.push(ms(t));
            session.engine().expect("engine").clear_caches();
            let t = Instant::now();
            c.workers.submit(Lane::Fast, Job::Count { expr: e.clone(), preview: PREVIEW });
            c.rx.recv().expect("lane").result.expect("job");
            lane.push(ms(t));
        }
        eprintln!(
            "job parts p50: count {:7.2} ms, then explain {:7.2} ms, preview {:7.2} ms; count again {:6.2} ms; job {:7.2} ms, on the lane {:7.2} ms  {q}",
            pct(&count, 0.5),
            pct(&explain, 0.5),
            pct(&preview, 0.5),
            pct(&warm, 0.5),
            pct(&inline, 0.5),
            pct(&lane, 0.5)
        );
        parts.push(json!({
            "query": q,
            "count_p50_ms": round3(pct(&count, 0.5)),
            "count_p95_ms": round3(pct(&count, 0.95)),
            "then_explain_p50_ms": round3(pct(&explain, 0.5)),
            "then_preview_p50_ms": round3(pct(&preview, 0.5)),
            "count_again_p50_ms": round3(pct(&warm, 0.5)),
            "job_p50_ms": round3(pct(&inline, 0.5)),
            "job_on_the_fast_lane_p50_ms": round3(pct(&lane, 0.5)),
        }));
    }
    calls.insert("count_job_parts".into(), Value::Array(parts));
    let console_total = session.engine().expect("engine").total().expect("total");
    drop(list);
    drop(session);
    close_console(c);
    // the start again on a fresh session, without the scheduler task beside it
    let (c2, start2) = open_console(db, now, false);
    out.insert("start_without_scheduler".into(), start2);
    close_console(c2);
    // the first count of a session: the builder opened and a query typed
    // at once after the start, while the start's jobs (row facts, saved
    // segments' counts) are under way
    {
        let t0 = Instant::now();
        let (mut c3, _) = open_console_no_wait(db, now);
        c3.key(KeyCode::Char('4'));
        let q = &queries[0];
        for ch in q.chars() {
            c3.key(KeyCode::Char(ch));
        }
        let typed = Instant::now();
        c3.settle("the first count", |a| a.builder.count.is_some() && a.builder.counting.is_none());
        let (to_count, after_typing) = (ms(t0), ms(typed));
        eprintln!(
            "first count of a session: {to_count:.0} ms from Session::open ({after_typing:.0} ms after the last key): {q}"
        );
        out.insert(
            "first_count_of_a_session".into(),
            json!({"query": q, "from_open_ms": round3(to_count), "after_last_key_ms": round3(after_typing)}),
        );
        close_console(c3);
    }
    // the start's jobs one after another on a fresh session (as the fast
    // lane runs them, without the scheduler beside them), each timed
    {
        let s2 = Arc::new(Session::open(std::path::Path::new(db), Config::default(), Clock::Fixed(now)).expect("open"));
        let mut app2 = App::new(Theme::plain(), Keymap::load("default").expect("keymap"), SIZE, db.clone(), now);
        let mut queue = Queue::default();
        app2.start(&mut queue);
        let mut jobs = Vec::new();
        while let Some((id, job)) = queue.jobs.pop_front() {
            let what = app2.pending.get(&id).map(|p| format!("{p:?}")).unwrap_or_default();
            let t = Instant::now();
            let result = reach::console::worker::run(&s2, job, &Arc::new(AtomicBool::new(false)), &Shared::default());
            let d = ms(t);
            eprintln!("start job {what:<12} {d:9.1} ms");
            jobs.push(json!({"job": what, "ms": round3(d)}));
            app2.finish(Finished { ticket: id, result }, &mut queue);
        }
        calls.insert("fresh_session_start_jobs_in_order".into(), Value::Array(jobs));
    }
    // the facts job of the start, from a fresh session: loading the events, then computing
    {
        let s2 = Session::open(std::path::Path::new(db), Config::default(), Clock::Fixed(now)).expect("open");
        let t = Instant::now();
        s2.engine().expect("engine").warm().expect("warm");
        let warm_ms = ms(t);
        let t = Instant::now();
        s2.row_facts(&never).expect("facts");
        let facts_ms = ms(t);
        eprintln!("fresh session: load every column and event {warm_ms:.0} ms, then row facts {facts_ms:.0} ms");
        drop(s2);
        // the first rows' facts from their own events, on another fresh session
        let s3 = Session::open(std::path::Path::new(db), Config::default(), Clock::Fixed(now)).expect("open");
        let ids: Vec<u32> = (1..=reach::app::contacts::EARLY_ROWS as u32).collect();
        let t = Instant::now();
        s3.early_facts(&ids[..42]).expect("early facts");
        let early42 = ms(t);
        let t = Instant::now();
        s3.early_facts(&ids).expect("early facts");
        let early_all = ms(t);
        eprintln!(
            "fresh session: early facts of 42 rows {early42:.1} ms, of {} rows then {early_all:.1} ms",
            ids.len()
        );
        calls.insert("fresh_session_early_facts_42_rows_ms".into(), json!(round3(early42)));
        calls.insert("early_facts_first_rows_ms".into(), json!(round3(early_all)));
        calls.insert("fresh_session_engine_warm_ms".into(), json!(round3(warm_ms)));
        calls.insert("fresh_session_then_row_facts_ms".into(), json!(round3(facts_ms)));
    }
    out.insert("session_calls".into(), Value::Object(calls));

    out.insert(
        "memory".into(),
        json!({
            "peak_rss_mb_console": peak_console_kb / 1024,
            "rss_mb_console": rss_console_kb / 1024,
        }),
    );
    out.insert("contacts".into(), json!(console_total));
    out.insert("runs".into(), json!(runs));
    out.insert("loadavg_after".into(), json!(loadavg()));
    println!("{}", serde_json::to_string_pretty(&Value::Object(out)).expect("json"));
}
