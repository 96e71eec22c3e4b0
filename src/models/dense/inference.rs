//! The dense model frozen for inference ([`Inference`]).

use crate::models::Inference;
use crate::nn::{Activation, FrozenDense};

/// Each layer with the activation after it; encoder then decoder.
pub(super) struct DenseInference {
    layers: Vec<(FrozenDense, Activation)>,
    encoder_layers: usize,
    /// Two work buffers the hidden layers write in turn.
    buffers: [Vec<f32>; 2],
}

impl DenseInference {
    /// `None` when an activation is GELU, which has no fused form ([`FrozenDense`]).
    pub(super) fn new(encoder: Vec<FrozenDense>, decoder: Vec<FrozenDense>, acts: Acts) -> Option<Self> {
        if [acts.between, acts.code, acts.output].contains(&Activation::Gelu) {
            return None;
        }
        let last = |i: usize, n: usize, end: Activation| if i + 1 == n { end } else { acts.between };
        let (ne, nd) = (encoder.len(), decoder.len());
        let mut layers: Vec<_> = encoder.into_iter().enumerate().map(|(i, l)| (l, last(i, ne, acts.code))).collect();
        layers.extend(decoder.into_iter().enumerate().map(|(i, l)| (l, last(i, nd, acts.output))));
        Some(Self { layers, encoder_layers: ne, buffers: Default::default() })
    }

    /// Runs `layers[range]` on the `n` rows of `x`, appending the last one's output to `out`.
    fn run(&mut self, range: std::ops::Range<usize>, x: &[f32], n: usize, out: &mut Vec<f32>) {
        let [mut cur, mut next] = std::mem::take(&mut self.buffers);
        let end = range.end;
        for i in range.clone() {
            let (layer, act) = &self.layers[i];
            let src: &[f32] = if i == range.start { x } else { &cur };
            if i + 1 == end {
                let start = out.len();
                out.resize(start + n * layer.output(), 0.0);
                layer.forward_into(src, n, *act, &mut out[start..]);
            } else {
                next.resize(n * layer.output(), 0.0);
                layer.forward_into(src, n, *act, &mut next);
                std::mem::swap(&mut cur, &mut next);
            }
        }
        self.buffers = [cur, next];
    }
}

/// The dense model's three activations: between layers, on the code, on the output.
#[derive(Debug, Clone, Copy)]
pub(super) struct Acts {
    pub between: Activation,
    pub code: Activation,
    pub output: Activation,
}

impl Inference for DenseInference {
    fn input_len(&self) -> usize {
        self.layers[0].0.input()
    }

    fn code_len(&self) -> usize {
        self.layers[self.encoder_layers - 1].0.output()
    }

    fn encode_into(&mut self, x: &[f32], n: usize, out: &mut Vec<f32>) {
        self.run(0..self.encoder_layers, x, n, out);
    }

    fn decode_into(&mut self, z: &[f32], n: usize, out: &mut Vec<f32>) {
        self.run(self.encoder_layers..self.layers.len(), z, n, out);
    }

    fn reconstruct_into(&mut self, x: &[f32], n: usize, out: &mut Vec<f32>) {
        self.run(0..self.layers.len(), x, n, out);
    }
}

#[cfg(test)]
mod tests {

    use crate::models::dense::{Dense0, Dense2, DenseConfig};
    use crate::models::inference::assert_frozen_agrees;
    use crate::models::Autoencoder;
    use crate::nn::{Activation, Dev};

    #[test]
    fn frozen_dense_models_match_the_tape_path_bit_for_bit() {
        let dev = Dev::seed_from_u64(1);
        let deep = DenseConfig {
            code_activation: Activation::Tanh,
            output_activation: Activation::Sigmoid,
            ..DenseConfig::shallow(300, 7).with_hidden(&[64, 20])
        };
        let model = Dense2::new(&dev, &deep).unwrap();
        // One row; an odd batch; one large enough that every pass splits across threads.
        for n in [1, 37, 600] {
            assert_frozen_agrees(&model, n);
        }
        assert_frozen_agrees(&Dense0::new(&dev, &DenseConfig::shallow(50, 4)).unwrap(), 9);
    }

    #[test]
    fn gelu_keeps_the_tape_path() {
        let cfg = DenseConfig { activation: Activation::Gelu, ..DenseConfig::shallow(10, 2).with_hidden(&[4]) };
        let model = crate::models::dense::Dense1::new(&Dev::seed_from_u64(0), &cfg).unwrap();
        assert!(model.inference().is_none());
    }
}
