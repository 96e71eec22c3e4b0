//! Non-neural references measured with the same metrics as the autoencoders.

mod pca;

pub use pca::Pca;
