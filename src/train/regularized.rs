//! The step of a sparse, contractive or stochastic (VAE) autoencoder: the reconstruction loss
//! plus the code's sparsity penalty and/or the encoder's contractive penalty — or the model's
//! own sampled loss, its regulariser warmed up — one Adam update of every parameter, with
//! random draws seeded by the step count. Denoising needs no step of its own: it is the
//! trainer's corruption stage.

use std::collections::BTreeMap;

use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

use super::checkpoint::NamedTensor;
use super::step::{LossValues, StepBatch, TrainStep};
use super::{Adam, TrainConfig};
use crate::models::{recon_loss, Autoencoder, Contractive, Sparsity};
use crate::nn::Dev;
use crate::{Error, Result};

/// The resume file's key for the number of batches trained (it seeds each batch's probes).
const STEPS_KEY: &str = "regularizer_steps";

/// Reconstruction + `--sparsity` + `--contractive`, one Adam update. The contractive
/// estimator's probes are drawn from a generator seeded by `(seed, batches trained so far)`,
/// so a resumed run draws the same ones; validation uses one fixed seed.
#[derive(Debug, Clone)]
pub struct RegularizedStep {
    /// The optimiser.
    pub adam: Adam,
    /// The penalty on the code, if any.
    pub sparsity: Option<Sparsity>,
    /// The penalty on the encoder's Jacobian, if any.
    pub contractive: Option<Contractive>,
    /// Epochs of linear KL warm-up (`TrainConfig::kl_warmup`).
    pub kl_warmup: Option<f64>,
    steps_per_epoch: usize,
    seed: u64,
    steps: u64,
}

impl RegularizedStep {
    /// The step `cfg` describes, with a fresh Adam.
    pub fn new(cfg: &TrainConfig) -> Self {
        Self {
            adam: Adam::new(cfg.adam),
            sparsity: cfg.sparsity,
            contractive: cfg.contractive,
            kl_warmup: cfg.kl_warmup,
            steps_per_epoch: 1,
            seed: cfg.seed,
            steps: 0,
        }
    }

    /// Batches per epoch, which the warm-up's epochs are counted in.
    pub fn steps_per_epoch(self, steps: usize) -> Self {
        Self { steps_per_epoch: steps.max(1), ..self }
    }

    /// The regulariser's weight in [0, 1] at batch `steps` (0-based) of the run: rising
    /// linearly over the warm-up, `(steps + 1) / warm-up batches`, then 1.
    pub fn reg_scale(&self, steps: u64) -> f32 {
        match self.kl_warmup {
            Some(epochs) if epochs > 0.0 => {
                let total = epochs * self.steps_per_epoch as f64;
                ((steps + 1) as f64 / total).min(1.0) as f32
            }
            _ => 1.0,
        }
    }

    /// The total loss of a batch on `x`'s tape, and its parts as numbers; the model's own
    /// [`Autoencoder::loss_sampled`] when there is no penalty.
    ///
    /// # Shapes
    /// x (batch, input) → code (batch, code) → logits (batch, input); penalties are scalars
    pub fn loss<M: Autoencoder, T: Tape<f32, Dev>>(
        &self,
        model: &M,
        x: Tensor<M::Input, f32, Dev, T>,
        target: Tensor<M::Input, f32, Dev>,
        rng: &mut StdRng,
        reg_scale: f32,
    ) -> Result<(Tensor<Rank0, f32, Dev, T>, LossValues)> {
        if self.sparsity.is_none() && self.contractive.is_none() {
            let parts = model.loss_sampled(x, target, rng, reg_scale);
            let values = LossValues { total: parts.total.array(), recon: parts.recon, reg: parts.reg };
            return Ok((parts.total, values));
        }
        let (code, jacobian) = match self.contractive {
            None => (model.encode_data(x), None),
            Some(c) => {
                let (code, sq) = c.encode(model, x, rng).ok_or_else(|| {
                    Error::config("contractive", format!("`{c}`: this model has no Jacobian products for it"))
                })?;
                (code, Some(sq * c.weight))
            }
        };
        let sparse = self.sparsity.map(|s| s.penalty(code.with_empty_tape()));
        let (act, kind) = model.output();
        let mut total = recon_loss(model.decode_logits(code), target, act, kind);
        let recon = total.array();
        for penalty in [sparse, jacobian].into_iter().flatten() {
            total = total + penalty;
        }
        let value = total.array();
        Ok((total, LossValues { total: value, recon, reg: value - recon }))
    }

    fn probe_rng(&self, steps: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ steps.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

impl<M: Autoencoder> TrainStep<M> for RegularizedStep {
    fn train_batch(&mut self, model: &mut M, batch: StepBatch<M>, lr: f64) -> Result<LossValues> {
        let (mut rng, scale) = (self.probe_rng(self.steps), self.reg_scale(self.steps));
        self.steps += 1;
        let (total, values) =
            self.loss(model, batch.input.traced(model.alloc_grads()), batch.target, &mut rng, scale)?;
        if values.total.is_finite() {
            let mut grads = total.backward();
            self.adam.cfg.lr = lr;
            self.adam.update(model, &mut grads);
        }
        Ok(values)
    }

    fn eval_batch(&self, model: &M, batch: StepBatch<M>) -> LossValues {
        let mut rng = self.probe_rng(u64::MAX);
        match self.loss(model, batch.input, batch.target, &mut rng, 1.0) {
            Ok((_, values)) => values,
            // Only a model without Jacobian products fails, and training refused it first.
            Err(_) => LossValues { total: f32::NAN, recon: f32::NAN, reg: f32::NAN },
        }
    }

    fn state(&self) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
        let (tensors, mut meta) = self.adam.state();
        meta.insert(STEPS_KEY.to_string(), self.steps.to_string());
        (tensors, meta)
    }

    fn restore(&mut self, tensors: &[NamedTensor], meta: &BTreeMap<String, String>) -> Option<()> {
        self.steps = meta.get(STEPS_KEY)?.parse().ok()?;
        self.adam.restore(tensors, meta)
    }
}
