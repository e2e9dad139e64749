//! One input of each fuzz target (`fuzz/`, `scripts/fuzz.sh`), here so that
//! `cargo test` replays the crashers kept in tests/fuzz_regressions/ through
//! the same code the fuzzer ran. Each function takes any bytes; a user
//! error must come back as an error value, so the only failures are panics
//! (and, for the printers, a text that does not read back the same).

use crate::app::Session;
use crate::error::Result;
use crate::import::input::{Input, InputFormat};
use crate::import::mapping::Preset;
use crate::import::{ImportOptions, What};
use crate::segment::{Catalog, FieldType, StaticCatalog};
use crate::store::{OpenMode, Store};
use std::path::Path;
use std::sync::OnceLock;

/// 2024-06-01T00:00:00Z: every target runs at this instant, so a crash
/// reproduces whenever it is replayed.
pub const NOW: i64 = 1_717_200_000;

/// The built-in fields and kinds with the demo's tags and interests, some
/// categories, saved segments (two of them a cycle) and places.
pub fn catalog() -> &'static StaticCatalog {
    static CATALOG: OnceLock<StaticCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let interests = crate::demo::INTERESTS.iter().map(|s| s.to_string()).collect();
        StaticCatalog::builtin()
            .with_field("interests", FieldType::Set(interests))
            .with_tags(crate::demo::TAGS)
            .with_categories(&["sport", "sport/running", "lifestyle", "tech/gaming"])
            .with_segment("big_spenders", "sum(purchase.amount) >= 500")
            .with_segment("recent_buyers", "days_since_last(purchase) < 30")
            .with_segment("loop_a", "segment:loop_b")
            .with_segment("loop_b", "segment:loop_a or tag:vip")
            .with_places(&["Milano", "Roma"])
    })
}

/// Creates a store at `path` holding a small demo (60 contacts, about 5
/// events each, at [`NOW`]). The targets only roll their writes back, so
/// every input meets the same data.
pub fn demo_store(path: &Path) -> Result<Store> {
    let store = Store::open(path, OpenMode::Create)?;
    let mut w = store.begin_write()?;
    let opts = crate::demo::DemoOptions { contacts: 60, seed: 7, now: NOW, events_per_contact: 5.0 };
    crate::demo::generate(&mut w, &opts, &mut |_, _, _| {})?;
    w.commit()?;
    Ok(store)
}

/// The segment language: the text is parsed, and what parses is checked
/// against [`catalog`] (also as the body of a saved segment) and printed;
/// the canonical text must parse again and print the same.
pub fn segment(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let cat = catalog();
    let e = match crate::segment::parse(src) {
        Ok(e) => e,
        Err(err) => {
            let _ = err.to_string();
            return;
        }
    };
    for w in crate::segment::check(&e, src, cat).unwrap_or_default() {
        let _ = w.to_string();
    }
    let _ = crate::segment::check_segment("big_spenders", &e, src, cat);
    let text = crate::segment::print(&e);
    let again =
        crate::segment::parse(&text).unwrap_or_else(|err| panic!("the canonical text does not parse: {text:?}: {err}"));
    assert_eq!(crate::segment::print(&again), text, "the canonical text is not a fixed point (from {src:?})");
    let _ = crate::segment::check(&again, &text, cat);
    let _ = crate::segment::suggest(src, &cat.segment_names());
}

/// Splits off the first line (without its `\n`) of `data`.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Import options from the first two bytes of `data`, the rest being the
/// file (after a line for a date format and one for column renames when
/// the option bytes ask for them):
///
/// - byte 0: bits 0-1 preset (none, mailchimp, shopify, mautic); bits 2-3
///   format (detected, csv, jsonl, detected with `,` as the decimal
///   mark); bit 4 skip invalid rows; bit 5 day first; bits 6-7 timezone
///   (none, Europe/Rome, America/New_York, an unknown one);
/// - byte 1: bits 0-2 delimiter (sniffed, `,`, `;`, tab, `|`, space, `"`,
///   newline); bits 3-4 date format (none, `%d/%m/%Y %H:%M`, `%Y-%m-%d`,
///   the next line); bits 5-6 default event kind (none, purchase,
///   page_view, the invalid `bad kind`); bit 7 a 300-byte line limit and
///   `SRC=FIELD` renames from the next line (comma separated), or when
///   that line starts `columns=`, the columns of a CSV file without a
///   header (comma separated); either after `text:`, which reads the
///   file as text with backslash escapes (`--format text`).
pub fn import_options(data: &[u8]) -> Option<(ImportOptions, &[u8])> {
    let (&b0, rest) = data.split_first()?;
    let (&b1, mut rest) = rest.split_first()?;
    let mut o = ImportOptions { now: NOW, ..ImportOptions::default() };
    o.preset = [None, Some(Preset::Mailchimp), Some(Preset::Shopify), Some(Preset::Mautic)][(b0 & 3) as usize];
    o.format = [None, Some(InputFormat::Csv), Some(InputFormat::Jsonl), None][((b0 >> 2) & 3) as usize];
    // the fourth format (sniffed, as the first) names the decimal comma
    o.decimal_mark = ((b0 >> 2) & 3 == 3).then_some(crate::import::DecimalMark::Comma);
    o.skip_invalid = b0 & 16 != 0;
    o.day_first = b0 & 32 != 0;
    o.tz = [None, Some("Europe/Rome"), Some("America/New_York"), Some("Mars/Olympus")][(b0 >> 6) as usize]
        .map(String::from);
    o.delimiter =
        [None, Some(b','), Some(b';'), Some(b'\t'), Some(b'|'), Some(b' '), Some(b'"'), Some(b'\n')][(b1 & 7) as usize];
    o.date_format = match (b1 >> 3) & 3 {
        0 => None,
        1 => Some("%d/%m/%Y %H:%M".into()),
        2 => Some("%Y-%m-%d".into()),
        _ => {
            let (f, r) = line(rest);
            rest = r;
            Some(String::from_utf8_lossy(f).into_owned())
        }
    };
    o.kind = [None, Some("purchase"), Some("page_view"), Some("bad kind")][((b1 >> 5) & 3) as usize].map(String::from);
    if b1 & 128 != 0 {
        o.max_line = 300;
        let (m, r) = line(rest);
        rest = r;
        let m = match m.strip_prefix(b"text:") {
            Some(m) => {
                o.text_format = true;
                m
            }
            None => m,
        };
        let list = |m: &[u8]| String::from_utf8_lossy(m).split(',').map(String::from).collect::<Vec<_>>();
        match m.strip_prefix(b"columns=") {
            Some(cols) => o.columns = Some(list(cols)),
            None => o.maps = list(m).into_iter().filter(|s| !s.is_empty()).collect(),
        }
    }
    Some((o, rest))
}

/// Where the file of [`import`] is cut into the files of one import of
/// several (at most four).
pub const NEXT_FILE: &[u8] = b"\n--8<--\n";

/// A contacts or events import of `data` (options first, see
/// [`import_options`]) into `store`, rolled back. A file holding
/// [`NEXT_FILE`] is cut there into the files of one import of several.
pub fn import(store: &Store, what: What, data: &[u8]) {
    let Some((opts, file)) = import_options(data) else { return };
    let name = match opts.format {
        Some(InputFormat::Jsonl) => "fuzz.jsonl",
        Some(InputFormat::Csv) => "fuzz.csv",
        None => "fuzz",
    };
    let mut inputs = Vec::new();
    let mut rest = file;
    while !rest.is_empty() || inputs.is_empty() {
        let (part, after) = match rest.windows(NEXT_FILE.len()).position(|w| w == NEXT_FILE) {
            Some(at) if inputs.len() < 3 => (&rest[..at + 1], &rest[at + NEXT_FILE.len()..]),
            _ => (rest, &[][..]),
        };
        rest = after;
        let reader = Box::new(std::io::Cursor::new(part.to_vec()));
        let total = Some(part.len() as u64);
        // (`fuzz.csv`, then `fuzz2.csv`: the extension still names the format)
        let name = match inputs.len() {
            0 => name.to_string(),
            n => name.replacen("fuzz", &format!("fuzz{}", n + 1), 1),
        };
        match Input::from_reader(name, reader, total, opts.format, opts.max_line, "the limit", opts.encoding) {
            Ok(input) => inputs.push(input),
            Err(_) => return,
        }
    }
    let _ = crate::import::import_files_rolled_back(store, what, inputs, &opts);
}

/// Any bytes as a Parquet file imported as contacts or events (with
/// invalid rows skipped, so that every row is read), rolled back.
pub fn import_parquet(store: &Store, what: What, data: &[u8]) {
    let opts = ImportOptions { now: NOW, skip_invalid: true, ..ImportOptions::default() };
    let Ok(input) = Input::from_parquet_bytes("fuzz.parquet", data.to_vec()) else {
        return;
    };
    let _ = crate::import::import_rolled_back(store, what, input, &opts);
}

/// A campaign file (TOML, or JSON when it starts with `{`) read against the
/// session's store; one that reads must write back
/// ([`crate::app::campaign_file::campaign_file_text`]) as a file that reads
/// the same.
pub fn campaign_file(session: &Session, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((c, _warnings)) = session.parse_campaign(text, "campaign.toml") {
        let again = crate::app::campaign_file::campaign_file_text(&c);
        let (back, _) = session.parse_campaign(&again, "again.toml").unwrap_or_else(|e| panic!("{again}\n{e:?}"));
        assert_eq!(format!("{back:?}"), format!("{c:?}"), "written back as:\n{again}");
    }
}

/// A policy file: refused at a line of the file, or read into a policy
/// that writes back as a file that reads the same ([`crate::campaign::Policy::to_toml`])
/// and whose quiet hours end after any instant they hold, through a day
/// around Europe's spring clock change.
pub fn policy_file(data: &[u8]) {
    use crate::campaign::{Channel, parse_policy, quiet_until};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let p = match parse_policy(text, "policy.toml") {
        Ok(p) => p,
        Err(e) => {
            assert!(e.line >= 1 && e.line <= text.lines().count() + 1, "{e}");
            return;
        }
    };
    let again = p.to_toml();
    assert_eq!(parse_policy(&again, "again.toml").as_ref(), Ok(&p), "written back as:\n{again}");
    // 2024-03-31T00:00:00Z, then every 50 minutes for a day
    for step in 0..30 {
        let Some(t) = chrono::DateTime::from_timestamp(1_711_843_200 + step * 3000, 0) else { continue };
        for ch in [Channel::Email, Channel::Sms, Channel::Push] {
            if let Some(end) = quiet_until(p.quiet_ranges(ch), p.timezone, t) {
                assert!(end > t, "{ch:?}: quiet at {t} until {end}");
            }
        }
    }
}

/// A journey file: refused at a line of the file, or read into a draft
/// journey with its expressions checked against [`catalog`].
pub fn journey_file(data: &[u8]) {
    use crate::journey::file::{Checker, parse_journey};
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_journey(text, &Checker { catalog: catalog() }, NOW) {
        Ok((j, _warnings)) => {
            let _ = format!("{j:?}");
        }
        Err(e) => assert!(e.line >= 1 && e.line <= text.lines().count() + 1, "{e}"),
    }
}

/// The configuration file: read, or refused with `file:line: reason`.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = crate::config::Config::parse(text, "config.toml") {
        assert!(e.message.starts_with("config.toml:"), "{}", e.message);
    }
}

/// A console keymap file (the bytes before the first NUL): refused at a
/// line, or read into a keymap (layered on what it `extends`) that is then
/// fed the keys after the NUL, two bytes each (key, modifiers), in every
/// context, and asked for its bindings.
pub fn keymap_file(data: &[u8]) {
    use crate::console::keymap::{Context, Keymap};
    use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
    let (text, keys) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let mut map = match Keymap::from_text(text, "keymap.toml") {
        Ok(m) => m,
        Err(e) => {
            // (an error in a file it extends is located in that file)
            assert!(e.file != "keymap.toml" || (e.line >= 1 && e.line <= text.lines().count() + 1), "{e}");
            return;
        }
    };
    for (i, pair) in keys.chunks(2).enumerate() {
        let m = pair.get(1).copied().unwrap_or(0);
        let code = match pair[0] {
            0 => KeyCode::Esc,
            1 => KeyCode::Enter,
            2 => KeyCode::Tab,
            3 => KeyCode::BackTab,
            4 => KeyCode::Up,
            5 => KeyCode::Down,
            6 => KeyCode::Backspace,
            7 => KeyCode::F(1 + m % 12),
            8 => KeyCode::PageDown,
            9 => KeyCode::Home,
            b if b < 128 => KeyCode::Char(b as char),
            b => KeyCode::Char(char::from_u32(0xe0 + b as u32).unwrap_or('x')),
        };
        let mut key = KeyEvent::new(code, KeyModifiers::from_bits_truncate(m & 0x0f));
        if m & 0x80 != 0 {
            key.kind = KeyEventKind::Release;
        }
        let _ = map.feed(&[Context::ALL[i % Context::ALL.len()], Context::Global], key);
    }
    for &c in Context::ALL {
        for (_, action) in map.bindings(&[c, Context::Global]) {
            let _ = map.key_for(&[c], action);
        }
    }
}

/// What a damaged database file hands the store's own decoders: byte 0's
/// low 3 bits pick one (event block, contact column row, contact → blocks index row,
/// summaries row, dictionary chunk, bitmap, contact key bucket, shared
/// timeline entry and contact record row: the last two share a number,
/// which kept the seeds and crashers found before the record rows), its high 5 bits the row number
/// of the value, and the rest is the stored value.
/// A decoder must answer an error or a value, never panic or allocate by
/// a length it read before the bytes behind it; a value it returns must
/// encode and decode to itself, and an event block's partial decode must
/// agree with its full one.
pub fn stored_value(data: &[u8]) {
    use crate::store::codec::{Columns, EventBlock, ParamData};
    use crate::store::{
        action_groups, contact_columns, contact_index, dict, key_buckets, read, record_rows, summaries,
    };
    let Some((&which, b)) = data.split_first() else { return };
    // small row numbers, as a file of a few million contacts has
    let row = (which >> 3) as u32;
    match which & 7 {
        0 => {
            let contacts = EventBlock::decode_contacts(b);
            let Ok(block) = EventBlock::decode(b) else { return };
            assert_eq!(contacts.ok(), Some((block.kind, block.contact.clone())), "decode_contacts disagrees");
            let again = EventBlock::decode(&block.encode()).expect("an encoded block decodes");
            assert_eq!(again, block, "an event block does not read back the same");
            // some columns: every other parameter, source and utm by the row bits
            let mut wanted: Vec<u16> = block.params.iter().map(|p| p.0).step_by(2).collect();
            let cols = Columns {
                times: row & 4 == 4,
                source: row & 1 == 1,
                utm: row & 2 == 2,
                all_params: false,
                params: {
                    let mut p = wanted.clone();
                    p.sort_unstable();
                    p.dedup();
                    p
                },
            };
            let part = EventBlock::decode_columns(b, &cols).expect("a block decodes with some columns");
            let projected = EventBlock {
                ts: if cols.times { block.ts.clone() } else { Vec::new() },
                source: if cols.source { block.source.clone() } else { Vec::new() },
                utm: if cols.utm { block.utm.clone() } else { Default::default() },
                params: block.params.iter().filter(|p| cols.has_param(p.0)).cloned().collect(),
                ..block.clone()
            };
            assert_eq!(part, projected, "a block decoded with some columns differs");
            // the partial decode: even contacts, those parameters
            wanted.dedup();
            let some = EventBlock::decode_some_params(b, |c| c % 2 == 0, &wanted).expect("a block decodes in part");
            let keep: Vec<usize> = (0..block.len()).filter(|&i| block.contact[i] % 2 == 0).collect();
            assert_eq!(some.contact, keep.iter().map(|&i| block.contact[i]).collect::<Vec<_>>());
            assert_eq!(some.ts, keep.iter().map(|&i| block.ts[i]).collect::<Vec<_>>());
            if keep.is_empty() {
                return;
            }
            for (pid, d) in &some.params {
                let full = block.params.iter().find(|p| p.0 == *pid).expect("a parameter the block has");
                let expected = match &full.1 {
                    ParamData::Num(v) => ParamData::Num(keep.iter().map(|&i| v[i]).collect()),
                    ParamData::Text(v) => ParamData::Text(keep.iter().map(|&i| v[i]).collect()),
                };
                assert_eq!(d, &expected, "parameter {pid} decoded in part differs");
            }
        }
        1 => {
            let Ok(col) = contact_columns::Col::decode(b) else { return };
            use contact_columns::{CHUNK, Col};
            let same = |a: &Col, b: &Col| match (a, b) {
                (Col::Numbers(x), Col::Numbers(y)) => x == y,
                (Col::Sets(x), Col::Sets(y)) => x == y,
                (Col::Texts(x), Col::Texts(y)) => (0..CHUNK as usize).all(|s| x.get(s) == y.get(s)),
                _ => false,
            };
            match col.encode() {
                Some(bytes) => {
                    let again = Col::decode(&bytes).expect("an encoded row decodes");
                    assert!(same(&again, &col), "a contact column row does not read back the same");
                }
                None => assert!(
                    match &col {
                        Col::Numbers(v) => v.iter().all(|&x| x == contact_columns::NONE),
                        Col::Texts(t) => (0..CHUNK as usize).all(|s| t.get(s).is_none()),
                        Col::Sets(v) => v.iter().all(|x| x.is_empty()),
                    },
                    "a row with values encodes to nothing"
                ),
            }
        }
        2 => {
            if let Ok(entries) = contact_index::decode_row(row, b) {
                for (contact, blocks) in entries {
                    assert_eq!(contact_index::bucket_of(contact), row);
                    assert!(!blocks.is_empty() && blocks.windows(2).all(|w| w[0] < w[1]), "index lists are sorted");
                }
            }
        }
        3 => {
            let mut list = Vec::new();
            let without = summaries::decode_row(row, b, false, |_| Ok(()));
            if summaries::decode_row(row, b, true, |s| {
                list.push(s.clone());
                Ok(())
            })
            .is_err()
            {
                return;
            }
            assert!(without.is_ok(), "a row read with its totals fails without them");
            let mut bytes = Vec::new();
            summaries::encode_row(row, &list, &mut bytes);
            let mut again = Vec::new();
            summaries::decode_row(row, &bytes, true, |s| {
                again.push(s.clone());
                Ok(())
            })
            .expect("an encoded summaries row decodes");
            assert_eq!(again, list, "a summaries row does not read back the same");
        }
        4 => {
            let mut entries = Vec::new();
            if dict::decode_chunk(row, b, |id, s| entries.push((id, s.to_string()))).is_err() {
                return;
            }
            let bytes = dict::encode_chunk(entries.iter().map(|(id, s)| (*id, s.as_str())));
            let mut again = Vec::new();
            dict::decode_chunk(row, &bytes, |id, s| again.push((id, s.to_string()))).expect("an encoded chunk decodes");
            assert_eq!(again, entries, "a dictionary chunk does not read back the same");
        }
        5 => {
            if let Ok(bm) = read::decode_bitmap(b) {
                assert_eq!(read::decode_bitmap(&read::encode_bitmap(&bm)).ok(), Some(bm));
            }
        }
        6 => {
            let Ok(keys) = key_buckets::entries(b) else { return };
            assert_eq!(key_buckets::count(b).ok(), Some(keys.len() as u64), "a key row's count");
            let bytes = key_buckets::encode(&keys);
            assert_eq!(key_buckets::entries(&bytes).ok(), Some(keys), "a key row does not read back the same");
        }
        _ => {
            if let Ok(entries) = record_rows::entries(row, b).collect::<crate::error::Result<Vec<_>>>() {
                let mut bytes = Vec::new();
                for &(id, record) in &entries {
                    assert_eq!(record_rows::row_of(id), row, "a record outside its row");
                    assert_eq!(record_rows::find(b, id).ok(), Some(Some(record)), "a record row's entry not found");
                    let _ = postcard::from_bytes::<crate::model::Contact>(record);
                    record_rows::push(&mut bytes, id, record);
                }
                let again: Vec<_> =
                    record_rows::entries(row, &bytes).map(|e| e.expect("an encoded row decodes")).collect();
                assert_eq!(again, entries, "a record row does not read back the same");
            }
            let Ok((action, members)) = action_groups::decode(b) else { return };
            let bytes = action_groups::encode(&action, &members).expect("an entry encodes");
            let again = action_groups::decode(&bytes).expect("an encoded timeline group decodes");
            assert_eq!(again, (action, members), "a timeline group does not read back the same");
        }
    }
}

/// Every value `store` keeps in the tables [`stored_value`] decodes, each
/// prefixed with the byte that picks its decoder and row: the inputs a
/// healthy file gives (the target's seeds, and a test that they all pass).
pub fn stored_values(store: &Store) -> Result<Vec<Vec<u8>>> {
    use crate::store::tables::*;
    use redb::{ReadableDatabase, ReadableTable};
    let tx = store.redb().begin_read()?;
    let mut out = Vec::new();
    let mut push = |decoder: u8, row: u64, v: &[u8]| {
        if row < 32 {
            let mut x = vec![(row as u8) << 3 | decoder];
            x.extend_from_slice(v);
            out.push(x);
        }
    };
    for r in tx.open_table(EVENT_BLOCKS)?.iter()? {
        push(0, 0, r?.1.value());
    }
    for r in tx.open_table(CONTACT_COLUMNS)?.iter()? {
        push(1, 0, r?.1.value());
    }
    for r in tx.open_table(CONTACT_BLOCKS)?.iter()? {
        let (k, v) = r?;
        push(2, k.value() as u64, v.value());
    }
    for r in tx.open_table(CONTACT_SUMMARIES)?.iter()? {
        let (k, v) = r?;
        push(3, k.value().1 as u64, v.value());
    }
    for r in tx.open_table(DICT_CHUNKS)?.iter()? {
        let (k, v) = r?;
        push(4, k.value() as u64, v.value());
    }
    for r in tx.open_table(TAGS)?.iter()? {
        push(5, 0, r?.1.value());
    }
    for r in tx.open_table(EMAIL_KEYS)?.iter()?.chain(tx.open_table(EXTERNAL_ID_KEYS)?.iter()?).take(64) {
        push(6, 0, r?.1.value());
    }
    for r in tx.open_table(ACTION_GROUPS)?.iter()?.take(64) {
        push(7, 0, r?.1.value());
    }
    for r in tx.open_table(CONTACT_RECORDS)?.iter()?.take(64) {
        let (k, v) = r?;
        push(7, k.value() as u64, v.value());
    }
    Ok(out)
}
