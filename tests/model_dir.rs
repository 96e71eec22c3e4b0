//! The model-directory format: directories written by earlier releases still load with the
//! same outputs, every registered family saves, reloads and has a card, and what cannot be
//! read is refused with the file named.

use std::path::{Path, PathBuf};

use autoencoders::apps;
use autoencoders::data::{DataConfig, DatasetId, Normalizer};
use autoencoders::model_dir::{load_family_model, RunConfig, CONFIG, FORMAT_VERSION, WEIGHTS};
use autoencoders::models::conv::ConvAutoencoder;
use autoencoders::models::dense::{Dense1, Dense2};
use autoencoders::models::lstm::LstmAutoencoder;
use autoencoders::models::{Autoencoder, ModelConfig, ModelVisitor, FAMILIES};
use autoencoders::nn::Dev;
use autoencoders::prelude::{Pretrained, TensorFromVec};
use autoencoders::train::checkpoint::{read_safetensors, save_weights};
use autoencoders::train::{reconstruct_all, TrainConfig};
use autoencoders::Result;
use dfdx::prelude::*;

fn v0(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v0").join(name)
}

fn reference(dir: &Path, name: &str) -> (Vec<usize>, Vec<f32>) {
    let (tensors, _) = read_safetensors(&dir.join("reference.safetensors")).unwrap();
    let t = tensors.into_iter().find(|t| t.name == name).unwrap();
    (t.shape, t.values)
}

/// The reconstructions `model` gives the fixture's reference input, against the release's.
fn check_outputs<M: Autoencoder>(model: &M, dir: &Path) {
    let (shape, input) = reference(dir, "input");
    let (_, want) = reference(dir, "reconstruction");
    let x = Dev::default().tensor_from_vec(input, model.input_shape(shape[0]));
    let got = model.reconstruct(x).as_vec();
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // Bit-identical on the machine that wrote them; other CPUs may differ in the last bits.
    assert!(worst < 1e-5, "{}: max |difference| {worst:e}", dir.display());
}

#[test]
fn directories_written_before_format_versions_load_with_the_same_outputs() {
    for name in ["dense", "conv", "lstm"] {
        let cfg = RunConfig::load(&v0(name)).unwrap();
        assert_eq!(cfg.format_version, 0, "{name}");
        assert_eq!(cfg.model.family(), name);
    }
    check_outputs(&Dense1::from_pretrained(v0("dense").to_str().unwrap()).unwrap(), &v0("dense"));
    check_outputs(&ConvAutoencoder::from_pretrained(v0("conv").to_str().unwrap()).unwrap(), &v0("conv"));
    check_outputs(&LstmAutoencoder::from_pretrained(v0("lstm").to_str().unwrap()).unwrap(), &v0("lstm"));
    // And through the registry's dispatch, as `eval` and `figures` load them.
    struct Check<'a>(&'a Path);
    impl ModelVisitor for Check<'_> {
        type Output = ();
        fn visit<M: Autoencoder>(self, m: M) -> Result<()> {
            check_outputs(&m, self.0);
            Ok(())
        }
    }
    for name in ["dense", "conv", "lstm"] {
        RunConfig::load(&v0(name)).unwrap().load_model(&v0(name), Check(&v0(name))).unwrap();
    }
}

#[test]
fn a_saved_config_is_in_the_current_format_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RunConfig::load(&v0("dense")).unwrap();
    cfg.save(dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join(CONFIG)).unwrap();
    assert!(text.contains(&format!("\"format_version\": {FORMAT_VERSION}")), "{text}");
    assert_eq!(RunConfig::load(dir.path()).unwrap().format_version, FORMAT_VERSION);

    cfg.format_version = FORMAT_VERSION + 1;
    let newer = serde_json::to_string(&cfg).unwrap();
    std::fs::write(dir.path().join(CONFIG), newer).unwrap();
    std::fs::copy(v0("dense").join(WEIGHTS), dir.path().join(WEIGHTS)).unwrap();
    let e = RunConfig::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("config.json") && e.contains("newer autoencoders") && e.contains("upgrade"), "{e}");
    let e = Dense1::from_pretrained(dir.path().to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("newer autoencoders"), "{e}");
}

#[test]
fn loading_with_the_wrong_type_names_both_families() {
    let e = LstmAutoencoder::from_pretrained(v0("dense").to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("config.json") && e.contains("`dense` model, not a `lstm` model"), "{e}");
    let e = Dense2::from_pretrained(v0("dense").to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("cannot hold it"), "{e}");
    let e = load_family_model::<Dense1>(&v0("does-not-exist")).unwrap_err().to_string();
    assert!(e.contains("does-not-exist"), "{e}");
}

/// Every registered family: its example config builds, saves, reloads to identical outputs,
/// round-trips through config.json, and has a card whose weight-layout text names its tensors.
#[test]
fn every_registered_family_round_trips_and_has_a_card() {
    let examples = ModelConfig::examples();
    assert_eq!(examples.len(), FAMILIES.len(), "each registered family needs an example");
    for model in examples {
        let family = model.family();
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(json["kind"], family, "the config.json tag must be the family's NAME");
        assert!(FAMILIES.iter().any(|(n, about)| *n == family && !about.is_empty()), "{family}");
        let dir = tempfile::tempdir().unwrap();
        let data = DataConfig {
            normalizer: Some(Normalizer::MinMax { min: 0.0, max: 1.0 }),
            ..DataConfig::new(DatasetId::Digits)
        };
        RunConfig::new(model.clone(), data, TrainConfig::default()).save(dir.path()).unwrap();
        let before = model.build(&Dev::seed_from_u64(3), SaveAndRun(dir.path())).unwrap();
        let cfg = RunConfig::load(dir.path()).unwrap();
        assert_eq!(cfg.model, model, "{family}: config.json round trip");
        let after = cfg.load_model(dir.path(), Run).unwrap();
        assert_eq!(before.outputs, after.outputs, "{family}: save → load changed the outputs");
        let card = model.card();
        assert!(!card.rust_type.is_empty() && card.tag.ends_with("autoencoder"), "{family}: {card:?}");
        for name in &before.params {
            // `encoder.0.weight` is described as `encoder.0` or `encoder.{i}`, plus `weight`;
            // a top-level `weight` by its name.
            let parts: Vec<&str> = name.split('.').collect();
            let last = parts[parts.len() - 1];
            let (layer, generic) = match parts.as_slice() {
                [first, second, ..] if parts.len() > 2 => (format!("{first}.{second}"), format!("{first}.{{i}}")),
                _ => (name.clone(), name.clone()),
            };
            assert!(
                (card.weight_layout.contains(&layer) || card.weight_layout.contains(&generic))
                    && card.weight_layout.contains(last),
                "{family}: the card's weight layout does not describe `{name}`: {}",
                card.weight_layout
            );
        }
        // The export card carries it.
        let about = apps::check_model(dir.path()).unwrap();
        assert!(about.contains(&model.describe()));
        // The count computed from the config is the built model's (checked before loading).
        assert!(about.contains(&format!("({} parameters)", model.num_params())), "{family}: {about}");
    }
}

#[test]
fn a_config_edited_to_absurd_sizes_is_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let model = ModelConfig::examples().remove(0);
    let data = DataConfig {
        normalizer: Some(Normalizer::MinMax { min: 0.0, max: 1.0 }),
        ..DataConfig::new(DatasetId::Digits)
    };
    RunConfig::new(model.clone(), data, TrainConfig::default()).save(dir.path()).unwrap();
    model.build(&Dev::seed_from_u64(3), SaveAndRun(dir.path())).unwrap();
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let input = serde_json::to_value(&model).unwrap()["input"].as_u64().unwrap();
    std::fs::write(&path, text.replacen(&format!("\"input\": {input}"), "\"input\": 1099511627776", 1)).unwrap();
    let e = apps::check_model(dir.path()).unwrap_err().to_string();
    assert!(e.contains("config.json: describes") && e.contains("the config does not belong to these weights"), "{e}");
}

struct Outputs {
    outputs: Vec<f32>,
    params: Vec<String>,
}

fn outputs<M: Autoencoder>(m: &M) -> Outputs {
    let x = Dev::seed_from_u64(1).sample_uniform_like(&m.input_shape(3));
    let mut params = Vec::new();
    m.visit("", &mut |name, _| params.push(name));
    Outputs { outputs: m.reconstruct(x).as_vec(), params }
}

struct SaveAndRun<'a>(&'a Path);
impl ModelVisitor for SaveAndRun<'_> {
    type Output = Outputs;
    fn visit<M: Autoencoder>(self, m: M) -> Result<Outputs> {
        save_weights(&m, &self.0.join(WEIGHTS))?;
        Ok(outputs(&m))
    }
}

struct Run;
impl ModelVisitor for Run {
    type Output = Outputs;
    fn visit<M: Autoencoder>(self, m: M) -> Result<Outputs> {
        Ok(outputs(&m))
    }
}

#[test]
fn reconstruct_all_matches_the_fixture_too() {
    // The batched path the apps use gives the same numbers as a single forward pass.
    let model = Dense1::from_pretrained(v0("dense").to_str().unwrap()).unwrap();
    let (shape, input) = reference(&v0("dense"), "input");
    let (_, want) = reference(&v0("dense"), "reconstruction");
    let x = autoencoders::data::Dataset::new("ref", input, vec![shape[1]], None, vec!["x".into()]).unwrap();
    let got = reconstruct_all(&model, &x, 1);
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5));
}
