//! A supervised multilayer perceptron: the contrast to an autoencoder. It maps inputs to
//! *labels* (softmax cross-entropy), so it cannot learn without them; trained on autoencoder
//! codes with no hidden layer it is the usual *linear probe* of how much class information a
//! code keeps.

use dfdx::prelude::*;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use crate::data::Dataset;
use crate::nn::{join, Dense, Dev, Param, Params};
use crate::train::{Adam, AdamConfig};
use crate::{Error, Result};

/// How [`Classifier::fit`] trains: Adam for `epochs` passes in shuffled batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassifierTraining {
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for ClassifierTraining {
    /// 10 epochs, batch 64, learning rate 1e-3, seed 0.
    fn default() -> Self {
        Self { epochs: 10, batch_size: 64, lr: 1e-3, seed: 0 }
    }
}

/// `input → hidden (ReLU)… → classes` logits.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// The layers, input first.
    pub layers: Vec<Dense<usize, usize>>,
}

impl Params for Classifier {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit(&join(prefix, &format!("layers.{i}")), f);
        }
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        for (i, l) in self.layers.iter_mut().enumerate() {
            l.visit_mut(&join(prefix, &format!("layers.{i}")), f);
        }
    }
}

impl Classifier {
    /// A freshly initialised classifier; `hidden` may be empty (a linear softmax model).
    pub fn new(dev: &Dev, input: usize, hidden: &[usize], classes: usize) -> Self {
        let widths: Vec<usize> = std::iter::once(input).chain(hidden.iter().copied()).chain([classes]).collect();
        Self { layers: widths.windows(2).map(|w| Dense::new(dev, w[0], w[1])).collect() }
    }

    /// # Shapes
    /// (batch, input) → (batch, hidden)… → (batch, classes) logits
    fn logits<T: Tape<f32, Dev>>(
        &self,
        mut x: Tensor<(usize, usize), f32, Dev, T>,
    ) -> Tensor<(usize, usize), f32, Dev, T> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = x.relu();
            }
        }
        x
    }

    /// Trains with Adam on `data`'s labels; returns the mean loss of each epoch.
    pub fn fit(&mut self, data: &Dataset, opts: &ClassifierTraining) -> Result<Vec<f64>> {
        let ClassifierTraining { epochs, batch_size, lr, seed } = *opts;
        let labels = data
            .labels
            .as_ref()
            .ok_or_else(|| Error::config("labels", format!("{} has no labels; a classifier needs them", data.name)))?;
        let classes = self.layers.last().map_or(0, |l| l.output());
        if let Some(bad) = labels.iter().find(|&&c| c as usize >= classes) {
            return Err(Error::config("classes", format!("label {bad} but the classifier has {classes} classes")));
        }
        self.refresh_ids(); // see `Params::refresh_ids`: safe after building in another notebook cell
        let dev = Dev::default();
        let mut adam = Adam::new(AdamConfig { lr, ..Default::default() });
        let (d, mut losses) = (data.sample_len(), Vec::with_capacity(epochs));
        for epoch in 0..epochs {
            let mut order: Vec<usize> = (0..data.len()).collect();
            order.shuffle(&mut StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9)));
            let mut sum = 0.0;
            for idx in order.chunks(batch_size.max(1)) {
                let (mut x, mut y) = (Vec::with_capacity(idx.len() * d), vec![0f32; idx.len() * classes]);
                for (r, &i) in idx.iter().enumerate() {
                    x.extend_from_slice(data.sample(i));
                    y[r * classes + labels[i] as usize] = 1.0;
                }
                let x = dev.tensor_from_vec(x, (idx.len(), d));
                let y = dev.tensor_from_vec(y, (idx.len(), classes));
                let loss = cross_entropy_with_logits_loss(self.logits(x.traced(self.alloc_grads())), y);
                let value = loss.array();
                if !value.is_finite() {
                    return Err(Error::Diverged(format!(
                        "classifier epoch {}: loss is {value}; lower lr ({lr})",
                        epoch + 1
                    )));
                }
                sum += value as f64 * idx.len() as f64;
                let mut grads = loss.backward();
                adam.update(self, &mut grads);
            }
            losses.push(sum / data.len().max(1) as f64);
        }
        Ok(losses)
    }

    /// The last hidden layer's activations of each sample (`samples` holds rows of the
    /// classifier's input width): the feature space a Fréchet distance between image sets is
    /// measured in. A classifier without hidden layers gives its logits.
    pub fn features(&self, samples: &[f32]) -> Vec<f32> {
        let dev = Dev::default();
        let d = self.layers.first().map_or(1, |l| l.input()).max(1);
        let keep = self.layers.len().saturating_sub(1).max(1);
        let mut out = Vec::new();
        for chunk in samples.chunks(512 * d) {
            let mut x = dev.tensor_from_vec(chunk.to_vec(), (chunk.len() / d, d));
            for (i, layer) in self.layers.iter().take(keep).enumerate() {
                x = layer.forward(x);
                if i + 1 < self.layers.len() {
                    x = x.relu();
                }
            }
            out.extend(x.as_vec());
        }
        out
    }

    /// Width of [`Classifier::features`].
    pub fn feature_len(&self) -> usize {
        let keep = self.layers.len().saturating_sub(1).max(1);
        self.layers.get(keep - 1).map_or(0, |l| l.output())
    }

    /// The most likely class of each sample.
    pub fn predict(&self, data: &Dataset) -> Vec<u32> {
        let dev = Dev::default();
        let mut out = Vec::with_capacity(data.len());
        for b in data.batches(512) {
            let logits = self.logits(dev.tensor_from_vec(b.x.to_vec(), (b.n, data.sample_len())));
            let classes = logits.shape().1;
            let v = logits.as_vec();
            out.extend(v.chunks(classes).map(|row| {
                row.iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (i, &p)| if p > best.1 { (i, p) } else { best })
                    .0 as u32
            }));
        }
        out
    }

    /// Fraction of `data` classified correctly.
    pub fn accuracy(&self, data: &Dataset) -> Result<f64> {
        let labels = data
            .labels
            .as_ref()
            .ok_or_else(|| Error::config("labels", format!("{} has no labels to score against", data.name)))?;
        let hits = self.predict(data).iter().zip(labels).filter(|(p, l)| p == l).count();
        Ok(hits as f64 / data.len().max(1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_problem_and_rejects_missing_labels() {
        // Two blobs: class = sign of the first feature.
        let samples: Vec<f32> =
            (0..200).flat_map(|i| [if i % 2 == 0 { 1.0 } else { -1.0 }, (i % 7) as f32 * 0.1]).collect();
        let labels = Some((0..200).map(|i| (i % 2) as u32).collect());
        let data = Dataset::new("blobs", samples.clone(), vec![2], labels, vec!["a".into(), "b".into()]).unwrap();
        let mut c = Classifier::new(&Dev::seed_from_u64(0), 2, &[], 2);
        let losses = c.fit(&data, &ClassifierTraining { epochs: 20, batch_size: 16, lr: 0.05, seed: 0 }).unwrap();
        assert!(losses[19] < losses[0] / 4.0, "{losses:?}");
        assert_eq!(c.accuracy(&data).unwrap(), 1.0);
        let unlabelled = Dataset::new("u", samples, vec![2], None, vec![]).unwrap();
        let one = ClassifierTraining { epochs: 1, ..Default::default() };
        assert!(c.fit(&unlabelled, &one).unwrap_err().to_string().contains("no labels"));
    }
}
