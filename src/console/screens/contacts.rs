//! The contacts table (also a tag's members): a window of rows over the
//! ordered ids of the current filter and sort, so a million contacts cost
//! one id vector; `/` filters by quick text or a segment expression.

use super::{Cursor, Cx, Flow, Purpose, fit, pct, short_ts};
use crate::app::contacts::{ContactFilter, ContactList, ContactRow};
use crate::console::action::Action;
use crate::console::app::Sub;
use crate::console::input::TextField;
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane, Ticket};
use crate::segment::engine::listing::SortBy;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use std::collections::HashMap;

/// How a column sorts (None: it does not).
type SortOf = Option<fn() -> SortBy>;

/// The table's columns: title, and what sorting by it means.
pub const COLUMNS: &[(&str, SortOf)] = &[
    ("name", Some(|| SortBy::Attr("first_name".into()))),
    ("email", Some(|| SortBy::Email)),
    ("city", Some(|| SortBy::Attr("city".into()))),
    ("score", Some(|| SortBy::Score)),
    ("lifecycle", None),
    ("tags", None),
    ("last activity", Some(|| SortBy::LastActivity)),
];

pub struct ContactsView {
    pub title: String,
    /// a tag's members: the expression every row must match
    pub within: Option<String>,
    pub filter: TextField,
    pub editing: bool,
    pub applied: ContactFilter,
    /// column and message of a bad filter expression
    pub filter_error: Option<(usize, String)>,
    /// sorted column (index into COLUMNS), None: by id
    pub sort: Option<usize>,
    pub desc: bool,
    pub list: Option<ContactList>,
    pub loading: Option<Ticket>,
    pub cursor: Cursor,
    pub rows: HashMap<u32, ContactRow>,
}

impl ContactsView {
    pub fn new(title: &str, within: Option<String>, sort: Option<usize>, desc: bool) -> ContactsView {
        ContactsView {
            title: title.into(),
            within,
            filter: TextField::new(""),
            editing: false,
            applied: ContactFilter::All,
            filter_error: None,
            sort,
            desc,
            list: None,
            loading: None,
            cursor: Cursor::default(),
            rows: HashMap::new(),
        }
    }

    fn purpose(&self) -> Purpose {
        if self.within.is_some() { Purpose::MemberList } else { Purpose::ContactList }
    }

    /// Asks for the list again (filter, sort or data changed); a request
    /// still running is cancelled.
    pub fn reload(&mut self, cx: &mut Cx) {
        if let Some(t) = self.loading.take() {
            t.cancel();
        }
        let sort = self.sort.and_then(|i| COLUMNS[i].1).map(|f| f()).unwrap_or(SortBy::Id);
        let job = Job::Contacts { filter: self.applied.clone(), within: self.within.clone(), sort, desc: self.desc };
        let p = self.purpose();
        self.loading = Some(cx.submit(Lane::Fast, job, p));
    }

    pub fn loaded(&mut self, list: ContactList, page: usize) {
        self.loading = None;
        self.rows.clear();
        self.cursor.show(list.ids.len(), page);
        self.list = Some(list);
    }

    pub fn failed(&mut self, at: Option<usize>, msg: String) {
        self.loading = None;
        self.filter_error = Some((at.unwrap_or(0), msg));
    }

    pub fn len(&self) -> usize {
        self.list.as_ref().map_or(0, |l| l.ids.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids on screen whose rows are not loaded yet.
    pub fn missing_rows(&self, page: usize) -> Vec<u32> {
        let Some(l) = &self.list else { return Vec::new() };
        let end = (self.cursor.offset + page).min(l.ids.len());
        l.ids[self.cursor.offset.min(end)..end].iter().copied().filter(|id| !self.rows.contains_key(id)).collect()
    }

    pub fn selected_id(&self) -> Option<u32> {
        self.list.as_ref().and_then(|l| l.ids.get(self.cursor.sel).copied())
    }

    fn apply_filter(&mut self, cx: &mut Cx) {
        let f = ContactFilter::detect(&self.filter.text());
        self.filter_error = None;
        if f != self.applied {
            self.applied = f;
            self.cursor = Cursor::default();
            self.reload(cx);
        }
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        if self.editing {
            match a {
                Action::Apply => {
                    self.editing = false;
                    self.apply_filter(cx);
                }
                Action::Leave => self.editing = false,
                _ => return Flow::Ignored,
            }
            return Flow::Handled;
        }
        if self.cursor.apply(a, self.len(), cx.page) {
            return Flow::Handled;
        }
        match a {
            Action::Filter => self.editing = true,
            Action::Open => {
                if let Some(id) = self.selected_id() {
                    return Flow::Open(Box::new(Sub::profile(id, cx)));
                }
            }
            Action::Sort | Action::Right | Action::Left => {
                let sortable: Vec<usize> = (0..COLUMNS.len()).filter(|&i| COLUMNS[i].1.is_some()).collect();
                let pos = self.sort.and_then(|s| sortable.iter().position(|&x| x == s));
                self.sort = match (a, pos) {
                    (Action::Left, Some(0)) => None,
                    (Action::Left, Some(p)) => Some(sortable[p - 1]),
                    (Action::Left, None) => sortable.last().copied(),
                    (_, None) => Some(sortable[0]),
                    (_, Some(p)) if p + 1 < sortable.len() => Some(sortable[p + 1]),
                    _ => None,
                };
                self.desc = matches!(self.sort.map(|i| COLUMNS[i].0), Some("score" | "last activity"));
                self.reload(cx);
            }
            Action::SortReverse => {
                self.desc = !self.desc;
                self.reload(cx);
            }
            Action::Refresh => self.reload(cx),
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    /// Typing in the filter: the list follows every keystroke (the stale
    /// request is cancelled), except while an expression does not parse.
    pub fn on_text(&mut self, key: crossterm::event::KeyEvent, cx: &mut Cx) {
        if self.filter.input(key) {
            let f = ContactFilter::detect(&self.filter.text());
            if let ContactFilter::Expr(src) = &f
                && let Err(e) = crate::segment::parse(src)
            {
                self.filter_error = Some((e.column, e.to_string()));
                return;
            }
            self.apply_filter(cx);
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let [head, filter_line, table] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1), Constraint::Min(1)]).areas(area);
        let total = self.list.as_ref().map_or(0, |l| l.total);
        let n = self.len() as u64;
        let mut spans = vec![Span::styled(format!("{} ", self.title), th.title())];
        if self.list.is_some() {
            spans.push(Span::raw(format!("{n} of {total} contacts ({:.1}%)", pct(n, total))));
        }
        if self.loading.is_some() {
            spans.push(Span::styled(format!("  loading{}", th.sym(Sym::Ellipsis)), th.dim()));
        }
        if let Some(i) = self.sort {
            let arrow = if self.desc { th.sym(Sym::Down) } else { th.sym(Sym::Up) };
            spans.push(Span::styled(format!("  sorted by {} {arrow}", COLUMNS[i].0), th.dim()));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), head);
        // the filter line: the field while editing, else what is applied or a hint
        let label = Span::styled("/ ", th.key());
        if self.editing {
            let [l, rest] = Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(filter_line);
            f.render_widget(Paragraph::new(label), l);
            f.render_widget(&self.filter.area, rest);
        } else {
            let text = match &self.applied {
                ContactFilter::All => Span::styled("filter: text or segment expression", th.dim()),
                ContactFilter::Text(t) => Span::raw(format!("text \"{t}\"")),
                ContactFilter::Expr(e) => Span::raw(format!("segment {e}")),
            };
            f.render_widget(Paragraph::new(Line::from(vec![label, text])), filter_line);
        }
        if let Some((col, msg)) = &self.filter_error {
            let [_, err] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(table);
            let caret = if *col > 0 { format!("{}^ ", " ".repeat(col + 1)) } else { String::new() };
            f.render_widget(Paragraph::new(Span::styled(format!("{caret}{msg}"), th.error())), err);
            return;
        }
        let wide = table.width >= 120;
        let widths: Vec<Constraint> = if wide {
            vec![
                Constraint::Length(22),
                Constraint::Length(30),
                Constraint::Length(14),
                Constraint::Length(6),
                Constraint::Length(10),
                Constraint::Min(16),
                Constraint::Length(16),
            ]
        } else {
            vec![
                Constraint::Length(18),
                Constraint::Length(24),
                Constraint::Length(10),
                Constraint::Length(5),
                Constraint::Min(8),
            ]
        };
        let cols = widths.len();
        let header = Row::new(
            COLUMNS
                .iter()
                .enumerate()
                .filter(|(i, _)| wide || *i < 4 || *i == 5)
                .map(|(i, (name, _))| {
                    let mark = if self.sort == Some(i) {
                        if self.desc { th.sym(Sym::Down) } else { th.sym(Sym::Up) }
                    } else {
                        ""
                    };
                    Cell::from(format!("{name}{mark}"))
                })
                .take(cols),
        )
        .style(th.header());
        let page = table.height.saturating_sub(1) as usize;
        let ell = th.sym(Sym::Ellipsis);
        let rows: Vec<Row> = self
            .list
            .as_ref()
            .map(|l| {
                let end = (self.cursor.offset + page).min(l.ids.len());
                l.ids[self.cursor.offset.min(end)..end]
                    .iter()
                    .enumerate()
                    .map(|(k, id)| {
                        let r = self.rows.get(id);
                        let text = |s: Option<String>| s.unwrap_or_default();
                        let mut cells = vec![
                            text(r.map(|r| if r.name.is_empty() { format!("#{}", r.id) } else { r.name.clone() })),
                            text(r.map(|r| r.email.clone())),
                            text(r.map(|r| r.city.clone())),
                            text(r.map(|r| r.score.to_string())),
                        ];
                        if wide {
                            cells.push(text(r.map(|r| r.lifecycle.clone())));
                        }
                        cells.push(text(r.map(|r| r.tags.join(","))));
                        if wide {
                            cells.push(text(r.and_then(|r| r.last_activity).map(short_ts)));
                        }
                        let w: Vec<usize> =
                            if wide { vec![22, 30, 14, 6, 10, 40, 16] } else { vec![18, 24, 10, 5, 40] };
                        let row = Row::new(cells.into_iter().zip(w).map(|(c, w)| Cell::from(fit(&c, w, ell))));
                        if self.cursor.offset + k == self.cursor.sel { row.style(th.selected()) } else { row }
                    })
                    .collect()
            })
            .unwrap_or_default();
        f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), table);
    }
}
