use serde::{Deserialize, Serialize};

use crate::models::ReconLoss;
use crate::nn::Activation;
use crate::{Error, Result};

/// Hyperparameters of the LSTM sequence autoencoder
/// ([`LstmAutoencoder`](super::LstmAutoencoder)): one value per time step (ECG5000: 140 steps).
/// The LSTMs' width is part of the type (64 units); the length and code size come from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstmConfig {
    /// Time steps per sequence.
    pub input: usize,
    /// Size of the code (bottleneck) between the encoder's final state and the decoder.
    pub code: usize,
    /// Activation of each step's output: `identity` for z-normalised series.
    pub output_activation: Activation,
    /// Reconstruction loss: `mse`, or `bce` with a sigmoid output.
    pub loss: ReconLoss,
}

impl LstmConfig {
    /// A model for `input`-step series with a `code`-number bottleneck, linear output and MSE.
    pub fn new(input: usize, code: usize) -> Self {
        Self { input, code, output_activation: Activation::Identity, loss: ReconLoss::Mse }
    }

    /// Checks every field; the error names the field and the fix.
    pub fn validate(&self) -> Result<()> {
        if self.input == 0 || self.code == 0 {
            return Err(Error::config("input/code", "a sequence needs at least one step and the code one unit"));
        }
        self.loss.check_output(self.output_activation)
    }

    /// `lstm 140 steps→LSTM 64→8→LSTM 64→140 steps (output identity, mse)`.
    pub fn describe(&self) -> String {
        format!(
            "lstm {} steps→LSTM {}→{}→LSTM {}→{} steps (output {}, {})",
            self.input,
            super::HIDDEN,
            self.code,
            super::HIDDEN,
            self.input,
            self.output_activation,
            self.loss.name()
        )
    }
}
