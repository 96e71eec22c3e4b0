use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use dfdx::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, named_tensors, NamedTensor, RESUME, WEIGHTS};
use super::history::score;
use super::step::{Corruption, LossValues, PlainStep, StepBatch, TrainStep};
use super::{AdamConfig, AdaptiveStep, AdversarialStep, EpochRecord, History, InputNoise, RegularizedStep};
use crate::data::BatchSource;
use crate::data::Dataset;
use crate::models::{Autoencoder, Contractive, Sparsity};
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
    /// Input noise for a denoising autoencoder (`--noise`): the model reads corrupted inputs
    /// and reconstructs the clean ones, in training, validation and evaluation. Its range is
    /// fitted on the training split when training starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<InputNoise>,
    /// A sparsity penalty on the code (`--sparsity`): a sparse autoencoder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<Sparsity>,
    /// The contractive penalty on the encoder's Jacobian (`--contractive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractive: Option<Contractive>,
    /// The epochs over which a VAE's KL weight rises linearly from 0 to β, batch by batch
    /// (`--kl-warmup`; Bowman et al. 2016): the decoder learns to use the code before the KL
    /// pulls it to the prior. Validation always weighs the KL fully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_warmup: Option<f64>,
    /// The learning rate of an adversarial autoencoder's discriminator and generator phases
    /// (`--adversarial-lr`; `None`: [`ADVERSARIAL_LR`](super::ADVERSARIAL_LR)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversarial_lr: Option<f64>,
    /// Discriminator updates per batch of an adversarial autoencoder, each on fresh prior draws
    /// (`--discriminator-steps`; `None`: [`DISCRIMINATOR_STEPS`](super::DISCRIMINATOR_STEPS)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discriminator_steps: Option<usize>,
    /// Also write the resume state after every this many batches of an epoch, so that a run
    /// killed in the middle of a long (streamed) epoch continues from there, bit-identically,
    /// instead of redoing the epoch. `None`: at epoch ends only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<usize>,
    /// The order training batches arrive in (`--stream-order`; `None`: shuffled each epoch).
    /// A class-incremental stream is read by `autoencoders train`; the trainer itself takes
    /// whatever [`BatchSource`] it is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_order: Option<crate::data::StreamOrder>,
}

impl TrainConfig {
    /// Checks every setting; the error names the setting, its value and the range it needs.
    pub fn validate(&self) -> Result<()> {
        let a = &self.adam;
        let checks: [(&str, bool, String); 8] = [
            ("epochs", self.epochs >= 1, format!("{} epochs; train at least 1", self.epochs)),
            ("batch_size", self.batch_size >= 1, "a batch needs at least one sample".into()),
            ("lr", a.lr.is_finite() && a.lr > 0.0, format!("learning rate {} must be a positive number", a.lr)),
            ("beta1", (0.0..1.0).contains(&a.beta1), format!("Adam β₁ {} must be in [0, 1)", a.beta1)),
            ("beta2", (0.0..1.0).contains(&a.beta2), format!("Adam β₂ {} must be in [0, 1)", a.beta2)),
            ("eps", a.eps.is_finite() && a.eps > 0.0, format!("Adam ε {} must be positive", a.eps)),
            (
                "weight_decay",
                a.weight_decay.is_finite() && a.weight_decay >= 0.0,
                format!("weight decay {} must be ≥ 0", a.weight_decay),
            ),
            (
                "val_split",
                (0.0..1.0).contains(&self.val_split),
                format!("validation fraction {} must be in [0, 1)", self.val_split),
            ),
        ];
        for (field, ok, what) in checks {
            if !ok {
                return Err(Error::config(field, what));
            }
        }
        if let Some(n) = &self.noise {
            n.noise.validate()?;
        }
        if let Some(s) = &self.sparsity {
            s.validate()?;
        }
        if let Some(c) = &self.contractive {
            c.validate()?;
        }
        if let Some(o) = &self.stream_order {
            o.validate()?;
        }
        if self.checkpoint_every == Some(0) {
            return Err(Error::config("checkpoint_every", "checkpoints every 0 batches: give at least 1"));
        }
        Ok(())
    }
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
            noise: None,
            sparsity: None,
            contractive: None,
            kl_warmup: None,
            adversarial_lr: None,
            discriminator_steps: None,
            checkpoint_every: None,
            stream_order: None,
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

/// A run has diverged when a batch's monitored loss ([`TrainStep::monitored`]) exceeds this
/// many times the run's first batch — the untrained model's loss, which no sane run returns
/// to a hundredfold — or is not finite. (`--lr 1000` on the digits reached 8.6e7 against a first
/// batch of about 0.7; a healthy run's batches stay below their first one after a few steps.)
pub const DIVERGENCE_FACTOR: f64 = 100.0;

/// The counters that, with the weights and the optimiser state, make training resumable.
#[derive(Debug, Clone, Copy)]
struct Counters {
    epochs_done: usize,
    best: f64,
    bad_epochs: usize,
    /// The monitored loss of the run's first batch, the divergence bound's reference.
    reference: Option<f64>,
    /// Batches of epoch `epochs_done + 1` already trained on (a checkpoint within an epoch),
    /// and their loss sums.
    batches_done: usize,
    partial: LossSums,
}

/// Trains models: the loop around a [`TrainStep`], with validation, early stopping,
/// checkpoints and resume.
///
/// ```no_run
/// # use autoencoders::prelude::*;
/// # fn run(model: &mut impl Autoencoder, train: &Dataset, val: &Dataset) -> Result<()> {
/// let cfg = TrainConfig { epochs: 20, ..Default::default() };
/// let history = Trainer::new(&cfg).progress(Progress::Lines).fit(model, train, val)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy)]
pub struct Trainer<'a> {
    cfg: &'a TrainConfig,
    dir: Option<&'a Path>,
    resume: bool,
    progress: Progress,
    corruption: Option<&'a dyn Corruption>,
}

impl<'a> Trainer<'a> {
    /// A trainer for `cfg`: no checkpoints, a fresh start, no progress output, clean inputs.
    pub fn new(cfg: &'a TrainConfig) -> Self {
        Self { cfg, dir: None, resume: false, progress: Progress::Quiet, corruption: None }
    }

    /// Writes `history.csv`, `resume.safetensors` (last weights + optimiser) every epoch and
    /// `model.safetensors` when validation improves, into `dir`; all atomically.
    pub fn checkpoints(self, dir: &'a Path) -> Self {
        Self { dir: Some(dir), ..self }
    }

    /// Continues from the checkpoint directory's `resume.safetensors`: the result equals an
    /// uninterrupted run, because epoch `k` shuffles with a seed derived from `(seed, k)` only.
    pub fn resume(self, resume: bool) -> Self {
        Self { resume, ..self }
    }

    /// What to show while training.
    pub fn progress(self, progress: Progress) -> Self {
        Self { progress, ..self }
    }

    /// Feeds the model corrupted inputs (the clean batch stays the target), in training and
    /// validation alike.
    pub fn corruption(self, corruption: &'a dyn Corruption) -> Self {
        Self { corruption: Some(corruption), ..self }
    }

    /// Trains `model` on `train`, validating on `val` (may be empty) after each epoch, with the
    /// plain autoencoder step ([`PlainStep`], Adam), or [`RegularizedStep`] when the config has
    /// a sparsity or contractive penalty or the model draws random numbers (a VAE), or
    /// [`AdversarialStep`] for a model with a discriminator (an adversarial autoencoder).
    pub fn fit<M: Autoencoder>(&self, model: &mut M, train: &dyn BatchSource, val: &Dataset) -> Result<History> {
        if let Some(config) = model.as_adaptive().map(|a| *a.config()) {
            return self.fit_with(model, train, val, &mut AdaptiveStep::new(self.cfg, config).monitor(val));
        }
        if model.is_adversarial() {
            return self.fit_with(model, train, val, &mut AdversarialStep::new(self.cfg));
        }
        if self.cfg.sparsity.is_some() || self.cfg.contractive.is_some() || model.is_stochastic() {
            let steps_per_epoch = train.len().div_ceil(self.cfg.batch_size.max(1));
            let step = RegularizedStep::new(self.cfg).steps_per_epoch(steps_per_epoch);
            return self.fit_with(model, train, val, &mut { step });
        }
        self.fit_with(model, train, val, &mut PlainStep::new(self.cfg.adam))
    }

    /// [`fit`](Self::fit) with a step of the caller's: its own losses and optimisers.
    ///
    /// Stops early after `patience` epochs without a better validation value of the step's
    /// watched quantity, and fails with [`Error::Diverged`] when it is not finite.
    pub fn fit_with<M: Autoencoder, S: TrainStep<M>>(
        &self,
        model: &mut M,
        train: &dyn BatchSource,
        val: &Dataset,
        step: &mut S,
    ) -> Result<History> {
        crate::nn::on_pool(|| self.run(model, train, val, step))
    }

    /// The loop of [`fit_with`](Self::fit_with), on a thread of the pool.
    fn run<M: Autoencoder, S: TrainStep<M>>(
        &self,
        model: &mut M,
        train: &dyn BatchSource,
        val: &Dataset,
        step: &mut S,
    ) -> Result<History> {
        let cfg = self.cfg;
        if cfg.batch_size == 0 || train.is_empty() {
            return Err(Error::config("batch_size", "needs a batch size ≥ 1 and a non-empty training set"));
        }
        // Ids from this code's counter: see `Params::refresh_ids` (models built in another
        // notebook cell).
        model.refresh_ids();
        crate::nn::tune_allocator();
        let (mut c, mut history) = self.start(model, step)?;
        while c.epochs_done < cfg.epochs {
            if cfg.patience.is_some_and(|p| c.bad_epochs >= p) {
                self.say(&format!("early stop: no {} improvement for {} epochs", step.watched(), c.bad_epochs));
                break;
            }
            let record = self.epoch(model, step, train, val, &mut c)?;
            let improved = score(&record) < c.best || !step.keeps_best();
            if improved {
                c.best = score(&record);
                c.bad_epochs = 0;
            } else {
                c.bad_epochs += 1;
            }
            c.epochs_done = record.epoch;
            history.records.push(record);
            if let Some(dir) = self.dir {
                // Each file is atomic; the set is made consistent by the order: the history
                // first, then the best weights, and the resume state last — the commit point.
                // A kill before it leaves the previous resume state, whose epoch count the
                // history is cut back to, and a resumed run redoes the epoch bit for bit
                // (rewriting the same best weights).
                history.save_csv(&dir.join(checkpoint::HISTORY))?;
                if improved && c.epochs_done == cfg.epochs {
                    finished(model, train, cfg.seed, |m| checkpoint::save_weights(m, &dir.join(WEIGHTS)))?;
                } else if improved {
                    checkpoint::save_weights(model, &dir.join(WEIGHTS))?;
                }
                save_resume(model, step, c, dir)?;
            }
        }
        if c.epochs_done == cfg.epochs {
            model.finish_training(train, cfg.seed)?;
        }
        Ok(history)
    }

    /// The counters and history to start from: fresh, or the checkpoint's when resuming.
    fn start<M: Autoencoder, S: TrainStep<M>>(&self, model: &mut M, step: &mut S) -> Result<(Counters, History)> {
        let fresh = Counters {
            epochs_done: 0,
            best: f64::INFINITY,
            bad_epochs: 0,
            reference: None,
            batches_done: 0,
            partial: LossSums::default(),
        };
        if !self.resume {
            return Ok((fresh, History::default()));
        }
        let dir = self.dir.ok_or_else(|| Error::config("resume", "needs a model directory"))?;
        if !dir.join(RESUME).exists() {
            // Killed before the first epoch ended: nothing to continue, start over.
            self.say(&format!("{}: no {RESUME} yet (stopped during epoch 1); training from the start", dir.display()));
            return Ok((fresh, History::default()));
        }
        let c = load_resume(model, step, dir)?;
        let path = dir.join(checkpoint::HISTORY);
        let mut history = History::load_csv(&path)?;
        if history.records.len() < c.epochs_done {
            return Err(Error::format(
                &path,
                format!(
                    "holds {} epochs but {RESUME} has {}; the directory was changed by hand or written by an older \
                     release — train it again",
                    history.records.len(),
                    c.epochs_done
                ),
            ));
        }
        history.records.truncate(c.epochs_done);
        Ok((c, history))
    }

    /// One pass over `train`, then validation: the epoch's record.
    fn epoch<M: Autoencoder, S: TrainStep<M>>(
        &self,
        model: &mut M,
        step: &mut S,
        train: &dyn BatchSource,
        val: &Dataset,
        c: &mut Counters,
    ) -> Result<EpochRecord> {
        let cfg = self.cfg;
        let epoch = c.epochs_done + 1;
        let start = Instant::now();
        let steps_per_epoch = train.len().div_ceil(cfg.batch_size);
        let total_steps = (steps_per_epoch * cfg.epochs) as u64;
        let bar = make_bar(self.progress, train.len(), epoch, cfg.epochs);
        let mut rng = StdRng::seed_from_u64(cfg.seed ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        // Resuming within the epoch: its first batches are read again (the order is a
        // function of seed and epoch) but not trained on; their corruption draws are repeated
        // so the rest of the epoch gets the same noise.
        let skip = std::mem::take(&mut c.batches_done);
        let mut sums = std::mem::take(&mut c.partial);
        for (b, clean) in train.epoch_batches(epoch, cfg.batch_size, cfg.seed).enumerate() {
            let clean = clean?;
            let n = clean.len() / train.sample_len();
            if b < skip {
                if self.corruption.is_some() {
                    self.batch(model, clean, &mut rng);
                }
                if let Some(bar) = &bar {
                    bar.inc(n as u64);
                }
                continue;
            }
            let batch = self.batch(model, clean, &mut rng);
            let global = ((epoch - 1) * steps_per_epoch + b) as u64;
            let loss = step.train_batch(model, batch, cfg.schedule.lr(cfg.adam.lr, global, total_steps))?;
            self.check_divergence(step, &loss, &mut c.reference, (epoch, b + 1))?;
            sums.add(loss, n);
            let within = cfg.checkpoint_every.is_some_and(|k| (b + 1) % k == 0) && b + 1 < steps_per_epoch;
            if let (Some(dir), true) = (self.dir, within) {
                save_resume(model, step, Counters { batches_done: b + 1, partial: sums, ..*c }, dir)?;
            }
            if let Some(bar) = &bar {
                bar.inc(n as u64);
                let rate = sums.n as f64 / start.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{} {:.4} · {rate:.0} samples/s", step.watched(), sums.total / sums.n as f64));
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let val_loss = if val.is_empty() { f64::NAN } else { self.validate(model, step, val)?.total };
        let seen = sums.n as f64;
        let record = EpochRecord {
            epoch,
            train_loss: sums.total / seen,
            train_recon: sums.recon / seen,
            train_reg: sums.reg / seen,
            val_loss,
            seconds: start.elapsed().as_secs_f64(),
        };
        self.report(&record, seen);
        Ok(record)
    }

    /// Fails with [`Error::Diverged`] when a loss is not finite or the monitored one is past
    /// [`DIVERGENCE_FACTOR`] × the run's first batch (which it becomes when `reference` is
    /// unset). The checkpoint directory then still holds the last epoch that ended well.
    fn check_divergence<M: Autoencoder, S: TrainStep<M>>(
        &self,
        step: &S,
        loss: &LossValues,
        reference: &mut Option<f64>,
        (epoch, batch): (usize, usize),
    ) -> Result<()> {
        let (value, name) = step.monitored(loss);
        let value = value as f64;
        let first = *reference.get_or_insert(value);
        let what = if !loss.total.is_finite() {
            format!("{} is {}", step.watched(), loss.total)
        } else if !value.is_finite() {
            format!("{name} is {value}")
        } else if value > DIVERGENCE_FACTOR * first {
            format!("{name} {value:.4e} is over {DIVERGENCE_FACTOR}× the first batch's {first:.4e}")
        } else {
            return Ok(());
        };
        let kept = match (self.dir, epoch) {
            (Some(dir), e) if e > 1 => format!("{} keeps the best model of epochs 1–{}; ", dir.display(), e - 1),
            _ => String::new(),
        };
        Err(Error::Diverged(format!(
            "epoch {epoch}, batch {batch}: {what}; {kept}train again with a smaller --lr (now {}) or check the data",
            self.cfg.adam.lr
        )))
    }

    /// The step's input (corrupted, if a corruption is set) and clean target for `clean`.
    fn batch<M: Autoencoder>(&self, model: &M, clean: Vec<f32>, rng: &mut StdRng) -> StepBatch<M> {
        let dev = Dev::default();
        let d = model.input_shape(1).num_elements();
        let shape = model.input_shape(clean.len() / d);
        match self.corruption {
            None => {
                let x = dev.tensor_from_vec(clean, shape);
                StepBatch { input: x.clone(), target: x }
            }
            Some(c) => {
                let mut noisy = clean.clone();
                c.corrupt(&mut noisy, d, rng);
                StepBatch { input: dev.tensor_from_vec(noisy, shape), target: dev.tensor_from_vec(clean, shape) }
            }
        }
    }

    /// The step's mean loss over `val`, in batches of at least 256, corrupted with a seed fixed
    /// across epochs.
    fn validate<M: Autoencoder, S: TrainStep<M>>(&self, model: &M, step: &S, val: &Dataset) -> Result<LossMeans> {
        let mut rng = StdRng::seed_from_u64(self.cfg.seed ^ 0x5EED_F7A1);
        let mut sums = LossSums::default();
        for b in val.batches(self.cfg.batch_size.max(256)) {
            let batch = self.batch(model, b.x.to_vec(), &mut rng);
            sums.add(step.eval_batch(model, batch), b.n);
        }
        Ok(sums.means())
    }

    fn say(&self, line: &str) {
        if self.progress != Progress::Quiet {
            eprintln!("{line}");
        }
    }

    fn report(&self, r: &EpochRecord, seen: f64) {
        let val = if r.val_loss.is_finite() { format!("{:.5}", r.val_loss) } else { "-".into() };
        self.say(&format!(
            "epoch {:>3}/{}  train {:.5}  val {val}  {:.1} s  {:.0} samples/s",
            r.epoch,
            self.cfg.epochs,
            r.train_loss,
            r.seconds,
            seen / r.seconds
        ));
    }
}

/// Sample-weighted sums of batch losses.
#[derive(Debug, Default, Clone, Copy)]
struct LossSums {
    total: f64,
    recon: f64,
    reg: f64,
    n: usize,
}

/// Means of [`LossSums`].
struct LossMeans {
    total: f64,
}

impl LossSums {
    fn add(&mut self, l: LossValues, n: usize) {
        let w = n as f64;
        self.total += l.total as f64 * w;
        self.recon += l.recon as f64 * w;
        self.reg += l.reg as f64 * w;
        self.n += n;
    }
    fn means(&self) -> LossMeans {
        LossMeans { total: self.total / self.n.max(1) as f64 }
    }
}

/// Trains `model` on `train`, validating on `val`, with no checkpoints and no output:
/// `Trainer::new(cfg).fit(model, train, val)`. See [`Trainer`] for the rest.
pub fn fit<M: Autoencoder>(model: &mut M, train: &Dataset, val: &Dataset, cfg: &TrainConfig) -> Result<History> {
    Trainer::new(cfg).fit(model, train, val)
}

/// An epoch's bar, in samples (rows), with the time left.
fn make_bar(progress: Progress, samples: usize, epoch: usize, epochs: usize) -> Option<ProgressBar> {
    if progress != Progress::Bar {
        return None;
    }
    let bar = ProgressBar::new(samples as u64);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {human_pos}/{human_len} rows {msg} ({elapsed}, {eta} left)")
            .expect("valid template")
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    Some(bar)
}

/// Runs `f` (saving the weights) on the finished model — `model` after
/// [`Autoencoder::finish_training`] — and puts the training state back, exactly: the resume
/// state keeps what training reached, so a run resumed for more epochs continues from it as
/// an uninterrupted longer run would, and the finished model is the same whether or not the
/// run stopped on the way.
fn finished<M: Autoencoder>(
    model: &mut M,
    train: &dyn BatchSource,
    seed: u64,
    f: impl FnOnce(&M) -> Result<()>,
) -> Result<()> {
    let mut state = Vec::new();
    model.visit("", &mut |_, p| state.push(p.values()));
    model.finish_training(train, seed)?;
    let out = f(model);
    let mut saved = state.into_iter();
    model.visit_mut("", &mut |_, p| p.set_values(&saved.next().expect("the same parameters")));
    out
}

fn save_resume<M: Autoencoder, S: TrainStep<M>>(model: &M, step: &S, c: Counters, dir: &Path) -> Result<()> {
    // The step's own files first: the resume state, written last, is the commit point.
    for (name, bytes) in step.files() {
        crate::fs::write_atomic(&dir.join(name), &bytes)?;
    }
    let mut tensors: Vec<NamedTensor> =
        named_tensors(model).into_iter().map(|t| NamedTensor { name: format!("model.{}", t.name), ..t }).collect();
    let (state, mut meta) = step.state();
    tensors.extend(state);
    meta.extend(BTreeMap::from([
        ("epochs_done".to_string(), c.epochs_done.to_string()),
        ("best".to_string(), c.best.to_string()),
        ("bad_epochs".to_string(), c.bad_epochs.to_string()),
    ]));
    if let Some(r) = c.reference {
        meta.insert("divergence_reference".to_string(), r.to_string());
    }
    if c.batches_done > 0 {
        // Within an epoch: how far it got, and its loss sums so far (Rust prints an f64 so
        // that it parses back to the same bits).
        let p = c.partial;
        meta.extend(BTreeMap::from([
            ("batches_done".to_string(), c.batches_done.to_string()),
            ("partial_total".to_string(), p.total.to_string()),
            ("partial_recon".to_string(), p.recon.to_string()),
            ("partial_reg".to_string(), p.reg.to_string()),
            ("partial_n".to_string(), p.n.to_string()),
        ]));
    }
    crate::fs::write_atomic(&dir.join(RESUME), &checkpoint::to_safetensors(&tensors, meta)?)
}

fn load_resume<M: Autoencoder, S: TrainStep<M>>(model: &mut M, step: &mut S, dir: &Path) -> Result<Counters> {
    let path = dir.join(RESUME);
    let (tensors, meta) = checkpoint::read_safetensors(&path)?;
    let bad = |what: &str| {
        Error::format(&path, format!("resume state lacks `{what}`; it was not written by `autoencoders train`"))
    };
    let get = |k: &str| meta.get(k).ok_or_else(|| bad(k));
    let mut c = Counters {
        epochs_done: get("epochs_done")?.parse().map_err(|_| bad("epochs_done"))?,
        best: get("best")?.parse().map_err(|_| bad("best"))?,
        bad_epochs: get("bad_epochs")?.parse().map_err(|_| bad("bad_epochs"))?,
        // Absent in resume files of earlier releases: the resumed run's first batch then.
        reference: meta.get("divergence_reference").and_then(|r| r.parse().ok()),
        batches_done: 0,
        partial: LossSums::default(),
    };
    if let Some(k) = meta.get("batches_done") {
        let num = |key: &str| get(key)?.parse::<f64>().map_err(|_| bad(key));
        c.batches_done = k.parse().map_err(|_| bad("batches_done"))?;
        c.partial = LossSums {
            total: num("partial_total")?,
            recon: num("partial_recon")?,
            reg: num("partial_reg")?,
            n: get("partial_n")?.parse().map_err(|_| bad("partial_n"))?,
        };
    }
    step.restore(&tensors, &meta).ok_or_else(|| bad("optimiser state"))?;
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
