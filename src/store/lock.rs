//! The one-process-per-database lock: an advisory `flock` on `<db>.lock`
//! holding the owner's pid, so a second process is told who has the file.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Set by a process that will own the database and answer other `reach`
/// processes on its socket (a console, `reach serve`, `scheduler run`):
/// its lock file then says so (`PID owner`), and a command that finds the
/// file locked waits for the socket instead of failing while the owner is
/// still opening the database.
static OWNER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks this process as one that will serve the database it opens.
pub fn announce_owner() {
    OWNER.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The pid of a live process that holds `db`'s lock as an owner (it will
/// listen on the socket, or is about to).
pub fn starting_owner(db: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(lock_path(db)).ok()?;
    let mut words = text.split_whitespace();
    let pid: u32 = words.next()?.parse().ok()?;
    if words.next() != Some("owner") {
        return None;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    alive.then_some(pid)
}

/// For the test of a command started while an owner is still opening the
/// database: `REACH_TEST_OWNER_PAUSE_MS` holds an owner that long between
/// announcing itself in the lock file and opening the database, a window
/// that is otherwise a millisecond or two and cannot be aimed at. Unset
/// (always, outside that test), nothing waits.
fn owner_test_pause() {
    let ms: u64 = std::env::var("REACH_TEST_OWNER_PAUSE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    if ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
    }
}

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
        // A held lock whose file names nobody is being taken or let go
        // (between the flock and the pid written, or the pid cleared and the
        // descriptor closed), or is held for a moment by a child this
        // process forked that has not yet run `exec` (which closes it): it
        // is tried again for a short while; a lock naming its holder fails
        // at once.
        let started = std::time::Instant::now();
        loop {
            // SAFETY: flock on a valid, owned file descriptor.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let mut s = String::new();
            let _ = file.seek(SeekFrom::Start(0));
            let _ = file.read_to_string(&mut s);
            let pid = s.split_whitespace().next().unwrap_or_default();
            if pid.is_empty() && started.elapsed() < std::time::Duration::from_millis(500) {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            }
            let who = if pid.is_empty() { "another process".to_string() } else { format!("pid {pid}") };
            return Err(Error::busy(format!("{}: database in use ({who})", db.display())));
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        let owner = OWNER.load(std::sync::atomic::Ordering::Relaxed);
        if owner {
            write!(file, "{} owner", std::process::id())?;
        } else {
            write!(file, "{}", std::process::id())?;
        }
        file.flush()?;
        if owner {
            owner_test_pause();
        }
        Ok(DbLock { file, path })
    }
}

impl Drop for DbLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        // the lock itself is released when the descriptor closes
    }
}
