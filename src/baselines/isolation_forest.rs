//! The Isolation Forest (Liu, Ting & Zhou 2008): the tabular anomaly detector autoencoders are
//! measured against. Written here because the one crate of it that keeps up
//! (`extended-isolation-forest`) fixes the feature count at compile time, and a table's width
//! is known only when it is read; `scripts/iforest_check.py` checks it against
//! scikit-learn's on the same splits.
//!
//! Each tree isolates a random subsample of `max_samples` rows by splitting on a random
//! feature at a random value between that feature's minimum and maximum in the node, down to
//! depth ⌈log₂ max_samples⌉. Anomalies are few and different, so they are isolated in fewer
//! splits: a row's score is `2^(−E[h] / c(ψ))`, its mean path length over the trees against
//! that of an unsuccessful search in a binary search tree of ψ rows (scikit-learn's
//! `score_samples` with the sign flipped: higher is more anomalous).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::{Error, Result};

/// Settings, scikit-learn's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IsolationForestOptions {
    /// Trees in the forest.
    pub trees: usize,
    /// Rows drawn (without replacement) for each tree; fewer when the data has fewer.
    pub max_samples: usize,
    /// Seeds the subsamples and splits.
    pub seed: u64,
}

impl Default for IsolationForestOptions {
    fn default() -> Self {
        Self { trees: 100, max_samples: 256, seed: 0 }
    }
}

enum Node {
    Split { feature: usize, value: f32, left: Box<Node>, right: Box<Node> },
    Leaf { size: usize },
}

/// A fitted forest.
pub struct IsolationForest {
    dim: usize,
    psi: usize,
    trees: Vec<Node>,
}

/// The mean path length of an unsuccessful search in a binary search tree of `n` rows: how
/// much deeper a leaf of `n` unsplit rows would have gone.
fn average_path(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

impl IsolationForest {
    /// Grows the forest on `data` (`n × dim`, row-major).
    pub fn fit(data: &[f32], dim: usize, opts: &IsolationForestOptions) -> Result<Self> {
        let n = data.len().checked_div(dim).unwrap_or(0);
        if n < 2 || opts.trees == 0 || opts.max_samples < 2 {
            let what = format!("need ≥ 2 rows, ≥ 1 tree and max_samples ≥ 2 (got {n} rows, {opts:?})");
            return Err(Error::config("isolation forest", what));
        }
        let psi = opts.max_samples.min(n);
        let depth = (psi as f64).log2().ceil() as usize;
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let rows: Vec<usize> = (0..n).collect();
        let trees = (0..opts.trees)
            .map(|_| {
                let mut sample: Vec<usize> = rows.choose_multiple(&mut rng, psi).copied().collect();
                grow(data, dim, &mut sample, depth, &mut rng)
            })
            .collect();
        Ok(Self { dim, psi, trees })
    }

    /// Each row's anomaly score in (0, 1]: about 0.5 and below for ordinary rows, near 1 for
    /// rows isolated at once.
    pub fn score(&self, data: &[f32]) -> Vec<f64> {
        let c = average_path(self.psi);
        data.chunks(self.dim)
            .map(|row| {
                let mean = self.trees.iter().map(|t| path_length(t, row, 0)).sum::<f64>() / self.trees.len() as f64;
                2f64.powf(-mean / c)
            })
            .collect()
    }
}

fn grow(data: &[f32], dim: usize, rows: &mut [usize], depth: usize, rng: &mut StdRng) -> Node {
    if depth == 0 || rows.len() <= 1 {
        return Node::Leaf { size: rows.len() };
    }
    // A random feature among those not constant in the node; none left, a leaf.
    let mut features: Vec<usize> = (0..dim).collect();
    features.shuffle(rng);
    let range = |f: usize| {
        rows.iter()
            .map(|&r| data[r * dim + f])
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
    };
    let Some((feature, (lo, hi))) = features.into_iter().map(|f| (f, range(f))).find(|(_, (lo, hi))| lo < hi) else {
        return Node::Leaf { size: rows.len() };
    };
    let value = rng.gen_range(lo..hi);
    let mut split = 0;
    for i in 0..rows.len() {
        if data[rows[i] * dim + feature] < value {
            rows.swap(i, split);
            split += 1;
        }
    }
    let (left, right) = rows.split_at_mut(split);
    Node::Split {
        feature,
        value,
        left: Box::new(grow(data, dim, left, depth - 1, rng)),
        right: Box::new(grow(data, dim, right, depth - 1, rng)),
    }
}

fn path_length(node: &Node, row: &[f32], depth: usize) -> f64 {
    match node {
        Node::Leaf { size } => depth as f64 + average_path(*size),
        Node::Split { feature, value, left, right } => {
            let next = if row[*feature] < *value { left } else { right };
            path_length(next, row, depth + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_is_the_bst_search_length() {
        assert_eq!((average_path(1), average_path(2)), (0.0, 1.0));
        // scikit-learn's _average_path_length(256) = 10.2448…
        assert!((average_path(256) - 10.244_770).abs() < 1e-5, "{}", average_path(256));
    }

    #[test]
    fn a_far_point_scores_higher_than_the_cloud_and_seeds_repeat() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut data: Vec<f32> = (0..2000).map(|_| rng.gen_range(-1.0..1.0)).collect(); // 1,000 rows × 2
        data.extend([6.0, 6.0]);
        let forest = IsolationForest::fit(&data, 2, &IsolationForestOptions::default()).unwrap();
        let scores = forest.score(&data);
        let far = scores[1000];
        assert!(far > 0.7, "{far}");
        let mean = scores[..1000].iter().sum::<f64>() / 1000.0;
        assert!(mean < 0.55 && scores[..1000].iter().all(|&s| s < far), "{mean}");
        let again = IsolationForest::fit(&data, 2, &IsolationForestOptions::default()).unwrap().score(&data);
        assert_eq!(again, scores);
        // A constant feature is never split on; all-constant rows are one leaf.
        let flat = IsolationForest::fit(&[1.0; 20], 2, &IsolationForestOptions::default()).unwrap();
        assert!(flat.score(&[1.0, 1.0, 9.0, 9.0]).windows(2).all(|w| w[0] == w[1]));
        assert!(IsolationForest::fit(&[1.0, 2.0], 2, &IsolationForestOptions::default()).is_err());
    }
}
