//! References measured with the same data and metrics as the autoencoders: PCA, the linear
//! autoencoder's closed form, and a supervised classifier, the contrast to self-supervision.

mod classifier;
mod pca;

pub use classifier::{Classifier, ClassifierTraining};
pub use pca::Pca;
