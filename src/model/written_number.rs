//! Numbers as shops and spreadsheets write them in their exports: a
//! currency beside the amount (`$12.50`, `12,50 zł`, `EUR 1.234,56`),
//! digits grouped by thousands (`1,234.56`, `1.234,56`, `1 234,56`,
//! `1'234.50`), a decimal comma (`12,50`), a sign before the currency or
//! accounting's parentheses (`-$5`, `(12.50)`).
//!
//! Only what [`Decimal::parse`] refuses comes here, so a plain number
//! (`12.50`, `1e3`) reads as written at no cost. The one spelling that
//! reads two ways, a lone `,` or `.` followed by three digits (`1,234`,
//! `1.234`), is read by the decimal mark the caller names: the file's
//! (`,` in a `;`-separated file, as spreadsheets in those locales write
//! it), the other mark separating thousands.

use super::decimal::{Decimal, DecimalError};

/// A file's decimal mark: with `Point`, `1,234` is 1234 and `1.234` is
/// 1.234; with `Comma`, the other way round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DecimalMark {
    #[default]
    Point,
    Comma,
}

/// `Decimal::parse`, then, for what it refuses, the spellings above. An
/// error names `s` as written.
pub fn parse_written(s: &str, mark: DecimalMark) -> Result<Decimal, DecimalError> {
    let first = if mark == DecimalMark::Comma && lone_mark_before_three(s.trim(), '.') {
        // `1.234` where `,` is the decimal mark: a thousands separator
        Err(DecimalError::Invalid(s.to_string()))
    } else {
        Decimal::parse(s)
    };
    match first {
        Err(DecimalError::Invalid(e)) => match plain(s, mark) {
            Some(p) => Decimal::parse(&p).map_err(|err| match err {
                DecimalError::Invalid(_) => DecimalError::Invalid(s.to_string()),
                DecimalError::TooPrecise(_) => DecimalError::TooPrecise(s.to_string()),
                DecimalError::OutOfRange(_) => DecimalError::OutOfRange(s.to_string()),
            }),
            None => Err(DecimalError::Invalid(e)),
        },
        other => other,
    }
}

/// Currency symbols written beside an amount.
const SYMBOLS: [char; 20] =
    ['$', '€', '£', '¥', '₹', '₽', '₩', '₺', '₪', '₫', '₴', '₦', '₱', '฿', '₡', '₲', '₵', '¢', '₸', '₼'];

/// Local currency names written beside an amount (besides ISO codes).
const NAMES: [&str; 10] = ["zł", "kr", "Kč", "Ft", "lei", "лв", "руб", "Rs", "Rp", "RM"];

/// The ISO 4217 code of the currency written beside an amount that
/// [`parse_written`] reads: a code as written (`EUR`, `PLN`), or a symbol
/// or local name that names one currency (`€`, `£`, `zł`, `R$`, `US$`).
/// `None` for no currency, and for the ones several currencies write
/// (`$`, `¥`, `kr`, `Rs`, `¢`): which one is the shop's to say, in its
/// `currency` column.
pub fn written_currency(s: &str) -> Option<&str> {
    let mut t = s.trim();
    if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        t = inner.trim();
    }
    let t = t.strip_prefix('-').or_else(|| t.strip_prefix('\u{2212}')).unwrap_or(t).trim_start();
    let mut rest = t;
    if !strip_currency(&mut rest) {
        return None;
    }
    // what `strip_currency` took: the text before or after what it left
    // (a slice of `t`)
    let at = rest.as_ptr() as usize - t.as_ptr() as usize;
    let word = if at == 0 { t[rest.len()..].trim() } else { t[..at].trim() };
    let is_code = word.len() == 3 && word.bytes().all(|b| b.is_ascii_uppercase());
    if is_code {
        return Some(word);
    }
    CURRENCY_WORDS.iter().find(|(w, _)| *w == word).map(|(_, code)| *code)
}

/// Symbols and local names that name one currency, with its code.
const CURRENCY_WORDS: [(&str, &str); 32] = [
    ("€", "EUR"),
    ("£", "GBP"),
    ("₹", "INR"),
    ("₽", "RUB"),
    ("₩", "KRW"),
    ("₺", "TRY"),
    ("₪", "ILS"),
    ("₫", "VND"),
    ("₴", "UAH"),
    ("₦", "NGN"),
    ("₱", "PHP"),
    ("฿", "THB"),
    ("₡", "CRC"),
    ("₲", "PYG"),
    ("₵", "GHS"),
    ("₸", "KZT"),
    ("₼", "AZN"),
    ("US$", "USD"),
    ("C$", "CAD"),
    ("A$", "AUD"),
    ("NZ$", "NZD"),
    ("HK$", "HKD"),
    ("S$", "SGD"),
    ("R$", "BRL"),
    ("zł", "PLN"),
    ("Kč", "CZK"),
    ("Ft", "HUF"),
    ("lei", "RON"),
    ("лв", "BGN"),
    ("руб", "RUB"),
    ("RM", "MYR"),
    ("Rp", "IDR"),
];

/// `s` as `Decimal::parse` reads it (`-1234.56`), or `None` when it is not
/// a number spelled in one of the ways above.
fn plain(s: &str, mark: DecimalMark) -> Option<String> {
    let mut t = s.trim();
    let mut neg = false;
    if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        neg = true;
        t = inner.trim();
    }
    let mut sign = |t: &mut &str| {
        if let Some(r) = t.strip_prefix('-').or_else(|| t.strip_prefix('\u{2212}')) {
            neg = !neg;
            *t = r.trim_start();
        }
    };
    sign(&mut t);
    let had_currency = strip_currency(&mut t);
    if had_currency {
        sign(&mut t);
    }
    // what is left: digits with group separators and one decimal mark
    let (dots, commas) = (t.matches('.').count(), t.matches(',').count());
    let decimal = match (dots, commas) {
        (0, 0) => None,
        (_, 0) if dots > 1 => None,
        // a lone mark before three digits: the file's decimal mark, or a
        // thousands separator
        (1, 0) if mark == DecimalMark::Comma && lone_mark_before_three(t, '.') => None,
        (1, 0) => Some('.'),
        (0, 1) if mark == DecimalMark::Point && lone_mark_before_three(t, ',') => None,
        (0, 1) => Some(','),
        (0, _) => None,
        // both: the last one written is the decimal mark, once
        _ => {
            let last = if t.rfind('.') > t.rfind(',') { '.' } else { ',' };
            if t.matches(last).count() > 1 {
                return None;
            }
            Some(last)
        }
    };
    let (whole, frac) = match decimal {
        Some(m) => t.split_once(m)?,
        None => (t, ""),
    };
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (decimal.is_some() && frac.is_empty()) {
        return None;
    }
    let digits = grouped_digits(whole)?;
    let mut out = String::with_capacity(digits.len() + frac.len() + 2);
    if neg {
        out.push('-');
    }
    out.push_str(&digits);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    Some(out)
}

/// Whether `t` holds one `m`, followed by exactly three digits and nothing
/// else (`1,234`, `-12.500`): the spelling that reads two ways.
fn lone_mark_before_three(t: &str, m: char) -> bool {
    match t.split_once(m) {
        Some((_, after)) => after.len() == 3 && after.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Takes a currency off either end of `t` (a symbol, possibly after
/// letters as in `US$`; an ISO code such as `PLN`; a local name such as
/// `zł`), with the spaces beside it; whether there was one.
fn strip_currency(t: &mut &str) -> bool {
    let is_code = |w: &str| w.len() == 3 && w.bytes().all(|b| b.is_ascii_uppercase());
    let is_symbol = |w: &str| {
        let letters = w.strip_suffix(SYMBOLS);
        letters.is_some_and(|l| l.len() <= 2 && l.bytes().all(|b| b.is_ascii_uppercase()))
    };
    let currency = |w: &str| is_code(w) || is_symbol(w) || NAMES.contains(&w);
    // the currency is the run of non-number characters at an end
    let number_char = |c: char| c.is_ascii_digit() || matches!(c, '-' | '\u{2212}' | '.' | ',' | '(');
    let head_end = t.find(|c: char| number_char(c) || c.is_whitespace()).unwrap_or(t.len());
    if head_end > 0 && currency(&t[..head_end]) {
        *t = t[head_end..].trim_start();
        return true;
    }
    let tail_start = t.rfind(|c: char| number_char(c) || c.is_whitespace()).map_or(0, |i| i + 1);
    // `rfind` gives a char's start; step over it whole
    let tail_start = (tail_start..=t.len()).find(|&i| t.is_char_boundary(i)).unwrap_or(t.len());
    if tail_start < t.len() && currency(&t[tail_start..]) {
        *t = t[..tail_start].trim_end();
        return true;
    }
    false
}

/// The digits of a whole part written with group separators (`,` `.`,
/// spaces, `'`) between groups of three after the first group of one to
/// three; `None` for anything else.
fn grouped_digits(whole: &str) -> Option<String> {
    let groups: Vec<&str> = whole.split(|c: char| matches!(c, ',' | '.' | '\'' | '’') || c.is_whitespace()).collect();
    let (first, rest) = groups.split_first()?;
    let ok = |g: &str| g.bytes().all(|b| b.is_ascii_digit());
    let first_ok = if rest.is_empty() { !first.is_empty() } else { (1..=3).contains(&first.len()) };
    if !first_ok || !ok(first) || rest.iter().any(|g| g.len() != 3 || !ok(g)) {
        return None;
    }
    Some(groups.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str, mark: DecimalMark) -> Option<String> {
        parse_written(s, mark).ok().map(|d| d.to_string())
    }

    /// Spellings from shops' and spreadsheets' exports, read by hand.
    #[test]
    fn amounts_as_exports_write_them() {
        use DecimalMark::*;
        let table: &[(&str, DecimalMark, &str)] = &[
            ("12.50", Point, "12.5"),
            ("12.50", Comma, "12.5"),
            ("1.234", Comma, "1234"),
            ("1.234", Point, "1.234"),
            ("-12.500", Comma, "-12500"),
            ("12.5", Comma, "12.5"),
            ("12.5000", Comma, "12.5"),
            ("12,50", Point, "12.5"),
            ("12,50", Comma, "12.5"),
            ("1,234", Point, "1234"),
            ("1,234", Comma, "1.234"),
            ("1,2345", Point, "1.2345"),
            ("1,234.56", Point, "1234.56"),
            ("1,234.56", Comma, "1234.56"),
            ("1.234,56", Point, "1234.56"),
            ("1.234.567,8", Comma, "1234567.8"),
            ("1,234,567", Point, "1234567"),
            ("1,234,567", Comma, "1234567"),
            ("1 234,56", Comma, "1234.56"),
            ("1\u{a0}234,56", Comma, "1234.56"),
            ("1\u{202f}234,56", Point, "1234.56"),
            ("1'234.50", Point, "1234.5"),
            ("$12.50", Point, "12.5"),
            ("US$ 12.50", Point, "12.5"),
            ("12.50 €", Point, "12.5"),
            ("€12,50", Point, "12.5"),
            ("12,50 zł", Comma, "12.5"),
            ("PLN 1 234,56", Comma, "1234.56"),
            ("1.234,56 EUR", Point, "1234.56"),
            ("-$5", Point, "-5"),
            ("$-5.25", Point, "-5.25"),
            ("−12,5", Point, "-12.5"),
            ("(12.50)", Point, "-12.5"),
            ("($1,000.00)", Point, "-1000"),
            ("£0.99", Point, "0.99"),
        ];
        for &(s, mark, want) in table {
            assert_eq!(read(s, mark).as_deref(), Some(want), "{s} ({mark:?})");
        }
    }

    #[test]
    fn currencies_beside_amounts() {
        let table: &[(&str, Option<&str>)] = &[
            ("12.50", None),
            ("$12.50", None),
            ("¥500", None),
            ("12 kr", None),
            ("US$ 12.50", Some("USD")),
            ("12.50 €", Some("EUR")),
            ("€12,50", Some("EUR")),
            ("12,50 zł", Some("PLN")),
            ("PLN 1 234,56", Some("PLN")),
            ("1.234,56 EUR", Some("EUR")),
            ("-€5", Some("EUR")),
            ("(£1,000.00)", Some("GBP")),
            ("R$ 10,00", Some("BRL")),
            ("CHF 5", Some("CHF")),
            ("5 Kč", Some("CZK")),
        ];
        for &(s, want) in table {
            assert!(
                parse_written(s, DecimalMark::Point).is_ok() || parse_written(s, DecimalMark::Comma).is_ok(),
                "{s}"
            );
            assert_eq!(written_currency(s), want, "{s}");
        }
    }

    #[test]
    fn what_is_not_a_number_stays_refused() {
        for s in [
            "twelve",
            "12,5,0",
            "1,23,456",
            "12,",
            ",5",
            "1.2.3",
            "1.234,5,6",
            "$",
            "abc12",
            "12 apples",
            "1 2",
            "12.50 dollars",
            "EURO 5",
            "12%",
            "$$5",
            "1e3,5",
            "(12",
            "12)",
            "--5",
            "12.5-",
        ] {
            for mark in [DecimalMark::Point, DecimalMark::Comma] {
                let r = parse_written(s, mark);
                assert_eq!(r, Err(DecimalError::Invalid(s.to_string())), "{s} ({mark:?})");
            }
        }
        assert_eq!(parse_written("$0.1234567", DecimalMark::Point), Err(DecimalError::TooPrecise("$0.1234567".into())));
    }

    /// Any amount in cents, grouped by thousands with any separator, with
    /// either decimal mark, a sign and a currency on either end, reads back
    /// as the amount (the file's mark named, for the one spelling that
    /// reads two ways).
    #[test]
    fn grouped_amounts_read_back() {
        use proptest::prelude::*;
        let spelling = (
            prop_oneof![-100_000i64..100_000, -100_000_000i64..100_000_000, -100_000_000_000i64..100_000_000_000],
            prop::sample::select(vec![",", ".", " ", "\u{a0}", "'", ""]),
            prop::bool::ANY,
            prop::sample::select(vec![
                ("", ""),
                ("$", ""),
                ("€ ", ""),
                ("PLN ", ""),
                ("US$", ""),
                ("", " zł"),
                ("", "€"),
                ("", " EUR"),
            ]),
            0usize..3,
        );
        proptest!(|((cents, group, comma, (pre, post), places) in spelling)| {
            let mark = if comma { "," } else { "." };
            let group = if group == mark { " " } else { group };
            let a = cents.unsigned_abs();
            let (whole, frac) = (a / 100, a % 100);
            let digits = whole.to_string();
            let mut grouped = String::new();
            for (i, ch) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    grouped.push_str(group);
                }
                grouped.push(ch);
            }
            let frac = [String::new(), format!("{}{}", mark, frac / 10), format!("{mark}{frac:02}")][places].clone();
            let want = if places == 1 { cents - cents % 10 } else if places == 0 { cents - cents % 100 } else { cents };
            let sign = if cents < 0 { "-" } else { "" };
            let s = format!("{sign}{pre}{grouped}{frac}{post}");
            let read = parse_written(&s, if comma { DecimalMark::Comma } else { DecimalMark::Point });
            prop_assert_eq!(read, Ok(Decimal(want * 10_000)), "{}", s);
        });
    }
}
