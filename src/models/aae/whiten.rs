//! Code whitening for an adversarial autoencoder with a Gaussian prior (`--whiten-codes`).
//!
//! The adversarial game matches the codes' distribution only roughly: on MNIST (784→400→8,
//! ten epochs) the training codes keep means up to 0.55 from zero and standard deviations of
//! 0.76–0.87, and those first two moments are most of their MMD² to `N(0, I)`. They can be
//! matched exactly instead. At the end of training the code layer is refitted so that the
//! training codes have mean 0 and covariance I, `z' = W (z − m)` with the symmetric (ZCA)
//! `W = C^{-1/2}`, and the decoder's first layer takes the inverse, `z = W⁻¹ z' + m`: both
//! are affine maps folded into the two dense layers beside the code, so reconstructions are
//! unchanged (to rounding). It matches the prior's moments, not the digits: prior draws land
//! more often between the clusters of codes, and the samples' Fréchet distance rose on MNIST
//! (63 → 121 for 784→400→8; README, "Adversarial autoencoder").
//!
//! Once, not after every epoch: whitening each epoch upset the game (the 784→1000→1000→8
//! model diverged in epoch 9; the 784→400→8 one ended at test BCE 0.226 against 0.205, its
//! samples' Fréchet distance 147 against 63).

use nalgebra::{DMatrix, DVector};

use crate::nn::Params;
use crate::{Error, Result};

/// Training samples the moments are estimated on (an 8×8 covariance from 10,000 codes has
/// entries within about ±0.01 of the truth).
pub const WHITEN_SAMPLES: usize = 10_000;

/// Variances below this are raised to it: a unit the encoder stopped using is scaled up at
/// most 1,000×, not divided by zero.
const MIN_VARIANCE: f64 = 1e-6;

/// The affine map `z' = w (z − mean)` that whitens a sample of codes, and its inverse.
#[derive(Debug, Clone, PartialEq)]
pub struct Whitening {
    /// The codes' mean.
    pub mean: DVector<f64>,
    /// `C^{-1/2}` (symmetric).
    pub w: DMatrix<f64>,
    /// `C^{1/2}`: `z = w_inv z' + mean`.
    pub w_inv: DMatrix<f64>,
}

impl Whitening {
    /// The ZCA whitening of `codes` (rows of `k` values).
    pub fn fit(codes: &[f32], k: usize) -> Self {
        let n = codes.len() / k.max(1);
        let z = DMatrix::from_row_iterator(n, k, codes.iter().map(|&v| v as f64));
        let mean = DVector::from_iterator(k, z.column_iter().map(|c| c.mean()));
        let mut centred = z;
        for mut row in centred.row_iter_mut() {
            row -= mean.transpose();
        }
        let cov = centred.transpose() * &centred / (n.max(2) - 1) as f64;
        let eig = cov.symmetric_eigen();
        let scale = |f: fn(f64) -> f64| {
            let d = DMatrix::from_diagonal(&eig.eigenvalues.map(|l| f(l.max(MIN_VARIANCE))));
            &eig.eigenvectors * d * eig.eigenvectors.transpose()
        };
        Self { w: scale(|l| 1.0 / l.sqrt()), w_inv: scale(f64::sqrt), mean }
    }

    /// Folds the map into `model`: the code layer (the last encoder weight with `k` rows, and
    /// its bias) becomes `W·We, W(be − m)`; the decoder's first layer (the first decoder weight
    /// with `k` columns) becomes `Wd·W⁻¹, bd + Wd·m`.
    pub fn fold_into<M: Params + ?Sized>(&self, model: &mut M) -> Result<()> {
        let k = self.mean.len();
        let (enc, dec) = code_layers(model, k)?;
        let mut values = std::collections::BTreeMap::new();
        model.visit("", &mut |name, p| {
            if [&enc, &dec].iter().any(|l| name == format!("{l}.weight") || name == format!("{l}.bias")) {
                values.insert(name, (p.dims(), p.values()));
            }
        });
        let get = |name: String| values.get(&name).cloned().ok_or_else(|| missing(&name));
        let (we, be) = (get(format!("{enc}.weight"))?, get(format!("{enc}.bias"))?);
        let (wd, bd) = (get(format!("{dec}.weight"))?, get(format!("{dec}.bias"))?);
        let we = DMatrix::from_row_iterator(k, we.0[1], we.1.iter().map(|&v| v as f64));
        let be = DVector::from_iterator(k, be.1.iter().map(|&v| v as f64));
        let wd = DMatrix::from_row_iterator(wd.0[0], k, wd.1.iter().map(|&v| v as f64));
        let bd = DVector::from_iterator(bd.1.len(), bd.1.iter().map(|&v| v as f64));
        let new: [(String, Vec<f32>); 4] = [
            (format!("{enc}.weight"), row_major(&(&self.w * we))),
            (format!("{enc}.bias"), column(&(&self.w * (be - &self.mean)))),
            (format!("{dec}.weight"), row_major(&(&wd * &self.w_inv))),
            (format!("{dec}.bias"), column(&(bd + &wd * &self.mean))),
        ];
        model.visit_mut("", &mut |name, p| {
            if let Some((_, v)) = new.iter().find(|(n, _)| *n == name) {
                p.set_values(v);
            }
        });
        Ok(())
    }
}

/// The names of the code layer (the last encoder weight with `k` rows) and of the decoder's
/// first layer (the first decoder weight with `k` columns), without `.weight`.
fn code_layers<M: Params + ?Sized>(model: &M, k: usize) -> Result<(String, String)> {
    let (mut enc, mut dec) = (None, None);
    model.visit("", &mut |name, p| {
        let Some(layer) = name.strip_suffix(".weight") else { return };
        let dims = p.dims();
        if dims.len() != 2 {
            return;
        }
        if layer.starts_with("encoder") && dims[0] == k {
            enc = Some(layer.to_string());
        }
        if layer.starts_with("decoder") && dims[1] == k && dec.is_none() {
            dec = Some(layer.to_string());
        }
    });
    match (enc, dec) {
        (Some(e), Some(d)) => Ok((e, d)),
        _ => Err(Error::config(
            "whiten_codes",
            format!(
                "this backbone has no dense layers of {k} units on both sides of its code to fold a whitening into"
            ),
        )),
    }
}

fn missing(name: &str) -> Error {
    Error::config("whiten_codes", format!("the code layer's tensor {name} was not found"))
}

fn row_major(m: &DMatrix<f64>) -> Vec<f32> {
    m.row_iter().flat_map(|r| r.iter().map(|&v| v as f32).collect::<Vec<_>>()).collect()
}

fn column(v: &DVector<f64>) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::dense::{Dense1, DenseConfig};
    use crate::models::Autoencoder;
    use crate::nn::{values, Dev};
    use dfdx::prelude::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn folding_the_whitening_leaves_reconstructions_and_whitens_the_codes() {
        let dev = Dev::seed_from_u64(3);
        let mut model = Dense1::new(&dev, &DenseConfig::shallow(12, 3).with_hidden(&[10])).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let n = 500;
        let x: Vec<f32> = (0..n * 12).map(|_| rng.gen_range(0.0..1.0)).collect();
        let shape = model.input_shape(n);
        let input = || dev.tensor_from_vec(x.clone(), shape);
        let (codes, before) = (values(&model.encode(input())), values(&model.reconstruct(input())));
        let w = Whitening::fit(&codes, 3);
        assert!(w.mean.amax() > 0.05 || (&w.w - DMatrix::identity(3, 3)).amax() > 0.05, "already white: {w:?}");

        w.fold_into(&mut model).unwrap();
        let (codes, after) = (values(&model.encode(input())), values(&model.reconstruct(input())));
        // White codes: mean 0, and covariance I, so their whitening is the identity.
        let again = Whitening::fit(&codes, 3);
        assert!(again.mean.amax() < 1e-4, "mean {}", again.mean);
        assert!((&again.w - DMatrix::identity(3, 3)).amax() < 1e-3, "C^-1/2 {}", again.w);
        let worst = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst < 1e-4, "reconstructions moved by {worst}");
    }

    #[test]
    fn a_backbone_without_a_dense_code_layer_is_refused() {
        let dev = Dev::seed_from_u64(3);
        let mut model = Dense1::new(&dev, &DenseConfig::shallow(12, 3).with_hidden(&[10])).unwrap();
        let err = Whitening::fit(&[0.0; 20], 4).fold_into(&mut model).unwrap_err().to_string();
        assert!(err.contains("no dense layers of 4 units"), "{err}");
    }
}
