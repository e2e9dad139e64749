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
        self.import_files(what, &[path.to_string()], opts, progress, cancel)
    }

    /// [`Session::import`] of several files (or of a zip archive of
    /// several) as one input, in one transaction.
    pub fn import_files(
        &self,
        what: What,
        paths: &[String],
        opts: &ImportOptions,
        progress: &mut dyn FnMut(ImportProgress),
        cancel: &AtomicBool,
    ) -> AppResult<ImportReport> {
        // the audit entry is written in the import's own transaction
        let file = crate::import::few_names(
            paths.iter().map(|p| std::path::Path::new(p).file_name().map_or(p.into(), |f| f.to_string_lossy()).into()),
            paths.len(),
        );
        let audit = |report: &crate::import::ImportReport| {
            self.audit_entry(match what {
                What::Contacts => {
                    format!("imported contacts from {file}: {} new, {} updated", report.inserted, report.updated)
                }
                What::Events => format!(
                    "imported events from {file}: {} events, {} new contacts",
                    report.events, report.contacts_created
                ),
            })
        };
        let r = crate::import::import_files_audited(
            &self.store,
            what,
            paths,
            opts,
            &mut |bytes_read, total_bytes, rows| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(crate::error::Error::runtime("cancelled"));
                }
                progress(ImportProgress { bytes_read, total_bytes, rows });
                Ok(())
            },
            Some(&audit),
        );
        let report = match r {
            Err(e) if e.message == "cancelled" => return Err(AppError::Cancelled),
            r => r?,
        };
        Ok(report)
    }
}
