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
        if CONTACT_COLUMNS.contains(&name) || RESERVED_FIELDS.contains(&name) {
            return Err(format!("`{name}` is a reserved name"));
        }
        if let Some((_, a)) = self.attr(name) {
            return Err(format!("attribute `{name}` already exists ({})", a.ty.name()));
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
        if EVENT_FIELDS.contains(&name) {
            return Err(format!("`{name}` is a reserved event field"));
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
