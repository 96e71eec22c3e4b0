//! Models and datasets from the Hugging Face hub, through hf-hub's blocking client
//! and its cache (`$HF_HOME/hub`, by default `~/.cache/huggingface/hub`).
//!
//! Environment: `HF_ENDPOINT` (a mirror, or a local test server), `HF_HOME` (the cache),
//! `HF_HUB_OFFLINE=1` (never touch the network: cached files or a clear error), `HF_TOKEN`
//! (private repositories; read by hf-hub).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use indicatif::{ProgressBar, ProgressStyle};

use crate::models::conv::ConvAutoencoder;
use crate::models::dense::{DenseAutoencoder, DenseStack};
use crate::models::lstm::LstmAutoencoder;
use crate::models::ModelConfig;
use crate::nn::Dev;
use crate::nn::Params;
use crate::run::RunConfig;
use crate::train::checkpoint::{load_weights, CONFIG, WEIGHTS};
use crate::{Error, Result};

/// Where `HF_HUB_OFFLINE` is read from.
pub const OFFLINE_ENV: &str = "HF_HUB_OFFLINE";
/// The hub address, as hf-hub reads it.
pub const ENDPOINT_ENV: &str = "HF_ENDPOINT";

/// A model to load: a local directory (checked first), or `owner/repo` on the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    Dir(PathBuf),
    Hub { repo: String, revision: String },
}

impl ModelSource {
    /// A directory if `spec` names one, else a hub repository id (`owner/name`).
    pub fn parse(spec: &str, revision: Option<&str>) -> Result<Self> {
        if Path::new(spec).is_dir() {
            return Ok(Self::Dir(spec.into()));
        }
        let valid = spec.split('/').count() == 2
            && spec
                .split('/')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        if !valid {
            return Err(Error::config(
                "model",
                format!("`{spec}` is neither a directory nor a hub repository id like `owner/name`"),
            ));
        }
        Ok(Self::Hub { repo: spec.into(), revision: revision.unwrap_or("main").into() })
    }

    /// A local directory holding `config.json` and `model.safetensors`, downloading them into
    /// the hub cache when needed.
    pub fn local_dir(&self, hub: &Hub) -> Result<PathBuf> {
        match self {
            Self::Dir(d) => Ok(d.clone()),
            Self::Hub { repo, revision } => {
                let mut dir = None;
                for file in [CONFIG, WEIGHTS] {
                    // A mistyped local path looks like a hub id too: say that both were tried.
                    let path = hub.fetch(repo, RepoType::Model, revision, file).map_err(|e| match e {
                        Error::Hub { repo, file, what } => {
                            let what = format!("{what} (and there is no local directory `{repo}` either)");
                            Error::Hub { repo, file, what }
                        }
                        other => other,
                    })?;
                    dir = path.parent().map(Path::to_path_buf);
                }
                Ok(dir.expect("two files fetched"))
            }
        }
    }
}

impl<Enc, Dec> DenseAutoencoder<Enc, Dec>
where
    Enc: DenseStack,
    Dec: DenseStack<In = Enc::Out, Out = Enc::In>,
{
    /// A trained model from a directory or a hub repository (`owner/name`, branch `main`),
    /// with `HF_ENDPOINT`, `HF_HOME` and `HF_HUB_OFFLINE` from the environment.
    pub fn from_pretrained(spec: &str) -> Result<Self> {
        Self::from_pretrained_with(spec, None, &Hub::from_env())
    }

    /// The same at a revision (branch, tag or commit) and through a given [`Hub`].
    ///
    /// The config must name a dense model whose sizes fit this type, and every tensor must
    /// match it. A downloaded file that fails these checks is removed from the cache, so the
    /// next call downloads it again instead of failing on the same bad copy.
    pub fn from_pretrained_with(spec: &str, revision: Option<&str>, hub: &Hub) -> Result<Self> {
        load_pretrained(spec, revision, hub, |model| match model {
            ModelConfig::Dense(dense) => Self::new(&Dev::default(), dense),
            other => Err(not_this_type(other, "a dense model (DenseAutoencoder)")),
        })
    }
}

impl ConvAutoencoder {
    /// A trained convolutional model from a directory or a hub repository (`owner/name`),
    /// with `HF_ENDPOINT`, `HF_HOME` and `HF_HUB_OFFLINE` from the environment.
    pub fn from_pretrained(spec: &str) -> Result<Self> {
        Self::from_pretrained_with(spec, None, &Hub::from_env())
    }

    /// The same at a revision and through a given [`Hub`]; checked and evicted on failure like
    /// [`DenseAutoencoder::from_pretrained_with`].
    pub fn from_pretrained_with(spec: &str, revision: Option<&str>, hub: &Hub) -> Result<Self> {
        load_pretrained(spec, revision, hub, |model| match model {
            ModelConfig::Conv(c) => Self::new(&Dev::default(), c),
            other => Err(not_this_type(other, "a convolutional model (ConvAutoencoder)")),
        })
    }
}

impl LstmAutoencoder {
    /// A trained LSTM sequence model from a directory or a hub repository (`owner/name`),
    /// with `HF_ENDPOINT`, `HF_HOME` and `HF_HUB_OFFLINE` from the environment.
    pub fn from_pretrained(spec: &str) -> Result<Self> {
        Self::from_pretrained_with(spec, None, &Hub::from_env())
    }

    /// The same at a revision and through a given [`Hub`]; checked and evicted on failure like
    /// [`DenseAutoencoder::from_pretrained_with`].
    pub fn from_pretrained_with(spec: &str, revision: Option<&str>, hub: &Hub) -> Result<Self> {
        load_pretrained(spec, revision, hub, |model| match model {
            ModelConfig::Lstm(c) => Self::new(&Dev::default(), c),
            other => Err(not_this_type(other, "an LSTM model (LstmAutoencoder)")),
        })
    }
}

fn not_this_type(model: &ModelConfig, want: &str) -> Error {
    Error::config("model", format!("it describes `{}`, not {want}; load it with the matching type", model.describe()))
}

/// Fetches `spec`, builds the model its config describes with `build`, and loads its checked
/// weights; a downloaded copy that fails is removed from the cache.
fn load_pretrained<M: Params>(
    spec: &str,
    revision: Option<&str>,
    hub: &Hub,
    build: impl Fn(&ModelConfig) -> Result<M>,
) -> Result<M> {
    let source = ModelSource::parse(spec, revision)?;
    let dir = source.local_dir(hub)?;
    let loaded = (|| {
        let cfg = RunConfig::load(&dir)?;
        let mut model = build(&cfg.model)
            .map_err(|e| Error::format(dir.join(CONFIG), format!("{e} (this model type cannot hold it)")))?;
        load_weights(&mut model, &dir.join(WEIGHTS))?;
        Ok(model)
    })();
    match (loaded, &source) {
        (Err(e), ModelSource::Hub { repo, revision }) => {
            for file in [CONFIG, WEIGHTS] {
                hub.evict(repo, RepoType::Model, revision, file);
            }
            Err(Error::Hub {
                repo: repo.clone(),
                file: format!("{CONFIG} + {WEIGHTS}"),
                what: format!("{e}. The downloaded copy was removed from the cache; the next call fetches it again"),
            })
        }
        (result, _) => result,
    }
}

/// Where files come from and go: the hub's address, the cache directory, and whether the
/// network may be used. [`Hub::from_env`] reads the standard variables; tests build one
/// directly, so no process-wide variable has to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    pub endpoint: String,
    /// hf-hub's cache root (`$HF_HOME/hub`).
    pub cache: PathBuf,
    pub offline: bool,
}

impl Hub {
    /// `HF_ENDPOINT` (default `https://huggingface.co`), `HF_HOME`, `HF_HUB_OFFLINE`.
    pub fn from_env() -> Self {
        let offline = std::env::var(OFFLINE_ENV)
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        Self {
            endpoint: std::env::var(ENDPOINT_ENV).unwrap_or_else(|_| "https://huggingface.co".into()),
            cache: Cache::from_env().path().clone(),
            offline,
        }
    }

    /// The local path of `file` in `repo` at `revision`: from the cache if it is there, else
    /// downloaded (unless offline).
    pub fn fetch(&self, repo: &str, kind: RepoType, revision: &str, file: &str) -> Result<PathBuf> {
        let r = Repo::with_revision(repo.into(), kind, revision.into());
        let err = |what: String| Error::Hub { repo: repo.into(), file: file.into(), what };
        let cache = Cache::new(self.cache.clone());
        if self.offline {
            return cache.repo(r).get(file).ok_or_else(|| {
                err(format!(
                    "not in the cache ({}) and {OFFLINE_ENV} is set; download it once with network access, \
                     or unset {OFFLINE_ENV}",
                    self.cache.display()
                ))
            });
        }
        if let Some(path) = cache.repo(r.clone()).get(file) {
            return Ok(path);
        }
        let api = ApiBuilder::from_cache(cache)
            .with_endpoint(self.endpoint.clone())
            .build()
            .map_err(|e| err(format!("cannot start the hub client: {e}")))?;
        api.repo(r).download_with_progress(file, DownloadBar::new(repo, file)).map_err(|e| err(self.explain(&e)))
    }

    /// Removes `file` (its snapshot link and the blob behind it) from the cache; best effort.
    pub fn evict(&self, repo: &str, kind: RepoType, revision: &str, file: &str) {
        let r = Repo::with_revision(repo.into(), kind, revision.into());
        if let Some(pointer) = Cache::new(self.cache.clone()).repo(r).get(file) {
            if let Ok(blob) = std::fs::canonicalize(&pointer) {
                let _ = std::fs::remove_file(blob);
            }
            let _ = std::fs::remove_file(pointer);
        }
    }

    /// An hf-hub error in words a user can act on.
    fn explain(&self, e: &ApiError) -> String {
        let endpoint = &self.endpoint;
        match e {
            ApiError::RequestError(inner) => match inner.as_ref() {
                ureq::Error::StatusCode(404) => format!(
                    "not found at {endpoint} (check the repository id, the revision and the file name; \
                 a private repository needs HF_TOKEN)"
                ),
                ureq::Error::StatusCode(code) => format!("{endpoint} answered HTTP {code}"),
                other => format!(
                    "cannot reach {endpoint}: {other}. Check the network, set {ENDPOINT_ENV} to a mirror, \
                 or set {OFFLINE_ENV}=1 to use only cached files"
                ),
            },
            other => format!("{other}"),
        }
    }
}

/// Progress of one download on stderr: an indicatif bar on a terminal, else one line when it
/// starts and one when it ends (so logs and notebooks see what happened, without a flood).
struct DownloadBar {
    label: String,
    bar: Option<ProgressBar>,
    bytes: u64,
    announced: bool,
    started: std::time::Instant,
}

impl DownloadBar {
    fn new(repo: &str, file: &str) -> Self {
        let label = format!("{repo}/{file}");
        Self { label, bar: None, bytes: 0, announced: false, started: std::time::Instant::now() }
    }
}

impl hf_hub::api::Progress for DownloadBar {
    // hf-hub calls `init` once per download and again at the start of every (re)try, each
    // followed by `update(bytes already on disk)`: count from zero each time, announce once.
    fn init(&mut self, size: usize, _file: &str) {
        self.bytes = 0;
        if let Some(b) = &self.bar {
            b.set_position(0);
            return;
        }
        if std::io::stderr().is_terminal() {
            let style = ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} (eta {eta})",
            )
            .expect("valid template");
            self.bar = Some(ProgressBar::new(size as u64).with_style(style).with_message(self.label.clone()));
        } else if !self.announced {
            eprintln!("downloading {} ({:.1} MB)", self.label, size as f64 / 1e6);
        }
        self.announced = true;
    }
    fn update(&mut self, size: usize) {
        self.bytes += size as u64;
        if let Some(b) = &self.bar {
            b.inc(size as u64);
        }
    }
    fn finish(&mut self) {
        match &self.bar {
            Some(b) => b.finish(),
            None => eprintln!(
                "downloaded {} ({:.1} MB in {:.1} s)",
                self.label,
                self.bytes as f64 / 1e6,
                self.started.elapsed().as_secs_f64()
            ),
        }
    }
}
