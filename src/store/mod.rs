//! The store: the only module that touches redb. Opening (lock, format and
//! version checks, migrations), the read and write sides, and bulk loading
//! (a `Loader` over a write, with the caches imports need).

pub mod action_groups;
pub mod audit;
pub mod codec;
pub mod contact_columns;
pub mod contact_index;
pub mod dict;
pub mod journeys;
pub mod key_buckets;
pub mod keys;
pub mod load;
pub mod lock;
mod migrate;
pub mod read;
pub mod record_rows;
pub mod summaries;
pub mod tables;
pub mod time_parts;
pub mod write;
pub mod writeback;

use crate::error::{Error, Result};
use redb::ReadableDatabase;
use std::io::Read as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};

pub use load::Loader;
pub use read::Reader;
pub use write::Writer;

/// The schema version this build writes. Older files are migrated on open;
/// newer ones are refused.
pub const SCHEMA_VERSION: u32 = 8;
pub const FORMAT: &str = "reach";

/// What a committed write changed; sent to subscribers (the live engine,
/// the console) after each commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// contacts created or updated
    Contacts(Vec<u32>),
    ContactsDeleted(Vec<u32>),
    /// event blocks appended: (kind, block id)
    EventBlocks(Vec<(u16, u64)>),
    /// event blocks rewritten or removed (deletes): (kind, block id)
    EventBlocksRewritten(Vec<(u16, u64)>),
    Tags(Vec<String>),
    Categories,
    Schema,
    Segments,
    Campaigns,
    /// journeys, their enrollments or timers
    Journeys,
    /// an entry appended to the audit log
    Audit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// create the file if missing
    Create,
    /// the file must exist
    Existing,
}

pub struct Store {
    db: redb::Database,
    path: PathBuf,
    _lock: lock::DbLock,
    subscribers: Mutex<Vec<Sender<Change>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const REDB_MAGIC: &[u8] = b"redb";

/// redb's page cache for a store opened with `Store::open`. Everything
/// hot lives in reach's own structures (the engine's columns, the import's
/// key maps), and redb keeps every page it reads or writes in its cache up
/// to this size: each one fresh memory the kernel must fault in and zero,
/// for a page used once. 4 MB holds the upper levels of the B-trees.
/// Against 64 MB (the size until 2026-12-04; paired whole-process runs,
/// `scripts/time_pair.sh`, BENCHMARKS.md "A small page cache"): a count
/// from a fresh process 0.57–0.87 of the time and 13–47 MB less memory,
/// the import of 1M contacts 0.95 of the time.
pub const CACHE_BYTES: usize = 4 << 20;

/// The cache of a process that writes a whole database at once (`reach
/// demo`): at 4 MB it took 1.09 times as long as at 64 MB, and at 64 MB
/// 1.3 times as long as at 256 MB (2M contacts, 20M events: 34.6-36.3 s
/// against 26.8-27.7 s, most of the difference system time re-reading
/// evicted pages; 1 GB gave 25.6 s for 500 MB more; at 10M contacts
/// 0.96 of the time; BENCHMARKS.md "The demo's page cache").
pub const BULK_CACHE_BYTES: usize = 256 << 20;

/// A builder with a page cache of `bytes` (or `REACH_CACHE_MB` megabytes).
fn builder(bytes: usize) -> redb::Builder {
    let mut b = redb::Builder::new();
    let env: Option<usize> = std::env::var("REACH_CACHE_MB").ok().and_then(|v| v.parse().ok());
    b.set_cache_size(env.map_or(bytes, |mb| mb << 20));
    b
}

impl Store {
    pub fn open(path: &Path, mode: OpenMode) -> Result<Store> {
        Store::open_with_cache(path, mode, CACHE_BYTES)
    }

    /// `open` with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, mode: OpenMode, cache_bytes: usize) -> Result<Store> {
        let exists = path.exists();
        if !exists && mode == OpenMode::Existing {
            return Err(Error::input(format!(
                "no database at {} (create one with `reach demo` or `reach import`, or pass --db)",
                path.display()
            )));
        }
        if path.is_dir() {
            return Err(Error::input(format!("{} is a directory, not a database file", path.display())));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| Error::runtime(format!("{}: cannot create directory: {e}", parent.display())))?;
        }
        let lock = lock::DbLock::acquire(path)?;
        let len = if exists { std::fs::metadata(path)?.len() } else { 0 };
        let db = if len == 0 {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::runtime(format!("{}: cannot create: {e}", path.display())))?;
            builder(cache_bytes)
                .create_with_backend(redb::backends::FileBackend::new(file)?)
                .map_err(|e| open_error(path, e))?
        } else {
            let mut head = [0u8; 4];
            let n = std::fs::File::open(path)?.read(&mut head)?;
            if n < 4 || head != REDB_MAGIC {
                return Err(not_ours(path));
            }
            migrate::probe(path)?;
            builder(cache_bytes).open(path).map_err(|e| open_error(path, e))?
        };
        let mut store = Store { db, path: path.to_path_buf(), _lock: lock, subscribers: Mutex::new(Vec::new()) };
        migrate::check_and_upgrade(&store)?;
        // a migration that rewrote a table as large as the records left its
        // old pages free: compacted now (at the next open, if this fails)
        if store.begin_read()?.meta("compact_pending")? != 0 {
            store.compact()?;
            let tx = store.db.begin_write()?;
            tx.open_table(tables::META)?.remove("compact_pending")?;
            tx.commit()?;
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder beside the database where delivery adapters write.
    pub fn outbox_dir(&self) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).join("outbox")
    }

    /// Rewrites the file without free space (offline: no transaction may be open).
    pub fn compact(&mut self) -> Result<bool> {
        self.db.compact().map_err(|e| Error::runtime(format!("compaction failed: {e}")))
    }

    pub fn begin_write(&self) -> Result<Writer<'_>> {
        Writer::begin(self)
    }

    /// Starts writing the file's dirty pages out in the background until
    /// the guard is dropped: for a long write (an import), whose commit then
    /// waits for the last pages only (`writeback`).
    pub fn writeback(&self) -> writeback::Writeback {
        writeback::Writeback::start(&self.path)
    }

    pub fn begin_read(&self) -> Result<Reader> {
        Ok(Reader::new(self.db.begin_read()?))
    }

    /// Receives every change committed through this store from now on.
    pub fn subscribe(&self) -> Receiver<Change> {
        let (tx, rx) = channel();
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner()).push(tx);
        rx
    }

    /// Returns once no commit is being published: every change whose
    /// publishing had begun is in every subscriber's channel. A subscriber
    /// told of a commit calls this before reading another subscriber's
    /// channel (the sends go one subscriber after the other).
    pub fn settled(&self) {
        drop(self.subscribers.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn publish(&self, changes: &[Change]) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| changes.iter().all(|c| s.send(c.clone()).is_ok()));
    }

    pub(crate) fn redb(&self) -> &redb::Database {
        &self.db
    }
}

fn not_ours(path: &Path) -> Error {
    Error::input(format!("{}: not a reach database (the file was written by another program)", path.display()))
}

pub(crate) fn open_error(path: &Path, e: redb::DatabaseError) -> Error {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => {
            Error::busy(format!("{}: database in use by another process", path.display()))
        }
        redb::DatabaseError::UpgradeRequired(v) => Error::input(format!(
            "{}: the database file uses an old storage format ({v}) that this reach cannot read",
            path.display()
        )),
        // redb's own "not a redb database" (a file that only starts like one)
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) if io.kind() == std::io::ErrorKind::InvalidData => {
            not_ours(path)
        }
        redb::DatabaseError::Storage(redb::StorageError::Io(io)) => Error::runtime(format!("{}: {io}", path.display())),
        other => Error::input(format!("{}: not a usable reach database ({other})", path.display())),
    }
}

/// Default database path: `$REACH_DB` is handled by the CLI; this is the XDG fallback.
pub fn default_db_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("reach").join("reach.redb")
}

#[cfg(test)]
mod tests {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};

    const T: TableDefinition<u32, &[u8]> = TableDefinition::new("t");

    fn value(i: u32, round: u32) -> Vec<u8> {
        (0..3000 + i % 500).map(|j| (i.wrapping_mul(31) ^ j ^ round) as u8).collect()
    }

    /// A database file with a 64 KB page cache, so that a transaction of
    /// a few megabytes sends most of its leaves out of the write buffer
    /// before the commit checksums them.
    struct SmallCache {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    impl SmallCache {
        fn new() -> SmallCache {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("small-cache.redb");
            SmallCache { _dir: dir, path }
        }

        fn open(&self) -> redb::Database {
            redb::Builder::new().set_cache_size(64 << 10).create(&self.path).unwrap()
        }

        /// `db` closed and the file opened again, its checksums checked
        /// whole.
        fn reopened_whole(&self, db: redb::Database) -> redb::Database {
            drop(db);
            let mut db = self.open();
            assert!(db.check_integrity().unwrap(), "checksums as written");
            db
        }
    }

    /// Transactions far larger than the page cache, so that most leaves
    /// leave the write buffer before the commit checksums them: the file
    /// checks whole and reads back what was written. This is the path the
    /// patched redb changes (vendor/redb/PATCHED.md): a checksum computed
    /// from a leaf read rather than rewritten.
    #[test]
    fn large_transactions_over_a_small_cache_check_whole() {
        let file = SmallCache::new();
        let db = file.open();
        for round in 0..3u32 {
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table(T).unwrap();
                // round 0 writes 0..3000; later rounds rewrite every third and add 1000
                for i in (0..3000 + 1000 * round).filter(|i| round == 0 || i % 3 == 0 || *i >= 2000 + 1000 * round) {
                    t.insert(i, value(i, round).as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        // a transaction given up leaves nothing behind
        let tx = db.begin_write().unwrap();
        tx.open_table(T).unwrap().insert(0, &[1u8; 5000][..]).unwrap();
        tx.abort().unwrap();
        let db = file.reopened_whole(db);
        let r = db.begin_read().unwrap();
        let t = r.open_table(T).unwrap();
        let mut n = 0;
        for row in t.iter().unwrap() {
            let (k, v) = row.unwrap();
            let i = k.value();
            let round = (0..3u32).rev().find(|&r| r == 0 || i % 3 == 0 || i >= 2000 + 1000 * r).unwrap();
            assert_eq!(v.value(), value(i, round).as_slice(), "key {i}");
            n += 1;
        }
        assert_eq!(n, 5000);
    }

    /// A leaf's checksum is noted as the leaf leaves the write buffer
    /// (vendor/redb/PATCHED.md). A leaf changed after that, in the same
    /// transaction, is checksummed as it is at the commit: here the first
    /// leaves are rewritten after thousands of inserts pushed them out.
    #[test]
    fn leaves_changed_after_leaving_the_buffer_check_whole() {
        let file = SmallCache::new();
        let db = file.open();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(T).unwrap();
            for i in 0..20_000u32 {
                t.insert(i, &[i as u8; 100][..]).unwrap();
            }
            for i in (0..200u32).step_by(7) {
                t.insert(i, &[!(i as u8); 100][..]).unwrap();
            }
        }
        tx.commit().unwrap();
        let db = file.reopened_whole(db);
        let r = db.begin_read().unwrap();
        let t = r.open_table(T).unwrap();
        for i in [0u32, 6, 7, 8, 196, 19_999] {
            let byte = if i < 200 && i % 7 == 0 { !(i as u8) } else { i as u8 };
            assert_eq!(t.get(i).unwrap().unwrap().value(), &[byte; 100][..], "key {i}");
        }
    }
}
