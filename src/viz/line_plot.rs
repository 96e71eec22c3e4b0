use plotters::coord::Shift;
use plotters::prelude::*;

use super::{err, legend, DrawResult, Figure, FONT, TAB10};

/// Named series of (x, y) points, e.g. test error against code size for an autoencoder and
/// PCA. The x axis can be logarithmic (code sizes 2, 8, 32, 64 spread evenly).
#[derive(Debug, Clone)]
pub struct LinePlot {
    /// The figure's title.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// Named lines of (x, y) points.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// A logarithmic x axis.
    pub log_x: bool,
    /// Label only whole numbers on the x axis (epochs).
    pub integer_x: bool,
    /// Half-heights of error bars at each point of a series (by series index; none if absent).
    pub errors: Vec<(usize, Vec<f64>)>,
    /// Where the legend goes; `None`: wherever it covers the least of the lines
    /// ([`LinePlot::clearest_legend_position`]).
    pub legend_at: Option<SeriesLabelPosition>,
}

impl LinePlot {
    /// An empty plot; add lines with [`LinePlot::line`].
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: vec![],
            log_x: false,
            integer_x: false,
            errors: vec![],
            legend_at: None,
        }
    }

    /// Adds a named line.
    pub fn line(mut self, name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        self.series.push((name.into(), points));
        self
    }

    /// Adds a named line with an error bar of half-height `errors[i]` at point `i` (a standard
    /// deviation over repeated runs).
    pub fn line_with_errors(mut self, name: impl Into<String>, points: Vec<(f64, f64)>, errors: Vec<f64>) -> Self {
        self.errors.push((self.series.len(), errors));
        self.line(name, points)
    }

    /// Puts the legend here rather than where it covers the least of the lines.
    pub fn legend_at(mut self, position: SeriesLabelPosition) -> Self {
        self.legend_at = Some(position);
        self
    }

    /// Labels only whole numbers on the x axis.
    pub fn integer_x(mut self) -> Self {
        self.integer_x = true;
        self
    }

    /// Uses a base-2 logarithmic x axis.
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let pts = || self.series.iter().flat_map(|s| s.1.iter());
        let fold = |f: fn(&(f64, f64)) -> f64| {
            pts()
                .map(f)
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
        };
        let ((x0, x1), (mut y0, mut y1)) = (fold(|p| p.0), fold(|p| p.1));
        for (i, errors) in &self.errors {
            for (&(_, y), e) in self.series.get(*i).map_or(&[][..], |s| &s.1[..]).iter().zip(errors) {
                (y0, y1) = (y0.min(y - e), y1.max(y + e));
            }
        }
        if !x0.is_finite() {
            return ((1.0, 2.0), (0.0, 1.0));
        }
        let pad = (y1 - y0).max(1e-9) * 0.08;
        ((x0, x1.max(x0 * 1.01 + 1e-9)), (y0 - pad, y1 + pad))
    }
}

impl Figure for LinePlot {
    fn size(&self) -> (u32, u32) {
        (640, 400)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let ((x0, x1), (y0, y1)) = self.bounds();
        let mut builder = ChartBuilder::on(root);
        builder.caption(&self.title, (FONT, 17)).margin(12).x_label_area_size(36).y_label_area_size(64);
        // Two chart types (linear, log) differ in type, so draw through one generic helper.
        if self.log_x {
            let chart = builder.build_cartesian_2d((x0..x1).log_scale().base(2.0), y0..y1).map_err(err)?;
            self.finish(chart)
        } else {
            let chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
            self.finish(chart)
        }
    }
}

impl LinePlot {
    fn finish<'a, DB: DrawingBackend + 'a, X>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    ) -> DrawResult
    where
        X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|x| match (x.fract() == 0.0, self.integer_x) {
                (true, _) => format!("{x:.0}"),
                (false, true) => String::new(),
                // Small values (a log axis of weights: 1e-3 … 1e-1) in scientific notation,
                // which `{:.1}` printed as 0.0.
                (false, false) if x.abs() < 0.05 => format!("{x:.0e}"),
                // As many decimals as the tick needs (ticks 0.05 apart printed `{:.1}` as
                // 0.1, 0.2, 0.2, 0.3, …).
                (false, false) => format!("{x:.3}").trim_end_matches('0').to_string(),
            })
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err)?;
        for (i, (name, points)) in self.series.iter().enumerate() {
            let color = TAB10[i % TAB10.len()];
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            // Markers only while they stay apart.
            if points.len() <= 40 {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(err)?;
            }
            if let Some((_, errors)) = self.errors.iter().find(|e| e.0 == i) {
                let bars = points
                    .iter()
                    .zip(errors)
                    .map(|(&(x, y), &e)| ErrorBar::new_vertical(x, y - e, y, y + e, color.stroke_width(1), 8));
                chart.draw_series(bars).map_err(err)?;
            }
        }
        let at = self.legend_at.clone().unwrap_or_else(|| self.clearest_legend_position());
        legend(&mut chart, Some(at))
    }

    /// The corner or edge where the legend box covers the fewest points of the lines (each
    /// segment sampled finely, error bars included): a fixed corner hid the curve or the
    /// chance line in some figure or other (a precision–recall curve whose legend sat on
    /// its tail). Ties go to the first of upper right, upper left, lower right, lower left,
    /// middle right, middle left.
    pub fn clearest_legend_position(&self) -> SeriesLabelPosition {
        use SeriesLabelPosition::*;
        let ((x0, x1), (y0, y1)) = self.bounds();
        let fx = |x: f64| match self.log_x {
            true if x > 0.0 && x0 > 0.0 => (x / x0).ln() / (x1 / x0).ln().max(1e-12),
            _ => (x - x0) / (x1 - x0).max(1e-12),
        };
        let fy = |y: f64| (y - y0) / (y1 - y0).max(1e-12);
        let mut points = Vec::new();
        for (i, (_, line)) in self.series.iter().enumerate() {
            let unit: Vec<(f64, f64)> = line.iter().map(|&(x, y)| (fx(x), fy(y))).collect();
            for w in unit.windows(2) {
                let ((ax, ay), (bx, by)) = (w[0], w[1]);
                points.extend((0..24).map(|t| t as f64 / 24.0).map(|t| (ax + (bx - ax) * t, ay + (by - ay) * t)));
            }
            points.extend(unit.iter().copied());
            if let Some((_, errors)) = self.errors.iter().find(|e| e.0 == i) {
                for (&(x, y), e) in line.iter().zip(errors) {
                    points.extend([(fx(x), fy(y - e)), (fx(x), fy(y + e))]);
                }
            }
        }
        // The box's size as a share of the plotting area (about 550 × 310 pixels in a
        // 640 × 400 figure): 13-point labels ≈ 7 pixels a character, 19 pixels a row, plus
        // the line sample and padding.
        let chars = self.series.iter().map(|s| s.0.chars().count()).max().unwrap_or(0) as f64;
        let (w, h) =
            (((chars * 7.0 + 45.0) / 550.0).min(1.0), ((self.series.len() as f64 * 19.0 + 12.0) / 310.0).min(1.0));
        let m = 0.02;
        let boxes = [
            (UpperRight, (1.0 - m - w, 1.0 - m - h)),
            (UpperLeft, (m, 1.0 - m - h)),
            (LowerRight, (1.0 - m - w, m)),
            (LowerLeft, (m, m)),
            (MiddleRight, (1.0 - m - w, 0.5 - h / 2.0)),
            (MiddleLeft, (m, 0.5 - h / 2.0)),
        ];
        let covered = |(bx, by): (f64, f64)| {
            points.iter().filter(|&&(x, y)| x >= bx && x <= bx + w && y >= by && y <= by + h).count()
        };
        let best = boxes.iter().min_by_key(|b| covered(b.1)).expect("six candidates");
        best.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn precision_recall(precision_at: impl Fn(f64) -> f64) -> LinePlot {
        let curve = (0..=100).map(|i| i as f64 / 100.0).map(|r| (r, precision_at(r))).collect();
        LinePlot::new("PR", "recall", "precision")
            .line("reconstruction error (AP 0.599)", curve)
            .line("chance", vec![(0.0, 0.1), (1.0, 0.1)])
    }

    #[test]
    fn the_legend_goes_where_it_covers_the_least_of_the_lines() {
        // Falling from the upper left to the lower right, chance along the bottom: the upper
        // right is clear (the bottom corners hold the chance line).
        assert_eq!(precision_recall(|r| 1.0 - 0.9 * r).clearest_legend_position(), SeriesLabelPosition::UpperRight);
        // High all the way, then down at the end: the middle of the left edge is clear.
        let high = precision_recall(|r| if r < 0.9 { 0.98 } else { 0.98 - 8.0 * (r - 0.9) });
        assert_eq!(high.clearest_legend_position(), SeriesLabelPosition::MiddleLeft);
        // Rising: the upper left is clear.
        assert_eq!(precision_recall(|r| 0.1 + 0.9 * r).clearest_legend_position(), SeriesLabelPosition::UpperLeft);
        // A position asked for is kept.
        let kept = precision_recall(|r| 1.0 - r).legend_at(SeriesLabelPosition::LowerLeft);
        assert_eq!(kept.legend_at, Some(SeriesLabelPosition::LowerLeft));
    }
}
