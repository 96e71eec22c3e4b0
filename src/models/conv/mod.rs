//! A convolutional autoencoder for images: two stride-2 conv blocks down to a dense code, and
//! transposed convolutions back up.
//!
//! Every channel and spatial size is a `Const` checked by the compiler (see [`crate::nn::conv`]);
//! the code size comes from the config, and the image shape picks one of the compiled
//! [`SIZES`] at run time (`C×H×W`, from the data). Samples arrive flat (`C·H·W` values, as
//! every loader gives them) and are viewed as images inside. [`ConvAutoencoder`] is the
//! 1×28×28 model (MNIST, Fashion-MNIST); [`Conv3x64x64`] and the like the others.

mod config;

pub use config::ConvConfig;

use dfdx::prelude::*;

use crate::models::{
    Autoencoder, BuildOptions, CardText, Family, FamilyModel, HeadsVisitor, JacobianSupport, ModelVisitor, ReconLoss,
};
use crate::nn::{join, Activation, Conv2d, ConvTranspose2d, Dense, Dev, Flatten, Image, Param, Params, Unflatten};
use crate::Result;

type C<const N: usize> = Const<N>;

/// The image shapes (channels, height, width) the conv family is compiled for. Height and
/// width are multiples of 4 (two stride-2 halvings, undone exactly by the transposed convs).
pub const SIZES: &[(usize, usize, usize)] =
    &[(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64), (1, 112, 92)];

/// The conv autoencoder for 1×28×28 images.
pub type Conv1x28x28 = ConvNet<1, 28, 28, 14, 14, 7, 7, 784, 1568>;
/// The conv autoencoder for 3×28×28 images.
pub type Conv3x28x28 = ConvNet<3, 28, 28, 14, 14, 7, 7, 2352, 1568>;
/// The conv autoencoder for 1×32×32 images.
pub type Conv1x32x32 = ConvNet<1, 32, 32, 16, 16, 8, 8, 1024, 2048>;
/// The conv autoencoder for 3×32×32 images.
pub type Conv3x32x32 = ConvNet<3, 32, 32, 16, 16, 8, 8, 3072, 2048>;
/// The conv autoencoder for 1×64×64 images.
pub type Conv1x64x64 = ConvNet<1, 64, 64, 32, 32, 16, 16, 4096, 8192>;
/// The conv autoencoder for 3×64×64 images.
pub type Conv3x64x64 = ConvNet<3, 64, 64, 32, 32, 16, 16, 12288, 8192>;
/// The conv autoencoder for 1×112×92 images.
pub type Conv1x112x92 = ConvNet<1, 112, 92, 56, 46, 28, 23, 10304, 20608>;

/// Image → code, for `CH×H×W` images; `H2 = H/2`, `H4 = H/4` (likewise W), `IN = CH·H·W`,
/// `FLAT = 32·H4·W4` (checked when the model is built).
#[derive(Debug, Clone)]
pub struct ConvEncoder<const CH: usize, const H4: usize, const W4: usize, const FLAT: usize> {
    /// 1. CH×H×W → 16×H/2×W/2, 3×3, stride 2
    pub conv1: Conv2d<CH, 16, 3, 2, 1>,
    /// 2. 16×H/2×W/2 → 32×H/4×W/4, 3×3, stride 2
    pub conv2: Conv2d<16, 32, 3, 2, 1>,
    /// 3. 32·H/4·W/4 → code (linear)
    pub fc: Dense<C<FLAT>, usize>,
}

/// Code → image.
#[derive(Debug, Clone)]
pub struct ConvDecoder<const CH: usize, const FLAT: usize> {
    /// 1. code → 32·H/4·W/4
    pub fc: Dense<usize, C<FLAT>>,
    /// 2. 32×H/4×W/4 → 16×H/2×W/2, 3×3 transposed, stride 2
    pub deconv1: ConvTranspose2d<32, 16, 3, 2, 1, 1>,
    /// 3. 16×H/2×W/2 → CH×H×W, 3×3 transposed, stride 2 (logits)
    pub deconv2: ConvTranspose2d<16, CH, 3, 2, 1, 1>,
}

/// The convolutional autoencoder for 1×28×28 images (MNIST, Fashion-MNIST).
pub type ConvAutoencoder = Conv1x28x28;

/// The convolutional autoencoder: [`ConvEncoder`] and [`ConvDecoder`], for `CH×H×W` images
/// (the other parameters follow from those; see [`ConvEncoder`]). Use it through the aliases
/// for the compiled [`SIZES`]: [`ConvAutoencoder`] (1×28×28), [`Conv3x64x64`] ….
#[derive(Debug, Clone)]
pub struct ConvNet<
    const CH: usize,
    const H: usize,
    const W: usize,
    const H2: usize,
    const W2: usize,
    const H4: usize,
    const W4: usize,
    const IN: usize,
    const FLAT: usize,
> {
    /// Image → code.
    pub encoder: ConvEncoder<CH, H4, W4, FLAT>,
    /// Code → image logits.
    pub decoder: ConvDecoder<CH, FLAT>,
    config: ConvConfig,
}

impl<
        const CH: usize,
        const H: usize,
        const W: usize,
        const H2: usize,
        const W2: usize,
        const H4: usize,
        const W4: usize,
        const IN: usize,
        const FLAT: usize,
    > ConvNet<CH, H, W, H2, W2, H4, W4, IN, FLAT>
{
    /// A freshly initialised model (PyTorch's default initialisation for every layer); an
    /// error when `config`'s image shape is not this type's.
    pub fn new(dev: &Dev, config: &ConvConfig) -> Result<Self> {
        Self::with_heads(dev, config, 1)
    }

    /// A model whose encoder's dense layer emits `heads × code` values (a VAE's means and
    /// log-variances, side by side) and whose decoder reads `code`.
    pub fn with_heads(dev: &Dev, config: &ConvConfig, heads: usize) -> Result<Self> {
        const {
            assert!(H.is_multiple_of(4) && W.is_multiple_of(4) && H2 * 2 == H && W2 * 2 == W && H4 * 2 == H2 && W4 * 2 == W2);
            assert!(IN == CH * H * W && FLAT == 32 * H4 * W4);
        };
        config.validate()?;
        if (config.channels, config.height, config.width) != (CH, H, W) {
            return Err(crate::Error::config(
                "model",
                format!(
                    "the config is for {}×{}×{} images, this model type for {CH}×{H}×{W}",
                    config.channels, config.height, config.width
                ),
            ));
        }
        Ok(Self {
            encoder: ConvEncoder {
                conv1: Conv2d::new(dev),
                conv2: Conv2d::new(dev),
                fc: Dense::new(dev, Const, heads * config.code),
            },
            decoder: ConvDecoder {
                fc: Dense::new(dev, config.code, Const),
                deconv1: ConvTranspose2d::new(dev),
                deconv2: ConvTranspose2d::new(dev),
            },
            config: config.clone(),
        })
    }

    /// The hyperparameters this model was built from.
    pub fn config(&self) -> &ConvConfig {
        &self.config
    }

    /// # Shapes
    /// (batch, IN) → (batch, CH, H, W) → (batch, 16, H/2, W/2) → (batch, 32, H/4, W/4)
    /// → (batch, FLAT) → (batch, code)
    fn encode_with<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(usize, C<IN>), f32, Dev, T>,
        input_grad: bool,
    ) -> Tensor<(usize, usize), f32, Dev, T> {
        let (e, act) = (&self.encoder, self.config.activation);
        let b = x.shape().0;
        let img: Tensor<Image<CH, H, W>, f32, Dev, T> = x.reshape_like(&(b, Const, Const, Const));
        let conv1 = if input_grad { e.conv1.forward(img) } else { e.conv1.forward_data(img) };
        let h: Tensor<Image<16, H2, W2>, f32, Dev, T> = act.apply(conv1);
        let h: Tensor<Image<32, H4, W4>, f32, Dev, T> = act.apply(e.conv2.forward(h));
        let flat: Tensor<(usize, C<FLAT>), f32, Dev, T> = Flatten.forward(h);
        e.fc.forward_act(flat, Activation::Identity)
    }

    /// [`ConvNet::encode_with`] (no input gradient) and the code's tangent along `u`.
    ///
    /// # Shapes
    /// as `encode_with`, for the values and their tangents alike
    fn encode_tangent<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(usize, C<IN>), f32, Dev, T>,
        u: Tensor<(usize, C<IN>), f32, Dev>,
    ) -> (Tensor<(usize, usize), f32, Dev, T>, Tensor<(usize, usize), f32, Dev, T>) {
        let (e, act) = (&self.encoder, self.config.activation);
        let b = x.shape().0;
        let img: Tensor<Image<CH, H, W>, f32, Dev, T> = x.reshape_like(&(b, Const, Const, Const));
        let dir: Tensor<Image<CH, H, W>, f32, Dev, T> = u.reshape_like(&(b, Const, Const, Const)).put_tape(T::default());
        // Each layer: y = act(conv(x) + bias), ẏ = act'(…) ⊙ conv(ẋ) (the bias drops out).
        let h1: Tensor<Image<16, H2, W2>, f32, Dev, T> = act.apply(e.conv1.forward_data(img));
        let t1 = act.tangent(h1.with_empty_tape(), e.conv1.forward_linear(dir, false));
        let h2: Tensor<Image<32, H4, W4>, f32, Dev, T> = act.apply(e.conv2.forward(h1));
        let t2 = act.tangent(h2.with_empty_tape(), e.conv2.forward_linear(t1, true));
        let flat: Tensor<(usize, C<FLAT>), f32, Dev, T> = Flatten.forward(h2);
        let t_flat: Tensor<(usize, C<FLAT>), f32, Dev, T> = Flatten.forward(t2);
        (e.fc.forward_act(flat, Activation::Identity), e.fc.forward_linear(t_flat, true))
    }
}

impl<
        const CH: usize,
        const H: usize,
        const W: usize,
        const H2: usize,
        const W2: usize,
        const H4: usize,
        const W4: usize,
        const IN: usize,
        const FLAT: usize,
    > Autoencoder for ConvNet<CH, H, W, H2, W2, H4, W4, IN, FLAT>
{
    type Input = (usize, C<IN>);
    type Code = (usize, usize);

    fn input_shape(&self, batch: usize) -> Self::Input {
        (batch, Const)
    }

    fn code_len(&self) -> usize {
        self.config.code
    }

    fn output(&self) -> (Activation, ReconLoss) {
        (self.config.output_activation, self.config.loss)
    }

    /// # Shapes
    /// (batch, IN) → (batch, CH, H, W) → (batch, 16, H/2, W/2) → (batch, 32, H/4, W/4)
    /// → (batch, FLAT) → (batch, code)
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.encode_with(x, true)
    }

    /// As `encode`, without the input's gradient (the first convolution skips it).
    fn encode_data<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.encode_with(x, false)
    }

    fn encode_jvp<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Self::Input, f32, Dev, T>,
        u: Tensor<Self::Input, f32, Dev>,
    ) -> Option<(Tensor<Self::Code, f32, Dev, T>, Tensor<Self::Code, f32, Dev, T>)> {
        Some(self.encode_tangent(x, u))
    }

    /// # Shapes
    /// (batch, code) → (batch, FLAT) → (batch, 32, H/4, W/4) → (batch, 16, H/2, W/2)
    /// → (batch, CH, H, W) → (batch, IN), before the output activation
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        let (d, act) = (&self.decoder, self.config.activation);
        let b = z.shape().0;
        let h = d.fc.forward_act(z, act);
        let h: Tensor<Image<32, H4, W4>, f32, Dev, T> = Unflatten.forward(h);
        let h: Tensor<Image<16, H2, W2>, f32, Dev, T> = act.apply(d.deconv1.forward(h));
        let img: Tensor<Image<CH, H, W>, f32, Dev, T> = d.deconv2.forward(h);
        img.reshape_like(&(b, Const))
    }
}

impl<
        const CH: usize,
        const H: usize,
        const W: usize,
        const H2: usize,
        const W2: usize,
        const H4: usize,
        const W4: usize,
        const IN: usize,
        const FLAT: usize,
    > Params for ConvNet<CH, H, W, H2, W2, H4, W4, IN, FLAT>
{
    // Numbered like the dense model's layers: encoder.0 … encoder.2, decoder.0 … decoder.2.
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        let (e, d) = (&self.encoder, &self.decoder);
        e.conv1.visit(&join(prefix, "encoder.0"), f);
        e.conv2.visit(&join(prefix, "encoder.1"), f);
        e.fc.visit(&join(prefix, "encoder.2"), f);
        d.fc.visit(&join(prefix, "decoder.0"), f);
        d.deconv1.visit(&join(prefix, "decoder.1"), f);
        d.deconv2.visit(&join(prefix, "decoder.2"), f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        let (e, d) = (&mut self.encoder, &mut self.decoder);
        e.conv1.visit_mut(&join(prefix, "encoder.0"), f);
        e.conv2.visit_mut(&join(prefix, "encoder.1"), f);
        e.fc.visit_mut(&join(prefix, "encoder.2"), f);
        d.fc.visit_mut(&join(prefix, "decoder.0"), f);
        d.deconv1.visit_mut(&join(prefix, "decoder.1"), f);
        d.deconv2.visit_mut(&join(prefix, "decoder.2"), f);
    }
}

/// The convolutional family: `--model conv`.
pub struct ConvFamily;

impl Family for ConvFamily {
    const NAME: &'static str = "conv";
    const ABOUT: &'static str = "Convolutional, for images of 1×28×28, 3×28×28, 1|3×32×32, 1|3×64×64 or 1×112×92 \
                                 (others: --image-size): two stride-2 conv layers (16, 32 channels) and a dense \
                                 code, transposed convolutions back (--code sets the code size; --hidden does not \
                                 apply).";
    type Config = ConvConfig;

    fn example() -> ConvConfig {
        ConvConfig::new(4)
    }
    fn validate(cfg: &ConvConfig) -> Result<()> {
        cfg.validate()
    }
    fn jacobian(cfg: &ConvConfig) -> std::result::Result<JacobianSupport, String> {
        if !cfg.activation.has_output_slope() {
            return Err(format!("the encoder's {} activation has no slope as a function of its output", cfg.activation));
        }
        Ok(JacobianSupport { exact: false })
    }
    fn describe(cfg: &ConvConfig) -> String {
        cfg.describe()
    }
    fn num_params(cfg: &ConvConfig) -> u64 {
        let (c, code) = (cfg.channels as u64, cfg.code as u64);
        let flat = 32 * (cfg.height as u64 / 4) * (cfg.width as u64 / 4);
        let convs = (16 * c * 9 + 16) + (32 * 16 * 9 + 32) + (32 * 16 * 9 + 16) + (16 * c * 9 + c);
        let dense = flat.saturating_mul(code).saturating_add(code).saturating_add(code.saturating_mul(flat).saturating_add(flat));
        convs.saturating_add(dense)
    }
    fn input_len(cfg: &ConvConfig) -> usize {
        cfg.channels * cfg.height * cfg.width
    }
    fn code_len(cfg: &ConvConfig) -> usize {
        cfg.code
    }
    fn from_options(o: &BuildOptions) -> Result<ConvConfig> {
        if !o.hidden.is_empty() {
            return Err(crate::Error::config(
                "hidden",
                "--hidden does not apply to --model conv (its layers are fixed; --code sets the code size)",
            ));
        }
        let [channels, height, width] = o.shape[..] else {
            return Err(crate::Error::config(
                "model",
                format!(
                    "--model conv takes images (samples of shape channels×height×width), not samples of shape {:?}; \
                     use --model dense for tables",
                    o.shape
                ),
            ));
        };
        let cfg = ConvConfig {
            code: o.code,
            activation: o.activation,
            output_activation: o.output_activation,
            loss: o.loss,
            channels,
            height,
            width,
        };
        cfg.validate()?;
        Ok(cfg)
    }
    fn card(cfg: &ConvConfig) -> CardText {
        CardText {
            rust_type: match (cfg.channels, cfg.height, cfg.width) {
                (1, 28, 28) => "ConvAutoencoder".into(),
                (c, h, w) => format!("Conv{c}x{h}x{w}"),
            },
            module: "conv",
            tag: "convolutional-autoencoder",
            weight_layout: format!(
                "`encoder.{{i}}.weight` and `encoder.{{i}}.bias` (0: 3×3 conv {c}→16, 1: 3×3 conv 16→32, 2: dense \
                 {flat}→code), then `decoder.{{i}}.…` (0: dense code→{flat}, 1: 3×3 transposed conv 32→16, 2: 3×3 \
                 transposed conv 16→{c}); laid out as PyTorch's layers (`nn.Conv2d`: out × in × k × k; \
                 `nn.ConvTranspose2d`: in × out × k × k; `nn.Linear`: out × in).",
                c = cfg.channels,
                flat = 32 * (cfg.height / 4) * (cfg.width / 4)
            ),
            loss: cfg.loss,
        }
    }
    fn build<V: ModelVisitor>(cfg: &ConvConfig, dev: &Dev, v: V) -> Result<V::Output> {
        // One arm per entry of SIZES (a test builds each): the compiler needs every shape.
        match (cfg.channels, cfg.height, cfg.width) {
            (1, 28, 28) => v.visit(Conv1x28x28::new(dev, cfg)?),
            (3, 28, 28) => v.visit(Conv3x28x28::new(dev, cfg)?),
            (1, 32, 32) => v.visit(Conv1x32x32::new(dev, cfg)?),
            (3, 32, 32) => v.visit(Conv3x32x32::new(dev, cfg)?),
            (1, 64, 64) => v.visit(Conv1x64x64::new(dev, cfg)?),
            (3, 64, 64) => v.visit(Conv3x64x64::new(dev, cfg)?),
            (1, 112, 92) => v.visit(Conv1x112x92::new(dev, cfg)?),
            (c, h, w) => Err(config::unsupported_size(c, h, w)),
        }
    }
    fn build_heads<V: HeadsVisitor>(cfg: &ConvConfig, dev: &Dev, heads: usize, v: V) -> Result<V::Output> {
        match (cfg.channels, cfg.height, cfg.width) {
            (1, 28, 28) => v.visit(Conv1x28x28::with_heads(dev, cfg, heads)?),
            (3, 28, 28) => v.visit(Conv3x28x28::with_heads(dev, cfg, heads)?),
            (1, 32, 32) => v.visit(Conv1x32x32::with_heads(dev, cfg, heads)?),
            (3, 32, 32) => v.visit(Conv3x32x32::with_heads(dev, cfg, heads)?),
            (1, 64, 64) => v.visit(Conv1x64x64::with_heads(dev, cfg, heads)?),
            (3, 64, 64) => v.visit(Conv3x64x64::with_heads(dev, cfg, heads)?),
            (1, 112, 92) => v.visit(Conv1x112x92::with_heads(dev, cfg, heads)?),
            (c, h, w) => Err(config::unsupported_size(c, h, w)),
        }
    }
}

impl<
        const CH: usize,
        const H: usize,
        const W: usize,
        const H2: usize,
        const W2: usize,
        const H4: usize,
        const W4: usize,
        const IN: usize,
        const FLAT: usize,
    > FamilyModel for ConvNet<CH, H, W, H2, W2, H4, W4, IN, FLAT>
{
    type Family = ConvFamily;
    fn from_config(dev: &Dev, cfg: &ConvConfig) -> Result<Self> {
        Self::new(dev, cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;

    struct Shapes;

    impl ModelVisitor for Shapes {
        type Output = (usize, usize, usize);
        fn visit<M: Autoencoder>(self, m: M) -> Result<(usize, usize, usize)> {
            let dev = Dev::default();
            let x = dev.zeros_like(&m.input_shape(2));
            let out = m.reconstruct(x);
            Ok((out.as_vec().len() / 2, m.code_len(), m.num_params()))
        }
    }

    #[test]
    fn every_compiled_size_builds_and_round_trips_its_shape() {
        for &(c, h, w) in SIZES {
            let cfg = ConvConfig::new(5).with_image(c, h, w);
            let (out, code, params) = ModelConfig::Conv(cfg.clone()).build(&Dev::default(), Shapes).unwrap();
            assert_eq!((out, code), (c * h * w, 5), "{}", cfg.describe());
            assert_eq!(params as u64, ConvFamily::num_params(&cfg), "{}", cfg.describe());
        }
        let e = ConvConfig::new(5).with_image(1, 30, 30).validate().unwrap_err().to_string();
        assert!(e.contains("not 1×30×30; resize with --image-size"), "{e}");
        assert!(Conv3x64x64::new(&Dev::default(), &ConvConfig::new(5)).is_err(), "a config of another shape");
    }
}
