//! Layers the models are made of. dfdx's `Linear` fixes both sizes at compile time; [`Dense`]
//! takes each size as a [`Dim`](dfdx::shapes::Dim), so the same layer serves a compile-time
//! checked model (`Const<784>`) and one whose sizes come from a config file (`usize`).

mod activation;
pub mod conv;
mod dense;
pub mod kernels;
pub mod lstm;
mod params;

pub use activation::Activation;
pub use conv::{Conv2d, ConvTranspose2d, Flatten, Image, MaxPool2d, Unflatten, Upsample2d, UpsampleMode};
pub use dense::Dense;
pub use lstm::{repeat_steps, Lstm, Sequence};
pub use params::{join, Param, Params};

/// The device every model runs on today.
pub type Dev = dfdx::tensor::Cpu;
