//! Buffers reused from one training step to the next on the same thread.
//!
//! A dense layer copies its input and weights out of dfdx's tensors every forward pass (dfdx
//! 0.13 lends no view of a tensor's storage) and keeps the copies for its backward pass. Fresh
//! zero-filled vectors for them cost a `memset` as long as the copy itself; taking last step's
//! vectors back skips it (`perf` of a VAE 784→400→20 epoch: the zero-fills were 3 % of it).

use std::cell::RefCell;

/// Buffers kept per thread at most; more given back are dropped. A step of a dense model
/// takes two per layer and gives them back in its backward pass.
const KEEP: usize = 32;

thread_local! {
    static POOL: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A vector of `len` values **with unspecified contents** (what its last user left there):
/// for a caller that overwrites every one. The smallest kept buffer that is long enough, else
/// a new one.
pub fn take(len: usize) -> Vec<f32> {
    let kept = POOL.with_borrow_mut(|pool| {
        let best = pool.iter().enumerate().filter(|(_, v)| v.len() >= len).min_by_key(|(_, v)| v.len());
        best.map(|(i, _)| i).map(|i| pool.swap_remove(i))
    });
    match kept {
        Some(mut v) => {
            v.truncate(len);
            v
        }
        None => vec![0.0; len],
    }
}

/// Keeps `v` for a later [`take`] on this thread (or drops it when enough are kept).
pub fn give(v: Vec<f32>) {
    POOL.with_borrow_mut(|pool| {
        if pool.len() < KEEP && !v.is_empty() {
            pool.push(v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_back_the_smallest_buffer_that_fits_and_sizes_it() {
        give(vec![1.0; 10]);
        give(vec![2.0; 4]);
        let v = take(3);
        assert_eq!(v, vec![2.0; 3], "the 4-long buffer, cut to 3");
        let w = take(8);
        assert_eq!(w, vec![1.0; 8]);
        assert_eq!(take(5), vec![0.0; 5], "nothing kept fits: a new one");
    }
}
