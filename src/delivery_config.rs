//! The `[delivery]` section of the configuration file: which adapter each
//! channel uses, and how transient failures are retried.
//!
//! ```toml
//! [delivery]
//! tries = 3              # attempts per message on a transient failure (smtp, webhook)
//! backoff_ms = 500       # delay before the 2nd attempt, doubled each time …
//! max_backoff_ms = 30000 # … up to this
//!
//! [delivery.email]       # default: adapter = "maildir", path = "outbox/email"
//! adapter = "smtp"
//! host = "smtp.example.com"
//! port = 587             # default: 25 (tls = "none"), 587 (starttls), 465 (tls)
//! tls = "starttls"       # "none" | "starttls" | "tls"
//! user = "reach"         # optional; else $REACH_SMTP_USER
//! password = "…"         # optional; else $REACH_SMTP_PASSWORD
//! from = "Shop <news@shop.example>"
//! timeout_ms = 10000
//!
//! [delivery.sms]         # default: adapter = "jsonl", path = "outbox/sms.jsonl"
//! adapter = "webhook"
//! url = "https://sms-gateway.example/send"
//! timeout_ms = 10000
//!
//! [delivery.push]        # default: adapter = "jsonl", path = "outbox/push.jsonl"
//! adapter = "jsonl"
//! path = "/var/spool/reach/push.jsonl"   # relative paths are under the database's folder
//! ```
//!
//! Adapters: `maildir` (email only), `jsonl`, `smtp` (email only),
//! `webhook`. SMTP treats 4xx replies and connection errors as transient
//! (retried) and 5xx as permanent (the delivery is recorded `failed`);
//! the webhook retries on 5xx, 408, 429 and connection errors, and a
//! other non-2xx status is permanent.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Channel;

/// `[delivery]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts per message when the failure is transient (at least 1).
    pub tries: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub backoff_ms: u64,
    /// The longest delay between two attempts.
    pub max_backoff_ms: u64,
    pub email: AdapterConfig,
    pub sms: AdapterConfig,
    pub push: AdapterConfig,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            tries: 3,
            backoff_ms: 500,
            max_backoff_ms: 30_000,
            email: AdapterConfig::Maildir { path: None },
            sms: AdapterConfig::Jsonl { path: None },
            push: AdapterConfig::Jsonl { path: None },
        }
    }
}

/// One channel's adapter (`adapter = "…"` plus that adapter's settings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "adapter", rename_all = "lowercase", deny_unknown_fields)]
pub enum AdapterConfig {
    /// A Maildir folder (email); default `outbox/email`.
    Maildir {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// One JSON object per line, appended; default `outbox/CHANNEL.jsonl`.
    Jsonl {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// An SMTP server (email).
    Smtp(SmtpConfig),
    /// An HTTP POST per message.
    Webhook(WebhookConfig),
}

impl AdapterConfig {
    pub fn name(&self) -> &'static str {
        match self {
            AdapterConfig::Maildir { .. } => "maildir",
            AdapterConfig::Jsonl { .. } => "jsonl",
            AdapterConfig::Smtp(_) => "smtp",
            AdapterConfig::Webhook(_) => "webhook",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on loopback or a private network).
    None,
    /// Plain connection upgraded with STARTTLS (required).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTls,
    /// Else `$REACH_SMTP_USER`; no user, no authentication.
    #[serde(default)]
    pub user: Option<String>,
    /// Else `$REACH_SMTP_PASSWORD`.
    #[serde(default)]
    pub password: Option<String>,
    /// The `From` header and envelope sender.
    #[serde(default = "default_from")]
    pub from: String,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://`.
    pub url: String,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

pub const DEFAULT_FROM: &str = "reach <noreply@reach.invalid>";

fn default_from() -> String {
    DEFAULT_FROM.to_string()
}

fn default_timeout() -> u64 {
    10_000
}

/// The address inside `Name <addr>` (or the whole text).
pub fn bare_address(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => from[a + 1..b].trim(),
        _ => from.trim(),
    }
}

impl DeliveryConfig {
    pub fn channel(&self, c: Channel) -> &AdapterConfig {
        match c {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Push => &self.push,
        }
    }

    /// Checks what serde cannot; `text` and `name` locate the error.
    pub fn validate(&self, text: &str, name: &str) -> Result<()> {
        let at =
            |table: &str, key: &str, why: String| Error::input(format!("{name}:{}: {why}", key_line(text, table, key)));
        if self.tries == 0 || self.tries > 20 {
            return Err(at("delivery", "tries", format!("tries must be between 1 and 20, not {}", self.tries)));
        }
        if self.backoff_ms > self.max_backoff_ms {
            return Err(at("delivery", "max_backoff_ms", "backoff_ms is larger than max_backoff_ms".into()));
        }
        for ch in Channel::ALL {
            let table = format!("delivery.{ch}");
            let a = self.channel(ch);
            match a {
                AdapterConfig::Maildir { .. } | AdapterConfig::Smtp(_) if ch != Channel::Email => {
                    return Err(at(&table, "adapter", format!("adapter `{}` delivers email only, not {ch}", a.name())));
                }
                AdapterConfig::Smtp(s) => {
                    if s.host.trim().is_empty() {
                        return Err(at(&table, "host", "smtp host is empty".into()));
                    }
                    if s.port == Some(0) {
                        return Err(at(&table, "port", "smtp port 0".into()));
                    }
                    let addr = bare_address(&s.from);
                    if addr.parse::<lettre::Address>().is_err() {
                        return Err(at(&table, "from", format!("`{}` is not an email address", s.from)));
                    }
                    if s.password.is_some() && s.user.is_none() {
                        return Err(at(&table, "password", "password without user".into()));
                    }
                }
                AdapterConfig::Webhook(w) => {
                    let ok = ["http://", "https://"].iter().any(|p| {
                        w.url.len() > p.len() && w.url.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p))
                    });
                    if !ok {
                        return Err(at(&table, "url", format!("webhook url `{}` is not http:// or https://", w.url)));
                    }
                }
                AdapterConfig::Maildir { path } | AdapterConfig::Jsonl { path } => {
                    if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
                        return Err(at(&table, "path", "empty path".into()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The line of `key` inside `[table]` (else the table's header, else 1).
fn key_line(text: &str, table: &str, key: &str) -> usize {
    let mut current = String::new();
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(h) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = h.trim().trim_start_matches('[').to_string();
            if current == table {
                header = Some(i + 1);
            }
            continue;
        }
        let k = l.split('=').next().unwrap_or("").trim();
        if current == table && k == key {
            return i + 1;
        }
        // dotted keys: `email.url = …` under [delivery], or at the top level
        if !current.is_empty() && format!("{current}.{k}") == format!("{table}.{key}") {
            return i + 1;
        }
        if current.is_empty() && k == format!("{table}.{key}") {
            return i + 1;
        }
    }
    header.unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn defaults_and_each_adapter_parse() {
        let d = Config::parse("", "c.toml").unwrap().delivery;
        assert_eq!(d, DeliveryConfig::default());
        assert_eq!((d.email.name(), d.sms.name(), d.push.name()), ("maildir", "jsonl", "jsonl"));
        let c = Config::parse(
            "[delivery]\ntries = 5\n[delivery.email]\nadapter = \"smtp\"\nhost = \"mx\"\ntls = \"tls\"\n\
             [delivery.sms]\nadapter = \"webhook\"\nurl = \"https://h/x\"\n\
             [delivery.push]\nadapter = \"jsonl\"\npath = \"p.jsonl\"\n",
            "c.toml",
        )
        .unwrap()
        .delivery;
        assert_eq!(c.tries, 5);
        let AdapterConfig::Smtp(s) = &c.email else { panic!("{c:?}") };
        assert_eq!((s.host.as_str(), s.port(), s.tls, s.from.as_str()), ("mx", 465, SmtpTls::Tls, DEFAULT_FROM));
        assert_eq!(c.sms, AdapterConfig::Webhook(WebhookConfig { url: "https://h/x".into(), timeout_ms: 10_000 }));
        assert_eq!(c.push, AdapterConfig::Jsonl { path: Some("p.jsonl".into()) });
    }

    #[test]
    fn refusals_name_the_line() {
        for (text, want) in [
            ("[delivery.email]\nadapter = \"pigeon\"\n", "c.toml:"),
            ("[delivery]\nmax_backoff_ms = 1\n", "c.toml:2: backoff_ms"),
            ("[delivery.push]\nadapter = \"maildir\"\n", "c.toml:2: adapter `maildir` delivers email only"),
            ("[delivery.email]\nadapter = \"smtp\"\nhost = \"h\"\nfrom = \"nobody\"\n", "c.toml:4: `nobody`"),
            ("[delivery.email]\nadapter = \"smtp\"\nhost = \"h\"\npassword = \"p\"\n", "c.toml:4: password"),
        ] {
            let e = Config::parse(text, "c.toml").unwrap_err();
            assert!(e.message.starts_with(want), "{text}: {}", e.message);
            assert_eq!(e.exit_code(), 2);
        }
        assert_eq!(bare_address("Shop <a@b.it>"), "a@b.it");
    }
}
