//! References measured with the same data and metrics as the autoencoders: PCA, the linear
//! autoencoder's closed form; a supervised classifier, the contrast to self-supervision; and
//! the Isolation Forest, the tabular anomaly detector to beat.

mod classifier;
mod isolation_forest;
mod pca;

pub use classifier::{Classifier, ClassifierTraining};
pub use isolation_forest::{IsolationForest, IsolationForestOptions};
pub use pca::Pca;
