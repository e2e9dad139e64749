//! Keys from a remote terminal's bytes (an SSH channel carries what the
//! client's terminal sends): escape sequences are parsed by termion's
//! `parse_event` and turned into crossterm's key events, which the
//! console's keymap reads. A chunk that ends in a lone Esc is the Esc
//! key: over SSH a key's bytes arrive together.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use termion::event::{Event, Key};

/// The keys in one chunk of input, in order.
pub fn parse(bytes: &[u8]) -> Vec<KeyEvent> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        // SS3 cursor keys (application cursor mode), which termion leaves out
        if rest.len() >= 3 && rest[0] == 0x1b && rest[1] == b'O' {
            let code = match rest[2] {
                b'A' => Some(KeyCode::Up),
                b'B' => Some(KeyCode::Down),
                b'C' => Some(KeyCode::Right),
                b'D' => Some(KeyCode::Left),
                b'H' => Some(KeyCode::Home),
                b'F' => Some(KeyCode::End),
                _ => None,
            };
            if let Some(c) = code {
                out.push(KeyEvent::new(c, KeyModifiers::NONE));
                i += 3;
                continue;
            }
        }
        let mut tail = rest[1..].iter();
        let parsed = {
            let mut it = (&mut tail).map(|&b| Ok(b));
            termion::event::parse_event(rest[0], &mut it)
        };
        let used = 1 + (rest.len() - 1 - tail.len());
        match parsed {
            Ok(Event::Key(k)) => {
                if let Some(k) = key(k) {
                    out.push(k);
                }
                i += used;
            }
            Ok(_) => i += used,
            Err(_) if rest[0] == 0x1b => {
                if rest.len() > 1 && rest[1] == b'[' {
                    // a control sequence termion does not know: skipped whole
                    let end = rest[2..].iter().position(|b| (0x40..=0x7e).contains(b)).map_or(rest.len(), |p| p + 3);
                    i += end;
                } else {
                    out.push(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
                    i += 1;
                }
            }
            // bytes that are not a key (bad UTF-8): dropped
            Err(_) => i += used.max(1),
        }
    }
    out
}

fn key(k: Key) -> Option<KeyEvent> {
    use KeyCode as C;
    let (none, shift, ctrl, alt) = (KeyModifiers::NONE, KeyModifiers::SHIFT, KeyModifiers::CONTROL, KeyModifiers::ALT);
    let (code, mods) = match k {
        Key::Char('\n') => (C::Enter, none),
        Key::Char('\t') => (C::Tab, none),
        Key::Char(c) if c.is_uppercase() => (C::Char(c), shift),
        Key::Char(c) => (C::Char(c), none),
        Key::Ctrl(c) => (C::Char(c), ctrl),
        Key::Alt(c) => (C::Char(c), alt),
        Key::Backspace => (C::Backspace, none),
        Key::Left => (C::Left, none),
        Key::Right => (C::Right, none),
        Key::Up => (C::Up, none),
        Key::Down => (C::Down, none),
        Key::ShiftLeft => (C::Left, shift),
        Key::ShiftRight => (C::Right, shift),
        Key::ShiftUp => (C::Up, shift),
        Key::ShiftDown => (C::Down, shift),
        Key::AltLeft => (C::Left, alt),
        Key::AltRight => (C::Right, alt),
        Key::AltUp => (C::Up, alt),
        Key::AltDown => (C::Down, alt),
        Key::CtrlLeft => (C::Left, ctrl),
        Key::CtrlRight => (C::Right, ctrl),
        Key::CtrlUp => (C::Up, ctrl),
        Key::CtrlDown => (C::Down, ctrl),
        Key::Home => (C::Home, none),
        Key::CtrlHome => (C::Home, ctrl),
        Key::End => (C::End, none),
        Key::CtrlEnd => (C::End, ctrl),
        Key::PageUp => (C::PageUp, none),
        Key::PageDown => (C::PageDown, none),
        Key::BackTab => (C::BackTab, shift),
        Key::Delete => (C::Delete, none),
        Key::Insert => (C::Insert, none),
        Key::F(n) => (C::F(n), none),
        Key::Esc => (C::Esc, none),
        _ => return None,
    };
    Some(KeyEvent::new(code, mods))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn what_terminals_send_becomes_keys() {
        let none = KeyModifiers::NONE;
        assert_eq!(parse(b"a\r"), [k(KeyCode::Char('a'), none), k(KeyCode::Enter, none)]);
        assert_eq!(parse(b"\x1b"), [k(KeyCode::Esc, none)]);
        assert_eq!(parse(b"\x1b[A\x1bOB"), [k(KeyCode::Up, none), k(KeyCode::Down, none)]);
        assert_eq!(parse(b"\x1b[5~\x1b[6~"), [k(KeyCode::PageUp, none), k(KeyCode::PageDown, none)]);
        assert_eq!(parse(b"\x1b[Z"), [k(KeyCode::BackTab, KeyModifiers::SHIFT)]);
        assert_eq!(parse(b"\x03"), [k(KeyCode::Char('c'), KeyModifiers::CONTROL)]);
        assert_eq!(parse(b"\x1bx"), [k(KeyCode::Char('x'), KeyModifiers::ALT)]);
        assert_eq!(parse(b"\x7f\t"), [k(KeyCode::Backspace, none), k(KeyCode::Tab, none)]);
        assert_eq!(parse("é".as_bytes()), [k(KeyCode::Char('é'), none)]);
        assert_eq!(parse(b"G"), [k(KeyCode::Char('G'), KeyModifiers::SHIFT)]);
        // an unknown control sequence is skipped whole, the keys after it kept
        assert_eq!(parse(b"\x1b[?1;2cq"), [k(KeyCode::Char('q'), none)]);
    }
}
