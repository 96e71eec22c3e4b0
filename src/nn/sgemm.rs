//! Our own single-precision matrix multiply for x86-64 CPUs with AVX2 and FMA, in the shape
//! of BLIS (Van Zee & van de Geijn 2015): operands packed into cache-sized panels, and a 6 × 16
//! register-blocked micro-kernel that keeps all twelve 8-wide accumulators in registers.
//!
//! Why not the `gemm` crate dfdx builds: measured on this project's 2-core AMD EPYC (Zen 3)
//! with rustc 1.95, gemm 0.15's micro-kernel spills its accumulators to the stack and runs at
//! 18 GFLOP/s on one core for a 1024³ product (gemm 0.19: 25) against a measured FMA peak of
//! 88 GFLOP/s per core (`cargo bench --bench flops` prints both). The `gemm` crate stays the
//! path on CPUs without AVX2/FMA (see `kernels::gemm`).
//!
//! Against both crates on the models' own products (`cargo bench --bench gemm`: dense
//! 784×256 and 256×64, the convolutions' im2col products, the LSTM's gate products; forward,
//! weight and input gradients; batch 64 and 256), on a 2-core Intel Xeon with AVX-512, medians
//! of 15 rounds: ours is 0.88–1.37× `gemm` on one thread (median 1.04×) and 0.87–1.89× with both
//! cores (median 1.06×), but `matrixmultiply` 0.3 (nalgebra's, with its AVX-512 kernel) is faster
//! than ours on every shape on one thread (ours 0.48–0.95× of it, median 0.60×). This kernel is AVX2-only;
//! on AVX-512 CPUs it is kept for now because replacing it changes the last bits of every
//! published result, and the switch is measured end to end (training steps against PyTorch,
//! on both CPU kinds) with the AVX-512 performance work.

use std::arch::x86_64::*;
use std::cell::RefCell;

/// Rows of the micro-tile: 6 broadcasts of A per step.
const MR: usize = 6;
/// Columns of the micro-tile: two 8-wide vectors of B per step.
const NR: usize = 16;
/// Depth of a packed panel: a 16-column sliver of B (16 KB) stays in the 32 KB L1.
const KC: usize = 256;
/// Rows of packed A per block (96 × 256 × 4 B = 96 KB): stays in the 512 KB L2.
const MC: usize = 96;
/// Columns of packed B per block (256 × 2048 × 4 B = 2 MB): in L3.
const NC: usize = 2048;

/// A read-only strided operand: element `(i, j)` is at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub(crate) struct View {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

impl View {
    /// The view starting at `(i, j)`.
    unsafe fn at(self, i: usize, j: usize) -> View {
        View { ptr: self.ptr.add(i * self.rs + j * self.cs), ..self }
    }
}

/// The output, row-major with row stride `ld`.
#[derive(Clone, Copy)]
pub(crate) struct Out {
    pub ptr: *mut f32,
    pub ld: usize,
}

// SAFETY: threads get disjoint blocks of the output (see `gemm`) and only read the operands.
unsafe impl Send for View {}
unsafe impl Sync for View {}
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// True when this CPU can run the kernel (checked once).
pub(crate) fn available() -> bool {
    use std::sync::OnceLock;
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

thread_local! {
    /// Packing buffers, reused across calls on each thread (no allocation per product).
    static PACK: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `c (m × n) = [c +] a (m × k) · b (k × n)`, split over `threads` threads along the longer
/// side of `c`, each on its own block of rows or columns.
///
/// # Safety
/// [`available`] must be true; every element the views and `c` address must be valid, and
/// `c` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)] // the BLAS shape: sizes, output, flag, operands, threads
pub(crate) unsafe fn gemm(m: usize, n: usize, k: usize, c: Out, accumulate: bool, a: View, b: View, threads: usize) {
    if threads <= 1 {
        return serial(m, n, k, c, accumulate, a, b);
    }
    // Split the longer side of C into `threads` parts, rounded to whole micro-tiles.
    let (len, tile) = if n >= m { (n, NR) } else { (m, MR) };
    let part = len.div_ceil(threads).div_ceil(tile) * tile;
    rayon::scope(|s| {
        for start in (0..len).step_by(part) {
            let size = part.min(len - start);
            s.spawn(move |_| {
                // Capture the wrappers whole (they are Send), not their raw-pointer fields.
                let (c, a, b) = (c, a, b);
                if n >= m {
                    let c = Out { ptr: c.ptr.add(start), ..c };
                    serial(m, size, k, c, accumulate, a, b.at(0, start))
                } else {
                    let c = Out { ptr: c.ptr.add(start * c.ld), ..c };
                    serial(size, n, k, c, accumulate, a.at(start, 0), b)
                }
            });
        }
    });
}

/// The blocked product on the calling thread.
unsafe fn serial(m: usize, n: usize, k: usize, c: Out, accumulate: bool, a: View, b: View) {
    PACK.with_borrow_mut(|(pa, pb)| {
        // Grown, never shrunk: `resize` up again would zero-fill megabytes on every call
        // whose size differs from the last one's.
        let need_b = KC * NC.min(n.div_ceil(NR) * NR);
        if pa.len() < MC * KC {
            pa.resize(MC * KC, 0.0);
        }
        if pb.len() < need_b {
            pb.resize(need_b, 0.0);
        }
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                pack_b(kc, nc, b.at(pc, jc), pb);
                // Later depth blocks add to what the first wrote.
                let acc = accumulate || pc > 0;
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    pack_a(mc, kc, a.at(ic, pc), pa);
                    for jr in (0..nc).step_by(NR) {
                        for ir in (0..mc).step_by(MR) {
                            let tile = Out { ptr: c.ptr.add((ic + ir) * c.ld + jc + jr), ld: c.ld };
                            kernel(
                                kc,
                                pa.as_ptr().add(ir * kc),
                                pb.as_ptr().add(jr * kc),
                                tile,
                                MR.min(mc - ir),
                                NR.min(nc - jr),
                                acc,
                            );
                        }
                    }
                }
            }
        }
    })
}

/// Packs an `mc × kc` block of A as consecutive `MR`-row slivers, each `kc` steps of `MR`
/// values (zero-padded past the last row). Reads along A's contiguous direction.
unsafe fn pack_a(mc: usize, kc: usize, a: View, out: &mut [f32]) {
    for (s, sliver) in out.chunks_exact_mut(MR * kc).take(mc.div_ceil(MR)).enumerate() {
        let rows = MR.min(mc - s * MR);
        if rows < MR {
            sliver.fill(0.0);
        }
        let a = a.at(s * MR, 0);
        if a.rs == 1 {
            // Column-major A (a transposed operand): each step's values are contiguous.
            for (p, dst) in sliver.chunks_exact_mut(MR).enumerate() {
                copy_short::<MR>(a.ptr.add(p * a.cs), dst, rows);
            }
        } else if rows == MR {
            // Row-major A: the six rows side by side, 8 × 8 blocks transposed in registers
            // where the steps are contiguous (a.cs = 1), then step by step.
            let src: [*const f32; MR] = std::array::from_fn(|r| a.ptr.add(r * a.rs));
            let mut p0 = 0;
            if a.cs == 1 {
                while p0 + 8 <= kc {
                    pack_a_block(src.map(|s| s.add(p0)), sliver[p0 * MR..].as_mut_ptr());
                    p0 += 8;
                }
            }
            for (p, dst) in sliver.chunks_exact_mut(MR).enumerate().skip(p0) {
                for (d, s) in dst.iter_mut().zip(&src) {
                    *d = *s.add(p * a.cs);
                }
            }
        } else {
            for r in 0..rows {
                let src = a.ptr.add(r * a.rs);
                for (p, dst) in sliver.chunks_exact_mut(MR).enumerate() {
                    dst[r] = *src.add(p * a.cs);
                }
            }
        }
    }
}

/// Packs a `kc × nc` block of B as consecutive `NR`-column slivers, each `kc` steps of `NR`
/// values (zero-padded past the last column). Reads along B's contiguous direction.
unsafe fn pack_b(kc: usize, nc: usize, b: View, out: &mut [f32]) {
    for (s, sliver) in out.chunks_exact_mut(NR * kc).take(nc.div_ceil(NR)).enumerate() {
        let cols = NR.min(nc - s * NR);
        if cols < NR {
            sliver.fill(0.0);
        }
        let b = b.at(0, s * NR);
        if b.cs == 1 {
            // Row-major B: each step's values are contiguous.
            for (p, dst) in sliver.chunks_exact_mut(NR).enumerate() {
                copy_short::<NR>(b.ptr.add(p * b.rs), dst, cols);
            }
        } else {
            // Column-major B (a transposed operand): 8 × 8 blocks transposed in registers,
            // then the columns left over one by one.
            let mut p0 = 0;
            if b.rs == 1 && cols == NR {
                while p0 + 8 <= kc {
                    pack_b_block(b.ptr.add(p0), b.cs, sliver[p0 * NR..].as_mut_ptr());
                    p0 += 8;
                }
            }
            for j in 0..cols {
                let src = b.ptr.add(j * b.cs);
                for (p, dst) in sliver.chunks_exact_mut(NR).enumerate().skip(p0) {
                    dst[j] = *src.add(p * b.rs);
                }
            }
        }
    }
}

/// Eight steps of a 16-column sliver of column-major B: columns `j` at `src + j·cs` (8
/// contiguous values each) become rows of 16 at `dst` — two 8 × 8 transposes in registers
/// (a third of a dense layer's packing time went to the scalar version).
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_b_block(src: *const f32, cs: usize, dst: *mut f32) {
    for half in 0..2 {
        let rows = transpose8(std::array::from_fn(|j| _mm256_loadu_ps(src.add((half * 8 + j) * cs))));
        for (q, row) in rows.iter().enumerate() {
            _mm256_storeu_ps(dst.add(q * NR + half * 8), *row);
        }
    }
}

/// Eight steps of a 6-row sliver of row-major A: rows `r` at `src[r]` (8 contiguous values
/// each) become eight groups of 6 at `dst` — one 8 × 8 transpose in registers (two rows
/// unused). Each group but the last is stored 8 wide; its 2 extra values land where the next
/// group is stored right after.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_a_block(src: [*const f32; MR], dst: *mut f32) {
    let r: [__m256; MR] = std::array::from_fn(|i| _mm256_loadu_ps(src[i]));
    let cols = transpose8([r[0], r[1], r[2], r[3], r[4], r[5], r[5], r[5]]);
    for (q, col) in cols.iter().enumerate().take(7) {
        _mm256_storeu_ps(dst.add(q * MR), *col);
    }
    let last = dst.add(7 * MR);
    _mm_storeu_ps(last, _mm256_castps256_ps128(cols[7]));
    _mm_storel_epi64(last.add(4) as *mut __m128i, _mm_castps_si128(_mm256_extractf128_ps::<1>(cols[7])));
}

/// The transpose of an 8 × 8 block held in eight registers.
#[inline(always)]
unsafe fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// Copies `len ≤ N` values; a full copy has a compile-time length, so it becomes a few
/// vector moves instead of a call to `memcpy` (which cost 4 % of a dense training step).
#[inline(always)]
unsafe fn copy_short<const N: usize>(src: *const f32, dst: &mut [f32], len: usize) {
    if len == N {
        std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), N);
    } else {
        dst[..len].copy_from_slice(std::slice::from_raw_parts(src, len));
    }
}

/// One step of one tile row: broadcast `A[r]`, two FMAs into the row's accumulators.
macro_rules! fma_row {
    ($ap:expr, $r:expr, $b0:expr, $b1:expr, $c0:ident, $c1:ident) => {
        let av = _mm256_broadcast_ss(&*$ap.add($r));
        $c0 = _mm256_fmadd_ps(av, $b0, $c0);
        $c1 = _mm256_fmadd_ps(av, $b1, $c1);
    };
}

/// One 6 × 16 tile of C from a packed A sliver and a packed B sliver; writes only the first
/// `rows × cols` values (edge tiles).
///
/// The twelve accumulators are named variables, not an array: at opt-level 2 an array was
/// partly kept on the stack (seen in `perf annotate`), costing a third of the speed.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(kc: usize, a: *const f32, b: *const f32, c: Out, rows: usize, cols: usize, accumulate: bool) {
    let z = _mm256_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let b0 = _mm256_loadu_ps(bp);
        let b1 = _mm256_loadu_ps(bp.add(8));
        fma_row!(ap, 0, b0, b1, c00, c01);
        fma_row!(ap, 1, b0, b1, c10, c11);
        fma_row!(ap, 2, b0, b1, c20, c21);
        fma_row!(ap, 3, b0, b1, c30, c31);
        fma_row!(ap, 4, b0, b1, c40, c41);
        fma_row!(ap, 5, b0, b1, c50, c51);
        ap = ap.add(MR);
        bp = bp.add(NR);
    }
    let acc = [[c00, c01], [c10, c11], [c20, c21], [c30, c31], [c40, c41], [c50, c51]];
    if rows == MR && cols == NR {
        for (r, row) in acc.iter().enumerate() {
            let dst = c.ptr.add(r * c.ld);
            let (mut v0, mut v1) = (row[0], row[1]);
            if accumulate {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(dst));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(dst.add(8)));
            }
            _mm256_storeu_ps(dst, v0);
            _mm256_storeu_ps(dst.add(8), v1);
        }
    } else {
        let mut tmp = [[0.0f32; NR]; MR];
        for (t, row) in tmp.iter_mut().zip(&acc) {
            _mm256_storeu_ps(t.as_mut_ptr(), row[0]);
            _mm256_storeu_ps(t.as_mut_ptr().add(8), row[1]);
        }
        for (r, t) in tmp.iter().enumerate().take(rows) {
            let dst = c.ptr.add(r * c.ld);
            for (j, &v) in t.iter().enumerate().take(cols) {
                *dst.add(j) = if accumulate { *dst.add(j) + v } else { v };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a·b` in f64, for comparison; `a` and `b` as views over their data.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        ars: usize,
        acs: usize,
        b: &[f32],
        brs: usize,
        bcs: usize,
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * ars + p * acs] as f64 * b[p * brs + j * bcs] as f64).sum();
            }
        }
        c
    }

    #[test]
    fn matches_a_naive_product_on_edge_shapes_layouts_and_thread_counts() {
        if !available() {
            eprintln!("SKIPPED: this CPU has no AVX2/FMA; the gemm crate serves instead");
            return;
        }
        let val = |i: usize| ((i * 7919 % 1013) as f32 / 1013.0) - 0.5;
        // Sizes straddling the tile (6 × 16) and block (96, 256, 2048) edges.
        for &(m, n, k) in
            &[(1, 1, 1), (6, 16, 1), (7, 17, 3), (5, 15, 300), (97, 33, 257), (13, 2050, 9), (200, 40, 513)]
        {
            for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
                let a: Vec<f32> = (0..m * k).map(val).collect();
                let b: Vec<f32> = (0..k * n).map(|i| val(i + 5)).collect();
                let (ars, acs) = if a_t { (1, m) } else { (k, 1) };
                let (brs, bcs) = if b_t { (1, k) } else { (n, 1) };
                let want = naive(m, n, k, &a, ars, acs, &b, brs, bcs);
                for (threads, accumulate) in [(1, false), (2, true), (3, false)] {
                    let mut c = vec![if accumulate { 1.0 } else { f32::NAN }; m * n];
                    let (av, bv) =
                        (View { ptr: a.as_ptr(), rs: ars, cs: acs }, View { ptr: b.as_ptr(), rs: brs, cs: bcs });
                    unsafe { gemm(m, n, k, Out { ptr: c.as_mut_ptr(), ld: n }, accumulate, av, bv, threads) };
                    let base = if accumulate { 1.0 } else { 0.0 };
                    for (i, (&got, &w)) in c.iter().zip(&want).enumerate() {
                        let err = (got as f64 - base - w).abs();
                        assert!(
                            err <= 1e-4 * (1.0 + w.abs()),
                            "{m}×{n}×{k} a_t {a_t} b_t {b_t} threads {threads}: [{i}] {got} vs {w}"
                        );
                    }
                }
            }
        }
    }
}
