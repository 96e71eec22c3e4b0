//! Autoencoder models: the one [`Autoencoder`] trait, and one folder per model family with
//! its config beside it.

mod autoencoder;
pub mod dense;

pub use autoencoder::{recon_loss, Autoencoder, LossParts, ReconLoss};

use serde::{Deserialize, Serialize};

/// Every model this library can build, as written in a checkpoint's `config.json`
/// (`{"kind": "dense", …}`). Adding a family adds a variant here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    Dense(dense::DenseConfig),
}

impl ModelConfig {
    /// Checks the hyperparameters without building anything.
    pub fn validate(&self) -> crate::Result<()> {
        match self {
            ModelConfig::Dense(c) => c.validate(),
        }
    }

    /// A one-line summary such as `dense 784→128→64→32→64→128→784 (relu, sigmoid, bce)`.
    pub fn describe(&self) -> String {
        match self {
            ModelConfig::Dense(c) => c.describe(),
        }
    }
}
