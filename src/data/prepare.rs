//! A dataset made ready for a model: which data and normalisation ([`DataConfig`], part of a
//! model directory's `config.json`), its splits loaded and normalised, and the class filter of
//! anomaly detection (train on one class only).

use serde::{Deserialize, Serialize};

use super::hub_parquet::TableSamples;
use super::source::{DataSource, SourceOptions};
use super::stream::{ParquetStream, Part, PartSplit};
use super::{Dataset, NormalizeKind, Normalizer, Split};
use crate::hub::Hub;
use crate::{Error, Result};

/// The part of a source without its own test split that is held out for testing, unless
/// `--test-split` or `--test` says otherwise.
pub const DEFAULT_TEST_SPLIT: f64 = 0.2;

/// The seed of that hold-out, fixed so every run (and `eval` later) sees the same test rows.
const TEST_SPLIT_SEED: u64 = 0x5eed;

/// Which data, read how and normalised how: `config.json`'s `"data"`. What training decides
/// from the data (the feature columns, the channels, the class names, the normaliser's
/// statistics) is written back, so `eval`, `encode` and `figures` apply exactly the training
/// transform, to the same file or to a new one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Where the samples come from (`mnist`, `data/x.csv`, `hf:owner/name`).
    pub dataset: DataSource,
    /// How a file becomes samples (columns, label column, image size …).
    #[serde(default, skip_serializing_if = "SourceOptions::is_empty")]
    pub source: SourceOptions,
    /// A separate test source (`--test`); otherwise the dataset's own test split, or a
    /// held-out part of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<DataSource>,
    /// The fraction held out for testing when the dataset has no test split and no `test`
    /// is given (seeded, stratified by class when there are labels); default 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_split: Option<f64>,
    /// Which normalisation to fit.
    #[serde(default, skip_serializing_if = "NormalizeKind::is_auto")]
    pub normalize: NormalizeKind,
    /// Filled in from the training split when training starts.
    pub normalizer: Option<Normalizer>,
    /// Train on this class only (its name, e.g. `"1"` for ECG5000's normal beats): a model of
    /// normal data, whose reconstruction error flags the other classes as anomalies. The test
    /// split keeps every class, and evaluation adds `test_auroc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_class: Option<String>,
    /// The training data's class names, for a file or hub source with labels: a test file's
    /// labels are matched to them by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

impl DataConfig {
    /// All of `dataset`, normalised as fitted at training time.
    pub fn new(dataset: impl Into<DataSource>) -> Self {
        Self {
            dataset: dataset.into(),
            source: SourceOptions::default(),
            test: None,
            test_split: None,
            normalize: NormalizeKind::Auto,
            normalizer: None,
            normal_class: None,
            classes: None,
        }
    }

    /// For a table streamed from disk (`source.stream`): its `part`, normalised when a
    /// normaliser is stored. `val` is the fraction of the non-test rows held out for
    /// validation (the training config's `val_split`); the test part does not depend on it.
    pub fn open_stream(&self, part: Part, val: f64) -> Result<ParquetStream> {
        let DataSource::Path(path) = &self.dataset else {
            return Err(Error::config(
                "stream",
                format!("--stream reads a local parquet file or folder, not `{}`", self.dataset),
            ));
        };
        if self.source.label_column.is_some() || self.normal_class.is_some() || self.source.window.is_some() {
            return Err(Error::config(
                "stream",
                "--stream does not take --label-column, --normal-class or --window yet; load the table in memory",
            ));
        }
        if self.test.is_some() {
            return Err(Error::config("stream", "--stream holds out --test-split of the table; --test is not read"));
        }
        let split = PartSplit { test: self.test_split.unwrap_or(DEFAULT_TEST_SPLIT), val, seed: TEST_SPLIT_SEED };
        let s = ParquetStream::open(path, self.source.columns.as_deref(), split, part)?;
        Ok(match &self.normalizer {
            Some(n) => s.normalized(n.clone()),
            None => s,
        })
    }

    /// One split, normalised with the stored statistics (evaluation, encoding and figures
    /// need no second split); an error if none are stored (the model was never trained).
    /// A streamed table gives the first [`MAX_VAL_ROWS`](super::stream::MAX_VAL_ROWS) rows
    /// of the part (figures); its metrics and codes are streamed by `eval` and `encode`.
    pub fn load_split(&self, split: Split) -> Result<Dataset> {
        // Another source given as `test` (`--input`) is read whole, as any file is.
        if self.source.stream && self.test.is_none() {
            let part = if split == Split::Train { Part::Train } else { Part::Test };
            return self.open_stream(part, 0.0)?.head(super::stream::MAX_VAL_ROWS);
        }
        let norm = self
            .normalizer
            .as_ref()
            .ok_or_else(|| Error::config("data.normalizer", "missing from config.json; the model was never trained"))?;
        let mut data = self.load_raw(split)?.data;
        norm.apply(&mut data)?;
        Ok(data)
    }

    /// One split with raw values: the source's own split, `test`, or the seeded hold-out;
    /// cut into windows when the config has a [`Window`](super::Window).
    pub fn load_raw(&self, split: Split) -> Result<TableSamples> {
        let mut t = self.windowed(self.load_rows(split)?)?;
        if let Some(names) = &self.classes {
            relabel(&mut t.data, names);
        }
        Ok(t)
    }

    /// One split before any windows are cut: for a series, one row per time point (what
    /// [`Window::point_scores`](super::Window::point_scores) scores).
    pub fn load_rows(&self, split: Split) -> Result<TableSamples> {
        Ok(match (&self.test, split) {
            (Some(test), Split::Test) => test.load_input(Split::Test, &self.source)?,
            (Some(_), Split::Train) => self.dataset.load(Split::Train, &self.source)?,
            (None, _) if self.dataset.has_test_split(&Hub::from_env())? => self.dataset.load(split, &self.source)?,
            (None, _) => {
                let all = self.dataset.load(Split::Train, &self.source)?;
                let (train, test) = self.hold_out(&all.data)?;
                TableSamples { data: if split == Split::Train { train } else { test }, ..all }
            }
        })
    }

    /// The rows as windows, when the config asks for them.
    fn windowed(&self, mut t: TableSamples) -> Result<TableSamples> {
        if let Some(w) = &self.source.window {
            if t.data.shape.len() != 1 {
                return Err(Error::config(
                    "window",
                    format!(
                        "--window cuts a table's rows; `{}` holds samples of shape {:?}",
                        t.data.name, t.data.shape
                    ),
                ));
            }
            t.data = w.cut(&t.data)?;
        }
        Ok(t)
    }

    /// The train and test parts of a source without a test split: a seeded, stratified draw;
    /// for a series (`window`), the last `test_split` of its time points, so no test window
    /// overlaps a training one.
    fn hold_out(&self, all: &Dataset) -> Result<(Dataset, Dataset)> {
        let fraction = self.test_split.unwrap_or(DEFAULT_TEST_SPLIT);
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::config("test_split", format!("{fraction} is not in (0, 1)")));
        }
        let (mut train, mut test) = if self.source.window.is_some() {
            let n_test = (all.len() as f64 * fraction).round() as usize;
            let cut = all.len() - n_test.min(all.len());
            (all.subset(&(0..cut).collect::<Vec<_>>()), all.subset(&(cut..all.len()).collect::<Vec<_>>()))
        } else {
            all.split_stratified(fraction, TEST_SPLIT_SEED)?
        };
        if train.is_empty() || test.is_empty() {
            return Err(Error::config(
                "test_split",
                format!("{fraction} of {} samples leaves an empty train or test part", all.len()),
            ));
        }
        train.name = format!("{}[train]", all.name);
        test.name = format!("{}[test]", all.name);
        Ok((train, test))
    }

    /// True when the model sees images scaled to [0, 1] (sigmoid output and BCE fit).
    pub fn is_image(&self) -> bool {
        match (&self.dataset, &self.normalizer) {
            (_, Some(n)) => matches!(n, Normalizer::MinMax { .. }),
            (DataSource::Builtin { id, .. }, None) => id.is_image(),
            _ => false,
        }
    }

    /// The hub dataset repository this data comes from, if any (for model cards).
    pub fn hub_dataset(&self) -> Option<String> {
        match &self.dataset {
            DataSource::Builtin { id, .. } => id.hub_source().map(|(r, _)| r.to_string()),
            DataSource::Hub { repo, .. } => Some(repo.clone()),
            DataSource::Path(_) => None,
        }
    }
}

/// Maps `data`'s labels onto the class names `names` (training's), by name; a class the
/// training data did not have is added at the end.
fn relabel(data: &mut Dataset, names: &[String]) {
    let Some(labels) = &mut data.labels else { return };
    let mut all = names.to_vec();
    let map: Vec<u32> = data
        .class_names
        .iter()
        .map(|n| match all.iter().position(|m| m == n) {
            Some(i) => i as u32,
            None => {
                all.push(n.clone());
                (all.len() - 1) as u32
            }
        })
        .collect();
    labels.iter_mut().for_each(|l| *l = map[*l as usize]);
    data.class_names = all;
}

/// A dataset's train and test splits, normalised with statistics of the training split.
#[derive(Clone)]
pub struct Prepared {
    /// The training split (only `normal_class`, when one is set).
    pub train: Dataset,
    /// The test split, every class.
    pub test: Dataset,
    /// The normalisation applied to both.
    pub normalizer: Normalizer,
    /// The config with what the data decided filled in (columns, channels, classes,
    /// normaliser): what a trained model's `config.json` holds.
    pub config: DataConfig,
}

/// Loads and normalises a data source (a built-in [`DatasetId`](super::DatasetId), or any
/// [`DataSource`]); `normalizer` reuses a stored one instead of fitting anew.
pub fn prepare(source: impl Into<DataSource>, normalizer: Option<&Normalizer>) -> Result<Prepared> {
    prepare_data(&DataConfig { normalizer: normalizer.cloned(), ..DataConfig::new(source) })
}

/// [`prepare`] for a [`DataConfig`]: with `normal_class`, the training split keeps only that
/// class (and the normaliser is fitted on it); the test split keeps every class.
pub fn prepare_data(cfg: &DataConfig) -> Result<Prepared> {
    let mut cfg = cfg.clone();
    let own_split = cfg.test.is_some() || cfg.dataset.has_test_split(&Hub::from_env())?;
    let (train, mut test) = if own_split {
        (cfg.load_raw(Split::Train)?, cfg.load_raw(Split::Test)?.data)
    } else {
        // One read of the file for both parts.
        let all = cfg.dataset.load(Split::Train, &cfg.source)?;
        let (tr, te) = cfg.hold_out(&all.data)?;
        let test = cfg.windowed(TableSamples { data: te, ..all.clone() })?.data;
        (cfg.windowed(TableSamples { data: tr, ..all })?, test)
    };
    cfg.source = cfg.source.resolved(&train);
    let mut train = train.data;
    if !matches!(cfg.dataset, DataSource::Builtin { .. }) && train.labels.is_some() {
        let names = cfg.classes.get_or_insert_with(|| train.class_names.clone()).clone();
        relabel(&mut train, &names);
        relabel(&mut test, &names);
    }
    if let Some(name) = &cfg.normal_class {
        train = train.filter_class(class_index(&train, name)?);
    }
    let normalizer = match (&cfg.normalizer, &cfg.dataset, cfg.normalize) {
        (Some(n), _, _) => n.clone(),
        (None, DataSource::Builtin { id, .. }, NormalizeKind::Auto) => id.fit_normalizer(&train)?,
        (None, _, kind) => Normalizer::fit(kind, &train)?,
    };
    normalizer.apply(&mut train)?;
    normalizer.apply(&mut test)?;
    cfg.normalizer = Some(normalizer.clone());
    Ok(Prepared { train, test, normalizer, config: cfg })
}

/// The index of the class named `name` in `data` — or, when no class has that name, numbered
/// `name` (Fashion-MNIST's `0` is `T-shirt/top`) — or an error listing the names.
pub fn class_index(data: &Dataset, name: &str) -> Result<u32> {
    if data.labels.is_none() {
        return Err(Error::config("normal_class", format!("`{}` has no labels to pick a class from", data.name)));
    }
    let by_number = || name.parse::<usize>().ok().filter(|&k| k < data.class_names.len());
    data.class_names.iter().position(|c| c == name).or_else(by_number).map(|i| i as u32).ok_or_else(|| {
        Error::config(
            "normal_class",
            format!("`{}` has no class `{name}`; its classes are {}", data.name, data.class_names.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_is_found_by_name_first_then_by_number() {
        let names = ["T-shirt/top", "Trouser", "7"].map(String::from).to_vec();
        let data = Dataset::new("clothes", vec![0.0; 3], vec![1], Some(vec![0, 1, 2]), names).unwrap();
        assert_eq!(class_index(&data, "Trouser").unwrap(), 1);
        assert_eq!(class_index(&data, "0").unwrap(), 0);
        assert_eq!(class_index(&data, "1").unwrap(), 1);
        // A class named "7" is that class, not number 7 (there is none).
        assert_eq!(class_index(&data, "7").unwrap(), 2);
        let e = class_index(&data, "3").unwrap_err().to_string();
        assert!(e.contains("has no class `3`") && e.contains("T-shirt/top, Trouser, 7"), "{e}");
    }
}
