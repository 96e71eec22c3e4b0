use dfdx::prelude::*;
use rand_distr::Uniform;

use super::{join, Dev, Param, Params};

/// A fully connected layer `y = x Wᵀ + b`, with each size a [`Dim`]: `Const<N>` when known
/// at compile time, `usize` when read from a config.
///
/// Weights are named `weight` (out × in) and `bias` (out), as in PyTorch's `nn.Linear`, so
/// checkpoints map one to one.
#[derive(Debug, Clone)]
pub struct Dense<I: Dim, O: Dim> {
    pub weight: Tensor<(O, I), f32, Dev>,
    pub bias: Tensor<(O,), f32, Dev>,
}

impl<I: Dim, O: Dim> Dense<I, O> {
    /// A new layer initialised like PyTorch's `nn.Linear`: weight and bias uniform in
    /// ±1/√in.
    pub fn new(dev: &Dev, input: I, output: O) -> Self {
        let bound = 1.0 / (input.size().max(1) as f32).sqrt();
        let u = Uniform::new(-bound, bound);
        Self { weight: dev.sample_like(&(output, input), u), bias: dev.sample_like(&(output,), u) }
    }

    /// Input features.
    pub fn input(&self) -> I {
        self.weight.shape().1
    }

    /// Output features.
    pub fn output(&self) -> O {
        self.weight.shape().0
    }

    /// Applies the layer to a batch.
    ///
    /// # Shapes
    /// `x`: (batch, in) → (batch, out)
    pub fn forward<B: Dim, T: Tape<f32, Dev>>(&self, x: Tensor<(B, I), f32, Dev, T>) -> Tensor<(B, O), f32, Dev, T> {
        let y = x.matmul(self.weight.retaped::<T>().permute()); // (batch, out)
        let shape = *y.shape();
        y + self.bias.retaped::<T>().broadcast_like(&shape)
    }
}

impl<I: Dim, O: Dim> Params for Dense<I, O> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        f(join(prefix, "weight"), &self.weight);
        f(join(prefix, "bias"), &self.bias);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        f(join(prefix, "weight"), &mut self.weight);
        f(join(prefix, "bias"), &mut self.bias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_matches_a_hand_computation_and_const_and_runtime_dims_agree() {
        let dev = Dev::seed_from_u64(0);
        let mut l: Dense<Const<3>, Const<2>> = Dense::new(&dev, Const, Const);
        l.weight = dev.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]);
        l.bias = dev.tensor([0.5, -0.5]);
        let x = dev.tensor([[1.0, 1.0, 1.0], [0.0, 2.0, -1.0]]).realize::<(usize, Const<3>)>();
        assert_eq!(l.forward(x.clone()).as_vec(), vec![6.5, -1.0, 1.5, 0.5]);

        let mut d: Dense<usize, usize> = Dense::new(&dev, 3, 2);
        d.weight.copy_from(&l.weight.as_vec());
        d.bias.copy_from(&l.bias.as_vec());
        let xd = x.realize::<(usize, usize)>();
        assert_eq!(d.forward(xd).as_vec(), vec![6.5, -1.0, 1.5, 0.5]);
    }

    #[test]
    fn init_bounds_follow_fan_in() {
        let dev = Dev::seed_from_u64(1);
        let l: Dense<usize, usize> = Dense::new(&dev, 400, 3);
        assert!(l.weight.as_vec().iter().all(|w| w.abs() <= 0.05));
        assert!(l.weight.as_vec().iter().any(|w| w.abs() > 0.04));
    }
}
