//! The audit log, newest first: when, who, the way in (`console`, `ssh`,
//! `cli`, `cli via owner (pid N)`) and what changed, with the selected
//! entry in full below the table. Read when the screen is first shown,
//! then again whenever an entry is appended (by anyone: this console,
//! another operator, a script through the owner's socket), one read at a
//! time.

use super::{Cursor, Cx, Flow, Purpose, fit, short_ts, title_line, window_rows};
use crate::console::action::Action;
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane};
use crate::store::audit::AuditEntry;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Cell, Paragraph, Row, Table, Wrap};

/// The newest entries the screen reads (the whole log is `reach audit`).
pub const SHOWN: usize = 1000;

#[derive(Default)]
pub struct AuditView {
    /// the newest entries, newest first
    pub list: Option<Vec<AuditEntry>>,
    /// how many entries the log holds
    pub total: u64,
    pub cursor: Cursor,
    /// the list is being read; `again`: entries came meanwhile
    pub loading: bool,
    pub again: bool,
    pub error: Option<String>,
}

impl AuditView {
    /// Reads the newest entries (once more after the read in progress, if any).
    pub fn reload(&mut self, cx: &mut Cx) {
        if self.loading {
            self.again = true;
        } else {
            self.loading = true;
            cx.submit(Lane::Fast, Job::Audit { limit: SHOWN }, Purpose::Audit);
        }
    }

    /// Whether the screen has been shown (then it follows the log).
    pub fn shown(&self) -> bool {
        self.list.is_some() || self.loading
    }

    /// The entries came. The selection stays on the entry it was on when
    /// newer ones arrive above it (unless it was on the newest).
    pub fn loaded(&mut self, list: Vec<AuditEntry>, total: u64, cx: &mut Cx) {
        self.loading = false;
        self.error = None;
        if self.cursor.sel > 0 && self.list.is_some() {
            let grown = total.saturating_sub(self.total) as usize;
            self.cursor.sel += grown;
            self.cursor.offset += grown;
        }
        self.cursor.show(list.len(), cx.page);
        self.list = Some(list);
        self.total = total;
        if std::mem::take(&mut self.again) {
            self.reload(cx);
        }
    }

    pub fn failed(&mut self, e: String, cx: &mut Cx) {
        self.loading = false;
        self.error = Some(e);
        if std::mem::take(&mut self.again) {
            self.reload(cx);
        }
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        let len = self.list.as_ref().map_or(0, |l| l.len());
        if self.cursor.apply(a, len, cx.page) {
            return Flow::Handled;
        }
        match a {
            Action::Refresh => {
                self.reload(cx);
                Flow::Handled
            }
            _ => Flow::Ignored,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let [head, body, detail] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(2), Constraint::Length(4)]).areas(area);
        let shown = self.list.as_ref().map_or(0, |l| l.len());
        let summary = match self.total {
            0 if self.list.is_some() => "no changes yet".to_string(),
            1 => "1 change (newest first)".to_string(),
            n if (shown as u64) < n => format!("{n} changes, the newest {shown} shown"),
            n => format!("{n} changes (newest first)"),
        };
        let busy = (self.loading && self.list.is_none()).then_some("loading");
        title_line(f, head, th, "Audit", summary, busy);
        if let Some(e) = &self.error {
            f.render_widget(Paragraph::new(Span::styled(e.clone(), th.error())), body);
            return;
        }
        let Some(list) = &self.list else { return };
        let ell = th.sym(Sym::Ellipsis);
        let wide = body.width >= 120;
        let when_w: u16 = if wide { 19 } else { 16 };
        let longest = |f: fn(&AuditEntry) -> &str| list.iter().map(|e| f(e).chars().count()).max().unwrap_or(0);
        let who_w = longest(|e| &e.who).clamp(3, if wide { 20 } else { 10 }) as u16;
        let via_w = longest(|e| &e.via).clamp(3, if wide { 26 } else { 13 }) as u16;
        let what_w = body.width.saturating_sub(when_w + who_w + via_w + 3) as usize;
        let page = body.height.saturating_sub(1) as usize;
        let rows = window_rows(list, self.cursor, page, th, |e| {
            Row::new(vec![
                Cell::from(when(e.ts, wide)),
                Cell::from(fit(&e.who, who_w as usize, ell)),
                Cell::from(fit(&e.via, via_w as usize, ell)),
                Cell::from(fit(&e.what, what_w, ell)),
            ])
        });
        let header = Row::new(vec!["when", "who", "via", "what"]).style(th.header());
        let widths =
            [Constraint::Length(when_w), Constraint::Length(who_w), Constraint::Length(via_w), Constraint::Min(1)];
        f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), body);
        // the selected entry in full
        let b = th.block(Borders::TOP);
        let inner = b.inner(detail);
        f.render_widget(b, detail);
        let Some(e) = list.get(self.cursor.sel) else {
            f.render_widget(Paragraph::new(Span::styled("nothing has been changed yet", th.dim())), inner);
            return;
        };
        let lines = vec![
            Line::from(vec![
                Span::styled(when(e.ts, true), th.dim()),
                Span::raw("  "),
                Span::styled(e.who.clone(), th.title()),
                Span::styled(" via ", th.dim()),
                Span::raw(e.via.clone()),
            ]),
            Line::from(e.what.clone()),
        ];
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}

/// An entry's time in UTC: to the second when there is room.
fn when(ts: i64, seconds: bool) -> String {
    match chrono::DateTime::from_timestamp(ts, 0) {
        Some(d) if seconds => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => short_ts(ts),
    }
}
