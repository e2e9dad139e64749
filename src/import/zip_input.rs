//! Zip archives, as shops and admin panels hand out their exports: one
//! holding one file is read as that file; the files of one holding
//! several are listed, to be read in turn (`input::parts`). The archive's
//! directory (at its end) names the files; a thread of its own inflates
//! the one being read, and the `zip` crate checks its CRC at the end, so
//! a damaged archive is refused, not read in part.

use crate::error::{Error, Result};
use std::io::{self, Read, Seek};
use std::sync::mpsc::{Receiver, sync_channel};

/// The first bytes of a zip archive (its first file's local header).
pub const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// Bytes inflated at a time, and how many such chunks wait for the reader.
const CHUNK: usize = 256 << 10;
const AHEAD: usize = 4;

/// A file of a zip archive: its index, name and size.
pub type Entry = (usize, String, u64);

/// The files of the zip archive `f` (`path` in messages), in the
/// archive's order: their index, name and size. Directories and the files
/// macOS adds (`__MACOSX/`, `.DS_Store`) are passed over.
pub fn files<R: Read + Seek>(path: &str, f: R) -> Result<(zip::ZipArchive<R>, Vec<Entry>)> {
    let archive = zip::ZipArchive::new(f).map_err(|e| bad(path, e))?;
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_data(i).map_err(|e| bad(path, e))?;
        let name = entry.name().map_err(|e| bad(path, e))?.into_owned();
        if !entry.is_dir() && !added_by_macos(&name) {
            files.push((i, name, entry.size()));
        }
    }
    Ok((archive, files))
}

fn bad(path: &str, e: zip::result::ZipError) -> Error {
    Error::input(format!("{path}: not a readable zip archive ({e})"))
}

/// The one file of the zip archive `f` (`path` in messages): its name in
/// the archive, its size, and a reader of its bytes. An archive holding
/// no file is refused, and so is one of several (`several`: what the
/// message adds about them).
pub fn open_single<R: Read + Seek + Send + 'static>(
    path: &str,
    f: R,
    several: &str,
) -> Result<(String, u64, Box<dyn Read + Send>)> {
    let (archive, mut files) = files(path, f)?;
    let (index, name, size) = match files.len() {
        1 => files.remove(0),
        0 => return Err(Error::input(format!("{path}: the zip archive holds no file"))),
        n => {
            let names: Vec<&str> = files.iter().take(5).map(|(_, name, _)| name.as_str()).collect();
            let more = if n > 5 { ", …" } else { "" };
            return Err(Error::input(format!(
                "{path}: the zip archive holds {n} files ({}{more}){several}",
                names.join(", ")
            )));
        }
    };
    Ok((name, size, open_index(archive, index)))
}

/// A reader of file `index` of `archive`, inflated on a thread of its own.
pub fn open_index<R: Read + Seek + Send + 'static>(
    mut archive: zip::ZipArchive<R>,
    index: usize,
) -> Box<dyn Read + Send> {
    let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(AHEAD);
    std::thread::spawn(move || {
        let broken = |e: &dyn std::fmt::Display| {
            io::Error::new(io::ErrorKind::InvalidData, format!("not a whole zip archive ({e})"))
        };
        let mut entry = match archive.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                let _ = tx.send(Err(broken(&e)));
                return;
            }
        };
        loop {
            let mut buf = vec![0; CHUNK];
            match entry.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Ok(Vec::new())); // the end, said
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() {
                        return; // the import stopped reading
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(broken(&e)));
                    return;
                }
            }
        }
    });
    Box::new(Chunks { rx, cur: Vec::new(), pos: 0, done: false })
}

/// A file read at an offset of its own (`pread`), so that clones of one
/// parsed archive (which share its directory) read its files in turn
/// without parsing the directory again for each.
#[derive(Clone)]
pub struct SharedFile {
    file: std::sync::Arc<std::fs::File>,
    pos: u64,
}

impl SharedFile {
    pub fn new(file: std::fs::File) -> SharedFile {
        SharedFile { file: std::sync::Arc::new(file), pos: 0 }
    }
}

impl Read for SharedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = std::os::unix::fs::FileExt::read_at(&*self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let (base, off) = match to {
            io::SeekFrom::Start(n) => (0, n as i128),
            io::SeekFrom::End(n) => (self.file.metadata()?.len(), n as i128),
            io::SeekFrom::Current(n) => (self.pos, n as i128),
        };
        let at = base as i128 + off;
        if at < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"));
        }
        self.pos = at as u64;
        Ok(self.pos)
    }
}

/// Whether an archive's entry is one macOS's Finder adds beside the files.
fn added_by_macos(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    name.starts_with("__MACOSX/") || base == ".DS_Store" || base.starts_with("._")
}

/// The chunks the inflating thread sends, read in turn (an empty one
/// ends them).
struct Chunks {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(chunk) => {
                    (self.cur, self.pos) = (chunk?, 0);
                    self.done = self.cur.is_empty();
                }
                Err(_) => return Err(io::Error::other("the zip archive's reader stopped")),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
