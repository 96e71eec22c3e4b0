//! `autoencoders encode`: the codes of a dataset split as a table.

use std::path::Path;

use polars::prelude::*;

use crate::data::{DataSource, Dataset, Split};
use crate::fs::write_atomic;
use crate::model_dir::RunConfig;
use crate::models::{Autoencoder, ModelVisitor};
use crate::train::encode_all;
use crate::{Error, Result};

/// The codes of the test split (`split = Test`) or the training split, as a table with
/// columns `z0 … z{k-1}`, `label` and `class` (when the data has labels).
pub fn encode(dir: &Path, split: Split) -> Result<DataFrame> {
    let cfg = RunConfig::load(dir)?;
    let set = super::load_checked_split(&cfg, dir, split)?;
    let (codes, k) = cfg.load_model(dir, Codes(&set))?;
    codes_table(&codes, k, &set)
}

/// The codes of another data source (`--input`), read as the training data was.
pub fn encode_input(dir: &Path, input: &DataSource) -> Result<DataFrame> {
    let cfg = RunConfig::load(dir)?;
    let set = super::load_checked_input(&cfg, dir, input)?;
    let (codes, k) = cfg.load_model(dir, Codes(&set))?;
    codes_table(&codes, k, &set)
}

struct Codes<'a>(&'a Dataset);

impl ModelVisitor for Codes<'_> {
    type Output = (Vec<f32>, usize);
    fn visit<M: Autoencoder>(self, model: M) -> Result<(Vec<f32>, usize)> {
        Ok((encode_all(&model, self.0, 512), model.code_len()))
    }
}

/// `codes` (`k` per sample of `set`) as a table: `z0 … z{k-1}`, and `label`, `class` when
/// `set` has labels.
pub fn codes_table(codes: &[f32], k: usize, set: &Dataset) -> Result<DataFrame> {
    let n = set.len();
    let mut cols: Vec<Column> = (0..k)
        .map(|j| Column::new(format!("z{j}").into(), (0..n).map(|i| codes[i * k + j]).collect::<Vec<f32>>()))
        .collect();
    if let Some(l) = &set.labels {
        cols.push(Column::new("label".into(), l.clone()));
        cols.push(Column::new(
            "class".into(),
            l.iter().map(|&c| set.class_names[c as usize].clone()).collect::<Vec<String>>(),
        ));
    }
    DataFrame::new(n, cols).map_err(|e| Error::polars(&set.name, e))
}

/// Writes a table as parquet, atomically.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(df).map_err(|e| Error::polars(path, e))?;
    write_atomic(path, &buf)
}
