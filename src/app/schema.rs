//! The schema and the category hierarchy for front ends: what attributes,
//! event kinds and parameters are declared (as one flat listing), declaring
//! new ones, and the categories with their direct member counts.

use super::{AppError, AppResult, Session};
use crate::model::{AttrType, ParamType, Schema};

/// What a schema entry declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaItem {
    Attribute,
    Kind,
    Parameter,
}

impl SchemaItem {
    pub fn name(self) -> &'static str {
        match self {
            SchemaItem::Attribute => "attribute",
            SchemaItem::Kind => "kind",
            SchemaItem::Parameter => "parameter",
        }
    }
}

/// One line of the schema: an attribute, an event kind, or a kind's
/// parameter (named `kind.param`), each kind followed by its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaEntry {
    pub item: SchemaItem,
    pub name: String,
    /// the type's name (`number`, `one-of`, ...); none for a kind
    pub ty: Option<&'static str>,
    /// declared values of one-of and many-of types
    pub values: Vec<String>,
}

/// A category with its parent and how many contacts it holds directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategorySummary {
    pub name: String,
    pub parent: Option<String>,
    pub contacts: u64,
}

/// Parses an event parameter's type name: `number` or `text`.
pub fn param_type(name: &str) -> AppResult<ParamType> {
    match name {
        "number" => Ok(ParamType::Number),
        "text" => Ok(ParamType::Text),
        _ => Err(AppError::invalid(format!("unknown parameter type `{name}` (number, text)"))),
    }
}

/// The schema as a flat listing: attributes in declaration order, then
/// each event kind followed by its parameters.
pub fn schema_entries(s: &Schema) -> Vec<SchemaEntry> {
    let mut out = Vec::new();
    for a in &s.attributes {
        let values = match &a.ty {
            AttrType::Enum(v) | AttrType::Set(v) => v.clone(),
            _ => Vec::new(),
        };
        out.push(SchemaEntry { item: SchemaItem::Attribute, name: a.name.clone(), ty: Some(a.ty.name()), values });
    }
    for k in &s.kinds {
        out.push(SchemaEntry { item: SchemaItem::Kind, name: k.name.clone(), ty: None, values: Vec::new() });
        for p in &k.params {
            let values = match &p.ty {
                ParamType::Enum(v) => v.clone(),
                _ => Vec::new(),
            };
            out.push(SchemaEntry {
                item: SchemaItem::Parameter,
                name: format!("{}.{}", k.name, p.name),
                ty: Some(p.ty.name()),
                values,
            });
        }
    }
    out
}

impl Session {
    /// The declared schema as a flat listing (see `schema_entries`).
    pub fn schema_entries(&self) -> AppResult<Vec<SchemaEntry>> {
        Ok(schema_entries(&self.store.begin_read()?.schema()?))
    }

    /// Declares a typed attribute.
    pub fn declare_attribute(&self, name: &str, ty: AttrType) -> AppResult<()> {
        let mut w = self.store.begin_write()?;
        w.schema_mut().add_attribute(name, ty).map_err(AppError::invalid)?;
        w.audit(&self.audit_entry(format!("attribute {name} declared")))?;
        w.commit()?;
        Ok(())
    }

    /// Declares a parameter of an event kind, creating the kind when needed.
    pub fn declare_param(&self, kind: &str, name: &str, ty: ParamType) -> AppResult<()> {
        let mut w = self.store.begin_write()?;
        let k = w.schema_mut().add_kind(kind).map_err(AppError::invalid)?;
        w.schema_mut().add_param(k, name, ty).map_err(AppError::invalid)?;
        w.audit(&self.audit_entry(format!("parameter {kind}.{name} declared")))?;
        w.commit()?;
        Ok(())
    }

    /// Every category with its parent and direct member count.
    pub fn categories(&self) -> AppResult<Vec<CategorySummary>> {
        Ok(self
            .store
            .begin_read()?
            .categories()?
            .into_iter()
            .map(|c| CategorySummary { contacts: c.members.len(), name: c.name, parent: c.parent })
            .collect())
    }

    /// Declares a category by its path (`sport/running`), creating its
    /// parents; returns the leaf's name.
    pub fn declare_category(&self, path: &str) -> AppResult<String> {
        let mut w = self.store.begin_write()?;
        let leaf = w.ensure_category(path)?;
        w.audit(&self.audit_entry(format!("category {path} declared")))?;
        w.commit()?;
        Ok(leaf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Clock;
    use crate::config::Config;
    use crate::store::{OpenMode, Store};
    use std::sync::Arc;

    fn session(dir: &tempfile::TempDir) -> Session {
        let store = Store::open(&dir.path().join("s.redb"), OpenMode::Create).unwrap();
        Session::over(Arc::new(store), Config::default(), Clock::Fixed(1_700_000_000))
    }

    #[test]
    fn entries_list_attributes_then_each_kind_with_its_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(&dir);
        let before = s.schema_entries().unwrap();
        s.declare_attribute("plan", AttrType::Enum(vec!["free".into(), "pro".into()])).unwrap();
        s.declare_param("refund", "amount", param_type("number").unwrap()).unwrap();
        s.declare_param("refund", "reason", param_type("text").unwrap()).unwrap();
        let after = s.schema_entries().unwrap();
        let new: Vec<_> = after.iter().filter(|e| !before.contains(e)).cloned().collect();
        let plan = new.iter().find(|e| e.name == "plan").expect("the attribute is listed");
        assert_eq!(
            (plan.item, plan.ty, plan.values.clone()),
            (SchemaItem::Attribute, Some("one-of"), vec!["free".to_string(), "pro".to_string()])
        );
        let at = after.iter().position(|e| e.item == SchemaItem::Kind && e.name == "refund").unwrap();
        assert_eq!(after[at].ty, None);
        let params: Vec<_> = after[at + 1..].iter().take(2).map(|e| (e.item, e.name.as_str(), e.ty)).collect();
        assert_eq!(
            params,
            vec![
                (SchemaItem::Parameter, "refund.amount", Some("number")),
                (SchemaItem::Parameter, "refund.reason", Some("text")),
            ]
        );
        assert!(
            after.iter().position(|e| e.name == "plan").unwrap()
                < after.iter().position(|e| e.item == SchemaItem::Kind).unwrap(),
            "attributes come before kinds"
        );
    }

    #[test]
    fn bad_declarations_are_invalid_input() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(&dir);
        assert!(matches!(param_type("date"), Err(AppError::Invalid { .. })));
        assert_eq!(param_type("date").unwrap_err().to_string(), "unknown parameter type `date` (number, text)");
        assert!(matches!(s.declare_attribute("1bad", AttrType::Text), Err(AppError::Invalid { .. })));
        assert!(matches!(s.declare_param("purchase", "no good", ParamType::Text), Err(AppError::Invalid { .. })));
    }

    #[test]
    fn categories_have_parents_and_direct_counts() {
        let dir = tempfile::tempdir().unwrap();
        let s = session(&dir);
        assert_eq!(s.declare_category("sport/running").unwrap(), "running");
        let cats = s.categories().unwrap();
        let running = cats.iter().find(|c| c.name == "running").unwrap();
        assert_eq!((running.parent.as_deref(), running.contacts), (Some("sport"), 0));
        let sport = cats.iter().find(|c| c.name == "sport").unwrap();
        assert_eq!(sport.parent, None);
    }
}
