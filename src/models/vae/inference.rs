//! The VAE frozen for inference ([`Inference`]): its backbone's frozen form, with the means μ
//! taken from each `[μ | log σ²]` row, as [`super::means`] does on the tape.

use crate::models::Inference;

pub(super) struct VaeInference {
    /// The backbone, whose codes are `[μ | log σ²]` rows (2 × latent).
    backbone: Box<dyn Inference>,
    /// The backbone's codes of the current batch.
    stats: Vec<f32>,
    /// The means of the current batch, for `reconstruct_into`.
    codes: Vec<f32>,
}

impl VaeInference {
    pub(super) fn new(backbone: Box<dyn Inference>) -> Self {
        Self { backbone, stats: Vec::new(), codes: Vec::new() }
    }
}

impl Inference for VaeInference {
    fn input_len(&self) -> usize {
        self.backbone.input_len()
    }

    fn code_len(&self) -> usize {
        self.backbone.code_len() / 2
    }

    fn encode_into(&mut self, x: &[f32], n: usize, out: &mut Vec<f32>) {
        let latent = self.code_len();
        self.stats.clear();
        self.backbone.encode_into(x, n, &mut self.stats);
        out.reserve(n * latent);
        self.stats.chunks_exact(2 * latent).for_each(|row| out.extend_from_slice(&row[..latent]));
    }

    fn decode_into(&mut self, z: &[f32], n: usize, out: &mut Vec<f32>) {
        self.backbone.decode_into(z, n, out);
    }

    /// Decodes the means μ, as [`crate::models::Autoencoder::reconstruct`] does.
    fn reconstruct_into(&mut self, x: &[f32], n: usize, out: &mut Vec<f32>) {
        let mut codes = std::mem::take(&mut self.codes);
        codes.clear();
        self.encode_into(x, n, &mut codes);
        self.backbone.decode_into(&codes, n, out);
        self.codes = codes;
    }
}
