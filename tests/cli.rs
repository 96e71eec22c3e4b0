//! The command line, end to end, as a user runs it.

mod common;

use std::path::Path;
use std::process::Command;

use common::ok;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autoencoders"));
    c.env_remove("AUTOENCODERS_DATA").current_dir(std::env::temp_dir());
    // Never the real hub: a closed local port, and a cache of the tests' own.
    c.env("HF_ENDPOINT", "http://127.0.0.1:9").env("HF_HOME", std::env::temp_dir().join("autoencoders-tests-hf"));
    c
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).unwrap().starts_with(b"\x89PNG\r\n\x1a\n")
}

#[test]
fn demo_runs_on_embedded_data_and_draws_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let (figs, model) = (dir.path().join("figs"), dir.path().join("model"));
    let out = ok(bin().args(["demo", "--figures"]).arg(&figs).arg("--model-dir").arg(&model));
    assert!(out.contains("test MSE"), "{out}");
    for f in ["loss_curve", "reconstructions", "latent_space"] {
        assert!(is_png(&figs.join(format!("{f}.png"))), "{f}.png");
        let svg = std::fs::read_to_string(figs.join(format!("{f}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.len() > 1000, "{f}.svg");
    }
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("metrics.json")).unwrap()).unwrap();
    // A 2-number code of an 8×8 digit cannot be perfect, but it must beat predicting the mean.
    assert!(metrics["test_mse"].as_f64().unwrap() < 0.06, "{metrics}");
}

#[test]
fn train_eval_encode_figures_on_digits() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    ok(bin()
        .args(["train", "--dataset", "digits", "--code", "8", "--hidden", "32", "--epochs", "3", "--quiet", "--out"])
        .arg(&m));
    // The command is recorded as typed (`autoencoders …`), never as the binary's local path
    // (it goes into published model cards); arguments with spaces are quoted.
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(m.join("config.json")).unwrap()).unwrap();
    let command = cfg["command"].as_str().unwrap();
    let want =
        format!("autoencoders train --dataset digits --code 8 --hidden 32 --epochs 3 --quiet --out {}", m.display());
    assert!(command == want || command == format!("{want}'"), "{command}");
    assert!(!command.contains("target/"), "{command}");
    let out = ok(bin().arg("eval").arg(&m));
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(m.join("metrics.json")).unwrap()).unwrap();
    for k in ["test_mse", "test_bce", "test_psnr"] {
        assert!(metrics[k].as_f64().unwrap().is_finite(), "{k} in {out}");
    }
    let codes = dir.path().join("codes.parquet");
    ok(bin().arg("encode").arg(&m).arg("--output").arg(&codes));
    use polars::prelude::{ParquetReader, SerReader};
    let df = ParquetReader::new(std::fs::File::open(&codes).unwrap()).finish().unwrap();
    assert_eq!(df.shape(), (359, 10), "8 code columns + label + class");
    ok(bin().arg("figures").arg(&m));
    assert!(is_png(&m.join("figures/latent_space.png")));
    // Resume to 5 epochs.
    ok(bin()
        .args(["train", "--dataset", "digits", "--code", "8", "--hidden", "32", "--epochs", "5", "--quiet", "--resume"])
        .arg(&m));
    let hist = std::fs::read_to_string(m.join("history.csv")).unwrap();
    assert_eq!(hist.lines().count(), 6, "{hist}");
    // An empty --hidden means no hidden layer.
    let shallow = dir.path().join("shallow");
    ok(bin().args(["train", "--dataset", "digits", "--hidden", "", "--epochs", "1", "--quiet", "--out"]).arg(&shallow));
    let cfg = std::fs::read_to_string(shallow.join("config.json")).unwrap();
    assert!(cfg.contains("\"hidden\": []"), "{cfg}");
}

#[test]
fn bad_input_gives_a_message_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "--dataset", "cifar", "--out", "x"], "`cifar` not found: looked for cifar. Give a built-in"),
        (vec!["train", "--dataset", "mnist", "--out", "x"], "dataset `mnist` not found: looked for"),
        (vec!["train", "--dataset", "digits", "--hidden", "8,8,8", "--out", "x"], "0 to 2 per side"),
        (
            vec!["train", "--dataset", "digits", "--output-activation", "identity", "--loss", "bce", "--out", "x"],
            "bce needs a sigmoid output",
        ),
        (
            vec!["train", "--dataset", "digits", "--model", "conv", "--out", "x"],
            "the conv model is built for images of 1×28×28, 3×28×28, 1×32×32, 3×32×32, 1×64×64, 3×64×64, 1×112×92 (channels×height×width), not 1×8×8; resize with --image-size",
        ),
        (
            vec!["train", "--dataset", "digits", "--model", "conv", "--hidden", "32", "--out", "x"],
            "--hidden does not apply to --model conv",
        ),
        (vec!["train", "--dataset", "digits", "--normal-class", "7x", "--out", "x"], "has no class `7x`"),
        (vec!["train", "--dataset", "digits", "--noise", "blur:0.1", "--out", "x"], "expected gaussian:SIGMA"),
        (vec!["train", "--dataset", "digits", "--lr=-1", "--out", "x"], "learning rate -1 must be a positive"),
        (vec!["train", "--dataset", "digits", "--beta1", "1.5", "--out", "x"], "β₁ 1.5 must be in [0, 1)"),
        (vec!["train", "--dataset", "digits", "--weight-decay=-1", "--out", "x"], "weight decay -1 must be ≥ 0"),
        (vec!["train", "--dataset", "digits", "--epochs", "0", "--out", "x"], "0 epochs; train at least 1"),
        (vec!["train", "--dataset", "digits", "--val-split", "0.9999", "--out", "x"], "leaves no training samples"),
        (vec!["train", "--dataset", "digits", "--model", "rnn", "--out", "x"], "[possible values: dense, conv"),
        (vec!["eval", "/nonexistent/model"], "is neither a directory nor a hub repository id"),
        (vec!["eval", "no/such-dir", "--revision", "main"], "no local directory `no/such-dir` either"),
    ];
    for (args, want) in cases {
        let out = bin().current_dir(dir.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // Refused before anything is written: no half-made model directory is left behind.
    assert!(!dir.path().join("x").exists(), "a failed train left its --out folder");
}

#[test]
fn every_subcommand_explains_its_flags() {
    for (sub, flags) in [
        (
            "train",
            vec!["--dataset", "--code", "--hidden", "--loss", "--epochs", "--resume", "--patience", "--weight-decay"],
        ),
        ("eval", vec!["<MODEL>", "--revision"]),
        ("pull", vec!["<REPO>", "--revision", "HF_ENDPOINT"]),
        ("figures", vec!["--out"]),
        ("encode", vec!["--output", "--split"]),
        ("demo", vec!["--figures", "--model-dir"]),
        ("sample", vec!["--n", "--seed", "--output", "--manifold"]),
        ("interpolate", vec!["--from", "--to", "--steps", "--output"]),
        ("compress", vec!["--input", "--bits", "--output", "codec-{bits}bit.json"]),
        ("decompress", vec!["<FILE>", "--output", "PNGs"]),
        ("rd", vec!["<DIRS>", "--input", "--bits", "--jpeg-quality", "--output"]),
        ("denoise", vec!["--input", "--output", "same relative"]),
        ("denoise-eval", vec!["<DIRS>", "--input", "--sigma", "--seed", "--output"]),
        ("detect", vec!["--input", "--threshold", "percentile:P", "mean-sd:K", "value:X", "--output"]),
        ("detect-eval", vec!["[SETS]", "--models", "--epochs", "--seed", "--output", "Isolation Forest"]),
        ("faces", vec!["<DIR>", "--query", "--top", "--metric", "--codes", "--seeds", "--epochs", "leave-one-out"]),
        (
            "one-class",
            vec!["<DIR>", "--dataset", "--classes", "--seeds", "--epochs", "--code", "--vae", "--noise", "Ruff"],
        ),
    ] {
        let help = ok(bin().args([sub, "--help"]));
        for f in flags {
            assert!(help.contains(f), "{sub} --help lacks {f}:\n{help}");
        }
    }
}

#[test]
fn a_vae_trains_samples_interpolates_and_exports_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (vae, plain) = (dir.path().join("vae"), dir.path().join("plain"));
    let train = ["train", "--dataset", "digits", "--code", "2", "--hidden", "32", "--epochs", "3", "--quiet"];
    ok(bin().args(train).args(["--variant", "vae", "--beta", "2", "--kl-warmup", "1", "--out"]).arg(&vae));
    ok(bin().args(train).arg("--out").arg(&plain));
    ok(bin().arg("eval").arg(&vae).args(["--iw-samples", "10"]));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(vae.join("metrics.json")).unwrap()).unwrap();
    assert!(m["variational"]["iw_log_px"].as_f64().unwrap() < 0.0 && m["variational"]["iw_samples"] == 10, "{m}");
    let png = dir.path().join("out/samples.png");
    ok(bin().arg("sample").arg(&vae).args(["--n", "16", "--manifold", "6", "--output"]).arg(&png));
    assert!(is_png(&png) && is_png(&dir.path().join("out/samples-manifold.png")));
    let path = dir.path().join("path.svg");
    ok(bin().arg("interpolate").arg(&plain).args(["--from", "3", "--to", "4", "--output"]).arg(&path));
    assert!(std::fs::read_to_string(&path).unwrap().contains("3 → 4 (linear)"));
    // A plain autoencoder cannot sample: the error says why and which models can.
    let refused = bin().arg("sample").arg(&plain).arg("--output").arg(dir.path().join("x.png")).output().unwrap();
    let e = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && e.contains("no known distribution") && e.contains("--variant vae"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    // --beta without a VAE is refused.
    let beta = bin().args(train).args(["--beta", "2", "--out"]).arg(dir.path().join("b")).output().unwrap();
    assert!(String::from_utf8_lossy(&beta.stderr).contains("add --variant vae"));
    // So are an adversarial autoencoder's flags without one.
    for flag in [["--discriminator", "16"], ["--discriminator-steps", "2"]] {
        let out = bin().args(train).args(flag).arg("--out").arg(dir.path().join("d")).output().unwrap();
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains("add --variant aae") && !e.contains("panicked"), "{flag:?}: {e}");
    }
    // The card says what it is and how to sample it.
    let card = dir.path().join("card");
    ok(bin().arg("export").arg(&vae).arg("--to").arg(&card));
    let readme = std::fs::read_to_string(card.join("README.md")).unwrap();
    assert!(readme.contains("- variational-autoencoder") && readme.contains("autoencoders sample"), "{readme}");
    assert!(readme.contains("vae (β 2, Bernoulli decoder)") && readme.contains("Test −ELBO"), "{readme}");
}

#[test]
fn an_adaptive_model_trains_on_a_class_stream_and_every_tool_reads_its_width() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("adaptive");
    let train = ["train", "--dataset", "digits", "--epochs", "2", "--batch-size", "16", "--quiet"];
    let adaptive = ["--variant", "adaptive", "--start-features", "12", "--pool", "12", "--first-add", "4"];
    let stream = ["--stream-order", "class-incremental", "--noise", "mask:0.25"];
    ok(bin().args(train).args(adaptive).args(stream).arg("--out").arg(&model));
    let log = std::fs::read_to_string(model.join("adaptive.csv")).unwrap();
    let width: usize = log.lines().last().unwrap().split(',').nth(2).unwrap().parse().unwrap();
    assert_ne!(width, 12, "{log}");
    // eval, encode (one column per feature reached), figures and export read it at that width.
    ok(bin().arg("eval").arg(&model));
    let codes = dir.path().join("codes.parquet");
    ok(bin().arg("encode").arg(&model).arg("--output").arg(&codes));
    use polars::prelude::{ParquetReader, SerReader};
    let df = ParquetReader::new(std::fs::File::open(&codes).unwrap()).finish().unwrap();
    let names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    assert_eq!(names.iter().filter(|c| c.starts_with('z')).count(), width, "{names:?}");
    ok(bin().arg("figures").arg(&model));
    let card = dir.path().join("card");
    ok(bin().arg("export").arg(&model).arg("--to").arg(&card));
    let readme = std::fs::read_to_string(card.join("README.md")).unwrap();
    assert!(
        readme.contains("An adaptive (12 features at the start") && card.join("adaptive.csv").is_file(),
        "{readme}"
    );
    // Its flags without the variant, and the stream order without labels, are refused.
    let out = bin().args(train).args(["--pool", "12", "--out"]).arg(dir.path().join("p")).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("add --variant adaptive") && !e.contains("panicked"), "{e}");
}

/// `examples/custom_model.rs`: a family defined outside the crate trains, saves, reloads and
/// draws through the public traits. `cargo test` builds examples before running tests; a run
/// of this file alone (`cargo test --test cli`) does not, and then says so (fails on CI).
#[test]
fn the_custom_model_example_trains_reloads_and_draws() {
    let exe = std::env::current_exe().unwrap();
    let example = exe.parent().unwrap().parent().unwrap().join("examples").join("custom_model");
    if !example.exists() {
        assert!(std::env::var("CI").is_err(), "{} was not built", example.display());
        eprintln!("SKIPPED: {} not built; run the whole `cargo test`", example.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = ok(Command::new(&example).arg(dir.path()));
    assert!(out.contains("reloaded: identical outputs"), "{out}");
    let cfg = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(cfg.contains("\"kind\": \"tied\"") && cfg.contains("\"format_version\""), "{cfg}");
    for f in ["loss_curve", "reconstructions", "latent_space"] {
        assert!(is_png(&dir.path().join("figures").join(format!("{f}.png"))), "{f}.png");
    }
}
