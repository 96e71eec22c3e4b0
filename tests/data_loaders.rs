//! Every loader on the real files of the shared datasets folder, and on corrupted copies.

mod common;

use std::io::Write;

use autoencoders::data::{idx, tabular, DatasetId, Normalizer, Split};

#[test]
fn mnist_and_fashion_mnist_idx() {
    let root = require_data!();
    for (id, first_class) in [(DatasetId::Mnist, "0"), (DatasetId::FashionMnist, "T-shirt/top")] {
        let train = id.load_from(&root, Split::Train).unwrap();
        let test = id.load_from(&root, Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (60_000, 10_000), "{id}");
        assert_eq!(train.shape, vec![1, 28, 28]);
        assert_eq!(train.class_names[0], first_class);
        assert_eq!(train.value_range(), (0.0, 255.0));
        let labels = train.labels.as_ref().unwrap();
        let counts: Vec<usize> = (0..10).map(|c| labels.iter().filter(|&&l| l == c).count()).collect();
        if id == DatasetId::FashionMnist {
            assert!(counts.iter().all(|&n| n == 6000), "{counts:?}");
        } else {
            assert_eq!(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
        }
    }
    // MNIST's first training label is a 5.
    let m = DatasetId::Mnist.load_from(&root, Split::Train).unwrap();
    assert_eq!(m.labels.as_ref().unwrap()[..3], [5, 0, 4]);
}

#[test]
fn digits_csv_with_header() {
    let root = require_data!();
    let train = DatasetId::Digits.load_from(&root, Split::Train).unwrap();
    let test = DatasetId::Digits.load_from(&root, Split::Test).unwrap();
    assert_eq!(train.len() + test.len(), 1797);
    assert_eq!(train.shape, vec![1, 8, 8]);
    assert_eq!(train.value_range(), (0.0, 16.0));
    // The shared copy and the one embedded in the crate are the same file.
    assert_eq!(train, DatasetId::Digits.load_from(std::path::Path::new("/nonexistent"), Split::Train).unwrap());
}

#[test]
fn ecg5000_tsv_without_header() {
    let root = require_data!();
    let train = DatasetId::Ecg5000.load_from(&root, Split::Train).unwrap();
    let test = DatasetId::Ecg5000.load_from(&root, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (500, 4500));
    assert_eq!(train.shape, vec![140]);
    assert_eq!(train.class_names, vec!["1", "2", "3", "4", "5"]);
    let normal = train.labels.as_ref().unwrap().iter().filter(|&&l| l == 0).count();
    assert_eq!(normal, 292, "292 normal beats in the UCR training split");
    assert!((train.sample(0)[0] - -0.11252183).abs() < 1e-6);
}

#[test]
fn orl_faces_image_folder() {
    let root = require_data!();
    let train = DatasetId::OrlFaces.load_from(&root, Split::Train).unwrap();
    let test = DatasetId::OrlFaces.load_from(&root, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (320, 80));
    assert_eq!(train.shape, vec![1, 112, 92]);
    assert_eq!(train.class_names.len(), 40);
    assert_eq!(&train.class_names[..3], ["s1", "s2", "s3"]);
    assert_eq!(train.labels.as_ref().unwrap()[8], 1, "8 training images per person");
}

#[test]
fn adbench_npz_all_sets() {
    let root = require_data!();
    let mut seen = 0;
    for entry in std::fs::read_dir(root.join("adbench")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().trim_end_matches(".npz").to_string();
        let id = DatasetId::Adbench(name.clone());
        let train = id.load_from(&root, Split::Train).unwrap();
        let test = id.load_from(&root, Split::Test).unwrap();
        assert_eq!(train.class_names, vec!["0", "1"], "{name}: y marks anomalies");
        assert_eq!(train.shape.len(), 1);
        assert!(!test.is_empty() && train.len() > test.len(), "{name}");
        seen += 1;
    }
    assert_eq!(seen, 14);
    let cardio = DatasetId::Adbench("cardio".into());
    let (tr, te) = (cardio.load_from(&root, Split::Train).unwrap(), cardio.load_from(&root, Split::Test).unwrap());
    assert_eq!((tr.len() + te.len(), tr.shape[0]), (1831, 21));
}

#[test]
fn standardisation_uses_training_statistics_only() {
    let root = require_data!();
    let id = DatasetId::Adbench("cardio".into());
    let mut train = id.load_from(&root, Split::Train).unwrap();
    let mut test = id.load_from(&root, Split::Test).unwrap();
    let n = id.fit_normalizer(&train).unwrap();
    assert!(matches!(n, Normalizer::Standardize { .. }));
    n.apply(&mut train).unwrap();
    n.apply(&mut test).unwrap();
    let mean0: f32 = (0..train.len()).map(|i| train.sample(i)[0]).sum::<f32>() / train.len() as f32;
    assert!(mean0.abs() < 1e-4, "training feature 0 is centred: {mean0}");
    let test_mean0: f32 = (0..test.len()).map(|i| test.sample(i)[0]).sum::<f32>() / test.len() as f32;
    assert!(test_mean0.abs() > 1e-4, "the test split is not re-centred on itself");
}

#[test]
fn truncated_gzip_and_inconsistent_idx_are_clear_errors() {
    let root = require_data!();
    let real = std::fs::read(root.join("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let cut = dir.path().join("cut.gz");
    std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
    let e = idx::read_idx(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.gz") && e.contains("corrupt or truncated gzip"), "{e}");

    // Unpacked, then one label removed: the header still says 10,000.
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&real[..]), &mut raw).unwrap();
    let short = dir.path().join("short-idx");
    std::fs::write(&short, &raw[..raw.len() - 1]).unwrap();
    let e = idx::read_idx(&short).unwrap_err().to_string();
    assert!(e.contains("short-idx") && e.contains("[10000] need 10000 data bytes but the file holds 9999"), "{e}");

    // A gzip of garbage.
    let bad = dir.path().join("bad-magic.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"PK\x03\x04not idx").unwrap();
    std::fs::write(&bad, gz.finish().unwrap()).unwrap();
    assert!(idx::read_idx(&bad).unwrap_err().to_string().contains("bad magic"));

    // Issue 17 item 15, a gzip bomb: the real labels' header followed by 64 MiB of zeros
    // (a 64 KiB file). Refused after reading the 10,000 bytes the header declares plus one,
    // not after inflating all of it.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&raw).unwrap();
    gz.write_all(&vec![0u8; 64 << 20]).unwrap();
    let bomb = dir.path().join("bomb.gz");
    std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
    let e = idx::read_idx(&bomb).unwrap_err().to_string();
    assert!(e.contains("bomb.gz") && e.contains("more data than the 10000 bytes its header declares"), "{e}");
}

#[test]
fn mismatched_image_and_label_counts() {
    let root = require_data!();
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("mnist");
    std::fs::create_dir(&m).unwrap();
    // Training labels beside test images: 60,000 labels for 10,000 images.
    std::fs::copy(root.join("mnist/t10k-images-idx3-ubyte.gz"), m.join("t10k-images-idx3-ubyte.gz")).unwrap();
    std::fs::copy(root.join("mnist/train-labels-idx1-ubyte.gz"), m.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let e = DatasetId::Mnist.load_from(dir.path(), Split::Test).unwrap_err().to_string();
    assert!(e.contains("60000 labels for 10000 images"), "{e}");
}

#[test]
fn corrupted_ecg_tsv_names_line_and_column() {
    let root = require_data!();
    let text = std::fs::read_to_string(root.join("ecg5000/ECG5000_TRAIN.tsv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[4] = lines[4].replacen("\t", "\tabc", 1).replacen("\tabc", "\tx9", 1);
    let e = tabular::parse_table(
        lines.join("\n").as_bytes(),
        tabular::TableFormat::UCR_TSV,
        "ecg",
        std::path::Path::new("ECG_bad.tsv"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("ECG_bad.tsv") && e.contains("line 5") && e.contains("is not a number"), "{e}");
}

/// An `orl-faces` folder under `dir` holding the first two people of the real one.
fn two_faces(root: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let faces = dir.join("orl-faces");
    for s in ["s1", "s2"] {
        std::fs::create_dir_all(faces.join(s)).unwrap();
        for k in 1..=10 {
            std::fs::copy(root.join(format!("orl-faces/{s}/{k}.pgm")), faces.join(format!("{s}/{k}.pgm"))).unwrap();
        }
    }
    faces
}

#[test]
fn bad_pgm_header_in_a_face_folder() {
    let root = require_data!();
    let dir = tempfile::tempdir().unwrap();
    let faces = two_faces(&root, dir.path());
    assert_eq!(DatasetId::OrlFaces.load_from(dir.path(), Split::Train).unwrap().len(), 16);
    let mut bytes = std::fs::read(faces.join("s2/3.pgm")).unwrap();
    bytes[1] = b'9'; // "P9": no such PNM type
    std::fs::write(faces.join("s2/3.pgm"), bytes).unwrap();
    let e = DatasetId::OrlFaces.load_from(dir.path(), Split::Train).unwrap_err().to_string();
    assert!(e.contains("s2/3.pgm") && e.contains("not a readable image"), "{e}");
}

/// Issue 17 item 13: a missing or extra face image used to shift images between the splits.
#[test]
fn a_face_folder_with_a_missing_or_extra_image_is_refused() {
    let root = require_data!();
    let dir = tempfile::tempdir().unwrap();
    let faces = two_faces(&root, dir.path());
    std::fs::remove_file(faces.join("s2/4.pgm")).unwrap();
    let e = DatasetId::OrlFaces.load_from(dir.path(), Split::Test).unwrap_err().to_string();
    assert!(e.contains("s2") && e.contains("missing: [4.pgm]"), "{e}");
    std::fs::copy(faces.join("s2/3.pgm"), faces.join("s2/4.pgm")).unwrap();
    std::fs::copy(faces.join("s1/1.pgm"), faces.join("s1/11.pgm")).unwrap();
    let e = DatasetId::OrlFaces.load_from(dir.path(), Split::Test).unwrap_err().to_string();
    assert!(e.contains("s1") && e.contains("unexpected: [11.pgm]"), "{e}");
}

#[test]
fn missing_adbench_set_lists_the_available_ones() {
    let root = require_data!();
    let e = DatasetId::Adbench("nope".into()).load_from(&root, Split::Train).unwrap_err().to_string();
    assert!(e.contains("Available sets") && e.contains("6_cardio"), "{e}");
}
