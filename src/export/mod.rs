//! Exporting contacts and events as CSV, JSONL or Parquet in the documented table
//! shapes (spec/product.md), which `segment sql` queries:
//! `contacts(id, external_id, email, created_at, score, timezone,
//! consent_email, consent_sms, consent_push, tags, categories,
//! consent_email_at, consent_sms_at, consent_push_at, unsubscribed_at,
//! bounced_at, <attributes…>)` and
//! `events(contact_id, ts, kind, source, utm_source, utm_medium,
//! utm_campaign, <parameters…>)`.
//!
//! In CSV, text columns (columns.rs) are always quoted, so that engines
//! that infer column types from a CSV file (ClickHouse's `file()`) keep
//! `"00123"` as text; other cells are quoted only when they must be.

pub mod columns;
pub mod ddl;
pub mod parquet_writer;

use crate::error::{Error, Result};
use crate::model::decimal::Decimal;
use crate::model::time::push_ts;
use crate::model::{Channel, Contact, ParamType, Schema, Source};
use crate::store::Reader;
use crate::store::codec::{NUM_NONE, ParamData};
use roaring::RoaringBitmap;
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
    /// typed columns (parquet_writer.rs)
    Parquet,
}

/// Where the rows of a CSV or Parquet export go, as text cells.
enum RowSink<'a> {
    Csv { w: std::io::BufWriter<&'a mut dyn Write>, line: Vec<u8>, quote: Vec<bool> },
    Parquet(parquet_writer::ParquetSink<'a>),
}

impl<'a> RowSink<'a> {
    /// Writes the header (CSV) or prepares the schema (Parquet).
    fn new(format: ExportFormat, out: &'a mut dyn Write, table: &str, cols: Vec<columns::Column>) -> Result<Self> {
        Ok(match format {
            ExportFormat::Parquet => RowSink::Parquet(parquet_writer::ParquetSink::new(out, table, cols)?),
            _ => {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
                let mut line = Vec::new();
                let head: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
                push_record(&mut line, &head, &[]);
                w.write_all(&line)?;
                RowSink::Csv { w, line, quote: quoted(&cols) }
            }
        })
    }

    fn push<S: AsRef<str>>(&mut self, row: &[S]) -> Result<()> {
        match self {
            RowSink::Csv { w, line, quote } => {
                line.clear();
                push_record(line, row, quote);
                w.write_all(line)?;
                Ok(())
            }
            RowSink::Parquet(p) => p.push(row),
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            RowSink::Csv { mut w, .. } => Ok(w.flush()?),
            RowSink::Parquet(p) => p.finish(),
        }
    }
}

/// The fixed leading columns of the contacts table (then one per attribute).
pub use crate::model::schema::CONTACT_COLUMNS as CONTACT_HEAD;

/// The fixed leading columns of the events table.
pub const EVENT_HEAD: &[&str] = &["contact_id", "ts", "kind", "source", "utm_source", "utm_medium", "utm_campaign"];

/// Appends one CSV record: `quote[i]` forces quotes around a non-empty field.
fn push_record<S: AsRef<str>>(line: &mut Vec<u8>, fields: &[S], quote: &[bool]) {
    for (i, f) in fields.iter().enumerate() {
        let f = f.as_ref();
        if i > 0 {
            line.push(b',');
        }
        let must = f.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
        if !f.is_empty() && (must || quote.get(i).copied().unwrap_or(false)) {
            line.push(b'"');
            for part in f.split_inclusive('"') {
                line.extend_from_slice(part.as_bytes());
                if part.ends_with('"') {
                    line.push(b'"');
                }
            }
            line.push(b'"');
        } else {
            line.extend_from_slice(f.as_bytes());
        }
    }
    line.push(b'\n');
}

/// Which columns of a table are quoted in CSV.
fn quoted(cols: &[columns::Column]) -> Vec<bool> {
    cols.iter().map(|c| c.ty == columns::ColType::Text).collect()
}

/// Every contact's tags, by contact id.
pub fn tags_by_contact(r: &Reader) -> Result<std::collections::HashMap<u32, Vec<String>>> {
    let mut out: std::collections::HashMap<u32, Vec<String>> = Default::default();
    for (name, bm) in r.tags()? {
        for id in &bm {
            out.entry(id).or_default().push(name.clone());
        }
    }
    Ok(out)
}

fn ts_string(ts: i64) -> String {
    let mut s = String::with_capacity(20);
    push_ts(&mut s, ts);
    s
}

/// A contact as a JSON object (the JSONL export and `--format json`).
pub fn contact_json(schema: &Schema, c: &Contact, tags: &[String]) -> serde_json::Value {
    use serde_json::{Map, Value as J};
    let mut m = Map::new();
    m.insert("id".into(), J::from(c.id));
    m.insert("external_id".into(), c.external_id.as_deref().map(|s| J::String(s.into())).unwrap_or(J::Null));
    m.insert("email".into(), c.email.as_deref().map(|s| J::String(s.into())).unwrap_or(J::Null));
    m.insert("created_at".into(), J::String(ts_string(c.created_at)));
    m.insert("score".into(), J::from(c.score));
    m.insert("timezone".into(), c.timezone.as_deref().map(|s| J::String(s.into())).unwrap_or(J::Null));
    for ch in Channel::ALL {
        m.insert(
            format!("consent_{}", ch.name()),
            c.consent[ch as usize].map(|x| J::Bool(x.opted_in)).unwrap_or(J::Null),
        );
    }
    m.insert("tags".into(), J::Array(tags.iter().cloned().map(J::String).collect()));
    m.insert("categories".into(), J::Array(c.categories.iter().map(|s| J::String(s.to_string())).collect()));
    for ch in Channel::ALL {
        m.insert(
            format!("consent_{}_at", ch.name()),
            c.consent[ch as usize].map(|x| J::String(ts_string(x.at))).unwrap_or(J::Null),
        );
    }
    m.insert("unsubscribed_at".into(), c.unsubscribed_at.map(|t| J::String(ts_string(t))).unwrap_or(J::Null));
    m.insert("bounced_at".into(), c.bounced_at.map(|t| J::String(ts_string(t))).unwrap_or(J::Null));
    for (i, def) in schema.attributes.iter().enumerate() {
        m.insert(def.name.clone(), c.attr(i as u16).map(|v| def.to_json(v)).unwrap_or(J::Null));
    }
    J::Object(m)
}

/// Writes the contacts table; `only` restricts it to some contacts.
pub fn export_contacts(
    r: &Reader,
    out: &mut dyn Write,
    format: ExportFormat,
    only: Option<&RoaringBitmap>,
) -> Result<u64> {
    let schema = r.schema()?;
    let tags = tags_by_contact(r)?;
    let empty = Vec::new();
    let mut n = 0u64;
    match format {
        ExportFormat::Csv | ExportFormat::Parquet => {
            let cols = columns::contact_columns(&schema);
            let width = cols.len();
            let mut sink = RowSink::new(format, out, "contacts", cols)?;
            r.for_each_contact(|c| {
                if only.is_some_and(|o| !o.contains(c.id)) {
                    return Ok(true);
                }
                let t = tags.get(&c.id).unwrap_or(&empty);
                let mut row: Vec<String> = Vec::with_capacity(width);
                row.push(c.id.to_string());
                row.push(c.external_id.as_deref().unwrap_or_default().to_string());
                row.push(c.email.as_deref().unwrap_or_default().to_string());
                row.push(ts_string(c.created_at));
                row.push(c.score.to_string());
                row.push(c.timezone.as_deref().unwrap_or_default().to_string());
                for ch in Channel::ALL {
                    row.push(c.consent[ch as usize].map(|x| x.opted_in.to_string()).unwrap_or_default());
                }
                row.push(t.join(";"));
                row.push(c.categories.join(";"));
                for ch in Channel::ALL {
                    row.push(c.consent[ch as usize].map(|x| ts_string(x.at)).unwrap_or_default());
                }
                row.push(c.unsubscribed_at.map(ts_string).unwrap_or_default());
                row.push(c.bounced_at.map(ts_string).unwrap_or_default());
                for (i, def) in schema.attributes.iter().enumerate() {
                    row.push(c.attr(i as u16).map(|v| def.format(v)).unwrap_or_default());
                }
                sink.push(&row)?;
                n += 1;
                Ok(true)
            })?;
            sink.finish()?;
        }
        ExportFormat::Jsonl => {
            let mut w = std::io::BufWriter::new(out);
            r.for_each_contact(|c| {
                if only.is_some_and(|o| !o.contains(c.id)) {
                    return Ok(true);
                }
                let j = contact_json(&schema, &c, tags.get(&c.id).unwrap_or(&empty));
                serde_json::to_writer(&mut w, &j).map_err(|e| Error::runtime(e.to_string()))?;
                w.write_all(b"\n")?;
                n += 1;
                Ok(true)
            })?;
            w.flush()?;
        }
    }
    Ok(n)
}

/// Writes the events table; `only` restricts it to some contacts' events.
pub fn export_events(
    r: &Reader,
    out: &mut dyn Write,
    format: ExportFormat,
    only: Option<&RoaringBitmap>,
) -> Result<u64> {
    let schema = r.schema()?;
    let dict = r.dict()?;
    let param_cols = schema.param_columns();
    // per kind: parameter index → output column
    let col_of: Vec<Vec<usize>> = schema
        .kinds
        .iter()
        .map(|k| k.params.iter().map(|p| param_cols.iter().position(|c| *c == p.name).unwrap()).collect())
        .collect();
    let mut n = 0u64;
    let (mut csvw, mut jw) = match format {
        ExportFormat::Csv | ExportFormat::Parquet => {
            (Some(RowSink::new(format, out, "events", columns::event_columns(&schema))?), None)
        }
        ExportFormat::Jsonl => (None, Some(std::io::BufWriter::with_capacity(1 << 20, out))),
    };
    let mut fields: Vec<String> = vec![String::new(); EVENT_HEAD.len() + param_cols.len()];
    r.for_each_block(|_, b| {
        let kname = &schema.kinds[b.kind as usize].name;
        let kdef = &schema.kinds[b.kind as usize];
        for i in 0..b.len() {
            let cid = b.contact[i];
            if only.is_some_and(|o| !o.contains(cid)) {
                continue;
            }
            for f in fields.iter_mut() {
                f.clear();
            }
            fields[0].push_str(itoa(cid as i64).as_str());
            push_ts(&mut fields[1], b.ts[i]);
            fields[2].push_str(kname);
            if let Some(s) = Source::from_code(b.source[i]) {
                fields[3].push_str(s.name());
            }
            let utm = b.utm_at(i);
            for j in 0..3 {
                if utm[j] != 0 {
                    fields[4 + j].push_str(&dict[utm[j] as usize]);
                }
            }
            for (pid, d) in &b.params {
                let col = EVENT_HEAD.len() + col_of[b.kind as usize][*pid as usize];
                match d {
                    ParamData::Num(v) if v[i] != NUM_NONE => {
                        use std::fmt::Write as _;
                        let _ = write!(fields[col], "{}", Decimal(v[i]));
                    }
                    ParamData::Text(v) if v[i] != 0 => fields[col].push_str(&dict[v[i] as usize]),
                    _ => {}
                }
            }
            match &mut csvw {
                Some(c) => c.push(&fields)?,
                None => {
                    let w = jw.as_mut().expect("json writer");
                    use serde_json::{Map, Value as J};
                    let mut m = Map::new();
                    m.insert("contact_id".into(), J::from(cid));
                    m.insert("ts".into(), J::String(std::mem::take(&mut fields[1])));
                    m.insert("kind".into(), J::String(kname.clone()));
                    for (j, name) in EVENT_HEAD.iter().enumerate().skip(3) {
                        if !fields[j].is_empty() {
                            m.insert((*name).into(), J::String(fields[j].clone()));
                        }
                    }
                    for (pid, p) in kdef.params.iter().enumerate() {
                        let f = &fields[EVENT_HEAD.len() + col_of[b.kind as usize][pid]];
                        if f.is_empty() {
                            continue;
                        }
                        let v = match p.ty {
                            ParamType::Number => {
                                f.parse::<serde_json::Number>().map(J::Number).unwrap_or(J::String(f.clone()))
                            }
                            _ => J::String(f.clone()),
                        };
                        m.insert(p.name.clone(), v);
                    }
                    serde_json::to_writer(&mut *w, &J::Object(m)).map_err(|e| Error::runtime(e.to_string()))?;
                    w.write_all(b"\n")?;
                }
            }
            n += 1;
        }
        Ok(())
    })?;
    if let Some(c) = csvw {
        c.finish()?;
    }
    if let Some(mut w) = jw {
        w.flush()?;
    }
    Ok(n)
}

fn itoa(v: i64) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::push_record;

    #[test]
    fn text_fields_are_quoted_and_quotes_doubled() {
        let mut line = Vec::new();
        push_record(
            &mut line,
            &["1", "00123", "", "a\"b,c", "2026-03-15T12:00:00Z", "x,y"],
            &[false, true, true, true],
        );
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            "1,\"00123\",,\"a\"\"b,c\",2026-03-15T12:00:00Z,\"x,y\"\n"
        );
        // and the csv reader reads back what was written
        let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(&line[..]);
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(rec.iter().collect::<Vec<_>>(), ["1", "00123", "", "a\"b,c", "2026-03-15T12:00:00Z", "x,y"]);
    }
}
