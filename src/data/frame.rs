//! A polars table (from a CSV/TSV or parquet file, or a hub dataset) as a [`Dataset`]: which
//! columns are features, which one is the label, and what happens to bad cells.
//!
//! Features are chosen by name (`--columns`), so a test file may hold the same columns in
//! another order; without a list, every column but the label is a feature and each must be
//! numeric — a text column is refused by name, with the fix. Missing, NaN and infinite cells are
//! errors naming the row (or line) and column, unless `drop_invalid` is set: then such rows are
//! skipped and counted.

use std::path::Path;

use polars::prelude::*;

use super::Dataset;
use crate::{Error, Result};

/// How to turn a table into samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameOptions<'a> {
    /// Feature columns by name, in this order; `None`: every column but the label.
    pub columns: Option<&'a [String]>,
    /// The column holding each row's class (integers or text), if any.
    pub label_column: Option<&'a str>,
    /// Read the table without labels when it has no `label_column` (new data to encode or
    /// score) instead of failing.
    pub label_optional: bool,
    /// Skip rows with a missing, NaN or infinite feature instead of failing.
    pub drop_invalid: bool,
    /// Where the table's first row is in its file, for messages: `Some(k)` names rows as
    /// `line {row + k}` (a CSV file with a header: 2), `None` as `row {row}` (parquet).
    pub first_line: Option<usize>,
}

/// A table read as samples, with the names of its feature columns in sample order.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameData {
    /// One sample per kept row, of shape `[columns.len()]`.
    pub data: Dataset,
    /// The feature columns, in the order of each sample's values.
    pub columns: Vec<String>,
    /// Rows skipped for a missing, NaN or infinite value (only with `drop_invalid`).
    pub dropped: usize,
}

/// Reads `df` (from `origin`, for messages) into samples; see the module documentation.
pub fn frame_to_dataset(df: &DataFrame, opts: &FrameOptions, name: &str, origin: &Path) -> Result<FrameData> {
    let err = |what: String| Error::format(origin, what);
    let have: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    if df.height() == 0 {
        return Err(err("the table has no rows".into()));
    }
    let mut opts = opts.clone();
    if let Some(l) = opts.label_column {
        if !have.iter().any(|c| c == l) {
            if !opts.label_optional {
                return Err(err(format!("no label column `{l}`; the columns are {}", short_list(&have))));
            }
            opts.label_column = None;
        }
    }
    let columns: Vec<String> = match opts.columns {
        Some(cols) => {
            let missing: Vec<&str> = cols.iter().filter(|c| !have.contains(c)).map(String::as_str).collect();
            if !missing.is_empty() {
                return Err(err(format!(
                    "no column {}; the file has {}. The model was trained on the columns {} (by name, any order)",
                    quoted(&missing),
                    short_list(&have),
                    short_list(cols)
                )));
            }
            cols.to_vec()
        }
        None => have.iter().filter(|c| Some(c.as_str()) != opts.label_column).cloned().collect(),
    };
    if columns.is_empty() {
        return Err(err("no feature columns (only the label)".into()));
    }
    let row_name = |row: usize| match opts.first_line {
        Some(k) => format!("line {}", row + k),
        None => format!("row {row}"),
    };
    let values: Vec<Vec<Option<f64>>> =
        columns.iter().map(|c| column_values(df.column(c).unwrap(), &row_name, origin)).collect::<Result<_>>()?;
    let (n, d) = (df.height(), columns.len());
    // A damaged parquet file can decode to columns shorter than the frame says it is.
    if let Some((c, v)) = columns.iter().zip(&values).find(|(_, v)| v.len() != n) {
        return Err(err(format!("column `{c}` holds {} values for {n} rows; the file is damaged", v.len())));
    }
    let mut keep = vec![true; n];
    for (j, col) in values.iter().enumerate() {
        for (row, v) in col.iter().enumerate() {
            let bad = match v {
                None => Some("is empty (a missing value, or a row with too few fields)".to_string()),
                Some(v) if !v.is_finite() || v.abs() > f32::MAX as f64 => {
                    Some(format!("is {v}, not a finite 32-bit number"))
                }
                Some(_) => None,
            };
            if let Some(bad) = bad {
                if !opts.drop_invalid {
                    return Err(err(format!(
                        "{}, column `{}` {bad}; clean or impute the data, or pass --drop-invalid to skip such rows",
                        row_name(row),
                        columns[j]
                    )));
                }
                keep[row] = false;
            }
        }
    }
    let kept: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    if kept.is_empty() {
        return Err(err(format!("all {n} rows have a missing, NaN or infinite value")));
    }
    let mut samples = Vec::with_capacity(kept.len() * d);
    for &i in &kept {
        samples.extend(values.iter().map(|col| col[i].unwrap() as f32));
    }
    let (labels, class_names) = match opts.label_column {
        Some(l) => {
            let (labels, names) = class_labels(df.column(l).unwrap(), &row_name, origin)?;
            (Some(kept.iter().map(|&i| labels[i]).collect()), names)
        }
        None => (None, Vec::new()),
    };
    let data = Dataset::new(name, samples, vec![d], labels, class_names).map_err(|e| err(e.to_string()))?;
    Ok(FrameData { data, columns, dropped: n - kept.len() })
}

/// A feature column as numbers: numeric types directly; text only when every cell is a number
/// as Rust spells them (`1.5`, `nan`, `inf`), which polars' CSV reader leaves as text.
fn column_values(col: &Column, row_name: &dyn Fn(usize) -> String, origin: &Path) -> Result<Vec<Option<f64>>> {
    let err = |what: String| Error::format(origin, what);
    let name = col.name();
    let s = col.as_materialized_series();
    if is_numeric(s.dtype()) {
        let f = s.cast(&DataType::Float64).map_err(|e| err(format!("column `{name}`: {e}")))?;
        return Ok(f.f64().map_err(|e| err(format!("column `{name}`: {e}")))?.iter().collect());
    }
    let text = s.cast(&DataType::String).ok();
    let Some(text) = text.as_ref().and_then(|t| t.str().ok()) else {
        return Err(err(format!("column `{name}` is {}, not numbers; leave it out with --columns", s.dtype())));
    };
    text.iter()
        .enumerate()
        .map(|(row, v)| match v.map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<f64>().map(Some).map_err(|_| {
                err(format!(
                    "{}, column `{name}`: {v:?} is not a number. Choose the numeric feature columns with --columns, \
                     or make a class column the label with --label-column",
                    row_name(row)
                ))
            }),
        })
        .collect()
}

fn is_numeric(t: &DataType) -> bool {
    t.is_primitive_numeric() || matches!(t, DataType::Boolean)
}

/// `a, b, c` — or the first ten and how many there are in all.
fn short_list(names: &[String]) -> String {
    match names.len() {
        0..=12 => names.join(", "),
        n => format!("{} … ({n} in all)", names[..10].join(", ")),
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
}

/// A label column (integers or text) as class indices in sorted order of the values (numbers
/// numerically), and the values as class names. A missing label is an error naming its row.
pub fn class_labels(
    col: &Column,
    row_name: &dyn Fn(usize) -> String,
    origin: &Path,
) -> Result<(Vec<u32>, Vec<String>)> {
    let err = |what: String| Error::format(origin, what);
    let name = col.name().to_string();
    let s = col.as_materialized_series();
    if s.dtype().is_float() {
        let f = s.cast(&DataType::Float64).map_err(|e| err(e.to_string()))?;
        let fractional = f.f64().unwrap().iter().enumerate().find(|(_, v)| v.is_some_and(|v| v.fract() != 0.0));
        if let Some((row, Some(v))) = fractional {
            return Err(err(format!("{}, label column `{name}`: {v} is not a class", row_name(row))));
        }
    }
    let numeric = is_numeric(s.dtype());
    let text = s.cast(&DataType::String).map_err(|e| err(format!("label column `{name}`: {e}")))?;
    let text = text.str().map_err(|e| err(format!("label column `{name}`: {e}")))?;
    let mut values = Vec::with_capacity(text.len());
    for (row, v) in text.iter().enumerate() {
        let v = v.ok_or_else(|| err(format!("{}, label column `{name}` is empty", row_name(row))))?;
        // Floats holding integers (pandas writes `1.0`) name their class `1`.
        let v = if numeric { v.strip_suffix(".0").unwrap_or(v) } else { v };
        values.push(v.to_string());
    }
    let mut names = values.clone();
    // Numbers numerically (`2` before `10`), then text.
    names.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    });
    names.dedup();
    let index: std::collections::HashMap<&str, u32> =
        names.iter().enumerate().map(|(i, n)| (n.as_str(), i as u32)).collect();
    let labels = values.iter().map(|v| index[v.as_str()]).collect();
    Ok((labels, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df() -> DataFrame {
        df!("a" => [1.0, 2.0, 3.0], "b" => [4i64, 5, 6], "label" => ["y", "x", "y"]).unwrap()
    }

    #[test]
    fn picks_columns_by_name_in_the_order_given() {
        let cols = vec!["b".to_string(), "a".to_string()];
        let o = FrameOptions { columns: Some(&cols), label_column: Some("label"), ..Default::default() };
        let f = frame_to_dataset(&df(), &o, "t", Path::new("t.csv")).unwrap();
        assert_eq!(f.data.samples, vec![4.0, 1.0, 5.0, 2.0, 6.0, 3.0]);
        assert_eq!(f.data.class_names, vec!["x", "y"]);
        assert_eq!(f.data.labels, Some(vec![1, 0, 1]));
    }

    #[test]
    fn text_columns_are_refused_by_name() {
        let e = frame_to_dataset(&df(), &FrameOptions::default(), "t", Path::new("t.csv")).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("row 0, column `label`: \"y\" is not a number") && e.contains("--label-column"), "{e}");
    }

    #[test]
    fn numeric_labels_sort_as_numbers() {
        let d = df!("x" => [0.0, 1.0, 2.0], "y" => [10i32, 2, 2]).unwrap();
        let o = FrameOptions { label_column: Some("y"), ..Default::default() };
        let f = frame_to_dataset(&d, &o, "t", Path::new("t")).unwrap();
        assert_eq!(f.data.class_names, vec!["2", "10"]);
        assert_eq!(f.data.labels, Some(vec![1, 0, 0]));
    }

    #[test]
    fn missing_and_nan_cells_name_their_place_or_are_dropped() {
        let d = df!("a" => [Some(1.0), None, Some(3.0)], "b" => [1.0, 2.0, f64::NAN]).unwrap();
        let o = FrameOptions { first_line: Some(2), ..Default::default() };
        let e = frame_to_dataset(&d, &o, "t", Path::new("t.csv")).unwrap_err().to_string();
        assert!(e.contains("t.csv: line 3, column `a` is empty") && e.contains("--drop-invalid"), "{e}");
        let d2 = df!("a" => [1.0, 2.0, 3.0], "b" => [1.0, 2.0, f64::INFINITY]).unwrap();
        let e = frame_to_dataset(&d2, &FrameOptions::default(), "t", Path::new("t.pq")).unwrap_err().to_string();
        assert!(e.contains("row 2, column `b` is inf"), "{e}");
        let o = FrameOptions { drop_invalid: true, ..Default::default() };
        let f = frame_to_dataset(&d, &o, "t", Path::new("t.csv")).unwrap();
        assert_eq!((f.data.samples.clone(), f.dropped), (vec![1.0, 1.0], 2));
    }

    #[test]
    fn a_missing_column_is_named_with_what_the_file_has() {
        let cols = vec!["a".to_string(), "zz".to_string()];
        let o = FrameOptions { columns: Some(&cols), ..Default::default() };
        let e = frame_to_dataset(&df(), &o, "t", Path::new("t.csv")).unwrap_err().to_string();
        assert!(e.contains("no column `zz`; the file has a, b, label"), "{e}");
    }
}
