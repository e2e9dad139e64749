//! Drawing: a pure function of `&App`. The tab bar, the active screen or
//! the view opened above it, the status and key-hint line, and overlays
//! (help, command line, confirm, prompt, a pending key sequence).

use super::action::Action;
use super::app::{App, MIN_SIZE, Overlay, Sub, Tab};
use super::keymap::Context;
use super::screens::fit;
use super::theme::Sym;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Clear, Paragraph, Wrap};

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = vec![
            Line::from(Span::styled("terminal too small", app.theme.error())),
            Line::from(format!("{}x{}; reach needs {}x{}", area.width, area.height, MIN_SIZE.0, MIN_SIZE.1)),
        ];
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let [tabs, body, status] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    draw_tabs(f, tabs, app);
    let th = &app.theme;
    let i = Tab::ALL.iter().position(|t| *t == app.tab).unwrap_or(0);
    match app.subs[i].last() {
        Some(Sub::Profile(v)) => v.render(f, body, th),
        Some(Sub::Members(v)) => v.render(f, body, th),
        Some(Sub::Campaign(v)) => v.render(f, body, th, &app.campaigns),
        Some(Sub::Journey(v)) => v.render(f, body, th, &app.journeys),
        None => match app.tab {
            Tab::Contacts => app.contacts.render(f, body, th),
            Tab::Tags => app.tags.render(f, body, th),
            Tab::Segments => app.segments.render(f, body, th),
            Tab::Builder => app.builder.render(f, body, th),
            Tab::Campaigns => app.campaigns.render(f, body, th),
            Tab::Policy => app.policy.render(f, body, th),
            Tab::Activity => app.activity.render(f, body, th),
            Tab::Journeys => app.journeys.render(f, body, th),
            Tab::Audit => app.audit.render(f, body, th),
        },
    }
    draw_status(f, status, app);
    match &app.overlay {
        Some(Overlay::Help { filter, scroll }) => draw_help(f, body, app, &filter.text(), *scroll),
        Some(Overlay::Command { field, output, running, scroll, candidates }) => {
            let h = if output.is_some() { body.height.saturating_sub(2).max(5) } else { 3 };
            let r = Rect { x: body.x, y: body.y + body.height - h, width: body.width, height: h };
            f.render_widget(Clear, r);
            let progress = app.progress.lock().ok().and_then(|p| p.clone());
            let title = match (running, progress) {
                (true, Some(p)) => format!(" : running: {p} (Ctrl-x cancels) "),
                (true, None) => " : running… (Ctrl-x cancels) ".to_string(),
                _ => " : command (Enter runs, Tab completes, Esc closes) ".to_string(),
            };
            let b = th.block(Borders::ALL).title(Span::styled(title, th.header()));
            let inner = b.inner(r);
            f.render_widget(b, r);
            let [input, out] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
            let [colon, text] = Layout::horizontal([Constraint::Length(2), Constraint::Min(1)]).areas(input);
            f.render_widget(Paragraph::new(Span::styled(": ", th.key())), colon);
            f.render_widget(&field.area, text);
            if !candidates.is_empty() {
                f.render_widget(Paragraph::new(Span::styled(candidates.join("  "), th.dim())), out);
            } else if let Some((text, ok)) = output {
                let lines: Vec<Line> = text
                    .lines()
                    .skip(*scroll)
                    .map(|l| {
                        Line::from(Span::styled(
                            l.to_string(),
                            if *ok { ratatui::style::Style::new() } else { th.error() },
                        ))
                    })
                    .collect();
                f.render_widget(Paragraph::new(lines), out);
            }
        }
        Some(Overlay::Confirm { question, .. }) => {
            let w = (question.chars().count() as u16 + 16).min(body.width);
            let r = centered(body, w, 3);
            f.render_widget(Clear, r);
            let p = Paragraph::new(Line::from(vec![Span::raw(question.clone()), Span::styled("  (y/n)", th.key())]))
                .block(th.block(Borders::ALL).title(Span::styled(" confirm ", th.header())));
            f.render_widget(p, r);
        }
        Some(Overlay::Prompt { title, field, .. }) => {
            let r = centered(body, body.width.saturating_sub(8).min(100), 3);
            f.render_widget(Clear, r);
            let b = th.block(Borders::ALL).title(Span::styled(format!(" {title} "), th.header()));
            let inner = b.inner(r);
            f.render_widget(b, r);
            f.render_widget(&field.area, inner);
        }
        None => {}
    }
    if !app.pending_keys.is_empty() {
        // which-key: what the next key completes
        let mut lines: Vec<Line> = app
            .pending_keys
            .iter()
            .map(|(k, a)| Line::from(vec![Span::styled(format!("{k:<10}"), th.key()), Span::raw(a.description())]))
            .collect();
        lines.push(Line::from(Span::styled("Esc cancels", th.dim())));
        let h = (lines.len() as u16 + 2).min(body.height);
        let w = 56.min(body.width);
        let r = Rect { x: body.x + body.width - w, y: body.y + body.height - h, width: w, height: h };
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines).block(th.block(Borders::ALL).title(Span::styled(" next key ", th.header()))),
            r,
        );
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn draw_tabs(f: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    // below 100 columns the tabs alone fill the line
    let roomy = area.width >= 100;
    let mut spans = if roomy { vec![Span::styled("reach ", th.title())] } else { Vec::new() };
    let cut = tab_cut(area.width as usize - if roomy { 6 } else { 0 }, app.tab);
    for (i, t) in Tab::ALL.iter().enumerate() {
        let title: String = if *t == app.tab { t.title().to_string() } else { t.title().chars().take(cut).collect() };
        let text = format!(" {} {title} ", i + 1);
        spans.push(if *t == app.tab { Span::styled(text, th.tab_active()) } else { Span::raw(text) });
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let name = if roomy {
        fit(&app.db_name, (area.width as usize).saturating_sub(used + 1), th.sym(Sym::Ellipsis))
    } else {
        String::new()
    };
    let pad = (area.width as usize).saturating_sub(used + name.chars().count());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(name, th.dim()));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// How many letters of the other tabs' titles fit in `width` columns
/// beside the whole title of the `active` one (all of them when they fit).
fn tab_cut(width: usize, active: Tab) -> usize {
    let longest = Tab::ALL.iter().map(|t| t.title().chars().count()).max().unwrap_or(0);
    let used = |k: usize| -> usize {
        Tab::ALL
            .iter()
            .map(|t| 4 + if *t == active { t.title().chars().count() } else { t.title().chars().count().min(k) })
            .sum()
    };
    (1..=longest).rev().find(|&k| used(k) <= width).unwrap_or(1)
}

/// The status line: the last message, else hints for the focused place.
fn draw_status(f: &mut Frame, area: Rect, app: &App) {
    let th = &app.theme;
    if let Some((msg, err)) = &app.status {
        let style = if *err { th.error() } else { th.ok() };
        f.render_widget(
            Paragraph::new(Span::styled(fit(msg, area.width as usize, th.sym(Sym::Ellipsis)), style)),
            area,
        );
        return;
    }
    let ctx = app.contexts();
    let hints: &[(Action, &str)] = if ctx == [Context::Text] {
        &[(Action::Apply, "apply"), (Action::Complete, "complete"), (Action::Leave, "leave")]
    } else {
        match (app.tab, ctx.first()) {
            (_, Some(Context::Profile)) => {
                &[(Action::KindFilter, "kind"), (Action::Back, "back"), (Action::Help, "help")]
            }
            (Tab::Builder, _) => &[
                (Action::EditText, "edit text"),
                (Action::AddCondition, "add"),
                (Action::ToggleOp, "and/or"),
                (Action::Negate, "not"),
                (Action::Save, "save"),
                (Action::Help, "help"),
            ],
            (Tab::Campaigns, _) => &[
                (Action::Open, "detail"),
                (Action::New, "new"),
                (Action::Edit, "edit"),
                (Action::Schedule, "schedule"),
                (Action::Pause, "pause"),
                (Action::CancelCampaign, "cancel"),
                (Action::Help, "help"),
            ],
            (Tab::Journeys, _) => &[
                (Action::Open, "steps"),
                (Action::StartJourney, "start"),
                (Action::PauseJourney, "pause"),
                (Action::StopJourney, "stop"),
                (Action::Command, "command"),
                (Action::Help, "help"),
            ],
            (Tab::Segments, _) => {
                &[(Action::Open, "open"), (Action::New, "new"), (Action::Delete, "delete"), (Action::Help, "help")]
            }
            (Tab::Policy, _) => &[(Action::Edit, "edit"), (Action::Help, "help")],
            (Tab::Audit, _) => &[
                (Action::Down, "older"),
                (Action::Up, "newer"),
                (Action::Refresh, "refresh"),
                (Action::Command, "command"),
                (Action::Help, "help"),
                (Action::Back, "back/quit"),
            ],
            _ => &[
                (Action::Open, "open"),
                (Action::Filter, "filter"),
                (Action::Sort, "sort"),
                (Action::Command, "command"),
                (Action::Help, "help"),
                (Action::Back, "back/quit"),
            ],
        }
    };
    let mut spans = Vec::new();
    // what the operator's role cannot do is not offered
    for (a, label) in hints.iter().filter(|(a, _)| app.allowed(*a)) {
        if let Some(k) = app.keymap.key_for(&ctx, *a) {
            spans.push(Span::styled(k, th.key()));
            spans.push(Span::styled(format!(" {label}  "), th.dim()));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_help(f: &mut Frame, area: Rect, app: &App, filter: &str, scroll: usize) {
    let th = &app.theme;
    let r = centered(area, area.width.saturating_sub(4).min(90), area.height);
    f.render_widget(Clear, r);
    // the contexts under the overlay: what the screen itself uses
    let ctx = app.screen_contexts();
    let lf = filter.to_lowercase();
    let mut lines = vec![Line::from(vec![
        Span::styled("filter: ", th.dim()),
        Span::raw(filter.to_string()),
        Span::styled(format!("   keymap {}", app.keymap.name()), th.dim()),
    ])];
    let mut add = |title: &str, binds: Vec<(String, Action)>| {
        let b: Vec<_> = binds
            .into_iter()
            .filter(|(k, a)| {
                lf.is_empty()
                    || k.to_lowercase().contains(&lf)
                    || a.name().contains(&lf)
                    || a.description().to_lowercase().contains(&lf)
            })
            .collect();
        if b.is_empty() {
            return;
        }
        lines.push(Line::from(Span::styled(title.to_string(), th.header())));
        for (k, a) in b {
            // greyed, with the role it needs, when the operator's role cannot
            let (key, desc) = match app.operation(a).filter(|_| !app.allowed(a)) {
                None => (th.key(), Span::raw(format!("{:<46} ", a.description()))),
                Some(op) => {
                    let need = crate::app::roles::needs(op);
                    (th.dim(), Span::styled(format!("{:<46} ", format!("[{need}] {}", a.description())), th.dim()))
                }
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {k:<14}"), key),
                desc,
                Span::styled(a.name().to_string(), th.dim()),
            ]));
        }
    };
    add(&format!("{} screen", app.tab.title()), app.keymap.bindings(&ctx));
    add("in a text field", app.keymap.bindings(&[Context::Text]));
    let b =
        th.block(Borders::ALL).title(Span::styled(" help: type to filter, arrows scroll, Esc closes ", th.header()));
    let head = lines.remove(0);
    let lines: Vec<Line> = std::iter::once(head).chain(lines.into_iter().skip(scroll)).collect();
    f.render_widget(Paragraph::new(lines).block(b), r);
}
