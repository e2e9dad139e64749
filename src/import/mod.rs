//! Importing contacts and events from CSV, JSONL or Parquet files (or stdin): column
//! mapping and presets, validation with located errors, atomic commits or
//! skip-invalid with a rejects file.

pub mod contacts;
pub mod events;
pub mod input;
mod json_array;
pub mod json_records;
pub mod mapping;
mod parquet_input;
mod parquet_pages;
pub mod records;
pub mod rows;
mod zip_input;

use crate::derived::ScoreRules;
use crate::error::{Error, Result};
use crate::model::time::TimeFormat;
pub use crate::model::written_number::DecimalMark;
use crate::store::Store;
use input::{Input, InputFormat};
use mapping::{Mapping, Preset};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub format: Option<InputFormat>,
    /// `SRC=FIELD` renames
    pub maps: Vec<String>,
    pub preset: Option<Preset>,
    /// event kind for files without a kind column
    pub kind: Option<String>,
    pub skip_invalid: bool,
    pub rejects: Option<PathBuf>,
    /// chrono format for timestamps that are not RFC 3339
    pub date_format: Option<String>,
    /// IANA timezone for timestamps without an offset (default UTC)
    pub tz: Option<String>,
    pub day_first: bool,
    pub delimiter: Option<u8>,
    /// which mark a lone `,` or `.` before three digits is in a number
    /// (`1,234`); None: a comma in a `;`-separated file, else a point
    pub decimal_mark: Option<DecimalMark>,
    /// the file's text encoding when it is not UTF-8 (UTF-16 is known by
    /// its byte order mark)
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// CSV fields of exactly one of these texts are read as empty
    pub nulls: Vec<String>,
    /// the rows are text with backslash escapes and no quoting, a tab
    /// between fields unless told otherwise, as PostgreSQL's `COPY` (text
    /// format), MySQL's `INTO OUTFILE` and ClickHouse's `TabSeparated`
    /// write them (`CsvRecords::set_text`)
    pub text_format: bool,
    /// a CSV file's columns when it has no header line (as PostgreSQL's
    /// `COPY`, MySQL's `INTO OUTFILE`, Snowflake's and Redshift's unloads
    /// and ClickHouse's `CSV` write one by default): its first line is a row
    pub columns: Option<Vec<String>>,
    pub max_line: usize,
    pub now: i64,
    pub score_rules: ScoreRules,
    /// apply the score rules to imported events (off to restore an export)
    pub apply_score_rules: bool,
    /// how the front end calls these options, for messages
    pub names: OptionNames,
}

/// How the front end calls each option, for messages (the CLI: its flags).
/// The core never names a command-line flag itself: the default is in
/// neutral words.
#[derive(Clone, Debug)]
pub struct OptionNames {
    /// the `SRC=FIELD` renames ([`ImportOptions::maps`])
    pub map: String,
    /// the event kind for files without a kind column
    pub kind: String,
    /// the timezone for timestamps without an offset
    pub tz: String,
    /// the file the skipped rows are written to
    pub rejects: String,
    /// skipping the invalid rows
    pub skip_invalid: String,
    /// the longest accepted line
    pub max_line_bytes: String,
    /// the texts read as NULL ([`ImportOptions::nulls`]), followed by one
    pub null: String,
    /// the file's encoding ([`ImportOptions::encoding`]), followed by one
    pub encoding: String,
    /// the columns of a file without a header ([`ImportOptions::columns`])
    pub columns: String,
}

impl Default for OptionNames {
    fn default() -> Self {
        OptionNames {
            map: "the column mapping".into(),
            kind: "default event kind".into(),
            tz: "the timezone option".into(),
            rejects: "a rejects file".into(),
            skip_invalid: "skipping invalid rows".into(),
            max_line_bytes: input::DEFAULT_LIMIT_NAME.into(),
            null: "the NULL spellings option".into(),
            encoding: "the encoding option".into(),
            columns: "the columns option".into(),
        }
    }
}

/// What a CSV field reads as empty unless told otherwise: `\N`, NULL as
/// MySQL's `INTO OUTFILE`, PostgreSQL's text `COPY` and ClickHouse's CSV
/// write it. (Not `NULL`: that is also a word, and a name.)
pub const DEFAULT_NULL: &str = "\\N";

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            maps: vec![],
            preset: None,
            kind: None,
            skip_invalid: false,
            rejects: None,
            date_format: None,
            tz: None,
            day_first: false,
            delimiter: None,
            decimal_mark: None,
            encoding: None,
            nulls: vec![DEFAULT_NULL.into()],
            columns: None,
            text_format: false,
            max_line: input::DEFAULT_MAX_LINE,
            now: crate::model::time::now_ts(),
            score_rules: ScoreRules::default(),
            apply_score_rules: true,
            names: OptionNames::default(),
        }
    }
}

/// What an import did; printed by the CLI.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportReport {
    pub rows: u64,
    /// contacts created (contact imports)
    pub inserted: u64,
    /// contacts updated (contact imports)
    pub updated: u64,
    pub rejected: u64,
    /// events appended (event imports)
    pub events: u64,
    /// contacts created for unknown keys (event imports)
    pub contacts_created: u64,
    /// attributes, kinds and parameters declared on the fly
    pub created: Vec<String>,
    /// columns read as reach's own fields under another name (`column
    /// \`event_time\` as ts`)
    pub read_as: Vec<String>,
}

pub(crate) struct ImportContext {
    pub mapping: Mapping,
    pub time_format: TimeFormat,
    /// how numbers' separators read (`ImportOptions::decimal_mark`, decided)
    pub decimal_mark: DecimalMark,
    pub kind: Option<String>,
    pub now: i64,
    pub source_name: String,
    pub score_rules: bool,
    pub preset: Option<Preset>,
    pub names: OptionNames,
}

fn context(opts: &ImportOptions, name: &str) -> Result<ImportContext> {
    let tz = match &opts.tz {
        Some(t) => Some(
            t.parse::<chrono_tz::Tz>()
                .map_err(|_| Error::input(format!("{}: unknown timezone `{t}`", opts.names.tz)))?,
        ),
        None => None,
    };
    Ok(ImportContext {
        mapping: Mapping::new(&opts.maps, opts.preset, &opts.names.map)?,
        time_format: TimeFormat { pattern: opts.date_format.clone(), tz, day_first: opts.day_first },
        decimal_mark: opts.decimal_mark.unwrap_or_default(),
        kind: opts.kind.clone(),
        now: opts.now,
        source_name: name.to_string(),
        score_rules: opts.apply_score_rules,
        preset: opts.preset,
        names: opts.names.clone(),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    Contacts,
    Events,
}

/// Imports `path` (`-` for stdin) into the store in one transaction.
/// `progress(bytes_read, total_bytes, rows)` is called now and then; an
/// error from it (the caller cancelled) abandons the import, which then
/// leaves the database as it was.
pub fn import(
    store: &Store,
    what: What,
    path: &str,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64, Option<u64>, u64) -> Result<()>,
) -> Result<ImportReport> {
    import_audited(store, what, path, opts, progress, None)
}

/// The entry an import leaves in the audit log, made from its report.
pub type AuditOf<'a> = &'a dyn Fn(&ImportReport) -> crate::store::audit::AuditEntry;

/// [`import`], with its audit entry written in the import's own
/// transaction (so the log has it exactly when the data is there).
pub fn import_audited(
    store: &Store,
    what: What,
    path: &str,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64, Option<u64>, u64) -> Result<()>,
    audit: Option<AuditOf<'_>>,
) -> Result<ImportReport> {
    import_files_audited(store, what, &[path.to_string()], opts, progress, audit)
}

/// [`import_audited`] of several files (or of a zip archive or a
/// directory of several, see [`input::parts`]) in one transaction: read
/// one after another as one input, each
/// CSV or Parquet file with the same columns in the same order (a CSV
/// file's own header line read and checked), or all JSON lines; an empty
/// CSV file among them is passed over. Messages name each row's file.
pub fn import_files_audited(
    store: &Store,
    what: What,
    paths: &[String],
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64, Option<u64>, u64) -> Result<()>,
    audit: Option<AuditOf<'_>>,
) -> Result<ImportReport> {
    let parts = input::parts(paths)?;
    let mut opener = input::Opener::new(opts.format, opts.max_line, &opts.names.max_line_bytes, opts.encoding);
    let Some(first) = parts.first() else {
        return Err(Error::input("no file to import".to_string()));
    };
    let input = opener.open(first)?;
    if parts.len() == 1 {
        return run(store, what, input, None, None, opts, progress, true, audit);
    }
    let weights: Vec<u64> = parts.iter().map(|p| p.size().max(1)).collect();
    let name = several_name(paths, &parts);
    // (the decimal mark, decided on the first file, is set in `run`)
    let rest = rows::Rest { open: Box::new(move |k| opener.open(&parts[k])), weights, mark: DecimalMark::Point };
    run(store, what, input, Some(rest), Some(name), opts, progress, true, audit)
}

/// How the timeline names an import of several files: the one path given
/// (a zip archive or a directory), else the first few files.
fn several_name(paths: &[String], parts: &[input::Part]) -> String {
    match paths {
        [one] => one.clone(),
        _ => few_names(parts.iter().map(input::Part::name), parts.len()),
    }
}

/// `count` names (of files) in a line: the first three, then how many more.
pub fn few_names(names: impl Iterator<Item = String>, count: usize) -> String {
    let mut out: Vec<String> = names.take(3).collect();
    if count > 3 {
        out.push(format!("{} more", count - 3));
    }
    out.join(", ")
}

/// Runs an import of `input` to the end and rolls it back: the report of
/// what it would have done, or the error it would have failed with, and
/// nothing written. The fuzz targets drive imports through this.
#[doc(hidden)]
pub fn import_rolled_back(store: &Store, what: What, input: Input, opts: &ImportOptions) -> Result<ImportReport> {
    run(store, what, input, None, None, opts, &mut |_, _, _| Ok(()), false, None)
}

/// [`import_rolled_back`] of several inputs read as one, as
/// [`import_files_audited`] reads several files.
#[doc(hidden)]
pub fn import_files_rolled_back(
    store: &Store,
    what: What,
    mut inputs: Vec<Input>,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    if inputs.len() < 2 {
        let input = inputs.pop().ok_or_else(|| Error::input("no file to import".to_string()))?;
        return import_rolled_back(store, what, input, opts);
    }
    let weights = inputs.iter().map(|i| i.total_bytes.unwrap_or(0).max(1)).collect();
    let name = inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ");
    let first = inputs.remove(0);
    let mut later: Vec<Option<Input>> = inputs.into_iter().map(Some).collect();
    let open = move |k: usize| {
        later.get_mut(k - 1).and_then(Option::take).ok_or_else(|| Error::runtime(format!("input {k} opened twice")))
    };
    let rest = rows::Rest { open: Box::new(open), weights, mark: DecimalMark::Point };
    run(store, what, first, Some(rest), Some(name), opts, &mut |_, _, _| Ok(()), false, None)
}

/// Imports `input` (and the files of `rest` after it, under `name`).
#[allow(clippy::too_many_arguments)]
fn run(
    store: &Store,
    what: What,
    mut input: Input,
    rest: Option<rows::Rest>,
    name: Option<String>,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64, Option<u64>, u64) -> Result<()>,
    commit: bool,
    audit: Option<AuditOf<'_>>,
) -> Result<ImportReport> {
    // a zip archive of several given as a stream: its later files after
    // the first, as one import named by the stream
    if rest.is_some() {
        input.alone()?;
    }
    let (mut rest, name) = match (rest, input.held_rest.take()) {
        (None, Some(held)) => {
            let weights = held.sizes.iter().map(|s| (*s).max(1)).collect();
            let rest = rows::Rest { open: held.open, weights, mark: DecimalMark::Point };
            (Some(rest), name.or(Some(held.name)))
        }
        (rest, _) => (rest, name),
    };
    let mut ctx = context(opts, name.as_deref().unwrap_or(&input.name))?;
    // a CSV file's delimiter, as given or from its first line: a
    // `;`-separated file is written where `,` is the decimal mark
    let delimiter = match (input.format, opts.delimiter) {
        _ if input.parquet.is_some() => None,
        (InputFormat::Csv, None) if opts.text_format => Some(b'\t'),
        (InputFormat::Csv, None) => {
            let first = input.reader.fill_buf().map_err(|e| input::io_error(&input.name, &input.overflow, e))?;
            Some(rows::sniff_delimiter(first))
        }
        (_, d) => d,
    };
    // a Parquet file's numbers are written with a point, whatever a CSV file's option says
    ctx.decimal_mark = rows::decimal_mark_of(input.parquet.is_some(), delimiter, opts);
    if let Some(r) = rest.as_mut() {
        r.mark = ctx.decimal_mark;
    }
    if let Some(k) = &opts.kind
        && !crate::model::schema::valid_name(k)
    {
        return Err(Error::input(format!("{}: `{k}` is not a valid event kind name", opts.names.kind)));
    }
    let mut rejects = match (&opts.rejects, opts.skip_invalid) {
        (Some(p), true) => Some(rows::Rejects::create(p)?),
        (None, true) => Some(rows::Rejects::counting()),
        (Some(_), false) => {
            return Err(Error::input(format!("{} needs {}", opts.names.rejects, opts.names.skip_invalid)));
        }
        (None, false) => None,
    };
    let total = match &rest {
        Some(r) => Some(r.weights.iter().sum()),
        None => input.total_bytes,
    };
    if rest.is_some()
        && let Some(r) = rejects.as_mut()
    {
        r.name_files();
    }
    let (input_name, input_format) = (input.name.clone(), input.format);
    let mut report = ImportReport::default();
    let result = (|| -> Result<Vec<String>> {
        let _writeback = store.writeback();
        let mut w = store.begin_write()?;
        let stats = {
            let mut prog = |b: u64, n: u64| progress(b, total, n);
            match what {
                What::Contacts => {
                    let mut sink = contacts::ContactSink::new(&mut w, &ctx, &mut report, total)?;
                    let s = rows::drive(input, rest, &mut sink, rejects.as_mut(), opts.delimiter, opts, &mut prog)?;
                    sink.finish()?;
                    s
                }
                What::Events => {
                    let mut sink = events::EventSink::new(&mut w, &ctx, &mut report, opts.score_rules.clone())?;
                    let s = rows::drive(input, rest, &mut sink, rejects.as_mut(), opts.delimiter, opts, &mut prog)?;
                    sink.finish()?;
                    s
                }
            }
        };
        if stats.rows == 0 {
            return Err(Error::input(format!("{}: no rows to import in any of the files", ctx.source_name)));
        }
        report.rows = stats.rows;
        report.rejected = stats.rejected;
        let unused = ctx.mapping.unused(&stats.columns);
        if !unused.is_empty() && input_format == InputFormat::Csv {
            return Err(Error::input(format!(
                "{}: {} names columns the file does not have: {}",
                input_name,
                opts.names.map,
                unused.join(", ")
            )));
        }
        if (report.rows == report.rejected && report.rows > 0) || !commit {
            // nothing good: keep the database as it was, but still hand over the rejects
            drop(w);
        } else {
            if let Some(a) = audit {
                w.audit(&a(&report))?;
            }
            w.commit()?;
        }
        Ok(stats.columns)
    })();
    match result {
        Ok(cols) => {
            if let Some(r) = rejects {
                r.finish(&cols)?;
            }
            Ok(report)
        }
        Err(e) => {
            if let Some(r) = rejects {
                r.discard();
            }
            Err(e)
        }
    }
}
