//! The owning process's side of sharing a database: the local socket that
//! other `reach` processes send their commands through while a console or
//! `reach serve` holds the file, the client that forwards a command there,
//! and `reach serve` itself.
//!
//! One process owns a database (the lock file is the election). It listens
//! on `<db>.run/socket`, a Unix socket (0600) in a directory only its user
//! may enter (0700), and answers only peers of its own user (checked with
//! `SO_PEERCRED`). Every other `reach` command on that database finds the
//! socket, sends its arguments and working directory, and prints what the
//! owner's run of the same command printed, with the same exit code; the
//! owner counts with its warm engine, and its consoles see the changes.

pub mod client;
pub mod keys;
pub mod operators;
pub mod protocol;
pub mod serve;
pub mod server;
pub mod ssh;

use std::path::{Path, PathBuf};

/// The private directory beside the database that holds its socket.
pub fn run_dir(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".run");
    PathBuf::from(p)
}

/// The owner's socket of a database.
pub fn socket_path(db: &Path) -> PathBuf {
    run_dir(db).join("socket")
}
