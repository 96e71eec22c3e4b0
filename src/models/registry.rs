//! The registry's machinery: `families!`, whose one invocation in `models/mod.rs` lists every
//! model family. From that list it declares each family's module (`models/<module>/`) and
//! generates [`ModelConfig`](super::ModelConfig) — the tagged union of the families' configs
//! that `config.json` stores — with its dispatch to each family's [`Family`](super::Family)
//! methods, and [`FAMILIES`](super::FAMILIES). Adding a family is one line in that list.

/// Declares the families' modules, [`ModelConfig`](super::ModelConfig) with one variant per
/// family, its methods (each forwards to the family's [`Family`](super::Family) impl) and
/// [`FAMILIES`](super::FAMILIES).
macro_rules! families {
    ($($module:ident :: $family:ident => $variant:ident),+ $(,)?) => {
        $(pub mod $module;)+
        /// Every model this library can build, as written in `config.json`
        /// (`{"kind": "dense", …}`): one variant per registered [`Family`]($crate::models::Family).
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum ModelConfig {
            $(
                #[doc = concat!("A [`", stringify!($module), "::", stringify!($family), "`] model.")]
                $variant(<$module::$family as $crate::models::Family>::Config),
            )+
        }

        /// The `--model` names of every registered family, with their one-line descriptions.
        pub const FAMILIES: &[(&str, &str)] = &[$((<$module::$family>::NAME, <$module::$family>::ABOUT)),+];

        impl ModelConfig {
            /// The family's name (`dense`), as in `config.json` and `--model`.
            pub fn family(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$module::$family>::NAME),+ }
            }
            /// Checks the hyperparameters without building anything.
            pub fn validate(&self) -> $crate::Result<()> {
                match self { $(Self::$variant(c) => <$module::$family>::validate(c)),+ }
            }
            /// A one-line summary such as `dense 784→128→64→32→64→128→784 (relu, sigmoid, bce)`.
            pub fn describe(&self) -> String {
                match self { $(Self::$variant(c) => <$module::$family>::describe(c)),+ }
            }
            /// Values per input sample.
            pub fn input_len(&self) -> usize {
                match self { $(Self::$variant(c) => <$module::$family>::input_len(c)),+ }
            }
            /// Values per code.
            pub fn code_len(&self) -> usize {
                match self { $(Self::$variant(c) => <$module::$family>::code_len(c)),+ }
            }
            /// The parameter count, computed from the config alone (0: the family does not say).
            pub fn num_params(&self) -> u64 {
                match self { $(Self::$variant(c) => <$module::$family>::num_params(c)),+ }
            }
            /// The activation of the code layer.
            pub fn code_activation(&self) -> $crate::nn::Activation {
                match self { $(Self::$variant(c) => <$module::$family>::code_activation(c)),+ }
            }
            /// What the contractive penalty can use on this model, or why it cannot.
            pub fn jacobian(&self) -> std::result::Result<$crate::models::JacobianSupport, String> {
                match self { $(Self::$variant(c) => <$module::$family>::jacobian(c)),+ }
            }
            /// What the export card says about this model.
            pub fn card(&self) -> $crate::models::CardText {
                match self { $(Self::$variant(c) => <$module::$family>::card(c)),+ }
            }
            /// Builds the model (freshly initialised from `dev`'s seed) and runs `visitor` on it.
            pub fn build<V: $crate::models::ModelVisitor>(&self, dev: &$crate::nn::Dev, visitor: V) -> $crate::Result<V::Output> {
                match self { $(Self::$variant(c) => <$module::$family>::build(c, dev, visitor)),+ }
            }
            /// Builds the model with an encoder of `heads` outputs per code unit
            /// ([`Family::build_heads`]) and runs `visitor` on it.
            pub fn build_heads<V: $crate::models::HeadsVisitor>(&self, dev: &$crate::nn::Dev, heads: usize, visitor: V) -> $crate::Result<V::Output> {
                match self { $(Self::$variant(c) => <$module::$family>::build_heads(c, dev, heads, visitor)),+ }
            }
            /// One small example config per registered family ([`Family::example`]).
            pub fn examples() -> Vec<Self> {
                vec![$(Self::$variant(<$module::$family>::example())),+]
            }
            /// The config of family `name` (`--model`) from the command line's options.
            pub fn from_options(name: &str, opts: &$crate::models::BuildOptions) -> $crate::Result<Self> {
                $(if name == <$module::$family>::NAME {
                    return <$module::$family>::from_options(opts).map(Self::$variant);
                })+
                let names: Vec<&str> = FAMILIES.iter().map(|f| f.0).collect();
                Err($crate::Error::config("model", format!("no model family `{name}`; the families are {}", names.join(", "))))
            }
        }
    };
}
