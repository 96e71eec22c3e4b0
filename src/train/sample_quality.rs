//! How good generated samples are, by the two measures generative-model papers report: the
//! Parzen-window log-likelihood of test data under a kernel density of the samples (Goodfellow
//! et al. 2014; Makhzani et al. 2015 — it rewards memorising and is reported for comparison, not
//! as a target: Theis et al. 2016), and the Fréchet distance between the Gaussians fitted to
//! two sets of features (Heusel et al. 2017's FID, here in the features of a classifier of the
//! same data).

use dfdx::prelude::*;
use nalgebra::{DMatrix, SymmetricEigen};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::nn::kernels::{self, Mat};
use crate::nn::Dev;

/// Rows of `data` per block of the distance computation: a block's distances to 10,000
/// samples are 20 MB.
const BLOCK: usize = 512;

/// Squared distances of each row of `data` to each row of `samples` (`d` values per row),
/// block by block of `data`, handed to `each(first_row, distances)` with
/// `distances[r * n_samples + j]`. Computed as `‖x‖² + ‖s‖² − 2 x·s` with a matrix product.
fn for_distance_blocks(samples: &[f32], data: &[f32], d: usize, mut each: impl FnMut(usize, &[f32])) {
    let dev = Dev::default();
    let n = samples.len() / d;
    let norms = |v: &[f32]| v.par_chunks(d).map(|r| r.iter().map(|x| x * x).sum::<f32>()).collect::<Vec<f32>>();
    let s_norm = norms(samples);
    let st: Tensor<(usize, usize), f32, Dev> =
        dev.tensor_from_vec(samples.to_vec(), (n, d)).permute::<_, Axes2<1, 0>>();
    for (b, block) in data.chunks(BLOCK * d).enumerate() {
        let rows = block.len() / d;
        let x = dev.tensor_from_vec(block.to_vec(), (rows, d));
        let mut dist = x.matmul(st.clone()).as_vec();
        let x_norm = norms(block);
        dist.par_chunks_mut(n).zip(&x_norm).for_each(|(row, &xn)| {
            for (v, &sn) in row.iter_mut().zip(&s_norm) {
                *v = (xn + sn - 2.0 * *v).max(0.0);
            }
        });
        each(b * BLOCK, &dist);
    }
}

/// `log p(x)` of each row of `data` under the Parzen window (an isotropic Gaussian kernel of
/// width `sigma` on each sample): `log mean_j exp(−‖x − s_j‖² / 2σ²) − (d/2)·ln(2πσ²)`, for
/// every `sigma` in `sigmas` (one pass over the distances). Returns `[sigma][row]`.
pub fn parzen_log_likelihoods(samples: &[f32], data: &[f32], d: usize, sigmas: &[f64]) -> Vec<Vec<f64>> {
    let n = samples.len() / d;
    let mut out = vec![Vec::with_capacity(data.len() / d); sigmas.len()];
    for_distance_blocks(samples, data, d, |_, dist| {
        for (k, &sigma) in sigmas.iter().enumerate() {
            let norm = 0.5 * d as f64 * (2.0 * std::f64::consts::PI * sigma * sigma).ln();
            let inv = 1.0 / (2.0 * sigma * sigma);
            let rows: Vec<f64> = dist
                .par_chunks(n)
                .map(|row| {
                    let min = row.iter().copied().fold(f32::INFINITY, f32::min) as f64;
                    let sum: f64 = row.iter().map(|&q| (-(q as f64 - min) * inv).exp()).sum();
                    -min * inv + (sum / n as f64).ln() - norm
                })
                .collect();
            out[k].extend(rows);
        }
    });
    out
}

/// The Parzen-window estimate of a sample set, as the GAN and AAE papers report it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParzenEstimate {
    /// The mean log-likelihood of the test rows, in nats.
    pub log_likelihood: f64,
    /// Its standard error over the test rows.
    pub stderr: f64,
    /// The kernel width, the best of the candidates on the validation rows.
    pub sigma: f64,
}

/// The candidate kernel widths: 0.05 to 1 on a log scale (the papers' grid for pixels in [0, 1]).
pub fn parzen_sigmas() -> Vec<f64> {
    (0..=20).map(|i| 0.05 * 20f64.powf(i as f64 / 20.0)).collect()
}

/// Chooses σ among [`parzen_sigmas`] by the mean log-likelihood of `val`, then reports it on `test`.
pub fn parzen_estimate(samples: &[f32], val: &[f32], test: &[f32], d: usize) -> ParzenEstimate {
    let sigmas = parzen_sigmas();
    let on_val = parzen_log_likelihoods(samples, val, d, &sigmas);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let best = (0..sigmas.len()).max_by(|&a, &b| mean(&on_val[a]).total_cmp(&mean(&on_val[b]))).expect("candidates");
    let sigma = sigmas[best];
    let ll = parzen_log_likelihoods(samples, test, d, &[sigma]).remove(0);
    let m = mean(&ll);
    let var = ll.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (ll.len().max(2) - 1) as f64;
    ParzenEstimate { log_likelihood: m, stderr: (var / ll.len().max(1) as f64).sqrt(), sigma }
}

/// The quality of a model's samples, as `eval --sample-quality` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleQuality {
    /// Samples generated.
    pub samples: usize,
    /// Where their codes came from: `prior` (a generative model), or `fitted gaussian` — a
    /// plain autoencoder's codes have no prior, so a Gaussian with the mean and per-unit
    /// variance of its training codes stands in (the most favourable simple choice).
    pub codes_from: CodesFrom,
    /// The Parzen-window log-likelihood of the test split under the samples.
    pub parzen: ParzenEstimate,
    /// The Fréchet distance between the samples' and the test images' classifier features.
    pub frechet: f64,
    /// The same distance between training and test images: what a perfect generator scores.
    pub frechet_floor: f64,
    /// The classifier's test accuracy (its features are only as good as it is).
    pub classifier_accuracy: f64,
}

/// Where [`SampleQuality`]'s codes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodesFrom {
    /// The model's prior.
    Prior,
    /// A diagonal Gaussian fitted to the training split's codes.
    FittedGaussian,
}

/// A two-sample test of whether two sets of points come from one distribution: the biased
/// squared maximum mean discrepancy with a Gaussian kernel (Gretton et al. 2012).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MmdTest {
    /// `MMD² = mean k(x, x') + mean k(y, y') − 2 mean k(x, y)` over all pairs (the biased form).
    pub mmd2: f64,
    /// The kernel's width h in `k(a, b) = exp(−‖a − b‖² / 2h²)`: the median distance between
    /// points of the pooled sample (the median heuristic).
    pub bandwidth: f64,
    /// The fraction of random relabellings of the pooled points whose MMD² is at least as large
    /// (with the observed one counted: `(1 + #) / (1 + permutations)`).
    pub p_value: f64,
    /// Relabellings drawn.
    pub permutations: usize,
}

/// [`MmdTest`] of `x` against `y` (rows of `dim` values), with `permutations` relabellings
/// drawn from `seed`.
pub fn mmd_test(x: &[f32], y: &[f32], dim: usize, permutations: usize, seed: u64) -> MmdTest {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let (n, m) = (x.len() / dim, y.len() / dim);
    let pooled: Vec<f32> = x.iter().chain(y).copied().collect();
    let total = n + m;
    let sq = |i: usize, j: usize| -> f32 {
        let (a, b) = (&pooled[i * dim..(i + 1) * dim], &pooled[j * dim..(j + 1) * dim]);
        a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum()
    };
    // The median heuristic on the pairs among (up to) the first 1,000 pooled points of each side.
    let probe: Vec<usize> = (0..n.min(500)).chain(n..n + m.min(500)).collect();
    let mut dists: Vec<f32> = Vec::new();
    for (a, &i) in probe.iter().enumerate() {
        for &j in &probe[a + 1..] {
            dists.push(sq(i, j).sqrt());
        }
    }
    dists.sort_by(f32::total_cmp);
    let h = dists.get(dists.len() / 2).copied().unwrap_or(1.0).max(1e-12) as f64;
    let inv = (1.0 / (2.0 * h * h)) as f32;
    let kernel: Vec<f32> = (0..total)
        .into_par_iter()
        .flat_map_iter(|i| (0..total).map(move |j| (-sq(i, j) * inv).exp()).collect::<Vec<f32>>())
        .collect();
    let row_sums: Vec<f64> = kernel.par_chunks(total).map(|r| r.iter().map(|&v| v as f64).sum()).collect();
    let all: f64 = row_sums.iter().sum();
    // MMD² of a labelling (`on_x(i)`: point i on the x side) from r = K s, s its 0/1 vector:
    // Σ_xx = Σ s r, Σ_xy = Σ (1 − s) r, Σ_yy = all − 2 Σ s R + Σ_xx (R the full row sums).
    let (nf, mf) = (n as f64, m as f64);
    let mmd = |on_x: &dyn Fn(usize) -> bool, r: &dyn Fn(usize) -> f64| -> f64 {
        let (mut xx, mut xy, mut s_r) = (0.0, 0.0, 0.0);
        for (i, row_sum) in row_sums.iter().enumerate() {
            if on_x(i) {
                xx += r(i);
                s_r += row_sum;
            } else {
                xy += r(i);
            }
        }
        let yy = all - 2.0 * s_r + xx;
        xx / (nf * nf) + yy / (mf * mf) - 2.0 * xy / (nf * mf)
    };
    // The reported MMD², summed in f64.
    let r_x: Vec<f64> = kernel.par_chunks(total).map(|row| row[..n].iter().map(|&v| v as f64).sum()).collect();
    let observed = mmd(&|i| i < n, &|i| r_x[i]);
    // The test: every labelling at once, column 0 the observed one and then each relabelling,
    // as the 0/1 columns of S, so that R = K S is one matrix product, and each relabelling is
    // compared with the observed labelling's value from the same product. (Filtering K's rows
    // through a bool mask per relabelling, in f64, was 64 % of a VAE's `eval`: 2.8 of 4.3 s.)
    let cols = permutations + 1;
    let mut labels: Vec<bool> = (0..total).map(|i| i < n).collect();
    let mut s = vec![0.0f32; total * cols];
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for c in 0..cols {
        if c > 0 {
            labels.shuffle(&mut rng);
        }
        for (i, _) in labels.iter().enumerate().filter(|(_, &x)| x) {
            s[i * cols + c] = 1.0;
        }
    }
    let mut r = vec![0.0f32; total * cols];
    kernels::gemm(total, cols, total, &mut r, false, Mat::rows(&kernel, total), Mat::rows(&s, cols));
    let of_column = |c: usize| mmd(&|i| s[i * cols + c] == 1.0, &|i| r[i * cols + c] as f64);
    let base = of_column(0);
    let exceed = (1..cols).filter(|&c| of_column(c) >= base).count();
    MmdTest { mmd2: observed, bandwidth: h, p_value: (1 + exceed) as f64 / (1 + permutations) as f64, permutations }
}

/// The mean and covariance of `f`-wide feature rows, in f64.
fn moments(features: &[f32], f: usize) -> (Vec<f64>, DMatrix<f64>) {
    let n = (features.len() / f).max(2) as f64;
    let mut mean = vec![0.0; f];
    for row in features.chunks(f) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let centred: Vec<f64> =
        features.chunks(f).flat_map(|row| row.iter().zip(&mean).map(|(&v, m)| v as f64 - m)).collect();
    let x = DMatrix::from_row_slice(features.len() / f, f, &centred);
    (mean, x.transpose() * &x / (n - 1.0))
}

/// The Fréchet distance between Gaussians fitted to two sets of `f`-wide feature rows:
/// `‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½)` (the symmetric form of `tr (Σ₁Σ₂)^½`, so
/// both square roots are of symmetric positive semi-definite matrices).
pub fn frechet_distance(a: &[f32], b: &[f32], f: usize) -> f64 {
    let ((ma, ca), (mb, cb)) = (moments(a, f), moments(b, f));
    let sqrt_psd = |m: DMatrix<f64>| {
        let e = SymmetricEigen::new(m);
        let root = e.eigenvalues.map(|l| l.max(0.0).sqrt());
        &e.eigenvectors * DMatrix::from_diagonal(&root) * e.eigenvectors.transpose()
    };
    let ra = sqrt_psd(ca.clone());
    let inner = &ra * &cb * &ra;
    let cross: f64 =
        SymmetricEigen::new((&inner + inner.transpose()) * 0.5).eigenvalues.iter().map(|l| l.max(0.0).sqrt()).sum();
    let mean_sq: f64 = ma.iter().zip(&mb).map(|(x, y)| (x - y).powi(2)).sum();
    mean_sq + ca.trace() + cb.trace() - 2.0 * cross
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use rand_distr::{Distribution, StandardNormal};

    fn normal(n: usize, f: usize, scale: f32, shift: f32, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n * f)
            .map(|_| {
                let v: f32 = StandardNormal.sample(&mut rng);
                shift + scale * v
            })
            .collect()
    }

    #[test]
    fn mmd_tells_different_distributions_apart_and_not_equal_ones() {
        let (a, b) = (normal(300, 2, 1.0, 0.0, 7), normal(300, 2, 1.0, 0.0, 8));
        let same = mmd_test(&a, &b, 2, 100, 1);
        assert!(same.p_value > 0.05, "{same:?}");
        let shifted = normal(300, 2, 1.0, 0.7, 9);
        let diff = mmd_test(&a, &shifted, 2, 100, 1);
        assert!(diff.p_value < 0.02 && diff.mmd2 > 5.0 * same.mmd2, "{diff:?} vs {same:?}");
        // The biased MMD² from its definition, pair by pair.
        let (x, y) = (&a[..20], &shifted[..30]);
        let t = mmd_test(x, y, 2, 0, 1);
        let k = |p: &[f32], q: &[f32]| {
            (-((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)) as f64 / (2.0 * t.bandwidth * t.bandwidth)).exp()
        };
        let mean = |u: &[f32], v: &[f32]| {
            u.chunks(2).flat_map(|p| v.chunks(2).map(move |q| k(p, q))).sum::<f64>()
                / ((u.len() / 2) * (v.len() / 2)) as f64
        };
        let want = mean(x, x) + mean(y, y) - 2.0 * mean(x, y);
        assert!((t.mmd2 - want).abs() < 1e-5, "{} vs {want}", t.mmd2);
    }

    #[test]
    fn mmd_p_value_matches_relabelling_one_by_one() {
        use rand::seq::SliceRandom;
        // Overlapping samples, so that the p-value lies inside (0, 1) and counts something.
        let (x, y) = (normal(40, 3, 1.0, 0.0, 4), normal(50, 3, 1.0, 0.3, 5));
        let t = mmd_test(&x, &y, 3, 300, 11);
        let pooled: Vec<&[f32]> = x.chunks(3).chain(y.chunks(3)).collect();
        let k = |p: &[f32], q: &[f32]| {
            let d: f32 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
            (-(d as f64) / (2.0 * t.bandwidth * t.bandwidth)).exp()
        };
        // The biased MMD² of a labelling straight from its definition.
        let direct = |on_x: &[bool]| {
            let side = |want: bool| pooled.iter().zip(on_x).filter(move |(_, &s)| s == want).map(|(p, _)| *p);
            let mean = |a: bool, b: bool| {
                let pairs = side(a).flat_map(|p| side(b).map(move |q| (p, q)));
                let (sum, count) = pairs.fold((0.0, 0.0), |(s, c), (p, q)| (s + k(p, q), c + 1.0));
                sum / count
            };
            mean(true, true) + mean(false, false) - 2.0 * mean(true, false)
        };
        let mut labels: Vec<bool> = (0..90).map(|i| i < 40).collect();
        let observed = direct(&labels);
        assert!((t.mmd2 - observed).abs() < 1e-9, "{} vs {observed}", t.mmd2);
        let mut rng = StdRng::seed_from_u64(11);
        let exceed = (0..300)
            .filter(|_| {
                labels.shuffle(&mut rng);
                direct(&labels) >= observed
            })
            .count();
        let want = (1 + exceed) as f64 / 301.0;
        assert!(want > 0.02 && want < 0.98, "the case should not be one-sided: p = {want}");
        assert_eq!(t.p_value, want);
    }

    #[test]
    fn frechet_distance_of_known_gaussians() {
        // N(0, I) against N(1, 4I) in 3-D: ‖μ‖² = 3, tr(I + 4I − 2·2I) = 3 → 6.
        let (a, b) = (normal(40_000, 3, 1.0, 0.0, 1), normal(40_000, 3, 2.0, 1.0, 2));
        let fd = frechet_distance(&a, &b, 3);
        assert!((fd - 6.0).abs() < 0.15, "{fd}");
        assert!(frechet_distance(&a, &a, 3).abs() < 1e-6);
    }

    #[test]
    fn parzen_matches_a_direct_sum_and_picks_a_width_near_the_data_scale() {
        let mut rng = StdRng::seed_from_u64(3);
        let samples: Vec<f32> = (0..200 * 2).map(|_| rng.gen::<f32>()).collect();
        let data: Vec<f32> = (0..30 * 2).map(|_| rng.gen::<f32>()).collect();
        let sigma = 0.2;
        let got = parzen_log_likelihoods(&samples, &data, 2, &[sigma]).remove(0);
        for (r, x) in data.chunks(2).enumerate() {
            let want = (samples
                .chunks(2)
                .map(|s| (-((x[0] - s[0]).powi(2) + (x[1] - s[1]).powi(2)) as f64 / (2.0 * sigma * sigma)).exp())
                .sum::<f64>()
                / 200.0)
                .ln()
                - (2.0 * std::f64::consts::PI * sigma * sigma).ln();
            assert!((got[r] - want).abs() < 1e-4, "row {r}: {} vs {want}", got[r]);
        }
        // Samples from N(0, 0.1²): the chosen width is of that order.
        let (s, v, t) = (normal(2000, 2, 0.1, 0.0, 4), normal(300, 2, 0.1, 0.0, 5), normal(300, 2, 0.1, 0.0, 6));
        let est = parzen_estimate(&s, &v, &t, 2);
        assert!(est.sigma > 0.02 && est.sigma < 0.2 && est.stderr > 0.0, "{est:?}");
    }
}
