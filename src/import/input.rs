//! Reading an input file or stdin: format detection, a byte counter for
//! progress, a guard that refuses over-long lines before they are
//! buffered (a 2 GB line must not become a 2 GB allocation), and for
//! files a thread that reads ahead.

use super::{json_array, parquet_input, zip_input};
use crate::error::{Error, Result};
use encoding_rs::Encoding;
use encoding_rs_io::DecodeReaderBytesBuilder;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default longest accepted line: 16 MiB.
pub const DEFAULT_MAX_LINE: usize = 16 << 20;

/// What the too-long-line message calls the limit when the front end does
/// not say how it names it (the CLI: `--max-line-bytes`).
pub const DEFAULT_LIMIT_NAME: &str = "the line length option";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    Jsonl,
}

impl InputFormat {
    pub fn parse(s: &str) -> Option<InputFormat> {
        match s {
            "csv" => Some(InputFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(InputFormat::Jsonl),
            _ => None,
        }
    }
}

/// An opened input with a display name used in error messages.
pub struct Input {
    pub name: String,
    pub format: InputFormat,
    pub reader: Box<dyn BufRead + Send>,
    /// bytes consumed so far (for progress)
    pub bytes_read: Arc<AtomicU64>,
    /// total size when known (files)
    pub total_bytes: Option<u64>,
    /// the line of an error in the input's shape, set where it is found
    /// (a line over the limit, a malformed JSON array)
    pub overflow: Arc<AtomicU64>,
    /// a Parquet file's rows, read instead of `reader` (which is empty)
    pub parquet: Option<parquet_input::ParquetRows>,
    /// the columns its directories' names give, as Hive partitions a
    /// table (`event=purchase/part-0.csv`): added to each of its rows
    pub partition: Vec<(String, String)>,
    /// the files after this one of a zip archive of several given as a
    /// stream, which this input's first file is of: read after it, as
    /// one import
    pub held_rest: Option<HeldRest>,
}

impl Input {
    /// Refuses an input holding the later files of an archive
    /// (`held_rest`) where they cannot be read: among other files.
    pub fn alone(&self) -> Result<()> {
        match &self.held_rest {
            Some(held) => Err(Error::input(format!(
                "{}: a zip archive of {} files given as a stream is imported alone, not among other files",
                held.name,
                held.sizes.len()
            ))),
            None => Ok(()),
        }
    }
}

/// The later files of a zip archive of several given as a stream (stdin,
/// a pipe, a gzip file), held whole (`Input::held_rest`).
pub struct HeldRest {
    /// the stream's name (`stdin`), which names the import
    pub name: String,
    /// opens the archive's file `k` (from 1; 0 is the input holding this)
    pub open: Box<dyn FnMut(usize) -> Result<Input> + Send>,
    /// each file's size, the first's included
    pub sizes: Vec<u64>,
}

impl Input {
    /// Opens `path` (`-` is stdin); `format` overrides detection. A too-long
    /// line names the limit in neutral words ([`DEFAULT_LIMIT_NAME`]).
    pub fn open(path: &str, format: Option<InputFormat>, max_line: usize) -> Result<Input> {
        Input::open_named(path, format, max_line, DEFAULT_LIMIT_NAME, None)
    }

    /// [`Input::open`] with the limit named as the front end calls it
    /// (`limit_name`). The name is given here, not set afterwards: sniffing
    /// the format reads the first line already, which may be too long.
    /// `encoding`: the file's text encoding, when not UTF-8 (see
    /// [`Input::from_reader`]).
    pub fn open_named(
        path: &str,
        format: Option<InputFormat>,
        max_line: usize,
        limit_name: &str,
        encoding: Option<&'static Encoding>,
    ) -> Result<Input> {
        let mut in_archive = false;
        let (name, raw, total): (String, Box<dyn Read + Send>, Option<u64>) = if path == "-" {
            ("stdin".into(), Box::new(std::io::stdin()), None)
        } else {
            let f = std::fs::File::open(path).map_err(|e| Error::input(format!("{path}: cannot open: {e}")))?;
            if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                return Err(Error::input(format!("{path}: is a directory")));
            }
            let len = f.metadata().ok().map(|m| m.len());
            // (only a regular file can be looked at and read again from its
            // start: a pipe, as `<(zcat log.gz)` gives, is read as it comes)
            let regular = f.metadata().is_ok_and(|m| m.is_file());
            let mut f = f;
            let magic = match regular {
                true => file_magic(&mut f).map_err(|e| Error::runtime(format!("{path}: read error: {e}")))?,
                false => [0; 4],
            };
            if magic == zip_input::ZIP_MAGIC {
                // named as a path into the archive: `export.zip/orders.csv`
                let (inner, size, raw) = zip_input::open_single(path, f, "; unzip it and import them one at a time")?;
                in_archive = true;
                (format!("{path}/{inner}"), raw, Some(size))
            } else if magic == parquet_input::PARQUET_MAGIC {
                return Input::from_parquet_file(path, f);
            } else {
                (path.to_string(), Box::new(f) as Box<dyn Read + Send>, len)
            }
        };
        let how = Reading { format, max_line, limit_name, encoding, in_archive };
        let mut input = Input::from_stream(name, raw, total, &how)?;
        if path != "-" {
            // a file's reads end: a thread reading ahead never waits on a
            // writer (its chunks are as large as the buffer, which they
            // bypass once the bytes sniffing read are through)
            input.reader = Box::new(ReadAhead::spawn(input.reader));
        }
        Ok(input)
    }

    /// The Parquet file `f` (`name` in messages).
    fn from_parquet_file(name: &str, f: std::fs::File) -> Result<Input> {
        let f = parquet_input::FileAt::new(f).map_err(|e| Error::runtime(format!("{name}: read error: {e}")))?;
        let (rows, count) = parquet_input::open(name, f)?;
        Ok(Input::parquet_rows(name, rows, count))
    }

    /// A Parquet file held in memory (`name` in messages), read as
    /// [`Input::open_named`] reads one from a path.
    pub fn from_parquet_bytes(name: &str, bytes: Vec<u8>) -> Result<Input> {
        let (rows, count) = parquet_input::open(name, bytes::Bytes::from(bytes))?;
        Ok(Input::parquet_rows(name, rows, count))
    }

    /// A Parquet file's rows as an input: `count` rows, the progress
    /// counted in rows where other inputs count bytes.
    fn parquet_rows(name: &str, rows: parquet_input::ParquetRows, count: u64) -> Input {
        Input {
            name: name.to_string(),
            format: InputFormat::Csv,
            reader: Box::new(std::io::empty()),
            bytes_read: rows.progress(),
            total_bytes: Some(count),
            overflow: Arc::new(AtomicU64::new(0)),
            parquet: Some(rows),
            partition: Vec::new(),
            held_rest: None,
        }
    }

    /// The first file of the zip archive `f`, a stream held whole (`name`
    /// in messages, its files `name/orders.csv`), with the archive's later
    /// files to open in turn (`Input::held_rest`) when it holds several.
    fn from_held_zip<R>(name: String, f: R, how: &Reading) -> Result<Input>
    where
        R: Read + std::io::Seek + Clone + Send + 'static,
    {
        let (archive, files) = zip_input::files(&name, f)?;
        if files.is_empty() {
            return Err(Error::input(format!("{name}: the zip archive holds no file")));
        }
        let (format, max_line, encoding) = (how.format, how.max_line, how.encoding);
        let (limit_name, outer) = (how.limit_name.to_string(), name.clone());
        let open_file = move |archive: &zip::ZipArchive<R>, (index, inner, size): &zip_input::Entry| {
            let how = Reading { format, max_line, limit_name: &limit_name, encoding, in_archive: true };
            let raw = zip_input::open_index(archive.clone(), *index);
            Input::from_stream(format!("{outer}/{inner}"), raw, Some(*size), &how)
        };
        let mut first = open_file(&archive, &files[0])?;
        if files.len() > 1 {
            let sizes = files.iter().map(|(_, _, size)| *size).collect();
            let open = move |k: usize| match files.get(k) {
                Some(entry) => open_file(&archive, entry),
                None => Err(Error::runtime(format!("the archive has no file {k}"))),
            };
            first.held_rest = Some(HeldRest { name, open: Box::new(open), sizes });
        }
        Ok(first)
    }

    /// An input over any reader: `name` is used in messages and, when
    /// `format` is not given, for detection by its extension (else by the
    /// content); `total` is its size when known (for progress). Text in
    /// `encoding` (windows-1250, latin1: any WHATWG label), or in UTF-16
    /// with a byte order mark (Excel's "Unicode text"), is read as UTF-8.
    pub fn from_reader(
        name: String,
        raw: Box<dyn Read + Send>,
        total: Option<u64>,
        format: Option<InputFormat>,
        max_line: usize,
        limit_name: &str,
        encoding: Option<&'static Encoding>,
    ) -> Result<Input> {
        let how = Reading { format, max_line, limit_name, encoding, in_archive: false };
        Input::from_stream(name, raw, total, &how)
    }

    fn from_stream(name: String, raw: Box<dyn Read + Send>, total: Option<u64>, how: &Reading) -> Result<Input> {
        let Reading { format, max_line, limit_name, encoding, .. } = *how;
        // records keep field offsets in 32 bits
        let max_line = max_line.min(u32::MAX as usize);
        let bytes_read = Arc::new(AtomicU64::new(0));
        let overflow = Arc::new(AtomicU64::new(0));
        // a gzip file (`events.csv.gz`, as exports are often downloaded)
        // or a zstd file (`events.csv.zst`, as DuckDB, ClickHouse and
        // Snowflake compress them) is read as what it holds; its size then
        // says nothing of the progress. (Reads of a chunk or more bypass
        // this small buffer.)
        let mut raw = BufReader::new(raw);
        let head = raw.fill_buf().map_err(|e| io_error(&name, &overflow, e))?;
        let (gzip, zstd) = (head.starts_with(&GZIP_MAGIC), head.starts_with(&ZSTD_MAGIC));
        let (mut raw, total): (Box<dyn BufRead + Send>, Option<u64>) = if gzip {
            (Box::new(BufReader::new(Unpacked(flate2::bufread::MultiGzDecoder::new(raw), "gzip"))), None)
        } else if zstd {
            let frames = zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| Error::runtime(format!("{name}: cannot start reading zstd: {e}")))?;
            (Box::new(BufReader::new(Unpacked(frames, "zstd"))), None)
        } else {
            (Box::new(raw), total)
        };
        let head = raw.fill_buf().map_err(|e| io_error(&name, &overflow, e))?;
        let zip = head.starts_with(&zip_input::ZIP_MAGIC);
        if zip && how.in_archive {
            return Err(Error::input(format!(
                "{name}: a zip archive inside a zip archive is not read: unzip it first"
            )));
        }
        if zip || head.starts_with(&parquet_input::PARQUET_MAGIC) {
            // A zip archive's directory and a Parquet file's schema are at
            // their end: given as a stream (stdin, a pipe, inside a gzip
            // file or an archive), the file is read whole first.
            let held = hold(&name, raw, zip).map_err(|e| match e {
                Held::Read(e) => io_error(&name, &overflow, e),
                Held::Error(e) => e,
            })?;
            return match (held, zip) {
                (Kept::Memory(bytes), false) => Input::from_parquet_bytes(&name, bytes),
                (Kept::File(f), false) => Input::from_parquet_file(&name, f),
                (Kept::Memory(bytes), true) => {
                    Input::from_held_zip(name, std::io::Cursor::new(bytes::Bytes::from(bytes)), how)
                }
                (Kept::File(f), true) => Input::from_held_zip(name, zip_input::SharedFile::new(f), how),
            };
        }
        let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
        let (mut raw, total): (Box<dyn BufRead + Send>, Option<u64>) = match utf16
            || encoding.is_some_and(|e| e != encoding_rs::UTF_8)
        {
            true => {
                // a byte order mark names the encoding whatever was given
                let decode =
                    DecodeReaderBytesBuilder::new().encoding(encoding).bom_override(true).strip_bom(true).build(raw);
                (Box::new(BufReader::new(decode)), None)
            }
            false => (raw, total),
        };
        let named = match (gzip, zstd) {
            (true, _) => name.strip_suffix(".gz").unwrap_or(&name),
            (_, true) => name.strip_suffix(".zst").or_else(|| name.strip_suffix(".zstd")).unwrap_or(&name),
            _ => &name,
        };
        let ext = Path::new(named).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let format = format.or_else(|| ext.as_deref().and_then(InputFormat::parse));
        // a JSON array of objects is read as JSON lines, an element a line
        let array = format != Some(InputFormat::Csv)
            && json_array::starts_array(raw.fill_buf().map_err(|e| io_error(&name, &overflow, e))?);
        let raw: Box<dyn Read + Send> = match array {
            true => Box::new(json_array::ArrayLines::new(raw, overflow.clone())),
            false => raw,
        };
        let format = if array { Some(InputFormat::Jsonl) } else { format };
        let guard = LineGuard {
            inner: raw,
            max: max_line,
            limit_name: limit_name.to_string(),
            cur: 0,
            line: 1,
            count: bytes_read.clone(),
            overflow: overflow.clone(),
        };
        let mut reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(CHUNK, guard));
        let format = match format {
            Some(f) => f,
            None => {
                let buf = reader.fill_buf().map_err(|e| io_error(&name, &overflow, e))?;
                match buf.iter().find(|b| !b.is_ascii_whitespace()) {
                    Some(b'{') => InputFormat::Jsonl,
                    _ => InputFormat::Csv,
                }
            }
        };
        Ok(Input {
            name,
            format,
            reader,
            bytes_read,
            total_bytes: total,
            overflow,
            parquet: None,
            partition: Vec::new(),
            held_rest: None,
        })
    }
}

/// Opens the parts of an import ([`parts`]) as [`Input::open_named`]
/// opens a path; a file of a zip archive is named `export.zip/orders.csv`
/// and read as that file, the archive's directory parsed once for all of
/// its files.
pub struct Opener {
    format: Option<InputFormat>,
    max_line: usize,
    limit_name: String,
    encoding: Option<&'static Encoding>,
    /// the archive of the last part opened, by path
    archive: Option<(String, zip::ZipArchive<zip_input::SharedFile>)>,
}

impl Opener {
    pub fn new(
        format: Option<InputFormat>,
        max_line: usize,
        limit_name: &str,
        encoding: Option<&'static Encoding>,
    ) -> Opener {
        Opener { format, max_line, limit_name: limit_name.to_string(), encoding, archive: None }
    }

    pub fn open(&mut self, part: &Part) -> Result<Input> {
        let mut input = self.open_file(part)?;
        input.partition = part.partition.clone();
        Ok(input)
    }

    fn open_file(&mut self, part: &Part) -> Result<Input> {
        let Some((index, _, size)) = &part.entry else {
            return Input::open_named(&part.path, self.format, self.max_line, &self.limit_name, self.encoding);
        };
        let path = &part.path;
        let archive = match &self.archive {
            Some((p, a)) if p == path => a.clone(),
            _ => {
                let f = std::fs::File::open(path).map_err(|e| Error::input(format!("{path}: cannot open: {e}")))?;
                let (a, _) = zip_input::files(path, zip_input::SharedFile::new(f))?;
                self.archive = Some((path.clone(), a.clone()));
                a
            }
        };
        let raw = zip_input::open_index(archive, *index);
        let how = Reading {
            format: self.format,
            max_line: self.max_line,
            limit_name: &self.limit_name,
            encoding: self.encoding,
            in_archive: true,
        };
        let mut input = Input::from_stream(part.name(), raw, Some(*size), &how)?;
        input.reader = Box::new(ReadAhead::spawn(input.reader));
        Ok(input)
    }
}

/// One file an import reads: a path (`-`: stdin), or one file of the zip
/// archive at a path (its index, name and size in the archive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub path: String,
    pub entry: Option<zip_input::Entry>,
    /// the partition columns its directories' names give (`Input::partition`)
    pub partition: Vec<(String, String)>,
}

impl Part {
    /// The name messages give it: the path, or `export.zip/orders.csv`.
    pub fn name(&self) -> String {
        match &self.entry {
            Some((_, file, _)) => format!("{}/{file}", self.path),
            None => self.path.clone(),
        }
    }

    /// Its size where known without reading it (the file's, or the
    /// archive's for its file), for the progress of an import of several.
    pub fn size(&self) -> u64 {
        match &self.entry {
            Some((_, _, size)) => *size,
            None => std::fs::metadata(&self.path).map_or(0, |m| m.len()),
        }
    }
}

/// The files `paths` name, in order: a zip archive holding several files
/// stands for each of them, in the archive's order, and a directory (as
/// Spark and Hadoop write a table: `part-00000-….csv`, `_SUCCESS`, `.crc`
/// files) for its files in name order, those whose name starts with `.`
/// or `_` passed over. Directories inside named `column=value` are Hive's
/// partitions (`event=purchase/date=2024-11-10/part-0.csv`): read in name
/// order, each file with those columns (`Part::partition`). A path that
/// cannot be opened is kept as it is: opening it says why.
pub fn parts(paths: &[String]) -> Result<Vec<Part>> {
    let mut out = Vec::new();
    let mut listed = Vec::new();
    for path in paths {
        if path != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            listed.extend(directory_files(path)?);
        } else {
            listed.push((path.clone(), Vec::new()));
        }
    }
    for (path, partition) in listed {
        // (a named pipe is not opened here: its bytes would go with it)
        let zip = path != "-"
            && std::fs::metadata(&path).is_ok_and(|m| m.is_file())
            && std::fs::File::open(&path)
                .is_ok_and(|mut f| file_magic(&mut f).is_ok_and(|m| m == zip_input::ZIP_MAGIC));
        let files = if zip {
            let f = std::fs::File::open(&path).map_err(|e| Error::input(format!("{path}: cannot open: {e}")))?;
            zip_input::files(&path, f)?.1
        } else {
            Vec::new()
        };
        if files.len() < 2 {
            out.push(Part { path, entry: None, partition });
            continue;
        }
        out.extend(files.into_iter().map(|e| Part {
            path: path.clone(),
            entry: Some(e),
            partition: partition.clone(),
        }));
    }
    Ok(out)
}

/// A file to import with its partition columns.
type Listed = (String, Vec<(String, String)>);

/// The files of directory `dir` to import, by name, with the partition
/// columns of the directories they are in: not those whose name starts
/// with `.` or `_` (Spark's `_SUCCESS` and checksums). Refused: a
/// directory inside not named `column=value`, files beside partitions,
/// files under different partition columns, and no file at all.
fn directory_files(dir: &str) -> Result<Vec<Listed>> {
    let mut files = Vec::new();
    walk_partitions(dir, Path::new(dir), &mut Vec::new(), &mut files)?;
    let Some((first, columns)) = files.first() else {
        return Err(Error::input(format!("{dir}: the directory holds no file to import")));
    };
    let keys = |p: &[(String, String)]| p.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    if let Some((other, theirs)) = files.iter().find(|(_, p)| keys(p) != keys(columns)) {
        let list = |p: &[(String, String)]| match keys(p).join(", ") {
            k if k.is_empty() => "none".to_string(),
            k => k,
        };
        return Err(Error::input(format!(
            "{other}: its partition columns ({}) differ from {first}'s ({}): a table's files are partitioned alike",
            list(theirs),
            list(columns)
        )));
    }
    Ok(files)
}

/// Lists the files under `dir` (inside `top`, the directory named) into
/// `out`, each with `partition` and the columns of the directories below.
fn walk_partitions(top: &str, dir: &Path, partition: &mut Vec<(String, String)>, out: &mut Vec<Listed>) -> Result<()> {
    let shown = dir.to_string_lossy();
    let bad = |e: std::io::Error| Error::input(format!("{shown}: cannot list: {e}"));
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(bad)? {
        let entry = entry.map_err(bad)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = dir.join(&name);
        let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
        entries.push((name, path.to_string_lossy().into_owned(), is_dir));
    }
    entries.sort();
    let dirs = entries.iter().filter(|e| e.2).count();
    if dirs > 0 && dirs < entries.len() {
        let (file, sub) = (entries.iter().find(|e| !e.2), entries.iter().find(|e| e.2));
        return Err(Error::input(format!(
            "{shown}: holds files ({}) beside directories ({}): name the files to import",
            file.map_or("", |e| e.0.as_str()),
            sub.map_or("", |e| e.0.as_str())
        )));
    }
    for (name, path, is_dir) in entries {
        if !is_dir {
            out.push((path, partition.clone()));
            continue;
        }
        let Some((column, value)) = hive_partition(&name) else {
            return Err(Error::input(format!(
                "{path}: a directory inside {top} not named as a partition (`column=value`): name the files to import"
            )));
        };
        if partition.iter().any(|(k, _)| *k == column) {
            return Err(Error::input(format!("{path}: partitions {top} by `{column}` a second time")));
        }
        partition.push((column, value));
        walk_partitions(top, Path::new(&path), partition, out)?;
        partition.pop();
    }
    Ok(())
}

/// A partition directory's column and value (`date=2024-11-10`), with
/// Hive's escapes (`%3A`) decoded and its default partition
/// (`__HIVE_DEFAULT_PARTITION__`, a NULL) read as an empty value.
fn hive_partition(name: &str) -> Option<(String, String)> {
    let (column, value) = name.split_once('=')?;
    let decode = |s: &str| -> Option<String> {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && let Some(h) = b.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                && let Ok(v) = u8::from_str_radix(std::str::from_utf8(h).unwrap_or_default(), 16)
            {
                out.push(v);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    };
    let column = decode(column).filter(|c| !c.trim().is_empty())?;
    let value = decode(value)?;
    let value = if value == "__HIVE_DEFAULT_PARTITION__" { String::new() } else { value };
    Some((column, value))
}

/// A zip archive or Parquet file given as a stream is held in memory up
/// to this size, in an unnamed temporary file beyond it, and refused
/// beyond the most (a gzip stream of a few megabytes can hold gigabytes).
const IN_MEMORY: u64 = 64 << 20;
const STREAM_MOST: u64 = 16 << 30;

/// A stream read whole.
enum Kept {
    Memory(Vec<u8>),
    File(std::fs::File),
}

/// Why a stream could not be held: its own read failed, or the rest.
enum Held {
    Read(std::io::Error),
    Error(Error),
}

/// Reads the stream `raw` (`name` in messages; a zip archive or not, a
/// Parquet file) whole, into memory or a temporary file.
fn hold(name: &str, mut raw: Box<dyn BufRead + Send>, zip: bool) -> std::result::Result<Kept, Held> {
    use std::io::{Seek, Write};
    let mut bytes = Vec::new();
    raw.by_ref().take(IN_MEMORY + 1).read_to_end(&mut bytes).map_err(Held::Read)?;
    if bytes.len() as u64 <= IN_MEMORY {
        return Ok(Kept::Memory(bytes));
    }
    let spool = |e: std::io::Error| {
        Held::Error(Error::runtime(format!(
            "{name}: the stream cannot be held in a temporary file ({e}); give its path"
        )))
    };
    let mut f = tempfile::tempfile().map_err(spool)?;
    f.write_all(&bytes).map_err(spool)?;
    drop(bytes);
    let mut rest = raw.take(STREAM_MOST - IN_MEMORY);
    let copied = std::io::copy(&mut rest, &mut f).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => Held::Read(e),
        _ => spool(e),
    })?;
    if IN_MEMORY + 1 + copied > STREAM_MOST {
        let what = if zip { "zip archive" } else { "Parquet file" };
        return Err(Held::Error(Error::input(format!(
            "{name}: a {what} given as a stream is read whole first, up to {} GiB, and this one is larger: give its path",
            STREAM_MOST >> 30
        ))));
    }
    f.rewind().map_err(spool)?;
    Ok(Kept::File(f))
}

/// How a stream is read: the options of [`Input::from_reader`], and
/// whether the stream is a file inside a zip archive (whose own archives
/// are not opened: an archive can hold itself).
#[derive(Clone, Copy)]
struct Reading<'a> {
    format: Option<InputFormat>,
    max_line: usize,
    limit_name: &'a str,
    encoding: Option<&'static Encoding>,
    in_archive: bool,
}

/// The first four bytes of file `f` (zeros past its end), read from its
/// start, which it is left at.
fn file_magic(f: &mut std::fs::File) -> std::io::Result<[u8; 4]> {
    use std::io::{Seek, SeekFrom};
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    f.seek(SeekFrom::Start(0))?;
    Ok(head)
}

/// The first bytes of a gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The content of a compressed stream (gzip members or zstd frames one
/// after another, as `cat a.gz b.gz` makes them), with a damaged or cut
/// stream said to be bad input naming its compression (`.1`).
struct Unpacked<D: Read>(D, &'static str);

impl<D: Read> Read for Unpacked<D> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::Interrupted => e,
            _ => std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a whole {} file ({e})", self.1)),
        })
    }
}

/// Turns an I/O error while reading into a located message.
pub fn io_error(name: &str, overflow: &AtomicU64, e: std::io::Error) -> Error {
    let line = overflow.load(Ordering::Relaxed);
    if line > 0 {
        Error::input(format!("{name}:{line}: {e}"))
    } else if e.kind() == std::io::ErrorKind::InvalidData {
        Error::input(format!("{name}: {e}"))
    } else {
        Error::runtime(format!("{name}: read error: {e}"))
    }
}

/// Bytes read at once.
const CHUNK: usize = 1 << 20;
/// Chunks read ahead of the parsing.
const AHEAD: usize = 4;

/// Reads on a thread of its own, `AHEAD` chunks ahead of what is consumed:
/// the kernel's copy of the file and the line guard's scan run beside the
/// parsing (on this machine the copy alone took a quarter of the reading
/// thread's time). The thread ends at the end of the input, at an error
/// (handed over after the bytes before it), or when this is dropped.
struct ReadAhead {
    chunks: std::sync::mpsc::Receiver<std::io::Result<(Vec<u8>, usize)>>,
    recycle: std::sync::mpsc::Sender<Vec<u8>>,
    cur: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

impl ReadAhead {
    fn spawn(mut inner: impl Read + Send + 'static) -> ReadAhead {
        let (send, chunks) = std::sync::mpsc::sync_channel(AHEAD);
        let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            loop {
                let mut buf = recycled.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
                let mut len = 0;
                let res = loop {
                    if len == CHUNK {
                        break Ok(());
                    }
                    match inner.read(&mut buf[len..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => len += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                let last = len < CHUNK || res.is_err();
                if (len > 0 || res.is_ok()) && send.send(Ok((buf, len))).is_err() {
                    return;
                }
                if let Err(e) = res {
                    let _ = send.send(Err(e));
                }
                if last {
                    return;
                }
            }
        });
        ReadAhead { chunks, recycle, cur: Vec::new(), len: 0, pos: 0, done: false }
    }
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.len && !self.done {
            match self.chunks.recv() {
                Ok(Ok((buf, len))) => {
                    let used = std::mem::replace(&mut self.cur, buf);
                    if !used.is_empty() {
                        let _ = self.recycle.send(used);
                    }
                    // the end is the thread's end (an error may follow a short chunk)
                    (self.len, self.pos) = (len, 0);
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(&self.cur[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let got = self.fill_buf()?;
        let n = got.len().min(out.len());
        out[..n].copy_from_slice(&got[..n]);
        self.consume(n);
        Ok(n)
    }
}

struct LineGuard {
    inner: Box<dyn Read + Send>,
    max: usize,
    limit_name: String,
    cur: usize,
    line: u64,
    count: Arc<AtomicU64>,
    overflow: Arc<AtomicU64>,
}

impl Read for LineGuard {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seg_start = 0;
        let too_long = |line: u64| {
            self.overflow.store(line, Ordering::Relaxed);
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line longer than {} bytes (the limit; see {})", self.max, self.limit_name),
            )
        };
        for nl in memchr::memchr_iter(b'\n', &buf[..n]) {
            if self.cur + (nl - seg_start) > self.max {
                return Err(too_long(self.line));
            }
            self.line += 1;
            self.cur = 0;
            seg_start = nl + 1;
        }
        self.cur += n - seg_start;
        if self.cur > self.max {
            return Err(too_long(self.line));
        }
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Partition directories' names as Hive, Spark and DuckDB write them.
    #[test]
    fn hive_partition_names() {
        let p = |n: &str| hive_partition(n).map(|(k, v)| format!("{k}|{v}"));
        assert_eq!(p("kind=purchase").as_deref(), Some("kind|purchase"));
        assert_eq!(p("ts=2024-11-10 13%3A15%3A00").as_deref(), Some("ts|2024-11-10 13:15:00"));
        assert_eq!(p("a%3Db=x=y").as_deref(), Some("a=b|x=y"));
        assert_eq!(p("city=__HIVE_DEFAULT_PARTITION__").as_deref(), Some("city|"));
        assert_eq!(p("city=").as_deref(), Some("city|"));
        assert_eq!(p("month=10%").as_deref(), Some("month|10%"));
        assert_eq!(p("sign=%+1").as_deref(), Some("sign|%+1"));
        assert_eq!(p("name=Z%C3%BCrich").as_deref(), Some("name|Zürich"));
        assert_eq!(p("2024"), None);
        assert_eq!(p("=x"), None);
        assert_eq!(p("bad=%FF"), None);
    }

    /// The message `Input` gives for `x.csv` whose third line is too long.
    fn too_long_message(dir: &Path, limit_name: Option<&str>) -> String {
        let p = dir.join("x.csv");
        let mut s = String::from("a,b\n1,2\n");
        s.push_str(&"x".repeat(5000));
        s.push('\n');
        std::fs::write(&p, s).unwrap();
        let p = p.to_str().unwrap();
        let mut inp = match limit_name {
            Some(n) => Input::open_named(p, None, 1000, n, None).unwrap(),
            None => Input::open(p, None, 1000).unwrap(),
        };
        let mut out = Vec::new();
        let e = inp.reader.read_to_end(&mut out).unwrap_err();
        io_error(&inp.name, &inp.overflow, e).message
    }

    /// A reader that gives `n` bytes, a few at a time, then fails.
    struct FailsAfter {
        n: usize,
        given: usize,
    }

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.given == self.n {
                return Err(std::io::Error::other("disk gone"));
            }
            let k = buf.len().min(self.n - self.given).min(300_007);
            for (i, b) in buf[..k].iter_mut().enumerate() {
                *b = ((self.given + i) % 251) as u8;
            }
            self.given += k;
            Ok(k)
        }
    }

    /// Read ahead, every byte comes in order, then the error, then nothing;
    /// and the end of a file that fills its chunks exactly.
    #[test]
    fn reading_ahead_hands_over_the_bytes_then_the_error() {
        let n = CHUNK * 2 + CHUNK / 2;
        let mut r = ReadAhead::spawn(FailsAfter { n, given: 0 });
        let mut got = Vec::new();
        let e = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(e.to_string(), "disk gone");
        assert_eq!(got.len(), n);
        assert!(got.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
        assert_eq!(r.fill_buf().unwrap(), b"");
        for len in [0, 5, CHUNK, CHUNK * 2] {
            let data: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            let mut r = ReadAhead::spawn(std::io::Cursor::new(data.clone()));
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, data);
        }
    }

    #[test]
    fn long_lines_are_refused_with_their_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let m = too_long_message(dir.path(), None);
        assert!(m.ends_with("x.csv:3: line longer than 1000 bytes (the limit; see the line length option)"), "{m}");
        // the front end names the limit as it calls it (the CLI: its flag)
        let m = too_long_message(dir.path(), Some("--max-line-bytes"));
        assert!(m.ends_with("x.csv:3: line longer than 1000 bytes (the limit; see --max-line-bytes)"), "{m}");
    }

    #[test]
    fn a_too_long_first_line_names_the_limit_while_sniffing_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data");
        std::fs::write(&p, "x".repeat(5000)).unwrap();
        let e = Input::open_named(p.to_str().unwrap(), None, 1000, "--max-line-bytes", None).err().unwrap();
        assert!(
            e.message.ends_with("data:1: line longer than 1000 bytes (the limit; see --max-line-bytes)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn detects_jsonl_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data");
        std::fs::write(&p, "  {\"a\":1}\n").unwrap();
        assert_eq!(Input::open(p.to_str().unwrap(), None, 100).unwrap().format, InputFormat::Jsonl);
    }
}
