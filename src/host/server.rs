//! The owner's socket server: accepts `reach` commands from processes of
//! the same user and runs them on the owner's session, one thread each.

use super::protocol::{self, ACCEPTED, EXIT, FrameWriter, Outcome, Request, STDERR, STDOUT};
use crate::app::Session;
use crate::app::audit::{Actor, acting_as, user_name};
use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// A listening socket and its accept thread; `stop` ends both.
pub struct Server {
    path: PathBuf,
    stopping: Arc<AtomicBool>,
    running: Arc<(Mutex<usize>, Condvar)>,
    served: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on the database's socket. The caller owns the database (its
    /// lock), so a socket already there is a dead owner's and is replaced.
    pub fn start(session: Arc<Session>) -> Result<Server> {
        let db = session.store().path().to_path_buf();
        let dir = super::run_dir(&db);
        let fail = |what: &str, e: std::io::Error| Error::runtime(format!("{}: cannot {what}: {e}", dir.display()));
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if !m.is_dir() || m.uid() != unsafe { libc::geteuid() } => {
                return Err(Error::runtime(format!(
                    "{}: is not a directory of this user; remove it to let reach share the database",
                    dir.display()
                )));
            }
            Ok(_) => std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail("make it private", e))?,
            Err(_) => std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(|e| fail("create it", e))?,
        }
        let path = super::socket_path(&db);
        // bound under another name and made private before it takes the
        // socket's name (replacing a dead owner's at once): a client never
        // finds it open to others, nor finds no socket
        let fresh = path.with_file_name(format!("socket.{}", std::process::id()));
        let _ = std::fs::remove_file(&fresh);
        let listener = UnixListener::bind(&fresh).map_err(|e| fail("listen", e))?;
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail("make the socket private", e))?;
        std::fs::rename(&fresh, &path).map_err(|e| fail("name the socket", e))?;
        let stopping = Arc::new(AtomicBool::new(false));
        let running = Arc::new((Mutex::new(0usize), Condvar::new()));
        let served = Arc::new(AtomicUsize::new(0));
        let accept = {
            let (stopping, running, served) = (stopping.clone(), running.clone(), served.clone());
            std::thread::Builder::new()
                .name("reach-socket".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stopping.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        *running.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                        served.fetch_add(1, Ordering::Relaxed);
                        let (session, stopping, done) = (session.clone(), stopping.clone(), running.clone());
                        let spawned = std::thread::Builder::new().name("reach-client".into()).spawn(move || {
                            let _ = serve_one(stream, &session, &stopping);
                            let mut n = done.0.lock().unwrap_or_else(|e| e.into_inner());
                            *n -= 1;
                            done.1.notify_all();
                        });
                        if spawned.is_err() {
                            *running.0.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
                        }
                    }
                })
                .map_err(|e| Error::runtime(format!("cannot start the socket thread: {e}")))?
        };
        Ok(Server { path, stopping, running, served, accept: Some(accept) })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Commands received so far.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::Relaxed)
    }

    /// Stops listening, asks the commands in progress to stop (an import
    /// ends at its next checkpoint, "cancelled"), waits for them, and
    /// removes the socket.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else { return };
        self.stopping.store(true, Ordering::SeqCst);
        // wakes the accept loop
        let _ = UnixStream::connect(&self.path);
        let _ = accept.join();
        let _ = std::fs::remove_file(&self.path);
        let (n, cv) = &*self.running;
        let mut left = n.lock().unwrap_or_else(|e| e.into_inner());
        while *left > 0 {
            left = cv.wait(left).unwrap_or_else(|e| e.into_inner());
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The process at the other end: its credentials.
fn peer(s: &UnixStream) -> Option<libc::ucred> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a ucred.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred)
}

fn serve_one(stream: UnixStream, session: &Arc<Session>, stopping: &Arc<AtomicBool>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let finish = |out: &mut UnixStream, r: Result<()>| {
        let o = serde_json::to_vec(&Outcome::of(&r)).unwrap_or_default();
        protocol::write_frame(out, EXIT, &o)
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if peer(&stream).map(|p| p.uid) != Some(me) {
        return finish(&mut out, Err(Error::busy("this database's owner answers only its own user")));
    }
    let mut line = String::new();
    BufReader::new((&stream).take(protocol::MAX_REQUEST as u64)).read_line(&mut line)?;
    let req: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => return finish(&mut out, Err(Error::input(format!("bad request: {e}")))),
    };
    protocol::write_frame(&mut out, ACCEPTED, &[])?;
    let err = Arc::new(Mutex::new(stream.try_clone()?));
    let warn = {
        let err = err.clone();
        Arc::new(move |line: &str| {
            let mut s = err.lock().unwrap_or_else(|e| e.into_inner());
            let _ = protocol::write_frame(&mut *s, STDERR, format!("{line}\n").as_bytes());
        }) as crate::cli::Warn
    };
    let hooks = crate::cli::Hooks { cancel: stopping.clone(), progress: Arc::new(|_| {}) };
    let mut w = FrameWriter::new(stream.try_clone()?, STDOUT);
    let actor = match peer(&stream) {
        // processes of the owner's user (the only ones answered) act as admin
        Some(p) => Actor {
            who: user_name(p.uid),
            via: format!("cli via owner (pid {})", p.pid),
            role: crate::app::roles::Role::Admin,
        },
        None => Actor::local("cli via owner"),
    };
    let r = acting_as(actor, || crate::cli::run_for_client(&req, session.clone(), hooks, warn, &mut w));
    let r = match w.flush() {
        Ok(()) => r,
        Err(e) => r.and(Err(Error::runtime(e.to_string()))),
    };
    finish(&mut out, r)
}
