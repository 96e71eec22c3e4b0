//! `autoencoders probe`: how much of the labels a code keeps. A classifier is trained on a few
//! labelled codes of the training split and scored on the test split, at several label budgets,
//! against PCA of the same size and the raw pixels. The autoencoder never saw a label; the
//! probe says whether what it learned makes a small labelled set go further.
//!
//! Every feature set sees the same labelled draws (paired comparisons), and each classifier's
//! setting is chosen by cross-validation on the labelled subset only, never on the test split.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::baselines::neighbours::k_nearest;
use crate::baselines::{Logistic, Pca};
use crate::data::{Dataset, Split};
use crate::model_dir::RunConfig;
use crate::models::{Autoencoder, ModelVisitor};
use crate::train::encode_all;
use crate::viz::LinePlot;
use crate::{Error, Result};

/// The classifier trained on the codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeClassifier {
    /// Multinomial logistic regression ([`Logistic`], L-BFGS) on standardised features; its
    /// L2 weight chosen from [`ALPHAS`].
    Logistic,
    /// k nearest neighbours (Euclidean, majority vote); k chosen from [`KS`].
    Knn,
}

impl fmt::Display for ProbeClassifier {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Self::Logistic => "logistic",
            Self::Knn => "knn",
        })
    }
}

impl FromStr for ProbeClassifier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "logistic" => Ok(Self::Logistic),
            "knn" => Ok(Self::Knn),
            _ => Err(Error::config("classifier", format!("`{s}`: use logistic or knn"))),
        }
    }
}

/// A number of labelled training samples, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Budget {
    /// This many labels (drawn at random, without replacement).
    Labels(usize),
    /// Every training label (one draw: every draw would be the same).
    All,
}

impl FromStr for Budget {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "all" {
            return Ok(Self::All);
        }
        match s.replace(['_', ','], "").parse::<usize>() {
            Ok(n) if n >= 2 => Ok(Self::Labels(n)),
            _ => Err(Error::config("labels", format!("`{s}`: give a number of labels ≥ 2 or `all`"))),
        }
    }
}

/// L2 weights the logistic probe chooses from ([`Logistic::fit`]'s `alpha`: scikit-learn's
/// C = 1 / alpha).
pub const ALPHAS: [f64; 5] = [0.01, 0.1, 1.0, 10.0, 100.0];
/// Neighbour counts the k-NN probe chooses from (those below the fold's size).
pub const KS: [usize; 6] = [1, 3, 5, 9, 15, 25];
/// Above this many labels, settings are chosen on one 80/20 hold-out instead of k folds: k
/// folds cost k times the fits for a choice 400+ held-out labels already make.
const HOLDOUT_ABOVE: usize = 2_000;
/// L-BFGS iterations a logistic fit may take: ten times scikit-learn's default, so that a fit
/// stops at the gradient tolerance, not the cap; a final fit that still hits the cap says so in
/// its setting (`alpha=100 (stopped unconverged)`).
const LBFGS_ITERATIONS: u64 = 1000;

/// What [`probe`] measures.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOptions {
    /// Label budgets.
    pub budgets: Vec<Budget>,
    /// The classifiers.
    pub classifiers: Vec<ProbeClassifier>,
    /// Random labelled subsets per budget (one for [`Budget::All`]).
    pub draws: usize,
    /// Cross-validation folds that choose each classifier's setting.
    pub folds: usize,
    /// Also probe PCA of each model's code size and the raw input.
    pub baselines: bool,
    /// Seeds the draws (draw `i` uses `seed + i`).
    pub seed: u64,
}

impl ProbeOptions {
    /// 100, 1,000, 10,000 and all labels; logistic regression and k-NN; 5 draws, 5 folds;
    /// PCA and raw input too; seed 0.
    pub fn new() -> Self {
        Self {
            budgets: vec![Budget::Labels(100), Budget::Labels(1000), Budget::Labels(10_000), Budget::All],
            classifiers: vec![ProbeClassifier::Logistic, ProbeClassifier::Knn],
            draws: 5,
            folds: 5,
            baselines: true,
            seed: 0,
        }
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// One feature set, one classifier, one label budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbePoint {
    /// The model directory, `pca` or `pixels`.
    pub features: String,
    /// Numbers per sample.
    pub dim: usize,
    /// `logistic` or `knn`.
    pub classifier: ProbeClassifier,
    /// Labelled training samples.
    pub labels: usize,
    /// Test accuracy of each draw.
    pub accuracies: Vec<f64>,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation (0 for one draw).
    pub std: f64,
    /// The setting cross-validation chose in each draw (`alpha=1`, `k=5`).
    pub settings: Vec<String>,
}

/// Features of the training and test splits.
struct Features {
    name: String,
    dim: usize,
    train: Vec<f32>,
    test: Vec<f32>,
}

/// Probes every model in `dirs` (which must read one dataset alike, with labels) and, with
/// `opts.baselines`, PCA of each distinct code size (fitted on the unlabelled training split,
/// as the autoencoders were) and the raw input.
pub fn probe(dirs: &[PathBuf], opts: &ProbeOptions) -> Result<Vec<ProbePoint>> {
    let first = dirs.first().ok_or_else(|| Error::config("model", "give at least one model directory"))?;
    let cfg = RunConfig::load(first)?;
    let train = super::load_checked_split(&cfg, first, Split::Train)?;
    let test = super::load_checked_split(&cfg, first, Split::Test)?;
    let (train_labels, test_labels) = match (&train.labels, &test.labels) {
        (Some(a), Some(b)) => (a.clone(), b.clone()),
        _ => return Err(Error::config("labels", format!("{}'s data has no labels to probe with", first.display()))),
    };
    let mut sets = Vec::new();
    for dir in dirs {
        let c = RunConfig::load(dir)?;
        super::check_reads_alike(first, &cfg, dir, &c)?;
        let data = |c: &RunConfig| (c.data.dataset.clone(), c.data.test.clone(), c.data.source.clone());
        if data(&c) != data(&cfg) {
            let what = format!(
                "{} was trained on other data than {}: probe models of one dataset",
                dir.display(),
                first.display()
            );
            return Err(Error::config("model", what));
        }
        let (train_codes, test_codes, dim) = c.load_model(dir, BothCodes { train: &train, test: &test })?;
        sets.push(Features { name: dir.display().to_string(), dim, train: train_codes, test: test_codes });
    }
    if opts.baselines {
        sets.extend(baselines(&train, &test, &sets)?);
    }
    let draws = label_draws(train.len(), opts);
    let mut points = Vec::new();
    for set in &sets {
        // Fitted once per feature set: the unlabelled training split is the same in every draw.
        let scaled = opts.classifiers.contains(&ProbeClassifier::Logistic).then(|| Scaled::new(set));
        for &classifier in &opts.classifiers {
            for (labels, subsets) in &draws {
                let labels_of = Labels { train: &train_labels, test: &test_labels };
                let runs: Vec<(f64, String)> = subsets
                    .iter()
                    .map(|idx| probe_one(classifier, set, scaled.as_ref(), idx, labels_of, opts.folds))
                    .collect::<Result<_>>()?;
                points.push(point(set, classifier, *labels, runs));
            }
        }
    }
    Ok(points)
}

/// The codes of the training and test splits, and their size, from one loading of the model.
struct BothCodes<'a> {
    train: &'a Dataset,
    test: &'a Dataset,
}

impl ModelVisitor for BothCodes<'_> {
    type Output = (Vec<f32>, Vec<f32>, usize);
    fn visit<M: Autoencoder>(self, model: M) -> Result<(Vec<f32>, Vec<f32>, usize)> {
        super::check_len(&model, self.train)?;
        Ok((encode_all(&model, self.train, 512), encode_all(&model, self.test, 512), model.code_len()))
    }
}

/// PCA of each distinct code size in `sets` and the raw input.
fn baselines(train: &Dataset, test: &Dataset, sets: &[Features]) -> Result<Vec<Features>> {
    let d = train.sample_len();
    let mut ks: Vec<usize> = sets.iter().map(|s| s.dim).filter(|&k| k < d).collect();
    ks.sort_unstable();
    ks.dedup();
    let mut out = Vec::new();
    if let Some(&largest) = ks.last() {
        let pca = Pca::fit(&train.samples, d, largest)?;
        for k in ks {
            let p = pca.truncated(k);
            out.push(Features {
                name: "pca".into(),
                dim: k,
                train: p.transform(&train.samples),
                test: p.transform(&test.samples),
            });
        }
    }
    out.push(Features { name: "pixels".into(), dim: d, train: train.samples.clone(), test: test.samples.clone() });
    Ok(out)
}

/// For each budget, its labelled subsets: draw `i` is the first `labels` of a shuffle seeded
/// `seed + i`, so a larger budget's draw holds the smaller one's.
fn label_draws(n: usize, opts: &ProbeOptions) -> Vec<(usize, Vec<Vec<usize>>)> {
    let shuffles: Vec<Vec<usize>> = (0..opts.draws.max(1))
        .map(|i| {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut StdRng::seed_from_u64(opts.seed.wrapping_add(i as u64)));
            order
        })
        .collect();
    opts.budgets
        .iter()
        .map(|b| match *b {
            Budget::Labels(m) if m < n => (m, shuffles.iter().map(|o| o[..m].to_vec()).collect()),
            _ => (n, vec![(0..n).collect()]),
        })
        .collect()
}

fn point(set: &Features, classifier: ProbeClassifier, labels: usize, runs: Vec<(f64, String)>) -> ProbePoint {
    let accuracies: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let n = accuracies.len() as f64;
    let mean = accuracies.iter().sum::<f64>() / n;
    let var = if n > 1.0 { accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    ProbePoint {
        features: set.name.clone(),
        dim: set.dim,
        classifier,
        labels,
        accuracies,
        mean,
        std: var.sqrt(),
        settings: runs.into_iter().map(|r| r.1).collect(),
    }
}

/// The labels of the training and test splits.
#[derive(Clone, Copy)]
struct Labels<'a> {
    train: &'a [u32],
    test: &'a [u32],
}

/// A feature set's standardiser and its standardised test split, for the logistic probe.
struct Scaled {
    scaler: Standardizer,
    test: Vec<f64>,
}

impl Scaled {
    fn new(set: &Features) -> Self {
        let scaler = Standardizer::fit(&set.train, set.dim);
        let test = scaler.apply(&set.test);
        Self { scaler, test }
    }
}

/// Chooses the setting on `idx` by cross-validation, refits on all of `idx`, and returns the
/// test accuracy and the setting. `scaled` is needed by the logistic probe.
fn probe_one(
    classifier: ProbeClassifier,
    set: &Features,
    scaled: Option<&Scaled>,
    idx: &[usize],
    labels: Labels,
    folds: usize,
) -> Result<(f64, String)> {
    let (train_labels, test_labels) = (labels.train, labels.test);
    let d = set.dim;
    let rows = |data: &[f32], idx: &[usize]| -> Vec<f32> {
        idx.iter().flat_map(|&i| data[i * d..][..d].iter().copied()).collect()
    };
    let x = rows(&set.train, idx);
    let y: Vec<u32> = idx.iter().map(|&i| train_labels[i]).collect();
    let splits = cv_splits(idx.len(), folds);
    match classifier {
        ProbeClassifier::Logistic => {
            let scaled = scaled.expect("the logistic probe gets its features' standardiser");
            let x = scaled.scaler.apply(&x);
            let scores: Vec<f64> = ALPHAS
                .par_iter()
                .map(|&alpha| {
                    // A fit that failed to learn scores 0 for its alpha: another one is chosen.
                    let per_fold = splits.iter().map(|(fit, val)| {
                        let (fx, fy) = (take(&x, d, fit), take(&y, 1, fit));
                        let m = LogisticProbe::fit(&fx, &fy, d, alpha)?;
                        Ok(if m.learnt_something(&fx, &fy) {
                            accuracy(&m.predict(&take(&x, d, val)), &take(&y, 1, val))
                        } else {
                            0.0
                        })
                    });
                    Ok(per_fold.collect::<Result<Vec<f64>>>()?.iter().sum::<f64>())
                })
                .collect::<Result<_>>()?;
            let alpha = ALPHAS[argmax(&scores)];
            let model = LogisticProbe::fit(&x, &y, d, alpha)?;
            if !model.learnt_something(&x, &y) {
                let what = format!(
                    "logistic regression on {} ({} labels, alpha {alpha}) fits its own labels no better than the most common class: L-BFGS failed; try --classifier knn",
                    set.name,
                    y.len()
                );
                return Err(Error::Diverged(what));
            }
            let pred = model.predict(&scaled.test);
            let stopped = if model.converged { "" } else { " (stopped unconverged)" };
            Ok((accuracy(&pred, test_labels), format!("alpha={alpha}{stopped}")))
        }
        ProbeClassifier::Knn => {
            let smallest_fold = splits.iter().map(|(fit, _)| fit.len()).min().unwrap_or(0);
            let ks: Vec<usize> = KS.iter().copied().filter(|&k| k <= smallest_fold.max(1)).collect();
            let mut scores = vec![0.0; ks.len()];
            for (fit, val) in &splits {
                let votes = knn_votes(&take(&x, d, fit), &take(&y, 1, fit), &take(&x, d, val), d, &ks);
                let truth = take(&y, 1, val);
                for (s, pred) in scores.iter_mut().zip(&votes) {
                    *s += accuracy(pred, &truth);
                }
            }
            let k = ks[argmax(&scores)];
            let pred = knn_votes(&x, &y, &set.test, d, &[k]).remove(0);
            Ok((accuracy(&pred, test_labels), format!("k={k}")))
        }
    }
}

/// (fit, validate) index lists into the labelled subset: `folds` interleaved folds (the subset
/// is already in random order), or one 80/20 hold-out above [`HOLDOUT_ABOVE`] labels.
fn cv_splits(n: usize, folds: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    if n > HOLDOUT_ABOVE {
        let cut = n * 4 / 5;
        return vec![((0..cut).collect(), (cut..n).collect())];
    }
    let folds = folds.clamp(2, n.max(2));
    (0..folds)
        .map(|f| ((0..n).filter(|i| i % folds != f).collect(), (0..n).filter(|i| i % folds == f).collect()))
        .collect()
}

fn take<T: Copy>(data: &[T], width: usize, idx: &[usize]) -> Vec<T> {
    idx.iter().flat_map(|&i| data[i * width..][..width].iter().copied()).collect()
}

fn argmax(scores: &[f64]) -> usize {
    scores.iter().enumerate().fold(0, |best, (i, &s)| if s > scores[best] { i } else { best })
}

fn accuracy(pred: &[u32], truth: &[u32]) -> f64 {
    pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / truth.len().max(1) as f64
}

/// Per-feature mean and standard deviation of the (unlabelled) training split: the logistic
/// probe's inputs get unit scale, so one grid of L2 weights suits every feature set.
struct Standardizer {
    mean: Vec<f64>,
    inv_std: Vec<f64>,
}

impl Standardizer {
    fn fit(data: &[f32], d: usize) -> Self {
        let n = (data.len() / d).max(1) as f64;
        let mut mean = vec![0.0; d];
        let mut sq = vec![0.0; d];
        for row in data.chunks(d) {
            for j in 0..d {
                mean[j] += row[j] as f64;
                sq[j] += (row[j] as f64).powi(2);
            }
        }
        let mean: Vec<f64> = mean.iter().map(|m| m / n).collect();
        // A constant feature (a border pixel) keeps scale 1: it carries nothing either way.
        let inv_std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| (s / n - m * m).max(0.0).sqrt())
            .map(|s| if s > 1e-8 { 1.0 / s } else { 1.0 })
            .collect();
        Self { mean, inv_std }
    }

    fn apply(&self, data: &[f32]) -> Vec<f64> {
        let d = self.mean.len();
        data.chunks(d).flat_map(|row| (0..d).map(move |j| (row[j] as f64 - self.mean[j]) * self.inv_std[j])).collect()
    }
}

/// A logistic fit over the classes its labels hold (a small draw may miss one), numbered
/// 0.. for [`Logistic`].
struct LogisticProbe {
    model: Logistic,
    classes: Vec<u32>,
    converged: bool,
}

impl LogisticProbe {
    fn fit(x: &[f64], y: &[u32], d: usize, alpha: f64) -> Result<Self> {
        let mut classes = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let index: Vec<u32> = y.iter().map(|c| classes.binary_search(c).expect("listed above") as u32).collect();
        let fit = Logistic::fit(x, &index, d, classes.len(), alpha, LBFGS_ITERATIONS)
            .map_err(|e| Error::config("probe", format!("logistic regression (alpha {alpha}): {e}")))?;
        Ok(Self { model: fit.model, classes, converged: fit.converged })
    }

    fn predict(&self, x: &[f64]) -> Vec<u32> {
        self.model.predict(x).iter().map(|&i| self.classes[i as usize]).collect()
    }

    /// Whether it classifies its own training samples better than always answering their most
    /// common class — what a failed fit (a non-finite step) would leave behind.
    fn learnt_something(&self, x: &[f64], y: &[u32]) -> bool {
        let mut counts = std::collections::HashMap::new();
        y.iter().for_each(|c| *counts.entry(c).or_insert(0usize) += 1);
        let majority = counts.values().copied().max().unwrap_or(0) as f64 / y.len().max(1) as f64;
        self.model.is_finite() && accuracy(&self.predict(x), y) > majority
    }
}

/// The majority vote of the `k` nearest references of each query, for each `k` in `ks`
/// (ascending); a tie goes to the class that reached the top count first, i.e. the one with
/// the nearer neighbours.
fn knn_votes(refs: &[f32], labels: &[u32], queries: &[f32], d: usize, ks: &[usize]) -> Vec<Vec<u32>> {
    let kmax = ks.iter().copied().max().unwrap_or(1);
    let classes = labels.iter().copied().max().map_or(1, |c| c as usize + 1);
    let nearest = k_nearest(refs, queries, d, kmax);
    ks.iter()
        .map(|&k| nearest.iter().map(|nb| vote(nb.iter().take(k).map(|&(_, i)| labels[i]), classes)).collect())
        .collect()
}

fn vote(neighbours: impl Iterator<Item = u32>, classes: usize) -> u32 {
    let mut counts = vec![0usize; classes];
    let (mut best, mut top) = (0u32, 0usize);
    for c in neighbours {
        counts[c as usize] += 1;
        if counts[c as usize] > top {
            (best, top) = (c, counts[c as usize]);
        }
    }
    best
}

/// Test accuracy against labelled samples for one classifier: a line per feature set, the
/// mean over draws with ± one standard deviation as error bars.
pub fn figure(points: &[ProbePoint], classifier: ProbeClassifier, title: &str) -> LinePlot {
    let mut plot = LinePlot::new(title, "labelled training samples (log scale)", "test accuracy")
        .log_x()
        .legend_at(plotters::chart::SeriesLabelPosition::LowerRight);
    let mine: Vec<&ProbePoint> = points.iter().filter(|p| p.classifier == classifier).collect();
    let mut keys: Vec<(&str, usize)> = Vec::new();
    for p in &mine {
        if !keys.contains(&(p.features.as_str(), p.dim)) {
            keys.push((p.features.as_str(), p.dim));
        }
    }
    for (features, dim) in keys {
        let line: Vec<&&ProbePoint> = mine.iter().filter(|p| p.features == features && p.dim == dim).collect();
        plot = plot.line_with_errors(
            format!("{} ({dim})", short_name(features)),
            line.iter().map(|p| (p.labels as f64, p.mean)).collect(),
            line.iter().map(|p| p.std).collect(),
        );
    }
    plot
}

/// A model directory's last path component; `pca`, `pixels` as they are.
pub fn short_name(features: &str) -> String {
    Path::new(features).file_name().map_or(features.to_string(), |n| n.to_string_lossy().into_owned())
}

/// The points as a text table: accuracy in percent, mean ± standard deviation over draws.
pub fn table(points: &[ProbePoint]) -> String {
    let mut out = format!(
        "{:<28} {:>5} {:<9} {:>7}  {:>14}  {}\n",
        "features", "dim", "probe", "labels", "accuracy %", "settings"
    );
    for p in points {
        let settings = p.settings.join(" ");
        out += &format!(
            "{:<28} {:>5} {:<9} {:>7}  {:>6.2} ± {:<5.2}  {settings}\n",
            short_name(&p.features),
            p.dim,
            p.classifier.to_string(),
            p.labels,
            100.0 * p.mean,
            100.0 * p.std
        );
    }
    out
}

/// The points as CSV: one row per feature set, classifier and budget.
pub fn to_csv(points: &[ProbePoint]) -> String {
    let mut out = String::from("features,dim,classifier,labels,mean,std,draws,settings\n");
    for p in points {
        out += &format!(
            "{},{},{},{},{:.4},{:.4},{},{}\n",
            p.features,
            p.dim,
            p.classifier,
            p.labels,
            p.mean,
            p.std,
            p.accuracies.len(),
            p.settings.join(" ")
        );
    }
    out
}

/// For each classifier and budget: the best autoencoder code of at most `max_dim` numbers
/// against PCA of the same size — (classifier, labels, model, its accuracy, PCA's accuracy).
pub fn against_pca(points: &[ProbePoint], max_dim: usize) -> Vec<(ProbeClassifier, usize, String, f64, f64)> {
    let mut out = Vec::new();
    for p in points.iter().filter(|p| p.features != "pca" && p.features != "pixels" && p.dim <= max_dim) {
        let pca = points
            .iter()
            .find(|q| q.features == "pca" && q.dim == p.dim && q.classifier == p.classifier && q.labels == p.labels);
        let Some(pca) = pca else { continue };
        let row = (p.classifier, p.labels, p.features.clone(), p.mean, pca.mean);
        match out
            .iter_mut()
            .find(|r: &&mut (ProbeClassifier, usize, String, f64, f64)| r.0 == p.classifier && r.1 == p.labels)
        {
            Some(best) if best.3 - best.4 >= row.3 - row.4 => {}
            Some(best) => *best = row,
            None => out.push(row),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_votes_by_nearest_and_breaks_ties_by_the_nearer_class() {
        let refs = [0.0, 1.0, 10.0, 11.0, 12.0];
        let labels = [0, 0, 1, 1, 1];
        let votes = knn_votes(&refs, &labels, &[0.4, 9.0], 1, &[1, 3, 5]);
        assert_eq!(votes, vec![vec![0, 1], vec![0, 1], vec![1, 1]]);
        // One vote each: the class of the nearer neighbour wins, whatever the reference order.
        assert_eq!(knn_votes(&[0.0, 3.0], &[1, 0], &[1.0], 1, &[2]), vec![vec![1]]);
        assert_eq!(knn_votes(&[3.0, 0.0], &[0, 1], &[1.0], 1, &[2]), vec![vec![1]]);
    }

    #[test]
    fn budgets_parse_and_draws_nest() {
        assert_eq!("1,000".parse::<Budget>().unwrap(), Budget::Labels(1000));
        assert_eq!("all".parse::<Budget>().unwrap(), Budget::All);
        assert!("1".parse::<Budget>().is_err() && "x".parse::<Budget>().is_err());
        let opts = ProbeOptions {
            budgets: vec![Budget::Labels(3), Budget::Labels(6), Budget::All],
            draws: 2,
            ..ProbeOptions::new()
        };
        let draws = label_draws(10, &opts);
        assert_eq!(draws[0].1.len(), 2);
        assert_eq!(draws[0].1[1][..], draws[1].1[1][..3]);
        assert_ne!(draws[0].1[0], draws[0].1[1]);
        assert_eq!((draws[2].0, draws[2].1.len()), (10, 1));
    }

    #[test]
    fn cross_validation_never_validates_on_what_it_fits() {
        let splits = cv_splits(10, 5);
        assert_eq!(splits.len(), 5);
        for (fit, val) in &splits {
            assert_eq!((fit.len(), val.len()), (8, 2));
            assert!(val.iter().all(|v| !fit.contains(v)));
        }
        let mut seen: Vec<usize> = splits.iter().flat_map(|s| s.1.clone()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        let holdout = cv_splits(20_000, 5);
        assert_eq!(holdout.len(), 1);
        assert_eq!((holdout[0].0.last(), holdout[0].1.first()), (Some(&15_999), Some(&16_000)));
    }
}
