//! Exports for front ends: the contacts or events table (all, or a chosen
//! set of contacts) as CSV or JSONL to a writer, or to a file written whole
//! and then moved into place; and a segment as SQL over those exported
//! tables.

use super::{AppError, AppResult, Session};
use crate::export::{ExportFormat, export_contacts, export_events};
use crate::segment::Expr;
use crate::segment::engine::StoreCatalog;
use crate::segment::sql::{Dialect, to_sql};
use roaring::RoaringBitmap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Which table an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportTable {
    Contacts,
    Events,
}

/// `path` with `.partial` appended: where a file export is written first.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    PathBuf::from(tmp)
}

impl Session {
    /// Writes `table` (only the contacts in `only`, when given) to `out`;
    /// returns the number of rows.
    pub fn export(
        &self,
        table: ExportTable,
        format: ExportFormat,
        only: Option<&RoaringBitmap>,
        out: &mut dyn Write,
    ) -> AppResult<u64> {
        let r = self.store.begin_read()?;
        Ok(match table {
            ExportTable::Contacts => export_contacts(&r, out, format, only)?,
            ExportTable::Events => export_events(&r, out, format, only)?,
        })
    }

    /// The same into the file at `path`: written beside it as
    /// `<path>.partial`, then renamed over it, so the file is either whole
    /// or untouched; a failed export removes the partial file. `name` is
    /// the file as the caller named it, for messages.
    pub fn export_to_file(
        &self,
        table: ExportTable,
        format: ExportFormat,
        only: Option<&RoaringBitmap>,
        path: &Path,
        name: &str,
    ) -> AppResult<u64> {
        let tmp = partial_path(path);
        let file = std::fs::File::create(&tmp).map_err(|e| AppError::invalid(format!("{name}: {e}")))?;
        let mut f = std::io::BufWriter::new(file);
        let written =
            self.export(table, format, only, &mut f).and_then(|n| f.flush().map(|_| n).map_err(AppError::from));
        drop(f);
        match written {
            Ok(n) => {
                std::fs::rename(&tmp, path)?;
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// CREATE TABLE statements for the exported tables in `dialect`.
    pub fn export_schema(&self, dialect: Dialect) -> AppResult<String> {
        let schema = self.store.begin_read()?.schema()?;
        Ok(crate::export::ddl::schema_sql(&schema, dialect))
    }

    /// A checked expression as one SQL query over the exported tables, at
    /// the session's clock.
    pub fn segment_sql(&self, e: &Expr, dialect: Dialect) -> AppResult<String> {
        let cat = StoreCatalog::load(&self.store.begin_read()?)?;
        Ok(to_sql(e, dialect, self.now(), &cat, &self.config.derived)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::selection::tests::session_with;

    /// Three contacts a@, b@, c@example.com.
    fn fixture(dir: &tempfile::TempDir) -> (Session, Vec<u32>) {
        session_with(dir, &["a@example.com", "b@example.com", "c@example.com"])
    }

    fn text(s: &Session, only: Option<&RoaringBitmap>) -> String {
        let mut out = Vec::new();
        s.export(ExportTable::Contacts, ExportFormat::Csv, only, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn exports_everyone_or_the_chosen_contacts() {
        let dir = tempfile::tempdir().unwrap();
        let (s, ids) = fixture(&dir);
        let all = text(&s, None);
        assert!(["a@", "b@", "c@"].iter().all(|e| all.contains(e)), "{all}");
        let only: RoaringBitmap = [ids[1]].into_iter().collect();
        let some = text(&s, Some(&only));
        assert!(some.contains("b@example.com") && !some.contains("a@example.com"), "{some}");
        assert_eq!(some.lines().count(), 2, "header and one row: {some}");
    }

    #[test]
    fn a_file_export_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = fixture(&dir);
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old").unwrap();
        let n = s.export_to_file(ExportTable::Contacts, ExportFormat::Csv, None, &path, "out.csv").unwrap();
        assert_eq!(n, 3);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text(&s, None));
        assert!(!partial_path(&path).exists(), "the partial file is moved into place");
    }

    #[test]
    fn an_unwritable_file_is_invalid_input_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = fixture(&dir);
        let path = dir.path().join("no-such-dir").join("out.csv");
        let e = s.export_to_file(ExportTable::Events, ExportFormat::Jsonl, None, &path, "no-such-dir/out.csv");
        match e.unwrap_err() {
            AppError::Invalid { reason, .. } => assert!(reason.starts_with("no-such-dir/out.csv: "), "{reason}"),
            e => panic!("expected invalid input, got {e:?}"),
        }
        assert!(!path.exists() && !partial_path(&path).exists());
    }

    #[test]
    fn sql_of_a_checked_expression() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = fixture(&dir);
        let e = s.check_expr("tag:vip").unwrap().expr;
        let sql = s.segment_sql(&e, Dialect::Sqlite).unwrap();
        assert!(sql.to_lowercase().contains("select"), "{sql}");
        assert!(sql.contains("vip"), "{sql}");
    }
}
