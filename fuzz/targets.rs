//! The fuzz targets: every parser of a user's files as a function of arbitrary bytes, with the
//! most memory it may take for an input of a given size, and the seeds to start from.
//!
//! One file, two engines: the coverage-guided AFL++ harness (`fuzz/`, run by
//! `scripts/fuzz.sh` on stable Rust through `cargo afl`) and the bounded, seeded mutation run
//! in `cargo test` (`tests/fuzz_parsers.rs`), which includes this file. A target may return any
//! error; it must not panic, hang, or allocate more than its [`Target::budget`].

use std::path::Path;

use autoencoders::data::image_folder::{ImageOptions, ImageStack};
use autoencoders::data::tabular::{parse_table, TableFormat};
use autoencoders::data::{idx, DataSource, SourceOptions, Split};

/// One parser under test.
pub struct Target {
    /// The name scripts and messages use.
    pub name: &'static str,
    /// What it reads, the way a user's file reaches it.
    pub about: &'static str,
    /// Parses `input`, with `scratch` (a folder of its own) for files.
    pub run: fn(scratch: &Path, input: &[u8]),
    /// The most bytes the parse may hold at once for an input of `n` bytes.
    pub budget: fn(n: u64) -> u64,
}

const MIB: u64 = 1 << 20;
/// Deflate's largest expansion (see `data::MAX_DEFLATE_RATIO`).
const INFLATE: u64 = 1100;

/// Every target. Add one for each new format of user files.
pub const TARGETS: &[Target] = &[
    Target {
        name: "idx",
        about: "IDX arrays, plain or gzipped (MNIST's files): data::idx::read_idx",
        run: |dir, b| drop(idx::read_idx(&write(dir, "in-idx", b))),
        // The file, the inflated bytes (≤ 1,100 per byte of gzip) and their copy.
        budget: |n| 2 * INFLATE * n + n + MIB,
    },
    Target {
        name: "image",
        about: "one image of a folder (PNG, JPEG, BMP, PGM/PPM): data::image_folder::ImageStack",
        run: |_, b| {
            let mut stack = ImageStack::new(ImageOptions::default()).expect("default options");
            let _ = stack.push_encoded(b, &|| "input".into(), Path::new("input"));
        },
        // The decoder's own limit (16 MiB + 4,400 per byte), then a copy as 8-bit pixels and
        // the samples as f32.
        budget: |n| 6 * (16 * MIB + 4 * INFLATE * n),
    },
    Target {
        name: "csv",
        about: "a CSV table, header and all: DataSource::Path(…).load (polars' reader, our columns)",
        run: |dir, b| drop(DataSource::Path(write(dir, "in.csv", b)).load(Split::Train, &SourceOptions::default())),
        budget: |n| 96 * n + 64 * MIB,
    },
    Target {
        name: "ucr",
        about: "a UCR tab-separated series file, label first (ECG5000): data::tabular::parse_table",
        run: |_, b| drop(parse_table(b, TableFormat::UCR_TSV, "input", Path::new("input"))),
        budget: |n| 64 * n + 16 * MIB,
    },
    Target {
        name: "parquet",
        about: "a parquet table: DataSource::Path(…).load (polars' reader, our columns)",
        run: |dir, b| drop(DataSource::Path(write(dir, "in.parquet", b)).load(Split::Train, &SourceOptions::default())),
        // Pages may be compressed (1,100:1) and values dictionary- or run-length-encoded.
        budget: |n| 16 * INFLATE * n + 64 * MIB,
    },
    Target {
        name: "npz",
        about: "a NumPy .npz archive (X, y): DataSource::Path(…).load",
        run: |dir, b| drop(DataSource::Path(write(dir, "in.npz", b)).load(Split::Train, &SourceOptions::default())),
        // Members inflate 1,100:1, then become f64 and f32 values.
        budget: |n| 16 * INFLATE * n + 16 * MIB,
    },
    Target {
        name: "npy",
        about: "a NumPy .npy array: DataSource::Path(…).load",
        run: |dir, b| drop(DataSource::Path(write(dir, "in.npy", b)).load(Split::Train, &SourceOptions::default())),
        budget: |n| 16 * n + 16 * MIB,
    },
    Target {
        name: "config",
        about: "a model directory's config.json, beside real weights: apps::check_model",
        run: |dir, b| model_dir(dir, b, DENSE_WEIGHTS),
        budget: |n| 64 * n + 16 * MIB,
    },
    Target {
        name: "checkpoint",
        about: "a model directory's model.safetensors, beside a real config.json: apps::check_model",
        run: |dir, b| model_dir(dir, DENSE_CONFIG, b),
        budget: |n| 8 * n + 16 * MIB,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

const DENSE_CONFIG: &[u8] = include_bytes!("../tests/fixtures/format-v0/dense/config.json");
const DENSE_WEIGHTS: &[u8] = include_bytes!("../tests/fixtures/format-v0/dense/model.safetensors");

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("scratch folder is writable");
    path
}

fn model_dir(dir: &Path, config: &[u8], weights: &[u8]) {
    write(dir, "config.json", config);
    write(dir, "model.safetensors", weights);
    let _ = autoencoders::apps::check_model(dir);
}

/// Seeds for `target`: small files made here in every format, and real files of the data
/// folder (`AUTOENCODERS_DATA`) and of this repository when they are found.
pub fn seeds(target: &str, data: Option<&Path>) -> Vec<Vec<u8>> {
    let real = |rel: &str| data.and_then(|d| std::fs::read(d.join(rel)).ok());
    let repo = |rel: &str| std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).ok();
    let head = |bytes: Option<Vec<u8>>, lines: usize| {
        bytes.map(|b| b.split_inclusive(|&c| c == b'\n').take(lines).flatten().copied().collect::<Vec<u8>>())
    };
    let mut out: Vec<Option<Vec<u8>>> = match target {
        "idx" => vec![
            Some(idx_bytes(&[3, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])),
            Some(gzip(&idx_bytes(&[4], &[7, 0, 9, 1]))),
            real("mnist/t10k-labels-idx1-ubyte.gz"),
        ],
        "image" => vec![
            Some(encode(
                image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(5, 4, |x, y| {
                    image::Luma([(x * 40 + y) as u8])
                })),
                image::ImageOutputFormat::Png,
            )),
            Some(encode(
                image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(6, 3, |x, y| {
                    image::Rgb([x as u8 * 30, y as u8 * 60, 90])
                })),
                image::ImageOutputFormat::Jpeg(80),
            )),
            Some(encode(
                image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(3, 3, |x, y| {
                    image::Rgb([x as u8, y as u8, 7])
                })),
                image::ImageOutputFormat::Bmp,
            )),
            Some(b"P5\n3 2\n15\n\x00\x01\x02\x03\x04\x0f".to_vec()),
            Some(b"P3\n2 1\n255\n1 2 3 4 5 6\n".to_vec()),
            real("orl-faces/s1/1.pgm"),
        ],
        "csv" => vec![
            Some(b"a,b,label\n1.5,2,x\n3,-4e2,y\n".to_vec()),
            Some(b"1;2\n3;4\n".to_vec()),
            head(repo("datasets/digits/digits.csv"), 12),
        ],
        "ucr" => vec![Some(b"1\t0.5\t-0.25\n2\t1e-3\t4\n".to_vec()), head(real("ecg5000/ECG5000_TEST.tsv"), 3)],
        "parquet" => vec![Some(parquet_bytes())],
        "npz" => vec![Some(npz_bytes()), real("adbench/42_WBC.npz"), real("adbench/29_Pima.npz")],
        "npy" => vec![Some(npy_bytes("<f4", &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]))],
        "config" => vec![Some(DENSE_CONFIG.to_vec()), repo("tests/fixtures/pytorch-dense/config.json")],
        "checkpoint" => vec![Some(DENSE_WEIGHTS.to_vec())],
        _ => Vec::new(),
    };
    out.retain(Option::is_some);
    out.into_iter().flatten().collect()
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    dims.iter().for_each(|d| b.extend_from_slice(&d.to_be_bytes()));
    b.extend_from_slice(data);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes).expect("in memory");
    z.finish().expect("in memory")
}

fn encode(img: image::DynamicImage, format: image::ImageOutputFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("in memory");
    out.into_inner()
}

fn parquet_bytes() -> Vec<u8> {
    use polars::prelude::*;
    let mut df = df!(
        "a" => [1.5f64, 2.0, -3.25],
        "b" => [1i64, 2, 3],
        "label" => ["x", "y", "x"],
    )
    .expect("a small frame");
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut df).expect("in memory");
    out
}

/// An `.npz` of `X` (3 × 2, deflated) and `y` (3, stored), as `numpy.savez_compressed` and
/// ADBench write them.
fn npz_bytes() -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("X.npy", deflated).expect("in memory");
    zip.write_all(&npy_bytes("<f4", &[3, 2], &[0.5, 1.0, -2.0, 3.0, 4.5, 0.0])).expect("in memory");
    zip.start_file("y.npy", zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored))
        .expect("in memory");
    zip.write_all(&npy_bytes("<f4", &[3], &[0.0, 1.0, 0.0])).expect("in memory");
    zip.finish().expect("in memory").into_inner()
}

/// A version-1 `.npy` file of little-endian f32 values (the header padded to 64 bytes).
fn npy_bytes(dtype: &str, shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!("{{'descr': '{dtype}', 'fortran_order': False, 'shape': ({},), }}", dims.join(", "));
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    values.iter().for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
    b
}
