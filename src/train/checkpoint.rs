//! Weight files, and the files the trainer writes into a model directory (the directory's
//! whole format is [`crate::model_dir`]).
//!
//! `model.safetensors` holds the best weights. `resume.safetensors` holds the last epoch's weights,
//! the optimiser's moments and the trainer's counters in one file, so `--resume` continues
//! exactly where training stopped. Every file is written to a temporary name and renamed, so a
//! crash leaves either the old file or the new one, never a torn one ([`crate::fs::write_atomic`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ::safetensors::tensor::{Dtype as SDtype, SafeTensors, TensorView};

use crate::nn::Params;
use crate::{Error, Result};

/// The weights file in a model directory.
pub const WEIGHTS: &str = "model.safetensors";
/// The training history in a model directory.
pub const HISTORY: &str = "history.csv";
/// The resumable training state in a model directory.
pub const RESUME: &str = "resume.safetensors";

/// A named tensor's shape and values, in model order.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Its name in the file (`encoder.0.weight`).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

/// Every tensor of `model`, named as in its checkpoint.
pub fn named_tensors<M: Params + ?Sized>(model: &M) -> Vec<NamedTensor> {
    let mut out = Vec::new();
    model.visit("", &mut |name, t| out.push(NamedTensor { name, shape: t.dims(), values: t.values() }));
    out
}

/// Serialises named tensors (plus string metadata) in the safetensors format.
pub fn to_safetensors(tensors: &[NamedTensor], metadata: BTreeMap<String, String>) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| TensorView::new(SDtype::F32, t.shape.clone(), b).map(|v| (t.name.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Tensor(format!("{e:?}")))?;
    let meta = (!metadata.is_empty()).then(|| metadata.into_iter().collect::<HashMap<_, _>>());
    ::safetensors::tensor::serialize(views, &meta).map_err(|e| Error::Tensor(format!("{e:?}")))
}

/// Parses a safetensors file into named f32 tensors and its metadata. Any malformation —
/// truncation, a bad header, a non-f32 tensor — is an error naming `path`.
pub fn read_safetensors(path: &Path) -> Result<(Vec<NamedTensor>, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::format(path, format!("not a valid safetensors file ({e:?}); it may be truncated or corrupt"))
    })?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() != SDtype::F32 {
            return Err(Error::format(path, format!("tensor `{name}` is {:?}; this library stores f32", view.dtype())));
        }
        let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        out.push(NamedTensor { name, shape: view.shape().to_vec(), values });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| Error::format(path, format!("{e:?}")))?;
    let meta = meta.metadata().clone().unwrap_or_default().into_iter().collect();
    Ok((out, meta))
}

/// Saves a model's weights to `path` atomically.
pub fn save_weights<M: Params + ?Sized>(model: &M, path: &Path) -> Result<()> {
    crate::fs::write_atomic(path, &to_safetensors(&named_tensors(model), BTreeMap::new())?)
}

/// Loads `path` into `model`, after checking that the file has exactly the model's tensors
/// with exactly its shapes. On any mismatch nothing is changed and the error lists every
/// missing, unexpected and mis-shaped tensor.
pub fn load_weights<M: Params + ?Sized>(model: &mut M, path: &Path) -> Result<()> {
    let (tensors, _) = read_safetensors(path)?;
    assign_checked(model, tensors, "", path)
}

/// Assigns the tensors whose names start with `prefix` (prefix removed) to `model`, checked
/// as in [`load_weights`]; tensors with other prefixes are ignored.
pub fn assign_checked<M: Params + ?Sized>(
    model: &mut M,
    tensors: Vec<NamedTensor>,
    prefix: &str,
    path: &Path,
) -> Result<()> {
    let mut found: HashMap<String, NamedTensor> = tensors
        .into_iter()
        .filter_map(|t| t.name.strip_prefix(prefix).map(|n| (n.to_string(), NamedTensor { name: n.to_string(), ..t })))
        .collect();
    // A model of run-time width (adaptive) takes the file's width first; others ignore it.
    model.conform(&|name| found.get(name).map(|t| t.shape.clone()));
    let expected = named_tensors(model);
    let mut problems = Vec::new();
    let mut values = HashMap::new();
    for e in &expected {
        match found.remove(&e.name) {
            None => problems.push(format!("missing tensor `{prefix}{}` {:?}", e.name, e.shape)),
            Some(t) if t.shape != e.shape => problems
                .push(format!("tensor `{prefix}{}` has shape {:?}, the config needs {:?}", e.name, t.shape, e.shape)),
            Some(t) => {
                values.insert(e.name.clone(), t.values);
            }
        }
    }
    let mut extra: Vec<_> = found.keys().map(|k| format!("unexpected tensor `{prefix}{k}`")).collect();
    extra.sort();
    problems.extend(extra);
    if !problems.is_empty() {
        return Err(Error::Checkpoint { path: path.to_path_buf(), what: problems.join("; ") });
    }
    model.visit_mut("", &mut |name, t| t.set_values(&values[&name]));
    Ok(())
}
