//! Where the trainer's batches come from: [`BatchSource`]. A [`Dataset`] in memory is one; a
//! [`ParquetStream`](super::stream::ParquetStream) over a table larger than memory is another.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use super::Dataset;
use crate::Result;

/// Batches of samples for one epoch after another. `Sync`: the trainer reads it from a
/// thread of the pool ([`crate::nn::on_pool`]).
pub trait BatchSource: Sync {
    /// Samples per epoch.
    fn len(&self) -> usize;
    /// Whether an epoch has no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per sample.
    fn sample_len(&self) -> usize;
    /// The batches of epoch `epoch` (from 1), each a `Vec` of whole samples, in an order that
    /// depends on `(seed, epoch)` only — so a resumed run sees what an uninterrupted one would.
    /// A source that reads files yields the error that stopped it.
    fn epoch_batches(
        &self,
        epoch: usize,
        batch_size: usize,
        seed: u64,
    ) -> Box<dyn Iterator<Item = Result<Vec<f32>>> + '_>;
}

/// The random numbers of epoch `epoch`'s order: a function of `(seed, epoch)` only.
pub(crate) fn epoch_rng(seed: u64, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ epoch as u64)
}

impl BatchSource for Dataset {
    fn len(&self) -> usize {
        Dataset::len(self)
    }
    fn sample_len(&self) -> usize {
        Dataset::sample_len(self)
    }
    fn epoch_batches(
        &self,
        epoch: usize,
        batch_size: usize,
        seed: u64,
    ) -> Box<dyn Iterator<Item = Result<Vec<f32>>> + '_> {
        let mut order: Vec<usize> = (0..Dataset::len(self)).collect();
        order.shuffle(&mut epoch_rng(seed, epoch));
        let d = Dataset::sample_len(self);
        let batches: Vec<Vec<usize>> = order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect();
        Box::new(batches.into_iter().map(move |idx| {
            // Gathered straight into the batch tensor's future buffer: no zeroing, no second copy.
            let mut buf = Vec::with_capacity(idx.len() * d);
            idx.iter().for_each(|&i| buf.extend_from_slice(self.sample(i)));
            Ok(buf)
        }))
    }
}
