//! Data: one in-memory [`Dataset`] type, loaders for each file format, splits, batching and
//! normalisation.
//!
//! Every loader returns samples as `f32` in the file's own units (pixels 0–255, digits 0–16,
//! z-scores for ECG…); [`Normalizer`] then maps them into the range a model trains on. Samples
//! are stored row-major, one after another, each of [`Dataset::shape`].

mod batch_source;
pub mod class_stream;
mod dataset;
pub mod frame;
pub mod hub_parquet;
pub mod idx;
pub mod image_folder;
mod normalize;
pub mod npz;
mod parquet_check;
mod prepare;
mod registry;
pub mod source;
pub mod stream;
pub mod tabular;
pub mod windows;

/// The largest expansion a deflate stream (gzip, zip) can have: deflate peaks near 1,032:1.
/// Sizes a compressed file claims beyond this are refused before anything is allocated.
pub(crate) const MAX_DEFLATE_RATIO: u64 = 1100;

/// Runs a third-party reader on `path`, turning a panic inside it into an error naming the
/// file: polars' parquet decoder asserts on some damaged files (found by fuzzing: "offset +
/// length <= self.length" in a dictionary page) instead of returning an error.
pub(crate) fn guarded<T>(path: &std::path::Path, read: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(crate::Error::format(
            path,
            format!(
                "the reader failed on this file ({msg}); the file is damaged, or uses a feature it does not support"
            ),
        ))
    })
}

pub use batch_source::BatchSource;
pub use class_stream::{ClassIncremental, StreamOrder};
pub use dataset::{Batch, Batches, Dataset};
pub use image_folder::ImageSize;
pub use normalize::{NormalizeKind, Normalizer};
pub use prepare::{class_index, prepare, prepare_data, DataConfig, Prepared, DEFAULT_TEST_SPLIT};
pub use registry::{adbench_sets, data_root, DatasetId, Split, DATA_ENV};
pub use source::{DataSource, SourceOptions};
pub use windows::Window;
