//! A zip archive holding one file, as shops and admin panels hand out
//! their exports, read as that file. The archive's directory (at its end)
//! names the file; a thread of its own inflates it, and the `zip` crate
//! checks its CRC at the end, so a damaged archive is refused, not read in
//! part.

use crate::error::{Error, Result};
use std::io::{self, Read, Seek};
use std::sync::mpsc::{Receiver, sync_channel};

/// The first bytes of a zip archive (its first file's local header).
pub const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// Bytes inflated at a time, and how many such chunks wait for the reader.
const CHUNK: usize = 256 << 10;
const AHEAD: usize = 4;

/// The one file of the zip archive `f` (`path` in messages): its name in
/// the archive, its size, and a reader of its bytes. Directories and the
/// files macOS adds (`__MACOSX/`, `.DS_Store`) are passed over; an archive
/// holding no file or several is refused, naming them.
pub fn open_single<R: Read + Seek + Send + 'static>(path: &str, f: R) -> Result<(String, u64, Box<dyn Read + Send>)> {
    let bad = |e: zip::result::ZipError| Error::input(format!("{path}: not a readable zip archive ({e})"));
    let mut archive = zip::ZipArchive::new(f).map_err(bad)?;
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_data(i).map_err(bad)?;
        let name = entry.name().map_err(bad)?.into_owned();
        if !entry.is_dir() && !added_by_macos(&name) {
            files.push((i, name, entry.size()));
        }
    }
    let (index, name, size) = match files.len() {
        1 => files.remove(0),
        0 => return Err(Error::input(format!("{path}: the zip archive holds no file"))),
        n => {
            let names: Vec<&str> = files.iter().take(5).map(|(_, name, _)| name.as_str()).collect();
            let more = if n > 5 { ", …" } else { "" };
            return Err(Error::input(format!(
                "{path}: the zip archive holds {n} files ({}{more}); unzip it and import them one at a time",
                names.join(", ")
            )));
        }
    };
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
    Ok((name, size, Box::new(Chunks { rx, cur: Vec::new(), pos: 0, done: false })))
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
