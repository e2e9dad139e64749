//! Reading a policy file into a [`Policy`], every error as `file:line: reason`.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::channel::{CapChannel, Channel, Priority};
use super::policy::{Cap, OnQuiet, Policy, PriorityRules};
use super::quiet::QuietRange;
use super::window::Window;

/// A policy file that cannot be used; `Display` is `file:line: reason`
/// (lines count from 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// Parses and validates a policy file. `file_name` is only used in errors.
///
/// Accepted beyond the spec's example: a channel's quiet hours may be an
/// array of ranges (`email = ["12:00-14:00", "22:00-08:00"]`), which must
/// not overlap (touching is fine); `on_quiet` may be written inside
/// `[quiet_hours]` (as in the spec's example) or at the top level, not both.
/// A missing `[quiet_hours]`, `[[caps]]` or `[priorities]` means none;
/// `timezone` is required; `on_quiet` defaults to `defer`.
pub fn parse_policy(text: &str, file_name: &str) -> Result<Policy, PolicyError> {
    let err = |span: Option<Range<usize>>, reason: String| PolicyError {
        file: file_name.to_string(),
        line: span.map_or(1, |s| line_of(text, s.start)),
        reason,
    };
    let doc: PolicyDoc = toml::from_str(text).map_err(|e| err(e.span(), e.message().trim().to_string()))?;
    validate(doc).map_err(|(span, reason)| err(Some(span), reason))
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

type Bad = (Range<usize>, String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    timezone: Spanned<String>,
    #[serde(default)]
    quiet_hours: BTreeMap<Spanned<String>, Spanned<QuietValue>>,
    on_quiet: Option<Spanned<String>>,
    #[serde(default)]
    caps: Vec<Spanned<CapDoc>>,
    #[serde(default)]
    priorities: BTreeMap<Spanned<String>, Spanned<PriorityDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapDoc {
    channel: Spanned<String>,
    max: Spanned<i64>,
    per: Spanned<String>,
    calendar: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityDoc {
    bypass_caps: Option<bool>,
    bypass_quiet_hours: Option<bool>,
    counts_toward_caps: Option<bool>,
}

/// A quiet-hours value: one string or an array of strings (with spans).
enum QuietValue {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for QuietValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = QuietValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a range \"HH:MM-HH:MM\" or an array of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<QuietValue, E> {
                Ok(QuietValue::One(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<QuietValue, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<Spanned<String>>()? {
                    v.push(s);
                }
                Ok(QuietValue::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Map entries in file order, so the first error reported is the first in
/// the file.
fn in_file_order<V>(m: BTreeMap<Spanned<String>, V>) -> Vec<(Spanned<String>, V)> {
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

fn on_quiet(s: &Spanned<String>) -> Result<OnQuiet, Bad> {
    match s.get_ref().as_str() {
        "defer" => Ok(OnQuiet::Defer),
        "drop" => Ok(OnQuiet::Drop),
        other => Err((s.span(), format!("on_quiet must be \"defer\" or \"drop\" (got `{other}`)"))),
    }
}

fn validate(doc: PolicyDoc) -> Result<Policy, Bad> {
    let tz_name = &doc.timezone;
    let timezone = tz_name.get_ref().parse().map_err(|_| {
        (
            tz_name.span(),
            format!("unknown timezone `{}` (expected an IANA name such as Europe/Rome)", tz_name.get_ref()),
        )
    })?;

    let mut on_quiet_at = doc.on_quiet;
    let mut quiet_hours = BTreeMap::new();
    for (key, value) in in_file_order(doc.quiet_hours) {
        let span = value.span();
        if key.get_ref() == "on_quiet" {
            let QuietValue::One(s) = value.into_inner() else {
                return Err((span, "on_quiet must be \"defer\" or \"drop\"".into()));
            };
            if on_quiet_at.is_some() {
                return Err((key.span(), "on_quiet is given twice".into()));
            }
            on_quiet_at = Some(Spanned::new(span, s));
            continue;
        }
        let channel: Channel =
            key.get_ref().parse().map_err(|why: String| (key.span(), format!("quiet_hours: {why}")))?;
        let items = match value.into_inner() {
            QuietValue::One(s) => vec![Spanned::new(span.clone(), s)],
            QuietValue::Many(v) => v,
        };
        if items.is_empty() {
            return Err((span, format!("quiet_hours.{channel}: empty array (leave the channel out instead)")));
        }
        let mut ranges: Vec<QuietRange> = Vec::new();
        for item in items {
            let r: QuietRange =
                item.get_ref().parse().map_err(|why| (item.span(), format!("quiet_hours.{channel}: {why}")))?;
            if let Some(prev) = ranges.iter().find(|p| p.overlaps(r)) {
                return Err((item.span(), format!("quiet_hours.{channel}: `{r}` overlaps `{prev}`")));
            }
            ranges.push(r);
        }
        if ranges.iter().map(|r| r.minutes()).sum::<u32>() >= 24 * 60 {
            return Err((
                span,
                format!("quiet_hours.{channel}: the ranges cover the whole day, so nothing could ever be sent"),
            ));
        }
        quiet_hours.insert(channel, ranges);
    }
    let on_quiet = on_quiet_at.as_ref().map_or(Ok(OnQuiet::Defer), on_quiet)?;

    let mut caps = Vec::new();
    for cap in doc.caps {
        let cap = cap.into_inner();
        let channel: CapChannel =
            cap.channel.get_ref().parse().map_err(|why: String| (cap.channel.span(), format!("cap: {why}")))?;
        let max = *cap.max.get_ref();
        let max = u32::try_from(max)
            .ok()
            .filter(|&m| m >= 1)
            .ok_or_else(|| (cap.max.span(), format!("cap: max must be at least 1 (got {max})")))?;
        let per: Window =
            cap.per.get_ref().parse().map_err(|why: String| (cap.per.span(), format!("cap: per {why}")))?;
        let calendar = cap.calendar.as_ref().is_some_and(|c| *c.get_ref());
        if calendar && !per.is_calendar_unit() {
            return Err((cap.per.span(), format!("cap: a calendar cap needs per = 1d, 1w or 1mo (got `{per}`)")));
        }
        caps.push(Cap { channel, max, per, calendar });
    }

    let mut priorities = BTreeMap::new();
    for (key, rules) in in_file_order(doc.priorities) {
        let p: Priority = key.get_ref().parse().map_err(|why: String| (key.span(), format!("priorities: {why}")))?;
        let r = rules.into_inner();
        let d = PriorityRules::default();
        priorities.insert(
            p,
            PriorityRules {
                bypass_caps: r.bypass_caps.unwrap_or(d.bypass_caps),
                bypass_quiet_hours: r.bypass_quiet_hours.unwrap_or(d.bypass_quiet_hours),
                counts_toward_caps: r.counts_toward_caps.unwrap_or(d.counts_toward_caps),
            },
        );
    }

    Ok(Policy { timezone, quiet_hours, on_quiet, caps, priorities })
}

#[cfg(test)]
#[path = "policy_file_tests.rs"]
mod tests;

/// The policy stored in the database, or the spec's default when none was set.
pub fn stored_policy(r: &crate::store::Reader) -> crate::error::Result<Policy> {
    match r.policy_text()? {
        Some(text) => parse_policy(&text, "stored policy")
            .map_err(|e| crate::error::Error::runtime(format!("stored policy is invalid: {e}"))),
        None => Ok(Policy::default()),
    }
}
