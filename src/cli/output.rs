//! Printing records as an aligned table, JSON or CSV (`--format`).

use crate::error::{Error, Result};
use serde_json::Value;
use std::io::{IsTerminal, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

thread_local! {
    /// Set while a command runs for somebody else's output: the console's
    /// `:` line (a person, whatever stdout is), or a client of the owner's
    /// socket (whether the client's stdout is a terminal).
    static TERMINAL: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with tables as the default format on this thread.
pub fn for_a_person<T>(f: impl FnOnce() -> T) -> T {
    with_terminal(true, f)
}

/// Runs `f` on this thread as if stdout were a terminal or not.
pub fn with_terminal<T>(terminal: bool, f: impl FnOnce() -> T) -> T {
    let before = TERMINAL.with(|c| c.replace(Some(terminal)));
    let out = f();
    TERMINAL.with(|c| c.set(before));
    out
}

/// Whether what a command prints goes to a person's terminal (or the console).
pub fn to_terminal() -> bool {
    TERMINAL.with(|c| c.get()).unwrap_or_else(|| std::io::stdout().is_terminal())
}

/// `table` on a terminal (or in the console), `json` otherwise.
pub fn resolve(f: Option<Format>) -> Format {
    f.unwrap_or_else(|| if to_terminal() { Format::Table } else { Format::Json })
}

/// A list of records with named columns; `json` keeps typed values.
pub struct Records {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

impl Records {
    pub fn print(&self, format: Format, out: &mut dyn Write) -> Result<()> {
        match format {
            Format::Json => {
                let list: Vec<Value> = self
                    .rows
                    .iter()
                    .map(|r| Value::Object(self.columns.iter().cloned().zip(r.iter().cloned()).collect()))
                    .collect();
                serde_json::to_writer_pretty(&mut *out, &list).map_err(|e| Error::runtime(e.to_string()))?;
                writeln!(out)?;
            }
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                w.write_record(&self.columns).map_err(|e| Error::runtime(e.to_string()))?;
                for r in &self.rows {
                    w.write_record(r.iter().map(text)).map_err(|e| Error::runtime(e.to_string()))?;
                }
                w.flush()?;
            }
            Format::Table => {
                let cells: Vec<Vec<String>> =
                    self.rows.iter().map(|r| r.iter().map(|v| truncate(&text(v), 40)).collect()).collect();
                let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
                for r in &cells {
                    for (i, c) in r.iter().enumerate() {
                        widths[i] = widths[i].max(c.chars().count());
                    }
                }
                let line = |cols: &[String]| -> String {
                    let mut s = String::new();
                    for (i, c) in cols.iter().enumerate() {
                        if i > 0 {
                            s.push_str("  ");
                        }
                        s.push_str(c);
                        if i + 1 < cols.len() {
                            s.push_str(&" ".repeat(widths[i] - c.chars().count()));
                        }
                    }
                    s
                };
                writeln!(out, "{}", line(&self.columns))?;
                for r in &cells {
                    writeln!(out, "{}", line(r))?;
                }
            }
        }
        Ok(())
    }
}

/// Prints one JSON document (pretty) to stdout.
pub fn print_json(v: &Value, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, v).map_err(|e| Error::runtime(e.to_string()))?;
    writeln!(out)?;
    Ok(())
}
