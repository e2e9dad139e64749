//! The small vocabularies of campaigns: channels, cap scopes and priorities.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A delivery channel: the model's (consent is indexed by it too).
pub use crate::model::Channel;

/// What a cap counts: one channel, or every channel together (`any`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CapChannel {
    Email,
    Sms,
    Push,
    Any,
}

impl CapChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            CapChannel::Email => "email",
            CapChannel::Sms => "sms",
            CapChannel::Push => "push",
            CapChannel::Any => "any",
        }
    }

    /// Whether a message on `channel` is counted by (and limited by) this cap.
    pub fn covers(self, channel: Channel) -> bool {
        match self {
            CapChannel::Any => true,
            CapChannel::Email => channel == Channel::Email,
            CapChannel::Sms => channel == Channel::Sms,
            CapChannel::Push => channel == Channel::Push,
        }
    }
}

impl From<Channel> for CapChannel {
    fn from(c: Channel) -> Self {
        match c {
            Channel::Email => CapChannel::Email,
            Channel::Sms => CapChannel::Sms,
            Channel::Push => CapChannel::Push,
        }
    }
}

impl fmt::Display for CapChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CapChannel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "any" => Ok(CapChannel::Any),
            _ => s
                .parse::<Channel>()
                .map(CapChannel::from)
                .map_err(|_| format!("unknown channel `{s}` (expected email, sms, push or any)")),
        }
    }
}

/// A campaign priority. `Ord` follows importance: `Critical` is the greatest,
/// so `Priority::Critical > Priority::Low`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

impl Priority {
    /// Highest first.
    pub const ALL: [Priority; 4] = [Priority::Critical, Priority::High, Priority::Normal, Priority::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "critical" => Ok(Priority::Critical),
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            "low" => Ok(Priority::Low),
            _ => Err(format!("unknown priority `{s}` (expected critical, high, normal or low)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_is_the_highest_priority() {
        assert!(Priority::Critical > Priority::High);
        assert!(Priority::High > Priority::Normal);
        assert!(Priority::Normal > Priority::Low);
        let mut v = vec![Priority::Normal, Priority::Critical, Priority::Low, Priority::High];
        v.sort_by(|a, b| b.cmp(a));
        assert_eq!(v, Priority::ALL);
    }

    #[test]
    fn any_covers_every_channel_and_a_channel_only_itself() {
        for c in Channel::ALL {
            assert!(CapChannel::Any.covers(c));
            assert!(CapChannel::from(c).covers(c));
        }
        assert!(!CapChannel::Email.covers(Channel::Sms));
        assert_eq!("any".parse::<CapChannel>(), Ok(CapChannel::Any));
        assert!("any".parse::<Channel>().is_err());
    }
}
