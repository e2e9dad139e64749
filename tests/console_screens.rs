//! Every console screen rendered from real demo data into ratatui's
//! TestBackend and compared with committed snapshots (insta): at 80x24 and
//! 160x48, with Unicode and with ASCII symbols. Jobs run synchronously
//! (`SyncRunner`), so each screen is the one an operator would see once
//! its counts arrive.

mod common;

use common::{Env, NOW};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use reach::app::{Clock, Session};
use reach::config::Config;
use reach::console::app::App;
use reach::console::keymap::Keymap;
use reach::console::screens::SyncRunner;
use reach::console::theme::Theme;
use reach::console::ui;
use std::sync::Arc;

fn demo() -> Env {
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "300", "--seed", "7"]).ok();
    env.write(
        "c.toml",
        "name = \"winter_sale\"\nchannel = \"email\"\npriority = \"high\"\nsubject = \"Ciao {{ first_name }}\"\n\
         body = \"Saldi\"\n[audience]\ninclude = [\"tag:vip\"]\n[schedule]\nat = \"2026-11-25T10:00:00Z\"\n",
    );
    env.run(&["--now", NOW, "campaign", "create", "c.toml"]).ok();
    env
}

struct Console {
    app: App,
    runner: SyncRunner,
}

impl Console {
    fn open(env: &Env, size: (u16, u16), theme: Theme) -> Console {
        let now = reach::cli::parse_now(NOW).unwrap();
        let session = Arc::new(Session::open(&env.db, Config::default(), Clock::Fixed(now)).unwrap());
        let mut app = App::new(theme, Keymap::load("default").unwrap(), size, "demo.redb".into(), now);
        let mut runner = SyncRunner::new(session);
        app.start(&mut runner);
        runner.drain(&mut app);
        Console { app, runner }
    }

    fn key(&mut self, code: KeyCode) -> &mut Console {
        self.app.on_key(KeyEvent::new(code, KeyModifiers::NONE), &mut self.runner);
        self.runner.drain(&mut self.app);
        self
    }

    fn ctrl(&mut self, c: char) -> &mut Console {
        self.app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL), &mut self.runner);
        self.runner.drain(&mut self.app);
        self
    }

    fn typed(&mut self, s: &str) -> &mut Console {
        for c in s.chars() {
            self.key(KeyCode::Char(c));
        }
        self
    }

    fn screen(&mut self) -> String {
        let (w, h) = self.app.size;
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| ui::draw(f, &self.app)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            let mut line = String::new();
            for x in 0..w {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The scheduler in the middle of a campaign: 4,000 of 10,000 recipients
/// decided, 900 of the 2,400 decided `sent` so far delivered.
fn deciding_and_delivering() -> reach::app::scheduler::Activity {
    use reach::campaign::run::{Phase, Progress, Totals};
    let now = reach::cli::parse_now(NOW).unwrap();
    let mut a = reach::app::scheduler::Activity {
        state: "deciding and delivering".into(),
        working_on: Some(now),
        next_due: Some(now),
        totals: Totals { moments: 1, decided: 4000, sent: 2400, suppressed: 1600, decide_ms: 12, ..Totals::default() },
        progress: Some(Progress {
            campaign: "winter_sale".into(),
            phase: Phase::Delivering,
            decided: 4000,
            due: 10000,
            delivered: 900,
            sends: 2400,
        }),
        version: 1,
        ..Default::default()
    };
    a.log.push_front((now - 3600, "due at 2026-11-24 11:00: decided 3, sent 1, deferred 0, suppressed 2".into()));
    a
}

/// Every screen at one size and theme, named `{tag}_{screen}`.
fn all_screens(tag: &str, size: (u16, u16), theme: Theme) {
    let env = demo();
    let mut c = Console::open(&env, size, theme);
    let snap = |name: &str, c: &mut Console| {
        insta::assert_snapshot!(format!("{tag}_{name}"), c.screen());
    };
    snap("contacts", &mut c);
    c.key(KeyCode::Char('/')).typed("tag:vip and score > 50").key(KeyCode::Enter);
    snap("contacts_filtered", &mut c);
    c.key(KeyCode::Char('/')).typed(" and (").key(KeyCode::Enter);
    snap("contacts_filter_error", &mut c);
    c.key(KeyCode::Char('/'));
    for _ in 0..6 {
        c.key(KeyCode::Backspace);
    }
    c.key(KeyCode::Enter).key(KeyCode::Down).key(KeyCode::Enter);
    snap("profile", &mut c);
    c.key(KeyCode::Char('f'));
    snap("profile_kind", &mut c);
    c.key(KeyCode::Char('q')).key(KeyCode::Char('2'));
    snap("tags", &mut c);
    c.key(KeyCode::Enter);
    snap("tag_members", &mut c);
    c.key(KeyCode::Char('q')).key(KeyCode::Char('3'));
    snap("segments", &mut c);
    c.key(KeyCode::Char('4')).typed("tag:vip and sum(purchase.amount) > 100 or tag:beta");
    snap("builder", &mut c);
    c.typed(" and tag:");
    snap("builder_error", &mut c);
    c.key(KeyCode::Esc).key(KeyCode::Char('a')).typed("score > 10");
    snap("builder_prompt", &mut c);
    c.key(KeyCode::Enter);
    snap("builder_tree", &mut c);
    c.key(KeyCode::Char('5'));
    snap("campaigns", &mut c);
    c.key(KeyCode::Enter);
    snap("campaign_detail", &mut c);
    c.key(KeyCode::Char('t'));
    snap("campaign_confirm", &mut c);
    c.key(KeyCode::Char('y'));
    snap("campaign_scheduled", &mut c);
    c.key(KeyCode::Char('q')).key(KeyCode::Char('6'));
    snap("policy", &mut c);
    c.key(KeyCode::Char('7'));
    snap("activity", &mut c);
    c.app.scheduler_update(deciding_and_delivering(), &mut c.runner);
    c.runner.drain(&mut c.app);
    snap("activity_progress", &mut c);
    c.key(KeyCode::Char('1')).key(KeyCode::Char('?'));
    snap("help", &mut c);
    c.key(KeyCode::Esc).key(KeyCode::Char(':')).typed("segment count 'tag:vip'").key(KeyCode::Enter);
    snap("command", &mut c);
    c.ctrl('c');
    assert!(c.app.effects.contains(&reach::console::app::Effect::Quit));
}

#[test]
fn screens_80x24() {
    all_screens("80x24", (80, 24), Theme::plain());
}

#[test]
fn screens_160x48() {
    all_screens("160x48", (160, 48), Theme::plain());
}

#[test]
fn screens_ascii() {
    all_screens("ascii", (80, 24), Theme { color: false, unicode: false });
}

#[test]
fn too_small_says_so_and_recovers() {
    let env = demo();
    let mut c = Console::open(&env, (20, 5), Theme::plain());
    insta::assert_snapshot!("too_small", c.screen());
    c.app.resized(80, 24);
    assert!(c.screen().contains("Contacts 300 of 300 contacts"), "{}", c.screen());
}

/// An import started from the `:` line stops when cancelled and leaves the
/// database as it was; without cancelling it reports progress and lands.
#[test]
fn a_command_line_import_reports_progress_and_can_be_cancelled() {
    use reach::console::worker::{Job, Output, Shared, run};
    use std::sync::atomic::AtomicBool;
    let env = demo();
    let now = reach::cli::parse_now(NOW).unwrap();
    let session = Arc::new(Session::open(&env.db, Config::default(), Clock::Fixed(now)).unwrap());
    let file = env.write("ev.csv", "contact,ts,kind\nC0000001,2026-11-20T10:00:00Z,page_view\n");
    let args: Vec<String> = ["import", "events", file.to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    let events = |s: &Session| s.store().begin_read().unwrap().event_count().unwrap();
    let before = events(&session);
    let shared = Shared::default();
    let cancelled = Arc::new(AtomicBool::new(true));
    match run(&session, Job::Command { args: args.clone() }, &cancelled, &shared).unwrap() {
        Output::CommandOutput { text, ok } => {
            assert!(!ok && text.contains("cancelled"), "{text}")
        }
        _ => panic!("expected command output"),
    }
    assert_eq!(events(&session), before);
    let go = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let s2 = seen.clone();
    let shared = Shared { wake: Some(Arc::new(move || s2.lock().unwrap().push("woken".into()))), ..Shared::default() };
    match run(&session, Job::Command { args }, &go, &shared).unwrap() {
        Output::CommandOutput { text, ok } => assert!(ok, "{text}"),
        _ => panic!("expected command output"),
    }
    assert_eq!(events(&session), before + 1);
    assert!(!seen.lock().unwrap().is_empty(), "progress woke the front end");
}

/// The profile's RFM (the engine's derived column) agrees with the
/// per-contact scan of every buyer for each contact of the demo.
#[test]
fn profile_rfm_matches_the_scan_of_all_buyers() {
    let env = demo();
    let now = reach::cli::parse_now(NOW).unwrap();
    let session = Session::open(&env.db, Config::default(), Clock::Fixed(now)).unwrap();
    let r = session.store().begin_read().unwrap();
    let schema = r.schema().unwrap();
    let buyers = reach::derived::summary::Buyers::scan(&r, &schema, now).unwrap();
    let mut buyers_seen = 0;
    for id in 1..=300u32 {
        let want = buyers.rfm_of(id).map(|(a, b, c)| format!("{a}{b}{c}"));
        buyers_seen += want.is_some() as u32;
        assert_eq!(session.profile(id, None, 0, 1).unwrap().rfm, want, "contact {id}");
    }
    assert!(buyers_seen > 50, "{buyers_seen}");
}

/// The scheduler running inside an owner process decides from what is in
/// the store now: a tag added and a campaign scheduled after it started
/// (through the application layer, as the console does) are delivered.
#[test]
fn the_console_scheduler_sees_changes_made_after_it_started() {
    use reach::app::campaigns::StatusChange;
    use reach::app::scheduler::SchedulerTask;
    use std::time::{Duration, Instant};
    let env = demo();
    let now = reach::cli::parse_now(NOW).unwrap();
    let session = Arc::new(Session::open(&env.db, Config::default(), Clock::Fixed(now)).unwrap());
    let task = SchedulerTask::start(session.clone(), |_| {});
    let wait_for = |what: &str, ok: &dyn Fn(&reach::app::scheduler::Activity) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = task.activity.lock().unwrap().clone();
            if ok(&a) {
                return a;
            }
            assert!(Instant::now() < deadline, "{what}: {a:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("idle", &|a| a.state == "idle");
    let mut out = Vec::new();
    let args: Vec<String> = ["tags", "add", "late_tag", "--contact", "C0000002", "--contact", "C0000003"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    reach::cli::run_shared(&args, session.clone(), None, &mut out).unwrap();
    let text = "name = \"late\"\nchannel = \"email\"\nsubject = \"Hi\"\nbody = \"Hello\"\n\
                [audience]\ninclude = [\"tag:late_tag\"]\n[schedule]\nat = \"2026-11-24T12:00:00Z\"\n";
    session.put_campaign_text(text, "late.toml", false).unwrap();
    session.change_status("late", StatusChange::Schedule).unwrap();
    let a = wait_for("the late campaign decided", &|a| a.totals.decided >= 2);
    let stats = session.campaigns().unwrap().into_iter().find(|c| c.campaign.name == "late").unwrap().stats;
    assert_eq!(stats.audience, 2, "{a:?}");
    task.stop();
}

/// Quick text matches ids (digits only), emails, external ids and names,
/// ignoring case.
#[test]
fn quick_text_filter_matches_ids_emails_and_names() {
    use reach::app::contacts::ContactFilter;
    use reach::segment::engine::listing::SortBy;
    let env = demo();
    let now = reach::cli::parse_now(NOW).unwrap();
    let session = Session::open(&env.db, Config::default(), Clock::Fixed(now)).unwrap();
    let never = std::sync::atomic::AtomicBool::new(false);
    let ids = |t: &str| {
        session.contact_list(&ContactFilter::Text(t.into()), None, &SortBy::Id, false, &never).unwrap().ids.to_vec()
    };
    // "241": id 241, and every email or external id containing 241
    assert!(ids("241").contains(&241));
    assert!(ids("FONTANA").contains(&1), "names match whatever the case");
    assert_eq!(ids("francesco.fontana241@"), vec![241]);
    assert!(ids("zzzz-no-such").is_empty());
}

/// The facts the first screen shows before the whole table's are ready
/// (each contact's own events) are the ones `row_facts` computes from every
/// event of every kind, for every contact of the demo.
#[test]
fn early_row_facts_agree_with_the_full_ones() {
    use reach::app::contacts::{ContactFilter, EARLY_ROWS};
    use reach::segment::engine::listing::SortBy;
    let env = demo();
    let now = reach::cli::parse_now(NOW).unwrap();
    let session = Session::open(&env.db, Config::default(), Clock::Fixed(now)).unwrap();
    let never = std::sync::atomic::AtomicBool::new(false);
    let list = session.contact_list(&ContactFilter::All, None, &SortBy::Id, false, &never).unwrap();
    assert!(!list.facts.complete);
    assert_eq!(list.facts.early.len(), EARLY_ROWS.min(list.ids.len()), "the first rows come with their facts");
    let early = session.early_facts(&list.ids).unwrap();
    let full = session.row_facts(&never).unwrap();
    assert!(full.complete);
    let mut with_events = 0;
    for &id in list.ids.iter() {
        let (last, stage) = early[&id];
        assert_eq!(last, full.last_activity[id as usize], "last activity of {id}");
        assert_eq!(stage, full.lifecycle[id as usize], "lifecycle of {id}");
        with_events += usize::from(last != reach::app::contacts::NO_TIME);
    }
    assert!(with_events > 100, "the demo's contacts have events: {with_events}");
    // the rows read either way are the same
    let head = &list.ids[..20];
    assert_eq!(session.contact_rows(head, &list.facts).unwrap(), session.contact_rows(head, &full).unwrap());
}

/// Changes made by someone else while the console is open (here through
/// the session, as a command through the owner's socket does) reach the
/// screens: the store's change feed, summarised, makes the tags list, the
/// contacts list, the saved segments and the builder's count ask again.
#[test]
fn changes_made_by_others_reach_the_screens() {
    use reach::console::app::Changed;
    let env = demo();
    let mut c = Console::open(&env, (80, 24), Theme::plain());
    let session = c.runner.session.clone();
    let feed = session.store().subscribe();
    // the builder counting the tag that is about to appear
    c.key(KeyCode::Char('4')).typed("tag:from_cli");
    assert!(c.screen().contains("0 of 300"), "{}", c.screen());
    c.key(KeyCode::Esc);
    let ids: roaring::RoaringBitmap = (1..=25).collect();
    assert_eq!(session.change_tag("from_cli", &ids, true, "test").unwrap(), 25);
    let mut changed = Changed::default();
    for ch in feed.try_iter() {
        changed.add(&ch);
    }
    assert!(changed.tags, "the store told of the tag: {changed:?}");
    c.app.data_changed(changed, &mut c.runner);
    c.runner.drain(&mut c.app);
    assert!(c.screen().contains("25 of 300"), "the builder recounted: {}", c.screen());
    c.key(KeyCode::Char('2'));
    let tags = c.screen();
    assert!(tags.contains("from_cli") && tags.contains("25"), "{tags}");
}

/// The demo with the three shipped journeys: abandoned_cart active with
/// runs as the scheduler leaves them (waiting at both waits and at the
/// second one, sent, suppressed at its cap, a goal, completed), reactivation
/// paused, prospect_nurture a draft.
fn journeys_demo() -> Env {
    use reach::journey::model::{Enrollment, RunState, StepRecord};
    let env = demo();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo_data/journeys");
    for name in ["abandoned_cart", "reactivation", "prospect_nurture"] {
        env.run(&["--now", NOW, "journey", "create", dir.join(format!("{name}.toml")).to_str().unwrap()]).ok();
    }
    for (name, verb) in [("abandoned_cart", "start"), ("reactivation", "start"), ("reactivation", "pause")] {
        env.run(&["--now", NOW, "journey", verb, name]).ok();
    }
    let now = reach::cli::parse_now(NOW).unwrap();
    let session = Session::open(&env.db, Config::default(), Clock::Fixed(now)).unwrap();
    let mut w = session.store().begin_write().unwrap();
    // (contact, the steps it went through with their outcomes, where it is)
    let waiting = |step: u32| RunState::Waiting { until: now + 3600 * (step as i64 + 1) };
    type Run = (u32, Vec<(u32, &'static str)>, u32, RunState);
    let cart: Vec<Run> = vec![
        (1, vec![(0, "then"), (1, "else")], 2, waiting(2)),
        (2, vec![(0, "then"), (1, "else")], 2, waiting(2)),
        (3, vec![(0, "then"), (1, "else")], 2, waiting(2)),
        (4, vec![(0, "then"), (1, "then")], 3, waiting(3)),
        (5, vec![(0, "then"), (1, "else"), (2, "waited"), (4, "sent")], 5, waiting(5)),
        (
            6,
            vec![(0, "then"), (1, "else"), (2, "waited"), (4, "sent")],
            5,
            RunState::Exited { at: now, reason: "goal".into() },
        ),
        (
            7,
            vec![
                (0, "then"),
                (1, "else"),
                (2, "waited"),
                (4, "suppressed(cap(email 1/1d))"),
                (5, "waited"),
                (6, "else"),
            ],
            8,
            RunState::Completed { at: now },
        ),
        (8, vec![(0, "else")], 8, RunState::Completed { at: now }),
    ];
    for (contact, steps, step, state) in cart {
        for (i, outcome) in steps {
            w.record_step(
                "abandoned_cart",
                contact,
                1,
                i,
                &StepRecord { at: now - 7200, outcome: outcome.into(), code: None, deferred: false },
            )
            .unwrap();
        }
        let e = Enrollment {
            run: 1,
            entered_at: now - 86_400,
            step,
            since: now - 3600,
            state,
            entry_event: None,
            phase: Default::default(),
        };
        w.put_enrollment("abandoned_cart", contact, &e).unwrap();
    }
    w.commit().unwrap();
    env
}

/// The Journeys screen at one size and theme: the list over the selected
/// journey's steps, a journey's detail, a start confirmed, a refusal.
fn journey_screens(tag: &str, size: (u16, u16), theme: Theme) {
    let env = journeys_demo();
    let mut c = Console::open(&env, size, theme);
    let snap = |name: &str, c: &mut Console| {
        insta::assert_snapshot!(format!("{tag}_{name}"), c.screen());
    };
    c.key(KeyCode::Char('8'));
    snap("journeys", &mut c);
    c.key(KeyCode::Enter);
    snap("journey_detail", &mut c);
    c.key(KeyCode::Char('q')).key(KeyCode::End);
    snap("journeys_last", &mut c);
    c.key(KeyCode::Char('t'));
    snap("journey_confirm", &mut c);
    c.key(KeyCode::Char('y'));
    snap("journey_started", &mut c);
    c.key(KeyCode::Char('t')).key(KeyCode::Char('y'));
    snap("journey_refused", &mut c);
}

#[test]
fn journeys_80x24() {
    journey_screens("80x24", (80, 24), Theme::plain());
}

#[test]
fn journeys_160x48() {
    journey_screens("160x48", (160, 48), Theme::plain());
}

#[test]
fn journeys_ascii() {
    journey_screens("ascii", (80, 24), Theme { color: false, unicode: false });
}

/// Runs written while the Journeys screen is open (by the scheduler, here
/// through the store) reach it through the change feed: the list's counts
/// and the steps' counts follow.
#[test]
fn the_journeys_screen_follows_the_store() {
    use reach::console::app::Changed;
    use reach::journey::model::{Enrollment, RunState, StepRecord};
    let env = journeys_demo();
    let mut c = Console::open(&env, (100, 30), Theme::plain());
    c.key(KeyCode::Char('8'));
    let before = c.screen();
    let row = |s: &str| s.lines().find(|l| l.starts_with("abandoned_cart")).unwrap_or_default().to_string();
    assert!(row(&before).split_whitespace().any(|w| w == "8"), "8 entered:\n{before}");
    let session = c.runner.session.clone();
    let feed = session.store().subscribe();
    let now = reach::cli::parse_now(NOW).unwrap();
    let mut w = session.store().begin_write().unwrap();
    for contact in 20..25 {
        w.record_step(
            "abandoned_cart",
            contact,
            1,
            4,
            &StepRecord { at: now, outcome: "sent".into(), code: None, deferred: false },
        )
        .unwrap();
        let e = Enrollment {
            run: 1,
            entered_at: now,
            step: 5,
            since: now,
            state: RunState::Waiting { until: now + 1 },
            entry_event: None,
            phase: Default::default(),
        };
        w.put_enrollment("abandoned_cart", contact, &e).unwrap();
    }
    w.commit().unwrap();
    let mut changed = Changed::default();
    for ch in feed.try_iter() {
        changed.add(&ch);
    }
    assert!(changed.journeys, "{changed:?}");
    c.app.data_changed(changed, &mut c.runner);
    c.runner.drain(&mut c.app);
    let after = c.screen();
    assert!(row(&after).split_whitespace().any(|w| w == "13"), "13 entered:\n{after}");
    let reminder = after.lines().find(|l| l.trim_start().starts_with("reminder")).unwrap_or_default();
    assert!(reminder.split_whitespace().any(|w| w == "7"), "2 + 5 sent at the reminder:\n{after}");
}

/// The Audit screen over changes made by three operators through three ways
/// in (named here, so the snapshots do not depend on who runs the tests):
/// newest first, the selected entry in full below; a change made while it
/// is shown comes in on top, and the selection stays on its entry.
fn audit_screens(tag: &str, size: (u16, u16), theme: Theme) {
    use reach::app::audit::{Actor, acting_as};
    use reach::app::roles::Role;
    use reach::console::app::Changed;
    let env = Env::new();
    env.run(&["--now", NOW, "demo", "--contacts", "300", "--seed", "7"]).ok();
    let mut c = Console::open(&env, size, theme);
    let session = c.runner.session.clone();
    let as_ = |who: &str, via: &str, role| Actor { who: who.into(), via: via.into(), role };
    let ids = |r: std::ops::RangeInclusive<u32>| r.collect::<roaring::RoaringBitmap>();
    acting_as(as_("anna", "ssh", Role::Admin), || session.change_tag("spring_promo", &ids(1..=40), true, "ssh"))
        .unwrap();
    acting_as(as_("eve", "ssh", Role::Editor), || {
        session.save_segment("spring_buyers", "tag:spring_promo and sum(purchase.amount, last 90d) > 100")
    })
    .unwrap();
    acting_as(as_("cron", "cli via owner (pid 4242)", Role::Admin), || {
        session.change_tag("spring_promo", &ids(35..=40), false, "cli")
    })
    .unwrap();
    acting_as(as_("anna", "console", Role::Admin), || {
        session.set_policy_text("timezone = \"Europe/Rome\"\n", "p.toml")
    })
    .unwrap();
    let feed = session.store().subscribe();
    let snap = |name: &str, c: &mut Console| {
        insta::assert_snapshot!(format!("{tag}_{name}"), c.screen());
    };
    c.key(KeyCode::Char('9'));
    snap("audit", &mut c);
    c.key(KeyCode::Down).key(KeyCode::Down);
    snap("audit_selected", &mut c);
    // a change by another operator while the screen is shown
    acting_as(as_("vic", "ssh", Role::Editor), || session.change_tag("late", &ids(1..=3), true, "ssh")).unwrap();
    let mut changed = Changed::default();
    for ch in feed.try_iter() {
        changed.add(&ch);
    }
    assert!(changed.audit, "the store told of the entry: {changed:?}");
    c.app.data_changed(changed, &mut c.runner);
    c.runner.drain(&mut c.app);
    let screen = c.screen();
    assert!(screen.contains("5 changes"), "{screen}");
    snap("audit_followed", &mut c);
}

#[test]
fn audit_80x24() {
    audit_screens("80x24", (80, 24), Theme::plain());
}

#[test]
fn audit_160x48() {
    audit_screens("160x48", (160, 48), Theme::plain());
}

#[test]
fn audit_ascii() {
    audit_screens("ascii", (80, 24), Theme { color: false, unicode: false });
}
