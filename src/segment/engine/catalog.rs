//! The checker's view of a store: fields and attributes with their types,
//! event kinds and parameters, tags, categories, saved segments, places.

use crate::model::{AttrType, ParamType, Schema};
use crate::segment::check::{Catalog, FieldType};
use std::collections::HashMap;

pub struct StoreCatalog {
    pub schema: Schema,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    /// category → its parent (declared categories only; roots map to `None`)
    pub category_parents: HashMap<String, Option<String>>,
    pub segments: HashMap<String, String>,
}

const BUILTIN_FIELDS: &[&str] = &[
    "email",
    "external_id",
    "created_at",
    "score",
    "timezone",
    "consent.email",
    "consent.sms",
    "consent.push",
    "age",
    "engagement",
    "lifecycle",
    "rfm",
    "rfm.r",
    "rfm.f",
    "rfm.m",
];

impl StoreCatalog {
    pub fn load(r: &crate::store::Reader) -> crate::error::Result<StoreCatalog> {
        // names only: the members' bitmaps (megabytes at a million
        // contacts) are the engine's to read, for the tags a query names
        let cats = r.category_tree()?;
        Ok(StoreCatalog {
            schema: r.schema()?,
            tags: r.tag_names()?,
            categories: cats.iter().map(|c| c.0.clone()).collect(),
            category_parents: cats.into_iter().collect(),
            segments: r.segments()?.into_iter().map(|s| (s.name, s.expr)).collect(),
        })
    }
}

fn strs(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

impl Catalog for StoreCatalog {
    fn field(&self, name: &str) -> Option<FieldType> {
        use FieldType::*;
        Some(match name {
            "email" | "external_id" | "timezone" | "rfm" => Text,
            "created_at" => DateTime,
            "score" | "age" | "rfm.r" | "rfm.f" | "rfm.m" => Number,
            "consent.email" | "consent.sms" | "consent.push" => Bool,
            "engagement" => Enum(crate::derived::Engagement::ALL.iter().map(|e| e.name().to_string()).collect()),
            "lifecycle" => Enum(crate::derived::Lifecycle::ALL.iter().map(|e| e.name().to_string()).collect()),
            other => match &self.schema.attr(other)?.1.ty {
                AttrType::Number => Number,
                AttrType::Text => Text,
                AttrType::Bool => Bool,
                AttrType::Date => Date,
                AttrType::Enum(v) => Enum(v.clone()),
                AttrType::Set(v) => Set(v.clone()),
            },
        })
    }

    fn field_names(&self) -> Vec<String> {
        let mut v = strs(BUILTIN_FIELDS);
        v.extend(self.schema.attributes.iter().map(|a| a.name.clone()));
        v
    }

    fn kind_params(&self, kind: &str) -> Option<Vec<(String, FieldType)>> {
        let (_, k) = self.schema.kind(kind)?;
        Some(
            k.params
                .iter()
                .map(|p| {
                    let t = match &p.ty {
                        ParamType::Number => FieldType::Number,
                        ParamType::Text => FieldType::Text,
                        ParamType::Enum(v) => FieldType::Enum(v.clone()),
                    };
                    (p.name.clone(), t)
                })
                .collect(),
        )
    }

    fn kind_names(&self) -> Vec<String> {
        self.schema.kinds.iter().map(|k| k.name.clone()).collect()
    }

    fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    fn tag_names(&self) -> Vec<String> {
        self.tags.clone()
    }

    fn has_category(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }

    fn category_names(&self) -> Vec<String> {
        self.categories.clone()
    }

    fn segment_expr(&self, name: &str) -> Option<String> {
        self.segments.get(name).cloned()
    }

    fn segment_names(&self) -> Vec<String> {
        self.segments.keys().cloned().collect()
    }

    fn has_place(&self, name: &str) -> bool {
        crate::geo::lookup(name).is_some()
    }

    fn place_names(&self) -> Vec<String> {
        crate::geo::names().map(str::to_string).collect()
    }
}
