//! The one place that knows every model family: [`ModelConfig`], the tagged union of their
//! configs that `config.json` stores, and its dispatch to each family's [`Family`] methods.
//! Adding a family is one line in the `families!` list below.

use serde::{Deserialize, Serialize};

use super::family::{BuildOptions, CardText, Family, ModelVisitor};
use super::{conv, dense, lstm};
use crate::nn::Dev;
use crate::{Error, Result};

/// Declares [`ModelConfig`] with one variant per family and forwards each method to it.
macro_rules! families {
    ($($variant:ident => $family:ty),+ $(,)?) => {
        /// Every model this library can build, as written in `config.json`
        /// (`{"kind": "dense", …}`): one variant per registered [`Family`].
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum ModelConfig {
            $(
                #[doc = concat!("A [`", stringify!($family), "`] model.")]
                $variant(<$family as Family>::Config),
            )+
        }

        /// The `--model` names of every registered family, with their one-line descriptions.
        pub const FAMILIES: &[(&str, &str)] = &[$((<$family>::NAME, <$family>::ABOUT)),+];

        impl ModelConfig {
            /// The family's name (`dense`), as in `config.json` and `--model`.
            pub fn family(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$family>::NAME),+ }
            }
            /// Checks the hyperparameters without building anything.
            pub fn validate(&self) -> Result<()> {
                match self { $(Self::$variant(c) => <$family>::validate(c)),+ }
            }
            /// A one-line summary such as `dense 784→128→64→32→64→128→784 (relu, sigmoid, bce)`.
            pub fn describe(&self) -> String {
                match self { $(Self::$variant(c) => <$family>::describe(c)),+ }
            }
            /// Values per input sample.
            pub fn input_len(&self) -> usize {
                match self { $(Self::$variant(c) => <$family>::input_len(c)),+ }
            }
            /// Values per code.
            pub fn code_len(&self) -> usize {
                match self { $(Self::$variant(c) => <$family>::code_len(c)),+ }
            }
            /// What the export card says about this model.
            pub fn card(&self) -> CardText {
                match self { $(Self::$variant(c) => <$family>::card(c)),+ }
            }
            /// Builds the model (freshly initialised from `dev`'s seed) and runs `visitor` on it.
            pub fn build<V: ModelVisitor>(&self, dev: &Dev, visitor: V) -> Result<V::Output> {
                match self { $(Self::$variant(c) => <$family>::build(c, dev, visitor)),+ }
            }
            /// One small example config per registered family ([`Family::example`]).
            pub fn examples() -> Vec<Self> {
                vec![$(Self::$variant(<$family>::example())),+]
            }
            /// The config of family `name` (`--model`) from the command line's options.
            pub fn from_options(name: &str, opts: &BuildOptions) -> Result<Self> {
                $(if name == <$family>::NAME {
                    return <$family>::from_options(opts).map(Self::$variant);
                })+
                let names: Vec<&str> = FAMILIES.iter().map(|f| f.0).collect();
                Err(Error::config("model", format!("no model family `{name}`; the families are {}", names.join(", "))))
            }
        }
    };
}

families! {
    Dense => dense::DenseFamily,
    Conv => conv::ConvFamily,
    Lstm => lstm::LstmFamily,
}
