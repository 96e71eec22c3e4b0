//! `autoencoders train`: build the model a [`RunConfig`] describes, train it on its dataset
//! and write the model directory (or continue one with `resume`).

use std::path::Path;

use crate::data::stream::{Part, MAX_VAL_ROWS};
use crate::data::{prepare_data, BatchSource, ClassIncremental, Dataset, Prepared, StreamOrder};
use crate::model_dir::{remove_orphans, DirLock, RunConfig, METRICS};
use crate::models::{Autoencoder, ModelConfig, ModelVisitor};
use crate::nn::Dev;
use crate::train::{History, Progress, TrainConfig, Trainer};
use crate::{Error, Result};

/// Trains the model `cfg` describes into `dir` (created if needed). With `resume`, the
/// model, data and normaliser come from `dir/config.json` and only `cfg.train.epochs` (and
/// patience) may differ.
///
/// The directory is locked while it is written ([`DirLock`]): a second `train` into it fails
/// at once. Temporary files a killed run left behind are removed first.
pub fn train(cfg: &RunConfig, dir: &Path, resume: bool, progress: Progress) -> Result<History> {
    let cfg = if resume { resumed_config(cfg, dir)? } else { cfg.clone() };
    check(&cfg)?;
    if cfg.data.source.stream {
        return train_streamed(cfg, dir, resume, progress);
    }
    let data = prepare_data(&cfg.data)?;
    fit_prepared(cfg, data, dir, resume, progress)
}

/// [`train`] of a new model (no resume) on `data`, prepared from `cfg.data` by the caller —
/// the CLI reads the data once to learn the model's input shape and trains on that copy
/// (reading a large table twice doubled its loading time and memory).
pub fn train_prepared(cfg: &RunConfig, data: Prepared, dir: &Path, progress: Progress) -> Result<History> {
    check(cfg)?;
    if cfg.data.source.stream {
        return Err(Error::config("stream", "a streamed table is not prepared in memory; use `train`"));
    }
    fit_prepared(cfg.clone(), data, dir, false, progress)
}

/// Checks the model, the training settings and that the model can take the regularisers.
fn check(cfg: &RunConfig) -> Result<()> {
    cfg.validate_model()?;
    cfg.train.validate()?;
    let t = &cfg.train;
    if !cfg.variant.is_plain() && (t.sparsity.is_some() || t.contractive.is_some()) {
        return Err(Error::config(
            "variant",
            format!(
                "--sparsity and --contractive regularise a plain autoencoder; a {} has its own regulariser ({})",
                cfg.variant.name(),
                match cfg.variant {
                    crate::models::Variant::Aae(_) => "the discriminator, which pulls the codes to the prior",
                    crate::models::Variant::Adaptive(_) => "input noise (--noise) and its feature merges",
                    _ => "the KL term, weighted by --beta",
                }
            ),
        ));
    }
    if let Some(w) = t.kl_warmup {
        if !matches!(cfg.variant, crate::models::Variant::Vae(_)) {
            return Err(Error::config("kl_warmup", "--kl-warmup warms up a VAE's KL term; add --variant vae"));
        }
        if !(w.is_finite() && w >= 0.0) {
            return Err(Error::config("kl_warmup", format!("{w} epochs: give a number of epochs ≥ 0")));
        }
    }
    if let Some(lr) = t.adversarial_lr {
        if !matches!(cfg.variant, crate::models::Variant::Aae(_)) {
            return Err(Error::config(
                "adversarial_lr",
                "--adversarial-lr trains an adversarial autoencoder; add --variant aae",
            ));
        }
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config("adversarial_lr", format!("{lr} must be a positive number")));
        }
    }
    if let Some(k) = t.discriminator_steps {
        if !matches!(cfg.variant, crate::models::Variant::Aae(_)) {
            return Err(Error::config(
                "discriminator_steps",
                "--discriminator-steps trains an adversarial autoencoder; add --variant aae",
            ));
        }
        if k == 0 {
            return Err(Error::config("discriminator_steps", "0 steps: give at least 1"));
        }
    }
    cfg.model.check_regularizers(t.sparsity.as_ref(), t.contractive.as_ref())
}

/// A shift corruption moves images, whose shape it knows from their length: one of the conv
/// family's sizes, and the data must be images of that shape (a table of 784 columns is not).
fn check_shift(noise: Option<&crate::train::InputNoise>, data: &Dataset) -> Result<()> {
    if !matches!(noise.map(|n| n.noise), Some(crate::train::Noise::Shift { .. })) {
        return Ok(());
    }
    let sizes = crate::models::conv::SIZES;
    match data.shape.as_slice() {
        &[c, h, w] if sizes.contains(&(c, h, w)) => Ok(()),
        shape => {
            let known: Vec<String> = sizes.iter().map(|(c, h, w)| format!("{c}×{h}×{w}")).collect();
            Err(Error::config(
                "noise",
                format!(
                    "shift moves images of {} (channels×height×width); `{}` has samples of shape {shape:?}: \
                     resize them with --image-size or pick gaussian, mask or salt-pepper noise",
                    known.join(", "),
                    data.name
                ),
            ))
        }
    }
}

/// Fills in what the data decided, checks the model fits it, splits off validation, trains.
fn fit_prepared(mut cfg: RunConfig, data: Prepared, dir: &Path, resume: bool, progress: Progress) -> Result<History> {
    cfg.data = data.config.clone();
    if let Some(noise) = &mut cfg.train.noise {
        noise.range.get_or_insert_with(|| {
            let (lo, hi) = data.train.value_range();
            [lo, hi]
        });
    }
    check_input(&cfg.model, &data.train)?;
    check_shift(cfg.train.noise.as_ref(), &data.train)?;
    let (train, val) = data.train.split(cfg.train.val_split, cfg.train.seed)?;
    if train.is_empty() {
        let what = format!("{} leaves no training samples of {}", cfg.train.val_split, data.train.len());
        return Err(Error::config("val_split", what));
    }
    match cfg.train.stream_order {
        Some(StreamOrder::ClassIncremental { classes_per_phase, overlap }) => {
            let stream = ClassIncremental::new(&train, classes_per_phase, overlap, cfg.train.seed)?;
            write_and_fit(&cfg, dir, resume, progress, &stream, &val)
        }
        _ => write_and_fit(&cfg, dir, resume, progress, &train, &val),
    }
}

/// Locks `dir`, writes `config.json` and trains the model `cfg` describes into it.
fn write_and_fit(
    cfg: &RunConfig,
    dir: &Path,
    resume: bool,
    progress: Progress,
    train: &dyn BatchSource,
    val: &Dataset,
) -> Result<History> {
    let _lock = begin_writing(dir)?;
    // Metrics of an earlier model in this directory no longer describe it (nor may `export`
    // put them in a model card): `eval` writes them again. (A stored threshold names the
    // weights it was fitted on; `detect` ignores it once they change.)
    remove_if_present(&dir.join(METRICS))?;
    let mut cfg = RunConfig { threshold: None, ..cfg.clone() };
    if !resume {
        cfg.save(dir)?;
    }
    let mut trainer = Trainer::new(&cfg.train).checkpoints(dir).resume(resume).progress(progress);
    if let Some(noise) = &cfg.train.noise {
        trainer = trainer.corruption(noise);
    }
    let dev = Dev::seed_from_u64(cfg.train.seed);
    let history = cfg.build(&dev, Fit { trainer, train, val })?;
    // Only once the run has ended: one that fails or is killed part-way leaves the config of
    // the last run that finished (not the new --epochs it did not reach), without a threshold.
    cfg.threshold = super::detect::stored_threshold(&cfg, dir, val)?;
    cfg.save(dir)?;
    Ok(history)
}

/// [`train`] for a table streamed from disk: normalisation fitted in one pass over the training
/// rows, validation on at most [`MAX_VAL_ROWS`] rows in memory, batches read as they are needed.
fn train_streamed(mut cfg: RunConfig, dir: &Path, resume: bool, progress: Progress) -> Result<History> {
    if let Some(StreamOrder::ClassIncremental { .. }) = cfg.train.stream_order {
        return Err(Error::config(
            "stream_order",
            "a table streamed from disk arrives in its hashed row order; --stream-order class-incremental needs the \
             data in memory (drop --stream)",
        ));
    }
    let stream = cfg.data.open_stream(Part::Train, cfg.train.val_split)?;
    cfg.data.source.columns = Some(stream.columns().to_vec());
    let normalizer = match &cfg.data.normalizer {
        Some(n) => n.clone(),
        None => {
            eprintln!("{}: fitting the normalisation on {} training rows (one pass)", cfg.data.dataset, stream.len());
            stream.fit_normalizer(cfg.data.normalize)?
        }
    };
    cfg.data.normalizer = Some(normalizer.clone());
    let train = stream.normalized(normalizer);
    let val = train.with_part(Part::Val).head(MAX_VAL_ROWS)?;
    let input = cfg.model.input_len();
    if input != train.sample_len() {
        let what = format!("the model takes {input} features but the table has {} columns", train.sample_len());
        return Err(Error::config("input", what));
    }
    write_and_fit(&cfg, dir, resume, progress, &train, &val)
}

/// Locks `dir` (creating it) for the rest of the run, once everything has been checked: a
/// refused run leaves nothing behind. Temporary files a killed run left are removed.
fn begin_writing(dir: &Path) -> Result<DirLock> {
    let lock = DirLock::acquire(dir)?;
    let removed = remove_orphans(dir)?;
    if removed > 0 {
        eprintln!("{}: removed {removed} temporary file(s) an interrupted run left", dir.display());
    }
    Ok(lock)
}

/// The saved config of `dir` with the new run's epochs and patience; an error if `cfg`
/// names another model or dataset.
fn resumed_config(cfg: &RunConfig, dir: &Path) -> Result<RunConfig> {
    let saved = RunConfig::load(dir)?;
    let objective = |c: &RunConfig| {
        let t = &c.train;
        let flags = [
            t.noise.map(|n| format!("--noise {}", n.noise)),
            t.sparsity.map(|s| format!("--sparsity {s}")),
            t.contractive.map(|s| format!("--contractive {s}")),
        ];
        let given: Vec<String> = flags.into_iter().flatten().collect();
        if given.is_empty() {
            "no noise or regulariser".to_string()
        } else {
            given.join(" ")
        }
    };
    if objective(&saved) != objective(cfg) {
        return Err(Error::config(
            "resume",
            format!(
                "{} was trained with {}, not {}; resume it with the same --noise, --sparsity and --contractive",
                dir.display(),
                objective(&saved),
                objective(cfg)
            ),
        ));
    }
    let same_data = |a: &RunConfig, b: &RunConfig| (&a.data.dataset, &a.data.test) == (&b.data.dataset, &b.data.test);
    if saved.model != cfg.model || saved.variant != cfg.variant || !same_data(&saved, cfg) {
        return Err(Error::config(
            "resume",
            format!(
                "{} was trained as `{}` on {}; resume it with the same model and dataset",
                dir.display(),
                saved.describe(),
                saved.data.dataset
            ),
        ));
    }
    let train = TrainConfig { epochs: cfg.train.epochs, patience: cfg.train.patience, ..saved.train.clone() };
    Ok(RunConfig { train, ..saved })
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Fails unless the model's input size equals the dataset's sample size.
pub(crate) fn check_input(model: &ModelConfig, data: &Dataset) -> Result<()> {
    let input = model.input_len();
    if input != data.sample_len() {
        return Err(Error::config(
            "input",
            format!(
                "the model takes {} features but `{}` samples have {} (shape {:?})",
                input,
                data.name,
                data.sample_len(),
                data.shape
            ),
        ));
    }
    Ok(())
}

struct Fit<'a> {
    trainer: Trainer<'a>,
    train: &'a dyn BatchSource,
    val: &'a Dataset,
}

impl ModelVisitor for Fit<'_> {
    type Output = History;
    fn visit<M: Autoencoder>(self, mut model: M) -> Result<History> {
        self.trainer.fit(&mut model, self.train, self.val)
    }
}
