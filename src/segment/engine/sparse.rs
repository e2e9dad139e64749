//! Per-contact totals kept for the few contacts that have any: a sum
//! whose filter or window leaves few events lists (contact, amount) pairs
//! as it scans, then sorts them by contact (a radix sort: a few sequential
//! passes, where a dense array takes one update at a random place per
//! event) and adds up each contact's run. No array over every contact is
//! zeroed, merged between threads or compared whole.

/// One summed event: the contact and the amount (in the column's units).
#[derive(Clone, Copy, Default, Debug)]
pub struct Pair {
    pub contact: u32,
    pub amount: i64,
}

/// Totals of the contacts with a summed event, by increasing id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub ids: Vec<u32>,
    /// exact: i64 amounts added in i128 cannot overflow
    pub sum: Vec<i128>,
}

impl Totals {
    /// Sorts `pairs` by contact (every contact below `n`) and adds up each
    /// contact's amounts.
    pub fn from_pairs(pairs: Vec<Pair>, n: usize) -> Totals {
        let sorted = sort_by_contact(pairs, n);
        let mut out = Totals::default();
        for p in sorted {
            match out.ids.last() {
                Some(&last) if last == p.contact => *out.sum.last_mut().expect("one per id") += p.amount as i128,
                _ => {
                    out.ids.push(p.contact);
                    out.sum.push(p.amount as i128);
                }
            }
        }
        out
    }

    /// The totals of two disjoint sets of events.
    pub fn merge(self, other: Totals) -> Totals {
        let mut out = Totals {
            ids: Vec::with_capacity(self.ids.len() + other.ids.len()),
            sum: Vec::with_capacity(self.ids.len() + other.ids.len()),
        };
        let (mut i, mut j) = (0, 0);
        loop {
            // the smaller id next; an id in both adds its two totals
            let (id, s) = match (self.ids.get(i), other.ids.get(j)) {
                (None, None) => break,
                (Some(&a), Some(&b)) if a == b => {
                    i += 1;
                    j += 1;
                    (a, self.sum[i - 1] + other.sum[j - 1])
                }
                (Some(&a), Some(&b)) if a < b => {
                    i += 1;
                    (a, self.sum[i - 1])
                }
                (Some(&a), None) => {
                    i += 1;
                    (a, self.sum[i - 1])
                }
                (_, Some(&b)) => {
                    j += 1;
                    (b, other.sum[j - 1])
                }
            };
            out.ids.push(id);
            out.sum.push(s);
        }
        out
    }

    /// A contact's total (0 without a summed event).
    pub fn get(&self, id: usize) -> i128 {
        match u32::try_from(id).map(|id| self.ids.binary_search(&id)) {
            Ok(Ok(at)) => self.sum[at],
            _ => 0,
        }
    }

    /// The totals as one value per contact below `n`.
    pub fn dense(&self, n: usize) -> Vec<i128> {
        // written only (no read first): untouched pages stay unmapped, which
        // is what few totals want (unlike the accumulators of `zeroed`)
        let mut v = vec![0i128; n];
        for (&id, &s) in self.ids.iter().zip(&self.sum) {
            if let Some(x) = v.get_mut(id as usize) {
                *x = s;
            }
        }
        v
    }

    pub fn bytes(&self) -> usize {
        self.ids.len() * 4 + self.sum.len() * 16
    }
}

/// Bits a radix pass sorts on at most: 4,096 buckets, whose write
/// positions stay in the core's caches.
const DIGIT_BITS: u32 = 12;

/// `pairs` in increasing contact order (stable), contacts below `n`: an
/// LSD radix sort in as few passes of up to 12 bits as `n` needs.
pub fn sort_by_contact(mut pairs: Vec<Pair>, n: usize) -> Vec<Pair> {
    let bits = usize::BITS - n.saturating_sub(1).leading_zeros();
    if pairs.len() < 2 || bits == 0 {
        return pairs;
    }
    let passes = bits.div_ceil(DIGIT_BITS);
    let digit = bits.div_ceil(passes);
    let mask = (1u32 << digit) - 1;
    let mut other = vec![Pair::default(); pairs.len()];
    let mut at = vec![0usize; 1 << digit];
    for pass in 0..passes {
        let shift = pass * digit;
        at.iter_mut().for_each(|x| *x = 0);
        for p in &pairs {
            at[((p.contact >> shift) & mask) as usize] += 1;
        }
        let mut start = 0;
        for x in at.iter_mut() {
            let c = *x;
            *x = start;
            start += c;
        }
        for p in &pairs {
            let d = ((p.contact >> shift) & mask) as usize;
            other[at[d]] = *p;
            at[d] += 1;
        }
        std::mem::swap(&mut pairs, &mut other);
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(seed: u64, len: usize, n: u32) -> Vec<Pair> {
        let mut s = seed;
        (0..len)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                Pair { contact: ((s >> 33) % n as u64) as u32, amount: i as i64 - 50 }
            })
            .collect()
    }

    /// The radix sort orders by contact and keeps equal contacts in their
    /// order, for one, two and three passes and ids at the top of the range.
    #[test]
    fn radix_sort_is_a_stable_sort() {
        for n in [1u32, 2, 3, 100, 4096, 4097, 1 << 20, 10_000_000, u32::MAX] {
            let mut ps = pairs(n as u64, 5_000, n);
            ps.push(Pair { contact: n - 1, amount: 7 });
            let mut want = ps.clone();
            want.sort_by_key(|p| p.contact);
            let got = sort_by_contact(ps, n as usize);
            let key = |v: &[Pair]| v.iter().map(|p| (p.contact, p.amount)).collect::<Vec<_>>();
            assert_eq!(key(&got), key(&want), "n = {n}");
        }
    }

    /// Totals equal a dense sum; merging halves equals the whole.
    #[test]
    fn totals_and_merges_equal_dense_sums() {
        let n = 300usize;
        let ps = pairs(9, 2_000, n as u32);
        let mut dense = vec![0i128; n];
        for p in &ps {
            dense[p.contact as usize] += p.amount as i128;
        }
        let whole = Totals::from_pairs(ps.clone(), n);
        assert_eq!(whole.dense(n), dense);
        assert!(whole.ids.windows(2).all(|w| w[0] < w[1]));
        for cut in [0, 1, 700, 1_999, 2_000] {
            let a = Totals::from_pairs(ps[..cut].to_vec(), n);
            let b = Totals::from_pairs(ps[cut..].to_vec(), n);
            assert_eq!(a.merge(b), whole, "cut at {cut}");
        }
        for id in 0..n + 5 {
            assert_eq!(whole.get(id), dense.get(id).copied().unwrap_or(0));
        }
    }
}
