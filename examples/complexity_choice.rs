//! Which complexity to divide the reconstruction error by (`one-class`'s `complexity` score),
//! decided again without the test split. The score was picked by trying candidates on the
//! test scores of seed 0's models; this asks whether held-out *training* images give the
//! same answer. For each MNIST digit, the seed-0 model a `one-class` run left in DIR scores the
//! digit's validation part (normal, never fitted) and 1,000 training images of each other
//! digit (anomalies, never seen by that model), by four scores:
//!
//! - `reconstruction`: the mean squared error;
//! - `÷ energy`: divided by the image's mean square;
//! - `÷ PNG bytes`: divided by the size of the image as a PNG file (Serrà et al. 2020 measure
//!   an input's complexity by its compressed size);
//! - `÷ total variation`: divided by the image's total variation per pixel (the score).
//!
//! Prints each score's AUROC per digit and the means.
//!
//! ```sh
//! autoencoders one-class runs/one-class-mnist            # the models (seed 0 is read)
//! cargo run --example complexity_choice -- runs/one-class-mnist
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use autoencoders::apps::detect::total_variation;
use autoencoders::apps::encode::reconstruct_set;
use autoencoders::apps::one_class::model_dir;
use autoencoders::data::{prepare_data, DataConfig, DataSource, Dataset, DatasetId};
use autoencoders::image::{codecs::png::PngEncoder, ColorType, ImageEncoder};
use autoencoders::model_dir::RunConfig;
use autoencoders::train::{per_sample_errors, roc_auc};

const CANDIDATES: [&str; 4] = ["reconstruction", "÷ energy", "÷ PNG bytes", "÷ total variation"];

/// The size of a [0, 1] grey image as an 8-bit PNG file.
fn png_bytes(image: &[f32], w: usize, h: usize) -> f64 {
    let pixels: Vec<u8> = image.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
    let mut file = Vec::new();
    PngEncoder::new(&mut file).write_image(&pixels, w as u32, h as u32, ColorType::L8).expect("in-memory PNG");
    file.len() as f64
}

/// Every candidate's scores of `set`, given its reconstructions.
fn scores(set: &Dataset, recon: &[f32]) -> [Vec<f64>; 4] {
    let (d, (h, w)) = (set.sample_len(), (set.shape[1], set.shape[2]));
    let errors = per_sample_errors(recon, set);
    let by = |complexity: &dyn Fn(&[f32]) -> f64| -> Vec<f64> {
        errors.iter().zip(set.samples.chunks(d)).map(|(e, x)| e / complexity(x).max(1e-6)).collect()
    };
    let energy = by(&|x| x.iter().map(|v| (v * v) as f64).sum::<f64>() / d as f64);
    let png = by(&|x| png_bytes(x, w, h));
    let tv = by(&|x| total_variation(x, &set.shape) / d as f64);
    [errors, energy, png, tv]
}

fn main() -> Result<()> {
    let Some(root) = std::env::args().nth(1).map(PathBuf::from) else { bail!("usage: complexity_choice DIR") };
    let mnist = DataSource::from(DatasetId::Mnist);
    let all = prepare_data(&DataConfig::new(mnist.clone())).context("MNIST (set AUTOENCODERS_DATA)")?.train;
    let labels = all.labels.clone().context("MNIST has labels")?;
    let mut sums = [0.0; 4];
    println!("digit,{}", CANDIDATES.join(","));
    for k in 0..10usize {
        let dir = model_dir(&root, k, 0);
        let cfg =
            RunConfig::load(&dir).with_context(|| format!("{}: run `autoencoders one-class` first", dir.display()))?;
        let normal = prepare_data(&DataConfig { normal_class: Some(k.to_string()), ..DataConfig::new(mnist.clone()) })?;
        // The part the model held out: the same split training made.
        let (_, val) = normal.train.split(cfg.train.val_split, cfg.train.seed)?;
        let labels = &labels;
        let others: Vec<usize> = (0..10)
            .filter(|&j| j != k)
            .flat_map(|j| (0..labels.len()).filter(move |&i| labels[i] as usize == j).take(1_000))
            .collect();
        let others = all.subset(&others);
        let (a, b) = (scores(&val, &reconstruct_set(&dir, &val)?), scores(&others, &reconstruct_set(&dir, &others)?));
        let anomalous: Vec<bool> = (0..val.len() + others.len()).map(|i| i >= val.len()).collect();
        let aurocs: Vec<f64> =
            (0..4).map(|c| roc_auc(&[a[c].clone(), b[c].clone()].concat(), &anomalous).unwrap_or(f64::NAN)).collect();
        aurocs.iter().zip(&mut sums).for_each(|(a, s)| *s += a / 10.0);
        println!("{k},{}", aurocs.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>().join(","));
    }
    println!("mean,{}", sums.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>().join(","));
    Ok(())
}
