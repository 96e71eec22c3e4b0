//! How close each layer runs to this CPU's peak: the measured FMA peak of the instruction set the
//! matrix multiply uses (AVX-512 where the CPU has it, else AVX2; one core, all cores),
//! a 1024³ product, and forward + backward of every hot layer of the benchmark models, in
//! GFLOP/s and % of the all-core peak. Medians over rounds.
//!
//!     cargo bench --bench flops [-- ROUNDS]
//!
//! FLOPs counted: 2 per multiply-add of the layer's products (forward, weight gradient, input
//! gradient); element-wise work is not counted but its time is, so a layer's figure is what
//! the model gets. Each pass ends in a fused MSE (one cheap pass) to backpropagate from.

use std::time::Instant;

use autoencoders::dfdx::prelude::*;
use autoencoders::models::{recon_loss, ReconLoss};
use autoencoders::nn::kernels::{gemm, Mat};
use autoencoders::nn::{Activation, Conv2d, ConvTranspose2d, Dense, Image, Lstm, Params, Sequence};
use autoencoders::prelude::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `f` over `rounds` runs after two warm-up runs.
fn time(rounds: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    median(
        (0..rounds)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// GFLOP/s of one core running 12 independent FMA chains (the most it can issue), 16 wide
/// where the CPU has AVX-512 (what the matrix multiply then runs), else 8 wide; and the name
/// of that instruction set.
#[cfg(target_arch = "x86_64")]
fn core_peak() -> (f64, &'static str) {
    use std::arch::x86_64::*;
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run8(iters: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(1.0000001), _mm256_set1_ps(0.9999999));
        let mut acc = [_mm256_setzero_ps(); 12];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), acc.iter().fold(_mm256_setzero_ps(), |s, &x| _mm256_add_ps(s, x)));
        out.iter().sum()
    }
    #[target_feature(enable = "avx512f")]
    unsafe fn run16(iters: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(1.0000001), _mm512_set1_ps(0.9999999));
        let mut acc = [_mm512_setzero_ps(); 12];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        _mm512_reduce_add_ps(acc.iter().fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x)))
    }
    let iters = 50_000_000;
    let t = Instant::now();
    let (width, isa) = if is_x86_feature_detected!("avx512f") {
        std::hint::black_box(unsafe { run16(iters) });
        (16, "AVX-512")
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        std::hint::black_box(unsafe { run8(iters) });
        (8, "AVX2+FMA")
    } else {
        return (f64::NAN, "no FMA");
    };
    ((iters * 12 * 2 * width) as f64 / t.elapsed().as_secs_f64() / 1e9, isa)
}

#[cfg(not(target_arch = "x86_64"))]
fn core_peak() -> (f64, &'static str) {
    (f64::NAN, "not x86-64")
}

struct Report {
    peak: f64,
}

impl Report {
    fn line(&self, name: &str, flops: f64, secs: f64) {
        let gf = flops / secs / 1e9;
        println!("{name:58} {:8.3} ms {:7.1} GFLOP/s {:5.1} % of peak", secs * 1e3, gf, 100.0 * gf / self.peak);
    }
}

/// A scalar to backpropagate from: our fused MSE against zeros, one cheap pass (dfdx's `sum`
/// walks indices and would cost more than a wide layer's products).
fn seed<S: Shape, T: Tape<f32, Dev>>(y: Tensor<S, f32, Dev, T>) -> Tensor<Rank0, f32, Dev, T> {
    let zeros = y.device().zeros_like(y.shape());
    recon_loss(y, zeros, Activation::Identity, ReconLoss::Mse)
}

fn data(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect()
}

/// Forward + backward of a dense layer on a batch of `b`.
fn dense(r: &Report, rounds: usize, dev: &Dev, b: usize, i: usize, o: usize) {
    let layer: Dense<usize, usize> = Dense::new(dev, i, o);
    let x = dev.tensor_from_vec(data(b * i), (b, i));
    let secs = time(rounds, || {
        let y = layer.forward_act(x.clone().traced(layer.alloc_grads()), Activation::Relu);
        std::hint::black_box(seed(y).backward());
    });
    r.line(&format!("dense {i}→{o} + relu, batch {b} (fwd + bwd)"), 3.0 * 2.0 * (b * i * o) as f64, secs);
}

fn main() {
    autoencoders::nn::tune_allocator();
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let threads = rayon::current_num_threads();
    let (core, isa) = core_peak();
    let r = Report { peak: core * threads as f64 };
    println!("{isa} FMA peak: {core:.1} GFLOP/s per core, {:.1} on {threads} threads (the 100 % below)", r.peak);

    let n = 1024;
    let (a, b) = (data(n * n), data(n * n));
    let mut c = vec![0.0; n * n];
    let secs = time(rounds.min(10), || gemm(n, n, n, &mut c, false, Mat::rows(&a, n), Mat::rows(&b, n)));
    r.line("gemm 1024³", 2.0 * (n * n * n) as f64, secs);

    // The products alone, on the shapes of the 784→256 layer at batch 256 (what the kernel
    // can do there, before the layer's own element-wise work and copies).
    let (bt, i, o) = (256, 784, 256);
    let (x, w, gz) = (data(bt * i), data(o * i), data(bt * o));
    let (mut y, mut dw, mut dx) = (vec![0.0; bt * o], vec![0.0; o * i], vec![0.0; bt * i]);
    let products = [
        ("gemm x·Wᵀ (256×784 · 784×256), forward", bt, o, i),
        ("gemm gzᵀ·x (256×256 · 256×784), weight gradient", o, i, bt),
        ("gemm gz·W (256×256 · 256×784), input gradient", bt, i, o),
    ];
    for (k, &(name, m, n, kk)) in products.iter().enumerate() {
        let secs = time(rounds, || match k {
            0 => gemm(m, n, kk, &mut y, false, Mat::rows(&x, i), Mat::t(&w, i)),
            1 => gemm(m, n, kk, &mut dw, false, Mat::t(&gz, o), Mat::rows(&x, i)),
            _ => gemm(m, n, kk, &mut dx, false, Mat::rows(&gz, o), Mat::rows(&w, i)),
        });
        r.line(name, 2.0 * (m * n * kk) as f64, secs);
    }

    let dev = Dev::seed_from_u64(0);
    for (i, o) in [(784, 256), (256, 64), (64, 256), (256, 784)] {
        dense(&r, rounds, &dev, 256, i, o);
    }

    // The convolutional autoencoder's layers on a batch of 64 (28 → 14 → 7 → 14 → 28).
    let b = 64;
    let conv1 = Conv2d::<1, 16, 3, 2, 1>::new(&dev);
    let x = dev.tensor_from_vec(data(b * 784), (b, Const::<1>, Const::<28>, Const::<28>));
    let secs = time(rounds, || {
        let y: Tensor<Image<16, 14, 14>, f32, Dev, _> = conv1.forward(x.clone().traced(conv1.alloc_grads()));
        std::hint::black_box(seed(y).backward());
    });
    r.line("conv 1→16, 3×3 s2, 28→14 (fwd + bwd)", 3.0 * 2.0 * (b * 196 * 16 * 9) as f64, secs);

    let conv2 = Conv2d::<16, 32, 3, 2, 1>::new(&dev);
    let x = dev.tensor_from_vec(data(b * 16 * 196), (b, Const::<16>, Const::<14>, Const::<14>));
    let secs = time(rounds, || {
        let y: Tensor<Image<32, 7, 7>, f32, Dev, _> = conv2.forward(x.clone().traced(conv2.alloc_grads()));
        std::hint::black_box(seed(y).backward());
    });
    r.line("conv 16→32, 3×3 s2, 14→7 (fwd + bwd)", 3.0 * 2.0 * (b * 49 * 32 * 144) as f64, secs);

    let deconv1 = ConvTranspose2d::<32, 16, 3, 2, 1, 1>::new(&dev);
    let x = dev.tensor_from_vec(data(b * 32 * 49), (b, Const::<32>, Const::<7>, Const::<7>));
    let secs = time(rounds, || {
        let y: Tensor<Image<16, 14, 14>, f32, Dev, _> = deconv1.forward(x.clone().traced(deconv1.alloc_grads()));
        std::hint::black_box(seed(y).backward());
    });
    r.line("conv-transpose 32→16, 3×3 s2, 7→14 (fwd + bwd)", 3.0 * 2.0 * (b * 49 * 32 * 144) as f64, secs);

    let deconv2 = ConvTranspose2d::<16, 1, 3, 2, 1, 1>::new(&dev);
    let x = dev.tensor_from_vec(data(b * 16 * 196), (b, Const::<16>, Const::<14>, Const::<14>));
    let secs = time(rounds, || {
        let y: Tensor<Image<1, 28, 28>, f32, Dev, _> = deconv2.forward(x.clone().traced(deconv2.alloc_grads()));
        std::hint::black_box(seed(y).backward());
    });
    r.line("conv-transpose 16→1, 3×3 s2, 14→28 (fwd + bwd)", 3.0 * 2.0 * (b * 196 * 16 * 9) as f64, secs);

    // The LSTM autoencoder's two LSTMs on 140-step series, batch 32: 4 gates × 64 units.
    let (b, t) = (32, 140);
    let enc = Lstm::<1, 64>::new(&dev);
    let x: Tensor<Sequence<1>, f32, Dev> = dev.tensor_from_vec(data(b * t), (b, t, Const::<1>));
    let secs = time(rounds.min(10), || {
        let y = enc.forward(x.clone().traced(enc.alloc_grads()));
        std::hint::black_box(seed(y).backward());
    });
    r.line("lstm 1→64, 140 steps, batch 32 (fwd + bwd)", 3.0 * 2.0 * (b * t * 256 * 65) as f64, secs);
    let dec = Lstm::<8, 64>::new(&dev);
    let x: Tensor<Sequence<8>, f32, Dev> = dev.tensor_from_vec(data(b * t * 8), (b, t, Const::<8>));
    let secs = time(rounds.min(10), || {
        let y = dec.forward(x.clone().traced(dec.alloc_grads()));
        std::hint::black_box(seed(y).backward());
    });
    r.line("lstm 8→64, 140 steps, batch 32 (fwd + bwd)", 3.0 * 2.0 * (b * t * 256 * 72) as f64, secs);
}
