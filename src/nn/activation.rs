use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use super::{math, values, Dev};

/// An element-wise activation chosen at run time (it does not change any shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x): the default for hidden layers.
    Relu,
    /// tanh(x), in (-1, 1).
    Tanh,
    /// 1 / (1 + e^-x), in (0, 1): the output for images in [0, 1].
    Sigmoid,
    /// Gaussian error linear unit (tanh approximation).
    Gelu,
    /// x unchanged: a linear code, or an output for standardised data.
    Identity,
}

impl Activation {
    /// Applies the activation, recording on the tape when `x` carries one: one threaded pass
    /// forward and one backward (from the saved output), where dfdx's ops run single-threaded
    /// and allocate per pass. GELU, whose derivative needs the input, uses dfdx's op.
    /// [`Activation::apply_unfused`] is the reference in tests (1e-5).
    pub fn apply<S: Shape, T: Tape<f32, Dev>>(self, x: Tensor<S, f32, Dev, T>) -> Tensor<S, f32, Dev, T> {
        match self {
            Activation::Identity => return x,
            Activation::Gelu => return x.fast_gelu(),
            _ => {}
        }
        let shape = *x.shape();
        let (x, mut tape) = x.contiguous().split_tape();
        let mut y = values(&x);
        act_in_place(&mut y, self);
        let saved = if T::OWNS_TAPE { y.clone() } else { Vec::new() };
        let out = x.device().tensor_from_vec(y, shape);
        let (x_g, out_g) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            let gx = grads.get_or_alloc_mut(&x_g)?;
            with_slope!(self, d => {
                let chunks = gx.par_chunks_mut(CHUNK).zip(gy.par_chunks(CHUNK).zip(saved.par_chunks(CHUNK)));
                chunks.for_each(|(gx, (gy, y))| add_times_slope(gx, gy, y, &d))
            });
            **grads.get_or_alloc_mut(&out_g)? = gy;
            Ok(())
        });
        out.put_tape(tape)
    }

    /// Whether [`Activation::tangent`] handles it: every activation whose slope is a function
    /// of its output (all but GELU).
    pub fn has_output_slope(self) -> bool {
        self != Activation::Gelu
    }

    /// `act'` and its derivative `∂act'/∂y`, both as functions of the output `y` (not for GELU).
    pub(crate) fn slope_and_curve(self) -> (fn(f32) -> f32, fn(f32) -> f32) {
        match self {
            Activation::Relu => (|y| if y > 0.0 { 1.0 } else { 0.0 }, |_| 0.0),
            Activation::Tanh => (|y| 1.0 - y * y, |y| -2.0 * y),
            Activation::Sigmoid => (|y| y * (1.0 - y), |y| 1.0 - 2.0 * y),
            Activation::Identity | Activation::Gelu => (|_| 1.0, |_| 0.0),
        }
    }

    /// The tangent of `y = act(a)` given the tangent `t` of `a`: `act'(a) ⊙ t`, with the slope
    /// read from the output `y` (forward-mode differentiation, for Jacobian–vector products).
    /// Differentiable in both: `dy` gets `g ⊙ t ⊙ ∂act'/∂y`, `dt` gets `g ⊙ act'`.
    ///
    /// # Panics
    /// For GELU, whose slope is not a function of its output ([`Activation::has_output_slope`]).
    pub fn tangent<S: Shape, T: Tape<f32, Dev>>(
        self,
        y: Tensor<S, f32, Dev, T>,
        t: Tensor<S, f32, Dev, T>,
    ) -> Tensor<S, f32, Dev, T> {
        assert!(self.has_output_slope(), "tangent: {self} has no slope as a function of its output");
        if self == Activation::Identity {
            return t;
        }
        let shape = *t.shape();
        let (y, y_tape) = y.contiguous().split_tape();
        let (t, t_tape) = t.contiguous().split_tape();
        let mut tape = y_tape.merge(t_tape);
        let (yv, tv) = (values(&y), values(&t));
        let (slope, curve) = self.slope_and_curve();
        let out: Vec<f32> = yv.iter().zip(&tv).map(|(&y, &t)| slope(y) * t).collect();
        let out = y.device().tensor_from_vec(out, shape);
        let (y_g, t_g, out_g) = (y.ghost(), t.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let g = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            let gt = grads.get_or_alloc_mut(&t_g)?;
            gt.iter_mut().zip(&g).zip(&yv).for_each(|((gt, &g), &y)| *gt += g * slope(y));
            if self != Activation::Relu {
                let gy = grads.get_or_alloc_mut(&y_g)?;
                gy.iter_mut().zip(&g).zip(yv.iter().zip(&tv)).for_each(|((gy, &g), (&y, &t))| *gy += g * t * curve(y));
            }
            **grads.get_or_alloc_mut(&out_g)? = g;
            Ok(())
        });
        out.put_tape(tape)
    }

    /// The same through dfdx's element-wise ops, for comparison.
    pub fn apply_unfused<S: Shape, T: Tape<f32, Dev>>(self, x: Tensor<S, f32, Dev, T>) -> Tensor<S, f32, Dev, T> {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Gelu => x.fast_gelu(),
            Activation::Identity => x,
        }
    }
}

/// Evaluates `$body` with `$f` bound to `$act`'s function as a closure or fn item of its own
/// type per arm, so the element loops inline and vectorise it (a common `fn(f32) -> f32`
/// pointer kept them scalar: `perf` showed `sigmoid` as a call).
///
/// # Panics
/// For GELU, which is never fused (its derivative needs the input, not the output): every
/// caller takes dfdx's op for it first. Refusing here keeps a missed guard from silently
/// computing the identity.
macro_rules! with_function {
    ($act:expr, $f:ident => $body:expr) => {
        match $act {
            Activation::Relu => {
                let $f = |z: f32| z.max(0.0);
                $body
            }
            Activation::Tanh => {
                let $f = math::tanh;
                $body
            }
            Activation::Sigmoid => {
                let $f = math::sigmoid;
                $body
            }
            Activation::Identity => {
                let $f = |z: f32| z;
                $body
            }
            Activation::Gelu => unreachable!("GELU is never fused: its callers take dfdx's op"),
        }
    };
}

/// The same for the derivative as a function of the activation's *output* `y` (GELU has
/// none: it panics, as [`with_function`] does).
macro_rules! with_slope {
    ($act:expr, $d:ident => $body:expr) => {
        match $act {
            Activation::Relu => {
                let $d = |y: f32| if y > 0.0 { 1.0 } else { 0.0 };
                $body
            }
            Activation::Tanh => {
                let $d = |y: f32| 1.0 - y * y;
                $body
            }
            Activation::Sigmoid => {
                let $d = |y: f32| y * (1.0 - y);
                $body
            }
            Activation::Identity => {
                let $d = |_: f32| 1.0f32;
                $body
            }
            Activation::Gelu => unreachable!("GELU has no slope as a function of its output"),
        }
    };
}
pub(crate) use {with_function, with_slope};

/// Values handed to one rayon task by the element-wise passes: enough work to pay for it.
pub(crate) const CHUNK: usize = 8192;

/// `act` of every value, in place, across threads (GELU too, though it is never fused: a
/// VAE's Gaussian likelihood reads its output activation outside the tape).
pub(crate) fn act_in_place(y: &mut [f32], act: Activation) {
    if act == Activation::Gelu {
        return y.par_chunks_mut(CHUNK).for_each(|c| c.iter_mut().for_each(|v| *v = math::gelu(*v)));
    }
    with_function!(act, f => y.par_chunks_mut(CHUNK).for_each(|c| map_in_place(c, &f)))
}

math::wide_fn! {
    /// `y = f(y)`, element by element.
    fn map_in_place(y: &mut [f32], f: &impl Fn(f32) -> f32) {
        y.iter_mut().for_each(|v| *v = f(*v));
    }
}

math::wide_fn! {
    /// `gx += g · d(y)`, element by element.
    fn add_times_slope(gx: &mut [f32], g: &[f32], y: &[f32], d: &impl Fn(f32) -> f32) {
        for ((gx, &g), &y) in gx.iter_mut().zip(g).zip(y) {
            *gx += g * d(y);
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string));
        f.write_str(&s.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn act_in_place_computes_every_activation_as_dfdx_does() {
        let dev = Dev::seed_from_u64(4);
        let x: Tensor<(usize,), f32, Dev> = dev.sample_normal_like(&(20_000,)) * 4.0;
        for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid, Activation::Identity, Activation::Gelu] {
            let mut y = x.as_vec();
            act_in_place(&mut y, act);
            let want = act.apply_unfused(x.clone()).as_vec();
            if act == Activation::Gelu {
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&y), bits(&want), "gelu: dfdx's formula bit for bit");
            }
            let worst = y.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{act}: off by {worst}");
        }
    }

    #[test]
    fn fused_activations_and_their_gradients_match_dfdx() {
        let dev = Dev::seed_from_u64(9);
        for n in [1, 5, 30_000] {
            let x: Tensor<(usize,), f32, Dev> = dev.sample_normal_like(&(n,)) * 4.0;
            let w: Tensor<(usize,), f32, Dev> = dev.sample_normal_like(&(n,));
            for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid, Activation::Identity, Activation::Gelu]
            {
                let run = |fused: bool| {
                    let xt = x.clone().traced(Gradients::leaky());
                    let y = if fused { act.apply(xt) } else { act.apply_unfused(xt) };
                    let (y, tape) = y.split_tape();
                    let g = (y.clone().put_tape(tape) * w.clone()).sum().backward();
                    (y.as_vec(), g.get(&x).as_vec())
                };
                let ((yw, gw), (yf, gf)) = (run(false), run(true));
                for (name, a, b) in [("y", &yw, &yf), ("dx", &gw, &gf)] {
                    for (k, (a, b)) in a.iter().zip(b).enumerate() {
                        assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{act} n={n} {name}[{k}]: {b} vs {a}");
                    }
                }
            }
        }
    }
}
