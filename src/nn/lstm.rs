//! A single-layer LSTM (dfdx has none), batch first, with its own forward and
//! backward-through-time kernels recorded by `Tape::add_backward_op`.
//!
//! Parameters are PyTorch's `nn.LSTM` (one layer, `batch_first=True`): `weight_ih` (4H × I),
//! `weight_hh` (4H × H), `bias_ih` and `bias_hh` (4H), gates in the order input, forget, cell,
//! output — so PyTorch weights load unchanged.

use dfdx::prelude::*;
use rand_distr::Uniform;

use super::kernels::{self, Mat};
use super::{join, math, values, Dev, Param, Params};

/// A batch of sequences: `(batch, time, features)`.
pub type Sequence<const F: usize> = (usize, usize, Const<F>);

/// One LSTM layer from `I` input features to `H` hidden units.
#[derive(Debug, Clone)]
pub struct Lstm<const I: usize, const H: usize> {
    pub weight_ih: Tensor<(usize, Const<I>), f32, Dev>,
    pub weight_hh: Tensor<(usize, Const<H>), f32, Dev>,
    pub bias_ih: Tensor<(usize,), f32, Dev>,
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
        self.run(x, (b, steps, Const), false)
    }

    /// Runs the sequence from a zero state and returns the final hidden state only.
    ///
    /// # Shapes
    /// `(batch, time, I)` → `(batch, H)`.
    pub fn forward_final<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Sequence<I>, f32, Dev, T>,
    ) -> Tensor<(usize, Const<H>), f32, Dev, T> {
        let b = x.shape().0;
        self.run(x, (b, Const), true)
    }

    /// The recurrence; the output is every step's `h` as `(b, t, H)`, or with `last_only` the
    /// final `h` as `(b, H)`.
    fn run<S: Shape, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Sequence<I>, f32, Dev, T>,
        shape: S,
        last_only: bool,
    ) -> Tensor<S, f32, Dev, T> {
        let (b, steps, _) = *x.shape();
        assert!(steps > 0, "Lstm: a sequence needs at least one step");
        let (x, mut tape) = x.contiguous().split_tape();
        let xv = values(&x); // (b, t, I): row (n, t) at n·steps + t
        let (wih, whh) = (values(&self.weight_ih), values(&self.weight_hh));
        let bias: Vec<f32> = values(&self.bias_ih).iter().zip(values(&self.bias_hh)).map(|(a, c)| a + c).collect();
        let g4 = 4 * H;
        // W_hhᵀ (H × 4H) laid out once, so each step's product reads it row by row.
        let mut whh_t = vec![0.0; H * g4];
        for (r, row) in whh.chunks_exact(H).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                whh_t[j * g4 + r] = v;
            }
        }
        // Input projections of every step at once: (b·t, 4H) = x (b·t, I) · W_ihᵀ.
        let mut xw = vec![0.0; b * steps * g4];
        kernels::gemm(b * steps, g4, I, &mut xw, false, Mat::rows(&xv, I), Mat::t(&wih, I));
        // Per step: activated gates (b, 4H) and cell states (b, H), kept for the backward pass.
        let mut gates = vec![0.0; steps * b * g4];
        let mut cells = vec![0.0; (steps + 1) * b * H]; // cells[0] = initial zero state
        let mut hs = vec![0.0; (steps + 1) * b * H]; // hs[0] = initial zero state
        let mut tanh_c = vec![0.0; steps * b * H]; // tanh of each step's cell state
        for t in 0..steps {
            let (h_prev, rest) = hs.split_at_mut((t + 1) * b * H);
            let h_prev = &h_prev[t * b * H..];
            let gt = &mut gates[t * b * g4..][..b * g4];
            kernels::gemm(b, g4, H, gt, false, Mat::rows(h_prev, H), Mat::rows(&whh_t, g4));
            let (c_prev, c_next) = cells.split_at_mut((t + 1) * b * H);
            let (c_prev, c_next) = (&c_prev[t * b * H..], &mut c_next[..b * H]);
            let h_next = &mut rest[..b * H];
            for n in 0..b {
                let row = &mut gt[n * g4..][..g4];
                let pre = &xw[(n * steps + t) * g4..][..g4];
                for ((r, &p), &bk) in row.iter_mut().zip(pre).zip(&bias) {
                    *r += p + bk;
                }
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
                let tc = &mut tanh_c[(t * b + n) * H..][..H];
                tc.copy_from_slice(c_next);
                math::tanh_slice(tc);
                for ((h, &o), &tc) in h_next[n * H..][..H].iter_mut().zip(&*o).zip(&*tc) {
                    *h = o * tc;
                }
            }
        }
        // Output (b, t, H) from the per-step states (t, b, H), or the last state (b, H).
        let y = if last_only {
            hs[steps * b * H..].to_vec()
        } else {
            let mut y = vec![0.0; b * steps * H];
            for t in 0..steps {
                for n in 0..b {
                    y[(n * steps + t) * H..][..H].copy_from_slice(&hs[((t + 1) * b + n) * H..][..H]);
                }
            }
            y
        };
        let out = x.device().tensor_from_vec(y, shape);

        let ghosts = (x.ghost(), self.weight_ih.ghost(), self.weight_hh.ghost());
        let (bih_g, bhh_g, out_g) = (self.bias_ih.ghost(), self.bias_hh.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let (x_g, wih_g, whh_g) = &ghosts;
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?); // (b, t, H) or (b, H)
            let gy_at = |n: usize, t: usize, j: usize| match last_only {
                false => gy[(n * steps + t) * H + j],
                true if t + 1 == steps => gy[n * H + j],
                true => 0.0,
            };
            let mut dgates = vec![0.0; b * steps * g4]; // pre-activation gate grads, rows (n, t)
            let mut dh = vec![0.0; b * H]; // from step t + 1
            let mut dc = vec![0.0; b * H];
            let mut dg_t = vec![0.0; b * g4];
            for t in (0..steps).rev() {
                let gt = &gates[t * b * g4..][..b * g4];
                let (c_prev, tc_t) = (&cells[t * b * H..][..b * H], &tanh_c[t * b * H..][..b * H]);
                for n in 0..b {
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
                // dh_{t−1} = dg (b × 4H) · W_hh (4H × H)
                kernels::gemm(b, H, g4, &mut dh, false, Mat::rows(&dg_t, g4), Mat::rows(&whh, H));
                for n in 0..b {
                    dgates[(n * steps + t) * g4..][..g4].copy_from_slice(&dg_t[n * g4..][..g4]);
                }
            }
            **grads.get_or_alloc_mut(&out_g)? = gy;
            // dW_hh += dGᵀ (4H × b·t) · H_prev (b·t × H): one product over all steps (140
            // small ones cost more), with the previous states gathered into rows (n, t).
            let mut h_prev = vec![0.0; b * steps * H];
            for t in 0..steps {
                for n in 0..b {
                    h_prev[(n * steps + t) * H..][..H].copy_from_slice(&hs[(t * b + n) * H..][..H]);
                }
            }
            kernels::gemm(
                g4,
                H,
                b * steps,
                grads.get_or_alloc_mut(whh_g)?,
                true,
                Mat::t(&dgates, g4),
                Mat::rows(&h_prev, H),
            );
            // dW_ih += dGᵀ (4H × b·t) · x (b·t × I);  dx = dG · W_ih;  both biases get Σ dG.
            kernels::gemm(
                g4,
                I,
                b * steps,
                grads.get_or_alloc_mut(wih_g)?,
                true,
                Mat::t(&dgates, g4),
                Mat::rows(&xv, I),
            );
            kernels::gemm(
                b * steps,
                I,
                g4,
                grads.get_or_alloc_mut(x_g)?,
                true,
                Mat::rows(&dgates, g4),
                Mat::rows(&wih, I),
            );
            let mut db = vec![0.0; g4];
            for row in dgates.chunks(g4) {
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
