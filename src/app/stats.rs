//! What the database holds and how big it is, for front ends: the file's
//! size, contacts and events, and each table's rows and bytes.

use super::{AppResult, Session};

/// One table's rows and key+value bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSize {
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbStats {
    /// the database file's size on disk
    pub file_bytes: u64,
    pub contacts: u64,
    pub events: u64,
    pub tables: Vec<TableSize>,
}

impl DbStats {
    /// File bytes per stored event; none without events.
    pub fn bytes_per_event(&self) -> Option<u64> {
        self.file_bytes.checked_div(self.events)
    }
}

impl Session {
    pub fn db_stats(&self) -> AppResult<DbStats> {
        let r = self.store.begin_read()?;
        let file_bytes = std::fs::metadata(self.store.path())?.len();
        let events = r.event_count()?;
        let contacts = r.contact_count()?;
        let tables = r.table_sizes()?.into_iter().map(|(name, rows, bytes)| TableSize { name, rows, bytes }).collect();
        Ok(DbStats { file_bytes, contacts, events, tables })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::selection::tests::session_with;

    #[test]
    fn counts_and_sizes_of_a_small_database() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = session_with(&dir, &["a@example.com", "b@example.com", "c@example.com"]);
        let st = s.db_stats().unwrap();
        assert_eq!((st.contacts, st.events), (3, 0));
        assert_eq!(st.file_bytes, std::fs::metadata(s.store().path()).unwrap().len());
        assert_eq!(st.bytes_per_event(), None, "no events, no ratio");
        let contacts = st.tables.iter().find(|t| t.name == "contact_records").expect("the contact records table");
        assert_eq!(contacts.rows, 1, "three contacts in one row");
        assert!(contacts.bytes > 0);
        let with_events = DbStats { events: 4, ..st };
        assert_eq!(with_events.bytes_per_event(), Some(with_events.file_bytes / 4));
    }
}
