//! `autoencoders demo`, the main job on embedded data: a dense autoencoder with a 2-number
//! code on the 8×8 digits shipped with the crate, trained, evaluated and drawn.

use std::path::{Path, PathBuf};

use crate::data::{DataConfig, DatasetId};
use crate::model_dir::RunConfig;
use crate::models::dense::DenseConfig;
use crate::models::ModelConfig;
use crate::train::{Metrics, Progress, TrainConfig};
use crate::Result;

/// The configuration `autoencoders demo` trains: a dense 64 → 32 → 2 autoencoder on the 8×8
/// digits embedded in the crate, so that its code can be drawn directly.
pub fn demo_config() -> RunConfig {
    let train =
        TrainConfig { epochs: 150, batch_size: 32, seed: 0, val_split: 0.1, patience: Some(20), ..Default::default() };
    let model = ModelConfig::Dense(DenseConfig::shallow(64, 2).with_hidden(&[32]));
    RunConfig {
        command: "autoencoders demo".into(),
        ..RunConfig::new(model, DataConfig::new(DatasetId::Digits), train)
    }
}

/// Trains the demo model into `model_dir`, evaluates it and writes its figures into
/// `figures`; returns the test metrics and the files written.
pub fn run_demo(figures: &Path, model_dir: &Path) -> Result<(Metrics, Vec<PathBuf>)> {
    super::train(&demo_config(), model_dir, false, Progress::Quiet)?;
    let metrics = super::evaluate(model_dir)?;
    let written = super::figures(model_dir)?.save_all(figures)?;
    Ok((metrics, written))
}
