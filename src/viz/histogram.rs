use plotters::coord::Shift;
use plotters::prelude::*;

use super::{err, legend, DrawResult, Figure, FONT, TAB10};

/// Overlaid histograms of named sets of values over shared bins, each bar the fraction of its
/// set in the bin: code activations of a plain and a sparse model, say.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// The figure's title.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// Bin edges, `bins + 1` of them.
    pub edges: Vec<f64>,
    /// Named sets: the fraction of each set's values in each bin.
    pub series: Vec<(String, Vec<f64>)>,
}

impl Histogram {
    /// Empty histograms with `bins` equal bins over `[lo, hi]` (values outside go to the end bins).
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, (lo, hi): (f64, f64), bins: usize) -> Self {
        let bins = bins.max(1);
        let edges = (0..=bins).map(|i| lo + (hi - lo) * i as f64 / bins as f64).collect();
        Self { title: title.into(), x_label: x_label.into(), edges, series: vec![] }
    }

    /// Adds a named set of values.
    pub fn add(mut self, name: impl Into<String>, values: &[f32]) -> Self {
        let bins = self.edges.len() - 1;
        let (lo, hi) = (self.edges[0], self.edges[bins]);
        let mut counts = vec![0.0; bins];
        for &v in values.iter().filter(|v| v.is_finite()) {
            let k = (((v as f64 - lo) / (hi - lo)) * bins as f64).floor().clamp(0.0, (bins - 1) as f64) as usize;
            counts[k] += 1.0;
        }
        let n = values.len().max(1) as f64;
        self.series.push((name.into(), counts.into_iter().map(|c| c / n).collect()));
        self
    }
}

impl Figure for Histogram {
    fn size(&self) -> (u32, u32) {
        (640, 360)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let top = self.series.iter().flat_map(|s| s.1.iter()).fold(1e-9f64, |m, &v| m.max(v)) * 1.08;
        let (lo, hi) = (self.edges[0], *self.edges.last().expect("edges"));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc("fraction of values")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        for (i, (name, fractions)) in self.series.iter().enumerate() {
            let color = TAB10[i % TAB10.len()];
            let bars = fractions.iter().enumerate().map(|(k, &f)| {
                Rectangle::new([(self.edges[k], 0.0), (self.edges[k + 1], f)], color.mix(0.45).filled())
            });
            chart
                .draw_series(bars)
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.mix(0.45).filled()));
        }
        legend(&mut chart, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_per_bin_sum_to_one_and_ends_collect_the_outliers() {
        let h = Histogram::new("t", "x", (0.0, 1.0), 4).add("a", &[0.1, 0.3, 0.3, 0.9, -5.0, 7.0]);
        let f = &h.series[0].1;
        assert_eq!(f.len(), 4);
        assert!((f.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(f.iter().map(|v| (v * 6.0).round() as u32).collect::<Vec<_>>(), vec![2, 2, 0, 2]);
    }
}
