//! The named datasets, where their files live, and how each is split into train and test.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{hub_parquet, idx, image_folder, npz, tabular, Dataset, Normalizer};
use crate::hub::Hub;
use crate::{Error, Result};

/// The environment variable naming the data directory (laid out like `mnist/`, `digits/` …).
pub const DATA_ENV: &str = "AUTOENCODERS_DATA";

/// The digits CSV the project ships (UCI optical digits, CC BY 4.0; see `datasets/digits/`),
/// embedded so that `autoencoders demo` needs no files at all.
pub const EMBEDDED_DIGITS: &[u8] = include_bytes!("../../datasets/digits/digits.csv");

/// The data directory: `$AUTOENCODERS_DATA`, or `./datasets` when it is unset.
pub fn data_root() -> PathBuf {
    std::env::var_os(DATA_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("datasets"))
}

/// Which part of a dataset to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The training split (validation is carved out of it).
    Train,
    /// The held-out test split.
    Test,
}

/// A dataset this library knows how to find, split and normalise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatasetId {
    /// MNIST digits, 28×28, canonical IDX files in `mnist/`.
    Mnist,
    /// Fashion-MNIST, 28×28, canonical IDX files in `fashion-mnist/`.
    FashionMnist,
    /// UCI 8×8 digits (`digits/digits.csv`), falling back to the copy embedded in the crate.
    Digits,
    /// ECG5000 heartbeats, 140 steps, UCR TSV files in `ecg5000/`.
    Ecg5000,
    /// ORL / AT&T faces, 92×112 PGM, `orl-faces/sN/M.pgm`: images 1–8 of each person train,
    /// 9–10 test (more training images for reconstruction and generation).
    OrlFaces,
    /// The same faces in the face-recognition literature's split (`orl-faces/5-5`): images 1–5
    /// of each person train, 6–10 test — 200 and 200 (Samaria & Harter 1994, Lawrence et al.
    /// 1997). What `autoencoders faces` measures identification on.
    OrlFaces55,
    /// An ADBench tabular set, `adbench/<NN>_<name>.npz`, named with or without its number.
    Adbench(String),
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetId::Mnist => write!(f, "mnist"),
            DatasetId::FashionMnist => write!(f, "fashion-mnist"),
            DatasetId::Digits => write!(f, "digits"),
            DatasetId::Ecg5000 => write!(f, "ecg5000"),
            DatasetId::OrlFaces => write!(f, "orl-faces"),
            DatasetId::OrlFaces55 => write!(f, "orl-faces/5-5"),
            DatasetId::Adbench(s) => write!(f, "adbench/{s}"),
        }
    }
}

impl FromStr for DatasetId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "mnist" => DatasetId::Mnist,
            "fashion-mnist" | "fashion_mnist" => DatasetId::FashionMnist,
            "digits" => DatasetId::Digits,
            "ecg5000" => DatasetId::Ecg5000,
            "orl-faces" | "orl" => DatasetId::OrlFaces,
            "orl-faces/5-5" | "orl/5-5" => DatasetId::OrlFaces55,
            s if s.starts_with("adbench/") && s.len() > 8 => DatasetId::Adbench(s[8..].to_string()),
            _ => {
                return Err(Error::config(
                    "dataset",
                    format!("`{s}` is not one of mnist, fashion-mnist, digits, ecg5000, orl-faces, orl-faces/5-5, adbench/<set>"),
                ))
            }
        })
    }
}

impl Serialize for DatasetId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DatasetId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Fixed seed for datasets that ship without a test split (digits, ADBench), so every run and
/// every user sees the same test set.
const SPLIT_SEED: u64 = 0x5eed;

impl DatasetId {
    /// Loads one split with raw values (see [`DatasetId::fit_normalizer`]) from the data
    /// directory; MNIST and Fashion-MNIST, when not there, from the Hugging Face hub (see
    /// [`DatasetId::load_from_hub`]) with `HF_ENDPOINT`, `HF_HOME` and `HF_HUB_OFFLINE`.
    pub fn load(&self, split: Split) -> Result<Dataset> {
        match (self.load_from(&data_root(), split), self.hub_source()) {
            (Err(Error::MissingData { name, looked_for, fix }), Some((repo, _))) => {
                eprintln!("{self}: no local copy ({looked_for}); trying the Hugging Face hub ({repo})");
                self.load_from_hub(&Hub::from_env(), split).map_err(|hub| Error::MissingData {
                    name,
                    looked_for: format!("{looked_for}, then the hub: {hub}"),
                    fix,
                })
            }
            (result, _) => result,
        }
    }

    /// The hub dataset repository and the folder of its parquet files, for the datasets
    /// published there in the `image {bytes, path}`, `label` layout.
    pub fn hub_source(&self) -> Option<(&'static str, &'static str)> {
        match self {
            DatasetId::Mnist => Some(("ylecun/mnist", "mnist")),
            DatasetId::FashionMnist => Some(("zalando-datasets/fashion_mnist", "fashion_mnist")),
            _ => None,
        }
    }

    /// Loads one split from the hub's parquet copy (`<folder>/{train,test}-00000-of-00001.parquet`
    /// in [`DatasetId::hub_source`]'s repository, branch `main`), downloading it into the hub
    /// cache once. A cached file that cannot be read is removed, so the next call downloads it
    /// again.
    pub fn load_from_hub(&self, hub: &Hub, split: Split) -> Result<Dataset> {
        let (repo, folder) = self.hub_source().ok_or_else(|| {
            Error::config("dataset", format!("`{self}` is not published on the hub in a layout this library reads"))
        })?;
        let part = if split == Split::Train { "train" } else { "test" };
        let file = format!("{folder}/{part}-00000-of-00001.parquet");
        let kind = hf_hub::RepoType::Dataset;
        let path = hub.fetch(repo, kind, "main", &file)?;
        let name = format!("{self}/{part}");
        hub_parquet::read_image_parquet(&path, &name, self.class_names()).map_err(|e| {
            hub.evict(repo, kind, "main", &file);
            let what = format!("{e}. The downloaded copy was removed from the cache; the next call fetches it again");
            Error::Hub { repo: repo.into(), file, what }
        })
    }

    /// Loads one split from a data directory laid out like `../shared/datasets`.
    pub fn load_from(&self, root: &Path, split: Split) -> Result<Dataset> {
        let train = split == Split::Train;
        let name = format!("{self}/{}", if train { "train" } else { "test" });
        match self {
            DatasetId::Mnist | DatasetId::FashionMnist => {
                let dir = root.join(self.to_string());
                let (images, labels) = idx::split_files(&dir, train);
                require(self, &[&images, &labels], "Download the four canonical IDX files (train/t10k images and labels, gzipped or not) into that folder, or set AUTOENCODERS_DATA to a folder that has them.")?;
                idx::load_split(&dir, train, &name, self.class_names())
            }
            DatasetId::Digits => {
                let path = root.join("digits").join("digits.csv");
                let all = if path.exists() {
                    tabular::load_table(&path, tabular::TableFormat::CSV_LABEL_FIRST, "digits")?
                } else {
                    let origin = Path::new("<embedded datasets/digits/digits.csv>");
                    tabular::parse_table(EMBEDDED_DIGITS, tabular::TableFormat::CSV_LABEL_FIRST, "digits", origin)?
                };
                if all.sample_len() != 64 {
                    let at = if path.exists() { path.display().to_string() } else { "the embedded copy".into() };
                    return Err(Error::format(
                        &at,
                        format!("{} feature columns after the label; the 8×8 digits have 64", all.sample_len()),
                    ));
                }
                let mut d = fixed_split(&all, 0.2, train)?;
                d.shape = vec![1, 8, 8];
                d.name = name;
                Ok(d)
            }
            DatasetId::Ecg5000 => {
                let file = if train { "ECG5000_TRAIN.tsv" } else { "ECG5000_TEST.tsv" };
                let path = root.join("ecg5000").join(file);
                require(
                    self,
                    &[&path],
                    "Get ECG5000 from the UCR Time Series Archive (TSV, label first) or set AUTOENCODERS_DATA.",
                )?;
                tabular::load_table(&path, tabular::TableFormat::UCR_TSV, &name)
            }
            DatasetId::OrlFaces | DatasetId::OrlFaces55 => {
                let dir = root.join("orl-faces");
                require(
                    self,
                    &[&dir.join("s1")],
                    "Unpack the AT&T/ORL face archive (s1 … s40 folders of PGM files) there, or set AUTOENCODERS_DATA.",
                )?;
                // Per person, by file number: the first 8 (or 5) images train, the rest test.
                let first = if *self == DatasetId::OrlFaces { 8 } else { 5 };
                check_orl_people(&dir)?;
                image_folder::load_image_folder(&dir, &name, |_, k| (k < first) == train)
            }
            DatasetId::Adbench(set) => {
                let path = adbench_file(root, set)?;
                let all = npz::load_npz(&path, &name)?;
                let mut d = fixed_split(&all, 0.3, train)?;
                d.name = name;
                Ok(d)
            }
        }
    }

    /// Class names for the image sets; others take theirs from the files.
    fn class_names(&self) -> Vec<String> {
        match self {
            DatasetId::FashionMnist => [
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            _ => (0..10).map(|i| i.to_string()).collect(),
        }
    }

    /// True for image datasets (min-max scaled to [0, 1], suited to sigmoid + BCE).
    pub fn is_image(&self) -> bool {
        matches!(
            self,
            DatasetId::Mnist
                | DatasetId::FashionMnist
                | DatasetId::Digits
                | DatasetId::OrlFaces
                | DatasetId::OrlFaces55
        )
    }

    /// The normalisation this dataset trains with, fitted on its training split: images
    /// min-max to [0, 1]; ECG5000 unchanged (the UCR archive z-normalises each beat, and a
    /// per-time-step standardisation would subtract the average beat from every series);
    /// tabular data standardised per feature.
    pub fn fit_normalizer(&self, train: &Dataset) -> Result<Normalizer> {
        match self {
            _ if self.is_image() => Normalizer::fit_min_max(train),
            DatasetId::Ecg5000 => Ok(Normalizer::Identity),
            _ => Normalizer::fit_standardize(train),
        }
    }
}

/// The first fraction-complement of a seeded permutation trains, the rest tests.
fn fixed_split(all: &Dataset, test_fraction: f64, train: bool) -> Result<Dataset> {
    let (tr, te) = all.split(test_fraction, SPLIT_SEED)?;
    Ok(if train { tr } else { te })
}

fn require(id: &DatasetId, paths: &[&Path], fix: &str) -> Result<()> {
    let missing: Vec<String> = paths.iter().filter(|p| !p.exists()).map(|p| p.display().to_string()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::MissingData {
        name: id.to_string(),
        looked_for: missing.join(", "),
        fix: format!("{fix} (The data directory is ${DATA_ENV}, or ./datasets when unset.)"),
    })
}

/// The `.npz` file names in `dir`, sorted.
fn npz_files(dir: &Path) -> Result<Vec<String>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".npz"))
        .collect();
    names.sort();
    Ok(names)
}

/// The ADBench sets under `root/adbench`, by the names `adbench/<name>` takes (`cardio` for
/// `6_cardio.npz`), in the order of their files' numbers.
pub fn adbench_sets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("adbench");
    require(
        &DatasetId::Adbench("*".into()),
        &[&dir],
        "Copy the ADBench `Classical` .npz files there, or set AUTOENCODERS_DATA.",
    )?;
    let mut sets: Vec<(u32, String)> = npz_files(&dir)?
        .iter()
        .map(|n| {
            let stem = n.trim_end_matches(".npz").to_ascii_lowercase();
            let numbered = stem.split_once('_').and_then(|(k, name)| Some((k.parse::<u32>().ok()?, name.to_string())));
            numbered.unwrap_or((u32::MAX, stem))
        })
        .collect();
    sets.sort();
    Ok(sets.into_iter().map(|(_, name)| name).collect())
}

/// `adbench/cardio` or `adbench/6_cardio` → `root/adbench/6_cardio.npz`.
fn adbench_file(root: &Path, set: &str) -> Result<PathBuf> {
    let dir = root.join("adbench");
    let id = DatasetId::Adbench(set.to_string());
    require(&id, &[&dir], "Copy the ADBench `Classical` .npz files there, or set AUTOENCODERS_DATA.")?;
    let names = npz_files(&dir)?;
    let want = set.trim_end_matches(".npz").to_ascii_lowercase();
    let hit = names.iter().find(|n| {
        let stem = n.trim_end_matches(".npz").to_ascii_lowercase();
        stem == want || stem.split_once('_').is_some_and(|(_, rest)| rest == want)
    });
    match hit {
        Some(n) => Ok(dir.join(n)),
        None => Err(Error::MissingData {
            name: id.to_string(),
            looked_for: format!("{}/*{set}.npz", dir.display()),
            fix: format!(
                "Available sets: {}",
                names.iter().map(|n| n.trim_end_matches(".npz")).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

/// Every `sN` folder of the ORL archive holds exactly `1.pgm` … `10.pgm`: the split takes
/// images 1–8 of each person for training and 9–10 for testing by position, so a missing or
/// extra file would silently move images between the splits.
fn check_orl_people(dir: &Path) -> Result<()> {
    let expected: Vec<String> = (1..=10).map(|k| format!("{k}.pgm")).collect();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let person = entry.map_err(|e| Error::io(dir, e))?.path();
        if !person.is_dir() {
            continue;
        }
        let mut names = Vec::new();
        for f in std::fs::read_dir(&person).map_err(|e| Error::io(&person, e))? {
            let f = f.map_err(|e| Error::io(&person, e))?.path();
            let is_image = f
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| image_folder::EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
            if f.is_file() && is_image {
                names.push(f.file_name().unwrap_or_default().to_string_lossy().into_owned());
            }
        }
        let missing: Vec<&str> = expected.iter().filter(|e| !names.contains(e)).map(|s| s.as_str()).collect();
        let extra: Vec<&str> = names.iter().filter(|n| !expected.contains(n)).map(|s| s.as_str()).collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(Error::format(
                &person,
                format!(
                    "an ORL person folder holds exactly 1.pgm … 10.pgm (images 1–8 train, 9–10 test; 1–5 and 6–10 in orl-faces/5-5); \
                     missing: [{}], unexpected: [{}]. Restore the archive's files, or train on the folder \
                     as your own data (`--dataset PATH`), which splits per class at random",
                    missing.join(", "),
                    extra.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings() {
        for s in ["mnist", "fashion-mnist", "digits", "ecg5000", "orl-faces", "adbench/cardio"] {
            assert_eq!(s.parse::<DatasetId>().unwrap().to_string(), s);
        }
        assert!("cifar".parse::<DatasetId>().is_err());
    }

    #[test]
    fn embedded_digits_split_is_fixed_and_disjoint() {
        let root = Path::new("/nonexistent");
        let tr = DatasetId::Digits.load_from(root, Split::Train).unwrap();
        let te = DatasetId::Digits.load_from(root, Split::Test).unwrap();
        assert_eq!(tr.len() + te.len(), 1797);
        assert_eq!(te.len(), 359);
        assert_eq!(tr.shape, vec![1, 8, 8]);
        assert_eq!(tr, DatasetId::Digits.load_from(root, Split::Train).unwrap());
    }

    #[test]
    fn missing_data_says_where_it_looked() {
        let e = DatasetId::Mnist.load_from(Path::new("/nonexistent"), Split::Train).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/mnist/train-images-idx3-ubyte") && msg.contains(DATA_ENV), "{msg}");
    }
}
