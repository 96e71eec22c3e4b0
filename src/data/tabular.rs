//! CSV / TSV tables through polars (digits CSV with header; ECG5000 TSV without header).
//!
//! Every feature column must be numeric: a non-numeric cell, an empty cell or a ragged row is
//! an error naming the file, the line and the column.

use std::io::Cursor;
use std::path::Path;

use polars::prelude::*;

use super::Dataset;
use crate::{Error, Result};

/// How to read one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFormat {
    /// Field separator: `b','` for CSV, `b'\t'` for TSV.
    pub separator: u8,
    /// Whether the first line names the columns.
    pub has_header: bool,
    /// Whether the first column is an integer class label.
    pub label_first: bool,
}

impl TableFormat {
    /// Comma-separated with a header line and the label first (the digits CSV).
    pub const CSV_LABEL_FIRST: Self = Self { separator: b',', has_header: true, label_first: true };
    /// Tab-separated, no header, label first (the UCR archive's TSV files, e.g. ECG5000).
    pub const UCR_TSV: Self = Self { separator: b'\t', has_header: false, label_first: true };
}

/// Reads a table file into a dataset of 1-D samples; labels become class indices in sorted
/// order of their values, and the class names are those values.
pub fn load_table(path: &Path, format: TableFormat, name: &str) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_table(&bytes, format, name, path)
}

/// Like [`load_table`] on bytes already in memory; `origin` names them in errors.
pub fn parse_table(bytes: &[u8], format: TableFormat, name: &str, origin: &Path) -> Result<Dataset> {
    let df = super::guarded(origin, || {
        CsvReadOptions::default()
            .with_has_header(format.has_header)
            .with_infer_schema_length(None)
            .map_parse_options(|o| o.with_separator(format.separator))
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .map_err(|e| Error::format(origin, format!("not a valid table: {e}")))
    })?;
    let first_line = if format.has_header { 2 } else { 1 };
    let columns = df.columns();
    let n = df.height();
    if n == 0 || columns.len() < 1 + format.label_first as usize {
        return Err(Error::format(origin, "the table has no data rows or no feature columns"));
    }
    let mut cols = Vec::with_capacity(columns.len());
    for c in columns {
        cols.push(numeric_column(c, origin, first_line)?);
    }
    let (labels, class_names, features) = if format.label_first {
        let (l, names) = class_indices(&cols[0], columns[0].name(), origin, first_line)?;
        (Some(l), names, &cols[1..])
    } else {
        (None, Vec::new(), &cols[..])
    };
    let d = features.len();
    let mut samples = vec![0f32; n * d];
    for (j, col) in features.iter().enumerate() {
        for (i, v) in col.iter().enumerate() {
            samples[i * d + j] = *v as f32;
        }
    }
    Dataset::new(name, samples, vec![d], labels, class_names).map_err(|e| Error::format(origin, e.to_string()))
}

/// One column as f64, or an error naming the first bad cell.
fn numeric_column(c: &Column, origin: &Path, first_line: usize) -> Result<Vec<f64>> {
    let s = c.as_materialized_series();
    let casted = s.cast(&DataType::Float64).ok().filter(|_| s.dtype().is_primitive_numeric());
    let Some(casted) = casted else {
        // A text column: find the first cell that does not parse, to name it.
        let text = s.cast(&DataType::String).map_err(|e| Error::format(origin, e.to_string()))?;
        let text = text.str().map_err(|e| Error::format(origin, e.to_string()))?;
        for (i, v) in text.iter().enumerate() {
            if let Some(v) = v {
                if v.trim().parse::<f64>().is_err() {
                    return Err(Error::format(
                        origin,
                        format!("line {}, column `{}`: {v:?} is not a number", i + first_line, c.name()),
                    ));
                }
            }
        }
        return Err(Error::format(origin, format!("column `{}` is not numeric", c.name())));
    };
    let ca = casted.f64().map_err(|e| Error::format(origin, e.to_string()))?;
    ca.iter()
        .enumerate()
        .map(|(i, v)| {
            v.ok_or_else(|| {
                Error::format(
                    origin,
                    format!(
                        "line {}, column `{}` is empty (a missing value or a row with too few fields)",
                        i + first_line,
                        c.name()
                    ),
                )
            })
        })
        .collect()
}

/// Integer labels → class indices 0..k in sorted order of value, and the values as names.
fn class_indices(col: &[f64], name: &str, origin: &Path, first_line: usize) -> Result<(Vec<u32>, Vec<String>)> {
    let mut values: Vec<i64> = Vec::new();
    for (i, &v) in col.iter().enumerate() {
        if v.fract() != 0.0 || v.abs() > 1e12 {
            return Err(Error::format(
                origin,
                format!("line {}, label column `{name}`: {v} is not an integer class", i + first_line),
            ));
        }
        values.push(v as i64);
    }
    let mut classes = values.clone();
    classes.sort_unstable();
    classes.dedup();
    let labels = values.iter().map(|v| classes.binary_search(v).unwrap() as u32).collect();
    Ok((labels, classes.iter().map(|c| c.to_string()).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dataset> {
        parse_table(text.as_bytes(), TableFormat::CSV_LABEL_FIRST, "t", Path::new("t.csv"))
    }

    #[test]
    fn reads_labels_and_features() {
        let d = parse("label,a,b\n3,1,2\n1,3.5,4\n").unwrap();
        assert_eq!(d.samples, vec![1.0, 2.0, 3.5, 4.0]);
        assert_eq!(d.labels, Some(vec![1, 0]));
        assert_eq!(d.class_names, vec!["1", "3"]);
    }

    #[test]
    fn non_numeric_cell_names_line_and_column() {
        let e = parse("label,a,b\n3,1,2\n1,x7,4\n").unwrap_err().to_string();
        assert!(e.contains("t.csv") && e.contains("line 3, column `a`: \"x7\""), "{e}");
    }

    #[test]
    fn ragged_rows_are_rejected() {
        let short = parse("label,a,b\n3,1,2\n1,3\n").unwrap_err().to_string();
        assert!(short.contains("line 3, column `b` is empty"), "{short}");
        let long = parse("label,a,b\n3,1,2\n1,3,4,5\n").unwrap_err().to_string();
        assert!(long.contains("t.csv"), "{long}");
    }

    #[test]
    fn nan_cells_are_rejected_with_their_place() {
        let e = parse("label,a,b\n3,1,2\n1,NaN,4\n").unwrap_err().to_string();
        assert!(e.contains("t.csv") && e.contains("sample 1, feature 0 is NaN"), "{e}");
    }

    #[test]
    fn fractional_labels_are_rejected() {
        let e = parse("label,a\n0.5,1\n").unwrap_err().to_string();
        assert!(e.contains("not an integer class"), "{e}");
    }
}
