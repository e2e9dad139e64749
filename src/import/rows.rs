//! Turns CSV, JSONL or Parquet input into rows of text fields under one header, and
//! drives a sink over them: located errors (`file:line: reason`), atomic or
//! skip-invalid handling, and the rejects file.

use super::input::{Input, InputFormat, io_error};
use super::json_records::{JsonRead, JsonRecords};
use super::parquet_input::ParquetRows;
use super::records::CsvRecords;
use super::records::{Fields, RawFields};
use crate::error::{Error, ErrorKind, Result};
use csv::ByteRecord;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Per-row work that needs no sink state, done on the reader thread.
pub trait Prepare<P>: Send {
    /// Called a few rows before `prepare` of the same row: a chance to start
    /// loading what it will read, so the rows of a batch overlap their
    /// memory accesses, and to note in `pre` what `prepare` can reuse.
    fn prefetch(&self, _rec: &Fields, _pre: &mut P) {}
    /// Called between `prefetch` and `prepare` of the same row, when what
    /// `prefetch` started loading has likely arrived: a chance to load
    /// what that points to (a long key's text beside its slot).
    fn prefetch_late(&self, _rec: &Fields, _pre: &P) {}
    fn prepare(&mut self, rec: &Fields, pre: &mut P);
    /// Whether a row with columns added after this preparer was made (a
    /// JSON line with a new key) can still be prepared: true when it reads
    /// only columns it found when made. Otherwise such rows go to the sink
    /// unprepared until a new preparer comes.
    fn wider_rows_ok(&self) -> bool {
        false
    }
}

pub type Preparer<P> = Box<dyn Prepare<P>>;

/// How many rows ahead of `Prepare::prepare` `Prepare::prefetch` runs.
const PREFETCH_AHEAD: usize = 8;
/// How many rows ahead of `Prepare::prepare` `Prepare::prefetch_late` runs.
const PREFETCH_LATE: usize = 4;

/// Rows read ahead by the reader thread, with what was prepared for them.
struct Batch<P> {
    rows: Vec<Row>,
    lines: Vec<u64>,
    pre: Vec<P>,
    len: usize,
    /// JSON: each row's line as written (what a rejects file holds), row
    /// `k` ending at `text_ends[k]`
    text: Vec<u8>,
    text_ends: Vec<usize>,
}

impl<P> Default for Batch<P> {
    fn default() -> Self {
        Batch { rows: Vec::new(), lines: Vec::new(), pre: Vec::new(), len: 0, text: Vec::new(), text_ends: Vec::new() }
    }
}

/// What the reader thread reads rows from (one, made once).
#[allow(clippy::large_enum_variant)]
enum Source<R> {
    Csv(CsvRecords<R>),
    Json(JsonRecords<R>),
    Parquet(ParquetRows),
}

/// The next thing a source gives.
enum Next {
    /// a row on line `.0` (or why that line is not one)
    Row(u64, std::result::Result<(), String>),
    /// new columns, added by the row on line `.0`, which comes next
    Columns(u64, Vec<String>),
}

impl<R: BufRead> Source<R> {
    /// The next row into `raw`; a JSON row's line onto `text` too.
    fn read(&mut self, raw: &mut RawFields, text: &mut Vec<u8>) -> std::io::Result<Option<Next>> {
        Ok(match self {
            Source::Csv(r) => r.read(raw)?.map(|line| Next::Row(line, Ok(()))),
            Source::Parquet(r) => r.read(raw)?.map(|line| Next::Row(line, Ok(()))),
            Source::Json(r) => r.read(raw, text)?.map(|got| match got {
                JsonRead::Row(line, res) => Next::Row(line, res),
                JsonRead::Columns(line, added) => Next::Columns(line, added),
            }),
        })
    }
}

/// How a batch ended.
enum Filled {
    /// full: more may follow
    More,
    /// at the end of the input
    End,
    /// before a row that added these columns (on this line)
    Columns(u64, Vec<String>),
}

/// What the reader thread sends the sink's thread.
enum Msg<P> {
    Batch(Batch<P>),
    /// new columns (JSON), added by the row on this line; with `true`, a
    /// new preparer is asked for (sent back once the sink has the columns)
    Columns(u64, Vec<String>, bool),
    Failed(Error),
    /// the rows from here on are of the next file of several, so named
    File(String),
}

/// Rows per batch unless the sink says otherwise (`RowSink::BATCH_ROWS`).
const BATCH_ROWS: usize = 4096;

/// What a preparer leaves for a row (`RowSink::Pre`), kept in a batch that
/// is reused: `reset` empties a slot before the next row is read into it.
pub trait PreSlot: Default + Send {
    /// Back to what `Default` gives (the default does that by writing a
    /// new value whole; a slot whose preparer overwrites most of it can do
    /// less).
    fn reset(&mut self) {
        *self = Self::default();
    }
}

enum Row {
    Ok(Fields),
    Blank,
    /// the wrong number of columns
    Columns(RawFields),
    /// invalid UTF-8 in this column
    Utf8(RawFields, usize),
    /// a JSON line that is not a row, and why
    Bad(String),
}

impl Row {
    fn bytes(&self) -> ByteRecord {
        match self {
            Row::Ok(r) => r.to_byte_record(),
            Row::Blank | Row::Bad(_) => ByteRecord::new(),
            Row::Columns(r) | Row::Utf8(r, _) => r.to_byte_record(),
        }
    }

    fn into_raw(self) -> RawFields {
        match self {
            Row::Ok(r) => r.into_raw(),
            Row::Blank | Row::Bad(_) => RawFields::default(),
            Row::Columns(r) | Row::Utf8(r, _) => r,
        }
    }
}

impl<P: PreSlot> Batch<P> {
    /// Prepares row `k` (if it parsed, and the preparer knows its columns).
    fn prepare_row(&mut self, k: usize, prepare: &mut Option<(Preparer<P>, usize)>) {
        if let (Some((p, width)), Row::Ok(r)) = (prepare.as_mut(), &self.rows[k])
            && (r.len() <= *width || p.wider_rows_ok())
        {
            p.prepare(r, &mut self.pre[k]);
        }
    }

    /// Reads up to `batch_rows` rows, CSV rows checked to have `ncols`
    /// fields; stops early before a row that adds columns. `prepare` is the
    /// preparer with the number of columns it knows.
    /// `extra`: the values of the partition columns, added after each
    /// row's own fields (when it has as many as the file's own columns);
    /// `PARTS`: whether there are any (a read without them has no test
    /// for them per row).
    fn fill<R: BufRead, const PARTS: bool>(
        &mut self,
        src: &mut Source<R>,
        ncols: usize,
        extra: &[String],
        batch_rows: usize,
        prepare: &mut Option<(Preparer<P>, usize)>,
    ) -> std::io::Result<Filled> {
        self.len = 0;
        self.text.clear();
        self.text_ends.clear();
        let filled = loop {
            if self.len == batch_rows {
                break Filled::More;
            }
            let k = self.len;
            if k == self.rows.len() {
                self.rows.push(Row::Blank);
                self.lines.push(0);
                self.pre.push(P::default());
            }
            let mut raw = std::mem::replace(&mut self.rows[k], Row::Blank).into_raw();
            let (line, res) = match src.read(&mut raw, &mut self.text)? {
                None => break Filled::End,
                Some(Next::Columns(line, added)) => break Filled::Columns(line, added),
                Some(Next::Row(line, res)) => (line, res),
            };
            self.lines[k] = line;
            self.pre[k].reset();
            let csv = !matches!(src, Source::Json(_));
            if PARTS && raw.len() + extra.len() == ncols {
                for v in extra {
                    raw.push_text(v);
                }
            }
            self.rows[k] = match res {
                Err(why) => Row::Bad(why),
                Ok(()) if csv && raw.len() != ncols => {
                    if raw.len() == 1 && raw.get(0) == Some(&b""[..]) {
                        Row::Blank
                    } else {
                        Row::Columns(raw)
                    }
                }
                // a JSON row has a field for every column known when it was read
                Ok(()) => match Fields::from_raw(raw) {
                    Ok(rec) => Row::Ok(rec),
                    Err((raw, col)) => Row::Utf8(raw, col),
                },
            };
            if !csv {
                self.text_ends.push(self.text.len());
            }
            // prepare the row read a few rows ago, while what this one needs loads
            if let (Some((p, _)), Row::Ok(r)) = (prepare.as_ref(), &self.rows[k]) {
                p.prefetch(r, &mut self.pre[k]);
            }
            if let Some(j) = (k + PREFETCH_LATE).checked_sub(PREFETCH_AHEAD)
                && let (Some((p, _)), Row::Ok(r)) = (prepare.as_ref(), &self.rows[j])
            {
                p.prefetch_late(r, &self.pre[j]);
            }
            if k >= PREFETCH_AHEAD {
                self.prepare_row(k - PREFETCH_AHEAD, prepare);
            }
            self.len += 1;
        };
        for j in self.len.saturating_sub(PREFETCH_AHEAD)..self.len {
            self.prepare_row(j, prepare);
        }
        Ok(filled)
    }

    /// Row `k`'s JSON line as written, without its line break.
    fn text(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.text_ends[k - 1] };
        self.text[start..self.text_ends[k]].trim_ascii_end()
    }
}

/// Hints the CPU to load the memory of `items` into cache (a no-op off x86-64).
#[inline]
pub(crate) fn prefetch<T>(items: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for off in (0..std::mem::size_of_val(items)).step_by(64) {
        // SAFETY: prefetching only hints; it reads nothing and cannot fault.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                items.as_ptr().cast::<i8>().wrapping_add(off),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = items;
}

/// What the rows are handed to.
pub trait RowSink {
    /// New columns, appended to those already announced (all of a CSV header
    /// at once; JSONL keys as they first appear).
    fn columns(&mut self, added: &[String]) -> Result<()>;
    /// What `preparer` computes for a row: `Default` means nothing is known.
    type Pre: PreSlot;
    /// How many rows the reader thread reads and prepares before handing
    /// them over: fewer for a sink whose prepared rows are large, so that a
    /// batch stays in the cores' own caches on its way from one to the other.
    const BATCH_ROWS: usize = BATCH_ROWS;
    /// One row; an `Input` error rejects just this row, any other error aborts.
    /// `pre` holds what the preparer worked out, or the default.
    fn row(&mut self, line: u64, rec: &Fields, pre: &Self::Pre) -> Result<()>;
    /// Asks the CPU for the sink's own memory that `row` will touch for a
    /// row a few rows ahead (what `pre` names), so that its loads do not
    /// stall `row`.
    fn prefetch(&self, _pre: &Self::Pre) {}
    /// Asks the CPU for what `row` will read of a row a few rows ahead,
    /// written on the reader's core: by default its fields; a sink whose
    /// preparer has already parsed the row reads `pre` instead.
    fn prefetch_row(&self, rec: &Fields, _pre: &Self::Pre) {
        prefetch(rec.as_bytes());
        prefetch(rec.spans());
    }
    /// Per-row work that needs no sink state (parsing, looking keys up in
    /// what was loaded), run on the reader thread ahead of `row`. Asked for
    /// after the CSV header.
    fn preparer(&mut self) -> Option<Preparer<Self::Pre>> {
        None
    }
    /// Called once after a CSV header: a chance to refuse a file that lacks a needed column.
    fn header_done(&mut self) -> Result<()> {
        Ok(())
    }
    /// In an import of several files, called as each begins (the first
    /// too), with the name messages give it: the rows after are its.
    fn next_file(&mut self, _name: &str) {}
}

/// The rejects file: the input's columns plus `line` and `reason` (and
/// before them `file`, for an import of several files), written to a
/// temporary name and moved into place only when the import commits.
/// Without a path, bad rows are only counted.
pub struct Rejects {
    out: Option<(PathBuf, PathBuf, csv::Writer<std::fs::File>)>,
    header_written: bool,
    /// a `file` column names each row's file
    files: bool,
    pub count: u64,
}

impl Rejects {
    pub fn counting() -> Rejects {
        Rejects { out: None, header_written: false, files: false, count: 0 }
    }

    pub fn create(path: &Path) -> Result<Rejects> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let f =
            std::fs::File::create(&tmp).map_err(|e| Error::input(format!("{}: cannot create: {e}", path.display())))?;
        let w = csv::WriterBuilder::new().flexible(true).from_writer(f);
        Ok(Rejects { out: Some((path.to_path_buf(), tmp, w)), header_written: false, files: false, count: 0 })
    }

    /// Each row's file is written beside its line (an import of several files).
    pub fn name_files(&mut self) {
        self.files = true;
    }

    fn header(&mut self, cols: &[String]) -> Result<()> {
        if let Some((_, _, w)) = &mut self.out
            && !self.header_written
        {
            let mut h: Vec<&str> = cols.iter().map(String::as_str).collect();
            if self.files {
                h.push("file");
            }
            h.push("line");
            h.push("reason");
            w.write_record(&h).map_err(csv_io)?;
            self.header_written = true;
        }
        Ok(())
    }

    fn write(&mut self, cols: &[String], fields: &ByteRecord, file: &str, line: u64, reason: &str) -> Result<()> {
        self.count += 1;
        self.header(cols)?;
        if let Some((_, _, w)) = &mut self.out {
            let mut r = fields.clone();
            while r.len() < cols.len() {
                r.push_field(b"");
            }
            if self.files {
                r.push_field(file.as_bytes());
            }
            r.push_field(line.to_string().as_bytes());
            r.push_field(reason.as_bytes());
            w.write_byte_record(&r).map_err(csv_io)?;
        }
        Ok(())
    }

    /// Moves the file into place (after the import committed).
    pub fn finish(mut self, cols: &[String]) -> Result<()> {
        self.header(cols)?;
        if let Some((path, tmp, mut w)) = self.out.take() {
            w.flush()?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(())
    }

    /// Removes the temporary file (the import did not commit).
    pub fn discard(mut self) {
        if let Some((_, tmp, _)) = self.out.take() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

fn csv_io(e: csv::Error) -> Error {
    Error::runtime(format!("writing rejects: {e}"))
}

pub struct DriveStats {
    pub rows: u64,
    pub rejected: u64,
    /// every column name seen, in order
    pub columns: Vec<String>,
}

/// The files after the first of an import of several, read one after
/// another as one input: each CSV file or Parquet file with the first's
/// columns in the first's order (each CSV file's own header line read
/// and checked), or all JSON lines.
pub struct Rest {
    /// opens file `k` of the import (from 1)
    pub open: Box<dyn FnMut(usize) -> Result<Input> + Send>,
    /// each file's share of the progress (its size), the first's included
    pub weights: Vec<u64>,
    /// the decimal mark the sink reads numbers with (decided on the
    /// first file), which each file must have
    pub mark: super::DecimalMark,
}

/// An input opened for its rows: the source, the columns known before
/// its first row (a CSV header, a Parquet file's columns; none for JSON
/// lines) and the CSV delimiter; or nothing for an empty CSV file of an
/// import of several.
type Opened = Option<(RowsSource, Vec<String>, Option<u8>, u64)>;

/// A source over an input's own reader.
type RowsSource = Source<Box<dyn BufRead + Send>>;

/// The first file of several with rows: what each file after it must match.
struct First {
    name: String,
    /// its own columns (without the partition columns added)
    cols: Vec<String>,
    /// the partition columns added to its rows
    partition: Vec<String>,
    delim: Option<u8>,
    json: bool,
}

/// The partition columns of `input` (`Input::partition`) that its own
/// columns `cols` lack, and their values: added after each row's own
/// fields. A file's own column of the same name stands (a table written
/// with its partition columns kept in the files).
fn partition_columns(input: &Input, cols: &[String], json: bool) -> Result<(Vec<String>, Vec<String>)> {
    if input.partition.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    if json {
        let (k, v) = &input.partition[0];
        return Err(Error::input(format!(
            "{}: JSON lines under a partition directory (`{k}={v}`): partition columns are read with CSV and Parquet files",
            input.name
        )));
    }
    Ok(input.partition.iter().filter(|(k, _)| !cols.iter().any(|c| c.eq_ignore_ascii_case(k))).cloned().unzip())
}

/// Opens `input`'s rows: its reader is taken into the source. `delimiter`:
/// the CSV delimiter as given (else the file's own `sep=` line, else
/// sniffed); `empty_ok`: an empty CSV file gives `None` (a file of
/// several) rather than an error.
fn open_rows(input: &mut Input, delimiter: Option<u8>, opts: &super::ImportOptions, empty_ok: bool) -> Result<Opened> {
    let name = input.name.clone();
    let read_err = |e: std::io::Error| io_error(&input.name, &input.overflow, e);
    let given = |what: &str| -> Result<()> {
        match &opts.columns {
            Some(_) => Err(Error::input(format!(
                "{name}: {} names the columns of CSV files without a header line; {what} names its own",
                opts.names.columns
            ))),
            None => Ok(()),
        }
    };
    if let Some(rows) = input.parquet.take() {
        // a Parquet file: its columns' names are the header
        given("a Parquet file")?;
        let cols = rows.columns().to_vec();
        return Ok(Some((Source::Parquet(rows), cols, None, 0)));
    }
    let mut reader = std::mem::replace(&mut input.reader, Box::new(std::io::empty()));
    if input.format == InputFormat::Jsonl {
        given("JSON")?;
        return Ok(Some((Source::Json(JsonRecords::new(reader)), Vec::new(), None, 0)));
    }
    let sep = sep_line(reader.fill_buf().map_err(read_err)?);
    let delim = match (delimiter, sep) {
        (Some(d), _) | (None, Some((d, _))) => d,
        (None, None) if opts.text_format => b'\t',
        (None, None) => sniff_delimiter(reader.fill_buf().map_err(read_err)?),
    };
    if let Some((_, len)) = sep {
        reader.consume(len);
    }
    let header_line = 1 + u64::from(sep.is_some());
    if let Some(given) = &opts.columns {
        // no header line: the columns as given, the first line a row
        if reader.fill_buf().map_err(read_err)?.starts_with(b"\xEF\xBB\xBF") {
            reader.consume(3);
        }
        let cols: Vec<String> = given.iter().map(|c| c.trim().to_string()).collect();
        if cols.iter().all(String::is_empty) {
            return Err(Error::input(format!("{}: no column named", opts.names.columns)));
        }
        let mut rdr = CsvRecords::new(reader, delim);
        rdr.set_line(header_line);
        rdr.set_nulls(&opts.nulls);
        if opts.text_format {
            rdr.set_text();
        }
        return Ok(Some((Source::Csv(rdr), cols, Some(delim), 0)));
    }
    let mut rdr = CsvRecords::new(reader, delim);
    rdr.set_line(header_line);
    if opts.text_format {
        rdr.set_text();
    }
    let mut raw = RawFields::default();
    if rdr.read(&mut raw).map_err(read_err)?.is_none() {
        if empty_ok {
            return Ok(None);
        }
        return Err(Error::input(format!("{name}: empty file (expected a header line)")));
    }
    let mut cols = Vec::with_capacity(raw.len());
    for (i, f) in raw.iter().enumerate() {
        let s = std::str::from_utf8(f).map_err(|_| {
            Error::input(format!(
                "{name}:{header_line}: invalid UTF-8 in the header (column {}){}",
                i + 1,
                other_encoding(&opts.names.encoding)
            ))
        })?;
        let s = if i == 0 { s.trim_start_matches('\u{feff}') } else { s };
        cols.push(s.trim().to_string());
    }
    if cols.iter().all(|c| c.is_empty()) {
        return Err(Error::input(format!("{name}:{header_line}: empty header line")));
    }
    rdr.set_nulls(&opts.nulls);
    Ok(Some((Source::Csv(rdr), cols, Some(delim), header_line)))
}

/// How numbers' separators read in a file: a Parquet file's and JSON's
/// with a point, a CSV file's as given, else with a comma where `;`
/// separates the fields (`delim`).
pub(super) fn decimal_mark_of(parquet: bool, delim: Option<u8>, opts: &super::ImportOptions) -> super::DecimalMark {
    match (parquet, opts.decimal_mark) {
        (true, _) => super::DecimalMark::Point,
        (false, Some(m)) => m,
        (false, None) if delim == Some(b';') => super::DecimalMark::Comma,
        (false, None) => super::DecimalMark::Point,
    }
}

/// The next file of an import of several (`k`, from 1) opened for its
/// rows, checked against the first (`first`: its name, its columns, and
/// how its numbers and fields are written): none when it is an empty
/// CSV file; with it, the values of its partition columns.
fn open_next(
    rest: &mut Rest,
    k: usize,
    first: &First,
    delimiter: Option<u8>,
    opts: &super::ImportOptions,
) -> Result<Option<(Input, RowsSource, Vec<String>)>> {
    let First { name: first_name, cols: first_cols, partition: first_partition, delim: first_delim, json: first_json } =
        first;
    let mut input = (rest.open)(k)?;
    input.alone()?;
    let parquet = input.parquet.is_some();
    let json = input.format == InputFormat::Jsonl && !parquet;
    let name = input.name.clone();
    if json != *first_json {
        let (this, that) =
            if json { ("JSON lines", "rows with a header") } else { ("rows with a header", "JSON lines") };
        return Err(Error::input(format!(
            "{name}: holds {this} where {first_name} holds {that}: the files of one import are all JSON lines, or all CSV or Parquet with the same columns"
        )));
    }
    let Some((src, cols, delim, _)) = open_rows(&mut input, delimiter, opts, true)? else {
        return Ok(None);
    };
    if !json {
        if let (Some(d), Some(f)) = (delim, first_delim)
            && d != *f
        {
            return Err(Error::input(format!(
                "{name}: its fields are separated by `{}` where {first_name}'s are by `{}`: import it on its own",
                d as char, *f as char
            )));
        }
        if decimal_mark_of(parquet, delim, opts) != rest.mark {
            return Err(Error::input(format!(
                "{name}: its numbers are written with another decimal mark than {first_name}'s: import it on its own"
            )));
        }
        if cols != *first_cols {
            let at = cols.iter().zip(first_cols).position(|(a, b)| a != b).unwrap_or(cols.len().min(first_cols.len()));
            let which = |c: &[String]| c.get(at).map_or("no column".to_string(), |n| format!("`{n}`"));
            return Err(Error::input(format!(
                "{name}: its columns differ from {first_name}'s: column {} is {} where {first_name} has {} (the files of one import have the same columns, in the same order)",
                at + 1,
                which(&cols),
                which(first_cols)
            )));
        }
    }
    let (partition, values) = partition_columns(&input, &cols, json)?;
    if partition != *first_partition {
        return Err(Error::input(format!(
            "{name}: its partition columns ({}) differ from {first_name}'s ({}): a table's files are partitioned alike",
            partition.join(", "),
            first_partition.join(", ")
        )));
    }
    Ok(Some((input, src, values)))
}

/// Reads every row of `input` (and of `rest`'s files after it) into
/// `sink`. With `rejects`, bad rows are written there and skipped;
/// without, the first bad row fails the run with `file:line: reason`.
/// `delimiter`: the CSV delimiter as given (else each file's own); `opts`:
/// the NULL spellings and the options' names for hints.
pub fn drive<S: RowSink>(
    mut input: Input,
    mut rest: Option<Rest>,
    sink: &mut S,
    mut rejects: Option<&mut Rejects>,
    delimiter: Option<u8>,
    opts: &super::ImportOptions,
    progress: &mut dyn FnMut(u64, u64) -> Result<()>,
) -> Result<DriveStats> {
    let several = rest.is_some();
    let count = rest.as_ref().map_or(1, |r| r.weights.len());
    let mut stats = DriveStats { rows: 0, rejected: 0, columns: vec![] };
    // the first file with rows (of several, an empty CSV file is passed over)
    let mut file = 0;
    let (mut src, mut names, delim, header_line) = loop {
        match (open_rows(&mut input, delimiter, opts, several)?, rest.as_mut()) {
            (Some(opened), _) => break opened,
            (None, Some(rest)) if file + 1 < count => {
                file += 1;
                input = (rest.open)(file)?;
            }
            // every file empty (an import of several says so)
            (None, _) => return Ok(stats),
        }
    };
    let json = matches!(src, Source::Json(_));
    let mut name = input.name.clone();
    if let Some(r) = &rest
        && !json
        && decimal_mark_of(matches!(src, Source::Parquet(_)), delim, opts) != r.mark
    {
        // (a file of several after empty ones: the mark was decided on the first)
        return Err(Error::input(format!(
            "{name}: its numbers are written with another decimal mark than the files before it: import it on its own"
        )));
    }
    let (partition, extra) = partition_columns(&input, &names, json)?;
    let first = First { name: name.clone(), cols: names.clone(), partition: partition.clone(), delim, json };
    // the rows' own columns, then the partition columns added to each
    let own_cols = names.len();
    let header_says = match opts.columns {
        Some(_) => format!("as {} names", opts.names.columns),
        None => "as in the header".to_string(),
    };
    names.extend(partition);
    let handle = |name: &str,
                  line: u64,
                  cols: &[String],
                  raw: &ByteRecord,
                  res: Result<()>,
                  stats: &mut DriveStats,
                  rejects: &mut Option<&mut Rejects>|
     -> Result<()> {
        stats.rows += 1;
        match res {
            Ok(()) => Ok(()),
            Err(e) if e.kind == ErrorKind::Input => match rejects {
                Some(r) => {
                    stats.rejected += 1;
                    r.write(cols, raw, name, line, &e.message)
                }
                None if json => Err(Error::input(format!("{name}:{line}: {}", e.message))),
                None => Err(Error::input(format!(
                    "{name}:{line}: {}{}",
                    e.message,
                    null_hint(&e.message, &opts.nulls, &opts.names.null)
                ))),
            },
            Err(e) => Err(e),
        }
    };
    if several {
        sink.next_file(&name);
    }
    let prepare = if json {
        None
    } else {
        sink.columns(&names).map_err(|e| locate(&name, header_line, e))?;
        sink.header_done().map_err(|e| locate(&name, header_line, e))?;
        sink.preparer().map(|p| (p, names.len()))
    };
    // a rejected JSON line is written whole, under one column
    let reject_cols = if json { vec!["record".to_string()] } else { names.clone() };
    let ncols = names.len();
    // the bytes read so far: the input's own count, or for several files
    // each finished file's weight and the share read of the current one
    let weights: Vec<u64> = rest.as_ref().map_or_else(Vec::new, |r| r.weights.clone());
    let before: Vec<u64> = weights
        .iter()
        .scan(0u64, |sum, w| {
            let b = *sum;
            *sum += w;
            Some(b)
        })
        .collect();
    let several_read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let bytes_read = if several { several_read.clone() } else { input.bytes_read.clone() };
    // a reader thread parses batches of rows (and does the sink's stateless
    // per-row work) while this thread feeds the sink
    let (to_sink, batches) = std::sync::mpsc::sync_channel::<Msg<S::Pre>>(3);
    let (recycle, recycled) = std::sync::mpsc::channel::<Batch<S::Pre>>();
    // preparers for the columns a JSON line added, when asked for
    let (send_preparer, preparers) = std::sync::mpsc::channel::<Option<Preparer<S::Pre>>>();
    std::thread::scope(|scope| -> Result<()> {
        let first = &first;
        scope.spawn(move || {
            let mut prepare = prepare;
            let mut width = ncols;
            let mut input = input;
            let mut file = file;
            let mut extra = extra;
            let note_progress = |file: usize, input: &Input| {
                if let (Some(w), Some(b)) = (weights.get(file), before.get(file)) {
                    let share = match input.total_bytes {
                        Some(t) if t > 0 => {
                            let read = input.bytes_read.load(Ordering::Relaxed).min(t);
                            (*w as u128 * read as u128 / t as u128) as u64
                        }
                        _ => 0,
                    };
                    several_read.store(b + share, Ordering::Relaxed);
                }
            };
            loop {
                let mut b = recycled.try_recv().unwrap_or_default();
                let filled = match extra.is_empty() {
                    true => b.fill::<_, false>(&mut src, ncols, &extra, S::BATCH_ROWS, &mut prepare),
                    false => b.fill::<_, true>(&mut src, ncols, &extra, S::BATCH_ROWS, &mut prepare),
                };
                match filled {
                    Ok(Filled::More) => {
                        note_progress(file, &input);
                        if to_sink.send(Msg::Batch(b)).is_err() {
                            return;
                        }
                    }
                    Ok(Filled::End) => {
                        if file + 1 >= count {
                            let _ = to_sink.send(Msg::Batch(b));
                            return;
                        }
                        if b.len > 0 && to_sink.send(Msg::Batch(b)).is_err() {
                            return;
                        }
                        // the next file with rows, read on as the same input
                        let Some(rest) = rest.as_mut() else { return };
                        let next = loop {
                            file += 1;
                            match open_next(rest, file, first, delimiter, opts) {
                                Ok(Some(next)) => break Some(next),
                                Ok(None) if file + 1 < count => continue,
                                Ok(None) => break None,
                                Err(e) => {
                                    let _ = to_sink.send(Msg::Failed(e));
                                    return;
                                }
                            }
                        };
                        let Some((next, next_src, values)) = next else { return };
                        extra = values;
                        match (&mut src, next_src) {
                            // JSON lines keep the columns their keys were given
                            (Source::Json(j), Source::Json(n)) => j.next_file(n.into_inner()),
                            (s, n) => *s = n,
                        }
                        input = next;
                        if to_sink.send(Msg::File(input.name.clone())).is_err() {
                            return;
                        }
                    }
                    Ok(Filled::Columns(line, added)) => {
                        width += added.len();
                        let ask = prepare.as_ref().is_none_or(|(p, _)| !p.wider_rows_ok());
                        if b.len > 0 && to_sink.send(Msg::Batch(b)).is_err() {
                            return;
                        }
                        if to_sink.send(Msg::Columns(line, added, ask)).is_err() {
                            return;
                        }
                        if ask {
                            // the sink has every row before: wait for it
                            match preparers.recv() {
                                Ok(p) => prepare = p.map(|p| (p, width)),
                                Err(_) => return,
                            }
                        }
                    }
                    Err(e) => {
                        // the rows before the error first
                        let _ = to_sink.send(Msg::Batch(b));
                        let _ = to_sink.send(Msg::Failed(io_error(&input.name, &input.overflow, e)));
                        return;
                    }
                }
            }
        });
        let mut n = 0u64;
        let result = (|| -> Result<()> {
            while let Ok(msg) = batches.recv() {
                let mut b = match msg {
                    Msg::Batch(b) => b,
                    Msg::Failed(e) => return Err(e),
                    Msg::File(next) => {
                        sink.next_file(&next);
                        name = next;
                        continue;
                    }
                    Msg::Columns(line, added, ask) => {
                        sink.columns(&added).map_err(|e| locate(&name, line, e))?;
                        names.extend(added);
                        if ask {
                            let _ = send_preparer.send(sink.preparer());
                        }
                        continue;
                    }
                };
                for k in 0..b.len {
                    // the rows were written on the reader's core: ask for the next ones early
                    if let Some(Row::Ok(r)) = b.rows.get(k + 4).filter(|_| k + 4 < b.len) {
                        sink.prefetch_row(r, &b.pre[k + 4]);
                        sink.prefetch(&b.pre[k + 4]);
                    }
                    let line = b.lines[k];
                    let res = match &b.rows[k] {
                        Row::Blank => continue,
                        Row::Ok(rec) => sink.row(line, rec, &b.pre[k]),
                        Row::Bad(why) => Err(Error::input(why.clone())),
                        Row::Columns(r) => {
                            Err(Error::input(format!("expected {own_cols} columns {header_says}, found {}", r.len())))
                        }
                        Row::Utf8(_, col) => Err(Error::input(format!(
                            "invalid UTF-8 in column `{}`{}",
                            names.get(*col).map(String::as_str).unwrap_or("?"),
                            other_encoding(&opts.names.encoding)
                        ))),
                    };
                    if res.is_err() {
                        let raw = if json {
                            let mut raw = ByteRecord::new();
                            raw.push_field(String::from_utf8_lossy(b.text(k)).as_bytes());
                            raw
                        } else {
                            b.rows[k].bytes()
                        };
                        handle(&name, line, &reject_cols, &raw, res, &mut stats, &mut rejects)?;
                    } else {
                        stats.rows += 1;
                    }
                    n += 1;
                    if n.is_multiple_of(65536) {
                        progress(bytes_read.load(Ordering::Relaxed), n)?;
                    }
                }
                b.len = 0;
                let _ = recycle.send(b);
            }
            Ok(())
        })();
        drop(batches); // stops the reader at its next batch
        drop(send_preparer); // and a reader waiting for a preparer
        result
    })?;
    // (an import of several files says so naming them all)
    if stats.rows == 0 && !several {
        return Err(Error::input(match (json, &opts.columns) {
            (true, _) => format!("{name}: empty file (no JSON lines)"),
            (false, Some(_)) => format!("{name}: no rows to import"),
            (false, None) => format!("{name}: header only, no rows to import"),
        }));
    }
    stats.columns = if json { reject_cols } else { names };
    progress(bytes_read.load(Ordering::Relaxed), stats.rows)?;
    Ok(stats)
}

/// For text that is not UTF-8, the option that names its encoding
/// (`option`: how the front end names `ImportOptions::encoding`).
fn other_encoding(option: &str) -> String {
    format!(" (a file in another encoding reads with `{option} NAME`, e.g. windows-1252 from Excel on Windows)")
}

/// Spellings of "no value" that tools write into CSV (SQL's `NULL`, R's
/// `NA`, Python's `None`), matched in any case.
const NULL_SPELLINGS: [&str; 5] = ["NULL", "NA", "N/A", "None", "nil"];

/// For a CSV row refused over a value spelled as a NULL (the message quotes
/// it: "`NULL` is not a number"), a hint naming the option that reads it as
/// empty (`option`: how the front end names `ImportOptions::nulls`);
/// otherwise nothing.
fn null_hint(message: &str, nulls: &[String], option: &str) -> String {
    let quoted = message.split('`').skip(1).step_by(2);
    for v in quoted {
        if NULL_SPELLINGS.iter().any(|n| n.eq_ignore_ascii_case(v)) && !nulls.iter().any(|n| n == v) {
            return format!(" (if `{v}` means no value, `{option} {v}` reads it as empty)");
        }
    }
    String::new()
}

/// `e` at `line` of `name` (line 0: at the file, as a Parquet file's
/// column names are).
fn locate(name: &str, line: u64, e: Error) -> Error {
    match (e.kind == ErrorKind::Input, line) {
        (false, _) => e,
        (true, 0) => Error::input(format!("{name}: {}", e.message)),
        (true, _) => Error::input(format!("{name}:{line}: {}", e.message)),
    }
}

/// A first line `sep=;` (as Excel writes and reads it ahead of a CSV
/// header) in `buf`: the delimiter it names and the line's length with
/// its line break (and a byte order mark before it).
pub(super) fn sep_line(buf: &[u8]) -> Option<(u8, usize)> {
    let bom = if buf.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
    let b = &buf[bom..];
    let end = match (b.get(5)?, b.get(6)) {
        (b'\n', _) => 6,
        (b'\r', Some(b'\n')) => 7,
        _ => return None,
    };
    (b[..4].eq_ignore_ascii_case(b"sep=") && b[4] != b'\n').then_some((b[4], bom + end))
}

/// `,` unless the first line has no comma but semicolons or tabs (after
/// a `sep=` line, the delimiter it names).
pub(super) fn sniff_delimiter(buf: &[u8]) -> u8 {
    if let Some((d, _)) = sep_line(buf) {
        return d;
    }
    let first = buf.split(|b| *b == b'\n').next().unwrap_or(&[]);
    if first.contains(&b',') {
        b','
    } else if first.contains(&b';') {
        b';'
    } else if first.contains(&b'\t') {
        b'\t'
    } else {
        b','
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_sep_lines() {
        assert_eq!(sep_line(b"sep=;\nid;email\n"), Some((b';', 6)));
        assert_eq!(sep_line(b"SEP=\t\r\nid\temail\n"), Some((b'\t', 7)));
        assert_eq!(sep_line(b"\xEF\xBB\xBFsep=,\n"), Some((b',', 9)));
        assert_eq!(sep_line(b"sep=;\n"), Some((b';', 6)));
        for no in [&b"sep=;"[..], b"sep=\n\n", b"sep=;;\n", b"separator\n", b"id,sep=;\n", b"sep=;\r"] {
            assert_eq!(sep_line(no), None, "{:?}", String::from_utf8_lossy(no));
        }
        assert_eq!(sniff_delimiter(b"sep=|\na,b|c\n"), b'|');
    }
}
