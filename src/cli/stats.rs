//! `reach stats`: what the database holds, and how big it is (the
//! application layer's `db_stats` as a table).

use super::Ctx;
use super::output::{Format, Records, resolve};
use crate::error::Result;
use serde_json::json;
use std::io::Write;

pub fn run(ctx: &Ctx, format: Option<Format>, out: &mut dyn Write) -> Result<()> {
    let st = ctx.session()?.db_stats()?;
    let mut rows = vec![
        vec![json!("file"), json!(1), json!(st.file_bytes)],
        vec![json!("contacts (count)"), json!(st.contacts), json!(null)],
        vec![json!("events (count)"), json!(st.events), json!(null)],
    ];
    for t in &st.tables {
        rows.push(vec![json!(format!("table {}", t.name)), json!(t.rows), json!(t.bytes)]);
    }
    if let Some(per) = st.bytes_per_event() {
        rows.push(vec![json!("file bytes per event"), json!(null), json!(per)]);
    }
    Records { columns: vec!["what".into(), "rows".into(), "bytes".into()], rows }.print(resolve(format), out)
}
