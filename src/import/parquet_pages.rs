//! A Parquet column chunk's page headers checked before the `parquet`
//! crate decodes the chunk: a damaged header can declare any page size up
//! to 2 GB, and the crate allocates and zero-fills the size a page
//! declares before it finds that the page's bytes do not make it (a
//! 7 KB file could take 1.4 GB that way). A page's declared size must be
//! one its codec can make from the bytes the page has: for Snappy, the
//! size its own stream starts with; for gzip and Brotli, which the crate
//! decodes to their end, what the page decodes to here; for the others,
//! at most the most the codec's format can expand that many bytes to.
//! A dictionary page may declare no more values than its bytes hold, and
//! a delta-encoded page of texts no more lengths than it has values: the
//! crate makes room for those counts too.
//!
//! The headers are read as the format writes them (Thrift's compact
//! encoding) and as the crate reads them: the fields it reads by id must
//! have their types and come once, and a list of booleans (which it
//! skips as no bytes) refuses the page; other fields are skipped. The
//! file's footer is walked the same way before the crate reads it.

use bytes::Bytes;
use parquet::basic::{Compression, Type as Physical};
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::ChunkReader;

/// Checks every page header of `chunk` in `file`; the reason a page is
/// refused.
pub(super) fn check_chunk<R: ChunkReader>(file: &R, chunk: &ColumnChunkMetaData) -> Result<(), String> {
    let start = chunk.dictionary_page_offset().unwrap_or(chunk.data_page_offset());
    let (Ok(start), Ok(len)) = (u64::try_from(start), u64::try_from(chunk.compressed_size())) else {
        return Err("a column chunk's place in the file is negative".into());
    };
    let end = start.checked_add(len).filter(|&e| e <= file.len());
    let Some(end) = end else {
        return Err(format!("a column chunk runs past the end of the file (bytes {start} and {len} more)"));
    };
    let codec = chunk.compression();
    // the fewest bits a dictionary value takes (a text its 4-byte length)
    let bits = match chunk.column_type() {
        Physical::BOOLEAN => 1,
        Physical::INT32 | Physical::FLOAT | Physical::BYTE_ARRAY => 32,
        Physical::INT64 | Physical::DOUBLE => 64,
        Physical::INT96 => 96,
        Physical::FIXED_LEN_BYTE_ARRAY => 8 * u64::try_from(chunk.column_descr().type_length()).unwrap_or(0).max(1),
    };
    let mut at = start;
    while at < end {
        let (read, header_len, page) = read_header(file, at, end)?;
        let body = at + header_len as u64;
        let Some(page_end) = body.checked_add(page.compressed as u64).filter(|&e| e <= end) else {
            return Err(format!("the page at byte {at} runs past its column chunk"));
        };
        // (the bytes read past the header are the page's first bytes)
        let first = read.get(header_len..).unwrap_or_default();
        check_size(file, codec, &page, body, first).map_err(|e| format!("the page at byte {at} {e}"))?;
        if matches!(page.encoding(), Some(DELTA_LENGTH_BYTE_ARRAY | DELTA_BYTE_ARRAY)) {
            let levels = [chunk.column_descr().max_rep_level(), chunk.column_descr().max_def_level()];
            delta_lengths(file, codec, &page, body, levels).map_err(|e| format!("the page at byte {at} {e}"))?;
        }
        // the crate makes room for a dictionary's values as it declares them
        if let Some(n) = page.values().filter(|_| page.kind == DICTIONARY)
            && u64::from(n) * bits > u64::from(page.uncompressed) * 8
        {
            return Err(format!(
                "the dictionary page at byte {at} declares {n} values, more than its {} bytes hold",
                page.uncompressed
            ));
        }
        at = page_end;
    }
    Ok(())
}

/// Checks a file's footer (its `FileMetaData`, `bytes`) before the crate
/// reads it: the crate skips a list of booleans as no bytes a value, so a
/// few bytes declaring a list of two billion of them hold it for a second
/// each (found by fuzzing: a 5 KB file with many would take minutes), and
/// it makes room for a list's declared length. Every list here must have
/// the bytes its length says; the footer holds no list of booleans.
pub(super) fn check_footer(bytes: &[u8]) -> Result<(), String> {
    let mut c = Compact { bytes, at: 0 };
    c.skip(STRUCT, 0).map_err(|e| match e {
        Short::Ends => "its footer is cut".to_string(),
        Short::Damaged(why) => format!("its footer {why}"),
    })
}

/// A dictionary page's type.
const DICTIONARY: u8 = 2;

/// What a page header says of the page's size.
#[derive(Debug, Default, PartialEq)]
struct PageSizes {
    uncompressed: u32,
    compressed: u32,
    /// a version 2 data page's level bytes, written uncompressed first
    levels: u32,
    /// false when a version 2 data page is written uncompressed
    compressed_body: bool,
    /// 0 a data page, 1 an index page, 2 a dictionary page, 3 a version 2
    /// data page
    kind: u8,
    /// the number of values (nulls included) and their encoding, as the
    /// header of each kind of page says (the crate reads the one of the
    /// page's kind), and a version 1 data page's levels' encodings,
    /// repetition then definition
    values: [Option<u32>; 4],
    encoding: [Option<u8>; 4],
    level_encodings: [u8; 2],
}

impl PageSizes {
    fn values(&self) -> Option<u32> {
        self.values[usize::from(self.kind)]
    }

    fn encoding(&self) -> Option<u8> {
        self.encoding[usize::from(self.kind)]
    }
}

/// Whether `codec` can make the page's declared size out of its bytes
/// (at `body`; `first`: some of them, read with the header).
fn check_size<R: ChunkReader>(
    file: &R,
    codec: Compression,
    page: &PageSizes,
    body: u64,
    first: &[u8],
) -> Result<(), String> {
    if page.levels > page.compressed || page.levels > page.uncompressed {
        return Err("declares more level bytes than the page has".into());
    }
    let (input, output) = (u64::from(page.compressed - page.levels), u64::from(page.uncompressed - page.levels));
    if !page.compressed_body || output == 0 {
        return Ok(());
    }
    // The most each codec's format expands its input: a Snappy copy of 64
    // bytes takes 3; an LZ4 sequence gains 255 bytes a byte. (The crate
    // fills the declared size for these before decoding.)
    let most = match codec {
        Compression::SNAPPY => 22,
        Compression::LZ4 | Compression::LZ4_RAW => 256,
        Compression::GZIP(_) | Compression::BROTLI(_) => return streamed(file, codec, page, body, output),
        Compression::ZSTD(_) => return zstd_size(file, page, body, first, input, output),
        _ => return Ok(()),
    };
    if output > input * most + 64 {
        return Err(format!("declares {output} bytes, more than its {input} compressed bytes can hold"));
    }
    if codec == Compression::SNAPPY {
        // the stream starts with its size (a varint of up to 10 bytes)
        let want = (input as usize).min(10);
        let levels = page.levels as usize;
        let read;
        let head = match first.get(levels..levels + want) {
            Some(head) => head,
            None => {
                read = file.get_bytes(body + levels as u64, want).map_err(|e| format!("cannot be read ({e})"))?;
                &read[..]
            }
        };
        let said = Compact { bytes: head, at: 0 }.varint().ok();
        if said != Some(output) {
            return Err(format!(
                "declares {output} bytes where its Snappy stream says {}",
                said.map_or("nothing readable".to_string(), |n| n.to_string())
            ));
        }
    }
    Ok(())
}

/// For zstd, whose declared size the crate reserves before decoding: the
/// size the frame's header gives, or (when it gives none or another, as
/// several frames may) the page decoded here, as [`streamed`].
fn zstd_size<R: ChunkReader>(
    file: &R,
    page: &PageSizes,
    body: u64,
    first: &[u8],
    input: u64,
    output: u64,
) -> Result<(), String> {
    // a frame's header is at most 18 bytes
    let levels = page.levels as usize;
    let head = first.get(levels..levels + (input as usize).min(18));
    if let Some(head) = head
        && matches!(zstd::zstd_safe::get_frame_content_size(head), Ok(Some(n)) if n == output)
    {
        return Ok(());
    }
    streamed(file, Compression::ZSTD(Default::default()), page, body, output)
}

/// For gzip and Brotli, which the crate decodes to their end whatever the
/// page declares (a Brotli page of a kilobyte can hold gigabytes): the
/// page decoded here, stopping one byte past its declared size, must make
/// exactly that size.
fn streamed<R: ChunkReader>(
    file: &R,
    codec: Compression,
    page: &PageSizes,
    body: u64,
    output: u64,
) -> Result<(), String> {
    let bytes = file.get_bytes(body, page.compressed as usize).map_err(|e| format!("cannot be read ({e})"))?;
    let input = &bytes[page.levels as usize..];
    let made = std::io::copy(&mut std::io::Read::take(decoder(codec, input), output + 1), &mut std::io::sink());
    match made {
        Ok(n) if n == output => Ok(()),
        Ok(n) => Err(format!(
            "declares {output} bytes where its {} stream holds {}",
            name(codec),
            if n > output { "more" } else { "fewer" }
        )),
        Err(e) => Err(format!("is not a whole {} stream ({e})", name(codec))),
    }
}

/// The encodings whose counts of values the crate makes room for before
/// decoding them.
const DELTA_LENGTH_BYTE_ARRAY: u8 = 6;
const DELTA_BYTE_ARRAY: u8 = 7;

/// For a page of texts in a delta encoding: the crate makes room for as
/// many lengths as the encoding's header says, so each count there must be
/// at most the page's values. The page is decoded here to find them (the
/// codecs are the crate's own; a legacy LZ4 page is not looked into).
/// `levels`: the column's highest repetition and definition levels (a
/// version 1 page starts with those above 0).
fn delta_lengths<R: ChunkReader>(
    file: &R,
    codec: Compression,
    page: &PageSizes,
    body: u64,
    levels: [i16; 2],
) -> Result<(), String> {
    let bytes = file.get_bytes(body, page.compressed as usize).map_err(|e| format!("cannot be read ({e})"))?;
    let packed = bytes.get(page.levels as usize..).unwrap_or_default();
    let output = (page.uncompressed - page.levels) as usize;
    let unreadable = |e: &dyn std::fmt::Display| format!("is not a whole {} stream ({e})", name(codec));
    let data: Vec<u8> = match codec {
        _ if !page.compressed_body => packed.to_vec(),
        Compression::UNCOMPRESSED => packed.to_vec(),
        // (its size checked against the stream's own above)
        Compression::SNAPPY => snap::raw::Decoder::new().decompress_vec(packed).map_err(|e| unreadable(&e))?,
        Compression::LZ4_RAW => lz4_flex::block::decompress(packed, output).map_err(|e| unreadable(&e))?,
        // (each checked above to make its declared size)
        Compression::GZIP(_) | Compression::BROTLI(_) | Compression::ZSTD(_) => {
            let mut out = Vec::new();
            let _ =
                std::io::Read::read_to_end(&mut std::io::Read::take(decoder(codec, packed), output as u64), &mut out);
            out
        }
        _ => return Ok(()),
    };
    let n = u64::from(page.values().unwrap_or(0));
    let mut c = Compact { bytes: &data, at: 0 };
    if page.kind != 3 {
        // a version 1 page's levels come first, inside its compressed bytes
        for (max, encoding) in levels.into_iter().zip(page.level_encodings) {
            if max <= 0 {
                continue;
            }
            let skip = match encoding {
                // RLE, after its length
                3 => match data.get(c.at..c.at + 4) {
                    Some(b) => 4 + u64::from(u32::from_le_bytes(b.try_into().unwrap_or_default())),
                    None => return Ok(()),
                },
                // BIT_PACKED, each level in the bits its highest needs
                4 => (n * u64::from(16 - max.leading_zeros())).div_ceil(8),
                _ => return Ok(()), // the crate refuses it
            };
            if c.advance(skip).is_err() {
                return Ok(()); // the crate finds it cut
            }
        }
    }
    let check = |c: &mut Compact, what: &str| -> Result<(), String> {
        let count = delta_count(c);
        match count {
            Some(count) if count > n => Err(format!("declares {count} {what} in a page of {n} values")),
            _ => Ok(()),
        }
    };
    let start = c.at;
    check(&mut c, "lengths")?;
    if page.encoding() == Some(DELTA_BYTE_ARRAY) {
        c.at = start;
        if let Some(end) = delta_end(&mut c) {
            c.at = end;
            check(&mut c, "suffixes")?;
        }
    }
    Ok(())
}

/// A codec's name in messages.
fn name(codec: Compression) -> &'static str {
    match codec {
        Compression::SNAPPY => "Snappy",
        Compression::GZIP(_) => "gzip",
        Compression::BROTLI(_) => "Brotli",
        Compression::ZSTD(_) => "zstd",
        Compression::LZ4 | Compression::LZ4_RAW => "LZ4",
        _ => "compressed",
    }
}

/// A gzip, Brotli or zstd stream's decoder.
fn decoder<'a>(codec: Compression, input: &'a [u8]) -> Box<dyn std::io::Read + 'a> {
    match codec {
        Compression::BROTLI(_) => Box::new(brotli::Decompressor::new(input, 4096)),
        Compression::ZSTD(_) => match zstd::stream::read::Decoder::with_buffer(input) {
            Ok(d) => Box::new(d),
            Err(e) => Box::new(Failing(Some(e))),
        },
        _ => Box::new(flate2::read::MultiGzDecoder::new(input)),
    }
}

/// A reader that fails with its error (a decoder that could not start).
struct Failing(Option<std::io::Error>);

impl std::io::Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(self.0.take().unwrap_or_else(|| std::io::Error::other("a decoder failed")))
    }
}

/// The count of values a DELTA_BINARY_PACKED header declares (block
/// size, miniblocks a block, count, first value), leaving `c` after it.
fn delta_count(c: &mut Compact) -> Option<u64> {
    c.varint().ok()?;
    c.varint().ok()?;
    let count = c.varint().ok()?;
    c.varint().ok()?;
    Some(count)
}

/// Where a DELTA_BINARY_PACKED stream at `c` ends, as the crate finds it
/// (the end of the last block holding a value; a miniblock after the last
/// value takes no bytes whatever its width): where a DELTA_BYTE_ARRAY
/// page's suffixes start. None when the stream is cut or damaged (the
/// crate refuses it).
fn delta_end(c: &mut Compact) -> Option<usize> {
    let block = c.varint().ok()?;
    let miniblocks = c.varint().ok()?;
    let count = c.varint().ok()?;
    c.varint().ok()?;
    if miniblocks == 0 || block % 128 != 0 {
        return None;
    }
    let per_miniblock = block / miniblocks;
    let mut left = count.saturating_sub(1);
    while left > 0 {
        c.varint().ok()?; // the block's least delta
        let widths = c.bytes.get(c.at..c.at.checked_add(usize::try_from(miniblocks).ok()?)?)?.to_vec();
        c.at += widths.len();
        for width in widths {
            if left > 0 {
                c.advance(u64::from(width).saturating_mul(per_miniblock) / 8).ok()?;
            }
            left = left.saturating_sub(per_miniblock);
        }
    }
    Some(c.at)
}

/// Reads the page header at `at` (before `end`): the bytes read (the
/// header and what follows it), the header's length and its sizes.
fn read_header<R: ChunkReader>(file: &R, at: u64, end: u64) -> Result<(Bytes, usize, PageSizes), String> {
    // Headers are small, but statistics can make one long: read more
    // until it is whole or the chunk ends.
    let mut want = 256u64.min(end - at);
    loop {
        let bytes =
            file.get_bytes(at, want as usize).map_err(|e| format!("the page at byte {at} cannot be read ({e})"))?;
        let mut c = Compact { bytes: &bytes, at: 0 };
        match page_header(&mut c) {
            Ok(sizes) => return Ok((bytes.clone(), c.at, sizes)),
            Err(Short::Ends) if want < end - at => want = (want * 4).min(end - at),
            Err(e) => return Err(format!("the page header at byte {at} {}", e.reason())),
        }
    }
}

/// Why a header could not be read.
#[derive(Debug, PartialEq)]
enum Short {
    /// the bytes end inside it
    Ends,
    Damaged(&'static str),
}

impl Short {
    fn reason(&self) -> &'static str {
        match self {
            Short::Ends => "runs past its column chunk",
            Short::Damaged(why) => why,
        }
    }
}

/// The fields of each header struct the `parquet` crate reads by id
/// whatever type the bytes give them (ids 1, 2, …): each must have that
/// type and come once, or the crate would read the header otherwise than
/// this check. Other fields it skips by their type, as this check does.
const PAGE_HEADER: &[u8] = &[I32, I32, I32, I32, STRUCT, STRUCT, STRUCT, STRUCT];
const DATA_PAGE: &[u8] = &[I32, I32, I32, I32];
const DICTIONARY_PAGE: &[u8] = &[I32, I32, TRUE];
const DATA_PAGE_V2: &[u8] = &[I32, I32, I32, I32, I32, I32, TRUE];

/// Parquet's `PageHeader`: 1 the page's type, 2 the uncompressed size, 3
/// the compressed size, 5 a data page's header, 7 a dictionary page's (1
/// its number of values), 8 a version 2 data page's (5 and 6 its level
/// bytes, 7 whether its values are compressed).
fn page_header(c: &mut Compact) -> Result<PageSizes, Short> {
    let mut sizes = PageSizes { compressed_body: true, ..PageSizes::default() };
    let (mut has_uncompressed, mut has_compressed) = (false, false);
    c.known_fields(0, PAGE_HEADER, |c, id, kind| match id {
        1 => {
            sizes.kind = u8::try_from(c.int()?).ok().filter(|&k| k <= 3).ok_or(Short::Damaged("has no known type"))?;
            Ok(())
        }
        2 => {
            sizes.uncompressed = size(c.int()?)?;
            has_uncompressed = true;
            Ok(())
        }
        3 => {
            sizes.compressed = size(c.int()?)?;
            has_compressed = true;
            Ok(())
        }
        5 => c.known_fields(1, DATA_PAGE, |c, id, _| {
            let v = c.int()?;
            match id {
                1 => sizes.values[0] = Some(size(v)?),
                2 => sizes.encoding[0] = u8::try_from(v).ok(),
                3 => sizes.level_encodings[1] = u8::try_from(v).unwrap_or(u8::MAX),
                _ => sizes.level_encodings[0] = u8::try_from(v).unwrap_or(u8::MAX),
            }
            Ok(())
        }),
        7 => c.known_fields(1, DICTIONARY_PAGE, |c, id, kind| match id {
            1 => {
                sizes.values[usize::from(DICTIONARY)] = Some(size(c.int()?)?);
                Ok(())
            }
            _ => c.skip(kind, 1),
        }),
        8 => c.known_fields(1, DATA_PAGE_V2, |c, id, kind| match id {
            1 => {
                sizes.values[3] = Some(size(c.int()?)?);
                Ok(())
            }
            4 => {
                sizes.encoding[3] = u8::try_from(c.int()?).ok();
                Ok(())
            }
            5 | 6 => {
                sizes.levels = sizes.levels.saturating_add(size(c.int()?)?);
                Ok(())
            }
            7 => {
                sizes.compressed_body = kind == TRUE;
                Ok(())
            }
            _ => c.skip(kind, 1),
        }),
        _ => c.skip(kind, 0),
    })?;
    if !(has_uncompressed && has_compressed) {
        return Err(Short::Damaged("has no page sizes"));
    }
    Ok(sizes)
}

fn size(v: i64) -> Result<u32, Short> {
    u32::try_from(v).ok().filter(|&v| v <= i32::MAX as u32).ok_or(Short::Damaged("declares a size out of range"))
}

// Thrift's compact types.
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

/// Nesting deeper than this is damage (a page header nests three deep).
const DEEPEST: u32 = 32;

/// Thrift's compact encoding, read from `bytes` at `at`.
struct Compact<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Compact<'_> {
    fn byte(&mut self) -> Result<u8, Short> {
        let b = *self.bytes.get(self.at).ok_or(Short::Ends)?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Short> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Short::Damaged("holds a number too long to be one"))
    }

    /// A zigzag-encoded integer.
    fn int(&mut self) -> Result<i64, Short> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn advance(&mut self, n: u64) -> Result<(), Short> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(Short::Ends);
        }
        self.at += n as usize;
        Ok(())
    }

    /// Reads a struct's fields up to its stop, handing each field's id
    /// and type to `field`, which reads or skips its value.
    fn fields(
        &mut self,
        depth: u32,
        mut field: impl FnMut(&mut Self, i64, u8) -> Result<(), Short>,
    ) -> Result<(), Short> {
        if depth > DEEPEST {
            return Err(Short::Damaged("nests too deep"));
        }
        let mut id = 0i64;
        loop {
            let b = self.byte()?;
            if b == 0 {
                return Ok(());
            }
            let delta = i64::from(b >> 4);
            id = if delta == 0 { self.int()? } else { id + delta };
            field(self, id, b & 0x0f)?;
        }
    }

    /// [`Compact::fields`] of a struct whose fields `1..=known.len()` the
    /// crate reads by id: each must have its type (`TRUE` for a boolean)
    /// and come at most once.
    fn known_fields(
        &mut self,
        depth: u32,
        known: &[u8],
        mut field: impl FnMut(&mut Self, i64, u8) -> Result<(), Short>,
    ) -> Result<(), Short> {
        let mut seen = 0u64;
        self.fields(depth, |c, id, kind| {
            let Some(&want) = usize::try_from(id).ok().filter(|&i| i >= 1).and_then(|i| known.get(i - 1)) else {
                return c.skip(kind, depth);
            };
            let kind_of = if kind == FALSE { TRUE } else { kind };
            if kind_of != want {
                return Err(Short::Damaged("holds a field of another type than its own"));
            }
            if seen & (1 << id) != 0 {
                return Err(Short::Damaged("holds a field twice"));
            }
            seen |= 1 << id;
            field(c, id, kind)
        })
    }

    /// Skips a value of type `kind`.
    fn skip(&mut self, kind: u8, depth: u32) -> Result<(), Short> {
        if depth > DEEPEST {
            return Err(Short::Damaged("nests too deep"));
        }
        match kind {
            TRUE | FALSE => Ok(()),
            BYTE => self.advance(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.advance(8),
            BINARY => {
                let n = self.varint()?;
                self.advance(n)
            }
            LIST | SET => {
                let h = self.byte()?;
                let n = match h >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.items(n, &[h & 0x0f], depth)
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                self.items(n, &[kv >> 4, kv & 0x0f], depth)
            }
            STRUCT => self.fields(depth + 1, |c, _, kind| c.skip(kind, depth + 1)),
            _ => Err(Short::Damaged("holds a field of no known type")),
        }
    }

    /// Skips `n` items, each of the types in `kinds` (a list's element, a
    /// map's key and value). Booleans in a list take a byte each, which
    /// the `parquet` crate skips as none: such a list is refused.
    fn items(&mut self, n: u64, kinds: &[u8], depth: u32) -> Result<(), Short> {
        if kinds.iter().any(|&k| k == TRUE || k == FALSE) {
            return Err(Short::Damaged("holds a list of booleans"));
        }
        for _ in 0..n {
            for &kind in kinds {
                self.skip(kind, depth + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact-encoded struct of the given (id, type, value bytes).
    fn header(fields: &[(u8, u8, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut last = 0;
        for (id, kind, value) in fields {
            match id.checked_sub(last).filter(|d| (1..16).contains(d)) {
                Some(delta) => out.push((delta << 4) | kind),
                // the long form: the type, then the id
                None => out.extend([vec![*kind], zigzag(i64::from(*id))].concat()),
            }
            out.extend(value);
            last = *id;
        }
        out.push(0);
        out
    }

    fn zigzag(v: i64) -> Vec<u8> {
        let mut v = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            if v < 0x80 {
                out.push(v as u8);
                return out;
            }
            out.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
    }

    #[test]
    fn sizes_read_and_other_fields_skipped() {
        let stats = header(&[(1, BINARY, [vec![5], b"hello".to_vec()].concat()), (3, I64, zigzag(-9))]);
        let v2 = header(&[
            (1, I32, zigzag(10)),
            (5, I32, zigzag(3)),
            (6, I32, zigzag(4)),
            (7, FALSE, vec![]),
            (8, STRUCT, stats.clone()),
        ]);
        let v1 = header(&[(1, I32, zigzag(10)), (2, I32, zigzag(0)), (5, STRUCT, stats)]);
        let bytes = header(&[
            (1, I32, zigzag(3)),
            (2, I32, zigzag(1_000_000)),
            (3, I32, zigzag(1234)),
            (4, I32, zigzag(-77)),
            (5, STRUCT, v1),
            (8, STRUCT, v2),
            // a field no version knows, a list of numbers
            (20, LIST, [vec![0x35], zigzag(1), zigzag(2), zigzag(3)].concat()),
        ]);
        let mut c = Compact { bytes: &bytes, at: 0 };
        let sizes = page_header(&mut c).unwrap();
        let want = PageSizes {
            uncompressed: 1_000_000,
            compressed: 1234,
            levels: 7,
            compressed_body: false,
            kind: 3,
            values: [Some(10), None, None, Some(10)],
            encoding: [Some(0), None, None, None],
            level_encodings: [0, 0],
        };
        assert_eq!(sizes, want);
        assert_eq!(c.at, bytes.len());
        for cut in 0..bytes.len() {
            assert_eq!(page_header(&mut Compact { bytes: &bytes[..cut], at: 0 }), Err(Short::Ends), "cut at {cut}");
        }
        let dictionary = header(&[
            (1, I32, zigzag(2)),
            (2, I32, zigzag(40)),
            (3, I32, zigzag(20)),
            (7, STRUCT, header(&[(1, I32, zigzag(10)), (2, I32, zigzag(0)), (3, TRUE, vec![])])),
        ]);
        let sizes = page_header(&mut Compact { bytes: &dictionary, at: 0 }).unwrap();
        assert_eq!((sizes.kind, sizes.values()), (DICTIONARY, Some(10)));
        // the count is the one of the page's own kind, as the crate reads it,
        // whatever other headers the page holds
        let both = header(&[
            (1, I32, zigzag(2)),
            (2, I32, zigzag(40)),
            (3, I32, zigzag(20)),
            (5, STRUCT, header(&[(1, I32, zigzag(1)), (2, I32, zigzag(6))])),
            (7, STRUCT, header(&[(1, I32, zigzag(2_000_000_000))])),
            (8, STRUCT, header(&[(1, I32, zigzag(3)), (4, I32, zigzag(7))])),
        ]);
        let sizes = read(&both).unwrap();
        assert_eq!((sizes.values(), sizes.encoding()), (Some(2_000_000_000), None));
        let v1 = PageSizes { kind: 0, ..read(&both).unwrap() };
        assert_eq!((v1.values(), v1.encoding()), (Some(1), Some(6)));
        let v2 = PageSizes { kind: 3, ..read(&both).unwrap() };
        assert_eq!((v2.values(), v2.encoding()), (Some(3), Some(7)));
    }

    fn read(bytes: &[u8]) -> Result<PageSizes, Short> {
        page_header(&mut Compact { bytes, at: 0 })
    }

    #[test]
    fn damage_is_named() {
        let sizes = [(2, I32, zigzag(50)), (3, I32, zigzag(5))];
        let with = |more: &[(u8, u8, Vec<u8>)]| header(&[&sizes[..], more].concat());
        assert_eq!(
            read(&header(&[(2, I32, zigzag(-1)), (3, I32, zigzag(5))])),
            Err(Short::Damaged("declares a size out of range"))
        );
        assert_eq!(
            read(&header(&[(2, I32, zigzag(1 << 31)), (3, I32, zigzag(5))])),
            Err(Short::Damaged("declares a size out of range"))
        );
        assert_eq!(read(&header(&[(2, I32, zigzag(5))])), Err(Short::Damaged("has no page sizes")));
        let deep = [vec![0x9c], vec![0x1c; 100], vec![0; 101]].concat();
        assert_eq!(read(&deep), Err(Short::Damaged("nests too deep")));
        assert_eq!(read(&with(&[(9, 14, vec![])])), Err(Short::Damaged("holds a field of no known type")));
        assert_eq!(read(&with(&[(9, 13, vec![0; 16])])), Err(Short::Damaged("holds a field of no known type")));
        let kind = header(&[(1, I32, zigzag(7)), (2, I32, zigzag(50)), (3, I32, zigzag(5))]);
        assert_eq!(read(&kind), Err(Short::Damaged("has no known type")));
    }

    /// Headers the `parquet` crate would read otherwise than this check
    /// (found by a review: each made it take 2 GB): refused.
    #[test]
    fn headers_read_two_ways_are_refused() {
        let small = [(1, I32, zigzag(0)), (2, I32, zigzag(50)), (3, I32, zigzag(5))];
        let with = |more: &[(u8, u8, Vec<u8>)]| header(&[&small[..], more].concat());
        // the crate reads a field by its id whatever its type, and the last
        // of a field given twice
        let size_as_i16 =
            [header(&small).split_last().unwrap().1, &[0x04, zigzag(2)[0]], &zigzag(2_000_000_000), &[0]].concat();
        assert_eq!(read(&size_as_i16), Err(Short::Damaged("holds a field of another type than its own")));
        let twice =
            [header(&small).split_last().unwrap().1, &[0x05, zigzag(2)[0]], &zigzag(2_000_000_000), &[0]].concat();
        assert_eq!(read(&twice), Err(Short::Damaged("holds a field twice")));
        let v2 = header(&[(7, FALSE, vec![])]);
        assert_eq!(
            read(&with(&[(8, STRUCT, v2.clone()), (8, STRUCT, v2)])),
            Err(Short::Damaged("holds a field twice"))
        );
        let compressed_as_i32 = header(&[(7, I32, zigzag(0))]);
        assert_eq!(
            read(&with(&[(8, STRUCT, compressed_as_i32)])),
            Err(Short::Damaged("holds a field of another type than its own"))
        );
        // it skips a boolean in a list as no byte, where the format gives one
        let bools = [vec![0x31], vec![1, 1, 1]].concat();
        assert_eq!(read(&with(&[(20, LIST, bools)])), Err(Short::Damaged("holds a list of booleans")));
        let map = [zigzag(1), vec![0x81], vec![1, 1]].concat();
        assert_eq!(read(&with(&[(20, MAP, map)])), Err(Short::Damaged("holds a list of booleans")));
    }
}
