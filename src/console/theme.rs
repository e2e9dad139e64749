//! Colours and symbols: 16-colour styles, none at all under `NO_COLOR`
//! (emphasis by bold and reverse video only), and ASCII symbols when the
//! locale is not UTF-8.

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub unicode: bool,
}

impl Theme {
    /// From the environment: `NO_COLOR` (any value) and the locale
    /// (`LC_ALL`, `LC_CTYPE`, `LANG`: the first one set decides).
    pub fn from_env() -> Theme {
        Theme::from_vars(|k| std::env::var(k).ok())
    }

    /// From variables looked up by `var` (an SSH client's, not this
    /// process's): as `from_env`, and no colour on `TERM=dumb`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Theme {
        let color = var("NO_COLOR").is_none_or(|v| v.is_empty()) && var("TERM").as_deref() != Some("dumb");
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|k| var(k).filter(|v| !v.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let unicode = locale.contains("utf-8") || locale.contains("utf8");
        Theme { color, unicode }
    }

    pub fn plain() -> Theme {
        Theme { color: false, unicode: true }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn tab_active(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new() }
    }
    pub fn header(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Magenta)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Symbols with their ASCII fallbacks.
    pub fn sym(&self, s: Sym) -> &'static str {
        match (s, self.unicode) {
            (Sym::Bar, true) => "█",
            (Sym::Bar, false) => "#",
            (Sym::Branch, true) => "├─ ",
            (Sym::Branch, false) => "|- ",
            (Sym::LastBranch, true) => "└─ ",
            (Sym::LastBranch, false) => "`- ",
            (Sym::Pipe, true) => "│  ",
            (Sym::Pipe, false) => "|  ",
            (Sym::Up, true) => "▲",
            (Sym::Up, false) => "^",
            (Sym::Down, true) => "▼",
            (Sym::Down, false) => "v",
            (Sym::Ellipsis, true) => "…",
            (Sym::Ellipsis, false) => "...",
            (Sym::Goto, true) => "→",
            (Sym::Goto, false) => "->",
            (Sym::Below, true) => "↓",
            (Sym::Below, false) => "v",
        }
    }

    /// A bordered block, drawn with ASCII when the locale is not UTF-8.
    pub fn block(&self, borders: ratatui::widgets::Borders) -> ratatui::widgets::Block<'static> {
        let b = ratatui::widgets::Block::default().borders(borders);
        if self.unicode {
            b
        } else {
            b.border_set(ratatui::symbols::border::Set {
                top_left: "+",
                top_right: "+",
                bottom_left: "+",
                bottom_right: "+",
                vertical_left: "|",
                vertical_right: "|",
                horizontal_top: "-",
                horizontal_bottom: "-",
            })
        }
    }

    /// A sparkline of values scaled to their maximum.
    pub fn sparkline(&self, values: &[u64], width: usize) -> String {
        let marks: &[&str] = if self.unicode {
            &["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        } else {
            &["_", ".", "-", "~", "=", "+", "*", "#"]
        };
        let vals = if values.len() > width { &values[values.len() - width..] } else { values };
        let (lo, hi) = (vals.iter().copied().min().unwrap_or(0), vals.iter().copied().max().unwrap_or(0));
        vals.iter()
            .map(|&v| {
                let i =
                    if hi == lo { marks.len() / 2 } else { ((v - lo) * (marks.len() as u64 - 1) / (hi - lo)) as usize };
                marks[i]
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Sym {
    Bar,
    Branch,
    LastBranch,
    Pipe,
    Up,
    Down,
    Ellipsis,
    /// a jump to a step drawn elsewhere
    Goto,
    /// goes on below
    Below,
}
