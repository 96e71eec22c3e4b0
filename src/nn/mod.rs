//! Layers the models are made of. dfdx's `Linear` fixes both sizes at compile time; [`Dense`]
//! takes each size as a [`Dim`](dfdx::shapes::Dim), so the same layer serves a compile-time
//! checked model (`Const<784>`) and one whose sizes come from a config file (`usize`).

mod activation;
mod dense;
mod params;

pub use activation::Activation;
pub use dense::Dense;
pub use params::{join, Param, Params};

/// The device every model runs on today.
pub type Dev = dfdx::tensor::Cpu;
