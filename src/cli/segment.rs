//! `reach segment count|explain|save|list|show|delete|history|sql`: the
//! application layer's segment operations, rendered.

use super::Ctx;
use super::output::{Format, Records, print_json, resolve};
use crate::error::{Error, Result};
use crate::model::time::format_ts;
use crate::segment::sql::Dialect;
use crate::segment::{Expr, parse, print};
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use std::io::Write;
use std::sync::atomic::AtomicBool;

#[derive(Subcommand, Debug)]
pub enum SegmentCmd {
    /// Count the contacts matching an expression
    Count {
        expr: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The parsed tree with each node's own count
    Explain {
        expr: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Save (or replace) a named segment; records a size-history point
    Save {
        name: String,
        expr: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Saved segments with their current counts
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// A saved segment: expression, count, timestamps
    Show {
        name: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Delete a saved segment and its history
    Delete { name: String },
    /// A saved segment's size history
    History {
        name: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// The same segment as SQL over the exported tables (see `reach export schema`)
    Sql {
        expr: String,
        /// The engine that runs it
        #[arg(long, value_enum, default_value = "sqlite")]
        dialect: DialectArg,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DialectArg {
    Sqlite,
    Duckdb,
    Postgres,
    Clickhouse,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Dialect {
        match d {
            DialectArg::Sqlite => Dialect::Sqlite,
            DialectArg::Duckdb => Dialect::Duckdb,
            DialectArg::Postgres => Dialect::Postgres,
            DialectArg::Clickhouse => Dialect::Clickhouse,
        }
    }
}

/// Parses and checks through the session; warnings go to the stderr of
/// whoever runs the command.
pub(super) fn checked(ctx: &Ctx, session: &crate::app::Session, src: &str, saving: Option<&str>) -> Result<Expr> {
    let c = session.check_as(src, saving)?;
    for w in c.warnings {
        ctx.warn(&format!("warning: {w}"));
    }
    Ok(c.expr)
}

pub fn run(ctx: &Ctx, cmd: SegmentCmd, out: &mut dyn Write) -> Result<()> {
    let never = AtomicBool::new(false);
    match cmd {
        SegmentCmd::Count { expr, format } => {
            let session = ctx.session()?;
            let e = checked(ctx, &session, &expr, None)?;
            let started = std::time::Instant::now();
            let (count, total) = session.count(&e, &never)?;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            match resolve(format) {
                Format::Table => writeln!(out, "{count} of {total} contacts ({:.1}%)", pct(count, total))?,
                _ => print_json(
                    &json!({"count": count, "total": total, "elapsed_ms": (elapsed * 1000.0).round() / 1000.0, "expr": print(&e)}),
                    out,
                )?,
            }
            Ok(())
        }
        SegmentCmd::Explain { expr, format } => {
            let session = ctx.session()?;
            let e = checked(ctx, &session, &expr, None)?;
            let (tree, total) = session.explain(&e, &never)?;
            match resolve(format) {
                Format::Table => {
                    fn walk(
                        n: &crate::segment::engine::ExplainNode,
                        depth: usize,
                        total: u64,
                        out: &mut dyn Write,
                    ) -> Result<()> {
                        writeln!(
                            out,
                            "{:>10}  {:>5.1}%  {}{}",
                            n.count,
                            pct(n.count, total),
                            "  ".repeat(depth),
                            n.node
                        )?;
                        for c in &n.children {
                            walk(c, depth + 1, total, out)?;
                        }
                        Ok(())
                    }
                    walk(&tree, 0, total, out)
                }
                _ => print_json(&json!({"total": total, "tree": tree}), out),
            }
        }
        SegmentCmd::Save { name, expr, format } => {
            let session = ctx.session()?;
            if crate::model::schema::valid_name(&name) {
                // warnings (a tag nobody has yet) before saving
                checked(ctx, &session, &expr, Some(&name))?;
            }
            let (text, count) = session.save_segment(&name, &expr)?;
            match resolve(format) {
                Format::Table => writeln!(out, "saved {name}: {count} contacts")?,
                _ => print_json(&json!({"name": name, "expr": text, "count": count}), out)?,
            }
            Ok(())
        }
        SegmentCmd::List { format } => {
            let list = ctx.session()?.segments(&never)?;
            let rows = list
                .into_iter()
                .map(|s| {
                    let count = match s.count {
                        Ok(c) => json!(c),
                        Err(e) => json!(format!("error: {e}")),
                    };
                    vec![json!(s.saved.name), count, json!(s.saved.expr), json!(format_ts(s.saved.updated_at))]
                })
                .collect();
            Records { columns: vec!["name".into(), "count".into(), "expr".into(), "updated_at".into()], rows }
                .print(resolve(format), out)
        }
        SegmentCmd::Show { name, format } => {
            let session = ctx.session()?;
            let s = session.segment(&name)?;
            let e = parse(&s.expr).map_err(|e| Error::input(format!("saved segment `{name}`: {e}")))?;
            let (count, total) = session.count(&e, &never)?;
            match resolve(format) {
                Format::Table => {
                    writeln!(out, "{name}: {}", s.expr)?;
                    writeln!(out, "  {count} of {total} contacts ({:.1}%)", pct(count, total))?;
                    writeln!(out, "  created {}, updated {}", format_ts(s.created_at), format_ts(s.updated_at))?;
                }
                _ => print_json(
                    &json!({"name": name, "expr": s.expr, "count": count, "total": total, "created_at": format_ts(s.created_at), "updated_at": format_ts(s.updated_at)}),
                    out,
                )?,
            }
            Ok(())
        }
        SegmentCmd::Delete { name } => {
            ctx.session()?.delete_segment(&name)?;
            writeln!(out, "deleted segment {name}")?;
            Ok(())
        }
        SegmentCmd::History { name, format } => Records {
            columns: vec!["ts".into(), "count".into()],
            rows: ctx
                .session()?
                .segment_history(&name)?
                .into_iter()
                .map(|(t, c)| vec![json!(format_ts(t)), json!(c)])
                .collect(),
        }
        .print(resolve(format), out),
        SegmentCmd::Sql { expr, dialect } => {
            let session = ctx.session()?;
            let e = checked(ctx, &session, &expr, None)?;
            writeln!(out, "{}", session.segment_sql(&e, dialect.into())?)?;
            Ok(())
        }
    }
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 }
}
