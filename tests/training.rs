//! Training, checkpoints and resume on the embedded digits (no data folder needed).

mod common;

use std::path::Path;

use autoencoders::apps;
use autoencoders::data::DataConfig;
use autoencoders::data::Split;
use autoencoders::model_dir::RunConfig;
use autoencoders::models::dense::{Dense0, Dense1, DenseConfig, KerasShallow};
use autoencoders::prelude::*;
use autoencoders::train::checkpoint::{self, load_weights, named_tensors, save_weights};
use autoencoders::train::reconstruct_all;

fn digits_cfg(epochs: usize) -> RunConfig {
    RunConfig {
        model: ModelConfig::Dense(DenseConfig::shallow(64, 8).with_hidden(&[32])),
        data: DataConfig::new(DatasetId::Digits),
        train: TrainConfig { epochs, batch_size: 64, seed: 7, val_split: 0.1, patience: None, ..Default::default() },
        command: String::new(),
        threshold: None,
        format_version: autoencoders::model_dir::FORMAT_VERSION,
        variant: Default::default(),
    }
}

fn weights(dir: &Path, file: &str) -> Vec<Vec<f32>> {
    checkpoint::read_safetensors(&dir.join(file)).unwrap().0.into_iter().map(|t| t.values).collect()
}

#[test]
fn training_lowers_the_loss_and_is_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let h1 = apps::train(&digits_cfg(12), a.path(), false, Progress::Quiet).unwrap();
    let h2 = apps::train(&digits_cfg(12), b.path(), false, Progress::Quiet).unwrap();
    let first = &h1.records[0];
    let last = h1.records.last().unwrap();
    assert!(last.train_loss < 0.8 * first.train_loss, "{} → {}", first.train_loss, last.train_loss);
    assert!(last.val_loss < first.val_loss);
    let losses = |h: &History| h.records.iter().map(|r| (r.train_loss, r.val_loss)).collect::<Vec<_>>();
    assert_eq!(losses(&h1), losses(&h2), "same seed, same numbers");
    assert_eq!(weights(a.path(), "model.safetensors"), weights(b.path(), "model.safetensors"));
    for f in ["config.json", "model.safetensors", "history.csv", "resume.safetensors"] {
        assert!(a.path().join(f).exists(), "{f}");
    }
    let stray: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(stray.is_empty(), "no temporary files left behind");
}

#[test]
fn resume_continues_exactly_where_training_stopped() {
    let (full, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    apps::train(&digits_cfg(6), full.path(), false, Progress::Quiet).unwrap();
    apps::train(&digits_cfg(3), parts.path(), false, Progress::Quiet).unwrap();
    let h = apps::train(&digits_cfg(6), parts.path(), true, Progress::Quiet).unwrap();
    assert_eq!(h.records.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(weights(full.path(), "resume.safetensors"), weights(parts.path(), "resume.safetensors"));
    assert_eq!(weights(full.path(), "model.safetensors"), weights(parts.path(), "model.safetensors"));
    let a = History::load_csv(&full.path().join("history.csv")).unwrap();
    let b = History::load_csv(&parts.path().join("history.csv")).unwrap();
    let l = |h: &History| h.records.iter().map(|r| r.train_loss).collect::<Vec<_>>();
    assert_eq!(l(&a), l(&b));
}

#[test]
fn resume_refuses_a_different_model() {
    let dir = tempfile::tempdir().unwrap();
    apps::train(&digits_cfg(1), dir.path(), false, Progress::Quiet).unwrap();
    let mut other = digits_cfg(2);
    other.model = ModelConfig::Dense(DenseConfig::shallow(64, 4));
    let e = apps::train(&other, dir.path(), true, Progress::Quiet).unwrap_err().to_string();
    assert!(e.contains("resume it with the same model"), "{e}");
    // Nor different input noise: the resumed run would silently train another model.
    let mut noisy = digits_cfg(2);
    noisy.train.noise = Some(autoencoders::train::InputNoise::new("mask:0.2".parse().unwrap()));
    let e = apps::train(&noisy, dir.path(), true, Progress::Quiet).unwrap_err().to_string();
    assert!(e.contains("trained with no noise or regulariser, not --noise mask:0.2"), "{e}");
}

#[test]
fn save_load_round_trip_gives_identical_reconstructions() {
    let dev = Dev::seed_from_u64(1);
    let cfg = DenseConfig::shallow(64, 8).with_hidden(&[32]);
    let a = Dense1::new(&dev, &cfg).unwrap();
    let mut b = Dense1::new(&dev, &cfg).unwrap();
    let data = DatasetId::Digits.load_from(Path::new("/nonexistent"), Split::Test).unwrap().take(16);
    assert_ne!(reconstruct_all(&a, &data, 8), reconstruct_all(&b, &data, 8));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save_weights(&a, &path).unwrap();
    load_weights(&mut b, &path).unwrap();
    assert_eq!(reconstruct_all(&a, &data, 8), reconstruct_all(&b, &data, 8));
    let names: Vec<String> = named_tensors(&a).into_iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "encoder.0.weight",
            "encoder.0.bias",
            "encoder.1.weight",
            "encoder.1.bias",
            "decoder.0.weight",
            "decoder.0.bias",
            "decoder.1.weight",
            "decoder.1.bias"
        ]
    );
}

#[test]
fn checkpoint_that_does_not_match_its_config_is_refused_unchanged() {
    let dev = Dev::seed_from_u64(2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    save_weights(&Dense0::new(&dev, &DenseConfig::shallow(64, 8)).unwrap(), &path).unwrap();

    // Wrong code size: shapes differ.
    let mut wider = Dense0::new(&dev, &DenseConfig::shallow(64, 16)).unwrap();
    let before = named_tensors(&wider);
    let e = load_weights(&mut wider, &path).unwrap_err().to_string();
    assert!(e.contains("tensor `encoder.0.weight` has shape [8, 64], the config needs [16, 64]"), "{e}");
    assert_eq!(named_tensors(&wider), before, "a refused load changes nothing");

    // Wrong depth: tensors missing and unexpected.
    let mut deeper = Dense1::new(&dev, &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
    let e = load_weights(&mut deeper, &path).unwrap_err().to_string();
    assert!(e.contains("missing tensor `encoder.1.weight`"), "{e}");

    // Truncated file.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let mut m = Dense0::new(&dev, &DenseConfig::shallow(64, 8)).unwrap();
    let e = load_weights(&mut m, &path).unwrap_err().to_string();
    assert!(e.contains("model.safetensors") && e.contains("truncated or corrupt"), "{e}");
}

#[test]
fn compile_time_shaped_preset_rejects_a_config_of_other_sizes() {
    let dev = Dev::default();
    assert!(KerasShallow::new(&dev, &DenseConfig::shallow(784, 32)).is_ok());
    let e = KerasShallow::new(&dev, &DenseConfig::shallow(784, 16)).unwrap_err().to_string();
    assert!(e.contains("width 16"), "{e}");
}

#[test]
fn config_with_an_unknown_field_names_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    digits_cfg(1).save(dir.path()).unwrap();
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap().replacen("\"epochs\"", "\"epocs\"", 1);
    std::fs::write(&path, text).unwrap();
    let e = RunConfig::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("config.json") && e.contains("unknown field `epocs`"), "{e}");
}

#[test]
fn divergence_is_reported_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = digits_cfg(3);
    cfg.model = ModelConfig::Dense(DenseConfig {
        loss: ReconLoss::Mse,
        output_activation: Activation::Identity,
        ..DenseConfig::shallow(64, 8)
    });
    cfg.train.adam.lr = 1e30;
    let e = apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap_err().to_string();
    assert!(e.contains("training diverged") && e.contains("smaller --lr"), "{e}");
}

/// Sets every input value to zero: the model sees nothing, the target stays the clean batch.
struct Blank;
impl autoencoders::train::Corruption for Blank {
    fn corrupt(&self, batch: &mut [f32], _: usize, _: &mut rand::rngs::StdRng) {
        batch.fill(0.0);
    }
}

fn digits() -> (Dataset, Dataset) {
    let mut data = DatasetId::Digits.load(Split::Train).unwrap();
    DatasetId::Digits.fit_normalizer(&data).unwrap().apply(&mut data).unwrap();
    data.split(0.2, 0).unwrap()
}

#[test]
fn a_corruption_changes_the_input_but_not_the_target_in_training_and_validation() {
    let (train, val) = digits();
    let cfg = TrainConfig { epochs: 1, batch_size: 64, patience: None, ..Default::default() };
    let model = Dense1::new(&Dev::seed_from_u64(1), &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
    // Training on blank inputs learns the mean image, and cannot reconstruct any better.
    let (mut plain, mut blind) = (model.clone(), model);
    let five = TrainConfig { epochs: 5, ..cfg.clone() };
    let hp = Trainer::new(&five).fit(&mut plain, &train, &val).unwrap();
    let hb = Trainer::new(&five).corruption(&Blank).fit(&mut blind, &train, &val).unwrap();
    assert!(hb.records[4].val_loss > hp.records[4].val_loss + 0.01, "{:?} vs {:?}", hb.records[4], hp.records[4]);
    // Validation with blanked inputs is exactly the loss of the (trained) model's output for a
    // zero input against each clean sample, computed here by hand (one epoch at rate 0).
    let frozen = TrainConfig { adam: AdamConfig { lr: 0.0, ..Default::default() }, ..cfg };
    let mut m = plain;
    let h = Trainer::new(&frozen).corruption(&Blank).fit(&mut m, &train, &val).unwrap();
    let dev = Dev::default();
    let zeros = dev.tensor_from_vec(vec![0.0; val.samples.len()], m.input_shape(val.len()));
    let clean = dev.tensor_from_vec(val.samples.clone(), m.input_shape(val.len()));
    let want = m.loss(zeros, clean.clone()).recon as f64;
    assert!((h.records[0].val_loss - want).abs() < 1e-6, "{} vs {want}", h.records[0].val_loss);
    let uncorrupted = m.loss(clean.clone(), clean).recon as f64;
    assert!(h.records[0].val_loss > uncorrupted + 0.01, "the corruption was not applied");
}

/// A step of the caller's: the plain step, reporting a non-finite value at its third batch.
struct Breaks {
    inner: autoencoders::train::PlainStep,
    batches: usize,
}

impl<M: Autoencoder> autoencoders::train::TrainStep<M> for Breaks {
    fn watched(&self) -> &'static str {
        "elbo"
    }
    fn train_batch(
        &mut self,
        model: &mut M,
        batch: autoencoders::train::StepBatch<M>,
        lr: f64,
    ) -> autoencoders::Result<autoencoders::train::LossValues> {
        self.batches += 1;
        let mut loss = self.inner.train_batch(model, batch, lr)?;
        if self.batches == 3 {
            loss.total = f32::NAN;
        }
        Ok(loss)
    }
    fn state(&self) -> (Vec<checkpoint::NamedTensor>, std::collections::BTreeMap<String, String>) {
        <autoencoders::train::PlainStep as autoencoders::train::TrainStep<M>>::state(&self.inner)
    }
    fn restore(
        &mut self,
        t: &[checkpoint::NamedTensor],
        meta: &std::collections::BTreeMap<String, String>,
    ) -> Option<()> {
        <autoencoders::train::PlainStep as autoencoders::train::TrainStep<M>>::restore(&mut self.inner, t, meta)
    }
}

#[test]
fn a_custom_step_runs_in_the_loop_and_names_what_diverged() {
    let (train, val) = digits();
    let cfg = TrainConfig { epochs: 2, batch_size: 64, patience: None, ..Default::default() };
    let mut m = Dense1::new(&Dev::seed_from_u64(1), &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
    let mut step = Breaks { inner: autoencoders::train::PlainStep::new(cfg.adam), batches: 0 };
    let e = Trainer::new(&cfg).fit_with(&mut m, &train, &val, &mut step).unwrap_err().to_string();
    assert!(e.contains("epoch 1, batch 3: elbo is NaN"), "{e}");
    assert_eq!(step.inner.adam.step, 3, "the step's own optimiser made the updates");
}

#[test]
fn a_denoising_model_records_its_noise_and_beats_its_noisy_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = digits_cfg(150);
    cfg.train.adam.lr = 3e-3;
    cfg.train.noise = Some(autoencoders::train::InputNoise::new("gaussian:0.3".parse().unwrap()));
    apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap();
    // Recorded with the range fitted on the training split (min-max scaled digits: [0, 1]).
    let saved = RunConfig::load(dir.path()).unwrap();
    let noise = saved.train.noise.expect("config.json records the noise");
    assert_eq!(noise.range, Some([0.0, 1.0]));
    let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(text.contains("\"kind\": \"gaussian\"") && text.contains("\"sigma\": 0.3"), "{text}");
    // Evaluated on the corrupted test split against the clean one: the reconstructions are
    // closer to the clean digits than the noisy inputs are.
    let m = apps::evaluate(dir.path()).unwrap();
    let input = m.test_psnr_input.expect("a denoising model reports its input's PSNR");
    eprintln!("denoising digits, gaussian σ 0.3: noisy input {input:.2} dB → reconstruction {:.2} dB", m.test_psnr);
    assert!(m.test_psnr > input + 1.0, "reconstruction {:.2} dB vs noisy input {input:.2} dB", m.test_psnr);
    // The same seed, the same corruption: evaluation is repeatable.
    assert_eq!(apps::test_metrics(dir.path()).unwrap(), m);
    // Its figures show what it is measured on: clean, noisy input, reconstruction.
    let grid = apps::figures(dir.path()).unwrap().reconstructions;
    let titles: Vec<&str> = grid.rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(titles, ["clean", "noisy input", "reconstruction"]);
    assert_ne!(grid.rows[0].1, grid.rows[1].1, "the noisy row must be corrupted");
    // A plain model's metrics carry no input PSNR.
    let plain = tempfile::tempdir().unwrap();
    apps::train(&digits_cfg(2), plain.path(), false, Progress::Quiet).unwrap();
    assert_eq!(apps::evaluate(plain.path()).unwrap().test_psnr_input, None);
}

#[test]
fn a_config_naming_another_dataset_is_an_error_not_a_panic() {
    let _root = require_data!(); // ECG5000 is read through AUTOENCODERS_DATA
    let dir = tempfile::tempdir().unwrap();
    apps::train(&digits_cfg(1), dir.path(), false, Progress::Quiet).unwrap();
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap().replace("\"dataset\": \"digits\"", "\"dataset\": \"ecg5000\"");
    std::fs::write(&path, text).unwrap();
    let errors = [
        ("eval", apps::test_metrics(dir.path()).err()),
        ("encode", apps::encode(dir.path(), Split::Test).err()),
        ("figures", apps::figures(dir.path()).err()),
    ];
    for (job, error) in errors {
        let e = error.unwrap_or_else(|| panic!("{job} accepted a 140-step dataset for a 64-input model")).to_string();
        assert!(e.contains("config.json") && e.contains("the model takes 64 features"), "{job}: {e}");
    }
}

#[test]
fn retraining_removes_the_old_metrics() {
    let dir = tempfile::tempdir().unwrap();
    apps::train(&digits_cfg(1), dir.path(), false, Progress::Quiet).unwrap();
    apps::evaluate(dir.path()).unwrap();
    assert!(dir.path().join("metrics.json").exists());
    apps::train(&digits_cfg(2), dir.path(), true, Progress::Quiet).unwrap();
    assert!(!dir.path().join("metrics.json").exists(), "metrics of the 1-epoch model survived its resume");
}

/// Issue 17: `--lr 1000` used to train on to a loss of 8.6e7 and save it as the best model.
/// Now the run stops at the first batch past the divergence bound, naming epoch and batch,
/// and the directory keeps the epochs that ended well.
#[test]
fn a_diverging_run_stops_at_the_bound_and_keeps_the_last_good_checkpoint() {
    let data = autoencoders::data::prepare(&DatasetId::Digits, None).unwrap();
    let (train, val) = data.train.split(0.1, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dev = Dev::seed_from_u64(0);
    let mut model = Dense1::new(&dev, &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
    let good = TrainConfig { epochs: 2, batch_size: 64, patience: None, ..Default::default() };
    Trainer::new(&good).checkpoints(dir.path()).fit(&mut model, &train, &val).unwrap();
    let saved = std::fs::read(dir.path().join("model.safetensors")).unwrap();

    let wild = TrainConfig { epochs: 4, adam: AdamConfig { lr: 1000.0, ..Default::default() }, ..good.clone() };
    let e = Trainer::new(&wild).checkpoints(dir.path()).resume(true).fit(&mut model, &train, &val).unwrap_err();
    let e = e.to_string();
    assert!(e.contains("epoch 3, batch ") && e.contains("reconstruction loss"), "{e}");
    assert!(e.contains(&format!("over {}× the first batch's", autoencoders::train::DIVERGENCE_FACTOR)), "{e}");
    assert!(e.contains("keeps the best model of epochs 1–2") && e.contains("smaller --lr (now 1000)"), "{e}");
    assert_eq!(std::fs::read(dir.path().join("model.safetensors")).unwrap(), saved);
    let history = History::load_csv(&dir.path().join("history.csv")).unwrap();
    assert_eq!(history.records.len(), 2);

    // A healthy run never comes near the bound.
    let mut fresh = Dense1::new(&dev, &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
    let fast = TrainConfig { epochs: 20, adam: AdamConfig { lr: 0.01, ..Default::default() }, ..good };
    Trainer::new(&fast).fit(&mut fresh, &train, &val).unwrap();
}

/// Issue 16: a run stopped in the middle of an epoch (a streamed epoch can take hours) resumes
/// from its last checkpoint within the epoch — not from the epoch's start — and ends
/// bit-identical to the uninterrupted run, input noise included.
#[test]
fn a_run_stopped_within_an_epoch_resumes_from_its_last_batch_checkpoint() {
    use autoencoders::train::{InputNoise, Noise};
    let data = autoencoders::data::prepare(&DatasetId::Digits, None).unwrap();
    let (train, val) = data.train.split(0.1, 0).unwrap();
    let noise = InputNoise { range: Some([0.0, 1.0]), ..InputNoise::new(Noise::Gaussian { sigma: 0.2 }) };
    let cfg =
        TrainConfig { epochs: 3, batch_size: 64, patience: None, checkpoint_every: Some(4), ..Default::default() };
    let model = || Dense1::new(&Dev::seed_from_u64(3), &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let trainer = |dir| Trainer::new(&cfg).checkpoints(dir).corruption(&noise);
    trainer(whole.path()).fit(&mut model(), &train, &val).unwrap();

    let failing = common::FailingAt { source: &train, epoch: 2, at: 10 };
    let e = trainer(parts.path()).fit(&mut model(), &failing, &val).unwrap_err().to_string();
    assert!(e.contains("read failed"), "{e}");
    let (_, meta) = checkpoint::read_safetensors(&parts.path().join("resume.safetensors")).unwrap();
    assert_eq!((meta["epochs_done"].as_str(), meta["batches_done"].as_str()), ("1", "8"), "{meta:?}");

    let mut resumed = Dense1::new(&Dev::seed_from_u64(99), &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
    trainer(parts.path()).resume(true).fit(&mut resumed, &train, &val).unwrap();
    for f in ["resume.safetensors", "model.safetensors"] {
        assert_eq!(weights(whole.path(), f), weights(parts.path(), f), "{f}");
    }
    let losses = |d: &Path| {
        let h = History::load_csv(&d.join("history.csv")).unwrap();
        h.records.iter().map(|r| (r.train_loss, r.train_recon, r.val_loss)).collect::<Vec<_>>()
    };
    assert_eq!(losses(whole.path()), losses(parts.path()), "epoch 2's record sums the batches of both runs");
}

/// A step of the caller's whose loss rises every epoch, keeping the last epoch or the best.
struct Rising {
    inner: autoencoders::train::PlainStep,
    batches: usize,
    keep_best: bool,
}

impl<M: Autoencoder> autoencoders::train::TrainStep<M> for Rising {
    fn keeps_best(&self) -> bool {
        self.keep_best
    }
    fn train_batch(
        &mut self,
        model: &mut M,
        batch: autoencoders::train::StepBatch<M>,
        lr: f64,
    ) -> autoencoders::Result<autoencoders::train::LossValues> {
        self.batches += 1;
        let mut loss = self.inner.train_batch(model, batch, lr)?;
        loss.total = self.batches as f32;
        Ok(loss)
    }
    fn state(&self) -> (Vec<checkpoint::NamedTensor>, std::collections::BTreeMap<String, String>) {
        <autoencoders::train::PlainStep as autoencoders::train::TrainStep<M>>::state(&self.inner)
    }
    fn restore(
        &mut self,
        t: &[checkpoint::NamedTensor],
        meta: &std::collections::BTreeMap<String, String>,
    ) -> Option<()> {
        <autoencoders::train::PlainStep as autoencoders::train::TrainStep<M>>::restore(&mut self.inner, t, meta)
    }
}

/// An adversarial step keeps the last epoch's weights, whatever its loss did; the others the
/// best epoch's (here the first, as the loss only rises).
#[test]
fn a_step_that_keeps_the_last_epoch_saves_it_as_the_model() {
    let (train, _) = digits();
    let empty = train.take(0);
    let cfg = TrainConfig { epochs: 3, batch_size: 64, val_split: 0.0, patience: None, ..Default::default() };
    for keep_best in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Dense1::new(&Dev::seed_from_u64(1), &DenseConfig::shallow(64, 8).with_hidden(&[32])).unwrap();
        let mut first = None;
        let mut step = Rising { inner: autoencoders::train::PlainStep::new(cfg.adam), batches: 0, keep_best };
        for epoch in 1..=3 {
            let c = TrainConfig { epochs: epoch, ..cfg.clone() };
            Trainer::new(&c)
                .checkpoints(dir.path())
                .resume(epoch > 1)
                .fit_with(&mut m, &train, &empty, &mut step)
                .unwrap();
            first.get_or_insert_with(|| std::fs::read(dir.path().join("model.safetensors")).unwrap());
        }
        let saved = std::fs::read(dir.path().join("model.safetensors")).unwrap();
        let last = checkpoint::named_tensors(&m);
        let (tensors, _) = checkpoint::read_safetensors(&dir.path().join("model.safetensors")).unwrap();
        let is_last = last.iter().all(|b| tensors.iter().any(|a| a.name == b.name && a.values == b.values));
        assert_eq!(is_last, !keep_best, "keeps_best {keep_best}");
        assert_eq!(saved == *first.as_ref().unwrap(), keep_best, "keeps_best {keep_best}");
    }
}
