//! Diagnostics: parse/check errors and warnings with positions and suggestions.

use std::fmt;

/// A parse or check error. `pos` is a byte offset into the source, `column`
/// the 1-based character column of the same place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub pos: usize,
    pub column: usize,
    pub message: String,
    pub suggestion: Option<String>,
}

/// Something that is not an error yet (a tag or segment that does not exist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub pos: usize,
    pub column: usize,
    pub message: String,
    pub suggestion: Option<String>,
}

/// The 1-based character column of byte offset `pos` in `src` (clamped, so
/// spans of hand-built trees or a foreign source never panic).
pub fn column_of(src: &str, pos: usize) -> usize {
    let mut p = pos.min(src.len());
    while !src.is_char_boundary(p) {
        p -= 1;
    }
    src[..p].chars().count() + 1
}

impl ParseError {
    pub fn new(src: &str, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError { pos, column: column_of(src, pos), message: message.into(), suggestion: None }
    }
    pub fn with_suggestion(mut self, s: Option<String>) -> ParseError {
        self.suggestion = s;
        self
    }
}

impl Warning {
    pub fn new(src: &str, pos: usize, message: impl Into<String>) -> Warning {
        Warning { pos, column: column_of(src, pos), message: message.into(), suggestion: None }
    }
}

fn show(f: &mut fmt::Formatter<'_>, column: usize, message: &str, suggestion: &Option<String>) -> fmt::Result {
    write!(f, "column {column}: {message}")?;
    if let Some(s) = suggestion {
        write!(f, ", did you mean `{s}`?")?;
    }
    Ok(())
}

/// `column 14: expected a value after `>`, found end of input` (plus
/// `, did you mean `city`?` when there is a suggestion).
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show(f, self.column, &self.message, &self.suggestion)
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show(f, self.column, &self.message, &self.suggestion)
    }
}

impl std::error::Error for ParseError {}
