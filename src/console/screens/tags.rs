//! Tags with their counts and share of all contacts; Enter lists a tag's
//! contacts by score (tag → contacts → card).

use super::contacts::ContactsView;
use super::{Cursor, Cx, Flow, Purpose, fit, pct, title_line, window_rows};
use crate::console::action::Action;
use crate::console::app::Sub;
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane};
use crate::segment::{Expr, Name, Predicate, print};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

#[derive(Default)]
pub struct TagsView {
    pub tags: Option<Vec<(String, u64)>>,
    pub total: u64,
    pub cursor: Cursor,
    pub loading: bool,
}

impl TagsView {
    pub fn reload(&mut self, cx: &mut Cx) {
        self.loading = true;
        cx.submit(Lane::Fast, Job::Tags, Purpose::Tags);
    }

    pub fn loaded(&mut self, tags: Vec<(String, u64)>, total: u64, page: usize) {
        self.loading = false;
        self.cursor.show(tags.len(), page);
        self.tags = Some(tags);
        self.total = total;
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        let len = self.tags.as_ref().map_or(0, |t| t.len());
        if self.cursor.apply(a, len, cx.page) {
            return Flow::Handled;
        }
        match a {
            Action::Open => {
                let Some((tag, _)) = self.tags.as_ref().and_then(|t| t.get(self.cursor.sel)).cloned() else {
                    return Flow::Handled;
                };
                let within = print(&Expr::Pred(Predicate::Tag(Name::new(tag.clone()))));
                // sorted by score, highest first (COLUMNS[3])
                let mut v = ContactsView::new(&format!("Tag {tag}"), Some(within), Some(3), true);
                v.reload(cx);
                Flow::Open(Box::new(Sub::Members(Box::new(v))))
            }
            Action::Refresh => {
                self.reload(cx);
                Flow::Handled
            }
            _ => Flow::Ignored,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        let n = self.tags.as_ref().map_or(0, |t| t.len());
        let summary = format!("{n} tags over {} contacts", self.total);
        title_line(f, head, th, "Tags", summary, self.loading.then_some("loading"));
        let Some(tags) = &self.tags else { return };
        let bar_w = body.width.saturating_sub(44).min(40) as usize;
        let max = tags.iter().map(|t| t.1).max().unwrap_or(1).max(1);
        let page = body.height.saturating_sub(1) as usize;
        let rows = window_rows(tags, self.cursor, page, th, |(name, count)| {
            let bar = th.sym(Sym::Bar).repeat((*count * bar_w as u64 / max) as usize);
            Row::new(vec![
                Cell::from(fit(name, 24, th.sym(Sym::Ellipsis))),
                Cell::from(format!("{count:>9}")),
                Cell::from(format!("{:>5.1}%", pct(*count, self.total))),
                Cell::from(Span::styled(bar, th.accent())),
            ])
        });
        let header = Row::new(vec!["tag", "    count", " share", ""]).style(th.header());
        let widths = [Constraint::Length(24), Constraint::Length(9), Constraint::Length(6), Constraint::Min(1)];
        f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), body);
    }
}
