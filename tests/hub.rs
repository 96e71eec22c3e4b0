//! The hub client against a real HTTP server on 127.0.0.1 serving the hub's URL layout
//! (`common::hub_server`): downloads, the cache, offline mode and each failure.

mod common;

use std::path::Path;

use autoencoders::hub::{Hub, ModelSource};
use autoencoders::prelude::*;
use autoencoders::run::{self, RunConfig};
use common::hub_server::HubServer;

/// A small trained model directory published as `root/owner/name/`.
fn publish(root: &Path, repo: &str) -> std::path::PathBuf {
    let dir = root.join(repo);
    let mut cfg: RunConfig = run::demo_config();
    cfg.train.epochs = 3;
    run::train(&cfg, &dir, false, Progress::Quiet).unwrap();
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
    let (want, got) = (run::encode(&local, Split::Test).unwrap(), run::encode(&dir, Split::Test).unwrap());
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
    let want = serde_json::to_value(run::test_metrics(&local).unwrap()).unwrap();
    assert_eq!(hub_metrics, want);
    assert!(!Path::new(path.trim()).join("metrics.json").exists(), "eval must not write into the cache");

    let (ok, _, err) = output(cli(&server.endpoint, cache.path()).args(["pull", "acme/missing"]));
    assert!(!ok && err.contains("acme/missing") && err.contains("not found"), "{err}");
}
