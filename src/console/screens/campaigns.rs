//! Campaigns: the list with channel, priority, status, schedule and sent /
//! deferred / suppressed counts; a campaign's detail with its forecast;
//! create and edit in $EDITOR (validated on save); schedule, pause and
//! cancel, each confirmed.

use super::{Cursor, Cx, Flow, Purpose, fit, title_line, window_rows};
use crate::app::campaigns::{CampaignSummary, StatusChange};
use crate::campaign::run::Forecast;
use crate::console::action::Action;
use crate::console::app::{EditKind, Sub};
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Cell, Paragraph, Row, Table};

#[derive(Default)]
pub struct CampaignsView {
    pub list: Option<Vec<CampaignSummary>>,
    pub cursor: Cursor,
    pub loading: bool,
}

fn suppressed(s: &crate::campaign::run::Stats) -> u64 {
    s.suppressed.values().sum()
}

/// The confirm flow of a status change.
fn status_flow(name: &str, change: StatusChange) -> Flow {
    let verb = match change {
        StatusChange::Schedule => "Schedule",
        StatusChange::Pause => "Pause",
        StatusChange::Cancel => "Cancel",
    };
    Flow::Confirm {
        question: format!("{verb} campaign {name}?"),
        lane: Lane::Slow,
        job: Job::ChangeStatus { name: name.to_string(), change },
        purpose: Purpose::Change,
    }
}

/// Actions on one campaign, shared by the list and the detail.
fn campaign_action(a: Action, c: &CampaignSummary) -> Option<Flow> {
    let name = &c.campaign.name;
    Some(match a {
        Action::Schedule => status_flow(name, StatusChange::Schedule),
        Action::Pause => status_flow(name, StatusChange::Pause),
        Action::CancelCampaign => status_flow(name, StatusChange::Cancel),
        Action::Edit => {
            Flow::Edit(EditKind::Campaign { replace: true }, crate::app::campaign_file::campaign_file_text(&c.campaign))
        }
        _ => return None,
    })
}

impl CampaignsView {
    pub fn reload(&mut self, cx: &mut Cx) {
        self.loading = true;
        cx.submit(Lane::Fast, Job::Campaigns, Purpose::Campaigns);
    }

    pub fn loaded(&mut self, list: Vec<CampaignSummary>, page: usize) {
        self.loading = false;
        self.cursor.show(list.len(), page);
        self.list = Some(list);
    }

    fn selected(&self) -> Option<&CampaignSummary> {
        self.list.as_ref().and_then(|l| l.get(self.cursor.sel))
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        let len = self.list.as_ref().map_or(0, |l| l.len());
        if self.cursor.apply(a, len, cx.page) {
            return Flow::Handled;
        }
        if let Some(flow) = self.selected().and_then(|c| campaign_action(a, c)) {
            return flow;
        }
        match a {
            Action::Open => match self.selected() {
                Some(c) => {
                    let name = c.campaign.name.clone();
                    cx.submit(Lane::Slow, Job::Forecast { name: name.clone() }, Purpose::Forecast);
                    Flow::Open(Box::new(Sub::Campaign(Box::new(DetailView { name, forecast: None }))))
                }
                None => Flow::Handled,
            },
            Action::New => Flow::Edit(
                EditKind::Campaign { replace: false },
                crate::app::campaign_file::new_campaign_template(cx.now),
            ),
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
        title_line(f, head, th, "Campaigns", format!("{n} campaigns"), self.loading.then_some("loading"));
        let Some(list) = &self.list else { return };
        if list.is_empty() {
            f.render_widget(Paragraph::new(Span::styled("no campaigns: n creates one in $EDITOR", th.dim())), body);
            return;
        }
        let ell = th.sym(Sym::Ellipsis);
        let wide = body.width >= 120;
        let page = body.height.saturating_sub(1) as usize;
        let rows = window_rows(list, self.cursor, page, th, |s| {
            let c = &s.campaign;
            let status = Span::styled(
                c.status.as_str().to_string(),
                match c.status.as_str() {
                    "scheduled" | "running" => th.ok(),
                    "paused" | "cancelled" => th.error(),
                    _ => th.dim(),
                },
            );
            let mut cells = vec![
                Cell::from(fit(&c.name, 20, ell)),
                Cell::from(c.channel.to_string()),
                Cell::from(c.priority.to_string()),
                Cell::from(status),
                Cell::from(format!("{:>8}", s.stats.sent)),
                Cell::from(format!("{:>8}", s.stats.deferred)),
                Cell::from(format!("{:>8}", suppressed(&s.stats))),
            ];
            if wide {
                cells.push(Cell::from(fit(&c.schedule.describe(), 40, ell)));
            }
            Row::new(cells)
        });
        let mut titles = vec!["campaign", "channel", "priority", "status", "    sent", "deferred", "suppress"];
        let mut widths = vec![
            Constraint::Length(20),
            Constraint::Length(7),
            Constraint::Length(12),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
        ];
        if wide {
            titles.push("schedule");
            widths.push(Constraint::Min(10));
        }
        let header = Row::new(titles).style(th.header());
        f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), body);
    }
}

/// One campaign: its settings, statistics and forecast.
pub struct DetailView {
    pub name: String,
    pub forecast: Option<Forecast>,
}

impl DetailView {
    pub fn on_action(&mut self, a: Action, cx: &mut Cx, list: &CampaignsView) -> Flow {
        let current = list.list.as_ref().and_then(|l| l.iter().find(|c| c.campaign.name == self.name));
        if let Some(flow) = current.and_then(|c| campaign_action(a, c)) {
            return flow;
        }
        match a {
            Action::Refresh => {
                cx.submit(Lane::Slow, Job::Forecast { name: self.name.clone() }, Purpose::Forecast);
                Flow::Handled
            }
            _ => Flow::Ignored,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme, list: &CampaignsView) {
        let Some(s) = list.list.as_ref().and_then(|l| l.iter().find(|c| c.campaign.name == self.name)) else {
            f.render_widget(Paragraph::new(format!("campaign {} is gone", self.name)), area);
            return;
        };
        let c = &s.campaign;
        let ell = th.sym(Sym::Ellipsis);
        let w = area.width.saturating_sub(14) as usize;
        let label = |t: &str| Span::styled(format!("{t:<12}"), th.dim());
        let mut lines = vec![
            Line::from(vec![
                Span::styled(c.name.clone(), th.title()),
                Span::raw(format!("  {} {}  ", c.channel, c.priority)),
                Span::styled(c.status.as_str().to_string(), th.accent()),
            ]),
            Line::from(vec![label("schedule"), Span::raw(c.schedule.describe())]),
            Line::from(vec![label("audience"), Span::raw(fit(&c.audience.expression(), w, ell))]),
            Line::from(vec![label("subject"), Span::raw(fit(&c.subject, w, ell))]),
        ];
        if let Some(e) = &c.error {
            lines.push(Line::from(vec![label("error"), Span::styled(e.clone(), th.error())]));
        }
        lines.push(Line::from(vec![
            label("recipients"),
            Span::raw(format!(
                "{}: sent {}, pending {}, deferred {}, failed {}",
                s.stats.audience, s.stats.sent, s.stats.pending, s.stats.deferred, s.stats.failed
            )),
        ]));
        let max = s.stats.suppressed.values().copied().max().unwrap_or(0).max(1);
        for (r, n) in s.stats.suppressed.iter().filter(|(_, n)| **n > 0) {
            let bar = th.sym(Sym::Bar).repeat((n * 30 / max) as usize);
            lines.push(Line::from(vec![
                label(""),
                Span::raw(format!("suppressed {r:<13} {n:>8} ")),
                Span::styled(bar, th.error()),
            ]));
        }
        let runs: Vec<String> =
            c.runs.iter().rev().take(5).map(|r| format!("{} ({})", super::short_ts(r.at), r.audience)).collect();
        if !runs.is_empty() {
            lines.push(Line::from(vec![label("last runs"), Span::raw(fit(&runs.join(", "), w, ell))]));
            // the audience of every run, oldest first
            let sizes: Vec<u64> = c.runs.iter().map(|r| r.audience).collect();
            lines.push(Line::from(vec![
                label("runs"),
                Span::styled(th.sparkline(&sizes, w.min(60)), th.accent()),
                Span::styled(format!(" {} runs", sizes.len()), th.dim()),
            ]));
        }
        let [top, bottom] =
            Layout::vertical([Constraint::Length(lines.len() as u16 + 1), Constraint::Min(3)]).areas(area);
        f.render_widget(Paragraph::new(lines), top);
        let b = th.block(Borders::TOP).title(Span::styled(" forecast of the next run ", th.header()));
        let body = match &self.forecast {
            None => vec![Line::from(Span::styled(format!("deciding{}", ell), th.dim()))],
            Some(fc) => {
                let mut l = vec![
                    Line::from(format!("at {}: audience {}", super::short_ts(fc.at), fc.audience)),
                    Line::from(vec![
                        Span::raw("would send "),
                        Span::styled(fc.send.to_string(), th.ok()),
                        Span::raw(format!(", deferred on the way {}", fc.deferred)),
                    ]),
                ];
                let max = fc.suppressed.values().copied().max().unwrap_or(0).max(1);
                for (r, n) in fc.suppressed.iter().filter(|(_, n)| **n > 0) {
                    l.push(Line::from(vec![
                        Span::raw(format!("suppressed {r:<13} {n:>8} ")),
                        Span::styled(th.sym(Sym::Bar).repeat((n * 30 / max) as usize), th.error()),
                    ]));
                }
                l
            }
        };
        f.render_widget(Paragraph::new(body).block(b), bottom);
    }
}
