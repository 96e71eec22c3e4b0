//! Our own single-precision matrix multiply for x86-64 CPUs with AVX2 and FMA, in the shape
//! of BLIS (Van Zee & van de Geijn 2015): operands packed into cache-sized panels (a row-major
//! left operand is read in place instead, as BLIS's small-problem path does), and a
//! register-blocked micro-kernel that keeps all its accumulators in registers — 6 × 16 with
//! AVX2, 12 × 32 with AVX-512 where the CPU has it (chosen at run time, one binary). Both
//! compute every element with the same FMA chain, so results do not depend on which ran.
//! (AVX-512 intrinsics are stable since Rust 1.89, hence the crate's `rust-version`.)
//!
//! Why not the `gemm` crate dfdx builds: measured on this project's 2-core AMD EPYC (Zen 3)
//! with rustc 1.95, gemm 0.15's micro-kernel spills its accumulators to the stack and runs at
//! 18 GFLOP/s on one core for a 1024³ product (gemm 0.19: 25) against a measured FMA peak of
//! 88 GFLOP/s per core (`cargo bench --bench flops` prints both). The `gemm` crate stays the
//! path on CPUs without AVX2/FMA (see `kernels::gemm`).
//!
//! Against both crates on the models' own products (`cargo bench --bench gemm`: dense
//! 784×256 and 256×64, the convolutions' im2col products, the LSTM's gate products; forward,
//! weight and input gradients; batch 64 and 256), on a 2-core Intel Xeon with AVX-512, one
//! thread, 5 rounds: the AVX2 kernel alone reached 0.48–0.88× of `matrixmultiply` 0.3
//! (nalgebra's, which has an AVX-512 kernel); with the AVX-512 kernel ours is 0.49–1.40× of
//! it (dense layers at batch 256: 0.89–1.03×, 116–147 GFLOP/s against the AVX2 kernel's
//! 48–79), and 1.0–2.0× `gemm` 0.15. `AUTOENCODERS_GEMM=avx2` forces the AVX2 kernel.

use std::arch::x86_64::*;
use std::cell::RefCell;

/// Depth of a packed panel: a 16-column sliver of B (16 KB) stays in the 32 KB L1.
const KC: usize = 256;
/// Rows of packed A per block (96 × 256 × 4 B = 96 KB): stays in the 512 KB L2. A multiple
/// of both kernels' tile heights.
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

/// A register-blocked micro-kernel: one `MR × NR` tile of C from packed slivers of A and B.
///
/// Every kernel computes each element of C the same way — one FMA chain over the `KC` steps of
/// a depth block, started from zero, then added to C — so the kernels agree bit for bit (tested)
/// and the choice between them changes speed only.
trait Micro {
    /// Rows of the tile (broadcasts of A per step); divides `MC`, a multiple of 6.
    const MR: usize;
    /// Columns of the tile (vectors of B per step); divides `NC`, a multiple of 8.
    const NR: usize;
    /// Whether [`serial`] lets the kernel read a row-major A in place (else it is packed like
    /// any other; only the tests' `PackA` says no, to compare the two ways).
    const A_IN_PLACE: bool = true;
    /// Writes `tile` over `kc` steps. A is a packed sliver (`IN_PLACE` false; `lda` unused)
    /// or, in place, the first of the tile's rows of a row-major A with row stride `lda`.
    unsafe fn kernel<const IN_PLACE: bool>(kc: usize, a: *const f32, lda: usize, b: *const f32, tile: Tile);
}

/// Where a micro-kernel writes: its tile of C, how much of the tile lies inside C (all of it
/// but at the edges), and whether it adds to C.
#[derive(Clone, Copy)]
struct Tile {
    c: Out,
    rows: usize,
    cols: usize,
    accumulate: bool,
}

/// 6 × 16 with AVX2 and FMA: twelve 8-wide accumulators of the sixteen registers.
struct Avx2;

/// 12 × 32 with AVX-512: twenty-four 16-wide accumulators of the thirty-two registers, four
/// times the AVX2 tile's work per step for the same loads per FMA.
struct Avx512;

impl Micro for Avx2 {
    const MR: usize = 6;
    const NR: usize = 16;
    unsafe fn kernel<const IN_PLACE: bool>(kc: usize, a: *const f32, lda: usize, b: *const f32, tile: Tile) {
        kernel_avx2::<IN_PLACE>(kc, a, lda, b, tile)
    }
}

impl Micro for Avx512 {
    const MR: usize = 12;
    const NR: usize = 32;
    unsafe fn kernel<const IN_PLACE: bool>(kc: usize, a: *const f32, lda: usize, b: *const f32, tile: Tile) {
        kernel_avx512::<IN_PLACE>(kc, a, lda, b, tile)
    }
}

/// Which kernel `gemm` runs: AVX-512 where the CPU has it (checked once) and C has at least
/// `WIDE_MIN_N` columns, else AVX2. `AUTOENCODERS_GEMM=avx2` forces the AVX2 kernel, for
/// benchmarks and for checking that the two agree.
fn wide(n: usize) -> bool {
    use std::sync::OnceLock;
    static OK: OnceLock<bool> = OnceLock::new();
    n >= WIDE_MIN_N
        && *OK.get_or_init(|| {
            is_x86_feature_detected!("avx512f") && std::env::var("AUTOENCODERS_GEMM").as_deref() != Ok("avx2")
        })
}

/// Below one full wide tile of columns, more of a 32-wide tile than of a 16-wide one is
/// padding (an 8-column product fills a quarter of it); the threshold is not tuned yet.
const WIDE_MIN_N: usize = 32;

/// `c (m × n) = [c +] a (m × k) · b (k × n)`, split over `threads` threads along the longer
/// side of `c`, each on its own block of rows or columns.
///
/// # Safety
/// [`available`] must be true; every element the views and `c` address must be valid, and
/// `c` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)] // the BLAS shape: sizes, output, flag, operands, threads
pub(crate) unsafe fn gemm(m: usize, n: usize, k: usize, c: Out, accumulate: bool, a: View, b: View, threads: usize) {
    if wide(n) {
        split::<Avx512>(m, n, k, c, accumulate, a, b, threads)
    } else {
        split::<Avx2>(m, n, k, c, accumulate, a, b, threads)
    }
}

/// [`gemm`] with the kernel `K`.
#[allow(clippy::too_many_arguments)]
unsafe fn split<K: Micro>(m: usize, n: usize, k: usize, c: Out, accumulate: bool, a: View, b: View, threads: usize) {
    if threads <= 1 {
        return serial::<K>(m, n, k, c, accumulate, a, b);
    }
    // Split the longer side of C into `threads` parts, rounded to whole micro-tiles.
    let (len, tile) = if n >= m { (n, K::NR) } else { (m, K::MR) };
    let part = len.div_ceil(threads).div_ceil(tile) * tile;
    rayon::scope(|s| {
        for start in (0..len).step_by(part) {
            let size = part.min(len - start);
            s.spawn(move |_| {
                // Capture the wrappers whole (they are Send), not their raw-pointer fields.
                let (c, a, b) = (c, a, b);
                if n >= m {
                    let c = Out { ptr: c.ptr.add(start), ..c };
                    serial::<K>(m, size, k, c, accumulate, a, b.at(0, start))
                } else {
                    let c = Out { ptr: c.ptr.add(start * c.ld), ..c };
                    serial::<K>(size, n, k, c, accumulate, a.at(start, 0), b)
                }
            });
        }
    });
}

/// The blocked product on the calling thread.
///
/// A row-major A (its steps contiguous) is read in place by the micro-kernel rather than
/// packed: each thread packed all of a batch's rows of A for its half of the columns, and
/// the 8 × 8 transposes of that packing were 4 % of a VAE 784→400→20 training epoch (`perf`,
/// 2-core Xeon).
unsafe fn serial<K: Micro>(m: usize, n: usize, k: usize, c: Out, accumulate: bool, a: View, b: View) {
    let in_place = a.cs == 1 && K::A_IN_PLACE;
    PACK.with_borrow_mut(|(pa, pb)| {
        // Grown, never shrunk: `resize` up again would zero-fill megabytes on every call
        // whose size differs from the last one's.
        let need_b = KC * NC.min(n.div_ceil(K::NR) * K::NR);
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
                pack_b::<K>(kc, nc, b.at(pc, jc), pb);
                // Later depth blocks add to what the first wrote.
                let acc = accumulate || pc > 0;
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    if !in_place {
                        pack_a::<K>(mc, kc, a.at(ic, pc), pa);
                    }
                    for jr in (0..nc).step_by(K::NR) {
                        for ir in (0..mc).step_by(K::MR) {
                            let tile = Tile {
                                c: Out { ptr: c.ptr.add((ic + ir) * c.ld + jc + jr), ld: c.ld },
                                rows: K::MR.min(mc - ir),
                                cols: K::NR.min(nc - jr),
                                accumulate: acc,
                            };
                            let bp = pb.as_ptr().add(jr * kc);
                            if in_place {
                                K::kernel::<true>(kc, a.at(ic + ir, pc).ptr, a.rs, bp, tile);
                            } else {
                                K::kernel::<false>(kc, pa.as_ptr().add(ir * kc), 0, bp, tile);
                            }
                        }
                    }
                }
            }
        }
    })
}

/// Packs an `mc × kc` block of A as consecutive `MR`-row slivers, each `kc` steps of `MR`
/// values (zero-padded past the last row). Reads along A's contiguous direction.
unsafe fn pack_a<K: Micro>(mc: usize, kc: usize, a: View, out: &mut [f32]) {
    let mr = K::MR;
    for (s, sliver) in out.chunks_exact_mut(mr * kc).take(mc.div_ceil(mr)).enumerate() {
        let rows = mr.min(mc - s * mr);
        if rows < mr {
            sliver.fill(0.0);
        }
        let a = a.at(s * mr, 0);
        if a.rs == 1 {
            // Column-major A (a transposed operand): each step's values are contiguous.
            for (p, dst) in sliver.chunks_exact_mut(mr).enumerate() {
                copy_short(a.ptr.add(p * a.cs), dst, rows);
            }
        } else if rows == mr {
            // Row-major A: the rows side by side, 8 × 8 blocks transposed in registers where
            // the steps are contiguous (a.cs = 1), then step by step.
            let mut p0 = 0;
            if a.cs == 1 {
                while p0 + 8 <= kc {
                    pack_a_block(a.at(0, p0), mr, sliver[p0 * mr..].as_mut_ptr());
                    p0 += 8;
                }
            }
            for (p, dst) in sliver.chunks_exact_mut(mr).enumerate().skip(p0) {
                for (r, d) in dst.iter_mut().enumerate() {
                    *d = *a.ptr.add(r * a.rs + p * a.cs);
                }
            }
        } else {
            for r in 0..rows {
                let src = a.ptr.add(r * a.rs);
                for (p, dst) in sliver.chunks_exact_mut(mr).enumerate() {
                    dst[r] = *src.add(p * a.cs);
                }
            }
        }
    }
}

/// Packs a `kc × nc` block of B as consecutive `NR`-column slivers, each `kc` steps of `NR`
/// values (zero-padded past the last column). Reads along B's contiguous direction.
unsafe fn pack_b<K: Micro>(kc: usize, nc: usize, b: View, out: &mut [f32]) {
    let nr = K::NR;
    for (s, sliver) in out.chunks_exact_mut(nr * kc).take(nc.div_ceil(nr)).enumerate() {
        let cols = nr.min(nc - s * nr);
        if cols < nr {
            sliver.fill(0.0);
        }
        let b = b.at(0, s * nr);
        if b.cs == 1 {
            // Row-major B: each step's values are contiguous.
            for (p, dst) in sliver.chunks_exact_mut(nr).enumerate() {
                copy_short(b.ptr.add(p * b.rs), dst, cols);
            }
        } else {
            // Column-major B (a transposed operand): 8 × 8 blocks transposed in registers,
            // then the columns left over one by one.
            let mut p0 = 0;
            if b.rs == 1 && cols == nr {
                while p0 + 8 <= kc {
                    pack_b_block(b.ptr.add(p0), b.cs, nr, sliver[p0 * nr..].as_mut_ptr());
                    p0 += 8;
                }
            }
            for j in 0..cols {
                let src = b.ptr.add(j * b.cs);
                for (p, dst) in sliver.chunks_exact_mut(nr).enumerate().skip(p0) {
                    dst[j] = *src.add(p * b.rs);
                }
            }
        }
    }
}

/// Eight steps of an `nr`-column sliver of column-major B: columns `j` at `src + j·cs` (8
/// contiguous values each) become rows of `nr` at `dst` — `nr / 8` 8 × 8 transposes in
/// registers (a third of a dense layer's packing time went to the scalar version).
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_b_block(src: *const f32, cs: usize, nr: usize, dst: *mut f32) {
    for part in 0..nr / 8 {
        let rows = transpose8(std::array::from_fn(|j| _mm256_loadu_ps(src.add((part * 8 + j) * cs))));
        for (q, row) in rows.iter().enumerate() {
            _mm256_storeu_ps(dst.add(q * nr + part * 8), *row);
        }
    }
}

/// Eight steps of an `mr`-row sliver of row-major A (`mr` a multiple of 6): rows `r` at
/// `a.ptr + r·a.rs` (8 contiguous values each) become eight groups of `mr` at `dst` — one
/// 8 × 8 transpose in registers per 6 rows (two rows unused). Each group of 6 is stored 8
/// wide, its 2 extra values landing where the next group of 6 is stored right after; the
/// very last one is stored 6 wide, so nothing past the eight groups is touched.
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_a_block(a: View, mr: usize, dst: *mut f32) {
    debug_assert!(mr.is_multiple_of(6) && mr <= 12);
    let mut cols = [[_mm256_setzero_ps(); 8]; 2];
    for (h, c) in cols.iter_mut().enumerate().take(mr / 6) {
        let r: [__m256; 6] = std::array::from_fn(|i| _mm256_loadu_ps(a.ptr.add((6 * h + i) * a.rs)));
        *c = transpose8([r[0], r[1], r[2], r[3], r[4], r[5], r[5], r[5]]);
    }
    for q in 0..8 {
        for (h, c) in cols.iter().enumerate().take(mr / 6) {
            let out = dst.add(q * mr + 6 * h);
            if q == 7 && h == mr / 6 - 1 {
                _mm_storeu_ps(out, _mm256_castps256_ps128(c[q]));
                _mm_storel_epi64(out.add(4) as *mut __m128i, _mm_castps_si128(_mm256_extractf128_ps::<1>(c[q])));
            } else {
                _mm256_storeu_ps(out, c[q]);
            }
        }
    }
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

/// Copies `len ≤ dst.len()` values; a full copy of the 6-, 12-, 16- or 32-value groups has a
/// compile-time length, so it becomes a few vector moves instead of a call to `memcpy`
/// (which cost 4 % of a dense training step).
#[inline(always)]
unsafe fn copy_short(src: *const f32, dst: &mut [f32], len: usize) {
    macro_rules! fixed {
        ($($n:literal)*) => {
            match (dst.len(), len) {
                $(($n, $n) => return std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), $n),)*
                _ => {}
            }
        };
    }
    fixed!(6 12 16 32);
    dst[..len].copy_from_slice(std::slice::from_raw_parts(src, len));
}

/// Stores a finished tile: full rows as vectors, or the first `rows × cols` values through a
/// buffer at the edges.
#[inline(always)]
unsafe fn store_tile<const R: usize, const C: usize>(
    acc: &[[f32; C]; R],
    c: Out,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    for (r, t) in acc.iter().enumerate().take(rows) {
        let dst = c.ptr.add(r * c.ld);
        for (j, &v) in t.iter().enumerate().take(cols) {
            *dst.add(j) = if accumulate { *dst.add(j) + v } else { v };
        }
    }
}

/// Writes a finished tile of accumulators (`acc[row] = [left, right]`, each `$w` wide) to C:
/// whole rows as vectors, or through a buffer when only `rows × cols` of it lie inside C.
macro_rules! write_tile {
    ($acc:ident, $c:ident, $rows:ident, $cols:ident, $accumulate:ident, $k:ty, $w:literal, $load:ident, $add:ident, $store:ident) => {
        if $rows == <$k>::MR && $cols == <$k>::NR {
            for (r, row) in $acc.iter().enumerate() {
                let dst = $c.ptr.add(r * $c.ld);
                let (mut v0, mut v1) = (row[0], row[1]);
                if $accumulate {
                    v0 = $add(v0, $load(dst));
                    v1 = $add(v1, $load(dst.add($w)));
                }
                $store(dst, v0);
                $store(dst.add($w), v1);
            }
        } else {
            let mut tmp = [[0.0f32; 2 * $w]; <$k>::MR];
            for (t, row) in tmp.iter_mut().zip(&$acc) {
                $store(t.as_mut_ptr(), row[0]);
                $store(t.as_mut_ptr().add($w), row[1]);
            }
            store_tile(&tmp, $c, $rows, $cols, $accumulate);
        }
    };
}

/// One step of one tile row: broadcast the row's value at `$ap`, two FMAs into the row's
/// accumulators.
macro_rules! fma_row {
    ($ap:expr, $b0:expr, $b1:expr, $c0:ident, $c1:ident) => {
        let av = _mm256_broadcast_ss(&*$ap);
        $c0 = _mm256_fmadd_ps(av, $b0, $c0);
        $c1 = _mm256_fmadd_ps(av, $b1, $c1);
    };
}

/// Where each of a tile's `R` rows of A starts, and the distance between its steps: in a
/// packed sliver, row `r` at `a + r` and steps `R` apart; in place, row `r` at `a + r·lda` and
/// steps adjacent. An edge tile's rows past `rows` repeat its last row (nothing past A is
/// read; their results are not stored).
#[inline(always)]
unsafe fn a_rows<const R: usize, const IN_PLACE: bool>(
    a: *const f32,
    lda: usize,
    rows: usize,
) -> ([*const f32; R], usize) {
    if IN_PLACE {
        (std::array::from_fn(|r| a.add(r.min(rows - 1) * lda)), 1)
    } else {
        (std::array::from_fn(|r| a.add(r)), R)
    }
}

/// One 6 × 16 tile of C from a packed A sliver and a packed B sliver; writes only the first
/// `rows × cols` values (edge tiles).
///
/// The twelve accumulators are named variables, not an array: at opt-level 2 an array was
/// partly kept on the stack (seen in `perf annotate`), costing a third of the speed.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2<const IN_PLACE: bool>(kc: usize, a: *const f32, lda: usize, b: *const f32, tile: Tile) {
    let Tile { c, rows, cols, accumulate } = tile;
    let z = _mm256_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    let (ar, step) = a_rows::<6, IN_PLACE>(a, lda, rows);
    let mut bp = b;
    for p in 0..kc {
        let off = p * step;
        let b0 = _mm256_loadu_ps(bp);
        let b1 = _mm256_loadu_ps(bp.add(8));
        fma_row!(ar[0].add(off), b0, b1, c00, c01);
        fma_row!(ar[1].add(off), b0, b1, c10, c11);
        fma_row!(ar[2].add(off), b0, b1, c20, c21);
        fma_row!(ar[3].add(off), b0, b1, c30, c31);
        fma_row!(ar[4].add(off), b0, b1, c40, c41);
        fma_row!(ar[5].add(off), b0, b1, c50, c51);
        bp = bp.add(Avx2::NR);
    }
    let acc = [[c00, c01], [c10, c11], [c20, c21], [c30, c31], [c40, c41], [c50, c51]];
    write_tile!(acc, c, rows, cols, accumulate, Avx2, 8, _mm256_loadu_ps, _mm256_add_ps, _mm256_storeu_ps);
}

/// One step of one tile row, 16 wide.
macro_rules! fma_row512 {
    ($ap:expr, $b0:expr, $b1:expr, $c0:ident, $c1:ident) => {
        let av = _mm512_set1_ps(*$ap);
        $c0 = _mm512_fmadd_ps(av, $b0, $c0);
        $c1 = _mm512_fmadd_ps(av, $b1, $c1);
    };
}

/// One 12 × 32 tile of C (see [`kernel_avx2`]; named accumulators for the same reason).
#[target_feature(enable = "avx512f")]
unsafe fn kernel_avx512<const IN_PLACE: bool>(kc: usize, a: *const f32, lda: usize, b: *const f32, tile: Tile) {
    let Tile { c, rows, cols, accumulate } = tile;
    let z = _mm512_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    let (mut c60, mut c61, mut c70, mut c71, mut c80, mut c81) = (z, z, z, z, z, z);
    let (mut c90, mut c91, mut ca0, mut ca1, mut cb0, mut cb1) = (z, z, z, z, z, z);
    let (ar, step) = a_rows::<12, IN_PLACE>(a, lda, rows);
    let mut bp = b;
    for p in 0..kc {
        let off = p * step;
        let b0 = _mm512_loadu_ps(bp);
        let b1 = _mm512_loadu_ps(bp.add(16));
        fma_row512!(ar[0].add(off), b0, b1, c00, c01);
        fma_row512!(ar[1].add(off), b0, b1, c10, c11);
        fma_row512!(ar[2].add(off), b0, b1, c20, c21);
        fma_row512!(ar[3].add(off), b0, b1, c30, c31);
        fma_row512!(ar[4].add(off), b0, b1, c40, c41);
        fma_row512!(ar[5].add(off), b0, b1, c50, c51);
        fma_row512!(ar[6].add(off), b0, b1, c60, c61);
        fma_row512!(ar[7].add(off), b0, b1, c70, c71);
        fma_row512!(ar[8].add(off), b0, b1, c80, c81);
        fma_row512!(ar[9].add(off), b0, b1, c90, c91);
        fma_row512!(ar[10].add(off), b0, b1, ca0, ca1);
        fma_row512!(ar[11].add(off), b0, b1, cb0, cb1);
        bp = bp.add(Avx512::NR);
    }
    let acc = [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
        [c60, c61],
        [c70, c71],
        [c80, c81],
        [c90, c91],
        [ca0, ca1],
        [cb0, cb1],
    ];
    write_tile!(acc, c, rows, cols, accumulate, Avx512, 16, _mm512_loadu_ps, _mm512_add_ps, _mm512_storeu_ps);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kernel `K` with A always packed, to check it against A read in place.
    struct PackA<K>(std::marker::PhantomData<K>);

    impl<K: Micro> Micro for PackA<K> {
        const MR: usize = K::MR;
        const NR: usize = K::NR;
        const A_IN_PLACE: bool = false;
        unsafe fn kernel<const IN_PLACE: bool>(kc: usize, a: *const f32, lda: usize, b: *const f32, tile: Tile) {
            K::kernel::<IN_PLACE>(kc, a, lda, b, tile)
        }
    }

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

    fn avx512() -> bool {
        is_x86_feature_detected!("avx512f")
    }

    #[test]
    fn matches_a_naive_product_on_edge_shapes_layouts_and_thread_counts() {
        if !available() {
            eprintln!("SKIPPED: this CPU has no AVX2/FMA; the gemm crate serves instead");
            return;
        }
        if !avx512() {
            eprintln!("SKIPPED (AVX-512 kernel only): this CPU has no AVX-512F; the AVX2 kernel is checked alone");
        }
        let val = |i: usize| ((i * 7919 % 1013) as f32 / 1013.0) - 0.5;
        // Sizes straddling the tile (6 × 16) and block (96, 256, 2048) edges.
        for &(m, n, k) in &[
            (1, 1, 1),
            (6, 16, 1),
            (7, 17, 3),
            (5, 15, 300),
            (97, 33, 257),
            (13, 2050, 9),
            (200, 40, 513),
            (12, 32, 8),
            (25, 65, 17),
            (130, 100, 784),
        ] {
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
                    unsafe { split::<Avx2>(m, n, k, Out { ptr: c.as_mut_ptr(), ld: n }, accumulate, av, bv, threads) };
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    // Row-major A read in place agrees bit for bit with A packed.
                    let mut packed = vec![if accumulate { 1.0 } else { f32::NAN }; m * n];
                    let out = Out { ptr: packed.as_mut_ptr(), ld: n };
                    unsafe { split::<PackA<Avx2>>(m, n, k, out, accumulate, av, bv, threads) };
                    assert!(bits(&packed) == bits(&c), "{m}×{n}×{k} a_t {a_t} b_t {b_t}: packed A ≠ A in place");
                    if avx512() {
                        // The wide kernel agrees bit for bit: each element's FMA chain is the same.
                        let mut wide = vec![if accumulate { 1.0 } else { f32::NAN }; m * n];
                        let out = Out { ptr: wide.as_mut_ptr(), ld: n };
                        unsafe { split::<Avx512>(m, n, k, out, accumulate, av, bv, threads) };
                        let mut wide_packed = vec![if accumulate { 1.0 } else { f32::NAN }; m * n];
                        let out = Out { ptr: wide_packed.as_mut_ptr(), ld: n };
                        unsafe { split::<PackA<Avx512>>(m, n, k, out, accumulate, av, bv, threads) };
                        assert!(bits(&wide_packed) == bits(&c), "{m}×{n}×{k} a_t {a_t} b_t {b_t}: AVX-512, A packed");
                        assert!(bits(&wide) == bits(&c), "{m}×{n}×{k} a_t {a_t} b_t {b_t}: AVX-512 ≠ AVX2");
                    }
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
