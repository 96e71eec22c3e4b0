//! Named parameters. dfdx's `TensorCollection` only admits tensors whose shapes are all
//! compile-time constants, but a model read from a config has `usize` sizes; this small trait
//! walks any model's tensors by name instead, for the optimiser and checkpoints.

use dfdx::prelude::*;

use super::Dev;

/// One parameter tensor with its shape erased.
pub trait Param {
    /// The concrete shape, e.g. `[32, 784]`.
    fn dims(&self) -> Vec<usize>;
    /// The values, row-major.
    fn values(&self) -> Vec<f32>;
    /// The values into `out`, which must have exactly as many.
    fn copy_to(&self, out: &mut [f32]);
    /// Overwrites the values (same length).
    fn set_values(&mut self, values: &[f32]);
    /// Adds a zeroed gradient slot for this tensor to `grads`.
    fn alloc_grad(&self, grads: &mut Gradients<f32, Dev>);
    /// This tensor's gradient (its slot must exist, see [`Param::alloc_grad`]).
    fn grad(&self, grads: &Gradients<f32, Dev>) -> Vec<f32>;
    /// This tensor's gradient, borrowed: no copy (a zeroed slot is added when missing).
    fn grad_slice<'g>(&self, grads: &'g mut Gradients<f32, Dev>) -> &'g [f32];
    /// Replaces the tensor by a copy with a new dfdx tensor id (same values and shape).
    fn refresh_id(&mut self);
}

impl<S: Shape> Param for Tensor<S, f32, Dev> {
    fn dims(&self) -> Vec<usize> {
        self.shape().concrete().into_iter().collect()
    }
    fn values(&self) -> Vec<f32> {
        super::values(self)
    }
    fn copy_to(&self, out: &mut [f32]) {
        self.copy_into(out)
    }
    fn set_values(&mut self, values: &[f32]) {
        self.copy_from(values)
    }
    fn alloc_grad(&self, grads: &mut Gradients<f32, Dev>) {
        grads.try_alloc_for(self).expect("CPU allocation of a gradient");
    }
    fn grad(&self, grads: &Gradients<f32, Dev>) -> Vec<f32> {
        super::values(&grads.get(self))
    }
    fn grad_slice<'g>(&self, grads: &'g mut Gradients<f32, Dev>) -> &'g [f32] {
        grads.get_or_alloc_mut(self).expect("CPU allocation of a gradient")
    }
    fn refresh_id(&mut self) {
        *self = self.device().tensor_from_vec(super::values(self), *self.shape());
    }
}

/// Something made of named parameters; names join with dots (`encoder.0.weight`).
pub trait Params {
    /// Calls `f` with each parameter and its full name, in a fixed order.
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param));
    /// The same, mutably.
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param));

    /// Called with the shapes a weights file gives its tensors (by name) before the file is
    /// loaded: a model whose sizes change while it trains (an adaptive autoencoder) takes the
    /// file's sizes here. Fixed-size models ignore it (the default); the load then checks
    /// every shape.
    fn conform(&mut self, _shape_of: &dyn Fn(&str) -> Option<Vec<usize>>) {}

    /// Fresh gradients with a zeroed slot for every parameter, to trace a step with.
    fn alloc_grads(&self) -> Gradients<f32, Dev> {
        let mut g = Gradients::leaky();
        self.visit("", &mut |_, p| p.alloc_grad(&mut g));
        g
    }

    /// Gives every parameter a new tensor id from the calling code's id counter.
    ///
    /// dfdx keys gradients by tensor id, drawn from a counter in a `static`. In an evcxr
    /// notebook every cell is a separate library linking its own copy of dfdx, so a model built
    /// in one cell holds ids that the next cell's counter hands out again, to the activations of
    /// the step being traced: the gradients then collide (dfdx panics with "index out of
    /// bounds" in backward). Drawing fresh ids from the training code's own counter before
    /// tracing makes the parameters' ids distinct from every tensor that code creates later.
    /// [`fit`](crate::train::fit) does this; a hand-written training loop should too.
    fn refresh_ids(&mut self) {
        self.visit_mut("", &mut |_, p| p.refresh_id());
    }

    /// One row per parameter tensor: name, shape and number of values — the model's layers
    /// (`viz::Table::from(model.summary())` shows them as a table).
    fn summary(&self) -> Vec<ParamRow> {
        let mut rows = Vec::new();
        self.visit("", &mut |name, p| rows.push(ParamRow { name, shape: p.dims() }));
        rows
    }

    /// Number of scalar parameters.
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit("", &mut |_, p| n += p.dims().iter().product::<usize>());
        n
    }
}

/// One parameter tensor in [`Params::summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRow {
    /// Its name in checkpoints (`encoder.0.weight`).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

impl ParamRow {
    /// Its number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `prefix.name`, or `name` at the top level.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl<S: Shape> Params for Tensor<S, f32, Dev> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        f(prefix.to_string(), self)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        f(prefix.to_string(), self)
    }
}

macro_rules! tuple_params {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Params),+> Params for ($($name,)+) {
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
                $(self.$idx.visit(&join(prefix, stringify!($idx)), f);)+
            }
            fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
                $(self.$idx.visit_mut(&join(prefix, stringify!($idx)), f);)+
            }
        }
    };
}
tuple_params!(A 0);
tuple_params!(A 0, B 1);
tuple_params!(A 0, B 1, C 2);
tuple_params!(A 0, B 1, C 2, D 3);

/// The parameters of `model` whose names start with one of `prefixes` (`"encoder"`,
/// `"discriminator"`): a parameter group, for an optimiser that updates only those (an
/// adversarial autoencoder's three phases).
pub struct Subset<'a, M: ?Sized> {
    model: &'a mut M,
    prefixes: &'a [&'a str],
}

impl<'a, M: Params + ?Sized> Subset<'a, M> {
    /// The parameters of `model` named `prefix…` for one of `prefixes`.
    pub fn new(model: &'a mut M, prefixes: &'a [&'a str]) -> Self {
        Self { model, prefixes }
    }
}

impl<M: Params + ?Sized> Params for Subset<'_, M> {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(String, &dyn Param)) {
        let keep = self.prefixes;
        self.model.visit(prefix, &mut |name, p| {
            if keep.iter().any(|k| name.starts_with(k)) {
                f(name, p)
            }
        });
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(String, &mut dyn Param)) {
        let keep = self.prefixes;
        self.model.visit_mut(prefix, &mut |name, p| {
            if keep.iter().any(|k| name.starts_with(k)) {
                f(name, p)
            }
        });
    }
}
