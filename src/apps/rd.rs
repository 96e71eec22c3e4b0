//! `autoencoders rd`: what each byte per image buys — rate against distortion for an
//! autoencoder's codes (through [`compress`]), for PCA of the same code sizes
//! through the same quantiser and coder, for JPEG over its quality range, and for PNG
//! (lossless, for reference).
//!
//! Every method is scored on the 8-bit pixels its files decode to: PSNR (peak 255, over all
//! pixels of all images) and SSIM (`image-compare`'s mean SSIM over 8×8 windows, averaged over
//! the images). Sizes are bytes per image: for the autoencoder and PCA the whole `.aec` file
//! (its 42 bytes of header and checksum shared by the images) over the image count; for JPEG
//! both the whole files and their payload — the entropy-coded scan without the headers and
//! tables every file repeats (were the tables fixed by the codec, as the autoencoder's prior
//! is, a JPEG could send only that).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use image::{ColorType, ImageEncoder};
use serde::{Deserialize, Serialize};

use super::compress::{self, image_shape, to_pixels, Codec, HEADER_BYTES, TRAILER_BYTES};
use crate::baselines::Pca;
use crate::data::{DataSource, Split};
use crate::model_dir::RunConfig;
use crate::viz::LinePlot;
use crate::{Error, Result};

/// What [`rd`] measures.
#[derive(Debug, Clone, PartialEq)]
pub struct RdOptions {
    /// The images (read as each model's training data was).
    pub input: DataSource,
    /// Bit depths of the code units, for the autoencoders and PCA.
    pub bits: Vec<u8>,
    /// JPEG qualities (1–100).
    pub jpeg_qualities: Vec<u8>,
    /// Training samples PCA is fitted on (the split's first ones).
    pub pca_samples: usize,
}

impl RdOptions {
    /// Bits 2–8 and JPEG qualities 5–95 on `input`; PCA fitted on 20,000 training samples.
    pub fn new(input: DataSource) -> Self {
        Self {
            input,
            bits: vec![2, 3, 4, 5, 6, 8],
            jpeg_qualities: vec![5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95],
            pca_samples: 20_000,
        }
    }
}

/// One point of a rate–distortion curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RdPoint {
    /// `autoencoder`, `pca`, `jpeg`, `jpeg payload` or `png`.
    pub method: String,
    /// The model directory (autoencoders).
    pub model: Option<String>,
    /// Code length (autoencoders and PCA).
    pub code_len: Option<usize>,
    /// Bits per code unit (autoencoders and PCA).
    pub bits: Option<u8>,
    /// JPEG quality.
    pub quality: Option<u8>,
    /// Bytes per image.
    pub bytes_per_image: f64,
    /// Bits per pixel (every channel value a pixel).
    pub bits_per_pixel: f64,
    /// PSNR (dB) of the decoded 8-bit images; `None` when they equal the input (PNG).
    pub psnr: Option<f64>,
    /// Mean SSIM of the decoded images.
    pub ssim: f64,
}

/// The rate–distortion points of the autoencoders in `dirs` (which must read the input alike:
/// the same shape and normalisation), PCA at their code sizes (fitted on the first model's
/// training split), JPEG and PNG.
pub fn rd(dirs: &[PathBuf], opts: &RdOptions) -> Result<Vec<RdPoint>> {
    let first = dirs.first().ok_or_else(|| Error::config("model", "give at least one model directory"))?;
    if let Some(q) = opts.jpeg_qualities.iter().find(|q| !(1..=100).contains(*q)) {
        return Err(Error::config("jpeg quality", format!("{q} is not between 1 and 100")));
    }
    let cfg = RunConfig::load(first)?;
    let set = super::load_checked_input(&cfg, first, &opts.input)?;
    let shape = image_shape(&set.shape, first)?;
    let norm = cfg.data.normalizer.as_ref();
    let originals = Originals::new(&set.samples, shape, norm)?;
    let mut points = Vec::new();
    let mut code_lens = BTreeSet::new();
    for dir in dirs {
        super::check_reads_alike(first, &cfg, dir, &RunConfig::load(dir)?)?;
        for &bits in &opts.bits {
            let (bytes, report) = compress::compress(dir, &opts.input, bits)?;
            let back = compress::decompress(dir, &bytes, Path::new("(in memory)"))?;
            let (psnr, ssim) = originals.score_normalised(&back.images, norm)?;
            let mut p = originals.point("autoencoder", report.bytes as f64, psnr, ssim);
            (p.model, p.code_len, p.bits) = (Some(dir.display().to_string()), Some(report.code_len), Some(bits));
            points.push(p);
            code_lens.insert(report.code_len);
        }
    }
    points.extend(pca_points(first, &cfg, &set.samples, &code_lens, opts, &originals)?);
    for &quality in &opts.jpeg_qualities {
        points.extend(originals.jpeg(quality)?);
    }
    points.push(originals.png()?);
    Ok(points)
}

/// PCA at each code length through the autoencoders' quantiser and coder.
fn pca_points(
    dir: &Path,
    cfg: &RunConfig,
    test: &[f32],
    code_lens: &BTreeSet<usize>,
    opts: &RdOptions,
    originals: &Originals,
) -> Result<Vec<RdPoint>> {
    let Some(&max_k) = code_lens.last() else { return Ok(Vec::new()) };
    let train = super::load_checked_split(cfg, dir, Split::Train)?;
    let d = train.sample_len();
    let train = &train.samples[..train.len().min(opts.pca_samples) * d];
    let full = Pca::fit(train, d, max_k)?;
    let norm = cfg.data.normalizer.as_ref();
    let mut points = Vec::new();
    for &k in code_lens {
        let pca = full.truncated(k);
        let (train_codes, codes) = (pca.transform(train), pca.transform(test));
        for &bits in &opts.bits {
            let codec = Codec::fit(&train_codes, k, bits, String::new(), "PCA training codes".into())?;
            let symbols: Vec<usize> = codes.iter().enumerate().map(|(i, &z)| codec.quantize(i % k, z)).collect();
            let words = codec.encode(&symbols)?.len();
            let dequantized: Vec<f32> = symbols.iter().enumerate().map(|(i, &q)| codec.dequantize(i % k, q)).collect();
            let (psnr, ssim) = originals.score_normalised(&pca.inverse_transform(&dequantized), norm)?;
            let bytes = (HEADER_BYTES + 4 * words + TRAILER_BYTES) as f64;
            let mut p = originals.point("pca", bytes, psnr, ssim);
            (p.code_len, p.bits) = (Some(k), Some(bits));
            points.push(p);
        }
    }
    Ok(points)
}

/// The input as 8-bit pixels, one image after another, and what scores against it.
struct Originals {
    pixels: Vec<Vec<u8>>,
    color: ColorType,
    shape: [usize; 3],
}

impl Originals {
    fn new(samples: &[f32], shape: [usize; 3], norm: Option<&crate::data::Normalizer>) -> Result<Self> {
        let d: usize = shape.iter().product();
        let mut pixels = Vec::with_capacity(samples.len() / d);
        let mut color = ColorType::L8;
        for img in samples.chunks(d) {
            let (p, c) = to_pixels(img, shape, norm)?;
            pixels.push(p);
            color = c;
        }
        Ok(Self { pixels, color, shape })
    }

    fn point(&self, method: &str, total_bytes: f64, psnr: Option<f64>, ssim: f64) -> RdPoint {
        let n = self.pixels.len().max(1) as f64;
        let values: usize = self.shape.iter().product();
        RdPoint {
            method: method.into(),
            model: None,
            code_len: None,
            bits: None,
            quality: None,
            bytes_per_image: total_bytes / n,
            bits_per_pixel: 8.0 * total_bytes / (n * values as f64),
            psnr,
            ssim,
        }
    }

    /// Scores images in the model's normalised units, as their PNGs would decode.
    fn score_normalised(&self, images: &[f32], norm: Option<&crate::data::Normalizer>) -> Result<(Option<f64>, f64)> {
        let d: usize = self.shape.iter().product();
        let decoded =
            images.chunks(d).map(|img| Ok(to_pixels(img, self.shape, norm)?.0)).collect::<Result<Vec<_>>>()?;
        self.score(&decoded)
    }

    /// PSNR (peak 255, pooled over every pixel) and mean SSIM of `decoded` against the input.
    fn score(&self, decoded: &[Vec<u8>]) -> Result<(Option<f64>, f64)> {
        let [_, h, w] = self.shape;
        let (mut sq, mut count, mut ssim) = (0f64, 0usize, 0f64);
        for (a, b) in self.pixels.iter().zip(decoded) {
            sq += a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>();
            count += a.len();
            ssim += ssim_of(a, b, self.color, w as u32, h as u32)?;
        }
        let mse = sq / count.max(1) as f64;
        let psnr = (mse > 0.0).then(|| 10.0 * (255.0 * 255.0 / mse).log10());
        Ok((psnr, ssim / self.pixels.len().max(1) as f64))
    }

    /// JPEG at `quality`: the whole files, and their payload.
    fn jpeg(&self, quality: u8) -> Result<[RdPoint; 2]> {
        let [_, h, w] = self.shape;
        let (mut total, mut payload, mut decoded) = (0usize, 0usize, Vec::with_capacity(self.pixels.len()));
        for img in &self.pixels {
            let mut buf = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
                .write_image(img, w as u32, h as u32, self.color)
                .map_err(|e| Error::config("jpeg", e.to_string()))?;
            total += buf.len();
            payload += jpeg_scan_len(&buf)?;
            let back = image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
                .map_err(|e| Error::config("jpeg", e.to_string()))?;
            decoded.push(if self.color == ColorType::L8 {
                back.to_luma8().into_raw()
            } else {
                back.to_rgb8().into_raw()
            });
        }
        let (psnr, ssim) = self.score(&decoded)?;
        let mut whole = self.point("jpeg", total as f64, psnr, ssim);
        let mut scan = self.point("jpeg payload", payload as f64, psnr, ssim);
        (whole.quality, scan.quality) = (Some(quality), Some(quality));
        Ok([whole, scan])
    }

    /// PNG, lossless: its size only.
    fn png(&self) -> Result<RdPoint> {
        let [_, h, w] = self.shape;
        let mut total = 0;
        for img in &self.pixels {
            let mut buf = Vec::new();
            image::codecs::png::PngEncoder::new(&mut buf)
                .write_image(img, w as u32, h as u32, self.color)
                .map_err(|e| Error::config("png", e.to_string()))?;
            total += buf.len();
        }
        Ok(self.point("png", total as f64, None, 1.0))
    }
}

/// SSIM of two 8-bit images (interleaved channels; RGB scores its channels together).
fn ssim_of(a: &[u8], b: &[u8], color: ColorType, w: u32, h: u32) -> Result<f64> {
    let bad = |e: image_compare::CompareError| Error::config("ssim", e.to_string());
    let algo = image_compare::Algorithm::MSSIMSimple;
    let score = if color == ColorType::L8 {
        let img = |p: &[u8]| image::GrayImage::from_raw(w, h, p.to_vec()).expect("w × h pixels");
        image_compare::gray_similarity_structure(&algo, &img(a), &img(b)).map_err(bad)?.score
    } else {
        let img = |p: &[u8]| image::RgbImage::from_raw(w, h, p.to_vec()).expect("w × h × 3 values");
        image_compare::rgb_similarity_structure(&algo, &img(a), &img(b)).map_err(bad)?.score
    };
    Ok(score)
}

/// Bytes of a JPEG's entropy-coded scan: from the end of its start-of-scan header to the
/// end-of-image marker.
fn jpeg_scan_len(jpeg: &[u8]) -> Result<usize> {
    let sos =
        jpeg.windows(2).position(|m| m == [0xFF, 0xDA]).ok_or_else(|| Error::config("jpeg", "no start of scan"))?;
    let header = u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]) as usize;
    Ok(jpeg.len().saturating_sub(sos + 2 + header + 2))
}

/// The upper envelope (best PSNR at each size or less) of the points `keep` selects, by size,
/// up to the largest of them: a method that spends more bytes for nothing still reaches that
/// size, at its best PSNR so far.
pub fn envelope(points: &[RdPoint], keep: impl Fn(&RdPoint) -> bool) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> =
        points.iter().filter(|p| keep(p)).filter_map(|p| Some((p.bytes_per_image, p.psnr?))).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &p in &pts {
        if out.last().is_none_or(|l| p.1 > l.1) {
            out.push(p);
        }
    }
    if let (Some(&last), Some(&(size, _))) = (out.last(), pts.last()) {
        if size > last.0 {
            out.push((size, last.1));
        }
    }
    out
}

/// The smallest and largest PSNR gain of curve `a` over curve `b` (envelopes, linearly
/// interpolated in log size) where both are defined within `[lo, hi]` bytes per image, and
/// that overlap; `None` when they do not overlap there.
pub fn gain(a: &[(f64, f64)], b: &[(f64, f64)], lo: f64, hi: f64) -> Option<((f64, f64), (f64, f64))> {
    let from = lo.max(a.first()?.0).max(b.first()?.0);
    let to = hi.min(a.last()?.0).min(b.last()?.0);
    if from > to {
        return None;
    }
    let xs = a.iter().chain(b).map(|p| p.0).filter(|&x| x > from && x < to).chain([from, to]);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs {
        let g = interpolate(a, x) - interpolate(b, x);
        (min, max) = (min.min(g), max.max(g));
    }
    Some(((min, max), (from, to)))
}

fn interpolate(curve: &[(f64, f64)], x: f64) -> f64 {
    if curve.len() == 1 {
        return curve[0].1;
    }
    let i = curve.partition_point(|p| p.0 < x).clamp(1, curve.len() - 1);
    let ((x0, y0), (x1, y1)) = (curve[i - 1], curve[i]);
    let t = (x.ln() - x0.ln()) / (x1.ln() - x0.ln());
    y0 + t * (y1 - y0)
}

/// PSNR against bytes per image: one line per autoencoder and PCA code length, and JPEG.
pub fn figure(points: &[RdPoint]) -> LinePlot {
    let mut plot = LinePlot::new("rate against distortion", "bytes per image", "PSNR (dB)").log_x();
    let mut names: Vec<(String, Option<usize>)> = Vec::new();
    for p in points.iter().filter(|p| p.psnr.is_some()) {
        let key = (p.model.clone().unwrap_or_else(|| p.method.clone()), p.code_len);
        if !names.contains(&key) {
            names.push(key);
        }
    }
    for (name, k) in names {
        let line: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.model.clone().unwrap_or_else(|| p.method.clone()) == name && p.code_len == k)
            .filter_map(|p| Some((p.bytes_per_image, p.psnr?)))
            .collect();
        let label = match (points.iter().find(|p| p.model.as_ref() == Some(&name)), k) {
            (Some(_), Some(k)) => format!("autoencoder, code {k}"),
            (None, Some(k)) => format!("{name}, {k} components"),
            _ => name,
        };
        plot = plot.line(label, line);
    }
    plot
}

/// The points as CSV, one per row.
pub fn to_csv(points: &[RdPoint]) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let mut s = String::from("method,model,code_len,bits,quality,bytes_per_image,bits_per_pixel,psnr,ssim\n");
    for p in points {
        s += &format!(
            "{},{},{},{},{},{:.2},{:.4},{},{:.4}\n",
            p.method,
            opt(p.model.clone()),
            opt(p.code_len.map(|v| v.to_string())),
            opt(p.bits.map(|v| v.to_string())),
            opt(p.quality.map(|v| v.to_string())),
            p.bytes_per_image,
            p.bits_per_pixel,
            opt(p.psnr.map(|v| format!("{v:.2}"))),
            p.ssim
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_keep_only_improvements_and_gains_interpolate_in_log_size() {
        let pt = |b: f64, psnr: f64| RdPoint {
            method: "x".into(),
            model: None,
            code_len: None,
            bits: None,
            quality: None,
            bytes_per_image: b,
            bits_per_pixel: 0.0,
            psnr: Some(psnr),
            ssim: 0.0,
        };
        let env = envelope(&[pt(20.0, 15.0), pt(10.0, 12.0), pt(40.0, 14.0), pt(80.0, 18.0)], |_| true);
        assert_eq!(env, vec![(10.0, 12.0), (20.0, 15.0), (80.0, 18.0)]);
        let flat = envelope(&[pt(20.0, 15.0), pt(10.0, 12.0), pt(40.0, 14.0)], |_| true);
        assert_eq!(flat, vec![(10.0, 12.0), (20.0, 15.0), (40.0, 15.0)]);
        let b = vec![(5.0, 10.0), (40.0, 13.0)];
        // Overlap 16–40 bytes. At 40, a is halfway (in log size) from 20 to 80: 16.5 against
        // 13. At 16, a is 12 + 3·log2(1.6) and b 10 + 3·log(3.2)/log(8).
        let ((min, max), (from, to)) = gain(&env, &b, 16.0, 100.0).unwrap();
        assert_eq!((from, to), (16.0, 40.0));
        assert!((max - 3.5).abs() < 1e-9, "{max}");
        let want = 12.0 + 3.0 * 1.6f64.log2() - 10.0 - 3.0 * 3.2f64.ln() / 8f64.ln();
        assert!((min - want).abs() < 1e-9, "{min} vs {want}");
        assert_eq!(gain(&env, &b, 50.0, 100.0), None);
        assert_eq!(jpeg_scan_len(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 4, 1, 2, 9, 9, 9, 0xFF, 0xD9]).unwrap(), 3);
    }
}
