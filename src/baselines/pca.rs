//! Principal component analysis: the linear autoencoder's closed-form optimum, and the
//! baseline every autoencoder should beat at the same code size.

use nalgebra::{DMatrix, SymmetricEigen};

use crate::nn::kernels::{gemm, Mat};

use crate::{Error, Result};

/// A fitted PCA: the mean, the top `k` principal axes and their variances.
#[derive(Debug, Clone)]
pub struct Pca {
    /// Features per sample.
    pub dim: usize,
    /// Mean of the training data.
    pub mean: Vec<f32>,
    /// `k × dim` principal axes, row-major, by decreasing variance.
    pub components: Vec<f32>,
    /// Variance along each axis.
    pub variances: Vec<f64>,
    total_variance: f64,
}

/// Rows per chunk when accumulating the covariance, to bound memory on large sets.
const CHUNK: usize = 2048;

impl Pca {
    /// Fits `k` components to `data` (`n × dim`, row-major) through the eigendecomposition
    /// of the sample covariance (nalgebra's symmetric eigensolver) — or, with fewer samples
    /// than features, of the `n × n` Gram matrix (Turk & Pentland's eigenfaces trick), whose
    /// eigenvectors `u` give the same axes as `xᵀu`: 200 ORL faces of 10,304 pixels decompose
    /// a 200 × 200 matrix instead of a 10,304 × 10,304 one (850 MB, hours).
    pub fn fit(data: &[f32], dim: usize, k: usize) -> Result<Self> {
        let n = data.len().checked_div(dim).unwrap_or(0);
        if n < 2 || k == 0 || k > dim {
            return Err(Error::config(
                "pca",
                format!("need ≥ 2 samples and 1 ≤ k ≤ {dim} components (got n = {n}, k = {k})"),
            ));
        }
        let mut mean = vec![0f64; dim];
        for row in data.chunks(dim) {
            mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let (axes, total_variance) = if n < dim { gram_axes(data, &mean, k)? } else { covariance_axes(data, &mean, k) };
        let mut components = Vec::with_capacity(k * dim);
        let mut variances = Vec::with_capacity(k);
        for (v, var) in axes {
            // Fix each axis' sign (largest entry positive) so results are reproducible.
            let flip =
                if v.iter().fold(0.0f64, |a, &x| if x.abs() > a.abs() { x } else { a }) < 0.0 { -1.0 } else { 1.0 };
            components.extend(v.iter().map(|&x| (x * flip) as f32));
            variances.push(var.max(0.0));
        }
        Ok(Self { dim, mean: mean.into_iter().map(|m| m as f32).collect(), components, variances, total_variance })
    }

    /// The same fit keeping only the first `k` components (PCA's components are nested, so
    /// one fit serves every smaller code size).
    pub fn truncated(&self, k: usize) -> Self {
        let k = k.clamp(1, self.k());
        Self {
            dim: self.dim,
            mean: self.mean.clone(),
            components: self.components[..k * self.dim].to_vec(),
            variances: self.variances[..k].to_vec(),
            total_variance: self.total_variance,
        }
    }

    /// Fits every component the data spans and keeps the fewest whose explained variance
    /// reaches `fraction` of the total (scikit-learn's `n_components=0.95`): the documented
    /// rule for a baseline whose size nobody tunes.
    pub fn fit_variance(data: &[f32], dim: usize, fraction: f64) -> Result<Self> {
        let n = data.len().checked_div(dim).unwrap_or(0);
        // Centred data spans at most n − 1 axes (the Gram path refuses more).
        let full = Self::fit(data, dim, dim.min(n.saturating_sub(1)).max(1))?;
        Ok(full.truncated(full.components_for(fraction)))
    }

    /// The fewest leading components whose explained variance reaches `fraction` (all of them
    /// when none does).
    pub fn components_for(&self, fraction: f64) -> usize {
        let mut kept = 0.0;
        self.explained_variance_ratio()
            .iter()
            .position(|r| {
                kept += r;
                kept >= fraction
            })
            .map_or(self.k(), |i| i + 1)
    }

    /// Each sample's squared Mahalanobis distance from the mean within the kept axes,
    /// `Σⱼ (x − μ)·vⱼ)² / λⱼ`: with every axis kept, `(x − μ)ᵀ Σ⁻¹ (x − μ)` under the Gaussian
    /// fitted to the training data — the squared length of [`Self::whiten`]'s output.
    ///
    /// # Shapes
    /// `data`: n × dim → n
    pub fn mahalanobis(&self, data: &[f32]) -> Vec<f64> {
        self.whiten(data).chunks(self.k()).map(|c| c.iter().map(|&p| (p as f64).powi(2)).sum()).collect()
    }

    /// Projects `n × dim` samples onto the kept axes and divides each coordinate by the axis'
    /// standard deviation: under the fitted Gaussian the result has unit variance on every
    /// axis, and Euclidean distances between whitened samples are Mahalanobis distances. Each
    /// variance gets `1e-6` of the mean variance added, so a flat direction (a constant code
    /// unit) counts heavily without dividing by zero.
    ///
    /// # Shapes
    /// `data`: n × dim → n × k
    pub fn whiten(&self, data: &[f32]) -> Vec<f32> {
        let ridge = 1e-6 * self.total_variance / self.dim.max(1) as f64 + 1e-12;
        let scale: Vec<f32> = self.variances.iter().map(|v| (1.0 / (v + ridge).sqrt()) as f32).collect();
        let mut codes = self.transform(data);
        for c in codes.chunks_mut(self.k()) {
            c.iter_mut().zip(&scale).for_each(|(p, s)| *p *= s);
        }
        codes
    }

    /// Number of components.
    pub fn k(&self) -> usize {
        self.variances.len()
    }

    /// Fraction of the total variance each component explains.
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        self.variances.iter().map(|v| v / self.total_variance.max(f64::MIN_POSITIVE)).collect()
    }

    /// Projects `n × dim` samples to `n × k` codes.
    pub fn transform(&self, data: &[f32]) -> Vec<f32> {
        let (d, k) = (self.dim, self.k());
        let mut out = vec![0f32; data.len() / d * k];
        for (rows, codes) in data.chunks(CHUNK * d).zip(out.chunks_mut(CHUNK * k)) {
            let x: Vec<f32> = rows.chunks(d).flat_map(|row| row.iter().zip(&self.mean).map(|(v, m)| v - m)).collect();
            gemm(x.len() / d, k, d, codes, false, Mat::rows(&x, d), Mat::t(&self.components, d));
        }
        out
    }

    /// Maps `n × k` codes back to `n × dim` samples: the PCA reconstruction.
    pub fn inverse_transform(&self, codes: &[f32]) -> Vec<f32> {
        let (d, k) = (self.dim, self.k());
        let n = codes.len() / k;
        let mut out: Vec<f32> = self.mean.iter().copied().cycle().take(n * d).collect();
        gemm(n, d, k, &mut out, true, Mat::rows(codes, k), Mat::rows(&self.components, d));
        out
    }
}

/// A unit principal axis and the variance along it.
type Axis = (Vec<f64>, f64);

/// The centred rows `x − mean` of `rows` in f32.
fn centred(rows: &[f32], mean: &[f64]) -> Vec<f32> {
    let dim = mean.len();
    rows.chunks(dim).flat_map(|row| row.iter().zip(mean).map(|(&v, &m)| (v as f64 - m) as f32)).collect()
}

/// The top `k` unit axes and their variances from the `dim × dim` covariance, and the total
/// variance (its trace).
fn covariance_axes(data: &[f32], mean: &[f64], k: usize) -> (Vec<Axis>, f64) {
    let dim = mean.len();
    let n = data.len() / dim;
    // Each chunk's xᵀx in f32 on our gemm (all cores), summed in f64: nalgebra's `gemm_tr`
    // on the 60,000 MNIST images took ~15 s, three quarters of `probe`'s baselines (perf).
    let mut cov = DMatrix::<f64>::zeros(dim, dim);
    let mut part = vec![0f32; dim * dim];
    for rows in data.chunks(CHUNK * dim) {
        let r = rows.len() / dim;
        let x = centred(rows, mean);
        gemm(dim, dim, r, &mut part, false, Mat::t(&x, dim), Mat::rows(&x, dim));
        // xᵀx is symmetric: row- or column-major reads alike.
        cov.iter_mut().zip(&part).for_each(|(c, &p)| *c += p as f64 / (n - 1) as f64);
    }
    let total = cov.trace();
    let eig = SymmetricEigen::new(cov);
    let axes = top(&eig.eigenvalues, k)
        .into_iter()
        .map(|c| (eig.eigenvectors.column(c).iter().copied().collect(), eig.eigenvalues[c]))
        .collect();
    (axes, total)
}

/// The same from the `n × n` Gram matrix `x xᵀ/(n−1)` when `n < dim`: an eigenvector `u` of
/// it with eigenvalue `λ` gives the covariance's axis `xᵀu / √(λ(n−1))`, same `λ`. Centred
/// data has rank at most `n − 1`, so no more axes exist.
fn gram_axes(data: &[f32], mean: &[f64], k: usize) -> Result<(Vec<Axis>, f64)> {
    let dim = mean.len();
    let n = data.len() / dim;
    if k > n - 1 {
        return Err(Error::config(
            "pca",
            format!("{n} samples of {dim} features span at most {} components (asked for {k})", n - 1),
        ));
    }
    let x = centred(data, mean);
    let mut g = vec![0f32; n * n];
    gemm(n, n, dim, &mut g, false, Mat::rows(&x, dim), Mat::t(&x, dim));
    let gram = DMatrix::<f64>::from_iterator(n, n, g.iter().map(|&v| v as f64 / (n - 1) as f64));
    let total = gram.trace();
    let eig = SymmetricEigen::new(gram);
    let mut axes = Vec::with_capacity(k);
    for c in top(&eig.eigenvalues, k) {
        let (u, lambda) = (eig.eigenvectors.column(c), eig.eigenvalues[c]);
        let mut v = vec![0f64; dim];
        for (row, &ui) in x.chunks(dim).zip(u.iter()) {
            v.iter_mut().zip(row).for_each(|(a, &xv)| *a += ui * xv as f64);
        }
        // Normalise by the vector's own length (= √(λ(n−1)) up to rounding): unit axes even
        // for the smallest eigenvalues, where the formula loses precision.
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        v.iter_mut().for_each(|a| *a /= norm);
        axes.push((v, lambda));
    }
    Ok((axes, total))
}

/// Indices of the `k` largest eigenvalues, largest first.
fn top(eigenvalues: &nalgebra::DVector<f64>, k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eigenvalues[b].total_cmp(&eigenvalues[a]));
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_axis_of_a_stretched_cloud() {
        // Points along (1, 1)/√2 with small noise across it.
        let data: Vec<f32> = (0..200)
            .flat_map(|i| {
                let t = i as f32 / 10.0 - 10.0;
                let e = if i % 2 == 0 { 0.1 } else { -0.1 };
                [t + e, t - e]
            })
            .collect();
        let p = Pca::fit(&data, 2, 1).unwrap();
        let s = std::f32::consts::FRAC_1_SQRT_2;
        assert!((p.components[0] - s).abs() < 1e-3 && (p.components[1] - s).abs() < 1e-3, "{:?}", p.components);
        assert!(p.explained_variance_ratio()[0] > 0.999);
        let full = Pca::fit(&data, 2, 2).unwrap();
        let back = full.inverse_transform(&full.transform(&data));
        assert!(back.iter().zip(&data).all(|(a, b)| (a - b).abs() < 1e-3));
    }

    #[test]
    fn the_gram_path_finds_the_covariance_axes() {
        // 30 samples of 50 features with decaying variance per direction, so axes are distinct.
        let (n, dim) = (30, 50);
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let data: Vec<f32> = (0..n * dim).map(|i| next() * 4.0 / (1 + i % dim) as f32).collect();
        let mean: Vec<f64> =
            (0..dim).map(|j| data.iter().skip(j).step_by(dim).map(|&v| v as f64).sum::<f64>() / n as f64).collect();
        let (cov, cov_total) = covariance_axes(&data, &mean, 6);
        let (gram, gram_total) = gram_axes(&data, &mean, 6).unwrap();
        assert!((cov_total - gram_total).abs() < 1e-4 * cov_total, "{cov_total} vs {gram_total}");
        for ((a, va), (b, vb)) in cov.iter().zip(&gram) {
            assert!((va - vb).abs() < 1e-4 * va, "variance {va} vs {vb}");
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-3, "axes differ: |cos| = {}", dot.abs());
        }
        // `fit` takes the Gram path here; rank n − 1 caps the components.
        assert_eq!(Pca::fit(&data, dim, 29).unwrap().k(), 29);
        let e = Pca::fit(&data, dim, 30).unwrap_err().to_string();
        assert!(e.contains("at most 29 components"), "{e}");
    }

    #[test]
    fn the_variance_rule_keeps_the_fewest_components_that_reach_it() {
        // Three uncorrelated features with variances in the ratio 100 : 10 : 1: feature j of
        // sample s is ±scale, its sign bit j of s (1,000 samples: every sign pattern 125 times).
        let scales = [10.0f32, 3.162_277_7, 1.0];
        let data: Vec<f32> =
            (0..3000).map(|i| scales[i % 3] * if (i / 3) >> (i % 3) & 1 == 0 { 1.0 } else { -1.0 }).collect();
        let full = Pca::fit(&data, 3, 3).unwrap();
        // 100/111 = 0.901, 110/111 = 0.991.
        assert_eq!(full.components_for(0.90), 1);
        assert_eq!(full.components_for(0.95), 2);
        assert_eq!(full.components_for(0.999), 3);
        assert_eq!(Pca::fit_variance(&data, 3, 0.95).unwrap().k(), 2);
        // More features than samples: the rule looks only at the n − 1 axes there are.
        let wide: Vec<f32> = (0..4 * 10).map(|i| ((i * 37) % 11) as f32).collect();
        assert!(Pca::fit_variance(&wide, 10, 0.95).unwrap().k() <= 3);
    }

    #[test]
    fn mahalanobis_over_every_axis_is_the_inverse_covariance_form_and_whitening_its_square_root() {
        // A correlated 2-D cloud: Σ⁻¹ by hand against the sum over principal axes.
        let data: Vec<f32> = (0..400)
            .flat_map(|i| {
                let (a, b) = (((i * 7) % 13) as f32 - 6.0, ((i * 5) % 11) as f32 - 5.0);
                [a, 0.5 * a + b]
            })
            .collect();
        let n = 400.0;
        let mean = |j: usize| data.iter().skip(j).step_by(2).map(|&v| v as f64).sum::<f64>() / n;
        let (mx, my) = (mean(0), mean(1));
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for p in data.chunks(2) {
            let (dx, dy) = (p[0] as f64 - mx, p[1] as f64 - my);
            (sxx, sxy, syy) = (sxx + dx * dx / (n - 1.0), sxy + dx * dy / (n - 1.0), syy + dy * dy / (n - 1.0));
        }
        let det = sxx * syy - sxy * sxy;
        let probe = [3.0f32, -2.0, -1.0, 4.0];
        let got = Pca::fit(&data, 2, 2).unwrap().mahalanobis(&probe);
        for (p, g) in probe.chunks(2).zip(&got) {
            let (dx, dy) = (p[0] as f64 - mx, p[1] as f64 - my);
            let want = (syy * dx * dx - 2.0 * sxy * dx * dy + sxx * dy * dy) / det;
            assert!((g - want).abs() < 1e-4 * want, "{g} vs {want}");
        }
        // Whitened, the training cloud's covariance is the identity.
        let w = Pca::fit(&data, 2, 2).unwrap().whiten(&data);
        let cov = |a: usize, b: usize| w.chunks(2).map(|p| p[a] as f64 * p[b] as f64).sum::<f64>() / (n - 1.0);
        assert!((cov(0, 0) - 1.0).abs() < 1e-4 && (cov(1, 1) - 1.0).abs() < 1e-4 && cov(0, 1).abs() < 1e-4);
    }
}
