//! `reach contacts list|show|delete`.

use super::Ctx;
use super::output::{Format, Records, print_json, resolve};
use super::select::Selection;
use crate::app::AppError;
use crate::app::contacts::Entry;
use crate::error::{Error, Result};
use crate::export::contact_json;
use crate::model::Contact;
use crate::model::time::format_ts;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum ContactsCmd {
    /// List contacts
    List(ListArgs),
    /// A contact's profile and timeline
    Show(ShowArgs),
    /// Erase contacts and everything about them (right to be forgotten)
    Delete(DeleteArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub select: Selection,
    /// Sort by a field (id, email, external_id, created_at, score, or an attribute); prefix - for descending
    #[arg(long, allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// At most this many contacts
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Internal id, email or external id
    pub key: String,
    /// Timeline entries to show (newest first)
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Only timeline entries of this event kind
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Internal ids, emails or external ids
    #[arg(required = true)]
    pub keys: Vec<String>,
    /// Skip compacting the file afterwards (erased bytes may linger in freed pages until reused)
    #[arg(long)]
    pub no_compact: bool,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(ctx: &Ctx, cmd: ContactsCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        ContactsCmd::List(a) => list(ctx, a, out),
        ContactsCmd::Show(a) => show(ctx, a, out),
        ContactsCmd::Delete(a) => delete(ctx, a, out),
    }
}

fn list(ctx: &Ctx, a: ListArgs, out: &mut dyn Write) -> Result<()> {
    let session = ctx.session()?;
    let store = session.store();
    let r = store.begin_read()?;
    let schema = r.schema()?;
    let only = a.select.resolve_in(ctx, &session)?;
    let sort = a.sort.as_deref().map(|s| match s.strip_prefix('-') {
        Some(f) => (f, true),
        None => (s, false),
    });
    let picked = session.contacts_page(only.as_ref(), sort, 0, a.limit).map_err(|e| match e {
        AppError::Invalid { .. } => Error::input(format!("--sort: {e}")),
        e => e.into(),
    })?;
    let format = resolve(a.format);
    let tags = crate::export::tags_by_contact(&r)?;
    let empty = Vec::new();
    if format == Format::Json {
        let list: Vec<Value> =
            picked.iter().map(|c| contact_json(&schema, c, tags.get(&c.id).unwrap_or(&empty))).collect();
        return print_json(&Value::Array(list), out);
    }
    let attr = |c: &Contact, name: &str| -> Value {
        schema.attr(name).and_then(|(i, d)| c.attr(i).map(|v| Value::String(d.format(v)))).unwrap_or(Value::Null)
    };
    let rec = Records {
        columns: ["id", "external_id", "email", "first_name", "last_name", "city", "score", "tags"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: picked
            .iter()
            .map(|c| {
                vec![
                    json!(c.id),
                    json!(c.external_id),
                    json!(c.email),
                    attr(c, "first_name"),
                    attr(c, "last_name"),
                    attr(c, "city"),
                    json!(c.score),
                    json!(tags.get(&c.id).unwrap_or(&empty)),
                ]
            })
            .collect(),
    };
    rec.print(format, out)
}

fn show(ctx: &Ctx, a: ShowArgs, out: &mut dyn Write) -> Result<()> {
    let session = ctx.session()?;
    let id = session.find_contact(&a.key)?;
    let p = session.profile(id, a.kind.as_deref(), 0, a.limit)?;
    let (schema, c, tags) = (&p.schema, &p.contact, &p.tags);
    let (engagement, lifecycle, total_entries) = (p.engagement, p.lifecycle, p.timeline_total);
    let rfm = p.rfm.clone();
    let timeline: Vec<Value> = p
        .timeline
        .iter()
        .map(|t| match &t.what {
            Entry::Event { kind, source, params } => {
                let params: serde_json::Map<String, Value> =
                    params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                json!({"ts": format_ts(t.ts), "type": "event", "kind": kind, "source": source, "params": params})
            }
            Entry::Action { what, detail } => {
                json!({"ts": format_ts(t.ts), "type": "action", "what": what.describe(), "detail": detail})
            }
        })
        .collect();
    let mut profile = contact_json(schema, c, tags);
    profile["derived"] = json!({
        "engagement": engagement,
        "lifecycle": lifecycle,
        "rfm": rfm,
    });
    profile["timeline_total"] = json!(total_entries);
    profile["timeline"] = Value::Array(timeline.clone());
    if resolve(a.format) != Format::Table {
        return print_json(&profile, out);
    }
    // a readable card
    writeln!(out, "{}  (id {})", c.label(), c.id)?;
    let name = p.name();
    if !name.is_empty() {
        writeln!(out, "  name        {name}")?;
    }
    writeln!(out, "  external_id {}", c.external_id.as_deref().unwrap_or("-"))?;
    writeln!(out, "  email       {}", c.email.as_deref().unwrap_or("-"))?;
    writeln!(out, "  created     {}", format_ts(c.created_at))?;
    writeln!(out, "  timezone    {}", c.timezone.as_deref().unwrap_or("- (policy default)"))?;
    writeln!(out, "  score       {}", c.score)?;
    writeln!(out, "  engagement  {engagement}   lifecycle {lifecycle}   rfm {}", rfm.unwrap_or("-".into()))?;
    let consent: Vec<String> = crate::model::Channel::ALL
        .iter()
        .map(|ch| match c.consent[*ch as usize] {
            Some(x) => format!("{} {} ({})", ch.name(), if x.opted_in { "in" } else { "out" }, format_ts(x.at)),
            None => format!("{} -", ch.name()),
        })
        .collect();
    writeln!(out, "  consent     {}", consent.join(", "))?;
    if let Some(t) = c.unsubscribed_at {
        writeln!(out, "  unsubscribed {}", format_ts(t))?;
    }
    if let Some(t) = c.bounced_at {
        writeln!(out, "  hard bounce {}", format_ts(t))?;
    }
    writeln!(out, "  tags        {}", if tags.is_empty() { "-".into() } else { tags.join(", ") })?;
    writeln!(out, "  categories  {}", if c.categories.is_empty() { "-".into() } else { c.categories.join(", ") })?;
    for (i, def) in schema.attributes.iter().enumerate() {
        if ["first_name", "last_name"].contains(&def.name.as_str()) {
            continue;
        }
        if let Some(v) = c.attr(i as u16) {
            writeln!(out, "  {:<11} {}", def.name, def.format(v))?;
        }
    }
    writeln!(out, "timeline ({} of {total_entries}, newest first)", timeline.len())?;
    for v in &timeline {
        let what = if v["type"] == "event" {
            let mut s = v["kind"].as_str().unwrap_or("").to_string();
            if let Some(src) = v["source"].as_str() {
                s.push_str(&format!(" [{src}]"));
            }
            if let Some(p) = v["params"].as_object() {
                for (k, x) in p {
                    s.push_str(&format!(" {k}={}", x.as_str().unwrap_or("")));
                }
            }
            s
        } else {
            // an action's detail in parentheses, when it has one (journey lines have none)
            match v["detail"].as_str().unwrap_or("") {
                "" => v["what"].as_str().unwrap_or("").to_string(),
                d => format!("{} ({d})", v["what"].as_str().unwrap_or("")),
            }
        };
        writeln!(out, "  {}  {what}", v["ts"].as_str().unwrap_or(""))?;
    }
    Ok(())
}

fn delete(ctx: &Ctx, a: DeleteArgs, out: &mut dyn Write) -> Result<()> {
    let session = ctx.session()?;
    let ids = session.find_contacts(&a.keys)?;
    let n = session.delete_contacts(&ids)?;
    let mut store = session.store().clone();
    drop(session);
    // run by the database's owner, the file stays shared: no compaction
    if !a.no_compact
        && let Some(store) = Arc::get_mut(&mut store)
    {
        // freed pages still hold the erased bytes until redb reuses them;
        // compaction rewrites the file so they go
        store.compact()?;
    }
    match resolve(a.format) {
        Format::Table => writeln!(out, "deleted {n} contact{}", if n == 1 { "" } else { "s" })?,
        _ => print_json(&json!({"deleted": n, "ids": ids.iter().collect::<Vec<_>>()}), out)?,
    }
    Ok(())
}
