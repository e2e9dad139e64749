//! `reach campaign create|list|show|schedule|pause|cancel|preview`,
//! `reach policy show|set`, `reach scheduler run`.

use super::Ctx;
use super::output::{Format, Records, print_json, resolve};
use crate::campaign::run::{Scheduler, campaign_stats};
use crate::campaign::template::Templates;
use crate::campaign::{Audience, Campaign, Channel, Every, Priority, Schedule, Status, parse_policy};
use crate::error::{Error, Result};
use crate::model::time::{TimeFormat, Ts, format_ts};
use crate::store::{OpenMode, Store};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// A campaign file as written by people (see campaigns.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    name: String,
    channel: String,
    #[serde(default = "normal")]
    priority: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    audience: AudienceFile,
    schedule: Option<ScheduleFile>,
}

fn normal() -> String {
    "normal".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AudienceFile {
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleFile {
    at: Option<String>,
    every: Option<String>,
    time: Option<String>,
    timezone: Option<String>,
    #[serde(default)]
    local_time: bool,
    #[serde(default)]
    once_per_contact: bool,
}

fn parse_ts(s: &str, what: &str) -> Result<Ts> {
    TimeFormat::default().parse(s).map_err(|e| Error::input(format!("{what}: {e}")))
}

/// Reads and validates a campaign file against the store; every error is
/// an input error `FILE: reason` (or `FILE:line: reason` for syntax).
fn read_campaign(store: &Store, path: &Path, now: Ts) -> Result<Campaign> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::input(format!("{name}: {e}")))?;
    let is_json = path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    let f: CampaignFile = if is_json {
        serde_json::from_str(&text).map_err(|e| Error::input(format!("{name}:{}: {e}", e.line())))?
    } else {
        toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(1, |s| crate::config::line_of(&text, s.start));
            Error::input(format!("{name}:{line}: {}", e.message().trim()))
        })?
    };
    let bad = |reason: String| Error::input(format!("{name}: {reason}"));
    if !crate::model::schema::valid_name(&f.name) {
        return Err(bad(format!("`{}` is not a valid campaign name (letters, digits, _ and -)", f.name)));
    }
    let channel: Channel = f.channel.parse().map_err(bad)?;
    let priority: Priority = f.priority.parse().map_err(bad)?;
    if f.audience.include.is_empty() {
        return Err(bad("audience.include is empty (name at least one segment, tag or expression)".into()));
    }
    for (list, what) in [(&f.audience.include, "include"), (&f.audience.exclude, "exclude")] {
        for e in list {
            super::segment::parse_expr(store, e, None)
                .map_err(|err| bad(format!("audience.{what} `{e}`: {}", err.message)))?;
        }
    }
    Templates::compile(channel, &f.subject, &f.body).map_err(|e| bad(e.message))?;
    let schedule = match f.schedule {
        None => None,
        Some(s) => Some(read_schedule(s, now).map_err(bad)?),
    };
    let schedule = schedule.unwrap_or(Schedule {
        at: None,
        every: None,
        time: None,
        timezone: None,
        local_time: false,
        once_per_contact: false,
    });
    Ok(Campaign {
        name: f.name,
        channel,
        priority,
        status: Status::Draft,
        subject: f.subject,
        body: f.body,
        audience: Audience { include: f.audience.include, exclude: f.audience.exclude },
        schedule,
        created_at: now,
        updated_at: now,
        cursor: None,
        runs: Vec::new(),
        error: None,
    })
}

fn read_schedule(s: ScheduleFile, now: Ts) -> std::result::Result<Schedule, String> {
    if let Some(z) = &s.timezone {
        z.parse::<chrono_tz::Tz>().map_err(|_| {
            format!("schedule.timezone: unknown timezone `{z}` (expected an IANA name such as Europe/Rome)")
        })?;
    }
    let out = Schedule {
        at: None,
        every: None,
        time: None,
        timezone: s.timezone,
        local_time: s.local_time,
        once_per_contact: s.once_per_contact,
    };
    match (s.at, s.every) {
        (Some(_), Some(_)) => Err("schedule: give either `at` or `every`, not both".into()),
        (None, None) => Err("schedule: give `at` (a time) or `every` (day, monday … sunday) with `time`".into()),
        (Some(at), None) => {
            if s.time.is_some() {
                return Err("schedule.time goes with `every`, not with `at`".into());
            }
            let at = TimeFormat::default().parse(&at).map_err(|e| format!("schedule.at: {e}"))?;
            if at < now {
                return Err(format!("schedule.at {} is in the past (now is {})", format_ts(at), format_ts(now)));
            }
            Ok(Schedule { at: Some(at), ..out })
        }
        (None, Some(every)) => {
            let every = Every::parse(&every)?;
            let time = s.time.ok_or("schedule.time is required with `every` (HH:MM)")?;
            let t = chrono::NaiveTime::parse_from_str(&time, "%H:%M")
                .map_err(|_| format!("schedule.time `{time}` is not HH:MM"))?;
            use chrono::Timelike;
            Ok(Schedule { every: Some(every), time: Some(t.hour() * 60 + t.minute()), ..out })
        }
    }
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

fn get(store: &Store, name: &str) -> Result<Campaign> {
    store.begin_read()?.campaign(name)?.ok_or_else(|| Error::input(format!("no campaign named `{name}`")))
}

pub fn run(ctx: &Ctx, cmd: CampaignCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        CampaignCmd::Create { file, format } => {
            let store = ctx.open(OpenMode::Existing)?;
            let c = read_campaign(&store, &file, ctx.now)?;
            let mut w = store.begin_write()?;
            if w.campaign(&c.name)?.is_some() {
                return Err(Error::input(format!("{}: campaign `{}` already exists", file.display(), c.name)));
            }
            w.put_campaign(&c)?;
            w.commit()?;
            match resolve(format) {
                Format::Table => writeln!(out, "created campaign {} (draft)", c.name)?,
                _ => print_json(&campaign_json(&c), out)?,
            }
            Ok(())
        }
        CampaignCmd::List { format } => {
            let store = ctx.open(OpenMode::Existing)?;
            let rows = store
                .begin_read()?
                .campaigns()?
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
            let store = ctx.open(OpenMode::Existing)?;
            let c = get(&store, &name)?;
            let stats = campaign_stats(&store, &name)?;
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
            let store = ctx.open(OpenMode::Existing)?;
            let mut c = get(&store, &name)?;
            if !matches!(c.status, Status::Draft | Status::Paused) {
                return Err(Error::input(format!(
                    "campaign {name} is {}; only a draft or paused one can be scheduled",
                    c.status.as_str()
                )));
            }
            if c.schedule.at.is_none() && c.schedule.every.is_none() {
                return Err(Error::input(format!("campaign {name} has no [schedule]")));
            }
            if let Some(at) = c.schedule.at
                && at < ctx.now
                && c.status == Status::Draft
            {
                return Err(Error::input(format!(
                    "campaign {name}: schedule.at {} is in the past (now is {})",
                    format_ts(at),
                    format_ts(ctx.now)
                )));
            }
            // runs missed while paused are skipped
            c.cursor = Some(c.cursor.unwrap_or(ctx.now - 1).max(ctx.now - 1));
            c.status = Status::Scheduled;
            c.error = None;
            c.updated_at = ctx.now;
            let mut w = store.begin_write()?;
            w.put_campaign(&c)?;
            w.commit()?;
            writeln!(out, "scheduled campaign {name}: {}", c.schedule.describe())?;
            Ok(())
        }
        CampaignCmd::Pause { name } => set_status(ctx, &name, Status::Paused, out),
        CampaignCmd::Cancel { name } => set_status(ctx, &name, Status::Cancelled, out),
        CampaignCmd::Preview { name, at, format } => {
            let store = ctx.open(OpenMode::Existing)?;
            let c = get(&store, &name)?;
            let mut s = Scheduler::open(&store, ctx.config.derived.clone(), ctx.now, None)?;
            let at = match at {
                Some(a) => parse_ts(&a, "--at")?,
                None => {
                    let from = c.cursor.unwrap_or(ctx.now - 1).max(ctx.now - 1);
                    let zones = [s.policy().timezone];
                    c.schedule.next_due(from, s.policy().timezone, &zones).map_or(ctx.now, |(t, _)| t)
                }
            };
            let f = s.forecast(&c, at)?;
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

fn set_status(ctx: &Ctx, name: &str, to: Status, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open(OpenMode::Existing)?;
    let mut c = get(&store, name)?;
    let ok = match to {
        Status::Paused => c.status.is_active(),
        _ => !matches!(c.status, Status::Done | Status::Cancelled),
    };
    if !ok {
        return Err(Error::input(format!("campaign {name} is {}; cannot make it {}", c.status.as_str(), to.as_str())));
    }
    c.status = to;
    c.updated_at = ctx.now;
    let mut w = store.begin_write()?;
    w.put_campaign(&c)?;
    w.commit()?;
    writeln!(out, "campaign {name} is {}", to.as_str())?;
    Ok(())
}

pub fn run_policy(ctx: &Ctx, cmd: PolicyCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        PolicyCmd::Show => {
            let store = ctx.open(OpenMode::Existing)?;
            write!(out, "{}", store.begin_read()?.policy()?.to_toml())?;
            Ok(())
        }
        PolicyCmd::Set { file } => {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| Error::input(format!("{name}: {e}")))?;
            parse_policy(&text, &name).map_err(|e| Error::input(e.to_string()))?;
            let store = ctx.open(OpenMode::Existing)?;
            let mut w = store.begin_write()?;
            w.put_policy(&text)?;
            w.commit()?;
            writeln!(out, "policy set from {name}")?;
            Ok(())
        }
    }
}

pub fn run_scheduler(ctx: &Ctx, cmd: SchedulerCmd, out: &mut dyn Write) -> Result<()> {
    let SchedulerCmd::Run { once, until, format } = cmd;
    let store = ctx.open(OpenMode::Existing)?;
    let th = ctx.config.derived.clone();
    let mut s = Scheduler::open(&store, th, ctx.now, Some(&ctx.config.delivery))?;
    let end = match (once, &until) {
        (true, _) => Some(ctx.now),
        (false, Some(u)) => Some(parse_ts(u, "--until")?),
        (false, None) => None,
    };
    let Some(end) = end else {
        return daemon(&store, s);
    };
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
        )?,
        _ => print_json(&json!({"until": format_ts(end), "totals": tot}), out)?,
    }
    Ok(())
}

/// The long-running scheduler: a tokio task that sleeps until the next due
/// moment (real clock), wakes early on a store change notification, and
/// stops on Ctrl-C. Never polls.
fn daemon(store: &Store, mut s: Scheduler<'_>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .enable_io()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start the scheduler: {e}")))?;
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let rx = store.subscribe();
    {
        let wake = wake.clone();
        std::thread::spawn(move || {
            while rx.recv().is_ok() {
                wake.notify_one();
            }
        });
    }
    eprintln!("scheduler running on {} (Ctrl-C stops it)", store.path().display());
    rt.block_on(async {
        loop {
            let now = crate::model::time::now_ts();
            loop {
                let m = s.next_moment()?;
                if m > now {
                    break;
                }
                s.step(now)?;
            }
            let next = s.next_moment()?;
            let wait = std::time::Duration::from_secs((next - crate::model::time::now_ts()).max(1) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
                _ = tokio::signal::ctrl_c() => {
                    eprintln!("scheduler stopped");
                    return Ok(());
                }
            }
        }
    })
}
