//! The application layer: one `Session` on a database that every front end
//! (the scripted CLI, the console, the owner's socket and SSH sessions) calls.
//! It owns the store, one warm segment engine kept current by the store's
//! change notifications, the configuration and the clock, and answers with
//! typed values and typed errors (`AppError`). It never prints, never
//! exits and knows no command-line flag or terminal.

pub mod audit;
pub mod campaign_file;
pub mod campaigns;
pub mod contacts;
pub mod error;
pub mod exports;
pub mod imports;
pub mod journeys;
pub mod roles;
pub mod scheduler;
pub mod schema;
pub mod segment_history;
pub mod segments;
pub mod selection;
pub mod stats;

pub use error::{AppError, AppResult};

use crate::config::Config;
use crate::segment::engine::Engine;
use crate::store::{Change, OpenMode, Store};
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where "now" comes from: the real clock, or a fixed instant (`--now`,
/// demo data and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    System,
    Fixed(i64),
}

impl Clock {
    pub fn now(self) -> i64 {
        match self {
            Clock::System => crate::model::time::now_ts(),
            Clock::Fixed(t) => t,
        }
    }
}

/// The warm engine and the change feed that keeps it current.
struct Warm {
    engine: Engine,
    changes: Receiver<Change>,
}

pub struct Session {
    store: Arc<Store>,
    warm: Mutex<Option<Warm>>,
    /// the contacts table's per-contact facts, by engine generation
    row_facts: Mutex<Option<(u64, Arc<contacts::RowFacts>)>>,
    /// callers waiting for the engine: background work done in steps lets
    /// them in between steps (the lock itself is not fair)
    waiting: std::sync::atomic::AtomicUsize,
    pub config: Config,
    pub clock: Clock,
}

impl Session {
    /// Opens the database (it must exist) for this process.
    pub fn open(db: &Path, config: Config, clock: Clock) -> AppResult<Session> {
        let store = Store::open(db, OpenMode::Existing)?;
        Ok(Session::over(Arc::new(store), config, clock))
    }

    /// A session over a store that is already open.
    pub fn over(store: Arc<Store>, config: Config, clock: Clock) -> Session {
        Session {
            store,
            warm: Mutex::new(None),
            row_facts: Mutex::new(None),
            waiting: Default::default(),
            config,
            clock,
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The warm engine, brought up to date with every change committed
    /// since it was last used. Loaded on first use.
    pub fn engine(&self) -> AppResult<EngineGuard<'_>> {
        self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let g = self.warm.lock();
        self.waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        let mut g = g.unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            None => {
                let changes = self.store.subscribe();
                let engine = Engine::new(self.store.begin_read()?, self.config.derived.clone())?;
                *g = Some(Warm { engine, changes });
            }
            Some(w) => {
                // a front end told of a commit may ask before the writer has
                // sent that commit's changes on to this channel
                self.store.settled();
                // an audit entry alone changes nothing the engine holds
                let pending: Vec<Change> = w.changes.try_iter().filter(|c| *c != Change::Audit).collect();
                if !pending.is_empty() {
                    w.engine.apply(&pending, self.store.begin_read()?)?;
                }
            }
        }
        Ok(EngineGuard(g))
    }

    /// For background work between two steps that each take the engine:
    /// waits while others wait for it, so a count asked meanwhile (the
    /// builder's) goes first instead of after every step.
    pub(crate) fn let_others_in(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.waiting.load(std::sync::atomic::Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
    }
}

/// Exclusive use of the warm engine for one operation.
pub struct EngineGuard<'a>(MutexGuard<'a, Option<Warm>>);

impl std::ops::Deref for EngineGuard<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0.as_ref().expect("engine loaded").engine
    }
}

impl std::ops::DerefMut for EngineGuard<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        &mut self.0.as_mut().expect("engine loaded").engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::contact::Contact;

    fn add_contact(store: &Store) {
        let mut w = store.begin_write().unwrap();
        let id = w.new_contact_id().unwrap();
        w.put_new_contacts(&[Contact { id, created_at: 1_700_000_000_000, ..Default::default() }]).unwrap();
        w.commit().unwrap();
    }

    /// A front end told of a commit (it subscribed before the engine did,
    /// as a console does) and asking the engine at once sees that commit:
    /// the engine takes every change whose publishing had begun, even when
    /// the writer is still sending it to the subscribers after the front end.
    #[test]
    fn a_front_end_told_of_a_commit_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("t.redb"), OpenMode::Create).unwrap());
        let front = store.subscribe();
        let session = Arc::new(Session::over(store.clone(), Config::default(), Clock::Fixed(0)));
        assert_eq!(session.engine().unwrap().total().unwrap(), 0);
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    add_contact(&store);
                }
            })
        };
        const ROUNDS: u64 = 400;
        let mut seen = 0;
        while seen < ROUNDS {
            match front.recv_timeout(std::time::Duration::from_secs(60)).expect("the writer stalled") {
                Change::Contacts(_) => seen += 1,
                _ => continue,
            }
            let total = session.engine().unwrap().total().unwrap();
            assert!(total >= seen, "told of {seen} commits, the engine counts {total}");
        }
        writer.join().unwrap();
    }
}
