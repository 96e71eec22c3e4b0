//! Multinomial logistic regression, the probe's linear classifier: the softmax cross-entropy
//! with an L2 penalty, minimised by argmin's L-BFGS with a More–Thuente line search.
//!
//! Why not `linfa-logistic` (0.8.1), which this replaced: its `log_sum_exp` shifts every row by
//! the largest logit of the *whole matrix* and floors each row's sum at 1e-15, so a sample whose
//! logits lie ~35 below another sample's gets a loss that no longer matches its gradient. The
//! line search then fails, L-BFGS stops early and linfa returns that point without a word: PCA-32
//! on MNIST with every label reached 84.43 % test accuracy where scikit-learn reaches 90.06 %.
//! Here every row is shifted by its own maximum, and a fit says whether it converged.

use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use crate::{Error, Result};

/// A fit is converged when the gradient of the mean objective is shorter than this — the
/// tolerance scikit-learn's `lbfgs` solver stops at.
pub const GRADIENT_TOLERANCE: f64 = 1e-4;
/// Past gradients L-BFGS keeps (scikit-learn's and linfa's choice).
const HISTORY: usize = 10;
/// Fresh starts from the best point after a failed line search (each must lower the loss).
const RESTARTS: usize = 3;

/// A fitted multinomial logistic regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// (features + 1) × classes: the weights, then the intercepts in the last row.
    weights: Array2<f64>,
}

/// A fitted model and how its optimisation ended.
#[derive(Debug, Clone)]
pub struct LogisticFit {
    /// The model at the lowest loss reached.
    pub model: Logistic,
    /// The objective there (mean cross-entropy plus the penalty).
    pub loss: f64,
    /// Whether the gradient's norm fell below [`GRADIENT_TOLERANCE`].
    pub converged: bool,
    /// L-BFGS iterations, over all restarts.
    pub iterations: u64,
}

impl Logistic {
    /// Fits `classes` classes to the rows of `x` (`d` features each) and their labels `y`
    /// (`< classes`), minimising
    /// `mean_i [logsumexp(h_i) − h_i[y_i]] + alpha / (2 n) · ‖W‖²` with `h = x·W + b`
    /// (the intercepts `b` are not penalised). As a sum over samples this is scikit-learn's
    /// objective with `C = 1 / alpha`; the mean keeps the gradient tolerance independent of `n`.
    pub fn fit(x: &[f64], y: &[u32], d: usize, classes: usize, alpha: f64, max_iterations: u64) -> Result<LogisticFit> {
        let problem = Problem::new(x, y, d, classes, alpha)?;
        let mut start = Array1::zeros((d + 1) * classes);
        let (mut best_loss, mut iterations) = (problem.loss_and_gradient(&start).0, 0);
        for _ in 0..=RESTARTS {
            let solver = LBFGS::new(MoreThuenteLineSearch::new(), HISTORY)
                .with_tolerance_grad(GRADIENT_TOLERANCE)
                .map_err(solver_error)?;
            let left = max_iterations.saturating_sub(iterations);
            let result = Executor::new(&problem, solver)
                .configure(|state| state.param(start.clone()).max_iters(left))
                .ctrlc(false)
                .run()
                .map_err(solver_error)?;
            iterations += result.state.get_iter();
            let line_search_failed =
                matches!(result.state.get_termination_reason(), Some(TerminationReason::SolverExit(_)));
            let improved = result.state.get_best_cost() < best_loss;
            if improved {
                best_loss = result.state.get_best_cost();
                start = result.state.get_best_param().cloned().unwrap_or(start);
            }
            if !(line_search_failed && improved && iterations < max_iterations) {
                break;
            }
        }
        let (loss, gradient) = problem.loss_and_gradient(&start);
        let converged = l2(&gradient) < GRADIENT_TOLERANCE;
        let weights = start.into_shape_with_order((d + 1, classes)).expect("(d + 1) × classes parameters");
        Ok(LogisticFit { model: Logistic { weights }, loss, converged, iterations })
    }

    /// Features per sample.
    pub fn features(&self) -> usize {
        self.weights.nrows() - 1
    }

    /// The logits `x·W + b` of each row of `x` (rows of [`Self::features`] numbers; a trailing
    /// partial row is ignored).
    pub fn logits(&self, x: &[f64]) -> Array2<f64> {
        let d = self.features();
        let x = ArrayView2::from_shape((x.len() / d, d), &x[..x.len() / d * d]).expect("rows of d features");
        x.dot(&self.weights.slice(s![..d, ..])) + self.weights.row(d)
    }

    /// The most likely class of each row of `x`.
    pub fn predict(&self, x: &[f64]) -> Vec<u32> {
        self.logits(x).rows().into_iter().map(|row| argmax(row.iter().copied()) as u32).collect()
    }

    /// Whether every weight is a finite number.
    pub fn is_finite(&self) -> bool {
        self.weights.iter().all(|w| w.is_finite())
    }
}

/// The objective of one fit. The line search asks for the loss and the gradient at each trial
/// point; both come from one pass (two matrix products), cached for the second question.
struct Problem<'a> {
    x: ArrayView2<'a, f64>,
    y: &'a [u32],
    classes: usize,
    alpha: f64,
    last: Mutex<Option<Evaluation>>,
}

/// Parameters, the loss there and its gradient.
type Evaluation = (Array1<f64>, f64, Array1<f64>);

impl<'a> Problem<'a> {
    fn new(x: &'a [f64], y: &'a [u32], d: usize, classes: usize, alpha: f64) -> Result<Self> {
        let bad = |what: String| Err(Error::config("logistic regression", what));
        if d == 0 || x.len() != y.len() * d || y.is_empty() {
            return bad(format!(
                "{} numbers for {} labels of {d} features: give one row of d numbers per label",
                x.len(),
                y.len()
            ));
        }
        if let Some(row) = x.chunks(d).position(|r| r.iter().any(|v| !v.is_finite())) {
            return bad(format!("row {row} holds a value that is not a finite number"));
        }
        if let Some(row) = y.iter().position(|&c| c as usize >= classes) {
            return bad(format!("row {row}'s label {} is not below the {classes} classes", y[row]));
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return bad(format!("alpha {alpha}: give a finite L2 weight ≥ 0"));
        }
        let x = ArrayView2::from_shape((y.len(), d), x).expect("checked above");
        Ok(Self { x, y, classes, alpha, last: Mutex::new(None) })
    }

    /// The mean objective and its gradient at `params` ((d + 1) × classes, row-major).
    fn loss_and_gradient(&self, params: &Array1<f64>) -> (f64, Array1<f64>) {
        let mut last = self.last.lock().expect("no panics while holding it");
        if let Some((p, loss, grad)) = last.as_ref() {
            if p == params {
                return (*loss, grad.clone());
            }
        }
        let (n, d) = self.x.dim();
        let w = params.view().into_shape_with_order((d + 1, self.classes)).expect("(d + 1) × classes");
        let weights = w.slice(s![..d, ..]);
        let mut h = self.x.dot(&weights) + w.row(d);
        let mut loss = 0.0;
        // Each row shifted by its own maximum: exp never overflows and the row's sum is ≥ 1.
        for (mut row, &label) in h.axis_iter_mut(Axis(0)).zip(self.y) {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            row.mapv_inplace(|v| (v - max).exp());
            let sum = row.sum();
            loss += sum.ln() - (row[label as usize].ln());
            row /= sum;
            row[label as usize] -= 1.0; // softmax − one-hot: the logits' gradient
        }
        let inv_n = 1.0 / n as f64;
        loss = loss * inv_n + 0.5 * self.alpha * inv_n * weights.iter().map(|v| v * v).sum::<f64>();
        let mut grad = Array2::zeros((d + 1, self.classes));
        grad.slice_mut(s![..d, ..]).assign(&((self.x.t().dot(&h) + &weights * self.alpha) * inv_n));
        grad.row_mut(d).assign(&(h.sum_axis(Axis(0)) * inv_n));
        let grad = grad.into_shape_with_order((d + 1) * self.classes).expect("same length");
        *last = Some((params.clone(), loss, grad.clone()));
        (loss, grad)
    }
}

impl CostFunction for &Problem<'_> {
    type Param = Array1<f64>;
    type Output = f64;
    fn cost(&self, p: &Array1<f64>) -> std::result::Result<f64, argmin::core::Error> {
        Ok(self.loss_and_gradient(p).0)
    }
}

impl Gradient for &Problem<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;
    fn gradient(&self, p: &Array1<f64>) -> std::result::Result<Array1<f64>, argmin::core::Error> {
        Ok(self.loss_and_gradient(p).1)
    }
}

fn solver_error(e: argmin::core::Error) -> Error {
    Error::config("logistic regression", format!("the L-BFGS solver failed: {e}"))
}

fn l2(v: &Array1<f64>) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// The objective and its gradient, one sample at a time, straight from the formula: an
    /// independent reference for the vectorised pass.
    fn reference(x: &[f64], y: &[u32], d: usize, c: usize, alpha: f64, p: &[f64]) -> (f64, Vec<f64>) {
        let n = y.len() as f64;
        let (mut loss, mut grad) = (0.0, vec![0.0; (d + 1) * c]);
        for (row, &label) in x.chunks(d).zip(y) {
            let h: Vec<f64> =
                (0..c).map(|k| p[d * c + k] + (0..d).map(|j| row[j] * p[j * c + k]).sum::<f64>()).collect();
            let max = h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + h.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            loss += (lse - h[label as usize]) / n;
            for k in 0..c {
                let g = ((h[k] - lse).exp() - f64::from(u8::from(k == label as usize))) / n;
                (0..d).for_each(|j| grad[j * c + k] += g * row[j]);
                grad[d * c + k] += g;
            }
        }
        for i in 0..d * c {
            loss += 0.5 * alpha / n * p[i] * p[i];
            grad[i] += alpha / n * p[i];
        }
        (loss, grad)
    }

    /// Three seeded classes in 4 dimensions, with every tenth sample pushed 40 units out, so
    /// that some samples' logits lie far below others' — where linfa-logistic's loss went wrong.
    fn spread_data(n: usize) -> (Vec<f64>, Vec<u32>) {
        let mut rng = StdRng::seed_from_u64(7);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let c = (i % 3) as u32;
            let scale = if i % 10 == 0 { 40.0 } else { 1.0 };
            for j in 0..4 {
                let centre = if j as u32 == c { 2.0 } else { 0.0 };
                x.push(scale * (centre + rng.gen_range(-1.5..1.5)));
            }
            y.push(c);
        }
        (x, y)
    }

    #[test]
    fn loss_matches_the_per_sample_formula_at_any_point() {
        let (x, y) = spread_data(60);
        let problem = Problem::new(&x, &y, 4, 3, 0.7).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..3 {
            let p: Vec<f64> = (0..15).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let (loss, grad) = problem.loss_and_gradient(&Array1::from(p.clone()));
            let (want, want_grad) = reference(&x, &y, 4, 3, 0.7, &p);
            assert!((loss - want).abs() < 1e-10 * want.max(1.0), "{loss} vs {want}");
            for (g, w) in grad.iter().zip(&want_grad) {
                assert!((g - w).abs() < 1e-10, "{g} vs {w}");
            }
        }
    }

    #[test]
    fn fit_reaches_the_optimum_when_logits_differ_widely_between_samples() {
        let (x, y) = spread_data(300);
        let fit = Logistic::fit(&x, &y, 4, 3, 0.1, 1000).unwrap();
        let params: Vec<f64> = fit.model.weights.iter().copied().collect();
        let (loss, grad) = reference(&x, &y, 4, 3, 0.1, &params);
        let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
        assert!(fit.converged, "{fit:?}");
        assert!(norm < GRADIENT_TOLERANCE, "the true objective's gradient at the fit: {norm}");
        assert!((loss - fit.loss).abs() < 1e-12, "{loss} vs {}", fit.loss);
        let right = fit.model.predict(&x).iter().zip(&y).filter(|(p, t)| p == t).count();
        assert!(right > 250, "{right} of 300 training samples right");
    }

    #[test]
    fn bad_input_is_refused_with_the_row() {
        let err = |x: &[f64], y: &[u32]| Logistic::fit(x, y, 2, 2, 1.0, 10).unwrap_err().to_string();
        assert!(err(&[0.0, 1.0, f64::NAN, 0.0], &[0, 1]).contains("row 1"));
        assert!(err(&[0.0, 1.0, 1.0, 0.0], &[0, 2]).contains("row 1's label 2"));
        assert!(err(&[0.0, 1.0, 1.0], &[0, 1]).contains("3 numbers for 2 labels"));
    }
}
