//! One training step (forward, backward, Adam) and one inference batch of each model family,
//! on fixed random data: medians over rounds, in ms. The workloads of the performance issue:
//! the dense 784→256→64→256→784 and 784→128→64→32 autoencoders (batch 256), the convolutional
//! one (batch 64) and the LSTM one on 140-step series (batch 32).
//!
//!     cargo bench --bench step [-- ROUNDS] [FILTER]
//!
//! FILTER keeps the workloads whose name contains it (`dense`, `conv`, `lstm`).

use std::time::Instant;

use autoencoders::dfdx::prelude::{Backward, Shape, Trace};

use autoencoders::models::conv::{ConvAutoencoder, ConvConfig};
use autoencoders::models::dense::{Bench256, KerasDeep};
use autoencoders::models::lstm::{LstmAutoencoder, LstmConfig};
use autoencoders::prelude::*;
use autoencoders::train::Adam;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `rounds` training steps and inference batches of `model` on a batch of `n` samples.
fn bench<M: Autoencoder>(name: &str, model: &mut M, n: usize, rounds: usize) {
    let filter = std::env::args().skip(1).find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'));
    if filter.is_some_and(|f| !name.contains(&f)) {
        return;
    }
    let dev = Dev::seed_from_u64(1);
    let len = model.input_shape(n).num_elements();
    // Values in [0, 1]: valid targets for BCE and MSE alike.
    let data: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let mut adam = Adam::new(AdamConfig::default());
    model.refresh_ids();
    let (mut train, mut infer) = (Vec::new(), Vec::new());
    for r in 0..rounds + 2 {
        let x = dev.tensor_from_vec(data.clone(), model.input_shape(n));
        let t = Instant::now();
        let parts = model.loss(x.clone().traced(model.alloc_grads()), x.clone());
        let mut grads = parts.total.backward();
        adam.update(model, &mut grads);
        let step = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let y = model.reconstruct(x);
        std::hint::black_box(&y); // as PyTorch's `m(x)`: no copy out
        let fwd = t.elapsed().as_secs_f64();
        if r >= 2 {
            // the first two rounds warm caches and allocators
            train.push(step);
            infer.push(fwd);
        }
    }
    println!(
        "{name:44} batch {n:3}: train step {:8.2} ms   inference {:7.2} ms",
        median(train) * 1e3,
        median(infer) * 1e3
    );
}

fn main() {
    autoencoders::nn::tune_allocator();
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let dev = Dev::seed_from_u64(0);
    let mut dense = Bench256::new(&dev, &DenseConfig::shallow(784, 64).with_hidden(&[256])).unwrap();
    bench("dense 784→256→64→256→784", &mut dense, 256, rounds);
    let mut deep = KerasDeep::new(&dev, &DenseConfig::shallow(784, 32).with_hidden(&[128, 64])).unwrap();
    bench("dense 784→128→64→32→64→128→784", &mut deep, 256, rounds);
    let mut conv = ConvAutoencoder::new(&dev, &ConvConfig::new(64)).unwrap();
    bench("conv 1→16→32 (3×3, stride 2), code 64", &mut conv, 64, rounds);
    let mut lstm = LstmAutoencoder::new(&dev, &LstmConfig::new(140, 8)).unwrap();
    bench("lstm 64 units, 140 steps, code 8", &mut lstm, 32, rounds.min(10));
}
