//! `autoencoders faces`: face recognition from an autoencoder's codes. A convolutional
//! autoencoder learns the ORL faces of the literature's split (`orl-faces/5-5`: images 1–5 of
//! each of 40 people train, 6–10 test, 92×112 at full size), without their names; a test face
//! is then identified as the person of the nearest training face by its code (1-NN, Euclidean
//! or cosine), and verified — same person or not — by the similarity of two codes.
//!
//! The baselines run on the same split in the same process: eigenfaces (PCA of the training
//! faces, the same code sizes, 1-NN; Turk & Pentland 1991) and raw pixels (1-NN). The setting
//! reported as the autoencoder's result — code size and distance — is the one with the best
//! leave-one-out 1-NN accuracy on the training faces (median over the seeds): the test faces
//! choose nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::baselines::Pca;
use crate::data::{prepare_data, DataConfig, Dataset, DatasetId, Prepared, Split};
use crate::model_dir::RunConfig;
use crate::models::conv::ConvConfig;
use crate::models::{Autoencoder, ModelConfig, ModelVisitor, ReconLoss};
use crate::nn::Activation;
use crate::train::{
    encode_all, median, roc_auc, roc_curve, AdamConfig, InputNoise, LrSchedule, Noise, Progress, TrainConfig,
};
use crate::viz::LinePlot;
use crate::{Error, Result};

/// How two codes are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Straight-line distance.
    Euclidean,
    /// One minus the cosine of the angle: blind to a code's length (a face's overall
    /// brightness and contrast scale the code more than they turn it).
    Cosine,
}

impl Metric {
    /// Both, in report order.
    pub const ALL: [Metric; 2] = [Metric::Euclidean, Metric::Cosine];

    /// `euclidean` or `cosine`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Euclidean => "euclidean",
            Metric::Cosine => "cosine",
        }
    }

    /// The distance between `a` and `b` (smaller: more alike).
    pub fn distance(self, a: &[f32], b: &[f32]) -> f64 {
        match self {
            Metric::Euclidean => a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>().sqrt(),
            Metric::Cosine => {
                let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
                for (&x, &y) in a.iter().zip(b) {
                    ab += x as f64 * y as f64;
                    aa += x as f64 * x as f64;
                    bb += y as f64 * y as f64;
                }
                1.0 - ab / (aa.sqrt() * bb.sqrt()).max(f64::MIN_POSITIVE)
            }
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct FacesOptions {
    /// Where the face models are trained (`OUT/code-<k>-seed-<s>`); each is a model directory
    /// `faces --query`, `encode` and `figures` read.
    pub models: PathBuf,
    /// Code sizes to compare (eigenfaces get the same number of components).
    pub codes: Vec<usize>,
    /// One model per seed and code size; results are medians over the seeds.
    pub seeds: Vec<u64>,
    /// Epochs of each model (no early stopping: the 200 training faces are all for training).
    pub epochs: usize,
    /// Adam's learning rate (cosine decay to 0 over the run).
    pub lr: f64,
    /// Faces per optimiser step.
    pub batch_size: usize,
    /// Input corruption while training. The default, `shift:4` (each face moved up to 4
    /// pixels each way, about 4 % of its width, rebuilt where it was), makes the code blind to
    /// small misalignments, which 1-NN on a plain code is not: on one seed at code 64 it
    /// raised test accuracy from 0.900 to 0.950 (cosine). Fixed before looking, not tuned.
    pub noise: Option<Noise>,
}

impl Default for FacesOptions {
    fn default() -> Self {
        Self {
            models: "runs/faces".into(),
            codes: vec![16, 32, 64, 128],
            seeds: vec![0, 1, 2],
            epochs: 150,
            lr: 2e-3,
            batch_size: 16,
            noise: Some(Noise::Shift { pixels: 4.0 }),
        }
    }
}

/// One method, at one code size (and seed, for the autoencoder), with one distance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FacePoint {
    /// `autoencoder`, `eigenfaces` or `pixels`.
    pub method: String,
    /// Numbers per face compared (the code size; 10,304 for pixels).
    pub code: usize,
    /// The autoencoder's seed.
    pub seed: Option<u64>,
    /// The distance.
    pub metric: Metric,
    /// Leave-one-out 1-NN accuracy on the training faces: what chooses the setting.
    pub loo_accuracy: f64,
    /// 1-NN identification accuracy of the test faces against the training faces.
    pub accuracy: f64,
    /// Verification on every pair of test faces (same person or not) by code similarity: the
    /// area under the ROC curve.
    pub verification_auroc: f64,
    /// The equal error rate of that verification: where false accepts = false rejects.
    pub eer: f64,
}

/// The setting chosen without the test faces, and its test results (medians over the seeds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chosen {
    /// Code size.
    pub code: usize,
    /// Distance.
    pub metric: Metric,
    /// Median leave-one-out accuracy on the training faces, which chose it.
    pub loo_accuracy: f64,
    /// Median test identification accuracy.
    pub accuracy: f64,
    /// Median verification equal error rate.
    pub eer: f64,
    /// Each seed's test accuracy.
    pub accuracies: Vec<f64>,
}

/// Everything `faces` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FacesReport {
    /// Every method, code size, seed and distance.
    pub points: Vec<FacePoint>,
    /// The autoencoder's setting chosen by leave-one-out on the training faces.
    pub chosen: Chosen,
    /// The model directory of the chosen setting's first seed, inside the study's folder
    /// (what `--query` on the folder uses).
    pub chosen_model: String,
    /// Training faces, test faces, people.
    pub train_faces: usize,
    /// Test faces.
    pub test_faces: usize,
    /// People.
    pub people: usize,
}

/// The face model for `code` numbers: the conv autoencoder at the faces' full 1×112×92
/// (no downsampling), sigmoid output and BCE on pixels in [0, 1].
pub fn face_model(code: usize) -> ConvConfig {
    ConvConfig {
        activation: Activation::Relu,
        output_activation: Activation::Sigmoid,
        loss: ReconLoss::Bce,
        ..ConvConfig::new(code).with_image(1, 112, 92)
    }
}

/// Trains every model, measures every method; `each` sees each model's points as they come.
pub fn study(opts: &FacesOptions, mut each: impl FnMut(&[FacePoint])) -> Result<FacesReport> {
    if opts.codes.is_empty() || opts.seeds.is_empty() {
        return Err(Error::config("codes", "give at least one code size and one seed"));
    }
    let data = prepare_data(&DataConfig::new(DatasetId::OrlFaces55))?;
    let (train, test) = (&data.train, &data.test);
    let mut points = Vec::new();
    let pixels = method_points("pixels", train.sample_len(), None, &train.samples, &test.samples, train, test);
    each(&pixels);
    points.extend(pixels);
    let largest = *opts.codes.iter().max().unwrap_or(&1);
    let pca = Pca::fit(&train.samples, train.sample_len(), largest)?;
    for &k in &opts.codes {
        let p = pca.truncated(k);
        let got = method_points(
            "eigenfaces",
            k,
            None,
            &p.transform(&train.samples),
            &p.transform(&test.samples),
            train,
            test,
        );
        each(&got);
        points.extend(got);
    }
    for &k in &opts.codes {
        for &seed in &opts.seeds {
            let dir = model_dir(&opts.models, k, seed);
            train_face_model(&data, k, seed, opts, &dir)?;
            let cfg = RunConfig::load(&dir)?;
            let (tr, te) = cfg.load_model(&dir, TwoCodes(train, test))?;
            let got = method_points("autoencoder", k, Some(seed), &tr, &te, train, test);
            each(&got);
            points.extend(got);
        }
    }
    let chosen = choose(&points);
    Ok(FacesReport {
        chosen_model: model_name(chosen.code, opts.seeds[0]),
        chosen,
        points,
        train_faces: train.len(),
        test_faces: test.len(),
        people: train.class_names.len(),
    })
}

fn model_dir(root: &Path, code: usize, seed: u64) -> PathBuf {
    root.join(model_name(code, seed))
}

fn model_name(code: usize, seed: u64) -> String {
    format!("code-{code}-seed-{seed}")
}

/// The report's file in a study's folder.
pub const REPORT: &str = "faces.json";

/// Writes `dir/faces.json` (the report), `faces.csv` (every point), `faces-accuracy.png` and
/// `faces-roc.png`.
pub fn write_report(report: &FacesReport, dir: &Path) -> Result<()> {
    use crate::viz::Figure;
    let json = serde_json::to_string_pretty(report).expect("a report of numbers and names serialises");
    crate::fs::write_atomic(&dir.join(REPORT), json.as_bytes())?;
    crate::fs::write_atomic(&dir.join("faces.csv"), to_csv(&report.points).as_bytes())?;
    accuracy_figure(report).save(&dir.join("faces-accuracy.png"))?;
    verification_figure(report, dir)?.save(&dir.join("faces-roc.png"))?;
    Ok(())
}

/// Every point as CSV.
pub fn to_csv(points: &[FacePoint]) -> String {
    let mut s = String::from("method,code,seed,metric,loo_accuracy,accuracy,verification_auroc,eer\n");
    for p in points {
        let seed = p.seed.map_or(String::new(), |s| s.to_string());
        s += &format!(
            "{},{},{seed},{},{:.4},{:.4},{:.4},{:.4}\n",
            p.method,
            p.code,
            p.metric.name(),
            p.loo_accuracy,
            p.accuracy,
            p.verification_auroc,
            p.eer
        );
    }
    s
}

/// The model `--query` uses for `dir`: `dir` itself when it is a model directory, or the
/// chosen model of the study whose report is in `dir` (with its chosen distance).
pub fn query_model(dir: &Path) -> Result<(PathBuf, Option<Metric>)> {
    if dir.join(crate::model_dir::CONFIG).exists() {
        return Ok((dir.to_path_buf(), None));
    }
    let path = dir.join(REPORT);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::config(
            "dir",
            format!(
                "{}: neither a model directory (no config.json) nor a `faces` study ({e}); run `autoencoders faces {}` first",
                dir.display(),
                dir.display()
            ),
        )
    })?;
    let report: FacesReport =
        serde_json::from_str(&text).map_err(|e| Error::format(&path, format!("not a `faces` report: {e}")))?;
    Ok((dir.join(&report.chosen_model), Some(report.chosen.metric)))
}

fn train_face_model(data: &Prepared, code: usize, seed: u64, opts: &FacesOptions, dir: &Path) -> Result<()> {
    let train = TrainConfig {
        epochs: opts.epochs,
        batch_size: opts.batch_size,
        adam: AdamConfig { lr: opts.lr, ..Default::default() },
        seed,
        val_split: 0.0,
        patience: None,
        schedule: LrSchedule::Cosine,
        noise: opts.noise.map(InputNoise::new),
        ..Default::default()
    };
    let cfg = RunConfig {
        command: format!("autoencoders faces (code {code}, seed {seed})"),
        ..RunConfig::new(ModelConfig::Conv(face_model(code)), data.config.clone(), train)
    };
    super::train_prepared(&cfg, data.clone(), dir, Progress::Quiet)?;
    Ok(())
}

/// The codes of two sets.
struct TwoCodes<'a>(&'a Dataset, &'a Dataset);

impl ModelVisitor for TwoCodes<'_> {
    type Output = (Vec<f32>, Vec<f32>);
    fn visit<M: Autoencoder>(self, model: M) -> Result<Self::Output> {
        Ok((encode_all(&model, self.0, 64), encode_all(&model, self.1, 64)))
    }
}

/// One method's points, one per distance, from its codes of the training and test faces.
fn method_points(
    method: &str,
    k: usize,
    seed: Option<u64>,
    train_codes: &[f32],
    test_codes: &[f32],
    train: &Dataset,
    test: &Dataset,
) -> Vec<FacePoint> {
    let (train_labels, test_labels) = (labels(train), labels(test));
    Metric::ALL
        .iter()
        .map(|&metric| {
            let (scores, same) = verification_pairs(test_codes, k, &test_labels, metric);
            FacePoint {
                method: method.into(),
                code: k,
                seed,
                metric,
                loo_accuracy: loo_accuracy(train_codes, k, &train_labels, metric),
                accuracy: accuracy(train_codes, &train_labels, test_codes, &test_labels, k, metric),
                verification_auroc: roc_auc(&scores, &same).unwrap_or(f64::NAN),
                eer: equal_error_rate(&scores, &same),
            }
        })
        .collect()
}

fn labels(set: &Dataset) -> Vec<u32> {
    set.labels.clone().unwrap_or_else(|| vec![0; set.len()])
}

/// The index of the gallery row nearest `probe`, skipping `skip`.
pub fn nearest(gallery: &[f32], k: usize, probe: &[f32], metric: Metric, skip: Option<usize>) -> Option<usize> {
    gallery
        .chunks(k)
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(i, g)| (i, metric.distance(g, probe)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// 1-NN accuracy of the probes against the gallery.
pub fn accuracy(
    gallery: &[f32],
    gallery_labels: &[u32],
    probes: &[f32],
    probe_labels: &[u32],
    k: usize,
    metric: Metric,
) -> f64 {
    let right = probes
        .chunks(k)
        .zip(probe_labels)
        .filter(|(p, &l)| nearest(gallery, k, p, metric, None).is_some_and(|i| gallery_labels[i] == l))
        .count();
    right as f64 / probe_labels.len().max(1) as f64
}

/// Leave-one-out 1-NN accuracy: each face against all the others.
pub fn loo_accuracy(codes: &[f32], k: usize, labels: &[u32], metric: Metric) -> f64 {
    let right = codes
        .chunks(k)
        .enumerate()
        .filter(|(i, c)| nearest(codes, k, c, metric, Some(*i)).is_some_and(|j| labels[j] == labels[*i]))
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// Every pair of faces: its similarity (minus the distance) and whether it is one person.
pub fn verification_pairs(codes: &[f32], k: usize, labels: &[u32], metric: Metric) -> (Vec<f64>, Vec<bool>) {
    let rows: Vec<&[f32]> = codes.chunks(k).collect();
    let (mut scores, mut same) = (Vec::new(), Vec::new());
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            scores.push(-metric.distance(rows[i], rows[j]));
            same.push(labels[i] == labels[j]);
        }
    }
    (scores, same)
}

/// The equal error rate: the false-accept rate at the threshold where it meets the
/// false-reject rate, interpolated between the ROC's neighbouring points.
pub fn equal_error_rate(scores: &[f64], positive: &[bool]) -> f64 {
    let curve = roc_curve(scores, positive);
    // Along the curve, fpr − (1 − tpr) rises from −1 to 1: find where it crosses 0.
    let gap = |&(fpr, tpr): &(f64, f64)| fpr - (1.0 - tpr);
    for w in curve.windows(2) {
        let (a, b) = (gap(&w[0]), gap(&w[1]));
        if a <= 0.0 && b >= 0.0 {
            let t = if b > a { -a / (b - a) } else { 0.0 };
            return w[0].0 + t * (w[1].0 - w[0].0);
        }
    }
    f64::NAN
}

/// The autoencoder setting with the best median leave-one-out accuracy (ties: the smaller
/// code, then Euclidean), and its medians.
fn choose(points: &[FacePoint]) -> Chosen {
    let mut best: Option<Chosen> = None;
    let mut codes: Vec<usize> = points.iter().filter(|p| p.method == "autoencoder").map(|p| p.code).collect();
    codes.dedup();
    for code in codes {
        for metric in Metric::ALL {
            let runs: Vec<&FacePoint> =
                points.iter().filter(|p| p.method == "autoencoder" && p.code == code && p.metric == metric).collect();
            let c = Chosen {
                code,
                metric,
                loo_accuracy: median(runs.iter().map(|p| p.loo_accuracy).collect()),
                accuracy: median(runs.iter().map(|p| p.accuracy).collect()),
                eer: median(runs.iter().map(|p| p.eer).collect()),
                accuracies: runs.iter().map(|p| p.accuracy).collect(),
            };
            if best.as_ref().is_none_or(|b| c.loo_accuracy > b.loo_accuracy) {
                best = Some(c);
            }
        }
    }
    best.expect("the study trains at least one model")
}

/// The median over seeds of each (method, code, metric): one row per setting.
pub fn medians(points: &[FacePoint]) -> Vec<FacePoint> {
    let mut out: Vec<FacePoint> = Vec::new();
    for p in points {
        if out.iter().any(|o| o.method == p.method && o.code == p.code && o.metric == p.metric) {
            continue;
        }
        let runs: Vec<&FacePoint> =
            points.iter().filter(|o| o.method == p.method && o.code == p.code && o.metric == p.metric).collect();
        let m = |f: fn(&FacePoint) -> f64| median(runs.iter().map(|p| f(p)).collect());
        out.push(FacePoint {
            seed: None,
            loo_accuracy: m(|p| p.loo_accuracy),
            accuracy: m(|p| p.accuracy),
            verification_auroc: m(|p| p.verification_auroc),
            eer: m(|p| p.eer),
            ..p.clone()
        });
    }
    out
}

/// The report as a fixed-width table: medians over the seeds.
pub fn table(report: &FacesReport) -> String {
    let mut s = format!(
        "{:<12} {:>6} {:<10} {:>10} {:>9} {:>10} {:>7}\n",
        "method", "code", "distance", "LOO train", "accuracy", "verif. AUC", "EER"
    );
    for p in medians(&report.points) {
        s += &format!(
            "{:<12} {:>6} {:<10} {:>10.3} {:>9.3} {:>10.3} {:>7.3}\n",
            p.method,
            p.code,
            p.metric.name(),
            p.loo_accuracy,
            p.accuracy,
            p.verification_auroc,
            p.eer
        );
    }
    let c = &report.chosen;
    s += &format!(
        "chosen by leave-one-out on the training faces: autoencoder, code {}, {}: accuracy {:.3} (seeds: {}), EER {:.3}\n",
        c.code,
        c.metric.name(),
        c.accuracy,
        c.accuracies.iter().map(|a| format!("{a:.3}")).collect::<Vec<_>>().join(", "),
        c.eer
    );
    s
}

/// Test accuracy against code size, autoencoder (both distances) and eigenfaces, with raw
/// pixels as a flat line.
pub fn accuracy_figure(report: &FacesReport) -> LinePlot {
    let med = medians(&report.points);
    let mut plot =
        LinePlot::new("ORL faces: 1-NN identification (5 training faces a person)", "code size", "test accuracy");
    for method in ["autoencoder", "eigenfaces"] {
        for metric in Metric::ALL {
            let pts: Vec<(f64, f64)> = med
                .iter()
                .filter(|p| p.method == method && p.metric == metric)
                .map(|p| (p.code as f64, p.accuracy))
                .collect();
            plot = plot.line(format!("{method} ({})", metric.name()), pts);
        }
    }
    let codes: Vec<f64> = med.iter().filter(|p| p.method == "eigenfaces").map(|p| p.code as f64).collect();
    let (lo, hi) = (codes.iter().copied().fold(f64::INFINITY, f64::min), codes.iter().copied().fold(0.0, f64::max));
    if let Some(px) = med.iter().find(|p| p.method == "pixels" && p.metric == Metric::Euclidean) {
        plot = plot.line(format!("raw pixels ({:.3})", px.accuracy), vec![(lo, px.accuracy), (hi, px.accuracy)]);
    }
    plot.legend_at(plotters::prelude::SeriesLabelPosition::LowerRight)
}

/// Verification ROC of the chosen model against eigenfaces at the same size and raw pixels
/// (one distance each, as chosen), on every pair of test faces.
pub fn verification_figure(report: &FacesReport, dir: &Path) -> Result<LinePlot> {
    let data = prepare_data(&DataConfig::new(DatasetId::OrlFaces55))?;
    let test = &data.test;
    let l = labels(test);
    let c = &report.chosen;
    let model = dir.join(&report.chosen_model);
    let (_, ae) = RunConfig::load(&model)?.load_model(&model, TwoCodes(&data.train, test))?;
    let pca = Pca::fit(&data.train.samples, data.train.sample_len(), c.code)?;
    let curve = |codes: &[f32], k: usize, name: String| {
        let (scores, same) = verification_pairs(codes, k, &l, c.metric);
        let eer = equal_error_rate(&scores, &same);
        (format!("{name} (EER {eer:.3})"), roc_curve(&scores, &same))
    };
    let lines = [
        curve(&ae, c.code, format!("autoencoder, code {}", c.code)),
        curve(&pca.transform(&test.samples), c.code, format!("eigenfaces, {}", c.code)),
        curve(&test.samples, test.sample_len(), "raw pixels".into()),
    ];
    let mut plot = LinePlot::new(
        format!("ORL verification: every pair of test faces ({} distance)", c.metric.name()),
        "false accept rate",
        "true accept rate",
    );
    for (name, pts) in lines {
        plot = plot.line(name, pts);
    }
    Ok(plot
        .line("equal error", vec![(0.0, 1.0), (1.0, 0.0)])
        .legend_at(plotters::prelude::SeriesLabelPosition::LowerRight))
}

/// A training face near the query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Match {
    /// The person (folder name, `s1` …).
    pub person: String,
    /// Its index among the training faces.
    pub index: usize,
    /// Its distance to the query.
    pub distance: f64,
}

/// The `n` training faces of the model in `dir` nearest the face in the image file `image`,
/// by `metric` between codes: who it most likely is. The image must have the model's size.
pub fn query(dir: &Path, image: &Path, n: usize, metric: Metric) -> Result<Vec<Match>> {
    let cfg = RunConfig::load(dir)?;
    let train = super::load_checked_split(&cfg, dir, Split::Train)?;
    let shape = super::compress::image_shape(&train.shape, dir)?;
    let mut probe = super::denoise::read_images(&[image.to_path_buf()], shape)?;
    if let Some(norm) = &cfg.data.normalizer {
        norm.apply(&mut probe)?;
    }
    let (gallery, q) = cfg.load_model(dir, TwoCodes(&train, &probe))?;
    let k = q.len();
    let mut all: Vec<Match> = gallery
        .chunks(k)
        .enumerate()
        .map(|(i, g)| Match {
            person: train.labels.as_ref().map_or(String::new(), |l| train.class_names[l[i] as usize].clone()),
            index: i,
            distance: metric.distance(g, &q),
        })
        .collect();
    all.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    all.truncate(n);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_error_rate_is_where_false_accepts_meet_false_rejects() {
        // Perfect separation: 0; reversed: 1; one swap in 2 + 2: 0.5.
        let pos = [true, true, false, false];
        assert_eq!(equal_error_rate(&[4.0, 3.0, 2.0, 1.0], &pos), 0.0);
        assert_eq!(equal_error_rate(&[1.0, 2.0, 3.0, 4.0], &pos), 1.0);
        assert!((equal_error_rate(&[4.0, 2.0, 3.0, 1.0], &pos) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn leave_one_out_skips_the_face_itself() {
        // Two people, two faces each, 1-D codes: each face's nearest other face is its pair.
        let codes = [0.0, 0.1, 5.0, 5.1];
        assert_eq!(loo_accuracy(&codes, 1, &[0, 0, 1, 1], Metric::Euclidean), 1.0);
        // Labels crossed: every nearest other face is the other person.
        assert_eq!(loo_accuracy(&codes, 1, &[0, 1, 0, 1], Metric::Euclidean), 0.0);
        assert!((Metric::Cosine.distance(&[1.0, 0.0], &[2.0, 0.0])).abs() < 1e-12);
    }
}
