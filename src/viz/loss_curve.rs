use plotters::coord::Shift;
use plotters::prelude::*;

use super::{err, DrawResult, Figure, FONT, TAB10};
use crate::train::History;

/// Training and validation loss per epoch.
#[derive(Debug, Clone)]
pub struct LossCurve {
    pub history: History,
    pub title: String,
}

impl LossCurve {
    /// A loss curve of `history`.
    pub fn new(history: &History, title: impl Into<String>) -> Self {
        Self { history: history.clone(), title: title.into() }
    }
}

impl Figure for LossCurve {
    fn size(&self) -> (u32, u32) {
        (640, 400)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let r = &self.history.records;
        let train: Vec<(f64, f64)> = r.iter().map(|e| (e.epoch as f64, e.train_loss)).collect();
        let val: Vec<(f64, f64)> =
            r.iter().filter(|e| e.val_loss.is_finite()).map(|e| (e.epoch as f64, e.val_loss)).collect();
        let all = train.iter().chain(&val).map(|p| p.1);
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        let (lo, hi) = if lo.is_finite() { (lo, hi.max(lo + 1e-9)) } else { (0.0, 1.0) };
        let pad = (hi - lo) * 0.08;
        let last = r.len().max(2) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(1.0..last, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("loss")
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        for (points, name, color) in [(train, "train", TAB10[0]), (val, "validation", TAB10[1])] {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            if points.len() <= 40 {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}
