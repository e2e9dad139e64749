//! A console on a terminal that is not this process's: the screen goes to
//! a writer (an SSH channel), its size is the one the client gave (the pty
//! request, then each window change), and its keys and size changes come
//! to the loop as messages. Everything else is the local console's loop.

use super::app::App;
use super::keymap::Keymap;
use super::run::{Msg, Options, event_loop};
use super::theme::Theme;
use crate::app::Session;
use crate::app::audit::Actor;
use crate::error::{Error, Result};
use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

/// The size of a remote terminal, set by whoever hears of its changes.
#[derive(Clone, Debug, Default)]
pub struct RemoteSize(Arc<AtomicU32>);

impl RemoteSize {
    pub fn new(cols: u16, rows: u16) -> RemoteSize {
        let s = RemoteSize::default();
        s.set(cols, rows);
        s
    }
    pub fn set(&self, cols: u16, rows: u16) {
        self.0.store((cols as u32) << 16 | rows as u32, Ordering::SeqCst);
    }
    pub fn get(&self) -> (u16, u16) {
        let v = self.0.load(Ordering::SeqCst);
        ((v >> 16) as u16, v as u16)
    }
}

/// Crossterm's escape sequences written to `W`, with the size the remote
/// client told instead of this process's terminal's (and no cursor
/// position query: the cursor is where the last draw left it).
pub struct RemoteBackend<W: Write> {
    inner: CrosstermBackend<W>,
    size: RemoteSize,
    cursor: Position,
}

impl<W: Write> RemoteBackend<W> {
    pub fn new(out: W, size: RemoteSize) -> RemoteBackend<W> {
        RemoteBackend { inner: CrosstermBackend::new(out), size, cursor: Position::ORIGIN }
    }

    /// The writer under the backend (escapes written here bypass the draw).
    pub fn writer_mut(&mut self) -> &mut CrosstermBackend<W> {
        &mut self.inner
    }
}

impl<W: Write> Backend for RemoteBackend<W> {
    type Error = std::io::Error;

    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> std::io::Result<()> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> std::io::Result<()> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> std::io::Result<Position> {
        Ok(self.cursor)
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> std::io::Result<()> {
        let p = position.into();
        self.cursor = p;
        self.inner.set_cursor_position(p)
    }
    fn clear(&mut self) -> std::io::Result<()> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> std::io::Result<()> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> std::io::Result<Size> {
        let (width, height) = self.size.get();
        Ok(Size { width, height })
    }
    fn window_size(&mut self) -> std::io::Result<WindowSize> {
        Ok(WindowSize { columns_rows: self.size()?, pixels: Size { width: 0, height: 0 } })
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

/// What a remote console runs with.
pub struct Remote<W: Write> {
    /// where the screen goes
    pub out: W,
    /// the client's terminal size, kept current by the caller (who also
    /// sends `Msg::Resize`)
    pub size: RemoteSize,
    /// colours and symbols from the client's TERM and environment
    pub theme: Theme,
    /// keys, resizes and `Msg::Signal` (stop) from the caller
    pub rx: Receiver<Msg>,
    pub tx: Sender<Msg>,
    /// who acts: the audit log's operator, whose role decides what the console offers
    pub actor: Actor,
    /// keymap NAME or PATH
    pub keymap: String,
    /// the server's scheduler, for the Activity screen
    pub activity: Option<Arc<Mutex<crate::app::scheduler::Activity>>>,
}

/// Runs a console on a remote terminal until its operator quits or a
/// `Msg::Signal` arrives; the terminal is left as it was found (main
/// screen, cursor shown) on every way out but a dropped connection.
pub fn run_remote<W: Write>(session: Arc<Session>, r: Remote<W>) -> Result<()> {
    let keymap = Keymap::load(&r.keymap).map_err(|e| Error::input(e.to_string()))?;
    let (w, h) = r.size.get();
    let db_name = session.store().path().display().to_string();
    let mut app = App::new(r.theme, keymap, (w, h), db_name, session.now());
    app.role = r.actor.role;
    let mut out = r.out;
    execute!(out, terminal::EnterAlternateScreen, cursor::Hide, terminal::Clear(terminal::ClearType::All))?;
    let mut term = Terminal::new(RemoteBackend::new(out, r.size))?;
    let opts = Options { keymap: r.keymap, scheduler: false, activity: r.activity };
    let capture = Arc::new(Mutex::new(Vec::new()));
    let result = event_loop(&session, &mut app, &r.tx, r.rx, capture, &opts, &mut term, Some(r.actor));
    let out = term.backend_mut().writer_mut();
    let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
    result
}
