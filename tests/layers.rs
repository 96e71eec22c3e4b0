//! The crate's own layers against PyTorch (reference values made by
//! `scripts/pytorch_layers.py`, committed as `tests/fixtures/layers.safetensors`) and against
//! finite differences.

use std::collections::HashMap;
use std::path::Path;

use autoencoders::nn::{
    repeat_steps, Conv2d, ConvTranspose2d, Dev, Lstm, MaxPool2d, Param, Params, Upsample2d, UpsampleMode,
};
use autoencoders::prelude::*;
use autoencoders::train::checkpoint::read_safetensors;
use dfdx::prelude::*;

fn fixture() -> HashMap<String, Vec<f32>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layers.safetensors");
    read_safetensors(&path).unwrap().0.into_iter().map(|t| (t.name, t.values)).collect()
}

/// Largest |a − b| relative to the largest |b|: the tolerance is 1e-4 of the values' scale.
fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let err = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale;
    assert!(err < 1e-4, "{what}: relative error {err:e}");
}

/// Runs `forward` on the case's `x` with a tape, backpropagates `sum(y · gy)`, and compares
/// `y`, `dx` and the parameter gradients with PyTorch's.
macro_rules! check_case {
    ($f:expr, $case:literal, $layer:expr, ($b:literal, $c:literal, $h:literal, $w:literal) => ($oc:literal, $oh:literal, $ow:literal)) => {{
        let f = &$f;
        let get = |n: &str| f.get(&format!("{}.{n}", $case)).unwrap_or_else(|| panic!("{}.{n} missing", $case)).clone();
        let dev = Dev::default();
        let mut layer = $layer;
        layer.visit_mut("", &mut |name, p| p.set_values(&get(&name)));
        let x = dev.tensor_from_vec(get("x"), ($b as usize, Const::<$c>, Const::<$h>, Const::<$w>));
        let gy = dev.tensor_from_vec(get("gy"), ($b as usize, Const::<$oc>, Const::<$oh>, Const::<$ow>));
        let y: Tensor<(usize, Const<$oc>, Const<$oh>, Const<$ow>), f32, Dev, _> = layer.forward(x.leaky_trace());
        assert_close(concat!($case, " y"), &y.as_vec(), &get("y"));
        let grads = (y * gy).sum().backward();
        assert_close(concat!($case, " dx"), &grads.get(&x).as_vec(), &get("dx"));
        layer.visit("", &mut |name, p| {
            assert_close(&format!("{} d{name}", $case), &p.grad(&grads), &get(&format!("d{name}")));
        });
    }};
}

/// For layers without parameters, `visit` is a no-op.
struct NoParams<L>(L);
impl<L> Params for NoParams<L> {
    fn visit(&self, _: &str, _: &mut dyn FnMut(String, &dyn autoencoders::nn::Param)) {}
    fn visit_mut(&mut self, _: &str, _: &mut dyn FnMut(String, &mut dyn autoencoders::nn::Param)) {}
}
impl<L> std::ops::Deref for NoParams<L> {
    type Target = L;
    fn deref(&self) -> &L {
        &self.0
    }
}

#[test]
fn conv2d_matches_pytorch() {
    let f = fixture();
    let dev = Dev::default();
    check_case!(f, "conv_same", Conv2d::<3, 4, 3, 1, 1>::new(&dev), (2, 3, 7, 5) => (4, 7, 5));
    check_case!(f, "conv_mnist_s2", Conv2d::<1, 16, 3, 2, 1>::new(&dev), (1, 1, 28, 28) => (16, 14, 14));
    check_case!(f, "conv_k2s2", Conv2d::<2, 3, 2, 2, 0>::new(&dev), (3, 2, 6, 6) => (3, 3, 3));
    check_case!(f, "conv_16_32", Conv2d::<16, 32, 3, 2, 1>::new(&dev), (2, 16, 14, 14) => (32, 7, 7));
    check_case!(f, "conv_odd", Conv2d::<2, 3, 4, 3, 2>::new(&dev), (2, 2, 9, 8) => (3, 4, 3));
}

#[test]
fn conv_transpose2d_matches_pytorch() {
    let f = fixture();
    let dev = Dev::default();
    check_case!(f, "convt_s2_op1", ConvTranspose2d::<4, 2, 3, 2, 1, 1>::new(&dev), (2, 4, 4, 3) => (2, 8, 6));
    check_case!(f, "convt_32_16", ConvTranspose2d::<32, 16, 3, 2, 1, 1>::new(&dev), (1, 32, 7, 7) => (16, 14, 14));
    check_case!(f, "convt_k2s2", ConvTranspose2d::<2, 3, 2, 2, 0, 0>::new(&dev), (3, 2, 5, 5) => (3, 10, 10));
    check_case!(f, "convt_s1", ConvTranspose2d::<3, 2, 3, 1, 0, 0>::new(&dev), (2, 3, 3, 4) => (2, 5, 6));
}

#[test]
fn max_pool_and_upsample_match_pytorch() {
    let f = fixture();
    check_case!(f, "pool_2", NoParams(MaxPool2d::<2, 2>), (2, 3, 7, 6) => (3, 3, 3));
    check_case!(f, "pool_3s1", NoParams(MaxPool2d::<3, 1>), (1, 2, 5, 5) => (2, 3, 3));
    check_case!(f, "up_nearest", NoParams(Upsample2d { mode: UpsampleMode::Nearest }), (2, 2, 3, 4) => (2, 6, 8));
    check_case!(f, "up_bilinear", NoParams(Upsample2d { mode: UpsampleMode::Bilinear }), (1, 2, 3, 3) => (2, 7, 7));
}

/// `sum(y · r)` for fixed `r`, as f64.
fn objective(y: &[f32], r: &[f32]) -> f64 {
    y.iter().zip(r).map(|(a, b)| *a as f64 * *b as f64).sum()
}

fn ramp(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 + seed * 104_729) % 1013) as f32 / 506.5 - 1.0).collect()
}

#[test]
fn conv_gradients_match_finite_differences() {
    let dev = Dev::default();
    let conv = Conv2d::<2, 3, 3, 2, 1>::new(&dev);
    let convt = ConvTranspose2d::<3, 2, 3, 2, 1, 1>::new(&dev);
    let xv = ramp(2 * 2 * 5 * 5, 1);
    type X = (usize, Const<2>, Const<5>, Const<5>);
    let shape: X = (2, Const, Const, Const);
    // conv then transposed conv: 2×5×5 → 3×3×3 → 2×6×6.
    let run = |conv: &Conv2d<2, 3, 3, 2, 1>, convt: &ConvTranspose2d<3, 2, 3, 2, 1, 1>, x: Vec<f32>| {
        let h: Tensor<(usize, Const<3>, Const<3>, Const<3>), f32, Dev> = conv.forward(dev.tensor_from_vec(x, shape));
        let y: Tensor<(usize, Const<2>, Const<6>, Const<6>), f32, Dev> = convt.forward(h);
        y.as_vec()
    };
    let r = ramp(2 * 2 * 6 * 6, 2);
    let rt = dev.tensor_from_vec(r.clone(), (2usize, Const::<2>, Const::<6>, Const::<6>));
    let x = dev.tensor_from_vec(xv.clone(), shape);
    let h: Tensor<(usize, Const<3>, Const<3>, Const<3>), f32, Dev, _> = conv.forward(x.leaky_trace());
    let y: Tensor<(usize, Const<2>, Const<6>, Const<6>), f32, Dev, _> = convt.forward(h);
    let grads = (y * rt).sum().backward();
    // Central differences of the objective in one coordinate of `v`; exact up to rounding,
    // since the objective is linear in each of x and the weights.
    let eps = 1e-2;
    let fd = |f: &dyn Fn(&[f32]) -> f64, v: &[f32], i: usize| {
        let (mut plus, mut minus) = (v.to_vec(), v.to_vec());
        plus[i] += eps;
        minus[i] -= eps;
        (f(&plus) - f(&minus)) / (2.0 * eps as f64)
    };
    let check = |what: &str, grad: &[f32], f: &dyn Fn(&[f32]) -> f64, v: &[f32], idx: &[usize]| {
        for &i in idx {
            let want = fd(f, v, i);
            assert!((want - grad[i] as f64).abs() < 2e-3 * want.abs().max(1.0), "{what}[{i}]: {} vs {want}", grad[i]);
        }
    };
    let by_x = |x: &[f32]| objective(&run(&conv, &convt, x.to_vec()), &r);
    check("dx", &grads.get(&x).as_vec(), &by_x, &xv, &[0, 7, 24, 31, 49]);
    let by_conv_w = |w: &[f32]| {
        let mut c = conv.clone();
        c.weight.copy_from(w);
        objective(&run(&c, &convt, xv.clone()), &r)
    };
    check("conv dW", &conv.weight.grad(&grads), &by_conv_w, &conv.weight.values(), &[0, 10, 53]);
    let by_convt_w = |w: &[f32]| {
        let mut c = convt.clone();
        c.weight.copy_from(w);
        objective(&run(&conv, &c, xv.clone()), &r)
    };
    check("convT dW", &convt.weight.grad(&grads), &by_convt_w, &convt.weight.values(), &[0, 17, 53]);
}

/// An LSTM case: `final_only` compares the final hidden state, else every step's.
fn check_lstm<const I: usize, const H: usize>(
    f: &HashMap<String, Vec<f32>>,
    case: &str,
    b: usize,
    t: usize,
    final_only: bool,
) {
    let get = |n: &str| f.get(&format!("{case}.{n}")).unwrap_or_else(|| panic!("{case}.{n} missing")).clone();
    let dev = Dev::default();
    let mut lstm = Lstm::<I, H>::new(&dev);
    lstm.visit_mut("", &mut |name, p| p.set_values(&get(&name)));
    let x = dev.tensor_from_vec(get("x"), (b, t, Const::<I>));
    let grads = if final_only {
        let y = lstm.forward_final(x.leaky_trace());
        assert_close(&format!("{case} y"), &y.as_vec(), &get("y"));
        (y * dev.tensor_from_vec(get("gy"), (b, Const::<H>))).sum().backward()
    } else {
        let y = lstm.forward(x.leaky_trace());
        assert_close(&format!("{case} y"), &y.as_vec(), &get("y"));
        (y * dev.tensor_from_vec(get("gy"), (b, t, Const::<H>))).sum().backward()
    };
    assert_close(&format!("{case} dx"), &grads.get(&x).as_vec(), &get("dx"));
    lstm.visit("", &mut |name, p| assert_close(&format!("{case} d{name}"), &p.grad(&grads), &get(&format!("d{name}"))));
}

#[test]
fn lstm_matches_pytorch() {
    let f = fixture();
    check_lstm::<3, 4>(&f, "lstm_seq", 2, 5, false);
    check_lstm::<1, 6>(&f, "lstm_final", 3, 7, true);
    check_lstm::<2, 3>(&f, "lstm_b1", 1, 4, false);
}

#[test]
fn repeated_steps_pass_gradients_back_summed() {
    let dev = Dev::default();
    let z = dev.tensor_from_vec(vec![1.0, 2.0, 3.0, 4.0], (2usize, Const::<2>));
    let y = repeat_steps(z.leaky_trace(), 3);
    assert_eq!(y.as_vec(), vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0]);
    let w = dev.tensor_from_vec((0..12).map(|v| v as f32).collect(), (2usize, 3usize, Const::<2>));
    let grads = (y * w).sum().backward();
    // d/dz of Σ_t z·w_t = Σ_t w_t
    assert_eq!(grads.get(&z).as_vec(), vec![0.0 + 2.0 + 4.0, 1.0 + 3.0 + 5.0, 6.0 + 8.0 + 10.0, 7.0 + 9.0 + 11.0]);
}
