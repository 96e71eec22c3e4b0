use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Hyperparameters of a variational autoencoder (`--variant vae`), beside its backbone's.
///
/// The decoder's likelihood follows the backbone's loss: `bce` is a Bernoulli decoder (logits,
/// for data in [0, 1], as in Kingma & Welling and PyTorch's example), `mse` a Gaussian decoder
/// of **fixed unit variance** (for standardised data: `−log p(x|z) = ½‖x − x̂‖² + ½·d·ln 2π`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeConfig {
    /// The KL term's weight (`--beta`): 1 is the ELBO; β > 1 trades reconstruction for a code
    /// closer to the prior (Higgins et al. 2017's β-VAE).
    #[serde(default = "one")]
    pub beta: f32,
}

fn one() -> f32 {
    1.0
}

impl Default for VaeConfig {
    fn default() -> Self {
        Self { beta: 1.0 }
    }
}

impl VaeConfig {
    /// Checks every field; the error names the field and the fix.
    pub fn validate(&self) -> Result<()> {
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::config("beta", format!("β {} must be a number ≥ 0 (1: the ELBO)", self.beta)));
        }
        Ok(())
    }
}
