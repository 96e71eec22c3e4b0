//! Convolutional layers on stable dfdx: [`Conv2d`], [`ConvTranspose2d`], [`MaxPool2d`],
//! [`Upsample2d`], [`Flatten`] and [`Unflatten`], on NCHW batches `(usize, C, H, W)`.
//!
//! dfdx 0.13's own conv and pool layers need its `nightly` feature, which no longer builds.
//! These layers run their own kernels (im2col + one gemm per pass, see `kernels.rs`) and put
//! their backward pass on dfdx's tape with `Tape::add_backward_op`, so they train with the
//! rest of dfdx and save like any parameter.
//!
//! Channel and spatial sizes are `Const`s. Stable Rust cannot compute an output size in a type,
//! so `forward` takes the output size as const parameters (usually inferred from the next
//! layer or the model's signature) and a `const` assertion rejects a wrong one when the model
//! is compiled: a shape mistake never reaches run time.
//!
//! Inputs must be laid out contiguously (row-major), as every dfdx op and every layer here
//! returns them; a broadcast or permuted *view* must go through an op that materialises it
//! first.

use dfdx::prelude::*;
use rand_distr::Uniform;

use super::kernels::{self, conv_out, conv_transpose_out, Geometry, Mat, Scratch};
use super::{join, values, Dev, Param, Params};

/// A batch of images: `(batch, channels, height, width)`.
pub type Image<const C: usize, const H: usize, const W: usize> = (usize, Const<C>, Const<H>, Const<W>);

/// Takes the gradient buffer of `$t` out of `$grads` (to read it while writing others).
macro_rules! take_grad {
    ($grads:expr, $t:expr) => {
        std::mem::take(&mut **$grads.get_or_alloc_mut(&$t)?)
    };
}

/// Puts a buffer taken by `take_grad!` back.
macro_rules! put_grad {
    ($grads:expr, $t:expr, $v:expr) => {
        **$grads.get_or_alloc_mut(&$t)? = $v
    };
}

/// Adds `src` into the gradient of `$t`.
macro_rules! add_grad {
    ($grads:expr, $t:expr, $src:expr) => {
        for (g, v) in $grads.get_or_alloc_mut(&$t)?.iter_mut().zip($src) {
            *g += *v;
        }
    };
}

/// Uniform in ±1/√fan_in, PyTorch's default for conv weights and biases.
fn uniform<S: Shape>(dev: &Dev, shape: S, fan_in: usize) -> Tensor<S, f32, Dev> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    dev.sample_like(&shape, Uniform::new(-bound, bound))
}

/// 2-D convolution, `CI → CO` channels, `K × K` kernel, stride `S`, zero padding `P`, with
/// bias. Weight `(CO, CI, K, K)` and bias `(CO)`, named and laid out as PyTorch's `nn.Conv2d`.
///
/// ```
/// use autoencoders::nn::{Conv2d, Dev, Image};
/// use autoencoders::prelude::*;
///
/// let dev = Dev::default();
/// let conv = Conv2d::<1, 8, 3, 2, 1>::new(&dev); // 1 → 8 channels, 3×3, stride 2, padding 1
/// let x = dev.tensor_from_vec(vec![0.5; 2 * 28 * 28], (2, Const::<1>, Const::<28>, Const::<28>));
/// let y: Tensor<Image<8, 14, 14>, f32, Dev> = conv.forward(x); // (28 + 2 − 3)/2 + 1 = 14
/// ```
///
/// A wrong output size is a compile error, not a run-time one:
///
/// ```compile_fail
/// # use autoencoders::nn::{Conv2d, Dev, Image};
/// # use autoencoders::prelude::*;
/// # let dev = Dev::default();
/// # let conv = Conv2d::<1, 8, 3, 2, 1>::new(&dev);
/// # let x = dev.tensor_from_vec(vec![0.5; 2 * 28 * 28], (2, Const::<1>, Const::<28>, Const::<28>));
/// let y: Tensor<Image<8, 13, 13>, f32, Dev> = conv.forward(x); // error: Conv2d: wrong output size
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d<const CI: usize, const CO: usize, const K: usize, const S: usize = 1, const P: usize = 0> {
    /// Kernels, out × in × k × k (PyTorch's `nn.Conv2d` layout).
    pub weight: Tensor<Rank4<CO, CI, K, K>, f32, Dev>,
    /// One bias per output channel.
    pub bias: Tensor<Rank1<CO>, f32, Dev>,
}

impl<const CI: usize, const CO: usize, const K: usize, const S: usize, const P: usize> Conv2d<CI, CO, K, S, P> {
    /// A layer initialised like PyTorch's (uniform in ±1/√(CI·K·K)).
    pub fn new(dev: &Dev) -> Self {
        const { assert!(K > 0 && S > 0, "kernel and stride must be positive") };
        let fan_in = CI * K * K;
        Self {
            weight: uniform(dev, Rank4::<CO, CI, K, K>::default(), fan_in),
            bias: uniform(dev, Rank1::<CO>::default(), fan_in),
        }
    }

    /// # Shapes
    /// `(batch, CI, H, W)` → `(batch, CO, OH, OW)` with `OH = (H + 2P − K)/S + 1`, likewise
    /// `OW` (checked at compile time).
    pub fn forward<const H: usize, const W: usize, const OH: usize, const OW: usize, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Image<CI, H, W>, f32, Dev, T>,
    ) -> Tensor<Image<CO, OH, OW>, f32, Dev, T> {
        self.run(x, true, true)
    }

    /// [`Conv2d::forward`] for a layer fed data, whose gradient nobody reads: the backward pass
    /// skips the input's gradient (a product and a col2im). `x` gets no gradient.
    pub fn forward_data<const H: usize, const W: usize, const OH: usize, const OW: usize, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Image<CI, H, W>, f32, Dev, T>,
    ) -> Tensor<Image<CO, OH, OW>, f32, Dev, T> {
        self.run(x, false, true)
    }

    /// The convolution without its bias: the layer's linear part, which carries tangents
    /// (Jacobian–vector products). Without `input_grad`, `x` gets no gradient.
    pub fn forward_linear<const H: usize, const W: usize, const OH: usize, const OW: usize, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Image<CI, H, W>, f32, Dev, T>,
        input_grad: bool,
    ) -> Tensor<Image<CO, OH, OW>, f32, Dev, T> {
        self.run(x, input_grad, false)
    }

    fn run<const H: usize, const W: usize, const OH: usize, const OW: usize, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Image<CI, H, W>, f32, Dev, T>,
        input_grad: bool,
        with_bias: bool,
    ) -> Tensor<Image<CO, OH, OW>, f32, Dev, T> {
        const {
            assert!(H + 2 * P >= K && W + 2 * P >= K, "Conv2d: the kernel is larger than the padded input");
            assert!(OH == conv_out(H, K, S, P) && OW == conv_out(W, K, S, P), "Conv2d: wrong output size");
        };
        let b = x.shape().0;
        let g = Geometry { b, c: CI, h: H, w: W, k: K, s: S, p: P, oh: OH, ow: OW };
        let (x, mut tape) = x.contiguous().split_tape();
        let mut cols = Scratch::new(g.rows() * g.cols()); // overwritten by im2col
        kernels::im2col(&g, &values(&x), &mut cols);
        let w = values(&self.weight); // (CO, CI·K·K)
        let mut yt = Scratch::new(CO * g.cols()); // (CO, b·OH·OW), overwritten by the gemm
        kernels::gemm(CO, g.cols(), g.rows(), &mut yt, false, Mat::rows(&w, g.rows()), Mat::rows(&cols, g.cols()));
        let bias = with_bias.then(|| values(&self.bias));
        let y = kernels::from_channel_major(&yt, b, CO, OH * OW, bias.as_deref());
        let out = x.device().tensor_from_vec(y, (b, Const, Const, Const));

        let (x_g, w_g, b_g, out_g) = (x.ghost(), self.weight.ghost(), self.bias.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gy = take_grad!(grads, out_g); // (b, CO, OH·OW)
            let gt = kernels::to_channel_major(&gy, b, CO, OH * OW);
            if with_bias {
                kernels::channel_sums_add(&gy, b, CO, OH * OW, grads.get_or_alloc_mut(&b_g)?);
            }
            put_grad!(grads, out_g, gy);
            // dW (CO × CI·K·K) += gy (CO × N) · colsᵀ (N × CI·K·K)
            let dw = grads.get_or_alloc_mut(&w_g)?;
            kernels::gemm(CO, g.rows(), g.cols(), dw, true, Mat::rows(&gt, g.cols()), Mat::t(&cols, g.cols()));
            if !input_grad {
                return Ok(());
            }
            // dx = col2im(Wᵀ · gy)
            let mut dcols = Scratch::new(g.rows() * g.cols()); // overwritten by the gemm
            kernels::gemm(g.rows(), g.cols(), CO, &mut dcols, false, Mat::t(&w, g.rows()), Mat::rows(&gt, g.cols()));
            kernels::col2im_add(&g, &dcols, grads.get_or_alloc_mut(&x_g)?);
            Ok(())
        });
        out.put_tape(tape)
    }
}

/// 2-D transposed convolution ("deconvolution"), `CI → CO` channels, `K × K` kernel, stride
/// `S`, padding `P`, output padding `OP`, with bias: the gradient of [`Conv2d`] with respect to
/// its input, used to upsample. Weight `(CI, CO, K, K)` and bias `(CO)`, as PyTorch's
/// `nn.ConvTranspose2d`.
#[derive(Debug, Clone)]
pub struct ConvTranspose2d<
    const CI: usize,
    const CO: usize,
    const K: usize,
    const S: usize = 1,
    const P: usize = 0,
    const OP: usize = 0,
> {
    /// Kernels, in × out × k × k (PyTorch's `nn.ConvTranspose2d` layout).
    pub weight: Tensor<Rank4<CI, CO, K, K>, f32, Dev>,
    /// One bias per output channel.
    pub bias: Tensor<Rank1<CO>, f32, Dev>,
}

impl<const CI: usize, const CO: usize, const K: usize, const S: usize, const P: usize, const OP: usize>
    ConvTranspose2d<CI, CO, K, S, P, OP>
{
    /// A layer initialised like PyTorch's (uniform in ±1/√(CO·K·K): PyTorch takes the fan-in
    /// from the weight's second axis).
    pub fn new(dev: &Dev) -> Self {
        const { assert!(K > 0 && S > 0 && OP < S, "kernel and stride positive, output padding below the stride") };
        let fan_in = CO * K * K;
        Self {
            weight: uniform(dev, Rank4::<CI, CO, K, K>::default(), fan_in),
            bias: uniform(dev, Rank1::<CO>::default(), fan_in),
        }
    }

    /// # Shapes
    /// `(batch, CI, H, W)` → `(batch, CO, OH, OW)` with `OH = (H − 1)·S − 2P + K + OP`,
    /// likewise `OW` (checked at compile time).
    pub fn forward<const H: usize, const W: usize, const OH: usize, const OW: usize, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Image<CI, H, W>, f32, Dev, T>,
    ) -> Tensor<Image<CO, OH, OW>, f32, Dev, T> {
        const {
            assert!(H > 0 && W > 0 && (H - 1) * S + K + OP >= 2 * P && (W - 1) * S + K + OP >= 2 * P);
            assert!(
                OH == conv_transpose_out(H, K, S, P, OP) && OW == conv_transpose_out(W, K, S, P, OP),
                "ConvTranspose2d: wrong output size"
            );
        };
        let b = x.shape().0;
        // The convolution whose input gradient this is: image (b, CO, OH, OW), grid H × W.
        let g = Geometry { b, c: CO, h: OH, w: OW, k: K, s: S, p: P, oh: H, ow: W };
        let (x, mut tape) = x.contiguous().split_tape();
        let xt = kernels::to_channel_major(&values(&x), b, CI, H * W); // (CI, N)
        let w = values(&self.weight); // (CI, CO·K·K)
        let mut cols = Scratch::new(g.rows() * g.cols()); // (CO·K·K, N), overwritten by the gemm
        kernels::gemm(g.rows(), g.cols(), CI, &mut cols, false, Mat::t(&w, g.rows()), Mat::rows(&xt, g.cols()));
        let mut y = vec![0.0; b * CO * OH * OW];
        kernels::col2im_add(&g, &cols, &mut y);
        drop(cols);
        let bias = values(&self.bias);
        for (i, plane) in y.chunks_mut(OH * OW).enumerate() {
            plane.iter_mut().for_each(|v| *v += bias[i % CO]);
        }
        let out = x.device().tensor_from_vec(y, (b, Const, Const, Const));

        let (x_g, w_g, b_g, out_g) = (x.ghost(), self.weight.ghost(), self.bias.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gy = take_grad!(grads, out_g); // (b, CO, OH, OW)
            let mut gcols = Scratch::new(g.rows() * g.cols()); // overwritten by im2col
            kernels::im2col(&g, &gy, &mut gcols);
            kernels::channel_sums_add(&gy, b, CO, OH * OW, grads.get_or_alloc_mut(&b_g)?);
            put_grad!(grads, out_g, gy);
            // dW (CI × CO·K·K) += xt (CI × N) · gcolsᵀ (N × CO·K·K)
            let dw = grads.get_or_alloc_mut(&w_g)?;
            kernels::gemm(CI, g.rows(), g.cols(), dw, true, Mat::rows(&xt, g.cols()), Mat::t(&gcols, g.cols()));
            // dx (CI × N) = W (CI × CO·K·K) · gcols
            let mut dxt = Scratch::new(CI * g.cols()); // overwritten by the gemm
            kernels::gemm(
                CI,
                g.cols(),
                g.rows(),
                &mut dxt,
                false,
                Mat::rows(&w, g.rows()),
                Mat::rows(&gcols, g.cols()),
            );
            let dx = kernels::from_channel_major(&dxt, b, CI, H * W, None);
            add_grad!(grads, x_g, &dx);
            Ok(())
        });
        out.put_tape(tape)
    }
}

/// Max pooling over `K × K` windows with stride `S` (no padding; PyTorch's `nn.MaxPool2d(K, S)`).
/// The gradient goes to the first maximum of each window.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaxPool2d<const K: usize, const S: usize = K>;

impl<const K: usize, const S: usize> MaxPool2d<K, S> {
    /// # Shapes
    /// `(batch, C, H, W)` → `(batch, C, OH, OW)` with `OH = (H − K)/S + 1` (checked at compile time).
    pub fn forward<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        T: Tape<f32, Dev>,
    >(
        &self,
        x: Tensor<Image<C, H, W>, f32, Dev, T>,
    ) -> Tensor<Image<C, OH, OW>, f32, Dev, T> {
        const {
            assert!(K > 0 && S > 0 && H >= K && W >= K, "MaxPool2d: window larger than the input");
            assert!(OH == conv_out(H, K, S, 0) && OW == conv_out(W, K, S, 0), "MaxPool2d: wrong output size");
        };
        let b = x.shape().0;
        let (x, mut tape) = x.contiguous().split_tape();
        let xv = values(&x);
        let (planes, hw, ohw) = (b * C, H * W, OH * OW);
        let mut y = vec![0.0; planes * ohw];
        let mut arg = vec![0u32; planes * ohw]; // index into the input of each maximum
        for p in 0..planes {
            let src = &xv[p * hw..][..hw];
            for oy in 0..OH {
                for ox in 0..OW {
                    let mut best = (f32::NEG_INFINITY, 0);
                    for ky in 0..K {
                        for kx in 0..K {
                            let i = (oy * S + ky) * W + ox * S + kx;
                            // NaN propagates like PyTorch's: a NaN is the maximum.
                            if src[i] > best.0 || src[i].is_nan() && !best.0.is_nan() {
                                best = (src[i], i);
                            }
                        }
                    }
                    y[p * ohw + oy * OW + ox] = best.0;
                    arg[p * ohw + oy * OW + ox] = (p * hw + best.1) as u32;
                }
            }
        }
        let out = x.device().tensor_from_vec(y, (b, Const, Const, Const));
        let (x_g, out_g) = (x.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let gy = take_grad!(grads, out_g);
            let dx = grads.get_or_alloc_mut(&x_g)?;
            for (&i, &g) in arg.iter().zip(&gy) {
                dx[i as usize] += g;
            }
            put_grad!(grads, out_g, gy);
            Ok(())
        });
        out.put_tape(tape)
    }
}

/// How [`Upsample2d`] fills new pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpsampleMode {
    /// Copies the nearest input pixel (PyTorch `mode="nearest"`).
    #[default]
    Nearest,
    /// Bilinear interpolation with the corners aligned (PyTorch `mode="bilinear",
    /// align_corners=True`).
    Bilinear,
}

/// Upsampling to a fixed size by nearest-neighbour or bilinear interpolation (dfdx's stable
/// `upscale2d`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Upsample2d {
    /// How new pixels are filled in.
    pub mode: UpsampleMode,
}

impl Upsample2d {
    /// # Shapes
    /// `(batch, C, H, W)` → `(batch, C, OH, OW)`, `OH ≥ H`, `OW ≥ W`.
    pub fn forward<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        T: Tape<f32, Dev> + 'static,
    >(
        &self,
        x: Tensor<Image<C, H, W>, f32, Dev, T>,
    ) -> Tensor<Image<C, OH, OW>, f32, Dev, T> {
        const { assert!(OH >= H && OW >= W && H > 0 && W > 0, "Upsample2d: the output must not be smaller") };
        match self.mode {
            UpsampleMode::Nearest => x.upscale2d::<OH, OW, NearestNeighbor>(NearestNeighbor),
            UpsampleMode::Bilinear => x.upscale2d::<OH, OW, Bilinear>(Bilinear),
        }
    }
}

/// `(batch, C, H, W)` → `(batch, N)` with `N = C·H·W` (checked at compile time).
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

impl Flatten {
    /// # Shapes
    /// `(batch, C, H, W)` → `(batch, N)`, `N = C·H·W`.
    pub fn forward<const C: usize, const H: usize, const W: usize, const N: usize, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Image<C, H, W>, f32, Dev, T>,
    ) -> Tensor<(usize, Const<N>), f32, Dev, T> {
        const { assert!(N == C * H * W, "Flatten: N must be C·H·W") };
        let b = x.shape().0;
        x.reshape_like(&(b, Const::<N>))
    }
}

/// `(batch, N)` → `(batch, C, H, W)` with `N = C·H·W` (checked at compile time).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unflatten;

impl Unflatten {
    /// # Shapes
    /// `(batch, N)` → `(batch, C, H, W)`, `N = C·H·W`.
    pub fn forward<const C: usize, const H: usize, const W: usize, const N: usize, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(usize, Const<N>), f32, Dev, T>,
    ) -> Tensor<Image<C, H, W>, f32, Dev, T> {
        const { assert!(N == C * H * W, "Unflatten: N must be C·H·W") };
        let b = x.shape().0;
        x.reshape_like(&(b, Const, Const, Const))
    }
}

macro_rules! weight_and_bias_params {
    ($ty:ident < $($c:ident),* >) => {
        impl<$(const $c: usize),*> Params for $ty<$($c),*> {
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
                f(join(prefix, "weight"), &self.weight);
                f(join(prefix, "bias"), &self.bias);
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
                f(join(prefix, "weight"), &mut self.weight);
                f(join(prefix, "bias"), &mut self.bias);
            }
        }
    };
}
weight_and_bias_params!(Conv2d<CI, CO, K, S, P>);
weight_and_bias_params!(ConvTranspose2d<CI, CO, K, S, P, OP>);
