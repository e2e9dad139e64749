//! Derived facts: score rules, engagement, lifecycle and RFM, with the
//! thresholds of spec/segments.md as defaults (configurable in config.toml).
//! Pure functions over per-contact summaries; the store and the engine call them.

pub mod summary;

use serde::{Deserialize, Serialize};

/// Score changes per event kind (`[score]` in config.toml).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreRules {
    pub email_open: i64,
    pub email_click: i64,
    pub purchase: i64,
    pub hard_bounce: i64,
    /// extra rules: kind name → points
    pub kinds: std::collections::BTreeMap<String, i64>,
}

impl Default for ScoreRules {
    fn default() -> Self {
        ScoreRules { email_open: 1, email_click: 3, purchase: 10, hard_bounce: -5, kinds: Default::default() }
    }
}

impl ScoreRules {
    /// Points for one event of `kind`; `bounce_type` is the `type` parameter of `email_bounce`.
    pub fn delta(&self, kind: &str, bounce_type: Option<&str>) -> i64 {
        if let Some(p) = self.kinds.get(kind) {
            return *p;
        }
        match kind {
            "email_open" => self.email_open,
            "email_click" => self.email_click,
            "purchase" => self.purchase,
            "email_bounce" if bounce_type == Some("hard") => self.hard_bounce,
            _ => 0,
        }
    }
}

/// Thresholds of the derived facts (`[derived]` in config.toml), in days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub engagement_window_days: i64,
    pub super_active_min_sent: u64,
    /// percent of sent that were opened
    pub super_active_open_pct: u64,
    pub new_within_days: i64,
    pub loyal_min_purchases: u64,
    pub active_within_days: i64,
    pub lapsed_after_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            engagement_window_days: 90,
            super_active_min_sent: 3,
            super_active_open_pct: 50,
            new_within_days: 90,
            loyal_min_purchases: 3,
            active_within_days: 180,
            lapsed_after_days: 365,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Engagement {
    SuperActive,
    Moderate,
    Dormant,
    None,
}

impl Engagement {
    pub const ALL: [Engagement; 4] =
        [Engagement::SuperActive, Engagement::Moderate, Engagement::Dormant, Engagement::None];
    pub fn name(self) -> &'static str {
        match self {
            Engagement::SuperActive => "super_active",
            Engagement::Moderate => "moderate",
            Engagement::Dormant => "dormant",
            Engagement::None => "none",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lifecycle {
    Prospect,
    New,
    Loyal,
    Active,
    Disengaging,
    Lapsed,
}

impl Lifecycle {
    pub const ALL: [Lifecycle; 6] = [
        Lifecycle::Prospect,
        Lifecycle::New,
        Lifecycle::Loyal,
        Lifecycle::Active,
        Lifecycle::Disengaging,
        Lifecycle::Lapsed,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Lifecycle::Prospect => "prospect",
            Lifecycle::New => "new",
            Lifecycle::Loyal => "loyal",
            Lifecycle::Active => "active",
            Lifecycle::Disengaging => "disengaging",
            Lifecycle::Lapsed => "lapsed",
        }
    }
}

const DAY: i64 = 86_400;

impl Thresholds {
    /// Engagement from the email sends and opens inside the window
    /// (`ts > now − window`): super_active needs ≥ min sent and opens ≥ pct% of sends.
    pub fn engagement(&self, sent: u64, opened: u64) -> Engagement {
        if sent >= self.super_active_min_sent && opened * 100 >= sent * self.super_active_open_pct {
            Engagement::SuperActive
        } else if opened >= 1 {
            Engagement::Moderate
        } else if sent >= 1 {
            Engagement::Dormant
        } else {
            Engagement::None
        }
    }

    /// Lifecycle from the lifetime purchase count and the last purchase time.
    /// Ages are measured as `now − last`, with "within N days" meaning
    /// `now − last < N days` and "over 365 days" meaning `now − last ≥ 365 days`.
    pub fn lifecycle(&self, purchases: u64, last_purchase: Option<i64>, now: i64) -> Lifecycle {
        let Some(last) = last_purchase.filter(|_| purchases > 0) else {
            return Lifecycle::Prospect;
        };
        let age = now - last;
        if purchases == 1 && age < self.new_within_days * DAY {
            Lifecycle::New
        } else if purchases >= self.loyal_min_purchases && age < self.active_within_days * DAY {
            Lifecycle::Loyal
        } else if age < self.active_within_days * DAY {
            Lifecycle::Active
        } else if age < self.lapsed_after_days * DAY {
            Lifecycle::Disengaging
        } else {
            Lifecycle::Lapsed
        }
    }
}

/// RFM quintile of each value among buyers: `1 + 5·r / n` where `r` is the
/// number of buyers with a strictly smaller value (so ties share a score and
/// the result is the same as SQL's `1 + 5 * (RANK() OVER (ORDER BY v) - 1) / n`).
/// Larger values are better: pass the last purchase time for recency.
/// Any ordered type: the narrowest that holds the values (a count, a time,
/// a sum) keeps the copies small and the comparisons quick.
pub fn quintiles<T: Ord + Copy + Default>(values: &[T]) -> Vec<u8> {
    let n = values.len();
    if n == 0 {
        return vec![];
    }
    // `1 + 5·r / n` reaches k + 1 once r ≥ ⌈k·n / 5⌉, and r ≥ m exactly
    // when the value is above the m-th smallest: four order statistics
    // (selected, not sorted: linear where a sort was n log n) and a pass
    // comparing every value with them
    let ranks: [usize; 4] = std::array::from_fn(|k| ((k + 1) * n).div_ceil(5) - 1);
    let mut work = values.to_vec();
    let mut cut = [T::default(); 4];
    select_ranks(&mut work, 0, &ranks, &mut cut);
    values.iter().map(|&v| 1 + cut.iter().map(|&c| (v > c) as u8).sum::<u8>()).collect()
}

/// Puts in `out[i]` the value of rank `ranks[i]` (0-based, ascending) of
/// the whole slice `v` is a part of, `v` starting at rank `offset`.
fn select_ranks<T: Ord + Copy>(v: &mut [T], offset: usize, ranks: &[usize], out: &mut [T]) {
    if ranks.is_empty() {
        return;
    }
    let h = ranks.len() / 2;
    let (lo, mid, hi) = v.select_nth_unstable(ranks[h] - offset);
    out[h] = *mid;
    // equal ranks share the value
    let left = ranks[..h].iter().take_while(|&&r| r < ranks[h]).count();
    out[left..h].fill(*mid);
    let right = h + 1 + ranks[h + 1..].iter().take_while(|&&r| r == ranks[h]).count();
    out[h + 1..right].fill(*mid);
    let lo_len = lo.len();
    select_ranks(lo, offset, &ranks[..left], &mut out[..left]);
    select_ranks(hi, offset + lo_len + 1, &ranks[right..], &mut out[right..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engagement_levels() {
        let t = Thresholds::default();
        assert_eq!(t.engagement(0, 0), Engagement::None);
        assert_eq!(t.engagement(2, 0), Engagement::Dormant);
        assert_eq!(t.engagement(2, 2), Engagement::Moderate); // fewer than 3 sent
        assert_eq!(t.engagement(4, 2), Engagement::SuperActive); // 50%
        assert_eq!(t.engagement(5, 2), Engagement::Moderate); // 40%
    }

    #[test]
    fn lifecycle_stages() {
        let t = Thresholds::default();
        let now = 1000 * DAY;
        assert_eq!(t.lifecycle(0, None, now), Lifecycle::Prospect);
        assert_eq!(t.lifecycle(1, Some(now - 10 * DAY), now), Lifecycle::New);
        assert_eq!(t.lifecycle(1, Some(now - 100 * DAY), now), Lifecycle::Active);
        assert_eq!(t.lifecycle(3, Some(now - 179 * DAY), now), Lifecycle::Loyal);
        assert_eq!(t.lifecycle(3, Some(now - 180 * DAY), now), Lifecycle::Disengaging);
        assert_eq!(t.lifecycle(2, Some(now - 364 * DAY), now), Lifecycle::Disengaging);
        assert_eq!(t.lifecycle(2, Some(now - 365 * DAY), now), Lifecycle::Lapsed);
    }

    #[test]
    fn quintiles_share_ties() {
        assert_eq!(quintiles(&[10, 20, 30, 40, 50]), vec![1, 2, 3, 4, 5]);
        assert_eq!(quintiles(&[5, 5, 5, 5]), vec![1, 1, 1, 1]);
        assert_eq!(quintiles(&[1, 2, 2, 3]), vec![1, 2, 2, 4]);
        assert_eq!(quintiles(&[3, 2, 2, 1]), vec![4, 2, 2, 1]);
        assert_eq!(quintiles(&[7, -1, 7, 0, 7, -1, 9, 0, 0, 3]), vec![4, 1, 4, 2, 4, 1, 5, 2, 2, 3]);
    }

    /// The three key widths (a range under 2^32, under 2^96, wider) score
    /// alike: the same values shifted and spread agree with a plain ranking.
    #[test]
    fn quintiles_of_every_range() {
        let plain = |v: &[i128]| -> Vec<u8> {
            v.iter().map(|x| (1 + 5 * v.iter().filter(|y| *y < x).count() / v.len()) as u8).collect()
        };
        let base: Vec<i128> = (0..200).map(|i| (i * 7919 % 61) as i128 - 30).collect();
        for scale in [1i128, 1 << 20, 1 << 40, 1 << 80, 1 << 100] {
            for shift in [0i128, -(1 << 62), 1 << 120] {
                let v: Vec<i128> = base.iter().map(|x| x * scale + shift).collect();
                assert_eq!(quintiles(&v), plain(&v), "scale {scale} shift {shift}");
            }
        }
        let extremes = [i128::MIN, 0, i128::MAX, -1, i128::MAX, 5];
        assert_eq!(quintiles(&extremes), plain(&extremes));
    }

    /// Every length from 1 to 60, values with many ties and with none,
    /// against the ranking by definition.
    #[test]
    fn quintiles_of_every_length() {
        let plain = |v: &[i128]| -> Vec<u8> {
            v.iter().map(|x| (1 + 5 * v.iter().filter(|y| *y < x).count() / v.len()) as u8).collect()
        };
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for n in 1..=60usize {
            for spread in [1u64, 3, 10, 1 << 30] {
                let v: Vec<i128> = (0..n).map(|_| (next() % spread) as i128 - 2).collect();
                assert_eq!(quintiles(&v), plain(&v), "{v:?}");
            }
        }
    }

    #[test]
    fn score_rules() {
        let r = ScoreRules::default();
        assert_eq!(r.delta("purchase", None), 10);
        assert_eq!(r.delta("email_bounce", Some("hard")), -5);
        assert_eq!(r.delta("email_bounce", Some("soft")), 0);
        assert_eq!(r.delta("page_view", None), 0);
    }
}
