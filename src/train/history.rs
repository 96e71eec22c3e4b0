//! The per-epoch training record, as a polars table.

use std::io::Cursor;
use std::path::Path;

use polars::prelude::*;

use crate::fs::write_atomic;
use crate::{Error, Result};

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss (total) over the epoch's batches, weighted by batch size.
    pub train_loss: f64,
    /// Its reconstruction part.
    pub train_recon: f64,
    /// Its regulariser part (0 for a plain autoencoder).
    pub train_reg: f64,
    /// Loss on the validation split after the epoch (NaN when there is none).
    pub val_loss: f64,
    /// Wall-clock seconds of the epoch, validation included.
    pub seconds: f64,
}

/// Every epoch so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// One record per epoch, in order.
    pub records: Vec<EpochRecord>,
}

impl History {
    /// The history as a table with columns epoch, train_loss, train_recon, train_reg,
    /// val_loss, seconds.
    pub fn to_dataframe(&self) -> DataFrame {
        let r = &self.records;
        let col = |name: &str, f: &dyn Fn(&EpochRecord) -> f64| {
            Column::new(name.into(), r.iter().map(f).collect::<Vec<f64>>())
        };
        DataFrame::new_infer_height(vec![
            Column::new("epoch".into(), r.iter().map(|e| e.epoch as u32).collect::<Vec<u32>>()),
            col("train_loss", &|e| e.train_loss),
            col("train_recon", &|e| e.train_recon),
            col("train_reg", &|e| e.train_reg),
            col("val_loss", &|e| e.val_loss),
            col("seconds", &|e| e.seconds),
        ])
        .expect("columns have equal length")
    }

    /// Writes the table as CSV, atomically.
    pub fn save_csv(&self, path: &Path) -> Result<()> {
        let mut buf = Vec::new();
        CsvWriter::new(&mut buf).finish(&mut self.to_dataframe()).map_err(|e| Error::polars(path, e))?;
        write_atomic(path, &buf)
    }

    /// Reads a table written by [`History::save_csv`].
    pub fn load_csv(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let df = CsvReadOptions::default()
            .with_has_header(true)
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
            .map_err(|e| Error::polars(path, e))?;
        let get = |name: &str| -> Result<Vec<f64>> {
            let c = df.column(name).map_err(|e| Error::polars(path, e))?;
            let c = c.cast(&DataType::Float64).map_err(|e| Error::polars(path, e))?;
            let ca = c.f64().map_err(|e| Error::polars(path, e))?;
            Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        };
        let (ep, tl, tr, rg, vl, s) = (
            get("epoch")?,
            get("train_loss")?,
            get("train_recon")?,
            get("train_reg")?,
            get("val_loss")?,
            get("seconds")?,
        );
        let records = (0..ep.len())
            .map(|i| EpochRecord {
                epoch: ep[i] as usize,
                train_loss: tl[i],
                train_recon: tr[i],
                train_reg: rg[i],
                val_loss: vl[i],
                seconds: s[i],
            })
            .collect();
        Ok(Self { records })
    }

    /// The lowest validation loss (or training loss when there is no validation split).
    pub fn best(&self) -> Option<&EpochRecord> {
        self.records.iter().min_by(|a, b| score(a).total_cmp(&score(b)))
    }
}

/// What early stopping and "best" compare: validation loss, else training loss.
pub fn score(r: &EpochRecord) -> f64 {
    if r.val_loss.is_finite() {
        r.val_loss
    } else {
        r.train_loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip() {
        let h = History {
            records: (1..=3)
                .map(|e| EpochRecord {
                    epoch: e,
                    train_loss: 1.0 / e as f64,
                    train_recon: 0.5,
                    train_reg: 0.0,
                    val_loss: 2.0,
                    seconds: 0.25,
                })
                .collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.csv");
        h.save_csv(&p).unwrap();
        assert_eq!(History::load_csv(&p).unwrap(), h);
        assert_eq!(h.to_dataframe().shape(), (3, 6));
    }
}
