use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use rand::rngs::StdRng;
use rayon::prelude::*;

use crate::nn::activation::{with_function, with_slope};
use crate::nn::{math, values, Activation, Dev, Params};

/// How a reconstruction is compared with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ReconLoss {
    /// Mean squared error, for any data.
    Mse,
    /// Mean per-element binary cross-entropy, for targets in [0, 1] and a sigmoid output.
    Bce,
}

impl ReconLoss {
    /// Checks that `output` suits this loss: BCE needs probabilities, so a sigmoid output.
    pub fn check_output(self, output: Activation) -> crate::Result<()> {
        if self == ReconLoss::Bce && output != Activation::Sigmoid {
            return Err(crate::Error::config(
                "loss",
                format!("bce needs a sigmoid output, not {output}; use --loss mse or a sigmoid output"),
            ));
        }
        Ok(())
    }

    /// The name used in configs and on the command line: `mse` or `bce`.
    pub fn name(self) -> &'static str {
        match self {
            ReconLoss::Mse => "mse",
            ReconLoss::Bce => "bce",
        }
    }
}

/// One sample's terms of a latent-variable model's bound ([`Autoencoder::latent_bounds`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatentBound {
    /// `−log p(x|z)` for one `z ~ q(z|x)`, in nats.
    pub recon: f64,
    /// `KL(q(z|x) ‖ p(z))`, in nats (closed form).
    pub kl: f64,
    /// The importance-weighted bound on `log p(x)` (NaN when not asked for).
    pub log_px: f64,
}

/// A distribution of codes to generate from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prior {
    /// The standard normal `N(0, I)` in `dim` dimensions.
    StandardNormal {
        /// Code units.
        dim: usize,
    },
    /// A mixture of `components` equally likely 2-D Gaussians of standard deviation `sigma`
    /// whose means sit evenly on a circle of `radius` (Makhzani et al.'s 10-component prior).
    Circle {
        /// Mixture components.
        components: usize,
        /// Distance of each component's mean from the origin.
        radius: f32,
        /// Each component's standard deviation, in both directions.
        sigma: f32,
    },
}

impl Prior {
    /// Code units.
    pub fn dim(&self) -> usize {
        match *self {
            Prior::StandardNormal { dim } => dim,
            Prior::Circle { .. } => 2,
        }
    }

    /// `n` codes drawn from the prior (row after row), the same for the same generator state.
    pub fn sample(&self, n: usize, rng: &mut StdRng) -> Vec<f32> {
        use rand::Rng;
        use rand_distr::{Distribution, StandardNormal};
        match *self {
            Prior::StandardNormal { dim } => (0..n * dim).map(|_| StandardNormal.sample(rng)).collect(),
            Prior::Circle { components, sigma, .. } => (0..n)
                .flat_map(|_| {
                    let k = rng.gen_range(0..components.max(1));
                    let (c, s) = self.component_mean(k);
                    let (a, b): (f32, f32) = (StandardNormal.sample(rng), StandardNormal.sample(rng));
                    [c + sigma * a, s + sigma * b]
                })
                .collect(),
        }
    }

    /// The mean of mixture component `k` (a circle prior; the origin otherwise).
    pub fn component_mean(&self, k: usize) -> (f32, f32) {
        match *self {
            Prior::Circle { components, radius, .. } => {
                let angle = std::f32::consts::TAU * k as f32 / components.max(1) as f32;
                (radius * angle.cos(), radius * angle.sin())
            }
            Prior::StandardNormal { .. } => (0.0, 0.0),
        }
    }

    /// `n` codes drawn from the prior by a generator seeded with `seed`.
    pub fn sample_seeded(&self, n: usize, seed: u64) -> Vec<f32> {
        use rand::SeedableRng;
        self.sample(n, &mut StdRng::seed_from_u64(seed))
    }

    /// `side` positions along each code axis covering the prior, for a grid over the latent
    /// space: the quantiles `(i + ½) / side` of a Gaussian (Kingma & Welling's figure 4), an
    /// even spacing over the circle's disc (radius + 2σ) for the mixture.
    pub fn grid_axis(&self, side: usize) -> Vec<f32> {
        let t = |i: usize| (i as f64 + 0.5) / side.max(1) as f64;
        match *self {
            Prior::StandardNormal { .. } => (0..side).map(|i| math::normal_quantile(t(i)) as f32).collect(),
            Prior::Circle { radius, sigma, .. } => {
                let r = (radius + 2.0 * sigma) as f64;
                (0..side).map(|i| (-r + 2.0 * r * t(i)) as f32).collect()
            }
        }
    }

    /// Whether its mass sits on a shell (a high-dimensional Gaussian: paths between codes are
    /// then better spherical than straight).
    pub fn is_gaussian(&self) -> bool {
        matches!(self, Prior::StandardNormal { .. })
    }
}

/// A loss split into its parts: `total = recon + reg`. `total` carries the tape for
/// backpropagation; the parts are plain numbers for logging.
pub struct LossParts<T> {
    /// The loss to minimise, carrying the tape.
    pub total: Tensor<Rank0, f32, Dev, T>,
    /// Its reconstruction part.
    pub recon: f32,
    /// Its regulariser part (0 for a plain autoencoder).
    pub reg: f32,
}

impl<T: Tape<f32, Dev>> LossParts<T> {
    /// A loss with no regulariser.
    pub fn recon_only(recon: Tensor<Rank0, f32, Dev, T>) -> Self {
        let value = recon.array();
        Self { total: recon, recon: value, reg: 0.0 }
    }
}

/// The reconstruction loss of pre-activation decoder outputs `logits` against `target`.
///
/// BCE is computed from logits (numerically stable, like PyTorch's `BCEWithLogitsLoss`), so it
/// requires a sigmoid output; MSE applies the output activation first.
///
/// One operation on the tape, with one threaded pass forward (the per-element losses and
/// their gradients together) and one backward; [`recon_loss_unfused`], the same loss from
/// dfdx's ops, is its reference in tests (1e-5).
pub fn recon_loss<S: Shape, T: Tape<f32, Dev>>(
    logits: Tensor<S, f32, Dev, T>,
    target: Tensor<S, f32, Dev>,
    output: Activation,
    loss: ReconLoss,
) -> Tensor<Rank0, f32, Dev, T> {
    if loss == ReconLoss::Mse && output == Activation::Gelu {
        return recon_loss_unfused(logits, target, output, loss);
    }
    let (z, mut tape) = logits.contiguous().split_tape();
    let (zv, tv) = (values(&z), values(&target.contiguous()));
    let n = zv.len().max(1);
    let keep_grad = T::OWNS_TAPE;
    let mut dz = if keep_grad { vec![0.0; zv.len()] } else { Vec::new() };
    // Per element: the loss, and its derivative with respect to the logit. One closure type
    // per case, so the pass below inlines and vectorises it.
    let partials = match loss {
        ReconLoss::Bce => loss_pass(&zv, &tv, &mut dz, |z, t| {
            // max(z, 0) − z·t + ln(1 + e^−|z|), stable for any z; d/dz = σ(z) − t.
            let e = math::exp(-z.abs());
            let inv = 1.0 / (1.0 + e);
            let sig = if z >= 0.0 { inv } else { e * inv };
            (z.max(0.0) - z * t + math::ln(1.0 + e), sig - t)
        }),
        ReconLoss::Mse => with_function!(output, f => with_slope!(output, d => loss_pass(&zv, &tv, &mut dz, |z, t| {
            let y = f(z);
            ((y - t) * (y - t), 2.0 * (y - t) * d(y))
        }))),
    };
    let sum: f64 = partials.iter().sum();
    let out = z.device().tensor((sum / n as f64) as f32);
    let (z_g, out_g) = (z.ghost(), out.ghost());
    tape.add_backward_op(move |grads| {
        // The mean's 1/n, times the upstream gradient (1, or a weight in a larger loss).
        let scale = grads.get_or_alloc_mut(&out_g)?[0] / n as f32;
        let gz = grads.get_or_alloc_mut(&z_g)?;
        gz.par_chunks_mut(LOSS_CHUNK).zip(dz.par_chunks(LOSS_CHUNK)).for_each(|(g, d)| {
            for (g, &d) in g.iter_mut().zip(d) {
                *g += scale * d;
            }
        });
        Ok(())
    });
    out.put_tape(tape)
}

/// Values per rayon task in the loss passes.
const LOSS_CHUNK: usize = 8192;

/// Sums `per(z, t).0` over all elements and writes `per(z, t).1` into `dz` (when it is not
/// empty). Returns per-chunk partial sums, in order: added up in order they give the same
/// loss to the last bit however the threads split the work (rayon's `sum` does not). Within
/// a chunk, eight running sums side by side let the loop vectorise.
fn loss_pass(zv: &[f32], tv: &[f32], dz: &mut [f32], per: impl Fn(f32, f32) -> (f32, f32) + Sync) -> Vec<f64> {
    let chunk_sum = |z: &[f32], t: &[f32], d: Option<&mut [f32]>| loss_chunk(z, t, d, &per);
    if dz.is_empty() {
        zv.par_chunks(LOSS_CHUNK).zip(tv.par_chunks(LOSS_CHUNK)).map(|(z, t)| chunk_sum(z, t, None)).collect()
    } else {
        dz.par_chunks_mut(LOSS_CHUNK)
            .zip(zv.par_chunks(LOSS_CHUNK).zip(tv.par_chunks(LOSS_CHUNK)))
            .map(|(d, (z, t))| chunk_sum(z, t, Some(d)))
            .collect()
    }
}

math::wide_fn! {
    /// One chunk of [`loss_pass`]: the sum of `per(z, t).0` and, into `d`, each `per(z, t).1`.
    fn loss_chunk(z: &[f32], t: &[f32], d: Option<&mut [f32]>, per: &impl Fn(f32, f32) -> (f32, f32)) -> f64 {
        let mut d = d;
        let mut lanes = [0.0f32; 8];
        let mut tail = 0.0f32;
        let (zc, tc) = (z.chunks_exact(8), t.chunks_exact(8));
        let (zr, tr) = (zc.remainder(), tc.remainder());
        for (k, (z8, t8)) in zc.zip(tc).enumerate() {
            let mut g8 = [0.0f32; 8];
            for i in 0..8 {
                let (l, g) = per(z8[i], t8[i]);
                lanes[i] += l;
                g8[i] = g;
            }
            if let Some(d) = d.as_deref_mut() {
                d[k * 8..][..8].copy_from_slice(&g8);
            }
        }
        let base = z.len() - zr.len();
        for (i, (&z, &t)) in zr.iter().zip(tr).enumerate() {
            let (l, g) = per(z, t);
            tail += l;
            if let Some(d) = d.as_deref_mut() {
                d[base + i] = g;
            }
        }
        lanes.iter().map(|&v| v as f64).sum::<f64>() + tail as f64
    }
}

/// [`recon_loss`] from dfdx's element-wise ops (several passes, each allocating).
pub fn recon_loss_unfused<S: Shape, T: Tape<f32, Dev>>(
    logits: Tensor<S, f32, Dev, T>,
    target: Tensor<S, f32, Dev>,
    output: Activation,
    loss: ReconLoss,
) -> Tensor<Rank0, f32, Dev, T> {
    match loss {
        ReconLoss::Bce => binary_cross_entropy_with_logits_loss(logits, target),
        ReconLoss::Mse => mse_loss(output.apply_unfused(logits), target),
    }
}

/// An encoder → code → decoder model. A variant implements only what differs: the dense
/// model writes `encode` and `decode_logits`; a sparse or variational one also overrides
/// `loss` to add its regulariser.
///
/// `Send`: the trainer runs its loop on a thread of the pool ([`crate::nn::on_pool`]).
pub trait Autoencoder: Params + Send {
    /// A batch of inputs, e.g. `(usize, Const<784>)`.
    type Input: Shape;
    /// A batch of codes, e.g. `(usize, Const<32>)`.
    type Code: Shape;

    /// The input shape of a batch of `batch` samples.
    fn input_shape(&self, batch: usize) -> Self::Input;

    /// Values in one code.
    fn code_len(&self) -> usize;

    /// The output activation and the reconstruction loss it trains with.
    fn output(&self) -> (Activation, ReconLoss);

    /// Maps inputs to codes.
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T>;

    /// [`Autoencoder::encode`] for inputs that are data, whose gradient nobody reads: layers
    /// may skip computing it (a third of a dense first layer's backward products). `x` may get
    /// no gradient; to differentiate with respect to inputs, trace `encode`.
    fn encode_data<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.encode(x)
    }

    /// Maps codes to decoder outputs before the output activation.
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T>;

    /// Maps codes to reconstructions.
    fn decode<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        self.output().0.apply(self.decode_logits(z))
    }

    /// This model's weights frozen for encoding and reconstructing many batches without the
    /// tape ([`Inference`](super::Inference)); `None` (the default) where the family has no
    /// such path, and callers use [`Autoencoder::encode`] and [`Autoencoder::reconstruct`].
    /// A snapshot: training the model afterwards does not change it.
    fn inference(&self) -> Option<Box<dyn super::Inference>> {
        None
    }

    /// Encodes then decodes.
    fn reconstruct<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        self.decode(self.encode(x))
    }

    /// The code of `x` and its tangent along `u`: the Jacobian–vector product `J_f(x) u`,
    /// carried forward through the encoder's layers, both on `x`'s tape (so a loss of the
    /// tangent trains the encoder: the contractive penalty). `u` is a constant (no gradient);
    /// `x` may get none either. `None` (the default) for a model without it.
    fn encode_jvp<T: Tape<f32, Dev>>(
        &self,
        _x: Tensor<Self::Input, f32, Dev, T>,
        _u: Tensor<Self::Input, f32, Dev>,
    ) -> Option<(Tensor<Self::Code, f32, Dev, T>, Tensor<Self::Code, f32, Dev, T>)> {
        None
    }

    /// Whether [`Autoencoder::encode_jacobian_sq`] gives the exact closed form.
    fn has_exact_jacobian(&self) -> bool {
        false
    }

    /// The code of `x` and the batch mean of the exact `‖J_f(x)‖²_F`, for encoders with a
    /// closed form (one dense layer `act(W x + b)`: `Σⱼ act'(aⱼ)² ‖Wⱼ‖²`). `None` by default.
    fn encode_jacobian_sq<T: Tape<f32, Dev>>(
        &self,
        _x: Tensor<Self::Input, f32, Dev, T>,
    ) -> Option<(Tensor<Self::Code, f32, Dev, T>, Tensor<Rank0, f32, Dev, T>)> {
        None
    }

    /// Whether the model draws random numbers in its loss (a VAE's ε): trainers then call
    /// [`Autoencoder::loss_sampled`] with a seeded generator.
    fn is_stochastic(&self) -> bool {
        false
    }

    /// The training loss with the model's random draws taken from `rng`, its regulariser
    /// weighted by `reg_scale` ∈ [0, 1] (a KL warm-up). [`Autoencoder::loss`] for a
    /// deterministic model.
    fn loss_sampled<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Self::Input, f32, Dev, T>,
        target: Tensor<Self::Input, f32, Dev>,
        _rng: &mut StdRng,
        _reg_scale: f32,
    ) -> LossParts<T> {
        self.loss(x, target)
    }

    /// The distribution codes are drawn from to generate (a VAE's `N(0, I)`); `None` for a
    /// model trained without one (a plain autoencoder's codes follow no known law).
    fn prior(&self) -> Option<Prior> {
        None
    }

    /// For a latent-variable model: per sample of `x`, the reconstruction term `−log p(x|z)`
    /// with one `z ~ q(z|x)` drawn from `rng`, the analytic `KL(q(z|x) ‖ p(z))` (both in
    /// nats), and with `k > 0` the importance-weighted bound on `log p(x)` from `k` draws
    /// (Burda et al. 2016; `k = 1` is the ELBO with a sampled KL). `None` for other models.
    fn latent_bounds(
        &self,
        _x: Tensor<Self::Input, f32, Dev>,
        _k: usize,
        _rng: &mut StdRng,
    ) -> Option<Vec<LatentBound>> {
        None
    }

    /// An adversarial autoencoder's discriminator: for each code (a row of `z`), the logit
    /// that it was drawn from the prior rather than made by the encoder. `None` (the default)
    /// for every other model; trainers give a model that has one its adversarial step.
    fn discriminate<T: Tape<f32, Dev>>(
        &self,
        _z: Tensor<(usize, usize), f32, Dev, T>,
    ) -> Option<Tensor<(usize, usize), f32, Dev, T>> {
        None
    }

    /// An adaptive autoencoder, whose number of features its training step changes; `None`
    /// (the default) for every fixed-width model.
    fn as_adaptive(&mut self) -> Option<&mut super::Adaptive> {
        None
    }

    /// Whether [`Autoencoder::discriminate`] answers.
    fn is_adversarial(&self) -> bool {
        false
    }

    /// A last step once training reaches its last epoch: a model that refits part of itself on
    /// the training data does it here (an adversarial autoencoder whitening its codes). The
    /// trainer saves and returns the finished model, while its resume state keeps the
    /// unfinished one to continue from. Nothing by default.
    fn finish_training(&mut self, _train: &dyn crate::data::BatchSource, _seed: u64) -> crate::Result<()> {
        Ok(())
    }

    /// The training loss of inputs `x` against clean `target` (the same data, unless a
    /// denoising variant corrupted `x`). Encodes with [`Autoencoder::encode_data`]: gradients
    /// reach the parameters, not necessarily `x`.
    fn loss<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Self::Input, f32, Dev, T>,
        target: Tensor<Self::Input, f32, Dev>,
    ) -> LossParts<T> {
        let (act, loss) = self.output();
        let logits = self.decode_logits(self.encode_data(x));
        LossParts::recon_only(recon_loss(logits, target, act, loss))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::conv::{ConvAutoencoder, ConvConfig};
    use crate::models::dense::{Dense1, DenseConfig};
    use crate::models::lstm::{LstmAutoencoder, LstmConfig};

    /// `loss` encodes with `encode_data`, which skips the input's gradient: every parameter
    /// must get exactly the gradient that the fully traced `encode` path gives it.
    fn loss_gradients_match_the_traced_path<M: Autoencoder + Params>(model: &M, x: Tensor<M::Input, f32, Dev>) {
        let (act, kind) = model.output();
        let via_loss = model.loss(x.clone().traced(model.alloc_grads()), x.clone());
        let traced = recon_loss(model.decode_logits(model.encode(x.clone().traced(model.alloc_grads()))), x, act, kind);
        assert_eq!(via_loss.total.array(), traced.array());
        let (g_loss, g_traced) = (via_loss.total.backward(), traced.backward());
        model.visit("", &mut |name, p| assert_eq!(p.grad(&g_loss), p.grad(&g_traced), "{name}"));
    }

    #[test]
    fn training_loss_skips_only_the_input_gradient() {
        let dev = Dev::seed_from_u64(9);
        let dense = Dense1::new(&dev, &DenseConfig::shallow(784, 8).with_hidden(&[32])).unwrap();
        loss_gradients_match_the_traced_path(&dense, dev.sample_uniform_like(&(5, 784)));
        let conv = ConvAutoencoder::new(&dev, &ConvConfig::new(8)).unwrap();
        loss_gradients_match_the_traced_path(&conv, dev.sample_uniform_like(&(3, Const)));
        let lstm = LstmAutoencoder::new(&dev, &LstmConfig::new(12, 4)).unwrap();
        loss_gradients_match_the_traced_path(&lstm, dev.sample_uniform_like(&(3, 12)));
    }

    #[test]
    fn fused_loss_and_gradient_match_dfdx_ops() {
        let dev = Dev::seed_from_u64(5);
        for n in [1, 7, 20_000] {
            let z: Tensor<(usize,), f32, Dev> = dev.sample_normal_like(&(n,)) * 3.0;
            let t: Tensor<(usize,), f32, Dev> = dev.sample_uniform_like(&(n,));
            let cases = [
                (Activation::Sigmoid, ReconLoss::Bce),
                (Activation::Sigmoid, ReconLoss::Mse),
                (Activation::Identity, ReconLoss::Mse),
                (Activation::Tanh, ReconLoss::Mse),
                (Activation::Relu, ReconLoss::Mse),
                (Activation::Gelu, ReconLoss::Mse),
            ];
            for (act, loss) in cases {
                let run = |fused: bool| {
                    let zt = z.clone().traced(Gradients::leaky());
                    // Scaled by 3 afterwards: the op must honour an upstream gradient ≠ 1.
                    let l = if fused {
                        recon_loss(zt, t.clone(), act, loss)
                    } else {
                        recon_loss_unfused(zt, t.clone(), act, loss)
                    };
                    let value = l.array();
                    let g = (l * 3.0).backward();
                    (value, g.get(&z).as_vec())
                };
                let ((lw, gw), (lf, gf)) = (run(false), run(true));
                assert!((lw - lf).abs() <= 1e-5 * (1.0 + lw.abs()), "{act} {loss:?} n={n}: loss {lf} vs {lw}");
                for (k, (w, f)) in gw.iter().zip(&gf).enumerate() {
                    assert!((w - f).abs() <= 1e-5 * (1.0 + w.abs()), "{act} {loss:?} n={n}: grad[{k}] {f} vs {w}");
                }
            }
        }
    }
}
