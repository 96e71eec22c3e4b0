use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, named_tensors, NamedTensor, RESUME, WEIGHTS};
use super::history::score;
use super::{evaluate_loss, Adam, AdamConfig, EpochRecord, History};
use crate::data::Dataset;
use crate::models::Autoencoder;
use crate::nn::Dev;
use crate::{Error, Result};

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Optimiser settings.
    pub adam: AdamConfig,
    /// Seed for the validation split and the shuffling of every epoch.
    pub seed: u64,
    /// Fraction of the training split held out for validation (0 for none).
    pub val_split: f64,
    /// Stop after this many epochs without a better validation loss (`None`: never).
    pub patience: Option<usize>,
    /// How the learning rate changes over the run.
    #[serde(default)]
    pub schedule: LrSchedule,
}

/// Learning-rate schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Cosine decay from the rate to 0 over all epochs' steps (Loshchilov & Hutter 2017,
    /// without restarts); usually a lower final loss for the same epochs.
    Cosine,
}

impl LrSchedule {
    /// The rate at optimiser step `step` (0-based) of `total`.
    pub fn lr(self, base: f64, step: u64, total: u64) -> f64 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / total.max(1) as f64).cos()),
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 128,
            adam: AdamConfig::default(),
            seed: 0,
            val_split: 0.1,
            patience: Some(5),
            schedule: LrSchedule::Constant,
        }
    }
}

/// What the trainer shows while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing.
    Quiet,
    /// One line per epoch on stderr.
    Lines,
    /// An indicatif bar per epoch (running loss, samples/s) and a line per epoch.
    Bar,
}

/// The counters that, with the weights and Adam's moments, make training resumable.
#[derive(Debug, Clone, Copy)]
struct Counters {
    epochs_done: usize,
    best: f64,
    bad_epochs: usize,
}

/// Trains `model` on `train`, validating on `val` (may be empty) after each epoch.
///
/// With `dir`, each epoch writes `history.csv`, `resume.safetensors` (last weights + optimiser)
/// and, when validation improves, `model.safetensors`; all atomically. With `resume`, training
/// continues from `dir/resume.safetensors` — the result equals an uninterrupted run, because
/// epoch `k` shuffles with a seed derived from `(seed, k)` only.
///
/// Stops early after `patience` epochs without improvement, and fails with
/// [`Error::Diverged`] on a non-finite loss.
pub fn fit<M: Autoencoder>(
    model: &mut M,
    train: &Dataset,
    val: &Dataset,
    cfg: &TrainConfig,
    dir: Option<&Path>,
    resume: bool,
    progress: Progress,
) -> Result<History> {
    if cfg.batch_size == 0 || train.is_empty() {
        return Err(Error::config("batch_size", "needs a batch size ≥ 1 and a non-empty training set"));
    }
    // Ids from this code's counter: see `Params::refresh_ids` (models built in another
    // notebook cell).
    model.refresh_ids();
    crate::nn::tune_allocator();
    let mut adam = Adam::new(cfg.adam);
    let mut history = History::default();
    let mut c = Counters { epochs_done: 0, best: f64::INFINITY, bad_epochs: 0 };
    if resume {
        let dir = dir.ok_or_else(|| Error::config("resume", "needs a model directory"))?;
        c = load_resume(model, &mut adam, dir)?;
        history = History::load_csv(&dir.join(checkpoint::HISTORY))?;
        history.records.truncate(c.epochs_done);
    }
    let dev = Dev::default();
    let steps_per_epoch = train.len().div_ceil(cfg.batch_size) as u64;
    let total_steps = steps_per_epoch * cfg.epochs as u64;
    while c.epochs_done < cfg.epochs {
        if cfg.patience.is_some_and(|p| c.bad_epochs >= p) {
            if progress != Progress::Quiet {
                eprintln!("early stop: no improvement for {} epochs", c.bad_epochs);
            }
            break;
        }
        let epoch = c.epochs_done + 1;
        let start = Instant::now();
        let bar = make_bar(progress, train.len().div_ceil(cfg.batch_size), epoch, cfg.epochs);
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64));
        let (mut sum, mut recon, mut reg, mut seen) = (0.0f64, 0.0f64, 0.0f64, 0usize);
        let d = train.sample_len();
        for (b, idx) in order.chunks(cfg.batch_size).enumerate() {
            // Gathered straight into the batch tensor's buffer: no zeroing, no second copy.
            let mut buf = Vec::with_capacity(idx.len() * d);
            idx.iter().for_each(|&i| buf.extend_from_slice(train.sample(i)));
            let x = dev.tensor_from_vec(buf, model.input_shape(idx.len()));
            let parts = model.loss(x.clone().traced(model.alloc_grads()), x);
            let value = parts.total.array();
            if !value.is_finite() {
                return Err(Error::Diverged(format!(
                    "epoch {epoch}, batch {}: loss is {value}; lower the learning rate (now {}) or check the data",
                    b + 1,
                    cfg.adam.lr
                )));
            }
            let mut grads = parts.total.backward();
            adam.cfg.lr = cfg.schedule.lr(cfg.adam.lr, adam.step, total_steps);
            adam.update(model, &mut grads);
            let n = idx.len() as f64;
            (sum, recon, reg, seen) =
                (sum + value as f64 * n, recon + parts.recon as f64 * n, reg + parts.reg as f64 * n, seen + idx.len());
            if let Some(bar) = &bar {
                bar.inc(1);
                let rate = seen as f64 / start.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("loss {:.4} · {rate:.0} samples/s", sum / seen as f64));
            }
        }
        let val_loss = if val.is_empty() { f64::NAN } else { evaluate_loss(model, val, cfg.batch_size.max(256))?.0 };
        let seen = seen as f64;
        let record = EpochRecord {
            epoch,
            train_loss: sum / seen,
            train_recon: recon / seen,
            train_reg: reg / seen,
            val_loss,
            seconds: start.elapsed().as_secs_f64(),
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if progress != Progress::Quiet {
            let val = if val_loss.is_finite() { format!("{val_loss:.5}") } else { "-".into() };
            eprintln!(
                "epoch {epoch:>3}/{}  train {:.5}  val {val}  {:.1} s  {:.0} samples/s",
                cfg.epochs,
                record.train_loss,
                record.seconds,
                seen / record.seconds
            );
        }
        let improved = score(&record) < c.best;
        if improved {
            c.best = score(&record);
            c.bad_epochs = 0;
        } else {
            c.bad_epochs += 1;
        }
        c.epochs_done = epoch;
        history.records.push(record);
        if let Some(dir) = dir {
            if improved {
                checkpoint::save_weights(model, &dir.join(WEIGHTS))?;
            }
            save_resume(model, &adam, c, dir)?;
            history.save_csv(&dir.join(checkpoint::HISTORY))?;
        }
    }
    Ok(history)
}

fn make_bar(progress: Progress, batches: usize, epoch: usize, epochs: usize) -> Option<ProgressBar> {
    if progress != Progress::Bar {
        return None;
    }
    let bar = ProgressBar::new(batches as u64);
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
        .expect("valid template")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    Some(bar)
}

fn save_resume<M: Autoencoder>(model: &M, adam: &Adam, c: Counters, dir: &Path) -> Result<()> {
    let mut tensors: Vec<NamedTensor> =
        named_tensors(model).into_iter().map(|t| NamedTensor { name: format!("model.{}", t.name), ..t }).collect();
    let (moments, mut meta) = adam.state();
    tensors.extend(moments);
    meta.extend(BTreeMap::from([
        ("epochs_done".to_string(), c.epochs_done.to_string()),
        ("best".to_string(), c.best.to_string()),
        ("bad_epochs".to_string(), c.bad_epochs.to_string()),
    ]));
    crate::fs::write_atomic(&dir.join(RESUME), &checkpoint::to_safetensors(&tensors, meta)?)
}

fn load_resume<M: Autoencoder>(model: &mut M, adam: &mut Adam, dir: &Path) -> Result<Counters> {
    let path = dir.join(RESUME);
    let (tensors, meta) = checkpoint::read_safetensors(&path)?;
    let bad = |what: &str| {
        Error::format(&path, format!("resume state lacks `{what}`; it was not written by `autoencoders train`"))
    };
    let get = |k: &str| meta.get(k).ok_or_else(|| bad(k));
    let c = Counters {
        epochs_done: get("epochs_done")?.parse().map_err(|_| bad("epochs_done"))?,
        best: get("best")?.parse().map_err(|_| bad("best"))?,
        bad_epochs: get("bad_epochs")?.parse().map_err(|_| bad("bad_epochs"))?,
    };
    adam.restore(&tensors, &meta).ok_or_else(|| bad("adam_step"))?;
    checkpoint::assign_checked(model, tensors, "model.", &path)?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_starts_at_the_rate_and_ends_at_zero() {
        let s = LrSchedule::Cosine;
        assert_eq!(s.lr(0.1, 0, 100), 0.1);
        assert!((s.lr(0.1, 50, 100) - 0.05).abs() < 1e-12);
        assert!(s.lr(0.1, 100, 100).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.lr(0.1, 99, 100), 0.1);
    }
}
