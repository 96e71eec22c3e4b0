//! Image quality for denoising: SSIM (Wang, Bovik, Sheikh & Simoncelli 2004) and the 3×3
//! median filter, the classical denoiser a denoising autoencoder must beat.
//!
//! Written here, not taken from a crate: `imageproc`'s median filter works on 8-bit images
//! only (our pixels are `f32`, and rounding a noisy image to 256 levels would change the
//! baseline's PSNR), and the SSIM crates compute other quantities (`image-compare`: 8×8 plain
//! windows; `dssim`: a multi-scale dissimilarity in L\*a\*b\*) — not the standard index that
//! TensorFlow's `tf.image.ssim` and the papers report, which this is: an 11×11 Gaussian window
//! (σ = 1.5) over the valid region, K₁ = 0.01, K₂ = 0.03, averaged over positions and channels.

use rayon::prelude::*;

/// Values in one image of shape `[channels, height, width]`.
fn plane_len(shape: [usize; 3]) -> usize {
    shape[1] * shape[2]
}

/// The 3×3 median of every pixel of every channel (edges replicate the border, as
/// OpenCV's `medianBlur` does).
pub fn median3x3(image: &[f32], shape: [usize; 3]) -> Vec<f32> {
    median(image, shape, 3)
}

/// The `size`×`size` median (`size` odd) of every pixel of every channel, edges replicating
/// the border.
pub fn median(image: &[f32], shape: [usize; 3], size: usize) -> Vec<f32> {
    let [_, h, w] = shape;
    let r = size / 2;
    let mut out = vec![0.0; image.len()];
    let mut win = vec![0.0f32; size * size];
    for (src, dst) in image.chunks_exact(plane_len(shape)).zip(out.chunks_exact_mut(plane_len(shape))) {
        for y in 0..h {
            for x in 0..w {
                for (k, v) in win.iter_mut().enumerate() {
                    let yy = (y + k / size).saturating_sub(r).min(h - 1);
                    let xx = (x + k % size).saturating_sub(r).min(w - 1);
                    *v = src[yy * w + xx];
                }
                let mid = win.len() / 2;
                dst[y * w + x] = *win.select_nth_unstable_by(mid, f32::total_cmp).1;
            }
        }
    }
    out
}

/// The SSIM window: 11 taps, σ = 1.5, normalised.
const WINDOW: usize = 11;
const SIGMA: f64 = 1.5;

fn gaussian() -> [f64; WINDOW] {
    let mut g = [0.0; WINDOW];
    let c = (WINDOW / 2) as f64;
    g.iter_mut().enumerate().for_each(|(i, v)| *v = (-((i as f64 - c).powi(2)) / (2.0 * SIGMA * SIGMA)).exp());
    let sum: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= sum);
    g
}

/// `plane` (h × w) filtered by the separable window over the valid region: (h−10) × (w−10).
fn filter(plane: &[f64], h: usize, w: usize, g: &[f64; WINDOW]) -> Vec<f64> {
    let (oh, ow) = (h + 1 - WINDOW, w + 1 - WINDOW);
    let mut rows = vec![0.0; h * ow];
    for y in 0..h {
        for x in 0..ow {
            rows[y * ow + x] = (0..WINDOW).map(|k| g[k] * plane[y * w + x + k]).sum();
        }
    }
    let mut out = vec![0.0; oh * ow];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = (0..WINDOW).map(|k| g[k] * rows[(y + k) * ow + x]).sum();
        }
    }
    out
}

/// The structural similarity of images `a` and `b` (shape `[channels, height, width]`, values
/// in a range of width `data_range`): 1 for identical images, lower as structure is lost.
/// `None` for images smaller than the 11×11 window.
pub fn ssim(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> Option<f64> {
    let [c, h, w] = shape;
    if h < WINDOW || w < WINDOW || a.len() != c * h * w || b.len() != a.len() {
        return None;
    }
    let g = gaussian();
    let (c1, c2) = ((0.01 * data_range).powi(2), (0.03 * data_range).powi(2));
    let mut total = 0.0;
    for (pa, pb) in a.chunks_exact(h * w).zip(b.chunks_exact(h * w)) {
        let x: Vec<f64> = pa.iter().map(|&v| v as f64).collect();
        let y: Vec<f64> = pb.iter().map(|&v| v as f64).collect();
        let prod = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(a, b)| a * b).collect::<Vec<f64>>();
        let (mx, my) = (filter(&x, h, w, &g), filter(&y, h, w, &g));
        let (sxx, syy, sxy) =
            (filter(&prod(&x, &x), h, w, &g), filter(&prod(&y, &y), h, w, &g), filter(&prod(&x, &y), h, w, &g));
        let map: f64 = (0..mx.len())
            .map(|i| {
                let (vx, vy, cov) = (sxx[i] - mx[i] * mx[i], syy[i] - my[i] * my[i], sxy[i] - mx[i] * my[i]);
                ((2.0 * mx[i] * my[i] + c1) * (2.0 * cov + c2))
                    / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2))
            })
            .sum();
        total += map / mx.len() as f64;
    }
    Some(total / c as f64)
}

/// The mean SSIM of corresponding images of two sets (flat, one image after another).
pub fn mean_ssim(a: &[f32], b: &[f32], shape: [usize; 3], data_range: f64) -> Option<f64> {
    let n = shape.iter().product::<usize>();
    if n == 0 || a.len() != b.len() || !a.len().is_multiple_of(n) || a.is_empty() {
        return None;
    }
    let per: Option<Vec<f64>> =
        a.par_chunks_exact(n).zip(b.par_chunks_exact(n)).map(|(x, y)| ssim(x, y, shape, data_range)).collect();
    per.map(|v| v.iter().sum::<f64>() / v.len() as f64)
}

/// The 3×3 median filter of every image of a set (flat, one image after another).
pub fn median_all(images: &[f32], shape: [usize; 3]) -> Vec<f32> {
    median_all_sized(images, shape, 3)
}

/// The `size`×`size` median filter of every image of a set.
pub fn median_all_sized(images: &[f32], shape: [usize; 3], size: usize) -> Vec<f32> {
    let n = shape.iter().product::<usize>().max(1);
    images.par_chunks_exact(n).flat_map_iter(|im| median(im, shape, size)).collect()
}

/// The Gaussian blur (standard deviation `sigma` pixels) of every channel of every image of a
/// set with values in [0, 1]: the `image` crate's `blur` (its kernel reaches 2σ, is cut and
/// renormalised at the borders, and clamps results to [0, 1]).
pub fn gaussian_blur_all(images: &[f32], shape: [usize; 3], sigma: f32) -> Vec<f32> {
    let [_, h, w] = shape;
    images
        .par_chunks_exact(plane_len(shape).max(1))
        .flat_map_iter(|plane| {
            let buf = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(w as u32, h as u32, plane.to_vec())
                .expect("h × w values");
            image::imageops::blur(&buf, sigma).into_raw()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_removes_an_isolated_outlier_and_keeps_edges() {
        let mut img = vec![0.0f32; 25];
        img[12] = 1.0; // one hot pixel
        assert!(median3x3(&img, [1, 5, 5]).iter().all(|&v| v == 0.0));
        let edge: Vec<f32> = (0..25).map(|i| if i % 5 >= 2 { 1.0 } else { 0.0 }).collect();
        assert_eq!(median3x3(&edge, [1, 5, 5]), edge);
        // A 3×3 blob keeps its centre under the 3×3 median (9 of 9) and vanishes under 5×5
        // (9 of 25 is no majority).
        let mut blob = vec![0.0f32; 49];
        for i in [16, 17, 18, 23, 24, 25, 30, 31, 32] {
            blob[i] = 1.0;
        }
        assert_eq!(median(&blob, [1, 7, 7], 3)[24], 1.0);
        assert!(median(&blob, [1, 7, 7], 5).iter().all(|&v| v == 0.0));
        assert_eq!(median_all_sized(&[blob.clone(), blob].concat(), [1, 7, 7], 5).len(), 98);
    }

    #[test]
    fn gaussian_blur_keeps_a_flat_image_and_spreads_a_point() {
        let flat = vec![0.25f32; 2 * 64];
        assert!(gaussian_blur_all(&flat, [2, 8, 8], 1.0).iter().all(|&v| (v - 0.25).abs() < 1e-6));
        let mut point = vec![0.0f32; 81];
        point[40] = 1.0;
        let b = gaussian_blur_all(&point, [1, 9, 9], 1.0);
        let sum: f32 = b.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4 && b[40] < 0.5 && b[41] > 0.0 && b[41] == b[39], "{sum} {b:?}");
    }

    #[test]
    fn ssim_is_one_for_identical_images_and_falls_with_noise() {
        let shape = [1, 28, 28];
        let img: Vec<f32> = (0..784).map(|i| ((i % 28) as f32 / 27.0 * (i / 28) as f32 / 27.0).sqrt()).collect();
        assert!((ssim(&img, &img, shape, 1.0).unwrap() - 1.0).abs() < 1e-12);
        let noisy = |amp: f32| -> Vec<f32> {
            img.iter().enumerate().map(|(i, &v)| v + amp * (((i * 7919) % 13) as f32 / 6.0 - 1.0)).collect()
        };
        let (s1, s2) = (ssim(&img, &noisy(0.05), shape, 1.0).unwrap(), ssim(&img, &noisy(0.2), shape, 1.0).unwrap());
        assert!(1.0 > s1 && s1 > s2 && s2 > 0.0, "{s1} {s2}");
        // scikit-image 0.26's `structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
        // use_sample_covariance=False, data_range=1.0)` of the same pair, in float64.
        assert!((s2 - 0.230_494_250_884_694_44).abs() < 1e-6, "{s2}");
        // A constant shift of the mean leaves contrast and structure: only the luminance term
        // drops, slightly.
        let shifted: Vec<f32> = img.iter().map(|v| v + 0.02).collect();
        assert!(ssim(&img, &shifted, shape, 1.0).unwrap() > 0.99);
        assert_eq!(ssim(&img[..100], &img[..100], [1, 10, 10], 1.0), None);
    }
}
