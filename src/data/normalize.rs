use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::{Error, Result};

/// How raw values are mapped before training. Fitted on the training split only and stored in
/// the model's config, so evaluation applies exactly the same mapping to the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Normalizer {
    /// Leave values as they are.
    Identity,
    /// One global affine map sending `[min, max]` to `[0, 1]` (for images: pixel range).
    MinMax {
        /// The value mapped to 0.
        min: f32,
        /// The value mapped to 1.
        max: f32,
    },
    /// Per-feature `(x - mean) / std` (for tabular data).
    Standardize {
        /// Each feature's mean on the training split.
        mean: Vec<f32>,
        /// Each feature's standard deviation (a constant feature gets 1).
        std: Vec<f32>,
    },
}

impl Normalizer {
    /// Global min-max scaling fitted on `train`.
    pub fn fit_min_max(train: &Dataset) -> Result<Self> {
        let (min, max) = train.value_range();
        if max <= min {
            return Err(Error::format(&train.name, format!("all values equal {min}: min-max scaling needs a range")));
        }
        Ok(Normalizer::MinMax { min, max })
    }

    /// Per-feature standardisation fitted on `train`. Constant features get std 1, so they
    /// map to 0 instead of dividing by zero.
    pub fn fit_standardize(train: &Dataset) -> Result<Self> {
        let d = train.sample_len();
        let n = train.len();
        if n < 2 {
            return Err(Error::format(&train.name, "standardisation needs at least 2 samples"));
        }
        let mut mean = vec![0f64; d];
        for i in 0..n {
            for (m, &v) in mean.iter_mut().zip(train.sample(i)) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0f64; d];
        for i in 0..n {
            for ((s, &v), m) in var.iter_mut().zip(train.sample(i)).zip(&mean) {
                *s += (v as f64 - m).powi(2);
            }
        }
        let std = var
            .iter()
            .map(|s| {
                let sd = (s / (n - 1) as f64).sqrt() as f32;
                if sd > 1e-8 {
                    sd
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Normalizer::Standardize { mean: mean.into_iter().map(|m| m as f32).collect(), std })
    }

    /// Applies the mapping to every sample of `data` in place.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        match self {
            Normalizer::Identity => {}
            Normalizer::MinMax { min, max } => {
                let scale = 1.0 / (max - min);
                data.samples.iter_mut().for_each(|v| *v = (*v - min) * scale);
            }
            Normalizer::Standardize { mean, std } => {
                let d = data.sample_len();
                if mean.len() != d {
                    return Err(Error::config(
                        "normalizer",
                        format!("fitted on {} features but `{}` has {d}", mean.len(), data.name),
                    ));
                }
                for row in data.samples.chunks_mut(d) {
                    for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
                        *v = (*v - m) / s;
                    }
                }
            }
        }
        Ok(())
    }

    /// Maps normalised values back to the raw units (for figures).
    pub fn invert(&self, values: &mut [f32]) {
        match self {
            Normalizer::Identity => {}
            Normalizer::MinMax { min, max } => values.iter_mut().for_each(|v| *v = *v * (max - min) + min),
            Normalizer::Standardize { mean, std } => {
                for row in values.chunks_mut(mean.len()) {
                    for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
                        *v = *v * s + m;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(v: Vec<f32>) -> Dataset {
        Dataset::new("t", v, vec![2], None, vec![]).unwrap()
    }

    #[test]
    fn min_max_maps_training_range_to_unit_interval() {
        let train = ds(vec![0.0, 255.0, 51.0, 102.0]);
        let n = Normalizer::fit_min_max(&train).unwrap();
        let mut t = train.clone();
        n.apply(&mut t).unwrap();
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&t.samples, &[0.0, 1.0, 0.2, 0.4]), "{:?}", t.samples);
        n.invert(&mut t.samples);
        assert!(close(&t.samples, &train.samples));
    }

    #[test]
    fn standardize_uses_training_statistics_per_feature() {
        let train = ds(vec![1.0, 10.0, 3.0, 10.0]);
        let n = Normalizer::fit_standardize(&train).unwrap();
        let mut test = ds(vec![2.0, 10.0]);
        n.apply(&mut test).unwrap();
        // Feature 0: mean 2, sample std sqrt(2); feature 1 is constant → std 1.
        assert_eq!(test.samples, vec![0.0, 0.0]);
        let mut wrong = Dataset::new("w", vec![1.0; 3], vec![3], None, vec![]).unwrap();
        assert!(n.apply(&mut wrong).is_err());
    }
}
