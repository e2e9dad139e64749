//! The Parquet export: the cells the CSV export writes, typed by
//! columns.rs and written column by column with the `parquet` crate of the
//! Arrow project (no Arrow arrays, no compression codec but Snappy).
//!
//! | column type | Parquet |
//! | --- | --- |
//! | id, score | INT64 |
//! | decimal | FIXED_LEN_BYTE_ARRAY(16) DECIMAL(38, 6), exact |
//! | text | BYTE_ARRAY STRING |
//! | bool | BOOLEAN |
//! | date | INT32 DATE |
//! | instant | INT64 TIMESTAMP(MICROS, adjusted to UTC) |
//!
//! Rows are written in row groups of [`ROW_GROUP`] rows; each finished row
//! group goes to the output at once, so memory stays bounded by one group.

use super::columns::{ColType, Column};
use crate::error::{Error, Result};
use crate::model::attribute::date_to_days;
use crate::model::decimal::Decimal;
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType};
use parquet::data_type::{Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::io::Write;
use std::sync::Arc;

/// Rows per row group.
pub const ROW_GROUP: usize = 128 * 1024;

fn perr(e: parquet::errors::ParquetError) -> Error {
    Error::runtime(format!("parquet: {e}"))
}

/// One column's values of the current row group.
enum Values {
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

struct Buf {
    col: Column,
    values: Values,
    /// definition levels (1 = present) of a nullable column
    defs: Vec<i16>,
}

/// Writes rows of text cells (as the CSV export formats them) as Parquet.
pub struct ParquetSink<'a> {
    out: &'a mut dyn Write,
    w: Option<SerializedFileWriter<Vec<u8>>>,
    bufs: Vec<Buf>,
    rows: usize,
}

fn field(c: &Column) -> Result<Arc<Type>> {
    let (physical, logical, len) = match c.ty {
        ColType::Id | ColType::Int => (Physical::INT64, None, None),
        ColType::Decimal => (Physical::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::decimal(6, 38)), Some(16)),
        ColType::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String), None),
        ColType::Bool => (Physical::BOOLEAN, None, None),
        ColType::Date => (Physical::INT32, Some(LogicalType::Date), None),
        ColType::Time => (Physical::INT64, Some(LogicalType::timestamp(true, TimeUnit::MICROS)), None),
    };
    let mut b = Type::primitive_type_builder(&c.name, physical)
        .with_repetition(if c.nullable { Repetition::OPTIONAL } else { Repetition::REQUIRED })
        .with_logical_type(logical);
    if let Some(n) = len {
        b = b.with_length(n);
    }
    if c.ty == ColType::Decimal {
        b = b.with_precision(38).with_scale(6);
    }
    Ok(Arc::new(b.build().map_err(perr)?))
}

impl<'a> ParquetSink<'a> {
    pub fn new(out: &'a mut dyn Write, table: &str, cols: Vec<Column>) -> Result<ParquetSink<'a>> {
        let fields = cols.iter().map(field).collect::<Result<Vec<_>>>()?;
        let schema = Arc::new(Type::group_type_builder(table).with_fields(fields).build().map_err(perr)?);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by(format!("reach {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let w = SerializedFileWriter::new(Vec::new(), schema, props).map_err(perr)?;
        let bufs = cols
            .into_iter()
            .map(|col| {
                let values = match col.ty {
                    ColType::Id | ColType::Int | ColType::Time => Values::I64(Vec::new()),
                    ColType::Date => Values::I32(Vec::new()),
                    ColType::Bool => Values::Bool(Vec::new()),
                    ColType::Text => Values::Bytes(Vec::new()),
                    ColType::Decimal => Values::Fixed(Vec::new()),
                };
                Buf { col, values, defs: Vec::new() }
            })
            .collect();
        Ok(ParquetSink { out, w: Some(w), bufs, rows: 0 })
    }

    /// Adds one row; `cells[i]` is column i as the CSV export writes it,
    /// empty for no value.
    pub fn push<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<()> {
        debug_assert_eq!(cells.len(), self.bufs.len());
        for (b, cell) in self.bufs.iter_mut().zip(cells) {
            let s = cell.as_ref();
            if s.is_empty() && b.col.ty != ColType::Text {
                if !b.col.nullable {
                    return Err(Error::runtime(format!("parquet: no value for `{}`", b.col.name)));
                }
                b.defs.push(0);
                continue;
            }
            if s.is_empty() && b.col.nullable {
                b.defs.push(0);
                continue;
            }
            let bad = || Error::runtime(format!("parquet: `{}` is not a valid value of `{}`", s, b.col.name));
            match &mut b.values {
                Values::I64(v) => v.push(match b.col.ty {
                    ColType::Time => {
                        let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| bad())?;
                        t.timestamp().checked_mul(1_000_000).ok_or_else(bad)?
                    }
                    _ => s.parse::<i64>().map_err(|_| bad())?,
                }),
                Values::I32(v) => {
                    v.push(date_to_days(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?))
                }
                Values::Bool(v) => v.push(match s {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad()),
                }),
                Values::Bytes(v) => v.push(ByteArray::from(s.as_bytes().to_vec())),
                Values::Fixed(v) => {
                    let d: Decimal = s.parse().map_err(|_| bad())?;
                    v.push(FixedLenByteArray::from((d.units() as i128).to_be_bytes().to_vec()));
                }
            }
            if b.col.nullable {
                b.defs.push(1);
            }
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP {
            self.flush_group()?;
        }
        Ok(())
    }

    fn flush_group(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let w = self.w.as_mut().expect("open writer");
        let mut rg = w.next_row_group().map_err(perr)?;
        for b in &mut self.bufs {
            let mut cw = rg.next_column().map_err(perr)?.expect("a writer per column");
            let defs = b.col.nullable.then_some(&b.defs[..]);
            match &mut b.values {
                Values::I64(v) => cw.typed::<Int64Type>().write_batch(v, defs, None),
                Values::I32(v) => cw.typed::<Int32Type>().write_batch(v, defs, None),
                Values::Bool(v) => cw.typed::<BoolType>().write_batch(v, defs, None),
                Values::Bytes(v) => cw.typed::<ByteArrayType>().write_batch(v, defs, None),
                Values::Fixed(v) => cw.typed::<FixedLenByteArrayType>().write_batch(v, defs, None),
            }
            .map_err(perr)?;
            cw.close().map_err(perr)?;
            match &mut b.values {
                Values::I64(v) => v.clear(),
                Values::I32(v) => v.clear(),
                Values::Bool(v) => v.clear(),
                Values::Bytes(v) => v.clear(),
                Values::Fixed(v) => v.clear(),
            }
            b.defs.clear();
        }
        rg.close().map_err(perr)?;
        self.rows = 0;
        // the finished group's bytes go out; the writer counts offsets itself
        w.flush()?;
        let bytes = std::mem::take(w.inner_mut());
        self.out.write_all(&bytes)?;
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub fn finish(mut self) -> Result<()> {
        self.flush_group()?;
        let w = self.w.take().expect("open writer");
        let rest = w.into_inner().map_err(perr)?;
        self.out.write_all(&rest)?;
        self.out.flush()?;
        Ok(())
    }
}
