//! The console's state and its update: keys become actions through the
//! keymap, actions change state and submit jobs, finished jobs fill the
//! views. Nothing here touches the terminal; `ui` draws from `&App`.

use super::action::Action;
use super::input::{TextField, complete};
use super::keymap::{Context, Keymap, Lookup};
use super::screens::activity::ActivityView;
use super::screens::audit::AuditView;
use super::screens::builder::BuilderView;
use super::screens::campaigns::{CampaignsView, DetailView};
use super::screens::contacts::ContactsView;
use super::screens::journeys::{JourneyView, JourneysView};
use super::screens::policy::PolicyView;
use super::screens::profile::ProfileView;
use super::screens::segments::SegmentsView;
use super::screens::tags::TagsView;
use super::screens::{Cx, Flow, Purpose, Runner};
use super::theme::Theme;
use super::worker::{Finished, Job, Lane, Output};
use crate::app::AppError;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;

/// What kind of data changed in the store (a summary of its `Change`s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    /// contacts or their events (counts, rows, facts)
    pub contacts: bool,
    pub tags: bool,
    pub segments: bool,
    pub campaigns: bool,
    /// journeys, their runs and their steps' outcomes
    pub journeys: bool,
    /// the schema or categories (completion)
    pub catalog: bool,
    /// an entry appended to the audit log
    pub audit: bool,
}

impl Changed {
    pub fn add(&mut self, c: &crate::store::Change) {
        use crate::store::Change::*;
        match c {
            Contacts(_) | ContactsDeleted(_) | EventBlocks(_) | EventBlocksRewritten(_) => self.contacts = true,
            Tags(_) => self.tags = true,
            Segments => self.segments = true,
            Campaigns => self.campaigns = true,
            Journeys => self.journeys = true,
            Audit => self.audit = true,
            Schema | Categories => {
                self.catalog = true;
                self.contacts = true;
            }
        }
    }

    pub fn any(&self) -> bool {
        *self != Changed::default()
    }
}

/// The top-level screens, in the order of their number keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Contacts,
    Tags,
    Segments,
    Builder,
    Campaigns,
    Policy,
    Activity,
    Journeys,
    Audit,
}

impl Tab {
    pub const ALL: [Tab; 9] = [
        Tab::Contacts,
        Tab::Tags,
        Tab::Segments,
        Tab::Builder,
        Tab::Campaigns,
        Tab::Policy,
        Tab::Activity,
        Tab::Journeys,
        Tab::Audit,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Contacts => "Contacts",
            Tab::Tags => "Tags",
            Tab::Segments => "Segments",
            Tab::Builder => "Builder",
            Tab::Campaigns => "Campaigns",
            Tab::Policy => "Policy",
            Tab::Activity => "Activity",
            Tab::Journeys => "Journeys",
            Tab::Audit => "Audit",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// A view opened above a screen.
pub enum Sub {
    Profile(Box<ProfileView>),
    Members(Box<ContactsView>),
    Campaign(Box<DetailView>),
    Journey(Box<JourneyView>),
}

impl Sub {
    pub fn profile(id: u32, cx: &mut Cx) -> Sub {
        Sub::Profile(Box::new(ProfileView::new(id, cx)))
    }
}

/// What an edited file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditKind {
    Campaign { replace: bool },
    Policy,
}

/// What a prompt's text is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptFor {
    AddCondition,
    EditCondition,
    SaveName,
}

/// A layer over the screens that takes the keys first.
pub enum Overlay {
    Help { filter: TextField, scroll: usize },
    Command { field: TextField, output: Option<(String, bool)>, running: bool, scroll: usize, candidates: Vec<String> },
    Confirm { question: String, lane: Lane, job: Box<Job>, purpose: Purpose },
    Prompt { title: String, field: TextField, purpose: PromptFor },
}

/// Something the loop must do outside the state (terminal, editor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Quit,
    Suspend,
    Redraw,
    Edit(EditKind, String),
}

pub struct App {
    pub theme: Theme,
    pub keymap: Keymap,
    pub size: (u16, u16),
    pub tab: Tab,
    pub subs: [Vec<Sub>; 9],
    pub contacts: ContactsView,
    pub tags: TagsView,
    pub segments: SegmentsView,
    pub builder: BuilderView,
    pub campaigns: CampaignsView,
    pub policy: PolicyView,
    pub activity: ActivityView,
    pub journeys: JourneysView,
    pub audit: AuditView,
    pub overlay: Option<Overlay>,
    /// the status line: (message, is an error)
    pub status: Option<(String, bool)>,
    pub pending: HashMap<u64, Purpose>,
    pub effects: Vec<Effect>,
    pub db_name: String,
    pub now: i64,
    /// the last edit refused by validation, reopened with its error
    pub last_edit: Option<(EditKind, String)>,
    /// the progress line of the running `:` command (written by its lane)
    pub progress: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// the running `:` command, to cancel
    pub command: Option<super::worker::Ticket>,
    /// a key sequence in progress: what the next key can complete (which-key)
    pub pending_keys: Vec<(String, Action)>,
    /// the operator's role: what they cannot do is refused here and not offered
    pub role: crate::app::roles::Role,
}

/// The smallest terminal the console lays out in.
pub const MIN_SIZE: (u16, u16) = (80, 24);

impl App {
    pub fn new(theme: Theme, keymap: Keymap, size: (u16, u16), db_name: String, now: i64) -> App {
        App {
            theme,
            keymap,
            size,
            tab: Tab::Contacts,
            subs: Default::default(),
            contacts: ContactsView::new("Contacts", None, None, false),
            tags: TagsView::default(),
            segments: SegmentsView::default(),
            builder: BuilderView::default(),
            campaigns: CampaignsView::default(),
            policy: PolicyView::default(),
            activity: ActivityView::default(),
            journeys: JourneysView::default(),
            audit: AuditView::default(),
            overlay: None,
            status: None,
            pending: HashMap::new(),
            effects: Vec::new(),
            db_name,
            now,
            last_edit: None,
            progress: Default::default(),
            command: None,
            pending_keys: Vec::new(),
            role: crate::app::roles::Role::Admin,
        }
    }

    /// The operation an action would carry out on the screen shown, when
    /// it changes something: what the role decides on (`app::roles`).
    pub fn operation(&self, a: Action) -> Option<&'static str> {
        let on_screen = self.subs[self.tab.index()].is_empty();
        Some(match (a, self.tab) {
            (Action::Schedule, _) => "campaign.schedule",
            (Action::Pause, _) => "campaign.pause",
            (Action::CancelCampaign, _) => "campaign.cancel",
            (Action::Save, _) => "segment.save",
            (Action::New, Tab::Campaigns) => "campaign.create",
            (Action::Edit, Tab::Campaigns) => "campaign.edit",
            (Action::Edit, Tab::Policy) => "policy.set",
            (Action::Delete, Tab::Segments) if on_screen => "segment.delete",
            _ => return None,
        })
    }

    /// Whether the operator's role allows an action here.
    pub fn allowed(&self, a: Action) -> bool {
        self.operation(a).is_none_or(|op| self.role.allows(op))
    }

    /// Rows a list shows at the current size (chrome: tabs, title, filter,
    /// table header, status line).
    pub fn page(&self) -> usize {
        self.size.1.saturating_sub(6).max(1) as usize
    }

    fn cx<'a>(
        runner: &'a mut dyn Runner,
        pending: &'a mut HashMap<u64, Purpose>,
        status: &'a mut Option<(String, bool)>,
        page: usize,
        now: i64,
    ) -> Cx<'a> {
        Cx { runner, pending, status, page, now }
    }

    /// First requests: the contacts list, the catalog for completion, and
    /// the lists of the other screens.
    pub fn start(&mut self, runner: &mut dyn Runner) {
        let page = self.page();
        let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
        // the whole table's last-activity and lifecycle columns follow on
        // the slow lane once the list has come (the first rows come with
        // their own): asked now, they would hold the engine while the list
        // waits for it
        self.contacts.reload(&mut cx);
        cx.submit(Lane::Fast, Job::Catalog, Purpose::Catalog);
        self.tags.reload(&mut cx);
        // saved segments are counted once the table is complete (or when
        // their screen is opened first): both need the engine
        self.campaigns.reload(&mut cx);
        self.policy.reload(&mut cx);
    }

    fn ensure_segments(&mut self, runner: &mut dyn Runner) {
        if self.segments.list.is_none() && !self.segments.loading {
            let page = self.page();
            let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
            self.segments.reload(&mut cx);
        }
    }

    /// A screen shown for the first time loads what it has not yet.
    fn ensure_loaded(&mut self, runner: &mut dyn Runner) {
        if self.tab == Tab::Segments {
            self.ensure_segments(runner);
        }
        if self.tab == Tab::Journeys && !self.journeys.shown() {
            let page = self.page();
            let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
            self.journeys.reload(&mut cx);
        }
        if self.tab == Tab::Audit && !self.audit.shown() {
            let page = self.page();
            let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
            self.audit.reload(&mut cx);
        }
    }

    /// Whether a text field has the keys now.
    pub fn text_focus(&self) -> bool {
        match &self.overlay {
            Some(Overlay::Confirm { .. }) => false,
            Some(_) => true,
            None => match self.subs[self.tab.index()].last() {
                Some(Sub::Members(v)) => v.editing,
                Some(_) => false,
                None => match self.tab {
                    Tab::Contacts => self.contacts.editing,
                    Tab::Builder => self.builder.editing,
                    _ => false,
                },
            },
        }
    }

    /// The keymap contexts for the current focus, innermost first.
    pub fn contexts(&self) -> Vec<Context> {
        if self.text_focus() {
            return vec![Context::Text];
        }
        self.screen_contexts()
    }

    /// The contexts of the screen (or the view above it) without a text
    /// field: what the help screen lists.
    pub fn screen_contexts(&self) -> Vec<Context> {
        match self.subs[self.tab.index()].last() {
            Some(Sub::Profile(_)) => vec![Context::Profile, Context::List, Context::Global],
            Some(Sub::Journey(_)) => vec![Context::Journeys, Context::List, Context::Global],
            Some(_) => vec![Context::List, Context::Global],
            None if self.tab == Tab::Builder => vec![Context::Builder, Context::Global],
            None if self.tab == Tab::Journeys => vec![Context::Journeys, Context::List, Context::Global],
            None => vec![Context::List, Context::Global],
        }
    }

    /// One key from the terminal.
    pub fn on_key(&mut self, key: KeyEvent, runner: &mut dyn Runner) {
        if let Some(Overlay::Confirm { .. }) = &self.overlay {
            self.on_confirm_key(key, runner);
            return;
        }
        let contexts = self.contexts();
        let found = self.keymap.feed(&contexts, key);
        // a slow link can deliver Esc and the next key together, which the
        // terminal reads as Alt-key: when nothing binds that, it is both keys
        // (a text field keeps the Alt keys it edits with: word moves and deletes)
        let text_alt = |c: char| "bfdhnpv<>".contains(c);
        let split = match key.code {
            KeyCode::Char(c) => !(self.text_focus() && text_alt(c)),
            _ => false,
        };
        if found == Lookup::Unbound && split && key.modifiers.contains(KeyModifiers::ALT) && !self.keymap.pending() {
            let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
            let mut plain = key;
            plain.modifiers.remove(KeyModifiers::ALT);
            self.on_key(esc, runner);
            self.on_key(plain, runner);
            return;
        }
        self.pending_keys.clear();
        match found {
            Lookup::Action(a) => self.update(a, runner),
            Lookup::Pending(hints) => self.pending_keys = hints,
            Lookup::Unbound => {
                if self.text_focus() {
                    self.on_text_key(key, runner);
                }
            }
        }
    }

    fn on_confirm_key(&mut self, key: KeyEvent, runner: &mut dyn Runner) {
        let yes = matches!(key.code, KeyCode::Char('y' | 'Y') | KeyCode::Enter);
        let no = matches!(key.code, KeyCode::Char('n' | 'N') | KeyCode::Esc | KeyCode::Char('q'))
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL));
        if !(yes || no) {
            return;
        }
        if let Some(Overlay::Confirm { lane, job, purpose, .. }) = self.overlay.take()
            && yes
        {
            let t = runner.submit(lane, *job);
            self.pending.insert(t.id, purpose);
            self.status = Some(("working…".into(), false));
        }
    }

    /// A key no binding took while a text field has focus: it edits the text.
    fn on_text_key(&mut self, key: KeyEvent, runner: &mut dyn Runner) {
        let page = self.page();
        match &mut self.overlay {
            Some(Overlay::Help { filter, scroll }) => {
                match key.code {
                    KeyCode::Up => *scroll = scroll.saturating_sub(1),
                    KeyCode::Down => *scroll += 1,
                    KeyCode::PageUp => *scroll = scroll.saturating_sub(page),
                    KeyCode::PageDown => *scroll += page,
                    _ => {
                        filter.input(key);
                        *scroll = 0;
                    }
                }
                return;
            }
            Some(Overlay::Command { field, candidates, .. }) => {
                field.input(key);
                candidates.clear();
                return;
            }
            Some(Overlay::Prompt { field, .. }) => {
                field.input(key);
                return;
            }
            _ => {}
        }
        let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
        match self.subs[self.tab.index()].last_mut() {
            Some(Sub::Members(v)) => v.on_text(key, &mut cx),
            Some(_) => {}
            None => match self.tab {
                Tab::Contacts => self.contacts.on_text(key, &mut cx),
                Tab::Builder if self.builder.text.input(key) => self.builder.text_changed(&mut cx),
                _ => {}
            },
        }
    }

    /// Carries out an action.
    pub fn update(&mut self, a: Action, runner: &mut dyn Runner) {
        if a == Action::Noop {
            return;
        }
        if a == Action::Quit {
            self.effects.push(Effect::Quit);
            return;
        }
        if self.overlay.is_some() {
            self.overlay_action(a, runner);
            return;
        }
        if let Some(op) = self.operation(a).filter(|op| !self.role.allows(op)) {
            let need = crate::app::roles::needs(op);
            self.status = Some((format!("{op} needs the {need} role; you are {}", self.role), true));
            return;
        }
        let page = self.page();
        let i = self.tab.index();
        let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
        let flow = match self.subs[i].last_mut() {
            Some(Sub::Profile(v)) => v.on_action(a, &mut cx),
            Some(Sub::Members(v)) => v.on_action(a, &mut cx),
            Some(Sub::Campaign(v)) => v.on_action(a, &mut cx, &self.campaigns),
            Some(Sub::Journey(v)) => v.on_action(a, &mut cx, &mut self.journeys),
            None => match self.tab {
                Tab::Contacts => self.contacts.on_action(a, &mut cx),
                Tab::Tags => self.tags.on_action(a, &mut cx),
                Tab::Segments => self.segments.on_action(a, &mut cx),
                Tab::Builder => self.builder.on_action(a, &mut cx),
                Tab::Campaigns => self.campaigns.on_action(a, &mut cx),
                Tab::Policy => self.policy.on_action(a, &mut cx),
                Tab::Activity => self.activity.on_action(a, &mut cx),
                Tab::Journeys => self.journeys.on_action(a, &mut cx),
                Tab::Audit => self.audit.on_action(a, &mut cx),
            },
        };
        match flow {
            Flow::Handled => {}
            Flow::Ignored => self.global(a, runner),
            Flow::Open(sub) => self.subs[i].push(*sub),
            Flow::Confirm { question, lane, job, purpose } => {
                self.overlay = Some(Overlay::Confirm { question, lane, job: Box::new(job), purpose })
            }
            Flow::Edit(kind, text) => self.effects.push(Effect::Edit(kind, text)),
            Flow::Prompt { title, initial, purpose } => {
                self.overlay = Some(Overlay::Prompt { title, field: TextField::new(&initial), purpose })
            }
            Flow::Build { name, expr } => {
                self.tab = Tab::Builder;
                self.subs[Tab::Builder.index()].clear();
                let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
                self.builder.open(name, &expr, &mut cx);
            }
        }
    }

    /// Actions no screen took: navigation, help, the command line, quitting.
    fn global(&mut self, a: Action, runner: &mut dyn Runner) {
        let i = self.tab.index();
        let goto = |t: Tab| Some(t);
        let target = match a {
            Action::NextScreen => goto(Tab::ALL[(i + 1) % Tab::ALL.len()]),
            Action::PrevScreen => goto(Tab::ALL[(i + Tab::ALL.len() - 1) % Tab::ALL.len()]),
            Action::Contacts => goto(Tab::Contacts),
            Action::Tags => goto(Tab::Tags),
            Action::Segments => goto(Tab::Segments),
            Action::Builder => goto(Tab::Builder),
            Action::Campaigns => goto(Tab::Campaigns),
            Action::Policy => goto(Tab::Policy),
            Action::Activity => goto(Tab::Activity),
            Action::Journeys => goto(Tab::Journeys),
            Action::Audit => goto(Tab::Audit),
            _ => None,
        };
        if let Some(t) = target {
            self.tab = t;
            self.ensure_loaded(runner);
            return;
        }
        match a {
            Action::Back | Action::Leave if self.subs[i].pop().is_none() && a == Action::Back => {
                self.effects.push(Effect::Quit);
            }
            Action::Help => self.overlay = Some(Overlay::Help { filter: TextField::new(""), scroll: 0 }),
            Action::Command => {
                self.overlay = Some(Overlay::Command {
                    field: TextField::new(""),
                    output: None,
                    running: false,
                    scroll: 0,
                    candidates: Vec::new(),
                })
            }
            Action::Suspend => self.effects.push(Effect::Suspend),
            Action::Redraw => self.effects.push(Effect::Redraw),
            Action::Cancel => match self.command.take() {
                Some(t) => {
                    t.cancel();
                    self.pending.remove(&t.id);
                    self.status = Some(("command cancelled".into(), false));
                }
                None => self.status = Some(("nothing to cancel".into(), false)),
            },
            _ => {}
        }
    }

    fn overlay_action(&mut self, a: Action, runner: &mut dyn Runner) {
        let page = self.page();
        match self.overlay.as_mut() {
            Some(Overlay::Help { .. }) => {
                if matches!(a, Action::Leave | Action::Apply | Action::Back | Action::Help) {
                    self.overlay = None;
                }
            }
            Some(Overlay::Command { field, output, running, scroll, candidates }) => match a {
                Action::Cancel if *running => {
                    if let Some(t) = self.command.take() {
                        t.cancel();
                        self.pending.remove(&t.id);
                    }
                    *running = false;
                    *output = Some(("cancelled: nothing was changed".into(), false));
                }
                Action::Leave | Action::Back => self.overlay = None,
                Action::Complete => {
                    let (_, word) = field.word();
                    let words = command_words(&field.text());
                    let (hits, common) = complete(&word, &words);
                    if hits.len() == 1 {
                        field.replace_word(&format!("{} ", hits[0]));
                        candidates.clear();
                    } else {
                        if common.len() > word.len() {
                            field.replace_word(&common);
                        }
                        *candidates = hits;
                    }
                }
                Action::Up | Action::PageUp => *scroll = scroll.saturating_sub(if a == Action::Up { 1 } else { page }),
                Action::Down | Action::PageDown => *scroll += if a == Action::Down { 1 } else { page },
                Action::Apply => {
                    let line = field.text();
                    let line = line.trim().trim_start_matches(':').trim().to_string();
                    let line = line.strip_prefix("reach ").unwrap_or(&line).to_string();
                    if line.is_empty() {
                        return;
                    }
                    // an action by its dotted name (`:segment.save`) runs as its key would
                    if let Some(action) = Action::from_name(&line) {
                        self.overlay = None;
                        self.update(action, runner);
                        return;
                    }
                    match shlex::split(&line) {
                        Some(args) => {
                            *running = true;
                            *output = None;
                            *scroll = 0;
                            let t = runner.submit(Lane::Slow, Job::Command { args });
                            self.pending.insert(t.id, Purpose::Command);
                            self.command = Some(t);
                        }
                        None => *output = Some(("error: unbalanced quotes".into(), false)),
                    }
                }
                _ => {}
            },
            Some(Overlay::Prompt { field, purpose, .. }) => match a {
                Action::Leave | Action::Back => self.overlay = None,
                Action::Complete => {
                    let (_, word) = field.word();
                    let (hits, common) = complete(&word, &self.builder.words);
                    if hits.len() == 1 {
                        field.replace_word(&hits[0]);
                    } else if common.len() > word.len() {
                        field.replace_word(&common);
                    }
                }
                Action::Apply | Action::Save => {
                    let (text, purpose) = (field.text(), *purpose);
                    self.overlay = None;
                    let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
                    if purpose == PromptFor::SaveName {
                        let name = text.trim().to_string();
                        if name.is_empty() {
                            return;
                        }
                        self.builder.name = Some(name.clone());
                        cx.submit(
                            Lane::Slow,
                            Job::SaveSegment { name, src: self.builder.text.text() },
                            Purpose::Change,
                        );
                    } else {
                        self.builder.prompt_done(&purpose, &text, &mut cx);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// A job finished: route its result to the view that asked.
    pub fn finish(&mut self, done: Finished, runner: &mut dyn Runner) {
        let Some(purpose) = self.pending.remove(&done.ticket) else { return };
        let page = self.page();
        match (purpose, done.result) {
            (Purpose::ContactList, Ok(Output::Contacts(_)))
                if self.contacts.loading.as_ref().is_none_or(|t| t.id != done.ticket) => {}
            (Purpose::ContactList, Ok(Output::Contacts(l))) => {
                let partial = !l.facts.complete;
                self.contacts.loaded(l, page);
                if partial && !self.pending.values().any(|p| *p == Purpose::Facts) {
                    let t = runner.submit(Lane::Slow, Job::Facts);
                    self.pending.insert(t.id, Purpose::Facts);
                }
            }
            (Purpose::Facts, Ok(Output::Facts(f))) => {
                self.ensure_segments(runner);
                let views =
                    std::iter::once(&mut self.contacts).chain(self.subs.iter_mut().flatten().filter_map(|s| match s {
                        Sub::Members(v) => Some(&mut **v),
                        _ => None,
                    }));
                for v in views {
                    if let Some(l) = &mut v.list {
                        l.facts = f.clone();
                        v.rows.clear();
                    }
                }
            }
            (Purpose::ContactList, Err(e)) => self.contacts.failed(err_at(&e), e.to_string()),
            (Purpose::MemberList, r) => {
                for sub in self.subs.iter_mut().flatten() {
                    if let Sub::Members(v) = sub
                        && v.loading.as_ref().is_some_and(|t| t.id == done.ticket)
                    {
                        match r {
                            Ok(Output::Contacts(l)) => v.loaded(l, page),
                            Err(e) => v.failed(err_at(&e), e.to_string()),
                            _ => {}
                        }
                        break;
                    }
                }
            }
            (Purpose::Profile, r) => {
                for sub in self.subs.iter_mut().flatten() {
                    if let Sub::Profile(v) = sub
                        && v.loading.as_ref().is_some_and(|t| t.id == done.ticket)
                    {
                        match r {
                            Ok(Output::Profile(p)) => v.loaded(*p, page),
                            Err(e) => {
                                v.loading = None;
                                v.error = Some(e.to_string());
                            }
                            _ => {}
                        }
                        break;
                    }
                }
            }
            (Purpose::Tags, Ok(Output::Tags(t, total))) => self.tags.loaded(t, total, page),
            (Purpose::Segments, Ok(Output::Segments(l, total))) => self.segments.loaded(l, total, page),
            (Purpose::BuilderCount, Ok(Output::Count { count, total, tree, preview })) => {
                if self.builder.counting.as_ref().is_some_and(|t| t.id == done.ticket) {
                    self.builder.counted(count, total, tree, preview);
                    let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
                    self.builder.ask_spread(&mut cx);
                }
            }
            (Purpose::BuilderSpread, Ok(Output::Spread(s))) => {
                if self.builder.spreading.as_ref().is_some_and(|t| t.id == done.ticket) {
                    self.builder.spreading = None;
                    self.builder.spread = s;
                }
            }
            (Purpose::BuilderCount, Err(e)) => {
                if self.builder.counting.as_ref().is_some_and(|t| t.id == done.ticket) {
                    self.builder.count_failed(err_at(&e), e.to_string());
                }
            }
            (Purpose::Catalog, Ok(Output::Catalog(c))) => {
                self.builder.set_catalog(*c);
                // the text typed before the catalog arrived is checked now
                let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
                if !self.builder.text.text().is_empty() {
                    self.builder.text_changed(&mut cx);
                }
            }
            (Purpose::Campaigns, Ok(Output::Campaigns(l))) => self.campaigns.loaded(l, page),
            (Purpose::Forecast, Ok(Output::Forecast(name, f))) => {
                for sub in self.subs.iter_mut().flatten() {
                    if let Sub::Campaign(v) = sub
                        && v.name == name
                    {
                        v.forecast = Some(f.clone());
                    }
                }
            }
            (Purpose::Policy, Ok(Output::PolicyText(t))) => self.policy.loaded(t),
            (Purpose::Journeys, r) => {
                let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
                match r {
                    Ok(Output::Journeys(l)) => self.journeys.loaded(l, &mut cx),
                    Err(e) => self.journeys.failed(&mut cx, e.to_string()),
                    Ok(_) => {}
                }
            }
            (Purpose::JourneyDetail, r) => {
                let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
                let d = match r {
                    Ok(Output::JourneyDetail(d)) => Ok(*d),
                    Err(e) => Err(e.to_string()),
                    Ok(_) => return,
                };
                self.journeys.detail_done(done.ticket, d, &mut cx);
            }
            (Purpose::Audit, r) => {
                let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
                match r {
                    Ok(Output::Audit(list, total)) => self.audit.loaded(list, total, &mut cx),
                    Err(e) => self.audit.failed(e.to_string(), &mut cx),
                    Ok(_) => {}
                }
            }
            (Purpose::Change, Ok(Output::Done(msg))) => {
                self.status = Some((msg, false));
                self.last_edit = None;
                self.refresh_lists(runner);
            }
            (Purpose::Command, r) => {
                self.command = None;
                let (text, ok) = match r {
                    Ok(Output::CommandOutput { text, ok }) => (text, ok),
                    Err(e) => (format!("error: {e}"), false),
                    Ok(_) => (String::new(), true),
                };
                if let Some(Overlay::Command { output, running, .. }) = &mut self.overlay {
                    *running = false;
                    *output = Some((text, ok));
                }
                self.refresh_lists(runner);
            }
            (Purpose::Change, Err(e)) => {
                // a refused edit reopens in the editor with its error
                if let Some((kind, text)) = self.last_edit.take() {
                    self.effects.push(Effect::Edit(kind, with_error(&text, &e.to_string())));
                }
                self.status = Some((e.to_string(), true));
            }
            (_, Err(AppError::Cancelled)) => {}
            (_, Err(e)) => self.status = Some((e.to_string(), true)),
            (_, Ok(_)) => {}
        }
    }

    /// The scheduler's activity changed: shown on the Activity screen; when
    /// it decided or delivered something, the campaigns' counts ask again.
    pub fn scheduler_update(&mut self, a: crate::app::scheduler::Activity, runner: &mut dyn Runner) {
        let moved = self.activity.activity.as_ref().is_none_or(|old| old.totals != a.totals);
        self.activity.activity = Some(a);
        if moved {
            let page = self.page();
            let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
            self.campaigns.reload(&mut cx);
        }
    }

    /// The database changed under the console (a command through its
    /// socket, a script's import, the scheduler): the lists showing what
    /// changed ask again, and the builder recounts.
    pub fn data_changed(&mut self, c: Changed, runner: &mut dyn Runner) {
        let page = self.page();
        let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
        let members = c.contacts || c.tags;
        if members {
            self.contacts.reload(&mut cx);
            self.tags.reload(&mut cx);
        }
        if (members || c.segments) && self.segments.list.is_some() {
            self.segments.reload(&mut cx);
        }
        if c.campaigns {
            self.campaigns.reload(&mut cx);
        }
        if c.journeys && self.journeys.shown() {
            self.journeys.reload(&mut cx);
        }
        if c.audit && self.audit.shown() {
            self.audit.reload(&mut cx);
        }
        if c.catalog || c.tags {
            cx.submit(Lane::Fast, Job::Catalog, Purpose::Catalog);
        }
        if (members || c.segments) && !self.builder.text.text().trim().is_empty() {
            self.builder.text_changed(&mut cx);
        }
    }

    /// After a write: the lists that may show it ask again.
    pub fn refresh_lists(&mut self, runner: &mut dyn Runner) {
        let page = self.page();
        let mut cx = Self::cx(runner, &mut self.pending, &mut self.status, page, self.now);
        self.segments.reload(&mut cx);
        self.campaigns.reload(&mut cx);
        self.policy.reload(&mut cx);
        self.tags.reload(&mut cx);
        self.contacts.reload(&mut cx);
        if self.journeys.shown() {
            self.journeys.reload(&mut cx);
        }
        if self.audit.shown() {
            self.audit.reload(&mut cx);
        }
        cx.submit(Lane::Fast, Job::Catalog, Purpose::Catalog);
    }

    /// The editor returned `text` for `kind`: validate and store it.
    pub fn edited(&mut self, kind: EditKind, text: String, runner: &mut dyn Runner) {
        let body = strip_error(&text);
        if body.trim().is_empty() || body.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            self.status = Some(("nothing saved (empty file)".into(), false));
            return;
        }
        self.last_edit = Some((kind, body.clone()));
        let job = match kind {
            EditKind::Campaign { replace } => Job::PutCampaign { text: body, replace },
            EditKind::Policy => Job::SetPolicy { text: body },
        };
        let t = runner.submit(Lane::Slow, job);
        self.pending.insert(t.id, Purpose::Change);
    }

    /// The terminal changed size.
    pub fn resized(&mut self, w: u16, h: u16) {
        self.size = (w, h);
        let page = self.page();
        let n = self.contacts.len();
        self.contacts.cursor.show(n, page);
    }

    /// Ids of contacts rows that must be read before drawing.
    pub fn rows_needed(&self) -> Vec<u32> {
        let page = self.page();
        match self.subs[self.tab.index()].last() {
            Some(Sub::Members(v)) => v.missing_rows(page),
            None if self.tab == Tab::Contacts => self.contacts.missing_rows(page),
            _ => Vec::new(),
        }
    }

    /// Reads the rows the visible window of a contacts table needs (a few
    /// point reads, done before each draw).
    pub fn load_rows(&mut self, session: &crate::app::Session) {
        let ids = self.rows_needed();
        if ids.is_empty() {
            return;
        }
        if let Some(v) = self.rows_target()
            && let Some(list) = &v.list
            && let Ok(rows) = session.contact_rows(&ids, &list.facts)
        {
            if v.rows.len() > 2000 {
                v.rows.clear();
            }
            for r in rows {
                v.rows.insert(r.id, r);
            }
        }
    }

    /// The view whose rows `rows_needed` named.
    pub fn rows_target(&mut self) -> Option<&mut ContactsView> {
        let i = self.tab.index();
        match self.subs[i].last_mut() {
            Some(Sub::Members(v)) => Some(v),
            None if self.tab == Tab::Contacts => Some(&mut self.contacts),
            _ => None,
        }
    }
}

fn err_at(e: &AppError) -> Option<usize> {
    match e {
        AppError::Invalid { at, .. } => *at,
        _ => None,
    }
}

const ERROR_MARK: &str = "# reach: ";

/// The edited text with the validation error on top, as comments; the
/// error's line number is moved to match the reopened file.
pub fn with_error(text: &str, err: &str) -> String {
    let shift = 2;
    let err = match err.split_once(':') {
        Some((file, rest)) => match rest.split_once(':') {
            Some((line, reason)) if line.chars().all(|c| c.is_ascii_digit()) && !line.is_empty() => {
                format!("{file}:{}:{reason}", line.parse::<usize>().unwrap_or(0) + shift)
            }
            _ => err.to_string(),
        },
        None => err.to_string(),
    };
    format!("{ERROR_MARK}refused: fix it and save, or save an empty file to give up\n{ERROR_MARK}{err}\n{text}")
}

/// The text without the error comments `with_error` added.
pub fn strip_error(text: &str) -> String {
    let mut out: String = text.lines().filter(|l| !l.starts_with(ERROR_MARK)).collect::<Vec<_>>().join("\n");
    out.push('\n');
    out
}

/// Words the command line completes: the CLI's subcommands at the cursor's
/// depth and their flags.
pub fn command_words(line: &str) -> Vec<String> {
    use clap::CommandFactory;
    let root = crate::cli::Cli::command();
    let words: Vec<&str> = line.split_whitespace().collect();
    let typing_new = line.ends_with(' ') || line.is_empty();
    let done = if typing_new { words.len() } else { words.len().saturating_sub(1) };
    let mut cmd = &root;
    for w in &words[..done] {
        match cmd.get_subcommands().find(|c| c.get_name() == *w) {
            Some(c) => cmd = c,
            None => break,
        }
    }
    let mut out: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_string()).collect();
    out.extend(cmd.get_arguments().filter_map(|a| a.get_long()).map(|l| format!("--{l}")));
    out.retain(|w| w != "help" && w != "demo" && w != "compact" && w != "scheduler" && w != "console");
    if done == 0 {
        out.extend(Action::ALL.iter().filter(|a| **a != Action::Noop).map(|a| a.name().to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::screens::Recorder;

    fn app(keymap: &str) -> (App, Recorder) {
        let mut a = App::new(Theme::plain(), Keymap::load(keymap).unwrap(), (80, 24), "t".into(), 0);
        let mut r = Recorder::default();
        a.start(&mut r);
        (a, r)
    }

    fn key(a: &mut App, r: &mut Recorder, code: KeyCode) {
        a.on_key(KeyEvent::new(code, KeyModifiers::NONE), r);
    }

    fn typed(a: &mut App, r: &mut Recorder, s: &str) {
        for c in s.chars() {
            key(a, r, KeyCode::Char(c));
        }
    }

    #[test]
    fn start_asks_for_every_list() {
        let (_, r) = app("default");
        let names: Vec<&str> = r
            .jobs
            .iter()
            .map(|(_, j)| match j {
                Job::Contacts { .. } => "contacts",
                Job::Facts => "facts",
                Job::Catalog => "catalog",
                Job::Tags => "tags",
                Job::Segments => "segments",
                Job::Campaigns => "campaigns",
                Job::PolicyText => "policy",
                _ => "other",
            })
            .collect();
        // the table's facts come once the list has (they would hold the engine it waits for)
        assert_eq!(names, ["contacts", "catalog", "tags", "campaigns", "policy"]);
        // saved segments are counted when their screen is first shown (or the table is complete)
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char('3'));
        assert!(matches!(r.jobs.last().unwrap().1, Job::Segments));
    }

    #[test]
    fn screens_by_number_tab_and_back() {
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char('4'));
        assert_eq!(a.tab, Tab::Builder);
        // the builder opens with its text focused: a digit is text there
        key(&mut a, &mut r, KeyCode::Char('3'));
        assert_eq!(a.tab, Tab::Builder);
        assert_eq!(a.builder.text.text(), "3");
        key(&mut a, &mut r, KeyCode::Esc);
        key(&mut a, &mut r, KeyCode::Tab);
        assert_eq!(a.tab, Tab::Campaigns);
        key(&mut a, &mut r, KeyCode::BackTab);
        key(&mut a, &mut r, KeyCode::BackTab);
        assert_eq!(a.tab, Tab::Segments);
        key(&mut a, &mut r, KeyCode::Char('q'));
        assert_eq!(a.effects, vec![Effect::Quit]);
    }

    #[test]
    fn filter_typing_goes_to_the_field_and_reloads() {
        let (mut a, mut r) = app("default");
        let before = r.jobs.len();
        key(&mut a, &mut r, KeyCode::Char('/'));
        assert!(a.text_focus());
        typed(&mut a, &mut r, "rossi q");
        assert_eq!(a.contacts.filter.text(), "rossi q");
        assert!(a.effects.is_empty(), "q typed in a field must not quit");
        // every keystroke of a text filter asks again (the previous is cancelled)
        // "rossi " asks nothing new: the same filter as "rossi"
        assert_eq!(r.jobs.len() - before, 6);
        match &r.jobs.last().unwrap().1 {
            Job::Contacts { filter, .. } => {
                assert_eq!(*filter, crate::app::contacts::ContactFilter::Text("rossi q".into()))
            }
            _ => panic!("expected a contacts job"),
        }
        key(&mut a, &mut r, KeyCode::Esc);
        assert!(!a.text_focus());
    }

    #[test]
    fn a_bad_expression_is_shown_at_its_column_without_a_job() {
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char('/'));
        typed(&mut a, &mut r, "score > ");
        let n = r.jobs.len();
        typed(&mut a, &mut r, ")");
        assert_eq!(r.jobs.len(), n);
        let (col, msg) = a.contacts.filter_error.clone().unwrap();
        assert_eq!(col, 9, "{msg}");
    }

    #[test]
    fn builder_counts_every_keystroke_and_cancels_the_stale_one() {
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char('4'));
        typed(&mut a, &mut r, "tag:a");
        let first = a.builder.counting.clone().unwrap();
        typed(&mut a, &mut r, "b");
        // the stale count is dropped (its ticket replaced), not stopped: its
        // work is cached for the next one
        assert_ne!(a.builder.counting.as_ref().unwrap().id, first.id);
        let counts = r.jobs.iter().filter(|(_, j)| matches!(j, Job::Count { .. })).count();
        // "t", "ta", "tag" and "tag:" do not parse; "tag:a" and "tag:ab" do
        assert_eq!(counts, 2);
    }

    #[test]
    fn tree_edits_rewrite_the_text() {
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char('4'));
        typed(&mut a, &mut r, "tag:a and tag:b");
        key(&mut a, &mut r, KeyCode::Esc);
        key(&mut a, &mut r, KeyCode::Char('o'));
        assert_eq!(a.builder.text.text(), "tag:a or tag:b");
        key(&mut a, &mut r, KeyCode::Down);
        key(&mut a, &mut r, KeyCode::Char('!'));
        assert_eq!(a.builder.text.text(), "not tag:a or tag:b");
        key(&mut a, &mut r, KeyCode::Char('a'));
        assert!(matches!(a.overlay, Some(Overlay::Prompt { .. })));
        typed(&mut a, &mut r, "score > 5");
        key(&mut a, &mut r, KeyCode::Enter);
        assert_eq!(a.builder.text.text(), "not tag:a or score > 5 or tag:b");
        key(&mut a, &mut r, KeyCode::Char('d'));
        assert_eq!(a.builder.text.text(), "not tag:a or tag:b");
    }

    #[test]
    fn esc_and_a_key_read_as_alt_key_are_both_keys() {
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char('4'));
        typed(&mut a, &mut r, "tag:a");
        // Esc then `a` arriving together: leave the text, then add a condition
        a.on_key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::ALT), &mut r);
        assert!(!a.builder.editing);
        assert!(matches!(a.overlay, Some(Overlay::Prompt { .. })));
    }

    #[test]
    fn confirm_submits_only_on_yes() {
        let (mut a, mut r) = app("default");
        a.overlay = Some(Overlay::Confirm {
            question: "Delete?".into(),
            lane: Lane::Slow,
            job: Box::new(Job::DeleteSegment { name: "x".into() }),
            purpose: Purpose::Change,
        });
        let n = r.jobs.len();
        key(&mut a, &mut r, KeyCode::Char('z'));
        assert!(a.overlay.is_some());
        key(&mut a, &mut r, KeyCode::Char('n'));
        assert!(a.overlay.is_none());
        assert_eq!(r.jobs.len(), n);
        a.overlay = Some(Overlay::Confirm {
            question: "Delete?".into(),
            lane: Lane::Slow,
            job: Box::new(Job::DeleteSegment { name: "x".into() }),
            purpose: Purpose::Change,
        });
        key(&mut a, &mut r, KeyCode::Char('y'));
        assert!(matches!(r.jobs.last().unwrap().1, Job::DeleteSegment { .. }));
    }

    #[test]
    fn vim_and_emacs_keys() {
        let (mut a, mut r) = app("vim");
        key(&mut a, &mut r, KeyCode::Char('2'));
        a.tags.loaded(vec![("a".into(), 1), ("b".into(), 2), ("c".into(), 3)], 3, 10);
        key(&mut a, &mut r, KeyCode::Char('j'));
        key(&mut a, &mut r, KeyCode::Char('j'));
        assert_eq!(a.tags.cursor.sel, 2);
        key(&mut a, &mut r, KeyCode::Char('g'));
        key(&mut a, &mut r, KeyCode::Char('g'));
        assert_eq!(a.tags.cursor.sel, 0);
        let (mut a, mut r) = app("emacs");
        a.on_key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::CONTROL), &mut r);
        a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL), &mut r);
        assert_eq!(a.effects, vec![Effect::Quit]);
    }

    #[test]
    fn command_line_runs_actions_by_name() {
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char(':'));
        typed(&mut a, &mut r, "screen.pol");
        key(&mut a, &mut r, KeyCode::Tab);
        key(&mut a, &mut r, KeyCode::Enter);
        assert_eq!(a.tab, Tab::Policy);
        assert!(a.overlay.is_none());
    }

    #[test]
    fn command_line_runs_cli_words() {
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char(':'));
        typed(&mut a, &mut r, "segment cou");
        key(&mut a, &mut r, KeyCode::Tab);
        typed(&mut a, &mut r, "'tag:vip'");
        key(&mut a, &mut r, KeyCode::Enter);
        match &r.jobs.last().unwrap().1 {
            Job::Command { args } => assert_eq!(args, &["segment", "count", "tag:vip"]),
            _ => panic!("expected a command"),
        }
    }

    /// The demo's abandoned-cart journey, as listed (a draft, no runs).
    fn cart() -> crate::app::journeys::JourneySummary {
        let text = include_str!("../../demo_data/journeys/abandoned_cart.toml");
        let cat = crate::segment::StaticCatalog::builtin();
        let (journey, _) = crate::journey::parse_journey(text, &crate::journey::Checker { catalog: &cat }, 0).unwrap();
        crate::app::journeys::JourneySummary { journey, counts: Default::default() }
    }

    /// Finishes the pending job for `purpose` with `out`.
    fn finish_with(a: &mut App, r: &mut Recorder, purpose: Purpose, out: Output) {
        let ticket = *a.pending.iter().find(|(_, p)| **p == purpose).expect("a pending job").0;
        a.finish(Finished { ticket, result: Ok(out) }, r);
    }

    fn journeys_jobs(r: &Recorder) -> usize {
        r.jobs.iter().filter(|(_, j)| matches!(j, Job::Journeys)).count()
    }

    #[test]
    fn journeys_load_when_shown_and_follow_changes_one_read_at_a_time() {
        let (mut a, mut r) = app("default");
        // not read before the screen is shown, and changes do not read it
        a.data_changed(Changed { journeys: true, ..Changed::default() }, &mut r);
        assert_eq!(journeys_jobs(&r), 0);
        key(&mut a, &mut r, KeyCode::Char('8'));
        assert_eq!(a.tab, Tab::Journeys);
        assert_eq!(journeys_jobs(&r), 1);
        // the scheduler writes while the list is read: one more read, after it
        a.data_changed(Changed { journeys: true, ..Changed::default() }, &mut r);
        a.data_changed(Changed { journeys: true, ..Changed::default() }, &mut r);
        assert_eq!(journeys_jobs(&r), 1);
        finish_with(&mut a, &mut r, Purpose::Journeys, Output::Journeys(vec![cart()]));
        assert_eq!(journeys_jobs(&r), 2);
        assert!(matches!(&r.jobs.last().unwrap().1, Job::JourneyDetail { name } if name == "abandoned_cart"));
        finish_with(&mut a, &mut r, Purpose::Journeys, Output::Journeys(vec![cart()]));
        assert_eq!(journeys_jobs(&r), 2);
        assert_eq!(a.journeys.list.as_ref().map(|l| l.len()), Some(1));
        // Tab goes round the nine screens
        key(&mut a, &mut r, KeyCode::Tab);
        assert_eq!(a.tab, Tab::Audit);
        key(&mut a, &mut r, KeyCode::Tab);
        assert_eq!(a.tab, Tab::Contacts);
        key(&mut a, &mut r, KeyCode::BackTab);
        key(&mut a, &mut r, KeyCode::BackTab);
        assert_eq!(a.tab, Tab::Journeys);
    }

    fn audit_jobs(r: &Recorder) -> usize {
        r.jobs.iter().filter(|(_, j)| matches!(j, Job::Audit { .. })).count()
    }

    fn entry(what: &str) -> crate::store::audit::AuditEntry {
        crate::store::audit::AuditEntry { ts: 0, who: "anna".into(), via: "ssh".into(), what: what.into() }
    }

    #[test]
    fn the_audit_screen_loads_when_shown_and_follows_new_entries() {
        let (mut a, mut r) = app("default");
        // not read before it is shown; other changes do not read it
        a.data_changed(Changed { audit: true, ..Changed::default() }, &mut r);
        assert_eq!(audit_jobs(&r), 0);
        key(&mut a, &mut r, KeyCode::Char('9'));
        assert_eq!(a.tab, Tab::Audit);
        assert_eq!(audit_jobs(&r), 1);
        // entries appended while it is read: one more read, after it
        a.data_changed(Changed { audit: true, ..Changed::default() }, &mut r);
        a.data_changed(Changed { audit: true, ..Changed::default() }, &mut r);
        assert_eq!(audit_jobs(&r), 1);
        finish_with(&mut a, &mut r, Purpose::Audit, Output::Audit(vec![entry("b"), entry("a")], 2));
        assert_eq!(audit_jobs(&r), 2);
        // the operator looks at the older entry; a newer one arrives above it
        key(&mut a, &mut r, KeyCode::Down);
        finish_with(&mut a, &mut r, Purpose::Audit, Output::Audit(vec![entry("c"), entry("b"), entry("a")], 3));
        assert_eq!(audit_jobs(&r), 2);
        let list = a.audit.list.as_ref().unwrap();
        assert_eq!(list[a.audit.cursor.sel].what, "a", "the selection stays on its entry");
        // a change that appends nothing to the log does not read it
        a.data_changed(Changed { contacts: true, ..Changed::default() }, &mut r);
        assert_eq!(audit_jobs(&r), 2);
        a.data_changed(Changed { audit: true, ..Changed::default() }, &mut r);
        assert_eq!(audit_jobs(&r), 3);
        // a viewer may look at it: nothing here is refused
        a.role = crate::app::roles::Role::Viewer;
        key(&mut a, &mut r, KeyCode::Up);
        assert!(a.status.is_none(), "{:?}", a.status);
    }

    #[test]
    fn journeys_start_pause_and_stop_are_confirmed_and_go_through_the_slow_lane() {
        use crate::app::journeys::JourneyChange;
        let (mut a, mut r) = app("default");
        key(&mut a, &mut r, KeyCode::Char('8'));
        finish_with(&mut a, &mut r, Purpose::Journeys, Output::Journeys(vec![cart()]));
        for (k, change, question) in [
            ('t', JourneyChange::Start, "Start journey abandoned_cart?"),
            ('p', JourneyChange::Pause, "Pause journey abandoned_cart?"),
            ('x', JourneyChange::Stop, "Stop journey abandoned_cart for good?"),
        ] {
            let n = r.jobs.len();
            key(&mut a, &mut r, KeyCode::Char(k));
            match &a.overlay {
                Some(Overlay::Confirm { question: q, .. }) => assert_eq!(q, question),
                _ => panic!("{k}: no confirmation"),
            }
            assert_eq!(r.jobs.len(), n, "nothing before the answer");
            key(&mut a, &mut r, KeyCode::Char('y'));
            match r.jobs.last().unwrap() {
                (Lane::Slow, Job::ChangeJourney { name, change: c }) => {
                    assert_eq!((name.as_str(), *c), ("abandoned_cart", change))
                }
                _ => panic!("{k}: expected a journey change on the slow lane"),
            }
        }
        // a refusal is shown on the status line
        let ticket = *a.pending.iter().find(|(_, p)| **p == Purpose::Change).unwrap().0;
        let refused = AppError::Conflict("journey abandoned_cart is stopped; cannot make it paused".into());
        a.finish(Finished { ticket, result: Err(refused) }, &mut r);
        let (msg, error) = a.status.clone().unwrap();
        assert!(error && msg.contains("cannot make it paused"), "{msg}");
        // the same keys work on the journey's steps (Enter), and help lists them
        key(&mut a, &mut r, KeyCode::Enter);
        assert!(matches!(a.subs[Tab::Journeys.index()].last(), Some(Sub::Journey(_))));
        key(&mut a, &mut r, KeyCode::Char('p'));
        assert!(matches!(a.overlay, Some(Overlay::Confirm { .. })));
        key(&mut a, &mut r, KeyCode::Char('n'));
        let help: Vec<Action> = a.keymap.bindings(&a.screen_contexts()).into_iter().map(|(_, x)| x).collect();
        assert!(help.contains(&Action::StartJourney) && help.contains(&Action::StopJourney), "{help:?}");
        key(&mut a, &mut r, KeyCode::Char('q'));
        assert!(a.subs[Tab::Journeys.index()].is_empty());
    }

    #[test]
    fn moving_in_the_journeys_list_reads_the_selected_journeys_steps() {
        let (mut a, mut r) = app("vim");
        key(&mut a, &mut r, KeyCode::Char('8'));
        let mut other = cart();
        other.journey.name = "zz_other".into();
        finish_with(&mut a, &mut r, Purpose::Journeys, Output::Journeys(vec![cart(), other]));
        let first = a.journeys.detail_loading.as_ref().unwrap().0.clone();
        key(&mut a, &mut r, KeyCode::Char('j'));
        assert!(first.cancel.load(std::sync::atomic::Ordering::Relaxed), "the first journey's read is dropped");
        assert!(matches!(&r.jobs.last().unwrap().1, Job::JourneyDetail { name } if name == "zz_other"));
        assert!(!a.pending.contains_key(&first.id));
    }

    #[test]
    fn refused_edits_carry_their_error_at_the_shifted_line() {
        let t = with_error("name = 1\n", "campaign.toml:1: invalid type");
        assert!(t.contains("campaign.toml:3: invalid type"), "{t}");
        assert_eq!(strip_error(&t), "name = 1\n");
    }

    #[test]
    fn command_words_follow_the_cli() {
        let w = command_words("segment ");
        assert!(w.contains(&"count".to_string()), "{w:?}");
        let w = command_words("");
        assert!(w.contains(&"tags".to_string()) && !w.contains(&"demo".to_string()), "{w:?}");
    }
}
