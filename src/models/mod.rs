//! Autoencoder models: the one [`Autoencoder`] trait, the [`Family`] trait each model family
//! implements, and one folder per family with its config beside it; [`registry`] lists them.

mod autoencoder;
pub mod conv;
pub mod dense;
mod family;
pub mod lstm;
pub mod registry;

pub use autoencoder::{recon_loss, recon_loss_unfused, Autoencoder, LossParts, ReconLoss};
pub use family::{BuildOptions, CardText, Family, FamilyModel, ModelVisitor};
pub use registry::{ModelConfig, FAMILIES};
