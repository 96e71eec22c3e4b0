//! Training: the [`Trainer`] loop around a [`TrainStep`], the optimiser, the history table,
//! checkpoints, and evaluation over whole datasets.

pub mod adam;
mod adaptive;
mod adversarial;
pub mod checkpoint;
mod eval;
mod history;
mod noise;
pub mod quality;
mod regularized;
pub mod sample_quality;
mod step;
mod trainer;

pub use crate::data::BatchSource;
pub use adam::{Adam, AdamConfig};
pub use adaptive::{
    Adaptation, AdaptiveStep, LogRow, ADAPTIVE_LOG, ADD_DECAY, ADD_GROWTH, GAIN_PER_FEATURE, HARD_Z, JOINT_PASSES,
    LOG_EVERY_SAMPLES, MAX_ADD_FRACTION, MERGE_RATIO, MONITOR_SAMPLES, NEW_FEATURE_PASSES,
};
pub use adversarial::{AdversarialLosses, AdversarialStep, ADVERSARIAL_LR, DISCRIMINATOR_STEPS};
pub use eval::{
    average_precision, code_stats, encode_all, evaluate_loss, evaluate_loss_of, jacobian_norms, jacobian_stats,
    latent_scores, median, per_sample_errors, pr_curve, prior_fit, reconstruct_all, reconstruction_errors, roc_auc,
    roc_curve, variational_stats, CodeStats, JacobianStats, MetricSums, Metrics, PriorFit, VariationalStats,
    ACTIVE_UNIT_VARIANCE,
};
pub use history::{score, EpochRecord, History};
pub use noise::{InputNoise, Noise};
pub use regularized::RegularizedStep;
pub use step::{Corruption, LossValues, PlainStep, StepBatch, TrainStep};
pub use trainer::{fit, LrSchedule, Progress, TrainConfig, Trainer, DIVERGENCE_FACTOR};
