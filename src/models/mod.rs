//! Autoencoder models: the one [`Autoencoder`] trait, and one folder per model family with
//! its config beside it.

mod autoencoder;
pub mod conv;
pub mod dense;
pub mod lstm;

pub use autoencoder::{recon_loss, recon_loss_unfused, Autoencoder, LossParts, ReconLoss};

use serde::{Deserialize, Serialize};

/// Every model this library can build, as written in a checkpoint's `config.json`
/// (`{"kind": "dense", …}`). Adding a family adds a variant here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    Dense(dense::DenseConfig),
    Conv(conv::ConvConfig),
    Lstm(lstm::LstmConfig),
}

impl ModelConfig {
    /// Values per input sample.
    pub fn input_len(&self) -> usize {
        match self {
            ModelConfig::Dense(c) => c.input,
            ModelConfig::Conv(_) => conv::ConvConfig::INPUT,
            ModelConfig::Lstm(c) => c.input,
        }
    }

    /// Values per code.
    pub fn code_len(&self) -> usize {
        match self {
            ModelConfig::Dense(c) => c.code,
            ModelConfig::Conv(c) => c.code,
            ModelConfig::Lstm(c) => c.code,
        }
    }

    /// Checks the hyperparameters without building anything.
    pub fn validate(&self) -> crate::Result<()> {
        match self {
            ModelConfig::Dense(c) => c.validate(),
            ModelConfig::Conv(c) => c.validate(),
            ModelConfig::Lstm(c) => c.validate(),
        }
    }

    /// A one-line summary such as `dense 784→128→64→32→64→128→784 (relu, sigmoid, bce)`.
    pub fn describe(&self) -> String {
        match self {
            ModelConfig::Dense(c) => c.describe(),
            ModelConfig::Conv(c) => c.describe(),
            ModelConfig::Lstm(c) => c.describe(),
        }
    }
}
