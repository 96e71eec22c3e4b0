//! Exact k-nearest-neighbour search by squared Euclidean distance: what the feature-extraction
//! probe's k-NN classifier and the one-class study's neighbour score share.

use rayon::prelude::*;

use crate::nn::kernels::{gemm, Mat};

/// Queries per block of the distance matrix: 256 × 60,000 references is 61 MB.
const QUERY_BLOCK: usize = 256;

/// The `k` nearest references of each query, nearest first, as (squared distance, index into
/// the references); all of them, sorted, when there are no more than `k`. Distances are
/// ‖q‖² + ‖r‖² − 2 q·r with one matrix product per block of queries (blocks in parallel), so
/// a distance that is 0 can come out a rounding error either side of it.
///
/// # Shapes
/// `refs`: n × d, `queries`: m × d (row-major) → m lists of min(k, n)
pub fn k_nearest(refs: &[f32], queries: &[f32], d: usize, k: usize) -> Vec<Vec<(f32, usize)>> {
    let n = refs.len() / d.max(1);
    let k = k.min(n);
    if n == 0 {
        // No references: every query's list is empty (the gemm below would yield no rows).
        return vec![Vec::new(); queries.len() / d.max(1)];
    }
    let ref_sq: Vec<f32> = refs.chunks(d).map(|r| r.iter().map(|v| v * v).sum()).collect();
    let per_block: Vec<Vec<Vec<(f32, usize)>>> = queries
        .par_chunks(QUERY_BLOCK * d)
        .map(|block| {
            let m = block.len() / d;
            let mut dots = vec![0f32; m * n];
            gemm(m, n, d, &mut dots, false, Mat::rows(block, d), Mat::t(refs, d));
            let mut order: Vec<(f32, usize)> = Vec::with_capacity(n);
            block
                .chunks(d)
                .zip(dots.chunks(n))
                .map(|(q, row)| {
                    let q_sq: f32 = q.iter().map(|v| v * v).sum();
                    order.clear();
                    order.extend(row.iter().zip(&ref_sq).enumerate().map(|(i, (&dot, &r))| (q_sq + r - 2.0 * dot, i)));
                    if k > 0 && k < n {
                        order.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
                    }
                    order[..k].sort_by(|a, b| a.0.total_cmp(&b.0));
                    order[..k].to_vec()
                })
                .collect()
        })
        .collect();
    per_block.into_iter().flatten().collect()
}

/// Each query's mean squared distance to its `k` nearest references: a density score, large
/// where no reference lies near.
///
/// # Shapes
/// `refs`: n × d, `queries`: m × d → m
pub fn mean_nearest_distance(refs: &[f32], queries: &[f32], d: usize, k: usize) -> Vec<f64> {
    let nearest = k_nearest(refs, queries, d, k);
    nearest.iter().map(|nb| nb.iter().map(|&(s, _)| s.max(0.0) as f64).sum::<f64>() / nb.len().max(1) as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sq(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    #[test]
    fn the_nearest_references_match_brute_force_across_query_blocks() {
        // 600 queries: three blocks, the last one partial.
        let d = 3;
        let wave = |i: usize, f: f32| (i as f32 * f).sin() * 2.0;
        let refs: Vec<f32> = (0..90 * d).map(|i| wave(i, 0.737)).collect();
        let queries: Vec<f32> = (0..600 * d).map(|i| wave(i, 1.291)).collect();
        let got = k_nearest(&refs, &queries, d, 4);
        assert_eq!(got.len(), 600);
        for (q, nb) in queries.chunks(d).zip(&got) {
            let mut all: Vec<f32> = refs.chunks(d).map(|r| sq(r, q)).collect();
            all.sort_by(f32::total_cmp);
            assert_eq!(nb.len(), 4);
            for (j, &(s, i)) in nb.iter().enumerate() {
                let exact = sq(&refs[i * d..(i + 1) * d], q);
                assert!(
                    (s - exact).abs() < 1e-4 && (exact - all[j]).abs() < 1e-4,
                    "query {q:?}: {nb:?} vs {:?}",
                    &all[..4]
                );
            }
        }
    }

    #[test]
    fn mean_distance_averages_the_k_nearest_and_k_is_capped_by_the_references() {
        let refs = [0.0, 0.0, 3.0, 0.0, 0.0, 4.0]; // three 2-D points
        let q = [0.0, 0.0];
        let d = mean_nearest_distance(&refs, &q, 2, 2);
        assert!((d[0] - 4.5).abs() < 1e-4, "(0 + 9) / 2: {d:?}"); // 0 and 3² = 9
        let all = mean_nearest_distance(&refs, &q, 2, 10);
        assert!((all[0] - 25.0 / 3.0).abs() < 1e-4, "(0 + 9 + 16) / 3: {all:?}");
    }

    #[test]
    fn without_references_every_query_gets_an_empty_list() {
        let got = k_nearest(&[], &[1.0, 2.0, 3.0, 4.0], 2, 3);
        assert_eq!(got, vec![Vec::new(), Vec::new()]);
        assert_eq!(mean_nearest_distance(&[], &[1.0, 2.0], 2, 3), vec![0.0]);
    }
}
