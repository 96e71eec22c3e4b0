//! # autoencoders
//!
//! Build, train, inspect and apply autoencoders on the CPU with [dfdx]: an **encoder**
//! squeezes each input through a **code** (the bottleneck), a **decoder** rebuilds the input
//! from it, and training needs no labels — only the reconstruction error.
//!
//! ```
//! use autoencoders::models::dense::Dense1;
//! use autoencoders::prelude::*;
//!
//! # fn main() -> autoencoders::Result<()> {
//! // The 8×8 digits embedded in the crate, scaled to [0, 1].
//! let data = autoencoders::data::prepare(&DatasetId::Digits, None)?;
//! let (train, val) = data.train.split(0.1, 0)?;
//! // 64 → 32 → 8 → 32 → 64: each digit squeezed into 8 numbers.
//! let config = DenseConfig::shallow(64, 8).with_hidden(&[32]);
//! let mut model = Dense1::new(&Dev::seed_from_u64(0), &config)?;
//! let cfg = TrainConfig { epochs: 30, batch_size: 32, ..Default::default() };
//! let history = Trainer::new(&cfg).fit(&mut model, &train, &val)?;
//! let metrics = Metrics::compute(&model, &data.test)?;
//! assert!(history.records.last().unwrap().train_loss < history.records[0].train_loss);
//! println!("test BCE {:.4}", metrics.test_bce.unwrap());
//! # Ok(()) }
//! ```
//!
//! ## Data flow and modules
//!
//! Each arrow is one module, and imports follow the arrows, never back:
//!
//! ```text
//! files ─► data ─► models ─► train ─► model_dir ─► pretrained ─► apps ─► CLI (main.rs)
//!          Dataset  encoder   Trainer   config.json   from_pretrained   train, eval,
//!          splits   → code    + a step  + weights     (dir or hub)      encode, figures…
//!                   → decoder
//! ```
//!
//! | module | what it holds |
//! |---|---|
//! | [`error`](Error), [`fs`] | the one error type; atomic writes |
//! | [`hub`] | the Hugging Face hub client (downloads and the cache only) |
//! | [`data`] | [`Dataset`](data::Dataset), [`DataSource`](data::DataSource) (built-in names, files, folders, hub datasets), one loader per file format, splits, normalisation, [`DataConfig`](data::DataConfig) |
//! | [`nn`] | layers with their own kernels (dense, conv, LSTM), [`Params`](nn::Params) |
//! | [`models`] | the [`Autoencoder`](models::Autoencoder) trait, the [`Family`](models::Family) trait, one folder per family, and the one list of families; the objective axis [`Variant`](models::Variant) and the [`Vae`](models::Vae) |
//! | [`train`] | [`Trainer`](train::Trainer), [`TrainStep`](train::TrainStep), [`Corruption`](train::Corruption), Adam, history, checkpoints, metrics |
//! | [`model_dir`] | the model-directory format: file names, [`RunConfig`](model_dir::RunConfig) (`config.json`), loading |
//! | [`pretrained`] | [`Pretrained::from_pretrained`](pretrained::Pretrained::from_pretrained) for every model type |
//! | [`baselines`] | PCA and a supervised classifier, measured like the autoencoders |
//! | [`viz`] | every figure and table; each saves PNG/SVG and displays inline in evcxr |
//! | [`apps`] | whole jobs on a model directory (train, evaluate, encode, figures, anomaly, sweep, generate, demo) |
//! | [`export`] | hub-ready folders and model cards |
//!
//! A new model family is a folder under `models/` implementing [`Family`](models::Family),
//! plus one line in the `families!` list in `models/mod.rs`; `examples/custom_model.rs` defines one outside the
//! crate.

#![warn(missing_docs)]

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
/// The tensor, table and image libraries this crate's API speaks, re-exported so a notebook or
/// program uses the very same versions (and, in a notebook, needs no `:dep` of its own).
pub use {dfdx, image, polars};

/// The names most programs and notebooks need.
pub mod prelude {
    pub use crate::data::{DataSource, Dataset, DatasetId, Normalizer, Split};
    pub use crate::models::dense::{DenseAutoencoder, DenseConfig};
    pub use crate::models::{Autoencoder, ModelConfig, ReconLoss};
    pub use crate::nn::{Activation, Dev, Params};
    pub use crate::pretrained::Pretrained;
    pub use crate::train::{fit, AdamConfig, History, Metrics, Progress, TrainConfig, Trainer};
    pub use crate::{Error, Result};
    /// What it takes to make and read tensors: `dev.tensor_from_vec(v, shape)`, `t.as_vec()`.
    pub use dfdx::prelude::{Const, Tensor, TensorFromVec};
}
