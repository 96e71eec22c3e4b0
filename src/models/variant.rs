//! The objective axis of a model (`--variant`): what is trained on a backbone's layers and
//! how. A plain autoencoder reconstructs; a VAE ([`vae`](super::vae)) is a latent-variable
//! model trained on the ELBO. Recorded in `config.json` beside the backbone's config.

use serde::{Deserialize, Serialize};

use super::aae::{Aae, AaeConfig};
use super::adaptive::{Adaptive, AdaptiveConfig};
use super::dense::Dense0;
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
    /// An adversarial autoencoder.
    Aae(AaeConfig),
    /// An adaptive autoencoder: a one-hidden-layer denoising autoencoder that adds and merges
    /// features while it learns from a stream.
    Adaptive(AdaptiveConfig),
}

/// The `--variant` names, with one line each for `--help`.
pub const VARIANTS: &[(&str, &str)] = &[
    ("plain", "An autoencoder trained to reconstruct its input (with --noise, --sparsity, --contractive)."),
    (
        "vae",
        "A variational autoencoder (Kingma & Welling): Gaussian codes, trained on the ELBO (--beta); dense and conv.",
    ),
    (
        "aae",
        "An adversarial autoencoder (Makhzani et al.): a discriminator matches the codes to --prior; dense and conv.",
    ),
    (
        "adaptive",
        "An adaptive denoising autoencoder (Zhou et al. 2012): adds and merges features on a stream; dense, no \
         --hidden, --code = the starting features.",
    ),
];

impl Variant {
    /// The variant of `--variant NAME`, with its default settings.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "plain" => Ok(Variant::Plain),
            "vae" => Ok(Variant::Vae(VaeConfig::default())),
            "aae" => Ok(Variant::Aae(AaeConfig::default())),
            "adaptive" => Ok(Variant::Adaptive(AdaptiveConfig::default())),
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
            Variant::Aae(_) => "aae",
            Variant::Adaptive(_) => "adaptive",
        }
    }

    /// Whether this is the plain autoencoder (then `config.json` omits it).
    pub fn is_plain(&self) -> bool {
        *self == Variant::Plain
    }

    /// Whether the model is a latent-variable model with a prior to generate from.
    pub fn is_generative(&self) -> bool {
        matches!(self, Variant::Vae(_) | Variant::Aae(_))
    }

    /// Checks the variant's settings and that `model` can carry it.
    pub fn validate(&self, model: &ModelConfig) -> Result<()> {
        match self {
            Variant::Plain => Ok(()),
            Variant::Aae(c) => {
                c.validate(model.code_len())?;
                self.check_backbone(model)
            }
            Variant::Vae(c) => {
                c.validate()?;
                self.check_backbone(model)?;
                Ok(())
            }
            Variant::Adaptive(c) => {
                let ModelConfig::Dense(d) = model else {
                    return Err(Error::config(
                        "variant",
                        format!("--variant adaptive is built on --model dense, not {}", model.family()),
                    ));
                };
                if !d.hidden.is_empty() {
                    return Err(Error::config(
                        "hidden",
                        format!(
                            "an adaptive autoencoder has one layer of features (its code), not hidden layers {:?}; \
                             drop --hidden and give the starting features with --code",
                            d.hidden
                        ),
                    ));
                }
                c.validate(d.code)
            }
        }
    }

    /// Dense and conv backbones only, with a linear code (means, log-variances and codes to
    /// match a prior are all unbounded).
    fn check_backbone(&self, model: &ModelConfig) -> Result<()> {
        if !matches!(model, ModelConfig::Dense(_) | ModelConfig::Conv(_)) {
            return Err(Error::config(
                "variant",
                format!("--variant {} is built on --model dense or conv, not {}", self.name(), model.family()),
            ));
        }
        if model.code_activation() != Activation::Identity {
            return Err(Error::config(
                "code_activation",
                format!(
                    "a {}'s codes are unbounded (means and log-variances, or codes matched to a prior), so its code \
                     layer must be linear (identity), not {}; drop --code-activation",
                    self.name(),
                    model.code_activation()
                ),
            ));
        }
        Ok(())
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
            Variant::Aae(c) => {
                let prior = match c.prior {
                    super::aae::PriorKind::Gaussian => "gaussian",
                    super::aae::PriorKind::Circle10 => "circle10",
                };
                let whiten = if c.whiten { ", whitened codes" } else { "" };
                format!("aae ({prior} prior, discriminator {0}→{0}{whiten}) on {1}", c.discriminator, model.describe())
            }
            Variant::Adaptive(c) => {
                let fixed = if c.fixed_width { ", fixed width (a control)" } else { "" };
                format!(
                    "adaptive ({} features at the start, pool {}, first add {}, at most {} features{fixed}) on {}",
                    model.code_len(),
                    c.pool,
                    c.first_add,
                    c.max_features,
                    model.describe()
                )
            }
        }
    }

    /// Parameters beyond the backbone's (a VAE's second head on the encoder's last layer),
    /// or `None` when the count is not known from the config alone.
    pub fn extra_params(&self, model: &ModelConfig) -> Option<u64> {
        match (self, model) {
            (Variant::Plain, _) => Some(0),
            // Its width changes while it trains: the config gives only the start.
            (Variant::Adaptive(_), _) => None,
            (Variant::Vae(_), ModelConfig::Dense(d)) => {
                let last = d.hidden.last().copied().unwrap_or(d.input) as u64;
                Some((last + 1) * d.code as u64)
            }
            (Variant::Vae(_), ModelConfig::Conv(c)) => {
                let flat = 32 * (c.height as u64 / 4) * (c.width as u64 / 4);
                Some((flat + 1) * c.code as u64)
            }
            (Variant::Aae(c), _) => {
                let (k, h) = (model.code_len() as u64, c.discriminator as u64);
                Some(k * h + h + h * h + h + h + 1)
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
            Variant::Aae(c) => model.build_heads(dev, 1, AsAae { config: *c, dev: dev.clone(), then: visitor }),
            Variant::Adaptive(c) => {
                self.validate(model)?;
                let ModelConfig::Dense(d) = model else { unreachable!("validated: dense") };
                visitor.visit(Adaptive::new(Dense0::new(dev, d)?, *c))
            }
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

/// Adds a discriminator to a backbone as an [`Aae`] and hands it on.
struct AsAae<V> {
    config: AaeConfig,
    dev: Dev,
    then: V,
}

impl<V: ModelVisitor> HeadsVisitor for AsAae<V> {
    type Output = V::Output;
    fn visit<M: Autoencoder<Code = (usize, usize)>>(self, model: M) -> Result<V::Output> {
        self.then.visit(Aae::new(&self.dev, model, self.config))
    }
}
