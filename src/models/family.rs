//! What a model family is to the rest of the crate: one trait, [`Family`], that gathers its
//! config checks and description, the CLI's mapping, the export card's text and the building
//! of its model types. Each family implements it in its own folder (`models/<name>/`) and is
//! registered by one line in [`super::registry`].

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Autoencoder, ReconLoss};
use crate::nn::{Activation, Dev};
use crate::Result;

/// A model family (a backbone: the layers). Everything the CLI, the model directory, the hub
/// loader and the export card need to know about it is here, so none of them matches on
/// families by hand.
pub trait Family {
    /// The name in `config.json` (`"kind"`) and on the command line (`--model`).
    const NAME: &'static str;
    /// One line for `--help`: what the family is and which options apply.
    const ABOUT: &'static str;
    /// Its hyperparameters, as stored in `config.json`.
    type Config: Clone + PartialEq + Debug + Serialize + DeserializeOwned;

    /// A small config of this family, for tests and examples (every registered family is
    /// built, saved, reloaded and carded from it in the registry's tests).
    fn example() -> Self::Config;
    /// Checks every field; the error names the field and the fix.
    fn validate(cfg: &Self::Config) -> Result<()>;
    /// A one-line summary such as `dense 784→32→784 (…)`.
    fn describe(cfg: &Self::Config) -> String;
    /// Values per input sample.
    fn input_len(cfg: &Self::Config) -> usize;
    /// Values per code.
    fn code_len(cfg: &Self::Config) -> usize;
    /// How many parameters a model of `cfg` has (saturating), computed without building it:
    /// loading checks it against the weights file before allocating, so a config edited to
    /// absurd sizes is an error, not an out-of-memory abort. 0 (the default) skips the check.
    fn num_params(_cfg: &Self::Config) -> u64 {
        0
    }
    /// The activation of the code layer (a KL sparsity penalty needs a sigmoid code).
    fn code_activation(_cfg: &Self::Config) -> Activation {
        Activation::Identity
    }
    /// What the contractive penalty can use on a model of `cfg` (its type implements
    /// [`Autoencoder::encode_jvp`], and [`Autoencoder::encode_jacobian_sq`] where `exact`), or
    /// why it cannot be trained with one. By default: not at all.
    fn jacobian(_cfg: &Self::Config) -> std::result::Result<JacobianSupport, String> {
        Err(format!("the {} family has no Jacobian–vector products", Self::NAME))
    }
    /// The config the command line's options describe; an error for options that do not apply.
    fn from_options(opts: &BuildOptions) -> Result<Self::Config>;
    /// What the export card says about a model of this family.
    fn card(cfg: &Self::Config) -> CardText;
    /// Builds the model type that holds `cfg` (freshly initialised) and hands it to `visitor`.
    fn build<V: ModelVisitor>(cfg: &Self::Config, dev: &Dev, visitor: V) -> Result<V::Output>;

    /// Builds a model of `cfg` whose encoder emits `heads` values per code unit (a VAE's mean
    /// and log-variance, side by side: `heads × code` linear outputs) and whose decoder reads
    /// `code`, and hands it to `visitor`. By default the family cannot.
    fn build_heads<V: HeadsVisitor>(_cfg: &Self::Config, _dev: &Dev, _heads: usize, _visitor: V) -> Result<V::Output> {
        Err(crate::Error::config(
            "variant",
            format!("the {} family has no encoder with several heads; use --model dense or conv", Self::NAME),
        ))
    }
}

/// [`ModelVisitor`] for a model built by [`Family::build_heads`]: its codes are runtime-sized
/// rows, so an objective (a VAE) can take the heads apart.
pub trait HeadsVisitor {
    /// What the visit returns.
    type Output;
    /// Runs on the freshly built model.
    fn visit<M: Autoencoder<Code = (usize, usize)>>(self, model: M) -> Result<Self::Output>;
}

/// A computation over a model of any type: what a generic closure would be, if Rust had them.
/// [`super::ModelConfig::build`] picks the model type at run time and calls [`visit`](Self::visit).
pub trait ModelVisitor {
    /// What the visit returns.
    type Output;
    /// Runs on the freshly built model.
    fn visit<M: Autoencoder>(self, model: M) -> Result<Self::Output>;
}

/// The model options of `autoencoders train`, independent of the family; each family reads
/// the ones that apply to it and refuses the others.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOptions {
    /// Values per sample of the dataset.
    pub input: usize,
    /// The shape of one sample (`[C, H, W]` for images, `[d]` for tables).
    pub shape: Vec<usize>,
    /// Code size.
    pub code: usize,
    /// Hidden widths from the input towards the code (`--hidden`).
    pub hidden: Vec<usize>,
    /// Activation of the hidden layers.
    pub activation: Activation,
    /// Activation of the code layer.
    pub code_activation: Activation,
    /// Output activation.
    pub output_activation: Activation,
    /// Reconstruction loss.
    pub loss: ReconLoss,
}

/// What a family offers the contractive penalty ([`Family::jacobian`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JacobianSupport {
    /// The closed form of `‖J‖²_F` (else only Hutchinson's estimator).
    pub exact: bool,
}

/// The parts of a model card that depend on the family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardText {
    /// The Rust type that loads it (`Dense1`, `ConvAutoencoder`).
    pub rust_type: String,
    /// Its module under `autoencoders::models` (`dense`).
    pub module: &'static str,
    /// The hub tag (`dense-autoencoder`).
    pub tag: &'static str,
    /// How `model.safetensors` names and lays out its tensors (one or more sentences).
    pub weight_layout: String,
    /// The reconstruction loss it trains with.
    pub loss: ReconLoss,
}

/// A model type that belongs to a family and can be built from its config: what
/// [`from_pretrained`](crate::pretrained::Pretrained::from_pretrained) needs to load it.
pub trait FamilyModel: Autoencoder + Sized {
    /// The family whose configs it holds.
    type Family: Family;
    /// A freshly initialised model; an error when `cfg` does not fit this type (say a
    /// two-hidden-layer config for `Dense1`).
    fn from_config(dev: &Dev, cfg: &<Self::Family as Family>::Config) -> Result<Self>;
}
