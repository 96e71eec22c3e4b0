//! `autoencoders sample` and `interpolate`: new data from a model's decoder — decoded draws
//! from a generative model's prior, paths between the codes of two test samples, and the
//! decoded grid over a 2-D latent space (Kingma & Welling's figure 4).

use std::path::Path;

use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

use crate::baselines::{Classifier, ClassifierTraining};
use crate::data::Split;
use crate::model_dir::RunConfig;
use crate::models::{Autoencoder, ModelConfig, ModelVisitor, Prior};
use crate::nn::{values, Activation, Dev};
use crate::train::encode_all;
use crate::train::sample_quality::{frechet_distance, parzen_estimate, CodesFrom, SampleQuality};
use crate::viz::ReconstructionGrid;
use crate::{Error, Result};

/// Decoded samples and how to draw them.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The samples, one after another, in rows of `cols`.
    pub samples: Vec<f32>,
    /// One sample's shape (`[1, 28, 28]`; `[d]` for a table row).
    pub shape: Vec<usize>,
    /// Samples per row of the figure.
    pub cols: usize,
    /// Row titles of the figure (empty: none).
    pub titles: Vec<String>,
    /// The value range shown black to white.
    pub range: (f32, f32),
}

impl Generated {
    /// The samples as a grid figure, `cols` per row.
    pub fn grid(&self) -> ReconstructionGrid {
        let d = self.shape.iter().product::<usize>().max(1);
        let rows = self.samples.chunks(d * self.cols).enumerate().map(|(r, chunk)| {
            let title = self.titles.get(r).cloned().unwrap_or_default();
            (title, chunk.chunks(d).map(<[f32]>::to_vec).collect())
        });
        ReconstructionGrid { rows: rows.collect(), shape: self.shape.clone(), range: self.range }
    }
}

/// `n` samples of the generative model in `dir`: codes drawn from its prior with `seed` (the
/// same samples for the same seed), decoded. A plain autoencoder is refused: it has no prior.
pub fn sample(dir: &Path, n: usize, seed: u64) -> Result<Generated> {
    let cfg = RunConfig::load(dir)?;
    let samples = cfg.load_model(dir, Sample { n, seed, dir })?;
    Ok(generated(&cfg, samples, (n as f64).sqrt().ceil() as usize, vec![]))
}

/// Decodes `n` codes drawn from `model`'s prior with `seed`.
pub fn sample_model<M: Autoencoder>(model: &M, n: usize, seed: u64) -> Result<Vec<f32>> {
    let prior = model.prior().ok_or_else(|| no_prior("this model"))?;
    let codes = prior.sample(n, &mut StdRng::seed_from_u64(seed));
    Ok(decode_codes(model, codes, n))
}

/// Decodes `codes` (rows of the model's code size) with the model in `dir`, `cols` per row of
/// the figure — any codes, say random ones, to see what a decoder makes of them.
pub fn decode(dir: &Path, codes: &[f32], cols: usize) -> Result<Generated> {
    let cfg = RunConfig::load(dir)?;
    let k = cfg.model.code_len();
    if k == 0 || !codes.len().is_multiple_of(k) {
        let what = format!("{} values are not whole codes of {k}", codes.len());
        return Err(Error::config("codes", what));
    }
    let samples = cfg.load_model(dir, Decode { codes: codes.to_vec() })?;
    Ok(generated(&cfg, samples, cols, vec![]))
}

/// The paths between the codes of test samples `pairs[i].0` and `pairs[i].1` of the model in
/// `dir`, `steps` decoded points each (ends included), one row per pair: spherical
/// ([`slerp`]) for a model with a Gaussian prior, where codes lie near a shell, else straight.
pub fn interpolate(dir: &Path, pairs: &[(usize, usize)], steps: usize) -> Result<Generated> {
    let cfg = RunConfig::load(dir)?;
    let test = super::load_checked_split(&cfg, dir, Split::Test)?;
    for &(a, b) in pairs {
        if a.max(b) >= test.len() {
            let what = format!("sample {} is past the test split's {} samples", a.max(b), test.len());
            return Err(Error::config("from/to", what));
        }
    }
    let d = test.sample_len();
    let chosen: Vec<f32> = pairs
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .flat_map(|i| test.samples[i * d..(i + 1) * d].iter().copied())
        .collect();
    let (samples, spherical) = cfg.load_model(dir, Interpolate { x: chosen, pairs: pairs.len(), steps })?;
    let how = if spherical { "slerp" } else { "linear" };
    let titles = pairs.iter().map(|(a, b)| format!("{a} → {b} ({how})")).collect();
    let mut out = generated(&cfg, samples, steps, titles);
    out.shape.clone_from(&test.shape);
    Ok(out)
}

/// The decoded grid of a model's latent space: `side × side` codes along the first two code
/// units (the others at 0) at [`Prior::grid_axis`] — for a Gaussian prior its quantiles
/// `(i + ½) / side`, the whole latent space of a 2-D VAE as in Kingma & Welling's figure 4.
pub fn manifold(dir: &Path, side: usize) -> Result<Generated> {
    let cfg = RunConfig::load(dir)?;
    let samples = cfg.load_model(dir, Manifold { side, dir })?;
    Ok(generated(&cfg, samples, side, vec![]))
}

/// How [`sample_quality`] measures a model's samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityOptions {
    /// Generated samples (the papers use 10,000).
    pub samples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// The hidden width of the classifier whose features the Fréchet distance compares.
    pub classifier_hidden: usize,
    /// How that classifier is trained (on the model's training split, with its labels).
    pub classifier: ClassifierTraining,
}

impl Default for QualityOptions {
    /// 10,000 samples, seed 0; a 256-unit classifier trained 5 epochs.
    fn default() -> Self {
        Self {
            samples: 10_000,
            seed: 0,
            classifier_hidden: 256,
            classifier: ClassifierTraining { epochs: 5, ..Default::default() },
        }
    }
}

/// Generates `opts.samples` samples from the model in `dir` — from its prior, or for a plain
/// autoencoder from a diagonal Gaussian fitted to its training codes — and measures them
/// against the test split: Parzen log-likelihood (σ chosen on the validation split) and the
/// Fréchet distance in the features of a classifier trained on the training split.
pub fn sample_quality(dir: &Path, opts: &QualityOptions) -> Result<SampleQuality> {
    sample_quality_with(dir, opts, &quality_classifier(dir, opts)?)
}

/// The training and validation parts of the model in `dir`'s training split (the validation
/// part chooses the Parzen window; at least 5 %).
fn train_and_val(cfg: &RunConfig, dir: &Path) -> Result<(crate::data::Dataset, crate::data::Dataset)> {
    let train_all = super::load_checked_split(cfg, dir, Split::Train)?;
    train_all.split(cfg.train.val_split.max(0.05), cfg.train.seed)
}

/// The classifier [`sample_quality`] measures in, trained on the training part of the model
/// in `dir`'s data — to score several models of the same data in one feature space, train it
/// once.
pub fn quality_classifier(dir: &Path, opts: &QualityOptions) -> Result<Classifier> {
    let cfg = RunConfig::load(dir)?;
    let (train, _) = train_and_val(&cfg, dir)?;
    let labels = train.labels.as_ref().map_or(0, |l| l.iter().max().map_or(0, |&m| m as usize + 1));
    let classes = train.class_names.len().max(labels);
    let dev = Dev::seed_from_u64(opts.seed);
    let mut classifier = Classifier::new(&dev, train.sample_len(), &[opts.classifier_hidden], classes);
    classifier.fit(&train, &opts.classifier)?;
    Ok(classifier)
}

/// [`sample_quality`] in the features of `classifier` (from [`quality_classifier`]).
pub fn sample_quality_with(dir: &Path, opts: &QualityOptions, classifier: &Classifier) -> Result<SampleQuality> {
    let cfg = RunConfig::load(dir)?;
    let test = super::load_checked_split(&cfg, dir, Split::Test)?;
    let (train, val) = train_and_val(&cfg, dir)?;
    let (samples, codes_from) = cfg.load_model(dir, Generate { n: opts.samples, seed: opts.seed, train: &train })?;
    let d = test.sample_len();
    let parzen = parzen_estimate(&samples, &val.samples[..val.samples.len().min(1000 * d)], &test.samples, d);
    let f = classifier.feature_len();
    let features = |v: &[f32]| classifier.features(v);
    let test_features = features(&test.samples);
    let n = opts.samples.min(train.len());
    Ok(SampleQuality {
        samples: opts.samples,
        codes_from,
        parzen,
        frechet: frechet_distance(&features(&samples), &test_features, f),
        frechet_floor: frechet_distance(&features(&train.samples[..n * d]), &test_features, f),
        classifier_accuracy: classifier.accuracy(&test)?,
    })
}

/// Points along the path from `a` to `b`, `steps` of them with both ends: on the great circle
/// (spherical linear interpolation, Shoemake 1985; White 2016 for generative models) when
/// `spherical`, else on the straight line. Falls back to the line when the codes are (anti)parallel.
pub fn slerp(a: &[f32], b: &[f32], steps: usize, spherical: bool) -> Vec<Vec<f32>> {
    let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let cos = (dot / (norm(a) * norm(b))).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let curved = spherical && omega.sin().abs() > 1e-6;
    (0..steps)
        .map(|i| {
            let t = if steps > 1 { i as f64 / (steps - 1) as f64 } else { 0.0 };
            let (wa, wb) = if curved {
                (((1.0 - t) * omega).sin() / omega.sin(), (t * omega).sin() / omega.sin())
            } else {
                (1.0 - t, t)
            };
            a.iter().zip(b).map(|(&x, &y)| (wa * x as f64 + wb * y as f64) as f32).collect()
        })
        .collect()
}

/// The error for generating from a model without a prior.
fn no_prior(what: &str) -> Error {
    Error::config(
        "variant",
        format!(
            "{what} is a plain autoencoder: its codes follow no known distribution (it was trained without a \
             prior), so there is nothing to draw new codes from — decoding random codes gives noise. Models that \
             can sample: --variant vae or aae. (`interpolate` works on any model: it decodes codes of real samples.)"
        ),
    )
}

/// Decodes `n` codes (rows of the model's code size) in batches of 512.
/// Without the tape where the model has a frozen form ([`Autoencoder::inference`]).
pub(crate) fn decode_codes<M: Autoencoder>(model: &M, codes: Vec<f32>, n: usize) -> Vec<f32> {
    let dev = Dev::default();
    let k = model.code_len();
    let mut out = Vec::new();
    if let Some(mut frozen) = model.inference() {
        crate::nn::on_pool(|| codes.chunks(k * 512).for_each(|z| frozen.decode_into(z, z.len() / k, &mut out)));
        return out;
    }
    for chunk in codes.chunks(k * 512) {
        let z = dev.tensor_from_vec(chunk.to_vec(), (chunk.len() / k, k));
        out.extend(values(&model.decode(reshape_code(model, z))));
    }
    debug_assert_eq!(out.len(), n * model.input_shape(1).num_elements());
    out
}

/// A `(batch, k)` code tensor as the model's code shape (which may have compile-time sizes):
/// the shape of one encoded sample, with the batch size put in.
fn reshape_code<M: Autoencoder>(model: &M, z: Tensor<(usize, usize), f32, Dev>) -> Tensor<M::Code, f32, Dev> {
    let one = *model.encode(Dev::default().zeros_like(&model.input_shape(1))).shape();
    let mut dims = one.concrete();
    dims[0] = z.shape().0;
    let shape = M::Code::from_concrete(&dims).expect("the same code shape with another batch size");
    z.reshape_like(&shape)
}

/// One sample's shape from the config alone: the conv model's image, a square dense input as
/// a grey image, else a row of values.
fn sample_shape(model: &ModelConfig) -> Vec<usize> {
    match model {
        ModelConfig::Conv(c) => vec![c.channels, c.height, c.width],
        _ => {
            let d = model.input_len();
            let side = (d as f64).sqrt().round() as usize;
            if side * side == d {
                vec![1, side, side]
            } else {
                vec![d]
            }
        }
    }
}

fn generated(cfg: &RunConfig, samples: Vec<f32>, cols: usize, titles: Vec<String>) -> Generated {
    let range = if cfg.model.card().loss == crate::models::ReconLoss::Bce || output_is_sigmoid(&cfg.model) {
        (0.0, 1.0)
    } else {
        samples.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    };
    Generated { samples, shape: sample_shape(&cfg.model), cols: cols.max(1), titles, range }
}

fn output_is_sigmoid(model: &ModelConfig) -> bool {
    match model {
        ModelConfig::Dense(d) => d.output_activation == Activation::Sigmoid,
        ModelConfig::Conv(c) => c.output_activation == Activation::Sigmoid,
        ModelConfig::Lstm(_) => false,
    }
}

struct Decode {
    codes: Vec<f32>,
}

impl ModelVisitor for Decode {
    type Output = Vec<f32>;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Vec<f32>> {
        let n = self.codes.len() / model.code_len();
        Ok(decode_codes(&model, self.codes, n))
    }
}

struct Generate<'a> {
    n: usize,
    seed: u64,
    train: &'a crate::data::Dataset,
}

impl ModelVisitor for Generate<'_> {
    type Output = (Vec<f32>, CodesFrom);
    fn visit<M: Autoencoder>(self, model: M) -> Result<(Vec<f32>, CodesFrom)> {
        if model.prior().is_some() {
            return Ok((sample_model(&model, self.n, self.seed)?, CodesFrom::Prior));
        }
        let k = model.code_len();
        let codes = encode_all(&model, self.train, 512);
        let rows = (codes.len() / k).max(2) as f64;
        let mean: Vec<f64> =
            (0..k).map(|j| codes.iter().skip(j).step_by(k).map(|&v| v as f64).sum::<f64>() / rows).collect();
        let sd: Vec<f64> = (0..k)
            .map(|j| {
                (codes.iter().skip(j).step_by(k).map(|&v| (v as f64 - mean[j]).powi(2)).sum::<f64>() / (rows - 1.0))
                    .sqrt()
            })
            .collect();
        let unit = Prior::StandardNormal { dim: k }.sample(self.n, &mut StdRng::seed_from_u64(self.seed));
        let fitted: Vec<f32> =
            unit.iter().enumerate().map(|(i, &u)| (mean[i % k] + sd[i % k] * u as f64) as f32).collect();
        Ok((decode_codes(&model, fitted, self.n), CodesFrom::FittedGaussian))
    }
}

struct Sample<'a> {
    n: usize,
    seed: u64,
    dir: &'a Path,
}

impl ModelVisitor for Sample<'_> {
    type Output = Vec<f32>;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Vec<f32>> {
        if model.prior().is_none() {
            return Err(no_prior(&self.dir.display().to_string()));
        }
        sample_model(&model, self.n, self.seed)
    }
}

struct Interpolate {
    x: Vec<f32>,
    pairs: usize,
    steps: usize,
}

impl ModelVisitor for Interpolate {
    type Output = (Vec<f32>, bool);
    fn visit<M: Autoencoder>(self, model: M) -> Result<(Vec<f32>, bool)> {
        let dev = Dev::default();
        let codes = values(&model.encode(dev.tensor_from_vec(self.x, model.input_shape(2 * self.pairs))));
        let k = model.code_len();
        let spherical = model.prior().is_some_and(|p| p.is_gaussian());
        let path: Vec<f32> = codes
            .chunks(2 * k)
            .flat_map(|pair| slerp(&pair[..k], &pair[k..], self.steps, spherical).into_iter().flatten())
            .collect();
        Ok((decode_codes(&model, path, self.pairs * self.steps), spherical))
    }
}

struct Manifold<'a> {
    side: usize,
    dir: &'a Path,
}

impl ModelVisitor for Manifold<'_> {
    type Output = Vec<f32>;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Vec<f32>> {
        let prior: Prior = model.prior().ok_or_else(|| no_prior(&self.dir.display().to_string()))?;
        let (k, side) = (model.code_len(), self.side);
        if k < 2 {
            return Err(Error::config("code", "a latent grid needs a code of at least 2 units"));
        }
        let axis = prior.grid_axis(side);
        let mut codes = vec![0.0f32; side * side * k];
        for r in 0..side {
            for c in 0..side {
                // Rows run top to bottom from high to low values of the second unit, as on a plot.
                let at = (r * side + c) * k;
                codes[at] = axis[c];
                codes[at + 1] = axis[side - 1 - r];
            }
        }
        Ok(decode_codes(&model, codes, side * side))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slerp_keeps_the_ends_and_the_norm_between_codes_of_equal_norm() {
        let (a, b) = ([3.0f32, 0.0], [0.0f32, 3.0]);
        let path = slerp(&a, &b, 5, true);
        assert_eq!(path[0], a.to_vec());
        assert!(path[4].iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6));
        for p in &path {
            let n = (p[0] * p[0] + p[1] * p[1]).sqrt();
            assert!((n - 3.0).abs() < 1e-5, "{p:?} leaves the circle");
        }
        // The straight line's midpoint is shorter.
        let mid = &slerp(&a, &b, 3, false)[1];
        assert!((mid[0] - 1.5).abs() < 1e-6 && (mid[1] - 1.5).abs() < 1e-6);
    }
}
