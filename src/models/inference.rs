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

    /// Appends the decoder's outputs (after the output activation) for the `n` codes in `z`
    /// (n × code) to `out` (n × input more).
    fn decode_into(&mut self, z: &[f32], n: usize, out: &mut Vec<f32>);

    /// Appends their reconstructions (after the output activation) to `out` (n × input more).
    fn reconstruct_into(&mut self, x: &[f32], n: usize, out: &mut Vec<f32>);
}

/// Test support: a model's frozen form against its tape path on `n` samples, bit for bit —
/// codes, reconstructions, decoding the codes — and appending rather than overwriting.
#[cfg(test)]
pub(crate) fn assert_frozen_agrees<M: super::Autoencoder>(model: &M, n: usize) {
    use crate::nn::Dev;
    use dfdx::prelude::*;
    let dev = Dev::seed_from_u64(3);
    let shape = model.input_shape(n);
    let d = shape.num_elements() / n;
    let data: Vec<f32> = (0..n * d).map(|i| ((i * 7919) % 1000) as f32 / 1000.0).collect();
    let x = || dev.tensor_from_vec(data.clone(), shape);
    let mut frozen = model.inference().expect("a frozen form");
    assert_eq!((frozen.input_len(), frozen.code_len()), (d, model.code_len()));
    let (mut codes, mut recon, mut decoded) = (vec![1.0], vec![2.0], vec![3.0]);
    frozen.encode_into(&data, n, &mut codes);
    frozen.reconstruct_into(&data, n, &mut recon);
    frozen.decode_into(&codes[1..], n, &mut decoded);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&codes[1..]), bits(&model.encode(x()).as_vec()), "codes, n = {n}");
    assert_eq!(bits(&recon[1..]), bits(&model.reconstruct(x()).as_vec()), "reconstructions, n = {n}");
    assert_eq!(bits(&decoded[1..]), bits(&recon[1..]), "decoding the codes, n = {n}");
    assert_eq!((codes[0], recon[0], decoded[0]), (1.0, 2.0, 3.0));
}
