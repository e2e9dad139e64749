//! Slow work off the UI thread. Two lanes, each a thread over the shared
//! `Session`: `Fast` for reads the screens wait on (lists, counts,
//! profiles), `Slow` for commands and writes (the `:` line, saves, status
//! changes, forecasts), so an import never delays a count. Every job has a
//! cancel flag; a job cancelled before or while it runs reports nothing.

use crate::app::campaigns::{CampaignSummary, StatusChange};
use crate::app::contacts::{ContactFilter, ContactList, Profile};
use crate::app::journeys::{JourneyChange, JourneyDetail, JourneySummary};
use crate::app::segments::SegmentSummary;
use crate::app::{AppResult, Session};
use crate::campaign::run::Forecast;
use crate::segment::Expr;
use crate::segment::engine::listing::SortBy;
use crate::segment::engine::{ExplainNode, StoreCatalog};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// A unit of work for a lane.
pub enum Job {
    Contacts {
        filter: ContactFilter,
        within: Option<String>,
        sort: SortBy,
        desc: bool,
    },
    Profile {
        id: u32,
        kind: Option<String>,
        offset: usize,
        limit: usize,
    },
    /// per-contact facts of the contacts table (last activity, lifecycle)
    Facts,
    Tags,
    Segments,
    /// count, per-node breakdown and the first matching ids of an expression
    Count {
        expr: Expr,
        preview: usize,
    },
    /// how a segment's members spread over the lifecycle stages
    Spread {
        expr: Expr,
    },
    Catalog,
    Campaigns,
    Forecast {
        name: String,
    },
    PolicyText,
    SaveSegment {
        name: String,
        src: String,
    },
    DeleteSegment {
        name: String,
    },
    ChangeStatus {
        name: String,
        change: StatusChange,
    },
    SetPolicy {
        text: String,
    },
    PutCampaign {
        text: String,
        replace: bool,
    },
    /// every journey with its counts
    Journeys,
    /// one journey's counts and its steps' outcomes
    JourneyDetail {
        name: String,
    },
    ChangeJourney {
        name: String,
        change: JourneyChange,
    },
    /// the newest entries of the audit log
    Audit {
        limit: usize,
    },
    /// a CLI command line run on the console's own store
    Command {
        args: Vec<String>,
    },
}

impl Job {
    /// The operation a job that changes something is, by the name the
    /// roles know it by (`app::roles`); None for reads. A `Command` is
    /// checked by the command line it runs.
    pub fn operation(&self) -> Option<&'static str> {
        Some(match self {
            Job::SaveSegment { .. } => "segment.save",
            Job::DeleteSegment { .. } => "segment.delete",
            Job::ChangeStatus { change, .. } => match change {
                StatusChange::Schedule => "campaign.schedule",
                StatusChange::Pause => "campaign.pause",
                StatusChange::Cancel => "campaign.cancel",
            },
            Job::SetPolicy { .. } => "policy.set",
            Job::PutCampaign { replace: false, .. } => "campaign.create",
            Job::PutCampaign { replace: true, .. } => "campaign.edit",
            _ => return None,
        })
    }
}

/// What a job produced.
pub enum Output {
    Contacts(ContactList),
    Profile(Box<Profile>),
    Facts(Arc<crate::app::contacts::RowFacts>),
    Tags(Vec<(String, u64)>, u64),
    Segments(Vec<SegmentSummary>, u64),
    Count {
        count: u64,
        total: u64,
        tree: ExplainNode,
        preview: Vec<(u32, String)>,
    },
    Spread(Vec<(&'static str, u64)>),
    Catalog(Box<StoreCatalog>),
    Campaigns(Vec<CampaignSummary>),
    Forecast(String, Forecast),
    PolicyText(String),
    Journeys(Vec<JourneySummary>),
    JourneyDetail(Box<JourneyDetail>),
    /// the newest entries first, and how many the log holds
    Audit(Vec<crate::store::audit::AuditEntry>, u64),
    Done(String),
    CommandOutput {
        text: String,
        ok: bool,
    },
}

/// A finished job: its ticket and result.
pub struct Finished {
    pub ticket: u64,
    pub result: AppResult<Output>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Fast,
    Slow,
}

/// A submitted job's handle: its ticket and its cancel flag.
#[derive(Clone, Debug)]
pub struct Ticket {
    pub id: u64,
    pub cancel: Arc<AtomicBool>,
}

impl Ticket {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// What the lanes share with the front end: stderr lines captured while
/// the console runs, the progress line of a running command, how to
/// wake the front end when it changes, and who the jobs act as (None:
/// this process's user, `console`).
#[derive(Clone, Default)]
pub struct Shared {
    pub capture: Arc<Mutex<Vec<String>>>,
    pub progress: Arc<Mutex<Option<String>>>,
    pub wake: Option<Arc<dyn Fn() + Send + Sync>>,
    pub actor: Option<crate::app::audit::Actor>,
}

struct Queued {
    ticket: Ticket,
    job: Job,
}

/// The two lanes.
pub struct Workers {
    fast: Sender<Queued>,
    slow: Sender<Queued>,
    next: u64,
}

impl Workers {
    /// Starts the lanes; results go to `done` (wrapped by `wrap`).
    pub fn start<M: Send + 'static>(
        session: Arc<Session>,
        done: Sender<M>,
        wrap: fn(Finished) -> M,
        shared: Shared,
    ) -> Workers {
        let lane = |name: &str| {
            let (tx, rx) = channel::<Queued>();
            let (s, d, sh) = (session.clone(), done.clone(), shared.clone());
            let _ = std::thread::Builder::new().name(name.into()).spawn(move || serve(&s, rx, &d, wrap, &sh));
            tx
        };
        Workers { fast: lane("reach-fast"), slow: lane("reach-slow"), next: 1 }
    }

    pub fn submit(&mut self, lane: Lane, job: Job) -> Ticket {
        let ticket = Ticket { id: self.next, cancel: Arc::new(AtomicBool::new(false)) };
        self.next += 1;
        let q = Queued { ticket: ticket.clone(), job };
        let _ = match lane {
            Lane::Fast => self.fast.send(q),
            Lane::Slow => self.slow.send(q),
        };
        ticket
    }
}

fn serve<M>(session: &Arc<Session>, rx: Receiver<Queued>, done: &Sender<M>, wrap: fn(Finished) -> M, shared: &Shared) {
    let mut queue: std::collections::VecDeque<Queued> = std::collections::VecDeque::new();
    loop {
        if queue.is_empty() {
            match rx.recv() {
                Ok(q) => queue.push_back(q),
                Err(_) => return,
            }
        }
        queue.extend(rx.try_iter());
        let Some(q) = next_job(&mut queue) else { continue };
        let result = run(session, q.job, &q.ticket.cancel, shared);
        if q.ticket.cancel.load(Ordering::Relaxed) {
            continue;
        }
        if done.send(wrap(Finished { ticket: q.ticket.id, result })).is_err() {
            return;
        }
    }
}

/// The next job worth running: cancelled ones are skipped, and so is a
/// count with a newer count waiting behind it (typing outran the engine).
fn next_job(queue: &mut std::collections::VecDeque<Queued>) -> Option<Queued> {
    while let Some(q) = queue.pop_front() {
        let stale = matches!(q.job, Job::Count { .. }) && queue.iter().any(|n| matches!(n.job, Job::Count { .. }));
        if !stale && !q.ticket.cancel.load(Ordering::Relaxed) {
            return Some(q);
        }
    }
    None
}

/// Runs one job on the calling thread.
pub fn run(s: &Arc<Session>, job: Job, cancel: &Arc<AtomicBool>, shared: &Shared) -> AppResult<Output> {
    // the changes a job makes are the console's operator's, in the audit
    // log, and only what their role allows
    let actor = shared.actor.clone().unwrap_or_else(|| crate::app::audit::Actor::local("console"));
    crate::app::audit::acting_as(actor, || {
        if let Some(op) = job.operation() {
            crate::app::roles::authorize(op)?;
        }
        run_job(s, job, cancel, shared)
    })
}

fn run_job(s: &Arc<Session>, job: Job, cancel: &Arc<AtomicBool>, shared: &Shared) -> AppResult<Output> {
    let capture = &shared.capture;
    Ok(match job {
        Job::Contacts { filter, within, sort, desc } => {
            Output::Contacts(s.contact_list(&filter, within.as_deref(), &sort, desc, cancel)?)
        }
        Job::Profile { id, kind, offset, limit } => {
            Output::Profile(Box::new(s.profile(id, kind.as_deref(), offset, limit)?))
        }
        Job::Facts => Output::Facts(s.row_facts(cancel)?),
        Job::Tags => {
            let (tags, total) = s.tag_counts()?;
            Output::Tags(tags, total)
        }
        Job::Segments => {
            let list = s.segments(cancel)?;
            Output::Segments(list, s.total_contacts()?)
        }
        Job::Count { expr, preview } => {
            let (count, total) = s.count(&expr, cancel)?;
            let (tree, _) = s.explain(&expr, cancel)?;
            let preview = s.preview(&expr, preview, cancel)?;
            Output::Count { count, total, tree, preview }
        }
        Job::Spread { expr } => Output::Spread(s.lifecycle_spread(&expr, cancel)?),
        Job::Catalog => Output::Catalog(Box::new(s.catalog()?)),
        Job::Campaigns => Output::Campaigns(s.campaigns()?),
        Job::Forecast { name } => {
            let f = s.forecast(&name, None)?;
            Output::Forecast(name, f)
        }
        Job::PolicyText => Output::PolicyText(s.policy_text()?),
        Job::SaveSegment { name, src } => {
            let (_, n) = s.save_segment(&name, &src)?;
            Output::Done(format!("saved segment {name}: {n} contacts"))
        }
        Job::DeleteSegment { name } => {
            s.delete_segment(&name)?;
            Output::Done(format!("deleted segment {name}"))
        }
        Job::ChangeStatus { name, change } => {
            let c = s.change_status(&name, change)?;
            Output::Done(format!("campaign {name} is {}", c.status.as_str()))
        }
        Job::SetPolicy { text } => {
            s.set_policy_text(&text, "policy.toml")?;
            Output::Done("policy saved".into())
        }
        Job::PutCampaign { text, replace } => {
            let (c, _) = s.put_campaign_text(&text, "campaign.toml", replace)?;
            Output::Done(format!("campaign {} saved ({})", c.name, c.status.as_str()))
        }
        Job::Journeys => Output::Journeys(s.journeys()?),
        Job::JourneyDetail { name } => Output::JourneyDetail(Box::new(s.journey_detail(&name)?)),
        Job::Audit { limit } => {
            let (entries, total) = s.audit_latest(limit)?;
            Output::Audit(entries, total)
        }
        Job::ChangeJourney { name, change } => {
            let j = s.change_journey(&name, change)?;
            Output::Done(format!("journey {name} is {}", j.status.as_str()))
        }
        Job::Command { args } => {
            let mut out = Vec::new();
            let before = capture.lock().map(|c| c.len()).unwrap_or(0);
            let hooks = {
                let (slot, wake) = (shared.progress.clone(), shared.wake.clone());
                crate::cli::Hooks {
                    cancel: cancel.clone(),
                    progress: Arc::new(move |p: &str| {
                        if let Ok(mut g) = slot.lock() {
                            *g = Some(p.to_string());
                        }
                        if let Some(w) = &wake {
                            w();
                        }
                    }),
                }
            };
            let r = crate::cli::run_shared(&args, s.clone(), Some(hooks), &mut out);
            if let Ok(mut g) = shared.progress.lock() {
                *g = None;
            }
            let mut text = String::from_utf8_lossy(&out).into_owned();
            if let Ok(c) = capture.lock() {
                for line in c.iter().skip(before) {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            match r {
                Ok(()) => Output::CommandOutput { text, ok: true },
                Err(e) => {
                    text.push_str(&format!("error: {e}"));
                    Output::CommandOutput { text, ok: false }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: u64, job: Job) -> Queued {
        Queued { ticket: Ticket { id, cancel: Arc::new(AtomicBool::new(false)) }, job }
    }

    fn count(src: &str) -> Job {
        Job::Count { expr: crate::segment::parse(src).unwrap(), preview: 0 }
    }

    #[test]
    fn only_the_newest_waiting_count_runs() {
        let mut q: std::collections::VecDeque<Queued> =
            [queued(1, count("tag:a")), queued(2, Job::Tags), queued(3, count("tag:ab")), queued(4, count("tag:abc"))]
                .into_iter()
                .collect();
        q[1].ticket.cancel();
        let ran: Vec<u64> = std::iter::from_fn(|| next_job(&mut q)).map(|j| j.ticket.id).collect();
        assert_eq!(ran, [4]);
    }
}
