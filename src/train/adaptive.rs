//! The adaptive autoencoder's step ([`AdaptiveStep`]): incremental feature learning on a
//! stream, after Zhou, Sohn & Lee (AISTATS 2012).
//!
//! Per batch of the stream: one Adam update of every feature; the batch's **hard examples**
//! (per-sample loss above the batch's mean + [`HARD_Z`] standard deviations, both measured
//! with the model of that moment — a running average over earlier batches lags behind a
//! model that is still learning, and marked almost nothing hard on the digits) go into a pool,
//! with the corrupted input they were trained on. When the pool holds
//! [`AdaptiveConfig::pool`] examples the model **adapts**:
//!
//! 1. **merge** the ΔM most similar pairs of features ([`Adaptive::similar_pairs`],
//!    [`Adaptive::merge`]);
//! 2. **add** ΔN features ([`Adaptive::add_features`]) and train only them on the pool for
//!    [`NEW_FEATURE_PASSES`] passes, the old features frozen (their gradients zeroed, and a
//!    fresh Adam whose zero moments then leave them exactly in place, at
//!    [`NEW_FEATURE_LR_SCALE`] times the run's rate) — the new features fit the residual the
//!    old ones leave on the hard examples;
//! 3. train all features together on the pool for [`JOINT_PASSES`] passes (the run's Adam);
//! 4. set the next ΔN and ΔM from how much the added features reduced the pool's loss
//!    (the rule below), and empty the pool.
//!
//! **The rule for ΔN and ΔM (ours).** Only the paper's abstract could be read here, not its
//! update equations, so this rule is our own, in the paper's spirit (add while new features
//! pay, merge to stay compact): with `L₁` the pool's mean loss after the merge and `L₂` after
//! the new features' training, the gain per added feature is `g = (L₁ − L₂) / L₁ / ΔN`. If
//! `g ≥` [`GAIN_PER_FEATURE`] the next ΔN is `⌈ΔN · `[`ADD_GROWTH`]`⌉`, else
//! `max(1, ⌊ΔN · `[`ADD_DECAY`]`⌋)`; ΔN never exceeds [`MAX_ADD_FRACTION`] of the width, nor
//! the room left below `max_features`; ΔM = `round(`[`MERGE_RATIO`]` · ΔN)`. New and merged
//! features' Adam moments start at zero: the moments of the old parameters describe
//! gradients at another point.
//!
//! Every random draw (new features, the pool's order) comes from a generator seeded by the
//! run's seed and the adaptation's number; the pool, ΔN, ΔM and the
//! counters are in the resume state — a run resumed after an adaptation continues bit for bit.

use std::collections::BTreeMap;

use dfdx::prelude::*;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::{Deserialize, Serialize};

use super::checkpoint::NamedTensor;
use super::step::{LossValues, StepBatch, TrainStep};
use super::{Adam, AdamConfig, TrainConfig};
use crate::data::Dataset;
use crate::models::adaptive::FeatureMap;
use crate::models::{recon_loss, Adaptive, AdaptiveConfig, Autoencoder, ReconLoss};
use crate::nn::{math, values, Dev, Params};
use crate::{Error, Result};

/// A sample is hard when its loss exceeds its batch's mean by this many standard deviations
/// (about the worst 16 % of a Gaussian spread).
pub const HARD_Z: f64 = 1.0;
/// Passes over the pool that train only the new features.
pub const NEW_FEATURE_PASSES: usize = 2;
/// The new features' learning rate, as a multiple of the run's, while they train alone on the
/// pool: they start from random weights beside features trained on the whole stream so far.
/// MNIST, class-incremental stream, lr 0.01, seed 0: test BCE 0.1097 at 1×, 0.1080 at 3×.
pub const NEW_FEATURE_LR_SCALE: f64 = 3.0;
/// Passes over the pool that train every feature after an addition.
pub const JOINT_PASSES: usize = 1;
/// The relative drop of the pool's loss per added feature above which ΔN grows.
pub const GAIN_PER_FEATURE: f64 = 0.002;
/// ΔN's factor after an addition that paid.
pub const ADD_GROWTH: f64 = 1.5;
/// ΔN's factor after one that did not.
pub const ADD_DECAY: f64 = 0.5;
/// ΔN is at most this fraction of the current width.
pub const MAX_ADD_FRACTION: f64 = 0.25;
/// Pairs merged per feature added.
pub const MERGE_RATIO: f64 = 0.5;
/// The file of adaptations in a model directory.
pub const ADAPTIVE_LOG: &str = "adaptive.csv";
/// Held-out samples whose clean reconstruction loss the log records (the first ones of the
/// validation set the trainer is given).
pub const MONITOR_SAMPLES: usize = 1000;
/// Stream samples between two rows of the log (besides one row per adaptation).
pub const LOG_EVERY_SAMPLES: usize = 2560;

/// One row of `adaptive.csv`: where the stream is, the width, the held-out loss, and the
/// adaptation made there, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    /// Stream samples trained on so far (all passes).
    pub samples: u64,
    /// Gradient updates so far, the pool's included.
    pub updates: u64,
    /// Features now.
    pub width: usize,
    /// Mean reconstruction loss of [`MONITOR_SAMPLES`] held-out samples from clean inputs
    /// (none without validation data).
    pub monitor_loss: Option<f64>,
    /// The adaptation made at this point.
    pub adaptation: Option<Adaptation>,
}

/// One adaptation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adaptation {
    /// Features before it.
    pub width_before: usize,
    /// Pairs merged.
    pub merged: usize,
    /// Features added.
    pub added: usize,
    /// The pool's mean loss before it.
    pub pool_loss: f64,
    /// … after the merge.
    pub pool_loss_merged: f64,
    /// … after training the new features.
    pub pool_loss_added: f64,
    /// … after training all features.
    pub pool_loss_after: f64,
    /// ΔN for the next adaptation.
    pub next_add: usize,
    /// ΔM for the next adaptation.
    pub next_merge: usize,
}

/// The adaptive autoencoder's step; see the module documentation.
#[derive(Debug, Clone)]
pub struct AdaptiveStep {
    adam: Adam,
    config: AdaptiveConfig,
    seed: u64,
    batch_size: usize,
    pool_input: Vec<f32>,
    pool_target: Vec<f32>,
    next_add: usize,
    next_merge: usize,
    samples: u64,
    updates: u64,
    batches: u64,
    /// The model's width after the last batch.
    width: usize,
    monitor: Vec<f32>,
    log: Vec<LogRow>,
}

impl AdaptiveStep {
    /// A step for a model with `config`, trained as `train` says.
    pub fn new(train: &TrainConfig, config: AdaptiveConfig) -> Self {
        Self {
            adam: Adam::new(train.adam),
            config,
            seed: train.seed,
            batch_size: train.batch_size.max(1),
            pool_input: Vec::new(),
            pool_target: Vec::new(),
            next_add: config.first_add,
            next_merge: merges_for(config.first_add),
            samples: 0,
            updates: 0,
            batches: 0,
            width: 0,
            monitor: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Records the clean reconstruction loss of the first [`MONITOR_SAMPLES`] of `held_out`
    /// in the log (the trainer gives its validation set).
    pub fn monitor(mut self, held_out: &Dataset) -> Self {
        let n = held_out.len().min(MONITOR_SAMPLES);
        self.monitor = held_out.samples[..n * held_out.sample_len()].to_vec();
        self
    }

    /// The log so far: a row every [`LOG_EVERY_SAMPLES`] and one per adaptation.
    pub fn log(&self) -> &[LogRow] {
        &self.log
    }

    /// The adaptations so far.
    pub fn adaptations(&self) -> impl Iterator<Item = &Adaptation> {
        self.log.iter().filter_map(|r| r.adaptation.as_ref())
    }

    /// Appends a row for the model as it is now.
    fn record(&mut self, a: &Adaptive, adaptation: Option<Adaptation>) {
        let monitor_loss = (!self.monitor.is_empty()).then(|| mean_loss(a, &self.monitor, &self.monitor));
        self.log.push(LogRow {
            samples: self.samples,
            updates: self.updates,
            width: a.width(),
            monitor_loss,
            adaptation,
        });
    }

    /// Gradient updates so far (stream batches and pool passes).
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Puts the batch's hard samples into the pool (until it is full).
    fn collect_hard(&mut self, x: &[f32], t: &[f32], per: &[f64], d: usize) {
        let n = per.len().max(1) as f64;
        let mean = per.iter().sum::<f64>() / n;
        let var = per.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / n;
        let bar = mean + HARD_Z * var.sqrt();
        for (i, &l) in per.iter().enumerate() {
            if l > bar && self.pool_target.len() / d < self.config.pool {
                self.pool_input.extend_from_slice(&x[i * d..][..d]);
                self.pool_target.extend_from_slice(&t[i * d..][..d]);
            }
        }
    }

    /// Merge, add, train on the pool, set the next ΔN and ΔM, empty the pool. With
    /// `fixed_width` (a control) the width stays and every pass trains all features.
    fn adapt(&mut self, a: &mut Adaptive, lr: f64) -> Result<()> {
        let d = a.input_len();
        let event = self.adaptations().count() as u64 + 1;
        let mut rng = StdRng::seed_from_u64(self.seed ^ event.wrapping_mul(0xA076_1D64_78BD_642F));
        let (width_before, pool_loss) = (a.width(), self.pool_loss(a));
        let grows = !self.config.fixed_width;

        let pairs = if grows { a.similar_pairs(self.next_merge.min(width_before / 2)) } else { Vec::new() };
        let map = a.merge(&pairs)?;
        remap_moments(&mut self.adam, &map, width_before, d);
        let pool_loss_merged = self.pool_loss(a);

        let old = a.width();
        let k = if grows { self.next_add.min(self.config.max_features.saturating_sub(old)) } else { 0 };
        let map = a.add_features(k, &mut rng);
        remap_moments(&mut self.adam, &map, old, d);
        if k > 0 {
            // A fresh Adam without weight decay: the frozen features' zero gradients and zero
            // moments make their update exactly zero.
            let mut fresh = Adam::new(AdamConfig { weight_decay: 0.0, ..self.adam.cfg });
            for _ in 0..NEW_FEATURE_PASSES {
                self.pool_pass(a, &mut rng, lr * NEW_FEATURE_LR_SCALE, Some((&mut fresh, old)));
            }
        } else if !grows {
            for _ in 0..NEW_FEATURE_PASSES {
                self.pool_pass(a, &mut rng, lr, None);
            }
        }
        let pool_loss_added = self.pool_loss(a);
        for _ in 0..JOINT_PASSES {
            self.pool_pass(a, &mut rng, lr, None);
        }
        let pool_loss_after = self.pool_loss(a);

        if grows {
            let gain = (pool_loss_merged - pool_loss_added) / pool_loss_merged.max(f64::MIN_POSITIVE) / k.max(1) as f64;
            let next = if k > 0 && gain >= GAIN_PER_FEATURE {
                (self.next_add as f64 * ADD_GROWTH).ceil() as usize
            } else {
                ((self.next_add as f64 * ADD_DECAY).floor() as usize).max(1)
            };
            let cap = ((MAX_ADD_FRACTION * a.width() as f64).ceil() as usize).max(1);
            self.next_add = next.min(cap);
            self.next_merge = merges_for(self.next_add);
        }
        let adaptation = Adaptation {
            width_before,
            merged: pairs.len(),
            added: k,
            pool_loss,
            pool_loss_merged,
            pool_loss_added,
            pool_loss_after,
            next_add: self.next_add,
            next_merge: self.next_merge,
        };
        self.record(a, Some(adaptation));
        self.pool_input.clear();
        self.pool_target.clear();
        Ok(())
    }

    /// One pass over the pool in a shuffled order, in the run's batch size: with `frozen`,
    /// only the features from its index on learn, with its optimiser.
    fn pool_pass(&mut self, a: &mut Adaptive, rng: &mut StdRng, lr: f64, mut frozen: Option<(&mut Adam, usize)>) {
        let d = a.input_len();
        let mut order: Vec<usize> = (0..self.pool_target.len() / d).collect();
        order.shuffle(rng);
        for idx in order.chunks(self.batch_size) {
            let gather = |v: &[f32]| idx.iter().flat_map(|&i| v[i * d..][..d].iter().copied()).collect::<Vec<f32>>();
            let (x, t) = (gather(&self.pool_input), gather(&self.pool_target));
            match frozen.as_mut() {
                Some((adam, old)) => update(adam, a, &x, &t, lr, Some(*old)),
                None => update(&mut self.adam, a, &x, &t, lr, None),
            };
            self.updates += 1;
        }
    }

    /// The pool's mean per-sample loss.
    fn pool_loss(&self, a: &Adaptive) -> f64 {
        mean_loss(a, &self.pool_input, &self.pool_target)
    }

    /// `adaptive.csv`: the log, a row each, and a last row for where training stopped (its
    /// held-out loss empty); an adaptation's columns are empty on the other rows.
    pub fn log_csv(&self) -> String {
        let mut s = String::from(
            "samples,updates,width,monitor_loss,adaptation,width_before,merged,added,pool_loss,pool_loss_merged,\
             pool_loss_added,pool_loss_after,next_add,next_merge\n",
        );
        let mut event = 0;
        for r in &self.log {
            let monitor = r.monitor_loss.map_or(String::new(), |l| l.to_string());
            s += &format!("{},{},{},{monitor},", r.samples, r.updates, r.width);
            match &r.adaptation {
                None => s += ",,,,,,,,,\n",
                Some(e) => {
                    event += 1;
                    s += &format!(
                        "{event},{},{},{},{},{},{},{},{},{}\n",
                        e.width_before,
                        e.merged,
                        e.added,
                        e.pool_loss,
                        e.pool_loss_merged,
                        e.pool_loss_added,
                        e.pool_loss_after,
                        e.next_add,
                        e.next_merge
                    );
                }
            }
        }
        if self.log.last().is_none_or(|r| r.samples < self.samples) {
            s += &format!("{},{},{},,,,,,,,,,,\n", self.samples, self.updates, self.width);
        }
        s
    }
}

/// The mean per-sample loss of inputs `x` against targets `t`, in batches of 256.
fn mean_loss(a: &Adaptive, x: &[f32], t: &[f32]) -> f64 {
    let d = a.input_len();
    let n = t.len() / d;
    if n == 0 {
        return 0.0;
    }
    let chunk = 256 * d;
    let sum: f64 = x
        .chunks(chunk)
        .zip(t.chunks(chunk))
        .map(|(x, t)| per_sample_losses(a, &logits_of(a, x), t).iter().sum::<f64>())
        .sum();
    sum / n as f64
}

fn merges_for(add: usize) -> usize {
    (MERGE_RATIO * add as f64).round() as usize
}

/// The decoder's logits for inputs `x`, without a tape.
fn logits_of(a: &Adaptive, x: &[f32]) -> Vec<f32> {
    let d = a.input_len();
    let xt = Dev::default().tensor_from_vec(x.to_vec(), (x.len() / d, d));
    values(&a.decode_logits(a.encode(xt)))
}

/// Each sample's reconstruction loss (mean over its values), as the training loss counts it.
/// In f32 with the crate's vectorised `exp`/`ln`: with libm's scalar `log1pf` this took a
/// quarter of an adaptive run (`perf`, MNIST class-incremental pass).
fn per_sample_losses(a: &Adaptive, logits: &[f32], t: &[f32]) -> Vec<f64> {
    let d = a.input_len();
    let (act, kind) = a.output();
    let rows = |z: &[f32], f: &dyn Fn(&[f32], &[f32]) -> f32| -> Vec<f64> {
        z.chunks(d).zip(t.chunks(d)).map(|(z, t)| f(z, t) as f64 / d as f64).collect()
    };
    match kind {
        // max(z, 0) − z·t + ln(1 + e^−|z|): BCE from a logit.
        ReconLoss::Bce => rows(logits, &|z, t| bce_row(z, t)),
        ReconLoss::Mse => {
            let y = values(&act.apply(Dev::default().tensor_from_vec(logits.to_vec(), (logits.len(),))));
            rows(&y, &|y, t| y.iter().zip(t).map(|(y, t)| (y - t) * (y - t)).sum())
        }
    }
}

crate::nn::math::wide_fn! {
    /// One sample's summed BCE from logits `z` against targets `t`, eight lanes at a time.
    fn bce_row(z: &[f32], t: &[f32]) -> f32 {
        let mut lanes = [0.0f32; 8];
        let (zc, tc) = (z.chunks_exact(8), t.chunks_exact(8));
        let tail: f32 = zc.remainder().iter().zip(tc.remainder()).map(|(&z, &t)| bce(z, t)).sum();
        for (z8, t8) in zc.zip(tc) {
            for k in 0..8 {
                lanes[k] += bce(z8[k], t8[k]);
            }
        }
        lanes.iter().sum::<f32>() + tail
    }
}

#[inline(always)]
fn bce(z: f32, t: f32) -> f32 {
    z.max(0.0) - z * t + math::ln(1.0 + math::exp(-z.abs()))
}

/// One Adam update of `a` on inputs `x` and targets `t`; with `frozen = Some(k)`, features
/// `0..k` and the decoder's bias get no gradient. Returns the loss before the update and each
/// sample's loss.
fn update(
    adam: &mut Adam,
    a: &mut Adaptive,
    x: &[f32],
    t: &[f32],
    lr: f64,
    frozen: Option<usize>,
) -> (LossValues, Vec<f64>) {
    let (dev, d) = (Dev::default(), a.input_len());
    let n = x.len() / d;
    let xt = dev.tensor_from_vec(x.to_vec(), (n, d));
    let tt = dev.tensor_from_vec(t.to_vec(), (n, d));
    let (act, kind) = a.output();
    let logits = a.decode_logits(a.encode_data(xt.traced(a.alloc_grads())));
    let per = per_sample_losses(a, &values(&logits), t);
    let loss = recon_loss(logits, tt, act, kind);
    let v = loss.array();
    if v.is_finite() {
        let mut grads = loss.backward();
        if let Some(k) = frozen {
            a.freeze(&mut grads, k);
        }
        adam.cfg.lr = lr;
        adam.update(a, &mut grads);
    }
    (LossValues { total: v, recon: v, reg: 0.0 }, per)
}

/// Carries each parameter's Adam moments through a resize: old features keep theirs, new and
/// merged ones start at zero.
fn remap_moments(adam: &mut Adam, map: &FeatureMap, old_n: usize, d: usize) {
    let rows = |v: &[f32], len: usize| -> Vec<f32> {
        map.iter().flat_map(|s| s.map_or(vec![0.0; len], |i| v[i * len..][..len].to_vec())).collect()
    };
    adam.map_moments("encoder.0.weight", |v| rows(v, d));
    adam.map_moments("encoder.0.bias", |v| rows(v, 1));
    adam.map_moments("decoder.0.weight", |v| {
        v.chunks(old_n.max(1)).flat_map(|r| map.iter().map(|s| s.map_or(0.0, |i| r[i]))).collect()
    });
}

impl<M: Autoencoder> TrainStep<M> for AdaptiveStep {
    fn train_batch(&mut self, model: &mut M, batch: StepBatch<M>, lr: f64) -> Result<LossValues> {
        let (x, t) = (values(&batch.input), values(&batch.target));
        let a = model
            .as_adaptive()
            .ok_or_else(|| Error::config("variant", "the adaptive step trains an adaptive autoencoder only"))?;
        let d = a.input_len();
        let (loss, per) = update(&mut self.adam, a, &x, &t, lr, None);
        let every = (LOG_EVERY_SAMPLES as u64).div_ceil(self.batch_size as u64).max(1);
        self.updates += 1;
        self.batches += 1;
        self.samples += per.len() as u64;
        if loss.total.is_finite() {
            self.collect_hard(&x, &t, &per, d);
            if self.pool_target.len() / d >= self.config.pool {
                self.adapt(a, lr)?;
            } else if self.batches.is_multiple_of(every) {
                self.record(a, None);
            }
        }
        self.width = a.width();
        Ok(loss)
    }

    fn state(&self) -> (Vec<NamedTensor>, BTreeMap<String, String>) {
        let (mut tensors, mut meta) = self.adam.state();
        for (name, v) in [("adaptive.pool.input", &self.pool_input), ("adaptive.pool.target", &self.pool_target)] {
            tensors.push(NamedTensor { name: name.into(), shape: vec![v.len()], values: v.clone() });
        }
        meta.extend([
            ("adaptive_next".to_string(), format!("{} {}", self.next_add, self.next_merge)),
            (
                "adaptive_counts".to_string(),
                format!("{} {} {} {}", self.samples, self.updates, self.batches, self.width),
            ),
            ("adaptive_log".to_string(), serde_json::to_string(&self.log).expect("plain data")),
        ]);
        (tensors, meta)
    }

    fn restore(&mut self, tensors: &[NamedTensor], meta: &BTreeMap<String, String>) -> Option<()> {
        self.adam.restore(tensors, meta)?;
        let find = |n: &str| tensors.iter().find(|t| t.name == n).map(|t| t.values.clone());
        self.pool_input = find("adaptive.pool.input")?;
        self.pool_target = find("adaptive.pool.target")?;
        let pair = |k: &str| -> Option<(String, String)> {
            let (a, b) = meta.get(k)?.split_once(' ')?;
            Some((a.to_string(), b.to_string()))
        };
        let (a, m) = pair("adaptive_next")?;
        (self.next_add, self.next_merge) = (a.parse().ok()?, m.parse().ok()?);
        let counts: Vec<u64> =
            meta.get("adaptive_counts")?.split(' ').map(|c| c.parse().ok()).collect::<Option<_>>()?;
        let [samples, updates, batches, width] = counts[..] else { return None };
        (self.samples, self.updates, self.batches, self.width) = (samples, updates, batches, width as usize);
        self.log = serde_json::from_str(meta.get("adaptive_log")?).ok()?;
        Some(())
    }

    fn files(&self) -> Vec<(&'static str, Vec<u8>)> {
        vec![(ADAPTIVE_LOG, self.log_csv().into_bytes())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::dense::{Dense0, DenseConfig};
    use crate::nn::Activation;

    #[test]
    fn while_new_features_train_the_old_ones_do_not_move() {
        let dev = Dev::seed_from_u64(2);
        let mut cfg = DenseConfig::shallow(16, 5);
        cfg.code_activation = Activation::Sigmoid;
        let mut a = Adaptive::new(Dense0::new(&dev, &cfg).unwrap(), AdaptiveConfig::default());
        a.add_features(3, &mut StdRng::seed_from_u64(1));
        let before = crate::train::checkpoint::named_tensors(&a);
        let x: Vec<f32> = (0..8 * 16).map(|i| (i % 7) as f32 / 7.0).collect();
        let mut adam = Adam::new(AdamConfig::default());
        for _ in 0..3 {
            update(&mut adam, &mut a, &x, &x, 1e-2, Some(5));
        }
        let after = crate::train::checkpoint::named_tensors(&a);
        let (enc_w, enc_b, dec_w, dec_b) = (&after[0].values, &after[1].values, &after[2].values, &after[3].values);
        assert_eq!(enc_w[..5 * 16], before[0].values[..5 * 16]);
        assert_eq!(enc_b[..5], before[1].values[..5]);
        assert_eq!(dec_b, &before[3].values);
        for r in 0..16 {
            assert_eq!(dec_w[r * 8..][..5], before[2].values[r * 8..][..5], "decoder row {r}");
            assert!(dec_w[r * 8 + 5..][..3].iter().all(|&v| v != 0.0), "the new columns moved");
        }
        assert_ne!(enc_w[5 * 16..], before[0].values[5 * 16..]);
    }
}
