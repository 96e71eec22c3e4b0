//! The objective axis of a model (`--variant`): what is trained on a backbone's layers and
//! how. A plain autoencoder reconstructs; a VAE ([`vae`](super::vae)) is a latent-variable
//! model trained on the ELBO. Recorded in `config.json` beside the backbone's config.

use serde::{Deserialize, Serialize};

use super::vae::{Vae, VaeConfig};
use super::{Autoencoder, HeadsVisitor, ModelConfig, ModelVisitor};
use crate::nn::{Activation, Dev};
use crate::{Error, Result};

/// What a backbone is trained as: `{"kind": "plain"}` (the default, and what configs written
/// before variants existed mean) or `{"kind": "vae", "beta": 1.0}`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Variant {
    /// An autoencoder trained to reconstruct (with the noise and regularisers the training
    /// config adds).
    #[default]
    Plain,
    /// A variational autoencoder.
    Vae(VaeConfig),
}

/// The `--variant` names, with one line each for `--help`.
pub const VARIANTS: &[(&str, &str)] = &[
    ("plain", "An autoencoder trained to reconstruct its input (with --noise, --sparsity, --contractive)."),
    (
        "vae",
        "A variational autoencoder (Kingma & Welling): Gaussian codes, trained on the ELBO (--beta); dense and conv.",
    ),
];

impl Variant {
    /// The variant of `--variant NAME`, with its default settings.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "plain" => Ok(Variant::Plain),
            "vae" => Ok(Variant::Vae(VaeConfig::default())),
            other => {
                let names: Vec<&str> = VARIANTS.iter().map(|v| v.0).collect();
                Err(Error::config("variant", format!("no variant `{other}`; the variants are {}", names.join(", "))))
            }
        }
    }

    /// Its name in `config.json` and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Vae(_) => "vae",
        }
    }

    /// Whether this is the plain autoencoder (then `config.json` omits it).
    pub fn is_plain(&self) -> bool {
        *self == Variant::Plain
    }

    /// Whether the model is a latent-variable model with a prior to generate from.
    pub fn is_generative(&self) -> bool {
        !self.is_plain()
    }

    /// Checks the variant's settings and that `model` can carry it.
    pub fn validate(&self, model: &ModelConfig) -> Result<()> {
        match self {
            Variant::Plain => Ok(()),
            Variant::Vae(c) => {
                c.validate()?;
                if !matches!(model, ModelConfig::Dense(_) | ModelConfig::Conv(_)) {
                    return Err(Error::config(
                        "variant",
                        format!("--variant vae is built on --model dense or conv, not {}", model.family()),
                    ));
                }
                if model.code_activation() != Activation::Identity {
                    return Err(Error::config(
                        "code_activation",
                        format!(
                            "a VAE's code layer emits means and log-variances, which need a linear (identity) code, \
                             not {}; drop --code-activation",
                            model.code_activation()
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// `vae (β 1, Bernoulli decoder) on dense 784→400→20→400→784 (…)`, or the backbone's own
    /// description for a plain model.
    pub fn describe(&self, model: &ModelConfig) -> String {
        match self {
            Variant::Plain => model.describe(),
            Variant::Vae(c) => {
                let decoder = match model.card().loss {
                    super::ReconLoss::Bce => "Bernoulli",
                    super::ReconLoss::Mse => "unit-variance Gaussian",
                };
                format!("vae (β {}, {decoder} decoder) on {}", c.beta, model.describe())
            }
        }
    }

    /// Parameters beyond the backbone's (a VAE's second head on the encoder's last layer),
    /// or `None` when the count is not known from the config alone.
    pub fn extra_params(&self, model: &ModelConfig) -> Option<u64> {
        match (self, model) {
            (Variant::Plain, _) => Some(0),
            (Variant::Vae(_), ModelConfig::Dense(d)) => {
                let last = d.hidden.last().copied().unwrap_or(d.input) as u64;
                Some((last + 1) * d.code as u64)
            }
            (Variant::Vae(_), ModelConfig::Conv(c)) => {
                let flat = 32 * (c.height as u64 / 4) * (c.width as u64 / 4);
                Some((flat + 1) * c.code as u64)
            }
            _ => None,
        }
    }

    /// Builds the model `model` describes as this variant (freshly initialised from `dev`'s
    /// seed) and runs `visitor` on it.
    pub fn build<V: ModelVisitor>(&self, model: &ModelConfig, dev: &Dev, visitor: V) -> Result<V::Output> {
        match self {
            Variant::Plain => model.build(dev, visitor),
            Variant::Vae(c) => model.build_heads(dev, 2, AsVae { config: *c, then: visitor }),
        }
    }
}

/// Wraps a two-headed backbone as a [`Vae`] and hands it on.
struct AsVae<V> {
    config: VaeConfig,
    then: V,
}

impl<V: ModelVisitor> HeadsVisitor for AsVae<V> {
    type Output = V::Output;
    fn visit<M: Autoencoder<Code = (usize, usize)>>(self, model: M) -> Result<V::Output> {
        self.then.visit(Vae::new(model, self.config))
    }
}
