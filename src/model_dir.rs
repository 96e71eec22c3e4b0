//! The model-directory format, in one place: its file names, the `config.json` schema
//! ([`RunConfig`], versioned by [`FORMAT_VERSION`]) and loading a trained model from it.
//!
//! A model directory holds `config.json` (what to build, on which data, trained how),
//! `model.safetensors` (the best weights), `history.csv` (per-epoch losses), `metrics.json`
//! (written by `eval`) and `resume.safetensors` (the last epoch's weights, optimiser and
//! counters). Each file is written atomically ([`crate::fs::write_atomic`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::fs::write_atomic;
use crate::models::{Autoencoder, Family, FamilyModel, ModelConfig, ModelVisitor, Variant};
use crate::nn::Dev;
use crate::train::checkpoint::load_weights;
use crate::train::{Metrics, TrainConfig};
use crate::{Error, Result};

pub use crate::train::checkpoint::{HISTORY, RESUME, WEIGHTS};

/// The config file in a model directory.
pub const CONFIG: &str = "config.json";
/// The evaluation metrics in a model directory.
pub const METRICS: &str = "metrics.json";

/// The lock file of a model directory while a process writes it (see [`DirLock`]).
pub const LOCK: &str = ".lock";

/// An exclusive lock on a model directory, held while training writes it: a second writer is
/// refused instead of interleaving its files with the first's. An advisory `flock` on
/// `DIR/.lock`, released when this value drops or the process dies (even by SIGKILL), so a
/// crash never leaves a stale lock. On systems without `flock` it does nothing.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock on `dir` (created if needed), or fails at once if another process holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a descriptor this function owns; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    return Err(Error::config(
                        "out",
                        format!(
                            "{} is being written by another process (it holds {LOCK}); wait for it to finish, or \
                             train into another directory",
                            dir.display()
                        ),
                    ));
                }
                return Err(Error::io(&path, e));
            }
        }
        Ok(Self { _file: file })
    }
}

/// Removes the temporary files (`.tmp-*`) an interrupted write left in `dir`. Call it only
/// under [`DirLock`]: another writer's temporary files are then impossible.
pub fn remove_orphans(dir: &Path) -> Result<usize> {
    let mut n = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".tmp-") {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            n += 1;
        }
    }
    Ok(n)
}

/// The `config.json` format this release writes. Version 0 is the format before the field
/// existed (read as is); 2 added `variant` (absent: a plain autoencoder); 3 added `threshold`
/// (absent: none stored, `detect` fits one); a higher version
/// than this is refused with a request to upgrade.
pub const FORMAT_VERSION: u32 = 3;

/// Everything needed to rebuild, retrain or evaluate a model: `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The version of this schema the file was written in (0 when absent: before versions).
    #[serde(default)]
    pub format_version: u32,
    /// The model's backbone (its layers) and their hyperparameters.
    pub model: ModelConfig,
    /// What the backbone is trained as (`--variant`); omitted for a plain autoencoder.
    #[serde(default, skip_serializing_if = "Variant::is_plain")]
    pub variant: Variant,
    /// The data it trains on, and the normalisation fitted on the training split.
    pub data: DataConfig,
    /// The optimiser and loop settings.
    pub train: TrainConfig,
    /// The anomaly threshold fitted on the validation part when training ended (`detect`
    /// uses it unless told another rule); absent while a run is under way, whose weights it
    /// would not describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<StoredThreshold>,
    /// The command line that trained it, for the record.
    #[serde(default)]
    pub command: String,
}

/// An anomaly threshold on reconstruction error, as `config.json` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredThreshold {
    /// The rule it was fitted by (`percentile:99`).
    pub rule: String,
    /// The score above which a sample is flagged.
    pub value: f64,
    /// The normal validation samples it was fitted on.
    pub validation_samples: usize,
    /// The SHA-256 of the `model.safetensors` it was fitted with: a run killed part-way, or
    /// weights replaced by hand, leave a threshold that no longer describes the weights.
    pub weights_sha256: String,
}

/// The SHA-256 of `dir`'s weights file, in hex.
pub fn weights_sha256(dir: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let path = dir.join(WEIGHTS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

impl RunConfig {
    /// A config in the current format, with no command recorded.
    pub fn new(model: ModelConfig, data: DataConfig, train: TrainConfig) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            model,
            variant: Variant::Plain,
            data,
            train,
            threshold: None,
            command: String::new(),
        }
    }

    /// This config with the backbone trained as `variant`.
    pub fn with_variant(self, variant: Variant) -> Self {
        Self { variant, ..self }
    }

    /// Checks the model and its variant without building anything.
    pub fn validate_model(&self) -> Result<()> {
        self.model.validate()?;
        self.variant.validate(&self.model)
    }

    /// A one-line summary of the model: the backbone's, with the variant's.
    pub fn describe(&self) -> String {
        self.variant.describe(&self.model)
    }

    /// Builds the model (freshly initialised from `dev`'s seed) and runs `visitor` on it.
    pub fn build<V: ModelVisitor>(&self, dev: &Dev, visitor: V) -> Result<V::Output> {
        self.variant.build(&self.model, dev, visitor)
    }

    /// Reads `dir/config.json`; unknown fields, bad values and newer formats are errors
    /// naming the file.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(CONFIG);
        let text = read_config_text(&path)?;
        let cfg: Self = serde_json::from_str(&text).map_err(|e| Error::format(&path, e.to_string()))?;
        check_version(&path, cfg.format_version)?;
        cfg.validate_model().map_err(|e| Error::format(&path, e.to_string()))?;
        Ok(cfg)
    }

    /// Writes `dir/config.json` atomically, in the current format.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let cfg = Self { format_version: FORMAT_VERSION, ..self.clone() };
        let text = serde_json::to_string_pretty(&cfg).expect("config serialises");
        write_atomic(&dir.join(CONFIG), text.as_bytes())
    }

    /// Builds the model of this config with the weights in `dir` (every tensor checked), and
    /// runs `visitor` on it.
    pub fn load_model<V: ModelVisitor>(&self, dir: &Path, visitor: V) -> Result<V::Output> {
        let path = dir.join(WEIGHTS);
        // Checked before anything is built: an edited config (`"input": 1099511627776`)
        // would otherwise ask for terabytes and abort the process.
        let extra = self.variant.extra_params(&self.model).unwrap_or(0);
        let params = self.model.num_params().saturating_add(extra);
        let bytes = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        if params.saturating_mul(4) > bytes {
            return Err(Error::format(
                dir.join(CONFIG),
                format!(
                    "describes `{}` with {params} parameters ({} bytes as f32), but {} holds {bytes} bytes; the config \
                     does not belong to these weights",
                    self.describe(),
                    params.saturating_mul(4),
                    path.display()
                ),
            ));
        }
        self.build(&Dev::default(), WithWeights { path: &path, then: visitor })
    }
}

/// Loads the weights at `path` into the freshly built model, then hands it on.
struct WithWeights<'a, V> {
    path: &'a Path,
    then: V,
}

impl<V: ModelVisitor> ModelVisitor for WithWeights<'_, V> {
    type Output = V::Output;
    fn visit<M: Autoencoder>(self, mut model: M) -> Result<V::Output> {
        load_weights(&mut model, self.path)?;
        self.then.visit(model)
    }
}

/// The config file's text, refusing a file too large to be a config before reading it.
fn read_config_text(path: &Path) -> Result<String> {
    const MAX: u64 = 1 << 20; // a config is under 2 KB; a megabyte is not a config
    let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if len > MAX {
        return Err(Error::format(path, format!("{len} bytes is not a config.json (they are under 1 MB)")));
    }
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn check_version(path: &Path, version: u32) -> Result<()> {
    if version > FORMAT_VERSION {
        return Err(Error::format(
            path,
            format!(
                "format_version {version} was written by a newer autoencoders (this one reads up to \
                 {FORMAT_VERSION}); upgrade it with `cargo install autoencoders` or `cargo update`"
            ),
        ));
    }
    Ok(())
}

/// The model of family `F` in `dir` with its checked weights — any family, the crate's or one
/// defined outside it, as long as `config.json`'s `model.kind` is `F::NAME`.
pub fn load_family_model<M: FamilyModel>(dir: &Path) -> Result<M> {
    let path = dir.join(CONFIG);
    let cfg = read_model_config::<M::Family>(&path)?;
    let mut model = M::from_config(&Dev::default(), &cfg)
        .map_err(|e| Error::format(&path, format!("{e} (this model type cannot hold it)")))?;
    load_weights(&mut model, &dir.join(WEIGHTS))?;
    Ok(model)
}

/// The `model` of `config.json` at `path`, read as family `F`'s config.
pub fn read_model_config<F: Family>(path: &Path) -> Result<F::Config> {
    let text = read_config_text(path)?;
    let mut root: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::format(path, e.to_string()))?;
    let version = root.get("format_version").and_then(|v| v.as_u64()).unwrap_or(0);
    check_version(path, u32::try_from(version).unwrap_or(u32::MAX))?;
    if let Some(variant) = root.get("variant").and_then(|v| v.get("kind")).and_then(|k| k.as_str()) {
        if variant != "plain" {
            return Err(Error::format(
                path,
                format!(
                    "it describes a `{variant}` model on a `{}` backbone, not a plain one; load it with \
                     `RunConfig::load_model` (any variant)",
                    F::NAME
                ),
            ));
        }
    }
    let mut model = root
        .get_mut("model")
        .map(serde_json::Value::take)
        .ok_or_else(|| Error::format(path, "no `model` field; is this an autoencoders config.json?"))?;
    let kind = model.as_object_mut().and_then(|m| m.remove("kind"));
    let kind = kind.as_ref().and_then(|k| k.as_str()).unwrap_or("?");
    if kind != F::NAME {
        return Err(Error::format(
            path,
            format!("it describes a `{kind}` model, not a `{}` model; load it with the matching type", F::NAME),
        ));
    }
    let cfg: F::Config = serde_json::from_value(model).map_err(|e| Error::format(path, format!("model: {e}")))?;
    F::validate(&cfg).map_err(|e| Error::format(path, e.to_string()))?;
    Ok(cfg)
}

/// Writes `dir/config.json` for a model of any family `F` — the crate's or one defined outside
/// it — in the same schema as [`RunConfig`], so that [`load_family_model`] and
/// [`Pretrained::from_pretrained`](crate::pretrained::Pretrained::from_pretrained) read it back.
pub fn save_family_config<F: Family>(
    dir: &Path,
    model: &F::Config,
    data: &DataConfig,
    train: &TrainConfig,
) -> Result<()> {
    let mut model = serde_json::to_value(model).map_err(|e| Error::config("model", e.to_string()))?;
    let fields = model
        .as_object_mut()
        .ok_or_else(|| Error::config("model", format!("the `{}` config must serialise to a JSON object", F::NAME)))?;
    fields.insert("kind".into(), F::NAME.into());
    let root = serde_json::json!({ "format_version": FORMAT_VERSION, "model": model, "data": data, "train": train });
    let text = serde_json::to_string_pretty(&root).expect("config serialises");
    write_atomic(&dir.join(CONFIG), text.as_bytes())
}

/// `dir/metrics.json`, if it exists.
pub fn read_metrics(dir: &Path) -> Result<Option<Metrics>> {
    let path = dir.join(METRICS);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::format(&path, format!("{e}; rerun `autoencoders eval` to rewrite it")))
}

/// Writes `dir/metrics.json` atomically.
pub fn write_metrics(dir: &Path, metrics: &Metrics) -> Result<()> {
    let text = serde_json::to_string_pretty(metrics).expect("metrics serialise");
    write_atomic(&dir.join(METRICS), text.as_bytes())
}
