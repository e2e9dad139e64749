//! The console's keymaps: which key chord (or space-separated sequence of
//! chords, `g g`) runs which [`Action`] in which [`Context`]. Owns the TOML
//! format of `keymaps/*.toml` (the shipped `default`, `vim` and `emacs` are
//! embedded), the layering of a file on the keymap it `extends`, the refusal
//! of a bad file with `FILE:LINE: reason`, the normalisation of crossterm key
//! events (shifted letters, BackTab, releases) and the state of a sequence in
//! progress.
//!
//! Lookups walk the contexts the console passes, innermost first, and the
//! first context that binds the key (or starts a sequence with it) decides.
//! A focused text field passes `[Text]` alone, so that `q`, `1` or `?` are
//! typed rather than run: an [`Lookup::Unbound`] key goes to the text area.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use toml::de::{DeTable, DeValue};

use crate::console::action::Action;

const SHIPPED: &[(&str, &str, &str)] = &[
    ("default", "keymaps/default.toml", include_str!("../../keymaps/default.toml")),
    ("vim", "keymaps/vim.toml", include_str!("../../keymaps/vim.toml")),
    ("emacs", "keymaps/emacs.toml", include_str!("../../keymaps/emacs.toml")),
];

/// Where a key is looked up; the console passes the stack innermost first,
/// e.g. `[Builder, Global]` or `[List, Global]`, and `[Text]` alone for a
/// focused text field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    Global,
    List,
    Builder,
    Text,
    Profile,
    Journeys,
}

impl Context {
    pub const ALL: &'static [Context] =
        &[Context::Global, Context::List, Context::Builder, Context::Text, Context::Profile, Context::Journeys];

    /// The section name in a keymap file (`global` for `[global]`).
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::List => "list",
            Context::Builder => "builder",
            Context::Text => "text",
            Context::Profile => "profile",
            Context::Journeys => "journeys",
        }
    }
}

/// A refused keymap file: Display is `FILE:LINE: reason` (line 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for KeymapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

impl std::error::Error for KeymapError {}

/// What a key means in the contexts it was fed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Action(Action),
    /// A sequence is in progress (e.g. `g` of `g g`): the hints are
    /// (remaining keys as text, action) for a which-key popup.
    Pending(Vec<(String, Action)>),
    /// Nothing bound: in a Text context the caller passes the key to the text area.
    Unbound,
}

/// One key chord, normalised (see [`chord`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Chord {
    code: KeyCode,
    mods: KeyModifiers,
}

#[derive(Clone, Debug)]
struct Binding {
    keys: Vec<Chord>,
    action: Action,
}

/// The bindings per context and the sequence in progress.
#[derive(Clone, Debug)]
pub struct Keymap {
    name: String,
    /// Per context, the most recently layered file's bindings first, each
    /// file's in file order (so `key_for` prefers `j` over `Down` in vim).
    contexts: HashMap<Context, Vec<Binding>>,
    pending: Vec<Chord>,
}

impl Keymap {
    /// The shipped keymap by NAME (`default`, `vim`, `emacs`) or a PATH to a
    /// user file, which is a delta on top of what it `extends` (`default`
    /// unless it says otherwise).
    pub fn load(choice: &str) -> Result<Keymap, KeymapError> {
        if SHIPPED.iter().any(|&(name, _, _)| name == choice) {
            return shipped(choice, 0);
        }
        let text = std::fs::read_to_string(choice).map_err(|e| KeymapError {
            file: choice.into(),
            line: 1,
            reason: format!("cannot read: {e}"),
        })?;
        Keymap::from_text(&text, choice)
    }

    /// The same from text (the file name names the keymap and its errors).
    pub fn from_text(text: &str, file_name: &str) -> Result<Keymap, KeymapError> {
        build(text, file_name, file_name, false, 0)
    }

    /// Feeds one key, `contexts` innermost first. A key that starts a bound
    /// sequence returns `Pending`; the next key completes it or, if it
    /// continues no sequence, is looked up afresh (Esc just clears).
    pub fn feed(&mut self, contexts: &[Context], key: KeyEvent) -> Lookup {
        if key.kind == KeyEventKind::Release || matches!(key.code, KeyCode::Modifier(_)) {
            return Lookup::Unbound;
        }
        let chord = chord(key.code, key.modifiers);
        if !self.pending.is_empty() {
            let mut seq = std::mem::take(&mut self.pending);
            seq.push(chord);
            if let Some(found) = self.resolve(contexts, &seq) {
                return found;
            }
            if chord == (Chord { code: KeyCode::Esc, mods: KeyModifiers::NONE }) {
                return Lookup::Unbound;
            }
        }
        self.resolve(contexts, &[chord]).unwrap_or(Lookup::Unbound)
    }

    pub fn pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// All bindings visible in these contexts (innermost wins for the same
    /// keys) as (keys text, action), sorted by action name — for the help screen.
    pub fn bindings(&self, contexts: &[Context]) -> Vec<(String, Action)> {
        let mut out: Vec<_> = self.visible(contexts).into_iter().map(|b| (keys_text(&b.keys), b.action)).collect();
        out.sort_by(|a, b| a.1.name().cmp(b.1.name()).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// The key text of the first binding of `action` in these contexts
    /// (`?` for help) — for hints in footers.
    pub fn key_for(&self, contexts: &[Context], action: Action) -> Option<String> {
        self.visible(contexts).into_iter().find(|b| b.action == action).map(|b| keys_text(&b.keys))
    }

    /// `default`, `vim`, `emacs` or the file path.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn visible(&self, contexts: &[Context]) -> Vec<&Binding> {
        let mut out: Vec<&Binding> = Vec::new();
        for list in contexts.iter().filter_map(|c| self.contexts.get(c)) {
            for b in list {
                if !out.iter().any(|o| o.keys == b.keys) {
                    out.push(b);
                }
            }
        }
        out
    }

    /// The first context that binds `seq` or starts a sequence with it decides.
    fn resolve(&mut self, contexts: &[Context], seq: &[Chord]) -> Option<Lookup> {
        for list in contexts.iter().filter_map(|c| self.contexts.get(c)) {
            if let Some(b) = list.iter().find(|b| b.keys == seq) {
                return Some(Lookup::Action(b.action));
            }
            if list.iter().any(|b| b.keys.len() > seq.len() && b.keys.starts_with(seq)) {
                let mut hints: Vec<_> = self
                    .visible(contexts)
                    .into_iter()
                    .filter(|b| b.keys.len() > seq.len() && b.keys.starts_with(seq))
                    .map(|b| (keys_text(&b.keys[seq.len()..]), b.action))
                    .collect();
                hints.sort_by(|a, b| a.0.cmp(&b.0));
                self.pending = seq.to_vec();
                return Some(Lookup::Pending(hints));
            }
        }
        None
    }
}

fn shipped(name: &str, depth: usize) -> Result<Keymap, KeymapError> {
    let &(name, file, text) = SHIPPED.iter().find(|s| s.0 == name).unwrap_or(&SHIPPED[0]);
    build(text, file, name, name == "default", depth)
}

/// Parses one file and layers it on its base (none for the root `default`).
fn build(text: &str, file: &str, name: &str, root: bool, depth: usize) -> Result<Keymap, KeymapError> {
    let err = |line, reason: String| KeymapError { file: file.into(), line, reason };
    let layer = parse(text, file)?;
    let (mut map, base) = match &layer.extends {
        Some((base, line)) if SHIPPED.iter().any(|s| s.0 == base) => {
            if depth > SHIPPED.len() {
                return Err(err(*line, "`extends` goes round in a circle".into()));
            }
            (shipped(base, depth + 1)?, base.as_str())
        }
        Some((base, line)) => {
            let names: Vec<_> = SHIPPED.iter().map(|s| s.0).collect();
            let reason =
                format!("unknown keymap `{base}` to extend{} (shipped: default, vim, emacs)", hint(base, &names));
            return Err(err(*line, reason));
        }
        None if root => (Keymap { name: String::new(), contexts: HashMap::new(), pending: Vec::new() }, ""),
        None => (shipped("default", depth + 1)?, "default"),
    };
    for (context, entries) in &layer.sections {
        let list = map.contexts.entry(*context).or_default();
        // A key replaces the base's binding of the same key; a sequence also
        // replaces a base chord it extends (emacs `Ctrl-x Ctrl-c` over `Ctrl-x`).
        for e in entries {
            let extends_base = |b: &Binding| e.action != Action::Noop && e.keys.starts_with(&b.keys);
            list.retain(|b| b.keys != e.keys && !extends_base(b));
        }
        for e in entries.iter().filter(|e| e.action != Action::Noop) {
            if let Some(b) = list.iter().find(|b| b.keys.len() > e.keys.len() && b.keys.starts_with(&e.keys)) {
                let (short, long) = (keys_text(&e.keys), keys_text(&b.keys));
                let reason = format!(
                    "`{short}` conflicts with `{long}` ({}) in [{}] of the `{base}` keymap: a key cannot both run an \
                     action and start a sequence (unbind it with \"{long}\" = \"noop\")",
                    b.action.name(),
                    context.name()
                );
                return Err(err(e.line, reason));
            }
        }
        let mut merged: Vec<Binding> = entries
            .iter()
            .filter(|e| e.action != Action::Noop)
            .map(|e| Binding { keys: e.keys.clone(), action: e.action })
            .collect();
        merged.append(list);
        *list = merged;
    }
    map.name = name.into();
    Ok(map)
}

struct Entry {
    keys: Vec<Chord>,
    text: String,
    action: Action,
    line: usize,
}

struct Layer {
    extends: Option<(String, usize)>,
    sections: Vec<(Context, Vec<Entry>)>,
}

/// Checks one file on its own: sections, keys, actions, and conflicts
/// between its own keys within a context.
fn parse(text: &str, file: &str) -> Result<Layer, KeymapError> {
    let err = |line, reason: String| KeymapError { file: file.into(), line, reason };
    let line_of = |offset: usize| text.get(..offset).unwrap_or(text).matches('\n').count() + 1;
    let doc = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(s.start));
        err(line, format!("not valid TOML: {}", e.message().trim()))
    })?;
    let mut top: Vec<_> = doc.get_ref().iter().collect();
    top.sort_by_key(|(k, _)| k.span().start);
    let mut layer = Layer { extends: None, sections: Vec::new() };
    for (key, value) in top {
        let (name, line) = (key.get_ref().as_ref(), line_of(key.span().start));
        let table = match (name, value.get_ref()) {
            ("extends", DeValue::String(base)) => {
                layer.extends = Some((base.to_string(), line));
                continue;
            }
            ("extends", _) => return Err(err(line, "`extends` takes a keymap name: default, vim or emacs".into())),
            (_, DeValue::Table(table)) => table,
            _ => {
                return Err(err(
                    line,
                    format!("unknown setting `{name}` (a file has `extends` and [context] sections)"),
                ));
            }
        };
        let Some(&context) = Context::ALL.iter().find(|c| c.name() == name) else {
            let names: Vec<_> = Context::ALL.iter().map(|c| c.name()).collect();
            let reason = format!("unknown context `[{name}]`{} (contexts: {})", hint(name, &names), names.join(", "));
            return Err(err(line, reason));
        };
        let mut items: Vec<_> = table.iter().collect();
        items.sort_by_key(|(k, _)| k.span().start);
        let mut entries: Vec<Entry> = Vec::new();
        for (key, value) in items {
            let (text, line) = (key.get_ref().to_string(), line_of(key.span().start));
            let DeValue::String(action) = value.get_ref() else {
                return Err(err(line, format!("`{text}`: the value must be an action name in quotes")));
            };
            let keys = parse_keys(&text).map_err(|why| err(line, format!("unparsable key `{text}`: {why}")))?;
            let Some(action) = Action::from_name(action) else {
                let names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
                return Err(err(line, format!("unknown action `{action}`{}", hint(action, &names))));
            };
            for other in &entries {
                if other.keys == keys {
                    let reason = format!("`{text}` is the same key as `{}` on line {}", other.text, other.line);
                    return Err(err(line, reason));
                }
                let prefix = |a: &[Chord], b: &[Chord]| a.len() < b.len() && b.starts_with(a);
                if action != Action::Noop
                    && other.action != Action::Noop
                    && (prefix(&keys, &other.keys) || prefix(&other.keys, &keys))
                {
                    let reason = format!(
                        "`{text}` conflicts with `{}` on line {}: a key cannot both run an action and start a sequence",
                        other.text, other.line
                    );
                    return Err(err(line, reason));
                }
            }
            entries.push(Entry { keys, text, action, line });
        }
        layer.sections.push((context, entries));
    }
    Ok(layer)
}

/// ` (did you mean `x`?)` when a candidate is a few edits away.
fn hint(word: &str, candidates: &[&str]) -> String {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                let next = (diagonal + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
                diagonal = row[j + 1];
                row[j + 1] = next;
            }
        }
        row[b.len()]
    };
    let best = candidates.iter().map(|c| (distance(word, c), *c)).min();
    match best {
        Some((d, c)) if d <= 3 && d < word.chars().count() => format!(" (did you mean `{c}`?)"),
        _ => String::new(),
    }
}

const NAMES: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("BackTab", KeyCode::BackTab),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Space", KeyCode::Char(' ')),
    ("Escape", KeyCode::Esc),
    ("Return", KeyCode::Enter),
    ("Del", KeyCode::Delete),
    ("PgUp", KeyCode::PageUp),
    ("PgDn", KeyCode::PageDown),
];

const MODIFIERS: &[(&str, KeyModifiers)] =
    &[("Ctrl-", KeyModifiers::CONTROL), ("Alt-", KeyModifiers::ALT), ("Shift-", KeyModifiers::SHIFT)];

/// `Ctrl-x k` → two chords.
fn parse_keys(text: &str) -> Result<Vec<Chord>, String> {
    let keys = text.split_whitespace().map(parse_chord).collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() { Err("no key".into()) } else { Ok(keys) }
}

fn parse_chord(text: &str) -> Result<Chord, String> {
    let (mut rest, mut mods) = (text, KeyModifiers::NONE);
    while let Some(&(prefix, m)) =
        MODIFIERS.iter().find(|(p, _)| rest.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
    {
        if rest.len() == prefix.len() {
            return Err(format!("no key after `{text}`"));
        }
        mods |= m;
        rest = &rest[prefix.len()..];
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => KeyCode::Char(c),
        _ => match NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(rest)) {
            Some(&(_, code)) => code,
            None => match rest.strip_prefix(['F', 'f']).and_then(|n| n.parse::<u8>().ok()) {
                Some(n @ 1..=12) => KeyCode::F(n),
                Some(_) => return Err(format!("`{rest}`: function keys go from F1 to F12")),
                None => {
                    return Err(format!(
                        "unknown key `{rest}` (modifiers: Ctrl-, Alt-, Shift-; keys: one character, a name like \
                         Enter, Esc, Tab, PageUp, Space, or F1..F12)"
                    ));
                }
            },
        },
    };
    Ok(chord(code, mods))
}

/// Normalises a key the way both bindings and events are compared: a shifted
/// letter is its uppercase letter without SHIFT (`G` = `Shift-g`); with Ctrl
/// a letter is lowercase (terminals can't tell `Ctrl-S` from `Ctrl-s`); SHIFT
/// is dropped for other characters (`?`, `:`) and BackTab; `Shift-Tab` is BackTab.
fn chord(code: KeyCode, mut mods: KeyModifiers) -> Chord {
    let shift = mods.contains(KeyModifiers::SHIFT);
    let recase = |c: char, upper: bool| {
        let mut it: Vec<char> = if upper { c.to_uppercase().collect() } else { c.to_lowercase().collect() };
        if it.len() == 1 { it.pop().unwrap_or(c) } else { c }
    };
    let code = match code {
        KeyCode::Char(c) => {
            mods.remove(KeyModifiers::SHIFT);
            if !c.is_alphabetic() {
                KeyCode::Char(c)
            } else if mods.contains(KeyModifiers::CONTROL) {
                KeyCode::Char(recase(c, false))
            } else {
                KeyCode::Char(if shift { recase(c, true) } else { c })
            }
        }
        KeyCode::BackTab => {
            mods.remove(KeyModifiers::SHIFT);
            KeyCode::BackTab
        }
        KeyCode::Tab if shift => {
            mods.remove(KeyModifiers::SHIFT);
            KeyCode::BackTab
        }
        other => other,
    };
    Chord { code, mods }
}

fn keys_text(keys: &[Chord]) -> String {
    let chord_text = |ch: &Chord| {
        let mut s: String =
            MODIFIERS.iter().filter(|(_, m)| ch.mods.contains(*m)).map(|(p, _)| *p).collect::<Vec<_>>().concat();
        match ch.code {
            KeyCode::Char(' ') => s.push_str("Space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::F(n) => s.push_str(&format!("F{n}")),
            code => s.push_str(NAMES.iter().find(|(_, k)| *k == code).map_or("?", |(n, _)| n)),
        }
        s
    };
    keys.iter().map(chord_text).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use Context as C;

    const LG: &[Context] = &[C::List, C::Global];

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }
    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c), KeyModifiers::NONE)
    }
    fn ctrl(c: char) -> KeyEvent {
        key(KeyCode::Char(c), KeyModifiers::CONTROL)
    }
    fn shipped(name: &str) -> Keymap {
        Keymap::load(name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    fn error(text: &str) -> String {
        Keymap::from_text(text, "my.toml").map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn every_shipped_binding_resolves_from_real_events() {
        for &(name, _, _) in SHIPPED {
            let map = shipped(name);
            assert_eq!(map.name(), name);
            for (&context, list) in &map.contexts {
                for b in list {
                    let mut m = map.clone();
                    let (last, first) = b.keys.split_last().unwrap();
                    for c in first {
                        assert!(matches!(m.feed(&[context], key(c.code, c.mods)), Lookup::Pending(_)));
                    }
                    let found = m.feed(&[context], key(last.code, last.mods));
                    assert_eq!(found, Lookup::Action(b.action), "{name} [{}] {}", context.name(), keys_text(&b.keys));
                }
            }
        }
        let default = shipped("default");
        for &a in Action::ALL.iter().filter(|&&a| a != A::Noop) {
            assert!(default.contexts.values().flatten().any(|b| b.action == a), "{} unbound", a.name());
        }
    }

    #[test]
    fn shifted_letters_tabs_and_ctrl_are_normalised() {
        let mut vim = shipped("vim");
        for mods in [KeyModifiers::SHIFT, KeyModifiers::NONE] {
            assert_eq!(vim.feed(LG, key(KeyCode::Char('G'), mods)), Lookup::Action(A::Bottom));
            assert_eq!(vim.feed(LG, key(KeyCode::BackTab, mods)), Lookup::Action(A::PrevScreen));
            assert_eq!(vim.feed(LG, key(KeyCode::Char('?'), mods)), Lookup::Action(A::Help));
        }
        assert_eq!(vim.feed(LG, key(KeyCode::Char('g'), KeyModifiers::SHIFT)), Lookup::Action(A::Bottom));
        assert_eq!(vim.feed(LG, key(KeyCode::Tab, KeyModifiers::SHIFT)), Lookup::Action(A::PrevScreen));
        let builder = &[C::Builder, C::Global];
        assert_eq!(vim.feed(builder, key(KeyCode::Char('K'), KeyModifiers::SHIFT)), Lookup::Action(A::MoveUp));
        assert_eq!(vim.feed(builder, ch('k')), Lookup::Action(A::Up));
        assert_eq!(vim.feed(LG, ctrl('s')), Lookup::Action(A::Save));
        let ctrl_shift = KeyModifiers::CONTROL | KeyModifiers::SHIFT;
        assert_eq!(vim.feed(LG, key(KeyCode::Char('S'), ctrl_shift)), Lookup::Action(A::Save));
        let release = KeyEvent::new_with_kind(KeyCode::Char('q'), KeyModifiers::NONE, KeyEventKind::Release);
        assert_eq!(vim.feed(LG, release), Lookup::Unbound);
        let repeat = KeyEvent::new_with_kind(KeyCode::Char('j'), KeyModifiers::NONE, KeyEventKind::Repeat);
        assert_eq!(vim.feed(LG, repeat), Lookup::Action(A::Down));
        for (text, shown) in
            [("shift-g", "G"), ("Shift-Tab", "BackTab"), ("CTRL-S", "Ctrl-s"), ("Alt-Shift-?", "Alt-?")]
        {
            assert_eq!(parse_keys(text).map(|k| keys_text(&k)), Ok(shown.to_string()));
        }
    }

    #[test]
    fn sequences_pend_complete_and_fall_back() {
        let mut vim = shipped("vim");
        assert_eq!(vim.feed(LG, ch('g')), Lookup::Pending(vec![("g".into(), A::Top)]));
        assert!(vim.pending());
        assert_eq!(vim.feed(LG, ch('g')), Lookup::Action(A::Top));
        assert!(!vim.pending());
        vim.feed(LG, ch('g'));
        assert_eq!(vim.feed(LG, ch('j')), Lookup::Action(A::Down));
        assert!(!vim.pending());
        vim.feed(LG, ch('g'));
        assert_eq!(vim.feed(LG, key(KeyCode::Esc, KeyModifiers::NONE)), Lookup::Unbound);
        assert_eq!(vim.feed(LG, key(KeyCode::Esc, KeyModifiers::NONE)), Lookup::Action(A::Back));
        vim.feed(LG, ch('g'));
        vim.clear_pending();
        assert_eq!(vim.feed(LG, ch('g')), Lookup::Pending(vec![("g".into(), A::Top)]));

        let mut emacs = shipped("emacs");
        assert!(matches!(emacs.feed(LG, ctrl('x')), Lookup::Pending(h) if h.len() == 3));
        assert_eq!(emacs.feed(LG, ctrl('c')), Lookup::Action(A::Quit));
        emacs.feed(LG, ctrl('x'));
        assert_eq!(emacs.feed(LG, ch('k')), Lookup::Action(A::Cancel));
        assert_eq!(
            emacs.feed(LG, key(KeyCode::Char('<'), KeyModifiers::ALT | KeyModifiers::SHIFT)),
            Lookup::Action(A::Top)
        );
        assert_eq!(emacs.feed(&[C::Text], ctrl('g')), Lookup::Action(A::Leave));
    }

    #[test]
    fn a_text_field_gets_every_key_but_its_own() {
        let mut map = shipped("default");
        for c in ['q', '1', '?', ':', 'j', 'd'] {
            assert_eq!(map.feed(&[C::Text], ch(c)), Lookup::Unbound, "{c}");
        }
        assert_eq!(map.feed(&[C::Text], key(KeyCode::Tab, KeyModifiers::NONE)), Lookup::Action(A::Complete));
        assert_eq!(map.feed(&[C::Text], key(KeyCode::Esc, KeyModifiers::NONE)), Lookup::Action(A::Leave));
        assert_eq!(map.feed(&[C::Text], ctrl('s')), Lookup::Action(A::Save));
        assert_eq!(map.key_for(&[C::Text], A::Help), None);
    }

    #[test]
    fn a_user_file_is_a_delta() {
        let mut map =
            Keymap::from_text("[list]\n\"x\" = \"noop\"\n[global]\n\"q\" = \"app.quit\"\n", "me.toml").unwrap();
        assert_eq!(map.name(), "me.toml");
        assert_eq!(map.feed(LG, ch('x')), Lookup::Unbound);
        assert_eq!(map.feed(LG, ch('q')), Lookup::Action(A::Quit));
        assert_eq!(map.feed(LG, ch('p')), Lookup::Action(A::Pause));
        assert_eq!(shipped("default").feed(LG, ch('x')), Lookup::Action(A::CancelCampaign));

        let mut on_vim =
            Keymap::from_text("extends = \"vim\"\n[global]\n\"g g\" = \"noop\"\n\"g\" = \"list.refresh\"\n", "me.toml")
                .unwrap();
        assert_eq!(on_vim.feed(LG, ch('g')), Lookup::Action(A::Refresh));
        assert_eq!(on_vim.feed(LG, ch('j')), Lookup::Action(A::Down));

        let path = std::env::temp_dir().join(format!("reach-keymap-{}.toml", std::process::id()));
        std::fs::write(&path, "extends = \"emacs\"\n").unwrap();
        let from_file = Keymap::load(&path.to_string_lossy());
        let _ = std::fs::remove_file(&path);
        assert_eq!(from_file.unwrap().key_for(&[C::Global], A::Quit).as_deref(), Some("Ctrl-x Ctrl-c"));
        assert!(
            Keymap::load("/nonexistent/keys.toml")
                .unwrap_err()
                .to_string()
                .starts_with("/nonexistent/keys.toml:1: cannot read: ")
        );
    }

    #[test]
    fn bad_files_are_refused_at_their_line() {
        assert_eq!(
            error("# mine\nextends = \"vim\"\n[list]\n\"s\" = \"segment.sav\"\n"),
            "my.toml:4: unknown action `segment.sav` (did you mean `segment.save`?)"
        );
        assert!(
            error("[global]\n\"q\" = \"app.quit\"\n\"Hyper-x\" = \"app.quit\"\n")
                .starts_with("my.toml:3: unparsable key `Hyper-x`: unknown key `Hyper-x`")
        );
        assert_eq!(
            error("[global]\n\"Ctrl-\" = \"app.quit\"\n"),
            "my.toml:2: unparsable key `Ctrl-`: no key after `Ctrl-`"
        );
        assert_eq!(
            error("\n[global]\n\"F13\" = \"app.quit\"\n"),
            "my.toml:3: unparsable key `F13`: `F13`: function keys go from F1 to F12"
        );
        assert_eq!(
            error("[list]\n\"g\" = \"cursor.top\"\n\"j\" = \"cursor.down\"\n\"g g\" = \"cursor.top\"\n"),
            "my.toml:4: `g g` conflicts with `g` on line 2: a key cannot both run an action and start a sequence"
        );
        assert_eq!(
            error("[list]\n\"G\" = \"cursor.top\"\n\"Shift-g\" = \"cursor.bottom\"\n"),
            "my.toml:3: `Shift-g` is the same key as `G` on line 2"
        );
        assert_eq!(
            error("[global]\n\"q\" = \"app.quit\"\n\n[lists]\n"),
            "my.toml:4: unknown context `[lists]` (did you mean `list`?) (contexts: global, list, builder, text, profile, journeys)"
        );
        assert_eq!(
            error("\n\nextends = \"vi\"\n"),
            "my.toml:3: unknown keymap `vi` to extend (did you mean `vim`?) (shipped: default, vim, emacs)"
        );
        assert_eq!(error("extends = 1\n"), "my.toml:1: `extends` takes a keymap name: default, vim or emacs");
        assert_eq!(error("[global]\n\"q\" = 1\n"), "my.toml:2: `q`: the value must be an action name in quotes");
        assert!(
            error("[global]\n\"q\" = \"app.quit\"\n\"j\" = cursor.down\n").starts_with("my.toml:3: not valid TOML: ")
        );
        assert!(
            error("extends = \"vim\"\n[global]\n\"g\" = \"list.refresh\"\n")
                .starts_with("my.toml:3: `g` conflicts with `g g` (cursor.top) in [global] of the `vim` keymap")
        );
    }

    #[test]
    fn help_and_hints_show_the_keys() {
        let default = shipped("default");
        assert!(default.bindings(LG).contains(&("?".into(), A::Help)));
        assert!(default.bindings(LG).contains(&("d".into(), A::Delete)));
        assert!(!default.bindings(&[C::Builder, C::Global]).contains(&("d".into(), A::Delete)));
        assert_eq!(default.key_for(&[C::Global], A::Help).as_deref(), Some("?"));
        assert_eq!(default.key_for(&[C::Global], A::PrevScreen).as_deref(), Some("BackTab"));
        assert_eq!(shipped("vim").key_for(LG, A::Top).as_deref(), Some("g g"));
        assert_eq!(shipped("vim").key_for(LG, A::Down).as_deref(), Some("j"));
        assert_eq!(shipped("emacs").key_for(LG, A::Cancel).as_deref(), Some("Ctrl-x k"));
    }
}
