//! Typed errors of the application layer: what a front end needs to decide
//! how to show a failure (a caret under a column, "not found", "busy"),
//! mapped by the CLI to its messages and exit codes.

use crate::error::{Error as CoreError, ErrorKind};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppError {
    /// a named thing does not exist (contact, segment, campaign)
    NotFound { what: &'static str, name: String },
    /// bad input; `at` is the 1-based column in the source when known
    Invalid { at: Option<usize>, reason: String, source: Option<String> },
    /// the database is held by another process
    Busy(String),
    /// the operation was cancelled by its caller
    Cancelled,
    /// the request conflicts with the current state (pausing a finished campaign)
    Conflict(String),
    /// the actor's role does not allow the operation (the message names the role it needs)
    Denied(String),
    /// anything else (I/O, database)
    Failed(String),
}

pub type AppResult<T> = std::result::Result<T, AppError>;

impl AppError {
    pub fn invalid(reason: impl Into<String>) -> AppError {
        AppError::Invalid { at: None, reason: reason.into(), source: None }
    }

    pub fn not_found(what: &'static str, name: impl Into<String>) -> AppError {
        AppError::NotFound { what, name: name.into() }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::NotFound { what, name } => write!(f, "no {what} named `{name}`"),
            AppError::Invalid { reason, .. } => f.write_str(reason),
            AppError::Busy(m) | AppError::Conflict(m) | AppError::Failed(m) | AppError::Denied(m) => f.write_str(m),
            AppError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for AppError {}

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> AppError {
        let text = e.to_string();
        match e.kind {
            ErrorKind::Input => AppError::Invalid { at: None, reason: text, source: None },
            ErrorKind::Busy => AppError::Busy(text),
            ErrorKind::Denied => AppError::Denied(text),
            ErrorKind::Runtime if e.message == "cancelled" => AppError::Cancelled,
            ErrorKind::Runtime => AppError::Failed(text),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> AppError {
        AppError::Failed(format!("I/O error: {e}"))
    }
}

/// The CLI's mapping: input and conflicts exit 2, busy 3, denied 4, the rest 1.
impl From<AppError> for CoreError {
    fn from(e: AppError) -> CoreError {
        match e {
            AppError::NotFound { .. } | AppError::Conflict(_) => CoreError::input(e.to_string()),
            AppError::Invalid { at, reason, source } => {
                let err = CoreError::input(reason);
                match (at, source) {
                    (Some(col), Some(src)) => {
                        err.with_detail(format!("{src}\n  {}^", " ".repeat(col.saturating_sub(1))))
                    }
                    _ => err,
                }
            }
            AppError::Busy(m) => CoreError::busy(m),
            AppError::Denied(m) => CoreError::denied(m),
            AppError::Cancelled => CoreError::runtime("cancelled"),
            AppError::Failed(m) => CoreError::runtime(m),
        }
    }
}
