//! `detect`: every row of a table scored by reconstruction error, flagged above a threshold
//! fitted on the validation part of the normal training data, judged against the labels; bad
//! input refused naming the file, row and column; on a real ADBench set, the same AUROC as
//! `eval`.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{cli_in as bin, fails, ok};
use polars::prelude::*;

/// Rows of 8 features on a plane (two hidden factors, a little noise) labelled `normal`, and
/// rows off it (each feature drawn alone) labelled `odd`.
fn table(normal: usize, odd: usize, seed: u64) -> String {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let mut out = String::from("f0,f1,f2,f3,f4,f5,f6,f7,kind\n");
    for i in 0..normal + odd {
        let (a, b) = (uniform(), uniform());
        for j in 0..8 {
            let v = if i < normal {
                let (wa, wb) = ((j as f64 * 0.7).sin(), (j as f64 * 1.3).cos());
                wa * a + wb * b + 0.02 * uniform()
            } else {
                1.5 * uniform()
            };
            write!(out, "{v:.5},").unwrap();
        }
        out.push_str(if i < normal { "normal\n" } else { "odd\n" });
    }
    out
}

fn train(root: &Path) {
    std::fs::write(root.join("train.csv"), table(400, 20, 1)).unwrap();
    std::fs::write(root.join("test.csv"), table(200, 40, 2)).unwrap();
    let args =
        ["train", "--dataset", "train.csv", "--test", "test.csv", "--label-column", "kind", "--normal-class", "normal"];
    ok(bin(root)
        .args(args)
        .args(["--hidden", "16", "--code", "2", "--epochs", "60", "--lr", "0.01", "--quiet"])
        .args(["--out", "m"]));
}

fn summary(text: &str) -> serde_json::Value {
    let json = &text[text.find('{').unwrap()..=text.rfind('}').unwrap()];
    serde_json::from_str(json).unwrap()
}

fn scores(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}

#[test]
fn rows_off_the_normal_data_are_scored_high_and_flagged_by_each_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    train(root);
    let text = ok(bin(root).args(["detect", "m", "-o", "s.parquet"]));
    // The model's test split is test.csv: scoring it by name reads the same rows.
    let again = ok(bin(root).args(["detect", "m", "--input", "test.csv", "-o", "s2.parquet"]));
    assert_eq!(summary(&again), summary(&text));
    let s = summary(&text);
    assert_eq!((s["samples"].as_u64(), s["rule"].as_str()), (Some(240), Some("percentile:99")), "{text}");
    // The validation part is 10 % of the 400 normal training rows.
    assert_eq!(s["validation_samples"].as_u64(), Some(40), "{text}");
    let r = &s["report"];
    assert_eq!((r["normal_class"].as_str(), r["anomalies"].as_u64()), (Some("normal"), Some(40)), "{text}");
    assert!(r["auroc"].as_f64().unwrap() > 0.95, "{text}");
    assert!(r["average_precision"].as_f64().unwrap() > 0.8, "{text}");
    assert!(r["recall"].as_f64().unwrap() > 0.8 && r["precision"].as_f64().unwrap() > 0.8, "{text}");
    for f in ["s-roc.png", "s-pr.png"] {
        assert!(root.join(f).is_file(), "{f}: {text}");
    }
    common::assert_no_temporaries(root);

    let df = scores(&root.join("s.parquet"));
    let names: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
    assert_eq!(names, ["row", "score", "flag", "label", "class", "anomaly"]);
    let threshold = s["threshold"].as_f64().unwrap();
    let score = df.column("score").unwrap().f64().unwrap();
    let flag = df.column("flag").unwrap().bool().unwrap();
    for (sc, fl) in score.iter().zip(flag.iter()) {
        assert_eq!(sc.unwrap() > threshold, fl.unwrap());
    }
    let flagged = flag.iter().filter(|f| f.unwrap()).count() as u64;
    assert_eq!(s["flagged"].as_u64(), Some(flagged));
    let anomaly: Vec<bool> = df.column("anomaly").unwrap().bool().unwrap().iter().map(|a| a.unwrap()).collect();
    assert_eq!(anomaly, (0..240).map(|i| i >= 200).collect::<Vec<_>>());

    // Stricter rules flag fewer rows; a fixed value needs no validation data.
    let count = |rule: &str| {
        let s = summary(&ok(bin(root).args([
            "detect",
            "m",
            "--input",
            "test.csv",
            "--threshold",
            rule,
            "-o",
            "t.parquet",
        ])));
        (s["flagged"].as_u64().unwrap(), s["validation_samples"].as_u64().unwrap(), s["threshold"].as_f64().unwrap())
    };
    let (all, ..) = count("percentile:0");
    let (loose, ..) = count("mean-sd:1");
    let (strict, ..) = count("mean-sd:10");
    assert!(all > loose && loose > strict && flagged >= strict, "{all} {loose} {flagged} {strict}");
    assert_eq!(count(&format!("value:{threshold}")), (flagged, 0, threshold));
    assert_eq!(count("value:1e9").0, 0);
}

#[test]
fn the_threshold_stored_when_training_ended_is_a_refit_and_needs_no_training_data() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    train(root);
    let config = root.join("m/config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    let cfg: serde_json::Value = serde_json::from_str(&text).unwrap();
    let stored = cfg["threshold"].clone();
    assert_eq!((stored["rule"].as_str(), stored["validation_samples"].as_u64()), (Some("percentile:99"), Some(40)));
    let detect = |out: &str, extra: &[&str]| summary(&ok(bin(root).args(["detect", "m", "-o", out]).args(extra)));
    let s = detect("a.parquet", &[]);
    assert_eq!((&s["stored"], &s["threshold"], &s["validation_samples"]), (&true.into(), &stored["value"], &40.into()));
    assert_eq!(detect("b.parquet", &["--threshold", "percentile:99"])["stored"], true);

    // Without it, detect fits the rule on the validation part again: the same value, bit for bit.
    let mut bare = cfg.clone();
    bare.as_object_mut().unwrap().remove("threshold");
    std::fs::write(&config, serde_json::to_string_pretty(&bare).unwrap()).unwrap();
    let refit = detect("c.parquet", &[]);
    assert_eq!((&refit["stored"], &refit["threshold"]), (&false.into(), &stored["value"]));

    // Fitted with other weights (a run killed part-way, weights swapped by hand): fitted again.
    let mut other = cfg.clone();
    other["threshold"]["value"] = 1e9.into();
    other["threshold"]["weights_sha256"] = "00".repeat(32).into();
    std::fs::write(&config, serde_json::to_string_pretty(&other).unwrap()).unwrap();
    let text2 = ok(bin(root).args(["detect", "m", "-o", "d.parquet"]));
    assert!(text2.contains("fitted with other weights"), "{text2}");
    assert_eq!(summary(&text2)["threshold"], stored["value"]);

    // With the stored threshold, the training data need not be at hand; another rule needs it.
    std::fs::write(&config, &text).unwrap();
    std::fs::remove_file(root.join("train.csv")).unwrap();
    assert_eq!(detect("e.parquet", &["--input", "test.csv"])["threshold"], stored["value"]);
    fails(bin(root).args(["detect", "m", "--threshold", "mean-sd:3", "-o", "f.parquet"]), "train.csv");
}

/// A VAE scored by its bounds on −log p(x): each fits its own threshold (the stored one is on
/// reconstruction errors), tells the rows off the plane apart, repeats exactly (seeded draws),
/// and the IWAE bound lies below the ELBO on average; a plain model refuses them.
#[test]
fn a_vae_scores_by_its_elbo_and_iwae_bounds_and_a_plain_model_refuses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    train(root);
    let args =
        ["train", "--dataset", "train.csv", "--test", "test.csv", "--label-column", "kind", "--normal-class", "normal"];
    ok(bin(root)
        .args(args)
        .args(["--variant", "vae", "--hidden", "16", "--code", "2", "--epochs", "60", "--lr", "0.01", "--quiet"])
        .args(["--out", "v"]));
    let detect = |score: &str, out: &str| {
        let s = summary(&ok(bin(root).args(["detect", "v", "--score", score, "-o", out])));
        let df = scores(&root.join(out));
        let values: Vec<f64> = df.column("score").unwrap().f64().unwrap().iter().map(|v| v.unwrap()).collect();
        (s, values)
    };
    let (elbo, elbo_scores) = detect("elbo", "e.parquet");
    let (iwae, iwae_scores) = detect("iwae:20", "i.parquet");
    for (s, name) in [(&elbo, "elbo"), (&iwae, "iwae:20")] {
        assert_eq!(
            (s["score"].as_str(), &s["stored"], s["validation_samples"].as_u64()),
            (Some(name), &false.into(), Some(40))
        );
        assert!(s["report"]["auroc"].as_f64().unwrap() > 0.9, "{s}");
    }
    assert!(elbo_scores.iter().chain(&iwae_scores).all(|v| v.is_finite()));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&iwae_scores) < mean(&elbo_scores), "{} vs {}", mean(&iwae_scores), mean(&elbo_scores));
    assert_eq!(detect("elbo", "e2.parquet").1, elbo_scores, "the same draws every run");
    let (recon, _) = detect("recon", "r.parquet");
    assert_eq!((recon["score"].as_str(), &recon["stored"]), (Some("recon"), &true.into()));

    fails(bin(root).args(["detect", "m", "--score", "elbo", "-o", "x.parquet"]), "--variant vae");
    fails(bin(root).args(["detect", "v", "--score", "iwae:0", "-o", "x.parquet"]), "from 1 to 10000");
    // Table rows have no total variation to divide by.
    fails(bin(root).args(["detect", "m", "--score", "complexity", "-o", "x.parquet"]), "are not images");
    assert!(!root.join("x.parquet").exists());
}

#[test]
fn bad_input_and_rules_are_refused_naming_what_to_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    train(root);
    let nan = "f0,f1,f2,f3,f4,f5,f6,f7,kind\n1,2,3,4,5,6,7,8,normal\nnan,2,3,4,5,6,7,8,odd\n";
    std::fs::write(root.join("nan.csv"), nan).unwrap();
    std::fs::write(root.join("short.csv"), "f0,f1,f2,kind\n1,2,3,normal\n").unwrap();
    let detect = |input: &str| {
        let mut c = bin(root);
        c.args(["detect", "m", "--input", input, "-o", "x.parquet"]);
        c
    };
    fails(&mut detect("nan.csv"), "nan.csv: line 3, column `f0` is NaN");
    fails(&mut detect("short.csv"), "f3");
    fails(&mut detect("missing.csv"), "missing.csv");
    for (rule, want) in [("percentile:120", "between 0 and 100"), ("median:2", "unknown rule"), ("99", "no `:`")] {
        fails(bin(root).args(["detect", "m", "--threshold", rule, "-o", "x.parquet"]), want);
    }
    assert!(!root.join("x.parquet").exists());
}

/// The semi-supervised protocol on a real table: train on the normal rows of ADBench's cardio
/// training split, score its test split; `detect`'s AUROC is `eval`'s.
#[test]
fn adbench_cardio_scores_agree_with_eval() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let args = ["train", "--dataset", "adbench/cardio", "--normal-class", "0", "--hidden", "16", "--code", "4"];
    ok(bin(root).env("AUTOENCODERS_DATA", &data).args(args).args(["--epochs", "50", "--quiet", "--out", "c"]));
    let s = summary(&ok(bin(root).env("AUTOENCODERS_DATA", &data).args(["detect", "c", "-o", "c.parquet"])));
    let auroc = s["report"]["auroc"].as_f64().unwrap();
    ok(bin(root).env("AUTOENCODERS_DATA", &data).args(["eval", "c"]));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("c/metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["test_auroc"].as_f64(), Some(auroc));
    // Measured 0.887 here.
    assert!(auroc > 0.8, "{s}");
    assert_eq!(s["report"]["normal_class"].as_str(), Some("0"));
}

/// `detect-eval` on two real ADBench sets: every method scores every set, the CSV, the JSON and
/// one model directory per set are written, and the autoencoder beats chance on both.
#[test]
fn detect_eval_compares_three_detectors_on_adbench_sets() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let args = ["detect-eval", "cardio", "thyroid", "--epochs", "20", "--models", "m", "-o", "t.csv"];
    let out = ok(bin(root).env("AUTOENCODERS_DATA", &data).args(args));
    let csv = std::fs::read_to_string(root.join("t.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let methods: Vec<(&str, &str)> = rows.iter().map(|r| (r[0], r[1])).collect();
    let mut expected = vec![];
    for set in ["cardio", "thyroid"] {
        for m in ["autoencoder", "pca", "iforest"] {
            expected.push((set, m));
        }
    }
    assert_eq!(methods, expected, "{csv}");
    for r in &rows {
        let auroc: f64 = r[7].parse().unwrap();
        // Measured: every method above 0.8 on both sets at 20 epochs.
        assert!(auroc > 0.7 && auroc <= 1.0, "{csv}");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root.join("t.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(6));
    assert!(out.contains("method,mean_auroc,mean_average_precision,mean_auroc_rank"), "{out}");
    for set in ["cardio", "thyroid"] {
        assert!(root.join("m").join(set).join("model.safetensors").exists());
    }
    let unknown = ["detect-eval", "nosuchset", "--models", "m", "-o", "u.csv"];
    fails(bin(root).env("AUTOENCODERS_DATA", &data).args(unknown), "nosuchset");
}

/// `one-class` on real MNIST, two normal classes (one by number, one by name), one seed: each
/// class's row, PCA beside it, the CSV and JSON, and one model directory per class whose `eval`
/// gives the study's reconstruction AUROC, and `detect --score code | neighbours | complexity`
/// the AUROCs of its other scores. Fashion-MNIST's classes are found by number too (`0` is
/// `T-shirt/top`), here with denoising models (`--noise`, recorded in each model's config and
/// named in the report); a class the dataset lacks is refused naming its classes.
#[test]
fn one_class_scores_each_normal_digit_against_the_other_nine() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let args = ["one-class", "oc", "--dataset", "mnist", "--classes", "1,7", "--seeds", "0", "--epochs", "2"];
    let out = ok(bin(root).env("AUTOENCODERS_DATA", &data).args(args));
    let table: Vec<&str> =
        out.lines().skip_while(|l| !l.starts_with("class,name,")).take_while(|l| !l.starts_with("class ")).collect();
    assert_eq!(table.len(), 4, "header, two classes, the mean: {out}");
    let csv = std::fs::read_to_string(root.join("oc/one-class.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let got: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[2], r[3])).collect();
    let mut expected = vec![];
    for class in ["1", "7"] {
        expected.push((class, "pca", ""));
        for method in ["reconstruction", "code", "neighbours", "both", "complexity"] {
            expected.push((class, method, "0"));
        }
    }
    assert_eq!(got, expected, "{csv}");
    for r in &rows {
        let auroc: f64 = r[5].parse().unwrap();
        // Measured at 2 epochs: digit 1 0.986 (reconstruction) / 0.998 (PCA); digit 7 0.890 / 0.956.
        assert!(auroc > 0.8 && auroc <= 1.0, "{csv}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("oc/one-class.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(12));
    // The reconstruction score is `detect`'s, whose AUROC `eval` reports for the model.
    ok(bin(root).env("AUTOENCODERS_DATA", &data).args(["eval", "oc/class-7-seed-0"]));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("oc/class-7-seed-0/metrics.json")).unwrap()).unwrap();
    assert_eq!(json[7]["method"].as_str(), Some("reconstruction"));
    let study = json[7]["auroc"].as_f64().unwrap();
    assert!((metrics["test_auroc"].as_f64().unwrap() - study).abs() < 1e-9, "{metrics} vs {study}");
    // So are its code scores, from the codes of the same training part.
    for (i, score) in [(8, "code"), (9, "neighbours"), (11, "complexity")] {
        assert_eq!(json[i]["method"].as_str(), Some(score));
        let out = format!("{score}.parquet");
        let s = summary(&ok(bin(root)
            .env("AUTOENCODERS_DATA", &data)
            .args(["detect", "oc/class-7-seed-0"])
            .args(["--score", score, "-o", &out])));
        let (got, study) = (s["report"]["auroc"].as_f64().unwrap(), json[i]["auroc"].as_f64().unwrap());
        assert!((got - study).abs() < 1e-9, "detect --score {score}: {got} vs the study's {study}");
    }

    // Fashion-MNIST, with denoising models (`--noise`): the models train on corrupted input.
    let fashion = ["one-class", "of", "--dataset", "fashion-mnist", "--classes", "0", "--seeds", "0", "--epochs", "1"];
    let out = ok(bin(root).env("AUTOENCODERS_DATA", &data).args(fashion).args(["--noise", "mask:0.3"]));
    assert!(out.contains("\n0,T-shirt/top,"), "{out}");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("of/class-0-seed-0/config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["noise"]["noise"], serde_json::json!({"kind": "mask", "p": 0.3}), "{config}");
    let json = std::fs::read_to_string(root.join("of/one-class.json")).unwrap();
    assert!(json.contains("conv code 32 for 1 epochs, noise mask:0.3"), "{json}");
    let unknown = ["one-class", "ou", "--dataset", "fashion-mnist", "--classes", "Hat", "--epochs", "1"];
    fails(bin(root).env("AUTOENCODERS_DATA", &data).args(unknown), "has no class `Hat`; its classes are T-shirt/top");
}
