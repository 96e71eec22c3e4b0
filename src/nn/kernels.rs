//! CPU kernels behind the convolution layers: im2col / col2im over NCHW images, a gemm
//! wrapper (the `gemm` crate dfdx itself uses, threaded with rayon), and the reshuffles
//! between NCHW and channel-major layouts. Plain slices in, plain slices out; the layers
//! (`conv.rs`) put them on dfdx's tape.

use rayon::prelude::*;

/// The geometry of one convolution: an image batch `(b, c, h, w)` seen through a `k × k`
/// window with stride `s` and zero padding `p`, giving an `oh × ow` grid of window positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Images in the batch.
    pub b: usize,
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Window size.
    pub k: usize,
    /// Stride.
    pub s: usize,
    /// Zero padding on every side.
    pub p: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// Output size of a convolution along one axis: `(n + 2p − k) / s + 1`.
pub const fn conv_out(n: usize, k: usize, s: usize, p: usize) -> usize {
    (n + 2 * p - k) / s + 1
}

/// Output size of a transposed convolution along one axis: `(n − 1)·s − 2p + k + op`.
pub const fn conv_transpose_out(n: usize, k: usize, s: usize, p: usize, op: usize) -> usize {
    (n - 1) * s + k + op - 2 * p
}

impl Geometry {
    /// Rows of the column matrix: one per (channel, ky, kx).
    pub fn rows(&self) -> usize {
        self.c * self.k * self.k
    }
    /// Columns of the column matrix: one per (image, oy, ox).
    pub fn cols(&self) -> usize {
        self.b * self.oh * self.ow
    }

    /// For window row `ky` (or column `kx`) and output position `o`, the input index, or
    /// `None` in the padding.
    #[inline]
    fn src(&self, o: usize, kk: usize, n: usize) -> Option<usize> {
        (o * self.s + kk).checked_sub(self.p).filter(|&i| i < n)
    }
}

/// `img` (b, c, h, w) → `cols` (c·k·k, b·oh·ow): column `(n, oy, ox)` of row `(ci, ky, kx)`
/// holds pixel `(n, ci, oy·s + ky − p, ox·s + kx − p)`, or 0 in the padding.
pub fn im2col(g: &Geometry, img: &[f32], cols: &mut [f32]) {
    debug_assert_eq!(img.len(), g.b * g.c * g.h * g.w);
    debug_assert_eq!(cols.len(), g.rows() * g.cols());
    let (ohw, hw) = (g.oh * g.ow, g.h * g.w);
    cols.par_chunks_mut(g.cols()).enumerate().for_each(|(row, out)| {
        let (ci, ky, kx) = (row / (g.k * g.k), row / g.k % g.k, row % g.k);
        for n in 0..g.b {
            let plane = &img[(n * g.c + ci) * hw..][..hw];
            let out = &mut out[n * ohw..][..ohw];
            for oy in 0..g.oh {
                let line = &mut out[oy * g.ow..][..g.ow];
                match g.src(oy, ky, g.h) {
                    None => line.fill(0.0),
                    Some(iy) => {
                        let src = &plane[iy * g.w..][..g.w];
                        for (ox, v) in line.iter_mut().enumerate() {
                            *v = g.src(ox, kx, g.w).map_or(0.0, |ix| src[ix]);
                        }
                    }
                }
            }
        }
    });
}

/// The adjoint of [`im2col`]: adds each entry of `cols` (c·k·k, b·oh·ow) into the pixel of
/// `img` (b, c, h, w) it was read from. Parallel over image planes, so writes never collide.
pub fn col2im_add(g: &Geometry, cols: &[f32], img: &mut [f32]) {
    debug_assert_eq!(img.len(), g.b * g.c * g.h * g.w);
    debug_assert_eq!(cols.len(), g.rows() * g.cols());
    let (ohw, hw, kk) = (g.oh * g.ow, g.h * g.w, g.k * g.k);
    img.par_chunks_mut(hw).enumerate().for_each(|(plane_ix, plane)| {
        let (n, ci) = (plane_ix / g.c, plane_ix % g.c);
        for r in 0..kk {
            let (ky, kx) = (r / g.k, r % g.k);
            let col = &cols[(ci * kk + r) * g.cols() + n * ohw..][..ohw];
            for oy in 0..g.oh {
                let Some(iy) = g.src(oy, ky, g.h) else { continue };
                let dst = &mut plane[iy * g.w..][..g.w];
                for (ox, &v) in col[oy * g.ow..][..g.ow].iter().enumerate() {
                    if let Some(ix) = g.src(ox, kx, g.w) {
                        dst[ix] += v;
                    }
                }
            }
        }
    });
}

/// A matrix operand: data and its row and column strides.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    /// The values.
    pub data: &'a [f32],
    /// Distance between consecutive rows.
    pub rs: usize,
    /// Distance between consecutive columns.
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        Self { data, rs: cols, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub fn t(data: &'a [f32], cols: usize) -> Self {
        Self { data, rs: 1, cs: cols }
    }
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// `dst (m × n, row-major) = [dst +] a (m × k) · b (k × n)`, on all rayon threads when the
/// product is large enough to pay for them.
pub fn gemm(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, a: Mat, b: Mat) {
    assert!(dst.len() == m * n && a.fits(m, k) && b.fits(k, n), "gemm operand sizes");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    let threads = if m * n * k < PARALLEL_MACS { 1 } else { rayon::current_num_threads() };
    #[cfg(target_arch = "x86_64")]
    if super::sgemm::available() {
        use super::sgemm::{Out, View};
        let view = |x: Mat| View { ptr: x.data.as_ptr(), rs: x.rs, cs: x.cs };
        // SAFETY: the CPU has AVX2 and FMA; the assertion above keeps every index the kernel
        // touches inside the slices, and `dst` is a unique borrow.
        unsafe {
            super::sgemm::gemm(m, n, k, Out { ptr: dst.as_mut_ptr(), ld: n }, accumulate, view(a), view(b), threads)
        };
        return;
    }
    let parallelism = if threads == 1 { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(0) };
    // SAFETY: the assertion above keeps every index the kernel touches inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// Below this many multiply-adds a product runs on one thread: handing the work to rayon's
/// threads costs more than it saves (measured with the LSTM's per-step products).
const PARALLEL_MACS: usize = 1 << 20;

/// A work buffer from a small per-thread pool, handed back to it when dropped: the layers'
/// im2col matrices and transposed copies are the same sizes every step, and allocating them
/// afresh cost a fifth of a conv training step in zeroing and page faults (`perf`).
///
/// [`Scratch::new`]'s values are **stale** (whatever the last user left): only for buffers
/// the caller overwrites entirely, such as a gemm output with `accumulate = false` or an
/// im2col matrix.
pub struct Scratch {
    buf: Vec<f32>,
    len: usize,
}

/// Buffers kept per thread; more are freed.
const POOL_SIZE: usize = 8;

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Scratch {
    /// A buffer of `len` values, not zeroed (see above).
    pub fn new(len: usize) -> Self {
        let pooled = POOL.with_borrow_mut(|pool| {
            // The smallest pooled buffer that fits.
            let best = pool.iter().enumerate().filter(|(_, b)| b.len() >= len).min_by_key(|(_, b)| b.len())?.0;
            Some(pool.swap_remove(best))
        });
        Self { buf: pooled.unwrap_or_else(|| vec![0.0; len]), len }
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[..self.len]
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[..self.len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // `try_with`: while a thread is exiting its pool may already be gone; the buffer is
        // then simply freed (a panic in `drop` there would abort).
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            pool.push(buf);
            if pool.len() > POOL_SIZE {
                // Drop the smallest: the large ones are the expensive ones to remake.
                let small = pool.iter().enumerate().min_by_key(|(_, b)| b.len()).map(|(i, _)| i).unwrap_or(0);
                pool.swap_remove(small);
            }
        });
    }
}

/// `(b, c, hw)` → `(c, b·hw)`: channel-major, so a batch is one matrix for the gemm.
pub fn to_channel_major(x: &[f32], b: usize, c: usize, hw: usize) -> Scratch {
    let mut out = Scratch::new(x.len());
    out.par_chunks_mut(b * hw).enumerate().for_each(|(ci, row)| {
        for n in 0..b {
            row[n * hw..][..hw].copy_from_slice(&x[(n * c + ci) * hw..][..hw]);
        }
    });
    out
}

/// `(c, b·hw)` → `(b, c, hw)`, adding `bias[c]` to every value of channel `c` (if given).
pub fn from_channel_major(x: &[f32], b: usize, c: usize, hw: usize, bias: Option<&[f32]>) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    out.par_chunks_mut(hw).enumerate().for_each(|(i, plane)| {
        let (n, ci) = (i / c, i % c);
        let add = bias.map_or(0.0, |b| b[ci]);
        for (o, &v) in plane.iter_mut().zip(&x[ci * b * hw + n * hw..][..hw]) {
            *o = v + add;
        }
    });
    out
}

/// Per-channel sums of `(b, c, hw)`, added into `acc` (c): the bias gradient.
pub fn channel_sums_add(x: &[f32], b: usize, c: usize, hw: usize, acc: &mut [f32]) {
    for n in 0..b {
        for (ci, a) in acc.iter_mut().enumerate() {
            *a += x[(n * c + ci) * hw..][..hw].iter().sum::<f32>();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct convolution, for comparison.
    fn naive(g: &Geometry, img: &[f32], w: &[f32], co: usize) -> Vec<f32> {
        let mut out = vec![0.0; g.b * co * g.oh * g.ow];
        for n in 0..g.b {
            for o in 0..co {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut acc = 0.0;
                        for ci in 0..g.c {
                            for ky in 0..g.k {
                                for kx in 0..g.k {
                                    let (Some(iy), Some(ix)) = (g.src(oy, ky, g.h), g.src(ox, kx, g.w)) else {
                                        continue;
                                    };
                                    acc += img[((n * g.c + ci) * g.h + iy) * g.w + ix]
                                        * w[((o * g.c + ci) * g.k + ky) * g.k + kx];
                                }
                            }
                        }
                        out[((n * co + o) * g.oh + oy) * g.ow + ox] = acc;
                    }
                }
            }
        }
        out
    }

    fn ramp(n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * scale).collect()
    }

    #[test]
    fn im2col_gemm_equals_a_direct_convolution() {
        for (b, c, h, w, k, s, p, co) in
            [(2, 3, 7, 5, 3, 1, 1, 4), (1, 1, 28, 28, 3, 2, 1, 2), (3, 2, 6, 6, 2, 2, 0, 3)]
        {
            let g = Geometry { b, c, h, w, k, s, p, oh: conv_out(h, k, s, p), ow: conv_out(w, k, s, p) };
            let (img, wt) = (ramp(b * c * h * w, 1.0), ramp(co * g.rows(), 0.5));
            let mut cols = vec![0.0; g.rows() * g.cols()];
            im2col(&g, &img, &mut cols);
            let mut yt = vec![0.0; co * g.cols()];
            gemm(co, g.cols(), g.rows(), &mut yt, false, Mat::rows(&wt, g.rows()), Mat::rows(&cols, g.cols()));
            let y = from_channel_major(&yt, b, co, g.oh * g.ow, None);
            let want = naive(&g, &img, &wt, co);
            let err = y.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 1e-5, "{g:?}: max error {err}");
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> = <x, col2im(y)> for all x, y.
        let g =
            Geometry { b: 2, c: 3, h: 7, w: 6, k: 3, s: 2, p: 1, oh: conv_out(7, 3, 2, 1), ow: conv_out(6, 3, 2, 1) };
        let (x, y) = (ramp(g.b * g.c * g.h * g.w, 1.0), ramp(g.rows() * g.cols(), 0.3));
        let mut cx = vec![0.0; y.len()];
        im2col(&g, &x, &mut cx);
        let mut ay = vec![0.0; x.len()];
        col2im_add(&g, &y, &mut ay);
        let lhs: f64 = cx.iter().zip(&y).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        let rhs: f64 = x.iter().zip(&ay).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
    }
}
