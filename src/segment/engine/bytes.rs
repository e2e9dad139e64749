//! Conditions on a column of one byte per contact (engagement and
//! lifecycle stages, RFM scores), tested sixteen contacts at a time: a
//! contact matches when its byte lies in one of a few ranges. Asking a
//! closure for each contact's verdict, bit by bit, costs about half a
//! nanosecond a contact (6 ms at 10 million); with vector compares the
//! engagement-or-lifecycle query at 10 million went from 11.2 to 2.4 ms
//! (BENCHMARKS.md "Comparisons a word at a time"). The ranges are only
//! known at run time, which `Bits::from_col` could not turn into vector
//! code: hence these few explicit SSE2 instructions.

use super::bits::Bits;

/// Byte ranges `lo..=hi` (a range with lo > hi holds nothing).
pub type Ranges<'a> = &'a [(u8, u8)];

/// The ids below `n` in `alive` whose byte in `col` lies in one of
/// `ranges` (or, when `!inside`, in none of them). Ids at or past the end
/// of `col` never match.
pub fn where_bytes(n: usize, alive: &Bits, col: &[u8], ranges: Ranges, inside: bool) -> Bits {
    let ranges: Vec<(u8, u8)> = ranges.iter().copied().filter(|(lo, hi)| lo <= hi).collect();
    let flip = if inside { 0 } else { u64::MAX };
    Bits::from_words(n, alive, |wi| {
        let base = wi * 64;
        if base >= col.len() {
            return 0;
        }
        let chunk = &col[base..(base + 64).min(col.len())];
        let valid = if chunk.len() == 64 { u64::MAX } else { (1u64 << chunk.len()) - 1 };
        (word(chunk, &ranges) ^ flip) & valid
    })
}

/// Bit b set when byte b of `chunk` (at most 64 bytes) lies in one of `ranges`.
#[inline]
fn word(chunk: &[u8], ranges: Ranges) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Ok(c) = <&[u8; 64]>::try_from(chunk) {
        // SAFETY: SSE2 is part of every x86_64 processor.
        return unsafe { word_sse2(c, ranges) };
    }
    word_scalar(chunk, ranges)
}

/// `word`, a byte at a time.
fn word_scalar(chunk: &[u8], ranges: Ranges) -> u64 {
    let mut w = 0u64;
    for (b, &x) in chunk.iter().enumerate() {
        // lo <= x <= hi as one unsigned compare
        let hit = ranges.iter().any(|&(lo, hi)| x.wrapping_sub(lo) <= hi - lo);
        w |= (hit as u64) << b;
    }
    w
}

/// `word` over 64 bytes, 16 at a time: x - lo (wrapping) is at most
/// hi - lo exactly when x is in the range, and "a <= w" for unsigned
/// bytes is "min(a, w) == a".
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn word_sse2(chunk: &[u8; 64], ranges: Ranges) -> u64 {
    use std::arch::x86_64::*;
    let mut w = 0u64;
    for q in 0..4 {
        // SAFETY: 16 bytes at q * 16 lie inside the 64 of `chunk`.
        let x = unsafe { _mm_loadu_si128(chunk.as_ptr().add(q * 16).cast()) };
        let mut hit = _mm_setzero_si128();
        for &(lo, hi) in ranges {
            let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
            let within = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((hi - lo) as i8)), d);
            hit = _mm_or_si128(hit, within);
        }
        w |= (_mm_movemask_epi8(hit) as u16 as u64) << (q * 16);
    }
    w
}

/// The byte ranges of the integers `lo..=hi` (clamped to bytes), and of
/// those outside it when `!inside`, leaving out `none` (a byte that means
/// "no value", which no condition matches).
pub fn ranges_of(lo: i128, hi: i128, inside: bool, none: Option<u8>) -> Vec<(u8, u8)> {
    let (lo, hi) = (lo.max(0), hi.min(255));
    let mut out = Vec::new();
    if inside {
        if lo <= hi {
            out.push((lo as u8, hi as u8));
        }
    } else if lo > hi {
        out.push((0, 255));
    } else {
        if lo > 0 {
            out.push((0, (lo - 1) as u8));
        }
        if hi < 255 {
            out.push(((hi + 1) as u8, 255));
        }
    }
    match none {
        Some(z) => out.into_iter().flat_map(|r| without(r, z)).collect(),
        None => out,
    }
}

/// Range `r` less byte `z`: none, one or two ranges.
fn without((lo, hi): (u8, u8), z: u8) -> Vec<(u8, u8)> {
    if z < lo || z > hi {
        return vec![(lo, hi)];
    }
    let mut v = Vec::new();
    if z > lo {
        v.push((lo, z - 1));
    }
    if z < hi {
        v.push((z + 1, hi));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `where_bytes` must give, contact by contact.
    fn plain(n: usize, alive: &Bits, col: &[u8], ranges: Ranges, inside: bool) -> Bits {
        Bits::from_fn(n, alive, |id| {
            id < col.len() && ranges.iter().any(|&(lo, hi)| lo <= col[id] && col[id] <= hi) == inside
        })
    }

    #[test]
    fn vector_and_plain_tests_agree() {
        let mut seed = 11u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        let n = 64 * 40 + 37;
        let col: Vec<u8> =
            (0..n).map(|i| if i % 7 == 0 { 255 - (next() % 3) as u8 } else { (next() % 6) as u8 }).collect();
        let mut alive = Bits::new(n);
        for id in 0..n {
            if next() % 10 != 0 {
                alive.set(id);
            }
        }
        let sets: [&[(u8, u8)]; 7] =
            [&[], &[(3, 3)], &[(1, 2), (4, 4)], &[(0, 0)], &[(254, 255)], &[(0, 255)], &[(5, 2), (2, 3)]];
        for ranges in sets {
            for inside in [true, false] {
                // the column shorter, as long as and longer than the contacts
                for len in [n - 70, n, n + 5] {
                    let c: Vec<u8> = (0..len).map(|i| col[i % n]).collect();
                    assert_eq!(
                        where_bytes(n, &alive, &c, ranges, inside),
                        plain(n, &alive, &c, ranges, inside),
                        "{ranges:?} inside {inside} len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn ranges_of_integers_leave_out_the_no_value_byte() {
        assert_eq!(ranges_of(4, i128::MAX, true, Some(0)), vec![(4, 255)]);
        assert_eq!(ranges_of(i128::MIN, 3, true, Some(0)), vec![(1, 3)]);
        assert_eq!(ranges_of(3, 3, false, Some(0)), vec![(1, 2), (4, 255)]);
        assert_eq!(ranges_of(0, 255, false, None), vec![]);
        assert_eq!(ranges_of(5, 4, false, Some(0)), vec![(1, 255)]);
        assert_eq!(ranges_of(300, 400, true, None), vec![]);
        assert_eq!(ranges_of(-5, -1, false, None), vec![(0, 255)]);
        // every byte, every range, against a plain test
        for (lo, hi) in [(-3i128, 2i128), (0, 0), (1, 5), (200, 300), (7, 6), (255, 255)] {
            for inside in [true, false] {
                for none in [None, Some(0u8), Some(3)] {
                    let rs = ranges_of(lo, hi, inside, none);
                    for x in 0..=255u8 {
                        let want = Some(x) != none && ((lo <= x as i128 && x as i128 <= hi) == inside);
                        let got = rs.iter().any(|&(a, b)| a <= x && x <= b);
                        assert_eq!(got, want, "{lo}..={hi} inside {inside} none {none:?} x {x}");
                    }
                }
            }
        }
    }
}
