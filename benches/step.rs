//! One training step (forward, backward, Adam) and one inference batch of each model family,
//! on fixed random data: medians over rounds, in ms. Inference runs the frozen model
//! (`Autoencoder::inference`) where the family has one, else the tape path without a tape. The workloads of the performance issue:
//! the dense 784→256→64→256→784 and 784→128→64→32 autoencoders (batch 256), the convolutional
//! one (batch 64) and the LSTM one on 140-step series (batch 32).
//!
//!     cargo bench --bench step [-- ROUNDS] [FILTER]
//!
//! FILTER keeps the workloads whose name contains it (`dense`, `conv`, `lstm`, `reg:`).
//!
//! The regularised steps of the dense 784→256→64 model (`reg:` rows: denoising's corruption of
//! the batch, the L1 and KL sparsity penalties, the contractive penalty by Hutchinson's
//! estimator, and the exact one on the one-layer 784→64 model) print their extra cost against
//! the plain step of the same model.

use std::time::Instant;

use autoencoders::dfdx::prelude::Shape;
use rand::{rngs::StdRng, SeedableRng};

use autoencoders::models::conv::{ConvAutoencoder, ConvConfig};
use autoencoders::models::dense::{Bench256, Dense0, KerasDeep};
use autoencoders::models::lstm::{LstmAutoencoder, LstmConfig};
use autoencoders::prelude::*;
use autoencoders::train::{Corruption, InputNoise, PlainStep, RegularizedStep, StepBatch, TrainStep};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// What a workload trains with: the step, and a corruption of the input (denoising).
struct Objective<S> {
    step: S,
    noise: Option<InputNoise>,
}

fn plain() -> Objective<PlainStep> {
    Objective { step: PlainStep::new(AdamConfig::default()), noise: None }
}

fn regularized(sparsity: Option<&str>, contractive: Option<&str>) -> Objective<RegularizedStep> {
    let cfg = TrainConfig {
        sparsity: sparsity.map(|s| s.parse().unwrap()),
        contractive: contractive.map(|s| s.parse().unwrap()),
        ..Default::default()
    };
    Objective { step: RegularizedStep::new(&cfg), noise: None }
}

/// Times `rounds` plain training steps and inference batches of `model` on a batch of `n` samples.
fn bench<M: Autoencoder>(name: &str, model: &mut M, n: usize, rounds: usize) {
    let filter = std::env::args().skip(1).find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'));
    if filter.is_some_and(|f| !name.contains(&f)) {
        return;
    }
    let dev = Dev::seed_from_u64(1);
    let len = model.input_shape(n).num_elements();
    // Values in [0, 1]: valid targets for BCE and MSE alike.
    let data: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let mut step = PlainStep::new(AdamConfig::default());
    model.refresh_ids();
    // Inference runs the frozen model where the family has one (`Autoencoder::inference`, what
    // `encode_all` and `reconstruct_all` use), frozen once as PyTorch's weights are in place;
    // `AUTOENCODERS_INFERENCE=tape` times the tape path instead.
    let tape = std::env::var("AUTOENCODERS_INFERENCE").is_ok_and(|v| v == "tape");
    let mut frozen = if tape { None } else { model.inference() };
    let (mut train, mut infer) = (Vec::new(), Vec::new());
    for r in 0..rounds + 2 {
        let x = dev.tensor_from_vec(data.clone(), model.input_shape(n));
        let t = Instant::now();
        step.train_batch(model, StepBatch { input: x.clone(), target: x.clone() }, 1e-3).unwrap();
        let step = t.elapsed().as_secs_f64();
        let t = Instant::now();
        match frozen.as_mut() {
            Some(f) => {
                // A fresh output each time, as PyTorch's `m(x)` allocates one.
                let mut y = Vec::with_capacity(len);
                f.reconstruct_into(&data, n, &mut y);
                std::hint::black_box(&y);
            }
            None => {
                let y = model.reconstruct(x);
                std::hint::black_box(&y); // as PyTorch's `m(x)`: no copy out
            }
        }
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

/// A workload's training step, timed: each call runs one step and returns its seconds.
type Timed = Box<dyn FnMut() -> f64>;

/// `model` trained by `obj` on a fixed batch of `n` samples, one timed step per call.
fn timed_step<M: Autoencoder + 'static, S: TrainStep<M> + 'static>(
    mut model: M,
    mut obj: Objective<S>,
    n: usize,
) -> Timed {
    let dev = Dev::seed_from_u64(1);
    let len = model.input_shape(n).num_elements();
    let data: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let mut rng = StdRng::seed_from_u64(2);
    model.refresh_ids();
    Box::new(move || {
        let x = dev.tensor_from_vec(data.clone(), model.input_shape(n));
        let t = Instant::now();
        // The corruption is part of a denoising step's cost (the trainer draws it per batch).
        let input = match &obj.noise {
            Some(noise) => {
                let mut noisy = data.clone();
                noise.corrupt(&mut noisy, len / n, &mut rng);
                dev.tensor_from_vec(noisy, model.input_shape(n))
            }
            None => x.clone(),
        };
        obj.step.train_batch(&mut model, StepBatch { input, target: x }, 1e-3).unwrap();
        t.elapsed().as_secs_f64()
    })
}

/// The dense models' regularised steps against their plain ones. The workloads take turns
/// within every round (this machine's speed drifts by ±20 % over seconds, so blocks timed one
/// after another compared badly); the extra cost is the median over rounds of each round's
/// ratio to the plain step of the same round.
fn regularisers(rounds: usize) {
    let filter = std::env::args().skip(1).find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'));
    if filter.is_some_and(|f| !"reg: dense".contains(&f)) {
        return;
    }
    let dev = Dev::seed_from_u64(0);
    let cfg = DenseConfig::shallow(784, 64).with_hidden(&[256]);
    let sig = DenseConfig { code_activation: Activation::Sigmoid, ..cfg.clone() };
    let two = || Bench256::new(&dev, &cfg).unwrap();
    let one = || Dense0::new(&dev, &DenseConfig::shallow(784, 64)).unwrap();
    let mut noise = InputNoise::new("gaussian:0.5".parse().unwrap());
    noise.range = Some([0.0, 1.0]);
    // Groups: the plain step first, then its regularised variants.
    let mut groups: Vec<Vec<(&str, Timed)>> = vec![
        vec![
            ("reg: dense 784→256→64 plain (reference)", timed_step(two(), plain(), 256)),
            ("reg:   + denoising (gaussian:0.5)", timed_step(two(), Objective { noise: Some(noise), ..plain() }, 256)),
            ("reg:   + sparsity l1:1e-5", timed_step(two(), regularized(Some("l1:1e-5"), None), 256)),
            (
                "reg:   + sparsity kl:0.05:3 (sigmoid code)",
                timed_step(Bench256::new(&dev, &sig).unwrap(), regularized(Some("kl:0.05:3"), None), 256),
            ),
            (
                "reg:   + contractive 1e-4:hutchinson",
                timed_step(two(), regularized(None, Some("1e-4:hutchinson")), 256),
            ),
        ],
        vec![
            ("reg: dense 784→64 plain (reference)", timed_step(one(), plain(), 256)),
            ("reg:   + contractive 1e-4:exact", timed_step(one(), regularized(None, Some("1e-4:exact")), 256)),
            (
                "reg:   + contractive 1e-4:hutchinson",
                timed_step(one(), regularized(None, Some("1e-4:hutchinson")), 256),
            ),
        ],
    ];
    let mut times: Vec<Vec<Vec<f64>>> = groups.iter().map(|g| vec![Vec::new(); g.len()]).collect();
    for r in 0..rounds + 2 {
        for (g, group) in groups.iter_mut().enumerate() {
            for (w, (_, step)) in group.iter_mut().enumerate() {
                let s = step();
                if r >= 2 {
                    times[g][w].push(s);
                }
            }
        }
    }
    for (group, t) in groups.iter().zip(&times) {
        for (w, (name, _)) in group.iter().enumerate() {
            let ratios: Vec<f64> = t[w].iter().zip(&t[0]).map(|(a, b)| a / b).collect();
            let extra =
                if w == 0 { String::new() } else { format!("   {:+5.1} % over plain", (median(ratios) - 1.0) * 100.0) };
            println!("{name:44} batch 256: train step {:8.2} ms{extra}", median(t[w].clone()) * 1e3);
        }
    }
}

fn main() {
    autoencoders::nn::tune_allocator();
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    // On a thread of the pool, where `fit` runs its loop (see `nn::on_pool`).
    autoencoders::nn::on_pool(|| benches(rounds));
}

fn benches(rounds: usize) {
    let dev = Dev::seed_from_u64(0);
    let mut dense = Bench256::new(&dev, &DenseConfig::shallow(784, 64).with_hidden(&[256])).unwrap();
    bench("dense 784→256→64→256→784", &mut dense, 256, rounds);
    let mut deep = KerasDeep::new(&dev, &DenseConfig::shallow(784, 32).with_hidden(&[128, 64])).unwrap();
    bench("dense 784→128→64→32→64→128→784", &mut deep, 256, rounds);
    let mut conv = ConvAutoencoder::new(&dev, &ConvConfig::new(64)).unwrap();
    bench("conv 1→16→32 (3×3, stride 2), code 64", &mut conv, 64, rounds);
    let mut lstm = LstmAutoencoder::new(&dev, &LstmConfig::new(140, 8)).unwrap();
    bench("lstm 64 units, 140 steps, code 8", &mut lstm, 32, rounds.min(10));
    regularisers(rounds);
}
