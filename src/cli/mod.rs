//! The scripted command line: clap definitions and dispatch. Thin: every
//! command opens the store, calls the core, and prints.

mod campaign;
mod contacts;
mod data;
mod demo;
mod journey;
pub mod output;
mod schema;
pub mod segment;
mod select;
mod stats;
mod tags;

use crate::app::{Clock, Session};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::time::TimeFormat;
use crate::store::{OpenMode, Store};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

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
    /// Import contacts or events from CSV, JSONL or Parquet (also gzip or zip)
    #[command(subcommand)]
    Import(data::ImportCmd),
    /// Export contacts or events as CSV, JSONL or Parquet
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
    /// Journeys: create from a file, start, pause, stop, enrollments, simulate
    #[command(subcommand)]
    Journey(journey::JourneyCmd),
    /// The do-not-disturb policy
    #[command(subcommand)]
    Policy(campaign::PolicyCmd),
    /// The campaign scheduler
    #[command(subcommand)]
    Scheduler(campaign::SchedulerCmd),
    /// Open the console (the default on a terminal)
    Console(ConsoleArgs),
    /// Who changed what, when, and through which way in
    Audit {
        /// Only entries at or after this time (RFC 3339 or YYYY-MM-DD)
        #[arg(long, value_name = "TIMESTAMP")]
        since: Option<String>,
        #[arg(long, value_enum)]
        format: Option<output::Format>,
    },
    /// Own the database for everyone: the scheduler, a local socket that
    /// every other `reach` command on it goes through, and optionally an
    /// SSH server for operators
    Serve(ServeArgs),
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Also serve operators over SSH on this address (HOST:PORT)
    #[arg(long, value_name = "ADDR")]
    pub ssh: Option<String>,
    /// Who may log in over SSH, with which keys and role (TOML)
    #[arg(long, value_name = "FILE", requires = "ssh")]
    pub operators: Option<PathBuf>,
    /// The SSH host key, created the first time [default: DB.ssh_host_ed25519_key]
    #[arg(long, value_name = "PATH", requires = "ssh")]
    pub host_key: Option<PathBuf>,
    /// Close an SSH login without input for this long (90s, 30m, 2h)
    #[arg(long, value_name = "DUR", default_value = "30m", requires = "ssh")]
    pub idle_timeout: String,
}

#[derive(Args, Debug, Default)]
pub struct ConsoleArgs {
    /// Keymap: default, vim, emacs, or a PATH to a TOML file over one of them
    #[arg(long, value_name = "NAME|PATH")]
    pub keymap: Option<String>,
}

/// Opens the console on the database (it must exist); the scheduler runs
/// inside while the console holds the file.
pub fn open_console(ctx: &Ctx, keymap: Option<String>) -> Result<()> {
    let keymap = keymap.or_else(|| ctx.config.console.keymap.clone()).unwrap_or_else(|| "default".into());
    // a bad keymap is refused before the database is opened
    crate::console::keymap::Keymap::load(&keymap).map_err(|e| Error::input(e.to_string()))?;
    let clock = if ctx.fixed_clock { Clock::Fixed(ctx.now) } else { Clock::System };
    crate::store::lock::announce_owner();
    let session = Arc::new(Session::open(&ctx.db, ctx.config.clone(), clock)?);
    // other `reach` commands on this database go through the console's session meanwhile
    let server = crate::host::server::Server::start(session.clone())?;
    let r = crate::console::run::run(session, crate::console::run::Options { keymap, scheduler: true, activity: None });
    server.stop();
    r
}

/// `reach serve`: owns the database until SIGTERM or SIGINT. The SSH
/// options (operators file, idle timeout, keymap) are checked before the
/// database is opened.
fn serve(ctx: &Ctx, a: ServeArgs) -> Result<()> {
    use crate::host::ssh;
    let ssh = match a.ssh {
        None => None,
        Some(addr) => {
            let Some(file) = a.operators else {
                return Err(Error::input("--ssh needs --operators FILE: who may log in, with which keys and role"));
            };
            let operators =
                crate::host::operators::Operators::load(&ctx.path(&file)).map_err(|e| Error::input(e.to_string()))?;
            let idle =
                ssh::parse_duration(&a.idle_timeout).map_err(|e| Error::input(format!("--idle-timeout: {e}")))?;
            let keymap = ctx.config.console.keymap.clone().unwrap_or_else(|| "default".into());
            crate::console::keymap::Keymap::load(&keymap).map_err(|e| Error::input(e.to_string()))?;
            let host_key = a.host_key.unwrap_or_else(|| ssh::default_host_key(&ctx.db));
            Some(ssh::SshOptions { addr, operators, host_key, idle, keymap, activity: None })
        }
    };
    let clock = if ctx.fixed_clock { Clock::Fixed(ctx.now) } else { Clock::System };
    crate::store::lock::announce_owner();
    let session = Arc::new(Session::open(&ctx.db, ctx.config.clone(), clock)?);
    crate::host::serve::serve(session, ssh, Arc::new(std::sync::Mutex::new(std::io::stderr())))
}

/// What every command gets: resolved paths, clock and configuration.
pub struct Ctx {
    pub db: PathBuf,
    pub now: i64,
    /// `now` was given (`--now`, `$REACH_NOW`): the clock stands still
    pub fixed_clock: bool,
    pub config: Config,
    /// the session of the process that owns the database (the console runs
    /// commands from its `:` line on its own open store)
    pub shared: Option<Arc<Session>>,
    /// progress and cancel of a command run by a front end
    pub hooks: Option<Hooks>,
    /// where warnings go when not to this process's stderr (a client's)
    pub warn: Option<Warn>,
    /// the directory relative file names are taken from, when not this
    /// process's (a client's, for a command run by the owner)
    pub cwd: Option<PathBuf>,
}

/// Where a command's warnings go (one line each).
pub type Warn = Arc<dyn Fn(&str) + Send + Sync>;

/// How a front end follows and stops a long command (an import from the
/// console's `:` line).
#[derive(Clone)]
pub struct Hooks {
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
    pub progress: Arc<dyn Fn(&str) + Send + Sync>,
}

impl Ctx {
    pub fn open(&self, mode: OpenMode) -> Result<Arc<Store>> {
        self.open_with_cache(mode, crate::store::CACHE_BYTES)
    }

    /// `open`, with a page cache of `cache_bytes` when this process opens the file.
    pub fn open_with_cache(&self, mode: OpenMode, cache_bytes: usize) -> Result<Arc<Store>> {
        match &self.shared {
            Some(s) => Ok(s.store().clone()),
            None => Ok(Arc::new(Store::open_with_cache(&self.db, mode, cache_bytes)?)),
        }
    }

    /// Reports progress to the front end; an error once it cancelled.
    pub fn report(&self, what: &str) -> Result<()> {
        match &self.hooks {
            Some(h) if h.cancel.load(std::sync::atomic::Ordering::Relaxed) => Err(Error::runtime("cancelled")),
            Some(h) => {
                (h.progress)(what);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Tells the person running the command about something that is not
    /// its output (`warning: ...`), on their stderr.
    pub fn warn(&self, line: &str) {
        match &self.warn {
            Some(w) => w(line),
            None => eprintln!("{line}"),
        }
    }

    /// A file name given on the command line, taken from the directory of
    /// the process that gave it.
    pub fn path(&self, p: impl AsRef<std::path::Path>) -> PathBuf {
        match &self.cwd {
            Some(dir) => dir.join(p),
            None => p.as_ref().to_path_buf(),
        }
    }

    /// The application session: the owner's, or one on the (existing)
    /// database at this clock.
    pub fn session(&self) -> Result<Arc<Session>> {
        match &self.shared {
            Some(s) => Ok(s.clone()),
            None => Ok(Arc::new(Session::open(&self.db, self.config.clone(), Clock::Fixed(self.now))?)),
        }
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
    Ok(Ctx {
        db: g.db.clone().unwrap_or_else(crate::store::default_db_path),
        now,
        fixed_clock: g.now.is_some(),
        config,
        shared: None,
        hooks: None,
        warn: None,
        cwd: None,
    })
}

/// Commands that need the database to themselves: never sent to an owner.
fn needs_the_file(c: &Command) -> bool {
    matches!(c, Command::Demo(_) | Command::Compact | Command::Scheduler(_) | Command::Console(_) | Command::Serve(_))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            return Err(Error::input("the console needs a terminal; for scripts, see `reach --help` for the commands"));
        }
        let ctx = context(&cli.global)?;
        return open_console(&ctx, None);
    };
    let ctx = context(&cli.global)?;
    if let Command::Console(a) = command {
        return open_console(&ctx, a.keymap);
    }
    // while another process owns the database, it runs the command
    if !needs_the_file(&command) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if let Some(r) = crate::host::client::forward(&ctx.db, args.clone()) {
            return r;
        }
        // an owner still opening the database: its socket comes soon
        if let Some(r) = crate::host::client::forward_when_listening(&ctx.db, args) {
            return r;
        }
    }
    let mut out = std::io::stdout().lock();
    let argv: Vec<String> = std::env::args().collect();
    authorize(&argv)?;
    dispatch(&ctx, command, &mut out)
}

/// The operation a command line asks for, by its dotted name: the command
/// and its subcommand as typed (`campaign.schedule`, `import.events`,
/// `stats`). `argv` starts with the program's name.
pub fn operation(argv: &[String]) -> Option<String> {
    use clap::CommandFactory;
    let m = Cli::command().try_get_matches_from(argv).ok()?;
    let (name, sub) = m.subcommand()?;
    Some(match sub.subcommand_name() {
        Some(s) => format!("{name}.{s}"),
        None => name.to_string(),
    })
}

/// Refuses a command line the thread's actor's role does not allow (see
/// `app::roles`): every way a command line runs asks here first.
fn authorize(argv: &[String]) -> Result<()> {
    match operation(argv) {
        Some(op) => Ok(crate::app::roles::authorize(&op)?),
        None => Ok(()),
    }
}

/// Runs a command on the database an owning process holds (the console's
/// `:` line), writing what it prints to `out`. Commands that need the file
/// to themselves (demo, compact, the scheduler, the console) are refused.
pub fn run_shared(
    args: &[String],
    shared: Arc<Session>,
    hooks: Option<Hooks>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let mut argv = vec!["reach".to_string()];
    argv.extend(args.iter().cloned());
    let cli = Cli::try_parse_from(&argv).map_err(|e| Error::input(e.to_string().trim_end().to_string()))?;
    let ctx = shared_ctx(&cli, shared, hooks)?;
    let Some(command) = cli.command else {
        return Err(Error::input("name a command (Tab completes)"));
    };
    if needs_the_file(&command) {
        return Err(Error::input("this command needs the database to itself: quit the console first"));
    }
    authorize(&argv)?;
    // an SSH operator's console names no file on the server either
    if crate::app::audit::current().is_remote() {
        refuse_server_files(&command)?;
    }
    output::for_a_person(|| dispatch(&ctx, command, out))
}

/// Runs a command another `reach` process sent to this owner (its socket),
/// as that process would have run it: its output format for its terminal,
/// its file names from its directory, its warnings to `warn`.
pub fn run_for_client(
    req: &crate::host::protocol::Request,
    shared: Arc<Session>,
    hooks: Hooks,
    warn: Warn,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let mut argv = vec!["reach".to_string()];
    argv.extend(req.args.iter().cloned());
    let cli = Cli::try_parse_from(&argv).map_err(|e| Error::input(e.to_string().trim_end().to_string()))?;
    let Some(command) = &cli.command else {
        return Err(Error::input("name a command"));
    };
    authorize(&argv)?;
    if req.remote {
        refuse_server_files(command)?;
    }
    if needs_the_file(command) {
        return Err(Error::busy(format!(
            "{}: database in use (pid {}): this command needs it to itself",
            shared.store().path().display(),
            std::process::id()
        )));
    }
    if let Command::Import(data::ImportCmd::Contacts(a) | data::ImportCmd::Events(a)) = command
        && a.file.iter().any(|f| f == "-")
    {
        return Err(Error::input(format!(
            "{}: database in use (pid {}): its owner does not read your stdin; give the file's name",
            shared.store().path().display(),
            std::process::id()
        )));
    }
    let mut ctx = shared_ctx(&cli, shared, Some(hooks))?;
    ctx.warn = Some(warn);
    ctx.cwd = Some(req.cwd.clone());
    let command = cli.command.expect("checked above");
    output::with_terminal(req.terminal, || dispatch(&ctx, command, out))
}

/// Over SSH a command names no file on the server: the operator's files
/// are on their own machine, and the server's are not theirs to read or
/// write.
fn refuse_server_files(command: &Command) -> Result<()> {
    let what = match command {
        Command::Import(_) => Some("an import reads a file"),
        Command::Export(data::ExportCmd::Contacts(a) | data::ExportCmd::Events(a)) if a.output.is_some() => {
            Some("--output writes a file (leave it out: the export comes back on stdout)")
        }
        Command::Campaign(campaign::CampaignCmd::Create { .. }) => Some("campaign create reads a file"),
        Command::Journey(journey::JourneyCmd::Create { .. }) => Some("journey create reads a file"),
        Command::Policy(campaign::PolicyCmd::Set { .. }) => Some("policy set reads a file"),
        _ => None,
    };
    match what {
        Some(w) => Err(Error::input(format!(
            "over SSH, reach reads and writes no file on the server: {w}; run it where the file is (in the console: `:` on the server, or a local `reach` there)"
        ))),
        None => Ok(()),
    }
}

/// The context of a command run on the owner's session.
fn shared_ctx(cli: &Cli, shared: Arc<Session>, hooks: Option<Hooks>) -> Result<Ctx> {
    let now = match &cli.global.now {
        Some(s) => parse_now(s)?,
        None => shared.now(),
    };
    Ok(Ctx {
        db: shared.store().path().to_path_buf(),
        now,
        fixed_clock: true,
        config: shared.config.clone(),
        shared: Some(shared),
        hooks,
        warn: None,
        cwd: None,
    })
}

fn dispatch(ctx: &Ctx, command: Command, out: &mut dyn std::io::Write) -> Result<()> {
    match command {
        Command::Demo(a) => demo::demo(ctx, a, out),
        Command::Import(c) => data::import(ctx, c, out),
        Command::Export(c) => data::export(ctx, c, out),
        Command::Contacts(c) => contacts::run(ctx, c, out),
        Command::Tags(c) => tags::run(ctx, c, out),
        Command::Categories(c) => schema::run_categories(ctx, c, out),
        Command::Schema(c) => schema::run_schema(ctx, c, out),
        Command::Stats { format } => stats::run(ctx, format, out),
        Command::Compact => {
            let before = std::fs::metadata(&ctx.db).map(|m| m.len()).unwrap_or(0);
            let mut store = Store::open(&ctx.db, crate::store::OpenMode::Existing)?;
            store.compact()?;
            drop(store);
            let after = std::fs::metadata(&ctx.db)?.len();
            writeln!(out, "compacted {}: {before} -> {after} bytes", ctx.db.display())?;
            Ok(())
        }
        Command::Segment(c) => segment::run(ctx, c, out),
        Command::Campaign(c) => campaign::run(ctx, c, out),
        Command::Journey(c) => journey::run(ctx, c, out),
        Command::Policy(c) => campaign::run_policy(ctx, c, out),
        Command::Scheduler(c) => campaign::run_scheduler(ctx, c, out),
        Command::Console(a) => open_console(ctx, a.keymap),
        Command::Serve(a) => serve(ctx, a),
        Command::Audit { since, format } => audit(ctx, since, format, out),
    }
}

/// `reach audit`: the audit log, oldest first.
fn audit(ctx: &Ctx, since: Option<String>, format: Option<output::Format>, out: &mut dyn std::io::Write) -> Result<()> {
    let since = match since {
        Some(s) => TimeFormat::default().parse(&s).map_err(|e| Error::input(format!("--since: {e}")))?,
        None => i64::MIN,
    };
    let entries = ctx.session()?.audit_log(since)?;
    let rows = entries
        .into_iter()
        .map(|e| {
            vec![
                serde_json::Value::String(crate::model::time::format_ts(e.ts)),
                serde_json::Value::String(e.who),
                serde_json::Value::String(e.via),
                serde_json::Value::String(e.what),
            ]
        })
        .collect();
    let columns = ["ts", "who", "via", "what"].iter().map(|c| c.to_string()).collect();
    output::Records { columns, rows }.print(output::resolve(format), out)
}
