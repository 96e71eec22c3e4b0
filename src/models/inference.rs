//! Inference without the tape: a trained model's weights frozen once, then batch after batch
//! through the same kernels as training's forward pass — no gradient bookkeeping, no copy of
//! the weights or the input per call, work buffers reused between batches. Encoding or
//! scoring a dataset is what users do most after training (features, anomaly scores,
//! compression); [`crate::train::encode_all`] and [`crate::train::reconstruct_all`] take this
//! path whenever a model offers it ([`crate::models::Autoencoder::inference`]).

/// A model frozen for inference over many batches. Its outputs equal the model's `encode`
/// and `reconstruct` on tensors bit for bit (tested per family that has one).
pub trait Inference: Send {
    /// Values per sample going in.
    fn input_len(&self) -> usize;

    /// Values per code.
    fn code_len(&self) -> usize;

    /// Appends the codes of the `n` samples in `x` (n × input) to `out` (n × code more).
    fn encode_into(&mut self, x: &[f32], n: usize, out: &mut Vec<f32>);

    /// Appends their reconstructions (after the output activation) to `out` (n × input more).
    fn reconstruct_into(&mut self, x: &[f32], n: usize, out: &mut Vec<f32>);
}
