//! `autoencoders compress` / `decompress`: images to `.aec` files through a model's code, and
//! back to PNGs.
//!
//! **Codec.** Each code unit is quantised uniformly to `2^bits` levels between two quantiles of
//! its values on the training split (0.1 % and 99.9 %, [`RANGE_TAIL`]; both ends are levels, so
//! a saturated sigmoid code is exact); a value outside that range is clamped to its end. The levels are entropy-coded with
//! `constriction`'s range-ANS coder under a fixed prior: per code unit, the levels' frequencies
//! on the training split, plus one (so every level can be coded). Quantiser and prior are the
//! **codec**, `codec-{bits}bit.json` in the model directory, fitted from the training split the
//! first time `compress` needs it (under the directory's lock) and never sent in a file — so
//! one image costs per image what ten thousand do. Fitting is deterministic: the same weights
//! and training data give the same codec, byte for byte.
//!
//! **File** (`.aec`, little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 0–3 | magic `AEC\0` |
//! | 4 | format version ([`AEC_VERSION`]) |
//! | 5 | bits per code unit |
//! | 6–7 | code length |
//! | 8–11 | image count |
//! | 12–17 | channels, height, width (u16 each) |
//! | 18–25 | the model's fingerprint: first 8 bytes of the SHA-256 of `model.safetensors` |
//! | 26–33 | the codec's fingerprint: first 8 bytes of the SHA-256 of its file |
//! | 34–37 | payload length in 32-bit words |
//! | 38– | the ANS payload |
//! | last 4 | CRC-32 of every byte before it |
//!
//! Decompressing checks the checksum, the length, both fingerprints and the shape before
//! decoding, and that the payload holds exactly the header's image count after: a truncated,
//! corrupted or foreign file is an error naming the file, never garbage images.

use std::path::{Path, PathBuf};

use constriction::stream::model::DefaultContiguousCategoricalEntropyModel as Prior;
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::Decode;
use image::ImageEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::{DataSource, Dataset, Normalizer, Split};
use crate::fs::write_atomic;
use crate::model_dir::{DirLock, RunConfig};
use crate::models::{Autoencoder, ModelVisitor};
use crate::train::checkpoint::WEIGHTS;
use crate::train::encode_all;
use crate::{Error, Result};

/// The `.aec` format's version (byte 4).
pub const AEC_VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_BYTES: usize = 38;
/// Bytes after it (the checksum).
pub const TRAILER_BYTES: usize = 4;
/// The deepest quantiser: 2^16 levels per code unit.
pub const MAX_BITS: u8 = 16;
/// The share of a code unit's training values left outside its quantiser's range at each end
/// (clamped to the nearest end level). MNIST, dense 784→256→32, bits 2–6: 0.001 instead of 0
/// (the full range) puts every point 0.1 dB higher at equal bytes per image (`autoencoders rd`).
pub const RANGE_TAIL: f64 = 0.001;
/// The codec file's version.
pub const CODEC_VERSION: u32 = 1;
const MAGIC: &[u8; 4] = b"AEC\0";
/// Images decoded at a time by [`decompress_with`].
const CHUNK: usize = 512;

/// The quantiser and prior of one bit depth, fitted on a model's training codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Codec {
    /// [`CODEC_VERSION`].
    pub format_version: u32,
    /// SHA-256 (hex) of the `model.safetensors` it was fitted for.
    pub weights_sha256: String,
    /// Bits per code unit.
    pub bits: u8,
    /// The data it was fitted on.
    pub fitted_on: String,
    /// Per code unit: its smallest and largest training value (levels 0 and `2^bits − 1`).
    pub ranges: Vec<[f32; 2]>,
    /// Per code unit: how often each level occurs on the training split.
    pub counts: Vec<Vec<u32>>,
}

impl Codec {
    /// Fits the codec of `bits` to `codes` (rows of `k`).
    pub fn fit(codes: &[f32], k: usize, bits: u8, weights_sha256: String, fitted_on: String) -> Result<Self> {
        check_bits(bits)?;
        if codes.is_empty() {
            return Err(Error::format(&fitted_on, "has no training codes to fit a codec on"));
        }
        if let Some(i) = codes.iter().position(|v| !v.is_finite()) {
            let what = format!("sample {}'s code is {}: the model diverged; retrain it", i / k, codes[i]);
            return Err(Error::format(&fitted_on, what));
        }
        let ranges = (0..k).map(|j| unit_range(codes.iter().skip(j).step_by(k).copied().collect())).collect();
        let mut codec =
            Codec { format_version: CODEC_VERSION, weights_sha256, bits, fitted_on, counts: Vec::new(), ranges };
        codec.counts = vec![vec![0; codec.levels()]; k];
        for row in codes.chunks(k) {
            for (j, &z) in row.iter().enumerate() {
                let q = codec.quantize(j, z);
                codec.counts[j][q] += 1;
            }
        }
        Ok(codec)
    }

    /// Quantiser levels per code unit.
    pub fn levels(&self) -> usize {
        1 << self.bits
    }

    /// Code length.
    pub fn code_len(&self) -> usize {
        self.ranges.len()
    }

    /// The level of value `z` of code unit `j`.
    pub fn quantize(&self, j: usize, z: f32) -> usize {
        let [lo, hi] = self.ranges[j];
        let top = (self.levels() - 1) as f32;
        if hi <= lo {
            return 0;
        }
        ((z - lo) / (hi - lo) * top).round().clamp(0.0, top) as usize
    }

    /// The value of level `q` of code unit `j`.
    pub fn dequantize(&self, j: usize, q: usize) -> f32 {
        let [lo, hi] = self.ranges[j];
        lo + (hi - lo) * q as f32 / (self.levels() - 1) as f32
    }

    /// The fewest bits one code can take: each unit's likeliest level's information.
    pub fn min_bits_per_code(&self) -> f64 {
        self.counts
            .iter()
            .map(|c| {
                let total: f64 = c.iter().map(|&n| n as f64 + 1.0).sum();
                let top = c.iter().copied().max().unwrap_or(0) as f64 + 1.0;
                -(top / total).log2()
            })
            .sum()
    }

    /// The ANS payload of `symbols` (levels of whole codes, one code after another).
    pub fn encode(&self, symbols: &[usize]) -> Result<Vec<u32>> {
        let (priors, k) = (self.priors()?, self.code_len());
        let mut coder = DefaultAnsCoder::new();
        coder
            .encode_symbols_reverse(symbols.iter().enumerate().map(|(i, &s)| (s, &priors[i % k])))
            .map_err(|e| Error::config("bits", format!("the coder refused a level: {e:?}")))?;
        Ok(coder.into_compressed().unwrap_or_else(|e| match e {}))
    }

    /// The entropy model of each code unit: its level frequencies plus one.
    fn priors(&self) -> Result<Vec<Prior>> {
        self.counts
            .iter()
            .map(|c| {
                let total: f64 = c.iter().map(|&n| n as f64 + 1.0).sum();
                let p: Vec<f64> = c.iter().map(|&n| (n as f64 + 1.0) / total).collect();
                Prior::from_floating_point_probabilities_perfect(&p)
                    .map_err(|()| Error::config("bits", format!("{} levels are too many for the coder", p.len())))
            })
            .collect()
    }

    /// Checks what serde cannot: sizes agree with `bits` and the ranges are finite.
    fn validate(&self, path: &Path) -> Result<()> {
        let bad =
            |what: String| Err(Error::format(path, format!("{what}; delete the file and compress again to refit it")));
        if self.format_version != CODEC_VERSION {
            return bad(format!("codec format_version {} is not {CODEC_VERSION}", self.format_version));
        }
        check_bits(self.bits).map_err(|e| Error::format(path, e.to_string()))?;
        if self.counts.len() != self.ranges.len() {
            return bad(format!("{} ranges but {} count lists", self.ranges.len(), self.counts.len()));
        }
        if let Some(j) = self.counts.iter().position(|c| c.len() != self.levels()) {
            return bad(format!("counts[{j}] has {} levels, not 2^{}", self.counts[j].len(), self.bits));
        }
        if let Some(j) = self.ranges.iter().position(|[lo, hi]| !(lo.is_finite() && hi.is_finite() && lo <= hi)) {
            return bad(format!("ranges[{j}] = {:?} is not a finite interval", self.ranges[j]));
        }
        Ok(())
    }
}

/// The quantiser's range of one code unit: from its [`RANGE_TAIL`] quantile to its
/// `1 − RANGE_TAIL` one, so that a few outliers do not coarsen every other value's levels.
fn unit_range(mut values: Vec<f32>) -> [f32; 2] {
    values.sort_by(f32::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [at(RANGE_TAIL), at(1.0 - RANGE_TAIL)]
}

fn check_bits(bits: u8) -> Result<()> {
    if !(1..=MAX_BITS).contains(&bits) {
        return Err(Error::config("bits", format!("{bits} is not between 1 and {MAX_BITS}")));
    }
    Ok(())
}

/// The codec file of `bits` in a model directory.
pub fn codec_path(dir: &Path, bits: u8) -> PathBuf {
    dir.join(format!("codec-{bits}bit.json"))
}

/// What [`compress`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompressReport {
    /// Images compressed.
    pub images: usize,
    /// The whole file's size.
    pub bytes: usize,
    /// Of which the payload (the coded levels).
    pub payload_bytes: usize,
    /// `bytes / images`.
    pub bytes_per_image: f64,
    /// `8 · bytes / (images · pixels)`, counting every channel value as a pixel.
    pub bits_per_pixel: f64,
    /// PSNR (dB) of the decompressed images against the inputs, in the model's normalised
    /// units (peak 1 for images scaled to [0, 1]).
    pub psnr: f64,
    /// PSNR of the model's reconstruction without quantisation: what the bits cost.
    pub psnr_unquantized: f64,
    /// Bits per code unit.
    pub bits: u8,
    /// Code length.
    pub code_len: usize,
    /// True when this call fitted the codec and wrote it to the model directory.
    pub fitted_codec: bool,
}

/// Compresses `input` (read as the model's training data was) with the model in `dir` into the
/// bytes of an `.aec` file, fitting the codec of `bits` first if the directory has none for
/// these weights.
pub fn compress(dir: &Path, input: &DataSource, bits: u8) -> Result<(Vec<u8>, CompressReport)> {
    check_bits(bits)?;
    let cfg = RunConfig::load(dir)?;
    let set = super::load_checked_input(&cfg, dir, input)?;
    let shape = image_shape(&set.shape, dir)?;
    let weights = digest(&read(&dir.join(WEIGHTS))?);
    let weights_sha256 = hex(&weights);
    let (codec, fitted_codec) = match read_codec(dir, bits, &weights_sha256)? {
        Some(c) => (c, false),
        None => (fit_codec(dir, &cfg, bits, weights_sha256.clone())?, true),
    };
    let codec_bytes = read(&codec_path(dir, bits))?;
    let (symbols, psnr_unquantized, psnr) = cfg.load_model(dir, EncodeJob { set: &set, codec: &codec })?;
    let payload = codec.encode(&symbols)?;
    let k = codec.code_len();
    let header = Header {
        bits,
        code_len: k as u16,
        count: set.len() as u32,
        shape,
        weights: short(&weights),
        codec: short(&digest(&codec_bytes)),
        words: payload.len() as u32,
    };
    let bytes = header.write(&payload);
    let pixels: usize = set.sample_len() * set.len();
    let report = CompressReport {
        images: set.len(),
        bytes: bytes.len(),
        payload_bytes: payload.len() * 4,
        bytes_per_image: bytes.len() as f64 / set.len().max(1) as f64,
        bits_per_pixel: 8.0 * bytes.len() as f64 / pixels.max(1) as f64,
        psnr,
        psnr_unquantized,
        bits,
        code_len: k,
        fitted_codec,
    };
    Ok((bytes, report))
}

/// [`compress`], written atomically to `output`.
pub fn compress_to_file(dir: &Path, input: &DataSource, bits: u8, output: &Path) -> Result<CompressReport> {
    let (bytes, report) = compress(dir, input, bits)?;
    write_atomic(output, &bytes)?;
    Ok(report)
}

/// Decompressed images: `count` samples of `shape`, in the model's normalised units.
#[derive(Debug, Clone, PartialEq)]
pub struct Decompressed {
    /// The images, flattened one after another.
    pub images: Vec<f32>,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// How many.
    pub count: usize,
}

/// Decompresses the bytes of an `.aec` file (`name` is its path, for errors) with the model
/// in `dir`.
pub fn decompress(dir: &Path, bytes: &[u8], name: &Path) -> Result<Decompressed> {
    let mut images = Vec::new();
    let (shape, count) = decompress_with(dir, bytes, name, |_, chunk, _| {
        images.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(Decompressed { images, shape, count })
}

/// Decompresses `bytes` a chunk of images at a time, handing each chunk (its first image's
/// index, the images and their shape) to `each`: memory stays bounded whatever the image count. Returns
/// the shape and count.
pub fn decompress_with(
    dir: &Path,
    bytes: &[u8],
    name: &Path,
    mut each: impl FnMut(usize, &[f32], [usize; 3]) -> Result<()>,
) -> Result<([usize; 3], usize)> {
    let (header, payload) = Header::read(bytes, name)?;
    let cfg = RunConfig::load(dir)?;
    let weights = short(&digest(&read(&dir.join(WEIGHTS))?));
    if weights != header.weights {
        return Err(Error::format(
            name,
            format!(
                "was compressed with another model (weights fingerprint {}, {}'s is {}): decompress it with the \
                 model directory that compressed it",
                hex(&header.weights),
                dir.display(),
                hex(&weights)
            ),
        ));
    }
    let path = codec_path(dir, header.bits);
    let codec_bytes = std::fs::read(&path).map_err(|e| {
        Error::format(
            name,
            format!(
                "needs {} ({e}); `compress` with --bits {} on this model directory fits it again (the same weights and \
                 training data give the same codec)",
                path.display(),
                header.bits
            ),
        )
    })?;
    if short(&digest(&codec_bytes)) != header.codec {
        return Err(Error::format(name, format!("was compressed with another codec than {}", path.display())));
    }
    let codec: Codec = serde_json::from_slice(&codec_bytes).map_err(|e| Error::format(&path, e.to_string()))?;
    codec.validate(&path)?;
    // Every level costs at least the information of its code unit's likeliest level: a
    // header naming more images than the payload can hold (a forged count) is refused before
    // any decoding (half of that bound, for the coder's fixed-point probabilities; two words
    // for its state).
    let min_bits = codec.min_bits_per_code();
    if header.count as f64 * min_bits * 0.5 > 32.0 * (payload.len() + 2) as f64 {
        let what = format!(
            "is corrupted: its header names {} images, more than its {}-byte payload can hold",
            header.count,
            4 * payload.len()
        );
        return Err(Error::format(name, what));
    }
    let mut coder = DefaultAnsCoder::from_compressed(payload)
        .map_err(|_| Error::format(name, "is corrupted: its payload is not an ANS stream (the last word is zero)"))?;
    let priors = codec.priors()?;
    let job = DecodeJob { codec: &codec, priors: &priors, coder: &mut coder, header: &header, name, each: &mut each };
    cfg.load_model(dir, job)?;
    if !coder.is_empty() {
        let what = format!("is corrupted: its payload holds more than the {} images its header names", header.count);
        return Err(Error::format(name, what));
    }
    Ok((header.shape, header.count as usize))
}

/// Decompresses the `.aec` file `file` into the folder `output` as PNGs `00000.png`, … (mapped
/// back to pixel values by the model's normalisation); returns how many. The folder appears
/// whole or not at all: the images go into a temporary folder beside it, renamed into place at
/// the end. An existing `output` must be an empty folder.
pub fn decompress_to_folder(dir: &Path, file: &Path, output: &Path) -> Result<usize> {
    let bytes = read(file)?;
    let cfg = RunConfig::load(dir)?;
    let norm = cfg.data.normalizer.as_ref();
    crate::fs::write_folder_atomic(output, |tmp| {
        let (_, count) = decompress_with(dir, &bytes, file, |first, images, shape| {
            let d: usize = shape.iter().product();
            for (i, img) in images.chunks(d).enumerate() {
                let path = tmp.join(format!("{:05}.png", first + i));
                std::fs::write(&path, png(img, shape, norm)?).map_err(|e| Error::io(&path, e))?;
            }
            Ok(())
        })?;
        Ok(count)
    })
}

/// One image (`[c, h, w]` planes, normalised) as PNG bytes, mapped back to pixel values.
pub(super) fn png(img: &[f32], [c, h, w]: [usize; 3], normalizer: Option<&Normalizer>) -> Result<Vec<u8>> {
    let (pixels, color) = to_pixels(img, [c, h, w], normalizer)?;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&pixels, w as u32, h as u32, color)
        .map_err(|e| Error::config("output", e.to_string()))?;
    Ok(out)
}

/// One image (`[c, h, w]` planes, normalised) as interleaved 8-bit pixels, mapped back to
/// pixel values by the model's normalisation, and their colour type (grey or RGB).
pub(super) fn to_pixels(
    img: &[f32],
    [c, h, w]: [usize; 3],
    normalizer: Option<&Normalizer>,
) -> Result<(Vec<u8>, image::ColorType)> {
    let mut raw = img.to_vec();
    // Images scaled to [0, 1] from a [0, 255] range come back to 0–255; from a [0, 1] range
    // (or unscaled), to 0–1, which a PNG stores as 0–255.
    let unit = match normalizer {
        Some(n @ Normalizer::MinMax { max, .. }) => {
            n.invert(&mut raw);
            *max <= 1.0
        }
        Some(n) => {
            n.invert(&mut raw);
            false
        }
        None => true,
    };
    let px = |v: f32| (if unit { v * 255.0 } else { v }).round().clamp(0.0, 255.0) as u8;
    let plane = h * w;
    let pixels: Vec<u8> =
        (0..plane).flat_map(|p| (0..c).map(move |ch| (ch, p))).map(|(ch, p)| px(raw[ch * plane + p])).collect();
    let color = match c {
        1 => image::ColorType::L8,
        3 => image::ColorType::Rgb8,
        _ => return Err(Error::config("input", format!("{c} channels cannot be written as images (1 or 3)"))),
    };
    Ok((pixels, color))
}

/// The `.aec` header.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Header {
    bits: u8,
    code_len: u16,
    count: u32,
    shape: [usize; 3],
    weights: [u8; 8],
    codec: [u8; 8],
    words: u32,
}

impl Header {
    fn write(&self, payload: &[u32]) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_BYTES + 4 * payload.len() + TRAILER_BYTES);
        b.extend_from_slice(MAGIC);
        b.push(AEC_VERSION);
        b.push(self.bits);
        b.extend_from_slice(&self.code_len.to_le_bytes());
        b.extend_from_slice(&self.count.to_le_bytes());
        for s in self.shape {
            b.extend_from_slice(&(s as u16).to_le_bytes());
        }
        b.extend_from_slice(&self.weights);
        b.extend_from_slice(&self.codec);
        b.extend_from_slice(&self.words.to_le_bytes());
        payload.iter().for_each(|w| b.extend_from_slice(&w.to_le_bytes()));
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks a file's bytes: magic, version, length, checksum. Allocates only the
    /// payload, which the file's size bounds.
    fn read(b: &[u8], name: &Path) -> Result<(Header, Vec<u32>)> {
        let err = |what: String| Err(Error::format(name, what));
        if b.len() < 4 || &b[..4] != MAGIC {
            return err("is not an .aec file (it does not start with `AEC\\0`)".into());
        }
        if b.len() < HEADER_BYTES + TRAILER_BYTES {
            return err(format!(
                "is truncated: {} bytes, shorter than the {}-byte header",
                b.len(),
                HEADER_BYTES + TRAILER_BYTES
            ));
        }
        if b[4] != AEC_VERSION {
            return err(format!("is .aec format version {}; this release reads version {AEC_VERSION}", b[4]));
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let words = u32_at(34) as usize;
        let want = HEADER_BYTES + 4 * words + TRAILER_BYTES;
        if b.len() != want {
            let what = if b.len() < want { "is truncated" } else { "has trailing bytes" };
            return err(format!("{what}: its header promises {want} bytes, the file has {}", b.len()));
        }
        let (body, tail) = b.split_at(b.len() - TRAILER_BYTES);
        if crc32fast::hash(body) != u32::from_le_bytes(tail.try_into().expect("4 bytes")) {
            return err("is corrupted: its CRC-32 does not match its contents".into());
        }
        let header = Header {
            bits: b[5],
            code_len: u16_at(6),
            count: u32_at(8),
            shape: [u16_at(12) as usize, u16_at(14) as usize, u16_at(16) as usize],
            weights: b[18..26].try_into().expect("8 bytes"),
            codec: b[26..34].try_into().expect("8 bytes"),
            words: words as u32,
        };
        let payload =
            body[HEADER_BYTES..].chunks(4).map(|w| u32::from_le_bytes(w.try_into().expect("4 bytes"))).collect();
        Ok((header, payload))
    }
}

/// Encodes `set`, quantises the codes; returns the levels and the PSNR without and with
/// quantisation.
struct EncodeJob<'a> {
    set: &'a Dataset,
    codec: &'a Codec,
}

impl ModelVisitor for EncodeJob<'_> {
    type Output = (Vec<usize>, f64, f64);
    fn visit<M: Autoencoder>(self, model: M) -> Result<Self::Output> {
        super::check_len(&model, self.set)?;
        let k = model.code_len();
        if k != self.codec.code_len() {
            return Err(Error::config(
                "bits",
                format!("the codec has {} code units, the model {k}", self.codec.code_len()),
            ));
        }
        let codes = encode_all(&model, self.set, CHUNK);
        if let Some(i) = codes.iter().position(|v| !v.is_finite()) {
            let what = format!("sample {}'s code is {}: the model cannot code it", i / k, codes[i]);
            return Err(Error::format(&self.set.name, what));
        }
        let symbols: Vec<usize> = codes.iter().enumerate().map(|(i, &z)| self.codec.quantize(i % k, z)).collect();
        let quantized: Vec<f32> = symbols.iter().enumerate().map(|(i, &q)| self.codec.dequantize(i % k, q)).collect();
        let n = self.set.len();
        let exact = super::generate::decode_codes(&model, codes, n);
        let lossy = super::generate::decode_codes(&model, quantized, n);
        Ok((symbols, psnr(&self.set.samples, &exact), psnr(&self.set.samples, &lossy)))
    }
}

/// PSNR (dB) of `b` against `a`, peak 1 when `a` lies in [0, 1], else its range.
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let (lo, hi) = a.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let peak = if lo >= 0.0 && hi <= 1.0 { 1.0 } else { (hi - lo) as f64 };
    let mse = a.iter().zip(b).map(|(&x, &y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.len().max(1) as f64;
    10.0 * (peak * peak / mse).log10()
}

/// Decodes the payload's levels a chunk of images at a time and hands the decoded images on.
struct DecodeJob<'a, F> {
    codec: &'a Codec,
    priors: &'a [Prior],
    coder: &'a mut DefaultAnsCoder,
    header: &'a Header,
    name: &'a Path,
    each: &'a mut F,
}

impl<F: FnMut(usize, &[f32], [usize; 3]) -> Result<()>> ModelVisitor for DecodeJob<'_, F> {
    type Output = ();
    fn visit<M: Autoencoder>(self, model: M) -> Result<()> {
        let (k, h) = (model.code_len(), self.header);
        let d = dfdx::shapes::Shape::num_elements(&model.input_shape(1));
        if k != self.codec.code_len() || k != h.code_len as usize || d != h.shape.iter().product::<usize>() {
            let what = format!(
                "holds {:?} images with {}-number codes, but the model takes {d} values and makes {k}-number codes \
                 (its codec {})",
                h.shape,
                h.code_len,
                self.codec.code_len()
            );
            return Err(Error::format(self.name, what));
        }
        let count = h.count as usize;
        let mut first = 0;
        while first < count {
            let n = CHUNK.min(count - first);
            let mut codes = Vec::with_capacity(n * k);
            for i in 0..n * k {
                let q = self.coder.decode_symbol(&self.priors[i % k]).map_err(|e| {
                    Error::format(self.name, format!("is corrupted: image {} does not decode ({e:?})", first + i / k))
                })?;
                codes.push(self.codec.dequantize(i % k, q));
            }
            (self.each)(first, &super::generate::decode_codes(&model, codes, n), h.shape)?;
            first += n;
        }
        Ok(())
    }
}

/// The codec of `bits` in `dir` if it was fitted for these weights.
fn read_codec(dir: &Path, bits: u8, weights_sha256: &str) -> Result<Option<Codec>> {
    let path = codec_path(dir, bits);
    let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
    let codec: Codec = serde_json::from_slice(&bytes).map_err(|e| Error::format(&path, e.to_string()))?;
    codec.validate(&path)?;
    Ok((codec.weights_sha256 == weights_sha256).then_some(codec))
}

/// Fits the codec of `bits` on the model's training split and writes it, under the directory's
/// lock.
fn fit_codec(dir: &Path, cfg: &RunConfig, bits: u8, weights_sha256: String) -> Result<Codec> {
    let _lock = DirLock::acquire(dir)?;
    if cfg.data.source.stream {
        return Err(Error::config("input", "a model trained on a streamed table has no image codec"));
    }
    let train = super::load_checked_split(cfg, dir, Split::Train)?;
    let (codes, k) = cfg.load_model(dir, super::encode::Codes(&train))?;
    let codec = Codec::fit(&codes, k, bits, weights_sha256, train.name.clone())?;
    let json = serde_json::to_vec(&codec).map_err(|e| Error::format(codec_path(dir, bits), e.to_string()))?;
    write_atomic(&codec_path(dir, bits), &json)?;
    Ok(codec)
}

/// `[c, h, w]` of an image shape; other data cannot be compressed to images.
pub(super) fn image_shape(shape: &[usize], dir: &Path) -> Result<[usize; 3]> {
    match *shape {
        [c, h, w] if c.max(h).max(w) <= u16::MAX as usize => Ok([c, h, w]),
        _ => Err(Error::config(
            "input",
            format!(
                "{} takes samples of shape {shape:?}; compress works on images ([channels, height, width])",
                dir.display()
            ),
        )),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A file's fingerprint in the header: the first 8 bytes of its SHA-256.
fn short(digest: &[u8; 32]) -> [u8; 8] {
    digest[..8].try_into().expect("8 bytes")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(bits: u8) -> Codec {
        // Two code units: one spread over [-1, 3], one constant.
        let codes = [-1.0, 0.5, 3.0, 0.5, 1.0, 0.5, 1.0, 0.5];
        Codec::fit(&codes, 2, bits, "w".into(), "t".into()).unwrap()
    }

    #[test]
    fn the_range_ends_are_levels_and_outside_values_clamp() {
        let c = codec(2);
        assert_eq!((c.levels(), c.code_len()), (4, 2));
        assert_eq!((c.quantize(0, -1.0), c.quantize(0, 3.0)), (0, 3));
        assert_eq!((c.dequantize(0, 0), c.dequantize(0, 3)), (-1.0, 3.0));
        assert_eq!((c.quantize(0, -7.0), c.quantize(0, 9.0)), (0, 3));
        // Levels at -1, 1/3, 5/3, 3: 0.9 is nearer 1/3, 1.0 halfway rounds up.
        assert_eq!((c.quantize(0, 0.9), c.quantize(0, 1.0)), (1, 2));
        assert_eq!((c.quantize(1, 0.5), c.dequantize(1, 0)), (0, 0.5));
        assert_eq!(c.counts, vec![vec![1, 0, 2, 1], vec![4, 0, 0, 0]]);
    }

    #[test]
    fn bad_bit_depths_and_codes_are_refused() {
        for bits in [0, MAX_BITS + 1] {
            let e = Codec::fit(&[0.0], 1, bits, "w".into(), "t".into()).unwrap_err().to_string();
            assert!(e.contains("between 1 and 16"), "{e}");
        }
        let e = Codec::fit(&[0.0, f32::NAN], 1, 8, "w".into(), "t".into()).unwrap_err().to_string();
        assert!(e.contains("sample 1's code is NaN: the model diverged"), "{e}");
        let mut c = codec(3);
        c.counts[1].pop();
        let e = c.validate(Path::new("codec.json")).unwrap_err().to_string();
        assert!(e.contains("counts[1] has 7 levels") && e.contains("refit"), "{e}");
    }

    #[test]
    fn levels_round_trip_through_the_coder() {
        let c = codec(4);
        let priors = c.priors().unwrap();
        let symbols: Vec<usize> = (0..200).map(|i| if i % 2 == 0 { (i * 7) % 16 } else { 0 }).collect();
        let mut coder = DefaultAnsCoder::new();
        coder.encode_symbols_reverse(symbols.iter().enumerate().map(|(i, &s)| (s, &priors[i % 2]))).unwrap();
        let mut coder = DefaultAnsCoder::from_compressed(coder.into_compressed().unwrap()).unwrap();
        let back: Vec<usize> = (0..200).map(|i| coder.decode_symbol(&priors[i % 2]).unwrap()).collect();
        assert_eq!(back, symbols);
        assert!(coder.is_empty());
        // Likeliest levels: 3 of 4 + 16 smoothed counts (unit 0: levels 0, 8, 8, 15), 5 of 20.
        let want = -(3.0f64 / 20.0).log2() - (5.0f64 / 20.0).log2();
        assert!((c.min_bits_per_code() - want).abs() < 1e-12, "{} vs {want}", c.min_bits_per_code());
    }

    #[test]
    fn the_header_round_trips_and_damage_is_named() {
        let h =
            Header { bits: 6, code_len: 32, count: 3, shape: [1, 28, 28], weights: [1; 8], codec: [2; 8], words: 2 };
        let b = h.write(&[7, 9]);
        assert_eq!(b.len(), HEADER_BYTES + 8 + TRAILER_BYTES);
        let name = Path::new("x.aec");
        assert_eq!(Header::read(&b, name).unwrap(), (h, vec![7, 9]));
        let err = |b: &[u8]| Header::read(b, name).unwrap_err().to_string();
        let mut flipped = b.clone();
        flipped[HEADER_BYTES + 1] ^= 4;
        assert!(err(&flipped).contains("CRC-32"));
        assert!(err(&b[..b.len() - 1]).contains("is truncated: its header promises 50 bytes"));
        assert!(err(&b[..20]).contains("shorter than the 42-byte header"));
        assert!(err(&[b.as_slice(), &[0]].concat()).contains("has trailing bytes"));
        assert!(err(b"PK\x03\x04 a zip").contains("is not an .aec file"));
        let mut newer = b.clone();
        newer[4] = 2;
        assert!(err(&newer).contains("format version 2"));
    }
}
