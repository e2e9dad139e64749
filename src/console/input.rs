//! One-line text fields (filters, the builder's expression, the command
//! line, prompts) over `ratatui-textarea`, and word completion.

use crossterm::event::KeyEvent;
use ratatui_textarea::{CursorMove, TextArea};

/// A single-line text field.
#[derive(Clone, Default)]
pub struct TextField {
    pub area: TextArea<'static>,
}

impl std::fmt::Debug for TextField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextField({:?})", self.text())
    }
}

impl TextField {
    pub fn new(text: &str) -> TextField {
        let mut area = TextArea::new(vec![text.to_string()]);
        area.move_cursor(CursorMove::End);
        area.set_cursor_line_style(ratatui::style::Style::new());
        TextField { area }
    }

    pub fn text(&self) -> String {
        self.area.lines().first().cloned().unwrap_or_default()
    }

    pub fn set(&mut self, text: &str) {
        *self = TextField::new(text);
    }

    /// The cursor's character column (0-based).
    pub fn cursor(&self) -> usize {
        self.area.cursor().1
    }

    /// Edits with a key; Enter never inserts a line. Returns whether the text changed.
    pub fn input(&mut self, key: KeyEvent) -> bool {
        if key.code == crossterm::event::KeyCode::Enter {
            return false;
        }
        let before = self.text();
        self.area.input(key);
        if self.area.lines().len() > 1 {
            let joined = self.area.lines().join(" ");
            self.set(&joined);
        }
        before != self.text()
    }

    /// The word under the cursor: its start column and text.
    pub fn word(&self) -> (usize, String) {
        let chars: Vec<char> = self.text().chars().collect();
        let end = self.cursor().min(chars.len());
        let mut start = end;
        while start > 0 && is_word(chars[start - 1]) {
            start -= 1;
        }
        (start, chars[start..end].iter().collect())
    }

    /// Replaces the word under the cursor with `with`.
    pub fn replace_word(&mut self, with: &str) {
        let (start, _) = self.word();
        let chars: Vec<char> = self.text().chars().collect();
        let end = self.cursor().min(chars.len());
        let head: String = chars[..start].iter().collect();
        let tail: String = chars[end..].iter().collect();
        let text = format!("{head}{with}{tail}");
        self.set(&text);
        self.area.move_cursor(CursorMove::Head);
        for _ in 0..(start + with.chars().count()) {
            self.area.move_cursor(CursorMove::Forward);
        }
    }
}

/// Characters completion treats as part of one word: names, dotted paths,
/// `tag:` prefixes, `--flags`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '/')
}

/// Completes `word` from `candidates`: the candidates it starts, and the
/// longest common prefix to insert.
pub fn complete(word: &str, candidates: &[String]) -> (Vec<String>, String) {
    let lw = word.to_lowercase();
    let mut hits: Vec<String> = candidates.iter().filter(|c| c.to_lowercase().starts_with(&lw)).cloned().collect();
    hits.sort();
    hits.dedup();
    let common = match hits.first() {
        None => word.to_string(),
        Some(first) => {
            let mut n = first.chars().count();
            for h in &hits[1..] {
                n = n.min(first.chars().zip(h.chars()).take_while(|(a, b)| a == b).count());
            }
            let c: String = first.chars().take(n).collect();
            if c.chars().count() >= word.chars().count() { c } else { word.to_string() }
        }
    };
    (hits, common)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    #[test]
    fn typing_and_completion() {
        let mut f = TextField::new("");
        for c in "tag:v".chars() {
            f.input(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        assert_eq!(f.text(), "tag:v");
        assert_eq!(f.word(), (0, "tag:v".to_string()));
        let (hits, common) = complete("tag:v", &["tag:vip".into(), "tag:veteran".into(), "tag:a".into()]);
        assert_eq!(hits.len(), 2);
        assert_eq!(common, "tag:v");
        f.replace_word("tag:vip");
        assert_eq!(f.text(), "tag:vip");
        assert!(!f.input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    }
}
