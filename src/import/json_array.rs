//! A JSON array of objects (`[{…}, {…}]`, as `mongoexport --jsonArray`,
//! `jq -s`, `json.dump` of a list and many APIs write a file) read as
//! JSON lines: each element on a line of its own, its own line breaks
//! made spaces, so the JSON lines reader reads it as any log. Empty lines
//! are put in front of an element so that its line is the one it starts
//! on in the file, as messages name it (elements sharing a line, as in an
//! array written on one line, take the next lines). A malformed array
//! (an empty element, a `,` before `]`, text after the end, no end) is
//! refused as bad input at its line.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether `buf` (the start of an input) opens an array of objects: `[`
/// then `{` or `]`, after whitespace. A CSV header may start with `[`
/// (`[id],[email]`, as SQL Server writes names), never with `[{`.
pub fn starts_array(buf: &[u8]) -> bool {
    let mut it = buf.iter().filter(|b| !b.is_ascii_whitespace());
    it.next() == Some(&b'[') && matches!(it.next(), Some(b'{' | b']'))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// before the `[`
    Before,
    /// inside the array, between elements
    Between,
    /// inside an element
    Element,
    /// after the `]`
    After,
}

pub struct ArrayLines<R> {
    inner: R,
    state: State,
    element: Element,
    /// a `,` was read and no element after it yet
    comma: bool,
    /// the line of the input being read (1-based)
    line: u64,
    /// the line of the output being written
    out_line: u64,
    /// line breaks still to write before the element read next
    pad: u64,
    /// where a malformed array is said to be (read by `input::io_error`)
    error_line: Arc<AtomicU64>,
}

impl<R: BufRead> ArrayLines<R> {
    pub fn new(inner: R, error_line: Arc<AtomicU64>) -> ArrayLines<R> {
        ArrayLines {
            inner,
            state: State::Before,
            element: Element::default(),
            comma: false,
            line: 1,
            out_line: 1,
            pad: 0,
            error_line,
        }
    }

    fn bad(&self, why: &str) -> io::Error {
        self.error_line.store(self.line, Ordering::Relaxed);
        io::Error::new(io::ErrorKind::InvalidData, format!("{why} in the JSON array"))
    }
}

impl<R: BufRead> Read for ArrayLines<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if self.pad > 0 {
                out[n] = b'\n';
                n += 1;
                self.pad -= 1;
                continue;
            }
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                if n == 0 && self.state != State::After {
                    return Err(self.bad(if self.state == State::Before { "no `[`" } else { "no closing `]`" }));
                }
                break;
            }
            let mut used = 0;
            while used < buf.len() && n < out.len() {
                // an element's bytes in one loop, up to its end
                if self.state == State::Element {
                    let k = self.element.copy(&buf[used..], &mut out[n..], &mut self.line);
                    (n, used) = (n + k, used + k);
                    if used == buf.len() || n == out.len() {
                        continue;
                    }
                }
                let c = buf[used];
                used += 1;
                if c == b'\n' {
                    self.line += 1;
                }
                match self.state {
                    State::Before | State::After if c.is_ascii_whitespace() => {}
                    State::Before if c == b'[' => self.state = State::Between,
                    State::Before => {
                        self.inner.consume(used - 1);
                        return Err(self.bad("no `[`"));
                    }
                    State::After => {
                        self.inner.consume(used - 1);
                        return Err(self.bad("text after the `]`"));
                    }
                    State::Between if c.is_ascii_whitespace() => {}
                    State::Between if c == b',' || c == b']' => {
                        if c == b',' || self.comma {
                            self.inner.consume(used - 1);
                            return Err(self.bad(if c == b',' { "an empty element" } else { "a `,` before `]`" }));
                        }
                        self.state = State::After;
                    }
                    State::Between => {
                        // an element starts: on its own line of the output,
                        // at the line it starts on where that is free (the
                        // line breaks first, then this byte again)
                        if self.line > self.out_line {
                            self.pad = self.line - self.out_line;
                            self.out_line = self.line;
                            used -= 1;
                            break;
                        }
                        // (the byte again, as the element's first)
                        self.comma = false;
                        self.state = State::Element;
                        self.element = Element::default();
                        used -= 1;
                    }
                    State::Element => {
                        // the `,` or `]` that `Element::copy` stopped at
                        out[n] = b'\n';
                        n += 1;
                        self.out_line += 1;
                        self.state = if c == b',' { State::Between } else { State::After };
                        self.comma = c == b',';
                    }
                }
            }
            self.inner.consume(used);
        }
        Ok(n)
    }
}

/// Where the reading is in an element: strings and nesting.
#[derive(Default)]
struct Element {
    /// `[` and `{` open inside the element
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Element {
    /// Copies the element's bytes from `src` to `dst` (a line break
    /// outside a string as a space), counting line breaks onto `line`,
    /// up to the `,` or `]` after it (not copied) or the end of either;
    /// returns the bytes copied. A string's plain text is copied a run at
    /// a time.
    fn copy(&mut self, src: &[u8], dst: &mut [u8], line: &mut u64) -> usize {
        let m = src.len().min(dst.len());
        let (src, dst) = (&src[..m], &mut dst[..m]);
        let (mut depth, mut in_string, mut escaped) = (self.depth, self.in_string, self.escaped);
        let mut i = 0;
        while i < m {
            if in_string && !escaped {
                let k = memchr::memchr3(b'"', b'\\', b'\n', &src[i..]).unwrap_or(m - i);
                dst[i..i + k].copy_from_slice(&src[i..i + k]);
                i += k;
                if i == m {
                    break;
                }
            }
            let c = src[i];
            let mut w = c;
            if c == b'\n' {
                *line += 1;
            }
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else {
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    // the element's end: taken by the caller
                    b',' | b']' if depth == 0 => break,
                    b'\n' | b'\r' => w = b' ',
                    _ => {}
                }
            }
            dst[i] = w;
            i += 1;
        }
        (self.depth, self.in_string, self.escaped) = (depth, in_string, escaped);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON lines `text` reads as, a few bytes a read; or the error
    /// and its line.
    fn lines(text: &str, read_size: usize) -> Result<String, (String, u64)> {
        let line = Arc::new(AtomicU64::new(0));
        let mut r = ArrayLines::new(io::BufReader::with_capacity(3, text.as_bytes()), line.clone());
        let mut got = Vec::new();
        let mut buf = vec![0; read_size];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(String::from_utf8(got).unwrap()),
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) => return Err((e.to_string(), line.load(Ordering::Relaxed))),
            }
        }
    }

    #[test]
    fn elements_become_lines_at_the_line_they_start_on() {
        let pretty = "[\n  {\n    \"a\": \"x,]}\\\"\\n\",\n    \"b\": [1, {\"c\": 2}]\n  },\n  {\"a\": 3}\n]\n";
        for size in [1, 2, 7, 1 << 16] {
            assert_eq!(
                lines(pretty, size).unwrap(),
                "\n{     \"a\": \"x,]}\\\"\\n\",     \"b\": [1, {\"c\": 2}]   }\n\n\n\n{\"a\": 3} \n"
            );
            assert_eq!(lines("[{\"a\":1},{\"a\":2} , {}]", size).unwrap(), "{\"a\":1}\n{\"a\":2} \n{}\n");
            assert_eq!(lines("\r\n[\r\n{\"a\":1}\r\n]\r\n", size).unwrap(), "\n\n{\"a\":1}  \n");
            assert_eq!(lines(" [ ] ", size).unwrap(), "");
        }
        assert!(
            starts_array(b" \n[ {") && starts_array(b"[]") && !starts_array(b"[id],[email]") && !starts_array(b"{")
        );
    }

    #[test]
    fn a_malformed_array_is_refused_at_its_line() {
        let cases = [
            ("[{\"a\":1},\n,{}]", "an empty element in the JSON array", 2),
            ("[{\"a\":1},\n]", "a `,` before `]` in the JSON array", 2),
            ("[{\"a\":1}]\n\n{\"b\":2}", "text after the `]` in the JSON array", 3),
            ("[{\"a\":1},\n{\"a\":2}\n", "no closing `]` in the JSON array", 3),
            ("[{\"a\":\"]\"}", "no closing `]` in the JSON array", 1),
            ("x", "no `[` in the JSON array", 1),
        ];
        for (text, why, line) in cases {
            for size in [1, 1 << 16] {
                assert_eq!(lines(text, size), Err((why.to_string(), line)), "{text:?}");
            }
        }
    }
}
