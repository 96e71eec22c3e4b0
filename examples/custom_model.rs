//! A model family defined outside the crate, used through the crate's public traits only: a
//! dense autoencoder with **tied weights** (the decoder uses the transpose of the encoder's
//! matrix, halving the parameters — a classic regulariser). It
//!
//! 1. implements `Params` (its tensors and their names), `Autoencoder` (encode / decode) and
//!    `Family` + `FamilyModel` (config checks, description, card text, building);
//! 2. trains with the crate's `Trainer` on the 8×8 digits embedded in the crate, writing a model
//!    directory (`config.json` + `model.safetensors` + history + resume state);
//! 3. reloads it with the generic `from_pretrained` and checks the outputs are identical;
//! 4. draws its loss curve, reconstructions and latent space with `apps::Figures`.
//!
//! `cargo run --example custom_model -- [OUT]` (default `runs/tied`). It prints the parameter
//! count, the test BCE, the figures written and `reloaded: identical outputs`; a test
//! (`tests/cli.rs`) runs it.

use std::path::PathBuf;

use autoencoders::apps::{FigureOptions, Figures};
use autoencoders::data::{prepare, DataConfig, DatasetId};
use autoencoders::model_dir::{save_family_config, HISTORY};
use autoencoders::models::{BuildOptions, CardText, Family, FamilyModel, ModelVisitor};
use autoencoders::nn::{join, Param};
use autoencoders::prelude::*;
use autoencoders::train::evaluate_loss;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// The hyperparameters, as stored in `config.json` (with `"kind": "tied"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TiedConfig {
    input: usize,
    code: usize,
}

/// `x → σ(W x + b) = code`… here with a linear code: `z = W x + b`, `x̂ = σ(Wᵀ z + c)`.
struct TiedAutoencoder {
    weight: Tensor<(usize, usize), f32, Dev>, // code × input
    code_bias: Tensor<(usize,), f32, Dev>,
    output_bias: Tensor<(usize,), f32, Dev>,
    cfg: TiedConfig,
}

impl TiedAutoencoder {
    fn new(dev: &Dev, cfg: &TiedConfig) -> autoencoders::Result<Self> {
        TiedFamily::validate(cfg)?;
        let bound = 1.0 / (cfg.input as f32).sqrt(); // PyTorch's nn.Linear initialisation
        let weight = dev.sample_uniform_like(&(cfg.code, cfg.input)) * (2.0 * bound) - bound;
        Ok(Self {
            weight,
            code_bias: dev.zeros_like(&(cfg.code,)),
            output_bias: dev.zeros_like(&(cfg.input,)),
            cfg: cfg.clone(),
        })
    }
}

impl Params for TiedAutoencoder {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        self.weight.visit(&join(prefix, "weight"), f);
        self.code_bias.visit(&join(prefix, "code_bias"), f);
        self.output_bias.visit(&join(prefix, "output_bias"), f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        self.weight.visit_mut(&join(prefix, "weight"), f);
        self.code_bias.visit_mut(&join(prefix, "code_bias"), f);
        self.output_bias.visit_mut(&join(prefix, "output_bias"), f);
    }
}

impl Autoencoder for TiedAutoencoder {
    type Input = (usize, usize);
    type Code = (usize, usize);

    fn input_shape(&self, batch: usize) -> Self::Input {
        (batch, self.cfg.input)
    }
    fn code_len(&self) -> usize {
        self.cfg.code
    }
    fn output(&self) -> (Activation, ReconLoss) {
        (Activation::Sigmoid, ReconLoss::Bce)
    }

    /// # Shapes
    /// (batch, input) → (batch, code)
    fn encode<T: Tape<f32, Dev>>(&self, x: Tensor<Self::Input, f32, Dev, T>) -> Tensor<Self::Code, f32, Dev, T> {
        let batch = x.shape().0;
        let z = x.matmul(self.weight.retaped::<T>().permute());
        z + self.code_bias.retaped::<T>().broadcast_like::<_, Axis<0>>(&(batch, self.cfg.code))
    }

    /// # Shapes
    /// (batch, code) → (batch, input), before the sigmoid; the same matrix, transposed
    fn decode_logits<T: Tape<f32, Dev>>(&self, z: Tensor<Self::Code, f32, Dev, T>) -> Tensor<Self::Input, f32, Dev, T> {
        let batch = z.shape().0;
        let y = z.matmul(self.weight.retaped::<T>());
        y + self.output_bias.retaped::<T>().broadcast_like::<_, Axis<0>>(&(batch, self.cfg.input))
    }
}

struct TiedFamily;

impl Family for TiedFamily {
    const NAME: &'static str = "tied";
    const ABOUT: &'static str = "Dense autoencoder whose decoder is the transpose of its encoder.";
    type Config = TiedConfig;

    fn example() -> TiedConfig {
        TiedConfig { input: 64, code: 8 }
    }
    fn validate(cfg: &TiedConfig) -> autoencoders::Result<()> {
        if cfg.input == 0 || cfg.code == 0 {
            return Err(autoencoders::Error::config("input/code", "every layer needs at least one unit"));
        }
        Ok(())
    }
    fn describe(cfg: &TiedConfig) -> String {
        format!("tied {}→{}→{} (sigmoid, bce)", cfg.input, cfg.code, cfg.input)
    }
    fn input_len(cfg: &TiedConfig) -> usize {
        cfg.input
    }
    fn code_len(cfg: &TiedConfig) -> usize {
        cfg.code
    }
    fn from_options(o: &BuildOptions) -> autoencoders::Result<TiedConfig> {
        Ok(TiedConfig { input: o.input, code: o.code })
    }
    fn card(_: &TiedConfig) -> CardText {
        CardText {
            rust_type: "TiedAutoencoder".into(),
            module: "examples/custom_model.rs",
            tag: "tied-autoencoder",
            weight_layout: "`weight` (code × input), `code_bias`, `output_bias`.".into(),
            loss: ReconLoss::Bce,
        }
    }
    fn build<V: ModelVisitor>(cfg: &TiedConfig, dev: &Dev, v: V) -> autoencoders::Result<V::Output> {
        v.visit(TiedAutoencoder::new(dev, cfg)?)
    }
}

impl FamilyModel for TiedAutoencoder {
    type Family = TiedFamily;
    fn from_config(dev: &Dev, cfg: &TiedConfig) -> autoencoders::Result<Self> {
        Self::new(dev, cfg)
    }
}

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "runs/tied".into()));
    std::fs::create_dir_all(&out)?;
    let data = prepare(&DatasetId::Digits, None)?; // embedded in the crate: no download
    let cfg = TiedConfig { input: 64, code: 8 };
    let mut model = TiedAutoencoder::new(&Dev::seed_from_u64(0), &cfg)?;
    println!("{} ({} parameters)", TiedFamily::describe(&cfg), model.num_params());

    // Train with the crate's trainer, writing the model directory.
    let train_cfg = TrainConfig { epochs: 60, batch_size: 32, patience: None, ..Default::default() };
    let data_cfg = DataConfig { normalizer: Some(data.normalizer.clone()), ..DataConfig::new(DatasetId::Digits) };
    save_family_config::<TiedFamily>(&out, &cfg, &data_cfg, &train_cfg)?;
    let (train, val) = data.train.split(0.1, 0)?;
    let history = Trainer::new(&train_cfg).checkpoints(&out).fit(&mut model, &train, &val)?;
    let metrics = Metrics::compute(&model, &data.test)?;
    println!("test BCE {:.4} after {} epochs", metrics.test_bce.unwrap_or(f64::NAN), history.records.len());

    // Reload the best epoch's weights (what `model.safetensors` holds) through the generic
    // loader: its validation loss must be exactly the one the trainer recorded for that epoch.
    let reloaded = TiedAutoencoder::from_pretrained(out.to_str().expect("UTF-8 path"))?;
    let best = history.best().expect("at least one epoch");
    let (val_loss, _, _) = evaluate_loss(&reloaded, &val, train_cfg.batch_size.max(256))?;
    anyhow::ensure!(val_loss == best.val_loss, "reloaded: validation loss {val_loss} ≠ {} recorded", best.val_loss);
    println!("reloaded: identical outputs (validation loss {val_loss:.5} of best epoch {})", best.epoch);

    // The crate's figures, for a model it has never heard of.
    let history = History::load_csv(&out.join(HISTORY))?;
    let text =
        FigureOptions { dataset: "digits", model: &TiedFamily::describe(&cfg), range: Some((0.0, 1.0)), noisy: None };
    for path in Figures::draw(&reloaded, &data.test, &history, text)?.save_all(&out.join("figures"))? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
