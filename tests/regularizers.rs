//! Sparse and contractive autoencoders: every new loss's gradient against finite differences,
//! the encoders' Jacobian–vector products against finite differences, the exact Jacobian norm
//! against the estimator and against reverse mode, training, resume, and refused settings.

mod common;

use autoencoders::apps;
use autoencoders::data::DataConfig;
use autoencoders::model_dir::RunConfig;
use autoencoders::models::conv::{ConvAutoencoder, ConvConfig};
use autoencoders::models::dense::{Dense0, Dense1, Dense2, DenseConfig};
use autoencoders::models::lstm::LstmConfig;
use autoencoders::models::{Contractive, JacobianMethod, Sparsity};
use autoencoders::prelude::*;
use autoencoders::train::{jacobian_norms, RegularizedStep};
use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The step's total loss of `x` (the same probes every call: a fixed generator seed).
fn total<M: Autoencoder>(step: &RegularizedStep, model: &M, x: &Tensor<M::Input, f32, Dev>) -> f64 {
    let (_, v) = step.loss(model, x.clone(), x.clone(), &mut StdRng::seed_from_u64(11), 1.0).unwrap();
    v.total as f64
}

/// Checks the gradient of the step's loss with respect to every parameter tensor against a
/// central finite difference along a random direction in that tensor (directional derivatives:
/// well above f32 round-off, unlike single entries).
fn check_gradients<M: Autoencoder>(what: &str, step: &RegularizedStep, model: &mut M, x: Tensor<M::Input, f32, Dev>) {
    let (loss, _) = step
        .loss(model, x.clone().traced(model.alloc_grads()), x.clone(), &mut StdRng::seed_from_u64(11), 1.0)
        .unwrap();
    let grads = loss.backward();
    let mut named = Vec::new();
    model.visit("", &mut |name, p| named.push((name, p.values(), p.grad(&grads))));
    let mut rng = StdRng::seed_from_u64(5);
    for (name, values, grad) in named {
        let dir: Vec<f32> = values.iter().map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let want: f64 = grad.iter().zip(&dir).map(|(&g, &d)| g as f64 * d as f64).sum();
        let h = 1e-3f32;
        let mut at = |sign: f32| {
            let moved: Vec<f32> = values.iter().zip(&dir).map(|(&v, &d)| v + sign * h * d).collect();
            model.visit_mut("", &mut |n, p| {
                if n == name {
                    p.set_values(&moved)
                }
            });
            total(step, model, &x)
        };
        let fd = (at(1.0) - at(-1.0)) / (2.0 * h as f64);
        model.visit_mut("", &mut |n, p| {
            if n == name {
                p.set_values(&values)
            }
        });
        let err = (fd - want).abs();
        assert!(
            err <= 0.02 * want.abs().max(fd.abs()) + 2e-4,
            "{what} {name}: autodiff {want:.6e}, finite difference {fd:.6e}"
        );
    }
}

fn step(sparsity: Option<&str>, contractive: Option<&str>) -> RegularizedStep {
    let cfg = TrainConfig {
        sparsity: sparsity.map(|s| s.parse().unwrap()),
        contractive: contractive.map(|s| s.parse().unwrap()),
        ..Default::default()
    };
    RegularizedStep::new(&cfg)
}

fn dense_cfg(hidden: &[usize], act: Activation, code: Activation) -> DenseConfig {
    DenseConfig { activation: act, code_activation: code, ..DenseConfig::shallow(12, 4).with_hidden(hidden) }
}

#[test]
fn every_new_loss_has_the_gradient_that_finite_differences_give() {
    let dev = Dev::seed_from_u64(2);
    let x = || dev.sample_uniform_like(&(16, 12));
    let (tanh, sig) = (Activation::Tanh, Activation::Sigmoid);
    let mut one = Dense0::new(&dev, &dense_cfg(&[], tanh, sig)).unwrap();
    let mut two = Dense1::new(&dev, &dense_cfg(&[6], tanh, sig)).unwrap();
    let mut three = Dense2::new(&dev, &dense_cfg(&[8, 6], tanh, Activation::Identity)).unwrap();
    for (what, s) in [
        ("l1", step(Some("l1:0.05"), None)),
        ("kl", step(Some("kl:0.1:0.5"), None)),
        ("exact", step(None, Some("0.5:exact"))),
        ("hutchinson", step(None, Some("0.5:hutchinson"))),
        ("l1+hutchinson", step(Some("l1:0.05"), Some("0.5:hutchinson"))),
    ] {
        check_gradients(&format!("dense0 {what}"), &s, &mut one, x());
        if what != "exact" {
            check_gradients(&format!("dense1 {what}"), &s, &mut two, x());
        }
    }
    check_gradients("dense2 l1", &step(Some("l1:0.05"), None), &mut three, x());
    check_gradients("dense2 hutchinson", &step(None, Some("0.5:hutchinson")), &mut three, x());
    // The ReLU closed form (slope 0 or 1) and the conv encoder's tangents.
    let mut relu = Dense0::new(&dev, &dense_cfg(&[], tanh, Activation::Relu)).unwrap();
    check_gradients("dense0 relu exact", &step(None, Some("0.5:exact")), &mut relu, x());
    let mut conv = ConvAutoencoder::new(&dev, &ConvConfig { activation: tanh, ..ConvConfig::new(4) }).unwrap();
    let xc = dev.sample_uniform_like(&(3, Const));
    check_gradients("conv hutchinson + l1", &step(Some("l1:0.01"), Some("0.5:hutchinson")), &mut conv, xc);
}

/// `encode_jvp`'s tangent is the derivative of `encode` along the probe.
fn check_tangent<M: Autoencoder>(what: &str, model: &M, x: Tensor<M::Input, f32, Dev>, u: Tensor<M::Input, f32, Dev>) {
    let (code, tangent) = model.encode_jvp(x.clone(), u.clone()).expect("has tangents");
    assert_eq!(code.as_vec(), model.encode(x.clone()).as_vec(), "{what}: the code is encode's");
    let h = 1e-2f32;
    let plus = model.encode(x.clone() + u.clone() * h).as_vec();
    let minus = model.encode(x - u * h).as_vec();
    for (k, ((p, m), t)) in plus.iter().zip(&minus).zip(tangent.as_vec()).enumerate() {
        let fd = (p - m) / (2.0 * h);
        assert!(
            (fd - t).abs() <= 0.01 * fd.abs().max(t.abs()) + 2e-3,
            "{what}[{k}]: tangent {t}, finite difference {fd}"
        );
    }
}

#[test]
fn encoder_tangents_are_directional_derivatives() {
    let dev = Dev::seed_from_u64(3);
    let x = dev.sample_uniform_like(&(5, 12));
    let u = dev.sample_normal_like(&(5, 12));
    let cfgs = [(Activation::Tanh, Activation::Sigmoid), (Activation::Sigmoid, Activation::Tanh)];
    for (act, code) in cfgs {
        check_tangent("dense0", &Dense0::new(&dev, &dense_cfg(&[], act, code)).unwrap(), x.clone(), u.clone());
        check_tangent("dense1", &Dense1::new(&dev, &dense_cfg(&[7], act, code)).unwrap(), x.clone(), u.clone());
        check_tangent("dense2", &Dense2::new(&dev, &dense_cfg(&[9, 6], act, code)).unwrap(), x.clone(), u.clone());
    }
    let conv = ConvAutoencoder::new(&dev, &ConvConfig { activation: Activation::Tanh, ..ConvConfig::new(6) }).unwrap();
    check_tangent("conv", &conv, dev.sample_uniform_like(&(2, Const)), dev.sample_normal_like(&(2, Const)));
}

#[test]
fn the_exact_jacobian_norm_matches_reverse_mode_and_the_estimator_within_two_percent() {
    let dev = Dev::seed_from_u64(4);
    let data = DatasetId::Digits.load(autoencoders::data::Split::Train).unwrap().take(512);
    for code in [Activation::Sigmoid, Activation::Relu, Activation::Tanh] {
        let cfg = DenseConfig { code_activation: code, ..DenseConfig::shallow(64, 16) };
        let model = Dense0::new(&dev, &cfg).unwrap();
        let x: Tensor<(usize, usize), f32, Dev> = dev.tensor_from_vec(data.samples.clone(), (data.len(), 64));
        let exact = model.encode_jacobian_sq(x.clone()).unwrap().1.array() as f64;
        // Reverse mode, one pass per code unit: the same number.
        let rows: f64 =
            jacobian_norms(&model, &data, data.len()).iter().map(|n| n * n).sum::<f64>() / data.len() as f64;
        assert!((rows - exact).abs() <= 1e-4 * exact, "{code}: closed form {exact}, reverse mode {rows}");
        // Hutchinson: 16 draws of one probe per sample, 8,192 probes in all.
        let c = Contractive { weight: 1.0, method: JacobianMethod::Hutchinson };
        let mut rng = StdRng::seed_from_u64(9);
        let est: f64 =
            (0..16).map(|_| c.encode(&model, x.clone(), &mut rng).unwrap().1.array() as f64).sum::<f64>() / 16.0;
        assert!((est - exact).abs() <= 0.02 * exact, "{code}: exact {exact}, estimated {est}");
    }
}

fn digits_cfg(train: TrainConfig, code: Activation) -> RunConfig {
    let model = DenseConfig { code_activation: code, ..DenseConfig::shallow(64, 16).with_hidden(&[32]) };
    RunConfig::new(ModelConfig::Dense(model), DataConfig::new(DatasetId::Digits), train)
}

fn train_cfg(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch_size: 32, seed: 3, val_split: 0.1, patience: None, ..Default::default() }
}

#[test]
fn sparse_and_contractive_models_train_save_and_report_what_they_change() {
    let run = |train: TrainConfig| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = digits_cfg(train, Activation::Relu);
        apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap();
        let m = apps::evaluate(dir.path()).unwrap();
        assert_eq!(RunConfig::load(dir.path()).unwrap().train, cfg.train, "config.json records the regulariser");
        m
    };
    let plain = run(train_cfg(30));
    let sparse = run(TrainConfig { sparsity: Some("l1:0.01".parse().unwrap()), ..train_cfg(30) });
    let contractive = run(TrainConfig { contractive: Some("0.05:hutchinson".parse().unwrap()), ..train_cfg(30) });
    let (p, s) = (plain.code.unwrap(), sparse.code.unwrap());
    assert!(s.hoyer > p.hoyer && s.zero_fraction > p.zero_fraction, "plain {p:?}, sparse {s:?}");
    let (pj, cj) = (plain.jacobian.unwrap(), contractive.jacobian.unwrap());
    assert!(
        cj.mean_frobenius < pj.mean_frobenius && cj.sensitivity < pj.sensitivity,
        "plain {pj:?}, contractive {cj:?}"
    );
}

#[test]
fn a_regularised_run_resumes_bit_identically_mid_epoch() {
    let train = TrainConfig {
        sparsity: Some(Sparsity::L1 { weight: 1e-3 }),
        contractive: Some("0.01:hutchinson".parse().unwrap()),
        checkpoint_every: Some(5),
        ..train_cfg(3)
    };
    let cfg = digits_cfg(train, Activation::Relu);
    let (full, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    apps::train(&cfg, full.path(), false, Progress::Quiet).unwrap();
    // Stopped after 1 epoch, resumed to 3: the probes of every batch must be drawn again the same.
    let mut first = cfg.clone();
    first.train.epochs = 1;
    apps::train(&first, parts.path(), false, Progress::Quiet).unwrap();
    apps::train(&cfg, parts.path(), true, Progress::Quiet).unwrap();
    let w = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(w(full.path()), w(parts.path()));
}

#[test]
fn settings_a_model_cannot_take_are_refused_naming_the_flag() {
    let refuse = |model: ModelConfig, train: TrainConfig| {
        let cfg = RunConfig::new(model, DataConfig::new(DatasetId::Digits), train);
        let dir = tempfile::tempdir().unwrap();
        let e = apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap_err().to_string();
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "a refused run writes nothing");
        e
    };
    let contractive = |s: &str| TrainConfig { contractive: Some(s.parse().unwrap()), ..train_cfg(1) };
    let e = refuse(ModelConfig::Lstm(LstmConfig::new(64, 4)), contractive("1e-4"));
    assert!(e.contains("contractive") && e.contains("dense and conv"), "{e}");
    let deep = ModelConfig::Dense(DenseConfig::shallow(64, 4).with_hidden(&[16]));
    let e = refuse(deep, contractive("1e-4:exact"));
    assert!(
        e.contains("one-layer dense encoder") && e.contains("1e-4:hutchinson") || e.contains("0.0001:hutchinson"),
        "{e}"
    );
    let kl = TrainConfig { sparsity: Some(Sparsity::Kl { rho: 0.05, weight: 3.0 }), ..train_cfg(1) };
    let e = refuse(ModelConfig::Dense(DenseConfig::shallow(64, 4)), kl);
    assert!(e.contains("sparsity") && e.contains("--code-activation sigmoid"), "{e}");
    let gelu = ModelConfig::Dense(DenseConfig {
        activation: Activation::Gelu,
        ..DenseConfig::shallow(64, 4).with_hidden(&[8])
    });
    let e = refuse(gelu, contractive("1e-4"));
    assert!(e.contains("gelu"), "{e}");
}

#[test]
fn the_cli_refuses_bad_values_naming_the_flag_and_the_range() {
    let bin = env!("CARGO_BIN_EXE_autoencoders");
    let out = tempfile::tempdir().unwrap();
    for (flag, value, says) in [
        ("--noise", "gaussian:-1", "σ must be ≥ 0"),
        ("--sparsity", "kl:2:1", "within (0, 1)"),
        ("--contractive", "NaN", "≥ 0"),
    ] {
        let (ok, text) = common::run(
            std::process::Command::new(bin)
                .args(["train", "--dataset", "digits", "--epochs", "1", flag, value, "--out"])
                .arg(out.path().join("m")),
        );
        assert!(!ok && text.contains(flag) && text.contains(says), "{flag} {value}:\n{text}");
    }
    // An LSTM of windows of a one-column series.
    let series = out.path().join("series.csv");
    let rows: String = (0..200).map(|i| format!("{}\n", (i as f32 * 0.1).sin())).collect();
    std::fs::write(&series, format!("v\n{rows}")).unwrap();
    let (ok, text) = common::run(
        std::process::Command::new(bin)
            .args(["train", "--model", "lstm", "--window", "20", "--epochs", "1", "--contractive", "1e-4", "--dataset"])
            .arg(&series)
            .arg("--out")
            .arg(out.path().join("lstm")),
    );
    assert!(!ok && text.contains("contractive") && text.contains("dense and conv"), "{text}");
}
