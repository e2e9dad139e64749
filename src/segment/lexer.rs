//! Tokens of the segment language with their byte spans.

use chrono::{DateTime, NaiveDate, Utc};

use super::ast::Span;
use super::error::ParseError;
use crate::model::Decimal;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_-]*`; keywords are identifiers recognised by the parser.
    Ident(String),
    Str(String),
    Number(Decimal),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// One of `( ) [ ] , . : = != < <= > >=`.
    Sym(&'static str),
    Eof,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

impl Tok {
    /// How the token is named in error messages.
    pub fn describe(&self, src: &str, span: Span) -> String {
        match self {
            Tok::Eof => "end of input".to_string(),
            Tok::Str(_) => format!("string {}", &src[span.start..span.end]),
            Tok::Number(_) => format!("number `{}`", &src[span.start..span.end]),
            Tok::Date(_) | Tok::DateTime(_) => format!("date `{}`", &src[span.start..span.end]),
            _ => format!("`{}`", &src[span.start..span.end]),
        }
    }
}

const SYMS: [&str; 14] = ["!=", "<=", ">=", "(", ")", "[", "]", ",", ".", ":", "=", "<", ">", "!"];

/// Splits `src` into tokens, ending with `Eof` (whose span is `src.len()`).
pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
            Tok::Ident(src[start..i].to_string())
        } else if c == b'"' {
            let (s, end) = lex_string(src, start)?;
            i = end;
            Tok::Str(s)
        } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (t, end) = lex_number_or_date(src, start)?;
            i = end;
            t
        } else if let Some(s) = SYMS.iter().find(|s| src[i..].starts_with(**s)) {
            if *s == "!" {
                return Err(ParseError::new(src, start, "unexpected `!`").with_suggestion(Some("!=".into())));
            }
            if src[i..].starts_with("==") {
                return Err(ParseError::new(src, start, "unexpected `==`").with_suggestion(Some("=".into())));
            }
            i += s.len();
            Tok::Sym(s)
        } else {
            let ch = src[i..].chars().next().expect("in bounds");
            let msg = if ch.is_alphabetic() {
                format!("unexpected character `{ch}` (names with it must be double-quoted)")
            } else if ch == '\'' {
                "unexpected `'`: strings are written in double quotes".to_string()
            } else {
                format!("unexpected character `{}`", ch.escape_debug())
            };
            return Err(ParseError::new(src, start, msg));
        };
        out.push(Token { tok, span: Span::new(start, i) });
    }
    out.push(Token { tok: Tok::Eof, span: Span::new(src.len(), src.len()) });
    Ok(out)
}

/// A double-quoted string starting at `start`; returns it and the end offset.
fn lex_string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    let mut s = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((k, ch)) = chars.next() {
        match ch {
            '"' => return Ok((s, start + 1 + k + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => s.push(e),
                Some((k2, e)) => {
                    return Err(ParseError::new(
                        src,
                        start + 1 + k2 - 1,
                        format!("unknown escape `\\{}` in string (only \\\" and \\\\)", e.escape_debug()),
                    ));
                }
                None => break,
            },
            c => s.push(c),
        }
    }
    Err(ParseError::new(src, start, "unterminated string (missing closing `\"`)"))
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn lex_number_or_date(src: &str, start: usize) -> Result<(Tok, usize), ParseError> {
    let b = src.as_bytes();
    // YYYY-MM-DD, optionally followed by an RFC 3339 time
    let is_date = b.len() >= start + 10
        && b[start..start + 4].iter().all(u8::is_ascii_digit)
        && b[start + 4] == b'-'
        && b[start + 5..start + 7].iter().all(u8::is_ascii_digit)
        && b[start + 7] == b'-'
        && b[start + 8..start + 10].iter().all(u8::is_ascii_digit);
    if is_date {
        let mut end = start + 10;
        if end < b.len() && (b[end] == b'T' || b[end] == b't') {
            end += 1;
            while end < b.len() && (b[end].is_ascii_digit() || b":.+-Zz".contains(&b[end])) {
                end += 1;
            }
            let text = &src[start..end];
            return match DateTime::parse_from_rfc3339(text) {
                Ok(t) => Ok((Tok::DateTime(t.with_timezone(&Utc)), end)),
                Err(_) => Err(ParseError::new(
                    src,
                    start,
                    format!("invalid timestamp `{text}` (expected RFC 3339, e.g. 2024-05-01T10:00:00Z)"),
                )),
            };
        }
        let text = &src[start..end];
        return match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Ok((Tok::Date(d), end)),
            Err(_) => Err(ParseError::new(src, start, format!("invalid date `{text}`"))),
        };
    }
    let mut end = digits(b, if b[start] == b'-' { start + 1 } else { start });
    if end + 1 < b.len() && b[end] == b'.' && b[end + 1].is_ascii_digit() {
        end = digits(b, end + 1);
    }
    let text = &src[start..end];
    match Decimal::parse(text) {
        Ok(d) => Ok((Tok::Number(d), end)),
        Err(e) => Err(ParseError::new(src, start, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_units_dates_and_strings() {
        assert_eq!(
            toks("last 6mo"),
            vec![
                Tok::Ident("last".into()),
                Tok::Number(Decimal::parse("6").unwrap()),
                Tok::Ident("mo".into()),
                Tok::Eof
            ]
        );
        assert!(matches!(toks("2024-02-29")[0], Tok::Date(_)));
        assert!(matches!(toks("2024-02-29T10:00:00+02:00")[0], Tok::DateTime(_)));
        assert_eq!(toks(r#""a\"b\\c""#)[0], Tok::Str("a\"b\\c".into()));
        assert_eq!(toks("-1.5")[0], Tok::Number(Decimal::parse("-1.5").unwrap()));
        assert_eq!(toks("x100-accessories")[0], Tok::Ident("x100-accessories".into()));
    }

    #[test]
    fn lex_errors_have_positions() {
        assert_eq!(lex("a = \"open").unwrap_err().column, 5);
        assert_eq!(lex("a = 2024-02-30").unwrap_err().column, 5);
        assert_eq!(lex("é").unwrap_err().column, 1);
        assert_eq!(lex("a == 1").unwrap_err().suggestion.as_deref(), Some("="));
        assert_eq!(lex(r#""\n""#).unwrap_err().column, 2);
    }
}
