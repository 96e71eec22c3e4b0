//! `probe`: codes, PCA and raw input under the same labelled draws and classifiers, settings
//! from cross-validation grids, refusals that say why — on the embedded digits, and on MNIST for
//! the target (an autoencoder code beats PCA of its size at 100 and 1,000 labels).

mod common;

use std::path::Path;

use autoencoders::apps::probe::ProbePoint;
use common::{cli_in as bin, fails, ok};

fn digits_model(root: &Path, out: &str) {
    let train = ["train", "--dataset", "digits", "--code", "8", "--hidden", "32", "--epochs", "20", "--quiet"];
    ok(bin(root).args(train).args(["--lr", "0.01", "--batch-size", "32", "--out", out]));
}

fn points(path: &Path) -> Vec<ProbePoint> {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_feature_set_is_probed_on_the_same_draws_with_settings_from_cross_validation() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    digits_model(root, "m");
    let probe = ["probe", "m", "--labels", "50,all", "--draws", "3", "-o", "p.json"];
    let text = ok(bin(root).args(probe));
    for f in ["p.json", "p.csv", "p-logistic.png", "p-knn.png"] {
        assert!(root.join(f).is_file(), "{f} missing: {text}");
    }
    let pts = points(&root.join("p.json"));
    let sets: Vec<(&str, usize)> = pts.iter().map(|p| (p.features.as_str(), p.dim)).collect();
    for want in [("m", 8), ("pca", 8), ("pixels", 64)] {
        assert_eq!(sets.iter().filter(|s| **s == want).count(), 4, "{want:?} in {sets:?}");
    }
    let train_len = pts.iter().map(|p| p.labels).max().unwrap();
    for p in &pts {
        let draws = if p.labels == 50 { 3 } else { 1 }; // every draw of all labels is the same
        assert_eq!((p.accuracies.len(), p.settings.len()), (draws, draws), "{p:?}");
        assert!(p.accuracies.iter().all(|a| (0.0..=1.0).contains(a)));
        let prefix = if p.classifier.to_string() == "knn" { "k=" } else { "alpha=" };
        assert!(p.settings.iter().all(|s| s.starts_with(prefix)), "{p:?}");
        if p.labels == train_len {
            assert_eq!(p.std, 0.0);
        }
    }
    // More labels, better accuracy, for every feature set and classifier; nearest neighbours on
    // the 64 pixels of all ~1,400 training digits are right ~98 % of the time.
    for few in pts.iter().filter(|p| p.labels == 50) {
        let all = pts.iter().find(|q| {
            q.labels == train_len && q.features == few.features && q.dim == few.dim && q.classifier == few.classifier
        });
        assert!(all.unwrap().mean > few.mean, "{few:?} vs {all:?}");
    }
    let knn_pixels =
        pts.iter().find(|p| p.features == "pixels" && p.labels == train_len && p.classifier.to_string() == "knn");
    assert!(knn_pixels.unwrap().mean > 0.95, "{knn_pixels:?}");
    assert!(text.contains("best code ≤ 64 (m)"), "{text}");
    // The same seed, the same numbers; another seed, other draws.
    ok(bin(root).args(["probe", "m", "--labels", "50,all", "--draws", "3", "-o", "q.json"]));
    assert_eq!(std::fs::read(root.join("q.json")).unwrap(), std::fs::read(root.join("p.json")).unwrap());
    ok(bin(root).args([
        "probe",
        "m",
        "--labels",
        "50",
        "--draws",
        "3",
        "--seed",
        "9",
        "--no-baselines",
        "-o",
        "r.json",
    ]));
    let other = points(&root.join("r.json"));
    assert_eq!(other.len(), 2, "no PCA, no pixels: {other:?}");
    assert_ne!(other[0].accuracies, pts[0].accuracies);
}

#[test]
fn probing_without_labels_or_across_datasets_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    digits_model(root, "m");
    let rows: String = (0..60).map(|i| format!("{},{},{}\n", i % 7, (i * 3) % 5, i % 2)).collect();
    std::fs::write(root.join("t.csv"), format!("a,b,c\n{rows}")).unwrap();
    ok(bin(root).args(["train", "--dataset", "t.csv", "--code", "1", "--epochs", "1", "--quiet", "--out", "t"]));
    fails(bin(root).args(["probe", "t", "-o", "x.json"]), "has no labels to probe with");
    fails(
        bin(root).args(["probe", "m", "t", "-o", "x.json"]),
        "normalises its input unlike m: compare models of one dataset",
    );
    // Read alike (raw values) but of other files: a bug once compared only how they were read.
    for (name, shift) in [("a", 0), ("b", 1)] {
        let rows: String = (0..40).map(|i| format!("{},{},{}\n", (i + shift) % 7, (i * 3) % 5, i % 2)).collect();
        std::fs::write(root.join(format!("{name}.csv")), format!("x,y,c\n{rows}")).unwrap();
        let data = format!("{name}.csv");
        let train = ["train", "--dataset", &data, "--label-column", "c", "--normalize", "none", "--code", "1"];
        ok(bin(root).args(train).args(["--epochs", "1", "--quiet", "--out", name]));
    }
    fails(
        bin(root).args(["probe", "a", "b", "-o", "x.json"]),
        "b was trained on other data than a: probe models of one dataset",
    );
    fails(bin(root).args(["probe", "m", "--labels", "1", "-o", "x.json"]), "give a number of labels ≥ 2 or `all`");
    fails(bin(root).args(["probe", "m", "--classifier", "svm", "-o", "x.json"]), "`svm`: use logistic or knn");
    assert!(!root.join("x.json").exists());
}

#[test]
fn an_mnist_conv_code_beats_pca_of_its_size_at_100_and_1000_labels() {
    let data = require_data!();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let train = ["train", "--dataset", "mnist", "--model", "conv", "--code", "32", "--epochs", "2", "--quiet"];
    ok(bin(root).env("AUTOENCODERS_DATA", &data).args(train).args(["--out", "m"]));
    let probe = ["probe", "m", "--labels", "100,1000", "--classifier", "logistic", "--draws", "3", "-o", "p.json"];
    ok(bin(root).env("AUTOENCODERS_DATA", &data).args(probe));
    let pts = points(&root.join("p.json"));
    let mean = |f: &str, labels: usize| pts.iter().find(|p| p.features == f && p.labels == labels).unwrap().mean;
    // The same model in notebook 09 (2 epochs, 3 draws, 3 folds): 74.4 % against PCA-32's 64.6 at
    // 100 labels, 88.6 against 86.5 at 1,000; k-NN is closer (+0.6, +0.2), so not asserted here.
    for labels in [100, 1000] {
        assert!(mean("m", labels) > mean("pca", labels) + 0.01, "{labels} labels: {pts:?}");
    }
}

/// The probe's linear classifier on its hardest input for the old solver: linfa-logistic's
/// loss went wrong when samples' logits differ widely and stopped at 84.43 % here; scikit-learn's
/// `LogisticRegression(C=100)` on the same standardised PCA-32 features reaches 90.06 %.
#[test]
fn logistic_regression_on_all_mnist_labels_reaches_the_optimum_scikit_learn_finds() {
    use autoencoders::baselines::{Logistic, Pca};
    use autoencoders::data::{DatasetId, Split};
    let root = require_data!();
    let train = DatasetId::Mnist.load_from(&root, Split::Train).unwrap();
    let test = DatasetId::Mnist.load_from(&root, Split::Test).unwrap();
    let pca = Pca::fit(&train.samples, 784, 32).unwrap();
    let (x, x_test) = (pca.transform(&train.samples), pca.transform(&test.samples));
    // Standardised with the training split's statistics, as the probe does.
    let n = (x.len() / 32) as f64;
    let mean: Vec<f64> = (0..32).map(|j| x.iter().skip(j).step_by(32).map(|&v| v as f64).sum::<f64>() / n).collect();
    let std: Vec<f64> = (0..32)
        .map(|j| (x.iter().skip(j).step_by(32).map(|&v| (v as f64 - mean[j]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    let scale = |v: &[f32]| -> Vec<f64> {
        v.iter().enumerate().map(|(i, &v)| (v as f64 - mean[i % 32]) / std[i % 32]).collect()
    };
    let labels = |d: &autoencoders::data::Dataset| d.labels.clone().unwrap();
    let fit = Logistic::fit(&scale(&x), &labels(&train), 32, 10, 0.01, 1000).unwrap();
    let truth = labels(&test);
    let pred = fit.model.predict(&scale(&x_test));
    let accuracy = pred.iter().zip(&truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64;
    assert!(fit.converged, "{} iterations, loss {}", fit.iterations, fit.loss);
    assert!(accuracy > 0.895, "test accuracy {accuracy} (scikit-learn: 0.9006)");
}
