//! Every figure, drawn once with plotters. Each figure is a value that can be saved as PNG or
//! SVG ([`Figure::save`]) and shown inline in a Jupyter notebook running the evcxr kernel
//! (its `evcxr_display` method, which evcxr calls on a cell's final value).

mod code_bars;
mod histogram;
mod latent;
mod line_plot;
mod loss_curve;
mod recon_grid;
mod table;

pub use code_bars::CodeBars;
pub use histogram::Histogram;
pub use latent::LatentScatter;
pub use line_plot::LinePlot;
pub use loss_curve::LossCurve;
pub use recon_grid::ReconstructionGrid;
pub use table::Table;

use std::path::Path;
use std::sync::Once;

use base64::prelude::{Engine as _, BASE64_STANDARD};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::fs::write_atomic;
use crate::{Error, Result};

/// The font family every figure uses; registered from the embedded DejaVu Sans on first use,
/// so figures render identically on machines without system fonts.
pub const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TTF shipped by the `dejavu` crate; failure would be a bug there.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// The error plotters returns for a backend, as text.
pub type DrawResult = std::result::Result<(), String>;

/// A figure: its size and how to draw it on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;

    /// The figure as an SVG document.
    fn to_svg(&self) -> Result<String> {
        register_font();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(&root).map_err(|e| Error::Figure(format!("drawing failed: {e}")))?;
            root.present().map_err(|e| Error::Figure(format!("drawing failed: {e}")))?;
        }
        Ok(svg)
    }

    /// The figure as PNG bytes.
    fn to_png(&self) -> Result<Vec<u8>> {
        register_font();
        let (w, h) = self.size();
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            self.draw(&root).map_err(|e| Error::Figure(format!("drawing failed: {e}")))?;
            root.present().map_err(|e| Error::Figure(format!("drawing failed: {e}")))?;
        }
        let mut png = Vec::new();
        image::ImageEncoder::write_image(
            // Best compression: figures are committed inside notebooks, so bytes matter more than
            // the milliseconds it costs.
            image::codecs::png::PngEncoder::new_with_quality(
                &mut png,
                image::codecs::png::CompressionType::Best,
                image::codecs::png::FilterType::Adaptive,
            ),
            &rgb,
            w,
            h,
            image::ColorType::Rgb8,
        )
        .map_err(|e| Error::Figure(format!("PNG encoding failed: {e}")))?;
        Ok(png)
    }

    /// Saves as PNG or SVG, chosen by the extension of `path`, atomically.
    fn save(&self, path: &Path) -> Result<()> {
        let bytes = match path.extension().and_then(|e| e.to_str()) {
            Some("png") => self.to_png()?,
            Some("svg") => self.to_svg()?.into_bytes(),
            _ => return Err(Error::config("figure path", format!("{}: use a .png or .svg file name", path.display()))),
        };
        write_atomic(path, &bytes)
    }

    /// Prints the figure in evcxr's display protocol (an inline PNG, which also renders in
    /// notebooks viewed on GitHub).
    fn display_inline(&self) {
        match self.to_png() {
            Ok(png) => println!("EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT", BASE64_STANDARD.encode(&png)),
            Err(e) => println!("{e}"),
        }
    }
}

/// Gives figure types the inherent `evcxr_display` method evcxr looks for.
macro_rules! evcxr_display {
    ($($t:ty),*) => {$(
        impl $t {
            /// Shows the figure inline in an evcxr notebook.
            pub fn evcxr_display(&self) {
                $crate::viz::Figure::display_inline(self)
            }
        }
    )*};
}
evcxr_display!(LossCurve, ReconstructionGrid, LatentScatter, LinePlot, CodeBars, Histogram);

/// Ten distinguishable colours (matplotlib's `tab10`), for classes.
pub const TAB10: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The legend of a figure with named series: a translucent white box with a black border.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: Option<plotters::chart::SeriesLabelPosition>,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position.unwrap_or(plotters::chart::SeriesLabelPosition::MiddleRight))
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// Maps a plotters error to text.
fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}
