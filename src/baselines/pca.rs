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
    /// of the sample covariance (nalgebra's symmetric eigensolver).
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
        // Each chunk's xᵀx in f32 on our gemm (all cores), summed in f64: nalgebra's `gemm_tr`
        // on the 60,000 MNIST images took ~15 s, three quarters of `probe`'s baselines (perf).
        let mut cov = DMatrix::<f64>::zeros(dim, dim);
        let mut part = vec![0f32; dim * dim];
        for rows in data.chunks(CHUNK * dim) {
            let r = rows.len() / dim;
            let x: Vec<f32> =
                rows.chunks(dim).flat_map(|row| row.iter().zip(&mean).map(|(&v, &m)| (v as f64 - m) as f32)).collect();
            gemm(dim, dim, r, &mut part, false, Mat::t(&x, dim), Mat::rows(&x, dim));
            // xᵀx is symmetric: row- or column-major reads alike.
            cov.iter_mut().zip(&part).for_each(|(c, &p)| *c += p as f64 / (n - 1) as f64);
        }
        let total_variance = cov.trace();
        let eig = SymmetricEigen::new(cov);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let mut components = Vec::with_capacity(k * dim);
        let mut variances = Vec::with_capacity(k);
        for &c in &order[..k] {
            let v = eig.eigenvectors.column(c);
            // Fix each axis' sign (largest entry positive) so results are reproducible.
            let flip =
                if v.iter().fold(0.0f64, |a, &x| if x.abs() > a.abs() { x } else { a }) < 0.0 { -1.0 } else { 1.0 };
            components.extend(v.iter().map(|&x| (x * flip) as f32));
            variances.push(eig.eigenvalues[c].max(0.0));
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
}
