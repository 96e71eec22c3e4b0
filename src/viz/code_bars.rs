use plotters::coord::Shift;
use plotters::prelude::*;

use super::{err, DrawResult, Figure, FONT, TAB10};

/// One sample's code as bars, one per code unit: what the decoder receives.
#[derive(Debug, Clone)]
pub struct CodeBars {
    /// The code's values.
    pub values: Vec<f32>,
    /// The figure's title.
    pub title: String,
}

impl CodeBars {
    /// The bars of `code`.
    pub fn new(code: &[f32], title: impl Into<String>) -> Self {
        Self { values: code.to_vec(), title: title.into() }
    }
}

impl Figure for CodeBars {
    fn size(&self) -> (u32, u32) {
        (640, 300)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let n = self.values.len().max(1);
        let lim = self.values.iter().fold(1e-6f32, |m, v| m.max(v.abs())) * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f32..n as f32 - 0.5, -lim..lim)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("code unit")
            .y_desc("value")
            .x_labels(n.min(16))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        let bars = self.values.iter().enumerate().map(|(i, &v)| {
            let color = if v >= 0.0 { TAB10[0] } else { TAB10[3] };
            Rectangle::new([(i as f32 - 0.4, 0.0), (i as f32 + 0.4, v)], color.filled())
        });
        chart.draw_series(bars).map_err(err)?;
        Ok(())
    }
}
