//! The adversarial autoencoder's step (Makhzani et al. 2015): three updates per batch, each
//! with its own Adam — reconstruction (encoder and decoder), the discriminator (prior draws
//! labelled 1 against the encoder's codes labelled 0), and the encoder as a generator (its
//! codes labelled 1). Prior draws are seeded by (seed, batches trained), so a resumed run draws
//! the same ones.

use std::collections::BTreeMap;

use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

use super::checkpoint::NamedTensor;
use super::step::{LossValues, StepBatch, TrainStep};
use super::{Adam, AdamConfig, TrainConfig};
use crate::models::{recon_loss, Autoencoder, ReconLoss};
use crate::nn::{values, Activation, Dev, Subset};
use crate::{Error, Result};

/// The adversarial phases' learning rate unless `--adversarial-lr` says (with β₁ 0.5, as GANs
/// are usually trained: Radford et al. 2016). At 2e-4 against the reconstruction's 1e-3 the
/// discriminator won outright on MNIST (its loss 0.08–0.2, the generator's 4–6, codes 186× the
/// reference MMD²); at 1e-3 the game stays balanced (discriminator ≈ 0.63, generator ≈ 0.9).
pub const ADVERSARIAL_LR: f64 = 1e-3;

/// Discriminator updates per batch unless `--discriminator-steps` says.
pub const DISCRIMINATOR_STEPS: usize = 1;

const STEPS_KEY: &str = "adversarial_steps";
/// The parameter groups by name: the backbone's encoder and decoder, the discriminator.
const AUTOENCODER: &[&str] = &["encoder", "decoder"];
const DISCRIMINATOR: &[&str] = &["discriminator"];
const ENCODER: &[&str] = &["encoder"];

/// Reconstruction, discriminator and generator updates, one Adam each.
#[derive(Debug, Clone)]
pub struct AdversarialStep {
    /// Encoder and decoder, on the reconstruction loss (at the schedule's learning rate).
    pub recon: Adam,
    /// The discriminator.
    pub disc: Adam,
    /// The encoder, on fooling the discriminator.
    pub gen: Adam,
    /// Discriminator updates per batch.
    pub disc_steps: usize,
    seed: u64,
    steps: u64,
}

/// The last three phases' losses, for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdversarialLosses {
    /// The reconstruction loss.
    pub recon: f32,
    /// The discriminator's binary cross-entropy (ln 2 ≈ 0.69 when it cannot tell).
    pub disc: f32,
    /// The encoder's loss as a generator.
    pub gen: f32,
}

impl AdversarialStep {
    /// The step `cfg` describes, with fresh optimisers.
    pub fn new(cfg: &TrainConfig) -> Self {
        let adv = AdamConfig { lr: cfg.adversarial_lr.unwrap_or(ADVERSARIAL_LR), beta1: 0.5, ..cfg.adam };
        Self {
            recon: Adam::new(cfg.adam),
            disc: Adam::new(adv),
            gen: Adam::new(adv),
            disc_steps: cfg.discriminator_steps.unwrap_or(DISCRIMINATOR_STEPS),
            seed: cfg.seed,
            steps: 0,
        }
    }

    /// One batch's three updates; their losses before each update.
    ///
    /// # Shapes
    /// x (batch, input) → codes (batch, code); prior draws (batch, code);
    /// discriminator (2·batch, code) → (2·batch, 1) logits
    pub fn phases<M: Autoencoder>(&mut self, model: &mut M, batch: StepBatch<M>, lr: f64) -> Result<AdversarialLosses> {
        let prior = model.prior().ok_or_else(|| Error::config("variant", "an adversarial model needs a prior"))?;
        let mut rng = StdRng::seed_from_u64(self.seed ^ self.steps.wrapping_add(1).wrapping_mul(0xA24B_AED4_963E_E407));
        self.steps += 1;
        let dev = Dev::default();
        let (b, k) = (batch.input.shape().num_elements() / model.input_shape(1).num_elements(), model.code_len());
        // 1. Reconstruction: encoder and decoder.
        let parts = model.loss(batch.input.clone().traced(model.alloc_grads()), batch.target);
        let recon = parts.total.array();
        if !recon.is_finite() {
            return Ok(AdversarialLosses { recon, disc: f32::NAN, gen: f32::NAN });
        }
        self.recon.cfg.lr = lr;
        self.recon.update(&mut Subset::new(model, AUTOENCODER), &mut parts.total.backward());
        // 2. The discriminator: prior draws are real (1), the encoder's codes fake (0); each of
        //    its updates on fresh draws against the same codes.
        let codes = values(&model.encode(batch.input.clone()));
        let labels: Vec<f32> = (0..2 * b).map(|i| if i < b { 1.0 } else { 0.0 }).collect();
        let mut disc = f32::NAN;
        for _ in 0..self.disc_steps.max(1) {
            let mut z = prior.sample(b, &mut rng);
            z.extend_from_slice(&codes);
            let logits = discriminate(model, dev.tensor_from_vec(z, (2 * b, k)).traced(model.alloc_grads()))?;
            let disc_loss = recon_loss(
                logits,
                dev.tensor_from_vec(labels.clone(), (2 * b, 1)),
                Activation::Sigmoid,
                ReconLoss::Bce,
            );
            disc = disc_loss.array();
            self.disc.update(&mut Subset::new(model, DISCRIMINATOR), &mut disc_loss.backward());
        }
        // 3. The encoder as generator: its codes should pass for prior draws.
        let codes = model.encode_data(batch.input.traced(model.alloc_grads())).reshape_like(&(b, k));
        let logits = discriminate(model, codes)?;
        let gen_loss = recon_loss(logits, dev.ones_like(&(b, 1)), Activation::Sigmoid, ReconLoss::Bce);
        let gen = gen_loss.array();
        self.gen.update(&mut Subset::new(model, ENCODER), &mut gen_loss.backward());
        Ok(AdversarialLosses { recon, disc, gen })
    }
}

fn discriminate<M: Autoencoder, T: Tape<f32, Dev>>(
    model: &M,
    z: Tensor<(usize, usize), f32, Dev, T>,
) -> Result<Tensor<(usize, usize), f32, Dev, T>> {
    model.discriminate(z).ok_or_else(|| Error::config("variant", "this model has no discriminator"))
}

impl<M: Autoencoder> TrainStep<M> for AdversarialStep {
    /// The reconstruction loss: what validation and early stopping watch (the adversarial
    /// losses of a balanced game hover, they do not fall).
    fn train_batch(&mut self, model: &mut M, batch: StepBatch<M>, lr: f64) -> Result<LossValues> {
        let l = self.phases(model, batch, lr)?;
        Ok(LossValues { total: l.recon, recon: l.recon, reg: 0.0 })
    }

    /// The last epoch: the reconstruction loss rises as the codes are pulled onto the prior
    /// (on MNIST 0.177 after epoch 2, 0.202 after 10), so the best-reconstructing epoch is an
    /// early one whose codes do not yet match.
    fn keeps_best(&self) -> bool {
        false
    }

    fn state(&self) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
        let mut tensors = Vec::new();
        let mut meta = BTreeMap::from([(STEPS_KEY.to_string(), self.steps.to_string())]);
        for (group, adam) in [("recon", &self.recon), ("disc", &self.disc), ("gen", &self.gen)] {
            let (t, m) = adam.state();
            tensors.extend(t.into_iter().map(|t| NamedTensor { name: format!("{group}.{}", t.name), ..t }));
            meta.extend(m.into_iter().map(|(key, v)| (format!("{group}.{key}"), v)));
        }
        (tensors, meta)
    }

    fn restore(&mut self, tensors: &[NamedTensor], meta: &BTreeMap<String, String>) -> Option<()> {
        self.steps = meta.get(STEPS_KEY)?.parse().ok()?;
        for (group, adam) in [("recon", &mut self.recon), ("disc", &mut self.disc), ("gen", &mut self.gen)] {
            let prefix = format!("{group}.");
            let t: Vec<NamedTensor> = tensors
                .iter()
                .filter_map(|t| t.name.strip_prefix(&prefix).map(|n| NamedTensor { name: n.to_string(), ..t.clone() }))
                .collect();
            let m: BTreeMap<String, String> = meta
                .iter()
                .filter_map(|(key, v)| key.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
                .collect();
            adam.restore(&t, &m)?;
        }
        Some(())
    }
}
