//! The README's library example: train the compile-time shaped deep autoencoder on MNIST for a
//! few epochs and evaluate it. Prints a progress bar per epoch, the per-epoch table (train and
//! validation loss, seconds) and the test BCE. Built (not run) by `cargo test`, so the README
//! stays compilable.
//!
//! `AUTOENCODERS_DATA=../shared/datasets cargo run --example quickstart`

use autoencoders::models::dense::KerasDeep; // 784→128→64→32→64→128→784, shapes checked by the compiler
use autoencoders::prelude::*;

fn main() -> anyhow::Result<()> {
    let data = autoencoders::data::prepare(&DatasetId::Mnist, None)?; // min-max scaled to [0, 1]
    let dev = Dev::seed_from_u64(0);
    let mut model = KerasDeep::new(&dev, &DenseConfig::shallow(784, 32).with_hidden(&[128, 64]))?;
    let cfg = TrainConfig { epochs: 5, batch_size: 32, ..Default::default() };
    let (train, val) = data.train.split(0.1, 0)?;
    let history = Trainer::new(&cfg).progress(Progress::Bar).fit(&mut model, &train, &val)?;
    let metrics = Metrics::compute(&model, &data.test)?;
    println!("{}", history.to_dataframe());
    println!("test BCE {:.4}", metrics.test_bce.unwrap_or(f64::NAN));
    Ok(())
}
