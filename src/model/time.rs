//! Instants and dates: reach keeps time as whole seconds since the Unix epoch
//! (UTC). Parsing accepts RFC 3339 and the common export formats of other
//! tools; naive times are read in a given timezone (UTC by default).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Seconds since 1970-01-01T00:00:00Z.
pub type Ts = i64;

pub fn format_ts(ts: Ts) -> String {
    match DateTime::<Utc>::from_timestamp(ts, 0) {
        Some(d) => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => ts.to_string(),
    }
}

pub fn now_ts() -> Ts {
    Utc::now().timestamp()
}

/// How to read timestamps in input files.
#[derive(Clone, Debug, Default)]
pub struct TimeFormat {
    /// An explicit chrono format (`--date-format`), tried first.
    pub pattern: Option<String>,
    /// Timezone for timestamps without an offset; UTC if none.
    pub tz: Option<Tz>,
    /// Read `01/02/2024` as day/month instead of month/day.
    pub day_first: bool,
}

const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
];

impl TimeFormat {
    /// Parses a timestamp; returns a reason on failure.
    pub fn parse(&self, s: &str) -> Result<Ts, String> {
        let t = crate::model::trim_fast(s);
        if let Some(ts) = fast_rfc3339_utc(t) {
            return Ok(ts);
        }
        if let Some(p) = &self.pattern {
            if let Ok(d) = DateTime::parse_from_str(t, p) {
                return Ok(d.timestamp());
            }
            if let Ok(n) = NaiveDateTime::parse_from_str(t, p) {
                return self.localize(n, s);
            }
            if let Ok(d) = NaiveDate::parse_from_str(t, p) {
                return self.localize(d.and_hms_opt(0, 0, 0).unwrap(), s);
            }
            return Err(format!("`{s}` does not match the date format `{p}`"));
        }
        if let Some(v) = self.fast_common(t, s) {
            return v;
        }
        self.parse_slow(t, s)
    }

    /// The usual spellings of other tools' exports, read without chrono's
    /// format interpreter: `YYYY-MM-DD[ HH:MM[:SS[.f]]]` (space or `T`),
    /// with or without an offset (`split_offset`), `M/D/YYYY[ H:MM[:SS]]`
    /// (day first if asked), `D.M.YYYY[ H:MM[:SS]]`, Unix time (`epoch`).
    /// `None` leaves the string to `parse_slow`, which gives the same
    /// answer for everything this accepts (a test compares them); the
    /// chain of formats there costs a microsecond a row for these.
    fn fast_common(&self, t: &str, orig: &str) -> Option<Result<Ts, String>> {
        let (b, offset) = match split_offset(t.as_bytes()) {
            Some((b, off)) => (b, Some(off)),
            None => (t.as_bytes(), None),
        };
        let (date, rest) = if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
            let d = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
            match b.get(10) {
                None => return Some(self.civil(d.0, d.1, d.2, 0, 0, 0, orig)),
                Some(b' ' | b'T') => (d, &b[11..]),
                Some(_) => return None,
            }
        } else if b.contains(&b'/') {
            let (first, r) = take_digits(b, 1, 2)?;
            let r = r.strip_prefix(b"/")?;
            let (second, r) = take_digits(r, 1, 2)?;
            let r = r.strip_prefix(b"/")?;
            let (year, r) = take_digits(r, 4, 4)?;
            let (m, d) = if self.day_first { (second, first) } else { (first, second) };
            match r {
                [] => return Some(self.civil(year, m, d, 0, 0, 0, orig)),
                [b' ', rest @ ..] => ((year, m, d), rest),
                _ => return None,
            }
        } else if let Some((d, rest)) = dotted_date(b) {
            match rest {
                [] => return Some(self.civil(d.0, d.1, d.2, 0, 0, 0, orig)),
                [b' ', rest @ ..] => (d, rest),
                _ => return None,
            }
        } else if let Some(ts) = epoch(b) {
            return Some(Ok(ts));
        } else {
            return None;
        };
        // the time: H:MM (one or two hour digits only after a slash date)
        let iso = b[4] == b'-';
        let (h, r) = if iso { (digits(rest.get(..2)?)?, &rest[2..]) } else { take_digits(rest, 1, 2)? };
        let r = r.strip_prefix(b":")?;
        let mi = digits(r.get(..2)?)?;
        let r = &r[2..];
        let (se, r) = match r {
            [] => (0, r),
            [b':', s0, s1, r @ ..] => (digits(&[*s0, *s1])?, r),
            _ => return None,
        };
        match r {
            [] => {}
            // a fraction after the seconds, dropped (ISO dates only)
            [b'.', f @ ..] if iso && (1..=9).contains(&f.len()) && f.iter().all(u8::is_ascii_digit) => {}
            _ => return None,
        }
        if se == 60 {
            return None; // a leap second: as chrono reads it
        }
        match offset {
            // an offset says the instant: no timezone to read it in
            Some(off) => Some(
                Self { tz: None, ..Self::default() }.civil(date.0, date.1, date.2, h, mi, se, orig).map(|t| t - off),
            ),
            None => Some(self.civil(date.0, date.1, date.2, h, mi, se, orig)),
        }
    }

    /// A civil date and time read in `self.tz`; `Err` where it does not
    /// exist, as `parse_slow` says.
    #[allow(clippy::too_many_arguments)]
    fn civil(&self, y: i64, m: i64, d: i64, h: i64, mi: i64, s: i64, orig: &str) -> Result<Ts, String> {
        let bad = || Err(format!("`{orig}` is not a timestamp (expected RFC 3339 such as 2026-01-31T09:30:00Z)"));
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || h > 23 || mi > 59 || s > 59 {
            return bad();
        }
        match self.tz {
            None => Ok(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s),
            Some(_) => match NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
                .and_then(|day| day.and_hms_opt(h as u32, mi as u32, s as u32))
            {
                Some(n) => self.localize(n, orig),
                None => bad(),
            },
        }
    }

    /// Every format reach reads, in turn (with no `--date-format`).
    fn parse_slow(&self, t: &str, s: &str) -> Result<Ts, String> {
        if let Ok(d) = DateTime::parse_from_rfc3339(t) {
            return Ok(d.timestamp());
        }
        if let Ok(d) = DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%:z") {
            return Ok(d.timestamp());
        }
        if let Ok(d) = DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f %z") {
            return Ok(d.timestamp());
        }
        // an ISO date and time with an offset as other tools write them
        // (`+01`, `+0100`, ` UTC`: PostgreSQL's and DuckDB's CSV, BigQuery's)
        if let Some((naive, off)) = split_offset(t.as_bytes()) {
            // (cut at an ASCII byte: still UTF-8)
            let naive = std::str::from_utf8(naive).unwrap_or_default();
            for f in NAIVE_FORMATS {
                if let Ok(n) = NaiveDateTime::parse_from_str(naive, f) {
                    return Ok(n.and_utc().timestamp() - off);
                }
            }
        }
        for f in NAIVE_FORMATS {
            if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
                return self.localize(n, s);
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return self.localize(d.and_hms_opt(0, 0, 0).unwrap(), s);
        }
        // US style 12/1/2010 8:26 (or 8:26:00 PM, as spreadsheets write
        // it) unless day-first was asked for; dots, as in 10.11.2024 14:15,
        // are written day first
        let slash: &[&str] = if self.day_first {
            &["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%Y %I:%M %p"]
        } else {
            &["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p"]
        };
        let slash = slash.iter().chain(&["%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"]);
        // (a year of four digits: `%Y` reads `24` as the year 24)
        let four = |d: NaiveDate| chrono::Datelike::year(&d) >= 1000;
        for f in slash {
            if let Ok(n) = NaiveDateTime::parse_from_str(t, f)
                && four(n.date())
            {
                return self.localize(n, s);
            }
            if let Ok(d) = NaiveDate::parse_from_str(t, f)
                && four(d)
            {
                return self.localize(d.and_hms_opt(0, 0, 0).unwrap(), s);
            }
        }
        if let Some(ts) = epoch(t.as_bytes()) {
            return Ok(ts);
        }
        // e-mail headers' and some APIs' `Sun, 10 Nov 2024 14:15:42 +0000`
        if let Ok(d) = DateTime::parse_from_rfc2822(t) {
            return Ok(d.timestamp());
        }
        Err(format!("`{s}` is not a timestamp (expected RFC 3339 such as 2026-01-31T09:30:00Z)"))
    }

    fn localize(&self, n: NaiveDateTime, orig: &str) -> Result<Ts, String> {
        match self.tz {
            None => Ok(n.and_utc().timestamp()),
            Some(tz) => tz
                .from_local_datetime(&n)
                .earliest()
                .map(|d| d.timestamp())
                .ok_or_else(|| format!("`{orig}` does not exist in {tz} (daylight saving gap)")),
        }
    }
}

/// Fast path for `YYYY-MM-DDTHH:MM:SSZ` (what reach exports), no allocation.
fn fast_rfc3339_utc(s: &str) -> Option<Ts> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b' ')
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as i64;
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se)
}

/// An ISO date and time (`YYYY-MM-DD`, a space or `T`, more) cut from
/// the offset that ends it, and the offset in seconds east of UTC:
/// `Z`, `UTC`, `+HH`, `+HHMM` or `+HH:MM` (or `-`), after the time or
/// after one space. PostgreSQL and DuckDB write `2024-11-10 13:15:42+01`,
/// BigQuery `2024-11-10 13:15:42 UTC`, strftime's `%z` `+0100`. `None`
/// when `b` is not such a date or has no offset.
fn split_offset(b: &[u8]) -> Option<(&[u8], i64)> {
    if b.len() < 12 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return None;
    }
    let (rest, off) = if let Some(r) = b.strip_suffix(b"Z").or_else(|| b.strip_suffix(b"UTC")) {
        (r, 0)
    } else {
        // the sign is the last `+` or `-`, past the date
        let at = 11 + b[11..].iter().rposition(|&c| c == b'+' || c == b'-')?;
        let (h, m) = match &b[at + 1..] {
            [h0, h1] => ([*h0, *h1], [b'0', b'0']),
            [h0, h1, m0, m1] | [h0, h1, b':', m0, m1] => ([*h0, *h1], [*m0, *m1]),
            _ => return None,
        };
        let (h, m) = (digits(&h)?, digits(&m)?);
        if h > 23 || m > 59 {
            return None;
        }
        let off = h * 3600 + m * 60;
        (&b[..at], if b[at] == b'-' { -off } else { off })
    };
    let rest = rest.strip_suffix(b" ").unwrap_or(rest);
    (rest.len() > 11).then_some((rest, off))
}

/// A civil date: (year, month, day).
type Ymd = (i64, i64, i64);

/// `D.M.YYYY` (day and month of one or two digits) at the start of `b`:
/// (year, month, day) and what follows.
fn dotted_date(b: &[u8]) -> Option<(Ymd, &[u8])> {
    let (d, r) = take_digits(b, 1, 2)?;
    let (m, r) = take_digits(r.strip_prefix(b".")?, 1, 2)?;
    let (y, r) = take_digits(r.strip_prefix(b".")?, 4, 4)?;
    Some(((y, m, d), r))
}

/// Unix time spelled in digits, read by its length as other tools write
/// it: seconds (1 to 11 digits, or with a fraction of 1 to 9 digits,
/// dropped), milliseconds (12 or 13 digits; JavaScript, Segment, Kafka),
/// microseconds (14 to 16) or nanoseconds (17 to 19), each down to the
/// second. Eleven digits of seconds reach the year 5138, twelve digits of
/// milliseconds start in 1973.
fn epoch(b: &[u8]) -> Option<i64> {
    let (whole, fraction) = match b.iter().position(|&c| c == b'.') {
        Some(dot) => (&b[..dot], Some(&b[dot + 1..])),
        None => (b, None),
    };
    if whole.is_empty() || whole.len() > 19 || !whole.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // (19 digits can pass i64: read as u64, which holds them all)
    let n = whole.iter().fold(0u64, |v, c| v * 10 + (c - b'0') as u64);
    let per_second = match (whole.len(), fraction) {
        (1..=11, None) => 1,
        (1..=11, Some(f)) if (1..=9).contains(&f.len()) && f.iter().all(u8::is_ascii_digit) => 1,
        (12..=13, None) => 1_000,
        (14..=16, None) => 1_000_000,
        (17..=19, None) => 1_000_000_000,
        _ => return None,
    };
    i64::try_from(n / per_second).ok()
}

/// The number `b` spells in ASCII digits (`None` for anything else).
fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i64, |v, c| v * 10 + (c - b'0') as i64))
}

/// Between `min` and `max` leading digits of `b` (as many as there are),
/// their number, and what follows them.
fn take_digits(b: &[u8], min: usize, max: usize) -> Option<(i64, &[u8])> {
    let n = b.iter().take(max + 1).take_while(|c| c.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    Some((digits(&b[..n])?, &b[n..]))
}

/// Days in month `m` (1–12) of year `y` (proleptic Gregorian).
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let t = crate::model::trim_fast(s);
    let bad = || format!("`{s}` is not a date (expected YYYY-MM-DD)");
    // the usual spelling (a birth date on every row of a contacts file)
    // without chrono's format interpreter
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *t.as_bytes()
        && [y0, y1, y2, y3, m0, m1, d0, d1].iter().all(u8::is_ascii_digit)
    {
        let n = |a: &[u8]| a.iter().fold(0u32, |v, c| v * 10 + (c - b'0') as u32);
        let (y, m, d) = (n(&[y0, y1, y2, y3]), n(&[m0, m1]), n(&[d0, d1]));
        return NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(bad);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick path for `YYYY-MM-DD` agrees with chrono's parser.
    #[test]
    fn dates_parse_as_chrono_does() {
        let chrono_date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        for s in [
            "1976-01-08",
            " 2024-02-29 ",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "0000-01-01",
            "9999-12-31",
            "2024-1-05",
            "2024-01-5",
            "+2024-01-05",
            "2024/01/05",
            "20240105",
            "2024-01-05T00:00:00Z",
            "２０２４-01-05",
            "",
        ] {
            assert_eq!(parse_date(s).ok(), chrono_date(s), "{s:?}");
        }
        let mut day = NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        while day < NaiveDate::from_ymd_opt(1905, 1, 1).unwrap() {
            assert_eq!(parse_date(&day.format("%Y-%m-%d").to_string()), Ok(day));
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn parses_common_formats() {
        let f = TimeFormat::default();
        let want = 1291191960; // 2010-12-01T08:26:00Z
        assert_eq!(f.parse("2010-12-01T08:26:00Z").unwrap(), want);
        assert_eq!(f.parse("2010-12-01 08:26:00").unwrap(), want);
        assert_eq!(f.parse("2010-12-01 08:26").unwrap(), want);
        assert_eq!(f.parse("12/1/2010 8:26").unwrap(), want);
        assert_eq!(f.parse("2010-12-01T09:26:00+01:00").unwrap(), want);
        assert_eq!(f.parse("2010-12-01").unwrap(), want - 8 * 3600 - 26 * 60);
        let dm = TimeFormat { day_first: true, ..Default::default() };
        assert_eq!(dm.parse("1/12/2010 8:26").unwrap(), want);
        assert!(f.parse("2010-13-01").is_err());
        assert!(f.parse("yesterday").is_err());
        assert_eq!(format_ts(want), "2010-12-01T08:26:00Z");
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        for s in ["2024-02-29T23:59:59Z", "1999-01-01T00:00:00Z", "2026-11-24T01:42:14Z"] {
            let c = DateTime::parse_from_rfc3339(s).unwrap().timestamp();
            assert_eq!(fast_rfc3339_utc(s), Some(c));
        }
        assert_eq!(fast_rfc3339_utc("2023-02-29T00:00:00Z"), None);
    }

    /// `fast_common` answers as the chain of formats does, value and
    /// message, for a grid of spellings near the ones it reads.
    #[test]
    fn common_spellings_parse_as_the_chain_does() {
        let dates = [
            "2024-11-10",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "0000-01-01",
            "9999-12-31",
            "2024-1-05",
            "2024-03-31",
            "2024-10-27",
            "12/1/2010",
            "1/12/2010",
            "13/1/2010",
            "01/02/2024",
            "2/29/2023",
            "2/29/2024",
            "31/12/2024",
            "1/2/24",
            "1/2/20245",
            "123/1/2024",
            "0/1/2024",
            "10.11.2024",
            "1.2.2024",
            "31.12.2024",
            "29.02.2023",
            "1.13.2024",
            "01.02.24",
            "001.02.2024",
            "1.2.20245",
            "1.2.2024.",
        ];
        let seps = ["", " ", "T", "t", "  "];
        let times = [
            "", "13:15:42", "13:15", "3:15:42", "03:15", "24:00:00", "23:59:60", "23:60:00", "13:5", "13:15:4",
            "02:30:00", "02:30", "8:26",
        ];
        let fractions = ["", ".5", ".123456789", ".1234567891", "."];
        let suffixes = [
            "", "Z", "+01:00", " +0100", "+01", "-05", "+0530", "-03:30", " UTC", "UTC", " Z", "+1", "+013", "+24",
            "+01:60", "+01:", "++01", " -0800", "  +01",
        ];
        let formats = [
            TimeFormat::default(),
            TimeFormat { day_first: true, ..Default::default() },
            TimeFormat { tz: Some(chrono_tz::Europe::Rome), ..Default::default() },
        ];
        let mut fast = 0;
        let mut check = |s: &str| {
            for f in &formats {
                let t = s.trim();
                let want = fast_rfc3339_utc(t).map(Ok).unwrap_or_else(|| f.parse_slow(t, s));
                fast += f.fast_common(t, s).is_some() as usize;
                assert_eq!(f.parse(s), want, "{s:?} day_first {} tz {:?}", f.day_first, f.tz);
            }
        };
        for d in dates {
            for sep in seps {
                for t in times {
                    for fr in fractions {
                        for suf in suffixes {
                            check(&format!("{d}{sep}{t}{fr}{suf}"));
                        }
                    }
                }
            }
        }
        for s in [
            "0",
            "1731244542",
            " 1731244542 ",
            "99999999999",
            "999999999999",
            "-5",
            "",
            "+5",
            "12a",
            "1731244542123",
            "1731244542123456",
            "1731244542123456789",
            "9999999999999999999",
            "99999999999999999999",
            "1731244542.5",
            "1731244542.123456789",
            "1731244542.1234567891",
            "1731244542.",
            ".5",
            "1731244542123.5",
            "1.2.3",
        ] {
            check(s);
        }
        assert!(fast > 1000, "the fast path took only {fast} spellings");
    }

    /// Offsets as databases and strftime write them, and Unix time in
    /// its usual units, against instants worked out by hand
    /// (2024-11-10T13:15:42Z is 1731244542).
    #[test]
    fn offsets_and_unix_time_as_other_tools_write_them() {
        let utc = 1_731_244_542;
        for tz in [None, Some(chrono_tz::America::New_York)] {
            let f = TimeFormat { tz, ..Default::default() };
            for (s, want) in [
                ("2024-11-10 14:15:42+01", utc),
                ("2024-11-10 14:15:42.123+01", utc),
                ("2024-11-10 08:15:42-05", utc),
                ("2024-11-10T14:15:42+0100", utc),
                ("2024-11-10 18:45:42+05:30", utc),
                ("2024-11-10 09:45:42 -0330", utc),
                ("2024-11-10 13:15:42 UTC", utc),
                ("2024-11-10 13:15:42.123456 UTC", utc),
                ("2024-11-10T13:15:42.5Z", utc),
                ("2024-11-10 14:15+01", utc - 42),
                ("2024-11-11 00:15:42+11", utc),
                ("1731244542", utc),
                ("1731244542.999", utc),
                ("1731244542123", utc),
                ("1731244542123456", utc),
                ("1731244542123456789", utc),
                ("100000000000", 100_000_000),
            ] {
                assert_eq!(f.parse(s), Ok(want), "{s:?} in {tz:?}");
            }
            for s in ["2024-11-10 13:15:42+1", "2024-11-10 13:15:42+24", "2024-11-10+01", "99999999999999999999"] {
                assert!(f.parse(s).is_err(), "{s:?}");
            }
        }
    }

    /// Spreadsheets' AM/PM, day-first dotted dates (German, Polish,
    /// Russian exports) and RFC 2822, read in UTC and in a timezone, against
    /// instants worked out by hand (2024-11-10T13:15:42Z is 1731244542;
    /// New York is 5 hours behind that day).
    #[test]
    fn spreadsheet_and_mail_spellings() {
        let utc = 1_731_244_542;
        let ny = TimeFormat { tz: Some(chrono_tz::America::New_York), ..Default::default() };
        let day_first = TimeFormat { day_first: true, ..Default::default() };
        for (f, s, want) in [
            (TimeFormat::default(), "11/10/2024 1:15:42 PM", utc),
            (TimeFormat::default(), "11/10/2024 1:15 pm", utc - 42),
            (TimeFormat::default(), "11/10/2024 12:15:42 AM", utc - 13 * 3600),
            (day_first.clone(), "10/11/2024 1:15:42 PM", utc),
            (ny.clone(), "11/10/2024 8:15:42 AM", utc),
            (TimeFormat::default(), "10.11.2024 13:15:42", utc),
            (TimeFormat::default(), "10.11.2024 13:15", utc - 42),
            (TimeFormat::default(), "10.11.2024", utc - 13 * 3600 - 15 * 60 - 42),
            (ny, "10.11.2024 08:15:42", utc),
            (TimeFormat::default(), "Sun, 10 Nov 2024 14:15:42 +0100", utc),
            (day_first, "Sun, 10 Nov 2024 13:15:42 GMT", utc),
        ] {
            assert_eq!(f.parse(s), Ok(want), "{s:?}");
        }
        for s in ["11/10/2024 13:15:42 PM", "31.02.2024", "10.11.24 13:15", "Mon, 10 Nov 2024 13:15:42 +0000"] {
            assert!(TimeFormat::default().parse(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn naive_times_in_a_timezone() {
        let f = TimeFormat { tz: Some(chrono_tz::Europe::Rome), ..Default::default() };
        assert_eq!(f.parse("2010-12-01 09:26:00").unwrap(), 1291191960);
    }
}

/// Appends `YYYY-MM-DDTHH:MM:SSZ` to `out` without going through chrono
/// (the export's hot path).
pub fn push_ts(out: &mut String, ts: Ts) {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        out.push_str(&format_ts(ts));
        return;
    }
    let mut buf = [0u8; 20];
    let put = |buf: &mut [u8], at: usize, v: i64, w: usize| {
        let mut v = v;
        for i in (0..w).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut buf, 0, y, 4);
    buf[4] = b'-';
    put(&mut buf, 5, m, 2);
    buf[7] = b'-';
    put(&mut buf, 8, d, 2);
    buf[10] = b'T';
    put(&mut buf, 11, secs / 3600, 2);
    buf[13] = b':';
    put(&mut buf, 14, secs / 60 % 60, 2);
    buf[16] = b':';
    put(&mut buf, 17, secs % 60, 2);
    buf[19] = b'Z';
    out.push_str(std::str::from_utf8(&buf).expect("ascii"));
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod fast_format_tests {
    #[test]
    fn push_ts_matches_chrono() {
        for ts in [0i64, 951_782_400, 1_291_191_960, 1_709_251_199, 4_102_444_800 - 1] {
            let mut s = String::new();
            super::push_ts(&mut s, ts);
            assert_eq!(s, super::format_ts(ts));
        }
    }
}
