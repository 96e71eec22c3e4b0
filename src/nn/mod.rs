//! Layers the models are made of. dfdx's `Linear` fixes both sizes at compile time; [`Dense`]
//! takes each size as a [`Dim`](dfdx::shapes::Dim), so the same layer serves a compile-time
//! checked model (`Const<784>`) and one whose sizes come from a config file (`usize`).

pub(crate) mod activation;
pub mod conv;
mod dense;
pub mod kernels;
pub mod lstm;
pub mod math;
mod params;
pub mod scratch;
#[cfg(target_arch = "x86_64")]
mod sgemm;

pub use activation::Activation;
pub use conv::{Conv2d, ConvTranspose2d, Flatten, Image, MaxPool2d, Unflatten, Upsample2d, UpsampleMode};
pub use dense::{Dense, FrozenDense};
pub use lstm::{repeat_steps, Lstm, Sequence};
pub use params::{join, Param, ParamRow, Params, Subset};

/// The device every model runs on today.
pub type Dev = dfdx::tensor::Cpu;

/// Keeps freed buffers in the process for reuse (glibc only; elsewhere a no-op). A training
/// step allocates and frees buffers of a few hundred KB to a few MB; by default glibc hands
/// blocks that large straight back to the OS and the next step faults them in again, page by
/// zeroed page: 217,000 page faults in one run of `cargo bench --bench flops` against 12,000
/// with this (and its dense layers 2.5× faster). Raises the mmap threshold to 64 MiB and the
/// trim threshold to 256 MiB: at most that much freed memory stays mapped. Called once by
/// `fit`, the CLI and the benchmarks; idempotent.
pub fn tune_allocator() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: `mallopt` only sets allocator parameters; it is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        }
    });
}

/// Runs `f` on a thread of rayon's global pool (at once when called from one) and returns
/// what it returns; the calling thread waits.
///
/// Parallel work started from outside the pool — each matrix product, each chunked
/// elementwise pass — hands the pool a job and puts the calling thread to sleep until it is
/// done, dozens of times per training step: a VAE 784→400→20 epoch made 100,000 context
/// switches (`perf stat`, 2-core Xeon). From a thread of the pool, the caller works on what it
/// splits and takes back the parts nobody stole: 10× fewer switches. The trainer runs its
/// loop here.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// The values of a **contiguous** tensor, copied with one `memcpy`. dfdx's `as_vec` walks
/// every index through the strides, which took an eighth of a dense training step (`perf`).
/// Layers make their input contiguous first (`.contiguous()`, free when it already is);
/// parameters and their gradients always are.
pub fn values<S: dfdx::shapes::Shape, T>(t: &dfdx::tensor::Tensor<S, f32, Dev, T>) -> Vec<f32> {
    use dfdx::shapes::HasShape;
    let mut v = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

/// [`values`] into a buffer taken from this thread's [`scratch`] pool; give it back with
/// [`scratch::give`] when done (a layer's backward pass does) or let it drop.
pub fn values_pooled<S: dfdx::shapes::Shape, T>(t: &dfdx::tensor::Tensor<S, f32, Dev, T>) -> Vec<f32> {
    use dfdx::shapes::HasShape;
    let mut v = scratch::take(t.shape().num_elements());
    t.copy_into(&mut v);
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn on_pool_runs_on_a_thread_of_the_pool_and_returns_what_it_returns() {
        assert_eq!(rayon::current_thread_index(), None, "the test's own thread is not the pool's");
        let (index, value) = super::on_pool(|| (rayon::current_thread_index(), 6 * 7));
        assert!(index.is_some(), "ran on a thread of the pool");
        assert_eq!(value, 42);
        // From a thread of the pool it runs at once, on that thread.
        let same = super::on_pool(|| {
            let outer = rayon::current_thread_index();
            super::on_pool(rayon::current_thread_index) == outer
        });
        assert!(same);
    }
}
