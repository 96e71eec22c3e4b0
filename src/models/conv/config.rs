use serde::{Deserialize, Serialize};

use crate::models::ReconLoss;
use crate::nn::Activation;
use crate::{Error, Result};

/// Hyperparameters of the convolutional autoencoder ([`ConvAutoencoder`](super::ConvAutoencoder)).
/// The layer sizes are part of its type, chosen by the image shape here (one of
/// [`SIZES`](super::SIZES)); the code size and activations come from here too.
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
    /// Image channels: 1 (grey) or 3 (RGB). Configs written before images of other shapes
    /// were supported have none: 1×28×28.
    #[serde(default = "one")]
    pub channels: usize,
    /// Image height in pixels.
    #[serde(default = "twenty_eight")]
    pub height: usize,
    /// Image width in pixels.
    #[serde(default = "twenty_eight")]
    pub width: usize,
}

fn one() -> usize {
    1
}

fn twenty_eight() -> usize {
    28
}

/// The error for an image shape the conv family is not compiled for.
pub(crate) fn unsupported_size(c: usize, h: usize, w: usize) -> Error {
    let sizes: Vec<String> = super::SIZES.iter().map(|(c, h, w)| format!("{c}×{h}×{w}")).collect();
    Error::config(
        "model",
        format!(
            "the conv model is built for images of {} (channels×height×width), not {c}×{h}×{w}; resize with \
             --image-size WxH (e.g. 64x64) and pick --channels 1 or 3",
            sizes.join(", ")
        ),
    )
}

fn relu() -> Activation {
    Activation::Relu
}

impl ConvConfig {
    /// Pixels per 1×28×28 image, the shape of [`ConvConfig::new`].
    pub const INPUT: usize = 28 * 28;

    /// A model of 1×28×28 images with a `code`-number bottleneck, ReLU, sigmoid output and BCE.
    pub fn new(code: usize) -> Self {
        Self {
            code,
            activation: Activation::Relu,
            output_activation: Activation::Sigmoid,
            loss: ReconLoss::Bce,
            channels: 1,
            height: 28,
            width: 28,
        }
    }

    /// This config for `channels×height×width` images (one of [`SIZES`](super::SIZES)).
    pub fn with_image(self, channels: usize, height: usize, width: usize) -> Self {
        Self { channels, height, width, ..self }
    }

    /// Checks every field; the error names the field and the fix.
    pub fn validate(&self) -> Result<()> {
        if self.code == 0 {
            return Err(Error::config("code", "the code needs at least one unit"));
        }
        if !super::SIZES.contains(&(self.channels, self.height, self.width)) {
            return Err(unsupported_size(self.channels, self.height, self.width));
        }
        self.loss.check_output(self.output_activation)
    }

    /// `conv 1×28×28→16×14×14→32×7×7→64→32×7×7→16×14×14→1×28×28 (relu, output sigmoid, bce)`.
    pub fn describe(&self) -> String {
        let (c, h, w) = (self.channels, self.height, self.width);
        let (h2, w2, h4, w4) = (h / 2, w / 2, h / 4, w / 4);
        format!(
            "conv {c}×{h}×{w}→16×{h2}×{w2}→32×{h4}×{w4}→{}→32×{h4}×{w4}→16×{h2}×{w2}→{c}×{h}×{w} ({}, output {}, {})",
            self.code,
            self.activation,
            self.output_activation,
            self.loss.name()
        )
    }
}
