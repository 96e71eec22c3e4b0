//! Data: one in-memory [`Dataset`] type, loaders for each file format, splits, batching and
//! normalisation.
//!
//! Every loader returns samples as `f32` in the file's own units (pixels 0–255, digits 0–16,
//! z-scores for ECG…); [`Normalizer`] then maps them into the range a model trains on. Samples
//! are stored row-major, one after another, each of [`Dataset::shape`].

mod batch_source;
mod dataset;
pub mod frame;
pub mod hub_parquet;
pub mod idx;
pub mod image_folder;
mod normalize;
pub mod npz;
mod prepare;
mod registry;
pub mod source;
pub mod stream;
pub mod tabular;
pub mod windows;

/// The largest expansion a deflate stream (gzip, zip) can have: deflate peaks near 1,032:1.
/// Sizes a compressed file claims beyond this are refused before anything is allocated.
pub(crate) const MAX_DEFLATE_RATIO: u64 = 1100;

pub use batch_source::BatchSource;
pub use dataset::{Batch, Batches, Dataset};
pub use image_folder::ImageSize;
pub use normalize::{NormalizeKind, Normalizer};
pub use prepare::{class_index, prepare, prepare_data, DataConfig, Prepared, DEFAULT_TEST_SPLIT};
pub use registry::{data_root, DatasetId, Split, DATA_ENV};
pub use source::{DataSource, SourceOptions};
pub use windows::Window;
