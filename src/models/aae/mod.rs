//! The adversarial autoencoder (Makhzani et al. 2015), `--variant aae`: a deterministic
//! encoder and decoder (the backbone) and a discriminator on codes. Each batch trains in three
//! phases, each with its own Adam (`train::AdversarialStep`): reconstruction (encoder and
//! decoder), the discriminator (prior draws against the encoder's codes), and the encoder as a
//! generator (fooling the discriminator). The codes then follow the prior, and decoding prior
//! draws generates data — without a KL term or a Gaussian encoder.

mod whiten;

use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

pub use self::whiten::{Whitening, WHITEN_SAMPLES};
use crate::data::BatchSource;
use crate::models::{Autoencoder, LossParts, Prior, ReconLoss};
use crate::nn::{join, values, Activation, Dense, Dev, Param, Params};
use crate::{Error, Result};

/// The prior an adversarial autoencoder's codes are matched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PriorKind {
    /// The standard normal `N(0, I)`, any code size.
    #[default]
    Gaussian,
    /// Ten 2-D Gaussians (σ 0.5) with means on a circle of radius 4: the paper's mixture
    /// (needs `--code 2`).
    Circle10,
}

/// Hyperparameters of an adversarial autoencoder, beside its backbone's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AaeConfig {
    /// The prior (`--prior`).
    #[serde(default)]
    pub prior: PriorKind,
    /// Width of the discriminator's two hidden layers (ReLU): code → h → h → 1.
    #[serde(default = "hidden")]
    pub discriminator: usize,
    /// After the last epoch, refit the code layer so the training codes have mean 0 and
    /// covariance I exactly (`--whiten-codes`; Gaussian prior only; see [`Whitening`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whiten: bool,
}

fn hidden() -> usize {
    256
}

impl Default for AaeConfig {
    fn default() -> Self {
        Self { prior: PriorKind::Gaussian, discriminator: hidden(), whiten: false }
    }
}

impl AaeConfig {
    /// Checks every field against a code of `code` units; the error names the field and the fix.
    pub fn validate(&self, code: usize) -> Result<()> {
        if self.discriminator == 0 {
            return Err(Error::config("discriminator", "the discriminator needs at least one hidden unit"));
        }
        if self.whiten && self.prior != PriorKind::Gaussian {
            return Err(Error::config(
                "whiten_codes",
                "whitening matches the codes' mean and covariance to N(0, I): drop --whiten-codes or use --prior gaussian",
            ));
        }
        if self.prior == PriorKind::Circle10 && code != 2 {
            return Err(Error::config("prior", format!("circle10 is a 2-D prior; train with --code 2 (not {code})")));
        }
        Ok(())
    }

    /// The prior as a distribution over `code` units.
    pub fn prior(&self, code: usize) -> Prior {
        match self.prior {
            PriorKind::Gaussian => Prior::StandardNormal { dim: code },
            PriorKind::Circle10 => Prior::Circle { components: 10, radius: 4.0, sigma: 0.5 },
        }
    }
}

/// The discriminator: code → hidden → hidden → 1 logit, ReLU between.
#[derive(Debug, Clone)]
pub struct Discriminator {
    /// The three layers, code side first.
    pub layers: [Dense<usize, usize>; 3],
}

impl Discriminator {
    /// A freshly initialised discriminator of `code`-unit codes.
    pub fn new(dev: &Dev, code: usize, hidden: usize) -> Self {
        Self { layers: [Dense::new(dev, code, hidden), Dense::new(dev, hidden, hidden), Dense::new(dev, hidden, 1)] }
    }

    /// # Shapes
    /// (batch, code) → (batch, hidden) → (batch, hidden) → (batch, 1) logits
    pub fn forward<T: Tape<f32, Dev>>(
        &self,
        z: Tensor<(usize, usize), f32, Dev, T>,
    ) -> Tensor<(usize, usize), f32, Dev, T> {
        let [a, b, c] = &self.layers;
        let h = a.forward_act(z, Activation::Relu);
        let h = b.forward_act(h, Activation::Relu);
        c.forward_act(h, Activation::Identity)
    }
}

/// An adversarial autoencoder: the backbone's parameters under their own names, the
/// discriminator's under `discriminator.{0,1,2}`.
#[derive(Debug, Clone)]
pub struct Aae<M> {
    /// Encoder and decoder.
    pub backbone: M,
    /// Prior draws against codes.
    pub discriminator: Discriminator,
    config: AaeConfig,
}

impl<M: Autoencoder<Code = (usize, usize)>> Aae<M> {
    /// Adds a fresh discriminator to `backbone`.
    pub fn new(dev: &Dev, backbone: M, config: AaeConfig) -> Self {
        let discriminator = Discriminator::new(dev, backbone.code_len(), config.discriminator);
        Self { backbone, discriminator, config }
    }

    /// The AAE's own hyperparameters.
    pub fn config(&self) -> &AaeConfig {
        &self.config
    }

    /// The backbone's codes of the first [`WHITEN_SAMPLES`] training samples, in epoch 1's order.
    fn training_codes(&self, train: &dyn BatchSource, seed: u64) -> Result<Vec<f32>> {
        let (dev, k) = (Dev::default(), self.code_len());
        let mut codes = Vec::with_capacity(WHITEN_SAMPLES * k);
        for batch in train.epoch_batches(1, 500, seed) {
            let batch = batch?;
            let n = batch.len() / train.sample_len();
            codes.extend(values(&self.backbone.encode(dev.tensor_from_vec(batch, self.input_shape(n)))));
            if codes.len() >= WHITEN_SAMPLES * k {
                break;
            }
        }
        Ok(codes)
    }
}

impl<M: Params> Params for Aae<M> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        self.backbone.visit(prefix, f);
        for (i, l) in self.discriminator.layers.iter().enumerate() {
            l.visit(&join(prefix, &format!("discriminator.{i}")), f);
        }
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        self.backbone.visit_mut(prefix, f);
        for (i, l) in self.discriminator.layers.iter_mut().enumerate() {
            l.visit_mut(&join(prefix, &format!("discriminator.{i}")), f);
        }
    }
}

impl<M: Autoencoder<Code = (usize, usize)>> Autoencoder for Aae<M> {
    type Input = M::Input;
    type Code = (usize, usize);

    fn input_shape(&self, batch: usize) -> Self::Input {
        self.backbone.input_shape(batch)
    }
    fn code_len(&self) -> usize {
        self.backbone.code_len()
    }
    fn output(&self) -> (Activation, ReconLoss) {
        self.backbone.output()
    }
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.backbone.encode(x)
    }
    fn encode_data<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.backbone.encode_data(x)
    }
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        self.backbone.decode_logits(z)
    }
    /// The backbone's: the discriminator takes no part in encoding or decoding.
    fn inference(&self) -> Option<Box<dyn crate::models::Inference>> {
        self.backbone.inference()
    }
    /// The reconstruction loss (what the first phase trains and validation watches).
    fn loss<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Self::Input, f32, Dev, T>,
        target: Tensor<Self::Input, f32, Dev>,
    ) -> LossParts<T> {
        self.backbone.loss(x, target)
    }
    fn prior(&self) -> Option<Prior> {
        Some(self.config.prior(self.code_len()))
    }
    fn discriminate<T: Tape<f32, Dev>>(
        &self,
        z: Tensor<(usize, usize), f32, Dev, T>,
    ) -> Option<Tensor<(usize, usize), f32, Dev, T>> {
        Some(self.discriminator.forward(z))
    }
    fn is_adversarial(&self) -> bool {
        true
    }
    /// With `--whiten-codes`: the codes' first two moments matched exactly ([`Whitening`]).
    fn finish_training(&mut self, train: &dyn BatchSource, seed: u64) -> Result<()> {
        if !self.config.whiten {
            return Ok(());
        }
        let codes = self.training_codes(train, seed)?;
        Whitening::fit(&codes, self.code_len()).fold_into(&mut self.backbone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_aae_is_its_backbone_frozen() {
        use crate::models::dense::{Dense1, DenseConfig};
        let dev = Dev::seed_from_u64(6);
        let backbone = Dense1::new(&dev, &DenseConfig::shallow(30, 2).with_hidden(&[8])).unwrap();
        crate::models::inference::assert_frozen_agrees(&Aae::new(&dev, backbone, AaeConfig::default()), 11);
    }
}
