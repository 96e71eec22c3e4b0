//! Tables shown inline in a notebook: an HTML table (which Jupyter and GitHub render) with the
//! plain-text polars table beside it for consoles.

use polars::prelude::*;

use crate::train::{History, Metrics};

/// A polars DataFrame that displays as a table in an evcxr notebook.
#[derive(Debug, Clone)]
pub struct Table(pub DataFrame);

impl Table {
    /// A table of text cells under `headers` (format numbers as you want them shown).
    pub fn from_rows(headers: &[&str], rows: Vec<Vec<String>>) -> crate::Result<Self> {
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != headers.len()) {
            return Err(crate::Error::config(
                "table",
                format!("row {i} has {} cells for {} headers", r.len(), headers.len()),
            ));
        }
        let columns = headers
            .iter()
            .enumerate()
            .map(|(c, h)| Column::new((*h).into(), rows.iter().map(|r| r[c].clone()).collect::<Vec<String>>()))
            .collect();
        Ok(Self(DataFrame::new_infer_height(columns).map_err(|e| crate::Error::polars("table", e))?))
    }

    /// The table as an HTML `<table>`; floats with 4 significant digits.
    pub fn to_html(&self) -> String {
        let df = &self.0;
        let mut s = String::from("<table>\n<thead><tr>");
        for name in df.get_column_names() {
            s += &format!("<th>{}</th>", escape(name.as_str()));
        }
        s += "</tr></thead>\n<tbody>\n";
        for row in 0..df.height() {
            s += "<tr>";
            for col in df.columns() {
                let cell = col.get(row).map(|v| cell_text(&v)).unwrap_or_default();
                s += &format!("<td>{}</td>", escape(&cell));
            }
            s += "</tr>\n";
        }
        s + "</tbody>\n</table>"
    }

    /// Shows the table inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        // Both types go into one output; Jupyter shows the richest, a console the text.
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.to_html());
        println!("EVCXR_BEGIN_CONTENT text/plain\n{}\nEVCXR_END_CONTENT", self.0);
    }
}

fn cell_text(v: &AnyValue) -> String {
    match v {
        AnyValue::Float64(x) => sig4(*x),
        AnyValue::Float32(x) => sig4(*x as f64),
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

/// Four significant digits, without an exponent for everyday magnitudes.
fn sig4(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() { "–".into() } else { x.to_string() };
    }
    if x == 0.0 {
        // Not through log10: log10(0) = -inf saturates to i32::MIN below, and 3 - i32::MIN
        // overflows (a panic with overflow checks, garbage without).
        return "0".into();
    }
    if (1e-3..1e5).contains(&x.abs()) {
        let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.3e}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

impl History {
    /// Shows the per-epoch table inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        Table(self.to_dataframe()).evcxr_display()
    }
}

impl Metrics {
    /// The metrics as a one-row table.
    pub fn to_dataframe(&self) -> DataFrame {
        let mut cols = vec![
            Column::new("n_test".into(), [self.n_test as u64]),
            Column::new("test_mse".into(), [self.test_mse]),
            Column::new("test_bce".into(), [self.test_bce]),
            Column::new("test_psnr_db".into(), [self.test_psnr]),
            Column::new("test_loss".into(), [self.test_loss]),
        ];
        // The metrics only some models have, when they have them.
        let optional = [
            ("test_auroc", self.test_auroc),
            ("test_point_auroc", self.test_point_auroc),
            ("test_psnr_input_db", self.test_psnr_input),
            ("test_psnr_median_db", self.test_psnr_median),
            ("test_ssim", self.test_ssim),
            ("test_ssim_input", self.test_ssim_input),
            ("test_ssim_median", self.test_ssim_median),
            ("code_mean_abs", self.code.map(|c| c.mean_abs)),
            ("code_zero_fraction", self.code.map(|c| c.zero_fraction)),
            ("code_hoyer", self.code.map(|c| c.hoyer)),
            ("jacobian_frobenius", self.jacobian.map(|j| j.mean_frobenius)),
            ("code_sensitivity", self.jacobian.map(|j| j.sensitivity)),
        ];
        cols.extend(optional.into_iter().filter_map(|(name, v)| v.map(|v| Column::new(name.into(), [v]))));
        DataFrame::new_infer_height(cols).expect("columns have equal length")
    }

    /// Shows the metrics as a table inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        Table(self.to_dataframe()).evcxr_display()
    }
}

impl From<Vec<crate::nn::ParamRow>> for Table {
    /// A model's [`summary`](crate::nn::Params::summary): parameter, shape, values.
    fn from(rows: Vec<crate::nn::ParamRow>) -> Self {
        let shapes: Vec<String> =
            rows.iter().map(|r| r.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" × ")).collect();
        let counts: Vec<u64> = rows.iter().map(|r| r.len() as u64).collect();
        let names: Vec<String> = rows.into_iter().map(|r| r.name).collect();
        let df = DataFrame::new_infer_height(vec![
            Column::new("parameter".into(), names),
            Column::new("shape".into(), shapes),
            Column::new("values".into(), counts),
        ])
        .expect("columns have equal length");
        Table(df)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits_including_zero() {
        let cases = [(0.0, "0"), (-0.0, "0"), (0.123456, "0.1235"), (1234.4, "1234"), (-2.5e-7, "-2.500e-7")];
        for (x, s) in cases {
            assert_eq!(sig4(x), s, "{x}");
        }
    }

    #[test]
    fn html_table_has_every_cell_with_escaping_and_rounding() {
        let df = DataFrame::new_infer_height(vec![
            Column::new("a<b".into(), [1u32, 2]),
            Column::new("loss".into(), [0.123456f64, f64::NAN]),
        ])
        .unwrap();
        let html = Table(df).to_html();
        assert!(html.contains("<th>a&lt;b</th><th>loss</th>"), "{html}");
        assert!(html.contains("<tr><td>1</td><td>0.1235</td></tr>"), "{html}");
        assert!(html.contains("<tr><td>2</td><td>–</td></tr>"), "{html}");
        assert_eq!(sig4(12345.678), "12346");
        let t = Table::from_rows(&["k", "v"], vec![vec!["2".into(), "x".into()]]).unwrap();
        assert!(t.to_html().contains("<td>2</td><td>x</td>"));
        assert!(Table::from_rows(&["k"], vec![vec![]]).is_err());
        assert_eq!(sig4(2.5e-7), "2.500e-7");
    }
}
