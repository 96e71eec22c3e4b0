//! Models learning real data: short runs must already reach results only a working model
//! reaches — the dense autoencoder on MNIST beats PCA, the convolutional one trains and reloads,
//! and a model of normal ECG beats flags the abnormal ones.

mod common;

use autoencoders::baselines::Pca;
use autoencoders::data::{DatasetId, Split};
use autoencoders::models::dense::KerasShallow;
use autoencoders::prelude::*;
use autoencoders::pretrained::Pretrained;
use autoencoders::train::reconstruct_all;

#[test]
fn shallow_autoencoder_learns_mnist_in_two_epochs_and_beats_pca() {
    let root = require_data!();
    let mut train = DatasetId::Mnist.load_from(&root, Split::Train).unwrap();
    let mut test = DatasetId::Mnist.load_from(&root, Split::Test).unwrap();
    let norm = DatasetId::Mnist.fit_normalizer(&train).unwrap();
    norm.apply(&mut train).unwrap();
    norm.apply(&mut test).unwrap();

    let dev = Dev::seed_from_u64(0);
    let mut model = KerasShallow::new(&dev, &DenseConfig::shallow(784, 32)).unwrap();
    let cfg = TrainConfig { epochs: 2, batch_size: 64, val_split: 0.0, patience: None, ..Default::default() };
    let empty = train.take(0);
    fit(&mut model, &train, &empty, &cfg).unwrap();
    let ours = Metrics::compute(&model, &test).unwrap();

    let pca = Pca::fit(&train.take(20_000).samples, 784, 32).unwrap();
    let back: Vec<f32> = pca.inverse_transform(&pca.transform(&test.samples));
    let linear = Metrics::from_reconstructions(&test.samples, &back, test.len(), f64::NAN);
    eprintln!(
        "after 2 epochs: test BCE {:.4}, MSE {:.4}; PCA-32 MSE {:.4}",
        ours.test_bce.unwrap(),
        ours.test_mse,
        linear.test_mse
    );

    // Outputs of 0.5 (an untrained model) score ln 2 ≈ 0.69; 20 epochs reach ≈ 0.091.
    assert!(ours.test_bce.unwrap() < 0.11, "{ours:?}"); // measured: 0.1040
    assert!(
        ours.test_mse < linear.test_mse,
        "nonlinear decoder beats PCA at 32 numbers: {} vs {}",
        ours.test_mse,
        linear.test_mse
    );
    let _ = reconstruct_all(&model, &test.take(3), 3);
}

use autoencoders::apps;
use autoencoders::data::DataConfig;
use autoencoders::model_dir::RunConfig;
use autoencoders::models::conv::{ConvAutoencoder, ConvConfig};

#[test]
fn conv_autoencoder_learns_mnist_and_reloads_identically() {
    let root = require_data!();
    let mut train = DatasetId::Mnist.load_from(&root, Split::Train).unwrap().take(6000);
    let mut test = DatasetId::Mnist.load_from(&root, Split::Test).unwrap().take(1000);
    let norm = DatasetId::Mnist.fit_normalizer(&train).unwrap();
    norm.apply(&mut train).unwrap();
    norm.apply(&mut test).unwrap();

    let dev = Dev::seed_from_u64(0);
    let mut model = ConvAutoencoder::new(&dev, &ConvConfig::new(32)).unwrap();
    let untrained = Metrics::compute(&model, &test).unwrap();
    let cfg = TrainConfig { epochs: 2, batch_size: 64, val_split: 0.0, patience: None, ..Default::default() };
    fit(&mut model, &train, &train.take(0), &cfg).unwrap();
    let ours = Metrics::compute(&model, &test).unwrap();
    eprintln!(
        "conv, 2 epochs on 6,000 images: test BCE {:.4} (untrained {:.4})",
        ours.test_bce.unwrap(),
        untrained.test_bce.unwrap()
    );
    // Predicting every pixel's mean scores ≈ 0.26 BCE; an untrained model ≈ 0.69.
    assert!(ours.test_bce.unwrap() < 0.2, "{ours:?}");

    // Saved in the model-directory format and loaded back: the same reconstructions.
    let dir = tempfile::tempdir().unwrap();
    let rc = RunConfig {
        model: ModelConfig::Conv(ConvConfig::new(32)),
        data: DataConfig { normalizer: Some(norm), ..DataConfig::new(DatasetId::Mnist) },
        train: cfg,
        command: String::new(),
        threshold: None,
        format_version: autoencoders::model_dir::FORMAT_VERSION,
        variant: Default::default(),
    };
    rc.save(dir.path()).unwrap();
    autoencoders::train::checkpoint::save_weights(&model, &dir.path().join("model.safetensors")).unwrap();
    let back = ConvAutoencoder::from_pretrained(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(reconstruct_all(&back, &test, 100), reconstruct_all(&model, &test, 100));
    let e = autoencoders::models::dense::Dense1::from_pretrained(dir.path().to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("not a `dense` model"), "{e}");
}

#[test]
fn a_model_of_normal_ecg_beats_flags_the_abnormal_ones() {
    let _root = require_data!(); // read through AUTOENCODERS_DATA by apps::train
    let dir = tempfile::tempdir().unwrap();
    let cfg = RunConfig {
        model: ModelConfig::Dense(DenseConfig {
            loss: ReconLoss::Mse,
            output_activation: Activation::Identity,
            ..DenseConfig::shallow(140, 8).with_hidden(&[64])
        }),
        data: DataConfig { normal_class: Some("1".into()), ..DataConfig::new(DatasetId::Ecg5000) },
        train: TrainConfig { epochs: 100, batch_size: 32, val_split: 0.1, patience: None, ..Default::default() },
        command: String::new(),
        threshold: None,
        format_version: autoencoders::model_dir::FORMAT_VERSION,
        variant: Default::default(),
    };
    apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap();
    let m = apps::evaluate(dir.path()).unwrap();
    let auroc = m.test_auroc.expect("a normal-class model reports test_auroc");
    eprintln!("ECG5000, dense 140→64→8 on 262 normal beats: test AUROC {auroc:.4}");
    assert!(auroc > 0.95, "{m:?}"); // measured: 0.991
    let json = std::fs::read_to_string(dir.path().join("metrics.json")).unwrap();
    assert!(json.contains("test_auroc"), "{json}");

    let mut bad = cfg.clone();
    bad.data.normal_class = Some("normal".into());
    let e = apps::train(&bad, dir.path(), false, Progress::Quiet).unwrap_err().to_string();
    assert!(e.contains("no class `normal`") && e.contains("1, 2, 3, 4, 5"), "{e}");
}

use autoencoders::models::lstm::{LstmAutoencoder, LstmConfig};

#[test]
fn lstm_autoencoder_of_normal_beats_separates_abnormal_ones_and_reloads() {
    let _root = require_data!(); // read through AUTOENCODERS_DATA by apps::train
    let dir = tempfile::tempdir().unwrap();
    let cfg = RunConfig {
        model: ModelConfig::Lstm(LstmConfig::new(140, 8)),
        data: DataConfig { normal_class: Some("1".into()), ..DataConfig::new(DatasetId::Ecg5000) },
        train: TrainConfig { epochs: 8, batch_size: 32, val_split: 0.1, patience: None, ..Default::default() },
        command: String::new(),
        threshold: None,
        format_version: autoencoders::model_dir::FORMAT_VERSION,
        variant: Default::default(),
    };
    let h = apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap();
    let m = apps::evaluate(dir.path()).unwrap();
    let auroc = m.test_auroc.unwrap();
    eprintln!("ECG5000, LSTM autoencoder, 8 epochs: test AUROC {auroc:.4}, MSE {:.4}", m.test_mse);
    assert!(h.records.last().unwrap().train_loss < 0.8 * h.records[0].train_loss, "{h:?}");
    assert!(auroc > 0.8, "{m:?}");
    let model = LstmAutoencoder::from_pretrained(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(model.config(), &LstmConfig::new(140, 8));
}
