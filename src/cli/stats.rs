//! `reach stats`: what the database holds, and how big it is.

use super::Ctx;
use super::output::{Format, Records, resolve};
use crate::error::Result;
use crate::store::OpenMode;
use serde_json::json;
use std::io::Write;

pub fn run(ctx: &Ctx, format: Option<Format>, out: &mut dyn Write) -> Result<()> {
    let store = ctx.open(OpenMode::Existing)?;
    let r = store.begin_read()?;
    let file = std::fs::metadata(&ctx.db)?.len();
    let events = r.event_count()?;
    let mut rows = vec![
        vec![json!("file"), json!(1), json!(file)],
        vec![json!("contacts (count)"), json!(r.contact_count()?), json!(null)],
        vec![json!("events (count)"), json!(events), json!(null)],
    ];
    for (name, n, bytes) in r.table_sizes()? {
        rows.push(vec![json!(format!("table {name}")), json!(n), json!(bytes)]);
    }
    if let Some(per) = file.checked_div(events) {
        rows.push(vec![json!("file bytes per event"), json!(null), json!(per)]);
    }
    Records { columns: vec!["what".into(), "rows".into(), "bytes".into()], rows }.print(resolve(format), out)
}
