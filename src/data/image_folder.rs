//! A folder of images laid out as `root/<class>/<image>` (ORL faces: `s1/1.pgm` …).
//!
//! Classes are the sub-folders in natural order (`s2` before `s10`), images likewise; every
//! image must be greyscale-decodable (binary PGM, PNG) and all must share one size.

use std::path::{Path, PathBuf};

use super::Dataset;
use crate::{Error, Result};

/// Image file extensions this loader reads.
pub const EXTENSIONS: [&str; 3] = ["pgm", "png", "pnm"];

/// Loads every image under `root/<class>/` as a `1×height×width` sample with raw 0–255 pixels.
/// `keep(class_index, image_index)` chooses which images to load, for per-class splits.
pub fn load_image_folder(root: &Path, name: &str, keep: impl Fn(usize, usize) -> bool) -> Result<Dataset> {
    let classes = sorted_entries(root, |p| p.is_dir())?;
    if classes.is_empty() {
        return Err(Error::format(root, "no class sub-folders (expected root/<class>/<image>)"));
    }
    let mut samples = Vec::new();
    let mut labels = Vec::new();
    let mut size: Option<(u32, u32, PathBuf)> = None;
    for (c, class_dir) in classes.iter().enumerate() {
        let images = sorted_entries(class_dir, |p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })?;
        for (k, path) in images.iter().enumerate().filter(|(k, _)| keep(c, *k)) {
            let _ = k;
            let img =
                image::open(path).map_err(|e| Error::format(path, format!("not a readable image: {e}")))?.into_luma8();
            match &size {
                None => size = Some((img.width(), img.height(), path.clone())),
                Some((w, h, first)) if (*w, *h) != img.dimensions() => {
                    return Err(Error::format(
                        path,
                        format!(
                            "image is {}×{} but {} is {w}×{h}; all images must share one size",
                            img.width(),
                            img.height(),
                            first.display()
                        ),
                    ))
                }
                _ => {}
            }
            samples.extend(img.as_raw().iter().map(|&p| p as f32));
            labels.push(c as u32);
        }
    }
    let Some((w, h, _)) = size else {
        return Err(Error::format(root, format!("no images with extension {EXTENSIONS:?}")));
    };
    let class_names =
        classes.iter().map(|p| p.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    Dataset::new(name, samples, vec![1, h as usize, w as usize], Some(labels), class_names)
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
    }
}
