use serde::{Deserialize, Serialize};

use crate::models::ReconLoss;
use crate::nn::Activation;
use crate::{Error, Result};

/// Hyperparameters of a dense (fully connected) autoencoder. The decoder mirrors the
/// encoder: `input → hidden… → code → …hidden reversed → input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseConfig {
    /// Features per sample (784 for 28×28 images, 140 for ECG5000).
    pub input: usize,
    /// Hidden widths from the input towards the code: `[]`, `[128]` or `[128, 64]`.
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Size of the code (bottleneck): how many numbers each sample is squeezed into.
    pub code: usize,
    /// Activation after each hidden layer.
    #[serde(default = "relu")]
    pub activation: Activation,
    /// Activation of the code layer. `identity` (a linear code, the default) keeps every code
    /// unit alive; a ReLU code, as in the Keras blog, loses units that never fire.
    #[serde(default = "identity")]
    pub code_activation: Activation,
    /// Activation of the reconstruction: `sigmoid` for data in [0, 1], `identity` otherwise.
    pub output_activation: Activation,
    /// Reconstruction loss: `bce` (needs a sigmoid output) or `mse`.
    pub loss: ReconLoss,
}

fn relu() -> Activation {
    Activation::Relu
}

fn identity() -> Activation {
    Activation::Identity
}

/// The most hidden layers on each side: a model's depth is part of its type.
pub const MAX_HIDDEN: usize = 2;

impl DenseConfig {
    /// A shallow model `input → code → input` with a linear code and a sigmoid output trained
    /// with BCE (the Keras blog's first autoencoder, but for its ReLU code).
    pub fn shallow(input: usize, code: usize) -> Self {
        Self {
            input,
            hidden: vec![],
            code,
            activation: Activation::Relu,
            code_activation: Activation::Identity,
            output_activation: Activation::Sigmoid,
            loss: ReconLoss::Bce,
        }
    }

    /// The same with hidden layers.
    pub fn with_hidden(mut self, hidden: &[usize]) -> Self {
        self.hidden = hidden.to_vec();
        self
    }

    /// Every layer width from input to code: `[input, hidden…, code]`.
    pub fn encoder_widths(&self) -> Vec<usize> {
        let mut w = vec![self.input];
        w.extend(&self.hidden);
        w.push(self.code);
        w
    }

    /// Every layer width from code to output: the encoder's, reversed.
    pub fn decoder_widths(&self) -> Vec<usize> {
        let mut w = self.encoder_widths();
        w.reverse();
        w
    }

    /// Checks every field; the error names the field and the fix.
    pub fn validate(&self) -> Result<()> {
        if self.input == 0 || self.code == 0 || self.hidden.contains(&0) {
            return Err(Error::config("input/hidden/code", "every layer needs at least one unit"));
        }
        if self.hidden.len() > MAX_HIDDEN {
            return Err(Error::config(
                "hidden",
                format!("{} hidden layers given; dense models have 0 to {MAX_HIDDEN} per side", self.hidden.len()),
            ));
        }
        self.loss.check_output(self.output_activation)
    }

    /// `dense 784→128→64→32→64→128→784 (relu, code relu, output sigmoid, bce)`.
    pub fn describe(&self) -> String {
        let mut w = self.encoder_widths();
        w.extend(self.decoder_widths().into_iter().skip(1));
        let arrows: Vec<String> = w.iter().map(|v| v.to_string()).collect();
        format!(
            "dense {} ({}, code {}, output {}, {})",
            arrows.join("→"),
            self.activation,
            self.code_activation,
            self.output_activation,
            self.loss.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        let ok = r#"{"input":784,"code":32,"output_activation":"sigmoid","loss":"bce"}"#;
        let c: DenseConfig = serde_json::from_str(ok).unwrap();
        assert_eq!(c, DenseConfig::shallow(784, 32));
        let bad = r#"{"input":784,"code":32,"output_activation":"sigmoid","loss":"bce","dropout":0.1}"#;
        let e = serde_json::from_str::<DenseConfig>(bad).unwrap_err().to_string();
        assert!(e.contains("unknown field `dropout`"), "{e}");
        let mut c = DenseConfig::shallow(784, 32);
        c.output_activation = Activation::Identity;
        assert!(c.validate().unwrap_err().to_string().contains("bce needs a sigmoid output"));
        assert!(DenseConfig::shallow(784, 32).with_hidden(&[3, 2, 1]).validate().is_err());
    }

    #[test]
    fn describes_the_mirrored_widths() {
        let c = DenseConfig::shallow(784, 32).with_hidden(&[128, 64]);
        assert_eq!(c.describe(), "dense 784→128→64→32→64→128→784 (relu, code identity, output sigmoid, bce)");
    }
}
