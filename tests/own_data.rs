//! Your own data: every kind of source (CSV, parquet, npz/npy, image folders, hub datasets),
//! the splits and normalisations, and each kind of bad data, through the library and the CLI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cli_in as bin, fails, ok, run};

use autoencoders::data::{
    prepare_data, DataConfig, DataSource, Dataset, DatasetId, ImageSize, NormalizeKind, SourceOptions, Split,
};
use autoencoders::hub::Hub;
use image::{GrayImage, RgbImage};
use polars::prelude::*;

/// The embedded 8×8 digits (1,797 rows), as columns `label, p0 … p63`.
fn digits() -> Dataset {
    let mut d = DatasetId::Digits.load_from(Path::new("/nonexistent"), Split::Train).unwrap();
    let t = DatasetId::Digits.load_from(Path::new("/nonexistent"), Split::Test).unwrap();
    d.samples.extend(&t.samples);
    d.labels.as_mut().unwrap().extend(t.labels.unwrap());
    d
}

/// Writes `d` as a CSV with columns in `order` (indices into p0…p63; `usize::MAX` = label).
fn write_csv(d: &Dataset, order: &[usize], path: &Path) {
    let name = |j: usize| if j == usize::MAX { "label".to_string() } else { format!("p{j}") };
    let mut s = order.iter().map(|&j| name(j)).collect::<Vec<_>>().join(",") + "\n";
    for i in 0..d.len() {
        let row: Vec<String> = order
            .iter()
            .map(|&j| {
                if j == usize::MAX {
                    d.class_names[d.labels.as_ref().unwrap()[i] as usize].clone()
                } else {
                    d.sample(i)[j].to_string()
                }
            })
            .collect();
        s += &(row.join(",") + "\n");
    }
    std::fs::write(path, s).unwrap();
}

fn frame_of(d: &Dataset) -> DataFrame {
    let mut cols: Vec<Column> = (0..d.sample_len())
        .map(|j| Column::new(format!("f{j}").into(), (0..d.len()).map(|i| d.sample(i)[j]).collect::<Vec<f32>>()))
        .collect();
    let labels: Vec<String> = d.labels.as_ref().unwrap().iter().map(|&l| format!("c{l}")).collect();
    cols.push(Column::new("kind".into(), labels));
    DataFrame::new(d.len(), cols).unwrap()
}

fn write_parquet(df: &mut DataFrame, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap()).finish(df).unwrap();
}

fn metrics(text: &str) -> serde_json::Value {
    let json = &text[text.find('{').unwrap()..=text.rfind('}').unwrap()];
    serde_json::from_str(json).unwrap()
}

#[test]
fn a_csv_trains_and_evaluates_on_another_csv_with_its_columns_in_another_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = digits();
    let order: Vec<usize> = std::iter::once(usize::MAX).chain(0..64).collect();
    write_csv(&d, &order, &dir.path().join("a.csv"));
    let reversed: Vec<usize> = (0..64).rev().chain(std::iter::once(usize::MAX)).collect();
    write_csv(&d, &reversed, &dir.path().join("b.csv"));
    ok(bin(dir.path())
        .args(["train", "--dataset", "a.csv", "--label-column", "label", "--epochs", "2"])
        .args(["--hidden", "32", "--code", "8", "--out", "m", "--quiet"]));
    let cfg = std::fs::read_to_string(dir.path().join("m/config.json")).unwrap();
    assert!(cfg.contains("\"label_column\": \"label\"") && cfg.contains("\"p63\"") && cfg.contains("\"classes\""));
    let a = metrics(&ok(bin(dir.path()).args(["eval", "m", "--input", "a.csv"])));
    let b = metrics(&ok(bin(dir.path()).args(["eval", "m", "--input", "b.csv"])));
    assert_eq!(a["n_test"], 1797);
    assert_eq!(a, b, "the same rows with columns in another order must score the same");
    // The held-out test split (20 %, stratified) is what plain `eval` reads.
    let held = metrics(&ok(bin(dir.path()).args(["eval", "m"])));
    assert_eq!(held["n_test"], 359); // 20 % of each class, rounded
                                     // A file missing a training column is refused, naming it.
    let cut: Vec<usize> = std::iter::once(usize::MAX).chain(1..64).collect();
    write_csv(&d, &cut, &dir.path().join("c.csv"));
    fails(bin(dir.path()).args(["eval", "m", "--input", "c.csv"]), "c.csv: no column `p0`");
    // New data without the label column is encoded all the same.
    write_csv(&d, &(0..64).collect::<Vec<_>>(), &dir.path().join("unlabelled.csv"));
    ok(bin(dir.path()).args(["encode", "m", "--input", "unlabelled.csv", "-o", "codes.parquet"]));
    let codes = ParquetReader::new(std::fs::File::open(dir.path().join("codes.parquet")).unwrap()).finish().unwrap();
    assert_eq!(codes.shape(), (1797, 8));
}

#[test]
fn bad_tables_get_an_error_naming_the_file_the_row_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("text.csv", "a,b\n1,2\n3,x\n", &[], "text.csv: line 3, column `b`: \"x\" is not a number"),
        ("nan.csv", "a,b\n1,2\n3,nan\n", &[], "nan.csv: line 3, column `b` is NaN"),
        ("inf.tsv", "a\tb\n1\t2\n-inf\t4\n", &[], "inf.tsv: line 3, column `a` is -inf"),
        ("short.csv", "a,b\n1,2\n3\n", &[], "short.csv: line 3, column `b` is empty"),
        ("long.csv", "a,b\n1,2\n3,4,5\n", &[], "long.csv: line 3 has 3 fields but line 1 has 2"),
        ("empty.csv", "", &[], "empty.csv: the file is empty"),
        ("header.csv", "a,b\n", &[], "header.csv: the table has no rows"),
        ("cols.csv", "a,b\n1,2\n", &["--columns", "a,zz"], "cols.csv: no column `zz`; the file has a, b"),
        ("label.csv", "a,b\n1,2\n", &["--label-column", "y"], "label.csv: no label column `y`"),
        ("what.xlsx", "a", &[], "what.xlsx: unknown kind of file"),
    ];
    for (file, text, flags, want) in cases {
        std::fs::write(dir.path().join(file), text).unwrap();
        fails(bin(dir.path()).args(["train", "--dataset", file, "--out", "x"]).args(*flags), want);
    }
    assert!(!dir.path().join("x").exists());
    // --drop-invalid skips the bad rows and says how many.
    std::fs::write(dir.path().join("some.csv"), "a,b\n1,2\n3,nan\n4,5\n6,\n7,8\n9,1\n2,2\n").unwrap();
    let text = ok(bin(dir.path()).args(["train", "--dataset", "some.csv", "--drop-invalid", "--epochs", "1"]).args([
        "--code",
        "1",
        "--test-split",
        "0.4",
        "--val-split",
        "0",
        "--out",
        "x",
        "--quiet",
    ]));
    assert!(text.contains("some.csv: skipped 2 row(s)"), "{text}");
    // Read once: the model's input shape comes from the copy it trains on (the file used to
    // be read twice, and the message printed twice).
    assert_eq!(text.matches("skipped 2 row(s)").count(), 1, "{text}");
}

#[test]
fn parquet_files_and_folders_pick_features_and_labels_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = digits();
    let mut df = frame_of(&d);
    write_parquet(&mut df, &dir.path().join("one.parquet"));
    let source = SourceOptions { label_column: Some("kind".into()), ..Default::default() };
    let cfg = DataConfig {
        source,
        normalize: NormalizeKind::Minmax,
        ..DataConfig::new(DataSource::Path(dir.path().join("one.parquet")))
    };
    let p = prepare_data(&cfg).unwrap();
    assert_eq!((p.train.len(), p.test.len(), p.train.sample_len()), (1438, 359, 64));
    assert_eq!(p.config.classes.as_ref().unwrap()[..2], ["c0".to_string(), "c1".into()]);
    assert_eq!(p.config.source.columns.as_ref().unwrap().len(), 64);
    // Stratified: each class keeps its share in the test part.
    let per_class = |x: &Dataset, c: u32| x.labels.as_ref().unwrap().iter().filter(|&&l| l == c).count();
    for c in 0..10 {
        let share = per_class(&p.test, c) as f64 / (per_class(&p.test, c) + per_class(&p.train, c)) as f64;
        assert!((share - 0.2).abs() < 0.02, "class {c}: {share}");
    }
    // Per-feature min-max: the training part spans [0, 1] in every non-constant feature.
    for j in 0..64 {
        let col: Vec<f32> = (0..p.train.len()).map(|i| p.train.sample(i)[j]).collect();
        let (lo, hi) = col.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(lo == 0.0 && (hi == 1.0 || hi == 0.0), "feature {j}: {lo}..{hi}");
    }
    // A folder of parquet files is read as one table, in name order.
    let (top, bottom) = (df.slice(0, 1000), df.slice(1000, 797));
    write_parquet(&mut top.clone(), &dir.path().join("parts/0.parquet"));
    write_parquet(&mut bottom.clone(), &dir.path().join("parts/1.parquet"));
    let whole = DataSource::Path(dir.path().join("one.parquet")).load(Split::Train, &cfg.source).unwrap();
    let parts = DataSource::Path(dir.path().join("parts")).load(Split::Train, &cfg.source).unwrap();
    assert_eq!(whole.data.samples, parts.data.samples);
    // The label column is text here: leaving it among the features is refused by name.
    let e = DataSource::Path(dir.path().join("one.parquet")).load(Split::Train, &SourceOptions::default());
    let e = e.unwrap_err().to_string();
    assert!(e.contains("one.parquet: row 0, column `kind`: \"c0\" is not a number"), "{e}");
}

/// An `.npy` stream for `shape` holding f32 `values`, written by hand (the format is a
/// 10-byte preamble and a Python dict literal).
fn npy(shape: &[u64], fortran: bool, values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let dims = if dims.len() == 1 { format!("{},", dims[0]) } else { dims.join(", ") };
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': {}, 'shape': ({dims}), }}", if fortran { "True" } else { "False" });
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

fn npz(path: &Path, members: &[(&str, Vec<u8>)]) {
    let mut z = ::zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in members {
        z.start_file(format!("{name}.npy"), ::zip::write::FileOptions::default()).unwrap();
        std::io::Write::write_all(&mut z, bytes).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn npz_and_npy_arrays_of_any_rank_and_order_and_forged_headers() {
    let dir = tempfile::tempdir().unwrap();
    let load = |f: &str| DataSource::Path(dir.path().join(f)).load(Split::Train, &SourceOptions::default());
    // X (3, 2) in Fortran order with labels; the same as C order.
    let f = npy(&[3, 2], true, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let y = npy(&[3], false, &[1.0, 0.0, 1.0]);
    npz(&dir.path().join("f.npz"), &[("X", f), ("y", y)]);
    let d = load("f.npz").unwrap().data;
    assert_eq!((d.shape.clone(), d.samples.clone()), (vec![2], vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
    assert_eq!(d.labels, Some(vec![1, 0, 1]));
    // (n, h, w) → grey images; a bare .npy holds X only.
    std::fs::write(dir.path().join("img.npy"), npy(&[2, 2, 3], false, &[0.0; 12])).unwrap();
    let d = load("img.npy").unwrap().data;
    assert_eq!((d.len(), d.shape.clone(), d.labels.is_none()), (2, vec![1, 2, 3], true));
    // A header whose shape overflows, or promises more than the file holds: an error, no panic
    // and no allocation.
    for (name, shape) in [("huge.npz", vec![1u64 << 62, 4]), ("big.npz", vec![1 << 30, 1 << 10])] {
        npz(&dir.path().join(name), &[("X", npy(&shape, false, &[1.0; 8]))]);
        let e = load(name).unwrap_err().to_string();
        assert!(e.contains(name) && e.contains("more values than its"), "{e}");
    }
    std::fs::write(dir.path().join("big.npy"), npy(&[1 << 40], false, &[1.0; 4])).unwrap();
    let e = load("big.npy").unwrap_err().to_string();
    assert!(e.contains("big.npy") && e.contains("array `X`: header says shape [1099511627776]"), "{e}");
    // issue 17 (9): a byte flipped inside a stored member is caught by the zip checksum.
    let stored = dir.path().join("stored.npz");
    let mut z = ::zip::ZipWriter::new(std::fs::File::create(&stored).unwrap());
    let opts = ::zip::write::FileOptions::default().compression_method(::zip::CompressionMethod::Stored);
    z.start_file("X.npy", opts).unwrap();
    std::io::Write::write_all(&mut z, &npy(&[2, 2], false, &[1.0, 2.0, 3.0, 4.0])).unwrap();
    z.finish().unwrap();
    assert_eq!(load("stored.npz").unwrap().data.samples, vec![1.0, 2.0, 3.0, 4.0]);
    let mut bytes = std::fs::read(&stored).unwrap();
    let at = bytes.windows(4).position(|w| w == 3.0f32.to_le_bytes()).unwrap();
    bytes[at + 3] ^= 0x01;
    std::fs::write(&stored, bytes).unwrap();
    let e = load("stored.npz").unwrap_err().to_string();
    assert!(e.contains("stored.npz") && e.contains("checksum"), "{e}");
    // y that does not match X, and no X at all.
    npz(&dir.path().join("y.npz"), &[("X", npy(&[2, 1], false, &[1.0, 2.0])), ("y", npy(&[3], false, &[0.0; 3]))]);
    assert!(load("y.npz").unwrap_err().to_string().contains("array `y` has shape [3]; expected (2,)"));
    npz(&dir.path().join("z.npz"), &[("data", npy(&[2, 1], false, &[1.0, 2.0]))]);
    assert!(load("z.npz").unwrap_err().to_string().contains("no array named `X` (it holds data)"));
}

/// A folder of PNG and JPEG images of varied sizes, some in colour, in two class folders.
fn image_folder(root: &Path, mixed: bool) {
    for (class, shade) in [("cats", 60u8), ("dogs", 190u8)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for k in 0..6u32 {
            let (w, h) = if mixed { (20 + 3 * k, 24 + k) } else { (16, 16) };
            let path = root.join(class).join(format!("{k}.{}", if k % 2 == 0 { "png" } else { "jpg" }));
            if k % 3 == 0 {
                let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([shade, (x * 7) as u8, (y * 5) as u8]));
                img.save(&path).unwrap();
            } else {
                GrayImage::from_fn(w, h, |x, _| image::Luma([shade.wrapping_add(x as u8)])).save(&path).unwrap();
            }
        }
    }
}

#[test]
fn an_image_folder_of_mixed_sizes_trains_a_conv_model_at_the_size_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    image_folder(&dir.path().join("pets"), true);
    // Mixed sizes without --image-size: refused, naming two images and the fix.
    fails(
        bin(dir.path()).args(["train", "--dataset", "pets", "--model", "conv", "--out", "x"]),
        "give --image-size WxH",
    );
    let opts = SourceOptions {
        image_size: Some("32x32".parse::<ImageSize>().unwrap()),
        channels: Some(3),
        ..Default::default()
    };
    let t = DataSource::Path(dir.path().join("pets")).load(Split::Train, &opts).unwrap();
    assert_eq!((t.data.len(), t.data.shape.clone()), (12, vec![3, 32, 32]));
    assert_eq!(t.data.class_names, vec!["cats", "dogs"]);
    // Grey images in RGB: three equal planes.
    let plane = 32 * 32;
    let s = t.data.sample(1);
    assert!(s[..plane] == s[plane..2 * plane] && s[..plane] == s[2 * plane..]);
    ok(bin(dir.path()).args(["train", "--dataset", "pets", "--image-size", "32x32", "--channels", "3"]).args([
        "--model",
        "conv",
        "--code",
        "4",
        "--epochs",
        "1",
        "--test-split",
        "0.34",
        "--out",
        "m",
        "--quiet",
    ]));
    let cfg = std::fs::read_to_string(dir.path().join("m/config.json")).unwrap();
    assert!(
        cfg.contains("\"channels\": 3") && cfg.contains("\"height\": 32") && cfg.contains("\"image_size\": \"32x32\""),
        "{cfg}"
    );
    assert!(cfg.contains("\"output_activation\": \"sigmoid\""), "{cfg}");
    ok(bin(dir.path()).args(["eval", "m"]));
    ok(bin(dir.path()).args(["figures", "m"]));
    // An unreadable image is named, or skipped with --drop-invalid.
    std::fs::write(dir.path().join("pets/cats/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    fails(bin(dir.path()).args(["eval", "m", "--input", "pets"]), "broken.png: not a readable image");
    // A size the conv model is not built for is refused with the sizes it has.
    fails(
        bin(dir.path()).args([
            "train",
            "--dataset",
            "pets",
            "--image-size",
            "30x30",
            "--model",
            "conv",
            "--drop-invalid",
            "--out",
            "y",
        ]),
        "not 3×30×30; resize with --image-size",
    );
}

#[test]
fn a_hub_dataset_is_read_from_its_parquet_files_by_split_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("served");
    let d = digits();
    let df = frame_of(&d);
    let repo = root.join("datasets/someone/digits-table");
    write_parquet(&mut df.slice(0, 1500), &repo.join("data/train-00000-of-00001.parquet"));
    write_parquet(&mut df.slice(1500, 297), &repo.join("data/test-00000-of-00001.parquet"));
    let mut server = common::hub_server::HubServer::start(&root);
    let hub = Hub { endpoint: server.endpoint.clone(), cache: dir.path().join("cache"), offline: false };
    let source: DataSource = "hf:someone/digits-table".parse().unwrap();
    assert!(source.has_test_split(&hub).unwrap());
    // The library reads HF_ENDPOINT/HF_HOME; the CLI is the way to set them per process.
    let train = |extra: &[&str]| {
        let mut c = bin(dir.path());
        c.env("HF_ENDPOINT", &server.endpoint).env("HF_HOME", dir.path().join("hf"));
        c.args(["train", "--dataset", "hf:someone/digits-table", "--label-column", "kind", "--epochs", "1"]);
        c.args(["--code", "4", "--quiet"]).args(extra);
        c
    };
    ok(&mut train(&["--out", "m"]));
    let e = metrics(&ok(bin(dir.path())
        .env("HF_HOME", dir.path().join("hf"))
        .env("HF_ENDPOINT", &server.endpoint)
        .args(["eval", "m"])));
    assert_eq!(e["n_test"], 297);
    // Offline, from the cache: the same.
    server.stop();
    let e2 = metrics(&ok(bin(dir.path())
        .env("HF_HOME", dir.path().join("hf"))
        .env("HF_HUB_OFFLINE", "1")
        .args(["eval", "m"])));
    assert_eq!(e, e2);
    // A cached file that no longer reads is removed, so the next run downloads it again.
    let cached =
        walk(&dir.path().join("hf")).into_iter().find(|p| p.ends_with("data/test-00000-of-00001.parquet")).unwrap();
    let blob = std::fs::canonicalize(&cached).unwrap();
    std::fs::write(&blob, b"PAR1 torn").unwrap();
    let (success, text) =
        run(bin(dir.path()).env("HF_HOME", dir.path().join("hf")).env("HF_HUB_OFFLINE", "1").args(["eval", "m"]));
    assert!(
        !success && text.contains("not a readable parquet file") && text.contains("removed from the cache"),
        "{text}"
    );
    assert!(!cached.exists() && !blob.exists());
    // A split the repository does not have: its files are listed.
    let server = common::hub_server::HubServer::start(&root);
    let mut c = bin(dir.path());
    c.env("HF_ENDPOINT", &server.endpoint).env("HF_HOME", dir.path().join("hf2"));
    fails(
        c.args(["train", "--dataset", "hf:someone/digits-table@validation", "--out", "z"]),
        "no parquet files of split `validation`; its parquet files are data/test-00000-of-00001.parquet, data/train",
    );
}

/// Encoded images of `dir/<class>/*` as a frame: column `image` = struct {`bytes`, `path`} (the
/// hub's layout) or, with `binary`, column `png` of raw bytes; classes in `label` (integers) or
/// `kind` (text).
fn image_frame(dir: &Path, binary: bool) -> DataFrame {
    let (mut bytes, mut paths, mut labels, mut kinds) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (c, class) in ["cats", "dogs"].iter().enumerate() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(class)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            bytes.push(std::fs::read(&f).unwrap());
            paths.push(f.file_name().unwrap().to_string_lossy().into_owned());
            labels.push(c as i64);
            kinds.push(class.to_string());
        }
    }
    let n = bytes.len();
    let raw = Series::new("bytes".into(), bytes.iter().map(|b| b.as_slice()).collect::<Vec<&[u8]>>());
    if binary {
        let cols = vec![raw.with_name("png".into()).into(), Column::new("kind".into(), kinds)];
        return DataFrame::new(n, cols).unwrap();
    }
    let path = Series::new("path".into(), paths);
    let image = StructChunked::from_series("image".into(), n, [raw, path].iter()).unwrap().into_series();
    DataFrame::new(n, vec![image.into(), Column::new("label".into(), labels)]).unwrap()
}

/// Issue 16: the generic image-column path of hub (and local) parquet files, which only the
/// built-in MNIST copies had exercised.
#[test]
fn parquet_files_with_an_image_column_train_a_conv_model_from_the_hub_and_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    image_folder(&dir.path().join("pets"), true);
    let df = image_frame(&dir.path().join("pets"), false);
    let repo = dir.path().join("served/datasets/someone/pets");
    write_parquet(&mut df.slice(0, 9), &repo.join("data/train-00000-of-00001.parquet"));
    write_parquet(&mut df.slice(9, 3), &repo.join("data/test-00000-of-00001.parquet"));
    let server = common::hub_server::HubServer::start(&dir.path().join("served"));
    let hub = |c: &mut Command| {
        c.env("HF_ENDPOINT", &server.endpoint).env("HF_HOME", dir.path().join("hf"));
    };
    let mut c = bin(dir.path());
    hub(&mut c);
    c.args(["train", "--dataset", "hf:someone/pets", "--image-size", "32x32", "--channels", "3", "--model", "conv"]);
    ok(c.args(["--code", "8", "--epochs", "1", "--quiet", "--out", "m"]));
    let cfg = std::fs::read_to_string(dir.path().join("m/config.json")).unwrap();
    assert!(cfg.contains("\"channels\": 3") && cfg.contains("\"height\": 32"), "{cfg}");
    let mut c = bin(dir.path());
    hub(&mut c);
    let m = metrics(&ok(c.args(["eval", "m"])));
    assert_eq!(m["n_test"], 3);

    // A local file whose images are a plain binary column, labels as text by name: each
    // sample is the decoded image, pixel for pixel.
    let path = dir.path().join("pets.parquet");
    write_parquet(&mut image_frame(&dir.path().join("pets"), true), &path);
    let opts = SourceOptions {
        label_column: Some("kind".into()),
        image_size: Some("24x24".parse::<ImageSize>().unwrap()),
        channels: Some(1),
        ..Default::default()
    };
    let t = DataSource::Path(path).load(Split::Train, &opts).unwrap();
    assert_eq!((t.data.len(), t.data.shape.clone()), (12, vec![1, 24, 24]));
    assert_eq!(t.data.class_names, vec!["cats", "dogs"]);
    let first = image::open(dir.path().join("pets/cats/0.png")).unwrap();
    let want = first.resize_exact(24, 24, image::imageops::FilterType::Triangle).into_luma8();
    assert_eq!(t.data.sample(0), want.as_raw().iter().map(|&p| p as f32).collect::<Vec<f32>>().as_slice());
}

#[test]
fn built_in_names_take_a_split_and_digits_with_wrong_columns_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let src: DataSource = "digits@test".parse().unwrap();
    assert_eq!(src.load(Split::Train, &SourceOptions::default()).unwrap().data.len(), 359);
    // issue 17: one extra (or one missing) column in digits.csv panicked or re-cut the rows.
    std::fs::create_dir_all(dir.path().join("digits")).unwrap();
    let d = digits();
    for (cols, n) in [((0..64).chain([0]).collect::<Vec<usize>>(), 65), ((0..63).collect(), 63)] {
        let order: Vec<usize> = std::iter::once(usize::MAX).chain(cols).collect();
        let mut text = String::new();
        write_csv(&d, &order, &dir.path().join("tmp.csv"));
        text += &std::fs::read_to_string(dir.path().join("tmp.csv")).unwrap().replacen("p0,", "px,", 1);
        std::fs::write(dir.path().join("digits/digits.csv"), text).unwrap();
        let e = DatasetId::Digits.load_from(dir.path(), Split::Train).unwrap_err().to_string();
        assert!(e.contains("digits.csv") && e.contains(&format!("{n} feature columns after the label")), "{e}");
    }
}

/// Every file under `dir` (links included, not followed).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_series_cut_into_windows_scores_each_time_point() {
    let dir = tempfile::tempdir().unwrap();
    // A sine of period 40 with bursts of noise (class `burst`) every ~600 points.
    let mut s = String::from("t,value,state\n");
    for t in 0..6000u32 {
        let burst = t % 600 >= 500 && t % 600 < 530;
        let clean = (t as f32 * std::f32::consts::TAU / 40.0).sin();
        let v = if burst { clean + if (t * 7919) % 3 == 0 { 1.5 } else { -1.5 } } else { clean };
        s += &format!("{t},{v},{}\n", if burst { "burst" } else { "calm" });
    }
    std::fs::write(dir.path().join("series.csv"), s).unwrap();
    let train = |extra: &[&str]| {
        let mut c = bin(dir.path());
        c.args(["train", "--dataset", "series.csv", "--label-column", "state"]);
        c.args(["--window", "40", "--stride", "4", "--epochs", "15", "--quiet"]).args(extra);
        c
    };
    ok(&mut train(&["--columns", "value", "--normal-class", "calm", "--hidden", "32", "--code", "6", "--out", "m"]));
    let cfg = std::fs::read_to_string(dir.path().join("m/config.json")).unwrap();
    assert!(cfg.contains("\"window\": {\n        \"length\": 40,\n        \"stride\": 4"), "{cfg}");
    let m = metrics(&ok(bin(dir.path()).args(["eval", "m"])));
    // The last 20 % of the series (1,200 points) is the test part: 291 windows.
    assert_eq!(m["n_test"], 291);
    let auroc = m["test_point_auroc"].as_f64().unwrap();
    assert!(auroc > 0.9, "per-point AUROC {auroc}");
    // The LSTM reads one column; windows need a table.
    fails(
        &mut train(&["--columns", "t,value", "--model", "lstm", "--out", "x"]),
        "--model lstm reads one value per time step, not samples of shape [40, 2]",
    );
    image_folder(&dir.path().join("pics"), false);
    fails(
        bin(dir.path()).args(["train", "--dataset", "pics", "--window", "4", "--out", "x"]),
        "--window cuts a table's rows",
    );
}

/// A parquet table of `n` rows × 4 float columns (row `i`: `i, 2i, sin i, 1`).
fn numbers(path: &Path, n: usize, row_group: usize) {
    let col = |f: &dyn Fn(usize) -> f32| (0..n).map(f).collect::<Vec<f32>>();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("a".into(), col(&|i| i as f32)),
            Column::new("b".into(), col(&|i| 2.0 * i as f32)),
            Column::new("c".into(), col(&|i| (i as f32).sin())),
            Column::new("d".into(), col(&|_| 1.0)),
        ],
    )
    .unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    ParquetWriter::new(file).with_row_group_size(Some(row_group)).finish(&mut df).unwrap();
}

#[test]
fn a_streamed_table_is_split_by_hash_and_every_training_row_comes_once_per_epoch() {
    use autoencoders::data::stream::{ParquetStream, Part, PartSplit};
    use autoencoders::data::BatchSource;
    let dir = tempfile::tempdir().unwrap();
    numbers(&dir.path().join("t/0.parquet"), 30_000, 7_000);
    numbers(&dir.path().join("t/1.parquet"), 10_000, 4_000);
    let split = PartSplit { test: 0.2, val: 0.1, seed: 3 };
    let s = ParquetStream::open(&dir.path().join("t"), None, split, Part::Train).unwrap();
    let (train, val, test) = (s.len(), s.with_part(Part::Val).len(), s.with_part(Part::Test).len());
    assert_eq!(train + val + test, 40_000);
    assert!((test as f64 / 40_000.0 - 0.2).abs() < 0.01 && (val as f64 / 32_000.0 - 0.1).abs() < 0.01);
    // Column `a` numbers the rows of each file: the training rows, once each, in any order.
    let rows = |epoch| -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        for b in s.epoch_batches(epoch, 100, 9) {
            v.extend(b.unwrap().chunks(4).map(|r| (r[0] as u32, r[1] as u32)));
        }
        v
    };
    let (e1, e2) = (rows(1), rows(2));
    assert_eq!(e1.len(), train);
    assert_ne!(e1, e2, "each epoch is shuffled anew");
    assert_eq!(e1, rows(1), "the same (seed, epoch), the same order");
    let mut sorted = e1.clone();
    sorted.sort_unstable();
    let mut want: Vec<(u32, u32)> = Vec::new();
    for c in s.chunks_in_order() {
        want.extend(c.unwrap().samples.chunks(4).map(|r| (r[0] as u32, r[1] as u32)));
    }
    want.sort_unstable();
    assert_eq!(sorted, want);
}

/// Issue 16: a streamed run stopped in the middle of an epoch resumes from its last checkpoint
/// within the epoch and ends bit-identical to the uninterrupted run.
#[test]
fn a_streamed_run_stopped_within_an_epoch_resumes_bit_identically() {
    use autoencoders::data::stream::{ParquetStream, Part, PartSplit};
    use autoencoders::data::NormalizeKind;
    use autoencoders::models::dense::{Dense1, DenseConfig};
    use autoencoders::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    numbers(&dir.path().join("t.parquet"), 6_000, 1_000);
    let split = PartSplit { test: 0.2, val: 0.1, seed: 3 };
    let raw = ParquetStream::open(&dir.path().join("t.parquet"), None, split, Part::Train).unwrap();
    let normalizer = raw.fit_normalizer(NormalizeKind::Standard).unwrap();
    let train = raw.normalized(normalizer);
    let val = train.with_part(Part::Val).head(1_000).unwrap();
    let cfg =
        TrainConfig { epochs: 2, batch_size: 50, patience: None, checkpoint_every: Some(7), ..Default::default() };
    let config =
        DenseConfig { loss: ReconLoss::Mse, output_activation: Activation::Identity, ..DenseConfig::shallow(4, 2) };
    let model = |seed| Dense1::new(&Dev::seed_from_u64(seed), &config.clone().with_hidden(&[8])).unwrap();
    let (whole, parts) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    Trainer::new(&cfg).checkpoints(whole.path()).fit(&mut model(1), &train, &val).unwrap();
    let failing = common::FailingAt { source: &train, epoch: 2, at: 30 };
    assert!(Trainer::new(&cfg).checkpoints(parts.path()).fit(&mut model(1), &failing, &val).is_err());
    Trainer::new(&cfg).checkpoints(parts.path()).resume(true).fit(&mut model(2), &train, &val).unwrap();
    let tensors = |d: &Path, f: &str| {
        let (tensors, _) = autoencoders::train::checkpoint::read_safetensors(&d.join(f)).unwrap();
        tensors.into_iter().map(|t| (t.name, t.values)).collect::<std::collections::BTreeMap<_, _>>()
    };
    for f in ["resume.safetensors", "model.safetensors"] {
        assert_eq!(tensors(whole.path(), f), tensors(parts.path(), f), "{f}");
    }
    // Every column of the history but the epoch's seconds.
    let history = |d: &Path| {
        let text = std::fs::read_to_string(d.join("history.csv")).unwrap();
        text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(history(whole.path()), history(parts.path()));
}

#[test]
fn training_on_a_streamed_table_evaluates_and_encodes_it_a_chunk_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    numbers(&dir.path().join("n.parquet"), 20_000, 3_000);
    let text = ok(bin(dir.path())
        .args(["train", "--dataset", "n.parquet", "--stream", "--code", "2", "--epochs", "2"])
        .args(["--out", "m", "--quiet"]));
    assert!(text.contains("fitting the normalisation on"), "{text}");
    let cfg = std::fs::read_to_string(dir.path().join("m/config.json")).unwrap();
    assert!(cfg.contains("\"stream\": true") && cfg.contains("\"standardize\""), "{cfg}");
    let m = metrics(&ok(bin(dir.path()).args(["eval", "m"])));
    let n_test = m["n_test"].as_u64().unwrap();
    assert!((3_800..4_200).contains(&n_test), "{n_test}");
    assert!(m["test_mse"].as_f64().unwrap() < 1.0);
    ok(bin(dir.path()).args(["encode", "m", "-o", "codes.parquet"]));
    let codes = ParquetReader::new(std::fs::File::open(dir.path().join("codes.parquet")).unwrap()).finish().unwrap();
    assert_eq!(codes.shape(), (n_test as usize, 2));
    // Another file as --input is read whole, by column name — not the model's own test part.
    numbers(&dir.path().join("other.parquet"), 500, 100);
    let other = metrics(&ok(bin(dir.path()).args(["eval", "m", "--input", "other.parquet"])));
    assert_eq!(other["n_test"], 500);
    ok(bin(dir.path()).args(["encode", "m", "--input", "other.parquet", "-o", "other-codes.parquet"]));
    let codes =
        ParquetReader::new(std::fs::File::open(dir.path().join("other-codes.parquet")).unwrap()).finish().unwrap();
    assert_eq!(codes.height(), 500);
    // Options the stream does not take yet are refused, not ignored.
    fails(
        bin(dir.path()).args(["train", "--dataset", "n.parquet", "--stream", "--label-column", "a", "--out", "x"]),
        "--stream does not take --label-column",
    );
    // A bad value deep in the file is named with its row and column.
    let mut df = DataFrame::new(3, vec![Column::new("a".into(), vec![1.0f32, f32::NAN, 2.0])]).unwrap();
    write_parquet(&mut df, &dir.path().join("bad.parquet"));
    fails(
        bin(dir.path()).args(["train", "--dataset", "bad.parquet", "--stream", "--out", "x"]),
        "row 1, column `a` is NaN",
    );
}

#[test]
fn streamed_metrics_equal_the_metrics_of_the_whole_set() {
    use autoencoders::train::{MetricSums, Metrics};
    let target: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 0.5 + 0.5).collect();
    let pred: Vec<f32> = target.iter().map(|t| (t * 0.9 + 0.05).clamp(0.0, 1.0)).collect();
    let whole = Metrics::from_reconstructions(&target, &pred, 100, 0.25);
    let mut sums = MetricSums::default();
    for (t, p) in target.chunks(130).zip(pred.chunks(130)) {
        sums.add(t, p, t.len() / 10, 0.25);
    }
    let parts = sums.finish();
    assert_eq!(parts.n_test, 100);
    assert!((parts.test_mse - whole.test_mse).abs() < 1e-12 && (parts.test_psnr - whole.test_psnr).abs() < 1e-9);
    assert!((parts.test_bce.unwrap() - whole.test_bce.unwrap()).abs() < 1e-12);
}
