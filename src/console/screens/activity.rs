//! The scheduler, live: its state, what is due next, what is being decided
//! and delivered, totals, and recent outcomes and failures.

use super::{Cx, Flow, fit, short_ts};
use crate::app::scheduler::Activity;
use crate::console::action::Action;
use crate::console::theme::{Sym, Theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Paragraph};

#[derive(Default)]
pub struct ActivityView {
    /// the latest snapshot of the scheduler's activity (None: not running here)
    pub activity: Option<Activity>,
    pub scroll: usize,
}

impl ActivityView {
    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        let n = self.activity.as_ref().map_or(0, |a| a.log.len());
        match a {
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = (self.scroll + 1).min(n.saturating_sub(1)),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(cx.page),
            Action::PageDown => self.scroll = (self.scroll + cx.page).min(n.saturating_sub(1)),
            Action::Top => self.scroll = 0,
            Action::Bottom => self.scroll = n.saturating_sub(1),
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let [head, stats, log] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(4), Constraint::Min(2)]).areas(area);
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("Activity ", th.title()),
                Span::styled("the campaign scheduler", th.dim()),
            ])),
            head,
        );
        let Some(a) = &self.activity else {
            f.render_widget(Paragraph::new("the scheduler does not run in this console"), stats);
            return;
        };
        let label = |t: &str| Span::styled(format!("{t:<12}"), th.dim());
        let t = &a.totals;
        let lines = vec![
            Line::from(vec![
                label("state"),
                Span::styled(
                    a.state.clone(),
                    if a.state == "failed" {
                        th.error()
                    } else if a.state == "idle" {
                        th.dim()
                    } else {
                        th.ok()
                    },
                ),
                match a.working_on {
                    Some(m) => Span::raw(format!("  (runs due at {})", short_ts(m))),
                    None => Span::raw(""),
                },
            ]),
            Line::from(vec![label("next due"), Span::raw(a.next_due.map(short_ts).unwrap_or("-".into()))]),
            Line::from(vec![
                label("so far"),
                Span::raw(format!(
                    "{} decisions: sent {}, deferred {}, suppressed {}, failed {}",
                    t.decided, t.sent, t.deferred, t.suppressed, t.failed
                )),
            ]),
            Line::from(vec![
                label("time"),
                Span::raw(format!("decide+record {} ms, deliver {} ms", t.decide_ms, t.deliver_ms)),
            ]),
        ];
        f.render_widget(Paragraph::new(lines), stats);
        let b = th.block(Borders::TOP).title(Span::styled(" recent outcomes (newest first) ", th.header()));
        let inner = b.inner(log);
        f.render_widget(b, log);
        let w = inner.width as usize;
        let ell = th.sym(Sym::Ellipsis);
        let lines: Vec<Line> = if a.log.is_empty() {
            vec![Line::from(Span::styled("nothing yet", th.dim()))]
        } else {
            a.log
                .iter()
                .skip(self.scroll)
                .map(|(ts, what)| {
                    let style = if what.contains("failed") || what.contains("stopped") { th.error() } else { th.ok() };
                    Line::from(Span::styled(fit(&format!("{}  {what}", short_ts(*ts)), w, ell), style))
                })
                .collect()
        };
        f.render_widget(Paragraph::new(lines), inner);
    }
}
