//! Dense (fully connected) autoencoders, shallow or deep.
//!
//! The depth is part of the type; each width is a [`Dim`]: `Const<N>` for a model whose shapes
//! the compiler checks ([`KerasShallow`], [`KerasDeep`]), `usize` for one read from a config
//! ([`Dense0`], [`Dense1`], [`Dense2`]). [`DenseFamily::build`] picks the type for a config.

mod config;
mod inference;
mod stack;

pub use config::{DenseConfig, MAX_HIDDEN};
pub use stack::DenseStack;

use dfdx::prelude::*;

use crate::models::{
    Autoencoder, Inference, BuildOptions, CardText, Family, FamilyModel, HeadsVisitor, JacobianSupport, ModelVisitor, ReconLoss,
};
use inference::{Acts, DenseInference};
use crate::nn::{join, Activation, Dense, Dev, Param, Params};
use crate::Result;

/// An encoder stack, a code, and a mirrored decoder stack.
#[derive(Debug, Clone)]
pub struct DenseAutoencoder<Enc, Dec> {
    /// Input → code.
    pub encoder: Enc,
    /// Code → input logits.
    pub decoder: Dec,
    config: DenseConfig,
}

type L = Dense<usize, usize>;
/// `input → code → input`, sizes from a config.
pub type Dense0 = DenseAutoencoder<(L,), (L,)>;
/// One hidden layer each side, sizes from a config.
pub type Dense1 = DenseAutoencoder<(L, L), (L, L)>;
/// Two hidden layers each side, sizes from a config.
pub type Dense2 = DenseAutoencoder<(L, L, L), (L, L, L)>;

type C<const N: usize> = Const<N>;
/// The Keras blog's first autoencoder, 784 → 32 → 784, shapes checked at compile time.
pub type KerasShallow = DenseAutoencoder<
    (Dense<C<784>, C<32>>,), // 1. encoder: pixels → code
    (Dense<C<32>, C<784>>,), // 2. decoder: code → pixels
>;
/// The Keras blog's deep autoencoder, 784 → 128 → 64 → 32 → 64 → 128 → 784.
pub type KerasDeep = DenseAutoencoder<
    (Dense<C<784>, C<128>>, Dense<C<128>, C<64>>, Dense<C<64>, C<32>>), // 1. encoder
    (Dense<C<32>, C<64>>, Dense<C<64>, C<128>>, Dense<C<128>, C<784>>), // 2. decoder
>;
/// The benchmark model 784 → 256 → 64 → 256 → 784.
pub type Bench256 = DenseAutoencoder<
    (Dense<C<784>, C<256>>, Dense<C<256>, C<64>>), // 1. encoder
    (Dense<C<64>, C<256>>, Dense<C<256>, C<784>>), // 2. decoder
>;

impl<Enc, Dec> DenseAutoencoder<Enc, Dec>
where
    Enc: DenseStack,
    Dec: DenseStack<In = Enc::Out, Out = Enc::In>,
{
    /// Builds a freshly initialised model; fails if the config's widths do not fit this type.
    pub fn new(dev: &Dev, config: &DenseConfig) -> Result<Self> {
        Self::with_heads(dev, config, 1)
    }

    /// A model whose encoder's last layer emits `heads × code` values (a VAE's means and
    /// log-variances, side by side) and whose decoder reads `code`.
    pub fn with_heads(dev: &Dev, config: &DenseConfig, heads: usize) -> Result<Self> {
        config.validate()?;
        let mut widths = config.encoder_widths();
        *widths.last_mut().expect("input and code") *= heads;
        Ok(Self {
            encoder: Enc::from_widths(dev, &widths)?,
            decoder: Dec::from_widths(dev, &config.decoder_widths())?,
            config: config.clone(),
        })
    }

    /// The hyperparameters this model was built from.
    pub fn config(&self) -> &DenseConfig {
        &self.config
    }

    /// Records a new code width, after a caller resized the code layers (an adaptive model).
    pub(crate) fn set_code_len(&mut self, code: usize) {
        self.config.code = code;
    }
}

impl<Enc: Params, Dec: Params> Params for DenseAutoencoder<Enc, Dec> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        self.encoder.visit(&join(prefix, "encoder"), f);
        self.decoder.visit(&join(prefix, "decoder"), f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        self.encoder.visit_mut(&join(prefix, "encoder"), f);
        self.decoder.visit_mut(&join(prefix, "decoder"), f);
    }
}

impl<Enc, Dec> Autoencoder for DenseAutoencoder<Enc, Dec>
where
    Enc: DenseStack,
    Dec: DenseStack<In = Enc::Out, Out = Enc::In>,
{
    type Input = (usize, Enc::In);
    type Code = (usize, Enc::Out);

    fn input_shape(&self, batch: usize) -> Self::Input {
        (batch, self.encoder.input_dim())
    }

    fn code_len(&self) -> usize {
        self.config.code
    }

    fn output(&self) -> (Activation, ReconLoss) {
        (self.config.output_activation, self.config.loss)
    }

    /// # Shapes
    /// (batch, input) → hidden… → (batch, code)
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.encoder.forward(x, self.config.activation, self.config.code_activation)
    }

    /// As `encode`, without the input's gradient (the first layer skips it).
    fn encode_data<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        self.encoder.forward_with(x, self.config.activation, self.config.code_activation, false)
    }

    fn encode_jvp<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Self::Input, f32, Dev, T>,
        u: Tensor<Self::Input, f32, Dev>,
    ) -> Option<(Tensor<Self::Code, f32, Dev, T>, Tensor<Self::Code, f32, Dev, T>)> {
        Some(self.encoder.forward_jvp(x, u, self.config.activation, self.config.code_activation))
    }

    fn has_exact_jacobian(&self) -> bool {
        self.config.hidden.is_empty()
    }

    fn encode_jacobian_sq<T: Tape<f32, Dev>>(
        &self,
        x: Tensor<Self::Input, f32, Dev, T>,
    ) -> Option<(Tensor<Self::Code, f32, Dev, T>, Tensor<Rank0, f32, Dev, T>)> {
        self.encoder.forward_jacobian_sq(x, self.config.code_activation)
    }

    /// # Shapes
    /// (batch, code) → …hidden → (batch, input), before the output activation
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        self.decoder.forward(z, self.config.activation, Activation::Identity)
    }

    fn inference(&self) -> Option<Box<dyn Inference>> {
        let c = &self.config;
        let acts = Acts { between: c.activation, code: c.code_activation, output: c.output_activation };
        let frozen = DenseInference::new(self.encoder.freeze(), self.decoder.freeze(), acts)?;
        Some(Box::new(frozen))
    }
}

/// The dense family: `--model dense`.
pub struct DenseFamily;

impl Family for DenseFamily {
    const NAME: &'static str = "dense";
    const ABOUT: &'static str =
        "Fully connected encoder and decoder (0–2 hidden layers each, mirrored; --hidden 128,64).";
    type Config = DenseConfig;

    fn example() -> DenseConfig {
        DenseConfig::shallow(12, 3).with_hidden(&[6])
    }
    fn validate(cfg: &DenseConfig) -> Result<()> {
        cfg.validate()
    }
    fn describe(cfg: &DenseConfig) -> String {
        cfg.describe()
    }
    fn num_params(cfg: &DenseConfig) -> u64 {
        // Encoder input → hidden… → code, decoder the mirror: each layer in·out + out.
        let widths: Vec<u64> = std::iter::once(cfg.input)
            .chain(cfg.hidden.iter().copied())
            .chain(std::iter::once(cfg.code))
            .map(|w| w as u64)
            .collect();
        let layer = |a: u64, b: u64| a.saturating_mul(b).saturating_add(b);
        widths.windows(2).fold(0u64, |n, w| n.saturating_add(layer(w[0], w[1])).saturating_add(layer(w[1], w[0])))
    }
    fn input_len(cfg: &DenseConfig) -> usize {
        cfg.input
    }
    fn code_len(cfg: &DenseConfig) -> usize {
        cfg.code
    }
    fn code_activation(cfg: &DenseConfig) -> Activation {
        cfg.code_activation
    }
    fn jacobian(cfg: &DenseConfig) -> std::result::Result<JacobianSupport, String> {
        for act in [cfg.activation, cfg.code_activation] {
            if !act.has_output_slope() {
                return Err(format!("the encoder's {act} activation has no slope as a function of its output"));
            }
        }
        Ok(JacobianSupport { exact: cfg.hidden.is_empty() })
    }
    fn from_options(o: &BuildOptions) -> Result<DenseConfig> {
        let cfg = DenseConfig {
            input: o.input,
            hidden: o.hidden.clone(),
            code: o.code,
            activation: o.activation,
            code_activation: o.code_activation,
            output_activation: o.output_activation,
            loss: o.loss,
        };
        cfg.validate()?;
        Ok(cfg)
    }
    fn card(cfg: &DenseConfig) -> CardText {
        CardText {
            rust_type: format!("Dense{}", cfg.hidden.len()),
            module: "dense",
            tag: "dense-autoencoder",
            weight_layout: "`encoder.{i}.weight` and `encoder.{i}.bias`, then `decoder.{i}.…`, layers counted \
                            from the input; each weight laid out as PyTorch's `nn.Linear` (out × in)."
                .into(),
            loss: cfg.loss,
        }
    }

    /// The compile-time shaped presets ([`KerasShallow`], [`KerasDeep`], [`Bench256`]) when
    /// the config matches one (their fixed sizes are faster), else the runtime-sized type of
    /// its depth. Adding a preset is one arm.
    fn build<V: ModelVisitor>(cfg: &DenseConfig, dev: &Dev, v: V) -> Result<V::Output> {
        match (cfg.input, cfg.hidden.as_slice(), cfg.code) {
            (784, [], 32) => v.visit(KerasShallow::new(dev, cfg)?),
            (784, [128, 64], 32) => v.visit(KerasDeep::new(dev, cfg)?),
            (784, [256], 64) => v.visit(Bench256::new(dev, cfg)?),
            (_, [], _) => v.visit(Dense0::new(dev, cfg)?),
            (_, [_], _) => v.visit(Dense1::new(dev, cfg)?),
            _ => v.visit(Dense2::new(dev, cfg)?),
        }
    }

    /// The runtime-sized type of the config's depth (the presets' codes are compile-time sized).
    fn build_heads<V: HeadsVisitor>(cfg: &DenseConfig, dev: &Dev, heads: usize, v: V) -> Result<V::Output> {
        match cfg.hidden.len() {
            0 => v.visit(Dense0::with_heads(dev, cfg, heads)?),
            1 => v.visit(Dense1::with_heads(dev, cfg, heads)?),
            _ => v.visit(Dense2::with_heads(dev, cfg, heads)?),
        }
    }
}

impl<Enc, Dec> FamilyModel for DenseAutoencoder<Enc, Dec>
where
    Enc: DenseStack,
    Dec: DenseStack<In = Enc::Out, Out = Enc::In>,
{
    type Family = DenseFamily;
    fn from_config(dev: &Dev, cfg: &DenseConfig) -> Result<Self> {
        Self::new(dev, cfg)
    }
}
