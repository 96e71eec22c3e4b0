//! Where samples come from: one grammar for `--dataset`, `--test` and every application's
//! `--input`, and the options that say how a file becomes samples.
//!
//! ```text
//! NAME[@split]                     a built-in set: mnist, mnist@test, adbench/cardio …
//! PATH                             a file (.csv .tsv .parquet .npz .npy) or a folder of images
//! hf:owner/name[:config][@split]   a dataset on the Hugging Face hub (its parquet files)
//! ```
//!
//! A built-in name wins over a folder of the same name (write `./mnist` for the folder). The
//! built-in sets and hub datasets with a `test` split bring their own test split; anything else
//! is split by [`DataConfig`](super::DataConfig) (`--test-split`, or `--test SOURCE`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::frame::{frame_to_dataset, FrameOptions};
use super::hub_parquet::{read_parquet_samples, TableSamples};
use super::image_folder::{load_images, ImageOptions, ImageSize};
use super::{npz, DatasetId, Split, Window};
use crate::hub::Hub;
use crate::{Error, Result};

/// A data source: see the module documentation for the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// A built-in dataset; with a split, only that split (`mnist@test`).
    Builtin {
        /// The dataset.
        id: DatasetId,
        /// The split to read, for an application's input; `None`: whichever is asked for.
        split: Option<Split>,
    },
    /// A file or a folder of images.
    Path(PathBuf),
    /// A dataset repository on the Hugging Face hub.
    Hub {
        /// `owner/name`.
        repo: String,
        /// The configuration (subset), the folder of its parquet files; `None`: the only one.
        config: Option<String>,
        /// The split (`train`, `test`, …); `None`: whichever is asked for.
        split: Option<String>,
    },
}

impl From<DatasetId> for DataSource {
    fn from(id: DatasetId) -> Self {
        DataSource::Builtin { id, split: None }
    }
}

impl From<&DatasetId> for DataSource {
    fn from(id: &DatasetId) -> Self {
        id.clone().into()
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Builtin { id, split: None } => write!(f, "{id}"),
            DataSource::Builtin { id, split: Some(s) } => write!(f, "{id}@{}", split_name(*s)),
            DataSource::Path(p) => write!(f, "{}", p.display()),
            DataSource::Hub { repo, config, split } => {
                write!(f, "hf:{repo}")?;
                if let Some(c) = config {
                    write!(f, ":{c}")?;
                }
                if let Some(s) = split {
                    write!(f, "@{s}")?;
                }
                Ok(())
            }
        }
    }
}

fn split_name(s: Split) -> &'static str {
    match s {
        Split::Train => "train",
        Split::Test => "test",
    }
}

impl FromStr for DataSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::config("dataset", "empty; give a built-in name, a path or hf:owner/name"));
        }
        if let Some(rest) = s.strip_prefix("hf:") {
            let (rest, split) = match rest.rsplit_once('@') {
                Some((r, sp)) if !sp.is_empty() => (r, Some(sp.to_string())),
                _ => (rest, None),
            };
            let (repo, config) = match rest.split_once(':') {
                Some((r, c)) if !c.is_empty() => (r, Some(c.to_string())),
                _ => (rest, None),
            };
            let ok = repo.split('/').count() == 2 && repo.split('/').all(|p| !p.is_empty() && p != "..");
            if !ok {
                return Err(Error::config(
                    "dataset",
                    format!("`{s}`: a hub dataset is hf:owner/name[:config][@split]"),
                ));
            }
            return Ok(DataSource::Hub { repo: repo.into(), config, split });
        }
        let (name, split) = match s.rsplit_once('@') {
            Some((n, sp)) if n.parse::<DatasetId>().is_ok() => (n, Some(sp)),
            _ => (s, None),
        };
        match name.parse::<DatasetId>() {
            Ok(id) => {
                let split = match split {
                    None => None,
                    Some("train") => Some(Split::Train),
                    Some("test") => Some(Split::Test),
                    Some(other) => {
                        return Err(Error::config("dataset", format!("`{s}`: split `{other}` is not train or test")))
                    }
                };
                Ok(DataSource::Builtin { id, split })
            }
            _ => Ok(DataSource::Path(PathBuf::from(s))),
        }
    }
}

impl Serialize for DataSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DataSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// How a file or hub dataset becomes samples. Stored in `config.json` (with the columns and
/// channels filled in from the training data), so evaluating or encoding another file applies
/// exactly the training transform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceOptions {
    /// Feature columns of a table, by name (`--columns`); filled in at training time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// The class column of a table (`--label-column`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    /// A CSV/TSV file without a header line (`--no-header`): columns are `column_1` ….
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_header: bool,
    /// Resize every image to this size (`--image-size WxH`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<ImageSize>,
    /// 1 (grey) or 3 (RGB) channels (`--channels`); filled in at training time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// Skip rows with missing or non-finite values, and unreadable images, counting them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub drop_invalid: bool,
    /// Cut a series (one row per time point) into windows (`--window`, `--stride`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Stream the table from disk instead of loading it (`--stream`; parquet, larger than
    /// memory): see [`stream`](super::stream).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
}

impl SourceOptions {
    /// True when nothing is set (a built-in dataset's options).
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    fn frame(&self, label_optional: bool) -> FrameOptions<'_> {
        FrameOptions {
            columns: self.columns.as_deref(),
            label_column: self.label_column.as_deref(),
            label_optional,
            drop_invalid: self.drop_invalid,
            first_line: None,
        }
    }

    fn image(&self) -> ImageOptions {
        ImageOptions { size: self.image_size, channels: self.channels, drop_invalid: self.drop_invalid }
    }

    /// These options with what loading `t` decided (columns, channels) filled in.
    pub fn resolved(&self, t: &TableSamples) -> Self {
        let mut o = self.clone();
        if let Some(c) = &t.columns {
            o.columns = Some(c.clone());
        }
        if let Some(i) = &t.image {
            o.channels = i.channels;
        }
        o
    }
}

/// What a file holds, from its extension (or a folder of images).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Csv(u8),
    Parquet,
    Npz,
    Images,
}

fn file_kind(path: &Path) -> Result<FileKind> {
    if path.is_dir() {
        let parquet = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "parquet"));
        return Ok(if parquet { FileKind::Parquet } else { FileKind::Images });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    Ok(match ext.as_str() {
        "csv" => FileKind::Csv(b','),
        "tsv" | "tab" => FileKind::Csv(b'\t'),
        "parquet" | "pq" => FileKind::Parquet,
        "npz" | "npy" => FileKind::Npz,
        _ => {
            return Err(Error::format(
                path,
                "unknown kind of file; give a .csv, .tsv, .parquet, .npz or .npy file, or a folder of images",
            ))
        }
    })
}

impl DataSource {
    /// True when the source brings its own test split (a built-in set without `@split`, a hub
    /// dataset with a `test` split); otherwise one is held out of it.
    pub fn has_test_split(&self, hub: &Hub) -> Result<bool> {
        Ok(match self {
            DataSource::Builtin { split, .. } => split.is_none(),
            DataSource::Path(_) => false,
            DataSource::Hub { split: Some(_), .. } => false,
            DataSource::Hub { repo, config, split: None } => {
                !hub_files(hub, repo, config.as_deref(), "test")?.is_empty()
            }
        })
    }

    /// Loads the source: for a source with its own splits, `split` of it; otherwise all of it.
    /// Values are raw (pixels 0–255, the table's units).
    pub fn load(&self, split: Split, opts: &SourceOptions) -> Result<TableSamples> {
        self.load_with(split, opts, false)
    }

    /// [`DataSource::load`] for new data (`--input`, `--test`): a table without the label
    /// column is read without labels.
    pub fn load_input(&self, split: Split, opts: &SourceOptions) -> Result<TableSamples> {
        self.load_with(split, opts, true)
    }

    fn load_with(&self, split: Split, opts: &SourceOptions, label_optional: bool) -> Result<TableSamples> {
        let hub = Hub::from_env();
        match self {
            DataSource::Builtin { id, split: s } => {
                if !(SourceOptions { window: None, ..opts.clone() }).is_empty() {
                    return Err(Error::config(
                        "dataset",
                        format!("`{id}` is a built-in dataset; --columns, --image-size and the like apply to files"),
                    ));
                }
                Ok(TableSamples { data: id.load(s.unwrap_or(split))?, columns: None, image: None })
            }
            DataSource::Path(p) => load_path(p, opts, label_optional, &self.to_string()),
            DataSource::Hub { repo, config, split: s } => {
                let want = s.clone().unwrap_or_else(|| split_name(split).into());
                let files = hub_files(&hub, repo, config.as_deref(), &want)?;
                if files.is_empty() {
                    return Err(Error::Hub {
                        repo: repo.clone(),
                        file: format!("{}{want}*.parquet", config.as_ref().map_or(String::new(), |c| format!("{c}/"))),
                        what: format!("no parquet files of split `{want}`; {}", hub_layout_help(&hub, repo)?),
                    });
                }
                let kind = hf_hub::RepoType::Dataset;
                let paths: Vec<PathBuf> =
                    files.iter().map(|f| hub.fetch(repo, kind, "main", f)).collect::<Result<_>>()?;
                let name = format!("hf:{repo}@{want}");
                read_parquet_samples(&paths, &opts.frame(label_optional), &opts.image(), Some("label"), &name).map_err(
                    |e| {
                        // Only an unreadable file is evicted (so the next call fetches it again);
                        // a readable one with the wrong columns would just come back the same.
                        let unreadable = e.to_string().contains("not a readable parquet file");
                        if unreadable {
                            files.iter().for_each(|f| hub.evict(repo, kind, "main", f));
                        }
                        let again = if unreadable { ". The downloaded copy was removed from the cache" } else { "" };
                        Error::Hub { repo: repo.clone(), file: files.join(", "), what: format!("{e}{again}") }
                    },
                )
            }
        }
    }
}

/// A local file or folder as samples.
fn load_path(path: &Path, opts: &SourceOptions, label_optional: bool, name: &str) -> Result<TableSamples> {
    if !path.exists() {
        return Err(Error::MissingData {
            name: name.into(),
            looked_for: path.display().to_string(),
            fix: "Give a built-in dataset (mnist, fashion-mnist, digits, ecg5000, orl-faces, orl-faces/5-5, adbench/<set>), an \
                  existing file (.csv .tsv .parquet .npz .npy) or folder of images, or hf:owner/name."
                .into(),
        });
    }
    let kind = file_kind(path)?;
    let table_only = |what: &str| {
        if opts.image_size.is_some() || opts.channels.is_some() {
            return Err(Error::config(
                "image_size",
                format!("{} is {what}, not images; drop --image-size/--channels", path.display()),
            ));
        }
        Ok(())
    };
    match kind {
        FileKind::Csv(sep) => {
            table_only("a table")?;
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let df = super::guarded(path, || {
                CsvReadOptions::default()
                    .with_has_header(!opts.no_header)
                    .with_infer_schema_length(None)
                    .map_parse_options(|o| o.with_separator(sep).with_truncate_ragged_lines(false))
                    .into_reader_with_file_handle(std::io::Cursor::new(&bytes))
                    .finish()
                    .map_err(|e| csv_error(path, &bytes, sep, e))
            })?;
            let frame =
                FrameOptions { first_line: Some(if opts.no_header { 1 } else { 2 }), ..opts.frame(label_optional) };
            let t = frame_to_dataset(&df, &frame, name, path)?;
            if t.dropped > 0 {
                eprintln!(
                    "{}: skipped {} row(s) with missing or non-finite values (--drop-invalid)",
                    path.display(),
                    t.dropped
                );
            }
            Ok(TableSamples { data: t.data, columns: Some(t.columns), image: None })
        }
        FileKind::Parquet => {
            let files = if path.is_dir() { parquet_files(path)? } else { vec![path.to_path_buf()] };
            read_parquet_samples(&files, &opts.frame(label_optional), &opts.image(), None, name)
        }
        FileKind::Npz => {
            table_only("an array file")?;
            if opts.columns.is_some() || opts.label_column.is_some() {
                return Err(Error::config(
                    "columns",
                    format!("{} holds arrays X and y, not named columns", path.display()),
                ));
            }
            Ok(TableSamples { data: npz::load_arrays(path, name)?, columns: None, image: None })
        }
        FileKind::Images => {
            if opts.columns.is_some() || opts.label_column.is_some() {
                return Err(Error::config(
                    "columns",
                    format!(
                        "{} is a folder of images: classes are its sub-folders, there are no columns",
                        path.display()
                    ),
                ));
            }
            let (data, image) = load_images(path, name, &opts.image(), |_, _| true)?;
            Ok(TableSamples { data, columns: None, image: Some(image) })
        }
    }
}

/// A CSV error in a user's terms: an empty file, or the first line whose number of fields
/// differs from the first line's (polars names neither).
fn csv_error(path: &Path, bytes: &[u8], sep: u8, e: PolarsError) -> Error {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Error::format(path, "the file is empty");
    }
    let fields = |line: &[u8]| {
        let mut quoted = false;
        1 + line
            .iter()
            .filter(|&&b| {
                quoted ^= b == b'"';
                b == sep && !quoted
            })
            .count()
    };
    let mut lines = bytes.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let expected = lines.next().map(fields).unwrap_or(0);
    for (i, line) in lines.enumerate() {
        let n = fields(line);
        if n > expected && !line.is_empty() {
            return Error::format(
                path,
                format!("line {} has {n} fields but line 1 has {expected}; fix or remove that row", i + 2),
            );
        }
    }
    Error::format(path, format!("not a readable table: {e}"))
}

/// The parquet files of a folder, in name order.
pub(crate) fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    v.sort();
    Ok(v)
}

/// The parquet files of `split` in a hub dataset, in the layouts the hub uses:
/// `{config}/{split}-*.parquet` (e.g. `mnist/train-00000-of-00001.parquet`),
/// `{config}/{split}/*.parquet` (the `refs/convert/parquet` layout) and, without a config,
/// `data/{split}-*.parquet` (what `push_to_hub` writes). Without a config, the only folder
/// holding that split is used.
fn hub_files(hub: &Hub, repo: &str, config: Option<&str>, split: &str) -> Result<Vec<String>> {
    let all = hub.list_files(repo, hf_hub::RepoType::Dataset, "main")?;
    let matches = |f: &str, dir: &str| {
        let Some(rest) = f.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) else { return false };
        rest.ends_with(".parquet")
            && (rest.starts_with(&format!("{split}-"))
                || rest.starts_with(&format!("{split}/")) && rest.matches('/').count() == 1)
    };
    let dirs: Vec<String> = match config {
        Some(c) => vec![c.to_string()],
        None => {
            let mut d: Vec<String> = all
                .iter()
                .filter(|f| f.ends_with(".parquet"))
                .filter_map(|f| f.split_once('/').map(|(d, _)| d.to_string()))
                .collect();
            d.sort();
            d.dedup();
            d.retain(|dir| all.iter().any(|f| matches(f, dir)));
            if d.len() > 1 {
                return Err(Error::Hub {
                    repo: repo.into(),
                    file: "(file list)".into(),
                    what: format!("has several configurations ({}); pick one: hf:{repo}:CONFIG", d.join(", ")),
                });
            }
            d
        }
    };
    let mut files: Vec<String> = all.into_iter().filter(|f| dirs.iter().any(|d| matches(f, d))).collect();
    files.sort();
    Ok(files)
}

fn hub_layout_help(hub: &Hub, repo: &str) -> Result<String> {
    let all = hub.list_files(repo, hf_hub::RepoType::Dataset, "main")?;
    let parquet: Vec<&String> = all.iter().filter(|f| f.ends_with(".parquet")).take(8).collect();
    Ok(if parquet.is_empty() {
        "the repository has no parquet files (only parquet datasets are read; try its `refs/convert/parquet` copy)"
            .into()
    } else {
        format!(
            "its parquet files are {} (pick the split with @split and the configuration with :config)",
            parquet.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_round_trips() {
        for s in
            ["mnist", "mnist@test", "adbench/cardio", "hf:owner/name", "hf:owner/name:cfg@validation", "data/x.csv"]
        {
            assert_eq!(s.parse::<DataSource>().unwrap().to_string(), s);
        }
        assert_eq!(
            "fashion-mnist@train".parse::<DataSource>().unwrap(),
            DataSource::Builtin { id: DatasetId::FashionMnist, split: Some(Split::Train) }
        );
        assert!(matches!("cifar".parse::<DataSource>().unwrap(), DataSource::Path(_)));
        assert!("mnist@valid".parse::<DataSource>().is_err());
        assert!("hf:justname".parse::<DataSource>().is_err());
    }

    #[test]
    fn a_missing_path_lists_what_a_source_can_be() {
        let e = "cifar".parse::<DataSource>().unwrap().load(Split::Train, &SourceOptions::default()).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("`cifar` not found") && e.contains("mnist") && e.contains("hf:owner/name"), "{e}");
    }
}
