//! Layers the models are made of. dfdx's `Linear` fixes both sizes at compile time; [`Dense`]
//! takes each size as a [`Dim`](dfdx::shapes::Dim), so the same layer serves a compile-time
//! checked model (`Const<784>`) and one whose sizes come from a config file (`usize`).

mod activation;
pub mod conv;
mod dense;
pub mod kernels;
pub mod lstm;
pub mod math;
mod params;
#[cfg(target_arch = "x86_64")]
mod sgemm;

pub use activation::Activation;
pub use conv::{Conv2d, ConvTranspose2d, Flatten, Image, MaxPool2d, Unflatten, Upsample2d, UpsampleMode};
pub use dense::Dense;
pub use lstm::{repeat_steps, Lstm, Sequence};
pub use params::{join, Param, Params};

/// The device every model runs on today.
pub type Dev = dfdx::tensor::Cpu;

/// The values of a **contiguous** tensor, copied with one `memcpy`. dfdx's `as_vec` walks
/// every index through the strides, which took an eighth of a dense training step (`perf`).
/// Layers make their input contiguous first (`.contiguous()`, free when it already is);
/// parameters and their gradients always are.
pub fn values<S: dfdx::shapes::Shape, T>(t: &dfdx::tensor::Tensor<S, f32, Dev, T>) -> Vec<f32> {
    use dfdx::shapes::HasShape;
    let mut v = vec![0.0; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}
