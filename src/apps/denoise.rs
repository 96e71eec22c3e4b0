//! `autoencoders denoise`: an autoencoder as an image denoiser — noisy images in, the model's
//! reconstructions out — and [`study`] (`autoencoders denoise-eval`): how it compares with the
//! classic filters and with PCA projection over a range of noise levels.
//!
//! The study corrupts the test images with Gaussian noise of each σ (in the model's [0, 1]
//! units, clipped to [0, 1], seeded), and scores every method's output against the clean
//! images: PSNR (peak 1, pooled over every pixel) and the standard SSIM
//! ([`quality::ssim`](crate::train::quality::ssim), 11×11 Gaussian window; images smaller than
//! the window get none). Settings are chosen per noise level on validation images — the last
//! ones of the training split, noised the same way — never on the test images: the Gaussian
//! blur's σ and PCA's component count. The median filters (3×3, 5×5) have no setting.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::compress::{image_shape, png};
use crate::baselines::Pca;
use crate::data::image_folder::{image_files, read_image};
use crate::data::{DataSource, Dataset, Split};
use crate::model_dir::RunConfig;
use crate::models::{Autoencoder, ModelVisitor};
use crate::train::quality::{gaussian_blur_all, mean_ssim, median_all_sized};
use crate::train::{reconstruct_all, Corruption, InputNoise, Noise};
use crate::viz::LinePlot;
use crate::{Error, Result};

/// Images denoised per model call (and held in memory at once) by [`denoise_path`].
const CHUNK: usize = 1024;

/// Denoises the image file `input` into the image file `output` (its format from its
/// extension), or every image under the folder `input` into the folder `output` as PNGs at the
/// same relative paths; returns how many. Each image must have the model's shape — its size
/// and channel count — or the error names the file and the shape expected. A folder output
/// appears whole or not at all and is never written over.
pub fn denoise_path(dir: &Path, input: &Path, output: &Path) -> Result<usize> {
    let cfg = RunConfig::load(dir)?;
    let shape = model_image_shape(&cfg, dir)?;
    if input.is_file() {
        let format = image::ImageFormat::from_path(output).map_err(|_| {
            Error::config("output", format!("{}: name an image file (.png, .pgm, .jpg, .bmp)", output.display()))
        })?;
        let images = cfg.load_model(dir, Denoise { cfg: &cfg, shape, files: &[input.to_path_buf()] })?;
        let (pixels, color) = super::compress::to_pixels(&images, shape, cfg.data.normalizer.as_ref())?;
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::write_buffer_with_format(&mut bytes, &pixels, shape[2] as u32, shape[1] as u32, color, format)
            .map_err(|e| Error::config("output", format!("{}: {e}", output.display())))?;
        crate::fs::write_atomic(output, bytes.get_ref())?;
        return Ok(1);
    }
    let files = image_files(input)?;
    if files.is_empty() {
        let what = format!("no images ({}) in the folder", crate::data::image_folder::EXTENSIONS.join(", "));
        return Err(Error::format(input, what));
    }
    let norm = cfg.data.normalizer.as_ref();
    let d: usize = shape.iter().product();
    crate::fs::write_folder_atomic(output, |tmp| {
        for chunk in files.chunks(CHUNK) {
            let images = cfg.load_model(dir, Denoise { cfg: &cfg, shape, files: chunk })?;
            for (file, img) in chunk.iter().zip(images.chunks(d)) {
                let rel = file.strip_prefix(input).unwrap_or(file).with_extension("png");
                let path = tmp.join(rel);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::write(&path, png(img, shape, norm)?).map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(files.len())
    })
}

/// `[c, h, w]` of the images a model takes, from its training data's test split (a model's
/// config stores only its input length, and an image size only when the images were resized).
pub fn model_image_shape(cfg: &RunConfig, dir: &Path) -> Result<[usize; 3]> {
    let set = super::load_checked_split(cfg, dir, Split::Test)?;
    image_shape(&set.shape, dir)
}

/// Reads `files` (raw pixels, checked against `shape`), normalises them as the training data
/// and returns the model's reconstructions.
struct Denoise<'a> {
    cfg: &'a RunConfig,
    shape: [usize; 3],
    files: &'a [PathBuf],
}

impl ModelVisitor for Denoise<'_> {
    type Output = Vec<f32>;
    fn visit<M: Autoencoder>(self, model: M) -> Result<Vec<f32>> {
        let mut set = read_images(self.files, self.shape)?;
        if let Some(norm) = &self.cfg.data.normalizer {
            norm.apply(&mut set)?;
        }
        super::check_len(&model, &set)?;
        Ok(reconstruct_all(&model, &set, 512))
    }
}

/// The image files as one dataset of raw pixel values (channel planes), each checked against
/// `[c, h, w]`.
pub(super) fn read_images(files: &[PathBuf], [c, h, w]: [usize; 3]) -> Result<Dataset> {
    let kind = |c: usize| if c == 1 { "grey" } else { "RGB" };
    let images: Vec<image::DynamicImage> = files.par_iter().map(|f| read_image(f)).collect::<Result<_>>()?;
    let mut samples = Vec::with_capacity(files.len() * c * h * w);
    for (file, img) in files.iter().zip(images) {
        let channels = if img.color().has_color() { 3 } else { 1 };
        if (img.width() as usize, img.height() as usize, channels) != (w, h, c) {
            let what = format!(
                "{}×{} {} but the model takes {w}×{h} {} images (shape [{c}, {h}, {w}]); resize or convert it first",
                img.width(),
                img.height(),
                kind(channels),
                kind(c)
            );
            return Err(Error::format(file, what));
        }
        if c == 1 {
            samples.extend(img.into_luma8().as_raw().iter().map(|&p| p as f32));
        } else {
            let rgb = img.into_rgb8();
            for ch in 0..3 {
                samples.extend(rgb.as_raw().chunks_exact(3).map(|px| px[ch] as f32));
            }
        }
    }
    Dataset::new("images", samples, vec![c, h, w], None, Vec::new())
}

/// What [`study`] measures.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyOptions {
    /// The test images (read as each model's training data was).
    pub input: DataSource,
    /// Standard deviations of the Gaussian noise, in the model's [0, 1] units.
    pub sigmas: Vec<f32>,
    /// Validation images (the training split's last ones) that choose each method's setting.
    pub validation: usize,
    /// Training images PCA is fitted on (the split's first ones).
    pub pca_samples: usize,
    /// Seeds the noise.
    pub seed: u64,
}

impl StudyOptions {
    /// σ 0.1–0.7 on `input`; 1,000 validation images; PCA on 20,000; seed 0.
    pub fn new(input: DataSource) -> Self {
        Self { input, sigmas: vec![0.1, 0.2, 0.3, 0.5, 0.7], validation: 1000, pca_samples: 20_000, seed: 0 }
    }
}

/// Blur standard deviations (pixels) the Gaussian filter chooses from.
pub const BLUR_SIGMAS: [f32; 6] = [0.5, 0.75, 1.0, 1.25, 1.5, 2.0];
/// Component counts PCA projection chooses from (those below the input size).
pub const PCA_COMPONENTS: [usize; 7] = [4, 8, 16, 32, 64, 128, 256];

/// One method at one noise level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenoisePoint {
    /// σ of the Gaussian noise.
    pub sigma: f32,
    /// `noisy` (the input itself), `median 3x3`, `median 5x5`, `gaussian blur`, `pca` or
    /// `autoencoder`.
    pub method: String,
    /// The model directory (autoencoders).
    pub model: Option<String>,
    /// The setting chosen on the validation images (`sigma=1.0`, `k=32`).
    pub setting: Option<String>,
    /// PSNR (dB, peak 1) against the clean images.
    pub psnr: f64,
    /// Mean SSIM against the clean images; `None` for images under 11×11.
    pub ssim: Option<f64>,
}

/// Every method at every noise level of `opts` on the same noisy test images: the autoencoders
/// in `dirs` (which must read the input alike), the median filters, the Gaussian blur and PCA
/// projection (fitted on the first model's clean training images).
pub fn study(dirs: &[PathBuf], opts: &StudyOptions) -> Result<Vec<DenoisePoint>> {
    let first = dirs.first().ok_or_else(|| Error::config("model", "give at least one model directory"))?;
    let cfg = RunConfig::load(first)?;
    let test = super::load_checked_input(&cfg, first, &opts.input)?;
    let shape = image_shape(&test.shape, first)?;
    let (lo, hi) = test.value_range();
    if lo < 0.0 || hi > 1.0 {
        let what =
            format!("{} scales images to [{lo}, {hi}]; the study adds noise to images in [0, 1]", first.display());
        return Err(Error::config("input", what));
    }
    let train = super::load_checked_split(&cfg, first, Split::Train)?;
    let d = train.sample_len();
    let n_val = opts.validation.min(train.len() / 2).max(1);
    let val = train.subset(&((train.len() - n_val)..train.len()).collect::<Vec<_>>());
    let fit_on = &train.samples[..(train.len() - n_val).min(opts.pca_samples) * d];
    let ks: Vec<usize> = PCA_COMPONENTS.iter().copied().filter(|&k| k < d).collect();
    let pca = Pca::fit(fit_on, d, *ks.last().unwrap_or(&1))?;
    let noisy: Vec<(f32, Dataset, Dataset)> = opts
        .sigmas
        .iter()
        .enumerate()
        .map(|(i, &sigma)| {
            let seed = opts.seed.wrapping_add(i as u64);
            Ok((sigma, add_noise(&test, sigma, seed)?, add_noise(&val, sigma, seed ^ 0x9E37_79B9)?))
        })
        .collect::<Result<_>>()?;
    let mut points = Vec::new();
    for (sigma, noisy_test, noisy_val) in &noisy {
        let score = |method: &str, setting: Option<String>, out: &[f32]| DenoisePoint {
            sigma: *sigma,
            method: method.into(),
            model: None,
            setting,
            psnr: psnr01(&test.samples, out),
            ssim: mean_ssim(&test.samples, &clamped(out), shape, 1.0),
        };
        points.push(score("noisy", None, &noisy_test.samples));
        for size in [3, 5] {
            points.push(score(
                &format!("median {size}x{size}"),
                None,
                &median_all_sized(&noisy_test.samples, shape, size),
            ));
        }
        let blur = best_of(&BLUR_SIGMAS, |&s| psnr01(&val.samples, &gaussian_blur_all(&noisy_val.samples, shape, s)));
        let out = gaussian_blur_all(&noisy_test.samples, shape, blur);
        points.push(score("gaussian blur", Some(format!("sigma={blur}")), &out));
        let project = |k: usize, x: &[f32]| {
            let p = pca.truncated(k);
            p.inverse_transform(&p.transform(x))
        };
        let k = best_of(&ks, |&k| psnr01(&val.samples, &project(k, &noisy_val.samples)));
        points.push(score("pca", Some(format!("k={k}")), &project(k, &noisy_test.samples)));
    }
    for dir in dirs {
        super::check_reads_alike(first, &cfg, dir, &RunConfig::load(dir)?)?;
        let sets: Vec<&Dataset> = noisy.iter().map(|(_, t, _)| t).collect();
        let outs = super::encode::reconstruct_sets(dir, &sets)?;
        for ((sigma, _, _), out) in noisy.iter().zip(outs) {
            points.push(DenoisePoint {
                sigma: *sigma,
                method: "autoencoder".into(),
                model: Some(dir.display().to_string()),
                setting: None,
                psnr: psnr01(&test.samples, &out),
                ssim: mean_ssim(&test.samples, &clamped(&out), shape, 1.0),
            });
        }
    }
    Ok(points)
}

/// The candidate with the highest score (the first of equals).
fn best_of<T: Copy>(candidates: &[T], score: impl Fn(&T) -> f64) -> T {
    let mut best = (candidates[0], f64::NEG_INFINITY);
    for c in candidates {
        let s = score(c);
        if s > best.1 {
            best = (*c, s);
        }
    }
    best.0
}

/// `set` with Gaussian noise of `sigma`, clipped to [0, 1], drawn from `seed` (the noise of
/// [`study`]; the same for any number of threads).
pub fn add_noise(set: &Dataset, sigma: f32, seed: u64) -> Result<Dataset> {
    let noise = InputNoise { noise: Noise::Gaussian { sigma }, range: Some([0.0, 1.0]) };
    noise.noise.validate()?;
    let mut out = set.clone();
    noise.corrupt(&mut out.samples, set.sample_len(), &mut StdRng::seed_from_u64(seed));
    Ok(out)
}

fn clamped(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.clamp(0.0, 1.0)).collect()
}

/// PSNR (dB, peak 1) of `b`, clamped to [0, 1] as an image holds it, against `a`.
pub fn psnr01(a: &[f32], b: &[f32]) -> f64 {
    let mse = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y.clamp(0.0, 1.0) as f64).powi(2)).sum::<f64>()
        / a.len().max(1) as f64;
    -10.0 * mse.log10()
}

/// PSNR against σ: one line per method (and autoencoder).
pub fn figure(points: &[DenoisePoint]) -> LinePlot {
    let mut plot = LinePlot::new("denoising", "noise σ", "PSNR (dB)");
    let mut names: Vec<String> = Vec::new();
    for p in points {
        let name = label(p);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in names {
        let line = points.iter().filter(|p| label(p) == name).map(|p| (p.sigma as f64, p.psnr)).collect();
        plot = plot.line(name, line);
    }
    plot
}

fn label(p: &DenoisePoint) -> String {
    match &p.model {
        Some(m) => {
            format!("autoencoder {}", Path::new(m).file_name().map_or(m.clone(), |f| f.to_string_lossy().into()))
        }
        None => p.method.clone(),
    }
}

/// The points as CSV, one per row.
pub fn to_csv(points: &[DenoisePoint]) -> String {
    let mut s = String::from("sigma,method,model,setting,psnr,ssim\n");
    for p in points {
        s += &format!(
            "{},{},{},{},{:.2},{}\n",
            p.sigma,
            p.method,
            p.model.clone().unwrap_or_default(),
            p.setting.clone().unwrap_or_default(),
            p.psnr,
            p.ssim.map(|v| format!("{v:.4}")).unwrap_or_default()
        );
    }
    s
}

/// For each σ: the best autoencoder's PSNR gain over the best classic filter (median or blur).
pub fn gains(points: &[DenoisePoint]) -> Vec<(f32, f64)> {
    let mut sigmas: Vec<f32> = Vec::new();
    for p in points {
        if !sigmas.contains(&p.sigma) {
            sigmas.push(p.sigma);
        }
    }
    let best = |sigma: f32, keep: &dyn Fn(&DenoisePoint) -> bool| {
        points.iter().filter(|p| p.sigma == sigma && keep(p)).map(|p| p.psnr).fold(f64::NEG_INFINITY, f64::max)
    };
    sigmas
        .into_iter()
        .map(|s| {
            let filter = best(s, &|p| p.method.starts_with("median") || p.method == "gaussian blur");
            (s, best(s, &|p| p.method == "autoencoder") - filter)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_is_peak_one_and_clamps_the_output() {
        let a = vec![0.0f32, 1.0];
        assert!((psnr01(&a, &[0.1, 0.9]) - 20.0).abs() < 1e-5, "{}", psnr01(&a, &[0.1, 0.9]));
        assert!((psnr01(&a, &[-5.0, 0.9]) - psnr01(&a, &[0.0, 0.9])).abs() < 1e-12);
        assert_eq!(psnr01(&a, &[-1.0, 2.0]), f64::INFINITY);
        assert_eq!(best_of(&[1, 2, 3], |&x| -((x - 2) as f64).abs()), 2);
    }
}
