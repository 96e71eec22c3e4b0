//! A folder of images: `root/<class>/<image>` (ORL faces: `s1/1.pgm` …), or a flat folder
//! of images without classes.
//!
//! Classes are the sub-folders in natural order (`s2` before `s10`), images likewise. Images
//! are stored channel-first (`C×H×W`), raw 0–255. Without a target size all images must share
//! one; with one ([`ImageOptions::size`]) each is resized with the `image` crate's triangle
//! (bilinear) filter. Grey or RGB comes from [`ImageOptions::channels`], or from the first
//! image.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use image::DynamicImage;
use serde::{Deserialize, Serialize};

use super::Dataset;
use crate::{Error, Result};

/// Image file extensions this loader reads (lower case).
pub const EXTENSIONS: [&str; 7] = ["pgm", "png", "pnm", "ppm", "jpg", "jpeg", "bmp"];

/// A target image size, written `WxH` (`64x64`, `92x112`) on the command line and in
/// `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSize {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl fmt::Display for ImageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for ImageSize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::config("image_size", format!("`{s}` is not WIDTHxHEIGHT such as 64x64"));
        let (w, h) = s.split_once(['x', 'X', '×']).ok_or_else(bad)?;
        let (width, height) = (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?);
        if width == 0 || height == 0 || width > 4096 || height > 4096 {
            return Err(Error::config("image_size", format!("{s}: each side must be 1 to 4096 pixels")));
        }
        Ok(Self { width, height })
    }
}

impl Serialize for ImageSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// How images become samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// Resize every image to this size; `None`: all must share one size.
    pub size: Option<ImageSize>,
    /// 1 (grey) or 3 (RGB); `None`: as the first image (grey if it has no colour).
    pub channels: Option<usize>,
    /// Skip images that cannot be decoded (and count them) instead of failing.
    pub drop_invalid: bool,
}

/// Decodes images one by one into `C×H×W` samples with one size and channel count.
pub struct ImageStack {
    opts: ImageOptions,
    first: Option<(u32, u32, usize, String)>,
    /// The samples so far, flattened.
    pub samples: Vec<f32>,
    /// Images skipped as unreadable (with `drop_invalid`).
    pub dropped: usize,
}

impl ImageStack {
    /// An empty stack; `opts.channels` must be 1 or 3 when given.
    pub fn new(opts: ImageOptions) -> Result<Self> {
        if let Some(c) = opts.channels.filter(|c| *c != 1 && *c != 3) {
            return Err(Error::config("channels", format!("{c}: images have 1 (grey) or 3 (RGB) channels")));
        }
        Ok(Self { opts, first: None, samples: Vec::new(), dropped: 0 })
    }

    /// Decodes `bytes` (the file `what`, for messages) and adds it; `Ok(false)` when it was
    /// unreadable and skipped.
    pub fn push_encoded(&mut self, bytes: &[u8], what: &dyn Fn() -> String, origin: &Path) -> Result<bool> {
        if let Some(e) = pnm_sample_over_maxval(bytes) {
            if self.opts.drop_invalid {
                self.dropped += 1;
                return Ok(false);
            }
            return Err(Error::format(
                origin,
                format!("{}: {e}; remove or re-export it, or pass --drop-invalid", what()),
            ));
        }
        match decode(bytes) {
            Ok(img) => self.push(img, what, origin).map(|_| true),
            Err(_) if self.opts.drop_invalid => {
                self.dropped += 1;
                Ok(false)
            }
            Err(e) => Err(Error::format(
                origin,
                format!("{}: not a readable image ({e}); remove it, or pass --drop-invalid to skip it", what()),
            )),
        }
    }

    /// Adds one decoded image: resized to the target size, or checked against the first.
    pub fn push(&mut self, img: DynamicImage, what: &dyn Fn() -> String, origin: &Path) -> Result<()> {
        let channels = *self.opts.channels.get_or_insert(if img.color().has_color() { 3 } else { 1 });
        let img = match self.opts.size {
            Some(s) if (img.width(), img.height()) != (s.width, s.height) => {
                img.resize_exact(s.width, s.height, image::imageops::FilterType::Triangle)
            }
            _ => img,
        };
        let (w, h) = (img.width(), img.height());
        match &self.first {
            None => self.first = Some((w, h, channels, what())),
            Some((fw, fh, _, first)) if (*fw, *fh) != (w, h) => {
                return Err(Error::format(
                    origin,
                    format!(
                        "{} is {w}×{h} but {first} is {fw}×{fh}; give --image-size WxH to resize every image to one                          size",
                        what()
                    ),
                ))
            }
            _ => {}
        }
        let plane = (w * h) as usize;
        let start = self.samples.len();
        self.samples.resize(start + plane * channels, 0.0);
        let out = &mut self.samples[start..];
        if channels == 1 {
            out.iter_mut().zip(img.into_luma8().as_raw()).for_each(|(o, &p)| *o = p as f32);
        } else {
            // Interleaved RGB → planes R, G, B.
            for (i, px) in img.into_rgb8().as_raw().chunks_exact(3).enumerate() {
                for c in 0..3 {
                    out[c * plane + i] = px[c] as f32;
                }
            }
        }
        Ok(())
    }

    /// The sample shape `[C, H, W]`, once an image was added.
    pub fn shape(&self) -> Option<Vec<usize>> {
        self.first.as_ref().map(|(w, h, c, _)| vec![*c, *h as usize, *w as usize])
    }

    /// The options in effect (channels filled in from the first image).
    pub fn options(&self) -> ImageOptions {
        self.opts
    }
}

/// Loads every grey image under `root/<class>/` as a `1×height×width` sample with raw 0–255
/// pixels. `keep(class_index, image_index)` chooses which images to load, for per-class splits.
pub fn load_image_folder(root: &Path, name: &str, keep: impl Fn(usize, usize) -> bool) -> Result<Dataset> {
    let opts = ImageOptions { channels: Some(1), ..Default::default() };
    load_images(root, name, &opts, keep).map(|(d, _)| d)
}

/// Loads a folder of images: `root/<class>/<image>` (labelled by folder) or images directly in
/// `root` (no labels); returns the options in effect (channels as decided by the first image).
pub fn load_images(
    root: &Path,
    name: &str,
    opts: &ImageOptions,
    keep: impl Fn(usize, usize) -> bool,
) -> Result<(Dataset, ImageOptions)> {
    let is_image = is_image_file;
    let classes = sorted_entries(root, |p| p.is_dir())?;
    let loose = sorted_entries(root, is_image)?;
    let (groups, class_names): (Vec<Vec<PathBuf>>, Vec<String>) = match (classes.is_empty(), loose.is_empty()) {
        (true, true) => {
            return Err(Error::format(
                root,
                format!("no images ({}) and no class sub-folders of images", EXTENSIONS.join(", ")),
            ))
        }
        (true, false) => (vec![loose], Vec::new()),
        (false, false) => {
            return Err(Error::format(
                root,
                format!(
                    "holds both images ({} …) and sub-folders ({} …); use root/<class>/<image> or a flat folder,                      not both",
                    loose[0].display(),
                    classes[0].display()
                ),
            ))
        }
        (false, true) => {
            let groups = classes.iter().map(|d| sorted_entries(d, is_image)).collect::<Result<_>>()?;
            let names = classes.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned());
            (groups, names.collect())
        }
    };
    let mut stack = ImageStack::new(*opts)?;
    let mut labels = Vec::new();
    for (c, images) in groups.iter().enumerate() {
        for (_, path) in images.iter().enumerate().filter(|(k, _)| keep(c, *k)) {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            if stack.push_encoded(&bytes, &|| path.display().to_string(), path)? {
                labels.push(c as u32);
            }
        }
    }
    if stack.dropped > 0 {
        eprintln!("{}: skipped {} unreadable image(s) (--drop-invalid)", root.display(), stack.dropped);
    }
    let shape = stack.shape().ok_or_else(|| Error::format(root, "no readable images in the folder"))?;
    let labels = (!class_names.is_empty()).then_some(labels);
    let opts = stack.options();
    Ok((Dataset::new(name, std::mem::take(&mut stack.samples), shape, labels, class_names)?, opts))
}

/// Reads and decodes one image file, with the checks a folder's images get (a PGM sample above
/// its maxval, a header claiming more pixels than the file can hold); errors name the file.
pub fn read_image(path: &Path) -> Result<DynamicImage> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if let Some(e) = pnm_sample_over_maxval(&bytes) {
        return Err(Error::format(path, e));
    }
    decode(&bytes).map_err(|e| Error::format(path, format!("not a readable image ({e})")))
}

/// The image files under `root` and its sub-folders, in natural order (folders first as
/// [`load_images`] reads them, then loose files).
pub fn image_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for dir in sorted_entries(root, |p| p.is_dir())? {
        out.extend(image_files(&dir)?);
    }
    out.extend(sorted_entries(root, is_image_file)?);
    Ok(out)
}

/// A file with one of the [`EXTENSIONS`] (any case).
pub fn is_image_file(p: &Path) -> bool {
    p.is_file()
        && p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Entries of `dir` passing `pred`, in natural order (digit runs compare as numbers).
fn sorted_entries(dir: &Path, pred: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        if pred(&p) {
            out.push(p);
        }
    }
    out.sort_by_key(|p| natural_key(&p.file_name().unwrap_or_default().to_string_lossy()));
    Ok(out)
}

/// Decodes an image, allocating no more than its size can justify: 16 MiB, plus 4,400 bytes
/// per byte of file (deflate's 1,100:1 at most, times 4 bytes per pixel), up to the `image`
/// crate's default of 512 MiB — which a 60-byte PNG header claiming 30,000 × 30,000 pixels
/// would otherwise be allowed to reach.
fn decode(bytes: &[u8]) -> image::ImageResult<DynamicImage> {
    let mut reader = image::io::Reader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::io::Limits::default();
    let budget = (16u64 << 20).saturating_add((bytes.len() as u64).saturating_mul(4 * super::MAX_DEFLATE_RATIO));
    limits.max_alloc = Some(budget.min(512 << 20));
    reader.limits(limits);
    reader.decode()
}

/// The first sample of a PGM/PPM (P2, P3, P5, P6) above the header's maxval, described.
/// The `image` crate scales samples by 255 / maxval and saturates, so such a file would load as
/// silently clipped pixels. `None` for other formats and for files it cannot parse (the decoder
/// then names what is wrong).
fn pnm_sample_over_maxval(b: &[u8]) -> Option<String> {
    let kind = match b {
        [b'P', k @ (b'2' | b'3' | b'5' | b'6'), ..] => *k,
        _ => return None,
    };
    let mut pos = 2;
    let mut header = [0u64; 3];
    for h in header.iter_mut() {
        *h = pnm_number(b, &mut pos)?;
    }
    let [width, height, maxval] = header;
    if maxval == 0 || maxval > 0xFFFF {
        return None;
    }
    let channels = if matches!(kind, b'3' | b'6') { 3 } else { 1 };
    let count = width.checked_mul(height)?.checked_mul(channels)?;
    let over = |i: u64, v: u64| {
        let (px, c) = (i / channels, i % channels);
        let at = format!(
            "row {}, column {}{}",
            px / width + 1,
            px % width + 1,
            if channels == 3 { format!(", channel {}", c + 1) } else { String::new() }
        );
        format!("sample {v} at {at} is above the header's maxval {maxval}")
    };
    if matches!(kind, b'2' | b'3') {
        for i in 0..count {
            match pnm_number(b, &mut pos) {
                Some(v) if v > maxval => return Some(over(i, v)),
                Some(_) => {}
                None => return None,
            }
        }
        return None;
    }
    let raster = b.get(pos + 1..)?; // one whitespace byte ends the header
    let wide = maxval > 255;
    let values = raster.chunks_exact(if wide { 2 } else { 1 }).take(count as usize);
    values.enumerate().find_map(|(i, v)| {
        let v = if wide { u16::from_be_bytes([v[0], v[1]]) as u64 } else { v[0] as u64 };
        (v > maxval).then(|| over(i as u64, v))
    })
}

/// The next decimal number of a PNM header at `*pos`, skipping whitespace and `#` comments.
fn pnm_number(b: &[u8], pos: &mut usize) -> Option<u64> {
    loop {
        match b.get(*pos)? {
            c if c.is_ascii_whitespace() => *pos += 1,
            b'#' => {
                while *b.get(*pos)? != b'\n' {
                    *pos += 1;
                }
            }
            _ => break,
        }
    }
    let start = *pos;
    while b.get(*pos).is_some_and(|c| c.is_ascii_digit()) {
        *pos += 1;
    }
    std::str::from_utf8(&b[start..*pos]).ok()?.parse().ok()
}

/// Splits a name into text and number runs so that `s2` < `s10`.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut num: Option<u64> = None;
    for ch in s.chars() {
        if let Some(d) = ch.to_digit(10) {
            num = Some(num.unwrap_or(0).saturating_mul(10).saturating_add(d as u64));
        } else {
            if let Some(n) = num.take() {
                key.push((std::mem::take(&mut text), n));
            }
            text.push(ch);
        }
    }
    key.push((text, num.unwrap_or(0)));
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["s10", "s2", "s1", "a"];
        v.sort_by_key(|s| natural_key(s));
        assert_eq!(v, vec!["a", "s1", "s2", "s10"]);
    }

    #[test]
    fn reads_pgm_and_rejects_a_bad_header() {
        let dir = tempfile::tempdir().unwrap();
        for (class, pixels) in [("b", [1u8, 2, 3, 4, 5, 6]), ("a", [9u8, 8, 7, 6, 5, 4])] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            let mut pgm = b"P5\n3 2\n255\n".to_vec();
            pgm.extend_from_slice(&pixels);
            std::fs::write(dir.path().join(class).join("1.pgm"), pgm).unwrap();
        }
        let d = load_image_folder(dir.path(), "t", |_, _| true).unwrap();
        assert_eq!(d.shape, vec![1, 2, 3]);
        assert_eq!(d.class_names, vec!["a", "b"]);
        assert_eq!(d.sample(0), &[9.0, 8.0, 7.0, 6.0, 5.0, 4.0]);

        std::fs::write(dir.path().join("a").join("2.pgm"), b"P5\n3 x\n255\n123456").unwrap();
        let e = load_image_folder(dir.path(), "t", |_, _| true).unwrap_err().to_string();
        assert!(e.contains("2.pgm") && e.contains("not a readable image"), "{e}");
        let opts = ImageOptions { drop_invalid: true, ..Default::default() };
        let (d, _) = load_images(dir.path(), "t", &opts, |_, _| true).unwrap();
        assert_eq!(d.len(), 2);
    }

    /// Issue 17 item 13: samples above maxval were scaled and clipped without a word.
    #[test]
    fn a_pgm_sample_above_its_maxval_is_refused_naming_the_pixel() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1.pgm"), b"P5\n# a comment\n3 2\n15\n\x01\x02\x03\x04\x10\x06").unwrap();
        let e = load_image_folder(dir.path(), "t", |_, _| true).unwrap_err().to_string();
        assert!(
            e.contains("1.pgm") && e.contains("sample 16 at row 2, column 2 is above the header's maxval 15"),
            "{e}"
        );
        std::fs::write(dir.path().join("1.pgm"), b"P3\n2 1\n100\n1 2 3 4 101 6\n").unwrap();
        let e = load_image_folder(dir.path(), "t", |_, _| true).unwrap_err().to_string();
        assert!(e.contains("sample 101 at row 1, column 2, channel 2"), "{e}");
        // Within range: loads, scaled to 0–255 by the decoder.
        std::fs::write(dir.path().join("1.pgm"), b"P5\n3 2\n15\n\x00\x01\x02\x03\x04\x0f").unwrap();
        let d = load_image_folder(dir.path(), "t", |_, _| true).unwrap();
        assert_eq!(d.sample(0)[5], 255.0);
    }
}
