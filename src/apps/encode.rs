//! `autoencoders encode`: the codes of a dataset split as a table.

use std::path::Path;

use polars::prelude::*;

use crate::data::stream::{ParquetStream, Part};
use crate::data::{DataSource, Dataset, Split};
use crate::fs::{write_atomic, write_atomic_with};
use crate::model_dir::RunConfig;
use crate::models::{Autoencoder, ModelVisitor};
use crate::train::{encode_all, reconstruct_all};
use crate::{Error, Result};

/// The codes of the test split (`split = Test`) or the training split, as a table with
/// columns `z0 … z{k-1}`, `label` and `class` (when the data has labels).
pub fn encode(dir: &Path, split: Split) -> Result<DataFrame> {
    let cfg = RunConfig::load(dir)?;
    let set = super::load_checked_split(&cfg, dir, split)?;
    let (codes, k) = cfg.load_model(dir, Codes(&set))?;
    codes_table(&codes, k, &set)
}

/// The reconstructions by the model in `dir` of `set` (normalised as its training data):
/// denoised images for a denoising model, what anomaly scores compare against for any.
pub fn reconstruct_set(dir: &Path, set: &Dataset) -> Result<Vec<f32>> {
    Ok(reconstruct_sets(dir, &[set])?.into_iter().next().unwrap_or_default())
}

/// [`reconstruct_set`] of each of `sets`, in order, with one load of the model.
pub fn reconstruct_sets(dir: &Path, sets: &[&Dataset]) -> Result<Vec<Vec<f32>>> {
    RunConfig::load(dir)?.load_model(dir, ReconstructEach(sets))
}

struct ReconstructEach<'a>(&'a [&'a Dataset]);

impl ModelVisitor for ReconstructEach<'_> {
    type Output = Vec<Vec<f32>>;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Vec<Vec<f32>>> {
        self.0.iter().map(|set| Ok(reconstruct_all(&model, set, 512))).collect()
    }
}

/// Writes the codes of `split` (or of `input`, read as the training data was) to the parquet
/// file `output`, atomically, and returns the number of rows. A model trained on a streamed
/// table (`--stream`) encodes its test part a chunk at a time, writing each as it goes: memory
/// stays bounded whatever the table's size.
pub fn encode_to_parquet(dir: &Path, split: Split, input: Option<&DataSource>, output: &Path) -> Result<usize> {
    let cfg = RunConfig::load(dir)?;
    if cfg.data.source.stream && input.is_none() {
        let part = if split == Split::Train { Part::Train } else { Part::Test };
        let stream = cfg.data.open_stream(part, if split == Split::Train { cfg.train.val_split } else { 0.0 })?;
        return cfg.load_model(dir, StreamCodes { stream: &stream, output });
    }
    let mut df = match input {
        Some(src) => encode_input(dir, src)?,
        None => encode(dir, split)?,
    };
    write_parquet(&mut df, output)?;
    Ok(df.height())
}

struct StreamCodes<'a> {
    stream: &'a ParquetStream,
    output: &'a Path,
}

impl ModelVisitor for StreamCodes<'_> {
    type Output = usize;
    fn visit<M: Autoencoder>(self, model: M) -> Result<usize> {
        let mut rows = 0;
        write_atomic_with(self.output, |file| {
            let schema: Schema =
                (0..model.code_len()).map(|j| Field::new(format!("z{j}").into(), DataType::Float32)).collect();
            let mut writer = ParquetWriter::new(file).batched(&schema).map_err(|e| Error::polars(self.output, e))?;
            for chunk in self.stream.chunks_in_order() {
                let chunk = chunk?;
                super::check_len(&model, &chunk)?;
                let codes = encode_all(&model, &chunk, 512);
                let df = codes_table(&codes, model.code_len(), &chunk)?;
                writer.write_batch(&df).map_err(|e| Error::polars(self.output, e))?;
                rows += chunk.len();
            }
            writer.finish().map_err(|e| Error::polars(self.output, e))?;
            Ok(())
        })?;
        Ok(rows)
    }
}

/// The codes of another data source (`--input`), read as the training data was.
pub fn encode_input(dir: &Path, input: &DataSource) -> Result<DataFrame> {
    let cfg = RunConfig::load(dir)?;
    let set = super::load_checked_input(&cfg, dir, input)?;
    let (codes, k) = cfg.load_model(dir, Codes(&set))?;
    codes_table(&codes, k, &set)
}

pub(super) struct Codes<'a>(pub(super) &'a Dataset);

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
