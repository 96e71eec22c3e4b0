//! `autoencoders figures`: the loss curve, reconstructions and latent scatter of a model.

use std::path::{Path, PathBuf};

use crate::data::{Dataset, Split};
use crate::model_dir::{RunConfig, HISTORY};
use crate::models::{Autoencoder, ModelVisitor};
use crate::train::{encode_all, reconstruct_all, History};
use crate::viz::{Figure, LatentScatter, LossCurve, ReconstructionGrid};
use crate::Result;

/// The figures of a trained model: loss curve, reconstructions and latent scatter.
pub struct Figures {
    /// Training and validation loss per epoch.
    pub loss: LossCurve,
    /// Ten test samples (top) and their reconstructions (below); for a generative model (a
    /// VAE) a third row of decoded prior draws.
    pub reconstructions: ReconstructionGrid,
    /// The codes of the test samples, by class.
    pub latent: LatentScatter,
}

/// Draws the figures of the model in `dir` (on up to 2,000 samples of its test split).
pub fn figures(dir: &Path) -> Result<Figures> {
    let cfg = RunConfig::load(dir)?;
    let history = History::load_csv(&dir.join(HISTORY))?;
    let test = super::load_checked_split(&cfg, dir, Split::Test)?.take(2000);
    let (dataset, model) = (cfg.data.dataset.to_string(), cfg.describe());
    let range = cfg.data.is_image().then_some((0.0, 1.0));
    // A denoising model is shown what `eval` measures it on: the corrupted test inputs.
    let noisy = cfg.train.noise.map(|n| super::evaluate::corrupted(&test, &n, cfg.train.seed));
    let text = FigureOptions { dataset: &dataset, model: &model, range, noisy: noisy.as_ref() };
    cfg.load_model(dir, Draw { test: &test, history: &history, text })
}

/// What the figures say and show beyond the test data: titles, the value range, and the
/// corrupted inputs of a denoising model.
#[derive(Debug, Clone, Copy)]
pub struct FigureOptions<'a> {
    /// The dataset's name, in every title.
    pub dataset: &'a str,
    /// The model's description, in the loss curve's title.
    pub model: &'a str,
    /// The value range of the reconstruction grid (pixels: `(0, 1)`); `None` takes the
    /// samples' own, padded by 10 %.
    pub range: Option<(f32, f32)>,
    /// For a denoising model: the corrupted copy of the test data it reads. The grid then
    /// shows clean, noisy and reconstructed rows, and the codes are those of the noisy inputs.
    pub noisy: Option<&'a Dataset>,
}

impl Figures {
    /// The figures of any `model` on `test` (its first 2,000 samples), after training that
    /// recorded `history`.
    pub fn draw<M: Autoencoder>(model: &M, test: &Dataset, history: &History, text: FigureOptions) -> Result<Self> {
        let (test, shown) = (test.take(2000), test.take(10));
        let input = text.noisy.map(|n| n.take(2000));
        let shown_input = input.as_ref().map_or(shown.clone(), |n| n.take(10));
        let recon = reconstruct_all(model, &shown_input, 512);
        let codes = encode_all(model, input.as_ref().unwrap_or(&test), 512);
        let range = text.range.unwrap_or_else(|| padded_range(&shown.samples));
        let name = text.dataset;
        let mut grid = ReconstructionGrid::new(&shown.samples, &recon, &test.shape, 10, range);
        if text.noisy.is_some() {
            let clean = grid.rows.remove(0);
            grid.rows.insert(0, ("noisy input".into(), split_rows(&shown_input.samples, &test.shape)));
            grid.rows.insert(0, ("clean".into(), clean.1));
        }
        if let Some(prior) = model.prior() {
            // A generative model's own images: decoded draws from its prior (seed 0).
            let drawn = super::generate::decode_codes(model, prior.sample_seeded(10, 0), 10);
            grid = grid.with_row("prior samples", &drawn);
        }
        let mut latent = LatentScatter::new(
            &codes,
            model.code_len(),
            test.labels.as_deref(),
            &test.class_names,
            format!("{name} test codes"),
        )?;
        if let Some(prior) = model.prior().filter(|p| p.dim() == 2) {
            // Codes over the density they were trained to follow (an AAE's, a 2-D VAE's).
            latent = latent.with_background("prior draws", &prior.sample_seeded(3000, 0));
        }
        Ok(Self { loss: LossCurve::new(history, format!("{name}: {}", text.model)), reconstructions: grid, latent })
    }

    /// Saves each figure as PNG and SVG into `out`; returns the paths written.
    pub fn save_all(&self, out: &Path) -> Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for ext in ["png", "svg"] {
            for (name, fig) in [
                ("loss_curve", &self.loss as &dyn SaveDyn),
                ("reconstructions", &self.reconstructions),
                ("latent_space", &self.latent),
            ] {
                let p = out.join(format!("{name}.{ext}"));
                fig.save_dyn(&p)?;
                written.push(p);
            }
        }
        Ok(written)
    }
}

struct Draw<'a> {
    test: &'a Dataset,
    history: &'a History,
    text: FigureOptions<'a>,
}

impl ModelVisitor for Draw<'_> {
    type Output = Figures;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Figures> {
        Figures::draw(&model, self.test, self.history, self.text)
    }
}

/// Flat samples of `shape`, one `Vec` each.
fn split_rows(flat: &[f32], shape: &[usize]) -> Vec<Vec<f32>> {
    flat.chunks(shape.iter().product::<usize>().max(1)).map(<[f32]>::to_vec).collect()
}

fn padded_range(v: &[f32]) -> (f32, f32) {
    let (lo, hi) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let pad = (hi - lo) * 0.1;
    (lo - pad, hi + pad)
}

/// Object-safe saving, to loop over figures of different types.
pub(crate) trait SaveDyn {
    fn save_dyn(&self, p: &Path) -> Result<()>;
}
impl<F: Figure> SaveDyn for F {
    fn save_dyn(&self, p: &Path) -> Result<()> {
        self.save(p)
    }
}
