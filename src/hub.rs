//! The Hugging Face hub client: downloads of single files (models, datasets) through hf-hub's
//! blocking client and its cache (`$HF_HOME/hub`, by default `~/.cache/huggingface/hub`).
//!
//! Environment: `HF_ENDPOINT` (a mirror, or a local test server), `HF_HOME` (the cache),
//! `HF_HUB_OFFLINE=1` (never touch the network: cached files or a clear error), `HF_TOKEN`
//! (private repositories; read by hf-hub).

use std::io::IsTerminal;
use std::path::PathBuf;

use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::{Cache, Repo, RepoType};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{Error, Result};

/// Where `HF_HUB_OFFLINE` is read from.
pub const OFFLINE_ENV: &str = "HF_HUB_OFFLINE";
/// The hub address, as hf-hub reads it.
pub const ENDPOINT_ENV: &str = "HF_ENDPOINT";

/// Where files come from and go: the hub's address, the cache directory, and whether the
/// network may be used. [`Hub::from_env`] reads the standard variables; tests build one
/// directly, so no process-wide variable has to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    /// The hub's address (`HF_ENDPOINT`).
    pub endpoint: String,
    /// hf-hub's cache root (`$HF_HOME/hub`).
    pub cache: PathBuf,
    /// Never use the network: cached files or an error (`HF_HUB_OFFLINE`).
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

    /// Every file of `repo` at `revision`: from the hub's repository info, or offline from the
    /// cache's snapshot of that revision (the files downloaded before).
    pub fn list_files(&self, repo: &str, kind: RepoType, revision: &str) -> Result<Vec<String>> {
        let r = Repo::with_revision(repo.into(), kind, revision.into());
        let err = |what: String| Error::Hub { repo: repo.into(), file: "(file list)".into(), what };
        if self.offline {
            let folder = self.cache.join(r.folder_name());
            let commit = std::fs::read_to_string(folder.join("refs").join(revision)).map_err(|_| {
                err(format!(
                    "nothing cached under {} and {OFFLINE_ENV} is set; download it once with network access",
                    folder.display()
                ))
            })?;
            let snapshot = folder.join("snapshots").join(commit.trim());
            let mut files = Vec::new();
            let mut stack = vec![snapshot.clone()];
            while let Some(dir) = stack.pop() {
                for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if let Ok(rel) = p.strip_prefix(&snapshot) {
                        files.push(rel.to_string_lossy().replace('\\', "/"));
                    }
                }
            }
            files.sort();
            return Ok(files);
        }
        let api = ApiBuilder::from_cache(Cache::new(self.cache.clone()))
            .with_endpoint(self.endpoint.clone())
            .build()
            .map_err(|e| err(format!("cannot start the hub client: {e}")))?;
        let info = api.repo(r).info().map_err(|e| err(self.explain(&e)))?;
        Ok(info.siblings.into_iter().map(|s| s.rfilename).collect())
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
