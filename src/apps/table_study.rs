//! `autoencoders detect-eval`: anomaly detection on tables, the autoencoder against the
//! detectors people use — PCA reconstruction error and the Isolation Forest — on every
//! ADBench set in the data folder, under one protocol (semi-supervised: fit on the normal rows
//! of the training split, score the whole test split) and one rule for every setting, so
//! nothing is tuned on a test split.

use std::path::PathBuf;

use serde::Serialize;

use crate::baselines::{IsolationForest, IsolationForestOptions, Pca};
use crate::data::{adbench_sets, class_index, data_root, prepare_data, DataConfig, DatasetId, Prepared};
use crate::model_dir::RunConfig;
use crate::models::dense::DenseConfig;
use crate::models::{ModelConfig, ReconLoss};
use crate::nn::Activation;
use crate::train::{average_precision, roc_auc, Progress, TrainConfig};
use crate::Result;

/// The fraction of the training variance PCA keeps: its component count.
pub const PCA_VARIANCE: f64 = 0.95;

/// What to run.
#[derive(Debug, Clone)]
pub struct TableStudyOptions {
    /// ADBench sets by name (`cardio`, …); empty: every set in the data folder.
    pub sets: Vec<String>,
    /// Where each set's autoencoder is trained (`OUT/<set>`), a model directory `detect` reads.
    pub models: PathBuf,
    /// Epochs of each autoencoder (early stopping on its validation rows may end it sooner).
    pub epochs: usize,
    /// Seeds the autoencoders and the forest.
    pub seed: u64,
}

/// One detector on one set.
#[derive(Debug, Clone, Serialize)]
pub struct TablePoint {
    /// The ADBench set.
    pub set: String,
    /// `autoencoder`, `pca` or `iforest`.
    pub method: String,
    /// Its setting, from the rule (`64-32`, `k=5 (95 %)`, `100 trees × 256`).
    pub setting: String,
    /// Features, normal training rows, test rows and anomalies among them.
    pub features: usize,
    /// Normal rows it was fitted on.
    pub train_rows: usize,
    /// Test rows scored.
    pub test_rows: usize,
    /// Anomalies among the test rows.
    pub anomalies: usize,
    /// Area under the ROC curve of its scores on the test split.
    pub auroc: f64,
    /// Average precision of its scores.
    pub average_precision: f64,
}

/// The autoencoder the rule picks for `d` features: one hidden layer of 64 and a code of half
/// the features (at least 2, at most 32) — narrower than the input, so copying it is not
/// learnable, wide enough to keep most of the normal rows' variance; ReLU, a linear code and
/// output, squared error on the standardised features.
pub fn rule_model(d: usize) -> DenseConfig {
    DenseConfig {
        code: d.div_ceil(2).clamp(2, 32),
        output_activation: Activation::Identity,
        loss: ReconLoss::Mse,
        ..DenseConfig::shallow(d, 2).with_hidden(&[64])
    }
}

/// Runs every detector on every set, in the order of `opts.sets` (or the data folder's).
pub fn study(opts: &TableStudyOptions, mut each: impl FnMut(&[TablePoint])) -> Result<Vec<TablePoint>> {
    let sets = if opts.sets.is_empty() { adbench_sets(&data_root())? } else { opts.sets.clone() };
    let mut out = Vec::new();
    for set in sets {
        let points = study_set(&set, opts)?;
        each(&points);
        out.extend(points);
    }
    Ok(out)
}

fn study_set(set: &str, opts: &TableStudyOptions) -> Result<Vec<TablePoint>> {
    let data = DataConfig { normal_class: Some("0".into()), ..DataConfig::new(DatasetId::Adbench(set.into())) };
    let prepared = prepare_data(&data)?;
    let (train, test) = (&prepared.train, &prepared.test);
    let d = train.sample_len();
    let normal = class_index(test, "0")?;
    let anomalous: Vec<bool> = test.labels.as_ref().map_or(vec![], |l| l.iter().map(|&c| c != normal).collect());
    let point = |method: &str, setting: String, scores: &[f64]| TablePoint {
        set: set.to_string(),
        method: method.into(),
        setting,
        features: d,
        train_rows: train.len(),
        test_rows: test.len(),
        anomalies: anomalous.iter().filter(|&&a| a).count(),
        auroc: roc_auc(scores, &anomalous).unwrap_or(f64::NAN),
        average_precision: average_precision(scores, &anomalous).unwrap_or(f64::NAN),
    };
    let (ae_setting, ae) = autoencoder_scores(set, &prepared, opts)?;
    let (k, pca) = pca_scores(&prepared)?;
    let forest_opts = IsolationForestOptions { seed: opts.seed, ..Default::default() };
    let forest = IsolationForest::fit(&train.samples, d, &forest_opts)?.score(&test.samples);
    Ok(vec![
        point("autoencoder", ae_setting, &ae),
        point("pca", format!("k={k} ({:.0} %)", PCA_VARIANCE * 100.0), &pca),
        point("iforest", format!("{} trees × {}", forest_opts.trees, forest_opts.max_samples), &forest),
    ])
}

fn autoencoder_scores(set: &str, prepared: &Prepared, opts: &TableStudyOptions) -> Result<(String, Vec<f64>)> {
    let model = rule_model(prepared.train.sample_len());
    let setting = format!("{}-{}", model.hidden[0], model.code);
    let train = TrainConfig { epochs: opts.epochs, seed: opts.seed, patience: Some(10), ..Default::default() };
    let cfg = RunConfig {
        command: format!("autoencoders detect-eval (set {set})"),
        ..RunConfig::new(ModelConfig::Dense(model), prepared.config.clone(), train)
    };
    let dir = opts.models.join(set);
    super::train_prepared(&cfg, prepared.clone(), &dir, Progress::Quiet)?;
    // The test split in memory, not read again from the model's data source.
    Ok((setting, super::detect::score_set(&dir, &prepared.test, super::detect::Score::Reconstruction)?))
}

/// PCA fitted on the normal training rows with the fewest components that keep
/// [`PCA_VARIANCE`] of their variance ([`Pca::fit_variance`]); each test row's squared
/// reconstruction error.
pub(super) fn pca_scores(p: &Prepared) -> Result<(usize, Vec<f64>)> {
    let pca = Pca::fit_variance(&p.train.samples, p.train.sample_len(), PCA_VARIANCE)?;
    let recon = pca.inverse_transform(&pca.transform(&p.test.samples));
    Ok((pca.k(), crate::train::per_sample_errors(&recon, &p.test)))
}

/// Mean AUROC, mean AP and mean AUROC rank (1 = best on a set) of each method, in the order
/// they first appear.
pub fn summary(points: &[TablePoint]) -> Vec<(String, f64, f64, f64)> {
    let mut methods: Vec<String> = Vec::new();
    for p in points {
        if !methods.contains(&p.method) {
            methods.push(p.method.clone());
        }
    }
    methods
        .into_iter()
        .map(|m| {
            let mine: Vec<&TablePoint> = points.iter().filter(|p| p.method == m).collect();
            let n = mine.len().max(1) as f64;
            let rank = |p: &TablePoint| {
                let rivals = points.iter().filter(|q| q.set == p.set && q.method != p.method);
                1.0 + rivals
                    .map(|q| {
                        if q.auroc > p.auroc {
                            1.0
                        } else if q.auroc == p.auroc {
                            0.5
                        } else {
                            0.0
                        }
                    })
                    .sum::<f64>()
            };
            let auroc = mine.iter().map(|p| p.auroc).sum::<f64>() / n;
            let ap = mine.iter().map(|p| p.average_precision).sum::<f64>() / n;
            let ranks = mine.iter().map(|p| rank(p)).sum::<f64>() / n;
            (m, auroc, ap, ranks)
        })
        .collect()
}

/// The points as CSV.
pub fn to_csv(points: &[TablePoint]) -> String {
    let mut s = String::from("set,method,setting,features,train_rows,test_rows,anomalies,auroc,average_precision\n");
    for p in points {
        s += &format!(
            "{},{},{},{},{},{},{},{:.4},{:.4}\n",
            p.set,
            p.method,
            p.setting,
            p.features,
            p.train_rows,
            p.test_rows,
            p.anomalies,
            p.auroc,
            p.average_precision
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(set: &str, method: &str, auroc: f64) -> TablePoint {
        TablePoint {
            set: set.into(),
            method: method.into(),
            setting: String::new(),
            features: 2,
            train_rows: 10,
            test_rows: 10,
            anomalies: 1,
            auroc,
            average_precision: auroc / 2.0,
        }
    }

    #[test]
    fn summary_means_and_ranks_with_ties_shared() {
        let points = [
            point("a", "ae", 0.9),
            point("a", "pca", 0.7),
            point("a", "if", 0.8),
            point("b", "ae", 0.6),
            point("b", "pca", 0.6),
            point("b", "if", 1.0),
        ];
        let s = summary(&points);
        let names: Vec<&str> = s.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["ae", "pca", "if"]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // ae: rank 1 on a, 2.5 on b (tied with pca); pca: 3 and 2.5; if: 2 and 1.
        assert!(close(s[0].1, 0.75) && close(s[0].2, 0.375) && close(s[0].3, 1.75), "{s:?}");
        assert!(close(s[1].3, 2.75) && close(s[2].3, 1.5), "{s:?}");
        assert!(to_csv(&points).lines().nth(1).unwrap().starts_with("a,ae,,2,10,10,1,0.9000,0.4500"));
    }
}
