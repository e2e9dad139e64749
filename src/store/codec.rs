//! The columnar event block: the on-disk unit of event storage. One block
//! holds up to `BLOCK_EVENTS` events of one kind, sorted by time, column
//! after column, each column a run of LEB128 varints (about 10 bytes per
//! event instead of 40, and still a single linear pass to load).
//!
//! Layout: `RB` magic, version u8 (2), kind u16, n u32, has_utm u8,
//! nparams u16; then contact ids (varint), times (zigzag varint of the
//! first, then of each difference), source bytes, the three utm dictionary
//! ids (varint, only if has_utm), then per parameter: id u16, type u8 (0
//! number, 1 text) and its values: numbers as 0 = missing else
//! zigzag(v) + 1; text as the dictionary id (0 = missing).
//! In memory, missing values are `NUM_NONE` for numbers and 0 for text.

use crate::error::{Error, Result};

pub const BLOCK_EVENTS: usize = 65_536;
pub const NUM_NONE: i64 = i64::MIN;
const VERSION: u8 = 2;

#[derive(Clone, Debug, PartialEq)]
pub enum ParamData {
    /// fixed-point decimal units, `NUM_NONE` when absent
    Num(Vec<i64>),
    /// dictionary ids, 0 when absent
    Text(Vec<u32>),
}

impl ParamData {
    pub fn len(&self) -> usize {
        match self {
            ParamData::Num(v) => v.len(),
            ParamData::Text(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn push_none(&mut self) {
        match self {
            ParamData::Num(v) => v.push(NUM_NONE),
            ParamData::Text(v) => v.push(0),
        }
    }
    fn take(&self, order: &[u32]) -> ParamData {
        match self {
            ParamData::Num(v) => ParamData::Num(order.iter().map(|&i| v[i as usize]).collect()),
            ParamData::Text(v) => ParamData::Text(order.iter().map(|&i| v[i as usize]).collect()),
        }
    }
}

/// One parameter value of one event, before it goes into a block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamVal {
    Num(i64),
    Text(u32),
}

/// The parameter ids met in a block: a block names each once.
struct ParamIds([u64; 1024]);

impl Default for ParamIds {
    fn default() -> ParamIds {
        ParamIds([0; 1024])
    }
}

impl ParamIds {
    /// Adds `p`; false when it was there already.
    fn insert(&mut self, p: u16) -> bool {
        let (w, bit) = (p as usize >> 6, 1u64 << (p & 63));
        let new = self.0[w] & bit == 0;
        self.0[w] |= bit;
        new
    }
}

/// Which columns of a block to decode beyond its contacts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns {
    /// the times: a count over a window needs them only for the blocks the
    /// window's edges cut (each block's first and last instants are listed
    /// beside it), a first or last event time for every block
    pub times: bool,
    pub source: bool,
    pub utm: bool,
    /// every parameter
    pub all_params: bool,
    /// these parameters (sorted, no repeats) when not `all_params`
    pub params: Vec<u16>,
}

impl Columns {
    pub const ALL: Columns = Columns { times: true, source: true, utm: true, all_params: true, params: Vec::new() };

    pub fn has_param(&self, p: u16) -> bool {
        self.all_params || self.params.binary_search(&p).is_ok()
    }

    pub fn add_param(&mut self, p: u16) {
        if let Err(at) = self.params.binary_search(&p) {
            self.params.insert(at, p);
        }
    }

    /// Whether blocks decoded with `self` hold every column `other` names.
    pub fn covers(&self, other: &Columns) -> bool {
        (self.times || !other.times)
            && (self.source || !other.source)
            && (self.utm || !other.utm)
            && (self.all_params || (!other.all_params && other.params.iter().all(|&p| self.has_param(p))))
    }

    /// Adds the columns of `other`.
    pub fn add(&mut self, other: &Columns) {
        self.times |= other.times;
        self.source |= other.source;
        self.utm |= other.utm;
        self.all_params |= other.all_params;
        for &p in &other.params {
            self.add_param(p);
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventBlock {
    pub kind: u16,
    pub contact: Vec<u32>,
    pub ts: Vec<i64>,
    pub source: Vec<u8>,
    /// utm_source, utm_medium, utm_campaign dictionary ids (0 = none); empty when the block has none
    pub utm: [Vec<u32>; 3],
    /// (parameter index in the kind, values)
    pub params: Vec<(u16, ParamData)>,
}

impl EventBlock {
    pub fn new(kind: u16) -> EventBlock {
        EventBlock { kind, ..Default::default() }
    }
    pub fn len(&self) -> usize {
        self.contact.len()
    }
    pub fn is_empty(&self) -> bool {
        self.contact.is_empty()
    }

    /// Appends one event; `params` are (parameter index, value).
    pub fn push(&mut self, contact: u32, ts: i64, source: u8, utm: [u32; 3], params: &[(u16, ParamVal)]) {
        let n = self.ts.len();
        self.contact.push(contact);
        self.ts.push(ts);
        self.source.push(source);
        if utm != [0; 3] && self.utm[0].len() < n {
            for col in &mut self.utm {
                col.resize(n, 0);
            }
        }
        if !self.utm[0].is_empty() || utm != [0; 3] {
            for (col, v) in self.utm.iter_mut().zip(utm) {
                col.push(v);
            }
        }
        for &(pid, val) in params {
            let idx = match self.params.iter().position(|(p, _)| *p == pid) {
                Some(i) => i,
                None => {
                    let mut data = match val {
                        ParamVal::Num(_) => ParamData::Num(Vec::with_capacity(n + 1)),
                        ParamVal::Text(_) => ParamData::Text(Vec::with_capacity(n + 1)),
                    };
                    for _ in 0..n {
                        data.push_none();
                    }
                    self.params.push((pid, data));
                    self.params.len() - 1
                }
            };
            match (&mut self.params[idx].1, val) {
                (ParamData::Num(v), ParamVal::Num(x)) => v.push(x),
                (ParamData::Text(v), ParamVal::Text(x)) => v.push(x),
                (d, _) => d.push_none(),
            }
        }
        for (_, d) in &mut self.params {
            if d.len() < n + 1 {
                d.push_none();
            }
        }
    }

    /// Appends positions `lo..hi` of `src` (a block of the same kind, whose
    /// parameters and utm columns may differ from this one's).
    pub fn append_rows(&mut self, src: &EventBlock, lo: usize, hi: usize) {
        let (n, m) = (self.len(), hi - lo);
        self.contact.extend_from_slice(&src.contact[lo..hi]);
        self.ts.extend_from_slice(&src.ts[lo..hi]);
        self.source.extend_from_slice(&src.source[lo..hi]);
        if !src.utm[0].is_empty() {
            for (d, s) in self.utm.iter_mut().zip(&src.utm) {
                d.resize(n, 0);
                d.extend_from_slice(&s[lo..hi]);
            }
        } else if !self.utm[0].is_empty() {
            for d in &mut self.utm {
                d.resize(n + m, 0);
            }
        }
        for (pid, s) in &src.params {
            let idx = match self.params.iter().position(|(p, _)| p == pid) {
                Some(i) => i,
                None => {
                    let mut d = match s {
                        ParamData::Num(_) => ParamData::Num(Vec::with_capacity(n + m)),
                        ParamData::Text(_) => ParamData::Text(Vec::with_capacity(n + m)),
                    };
                    for _ in 0..n {
                        d.push_none();
                    }
                    self.params.push((*pid, d));
                    self.params.len() - 1
                }
            };
            match (&mut self.params[idx].1, s) {
                (ParamData::Num(d), ParamData::Num(s)) => d.extend_from_slice(&s[lo..hi]),
                (ParamData::Text(d), ParamData::Text(s)) => d.extend_from_slice(&s[lo..hi]),
                (d, _) => {
                    for _ in 0..m {
                        d.push_none();
                    }
                }
            }
        }
        for (_, d) in &mut self.params {
            while d.len() < n + m {
                d.push_none();
            }
        }
    }

    /// Sorts the events by time (stable, so arrival order breaks ties).
    pub fn sort_by_time(&mut self) {
        if self.ts.windows(2).all(|w| w[0] <= w[1]) {
            return;
        }
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_by_key(|&i| self.ts[i as usize]);
        self.apply_order(&order);
    }

    /// Keeps only the events at the given positions, in that order.
    pub fn apply_order(&mut self, order: &[u32]) {
        let take32 = |v: &Vec<u32>| order.iter().map(|&i| v[i as usize]).collect::<Vec<_>>();
        self.contact = take32(&self.contact);
        self.ts = order.iter().map(|&i| self.ts[i as usize]).collect();
        self.source = order.iter().map(|&i| self.source[i as usize]).collect();
        if !self.utm[0].is_empty() {
            for c in &mut self.utm {
                *c = take32(c);
            }
        }
        for (_, d) in &mut self.params {
            *d = d.take(order);
        }
    }

    pub fn min_ts(&self) -> Option<i64> {
        self.ts.first().copied()
    }

    /// The block encoded, cut in pieces (in time order) when one value
    /// would waste much of the space redb gives it: a value of more than a
    /// page gets a power of two pages, so 150 KB takes 256 KB, while 128 KB
    /// and 24 KB take 160 KB. A piece fills at least 7/8 of its space, or
    /// is 64 KB or less.
    pub fn encode_fitted(self) -> Vec<(EventBlock, Vec<u8>)> {
        let header = 12 + 3 * self.params.len();
        let sizes = self.event_sizes();
        let fits = |len: usize| len <= FIT_MIN || len * 8 >= value_space(len) * 7;
        if fits(header + sizes.iter().sum::<usize>()) {
            let bytes = self.encode();
            return vec![(self, bytes)];
        }
        // pieces in time order, each sized from the events' encoded sizes
        // (a piece's first instant is written whole: at most 10 bytes more)
        let n = self.len();
        let mut out = Vec::new();
        let mut start = 0;
        let mut rest: usize = sizes.iter().sum();
        while start < n {
            let mut end = n;
            let len = header + 10 + rest;
            if !fits(len) {
                let target = value_space(len) / 2 - LEAF_OVERHEAD - header - 10;
                let mut used = 0;
                end = start;
                while end < n && used + sizes[end] <= target {
                    used += sizes[end];
                    end += 1;
                }
                end = end.max(start + 1);
            }
            let mut piece = EventBlock::new(self.kind);
            piece.append_rows(&self, start, end);
            let bytes = piece.encode();
            rest -= sizes[start..end].iter().sum::<usize>();
            out.push((piece, bytes));
            start = end;
        }
        out
    }

    /// The bytes each event adds to `encode`'s output (its instant as the
    /// difference to the previous one), beside the header's 12 bytes and 3
    /// per parameter.
    fn event_sizes(&self) -> Vec<usize> {
        let has_utm = !self.utm[0].is_empty();
        let mut prev = 0i64;
        (0..self.len())
            .map(|i| {
                let t = self.ts[i];
                let mut len = varint_len(self.contact[i] as u64) + varint_len(zigzag(t.wrapping_sub(prev))) + 1;
                prev = t;
                if has_utm {
                    len += self.utm.iter().map(|c| varint_len(c[i] as u64)).sum::<usize>();
                }
                for (_, d) in &self.params {
                    len += match d {
                        ParamData::Num(v) => varint_len(if v[i] == NUM_NONE { 0 } else { zigzag(v[i]) + 1 }),
                        ParamData::Text(v) => varint_len(v[i] as u64),
                    };
                }
                len
            })
            .collect()
    }

    pub fn encode(&self) -> Vec<u8> {
        let n = self.len();
        let has_utm = !self.utm[0].is_empty();
        let mut out = Vec::with_capacity(12 + n * (8 + self.params.len() * 3));
        out.extend_from_slice(b"RB");
        out.push(VERSION);
        out.extend_from_slice(&self.kind.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.push(has_utm as u8);
        out.extend_from_slice(&(self.params.len() as u16).to_le_bytes());
        for &v in &self.contact {
            put_uvarint(&mut out, v as u64);
        }
        let mut prev = 0i64;
        for &t in &self.ts {
            put_uvarint(&mut out, zigzag(t.wrapping_sub(prev)));
            prev = t;
        }
        out.extend_from_slice(&self.source);
        if has_utm {
            for col in &self.utm {
                for &v in col {
                    put_uvarint(&mut out, v as u64);
                }
            }
        }
        for (pid, d) in &self.params {
            out.extend_from_slice(&pid.to_le_bytes());
            match d {
                ParamData::Num(v) => {
                    out.push(0);
                    for &x in v {
                        put_uvarint(&mut out, if x == NUM_NONE { 0 } else { zigzag(x) + 1 });
                    }
                }
                ParamData::Text(v) => {
                    out.push(1);
                    for &x in v {
                        put_uvarint(&mut out, x as u64);
                    }
                }
            }
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<EventBlock> {
        EventBlock::decode_columns(b, &Columns::ALL)
    }

    /// Decodes the contacts and the columns `cols` names; the others are
    /// stepped over (`ts`, `source` and `utm` left empty, parameters left
    /// out). What a count reads: a windowed count needs no parameter, a
    /// sum one or two of a purchase's, and no times for a block inside
    /// its window.
    pub fn decode_columns(b: &[u8], cols: &Columns) -> Result<EventBlock> {
        let (mut r, Header { kind, n, has_utm, np }) = Header::read(b)?;
        let bad = || Error::runtime("corrupt event block");
        let contact = r.uvarints(n, |v| v as u32).ok_or_else(bad)?;
        let ts = if cols.times {
            let mut prev = 0i64;
            r.uvarints(n, |v| {
                prev = prev.wrapping_add(unzigzag(v));
                prev
            })
            .ok_or_else(bad)?
        } else {
            r.skip_uvarints(n).ok_or_else(bad)?;
            Vec::new()
        };
        let source = r.bytes(n).ok_or_else(bad)?;
        let source = if cols.source { source.to_vec() } else { Vec::new() };
        let mut utm = [vec![], vec![], vec![]];
        if has_utm {
            if cols.utm {
                for c in &mut utm {
                    *c = r.uvarints(n, |v| v as u32).ok_or_else(bad)?;
                }
            } else {
                r.skip_uvarints(3 * n).ok_or_else(bad)?;
            }
        }
        let mut params = Vec::with_capacity(np.min(64));
        let mut seen = ParamIds::default();
        for _ in 0..np {
            let pid = u16::from_le_bytes(r.arr().ok_or_else(bad)?);
            let ty = r.bytes(1).ok_or_else(bad)?[0];
            if ty > 1 || !seen.insert(pid) {
                return Err(bad());
            }
            if !cols.has_param(pid) {
                r.skip_uvarints(n).ok_or_else(bad)?;
                continue;
            }
            let d = match ty {
                0 => {
                    ParamData::Num(r.uvarints(n, |v| if v == 0 { NUM_NONE } else { unzigzag(v - 1) }).ok_or_else(bad)?)
                }
                _ => ParamData::Text(r.uvarints(n, |v| v as u32).ok_or_else(bad)?),
            };
            params.push((pid, d));
        }
        Ok(EventBlock { kind, contact, ts, source, utm, params })
    }

    /// Reads only the kind and the contact column (for scans by contact).
    pub fn decode_contacts(b: &[u8]) -> Result<(u16, Vec<u32>)> {
        let mut r = Reader { b, pos: 0 };
        let bad = || Error::runtime("corrupt event block");
        r.bytes(3).ok_or_else(bad)?;
        let kind = u16::from_le_bytes(r.arr().ok_or_else(bad)?);
        let n = u32::from_le_bytes(r.arr().ok_or_else(bad)?) as usize;
        r.bytes(3).ok_or_else(bad)?;
        Ok((kind, r.uvarints(n, |v| v as u32).ok_or_else(bad)?))
    }

    pub fn utm_at(&self, i: usize) -> [u32; 3] {
        if self.utm[0].is_empty() { [0; 3] } else { [self.utm[0][i], self.utm[1][i], self.utm[2][i]] }
    }
}

/// A block's fixed header, and the reader left after it.
struct Header {
    kind: u16,
    n: usize,
    has_utm: bool,
    np: usize,
}

impl Header {
    fn read(b: &[u8]) -> Result<(Reader<'_>, Header)> {
        let mut r = Reader { b, pos: 0 };
        let bad = || Error::runtime("corrupt event block");
        if r.bytes(2).ok_or_else(bad)? != b"RB" {
            return Err(bad());
        }
        let ver = r.bytes(1).ok_or_else(bad)?[0];
        if ver != VERSION {
            return Err(Error::runtime(format!("event block version {ver} is not supported")));
        }
        let kind = u16::from_le_bytes(r.arr().ok_or_else(bad)?);
        let n = u32::from_le_bytes(r.arr().ok_or_else(bad)?) as usize;
        let has_utm = r.bytes(1).ok_or_else(bad)?[0] != 0;
        let np = u16::from_le_bytes(r.arr().ok_or_else(bad)?) as usize;
        Ok((r, Header { kind, n, has_utm, np }))
    }
}

/// redb's page, and what a leaf holding one value needs beside it (header,
/// offsets, key), with room to spare.
const PAGE: usize = 4096;
const LEAF_OVERHEAD: usize = 64;
/// Blocks up to this size are never cut (more blocks cost reads too).
const FIT_MIN: usize = 16 * PAGE;

/// The bytes of `v` as a varint.
#[inline]
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// The space redb allocates to a leaf holding one value of `len` bytes.
fn value_space(len: usize) -> usize {
    (len + LEAF_OVERHEAD).div_ceil(PAGE).next_power_of_two() * PAGE
}

#[inline]
pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub(super) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads one varint at `pos`, advancing it.
pub(super) fn get_uvarint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

#[inline]
pub(super) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N).map(|s| s.try_into().unwrap())
    }
    /// Reads `n` varints, mapping each through `f`.
    fn uvarints<T>(&mut self, n: usize, mut f: impl FnMut(u64) -> T) -> Option<Vec<T>> {
        // a varint takes a byte at least: a damaged count allocates no more
        let mut out = Vec::with_capacity(n.min(self.b.len().saturating_sub(self.pos)));
        let b = self.b;
        let mut pos = self.pos;
        for _ in 0..n {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let byte = *b.get(pos)?;
                pos += 1;
                if shift == 63 && byte > 1 {
                    return None;
                }
                v |= ((byte & 0x7f) as u64) << shift;
                if byte < 0x80 {
                    break;
                }
                shift += 7;
                if shift > 63 {
                    return None;
                }
            }
            out.push(f(v));
        }
        self.pos = pos;
        Some(out)
    }

    /// Reads `n` varints without keeping them: `f(index, value)` for each.
    fn each_uvarint(&mut self, n: usize, mut f: impl FnMut(usize, u64)) -> Option<()> {
        let b = self.b;
        let mut pos = self.pos;
        for i in 0..n {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let byte = *b.get(pos)?;
                pos += 1;
                v |= ((byte & 0x7f) as u64) << shift;
                if byte < 0x80 {
                    break;
                }
                shift += 7;
                if shift > 63 {
                    return None;
                }
            }
            f(i, v);
        }
        self.pos = pos;
        Some(())
    }

    /// Steps over `n` varints.
    fn skip_uvarints(&mut self, n: usize) -> Option<()> {
        let mut left = n;
        let rest = self.b.get(self.pos..)?;
        for (i, &byte) in rest.iter().enumerate() {
            if left == 0 {
                self.pos += i;
                return Some(());
            }
            if byte < 0x80 {
                left -= 1;
            }
        }
        if left == 0 {
            self.pos = self.b.len();
            return Some(());
        }
        None
    }
}

impl EventBlock {
    /// The events of the contacts `wanted` says yes to, decoded alone: their
    /// contact ids and times, and the values of parameter `param` when
    /// given (no sources, utm ids or other parameters). The other events
    /// are stepped over, not decoded: what a few contacts' facts need from
    /// blocks that hold everyone's events.
    pub fn decode_some(b: &[u8], wanted: impl Fn(u32) -> bool, param: Option<u16>) -> Result<EventBlock> {
        EventBlock::decode_some_params(b, wanted, param.as_slice())
    }

    /// [`decode_some`](Self::decode_some) with the values of each of `params`.
    pub fn decode_some_params(b: &[u8], wanted: impl Fn(u32) -> bool, params: &[u16]) -> Result<EventBlock> {
        let (mut r, Header { kind, n, has_utm, np }) = Header::read(b)?;
        let bad = || Error::runtime("corrupt event block");
        let mut out = EventBlock::new(kind);
        let mut pos = Vec::new();
        r.each_uvarint(n, |i, c| {
            if wanted(c as u32) {
                pos.push(i);
                out.contact.push(c as u32);
            }
        })
        .ok_or_else(bad)?;
        if pos.is_empty() {
            return Ok(out);
        }
        let (mut prev, mut next) = (0i64, 0usize);
        r.each_uvarint(n, |i, v| {
            prev = prev.wrapping_add(unzigzag(v));
            if pos.get(next) == Some(&i) {
                out.ts.push(prev);
                next += 1;
            }
        })
        .ok_or_else(bad)?;
        if params.is_empty() {
            return Ok(out);
        }
        r.bytes(n).ok_or_else(bad)?;
        if has_utm {
            r.skip_uvarints(3 * n).ok_or_else(bad)?;
        }
        let mut seen = ParamIds::default();
        for _ in 0..np {
            let pid = u16::from_le_bytes(r.arr().ok_or_else(bad)?);
            let ty = r.bytes(1).ok_or_else(bad)?[0];
            if !seen.insert(pid) {
                return Err(bad());
            }
            if !params.contains(&pid) {
                r.skip_uvarints(n).ok_or_else(bad)?;
                continue;
            }
            let mut next = 0usize;
            let d = match ty {
                0 => {
                    let mut v = Vec::with_capacity(pos.len());
                    r.each_uvarint(n, |i, x| {
                        if pos.get(next) == Some(&i) {
                            v.push(if x == 0 { NUM_NONE } else { unzigzag(x - 1) });
                            next += 1;
                        }
                    })
                    .ok_or_else(bad)?;
                    ParamData::Num(v)
                }
                1 => {
                    let mut v = Vec::with_capacity(pos.len());
                    r.each_uvarint(n, |i, x| {
                        if pos.get(next) == Some(&i) {
                            v.push(x as u32);
                            next += 1;
                        }
                    })
                    .ok_or_else(bad)?;
                    ParamData::Text(v)
                }
                _ => return Err(bad()),
            };
            out.params.push((pid, d));
            if out.params.len() == params.len() {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_some_keeps_the_wanted_events_only() {
        let mut b = EventBlock::new(3);
        b.push(7, 100, 1, [5, 0, 0], &[(0, ParamVal::Num(250)), (1, ParamVal::Text(9))]);
        b.push(8, 90, 2, [0, 0, 0], &[(1, ParamVal::Text(4))]);
        b.push(7, 80, 0, [0, 6, 0], &[(0, ParamVal::Num(-3))]);
        b.push(9, 120, 0, [0, 0, 0], &[]);
        let bytes = b.encode();
        let full = EventBlock::decode(&bytes).unwrap();
        for keep in [vec![7u32], vec![8], vec![7, 9], vec![], vec![1, 2, 3]] {
            for param in [None, Some(0u16), Some(1), Some(5)] {
                let some = EventBlock::decode_some(&bytes, |c| keep.contains(&c), param).unwrap();
                let at: Vec<usize> = (0..full.len()).filter(|&i| keep.contains(&full.contact[i])).collect();
                assert_eq!(some.kind, 3);
                assert_eq!(some.contact, at.iter().map(|&i| full.contact[i]).collect::<Vec<_>>());
                assert_eq!(some.ts, at.iter().map(|&i| full.ts[i]).collect::<Vec<_>>());
                let expect: Vec<(u16, ParamData)> = match param {
                    Some(p) if !at.is_empty() => full
                        .params
                        .iter()
                        .filter(|(id, _)| *id == p)
                        .map(|(id, d)| {
                            let order: Vec<u32> = at.iter().map(|&i| i as u32).collect();
                            (*id, d.take(&order))
                        })
                        .collect(),
                    _ => vec![],
                };
                assert_eq!(some.params, expect, "keep {keep:?} param {param:?}");
            }
        }
        assert!(EventBlock::decode_some(&bytes[..bytes.len() - 1], |_| true, Some(1)).is_err());
    }

    #[test]
    fn a_block_is_cut_where_pieces_fill_their_space() {
        for n in [100usize, 6_000, 14_000, 30_000, 65_536] {
            let mut b = EventBlock::new(2);
            for i in 0..n {
                let utm = if i % 7 == 0 { [i as u32, 0, 3] } else { [0; 3] };
                let params = [(0, ParamVal::Num(i as i64 * 1013 % 99_991)), (4, ParamVal::Text(1 + (i % 5000) as u32))];
                b.push((i * 7919 % 1_000_003) as u32, 1_700_000_000 + i as i64 * 13, (i % 4) as u8, utm, &params);
            }
            let whole = b.encode();
            assert_eq!(12 + 3 * b.params.len() + b.event_sizes().iter().sum::<usize>(), whole.len());
            let pieces = b.clone().encode_fitted();
            // the pieces are the block, in order
            let mut back = EventBlock::new(2);
            for (p, bytes) in &pieces {
                assert_eq!(&p.encode(), bytes);
                assert_eq!(&EventBlock::decode(bytes).unwrap(), p);
                back.append_rows(p, 0, p.len());
            }
            assert_eq!(back, b, "{n} events");
            // each piece fills most of its space, or is small
            for (_, bytes) in &pieces {
                let space = value_space(bytes.len());
                assert!(bytes.len() <= FIT_MIN || bytes.len() * 8 >= space * 7, "{} in {space}", bytes.len());
            }
            let used: usize = pieces.iter().map(|(_, b)| value_space(b.len())).sum();
            assert!(used <= value_space(whole.len()), "{n} events: {used} > {}", value_space(whole.len()));
        }
    }

    #[test]
    fn round_trips_with_sparse_params_and_utm() {
        let mut b = EventBlock::new(3);
        b.push(7, 300, 4, [0; 3], &[(0, ParamVal::Num(1_500_000))]);
        b.push(8, 100, 0, [5, 6, 0], &[(2, ParamVal::Text(9))]);
        b.push(7, 200, 1, [0; 3], &[]);
        b.sort_by_time();
        assert_eq!(b.ts, vec![100, 200, 300]);
        assert_eq!(b.contact, vec![8, 7, 7]);
        assert_eq!(b.utm[0], vec![5, 0, 0]);
        assert_eq!(b.params[0], (0, ParamData::Num(vec![NUM_NONE, NUM_NONE, 1_500_000])));
        assert_eq!(b.params[1], (2, ParamData::Text(vec![9, 0, 0])));
        let enc = b.encode();
        assert_eq!(EventBlock::decode(&enc).unwrap(), b);
        assert_eq!(EventBlock::decode_contacts(&enc).unwrap(), (3, vec![8, 7, 7]));
        assert!(EventBlock::decode(&enc[..enc.len() - 1]).is_err());
    }

    #[test]
    fn varints_cover_the_extremes() {
        let mut b = EventBlock::new(0);
        for (i, v) in [i64::MAX, i64::MIN + 1, -1, 0, 1, 49_990_000].into_iter().enumerate() {
            b.push(
                u32::MAX - i as u32,
                v,
                6,
                [u32::MAX, 1, 0],
                &[(0, ParamVal::Num(v)), (1, ParamVal::Text(u32::MAX))],
            );
        }
        let enc = b.encode();
        assert_eq!(EventBlock::decode(&enc).unwrap(), b);
        for x in [0u64, 1, 127, 128, u64::MAX] {
            let mut out = Vec::new();
            put_uvarint(&mut out, x);
            let mut r = Reader { b: &out, pos: 0 };
            assert_eq!(r.uvarints(1, |v| v), Some(vec![x]));
        }
        for x in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(x)), x);
        }
    }
}
