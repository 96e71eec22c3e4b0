//! The adversarial autoencoder on the embedded digits: its three-phase step updates only each
//! phase's parameters, its codes match the prior better than a plain model's, and it saves,
//! resumes, samples and refuses what does not fit.

use autoencoders::apps;
use autoencoders::data::{DataConfig, DatasetId, Split};
use autoencoders::model_dir::RunConfig;
use autoencoders::models::aae::Whitening;
use autoencoders::models::dense::DenseConfig;
use autoencoders::models::{AaeConfig, Autoencoder, ModelConfig, ModelVisitor, PriorKind, Variant};
use autoencoders::nn::Dev;
use autoencoders::train::{AdversarialStep, Progress, StepBatch, TrainConfig};
use dfdx::prelude::*;

fn aae_cfg(epochs: usize, code: usize, prior: PriorKind) -> RunConfig {
    let model = ModelConfig::Dense(DenseConfig::shallow(64, code).with_hidden(&[32]));
    let train = TrainConfig { epochs, batch_size: 32, seed: 4, val_split: 0.1, patience: None, ..Default::default() };
    let variant = Variant::Aae(AaeConfig { prior, discriminator: 32, ..Default::default() });
    RunConfig::new(model, DataConfig::new(DatasetId::Digits), train).with_variant(variant)
}

/// One adversarial step with the reconstruction phase's learning rate at 0: the decoder must
/// not move (only that phase may update it), the encoder and discriminator must.
struct OneStep;

impl ModelVisitor for OneStep {
    type Output = Vec<(String, bool)>;
    fn visit<M: Autoencoder>(self, mut model: M) -> autoencoders::Result<Vec<(String, bool)>> {
        let data = autoencoders::data::prepare(&DatasetId::Digits, None).unwrap().train;
        let dev = Dev::default();
        let x = dev.tensor_from_vec(data.samples[..32 * 64].to_vec(), model.input_shape(32));
        let before = autoencoders::train::checkpoint::named_tensors(&model);
        let mut step = AdversarialStep::new(&TrainConfig::default());
        step.phases(&mut model, StepBatch { input: x.clone(), target: x }, 0.0)?;
        let after = autoencoders::train::checkpoint::named_tensors(&model);
        Ok(before.iter().zip(&after).map(|(a, b)| (a.name.clone(), a.values != b.values)).collect())
    }
}

#[test]
fn each_phase_updates_only_its_own_parameters() {
    let cfg = aae_cfg(1, 4, PriorKind::Gaussian);
    let moved = cfg.build(&Dev::seed_from_u64(1), OneStep).unwrap();
    assert!(moved.iter().any(|(n, _)| n.starts_with("discriminator.2")), "{moved:?}");
    for (name, changed) in moved {
        let want = !name.starts_with("decoder");
        assert_eq!(changed, want, "{name}: changed {changed}");
    }
}

/// The discriminator's weights after one adversarial step with `k` discriminator updates.
struct DiscAfter(usize);

impl ModelVisitor for DiscAfter {
    type Output = Vec<(String, Vec<f32>)>;
    fn visit<M: Autoencoder>(self, mut model: M) -> autoencoders::Result<Self::Output> {
        let data = autoencoders::data::prepare(&DatasetId::Digits, None).unwrap().train;
        let x = Dev::default().tensor_from_vec(data.samples[..32 * 64].to_vec(), model.input_shape(32));
        let cfg = TrainConfig { discriminator_steps: Some(self.0), ..Default::default() };
        AdversarialStep::new(&cfg).phases(&mut model, StepBatch { input: x.clone(), target: x }, 1e-3)?;
        let named = autoencoders::train::checkpoint::named_tensors(&model);
        Ok(named.into_iter().map(|t| (t.name, t.values)).collect())
    }
}

#[test]
fn each_discriminator_step_updates_the_discriminator_again() {
    let cfg = aae_cfg(1, 4, PriorKind::Gaussian);
    let one = cfg.build(&Dev::seed_from_u64(1), DiscAfter(1)).unwrap();
    let three = cfg.build(&Dev::seed_from_u64(1), DiscAfter(3)).unwrap();
    for ((name, a), (_, b)) in one.iter().zip(&three) {
        // The reconstruction phase runs first, so only the discriminator differs before the
        // generator phase; the encoder then follows a different discriminator.
        if name.starts_with("decoder") {
            assert_eq!(a, b, "{name}: the decoder moved differently");
        } else if name.starts_with("discriminator") {
            assert_ne!(a, b, "{name}: two more discriminator steps changed nothing");
        }
    }
}

struct Codes(autoencoders::data::Dataset);

impl ModelVisitor for Codes {
    type Output = Vec<f32>;
    fn visit<M: Autoencoder>(self, model: M) -> autoencoders::Result<Vec<f32>> {
        Ok(autoencoders::train::encode_all(&model, &self.0, 256))
    }
}

#[test]
fn its_codes_match_the_prior_better_than_a_plain_models() {
    let fit = |variant: Variant| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = RunConfig { variant, ..aae_cfg(40, 2, PriorKind::Gaussian) };
        apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap();
        let m = apps::evaluate(dir.path()).unwrap();
        (m, dir)
    };
    let (aae, dir) =
        fit(Variant::Aae(AaeConfig { prior: PriorKind::Gaussian, discriminator: 32, ..Default::default() }));
    let p = aae.prior_fit.expect("an AAE reports how its codes fit the prior");
    assert!(p.samples > 300 && p.reference.p_value > 0.01, "{p:?}");
    // Where the gap comes from: the training codes' fit and the test codes' shift from them.
    let (train, shift) = (p.train_codes.expect("training codes tested"), p.test_vs_train.expect("shift tested"));
    assert!(train.mmd2 < p.codes.mmd2 * 3.0 && shift.mmd2 < p.codes.mmd2 * 3.0, "{p:?}");
    // A plain autoencoder has no prior to fit; measure its codes against N(0, I) directly.
    let (_plain, plain_dir) = fit(Variant::Plain);
    let codes = |d: &std::path::Path| {
        let cfg = RunConfig::load(d).unwrap();
        let test = cfg.data.load_split(Split::Test).unwrap();
        cfg.load_model(d, Codes(test)).unwrap()
    };
    let gauss = autoencoders::models::Prior::StandardNormal { dim: 2 }.sample_seeded(p.samples, 3);
    let test = |c: Vec<f32>| autoencoders::train::sample_quality::mmd_test(&c[..p.samples * 2], &gauss, 2, 0, 1).mmd2;
    let (a, b) = (test(codes(dir.path())), test(codes(plain_dir.path())));
    assert!(a < b / 3.0, "MMD² to N(0, I): AAE {a}, plain {b}");
    // Samples and the model card.
    let s = apps::generate::sample(dir.path(), 8, 0).unwrap();
    assert_eq!(s, apps::generate::sample(dir.path(), 8, 0).unwrap());
}

/// `cfg` trained in one run, and again one epoch at a time resumed to the end: the weights
/// must be the same bytes. The whole run's directory.
fn trained_whole_and_resumed(cfg: &RunConfig) -> tempfile::TempDir {
    let (full, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    apps::train(cfg, full.path(), false, Progress::Quiet).unwrap();
    let first = RunConfig { train: TrainConfig { epochs: 1, ..cfg.train.clone() }, ..cfg.clone() };
    apps::train(&first, parts.path(), false, Progress::Quiet).unwrap();
    apps::train(cfg, parts.path(), true, Progress::Quiet).unwrap();
    let w = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(w(full.path()) == w(parts.path()), "the weights differ after resuming");
    full
}

#[test]
fn an_aae_resumes_bit_identically_mid_epoch() {
    let cfg = aae_cfg(3, 2, PriorKind::Circle10);
    let train = TrainConfig { checkpoint_every: Some(9), discriminator_steps: Some(2), ..cfg.train.clone() };
    let cfg = RunConfig { train, ..cfg };
    let full = trained_whole_and_resumed(&cfg);
    let names = autoencoders::train::checkpoint::read_safetensors(&full.path().join("resume.safetensors")).unwrap();
    for group in ["recon.adam.m.encoder", "disc.adam.m.discriminator", "gen.adam.m.encoder"] {
        assert!(names.0.iter().any(|t| t.name.starts_with(group)), "no {group}… in the resume file");
    }
    assert_eq!(RunConfig::load(full.path()).unwrap().variant, cfg.variant);
}

#[test]
fn whitened_codes_have_the_priors_moments_on_the_training_data_and_resume_bit_identically() {
    let mut cfg = aae_cfg(3, 3, PriorKind::Gaussian);
    cfg.variant = Variant::Aae(AaeConfig { prior: PriorKind::Gaussian, discriminator: 32, whiten: true });
    cfg.train = TrainConfig { val_split: 0.0, checkpoint_every: Some(9), ..cfg.train.clone() };
    let full = trained_whole_and_resumed(&cfg);
    // Fewer training samples than the whitening reads: all of them, so exactly white.
    let saved = RunConfig::load(full.path()).unwrap();
    assert_eq!(saved.variant, cfg.variant);
    let train = saved.data.load_split(Split::Train).unwrap();
    assert!(train.len() < autoencoders::models::aae::WHITEN_SAMPLES);
    // White codes: mean 0, and covariance I, so their whitening is the identity.
    let again = Whitening::fit(&saved.load_model(full.path(), Codes(train)).unwrap(), 3);
    assert!(again.mean.amax() < 1e-3, "means {}", again.mean);
    assert!((&again.w - nalgebra::DMatrix::identity(3, 3)).amax() < 1e-3, "C^-1/2 {}", again.w);
}

#[test]
fn settings_that_do_not_fit_an_aae_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = |cfg: RunConfig| apps::train(&cfg, dir.path(), false, Progress::Quiet).unwrap_err().to_string();
    assert!(bad(aae_cfg(1, 4, PriorKind::Circle10)).contains("--code 2"));
    let mut circle = aae_cfg(1, 2, PriorKind::Circle10);
    circle.variant = Variant::Aae(AaeConfig { prior: PriorKind::Circle10, whiten: true, ..Default::default() });
    assert!(bad(circle).contains("--prior gaussian"));
    let lr = RunConfig { variant: Variant::Plain, ..aae_cfg(1, 4, PriorKind::Gaussian) };
    let lr = RunConfig { train: TrainConfig { adversarial_lr: Some(1e-3), ..lr.train }, ..lr };
    assert!(bad(lr.clone()).contains("add --variant aae"));
    let steps = |k| {
        let cfg = aae_cfg(1, 4, PriorKind::Gaussian);
        RunConfig { train: TrainConfig { discriminator_steps: Some(k), ..cfg.train }, ..cfg }
    };
    assert!(bad(steps(0)).contains("at least 1"));
    let plain = RunConfig { variant: Variant::Plain, ..steps(2) };
    assert!(bad(plain).contains("add --variant aae"));
    let sparse = aae_cfg(1, 4, PriorKind::Gaussian);
    let sparse =
        RunConfig { train: TrainConfig { sparsity: Some("l1:1e-3".parse().unwrap()), ..sparse.train }, ..sparse };
    assert!(bad(sparse).contains("the discriminator"));
}
