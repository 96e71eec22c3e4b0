//! Our matrix multiply (`nn/sgemm.rs`, behind `nn::kernels::gemm`) against the two crates that
//! do the job — `gemm` 0.15 (what dfdx builds) and `matrixmultiply` 0.3 (what nalgebra builds)
//! — on the products the models compute: dense 784×256 and 256×64, the convolutions' im2col
//! products, and the LSTM's gate products, forward (`y = x·Wᵀ`), weight gradient
//! (`dW = dyᵀ·x`) and input gradient (`dx = dy·W`), at batch 64 and 256.
//!
//!     cargo bench --bench gemm [-- ROUNDS]
//!
//! GFLOP/s (2 per multiply-add), medians over ROUNDS (default 15) of runs of at least 2 ms,
//! the three implementations alternating within each round. One thread (a one-thread rayon
//! pool for ours, `Parallelism::None` for `gemm`; `matrixmultiply` is single-threaded as
//! built here), then every core (ours and `gemm` with rayon).

use std::time::Instant;

use autoencoders::nn::kernels::{self, Mat};

/// An operand of `rows × cols`: stored row-major, or as the transpose of a row-major matrix.
#[derive(Clone, Copy)]
struct Operand {
    transposed: bool,
}

impl Operand {
    const ROWS: Self = Self { transposed: false };
    const T: Self = Self { transposed: true };
    /// (row stride, column stride) of a `rows × cols` view.
    fn strides(self, rows: usize, cols: usize) -> (usize, usize) {
        if self.transposed {
            (1, rows)
        } else {
            (cols, 1)
        }
    }
}

/// One product `(m × k) · (k × n)`.
struct Product {
    name: String,
    m: usize,
    k: usize,
    n: usize,
    a: Operand,
    b: Operand,
}

impl Product {
    /// The (row, column) strides of `a` and of `b`.
    fn strides(&self) -> ((usize, usize), (usize, usize)) {
        (self.a.strides(self.m, self.k), self.b.strides(self.k, self.n))
    }
}

/// Forward, weight gradient and input gradient of a layer mapping `inp` → `out` features on
/// `rows` rows (samples, or samples × positions for convolutions and sequences).
fn layer(name: &str, rows: usize, inp: usize, out: usize) -> Vec<Product> {
    use Operand as O;
    vec![
        Product { name: format!("{name} fwd"), m: rows, k: inp, n: out, a: O::ROWS, b: O::T },
        Product { name: format!("{name} dW"), m: out, k: rows, n: inp, a: O::T, b: O::ROWS },
        Product { name: format!("{name} dx"), m: rows, k: out, n: inp, a: O::ROWS, b: O::ROWS },
    ]
}

fn products() -> Vec<Product> {
    let mut v = Vec::new();
    for batch in [64, 256] {
        v.extend(layer(&format!("dense 784→256, b{batch}"), batch, 784, 256));
        v.extend(layer(&format!("dense 256→64, b{batch}"), batch, 256, 64));
        // im2col: one row per output position, 3×3×C_in columns.
        v.extend(layer(&format!("conv 1→16 (28→14), b{batch}"), batch * 196, 9, 16));
        v.extend(layer(&format!("conv 16→32 (14→7), b{batch}"), batch * 49, 144, 32));
        // LSTM: gates of one step from the state (64 → 4·64), and of all 140 steps from the
        // decoder's inputs at once.
        v.extend(layer(&format!("lstm step 64→256, b{batch}"), batch, 64, 256));
        v.extend(layer(&format!("lstm 140 steps 64→256, b{batch}"), batch * 140, 64, 256));
    }
    v
}

type Kernel = fn(&Product, &[f32], &[f32], &mut [f32]);

fn ours(p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    let ((ars, acs), (brs, bcs)) = p.strides();
    kernels::gemm(p.m, p.n, p.k, c, false, Mat { data: a, rs: ars, cs: acs }, Mat { data: b, rs: brs, cs: bcs });
}

fn gemm_crate(p: &Product, a: &[f32], b: &[f32], c: &mut [f32], parallelism: gemm::Parallelism) {
    let ((ars, acs), (brs, bcs)) = p.strides();
    // SAFETY: the strides describe matrices inside `a`, `b` and `c` (sized in `measure`).
    unsafe {
        gemm::gemm(
            p.m,
            p.n,
            p.k,
            c.as_mut_ptr(),
            1,
            p.n as isize,
            false,
            a.as_ptr(),
            acs as isize,
            ars as isize,
            b.as_ptr(),
            bcs as isize,
            brs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

fn gemm_one(p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    gemm_crate(p, a, b, c, gemm::Parallelism::None)
}

fn gemm_all(p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    gemm_crate(p, a, b, c, gemm::Parallelism::Rayon(0))
}

fn matrixmultiply(p: &Product, a: &[f32], b: &[f32], c: &mut [f32]) {
    let ((ars, acs), (brs, bcs)) = p.strides();
    // SAFETY: as in `gemm_crate`.
    unsafe {
        matrixmultiply::sgemm(
            p.m,
            p.k,
            p.n,
            1.0,
            a.as_ptr(),
            ars as isize,
            acs as isize,
            b.as_ptr(),
            brs as isize,
            bcs as isize,
            0.0,
            c.as_mut_ptr(),
            p.n as isize,
            1,
        )
    }
}

/// Median GFLOP/s of each kernel on `p`, alternating kernels within each round.
fn measure(p: &Product, kernels: &[Kernel], rounds: usize) -> Vec<f64> {
    let a: Vec<f32> = (0..p.m * p.k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let b: Vec<f32> = (0..p.k * p.n).map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5).collect();
    let mut c = vec![0.0f32; p.m * p.n];
    let flops = 2.0 * (p.m * p.k * p.n) as f64;
    // Enough repetitions for ≥ 2 ms, from one timed call of the first kernel.
    kernels[0](p, &a, &b, &mut c);
    let t = Instant::now();
    kernels[0](p, &a, &b, &mut c);
    let reps = ((2e-3 / t.elapsed().as_secs_f64().max(1e-9)).ceil() as usize).clamp(1, 10_000);
    let mut samples = vec![Vec::new(); kernels.len()];
    let mut want: Option<Vec<f32>> = None;
    for _ in 0..rounds {
        for (i, k) in kernels.iter().enumerate() {
            k(p, &a, &b, &mut c);
            let t = Instant::now();
            for _ in 0..reps {
                k(p, &a, &b, &mut c);
            }
            samples[i].push(flops * reps as f64 / t.elapsed().as_secs_f64() / 1e9);
            // Every kernel must compute the same product.
            match &want {
                None => want = Some(c.clone()),
                Some(w) => {
                    let worst = w.iter().zip(&c).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
                    assert!(worst < 1e-3 * (p.k as f32).sqrt(), "{}: kernel {i} differs by {worst}", p.name);
                }
            }
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(15);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let avx512 = std::is_x86_feature_detected!("avx512f");
    println!("{cpu}, avx512f: {avx512}, {} rayon threads, {rounds} rounds", rayon::current_num_threads());
    println!();
    println!(
        "| product | m×k×n | ours 1T | gemm 1T | mm 1T | ours/best other 1T | ours all | gemm all | ours/gemm all |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool");
    for p in products() {
        let single = one.install(|| measure(&p, &[ours, gemm_one, matrixmultiply], rounds));
        let all = measure(&p, &[ours, gemm_all], rounds);
        let best_other = single[1].max(single[2]);
        println!(
            "| {} | {}×{}×{} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} |",
            p.name,
            p.m,
            p.k,
            p.n,
            single[0],
            single[1],
            single[2],
            single[0] / best_other,
            all[0],
            all[1],
            all[0] / all[1]
        );
    }
}
