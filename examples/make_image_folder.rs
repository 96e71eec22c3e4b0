//! Writes a folder of images the way a user's photos come: mixed sizes, PNG and JPEG, grey and
//! colour, in class folders — made from the shared data (ORL faces and Fashion-MNIST), for
//! trying `--dataset FOLDER --image-size WxH --channels 3`. Not committed.
//!
//! ```sh
//! AUTOENCODERS_DATA=../shared/datasets cargo run --release --example make_image_folder -- /tmp/photos 1200
//! autoencoders train --dataset /tmp/photos --image-size 64x64 --channels 3 --model conv --code 32 \
//!     --epochs 5 --out runs/photos
//! ```
//!
//! Per image `i` (deterministic): faces and clothes alternate; the size is the source's scaled
//! by 0.7–2.3 with its own aspect; one in three is tinted into colour; odd ones are JPEG.

use std::path::PathBuf;

use anyhow::{Context, Result};
use autoencoders::data::{Dataset, DatasetId, Split};
use image::{imageops::FilterType, DynamicImage, GrayImage, ImageFormat, Rgb, RgbImage};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().context("usage: make_image_folder OUT [COUNT]")?);
    let count: usize = args.next().map(|c| c.parse()).transpose()?.unwrap_or(1200);
    let faces = DatasetId::OrlFaces.load(Split::Train)?;
    let clothes = DatasetId::FashionMnist.load(Split::Test)?;
    for i in 0..count {
        let (set, class_prefix) = if i % 2 == 0 { (&faces, "face") } else { (&clothes, "clothes") };
        let k = (i / 2 * 7919) % set.len();
        let class = format!("{class_prefix}-{}", set.class_names[set.labels.as_ref().unwrap()[k] as usize]);
        let img = picture(set, k, i);
        let dir = out.join(class.replace('/', "-").replace(' ', "_"));
        std::fs::create_dir_all(&dir)?;
        let (ext, format) = if i % 2 == 1 { ("jpg", ImageFormat::Jpeg) } else { ("png", ImageFormat::Png) };
        let path = dir.join(format!("{i:05}.{ext}"));
        img.save_with_format(&path, format).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("wrote {count} images under {}", out.display());
    Ok(())
}

/// Sample `k` of `set` (grey, `1×h×w`, 0–255) as image number `i`: rescaled, maybe tinted.
fn picture(set: &Dataset, k: usize, i: usize) -> DynamicImage {
    let (h, w) = (set.shape[1] as u32, set.shape[2] as u32);
    let pixels: Vec<u8> = set.sample(k).iter().map(|&v| v as u8).collect();
    let grey = GrayImage::from_raw(w, h, pixels).expect("shape matches");
    let sx = 0.7 + (i * 37 % 17) as f32 / 10.0;
    let sy = sx * (0.8 + (i * 13 % 5) as f32 / 10.0);
    let (nw, nh) = (((w as f32 * sx) as u32).max(8), ((h as f32 * sy) as u32).max(8));
    let grey = image::imageops::resize(&grey, nw, nh, FilterType::Triangle);
    if i % 3 != 0 {
        return DynamicImage::ImageLuma8(grey);
    }
    let tint = [[1.0, 0.6, 0.3], [0.3, 0.8, 1.0], [0.9, 1.0, 0.4]][i / 3 % 3];
    let rgb = RgbImage::from_fn(nw, nh, |x, y| {
        let v = grey.get_pixel(x, y)[0] as f32;
        Rgb([(v * tint[0]) as u8, (v * tint[1]) as u8, (v * tint[2]) as u8])
    });
    DynamicImage::ImageRgb8(rgb)
}
