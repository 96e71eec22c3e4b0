//! Anomaly scoring: a model trained on one class (its `normal_class`) scores each test sample
//! by its reconstruction error; the other classes are the anomalies.

use crate::data::{Dataset, Window};
use crate::train::{per_sample_errors, roc_auc};

/// The area under the ROC curve of reconstruction error as a detector of every class but
/// `normal` (a class index), from the reconstructions `recon` of `test`; `None` without
/// labels or when one of the two groups is empty.
pub fn normal_vs_rest_auroc(recon: &[f32], test: &Dataset, normal: u32) -> Option<f64> {
    let labels = test.labels.as_ref()?;
    let anomalous: Vec<bool> = labels.iter().map(|&l| l != normal).collect();
    roc_auc(&per_sample_errors(recon, test), &anomalous)
}

/// For windows of a series: the AUROC of each time point's score ([`Window::point_scores`]
/// of the windows' reconstruction errors) as a detector of the points whose class in `rows`
/// (one row per time point, labelled) is not `normal` (a class name). `windows` are the cut
/// rows (normalised), `recon` their reconstructions. `None` without labels, without that
/// class (by name or number), or when one group is empty.
pub fn point_auroc(window: &Window, recon: &[f32], windows: &Dataset, rows: &Dataset, normal: &str) -> Option<f64> {
    let labels = rows.labels.as_ref()?;
    let k = crate::data::class_index(rows, normal).ok()?;
    let scores = window.point_scores(&per_sample_errors(recon, windows), rows.len());
    let (mut s, mut anomalous) = (Vec::new(), Vec::new());
    for (score, &l) in scores.iter().zip(labels) {
        if let Some(v) = score {
            s.push(*v);
            anomalous.push(l != k);
        }
    }
    roc_auc(&s, &anomalous)
}
