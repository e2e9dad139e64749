//! The data model: contacts, attributes, events, tags, categories. Types and
//! rules only, no I/O.

pub mod attribute;
pub mod contact;
pub mod decimal;
pub mod event;
pub mod schema;
pub mod segment;
pub mod time;
pub mod written_number;

pub use attribute::{AttrDef, AttrType, AttrValue};
pub use contact::{Action, ActionKind, Channel, Consent, Contact, ContactId};
pub use decimal::Decimal;
pub use event::{KindDef, ParamDef, ParamType, Source};
pub use schema::Schema;
pub use time::Ts;

/// `out.push(v)`, stored straight where it goes when `out` has room (the
/// caller reserved it): a push that may grow the vector first builds `v`
/// on the stack, piece by piece, and copies it whole, and reading it back
/// stalls until the pieces' stores are done.
#[inline(always)]
pub fn push_in_place<T>(out: &mut Vec<T>, v: T) {
    #[allow(clippy::if_same_then_else)]
    if out.len() < out.capacity() {
        out.push(v);
    } else {
        out.push(v);
    }
}

/// `str::trim`, without its scan by characters when both ends are plain
/// ASCII that is not white space (a key or value on every row of a log).
pub fn trim_fast(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        (None, _) => s,
        _ => s.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `trim_fast` trims as `str::trim` does, its short cut included.
    #[test]
    fn trim_fast_is_str_trim() {
        let ends = ["", " ", "\t", "\u{b}", "\u{c}", "\r\n", "\u{a0}", "\u{2003}", "\u{85}", "x", "é", "~", "\0"];
        for a in ends {
            for b in ends {
                for mid in ["", "a@b.c", " x ", "C0000001"] {
                    let s = format!("{a}{mid}{b}");
                    assert_eq!(trim_fast(&s), s.trim(), "{s:?}");
                }
            }
        }
    }
}
