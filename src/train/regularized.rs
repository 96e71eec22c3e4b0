//! The step of a sparse or contractive autoencoder: the reconstruction loss plus the code's
//! sparsity penalty and/or the encoder's contractive penalty, one Adam update of every
//! parameter. Denoising needs no step of its own: it is the trainer's corruption stage.

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
            seed: cfg.seed,
            steps: 0,
        }
    }

    /// The total loss of a batch on `x`'s tape, and its parts as numbers.
    ///
    /// # Shapes
    /// x (batch, input) → code (batch, code) → logits (batch, input); penalties are scalars
    pub fn loss<M: Autoencoder, T: Tape<f32, Dev>>(
        &self,
        model: &M,
        x: Tensor<M::Input, f32, Dev, T>,
        target: Tensor<M::Input, f32, Dev>,
        rng: &mut StdRng,
    ) -> Result<(Tensor<Rank0, f32, Dev, T>, LossValues)> {
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
        let mut rng = self.probe_rng(self.steps);
        self.steps += 1;
        let (total, values) = self.loss(model, batch.input.traced(model.alloc_grads()), batch.target, &mut rng)?;
        if values.total.is_finite() {
            let mut grads = total.backward();
            self.adam.cfg.lr = lr;
            self.adam.update(model, &mut grads);
        }
        Ok(values)
    }

    fn eval_batch(&self, model: &M, batch: StepBatch<M>) -> LossValues {
        let mut rng = self.probe_rng(u64::MAX);
        match self.loss(model, batch.input, batch.target, &mut rng) {
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
