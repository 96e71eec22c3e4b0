use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::{Error, Result};

/// Which normalisation to fit (`--normalize`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NormalizeKind {
    /// The dataset's own choice: built-in sets as documented on
    /// [`DatasetId::fit_normalizer`](super::DatasetId::fit_normalizer); images min-max,
    /// tables standardised.
    #[default]
    Auto,
    /// To [0, 1]: one range for images, per feature for tables.
    Minmax,
    /// Per feature to mean 0, standard deviation 1.
    Standard,
    /// Raw values.
    None,
}

impl NormalizeKind {
    /// True for [`NormalizeKind::Auto`] (left out of `config.json`).
    pub fn is_auto(&self) -> bool {
        *self == NormalizeKind::Auto
    }
}

impl std::str::FromStr for NormalizeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => Self::Auto,
            "minmax" | "min-max" => Self::Minmax,
            "standard" | "standardize" => Self::Standard,
            "none" => Self::None,
            _ => return Err(Error::config("normalize", format!("`{s}` is not auto, minmax, standard or none"))),
        })
    }
}

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
    /// Per-feature min-max scaling to [0, 1] (`--normalize minmax` on a table).
    MinMaxFeatures {
        /// Each feature's smallest value on the training split.
        min: Vec<f32>,
        /// Each feature's largest value (a constant feature gets `min + 1`).
        max: Vec<f32>,
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

    /// Per-feature min-max scaling fitted on `train`; a constant feature maps to 0.
    pub fn fit_min_max_features(train: &Dataset) -> Result<Self> {
        let d = train.sample_len();
        let (mut min, mut max) = (vec![f32::INFINITY; d], vec![f32::NEG_INFINITY; d]);
        for row in train.samples.chunks(d) {
            for ((lo, hi), &v) in min.iter_mut().zip(max.iter_mut()).zip(row) {
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
        }
        for (lo, hi) in min.iter().zip(max.iter_mut()) {
            if *hi <= *lo {
                *hi = lo + 1.0;
            }
        }
        Ok(Normalizer::MinMaxFeatures { min, max })
    }

    /// The normalisation `kind` fitted on `train`; `Auto` is min-max for images (samples of
    /// shape `C×H×W`) and standardisation otherwise.
    pub fn fit(kind: NormalizeKind, train: &Dataset) -> Result<Self> {
        let image = train.shape.len() == 3;
        match kind {
            NormalizeKind::None => Ok(Normalizer::Identity),
            NormalizeKind::Minmax if image => Self::fit_min_max(train),
            NormalizeKind::Minmax => Self::fit_min_max_features(train),
            NormalizeKind::Standard => Self::fit_standardize(train),
            NormalizeKind::Auto if image => Self::fit_min_max(train),
            NormalizeKind::Auto => Self::fit_standardize(train),
        }
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

    /// Checks that the statistics describe a mapping (finite; a range or scale above zero):
    /// a config edited by hand to `min == max` would otherwise turn every value into NaN.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::config("data.normalizer", what));
        match self {
            Normalizer::Identity => Ok(()),
            Normalizer::MinMax { min, max } if !(min.is_finite() && max.is_finite() && max > min) => {
                bad(format!("min {min} and max {max} are not a range (max must be above min)"))
            }
            Normalizer::MinMaxFeatures { min, max }
                if min.len() != max.len()
                    || min.iter().zip(max).any(|(a, b)| !(a.is_finite() && b.is_finite() && b > a)) =>
            {
                bad("every feature needs a finite min below its max".into())
            }
            Normalizer::Standardize { mean, std }
                if mean.len() != std.len()
                    || mean.iter().zip(std).any(|(m, s)| !(m.is_finite() && s.is_finite() && *s > 0.0)) =>
            {
                bad("every feature needs a finite mean and a standard deviation above 0".into())
            }
            _ => Ok(()),
        }
    }

    /// Applies the mapping to every sample of `data` in place.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        self.validate()?;
        match self {
            Normalizer::Identity => {}
            Normalizer::MinMax { min, max } => {
                let scale = 1.0 / (max - min);
                data.samples.iter_mut().for_each(|v| *v = (*v - min) * scale);
            }
            Normalizer::MinMaxFeatures { min, max } => {
                let d = data.sample_len();
                if min.len() != d {
                    return Err(Error::config(
                        "normalizer",
                        format!("fitted on {} features but `{}` has {d}", min.len(), data.name),
                    ));
                }
                for row in data.samples.chunks_mut(d) {
                    for ((v, lo), hi) in row.iter_mut().zip(min).zip(max) {
                        *v = (*v - lo) / (hi - lo);
                    }
                }
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
            Normalizer::MinMaxFeatures { min, max } => {
                for row in values.chunks_mut(min.len()) {
                    for ((v, lo), hi) in row.iter_mut().zip(min).zip(max) {
                        *v = *v * (hi - lo) + lo;
                    }
                }
            }
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
