//! Journeys: the list (status, trigger, entered / active / completed /
//! exited runs) over a pane with the selected journey's steps as a tree,
//! each step with the runs waiting there, sent and suppressed; a journey's
//! detail (Enter) with its settings and the whole tree, scrollable; start,
//! pause and stop, each confirmed. Both follow the store's changes: a
//! reload asked while one runs is run once after it (the scheduler writes
//! often), so the lane never piles up.

use super::journey_tree::{self, Guide, Kind, To};
use super::{Cursor, Cx, Flow, Purpose, fit, title_line, window_rows};
use crate::app::journeys::{Counts, JourneyChange, JourneyDetail, JourneySummary};
use crate::console::action::Action;
use crate::console::app::Sub;
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane, Ticket};
use crate::journey::model::{Action as Step, Journey, Status};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Cell, Paragraph, Row, Table};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct JourneysView {
    pub list: Option<Vec<JourneySummary>>,
    pub cursor: Cursor,
    /// the list is being read; `again`: changes came meanwhile
    pub loading: bool,
    pub again: bool,
    /// the selected journey's steps' outcomes (the last read)
    pub detail: Option<JourneyDetail>,
    /// the detail being read, and for which journey
    pub detail_loading: Option<(Ticket, String)>,
    pub detail_again: bool,
}

/// The confirm flow of a status change.
fn change_flow(s: &JourneySummary, change: JourneyChange) -> Flow {
    let name = &s.journey.name;
    let question = match change {
        JourneyChange::Start => format!("Start journey {name}?"),
        JourneyChange::Pause => format!("Pause journey {name}?"),
        JourneyChange::Stop => match s.counts.active {
            0 => format!("Stop journey {name} for good?"),
            n => format!("Stop journey {name} for good ({n} runs exit)?"),
        },
    };
    Flow::Confirm {
        question,
        lane: Lane::Slow,
        job: Job::ChangeJourney { name: name.clone(), change },
        purpose: Purpose::Change,
    }
}

/// Start, pause and stop, shared by the list and the detail.
fn journey_action(a: Action, s: &JourneySummary) -> Option<Flow> {
    let change = match a {
        Action::StartJourney => JourneyChange::Start,
        Action::PauseJourney => JourneyChange::Pause,
        Action::StopJourney => JourneyChange::Stop,
        _ => return None,
    };
    Some(change_flow(s, change))
}

impl JourneysView {
    /// Reads the list again, and the selected journey's steps (once more
    /// after the running read if one runs).
    pub fn reload(&mut self, cx: &mut Cx) {
        if self.loading {
            self.again = true;
        } else {
            self.loading = true;
            cx.submit(Lane::Fast, Job::Journeys, Purpose::Journeys);
        }
        if self.list.is_some() {
            self.ask_detail(cx);
        }
    }

    /// Whether the screen has been shown (then it follows changes).
    pub fn shown(&self) -> bool {
        self.list.is_some() || self.loading
    }

    pub fn loaded(&mut self, list: Vec<JourneySummary>, cx: &mut Cx) {
        self.loading = false;
        let before = self.selected_name();
        self.cursor.show(list.len(), self.list_page(cx.page));
        self.list = Some(list);
        if self.again {
            self.again = false;
            self.reload(cx);
        } else if self.selected_name() != before || self.detail.is_none() {
            self.ask_detail(cx);
        }
    }

    pub fn failed(&mut self, cx: &mut Cx, e: String) {
        self.loading = false;
        self.again = false;
        cx.error(e);
    }

    pub fn selected(&self) -> Option<&JourneySummary> {
        self.list.as_ref().and_then(|l| l.get(self.cursor.sel))
    }

    fn selected_name(&self) -> Option<String> {
        self.selected().map(|s| s.journey.name.clone())
    }

    /// Asks for the selected journey's steps: a read for another journey
    /// is dropped, one for the same is run again after it.
    pub fn ask_detail(&mut self, cx: &mut Cx) {
        let Some(name) = self.selected_name() else { return };
        if let Some((t, for_name)) = &self.detail_loading {
            if *for_name == name {
                self.detail_again = true;
                return;
            }
            t.cancel();
            cx.pending.remove(&t.id);
        }
        self.detail_again = false;
        let t = cx.submit(Lane::Fast, Job::JourneyDetail { name: name.clone() }, Purpose::JourneyDetail);
        self.detail_loading = Some((t, name));
    }

    /// A detail read finished (`ticket`): kept if it is the one asked last.
    pub fn detail_done(&mut self, ticket: u64, d: Result<JourneyDetail, String>, cx: &mut Cx) {
        if self.detail_loading.as_ref().is_none_or(|(t, _)| t.id != ticket) {
            return;
        }
        self.detail_loading = None;
        match d {
            Ok(d) => self.detail = Some(d),
            Err(e) => cx.error(e),
        }
        if std::mem::take(&mut self.detail_again) {
            self.ask_detail(cx);
        }
    }

    /// The outcomes read for `name`, if the last detail read is of it.
    pub fn outcomes_of(&self, name: &str) -> Option<&BTreeMap<u32, BTreeMap<String, u64>>> {
        self.detail.as_ref().filter(|d| d.summary.journey.name == name).map(|d| &d.outcomes)
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        let len = self.list.as_ref().map_or(0, |l| l.len());
        let before = self.cursor.sel;
        let page = self.list_page(cx.page);
        if self.cursor.apply(a, len, page) {
            if self.cursor.sel != before {
                self.ask_detail(cx);
            }
            return Flow::Handled;
        }
        if let Some(flow) = self.selected().and_then(|s| journey_action(a, s)) {
            return flow;
        }
        match a {
            Action::Open => match self.selected_name() {
                Some(name) => Flow::Open(Box::new(Sub::Journey(Box::new(JourneyView { name, offset: 0 })))),
                None => Flow::Handled,
            },
            Action::Refresh => {
                self.reload(cx);
                Flow::Handled
            }
            _ => Flow::Ignored,
        }
    }

    /// Rows the list shows: a third of the screen's rows at most, the
    /// steps' pane has the rest.
    fn list_page(&self, page: usize) -> usize {
        (page / 3).max(3)
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let n = self.list.as_ref().map_or(0, |l| l.len());
        // (the screen's body is 4 rows taller than a list page)
        let rows = (n.min(self.list_page(area.height.saturating_sub(4) as usize)) as u16).max(1);
        let [head, table, pane] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(rows + 1), Constraint::Min(3)]).areas(area);
        let busy = (self.loading && self.list.is_none()).then_some("loading");
        title_line(f, head, th, "Journeys", format!("{n} journeys"), busy);
        let Some(list) = &self.list else { return };
        if list.is_empty() {
            let msg = "no journeys: `:journey create FILE` creates one (demo_data/journeys/ has three)";
            f.render_widget(Paragraph::new(Span::styled(msg, th.dim())), table);
            return;
        }
        self.render_list(f, table, th, list);
        let Some(s) = self.selected() else { return };
        let counting = self.outcomes_of(&s.journey.name).is_none() || self.detail_loading.is_some();
        let title = format!(
            " steps of {}{} ",
            s.journey.name,
            if counting { format!(" (counting{})", th.sym(Sym::Ellipsis)) } else { String::new() }
        );
        let b = th.block(Borders::TOP).title(Span::styled(title, th.header()));
        let inner = b.inner(pane);
        f.render_widget(b, pane);
        render_steps(f, inner, th, &s.journey, &s.counts, self.outcomes_of(&s.journey.name), 0);
    }

    fn render_list(&self, f: &mut Frame, area: Rect, th: &Theme, list: &[JourneySummary]) {
        let ell = th.sym(Sym::Ellipsis);
        let wide = area.width >= 120;
        let name_w: u16 = if wide { 24 } else { 18 };
        // name, status, the counts and the spaces between: the trigger has the rest
        let fixed = name_w + 7 + 8 + 7 + 7 + 9 + 7 + if wide { 30 } else { 0 };
        let trigger_w = area.width.saturating_sub(fixed).max(8);
        let page = area.height.saturating_sub(1) as usize;
        let rows = window_rows(list, self.cursor, page, th, |s| {
            let j = &s.journey;
            let c = &s.counts;
            let exited: u64 = c.exited.values().sum();
            let mut cells = vec![
                Cell::from(fit(&j.name, name_w as usize, ell)),
                Cell::from(Span::styled(j.status.as_str(), status_style(th, j.status))),
                Cell::from(fit(&j.describe_trigger(), trigger_w as usize, ell)),
                Cell::from(format!("{:>7}", c.entered)),
                Cell::from(format!("{:>7}", c.active)),
                Cell::from(format!("{:>9}", c.completed)),
                Cell::from(format!("{:>7}", exited)),
            ];
            if wide {
                let reasons: Vec<String> = c.exited.iter().map(|(r, n)| format!("{r} {n}")).collect();
                cells.push(Cell::from(Span::styled(fit(&reasons.join(", "), 30, ell), th.dim())));
            }
            Row::new(cells)
        });
        let mut titles = vec!["journey", "status", "trigger", "entered", " active", "completed", " exited"];
        let mut widths = vec![
            Constraint::Length(name_w),
            Constraint::Length(7),
            Constraint::Length(trigger_w),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(7),
        ];
        if wide {
            titles.push("exited by reason");
            widths.push(Constraint::Min(10));
        }
        let header = Row::new(titles).style(th.header());
        f.render_widget(Table::new(rows, widths).header(header).column_spacing(1), area);
    }
}

fn status_style(th: &Theme, s: Status) -> Style {
    match s {
        Status::Active => th.ok(),
        Status::Paused | Status::Stopped => th.error(),
        Status::Draft => th.dim(),
    }
}

/// One journey (Enter on the list): its settings, counts and whole tree.
pub struct JourneyView {
    pub name: String,
    /// the first tree row shown
    pub offset: usize,
}

impl JourneyView {
    pub fn on_action(&mut self, a: Action, cx: &mut Cx, list: &mut JourneysView) -> Flow {
        let current = list.list.as_ref().and_then(|l| l.iter().find(|s| s.journey.name == self.name));
        if let Some(flow) = current.and_then(|s| journey_action(a, s)) {
            return flow;
        }
        let rows = current.map_or(0, |s| journey_tree::layout(&s.journey).len());
        // the tree's rows: the body (a list page and 4) less the lines above it
        let page = (cx.page + 4).saturating_sub(HEADER_ROWS as usize + 1).max(1);
        let last = rows.saturating_sub(page);
        self.offset = match a {
            Action::Up => self.offset.saturating_sub(1),
            Action::Down => (self.offset + 1).min(last),
            Action::PageUp => self.offset.saturating_sub(page),
            Action::PageDown => (self.offset + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            Action::Refresh => {
                list.reload(cx);
                return Flow::Handled;
            }
            _ => return Flow::Ignored,
        };
        Flow::Handled
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme, list: &JourneysView) {
        let Some(s) = list.list.as_ref().and_then(|l| l.iter().find(|s| s.journey.name == self.name)) else {
            f.render_widget(Paragraph::new(format!("journey {} is gone", self.name)), area);
            return;
        };
        let (j, c) = (&s.journey, &s.counts);
        let ell = th.sym(Sym::Ellipsis);
        let w = area.width.saturating_sub(12) as usize;
        let label = |t: &str| Span::styled(format!("{t:<10}"), th.dim());
        let exited: Vec<String> = c.exited.iter().map(|(r, n)| format!("{r} {n}")).collect();
        let mut entry = j.describe_trigger();
        if let Some(e) = &j.entry_if {
            entry.push_str(&format!(" if {e}"));
        }
        entry.push_str(&format!("; re-entry {}", j.reentry.describe()));
        let goals: Vec<String> = j.goals.iter().map(|g| g.describe()).collect();
        let lines = vec![
            Line::from(vec![
                Span::styled(j.name.clone(), th.title()),
                Span::raw("  "),
                Span::styled(j.status.as_str(), status_style(th, j.status)),
                Span::styled(format!("  {}", fit(&j.description, w, ell)), th.dim()),
            ]),
            Line::from(vec![label("entry"), Span::raw(fit(&entry, w, ell))]),
            Line::from(vec![
                label("goals"),
                Span::raw(fit(&if goals.is_empty() { "none".into() } else { goals.join(", ") }, w, ell)),
            ]),
            Line::from(vec![
                label("runs"),
                Span::raw(format!(
                    "entered {}, active {}, completed {}, exited {}",
                    c.entered,
                    c.active,
                    c.completed,
                    c.exited.values().sum::<u64>()
                )),
                Span::styled(
                    if exited.is_empty() { String::new() } else { format!(" ({})", exited.join(", ")) },
                    th.dim(),
                ),
            ]),
        ];
        let [top, bottom] = Layout::vertical([Constraint::Length(HEADER_ROWS - 1), Constraint::Min(3)]).areas(area);
        f.render_widget(Paragraph::new(lines), top);
        let outcomes = list.outcomes_of(&j.name);
        let counting = outcomes.is_none() || list.detail_loading.is_some();
        let title = format!(
            " steps{} ",
            if counting { format!(" (counting{})", th.sym(Sym::Ellipsis)) } else { String::new() }
        );
        let b = th.block(Borders::TOP).title(Span::styled(title, th.header()));
        let inner = b.inner(bottom);
        f.render_widget(b, bottom);
        render_steps(f, inner, th, j, c, outcomes, self.offset);
    }
}

/// The detail's lines above its tree (with the tree's top border).
const HEADER_ROWS: u16 = 6;

/// What a step does, in a few words.
fn describe(j: &Journey, i: usize) -> String {
    match &j.steps[i].action {
        Step::Wait { dur, at } => {
            let mut s = dur.as_ref().map_or_else(|| "wait".to_string(), |d| format!("wait {}", d.text));
            if let Some(m) = at {
                s.push_str(&format!(" until {:02}:{:02}", m / 60, m % 60));
            }
            s
        }
        Step::WaitFor { kind, filter, timeout, .. } => match filter {
            None => format!("wait for {kind}, up to {}", timeout.text),
            Some(f) => format!("wait for {kind} where {f}, up to {}", timeout.text),
        },
        Step::If { expr, .. } => format!("if {expr}"),
        Step::IfEntry { filter, .. } => format!("if entry {filter}"),
        Step::Split { branches } => {
            let p: Vec<String> = branches.iter().map(|b| b.percent.to_string()).collect();
            format!("split {}", p.join("/"))
        }
        Step::Send { channel, priority, subject, promo, .. } => {
            let mut s = format!("send {channel}");
            if *priority != crate::campaign::Priority::Normal {
                s.push_str(&format!(" ({priority})"));
            }
            if let Some(p) = promo {
                s.push_str(&format!(" {}% {}", p.percent, p.prefix));
            }
            if !subject.is_empty() {
                s.push_str(&format!(": {subject}"));
            }
            s
        }
        Step::TagAdd(t) => format!("tag +{t}"),
        Step::TagRemove(t) => format!("tag -{t}"),
        Step::Score(n) => format!("score {n:+}"),
        Step::Set { attribute, value } => format!("set {attribute} = {value}"),
        Step::Exit => "exit".into(),
    }
}

/// The steps' tree from row `offset`: each step with its runs waiting
/// there, sent and suppressed (blank for none), each branch with the runs
/// that took it; `outcomes` is `None` until they are read.
pub fn render_steps(
    f: &mut Frame,
    area: Rect,
    th: &Theme,
    j: &Journey,
    c: &Counts,
    outcomes: Option<&BTreeMap<u32, BTreeMap<String, u64>>>,
    offset: usize,
) {
    let ell = th.sym(Sym::Ellipsis);
    let rows = journey_tree::layout(j);
    let page = area.height.saturating_sub(1) as usize;
    let offset = offset.min(rows.len().saturating_sub(page));
    // the counts' columns (8, 8, 10) and the spaces before them
    let text_w = area.width.saturating_sub(8 + 8 + 10 + 3) as usize;
    let guide = |g: &Guide| match g {
        Guide::Pipe => th.sym(Sym::Pipe),
        Guide::Space => "   ",
        Guide::Branch => th.sym(Sym::Branch),
        Guide::Last => th.sym(Sym::LastBranch),
    };
    let outcome = |i: usize, code: &str| outcomes.and_then(|o| o.get(&(i as u32))).and_then(|m| m.get(code)).copied();
    let num = |n: u64| if n == 0 { String::new() } else { format!("{n:>8}") };
    // the steps' descriptions start in one column (up to a third of the width)
    let name_col = rows
        .iter()
        .filter_map(|r| match r.kind {
            Kind::Step { index, .. } => Some(r.guides.len() * 3 + j.steps[index].name.chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        .min(text_w / 3)
        + 2;
    let lines: Vec<Row> = rows
        .iter()
        .skip(offset)
        .take(page)
        .map(|r| {
            let prefix: String = r.guides.iter().map(guide).collect();
            let used = prefix.chars().count();
            match &r.kind {
                Kind::Step { index, goto } => {
                    let i = *index;
                    let name = fit(&j.steps[i].name, text_w.saturating_sub(used), ell);
                    let pad = name_col.saturating_sub(used + name.chars().count()).max(1);
                    let jump = goto.map(|t| format!(" {} {}", th.sym(Sym::Goto), j.target_name(t))).unwrap_or_default();
                    let room = text_w.saturating_sub(used + name.chars().count() + pad + jump.chars().count());
                    let text = Line::from(vec![
                        Span::styled(prefix, th.dim()),
                        Span::styled(name, th.title()),
                        Span::raw(" ".repeat(pad)),
                        Span::raw(fit(&describe(j, i), room, ell)),
                        Span::styled(jump, th.accent()),
                    ]);
                    let waiting = c.at_step.get(&j.steps[i].name).copied().unwrap_or(0);
                    Row::new(vec![
                        Cell::from(text),
                        Cell::from(num(waiting)),
                        Cell::from(num(outcome(i, "sent").unwrap_or(0))),
                        Cell::from(num(outcome(i, "suppressed").unwrap_or(0))),
                    ])
                }
                Kind::Branch { from, label, outcome: code, to } => {
                    let took = outcome(*from, code).unwrap_or(0);
                    let to = match to {
                        To::Nested => String::new(),
                        To::Below => format!(" {}", th.sym(Sym::Below)),
                        To::Step(t) => format!(" {} {}", th.sym(Sym::Goto), j.steps[*t].name),
                        To::End => format!(" {} end", th.sym(Sym::Goto)),
                        To::Leaves => " leaves".into(),
                    };
                    let took = match took {
                        0 => String::new(),
                        1 => "  (1 run)".to_string(),
                        n => format!("  ({n} runs)"),
                    };
                    Row::new(vec![Cell::from(Line::from(vec![
                        Span::styled(prefix, th.dim()),
                        Span::raw(label.clone()),
                        Span::styled(to, th.accent()),
                        Span::styled(took, th.dim()),
                    ]))])
                }
            }
        })
        .collect();
    let header = Row::new(vec!["step", " waiting", "    sent", "suppressed"]).style(th.header());
    let widths = [Constraint::Min(10), Constraint::Length(8), Constraint::Length(8), Constraint::Length(10)];
    f.render_widget(Table::new(lines, widths).header(header).column_spacing(1), area);
}
