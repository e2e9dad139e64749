//! The scheduler as a background task of an owning process (the console,
//! later `reach serve`): a thread running a tokio current-thread runtime
//! that sleeps until the next due moment, wakes early on store changes,
//! decides and delivers, and publishes what it does as `Activity` for a
//! front end to show, with the progress of the campaign being decided and
//! delivered (at most every [`PROGRESS_EVERY`]). Stopping waits for the
//! step in progress to be recorded, so nothing is sent twice or lost.

use super::{Clock, Session};
use crate::campaign::run::{Progress, Scheduler, Totals};
use crate::model::time::format_ts;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What the scheduler is doing, for the Activity screen.
#[derive(Clone, Debug, Default)]
pub struct Activity {
    /// "idle", "deciding and delivering", "stopped", "failed"
    pub state: String,
    /// the next moment something is due
    pub next_due: Option<i64>,
    /// the moment being processed now
    pub working_on: Option<i64>,
    /// how far the campaign being processed is (None between campaigns'
    /// steps; its first report comes once its recipients are known)
    pub progress: Option<Progress>,
    pub totals: Totals,
    /// recent outcomes, newest first: (when, what)
    pub log: VecDeque<(i64, String)>,
    /// bumped on every change, so a front end redraws only then
    pub version: u64,
    /// lines ever added to `log` (a front end printing them keeps its place)
    pub notes: u64,
}

const LOG_LINES: usize = 200;

/// How often the progress of a campaign being processed is published at
/// most (each publication wakes the front end to draw).
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Activity {
    fn note(&mut self, at: i64, what: String) {
        self.log.push_front((at, what));
        self.log.truncate(LOG_LINES);
        self.notes += 1;
        self.version += 1;
    }
}

/// A running scheduler; dropping it without `stop` detaches it.
pub struct SchedulerTask {
    pub activity: Arc<Mutex<Activity>>,
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
    handle: Option<JoinHandle<()>>,
}

impl SchedulerTask {
    /// Starts the scheduler over the session's store. `on_change` is called
    /// with the activity after each update (a front end wakes its loop).
    pub fn start(session: Arc<Session>, on_change: impl Fn(&Activity) + Send + 'static) -> SchedulerTask {
        let activity = Arc::new(Mutex::new(Activity { state: "starting".into(), ..Default::default() }));
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(tokio::sync::Notify::new());
        let (a, s, w) = (activity.clone(), stop.clone(), wake.clone());
        let handle = std::thread::Builder::new()
            .name("scheduler".into())
            .spawn(move || {
                if let Err(e) = run(&session, &a, &s, &w, &on_change) {
                    let mut g = a.lock().unwrap_or_else(|e| e.into_inner());
                    g.state = "failed".into();
                    g.working_on = None;
                    g.progress = None;
                    g.note(session.now(), format!("scheduler stopped: {e}"));
                }
                let snapshot = a.lock().unwrap_or_else(|e| e.into_inner()).clone();
                on_change(&snapshot);
            })
            .ok();
        SchedulerTask { activity, stop, wake, handle }
    }

    /// Asks the scheduler to stop after the step in progress and waits for it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    session: &Session,
    activity: &Mutex<Activity>,
    stop: &AtomicBool,
    wake: &Arc<tokio::sync::Notify>,
    on_change: &dyn Fn(&Activity),
) -> crate::error::Result<()> {
    let update = |f: &mut dyn FnMut(&mut Activity)| {
        let mut g = activity.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g);
        g.version += 1;
        let snapshot = g.clone();
        drop(g);
        on_change(&snapshot);
    };
    let store = session.store().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| crate::error::Error::runtime(format!("cannot start the scheduler: {e}")))?;
    let rx = store.subscribe();
    // the scheduler decides from a snapshot (contacts, consent, segments):
    // a change committed since (an import, a tag, an erasure) renews it
    // before the next step
    let changed = Arc::new(AtomicBool::new(false));
    {
        let (wake, changed) = (wake.clone(), changed.clone());
        std::thread::Builder::new()
            .name("scheduler-changes".into())
            .spawn(move || {
                while let Ok(c) = rx.recv() {
                    // the snapshot holds contacts (consent, timezone), the
                    // schema and the policy; events, tags, segments and
                    // journeys are read from the engine and the store at
                    // each step
                    use crate::store::Change;
                    if matches!(
                        c,
                        Change::Contacts(_) | Change::ContactsDeleted(_) | Change::Schema | Change::Campaigns
                    ) {
                        changed.store(true, Ordering::SeqCst);
                    }
                    wake.notify_one();
                }
            })
            .ok();
    }
    let open = || {
        let mut s = Scheduler::open_with(
            &store,
            Box::new(SessionAudiences(session)),
            session.now(),
            Some(&session.config.delivery),
        )?;
        s.on_progress(PROGRESS_EVERY, |p| update(&mut |a| a.progress = Some(p.clone())));
        Ok::<_, crate::error::Error>(s)
    };
    let mut s = open()?;
    let before = s.totals.clone();
    if s.totals.recovered > 0 {
        let now = session.now();
        update(&mut |a| a.note(now, format!("completed {} interrupted deliveries", before.recovered)));
    }
    rt.block_on(async {
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let now = session.now();
            loop {
                let m = s.next_moment()?;
                if m > now || stop.load(Ordering::SeqCst) {
                    break;
                }
                update(&mut |a| {
                    a.state = "deciding and delivering".into();
                    a.working_on = Some(m);
                });
                if changed.swap(false, Ordering::SeqCst) {
                    let totals = s.totals.clone();
                    drop(s);
                    s = open()?;
                    s.totals = Totals { recovered: totals.recovered + s.totals.recovered, ..totals };
                }
                let was = s.totals.clone();
                s.step(now)?;
                let t = s.totals.clone();
                let warnings: Vec<String> = s.warnings.drain(..).collect();
                update(&mut |a| {
                    a.working_on = None;
                    a.progress = None;
                    a.totals = t.clone();
                    for w in &warnings {
                        a.note(now, format!("failed: {w}"));
                    }
                    if t.decided > was.decided || t.failed > was.failed {
                        a.note(
                            now,
                            format!(
                                "due at {}: decided {}, sent {}, deferred {}, suppressed {}{}",
                                format_ts(m),
                                t.decided - was.decided,
                                t.sent - was.sent,
                                t.deferred - was.deferred,
                                t.suppressed - was.suppressed,
                                if t.failed > was.failed {
                                    format!(", failed at delivery {}", t.failed - was.failed)
                                } else {
                                    String::new()
                                }
                            ),
                        );
                    }
                });
            }
            let next = s.next_moment()?;
            update(&mut |a| {
                a.state = "idle".into();
                a.next_due = Some(next);
            });
            let wait = match session.clock {
                // a fixed clock never reaches the next moment: wait for changes only
                Clock::Fixed(_) => std::time::Duration::from_secs(3600),
                Clock::System => std::time::Duration::from_secs((next - session.now()).clamp(1, 3600) as u64),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
            }
        }
        Ok::<(), crate::error::Error>(())
    })?;
    update(&mut |a| {
        a.state = "stopped".into();
        a.progress = None;
    });
    Ok(())
}

/// The session's warm engine (brought up to date on each use) as the
/// scheduler's audience counter: one engine in the owning process.
struct SessionAudiences<'a>(&'a Session);

impl crate::campaign::run::Audiences for SessionAudiences<'_> {
    fn members(
        &mut self,
        e: &crate::segment::Expr,
        now: i64,
        cancel: &AtomicBool,
    ) -> crate::error::Result<roaring::RoaringBitmap> {
        self.0.engine().map_err(crate::error::Error::from)?.members(e, now, cancel)
    }
    fn count(&mut self, e: &crate::segment::Expr, now: i64, cancel: &AtomicBool) -> crate::error::Result<u64> {
        self.0.engine().map_err(crate::error::Error::from)?.count(e, now, cancel)
    }
    fn event_times(
        &mut self,
        kind: &str,
        filter: Option<&str>,
        lo: i64,
        hi: i64,
    ) -> crate::error::Result<Vec<(i64, u32)>> {
        self.0.engine().map_err(crate::error::Error::from)?.event_times(kind, filter, lo, hi)
    }
    fn first_event_after(&mut self, kind: &str, filter: Option<&str>, after: i64) -> crate::error::Result<Option<i64>> {
        self.0.engine().map_err(crate::error::Error::from)?.first_event_after(kind, filter, after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::campaigns::StatusChange;
    use crate::config::Config;
    use crate::store::{OpenMode, Store};
    use std::time::{Duration, Instant};

    /// 2026-11-24T12:00:00Z
    const NOW: i64 = 1_795_521_600;

    /// The activity published while a campaign of 3,000 recipients is
    /// decided and delivered carries its progress (the first report at
    /// once: whatever the throttle, the front end learns what is being
    /// processed); the publication closing the step clears it.
    #[test]
    fn the_activity_carries_a_campaigns_progress_until_its_step_ends() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("demo.redb");
        {
            let store = Store::open(&db, OpenMode::Create).unwrap();
            let mut w = store.begin_write().unwrap();
            let opts = crate::demo::DemoOptions { contacts: 3000, seed: 7, now: NOW, events_per_contact: 2.0 };
            crate::demo::generate(&mut w, &opts, &mut |_, _, _| {}).unwrap();
            w.commit().unwrap();
        }
        let session = Arc::new(Session::open(&db, Config::default(), Clock::Fixed(NOW)).unwrap());
        let text = "name = \"everyone\"\nchannel = \"sms\"\nsubject = \"\"\nbody = \"Hi {{ first_name }}\"\n\
                    [audience]\ninclude = [\"score >= 0\"]\n[schedule]\nat = \"2026-11-24T12:00:00Z\"\n";
        session.put_campaign_text(text, "everyone.toml", false).unwrap();
        session.change_status("everyone", StatusChange::Schedule).unwrap();

        let seen = Arc::new(Mutex::new(Vec::<Activity>::new()));
        let task = {
            let seen = seen.clone();
            SchedulerTask::start(session.clone(), move |a| seen.lock().unwrap().push(a.clone()))
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let a = task.activity.lock().unwrap().clone();
            if a.state == "idle" && a.totals.decided > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the campaign was not processed: {a:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        task.stop();
        let seen = seen.lock().unwrap();
        let done = seen.iter().rev().find(|a| a.totals.decided > 0).unwrap().totals.clone();
        assert!(done.decided > 1000 && done.sent > 0, "{done:?}");
        let progress: Vec<&Progress> = seen.iter().filter_map(|a| a.progress.as_ref()).collect();
        let first = progress.first().unwrap_or_else(|| panic!("no progress published: {seen:?}"));
        assert_eq!((first.campaign.as_str(), first.decided, first.due), ("everyone", 0, done.decided));
        assert!(progress.iter().all(|p| p.due == done.decided && p.decided <= p.due && p.delivered <= p.sends));
        // every publication with progress is while the moment is worked on
        assert!(seen.iter().filter(|a| a.progress.is_some()).all(|a| a.working_on == Some(NOW)));
        let closing = seen.iter().position(|a| a.totals.decided > 0).unwrap();
        assert!(seen[closing..].iter().all(|a| a.progress.is_none()), "the step's end clears the progress");
    }
}
