//! `reach schema` (attributes, event kinds and parameters) and
//! `reach categories` (the hierarchy): arguments in, the application
//! layer's schema operations, tables out.

use super::Ctx;
use super::output::{Format, Records, resolve};
use crate::app::schema::param_type;
use crate::app::{Clock, Session};
use crate::error::{Error, Result};
use crate::model::AttrType;
use crate::store::OpenMode;
use clap::Subcommand;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum SchemaCmd {
    /// Attributes and event kinds with their parameters
    Show {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Declare a typed attribute
    AddAttribute {
        name: String,
        /// number, text, bool, date, one-of, many-of
        #[arg(value_name = "TYPE")]
        ty: String,
        /// Declared values of one-of and many-of (comma-separated)
        #[arg(long, value_delimiter = ',')]
        values: Vec<String>,
    },
    /// Declare an event kind parameter (kinds are created as needed)
    AddParam {
        kind: String,
        name: String,
        /// number, text
        #[arg(value_name = "TYPE")]
        ty: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CategoriesCmd {
    /// Categories with parent and direct member counts
    List {
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Declare a category, e.g. `sport/running` (parents are created)
    Add { path: String },
}

/// A session that may create the database (declaring is how one can start):
/// the owner's, or one on the file at this clock.
fn declaring_session(ctx: &Ctx) -> Result<Arc<Session>> {
    match &ctx.shared {
        Some(s) => Ok(s.clone()),
        None => Ok(Arc::new(Session::over(ctx.open(OpenMode::Create)?, ctx.config.clone(), Clock::Fixed(ctx.now)))),
    }
}

pub fn run_schema(ctx: &Ctx, cmd: SchemaCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        SchemaCmd::Show { format } => {
            let rows = ctx
                .session()?
                .schema_entries()?
                .into_iter()
                .map(|e| {
                    vec![json!(e.item.name()), json!(e.name), json!(e.ty.unwrap_or("")), json!(e.values.join(","))]
                })
                .collect();
            Records { columns: vec!["what".into(), "name".into(), "type".into(), "values".into()], rows }
                .print(resolve(format), out)
        }
        SchemaCmd::AddAttribute { name, ty, values } => {
            // the type is checked before a database file is created
            let t = AttrType::from_name(&ty, &values).map_err(Error::input)?;
            declaring_session(ctx)?.declare_attribute(&name, t)?;
            writeln!(out, "declared attribute {name} ({ty})")?;
            Ok(())
        }
        SchemaCmd::AddParam { kind, name, ty } => {
            let t = param_type(&ty)?;
            declaring_session(ctx)?.declare_param(&kind, &name, t)?;
            writeln!(out, "declared parameter {kind}.{name} ({ty})")?;
            Ok(())
        }
    }
}

pub fn run_categories(ctx: &Ctx, cmd: CategoriesCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        CategoriesCmd::List { format } => Records {
            columns: vec!["category".into(), "parent".into(), "contacts".into()],
            rows: ctx
                .session()?
                .categories()?
                .into_iter()
                .map(|c| vec![json!(c.name), json!(c.parent), json!(c.contacts)])
                .collect(),
        }
        .print(resolve(format), out),
        CategoriesCmd::Add { path } => {
            let leaf = declaring_session(ctx)?.declare_category(&path)?;
            writeln!(out, "declared category {leaf}")?;
            Ok(())
        }
    }
}
