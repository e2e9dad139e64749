//! Starts the database file's written pages on their way to the disk while
//! a long write transaction runs, so that its commit's `fdatasync` waits
//! for the last of them only.
//!
//! By default the kernel holds written pages in memory until a tenth of
//! the machine's memory is dirty or they are 30 seconds old: on a machine
//! with gigabytes to spare, an import's half gigabyte stays in memory until
//! the commit syncs it, and the disk sits idle while the rows are read. A thread here
//! asks the kernel every `EVERY` to start writing what is dirty
//! (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which does not wait
//! for the writes), through a descriptor of its own on the same file.
//! Durability is unchanged: the commit still syncs; this only moves
//! writing earlier.

use std::path::Path;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the writer thread starts the dirty pages' write-out.
const EVERY: Duration = Duration::from_millis(100);

/// Stops the thread when dropped (after the commit, or when the write is
/// abandoned).
pub struct Writeback {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Writeback {
    /// Starts the thread for the file at `path`. Where the file cannot be
    /// opened or the system has no `sync_file_range`, nothing runs: the
    /// commit syncs everything, as it would anyway.
    pub fn start(path: &Path) -> Writeback {
        let none = Writeback { stop: None, thread: None };
        if !cfg!(target_os = "linux") {
            return none;
        }
        let Ok(file) = std::fs::File::open(path) else { return none };
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new().name("writeback".into()).spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                if !start_writing(&file) {
                    return;
                }
            }
        });
        match thread {
            Ok(t) => Writeback { stop: Some(stop), thread: Some(t) },
            Err(_) => none,
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Asks the kernel to start writing the file's dirty pages; false when it
/// refuses (then there is no use asking again).
#[cfg(target_os = "linux")]
fn start_writing(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a descriptor this thread owns; the
    // range 0..0 means the whole file.
    unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn start_writing(_: &std::fs::File) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The thread runs, asks the kernel without error (a refusal would end
    /// it), and stops when dropped.
    #[test]
    fn starts_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        let wb = Writeback::start(&path);
        f.write_all(&vec![7u8; 1 << 20]).unwrap();
        assert!(start_writing(&std::fs::File::open(&path).unwrap()) || !cfg!(target_os = "linux"));
        if cfg!(target_os = "linux") {
            assert!(wb.thread.as_ref().is_some_and(|t| !t.is_finished()));
        }
        drop(wb);
        assert!(Writeback::start(&dir.path().join("missing")).thread.is_none());
    }
}
