//! Exact decimal numbers: fixed point with six decimal places in an i64.
//!
//! Every number in reach (number attributes, event amounts, quantities) is a
//! `Decimal`, so money is never binary floating point: 11.77 + 88.23 is
//! exactly 100. Range ±9,223,372,036,854.775807; more than six decimal
//! places is refused rather than rounded.

use std::fmt;
use std::str::FromStr;

/// Units per 1: six decimal places.
pub const SCALE: i64 = 1_000_000;
const SCALE_DIGITS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Decimal(pub i64);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("`{0}` is not a number")]
    Invalid(String),
    #[error("`{0}` has more than 6 decimal places")]
    TooPrecise(String),
    #[error("`{0}` is out of range (at most ±9223372036854)")]
    OutOfRange(String),
}

impl Decimal {
    pub const ZERO: Decimal = Decimal(0);

    pub fn from_int(i: i64) -> Option<Decimal> {
        i.checked_mul(SCALE).map(Decimal)
    }
    /// The raw fixed-point units (value × 10^6).
    pub fn units(self) -> i64 {
        self.0
    }
    /// Nearest f64, for display-only uses such as distances and ratios.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / SCALE as f64
    }
    /// The whole part if the value has no fraction.
    pub fn as_int(self) -> Option<i64> {
        (self.0 % SCALE == 0).then_some(self.0 / SCALE)
    }
    pub fn checked_add(self, o: Decimal) -> Option<Decimal> {
        self.0.checked_add(o.0).map(Decimal)
    }

    /// Parses `-12`, `3.39`, `+0.5`, `.5`, `1e3`, `1.5E-2`. Surrounding
    /// whitespace is ignored. No thousands separators.
    pub fn parse(s: &str) -> Result<Decimal, DecimalError> {
        let t = s.trim();
        let bad = || DecimalError::Invalid(s.to_string());
        let b = t.as_bytes();
        if b.is_empty() {
            return Err(bad());
        }
        let mut i = 0;
        let neg = match b[0] {
            b'-' => {
                i = 1;
                true
            }
            b'+' => {
                i = 1;
                false
            }
            _ => false,
        };
        // mantissa digits as i128 with a count of fractional digits
        let mut mant: i128 = 0;
        let mut frac: i32 = 0;
        let mut digits = 0usize;
        let mut seen_dot = false;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_digit() {
                if mant > i128::MAX / 100 {
                    return Err(DecimalError::OutOfRange(s.to_string()));
                }
                mant = mant * 10 + (c - b'0') as i128;
                digits += 1;
                if seen_dot {
                    frac += 1;
                }
            } else if c == b'.' && !seen_dot {
                seen_dot = true;
            } else {
                break;
            }
            i += 1;
        }
        if digits == 0 {
            return Err(bad());
        }
        let mut exp: i32 = 0;
        if i < b.len() {
            if b[i] != b'e' && b[i] != b'E' {
                return Err(bad());
            }
            let rest = &t[i + 1..];
            exp = rest.parse::<i32>().map_err(|_| bad())?;
            if !(-40..=40).contains(&exp) {
                return Err(DecimalError::OutOfRange(s.to_string()));
            }
        }
        // value = mant * 10^(exp - frac); we want units = value * 10^6
        let shift = exp - frac + SCALE_DIGITS as i32;
        let units: i128 = if shift >= 0 {
            let mut u = mant;
            for _ in 0..shift {
                u = u.checked_mul(10).ok_or_else(|| DecimalError::OutOfRange(s.to_string()))?;
                if u > i64::MAX as i128 {
                    return Err(DecimalError::OutOfRange(s.to_string()));
                }
            }
            u
        } else {
            let mut u = mant;
            for _ in 0..(-shift) {
                if u % 10 != 0 {
                    return Err(DecimalError::TooPrecise(s.to_string()));
                }
                u /= 10;
            }
            u
        };
        if units > i64::MAX as i128 {
            return Err(DecimalError::OutOfRange(s.to_string()));
        }
        let u = units as i64;
        Ok(Decimal(if neg { -u } else { u }))
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::parse(s)
    }
}

/// Canonical form: no exponent, no trailing fractional zeros (`100`, `11.77`, `-0.5`).
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_units(f, self.0 as i128)
    }
}

/// Formats a fixed-point sum held in i128 (sums of many Decimals).
pub fn format_units(units: i128) -> String {
    struct W(i128);
    impl fmt::Display for W {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_units(f, self.0)
        }
    }
    W(units).to_string()
}

fn write_units(f: &mut fmt::Formatter<'_>, units: i128) -> fmt::Result {
    let neg = units < 0;
    let a = units.unsigned_abs();
    let whole = a / SCALE as u128;
    let mut fracv = a % SCALE as u128;
    if neg {
        f.write_str("-")?;
    }
    write!(f, "{whole}")?;
    if fracv != 0 {
        let mut width = SCALE_DIGITS;
        while fracv.is_multiple_of(10) {
            fracv /= 10;
            width -= 1;
        }
        write!(f, ".{fracv:0width$}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_canonically() {
        assert_eq!(d("11.77").to_string(), "11.77");
        assert_eq!(d("100.00").to_string(), "100");
        assert_eq!(d("-0.50").to_string(), "-0.5");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("1e3").to_string(), "1000");
        assert_eq!(d("1.5E-2").to_string(), "0.015");
        assert_eq!(d("45.464203").to_string(), "45.464203");
        assert_eq!(d("-11062.06").to_string(), "-11062.06");
    }

    #[test]
    fn money_is_exact() {
        let s = d("11.77").checked_add(d("88.23")).unwrap();
        assert_eq!(s, d("100"));
        assert_eq!(s.to_string(), "100");
        assert_eq!(format_units(d("0.1").0 as i128 * 3), "0.3");
    }

    #[test]
    fn refuses_bad_input() {
        for s in ["", "abc", "1.2.3", "1,5", "--1", "1e", "12x"] {
            assert!(matches!(Decimal::parse(s), Err(DecimalError::Invalid(_))), "{s}");
        }
        assert!(matches!(Decimal::parse("0.1234567"), Err(DecimalError::TooPrecise(_))));
        assert!(matches!(Decimal::parse("1e30"), Err(DecimalError::OutOfRange(_))));
        assert!(matches!(Decimal::parse("99999999999999"), Err(DecimalError::OutOfRange(_))));
    }
}
