//! The do-not-disturb policy: its types, the spec's default and `to_toml`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::channel::{CapChannel, Channel, Priority};
use super::quiet::QuietRange;
use super::window::{Window, WindowUnit};

/// What to do with a message whose send time falls in quiet hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnQuiet {
    /// Move it to the end of the quiet period, then decide again from rule 1.
    #[default]
    Defer,
    /// Suppress it as `quiet_hours`.
    Drop,
}

impl OnQuiet {
    pub fn as_str(self) -> &'static str {
        match self {
            OnQuiet::Defer => "defer",
            OnQuiet::Drop => "drop",
        }
    }
}

/// One `[[caps]]` entry: at most `max` messages on `channel` per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cap {
    pub channel: CapChannel,
    /// At least 1.
    pub max: u32,
    #[serde(with = "as_string")]
    pub per: Window,
    /// Count the contact's local calendar day / ISO week (Monday start) /
    /// month instead of a rolling window; only with `per` of 1d, 1w, 1mo.
    #[serde(default)]
    pub calendar: bool,
}

impl Cap {
    /// Whether a send at `x` falls in this cap's window anchored at
    /// `anchor` (see [`Window::contains`]); `tz` is the contact's zone.
    pub fn window_contains(
        &self,
        anchor: chrono::DateTime<chrono::Utc>,
        x: chrono::DateTime<chrono::Utc>,
        tz: Tz,
    ) -> bool {
        self.per.contains(self.calendar, anchor, x, tz)
    }
}

impl fmt::Display for Cap {
    /// `email 1/1d`, `any 5/7d`, `email 1/1d calendar`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.channel, self.max, self.per)?;
        if self.calendar {
            f.write_str(" calendar")?;
        }
        Ok(())
    }
}

/// What a priority may skip. Every priority not listed in the policy gets
/// `PriorityRules::default()`: no bypass, and its messages count.
///
/// `counts_toward_caps` (default **true**): the spec's "priority with
/// `counts_toward_caps = false` (off by default)" is read as: the exemption
/// is off by default, so every message counts, critical ones included,
/// unless its priority sets `counts_toward_caps = false`. Messages of such a
/// priority are never counted in anyone's window (nor do they consume a
/// slot that rule 4 protects), but unless the priority also has
/// `bypass_caps` they are still only sent when their window has a free slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct PriorityRules {
    pub bypass_caps: bool,
    pub bypass_quiet_hours: bool,
    pub counts_toward_caps: bool,
}

impl Default for PriorityRules {
    fn default() -> Self {
        PriorityRules { bypass_caps: false, bypass_quiet_hours: false, counts_toward_caps: true }
    }
}

/// A validated do-not-disturb policy.
///
/// Files are read with [`parse_policy`](super::parse_policy) (every error
/// as `file:line: reason`). The serde impls are for storing a policy that
/// was already validated (JSON, postcard): they check each field's own
/// syntax but not the cross-field rules that `parse_policy` enforces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// For contacts without a timezone.
    #[serde(with = "tz_string")]
    pub timezone: Tz,
    /// Per channel, non-overlapping local ranges; a channel absent here has
    /// no quiet hours.
    pub quiet_hours: BTreeMap<Channel, Vec<QuietRange>>,
    pub on_quiet: OnQuiet,
    /// In file order; when several are exceeded the first is reported.
    pub caps: Vec<Cap>,
    /// Only the priorities the file lists; see [`Policy::rules`].
    pub priorities: BTreeMap<Priority, PriorityRules>,
}

impl Policy {
    /// The rules of a priority (the defaults if the policy does not list it).
    pub fn rules(&self, p: Priority) -> PriorityRules {
        self.priorities.get(&p).copied().unwrap_or_default()
    }

    /// The quiet ranges of a channel (empty if none).
    pub fn quiet_ranges(&self, c: Channel) -> &[QuietRange] {
        self.quiet_hours.get(&c).map_or(&[], Vec::as_slice)
    }

    /// The caps that limit and count messages on `c` (its own and `any`).
    pub fn caps_for(&self, c: Channel) -> impl Iterator<Item = &Cap> {
        self.caps.iter().filter(move |cap| cap.channel.covers(c))
    }

    /// The policy as a TOML file in the spec's layout; `parse_policy` of it
    /// gives back an equal `Policy`.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        // `write!` to a String cannot fail.
        let _ = writeln!(s, "timezone = \"{}\"", self.timezone.name());
        let _ = writeln!(s, "\n[quiet_hours]");
        for (ch, ranges) in &self.quiet_hours {
            let quoted: Vec<String> = ranges.iter().map(|r| format!("\"{r}\"")).collect();
            if let [one] = quoted.as_slice() {
                let _ = writeln!(s, "{ch} = {one}");
            } else {
                let _ = writeln!(s, "{ch} = [{}]", quoted.join(", "));
            }
        }
        let _ = writeln!(s, "on_quiet = \"{}\"", self.on_quiet.as_str());
        for cap in &self.caps {
            let _ = writeln!(s, "\n[[caps]]");
            let _ = writeln!(s, "channel = \"{}\"", cap.channel);
            let _ = writeln!(s, "max = {}", cap.max);
            let _ = writeln!(s, "per = \"{}\"", cap.per);
            if cap.calendar {
                let _ = writeln!(s, "calendar = true");
            }
        }
        for p in Priority::ALL {
            if let Some(r) = self.priorities.get(&p) {
                let _ = writeln!(s, "\n[priorities.{p}]");
                let _ = writeln!(s, "bypass_caps = {}", r.bypass_caps);
                let _ = writeln!(s, "bypass_quiet_hours = {}", r.bypass_quiet_hours);
                let _ = writeln!(s, "counts_toward_caps = {}", r.counts_toward_caps);
            }
        }
        s
    }
}

impl Default for Policy {
    /// Exactly the example of the spec (docs: campaigns.md, "DND policy").
    fn default() -> Self {
        let q = |s: &str| vec![s.parse::<QuietRange>().expect("valid default range")];
        let cap = |channel, max, count, unit| Cap { channel, max, per: Window::new(count, unit), calendar: false };
        Policy {
            timezone: chrono_tz::Europe::Rome,
            quiet_hours: BTreeMap::from([
                (Channel::Email, q("22:00-08:00")),
                (Channel::Sms, q("20:00-09:00")),
                (Channel::Push, q("21:00-09:00")),
            ]),
            on_quiet: OnQuiet::Defer,
            caps: vec![
                cap(CapChannel::Email, 1, 1, WindowUnit::Days),
                cap(CapChannel::Email, 3, 7, WindowUnit::Days),
                cap(CapChannel::Any, 5, 7, WindowUnit::Days),
            ],
            priorities: BTreeMap::from([(
                Priority::Critical,
                PriorityRules { bypass_caps: true, bypass_quiet_hours: false, counts_toward_caps: true },
            )]),
        }
    }
}

impl Serialize for QuietRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QuietRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// serde as a string through `Display`/`FromStr`.
mod as_string {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// serde of a `Tz` as its IANA name.
mod tz_string {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(|_| serde::de::Error::custom(format!("unknown timezone `{name}`")))
    }
}
