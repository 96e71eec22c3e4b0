//! Times training epochs of a dense or convolutional autoencoder on MNIST (or the LSTM on
//! ECG5000), for the side-by-side benchmarks with PyTorch (`scripts/bench_epoch.sh`). Prints
//! one JSON line per epoch: the model, seconds, ms per step, samples/s and the test loss.
//!
//! `cargo run --release --example epoch -- [--model dense|conv|lstm] [--variant plain|vae] [--hidden 256] [--code 64] [--batch 256] [--epochs 1]`
//!
//! With `--variant vae` the test loss is the negative ELBO in nats per sample (one z per sample).

use std::time::Instant;

use autoencoders::data::{prepare, Prepared};
use autoencoders::models::ModelVisitor;
use autoencoders::prelude::*;
use autoencoders::train::evaluate_loss;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

fn main() -> anyhow::Result<()> {
    let hidden: Vec<usize> =
        arg("--hidden", "256").split(',').filter(|s| !s.is_empty()).map(|s| s.parse()).collect::<Result<_, _>>()?;
    let code: usize = arg("--code", "64").parse()?;
    let batch: usize = arg("--batch", "256").parse()?;
    let epochs: usize = arg("--epochs", "1").parse()?;
    let model = arg("--model", "dense");
    // The LSTM model reads ECG5000 (500 training beats, 140 steps); the others MNIST.
    let data = prepare(if model == "lstm" { &DatasetId::Ecg5000 } else { &DatasetId::Mnist }, None)?;
    let cfg = match model.as_str() {
        "dense" => ModelConfig::Dense(DenseConfig::shallow(784, code).with_hidden(&hidden)),
        "conv" => ModelConfig::Conv(autoencoders::models::conv::ConvConfig::new(code)),
        "lstm" => ModelConfig::Lstm(autoencoders::models::lstm::LstmConfig::new(140, code)),
        other => anyhow::bail!("--model {other}: expected dense, conv or lstm"),
    };
    let variant = autoencoders::models::Variant::from_name(&arg("--variant", "plain"))?;
    let dev = Dev::seed_from_u64(0);
    let describe = variant.describe(&cfg);
    Ok(variant.build(&cfg, &dev, Epochs { data: &data, batch, epochs, describe })?)
}

/// Times `epochs` epochs of whichever model type the config builds.
struct Epochs<'a> {
    data: &'a Prepared,
    batch: usize,
    epochs: usize,
    describe: String,
}

impl ModelVisitor for Epochs<'_> {
    type Output = ();
    fn visit<M: Autoencoder>(self, mut m: M) -> autoencoders::Result<()> {
        let Epochs { data, batch, epochs, describe } = self;
        let train_cfg =
            TrainConfig { epochs: 1, batch_size: batch, val_split: 0.0, patience: None, ..Default::default() };
        let empty = data.train.take(0);
        for e in 0..epochs {
            let start = Instant::now();
            let cfg_e = TrainConfig { seed: e as u64, ..train_cfg.clone() };
            fit(&mut m, &data.train, &empty, &cfg_e)?;
            let secs = start.elapsed().as_secs_f64();
            let (test, _, _) = evaluate_loss(&m, &data.test, 1000)?;
            println!(
                "{{\"impl\": \"autoencoders\", \"model\": \"{describe}\", \"epoch\": {}, \"seconds\": {secs:.4}, \"ms_per_step\": {:.3}, \"samples_per_s\": {:.0}, \"test_loss\": {test:.5}}}",
                e + 1,
                secs * 1e3 / data.train.len().div_ceil(batch) as f64,
                data.train.len() as f64 / secs
            );
        }
        Ok(())
    }
}
