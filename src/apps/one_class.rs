//! `autoencoders one-class`: anomaly detection on images, one class at a time (the protocol of
//! Ruff et al. 2018, Deep SVDD): for each class, a conv autoencoder trains on that class's
//! training images only and scores every test image; the class's test images are normal, the
//! nine other classes' are anomalies; the AUROC of each class and their mean. Four scores of
//! each model (see [`METHODS`]):
//!
//! - `reconstruction`: the mean squared reconstruction error (what `detect` uses);
//! - `code`: how unlikely the image's code is — its squared Mahalanobis distance under a
//!   Gaussian fitted to the codes of the class's training images. An anomaly the decoder
//!   rebuilds well can still land where no normal code lies;
//! - `neighbours`: the same question without the Gaussian — the mean squared distance from the
//!   image's code to its [`NEIGHBOURS`] nearest training codes, in the whitened space of that
//!   Gaussian (a Mahalanobis distance to each neighbour; Bergman, Cohen & Hoshen 2020 score by
//!   nearest neighbours in a learned feature space). Classes whose codes lie on several clumps
//!   or a curved sheet are what it sees better;
//! - `both`: the two summed after standardising each on the class's validation images (normal,
//!   held out by training) — no weight tuned, no anomaly seen;
//! - `complexity`: the reconstruction error divided by the image's own complexity, its total
//!   variation ([`total_variation`](super::detect::total_variation)). A simple image (a 1) is
//!   rebuilt well by any model, so its raw error says little; the ratio asks how badly the
//!   image is rebuilt *for how much there is in it* (Serrà et al. 2020 correct a generative
//!   model's likelihood by the input's compressed size for the same reason). No parameter.
//!
//! PCA's reconstruction error (components for [`PCA_VARIANCE`] of the class's variance) runs
//! beside them on the same split. One setting for every class, fixed before any test score is
//! seen; per-seed numbers and the median over seeds. With [`OneClassOptions::vae`] each model
//! is a VAE instead, scored the same way through its means μ (its code).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::detect::{complexity_scores, CodeReference, NEIGHBOURS};
use super::table_study::{pca_scores, PCA_VARIANCE};
use crate::data::{class_index, prepare_data, DataConfig, DataSource, Dataset, Prepared, Split};
use crate::model_dir::RunConfig;
use crate::models::conv::ConvConfig;
use crate::models::{Autoencoder, ModelConfig, ModelVisitor, VaeConfig, Variant};
use crate::train::{
    average_precision, encode_all, median, reconstruction_errors, roc_auc, InputNoise, Noise, Progress, TrainConfig,
};
use crate::viz::LinePlot;
use crate::{Error, Result};

/// What to run.
#[derive(Debug, Clone)]
pub struct OneClassOptions {
    /// Labelled images of one of the conv model's sizes (`mnist`, `fashion-mnist`, a folder).
    pub dataset: DataSource,
    /// Classes by name or number; empty: every class.
    pub classes: Vec<String>,
    /// One model per class and seed; the report gives the median over seeds.
    pub seeds: Vec<u64>,
    /// Epochs of each model (no early stopping: the normal class's validation loss keeps
    /// falling while the model learns to rebuild other classes too).
    pub epochs: usize,
    /// The code size of every model.
    pub code: usize,
    /// Train each model as a VAE (β = 1, Bernoulli decoder) instead of a plain autoencoder:
    /// its code is the mean μ, its reconstruction the decoded μ.
    pub vae: bool,
    /// Train each model as a denoising autoencoder: this corruption of its input, the clean
    /// image its target (scoring reads clean images).
    pub noise: Option<Noise>,
    /// Where the models go: `DIR/class-K-seed-S`, model directories `detect` reads.
    pub models: PathBuf,
}

impl OneClassOptions {
    /// The measured setting for `dataset`: 3 seeds, 10 epochs, code 32 — the CLI's `train
    /// --model conv` defaults.
    pub fn new(dataset: DataSource, models: impl Into<PathBuf>) -> Self {
        Self {
            dataset,
            classes: vec![],
            seeds: vec![0, 1, 2],
            epochs: 10,
            code: 32,
            vae: false,
            noise: None,
            models: models.into(),
        }
    }
}

/// One method on one normal class (and seed, for the autoencoder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassPoint {
    /// The normal class's number.
    pub class: usize,
    /// Its name.
    pub name: String,
    /// One of [`METHODS`].
    pub method: String,
    /// The autoencoder's seed; none for PCA (deterministic).
    pub seed: Option<u64>,
    /// Its setting (`conv code 32 for 10 epochs`, `k=48 (95 %)`).
    pub setting: String,
    /// Area under the ROC curve of the scores, anomalies positive.
    pub auroc: f64,
    /// Average precision of the scores.
    pub average_precision: f64,
}

/// Trains and scores every class; `each` sees each class's points as they come.
pub fn study(opts: &OneClassOptions, mut each: impl FnMut(&[ClassPoint])) -> Result<Vec<ClassPoint>> {
    if opts.seeds.is_empty() {
        return Err(Error::config("seeds", "give at least one seed"));
    }
    let classes = classes(opts)?;
    let mut points = Vec::new();
    for (k, name) in classes {
        let got = study_class(opts, k, &name)?;
        each(&got);
        points.extend(got);
    }
    Ok(points)
}

/// The classes to run, by number and name: the options' or every class of the dataset.
fn classes(opts: &OneClassOptions) -> Result<Vec<(usize, String)>> {
    // The test split alone, as read (each class's study prepares its own data).
    let test = DataConfig::new(opts.dataset.clone()).load_raw(Split::Test)?.data;
    let names = &test.class_names;
    if test.labels.is_none() || names.len() < 2 {
        let what = format!("`{}` needs labels of at least two classes: one normal, the others anomalies", test.name);
        return Err(Error::config("dataset", what));
    }
    if opts.classes.is_empty() {
        return Ok(names.iter().cloned().enumerate().collect());
    }
    opts.classes.iter().map(|c| class_index(&test, c).map(|k| (k as usize, names[k as usize].clone()))).collect()
}

fn study_class(opts: &OneClassOptions, k: usize, name: &str) -> Result<Vec<ClassPoint>> {
    let data = DataConfig { normal_class: Some(k.to_string()), ..DataConfig::new(opts.dataset.clone()) };
    let prepared = prepare_data(&data)?;
    let labels = prepared.test.labels.as_ref().expect("classes() checked the labels");
    let anomalous: Vec<bool> = labels.iter().map(|&l| l as usize != k).collect();
    let point = |method: &str, seed: Option<u64>, setting: String, scores: &[f64]| ClassPoint {
        class: k,
        name: name.to_string(),
        method: method.into(),
        seed,
        setting,
        auroc: roc_auc(scores, &anomalous).unwrap_or(f64::NAN),
        average_precision: average_precision(scores, &anomalous).unwrap_or(f64::NAN),
    };
    let (pcs, pca) = pca_scores(&prepared)?;
    let mut points = vec![point("pca", None, format!("k={pcs} ({:.0} %)", PCA_VARIANCE * 100.0), &pca)];
    let kind = if opts.vae { "conv VAE" } else { "conv" };
    let noise = opts.noise.map_or(String::new(), |n| format!(", noise {n}"));
    let setting = format!("{kind} code {} for {} epochs{noise}", opts.code, opts.epochs);
    for &seed in &opts.seeds {
        let dir = model_dir(&opts.models, k, seed);
        for (method, scores) in seed_scores(opts, &prepared, &dir, seed, name)? {
            points.push(point(method, Some(seed), setting.clone(), &scores));
        }
    }
    Ok(points)
}

/// Trains the model of one class and seed into `dir` and scores the test set by each of the
/// autoencoder's methods: reconstruction error, the code's Mahalanobis distance under the
/// Gaussian of the training codes, its distance to the nearest training codes, the first two
/// standardised and summed, and the reconstruction error over the image's complexity.
fn seed_scores(
    opts: &OneClassOptions,
    prepared: &Prepared,
    dir: &Path,
    seed: u64,
    name: &str,
) -> Result<[(&'static str, Vec<f64>); 5]> {
    let model = conv_model(&prepared.test.shape, opts.code)?;
    let noise = opts.noise.map(InputNoise::new);
    let train = TrainConfig { epochs: opts.epochs, seed, patience: None, noise, ..Default::default() };
    let cfg = RunConfig {
        command: format!("autoencoders one-class (class {name}, seed {seed})"),
        variant: if opts.vae { Variant::Vae(VaeConfig::default()) } else { Variant::Plain },
        ..RunConfig::new(ModelConfig::Conv(model), prepared.config.clone(), train)
    };
    super::train_prepared(&cfg, prepared.clone(), dir, Progress::Quiet)?;
    // The parts training used: it fitted on the first, held the second out.
    let (fit, val) = prepared.train.split(cfg.train.val_split, seed)?;
    let s = RunConfig::load(dir)?.load_model(dir, Parts { fit: &fit, val: &val, test: &prepared.test })?;
    // `detect --score code` and `--score neighbours` give the same scores from the same parts.
    let reference = CodeReference::fit(&s.codes, opts.code)?;
    let (code_val, code_test) = (reference.mahalanobis(&s.val_codes), reference.mahalanobis(&s.test_codes));
    let neighbours = reference.neighbours(&s.test_codes, NEIGHBOURS);
    let both = sum_standardised(&[(&s.val_errors, &s.test_errors), (&code_val, &code_test)]);
    let complexity = complexity_scores(&s.test_errors, &prepared.test);
    Ok([
        ("reconstruction", s.test_errors),
        ("code", code_test),
        ("neighbours", neighbours),
        ("both", both),
        ("complexity", complexity),
    ])
}

/// What one model gives: the codes of the samples it fitted, and the codes and reconstruction
/// errors (mean squared, `detect`'s score) of the validation and test samples.
struct PartScores {
    codes: Vec<f32>,
    val_codes: Vec<f32>,
    test_codes: Vec<f32>,
    val_errors: Vec<f64>,
    test_errors: Vec<f64>,
}

struct Parts<'a> {
    fit: &'a Dataset,
    val: &'a Dataset,
    test: &'a Dataset,
}

impl ModelVisitor for Parts<'_> {
    type Output = PartScores;
    fn visit<M: Autoencoder>(self, model: M) -> Result<PartScores> {
        Ok(PartScores {
            codes: encode_all(&model, self.fit, 512),
            val_codes: encode_all(&model, self.val, 512),
            test_codes: encode_all(&model, self.test, 512),
            val_errors: reconstruction_errors(&model, self.val, 512),
            test_errors: reconstruction_errors(&model, self.test, 512),
        })
    }
}

/// Test scores of several kinds made comparable and summed: each standardised by the mean and
/// standard deviation of its scores on the validation samples (normal, unseen in training) —
/// one rule, no weight to tune and no anomaly seen.
fn sum_standardised(parts: &[(&Vec<f64>, &Vec<f64>)]) -> Vec<f64> {
    let n = parts[0].1.len();
    let mut out = vec![0.0; n];
    for (val, test) in parts {
        let m = val.iter().sum::<f64>() / val.len() as f64;
        let sd = (val.iter().map(|v| (v - m).powi(2)).sum::<f64>() / val.len() as f64).sqrt().max(1e-12);
        for (o, t) in out.iter_mut().zip(test.iter()) {
            *o += (t - m) / sd;
        }
    }
    out
}

/// The conv model for images of `shape` (channels, height, width) with a `code`-number code.
fn conv_model(shape: &[usize], code: usize) -> Result<ConvConfig> {
    let [c, h, w] = shape else {
        let what = format!("one-class studies images; samples of shape {shape:?} are not channels×height×width");
        return Err(Error::config("dataset", what));
    };
    let model = ConvConfig::new(code).with_image(*c, *h, *w);
    model.validate()?;
    Ok(model)
}

/// Where the model of class `k` and `seed` goes.
pub fn model_dir(root: &Path, k: usize, seed: u64) -> PathBuf {
    root.join(format!("class-{k}-seed-{seed}"))
}

/// The methods, in the report's column order: five scores of the same autoencoder, then PCA.
pub const METHODS: [&str; 6] = ["reconstruction", "code", "neighbours", "both", "complexity", "pca"];

/// One line of the report: a class, and each method's median AUROC over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassRow {
    /// The normal class's number.
    pub class: usize,
    /// Its name.
    pub name: String,
    /// Each of [`METHODS`]' median AUROC over seeds (NaN when the points have none).
    pub auroc: [f64; METHODS.len()],
}

/// One row per class, in the points' order.
pub fn rows(points: &[ClassPoint]) -> Vec<ClassRow> {
    let mut classes: Vec<(usize, String)> = Vec::new();
    for p in points {
        if !classes.iter().any(|(k, _)| *k == p.class) {
            classes.push((p.class, p.name.clone()));
        }
    }
    let med = |k: usize, method: &str| {
        median(points.iter().filter(|p| p.class == k && p.method == method).map(|p| p.auroc).collect())
    };
    classes.into_iter().map(|(k, name)| ClassRow { class: k, auroc: METHODS.map(|m| med(k, m)), name }).collect()
}

/// Each method's mean AUROC over the classes.
pub fn means(rows: &[ClassRow]) -> [f64; METHODS.len()] {
    let n = rows.len().max(1) as f64;
    std::array::from_fn(|i| rows.iter().map(|r| r.auroc[i]).sum::<f64>() / n)
}

/// Every point as CSV (one line per class, method and seed).
pub fn to_csv(points: &[ClassPoint]) -> String {
    let mut s = String::from("class,name,method,seed,setting,auroc,average_precision\n");
    for p in points {
        let seed = p.seed.map_or(String::new(), |s| s.to_string());
        s += &format!(
            "{},{},{},{seed},{},{:.4},{:.4}\n",
            p.class,
            csv_field(&p.name),
            p.method,
            p.setting,
            p.auroc,
            p.average_precision
        );
    }
    s
}

/// A class name as one CSV field: quoted (inner quotes doubled) when it holds a comma, a quote
/// or a line break — an image folder's class is any folder name.
fn csv_field(name: &str) -> String {
    if name.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", name.replace('"', "\"\""))
    } else {
        name.to_string()
    }
}

/// The per-class table (each method's median AUROC over seeds), then the means.
pub fn table(points: &[ClassPoint]) -> String {
    let rows = rows(points);
    let mut s = format!("class,name,{}\n", METHODS.join(","));
    let cells = |a: &[f64; METHODS.len()]| a.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(",");
    for r in &rows {
        s += &format!("{},{},{}\n", r.class, csv_field(&r.name), cells(&r.auroc));
    }
    s += &format!("mean,,{}\n", cells(&means(&rows)));
    s
}

/// Each normal class's AUROC by every method: the autoencoder's scores as medians over seeds
/// (half the seeds' range as error bars), each method's mean in its legend.
pub fn auroc_figure(points: &[ClassPoint], title: &str) -> LinePlot {
    let rows = rows(points);
    let means = means(&rows);
    let spread = |k: usize, method: &str| {
        let seeds = points.iter().filter(|p| p.class == k && p.method == method).map(|p| p.auroc);
        let (lo, hi) = seeds.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), a| (l.min(a), h.max(a)));
        (hi - lo) / 2.0
    };
    let mut plot = LinePlot::new(title, "normal class", "test AUROC (other classes anomalous)");
    for (i, method) in METHODS.iter().enumerate() {
        let line: Vec<(f64, f64)> = rows.iter().map(|r| (r.class as f64, r.auroc[i])).collect();
        let errors: Vec<f64> = rows.iter().map(|r| spread(r.class, method)).collect();
        plot = plot.line_with_errors(format!("{} (mean {:.3})", label(method), means[i]), line, errors);
    }
    plot.integer_x().legend_at(plotters::prelude::SeriesLabelPosition::LowerLeft)
}

/// A method's name in a figure's legend.
fn label(method: &str) -> &str {
    match method {
        "reconstruction" => "reconstruction error",
        "code" => "code density",
        "neighbours" => "code's nearest neighbours",
        "both" => "reconstruction + code",
        "complexity" => "reconstruction ÷ total variation",
        "pca" => "PCA, 95 % variance",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(class: usize, method: &str, seed: Option<u64>, auroc: f64) -> ClassPoint {
        ClassPoint {
            class,
            name: format!("c{class}"),
            method: method.into(),
            seed,
            setting: String::new(),
            auroc,
            average_precision: 0.5,
        }
    }

    #[test]
    fn rows_take_the_median_over_seeds_and_the_mean_over_classes() {
        let points = [
            point(3, "pca", None, 0.7),
            point(3, "reconstruction", Some(0), 0.9),
            point(3, "reconstruction", Some(1), 0.5),
            point(3, "reconstruction", Some(2), 0.8),
            point(1, "pca", None, 0.6),
            point(1, "reconstruction", Some(0), 1.0),
        ];
        let rows = rows(&points);
        assert_eq!(rows.iter().map(|r| r.class).collect::<Vec<_>>(), [3, 1], "the points' order");
        assert_eq!((rows[0].auroc[0], rows[0].auroc[5]), (0.8, 0.7));
        assert!(rows[0].auroc[1].is_nan(), "no `code` points: NaN, not 0");
        let m = means(&rows);
        assert!((m[0] - 0.9).abs() < 1e-12 && (m[5] - 0.65).abs() < 1e-12, "{m:?}");
        let t = table(&points);
        assert!(
            t.starts_with(
                "class,name,reconstruction,code,neighbours,both,complexity,pca\n3,c3,0.8000,NaN,NaN,NaN,NaN,0.7000\n"
            ),
            "{t}"
        );
        assert!(t.ends_with("mean,,0.9000,NaN,NaN,NaN,NaN,0.6500\n"), "{t}");
    }

    #[test]
    fn code_distance_is_mahalanobis_under_the_fitted_gaussian() {
        // Mean 0, variances 2/3 and 8/3 (n − 1 = 3), no covariance: the Gaussian `seed_scores`
        // fits to the training codes.
        let fit = [1.0, 0.0, -1.0, 0.0, 0.0, 2.0, 0.0, -2.0];
        let d = CodeReference::fit(&fit, 2).unwrap().mahalanobis(&[1.0, 0.0, 0.0, 2.0, 1.0, 2.0, 0.0, 0.0]);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        assert!(close(d[0], 1.5) && close(d[1], 1.5) && close(d[2], 3.0) && close(d[3], 0.0), "{d:?}");
    }

    #[test]
    fn scores_are_standardised_on_validation_before_summing() {
        let (a_val, a_test) = (vec![1.0, 3.0], vec![4.0, 2.0]); // mean 2, sd 1
        let (b_val, b_test) = (vec![0.0, 4.0], vec![0.0, 2.0]); // mean 2, sd 2
        assert_eq!(sum_standardised(&[(&a_val, &a_test), (&b_val, &b_test)]), [1.0, 0.0]);
    }

    #[test]
    fn a_class_name_with_a_comma_or_quote_stays_one_csv_field() {
        let mut p = point(0, "pca", None, 0.5);
        p.name = "cats, \"big\"".into();
        let csv = to_csv(&[p]);
        let line = csv.lines().nth(1).unwrap();
        assert_eq!(line, "0,\"cats, \"\"big\"\"\",pca,,,0.5000,0.5000");
    }
}
