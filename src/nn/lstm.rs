//! A single-layer LSTM (dfdx has none), batch first, with its own forward and
//! backward-through-time kernels recorded by `Tape::add_backward_op`.
//!
//! Parameters are PyTorch's `nn.LSTM` (one layer, `batch_first=True`): `weight_ih` (4H × I),
//! `weight_hh` (4H × H), `bias_ih` and `bias_hh` (4H), gates in the order input, forget, cell,
//! output — so PyTorch weights load unchanged.

use dfdx::prelude::*;
use rand_distr::Uniform;
use rayon::prelude::*;

use super::kernels::{self, Mat};
use super::{join, math, values, Dev, Param, Params};

/// A batch of sequences: `(batch, time, features)`.
pub type Sequence<const F: usize> = (usize, usize, Const<F>);

/// One LSTM layer from `I` input features to `H` hidden units.
#[derive(Debug, Clone)]
pub struct Lstm<const I: usize, const H: usize> {
    /// Input weights of the four gates, 4H × I.
    pub weight_ih: Tensor<(usize, Const<I>), f32, Dev>,
    /// Recurrent weights of the four gates, 4H × H.
    pub weight_hh: Tensor<(usize, Const<H>), f32, Dev>,
    /// Input bias of the four gates, 4H.
    pub bias_ih: Tensor<(usize,), f32, Dev>,
    /// Recurrent bias of the four gates, 4H.
    pub bias_hh: Tensor<(usize,), f32, Dev>,
}

impl<const I: usize, const H: usize> Lstm<I, H> {
    /// A layer initialised like PyTorch's: every parameter uniform in ±1/√H.
    pub fn new(dev: &Dev) -> Self {
        const { assert!(I > 0 && H > 0, "Lstm: sizes must be positive") };
        let bound = 1.0 / (H as f32).sqrt();
        let u = Uniform::new(-bound, bound);
        Self {
            weight_ih: dev.sample_like(&(4 * H, Const), u),
            weight_hh: dev.sample_like(&(4 * H, Const), u),
            bias_ih: dev.sample_like(&(4 * H,), u),
            bias_hh: dev.sample_like(&(4 * H,), u),
        }
    }

    /// Runs the sequence from a zero state.
    ///
    /// # Shapes
    /// `(batch, time, I)` → every step's hidden state `(batch, time, H)`.
    pub fn forward<T: Tape<f32, Dev>>(&self, x: Tensor<Sequence<I>, f32, Dev, T>) -> Tensor<Sequence<H>, f32, Dev, T> {
        let (b, steps, _) = *x.shape();
        self.run(x.contiguous(), b, steps, false, (b, steps, Const), false)
    }

    /// Runs the sequence from a zero state and returns the final hidden state only.
    ///
    /// # Shapes
    /// `(batch, time, I)` → `(batch, H)`.
    pub fn forward_final<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Sequence<I>, f32, Dev, T>,
    ) -> Tensor<(usize, Const<H>), f32, Dev, T> {
        let (b, steps, _) = *x.shape();
        self.run(x.contiguous(), b, steps, false, (b, Const), true)
    }

    /// `forward(repeat_steps(z, steps))` — the same input vector at every step, as in a
    /// sequence decoder — with one input projection per sequence instead of one per step
    /// (and one gradient product each for `W_ih` and `z`): the same values (tests hold them to
    /// 1e-5) for a third fewer products in the LSTM autoencoder's decoder.
    ///
    /// # Shapes
    /// `(batch, I)` → every step's hidden state `(batch, steps, H)`.
    pub fn forward_repeated<T: Tape<f32, Dev>>(
        &self,
        z: Tensor<(usize, Const<I>), f32, Dev, T>,
        steps: usize,
    ) -> Tensor<Sequence<H>, f32, Dev, T> {
        let b = z.shape().0;
        self.run(z.contiguous(), b, steps, true, (b, steps, Const), false)
    }

    /// The recurrence over a contiguous input: `(b, steps, I)`, or `(b, I)` at every step when
    /// `repeated`. The output is every step's `h` as `(b, steps, H)`, or with `last_only` the
    /// final `h` as `(b, H)`.
    ///
    /// Sequences do not interact, so the batch is cut into one block per thread and each block
    /// runs all its steps, forward and backward, on its own thread: no step waits for another
    /// thread (one product per step, 32 × 256 × 64 in the autoencoder, is too small to split).
    /// Each value is computed by the same operations whatever the split.
    fn run<X: Shape, S: Shape, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<X, f32, Dev, T>,
        b: usize,
        steps: usize,
        repeated: bool,
        shape: S,
        last_only: bool,
    ) -> Tensor<S, f32, Dev, T> {
        assert!(steps > 0, "Lstm: a sequence needs at least one step");
        let (x, mut tape) = x.split_tape();
        let xv = values(&x); // rows (n, t) at n·steps + t, or rows n when repeated
        let (wih, whh) = (values(&self.weight_ih), values(&self.weight_hh));
        let g4 = 4 * H;
        // W_hhᵀ (H × 4H) laid out once, so each step's product reads it row by row.
        let mut whh_t = vec![0.0; H * g4];
        for (r, row) in whh.chunks_exact(H).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                whh_t[j * g4 + r] = v;
            }
        }
        // Input projections of every row at once, both biases added: x · W_ihᵀ + b_ih + b_hh.
        let per = if repeated { 1 } else { steps }; // projection rows per sequence
        let mut xw = vec![0.0; b * per * g4];
        kernels::gemm(b * per, g4, I, &mut xw, false, Mat::rows(&xv, I), Mat::t(&wih, I));
        let bias: Vec<f32> = values(&self.bias_ih).iter().zip(values(&self.bias_hh)).map(|(a, c)| a + c).collect();
        xw.chunks_exact_mut(g4).for_each(|row| row.iter_mut().zip(&bias).for_each(|(r, bk)| *r += bk));
        let block = b.div_ceil(rayon::current_num_threads()).max(1); // sequences per thread
        let blocks: Vec<Block> =
            xw.par_chunks(block * per * g4).map(|xwb| Block::forward::<H>(xwb, per, steps, &whh_t)).collect();
        let y = gather_output::<H>(&blocks, block, steps, last_only);
        let out = x.device().tensor_from_vec(y, shape);

        let ghosts = (x.ghost(), self.weight_ih.ghost(), self.weight_hh.ghost());
        let (bih_g, bhh_g, out_g) = (self.bias_ih.ghost(), self.bias_hh.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let (x_g, wih_g, whh_g) = &ghosts;
            // The output's gradient, (b, t, H) or (b, H), taken out to read and put back.
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            // Pre-activation gate gradients and the states they met, rows (n, t).
            let mut dgates = vec![0.0; b * steps * g4];
            let mut h_prev = vec![0.0; b * steps * H];
            dgates
                .par_chunks_mut(block * steps * g4)
                .zip(h_prev.par_chunks_mut(block * steps * H))
                .zip(&blocks)
                .enumerate()
                .for_each(|(k, ((dg, hp), blk))| blk.backward::<H>(k * block, &gy, last_only, steps, &whh, dg, hp));
            **grads.get_or_alloc_mut(&out_g)? = gy;
            // dW_hh += dGᵀ (4H × b·t) · H_prev (b·t × H): one product over all steps (140
            // small ones cost more).
            let dwhh = grads.get_or_alloc_mut(whh_g)?;
            kernels::gemm(g4, H, b * steps, dwhh, true, Mat::t(&dgates, g4), Mat::rows(&h_prev, H));
            // A repeated input met every step's gradient: sum them per sequence first.
            let dx_rows = if repeated { sum_steps(&dgates, steps, g4) } else { dgates };
            let rows = dx_rows.len() / g4;
            // dW_ih += dGᵀ · x;  dx += dG · W_ih;  both biases get Σ dG.
            let dwih = grads.get_or_alloc_mut(wih_g)?;
            kernels::gemm(g4, I, rows, dwih, true, Mat::t(&dx_rows, g4), Mat::rows(&xv, I));
            kernels::gemm(rows, I, g4, grads.get_or_alloc_mut(x_g)?, true, Mat::rows(&dx_rows, g4), Mat::rows(&wih, I));
            let mut db = vec![0.0; g4];
            for row in dx_rows.chunks(g4) {
                db.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
            for bg in [&bih_g, &bhh_g] {
                grads.get_or_alloc_mut(bg)?.iter_mut().zip(&db).for_each(|(a, v)| *a += v);
            }
            Ok(())
        });
        out.put_tape(tape)
    }
}

/// What the forward recurrence of one block of sequences keeps for its backward pass, each
/// indexed by step, then sequence within the block.
struct Block {
    rows: usize,
    gates: Vec<f32>,  // activated gates i, f, g, o: (t, rows, 4H)
    cells: Vec<f32>,  // (t + 1, rows, H); step 0 is the zero initial state
    hs: Vec<f32>,     // (t + 1, rows, H); step 0 is the zero initial state
    tanh_c: Vec<f32>, // tanh of each step's cell state: (t, rows, H)
}

impl Block {
    /// Runs `steps` steps of the block whose input projections (biases added) are `xw`:
    /// `per` rows per sequence (`steps`, or 1 for an input repeated at every step). Compiled
    /// for AVX2 too, as [`math::wide_fn`] does.
    fn forward<const H: usize>(xw: &[f32], per: usize, steps: usize, whh_t: &[f32]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if math::has_avx2() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { Self::forward_avx2::<H>(xw, per, steps, whh_t) };
        }
        Self::forward_body::<H>(xw, per, steps, whh_t)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_avx2<const H: usize>(xw: &[f32], per: usize, steps: usize, whh_t: &[f32]) -> Self {
        Self::forward_body::<H>(xw, per, steps, whh_t)
    }

    #[inline(always)]
    fn forward_body<const H: usize>(xw: &[f32], per: usize, steps: usize, whh_t: &[f32]) -> Self {
        let g4 = 4 * H;
        let rows = xw.len() / (per * g4);
        let mut gates = vec![0.0; steps * rows * g4];
        let mut cells = vec![0.0; (steps + 1) * rows * H];
        let mut hs = vec![0.0; (steps + 1) * rows * H];
        let mut tanh_c = vec![0.0; steps * rows * H];
        for t in 0..steps {
            let (h_prev, rest) = hs.split_at_mut((t + 1) * rows * H);
            let h_prev = &h_prev[t * rows * H..];
            let gt = &mut gates[t * rows * g4..][..rows * g4];
            kernels::gemm(rows, g4, H, gt, false, Mat::rows(h_prev, H), Mat::rows(whh_t, g4));
            let (c_prev, c_next) = cells.split_at_mut((t + 1) * rows * H);
            let (c_prev, c_next) = (&c_prev[t * rows * H..], &mut c_next[..rows * H]);
            let h_next = &mut rest[..rows * H];
            for n in 0..rows {
                let row = &mut gt[n * g4..][..g4];
                let pre = &xw[(n * per + t.min(per - 1)) * g4..][..g4];
                row.iter_mut().zip(pre).for_each(|(r, &p)| *r += p);
                // Gates i, f, g, o: each a pass over a slice, so each loop vectorises.
                let (ifg, o) = row.split_at_mut(3 * H);
                let (i_f, g) = ifg.split_at_mut(2 * H);
                math::sigmoid_slice(i_f);
                math::tanh_slice(g);
                math::sigmoid_slice(o);
                let (i, f) = i_f.split_at(H);
                let (c_prev, c_next) = (&c_prev[n * H..][..H], &mut c_next[n * H..][..H]);
                for ((((c, &cp), &f), &i), &g) in c_next.iter_mut().zip(c_prev).zip(f).zip(i).zip(&*g) {
                    *c = f * cp + i * g;
                }
                let tc = &mut tanh_c[(t * rows + n) * H..][..H];
                tc.copy_from_slice(c_next);
                math::tanh_slice(tc);
                for ((h, &o), &tc) in h_next[n * H..][..H].iter_mut().zip(&*o).zip(&*tc) {
                    *h = o * tc;
                }
            }
        }
        Self { rows, gates, cells, hs, tanh_c }
    }

    /// Backpropagates through the block's steps, whose first sequence is `n0` of the batch,
    /// from the output gradient `gy` (the whole batch's). Writes the pre-activation gate
    /// gradients `dg` (rows × steps, 4H) and the states each step started from `hp`
    /// (rows × steps, H), both in rows (n, t).
    #[allow(clippy::too_many_arguments)]
    fn backward<const H: usize>(
        &self,
        n0: usize,
        gy: &[f32],
        last_only: bool,
        steps: usize,
        whh: &[f32],
        dg: &mut [f32],
        hp: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        if math::has_avx2() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { self.backward_avx2::<H>(n0, gy, last_only, steps, whh, dg, hp) };
        }
        self.backward_body::<H>(n0, gy, last_only, steps, whh, dg, hp)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn backward_avx2<const H: usize>(
        &self,
        n0: usize,
        gy: &[f32],
        last_only: bool,
        steps: usize,
        whh: &[f32],
        dg: &mut [f32],
        hp: &mut [f32],
    ) {
        self.backward_body::<H>(n0, gy, last_only, steps, whh, dg, hp)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn backward_body<const H: usize>(
        &self,
        n0: usize,
        gy: &[f32],
        last_only: bool,
        steps: usize,
        whh: &[f32],
        dg: &mut [f32],
        hp: &mut [f32],
    ) {
        let (g4, rows) = (4 * H, self.rows);
        let gy_at = |n: usize, t: usize, j: usize| match last_only {
            false => gy[((n0 + n) * steps + t) * H + j],
            true if t + 1 == steps => gy[(n0 + n) * H + j],
            true => 0.0,
        };
        let mut dh = vec![0.0; rows * H]; // from step t + 1
        let mut dc = vec![0.0; rows * H];
        let mut dg_t = vec![0.0; rows * g4];
        for t in (0..steps).rev() {
            let gt = &self.gates[t * rows * g4..][..rows * g4];
            let c_prev = &self.cells[t * rows * H..][..rows * H];
            let tc_t = &self.tanh_c[t * rows * H..][..rows * H];
            for n in 0..rows {
                for j in 0..H {
                    let k = n * H + j;
                    let dht = dh[k] + gy_at(n, t, j);
                    let row = &gt[n * g4..];
                    let (i, f, g, o) = (row[j], row[H + j], row[2 * H + j], row[3 * H + j]);
                    let tc = tc_t[k];
                    let dct = dc[k] + dht * o * (1.0 - tc * tc);
                    let d = &mut dg_t[n * g4..];
                    d[j] = dct * g * i * (1.0 - i);
                    d[H + j] = dct * c_prev[k] * f * (1.0 - f);
                    d[2 * H + j] = dct * i * (1.0 - g * g);
                    d[3 * H + j] = dht * tc * o * (1.0 - o);
                    dc[k] = dct * f;
                }
            }
            // dh_{t−1} = dg (rows × 4H) · W_hh (4H × H)
            kernels::gemm(rows, H, g4, &mut dh, false, Mat::rows(&dg_t, g4), Mat::rows(whh, H));
            for n in 0..rows {
                dg[(n * steps + t) * g4..][..g4].copy_from_slice(&dg_t[n * g4..][..g4]);
                hp[(n * steps + t) * H..][..H].copy_from_slice(&self.hs[(t * rows + n) * H..][..H]);
            }
        }
    }
}

/// The layer's output from the blocks' states: every step's `h` as `(b, steps, H)`, or the
/// last one as `(b, H)`.
fn gather_output<const H: usize>(blocks: &[Block], block: usize, steps: usize, last_only: bool) -> Vec<f32> {
    let b: usize = blocks.iter().map(|blk| blk.rows).sum();
    let mut y = vec![0.0; if last_only { b * H } else { b * steps * H }];
    for (k, blk) in blocks.iter().enumerate() {
        for nl in 0..blk.rows {
            let n = k * block + nl;
            if last_only {
                y[n * H..][..H].copy_from_slice(&blk.hs[(steps * blk.rows + nl) * H..][..H]);
            } else {
                for t in 0..steps {
                    y[(n * steps + t) * H..][..H].copy_from_slice(&blk.hs[((t + 1) * blk.rows + nl) * H..][..H]);
                }
            }
        }
    }
    y
}

/// Sums rows (n, t) of a `(b·steps, width)` matrix over t: `(b, width)`.
fn sum_steps(m: &[f32], steps: usize, width: usize) -> Vec<f32> {
    m.chunks(steps * width)
        .flat_map(|seq| {
            let mut acc = vec![0.0; width];
            seq.chunks(width).for_each(|row| acc.iter_mut().zip(row).for_each(|(a, v)| *a += v));
            acc
        })
        .collect()
}

/// Keras' `RepeatVector`: the same vector at every step.
///
/// # Shapes
/// `(batch, F)` → `(batch, steps, F)`.
pub fn repeat_steps<const F: usize, T: Tape<f32, Dev>>(
    z: Tensor<(usize, Const<F>), f32, Dev, T>,
    steps: usize,
) -> Tensor<Sequence<F>, f32, Dev, T> {
    let b = z.shape().0;
    let (z, mut tape) = z.contiguous().split_tape();
    let zv = values(&z);
    let mut y = Vec::with_capacity(b * steps * F);
    for row in zv.chunks(F) {
        for _ in 0..steps {
            y.extend_from_slice(row);
        }
    }
    let out = z.device().tensor_from_vec(y, (b, steps, Const::<F>));
    let (z_g, out_g) = (z.ghost(), out.ghost());
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
        let dz = grads.get_or_alloc_mut(&z_g)?;
        for (n, seq) in gy.chunks(steps * F).enumerate() {
            for step in seq.chunks(F) {
                dz[n * F..][..F].iter_mut().zip(step).for_each(|(a, v)| *a += v);
            }
        }
        **grads.get_or_alloc_mut(&out_g)? = gy;
        Ok(())
    });
    out.put_tape(tape)
}

impl<const I: usize, const H: usize> Params for Lstm<I, H> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        f(join(prefix, "weight_ih"), &self.weight_ih);
        f(join(prefix, "weight_hh"), &self.weight_hh);
        f(join(prefix, "bias_ih"), &self.bias_ih);
        f(join(prefix, "bias_hh"), &self.bias_hh);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        f(join(prefix, "weight_ih"), &mut self.weight_ih);
        f(join(prefix, "weight_hh"), &mut self.weight_hh);
        f(join(prefix, "bias_ih"), &mut self.bias_ih);
        f(join(prefix, "bias_hh"), &mut self.bias_hh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value `forward_repeated` gives — output, gradients of the input and of each
    /// parameter — against `forward` over `repeat_steps`, for batches that split unevenly
    /// between threads.
    #[test]
    fn repeated_input_matches_forward_over_repeated_steps() {
        let dev = Dev::seed_from_u64(5);
        let lstm = Lstm::<3, 4>::new(&dev);
        for (b, steps) in [(1, 1), (3, 7), (5, 4)] {
            let z: Tensor<(usize, Const<3>), f32, Dev> = dev.sample_normal_like(&(b, Const));
            let wts: Tensor<Sequence<4>, f32, Dev> = dev.sample_normal_like(&(b, steps, Const));
            let run = |fast: bool| {
                let zt = z.clone().traced(lstm.alloc_grads());
                let y = if fast { lstm.forward_repeated(zt, steps) } else { lstm.forward(repeat_steps(zt, steps)) };
                let (y, tape) = y.split_tape();
                let g = (y.clone().put_tape(tape) * wts.clone()).sum().backward();
                let mut all = vec![("y".to_string(), y.as_vec()), ("dz".to_string(), g.get(&z).as_vec())];
                lstm.visit("", &mut |name, p| all.push((name, p.grad(&g))));
                all
            };
            for ((name, want), (_, got)) in run(false).iter().zip(run(true)) {
                for (k, (w, g)) in want.iter().zip(&got).enumerate() {
                    assert!((w - g).abs() <= 1e-5 * (1.0 + w.abs()), "b {b}, {steps} steps, {name}[{k}]: {g} vs {w}");
                }
            }
        }
    }
}
