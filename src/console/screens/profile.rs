//! A contact's profile: the card (attributes, consent, tags, categories,
//! score, engagement, lifecycle, RFM) and the timeline newest first, paged
//! from the application layer as the cursor nears the end of what is loaded.

use super::{Cursor, Cx, Flow, Purpose, fit, short_ts};
use crate::app::contacts::{Entry, Profile};
use crate::console::action::Action;
use crate::console::theme::{Sym, Theme};
use crate::console::worker::{Job, Lane, Ticket};
use crate::model::Channel;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Paragraph};

/// Timeline entries fetched per request: a profile costs the same to read
/// at 500 entries as at 8,000 (its blocks are read whole), so one request
/// brings a whole realistic timeline and paging never waits; a longer one
/// comes in more pages as the cursor nears the end.
pub const PAGE: usize = 20_000;

pub struct ProfileView {
    pub id: u32,
    /// the event kind shown, None: everything
    pub kind: Option<String>,
    pub profile: Option<Profile>,
    pub loading: Option<Ticket>,
    pub cursor: Cursor,
    pub error: Option<String>,
}

impl ProfileView {
    pub fn new(id: u32, cx: &mut Cx) -> ProfileView {
        let mut v =
            ProfileView { id, kind: None, profile: None, loading: None, cursor: Cursor::default(), error: None };
        v.request(PAGE, cx);
        v
    }

    /// Fetches the first `limit` entries (more as the operator scrolls).
    fn request(&mut self, limit: usize, cx: &mut Cx) {
        if let Some(t) = self.loading.take() {
            t.cancel();
        }
        let job = Job::Profile { id: self.id, kind: self.kind.clone(), offset: 0, limit };
        self.loading = Some(cx.submit(Lane::Fast, job, Purpose::Profile));
    }

    pub fn loaded(&mut self, p: Profile, page: usize) {
        self.loading = None;
        self.error = None;
        self.cursor.show(p.timeline.len(), page);
        self.profile = Some(p);
    }

    fn len(&self) -> usize {
        self.profile.as_ref().map_or(0, |p| p.timeline.len())
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        if self.cursor.apply(a, self.len(), cx.page) {
            // near the end of what is loaded: ask for more
            if let Some(p) = &self.profile
                && self.cursor.sel + cx.page * 2 >= p.timeline.len()
                && p.timeline.len() < p.timeline_total
                && self.loading.is_none()
            {
                let want = p.timeline.len() + PAGE;
                self.request(want, cx);
            }
            return Flow::Handled;
        }
        match a {
            Action::KindFilter => {
                let kinds: Vec<String> = self
                    .profile
                    .as_ref()
                    .map(|p| p.schema.kinds.iter().map(|k| k.name.clone()).collect())
                    .unwrap_or_default();
                self.kind = match &self.kind {
                    None => kinds.first().cloned(),
                    Some(k) => kinds.iter().position(|x| x == k).and_then(|i| kinds.get(i + 1)).cloned(),
                };
                self.cursor = Cursor::default();
                self.request(PAGE, cx);
                Flow::Handled
            }
            Action::Refresh => {
                self.request(PAGE.max(self.len()), cx);
                Flow::Handled
            }
            _ => Flow::Ignored,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let Some(p) = &self.profile else {
            let msg = match &self.error {
                Some(e) => Span::styled(e.clone(), th.error()),
                None => Span::styled(format!("loading contact {}{}", self.id, th.sym(Sym::Ellipsis)), th.dim()),
            };
            f.render_widget(Paragraph::new(msg), area);
            return;
        };
        let card_h = if area.width >= 120 { 9 } else { 11 };
        let [card, timeline] = Layout::vertical([Constraint::Length(card_h), Constraint::Min(3)]).areas(area);
        self.render_card(f, card, th, p);
        self.render_timeline(f, timeline, th, p);
    }

    fn render_card(&self, f: &mut Frame, area: Rect, th: &Theme, p: &Profile) {
        let c = &p.contact;
        let label = |s: &str| Span::styled(format!("{s:<12}"), th.dim());
        let consent: Vec<String> = Channel::ALL
            .iter()
            .map(|ch| match c.consent[*ch as usize] {
                Some(x) => format!("{} {}", ch.name(), if x.opted_in { "in" } else { "out" }),
                None => format!("{} -", ch.name()),
            })
            .collect();
        let mut attrs = Vec::new();
        for (i, def) in p.schema.attributes.iter().enumerate() {
            if ["first_name", "last_name"].contains(&def.name.as_str()) {
                continue;
            }
            if let Some(v) = c.attr(i as u16) {
                attrs.push(format!("{}={}", def.name, def.format(v)));
            }
        }
        let w = area.width.saturating_sub(14) as usize;
        let ell = th.sym(Sym::Ellipsis);
        let name = p.name();
        let mut lines = vec![
            Line::from(vec![
                Span::styled(if name.is_empty() { c.label() } else { name }, th.title()),
                Span::styled(format!("  #{}  {}", c.id, c.email.as_deref().unwrap_or("")), th.dim()),
            ]),
            Line::from(vec![
                label("score"),
                Span::raw(format!("{}   ", c.score)),
                Span::styled("engagement ", th.dim()),
                Span::raw(format!("{}   ", p.engagement)),
                Span::styled("lifecycle ", th.dim()),
                Span::raw(format!("{}   ", p.lifecycle)),
                Span::styled("rfm ", th.dim()),
                Span::raw(p.rfm.clone().unwrap_or("-".into())),
            ]),
            Line::from(vec![label("consent"), Span::raw(consent.join(", "))]),
            Line::from(vec![
                label("tags"),
                Span::styled(fit(&if p.tags.is_empty() { "-".into() } else { p.tags.join(", ") }, w, ell), th.accent()),
            ]),
            Line::from(vec![
                label("categories"),
                Span::raw(fit(&if c.categories.is_empty() { "-".into() } else { c.categories.join(", ") }, w, ell)),
            ]),
            Line::from(vec![
                label("external id"),
                Span::raw(format!("{}   ", c.external_id.as_deref().unwrap_or("-"))),
                Span::styled("created ", th.dim()),
                Span::raw(short_ts(c.created_at)),
            ]),
        ];
        let mut suppressed = Vec::new();
        if let Some(t) = c.unsubscribed_at {
            suppressed.push(format!("unsubscribed {}", short_ts(t)));
        }
        if let Some(t) = c.bounced_at {
            suppressed.push(format!("hard bounce {}", short_ts(t)));
        }
        if !suppressed.is_empty() {
            lines.push(Line::from(vec![label("status"), Span::styled(suppressed.join(", "), th.error())]));
        }
        // attributes wrap over the remaining lines
        let mut cur = String::new();
        for a in attrs {
            if cur.chars().count() + a.chars().count() + 2 > w && !cur.is_empty() {
                lines.push(Line::from(vec![label(if lines.len() < 7 { "attributes" } else { "" }), Span::raw(cur)]));
                cur = String::new();
            }
            if !cur.is_empty() {
                cur.push_str("  ");
            }
            cur.push_str(&a);
        }
        if !cur.is_empty() {
            lines.push(Line::from(vec![label(""), Span::raw(cur)]));
        }
        f.render_widget(Paragraph::new(lines), area);
    }

    fn render_timeline(&self, f: &mut Frame, area: Rect, th: &Theme, p: &Profile) {
        let title = format!(
            " timeline: {} {} (newest first){} ",
            p.timeline_total,
            match &self.kind {
                Some(k) => format!("{k} events"),
                None => "entries".into(),
            },
            if self.loading.is_some() { format!(" loading{}", th.sym(Sym::Ellipsis)) } else { String::new() }
        );
        let block = th.block(Borders::TOP).title(Span::styled(title, th.header()));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let page = inner.height as usize;
        let w = inner.width as usize;
        let ell = th.sym(Sym::Ellipsis);
        let end = (self.cursor.offset + page).min(p.timeline.len());
        let lines: Vec<Line> = p.timeline[self.cursor.offset.min(end)..end]
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let (what, detail, style) = match &t.what {
                    Entry::Event { kind, source, params } => {
                        let mut d: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        if let Some(s) = source {
                            d.insert(0, format!("[{s}]"));
                        }
                        (kind.clone(), d.join(" "), th.ok())
                    }
                    Entry::Action { what, detail } => {
                        use crate::model::contact::ActionKind::*;
                        let style = match what {
                            Suppression { .. } => th.error(),
                            Deferral { .. } => th.dim(),
                            _ => th.accent(),
                        };
                        match what {
                            // the journey in the first column, what its run did beside it
                            Journey { journey, what } => (journey.clone(), what.clone(), style),
                            _ => (what.describe(), detail.clone(), style),
                        }
                    }
                };
                let text = format!("{}  {:<24} {}", short_ts(t.ts), fit(&what, 24, ell), detail);
                let line = Line::from(Span::styled(fit(&text, w, ell), style));
                if self.cursor.offset + k == self.cursor.sel { line.style(th.selected()) } else { line }
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }
}
