//! `reach schema` (attributes, event kinds and parameters) and
//! `reach categories` (the hierarchy).

use super::Ctx;
use super::output::{Format, Records, resolve};
use crate::error::{Error, Result};
use crate::model::{AttrType, ParamType};
use crate::store::OpenMode;
use clap::Subcommand;
use serde_json::json;
use std::io::Write;

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

pub fn run_schema(ctx: &Ctx, cmd: SchemaCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        SchemaCmd::Show { format } => {
            let store = ctx.open(OpenMode::Existing)?;
            let s = store.begin_read()?.schema()?;
            let mut rows = Vec::new();
            for a in &s.attributes {
                let values = match &a.ty {
                    AttrType::Enum(v) | AttrType::Set(v) => v.join(","),
                    _ => String::new(),
                };
                rows.push(vec![json!("attribute"), json!(a.name), json!(a.ty.name()), json!(values)]);
            }
            for k in &s.kinds {
                rows.push(vec![json!("kind"), json!(k.name), json!(""), json!("")]);
                for p in &k.params {
                    let values = match &p.ty {
                        ParamType::Enum(v) => v.join(","),
                        _ => String::new(),
                    };
                    rows.push(vec![
                        json!("parameter"),
                        json!(format!("{}.{}", k.name, p.name)),
                        json!(p.ty.name()),
                        json!(values),
                    ]);
                }
            }
            Records { columns: vec!["what".into(), "name".into(), "type".into(), "values".into()], rows }
                .print(resolve(format), out)
        }
        SchemaCmd::AddAttribute { name, ty, values } => {
            let t = AttrType::from_name(&ty, &values).map_err(Error::input)?;
            let store = ctx.open(OpenMode::Create)?;
            let mut w = store.begin_write()?;
            w.schema_mut().add_attribute(&name, t).map_err(Error::input)?;
            w.commit()?;
            writeln!(out, "declared attribute {name} ({ty})")?;
            Ok(())
        }
        SchemaCmd::AddParam { kind, name, ty } => {
            let t = match ty.as_str() {
                "number" => ParamType::Number,
                "text" => ParamType::Text,
                _ => return Err(Error::input(format!("unknown parameter type `{ty}` (number, text)"))),
            };
            let store = ctx.open(OpenMode::Create)?;
            let mut w = store.begin_write()?;
            let k = w.schema_mut().add_kind(&kind).map_err(Error::input)?;
            w.schema_mut().add_param(k, &name, t).map_err(Error::input)?;
            w.commit()?;
            writeln!(out, "declared parameter {kind}.{name} ({ty})")?;
            Ok(())
        }
    }
}

pub fn run_categories(ctx: &Ctx, cmd: CategoriesCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        CategoriesCmd::List { format } => {
            let store = ctx.open(OpenMode::Existing)?;
            let cats = store.begin_read()?.categories()?;
            Records {
                columns: vec!["category".into(), "parent".into(), "contacts".into()],
                rows: cats.iter().map(|c| vec![json!(c.name), json!(c.parent), json!(c.members.len())]).collect(),
            }
            .print(resolve(format), out)
        }
        CategoriesCmd::Add { path } => {
            let store = ctx.open(OpenMode::Create)?;
            let mut w = store.begin_write()?;
            let leaf = w.ensure_category(&path)?;
            w.commit()?;
            writeln!(out, "declared category {leaf}")?;
            Ok(())
        }
    }
}
