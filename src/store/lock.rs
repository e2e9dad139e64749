//! The one-process-per-database lock: an advisory `flock` on `<db>.lock`
//! holding the owner's pid, so a second process is told who has the file.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct DbLock {
    file: File,
    pub path: PathBuf,
}

pub fn lock_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

impl DbLock {
    /// Takes the lock at once or fails with `database in use (pid N)`.
    pub fn acquire(db: &Path) -> Result<DbLock> {
        let path = lock_path(db);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::runtime(format!("{}: cannot open lock file: {e}", path.display())))?;
        // SAFETY: flock on a valid, owned file descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut s = String::new();
            let _ = file.read_to_string(&mut s);
            let pid = s.trim();
            let who = if pid.is_empty() { "another process".to_string() } else { format!("pid {pid}") };
            return Err(Error::busy(format!("{}: database in use ({who})", db.display())));
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        file.flush()?;
        Ok(DbLock { file, path })
    }
}

impl Drop for DbLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        // the lock itself is released when the descriptor closes
    }
}
