//! The screens: each owns its view state, answers the actions meant for it
//! and renders itself from that state alone.

pub mod activity;
pub mod audit;
pub mod builder;
pub mod campaigns;
pub mod contacts;
pub mod journey_tree;
pub mod journeys;
pub mod policy;
pub mod profile;
pub mod segments;
pub mod tags;

use super::action::Action;
use super::worker::{Job, Lane, Ticket};
use std::collections::HashMap;

/// What a finished job was for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    ContactList,
    MemberList,
    Facts,
    Profile,
    Tags,
    Segments,
    BuilderCount,
    BuilderSpread,
    Catalog,
    Campaigns,
    Forecast,
    Policy,
    Journeys,
    JourneyDetail,
    Audit,
    /// a write whose outcome goes to the status line; then these reload
    Change,
    Command,
}

/// Something that runs jobs: the worker lanes, or a recorder in tests.
pub trait Runner {
    fn submit(&mut self, lane: Lane, job: Job) -> Ticket;
}

impl Runner for super::worker::Workers {
    fn submit(&mut self, lane: Lane, job: Job) -> Ticket {
        super::worker::Workers::submit(self, lane, job)
    }
}

/// Records jobs instead of running them (tests, and snapshot rendering).
#[derive(Default)]
pub struct Recorder {
    pub jobs: Vec<(Lane, Job)>,
    next: u64,
}

impl Runner for Recorder {
    fn submit(&mut self, lane: Lane, job: Job) -> Ticket {
        self.next += 1;
        self.jobs.push((lane, job));
        Ticket { id: self.next, cancel: Default::default() }
    }
}

/// What a screen's action handler may use: job submission and the status line.
pub struct Cx<'a> {
    pub runner: &'a mut dyn Runner,
    pub pending: &'a mut HashMap<u64, Purpose>,
    pub status: &'a mut Option<(String, bool)>,
    /// rows a list shows at the current terminal size
    pub page: usize,
    pub now: i64,
}

impl Cx<'_> {
    pub fn submit(&mut self, lane: Lane, job: Job, purpose: Purpose) -> Ticket {
        let t = self.runner.submit(lane, job);
        self.pending.insert(t.id, purpose);
        t
    }

    pub fn info(&mut self, s: impl Into<String>) {
        *self.status = Some((s.into(), false));
    }

    pub fn error(&mut self, s: impl Into<String>) {
        *self.status = Some((s.into(), true));
    }
}

/// What a screen asks of the app after an action.
pub enum Flow {
    /// done (or nothing to do)
    Handled,
    /// not for this screen: the app's global handling applies
    Ignored,
    /// open a view above this one
    Open(Box<super::app::Sub>),
    /// ask first, then submit the job
    Confirm { question: String, lane: Lane, job: Job, purpose: Purpose },
    /// edit text in $EDITOR, then validate it
    Edit(super::app::EditKind, String),
    /// ask for a line of text (the builder's segment name)
    Prompt { title: String, initial: String, purpose: super::app::PromptFor },
    /// switch to the builder with this expression
    Build { name: Option<String>, expr: String },
}

/// A selection in a list of `len` rows, scrolled to keep it visible.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub sel: usize,
    pub offset: usize,
}

impl Cursor {
    /// Moves for a cursor action; false when the action is not a move.
    pub fn apply(&mut self, a: Action, len: usize, page: usize) -> bool {
        let page = page.max(1);
        let last = len.saturating_sub(1);
        self.sel = match a {
            Action::Up => self.sel.saturating_sub(1),
            Action::Down => (self.sel + 1).min(last),
            Action::PageUp => self.sel.saturating_sub(page),
            Action::PageDown => (self.sel + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => return false,
        };
        self.show(len, page);
        true
    }

    /// Scrolls so the selection is on screen.
    pub fn show(&mut self, len: usize, page: usize) {
        let page = page.max(1);
        self.sel = self.sel.min(len.saturating_sub(1));
        if self.sel < self.offset {
            self.offset = self.sel;
        } else if self.sel >= self.offset + page {
            self.offset = self.sel + 1 - page;
        }
        self.offset = self.offset.min(len.saturating_sub(page));
        if self.sel < self.offset {
            self.offset = self.sel;
        }
    }
}

/// The title line of a screen: its name, a summary, and what it is busy with.
pub fn title_line(
    f: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    th: &super::theme::Theme,
    name: &str,
    summary: String,
    busy: Option<&str>,
) {
    use ratatui::text::{Line, Span};
    let mut spans = vec![Span::styled(format!("{name} "), th.title()), Span::raw(summary)];
    if let Some(b) = busy {
        spans.push(Span::styled(format!("  {b}{}", th.sym(super::theme::Sym::Ellipsis)), th.dim()));
    }
    f.render_widget(ratatui::widgets::Paragraph::new(Line::from(spans)), area);
}

/// The rows of a table on screen (the window of `page` rows at the
/// cursor), the selected one highlighted.
pub fn window_rows<'a, T>(
    list: &'a [T],
    cursor: Cursor,
    page: usize,
    th: &super::theme::Theme,
    row: impl Fn(&'a T) -> ratatui::widgets::Row<'a>,
) -> Vec<ratatui::widgets::Row<'a>> {
    let end = (cursor.offset + page).min(list.len());
    list[cursor.offset.min(end)..end]
        .iter()
        .enumerate()
        .map(|(k, item)| {
            let r = row(item);
            if cursor.offset + k == cursor.sel { r.style(th.selected()) } else { r }
        })
        .collect()
}

/// A share as a percentage with one decimal.
pub fn pct(n: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 }
}

/// Cuts `s` to `w` characters, marking the cut with `ell`.
pub fn fit(s: &str, w: usize, ell: &str) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    let keep = w.saturating_sub(ell.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(ell);
    out
}

/// A date for tables: `2026-11-24 09:30`.
pub fn short_ts(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// Runs each job at once on the calling thread and keeps its result for
/// `drain`: deterministic screens for snapshot tests and headless benches.
pub struct SyncRunner {
    pub session: std::sync::Arc<crate::app::Session>,
    pub done: Vec<super::worker::Finished>,
    next: u64,
    shared: super::worker::Shared,
}

impl SyncRunner {
    pub fn new(session: std::sync::Arc<crate::app::Session>) -> SyncRunner {
        SyncRunner { session, done: Vec::new(), next: 0, shared: Default::default() }
    }

    /// Hands finished jobs to the app until none are left (results may submit more).
    pub fn drain(&mut self, app: &mut super::app::App) {
        while !self.done.is_empty() {
            for d in std::mem::take(&mut self.done) {
                app.finish(d, self);
            }
        }
        app.load_rows(&self.session.clone());
    }
}

impl Runner for SyncRunner {
    fn submit(&mut self, _lane: Lane, job: Job) -> Ticket {
        self.next += 1;
        let ticket = Ticket { id: self.next, cancel: Default::default() };
        let result = super::worker::run(&self.session, job, &ticket.cancel, &self.shared);
        self.done.push(super::worker::Finished { ticket: self.next, result });
        ticket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_scrolls_with_the_selection() {
        let mut c = Cursor::default();
        c.apply(Action::PageDown, 100, 10);
        assert_eq!(c, Cursor { sel: 10, offset: 1 });
        c.apply(Action::Bottom, 100, 10);
        assert_eq!(c, Cursor { sel: 99, offset: 90 });
        c.apply(Action::Top, 100, 10);
        assert_eq!(c, Cursor { sel: 0, offset: 0 });
        c.apply(Action::Down, 0, 10);
        assert_eq!(c.sel, 0);
    }
}
