//! Imports for front ends: a file into the session's store in one
//! transaction, with progress and a cancel flag (a cancelled import leaves
//! the database as it was).

use super::{AppError, AppResult, Session};
use crate::import::{ImportOptions, ImportReport, What};
use std::sync::atomic::{AtomicBool, Ordering};

/// How far an import got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportProgress {
    pub bytes_read: u64,
    pub total_bytes: Option<u64>,
    pub rows: u64,
}

impl Session {
    pub fn import(
        &self,
        what: What,
        path: &str,
        opts: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
        cancel: &AtomicBool,
    ) -> AppResult<ImportReport> {
        let r = crate::import::import(&self.store, what, path, opts, &mut |bytes_read, total_bytes, rows| {
            if cancel.load(Ordering::Relaxed) {
                return Err(crate::error::Error::runtime("cancelled"));
            }
            progress(ImportProgress { bytes_read, total_bytes, rows });
            Ok(())
        });
        match r {
            Err(e) if e.message == "cancelled" => Err(AppError::Cancelled),
            r => Ok(r?),
        }
    }
}
