//! Contact keys in memory for bulk writes: external id → contact id and
//! normalized email → contact id. The maps as loaded at the start of a write
//! are shared read-only (`Arc`) with parser threads, which resolve the keys of
//! rows ahead of the writer; keys added during the write live in an overlay.

use crate::model::contact::normalize_email;
use compact_str::CompactString;
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::sync::Arc;

/// Keys up to 24 bytes are stored inline: one cache miss per lookup.
pub type KeyMap = HashMap<CompactString, u32>;

/// The keys present when the write began.
#[derive(Clone, Default)]
pub struct KeySnapshot {
    pub xid: KeyMap,
    pub email: KeyMap,
}

impl KeySnapshot {
    /// The contact an event key names, as an event import resolves it:
    /// by external id first, then (when it looks like one) by email.
    pub fn resolve(&self, key: &str) -> Option<u32> {
        if let Some(id) = self.xid.get(key) {
            return Some(*id);
        }
        if crate::model::contact::looks_like_email(key) {
            return self.email.get(email_key(key).as_ref()).copied();
        }
        None
    }
}

/// The normalized form of an email (trimmed, lowercase), without allocating
/// when it already is.
pub fn email_key(e: &str) -> Cow<'_, str> {
    if e.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) && e.trim().len() == e.len() {
        Cow::Borrowed(e)
    } else {
        Cow::Owned(normalize_email(e))
    }
}

/// The keys of one write transaction: the loaded snapshot plus what the
/// transaction added.
#[derive(Default)]
pub struct Keys {
    base: Arc<KeySnapshot>,
    added_xid: KeyMap,
    added_email: KeyMap,
}

impl Keys {
    pub fn new(base: KeySnapshot) -> Keys {
        Keys { base: Arc::new(base), ..Default::default() }
    }

    /// The loaded keys, for threads that resolve rows ahead of the writer.
    pub fn snapshot(&self) -> Arc<KeySnapshot> {
        self.base.clone()
    }

    pub fn by_external_id(&self, xid: &str) -> Option<u32> {
        self.added_xid.get(xid).or_else(|| self.base.xid.get(xid)).copied()
    }

    pub fn by_email(&self, email: &str) -> Option<u32> {
        let k = email_key(email);
        self.added_email.get(k.as_ref()).or_else(|| self.base.email.get(k.as_ref())).copied()
    }

    pub fn insert_external_id(&mut self, xid: &str, id: u32) {
        self.added_xid.insert(xid.into(), id);
    }

    /// `email` is normalized here.
    pub fn insert_email(&mut self, email: &str, id: u32) {
        self.added_email.insert(email_key(email).as_ref().into(), id);
    }

    pub fn remove_external_id(&mut self, xid: &str) {
        if self.added_xid.remove(xid).is_none() && self.base.xid.contains_key(xid) {
            Arc::make_mut(&mut self.base).xid.remove(xid);
        }
    }

    pub fn remove_email(&mut self, email: &str) {
        let k = email_key(email);
        if self.added_email.remove(k.as_ref()).is_none() && self.base.email.contains_key(k.as_ref()) {
            Arc::make_mut(&mut self.base).email.remove(k.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_and_snapshot() {
        let mut base = KeySnapshot::default();
        base.xid.insert("C1".into(), 1);
        base.email.insert("a@example.com".into(), 2);
        let mut k = Keys::new(base);
        let snap = k.snapshot();
        k.insert_external_id("C3", 3);
        k.insert_email(" B@Example.com", 4);
        assert_eq!(k.by_external_id("C1"), Some(1));
        assert_eq!(k.by_external_id("C3"), Some(3));
        assert_eq!(k.by_email("A@example.COM"), Some(2));
        assert_eq!(k.by_email("b@example.com"), Some(4));
        // the snapshot sees only what was loaded
        assert_eq!(snap.resolve("C3"), None);
        assert_eq!(snap.resolve("C1"), Some(1));
        assert_eq!(snap.resolve("A@Example.com"), Some(2));
        k.remove_external_id("C1");
        k.remove_email("a@example.com");
        assert_eq!(k.by_external_id("C1"), None);
        assert_eq!(k.by_email("a@example.com"), None);
        assert_eq!(snap.resolve("C1"), Some(1), "a snapshot taken before stays as it was");
    }
}
