//! The crate's Isolation Forest on plain CSV files (numbers only, no header), for
//! `scripts/iforest_check.py`, which compares it with scikit-learn's on the same rows: fits on
//! TRAIN.csv, prints one score per row of TEST.csv (higher: more anomalous).
//!
//! ```sh
//! cargo run --example iforest_scores -- train.csv test.csv [seed]
//! ```

use anyhow::{bail, Context, Result};
use autoencoders::baselines::{IsolationForest, IsolationForestOptions};

fn read(path: &str) -> Result<(Vec<f32>, usize)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let (mut values, mut dim) = (Vec::new(), 0);
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: Vec<f32> = line
            .split(',')
            .map(|v| v.trim().parse::<f32>().with_context(|| format!("{path}: line {}: `{v}` is not a number", i + 1)))
            .collect::<Result<_>>()?;
        if dim != 0 && row.len() != dim {
            bail!("{path}: line {} has {} values, the first line {dim}", i + 1, row.len());
        }
        dim = row.len();
        values.extend(row);
    }
    Ok((values, dim))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [train, test, rest @ ..] = args.as_slice() else { bail!("usage: iforest_scores TRAIN.csv TEST.csv [seed]") };
    let seed = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(0);
    let (train, dim) = read(train)?;
    let (test, test_dim) = read(test)?;
    if test_dim != dim {
        bail!("the test rows have {test_dim} values, the training rows {dim}");
    }
    let forest = IsolationForest::fit(&train, dim, &IsolationForestOptions { seed, ..Default::default() })?;
    for s in forest.score(&test) {
        println!("{s}");
    }
    Ok(())
}
