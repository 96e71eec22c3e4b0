//! The order in which a stream presents a dataset ([`StreamOrder`]): shuffled (stationary), or
//! **class-incremental** ([`ClassIncremental`]: non-stationary — classes arrive in phases, e.g.
//! MNIST digits 0–1, then 2–3, …, neighbouring phases overlapping). A stream is an order over
//! the dataset's samples, read in place: no copy per phase.

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{BatchSource, Dataset};
use crate::{Error, Result};

/// How training batches follow one another (`--stream-order`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StreamOrder {
    /// Every sample in a random order, reshuffled each epoch: a stationary stream.
    Shuffled,
    /// Classes in phases of `classes_per_phase` (by class index), each phase's samples spread
    /// over its stretch of the stream, neighbouring phases sharing a fraction `overlap` of it.
    ClassIncremental {
        /// Classes per phase (`--classes-per-phase`).
        classes_per_phase: usize,
        /// Fraction of a phase's stretch shared with each neighbour, in [0, 1).
        overlap: f64,
    },
}

/// The overlap of neighbouring phases unless a config says otherwise.
pub const PHASE_OVERLAP: f64 = 0.2;

impl StreamOrder {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if let StreamOrder::ClassIncremental { classes_per_phase, overlap } = *self {
            if classes_per_phase == 0 {
                return Err(Error::config("classes_per_phase", "0 classes per phase: give at least 1"));
            }
            if !(0.0..1.0).contains(&overlap) {
                return Err(Error::config("overlap", format!("phase overlap {overlap} must be in [0, 1)")));
            }
        }
        Ok(())
    }
}

/// A labelled dataset as a class-incremental stream: the same order every epoch (a stream
/// replayed), fixed by the seed.
#[derive(Debug, Clone)]
pub struct ClassIncremental<'a> {
    data: &'a Dataset,
    order: Vec<usize>,
    phases: usize,
}

impl<'a> ClassIncremental<'a> {
    /// The stream of `data` in phases of `classes_per_phase` classes; each sample's place is
    /// its phase plus a uniform draw over the phase's stretch widened by `overlap` on both
    /// sides, so phases blend where they meet.
    pub fn new(data: &'a Dataset, classes_per_phase: usize, overlap: f64, seed: u64) -> Result<Self> {
        StreamOrder::ClassIncremental { classes_per_phase, overlap }.validate()?;
        let labels = data.labels.as_ref().ok_or_else(|| {
            Error::config(
                "stream_order",
                format!(
                    "`{}` has no labels, so it cannot arrive class by class; use --stream-order shuffled",
                    data.name
                ),
            )
        })?;
        let mut rng = StdRng::seed_from_u64(seed ^ 0xC1A5_5E5E_0F0F_1234);
        let mut keyed: Vec<(f64, usize)> = labels
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let phase = (c as usize / classes_per_phase) as f64;
                (phase - overlap / 2.0 + rng.gen::<f64>() * (1.0 + overlap), i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let phases = data.class_names.len().div_ceil(classes_per_phase);
        Ok(Self { data, order: keyed.into_iter().map(|(_, i)| i).collect(), phases })
    }

    /// The samples' indices in stream order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Number of phases.
    pub fn phases(&self) -> usize {
        self.phases
    }

    /// The stretch `range` of the stream (positions in its order) as a stream of its own: to
    /// train on it in segments and measure the model between them.
    pub fn part(&self, range: std::ops::Range<usize>) -> ClassIncremental<'a> {
        Self { data: self.data, order: self.order[range].to_vec(), phases: self.phases }
    }

    /// The class of each sample, in stream order.
    pub fn labels(&self) -> Vec<u32> {
        let labels = self.data.labels.as_deref().unwrap_or_default();
        self.order.iter().map(|&i| labels[i]).collect()
    }
}

impl BatchSource for ClassIncremental<'_> {
    fn len(&self) -> usize {
        self.order.len()
    }
    fn sample_len(&self) -> usize {
        self.data.sample_len()
    }
    fn epoch_batches(
        &self,
        _epoch: usize,
        batch_size: usize,
        _seed: u64,
    ) -> Box<dyn Iterator<Item = Result<Vec<f32>>> + '_> {
        let d = self.data.sample_len();
        Box::new(self.order.chunks(batch_size.max(1)).map(move |idx| {
            let mut buf = Vec::with_capacity(idx.len() * d);
            idx.iter().for_each(|&i| buf.extend_from_slice(self.data.sample(i)));
            Ok(buf)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n_per_class: usize, classes: usize) -> Dataset {
        let labels: Vec<u32> = (0..classes as u32).flat_map(|c| std::iter::repeat_n(c, n_per_class)).collect();
        let samples = labels.iter().map(|&c| c as f32).collect();
        Dataset::new("toy", samples, vec![1], Some(labels), (0..classes).map(|c| c.to_string()).collect()).unwrap()
    }

    #[test]
    fn classes_arrive_in_phases_that_overlap_only_at_their_edges() {
        let d = data(200, 6);
        let s = ClassIncremental::new(&d, 2, 0.2, 7).unwrap();
        assert_eq!((s.len(), s.phases()), (1200, 3));
        let phase: Vec<usize> = s.order().iter().map(|&i| d.labels.as_ref().unwrap()[i] as usize / 2).collect();
        // The first tenth is all phase 0, the last tenth all phase 2, the middle tenth phase 1.
        assert!(phase[..120].iter().all(|&p| p == 0));
        assert!(phase[1080..].iter().all(|&p| p == 2));
        assert!(phase[540..660].iter().all(|&p| p == 1));
        // Neighbours do mix near their border, and every sample comes exactly once.
        assert!(phase[300..500].contains(&1) && phase[300..500].contains(&0));
        let mut seen = s.order().to_vec();
        seen.sort();
        assert_eq!(seen, (0..1200).collect::<Vec<_>>());
        // Batches read the samples in that order, the same every epoch.
        let first: Vec<f32> = s.epoch_batches(1, 50, 0).next().unwrap().unwrap();
        assert_eq!(first, s.epoch_batches(2, 50, 9).next().unwrap().unwrap());
        assert!(first.iter().all(|&c| c < 2.0));
    }

    #[test]
    fn unlabelled_data_and_bad_settings_are_refused() {
        let mut d = data(10, 2);
        assert!(ClassIncremental::new(&d, 0, 0.2, 0).is_err());
        assert!(ClassIncremental::new(&d, 1, 1.0, 0).is_err());
        d.labels = None;
        let e = ClassIncremental::new(&d, 1, 0.2, 0).unwrap_err().to_string();
        assert!(e.contains("no labels") && e.contains("--stream-order shuffled"), "{e}");
    }
}
