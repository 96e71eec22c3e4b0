//! Autoencoder models: the one [`Autoencoder`] trait, the [`Family`] trait each model family
//! implements, and one folder per family with its config beside it, listed once below.

pub mod aae;
pub mod adaptive;
mod autoencoder;
mod family;
mod inference;
mod regularizer;
pub mod vae;
mod variant;
#[macro_use]
mod registry;

pub use aae::{Aae, AaeConfig, PriorKind};
pub use adaptive::{Adaptive, AdaptiveConfig};
pub use autoencoder::{recon_loss, recon_loss_unfused, Autoencoder, LatentBound, LossParts, Prior, ReconLoss};
pub use family::{BuildOptions, CardText, Family, FamilyModel, HeadsVisitor, JacobianSupport, ModelVisitor};
pub use inference::Inference;
pub use regularizer::{Contractive, JacobianMethod, Sparsity};
pub use vae::{Vae, VaeConfig};
pub use variant::{Variant, VARIANTS};

// Every model family: its folder, its `Family` type and its variant of `ModelConfig`. Adding a
// family is one line here (see `registry.rs` for what the line generates).
families! {
    dense::DenseFamily => Dense,
    conv::ConvFamily => Conv,
    lstm::LstmFamily => Lstm,
}
