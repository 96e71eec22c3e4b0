use plotters::coord::Shift;
use plotters::prelude::*;

use super::{DrawResult, Figure, LinePlot};
use crate::train::History;

/// Training and validation loss per epoch.
#[derive(Debug, Clone)]
pub struct LossCurve {
    /// The per-epoch losses it draws.
    pub history: History,
    /// The figure's title.
    pub title: String,
}

impl LossCurve {
    /// A loss curve of `history`.
    pub fn new(history: &History, title: impl Into<String>) -> Self {
        Self { history: history.clone(), title: title.into() }
    }

    /// The curve as a [`LinePlot`]: train loss, and validation loss where there was any.
    pub fn to_line_plot(&self) -> LinePlot {
        let r = &self.history.records;
        let train = r.iter().map(|e| (e.epoch as f64, e.train_loss)).collect();
        let val: Vec<_> = r.iter().filter(|e| e.val_loss.is_finite()).map(|e| (e.epoch as f64, e.val_loss)).collect();
        let plot = LinePlot::new(self.title.clone(), "epoch", "loss").integer_x().line("train", train);
        if val.is_empty() {
            plot
        } else {
            plot.line("validation", val)
        }
    }
}

impl Figure for LossCurve {
    fn size(&self) -> (u32, u32) {
        (640, 400)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        self.to_line_plot().draw(root)
    }
}
