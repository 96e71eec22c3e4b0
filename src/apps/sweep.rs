//! `autoencoders sweep`: train every combination of a grid of `train` settings into one folder
//! per cell, resumably (a finished cell is kept, an interrupted one resumed), and gather one
//! results table (`results.parquet`, `results.csv`) and a plot (`results.svg`).
//!
//! The grid is `KEY=V1,V2,…` per axis, a key being a `train` flag without its dashes
//! (`code=2,8,32`, `noise=gaussian:0.1,gaussian:0.5`); an empty value is allowed (`hidden=,128`)
//! and a value holding commas is bracketed (`hidden=[128,64],[256]`). This module knows the
//! grid, the cells' folders, their state and the results; how a cell is trained (the CLI's
//! `train` with the cell's flags) is the caller's closure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use polars::prelude::*;

use crate::model_dir::{read_metrics, DirLock, CONFIG, HISTORY};
use crate::train::{History, Metrics};
use crate::viz::LinePlot;
use crate::{Error, Result};

/// One axis of a grid: a `train` flag (without `--`) and the values it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// The flag, e.g. `code`.
    pub key: String,
    /// Its values, in order.
    pub values: Vec<String>,
}

impl FromStr for Axis {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad =
            |what: &str| Error::config("grid", format!("`{s}`: {what}; expected KEY=V1,V2,… such as code=2,8,32"));
        let (key, list) = s.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let key = key.trim().trim_start_matches("--").to_string();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(bad("the key must be a train flag such as code or noise"));
        }
        if matches!(key.as_str(), "out" | "resume" | "force" | "overwrite" | "quiet") {
            return Err(bad("the sweep decides --out, --resume, --force and --quiet itself"));
        }
        let values = split_values(list).map_err(|w| bad(&w))?;
        Ok(Axis { key: key.replace('_', "-"), values })
    }
}

/// `a,b,[c,d],` → `a`, `b`, `c,d`, `` (commas inside brackets belong to the value).
fn split_values(list: &str) -> std::result::Result<Vec<String>, String> {
    let (mut values, mut current, mut depth) = (Vec::new(), String::new(), 0usize);
    for ch in list.chars() {
        match ch {
            '[' if depth == 0 => depth = 1,
            ']' if depth == 1 => depth = 0,
            ',' if depth == 0 => values.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    if depth != 0 {
        return Err("an unclosed `[`".into());
    }
    values.push(current);
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = values.iter().find(|v| !seen.insert(v.as_str())) {
        return Err(format!("the value `{dup}` is listed twice"));
    }
    Ok(values)
}

/// The settings of one cell: `(key, value)` per axis, in the grid's order.
pub type Cell = Vec<(String, String)>;

/// Every combination of the axes' values, the first axis varying slowest.
pub fn cells(axes: &[Axis]) -> Vec<Cell> {
    axes.iter().fold(vec![Vec::new()], |acc, axis| {
        acc.iter()
            .flat_map(|cell| {
                axis.values.iter().map(move |v| {
                    let mut c = cell.clone();
                    c.push((axis.key.clone(), v.clone()));
                    c
                })
            })
            .collect()
    })
}

/// The folder name of a cell: `code=8_hidden=none_noise=gaussian:0.5` (characters a file
/// name should not hold become `-`; an empty value is `none`).
pub fn cell_name(cell: &Cell) -> String {
    let clean = |s: &str| -> String {
        if s.is_empty() {
            return "none".into();
        }
        s.chars().map(|c| if c.is_ascii_alphanumeric() || ".:-+".contains(c) { c } else { '-' }).collect()
    };
    cell.iter().map(|(k, v)| format!("{}={}", clean(k), clean(v))).collect::<Vec<_>>().join("_")
}

/// How far a cell got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellState {
    /// Trained and evaluated (`metrics.json` is written last): kept as it is.
    Done,
    /// Started (`config.json` written) but not finished: resumed.
    Started,
    /// Not started (nothing, or only what a run killed before writing its config leaves).
    New,
}

/// The state of the cell in `dir`.
pub fn cell_state(dir: &Path) -> CellState {
    if dir.join(crate::model_dir::METRICS).exists() && dir.join(CONFIG).exists() {
        CellState::Done
    } else if dir.join(CONFIG).exists() {
        CellState::Started
    } else {
        CellState::New
    }
}

/// One finished cell.
#[derive(Debug, Clone)]
pub struct SweepRow {
    /// Its settings.
    pub cell: Cell,
    /// Its model directory.
    pub dir: PathBuf,
    /// Its test metrics.
    pub metrics: Metrics,
    /// Epochs trained (early stopping may end a cell before `--epochs`).
    pub epochs: usize,
    /// Seconds of training, all epochs.
    pub seconds: f64,
}

/// Trains every cell of `axes` into `out/<cell name>` with `train(cell, dir, resume)` (it
/// must leave a model directory), evaluates it, and returns the rows in grid order. Finished
/// cells are read, not trained again; started ones are resumed. `out` is locked while it runs.
pub fn sweep<E: From<Error>>(
    axes: &[Axis],
    out: &Path,
    mut train: impl FnMut(&Cell, &Path, bool) -> std::result::Result<(), E>,
) -> std::result::Result<Vec<SweepRow>, E> {
    let _lock = DirLock::acquire(out)?;
    let all = cells(axes);
    let mut rows = Vec::with_capacity(all.len());
    for (i, cell) in all.iter().enumerate() {
        let dir = out.join(cell_name(cell));
        let state = cell_state(&dir);
        let said: Vec<String> = cell.iter().map(|(k, v)| format!("--{k} {v:?}")).collect();
        eprintln!("sweep: cell {}/{} ({}): {}", i + 1, all.len(), describe(state), said.join(" "));
        if state != CellState::Done {
            train(cell, &dir, state == CellState::Started)?;
            super::evaluate(&dir)?;
        }
        let metrics = read_metrics(&dir)?.ok_or_else(|| Error::config("sweep", "a cell left no metrics.json"))?;
        let history = History::load_csv(&dir.join(HISTORY))?;
        let seconds = history.records.iter().map(|r| r.seconds).sum();
        rows.push(SweepRow { cell: cell.clone(), dir, metrics, epochs: history.records.len(), seconds });
    }
    Ok(rows)
}

fn describe(state: CellState) -> &'static str {
    match state {
        CellState::Done => "done, kept",
        CellState::Started => "resuming",
        CellState::New => "training",
    }
}

/// Every number of `metrics` by a flat name (`test_bce`, `code_hoyer`, `jacobian_sensitivity`).
pub fn flat_metrics(metrics: &Metrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let value = serde_json::to_value(metrics).expect("metrics serialise");
    flatten("", &value, &mut out);
    out
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, f64>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
                flatten(&name, v, out);
            }
        }
        serde_json::Value::Number(n) => {
            out.insert(prefix.to_string(), n.as_f64().unwrap_or(f64::NAN));
        }
        _ => {}
    }
}

/// The results as a table: one column per axis (the values as given), `epochs`, `seconds`,
/// then every metric any cell has (null where a cell lacks it).
pub fn results_frame(axes: &[Axis], rows: &[SweepRow]) -> Result<DataFrame> {
    let mut cols: Vec<Column> = axes
        .iter()
        .enumerate()
        .map(|(i, a)| Column::new(a.key.as_str().into(), rows.iter().map(|r| r.cell[i].1.clone()).collect::<Vec<_>>()))
        .collect();
    cols.push(Column::new("epochs".into(), rows.iter().map(|r| r.epochs as u64).collect::<Vec<_>>()));
    cols.push(Column::new("seconds".into(), rows.iter().map(|r| r.seconds).collect::<Vec<_>>()));
    let flat: Vec<BTreeMap<String, f64>> = rows.iter().map(|r| flat_metrics(&r.metrics)).collect();
    let mut names: Vec<&String> = flat.iter().flat_map(|m| m.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        cols.push(Column::new(name.as_str().into(), flat.iter().map(|m| m.get(name).copied()).collect::<Vec<_>>()));
    }
    DataFrame::new_infer_height(cols).map_err(|e| Error::config("sweep", e.to_string()))
}

/// Writes `out/results.parquet` and `out/results.csv`; returns their paths.
pub fn write_results(frame: &mut DataFrame, out: &Path) -> Result<Vec<PathBuf>> {
    let (pq, csv) = (out.join("results.parquet"), out.join("results.csv"));
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(frame).map_err(|e| Error::polars(&pq, e))?;
    crate::fs::write_atomic(&pq, &bytes)?;
    let mut text = Vec::new();
    CsvWriter::new(&mut text).finish(frame).map_err(|e| Error::polars(&csv, e))?;
    crate::fs::write_atomic(&csv, &text)?;
    Ok(vec![pq, csv])
}

/// `metric` against the first axis whose values are all numbers (else the first axis, by
/// position), one line per combination of the other axes.
pub fn plot(axes: &[Axis], rows: &[SweepRow], metric: &str) -> Result<LinePlot> {
    let numeric = |a: &Axis| a.values.iter().all(|v| v.parse::<f64>().is_ok());
    let x_axis = axes.iter().position(numeric).unwrap_or(0);
    let mut lines: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for row in rows {
        let y = *flat_metrics(&row.metrics).get(metric).ok_or_else(|| {
            let names: Vec<String> = flat_metrics(&row.metrics).into_keys().collect();
            Error::config(
                "metric",
                format!("no metric `{metric}` in {}; there are {}", row.dir.display(), names.join(", ")),
            )
        })?;
        let v = &row.cell[x_axis].1;
        let x =
            v.parse::<f64>().unwrap_or_else(|_| axes[x_axis].values.iter().position(|a| a == v).unwrap_or(0) as f64);
        let others: Vec<String> =
            row.cell.iter().enumerate().filter(|(i, _)| *i != x_axis).map(|(_, (k, v))| format!("{k}={v}")).collect();
        let name = if others.is_empty() { metric.to_string() } else { others.join(" ") };
        lines.entry(name).or_default().push((x, y));
    }
    let key = &axes[x_axis].key;
    let positive = rows.iter().all(|r| r.cell[x_axis].1.parse::<f64>().is_ok_and(|x| x > 0.0));
    let spread = |vals: &[String]| {
        let v: Vec<f64> = vals.iter().filter_map(|s| s.parse().ok()).collect();
        v.iter().cloned().fold(f64::NEG_INFINITY, f64::max) / v.iter().cloned().fold(f64::INFINITY, f64::min)
    };
    let mut p = LinePlot::new(format!("sweep: {metric} by {key}"), key.clone(), metric);
    if positive && numeric(&axes[x_axis]) && spread(&axes[x_axis].values) >= 8.0 {
        p = p.log_x();
    }
    Ok(lines.into_iter().fold(p, |p, (name, pts)| p.line(name, pts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_parse_brackets_and_empty_values_and_refuse_the_rest() {
        let a: Axis = "hidden=,128,[128,64]".parse().unwrap();
        assert_eq!(a.values, vec!["", "128", "128,64"]);
        assert_eq!("code=2,8".parse::<Axis>().unwrap().key, "code");
        for (bad, says) in
            [("code", "no `=`"), ("out=a,b", "decides --out"), ("code=2,2", "twice"), ("h=[1", "unclosed")]
        {
            let e = bad.parse::<Axis>().unwrap_err().to_string();
            assert!(e.contains("grid") && e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn cells_are_every_combination_first_axis_slowest() {
        let axes: Vec<Axis> = ["code=2,8", "hidden=,128"].iter().map(|s| s.parse().unwrap()).collect();
        let names: Vec<String> = cells(&axes).iter().map(cell_name).collect();
        assert_eq!(names, ["code=2_hidden=none", "code=2_hidden=128", "code=8_hidden=none", "code=8_hidden=128"]);
        assert_eq!(
            cell_name(&vec![("noise".into(), "gaussian:0.5".into()), ("hidden".into(), "128,64".into())]),
            "noise=gaussian:0.5_hidden=128-64"
        );
    }
}
