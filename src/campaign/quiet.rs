//! Quiet-hour ranges (`HH:MM-HH:MM`) and the UTC instant a quiet period ends.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A daily range of local wall-clock time, `[start, end)`. When
/// `start > end` it crosses midnight (`22:00-08:00`). `start == end` is
/// refused when parsing: it would mean either nothing or the whole day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuietRange {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietRange {
    pub fn crosses_midnight(self) -> bool {
        self.start > self.end
    }

    /// Whether the local time of day `tod` is quiet.
    pub fn contains(self, tod: NaiveTime) -> bool {
        if self.crosses_midnight() { tod >= self.start || tod < self.end } else { self.start <= tod && tod < self.end }
    }

    /// The minutes of the day covered, as up to two half-open intervals
    /// in minutes since midnight (for overlap checks).
    fn minute_spans(self) -> Vec<(u32, u32)> {
        let m = |t: NaiveTime| t.hour() * 60 + t.minute();
        let (s, e) = (m(self.start), m(self.end));
        if s < e { vec![(s, e)] } else { vec![(s, 24 * 60), (0, e)] }
    }

    /// Whether two ranges share at least one minute. Ranges that only
    /// touch (`20:00-22:00` and `22:00-08:00`) do not overlap.
    pub fn overlaps(self, other: QuietRange) -> bool {
        self.minute_spans().iter().any(|&(a, b)| other.minute_spans().iter().any(|&(c, d)| a < d && c < b))
    }

    /// Minutes of the day covered (at most 1440).
    pub fn minutes(self) -> u32 {
        self.minute_spans().iter().map(|&(a, b)| b - a).sum()
    }

    /// The local date-time at which the quiet period containing `local`
    /// ends (the caller has checked that `local` is quiet).
    fn end_after(self, local: NaiveDateTime) -> NaiveDateTime {
        let day = local.date();
        if self.crosses_midnight() && local.time() >= self.start {
            (day + TimeDelta::days(1)).and_time(self.end)
        } else {
            day.and_time(self.end)
        }
    }
}

impl fmt::Display for QuietRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start.format("%H:%M"), self.end.format("%H:%M"))
    }
}

fn parse_hhmm(s: &str) -> Result<NaiveTime, String> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
        return Err(format!("`{s}` is not a time HH:MM"));
    }
    let h: u32 = s[..2].parse().map_err(|_| format!("`{s}` is not a time HH:MM"))?;
    let m: u32 = s[3..].parse().map_err(|_| format!("`{s}` is not a time HH:MM"))?;
    if h > 23 {
        return Err(format!("hour {h:02} is not in 00-23"));
    }
    if m > 59 {
        return Err(format!("minute {m:02} is not in 00-59"));
    }
    NaiveTime::from_hms_opt(h, m, 0).ok_or_else(|| format!("`{s}` is not a time HH:MM"))
}

impl FromStr for QuietRange {
    type Err = String;
    /// `HH:MM-HH:MM`, 24-hour clock, spaces around the dash allowed.
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once('-').ok_or_else(|| format!("`{s}` is not a range HH:MM-HH:MM"))?;
        let (start, end) = (parse_hhmm(a.trim()), parse_hhmm(b.trim()));
        let (start, end) = match (start, end) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(why), _) | (_, Err(why)) => {
                return Err(format!("`{s}` is not a range HH:MM-HH:MM: {why}"));
            }
        };
        if start == end {
            return Err(format!("`{s}` starts and ends at the same time (an empty or a whole-day range is ambiguous)"));
        }
        Ok(QuietRange { start, end })
    }
}

/// Converts a local wall-clock time to the first UTC instant after `after`
/// at which the wall clock of `tz` shows it, resolving DST:
/// - an ambiguous time (the repeated hour in autumn) gives its earlier
///   occurrence, or the later one if the earlier is not after `after`;
/// - a time that does not exist (the skipped hour in spring) gives the first
///   valid instant after it, i.e. the moment of the transition (02:30 on the
///   last Sunday of March in Rome gives 03:00 CEST = 01:00Z).
pub fn local_to_utc_after(tz: Tz, local: NaiveDateTime, after: DateTime<Utc>) -> DateTime<Utc> {
    let mut wall = local;
    // A gap is at most a day long (Samoa 2011); step a minute at a time.
    for _ in 0..(2 * 24 * 60) {
        match tz.from_local_datetime(&wall) {
            LocalResult::Single(d) => return d.to_utc(),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.to_utc(), b.to_utc());
                return if a > after { a } else { b };
            }
            LocalResult::None => {
                wall = wall.with_second(0).unwrap_or(wall) + TimeDelta::minutes(1);
            }
        }
    }
    // Unreachable with real tz data; never go backwards.
    after + TimeDelta::minutes(1)
}

/// If `t` is quiet under `ranges` in `tz`, the instant the quiet period
/// ends; `None` if `t` is not quiet. Ranges that touch (`20:00-22:00` and
/// `22:00-08:00`) form one period, so this returns its final end.
pub fn quiet_until(ranges: &[QuietRange], tz: Tz, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut at = t;
    let mut moved = false;
    for _ in 0..=ranges.len() {
        let local = at.with_timezone(&tz).naive_local();
        let Some(r) = ranges.iter().find(|r| r.contains(local.time())) else {
            break;
        };
        at = local_to_utc_after(tz, r.end_after(local), at);
        moved = true;
    }
    moved.then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> QuietRange {
        s.parse().unwrap()
    }
    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parses_ranges_strictly() {
        assert_eq!(r("22:00-08:00").to_string(), "22:00-08:00");
        assert_eq!(r("09:30 - 12:00").to_string(), "09:30-12:00");
        assert_eq!(
            "25:00-08:00".parse::<QuietRange>().unwrap_err(),
            "`25:00-08:00` is not a range HH:MM-HH:MM: hour 25 is not in 00-23"
        );
        assert!("8:00-09:00".parse::<QuietRange>().is_err());
        assert!("08:60-09:00".parse::<QuietRange>().is_err());
        assert!("08:00".parse::<QuietRange>().is_err());
        assert!("08:00-08:00".parse::<QuietRange>().is_err());
    }

    #[test]
    fn contains_across_midnight() {
        let q = r("22:00-08:00");
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert!(q.contains(t(22, 0)));
        assert!(q.contains(t(3, 0)));
        assert!(q.contains(t(7, 59)));
        assert!(!q.contains(t(8, 0)));
        assert!(!q.contains(t(21, 59)));
    }

    #[test]
    fn overlap_is_about_shared_minutes() {
        assert!(r("22:00-08:00").overlaps(r("07:00-09:00")));
        assert!(r("22:00-08:00").overlaps(r("23:00-23:30")));
        assert!(!r("22:00-08:00").overlaps(r("08:00-22:00")));
        assert!(!r("20:00-22:00").overlaps(r("22:00-08:00")));
        assert!(r("12:00-14:00").overlaps(r("13:59-15:00")));
    }

    #[test]
    fn touching_ranges_defer_to_the_last_end() {
        let tz = chrono_tz::UTC;
        let ranges = [r("20:00-22:00"), r("22:00-08:00")];
        assert_eq!(quiet_until(&ranges, tz, utc("2026-01-10T21:00:00Z")), Some(utc("2026-01-11T08:00:00Z")));
        assert_eq!(quiet_until(&ranges, tz, utc("2026-01-10T12:00:00Z")), None);
    }

    #[test]
    fn nonexistent_and_repeated_local_ends() {
        let rome = chrono_tz::Europe::Rome;
        let q = [r("23:00-02:30")];
        // Spring 2026-03-29: 02:30 does not exist in Rome, the first valid
        // instant after it is 03:00 CEST = 01:00Z.
        assert_eq!(quiet_until(&q, rome, utc("2026-03-28T23:00:00Z")), Some(utc("2026-03-29T01:00:00Z")));
        // Autumn 2026-10-25: 02:30 happens twice; from 00:30 CEST the first
        // one (CEST, 00:30Z) ends the quiet period.
        assert_eq!(quiet_until(&q, rome, utc("2026-10-24T22:30:00Z")), Some(utc("2026-10-25T00:30:00Z")));
        // From 02:15 CET (the second 02:15, 01:15Z) the end is the second
        // 02:30, 01:30Z, never an instant in the past.
        assert_eq!(quiet_until(&q, rome, utc("2026-10-25T01:15:00Z")), Some(utc("2026-10-25T01:30:00Z")));
    }
}
