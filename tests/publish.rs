//! Models leaving and entering the library: `export` (a hub-ready folder with a model card)
//! and weights trained in PyTorch (`scripts/pytorch_interop.py`).

mod common;

use std::path::{Path, PathBuf};

use autoencoders::apps;
use autoencoders::data::NormalizeKind;
use autoencoders::export::{export, ExportOptions};
use autoencoders::hub::Hub;
use autoencoders::model_dir::RunConfig;
use autoencoders::models::dense::Dense1;
use autoencoders::prelude::*;
use autoencoders::pretrained::Pretrained;
use autoencoders::train::checkpoint::{named_tensors, read_safetensors};
use autoencoders::train::{encode_all, reconstruct_all};
use common::hub_server::HubServer;

/// A small model trained on the embedded digits, evaluated, in `root/model`.
fn trained(root: &Path) -> PathBuf {
    let dir = root.join("model");
    let mut cfg: RunConfig = apps::demo_config();
    cfg.train.epochs = 3;
    apps::train(&cfg, &dir, false, Progress::Quiet).unwrap();
    apps::evaluate(&dir).unwrap();
    dir
}

fn test_digits(dir: &Path) -> Dataset {
    let cfg = RunConfig::load(dir).unwrap();
    let mut d = DatasetId::Digits.load(Split::Test).unwrap();
    cfg.data.normalizer.unwrap().apply(&mut d).unwrap();
    d
}

#[test]
fn export_writes_a_hub_ready_folder_that_loads_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = trained(tmp.path());
    let out = tmp.path().join("hub").join("digits-ae");
    let opts = ExportOptions { repo_id: Some("acme/digits-ae".into()), license: Some("mit".into()) };
    let written = export(&dir, &out, &opts).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "metrics.json",
        "history.csv",
        "README.md",
        "loss_curve.png",
        "reconstructions.png",
    ] {
        assert!(written.contains(&out.join(f)) && out.join(f).is_file(), "{f} missing");
    }
    for f in ["config.json", "model.safetensors", "metrics.json", "history.csv"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(out.join(f)).unwrap(),
            "{f} must be copied unchanged"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("digits-ae")], "no temporary folder may stay behind");

    // The card: hub metadata first, with the metrics of metrics.json.
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
    let (yaml, body) = card.strip_prefix("---\n").unwrap().split_once("\n---\n").expect("YAML front matter");
    assert!(yaml.starts_with("library_name: autoencoders\nlicense: \"mit\"\n"), "{yaml}");
    assert!(yaml.contains(&format!("    - type: mse\n      value: {}\n", metrics["test_mse"])), "{yaml}");
    assert!(yaml.contains(&format!("    - type: bce\n      value: {}\n", metrics["test_bce"])), "{yaml}");
    assert!(yaml.contains(&format!("    - type: psnr\n      value: {}\n", metrics["test_psnr"])), "{yaml}");
    assert!(!card.contains("roc_auc") && !card.contains("Trained on class"), "not a one-class model: {card}");
    assert!(body.contains("Dense1::from_pretrained(\"acme/digits-ae\")"), "{body}");
    assert!(body.contains("autoencoders demo") && body.contains("![Loss per epoch](loss_curve.png)"), "{body}");

    // Loading the export — as a folder and from a hub serving it — gives the same numbers.
    let test = test_digits(&dir);
    let original = Dense1::from_pretrained(dir.to_str().unwrap()).unwrap();
    let from_dir = Dense1::from_pretrained(out.to_str().unwrap()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let server = HubServer::start(tmp.path());
    let h = Hub { endpoint: server.endpoint.clone(), cache: cache.path().into(), offline: false };
    let from_hub = Dense1::from_pretrained_with("hub/digits-ae", None, &h).unwrap();
    let want = reconstruct_all(&original, &test, 64);
    assert_eq!(reconstruct_all(&from_dir, &test, 64), want);
    assert_eq!(reconstruct_all(&from_hub, &test, 64), want);
    assert_eq!(named_tensors(&from_hub), named_tensors(&original));
}

#[test]
fn export_refuses_a_non_empty_folder_and_computes_missing_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = trained(tmp.path());
    let busy = tmp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let msg = export(&dir, &busy, &ExportOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("busy") && msg.contains("not empty"), "{msg}");
    assert_eq!(std::fs::read_to_string(busy.join("notes.txt")).unwrap(), "mine");

    let want = std::fs::read(dir.join("metrics.json")).unwrap();
    std::fs::remove_file(dir.join("metrics.json")).unwrap();
    let out = tmp.path().join("empty");
    std::fs::create_dir(&out).unwrap(); // an empty folder is fine
    export(&dir, &out, &ExportOptions::default()).unwrap();
    assert_eq!(std::fs::read(out.join("metrics.json")).unwrap(), want, "recomputed metrics equal the evaluated ones");
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(!card.contains("license:") && card.contains("from_pretrained(\"OWNER/NAME\")"), "{card}");
}

#[test]
fn the_card_of_a_one_class_model_reports_its_auroc_and_no_psnr_of_standardised_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    let mut cfg: RunConfig = apps::demo_config();
    cfg.train.epochs = 3;
    cfg.data.normal_class = Some("3".into());
    cfg.data.normalize = NormalizeKind::Standard;
    apps::train(&cfg, &dir, false, Progress::Quiet).unwrap();
    let auroc = apps::evaluate(&dir).unwrap().test_auroc.expect("a one-class model is evaluated by its AUROC");
    let out = tmp.path().join("hub");
    export(&dir, &out, &ExportOptions::default()).unwrap();
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["test_auroc"].as_f64(), Some(auroc));
    assert!(card.contains(&format!("    - type: roc_auc\n      value: {}\n", metrics["test_auroc"])), "{card}");
    assert!(card.contains(&format!("| {auroc:.5} |")) && card.contains("Trained on class `3` only"), "{card}");
    assert!(!card.contains("psnr") && !card.contains("PSNR"), "no PSNR for standardised data: {card}");
}

#[test]
fn cli_export_writes_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = trained(tmp.path());
    let out = tmp.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_autoencoders"))
        .env_remove("AUTOENCODERS_DATA")
        .args(["export"])
        .arg(&dir)
        .arg("--to")
        .arg(&out)
        .args(["--repo-id", "acme/x"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("README.md") && stdout.contains("model.safetensors"), "{stdout}");
    assert!(std::fs::read_to_string(out.join("README.md")).unwrap().contains("autoencoders pull acme/x"));
}

// ---- Weights trained in PyTorch (fixture made by scripts/pytorch_interop.py).

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch-dense")
}

fn reference(name: &str) -> (Vec<usize>, Vec<f32>) {
    let (tensors, _) = read_safetensors(&fixture().join("reference.safetensors")).unwrap();
    let t = tensors.into_iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no `{name}` in the fixture"));
    (t.shape, t.values)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn weights_trained_in_pytorch_reconstruct_like_pytorch() {
    let model = Dense1::from_pretrained(fixture().to_str().unwrap()).unwrap();
    let (shape, input) = reference("input");
    let classes = vec!["digit".to_string()];
    let x = Dataset::new("pytorch input", input, vec![shape[1]], None, classes).unwrap();
    let (_, code) = reference("code");
    let (_, recon) = reference("reconstruction");
    let (dc, dr) =
        (max_abs_diff(&encode_all(&model, &x, 16), &code), max_abs_diff(&reconstruct_all(&model, &x, 16), &recon));
    assert!(dc < 1e-5 && dr < 1e-5, "max |ours − PyTorch|: code {dc:e}, reconstruction {dr:e}");
    // Not trivially equal: the trained model's reconstructions differ from its input.
    assert!(max_abs_diff(&recon, &x.samples) > 0.05);
    // The lines a model card shows (src/export.rs) work as written.
    let sample = x.sample(0).to_vec();
    let x = Dev::default().tensor_from_vec(sample, model.input_shape(1));
    let code_0 = model.encode(x.clone());
    let reconstruction = model.reconstruct(x);
    assert!(
        max_abs_diff(&code_0.as_vec(), &code[..8]) < 1e-5
            && max_abs_diff(&reconstruction.as_vec(), &recon[..64]) < 1e-5
    );
}
