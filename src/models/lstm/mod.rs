//! An LSTM sequence autoencoder (as in Srivastava et al. 2015 and the Keras blog's sequence
//! model): an encoder LSTM reads the series, its final state is squeezed into a code, the code
//! is repeated at every step, and a decoder LSTM with a per-step linear output rebuilds it.
//!
//! Series arrive flat (`(batch, steps)`, one value per step, as the ECG5000 loader gives them).

mod config;

pub use config::LstmConfig;

use dfdx::prelude::*;

use crate::models::{Autoencoder, BuildOptions, CardText, Family, FamilyModel, ModelVisitor, ReconLoss};
use crate::nn::{join, Activation, Dense, Dev, Lstm, Param, Params};
use crate::Result;

/// Units of both LSTMs.
pub const HIDDEN: usize = 64;
type C<const N: usize> = Const<N>;

/// Series → code.
#[derive(Debug, Clone)]
pub struct LstmEncoder {
    /// 1. (steps × 1) → final state (64)
    pub lstm: Lstm<1, HIDDEN>,
    /// 2. 64 → code (linear)
    pub fc: Dense<C<HIDDEN>, usize>,
}

/// Code → series.
#[derive(Debug, Clone)]
pub struct LstmDecoder {
    /// 1. code → 64, then repeated at every step
    pub fc: Dense<usize, C<HIDDEN>>,
    /// 2. (steps × 64) → (steps × 64)
    pub lstm: Lstm<HIDDEN, HIDDEN>,
    /// 3. 64 → 1 per step (logits)
    pub out: Dense<C<HIDDEN>, C<1>>,
}

/// The LSTM autoencoder: [`LstmEncoder`] and [`LstmDecoder`].
#[derive(Debug, Clone)]
pub struct LstmAutoencoder {
    /// Series → code.
    pub encoder: LstmEncoder,
    /// Code → series logits.
    pub decoder: LstmDecoder,
    config: LstmConfig,
}

impl LstmAutoencoder {
    /// A freshly initialised model (PyTorch's default initialisation for every layer).
    pub fn new(dev: &Dev, config: &LstmConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            encoder: LstmEncoder { lstm: Lstm::new(dev), fc: Dense::new(dev, Const, config.code) },
            decoder: LstmDecoder {
                fc: Dense::new(dev, config.code, Const),
                lstm: Lstm::new(dev),
                out: Dense::new(dev, Const, Const),
            },
            config: config.clone(),
        })
    }

    /// The hyperparameters this model was built from.
    pub fn config(&self) -> &LstmConfig {
        &self.config
    }
}

impl Autoencoder for LstmAutoencoder {
    type Input = (usize, usize);
    type Code = (usize, usize);

    fn input_shape(&self, batch: usize) -> Self::Input {
        (batch, self.config.input)
    }

    fn code_len(&self) -> usize {
        self.config.code
    }

    fn output(&self) -> (Activation, ReconLoss) {
        (self.config.output_activation, self.config.loss)
    }

    /// # Shapes
    /// (batch, steps) → (batch, steps, 1) → final LSTM state (batch, 64) → (batch, code)
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        let (b, steps) = *x.shape();
        let seq = x.reshape_like(&(b, steps, Const::<1>));
        let h = self.encoder.lstm.forward_final(seq);
        self.encoder.fc.forward_act(h, Activation::Identity)
    }

    /// # Shapes
    /// (batch, code) → (batch, 64) → repeated (batch, steps, 64) → LSTM (batch, steps, 64)
    /// → per step (batch·steps, 1) → (batch, steps), before the output activation
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        let (d, steps) = (&self.decoder, self.config.input);
        let b = z.shape().0;
        let h = d.fc.forward_act(z, Activation::Relu);
        let seq = d.lstm.forward_repeated(h, steps); // = forward(repeat_steps(h, steps))
        let per_step = d.out.forward_act(seq.reshape_like(&(b * steps, Const::<HIDDEN>)), Activation::Identity);
        per_step.reshape_like(&(b, steps))
    }
}

impl Params for LstmAutoencoder {
    // Numbered like the other models' layers: encoder.0, encoder.1, decoder.0 … decoder.2.
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        self.encoder.lstm.visit(&join(prefix, "encoder.0"), f);
        self.encoder.fc.visit(&join(prefix, "encoder.1"), f);
        self.decoder.fc.visit(&join(prefix, "decoder.0"), f);
        self.decoder.lstm.visit(&join(prefix, "decoder.1"), f);
        self.decoder.out.visit(&join(prefix, "decoder.2"), f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        self.encoder.lstm.visit_mut(&join(prefix, "encoder.0"), f);
        self.encoder.fc.visit_mut(&join(prefix, "encoder.1"), f);
        self.decoder.fc.visit_mut(&join(prefix, "decoder.0"), f);
        self.decoder.lstm.visit_mut(&join(prefix, "decoder.1"), f);
        self.decoder.out.visit_mut(&join(prefix, "decoder.2"), f);
    }
}

/// The LSTM family: `--model lstm`.
pub struct LstmFamily;

impl Family for LstmFamily {
    const NAME: &'static str = "lstm";
    const ABOUT: &'static str = "LSTM sequence autoencoder for series such as ECG5000: encoder LSTM (64 units) → \
                                 code → repeated at every step → decoder LSTM (64) → one value per step.";
    type Config = LstmConfig;

    fn example() -> LstmConfig {
        LstmConfig::new(10, 3)
    }
    fn validate(cfg: &LstmConfig) -> Result<()> {
        cfg.validate()
    }
    fn describe(cfg: &LstmConfig) -> String {
        cfg.describe()
    }
    fn num_params(cfg: &LstmConfig) -> u64 {
        // LSTM(in → H): 4H·in + 4H·H + 2·4H; dense a→b: a·b + b. The length does not count.
        let (h, code) = (HIDDEN as u64, cfg.code as u64);
        let lstm = |i: u64| 4 * h * i + 4 * h * h + 8 * h;
        let dense = |a: u64, b: u64| a.saturating_mul(b).saturating_add(b);
        lstm(1) + lstm(h) + dense(h, 1) + dense(h, code).saturating_add(dense(code, h))
    }
    fn input_len(cfg: &LstmConfig) -> usize {
        cfg.input
    }
    fn code_len(cfg: &LstmConfig) -> usize {
        cfg.code
    }
    fn from_options(o: &BuildOptions) -> Result<LstmConfig> {
        if !o.hidden.is_empty() {
            return Err(crate::Error::config(
                "hidden",
                "--hidden does not apply to --model lstm (its LSTMs have 64 units; --code sets the code size)",
            ));
        }
        if o.shape.len() != 1 {
            return Err(crate::Error::config(
                "model",
                format!(
                    "--model lstm reads one value per time step, not samples of shape {:?}; for a table with \
                     several columns pick one with --columns, or use --model dense",
                    o.shape
                ),
            ));
        }
        let cfg = LstmConfig { input: o.input, code: o.code, output_activation: o.output_activation, loss: o.loss };
        cfg.validate()?;
        Ok(cfg)
    }
    fn card(cfg: &LstmConfig) -> CardText {
        CardText {
            rust_type: "LstmAutoencoder".into(),
            module: "lstm",
            tag: "lstm-autoencoder",
            weight_layout: "`encoder.0` (LSTM), `encoder.1` (dense 64→code), then `decoder.0` (dense code→64), \
                            `decoder.1` (LSTM), `decoder.2` (dense 64→1 per step). Each LSTM holds `weight_ih` \
                            (4·64 × in), `weight_hh` (4·64 × 64), `bias_ih` and `bias_hh`, gates in PyTorch's \
                            `nn.LSTM` order (input, forget, cell, output); each dense layer `weight` (out × in, as \
                            `nn.Linear`) and `bias`."
                .into(),
            loss: cfg.loss,
        }
    }
    fn build<V: ModelVisitor>(cfg: &LstmConfig, dev: &Dev, v: V) -> Result<V::Output> {
        v.visit(LstmAutoencoder::new(dev, cfg)?)
    }
}

impl FamilyModel for LstmAutoencoder {
    type Family = LstmFamily;
    fn from_config(dev: &Dev, cfg: &LstmConfig) -> Result<Self> {
        Self::new(dev, cfg)
    }
}
