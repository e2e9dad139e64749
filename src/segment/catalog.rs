//! `StaticCatalog`: an in-memory catalog with the built-in fields and kinds.

use super::check::{Catalog, FieldType};

/// A catalog held in vectors: the spec's built-in contact fields and event
/// kinds, plus whatever tags, categories, segments and places are added.
/// Used by tests and as the base the store's catalog extends.
#[derive(Clone, Debug, Default)]
pub struct StaticCatalog {
    pub fields: Vec<(String, FieldType)>,
    pub kinds: Vec<(String, Vec<(String, FieldType)>)>,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    pub segments: Vec<(String, String)>,
    pub places: Vec<String>,
}

fn s(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

fn params(xs: &[(&str, FieldType)]) -> Vec<(String, FieldType)> {
    xs.iter().map(|(n, t)| (n.to_string(), t.clone())).collect()
}

impl StaticCatalog {
    /// The built-in fields and kinds of spec/product.md; no tags, categories,
    /// segments or places.
    pub fn builtin() -> StaticCatalog {
        use FieldType::*;
        let fields = params(&[
            ("email", Text),
            ("external_id", Text),
            ("created_at", DateTime),
            ("score", Number),
            ("timezone", Text),
            ("consent.email", Bool),
            ("consent.sms", Bool),
            ("consent.push", Bool),
            ("first_name", Text),
            ("last_name", Text),
            ("phone", Text),
            ("gender", Enum(s(&["female", "male", "other"]))),
            ("birth_date", Date),
            ("age", Number),
            ("city", Text),
            ("region", Text),
            ("country", Text),
            ("postal_code", Text),
            ("lat", Number),
            ("lon", Number),
            ("language", Text),
            ("engagement", Enum(s(&["super_active", "moderate", "dormant", "none"]))),
            ("lifecycle", Enum(s(&["prospect", "new", "loyal", "active", "disengaging", "lapsed"]))),
            ("rfm", Text),
            ("rfm.r", Number),
            ("rfm.f", Number),
            ("rfm.m", Number),
            ("interests", Set(Vec::new())),
        ]);
        let email = params(&[("campaign", Text), ("url", Text)]);
        let cart = params(&[("product", Text), ("category", Text), ("amount", Number)]);
        let kinds = vec![
            (
                "purchase".to_string(),
                params(&[
                    ("amount", Number),
                    ("quantity", Number),
                    ("currency", Text),
                    ("order_id", Text),
                    ("product", Text),
                    ("manufacturer", Text),
                    ("category", Text),
                ]),
            ),
            ("page_view".into(), params(&[("url", Text), ("product", Text), ("category", Text)])),
            ("cart_add".into(), cart.clone()),
            ("cart_abandon".into(), cart),
            ("email_sent".into(), email.clone()),
            ("email_open".into(), email.clone()),
            ("email_click".into(), email),
            ("email_bounce".into(), params(&[("type", Enum(s(&["hard", "soft"])))])),
            ("unsubscribe".into(), Vec::new()),
            ("sms_sent".into(), Vec::new()),
            ("push_sent".into(), Vec::new()),
            ("ticket".into(), params(&[("subject", Text), ("status", Text)])),
        ];
        StaticCatalog { fields, kinds, ..StaticCatalog::default() }
    }

    /// Declares the values of the `interests` set (or any set/enum field).
    pub fn with_field(mut self, name: &str, ty: FieldType) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self.fields.push((name.to_string(), ty));
        self
    }
    pub fn with_tags(mut self, tags: &[&str]) -> Self {
        self.tags.extend(s(tags));
        self
    }
    pub fn with_categories(mut self, cats: &[&str]) -> Self {
        self.categories.extend(s(cats));
        self
    }
    pub fn with_segment(mut self, name: &str, expr: &str) -> Self {
        self.segments.push((name.to_string(), expr.to_string()));
        self
    }
    pub fn with_places(mut self, places: &[&str]) -> Self {
        self.places.extend(s(places));
        self
    }
}

impl Catalog for StaticCatalog {
    fn field(&self, name: &str) -> Option<FieldType> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone())
    }
    fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|(n, _)| n.clone()).collect()
    }
    fn kind_params(&self, kind: &str) -> Option<Vec<(String, FieldType)>> {
        self.kinds.iter().find(|(n, _)| n == kind).map(|(_, p)| p.clone())
    }
    fn kind_names(&self) -> Vec<String> {
        self.kinds.iter().map(|(n, _)| n.clone()).collect()
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
        self.segments.iter().find(|(n, _)| n == name).map(|(_, e)| e.clone())
    }
    fn segment_names(&self) -> Vec<String> {
        self.segments.iter().map(|(n, _)| n.clone()).collect()
    }
    fn has_place(&self, name: &str) -> bool {
        self.places.iter().any(|p| p == name)
    }
    fn place_names(&self) -> Vec<String> {
        self.places.clone()
    }
}
