//! A dataset made ready for a model: which dataset and normalisation ([`DataConfig`], part of
//! a model directory's `config.json`), its splits loaded and normalised, and the class filter
//! of anomaly detection (train on one class only).

use serde::{Deserialize, Serialize};

use super::{Dataset, DatasetId, Normalizer, Split};
use crate::{Error, Result};

/// Which dataset, normalised how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The dataset.
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

    /// One split, normalised with the stored statistics (evaluation, encoding and figures
    /// need no second split); an error if none are stored (the model was never trained).
    pub fn load_split(&self, split: Split) -> Result<Dataset> {
        let norm = self
            .normalizer
            .as_ref()
            .ok_or_else(|| Error::config("data.normalizer", "missing from config.json; the model was never trained"))?;
        let mut data = self.dataset.load(split)?;
        norm.apply(&mut data)?;
        Ok(data)
    }
}

/// A dataset's train and test splits, normalised with statistics of the training split.
pub struct Prepared {
    /// The training split (only `normal_class`, when one is set).
    pub train: Dataset,
    /// The test split, every class.
    pub test: Dataset,
    /// The normalisation applied to both.
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

/// The index of the class named `name` in `data`, or an error listing the names.
pub fn class_index(data: &Dataset, name: &str) -> Result<u32> {
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
