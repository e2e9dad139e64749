//! `reach serve --ssh ADDR`: the SSH server built into the owner (russh).
//! Operators log in with a public key from the operators file, nothing
//! else: passwords and keyboard-interactive are refused, failed attempts
//! from an address wait longer each time, and a login idle for
//! `--idle-timeout` is closed. `ssh HOST reach-command args` (an exec
//! request) runs the command on the owner's session as that operator and
//! returns its output and exit status; a login with a pty gets its own
//! console on the shared session, sized and coloured from the client's
//! pty request and environment. Every change is the operator's in the
//! audit log (`via ssh`), and their role decides what they may do.

use super::operators::Operators;
use super::protocol::Request;
use crate::app::Session;
use crate::app::audit::{Actor, acting_as};
use crate::app::roles::Role;
use crate::console::remote::{Remote, RemoteSize, run_remote};
use crate::console::run::Msg;
use crate::console::theme::Theme;
use crate::error::{Error, Result};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, ssh_key};
use russh::server::{
    Auth, Handle, Msg as SshMsg, PublicKeyOffer, Server as _, Session as SshSession, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How `reach serve` runs its SSH server.
pub struct SshOptions {
    /// where to listen (`HOST:PORT`)
    pub addr: String,
    pub operators: Operators,
    /// the host's private key: read, or created (ed25519, 0600) when missing
    pub host_key: PathBuf,
    /// a login with no input for this long is closed
    pub idle: Duration,
    /// the consoles' keymap (NAME or PATH)
    pub keymap: String,
    /// the server's scheduler, shown on the consoles' Activity screens
    pub activity: Option<Arc<Mutex<crate::app::scheduler::Activity>>>,
}

/// The default host key of a database: beside it, private.
pub fn default_host_key(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".ssh_host_ed25519_key");
    PathBuf::from(p)
}

/// `90s`, `30m`, `2h`: a positive length of time.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("`{s}` is not a duration (a whole number and s, m or h: `90s`, `30m`, `2h`)")),
    };
    match num.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n.saturating_mul(unit))),
        _ => Err(format!("`{s}` is not a duration longer than zero (`90s`, `30m`, `2h`)")),
    }
}

/// Reads the host key at `path`, or creates one there (ed25519, 0600) the
/// first time: clients then see the same host on every start.
pub fn host_key(path: &Path) -> Result<PrivateKey> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(m) => {
            if m.mode() & 0o077 != 0 {
                return Err(Error::input(format!(
                    "{shown}: the host key may be read by others (mode {:o}); chmod 600 it",
                    m.mode() & 0o777
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|e| Error::input(format!("{shown}: cannot read: {e}")))?;
            PrivateKey::from_openssh(text.trim_end().to_string() + "\n")
                .map_err(|e| Error::input(format!("{shown}: not an OpenSSH private key: {e}")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::Rng::fill(&mut rand::rng(), &mut seed);
            let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
            key.set_comment("reach host key");
            let text = key
                .to_openssh(ssh_key::LineEnding::LF)
                .map_err(|e| Error::runtime(format!("cannot encode the host key: {e}")))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| Error::runtime(format!("{shown}: cannot create the host key: {e}")))?;
            f.write_all(text.as_bytes()).and_then(|_| f.sync_all())?;
            Ok(key)
        }
        Err(e) => Err(Error::runtime(format!("{shown}: {e}"))),
    }
}

/// What every connection shares.
struct State {
    session: Arc<Session>,
    operators: Operators,
    idle: Duration,
    keymap: String,
    activity: Option<Arc<Mutex<crate::app::scheduler::Activity>>>,
    /// set when the server stops: commands in progress stop at their next checkpoint
    stopping: Arc<AtomicBool>,
    /// failed attempts by source address: how many, and the last one
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
    /// the running consoles, to tell them to stop
    consoles: Mutex<HashMap<u64, Sender<Msg>>>,
    /// the running commands' cancel flags
    commands: Mutex<HashMap<u64, Arc<AtomicBool>>>,
    /// consoles and commands running (threads), and a way to wait for none
    running: (Mutex<usize>, Condvar),
    next: AtomicUsize,
    log: Arc<Mutex<dyn Write + Send>>,
}

impl State {
    fn say(&self, line: &str) {
        let mut l = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(l, "ssh: {line}");
        let _ = l.flush();
    }

    /// How long an attempt from `ip` waits first: nothing before the third
    /// failure, then 1 s doubling up to a minute; forgotten after 15 min.
    fn delay(&self, ip: Option<IpAddr>) -> Duration {
        let Some(ip) = ip else { return Duration::ZERO };
        let f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match f.get(&ip) {
            Some(&(n, at)) if n >= 3 && at.elapsed() < Duration::from_secs(900) => {
                Duration::from_secs(1 << (n - 3).min(6)).min(Duration::from_secs(60))
            }
            _ => Duration::ZERO,
        }
    }

    fn failed(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let e = f.entry(ip).or_insert((0, Instant::now()));
        if e.1.elapsed() >= Duration::from_secs(900) {
            e.0 = 0;
        }
        e.0 += 1;
        e.1 = Instant::now();
    }

    fn started(&self) {
        *self.running.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn ended(&self) {
        let mut n = self.running.0.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        self.running.1.notify_all();
    }
}

/// The running SSH server: a thread with its own async runtime.
pub struct SshServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SshServer {
    /// Listens on `opts.addr` (its errors come back here) and serves on a
    /// thread of its own.
    pub fn start(
        session: Arc<Session>,
        opts: SshOptions,
        stopping: Arc<AtomicBool>,
        log: Arc<Mutex<dyn Write + Send>>,
    ) -> Result<SshServer> {
        let key = host_key(&opts.host_key)?;
        let listener = std::net::TcpListener::bind(&opts.addr)
            .map_err(|e| Error::runtime(format!("--ssh {}: cannot listen: {e}", opts.addr)))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let config = Arc::new(russh::server::Config {
            server_id: russh::SshId::Standard(format!("SSH-2.0-reach_{}", env!("CARGO_PKG_VERSION")).into()),
            methods: MethodSet::from(&[MethodKind::PublicKey][..]),
            auth_rejection_time: Duration::from_millis(250),
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![key],
            // idleness is the operator's (no input), not the link's: see `watch_idle`
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs(60)),
            nodelay: true,
            ..Default::default()
        });
        let state = Arc::new(State {
            session,
            operators: opts.operators,
            idle: opts.idle,
            keymap: opts.keymap,
            activity: opts.activity,
            stopping,
            failures: Mutex::new(HashMap::new()),
            consoles: Mutex::new(HashMap::new()),
            commands: Mutex::new(HashMap::new()),
            running: (Mutex::new(0), Condvar::new()),
            next: AtomicUsize::new(1),
            log,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("reach-ssh".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => return st.say(&format!("cannot start: {e}")),
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return st.say(&format!("cannot listen: {e}")),
                    };
                    let mut factory = Factory { state: st.clone() };
                    let running = factory.run_on_socket(config, &listener);
                    let handle = running.handle();
                    tokio::select! {
                        r = running => if let Err(e) = r { st.say(&format!("stopped: {e}")) },
                        _ = stopped => {
                            handle.shutdown("reach is stopping".into());
                            // the disconnects go out before the runtime ends
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                });
            })
            .map_err(|e| Error::runtime(format!("cannot start the SSH thread: {e}")))?;
        Ok(SshServer { addr, state, stop: Some(stop), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Tells every console to close (each leaves its client's terminal as
    /// it found it), lets the commands in progress end (the `stopping`
    /// flag stops an import at its next checkpoint), then disconnects
    /// everyone and stops listening.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(stop) = self.stop.take() else { return };
        self.state.stopping.store(true, Ordering::SeqCst);
        for tx in self.state.consoles.lock().unwrap_or_else(|e| e.into_inner()).values() {
            let _ = tx.send(Msg::Signal);
        }
        for c in self.state.commands.lock().unwrap_or_else(|e| e.into_inner()).values() {
            c.store(true, Ordering::SeqCst);
        }
        {
            let (n, cv) = &self.state.running;
            let mut left = n.lock().unwrap_or_else(|e| e.into_inner());
            while *left > 0 {
                left = cv.wait(left).unwrap_or_else(|e| e.into_inner());
            }
        }
        let _ = stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Factory {
    state: Arc<State>,
}

impl russh::server::Server for Factory {
    type Handler = Conn;
    fn new_client(&mut self, peer: Option<SocketAddr>) -> Conn {
        Conn {
            state: self.state.clone(),
            ip: peer.map(|p| p.ip()),
            operator: None,
            chans: HashMap::new(),
            last_input: Arc::new(Mutex::new(Instant::now())),
            busy: Arc::new(AtomicUsize::new(0)),
            alive: Arc::new(AtomicBool::new(true)),
            consoles: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

/// One channel of a connection: what the client asked for so far.
#[derive(Default)]
struct Chan {
    /// TERM, columns, rows
    pty: Option<(String, u16, u16)>,
    env: Vec<(String, String)>,
    /// a console's input and size
    console: Option<(Sender<Msg>, RemoteSize)>,
    /// a command's or console's stop
    cancel: Arc<AtomicBool>,
}

/// One client connection.
pub struct Conn {
    state: Arc<State>,
    ip: Option<IpAddr>,
    /// who logged in, and as what
    operator: Option<(String, Role)>,
    chans: HashMap<ChannelId, Chan>,
    last_input: Arc<Mutex<Instant>>,
    /// commands running on this connection (not idle meanwhile)
    busy: Arc<AtomicUsize>,
    alive: Arc<AtomicBool>,
    /// this connection's consoles (their numbers in `State::consoles`)
    consoles: Arc<Mutex<Vec<u64>>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
        for c in self.chans.values() {
            c.cancel.store(true, Ordering::SeqCst);
            if let Some((tx, _)) = &c.console {
                let _ = tx.send(Msg::Signal);
            }
        }
    }
}

fn reject() -> Auth {
    Auth::Reject { proceed_with_methods: Some(MethodSet::from(&[MethodKind::PublicKey][..])), partial_success: false }
}

fn ip_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "?".into(), |i| i.to_string())
}

impl Conn {
    fn actor(&self) -> Actor {
        let (who, role) = self.operator.clone().unwrap_or_else(|| ("?".into(), Role::Viewer));
        Actor { who, via: "ssh".into(), role }
    }

    fn touched(&self) {
        *self.last_input.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    async fn refuse(&self, what: &str) -> Auth {
        self.state.failed(self.ip);
        self.state.say(&format!("refused {what} from {}", ip_text(self.ip)));
        reject()
    }
}

/// What the idle watch of a connection looks at.
struct Watched {
    last: Arc<Mutex<Instant>>,
    busy: Arc<AtomicUsize>,
    alive: Arc<AtomicBool>,
    consoles: Arc<Mutex<Vec<u64>>>,
}

/// Output to a channel (or its stderr) from a thread outside the runtime.
struct ChanWriter {
    rt: tokio::runtime::Handle,
    h: Handle,
    id: ChannelId,
    stderr: bool,
    /// a command's output to a client's terminal: line ends as CR LF
    crlf: bool,
    buf: Vec<u8>,
}

impl Write for ChanWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.crlf {
            for &c in b {
                if c == b'\n' {
                    self.buf.push(b'\r');
                }
                self.buf.push(c);
            }
        } else {
            self.buf.extend_from_slice(b);
        }
        if self.buf.len() >= 32 << 10 {
            self.flush()?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.buf);
        let sent = if self.stderr {
            self.rt.block_on(self.h.extended_data(self.id, 1, data))
        } else {
            self.rt.block_on(self.h.data(self.id, data))
        };
        sent.map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the SSH client is gone"))
    }
}

/// Ends a channel: its exit status, end of output, close.
fn finish(rt: &tokio::runtime::Handle, h: &Handle, id: ChannelId, code: i32) {
    rt.block_on(async {
        let _ = h.exit_status_request(id, code as u32).await;
        let _ = h.eof(id).await;
        let _ = h.close(id).await;
    });
}

impl Conn {
    /// `ssh HOST reach stats …`: the command on the owner's session, as
    /// this operator, on a thread of its own.
    fn exec(&mut self, id: ChannelId, line: &str, h: Handle) {
        let args = shlex::split(line).unwrap_or_else(|| line.split_whitespace().map(String::from).collect());
        let args: Vec<String> = match args.first().map(String::as_str) {
            Some("reach") => args[1..].to_vec(),
            _ => args,
        };
        let chan = self.chans.entry(id).or_default();
        let terminal = chan.pty.is_some();
        let cancel = chan.cancel.clone();
        let (state, actor, busy) = (self.state.clone(), self.actor(), self.busy.clone());
        let rt = tokio::runtime::Handle::current();
        state.say(&format!("{} ran `{}`", actor.who, args.join(" ")));
        let n = state.next.fetch_add(1, Ordering::SeqCst) as u64;
        state.commands.lock().unwrap_or_else(|e| e.into_inner()).insert(n, cancel.clone());
        if state.stopping.load(Ordering::SeqCst) {
            cancel.store(true, Ordering::SeqCst);
        }
        state.started();
        busy.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new().name("reach-ssh-exec".into()).spawn({
            let state = state.clone();
            let busy = busy.clone();
            move || {
                let w =
                    |stderr| ChanWriter { rt: rt.clone(), h: h.clone(), id, stderr, crlf: terminal, buf: Vec::new() };
                let (out, err) = (w(false), Arc::new(Mutex::new(w(true))));
                let r = caught(|| run_command(&state, args, terminal, cancel, actor, out, err.clone()));
                let code = match &r {
                    Ok(()) => 0,
                    Err(e) => {
                        let mut w = err.lock().unwrap_or_else(|e| e.into_inner());
                        let _ = writeln!(w, "error: {e}");
                        e.exit_code()
                    }
                };
                let _ = err.lock().unwrap_or_else(|e| e.into_inner()).flush();
                finish(&rt, &h, id, code);
                state.commands.lock().unwrap_or_else(|e| e.into_inner()).remove(&n);
                busy.fetch_sub(1, Ordering::SeqCst);
                state.ended();
            }
        });
        if spawned.is_err() {
            state.commands.lock().unwrap_or_else(|e| e.into_inner()).remove(&n);
            busy.fetch_sub(1, Ordering::SeqCst);
            state.ended();
        }
    }

    /// A login with a pty: a console of its own on the shared session.
    fn console(&mut self, id: ChannelId, h: Handle) -> bool {
        let actor = self.actor();
        let state = self.state.clone();
        let Some(chan) = self.chans.get_mut(&id) else { return false };
        let Some((term, cols, rows)) = chan.pty.clone() else { return false };
        let env = chan.env.clone();
        let theme = Theme::from_vars(|k| {
            if k == "TERM" {
                return Some(term.clone());
            }
            env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        });
        let size = RemoteSize::new(cols, rows);
        let (tx, rx) = std::sync::mpsc::channel::<Msg>();
        chan.console = Some((tx.clone(), size.clone()));
        let n = state.next.fetch_add(1, Ordering::SeqCst) as u64;
        state.consoles.lock().unwrap_or_else(|e| e.into_inner()).insert(n, tx.clone());
        self.consoles.lock().unwrap_or_else(|e| e.into_inner()).push(n);
        state.say(&format!("{} opened a console ({cols}x{rows}, TERM={term})", actor.who));
        let rt = tokio::runtime::Handle::current();
        state.started();
        let remote = Remote {
            out: ChanWriter { rt: rt.clone(), h: h.clone(), id, stderr: false, crlf: false, buf: Vec::new() },
            size,
            theme,
            rx,
            tx,
            actor,
            keymap: state.keymap.clone(),
            activity: state.activity.clone(),
        };
        let spawned = std::thread::Builder::new().name("reach-ssh-console".into()).spawn({
            let state = state.clone();
            move || {
                let r = caught(|| run_remote(state.session.clone(), remote));
                let code = match r {
                    Ok(()) => 0,
                    Err(e) => {
                        let mut w =
                            ChanWriter { rt: rt.clone(), h: h.clone(), id, stderr: true, crlf: false, buf: Vec::new() };
                        let _ = write!(w, "error: {e}\r\n");
                        let _ = w.flush();
                        e.exit_code()
                    }
                };
                state.consoles.lock().unwrap_or_else(|e| e.into_inner()).remove(&n);
                finish(&rt, &h, id, code);
                state.ended();
            }
        });
        if spawned.is_err() {
            state.consoles.lock().unwrap_or_else(|e| e.into_inner()).remove(&n);
            state.ended();
            return false;
        }
        true
    }
}

/// `f`'s result, a panic in it an error: one operator's bug does not stop
/// the server (a panic leaves no half-done write: every write is a
/// transaction).
fn caught(f: impl FnOnce() -> Result<()>) -> Result<()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Error::runtime("internal error (this is a bug; the server's log has it)")))
}

/// Runs one command line for an operator, writing to `out` and `err`.
fn run_command(
    state: &State,
    args: Vec<String>,
    terminal: bool,
    cancel: Arc<AtomicBool>,
    actor: Actor,
    mut out: ChanWriter,
    err: Arc<Mutex<ChanWriter>>,
) -> Result<()> {
    if args.is_empty() {
        return Err(Error::input("name a command: ssh HOST reach stats (or log in with a terminal for the console)"));
    }
    let req = Request { args, cwd: PathBuf::from("/"), terminal, remote: true };
    // a stop of the server or a close of this channel cancels
    let hooks = crate::cli::Hooks { cancel, progress: Arc::new(|_| {}) };
    let warn: crate::cli::Warn = Arc::new(move |line: &str| {
        let mut w = err.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    });
    let r = acting_as(actor, || crate::cli::run_for_client(&req, state.session.clone(), hooks, warn, &mut out));
    match out.flush() {
        Ok(()) => r,
        Err(e) => r.and(Err(Error::runtime(e.to_string()))),
    }
}

/// Closes a login that gave no input for `idle` while nothing of it runs:
/// its consoles first (each gives its terminal back), then the connection.
async fn watch_idle(state: Arc<State>, h: Handle, conn: Watched, who: String) {
    let Watched { last, busy, alive, consoles } = conn;
    let every = (state.idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        tokio::time::sleep(every).await;
        if !alive.load(Ordering::SeqCst) {
            return;
        }
        let quiet = last.lock().unwrap_or_else(|e| e.into_inner()).elapsed();
        if quiet >= state.idle && busy.load(Ordering::SeqCst) == 0 {
            state.say(&format!("closed {who}'s idle login ({}s without input)", quiet.as_secs()));
            let mine: Vec<u64> = consoles.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for n in &mine {
                if let Some(tx) = state.consoles.lock().unwrap_or_else(|e| e.into_inner()).get(n) {
                    let _ = tx.send(Msg::Signal);
                }
            }
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                let open = state.consoles.lock().unwrap_or_else(|e| e.into_inner()).keys().any(|k| mine.contains(k));
                if !open {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = h
                .disconnect(
                    russh::Disconnect::ByApplication,
                    format!("idle for {}s: closed by reach", quiet.as_secs()),
                    String::new(),
                )
                .await;
            return;
        }
    }
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> std::result::Result<Auth, Self::Error> {
        Ok(reject())
    }

    async fn auth_password(&mut self, user: &str, _password: &str) -> std::result::Result<Auth, Self::Error> {
        tokio::time::sleep(self.state.delay(self.ip)).await;
        Ok(self.refuse(&format!("a password login as {user:?}")).await)
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> std::result::Result<Auth, Self::Error> {
        tokio::time::sleep(self.state.delay(self.ip)).await;
        Ok(self.refuse(&format!("a keyboard-interactive login as {user:?}")).await)
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> std::result::Result<Auth, Self::Error> {
        tokio::time::sleep(self.state.delay(self.ip)).await;
        if self.state.operators.find(offer.public_key).is_some() {
            return Ok(Auth::Accept);
        }
        let fp = offer.public_key.fingerprint(Default::default());
        Ok(self.refuse(&format!("an unknown key {fp}")).await)
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> std::result::Result<Auth, Self::Error> {
        match self.state.operators.find(key.public_key) {
            Some(op) => {
                self.state.say(&format!("{} ({}) logged in from {}", op.name, op.role, ip_text(self.ip)));
                self.operator = Some((op.name.clone(), op.role));
                if let Some(ip) = self.ip {
                    self.state.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&ip);
                }
                Ok(Auth::Accept)
            }
            None => Ok(self.refuse("an unknown key").await),
        }
    }

    async fn auth_succeeded(&mut self, session: &mut SshSession) -> std::result::Result<(), Self::Error> {
        self.touched();
        let who = self.actor().who;
        let watched = Watched {
            last: self.last_input.clone(),
            busy: self.busy.clone(),
            alive: self.alive.clone(),
            consoles: self.consoles.clone(),
        };
        tokio::spawn(watch_idle(self.state.clone(), session.handle(), watched, who));
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<SshMsg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        if self.state.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.chans.insert(channel.id(), Chan::default());
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        let chan = self.chans.entry(channel).or_default();
        chan.pty = Some((term.to_string(), clamp(cols), clamp(rows)));
        session.channel_success(channel)?;
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        // only what decides the console's look; the rest is ignored
        let wanted = matches!(name, "LANG" | "NO_COLOR" | "COLORTERM") || name.starts_with("LC_");
        if wanted {
            self.chans.entry(channel).or_default().env.push((name.to_string(), value.to_string()));
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        self.touched();
        let h = session.handle();
        if self.chans.get(&channel).is_some_and(|c| c.pty.is_some()) {
            session.channel_success(channel)?;
            if !self.console(channel, h) {
                session.close(channel)?;
            }
            return Ok(());
        }
        session.channel_success(channel)?;
        session.extended_data(
            channel,
            1,
            "reach: the console needs a terminal (ssh -t HOST); for a command: ssh HOST reach stats\n"
                .as_bytes()
                .to_vec(),
        )?;
        session.exit_status_request(channel, 2)?;
        session.eof(channel)?;
        session.close(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        self.touched();
        session.channel_success(channel)?;
        let line = String::from_utf8_lossy(data).into_owned();
        self.exec(channel, &line, session.handle());
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        self.touched();
        if let Some((tx, _)) = self.chans.get(&channel).and_then(|c| c.console.as_ref()) {
            for k in super::keys::parse(data) {
                let _ = tx.send(Msg::Key(k));
            }
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        self.touched();
        if let Some(chan) = self.chans.get_mut(&channel) {
            if let Some((_, c, r)) = &mut chan.pty {
                (*c, *r) = (clamp(cols), clamp(rows));
            }
            if let Some((tx, size)) = &chan.console {
                size.set(clamp(cols), clamp(rows));
                let _ = tx.send(Msg::Resize(clamp(cols), clamp(rows)));
            }
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        // a command's client closed its input: nothing to do (commands read no stdin)
        let _ = channel;
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut SshSession,
    ) -> std::result::Result<(), Self::Error> {
        if let Some(c) = self.chans.remove(&channel) {
            c.cancel.store(true, Ordering::SeqCst);
            if let Some((tx, _)) = c.console {
                let _ = tx.send(Msg::Signal);
            }
        }
        Ok(())
    }
}

/// A terminal dimension from the client, kept to what a terminal can be.
fn clamp(n: u32) -> u16 {
    n.clamp(1, 1000) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("1d").is_err());
    }

    #[test]
    fn the_host_key_is_made_once_private_and_kept() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = default_host_key(&dir.path().join("x.redb"));
        let a = host_key(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let b = host_key(&path).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        std::fs::write(&path, "junk").unwrap();
        let e = host_key(&path).unwrap_err();
        assert!(e.to_string().contains("not an OpenSSH private key"), "{e}");
    }
}
