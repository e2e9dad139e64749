//! The client side: a `reach` command on a database that another process
//! owns is sent to that owner's socket and its output printed here.

use super::protocol::{self, ACCEPTED, EXIT, Outcome, Request, STDERR, STDOUT};
use crate::error::{Error, Result};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long an owner may take to accept a command before it is called
/// unresponsive (it accepts before running anything); `REACH_OWNER_WAIT_MS`
/// changes it.
fn accept_within() -> Duration {
    let ms = std::env::var("REACH_OWNER_WAIT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    Duration::from_millis(ms)
}

/// Runs `args` on the owner of `db`: None when no owner listens (nothing
/// at the socket, or a dead owner's), and the caller runs the command
/// itself; else the command's result, its output already printed.
pub fn forward(db: &Path, args: Vec<String>) -> Option<Result<()>> {
    use std::io::IsTerminal;
    let path = super::socket_path(db);
    let stream = UnixStream::connect(&path).ok()?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let req = Request { args, cwd, terminal: std::io::stdout().is_terminal(), remote: false };
    Some(run(stream, &req, db))
}

/// [`forward`], when the database's lock is held by an owner still opening
/// it (its socket not yet listening): waits for the socket up to the
/// owner's accept time (`REACH_OWNER_WAIT_MS`, default 10 s), then
/// forwards. None when no owner is starting, or it never listened (the
/// command then meets the lock and says who holds it).
pub fn forward_when_listening(db: &Path, args: Vec<String>) -> Option<Result<()>> {
    let deadline = std::time::Instant::now() + accept_within();
    while crate::store::lock::starting_owner(db).is_some() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        if let Some(r) = forward(db, args.clone()) {
            return Some(r);
        }
    }
    None
}

fn run(mut stream: UnixStream, req: &Request, db: &Path) -> Result<()> {
    let silent = || Error::busy(format!("{}: database in use; its owner does not answer", db.display()));
    let mut line = serde_json::to_vec(req).map_err(|e| Error::runtime(e.to_string()))?;
    line.push(b'\n');
    stream.write_all(&line).map_err(|_| silent())?;
    stream.set_read_timeout(Some(accept_within())).map_err(|e| Error::runtime(e.to_string()))?;
    let mut accepted = false;
    let (stdout, stderr) = (std::io::stdout(), std::io::stderr());
    loop {
        let frame = match protocol::read_frame(&mut stream) {
            Ok(f) => f,
            Err(_) if !accepted => return Err(silent()),
            Err(e) => return Err(Error::runtime(format!("the database's owner: {e}"))),
        };
        let Some((tag, bytes)) = frame else {
            return Err(Error::runtime("the database's owner stopped before the command ended"));
        };
        match tag {
            ACCEPTED => {
                accepted = true;
                stream.set_read_timeout(None).map_err(|e| Error::runtime(e.to_string()))?;
            }
            STDOUT => {
                let mut o = stdout.lock();
                o.write_all(&bytes).and_then(|_| o.flush()).map_err(|e| Error::runtime(e.to_string()))?;
            }
            STDERR => {
                let _ = stderr.lock().write_all(&bytes);
            }
            EXIT => {
                let o: Outcome = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::runtime(format!("the database's owner: bad answer: {e}")))?;
                return o.result();
            }
            _ => return Err(Error::runtime("the database's owner: unexpected answer")),
        }
    }
}
