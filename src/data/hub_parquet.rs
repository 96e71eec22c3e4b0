//! Parquet files as datasets: the Hugging Face hub's image layout (`ylecun/mnist`,
//! `zalando-datasets/fashion_mnist`: one row per image, column `image` = struct {`bytes`: a PNG
//! file, `path`}, column `label` = integer class) and plain numeric tables.
//!
//! Read with polars (eager), images decoded with the `image` crate into pixels 0–255, the same
//! units as the IDX loader, so a model trained on either copy of MNIST sees identical data.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::frame::{class_labels, frame_to_dataset, FrameOptions};
use super::image_folder::{ImageOptions, ImageStack};
use super::Dataset;
use crate::{Error, Result};

/// Reads one split file of grey images with integer labels `0..class_names.len()` (the
/// MNIST/Fashion-MNIST hub layout).
pub fn read_image_parquet(path: &Path, name: &str, class_names: Vec<String>) -> Result<Dataset> {
    let bad = |what: String| Error::format(path, what);
    let df = read_frame(path)?;
    let images = image_bytes(&df, "image").map_err(bad)?;
    let labels = int_labels(&df, class_names.len()).map_err(bad)?;
    let opts = ImageOptions { channels: Some(1), ..Default::default() };
    let mut stack = ImageStack::new(opts)?;
    for (row, png) in images.iter().enumerate() {
        let png = png.ok_or_else(|| bad(format!("row {row}: `image.bytes` is null")))?;
        stack.push_encoded(png, &|| format!("row {row} (`image.bytes`)"), path)?;
    }
    let shape = stack.shape().ok_or_else(|| bad("the file has no rows".into()))?;
    Dataset::new(name, stack.samples, shape, Some(labels), class_names)
}

/// One parquet file as a data frame; an error names the file.
pub fn read_frame(path: &Path) -> Result<DataFrame> {
    super::parquet_check::check_parquet(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    super::guarded(path, || {
        ParquetReader::new(file).finish().map_err(|e| Error::format(path, format!("not a readable parquet file ({e})")))
    })
}

/// What a table of samples turned into: the samples, the feature columns (tables) and the
/// image options in effect (images).
#[derive(Debug, Clone, PartialEq)]
pub struct TableSamples {
    /// The samples.
    pub data: Dataset,
    /// The feature columns in sample order, for a numeric table.
    pub columns: Option<Vec<String>>,
    /// For a table of images: size and channels as used.
    pub image: Option<ImageOptions>,
}

/// Parquet files (read one after another, all with the same columns) as samples: a column of
/// images (a struct with `bytes`, or binary) makes an image dataset; otherwise the numeric
/// columns are features (see [`frame_to_dataset`]). `label_column` names the class column;
/// `default_label` is used when it is `None` and the table has that column (the hub's `label`).
pub fn read_parquet_samples(
    paths: &[PathBuf],
    frame: &FrameOptions,
    image: &ImageOptions,
    default_label: Option<&str>,
    name: &str,
) -> Result<TableSamples> {
    let first = paths.first().ok_or_else(|| Error::config("dataset", format!("`{name}` has no parquet files")))?;
    let mut df = read_frame(first)?;
    for p in &paths[1..] {
        let more = read_frame(p)?;
        df.vstack_mut(&more).map_err(|e| {
            Error::format(
                p,
                format!("its columns differ from {}'s ({e}); every file must have one schema", first.display()),
            )
        })?;
    }
    let label = frame.label_column.or(default_label.filter(|l| df.column(l).is_ok()));
    let origin = if paths.len() == 1 { first.clone() } else { first.parent().unwrap_or(first).to_path_buf() };
    match image_column(&df) {
        Some(col) if frame.columns.is_none() => images_of(&df, &col, label, image, name, &origin),
        _ => {
            let f = FrameOptions { label_column: label, ..frame.clone() };
            let t = frame_to_dataset(&df, &f, name, &origin)?;
            if t.dropped > 0 {
                eprintln!(
                    "{}: skipped {} row(s) with missing or non-finite values (--drop-invalid)",
                    origin.display(),
                    t.dropped
                );
            }
            Ok(TableSamples { data: t.data, columns: Some(t.columns), image: None })
        }
    }
}

/// The first column holding encoded images: a struct with a binary `bytes` field, or binary.
fn image_column(df: &DataFrame) -> Option<String> {
    df.columns().iter().find_map(|c| {
        let is_image = match c.dtype() {
            DataType::Binary => true,
            DataType::Struct(fields) => fields.iter().any(|f| f.name() == "bytes" && f.dtype() == &DataType::Binary),
            _ => false,
        };
        is_image.then(|| c.name().to_string())
    })
}

fn images_of(
    df: &DataFrame,
    col: &str,
    label: Option<&str>,
    opts: &ImageOptions,
    name: &str,
    origin: &Path,
) -> Result<TableSamples> {
    let bad = |what: String| Error::format(origin, what);
    let bytes = image_bytes(df, col).map_err(bad)?;
    let mut stack = ImageStack::new(*opts)?;
    let mut kept = Vec::with_capacity(df.height());
    for (row, b) in bytes.iter().enumerate() {
        let b = b.ok_or_else(|| bad(format!("row {row}: column `{col}` holds no image")))?;
        if stack.push_encoded(b, &|| format!("row {row} (column `{col}`)"), origin)? {
            kept.push(row);
        }
    }
    let shape = stack.shape().ok_or_else(|| bad("no readable images".into()))?;
    let (labels, class_names) = match label {
        Some(l) => {
            let c = df.column(l).map_err(|_| bad(format!("no label column `{l}`")))?;
            let (all, names) = class_labels(c, &|row| format!("row {row}"), origin)?;
            (Some(kept.iter().map(|&i| all[i]).collect()), names)
        }
        None => (None, Vec::new()),
    };
    let image = stack.options();
    let data = Dataset::new(name, std::mem::take(&mut stack.samples), shape, labels, class_names)?;
    Ok(TableSamples { data, columns: None, image: Some(image) })
}

/// The encoded images of column `col` (struct `{bytes, …}` or binary).
fn image_bytes(df: &DataFrame, col: &str) -> std::result::Result<BinaryChunked, String> {
    let c = df.column(col).map_err(|_| missing(col, df))?;
    if let Ok(b) = c.binary() {
        return Ok(b.clone());
    }
    let st = c.struct_().map_err(|_| format!("column `{col}` is {}, expected a struct {{bytes, path}}", c.dtype()))?;
    let bytes =
        st.field_by_name("bytes").map_err(|_| format!("column `{col}` ({}) has no field `bytes`", c.dtype()))?;
    bytes.binary().cloned().map_err(|_| format!("`{col}.bytes` is {}, expected binary (image files)", bytes.dtype()))
}

/// The `label` column as class indices, each checked against the number of classes.
fn int_labels(df: &DataFrame, classes: usize) -> std::result::Result<Vec<u32>, String> {
    let col = df.column("label").map_err(|_| missing("label", df))?;
    if !col.dtype().is_integer() {
        return Err(format!("column `label` is {}, expected integers", col.dtype()));
    }
    let ints = col.cast(&DataType::Int64).map_err(|e| format!("column `label`: {e}"))?;
    let ints = ints.i64().map_err(|e| format!("column `label`: {e}"))?;
    ints.iter()
        .enumerate()
        .map(|(row, l)| match l {
            Some(l) if (0..classes as i64).contains(&l) => Ok(l as u32),
            Some(l) => Err(format!("row {row}: label {l} is out of range 0..{classes}")),
            None => Err(format!("row {row}: `label` is null")),
        })
        .collect()
}

fn missing(column: &str, df: &DataFrame) -> String {
    let have: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    format!(
        "no column `{column}` (columns: {}); expected the hub layout `image` {{bytes, path}}, `label`",
        have.join(", ")
    )
}
