//! The typed layout of the exported tables: each column of `contacts` and
//! `events` with the type of its values, as the CSV writer (which quotes
//! text columns), the DDL of `reach export schema` and the Parquet writer
//! see it.

use crate::model::attribute::AttrType;
use crate::model::{ParamType, Schema};

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    /// a contact id (u32), never empty
    Id,
    /// a whole number (the score), never empty
    Int,
    /// an exact decimal with 6 places (attributes and parameters of type number)
    Decimal,
    /// text; in CSV always quoted, so engines that infer types keep it as text
    Text,
    Bool,
    /// a calendar date, `YYYY-MM-DD`
    Date,
    /// a UTC instant to the second, RFC 3339
    Time,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColType,
    /// false for the columns every row has
    pub nullable: bool,
}

fn col(name: &str, ty: ColType, nullable: bool) -> Column {
    Column { name: name.to_string(), ty, nullable }
}

/// The contacts table: the fixed columns (`CONTACT_COLUMNS`), then one per attribute.
pub fn contact_columns(schema: &Schema) -> Vec<Column> {
    use ColType::*;
    let mut out = vec![
        col("id", Id, false),
        col("external_id", Text, true),
        col("email", Text, true),
        col("created_at", Time, false),
        col("score", Int, false),
        col("timezone", Text, true),
        col("consent_email", Bool, true),
        col("consent_sms", Bool, true),
        col("consent_push", Bool, true),
        col("tags", Text, true),
        col("categories", Text, true),
        col("consent_email_at", Time, true),
        col("consent_sms_at", Time, true),
        col("consent_push_at", Time, true),
        col("unsubscribed_at", Time, true),
        col("bounced_at", Time, true),
    ];
    debug_assert_eq!(out.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), super::CONTACT_HEAD);
    for a in &schema.attributes {
        let ty = match a.ty {
            AttrType::Number => Decimal,
            AttrType::Bool => Bool,
            AttrType::Date => Date,
            AttrType::Text | AttrType::Enum(_) | AttrType::Set(_) => Text,
        };
        out.push(col(&a.name, ty, true));
    }
    out
}

/// The events table: the fixed columns (`EVENT_HEAD`), then one per
/// parameter name; a name that is a number in every kind that has it is a
/// decimal column, otherwise text.
pub fn event_columns(schema: &Schema) -> Vec<Column> {
    use ColType::*;
    let mut out = vec![
        col("contact_id", Id, false),
        col("ts", Time, false),
        col("kind", Text, false),
        col("source", Text, true),
        col("utm_source", Text, true),
        col("utm_medium", Text, true),
        col("utm_campaign", Text, true),
    ];
    debug_assert_eq!(out.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), super::EVENT_HEAD);
    for name in schema.param_columns() {
        let number = schema
            .kinds
            .iter()
            .flat_map(|k| k.params.iter())
            .filter(|p| p.name == name)
            .all(|p| p.ty == ParamType::Number);
        out.push(col(&name, if number { Decimal } else { Text }, true));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KindDef, ParamDef};

    #[test]
    fn a_parameter_is_a_decimal_only_when_every_kind_says_number() {
        let p = |n: &str, ty: ParamType| ParamDef { name: n.into(), ty };
        let schema = Schema {
            attributes: vec![],
            kinds: vec![
                KindDef { name: "a".into(), params: vec![p("amount", ParamType::Number), p("x", ParamType::Number)] },
                KindDef { name: "b".into(), params: vec![p("x", ParamType::Text)] },
            ],
        };
        let cols = event_columns(&schema);
        let ty = |n: &str| cols.iter().find(|c| c.name == n).unwrap().ty;
        assert_eq!(ty("amount"), ColType::Decimal);
        assert_eq!(ty("x"), ColType::Text);
        assert_eq!(ty("ts"), ColType::Time);
        let schema = Schema::default();
        assert_eq!(contact_columns(&schema).len(), super::super::CONTACT_HEAD.len() + schema.attributes.len());
    }
}
