//! The SQL engines `segment sql` writes for, and each one's spelling of the
//! few operations the generator (mod.rs) needs.
//!
//! Every column is read through a conversion that gives the same value
//! whatever type the loader gave the column, so one query counts the same
//! over the CSV export loaded as text (SQLite's `.import`), loaded with the
//! engine's own type inference (DuckDB's `read_csv_auto`, ClickHouse's
//! `file(…, CSVWithNames)`), over tables created from `reach export schema`
//! and over the Parquet export:
//!
//! - text: the value's text, NULL for NULL or empty (`NULLIF(CAST(x AS
//!   VARCHAR), '')`); a boolean reads `true`/`false`, a date `YYYY-MM-DD`;
//! - numbers: that text to an exact decimal, as integer micro-units (a
//!   DOUBLE prints as its shortest round-trip form, so `88.23` stays 88.23);
//! - dates: the first 10 characters of the text (ClickHouse may infer a
//!   DateTime64 for dates before 1970); Postgres: `to_char(…, 'YYYY-MM-DD')`
//!   of the value as a DATE, whatever the session's DateStyle;
//! - instants: the engine's own UTC timestamp type, compared with timestamp
//!   literals (SQLite: the RFC 3339 text, which sorts in time order).

use crate::model::time::push_ts;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Duckdb,
    Postgres,
    Clickhouse,
}

impl Dialect {
    pub const ALL: [Dialect; 4] = [Dialect::Sqlite, Dialect::Duckdb, Dialect::Postgres, Dialect::Clickhouse];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Duckdb => "duckdb",
            Dialect::Postgres => "postgres",
            Dialect::Clickhouse => "clickhouse",
        }
    }

    /// A quoted identifier (ClickHouse takes double quotes too).
    pub fn ident(self, s: &str) -> String {
        format!("\"{}\"", s.replace('"', "\"\""))
    }

    /// A string literal. Standard SQL takes any character but `'` as is;
    /// ClickHouse's literals have backslash escapes, and there every ASCII
    /// control character is written as one, so the literal stays on its line.
    pub fn str(self, s: &str) -> String {
        match self {
            Dialect::Clickhouse => {
                let mut out = String::with_capacity(s.len() + 2);
                out.push('\'');
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c if c.is_ascii_control() => out.push_str(&format!("\\x{:02X}", c as u8)),
                        c => out.push(c),
                    }
                }
                out.push('\'');
                out
            }
            _ => format!("'{}'", s.replace('\'', "''")),
        }
    }

    pub fn fals(self) -> &'static str {
        match self {
            Dialect::Clickhouse => "0",
            _ => "FALSE",
        }
    }

    pub fn tru(self) -> &'static str {
        match self {
            Dialect::Clickhouse => "1",
            _ => "TRUE",
        }
    }

    /// A possibly-NULL condition made two-valued.
    pub fn two_valued(self, cond: &str) -> String {
        match self {
            Dialect::Clickhouse => format!("ifNull({cond}, 0)"),
            _ => format!("COALESCE({cond}, FALSE)"),
        }
    }

    /// A column of any type as text; NULL when NULL or empty.
    pub fn text(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => format!("NULLIF(CAST({col} AS TEXT), '')"),
            _ => format!("NULLIF({}, '')", self.to_text(col)),
        }
    }

    /// A date column (text, DATE or a timestamp at midnight) as `YYYY-MM-DD`.
    pub fn date(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => self.text(col),
            Dialect::Clickhouse => format!("NULLIF(substring({}, 1, 10), '')", self.to_text(col)),
            Dialect::Duckdb => format!("NULLIF(substr({}, 1, 10), '')", self.to_text(col)),
            // a date's text follows the session's DateStyle (`15/03/2026`
            // under `SQL, DMY`): through DATE, which reads back the text the
            // same session wrote and whatever the DateStyle reads ISO dates
            // (a timestamp's text gives its date), and to_char
            Dialect::Postgres => {
                format!("to_char(CAST(NULLIF(CAST({col} AS TEXT), '') AS DATE), 'YYYY-MM-DD')")
            }
        }
    }

    /// An instant column (RFC 3339 text or a timestamp type) as a value
    /// that compares in time order with [`Dialect::time_lit`].
    pub fn time(self, col: &str) -> String {
        match self {
            Dialect::Sqlite => format!("NULLIF({col}, '')"),
            Dialect::Duckdb => format!("TRY_CAST({col} AS TIMESTAMPTZ)"),
            Dialect::Postgres => format!("CAST(NULLIF(CAST({col} AS TEXT), '') AS TIMESTAMPTZ)"),
            // DateTime values print in the session's time zone, UTC (see `finish`)
            Dialect::Clickhouse => format!("parseDateTime64BestEffortOrNull(toString({col}), 0, 'UTC')"),
        }
    }

    /// A literal instant, comparable with [`Dialect::time`]; clamped to
    /// [`Dialect::time_range`].
    pub fn time_lit(self, ts: i64) -> String {
        let (lo, hi) = self.time_range();
        let t = ts_text(ts.clamp(lo, hi));
        let plain = || format!("{} {}", &t[..10], &t[11..19]);
        match self {
            Dialect::Sqlite => self.str(&t),
            Dialect::Duckdb | Dialect::Postgres => format!("TIMESTAMPTZ '{}+00'", plain()),
            Dialect::Clickhouse => format!("toDateTime64('{}', 0, 'UTC')", plain()),
        }
    }

    /// The instants [`Dialect::time_lit`] can write; bounds beyond them are
    /// folded by the generator.
    pub fn time_range(self) -> (i64, i64) {
        match self {
            Dialect::Sqlite => (-62_167_219_200, 253_402_300_799), // 0000-01-01 .. 9999-12-31
            Dialect::Duckdb | Dialect::Postgres => (-62_135_596_800, 253_402_300_799), // 0001-01-01 ..
            Dialect::Clickhouse => (-2_208_988_800, 10_413_791_999), // 1900-01-01 .. 2299-12-31
        }
    }

    /// Text (no empty strings) to a whole number.
    pub fn int(self, x: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST({x} AS INTEGER)"),
            Dialect::Duckdb => format!("TRY_CAST({x} AS BIGINT)"),
            Dialect::Postgres => format!("CAST({x} AS BIGINT)"),
            Dialect::Clickhouse => format!("toInt64OrNull({x})"),
        }
    }

    /// An id column (`contacts.id`, `events.contact_id`) as a whole number,
    /// whatever type the loader gave it: DuckDB's `read_csv_auto` makes
    /// every column of a header-only file VARCHAR, which compares with no
    /// BIGINT.
    pub fn key(self, col: &str) -> String {
        self.int(&self.to_text(col))
    }

    /// Decimal text (no empty strings) to integer micro-units.
    pub fn units(self, x: &str) -> String {
        match self {
            // exact for |x| < 2^53 / 10^6 (about 9·10^9)
            Dialect::Sqlite => format!("CAST(ROUND(CAST({x} AS REAL) * 1000000) AS INTEGER)"),
            Dialect::Duckdb => format!("CAST(TRY_CAST({x} AS DECIMAL(38, 6)) * 1000000 AS HUGEINT)"),
            Dialect::Postgres => format!("CAST(CAST({x} AS NUMERIC) * 1000000 AS BIGINT)"),
            Dialect::Clickhouse => format!("toInt64(toDecimal128OrNull({x}, 6) * 1000000)"),
        }
    }

    /// An integer literal in a type whose products with a row count cannot
    /// overflow (SQLite: its integers turn to REAL beyond 64 bits, which
    /// still compares right against any 64-bit sum).
    pub fn wide(self, x: i128) -> String {
        match self {
            Dialect::Sqlite => x.to_string(),
            Dialect::Duckdb => format!("CAST({x} AS HUGEINT)"),
            Dialect::Postgres => format!("CAST({x} AS NUMERIC)"),
            Dialect::Clickhouse => format!("toInt128({x})"),
        }
    }

    /// `hay` contains `needle` (case-sensitive substring).
    pub fn contains(self, hay: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Duckdb => format!("instr({hay}, {needle}) > 0"),
            Dialect::Postgres => format!("strpos({hay}, {needle}) > 0"),
            Dialect::Clickhouse => format!("position({hay}, {needle}) > 0"),
        }
    }

    pub fn idiv(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => format!("({a}) / ({b})"),
            Dialect::Duckdb => format!("({a}) // ({b})"),
            Dialect::Clickhouse => format!("intDiv({a}, {b})"),
        }
    }

    pub fn to_text(self, x: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST({x} AS TEXT)"),
            Dialect::Duckdb | Dialect::Postgres => format!("CAST({x} AS VARCHAR)"),
            Dialect::Clickhouse => format!("toString({x})"),
        }
    }

    /// Byte-wise text ordering (Postgres orders by the locale otherwise).
    pub fn bytewise(self, x: &str) -> String {
        match self {
            Dialect::Postgres => format!("{x} COLLATE \"C\""),
            _ => x.to_string(),
        }
    }

    /// A double literal that every engine reads back as exactly `x`.
    pub fn float(self, x: f64) -> String {
        match self {
            // SQLite's text-to-real conversion is not guaranteed to be
            // correctly rounded: write m / 2^k with both exact.
            Dialect::Sqlite => exact_float(x),
            Dialect::Duckdb | Dialect::Postgres => format!("CAST({x:?} AS DOUBLE PRECISION)"),
            Dialect::Clickhouse => format!("toFloat64({x:?})"),
        }
    }

    pub fn real(self, x: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST({x} AS REAL)"),
            Dialect::Duckdb | Dialect::Postgres => format!("CAST({x} AS DOUBLE PRECISION)"),
            Dialect::Clickhouse => format!("toFloat64({x})"),
        }
    }

    pub fn least(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("min({a}, {b})"),
            _ => format!("least({a}, {b})"),
        }
    }
}

/// `x` as `(m / 2^k)` with integer-valued parts, exact in any IEEE engine.
pub(super) fn exact_float(x: f64) -> String {
    if x == x.trunc() && x.abs() < 9.0e15 {
        return format!("{x:.1}");
    }
    let mut m = x;
    let mut k = 0;
    while m != m.trunc() && k < 1074 {
        m *= 2.0;
        k += 1;
    }
    if k > 62 || m.abs() >= 9.0e15 {
        return format!("{x:?}");
    }
    format!("({m:.1} / {:.1})", (1u64 << k) as f64)
}

pub(super) fn ts_text(ts: i64) -> String {
    let mut s = String::with_capacity(20);
    push_ts(&mut s, ts);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_literals_and_ranges() {
        assert_eq!(Dialect::Duckdb.time_lit(1_773_576_000), "TIMESTAMPTZ '2026-03-15 12:00:00+00'");
        assert_eq!(Dialect::Clickhouse.time_lit(1_773_576_000), "toDateTime64('2026-03-15 12:00:00', 0, 'UTC')");
        assert_eq!(Dialect::Sqlite.time_lit(0), "'1970-01-01T00:00:00Z'");
        for d in Dialect::ALL {
            let (lo, hi) = d.time_range();
            // both ends are written with 4-digit years
            assert_eq!(ts_text(lo).len(), 20, "{d:?}");
            assert_eq!(ts_text(hi).len(), 20, "{d:?}");
        }
        assert_eq!(ts_text(Dialect::Clickhouse.time_range().0), "1900-01-01T00:00:00Z");
        assert_eq!(ts_text(Dialect::Clickhouse.time_range().1), "2299-12-31T23:59:59Z");
        assert_eq!(ts_text(Dialect::Duckdb.time_range().0), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn postgres_dates_do_not_depend_on_datestyle() {
        let x = Dialect::Postgres.date("c.\"birth_date\"");
        assert_eq!(x, "to_char(CAST(NULLIF(CAST(c.\"birth_date\" AS TEXT), '') AS DATE), 'YYYY-MM-DD')");
        assert!(!x.contains("substr"), "{x}");
    }

    #[test]
    fn identifiers_and_strings_are_quoted_per_engine() {
        assert_eq!(Dialect::Duckdb.ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::Clickhouse.str("o'b\\"), "'o\\'b\\\\'");
        assert_eq!(Dialect::Postgres.str("o'b"), "'o''b'");
        assert_eq!(Dialect::Clickhouse.str("a\rb\nc\td\u{0}e\u{7f}"), "'a\\rb\\nc\\td\\x00e\\x7F'");
    }
}
