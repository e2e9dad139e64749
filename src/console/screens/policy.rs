//! The do-not-disturb policy as the TOML the scheduler follows; `e` edits
//! it in $EDITOR, validated on save (`file:line: reason`, reopened on error).

use super::{Cx, Flow, Purpose};
use crate::console::action::Action;
use crate::console::app::EditKind;
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

#[derive(Default)]
pub struct PolicyView {
    pub text: Option<String>,
    pub scroll: usize,
    pub loading: bool,
}

impl PolicyView {
    pub fn reload(&mut self, cx: &mut Cx) {
        self.loading = true;
        cx.submit(Lane::Fast, Job::PolicyText, Purpose::Policy);
    }

    pub fn loaded(&mut self, text: String) {
        self.loading = false;
        self.text = Some(text);
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        let lines = self.text.as_ref().map_or(0, |t| t.lines().count());
        match a {
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = (self.scroll + 1).min(lines.saturating_sub(1)),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(cx.page),
            Action::PageDown => self.scroll = (self.scroll + cx.page).min(lines.saturating_sub(1)),
            Action::Top => self.scroll = 0,
            Action::Bottom => self.scroll = lines.saturating_sub(cx.page),
            Action::Edit | Action::Open => {
                if let Some(t) = &self.text {
                    return Flow::Edit(EditKind::Policy, t.clone());
                }
            }
            Action::Refresh => self.reload(cx),
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        let mut spans =
            vec![Span::styled("Policy ", th.title()), Span::styled("do-not-disturb rules; e edits", th.dim())];
        if self.loading {
            spans.push(Span::styled(format!("  loading{}", th.sym(Sym::Ellipsis)), th.dim()));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), head);
        let Some(t) = &self.text else { return };
        let lines: Vec<Line> = t
            .lines()
            .skip(self.scroll)
            .map(|l| {
                let s = l.trim_start();
                if s.starts_with('#') {
                    Line::from(Span::styled(l.to_string(), th.dim()))
                } else if s.starts_with('[') {
                    Line::from(Span::styled(l.to_string(), th.header()))
                } else {
                    Line::from(l.to_string())
                }
            })
            .collect();
        f.render_widget(Paragraph::new(lines), body);
    }
}
