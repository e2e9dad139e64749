//! Reads CSV records with their physical line numbers. A line without
//! quotes or carriage returns inside is split at the delimiter directly
//! (most lines of a machine-written file), and so is a line whose quoted
//! fields are simply quoted (`"text, even with the delimiter"`: quotes
//! around the whole field, none inside, as exports write text columns);
//! anything else goes through `csv_core`, the state machine of the `csv`
//! crate, so escaped quotes and line breaks inside fields follow the same
//! rules. Blank lines are skipped.

use csv::ByteRecord;
use std::io::{self, BufRead};

/// Where a field starts and ends in its record's bytes (records are shorter
/// than 4 GiB: lines are limited far below that).
type Span = (u32, u32);

/// The fields of one record as bytes: field `i` is `bytes[spans[i].0..spans[i].1]`.
#[derive(Clone, Debug, Default)]
pub struct RawFields {
    bytes: Vec<u8>,
    spans: Vec<Span>,
    /// the bytes are known to be UTF-8 (every byte ASCII, or the text of a
    /// JSON line checked whole)
    utf8: bool,
    /// fields read as empty for a NULL spelling (`CsvRecords::set_nulls`):
    /// their index and their span as written, which a rejects file writes
    nulled: Vec<(u32, Span)>,
}

impl RawFields {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.utf8 = false;
        self.nulled.clear();
    }

    pub fn push_field(&mut self, f: &[u8]) {
        self.utf8 = false;
        self.push_bytes(f);
    }

    /// A field of text after the others, keeping what is known of the
    /// bytes before (a partition column's value, added to each row).
    pub fn push_text(&mut self, f: &str) {
        self.push_bytes(f.as_bytes());
    }

    fn push_bytes(&mut self, f: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(f);
        self.spans.push((start as u32, self.bytes.len() as u32));
    }

    /// Empties the record to `ncols` empty fields (a JSON line's row,
    /// filled by column with `set_field` or `buf` and `set_span`).
    pub fn reset(&mut self, ncols: usize) {
        self.bytes.clear();
        self.spans.clear();
        self.spans.resize(ncols, (0, 0));
        self.utf8 = false;
        self.nulled.clear();
    }

    /// The bytes fields are appended to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Field `col` is `buf()[start..end]`.
    pub fn set_span(&mut self, col: usize, start: usize, end: usize) {
        self.spans[col] = (start as u32, end as u32);
    }

    /// Field `col` is `f` (appended to the bytes).
    pub fn set_field(&mut self, col: usize, f: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(f);
        self.set_span(col, start, self.bytes.len());
    }

    /// The bytes are known to be UTF-8 (read from checked text).
    pub fn mark_utf8(&mut self) {
        self.utf8 = true;
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let &(a, b) = self.spans.get(i)?;
        self.bytes.get(a as usize..b as usize)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|&(a, b)| &self.bytes[a as usize..b as usize])
    }

    /// The fields as written (a NULL spelling read as empty written back).
    pub fn to_byte_record(&self) -> ByteRecord {
        as_written(&self.bytes, &self.spans, &self.nulled)
    }
}

/// The fields of `bytes` at `spans`, each of `nulled` at its span as written.
fn as_written(bytes: &[u8], spans: &[Span], nulled: &[(u32, Span)]) -> ByteRecord {
    let mut spans = spans.to_vec();
    for &(i, s) in nulled {
        if let Some(at) = spans.get_mut(i as usize) {
            *at = s;
        }
    }
    spans.iter().map(|&(a, b)| &bytes[a as usize..b as usize]).collect()
}

/// The fields of one record, checked to be UTF-8.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    text: String,
    spans: Vec<Span>,
    /// as `RawFields::nulled`
    nulled: Vec<(u32, Span)>,
}

impl Fields {
    /// Checks the bytes are UTF-8; on failure hands them back with the
    /// index of the first bad field.
    pub fn from_raw(raw: RawFields) -> Result<Fields, (RawFields, usize)> {
        let RawFields { bytes, spans, utf8, nulled } = raw;
        if utf8 {
            // SAFETY: the CSV splitter saw every byte and found them all
            // ASCII, or the JSON reader took them from a line checked to be
            // UTF-8 and from `char`s it encoded (`mark_utf8`).
            return Ok(Fields { text: unsafe { String::from_utf8_unchecked(bytes) }, spans, nulled });
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Fields { text, spans, nulled }),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let field = spans.iter().position(|&(_, b)| at < b as usize).unwrap_or(0);
                Err((RawFields { bytes: e.into_bytes(), spans, utf8: false, nulled }, field))
            }
        }
    }

    pub fn into_raw(self) -> RawFields {
        RawFields { bytes: self.text.into_bytes(), spans: self.spans, utf8: false, nulled: self.nulled }
    }

    pub fn from_strs<'a>(fields: impl IntoIterator<Item = &'a str>) -> Fields {
        let mut f = Fields::default();
        for s in fields {
            let start = f.text.len();
            f.text.push_str(s);
            f.spans.push((start as u32, f.text.len() as u32));
        }
        f
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        let &(a, b) = self.spans.get(i)?;
        self.text.get(a as usize..b as usize)
    }

    /// All the record's text (for prefetching).
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Where the fields are (for prefetching).
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// The fields as written (a NULL spelling read as empty written back).
    pub fn to_byte_record(&self) -> ByteRecord {
        as_written(self.text.as_bytes(), &self.spans, &self.nulled)
    }
}

pub struct CsvRecords<R> {
    inner: R,
    delim: u8,
    /// text with backslash escapes and no quoting (`set_text`)
    text: bool,
    core: csv_core::Reader,
    /// the physical line the next record starts on (1-based)
    line: u64,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// fields of exactly these bytes are read as empty (`\N`)
    nulls: Vec<Vec<u8>>,
}

impl<R: BufRead> CsvRecords<R> {
    pub fn new(inner: R, delim: u8) -> CsvRecords<R> {
        let core = csv_core::ReaderBuilder::new().delimiter(delim).build();
        CsvRecords {
            inner,
            delim,
            text: false,
            core,
            line: 1,
            out: vec![0; 1024],
            ends: vec![0; 64],
            nulls: Vec::new(),
        }
    }

    /// The next record starts on physical line `line` (lines before it
    /// were read by the caller).
    pub fn set_line(&mut self, line: u64) {
        self.line = line;
    }

    /// Reads text as PostgreSQL's `COPY` (its text format), MySQL's `INTO
    /// OUTFILE` and ClickHouse's `TabSeparated` write it: no quoting (a
    /// `"` is a character), a line a record, and backslash escapes (`\t`,
    /// `\n`, `\\`, octal `\101`, `\x41`; a backslash before a line break
    /// or the delimiter keeps it in the field). `\N` is left for the NULL
    /// spellings (`set_nulls`).
    pub fn set_text(&mut self) {
        self.text = true;
    }

    /// From the next record on, fields of exactly one of `nulls` (as
    /// written or inside quotes) are read as empty: the `\N` that MySQL,
    /// PostgreSQL's text format and ClickHouse write for NULL.
    pub fn set_nulls(&mut self, nulls: &[String]) {
        self.nulls = nulls.iter().filter(|n| !n.is_empty()).map(|n| n.as_bytes().to_vec()).collect();
    }

    /// Reads the next record into `rec`; returns the line it starts on, or
    /// None at the end of the input.
    pub fn read(&mut self, rec: &mut RawFields) -> io::Result<Option<u64>> {
        let got = self.read_record(rec)?;
        rec.nulled.clear();
        if !self.nulls.is_empty() {
            let RawFields { bytes, spans, nulled, .. } = rec;
            for (i, span) in spans.iter_mut().enumerate() {
                let f = &bytes[span.0 as usize..span.1 as usize];
                if self.nulls.iter().any(|n| n[..] == *f) {
                    nulled.push((i as u32, *span));
                    span.1 = span.0;
                }
            }
        }
        Ok(got)
    }

    /// `read`, fields as written.
    fn read_record(&mut self, rec: &mut RawFields) -> io::Result<Option<u64>> {
        if self.text {
            return self.read_text(rec);
        }
        loop {
            let buf = self.inner.fill_buf()?;
            match buf.first() {
                None => return Ok(None),
                // a blank line (or the `\n` of a `\r\n` that ended the last record)
                Some(b'\n') => {
                    self.inner.consume(1);
                    self.line += 1;
                    continue;
                }
                Some(b'\r') => {
                    self.inner.consume(1);
                    continue;
                }
                Some(_) => {}
            }
            let Some(nl) = memchr::memchr(b'\n', buf) else { return self.read_slow(rec) };
            let line = &buf[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // the line as it is, and where each field starts and ends in it
            rec.spans.clear();
            let plain = if self.delim.is_ascii() && self.delim != b'"' && self.delim != b'\r' {
                split_plain(line, self.delim, &mut rec.spans).or_else(|| {
                    rec.spans.clear();
                    split_simply_quoted(line, self.delim, &mut rec.spans)
                })
            } else {
                None
            };
            let Some(ascii) = plain else { return self.read_slow(rec) };
            rec.utf8 = ascii;
            rec.bytes.clear();
            rec.bytes.extend_from_slice(line);
            self.inner.consume(nl + 1);
            let at = self.line;
            self.line += 1;
            return Ok(Some(at));
        }
    }

    /// One record of text with backslash escapes (`set_text`).
    fn read_text(&mut self, rec: &mut RawFields) -> io::Result<Option<u64>> {
        // the record's bytes as written: up to a line break that no
        // backslash escapes (MySQL writes a line break in a value as `\`
        // and the break)
        let mut line = std::mem::take(&mut self.out);
        line.clear();
        let at = self.line;
        loop {
            let got = self.inner.read_until(b'\n', &mut line)?;
            if got == 0 {
                break;
            }
            self.line += 1;
            if !line.ends_with(b"\n") {
                break;
            }
            let body = &line[..line.len() - 1];
            let slashes = body.iter().rev().take_while(|&&b| b == b'\\').count();
            if slashes % 2 == 0 {
                line.pop();
                if line.ends_with(b"\r") {
                    line.pop();
                }
                break;
            }
        }
        if line.is_empty() && self.line == at {
            self.out = line;
            return Ok(None);
        }
        rec.bytes.clear();
        rec.spans.clear();
        let (mut start, mut i) = (0, 0);
        loop {
            let next = memchr::memchr2(self.delim, b'\\', &line[i..]).map(|off| i + off);
            match next {
                // the escaped byte is never a delimiter (a last `\` ends the line)
                Some(j) if line[j] == b'\\' => i = (j + 2).min(line.len()),
                _ => {
                    let field = &line[start..next.unwrap_or(line.len())];
                    let from = rec.bytes.len();
                    if field == b"\\N" {
                        // NULL as these tools write it, for the NULL spellings
                        rec.bytes.extend_from_slice(field);
                    } else {
                        unescape(field, &mut rec.bytes);
                    }
                    rec.spans.push((from as u32, rec.bytes.len() as u32));
                    match next {
                        Some(j) => (start, i) = (j + 1, j + 1),
                        None => break,
                    }
                }
            }
        }
        // (an escape can make any byte)
        rec.utf8 = rec.bytes.is_ascii();
        self.out = line;
        Ok(Some(at))
    }

    /// One record through `csv_core` (quotes, line breaks inside fields, a
    /// last line without a newline).
    fn read_slow(&mut self, rec: &mut RawFields) -> io::Result<Option<u64>> {
        use csv_core::ReadRecordResult as R;
        self.core.reset();
        let at = self.line;
        let (mut nout, mut nend) = (0, 0);
        loop {
            let input = self.inner.fill_buf()?;
            let (res, nin, o, e) = self.core.read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            self.line += memchr::memchr_iter(b'\n', &input[..nin]).count() as u64;
            self.inner.consume(nin);
            nout += o;
            nend += e;
            match res {
                R::InputEmpty => continue,
                R::OutputFull => self.out.resize(self.out.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record => {
                    rec.utf8 = false;
                    rec.bytes.clear();
                    rec.bytes.extend_from_slice(&self.out[..nout]);
                    rec.spans.clear();
                    let mut start = 0;
                    for &end in &self.ends[..nend] {
                        rec.spans.push((start as u32, end as u32));
                        start = end;
                    }
                    return Ok(Some(at));
                }
                R::End => return Ok(None),
            }
        }
    }
}

/// A field of text with backslash escapes, decoded onto `out`.
fn unescape(field: &[u8], out: &mut Vec<u8>) {
    let mut rest = field;
    // the text between escapes copied whole
    while let Some(at) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..at]);
        let Some(&e) = rest.get(at + 1) else {
            out.push(b'\\'); // a last `\` stays
            return;
        };
        let after = &rest[at + 2..];
        let mut used = 2;
        match e {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'Z' => out.push(0x1a),
            b'x' if after.first().is_some_and(u8::is_ascii_hexdigit) => {
                let n = after.iter().take(2).take_while(|b| b.is_ascii_hexdigit()).count();
                let hex = std::str::from_utf8(&after[..n]).unwrap_or("0");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                used += n;
            }
            b'0'..=b'7' => {
                let n = after.iter().take(2).take_while(|b| (b'0'..=b'7').contains(*b)).count();
                let digits = std::str::from_utf8(&rest[at + 1..at + 2 + n]).unwrap_or("0");
                out.push(u16::from_str_radix(digits, 8).unwrap_or(0) as u8);
                used += n;
            }
            other => out.push(other),
        }
        rest = &rest[at + used..];
    }
    out.extend_from_slice(rest);
}

/// Splits a line at `delim` into `spans`. None when the line holds a quote
/// or a carriage return (the state machine reads those); otherwise whether
/// every byte is ASCII. 16 bytes at a time where SSE2 is there (all of x86-64).
fn split_plain(line: &[u8], delim: u8, spans: &mut Vec<Span>) -> Option<bool> {
    let mut start = 0;
    let mut ascii = true;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline; every load is of 16
        // bytes starting at `i` with `i + 16 <= line.len()`.
        unsafe {
            let (d, q, r) = (_mm_set1_epi8(delim as i8), _mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\r' as i8));
            while i + 16 <= line.len() {
                let v = _mm_loadu_si128(line.as_ptr().add(i).cast());
                if _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, r))) != 0 {
                    return None;
                }
                ascii &= _mm_movemask_epi8(v) == 0;
                let mut m = _mm_movemask_epi8(_mm_cmpeq_epi8(v, d)) as u32;
                while m != 0 {
                    let j = i + m.trailing_zeros() as usize;
                    spans.push((start as u32, j as u32));
                    start = j + 1;
                    m &= m - 1;
                }
                i += 16;
            }
        }
    }
    for (j, &b) in line.iter().enumerate().skip(i) {
        if b == delim {
            spans.push((start as u32, j as u32));
            start = j + 1;
        } else if b == b'"' || b == b'\r' {
            return None;
        }
        ascii &= b.is_ascii();
    }
    spans.push((start as u32, line.len() as u32));
    Some(ascii)
}

/// Splits a line whose fields are each either plain (no quote) or quoted
/// whole with no quote inside (`"a, b"`), the spans of quoted fields
/// inside their quotes; None for anything else (a doubled quote, a quote
/// inside a plain field, text after a closing quote, an unclosed quote: a
/// line break inside a field, or a carriage return), which the state
/// machine reads. Otherwise whether every byte is ASCII. One pass over the
/// delimiters and quotes, found 16 bytes at a time where SSE2 is there.
fn split_simply_quoted(line: &[u8], delim: u8, spans: &mut Vec<Span>) -> Option<bool> {
    let mut q = Quoted { start: 0, state: QState::Plain, close: 0 };
    let mut ascii = true;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86-64 baseline; every load is of 16
        // bytes starting at `i` with `i + 16 <= line.len()`.
        unsafe {
            let (d, qt, r) = (_mm_set1_epi8(delim as i8), _mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b'\r' as i8));
            while i + 16 <= line.len() {
                let v = _mm_loadu_si128(line.as_ptr().add(i).cast());
                if _mm_movemask_epi8(_mm_cmpeq_epi8(v, r)) != 0 {
                    return None;
                }
                ascii &= _mm_movemask_epi8(v) == 0;
                let quotes = _mm_movemask_epi8(_mm_cmpeq_epi8(v, qt)) as u32;
                let mut m = quotes | _mm_movemask_epi8(_mm_cmpeq_epi8(v, d)) as u32;
                while m != 0 {
                    let k = m.trailing_zeros();
                    q.at(i + k as usize, quotes >> k & 1 == 1, spans)?;
                    m &= m - 1;
                }
                i += 16;
            }
        }
    }
    for (j, &b) in line.iter().enumerate().skip(i) {
        if b == delim || b == b'"' {
            q.at(j, b == b'"', spans)?;
        } else if b == b'\r' {
            return None;
        }
        ascii &= b.is_ascii();
    }
    q.end(line.len(), spans)?;
    Some(ascii)
}

#[derive(Clone, Copy, PartialEq)]
enum QState {
    /// in a field with no quote so far
    Plain,
    /// inside a quoted field
    Open,
    /// just after a quoted field's closing quote (at `close`)
    Closed,
}

/// Where `split_simply_quoted` is in its line.
struct Quoted {
    start: usize,
    state: QState,
    close: usize,
}

impl Quoted {
    /// A delimiter or (`quote`) a quote at `j`; None where the line is not
    /// simply quoted.
    #[inline(always)]
    fn at(&mut self, j: usize, quote: bool, spans: &mut Vec<Span>) -> Option<()> {
        match (self.state, quote) {
            (QState::Plain, true) if j == self.start => self.state = QState::Open,
            (QState::Open, true) => {
                self.state = QState::Closed;
                self.close = j;
            }
            (_, true) => return None,
            (QState::Open, false) => {}
            (QState::Plain, false) => {
                spans.push((self.start as u32, j as u32));
                self.start = j + 1;
            }
            (QState::Closed, false) => {
                if self.close + 1 != j {
                    return None;
                }
                spans.push((self.start as u32 + 1, self.close as u32));
                self.start = j + 1;
                self.state = QState::Plain;
            }
        }
        Some(())
    }

    /// The line's end at `len`: its last field.
    fn end(&self, len: usize, spans: &mut Vec<Span>) -> Option<()> {
        match self.state {
            QState::Plain => spans.push((self.start as u32, len as u32)),
            QState::Closed if self.close + 1 == len => spans.push((self.start as u32 + 1, self.close as u32)),
            _ => return None,
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backslash escapes as PostgreSQL, MySQL and ClickHouse write them.
    #[test]
    fn text_escapes() {
        let un = |f: &[u8]| {
            let mut out = Vec::new();
            unescape(f, &mut out);
            out
        };
        assert_eq!(un(br"a\tb\nc\\d\re"), b"a\tb\nc\\d\re");
        assert_eq!(un(br"\b\f\v\Z\0"), b"\x08\x0c\x0b\x1a\x00");
        assert_eq!(un(br"\101\1012\7"), b"AA2\x07");
        assert_eq!(un(br"\x41\x4\xg"), b"A\x04xg");
        assert_eq!(un(br#"\'\"\,q"#), br#"'",q"#);
        assert_eq!(un(b"end\\"), b"end\\");
        assert_eq!(un(b"no escapes"), b"no escapes");
    }

    /// `unescape` copies the text between escapes whole: the same bytes as
    /// decoding one byte at a time, for every string of up to six bytes
    /// over an alphabet of escapes, digits and plain bytes.
    #[test]
    fn text_escapes_match_a_byte_at_a_time() {
        fn slowly(field: &[u8]) -> Vec<u8> {
            let (mut out, mut i) = (Vec::new(), 0);
            while i < field.len() {
                let b = field[i];
                i += 1;
                if b != b'\\' || i == field.len() {
                    out.push(b);
                    continue;
                }
                let e = field[i];
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'f' => out.push(0x0c),
                    b'x' if field.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                        let n = field[i..].iter().take(2).take_while(|b| b.is_ascii_hexdigit()).count();
                        out.push(u8::from_str_radix(std::str::from_utf8(&field[i..i + n]).unwrap(), 16).unwrap());
                        i += n;
                    }
                    b'0'..=b'7' => {
                        let n = 1 + field[i..].iter().take(2).take_while(|b| (b'0'..=b'7').contains(*b)).count();
                        let digits = std::str::from_utf8(&field[i - 1..i - 1 + n]).unwrap();
                        out.push(u16::from_str_radix(digits, 8).unwrap() as u8);
                        i += n - 1;
                    }
                    other => out.push(other),
                }
            }
            out
        }
        let alphabet = b"\\xn71f9a";
        let mut field = Vec::new();
        for len in 0..=6u32 {
            for mut k in 0..alphabet.len().pow(len) {
                field.clear();
                for _ in 0..len {
                    field.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                let mut fast = Vec::new();
                unescape(&field, &mut fast);
                assert_eq!(fast, slowly(&field), "{:?}", String::from_utf8_lossy(&field));
            }
        }
    }

    /// Records of text: fields split at the delimiter (not at an escaped
    /// one), a `\` before a line break continuing the record, lines
    /// counted as written, `\N` kept for the NULL spellings.
    #[test]
    fn text_records() {
        let data = b"a\\\tb\tc\\\nd\t\\N\n\ne\tf\ng\th\\\r\ni\\";
        let mut r = CsvRecords::new(std::io::Cursor::new(&data[..]), b'\t');
        r.set_text();
        r.set_nulls(&["\\N".to_string()]);
        let mut rec = RawFields::default();
        let mut got = Vec::new();
        while let Some(line) = r.read(&mut rec).unwrap() {
            got.push((line, rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect::<Vec<_>>()));
        }
        let want: Vec<(u64, Vec<String>)> = vec![
            (1, vec!["a\tb".into(), "c\nd".into(), "".into()]),
            (3, vec!["".into()]),
            (4, vec!["e".into(), "f".into()]),
            // a `\` last on its line (before `\r\n`, or the input's end) is kept
            (5, vec!["g".into(), "h\\".into()]),
            (6, vec!["i\\".into()]),
        ];
        assert_eq!(got, want);
    }

    fn all(data: &[u8], buf: usize) -> Vec<(u64, Vec<String>)> {
        let mut r = CsvRecords::new(std::io::BufReader::with_capacity(buf, data), b',');
        let mut rec = RawFields::default();
        let mut out = Vec::new();
        while let Some(line) = r.read(&mut rec).unwrap() {
            out.push((line, rec.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()));
        }
        out
    }

    #[test]
    fn lines_quotes_and_terminators() {
        let data = b"a,b\n1,2\n\n3,4\r\n\r\n5,\"x\ny\"\n6,\"q\"\"q\"\n,\n\"7\",8\n10";
        let want: Vec<(u64, Vec<String>)> = [
            (1, vec!["a", "b"]),
            (2, vec!["1", "2"]),
            (4, vec!["3", "4"]),
            (6, vec!["5", "x\ny"]),
            (8, vec!["6", "q\"q"]),
            (9, vec!["", ""]),
            (10, vec!["7", "8"]),
            (11, vec!["10"]),
        ]
        .into_iter()
        .map(|(l, v)| (l, v.into_iter().map(String::from).collect()))
        .collect();
        // every buffer size, so records and `\r\n` straddle buffer ends
        for buf in [1, 2, 3, 5, 8, 64] {
            assert_eq!(all(data, buf), want, "buffer of {buf} bytes");
        }
    }

    /// Exports quote their text columns: those lines are split directly,
    /// with the fields' text inside the quotes.
    #[test]
    fn simply_quoted_fields_are_split_directly() {
        let mut spans = Vec::new();
        let line = b"C1,2026-11-24T10:00:00Z,\"purchase\",\"a, b\",,\"\",12.5";
        assert_eq!(split_simply_quoted(line, b',', &mut spans), Some(true));
        let fields: Vec<&[u8]> = spans.iter().map(|&(a, b)| &line[a as usize..b as usize]).collect();
        assert_eq!(fields, [&b"C1"[..], b"2026-11-24T10:00:00Z", b"purchase", b"a, b", b"", b"", b"12.5"]);
        for (line, n) in [(&b"\"x\","[..], 2), (b"\"\"", 1), (b"\"\xc3\xa9\",1", 2)] {
            spans.clear();
            assert!(split_simply_quoted(line, b',', &mut spans).is_some(), "{line:?}");
            assert_eq!(spans.len(), n, "{line:?}");
        }
        for bad in [&b"\"a\"\"b\""[..], b"a\"b", b"\"a\"b,c", b"\"open", b"\"a\rb\"", b"x,\"a\" "] {
            spans.clear();
            assert_eq!(split_simply_quoted(bad, b',', &mut spans), None, "{bad:?}");
        }
    }

    /// Whatever the input, the fields are those the `csv` crate reads.
    #[test]
    fn same_fields_as_the_csv_crate() {
        use proptest::prelude::*;
        let cell = prop_oneof![
            Just("\"quoted, with a comma\"".to_string()),
            Just("\"\"".to_string()),
            Just("a".to_string()),
            Just("0123456789abcdefghij".to_string()),
            Just("\"".to_string()),
            Just(",".to_string()),
            Just(",,,".to_string()),
            Just("\n".to_string()),
            Just("\r".to_string()),
            Just("é".to_string()),
            Just(" ".to_string()),
        ];
        proptest!(|(parts in proptest::collection::vec(cell, 0..120), buf in 1usize..64)| {
            let data = parts.concat();
            let mut want = Vec::new();
            let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data.as_bytes());
            let mut rec = ByteRecord::new();
            while r.read_byte_record(&mut rec).unwrap() {
                want.push(rec.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
            }
            let got: Vec<Vec<Vec<u8>>> =
                all(data.as_bytes(), buf).into_iter().map(|(_, f)| f.into_iter().map(String::into_bytes).collect()).collect();
            prop_assert_eq!(got, want);
        });
    }

    #[test]
    fn utf8_is_checked_per_record() {
        let data = "id,name\n1,plain ascii text longer than sixteen\n2,Zoë Łukasiewicz-Müller the second\n".as_bytes();
        let mut r = CsvRecords::new(data, b',');
        let mut rec = RawFields::default();
        let mut names = Vec::new();
        while r.read(&mut rec).unwrap().is_some() {
            let f = Fields::from_raw(std::mem::take(&mut rec)).unwrap();
            names.push(f.get(1).unwrap().to_string());
        }
        assert_eq!(names, ["name", "plain ascii text longer than sixteen", "Zoë Łukasiewicz-Müller the second"]);
        let mut bad = b"1,abcdefghijklmnopqrstuvwxyz,".to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        bad.extend_from_slice(b",x\n");
        let mut r = CsvRecords::new(&bad[..], b',');
        r.read(&mut rec).unwrap();
        assert_eq!(Fields::from_raw(rec).unwrap_err().1, 2, "the third field is not UTF-8");
    }
}
