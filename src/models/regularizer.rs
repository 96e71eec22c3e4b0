//! What a sparse or a contractive autoencoder adds to the reconstruction loss: a penalty on the
//! code ([`Sparsity`]: L1, or KL toward a target mean activation) or on the encoder's Jacobian
//! ([`Contractive`], Rifai et al. 2011). Each is a serde config (stored in `config.json`), a
//! command-line spec (`l1:1e-5`, `kl:0.05:3`, `1e-4`, `1e-4:hutchinson`) and a loss term on the
//! tape.
//!
//! Scales follow Keras: the reconstruction loss is a mean per element, the L1 term is
//! `λ · mean over samples of Σⱼ|cⱼ|` (Keras' `activity_regularizer=l1(λ)`), the contractive term
//! `λ · mean over samples of ‖J_f(x)‖²_F`.

use std::fmt;
use std::str::FromStr;

use dfdx::prelude::*;
use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Autoencoder, ModelConfig};
use crate::nn::Activation;
use crate::nn::{values, Dev};
use crate::{Error, Result};

/// A sparsity penalty on the code (`--sparsity`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Sparsity {
    /// `weight · mean over samples of Σⱼ |cⱼ|` (`l1:WEIGHT`; the Keras blog's sparse model).
    L1 {
        /// λ ≥ 0.
        weight: f32,
    },
    /// `weight · Σⱼ KL(ρ ‖ ρ̂ⱼ)`, with `ρ̂ⱼ` code unit j's mean activation over the batch
    /// (`kl:RHO:WEIGHT`; Ng's sparse autoencoder). Needs a sigmoid code, whose values are
    /// activation probabilities in (0, 1).
    Kl {
        /// The target mean activation ρ, in (0, 1).
        rho: f32,
        /// β ≥ 0.
        weight: f32,
    },
}

impl FromStr for Sparsity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |what: &str| Error::config("sparsity", format!("`{s}`: {what}; expected l1:WEIGHT or kl:RHO:WEIGHT"));
        let parts: Vec<&str> = s.split(':').map(str::trim).collect();
        let num = |v: &str| v.parse::<f32>().map_err(|_| bad(&format!("`{v}` is not a number")));
        let sparsity = match parts.as_slice() {
            ["l1", w] => Sparsity::L1 { weight: num(w)? },
            ["kl", rho, w] => Sparsity::Kl { rho: num(rho)?, weight: num(w)? },
            ["l1" | "kl", ..] => return Err(bad("wrong number of values")),
            _ => return Err(bad("unknown kind")),
        };
        sparsity.validate()?;
        Ok(sparsity)
    }
}

impl fmt::Display for Sparsity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sparsity::L1 { weight } => write!(f, "l1:{weight}"),
            Sparsity::Kl { rho, weight } => write!(f, "kl:{rho}:{weight}"),
        }
    }
}

impl Sparsity {
    /// Checks the values: weights finite and ≥ 0, ρ strictly between 0 and 1.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::config("sparsity", format!("`{self}`: {what}")));
        match *self {
            Sparsity::L1 { weight } | Sparsity::Kl { weight, .. } if !(weight.is_finite() && weight >= 0.0) => {
                bad(format!("the weight {weight} must be a number ≥ 0"))
            }
            Sparsity::Kl { rho, .. } if !(rho > 0.0 && rho < 1.0) => {
                bad(format!("the target activation ρ = {rho} must be within (0, 1), e.g. kl:0.05:3"))
            }
            _ => Ok(()),
        }
    }

    /// The penalty of a batch of codes, on the tape: one operation, its gradient written by
    /// hand (checked against finite differences in the tests).
    pub fn penalty<S: Shape, T: Tape<f32, Dev>>(&self, code: Tensor<S, f32, Dev, T>) -> Tensor<Rank0, f32, Dev, T> {
        let batch = code.shape().concrete().into_iter().next().unwrap_or(1).max(1);
        let (c, mut tape) = code.contiguous().split_tape();
        let cv = values(&c);
        let width = cv.len() / batch;
        let (value, grad) = match *self {
            Sparsity::L1 { weight } => l1(&cv, batch, weight),
            Sparsity::Kl { rho, weight } => kl(&cv, width, batch, rho, weight),
        };
        let out = c.device().tensor(value as f32);
        let (c_g, out_g) = (c.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let up = grads.get_or_alloc_mut(&out_g)?[0];
            let gc = grads.get_or_alloc_mut(&c_g)?;
            gc.iter_mut().zip(&grad).for_each(|(g, &d)| *g += up * d);
            Ok(())
        });
        out.put_tape(tape)
    }
}

/// `λ/B Σ|c|` and its gradient `λ/B · sign(c)` (0 at 0).
fn l1(c: &[f32], batch: usize, weight: f32) -> (f64, Vec<f32>) {
    let scale = weight / batch as f32;
    let value = c.iter().map(|&v| v.abs() as f64).sum::<f64>() * scale as f64;
    let grad = c.iter().map(|&v| if v == 0.0 { 0.0 } else { scale * v.signum() }).collect();
    (value, grad)
}

/// Mean activations below this (or above 1 − it) are clamped in the KL term: a dead unit's
/// `ln ρ̂` would otherwise be −∞.
const KL_CLAMP: f64 = 1e-6;

/// `β Σⱼ KL(ρ ‖ ρ̂ⱼ)` and its gradient `β/B · (−ρ/ρ̂ⱼ + (1−ρ)/(1−ρ̂ⱼ))` for every code value of unit j.
fn kl(c: &[f32], width: usize, batch: usize, rho: f32, weight: f32) -> (f64, Vec<f32>) {
    let (rho, beta) = (rho as f64, weight as f64);
    let mut mean = vec![0.0f64; width];
    for row in c.chunks_exact(width) {
        mean.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
    }
    let mut value = 0.0;
    let mut slope = vec![0.0f32; width];
    for (m, s) in mean.iter_mut().zip(&mut slope) {
        let clamped = (*m / batch as f64).clamp(KL_CLAMP, 1.0 - KL_CLAMP);
        value += rho * (rho / clamped).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - clamped)).ln();
        *s = (beta / batch as f64 * (-rho / clamped + (1.0 - rho) / (1.0 - clamped))) as f32;
        *m = clamped;
    }
    let grad = c.chunks_exact(width).flat_map(|_| slope.iter().copied()).collect();
    (beta * value, grad)
}

/// How the contractive penalty gets `‖J_f(x)‖²_F`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JacobianMethod {
    /// The exact closed form where the model has one (a one-layer dense encoder), else the
    /// estimator.
    #[default]
    Auto,
    /// The closed form `Σⱼ act'(aⱼ)² ‖Wⱼ‖²` of a one-layer dense encoder `act(W x + b)`.
    Exact,
    /// Hutchinson's estimator `‖J u‖²` with a random ±1 probe `u` per sample: unbiased, since
    /// `E[uuᵀ] = I` gives `E‖J u‖² = tr(JᵀJ) = ‖J‖²_F`. `J u` is a forward-mode tangent
    /// (a Jacobian–*vector* product) carried through the encoder's layers: built from ordinary
    /// operations, it is differentiated by dfdx's reverse mode like any loss. The estimator
    /// the issue first suggested, `‖uᵀJ‖²` from reverse-mode vector–Jacobian products, is
    /// unbiased too, but training on it needs the gradient of a backward pass (double
    /// backward), which dfdx does not have.
    Hutchinson,
}

/// The contractive penalty `weight · mean ‖J_f(x)‖²_F` (`--contractive WEIGHT[:exact|:hutchinson]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contractive {
    /// λ ≥ 0.
    pub weight: f32,
    /// How ‖J‖²_F is computed.
    #[serde(default)]
    pub method: JacobianMethod,
}

impl FromStr for Contractive {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |what: &str| {
            Error::config("contractive", format!("`{s}`: {what}; expected WEIGHT, WEIGHT:exact or WEIGHT:hutchinson"))
        };
        let (w, method) = s.split_once(':').unwrap_or((s, "auto"));
        let weight = w.trim().parse().map_err(|_| bad("the weight is not a number"))?;
        let method = match method.trim() {
            "auto" => JacobianMethod::Auto,
            "exact" => JacobianMethod::Exact,
            "hutchinson" => JacobianMethod::Hutchinson,
            _ => return Err(bad("unknown method")),
        };
        let c = Contractive { weight, method };
        c.validate()?;
        Ok(c)
    }
}

impl fmt::Display for Contractive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method {
            JacobianMethod::Auto => write!(f, "{}", self.weight),
            JacobianMethod::Exact => write!(f, "{}:exact", self.weight),
            JacobianMethod::Hutchinson => write!(f, "{}:hutchinson", self.weight),
        }
    }
}

impl Contractive {
    /// Checks the weight: finite and ≥ 0.
    pub fn validate(&self) -> Result<()> {
        if self.weight.is_finite() && self.weight >= 0.0 {
            return Ok(());
        }
        Err(Error::config("contractive", format!("`{self}`: the weight {} must be a number ≥ 0", self.weight)))
    }

    /// The code of `x` and the batch mean of `‖J_f(x)‖²_F` (exact or estimated, as
    /// [`Contractive::method`] says; the estimator's probes drawn from `rng`), both on `x`'s
    /// tape. `None` when the model has no Jacobian products (or no closed form, for `Exact`).
    pub fn encode<M: Autoencoder, T: Tape<f32, Dev>>(
        &self,
        model: &M,
        x: Tensor<M::Input, f32, Dev, T>,
        rng: &mut StdRng,
    ) -> Option<(Tensor<M::Code, f32, Dev, T>, Tensor<Rank0, f32, Dev, T>)> {
        if self.method != JacobianMethod::Hutchinson && model.has_exact_jacobian() {
            return model.encode_jacobian_sq(x);
        }
        if self.method == JacobianMethod::Exact {
            return None;
        }
        let shape = *x.shape();
        let batch = shape.concrete().into_iter().next().unwrap_or(1).max(1);
        let probe: Vec<f32> = (0..shape.num_elements()).map(|_| if rng.gen::<bool>() { 1.0 } else { -1.0 }).collect();
        let u = x.device().tensor_from_vec(probe, shape);
        let (code, tangent) = model.encode_jvp(x, u)?;
        Some((code, tangent.square().sum::<Rank0, _>() / batch as f32))
    }
}

impl ModelConfig {
    /// Checks that this model can be trained with these regularisers: a KL sparsity penalty
    /// needs a sigmoid code, the contractive penalty the family's Jacobian products (and its
    /// closed form, for `:exact`). The error names the flag and what would work.
    pub fn check_regularizers(&self, sparsity: Option<&Sparsity>, contractive: Option<&Contractive>) -> Result<()> {
        if let Some(s) = sparsity {
            s.validate()?;
            let code = self.code_activation();
            if matches!(s, Sparsity::Kl { .. }) && code != Activation::Sigmoid {
                return Err(Error::config(
                    "sparsity",
                    format!(
                        "`{s}` needs a sigmoid code (mean activations in (0, 1)), and this {} model's code is {code}; \
                         add --code-activation sigmoid, or use l1:WEIGHT",
                        self.family()
                    ),
                ));
            }
        }
        if let Some(c) = contractive {
            c.validate()?;
            let support = self.jacobian().map_err(|why| {
                Error::config("contractive", format!("{why}: --contractive applies to dense and conv models only"))
            })?;
            if c.method == JacobianMethod::Exact && !support.exact {
                return Err(Error::config(
                    "contractive",
                    format!(
                        "`{c}`: the closed form exists for a one-layer dense encoder only (no --hidden); this is {}. \
                         Use --contractive {}:hutchinson",
                        self.describe(),
                        c.weight
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_name_the_flag_and_the_range() {
        assert_eq!("l1:1e-5".parse::<Sparsity>().unwrap(), Sparsity::L1 { weight: 1e-5 });
        assert_eq!("kl:0.05:3".parse::<Sparsity>().unwrap(), Sparsity::Kl { rho: 0.05, weight: 3.0 });
        assert_eq!("kl:0.05:3".parse::<Sparsity>().unwrap().to_string(), "kl:0.05:3");
        for (bad, says) in [
            ("kl:2:1", "within (0, 1)"),
            ("kl:0:1", "within (0, 1)"),
            ("l1:-1", "≥ 0"),
            ("l1", "wrong number"),
            ("l2:1", "unknown kind"),
            ("kl:x:1", "not a number"),
        ] {
            let e = bad.parse::<Sparsity>().unwrap_err().to_string();
            assert!(e.contains("sparsity") && e.contains(says), "{bad}: {e}");
        }
        assert_eq!("1e-4".parse::<Contractive>().unwrap(), Contractive { weight: 1e-4, method: JacobianMethod::Auto });
        assert_eq!("1e-4:hutchinson".parse::<Contractive>().unwrap().to_string(), "0.0001:hutchinson");
        for bad in ["-1", "x", "1:fast", "NaN"] {
            let e = bad.parse::<Contractive>().unwrap_err().to_string();
            assert!(e.contains("contractive"), "{bad}: {e}");
        }
    }
}
