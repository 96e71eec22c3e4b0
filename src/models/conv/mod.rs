//! A convolutional autoencoder for 28×28 grey images (MNIST, Fashion-MNIST): two stride-2
//! conv blocks down to a dense code, and transposed convolutions back up.
//!
//! Every channel and spatial size is a `Const` checked by the compiler (see [`crate::nn::conv`]);
//! only the code size comes from the config. Samples arrive flat (784 values, as every loader
//! gives them) and are viewed as 1×28×28 images inside.

mod config;

pub use config::ConvConfig;

use dfdx::prelude::*;

use crate::models::{Autoencoder, BuildOptions, CardText, Family, FamilyModel, ModelVisitor, ReconLoss};
use crate::nn::{join, Activation, Conv2d, ConvTranspose2d, Dense, Dev, Flatten, Image, Param, Params, Unflatten};
use crate::Result;

type C<const N: usize> = Const<N>;

/// Image → code.
#[derive(Debug, Clone)]
pub struct ConvEncoder {
    /// 1. 1×28×28 → 16×14×14, 3×3, stride 2
    pub conv1: Conv2d<1, 16, 3, 2, 1>,
    /// 2. 16×14×14 → 32×7×7, 3×3, stride 2
    pub conv2: Conv2d<16, 32, 3, 2, 1>,
    /// 3. 1568 → code (linear)
    pub fc: Dense<C<1568>, usize>,
}

/// Code → image.
#[derive(Debug, Clone)]
pub struct ConvDecoder {
    /// 1. code → 1568 = 32×7×7
    pub fc: Dense<usize, C<1568>>,
    /// 2. 32×7×7 → 16×14×14, 3×3 transposed, stride 2
    pub deconv1: ConvTranspose2d<32, 16, 3, 2, 1, 1>,
    /// 3. 16×14×14 → 1×28×28, 3×3 transposed, stride 2 (logits)
    pub deconv2: ConvTranspose2d<16, 1, 3, 2, 1, 1>,
}

/// The convolutional autoencoder: [`ConvEncoder`] and [`ConvDecoder`].
#[derive(Debug, Clone)]
pub struct ConvAutoencoder {
    /// Image → code.
    pub encoder: ConvEncoder,
    /// Code → image logits.
    pub decoder: ConvDecoder,
    config: ConvConfig,
}

impl ConvAutoencoder {
    /// A freshly initialised model (PyTorch's default initialisation for every layer).
    pub fn new(dev: &Dev, config: &ConvConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            encoder: ConvEncoder {
                conv1: Conv2d::new(dev),
                conv2: Conv2d::new(dev),
                fc: Dense::new(dev, Const, config.code),
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
    /// (batch, 784) → (batch, 1, 28, 28) → (batch, 16, 14, 14) → (batch, 32, 7, 7)
    /// → (batch, 1568) → (batch, code)
    fn encode_with<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(usize, C<784>), f32, Dev, T>,
        input_grad: bool,
    ) -> Tensor<(usize, usize), f32, Dev, T> {
        let (e, act) = (&self.encoder, self.config.activation);
        let b = x.shape().0;
        let img: Tensor<Image<1, 28, 28>, f32, Dev, T> = x.reshape_like(&(b, Const, Const, Const));
        let conv1 = if input_grad { e.conv1.forward(img) } else { e.conv1.forward_data(img) };
        let h: Tensor<Image<16, 14, 14>, f32, Dev, T> = act.apply(conv1);
        let h: Tensor<Image<32, 7, 7>, f32, Dev, T> = act.apply(e.conv2.forward(h));
        let flat: Tensor<(usize, C<1568>), f32, Dev, T> = Flatten.forward(h);
        e.fc.forward_act(flat, Activation::Identity)
    }
}

impl Autoencoder for ConvAutoencoder {
    type Input = (usize, C<784>);
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
    /// (batch, 784) → (batch, 1, 28, 28) → (batch, 16, 14, 14) → (batch, 32, 7, 7)
    /// → (batch, 1568) → (batch, code)
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.encode_with(x, true)
    }

    /// As `encode`, without the input's gradient (the first convolution skips it).
    fn encode_data<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.encode_with(x, false)
    }

    /// # Shapes
    /// (batch, code) → (batch, 1568) → (batch, 32, 7, 7) → (batch, 16, 14, 14)
    /// → (batch, 1, 28, 28) → (batch, 784), before the output activation
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        let (d, act) = (&self.decoder, self.config.activation);
        let b = z.shape().0;
        let h = d.fc.forward_act(z, act);
        let h: Tensor<Image<32, 7, 7>, f32, Dev, T> = Unflatten.forward(h);
        let h: Tensor<Image<16, 14, 14>, f32, Dev, T> = act.apply(d.deconv1.forward(h));
        let img: Tensor<Image<1, 28, 28>, f32, Dev, T> = d.deconv2.forward(h);
        img.reshape_like(&(b, Const))
    }
}

impl Params for ConvAutoencoder {
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
    const ABOUT: &'static str = "Convolutional, for 28×28 images: two stride-2 conv layers (16, 32 channels) and a \
                                 dense code, transposed convolutions back (--code sets the code size; --hidden does \
                                 not apply).";
    type Config = ConvConfig;

    fn example() -> ConvConfig {
        ConvConfig::new(4)
    }
    fn validate(cfg: &ConvConfig) -> Result<()> {
        cfg.validate()
    }
    fn describe(cfg: &ConvConfig) -> String {
        cfg.describe()
    }
    fn input_len(_: &ConvConfig) -> usize {
        ConvConfig::INPUT
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
        let cfg =
            ConvConfig { code: o.code, activation: o.activation, output_activation: o.output_activation, loss: o.loss };
        cfg.validate()?;
        Ok(cfg)
    }
    fn card(cfg: &ConvConfig) -> CardText {
        CardText {
            rust_type: "ConvAutoencoder".into(),
            module: "conv",
            tag: "convolutional-autoencoder",
            weight_layout: "`encoder.{i}.weight` and `encoder.{i}.bias` (0: 3×3 conv 1→16, 1: 3×3 conv 16→32, \
                            2: dense 1568→code), then `decoder.{i}.…` (0: dense code→1568, 1: 3×3 transposed conv \
                            32→16, 2: 3×3 transposed conv 16→1); laid out as PyTorch's layers (`nn.Conv2d`: out × \
                            in × k × k; `nn.ConvTranspose2d`: in × out × k × k; `nn.Linear`: out × in)."
                .into(),
            loss: cfg.loss,
        }
    }
    fn build<V: ModelVisitor>(cfg: &ConvConfig, dev: &Dev, v: V) -> Result<V::Output> {
        v.visit(ConvAutoencoder::new(dev, cfg)?)
    }
}

impl FamilyModel for ConvAutoencoder {
    type Family = ConvFamily;
    fn from_config(dev: &Dev, cfg: &ConvConfig) -> Result<Self> {
        Self::new(dev, cfg)
    }
}
