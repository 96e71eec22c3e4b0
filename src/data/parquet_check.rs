//! A structural check of a parquet file before polars reads it.
//!
//! polars' reader trusts the lengths a file declares: fuzzing found files whose footer or page
//! headers made it allocate 2^61 bytes — an abort that no error handling can catch — and more
//! that made it panic. Here the footer (thrift, compact protocol) is walked first with every
//! declared length checked against the bytes that are really there, then every page header of
//! every column chunk: inside its chunk, sizes not negative, and no more values than its row
//! group has rows. Only then does polars see the file. Reading the footer and the page headers
//! costs one small read per page, next to the decoding that follows.

// The thrift field callbacks store a field and answer `Ok(())` in one expression
// (`(3, I32) => Ok(repetition = r.varint_i64()?)`); spelled out, each would take four lines.
#![allow(clippy::unit_arg)]

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Error, Result};

/// Deeper nesting than any parquet footer has (schema elements are a flat list).
const MAX_DEPTH: usize = 64;
/// A page header is a few dozen bytes; statistics may add min/max values.
const MAX_PAGE_HEADER: u64 = 1 << 20;

/// Checks the file's footer and page headers; the error names the file and what is wrong.
pub fn check_parquet(path: &Path) -> Result<()> {
    let bad = |what: String| Error::format(path, format!("not a readable parquet file: {what}"));
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if len < 12 {
        return Err(bad(format!("{len} bytes is shorter than parquet's header and footer")));
    }
    let mut tail = [0u8; 8];
    read_at(&mut f, len - 8, &mut tail).map_err(|e| Error::io(path, e))?;
    if &tail[4..] != b"PAR1" {
        return Err(bad("it does not end with the `PAR1` magic".into()));
    }
    let footer_len = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")) as u64;
    if footer_len > len - 12 {
        return Err(bad(format!("its footer claims {footer_len} bytes, more than the file's {len}")));
    }
    let mut footer = vec![0u8; footer_len as usize];
    read_at(&mut f, len - 8 - footer_len, &mut footer).map_err(|e| Error::io(path, e))?;
    let meta = Footer::read(&footer).map_err(|e| bad(format!("footer: {e}")))?;
    let repeated = meta.repeated_leaves().map_err(|e| bad(format!("schema: {e}")))?;
    for (g, group) in meta.row_groups.iter().enumerate() {
        if group.chunks.len() != repeated.len() {
            let (n, m) = (group.chunks.len(), repeated.len());
            return Err(bad(format!("row group {g} has {n} column chunks for {m} columns")));
        }
        for (c, chunk) in group.chunks.iter().enumerate() {
            // A list column holds any number of values per row; a flat one at most one.
            let most = if repeated[c] { None } else { Some(group.rows) };
            check_chunk(&mut f, len, most, chunk).map_err(|e| bad(format!("row group {g}, column chunk {c}: {e}")))?;
        }
    }
    Ok(())
}

fn read_at(f: &mut File, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)
}

/// Walks the pages of one column chunk, from its first page to its end.
/// `most`: the most values its pages may hold (`None`: a repeated column, no bound).
fn check_chunk(f: &mut File, file_len: u64, most: Option<i64>, chunk: &Chunk) -> std::result::Result<(), String> {
    let start = match chunk.dictionary_page_offset {
        Some(d) if d > 0 && d < chunk.data_page_offset => d,
        _ => chunk.data_page_offset,
    };
    let end = start.checked_add(chunk.total_compressed_size).filter(|_| start >= 4 && chunk.total_compressed_size >= 0);
    let end = match end {
        Some(e) if (e as u64) <= file_len => e as u64,
        _ => return Err(format!("its pages ({start} + {} bytes) lie outside the file", chunk.total_compressed_size)),
    };
    let mut pos = start as u64;
    let mut values = 0i64;
    while pos < end {
        let mut head = vec![0u8; (end - pos).min(MAX_PAGE_HEADER) as usize];
        read_at(f, pos, &mut head).map_err(|e| format!("page at byte {pos}: {e}"))?;
        let (page, used) = PageHeader::read(&head).map_err(|e| format!("page header at byte {pos}: {e}"))?;
        if page.compressed_size < 0 || page.uncompressed_size < 0 || page.num_values < 0 {
            return Err(format!("page at byte {pos} declares a negative size or count"));
        }
        if let Some(rows) = most.filter(|&rows| page.num_values > rows) {
            return Err(format!(
                "page at byte {pos} declares {} values in a row group of {rows} rows",
                page.num_values
            ));
        }
        pos += used as u64;
        if page.compressed_size as u64 > end - pos {
            return Err(format!("page at byte {pos} runs past its column chunk"));
        }
        pos += page.compressed_size as u64;
        if !page.dictionary {
            values += page.num_values;
        }
    }
    if let Some(rows) = most.filter(|&rows| values > rows) {
        return Err(format!("its pages hold {values} values for {rows} rows"));
    }
    Ok(())
}

/// What the check needs of the footer (`FileMetaData`).
struct Footer {
    /// The schema's elements, depth first: (repetition type, number of children).
    schema: Vec<(i64, i64)>,
    row_groups: Vec<Group>,
}

struct Group {
    rows: i64,
    chunks: Vec<Chunk>,
}

#[derive(Default)]
struct Chunk {
    data_page_offset: i64,
    dictionary_page_offset: Option<i64>,
    total_compressed_size: i64,
}

struct PageHeader {
    uncompressed_size: i64,
    compressed_size: i64,
    num_values: i64,
    dictionary: bool,
}

impl Footer {
    /// FileMetaData: 4 = row_groups (list of RowGroup: 1 = columns, 3 = num_rows); ColumnChunk
    /// 3 = meta_data (ColumnMetaData: 7 = total_compressed_size, 9 = data_page_offset,
    /// 11 = dictionary_page_offset). Every other field is walked and checked, not kept.
    fn read(b: &[u8]) -> std::result::Result<Self, String> {
        let mut r = Reader { b, pos: 0 };
        let mut row_groups = Vec::new();
        let mut schema = Vec::new();
        r.read_struct(0, &mut |r, id, t| match (id, t) {
            // SchemaElement: 3 = repetition_type, 5 = num_children.
            (2, LIST) => r.read_list(1, &mut |r, t| {
                expect(t, STRUCT)?;
                let (mut repetition, mut children) = (0, 0);
                r.read_struct(2, &mut |r, id, t| match (id, t) {
                    (3, I32) => Ok(repetition = r.varint_i64()?),
                    (5, I32) => Ok(children = r.varint_i64()?),
                    _ => r.skip(t, 3),
                })?;
                schema.push((repetition, children));
                Ok(())
            }),
            (4, LIST) => r.read_list(1, &mut |r, t| {
                expect(t, STRUCT)?;
                let mut g = Group { rows: 0, chunks: Vec::new() };
                r.read_struct(2, &mut |r, id, t| match (id, t) {
                    (1, LIST) => r.read_list(3, &mut |r, t| {
                        expect(t, STRUCT)?;
                        let mut c = Chunk::default();
                        r.read_struct(4, &mut |r, id, t| match (id, t) {
                            (3, STRUCT) => r.read_struct(5, &mut |r, id, t| match (id, t) {
                                (7, I64) => Ok(c.total_compressed_size = r.varint_i64()?),
                                (9, I64) => Ok(c.data_page_offset = r.varint_i64()?),
                                (11, I64) => Ok(c.dictionary_page_offset = Some(r.varint_i64()?)),
                                _ => r.skip(t, 6),
                            }),
                            _ => r.skip(t, 5),
                        })?;
                        g.chunks.push(c);
                        Ok(())
                    }),
                    (3, I64) => Ok(g.rows = r.varint_i64()?),
                    _ => r.skip(t, 3),
                })?;
                row_groups.push(g);
                Ok(())
            }),
            _ => r.skip(t, 1),
        })?;
        Ok(Footer { schema, row_groups })
    }

    /// For each leaf column, in column-chunk order: whether it or a parent is repeated.
    fn repeated_leaves(&self) -> std::result::Result<Vec<bool>, String> {
        const REPEATED: i64 = 2;
        fn walk(
            s: &[(i64, i64)],
            i: &mut usize,
            above: bool,
            depth: usize,
            out: &mut Vec<bool>,
        ) -> std::result::Result<(), String> {
            let &(repetition, children) = s.get(*i).ok_or("fewer elements than the children declared")?;
            if depth > MAX_DEPTH || children < 0 {
                return Err("nested too deeply, or a negative child count".into());
            }
            *i += 1;
            let repeated = above || (depth > 0 && repetition == REPEATED);
            if children == 0 && depth > 0 {
                out.push(repeated);
            }
            for _ in 0..children {
                walk(s, i, repeated, depth + 1, out)?;
            }
            Ok(())
        }
        let mut out = Vec::new();
        if !self.schema.is_empty() {
            walk(&self.schema, &mut 0, false, 0, &mut out)?;
        }
        Ok(out)
    }
}

impl PageHeader {
    /// PageHeader: 1 = type (2: dictionary page), 2 = uncompressed_page_size,
    /// 3 = compressed_page_size, 5/7/8 = the data, dictionary and data v2 headers, whose
    /// field 1 is num_values. Returns the header and its length in bytes.
    fn read(b: &[u8]) -> std::result::Result<(Self, usize), String> {
        let mut r = Reader { b, pos: 0 };
        let mut p = PageHeader { uncompressed_size: 0, compressed_size: 0, num_values: 0, dictionary: false };
        r.read_struct(0, &mut |r, id, t| match (id, t) {
            (1, I32) => Ok(p.dictionary = r.varint_i64()? == 2),
            (2, I32) => Ok(p.uncompressed_size = r.varint_i64()?),
            (3, I32) => Ok(p.compressed_size = r.varint_i64()?),
            (5 | 7 | 8, STRUCT) => r.read_struct(1, &mut |r, id, t| match (id, t) {
                (1, I32) => Ok(p.num_values = r.varint_i64()?),
                _ => r.skip(t, 2),
            }),
            _ => r.skip(t, 1),
        })?;
        Ok((p, r.pos))
    }
}

fn expect(t: u8, want: u8) -> std::result::Result<(), String> {
    if t == want {
        Ok(())
    } else {
        Err(format!("element type {t} where a struct ({want}) belongs"))
    }
}

// Thrift compact protocol types.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
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

/// A thrift compact-protocol reader whose every declared length is checked against the bytes
/// left, so nothing it reads can ask for more memory than the input holds.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

type Field<'f, 'a> = dyn FnMut(&mut Reader<'a>, i16, u8) -> std::result::Result<(), String> + 'f;
type Element<'f, 'a> = dyn FnMut(&mut Reader<'a>, u8) -> std::result::Result<(), String> + 'f;

impl<'a> Reader<'a> {
    fn byte(&mut self) -> std::result::Result<u8, String> {
        let v = *self.b.get(self.pos).ok_or("truncated")?;
        self.pos += 1;
        Ok(v)
    }

    fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                return Err("a varint overflows 64 bits".into());
            }
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a varint runs past 10 bytes".into())
    }

    fn varint_i64(&mut self) -> std::result::Result<i64, String> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn advance(&mut self, n: u64) -> std::result::Result<(), String> {
        let left = (self.b.len() - self.pos) as u64;
        if n > left {
            return Err(format!("a length of {n} bytes where {left} are left"));
        }
        self.pos += n as usize;
        Ok(())
    }

    /// A struct's fields, each handed to `field` (which reads or skips its value), to the stop
    /// byte.
    fn read_struct(&mut self, depth: usize, field: &mut Field<'_, 'a>) -> std::result::Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        let mut id = 0i16;
        loop {
            let head = self.byte()?;
            if head == 0 {
                return Ok(());
            }
            let (delta, t) = (head >> 4, head & 0x0f);
            id = if delta == 0 {
                let v = self.varint_i64()?;
                i16::try_from(v).map_err(|_| format!("field id {v}"))?
            } else {
                id.wrapping_add(delta as i16)
            };
            field(self, id, t)?;
        }
    }

    /// A list's (or set's) elements, each handed to `element`; the count must fit the bytes
    /// left (every element takes at least one).
    fn read_list(&mut self, depth: usize, element: &mut Element<'_, 'a>) -> std::result::Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        let head = self.byte()?;
        let t = head & 0x0f;
        let n = match head >> 4 {
            15 => self.varint()?,
            n => n as u64,
        };
        if n > (self.b.len() - self.pos) as u64 {
            return Err(format!("a list of {n} elements where {} bytes are left", self.b.len() - self.pos));
        }
        for _ in 0..n {
            element(self, t)?;
        }
        Ok(())
    }

    /// Skips a value of type `t`.
    fn skip(&mut self, t: u8, depth: usize) -> std::result::Result<(), String> {
        match t {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            BYTE => self.advance(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.advance(8),
            BINARY => {
                let n = self.varint()?;
                self.advance(n)
            }
            LIST | SET => self.read_list(depth + 1, &mut |r, t| {
                // Booleans inside a list are one byte each.
                if matches!(t, BOOL_TRUE | BOOL_FALSE) {
                    r.advance(1)
                } else {
                    r.skip(t, depth + 1)
                }
            }),
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                if n > (self.b.len() - self.pos) as u64 {
                    return Err(format!("a map of {n} entries where {} bytes are left", self.b.len() - self.pos));
                }
                let kv = self.byte()?;
                for _ in 0..n {
                    self.skip(kv >> 4, depth + 1)?;
                    self.skip(kv & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => self.read_struct(depth + 1, &mut |r, _, t| r.skip(t, depth + 1)),
            _ => Err(format!("unknown thrift type {t}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_past_the_input_are_refused() {
        // A struct whose field 1 is a list claiming 2^40 elements in 8 bytes.
        let mut b = vec![0x19, 0xfc];
        b.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
        let e = Footer::read(&b).err().unwrap();
        assert!(e.contains("a list of 1099511627776 elements"), "{e}");
        // A binary field claiming more bytes than follow.
        let e = Footer::read(&[0x18, 0x7f, 1, 2, 0]).err().unwrap();
        assert!(e.contains("a length of 127 bytes"), "{e}");
        assert!(Footer::read(&[0x15]).err().unwrap().contains("truncated"));
    }

    /// Files polars writes pass, list columns (more values than rows) and structs included, in
    /// several row groups with dictionary pages; a cut file does not.
    #[test]
    fn what_polars_writes_passes_and_a_cut_file_does_not() {
        use polars::prelude::*;
        let n = 5_000;
        let lists: Vec<Series> = (0..n).map(|i| Series::new("".into(), vec![i as f64; i % 4])).collect();
        let a = Series::new("a".into(), (0..n).map(|i| (i % 7) as f64).collect::<Vec<_>>());
        let s = StructChunked::from_series("s".into(), n, [a.clone(), a.clone().with_name("b".into())].iter()).unwrap();
        let mut df = DataFrame::new(
            n,
            vec![
                a.into(),
                Column::new("l".into(), lists),
                s.into_series().into(),
                Column::new("t".into(), vec!["x"; n]),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        ParquetWriter::new(File::create(&path).unwrap()).with_row_group_size(Some(1_000)).finish(&mut df).unwrap();
        check_parquet(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(check_parquet(&path).unwrap_err().to_string().contains("`PAR1`"));
        let mut footer_cut = bytes[..8].to_vec();
        footer_cut.extend_from_slice(&bytes[bytes.len() - 8..]);
        let e = check_parquet(&{
            std::fs::write(&path, &footer_cut).unwrap();
            path.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("its footer claims"), "{e}");
    }
}
