//! Saved segments with their live count, share of all contacts and a
//! sparkline of their size history; Enter opens one in the builder, `n`
//! starts a new one, delete asks first.

use super::{Cursor, Cx, Flow, Purpose, fit, pct, title_line, window_rows};
use crate::app::segments::SegmentSummary;
use crate::console::action::Action;
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

#[derive(Default)]
pub struct SegmentsView {
    pub list: Option<Vec<SegmentSummary>>,
    pub total: u64,
    pub cursor: Cursor,
    pub loading: bool,
}

impl SegmentsView {
    pub fn reload(&mut self, cx: &mut Cx) {
        self.loading = true;
        // every saved segment counted: the slow lane, so it never delays the
        // contacts table or a typed count
        cx.submit(Lane::Slow, Job::Segments, Purpose::Segments);
    }

    pub fn loaded(&mut self, list: Vec<SegmentSummary>, total: u64, page: usize) {
        self.loading = false;
        self.cursor.show(list.len(), page);
        self.list = Some(list);
        self.total = total;
    }

    fn selected(&self) -> Option<&SegmentSummary> {
        self.list.as_ref().and_then(|l| l.get(self.cursor.sel))
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        let len = self.list.as_ref().map_or(0, |l| l.len());
        if self.cursor.apply(a, len, cx.page) {
            return Flow::Handled;
        }
        match a {
            Action::Open => match self.selected() {
                Some(s) => Flow::Build { name: Some(s.saved.name.clone()), expr: s.saved.expr.clone() },
                None => Flow::Handled,
            },
            Action::New => Flow::Build { name: None, expr: String::new() },
            Action::Delete => match self.selected() {
                Some(s) => Flow::Confirm {
                    question: format!("Delete segment {}?", s.saved.name),
                    lane: Lane::Slow,
                    job: Job::DeleteSegment { name: s.saved.name.clone() },
                    purpose: Purpose::Change,
                },
                None => Flow::Handled,
            },
            Action::Refresh => {
                self.reload(cx);
                Flow::Handled
            }
            _ => Flow::Ignored,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        let n = self.list.as_ref().map_or(0, |l| l.len());
        title_line(f, head, th, "Segments", format!("{n} saved"), self.loading.then_some("counting"));
        let Some(list) = &self.list else { return };
        if list.is_empty() {
            f.render_widget(
                Paragraph::new(Span::styled("no saved segments: n starts one in the builder", th.dim())),
                body,
            );
            return;
        }
        let ell = th.sym(Sym::Ellipsis);
        let expr_w = body.width.saturating_sub(20 + 10 + 7 + 14 + 4).max(10) as usize;
        let page = body.height.saturating_sub(1) as usize;
        let rows = window_rows(list, self.cursor, page, th, |s| {
            let (count, share) = match &s.count {
                Ok(c) => (format!("{c:>9}"), format!("{:>5.1}%", pct(*c, self.total))),
                Err(e) => (fit(&format!("error: {e}"), 9, ell), String::new()),
            };
            let hist: Vec<u64> = s.history.iter().map(|h| h.1).collect();
            Row::new(vec![
                Cell::from(fit(&s.saved.name, 20, ell)),
                Cell::from(count),
                Cell::from(share),
                Cell::from(Span::styled(th.sparkline(&hist, 14), th.accent())),
                Cell::from(fit(&s.saved.expr, expr_w, ell)),
            ])
        });
        let header = Row::new(vec!["segment", "    count", " share", "history", "expression"]).style(th.header());
        let widths = [
            Constraint::Length(20),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(14),
            Constraint::Min(10),
        ];
        f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), body);
    }
}
