use dfdx::prelude::*;

use crate::nn::{Activation, Dense, Dev, FrozenDense, Params};
use crate::{Error, Result};

/// A chain of [`Dense`] layers (a tuple of 1 to 3) with an activation between layers and a
/// chosen one after the last. Each layer's output size is the next one's input size — the
/// compiler checks that wherever sizes are `Const`.
pub trait DenseStack: Params + Sized + Send {
    /// The width it reads.
    type In: Dim;
    /// The width it outputs.
    type Out: Dim;

    /// Builds the stack for widths `[in, …, out]`; fails when the count or a `Const` size
    /// disagrees.
    fn from_widths(dev: &Dev, widths: &[usize]) -> Result<Self>;

    /// Input features.
    fn input_dim(&self) -> Self::In;

    /// # Shapes
    /// (batch, in) → (batch, out)
    fn forward<B: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(B, Self::In), f32, Dev, T>,
        between: Activation,
        last: Activation,
    ) -> Tensor<(B, Self::Out), f32, Dev, T> {
        self.forward_with(x, between, last, true)
    }

    /// [`DenseStack::forward`]; without `input_grad` the first layer skips the input's
    /// gradient ([`Dense::forward_act_data`]), for data that needs none.
    fn forward_with<B: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(B, Self::In), f32, Dev, T>,
        between: Activation,
        last: Activation,
        input_grad: bool,
    ) -> Tensor<(B, Self::Out), f32, Dev, T>;

    /// Each layer's weights, first to last, frozen for inference ([`FrozenDense`]).
    fn freeze(&self) -> Vec<FrozenDense>;

    /// [`DenseStack::forward_with`] (no input gradient) and the output's tangent along `t`:
    /// the Jacobian–vector product, layer by layer `ṫ = act'(a) ⊙ t Wᵀ`, on the same tape.
    fn forward_jvp<B: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(B, Self::In), f32, Dev, T>,
        t: Tensor<(B, Self::In), f32, Dev>,
        between: Activation,
        last: Activation,
    ) -> (Tensor<(B, Self::Out), f32, Dev, T>, Tensor<(B, Self::Out), f32, Dev, T>);

    /// For a one-layer stack `act(x Wᵀ + b)`: the output (no input gradient) and the batch mean
    /// of `‖J‖²_F = Σⱼ act'(aⱼ)² ‖Wⱼ‖²` (Rifai et al. 2011, eq. 5). `None` for deeper stacks.
    fn forward_jacobian_sq<B: Dim, T: Tape<f32, Dev>>(
        &self,
        _x: Tensor<(B, Self::In), f32, Dev, T>,
        _last: Activation,
    ) -> Option<(Tensor<(B, Self::Out), f32, Dev, T>, Tensor<Rank0, f32, Dev, T>)> {
        None
    }
}

/// One layer in tangent mode: `y = act(x Wᵀ + b)` and `ẏ = act'(…) ⊙ t Wᵀ`. The first layer's
/// `x` is data and its `t` a constant probe: neither gets a gradient.
fn layer_jvp<A: Dim, B: Dim, N: Dim, T: Tape<f32, Dev>>(
    l: &Dense<A, B>,
    x: Tensor<(N, A), f32, Dev, T>,
    t: Tensor<(N, A), f32, Dev, T>,
    act: Activation,
    first: bool,
) -> (Tensor<(N, B), f32, Dev, T>, Tensor<(N, B), f32, Dev, T>) {
    let y = if first { l.forward_act_data(x, act) } else { l.forward_act(x, act) };
    let t = act.tangent(y.with_empty_tape(), l.forward_linear(t, !first));
    (y, t)
}

/// The first layer of a stack: its input's gradient only when asked for.
fn first<A: Dim, B: Dim, N: Dim, T: Tape<f32, Dev>>(
    l: &Dense<A, B>,
    x: Tensor<(N, A), f32, Dev, T>,
    act: Activation,
    input_grad: bool,
) -> Tensor<(N, B), f32, Dev, T> {
    if input_grad {
        l.forward_act(x, act)
    } else {
        l.forward_act_data(x, act)
    }
}

fn dim<D: Dim>(widths: &[usize], i: usize) -> Result<D> {
    D::from_size(widths[i]).ok_or_else(|| {
        Error::config("widths", format!("width {} at position {i} does not match this model type's size", widths[i]))
    })
}

fn layer<A: Dim, B: Dim>(dev: &Dev, widths: &[usize], i: usize) -> Result<Dense<A, B>> {
    Ok(Dense::new(dev, dim::<A>(widths, i)?, dim::<B>(widths, i + 1)?))
}

fn check_depth(widths: &[usize], layers: usize) -> Result<()> {
    if widths.len() != layers + 1 {
        return Err(Error::config(
            "hidden",
            format!("{} widths {widths:?} do not make a {layers}-layer stack", widths.len()),
        ));
    }
    Ok(())
}

impl<A: Dim, B: Dim> DenseStack for (Dense<A, B>,) {
    type In = A;
    type Out = B;

    fn from_widths(dev: &Dev, w: &[usize]) -> Result<Self> {
        check_depth(w, 1)?;
        Ok((layer(dev, w, 0)?,))
    }

    fn input_dim(&self) -> A {
        self.0.input()
    }

    fn freeze(&self) -> Vec<FrozenDense> {
        vec![self.0.freeze()]
    }

    fn forward_with<N: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(N, A), f32, Dev, T>,
        _: Activation,
        last: Activation,
        input_grad: bool,
    ) -> Tensor<(N, B), f32, Dev, T> {
        first(&self.0, x, last, input_grad)
    }

    fn forward_jvp<N: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(N, A), f32, Dev, T>,
        t: Tensor<(N, A), f32, Dev>,
        _: Activation,
        last: Activation,
    ) -> (Tensor<(N, B), f32, Dev, T>, Tensor<(N, B), f32, Dev, T>) {
        layer_jvp(&self.0, x, t.put_tape(T::default()), last, true)
    }

    fn forward_jacobian_sq<N: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(N, A), f32, Dev, T>,
        last: Activation,
    ) -> Option<(Tensor<(N, B), f32, Dev, T>, Tensor<Rank0, f32, Dev, T>)> {
        let y = self.0.forward_act_data(x, last); // (batch, out)
        let penalty = self.0.jacobian_sq_mean(y.with_empty_tape(), last);
        Some((y, penalty))
    }
}

impl<A: Dim, B: Dim, C: Dim> DenseStack for (Dense<A, B>, Dense<B, C>) {
    type In = A;
    type Out = C;

    fn from_widths(dev: &Dev, w: &[usize]) -> Result<Self> {
        check_depth(w, 2)?;
        Ok((layer(dev, w, 0)?, layer(dev, w, 1)?))
    }

    fn input_dim(&self) -> A {
        self.0.input()
    }

    fn freeze(&self) -> Vec<FrozenDense> {
        vec![self.0.freeze(), self.1.freeze()]
    }

    fn forward_with<N: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(N, A), f32, Dev, T>,
        act: Activation,
        last: Activation,
        input_grad: bool,
    ) -> Tensor<(N, C), f32, Dev, T> {
        let h = first(&self.0, x, act, input_grad); // (batch, hidden)
        self.1.forward_act(h, last) // (batch, out)
    }

    fn forward_jvp<N: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(N, A), f32, Dev, T>,
        t: Tensor<(N, A), f32, Dev>,
        act: Activation,
        last: Activation,
    ) -> (Tensor<(N, C), f32, Dev, T>, Tensor<(N, C), f32, Dev, T>) {
        let (h, th) = layer_jvp(&self.0, x, t.put_tape(T::default()), act, true); // (batch, hidden)
        layer_jvp(&self.1, h, th, last, false) // (batch, out)
    }
}

impl<A: Dim, B: Dim, C: Dim, D: Dim> DenseStack for (Dense<A, B>, Dense<B, C>, Dense<C, D>) {
    type In = A;
    type Out = D;

    fn from_widths(dev: &Dev, w: &[usize]) -> Result<Self> {
        check_depth(w, 3)?;
        Ok((layer(dev, w, 0)?, layer(dev, w, 1)?, layer(dev, w, 2)?))
    }

    fn input_dim(&self) -> A {
        self.0.input()
    }

    fn freeze(&self) -> Vec<FrozenDense> {
        vec![self.0.freeze(), self.1.freeze(), self.2.freeze()]
    }

    fn forward_with<N: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(N, A), f32, Dev, T>,
        act: Activation,
        last: Activation,
        input_grad: bool,
    ) -> Tensor<(N, D), f32, Dev, T> {
        let h1 = first(&self.0, x, act, input_grad); // (batch, hidden 1)
        let h2 = self.1.forward_act(h1, act); // (batch, hidden 2)
        self.2.forward_act(h2, last) // (batch, out)
    }

    fn forward_jvp<N: Dim, T: Tape<f32, Dev>>(
        &self,
        x: Tensor<(N, A), f32, Dev, T>,
        t: Tensor<(N, A), f32, Dev>,
        act: Activation,
        last: Activation,
    ) -> (Tensor<(N, D), f32, Dev, T>, Tensor<(N, D), f32, Dev, T>) {
        let (h1, t1) = layer_jvp(&self.0, x, t.put_tape(T::default()), act, true); // (batch, hidden 1)
        let (h2, t2) = layer_jvp(&self.1, h1, t1, act, false); // (batch, hidden 2)
        layer_jvp(&self.2, h2, t2, last, false) // (batch, out)
    }
}
