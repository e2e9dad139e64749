//! A Parquet column chunk's page headers checked before the `parquet`
//! crate decodes the chunk: a damaged header can declare any page size up
//! to 2 GB, and the crate allocates and zero-fills the size a page
//! declares before it finds that the page's bytes do not make it (a
//! 7 KB file could take 1.4 GB that way). A page's declared size must be
//! one its codec can make from the bytes the page has: for Snappy, the
//! size its own stream starts with; for the others, at most the most the
//! codec's format can expand that many bytes to.
//!
//! The headers are read as the format writes them (Thrift's compact
//! encoding); only the sizes are kept, every other field is skipped.

use bytes::Bytes;
use parquet::basic::Compression;
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
        at = page_end;
    }
    Ok(())
}

/// What a page header says of the page's size.
#[derive(Debug, Default, PartialEq)]
struct PageSizes {
    uncompressed: u32,
    compressed: u32,
    /// a version 2 data page's level bytes, written uncompressed first
    levels: u32,
    /// false when a version 2 data page is written uncompressed
    compressed_body: bool,
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
    // bytes takes 3; an LZ4 sequence gains 255 bytes a byte; deflate's
    // longest match of 258 bytes takes a quarter of a byte; a zstd RLE
    // block of 128 KiB takes 4 bytes. Brotli streams what it decodes
    // rather than filling the size first, so it is not bounded here.
    let most = match codec {
        Compression::SNAPPY => 22,
        Compression::LZ4 | Compression::LZ4_RAW => 256,
        Compression::GZIP(_) => 1040,
        Compression::ZSTD(_) => 32768,
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

/// Parquet's `PageHeader`: 2 the uncompressed size, 3 the compressed
/// size, 8 a version 2 data page's header (5 and 6 its level bytes, 7
/// whether its values are compressed).
fn page_header(c: &mut Compact) -> Result<PageSizes, Short> {
    let mut sizes = PageSizes { compressed_body: true, ..PageSizes::default() };
    let (mut has_uncompressed, mut has_compressed) = (false, false);
    c.fields(0, |c, id, kind| match (id, kind) {
        (2, I32) => {
            sizes.uncompressed = size(c.int()?)?;
            has_uncompressed = true;
            Ok(())
        }
        (3, I32) => {
            sizes.compressed = size(c.int()?)?;
            has_compressed = true;
            Ok(())
        }
        (8, STRUCT) => c.fields(1, |c, id, kind| match (id, kind) {
            (5 | 6, I32) => {
                sizes.levels = sizes.levels.saturating_add(size(c.int()?)?);
                Ok(())
            }
            (7, TRUE | FALSE) => {
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
const UUID: u8 = 13;

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
            UUID => self.advance(16),
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
    /// map's key and value); a boolean in a list takes a byte.
    fn items(&mut self, n: u64, kinds: &[u8], depth: u32) -> Result<(), Short> {
        for _ in 0..n {
            for &kind in kinds {
                match kind {
                    TRUE | FALSE => self.advance(1)?,
                    kind => self.skip(kind, depth + 1)?,
                }
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
            out.push(((id - last) << 4) | kind);
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
        let v2 = header(&[(1, I32, zigzag(10)), (5, I32, zigzag(3)), (6, I32, zigzag(4)), (7, FALSE, vec![])]);
        let stats = header(&[(1, BINARY, [vec![5], b"hello".to_vec()].concat()), (3, I64, zigzag(-9))]);
        let bytes = header(&[
            (1, I32, zigzag(3)),
            (2, I32, zigzag(1_000_000)),
            (3, I32, zigzag(1234)),
            (4, I32, zigzag(-77)),
            (5, STRUCT, stats),
            (8, STRUCT, v2),
        ]);
        let mut c = Compact { bytes: &bytes, at: 0 };
        let sizes = page_header(&mut c).unwrap();
        assert_eq!(sizes, PageSizes { uncompressed: 1_000_000, compressed: 1234, levels: 7, compressed_body: false });
        assert_eq!(c.at, bytes.len());
        for cut in 0..bytes.len() {
            assert_eq!(page_header(&mut Compact { bytes: &bytes[..cut], at: 0 }), Err(Short::Ends), "cut at {cut}");
        }
    }

    #[test]
    fn damage_is_named() {
        let negative = header(&[(2, I32, zigzag(-1)), (3, I32, zigzag(5))]);
        assert_eq!(
            page_header(&mut Compact { bytes: &negative, at: 0 }),
            Err(Short::Damaged("declares a size out of range"))
        );
        let missing = header(&[(2, I32, zigzag(5))]);
        assert_eq!(page_header(&mut Compact { bytes: &missing, at: 0 }), Err(Short::Damaged("has no page sizes")));
        let deep = [vec![0x1c; 100], vec![0; 100]].concat();
        assert_eq!(page_header(&mut Compact { bytes: &deep, at: 0 }), Err(Short::Damaged("nests too deep")));
        let unknown = header(&[(9, 14, vec![])]);
        assert_eq!(
            page_header(&mut Compact { bytes: &unknown, at: 0 }),
            Err(Short::Damaged("holds a field of no known type"))
        );
    }
}
