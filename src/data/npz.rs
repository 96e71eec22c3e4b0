//! NumPy arrays: `.npz` archives holding `X` (samples) and optionally `y` (labels) — the
//! ADBench layout, where `y = 1` marks an anomaly — and single `.npy` files holding `X`.
//!
//! Any numeric dtype, C or Fortran order (ADBench's `X` is Fortran). `X` of shape `(n, d)`
//! gives samples of `d` features; `(n, h, w)` grey images `1×h×w`; `(n, c, h, w)` images
//! `c×h×w`.
//!
//! Every array's header is checked before anything is allocated: its shape must multiply out
//! without overflow, and its size must fit what the archive holds (a stored member exactly; a
//! deflated one at most 1,100 times its compressed size — deflate's limit is about 1,032:1).
//! npyz multiplies the shape unchecked, so a forged header would otherwise panic or allocate
//! without bound.

use std::io::Read;
use std::path::Path;

use npyz::{NpyFile, Order};

use super::{Dataset, MAX_DEFLATE_RATIO};
use crate::{Error, Result};

/// Loads `X` and `y` from an `.npz`, requiring both (ADBench); labels become class indices of
/// their sorted values.
pub fn load_npz(path: &Path, name: &str) -> Result<Dataset> {
    let d = load_arrays(path, name)?;
    if d.labels.is_none() {
        return Err(Error::format(path, "no array named `y` (ADBench files hold `X` and `y`)"));
    }
    Ok(d)
}

/// Loads `X` (and `y`, when there is one) from an `.npz` archive or a `.npy` file (`X` only).
pub fn load_arrays(path: &Path, name: &str) -> Result<Dataset> {
    let is_npy = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let (x_shape, x, y) = if is_npy {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let (shape, x) = read_array(&bytes[..], bytes.len() as u64, path, "X")?;
        (shape, x, None)
    } else {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
            .map_err(|e| Error::format(path, format!("not a readable .npz (zip) archive: {e}")))?;
        let names: Vec<String> = zip.file_names().map(str::to_string).collect();
        let x_key = ["X", "x"].into_iter().find(|k| names.iter().any(|n| n == &format!("{k}.npy")));
        let x_key = x_key.ok_or_else(|| {
            let have: Vec<&str> = names.iter().map(|n| n.trim_end_matches(".npy")).collect();
            Error::format(path, format!("no array named `X` (it holds {}); save the samples as X=…", have.join(", ")))
        })?;
        let (shape, x) = read_member(&mut zip, path, x_key)?;
        let y = match ["y", "Y"].into_iter().find(|k| names.iter().any(|n| n == &format!("{k}.npy"))) {
            Some(k) => Some(read_member(&mut zip, path, k)?),
            None => None,
        };
        (shape, x, y)
    };
    let (n, sample_shape) = match x_shape.as_slice() {
        [n, d] => (*n, vec![*d]),
        [n, h, w] => (*n, vec![1, *h, *w]),
        [n, c, h, w] => (*n, vec![*c, *h, *w]),
        other => {
            return Err(Error::format(
                path,
                format!("array `X` has shape {other:?}; expected (n, d), (n, h, w) or (n, c, h, w)"),
            ))
        }
    };
    let (labels, class_names) = match y {
        None => (None, Vec::new()),
        Some((y_shape, y)) => {
            if y_shape != [n] {
                return Err(Error::format(
                    path,
                    format!("array `y` has shape {y_shape:?}; expected ({n},) to match `X`"),
                ));
            }
            let (l, c) = class_indices(&y, path)?;
            (Some(l), c)
        }
    };
    let samples = x.into_iter().map(|v| v as f32).collect();
    Dataset::new(name, samples, sample_shape, labels, class_names).map_err(|e| Error::format(path, e.to_string()))
}

/// Integer labels → class indices of their sorted values, named by the values.
fn class_indices(y: &[f64], path: &Path) -> Result<(Vec<u32>, Vec<String>)> {
    let mut classes: Vec<i64> = Vec::with_capacity(y.len());
    for (i, &v) in y.iter().enumerate() {
        if v.fract() != 0.0 || v.abs() > 1e15 {
            return Err(Error::format(path, format!("y[{i}] = {v} is not an integer class")));
        }
        classes.push(v as i64);
    }
    let mut names = classes.clone();
    names.sort_unstable();
    names.dedup();
    let labels = classes.iter().map(|c| names.binary_search(c).unwrap() as u32).collect();
    Ok((labels, names.iter().map(|c| c.to_string()).collect()))
}

/// One member `key.npy` of the archive, its size checked against the zip directory.
fn read_member<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    path: &Path,
    key: &str,
) -> Result<(Vec<usize>, Vec<f64>)> {
    let member = format!("{key}.npy");
    let f = zip.by_name(&member).map_err(|e| Error::format(path, format!("array `{key}`: {e}")))?;
    let limit = match f.compression() {
        zip::CompressionMethod::Stored => f.size(),
        _ => f.compressed_size().saturating_mul(MAX_DEFLATE_RATIO).min(f.size()),
    };
    // Read to the end: the zip reader checks the member's CRC-32 only there, and npyz stops
    // after the last value, so a flipped byte would otherwise pass unnoticed.
    let mut bytes = Vec::with_capacity(limit.min(1 << 30) as usize);
    f.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| {
        let what = if e.to_string().contains("checksum") {
            "the archive is damaged: its checksum does not match (download or copy it again)".to_string()
        } else {
            e.to_string()
        };
        Error::format(path, format!("array `{key}`: {what}"))
    })?;
    if bytes.len() as u64 > limit {
        return Err(Error::format(path, format!("array `{key}` holds more than its {limit} declared bytes")));
    }
    read_array(&bytes[..], limit, path, key)
}

/// Reads one `.npy` stream of at most `limit` bytes as f64 in C (row-major) order, whatever its
/// numeric dtype and order.
fn read_array(mut r: impl Read, limit: u64, path: &Path, key: &str) -> Result<(Vec<usize>, Vec<f64>)> {
    let bad = |what: String| Error::format(path, format!("array `{key}`: {what}"));
    let mut head = Vec::new();
    (&mut r).take(10).read_to_end(&mut head).map_err(|e| bad(e.to_string()))?;
    if head.len() < 10 || &head[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy array (no \\x93NUMPY magic)".into()));
    }
    let header_len = match head[6] {
        1 => u16::from_le_bytes([head[8], head[9]]) as u64,
        _ => {
            let mut more = [0u8; 2];
            r.read_exact(&mut more).map_err(|e| bad(e.to_string()))?;
            head.extend_from_slice(&more);
            u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as u64
        }
    };
    if header_len > 65_536 {
        return Err(bad(format!("header of {header_len} bytes; a .npy header is a short text")));
    }
    let mut text = Vec::new();
    (&mut r).take(header_len).read_to_end(&mut text).map_err(|e| bad(e.to_string()))?;
    // npyz's parser of the header's Python literal backtracks exponentially in the nesting of
    // brackets: eleven `{` took 2 s, and a few more would take hours (found by AFL++). A NumPy
    // header is a dict holding a tuple (a structured dtype adds a list of tuples).
    let depth = nesting(&text);
    if depth > MAX_HEADER_NESTING {
        return Err(bad(format!(
            "its header nests brackets {depth} deep (a .npy header is a flat dict: at most {MAX_HEADER_NESTING})"
        )));
    }
    let shape =
        header_shape(&String::from_utf8_lossy(&text)).ok_or_else(|| bad("no readable `shape` in its header".into()))?;
    // Every value takes at least one byte.
    let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    if count.is_none_or(|c| c > limit) {
        return Err(bad(format!(
            "header says shape {shape:?}, more values than its {limit} bytes can hold (a damaged or forged file)"
        )));
    }
    head.extend_from_slice(&text);
    let file = NpyFile::new(std::io::Cursor::new(head).chain(r)).map_err(|e| bad(e.to_string()))?;
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let order = file.order();
    let descr = file.dtype().descr().trim_matches('\'').to_string();
    let io = |e: std::io::Error| bad(format!("({descr}): {e}"));
    let values: Vec<f64> = match descr.get(1..).unwrap_or("") {
        "f8" => file.into_vec::<f64>().map_err(io)?,
        "f4" => file.into_vec::<f32>().map_err(io)?.into_iter().map(f64::from).collect(),
        "f2" => return Err(bad("dtype float16 is not read; save it as float32".into())),
        "i8" => file.into_vec::<i64>().map_err(io)?.into_iter().map(|v| v as f64).collect(),
        "i4" => file.into_vec::<i32>().map_err(io)?.into_iter().map(f64::from).collect(),
        "i2" => file.into_vec::<i16>().map_err(io)?.into_iter().map(f64::from).collect(),
        "i1" => file.into_vec::<i8>().map_err(io)?.into_iter().map(f64::from).collect(),
        "u8" => file.into_vec::<u64>().map_err(io)?.into_iter().map(|v| v as f64).collect(),
        "u4" => file.into_vec::<u32>().map_err(io)?.into_iter().map(f64::from).collect(),
        "u2" => file.into_vec::<u16>().map_err(io)?.into_iter().map(f64::from).collect(),
        "u1" | "b1" => file.into_vec::<u8>().map_err(io)?.into_iter().map(f64::from).collect(),
        other => return Err(bad(format!("dtype {other} is not a number type"))),
    };
    Ok((shape.clone(), to_c_order(values, &shape, order)))
}

/// The deepest bracket nesting a `.npy` header may have: `{'descr': [('a', '<f4', (2,))], …}`.
const MAX_HEADER_NESTING: usize = 4;

/// How deep `(`, `[` and `{` nest in `text` (quotes ignored: a bracket in a name counts too,
/// which only makes the limit stricter).
fn nesting(text: &[u8]) -> usize {
    let (mut depth, mut most) = (0usize, 0usize);
    for &c in text {
        match c {
            b'(' | b'[' | b'{' => {
                depth += 1;
                most = most.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    most
}

/// The `'shape': (a, b, …)` tuple of a `.npy` header dict.
fn header_shape(header: &str) -> Option<Vec<u64>> {
    let rest = &header[header.find("'shape'")? + 7..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('(')?;
    let inner = &rest[..rest.find(')')?];
    inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.trim_end_matches('L').parse().ok()).collect()
}

/// Any-rank array in Fortran order → C order.
fn to_c_order(values: Vec<f64>, shape: &[usize], order: Order) -> Vec<f64> {
    if order != Order::Fortran || shape.len() < 2 {
        return values;
    }
    let mut out = vec![0.0; values.len()];
    let rank = shape.len();
    let mut idx = vec![0usize; rank];
    // Walk C order; the Fortran offset has stride 1 on the first axis.
    let mut f_strides = vec![1usize; rank];
    for k in 1..rank {
        f_strides[k] = f_strides[k - 1] * shape[k - 1];
    }
    for o in out.iter_mut() {
        *o = values[idx.iter().zip(&f_strides).map(|(i, s)| i * s).sum::<usize>()];
        for k in (0..rank).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_transposed_to_rows() {
        // 2×3 matrix [[1,2,3],[4,5,6]] stored column by column.
        let f = vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        assert_eq!(to_c_order(f, &[2, 3], Order::Fortran), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // 2×1×2: C order [a000, a001, a100, a101]; Fortran stores a000, a100, a001, a101.
        assert_eq!(to_c_order(vec![1.0, 3.0, 2.0, 4.0], &[2, 1, 2], Order::Fortran), vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn header_shapes() {
        assert_eq!(header_shape("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }"), Some(vec![3, 4]));
        assert_eq!(header_shape("{'shape': (5,), 'descr': '<f4'}"), Some(vec![5]));
        assert_eq!(header_shape("{'shape': (4611686018427387904, 4)}"), Some(vec![1 << 62, 4]));
        assert_eq!(header_shape("{'descr': '<f8'}"), None);
    }
}
