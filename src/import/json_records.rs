//! Reads JSON Lines into rows of text fields under a header that grows as
//! new keys appear: one object a line, a nested object's fields named by
//! their path (`flatten`), each value as `json_text` writes it (numbers as
//! written, lists of strings and numbers `;`-joined, other lists as their
//! JSON text, null empty). Lines
//! whose keys are all known and whose values are strings, numbers,
//! booleans, nulls, lists of strings and numbers or objects of these are
//! read by a small parser here (`read_flat` for a flat object, else
//! `Line::object`); any other line (a key seen for the first time, a key
//! given twice through an object, anything malformed) goes through
//! `serde_json`, whose results and messages are the reference (a test
//! compares the two).

use super::records::RawFields;
use std::collections::HashMap;
use std::io::{self, BufRead};

/// What `JsonRecords::read` found next.
pub enum JsonRead {
    /// a row on line `.0`, or why that line is not one
    Row(u64, Result<(), String>),
    /// keys seen for the first time on line `.0`, the new columns in order;
    /// the row of that line comes next
    Columns(u64, Vec<String>),
}

pub struct JsonRecords<R> {
    inner: R,
    line: u64,
    /// the last line read, as it is in the input
    buf: Vec<u8>,
    cols: Vec<String>,
    index: HashMap<String, usize>,
    /// the column of each key, by its place on the last line read here
    /// (a log's lines mostly list their keys in one order)
    guess: Vec<usize>,
    /// per column: its name is written the same in JSON (no escapes), so
    /// a key is that column when its bytes are the name's
    plain: Vec<bool>,
    /// what `read_fast` keeps from line to line
    scratch: Scratch,
    /// the row of the line that added columns, handed out after them
    pending: Option<(u64, Result<(), String>)>,
    pending_raw: RawFields,
    /// false: every line through `serde_json` (the tests' reference)
    fast: bool,
    /// lines read by the small parser
    fast_rows: u64,
}

impl<R: BufRead> JsonRecords<R> {
    /// Reads on from `inner`, a file after the one before (lines counted
    /// from its start), keeping the columns the keys so far were given.
    pub fn next_file(&mut self, inner: R) {
        self.inner = inner;
        self.line = 0;
        self.pending = None;
    }

    /// The reader lines are read from.
    pub fn into_inner(self) -> R {
        self.inner
    }

    pub fn new(inner: R) -> JsonRecords<R> {
        JsonRecords {
            inner,
            line: 0,
            buf: Vec::new(),
            cols: Vec::new(),
            index: HashMap::new(),
            guess: Vec::new(),
            plain: Vec::new(),
            scratch: Scratch::default(),
            pending: None,
            pending_raw: RawFields::default(),
            fast: true,
            fast_rows: 0,
        }
    }

    /// Reads the next row into `raw` (one field per column known so far),
    /// and the text of its line onto `text` (for a rejects file); None at
    /// the end. Blank lines are skipped.
    pub fn read(&mut self, raw: &mut RawFields, text: &mut Vec<u8>) -> io::Result<Option<JsonRead>> {
        if let Some((line, res)) = self.pending.take() {
            std::mem::swap(raw, &mut self.pending_raw);
            text.extend_from_slice(&self.buf);
            return Ok(Some(JsonRead::Row(line, res)));
        }
        // whether the small parser has had the line (where it lay)
        let mut tried = false;
        loop {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                return Ok(None);
            }
            self.line += 1;
            if let Some(nl) = memchr::memchr(b'\n', avail) {
                // the whole line is in the buffer: read where it is
                let line = &avail[..=nl];
                if line.iter().all(u8::is_ascii_whitespace) {
                    self.inner.consume(nl + 1);
                    continue;
                }
                let fast = self.fast
                    && std::str::from_utf8(line).is_ok()
                    && read_fast(line, &self.cols, &self.index, &mut self.guess, &self.plain, &mut self.scratch, raw)
                        .is_some();
                if fast {
                    text.extend_from_slice(line);
                    self.inner.consume(nl + 1);
                    self.fast_rows += 1;
                    return Ok(Some(JsonRead::Row(self.line, Ok(()))));
                }
                self.buf.clear();
                self.buf.extend_from_slice(line);
                self.inner.consume(nl + 1);
                tried = true;
            } else {
                // across the buffer's end, or the last line without a line break
                self.buf.clear();
                self.inner.read_until(b'\n', &mut self.buf)?;
                if self.buf.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
            }
            break;
        }
        let line = self.line;
        text.extend_from_slice(&self.buf);
        if std::str::from_utf8(&self.buf).is_err() {
            return Ok(Some(JsonRead::Row(line, Err("invalid UTF-8".into()))));
        }
        let fast = self.fast
            && !tried
            && read_fast(&self.buf, &self.cols, &self.index, &mut self.guess, &self.plain, &mut self.scratch, raw)
                .is_some();
        if fast {
            self.fast_rows += 1;
            return Ok(Some(JsonRead::Row(line, Ok(()))));
        }
        let got = self.read_slow(line, raw);
        if let JsonRead::Columns(..) = got {
            // the row's text comes with the row, after the columns
            text.truncate(text.len() - self.buf.len());
        }
        Ok(Some(got))
    }

    /// The line through `serde_json`, adding the keys it has not seen.
    fn read_slow(&mut self, line: u64, raw: &mut RawFields) -> JsonRead {
        // checked to be UTF-8 by `read`
        let text = String::from_utf8_lossy(&self.buf);
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&text) {
            Ok(obj) => obj,
            Err(e) => return JsonRead::Row(line, Err(format!("invalid JSON object: {e}"))),
        };
        let mut fields = Vec::new();
        flatten(&obj, "", &mut fields);
        let mut added = Vec::new();
        for (k, _) in &fields {
            if !self.index.contains_key(k) {
                self.index.insert(k.clone(), self.cols.len());
                self.cols.push(k.clone());
                self.plain.push(!k.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20));
                added.push(k.clone());
            }
        }
        raw.reset(self.cols.len());
        for (k, v) in &fields {
            raw.set_field(self.index[k], json_text(v).as_bytes());
        }
        raw.mark_utf8();
        let res = Ok(());
        if added.is_empty() {
            return JsonRead::Row(line, res);
        }
        self.pending = Some((line, res));
        std::mem::swap(raw, &mut self.pending_raw);
        JsonRead::Columns(line, added)
    }
}

/// `line` read into `raw` under `cols` (with `JsonRecords`' `index`,
/// `guess`, `plain` and its `scratch`), or None to leave it to
/// `read_slow`.
fn read_fast(
    line: &[u8],
    cols: &[String],
    index: &HashMap<String, usize>,
    guess: &mut Vec<usize>,
    plain: &[bool],
    scratch: &mut Scratch,
    raw: &mut RawFields,
) -> Option<()> {
    // (after a line with objects, the next is taken to have them too)
    if !scratch.nested {
        match read_flat(line, cols, index, guess, plain, &mut scratch.key, raw) {
            Flat::Read => return Some(()),
            Flat::Refused => return None,
            Flat::Nested => scratch.nested = true,
        }
    }
    let mut p = Cursor { b: line, i: 0 };
    raw.reset(cols.len());
    let Scratch { key, set, objects, paths, known, nested } = scratch;
    key.clear();
    set.clear();
    set.resize(cols.len().div_ceil(64), 0);
    objects.clear();
    paths.clear();
    let mut line = Line { cols, index, guess, plain, key, set, objects, paths, known, raw, place: 0 };
    p.ws();
    line.object(&mut p, 0, 0)?;
    p.ws();
    if p.i != p.b.len() {
        return None;
    }
    line.raw.mark_utf8();
    *nested = !line.objects.is_empty();
    Some(())
}

/// What `read_flat` made of a line.
enum Flat {
    /// read into the row
    Read,
    /// not a line the small parser reads
    Refused,
    /// a nested object or a key that is no column (perhaps an object's):
    /// for `Line::object`
    Nested,
}

/// A line of one flat object whose keys are all columns, read in one
/// loop: the shape of most logs, kept apart from `Line::object`, whose
/// bookkeeping for paths cost flat lines a tenth of their import time.
/// A key repeated on the line keeps its last value, as `serde_json`'s map
/// does.
fn read_flat(
    line: &[u8],
    cols: &[String],
    index: &HashMap<String, usize>,
    guess: &mut Vec<usize>,
    plain: &[bool],
    key: &mut Vec<u8>,
    raw: &mut RawFields,
) -> Flat {
    let mut p = Cursor { b: line, i: 0 };
    raw.reset(cols.len());
    p.ws();
    if p.eat(b'{').is_none() {
        return Flat::Refused;
    }
    p.ws();
    if p.eat(b'}').is_none() {
        let mut place = 0;
        loop {
            let col = match guess.get(place) {
                // the key of this place on the last line, written as it was
                Some(&g) if plain[g] && p.quoted(cols[g].as_bytes()) => g,
                // lines of a few shapes (a purchase has keys a page view
                // lacks): the columns in turn, while there are few
                _ => match (cols.len() <= 64)
                    .then(|| (0..cols.len()).find(|&c| plain[c] && p.quoted(cols[c].as_bytes())))
                {
                    Some(Some(c)) => c,
                    _ => {
                        key.clear();
                        if p.string(key).is_none() {
                            return Flat::Refused;
                        }
                        match std::str::from_utf8(key).ok().and_then(|k| index.get(k)) {
                            Some(&c) => c,
                            None => return Flat::Nested,
                        }
                    }
                },
            };
            match guess.get_mut(place) {
                Some(g) => *g = col,
                None => guess.push(col),
            }
            place += 1;
            p.ws();
            if p.eat(b':').is_none() {
                return Flat::Refused;
            }
            p.ws();
            let start = raw.buf().len();
            let read = match p.peek() {
                Some(b'{') => return Flat::Nested,
                Some(b'"') => p.string(raw.buf()),
                Some(b'[') => p.list(raw.buf()),
                Some(b'n') => p.word(b"null"),
                Some(b't') => p.word(b"true").map(|()| raw.buf().extend_from_slice(b"true")),
                Some(b'f') => p.word(b"false").map(|()| raw.buf().extend_from_slice(b"false")),
                Some(_) => p.number(raw.buf()),
                None => None,
            };
            if read.is_none() {
                return Flat::Refused;
            }
            let end = raw.buf().len();
            raw.set_span(col, start, end);
            p.ws();
            if p.eat(b',').is_some() {
                p.ws();
                continue;
            }
            if p.eat(b'}').is_none() {
                return Flat::Refused;
            }
            break;
        }
    }
    p.ws();
    if p.i != p.b.len() {
        return Flat::Refused;
    }
    raw.mark_utf8();
    Flat::Read
}

/// Buffers `read_fast` reuses from line to line.
#[derive(Default)]
struct Scratch {
    /// the path of the object being read (`properties.`), then a key
    key: Vec<u8>,
    /// the columns given a value on the line
    set: Vec<u64>,
    /// the paths of the objects read on the line, in `paths`
    objects: Vec<(usize, usize)>,
    paths: Vec<u8>,
    /// the paths of objects read on earlier lines (a few), each written
    /// without escapes
    known: Vec<Vec<u8>>,
    /// the last line read had an object in it
    nested: bool,
}

/// What `read_fast` reads a line with (see `Scratch` for the buffers).
struct Line<'a> {
    cols: &'a [String],
    index: &'a HashMap<String, usize>,
    guess: &'a mut Vec<usize>,
    plain: &'a [bool],
    key: &'a mut Vec<u8>,
    set: &'a mut Vec<u64>,
    objects: &'a mut Vec<(usize, usize)>,
    paths: &'a mut Vec<u8>,
    known: &'a mut Vec<Vec<u8>>,
    raw: &'a mut RawFields,
    /// the fields read so far on this line, nested ones included
    place: usize,
}

impl Line<'_> {
    /// The object at `p`, its fields named after the path `key[..path]`,
    /// `depth` objects down. Deeper than `serde_json` reads (128) is left
    /// to it, which refuses the line: the stack stays bounded.
    fn object(&mut self, p: &mut Cursor, path: usize, depth: usize) -> Option<()> {
        if depth >= 128 {
            return None;
        }
        p.eat(b'{')?;
        p.ws();
        if p.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let col = self.column(p, path)?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            if p.peek()? == b'{' {
                // a nested object: its fields are named by their path
                if let Some(c) = col {
                    self.key.truncate(path);
                    self.key.extend_from_slice(&self.cols[c].as_bytes()[path..]);
                }
                // its key given before on this line, for an object or a
                // value: left to `serde_json` (the last one stands whole)
                let named = &self.key[..];
                if self.objects.iter().any(|&(a, b)| &self.paths[a..b] == named)
                    || std::str::from_utf8(named).ok().and_then(|k| self.index.get(k)).is_some_and(|&c| self.is_set(c))
                {
                    return None;
                }
                let a = self.paths.len();
                self.paths.extend_from_slice(named);
                self.objects.push((a, self.paths.len()));
                // (a name written with escapes is not its bytes in the
                // line: it is decoded each time, as a column's would be)
                let name = &self.paths[a..];
                if col.is_none()
                    && self.known.len() < 16
                    && !name.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20)
                    && !self.known.iter().any(|o| o[..] == *name)
                {
                    self.known.push(name.to_vec());
                }
                self.key.push(b'.');
                let inner = self.key.len();
                self.object(p, inner, depth + 1)?;
                self.key.truncate(path);
            } else {
                let col = match col {
                    Some(c) => c,
                    None => *self.index.get(std::str::from_utf8(self.key).ok()?)?,
                };
                // a column given twice on a line (a key repeated, a path
                // also written out as a key) is left to `serde_json`, which
                // says which value stands
                let name = self.cols[col].as_bytes();
                if self.is_set(col) || self.objects.iter().any(|&(a, b)| &self.paths[a..b] == name) {
                    return None;
                }
                self.set[col / 64] |= 1 << (col % 64);
                // the next line's guess for this place
                match self.guess.get_mut(self.place) {
                    Some(g) => *g = col,
                    None => self.guess.push(col),
                }
                self.place += 1;
                self.value(p, col)?;
            }
            p.ws();
            if p.eat(b',').is_some() {
                p.ws();
                continue;
            }
            return p.eat(b'}');
        }
    }

    /// Whether column `col` was given a value on this line.
    fn is_set(&self, col: usize) -> bool {
        self.set[col / 64] >> (col % 64) & 1 == 1
    }

    /// The key at `p`: Some(the column) whose name is the path
    /// `key[..path]` and the key, when found without decoding it, else
    /// Some(None) with the key decoded after the path in `key`; None for
    /// a bad key.
    fn column(&mut self, p: &mut Cursor, path: usize) -> Option<Option<usize>> {
        let (cols, plain, key) = (self.cols, self.plain, &self.key[..path]);
        let named = |c: usize, p: &mut Cursor| {
            let name = cols[c].as_bytes();
            plain[c] && name.len() > path && &name[..path] == key && p.quoted(&name[path..])
        };
        if let Some(&g) = self.guess.get(self.place)
            && named(g, p)
        {
            // the key of this place on the last line, written as it was
            return Some(Some(g));
        }
        // the key of an object met on earlier lines (`properties`): taken
        // as decoded, before the columns are tried in vain
        let known = self.known.iter().position(|o| o.len() > path && &o[..path] == key && p.quoted(&o[path..]));
        if let Some(o) = known {
            self.key.clear();
            self.key.extend_from_slice(&self.known[o]);
            return Some(None);
        }
        // lines of a few shapes (a purchase has keys a page view lacks):
        // the columns in turn, while there are few
        let col = if cols.len() <= 64 { (0..cols.len()).find(|&c| named(c, p)) } else { None };
        if col.is_none() {
            self.key.truncate(path);
            p.string(self.key)?;
        }
        Some(col)
    }

    /// The value at `p`, as the text of column `col`.
    fn value(&mut self, p: &mut Cursor, col: usize) -> Option<()> {
        let start = self.raw.buf().len();
        match p.peek()? {
            b'"' => p.string(self.raw.buf())?,
            b'[' => p.list(self.raw.buf())?,
            b'n' => p.word(b"null")?,
            b't' => {
                p.word(b"true")?;
                self.raw.buf().extend_from_slice(b"true");
            }
            b'f' => {
                p.word(b"false")?;
                self.raw.buf().extend_from_slice(b"false");
            }
            _ => p.number(self.raw.buf())?,
        }
        let end = self.raw.buf().len();
        self.raw.set_span(col, start, end);
        Some(())
    }
}

/// Where a string's plain text stops: the first `"`, `\\` or control
/// character of `b`. Eight bytes at a time: a byte's flag in each mask is
/// exact up to the first byte that mask flags, so the lowest flag of the
/// three is the first such byte.
fn string_stop(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(w) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(w.try_into().unwrap_or_default());
        let (q, s) = (x ^ (ONES * b'"' as u64), x ^ (ONES * b'\\' as u64));
        let found = (q.wrapping_sub(ONES) & !q | s.wrapping_sub(ONES) & !s | x.wrapping_sub(ONES * 0x20) & !x) & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|n| i + n)
}

/// A place in a line being read; each method consumes what it names or
/// returns None.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        let got = self.b.get(self.i..self.i + w.len())?;
        (got == w).then(|| self.i += w.len())
    }

    /// The string `"text"`, taken when it is next.
    fn quoted(&mut self, text: &[u8]) -> bool {
        let at = self.i + 1;
        // the closing quote before the text: most keys tried are not this
        // one, and most of those differ in length
        let here = self.b.get(self.i) == Some(&b'"')
            && self.b.get(at + text.len()) == Some(&b'"')
            && self.b.get(at..at + text.len()) == Some(text);
        if here {
            self.i = at + text.len() + 1;
        }
        here
    }

    /// A string, decoded, appended to `out`.
    fn string(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let rest = &self.b[self.i..];
            let n = string_stop(rest)?;
            out.extend_from_slice(&rest[..n]);
            self.i += n + 1;
            match rest[n] {
                b'"' => return Some(()),
                b'\\' => {}
                _ => return None, // a control character: serde_json says which
            }
            let c = self.peek()?;
            self.i += 1;
            let byte = match c {
                b'"' | b'\\' | b'/' => c,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let mut u = self.hex4()?;
                    if (0xDC00..0xE000).contains(&u) {
                        return None; // a lone trailing surrogate
                    }
                    if (0xD800..0xDC00).contains(&u) {
                        self.word(b"\\u")?;
                        let low = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return None;
                        }
                        u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
                    }
                    let ch = char::from_u32(u)?;
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
                _ => return None,
            };
            out.push(byte);
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &c in h {
            v = v * 16 + (c as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    /// A number in JSON's grammar, appended as `serde_json` keeps it
    /// (as written, but an exponent spelled `e` with its sign).
    fn number(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let start = self.i;
        let _ = self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(b'.').is_some() {
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        out.extend_from_slice(&self.b[start..self.i]);
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            out.push(b'e');
            match self.peek() {
                Some(c @ (b'+' | b'-')) => {
                    self.i += 1;
                    out.push(c);
                }
                _ => out.push(b'+'),
            }
            self.peek().filter(u8::is_ascii_digit)?;
            let digits = self.i;
            self.digits();
            out.extend_from_slice(&self.b[digits..self.i]);
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// A list of strings and numbers, `;`-joined.
    fn list(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            match self.peek()? {
                b'"' => self.string(out)?,
                _ => self.number(out)?,
            }
            self.ws();
            if self.eat(b']').is_some() {
                return Some(());
            }
            self.eat(b',')?;
            self.ws();
            out.push(b';');
        }
    }
}

/// The fields of `obj` with their keys, a nested object's named by their
/// path (`{"properties": {"revenue": 12.5}}` gives `properties.revenue`,
/// as trackers such as Segment nest an event's details), in the order of
/// the object's keys (sorted: `serde_json` keeps no order). Where a path
/// is also written out as a key (`"a.b"` beside `"a": {"b": …}`), the key
/// written out is read: it sorts after `a`, and a later field wins.
fn flatten<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    prefix: &str,
    out: &mut Vec<(String, &'a serde_json::Value)>,
) {
    for (k, v) in obj {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            serde_json::Value::Object(inner) => flatten(inner, &key, out),
            _ => out.push((key, v)),
        }
    }
}

/// The text form of a JSON value: numbers verbatim, a list of strings and
/// numbers `;`-joined, any other list (of objects, as Segment's
/// `products` and GA4's `items` are) as its JSON text.
pub fn json_text(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Null => String::new(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => n.to_string(),
        J::String(s) => s.clone(),
        J::Array(items) if items.iter().all(|i| matches!(i, J::String(_) | J::Number(_))) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    J::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            parts.join(";")
        }
        // (`flatten` names a nested object's fields: an object is here
        // only inside a list)
        J::Array(_) | J::Object(_) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `string_stop` finds the byte a scan one byte at a time finds, in
    /// strings of every length up to 40 made of the bytes around each
    /// boundary (quote, backslash, controls, space, UTF-8 bytes).
    #[test]
    fn string_stop_is_the_first_special_byte() {
        let alphabet = [b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa0, 0xff, 0x22 ^ 0x80];
        let mut x: u64 = 1;
        for len in 0..40 {
            for _ in 0..2000 {
                let b: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        // mostly plain bytes, as strings are
                        let r = (x >> 33) as usize % (alphabet.len() * 4);
                        if r < alphabet.len() { alphabet[r] } else { b'a' + (r % 26) as u8 }
                    })
                    .collect();
                let want = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
                assert_eq!(string_stop(&b), want, "{b:?}");
            }
        }
    }

    /// Every row the records give: its line, its fields by column name
    /// or the reason, and how many lines the small parser read.
    type Rows = Vec<(u64, Result<Vec<(String, String)>, String>)>;
    fn rows(text: &str, fast: bool, capacity: usize) -> (Rows, u64) {
        let mut r = JsonRecords::new(std::io::BufReader::with_capacity(capacity, text.as_bytes()));
        r.fast = fast;
        let mut raw = RawFields::default();
        let mut out = Vec::new();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut line_text = Vec::new();
        while let Some(got) = r.read(&mut raw, &mut line_text).unwrap() {
            if let JsonRead::Row(line, res) = got {
                assert_eq!(std::str::from_utf8(&line_text).unwrap(), lines[line as usize - 1], "line {line}");
                line_text.clear();
                let fields = res.map(|()| {
                    let text = raw.iter().map(|f| String::from_utf8(f.to_vec()).unwrap());
                    r.cols.iter().cloned().zip(text).filter(|(_, v)| !v.is_empty()).collect()
                });
                out.push((line, fields));
            }
        }
        (out, r.fast_rows)
    }

    /// A line nested past `serde_json`'s limit is refused as it says,
    /// with the stack intact (the small parser leaves it alone); one
    /// within it is read, by the small parser too.
    #[test]
    fn deep_nesting_is_refused_as_serde_json_refuses_it() {
        let deep = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        let text = format!("{{\"contact\":\"c\"}}\n{}\n{}\n", deep(100_000), deep(100));
        for fast in [true, false] {
            let (rows, _) = rows(&text, fast, 1 << 16);
            assert!(matches!(&rows[1], (2, Err(m)) if m.contains("recursion limit")), "{:?}", rows[1]);
            let key = format!("{}a", "a.".repeat(99));
            assert!(matches!(&rows[2], (3, Ok(f)) if f.iter().any(|(k, v)| *k == key && v == "1")), "{:?}", rows[2]);
        }
        // at the limit, as serde_json reads it
        for n in 126..=130 {
            let text = format!("{}\n{}\n", deep(n), deep(n));
            assert_eq!(rows(&text, true, 1 << 16).0, rows(&text, false, 1 << 16).0, "{n} deep");
        }
        // (the first line names the column, the second is read fast)
        assert_eq!(rows(&format!("{}\n{}\n", deep(100), deep(100)), true, 1 << 16).1, 1);
    }

    #[test]
    fn the_fast_reader_reads_as_serde_json_does() {
        let lines = [
            r#"{"contact": "C1", "ts": "2024-01-01T00:00:00Z", "kind": "purchase", "amount": 12.50, "tags": ["a", "b"]}"#,
            r#"{"contact":"C2","ts":"2024-01-01T00:00:01Z","kind":"page_view","amount":null,"tags":[]}"#,
            r#"  {"kind": "purchase", "contact": "C3", "ts": "x", "amount": -0, "tags": [1, 2.5e3, "x"]}  "#,
            r#"{"contact": "Jos\u00e9 \"J\" \\ \/ \b\f\n\r\t", "ts": "t", "kind": "k", "amount": 1E+2}"#,
            r#"{"contact": "\ud83d\ude00 emoji", "ts": "t", "kind": "k", "amount": 7}"#,
            r#"{"contact": "\ud83d lone", "ts": "t", "kind": "k"}"#,
            r#"{"contact": "\ude00 lone", "ts": "t", "kind": "k"}"#,
            r#"{"contact": "C4", "ts": "t", "kind": "k", "amount": true, "tags": false}"#,
            r#"{"contact": "C4", "contact": "C5", "ts": "t", "kind": "k"}"#,
            r#"{"contact": "C6", "ts": "t", "kind": "k", "extra": {"nested": 1}}"#,
            r#"{"contact": "C6", "ts": "t", "kind": "k", "extra": {"nested": 2, "deep": {"er": [1, "x"]}}, "e": {}}"#,
            r#"{"contact": "C6", "extra.nested": 3, "extra": {"nested": 4}, "ts": "t", "kind": "k"}"#,
            r#"{"contact": "C6", "ts": "t", "kind": "k", "extra": {"nested": [{"no": 1}]}}"#,
            r#"{"contact": "C6", "ts": "t", "kind": "k", "extra": {"nested": 5,}}"#,
            r#"{"contact": "C6", "o\"x": {"a": 1}, "b\\n": {"a": 2}}"#,
            r#"{"contact": "C6", "o"x": {"a": 1}}"#,
            r#"{"contact": "C6", "b\n": {"a": 3}}"#,
            r#"{"contact": "C7", "ts": "t", "kind": "k", "tags": [[1]]}"#,
            r#"{"contact": "C8", "ts": "t", "kind": "k",}"#,
            r#"{"contact": "C9" "ts": "t"}"#,
            r#"["not", "an", "object"]"#,
            r#"{"contact": "C10", "ts": "t", "kind": "k"} trailing"#,
            "{\"contact\": \"tab\there\", \"ts\": \"t\", \"kind\": \"k\"}",
            r#"{"contact": "C11", "ts": "t", "kind": "k", "amount": 1.}"#,
            r#"{"contact": "C12", "ts": "t", "kind": "k", "amount": .5}"#,
            r#"{"contact": "C13", "ts": "t", "kind": "k", "amount": -}"#,
            r#"{"contact": "C14", "ts": "t", "kind": "k", "amount": 1e}"#,
            r#"{"contact": "C15", "ts": "t", "kind": "k", "amount": 123456789012345678901234567890}"#,
            r#"{"contact": "C16", "ts": "t", "kind": "k", "amount": "\u0000"}"#,
            r#"{"contact": "C17", "ts": "t", "kind": "k", "amount": "\x"}"#,
            r#"{"contact": "C18", "ts": "t", "kind": "k", "amount": nul}"#,
            r#"{}"#,
            r#"{"contact": "C23", "ts": "t", "kind": "k", "amount": 007}"#,
            "",
            "   ",
            r#"{"contact": "C19", "ts": "t", "kind": "k", "amount": 3, "new_key": "v", "another": 1}"#,
            r#"{"another": 2, "new_key": "w", "contact": "C20", "ts": "t", "kind": "k"}"#,
            r#"{"contact": "C21", "ts": "t", "kind": "k", "tags": ["a" , 1 ,"b"] , "amount" : 0.0e-0 }"#,
            "{\"contact\": \"C22\", \"ts\": \"t\", \"kind\": \"k\"}\r",
            r#"{"\u0063ontact": "C24", "ts": "t", "kind": "k", "a\"b": 1, "a\\b": 2}"#,
            r#"{"contact": "C25", "ts": "t", "kind": "k", "a\"b": 3, "a\\b": 4}"#,
            r#"{"contact": "C26", "ts": "t", "kind": "k", "a\u0022b": 5, "a\\b": 6}"#,
        ];
        let text = lines.join("\n") + "\n";
        let (fast, fast_rows) = rows(&text, true, 1 << 16);
        let (slow, slow_fast_rows) = rows(&text, false, 1 << 16);
        // lines across the ends of the reader's buffer read alike
        assert_eq!(rows(&text, true, 7), (fast.clone(), fast_rows));
        assert_eq!(slow_fast_rows, 0);
        assert!(fast_rows >= 10, "the small parser read only {fast_rows} lines");
        assert_eq!(fast.len(), lines.len() - 2, "blank lines are skipped");
        for (f, s) in fast.iter().zip(&slow) {
            assert_eq!(f, s);
        }
        assert_eq!(fast.len(), slow.len());
        // numbers as written, lists joined, null empty, escapes decoded
        let field = |row: usize, name: &str| {
            let fields = fast[row].1.as_ref().unwrap();
            fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        assert_eq!(field(0, "amount"), "12.50");
        assert_eq!(field(0, "tags"), "a;b");
        assert_eq!(field(1, "amount"), "");
        assert_eq!(field(2, "tags"), "1;2.5e+3;x");
        assert_eq!(field(3, "contact"), "José \"J\" \\ / \u{8}\u{c}\n\r\t");
        assert_eq!(field(4, "contact"), "😀 emoji");
        assert!(fast[5].1.is_err() && fast[6].1.is_err(), "lone surrogates are refused");
        assert_eq!(field(8, "contact"), "C5", "the last of a repeated key");
        let last = fast.len() - 1;
        assert_eq!(field(last - 2, "contact"), "C24", "a key spelled with an escape");
        assert_eq!((field(last, "a\"b"), field(last, "a\\b")), ("5".into(), "6".into()));
    }

    /// Whatever the lines (flat objects of JSON's values, some cut short
    /// or with a piece out of place), the small parser reads what
    /// `serde_json` reads.
    #[test]
    fn random_lines_read_as_serde_json_does() {
        use proptest::prelude::*;
        let number = "-?(0|[1-9][0-9]{0,3}|0[0-9])(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?";
        let string = prop_oneof![
            any::<String>().prop_map(|t| serde_json::to_string(&t).unwrap()),
            "\"([a-z ]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-F]{4}|\\\\ud83d\\\\ude00|\\\\udc00|\\\\ud83d|é|\t)*\"",
        ];
        let scalar = prop_oneof![
            number.prop_map(String::from),
            string.clone(),
            Just("true".to_string()),
            Just("null".to_string()),
            Just("fals".to_string()),
            Just("{\"a\": 1}".to_string()),
        ];
        let list = proptest::collection::vec(scalar.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(", ")));
        // nested objects whose paths meet keys written out (`"a.b"`) and
        // each other's fields
        let inner_key =
            prop_oneof![Just("\"a\""), Just("\"b\""), Just("\"contact\""), Just("\"a.b\""), Just("\"o\\\"x\"")];
        let nested = proptest::collection::vec((inner_key, scalar.clone()), 0..3).prop_map(|m| {
            let fields: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{{}}}", fields.join(", "))
        });
        let value = prop_oneof![4 => scalar, 1 => list, 2 => nested];
        let key = prop_oneof![
            Just("\"contact\""),
            Just("\"ts\""),
            Just("\"amount\""),
            Just("\"\\u0063ontact\""),
            Just("\"new\""),
            Just("\"a\""),
            Just("\"a.b\""),
            Just("\"o\\\"x\""),
        ];
        let space = prop_oneof![Just(""), Just(" "), Just("\t")];
        let member = (key, space.clone(), value).prop_map(|(k, sp, v)| format!("{k}{sp}:{sp}{v}"));
        let spoil = prop_oneof![
            6 => Just(None),
            1 => (0usize..40, prop_oneof![Just(","), Just("\""), Just("}"), Just("\\"), Just("\u{1}")])
                .prop_map(|(at, p)| Some((at, p))),
        ];
        let line = (proptest::collection::vec(member, 0..6), space, spoil).prop_map(|(m, sp, spoil)| {
            let mut l = format!("{sp}{{{}}}{sp}", m.join(","));
            if let Some((at, p)) = spoil {
                let at = (0..=at.min(l.len())).rev().find(|&i| l.is_char_boundary(i)).unwrap_or(0);
                l.insert_str(at, p);
            }
            l
        });
        let cases = ProptestConfig::with_cases(2000);
        proptest!(cases, |(lines in proptest::collection::vec(line, 1..12), capacity in 1usize..40)| {
            // a first line that names the keys, so that later lines are read fast
            let text = format!("{{\"contact\":1,\"ts\":2,\"amount\":3}}\n{}\n", lines.join("\n"));
            let (fast, fast_rows) = rows(&text, true, 1 << 16);
            let (slow, _) = rows(&text, false, 1 << 16);
            FAST.fetch_add(fast_rows, std::sync::atomic::Ordering::Relaxed);
            prop_assert_eq!(&fast, &slow);
            prop_assert_eq!(rows(&text, true, capacity).0, fast);
        });
        // (lines of one or no key are read fast too)
        let fast = FAST.load(std::sync::atomic::Ordering::Relaxed);
        assert!(fast > 200, "the small parser read only {fast} lines");
    }

    static FAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
}
