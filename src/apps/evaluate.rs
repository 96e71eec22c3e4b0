//! `autoencoders eval` and `pull`: test metrics of a model directory, and a checked load.

use std::path::Path;

use super::anomaly::normal_vs_rest_auroc;
use crate::data::{class_index, Dataset, Split};
use crate::model_dir::{write_metrics, RunConfig};
use crate::models::{Autoencoder, ModelVisitor};
use crate::train::{evaluate_loss, reconstruct_all, Metrics};
use crate::Result;

/// Evaluates the model in `dir` on its dataset's test split and writes `dir/metrics.json`.
pub fn evaluate(dir: &Path) -> Result<Metrics> {
    let metrics = test_metrics(dir)?;
    write_metrics(dir, &metrics)?;
    Ok(metrics)
}

/// The model in `dir` evaluated on its dataset's test split, writing nothing (for models in
/// the hub cache, which must stay as downloaded).
pub fn test_metrics(dir: &Path) -> Result<Metrics> {
    let cfg = RunConfig::load(dir)?;
    let test = cfg.data.load_split(Split::Test)?;
    let normal = cfg.data.normal_class.as_deref().map(|name| class_index(&test, name)).transpose()?;
    cfg.load_model(dir, TestMetrics { test: &test, normal })
}

/// Reconstruction metrics of `model` on `test`; with `normal` (a class index), also the AUROC
/// of reconstruction error as a detector of the other classes.
pub fn metrics_of<M: Autoencoder>(model: &M, test: &Dataset, normal: Option<u32>) -> Result<Metrics> {
    let recon = reconstruct_all(model, test, 512);
    let (test_loss, _, _) = evaluate_loss(model, test, 512)?;
    let mut metrics = Metrics::from_reconstructions(&test.samples, &recon, test.len(), test_loss);
    if let Some(k) = normal {
        metrics.test_auroc = normal_vs_rest_auroc(&recon, test, k);
    }
    Ok(metrics)
}

struct TestMetrics<'a> {
    test: &'a Dataset,
    normal: Option<u32>,
}

impl ModelVisitor for TestMetrics<'_> {
    type Output = Metrics;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Metrics> {
        metrics_of(&model, self.test, self.normal)
    }
}

/// Loads the config and weights in `dir`, checking every tensor, and describes the model.
pub fn check_model(dir: &Path) -> Result<String> {
    let cfg = RunConfig::load(dir)?;
    let n = cfg.load_model(dir, CountParams)?;
    Ok(format!("{} ({n} parameters), trained on {}", cfg.model.describe(), cfg.data.dataset))
}

struct CountParams;

impl ModelVisitor for CountParams {
    type Output = usize;
    fn visit<M: Autoencoder>(self, model: M) -> Result<usize> {
        Ok(model.num_params())
    }
}
