//! # autoencoders
//!
//! Build, train, inspect and apply autoencoders on the CPU with [dfdx]: an **encoder**
//! squeezes each input through a **code** (the bottleneck), a **decoder** rebuilds the input
//! from it, and training needs no labels — only the reconstruction error.
//!
//! Data flows one way: files → [`data::Dataset`] → [`models`] → [`train`] → checkpoint
//! directory → evaluation and [`viz`] figures.

pub mod apps;
pub mod baselines;
pub mod data;
mod error;
pub mod export;
pub mod fs;
pub mod hub;
pub mod model_dir;
pub mod models;
pub mod nn;
pub mod pretrained;
pub mod train;
pub mod viz;

pub use error::{Error, Result};
/// The tensor and table libraries this crate's API speaks, re-exported so a notebook or
/// program uses the very same versions.
pub use {dfdx, polars};

/// The names most programs and notebooks need.
pub mod prelude {
    pub use crate::data::{Dataset, DatasetId, Normalizer, Split};
    pub use crate::models::dense::{DenseAutoencoder, DenseConfig};
    pub use crate::models::{Autoencoder, ModelConfig, ReconLoss};
    pub use crate::nn::{Activation, Dev, Params};
    pub use crate::pretrained::Pretrained;
    pub use crate::train::{fit, AdamConfig, History, Metrics, Progress, TrainConfig, Trainer};
    pub use crate::{Error, Result};
    /// What it takes to make and read tensors: `dev.tensor_from_vec(v, shape)`, `t.as_vec()`.
    pub use dfdx::prelude::{Const, Tensor, TensorFromVec};
}
