//! The adaptive autoencoder on the embedded digits, streamed class by class: it merges and
//! adds features, logs each adaptation, reloads at the width it reached, resumes bit for bit
//! after an adaptation, and refuses what it cannot be.

use std::path::Path;

use autoencoders::apps;
use autoencoders::data::{DataConfig, DatasetId, StreamOrder};
use autoencoders::model_dir::RunConfig;
use autoencoders::models::dense::DenseConfig;
use autoencoders::models::{AdaptiveConfig, Autoencoder, ModelConfig, ModelVisitor, Variant};
use autoencoders::nn::Activation;
use autoencoders::train::{InputNoise, Progress, TrainConfig};

fn adaptive_cfg(epochs: usize, fixed_width: bool) -> RunConfig {
    let mut dense = DenseConfig::shallow(64, 12);
    dense.code_activation = Activation::Sigmoid;
    let train = TrainConfig {
        epochs,
        batch_size: 16,
        seed: 5,
        val_split: 0.1,
        patience: None,
        noise: Some(InputNoise::new("mask:0.25".parse().unwrap())),
        stream_order: Some(StreamOrder::ClassIncremental { classes_per_phase: 2, overlap: 0.2 }),
        ..Default::default()
    };
    let variant = Variant::Adaptive(AdaptiveConfig { pool: 12, first_add: 4, max_features: 64, fixed_width });
    RunConfig::new(ModelConfig::Dense(dense), DataConfig::new(DatasetId::Digits), train).with_variant(variant)
}

/// `adaptive.csv`'s rows as (width, merged, added) for the adaptation rows.
fn adaptations(dir: &Path) -> Vec<(usize, usize, usize)> {
    let text = std::fs::read_to_string(dir.join("adaptive.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (w, m, a, e) = (col("width"), col("merged"), col("added"), col("adaptation"));
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| !f[e].is_empty())
        .map(|f| (f[w].parse().unwrap(), f[m].parse().unwrap(), f[a].parse().unwrap()))
        .collect()
}

struct Width;

impl ModelVisitor for Width {
    type Output = usize;
    fn visit<M: Autoencoder>(self, model: M) -> autoencoders::Result<usize> {
        Ok(model.code_len())
    }
}

#[test]
fn it_adapts_on_a_class_incremental_stream_and_reloads_at_its_width() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = adaptive_cfg(2, false);
    apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap();
    let events = adaptations(dir.path());
    assert!(events.len() >= 3, "{events:?}");
    assert!(events.iter().any(|e| e.1 > 0) && events.iter().all(|e| e.2 > 0), "merges and adds: {events:?}");
    let width = events.last().unwrap().0;
    assert_ne!(width, 12);
    // The directory loads at the width the weights have (config.json still says 12), and every
    // tool that reads a model reads it.
    let saved = RunConfig::load(dir.path()).unwrap();
    assert_eq!(saved.model.code_len(), 12);
    assert_eq!(saved.load_model(dir.path(), Width).unwrap(), width);
    let metrics = apps::evaluate(dir.path()).unwrap();
    assert!(metrics.test_loss.is_finite() && metrics.test_loss < 0.7, "{}", metrics.test_loss);
    // The same seed gives the same model.
    let again = tempfile::tempdir().unwrap();
    apps::train(&cfg, again.path(), false, Progress::Quiet).unwrap();
    let w = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(w(dir.path()) == w(again.path()), "two runs with one seed differ");
}

#[test]
fn a_run_resumed_after_adaptations_ends_bit_identically() {
    let cfg = adaptive_cfg(3, false);
    let (full, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    apps::train(&cfg, full.path(), false, Progress::Quiet).unwrap();
    let first = RunConfig { train: TrainConfig { epochs: 1, ..cfg.train.clone() }, ..cfg.clone() };
    apps::train(&first, parts.path(), false, Progress::Quiet).unwrap();
    let before = adaptations(parts.path());
    assert!(!before.is_empty() && before.last().unwrap().0 != 12, "epoch 1 made no adaptation: {before:?}");
    apps::train(&cfg, parts.path(), true, Progress::Quiet).unwrap();
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    for file in ["model.safetensors", "adaptive.csv"] {
        assert!(read(full.path(), file) == read(parts.path(), file), "{file} differs after resuming");
    }
    // The losses of every epoch too (not the seconds each took).
    let losses = |d: &Path| {
        let h = autoencoders::train::History::load_csv(&d.join("history.csv")).unwrap();
        h.records.iter().map(|r| (r.train_loss, r.val_loss)).collect::<Vec<_>>()
    };
    assert_eq!(losses(full.path()), losses(parts.path()));
}

#[test]
fn the_fixed_width_control_keeps_its_width_and_trains_on_its_pool() {
    let dir = tempfile::tempdir().unwrap();
    apps::train(&adaptive_cfg(2, true), dir.path(), false, Progress::Quiet).unwrap();
    let events = adaptations(dir.path());
    assert!(events.len() >= 3, "{events:?}");
    assert!(events.iter().all(|&e| e == (12, 0, 0)), "{events:?}");
}

#[test]
fn what_an_adaptive_model_cannot_be_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = |cfg: RunConfig| apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap_err().to_string();
    let mut deep = adaptive_cfg(1, false);
    deep.model = ModelConfig::Dense(DenseConfig::shallow(64, 12).with_hidden(&[32]));
    let e = bad(deep);
    assert!(e.contains("drop --hidden"), "{e}");
    let mut small = adaptive_cfg(1, false);
    small.variant = Variant::Adaptive(AdaptiveConfig { max_features: 8, ..AdaptiveConfig::default() });
    let e = bad(small);
    assert!(e.contains("max_features") && e.contains("12"), "{e}");
    let mut sparse = adaptive_cfg(1, false);
    sparse.train.sparsity = Some("l1:1e-3".parse().unwrap());
    let e = bad(sparse);
    assert!(e.contains("--sparsity"), "{e}");
}
