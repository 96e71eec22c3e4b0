use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use super::Dev;

/// An element-wise activation chosen at run time (it does not change any shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x): the default for hidden layers.
    Relu,
    /// tanh(x), in (-1, 1).
    Tanh,
    /// 1 / (1 + e^-x), in (0, 1): the output for images in [0, 1].
    Sigmoid,
    /// Gaussian error linear unit (tanh approximation).
    Gelu,
    /// x unchanged: a linear code, or an output for standardised data.
    Identity,
}

impl Activation {
    /// Applies the activation, recording on the tape when `x` carries one.
    pub fn apply<S: Shape, T: Tape<f32, Dev>>(self, x: Tensor<S, f32, Dev, T>) -> Tensor<S, f32, Dev, T> {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Gelu => x.fast_gelu(),
            Activation::Identity => x,
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string));
        f.write_str(&s.unwrap_or_default())
    }
}
