//! Format and schema-version checks on open, initialisation of a new file,
//! and the migration path from older schema versions.

use super::tables::*;
use super::{FORMAT, SCHEMA_VERSION, Store};
use crate::error::{Error, Result};
use crate::model::Schema;

/// One step: upgrades a file from version `from` to `from + 1` inside the
/// given transaction. Index 0 upgrades version 1 to 2, and so on.
type Step = fn(&redb::WriteTransaction) -> Result<()>;
const STEPS: &[Step] = &[];

pub(super) fn check_and_upgrade(store: &Store) -> Result<()> {
    let path = store.path().display().to_string();
    let tx = store.redb().begin_write()?;
    let table_names: Vec<String> = {
        use redb::TableHandle;
        tx.list_tables()?.map(|t| t.name().to_string()).collect()
    };
    if table_names.is_empty() {
        init(&tx)?;
        tx.commit()?;
        return Ok(());
    }
    let (format, version) =
        if table_names.iter().any(|n| n == "meta") { read_meta(&tx.open_table(META)?)? } else { (None, None) };
    let version = check(&path, &table_names, format.as_deref(), version)?;
    if version < SCHEMA_VERSION {
        for step in &STEPS[(version - 1) as usize..] {
            step(&tx)?;
        }
        let mut meta = tx.open_table(META)?;
        meta.insert("schema_version", SCHEMA_VERSION.to_le_bytes().as_slice())?;
        drop(meta);
        tx.commit()?;
    } else {
        tx.abort()?;
    }
    Ok(())
}

/// Reads `format` and `schema_version` from the meta table.
fn read_meta(meta: &impl redb::ReadableTable<&'static str, &'static [u8]>) -> Result<(Option<String>, Option<u32>)> {
    let format = meta.get("format")?.map(|v| String::from_utf8_lossy(v.value()).into_owned());
    let version = meta.get("schema_version")?.and_then(|v| v.value().try_into().ok().map(u32::from_le_bytes));
    Ok((format, version))
}

/// Refuses a non-empty file that is not a reach database or is too new; returns its schema version.
fn check(path: &str, table_names: &[String], format: Option<&str>, version: Option<u32>) -> Result<u32> {
    if !table_names.iter().any(|n| n == "meta") {
        return Err(Error::input(format!("{path}: not a reach database (its tables were written by another program)")));
    }
    if format != Some(FORMAT) {
        return Err(Error::input(format!("{path}: not a reach database (written by another program)")));
    }
    let version = version.ok_or_else(|| Error::input(format!("{path}: reach database without a schema version")))?;
    if version > SCHEMA_VERSION {
        return Err(Error::input(format!(
            "{path}: written by a newer reach (schema version {version}, this one reads up to {SCHEMA_VERSION}); upgrade reach"
        )));
    }
    if version == 0 {
        return Err(Error::input(format!("{path}: unknown schema version 0")));
    }
    Ok(version)
}

/// Checks an existing file read-only, before it is opened for writing (which
/// would already modify a file that turns out to be another program's or a
/// newer reach's). A file that needs crash recovery cannot be opened
/// read-only: it is checked again after the read-write open repaired it.
pub(super) fn probe(path: &std::path::Path) -> Result<()> {
    use redb::{ReadableDatabase, TableHandle};
    let db = match redb::ReadOnlyDatabase::open(path) {
        Ok(db) => db,
        Err(redb::DatabaseError::RepairAborted) => return Ok(()),
        Err(e) => return Err(super::open_error(path, e)),
    };
    let tx = db.begin_read()?;
    let table_names: Vec<String> = tx.list_tables()?.map(|t| t.name().to_string()).collect();
    if table_names.is_empty() {
        return Ok(());
    }
    let (format, version) =
        if table_names.iter().any(|n| n == "meta") { read_meta(&tx.open_table(META)?)? } else { (None, None) };
    check(&path.display().to_string(), &table_names, format.as_deref(), version)?;
    Ok(())
}

fn init(tx: &redb::WriteTransaction) -> Result<()> {
    {
        let mut meta = tx.open_table(META)?;
        meta.insert("format", FORMAT.as_bytes())?;
        meta.insert("schema_version", SCHEMA_VERSION.to_le_bytes().as_slice())?;
        let mut schema = tx.open_table(SCHEMA)?;
        schema.insert("schema", postcard::to_allocvec(&Schema::default())?.as_slice())?;
    }
    // create every table so readers never meet a missing one
    tx.open_table(CONTACTS)?;
    tx.open_table(BY_EMAIL)?;
    tx.open_table(BY_EXTERNAL_ID)?;
    tx.open_table(TAGS)?;
    tx.open_table(CATEGORY_TREE)?;
    tx.open_table(CATEGORY_MEMBERS)?;
    tx.open_table(DICT)?;
    tx.open_table(EVENT_BLOCKS)?;
    tx.open_table(ACTIONS)?;
    tx.open_table(SEGMENTS)?;
    tx.open_table(SEGMENT_HISTORY)?;
    tx.open_table(CAMPAIGNS)?;
    tx.open_table(SETTINGS)?;
    tx.open_table(DELIVERIES)?;
    Ok(())
}
