//! References measured with the same data and metrics as the autoencoders: PCA, the linear
//! autoencoder's closed form; a supervised classifier, the contrast to self-supervision; and
//! the Isolation Forest, the tabular anomaly detector to beat; exact nearest neighbours, the
//! k-NN classifier's and the one-class study's neighbour score; multinomial logistic
//! regression, the feature-extraction probe's linear classifier.

mod classifier;
mod isolation_forest;
mod logistic;
pub mod neighbours;
mod pca;

pub use classifier::{Classifier, ClassifierTraining};
pub use isolation_forest::{IsolationForest, IsolationForestOptions};
pub use logistic::{Logistic, LogisticFit, GRADIENT_TOLERANCE};
pub use pca::Pca;
