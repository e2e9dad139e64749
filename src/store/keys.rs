//! Contact keys in memory for bulk loads (a `Loader`'s): external id →
//! contact id and normalized email → contact id. The maps as loaded at the
//! start of a load are shared read-only (`Arc`) with parser threads, which
//! resolve the keys of rows ahead of the loader; keys added during the load
//! live in an overlay.

use crate::model::contact::normalize_email;
use compact_str::CompactString;
use hashbrown::HashTable;
use std::borrow::Cow;
use std::sync::Arc;

/// The hash every key table here uses: `key_buckets::hash`, the hash that
/// places a key in its bucket on disk. A caller that hashed a key already
/// (an import's reader thread) passes it to the `_hashed` methods.
pub fn key_hash(key: &str) -> u64 {
    super::key_buckets::hash(key.as_bytes())
}

/// Keys added during a write. A hash table of SIMD-probed control bytes:
/// most lookups here miss (a row's keys are checked before its contact is
/// created), and a miss reads a few megabytes of control bytes rather than
/// a 32-byte slot of a `KeyTable` spread over tens of megabytes. Each entry
/// keeps half its key's hash, so growing the table hashes no key again.
#[derive(Default)]
pub struct KeyMap(HashTable<Added>);

struct Added {
    key: CompactString,
    id: u32,
    /// the top half of the key's `key_hash`
    tag: u32,
}

impl KeyMap {
    /// hashbrown's hash of a key from the top half of its `key_hash`: the
    /// control byte takes the top 7 bits, the slot the low ones, and the
    /// multiply spreads the 32 bits over both.
    fn spread(tag: u32) -> u64 {
        (tag as u64 | (tag as u64) << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn get(&self, key: &str, h: u64) -> Option<u32> {
        let tag = (h >> 32) as u32;
        self.0.find(Self::spread(tag), |a| a.tag == tag && a.key == key).map(|a| a.id)
    }

    fn insert(&mut self, key: &str, h: u64, id: u32) {
        let tag = (h >> 32) as u32;
        let entry = self.0.entry(Self::spread(tag), |a| a.tag == tag && a.key == key, |a| Self::spread(a.tag));
        match entry {
            hashbrown::hash_table::Entry::Occupied(mut o) => o.get_mut().id = id,
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(Added { key: CompactString::from(key), id, tag });
            }
        }
    }

    /// Whether the key was here.
    fn remove(&mut self, key: &str, h: u64) -> bool {
        let tag = (h >> 32) as u32;
        self.0.find_entry(Self::spread(tag), |a| a.tag == tag && a.key == key).map(|o| o.remove()).is_ok()
    }
}

/// The keys present when the write began.
#[derive(Clone, Default)]
pub struct KeySnapshot {
    pub xid: KeyTable,
    pub email: KeyTable,
    /// the emails of a snapshot taken without them, once the writer loaded
    /// them (`Keys::set_late_emails`): threads holding the snapshot resolve
    /// emails from then on (an events import whose log names contacts by
    /// email numbered each as new until then)
    pub late_email: std::sync::OnceLock<Arc<KeyTable>>,
}

impl KeySnapshot {
    /// The contact an event key names, as an event import resolves it:
    /// by external id first, then (when it looks like one) by email.
    #[cfg(test)]
    pub fn resolve(&self, key: &str) -> Option<u32> {
        self.resolve_hashed(key, key_hash(key), memchr::memchr(b'@', key.as_bytes()).is_some())
    }

    /// `resolve` of a key whose `key_hash` is `h` (an email key's hash is
    /// `h` too when the key is already normalized, as most are); `at`:
    /// whether the key has an `@`.
    pub fn resolve_hashed(&self, key: &str, h: u64, at: bool) -> Option<u32> {
        // an email is no external id unless some external id has an `@`
        if (!at || self.xid.has_key_with_at())
            && let Some(id) = self.xid.get_hashed(key, h)
        {
            return Some(id);
        }
        if at && crate::model::contact::looks_like_email(key) {
            let (k, h) = email_key_hashed(key, h);
            return self.email.get_hashed(&k, h).or_else(|| self.late_email.get()?.get_hashed(&k, h));
        }
        None
    }

    /// Starts loading what `resolve_hashed(key, h, email)` will read, so that
    /// resolving a batch of rows overlaps its memory accesses; `email`:
    /// the key has an `@`.
    pub fn prefetch_hashed(&self, h: u64, email: bool) {
        if !email || self.xid.has_key_with_at() {
            self.xid.prefetch_hashed(h);
        }
        if email {
            self.email.prefetch_hashed(h);
            if let Some(late) = self.late_email.get() {
                late.prefetch_hashed(h);
            }
        }
    }

    /// After `prefetch_hashed(h, true)` has had time to load the email
    /// slots: starts loading the text of a long email of hash `h` that
    /// those slots point to.
    pub fn prefetch_email_text(&self, h: u64) {
        self.email.prefetch_long_hashed(h);
        if let Some(late) = self.late_email.get() {
            late.prefetch_long_hashed(h);
        }
    }
}

/// A read-mostly hash table of keys → contact ids, built once from a key
/// table: open addressing with linear probing in 32-byte slots that hold
/// keys of up to 23 bytes inline (external ids usually are), so a lookup
/// touches one cache line that can be prefetched ahead of use. A key's
/// first slot is picked by the top bits of `key_buckets::hash`, as its
/// bucket on disk is, so keys loaded bucket by bucket fill the slots
/// front to back.
#[derive(Clone, Default)]
pub struct KeyTable {
    slots: Vec<Slot>,
    /// keys longer than `INLINE`
    long: Vec<u8>,
    /// occupied slots
    used: usize,
    /// keys held with an `@` in them (an external id rarely has one, an
    /// email always does)
    with_at: usize,
    /// 64 - log2(slots.len())
    shift: u32,
}

const INLINE: usize = 23;
/// A table holds at most `LOAD_NUM / LOAD_DEN` of its slots (5/8: a miss
/// probes about four slots, two cache lines, at the fullest; a power of two
/// of slots fits 1.6 keys per slot's worth rather than 2, so a million keys
/// fit in 2 million slots even when their count was estimated a little high).
const LOAD_NUM: usize = 5;
const LOAD_DEN: usize = 8;
/// `Slot::len` of a key stored in `long`
const LONG: u8 = 255;
/// `Slot::len` of a removed key (probing continues past it)
const GONE: u8 = 254;

#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Slot {
    /// the key, or (long keys) its offset and length in `long`
    key: [u8; INLINE],
    /// 0: empty; 1..=23: inline length; `LONG`; `GONE`
    len: u8,
    tag: u32,
    id: u32,
}

impl KeyTable {
    pub fn with_capacity(n: usize) -> KeyTable {
        let slots = (n * LOAD_DEN / LOAD_NUM + 1).max(16).next_power_of_two();
        KeyTable {
            // read at random, a TLB miss per look-up in 4 KiB pages
            slots: crate::allocator::huge_pages_for(slots, Slot::default()),
            shift: 64 - slots.trailing_zeros(),
            ..Default::default()
        }
    }

    fn hash(&self, key: &str) -> u64 {
        key_hash(key)
    }

    /// The slot probing for a key of hash `h` starts at.
    fn home(&self, h: u64) -> usize {
        (h >> self.shift) as usize
    }

    fn slot_key<'a>(&'a self, s: &'a Slot) -> &'a [u8] {
        match s.len {
            LONG => {
                let off = u64::from_le_bytes(s.key[..8].try_into().unwrap_or_default()) as usize;
                let len = u32::from_le_bytes(s.key[8..12].try_into().unwrap_or_default()) as usize;
                &self.long[off..off + len]
            }
            GONE => &[],
            n => &s.key[..n as usize],
        }
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn find(&self, key: &str) -> (usize, bool) {
        if self.slots.is_empty() {
            return (0, false);
        }
        self.find_hashed(key, self.hash(key))
    }

    /// `find` of a key whose `key_hash` is `h`.
    fn find_hashed(&self, key: &str, h: u64) -> (usize, bool) {
        if self.slots.is_empty() {
            return (0, false);
        }
        let mask = self.slots.len() - 1;
        let tag = h as u32;
        let mut i = self.home(h);
        loop {
            let s = &self.slots[i];
            if s.len == 0 {
                return (i, false);
            }
            if s.tag == tag && s.len != GONE && self.slot_key(s) == key.as_bytes() {
                return (i, true);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn get(&self, key: &str) -> Option<u32> {
        match self.find(key) {
            (i, true) => Some(self.slots[i].id),
            _ => None,
        }
    }

    /// `get` of a key whose `key_hash` is `h`.
    pub fn get_hashed(&self, key: &str, h: u64) -> Option<u32> {
        match self.find_hashed(key, h) {
            (i, true) => Some(self.slots[i].id),
            _ => None,
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).1
    }

    /// Adds or updates a key (growing the table past 5/8 full).
    pub fn insert(&mut self, key: &str, id: u32) {
        self.insert_hashed(key, self.hash(key), id);
    }

    /// `insert` of a key whose `key_hash` is `h`.
    pub fn insert_hashed(&mut self, key: &str, h: u64, id: u32) {
        if (self.used + 1) * LOAD_DEN > self.slots.len() * LOAD_NUM {
            self.grow();
        }
        let (i, found) = self.find_hashed(key, h);
        if !found {
            let mut s = Slot { tag: h as u32, ..Default::default() };
            if key.len() <= INLINE {
                s.key[..key.len()].copy_from_slice(key.as_bytes());
                s.len = key.len() as u8;
            } else {
                s.key[..8].copy_from_slice(&(self.long.len() as u64).to_le_bytes());
                s.key[8..12].copy_from_slice(&(key.len() as u32).to_le_bytes());
                s.len = LONG;
                self.long.extend_from_slice(key.as_bytes());
            }
            self.slots[i] = s;
            self.used += 1;
            self.with_at += usize::from(memchr::memchr(b'@', key.as_bytes()).is_some());
        }
        self.slots[i].id = id;
    }

    pub fn remove(&mut self, key: &str) {
        if let (i, true) = self.find(key) {
            self.slots[i].len = GONE;
            self.with_at -= usize::from(memchr::memchr(b'@', key.as_bytes()).is_some());
        }
    }

    /// Whether some key held has an `@` (when none has, a key with one is
    /// not here).
    pub fn has_key_with_at(&self) -> bool {
        self.with_at > 0
    }

    /// Slots taken: the keys held, and those removed since the table was
    /// made or grew (a size, for choosing how to sort them).
    pub fn used_slots(&self) -> usize {
        self.used
    }

    /// Whether the table holds no key.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Whether `n` keys in all would take more slots than this table has
    /// (`moved_into` a table made for them saves growing it on the way).
    pub fn needs_room_for(&self, n: usize) -> bool {
        (n + 1) * LOAD_DEN > self.slots.len() * LOAD_NUM
    }

    /// These keys in `room`, an empty table made for at least as many
    /// (`with_capacity`, perhaps on another thread: a large table's fresh
    /// memory takes the kernel a while to hand over).
    pub fn moved_into(self, mut room: KeyTable) -> KeyTable {
        debug_assert!(room.used == 0, "an empty table");
        if room.needs_room_for(self.used) {
            room = KeyTable::with_capacity(self.used);
        }
        for (k, id) in self.entries() {
            room.insert(k, id);
        }
        room
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let long = std::mem::take(&mut self.long);
        let mut t = KeyTable::with_capacity(old.len().max(8));
        for s in old.iter().filter(|s| s.len != 0 && s.len != GONE) {
            let key = match s.len {
                LONG => {
                    let off = u64::from_le_bytes(s.key[..8].try_into().unwrap_or_default()) as usize;
                    let len = u32::from_le_bytes(s.key[8..12].try_into().unwrap_or_default()) as usize;
                    &long[off..off + len]
                }
                n => &s.key[..n as usize],
            };
            t.insert(std::str::from_utf8(key).unwrap_or_default(), s.id);
        }
        *self = t;
    }

    /// The keys' bytes with their contact ids, in slot order, unlisted:
    /// what `key_buckets::by_bucket_from` walks to write the keys.
    pub fn keys(&self) -> impl Iterator<Item = (&[u8], u32)> + '_ {
        self.slots.iter().filter(|s| s.len != 0 && s.len != GONE).map(|s| (self.slot_key(s), s.id))
    }

    /// The keys held and their ids, in slot order (nearly the order of
    /// their buckets on disk).
    pub fn entries(&self) -> Vec<(&str, u32)> {
        let mut out = Vec::with_capacity(self.used);
        for (k, id) in self.keys() {
            // SAFETY: every key enters as a `&str` (`insert_hashed`) and
            // its bytes are kept whole, so they are UTF-8 (checking again
            // took 50 ms of the end of a 1M-contact import).
            out.push((unsafe { std::str::from_utf8_unchecked(k) }, id));
        }
        out
    }

    /// Hints the CPU to load the slot `key` starts probing at.
    pub fn prefetch(&self, key: &str) {
        self.prefetch_hashed(self.hash(key));
    }

    /// Hints the CPU to load the text of a key of hash `h` longer than a
    /// slot holds, found by reading the first slots it probes (which
    /// `prefetch_hashed(h)` should have loaded by then).
    pub fn prefetch_long_hashed(&self, h: u64) {
        if self.slots.is_empty() {
            return;
        }
        let (mask, tag) = (self.slots.len() - 1, h as u32);
        let mut i = self.home(h);
        for _ in 0..4 {
            let s = &self.slots[i];
            if s.len == 0 {
                return;
            }
            if s.len == LONG && s.tag == tag {
                let off = u64::from_le_bytes(s.key[..8].try_into().unwrap_or_default()) as usize;
                let len = u32::from_le_bytes(s.key[8..12].try_into().unwrap_or_default()) as usize;
                if let Some(text) = self.long.get(off..off + len) {
                    // its first and last byte: the text may cross a cache line
                    prefetch_at(text.as_ptr());
                    prefetch_at(text.as_ptr().wrapping_add(len.saturating_sub(1)));
                }
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// `prefetch` of a key whose `key_hash` is `h`.
    pub fn prefetch_hashed(&self, h: u64) {
        if self.slots.is_empty() {
            return;
        }
        prefetch_at(self.slots.as_ptr().wrapping_add(self.home(h)).cast());
    }
}

/// Hints the CPU to load the cache line of `p` (a no-op off x86-64).
#[inline]
fn prefetch_at(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint: it reads nothing and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The normalized form of an email (trimmed, lowercase), without allocating
/// when it already is.
pub fn email_key(e: &str) -> Cow<'_, str> {
    // folded over every byte, without an early exit, so that it is
    // vectorized (called on each row's email; `all` went a byte at a time)
    let changes = e.bytes().fold(false, |c, b| c | !b.is_ascii() | b.is_ascii_uppercase());
    if !changes && crate::model::trim_fast(e).len() == e.len() {
        Cow::Borrowed(e)
    } else {
        Cow::Owned(normalize_email(e))
    }
}

/// `email_key` of `e` with its `key_hash`, given `h`, the hash of `e`
/// itself (hashed again only when normalizing changed it).
pub fn email_key_hashed(e: &str, h: u64) -> (Cow<'_, str>, u64) {
    let k = email_key(e);
    let h = match &k {
        Cow::Borrowed(_) => h,
        Cow::Owned(k) => key_hash(k),
    };
    (k, h)
}

/// `email_key` of an owned email, reusing its text when it is normalized.
pub fn email_key_owned(e: String) -> Box<str> {
    match email_key(&e) {
        Cow::Owned(k) => k.into_boxed_str(),
        Cow::Borrowed(_) => e.into_boxed_str(),
    }
}

/// The keys of one write transaction: the loaded snapshot plus what the
/// transaction added.
#[derive(Default)]
pub struct Keys {
    base: Arc<KeySnapshot>,
    /// the emails, when loaded after the snapshot was taken without them
    /// (`Loader::load_external_ids`)
    late_email: Arc<KeyTable>,
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
        self.by_external_id_hashed(xid, key_hash(xid))
    }

    /// `by_external_id` of a key whose `key_hash` is `h`.
    pub fn by_external_id_hashed(&self, xid: &str, h: u64) -> Option<u32> {
        self.added_xid.get(xid, h).or_else(|| self.base.xid.get_hashed(xid, h))
    }

    pub fn by_email(&self, email: &str) -> Option<u32> {
        let k = email_key(email);
        self.by_email_key_hashed(&k, key_hash(&k))
    }

    /// The contact of a normalized email (`email_key`) whose `key_hash` is `h`.
    pub fn by_email_key_hashed(&self, key: &str, h: u64) -> Option<u32> {
        self.added_email
            .get(key, h)
            .or_else(|| self.base.email.get_hashed(key, h))
            .or_else(|| self.late_email.get_hashed(key, h))
    }

    /// `KeyTable::prefetch_hashed` of the loaded keys an external id and a
    /// normalized email of these hashes would be looked up in.
    pub fn prefetch_hashed(&self, xid_hash: Option<u64>, email_hash: Option<u64>) {
        if let Some(h) = xid_hash {
            self.base.xid.prefetch_hashed(h);
        }
        if let Some(h) = email_hash {
            self.base.email.prefetch_hashed(h);
            self.late_email.prefetch_hashed(h);
        }
    }

    /// The emails of a snapshot taken without them, loaded when first
    /// needed, and handed to the threads holding the snapshot.
    pub fn set_late_emails(&mut self, emails: KeyTable) {
        self.late_email = Arc::new(emails);
        let _ = self.base.late_email.set(self.late_email.clone());
    }

    pub fn insert_external_id(&mut self, xid: &str, id: u32) {
        self.added_xid.insert(xid, key_hash(xid), id);
    }

    /// `email` is normalized here.
    pub fn insert_email(&mut self, email: &str, id: u32) {
        let k = email_key(email);
        self.added_email.insert(&k, key_hash(&k), id);
    }

    pub fn remove_external_id(&mut self, xid: &str) {
        if !self.added_xid.remove(xid, key_hash(xid)) && self.base.xid.contains_key(xid) {
            Arc::make_mut(&mut self.base).xid.remove(xid);
        }
    }

    pub fn remove_email(&mut self, email: &str) {
        let k = email_key(email);
        if !self.added_email.remove(k.as_ref(), key_hash(&k)) && self.base.email.contains_key(k.as_ref()) {
            Arc::make_mut(&mut self.base).email.remove(k.as_ref());
        }
        if self.late_email.contains_key(k.as_ref()) {
            // (copied if the snapshot's holders still read it)
            Arc::make_mut(&mut self.late_email).remove(k.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `email_key` is `normalize_email`, borrowing when that changes nothing.
    #[test]
    fn email_key_is_the_normalized_email() {
        for e in [
            "a@b.co",
            "A@b.co",
            "a@B.CO",
            " a@b.co",
            "a@b.co\n",
            "żaba@b.pl",
            "Ż@b.pl",
            "a.very.long.address.indeed@example.com",
        ] {
            let k = email_key(e);
            assert_eq!(k, normalize_email(e), "{e:?}");
            // an ASCII email is borrowed exactly when normalizing keeps it
            if e.is_ascii() {
                assert_eq!(matches!(k, Cow::Borrowed(_)), normalize_email(e) == e, "{e:?}");
            }
        }
    }

    #[test]
    fn key_table_inline_long_growth_and_removal() {
        let mut t = KeyTable::default();
        let keys: Vec<String> =
            (0..5000)
                .map(|i| {
                    if i % 3 == 0 {
                        format!("someone.{i}@a-rather-long-domain.example.com")
                    } else {
                        format!("C{i:07}")
                    }
                })
                .collect();
        for (i, k) in keys.iter().enumerate() {
            t.insert(k, i as u32);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.get(k), Some(i as u32), "{k}");
        }
        assert_eq!(t.get("C9999999"), None);
        assert_eq!(t.get(""), None);
        t.insert("C0000001", 77);
        assert_eq!(t.get("C0000001"), Some(77), "insert updates");
        t.remove("C0000001");
        t.remove(&keys[3]);
        assert_eq!(t.get("C0000001"), None);
        assert_eq!(t.get(&keys[3]), None);
        assert_eq!(t.get(&keys[4]), Some(4), "keys probed past a removed one are still found");
        t.insert("C0000001", 5);
        assert_eq!(t.get("C0000001"), Some(5));
    }

    /// Room made ahead keeps every key; `entries` lists each key once with
    /// its id; hashed inserts are found by plain lookups.
    #[test]
    fn key_table_room_entries_and_hashed_inserts() {
        let mut t = KeyTable::default();
        let key = |i: u32| {
            if i.is_multiple_of(2) { format!("C{i:07}") } else { format!("person.{i}@a-long-domain.example.com") }
        };
        for i in 0..300 {
            let k = key(i);
            t.insert_hashed(&k, key_hash(&k), i);
        }
        let mut t = t.moved_into(KeyTable::with_capacity(10_000));
        assert!(t.slots.len() * LOAD_NUM >= 10_000 * LOAD_DEN, "{}", t.slots.len());
        let slots = t.slots.len();
        for i in 300..10_000 {
            t.insert(&key(i), i);
        }
        assert_eq!(t.slots.len(), slots, "no growth within the room made");
        for i in 0..10_000 {
            assert_eq!(t.get(&key(i)), Some(i), "{}", key(i));
        }
        let mut e: Vec<(String, u32)> = t.entries().into_iter().map(|(k, id)| (k.to_string(), id)).collect();
        e.sort_by_key(|x| x.1);
        let want: Vec<(String, u32)> = (0..10_000).map(|i| (key(i), i)).collect();
        assert_eq!(e, want);
        assert!(!t.is_empty() && KeyTable::default().is_empty());
    }

    /// Keys moved into a table made aside keep their ids, inline and long,
    /// whether it has room for them or not.
    #[test]
    fn keys_moved_into_a_table_made_aside() {
        let key = |i: u32| {
            if i.is_multiple_of(3) { format!("person.{i}@a-long-domain.example.com") } else { format!("C{i:07}") }
        };
        for room in [10_000, 5] {
            let mut t = KeyTable::default();
            for i in 0..700 {
                t.insert(&key(i), i);
            }
            assert!(t.needs_room_for(10_000) && !t.needs_room_for(10));
            let mut t = t.moved_into(KeyTable::with_capacity(room));
            assert!(!t.needs_room_for(700), "room for the keys moved");
            for i in 700..1_000 {
                t.insert(&key(i), i);
            }
            assert!((0..1_000).all(|i| t.get(&key(i)) == Some(i)), "room for {room}");
            assert_eq!(t.entries().len(), 1_000);
        }
    }

    /// The overlay grows without hashing its keys again, and its hashed
    /// lookups agree with the plain ones.
    #[test]
    fn overlay_growth_and_hashed_lookups() {
        let mut k = Keys::new(KeySnapshot::default());
        let n = 20_000u32;
        for i in 0..n {
            if i % 2 == 0 {
                k.insert_external_id(&format!("C{i:07}"), i);
            } else {
                k.insert_external_id(&format!("X{i}-a-key-longer-than-twenty-four-bytes"), i);
            }
            k.insert_email(&format!("Person.{i}@Example.com"), i);
        }
        for i in 0..n {
            let x = if i % 2 == 0 { format!("C{i:07}") } else { format!("X{i}-a-key-longer-than-twenty-four-bytes") };
            assert_eq!(k.by_external_id(&x), Some(i));
            assert_eq!(k.by_external_id_hashed(&x, key_hash(&x)), Some(i));
            assert_eq!(k.by_email(&format!("person.{i}@example.COM")), Some(i));
        }
        assert_eq!(k.by_external_id("C9999999"), None);
        k.insert_external_id("C0000000", 7);
        assert_eq!(k.by_external_id("C0000000"), Some(7), "insert updates");
        k.remove_external_id("C0000000");
        k.remove_email("person.1@example.com");
        assert_eq!(k.by_external_id("C0000000"), None);
        assert_eq!(k.by_email("person.1@example.com"), None);
        assert_eq!(k.by_email("person.3@example.com"), Some(3));
    }

    #[test]
    fn overlay_and_snapshot() {
        let mut base = KeySnapshot::default();
        base.xid.insert("C1", 1);
        base.email.insert("a@example.com", 2);
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

    /// Emails loaded after a snapshot was handed out reach its holders;
    /// the writer's own removals do not change what they read.
    #[test]
    fn late_emails_reach_the_snapshot() {
        let mut xid = KeyTable::default();
        xid.insert("C1", 1);
        let mut keys = Keys::new(KeySnapshot { xid, ..Default::default() });
        let snap = keys.snapshot();
        assert_eq!(snap.resolve("C1"), Some(1));
        assert_eq!(snap.resolve("a@example.com"), None);
        let mut emails = KeyTable::default();
        emails.insert("a@example.com", 7);
        keys.set_late_emails(emails);
        assert_eq!(snap.resolve("A@Example.com"), Some(7), "normalized, from the late table");
        assert_eq!(keys.by_email("a@example.com"), Some(7));
        keys.remove_email("a@example.com");
        assert_eq!(keys.by_email("a@example.com"), None);
        assert_eq!(snap.resolve("a@example.com"), Some(7));
    }
    /// An external id with an `@` is still found before an email of the
    /// same text; with none left (removed, or never loaded) the snapshot
    /// skips the external ids for such keys and finds the email. The count
    /// of keys with an `@` follows inserts, updates, growth and removals.
    #[test]
    fn external_ids_with_an_at_are_still_looked_up() {
        let mut xid = KeyTable::default();
        for i in 0..1000 {
            xid.insert(&format!("C{i:07}"), i);
        }
        assert!(!xid.has_key_with_at());
        xid.insert("shop@legacy.example.com", 5000);
        xid.insert("shop@legacy.example.com", 5001);
        xid.insert("x@y", 5002);
        assert_eq!(xid.with_at, 2, "an update counts once");
        let mut email = KeyTable::default();
        email.insert("shop@legacy.example.com", 9);
        email.insert("b@example.com", 10);
        let snap = KeySnapshot { xid: xid.clone(), email: email.clone(), ..Default::default() };
        assert_eq!(snap.resolve("shop@legacy.example.com"), Some(5001), "the external id first");
        assert_eq!(snap.resolve("x@y"), Some(5002), "no email: an external id only");
        assert_eq!(snap.resolve("B@example.com"), Some(10));
        xid.remove("shop@legacy.example.com");
        assert!(xid.has_key_with_at());
        xid.remove("x@y");
        xid.remove("x@y");
        assert!(!xid.has_key_with_at(), "removing twice counts once");
        let snap = KeySnapshot { xid, email, ..Default::default() };
        assert_eq!(snap.resolve("shop@legacy.example.com"), Some(9));
        assert_eq!(snap.resolve("x@y"), None);
        assert_eq!(snap.resolve("C0000007"), Some(7));
    }

    /// Prefetching a long key's text reads only slots and text the table
    /// has: empty tables, removed keys, short and unknown keys.
    #[test]
    fn prefetching_long_keys_stays_in_bounds() {
        KeyTable::default().prefetch_long_hashed(key_hash("a@example.com"));
        let mut t = KeyTable::default();
        let long = |i: u32| format!("someone.{i}@a-rather-long-domain.example.com");
        for i in 0..100 {
            t.insert(&long(i), i);
            t.insert(&format!("C{i}"), i);
        }
        for i in (0..100).step_by(2) {
            t.remove(&long(i));
        }
        for i in 0..200 {
            for k in [long(i), format!("C{i}")] {
                t.prefetch_long_hashed(key_hash(&k));
            }
        }
        let snap = KeySnapshot { email: t, ..Default::default() };
        snap.prefetch_email_text(key_hash(&long(1)));
        assert_eq!(snap.resolve(&long(1)), Some(1));
        assert_eq!(snap.resolve(&long(2)), None);
    }
}
