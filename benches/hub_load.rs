//! Download → load → first reconstruction of a 784 → 32 → 784 model (`KerasShallow`) from a
//! hub on 127.0.0.1 (the tests' server, which speaks the hub's URL layout), timed with an
//! empty cache (download) and with the files cached. Prints each round and the medians.
//!
//!     cargo bench --bench hub_load [-- ROUNDS]

#[path = "../tests/common/hub_server.rs"]
#[allow(dead_code)] // the tests read more of it than the benchmark
mod hub_server;

use std::time::Instant;

use autoencoders::data::DataConfig;
use autoencoders::data::{Dataset, DatasetId, Normalizer};
use autoencoders::hub::Hub;
use autoencoders::model_dir::RunConfig;
use autoencoders::models::dense::{DenseConfig, KerasShallow};
use autoencoders::models::ModelConfig;
use autoencoders::nn::Dev;
use autoencoders::pretrained::Pretrained;
use autoencoders::train::checkpoint::save_weights;
use autoencoders::train::{reconstruct_all, TrainConfig};

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(11);
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("acme/mnist-ae");
    std::fs::create_dir_all(&repo).unwrap();
    let dense = DenseConfig::shallow(784, 32);
    let cfg = RunConfig {
        model: ModelConfig::Dense(dense.clone()),
        data: DataConfig {
            normalizer: Some(Normalizer::MinMax { min: 0.0, max: 255.0 }),
            ..DataConfig::new(DatasetId::Mnist)
        },
        train: TrainConfig::default(),
        command: "benches/hub.rs".into(),
        threshold: None,
        format_version: autoencoders::model_dir::FORMAT_VERSION,
        variant: Default::default(),
    };
    cfg.save(&repo).unwrap();
    save_weights(&KerasShallow::new(&Dev::default(), &dense).unwrap(), &repo.join("model.safetensors")).unwrap();
    let image = Dataset::new("one image", vec![0.5; 784], vec![1, 28, 28], None, vec![]).unwrap();
    let server = hub_server::HubServer::start(root.path());

    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let cache = tempfile::tempdir().unwrap();
        let hub = Hub { endpoint: server.endpoint.clone(), cache: cache.path().into(), offline: false };
        for (times, label) in [(&mut cold, "download"), (&mut warm, "cached")] {
            let t = Instant::now();
            let model = KerasShallow::from_pretrained_with("acme/mnist-ae", None, &hub).unwrap();
            let recon = reconstruct_all(&model, &image, 1);
            let s = t.elapsed().as_secs_f64();
            assert_eq!(recon.len(), 784);
            println!("round {r:2} {label:8} {:7.2} ms", s * 1e3);
            times.push(s);
        }
    }
    for (label, mut v) in [("download (empty cache)", cold), ("cached", warm)] {
        v.sort_by(f64::total_cmp);
        println!("median {label}: {:.2} ms over {rounds} rounds", v[v.len() / 2] * 1e3);
    }
}
