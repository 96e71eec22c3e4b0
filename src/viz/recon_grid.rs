use plotters::coord::Shift;
use plotters::prelude::*;

use super::{err, DrawResult, Figure, FONT, TAB10};

/// Rows of samples shown side by side: originals above reconstructions (or noisy / denoised /
/// clean). Image samples are drawn as greyscale pictures, 1-D samples as line plots.
#[derive(Debug, Clone)]
pub struct ReconstructionGrid {
    /// Each row: a title and its samples (all rows the same length).
    pub rows: Vec<(String, Vec<Vec<f32>>)>,
    /// Per-sample shape: `[1, h, w]`, `[3, h, w]` (RGB planes) or `[h, w]` draws pictures, `[n]`
    /// draws lines.
    pub shape: Vec<usize>,
    /// Value mapped to black and to white (pictures), or the y range (lines).
    pub range: (f32, f32),
}

/// Pixels per image cell side.
const CELL: u32 = 72;
/// Width of the row-title column.
const TITLE: u32 = 120;

impl ReconstructionGrid {
    /// Originals above reconstructions. `originals` and `reconstructions` hold `n` samples of
    /// `shape` each, flattened; values in `range` (use `(0, 1)` for normalised images).
    pub fn new(originals: &[f32], reconstructions: &[f32], shape: &[usize], n: usize, range: (f32, f32)) -> Self {
        let d: usize = shape.iter().product();
        let split = |v: &[f32]| v.chunks(d).take(n).map(|c| c.to_vec()).collect::<Vec<_>>();
        Self {
            rows: vec![("original".into(), split(originals)), ("reconstruction".into(), split(reconstructions))],
            shape: shape.to_vec(),
            range,
        }
    }

    /// One row of the first `n` samples in `flat`, titled `title`.
    pub fn images(title: impl Into<String>, flat: &[f32], shape: &[usize], n: usize, range: (f32, f32)) -> Self {
        let d: usize = shape.iter().product::<usize>().max(1);
        let row = flat.chunks(d).take(n).map(|c| c.to_vec()).collect();
        Self { rows: vec![(title.into(), row)], shape: shape.to_vec(), range }
    }

    /// Adds a row of the first `n` samples in `flat` (same shape), e.g. the output of an
    /// untrained model or of PCA, for comparison.
    pub fn with_row(mut self, title: impl Into<String>, flat: &[f32]) -> Self {
        let (d, n) = (self.shape.iter().product::<usize>().max(1), self.cols());
        self.rows.push((title.into(), flat.chunks(d).take(n).map(|c| c.to_vec()).collect()));
        self
    }

    /// Height and width of image samples (`[1|3, h, w]` or `[h, w]`).
    fn image_hw(&self) -> Option<(usize, usize)> {
        match self.shape.as_slice() {
            [1 | 3, h, w] | [h, w] => Some((*h, *w)),
            _ => None,
        }
    }

    /// 3 for RGB samples (channel planes R, G, B), else 1.
    fn channels(&self) -> usize {
        if matches!(self.shape.as_slice(), [3, _, _]) {
            3
        } else {
            1
        }
    }

    /// The row-title column's width: none when no row has a title (a grid of samples).
    fn title_width(&self) -> u32 {
        if self.rows.iter().all(|(t, _)| t.is_empty()) {
            0
        } else {
            TITLE
        }
    }

    fn cols(&self) -> usize {
        self.rows.first().map_or(0, |r| r.1.len())
    }

    fn cell(&self) -> (u32, u32) {
        match self.image_hw() {
            // Keep the aspect ratio of the images (ORL faces are 92×112).
            Some((h, w)) => (CELL, (CELL as f32 * h as f32 / w as f32).round() as u32),
            None => (160, 90),
        }
    }

    /// All pictures as one RGB buffer, each scaled to its cell by nearest neighbour.
    fn picture(&self, h: usize, w: usize) -> Vec<u8> {
        let (cw, ch) = self.cell();
        let (tw, th) = (cw * self.cols() as u32, ch * self.rows.len() as u32);
        let mut buf = vec![255u8; (tw * th * 3) as usize];
        let (lo, hi) = self.range;
        let channels = self.channels();
        for (r, (_, samples)) in self.rows.iter().enumerate() {
            for (c, s) in samples.iter().enumerate() {
                for y in 0..ch - 2 {
                    for x in 0..cw - 2 {
                        let (sy, sx) = (y as usize * h / (ch - 2) as usize, x as usize * w / (cw - 2) as usize);
                        let level =
                            |k: usize| (255.0 * ((s[k * h * w + sy * w + sx] - lo) / (hi - lo)).clamp(0.0, 1.0)) as u8;
                        let rgb = if channels == 3 { [level(0), level(1), level(2)] } else { [level(0); 3] };
                        let at = (((r as u32 * ch + y + 1) * tw + c as u32 * cw + x + 1) * 3) as usize;
                        buf[at..at + 3].copy_from_slice(&rgb);
                    }
                }
            }
        }
        buf
    }
}

impl Figure for ReconstructionGrid {
    fn size(&self) -> (u32, u32) {
        let (cw, ch) = self.cell();
        (self.title_width() + cw * self.cols() as u32 + 8, ch * self.rows.len() as u32 + 8)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        let (cw, ch) = self.cell();
        for (r, (title, _)) in self.rows.iter().enumerate() {
            let y = (r as u32 * ch + ch / 2) as i32 + 4;
            root.draw(&Text::new(title.clone(), (6, y - 7), (FONT, 14))).map_err(err)?;
        }
        let area = root.margin(4, 4, self.title_width().max(4) as i32, 4);
        if let Some((h, w)) = self.image_hw() {
            let size = (cw * self.cols() as u32, ch * self.rows.len() as u32);
            let bitmap =
                BitMapElement::with_owned_buffer((0, 0), size, self.picture(h, w)).ok_or("bitmap size mismatch")?;
            area.draw(&bitmap).map_err(err)?;
            return Ok(());
        }
        // 1-D samples: one small framed line plot per cell (no axes: the rows share a range).
        let cells = area.split_evenly((self.rows.len(), self.cols()));
        let n = self.shape.iter().product::<usize>().max(2);
        for (i, cell) in cells.iter().enumerate() {
            let (r, c) = (i / self.cols(), i % self.cols());
            let cell = cell.margin(3, 3, 3, 3);
            let (w, h) = cell.dim_in_pixel();
            cell.draw(&Rectangle::new([(0, 0), (w as i32 - 1, h as i32 - 1)], BLACK.mix(0.3))).map_err(err)?;
            let mut chart = ChartBuilder::on(&cell)
                .margin(2)
                .build_cartesian_2d(0f32..(n - 1) as f32, self.range.0..self.range.1)
                .map_err(err)?;
            let color = TAB10[r % TAB10.len()];
            let points = self.rows[r].1[c].iter().enumerate().map(|(k, &v)| (k as f32, v));
            chart.draw_series(LineSeries::new(points, color.stroke_width(1))).map_err(err)?;
        }
        Ok(())
    }
}
