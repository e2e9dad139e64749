//! A dense bitset over contact ids: the currency of evaluation. At a
//! million contacts one set is 125 KB and AND/OR/NOT/popcount take
//! microseconds.

use roaring::RoaringBitmap;

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bits {
    words: Vec<u64>,
    len: usize,
}

impl Bits {
    pub fn new(len: usize) -> Bits {
        Bits { words: super::zeroed::zeroed(len.div_ceil(64)), len }
    }

    /// The ids below `n` in `alive` for which `f` holds, built a word at a
    /// time (a tight loop the compiler can unroll; dead words are skipped).
    #[inline]
    pub fn from_fn(n: usize, alive: &Bits, f: impl Fn(usize) -> bool) -> Bits {
        let mut out = Bits::new(n);
        for (wi, o) in out.words.iter_mut().enumerate() {
            let a = alive.words.get(wi).copied().unwrap_or(0);
            if a == 0 {
                continue;
            }
            let base = wi * 64;
            let lim = (n - base).min(64);
            let mut w = 0u64;
            for b in 0..lim {
                w |= (f(base + b) as u64) << b;
            }
            *o = w & a;
        }
        out
    }

    /// The ids below `n` in `alive` whose value in `col` passes `f` (ids
    /// past the end of `col` do not): `from_fn` over a slice, which the
    /// compiler can read 64 values at a time without a bounds check each,
    /// and so compare with vector instructions.
    #[inline]
    pub fn from_col<E: Copy + Sync>(n: usize, alive: &Bits, col: &[E], f: impl Fn(E) -> bool + Sync) -> Bits {
        Bits::from_cols(n, alive, col, col, |x, _| f(x))
    }

    /// `from_col` over two columns read side by side (a value and whether
    /// it is present, say). On processors with AVX2 the loop is compiled
    /// for it: `days_since_last(purchase) > 90` at 10 million contacts,
    /// a compare of an instant and a flag per contact, went from 13.8 to
    /// 4.7 ms (BENCHMARKS.md "Comparisons a word at a time"). From
    /// `SPLIT_COLS` contacts on, two threads take half the words each: the
    /// loop waits on memory (80 MB of sums at 10 million contacts), and
    /// two cores read it faster than one.
    #[inline]
    pub fn from_cols<A: Copy + Sync, B: Copy + Sync>(
        n: usize,
        alive: &Bits,
        a: &[A],
        b: &[B],
        f: impl Fn(A, B) -> bool + Sync,
    ) -> Bits {
        let mut out = Bits::new(n);
        let len = n.min(a.len()).min(b.len());
        let (a, b) = (&a[..len], &b[..len]);
        let words = len.div_ceil(64).min(alive.words.len());
        let fill = |o: &mut [u64], at: usize| fill_cols(o, &alive.words[at..], &a[at * 64..], &b[at * 64..], &f);
        if len < SPLIT_COLS {
            fill(&mut out.words[..words], 0);
        } else {
            let at = words / 2;
            let (first, second) = out.words[..words].split_at_mut(at);
            crate::parallel::both(|| fill(second, at), || fill(first, 0));
        }
        out
    }

    /// The ids below `n` in `alive` set in the words `f(0)`, `f(1)`, …
    /// (bit `id % 64` of word `id / 64`).
    #[inline]
    pub fn from_words(n: usize, alive: &Bits, f: impl Fn(usize) -> u64) -> Bits {
        let mut out = Bits::new(n);
        for (wi, o) in out.words.iter_mut().enumerate() {
            *o = f(wi) & alive.words.get(wi).copied().unwrap_or(0);
        }
        if !n.is_multiple_of(64)
            && let Some(w) = out.words.last_mut()
        {
            *w &= (1u64 << (n % 64)) - 1;
        }
        out
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// The ids of `r` below `len`: one at a time when most are in sparse
    /// (array) containers, a tag's scattered members, where asking roaring
    /// for runs searches for each one's end; else a run at a time (the ids
    /// of a million contacts, mostly consecutive, are a few runs of whole
    /// words).
    pub fn from_roaring(r: &RoaringBitmap, len: usize) -> Bits {
        let mut b = Bits::new(len);
        let st = r.statistics();
        if st.n_values_array_containers as u64 * 2 >= st.cardinality {
            for id in r.iter().map(|id| id as usize).take_while(|&id| id < len) {
                b.words[id >> 6] |= 1 << (id & 63);
            }
            return b;
        }
        let mut it = r.iter();
        while let Some(run) = it.next_range() {
            let (lo, hi) = (*run.start() as usize, (*run.end() as usize).min(len.saturating_sub(1)));
            if lo >= len {
                break;
            }
            b.set_range(lo, hi);
        }
        b
    }

    /// Sets the ids `lo..=hi`.
    fn set_range(&mut self, lo: usize, hi: usize) {
        let (wl, wh) = (lo >> 6, hi >> 6);
        let low_mask = !0u64 << (lo & 63);
        let high_mask = !0u64 >> (63 - (hi & 63));
        if wl == wh {
            self.words[wl] |= low_mask & high_mask;
            return;
        }
        self.words[wl] |= low_mask;
        self.words[wl + 1..wh].fill(!0);
        self.words[wh] |= high_mask;
    }

    pub fn to_roaring(&self) -> RoaringBitmap {
        RoaringBitmap::from_sorted_iter(self.ones().map(|i| i as u32)).expect("ones are sorted")
    }

    #[inline]
    pub fn set(&mut self, i: usize) {
        self.words[i >> 6] |= 1 << (i & 63);
    }

    #[inline]
    pub fn clear(&mut self, i: usize) {
        self.words[i >> 6] &= !(1 << (i & 63));
    }

    #[inline]
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i >> 6] & (1 << (i & 63)) != 0
    }

    /// Grows to `len` bits (new bits clear).
    pub fn grow(&mut self, len: usize) {
        if len > self.len {
            self.len = len;
            self.words.resize(len.div_ceil(64), 0);
        }
    }

    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| w.count_ones() as u64).sum()
    }

    pub fn and_with(&mut self, o: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a &= *b;
        }
        for a in self.words.iter_mut().skip(o.words.len()) {
            *a = 0;
        }
    }

    pub fn or_with(&mut self, o: &Bits) {
        if o.len > self.len {
            self.grow(o.len);
        }
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a |= *b;
        }
    }

    pub fn and_not_with(&mut self, o: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a &= !*b;
        }
    }

    /// Iterates the set bits in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    None
                } else {
                    let t = w.trailing_zeros() as usize;
                    w &= w - 1;
                    Some(wi * 64 + t)
                }
            })
        })
    }
}

/// Contacts from which `Bits::from_cols` compares on two threads.
const SPLIT_COLS: usize = 1 << 20;

/// `out[j]` = the bits of ids `64 j ..` from `a[64 j ..]` and `b[64 j ..]`
/// that pass `f`, within `alive[j]`: the AVX2 build of the loop where the
/// processor has it.
fn fill_cols<A: Copy, B: Copy>(out: &mut [u64], alive: &[u64], a: &[A], b: &[B], f: impl Fn(A, B) -> bool) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2 (checked just above).
        return unsafe { fill_cols_avx2(out, alive, a, b, f) };
    }
    fill_cols_words(out, alive, a, b, f)
}

/// `fill_cols` compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_cols_avx2<A: Copy, B: Copy>(out: &mut [u64], alive: &[u64], a: &[A], b: &[B], f: impl Fn(A, B) -> bool) {
    fill_cols_words(out, alive, a, b, f)
}

/// `fill_cols`' loop: whole words from 64-value chunks of both columns,
/// the last one (when the columns end inside it) one by one.
#[inline(always)]
fn fill_cols_words<A: Copy, B: Copy>(out: &mut [u64], alive: &[u64], a: &[A], b: &[B], f: impl Fn(A, B) -> bool) {
    let len = a.len().min(b.len());
    let whole = (len / 64).min(out.len());
    let words = out.iter_mut().zip(alive);
    for (((o, &live), ca), cb) in words.zip(a.chunks_exact(64)).zip(b.chunks_exact(64)).take(whole) {
        if live == 0 {
            continue;
        }
        let (ca, cb): (&[A; 64], &[B; 64]) = (ca.try_into().expect("64"), cb.try_into().expect("64"));
        let mut w = 0u64;
        for i in 0..64 {
            w |= (f(ca[i], cb[i]) as u64) << i;
        }
        *o = w & live;
    }
    if let (Some(o), Some(&live)) = (out.get_mut(whole), alive.get(whole)) {
        let mut w = 0u64;
        for i in whole * 64..len.min(whole * 64 + 64) {
            w |= (f(a[i], b[i]) as u64) << (i - whole * 64);
        }
        *o = w & live;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_compare_like_a_test_per_contact() {
        let mut seed = 5u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for n in [0usize, 1, 63, 64, 65, 64 * 9 + 17] {
            let a: Vec<i64> = (0..n + 3).map(|_| next() as i64 % 100 - 50).collect();
            let p: Vec<bool> = (0..n + 3).map(|_| next() % 3 != 0).collect();
            let mut alive = Bits::new(n);
            for id in 0..n {
                if next() % 8 != 0 {
                    alive.set(id);
                }
            }
            // columns as long as, longer than and shorter than the contacts
            for len in [n, n + 3, n.saturating_sub(5)] {
                let (a, p) = (&a[..len], &p[..len]);
                let want = Bits::from_fn(n, &alive, |id| id < len && p[id] && a[id] > 7);
                assert_eq!(Bits::from_cols(n, &alive, a, p, |x, q| q && x > 7), want, "n {n} len {len}");
                let want = Bits::from_fn(n, &alive, |id| id < len && a[id] <= -3);
                assert_eq!(Bits::from_col(n, &alive, a, |x| x <= -3), want, "n {n} len {len}");
            }
        }
    }

    /// Past `SPLIT_COLS` contacts two threads compare half the words
    /// each: the same bits, whether the columns end past the contacts,
    /// inside the second half, inside the first, or inside a word.
    #[test]
    fn columns_compared_on_two_threads_like_a_test_per_contact() {
        let n = SPLIT_COLS + 64 * 3 + 5;
        let a: Vec<i64> = (0..n + 7).map(|i| (i as i64).wrapping_mul(2_654_435_761) % 1000).collect();
        let p: Vec<bool> = (0..n + 7).map(|i| i % 7 != 3).collect();
        let mut alive = Bits::new(n);
        for id in (0..n).filter(|id| id % 11 != 4) {
            alive.set(id);
        }
        for len in [n + 7, n, n - 30, SPLIT_COLS / 2 + 64 * 5 + 9, SPLIT_COLS / 2 - 100] {
            let (a, p) = (&a[..len], &p[..len]);
            let want = Bits::from_fn(n, &alive, |id| id < len && p[id] && a[id] > 400);
            let got = Bits::from_cols(n, &alive, a, p, |x, q| q && x > 400);
            assert_eq!(got.count(), want.count(), "len {len}");
            assert!(got == want, "len {len}");
        }
    }

    #[test]
    fn from_roaring_sets_runs_and_single_ids_below_len() {
        let mut r = RoaringBitmap::new();
        r.insert_range(0..64);
        r.insert_range(70..200);
        for i in [255u32, 256, 300, 1000, 65_535, 65_536, 70_000] {
            r.insert(i);
        }
        r.insert_range(129..140);
        // mostly runs, and mostly scattered ids (the other way in)
        let mut sparse: RoaringBitmap = [255u32, 256, 300, 1000, 65_535, 65_536, 70_000].into_iter().collect();
        for i in (2_000u32..60_000).step_by(29) {
            sparse.insert(i);
        }
        assert!(sparse.statistics().n_values_array_containers as u64 * 2 >= sparse.len(), "mostly sparse");
        assert!(r.statistics().n_values_array_containers as u64 * 2 < r.len(), "mostly runs");
        for r in [r, sparse] {
            for len in [0usize, 1, 64, 65, 130, 256, 257, 1001, 30_000, 70_000, 70_001, 80_000] {
                let b = Bits::from_roaring(&r, len);
                let want: Vec<usize> = r.iter().map(|i| i as usize).filter(|&i| i < len).collect();
                assert_eq!(b.ones().collect::<Vec<_>>(), want, "len {len}");
            }
        }
    }

    /// Words taken as they are, within `alive`, and nothing past `n`.
    #[test]
    fn from_words_keeps_alive_ids_below_n() {
        let n = 130;
        let mut alive = Bits::new(n);
        for i in [0, 5, 64, 100, 129] {
            alive.set(i);
        }
        let all = Bits::from_words(n, &alive, |_| u64::MAX);
        assert_eq!(all.ones().collect::<Vec<_>>(), [0, 5, 64, 100, 129]);
        let odd = Bits::from_words(n, &alive, |_| 0xAAAA_AAAA_AAAA_AAAA);
        assert_eq!(odd.ones().collect::<Vec<_>>(), [5, 129]);
        let mut wide = Bits::new(200);
        for i in 0..200 {
            wide.set(i);
        }
        let cut = Bits::from_words(n, &wide, |_| u64::MAX);
        assert_eq!(cut.count(), 130, "nothing at or past n");
    }

    #[test]
    fn algebra() {
        let mut a = Bits::new(200);
        let mut b = Bits::new(200);
        for i in [1, 63, 64, 150] {
            a.set(i);
        }
        for i in [63, 150, 199] {
            b.set(i);
        }
        let mut x = a.clone();
        x.and_with(&b);
        assert_eq!(x.ones().collect::<Vec<_>>(), vec![63, 150]);
        let mut y = a.clone();
        y.or_with(&b);
        assert_eq!(y.count(), 5);
        let mut z = a.clone();
        z.and_not_with(&b);
        assert_eq!(z.ones().collect::<Vec<_>>(), vec![1, 64]);
        assert_eq!(Bits::from_roaring(&a.to_roaring(), 200), a);
    }
}
