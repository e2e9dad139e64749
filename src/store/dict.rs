//! The dictionary of event text values (id ↔ text). On disk, ids are grouped
//! in chunks of `CHUNK_IDS` consecutive ids, one table row per chunk: a bulk
//! import of a million new values writes a few hundred rows instead of a
//! million, and loading reads a few large values. In memory during a bulk
//! load (a `Loader`'s): every text in one arena and a hash table of ids over
//! it (no allocation per value).

use super::codec::{get_uvarint, put_uvarint};
use crate::error::{Error, Result};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Ids per stored chunk: chunk `c` holds ids `c * CHUNK_IDS ..`.
pub const CHUNK_IDS: u32 = 4096;

pub fn chunk_of(id: u32) -> u32 {
    id / CHUNK_IDS
}

/// Encodes the entries of one chunk (ascending ids, all in that chunk):
/// for each, the id's offset in the chunk and the text's length as varints,
/// then the text.
pub fn encode_chunk<'a>(entries: impl IntoIterator<Item = (u32, &'a str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (id, s) in entries {
        put_uvarint(&mut out, (id % CHUNK_IDS) as u64);
        put_uvarint(&mut out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
    out
}

/// Calls `f(id, text)` for every entry of chunk `chunk`.
pub fn decode_chunk(chunk: u32, bytes: &[u8], mut f: impl FnMut(u32, &str)) -> Result<()> {
    let bad = || Error::runtime(format!("dictionary chunk {chunk} is damaged"));
    let mut pos = 0;
    while pos < bytes.len() {
        let off = get_uvarint(bytes, &mut pos).filter(|o| *o < CHUNK_IDS as u64).ok_or_else(bad)?;
        let len = get_uvarint(bytes, &mut pos).ok_or_else(bad)? as usize;
        let text = bytes.get(pos..pos.checked_add(len).ok_or_else(bad)?).ok_or_else(bad)?;
        let text = std::str::from_utf8(text).map_err(|_| bad())?;
        pos += len;
        f(chunk * CHUNK_IDS + off as u32, text);
    }
    Ok(())
}

/// The dictionary of a write transaction: text → id for every value, and
/// the texts of ids added since the last flush.
#[derive(Default)]
pub struct WriteDict {
    /// texts by id: `text[ends[id - 1] .. ends[id]]`; id 0 is the empty
    /// text, and `ends.len()` is the next id
    text: Vec<u8>,
    ends: Vec<u64>,
    /// ids, hashed by their text
    index: HashTable<u32>,
    hasher: rustc_hash::FxBuildHasher,
    /// ids from here on are not stored yet
    first_unsaved: u32,
}

impl WriteDict {
    /// An empty dictionary whose next id is `next`.
    pub fn new(next: u32) -> WriteDict {
        let mut d = WriteDict { ends: vec![0], ..Default::default() };
        d.pad_to(next);
        d.first_unsaved = next;
        d
    }

    /// Ids below `id` exist (as empty holes when never loaded).
    fn pad_to(&mut self, id: u32) {
        let end = self.text.len() as u64;
        while self.ends.len() < id as usize {
            self.ends.push(end);
        }
    }

    /// The text of `id` (one below `next_id`; empty for a hole never loaded).
    pub fn text(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The next id `intern` would hand out.
    pub fn next_id(&self) -> u32 {
        self.ends.len() as u32
    }

    /// Adds a stored value while loading (ids ascending).
    pub fn load(&mut self, id: u32, s: &str) {
        self.pad_to(id);
        self.text.extend_from_slice(s.as_bytes());
        self.ends.push(self.text.len() as u64);
        let h = self.hasher.hash_one(s.as_bytes());
        let (text, ends) = (&self.text, &self.ends);
        self.index.insert_unique(h, id, |&x| hash_of(&self.hasher, text, ends, x));
    }

    /// Marks everything loaded as stored.
    pub fn loaded(&mut self, next: u32) {
        self.pad_to(next);
        self.first_unsaved = next;
    }

    /// The id of `s`, adding it when new. Fails when ids are exhausted.
    pub fn intern(&mut self, s: &str) -> Result<u32> {
        let h = self.hasher.hash_one(s.as_bytes());
        let (text, ends) = (&self.text, &self.ends);
        if let Some(&id) = self.index.find(h, |&x| slice(text, ends, x) == s.as_bytes()) {
            return Ok(id);
        }
        let id = self.next_id();
        if id == u32::MAX {
            return Err(Error::runtime("dictionary full"));
        }
        self.text.extend_from_slice(s.as_bytes());
        self.ends.push(self.text.len() as u64);
        let (text, ends) = (&self.text, &self.ends);
        self.index.insert_unique(h, id, |&x| hash_of(&self.hasher, text, ends, x));
        Ok(id)
    }

    /// Forgets a value (its id is never handed out again).
    pub fn remove(&mut self, id: u32) {
        if id as usize >= self.ends.len() {
            return;
        }
        let h = self.hasher.hash_one(self.text(id));
        if let Ok(e) = self.index.find_entry(h, |&x| x == id) {
            e.remove();
        }
    }

    /// The values added since the last call, by chunk: (chunk, entries).
    pub fn take_unsaved(&mut self) -> Vec<(u32, Vec<(u32, &str)>)> {
        let from = self.first_unsaved;
        let to = self.next_id();
        self.first_unsaved = to;
        let mut out: Vec<(u32, Vec<(u32, &str)>)> = Vec::new();
        for id in from..to {
            // text was valid UTF-8 when interned
            let s = std::str::from_utf8(self.text(id)).unwrap_or_default();
            match out.last_mut() {
                Some((c, v)) if *c == chunk_of(id) => v.push((id, s)),
                _ => out.push((chunk_of(id), vec![(id, s)])),
            }
        }
        out
    }
}

fn slice<'a>(text: &'a [u8], ends: &[u64], id: u32) -> &'a [u8] {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &text[start..ends[i] as usize]
}

fn hash_of(h: &rustc_hash::FxBuildHasher, text: &[u8], ends: &[u64], id: u32) -> u64 {
    h.hash_one(slice(text, ends, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip() {
        let entries = [(4096 * 3 + 1, "a"), (4096 * 3 + 7, ""), (4096 * 3 + 4095, "zürich")];
        let bytes = encode_chunk(entries.iter().copied());
        let mut back = Vec::new();
        decode_chunk(3, &bytes, |id, s| back.push((id, s.to_string()))).unwrap();
        let want: Vec<(u32, String)> = entries.iter().map(|(i, s)| (*i, s.to_string())).collect();
        assert_eq!(back, want);
        assert!(decode_chunk(3, &bytes[..bytes.len() - 1], |_, _| {}).is_err());
    }

    #[test]
    fn interning_and_unsaved_values() {
        let mut d = WriteDict::new(1);
        d.load(1, "EUR");
        d.load(5, "PLN");
        d.loaded(6);
        assert_eq!(d.intern("EUR").unwrap(), 1);
        assert_eq!(d.intern("PLN").unwrap(), 5);
        assert_eq!(d.intern("GBP").unwrap(), 6);
        assert_eq!(d.intern("GBP").unwrap(), 6);
        let big: Vec<u32> = (0..5000).map(|i| d.intern(&format!("v{i}")).unwrap()).collect();
        assert_eq!(big[0], 7);
        let unsaved = d.take_unsaved();
        assert_eq!(unsaved.len(), 2, "ids 6..5007 span chunks 0 and 1");
        assert_eq!(unsaved[0].1[0], (6, "GBP"));
        assert_eq!(unsaved[1].1[0], (4096, "v4089"));
        assert!(d.take_unsaved().is_empty());
        d.remove(1);
        assert_eq!(d.intern("EUR").unwrap(), 5007, "a removed value comes back with a new id");
    }
}
