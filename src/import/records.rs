//! Reads CSV records with their physical line numbers. A line without
//! quotes or carriage returns inside is split at the delimiter directly
//! (most lines of a machine-written file); anything else goes through
//! `csv_core`, the state machine of the `csv` crate, so quoting and line
//! breaks inside fields follow the same rules. Blank lines are skipped.

use csv::ByteRecord;
use std::io::{self, BufRead};

/// The fields of one record as bytes: field `i` is `bytes[spans[i].0..spans[i].1]`.
#[derive(Clone, Debug, Default)]
pub struct RawFields {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
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
    }

    pub fn push_field(&mut self, f: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(f);
        self.spans.push((start, self.bytes.len()));
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let &(a, b) = self.spans.get(i)?;
        self.bytes.get(a..b)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|&(a, b)| &self.bytes[a..b])
    }

    pub fn to_byte_record(&self) -> ByteRecord {
        self.iter().collect()
    }
}

/// The fields of one record, checked to be UTF-8.
#[derive(Clone, Debug, Default)]
pub struct Fields {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Fields {
    /// Checks the bytes are UTF-8; on failure hands them back with the
    /// index of the first bad field.
    pub fn from_raw(raw: RawFields) -> Result<Fields, (RawFields, usize)> {
        let RawFields { bytes, spans } = raw;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Fields { text, spans }),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let field = spans.iter().position(|&(_, b)| at < b).unwrap_or(0);
                Err((RawFields { bytes: e.into_bytes(), spans }, field))
            }
        }
    }

    pub fn into_raw(self) -> RawFields {
        RawFields { bytes: self.text.into_bytes(), spans: self.spans }
    }

    pub fn from_strs<'a>(fields: impl IntoIterator<Item = &'a str>) -> Fields {
        let mut f = Fields::default();
        for s in fields {
            let start = f.text.len();
            f.text.push_str(s);
            f.spans.push((start, f.text.len()));
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
        self.text.get(a..b)
    }

    /// All the record's text (for prefetching).
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// Where the fields are (for prefetching).
    pub fn spans(&self) -> &[(usize, usize)] {
        &self.spans
    }

    pub fn to_byte_record(&self) -> ByteRecord {
        (0..self.len()).map(|i| self.get(i).unwrap_or("")).collect()
    }
}

pub struct CsvRecords<R> {
    inner: R,
    delim: u8,
    core: csv_core::Reader,
    /// the physical line the next record starts on (1-based)
    line: u64,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: BufRead> CsvRecords<R> {
    pub fn new(inner: R, delim: u8) -> CsvRecords<R> {
        let core = csv_core::ReaderBuilder::new().delimiter(delim).build();
        CsvRecords { inner, delim, core, line: 1, out: vec![0; 1024], ends: vec![0; 64] }
    }

    /// Reads the next record into `rec`; returns the line it starts on, or
    /// None at the end of the input.
    pub fn read(&mut self, rec: &mut RawFields) -> io::Result<Option<u64>> {
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
            // the line as it is, and where each field starts and ends in it;
            // fields are short, so a plain loop beats a search per field
            rec.spans.clear();
            let mut start = 0;
            for (i, &b) in line.iter().enumerate() {
                if b == self.delim {
                    rec.spans.push((start, i));
                    start = i + 1;
                } else if b == b'"' || b == b'\r' {
                    return self.read_slow(rec);
                }
            }
            rec.spans.push((start, line.len()));
            rec.bytes.clear();
            rec.bytes.extend_from_slice(line);
            self.inner.consume(nl + 1);
            let at = self.line;
            self.line += 1;
            return Ok(Some(at));
        }
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
                    rec.bytes.clear();
                    rec.bytes.extend_from_slice(&self.out[..nout]);
                    rec.spans.clear();
                    let mut start = 0;
                    for &end in &self.ends[..nend] {
                        rec.spans.push((start, end));
                        start = end;
                    }
                    return Ok(Some(at));
                }
                R::End => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Whatever the input, the fields are those the `csv` crate reads.
    #[test]
    fn same_fields_as_the_csv_crate() {
        use proptest::prelude::*;
        let cell = prop_oneof![
            Just("a".to_string()),
            Just("\"".to_string()),
            Just(",".to_string()),
            Just("\n".to_string()),
            Just("\r".to_string()),
            Just("é".to_string()),
            Just(" ".to_string())
        ];
        proptest!(|(parts in proptest::collection::vec(cell, 0..40), buf in 1usize..16)| {
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
}
