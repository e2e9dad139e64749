//! Turns CSV or JSONL input into rows of text fields under one header, and
//! drives a sink over them: located errors (`file:line: reason`), atomic or
//! skip-invalid handling, and the rejects file.

use super::input::{Input, InputFormat, io_error};
use crate::error::{Error, ErrorKind, Result};
use csv::{ByteRecord, StringRecord};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// What the rows are handed to.
pub trait RowSink {
    /// New columns, appended to those already announced (all of a CSV header
    /// at once; JSONL keys as they first appear).
    fn columns(&mut self, added: &[String]) -> Result<()>;
    /// One row; an `Input` error rejects just this row, any other error aborts.
    fn row(&mut self, line: u64, rec: &StringRecord) -> Result<()>;
    /// Called once after a CSV header: a chance to refuse a file that lacks a needed column.
    fn header_done(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The rejects file: the input's columns plus `line` and `reason`, written
/// to a temporary name and moved into place only when the import commits.
/// Without a path, bad rows are only counted.
pub struct Rejects {
    out: Option<(PathBuf, PathBuf, csv::Writer<std::fs::File>)>,
    header_written: bool,
    pub count: u64,
}

impl Rejects {
    pub fn counting() -> Rejects {
        Rejects { out: None, header_written: false, count: 0 }
    }

    pub fn create(path: &Path) -> Result<Rejects> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let f =
            std::fs::File::create(&tmp).map_err(|e| Error::input(format!("{}: cannot create: {e}", path.display())))?;
        let w = csv::WriterBuilder::new().flexible(true).from_writer(f);
        Ok(Rejects { out: Some((path.to_path_buf(), tmp, w)), header_written: false, count: 0 })
    }

    fn header(&mut self, cols: &[String]) -> Result<()> {
        if let Some((_, _, w)) = &mut self.out
            && !self.header_written
        {
            let mut h: Vec<&str> = cols.iter().map(String::as_str).collect();
            h.push("line");
            h.push("reason");
            w.write_record(&h).map_err(csv_io)?;
            self.header_written = true;
        }
        Ok(())
    }

    fn write(&mut self, cols: &[String], fields: &ByteRecord, line: u64, reason: &str) -> Result<()> {
        self.count += 1;
        self.header(cols)?;
        if let Some((_, _, w)) = &mut self.out {
            let mut r = fields.clone();
            while r.len() < cols.len() {
                r.push_field(b"");
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

/// Reads every row of `input` into `sink`. With `rejects`, bad rows are
/// written there and skipped; without, the first bad row fails the run with
/// `file:line: reason`.
pub fn drive(
    input: &mut Input,
    sink: &mut dyn RowSink,
    mut rejects: Option<&mut Rejects>,
    delimiter: Option<u8>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DriveStats> {
    let name = input.name.clone();
    let mut stats = DriveStats { rows: 0, rejected: 0, columns: vec![] };
    let handle = |line: u64,
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
                    r.write(cols, raw, line, &e.message)
                }
                None => Err(Error::input(format!("{name}:{line}: {}", e.message))),
            },
            Err(e) => Err(e),
        }
    };
    match input.format {
        InputFormat::Csv => {
            let delim = match delimiter {
                Some(d) => d,
                None => {
                    sniff_delimiter(input.reader.fill_buf().map_err(|e| io_error(&input.name, &input.overflow, e))?)
                }
            };
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(delim)
                .from_reader(&mut input.reader);
            let mut raw = ByteRecord::new();
            let read = |rdr: &mut csv::Reader<_>, raw: &mut ByteRecord| -> Result<bool> {
                rdr.read_byte_record(raw).map_err(|e| match e.into_kind() {
                    csv::ErrorKind::Io(io) => io_error(&input.name, &input.overflow, io),
                    other => Error::input(format!("{}: {other:?}", input.name)),
                })
            };
            if !read(&mut rdr, &mut raw)? {
                return Err(Error::input(format!("{name}: empty file (expected a header line)")));
            }
            let mut cols = Vec::with_capacity(raw.len());
            for (i, f) in raw.iter().enumerate() {
                let s = std::str::from_utf8(f)
                    .map_err(|_| Error::input(format!("{name}:1: invalid UTF-8 in the header (column {})", i + 1)))?;
                let s = if i == 0 { s.trim_start_matches('\u{feff}') } else { s };
                cols.push(s.trim().to_string());
            }
            if cols.iter().all(|c| c.is_empty()) {
                return Err(Error::input(format!("{name}:1: empty header line")));
            }
            sink.columns(&cols).map_err(|e| locate(&name, 1, e))?;
            sink.header_done().map_err(|e| locate(&name, 1, e))?;
            stats.columns = cols.clone();
            let mut n = 0u64;
            while read(&mut rdr, &mut raw)? {
                let line = raw.position().map(|p| p.line()).unwrap_or(0);
                let res = if raw.len() != cols.len() {
                    if raw.len() == 1 && raw.get(0) == Some(b"") {
                        continue; // a blank line
                    }
                    Err(Error::input(format!("expected {} columns as in the header, found {}", cols.len(), raw.len())))
                } else {
                    match StringRecord::from_byte_record(std::mem::take(&mut raw)) {
                        Ok(rec) => {
                            let res = sink.row(line, &rec);
                            raw = rec.into_byte_record();
                            res
                        }
                        Err(e) => {
                            let col = e.utf8_error().field();
                            raw = e.into_byte_record();
                            Err(Error::input(format!(
                                "invalid UTF-8 in column `{}`",
                                cols.get(col).map(String::as_str).unwrap_or("?")
                            )))
                        }
                    }
                };
                handle(line, &cols, &raw, res, &mut stats, &mut rejects)?;
                n += 1;
                if n.is_multiple_of(65536) {
                    progress(input.bytes_read.load(Ordering::Relaxed), n);
                }
            }
            if stats.rows == 0 {
                return Err(Error::input(format!("{name}: header only, no rows to import")));
            }
        }
        InputFormat::Jsonl => {
            let mut cols: Vec<String> = Vec::new();
            let mut index: std::collections::HashMap<String, usize> = Default::default();
            let mut buf = Vec::new();
            let mut line = 0u64;
            let mut rec = StringRecord::new();
            loop {
                buf.clear();
                let got =
                    input.reader.read_until(b'\n', &mut buf).map_err(|e| io_error(&input.name, &input.overflow, e))?;
                if got == 0 {
                    break;
                }
                line += 1;
                if buf.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                let parsed: Result<serde_json::Map<String, serde_json::Value>> = match std::str::from_utf8(&buf) {
                    Err(_) => Err(Error::input("invalid UTF-8")),
                    Ok(s) => serde_json::from_str(s).map_err(|e| Error::input(format!("invalid JSON object: {e}"))),
                };
                let res = match parsed {
                    Err(e) => Err(e),
                    Ok(obj) => {
                        let mut added = Vec::new();
                        for k in obj.keys() {
                            if !index.contains_key(k) {
                                index.insert(k.clone(), cols.len());
                                cols.push(k.clone());
                                added.push(k.clone());
                            }
                        }
                        if !added.is_empty() {
                            sink.columns(&added).map_err(|e| locate(&name, line, e))?;
                        }
                        let mut fields = vec![String::new(); cols.len()];
                        let mut bad = None;
                        for (k, v) in &obj {
                            match json_text(v) {
                                Ok(t) => fields[index[k]] = t,
                                Err(m) => bad = Some(format!("field `{k}`: {m}")),
                            }
                        }
                        match bad {
                            Some(m) => Err(Error::input(m)),
                            None => {
                                rec.clear();
                                for f in &fields {
                                    rec.push_field(f);
                                }
                                sink.row(line, &rec)
                            }
                        }
                    }
                };
                let mut raw = ByteRecord::new();
                if res.is_err() {
                    let text = String::from_utf8_lossy(&buf);
                    raw.push_field(text.trim_end().as_bytes());
                }
                handle(line, &["record".to_string()], &raw, res, &mut stats, &mut rejects)?;
                if line.is_multiple_of(65536) {
                    progress(input.bytes_read.load(Ordering::Relaxed), stats.rows);
                }
            }
            if stats.rows == 0 {
                return Err(Error::input(format!("{name}: empty file (no JSON lines)")));
            }
            stats.columns = vec!["record".to_string()];
        }
    }
    progress(input.bytes_read.load(Ordering::Relaxed), stats.rows);
    Ok(stats)
}

fn locate(name: &str, line: u64, e: Error) -> Error {
    if e.kind == ErrorKind::Input { Error::input(format!("{name}:{line}: {}", e.message)) } else { e }
}

/// The text form of a JSON value: numbers verbatim, lists `;`-joined.
fn json_text(v: &serde_json::Value) -> std::result::Result<String, String> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => String::new(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => s.clone(),
        J::Array(items) => {
            let mut parts = Vec::new();
            for i in items {
                match i {
                    J::String(s) => parts.push(s.clone()),
                    J::Number(n) => parts.push(n.to_string()),
                    _ => return Err("lists may hold only strings and numbers".into()),
                }
            }
            parts.join(";")
        }
        J::Object(_) => return Err("nested objects are not supported".into()),
    })
}

/// `,` unless the first line has no comma but semicolons or tabs.
fn sniff_delimiter(buf: &[u8]) -> u8 {
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
