//! Training: the loop, the optimiser, the history table and checkpoints.

pub mod adam;
pub mod checkpoint;
mod eval;
mod history;
mod trainer;

pub use adam::{Adam, AdamConfig};
pub use eval::{
    encode_all, evaluate_loss, per_sample_errors, reconstruct_all, reconstruction_errors, roc_auc, roc_curve, Metrics,
};
pub use history::{score, EpochRecord, History};
pub use trainer::{fit, LrSchedule, Progress, TrainConfig};
