//! Delivery adapters behind one trait. Both built-in adapters are
//! idempotent by the message's key (`campaign:run:contact`): delivering a
//! key that is already in the output does nothing, which is what makes a
//! restart after a crash safe (see `run`: pending records are delivered
//! again and the adapter skips what already reached it).
//!
//! - `maildir` (email): `outbox/email/{tmp,new,cur}`, one RFC 5322 file
//!   per message named after the key (`:` → `.`), appearing in `new/`
//!   complete or not at all (written in `tmp/` and renamed); directories
//!   0700, files 0600; on up to 4 threads.
//! - `jsonl` (sms, push): `outbox/sms.jsonl`, `outbox/push.jsonl`, one JSON
//!   object per line; the keys already in the file are read at open, and a
//!   torn last line (a crash in the middle of a write) is cut off.
//!
//! - `smtp`, `webhook`: see [`super::deliver_net`]; idempotent through a
//!   journal of the keys they are done with.
//!
//! Durability: files are flushed (and the JSONL file fsynced) before the
//! caller marks messages `sent`; Maildir files are not fsynced one by one,
//! so a kill -9 cannot lose one but a power cut might.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::DateTime;

use super::channel::Channel;
pub use super::deliver_net::{Retry, SentLog, Smtp, Webhook};
use crate::delivery_config::{AdapterConfig, DEFAULT_FROM, DeliveryConfig};
use crate::error::{Error, Result};
use crate::model::time::{Ts, format_ts};

/// A rendered message ready for an adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutMessage {
    pub key: String,
    pub campaign: String,
    pub channel: Channel,
    pub contact: u32,
    /// Email address, phone, or push target (external id, else `#id`).
    pub to: String,
    pub subject: String,
    pub body: String,
    pub at: Ts,
    pub unsubscribe_url: String,
}

/// What became of one message handed to an adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It reached the adapter's destination now.
    Delivered,
    /// Its key had already reached it (a replay): nothing was done.
    Duplicate,
    /// Refused for good (an SMTP 5xx, an HTTP 4xx, a bad address): recorded
    /// `failed(reason)` on the delivery and never retried.
    Failed(String),
}

/// Where messages go. `Err` from [`Adapter::deliver`] is a transient
/// failure that outlasted the retries: the message stays `pending` and is
/// delivered again when the scheduler next starts.
pub trait Adapter {
    /// Hands one message over; a key already delivered is skipped.
    fn deliver(&mut self, m: &OutMessage) -> Result<Outcome>;
    /// Makes everything delivered so far durable.
    fn flush(&mut self) -> Result<()>;
    /// Hands over many messages: one result per message, in order, up to
    /// the first `Err` (the rest were not tried; they stay `pending`).
    /// Adapters that can work in parallel override it.
    fn deliver_all(&mut self, ms: &[OutMessage]) -> Vec<Result<Outcome>> {
        let mut out = Vec::with_capacity(ms.len());
        for m in ms {
            let r = self.deliver(m);
            let stop = r.is_err();
            out.push(r);
            if stop {
                break;
            }
        }
        out
    }
}

/// Creates a private (0700) folder and its parents.
pub(crate) fn mkdir(p: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .map_err(|e| Error::runtime(format!("{}: cannot create directory: {e}", p.display())))
}

/// The adapter of each channel, as the configuration says.
pub struct Adapters {
    pub email: Box<dyn Adapter>,
    pub sms: Box<dyn Adapter>,
    pub push: Box<dyn Adapter>,
}

impl Adapters {
    /// The default adapters under `outbox` (Maildir email, JSONL sms and push).
    pub fn open_default(outbox: &Path) -> Result<Adapters> {
        Adapters::open(outbox, &DeliveryConfig::default())
    }

    /// The configured adapters; default and relative paths are under the
    /// folder holding `outbox` (the database's folder).
    pub fn open(outbox: &Path, cfg: &DeliveryConfig) -> Result<Adapters> {
        let base = outbox.parent().unwrap_or(Path::new("."));
        let retry = Retry {
            tries: cfg.tries.max(1),
            backoff: Duration::from_millis(cfg.backoff_ms),
            max: Duration::from_millis(cfg.max_backoff_ms),
        };
        let open = |ch: Channel| -> Result<Box<dyn Adapter>> {
            let at = |p: &Option<PathBuf>, default: PathBuf| p.as_ref().map_or(default, |p| base.join(p));
            Ok(match cfg.channel(ch) {
                AdapterConfig::Maildir { path } => Box::new(Maildir::open(&at(path, outbox.join(ch.as_str())))?),
                AdapterConfig::Jsonl { path } => Box::new(Jsonl::open(&at(path, outbox.join(format!("{ch}.jsonl"))))?),
                AdapterConfig::Smtp(s) => {
                    let log = SentLog::open(&outbox.join(format!("{ch}.smtp.log")))?;
                    Box::new(Smtp::open(s, retry, log)?)
                }
                AdapterConfig::Webhook(w) => {
                    let log = SentLog::open(&outbox.join(format!("{ch}.webhook.log")))?;
                    Box::new(Webhook::open(w, retry, log))
                }
            })
        };
        Ok(Adapters { email: open(Channel::Email)?, sms: open(Channel::Sms)?, push: open(Channel::Push)? })
    }

    pub fn get(&mut self, c: Channel) -> &mut dyn Adapter {
        match c {
            Channel::Email => self.email.as_mut(),
            Channel::Sms => self.sms.as_mut(),
            Channel::Push => self.push.as_mut(),
        }
    }

    pub fn flush(&mut self) -> Result<()> {
        self.email.flush()?;
        self.sms.flush()?;
        self.push.flush()
    }
}

/// A Maildir (`tmp`, `new`, `cur`).
pub struct Maildir {
    tmp: PathBuf,
    new: PathBuf,
    /// file names (without `:2,` flags) already in `new` or `cur`
    seen: HashSet<String>,
    buf: String,
}

/// The Maildir file name of a key: `:` is Maildir's flag separator.
pub fn maildir_name(key: &str) -> String {
    key.replace(':', ".")
}

impl Maildir {
    pub fn open(root: &Path) -> Result<Maildir> {
        for d in ["tmp", "new", "cur"] {
            mkdir(&root.join(d))?;
        }
        let mut seen = HashSet::new();
        for d in ["new", "cur"] {
            for e in fs::read_dir(root.join(d))? {
                let name = e?.file_name().to_string_lossy().into_owned();
                seen.insert(name.split(':').next().unwrap_or(&name).to_string());
            }
        }
        Ok(Maildir { tmp: root.join("tmp"), new: root.join("new"), seen, buf: String::new() })
    }
}

impl Adapter for Maildir {
    fn deliver(&mut self, m: &OutMessage) -> Result<Outcome> {
        let name = maildir_name(&m.key);
        if self.seen.contains(&name) {
            return Ok(Outcome::Duplicate);
        }
        write_maildir_file(&self.tmp, &self.new, &name, m, &mut self.buf)?;
        self.seen.insert(name);
        Ok(Outcome::Delivered)
    }

    /// Writes the files on up to 4 threads (file creation and rename are
    /// the cost; the kernel runs them in parallel).
    fn deliver_all(&mut self, ms: &[OutMessage]) -> Vec<Result<Outcome>> {
        let names: Vec<String> = ms.iter().map(|m| maildir_name(&m.key)).collect();
        let threads = super::run::workers(ms.len());
        let per = ms.len().div_ceil(threads).max(1);
        let (tmp, new, seen) = (&self.tmp, &self.new, &self.seen);
        let write = |ms: &[OutMessage], names: &[String]| -> Vec<Result<Outcome>> {
            let mut buf = String::new();
            ms.iter()
                .zip(names)
                .map(|(m, name)| {
                    if seen.contains(name) {
                        return Ok(Outcome::Duplicate);
                    }
                    write_maildir_file(tmp, new, name, m, &mut buf).map(|()| Outcome::Delivered)
                })
                .collect()
        };
        let out: Vec<Result<Outcome>> = if threads == 1 {
            write(ms, &names)
        } else {
            std::thread::scope(|sc| {
                let parts: Vec<_> =
                    ms.chunks(per).zip(names.chunks(per)).map(|(m, n)| sc.spawn(move || write(m, n))).collect();
                parts.into_iter().flat_map(|h| h.join().expect("maildir thread")).collect()
            })
        };
        for (name, r) in names.into_iter().zip(&out) {
            if matches!(r, Ok(Outcome::Delivered)) {
                self.seen.insert(name);
            }
        }
        out
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Writes `m` as `tmp/NAME`, then renames it to `new/NAME` (atomic: a
/// reader, or a restart, never sees a partial message in `new`). Tried and
/// dropped: an `O_TMPFILE` in `new/` linked in by name was twice as slow on
/// ext4 (its orphan list serialises every such file).
fn write_maildir_file(tmp: &Path, new: &Path, name: &str, m: &OutMessage, buf: &mut String) -> Result<()> {
    buf.clear();
    write_rfc5322(buf, m, DEFAULT_FROM);
    let t = tmp.join(name);
    // a message not written leaves nothing behind (a full disk: the record
    // stays `pending`, and is delivered once there is space)
    let err = |e: std::io::Error| {
        let _ = fs::remove_file(&t);
        if crate::error::io_disk_full(&e) { Error::from(e) } else { Error::runtime(format!("{}: {e}", t.display())) }
    };
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&t).map_err(err)?;
    f.write_all(buf.as_bytes()).map_err(err)?;
    drop(f);
    fs::rename(&t, new.join(name)).map_err(err)
}

/// An RFC 5322 message (CRLF lines, RFC 2047 subject when not ASCII),
/// from reach's default sender.
pub fn rfc5322(m: &OutMessage) -> String {
    let mut s = String::new();
    write_rfc5322(&mut s, m, DEFAULT_FROM);
    s
}

/// Appends `m` as an RFC 5322 message from `from` to `s`. The
/// `Message-ID` and `X-Reach-Key` headers carry the idempotency key.
pub fn write_rfc5322(s: &mut String, m: &OutMessage, from: &str) {
    let date = DateTime::from_timestamp(m.at, 0).map(|d| d.to_rfc2822()).unwrap_or_default();
    let subject = if m.subject.is_ascii() {
        m.subject.replace(['\r', '\n'], " ")
    } else {
        format!("=?utf-8?B?{}?=", base64(m.subject.as_bytes()))
    };
    let mut h = |k: &str, v: &str| {
        s.push_str(k);
        s.push_str(": ");
        s.push_str(v);
        s.push_str("\r\n");
    };
    h("From", &from.replace(['\r', '\n'], " "));
    h("To", &format!("<{}>", m.to));
    h("Subject", &subject);
    h("Date", &date);
    h("Message-ID", &format!("<{}@reach.invalid>", maildir_name(&m.key)));
    h("MIME-Version", "1.0");
    h("Content-Type", "text/html; charset=utf-8");
    h("Content-Transfer-Encoding", "8bit");
    h("List-Unsubscribe", &format!("<{}>", m.unsubscribe_url));
    h("X-Reach-Key", &m.key);
    s.push_str("\r\n");
    s.push_str(&m.body.replace("\r\n", "\n").replace('\n', "\r\n"));
    s.push_str("\r\n");
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One JSON line per message, appended.
pub struct Jsonl {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    seen: HashSet<String>,
}

/// The complete lines of an append-only journal (a JSONL outbox or a sent
/// log); a torn last line, never confirmed, is cut off the file. A missing
/// file is empty.
pub fn read_journal(path: &Path) -> Result<String> {
    if !path.exists() {
        return Ok(String::new());
    }
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut text = String::new();
    f.read_to_string(&mut text)?;
    let good = text.rfind('\n').map_or(0, |i| i + 1);
    if good < text.len() {
        f.set_len(good as u64)?;
        text.truncate(good);
    }
    Ok(text)
}

impl Jsonl {
    pub fn open(path: &Path) -> Result<Jsonl> {
        if let Some(p) = path.parent() {
            mkdir(p)?;
        }
        let mut seen = HashSet::new();
        for line in read_journal(path)?.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                && let Some(k) = v["key"].as_str()
            {
                seen.insert(k.to_string());
            }
        }
        Ok(Jsonl { path: path.to_path_buf(), out: None, seen })
    }
}

impl Adapter for Jsonl {
    fn deliver(&mut self, m: &OutMessage) -> Result<Outcome> {
        if self.seen.contains(&m.key) {
            return Ok(Outcome::Duplicate);
        }
        if self.out.is_none() {
            let f = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&self.path)
                .map_err(|e| Error::runtime(format!("{}: {e}", self.path.display())))?;
            self.out = Some(BufWriter::new(f));
        }
        // fields in the order serde_json's map gave them before (sorted)
        #[derive(serde::Serialize)]
        struct Line<'a> {
            at: String,
            body: &'a str,
            campaign: &'a str,
            channel: &'a str,
            contact: u32,
            key: &'a str,
            to: &'a str,
        }
        let line = Line {
            at: format_ts(m.at),
            body: &m.body,
            campaign: &m.campaign,
            channel: m.channel.as_str(),
            contact: m.contact,
            key: &m.key,
            to: &m.to,
        };
        if let Some(w) = self.out.as_mut() {
            serde_json::to_writer(&mut *w, &line).map_err(|e| Error::runtime(e.to_string()))?;
            w.write_all(b"\n")?;
        }
        self.seen.insert(m.key.clone());
        Ok(Outcome::Delivered)
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(w) = self.out.as_mut() {
            w.flush()?;
            w.get_ref().sync_data()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(key: &str) -> OutMessage {
        OutMessage {
            key: key.into(),
            campaign: "c".into(),
            channel: Channel::Email,
            contact: 1,
            to: "a@b.it".into(),
            subject: "Novità".into(),
            body: "hi\nthere".into(),
            at: 0,
            unsubscribe_url: "https://u.invalid/c/1".into(),
        }
    }

    #[test]
    fn maildir_and_jsonl_skip_keys_already_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let mut md = Maildir::open(&dir.path().join("email")).unwrap();
        assert_eq!(md.deliver(&msg("c:r:1")).unwrap(), Outcome::Delivered);
        assert_eq!(md.deliver(&msg("c:r:1")).unwrap(), Outcome::Duplicate);
        let mut md = Maildir::open(&dir.path().join("email")).unwrap();
        assert_eq!(md.deliver(&msg("c:r:1")).unwrap(), Outcome::Duplicate);
        let text = fs::read_to_string(dir.path().join("email/new/c.r.1")).unwrap();
        assert!(text.contains("Subject: =?utf-8?B?Tm92aXTDoA==?=\r\n"), "{text}");
        assert!(text.ends_with("\r\nhi\r\nthere\r\n"));

        let p = dir.path().join("sms.jsonl");
        let mut j = Jsonl::open(&p).unwrap();
        assert_eq!(j.deliver(&msg("c:r:1")).unwrap(), Outcome::Delivered);
        j.flush().unwrap();
        drop(j);
        // a torn line is cut, complete keys are remembered
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"key\":\"c:r:2\"").unwrap();
        let mut j = Jsonl::open(&p).unwrap();
        assert_eq!(j.deliver(&msg("c:r:1")).unwrap(), Outcome::Duplicate);
        assert_eq!(j.deliver(&msg("c:r:2")).unwrap(), Outcome::Delivered);
        j.flush().unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap().lines().count(), 2);
    }

    #[test]
    fn maildir_files_are_0600_and_tmp_is_left_empty() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("email");
        let mut md = Maildir::open(&root).unwrap();
        let ms: Vec<OutMessage> = (0..300).map(|i| msg(&format!("c:r:{i}"))).collect();
        let out = md.deliver_all(&ms);
        assert!(out.iter().all(|o| matches!(o, Ok(Outcome::Delivered))));
        assert!(md.deliver_all(&ms[..2]).iter().all(|o| matches!(o, Ok(Outcome::Duplicate))));
        for m in &ms {
            let p = root.join("new").join(maildir_name(&m.key));
            assert_eq!(fs::read_to_string(&p).unwrap(), rfc5322(m));
            assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(fs::metadata(root.join("new")).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    }
}
