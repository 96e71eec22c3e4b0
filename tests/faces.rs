//! `faces`: face recognition on ORL's 5/5 split — the split itself, the study end to end on
//! the real faces (baselines at their known accuracies, a report `--query` reads), and a
//! query that finds the face it was given.

mod common;

use autoencoders::data::{DatasetId, Split};
use common::{cli_in as bin, fails, ok};

/// The literature's split: images 1–5 of each person train, 6–10 test, by file number (10
/// after 9, not after 1); the 8/2 split of `orl-faces` is unchanged.
#[test]
fn orl_faces_5_5_trains_on_the_first_five_images_of_each_person() {
    let root = require_data!();
    let (train, test) = (
        DatasetId::OrlFaces55.load_from(&root, Split::Train).unwrap(),
        DatasetId::OrlFaces55.load_from(&root, Split::Test).unwrap(),
    );
    assert_eq!((train.len(), test.len()), (200, 200));
    assert_eq!(train.shape, vec![1, 112, 92]);
    assert_eq!(DatasetId::OrlFaces.load_from(&root, Split::Train).unwrap().len(), 320);
    // Person s1's faces, in order: train = 1.pgm … 5.pgm, test = 6.pgm … 10.pgm.
    let eight = DatasetId::OrlFaces.load_from(&root, Split::Train).unwrap();
    let d = train.sample_len();
    let s1 = |set: &autoencoders::data::Dataset, i: usize| set.samples[i * d..(i + 1) * d].to_vec();
    for i in 0..5 {
        assert_eq!(s1(&train, i), s1(&eight, i), "training face {i} of s1 is image {}", i + 1);
    }
    assert_eq!(s1(&test, 0), s1(&eight, 5), "s1's first test face is 6.pgm");
    assert_eq!(train.labels.as_ref().unwrap()[..6], [0, 0, 0, 0, 0, 1]);
    assert_eq!("orl-faces/5-5".parse::<DatasetId>().unwrap(), DatasetId::OrlFaces55);
}

/// A short study on the real faces: the baselines reach their known accuracies (raw pixels
/// 0.900 with 1-NN Euclidean — numpy gives the same on this split — eigenfaces near 0.89),
/// the report and figures are written, and `--query` on the study folder uses its chosen model
/// and finds a training face itself at distance 0.
#[test]
fn the_face_study_measures_every_method_and_answers_queries() {
    let root = require_data!();
    let dir = tempfile::tempdir().unwrap();
    let out = ok(bin(dir.path())
        .env("AUTOENCODERS_DATA", &root)
        .args(["faces", "study", "--codes", "8,16", "--seeds", "0", "--epochs", "2"]));
    let study = dir.path().join("study");
    for f in ["faces.json", "faces.csv", "faces-accuracy.png", "faces-roc.png", "code-8-seed-0/config.json"] {
        assert!(study.join(f).exists(), "{f} missing; output:\n{out}");
    }
    let csv = std::fs::read_to_string(study.join("faces.csv")).unwrap();
    let acc = |method: &str, code: &str, metric: &str| -> f64 {
        let row = csv
            .lines()
            .find(|l| l.starts_with(&format!("{method},{code},")) && l.contains(&format!(",{metric},")))
            .unwrap_or_else(|| panic!("no {method} {code} {metric} row in\n{csv}"));
        row.split(',').nth(5).unwrap().parse().unwrap()
    };
    assert_eq!(acc("pixels", "10304", "euclidean"), 0.9);
    let eigen = acc("eigenfaces", "16", "euclidean");
    assert!((0.8..=0.95).contains(&eigen), "eigenfaces 16: {eigen}");
    assert_eq!(csv.lines().filter(|l| l.starts_with("autoencoder,")).count(), 4, "2 codes × 1 seed × 2 distances");
    assert!(out.contains("chosen by leave-one-out on the training faces"), "{out}");

    // s3's first image is training face 10 (people sort s1, s2, s3 … by number).
    let face = root.join("orl-faces/s3/1.pgm");
    let q = ok(bin(dir.path()).env("AUTOENCODERS_DATA", &root).args(["faces", "study", "--query"]).arg(&face));
    let first = q.lines().find(|l| l.starts_with("s3,")).unwrap_or_else(|| panic!("no s3 line:\n{q}"));
    let fields: Vec<&str> = first.split(',').collect();
    assert_eq!(fields[1], "10", "{q}");
    assert!(fields[2].parse::<f64>().unwrap() < 1e-4, "the face itself is at distance 0: {q}");
    assert_eq!(q.lines().filter(|l| l.starts_with('s')).count(), 3, "--top 3 by default: {q}");
}

#[test]
fn a_query_of_the_wrong_size_or_without_a_model_is_refused() {
    let root = require_data!();
    let dir = tempfile::tempdir().unwrap();
    ok(bin(dir.path())
        .env("AUTOENCODERS_DATA", &root)
        .args(["faces", "m", "--codes", "4", "--seeds", "0", "--epochs", "1"]));
    let small = dir.path().join("small.png");
    image::GrayImage::new(28, 28).save(&small).unwrap();
    fails(
        bin(dir.path()).env("AUTOENCODERS_DATA", &root).args(["faces", "m/code-4-seed-0", "--query"]).arg(&small),
        "small.png",
    );
    fails(
        bin(dir.path()).env("AUTOENCODERS_DATA", &root).args(["faces", "m/code-4-seed-0", "--query"]).arg(&small),
        "92×112",
    );
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    fails(bin(dir.path()).args(["faces", "empty", "--query"]).arg(&small), "run `autoencoders faces empty` first");
}

/// A shift moves images it knows the shape of; asked of 8×8 digits (no conv size) it is
/// refused naming the data and the fix, not skipped in silence.
#[test]
fn a_shift_of_data_that_is_not_an_image_of_a_known_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fails(
        bin(dir.path()).args(["train", "--dataset", "digits", "--noise", "shift:2", "--epochs", "1", "--out", "m"]),
        "`digits/train` has samples of shape [1, 8, 8]",
    );
}
