//! IDX files (MNIST, Fashion-MNIST), plain or gzipped.
//!
//! Format: two zero bytes, a type byte (0x08 = u8), the number of dimensions, then each
//! dimension as a big-endian u32, then the data. Only unsigned-byte data is used by these
//! datasets, and only that is accepted.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Dataset;
use crate::{Error, Result};

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// The size of each dimension (images: count, rows, columns).
    pub dims: Vec<usize>,
    /// The bytes, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file; a gzip stream is detected by its magic bytes and unpacked.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes =
        if raw.starts_with(&[0x1f, 0x8b]) { inflate(&raw).map_err(|what| Error::format(path, what))? } else { raw };
    parse_idx(&bytes).map_err(|what| Error::format(path, what))
}

/// Unpacks a gzipped IDX file header first, so a stream that claims (or inflates to) more
/// than its compressed size can hold is refused before anything that large is allocated:
/// a 1 MB gzip bomb inflating to 1 GiB used to be read whole before the header was checked.
fn inflate(raw: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let corrupt = |e: std::io::Error| format!("corrupt or truncated gzip stream: {e}");
    let mut z = flate2::read::GzDecoder::new(raw);
    let mut head = vec![0u8; 4];
    let got = read_full(&mut z, &mut head).map_err(corrupt)?;
    head.truncate(got);
    if got < 4 || head[0] != 0 || head[1] != 0 {
        return Ok(head); // parse_idx names what is wrong
    }
    head.resize(4 + 4 * head[3] as usize, 0);
    let got = 4 + read_full(&mut z, &mut head[4..]).map_err(corrupt)?;
    head.truncate(got);
    let Some(Ok(body)) = parse_idx_header(&head) else { return Ok(head) };
    let limit = (raw.len() as u64).saturating_mul(super::MAX_DEFLATE_RATIO);
    if body as u64 > limit {
        return Err(format!(
            "the header claims {body} data bytes, more than a {}-byte gzip stream can hold (at most {limit}); \
             the file is damaged or not an IDX file",
            raw.len()
        ));
    }
    // One byte more than the header allows, to notice trailing data without reading it all.
    let mut out = head;
    out.reserve_exact(body + 1);
    z.take(body as u64 + 1).read_to_end(&mut out).map_err(corrupt)?;
    if out.len() > got + body {
        return Err(format!(
            "the gzip stream holds more data than the {body} bytes its header declares; the file is damaged"
        ));
    }
    Ok(out)
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The data size a complete header declares: `None` if the header is incomplete or
/// malformed, `Some(Err)` if the dimensions overflow.
fn parse_idx_header(b: &[u8]) -> Option<std::result::Result<usize, ()>> {
    if b.len() < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] == 0 || b.len() < 4 + 4 * b[3] as usize {
        return None;
    }
    let dims = (0..b[3] as usize).map(|i| u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize);
    Some(dims.into_iter().try_fold(1usize, |a, d| a.checked_mul(d)).ok_or(()))
}

/// Parses IDX bytes; the error says which field is wrong.
pub fn parse_idx(b: &[u8]) -> std::result::Result<IdxArray, String> {
    if b.len() < 4 {
        return Err(format!("{} bytes is too short for the 4-byte IDX magic", b.len()));
    }
    if b[0] != 0 || b[1] != 0 {
        return Err(format!(
            "bad magic {:02x} {:02x} {:02x} {:02x}: IDX files start with two zero bytes",
            b[0], b[1], b[2], b[3]
        ));
    }
    if b[2] != 0x08 {
        return Err(format!("data type 0x{:02x} is not 0x08 (unsigned byte)", b[2]));
    }
    let ndim = b[3] as usize;
    if ndim == 0 {
        return Err("magic declares 0 dimensions".into());
    }
    let header = 4 + 4 * ndim;
    if b.len() < header {
        return Err(format!("truncated header: {ndim} dimensions need {header} bytes, file has {}", b.len()));
    }
    let dims: Vec<usize> =
        (0..ndim).map(|i| u32::from_be_bytes(b[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize).collect();
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let body = b.len() - header;
    match expected {
        Some(n) if n == body => Ok(IdxArray { dims, data: b[header..].to_vec() }),
        Some(n) => Err(format!(
            "dimensions {dims:?} need {n} data bytes but the file holds {body} (truncated or wrong header)"
        )),
        None => Err(format!("dimensions {dims:?} overflow")),
    }
}

/// File names of one split of an MNIST-layout folder: `(images, labels)`, `.gz` preferred.
pub fn split_files(dir: &Path, train: bool) -> (PathBuf, PathBuf) {
    let prefix = if train { "train" } else { "t10k" };
    let pick = |stem: String| {
        let gz = dir.join(format!("{stem}.gz"));
        if gz.exists() {
            gz
        } else {
            dir.join(stem)
        }
    };
    (pick(format!("{prefix}-images-idx3-ubyte")), pick(format!("{prefix}-labels-idx1-ubyte")))
}

/// Loads images + labels of an MNIST-layout split as a dataset of `1×rows×cols` samples with
/// raw pixel values 0–255.
pub fn load_split(dir: &Path, train: bool, name: &str, class_names: Vec<String>) -> Result<Dataset> {
    let (img_path, lbl_path) = split_files(dir, train);
    let images = read_idx(&img_path)?;
    let labels = read_idx(&lbl_path)?;
    if images.dims.len() != 3 {
        return Err(Error::format(
            &img_path,
            format!("expected 3 dimensions (n, rows, cols), found {:?}", images.dims),
        ));
    }
    if labels.dims.len() != 1 {
        return Err(Error::format(&lbl_path, format!("expected 1 dimension (n), found {:?}", labels.dims)));
    }
    if images.dims[0] != labels.dims[0] {
        return Err(Error::format(
            &lbl_path,
            format!("{} labels for {} images in {}", labels.dims[0], images.dims[0], img_path.display()),
        ));
    }
    if let Some(&bad) = labels.data.iter().find(|&&l| l as usize >= class_names.len()) {
        return Err(Error::format(&lbl_path, format!("label {bad} is out of range 0..{}", class_names.len())));
    }
    let samples = images.data.iter().map(|&p| p as f32).collect();
    let labels = labels.data.iter().map(|&l| l as u32).collect();
    Dataset::new(name, samples, vec![1, images.dims[1], images.dims[2]], Some(labels), class_names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        dims.iter().for_each(|d| b.extend_from_slice(&d.to_be_bytes()));
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn parses_a_small_array() {
        let a = parse_idx(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn each_malformation_names_the_field() {
        let e = parse_idx(&idx(&[2, 3], &[1, 2, 3])).unwrap_err();
        assert!(e.contains("need 6 data bytes but the file holds 3"), "{e}");
        let mut bad = idx(&[1], &[0]);
        bad[0] = 7;
        assert!(parse_idx(&bad).unwrap_err().contains("bad magic"));
        let mut bad = idx(&[1], &[0]);
        bad[2] = 0x0d;
        assert!(parse_idx(&bad).unwrap_err().contains("data type 0x0d"));
        assert!(parse_idx(&[0, 0, 8, 3, 0, 0]).unwrap_err().contains("truncated header"));
        assert!(parse_idx(&[0, 0]).unwrap_err().contains("too short"));
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(b).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn a_gzip_is_checked_against_its_header_before_it_is_inflated() {
        let ok = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(parse_idx(&inflate(&gzip(&ok)).unwrap()).unwrap().data, vec![1, 2, 3, 4, 5, 6]);
        // A header claiming 2^40 bytes in a gzip of a few dozen: refused before allocating.
        let bomb = gzip(&idx(&[1 << 20, 1 << 20], &[0; 64]));
        let e = inflate(&bomb).unwrap_err();
        assert!(e.contains("more than a") && e.contains("gzip stream can hold"), "{e}");
        // An honest header over a stream with more data than it declares: read one byte past.
        let e = inflate(&gzip(&idx(&[4], &[0; 100_000]))).unwrap_err();
        assert!(e.contains("more data than the 4 bytes its header declares"), "{e}");
        // Malformed headers are passed through for parse_idx to name.
        assert!(parse_idx(&inflate(&gzip(&[0, 0, 9, 1])).unwrap()).unwrap_err().contains("data type"));
        assert!(parse_idx(&inflate(&gzip(&[1, 2])).unwrap()).unwrap_err().contains("too short"));
    }
}
