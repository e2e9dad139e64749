//! `reach tags list|add|remove`.

use super::Ctx;
use super::output::{Format, Records, print_json, resolve};
use super::select::Selection;
use crate::error::{Error, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::Write;

#[derive(Subcommand, Debug)]
pub enum TagsCmd {
    /// Tags with their contact counts
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Add a tag to the selected contacts
    Add(TagArgs),
    /// Remove a tag from the selected contacts
    Remove(TagArgs),
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// The tag (its argument id differs from the selection's `--tag`, which clap requires to be unique)
    #[arg(id = "tag_name", value_name = "TAG")]
    pub tag: String,
    #[command(flatten)]
    pub select: Selection,
    /// Apply to every contact (required when no selection is given)
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(ctx: &Ctx, cmd: TagsCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        TagsCmd::List { format } => {
            let (tags, _) = ctx.session()?.tag_counts()?;
            Records {
                columns: vec!["tag".into(), "count".into()],
                rows: tags.into_iter().map(|(t, n)| vec![json!(t), json!(n)]).collect(),
            }
            .print(resolve(format), out)
        }
        TagsCmd::Add(a) => change(ctx, a, true, out),
        TagsCmd::Remove(a) => change(ctx, a, false, out),
    }
}

fn change(ctx: &Ctx, a: TagArgs, add: bool, out: &mut dyn Write) -> Result<()> {
    let tag = a.tag.trim();
    if tag.is_empty() || tag.contains([';', ',', '|']) {
        return Err(Error::input(format!("`{}` is not a valid tag (no empty tags, no ; , or |)", a.tag)));
    }
    if a.select.is_empty() && !a.all {
        return Err(Error::input("choose contacts with --tag, --contact, or --all"));
    }
    let session = ctx.session()?;
    let ids = match a.select.resolve_in(ctx, &session)? {
        Some(b) => b,
        None => session.store().begin_read()?.contact_ids()?,
    };
    // the console's `:` line, or a command line (here or through the owner's socket)
    let source = if ctx.shared.is_some() && ctx.cwd.is_none() { "console" } else { "cli" };
    let n = session.change_tag(tag, &ids, add, source)?;
    match resolve(a.format) {
        Format::Table => writeln!(
            out,
            "{} `{tag}` {} {n} contact{} ({} selected)",
            if add { "added" } else { "removed" },
            if add { "to" } else { "from" },
            if n == 1 { "" } else { "s" },
            ids.len()
        )?,
        _ => print_json(&json!({"tag": tag, "changed": n, "selected": ids.len()}), out)?,
    }
    Ok(())
}
