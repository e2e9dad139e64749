//! The audit log: every change to a database, with who made it, when and
//! through which way in (`console`, `cli`, a client of the owner's socket).
//! Entries say what changed in words that hold no contact's data (an
//! erasure is "erased 3 contacts", never their emails), so erasing a
//! contact leaves its audit entry and nothing of it.

use super::tables::AUDIT;
use super::{Reader, Writer};
use crate::error::Result;
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub ts: i64,
    /// the operating-system user (or, over SSH, the operator)
    pub who: String,
    /// the way in: `console`, `cli`, `cli via owner (pid N)`
    pub via: String,
    pub what: String,
}

impl Writer<'_> {
    /// Appends an entry, in this transaction: kept if and only if the
    /// change it tells of is.
    pub fn audit(&mut self, e: &AuditEntry) -> Result<()> {
        {
            let mut t = self.tx.open_table(AUDIT)?;
            let next = t.last()?.map_or(0, |(k, _)| k.value() + 1);
            t.insert(next, postcard::to_allocvec(e)?.as_slice())?;
        }
        self.note_change(super::Change::Audit);
        Ok(())
    }
}

impl Reader {
    /// The entries at or after `since`, oldest first.
    pub fn audit(&self, since: i64) -> Result<Vec<AuditEntry>> {
        let t = self.tx.open_table(AUDIT)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row?;
            let e: AuditEntry = postcard::from_bytes(v.value())?;
            if e.ts >= since {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// The newest `limit` entries, newest first, and how many there are.
    pub fn audit_latest(&self, limit: usize) -> Result<(Vec<AuditEntry>, u64)> {
        let t = self.tx.open_table(AUDIT)?;
        let mut out = Vec::new();
        for row in t.iter()?.rev().take(limit) {
            let (_, v) = row?;
            out.push(postcard::from_bytes(v.value())?);
        }
        Ok((out, t.len()?))
    }
}
