//! `reach campaign create|list|show|schedule|pause|cancel|preview`,
//! `reach policy show|set`, `reach scheduler run`.

use super::Ctx;
use super::output::{Format, Records, print_json, resolve};
use crate::app::campaigns::StatusChange;
use crate::campaign::Campaign;
use crate::campaign::run::Scheduler;
use crate::error::{Error, Result};
use crate::model::time::{TimeFormat, Ts, format_ts};
use crate::store::OpenMode;
use clap::Subcommand;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum CampaignCmd {
    /// Create a draft campaign from a TOML or JSON file
    Create {
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Campaigns with their status and schedule
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// A campaign with its runs and statistics
    Show {
        name: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Hand a draft (or paused) campaign to the scheduler
    Schedule { name: String },
    /// Stop scheduling a campaign until it is scheduled again
    Pause { name: String },
    /// Stop a campaign for good
    Cancel { name: String },
    /// Forecast a run without writing anything
    Preview {
        name: String,
        /// The moment to forecast [default: the next run, else now]
        #[arg(long, value_name = "TIMESTAMP")]
        at: Option<String>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// The do-not-disturb policy in force, as TOML
    Show,
    /// Replace the policy with a validated TOML file
    Set { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum SchedulerCmd {
    /// Decide and deliver due campaigns: until a moment in simulated time
    /// (--until, no sleeping), once (--once), or as a long-running task
    Run {
        /// Process what is due now and exit
        #[arg(long, conflicts_with = "until")]
        once: bool,
        /// Simulate time from --now up to this moment, then exit
        #[arg(long, value_name = "TIMESTAMP")]
        until: Option<String>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn parse_ts(s: &str, what: &str) -> Result<Ts> {
    TimeFormat::default().parse(s).map_err(|e| Error::input(format!("{what}: {e}")))
}

fn campaign_json(c: &Campaign) -> serde_json::Value {
    json!({
        "name": c.name, "channel": c.channel, "priority": c.priority, "status": c.status.as_str(),
        "subject": c.subject, "body": c.body,
        "audience": {"include": c.audience.include, "exclude": c.audience.exclude},
        "schedule": c.schedule.describe(),
        "created_at": format_ts(c.created_at), "updated_at": format_ts(c.updated_at),
        "runs": c.runs.iter().map(|r| json!({"run": r.run, "at": format_ts(r.at), "audience": r.audience})).collect::<Vec<_>>(),
        "error": c.error,
    })
}

pub fn run(ctx: &Ctx, cmd: CampaignCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        CampaignCmd::Create { file, format } => {
            let name = file.display().to_string();
            let session = ctx.session()?;
            let text = std::fs::read_to_string(ctx.path(&file)).map_err(|e| Error::input(format!("{name}: {e}")))?;
            let (c, warnings) = session.put_campaign_text(&text, &name, false)?;
            for w in warnings {
                ctx.warn(&format!("warning: {w}"));
            }
            match resolve(format) {
                Format::Table => writeln!(out, "created campaign {} (draft)", c.name)?,
                _ => print_json(&campaign_json(&c), out)?,
            }
            Ok(())
        }
        CampaignCmd::List { format } => {
            let rows = ctx
                .session()?
                .campaign_list()?
                .iter()
                .map(|c| {
                    vec![
                        json!(c.name),
                        json!(c.channel),
                        json!(c.priority),
                        json!(c.status.as_str()),
                        json!(c.schedule.describe()),
                        json!(c.runs.len()),
                    ]
                })
                .collect();
            Records {
                columns: ["name", "channel", "priority", "status", "schedule", "runs"].map(String::from).to_vec(),
                rows,
            }
            .print(resolve(format), out)
        }
        CampaignCmd::Show { name, format } => {
            let session = ctx.session()?;
            let c = session.campaign(&name)?;
            let stats = session.campaign_stats(&name)?;
            match resolve(format) {
                Format::Table => {
                    writeln!(out, "{} ({} {}, {})", c.name, c.channel, c.priority, c.status.as_str())?;
                    writeln!(out, "  schedule   {}", c.schedule.describe())?;
                    writeln!(out, "  audience   {}", c.audience.expression())?;
                    if let Some(e) = &c.error {
                        writeln!(out, "  error      {e}")?;
                    }
                    writeln!(
                        out,
                        "  recipients {}: sent {}, pending {}, deferred {}",
                        stats.audience, stats.sent, stats.pending, stats.deferred
                    )?;
                    for (r, n) in stats.suppressed.iter().filter(|(_, n)| **n > 0) {
                        writeln!(out, "  suppressed {r}: {n}")?;
                    }
                }
                _ => {
                    let mut v = campaign_json(&c);
                    v["stats"] = serde_json::to_value(&stats).map_err(|e| Error::runtime(e.to_string()))?;
                    print_json(&v, out)?;
                }
            }
            Ok(())
        }
        CampaignCmd::Schedule { name } => {
            let c = ctx.session()?.change_status(&name, StatusChange::Schedule)?;
            writeln!(out, "scheduled campaign {name}: {}", c.schedule.describe())?;
            Ok(())
        }
        CampaignCmd::Pause { name } => set_status(ctx, &name, StatusChange::Pause, out),
        CampaignCmd::Cancel { name } => set_status(ctx, &name, StatusChange::Cancel, out),
        CampaignCmd::Preview { name, at, format } => {
            let at = at.map(|a| parse_ts(&a, "--at")).transpose()?;
            let f = ctx.session()?.forecast(&name, at)?;
            match resolve(format) {
                Format::Table => {
                    writeln!(out, "{name} at {}: audience {}", format_ts(f.at), f.audience)?;
                    writeln!(out, "  would send {}, deferred on the way {}", f.send, f.deferred)?;
                    for (r, n) in &f.suppressed {
                        writeln!(out, "  suppressed {r}: {n}")?;
                    }
                }
                _ => print_json(
                    &json!({"name": name, "at": format_ts(f.at), "audience": f.audience, "send": f.send,
                            "deferred": f.deferred, "suppressed": f.suppressed}),
                    out,
                )?,
            }
            Ok(())
        }
    }
}

fn set_status(ctx: &Ctx, name: &str, change: StatusChange, out: &mut dyn Write) -> Result<()> {
    let c = ctx.session()?.change_status(name, change)?;
    writeln!(out, "campaign {name} is {}", c.status.as_str())?;
    Ok(())
}

pub fn run_policy(ctx: &Ctx, cmd: PolicyCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        PolicyCmd::Show => {
            write!(out, "{}", ctx.session()?.policy_text()?)?;
            Ok(())
        }
        PolicyCmd::Set { file } => {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(ctx.path(&file)).map_err(|e| Error::input(format!("{name}: {e}")))?;
            ctx.session()?.set_policy_text(&text, &name)?;
            writeln!(out, "policy set from {name}")?;
            Ok(())
        }
    }
}

pub fn run_scheduler(ctx: &Ctx, cmd: SchedulerCmd, out: &mut dyn Write) -> Result<()> {
    let SchedulerCmd::Run { once, until, format } = cmd;
    let end = match (once, &until) {
        (true, _) => Some(ctx.now),
        (false, Some(u)) => Some(parse_ts(u, "--until")?),
        (false, None) => None,
    };
    let Some(end) = end else {
        return daemon(ctx);
    };
    let store = ctx.open(OpenMode::Existing)?;
    let th = ctx.config.derived.clone();
    let mut s = Scheduler::open(&store, th, ctx.now, Some(&ctx.config.delivery))?;
    if end < ctx.now {
        return Err(Error::input(format!("--until {} is before --now {}", format_ts(end), format_ts(ctx.now))));
    }
    let mut t = ctx.now;
    loop {
        let m = s.next_moment()?.max(t);
        if m > end {
            break;
        }
        s.step(m)?;
        for w in s.warnings.drain(..) {
            ctx.warn(&format!("warning: {w}"));
        }
        t = m;
    }
    let tot = &s.totals;
    match resolve(format) {
        Format::Table => writeln!(
            out,
            "scheduler to {}: {} moments, {} decisions: sent {}, deferred {}, suppressed {}{}; \
             decide+record {} ms, deliver {} ms{}",
            format_ts(end),
            tot.moments,
            tot.decided,
            tot.sent,
            tot.deferred,
            tot.suppressed,
            if tot.failed > 0 { format!(" (failed at delivery {})", tot.failed) } else { String::new() },
            tot.decide_ms,
            tot.deliver_ms,
            if tot.recovered > 0 {
                format!(" ({} interrupted deliveries completed)", tot.recovered)
            } else {
                String::new()
            }
        )
        .and_then(|_| {
            if tot.journey_steps > 0 {
                writeln!(out, "journeys: {} steps, {} ms", tot.journey_steps, tot.journey_ms)
            } else {
                Ok(())
            }
        })?,
        _ => print_json(&json!({"until": format_ts(end), "totals": tot}), out)?,
    }
    Ok(())
}

/// The long-running scheduler on the real clock: the application layer's
/// scheduler task (sleeps until the next due moment, wakes on store
/// changes, never polls), its outcomes printed as they happen, until
/// Ctrl-C or SIGTERM; the step in progress is recorded before it stops.
fn daemon(ctx: &Ctx) -> Result<()> {
    use crate::app::scheduler::{Activity, SchedulerTask};
    use crate::app::{Clock, Session};
    crate::store::lock::announce_owner();
    let session = std::sync::Arc::new(Session::open(&ctx.db, ctx.config.clone(), Clock::System)?);
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM])
        .map_err(|e| Error::runtime(format!("cannot watch signals: {e}")))?;
    // other `reach` commands on this database go through this process meanwhile
    let server = crate::host::server::Server::start(session.clone())?;
    eprintln!("scheduler running on {} (Ctrl-C stops it)", session.store().path().display());
    // each outcome once, oldest first (the log is newest first)
    let printed = std::sync::Mutex::new(0u64);
    let task = SchedulerTask::start(session, move |a: &Activity| {
        let mut p = printed.lock().unwrap_or_else(|e| e.into_inner());
        let new = (a.notes - *p).min(a.log.len() as u64) as usize;
        for (ts, what) in a.log.iter().take(new).rev() {
            eprintln!("{}  {what}", format_ts(*ts));
        }
        *p = a.notes;
    });
    let _ = signals.forever().next();
    server.stop();
    task.stop();
    eprintln!("scheduler stopped");
    Ok(())
}
