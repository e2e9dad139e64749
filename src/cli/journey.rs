//! `reach journey create|list|show|start|pause|stop|enrollments|simulate`.

use super::Ctx;
use super::output::{Format, Records, print_json, resolve};
use crate::app::journeys::{Counts, JourneyChange};
use crate::error::{Error, Result};
use crate::journey::model::{Action, Journey, Trigger};
use crate::model::time::format_ts;
use clap::Subcommand;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum JourneyCmd {
    /// Create a draft journey from a TOML file
    Create {
        file: PathBuf,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Journeys with their status and how many contacts are where
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// A journey's entry, goals and steps, with counts
    Show {
        name: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Let contacts enter and advance (a draft or paused journey)
    Start { name: String },
    /// Stop entries and advances until started again
    Pause { name: String },
    /// End a journey for good: runs in progress exit
    Stop { name: String },
    /// Each contact's latest run: its step and state
    Enrollments {
        name: String,
        /// Only runs waiting at this step
        #[arg(long, value_name = "STEP")]
        step: Option<String>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Run the journey from now (--now) to --until over the store's history,
    /// step by step, writing nothing
    Simulate {
        name: String,
        #[arg(long, value_name = "TIMESTAMP")]
        until: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

fn step_text(j: &Journey, i: usize) -> String {
    let s = &j.steps[i];
    let t = |x: usize| j.target_name(x).to_string();
    let what = match &s.action {
        Action::Wait { dur, at } => {
            let mut v = Vec::new();
            if let Some(d) = dur {
                v.push(format!("wait {}", d.text));
            }
            if let Some(m) = at {
                v.push(format!("until {:02}:{:02} local", m / 60, m % 60));
            }
            v.join(", ")
        }
        Action::WaitFor { kind, filter, timeout, on_event } => format!(
            "wait_for {kind}{} up to {} (event: {}, timeout: {})",
            filter.as_ref().map(|f| format!(" where {f}")).unwrap_or_default(),
            timeout.text,
            t(*on_event),
            t(s.next)
        ),
        Action::If { expr, then, otherwise } => format!("if {expr} then {} else {}", t(*then), t(*otherwise)),
        Action::IfEntry { filter, then, otherwise } => {
            format!("if entry {filter} then {} else {}", t(*then), t(*otherwise))
        }
        Action::Split { branches } => format!(
            "split {}",
            branches
                .iter()
                .map(|b| match b.next {
                    Some(n) => format!("{}% {}", b.percent, t(n)),
                    None => format!("{}% holdout", b.percent),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Action::Send { channel, priority, subject, promo, .. } => format!(
            "send {channel} ({priority}){}{}",
            if subject.is_empty() { String::new() } else { format!(" \"{subject}\"") },
            promo
                .as_ref()
                .map(|p| format!(" with a {}% code ({}-…, valid {})", p.percent, p.prefix, p.valid.text))
                .unwrap_or_default()
        ),
        Action::TagAdd(x) => format!("tag +{x}"),
        Action::TagRemove(x) => format!("tag -{x}"),
        Action::Score(d) => format!("score {d:+}"),
        Action::Set { attribute, value } => format!("set {attribute} = {value}"),
        Action::Exit => "exit".into(),
    };
    let falls = matches!(
        s.action,
        Action::If { .. } | Action::IfEntry { .. } | Action::Split { .. } | Action::WaitFor { .. } | Action::Exit
    );
    if !falls && s.next != i + 1 { format!("{what} -> {}", t(s.next)) } else { what }
}

fn journey_json(j: &Journey, c: &Counts) -> serde_json::Value {
    json!({
        "name": j.name, "description": j.description, "status": j.status.as_str(),
        "entry": j.describe_trigger(), "entry_if": j.entry_if, "reentry": j.reentry.describe(),
        "goals": j.goals.iter().map(|g| g.describe()).collect::<Vec<_>>(),
        "steps": (0..j.steps.len()).map(|i| json!({"name": j.steps[i].name, "type": j.steps[i].action.kind(),
            "what": step_text(j, i), "waiting": c.at_step.get(&j.steps[i].name).copied().unwrap_or(0)})).collect::<Vec<_>>(),
        "created_at": format_ts(j.created_at), "started_at": j.started_at.map(format_ts),
        "counts": c,
    })
}

pub fn run(ctx: &Ctx, cmd: JourneyCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        JourneyCmd::Create { file, format } => {
            let name = file.display().to_string();
            let session = ctx.session()?;
            let text = std::fs::read_to_string(&file).map_err(|e| Error::input(format!("{name}: {e}")))?;
            let (j, warnings) = session.create_journey(&text, &name)?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            match resolve(format) {
                Format::Table => writeln!(out, "created journey {} (draft, {} steps)", j.name, j.steps.len())?,
                _ => print_json(&journey_json(&j, &Counts::default()), out)?,
            }
            Ok(())
        }
        JourneyCmd::List { format } => {
            let rows = ctx
                .session()?
                .journeys()?
                .iter()
                .map(|s| {
                    let c = &s.counts;
                    vec![
                        json!(s.journey.name),
                        json!(s.journey.status.as_str()),
                        json!(s.journey.describe_trigger()),
                        json!(c.entered),
                        json!(c.active),
                        json!(c.completed),
                        json!(c.exited.values().sum::<u64>()),
                    ]
                })
                .collect();
            Records {
                columns: ["name", "status", "entry", "entered", "active", "completed", "exited"]
                    .map(String::from)
                    .to_vec(),
                rows,
            }
            .print(resolve(format), out)
        }
        JourneyCmd::Show { name, format } => {
            let s = ctx.session()?.journey_summary(&name)?;
            let (j, c) = (&s.journey, &s.counts);
            match resolve(format) {
                Format::Table => {
                    writeln!(out, "{} ({})", j.name, j.status.as_str())?;
                    if !j.description.is_empty() {
                        writeln!(out, "  {}", j.description)?;
                    }
                    let seg = matches!(j.trigger, Trigger::Segment { .. });
                    writeln!(out, "  entry      {}{}", if seg { "" } else { "on " }, j.describe_trigger())?;
                    if let Some(e) = &j.entry_if {
                        writeln!(out, "  entry if   {e}")?;
                    }
                    writeln!(out, "  re-entry   {}", j.reentry.describe())?;
                    for g in &j.goals {
                        writeln!(out, "  goal       {}", g.describe())?;
                    }
                    let exited: u64 = c.exited.values().sum();
                    writeln!(
                        out,
                        "  contacts   entered {}, active {}, completed {}, exited {exited}",
                        c.entered, c.active, c.completed
                    )?;
                    for (r, n) in &c.exited {
                        writeln!(out, "  exited     {r}: {n}")?;
                    }
                    writeln!(out, "  steps")?;
                    for (i, st) in j.steps.iter().enumerate() {
                        let waiting = c.at_step.get(&st.name).copied().unwrap_or(0);
                        writeln!(out, "  {:>3} {:<20} {:>7}  {}", i + 1, st.name, waiting, step_text(j, i))?;
                    }
                }
                _ => print_json(&journey_json(j, c), out)?,
            }
            Ok(())
        }
        JourneyCmd::Start { name } => set(ctx, &name, JourneyChange::Start, out),
        JourneyCmd::Pause { name } => set(ctx, &name, JourneyChange::Pause, out),
        JourneyCmd::Stop { name } => set(ctx, &name, JourneyChange::Stop, out),
        JourneyCmd::Simulate { name, until, format } => simulate(ctx, &name, &until, format, out),
        JourneyCmd::Enrollments { name, step, format } => {
            let (j, list) = ctx.session()?.enrollments(&name, step.as_deref())?;
            let session = ctx.session()?;
            let mut rows = Vec::with_capacity(list.len());
            for (c, e) in &list {
                // what each step did: `check:then mail:sent(CART5-7KQ2)`
                let history: Vec<String> = session
                    .run_history(&j, *c, e.run)?
                    .into_iter()
                    .map(|(step, rec)| match rec.code {
                        Some(code) => format!("{step}:{}({code})", rec.outcome),
                        None => format!("{step}:{}", rec.outcome),
                    })
                    .collect();
                rows.push(vec![
                    json!(c),
                    json!(e.run),
                    json!(format_ts(e.entered_at)),
                    json!(j.target_name(e.step as usize)),
                    json!(format_ts(e.since)),
                    json!(e.describe()),
                    json!(history.join(" ")),
                ]);
            }
            Records {
                columns: ["contact", "run", "entered_at", "step", "since", "state", "history"]
                    .map(String::from)
                    .to_vec(),
                rows,
            }
            .print(resolve(format), out)
        }
    }
}

fn simulate(ctx: &Ctx, name: &str, until: &str, format: Option<Format>, out: &mut dyn Write) -> Result<()> {
    let until =
        crate::model::time::TimeFormat::default().parse(until).map_err(|e| Error::input(format!("--until: {e}")))?;
    let s = ctx.session()?.simulate_journey(name, until)?;
    match resolve(format) {
        Format::Table => {
            writeln!(out, "{name} from {} to {}: entered {}", s.from, s.until, s.entered)?;
            for (r, n) in &s.not_entered {
                writeln!(out, "  not entered ({r}): {n}")?;
            }
            for (i, st) in s.steps.iter().enumerate() {
                let mut parts: Vec<String> = st.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
                if st.deferred > 0 {
                    parts.push(format!("deferred {}", st.deferred));
                }
                if st.waiting_at_end > 0 {
                    parts.push(format!("still waiting {}", st.waiting_at_end));
                }
                writeln!(
                    out,
                    "  {:>3} {:<20} {:<10} reached {:>6}  {}",
                    i + 1,
                    st.name,
                    st.kind,
                    st.reached,
                    parts.join(", ")
                )?;
            }
            let exited: Vec<String> = s.exited.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(
                out,
                "  completed {}, exited {} ({}), still active {}",
                s.completed,
                s.exited.values().sum::<u64>(),
                if exited.is_empty() { "none".into() } else { exited.join(", ") },
                s.active
            )?;
        }
        _ => print_json(&serde_json::to_value(&s).map_err(|e| Error::runtime(e.to_string()))?, out)?,
    }
    Ok(())
}

fn set(ctx: &Ctx, name: &str, change: JourneyChange, out: &mut dyn Write) -> Result<()> {
    let j = ctx.session()?.change_journey(name, change)?;
    writeln!(out, "journey {name} is {}", j.status.as_str())?;
    Ok(())
}
