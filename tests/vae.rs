//! The variational autoencoder end to end on the embedded digits: training, the bounds `eval`
//! reports, sampling and interpolation, saving, reloading and resuming.

use autoencoders::apps;
use autoencoders::data::{DataConfig, DatasetId, Split};
use autoencoders::model_dir::{load_family_model, RunConfig};
use autoencoders::models::dense::{Dense1, DenseConfig, DenseFamily};
use autoencoders::models::{Autoencoder, LatentBound, ModelConfig, ModelVisitor, Sparsity, VaeConfig, Variant};
use autoencoders::nn::Dev;
use autoencoders::train::{Progress, TrainConfig};
use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

fn vae_cfg(epochs: usize, beta: f32) -> RunConfig {
    let model = ModelConfig::Dense(DenseConfig::shallow(64, 4).with_hidden(&[32]));
    let train = TrainConfig { epochs, batch_size: 32, seed: 5, val_split: 0.1, patience: None, ..Default::default() };
    RunConfig::new(model, DataConfig::new(DatasetId::Digits), train).with_variant(Variant::Vae(VaeConfig { beta }))
}

fn trained(epochs: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    apps::train(&vae_cfg(epochs, 1.0), dir.path(), false, Progress::Quiet).unwrap();
    dir
}

/// Runs `f` on the model in `dir` with the first `n` test samples as a tensor.
struct WithTest<F> {
    x: Vec<f32>,
    n: usize,
    f: F,
}

impl<F: FnOnce(&dyn Fn(usize, &mut StdRng) -> Vec<LatentBound>) -> R, R> ModelVisitor for WithTest<F> {
    type Output = R;
    fn visit<M: Autoencoder>(self, model: M) -> autoencoders::Result<R> {
        let dev = Dev::default();
        let x = dev.tensor_from_vec(self.x, model.input_shape(self.n));
        Ok((self.f)(&|k, rng| model.latent_bounds(x.clone(), k, rng).expect("a VAE has bounds")))
    }
}

fn bounds_of<R>(dir: &std::path::Path, f: impl FnOnce(&dyn Fn(usize, &mut StdRng) -> Vec<LatentBound>) -> R) -> R {
    let cfg = RunConfig::load(dir).unwrap();
    let test = cfg.data.load_split(Split::Test).unwrap();
    let x = test.samples.clone();
    cfg.load_model(dir, WithTest { x, n: test.len(), f }).unwrap()
}

fn mean(v: impl Iterator<Item = f64>) -> (f64, f64, usize) {
    let v: Vec<f64> = v.collect();
    let n = v.len();
    let m = v.iter().sum::<f64>() / n as f64;
    let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    (m, sd, n)
}

#[test]
fn the_iwae_bound_with_one_draw_is_the_elbo_and_grows_with_draws() {
    let dir = trained(15);
    bounds_of(dir.path(), |bounds| {
        // k = 1 uses the same draw as the reconstruction term: per sample, the bound minus the
        // ELBO is the sampled KL's error against the closed form, which averages to 0.
        let one = bounds(1, &mut StdRng::seed_from_u64(1));
        let (d, sd, n) = mean(one.iter().map(|b| b.log_px + b.recon + b.kl));
        assert!(sd > 1e-3, "the two KL forms differ per sample (sd {sd})");
        assert!(d.abs() < 4.0 * sd / (n as f64).sqrt(), "IWAE(k=1) − ELBO = {d} ± {}", sd / (n as f64).sqrt());
        let at = |k: usize| mean(bounds(k, &mut StdRng::seed_from_u64(2)).iter().map(|b| b.log_px)).0;
        let (k1, k10, k100) = (at(1), at(10), at(100));
        assert!(k1 < k10 && k10 < k100, "log p(x) bounds {k1} (k=1), {k10} (k=10), {k100} (k=100)");
        // The estimate is a bound: −ELBO ≥ −log p(x), with a gap of at most the KL.
        let elbo = mean(one.iter().map(|b| -(b.recon + b.kl))).0;
        assert!(k100 > elbo && k100 - elbo < mean(one.iter().map(|b| b.kl)).0, "ELBO {elbo}, IWAE {k100}");
    });
}

#[test]
fn eval_reports_the_bound_its_parts_and_active_units() {
    let dir = trained(15);
    let m = apps::evaluate_with(dir.path(), &apps::EvalOptions { iw_samples: 20, ..Default::default() }).unwrap();
    let v = m.variational.expect("a VAE gets variational stats");
    assert!((v.neg_elbo - (v.recon + v.kl)).abs() < 1e-9);
    assert!(v.kl > 0.0 && v.recon > 0.0 && v.active_units >= 1 && v.active_units <= 4, "{v:?}");
    assert!(v.iw_log_px.unwrap() > -v.neg_elbo, "IWAE {:?} vs −ELBO {}", v.iw_log_px, v.neg_elbo);
    // test_loss is the model's own loss: the −ELBO with one draw per sample, near eval's.
    assert!((m.test_loss - v.neg_elbo).abs() < 0.05 * v.neg_elbo, "{} vs {}", m.test_loss, v.neg_elbo);
    // The ELBO is the same whatever number of IWAE draws is asked for (it once shared them).
    for k in [0, 3] {
        let other = apps::evaluate_with(dir.path(), &apps::EvalOptions { iw_samples: k, ..Default::default() });
        let w = other.unwrap().variational.unwrap();
        assert_eq!((w.neg_elbo, w.recon, w.kl), (v.neg_elbo, v.recon, v.kl), "iw_samples {k}");
        assert_eq!(w.iw_log_px.is_some(), k > 0);
    }
    // A plain autoencoder has none.
    let plain = tempfile::tempdir().unwrap();
    let cfg = RunConfig { variant: Variant::Plain, ..vae_cfg(2, 1.0) };
    apps::train(&cfg, plain.path(), false, Progress::Quiet).unwrap();
    assert_eq!(apps::evaluate(plain.path()).unwrap().variational, None);
}

#[test]
fn sampling_is_deterministic_for_a_seed_and_refused_without_a_prior() {
    let dir = trained(3);
    let a = apps::generate::sample(dir.path(), 16, 7).unwrap();
    assert_eq!(a, apps::generate::sample(dir.path(), 16, 7).unwrap());
    assert_ne!(a.samples, apps::generate::sample(dir.path(), 16, 8).unwrap().samples);
    assert_eq!((a.samples.len(), a.shape.clone()), (16 * 64, vec![1, 8, 8]));
    assert!(a.samples.iter().all(|v| (0.0..=1.0).contains(v)));
    let grid = apps::generate::manifold(dir.path(), 5).unwrap();
    assert_eq!(grid.samples.len(), 25 * 64);
    // `figures` adds a row of prior samples to a VAE's reconstructions.
    let rows = apps::figures(dir.path()).unwrap().reconstructions.rows;
    assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["original", "reconstruction", "prior samples"]);

    let plain = tempfile::tempdir().unwrap();
    let cfg = RunConfig { variant: Variant::Plain, ..vae_cfg(1, 1.0) };
    apps::train(&cfg, plain.path(), false, Progress::Quiet).unwrap();
    let e = apps::generate::sample(plain.path(), 4, 0).unwrap_err().to_string();
    assert!(
        e.contains("plain autoencoder") && e.contains("no known distribution") && e.contains("--variant vae"),
        "{e}"
    );
    // Interpolation needs no prior: straight for the plain model, spherical for the VAE.
    let line = apps::generate::interpolate(plain.path(), &[(0, 1)], 6).unwrap();
    assert!(line.titles[0].contains("linear") && line.samples.len() == 6 * 64);
    let arc = apps::generate::interpolate(dir.path(), &[(0, 1), (2, 3)], 6).unwrap();
    assert!(arc.titles[1].contains("2 → 3 (slerp)") && arc.samples.len() == 12 * 64);
    assert!(apps::generate::interpolate(dir.path(), &[(0, 100_000)], 6).is_err());
}

#[test]
fn a_vae_saves_reloads_and_resumes_bit_identically() {
    let cfg =
        RunConfig { train: TrainConfig { checkpoint_every: Some(7), ..vae_cfg(3, 2.0).train }, ..vae_cfg(3, 2.0) };
    let cfg = RunConfig { train: TrainConfig { kl_warmup: Some(2.0), ..cfg.train }, ..cfg };
    let (full, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    apps::train(&cfg, full.path(), false, Progress::Quiet).unwrap();
    let first = RunConfig { train: TrainConfig { epochs: 1, ..cfg.train.clone() }, ..cfg.clone() };
    apps::train(&first, parts.path(), false, Progress::Quiet).unwrap();
    apps::train(&cfg, parts.path(), true, Progress::Quiet).unwrap();
    // The losses of every epoch (not their seconds) and the best weights.
    let losses = |d: &std::path::Path| {
        let text = std::fs::read_to_string(d.join("history.csv")).unwrap();
        text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(losses(full.path()), losses(parts.path()));
    // (resume.safetensors holds the same, but its metadata's key order is a hash map's.)
    let w = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(w(full.path()) == w(parts.path()), "the weights differ after resuming");
    let saved = RunConfig::load(full.path()).unwrap();
    assert_eq!((saved.variant, saved.train.kl_warmup), (Variant::Vae(VaeConfig { beta: 2.0 }), Some(2.0)));
    let text = std::fs::read_to_string(full.path().join("config.json")).unwrap();
    assert!(text.contains("\"variant\"") && text.contains("\"kind\": \"vae\""), "{text}");
    // Resuming as another variant, or another β, is refused.
    let other = RunConfig { variant: Variant::Vae(VaeConfig { beta: 1.0 }), ..cfg.clone() };
    let e = apps::train(&other, full.path(), true, Progress::Quiet).unwrap_err().to_string();
    assert!(e.contains("vae (β 2"), "{e}");
    // The plain family loader refuses it instead of loading mismatched weights.
    let e = load_family_model::<Dense1>(full.path()).unwrap_err().to_string();
    assert!(e.contains("`vae` model"), "{e}");
    let _ = std::marker::PhantomData::<DenseFamily>;
}

#[test]
fn settings_that_do_not_fit_a_vae_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = |cfg: RunConfig| apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap_err().to_string();
    let sparse = vae_cfg(1, 1.0);
    let sparse =
        RunConfig { train: TrainConfig { sparsity: Some(Sparsity::L1 { weight: 1e-3 }), ..sparse.train }, ..sparse };
    assert!(bad(sparse).contains("a vae has its own regulariser"));
    let warm = RunConfig { variant: Variant::Plain, ..vae_cfg(1, 1.0) };
    let warm = RunConfig { train: TrainConfig { kl_warmup: Some(1.0), ..warm.train }, ..warm };
    assert!(bad(warm).contains("add --variant vae"));
    assert!(bad(vae_cfg(1, -1.0)).contains("β -1"));
    let relu = ModelConfig::Dense(DenseConfig {
        code_activation: autoencoders::nn::Activation::Relu,
        ..DenseConfig::shallow(64, 4)
    });
    assert!(bad(RunConfig { model: relu, ..vae_cfg(1, 1.0) }).contains("code layer must be linear (identity)"));
    let lstm = ModelConfig::Lstm(autoencoders::models::lstm::LstmConfig::new(64, 4));
    assert!(bad(RunConfig { model: lstm, ..vae_cfg(1, 1.0) }).contains("dense or conv"));
}

#[test]
fn sample_quality_measures_prior_samples_and_a_plain_models_fitted_codes() {
    let vae = trained(10);
    let plain = tempfile::tempdir().unwrap();
    apps::train(&RunConfig { variant: Variant::Plain, ..vae_cfg(10, 1.0) }, plain.path(), false, Progress::Quiet)
        .unwrap();
    let opts = apps::generate::QualityOptions { samples: 400, ..Default::default() };
    let (v, p) = (
        apps::generate::sample_quality(vae.path(), &opts).unwrap(),
        apps::generate::sample_quality(plain.path(), &opts).unwrap(),
    );
    use autoencoders::train::sample_quality::CodesFrom;
    assert_eq!((v.codes_from, p.codes_from), (CodesFrom::Prior, CodesFrom::FittedGaussian));
    for q in [v, p] {
        assert!(q.frechet.is_finite() && q.frechet > q.frechet_floor && q.frechet_floor >= 0.0, "{q:?}");
        assert!(q.parzen.log_likelihood.is_finite() && q.parzen.stderr > 0.0, "{q:?}");
        assert!(q.classifier_accuracy > 0.8, "{q:?}");
    }
    // Deterministic for a seed.
    assert_eq!(apps::generate::sample_quality(vae.path(), &opts).unwrap(), v);
}
