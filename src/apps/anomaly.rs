//! Anomaly scoring: a model trained on one class (its `normal_class`) scores each test sample
//! by its reconstruction error; the other classes are the anomalies.

use crate::data::Dataset;
use crate::train::{per_sample_errors, roc_auc};

/// The area under the ROC curve of reconstruction error as a detector of every class but
/// `normal` (a class index), from the reconstructions `recon` of `test`; `None` without
/// labels or when one of the two groups is empty.
pub fn normal_vs_rest_auroc(recon: &[f32], test: &Dataset, normal: u32) -> Option<f64> {
    let labels = test.labels.as_ref()?;
    let anomalous: Vec<bool> = labels.iter().map(|&l| l != normal).collect();
    roc_auc(&per_sample_errors(recon, test), &anomalous)
}
