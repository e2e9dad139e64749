//! `reach import` and `reach export`: arguments in, the application
//! layer's imports and exports, a report out.

use super::Ctx;
use super::select::Selection;
use crate::app::exports::ExportTable;
use crate::error::{Error, Result};
use crate::export::ExportFormat;
use crate::import::input::InputFormat;
use crate::import::mapping::Preset;
use crate::import::{DecimalMark, ImportOptions, OptionNames, What};
use crate::store::OpenMode;
use clap::{Args, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ImportCmd {
    /// Import contacts (upsert on external_id, then email)
    Contacts(ImportArgs),
    /// Import events (unknown contacts are created)
    Events(ImportArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum InFormat {
    Csv,
    Jsonl,
    /// Tab-separated text with backslash escapes and no quoting, as PostgreSQL's COPY (text), MySQL's INTO OUTFILE and ClickHouse's TabSeparated write it
    Text,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PresetArg {
    Mailchimp,
    Shopify,
    Mautic,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Input file, or - for stdin; several files (or a zip archive or a
    /// directory of several) are read one after another as one input, in
    /// one transaction; a directory's `column=value` subdirectories (Hive
    /// partitions) add those columns to their files' rows
    #[arg(required = true, num_args = 1..)]
    pub file: Vec<String>,
    /// Input format (detected from the extension or content)
    #[arg(long, value_enum)]
    pub format: Option<InFormat>,
    /// Map a source column to a field or attribute (repeatable): SRC=FIELD; FIELD `-` drops it
    #[arg(long = "map", value_name = "SRC=FIELD")]
    pub maps: Vec<String>,
    /// Accept another tool's contact export headers as they ship
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// Event kind for files without a kind column
    #[arg(long)]
    pub kind: Option<String>,
    /// Import the good rows and skip the bad ones (see --rejects)
    #[arg(long)]
    pub skip_invalid: bool,
    /// With --skip-invalid: write the bad rows here, with line and reason
    #[arg(long, value_name = "OUT.csv")]
    pub rejects: Option<PathBuf>,
    /// chrono format of timestamps that are not RFC 3339, e.g. "%d.%m.%Y %H:%M"
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// Timezone of timestamps without an offset [default: UTC]
    #[arg(long, value_name = "IANA")]
    pub tz: Option<String>,
    /// Read 01/02/2024 as 1 February (day first) instead of January 2
    #[arg(long)]
    pub day_first: bool,
    /// CSV field delimiter (detected: comma, semicolon or tab)
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<char>,
    /// The decimal mark where `1,234` or `1.234` could read either way; the other separates thousands [default: `,` in a `;`-separated file, else `.`]
    #[arg(long, value_name = "MARK", value_parser = ["," , "."])]
    pub decimal_mark: Option<String>,
    /// The file's text encoding when not UTF-8, e.g. windows-1252, windows-1250, latin2 (UTF-16 is known by its byte order mark)
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// CSV: read fields of exactly this text as empty (repeatable) [default: \N]; --null '' reads every text as written
    #[arg(long = "null", value_name = "TEXT")]
    pub nulls: Option<Vec<String>>,
    /// CSV without a header line (as PostgreSQL's COPY, MySQL's INTO OUTFILE, Snowflake's and Redshift's unloads write it): its columns in order, e.g. contact,ts,kind,amount; the first line is then a row
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Longest accepted line in bytes, at most 4 GiB [default: config, 16 MiB]
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,
    /// Events: do not apply the score rules (restoring an export whose contacts already carry their scores)
    #[arg(long)]
    pub no_score_rules: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ExportCmd {
    /// The contacts table
    Contacts(ExportArgs),
    /// The events table
    Events(ExportArgs),
    /// CREATE TABLE statements for the exported tables, typed, with how each engine loads the files
    Schema {
        /// The engine
        #[arg(long, value_enum, default_value = "sqlite")]
        dialect: super::segment::DialectArg,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutFormat {
    Csv,
    Jsonl,
    /// Typed columns: exact decimals, UTC timestamps, dates, booleans, text
    Parquet,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub select: Selection,
    /// Output format
    #[arg(long, value_enum, default_value = "csv")]
    pub format: OutFormat,
    /// Write to this file instead of stdout (written whole, then moved into place)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// A progress bar on stderr, only when stderr is a terminal.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub fn new(what: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(0);
            b.set_style(
                indicatif::ProgressStyle::with_template("{prefix} {msg} [{bar:30}] {percent}% {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b
        });
        Progress { bar }
    }
    pub fn set(&mut self, msg: &str, done: u64, total: Option<u64>) {
        if let Some(b) = &self.bar {
            if let Some(t) = total {
                b.set_length(t.max(1));
            }
            b.set_message(msg.to_string());
            b.set_position(done);
        }
    }
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

pub fn import(ctx: &Ctx, cmd: ImportCmd, out: &mut dyn Write) -> Result<()> {
    let (what, a) = match cmd {
        ImportCmd::Contacts(a) => (What::Contacts, a),
        ImportCmd::Events(a) => (What::Events, a),
    };
    let delimiter = match a.delimiter {
        None => None,
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => return Err(Error::input(format!("--delimiter `{c}` must be a single ASCII character"))),
    };
    let opts = ImportOptions {
        format: a.format.map(|f| match f {
            InFormat::Csv | InFormat::Text => InputFormat::Csv,
            InFormat::Jsonl => InputFormat::Jsonl,
        }),
        text_format: matches!(a.format, Some(InFormat::Text)),
        maps: a.maps,
        preset: a.preset.map(|p| match p {
            PresetArg::Mailchimp => Preset::Mailchimp,
            PresetArg::Shopify => Preset::Shopify,
            PresetArg::Mautic => Preset::Mautic,
        }),
        kind: a.kind,
        skip_invalid: a.skip_invalid,
        rejects: a.rejects.as_ref().map(|r| ctx.path(r)),
        date_format: a.date_format,
        tz: a.tz,
        day_first: a.day_first,
        delimiter,
        encoding: match &a.encoding {
            None => None,
            Some(l) => Some(encoding_rs::Encoding::for_label(l.trim().as_bytes()).ok_or_else(|| {
                Error::input(format!("--encoding: unknown encoding `{l}` (e.g. windows-1252, latin2)"))
            })?),
        },
        decimal_mark: a.decimal_mark.map(|m| if m == "," { DecimalMark::Comma } else { DecimalMark::Point }),
        nulls: a.nulls.unwrap_or_else(|| vec![crate::import::DEFAULT_NULL.into()]),
        columns: a.columns,
        max_line: a.max_line_bytes.unwrap_or(ctx.config.import.max_line_bytes),
        now: ctx.now,
        score_rules: ctx.config.score.clone(),
        apply_score_rules: !a.no_score_rules,
        names: OptionNames {
            map: "--map".into(),
            kind: "--kind".into(),
            tz: "--tz".into(),
            rejects: "--rejects".into(),
            skip_invalid: "--skip-invalid".into(),
            max_line_bytes: "--max-line-bytes".into(),
            null: "--null".into(),
            encoding: "--encoding".into(),
            columns: "--columns".into(),
        },
    };
    if a.file.len() > 1 && a.file.iter().any(|f| f == "-") {
        return Err(Error::input("`-` (stdin) is read alone, not among other files".to_string()));
    }
    let mut files = Vec::with_capacity(a.file.len());
    for f in &a.file {
        // a relative name run by the database's owner: from the caller's directory
        let file = if f == "-" { f.clone() } else { ctx.path(f).to_string_lossy().into_owned() };
        // refuse a missing input before a database file is created
        if f != "-" && !std::path::Path::new(&file).exists() {
            return Err(Error::input(format!("{f}: no such file")));
        }
        files.push(file);
    }
    let existed = ctx.db.exists();
    let store = ctx.open(OpenMode::Create)?;
    let started = std::time::Instant::now();
    let mut bar = Progress::new("import");
    let session = crate::app::Session::over(store.clone(), ctx.config.clone(), crate::app::Clock::Fixed(ctx.now));
    let never = std::sync::atomic::AtomicBool::new(false);
    let cancel = ctx.hooks.as_ref().map(|h| &*h.cancel).unwrap_or(&never);
    let res = session
        .import_files(
            what,
            &files,
            &opts,
            &mut |p| {
                bar.set(&format!("{} rows", p.rows), p.bytes_read, p.total_bytes);
                let _ = ctx.report(&match p.total_bytes {
                    Some(t) if t > 0 => format!("import: {} rows, {}%", p.rows, p.bytes_read * 100 / t),
                    _ => format!("import: {} rows", p.rows),
                });
            },
            cancel,
        )
        .map_err(Error::from);
    drop(session);
    bar.finish();
    let report = match res {
        Ok(r) => r,
        Err(e) => {
            if !existed {
                drop(store);
                let _ = std::fs::remove_file(&ctx.db);
            }
            return Err(e);
        }
    };
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        let mut v = serde_json::to_value(&report).map_err(|e| Error::runtime(e.to_string()))?;
        v["elapsed_ms"] = serde_json::Value::from((secs * 1000.0).round() as u64);
        super::output::print_json(&v, out)?;
    } else {
        match what {
            What::Contacts => writeln!(
                out,
                "{} rows: {} inserted, {} updated, {} rejected ({secs:.2} s)",
                report.rows, report.inserted, report.updated, report.rejected
            )?,
            What::Events => writeln!(
                out,
                "{} rows: {} events inserted, {} contacts created, {} rejected ({secs:.2} s, {:.0} events/s)",
                report.rows,
                report.events,
                report.contacts_created,
                report.rejected,
                report.events as f64 / secs.max(1e-9)
            )?,
        }
        for c in &report.created {
            writeln!(out, "declared {c}")?;
        }
        for r in &report.read_as {
            writeln!(out, "read {r}")?;
        }
    }
    Ok(())
}

pub fn export(ctx: &Ctx, cmd: ExportCmd, out: &mut dyn Write) -> Result<()> {
    let (table, a) = match cmd {
        ExportCmd::Contacts(a) => (ExportTable::Contacts, a),
        ExportCmd::Events(a) => (ExportTable::Events, a),
        ExportCmd::Schema { dialect } => {
            write!(out, "{}", ctx.session()?.export_schema(dialect.into())?)?;
            return Ok(());
        }
    };
    let session = ctx.session()?;
    let only = a.select.resolve_in(ctx, &session)?;
    let format = match a.format {
        OutFormat::Csv => ExportFormat::Csv,
        OutFormat::Jsonl => ExportFormat::Jsonl,
        OutFormat::Parquet => ExportFormat::Parquet,
    };
    if format == ExportFormat::Parquet && a.output.is_none() && super::output::to_terminal() {
        return Err(Error::input("--format parquet writes a binary file: give -o FILE, or redirect stdout"));
    }
    match &a.output {
        None => session.export(table, format, only.as_ref(), out)?,
        Some(path) => {
            session.export_to_file(table, format, only.as_ref(), &ctx.path(path), &path.display().to_string())?
        }
    };
    Ok(())
}
