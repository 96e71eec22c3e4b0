//! Trained models from a local directory or the Hugging Face hub: one generic
//! [`Pretrained::from_pretrained`] for every model type of every family.

use std::path::{Path, PathBuf};

use hf_hub::RepoType;

use crate::hub::Hub;
use crate::model_dir::{load_family_model, CONFIG, WEIGHTS};
use crate::models::FamilyModel;
use crate::{Error, Result};

/// A model to load: a local directory (checked first), or `owner/repo` on the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A model directory on this machine.
    Dir(PathBuf),
    /// A hub repository at a revision.
    Hub {
        /// `owner/name`.
        repo: String,
        /// Branch, tag or commit.
        revision: String,
    },
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

/// Loading a trained model by name: implemented for every [`FamilyModel`] (the crate's model
/// types and any defined outside it).
pub trait Pretrained: FamilyModel {
    /// A trained model from a directory or a hub repository (`owner/name`, branch `main`),
    /// with `HF_ENDPOINT`, `HF_HOME` and `HF_HUB_OFFLINE` from the environment.
    fn from_pretrained(spec: &str) -> Result<Self> {
        Self::from_pretrained_with(spec, None, &Hub::from_env())
    }

    /// The same at a revision (branch, tag or commit) and through a given [`Hub`].
    ///
    /// The config must name this type's family with sizes that fit the type, and every tensor
    /// must match it. A downloaded file that fails these checks is removed from the cache, so
    /// the next call downloads it again instead of failing on the same bad copy.
    fn from_pretrained_with(spec: &str, revision: Option<&str>, hub: &Hub) -> Result<Self> {
        let source = ModelSource::parse(spec, revision)?;
        let dir = source.local_dir(hub)?;
        match (load_family_model::<Self>(&dir), &source) {
            (Err(e), ModelSource::Hub { repo, revision }) => {
                for file in [CONFIG, WEIGHTS] {
                    hub.evict(repo, RepoType::Model, revision, file);
                }
                Err(Error::Hub {
                    repo: repo.clone(),
                    file: format!("{CONFIG} + {WEIGHTS}"),
                    what: format!(
                        "{e}. The downloaded copy was removed from the cache; the next call fetches it again"
                    ),
                })
            }
            (result, _) => result,
        }
    }
}

impl<M: FamilyModel> Pretrained for M {}
