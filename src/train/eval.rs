use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::models::Autoencoder;
use crate::nn::Dev;
use crate::Result;

/// Mean loss `(total, recon, reg)` over `data`, without recording gradients.
pub fn evaluate_loss<M: Autoencoder>(model: &M, data: &Dataset, batch: usize) -> Result<(f64, f64, f64)> {
    let dev = Dev::default();
    let (mut t, mut r, mut g) = (0.0, 0.0, 0.0);
    for b in data.batches(batch) {
        let x = dev.tensor_from_vec(b.x.to_vec(), model.input_shape(b.n));
        let parts = model.loss(x.clone(), x);
        let n = b.n as f64;
        t += parts.total.array() as f64 * n;
        r += parts.recon as f64 * n;
        g += parts.reg as f64 * n;
    }
    let n = data.len().max(1) as f64;
    Ok((t / n, r / n, g / n))
}

/// Every sample's reconstruction, flattened like `data.samples`.
pub fn reconstruct_all<M: Autoencoder>(model: &M, data: &Dataset, batch: usize) -> Vec<f32> {
    let dev = Dev::default();
    let mut out = Vec::with_capacity(data.samples.len());
    for b in data.batches(batch) {
        let x = dev.tensor_from_vec(b.x.to_vec(), model.input_shape(b.n));
        out.extend(model.reconstruct(x).as_vec());
    }
    out
}

/// Every sample's code, `data.len() × model.code_len()` values.
pub fn encode_all<M: Autoencoder>(model: &M, data: &Dataset, batch: usize) -> Vec<f32> {
    let dev = Dev::default();
    let mut out = Vec::with_capacity(data.len() * model.code_len());
    for b in data.batches(batch) {
        let x = dev.tensor_from_vec(b.x.to_vec(), model.input_shape(b.n));
        out.extend(model.encode(x).as_vec());
    }
    out
}

/// Reconstruction quality on a test split, as written to `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The model's own training loss on the test split.
    pub test_loss: f64,
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_known_reconstructions() {
        let m = Metrics::from_reconstructions(&[0.0, 1.0], &[0.1, 0.9], 1, 0.0);
        assert!((m.test_mse - 0.01).abs() < 1e-7);
        assert!((m.test_psnr - 20.0).abs() < 1e-4);
        assert!((m.test_bce.unwrap() - -(0.9f64.ln())).abs() < 1e-6);
        assert_eq!(Metrics::from_reconstructions(&[-1.0, 1.0], &[-1.0, 1.0], 1, 0.0).test_bce, None);
    }
}
