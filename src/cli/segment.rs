//! `reach segment count|explain|save|list|show|delete|history|sql`.

use super::Ctx;
use super::output::{Format, Records, print_json, resolve};
use crate::error::{Error, Result};
use crate::model::time::format_ts;
use crate::segment::engine::{Engine, StoreCatalog};
use crate::segment::{Expr, check, check_segment, parse, print};
use crate::store::{OpenMode, Store};
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
    /// The same segment as SQL over the exported tables
    Sql {
        expr: String,
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

/// Parses and checks an expression against the store; warnings go to stderr.
pub fn parse_expr(store: &Store, src: &str, saving: Option<&str>) -> Result<Expr> {
    let e = parse(src).map_err(|e| Error::input(format!("{e}")).with_detail(caret(src, e.column)))?;
    let cat = StoreCatalog::load(&store.begin_read()?)?;
    let warnings = match saving {
        Some(name) => check_segment(name, &e, src, &cat),
        None => check(&e, src, &cat),
    }
    .map_err(|e| Error::input(format!("{e}")).with_detail(caret(src, e.column)))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(e)
}

/// Parses and checks through the session; warnings go to stderr.
fn checked(session: &crate::app::Session, src: &str, saving: Option<&str>) -> Result<Expr> {
    let c = session.check_as(src, saving)?;
    for w in c.warnings {
        eprintln!("warning: {w}");
    }
    Ok(c.expr)
}

fn caret(src: &str, column: usize) -> String {
    format!("{src}\n  {}^", " ".repeat(column.saturating_sub(1)))
}

pub fn engine(ctx: &Ctx, store: &Store) -> Result<Engine> {
    Engine::new(store.begin_read()?, ctx.config.derived.clone())
}

pub fn run(ctx: &Ctx, cmd: SegmentCmd, out: &mut dyn Write) -> Result<()> {
    let never = AtomicBool::new(false);
    match cmd {
        SegmentCmd::Count { expr, format } => {
            let session = ctx.session()?;
            let e = checked(&session, &expr, None)?;
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
            let e = checked(&session, &expr, None)?;
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
                checked(&session, &expr, Some(&name))?;
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
        SegmentCmd::History { name, format } => {
            let store = ctx.open(OpenMode::Existing)?;
            let r = store.begin_read()?;
            if r.segment(&name)?.is_none() {
                return Err(Error::input(format!("no segment named `{name}`")));
            }
            let h = r.segment_history(&name)?;
            Records {
                columns: vec!["ts".into(), "count".into()],
                rows: h.into_iter().map(|(t, c)| vec![json!(format_ts(t)), json!(c)]).collect(),
            }
            .print(resolve(format), out)
        }
        SegmentCmd::Sql { expr, dialect } => {
            let store = ctx.open(OpenMode::Existing)?;
            let e = parse_expr(&store, &expr, None)?;
            let d = match dialect {
                DialectArg::Sqlite => crate::segment::sql::Dialect::Sqlite,
                DialectArg::Duckdb => crate::segment::sql::Dialect::Duckdb,
                DialectArg::Postgres => crate::segment::sql::Dialect::Postgres,
                DialectArg::Clickhouse => crate::segment::sql::Dialect::Clickhouse,
            };
            let cat = StoreCatalog::load(&store.begin_read()?)?;
            let sql = crate::segment::sql::to_sql(&e, d, ctx.now, &cat, &ctx.config.derived)?;
            writeln!(out, "{sql}")?;
            Ok(())
        }
    }
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 }
}
