//! The scheduler, live: its state, what is due next, what is being decided
//! and delivered with its progress (recipients decided, messages
//! delivered, as bars), totals, and recent outcomes and failures.

use super::{Cx, Flow, fit, pct, short_ts};
use crate::app::scheduler::Activity;
use crate::campaign::run::{Phase, Progress};
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
        // the progress lines are there only while a campaign is processed
        let working = self.activity.as_ref().and_then(|a| a.progress.as_ref());
        let stats_h = if working.is_some() { 7 } else { 4 };
        let [head, stats, log] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(stats_h), Constraint::Min(2)]).areas(area);
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
        let mut lines = vec![
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
        if let Some(p) = &a.progress {
            lines.extend(progress_lines(p, stats.width as usize, th));
        }
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

/// Width of a progress bar (inside its brackets), at most.
const BAR: usize = 30;

/// The campaign being processed and its two bars: recipients decided of
/// those due, messages delivered of those decided `sent` so far.
fn progress_lines(p: &Progress, width: usize, th: &Theme) -> Vec<Line<'static>> {
    let label = |t: &str| Span::styled(format!("{t:<12}"), th.dim());
    let step = match p.phase {
        Phase::Deciding => "deciding",
        Phase::Recording => "recording the decisions",
        Phase::Delivering => "delivering",
    };
    // the numbers after the bar: `  12345 of 67890  18.2%`
    let digits = p.due.max(p.sends).max(1).to_string().len();
    let tail = 2 + digits + 4 + digits + 8;
    let bar_w = width.saturating_sub(12 + 2 + tail).min(BAR);
    let gauge = |name: &str, done: u64, total: u64| {
        let filled = if total == 0 { 0 } else { (done.min(total) as usize * bar_w) / total as usize };
        Line::from(vec![
            label(name),
            Span::raw("["),
            Span::styled(th.sym(Sym::Bar).repeat(filled), th.accent()),
            Span::raw(" ".repeat(bar_w - filled)),
            Span::raw("]"),
            Span::raw(format!("  {done:>digits$} of {total:>digits$}  {:>5.1}%", pct(done, total))),
        ])
    };
    let ell = th.sym(Sym::Ellipsis);
    vec![
        Line::from(vec![
            label("campaign"),
            Span::styled(fit(&p.campaign, width.saturating_sub(12 + step.len() + 2), ell), th.title()),
            Span::styled(format!(", {step}"), th.ok()),
        ]),
        gauge("decided", p.decided, p.due),
        if p.sends == 0 {
            Line::from(vec![label("delivered"), Span::styled("nothing decided sent yet", th.dim())])
        } else {
            gauge("delivered", p.delivered, p.sends)
        },
    ]
}
