//! Element-wise `exp`, `sigmoid` and `tanh` the compiler can vectorise. libm's `expf` is a
//! call per element that no loop vectorises: a fifth of an LSTM training step went to it
//! (`perf`). These are branch-free arithmetic on plain `f32`s instead, so loops over slices
//! of them become SIMD code.

/// `e^x` within 2 ulp-ish (relative error below 3e-7, tested) for `x` in [−87, 88]; inputs
/// outside are clamped there, so the result never overflows to ∞ or falls to a subnormal.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two, so n·ln 2 is subtracted without rounding error (Cody & Waite).
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO; // |r| ≤ ln2 / 2
                                         // Taylor series to r⁶ (Horner): truncation error below 1.3e-7 for |r| ≤ 0.347.
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2ⁿ from its exponent bits, n + 127 ∈ [1, 254], read off the low mantissa bits of
    // n + 127 + 2²³: integer-free, since `as i32` saturates and checks for NaN, which keeps
    // the loop scalar.
    let biased = n + (127.0 + 8_388_608.0);
    p * f32::from_bits(biased.to_bits() << 23)
}

/// `ln x` for positive normal `x` (relative error below 3e-7 away from x = 1, absolute below
/// 1e-7 near it; tested), branch-free: `x = 2ᵏ·m` with `m ∈ [√½, √2)`, then
/// `ln m = 2·atanh(s)`, `s = (m − 1)/(m + 1)`, as an odd series to s⁹ (|s| ≤ 0.172).
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    const SQRT_HALF_BITS: u32 = 0x3f35_04f3; // √½
    let bits = x.to_bits();
    // Exponent relative to √½, so the mantissa lands in [√½, √2).
    let k = ((bits.wrapping_sub(SQRT_HALF_BITS)) as i32) >> 23;
    let m = f32::from_bits(bits.wrapping_sub((k as u32) << 23));
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    2.0 * s + 2.0 * s * series + k as f32 * std::f32::consts::LN_2
}

/// `1 / (1 + e^−x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x` through `exp`, saturating cleanly to ±1 (absolute error below 3e-7).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// GELU's tanh approximation, `x/2 · (1 + tanh(√(2/π) (x + 0.044715 x³)))`: dfdx's
/// `fast_gelu`, the same operations in the same order (equal bit for bit, tested), for values
/// read outside a tape.
pub fn gelu(x: f32) -> f32 {
    let alpha = x + 0.044715 * x.powi(3);
    0.5 * x * (1.0 + (std::f32::consts::FRAC_2_PI.sqrt() * alpha).tanh())
}

/// The standard normal CDF, `Φ(x) = erfc(−x/√2) / 2` (libm's `erfc`, accurate to a few ulp).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile `Φ⁻¹(q)` for `q` ∈ (0, 1), by bisection on [`normal_cdf`]
/// (to 1e-12; it draws figure grids, not inner loops). ±∞ at 0 and 1, NaN outside.
pub fn normal_quantile(q: f64) -> f64 {
    if !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    if q == 0.0 || q == 1.0 {
        return if q == 0.0 { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    while hi - lo > 1e-12 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Whether the CPU has AVX2 (and FMA), detected once.
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(test)]
    if tests::BASELINE_ONLY.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    return super::sgemm::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Defines a function whose body is compiled twice — for baseline x86-64, whose SIMD is SSE2
/// (four floats per instruction), and for AVX2 (eight) — and runs the AVX2 copy when the CPU
/// has it. The crate builds for the baseline so that it runs anywhere; its element-wise
/// passes (activations, the loss, the LSTM's gates, Adam) are defined through this. Without
/// fast-math flags the compiler keeps every operation and its order (no fused multiply-adds),
/// so both copies give bit-identical results. Closures passed in (`&impl Fn`) are inlined
/// into each copy; a closure wrapped around the body would not be (it stayed SSE2: `perf`).
macro_rules! wide_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                body($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::nn::math::has_avx2() {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { avx2($($arg),*) };
            }
            body($($arg),*)
        }
    };
}
pub(crate) use wide_fn;

wide_fn! {
    /// [`sigmoid`] of every value, in place.
    pub fn sigmoid_slice(x: &mut [f32]) {
        x.iter_mut().for_each(|v| *v = sigmoid(*v));
    }
}

wide_fn! {
    /// [`tanh`] of every value, in place.
    pub fn tanh_slice(x: &mut [f32]) {
        x.iter_mut().for_each(|v| *v = tanh(*v));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Makes [`has_avx2`] answer no, to compare the two copies of a [`wide_fn`].
    pub(crate) static BASELINE_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    /// Runs `f` on both copies of the passes: AVX2 (where the CPU has it), then baseline.
    pub(crate) fn both_paths<R>(f: impl Fn() -> R) -> (R, R) {
        use std::sync::atomic::Ordering::SeqCst;
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let wide = f();
        BASELINE_ONLY.store(true, SeqCst);
        let base = f();
        BASELINE_ONLY.store(false, SeqCst);
        (wide, base)
    }

    /// The AVX2 copies give the baseline's results to the bit: the element-wise passes, a
    /// dense layer's fused forward and backward, the reconstruction loss, an LSTM and Adam.
    #[test]
    fn avx2_and_baseline_copies_agree_to_the_bit() {
        use crate::models::{recon_loss, ReconLoss};
        use crate::nn::{Activation, Dense, Dev, Lstm, Params};
        use crate::train::{Adam, AdamConfig};
        use dfdx::prelude::*;
        let dev = Dev::seed_from_u64(2);
        let x: Vec<f32> = (0..20_003).map(|i| ((i * 7919) % 2001) as f32 / 100.0 - 10.0).collect();
        let (a, b) = both_paths(|| {
            let (mut s, mut t) = (x.clone(), x.clone());
            sigmoid_slice(&mut s);
            tanh_slice(&mut t);
            (s, t)
        });
        assert!(a == b, "sigmoid_slice / tanh_slice");
        let l: Dense<usize, usize> = Dense::new(&dev, 97, 45);
        let xb: Tensor<(usize, usize), f32, Dev> = dev.sample_normal_like(&(61, 97));
        let target: Tensor<(usize, usize), f32, Dev> = dev.sample_uniform_like(&(61, 45));
        for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
            for loss in [ReconLoss::Bce, ReconLoss::Mse] {
                let (a, b) = both_paths(|| {
                    let h = l.forward_act(xb.clone().traced(l.alloc_grads()), act);
                    let z = act.apply(h);
                    let total = recon_loss(z, target.clone(), Activation::Sigmoid, loss);
                    let value = total.array();
                    let g = total.backward();
                    let mut adam = Adam::new(AdamConfig::default());
                    let mut m = l.clone();
                    adam.update(&mut m, &mut g.clone());
                    (value, g.get(&l.weight).as_vec(), g.get(&xb).as_vec(), m.weight.as_vec())
                });
                assert!(a == b, "dense + {act} + {loss:?} + Adam");
            }
        }
        let lstm = Lstm::<2, 8>::new(&dev);
        let seq: Tensor<(usize, usize, Const<2>), f32, Dev> = dev.sample_normal_like(&(5, 9, Const));
        let (a, b) = both_paths(|| {
            let y = lstm.forward(seq.clone().traced(lstm.alloc_grads()));
            let (y, tape) = y.split_tape();
            let g = y.clone().put_tape(tape).square().sum().backward();
            (y.as_vec(), g.get(&lstm.weight_hh).as_vec(), g.get(&seq).as_vec())
        });
        assert!(a == b, "lstm");
    }

    #[test]
    fn exp_sigmoid_and_tanh_match_std_over_their_range() {
        let mut worst = (0.0f64, 0.0f32);
        for i in 0..=2_000_000 {
            let x = -87.0 + 175.0 * i as f32 / 2e6;
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            let rel = ((got - want) / want).abs();
            if rel > worst.0 {
                worst = (rel, x);
            }
            let s = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!((sigmoid(x) as f64 - s).abs() <= 3e-7 * s.max(1e-30) + 1e-38, "sigmoid({x})");
            assert!((tanh(x / 8.0) as f64 - (x as f64 / 8.0).tanh()).abs() <= 3e-7, "tanh({})", x / 8.0);
        }
        assert!(worst.0 < 3e-7, "exp: relative error {} at {}", worst.0, worst.1);
        for i in 1..=2_000_000 {
            // From 1e-30 to 1e30, and densely around 1 (where ln is near 0).
            for x in [10f64.powf(-30.0 + 60.0 * i as f64 / 2e6) as f32, 0.5 + i as f32 / 1e6] {
                let (got, want) = (ln(x) as f64, (x as f64).ln());
                assert!((got - want).abs() <= 3e-7 * want.abs() + 1e-7, "ln({x}) = {got}, want {want}");
            }
        }
        // Clamped, not overflowing: saturated activations stay finite and exact at the ends.
        assert_eq!((sigmoid(-200.0) < 1e-37, sigmoid(200.0), tanh(-60.0), tanh(60.0)), (true, 1.0, -1.0, 1.0));
        assert!(exp(1000.0).is_finite() && exp(-1000.0) > 0.0);
    }
}
