//! The library's one error type: every variant names the file (or setting) at fault and,
//! where there is one, the fix.

use std::path::{Path, PathBuf};

/// Errors from loading data, building models, training and checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file exists but its content is not what its format promises.
    #[error("{path}: {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and the fix.
        what: String,
    },
    /// A dataset was not found where we looked.
    #[error("dataset `{name}` not found: looked for {looked_for}. {fix}")]
    MissingData {
        /// The dataset's name.
        name: String,
        /// The paths (or hub repositories) tried.
        looked_for: String,
        /// How to get it.
        fix: String,
    },
    /// A setting (config field, CLI flag) has a value we cannot use.
    #[error("invalid `{field}`: {what}")]
    Config {
        /// The setting (`hidden`, `data.normalizer`…).
        field: String,
        /// What is wrong with it, and the fix.
        what: String,
    },
    /// A checkpoint's tensors disagree with its config.
    #[error("{path}: checkpoint does not match its config: {what}")]
    Checkpoint {
        /// The weights file.
        path: PathBuf,
        /// Every missing, unexpected and mis-shaped tensor.
        what: String,
    },
    /// A file could not be fetched from the Hugging Face hub (or found in its cache).
    #[error("hub `{repo}` ({file}): {what}")]
    Hub {
        /// The repository (`owner/name`).
        repo: String,
        /// The file in it.
        file: String,
        /// What went wrong, and the fix.
        what: String,
    },
    /// Training diverged or produced a non-finite value.
    #[error("training diverged: {0}")]
    Diverged(String),
    /// A figure could not be drawn or encoded.
    #[error("figure: {0}")]
    Figure(String),
    /// An error from the tensor library.
    #[error("tensor library: {0}")]
    Tensor(String),
    /// An error from polars while building or writing a table.
    #[error("{path}: {source}")]
    Polars {
        /// The file or dataset being handled.
        path: PathBuf,
        /// What polars said.
        #[source]
        source: polars::error::PolarsError,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A format error for `path`.
    pub fn format(path: impl AsRef<Path>, what: impl Into<String>) -> Self {
        Error::Format { path: path.as_ref().to_path_buf(), what: what.into() }
    }
    /// An I/O error for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }
    /// A bad setting.
    pub fn config(field: impl Into<String>, what: impl Into<String>) -> Self {
        Error::Config { field: field.into(), what: what.into() }
    }
    /// A polars error while handling `path`.
    pub fn polars(path: impl AsRef<Path>, source: polars::error::PolarsError) -> Self {
        Error::Polars { path: path.as_ref().to_path_buf(), source }
    }
}
