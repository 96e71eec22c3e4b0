//! Whole jobs on a model directory, shared by the CLI and notebooks, one file each: train,
//! evaluate, encode, figures, anomaly scoring and the demo. Each is built on the public model
//! API; the ones that take a model (rather than a directory) work for any [`Autoencoder`],
//! including models defined outside this crate.
//!
//! [`Autoencoder`]: crate::models::Autoencoder

pub mod anomaly;
pub mod demo;
pub mod encode;
pub mod evaluate;
pub mod figures;
pub mod train;

pub use demo::demo_config;
pub use encode::{codes_table, encode, write_parquet};
pub use evaluate::{check_model, evaluate, test_metrics};
pub use figures::{figures, FigureOptions, Figures};
pub use train::train;
