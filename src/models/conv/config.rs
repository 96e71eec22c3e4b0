use serde::{Deserialize, Serialize};

use crate::models::ReconLoss;
use crate::nn::Activation;
use crate::{Error, Result};

/// Hyperparameters of the convolutional autoencoder for 28×28 grey images
/// ([`ConvAutoencoder`](super::ConvAutoencoder)). The layer sizes are part of its type; the
/// code size and activations come from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvConfig {
    /// Size of the code (bottleneck) after the two conv blocks and a dense layer.
    pub code: usize,
    /// Activation after each conv and hidden layer.
    #[serde(default = "relu")]
    pub activation: Activation,
    /// Activation of the reconstruction: `sigmoid` for pixels in [0, 1].
    pub output_activation: Activation,
    /// Reconstruction loss: `bce` (needs a sigmoid output) or `mse`.
    pub loss: ReconLoss,
}

fn relu() -> Activation {
    Activation::Relu
}

impl ConvConfig {
    /// Pixels per image: the model takes 1×28×28.
    pub const INPUT: usize = 28 * 28;

    /// A model with a `code`-number bottleneck, ReLU, sigmoid output and BCE.
    pub fn new(code: usize) -> Self {
        Self { code, activation: Activation::Relu, output_activation: Activation::Sigmoid, loss: ReconLoss::Bce }
    }

    /// Checks every field; the error names the field and the fix.
    pub fn validate(&self) -> Result<()> {
        if self.code == 0 {
            return Err(Error::config("code", "the code needs at least one unit"));
        }
        self.loss.check_output(self.output_activation)
    }

    /// `conv 1×28×28→16×14×14→32×7×7→64→32×7×7→16×14×14→1×28×28 (relu, output sigmoid, bce)`.
    pub fn describe(&self) -> String {
        format!(
            "conv 1×28×28→16×14×14→32×7×7→{}→32×7×7→16×14×14→1×28×28 ({}, output {}, {})",
            self.code,
            self.activation,
            self.output_activation,
            self.loss.name()
        )
    }
}
