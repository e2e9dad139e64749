//! The scripted command line: clap definitions and dispatch. Thin: every
//! command opens the store, calls the core, and prints.

mod campaign;
mod contacts;
mod data;
mod demo;
pub mod output;
mod schema;
pub mod segment;
mod select;
mod stats;
mod tags;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::time::TimeFormat;
use crate::store::{OpenMode, Store};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "reach",
    version,
    about = "A terminal marketing console: contacts, segments with live exact counts, campaigns under do-not-disturb rules."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Database file [default: $XDG_DATA_HOME/reach/reach.redb]
    #[arg(long, global = true, env = "REACH_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Overrides the clock: RFC 3339 or YYYY-MM-DD
    #[arg(long, global = true, env = "REACH_NOW", value_name = "TIMESTAMP")]
    pub now: Option<String>,
    /// Configuration file [default: $XDG_CONFIG_HOME/reach/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build a realistic demo database (deterministic for a seed)
    Demo(demo::DemoArgs),
    /// Import contacts or events from CSV or JSONL
    #[command(subcommand)]
    Import(data::ImportCmd),
    /// Export contacts or events as CSV or JSONL
    #[command(subcommand)]
    Export(data::ExportCmd),
    /// List, show and delete contacts
    #[command(subcommand)]
    Contacts(contacts::ContactsCmd),
    /// Tags and their counts; add or remove a tag on many contacts
    #[command(subcommand)]
    Tags(tags::TagsCmd),
    /// The category hierarchy
    #[command(subcommand)]
    Categories(schema::CategoriesCmd),
    /// Attributes and event kinds
    #[command(subcommand)]
    Schema(schema::SchemaCmd),
    /// What the database holds and how big it is
    Stats {
        #[arg(long, value_enum)]
        format: Option<output::Format>,
    },
    /// Rewrite the database file without free space
    Compact,
    /// Segments: count, explain, save, history, SQL
    #[command(subcommand)]
    Segment(segment::SegmentCmd),
    /// Campaigns: create from a file, schedule, pause, cancel, preview, show
    #[command(subcommand)]
    Campaign(campaign::CampaignCmd),
    /// The do-not-disturb policy
    #[command(subcommand)]
    Policy(campaign::PolicyCmd),
    /// The campaign scheduler
    #[command(subcommand)]
    Scheduler(campaign::SchedulerCmd),
}

/// What every command gets: resolved paths, clock and configuration.
pub struct Ctx {
    pub db: PathBuf,
    pub now: i64,
    pub config: Config,
}

impl Ctx {
    pub fn open(&self, mode: OpenMode) -> Result<Store> {
        Store::open(&self.db, mode)
    }
}

pub fn parse_now(s: &str) -> Result<i64> {
    TimeFormat::default().parse(s).map_err(|e| Error::input(format!("--now: {e}")))
}

fn context(g: &Global) -> Result<Ctx> {
    let now = match &g.now {
        Some(s) => parse_now(s)?,
        None => crate::model::time::now_ts(),
    };
    let config = match &g.config {
        Some(p) => Config::load(p, true)?,
        None => Config::load(&crate::config::default_config_path(), false)?,
    };
    Ok(Ctx { db: g.db.clone().unwrap_or_else(crate::store::default_db_path), now, config })
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        println!();
        return Ok(());
    };
    let ctx = context(&cli.global)?;
    let mut out = std::io::stdout().lock();
    match command {
        Command::Demo(a) => demo::demo(&ctx, a, &mut out),
        Command::Import(c) => data::import(&ctx, c, &mut out),
        Command::Export(c) => data::export(&ctx, c, &mut out),
        Command::Contacts(c) => contacts::run(&ctx, c, &mut out),
        Command::Tags(c) => tags::run(&ctx, c, &mut out),
        Command::Categories(c) => schema::run_categories(&ctx, c, &mut out),
        Command::Schema(c) => schema::run_schema(&ctx, c, &mut out),
        Command::Stats { format } => stats::run(&ctx, format, &mut out),
        Command::Compact => {
            use std::io::Write as _;
            let before = std::fs::metadata(&ctx.db).map(|m| m.len()).unwrap_or(0);
            let mut store = ctx.open(crate::store::OpenMode::Existing)?;
            store.compact()?;
            drop(store);
            let after = std::fs::metadata(&ctx.db)?.len();
            writeln!(out, "compacted {}: {before} -> {after} bytes", ctx.db.display())?;
            Ok(())
        }
        Command::Segment(c) => segment::run(&ctx, c, &mut out),
        Command::Campaign(c) => campaign::run(&ctx, c, &mut out),
        Command::Policy(c) => campaign::run_policy(&ctx, c, &mut out),
        Command::Scheduler(c) => campaign::run_scheduler(&ctx, c, &mut out),
    }
}
