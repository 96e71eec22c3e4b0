use dfdx::prelude::*;
use rand_distr::Uniform;
use rayon::prelude::*;

use super::activation::{with_function, with_slope, CHUNK};
use super::kernels::{self, Mat};
use super::math;
use super::{join, scratch, values, values_pooled, Activation, Dev, Param, Params};

/// A fully connected layer `y = x Wᵀ + b`, with each size a [`Dim`]: `Const<N>` when known
/// at compile time, `usize` when read from a config.
///
/// Weights are named `weight` (out × in) and `bias` (out), as in PyTorch's `nn.Linear`, so
/// checkpoints map one to one.
#[derive(Debug, Clone)]
pub struct Dense<I: Dim, O: Dim> {
    /// out × in, as PyTorch's `nn.Linear`.
    pub weight: Tensor<(O, I), f32, Dev>,
    /// One per output.
    pub bias: Tensor<(O,), f32, Dev>,
}

impl<I: Dim, O: Dim> Dense<I, O> {
    /// A new layer initialised like PyTorch's `nn.Linear`: weight and bias uniform in
    /// ±1/√in.
    pub fn new(dev: &Dev, input: I, output: O) -> Self {
        let bound = 1.0 / (input.size().max(1) as f32).sqrt();
        let u = Uniform::new(-bound, bound);
        Self { weight: dev.sample_like(&(output, input), u), bias: dev.sample_like(&(output,), u) }
    }

    /// Input features.
    pub fn input(&self) -> I {
        self.weight.shape().1
    }

    /// Output features.
    pub fn output(&self) -> O {
        self.weight.shape().0
    }

    /// Applies the layer to a batch.
    ///
    /// # Shapes
    /// `x`: (batch, in) → (batch, out)
    pub fn forward<B: Dim, T: Tape<f32, Dev>>(&self, x: Tensor<(B, I), f32, Dev, T>) -> Tensor<(B, O), f32, Dev, T> {
        let y = x.matmul(self.weight.retaped::<T>().permute()); // (batch, out)
        let shape = *y.shape();
        y + self.bias.retaped::<T>().broadcast_like(&shape)
    }
}

impl<I: Dim, O: Dim> Dense<I, O> {
    /// `act(x Wᵀ + b)` as one operation on the tape: one matrix product, then bias and
    /// activation in one threaded pass; backward is the activation's derivative (from the
    /// saved output) and two products. The same values as [`Dense::forward`] followed by
    /// [`Activation::apply`] (tests hold them to 1e-5), without dfdx's separate single-threaded
    /// passes that each allocate. GELU, whose derivative needs the pre-activation, takes the
    /// unfused path.
    ///
    /// # Shapes
    /// `x`: (batch, in) → (batch, out)
    pub fn forward_act<B: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(B, I), f32, Dev, T>,
        act: Activation,
    ) -> Tensor<(B, O), f32, Dev, T> {
        self.fused(x, act, true, true)
    }

    /// `x Wᵀ`, the layer without its bias: its linear part, which carries tangents
    /// (Jacobian–vector products: the tangent of `act(x Wᵀ + b)` along `t` is
    /// `act'(…) ⊙ t Wᵀ`). Without `input_grad`, `x` gets no gradient (a constant probe).
    ///
    /// # Shapes
    /// `x`: (batch, in) → (batch, out)
    pub fn forward_linear<B: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(B, I), f32, Dev, T>,
        input_grad: bool,
    ) -> Tensor<(B, O), f32, Dev, T> {
        self.fused(x, Activation::Identity, input_grad, false)
    }

    /// [`Dense::forward_act`] for a layer fed data, whose gradient nobody reads: the backward
    /// pass skips the input's gradient, a third of the layer's products (PyTorch's
    /// `requires_grad=False` input). `x` gets no gradient.
    ///
    /// # Shapes
    /// `x`: (batch, in) → (batch, out)
    pub fn forward_act_data<B: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(B, I), f32, Dev, T>,
        act: Activation,
    ) -> Tensor<(B, O), f32, Dev, T> {
        self.fused(x, act, false, true)
    }

    fn fused<B: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(B, I), f32, Dev, T>,
        act: Activation,
        input_grad: bool,
        with_bias: bool,
    ) -> Tensor<(B, O), f32, Dev, T> {
        if act == Activation::Gelu {
            return act.apply(self.forward(x));
        }
        let (batch, i, o) = (x.shape().0, self.input().size(), self.output().size());
        let b = batch.size();
        let (x, mut tape) = x.contiguous().split_tape();
        // Copies kept for the backward pass, in buffers it gives back (see `nn::scratch`).
        let xv = values_pooled(&x); // (b, in)
        let w = values_pooled(&self.weight); // (out, in)
        let mut y = vec![0.0; b * o]; // (b, out)
        kernels::gemm(b, o, i, &mut y, false, Mat::rows(&xv, i), Mat::t(&w, i));
        if with_bias {
            bias_act(&mut y, &values(&self.bias), act);
        }
        // The backward pass (if any) needs the output only for a nonlinear activation.
        let saved = if T::OWNS_TAPE && act != Activation::Identity { y.clone() } else { Vec::new() };
        let out = x.device().tensor_from_vec(y, (batch, self.output()));
        if !T::OWNS_TAPE {
            scratch::give(xv);
            scratch::give(w);
            return out.put_tape(tape);
        }

        let (x_g, w_g, b_g, out_g) = (x.ghost(), self.weight.ghost(), self.bias.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            // The output's gradient is taken out to read while the others are written, and
            // put back unchanged.
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?); // (b, out)
            let owned = act_grad(&gy, &saved, act);
            let gz = owned.as_deref().unwrap_or(&gy); // dL/d(x Wᵀ + b)
            if with_bias {
                column_sums_add(gz, o, grads.get_or_alloc_mut(&b_g)?);
            }
            // dW (out × in) += gzᵀ (out × b) · x (b × in)
            kernels::gemm(o, i, b, grads.get_or_alloc_mut(&w_g)?, true, Mat::t(gz, o), Mat::rows(&xv, i));
            if input_grad {
                // dx (b × in) += gz (b × out) · W (out × in)
                kernels::gemm(b, i, o, grads.get_or_alloc_mut(&x_g)?, true, Mat::rows(gz, o), Mat::rows(&w, i));
            }
            **grads.get_or_alloc_mut(&out_g)? = gy;
            scratch::give(xv);
            scratch::give(w);
            Ok(())
        });
        out.put_tape(tape)
    }
}

/// A [`Dense`] layer's weights copied out of its tensors once, for inference over many
/// batches: the product and fused bias + activation of [`Dense::forward_act`] on plain
/// slices, with no tape, no copy of the input and no copy of the weights per call. Encoding a
/// dataset of 60,000 images in batches of 512 copied a 784→256 layer's weights 118 times and
/// every batch's input once per layer.
#[derive(Debug, Clone)]
pub struct FrozenDense {
    weight: Vec<f32>, // out × in
    bias: Vec<f32>,   // out
    input: usize,
}

impl<I: Dim, O: Dim> Dense<I, O> {
    /// The layer's current weights, frozen for [`FrozenDense::forward_into`].
    pub fn freeze(&self) -> FrozenDense {
        FrozenDense { weight: values(&self.weight), bias: values(&self.bias), input: self.input().size() }
    }
}

impl FrozenDense {
    /// Input features.
    pub fn input(&self) -> usize {
        self.input
    }

    /// Output features.
    pub fn output(&self) -> usize {
        self.bias.len()
    }

    /// `out = act(x Wᵀ + b)` for the `n` rows of `x`: the values of [`Dense::forward_act`] bit
    /// for bit (the same kernels in the same order).
    ///
    /// # Shapes
    /// `x`: n × in → `out`: n × out
    ///
    /// # Panics
    /// When the slices' lengths disagree with `n` and the layer's sizes, or for GELU, which
    /// has no fused form (a model with GELU keeps the tape path: it has no frozen form).
    pub fn forward_into(&self, x: &[f32], n: usize, act: Activation, out: &mut [f32]) {
        assert!(act != Activation::Gelu, "FrozenDense: GELU has no fused form");
        let (i, o) = (self.input, self.output());
        assert!(x.len() == n * i && out.len() == n * o, "FrozenDense: {n} rows of {i} in and {o} out");
        kernels::gemm(n, o, i, out, false, Mat::rows(x, i), Mat::t(&self.weight, i));
        bias_act(out, &self.bias, act);
    }
}

impl<I: Dim, O: Dim> Dense<I, O> {
    /// The batch mean of the squared Frobenius norm of this layer's Jacobian,
    /// `‖∂y/∂x‖²_F = Σⱼ act'(aⱼ)² ‖Wⱼ‖²` for `y = act(x Wᵀ + b)` (Rifai et al. 2011, eq. 5), from
    /// the layer's output `y`: one operation on the tape, where dfdx's ops took four passes
    /// that each allocate (+3 % on a 784→64 training step for this one, `cargo bench --bench
    /// step`, 2-core Xeon).
    /// Gradients: `∂/∂Wⱼᵢ = 2 Wⱼᵢ · mean_b act'(a_bj)²`, `∂/∂y_bj = 2 ‖Wⱼ‖² act'(a_bj) ∂act'/∂y / B`.
    ///
    /// # Panics
    /// For GELU ([`Activation::has_output_slope`]).
    pub fn jacobian_sq_mean<B: Dim, T: Tape<f32, Dev>>(
        &self,
        y: Tensor<(B, O), f32, Dev, T>,
        act: Activation,
    ) -> Tensor<Rank0, f32, Dev, T> {
        assert!(act.has_output_slope(), "jacobian_sq_mean: {act} has no slope as a function of its output");
        let (batch, o, i) = (y.shape().0.size().max(1), self.output().size(), self.input().size());
        let (y, mut tape) = y.contiguous().split_tape();
        let (yv, w) = (values(&y), values(&self.weight));
        let norms: Vec<f32> = w.chunks_exact(i.max(1)).map(|row| row.iter().map(|v| v * v).sum()).collect();
        let (slope, curve) = act.slope_and_curve();
        let mut mean_sq = vec![0.0f64; o]; // mean over the batch of act'(a_bj)², per unit j
        for row in yv.chunks_exact(o.max(1)) {
            mean_sq.iter_mut().zip(row).for_each(|(m, &y)| *m += (slope(y) as f64).powi(2));
        }
        mean_sq.iter_mut().for_each(|m| *m /= batch as f64);
        let value: f64 = mean_sq.iter().zip(&norms).map(|(m, &n)| m * n as f64).sum();
        let out = y.device().tensor(value as f32);
        let (y_g, w_g, out_g) = (y.ghost(), self.weight.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let up = grads.get_or_alloc_mut(&out_g)?[0];
            let gw = grads.get_or_alloc_mut(&w_g)?;
            for (j, row) in gw.chunks_exact_mut(i.max(1)).enumerate() {
                let k = 2.0 * up * mean_sq[j] as f32;
                row.iter_mut().zip(&w[j * i..(j + 1) * i]).for_each(|(g, &w)| *g += k * w);
            }
            if act != Activation::Relu && act != Activation::Identity {
                let gy = grads.get_or_alloc_mut(&y_g)?;
                let scale = 2.0 * up / batch as f32;
                for (g_row, y_row) in gy.chunks_exact_mut(o.max(1)).zip(yv.chunks_exact(o.max(1))) {
                    for ((g, &y), &n) in g_row.iter_mut().zip(y_row).zip(&norms) {
                        *g += scale * n * slope(y) * curve(y);
                    }
                }
            }
            Ok(())
        });
        out.put_tape(tape)
    }
}

/// `y[r][j] = act(y[r][j] + bias[j])` for every row, rows split across threads in tasks of
/// at least [`CHUNK`] values: enough work to pay for a task.
fn bias_act(y: &mut [f32], bias: &[f32], act: Activation) {
    let rows = CHUNK.div_ceil(bias.len().max(1));
    with_function!(act, f => y.par_chunks_mut(bias.len() * rows).for_each(|rows| bias_act_rows(rows, bias, &f)))
}

math::wide_fn! {
    fn bias_act_rows(rows: &mut [f32], bias: &[f32], f: &impl Fn(f32) -> f32) {
        for row in rows.chunks_exact_mut(bias.len()) {
            for (v, &b) in row.iter_mut().zip(bias) {
                *v = f(*v + b);
            }
        }
    }
}

/// The gradient before the activation, from the gradient after it and the saved output `y`;
/// `None` for the identity (it is `gy` itself).
fn act_grad(gy: &[f32], y: &[f32], act: Activation) -> Option<Vec<f32>> {
    if act == Activation::Identity {
        return None;
    }
    let mut out = vec![0.0; gy.len()];
    with_slope!(act, d => out.par_chunks_mut(CHUNK).zip(gy.par_chunks(CHUNK).zip(y.par_chunks(CHUNK))).for_each(|(o, (g, y))| {
        times_slope(o, g, y, &d)
    }));
    Some(out)
}

math::wide_fn! {
    /// `o = g · d(y)`, element by element.
    fn times_slope(o: &mut [f32], g: &[f32], y: &[f32], d: &impl Fn(f32) -> f32) {
        for ((o, &g), &y) in o.iter_mut().zip(g).zip(y) {
            *o = g * d(y);
        }
    }
}

/// Adds the column sums of the row-major `(rows, cols)` matrix `x` into `acc` (cols).
fn column_sums_add(x: &[f32], cols: usize, acc: &mut [f32]) {
    for row in x.chunks_exact(cols) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

impl<I: Dim, O: Dim> Params for Dense<I, O> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        f(join(prefix, "weight"), &self.weight);
        f(join(prefix, "bias"), &self.bias);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        f(join(prefix, "weight"), &mut self.weight);
        f(join(prefix, "bias"), &mut self.bias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_matches_a_hand_computation_and_const_and_runtime_dims_agree() {
        let dev = Dev::seed_from_u64(0);
        let mut l: Dense<Const<3>, Const<2>> = Dense::new(&dev, Const, Const);
        l.weight = dev.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]);
        l.bias = dev.tensor([0.5, -0.5]);
        let x = dev.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, -1.0]]).realize::<(usize, Const<3>)>();
        assert_eq!(l.forward(x.clone()).as_vec(), vec![6.5, -1.0, 1.5, 0.5]);

        let mut d: Dense<usize, usize> = Dense::new(&dev, 3, 2);
        d.weight.copy_from(&l.weight.as_vec());
        d.bias.copy_from(&l.bias.as_vec());
        let xd = x.realize::<(usize, usize)>();
        assert_eq!(d.forward(xd).as_vec(), vec![6.5, -1.0, 1.5, 0.5]);
    }

    /// Output and every gradient of `forward_act` against `forward` + `apply` (dfdx's ops).
    #[test]
    fn fused_forward_and_backward_match_the_unfused_ops() {
        let dev = Dev::seed_from_u64(3);
        for (b, i, o) in [(1, 5, 3), (37, 70, 33), (256, 96, 64)] {
            let l: Dense<usize, usize> = Dense::new(&dev, i, o);
            let x = dev.sample_normal_like(&(b, i));
            // A non-uniform upstream gradient: the loss weights each output differently.
            let wts = dev.sample_normal_like(&(b, o));
            for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid, Activation::Identity, Activation::Gelu]
            {
                let run = |fused: bool| {
                    let xt = x.clone().traced(l.alloc_grads());
                    let y = if fused { l.forward_act(xt, act) } else { act.apply_unfused(l.forward(xt)) };
                    let (y, tape) = y.split_tape();
                    let g = (y.clone().put_tape(tape) * wts.clone()).sum().backward();
                    (y.as_vec(), g.get(&l.weight).as_vec(), g.get(&l.bias).as_vec(), g.get(&x).as_vec())
                };
                let (want, got) = (run(false), run(true));
                for (name, w, g) in
                    [("y", &want.0, &got.0), ("dW", &want.1, &got.1), ("db", &want.2, &got.2), ("dx", &want.3, &got.3)]
                {
                    for (k, (w, g)) in w.iter().zip(g).enumerate() {
                        assert!((w - g).abs() <= 1e-5 * (1.0 + w.abs()), "{act} {b}×{i}→{o} {name}[{k}]: {g} vs {w}");
                    }
                }
            }
        }
    }

    /// Without the input's gradient, the output and the parameters' gradients are unchanged.
    #[test]
    fn data_input_skips_only_the_input_gradient() {
        let dev = Dev::seed_from_u64(4);
        let l: Dense<usize, usize> = Dense::new(&dev, 70, 33);
        let x = dev.sample_normal_like(&(37, 70));
        let wts = dev.sample_normal_like(&(37, 33));
        for act in [Activation::Relu, Activation::Sigmoid, Activation::Identity] {
            let run = |data: bool| {
                let xt = x.clone().traced(l.alloc_grads());
                let y = if data { l.forward_act_data(xt, act) } else { l.forward_act(xt, act) };
                let (y, tape) = y.split_tape();
                let g = (y.clone().put_tape(tape) * wts.clone()).sum().backward();
                (y.as_vec(), g.get(&l.weight).as_vec(), g.get(&l.bias).as_vec())
            };
            assert_eq!(run(true), run(false), "{act}");
        }
    }

    #[test]
    fn init_bounds_follow_fan_in() {
        let dev = Dev::seed_from_u64(1);
        let l: Dense<usize, usize> = Dense::new(&dev, 400, 3);
        assert!(l.weight.as_vec().iter().all(|w| w.abs() <= 0.05));
        assert!(l.weight.as_vec().iter().any(|w| w.abs() > 0.04));
    }
}
