//! What one training step does, behind a trait: [`TrainStep`] (the plain autoencoder's step,
//! [`PlainStep`], is the default; a variant brings its own losses, parameter groups and
//! optimisers), and the input corruption stage ([`Corruption`]: input ≠ target).

use std::collections::BTreeMap;

use dfdx::prelude::*;
use rand::rngs::StdRng;

use super::checkpoint::NamedTensor;
use super::{Adam, AdamConfig};
use crate::models::Autoencoder;
use crate::nn::Dev;
use crate::Result;

/// A batch as a step sees it: the model's `input` (corrupted, when training with a
/// [`Corruption`]) and the clean `target` it should reconstruct.
pub struct StepBatch<M: Autoencoder> {
    /// What the encoder reads.
    pub input: Tensor<M::Input, f32, Dev>,
    /// What the decoder should output.
    pub target: Tensor<M::Input, f32, Dev>,
}

/// The loss of one batch as plain numbers: `total = recon + reg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossValues {
    /// What the step minimised; early stopping and the divergence check watch it.
    pub total: f32,
    /// Its reconstruction part.
    pub recon: f32,
    /// Its regularisation part.
    pub reg: f32,
}

/// One optimisation step of a model on a batch, and the state that makes it resumable.
///
/// The trainer owns the loop (shuffling, batches, validation, early stopping, checkpoints,
/// resume); a step owns what happens to one batch: its losses, its parameter groups and its
/// optimisers. An adversarial autoencoder, say, makes three updates with two optimisers in
/// `train_batch` and keeps both optimisers' moments in `state`. `Send`, like the model: the
/// trainer's loop runs on a thread of the pool.
pub trait TrainStep<M: Autoencoder>: Send {
    /// The name of [`LossValues::total`] in messages (`loss`, `elbo`…).
    fn watched(&self) -> &'static str {
        "loss"
    }

    /// The quantity the divergence check watches, and its name: by default the
    /// reconstruction part, which neither a regulariser's warm-up (a VAE's KL) nor an
    /// adversary's game moves; see [`DIVERGENCE_FACTOR`](super::DIVERGENCE_FACTOR).
    fn monitored(&self, loss: &LossValues) -> (f32, &'static str) {
        (loss.recon, "reconstruction loss")
    }

    /// Whether the model directory keeps the epoch with the best watched loss (`true`, the
    /// default) or always the last one: an adversarial game's reconstruction loss rises while
    /// the codes move onto the prior, so its best-reconstructing epoch is an early, unmatched
    /// one.
    fn keeps_best(&self) -> bool {
        true
    }

    /// Trains on one batch at learning rate `lr`; returns the batch's loss before the update.
    fn train_batch(&mut self, model: &mut M, batch: StepBatch<M>, lr: f64) -> Result<LossValues>;

    /// The loss of one batch without training (validation).
    fn eval_batch(&self, model: &M, batch: StepBatch<M>) -> LossValues {
        let parts = model.loss(batch.input, batch.target);
        LossValues { total: parts.total.array(), recon: parts.recon, reg: parts.reg }
    }

    /// The optimiser state (tensors, and metadata strings) for the resume file.
    fn state(&self) -> (Vec<NamedTensor>, BTreeMap<String, String>);

    /// Restores what [`state`](Self::state) wrote; `None` when something is missing.
    fn restore(&mut self, tensors: &[NamedTensor], meta: &BTreeMap<String, String>) -> Option<()>;

    /// Files of the step's own (name, contents) that the trainer writes into the model
    /// directory with each checkpoint (an adaptive model's log of adaptations); none by default.
    fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        Vec::new()
    }
}

/// The plain autoencoder's step: the model's [`Autoencoder::loss`], one Adam update of every
/// parameter.
#[derive(Debug, Clone)]
pub struct PlainStep {
    /// The optimiser.
    pub adam: Adam,
}

impl PlainStep {
    /// A step with a fresh Adam.
    pub fn new(cfg: AdamConfig) -> Self {
        Self { adam: Adam::new(cfg) }
    }
}

impl<M: Autoencoder> TrainStep<M> for PlainStep {
    fn train_batch(&mut self, model: &mut M, batch: StepBatch<M>, lr: f64) -> Result<LossValues> {
        let parts = model.loss(batch.input.traced(model.alloc_grads()), batch.target);
        let values = LossValues { total: parts.total.array(), recon: parts.recon, reg: parts.reg };
        if values.total.is_finite() {
            let mut grads = parts.total.backward();
            self.adam.cfg.lr = lr;
            self.adam.update(model, &mut grads);
        }
        Ok(values)
    }

    fn state(&self) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
        self.adam.state()
    }

    fn restore(&mut self, tensors: &[NamedTensor], meta: &BTreeMap<String, String>) -> Option<()> {
        self.adam.restore(tensors, meta)
    }
}

/// The input corruption stage: what turns a clean batch into the model's input, the clean
/// batch staying the target. Training draws a fresh corruption per batch; validation and
/// evaluation a fixed one per batch (the same every epoch), both from seeded generators.
pub trait Corruption: Sync {
    /// Corrupts `batch` (samples of `sample_len` values, one after another) in place.
    fn corrupt(&self, batch: &mut [f32], sample_len: usize, rng: &mut StdRng);
}
