//! A contact as stored: keys, consent per channel, timezone, score,
//! categories and attribute values. Tags live in per-tag bitmaps, not here.

use super::attribute::AttrValue;
use super::time::Ts;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Internal contact id: dense, from 1. Shown and exported as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContactId(pub u32);

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Channel {
    Email = 0,
    Sms = 1,
    Push = 2,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub opted_in: bool,
    pub at: Ts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: u32,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub created_at: Ts,
    pub timezone: Option<String>,
    pub score: i64,
    /// indexed by `Channel as usize`
    pub consent: [Option<Consent>; 3],
    /// set by an `unsubscribe` event
    pub unsubscribed_at: Option<Ts>,
    /// set by an `email_bounce` event of type hard
    pub bounced_at: Option<Ts>,
    pub categories: Vec<String>,
    /// (attribute index in the schema, value), sorted by index
    pub attrs: Vec<(u16, AttrValue)>,
}

impl Contact {
    pub fn id(&self) -> ContactId {
        ContactId(self.id)
    }
    pub fn attr(&self, idx: u16) -> Option<&AttrValue> {
        self.attrs.binary_search_by_key(&idx, |(i, _)| *i).ok().map(|p| &self.attrs[p].1)
    }
    pub fn set_attr(&mut self, idx: u16, v: Option<AttrValue>) {
        match (self.attrs.binary_search_by_key(&idx, |(i, _)| *i), v) {
            (Ok(p), Some(v)) => self.attrs[p].1 = v,
            (Ok(p), None) => {
                self.attrs.remove(p);
            }
            (Err(p), Some(v)) => self.attrs.insert(p, (idx, v)),
            (Err(_), None) => {}
        }
    }
    pub fn consented(&self, c: Channel) -> bool {
        self.consent[c as usize].is_some_and(|c| c.opted_in)
    }
    /// The key shown to people: email, else external id, else `#id`.
    pub fn label(&self) -> String {
        self.email.clone().or_else(|| self.external_id.clone()).unwrap_or_else(|| format!("#{}", self.id))
    }
}

/// Normalises an email for lookup: trimmed and lowercased.
pub fn normalize_email(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A plausible email: one `@` with text on both sides and no spaces.
pub fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    match s.split_once('@') {
        Some((a, b)) => !a.is_empty() && b.contains('.') && !b.contains('@') && !s.contains(char::is_whitespace),
        None => false,
    }
}

/// A timeline entry for something done to the contact (not an event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub ts: Ts,
    pub what: ActionKind,
    /// free text: which import, which campaign, which reason
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionKind {
    Created,
    Updated,
    TagAdded(String),
    TagRemoved(String),
    ScoreChanged { from: i64, to: i64 },
    Delivery { campaign: String, channel: String },
    Suppression { campaign: String, reason: String },
    Deferral { campaign: String, until: Ts },
}

impl ActionKind {
    pub fn describe(&self) -> String {
        match self {
            ActionKind::Created => "created".into(),
            ActionKind::Updated => "updated".into(),
            ActionKind::TagAdded(t) => format!("tag +{t}"),
            ActionKind::TagRemoved(t) => format!("tag -{t}"),
            ActionKind::ScoreChanged { from, to } => format!("score {from} -> {to}"),
            ActionKind::Delivery { campaign, channel } => format!("sent {campaign} ({channel})"),
            ActionKind::Suppression { campaign, reason } => format!("suppressed {campaign}: {reason}"),
            ActionKind::Deferral { campaign, until } => {
                format!("deferred {campaign} until {}", super::time::format_ts(*until))
            }
        }
    }
}
