//! Typed contact attributes: the declared schema of one attribute and the
//! parsing of text into a value of its type.

use super::Decimal;
use super::written_number::{DecimalMark, parse_written};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrType {
    Number,
    Text,
    Bool,
    Date,
    /// one-of-many with declared values
    Enum(Vec<String>),
    /// many-of-many with declared values
    Set(Vec<String>),
}

impl AttrType {
    pub fn name(&self) -> &'static str {
        match self {
            AttrType::Number => "number",
            AttrType::Text => "text",
            AttrType::Bool => "bool",
            AttrType::Date => "date",
            AttrType::Enum(_) => "one-of",
            AttrType::Set(_) => "many-of",
        }
    }

    /// Parses `number`, `text`, `bool`, `date`, `one-of`, `many-of` with
    /// declared values for the last two.
    pub fn from_name(name: &str, values: &[String]) -> Result<AttrType, String> {
        let need_values = |t: AttrType| {
            if values.is_empty() { Err(format!("type `{name}` needs declared values (--values a,b,c)")) } else { Ok(t) }
        };
        match name {
            "number" => Ok(AttrType::Number),
            "text" => Ok(AttrType::Text),
            "bool" => Ok(AttrType::Bool),
            "date" => Ok(AttrType::Date),
            "one-of" | "enum" => need_values(AttrType::Enum(values.to_vec())),
            "many-of" | "set" => need_values(AttrType::Set(values.to_vec())),
            _ => Err(format!("unknown attribute type `{name}` (number, text, bool, date, one-of, many-of)")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrDef {
    pub name: String,
    pub ty: AttrType,
}

/// A stored attribute value. Enum and set values are indexes into the
/// declared values of the attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    Number(Decimal),
    /// inline up to 24 bytes (names, cities, codes): no allocation each
    Text(compact_str::CompactString),
    Bool(bool),
    /// days since 1970-01-01
    Date(i32),
    Enum(u16),
    Set(Vec<u16>),
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" => Some(true),
        "false" | "0" | "no" | "n" | "f" => Some(false),
        _ => None,
    }
}

pub fn date_to_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

pub fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days as i64)
}

fn find_value(values: &[String], v: &str) -> Option<u16> {
    let v = crate::model::trim_fast(v);
    values
        .iter()
        .position(|x| x == v)
        .or_else(|| values.iter().position(|x| x.eq_ignore_ascii_case(v)))
        .map(|i| i as u16)
}

impl AttrDef {
    /// `parse`, the value (if any) appended to `out` as attribute `idx`:
    /// for a caller in a loop, whose reloading of `parse`'s result from
    /// memory stalled on the stores that wrote it.
    #[inline(never)]
    pub fn parse_into(
        &self,
        s: &str,
        idx: u16,
        mark: DecimalMark,
        out: &mut Vec<(u16, AttrValue)>,
    ) -> Result<(), String> {
        if let Some(v) = self.parse_value(s, mark)? {
            super::push_in_place(out, (idx, v));
        }
        Ok(())
    }

    /// Parses the text form of a value (as found in CSV); `None` for empty
    /// text. A number may be written as exports write amounts
    /// ([`parse_written`]: `$1,234.50`, `12,50 zł`).
    pub fn parse(&self, s: &str) -> Result<Option<AttrValue>, String> {
        self.parse_value(s, DecimalMark::Point)
    }

    #[inline(always)]
    fn parse_value(&self, s: &str, mark: DecimalMark) -> Result<Option<AttrValue>, String> {
        if crate::model::trim_fast(s).is_empty() {
            return Ok(None);
        }
        let v = match &self.ty {
            AttrType::Number => {
                AttrValue::Number(parse_written(s, mark).map_err(|e| format!("attribute `{}`: {e}", self.name))?)
            }
            AttrType::Text => AttrValue::Text(s.into()),
            AttrType::Bool => AttrValue::Bool(
                parse_bool(s).ok_or_else(|| format!("attribute `{}`: `{s}` is not true or false", self.name))?,
            ),
            AttrType::Date => {
                let d = super::time::parse_date(s)
                    .or_else(|_| {
                        super::time::TimeFormat::default()
                            .parse(s)
                            .map(|ts| chrono::DateTime::from_timestamp(ts, 0).unwrap().date_naive())
                    })
                    .map_err(|e| format!("attribute `{}`: {e}", self.name))?;
                AttrValue::Date(date_to_days(d))
            }
            AttrType::Enum(values) => {
                let alias = if self.name == "gender" { gender_alias(s) } else { None };
                let i = find_value(values, alias.unwrap_or(s)).ok_or_else(|| {
                    format!("attribute `{}`: unknown value `{s}` (one of: {})", self.name, values.join(", "))
                })?;
                AttrValue::Enum(i)
            }
            AttrType::Set(values) => {
                let mut out = Vec::new();
                for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                    let i = find_value(values, part).ok_or_else(|| {
                        format!("attribute `{}`: unknown value `{part}` (any of: {})", self.name, values.join(", "))
                    })?;
                    if !out.contains(&i) {
                        out.push(i);
                    }
                }
                out.sort_unstable();
                AttrValue::Set(out)
            }
        };
        Ok(Some(v))
    }

    /// Parses a JSON value (JSONL import). Strings go through [`AttrDef::parse`].
    pub fn parse_json(&self, v: &serde_json::Value) -> Result<Option<AttrValue>, String> {
        use serde_json::Value as J;
        match (v, &self.ty) {
            (J::Null, _) => Ok(None),
            (J::String(s), _) => self.parse(s),
            (J::Number(n), AttrType::Number) => self.parse(&n.to_string()),
            (J::Bool(b), AttrType::Bool) => Ok(Some(AttrValue::Bool(*b))),
            (J::Array(items), AttrType::Set(_)) => {
                let mut parts = Vec::new();
                for i in items {
                    match i {
                        J::String(s) => parts.push(s.clone()),
                        _ => return Err(format!("attribute `{}`: expected a list of strings", self.name)),
                    }
                }
                self.parse(&parts.join(";"))
            }
            _ => Err(format!("attribute `{}` is {}, got {v}", self.name, self.ty.name())),
        }
    }

    /// Text form, the inverse of [`AttrDef::parse`].
    pub fn format(&self, v: &AttrValue) -> String {
        match (v, &self.ty) {
            (AttrValue::Number(d), _) => d.to_string(),
            (AttrValue::Text(s), _) => s.to_string(),
            (AttrValue::Bool(b), _) => b.to_string(),
            (AttrValue::Date(d), _) => days_to_date(*d).format("%Y-%m-%d").to_string(),
            (AttrValue::Enum(i), AttrType::Enum(vals)) => vals.get(*i as usize).cloned().unwrap_or_default(),
            (AttrValue::Set(is), AttrType::Set(vals)) => {
                is.iter().filter_map(|i| vals.get(*i as usize).cloned()).collect::<Vec<_>>().join(";")
            }
            _ => String::new(),
        }
    }

    /// JSON form for `--format json`.
    pub fn to_json(&self, v: &AttrValue) -> serde_json::Value {
        use serde_json::Value as J;
        match (v, &self.ty) {
            (AttrValue::Number(d), _) => match d.as_int() {
                Some(i) => J::from(i),
                None => d.to_string().parse::<serde_json::Number>().map(J::Number).unwrap_or(J::Null),
            },
            (AttrValue::Bool(b), _) => J::Bool(*b),
            (AttrValue::Set(is), AttrType::Set(vals)) => {
                J::Array(is.iter().filter_map(|i| vals.get(*i as usize).map(|s| J::String(s.clone()))).collect())
            }
            _ => J::String(self.format(v)),
        }
    }
}

/// The gender a spelling other than the value's own name stands for, in
/// any case. Called on every row of a contacts import with a gender
/// column: the value is lowered into a buffer on the stack (the longest
/// alias has 9 bytes), not a `String` per row.
fn gender_alias(s: &str) -> Option<&'static str> {
    let s = crate::model::trim_fast(s).as_bytes();
    let mut low = [0u8; 9];
    let low = low.get_mut(..s.len())?;
    for (l, b) in low.iter_mut().zip(s) {
        *l = b.to_ascii_lowercase();
    }
    match &*low {
        b"f" | b"w" | b"woman" | b"donna" | b"femme" | b"kobieta" | b"mujer" | b"frau" => Some("female"),
        b"m" | b"man" | b"uomo" | b"homme" | b"mezczyzna" | b"hombre" | b"mann" => Some("male"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The aliases in any case and with spaces around; a value longer than
    /// any alias, or a prefix of one, is none.
    #[test]
    fn gender_aliases_in_any_case() {
        for (s, want) in [
            ("F", Some("female")),
            (" Kobieta ", Some("female")),
            ("MEZCZYZNA", Some("male")),
            ("mann", Some("male")),
            ("\tHomme", Some("male")),
            ("female", None),
            ("ma", None),
            ("mezczyznaa", None),
            ("", None),
            ("ż", None),
        ] {
            assert_eq!(gender_alias(s), want, "{s:?}");
        }
    }

    #[test]
    fn typed_values_parse_and_format_back() {
        let e =
            AttrDef { name: "gender".into(), ty: AttrType::Enum(vec!["female".into(), "male".into(), "other".into()]) };
        assert_eq!(e.parse("Male").unwrap(), Some(AttrValue::Enum(1)));
        assert_eq!(e.parse("F").unwrap(), Some(AttrValue::Enum(0)));
        assert!(e.parse("robot").unwrap_err().contains("unknown value `robot`"));
        let s = AttrDef { name: "interests".into(), ty: AttrType::Set(vec!["yoga".into(), "running".into()]) };
        let v = s.parse("running;yoga").unwrap().unwrap();
        assert_eq!(s.format(&v), "yoga;running");
        let d = AttrDef { name: "birth_date".into(), ty: AttrType::Date };
        let v = d.parse("1990-02-03").unwrap().unwrap();
        assert_eq!(d.format(&v), "1990-02-03");
        // day first where written with dots, as German and Polish exports do
        assert_eq!(d.parse("03.02.1990").unwrap(), Some(v.clone()));
        assert!(d.parse("03.02.90").is_err());
        let n = AttrDef { name: "spend".into(), ty: AttrType::Number };
        assert_eq!(n.format(&n.parse("$1,234.50").unwrap().unwrap()), "1234.5");
        let n = AttrDef { name: "lat".into(), ty: AttrType::Number };
        assert!(n.parse("north").unwrap_err().contains("not a number"));
        assert_eq!(n.parse("").unwrap(), None);
    }
}
