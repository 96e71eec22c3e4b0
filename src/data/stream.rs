//! Tables larger than memory: parquet files read a slice at a time, never whole.
//!
//! Each row belongs to the train, validation or test part by a hash of its index in the table
//! (seeded, not stratified: that would need the labels of every row first), so the parts are
//! fixed without holding anything in memory. An epoch reads the table in chunks (row groups, or
//! slices of [`CHUNK_ROWS`] rows when row groups are larger) in an order shuffled per epoch,
//! fills a buffer of [`BUFFER_ROWS`] rows from consecutive chunks, shuffles the buffer and cuts
//! it into batches — a shuffle bounded by memory, across row groups. A thread reads and
//! converts the next buffer while the model trains on the current one.
//!
//! Normalisation statistics take one pass (Welford's mean and variance, or min/max per
//! feature). Memory: two buffers of `BUFFER_ROWS × features` floats plus one chunk as polars
//! reads it, whatever the file's size.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use polars::io::parquet::read::FileMetadata;
use polars::prelude::*;
use rand::{rngs::StdRng, seq::SliceRandom};

use super::{BatchSource, Dataset, NormalizeKind, Normalizer};
use crate::{Error, Result};

/// The most rows read at once (a row group larger than this is read in slices).
pub const CHUNK_ROWS: usize = 1 << 20;
/// Rows shuffled together: the bound on the shuffle, and on memory (×2, ×features×4 bytes).
pub const BUFFER_ROWS: usize = 262_144;
/// Validation rows held in memory at most (the first ones of the validation part).
pub const MAX_VAL_ROWS: usize = 50_000;

/// Which part of a streamed table a row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Training rows.
    Train,
    /// Validation rows (early stopping).
    Val,
    /// Test rows (`eval`).
    Test,
    /// Every row (`encode --input`).
    All,
}

/// The fractions of the parts and the seed of the hash that assigns rows to them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartSplit {
    /// Fraction of all rows in the test part.
    pub test: f64,
    /// Fraction of the remaining rows in the validation part.
    pub val: f64,
    /// Seed of the hash.
    pub seed: u64,
}

impl PartSplit {
    /// The part of row `i`.
    pub fn part(&self, i: u64) -> Part {
        let u = (splitmix(i ^ self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.test {
            Part::Test
        } else if u < self.test + (1.0 - self.test) * self.val {
            Part::Val
        } else {
            Part::Train
        }
    }

    fn keeps(&self, part: Part, i: u64) -> bool {
        part == Part::All || self.part(i) == part
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One file's chunks: `(first row in the file, rows)`, and where its rows start in the table.
#[derive(Debug, Clone)]
struct FilePart {
    path: PathBuf,
    metadata: Arc<FileMetadata>,
    chunks: Vec<(usize, usize)>,
    first_row: u64,
}

/// A parquet file, or a folder of them with one schema, read in chunks. See the module docs.
#[derive(Debug, Clone)]
pub struct ParquetStream {
    files: Arc<Vec<FilePart>>,
    columns: Arc<Vec<String>>,
    rows: u64,
    split: PartSplit,
    part: Part,
    part_rows: usize,
    normalizer: Option<Arc<Normalizer>>,
}

impl ParquetStream {
    /// Opens `path` (a parquet file or a folder of them) reading the feature columns
    /// `columns` (`None`: every column, each must be numeric); the view is of `part`.
    pub fn open(path: &Path, columns: Option<&[String]>, split: PartSplit, part: Part) -> Result<Self> {
        let paths = if path.is_dir() { super::source::parquet_files(path)? } else { vec![path.to_path_buf()] };
        if paths.is_empty() {
            return Err(Error::format(path, "no .parquet files in the folder"));
        }
        let mut files = Vec::new();
        let mut first_row = 0u64;
        let mut names: Option<Vec<String>> = columns.map(<[String]>::to_vec);
        for p in &paths {
            super::parquet_check::check_parquet(p)?;
            let file = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
            let mut reader = ParquetReader::new(file);
            let bad = |e: PolarsError| Error::format(p, format!("not a readable parquet file ({e})"));
            let (schema, metadata) = super::guarded(p, || {
                let schema = reader.schema().map_err(bad)?;
                Ok((schema, reader.get_metadata().map_err(bad)?.clone()))
            })?;
            let have: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
            let want = names.get_or_insert_with(|| have.clone());
            if let Some(missing) = want.iter().find(|c| !have.contains(c)) {
                return Err(Error::format(p, format!("no column `{missing}`; the file has {}", have.join(", "))));
            }
            let mut chunks = Vec::new();
            let mut start = 0usize;
            for rg in &metadata.row_groups {
                let n = rg.num_rows();
                let mut off = 0;
                while off < n {
                    let len = CHUNK_ROWS.min(n - off);
                    chunks.push((start + off, len));
                    off += len;
                }
                start += n;
            }
            files.push(FilePart { path: p.clone(), metadata, chunks, first_row });
            first_row += start as u64;
        }
        let columns = names.unwrap_or_default();
        let part_rows = (0..first_row).filter(|&i| split.keeps(part, i)).count();
        let s = Self {
            files: Arc::new(files),
            columns: Arc::new(columns),
            rows: first_row,
            split,
            part,
            part_rows,
            normalizer: None,
        };
        Ok(s)
    }

    /// The same table viewed as another part.
    pub fn with_part(&self, part: Part) -> Self {
        let part_rows = (0..self.rows).filter(|&i| self.split.keeps(part, i)).count();
        Self { part, part_rows, ..self.clone() }
    }

    /// The same stream, its samples mapped by `normalizer`.
    pub fn normalized(self, normalizer: Normalizer) -> Self {
        Self { normalizer: Some(Arc::new(normalizer)), ..self }
    }

    /// The feature columns, in sample order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows in the whole table.
    pub fn table_rows(&self) -> u64 {
        self.rows
    }

    /// Fits `kind` on this part in one pass (Welford's algorithm for standardisation).
    pub fn fit_normalizer(&self, kind: NormalizeKind) -> Result<Normalizer> {
        let d = self.columns.len();
        match kind {
            NormalizeKind::None => Ok(Normalizer::Identity),
            NormalizeKind::Auto | NormalizeKind::Standard => {
                let (mut n, mut mean, mut m2) = (0f64, vec![0f64; d], vec![0f64; d]);
                for chunk in self.chunks_in_order() {
                    for row in chunk?.samples.chunks(d) {
                        n += 1.0;
                        for ((m, s), &v) in mean.iter_mut().zip(m2.iter_mut()).zip(row) {
                            let delta = v as f64 - *m;
                            *m += delta / n;
                            *s += delta * (v as f64 - *m);
                        }
                    }
                }
                if n < 2.0 {
                    return Err(Error::config("normalize", "standardisation needs at least 2 training rows"));
                }
                // As `Normalizer::fit_standardize`: a constant feature gets std 1 (it maps to 0).
                let std = m2.iter().map(|s| (s / (n - 1.0)).sqrt() as f32).map(|s| if s > 1e-8 { s } else { 1.0 });
                Ok(Normalizer::Standardize { mean: mean.iter().map(|&m| m as f32).collect(), std: std.collect() })
            }
            NormalizeKind::Minmax => {
                let (mut lo, mut hi) = (vec![f32::INFINITY; d], vec![f32::NEG_INFINITY; d]);
                for chunk in self.chunks_in_order() {
                    for row in chunk?.samples.chunks(d) {
                        for ((a, b), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                            *a = a.min(v);
                            *b = b.max(v);
                        }
                    }
                }
                for (a, b) in lo.iter().zip(hi.iter_mut()) {
                    if *b <= *a {
                        *b = a + 1.0;
                    }
                }
                Ok(Normalizer::MinMaxFeatures { min: lo, max: hi })
            }
        }
    }

    /// This part's rows in table order, a chunk at a time, normalised (if set).
    pub fn chunks_in_order(&self) -> impl Iterator<Item = Result<Dataset>> + '_ {
        let all: Vec<(usize, usize)> =
            self.files.iter().enumerate().flat_map(|(f, fp)| (0..fp.chunks.len()).map(move |c| (f, c))).collect();
        all.into_iter().map(move |(f, c)| {
            read_chunk(&self.files[f], c, &self.columns, self.split, self.part, self.normalizer.as_deref())
        })
    }

    /// The first `max` rows of this part in table order, in memory (validation).
    pub fn head(&self, max: usize) -> Result<Dataset> {
        let d = self.columns.len();
        let mut samples = Vec::new();
        for chunk in self.chunks_in_order() {
            let chunk = chunk?;
            let take = (max - samples.len() / d).min(chunk.len());
            samples.extend_from_slice(&chunk.samples[..take * d]);
            if samples.len() / d >= max {
                break;
            }
        }
        Dataset::new(format!("{}[head]", self.name()), samples, vec![d], None, Vec::new())
    }

    fn name(&self) -> String {
        self.files.first().map_or(String::new(), |f| f.path.display().to_string())
    }
}

/// Reads chunk `c` of `file`: its rows of `part`, as samples of `columns`, normalised.
fn read_chunk(
    file: &FilePart,
    c: usize,
    columns: &[String],
    split: PartSplit,
    part: Part,
    normalizer: Option<&Normalizer>,
) -> Result<Dataset> {
    let (start, len) = file.chunks[c];
    let f = std::fs::File::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
    // Columns in parallel: polars' `Auto` parallelises over row groups when the file has more
    // of them than threads, but a slice holds one, so it would decode on one thread.
    let mut reader = ParquetReader::new(f)
        .with_columns(Some(columns.to_vec()))
        .with_slice(Some((start, len)))
        .read_parallel(ParallelStrategy::Columns);
    reader.set_metadata(file.metadata.clone());
    let df = super::guarded(&file.path, || {
        reader.finish().map_err(|e| Error::format(&file.path, format!("rows {start}…{}: {e}", start + len)))
    })?;
    let d = columns.len();
    let keep: Vec<bool> = (0..len).map(|r| split.keeps(part, file.first_row + (start + r) as u64)).collect();
    let kept: Vec<usize> = (0..len).filter(|&r| keep[r]).collect();
    // Each column as one contiguous f32 slice (a copy only when polars holds nulls or several
    // chunks), checked finite in one pass; then the samples row by row, a sequential write.
    let mut cols: Vec<Float32Chunked> = Vec::with_capacity(d);
    for name in columns {
        let col = df.column(name).map_err(|e| Error::format(&file.path, e.to_string()))?;
        if !col.dtype().is_primitive_numeric() {
            return Err(Error::format(
                &file.path,
                format!("column `{name}` is {}, not numbers; leave it out with --columns", col.dtype()),
            ));
        }
        let s = col
            .as_materialized_series()
            .cast(&DataType::Float32)
            .map_err(|e| Error::format(&file.path, e.to_string()))?;
        let ca = s.f32().map_err(|e| Error::format(&file.path, e.to_string()))?.rechunk().into_owned();
        let bad = |r: usize, what: String| {
            Error::format(
                &file.path,
                format!("row {}, column `{name}` is {what}; clean or impute the data first", start + r),
            )
        };
        if let Some(r) = ca.iter().position(|v| v.is_none_or(|v| !v.is_finite())) {
            return Err(bad(r, ca.get(r).map_or("empty".into(), |v| v.to_string())));
        }
        cols.push(ca);
    }
    let slices: Vec<&[f32]> = cols.iter().map(|c| c.cont_slice().expect("one chunk without nulls")).collect();
    let mut samples = Vec::with_capacity(kept.len() * d);
    for &r in &kept {
        samples.extend(slices.iter().map(|c| c[r]));
    }
    let mut data = Dataset::new(file.path.display().to_string(), samples, vec![d], None, Vec::new())
        .map_err(|e| Error::format(&file.path, e.to_string()))?;
    if let Some(n) = normalizer {
        n.apply(&mut data)?;
    }
    Ok(data)
}

impl BatchSource for ParquetStream {
    fn len(&self) -> usize {
        self.part_rows
    }
    fn sample_len(&self) -> usize {
        self.columns.len()
    }
    fn epoch_batches(
        &self,
        epoch: usize,
        batch_size: usize,
        seed: u64,
    ) -> Box<dyn Iterator<Item = Result<Vec<f32>>> + '_> {
        let rx = self.spawn_reader(epoch, batch_size.max(1), seed);
        Box::new(rx.into_iter())
    }
}

impl ParquetStream {
    /// A thread that reads the epoch's chunks in shuffled order, fills and shuffles buffers
    /// and sends their batches (at most two buffers ahead).
    fn spawn_reader(&self, epoch: usize, batch: usize, seed: u64) -> Receiver<Result<Vec<f32>>> {
        let (tx, rx) = sync_channel::<Result<Vec<f32>>>((2 * BUFFER_ROWS).div_ceil(batch));
        let s = self.clone();
        std::thread::spawn(move || {
            let mut rng = super::batch_source::epoch_rng(seed, epoch);
            let mut order: Vec<(usize, usize)> =
                s.files.iter().enumerate().flat_map(|(f, fp)| (0..fp.chunks.len()).map(move |c| (f, c))).collect();
            order.shuffle(&mut rng);
            let d = s.columns.len();
            let mut buffer: Vec<f32> = Vec::with_capacity(BUFFER_ROWS * d);
            let flush = |buffer: &mut Vec<f32>, rng: &mut StdRng, last: bool| -> Option<()> {
                let n = buffer.len() / d;
                let mut idx: Vec<usize> = (0..n).collect();
                idx.shuffle(rng);
                // Full batches go out; a remainder waits for the next buffer (or goes last).
                let full = if last { n } else { n / batch * batch };
                for b in idx[..full].chunks(batch) {
                    let mut out = Vec::with_capacity(b.len() * d);
                    b.iter().for_each(|&i| out.extend_from_slice(&buffer[i * d..(i + 1) * d]));
                    tx.send(Ok(out)).ok()?;
                }
                let rest: Vec<f32> = idx[full..].iter().flat_map(|&i| buffer[i * d..(i + 1) * d].to_vec()).collect();
                *buffer = rest;
                Some(())
            };
            for (f, c) in order {
                match read_chunk(&s.files[f], c, &s.columns, s.split, s.part, s.normalizer.as_deref()) {
                    Ok(chunk) => buffer.extend_from_slice(&chunk.samples),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
                if buffer.len() / d >= BUFFER_ROWS && flush(&mut buffer, &mut rng, false).is_none() {
                    return;
                }
            }
            let _ = flush(&mut buffer, &mut rng, true);
        });
        rx
    }
}
