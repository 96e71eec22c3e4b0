//! Sequences from a long table: a time series (one row per time point) cut into overlapping
//! windows (`--window 140 --stride 1`, the setup of Keras' time-series anomaly tutorial), and a
//! score per time point from the windows' errors.
//!
//! Window `i` covers rows `i·stride … i·stride + length − 1`. With one feature column a window
//! is a sample of shape `[length]` (what the LSTM family reads); with `c` columns, `[length, c]`
//! (time-major, for the dense family). A window's class is its rows' class when they all share
//! one, else the extra class `mixed` — so `--normal-class` trains on windows that are wholly
//! normal.

use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::{Error, Result};

/// The class name of windows whose rows have more than one class.
pub const MIXED: &str = "mixed";

/// How a series is cut (`--window LENGTH --stride S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Time points per window.
    pub length: usize,
    /// Time points between the starts of consecutive windows.
    pub stride: usize,
}

impl Window {
    /// Checks both sizes against `rows` time points.
    pub fn check(&self, rows: usize, name: &str) -> Result<()> {
        if self.length == 0 || self.stride == 0 {
            return Err(Error::config("window", "--window and --stride must be at least 1"));
        }
        if rows < self.length {
            return Err(Error::config(
                "window",
                format!("`{name}` has {rows} time points, fewer than one window of {}", self.length),
            ));
        }
        Ok(())
    }

    /// How many windows fit in `rows` time points.
    pub fn count(&self, rows: usize) -> usize {
        if rows < self.length {
            0
        } else {
            (rows - self.length) / self.stride + 1
        }
    }

    /// The windows of `rows` (one time point per sample, each of shape `[c]`).
    pub fn cut(&self, rows: &Dataset) -> Result<Dataset> {
        self.check(rows.len(), &rows.name)?;
        let (c, n) = (rows.sample_len(), self.count(rows.len()));
        let values = n.checked_mul(self.length * c).filter(|v| *v <= isize::MAX as usize / 4).ok_or_else(|| {
            Error::config("window", format!("{n} windows of {} values do not fit in memory", self.length * c))
        })?;
        let mut samples = Vec::with_capacity(values);
        for i in 0..n {
            let start = i * self.stride * c;
            samples.extend_from_slice(&rows.samples[start..start + self.length * c]);
        }
        let shape = if c == 1 { vec![self.length] } else { vec![self.length, c] };
        let (labels, names) = match &rows.labels {
            None => (None, Vec::new()),
            Some(l) => {
                let mut names = rows.class_names.clone();
                let mixed = names.iter().position(|n| n == MIXED).unwrap_or_else(|| {
                    names.push(MIXED.into());
                    names.len() - 1
                }) as u32;
                let window_class = |i: usize| {
                    let w = &l[i * self.stride..i * self.stride + self.length];
                    if w.iter().all(|&x| x == w[0]) {
                        w[0]
                    } else {
                        mixed
                    }
                };
                (Some((0..n).map(window_class).collect()), names)
            }
        };
        Dataset::new(format!("{}[windows {}/{}]", rows.name, self.length, self.stride), samples, shape, labels, names)
    }

    /// A score per time point of a series of `rows` points: the smallest error of the windows
    /// that cover it (`window_errors[i]` is window `i`'s), so a point scores high only when
    /// every window around it reconstructs badly — Keras' tutorial's rule ("a point is an
    /// anomaly if all windows containing it are"), as a score. Points no window covers (the
    /// tail, when the stride does not divide the length) get `None`.
    ///
    /// Why the minimum: on ECG5000 as one series (`scripts/ecg_series.sh`, LSTM, window 140,
    /// stride 35, 30 epochs) the per-point AUROC of abnormal beats is 0.963 with it, 0.941 with
    /// the mean of the covering windows' errors, 0.893 with their maximum, and 0.705 with the
    /// mean error at the point's own position in each window.
    pub fn point_scores(&self, window_errors: &[f64], rows: usize) -> Vec<Option<f64>> {
        let mut score: Vec<Option<f64>> = vec![None; rows];
        for (i, &e) in window_errors.iter().enumerate() {
            let start = i * self.stride;
            for s in score.iter_mut().take((start + self.length).min(rows)).skip(start) {
                *s = Some(s.map_or(e, |v| v.min(e)));
            }
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f32], labels: &[u32]) -> Dataset {
        Dataset::new("s", values.to_vec(), vec![1], Some(labels.to_vec()), vec!["0".into(), "1".into()]).unwrap()
    }

    #[test]
    fn windows_overlap_by_the_stride_and_label_mixed_ones() {
        let s = series(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[0, 0, 0, 1, 1, 1, 1]);
        let w = Window { length: 3, stride: 2 }.cut(&s).unwrap();
        assert_eq!(w.shape, vec![3]);
        assert_eq!(w.samples, vec![0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0]);
        assert_eq!(w.labels, Some(vec![0, 2, 1]));
        assert_eq!(w.class_names, vec!["0", "1", MIXED]);
        assert!(Window { length: 8, stride: 1 }.cut(&s).is_err());
    }

    #[test]
    fn point_scores_take_the_best_covering_window() {
        let w = Window { length: 2, stride: 1 };
        // Windows [0,1], [1,2], [2,3] of 5 points.
        let scores = w.point_scores(&[1.0, 5.0, 3.0], 5);
        assert_eq!(scores, vec![Some(1.0), Some(1.0), Some(3.0), Some(3.0), None]);
    }
}
