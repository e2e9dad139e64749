//! The contact key tables on disk (schema 7): normalized email → contact id
//! and external id → contact id, each kept in `BUCKETS` rows by a hash of
//! the key that never changes, instead of one B-tree row per key.
//!
//! A row holds its keys in byte order: a varint count, then for each key a
//! varint length, the key's bytes and the contact id (u32, little endian).
//! With a million keys a row holds about 15 (a few hundred bytes), so one
//! lookup reads one small row, an import's new keys cost one row write per
//! bucket rather than one B-tree insert per key, and loading every key
//! reads 65,536 rows in hash order, the order `keys::KeyTable` stores them,
//! so the in-memory table fills front to back.
//!
//! The hash is fixed here (the rows depend on it): a folded multiply over
//! 8-byte words and the SplitMix64 finalizer. It is not seeded, so keys
//! chosen to collide can make one bucket long; the files are the
//! operator's own data.

use super::codec::{get_uvarint, put_uvarint};
use crate::error::{Error, Result};
use redb::{ReadableTable, ReadableTableMetadata, Table};

/// Buckets per key table (a power of two: the hash's top bits pick one).
pub const BUCKET_BITS: u32 = 16;

/// The stable 64-bit hash of a key.
pub fn hash(key: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    const M: u64 = 0xA076_1D64_78BD_642F;
    fn fold(a: u64, b: u64) -> u64 {
        let m = (a as u128) * (b as u128);
        (m as u64) ^ ((m >> 64) as u64)
    }
    let mut h = (key.len() as u64).wrapping_mul(K);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().unwrap_or_default());
        h = fold(h ^ w, M);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = fold(h ^ u64::from_le_bytes(last), M);
    }
    // SplitMix64's finalizer
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

/// The bucket of a key: the top `BUCKET_BITS` bits of its hash.
pub fn bucket_of(key: &[u8]) -> u32 {
    (hash(key) >> (64 - BUCKET_BITS)) as u32
}

/// The keys of a row, in order: (key, contact id).
pub fn entries(row: &[u8]) -> Result<Vec<(&[u8], u32)>> {
    let mut out = Vec::new();
    for_each(row, |k, id| out.push((k, id)))?;
    Ok(out)
}

/// Calls `f` with each key of a row and its contact id.
pub fn for_each<'r>(row: &'r [u8], mut f: impl FnMut(&'r [u8], u32)) -> Result<()> {
    let bad = || Error::runtime("damaged contact key row");
    let mut pos = 0;
    let n = get_uvarint(row, &mut pos).ok_or_else(bad)?;
    for _ in 0..n {
        let len = usize::try_from(get_uvarint(row, &mut pos).ok_or_else(bad)?).map_err(|_| bad())?;
        let end = pos.checked_add(len).filter(|e| e.saturating_add(4) <= row.len()).ok_or_else(bad)?;
        let id: [u8; 4] = row[end..end + 4].try_into().map_err(|_| bad())?;
        f(&row[pos..end], u32::from_le_bytes(id));
        pos = end + 4;
    }
    Ok(())
}

/// The number of keys a row holds.
pub fn count(row: &[u8]) -> Result<u64> {
    get_uvarint(row, &mut 0).ok_or_else(|| Error::runtime("damaged contact key row"))
}

/// Encodes keys (in byte order, each once) as a row.
pub fn encode<K: AsRef<[u8]>>(keys: &[(K, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + keys.iter().map(|(k, _)| k.as_ref().len() + 6).sum::<usize>());
    put_uvarint(&mut out, keys.len() as u64);
    for (k, id) in keys {
        put_uvarint(&mut out, k.as_ref().len() as u64);
        out.extend_from_slice(k.as_ref());
        out.extend_from_slice(&id.to_le_bytes());
    }
    out
}

/// The contact a key names.
pub fn get(t: &impl ReadableTable<u32, &'static [u8]>, key: &str) -> Result<Option<u32>> {
    let Some(row) = t.get(bucket_of(key.as_bytes()))? else { return Ok(None) };
    let mut found = None;
    for_each(row.value(), |k, id| {
        if k == key.as_bytes() {
            found = Some(id);
        }
    })?;
    Ok(found)
}

/// Sets (`Some`) or removes (`None`) keys, rewriting each bucket they fall
/// in once. A key given twice takes its last value.
pub fn apply<K: AsRef<str>>(t: &mut Table<u32, &'static [u8]>, changes: &[(K, Option<u32>)]) -> Result<()> {
    let mut order: Vec<(u32, usize)> =
        changes.iter().enumerate().map(|(i, (k, _))| (bucket_of(k.as_ref().as_bytes()), i)).collect();
    // by bucket, then as given (so the last change of a key wins)
    order.sort_unstable();
    let mut i = 0;
    while i < order.len() {
        let bucket = order[i].0;
        let end = i + order[i..].iter().take_while(|(b, _)| *b == bucket).count();
        let mut keys: Vec<(Vec<u8>, u32)> = match t.get(bucket)? {
            Some(row) => entries(row.value())?.into_iter().map(|(k, id)| (k.to_vec(), id)).collect(),
            None => Vec::new(),
        };
        for &(_, c) in &order[i..end] {
            let (k, v) = &changes[c];
            let k = k.as_ref().as_bytes();
            match (keys.binary_search_by(|(have, _)| have.as_slice().cmp(k)), v) {
                (Ok(at), Some(id)) => keys[at].1 = *id,
                (Err(at), Some(id)) => keys.insert(at, (k.to_vec(), *id)),
                (Ok(at), None) => {
                    keys.remove(at);
                }
                (Err(_), None) => {}
            }
        }
        if keys.is_empty() {
            t.remove(bucket)?;
        } else {
            t.insert(bucket, encode(&keys).as_slice())?;
        }
        i = end;
    }
    Ok(())
}

/// Adds keys known to be absent (new contacts' keys, checked free), each
/// bucket written once: the same rows as `apply`, without the binary
/// searches when a bucket was empty.
pub fn insert_new<K: AsRef<str>>(t: &mut Table<u32, &'static [u8]>, keys: &[(K, u32)]) -> Result<()> {
    insert_sorted(t, &by_bucket(keys))
}

/// New keys in the order `insert_sorted` writes them: (bucket, key, id),
/// sorted. Touches no table, so it can run on another thread.
///
/// Many keys are placed by a counting sort on the bucket, then each
/// bucket's few keys sorted: one pass over the keys in place of a sort of
/// them all, whose comparisons of keys within a bucket were most of its
/// time (a tenth of a second at the end of a 1M-contact import).
pub fn by_bucket<K: AsRef<str>>(keys: &[(K, u32)]) -> Vec<(u32, &[u8], u32)> {
    by_bucket_from(keys.len(), || keys.iter().map(|(k, id)| (k.as_ref().as_bytes(), *id)))
}

/// `by_bucket` of the keys `keys()` yields, about `n` of them (the count
/// picks the sort). `keys()` is walked twice and must yield the same keys
/// in the same order each time, so that they need not be listed first: a
/// 1M-key table listed, then listed again with the keys' buckets, took 56
/// MB of fresh memory per table at the end of an import; the buckets alone
/// take 2 MB.
pub fn by_bucket_from<'k, I: Iterator<Item = (&'k [u8], u32)>>(
    n: usize,
    keys: impl Fn() -> I,
) -> Vec<(u32, &'k [u8], u32)> {
    if n < COUNTING_SORT_FROM {
        let mut order: Vec<(u32, &[u8], u32)> = keys().map(|(k, id)| (bucket_of(k), k, id)).collect();
        order.sort_unstable();
        return order;
    }
    const { assert!(BUCKET_BITS <= 16, "a bucket fits in a u16") };
    let buckets = 1usize << BUCKET_BITS;
    let of: Vec<u16> = keys().map(|(k, _)| bucket_of(k) as u16).collect();
    // ends[b]: where bucket b's keys end, once summed
    let mut ends = vec![0usize; buckets];
    for &b in &of {
        ends[b as usize] += 1;
    }
    let mut at = 0;
    for e in ends.iter_mut() {
        at += *e;
        *e = at;
    }
    // each key goes before the keys of its bucket placed so far: a
    // bucket's range fills from its end
    let mut order: Vec<(u32, &[u8], u32)> = vec![(0, &[], 0); of.len()];
    for (&b, (k, id)) in of.iter().zip(keys()) {
        let e = &mut ends[b as usize];
        *e -= 1;
        order[*e] = (b as u32, k, id);
    }
    // `ends[b]` is now where bucket b starts
    for (b, &start) in ends.iter().enumerate() {
        let end = ends.get(b + 1).copied().unwrap_or(order.len());
        order[start..end].sort_unstable_by(|x, y| key_order(x.1, y.1).then(x.2.cmp(&y.2)));
    }
    order
}

/// Byte order of two keys, by their first 8 bytes as one number where
/// those differ (most keys in a bucket do: the library's `memcmp` call
/// per comparison was most of a bucket's sort).
fn key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    // the first 8 bytes, zero-padded, big-endian: where these differ, so do
    // the keys, the same way (a shorter key that is a prefix pads with
    // zeros, which sort first, as it does)
    #[inline(always)]
    fn head(k: &[u8]) -> u64 {
        match k.first_chunk::<8>() {
            // most keys (emails, most external ids): one load
            Some(w) => u64::from_be_bytes(*w),
            // a copy of a length known only here is a call to `memcpy`
            // (that call was half of a bucket's sort): byte by byte instead
            None => k.iter().enumerate().fold(0, |h, (i, &b)| h | (b as u64) << (56 - 8 * i)),
        }
    }
    head(a).cmp(&head(b)).then_with(|| a.cmp(b))
}

/// Below this many keys `by_bucket` sorts them whole (a counting sort's
/// pass over every bucket would cost more).
const COUNTING_SORT_FROM: usize = 1 << 14;

/// `insert_new` of keys already put in order by `by_bucket`.
pub fn insert_sorted(t: &mut Table<u32, &'static [u8]>, order: &[(u32, &[u8], u32)]) -> Result<()> {
    // a table empty before (a new file's) has no row to merge with
    let was_empty = t.is_empty()?;
    let mut row: Vec<(&[u8], u32)> = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let bucket = order[i].0;
        let end = i + order[i..].iter().take_while(|(b, _, _)| *b == bucket).count();
        row.clear();
        row.extend(order[i..end].iter().map(|(_, k, id)| (*k, *id)));
        let old = if was_empty { None } else { t.get(bucket)?.map(|v| v.value().to_vec()) };
        let bytes = match old {
            None => encode(&row),
            Some(old) => {
                let mut all: Vec<(&[u8], u32)> = entries(&old)?;
                all.extend_from_slice(&row);
                all.sort_unstable();
                all.dedup_by(|a, b| a.0 == b.0);
                encode(&all)
            }
        };
        t.insert(bucket, bytes.as_slice())?;
        i = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableTableMetadata, TableDefinition};

    const T: TableDefinition<u32, &[u8]> = TableDefinition::new("keys");

    /// The rows on disk depend on these values: a change to the hash is a
    /// change of file format.
    #[test]
    fn the_hash_is_fixed() {
        assert_eq!(hash(b""), 0);
        assert_eq!(hash(b"C0000001"), hash(b"C0000001"));
        let h = [hash(b"C0000001"), hash(b"C0000002"), hash(b"a@example.com"), hash(b"0123456789abcdefX")];
        assert_eq!(h, [0x1569_1fc4_b0d9_25ae, 0x0722_5079_9cef_cfd4, 0xaf5e_81cb_eb6b_4440, 0xeabd_7220_9b73_c369]);
    }

    /// The counting sort gives what sorting the keys whole gives, with a
    /// key given twice (both kept, in id order) and buckets left empty.
    #[test]
    fn by_bucket_is_a_sort() {
        for n in [0, 1, 100, COUNTING_SORT_FROM - 1, COUNTING_SORT_FROM, 70_000] {
            let mut keys: Vec<(String, u32)> =
                (0..n as u32).map(|i| (format!("k{}", i.wrapping_mul(2_654_435_761)), i)).collect();
            if n > 0 {
                keys.push((keys[n / 2].0.clone(), 7));
            }
            let mut want: Vec<(u32, &[u8], u32)> =
                keys.iter().map(|(k, id)| (bucket_of(k.as_bytes()), k.as_bytes(), *id)).collect();
            want.sort_unstable();
            assert_eq!(by_bucket(&keys), want, "{n} keys");
        }
    }

    /// A key table's keys, walked in place, come out as its listed
    /// entries do: keys inline and longer than a slot, one removed.
    #[test]
    fn by_bucket_from_a_key_table_is_by_bucket_of_its_entries() {
        for n in [10u32, 70_000] {
            let mut t = crate::store::keys::KeyTable::with_capacity(n as usize);
            for i in 0..n {
                let k =
                    if i % 3 == 0 { format!("someone.{i}@a-rather-long-domain.example") } else { format!("C{i:07}") };
                t.insert(&k, i);
            }
            t.remove("C0000001");
            let listed = t.entries();
            assert_eq!(listed.len(), n as usize - 1);
            assert_eq!(by_bucket_from(t.used_slots(), || t.keys()), by_bucket(&listed), "{n} keys");
        }
    }

    /// `key_order` is byte order, around the 8-byte head: prefixes, zero
    /// bytes, bytes above 127, equal heads.
    #[test]
    fn key_order_is_byte_order() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"a\x01",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghi",
            b"abcdefgi",
            b"abcdefg\xff",
            b"\xff",
            b"\xc3\xa9t\xc3\xa9",
            b"zzzzzzzzzzzz",
            b"zzzzzzzz",
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(key_order(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn sequential_ids_spread_over_the_buckets() {
        let mut used = std::collections::HashSet::new();
        for i in 0..100_000 {
            used.insert(bucket_of(format!("C{i:07}").as_bytes()));
        }
        // 100k keys over 65,536 buckets: about 1 - e^-1.53 = 78% of them used
        assert!(used.len() > 48_000, "{}", used.len());
    }

    #[test]
    fn apply_insert_new_get_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("k.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(T).unwrap();
            let keys: Vec<(String, u32)> = (0..20_000).map(|i| (format!("C{i:07}"), i)).collect();
            insert_new(&mut t, &keys[..10_000]).unwrap();
            insert_new(&mut t, &keys[10_000..]).unwrap();
            for (k, id) in keys.iter().step_by(7) {
                assert_eq!(get(&t, k).unwrap(), Some(*id), "{k}");
            }
            assert_eq!(get(&t, "C9999999").unwrap(), None);
            apply(&mut t, &[("C0000003", None), ("new@example.com", Some(77)), ("C0000004", Some(5))]).unwrap();
            assert_eq!(get(&t, "C0000003").unwrap(), None);
            assert_eq!(get(&t, "new@example.com").unwrap(), Some(77));
            assert_eq!(get(&t, "C0000004").unwrap(), Some(5));
            // the last change of a key wins; removing what is absent is no error
            apply(&mut t, &[("x", Some(1)), ("x", Some(2)), ("absent", None)]).unwrap();
            assert_eq!(get(&t, "x").unwrap(), Some(2));
            let mut n = 0;
            for row in t.iter().unwrap() {
                let (b, v) = row.unwrap();
                let e = entries(v.value()).unwrap();
                assert_eq!(count(v.value()).unwrap(), e.len() as u64);
                assert!(e.windows(2).all(|w| w[0].0 < w[1].0), "keys in order within a row");
                assert!(e.iter().all(|(k, _)| bucket_of(k) == b.value()), "each key in its bucket");
                n += e.len();
            }
            assert_eq!(n, 20_000 - 1 + 2);
            // a bucket emptied is removed
            let all: Vec<(String, Option<u32>)> = keys.iter().map(|(k, _)| (k.clone(), None)).collect();
            apply(&mut t, &all).unwrap();
            apply(&mut t, &[("new@example.com", None), ("x", None)]).unwrap();
            assert_eq!(t.len().unwrap(), 0);
        }
        tx.commit().unwrap();
    }
}
