//! Per-contact summaries of each event kind (`CONTACT_SUMMARIES`): for
//! every contact with events of a kind, how many, the first and the last
//! instant, and for each numeric parameter how many of those events had it,
//! their sum, minimum and maximum. That is everything a lifetime criterion
//! without a filter needs (`count(page_view) >= 1`,
//! `days_since_last(purchase) > 90`, `sum(purchase.amount) > 300`,
//! lifecycle, RFM), so it is answered
//! without reading one event block.
//!
//! A row holds the summaries of `CHUNK` consecutive contact ids for one kind
//! (key: (kind, id / `CHUNK`)), small enough that several share a page.
//! As varints: the byte length of the base fields; for each contact with
//! events, in id order, its base fields: the id's difference to the
//! previous one (the first from the row's first id), count × 2 plus 1 when
//! it has parameter totals, the first instant's difference to the previous
//! contact's (zigzag; the row's first from 0), last - first when the count
//! is over 1; then the parameter totals of the flagged contacts in the same
//! order: their number, and for each: parameter index, n, sum (zigzag, up
//! to 128 bits), minimum (zigzag), maximum - minimum. A count, first or
//! last instant reads the base fields only.
//! Rows are rewritten whole.
//!
//! The writer adds every block it stores to accumulators, one per row
//! touched: a list of the contacts reached while they are few, a dense
//! slot per contact after that. It merges them into the rows at commit (or
//! when they hold more than `MAX_HELD_BYTES`): a read and a write per row,
//! never per event.
//! Erasing contacts removes their entries; no other write removes events.

use super::codec::{EventBlock, NUM_NONE, ParamData, get_uvarint, put_uvarint, unzigzag, zigzag};
use crate::error::{Error, Result};
use redb::ReadableTable;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

/// Contacts per row.
pub const CHUNK: u32 = 256;

/// Accumulators held before they are merged into the table. A log in time
/// order touches nearly every row with each block, so once the bound is
/// reached the rows merged are soon back; it must hold every row of a
/// 1M-contact import of every kind, also when the ids are spread (a
/// database of every other contact that the log adds the rest to needed
/// 680 MB, and at 512 MB merged 16 times: 20.7 s against 15.9 s for the
/// 20M-row log, BENCHMARKS.md "Imports: summaries on their own thread").
const MAX_HELD_BYTES: usize = 1 << 30;

/// A numeric parameter's events of one contact: how many had a value, and
/// their sum, minimum and maximum (`min > max` when `n` is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamTotals {
    pub n: u32,
    pub sum: i128,
    pub min: i64,
    pub max: i64,
}

impl ParamTotals {
    pub const NONE: ParamTotals = ParamTotals { n: 0, sum: 0, min: i64::MAX, max: i64::MIN };

    #[inline]
    fn add(&mut self, v: i64) {
        self.n += 1;
        self.sum += v as i128;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn merge(&mut self, o: &ParamTotals) {
        self.n += o.n;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

/// One contact's events of one kind, summed up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub contact: u32,
    pub count: u32,
    pub first: i64,
    pub last: i64,
    /// (parameter index, totals) for each numeric parameter some event had
    pub params: Vec<(u16, ParamTotals)>,
}

impl Summary {
    pub fn param(&self, p: u16) -> Option<&ParamTotals> {
        self.params.iter().find(|(i, _)| *i == p).map(|(_, t)| t)
    }
}

fn corrupt() -> Error {
    Error::runtime("corrupt contact summary row")
}

fn zigzag128(v: i128) -> u128 {
    ((v << 1) ^ (v >> 127)) as u128
}

fn unzigzag128(v: u128) -> i128 {
    ((v >> 1) as i128) ^ -((v & 1) as i128)
}

fn put_uvarint128(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_uvarint128(b: &[u8], pos: &mut usize) -> Option<u128> {
    // sums are rarely past 63 bits: the first nine bytes in 64-bit
    // arithmetic (128-bit shifts were most of a lifetime sum's decoding)
    let mut low = 0u64;
    for shift in (0..63).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        low |= ((byte & 0x7f) as u64) << shift;
        if byte < 0x80 {
            return Some(low as u128);
        }
    }
    let mut v = low as u128;
    for shift in (63..128).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u128) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Decodes one row (of contacts `chunk * CHUNK ..`), calling `f` for each
/// contact's summary in id order (one `Summary` reused). Without `params`,
/// the parameter totals are skipped unread (their `params` stay empty).
pub fn decode_row(chunk: u32, bytes: &[u8], params: bool, mut f: impl FnMut(&Summary) -> Result<()>) -> Result<()> {
    let mut s = Summary::default();
    let get = |pos: &mut usize| get_uvarint(bytes, pos).ok_or_else(corrupt);
    let mut pos = 0usize;
    let base_len = get(&mut pos)? as usize;
    let base_end = pos.checked_add(base_len).filter(|&e| e <= bytes.len()).ok_or_else(corrupt)?;
    // the parameter totals follow the base fields of every contact
    let mut at = base_end;
    let (mut id, end) = (chunk as u64 * CHUNK as u64, (chunk as u64 + 1) * CHUNK as u64);
    let mut first_entry = true;
    while pos < base_end {
        let d = get(&mut pos)?;
        id = id.checked_add(d).ok_or_else(corrupt)?;
        if (!first_entry && d == 0) || id >= end {
            return Err(corrupt());
        }
        first_entry = false;
        s.contact = id as u32;
        let head = get(&mut pos)?;
        s.count = u32::try_from(head >> 1).ok().filter(|&c| c > 0).ok_or_else(corrupt)?;
        s.first = s.first.wrapping_add(unzigzag(get(&mut pos)?));
        s.last = if s.count > 1 { s.first.wrapping_add(get(&mut pos)? as i64) } else { s.first };
        s.params.clear();
        if params && head & 1 == 1 {
            let k = get(&mut at)?;
            if k == 0 || k > 1 << 16 {
                return Err(corrupt());
            }
            for _ in 0..k {
                let p = u16::try_from(get(&mut at)?).map_err(|_| corrupt())?;
                let n = u32::try_from(get(&mut at)?).map_err(|_| corrupt())?;
                let sum = unzigzag128(get_uvarint128(bytes, &mut at).ok_or_else(corrupt)?);
                let min = unzigzag(get(&mut at)?);
                let max = min.wrapping_add(get(&mut at)? as i64);
                s.params.push((p, ParamTotals { n, sum, min, max }));
            }
        }
        f(&s)?;
    }
    if pos != base_end || (params && at != bytes.len()) {
        return Err(corrupt());
    }
    Ok(())
}

/// Encodes a row's summaries (ids ascending, all in the row's range): the
/// length of the base fields, the base fields of every contact, then the
/// parameter totals of those flagged.
pub fn encode_row(chunk: u32, list: &[Summary], out: &mut Vec<u8>) {
    let (mut base, mut totals) = (Vec::new(), Vec::new());
    let (mut prev, mut prev_first) = (chunk as u64 * CHUNK as u64, 0i64);
    for s in list {
        put_uvarint(&mut base, s.contact as u64 - prev);
        put_uvarint(&mut base, (s.count as u64) << 1 | !s.params.is_empty() as u64);
        put_uvarint(&mut base, zigzag(s.first.wrapping_sub(prev_first)));
        if s.count > 1 {
            put_uvarint(&mut base, s.last.wrapping_sub(s.first) as u64);
        }
        if !s.params.is_empty() {
            put_uvarint(&mut totals, s.params.len() as u64);
        }
        for (p, t) in &s.params {
            put_uvarint(&mut totals, *p as u64);
            put_uvarint(&mut totals, t.n as u64);
            put_uvarint128(&mut totals, zigzag128(t.sum));
            put_uvarint(&mut totals, zigzag(t.min));
            put_uvarint(&mut totals, t.max.wrapping_sub(t.min) as u64);
        }
        (prev, prev_first) = (s.contact as u64, s.first);
    }
    out.clear();
    put_uvarint(out, base.len() as u64);
    out.extend_from_slice(&base);
    out.extend_from_slice(&totals);
}

/// The dense accumulators of one row: a slot per contact of the chunk.
struct Acc {
    count: Vec<u32>,
    first: Vec<i64>,
    last: Vec<i64>,
    params: Vec<(u16, Vec<ParamTotals>)>,
}

impl Acc {
    fn new() -> Acc {
        let n = CHUNK as usize;
        Acc { count: vec![0; n], first: vec![i64::MAX; n], last: vec![i64::MIN; n], params: Vec::new() }
    }

    const BYTES: usize = CHUNK as usize * 20;
    const PARAM_BYTES: usize = CHUNK as usize * std::mem::size_of::<ParamTotals>();

    /// The slots of a parameter, added when first seen; and the bytes added.
    fn param(&mut self, p: u16) -> (&mut Vec<ParamTotals>, usize) {
        match self.params.iter().position(|(i, _)| *i == p) {
            Some(i) => (&mut self.params[i].1, 0),
            None => {
                self.params.push((p, vec![ParamTotals::NONE; CHUNK as usize]));
                (&mut self.params.last_mut().expect("pushed").1, Self::PARAM_BYTES)
            }
        }
    }

    /// Adds a stored summary of one of the row's contacts.
    fn merge(&mut self, s: &Summary) {
        let i = (s.contact % CHUNK) as usize;
        self.count[i] += s.count;
        self.first[i] = self.first[i].min(s.first);
        self.last[i] = self.last[i].max(s.last);
        for (p, t) in &s.params {
            self.param(*p).0[i].merge(t);
        }
    }

    /// The summaries held, in id order.
    fn summaries(&self, chunk: u32) -> Vec<Summary> {
        let mut out = Vec::new();
        for i in 0..CHUNK as usize {
            if self.count[i] == 0 {
                continue;
            }
            let mut params: Vec<(u16, ParamTotals)> =
                self.params.iter().filter(|(_, v)| v[i].n > 0).map(|(p, v)| (*p, v[i])).collect();
            params.sort_unstable_by_key(|(p, _)| *p);
            out.push(Summary {
                contact: chunk * CHUNK + i as u32,
                count: self.count[i],
                first: self.first[i],
                last: self.last[i],
                params,
            });
        }
        out
    }
}

/// Contacts a row lists before it takes a dense slot per contact.
const FEW: usize = 24;

/// The accumulators of a row that few of its contacts have reached yet,
/// listed by slot. A log in time order over many contacts reaches each
/// row a contact or two at a time: a dense row (5 KB, 12 KB more per
/// numeric parameter) for each would fill the bound after a few blocks
/// and merge every row into the table again and again.
#[derive(Default)]
struct Few {
    slots: Vec<u8>,
    count: Vec<u32>,
    first: Vec<i64>,
    last: Vec<i64>,
    /// (parameter, slot, totals)
    params: Vec<(u16, u8, ParamTotals)>,
}

impl Few {
    const SLOT_BYTES: usize = 21;
    const PARAM_BYTES: usize = std::mem::size_of::<(u16, u8, ParamTotals)>();

    fn bytes(&self) -> usize {
        self.slots.len() * Self::SLOT_BYTES + self.params.len() * Self::PARAM_BYTES
    }

    /// The index of a slot, listed when new; and the bytes added.
    fn index(&mut self, s: u8) -> (usize, usize) {
        match self.slots.iter().position(|&x| x == s) {
            Some(i) => (i, 0),
            None => {
                self.slots.push(s);
                self.count.push(0);
                self.first.push(i64::MAX);
                self.last.push(i64::MIN);
                (self.slots.len() - 1, Self::SLOT_BYTES)
            }
        }
    }

    /// Adds a value of parameter `p` to slot `s`; the bytes added.
    fn add_param(&mut self, p: u16, s: u8, v: i64) -> usize {
        match self.params.iter_mut().find(|(q, t, _)| *q == p && *t == s) {
            Some((_, _, tot)) => {
                tot.add(v);
                0
            }
            None => {
                let mut tot = ParamTotals::NONE;
                tot.add(v);
                self.params.push((p, s, tot));
                Self::PARAM_BYTES
            }
        }
    }

    /// The same accumulators, dense.
    fn dense(&self) -> Acc {
        let mut acc = Acc::new();
        for (i, &s) in self.slots.iter().enumerate() {
            let s = s as usize;
            acc.count[s] = self.count[i];
            acc.first[s] = self.first[i];
            acc.last[s] = self.last[i];
        }
        for &(p, s, tot) in &self.params {
            acc.param(p).0[s as usize] = tot;
        }
        acc
    }
}

/// One row's accumulators: listed while few of its contacts have events,
/// then dense.
enum Row {
    Few(Few),
    Dense(Acc),
}

impl Row {
    /// The bytes a row holds besides its slots.
    const BYTES: usize = std::mem::size_of::<((u16, u32), Row)>() + 8;

    fn into_dense(self) -> Acc {
        match self {
            Row::Few(f) => f.dense(),
            Row::Dense(a) => a,
        }
    }
}

/// What a write transaction added, not yet merged into the table.
#[derive(Default)]
pub struct Pending {
    rows: FxHashMap<(u16, u32), Row>,
    bytes: usize,
}

/// The bound on what `Pending` holds (`REACH_SUMMARIES_MB` overrides it,
/// for benchmarks and tests).
fn max_held_bytes() -> usize {
    static BOUND: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BOUND.get_or_init(|| {
        std::env::var("REACH_SUMMARIES_MB")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(MAX_HELD_BYTES, |mb| mb << 20)
    })
}

impl Pending {
    /// Adds a block's events to the summaries of their contacts. The
    /// events are taken in contact order (a block in time order names its
    /// contacts at random): one look-up per row, and the row's slots in turn.
    pub fn add(&mut self, b: &EventBlock) {
        let nums: Vec<(u16, &[i64])> = b
            .params
            .iter()
            .filter_map(|(p, d)| match d {
                ParamData::Num(v) => Some((*p, v.as_slice())),
                ParamData::Text(_) => None,
            })
            .collect();
        let mut order: Vec<u64> = b.contact.iter().enumerate().map(|(i, &c)| (c as u64) << 32 | i as u64).collect();
        order.sort_unstable();
        let mut i = 0;
        while i < order.len() {
            // the events of contacts in one row
            let chunk = (order[i] >> 32) as u32 / CHUNK;
            let mut j = i + 1;
            while j < order.len() && (order[j] >> 32) as u32 / CHUNK == chunk {
                j += 1;
            }
            let run = &order[i..j];
            let mut added = 0;
            let row = self.rows.entry((b.kind, chunk)).or_insert_with(|| {
                added += Row::BYTES;
                Row::Few(Few::default())
            });
            if let Row::Few(few) = row {
                // the run's contacts, in order: distinct ones are neighbours
                let new = run
                    .iter()
                    .enumerate()
                    .filter(|&(n, &k)| n == 0 || run[n - 1] >> 32 != k >> 32)
                    .filter(|&(_, &k)| !few.slots.contains(&(((k >> 32) as u32 % CHUNK) as u8)))
                    .count();
                if few.slots.len() + new <= FEW {
                    for &k in run {
                        let (s, e) = (((k >> 32) as u32 % CHUNK) as u8, k as u32 as usize);
                        let t = b.ts[e];
                        let (x, b2) = few.index(s);
                        added += b2;
                        few.count[x] += 1;
                        few.first[x] = few.first[x].min(t);
                        few.last[x] = few.last[x].max(t);
                        for &(p, col) in &nums {
                            if col[e] != NUM_NONE {
                                added += few.add_param(p, s, col[e]);
                            }
                        }
                    }
                    self.bytes += added;
                    i = j;
                    continue;
                }
                // going dense: what the list held is counted again as slots
                let acc = few.dense();
                added += Acc::BYTES + acc.params.len() * Acc::PARAM_BYTES;
                self.bytes -= few.bytes().min(self.bytes);
                *row = Row::Dense(acc);
            }
            let Row::Dense(acc) = row else {
                i = j;
                continue;
            };
            for &k in run {
                let (s, e) = (((k >> 32) as u32 % CHUNK) as usize, k as u32 as usize);
                let t = b.ts[e];
                acc.count[s] += 1;
                acc.first[s] = acc.first[s].min(t);
                acc.last[s] = acc.last[s].max(t);
            }
            for &(p, col) in &nums {
                if run.iter().all(|&k| col[k as u32 as usize] == NUM_NONE) {
                    continue;
                }
                let (slots, b2) = acc.param(p);
                added += b2;
                for &k in run {
                    let v = col[k as u32 as usize];
                    if v != NUM_NONE {
                        slots[((k >> 32) as u32 % CHUNK) as usize].add(v);
                    }
                }
            }
            self.bytes += added;
            i = j;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether the accumulators hold enough to be merged now.
    pub fn over_bound(&self) -> bool {
        self.bytes > max_held_bytes()
    }

    /// Merges every accumulator into its row, in key order.
    pub fn flush(&mut self, t: &mut redb::Table<(u16, u32), &[u8]>) -> Result<()> {
        let mut buf = Vec::new();
        for key in self.sorted_keys() {
            let old = t.get(key)?;
            self.merge_row(key, old.as_ref().map(|v| v.value()), &mut buf)?;
            drop(old);
            t.insert(key, buf.as_slice())?;
        }
        self.bytes = 0;
        Ok(())
    }

    /// The rows `flush` would write over the rows of `old`, in key order,
    /// without writing them: (key, row).
    pub fn merged_rows(&mut self, old: &impl ReadableTable<(u16, u32), &'static [u8]>) -> Result<Vec<EncodedRow>> {
        let mut out = Vec::with_capacity(self.rows.len());
        let mut buf = Vec::new();
        for key in self.sorted_keys() {
            let v = old.get(key)?;
            self.merge_row(key, v.as_ref().map(|v| v.value()), &mut buf)?;
            out.push((key, buf.clone()));
        }
        self.bytes = 0;
        Ok(out)
    }

    fn sorted_keys(&self) -> Vec<(u16, u32)> {
        let mut keys: Vec<(u16, u32)> = self.rows.keys().copied().collect();
        keys.sort_unstable();
        keys
    }

    /// Takes the accumulator of `key` out and encodes it, merged with the
    /// row stored before (`old`), into `buf`.
    fn merge_row(&mut self, key: (u16, u32), old: Option<&[u8]>, buf: &mut Vec<u8>) -> Result<()> {
        let mut acc = match self.rows.remove(&key) {
            Some(row) => row.into_dense(),
            None => return Err(Error::runtime("a summaries row merged twice")),
        };
        if let Some(v) = old {
            decode_row(key.1, v, true, |s| {
                acc.merge(s);
                Ok(())
            })?;
        }
        encode_row(key.1, &acc.summaries(key.1), buf);
        Ok(())
    }
}

/// The accumulators on a thread of their own, for a bulk load: the
/// writer hands each block's contacts, instants and numeric columns over
/// and goes on encoding and storing, while this thread adds them up (on a
/// 2-core machine the reader of the file leaves part of a core idle).
/// `finish` waits for every block handed over and returns the
/// accumulators, which the writer merges into the table itself (the
/// table belongs to its transaction).
pub struct Background {
    blocks: Option<std::sync::mpsc::SyncSender<Handed>>,
    thread: Option<std::thread::JoinHandle<Done>>,
    /// the bytes the accumulators hold, as the thread last saw them
    bytes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// What the writer hands the thread.
enum Handed {
    Block(EventBlock),
    /// No more blocks: merge the accumulators with the rows of this
    /// snapshot (the last commit, which the writing transaction has not
    /// changed in this table) and encode them.
    Merge(redb::ReadTransaction),
}

/// A row of the summaries table ready to insert: (key, bytes).
pub type EncodedRow = ((u16, u32), Vec<u8>);

/// What the thread hands back.
pub enum Done {
    /// the accumulators, for the writer to merge
    Pending(Pending),
    /// the rows merged and encoded (`Background::merge`), in key order
    Rows(Result<Vec<EncodedRow>>),
}

impl Background {
    /// Blocks handed over and not yet added, at most: room for the thread
    /// to fall behind while the reader and the writer have the cores
    /// (`NICE`), and catch up beside the writer's serial end of the load.
    const QUEUE: usize = 96;
    /// The thread's nice value. Its work can wait (nothing reads it before
    /// the merge at the end of the load), while the reader and the writer
    /// of an import are its critical path: on two cores, at the same
    /// priority, the three took turns and the import ran 7-11% longer
    /// (BENCHMARKS.md, "The summaries thread yields"). Not 19: it still
    /// gets a tenth of a core when other work on the machine competes.
    const NICE: i32 = 10;

    /// Starts the thread, with nothing added yet.
    pub fn start() -> Background {
        use std::sync::atomic::Ordering;
        let mut pending = Pending::default();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Handed>(Self::QUEUE);
        let bytes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = bytes.clone();
        let thread = std::thread::Builder::new()
            .name("summaries".into())
            .spawn(move || {
                // SAFETY: lowers this thread's own priority (Linux applies
                // PRIO_PROCESS to the thread whose id is given); no memory
                // is involved, and a refusal leaves the priority as it was
                unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::setpriority(libc::PRIO_PROCESS, tid, Self::NICE);
                }
                for h in rx {
                    match h {
                        Handed::Block(b) => {
                            pending.add(&b);
                            seen.store(pending.bytes, Ordering::Relaxed);
                        }
                        Handed::Merge(snapshot) => {
                            let rows = snapshot
                                .open_table(super::tables::CONTACT_SUMMARIES)
                                .map_err(Error::from)
                                .and_then(|t| pending.merged_rows(&t));
                            return Done::Rows(rows);
                        }
                    }
                }
                Done::Pending(pending)
            })
            .expect("starting the summaries thread");
        Background { blocks: Some(tx), thread: Some(thread), bytes }
    }

    /// Hands a block's contacts, instants and numeric parameters over.
    pub fn add(&mut self, b: &EventBlock) {
        let copy = EventBlock {
            kind: b.kind,
            contact: b.contact.clone(),
            ts: b.ts.clone(),
            params: b.params.iter().filter(|(_, d)| matches!(d, ParamData::Num(_))).cloned().collect(),
            ..Default::default()
        };
        // the thread only stops when the sender is dropped, or by a panic
        // that `finish` passes on
        if let Some(tx) = &self.blocks {
            let _ = tx.send(Handed::Block(copy));
        }
    }

    /// Asks the thread to merge what it added with the summaries table of
    /// `snapshot` and encode the rows, while the writer goes on; no block
    /// may be added after. `snapshot` must see the table as the writing
    /// transaction does: the last commit, not written since.
    pub fn merge(&mut self, snapshot: redb::ReadTransaction) {
        if let Some(tx) = self.blocks.take() {
            let _ = tx.send(Handed::Merge(snapshot));
        }
    }

    /// Whether the accumulators hold enough to be merged now (as of the
    /// last block the thread added).
    pub fn over_bound(&self) -> bool {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed) > max_held_bytes()
    }

    /// `merge` was asked for: the thread takes no more blocks.
    pub fn merging(&self) -> bool {
        self.blocks.is_none()
    }

    /// Waits for the blocks handed over and returns the accumulators, or
    /// the rows if `merge` was asked for.
    pub fn finish(mut self) -> Done {
        self.blocks = None;
        let thread = self.thread.take().expect("joined once");
        thread.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl Drop for Background {
    /// A writer dropped without committing: the thread ends with the
    /// channel and what it held is dropped with it.
    fn drop(&mut self) {
        self.blocks = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Removes the summaries of `ids` from every kind's rows (`kinds`: the
/// number of kinds in the schema).
pub fn remove_contacts(t: &mut redb::Table<(u16, u32), &[u8]>, kinds: usize, ids: &RoaringBitmap) -> Result<()> {
    let mut chunks: Vec<u32> = ids.iter().map(|id| id / CHUNK).collect();
    chunks.dedup();
    let mut buf = Vec::new();
    for kind in 0..kinds as u16 {
        for &chunk in &chunks {
            let mut keep = Vec::new();
            let mut dropped = false;
            match t.get((kind, chunk))? {
                Some(v) => decode_row(chunk, v.value(), true, |s| {
                    if ids.contains(s.contact) {
                        dropped = true;
                    } else {
                        keep.push(s.clone());
                    }
                    Ok(())
                })?,
                None => continue,
            }
            if !dropped {
                continue;
            }
            if keep.is_empty() {
                t.remove((kind, chunk))?;
            } else {
                encode_row(chunk, &keep, &mut buf);
                t.insert((kind, chunk), buf.as_slice())?;
            }
        }
    }
    Ok(())
}

/// Builds every summary from the event blocks (the 4 → 5 migration).
pub fn build(blocks: &redb::Table<(u16, u64), &[u8]>, t: &mut redb::Table<(u16, u32), &[u8]>) -> Result<()> {
    let mut pending = Pending::default();
    for row in blocks.iter()? {
        let (_, v) = row?;
        pending.add(&EventBlock::decode(v.value())?);
        if pending.over_bound() {
            pending.flush(t)?;
        }
    }
    pending.flush(t)
}

/// Calls `f` for every contact's summary of `kind`, in id order (without
/// `params`, with no parameter totals).
pub fn for_each<T: ReadableTable<(u16, u32), &'static [u8]>>(
    t: &T,
    kind: u16,
    params: bool,
    mut f: impl FnMut(&Summary) -> Result<()>,
) -> Result<()> {
    for_each_in(t, kind, 0..u32::MAX, params, &mut f)
}

/// `for_each` over rows `rows` of `kind` (contacts `rows.start * CHUNK` up
/// to `rows.end * CHUNK`).
pub fn for_each_in<T: ReadableTable<(u16, u32), &'static [u8]>>(
    t: &T,
    kind: u16,
    rows: std::ops::Range<u32>,
    params: bool,
    mut f: impl FnMut(&Summary) -> Result<()>,
) -> Result<()> {
    for row in t.range((kind, rows.start)..(kind, rows.end))? {
        let (k, v) = row?;
        decode_row(k.value().1, v.value(), params, &mut f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::ParamVal;
    use crate::store::tables::CONTACT_SUMMARIES;

    fn block(kind: u16, rows: &[(u32, i64, Option<i64>)]) -> EventBlock {
        let mut b = EventBlock::new(kind);
        for &(c, ts, v) in rows {
            let params: Vec<(u16, ParamVal)> = v.map(|v| (2, ParamVal::Num(v))).into_iter().collect();
            b.push(c, ts, 0, [0; 3], &params);
        }
        b
    }

    /// The accumulators on their own thread add up what they do here,
    /// with text parameters and utm columns left behind.
    #[test]
    fn background_adds_what_the_writer_would() {
        let mut blocks: Vec<EventBlock> = (0..40u32)
            .map(|k| {
                let rows: Vec<(u32, i64, Option<i64>)> = (0..300u32)
                    .map(|i| {
                        (
                            (i * 7919 + k * 31) % 5000,
                            (i as i64 * 13 + k as i64) % 977,
                            (i % 3 == 0).then_some(i as i64 - 100),
                        )
                    })
                    .collect();
                block((k % 3) as u16, &rows)
            })
            .collect();
        for b in &mut blocks {
            b.params.push((4, ParamData::Text(vec![9; b.len()])));
        }
        // the same rows merged from this thread and from the summaries
        // thread, into two tables of one file
        const THERE: redb::TableDefinition<(u16, u32), &[u8]> = redb::TableDefinition::new("there");
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let (mut here, mut there) = (tx.open_table(CONTACT_SUMMARIES).unwrap(), tx.open_table(THERE).unwrap());
            let mut p = Pending::default();
            blocks.iter().for_each(|b| p.add(b));
            p.flush(&mut here).unwrap();
            let mut bg = Background::start();
            blocks.iter().for_each(|b| bg.add(b));
            assert!(!bg.over_bound());
            let Done::Pending(mut pending) = bg.finish() else { panic!("accumulators, not rows") };
            pending.flush(&mut there).unwrap();
            for kind in 0..3 {
                let (a, b) = (all(&here, kind), all(&there, kind));
                assert!(a.len() > 100 && a.iter().any(|s| !s.params.is_empty()));
                assert_eq!(a, b, "kind {kind}");
            }
        }
        tx.commit().unwrap();
        // more blocks in a second transaction: merged with the committed
        // rows on the thread (over a snapshot) and here, the same rows
        let more: Vec<EventBlock> = blocks.iter().step_by(3).cloned().collect();
        let mut bg = Background::start();
        more.iter().for_each(|b| bg.add(b));
        bg.merge(redb::ReadableDatabase::begin_read(&db).unwrap());
        assert!(bg.merging());
        let Done::Rows(rows) = bg.finish() else { panic!("rows, not accumulators") };
        let rows = rows.unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut here = tx.open_table(CONTACT_SUMMARIES).unwrap();
            let mut p = Pending::default();
            more.iter().for_each(|b| p.add(b));
            let touched = p.rows.len();
            p.flush(&mut here).unwrap();
            assert_eq!(rows.len(), touched);
            assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "in key order");
            for (key, row) in &rows {
                assert_eq!(here.get(*key).unwrap().unwrap().value(), row.as_slice(), "row {key:?}");
            }
        }
        // dropped unfinished, the thread ends
        let mut bg = Background::start();
        bg.add(&blocks[0]);
        drop(bg);
    }

    /// Rows listing a few contacts, rows going dense in the middle of a
    /// block and dense rows, across merges, add up to the summaries by
    /// definition.
    #[test]
    fn listed_and_dense_rows_add_up_to_the_definition() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut want: std::collections::BTreeMap<(u16, u32), (u32, i64, i64, ParamTotals)> = Default::default();
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(CONTACT_SUMMARIES).unwrap();
            let mut p = Pending::default();
            for round in 0..60u64 {
                let kind = (round % 2) as u16;
                // contacts from a wide range (rows reached a few at a time),
                // a narrow one (rows going dense) or one row's 256
                let (base, span) = match round % 3 {
                    0 => (0, 2_000_000),
                    1 => (512, 300),
                    _ => (1024, 256),
                };
                let rows: Vec<(u32, i64, Option<i64>)> = (0..rnd(400) + 1)
                    .map(|_| {
                        let c = (base + rnd(span)) as u32;
                        let v = (rnd(3) > 0).then(|| rnd(1000) as i64 - 300);
                        (c, rnd(100_000) as i64 - 50_000, v)
                    })
                    .collect();
                for &(c, ts, v) in &rows {
                    let w = want.entry((kind, c)).or_insert((0, i64::MAX, i64::MIN, ParamTotals::NONE));
                    w.0 += 1;
                    w.1 = w.1.min(ts);
                    w.2 = w.2.max(ts);
                    if let Some(v) = v {
                        w.3.add(v);
                    }
                }
                p.add(&block(kind, &rows));
                if round % 25 == 24 {
                    p.flush(&mut t).unwrap();
                }
            }
            assert!(p.rows.values().any(|r| matches!(r, Row::Few(_))), "some rows stayed listed");
            assert!(p.rows.values().any(|r| matches!(r, Row::Dense(_))), "some rows went dense");
            p.flush(&mut t).unwrap();
            let mut got = std::collections::BTreeMap::new();
            for kind in 0..2 {
                for s in all(&t, kind) {
                    let tot = s.param(2).copied().unwrap_or(ParamTotals::NONE);
                    got.insert((kind, s.contact), (s.count, s.first, s.last, tot));
                }
            }
            assert_eq!(got.len(), want.len());
            assert!(got == want, "summaries differ from the definition");
        }
        tx.commit().unwrap();
    }

    fn all(t: &redb::Table<(u16, u32), &[u8]>, kind: u16) -> Vec<Summary> {
        let mut out = Vec::new();
        for_each(t, kind, true, |s| {
            out.push(s.clone());
            Ok(())
        })
        .unwrap();
        out
    }

    /// 128-bit varints of every width read back, including at the 63-bit
    /// seam of the two loops, and over-long or cut ones are refused.
    #[test]
    fn wide_varints_of_every_width() {
        for bits in 0..=128u32 {
            for v in [
                if bits == 0 { 0 } else { 1u128 << (bits - 1) },
                u128::MAX >> (128 - bits.max(1)),
                12345 % (bits as u128 + 1),
            ] {
                let mut buf = Vec::new();
                put_uvarint128(&mut buf, v);
                buf.push(0x55);
                let mut pos = 0;
                assert_eq!(get_uvarint128(&buf, &mut pos), Some(v), "{bits} bits");
                assert_eq!(pos, buf.len() - 1);
                let mut pos = 0;
                assert_eq!(get_uvarint128(&buf[..buf.len() - 2], &mut pos), None, "cut short");
            }
        }
        let mut pos = 0;
        assert_eq!(get_uvarint128(&[0x80; 20], &mut pos), None, "more than 19 bytes");
    }

    #[test]
    fn rows_round_trip_with_extreme_values() {
        let list = vec![
            Summary { contact: CHUNK, count: 1, first: -5, last: -5, params: vec![] },
            Summary {
                contact: CHUNK + 4,
                count: u32::MAX,
                first: i64::MIN + 1,
                last: i64::MAX,
                params: vec![
                    (0, ParamTotals { n: 3, sum: i128::MIN / 2, min: i64::MIN + 1, max: i64::MAX }),
                    (7, ParamTotals { n: 1, sum: 42, min: 42, max: 42 }),
                ],
            },
            Summary { contact: 2 * CHUNK - 1, count: 2, first: 1_700_000_000, last: 1_800_000_000, params: vec![] },
        ];
        let mut buf = Vec::new();
        encode_row(1, &list, &mut buf);
        let mut back = Vec::new();
        decode_row(1, &buf, true, |s| {
            back.push(s.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(back, list);
        // a cut row is refused, and so is one naming a contact past its range
        let mut bad = Vec::new();
        put_uvarint(&mut bad, CHUNK as u64);
        bad.extend_from_slice(&[1, 0, 0, 0]);
        let bad = [&[bad.len() as u8][..], &bad].concat();
        assert!(decode_row(0, &bad, true, |_| Ok(())).is_err());
        assert!(decode_row(1, &buf[..buf.len() - 1], true, |_| Ok(())).is_err());
        // the base fields alone: the same contacts, no totals
        let mut base = Vec::new();
        decode_row(1, &buf, false, |s| {
            base.push((s.contact, s.count, s.first, s.last, s.params.len()));
            Ok(())
        })
        .unwrap();
        let want: Vec<_> = list.iter().map(|s| (s.contact, s.count, s.first, s.last, 0)).collect();
        assert_eq!(base, want);
    }

    #[test]
    fn blocks_add_up_across_flushes_and_erasure_removes_entries() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(CONTACT_SUMMARIES).unwrap();
            let mut p = Pending::default();
            p.add(&block(1, &[(5, 100, Some(10)), (9000, 50, None), (5, 300, Some(-4)), (5, 200, None)]));
            p.flush(&mut t).unwrap();
            p.add(&block(1, &[(5, 20, Some(7)), (6, 400, None)]));
            p.add(&block(3, &[(5, 1, None)]));
            p.flush(&mut t).unwrap();
            let s = all(&t, 1);
            assert_eq!(s.iter().map(|s| s.contact).collect::<Vec<_>>(), vec![5, 6, 9000]);
            assert_eq!((s[0].count, s[0].first, s[0].last), (4, 20, 300));
            assert_eq!(s[0].param(2), Some(&ParamTotals { n: 3, sum: 13, min: -4, max: 10 }));
            assert_eq!((s[1].count, s[1].first, s[1].last, s[1].params.len()), (1, 400, 400, 0));
            assert_eq!((s[2].count, s[2].first), (1, 50));
            assert_eq!(all(&t, 3).len(), 1);
            let ids: RoaringBitmap = [5u32, 9000].into_iter().collect();
            remove_contacts(&mut t, 4, &ids).unwrap();
            assert_eq!(all(&t, 1).iter().map(|s| s.contact).collect::<Vec<_>>(), vec![6]);
            assert!(all(&t, 3).is_empty());
            // the emptied rows are gone, not left empty
            assert_eq!(t.iter().unwrap().count(), 1);
        }
        tx.commit().unwrap();
    }
}
