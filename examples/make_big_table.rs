//! Writes a synthetic table for the larger-than-memory benchmark: `ROWS` rows × 32 float
//! columns `f0 … f31`, in row groups of 262,144 rows, written batch by batch (memory stays
//! small). Each row is a random point on an 8-dimensional linear subspace plus noise, so an
//! autoencoder with a code of 8 has something to learn. Not committed (20 million rows are
//! about 2.5 GB).
//!
//! ```sh
//! cargo run --release --example make_big_table -- /tmp/big.parquet 20000000
//! ```

use anyhow::{Context, Result};
use polars::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

const COLUMNS: usize = 32;
const LATENT: usize = 8;
const GROUP: usize = 262_144;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().context("usage: make_big_table OUT.parquet ROWS")?;
    let rows: usize = args.next().context("usage: make_big_table OUT.parquet ROWS")?.parse()?;
    let mut rng = StdRng::seed_from_u64(7);
    let basis: Vec<f32> = (0..COLUMNS * LATENT).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
    let schema: Schema = (0..COLUMNS).map(|j| Field::new(format!("f{j}").into(), DataType::Float32)).collect();
    let file = std::fs::File::create(&out).with_context(|| format!("creating {out}"))?;
    let mut writer = ParquetWriter::new(file).with_row_group_size(Some(GROUP)).batched(&schema)?;
    let mut written = 0;
    while written < rows {
        let n = GROUP.min(rows - written);
        let mut cols = vec![Vec::with_capacity(n); COLUMNS];
        for _ in 0..n {
            let z: Vec<f32> = (0..LATENT).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
            for (j, col) in cols.iter_mut().enumerate() {
                let clean: f32 = (0..LATENT).map(|k| basis[j * LATENT + k] * z[k]).sum();
                col.push(clean + 0.1 * rng.sample::<f32, _>(StandardNormal));
            }
        }
        let columns: Vec<Column> =
            cols.into_iter().enumerate().map(|(j, v)| Column::new(format!("f{j}").into(), v)).collect();
        writer.write_batch(&DataFrame::new(n, columns)?)?;
        written += n;
    }
    writer.finish()?;
    eprintln!("wrote {out}: {rows} rows × {COLUMNS} columns");
    Ok(())
}
