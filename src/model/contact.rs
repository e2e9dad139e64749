//! A contact as stored: keys, consent per channel, timezone, score,
//! categories and attribute values. Tags live in per-tag bitmaps, not here.

use super::attribute::AttrValue;
use super::time::Ts;
use compact_str::CompactString;
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

/// A delivery channel: the index of a contact's consent and the channel of
/// a campaign (one enum for both; stored as its index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    pub fn as_str(self) -> &'static str {
        self.name()
    }
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Channel::parse(s).ok_or_else(|| format!("unknown channel `{s}` (expected email, sms or push)"))
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
    /// inline up to 24 bytes (most external ids and every time zone name;
    /// shorter emails): no allocation each
    pub external_id: Option<CompactString>,
    pub email: Option<CompactString>,
    pub created_at: Ts,
    pub timezone: Option<CompactString>,
    pub score: i64,
    /// indexed by `Channel as usize`
    pub consent: [Option<Consent>; 3],
    /// set by an `unsubscribe` event
    pub unsubscribed_at: Option<Ts>,
    /// set by an `email_bounce` event of type hard
    pub bounced_at: Option<Ts>,
    /// category leaves (inline up to 24 bytes: no allocation each)
    pub categories: Vec<compact_str::CompactString>,
    /// (attribute index in the schema, value), sorted by index
    pub attrs: Vec<(u16, AttrValue)>,
}

impl Contact {
    pub fn id(&self) -> ContactId {
        ContactId(self.id)
    }
    pub fn attr(&self, idx: u16) -> Option<&AttrValue> {
        find_attr(&self.attrs, idx)
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
        self.email.as_deref().or(self.external_id.as_deref()).map_or_else(|| format!("#{}", self.id), str::to_string)
    }
}

/// Normalises an email for lookup: trimmed and lowercased.
pub fn normalize_email(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A plausible email: one `@` with text on both sides, a `.` after it and
/// no spaces.
pub fn looks_like_email(s: &str) -> bool {
    let s = super::trim_fast(s);
    let b = s.as_bytes();
    if b.is_ascii() {
        // a byte at a time (a key on every row of a log)
        let Some(at) = memchr::memchr(b'@', b) else { return false };
        let domain = &b[at + 1..];
        return at > 0
            && memchr::memchr(b'.', domain).is_some()
            && memchr::memchr(b'@', domain).is_none()
            // folded without an early exit: one pass the compiler vectorizes
            // (the loop that stopped at the first space was compiled a byte
            // at a time or not, build by build)
            && !b.iter().fold(false, |ws, c| ws | matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '));
    }
    looks_like_email_chars(s)
}

/// `looks_like_email` by characters (any text).
fn looks_like_email_chars(s: &str) -> bool {
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
    ScoreChanged {
        from: i64,
        to: i64,
    },
    Delivery {
        campaign: String,
        channel: String,
    },
    Suppression {
        campaign: String,
        reason: String,
    },
    Deferral {
        campaign: String,
        until: Ts,
    },
    /// a journey step: `entered`, `waited 4h`, `email sent with code CART5-7KQ2`, `exited on purchase`
    Journey {
        journey: String,
        what: String,
    },
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
            ActionKind::Journey { journey, what } => format!("{journey}: {what}"),
        }
    }
}

/// A contact decoded without copying its text (the engine's bulk load):
/// the same serialized layout as [`Contact`], borrowing from the record.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContactView<'a> {
    pub id: u32,
    #[serde(borrow)]
    pub external_id: Option<&'a str>,
    #[serde(borrow)]
    pub email: Option<&'a str>,
    pub created_at: Ts,
    #[serde(borrow)]
    pub timezone: Option<&'a str>,
    pub score: i64,
    pub consent: [Option<Consent>; 3],
    pub unsubscribed_at: Option<Ts>,
    pub bounced_at: Option<Ts>,
    #[serde(borrow)]
    pub categories: Vec<&'a str>,
    #[serde(borrow)]
    pub attrs: Vec<(u16, AttrValueView<'a>)>,
}

/// [`AttrValue`] borrowing its text.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub enum AttrValueView<'a> {
    Number(super::Decimal),
    Text(&'a str),
    Bool(bool),
    Date(i32),
    Enum(u16),
    /// borrowed from a contact's values (`of`), owned when decoded
    Set(std::borrow::Cow<'a, [u16]>),
}

impl<'a> AttrValueView<'a> {
    pub fn of(v: &'a AttrValue) -> AttrValueView<'a> {
        match v {
            AttrValue::Number(d) => AttrValueView::Number(*d),
            AttrValue::Text(s) => AttrValueView::Text(s),
            AttrValue::Bool(b) => AttrValueView::Bool(*b),
            AttrValue::Date(d) => AttrValueView::Date(*d),
            AttrValue::Enum(e) => AttrValueView::Enum(*e),
            AttrValue::Set(s) => AttrValueView::Set(std::borrow::Cow::Borrowed(s)),
        }
    }
}

impl<'a> ContactView<'a> {
    /// Makes this the view of `c`, reusing its lists' room (a loop over
    /// many contacts of one slice allocates them once).
    pub fn refill(&mut self, c: &'a Contact) {
        let (mut categories, mut attrs) = (std::mem::take(&mut self.categories), std::mem::take(&mut self.attrs));
        categories.clear();
        categories.extend(c.categories.iter().map(compact_str::CompactString::as_str));
        attrs.clear();
        attrs.extend(c.attrs.iter().map(|(i, v)| (*i, AttrValueView::of(v))));
        *self = ContactView {
            id: c.id,
            external_id: c.external_id.as_deref(),
            email: c.email.as_deref(),
            created_at: c.created_at,
            timezone: c.timezone.as_deref(),
            score: c.score,
            consent: c.consent,
            unsubscribed_at: c.unsubscribed_at,
            bounced_at: c.bounced_at,
            categories,
            attrs,
        };
    }

    pub fn of(c: &'a Contact) -> ContactView<'a> {
        let mut v = ContactView::default();
        v.refill(c);
        v
    }
    pub fn attr(&self, idx: u16) -> Option<&AttrValueView<'a>> {
        find_attr(&self.attrs, idx)
    }
}

/// The value of attribute `idx` in `attrs` (sorted by index, each index
/// once). Attribute `idx` can only be at position `idx` or before it; it is
/// there when every attribute before it is set, as on most contacts of an
/// import, which then takes no search.
fn find_attr<V>(attrs: &[(u16, V)], idx: u16) -> Option<&V> {
    let end = attrs.len().min(idx as usize + 1);
    match attrs[..end].last() {
        Some((i, v)) if *i == idx => Some(v),
        _ => attrs[..end].binary_search_by_key(&idx, |(i, _)| *i).ok().map(|p| &attrs[p].1),
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;

    /// `find_attr` finds what a search finds, for every set of the first
    /// nine indexes and a far one.
    #[test]
    fn find_attr_is_a_search() {
        for set in 0u32..1 << 10 {
            let attrs: Vec<(u16, u32)> = (0..10u16)
                .filter(|b| set & 1 << b != 0)
                .map(|b| if b == 9 { 500 } else { b })
                .map(|i| (i, set))
                .collect();
            for idx in (0..12).chain([499, 500, 501, u16::MAX]) {
                let want = attrs.binary_search_by_key(&idx, |(i, _)| *i).ok().map(|p| &attrs[p].1);
                assert_eq!(find_attr(&attrs, idx), want, "{attrs:?} {idx}");
            }
        }
    }

    #[test]
    fn a_view_decodes_the_stored_bytes() {
        let c = Contact {
            id: 7,
            external_id: Some("00017".into()),
            email: None,
            created_at: 5,
            timezone: Some("Europe/Rome".into()),
            score: -3,
            consent: [Some(Consent { opted_in: true, at: 9 }), None, None],
            unsubscribed_at: None,
            bounced_at: Some(4),
            categories: vec!["running".into()],
            attrs: vec![(0, AttrValue::Text("Anna".into())), (3, AttrValue::Set(vec![1, 2]))],
        };
        let bytes = postcard::to_allocvec(&c).unwrap();
        let v: ContactView = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(format!("{:?}", v), format!("{:?}", ContactView::of(&c)));
    }

    /// A refilled view is the view of its last contact, whatever the one
    /// before it held.
    #[test]
    fn a_refilled_view_is_the_contacts_view() {
        let full = Contact {
            id: 1,
            email: Some("a@b.c".into()),
            categories: vec!["running".into(), "yoga".into()],
            attrs: vec![(0, AttrValue::Text("Anna".into())), (3, AttrValue::Set(vec![1, 2]))],
            ..Default::default()
        };
        let bare = Contact { id: 2, external_id: Some("x".into()), score: 4, ..Default::default() };
        let list = [full.clone(), bare, full];
        let mut v = ContactView::default();
        for c in &list {
            v.refill(c);
            assert_eq!(format!("{:?}", v), format!("{:?}", ContactView::of(c)));
        }
    }

    /// The byte-wise check agrees with the check by characters.
    #[test]
    fn emails_look_alike_by_bytes_and_by_characters() {
        for s in [
            "a@b.c",
            " a@b.c ",
            "@b.c",
            "a@b",
            "a@@b.c",
            "a@b@c.d",
            "a.b@c",
            "a b@c.d",
            "a@b.c\t",
            "a\u{b}@b.c",
            "a\u{c}@b.c",
            "a\r@b.c",
            "a@.",
            "a@b.",
            "",
            "@",
            "a@",
            "ab.c",
            "è@b.c",
            "a@b.c\u{a0}x",
            "a\u{2003}b@c.d",
            "a@b\u{3002}c",
            "K2@example.COM",
            "\u{b}a@b.c\u{b}",
        ] {
            assert_eq!(looks_like_email(s), looks_like_email_chars(s.trim()), "{s:?}");
        }
    }
}
