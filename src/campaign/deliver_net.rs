//! The network adapters: `smtp` (through lettre) and `webhook` (an HTTP
//! POST per message, through ureq). Neither destination can be asked
//! whether it already holds a key, so each keeps a journal beside the
//! outbox (`outbox/CHANNEL.ADAPTER.log`, one `KEY\tsent` or
//! `KEY\tfailed\tREASON` line per message, written as soon as the server
//! answers and fsynced at flush): a replay after a crash skips what the
//! journal holds. The one window left is a kill between the server's
//! acceptance and the journal write; the message then goes out again with
//! the same key (`Message-ID` / `Idempotency-Key`), which receivers use
//! to drop the duplicate.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, SmtpTransport, Transport};
use serde_json::json;

use super::deliver::{OutMessage, Outcome, mkdir, read_journal, write_rfc5322};
use crate::delivery_config::{SmtpConfig, SmtpTls, WebhookConfig, bare_address};
use crate::error::{Error, Result};
use crate::model::time::format_ts;

/// Bounded retries with exponential backoff.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub tries: u32,
    pub backoff: Duration,
    pub max: Duration,
}

/// The result of one attempt.
pub enum Attempt {
    Done,
    Permanent(String),
    Transient(String),
}

impl Retry {
    /// Runs `f` until it is done, fails for good, or `tries` transient
    /// failures happened (then `Err`, naming `what`).
    pub fn run(&self, what: &str, mut f: impl FnMut() -> Attempt) -> Result<Outcome> {
        let mut delay = self.backoff;
        let mut last = String::new();
        for i in 1..=self.tries {
            match f() {
                Attempt::Done => return Ok(Outcome::Delivered),
                Attempt::Permanent(r) => return Ok(Outcome::Failed(r)),
                Attempt::Transient(r) => last = r,
            }
            if i < self.tries {
                std::thread::sleep(delay);
                delay = (delay * 2).min(self.max);
            }
        }
        Err(Error::runtime(format!("{what}: {last} (gave up after {} tries; the message stays pending)", self.tries)))
    }
}

/// The journal of keys a network adapter is done with.
pub struct SentLog {
    path: PathBuf,
    file: Option<File>,
    /// key → None (sent) or Some(reason) (failed)
    done: HashMap<String, Option<String>>,
}

impl SentLog {
    pub fn open(path: &Path) -> Result<SentLog> {
        if let Some(p) = path.parent() {
            mkdir(p)?;
        }
        let mut done = HashMap::new();
        for line in read_journal(path)?.lines() {
            let mut p = line.splitn(3, '\t');
            match (p.next(), p.next(), p.next()) {
                (Some(k), Some("sent"), _) => {
                    done.insert(k.to_string(), None);
                }
                (Some(k), Some("failed"), r) => {
                    done.insert(k.to_string(), Some(r.unwrap_or("").to_string()));
                }
                _ => {}
            }
        }
        Ok(SentLog { path: path.to_path_buf(), file: None, done })
    }

    /// What became of `key` before, if anything.
    pub fn get(&self, key: &str) -> Option<Outcome> {
        self.done.get(key).map(|r| match r {
            None => Outcome::Duplicate,
            Some(r) => Outcome::Failed(r.clone()),
        })
    }

    /// Appends the outcome of `key` (one write, so a kill cannot tear it).
    pub fn record(&mut self, key: &str, o: &Outcome) -> Result<()> {
        let reason = match o {
            Outcome::Failed(r) => Some(r.replace(['\t', '\r', '\n'], " ")),
            _ => None,
        };
        let line = match &reason {
            None => format!("{key}\tsent\n"),
            Some(r) => format!("{key}\tfailed\t{r}\n"),
        };
        if self.file.is_none() {
            let f = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&self.path)
                .map_err(|e| Error::runtime(format!("{}: {e}", self.path.display())))?;
            self.file = Some(f);
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(line.as_bytes())?;
        }
        self.done.insert(key.to_string(), reason);
        Ok(())
    }

    pub fn sync(&mut self) -> Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.sync_data()?;
        }
        Ok(())
    }
}

/// Email through an SMTP server.
pub struct Smtp {
    transport: SmtpTransport,
    from: String,
    sender: Address,
    retry: Retry,
    log: SentLog,
    buf: String,
    server: String,
}

impl Smtp {
    pub fn open(c: &SmtpConfig, retry: Retry, log: SentLog) -> Result<Smtp> {
        let bad = |e: &dyn std::fmt::Display| Error::input(format!("smtp {}: {e}", c.host));
        let sender: Address = bare_address(&c.from).parse().map_err(|e| bad(&e))?;
        let mut b = SmtpTransport::builder_dangerous(c.host.as_str())
            .port(c.port())
            .timeout(Some(Duration::from_millis(c.timeout_ms)));
        b = match c.tls {
            SmtpTls::None => b.tls(Tls::None),
            SmtpTls::Starttls => b.tls(Tls::Required(TlsParameters::new(c.host.clone()).map_err(|e| bad(&e))?)),
            SmtpTls::Tls => b.tls(Tls::Wrapper(TlsParameters::new(c.host.clone()).map_err(|e| bad(&e))?)),
        };
        let user = c.user.clone().or_else(|| std::env::var("REACH_SMTP_USER").ok().filter(|u| !u.is_empty()));
        if let Some(user) = user {
            let password = c.password.clone().or_else(|| std::env::var("REACH_SMTP_PASSWORD").ok()).unwrap_or_default();
            b = b.credentials(Credentials::new(user, password));
        }
        Ok(Smtp {
            transport: b.build(),
            from: c.from.clone(),
            sender,
            retry,
            log,
            buf: String::new(),
            server: format!("smtp {}:{}", c.host, c.port()),
        })
    }
}

impl super::deliver::Adapter for Smtp {
    fn deliver(&mut self, m: &OutMessage) -> Result<Outcome> {
        if let Some(o) = self.log.get(&m.key) {
            return Ok(o);
        }
        let outcome = match m.to.parse::<Address>() {
            Err(e) => Outcome::Failed(format!("bad address `{}`: {e}", m.to)),
            Ok(to) => {
                let envelope =
                    Envelope::new(Some(self.sender.clone()), vec![to]).map_err(|e| Error::runtime(e.to_string()))?;
                self.buf.clear();
                write_rfc5322(&mut self.buf, m, &self.from);
                let (transport, raw) = (&self.transport, self.buf.as_bytes());
                self.retry.run(&self.server, || match transport.send_raw(&envelope, raw) {
                    Ok(_) => Attempt::Done,
                    Err(e) if e.is_permanent() => Attempt::Permanent(smtp_reason(&e)),
                    Err(e) => Attempt::Transient(smtp_reason(&e)),
                })?
            }
        };
        self.log.record(&m.key, &outcome)?;
        Ok(outcome)
    }

    fn flush(&mut self) -> Result<()> {
        self.log.sync()
    }
}

fn smtp_reason(e: &lettre::transport::smtp::Error) -> String {
    let mut s = match e.status() {
        Some(code) => format!("smtp {code}: {e}"),
        None => format!("smtp: {e}"),
    };
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s.replace(['\r', '\n'], " ")
}

/// An HTTP POST per message.
pub struct Webhook {
    agent: ureq::Agent,
    url: String,
    retry: Retry,
    log: SentLog,
}

impl Webhook {
    pub fn open(c: &WebhookConfig, retry: Retry, log: SentLog) -> Webhook {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(c.timeout_ms)))
            .build()
            .into();
        Webhook { agent, url: c.url.clone(), retry, log }
    }
}

impl super::deliver::Adapter for Webhook {
    fn deliver(&mut self, m: &OutMessage) -> Result<Outcome> {
        if let Some(o) = self.log.get(&m.key) {
            return Ok(o);
        }
        let body = json!({
            "key": m.key, "campaign": m.campaign, "channel": m.channel.as_str(), "contact": m.contact,
            "to": m.to, "subject": m.subject, "body": m.body, "at": format_ts(m.at),
        })
        .to_string();
        let (agent, url) = (&self.agent, self.url.as_str());
        let outcome = self.retry.run(&format!("webhook {url}"), || {
            let r = agent
                .post(url)
                .header("Idempotency-Key", m.key.as_str())
                .header("Content-Type", "application/json")
                .send(body.as_bytes());
            match r {
                Err(e) => Attempt::Transient(format!("http: {e}")),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // read the answer so the connection can be reused
                    let _ = resp.into_body().read_to_vec();
                    match status {
                        200..=299 => Attempt::Done,
                        408 | 425 | 429 | 500..=599 => Attempt::Transient(format!("http {status}")),
                        _ => Attempt::Permanent(format!("http {status}")),
                    }
                }
            }
        })?;
        self.log.record(&m.key, &outcome)?;
        Ok(outcome)
    }

    fn flush(&mut self) -> Result<()> {
        self.log.sync()
    }
}
