//! `.npz` archives with arrays `X` (n × d features) and `y` (n labels) — the ADBench layout,
//! where `y = 1` marks an anomaly. Both C and Fortran order are read (ADBench's `X` is Fortran).

use std::path::Path;

use npyz::{npz::NpzArchive, Order};

use super::Dataset;
use crate::{Error, Result};

/// Loads `X` and `y` from an `.npz`; labels become class indices of their sorted values.
pub fn load_npz(path: &Path, name: &str) -> Result<Dataset> {
    let mut npz =
        NpzArchive::open(path).map_err(|e| Error::format(path, format!("not a readable .npz (zip) archive: {e}")))?;
    let (x_shape, x) = read_f64(&mut npz, path, "X")?;
    let (y_shape, y) = read_f64(&mut npz, path, "y")?;
    if x_shape.len() != 2 {
        return Err(Error::format(path, format!("array `X` has shape {x_shape:?}; expected (n, d)")));
    }
    if y_shape.len() != 1 || y_shape[0] != x_shape[0] {
        return Err(Error::format(
            path,
            format!("array `y` has shape {y_shape:?}; expected ({},) to match `X`", x_shape[0]),
        ));
    }
    let mut classes: Vec<i64> = Vec::new();
    for (i, &v) in y.iter().enumerate() {
        if v.fract() != 0.0 {
            return Err(Error::format(path, format!("y[{i}] = {v} is not an integer class")));
        }
        classes.push(v as i64);
    }
    let mut names = classes.clone();
    names.sort_unstable();
    names.dedup();
    let labels = classes.iter().map(|c| names.binary_search(c).unwrap() as u32).collect();
    let samples = x.into_iter().map(|v| v as f32).collect();
    Dataset::new(name, samples, vec![x_shape[1]], Some(labels), names.iter().map(|c| c.to_string()).collect())
        .map_err(|e| Error::format(path, e.to_string()))
}

/// Reads one array as f64 in C (row-major) order, whatever its numeric dtype and order.
fn read_f64(
    npz: &mut NpzArchive<std::io::BufReader<std::fs::File>>,
    path: &Path,
    key: &str,
) -> Result<(Vec<usize>, Vec<f64>)> {
    let file = npz
        .by_name(key)
        .map_err(|e| Error::format(path, format!("array `{key}`: {e}")))?
        .ok_or_else(|| Error::format(path, format!("no array named `{key}` (ADBench files hold `X` and `y`)")))?;
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let order = file.order();
    let descr = file.dtype().descr().trim_matches('\'').to_string();
    let bad = |e: std::io::Error| Error::format(path, format!("array `{key}` ({descr}): {e}"));
    let values: Vec<f64> = match &descr[1..] {
        "f8" => file.into_vec::<f64>().map_err(bad)?,
        "f4" => file.into_vec::<f32>().map_err(bad)?.into_iter().map(f64::from).collect(),
        "i8" => file.into_vec::<i64>().map_err(bad)?.into_iter().map(|v| v as f64).collect(),
        "i4" => file.into_vec::<i32>().map_err(bad)?.into_iter().map(f64::from).collect(),
        "i2" => file.into_vec::<i16>().map_err(bad)?.into_iter().map(f64::from).collect(),
        "i1" => file.into_vec::<i8>().map_err(bad)?.into_iter().map(f64::from).collect(),
        "u8" => file.into_vec::<u64>().map_err(bad)?.into_iter().map(|v| v as f64).collect(),
        "u4" => file.into_vec::<u32>().map_err(bad)?.into_iter().map(f64::from).collect(),
        "u2" => file.into_vec::<u16>().map_err(bad)?.into_iter().map(f64::from).collect(),
        "u1" | "b1" => file.into_vec::<u8>().map_err(bad)?.into_iter().map(f64::from).collect(),
        other => return Err(Error::format(path, format!("array `{key}` has dtype {other}; expected a number type"))),
    };
    Ok((shape.clone(), to_c_order(values, &shape, order)))
}

fn to_c_order(values: Vec<f64>, shape: &[usize], order: Order) -> Vec<f64> {
    match (order, shape) {
        (Order::Fortran, [n, d]) => {
            let mut out = vec![0.0; values.len()];
            for j in 0..*d {
                for i in 0..*n {
                    out[i * d + j] = values[j * n + i];
                }
            }
            out
        }
        _ => values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_transposed_to_rows() {
        // 2×3 matrix [[1,2,3],[4,5,6]] stored column by column.
        let f = vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        assert_eq!(to_c_order(f, &[2, 3], Order::Fortran), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
