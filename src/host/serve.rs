//! `reach serve`: the long-running owner of a database. It holds the
//! store, the warm segment engine and the scheduler, and answers other
//! `reach` processes on its socket, until SIGTERM or SIGINT: then it stops
//! taking commands, lets those in progress end (an import stops at its
//! next checkpoint), records the scheduler's current step, and exits.
//! With `--ssh` it also runs the SSH server (`ssh`), stopped first.

use super::server::Server;
use crate::app::Session;
use crate::app::scheduler::{Activity, SchedulerTask};
use crate::error::{Error, Result};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Serves until a stop signal; `log` gets one line per event worth telling
/// (start, the scheduler's outcomes, stop).
pub fn serve(
    session: Arc<Session>,
    ssh: Option<super::ssh::SshOptions>,
    log: Arc<Mutex<dyn Write + Send>>,
) -> Result<()> {
    // signals first: a stop asked during the start is not lost
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM])
        .map_err(|e| Error::runtime(format!("cannot watch signals: {e}")))?;
    let say = |line: &str| {
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(l, "{line}");
        let _ = l.flush();
    };
    let server = Server::start(session.clone())?;
    // the owner answers `near("…")` counts for hours: the gazetteer is
    // indexed once, off the threads that answer (a single look-up in a
    // short-lived process scans the text instead)
    let _ = std::thread::Builder::new().name("gazetteer".into()).spawn(crate::geo::warm);
    let printed = Mutex::new(0u64);
    let task_log = log.clone();
    let task = SchedulerTask::start(session.clone(), move |a: &Activity| {
        let mut p = printed.lock().unwrap_or_else(|e| e.into_inner());
        let new = (a.notes - *p).min(a.log.len() as u64) as usize;
        let mut l = task_log.lock().unwrap_or_else(|e| e.into_inner());
        for (ts, what) in a.log.iter().take(new).rev() {
            let _ = writeln!(l, "{}  {what}", crate::model::time::format_ts(*ts));
        }
        let _ = l.flush();
        *p = a.notes;
    });
    // the SSH consoles show this scheduler on their Activity screens
    let ssh = match ssh {
        Some(mut o) => {
            o.activity = Some(task.activity.clone());
            let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = match super::ssh::SshServer::start(session.clone(), o, stopping, log.clone()) {
                Ok(s) => s,
                Err(e) => {
                    task.stop();
                    return Err(e);
                }
            };
            say(&format!("SSH on {} (operators' keys only)", s.addr()));
            Some(s)
        }
        None => None,
    };
    say(&format!(
        "serving {} on {} (pid {}; SIGTERM or Ctrl-C stops)",
        session.store().path().display(),
        server.path().display(),
        std::process::id()
    ));
    let _ = signals.forever().next();
    say("stopping: no new commands; waiting for those in progress");
    let served = server.served();
    if let Some(s) = ssh {
        // consoles close (their terminals restored), commands end, then everyone is disconnected
        s.stop();
    }
    server.stop();
    task.stop();
    say(&format!("stopped ({served} commands served)"));
    Ok(())
}
