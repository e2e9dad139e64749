//! The schema kept in the store: declared attributes and event kinds with
//! their parameters, built-ins first. Entries are only ever appended, so an
//! index into these lists is a stable id.

use super::attribute::{AttrDef, AttrType};
use super::event::{EVENT_FIELDS, KindDef, ParamDef, ParamType, builtin_kinds};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub attributes: Vec<AttrDef>,
    pub kinds: Vec<KindDef>,
}

/// Contact columns that are not attributes (and so cannot be attribute names).
pub const CONTACT_COLUMNS: &[&str] = &[
    "id",
    "external_id",
    "email",
    "created_at",
    "score",
    "timezone",
    "consent_email",
    "consent_sms",
    "consent_push",
    "tags",
    "categories",
    "consent_email_at",
    "consent_sms_at",
    "consent_push_at",
    "unsubscribed_at",
    "bounced_at",
];

/// Names that segment expressions use for contact fields and derived facts.
pub const RESERVED_FIELDS: &[&str] =
    &["age", "engagement", "lifecycle", "rfm", "consent", "tag", "category", "segment", "near", "not", "and", "or"];

pub fn builtin_attributes() -> Vec<AttrDef> {
    let a = |name: &str, ty: AttrType| AttrDef { name: name.into(), ty };
    vec![
        a("first_name", AttrType::Text),
        a("last_name", AttrType::Text),
        a("phone", AttrType::Text),
        a("gender", AttrType::Enum(vec!["female".into(), "male".into(), "other".into()])),
        a("birth_date", AttrType::Date),
        a("city", AttrType::Text),
        a("region", AttrType::Text),
        a("country", AttrType::Text),
        a("postal_code", AttrType::Text),
        a("lat", AttrType::Number),
        a("lon", AttrType::Number),
        a("language", AttrType::Text),
    ]
}

impl Default for Schema {
    fn default() -> Self {
        Schema { attributes: builtin_attributes(), kinds: builtin_kinds() }
    }
}

pub fn valid_name(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
}

impl Schema {
    pub fn attr(&self, name: &str) -> Option<(u16, &AttrDef)> {
        self.attributes.iter().enumerate().find(|(_, a)| a.name == name).map(|(i, a)| (i as u16, a))
    }
    pub fn kind(&self, name: &str) -> Option<(u16, &KindDef)> {
        self.kinds.iter().enumerate().find(|(_, k)| k.name == name).map(|(i, k)| (i as u16, k))
    }

    pub fn add_attribute(&mut self, name: &str, ty: AttrType) -> Result<u16, String> {
        if !valid_name(name) {
            return Err(format!(
                "`{name}` is not a valid attribute name (letters, digits, _ and -, starting with a letter)"
            ));
        }
        // exported columns are compared ignoring case by several SQL engines
        // (DuckDB, SQLite) and by the importer's header matching
        if let Some(r) = CONTACT_COLUMNS.iter().chain(RESERVED_FIELDS).find(|r| r.eq_ignore_ascii_case(name)) {
            return Err(if *r == name {
                format!("`{name}` is a reserved name")
            } else {
                format!("`{name}` is a reserved name (as `{r}`: names are compared ignoring case)")
            });
        }
        if let Some(a) = self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name)) {
            return Err(if a.name == name {
                format!("attribute `{name}` already exists ({})", a.ty.name())
            } else {
                format!(
                    "`{name}` differs only in case from attribute `{}` ({}), which is not allowed",
                    a.name,
                    a.ty.name()
                )
            });
        }
        if let AttrType::Set(values) = &ty
            && let Some(v) = values.iter().find(|v| v.contains(';'))
        {
            return Err(format!(
                "many-of value `{v}` contains `;`, which separates the values of a many-of attribute in imports and exports"
            ));
        }
        if self.attributes.len() >= u16::MAX as usize {
            return Err("too many attributes".into());
        }
        self.attributes.push(AttrDef { name: name.into(), ty });
        Ok(self.attributes.len() as u16 - 1)
    }

    pub fn add_kind(&mut self, name: &str) -> Result<u16, String> {
        if !valid_name(name) {
            return Err(format!(
                "`{name}` is not a valid event kind (letters, digits, _ and -, starting with a letter)"
            ));
        }
        if let Some((i, _)) = self.kind(name) {
            return Ok(i);
        }
        self.kinds.push(KindDef { name: name.into(), params: vec![] });
        Ok(self.kinds.len() as u16 - 1)
    }

    pub fn add_param(&mut self, kind: u16, name: &str, ty: ParamType) -> Result<u16, String> {
        if !valid_name(name) {
            return Err(format!("`{name}` is not a valid parameter name"));
        }
        if let Some(r) = EVENT_FIELDS.iter().find(|r| r.eq_ignore_ascii_case(name)) {
            return Err(if *r == name {
                format!("`{name}` is a reserved event field")
            } else {
                format!("`{name}` is a reserved event field (as `{r}`: names are compared ignoring case)")
            });
        }
        // every kind's parameters share the columns of `export events`, which
        // several SQL engines (DuckDB, SQLite) compare ignoring case
        if let Some((k, p)) = self
            .kinds
            .iter()
            .flat_map(|k| k.params.iter().map(move |p| (k, p)))
            .find(|(_, p)| p.name != name && p.name.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "`{name}` differs only in case from parameter `{}.{}`, which is not allowed",
                k.name, p.name
            ));
        }
        let k = &mut self.kinds[kind as usize];
        if let Some((i, p)) = k.param(name) {
            if p.ty != ty {
                return Err(format!("parameter `{}.{name}` already exists as {}", k.name, p.ty.name()));
            }
            return Ok(i);
        }
        k.params.push(ParamDef { name: name.into(), ty });
        Ok(k.params.len() as u16 - 1)
    }

    /// Every parameter name over all kinds, in first-declared order: the
    /// parameter columns of `export events`.
    pub fn param_columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in &self.kinds {
            for p in &k.params {
                if !out.contains(&p.name) {
                    out.push(p.name.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_differ_only_in_case_are_refused() {
        let mut s = Schema::default();
        for name in ["Email", "ID", "Tags", "City", "Lat", "AGE"] {
            let e = s.add_attribute(name, AttrType::Text).unwrap_err();
            assert!(e.contains("reserved") || e.contains("differs only in case"), "{name}: {e}");
        }
        s.add_attribute("Score2", AttrType::Number).unwrap();
        assert!(s.add_attribute("score2", AttrType::Text).unwrap_err().contains("differs only in case"));
        let purchase = s.kind("purchase").unwrap().0;
        for name in ["Kind", "TS", "Source", "Contact_ID", "Amount"] {
            assert!(s.add_param(purchase, name, ParamType::Text).is_err(), "{name}");
        }
        let k = s.add_kind("visit").unwrap();
        assert!(s.add_param(k, "PRODUCT", ParamType::Text).is_err());
        // the same name on another kind shares the column: still allowed
        s.add_param(k, "product", ParamType::Text).unwrap();
        assert_eq!(
            s.add_param(purchase, "amount", ParamType::Number),
            Ok(s.kind("purchase").unwrap().1.param("amount").unwrap().0)
        );
    }

    #[test]
    fn many_of_values_have_no_semicolon() {
        let mut s = Schema::default();
        let e = s.add_attribute("hob2", AttrType::Set(vec!["x;y".into(), "z".into()])).unwrap_err();
        assert!(e.contains("`x;y`") && e.contains(';'), "{e}");
        s.add_attribute("hob3", AttrType::Set(vec!["x".into(), "y".into()])).unwrap();
    }
}
