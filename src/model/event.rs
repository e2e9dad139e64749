//! Events (activities): kinds with typed parameters, traffic sources, and the
//! built-in kinds of the data model.

use serde::{Deserialize, Serialize};

/// Traffic source class; 0 in storage means "no source".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    Direct = 1,
    Referral = 2,
    Search = 3,
    Paid = 4,
    Email = 5,
    Social = 6,
}

impl Source {
    pub const ALL: [Source; 6] =
        [Source::Direct, Source::Referral, Source::Search, Source::Paid, Source::Email, Source::Social];

    pub fn name(self) -> &'static str {
        match self {
            Source::Direct => "direct",
            Source::Referral => "referral",
            Source::Search => "search",
            Source::Paid => "paid",
            Source::Email => "email",
            Source::Social => "social",
        }
    }
    pub fn parse(s: &str) -> Option<Source> {
        let s = s.trim();
        Source::ALL.into_iter().find(|x| x.name().eq_ignore_ascii_case(s))
    }
    pub fn from_code(c: u8) -> Option<Source> {
        Source::ALL.get((c as usize).wrapping_sub(1)).copied()
    }
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamType {
    /// exact decimal (amounts, quantities)
    Number,
    Text,
    /// text restricted to declared values
    Enum(Vec<String>),
}

impl ParamType {
    pub fn name(&self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Text => "text",
            ParamType::Enum(_) => "one-of",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamDef {
    pub name: String,
    pub ty: ParamType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindDef {
    pub name: String,
    pub params: Vec<ParamDef>,
}

impl KindDef {
    pub fn param(&self, name: &str) -> Option<(u16, &ParamDef)> {
        self.params.iter().enumerate().find(|(_, p)| p.name == name).map(|(i, p)| (i as u16, p))
    }
}

/// Field names an event row has besides its parameters.
pub const EVENT_FIELDS: &[&str] =
    &["contact", "contact_id", "ts", "kind", "source", "utm_source", "utm_medium", "utm_campaign"];

pub fn builtin_kinds() -> Vec<KindDef> {
    use ParamType::*;
    let p = |name: &str, ty: ParamType| ParamDef { name: name.into(), ty };
    let k = |name: &str, params: Vec<ParamDef>| KindDef { name: name.into(), params };
    vec![
        k(
            "purchase",
            vec![
                p("amount", Number),
                p("currency", Text),
                p("quantity", Number),
                p("order_id", Text),
                p("product", Text),
                p("manufacturer", Text),
                p("category", Text),
            ],
        ),
        k("page_view", vec![p("url", Text), p("product", Text), p("category", Text)]),
        k("cart_add", vec![p("product", Text), p("category", Text), p("amount", Number), p("quantity", Number)]),
        k("cart_abandon", vec![p("amount", Number), p("product", Text)]),
        k("email_sent", vec![p("campaign", Text)]),
        k("email_open", vec![p("campaign", Text)]),
        k("email_click", vec![p("campaign", Text), p("url", Text)]),
        k("email_bounce", vec![p("type", Enum(vec!["hard".into(), "soft".into()])), p("campaign", Text)]),
        k("unsubscribe", vec![p("campaign", Text)]),
        k("sms_sent", vec![p("campaign", Text)]),
        k("push_sent", vec![p("campaign", Text)]),
        k("ticket", vec![p("subject", Text), p("status", Text)]),
    ]
}
