//! The core's error type. Each error carries the exit code class the CLI
//! maps it to: bad input (2), database busy (3), not permitted to the
//! operator's role (4), anything else (1).

use std::cell::Cell;
use std::fmt;

thread_local! {
    /// a panic on this thread is being caught ([`catching_panics`])
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, a call into a library that may panic on malformed input (the
/// `parquet` crate asserts on some damaged files' metadata), with a panic
/// caught and handed back as its message. Meanwhile the process's panic
/// hooks pass over a panic on this thread ([`panic_is_caught`]): it is the
/// file's fault, said as an error, not a bug of reach's.
pub fn catching_panics<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let before = CATCHING.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(before));
    result.map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into())
    })
}

/// Whether a panic now on this thread will be caught by
/// [`catching_panics`] (a panic hook then stays quiet).
pub fn panic_is_caught() -> bool {
    CATCHING.with(Cell::get)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// usage or input error: bad expression, bad file, unknown name (exit 2)
    Input,
    /// the database is in use by another process (exit 3)
    Busy,
    /// the operator's role does not allow it (exit 4)
    Denied,
    /// everything else (exit 1)
    Runtime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// one line
    pub message: String,
    /// optional detail lines
    pub detail: Vec<String>,
}

impl Error {
    pub fn input(m: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Input, message: m.into(), detail: vec![] }
    }
    pub fn busy(m: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Busy, message: m.into(), detail: vec![] }
    }
    pub fn denied(m: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Denied, message: m.into(), detail: vec![] }
    }
    pub fn runtime(m: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Runtime, message: m.into(), detail: vec![] }
    }
    pub fn with_detail(mut self, d: impl Into<String>) -> Error {
        self.detail.push(d.into());
        self
    }
    /// The disk (of the database or an outbox) is full: nothing to blame a
    /// campaign or a row for; what runs stops, and runs again once there is space.
    pub fn is_disk_full(&self) -> bool {
        self.message == DISK_FULL
    }
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Input => 2,
            ErrorKind::Busy => 3,
            ErrorKind::Denied => 4,
            ErrorKind::Runtime => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for d in &self.detail {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// What a full disk says, whatever was being written: the transaction in
/// progress is not kept (redb commits all or nothing), and what was
/// committed before stays.
pub const DISK_FULL: &str = "no space left on the device: the change in progress was not kept (the database \
     keeps everything committed before it); free some space and run the command again";

pub fn io_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) // ENOSPC
}

macro_rules! runtime_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                match redb::Error::from(e) {
                    redb::Error::Io(io) if io_disk_full(&io) => Error::runtime(DISK_FULL),
                    e => Error::runtime(format!("database error: {e}")),
                }
            }
        }
    )*};
}
runtime_from!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

impl From<redb::Error> for Error {
    fn from(e: redb::Error) -> Error {
        match e {
            redb::Error::Io(io) if io_disk_full(&io) => Error::runtime(DISK_FULL),
            e => Error::runtime(format!("database error: {e}")),
        }
    }
}

impl From<postcard::Error> for Error {
    fn from(e: postcard::Error) -> Error {
        Error::runtime(format!("database error: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        if io_disk_full(&e) {
            return Error::runtime(DISK_FULL);
        }
        Error::runtime(format!("I/O error: {e}"))
    }
}
