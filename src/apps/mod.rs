//! Whole jobs on a model directory, shared by the CLI and notebooks, one file each: train,
//! evaluate, encode, figures, anomaly scoring and detection (tables, one-class images), compression, denoising, faces, the
//! feature probe and the demo. Each is built on the public model API; the ones that take a model (rather than a
//! directory) work for any [`Autoencoder`], including models defined outside this crate.
//!
//! [`Autoencoder`]: crate::models::Autoencoder

pub mod anomaly;
pub mod compress;
pub mod demo;
pub mod denoise;
pub mod detect;
pub mod encode;
pub mod evaluate;
pub mod faces;
pub mod figures;
pub mod generate;
pub mod one_class;
pub mod probe;
pub mod rd;
pub mod sweep;
pub mod table_study;
pub mod train;

pub use demo::demo_config;
pub use encode::{codes_table, encode, encode_input, encode_to_parquet, write_parquet};
pub use evaluate::{check_model, evaluate, evaluate_with, input_metrics, test_metrics, test_metrics_with, EvalOptions};
pub use figures::{figures, FigureOptions, Figures};
pub use train::{train, train_prepared};

use std::path::Path;

use crate::data::{DataConfig, DataSource, Dataset, Split};
use crate::model_dir::{RunConfig, CONFIG};

/// One split of the dataset a model directory's config names, normalised as stored, and
/// checked against the model's input size: a config edited to name another dataset is an
/// error naming the file, not a shape panic in the tensor library.
fn load_checked_split(cfg: &RunConfig, dir: &Path, split: Split) -> crate::Result<Dataset> {
    load_checked(cfg, dir, &cfg.data, split)
}

/// Another data source (`--input`) read exactly as the model's training data: the same
/// columns by name, image size, channels, class names and normalisation.
fn load_checked_input(cfg: &RunConfig, dir: &Path, input: &DataSource) -> crate::Result<Dataset> {
    let data = DataConfig { test: Some(input.clone()), ..cfg.data.clone() };
    load_checked(cfg, dir, &data, Split::Test)
}

fn load_checked(cfg: &RunConfig, dir: &Path, data: &DataConfig, split: Split) -> crate::Result<Dataset> {
    let data = data.load_split(split)?;
    train::check_input(&cfg.model, &data).map_err(|e| crate::Error::format(dir.join(CONFIG), e.to_string()))?;
    Ok(data)
}

/// Fails unless the model in `dir` normalises its input as the one in `first` does: a study
/// that feeds both the same images, or compares their outputs, needs one scale.
fn check_reads_alike(first: &Path, cfg: &RunConfig, dir: &Path, other: &RunConfig) -> crate::Result<()> {
    if other.data.normalizer != cfg.data.normalizer {
        let what =
            format!("{} normalises its input unlike {}: compare models of one dataset", dir.display(), first.display());
        return Err(crate::Error::config("model", what));
    }
    Ok(())
}

/// Fails unless `model` takes samples of `data`'s size (a streamed chunk).
fn check_len<M: crate::models::Autoencoder>(model: &M, data: &Dataset) -> crate::Result<()> {
    let input = dfdx::shapes::Shape::num_elements(&model.input_shape(1));
    if input != data.sample_len() {
        let what = format!("the model takes {input} features but `{}` has {}", data.name, data.sample_len());
        return Err(crate::Error::config("input", what));
    }
    Ok(())
}
