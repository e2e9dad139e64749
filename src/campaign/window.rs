//! Cap windows: the `Nh|Nd|Nw|Nmo` durations and which sends fall in a window.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

/// The unit of a cap window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowUnit {
    Hours,
    Days,
    Weeks,
    Months,
}

impl WindowUnit {
    fn suffix(self) -> &'static str {
        match self {
            WindowUnit::Hours => "h",
            WindowUnit::Days => "d",
            WindowUnit::Weeks => "w",
            WindowUnit::Months => "mo",
        }
    }
}

/// A cap's `per`: a positive count of hours, days, weeks or months.
///
/// Rolling windows: `h`, `d` and `w` are fixed lengths of 3600 s, 24 h and
/// 7 × 24 h (a `1d` rolling window is 24 real hours even on a DST day);
/// `Nmo` reaches back N calendar months in UTC from the anchor, clamped to
/// the month's end (the window of 31 March 10:00Z with `1mo` starts after
/// 28 or 29 February 10:00Z).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub count: u32,
    pub unit: WindowUnit,
}

impl Window {
    pub const fn new(count: u32, unit: WindowUnit) -> Window {
        Window { count, unit }
    }

    /// `1d`, `1w` and `1mo`: the only windows that can be calendar windows.
    pub fn is_calendar_unit(self) -> bool {
        self.count == 1 && self.unit != WindowUnit::Hours
    }

    /// The exclusive start of the rolling window that ends at `anchor`:
    /// the window is `(start, anchor]`.
    pub fn rolling_start(self, anchor: DateTime<Utc>) -> DateTime<Utc> {
        let n = i64::from(self.count);
        let back = match self.unit {
            WindowUnit::Hours => TimeDelta::try_hours(n),
            WindowUnit::Days => TimeDelta::try_days(n),
            WindowUnit::Weeks => TimeDelta::try_weeks(n),
            WindowUnit::Months => {
                return anchor.checked_sub_months(Months::new(self.count)).unwrap_or(DateTime::<Utc>::MIN_UTC);
            }
        };
        back.and_then(|d| anchor.checked_sub_signed(d)).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The first local day of the calendar period (day, ISO week starting
    /// Monday, or month) that contains `at` in `tz`. Only meaningful for
    /// calendar units; for others it falls back to the day.
    pub fn calendar_period(self, at: DateTime<Utc>, tz: Tz) -> NaiveDate {
        let local = at.with_timezone(&tz).date_naive();
        match self.unit {
            WindowUnit::Weeks => local.week(chrono::Weekday::Mon).first_day(),
            WindowUnit::Months => local.with_day(1).unwrap_or(local),
            WindowUnit::Days | WindowUnit::Hours => local,
        }
    }

    /// Whether a send at `x` falls in this window as seen from `anchor`:
    /// rolling: `anchor − per < x ≤ anchor`; calendar: `x ≤ anchor` and `x`
    /// is in the same local calendar period of `tz` as `anchor`.
    pub fn contains(self, calendar: bool, anchor: DateTime<Utc>, x: DateTime<Utc>, tz: Tz) -> bool {
        if x > anchor {
            return false;
        }
        if calendar {
            self.calendar_period(x, tz) == self.calendar_period(anchor, tz)
        } else {
            x > self.rolling_start(anchor)
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.suffix())
    }
}

impl FromStr for Window {
    type Err = String;
    /// `Nh`, `Nd`, `Nw` or `Nmo` with N a positive integer, no spaces.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a duration (expected Nh, Nd, Nw or Nmo, e.g. 7d)");
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (num, suffix) = s.split_at(digits);
        let unit = match suffix {
            "h" => WindowUnit::Hours,
            "d" => WindowUnit::Days,
            "w" => WindowUnit::Weeks,
            "mo" => WindowUnit::Months,
            _ => return Err(bad()),
        };
        if num.is_empty() {
            return Err(bad());
        }
        let count: u32 = num.parse().map_err(|_| format!("`{s}` is too long a duration"))?;
        if count == 0 {
            return Err(format!("`{s}` is an empty window (per must be greater than zero)"));
        }
        Ok(Window { count, unit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_the_four_units() {
        for s in ["1h", "36h", "1d", "7d", "2w", "1mo", "12mo"] {
            assert_eq!(s.parse::<Window>().unwrap().to_string(), s);
        }
        for s in ["", "d", "0d", "1m", "1 d", "-1d", "1.5d", "1y", "d1"] {
            assert!(s.parse::<Window>().is_err(), "{s}");
        }
    }

    #[test]
    fn rolling_window_is_half_open_at_the_start() {
        let w: Window = "1d".parse().unwrap();
        let t = utc("2026-01-15T10:00:00Z");
        let tz = chrono_tz::UTC;
        // Exactly 24 h earlier is outside (t − per, t]; a second later is inside.
        assert!(!w.contains(false, t, utc("2026-01-14T10:00:00Z"), tz));
        assert!(w.contains(false, t, utc("2026-01-14T10:00:01Z"), tz));
        assert!(w.contains(false, t, t, tz));
        assert!(!w.contains(false, t, utc("2026-01-15T10:00:01Z"), tz));
    }

    #[test]
    fn month_windows_go_back_calendar_months_in_utc_clamped() {
        let w: Window = "1mo".parse().unwrap();
        assert_eq!(w.rolling_start(utc("2026-03-31T10:00:00Z")), utc("2026-02-28T10:00:00Z"));
        assert_eq!(w.rolling_start(utc("2026-05-15T00:00:00Z")), utc("2026-04-15T00:00:00Z"));
    }

    #[test]
    fn calendar_periods_are_local() {
        let tz = chrono_tz::Asia::Tokyo;
        let w: Window = "1w".parse().unwrap();
        // 2026-01-18 is a Sunday; 15:30Z is Monday 00:30 in Tokyo.
        let sunday_utc_monday_tokyo = utc("2026-01-18T15:30:00Z");
        assert_eq!(w.calendar_period(sunday_utc_monday_tokyo, tz), NaiveDate::from_ymd_opt(2026, 1, 19).unwrap());
        let m: Window = "1mo".parse().unwrap();
        let rome = chrono_tz::Europe::Rome;
        let t = rome.with_ymd_and_hms(2026, 2, 1, 0, 30, 0).unwrap().to_utc();
        // Still 31 January in UTC, already February in Rome.
        assert_eq!(m.calendar_period(t, rome), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
    }
}
