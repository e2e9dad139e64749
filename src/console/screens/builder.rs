//! The segment builder: the expression as a tree and as text, kept in sync
//! both ways; the live exact count on every keystroke (a stale count is
//! cancelled, typing never waits); errors at their column with the last
//! good count kept and marked stale; a per-node breakdown; a preview of
//! the first members; completion from what the store holds; save by name.

use super::{Cx, Flow, Purpose, fit, pct};
use crate::console::action::Action;
use crate::console::app::PromptFor;
use crate::console::input::{TextField, complete};
use crate::console::theme::{Sym, Theme};
use crate::console::tree::{Node, Op};
use crate::console::worker::{Job, Lane, Ticket};
use crate::segment::engine::{ExplainNode, StoreCatalog};
use crate::segment::{Catalog, FieldType, check, parse};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Borders, Paragraph};

/// Contacts shown in the preview.
pub const PREVIEW: usize = 20;

pub struct BuilderView {
    /// the saved segment being edited, if any
    pub name: Option<String>,
    pub text: TextField,
    /// the text area has the keys (else the tree)
    pub editing: bool,
    pub tree: Node,
    /// selected node (index in the tree's display order)
    pub sel: usize,
    /// (count, total) of the last good expression
    pub count: Option<(u64, u64)>,
    /// the count shown belongs to an older text
    pub stale: bool,
    /// column and message of a parse or check error
    pub error: Option<(usize, String)>,
    pub breakdown: Option<ExplainNode>,
    pub preview: Vec<(u32, String)>,
    /// members by lifecycle stage (asked once the count is in)
    pub spread: Vec<(&'static str, u64)>,
    pub spreading: Option<Ticket>,
    pub counting: Option<Ticket>,
    /// completion words from the store
    pub words: Vec<String>,
    /// candidates of the last Tab, shown under the text
    pub candidates: Vec<String>,
    catalog: Option<StoreCatalog>,
}

impl Default for BuilderView {
    fn default() -> BuilderView {
        BuilderView {
            name: None,
            text: TextField::new(""),
            editing: true,
            tree: Node::empty(),
            sel: 0,
            count: None,
            stale: false,
            error: None,
            breakdown: None,
            preview: Vec::new(),
            spread: Vec::new(),
            spreading: None,
            counting: None,
            words: Vec::new(),
            candidates: Vec::new(),
            catalog: None,
        }
    }
}

/// Completion words: fields, `tag:`/`segment:`/`category:` names, event
/// kinds and `kind.param`, aggregate functions, enum values.
pub fn vocabulary(cat: &StoreCatalog) -> Vec<String> {
    let mut w: Vec<String> = cat.field_names();
    for f in cat.field_names() {
        if let Some(FieldType::Enum(vals) | FieldType::Set(vals)) = cat.field(&f) {
            w.extend(vals);
        }
    }
    w.extend(cat.tag_names().into_iter().map(|t| format!("tag:{t}")));
    w.extend(cat.segment_names().into_iter().map(|t| format!("segment:{t}")));
    w.extend(cat.category_names().into_iter().map(|t| format!("category:{t}")));
    for k in cat.kind_names() {
        for (p, t) in cat.kind_params(&k).unwrap_or_default() {
            w.push(format!("{k}.{p}"));
            w.push(p.clone());
            if let FieldType::Enum(vals) = t {
                w.extend(vals);
            }
        }
        w.push(k);
    }
    for f in ["count", "sum", "min", "max", "avg", "days_since_last", "days_since_first", "near", "between", "within"] {
        w.push(f.to_string());
    }
    w.extend(["and", "or", "not", "where", "last", "source", "paid"].map(String::from));
    w.sort();
    w.dedup();
    w
}

impl BuilderView {
    pub fn set_catalog(&mut self, cat: StoreCatalog) {
        self.words = vocabulary(&cat);
        self.catalog = Some(cat);
    }

    /// Starts over on `expr` (a saved segment, or empty for a new one).
    pub fn open(&mut self, name: Option<String>, expr: &str, cx: &mut Cx) {
        self.name = name;
        self.text.set(expr);
        self.editing = expr.is_empty();
        self.sel = 0;
        self.count = None;
        self.breakdown = None;
        self.preview.clear();
        self.text_changed(cx);
    }

    /// The text changed: parse and check it here (microseconds), then ask
    /// for the count, cancelling the one in flight.
    pub fn text_changed(&mut self, cx: &mut Cx) {
        self.candidates.clear();
        let src = self.text.text();
        if src.trim().is_empty() {
            self.error = None;
            self.tree = Node::empty();
            self.cancel_count();
            self.stale = self.count.is_some();
            return;
        }
        let e = match parse(&src) {
            Ok(e) => e,
            Err(e) => {
                self.error = Some((e.column, e.to_string()));
                self.stale = self.count.is_some();
                self.cancel_count();
                return;
            }
        };
        if let Some(cat) = &self.catalog
            && let Err(err) = check(&e, &src, cat)
        {
            self.error = Some((err.column, err.to_string()));
            self.stale = self.count.is_some();
            self.cancel_count();
            return;
        }
        self.error = None;
        self.tree = Node::from_expr(&e);
        self.sel = self.sel.min(self.tree.flatten().len().saturating_sub(1));
        self.cancel_count();
        self.stale = self.count.is_some();
        self.counting = Some(cx.submit(Lane::Fast, Job::Count { expr: e, preview: PREVIEW }, Purpose::BuilderCount));
    }

    /// Forgets the count in flight (its result will be dropped) without
    /// stopping it: what it computes is cached and makes the next count
    /// fast; the worker skips counts superseded before they start.
    fn cancel_count(&mut self) {
        self.counting = None;
        if let Some(t) = self.spreading.take() {
            t.cancel();
        }
    }

    /// The count is in: ask how its members spread (a second, cheaper job,
    /// so the count itself is never delayed by it).
    pub fn ask_spread(&mut self, cx: &mut Cx) {
        if let Ok(e) = parse(&self.text.text()) {
            self.spreading = Some(cx.submit(Lane::Fast, Job::Spread { expr: e }, Purpose::BuilderSpread));
        }
    }

    pub fn counted(&mut self, count: u64, total: u64, tree: ExplainNode, preview: Vec<(u32, String)>) {
        self.counting = None;
        self.count = Some((count, total));
        self.stale = false;
        self.breakdown = Some(tree);
        self.preview = preview;
    }

    pub fn count_failed(&mut self, at: Option<usize>, msg: String) {
        self.counting = None;
        self.error = Some((at.unwrap_or(0), msg));
    }

    /// The tree changed: write it back as text and recount.
    fn tree_changed(&mut self, cx: &mut Cx) {
        let t = self.tree.to_text();
        self.text.set(&t);
        let keep = self.sel;
        self.text_changed(cx);
        self.sel = keep.min(self.tree.flatten().len().saturating_sub(1));
    }

    fn path(&self) -> Vec<usize> {
        self.tree.flatten().get(self.sel).map(|x| x.1.clone()).unwrap_or_default()
    }

    fn select(&mut self, path: &[usize]) {
        self.sel = self.tree.flatten().iter().position(|x| x.1 == path).unwrap_or(0);
    }

    /// Tab in the text: complete the word at the cursor.
    pub fn complete(&mut self) {
        let (_, word) = self.text.word();
        let (hits, common) = complete(&word, &self.words);
        if hits.len() == 1 {
            self.text.replace_word(&hits[0]);
            self.candidates.clear();
        } else {
            if common.len() > word.len() {
                self.text.replace_word(&common);
            }
            self.candidates = hits;
        }
    }

    /// A condition typed in a prompt: added or replacing the selected one.
    pub fn prompt_done(&mut self, purpose: &PromptFor, text: &str, cx: &mut Cx) {
        if text.trim().is_empty() {
            return;
        }
        let node = Node::Cond { text: text.trim().to_string(), negated: false };
        match purpose {
            PromptFor::AddCondition => {
                let p = self.tree.add(&self.path(), node);
                self.tree_changed(cx);
                self.select(&p);
            }
            PromptFor::EditCondition => {
                let p = self.path();
                if let Some(n @ Node::Cond { .. }) = self.tree.get_mut(&p) {
                    *n = node;
                }
                self.tree_changed(cx);
            }
            PromptFor::SaveName => {}
        }
    }

    pub fn on_action(&mut self, a: Action, cx: &mut Cx) -> Flow {
        if self.editing {
            match a {
                Action::Apply | Action::Leave => self.editing = false,
                Action::Complete => {
                    self.complete();
                    self.text_changed(cx);
                }
                Action::Save => return self.save(),
                _ => return Flow::Ignored,
            }
            return Flow::Handled;
        }
        let n = self.tree.flatten().len();
        match a {
            Action::Up => self.sel = self.sel.saturating_sub(1),
            Action::Down => self.sel = (self.sel + 1).min(n.saturating_sub(1)),
            Action::Top => self.sel = 0,
            Action::Bottom => self.sel = n.saturating_sub(1),
            Action::EditText | Action::Filter => self.editing = true,
            Action::AddCondition => {
                return Flow::Prompt {
                    title: "condition (e.g. tag:vip, score > 100, count(purchase, last 30d) >= 2)".into(),
                    initial: String::new(),
                    purpose: PromptFor::AddCondition,
                };
            }
            Action::EditNode | Action::Open => match self.tree.get(&self.path()) {
                Some(Node::Cond { text, .. }) => {
                    return Flow::Prompt {
                        title: "condition".into(),
                        initial: text.clone(),
                        purpose: PromptFor::EditCondition,
                    };
                }
                _ => self.editing = true,
            },
            Action::AddGroup => {
                let op = match self.tree.get(&self.path()) {
                    Some(Node::Group { op: Op::And, .. }) => Op::Or,
                    _ => Op::And,
                };
                let p = self.tree.add(&self.path(), Node::Group { op, negated: false, children: vec![] });
                self.select(&p);
                cx.info("group added: a adds a condition to it");
            }
            Action::ToggleOp => {
                self.tree.toggle_op(&self.path());
                self.tree_changed(cx);
            }
            Action::Negate => {
                self.tree.negate(&self.path());
                self.tree_changed(cx);
            }
            Action::DeleteNode | Action::Delete => {
                let p = self.tree.remove(&self.path());
                self.tree_changed(cx);
                self.select(&p);
            }
            Action::MoveUp | Action::MoveDown => {
                let by = if a == Action::MoveUp { -1 } else { 1 };
                let p = self.tree.shift(&self.path(), by);
                self.tree_changed(cx);
                self.select(&p);
            }
            Action::Save => return self.save(),
            Action::New => self.open(None, "", cx),
            _ => return Flow::Ignored,
        }
        Flow::Handled
    }

    fn save(&mut self) -> Flow {
        Flow::Prompt {
            title: "save segment as".into(),
            initial: self.name.clone().unwrap_or_default(),
            purpose: PromptFor::SaveName,
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let ell = th.sym(Sym::Ellipsis);
        let [head, text, msg, body] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(3), Constraint::Length(1), Constraint::Min(3)])
                .areas(area);
        // the count line
        let mut spans = vec![Span::styled(
            match &self.name {
                Some(n) => format!("Builder: {n} "),
                None => "Builder: new segment ".into(),
            },
            th.title(),
        )];
        match self.count {
            Some((c, t)) => {
                spans.push(Span::styled(format!("{c} of {t} contacts ({:.1}%)", pct(c, t)), th.ok()));
                if self.stale {
                    spans.push(Span::styled(" (stale)", th.dim()));
                }
            }
            None if self.counting.is_some() => {}
            None => spans.push(Span::styled("type an expression", th.dim())),
        }
        if self.counting.is_some() {
            spans.push(Span::styled(format!("  counting{}", ell), th.dim()));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), head);
        let block = th
            .block(Borders::ALL)
            .title(Span::styled(if self.editing { " expression (editing) " } else { " expression " }, th.header()));
        let inner = block.inner(text);
        f.render_widget(block, text);
        if self.editing {
            f.render_widget(&self.text.area, inner);
        } else {
            f.render_widget(Paragraph::new(fit(&self.text.text(), inner.width as usize, ell)), inner);
        }
        let line = match (&self.error, self.candidates.is_empty()) {
            (Some((col, m)), _) => {
                let caret = format!("{}^ ", " ".repeat(col.saturating_sub(1) + 1));
                Line::from(Span::styled(fit(&format!("{caret}{m}"), msg.width as usize, ell), th.error()))
            }
            (None, false) => {
                Line::from(Span::styled(fit(&self.candidates.join("  "), msg.width as usize, ell), th.dim()))
            }
            _ => Line::from(""),
        };
        f.render_widget(Paragraph::new(line), msg);
        let wide = body.width >= 100;
        let (tree_area, side) = if wide {
            let [a, b] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
            (a, Some(b))
        } else {
            (body, None)
        };
        self.render_tree(f, tree_area, th);
        if let Some(side) = side {
            let spread_h = if self.spread.is_empty() { 0 } else { self.spread.len() as u16 + 1 };
            let [members, spread] = Layout::vertical([Constraint::Min(3), Constraint::Length(spread_h)]).areas(side);
            let lines: Vec<Line> = self
                .preview
                .iter()
                .map(|(id, label)| {
                    Line::from(vec![Span::styled(format!("#{id:<8}"), th.dim()), Span::raw(label.clone())])
                })
                .collect();
            let b = th.block(Borders::LEFT | Borders::TOP).title(Span::styled(" first members ", th.header()));
            f.render_widget(Paragraph::new(lines).block(b), members);
            if !self.spread.is_empty() {
                // where a picture reads better than numbers: members by lifecycle stage
                let max = self.spread.iter().map(|s| s.1).max().unwrap_or(0).max(1);
                let bar_w = (spread.width as usize).saturating_sub(26);
                let lines: Vec<Line> = self
                    .spread
                    .iter()
                    .map(|(name, n)| {
                        Line::from(vec![
                            Span::raw(format!("{name:<12}{n:>9} ")),
                            Span::styled(th.sym(Sym::Bar).repeat((*n as usize * bar_w) / max as usize), th.accent()),
                        ])
                    })
                    .collect();
                let b =
                    th.block(Borders::LEFT | Borders::TOP).title(Span::styled(" members by lifecycle ", th.header()));
                f.render_widget(Paragraph::new(lines).block(b), spread);
            }
        }
    }

    /// The tree lines before a node: a pipe for each ancestor that has
    /// siblings below it, then a branch (the last child's is a corner).
    fn indent(&self, path: &[usize], th: &Theme) -> String {
        let is_last = |p: &[usize]| -> bool {
            let Some((&i, parent)) = p.split_last() else { return true };
            match self.tree.get(parent) {
                Some(Node::Group { children, .. }) => i + 1 == children.len(),
                _ => true,
            }
        };
        let mut s = String::new();
        for k in 1..path.len() {
            s.push_str(if is_last(&path[..k]) { "   " } else { th.sym(Sym::Pipe) });
        }
        if !path.is_empty() {
            s.push_str(if is_last(path) { th.sym(Sym::LastBranch) } else { th.sym(Sym::Branch) });
        }
        s
    }

    fn render_tree(&self, f: &mut Frame, area: Rect, th: &Theme) {
        let total = self.count.map_or(0, |c| c.1);
        let b = th.block(Borders::TOP).title(Span::styled(
            if self.editing {
                " tree (Esc to edit the tree) "
            } else {
                " tree: a add, A group, o and/or, ! not, d delete, K/J move "
            },
            th.header(),
        ));
        let inner = b.inner(area);
        f.render_widget(b, area);
        // per-node counts from the breakdown, walked in the same order
        let mut counts = Vec::new();
        fn walk(n: &ExplainNode, out: &mut Vec<u64>) {
            out.push(n.count);
            for c in &n.children {
                walk(c, out);
            }
        }
        let flat = self.tree.flatten();
        if let Some(b) = &self.breakdown {
            walk(b, &mut counts);
        }
        let same_shape = counts.len() == flat.len();
        let ell = th.sym(Sym::Ellipsis);
        let page = inner.height as usize;
        let offset = self.sel.saturating_sub(page.saturating_sub(1));
        let lines: Vec<Line> = flat
            .iter()
            .enumerate()
            .skip(offset)
            .take(page)
            .map(|(i, (depth, _, node))| {
                let label = match node {
                    Node::Group { op, negated, children } => format!(
                        "{}{} ({} item{})",
                        if *negated { "NOT " } else { "" },
                        if *op == Op::And { "ALL of (AND)" } else { "ANY of (OR)" },
                        children.len(),
                        if children.len() == 1 { "" } else { "s" }
                    ),
                    Node::Cond { text, negated } => format!("{}{text}", if *negated { "not " } else { "" }),
                };
                let indent = self.indent(&flat[i].1, th);
                let _ = depth;
                let count = if same_shape && !self.stale {
                    format!("{:>9} {:>5.1}%  ", counts[i], pct(counts[i], total))
                } else {
                    format!("{:>9} {:>6}  ", "", "")
                };
                let w = (inner.width as usize).saturating_sub(count.len() + indent.chars().count());
                let line =
                    Line::from(vec![Span::styled(count, th.dim()), Span::raw(indent), Span::raw(fit(&label, w, ell))]);
                if i == self.sel && !self.editing { line.style(th.selected()) } else { line }
            })
            .collect();
        f.render_widget(Paragraph::new(lines), inner);
    }
}
