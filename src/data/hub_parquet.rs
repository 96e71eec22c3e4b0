//! Image datasets in the Hugging Face hub's parquet layout, as `ylecun/mnist` and
//! `zalando-datasets/fashion_mnist` publish them: one row per image, column `image` = struct
//! {`bytes`: a PNG file, `path`: usually null}, column `label` = integer class.
//!
//! Read with polars (eager), decoded with the `image` crate into grey pixels 0–255, the same
//! units as the IDX loader, so a model trained on either copy sees identical data.

use std::path::Path;

use polars::prelude::*;

use super::Dataset;
use crate::{Error, Result};

/// Reads one split file into a dataset of `1×rows×cols` grey images with labels.
pub fn read_image_parquet(path: &Path, name: &str, class_names: Vec<String>) -> Result<Dataset> {
    let bad = |what: String| Error::format(path, what);
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| bad(format!("not a readable parquet file ({e}); download it again")))?;
    let images = image_bytes(&df).map_err(bad)?;
    let labels = labels(&df, class_names.len()).map_err(bad)?;
    let (mut samples, mut size) = (Vec::new(), None);
    for (row, png) in images.iter().enumerate() {
        let png = png.ok_or_else(|| bad(format!("row {row}: `image.bytes` is null")))?;
        let img = image::load_from_memory(png)
            .map_err(|e| bad(format!("row {row}: `image.bytes` is not a readable image: {e}")))?
            .to_luma8();
        let dims = (img.height() as usize, img.width() as usize);
        match size {
            None => size = Some(dims),
            Some(first) if first != dims => {
                return Err(bad(format!(
                    "row {row}: image is {}×{} but row 0 is {}×{}; every image must have one size",
                    dims.1, dims.0, first.1, first.0
                )))
            }
            Some(_) => {}
        }
        samples.extend(img.as_raw().iter().map(|&p| p as f32));
    }
    let (rows, cols) = size.ok_or_else(|| bad("the file has no rows".into()))?;
    Dataset::new(name, samples, vec![1, rows, cols], Some(labels), class_names)
}

/// The `image.bytes` column (PNG files, one per row).
fn image_bytes(df: &DataFrame) -> std::result::Result<BinaryChunked, String> {
    let col = df.column("image").map_err(|_| missing("image", df))?;
    let st =
        col.struct_().map_err(|_| format!("column `image` is {}, expected a struct {{bytes, path}}", col.dtype()))?;
    let bytes =
        st.field_by_name("bytes").map_err(|_| format!("column `image` ({}) has no field `bytes`", col.dtype()))?;
    bytes.binary().cloned().map_err(|_| format!("`image.bytes` is {}, expected binary (PNG files)", bytes.dtype()))
}

/// The `label` column as class indices, each checked against the number of classes.
fn labels(df: &DataFrame, classes: usize) -> std::result::Result<Vec<u32>, String> {
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
