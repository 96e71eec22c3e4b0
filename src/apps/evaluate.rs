//! `autoencoders eval` and `pull`: test metrics of a model directory, and a checked load.

use std::path::Path;

use super::anomaly::{normal_vs_rest_auroc, point_auroc};
use crate::data::{class_index, DataSource, Dataset, Split};
use crate::model_dir::{write_metrics, RunConfig};
use crate::models::{Autoencoder, ModelVisitor};
use rand::{rngs::StdRng, SeedableRng};

use crate::data::stream::{ParquetStream, Part};
use crate::train::{
    code_stats, encode_all, evaluate_loss_of, jacobian_stats, prior_fit, quality, reconstruct_all, variational_stats,
    Corruption, InputNoise, MetricSums, Metrics,
};
use crate::Result;

/// What `eval` computes beyond the reconstruction metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    /// Importance draws per test sample of a VAE's IWAE estimate of `log p(x)` (`--iw-samples`;
    /// 0: none). Its cost is that many decoder passes per sample.
    pub iw_samples: usize,
    /// Also generate samples and measure them ([`super::generate::sample_quality`]; trains a
    /// classifier of the data for the Fréchet distance: tens of seconds on MNIST).
    pub sample_quality: bool,
}

impl Default for EvalOptions {
    /// 100 draws, as in Burda et al.'s and the VAE literature's tables; no sample quality.
    fn default() -> Self {
        Self { iw_samples: 100, sample_quality: false }
    }
}

/// Evaluates the model in `dir` on its dataset's test split and writes `dir/metrics.json`.
pub fn evaluate(dir: &Path) -> Result<Metrics> {
    evaluate_with(dir, &EvalOptions::default())
}

/// [`evaluate`] with options.
pub fn evaluate_with(dir: &Path, opts: &EvalOptions) -> Result<Metrics> {
    let metrics = test_metrics_with(dir, opts)?;
    write_metrics(dir, &metrics)?;
    Ok(metrics)
}

/// The model in `dir` evaluated on its dataset's test split, writing nothing (for models in
/// the hub cache, which must stay as downloaded).
pub fn test_metrics(dir: &Path) -> Result<Metrics> {
    test_metrics_with(dir, &EvalOptions::default())
}

/// [`test_metrics`] with options.
pub fn test_metrics_with(dir: &Path, opts: &EvalOptions) -> Result<Metrics> {
    let mut m = unchecked_test_metrics(dir, opts)?;
    finite(&m, dir)?;
    if opts.sample_quality {
        m.sample_quality = Some(super::generate::sample_quality(dir, &Default::default())?);
    }
    Ok(m)
}

fn unchecked_test_metrics(dir: &Path, opts: &EvalOptions) -> Result<Metrics> {
    let cfg = RunConfig::load(dir)?;
    if cfg.data.source.stream {
        let test = cfg.data.open_stream(Part::Test, cfg.train.val_split)?;
        return cfg.load_model(dir, StreamedMetrics { test: &test, noise: cfg.train.noise, seed: cfg.train.seed });
    }
    let test = super::load_checked_split(&cfg, dir, Split::Test)?;
    let normal = cfg.data.normal_class.as_deref().map(|name| class_index(&test, name)).transpose()?;
    let noisy = cfg.train.noise.map(|n| corrupted(&test, &n, cfg.train.seed));
    // A generative model's prior fit also tests codes of its training data.
    let train = match cfg.variant.is_generative() {
        true => Some(super::load_checked_split(&cfg, dir, Split::Train)?),
        false => None,
    };
    let visitor = TestMetrics { test: &test, noisy: noisy.as_ref(), normal, opts: *opts, train: train.as_ref() };
    let (m, recon) = cfg.load_model(dir, visitor)?;
    with_point_auroc(&cfg, m, &recon, &test, Split::Test)
}

/// Fails when the reconstructions were not finite (NaN or infinite weights): metrics of `null`
/// must not be written, nor put in a model card.
fn finite(m: &Metrics, dir: &Path) -> Result<()> {
    if m.test_mse.is_finite() && m.test_loss.is_finite() {
        return Ok(());
    }
    Err(crate::Error::format(
        dir.join(crate::model_dir::WEIGHTS),
        format!(
            "the reconstructions are not finite (test MSE {}, loss {}): the weights hold NaN or infinite values; \
             train the model again",
            m.test_mse, m.test_loss
        ),
    ))
}

/// Adds `test_point_auroc` for a model of windows of a labelled series with a normal class.
fn with_point_auroc(cfg: &RunConfig, mut m: Metrics, recon: &[f32], test: &Dataset, split: Split) -> Result<Metrics> {
    if let (Some(w), Some(normal)) = (&cfg.data.source.window, &cfg.data.normal_class) {
        let rows = cfg.data.load_rows(split)?.data;
        m.test_point_auroc = point_auroc(w, recon, test, &rows, normal);
    }
    Ok(m)
}

/// The model in `dir` evaluated on another data source (`--input`), read as its training data
/// was (same columns by name, image size, normalisation); writes nothing.
pub fn input_metrics(dir: &Path, input: &DataSource) -> Result<Metrics> {
    let cfg = RunConfig::load(dir)?;
    let test = super::load_checked_input(&cfg, dir, input)?;
    let labelled = cfg.data.normal_class.as_deref().filter(|_| test.labels.is_some());
    let normal = labelled.map(|name| class_index(&test, name)).transpose()?;
    let noisy = cfg.train.noise.map(|n| corrupted(&test, &n, cfg.train.seed));
    let opts = EvalOptions::default();
    let m = cfg.load_model(dir, TestMetrics { test: &test, noisy: noisy.as_ref(), normal, opts, train: None })?.0;
    finite(&m, dir)?;
    Ok(m)
}

/// A copy of `data` with `noise` applied, the same for the same `seed` (evaluation of a
/// denoising model).
pub fn corrupted(data: &Dataset, noise: &InputNoise, seed: u64) -> Dataset {
    let mut out = data.clone();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7E57_5EED);
    noise.corrupt(&mut out.samples, data.sample_len(), &mut rng);
    out
}

/// Test codes (and prior draws, and training codes) of the MMD test of a model with a prior:
/// 2,000 drawn at random, as in the AAE's evaluation here.
pub const PRIOR_FIT_SAMPLES: usize = 2000;

/// Test samples the Jacobian statistics are measured on: one reverse-mode pass per code unit
/// each, a few seconds for the conv model.
pub const JACOBIAN_SAMPLES: usize = 1000;

/// The σ of the noise of the code-sensitivity measure: 5 % of a [0, 1] pixel range, small
/// enough to probe the encoder locally.
pub const SENSITIVITY_SIGMA: f32 = 0.05;

/// Reconstruction metrics of `model` on `test`, reading `noisy` (a corrupted copy of `test`,
/// for a denoising model) when given; with `normal` (a class index), also the AUROC of
/// reconstruction error as a detector of the other classes. Also the code's sparsity and the
/// encoder's Jacobian statistics, and for denoised images SSIM and the median-filter baseline.
pub fn metrics_of<M: Autoencoder>(
    model: &M,
    test: &Dataset,
    noisy: Option<&Dataset>,
    normal: Option<u32>,
) -> Result<Metrics> {
    metrics_with(model, test, noisy, normal, &EvalOptions::default())
}

/// [`metrics_of`] with options; a latent-variable model (VAE) also gets its bounds on the
/// clean test data ([`VariationalStats`](crate::train::VariationalStats)).
pub fn metrics_with<M: Autoencoder>(
    model: &M,
    test: &Dataset,
    noisy: Option<&Dataset>,
    normal: Option<u32>,
    opts: &EvalOptions,
) -> Result<Metrics> {
    TestMetrics { test, noisy, normal, opts: *opts, train: None }.of(model)
}

impl TestMetrics<'_> {
    /// [`metrics_with`], the prior fit also on the training data when given.
    fn of<M: Autoencoder>(&self, model: &M) -> Result<Metrics> {
        let (test, noisy, normal, opts) = (self.test, self.noisy, self.normal, &self.opts);
        let input = noisy.unwrap_or(test);
        let recon = reconstruct_all(model, input, 512);
        let (test_loss, _, _) = evaluate_loss_of(model, input, test, 512)?;
        let mut metrics = Metrics::from_reconstructions(&test.samples, &recon, test.len(), test_loss);
        if let Some(k) = normal {
            metrics.test_auroc = normal_vs_rest_auroc(&recon, test, k);
        }
        metrics.code = Some(code_stats(&encode_all(model, test, 512), model.code_len()));
        metrics.jacobian = Some(jacobian_stats(model, test, JACOBIAN_SAMPLES, SENSITIVITY_SIGMA, 0x5E45_171E));
        metrics.variational = variational_stats(model, test, opts.iw_samples, 512, 0x1_4AE5);
        metrics.prior_fit = prior_fit(model, test, self.train, PRIOR_FIT_SAMPLES, 0x9_A1E);
        if let Some(noisy) = noisy {
            denoising_metrics(&mut metrics, test, noisy, &recon);
        }
        Ok(metrics)
    }
}

/// PSNR and SSIM of the corrupted inputs, of their 3×3 median filter and (SSIM) of the
/// reconstructions; the SSIMs for images only.
fn denoising_metrics(m: &mut Metrics, test: &Dataset, noisy: &Dataset, recon: &[f32]) {
    let psnr = |pred: &[f32]| Metrics::from_reconstructions(&test.samples, pred, test.len(), f64::NAN).test_psnr;
    m.test_psnr_input = Some(psnr(&noisy.samples));
    let [c, h, w] = match test.shape.as_slice() {
        &[c, h, w] => [c, h, w],
        _ => return,
    };
    let range = if test.value_range().0 >= 0.0 && test.value_range().1 <= 1.0 {
        1.0
    } else {
        (test.value_range().1 - test.value_range().0) as f64
    };
    let median = quality::median_all(&noisy.samples, [c, h, w]);
    m.test_psnr_median = Some(psnr(&median));
    let ssim = |pred: &[f32]| quality::mean_ssim(&test.samples, pred, [c, h, w], range);
    (m.test_ssim, m.test_ssim_input, m.test_ssim_median) = (ssim(recon), ssim(&noisy.samples), ssim(&median));
}

struct TestMetrics<'a> {
    test: &'a Dataset,
    noisy: Option<&'a Dataset>,
    normal: Option<u32>,
    opts: EvalOptions,
    /// The training split, for a generative model's prior fit.
    train: Option<&'a Dataset>,
}

impl ModelVisitor for TestMetrics<'_> {
    type Output = (Metrics, Vec<f32>);
    fn visit<M: Autoencoder>(self, model: M) -> Result<(Metrics, Vec<f32>)> {
        let m = self.of(&model)?;
        Ok((m, reconstruct_all(&model, self.noisy.unwrap_or(self.test), 512)))
    }
}

/// Metrics over a test part streamed from disk, a chunk at a time.
struct StreamedMetrics<'a> {
    test: &'a ParquetStream,
    noise: Option<InputNoise>,
    seed: u64,
}

impl ModelVisitor for StreamedMetrics<'_> {
    type Output = Metrics;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Metrics> {
        let mut sums = MetricSums::default();
        for (i, chunk) in self.test.chunks_in_order().enumerate() {
            let chunk = chunk?;
            super::check_len(&model, &chunk)?;
            let noisy = self.noise.map(|n| corrupted(&chunk, &n, self.seed ^ i as u64));
            let input = noisy.as_ref().unwrap_or(&chunk);
            let recon = reconstruct_all(&model, input, 512);
            let (loss, _, _) = evaluate_loss_of(&model, input, &chunk, 512)?;
            sums.add(&chunk.samples, &recon, chunk.len(), loss);
        }
        Ok(sums.finish())
    }
}

/// Loads the config and weights in `dir`, checking every tensor, and describes the model.
pub fn check_model(dir: &Path) -> Result<String> {
    let cfg = RunConfig::load(dir)?;
    let n = cfg.load_model(dir, CountParams)?;
    Ok(format!("{} ({n} parameters), trained on {}", cfg.describe(), cfg.data.dataset))
}

struct CountParams;

impl ModelVisitor for CountParams {
    type Output = usize;
    fn visit<M: Autoencoder>(self, model: M) -> Result<usize> {
        Ok(model.num_params())
    }
}
