use plotters::coord::Shift;
use plotters::prelude::*;

use super::{err, DrawResult, Figure, FONT, TAB10};
use crate::baselines::Pca;
use crate::Result;

/// Codes as points coloured by class: the code itself when it is 2-D, otherwise its first two
/// principal components.
#[derive(Debug, Clone)]
pub struct LatentScatter {
    /// One (x, y) per sample.
    pub points: Vec<(f32, f32)>,
    /// Class index per sample (all 0 when unlabelled).
    pub labels: Vec<u32>,
    /// The name of each class index, for the legend.
    pub class_names: Vec<String>,
    /// Axis names: `z₁`, `z₂` or `PC 1`, `PC 2`.
    pub axes: (String, String),
    /// The figure's title.
    pub title: String,
    /// Points drawn first, in light grey, with this legend name: draws from a prior, to see
    /// the codes over the density they should follow (same axes: 2-D codes only).
    pub background: Option<(String, Vec<(f32, f32)>)>,
}

impl LatentScatter {
    /// From `n` codes of `dim` values each (row-major).
    pub fn new(
        codes: &[f32],
        dim: usize,
        labels: Option<&[u32]>,
        class_names: &[String],
        title: impl Into<String>,
    ) -> Result<Self> {
        let n = codes.len() / dim.max(1);
        let (points, axes) = if dim == 2 {
            (codes.chunks(2).map(|c| (c[0], c[1])).collect(), ("z₁".to_string(), "z₂".to_string()))
        } else {
            let pca = Pca::fit(codes, dim, 2)?;
            let p = pca.transform(codes);
            let ev = pca.explained_variance_ratio();
            let name = |i: usize| format!("PC {} ({:.0} % of variance)", i + 1, 100.0 * ev[i]);
            (p.chunks(2).map(|c| (c[0], c[1])).collect(), (name(0), name(1)))
        };
        Ok(Self {
            points,
            labels: labels.map(|l| l.to_vec()).unwrap_or_else(|| vec![0; n]),
            class_names: if labels.is_some() { class_names.to_vec() } else { vec!["sample".into()] },
            axes,
            title: title.into(),
            background: None,
        })
    }

    /// Draws `points` (rows of 2 values: prior draws for 2-D codes) under the codes, in light
    /// grey, named `name` in the legend.
    pub fn with_background(mut self, name: impl Into<String>, points: &[f32]) -> Self {
        self.background = Some((name.into(), points.chunks(2).map(|c| (c[0], c[1])).collect()));
        self
    }
}

fn bounds(v: impl Iterator<Item = f32> + Clone) -> std::ops::Range<f32> {
    let (lo, hi) = v.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !lo.is_finite() {
        return -1.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad)..(hi + pad)
}

impl Figure for LatentScatter {
    fn size(&self) -> (u32, u32) {
        (640, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let back = self.background.as_ref().map_or(&[][..], |b| &b.1[..]);
        let xs = bounds(self.points.iter().chain(back).map(|p| p.0));
        let ys = bounds(self.points.iter().chain(back).map(|p| p.1));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(xs, ys)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.axes.0)
            .y_desc(&self.axes.1)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        if let Some((name, pts)) = &self.background {
            let grey = RGBColor(170, 170, 170);
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 1, grey.mix(0.5).filled())))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, grey.filled()));
        }
        for (c, name) in self.class_names.iter().enumerate() {
            let color = TAB10[c % TAB10.len()];
            let pts: Vec<(f32, f32)> =
                self.points.iter().zip(&self.labels).filter(|(_, &l)| l as usize == c).map(|(p, _)| *p).collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 2, color.mix(0.6).filled())))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}
