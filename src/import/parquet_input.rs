//! A Parquet file (as DuckDB, Spark, pandas/pyarrow, BigQuery's exports
//! and reach's own `export --format parquet` write them) read as records
//! of text fields, as a CSV file's rows are, so that everything an import
//! does with a CSV file (column names, mapping, types, rejects) applies to
//! it unchanged.
//!
//! The file's footer names its columns and their types; that is read
//! before the import starts, so a file that is not Parquet or holds a
//! column reach cannot read as text is refused at once. A thread of its
//! own then decodes the row groups a batch of rows at a time, column by
//! column (the `parquet` crate's typed column readers), each value as
//! text, and hands the batches to the import's reader. What a value
//! becomes:
//!
//! | Parquet | text |
//! | --- | --- |
//! | integers, booleans | as written (`42`, `true`) |
//! | DECIMAL | exact (`12.50`) |
//! | FLOAT, DOUBLE | the shortest text that reads back the same |
//! | DATE | `2024-11-10` |
//! | TIMESTAMP (any unit), INT96 | `2024-11-10T13:15:42Z` (the seconds; `Z` only when adjusted to UTC) |
//! | TIME | `13:15:42` |
//! | STRING, ENUM, JSON, plain BYTE_ARRAY | the bytes as they are |
//! | UUID | `0f8fad5b-d9cb-469f-a165-70867728950e` |
//! | NULL | an empty field |
//!
//! Nested columns are flattened: a struct's fields are columns named
//! `address.city`; a list is one column holding its JSON text
//! (`["a","b"]`, as a JSON line's list is kept), a list of structs a list
//! column per field (`items.price`), a map its `key` and `value` lists.
//! Lists inside lists are refused, naming the column.

use super::parquet_pages;
use super::records::RawFields;
use crate::error::{Error, Result, catching_panics};
use parquet::basic::{ConvertedType, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType, FixedLenByteArray, Int96};
use parquet::file::reader::{ChunkReader, FileReader, Length, SerializedFileReader};
use parquet::schema::types::Type;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

/// The first (and last) bytes of a Parquet file.
pub const PARQUET_MAGIC: [u8; 4] = *b"PAR1";

/// Rows decoded at a time, and how many such batches wait for the
/// import's reader.
const BATCH: usize = 4096;
const AHEAD: usize = 4;

/// How one column's values are written as text.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Bool,
    Int,
    /// an unsigned integer stored in a signed physical type
    Unsigned,
    Decimal(u32),
    Date,
    /// a time of day, in units per second
    Time(i64),
    /// an instant in units per second, and whether adjusted to UTC
    Timestamp(i64, bool),
    /// Spark's and Impala's INT96 nanosecond timestamps (UTC)
    Int96,
    Float,
    Text,
    Uuid,
}

/// One leaf column of the file, as read.
#[derive(Debug)]
struct Leaf {
    name: String,
    kind: Kind,
    /// the definition level of a present value
    max_def: i16,
    /// 1 for a column inside a list (its values go into a JSON list)
    max_rep: i16,
    /// in a list, the definition level at which an element exists
    elem_def: i16,
    /// its index among the file's leaf columns
    column: usize,
}

/// Opens the Parquet file `f` (`path` in messages; a `File`, or its bytes
/// in memory): its rows, decoded on a thread of its own, and its number
/// of rows. The `parquet` crate is called through [`catching_panics`]: it
/// asserts on some damaged files, which are refused as any other.
pub fn open<R: ChunkReader + Clone + 'static>(path: &str, f: R) -> Result<(ParquetRows, u64)> {
    let file = f.clone();
    let (reader, leaves, rows) = catching_panics(|| footer(path, f))
        .unwrap_or_else(|p| Err(Error::input(format!("{path}: not a readable Parquet file ({p})"))))?;
    let columns = leaves.iter().map(|l| l.name.clone()).collect();
    let (tx, rx) = sync_channel::<io::Result<Vec<Cells>>>(AHEAD);
    let (recycle, recycled) = channel::<Vec<Cells>>();
    std::thread::spawn(move || {
        let result = catching_panics(|| decode(&reader, &file, &leaves, &tx, &recycled)).unwrap_or_else(|p| {
            Err(io::Error::new(io::ErrorKind::InvalidData, format!("not a whole Parquet file ({p})")))
        });
        if let Err(e) = result {
            let _ = tx.send(Err(e));
        }
        // (the channel's end ends the rows)
    });
    let progress = Arc::new(AtomicU64::new(0));
    Ok((ParquetRows { columns, rx, recycle, batch: Vec::new(), row: 0, rows: 0, line: 0, progress }, rows))
}

/// A Parquet file's rows as the import reads them, a record of fields a
/// row (a NULL an empty field), numbered from 1.
pub struct ParquetRows {
    columns: Vec<String>,
    rx: Receiver<io::Result<Vec<Cells>>>,
    recycle: Sender<Vec<Cells>>,
    /// the batch being read, its next row and its number of rows
    batch: Vec<Cells>,
    row: usize,
    rows: usize,
    /// the last row's number
    line: u64,
    /// the rows read, as of the last batch (for progress)
    progress: Arc<AtomicU64>,
}

impl ParquetRows {
    /// The file's column names (a struct's fields by their path).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The count of rows handed out, updated at each batch (an input's
    /// progress, where other inputs count bytes).
    pub fn progress(&self) -> Arc<AtomicU64> {
        self.progress.clone()
    }

    /// The next row into `raw`, and its number; `None` at the end.
    pub fn read(&mut self, raw: &mut RawFields) -> io::Result<Option<u64>> {
        while self.row == self.rows {
            match self.rx.recv() {
                Ok(batch) => {
                    let done = std::mem::replace(&mut self.batch, batch?);
                    if done.len() == self.columns.len() {
                        let _ = self.recycle.send(done); // (not the first, empty)
                    }
                    self.rows = self.batch.first().map_or(0, |c| c.spans.len());
                    self.row = 0;
                    self.progress.store(self.line, Ordering::Relaxed);
                }
                Err(_) => return Ok(None),
            }
        }
        raw.reset(self.columns.len());
        for (col, cells) in self.batch.iter().enumerate() {
            if let Some(f) = cells.get(self.row) {
                raw.set_field(col, f);
            }
        }
        self.row += 1;
        self.line += 1;
        Ok(Some(self.line))
    }
}

/// A Parquet file read at offsets: one `pread` a read, where the crate's
/// reader of a `File` duplicates the descriptor, seeks, reads and closes
/// it each time (twice a page). Cloned for the page checks made before
/// the crate reads a column chunk.
#[derive(Clone)]
pub struct FileAt {
    file: Arc<File>,
    len: u64,
}

impl FileAt {
    pub fn new(file: File) -> io::Result<FileAt> {
        let len = file.metadata()?.len();
        Ok(FileAt { file: Arc::new(file), len })
    }
}

impl Length for FileAt {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for FileAt {
    type T = io::BufReader<ReadAt>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(io::BufReader::new(ReadAt { file: self.file.clone(), at: start }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        if start.checked_add(length as u64).is_none_or(|end| end > self.len) {
            return Err(parquet::errors::ParquetError::EOF(format!(
                "{length} bytes at byte {start} of a file of {}",
                self.len
            )));
        }
        let mut buf = vec![0; length];
        self.file.read_exact_at(&mut buf, start)?;
        Ok(buf.into())
    }
}

/// Reads a file onwards from an offset, without moving the file's own.
pub struct ReadAt {
    file: Arc<File>,
    at: u64,
}

impl io::Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// The file's footer read: its reader, its leaf columns and its number of
/// rows.
type Footer<R> = (SerializedFileReader<R>, Vec<Leaf>, u64);

fn footer<R: ChunkReader + 'static>(path: &str, f: R) -> Result<Footer<R>> {
    // (a file too short for a footer is left to the crate to name)
    let len = f.len();
    if len >= 12
        && let Ok(tail) = f.get_bytes(len - 8, 8)
    {
        let size = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        if let Some(start) = (len - 8).checked_sub(size)
            && let Ok(meta) = f.get_bytes(start, size as usize)
        {
            parquet_pages::check_footer(&meta)
                .map_err(|e| Error::input(format!("{path}: not a readable Parquet file ({e})")))?;
        }
    }
    let reader =
        SerializedFileReader::new(f).map_err(|e| Error::input(format!("{path}: not a readable Parquet file ({e})")))?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let mut leaves = Vec::new();
    let mut parts = Vec::new();
    for field in schema.root_schema().get_fields() {
        walk(field, Naming::Keep, &mut parts, (0, 0, 0), &mut leaves)
            .map_err(|e| Error::input(format!("{path}: {e}")))?;
    }
    if leaves.len() != schema.num_columns() {
        return Err(Error::input(format!(
            "{path}: not a readable Parquet file (its schema does not match its columns)"
        )));
    }
    for (i, leaf) in leaves.iter().enumerate() {
        let d = schema.column(i);
        if (d.max_def_level(), d.max_rep_level()) != (leaf.max_def, leaf.max_rep) {
            return Err(Error::input(format!(
                "{path}: not a readable Parquet file (column `{}`'s levels do not match its schema)",
                leaf.name
            )));
        }
    }
    let index = pandas_index(meta.file_metadata().key_value_metadata());
    leaves.retain(|leaf| !index.contains(&leaf.name));
    let rows = meta.file_metadata().num_rows().max(0) as u64;
    Ok((reader, leaves, rows))
}

/// The columns holding a pandas DataFrame's unnamed index
/// (`__index_level_0__`, written by `DataFrame.to_parquet` when the index
/// is not a plain range, as after filtering or sorting), which are row
/// numbers, not data: named in the footer's `pandas` metadata.
fn pandas_index(meta: Option<&Vec<parquet::file::metadata::KeyValue>>) -> Vec<String> {
    let Some(json) = meta.into_iter().flatten().find(|kv| kv.key == "pandas").and_then(|kv| kv.value.as_deref()) else {
        return Vec::new();
    };
    let Ok(pandas) = serde_json::from_str::<serde_json::Value>(json) else { return Vec::new() };
    let names = pandas["index_columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str());
    names.filter(|name| name.starts_with("__index_level_")).map(String::from).collect()
}

/// Whether a leaf's name part is kept (a list's or map's repeated group,
/// and a list's element, are the format's wrapping, not names).
#[derive(Clone, Copy, PartialEq)]
enum Naming {
    Keep,
    /// the repeated group under a LIST or MAP
    Wrapper,
    /// the one field under a LIST's repeated group
    Element,
}

/// Adds the leaves under `t` to `out`; `levels`: the definition and
/// repetition levels above `t` and the definition level of the innermost
/// repeated field.
fn walk(
    t: &Type,
    naming: Naming,
    parts: &mut Vec<String>,
    levels: (i16, i16, i16),
    out: &mut Vec<Leaf>,
) -> std::result::Result<(), String> {
    let info = t.get_basic_info();
    let (mut def, mut rep, mut elem_def) = levels;
    match info.has_repetition().then(|| info.repetition()) {
        Some(Repetition::OPTIONAL) => def += 1,
        Some(Repetition::REPEATED) => {
            def += 1;
            rep += 1;
            elem_def = def;
        }
        _ => {}
    }
    let named = naming == Naming::Keep;
    if named {
        parts.push(t.name().to_string());
    }
    let result = if t.is_group() {
        let list =
            matches!(info.logical_type_ref(), Some(LogicalType::List)) || info.converted_type() == ConvertedType::LIST;
        let map = matches!(info.logical_type_ref(), Some(LogicalType::Map))
            || matches!(info.converted_type(), ConvertedType::MAP | ConvertedType::MAP_KEY_VALUE);
        let fields = t.get_fields();
        let mut result = Ok(());
        for f in fields {
            let next = if (list || map) && f.get_basic_info().repetition() == Repetition::REPEATED {
                Naming::Wrapper
            } else if naming == Naming::Wrapper && fields.len() == 1 && !map {
                Naming::Element
            } else {
                Naming::Keep
            };
            result = walk(f, next, parts, (def, rep, elem_def), out);
            if result.is_err() {
                break;
            }
        }
        result
    } else {
        let name = parts.join(".");
        if rep > 1 {
            Err(format!("column `{name}`: lists inside lists are not read (flatten it before the import)"))
        } else {
            kind_of(t)
                .map(|kind| out.push(Leaf { name, kind, max_def: def, max_rep: rep, elem_def, column: out.len() }))
        }
    };
    if named {
        parts.pop();
    }
    result
}

/// How the primitive column `t` is written as text.
fn kind_of(t: &Type) -> std::result::Result<Kind, String> {
    let info = t.get_basic_info();
    let physical = t.get_physical_type();
    let unit = |u: &TimeUnit| match u {
        TimeUnit::MILLIS => 1_000,
        TimeUnit::MICROS => 1_000_000,
        TimeUnit::NANOS => 1_000_000_000,
    };
    if let Type::PrimitiveType { physical_type: Physical::FIXED_LEN_BYTE_ARRAY, type_length: ..=0, .. } = t {
        return Err(format!("not a readable Parquet file (column `{}` has values of no length)", t.name()));
    }
    let kind = match (physical, info.logical_type_ref()) {
        (_, Some(LogicalType::Decimal(d))) => Kind::Decimal(d.scale.max(0) as u32),
        (Physical::INT32, Some(LogicalType::Date)) => Kind::Date,
        (Physical::INT32 | Physical::INT64, Some(LogicalType::Time(tt))) => Kind::Time(unit(&tt.unit)),
        (Physical::INT64, Some(LogicalType::Timestamp(ts))) => Kind::Timestamp(unit(&ts.unit), ts.is_adjusted_to_u_t_c),
        (Physical::INT32 | Physical::INT64, Some(LogicalType::Integer(i))) if !i.is_signed => Kind::Unsigned,
        (Physical::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Uuid)) => Kind::Uuid,
        (Physical::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Float16)) => {
            return Err(format!("column `{}`: FLOAT16 values are not read", t.name()));
        }
        (_, None) => match info.converted_type() {
            ConvertedType::DECIMAL => Kind::Decimal(t.get_scale().max(0) as u32),
            ConvertedType::DATE => Kind::Date,
            ConvertedType::TIME_MILLIS => Kind::Time(1_000),
            ConvertedType::TIME_MICROS => Kind::Time(1_000_000),
            ConvertedType::TIMESTAMP_MILLIS => Kind::Timestamp(1_000, true),
            ConvertedType::TIMESTAMP_MICROS => Kind::Timestamp(1_000_000, true),
            ConvertedType::UINT_8 | ConvertedType::UINT_16 | ConvertedType::UINT_32 | ConvertedType::UINT_64 => {
                Kind::Unsigned
            }
            _ => plain(physical),
        },
        _ => plain(physical),
    };
    // what a physical type can hold of each kind
    let fits = match kind {
        Kind::Date => physical == Physical::INT32,
        Kind::Time(_) | Kind::Unsigned => matches!(physical, Physical::INT32 | Physical::INT64),
        Kind::Timestamp(..) => physical == Physical::INT64,
        Kind::Decimal(_) => {
            !matches!(physical, Physical::BOOLEAN | Physical::FLOAT | Physical::DOUBLE | Physical::INT96)
        }
        _ => true,
    };
    match fits {
        true => Ok(kind),
        false => Err(format!("column `{}`: {kind:?} stored as {physical} is not read", t.name())),
    }
}

fn plain(physical: Physical) -> Kind {
    match physical {
        Physical::BOOLEAN => Kind::Bool,
        Physical::INT32 | Physical::INT64 => Kind::Int,
        Physical::INT96 => Kind::Int96,
        Physical::FLOAT | Physical::DOUBLE => Kind::Float,
        Physical::BYTE_ARRAY | Physical::FIXED_LEN_BYTE_ARRAY => Kind::Text,
    }
}

/// One column's cells of a batch: the text of each row's value (`None`
/// for a NULL), kept in one buffer.
#[derive(Default)]
pub struct Cells {
    bytes: Vec<u8>,
    spans: Vec<Option<(usize, usize)>>,
}

impl Cells {
    fn get(&self, row: usize) -> Option<&[u8]> {
        self.spans[row].map(|(a, b)| &self.bytes[a..b])
    }
}

/// Decodes every row group, sending its rows on `tx` a batch at a time:
/// a batch is each column's cells of the same rows (`recycled`: batches
/// read, to be filled again).
fn decode<R: ChunkReader + 'static>(
    reader: &SerializedFileReader<R>,
    file: &R,
    leaves: &[Leaf],
    tx: &SyncSender<io::Result<Vec<Cells>>>,
    recycled: &Receiver<Vec<Cells>>,
) -> io::Result<()> {
    let broken = |e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidData, format!("not a whole Parquet file ({e})"))
    };
    let mut levels = Levels::default();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| broken(&e))?;
        let mut left = group.metadata().num_rows().max(0) as usize;
        let mut columns = Vec::with_capacity(leaves.len());
        for leaf in leaves {
            parquet_pages::check_chunk(file, group.metadata().column(leaf.column))
                .map_err(|e| broken(&format!("column `{}`: {e}", leaf.name)))?;
            columns.push(group.get_column_reader(leaf.column).map_err(|e| broken(&e))?);
        }
        while left > 0 {
            let want = left.min(BATCH);
            let mut cells = recycled.try_recv().unwrap_or_else(|_| leaves.iter().map(|_| Cells::default()).collect());
            debug_assert_eq!(cells.len(), leaves.len());
            for ((col, leaf), c) in columns.iter_mut().zip(leaves).zip(&mut cells) {
                let got = read_cells(col, leaf, want, &mut levels, c).map_err(|e| broken(&e))?;
                if got != want {
                    return Err(broken(&format!("column `{}` ends before its row group", leaf.name)));
                }
                // (a list whose levels do not start a record where the
                // crate counts one: found by fuzzing, as rows missing)
                if c.spans.len() != want {
                    return Err(broken(&format!("column `{}`'s lists do not match its rows", leaf.name)));
                }
            }
            if tx.send(Ok(cells)).is_err() {
                return Ok(()); // the import stopped reading
            }
            left -= want;
        }
    }
    Ok(())
}

/// The levels of the last batch, kept between batches.
#[derive(Default)]
struct Levels {
    def: Vec<i16>,
    rep: Vec<i16>,
}

/// Reads `want` rows of column `col` into `cells` as text; the rows read.
fn read_cells(
    col: &mut ColumnReader,
    leaf: &Leaf,
    want: usize,
    levels: &mut Levels,
    cells: &mut Cells,
) -> parquet::errors::Result<usize> {
    cells.bytes.clear();
    cells.spans.clear();
    match col {
        ColumnReader::BoolColumnReader(r) => typed(r, leaf, want, levels, cells),
        ColumnReader::Int32ColumnReader(r) => typed(r, leaf, want, levels, cells),
        ColumnReader::Int64ColumnReader(r) => typed(r, leaf, want, levels, cells),
        ColumnReader::Int96ColumnReader(r) => typed(r, leaf, want, levels, cells),
        ColumnReader::FloatColumnReader(r) => typed(r, leaf, want, levels, cells),
        ColumnReader::DoubleColumnReader(r) => typed(r, leaf, want, levels, cells),
        ColumnReader::ByteArrayColumnReader(r) => typed(r, leaf, want, levels, cells),
        ColumnReader::FixedLenByteArrayColumnReader(r) => typed(r, leaf, want, levels, cells),
    }
}

fn typed<T: DataType>(
    r: &mut ColumnReaderImpl<T>,
    leaf: &Leaf,
    want: usize,
    levels: &mut Levels,
    cells: &mut Cells,
) -> parquet::errors::Result<usize>
where
    T::T: Render,
{
    let mut values: Vec<T::T> = Vec::with_capacity(want);
    levels.def.clear();
    levels.rep.clear();
    let defs = (leaf.max_def > 0).then_some(&mut levels.def);
    let reps = (leaf.max_rep > 0).then_some(&mut levels.rep);
    let (records, _, nlevels) = r.read_records(want, defs, reps, &mut values)?;
    let mut next = values.iter();
    let mut value = |out: &mut Vec<u8>, json: bool| match next.next() {
        Some(v) => {
            v.render(leaf.kind, out, json);
            Ok(())
        }
        None => Err(parquet::errors::ParquetError::General("fewer values than its levels say".into())),
    };
    if leaf.max_rep == 0 {
        for i in 0..records {
            let start = cells.bytes.len();
            if leaf.max_def == 0 || levels.def.get(i) == Some(&leaf.max_def) {
                value(&mut cells.bytes, false)?;
                cells.spans.push(Some((start, cells.bytes.len())));
            } else {
                cells.spans.push(None);
            }
        }
        return Ok(records);
    }
    // a list: a record starts at each repetition level 0
    let mut open = false;
    for i in 0..nlevels {
        let def = levels.def.get(i).copied().unwrap_or(leaf.max_def);
        if levels.rep.get(i) == Some(&0) {
            close(cells, &mut open);
            cells.spans.push(None);
        }
        if def >= leaf.elem_def {
            if open {
                cells.bytes.push(b',');
            } else {
                let start = cells.bytes.len();
                cells.bytes.push(b'[');
                if let Some(s) = cells.spans.last_mut() {
                    *s = Some((start, start));
                }
                open = true;
            }
            if def == leaf.max_def {
                value(&mut cells.bytes, true)?;
            } else {
                cells.bytes.extend_from_slice(b"null");
            }
        }
    }
    close(cells, &mut open);
    Ok(records)
}

/// Ends the open list of the last row.
fn close(cells: &mut Cells, open: &mut bool) {
    if std::mem::take(open) {
        cells.bytes.push(b']');
        if let Some(Some((_, end))) = cells.spans.last_mut() {
            *end = cells.bytes.len();
        }
    }
}

/// A value written as text (`json`: inside a JSON list, where text is
/// quoted).
trait Render {
    fn render(&self, kind: Kind, out: &mut Vec<u8>, json: bool);
}

impl Render for bool {
    fn render(&self, _: Kind, out: &mut Vec<u8>, _: bool) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl Render for i32 {
    fn render(&self, kind: Kind, out: &mut Vec<u8>, json: bool) {
        match kind {
            Kind::Unsigned => int(*self as u32 as i128, kind, out, json),
            _ => int(*self as i128, kind, out, json),
        }
    }
}

impl Render for i64 {
    fn render(&self, kind: Kind, out: &mut Vec<u8>, json: bool) {
        match kind {
            Kind::Unsigned => int(*self as u64 as i128, kind, out, json),
            _ => int(*self as i128, kind, out, json),
        }
    }
}

impl Render for Int96 {
    fn render(&self, _: Kind, out: &mut Vec<u8>, json: bool) {
        instant(self.to_nanos().div_euclid(1_000_000_000), true, out, json);
    }
}

impl Render for f32 {
    fn render(&self, _: Kind, out: &mut Vec<u8>, json: bool) {
        float(*self as f64, format_args!("{self}"), out, json);
    }
}

impl Render for f64 {
    fn render(&self, _: Kind, out: &mut Vec<u8>, json: bool) {
        float(*self, format_args!("{self}"), out, json);
    }
}

impl Render for ByteArray {
    fn render(&self, kind: Kind, out: &mut Vec<u8>, json: bool) {
        bytes(self.data(), kind, out, json);
    }
}

impl Render for FixedLenByteArray {
    fn render(&self, kind: Kind, out: &mut Vec<u8>, json: bool) {
        bytes(self.data(), kind, out, json);
    }
}

/// An integer as its kind says: a number, an exact decimal, a date, a
/// time of day or an instant.
fn int(v: i128, kind: Kind, out: &mut Vec<u8>, json: bool) {
    use std::io::Write;
    match kind {
        Kind::Decimal(scale) => decimal(v, scale, out),
        Kind::Date => quoted(out, json, |out| {
            if !write_date(out, v as i64) {
                match chrono::NaiveDate::from_yo_opt(1970, 1)
                    .and_then(|d| d.checked_add_signed(chrono::Duration::days(v as i64)))
                {
                    Some(d) => write!(out, "{}", d.format("%Y-%m-%d")).unwrap_or(()),
                    None => write!(out, "{v}").unwrap_or(()),
                }
            }
        }),
        Kind::Time(per) => quoted(out, json, |out| {
            let s = (v as i64).div_euclid(per);
            write!(out, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60).unwrap_or(())
        }),
        Kind::Timestamp(per, utc) => instant((v as i64).div_euclid(per), utc, out, json),
        _ => write!(out, "{v}").unwrap_or(()),
    }
}

/// `v` scaled down by `scale` digits, exactly (`1250`, 2 → `12.50`).
fn decimal(v: i128, scale: u32, out: &mut Vec<u8>) {
    let digits = v.unsigned_abs().to_string();
    if v < 0 {
        out.push(b'-');
    }
    let scale = scale as usize;
    if scale == 0 {
        out.extend_from_slice(digits.as_bytes());
    } else if digits.len() > scale {
        let (whole, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole.as_bytes());
        out.push(b'.');
        out.extend_from_slice(frac.as_bytes());
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits.as_bytes());
    }
}

/// Seconds since 1970 as an ISO time (`Z` when adjusted to UTC).
fn instant(secs: i64, utc: bool, out: &mut Vec<u8>, json: bool) {
    use std::io::Write;
    quoted(out, json, |out| {
        let (days, s) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        if write_date(out, days) {
            out.push(b'T');
            write_digits(out, s / 3600, 2);
            out.push(b':');
            write_digits(out, s / 60 % 60, 2);
            out.push(b':');
            write_digits(out, s % 60, 2);
        } else {
            match chrono::DateTime::from_timestamp(secs, 0) {
                Some(t) => write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S")).unwrap_or(()),
                None => write!(out, "{secs}").unwrap_or(()),
            }
        }
        if utc {
            out.push(b'Z');
        }
    });
}

/// `days` since 1970-01-01 as `YYYY-MM-DD`, for the years 0 to 9999
/// (false, nothing written, outside them), without a formatter, as every
/// row of a log has a time (Howard Hinnant's `civil_from_days`; the test
/// checks it against `chrono` over every year).
fn write_date(out: &mut Vec<u8>, days: i64) -> bool {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if !(0..=9999).contains(&y) {
        return false;
    }
    write_digits(out, y, 4);
    out.push(b'-');
    write_digits(out, m, 2);
    out.push(b'-');
    write_digits(out, d, 2);
    true
}

/// `v` (not negative) in exactly `n` digits.
fn write_digits(out: &mut Vec<u8>, v: i64, n: u32) {
    for i in (0..n).rev() {
        out.push(b'0' + (v / 10i64.pow(i) % 10) as u8);
    }
}

/// A float as its shortest round-trip text (`text`: its own type's
/// `Display`, written without a `String` between).
fn float(v: f64, text: std::fmt::Arguments, out: &mut Vec<u8>, json: bool) {
    // JSON has no NaN or infinity: in a list they are its null
    if json && !v.is_finite() {
        out.extend_from_slice(b"null");
    } else {
        // (writing to a Vec cannot fail)
        let _ = io::Write::write_fmt(out, text);
    }
}

fn bytes(b: &[u8], kind: Kind, out: &mut Vec<u8>, json: bool) {
    match kind {
        Kind::Decimal(scale) if b.len() <= 16 && !b.is_empty() => {
            // big-endian two's complement, sign-extended to 128 bits
            let fill = if b[0] & 0x80 != 0 { 0xFF } else { 0 };
            let mut wide = [fill; 16];
            wide[16 - b.len()..].copy_from_slice(b);
            decimal(i128::from_be_bytes(wide), scale, out);
        }
        Kind::Uuid if b.len() == 16 => quoted(out, json, |out| {
            for (i, byte) in b.iter().enumerate() {
                if matches!(i, 4 | 6 | 8 | 10) {
                    out.push(b'-');
                }
                out.extend_from_slice(format!("{byte:02x}").as_bytes());
            }
        }),
        // (a decimal wider than 128 bits is written as its bytes, which
        // the import then refuses as not a number)
        _ if json => match std::str::from_utf8(b) {
            Ok(s) => out.extend_from_slice(serde_json::to_string(s).unwrap_or_default().as_bytes()),
            Err(_) => {
                out.extend_from_slice(serde_json::to_string(&String::from_utf8_lossy(b)).unwrap_or_default().as_bytes())
            }
        },
        _ => out.extend_from_slice(b),
    }
}

/// Writes `body` inside JSON quotes when `json` (its text has no quotes).
fn quoted(out: &mut Vec<u8>, json: bool, body: impl FnOnce(&mut Vec<u8>)) {
    if json {
        out.push(b'"');
    }
    body(out);
    if json {
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(v: i128, scale: u32) -> String {
        let mut out = Vec::new();
        decimal(v, scale, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimals_exactly() {
        assert_eq!(dec(1250, 2), "12.50");
        assert_eq!(dec(-1250, 2), "-12.50");
        assert_eq!(dec(5, 3), "0.005");
        assert_eq!(dec(-5, 3), "-0.005");
        assert_eq!(dec(0, 2), "0.00");
        assert_eq!(dec(42, 0), "42");
        assert_eq!(dec(i128::MIN, 6), "-170141183460469231731687303715884.105728");
        let mut out = Vec::new();
        bytes(&[0xFF, 0x0C], Kind::Decimal(1), &mut out, false); // -244
        assert_eq!(out, b"-24.4");
    }

    #[test]
    fn times_and_dates() {
        let text = |v: i128, kind| {
            let mut out = Vec::new();
            int(v, kind, &mut out, false);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(20037, Kind::Date), "2024-11-10");
        assert_eq!(text(-1, Kind::Date), "1969-12-31");
        assert_eq!(text(1_731_244_542_999, Kind::Timestamp(1_000, true)), "2024-11-10T13:15:42Z");
        assert_eq!(text(-1, Kind::Timestamp(1_000_000, false)), "1969-12-31T23:59:59");
        assert_eq!(text(47_742_000_000, Kind::Time(1_000_000)), "13:15:42");
        assert_eq!(text(-1, Kind::Unsigned), "-1"); // (the caller widens unsigned values first)
        let mut out = Vec::new();
        (-1i32).render(Kind::Unsigned, &mut out, false);
        assert_eq!(out, b"4294967295");
    }

    #[test]
    fn dates_as_chrono_writes_them() {
        for days in (-719_528..2_932_897).step_by(7).chain([-719_529, 2_932_896, 2_932_897, 0, -1, 11_016, 11_017]) {
            let mut out = Vec::new();
            let date = chrono::NaiveDate::from_yo_opt(1970, 1).unwrap() + chrono::Duration::days(days);
            let expected =
                (0..=9999).contains(&chrono::Datelike::year(&date)).then(|| date.format("%Y-%m-%d").to_string());
            assert_eq!(write_date(&mut out, days).then(|| String::from_utf8(out).unwrap()), expected, "{days}");
        }
        let text = |secs| {
            let mut out = Vec::new();
            instant(secs, true, &mut out, false);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(-62_167_219_201), "-0001-12-31T23:59:59Z"); // (chrono's, before the year 0)
        assert_eq!(text(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(text(951_782_400), "2000-02-29T00:00:00Z");
    }
}
