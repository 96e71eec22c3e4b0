//! Whole jobs on a model directory — train, evaluate, encode, draw figures, the demo — shared
//! by the CLI and notebooks. A model directory holds `config.json` (this module's
//! [`RunConfig`]), `model.safetensors`, `history.csv`, `metrics.json` and `resume.safetensors`.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, DatasetId, Normalizer, Split};
use crate::fs::write_atomic;
use crate::models::{Autoencoder, ModelConfig};
use crate::nn::Dev;
use crate::train::checkpoint::{self, CONFIG, HISTORY, METRICS, WEIGHTS};
use crate::train::{
    encode_all, evaluate_loss, fit, per_sample_errors, reconstruct_all, roc_auc, History, Metrics, Progress,
    TrainConfig,
};
use crate::viz::{Figure, LatentScatter, LossCurve, ReconstructionGrid};
use crate::{Error, Result};

/// Everything needed to rebuild, retrain or evaluate a model: `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The model and its hyperparameters.
    pub model: ModelConfig,
    /// The data it trains on, and the normalisation fitted on the training split.
    pub data: DataConfig,
    /// The optimiser and loop settings.
    pub train: TrainConfig,
    /// The command line that trained it, for the record.
    #[serde(default)]
    pub command: String,
}

/// Which dataset, normalised how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dataset: DatasetId,
    /// Filled in from the training split when training starts.
    pub normalizer: Option<Normalizer>,
    /// Train on this class only (its name, e.g. `"1"` for ECG5000's normal beats): a model of
    /// normal data, whose reconstruction error flags the other classes as anomalies. The test
    /// split keeps every class, and evaluation adds `test_auroc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_class: Option<String>,
}

impl DataConfig {
    /// All of `dataset`, normalised as fitted at training time.
    pub fn new(dataset: DatasetId) -> Self {
        Self { dataset, normalizer: None, normal_class: None }
    }
}

/// The index of the class named `name` in `data`, or an error listing the names.
fn class_index(data: &Dataset, name: &str) -> Result<u32> {
    if data.labels.is_none() {
        return Err(Error::config("normal_class", format!("`{}` has no labels to pick a class from", data.name)));
    }
    data.class_names.iter().position(|c| c == name).map(|i| i as u32).ok_or_else(|| {
        Error::config(
            "normal_class",
            format!("`{}` has no class `{name}`; its classes are {}", data.name, data.class_names.join(", ")),
        )
    })
}

impl RunConfig {
    /// Reads `dir/config.json`; unknown fields and bad values are errors naming the file.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(CONFIG);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let cfg: Self = serde_json::from_str(&text).map_err(|e| Error::format(&path, e.to_string()))?;
        cfg.model.validate().map_err(|e| Error::format(&path, e.to_string()))?;
        Ok(cfg)
    }

    /// Writes `dir/config.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("config serialises");
        write_atomic(&dir.join(CONFIG), text.as_bytes())
    }
}

/// Runs `$body` with `$m` bound to a freshly built model of the right type for `$cfg`
/// (a `&ModelConfig`); `$body` returns a `Result`.
#[macro_export]
macro_rules! with_model {
    ($cfg:expr, $dev:expr, |$m:ident| $body:expr) => {{
        match $cfg {
            $crate::models::ModelConfig::Dense(c) => $crate::with_dense_model!(c, $dev, |$m| $body),
            $crate::models::ModelConfig::Conv(c) => {
                #[allow(unused_mut)]
                let mut $m = $crate::models::conv::ConvAutoencoder::new($dev, c)?;
                $body
            }
            $crate::models::ModelConfig::Lstm(c) => {
                #[allow(unused_mut)]
                let mut $m = $crate::models::lstm::LstmAutoencoder::new($dev, c)?;
                $body
            }
        }
    }};
}

/// A dataset's train and test splits, normalised with statistics of the training split.
pub struct Prepared {
    pub train: Dataset,
    pub test: Dataset,
    pub normalizer: Normalizer,
}

/// Loads and normalises a dataset; `normalizer` reuses a stored one instead of fitting anew.
pub fn prepare(id: &DatasetId, normalizer: Option<&Normalizer>) -> Result<Prepared> {
    prepare_data(&DataConfig { normalizer: normalizer.cloned(), ..DataConfig::new(id.clone()) })
}

/// [`prepare`] for a [`DataConfig`]: with `normal_class`, the training split keeps only that
/// class (and the normaliser is fitted on it); the test split keeps every class.
pub fn prepare_data(cfg: &DataConfig) -> Result<Prepared> {
    let (id, normalizer) = (&cfg.dataset, cfg.normalizer.as_ref());
    let mut train = id.load(Split::Train)?;
    if let Some(name) = &cfg.normal_class {
        train = train.filter_class(class_index(&train, name)?);
    }
    let mut test = id.load(Split::Test)?;
    let normalizer = match normalizer {
        Some(n) => n.clone(),
        None => id.fit_normalizer(&train)?,
    };
    normalizer.apply(&mut train)?;
    normalizer.apply(&mut test)?;
    Ok(Prepared { train, test, normalizer })
}

/// One split of a trained model's dataset, normalised with the statistics stored in its
/// config (evaluation, encoding and figures need no second split).
fn load_split(cfg: &RunConfig, split: Split) -> Result<Dataset> {
    let norm = cfg
        .data
        .normalizer
        .as_ref()
        .ok_or_else(|| Error::config("data.normalizer", "missing from config.json; the model was never trained"))?;
    let mut data = cfg.data.dataset.load(split)?;
    norm.apply(&mut data)?;
    Ok(data)
}

/// Trains the model `cfg` describes into `dir` (created if needed). With `resume`, the
/// model, data and normaliser come from `dir/config.json` and only `cfg.train.epochs` (and
/// patience) may differ.
pub fn train(cfg: &RunConfig, dir: &Path, resume: bool, progress: Progress) -> Result<History> {
    let mut cfg = cfg.clone();
    if resume {
        let saved = RunConfig::load(dir)?;
        if saved.model != cfg.model || saved.data.dataset != cfg.data.dataset {
            return Err(Error::config(
                "resume",
                format!(
                    "{} was trained as `{}` on {}; resume it with the same model and dataset",
                    dir.display(),
                    saved.model.describe(),
                    saved.data.dataset
                ),
            ));
        }
        cfg = RunConfig {
            train: TrainConfig { epochs: cfg.train.epochs, patience: cfg.train.patience, ..saved.train.clone() },
            ..saved
        };
    }
    cfg.model.validate()?;
    let data = prepare_data(&cfg.data)?;
    cfg.data.normalizer = Some(data.normalizer.clone());
    check_input(&cfg.model, &data.train)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    cfg.save(dir)?;
    let (tr, val) = data.train.split(cfg.train.val_split, cfg.train.seed)?;
    let dev = Dev::seed_from_u64(cfg.train.seed);
    with_model!(&cfg.model, &dev, |m| fit(&mut m, &tr, &val, &cfg.train, Some(dir), resume, progress))
}

/// Fails unless the model's input size equals the dataset's sample size.
fn check_input(model: &ModelConfig, data: &Dataset) -> Result<()> {
    let input = model.input_len();
    if input != data.sample_len() {
        return Err(Error::config(
            "input",
            format!(
                "the model takes {} features but `{}` samples have {} (shape {:?})",
                input,
                data.name,
                data.sample_len(),
                data.shape
            ),
        ));
    }
    Ok(())
}

/// Builds the model in `dir` and loads its checked weights, then runs `$body` with it.
macro_rules! with_trained_model {
    ($dir:expr, $cfg:expr, |$m:ident| $body:expr) => {{
        let dev = Dev::default();
        let weights = $dir.join(WEIGHTS);
        with_model!(&$cfg.model, &dev, |$m| {
            checkpoint::load_weights(&mut $m, &weights)?;
            $body
        })
    }};
}

/// Evaluates the model in `dir` on its dataset's test split and writes `dir/metrics.json`.
pub fn evaluate(dir: &Path) -> Result<Metrics> {
    let metrics = test_metrics(dir)?;
    let text = serde_json::to_string_pretty(&metrics).expect("metrics serialise");
    write_atomic(&dir.join(METRICS), text.as_bytes())?;
    Ok(metrics)
}

/// The model in `dir` evaluated on its dataset's test split, writing nothing (for models in
/// the hub cache, which must stay as downloaded).
pub fn test_metrics(dir: &Path) -> Result<Metrics> {
    let cfg = RunConfig::load(dir)?;
    let test = load_split(&cfg, Split::Test)?;
    let normal = cfg.data.normal_class.as_deref().map(|name| class_index(&test, name)).transpose()?;
    with_trained_model!(dir, cfg, |m| {
        let recon = reconstruct_all(&m, &test, 512);
        let (test_loss, _, _) = evaluate_loss(&m, &test, 512)?;
        let mut metrics = Metrics::from_reconstructions(&test.samples, &recon, test.len(), test_loss);
        if let (Some(k), Some(labels)) = (normal, &test.labels) {
            let anomalous: Vec<bool> = labels.iter().map(|&l| l != k).collect();
            metrics.test_auroc = roc_auc(&per_sample_errors(&recon, &test), &anomalous);
        }
        Ok::<_, Error>(metrics)
    })
}

/// Loads the config and weights in `dir`, checking every tensor, and describes the model.
pub fn check_model(dir: &Path) -> Result<String> {
    let cfg = RunConfig::load(dir)?;
    with_trained_model!(dir, cfg, |m| Ok::<_, Error>(format!(
        "{} ({} parameters), trained on {}",
        cfg.model.describe(),
        crate::nn::Params::num_params(&m),
        cfg.data.dataset
    )))
}

/// The codes of the test split (`split = Test`) or the training split, as a table with
/// columns `z0 … z{k-1}`, `label` and `class` (when the data has labels).
pub fn encode(dir: &Path, split: Split) -> Result<DataFrame> {
    let cfg = RunConfig::load(dir)?;
    let set = load_split(&cfg, split)?;
    let (codes, k) = with_trained_model!(dir, cfg, |m| Ok::<_, Error>((encode_all(&m, &set, 512), m.code_len())))?;
    codes_table(&codes, k, &set)
}

fn codes_table(codes: &[f32], k: usize, set: &Dataset) -> Result<DataFrame> {
    let n = set.len();
    let mut cols: Vec<Column> = (0..k)
        .map(|j| Column::new(format!("z{j}").into(), (0..n).map(|i| codes[i * k + j]).collect::<Vec<f32>>()))
        .collect();
    if let Some(l) = &set.labels {
        cols.push(Column::new("label".into(), l.clone()));
        cols.push(Column::new(
            "class".into(),
            l.iter().map(|&c| set.class_names[c as usize].clone()).collect::<Vec<String>>(),
        ));
    }
    DataFrame::new(n, cols).map_err(|e| Error::polars(&set.name, e))
}

/// Writes a table as parquet, atomically.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(df).map_err(|e| Error::polars(path, e))?;
    write_atomic(path, &buf)
}

/// The figures of a trained model: loss curve, reconstructions and latent scatter.
pub struct Figures {
    pub loss: LossCurve,
    pub reconstructions: ReconstructionGrid,
    pub latent: LatentScatter,
}

/// Draws the figures of the model in `dir` (on its test split).
pub fn figures(dir: &Path) -> Result<Figures> {
    let cfg = RunConfig::load(dir)?;
    let history = History::load_csv(&dir.join(HISTORY))?;
    let test = load_split(&cfg, Split::Test)?.take(2000);
    let (recon, codes, k) = with_trained_model!(dir, cfg, |m| {
        Ok::<_, Error>((reconstruct_all(&m, &test.take(10), 512), encode_all(&m, &test, 512), m.code_len()))
    })?;
    let name = cfg.data.dataset.to_string();
    let range = if cfg.data.dataset.is_image() { (0.0, 1.0) } else { padded_range(&test.take(10).samples) };
    Ok(Figures {
        loss: LossCurve::new(&history, format!("{name}: {}", cfg.model.describe())),
        reconstructions: ReconstructionGrid::new(&test.take(10).samples, &recon, &test.shape, 10, range),
        latent: LatentScatter::new(&codes, k, test.labels.as_deref(), &test.class_names, format!("{name} test codes"))?,
    })
}

fn padded_range(v: &[f32]) -> (f32, f32) {
    let (lo, hi) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let pad = (hi - lo) * 0.1;
    (lo - pad, hi + pad)
}

impl Figures {
    /// Saves each figure as PNG and SVG into `out`; returns the paths written.
    pub fn save_all(&self, out: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for ext in ["png", "svg"] {
            for (name, fig) in [
                ("loss_curve", &self.loss as &dyn SaveDyn),
                ("reconstructions", &self.reconstructions),
                ("latent_space", &self.latent),
            ] {
                let p = out.join(format!("{name}.{ext}"));
                fig.save_dyn(&p)?;
                written.push(p);
            }
        }
        Ok(written)
    }
}

/// Object-safe saving, to loop over figures of different types.
trait SaveDyn {
    fn save_dyn(&self, p: &Path) -> Result<()>;
}
impl<F: Figure> SaveDyn for F {
    fn save_dyn(&self, p: &Path) -> Result<()> {
        self.save(p)
    }
}

/// The configuration `autoencoders demo` trains: a dense 64 → 32 → 2 autoencoder on the 8×8
/// digits embedded in the crate, so that its code can be drawn directly.
pub fn demo_config() -> RunConfig {
    use crate::models::dense::DenseConfig;
    RunConfig {
        model: ModelConfig::Dense(DenseConfig::shallow(64, 2).with_hidden(&[32])),
        data: DataConfig::new(DatasetId::Digits),
        train: TrainConfig {
            epochs: 150,
            batch_size: 32,
            seed: 0,
            val_split: 0.1,
            patience: Some(20),
            ..Default::default()
        },
        command: "autoencoders demo".into(),
    }
}
