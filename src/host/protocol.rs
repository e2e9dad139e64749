//! What goes over the owner's socket. The client sends one JSON line (a
//! `Request`); the owner answers with frames, each a tag byte, a length
//! (u32, little-endian) and that many bytes: `ACCEPTED` at once, then
//! `STDOUT` and `STDERR` bytes as the command writes them, and last `EXIT`
//! with the `Outcome` as JSON.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

pub const ACCEPTED: u8 = b'a';
pub const STDOUT: u8 = b'o';
pub const STDERR: u8 = b'e';
pub const EXIT: u8 = b'x';

/// The longest request line the owner reads.
pub const MAX_REQUEST: usize = 1 << 20;
/// The longest frame a client accepts.
pub const MAX_FRAME: usize = 64 << 20;

/// A command to run on the owner's session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// the arguments after `reach`, global options included (`--db` is the owner's)
    pub args: Vec<String>,
    /// the client's working directory: relative file names are taken from there
    pub cwd: std::path::PathBuf,
    /// the client's standard output is a terminal (tables by default, else JSON)
    pub terminal: bool,
    /// from another machine (an SSH session): names no file on this one
    #[serde(default)]
    pub remote: bool,
}

/// How a command ended: `Ok`, or an error with its class (the exit code).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// "ok", "input", "busy", "denied" or "runtime"
    pub kind: String,
    pub message: String,
    pub detail: Vec<String>,
}

impl Outcome {
    pub fn of(r: &crate::error::Result<()>) -> Outcome {
        use crate::error::ErrorKind;
        match r {
            Ok(()) => Outcome { kind: "ok".into(), message: String::new(), detail: vec![] },
            Err(e) => Outcome {
                kind: match e.kind {
                    ErrorKind::Input => "input",
                    ErrorKind::Busy => "busy",
                    ErrorKind::Denied => "denied",
                    ErrorKind::Runtime => "runtime",
                }
                .into(),
                message: e.message.clone(),
                detail: e.detail.clone(),
            },
        }
    }

    /// Back to the result the command had in the owner.
    pub fn result(self) -> crate::error::Result<()> {
        use crate::error::{Error, ErrorKind};
        let kind = match self.kind.as_str() {
            "ok" => return Ok(()),
            "input" => ErrorKind::Input,
            "busy" => ErrorKind::Busy,
            "denied" => ErrorKind::Denied,
            _ => ErrorKind::Runtime,
        };
        Err(Error { kind, message: self.message, detail: self.detail })
    }
}

pub fn write_frame(w: &mut impl Write, tag: u8, bytes: &[u8]) -> io::Result<()> {
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    w.write_all(&head)?;
    w.write_all(bytes)?;
    w.flush()
}

/// The next frame, or None at the end of the stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too large"));
    }
    let mut bytes = vec![0; len];
    r.read_exact(&mut bytes)?;
    Ok(Some((head[0], bytes)))
}

/// Output written as `tag` frames (buffered; each flush sends one frame).
pub struct FrameWriter<W: Write> {
    inner: W,
    tag: u8,
    buf: Vec<u8>,
}

impl<W: Write> FrameWriter<W> {
    pub fn new(inner: W, tag: u8) -> FrameWriter<W> {
        FrameWriter { inner, tag, buf: Vec::new() }
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= 64 << 10 {
            self.flush()?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            write_frame(&mut self.inner, self.tag, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut bytes = Vec::new();
        {
            let mut w = FrameWriter::new(&mut bytes, STDOUT);
            write!(w, "hello ").unwrap();
            write!(w, "world").unwrap();
            w.flush().unwrap();
        }
        write_frame(&mut bytes, EXIT, b"{}").unwrap();
        let mut r = &bytes[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDOUT, b"hello world".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), Some((EXIT, b"{}".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn outcomes_keep_the_exit_class() {
        let e = crate::error::Error::input("bad: x").with_detail("at 3");
        let o = Outcome::of(&Err(e.clone()));
        let back: Outcome = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back.result(), Err(e));
        assert_eq!(Outcome::of(&Ok(())).result(), Ok(()));
    }
}
