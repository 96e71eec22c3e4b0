use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::nn::{Activation, Dev, Params};

/// How a reconstruction is compared with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ReconLoss {
    /// Mean squared error, for any data.
    Mse,
    /// Mean per-element binary cross-entropy, for targets in [0, 1] and a sigmoid output.
    Bce,
}

impl ReconLoss {
    /// Checks that `output` suits this loss: BCE needs probabilities, so a sigmoid output.
    pub fn check_output(self, output: Activation) -> crate::Result<()> {
        if self == ReconLoss::Bce && output != Activation::Sigmoid {
            return Err(crate::Error::config(
                "loss",
                format!("bce needs a sigmoid output, not {output}; use --loss mse or a sigmoid output"),
            ));
        }
        Ok(())
    }

    /// The name used in configs and on the command line: `mse` or `bce`.
    pub fn name(self) -> &'static str {
        match self {
            ReconLoss::Mse => "mse",
            ReconLoss::Bce => "bce",
        }
    }
}

/// A loss split into its parts: `total = recon + reg`. `total` carries the tape for
/// backpropagation; the parts are plain numbers for logging.
pub struct LossParts<T> {
    pub total: Tensor<Rank0, f32, Dev, T>,
    pub recon: f32,
    pub reg: f32,
}

impl<T: Tape<f32, Dev>> LossParts<T> {
    /// A loss with no regulariser.
    pub fn recon_only(recon: Tensor<Rank0, f32, Dev, T>) -> Self {
        let value = recon.array();
        Self { total: recon, recon: value, reg: 0.0 }
    }
}

/// The reconstruction loss of pre-activation decoder outputs `logits` against `target`.
///
/// BCE is computed from logits (numerically stable, like PyTorch's `BCEWithLogitsLoss`), so it
/// requires a sigmoid output; MSE applies the output activation first.
pub fn recon_loss<S: Shape, T: Tape<f32, Dev>>(
    logits: Tensor<S, f32, Dev, T>,
    target: Tensor<S, f32, Dev>,
    output: Activation,
    loss: ReconLoss,
) -> Tensor<Rank0, f32, Dev, T> {
    match loss {
        ReconLoss::Bce => binary_cross_entropy_with_logits_loss(logits, target),
        ReconLoss::Mse => mse_loss(output.apply(logits), target),
    }
}

/// An encoder → code → decoder model. A variant implements only what differs: the dense
/// model writes `encode` and `decode_logits`; a sparse or variational one also overrides
/// `loss` to add its regulariser.
pub trait Autoencoder: Params {
    /// A batch of inputs, e.g. `(usize, Const<784>)`.
    type Input: Shape;
    /// A batch of codes, e.g. `(usize, Const<32>)`.
    type Code: Shape;

    /// The input shape of a batch of `batch` samples.
    fn input_shape(&self, batch: usize) -> Self::Input;

    /// Values in one code.
    fn code_len(&self) -> usize;

    /// The output activation and the reconstruction loss it trains with.
    fn output(&self) -> (Activation, ReconLoss);

    /// Maps inputs to codes.
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T>;

    /// Maps codes to decoder outputs before the output activation.
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T>;

    /// Maps codes to reconstructions.
    fn decode<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        self.output().0.apply(self.decode_logits(z))
    }

    /// Encodes then decodes.
    fn reconstruct<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        self.decode(self.encode(x))
    }

    /// The training loss of inputs `x` against clean `target` (the same data, unless a
    /// denoising variant corrupted `x`).
    fn loss<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Self::Input, f32, Dev, T>,
        target: Tensor<Self::Input, f32, Dev>,
    ) -> LossParts<T> {
        let (act, loss) = self.output();
        let logits = self.decode_logits(self.encode(x));
        LossParts::recon_only(recon_loss(logits, target, act, loss))
    }
}
