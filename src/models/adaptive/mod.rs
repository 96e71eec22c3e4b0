//! The adaptive autoencoder (`--variant adaptive`): a one-hidden-layer denoising autoencoder
//! whose number of features changes while it learns from a stream — incremental feature
//! learning after Zhou, Sohn & Lee (*Online Incremental Feature Learning with Denoising
//! Autoencoders*, AISTATS 2012). It **adds** features trained on the examples the model
//! reconstructs worst and **merges** pairs of similar ones; when and how many is decided by
//! [`train::AdaptiveStep`](crate::train::AdaptiveStep). This module holds the model and the
//! two width operations; both keep the dense family's weight names and layouts, so every tool
//! that reads a dense model reads this one at whatever width it has reached.
//!
//! **Adding** appends features whose encoder rows are drawn like a fresh layer's and whose
//! decoder columns are zero: the reconstruction is unchanged until the new features are
//! trained. **Merging** a pair `(i, j)` replaces it by one feature whose encoder row and bias
//! are the pair's mean and whose decoder column is the pair's sum. For two identical
//! features this is exact (`dᵢhᵢ + dⱼhⱼ = (dᵢ + dⱼ)h`), so it leaves the reconstruction
//! unchanged (tested); for two merely similar ones it is the nearest function-preserving
//! step, which the training that follows corrects.

use dfdx::prelude::*;
use rand::{rngs::StdRng, Rng};
use serde::{Deserialize, Serialize};

use crate::models::dense::Dense0;
use crate::models::{Autoencoder, ReconLoss};
use crate::nn::{values, Activation, Dev, Param, Params};
use crate::{Error, Result};

/// Hyperparameters of the adaptive autoencoder, beside its dense backbone's (whose `code` is
/// the starting number of features, `--start-features`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveConfig {
    /// Hard examples collected before the model adapts (the pool size τ, `--pool`).
    #[serde(default = "pool")]
    pub pool: usize,
    /// Features added at the first adaptation (ΔN₀, `--add`); later counts follow the rule
    /// of [`train::AdaptiveStep`](crate::train::AdaptiveStep).
    #[serde(default = "first_add")]
    pub first_add: usize,
    /// The most features the model may reach (`--max-features`).
    #[serde(default = "max_features")]
    pub max_features: usize,
    /// A control for comparisons (`--fixed-width`): the same hard pool and the same passes
    /// over it at each adaptation, so the same number of updates, but no merges or additions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fixed_width: bool,
}

fn pool() -> usize {
    1000
}
fn first_add() -> usize {
    10
}
fn max_features() -> usize {
    2000
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self { pool: pool(), first_add: first_add(), max_features: max_features(), fixed_width: false }
    }
}

impl AdaptiveConfig {
    /// Checks every field against a start of `start` features.
    pub fn validate(&self, start: usize) -> Result<()> {
        if self.pool == 0 {
            return Err(Error::config("pool", "a pool of 0 hard examples: give at least 1"));
        }
        if self.first_add == 0 {
            return Err(Error::config("first_add", "adding 0 features: give at least 1"));
        }
        if self.max_features < start {
            return Err(Error::config(
                "max_features",
                format!("{} is below the {start} starting features; raise --max-features", self.max_features),
            ));
        }
        Ok(())
    }
}

/// A one-hidden-layer (denoising) autoencoder whose hidden layer — its code — can grow and
/// shrink: input → N features → input, with N a run-time size.
#[derive(Debug, Clone)]
pub struct Adaptive {
    ae: Dense0,
    config: AdaptiveConfig,
}

/// Where each feature of a resized model came from: `Some(i)` for old feature `i`, unchanged;
/// `None` for a new or merged one (its optimiser moments start again from zero).
pub type FeatureMap = Vec<Option<usize>>;

impl Adaptive {
    /// The adaptive model over `ae` (a dense model without hidden layers: its code is the
    /// feature layer).
    pub fn new(ae: Dense0, config: AdaptiveConfig) -> Self {
        Self { ae, config }
    }

    /// Its settings.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// The current number of features.
    pub fn width(&self) -> usize {
        self.ae.encoder.0.weight.shape().0
    }

    /// Values per input sample.
    pub fn input_len(&self) -> usize {
        self.ae.encoder.0.weight.shape().1
    }

    /// The encoder's rows and biases, the decoder's weight (input × features) and bias.
    fn parts(&self) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let e = &self.ae.encoder.0;
        (values(&e.weight), values(&e.bias), values(&self.ae.decoder.0.weight))
    }

    /// Replaces the feature layer by `n` features: encoder rows `w` (n × input) and biases
    /// `b`, decoder weight `dw` (input × n); the decoder's bias stays.
    fn set(&mut self, n: usize, w: Vec<f32>, b: Vec<f32>, dw: Vec<f32>) {
        let (dev, d) = (Dev::default(), self.input_len());
        self.ae.encoder.0.weight = dev.tensor_from_vec(w, (n, d));
        self.ae.encoder.0.bias = dev.tensor_from_vec(b, (n,));
        self.ae.decoder.0.weight = dev.tensor_from_vec(dw, (d, n));
        self.ae.set_code_len(n);
    }

    /// Appends `k` features: encoder rows and biases uniform in ±1/√input (a fresh layer's
    /// draw, from `rng`), decoder columns zero — the reconstruction does not change until
    /// they are trained. Returns the map from new features to old.
    pub fn add_features(&mut self, k: usize, rng: &mut StdRng) -> FeatureMap {
        let (n, d) = (self.width(), self.input_len());
        let (mut w, mut b, dw) = self.parts();
        let bound = 1.0 / (d.max(1) as f32).sqrt();
        w.extend((0..k * d).map(|_| rng.gen_range(-bound..bound)));
        b.extend((0..k).map(|_| rng.gen_range(-bound..bound)));
        let mut dw2 = Vec::with_capacity(d * (n + k));
        for row in dw.chunks(n.max(1)).take(d) {
            dw2.extend_from_slice(&row[..n]);
            dw2.extend(std::iter::repeat_n(0.0, k));
        }
        self.set(n + k, w, b, dw2);
        (0..n).map(Some).chain(std::iter::repeat_n(None, k)).collect()
    }

    /// Merges each pair `(i, j)` (disjoint, `i ≠ j`) into one feature: encoder row and bias the
    /// pair's mean, decoder column the pair's sum. Unpaired features keep their order; merged
    /// ones follow them. Returns the map from new features to old.
    pub fn merge(&mut self, pairs: &[(usize, usize)]) -> Result<FeatureMap> {
        let (n, d) = (self.width(), self.input_len());
        let mut paired = vec![false; n];
        for &(i, j) in pairs {
            if i == j || i >= n || j >= n || paired[i] || paired[j] {
                return Err(Error::config("merge", format!("pair ({i}, {j}) of {n} features is not a disjoint pair")));
            }
            paired[i] = true;
            paired[j] = true;
        }
        let (w, b, dw) = self.parts();
        let mut map: FeatureMap = (0..n).filter(|&i| !paired[i]).map(Some).collect();
        map.extend(std::iter::repeat_n(None, pairs.len()));
        let kept: Vec<usize> = (0..n).filter(|&i| !paired[i]).collect();
        let mut w2 = Vec::with_capacity(map.len() * d);
        let mut b2 = Vec::with_capacity(map.len());
        for &i in &kept {
            w2.extend_from_slice(&w[i * d..][..d]);
            b2.push(b[i]);
        }
        for &(i, j) in pairs {
            w2.extend(w[i * d..][..d].iter().zip(&w[j * d..][..d]).map(|(a, c)| 0.5 * (a + c)));
            b2.push(0.5 * (b[i] + b[j]));
        }
        let mut dw2 = Vec::with_capacity(d * map.len());
        for row in dw.chunks(n) {
            dw2.extend(kept.iter().map(|&i| row[i]));
            dw2.extend(pairs.iter().map(|&(i, j)| row[i] + row[j]));
        }
        self.set(map.len(), w2, b2, dw2);
        Ok(map)
    }

    /// Up to `k` disjoint pairs of the most similar features: the smallest Euclidean
    /// distances between encoder rows with their biases, taken greedily.
    pub fn similar_pairs(&self, k: usize) -> Vec<(usize, usize)> {
        let (n, d) = (self.width(), self.input_len());
        if k == 0 || n < 2 {
            return Vec::new();
        }
        let (w, b, _) = self.parts();
        let row = |i: usize| &w[i * d..][..d];
        let norms: Vec<f32> = (0..n).map(|i| dot(row(i), row(i)) + b[i] * b[i]).collect();
        let mut dist: Vec<(f32, usize, usize)> = Vec::with_capacity(n * (n - 1) / 2);
        for i in 0..n {
            for j in i + 1..n {
                let g = dot(row(i), row(j)) + b[i] * b[j];
                dist.push((norms[i] + norms[j] - 2.0 * g, i, j));
            }
        }
        dist.sort_by(|a, c| a.0.total_cmp(&c.0).then((a.1, a.2).cmp(&(c.1, c.2))));
        let mut used = vec![false; n];
        let mut out = Vec::with_capacity(k);
        for (_, i, j) in dist {
            if out.len() == k {
                break;
            }
            if !used[i] && !used[j] {
                used[i] = true;
                used[j] = true;
                out.push((i, j));
            }
        }
        out
    }

    /// Zeroes the gradients of features `0..old` and of the decoder's bias in `grads`: only
    /// the features from `old` on then learn (an addition's first phase).
    pub fn freeze(&self, grads: &mut Gradients<f32, Dev>, old: usize) {
        let (n, d) = (self.width(), self.input_len());
        let old = old.min(n);
        let (e, dec) = (&self.ae.encoder.0, &self.ae.decoder.0);
        const CPU: &str = "CPU allocation of a gradient";
        grads.get_or_alloc_mut(&e.weight).expect(CPU)[..old * d].fill(0.0);
        grads.get_or_alloc_mut(&e.bias).expect(CPU)[..old].fill(0.0);
        grads.get_or_alloc_mut(&dec.weight).expect(CPU).chunks_mut(n).for_each(|row| row[..old].fill(0.0));
        grads.get_or_alloc_mut(&dec.bias).expect(CPU).fill(0.0);
    }

    /// Resizes to `n` features (zeros), so that a weights file of that width can be loaded.
    fn resize_for_load(&mut self, n: usize) {
        let d = self.input_len();
        self.set(n, vec![0.0; n * d], vec![0.0; n], vec![0.0; d * n]);
    }
}

/// Eight running sums, so the loop vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

impl Params for Adaptive {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        self.ae.visit(prefix, f)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        self.ae.visit_mut(prefix, f)
    }
    /// Takes the width of the file's `encoder.0.weight` (rows = features).
    fn conform(&mut self, shape_of: &dyn Fn(&str) -> Option<Vec<usize>>) {
        if let Some([n, d]) = shape_of("encoder.0.weight").as_deref() {
            if *d == self.input_len() && *n != self.width() && *n > 0 {
                self.resize_for_load(*n);
            }
        }
    }
}

impl Autoencoder for Adaptive {
    type Input = <Dense0 as Autoencoder>::Input;
    type Code = <Dense0 as Autoencoder>::Code;

    fn input_shape(&self, batch: usize) -> Self::Input {
        self.ae.input_shape(batch)
    }
    fn code_len(&self) -> usize {
        self.width()
    }
    fn output(&self) -> (Activation, ReconLoss) {
        self.ae.output()
    }
    /// # Shapes
    /// (batch, input) → (batch, features)
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.ae.encode(x)
    }
    fn encode_data<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.ae.encode_data(x)
    }
    /// # Shapes
    /// (batch, features) → (batch, input), before the output activation
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        self.ae.decode_logits(z)
    }
    fn as_adaptive(&mut self) -> Option<&mut Adaptive> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::dense::DenseConfig;
    use rand::SeedableRng;

    fn model(n: usize) -> Adaptive {
        let dev = Dev::seed_from_u64(3);
        let mut cfg = DenseConfig::shallow(20, n);
        cfg.code_activation = Activation::Sigmoid;
        Adaptive::new(Dense0::new(&dev, &cfg).unwrap(), AdaptiveConfig::default())
    }

    fn recon(m: &Adaptive, x: &Tensor<(usize, usize), f32, Dev>) -> Vec<f32> {
        m.reconstruct(x.clone()).as_vec()
    }

    #[test]
    fn adding_features_leaves_the_reconstruction_unchanged() {
        let mut m = model(6);
        let x: Tensor<(usize, usize), f32, Dev> = Dev::seed_from_u64(1).sample_uniform_like(&(5, 20));
        let before = recon(&m, &x);
        let map = m.add_features(4, &mut StdRng::seed_from_u64(2));
        assert_eq!((m.width(), m.code_len()), (10, 10));
        assert_eq!(map, [0, 1, 2, 3, 4, 5].map(Some).into_iter().chain([None; 4]).collect::<Vec<_>>());
        assert_eq!(recon(&m, &x), before);
    }

    #[test]
    fn merging_two_identical_features_leaves_the_reconstruction_unchanged() {
        let mut m = model(5);
        // Feature 3 becomes a copy of feature 1 (encoder row and bias); decoder columns differ.
        let (mut w, mut b, dw) = m.parts();
        let d = m.input_len();
        let row1 = w[d..2 * d].to_vec();
        w[3 * d..4 * d].copy_from_slice(&row1);
        b[3] = b[1];
        m.set(5, w, b, dw);
        assert_eq!(m.similar_pairs(1), vec![(1, 3)]);
        let x: Tensor<(usize, usize), f32, Dev> = Dev::seed_from_u64(1).sample_uniform_like(&(5, 20));
        let before = recon(&m, &x);
        let map = m.merge(&[(1, 3)]).unwrap();
        assert_eq!(map, vec![Some(0), Some(2), Some(4), None]);
        let after = recon(&m, &x);
        for (a, b) in after.iter().zip(&before) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // And two different features do change it: the test can fail.
        let mut m2 = model(5);
        let before2 = recon(&m2, &x);
        m2.merge(&[(0, 2)]).unwrap();
        assert!(recon(&m2, &x).iter().zip(&before2).any(|(a, b)| (a - b).abs() > 1e-4));
    }

    #[test]
    fn bad_pairs_are_refused() {
        let mut m = model(4);
        assert!(m.merge(&[(0, 0)]).is_err());
        assert!(m.merge(&[(0, 1), (1, 2)]).is_err());
        assert!(m.merge(&[(0, 9)]).is_err());
        assert_eq!(m.width(), 4);
    }
}
