use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::models::Autoencoder;
use crate::nn::Dev;
use crate::Result;

/// Mean loss `(total, recon, reg)` over `data`, without recording gradients.
pub fn evaluate_loss<M: Autoencoder>(model: &M, data: &Dataset, batch: usize) -> Result<(f64, f64, f64)> {
    evaluate_loss_of(model, data, data, batch)
}

/// Mean loss `(total, recon, reg)` of reconstructing `target` from `input` (a corrupted copy
/// of it, for a denoising model), without recording gradients.
pub fn evaluate_loss_of<M: Autoencoder>(
    model: &M,
    input: &Dataset,
    target: &Dataset,
    batch: usize,
) -> Result<(f64, f64, f64)> {
    if input.samples.len() != target.samples.len() {
        return Err(crate::Error::config("input", "the corrupted and the clean data differ in size"));
    }
    let dev = Dev::default();
    let (mut t, mut r, mut g) = (0.0, 0.0, 0.0);
    for (bi, bt) in input.batches(batch).zip(target.batches(batch)) {
        let x = dev.tensor_from_vec(bi.x.to_vec(), model.input_shape(bi.n));
        let y = dev.tensor_from_vec(bt.x.to_vec(), model.input_shape(bt.n));
        let parts = model.loss(x, y);
        let n = bi.n as f64;
        t += parts.total.array() as f64 * n;
        r += parts.recon as f64 * n;
        g += parts.reg as f64 * n;
    }
    let n = target.len().max(1) as f64;
    Ok((t / n, r / n, g / n))
}

/// Every sample's reconstruction, flattened like `data.samples`.
pub fn reconstruct_all<M: Autoencoder>(model: &M, data: &Dataset, batch: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.samples.len());
    if let Some(mut frozen) = model.inference() {
        // On the pool, like training: see `nn::on_pool`.
        crate::nn::on_pool(|| data.batches(batch).for_each(|b| frozen.reconstruct_into(b.x, b.n, &mut out)));
        return out;
    }
    let dev = Dev::default();
    for b in data.batches(batch) {
        let x = dev.tensor_from_vec(b.x.to_vec(), model.input_shape(b.n));
        out.extend(model.reconstruct(x).as_vec());
    }
    out
}

/// Every sample's code, `data.len() × model.code_len()` values.
pub fn encode_all<M: Autoencoder>(model: &M, data: &Dataset, batch: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len() * model.code_len());
    if let Some(mut frozen) = model.inference() {
        crate::nn::on_pool(|| data.batches(batch).for_each(|b| frozen.encode_into(b.x, b.n, &mut out)));
        return out;
    }
    let dev = Dev::default();
    for b in data.batches(batch) {
        let x = dev.tensor_from_vec(b.x.to_vec(), model.input_shape(b.n));
        out.extend(model.encode(x).as_vec());
    }
    out
}

/// Mean squared reconstruction error of each sample: the anomaly score.
pub fn reconstruction_errors<M: Autoencoder>(model: &M, data: &Dataset, batch: usize) -> Vec<f64> {
    per_sample_errors(&reconstruct_all(model, data, batch), data)
}

/// Mean squared error of each sample of `data` against its reconstruction in `recon`.
pub fn per_sample_errors(recon: &[f32], data: &Dataset) -> Vec<f64> {
    let d = data.sample_len();
    recon
        .chunks(d)
        .zip(data.samples.chunks(d))
        .map(|(r, x)| r.iter().zip(x).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>() / d as f64)
        .collect()
}

/// The median of `v` — how studies over seeds report (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Area under the ROC curve of `scores` for telling `positive` samples from the rest: the
/// probability that a random positive scores above a random negative (ties count half), by
/// the rank-sum (Mann–Whitney U) formula. `None` unless both groups are present.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len());
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average 1-based ranks over runs of equal scores.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j + 2) as f64 / 2.0;
        rank_sum_pos += order[i..=j].iter().filter(|&&k| positive[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// The ROC curve of `scores` for telling `positive` samples from the rest: `(false positive
/// rate, true positive rate)` at every threshold, from (0, 0) to (1, 1).
pub fn roc_curve(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let n_pos = positive.iter().filter(|&&p| p).count().max(1) as f64;
    let n_neg = positive.iter().filter(|&&p| !p).count().max(1) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a])); // highest score first
    let (mut tp, mut fp, mut curve) = (0.0, 0.0, vec![(0.0, 0.0)]);
    for (i, &k) in order.iter().enumerate() {
        if positive[k] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // One point per distinct threshold.
        if order.get(i + 1).is_none_or(|&next| scores[next] != scores[k]) {
            curve.push((fp / n_neg, tp / n_pos));
        }
    }
    curve
}

/// The precision–recall curve of `scores` for finding the `positive` samples: `(recall,
/// precision)` at every distinct threshold, highest first.
pub fn pr_curve(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let n_pos = positive.iter().filter(|&&p| p).count().max(1) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut curve) = (0.0, Vec::new());
    for (i, &k) in order.iter().enumerate() {
        if positive[k] {
            tp += 1.0;
        }
        if order.get(i + 1).is_none_or(|&next| scores[next] != scores[k]) {
            curve.push((tp / n_pos, tp / (i + 1) as f64));
        }
    }
    curve
}

/// Average precision of `scores` for finding the `positive` samples: the precision at each
/// distinct threshold weighted by the recall it adds, Σ (Rₙ − Rₙ₋₁) Pₙ (scikit-learn's
/// `average_precision_score`, ties grouped). `None` without positives.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len());
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a])); // highest score first
    let (mut tp, mut ap, mut last_recall) = (0.0, 0.0, 0.0);
    for (i, &k) in order.iter().enumerate() {
        if positive[k] {
            tp += 1.0;
        }
        if order.get(i + 1).is_none_or(|&next| scores[next] != scores[k]) {
            let recall = tp / n_pos as f64;
            ap += (recall - last_recall) * tp / (i + 1) as f64;
            last_recall = recall;
        }
    }
    Some(ap)
}

/// Reconstruction quality on a test split, as written to `metrics.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Samples evaluated.
    pub n_test: usize,
    /// Mean squared error per element, in the model's (normalised) units.
    pub test_mse: f64,
    /// Mean per-element binary cross-entropy, with predictions clipped to [1e-7, 1 − 1e-7]
    /// as Keras does; `null` when the data is not in [0, 1].
    pub test_bce: Option<f64>,
    /// Peak signal-to-noise ratio in dB, `10·log10(peak² / mse)`; the peak is 1 for data in
    /// [0, 1], else the test data's value range.
    pub test_psnr: f64,
    /// The model's own loss ([`Autoencoder::loss`]) on the test split: its reconstruction
    /// loss (without the `--sparsity` or `--contractive` penalty a model was trained with), or
    /// a VAE's negative ELBO in nats per sample (one `z` drawn per sample, seeded).
    pub test_loss: f64,
    /// For a model trained on one class only (`--normal-class`): the area under the ROC curve
    /// of per-sample reconstruction error as a score separating the other classes (anomalies)
    /// from that class on the test split. 0.5 is chance, 1 a perfect separation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_auroc: Option<f64>,
    /// For a model of windows of a series (`--window`) with a `normal_class`: the AUROC of the
    /// per-time-point score (the mean error of the windows covering each point) as a detector
    /// of the points of the other classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_point_auroc: Option<f64>,
    /// For a denoising model (`--noise`): the PSNR of the corrupted test inputs against the
    /// clean ones, in dB — what the reconstruction's `test_psnr` improves on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_psnr_input: Option<f64>,
    /// For a denoising model of images: the mean SSIM of the reconstructions (read from the
    /// corrupted inputs) against the clean images (see [`super::quality::ssim`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_ssim: Option<f64>,
    /// For a denoising model of images: the mean SSIM of the corrupted inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_ssim_input: Option<f64>,
    /// For a denoising model of images: the PSNR of a 3×3 median filter of the corrupted
    /// inputs, the classical baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_psnr_median: Option<f64>,
    /// For a denoising model of images: the mean SSIM of the median-filtered inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_ssim_median: Option<f64>,
    /// How sparse the test split's codes are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeStats>,
    /// How sensitive the codes are to the input (what a contractive penalty lowers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jacobian: Option<JacobianStats>,
    /// For a latent-variable model (a VAE): its bound on the test data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variational: Option<VariationalStats>,
    /// For a model with a prior (an AAE, a VAE): how well its test codes match the prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_fit: Option<PriorFit>,
    /// How good the model's generated samples are (`eval --sample-quality`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_quality: Option<super::sample_quality::SampleQuality>,
}

/// A latent-variable model's bounds on the test split, in nats per sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VariationalStats {
    /// The negative ELBO, `recon + kl` (β = 1 whatever the model trained with), one `z ~ q(z|x)`
    /// per sample.
    pub neg_elbo: f64,
    /// Its reconstruction term `−log p(x|z)`.
    pub recon: f64,
    /// Its KL term `KL(q(z|x) ‖ p(z))` (closed form).
    pub kl: f64,
    /// Code units in use: those whose posterior mean varies over the test data,
    /// `Cov_x(E_q[z_j]) > 0.01` (Burda et al. 2016).
    pub active_units: usize,
    /// The importance-weighted estimate of `log p(x)` (IWAE bound) with `iw_samples` draws
    /// per sample; `null` when not computed (`--iw-samples 0`).
    pub iw_log_px: Option<f64>,
    /// Its standard error over the test samples.
    pub iw_log_px_stderr: Option<f64>,
    /// The draws per sample of `iw_log_px`.
    pub iw_samples: usize,
}

/// How well a model's codes of test data match its prior: the MMD two-sample test between
/// them, beside the same test between two independent prior samples (what a perfect match
/// scores with samples this size). Given the training data, also where the gap comes from:
/// training codes against the prior (what the model was fitted to match) and test codes
/// against training codes (what even a perfect match on the training data would leave).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PriorFit {
    /// Codes and prior draws on each side.
    pub samples: usize,
    /// The test of the codes (a VAE's: the means μ) against prior draws.
    pub codes: super::sample_quality::MmdTest,
    /// The test of two independent prior samples: the reference.
    pub reference: super::sample_quality::MmdTest,
    /// The test of as many training codes against the same prior draws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_codes: Option<super::sample_quality::MmdTest>,
    /// The test of the test codes against the training codes: how differently the model
    /// encodes data it has not seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_vs_train: Option<super::sample_quality::MmdTest>,
}

/// [`PriorFit`] of `model` on `n` samples of `data` drawn at random (`None` without a
/// prior), with 200 permutations; the draws come from `seed`. With `train`, as many of its
/// samples' codes are tested too.
///
/// The samples are drawn, not the first `n`: splits are not always in random order. MNIST's
/// test split holds its cleaner half first; for one AAE the first 2,000 test codes scored an
/// MMD² to the prior of 0.020, 2,000 drawn from the whole split 0.0099.
pub fn prior_fit<M: Autoencoder>(
    model: &M,
    data: &Dataset,
    train: Option<&Dataset>,
    n: usize,
    seed: u64,
) -> Option<PriorFit> {
    use super::sample_quality::mmd_test;
    let prior = model.prior()?;
    let draw = |d: &Dataset, stream: u64| {
        let mut idx: Vec<usize> = (0..d.len()).collect();
        rand::seq::SliceRandom::shuffle(&mut idx[..], &mut StdRng::seed_from_u64(seed ^ stream));
        idx.truncate(n);
        encode_all(model, &d.subset(&idx), 512)
    };
    let codes = draw(data, 0x7E57);
    let k = model.code_len();
    let n = codes.len() / k.max(1);
    let (a, b) = (prior.sample_seeded(n, seed), prior.sample_seeded(n, seed ^ 0xB0B));
    let train = train.map(|t| draw(t, 0x7EA1));
    Some(PriorFit {
        samples: n,
        codes: mmd_test(&codes, &a, k, 200, seed),
        reference: mmd_test(&b, &a, k, 200, seed),
        train_codes: train.as_ref().map(|t| mmd_test(t, &a, k, 200, seed)),
        test_vs_train: train.as_ref().map(|t| mmd_test(&codes, t, k, 200, seed)),
    })
}

/// Mixed into the seed of the IWAE's draws, so that they are independent of the ELBO's.
const IWAE_STREAM: u64 = 0x1_4AE5_D2A5;

/// The variance above which a code unit counts as active (Burda et al. 2016).
pub const ACTIVE_UNIT_VARIANCE: f64 = 0.01;

/// The bounds of a latent-variable model over all of `data` (in batches of `batch`), with `k`
/// importance draws per sample (0: no IWAE estimate); `None` for other models. Draws come from
/// `seed`: the same numbers every run.
pub fn variational_stats<M: Autoencoder>(
    model: &M,
    data: &Dataset,
    k: usize,
    batch: usize,
    seed: u64,
) -> Option<VariationalStats> {
    let (mut recon, mut kl, mut iw, mut iw_sq) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    // The ELBO from a pass of its own: sharing the IWAE's draws (and its smaller batches) made
    // the ELBO move with the number of IWAE draws asked for.
    for bound in latent_bounds_all(model, data, 0, batch, seed)? {
        recon += bound.recon;
        kl += bound.kl;
    }
    if k > 0 {
        for bound in latent_bounds_all(model, data, k, batch, seed ^ IWAE_STREAM)? {
            iw += bound.log_px;
            iw_sq += bound.log_px * bound.log_px;
        }
    }
    let n = data.len().max(1) as f64;
    let codes = encode_all(model, data, 512);
    let width = model.code_len();
    let active_units = (0..width)
        .filter(|&j| {
            let column = codes.iter().skip(j).step_by(width).map(|&v| v as f64);
            let (sum, sq) = column.fold((0.0, 0.0), |(s, q), v| (s + v, q + v * v));
            sq / n - (sum / n).powi(2) > ACTIVE_UNIT_VARIANCE
        })
        .count();
    let (mean, var) = (iw / n, (iw_sq / n - (iw / n).powi(2)).max(0.0));
    Some(VariationalStats {
        neg_elbo: (recon + kl) / n,
        recon: recon / n,
        kl: kl / n,
        active_units,
        iw_log_px: (k > 0).then_some(mean),
        iw_log_px_stderr: (k > 0).then(|| (var / n).sqrt()),
        iw_samples: k,
    })
}

/// Each sample's negative bound on `log p(x)` under a latent-variable model, in nats: with
/// `k = 0` the negative ELBO (one `z ~ q(z|x)` and the closed-form KL), else the negative
/// IWAE bound from `k` draws; `None` for other models. Draws come from `seed`. An anomaly
/// score that asks how likely the model finds `x`, not only how well it rebuilds it.
pub fn latent_scores<M: Autoencoder>(model: &M, data: &Dataset, k: usize, batch: usize, seed: u64) -> Option<Vec<f64>> {
    let bounds = latent_bounds_all(model, data, k, batch, seed)?;
    Some(bounds.iter().map(|l| if k == 0 { l.recon + l.kl } else { -l.log_px }).collect())
}

/// [`Autoencoder::latent_bounds`] of every sample of `data`, in order, in batches of `batch`
/// (fewer when `k` draws each multiply the decoder's work); `None` for models without them.
fn latent_bounds_all<M: Autoencoder>(
    model: &M,
    data: &Dataset,
    k: usize,
    batch: usize,
    seed: u64,
) -> Option<Vec<crate::models::LatentBound>> {
    let dev = Dev::default();
    let mut rng = StdRng::seed_from_u64(seed);
    // IWAE's cost is k decoder passes per sample: smaller batches keep the k·batch logits small.
    let batch = if k > 1 { (batch * 8 / k).clamp(32, batch) } else { batch };
    let mut out = Vec::with_capacity(data.len());
    for b in data.batches(batch) {
        let x = dev.tensor_from_vec(b.x.to_vec(), model.input_shape(b.n));
        out.extend(model.latent_bounds(x, k, &mut rng)?);
    }
    Some(out)
}

/// The sparsity of a set of codes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CodeStats {
    /// The mean |value| over every code value (what the Keras blog reports: 3.33 sparse vs
    /// 7.30 plain). Not scale-free: a decoder can undo any rescaling of the code.
    pub mean_abs: f64,
    /// The fraction of code values that are exactly 0 (ReLU codes).
    pub zero_fraction: f64,
    /// The fraction of code values with |value| < 0.01.
    pub small_fraction: f64,
    /// Hoyer's sparsity `(√n − ‖c‖₁/‖c‖₂) / (√n − 1)` of each code (n values), averaged over
    /// the codes that are not all zero: 0 when every value is equal in size, 1 when one is
    /// non-zero; unchanged when the code is rescaled (Hoyer 2004).
    pub hoyer: f64,
}

/// The encoder's Jacobian `J_f(x)` on test samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JacobianStats {
    /// The test samples it was measured on (the first ones).
    pub samples: usize,
    /// The mean of `‖J_f(x)‖_F`, exact (one reverse-mode pass per code unit).
    pub mean_frobenius: f64,
    /// The relative code sensitivity `Σ‖f(x+ε) − f(x)‖ / Σ‖f(x)‖` with `ε ~ N(0, σ²)` per input
    /// value: scale-free, so shrinking the code (and growing the decoder) cannot fake it.
    pub sensitivity: f64,
    /// The σ of that ε, in the data's (normalised) units.
    pub sensitivity_sigma: f64,
}

/// The sparsity statistics of `codes`, `width` values each.
pub fn code_stats(codes: &[f32], width: usize) -> CodeStats {
    let n = codes.len().max(1) as f64;
    let abs_sum: f64 = codes.iter().map(|&v| v.abs() as f64).sum();
    let zeros = codes.iter().filter(|&&v| v == 0.0).count() as f64;
    let small = codes.iter().filter(|&&v| v.abs() < 0.01).count() as f64;
    let root = (width as f64).sqrt();
    let hoyer: Vec<f64> = codes
        .chunks_exact(width.max(1))
        .filter_map(|c| {
            let l1: f64 = c.iter().map(|&v| v.abs() as f64).sum();
            let l2 = c.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            (l2 > 0.0 && width > 1).then(|| (root - l1 / l2) / (root - 1.0))
        })
        .collect();
    let hoyer = if hoyer.is_empty() { 1.0 } else { hoyer.iter().sum::<f64>() / hoyer.len() as f64 };
    CodeStats { mean_abs: abs_sum / n, zero_fraction: zeros / n, small_fraction: small / n, hoyer }
}

/// The exact `‖J_f(x)‖_F` of each of the first `max` samples of `data`: row j of every
/// sample's Jacobian is the input gradient of code unit j (the samples do not interact), so
/// one reverse-mode pass per code unit.
///
/// In a notebook, call it on a model whose ids are fresh ([`crate::nn::Params::refresh_ids`]).
pub fn jacobian_norms<M: Autoencoder>(model: &M, data: &Dataset, max: usize) -> Vec<f64> {
    let dev = Dev::default();
    let (d, k) = (data.sample_len(), model.code_len());
    let mut out = Vec::with_capacity(max.min(data.len()));
    for b in data.batches(64) {
        let n = b.n.min(max - out.len());
        let x = dev.tensor_from_vec(b.x[..n * d].to_vec(), model.input_shape(n));
        let mut sq = vec![0.0f64; n];
        for j in 0..k {
            let code = model.encode(x.clone().traced(Gradients::leaky()));
            let shape = *code.shape();
            let mask: Vec<f32> = (0..shape.num_elements()).map(|i| if i % k == j { 1.0 } else { 0.0 }).collect();
            let grads = (code * dev.tensor_from_vec(mask, shape)).sum::<Rank0, _>().backward();
            let gx = grads.get(&x).as_vec();
            sq.iter_mut()
                .zip(gx.chunks_exact(d))
                .for_each(|(s, g)| *s += g.iter().map(|&v| (v as f64).powi(2)).sum::<f64>());
        }
        out.extend(sq.into_iter().map(f64::sqrt));
        if out.len() >= max {
            break;
        }
    }
    out
}

/// [`JacobianStats`] on the first `max` samples of `data`, the noise seeded by `seed`.
pub fn jacobian_stats<M: Autoencoder>(model: &M, data: &Dataset, max: usize, sigma: f32, seed: u64) -> JacobianStats {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let norms = jacobian_norms(model, data, max);
    let n = norms.len();
    let clean = data.take(n);
    let mut noisy = clean.clone();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    noisy
        .samples
        .iter_mut()
        .for_each(|v| *v += sigma * <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut rng));
    let (a, b) = (encode_all(model, &clean, 256), encode_all(model, &noisy, 256));
    let k = model.code_len().max(1);
    let (mut moved, mut size) = (0.0, 0.0);
    for (ca, cb) in a.chunks_exact(k).zip(b.chunks_exact(k)) {
        moved += ca.iter().zip(cb).map(|(p, q)| ((p - q) as f64).powi(2)).sum::<f64>().sqrt();
        size += ca.iter().map(|&p| (p as f64).powi(2)).sum::<f64>().sqrt();
    }
    JacobianStats {
        samples: n,
        mean_frobenius: norms.iter().sum::<f64>() / n.max(1) as f64,
        sensitivity: moved / size,
        sensitivity_sigma: sigma as f64,
    }
}

/// [`Metrics`] accumulated chunk by chunk, for test sets streamed from disk: the same
/// numbers as [`Metrics::from_reconstructions`] on the whole set (up to summation order).
#[derive(Debug, Clone, Default)]
pub struct MetricSums {
    sq: f64,
    bce: f64,
    loss: f64,
    values: usize,
    samples: usize,
    lo: f32,
    hi: f32,
}

impl MetricSums {
    /// Adds one chunk: its targets, reconstructions, and mean loss over its `samples`.
    pub fn add(&mut self, target: &[f32], pred: &[f32], samples: usize, mean_loss: f64) {
        if self.values == 0 {
            (self.lo, self.hi) = (f32::INFINITY, f32::NEG_INFINITY);
        }
        for (&t, &p) in target.iter().zip(pred) {
            self.sq += ((t - p) as f64).powi(2);
            let q = (p as f64).clamp(1e-7, 1.0 - 1e-7);
            self.bce -= t as f64 * q.ln() + (1.0 - t as f64) * (1.0 - q).ln();
            self.lo = self.lo.min(t);
            self.hi = self.hi.max(t);
        }
        self.values += target.len();
        self.samples += samples;
        self.loss += mean_loss * samples as f64;
    }

    /// The metrics of everything added.
    pub fn finish(&self) -> Metrics {
        let n = self.values.max(1) as f64;
        let mse = self.sq / n;
        let unit = self.lo >= 0.0 && self.hi <= 1.0;
        let peak = if unit { 1.0 } else { (self.hi - self.lo) as f64 };
        Metrics {
            n_test: self.samples,
            test_mse: mse,
            test_bce: unit.then_some(self.bce / n),
            test_psnr: 10.0 * (peak * peak / mse).log10(),
            test_loss: self.loss / self.samples.max(1) as f64,
            test_auroc: None,
            test_point_auroc: None,
            test_psnr_input: None,
            ..Default::default()
        }
    }
}

impl Metrics {
    /// Evaluates `model` on `test` (already normalised).
    pub fn compute<M: Autoencoder>(model: &M, test: &Dataset) -> Result<Self> {
        let recon = reconstruct_all(model, test, 512);
        let (test_loss, _, _) = evaluate_loss(model, test, 512)?;
        Ok(Self::from_reconstructions(&test.samples, &recon, test.len(), test_loss))
    }

    /// The metrics of reconstructions `pred` of `target` (same length).
    pub fn from_reconstructions(target: &[f32], pred: &[f32], n_samples: usize, test_loss: f64) -> Self {
        let n = target.len().max(1) as f64;
        let mse = target.iter().zip(pred).map(|(&t, &p)| ((t - p) as f64).powi(2)).sum::<f64>() / n;
        let (lo, hi) = target.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let unit = lo >= 0.0 && hi <= 1.0;
        let bce = unit.then(|| {
            target
                .iter()
                .zip(pred)
                .map(|(&t, &p)| {
                    let p = (p as f64).clamp(1e-7, 1.0 - 1e-7);
                    -(t as f64 * p.ln() + (1.0 - t as f64) * (1.0 - p).ln())
                })
                .sum::<f64>()
                / n
        });
        let peak = if unit { 1.0 } else { (hi - lo) as f64 };
        Self {
            n_test: n_samples,
            test_mse: mse,
            test_bce: bce,
            test_psnr: 10.0 * (peak * peak / mse).log10(),
            test_loss,
            test_auroc: None,
            test_point_auroc: None,
            test_psnr_input: None,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A split ordered by cluster (like MNIST's test split, cleaner half first) must be
    /// sampled, not cut: the first 200 of a split and the first 200 of the same split reversed
    /// are different clusters, random draws of either are alike.
    #[test]
    fn the_prior_fit_draws_its_samples_from_the_whole_split() {
        use crate::models::dense::{Dense1, DenseConfig};
        use crate::models::{Aae, AaeConfig};
        let dev = Dev::seed_from_u64(2);
        let backbone = Dense1::new(&dev, &DenseConfig::shallow(6, 2).with_hidden(&[8])).unwrap();
        let model = Aae::new(&dev, backbone, AaeConfig::default());
        let sample = |i: usize| (0..6).map(move |j| if i < 500 { 0.1 * j as f32 } else { 1.0 - 0.1 * j as f32 });
        let ordered: Vec<f32> = (0..1000).flat_map(sample).collect();
        let reversed: Vec<f32> = (0..1000).rev().flat_map(sample).collect();
        let data = |v: Vec<f32>| Dataset::new("clusters", v, vec![6], None, vec![]).unwrap();
        let fit = prior_fit(&model, &data(ordered), Some(&data(reversed)), 200, 7).unwrap();
        let shift = fit.test_vs_train.unwrap();
        assert!(shift.p_value > 0.01, "the same split's codes told apart: {shift:?}");
        assert_eq!(fit.samples, 200);
    }

    #[test]
    fn metrics_of_known_reconstructions() {
        let m = Metrics::from_reconstructions(&[0.0, 1.0], &[0.1, 0.9], 1, 0.0);
        assert!((m.test_mse - 0.01).abs() < 1e-7);
        assert!((m.test_psnr - 20.0).abs() < 1e-4);
        assert!((m.test_bce.unwrap() - -(0.9f64.ln())).abs() < 1e-6);
        assert_eq!(Metrics::from_reconstructions(&[-1.0, 1.0], &[-1.0, 1.0], 1, 0.0).test_bce, None);
    }

    #[test]
    fn average_precision_matches_scikit_learn() {
        // sklearn.metrics.average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333…
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert!((ap - 5.0 / 6.0).abs() < 1e-12, "{ap}");
        // Ties count as one threshold: ([1, 0, 1], [0.5, 0.5, 0.5]) = 2/3, the positive rate.
        let tied = average_precision(&[0.5; 3], &[true, false, true]).unwrap();
        assert!((tied - 2.0 / 3.0).abs() < 1e-12, "{tied}");
        assert_eq!(average_precision(&[0.5, 0.1], &[true, true]), Some(1.0));
        assert_eq!(average_precision(&[0.5, 0.1], &[false, false]), None);
    }

    #[test]
    fn roc_auc_counts_ordered_pairs_and_half_ties() {
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        // pairs (pos, neg): (0.5, 0.1) win, (0.5, 0.5) tie, (0.3, 0.1) win, (0.3, 0.5) loss → 2.5 / 4
        assert_eq!(roc_auc(&[0.5, 0.3, 0.1, 0.5], &[true, true, false, false]), Some(0.625));
        assert_eq!(roc_auc(&[0.5, 0.3], &[true, true]), None);
        let curve = roc_curve(&[0.5, 0.3, 0.1, 0.5], &[true, true, false, false]);
        assert_eq!(curve, vec![(0.0, 0.0), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]);
        // The area under the drawn curve is the AUC.
        let area: f64 = curve.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum();
        assert!((area - 0.625).abs() < 1e-12);
    }
}
