//! Adam with decoupled weight decay (AdamW when `weight_decay > 0`), written against dfdx's
//! visitor API so its moments can be saved and training resumed exactly.

use std::collections::{BTreeMap, HashMap};

use dfdx::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::checkpoint::NamedTensor;
use crate::nn::{scratch, Dev, Params};

/// Adam's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment (PyTorch's `betas[0]`).
    pub beta1: f64,
    /// Decay of the second moment (PyTorch's `betas[1]`).
    pub beta2: f64,
    /// Added to the denominator for stability.
    pub eps: f64,
    /// Decoupled weight decay (AdamW, Loshchilov & Hutter 2019); 0 is plain Adam.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

/// The optimiser: its config, step count and per-tensor moments (keyed by tensor name).
#[derive(Debug, Clone, Default)]
pub struct Adam {
    /// Its settings (the trainer sets `lr` each step from the schedule).
    pub cfg: AdamConfig,
    /// Updates made so far.
    pub step: u64,
    m: HashMap<String, Vec<f32>>,
    v: HashMap<String, Vec<f32>>,
}

impl Adam {
    /// A fresh optimiser.
    pub fn new(cfg: AdamConfig) -> Self {
        Self { cfg, ..Default::default() }
    }

    /// One update of every parameter of `model` from `grads` (borrowed mutably only to read
    /// each gradient in place, without copying it out; they are left unchanged).
    pub fn update<M: Params + ?Sized>(&mut self, model: &mut M, grads: &mut Gradients<f32, Dev>) {
        self.step += 1;
        let c = self.cfg;
        let k = self.step as i32;
        let (b1, b2) = (c.beta1 as f32, c.beta2 as f32);
        let bc1 = 1.0 - c.beta1.powi(k) as f32;
        let bc2 = 1.0 - c.beta2.powi(k) as f32;
        let (eps, decay) = (c.eps as f32, (c.lr * c.weight_decay) as f32);
        // p -= lr · m̂ / (√v̂ + ε), with m̂ = m / bc1 and √v̂ = √v / √bc2 folded into two scalars.
        let (step, inv_sqrt_bc2) = (c.lr as f32 / bc1, 1.0 / bc2.sqrt());
        let (ms, vs) = (&mut self.m, &mut self.v);
        model.visit_mut("", &mut |name, t| {
            let g = t.grad_slice(grads);
            // dfdx lends no view of a tensor's storage: the values are copied out, updated
            // and copied back, through a buffer kept from the last step (no zero-fill first).
            let mut p = scratch::take(t.dims().iter().product());
            t.copy_to(&mut p);
            let m = ms.entry(name.clone()).or_default();
            let v = vs.entry(name).or_default();
            // A new parameter, or one a step resized (an adaptive model growing or merging
            // features): its moments start again from zero.
            if m.len() != p.len() || v.len() != p.len() {
                *m = vec![0.0; p.len()];
                *v = vec![0.0; p.len()];
            }
            // In chunks across threads; zipped iterators carry no bounds checks, so each
            // chunk's loop vectorises.
            const CHUNK: usize = 16 * 1024;
            let (pc, gc) = (p.par_chunks_mut(CHUNK), g.par_chunks(CHUNK));
            let k = Consts { b1, b2, step, inv_sqrt_bc2, eps, decay };
            pc.zip(gc)
                .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
                .for_each(|((p, g), (m, v))| adam_chunk(p, g, m, v, &k));
            t.set_values(&p);
            scratch::give(p);
        });
    }

    /// Replaces both moments of parameter `name` by `f` of them (when it has any): how a
    /// resized parameter keeps the moments of the entries that survived.
    pub fn map_moments(&mut self, name: &str, f: impl Fn(&[f32]) -> Vec<f32>) {
        for map in [&mut self.m, &mut self.v] {
            if let Some(v) = map.get_mut(name) {
                *v = f(v);
            }
        }
    }

    /// The moments as named tensors (`adam.m.<name>`, `adam.v.<name>`) and the step count as
    /// metadata, for a resume file.
    pub fn state(&self) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
        let mut out = Vec::new();
        for (kind, map) in [("m", &self.m), ("v", &self.v)] {
            let mut names: Vec<_> = map.keys().collect();
            names.sort();
            for n in names {
                out.push(NamedTensor {
                    name: format!("adam.{kind}.{n}"),
                    shape: vec![map[n].len()],
                    values: map[n].clone(),
                });
            }
        }
        let meta = BTreeMap::from([("adam_step".to_string(), self.step.to_string())]);
        (out, meta)
    }

    /// Restores moments and step count written by [`Adam::state`].
    pub fn restore(&mut self, tensors: &[NamedTensor], meta: &BTreeMap<String, String>) -> Option<()> {
        self.step = meta.get("adam_step")?.parse().ok()?;
        for t in tensors {
            if let Some(n) = t.name.strip_prefix("adam.m.") {
                self.m.insert(n.to_string(), t.values.clone());
            } else if let Some(n) = t.name.strip_prefix("adam.v.") {
                self.v.insert(n.to_string(), t.values.clone());
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_pytorch_adam_on_a_quadratic() {
        // torch.optim.Adam's documented update, 3 steps of loss = (p**2).sum() from
        // p = [1, -2] with lr = 0.1, evaluated in f64: p = [0.70158627, -1.70062339].
        let dev = Dev::default();
        let mut p: Tensor<Rank1<2>, f32, Dev> = dev.tensor([1.0, -2.0]);
        let mut adam = Adam::new(AdamConfig { lr: 0.1, ..Default::default() });
        for _ in 0..3 {
            let grads = Params::alloc_grads(&p);
            let loss = p.clone().traced(grads).square().sum();
            let mut grads = loss.backward();
            adam.update(&mut p, &mut grads);
        }
        let got = p.as_vec();
        assert!((got[0] - 0.70158627).abs() < 1e-5 && (got[1] + 1.700_623_4).abs() < 1e-5, "{got:?}");
    }

    #[test]
    fn a_resized_parameter_restarts_its_moments() {
        let dev = Dev::default();
        let mut adam = Adam::new(AdamConfig { lr: 0.1, ..Default::default() });
        let mut small: Tensor<(usize,), f32, Dev> = dev.tensor_from_vec(vec![1.0, -2.0], (2,));
        let step = |p: &mut Tensor<(usize,), f32, Dev>, adam: &mut Adam| {
            let loss = p.clone().traced(Params::alloc_grads(p)).square().sum();
            adam.update(p, &mut loss.backward());
        };
        step(&mut small, &mut adam);
        // The same name, three values now: every value moves (none is left with a stale or
        // missing moment), by Adam's first-step size lr·sign(g) for the new ones.
        let mut grown: Tensor<(usize,), f32, Dev> = dev.tensor_from_vec(vec![1.0, -2.0, 3.0], (3,));
        step(&mut grown, &mut adam);
        let got = grown.as_vec();
        assert_eq!(adam.m[""].len(), 3);
        assert!(got.iter().zip([1.0f32, -2.0, 3.0]).all(|(a, b)| (a - b).abs() > 0.05), "{got:?}");
    }
}

/// The constants of one Adam step.
struct Consts {
    b1: f32,
    b2: f32,
    step: f32,
    inv_sqrt_bc2: f32,
    eps: f32,
    decay: f32,
}

crate::nn::math::wide_fn! {
    /// One chunk of an Adam step: moments, then parameters.
    fn adam_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: &Consts) {
        let Consts { b1, b2, step, inv_sqrt_bc2, eps, decay } = *k;
        for ((p, &g), (m, v)) in p.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut())) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= step * *m / (v.sqrt() * inv_sqrt_bc2 + eps) + decay * *p;
        }
    }
}
