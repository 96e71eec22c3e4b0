//! The hub client against a real HTTP server on 127.0.0.1 serving the hub's URL layout
//! (`common::hub_server`): downloads, the cache, offline mode and each failure.

mod common;

use std::path::Path;

use autoencoders::apps;
use autoencoders::hub::Hub;
use autoencoders::model_dir::RunConfig;
use autoencoders::prelude::*;
use autoencoders::pretrained::{ModelSource, Pretrained};
use common::hub_server::HubServer;

/// A small trained model directory published as `root/owner/name/`.
fn publish(root: &Path, repo: &str) -> std::path::PathBuf {
    let dir = root.join(repo);
    let mut cfg: RunConfig = apps::demo_config();
    cfg.train.epochs = 3;
    apps::train(&cfg, &dir, false, Progress::Quiet).unwrap();
    dir
}

fn hub(endpoint: &str, cache: &Path, offline: bool) -> Hub {
    Hub { endpoint: endpoint.into(), cache: cache.into(), offline }
}

#[test]
fn a_model_downloads_loads_and_is_then_served_from_the_cache() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = publish(root.path(), "acme/digits-ae");
    let mut server = HubServer::start(root.path());
    let source = ModelSource::parse("acme/digits-ae", None).unwrap();

    let dir = source.local_dir(&hub(&server.endpoint, cache.path(), false)).unwrap();
    let (want, got) = (apps::encode(&local, Split::Test).unwrap(), apps::encode(&dir, Split::Test).unwrap());
    assert!(want.equals(&got), "codes from the downloaded model differ from the original's");
    let served = server.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert!(served >= 2, "expected downloads, the server saw {served} requests");

    server.stop();
    let again = source.local_dir(&hub(&server.endpoint, cache.path(), false)).unwrap();
    assert_eq!(again, dir, "second call must come from the cache");
    let offline = source.local_dir(&hub("http://127.0.0.1:9", cache.path(), true)).unwrap();
    assert_eq!(offline, dir);
}

#[test]
fn offline_without_a_cached_copy_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let e = ModelSource::parse("acme/absent", None).unwrap().local_dir(&hub("http://127.0.0.1:9", cache.path(), true));
    let msg = e.unwrap_err().to_string();
    assert!(msg.contains("not in the cache") && msg.contains("HF_HUB_OFFLINE"), "{msg}");
}

#[test]
fn a_missing_repository_and_an_unreachable_hub_are_clear_errors() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut server = HubServer::start(root.path());
    let source = ModelSource::parse("acme/nothing-here", None).unwrap();
    let msg = source.local_dir(&hub(&server.endpoint, cache.path(), false)).unwrap_err().to_string();
    assert!(msg.contains("acme/nothing-here") && msg.contains("not found"), "{msg}");
    server.stop();
    let msg = source.local_dir(&hub(&server.endpoint, cache.path(), false)).unwrap_err().to_string();
    assert!(msg.contains("cannot reach") && msg.contains("HF_HUB_OFFLINE"), "{msg}");
}

#[test]
fn a_local_directory_wins_and_bad_ids_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path().to_str().unwrap();
    assert_eq!(ModelSource::parse(s, None).unwrap(), ModelSource::Dir(d.path().into()));
    assert!(ModelSource::parse("not a repo", None).is_err());
    assert!(ModelSource::parse("a/b/c", None).is_err());
}

use autoencoders::models::dense::Dense1;

#[test]
fn from_pretrained_gives_the_same_model_as_the_directory() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = publish(root.path(), "acme/ae");
    let server = HubServer::start(root.path());
    let h = hub(&server.endpoint, cache.path(), false);
    let (a, b) = (
        Dense1::from_pretrained_with("acme/ae", None, &h).unwrap(),
        Dense1::from_pretrained(local.to_str().unwrap()).unwrap(),
    );
    let (x, y) =
        (autoencoders::train::checkpoint::named_tensors(&a), autoencoders::train::checkpoint::named_tensors(&b));
    assert_eq!(x, y);
}

#[test]
fn large_files_come_through_the_cdn_redirect_and_a_renamed_repository_redirects() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = publish(root.path(), "acme/ae");
    std::fs::create_dir_all(root.path().join("acme/old-name")).unwrap();
    std::fs::write(root.path().join("acme/old-name/.moved-to"), "acme/ae").unwrap();
    let server = HubServer::start(root.path());
    let h = hub(&server.endpoint, cache.path(), false);
    // model.safetensors is answered with a 302 to /lfs/… (see the server); the old name with a
    // relative 307 to the new one.
    let m = Dense1::from_pretrained_with("acme/old-name", None, &h).unwrap();
    let want = Dense1::from_pretrained(local.to_str().unwrap()).unwrap();
    let (x, y) =
        (autoencoders::train::checkpoint::named_tensors(&m), autoencoders::train::checkpoint::named_tensors(&want));
    assert_eq!(x, y);
}

#[test]
fn a_truncated_download_is_a_clear_error_and_the_next_call_downloads_again() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = publish(root.path(), "acme/ae");
    let weights = dir.join("model.safetensors");
    let good = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &good[..good.len() / 2]).unwrap();
    let server = HubServer::start(root.path());
    let h = hub(&server.endpoint, cache.path(), false);
    let msg = Dense1::from_pretrained_with("acme/ae", None, &h).unwrap_err().to_string();
    assert!(msg.contains("model.safetensors"), "{msg}");
    std::fs::write(&weights, &good).unwrap();
    Dense1::from_pretrained_with("acme/ae", None, &h).expect("the bad copy must not stay in the cache");
}

#[test]
fn an_unknown_model_kind_and_a_shape_mismatch_are_refused() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dir = publish(root.path(), "acme/ae");
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let server = HubServer::start(root.path());

    std::fs::write(dir.join("config.json"), config.replacen("\"dense\"", "\"transformer\"", 1)).unwrap();
    let h = hub(&server.endpoint, cache.path(), false);
    let msg = Dense1::from_pretrained_with("acme/ae", None, &h).unwrap_err().to_string();
    assert!(msg.contains("config.json") && msg.contains("transformer"), "{msg}");

    // The demo's code has 2 units; a config claiming 8 does not match the weights.
    std::fs::write(dir.join("config.json"), config.replacen("\"code\": 2", "\"code\": 8", 1)).unwrap();
    let msg = Dense1::from_pretrained_with("acme/ae", None, &h).unwrap_err().to_string();
    assert!(msg.contains("shape") && msg.contains("encoder.1.weight"), "{msg}");
}

/// The binary with the hub pointed at `endpoint` and `cache`, through the standard variables
/// (set on the child process only).
fn cli(endpoint: &str, cache: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_autoencoders"));
    c.env("HF_ENDPOINT", endpoint).env("HF_HOME", cache).env_remove("HF_HUB_OFFLINE").env_remove("AUTOENCODERS_DATA");
    c.current_dir(cache);
    c
}

fn output(c: &mut std::process::Command) -> (bool, String, String) {
    let o = c.output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into(), String::from_utf8_lossy(&o.stderr).into())
}

#[test]
fn cli_pull_and_eval_accept_a_hub_id_and_report_a_missing_one() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = publish(root.path(), "acme/ae");
    let server = HubServer::start(root.path());

    let (ok, path, err) = output(cli(&server.endpoint, cache.path()).args(["pull", "acme/ae"]));
    assert!(ok, "{err}");
    assert!(Path::new(path.trim()).join("model.safetensors").is_file(), "{path}");
    assert!(err.contains("dense 64→32→2→32→64"), "{err}");

    let (ok, json, err) = output(cli(&server.endpoint, cache.path()).args(["eval", "acme/ae"]));
    assert!(ok, "{err}");
    let hub_metrics: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Through text and the same parser on both sides: serde_json's default float parsing can
    // land one ulp off the printed value, so a value never printed would not compare equal.
    let want: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&apps::test_metrics(&local).unwrap()).unwrap()).unwrap();
    assert_eq!(hub_metrics, want);
    assert!(!Path::new(path.trim()).join("metrics.json").exists(), "eval must not write into the cache");

    let (ok, _, err) = output(cli(&server.endpoint, cache.path()).args(["pull", "acme/missing"]));
    assert!(!ok && err.contains("acme/missing") && err.contains("not found"), "{err}");
}

#[test]
fn a_vae_on_the_hub_pulls_evaluates_and_samples_like_its_directory() {
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = root.path().join("acme/vae");
    let mut cfg = apps::demo_config().with_variant(autoencoders::models::Variant::Vae(Default::default()));
    cfg.train.epochs = 3;
    apps::train(&cfg, &local, false, Progress::Quiet).unwrap();
    let server = HubServer::start(root.path());
    let (ok, path, err) = output(cli(&server.endpoint, cache.path()).args(["pull", "acme/vae"]));
    assert!(ok && err.contains("vae (β 1, Bernoulli decoder)"), "{err}");
    let png = cache.path().join("samples.png");
    let (ok, _, err) =
        output(cli(&server.endpoint, cache.path()).args(["sample", "acme/vae", "--n", "9", "--output"]).arg(&png));
    assert!(ok && png.is_file(), "{err}");
    // The same samples as from the directory it was published from.
    let dir = Path::new(path.trim());
    assert_eq!(apps::generate::sample(dir, 9, 0).unwrap(), apps::generate::sample(&local, 9, 0).unwrap());
}

#[test]
fn an_adaptive_model_on_the_hub_loads_at_the_width_it_reached() {
    use autoencoders::data::{DataConfig, StreamOrder};
    use autoencoders::models::{AdaptiveConfig, ModelConfig, Variant};
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = root.path().join("acme/adaptive");
    let dense = DenseConfig { code_activation: Activation::Sigmoid, ..DenseConfig::shallow(64, 12) };
    let train = TrainConfig {
        epochs: 2,
        batch_size: 16,
        stream_order: Some(StreamOrder::ClassIncremental { classes_per_phase: 2, overlap: 0.2 }),
        ..Default::default()
    };
    let variant = Variant::Adaptive(AdaptiveConfig { pool: 12, first_add: 4, ..Default::default() });
    let cfg =
        RunConfig::new(ModelConfig::Dense(dense), DataConfig::new(DatasetId::Digits), train).with_variant(variant);
    apps::train(&cfg, &local, false, Progress::Quiet).unwrap();
    let server = HubServer::start(root.path());
    let dir = ModelSource::parse("acme/adaptive", None).unwrap().local_dir(&hub(&server.endpoint, cache.path(), false));
    let dir = dir.unwrap();
    let (want, got) = (apps::encode(&local, Split::Test).unwrap(), apps::encode(&dir, Split::Test).unwrap());
    assert!(want.equals(&got), "codes from the downloaded model differ from the original's");
    // More code columns than the 12 it started with (and config.json still says 12).
    assert!(got.width() > 12 + 2, "{:?}", got.get_column_names());
}

// ---- Datasets: MNIST-style parquet as `ylecun/mnist` and `zalando-datasets/fashion_mnist` publish it.

use std::io::Cursor;

use autoencoders::polars::prelude::*;

/// Writes the first `n` images of a real split as the hub publishes them: column `image` =
/// struct {`bytes`: PNG file, `path`: null}, column `label` = int64. Returns those images as
/// the IDX loader reads them.
fn hub_parquet(id: &DatasetId, data: &Path, split: Split, n: usize, out: &Path) -> Dataset {
    let set = id.load_from(data, split).unwrap().take(n);
    let pngs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let px: Vec<u8> = set.sample(i).iter().map(|&v| v as u8).collect();
            let mut buf = Vec::new();
            let img = image::GrayImage::from_raw(28, 28, px).unwrap();
            img.write_to(&mut Cursor::new(&mut buf), image::ImageOutputFormat::Png).unwrap();
            buf
        })
        .collect();
    let bytes = Series::new("bytes".into(), pngs.iter().map(Vec::as_slice).collect::<Vec<&[u8]>>());
    let path = Series::full_null("path".into(), n, &DataType::String);
    let image = StructChunked::from_series("image".into(), n, [bytes, path].iter()).unwrap().into_series();
    let labels: Vec<i64> = set.labels.as_ref().unwrap().iter().map(|&l| l as i64).collect();
    let mut df = DataFrame::new(n, vec![image.into(), Series::new("label".into(), labels).into()]).unwrap();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    ParquetWriter::new(std::fs::File::create(out).unwrap()).finish(&mut df).unwrap();
    set
}

/// `root/datasets/{repo}/{folder}/{split}-00000-of-00001.parquet`, where the server serves it.
fn hub_file(root: &Path, id: &DatasetId, split: Split) -> std::path::PathBuf {
    let (repo, folder) = id.hub_source().unwrap();
    let part = if split == Split::Train { "train" } else { "test" };
    root.join("datasets").join(repo).join(folder).join(format!("{part}-00000-of-00001.parquet"))
}

#[test]
fn mnist_and_fashion_mnist_download_as_parquet_and_match_the_idx_files() {
    let data = require_data!();
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut want = Vec::new();
    for id in [DatasetId::Mnist, DatasetId::FashionMnist] {
        for (split, n) in [(Split::Train, 300), (Split::Test, 100)] {
            want.push((id.clone(), split, hub_parquet(&id, &data, split, n, &hub_file(root.path(), &id, split))));
        }
    }
    let mut server = HubServer::start(root.path());
    let h = hub(&server.endpoint, cache.path(), false);
    for (id, split, want) in &want {
        let got = id.load_from_hub(&h, *split).unwrap();
        assert_eq!(&got, want, "{id} {split:?}: pixels, labels, shape and class names as from IDX");
    }
    server.stop();
    let offline = hub("http://127.0.0.1:9", cache.path(), true);
    for (id, split, want) in &want {
        assert_eq!(&id.load_from_hub(&offline, *split).unwrap(), want, "{id} {split:?} from the cache");
    }
}

#[test]
fn a_corrupt_dataset_download_is_a_clear_error_and_is_fetched_again() {
    let data = require_data!();
    let (root, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = hub_file(root.path(), &DatasetId::Mnist, Split::Test);
    let want = hub_parquet(&DatasetId::Mnist, &data, Split::Test, 50, &file);
    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, &good[..good.len() - 100]).unwrap();
    let server = HubServer::start(root.path());
    let h = hub(&server.endpoint, cache.path(), false);
    let msg = DatasetId::Mnist.load_from_hub(&h, Split::Test).unwrap_err().to_string();
    assert!(msg.contains("ylecun/mnist") && msg.contains("test-00000-of-00001.parquet"), "{msg}");
    assert!(msg.contains("parquet") && msg.contains("removed from the cache"), "{msg}");
    std::fs::write(&file, &good).unwrap();
    assert_eq!(DatasetId::Mnist.load_from_hub(&h, Split::Test).unwrap(), want);
}

#[test]
fn a_parquet_file_in_another_layout_names_the_column_or_row_at_fault() {
    use autoencoders::data::hub_parquet::read_image_parquet;
    let dir = tempfile::tempdir().unwrap();
    let classes: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let write = |name: &str, mut df: DataFrame| {
        let p = dir.path().join(name);
        ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
        p
    };
    let png = {
        let mut buf = Vec::new();
        image::GrayImage::new(28, 28).write_to(&mut Cursor::new(&mut buf), image::ImageOutputFormat::Png).unwrap();
        buf
    };
    let image = |rows: Vec<&[u8]>| {
        let n = rows.len();
        let bytes = Series::new("bytes".into(), rows);
        let path = Series::full_null("path".into(), n, &DataType::String);
        StructChunked::from_series("image".into(), n, [bytes, path].iter()).unwrap().into_series().into()
    };
    let label = |v: Vec<i64>| Series::new("label".into(), v).into();

    let p = write(
        "no-image.parquet",
        DataFrame::new(1, vec![label(vec![1]), Series::new("img".into(), [1i64]).into()]).unwrap(),
    );
    let msg = read_image_parquet(&p, "t", classes.clone()).unwrap_err().to_string();
    assert!(msg.contains("no-image.parquet") && msg.contains("no column `image`") && msg.contains("img"), "{msg}");

    let p =
        write("bad-png.parquet", DataFrame::new(2, vec![image(vec![&png, b"not a png"]), label(vec![1, 2])]).unwrap());
    let msg = read_image_parquet(&p, "t", classes.clone()).unwrap_err().to_string();
    assert!(msg.contains("row 1") && msg.contains("not a readable image"), "{msg}");

    let p = write("bad-label.parquet", DataFrame::new(2, vec![image(vec![&png, &png]), label(vec![1, 12])]).unwrap());
    let msg = read_image_parquet(&p, "t", classes.clone()).unwrap_err().to_string();
    assert!(msg.contains("row 1") && msg.contains("label 12 is out of range"), "{msg}");

    let p = write("ok.parquet", DataFrame::new(2, vec![image(vec![&png, &png]), label(vec![1, 2])]).unwrap());
    let d = read_image_parquet(&p, "t", classes).unwrap();
    assert_eq!((d.len(), d.shape.clone(), d.labels.clone()), (2, vec![1, 28, 28], Some(vec![1, 2])));
}

#[test]
fn cli_train_on_mnist_falls_back_to_the_hub_when_there_is_no_local_copy() {
    let data = require_data!();
    let (root, cache, empty) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (split, n) in [(Split::Train, 300), (Split::Test, 100)] {
        hub_parquet(&DatasetId::Mnist, &data, split, n, &hub_file(root.path(), &DatasetId::Mnist, split));
    }
    let server = HubServer::start(root.path());
    let out = cache.path().join("model");
    let (ok, _, err) = output(
        cli(&server.endpoint, cache.path())
            .env("AUTOENCODERS_DATA", empty.path())
            .args(["train", "--dataset", "mnist", "--code", "8", "--epochs", "1", "--quiet", "--out"])
            .arg(&out),
    );
    assert!(ok, "{err}");
    assert!(err.contains("trying the Hugging Face hub (ylecun/mnist)") && err.contains("downloaded"), "{err}");
    let (ok, json, err) =
        output(cli(&server.endpoint, cache.path()).env("AUTOENCODERS_DATA", empty.path()).arg("eval").arg(&out));
    assert!(ok, "{err}");
    assert!(json.contains("\"n_test\": 100"), "evaluated on the hub's 100 test images: {json}");

    // No local copy, no hub: the error names both places and the fixes.
    let (ok, _, err) = output(
        cli("http://127.0.0.1:9", cache.path())
            .env("HF_HOME", empty.path())
            .env("AUTOENCODERS_DATA", empty.path())
            .args(["train", "--dataset", "fashion-mnist", "--out"])
            .arg(&out),
    );
    assert!(!ok && err.contains("images-idx3-ubyte") && err.contains("cannot reach"), "{err}");
}
