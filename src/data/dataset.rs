use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use crate::{Error, Result};

/// Samples in memory, with their shape, optional labels and class names.
///
/// `samples` holds `len() * sample_len()` values, row-major. Labels, when present, are class
/// indices into `class_names` (so `class_names[labels[i]]` names sample `i`'s class).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where the data came from, e.g. `mnist/train`.
    pub name: String,
    /// All samples, flattened and concatenated.
    pub samples: Vec<f32>,
    /// Shape of one sample: `[1, 28, 28]` for MNIST, `[140]` for ECG5000, `[64]` for digits.
    pub shape: Vec<usize>,
    /// Class index per sample, if the source has labels.
    pub labels: Option<Vec<u32>>,
    /// Name of each class index, e.g. `"0"`…`"9"`, `"s1"`…`"s40"`.
    pub class_names: Vec<String>,
}

/// One batch: `n` samples, flattened, and their labels if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch<'a> {
    /// The batch's samples, one after another.
    pub x: &'a [f32],
    /// Their labels, if the dataset has any.
    pub labels: Option<&'a [u32]>,
    /// Samples in the batch.
    pub n: usize,
}

impl Dataset {
    /// Builds a dataset, checking that sizes agree and every value is finite.
    pub fn new(
        name: impl Into<String>,
        samples: Vec<f32>,
        shape: Vec<usize>,
        labels: Option<Vec<u32>>,
        class_names: Vec<String>,
    ) -> Result<Self> {
        let name = name.into();
        let per: usize = shape.iter().product();
        if per == 0 || !samples.len().is_multiple_of(per) {
            return Err(Error::format(
                &name,
                format!("{} values do not divide into samples of shape {shape:?}", samples.len()),
            ));
        }
        let n = samples.len() / per;
        if let Some(l) = &labels {
            if l.len() != n {
                return Err(Error::format(&name, format!("{n} samples but {} labels", l.len())));
            }
            if let Some(bad) = l.iter().find(|&&c| c as usize >= class_names.len()) {
                return Err(Error::format(
                    &name,
                    format!("label {bad} has no class name ({} classes)", class_names.len()),
                ));
            }
        }
        if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
            return Err(Error::format(
                &name,
                format!("sample {}, feature {} is {} — clean or impute the data first", i / per, i % per, samples[i]),
            ));
        }
        Ok(Self { name, samples, shape, labels, class_names })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len() / self.sample_len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Values per sample (the product of `shape`).
    pub fn sample_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Sample `i`, flattened.
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.sample_len();
        &self.samples[i * d..(i + 1) * d]
    }

    /// A new dataset holding the samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut samples = Vec::with_capacity(indices.len() * self.sample_len());
        for &i in indices {
            samples.extend_from_slice(self.sample(i));
        }
        let labels = self.labels.as_ref().map(|l| indices.iter().map(|&i| l[i]).collect());
        Dataset {
            name: self.name.clone(),
            samples,
            shape: self.shape.clone(),
            labels,
            class_names: self.class_names.clone(),
        }
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx)
    }

    /// Only the samples whose class is `class`.
    pub fn filter_class(&self, class: u32) -> Dataset {
        let idx: Vec<usize> = match &self.labels {
            Some(l) => (0..self.len()).filter(|&i| l[i] == class).collect(),
            None => Vec::new(),
        };
        self.subset(&idx)
    }

    /// Splits off a validation set: a seeded random `fraction` of the samples goes to the
    /// second dataset, the rest to the first. Both keep the original order otherwise.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::config("validation split", format!("{fraction} is not in [0, 1)")));
        }
        let n_val = (self.len() as f64 * fraction).round() as usize;
        let mut perm = permutation(self.len(), seed);
        let mut val: Vec<usize> = perm.split_off(self.len() - n_val);
        perm.sort_unstable();
        val.sort_unstable();
        let mut a = self.subset(&perm);
        let mut b = self.subset(&val);
        a.name = format!("{}[train]", self.name);
        b.name = format!("{}[val]", self.name);
        Ok((a, b))
    }

    /// Like [`Dataset::split`], but with labels each class is split on its own, so both parts
    /// keep the class proportions (a class of one sample stays in the first part).
    pub fn split_stratified(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        let Some(labels) = &self.labels else { return self.split(fraction, seed) };
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::config("split", format!("{fraction} is not in [0, 1)")));
        }
        let (mut first, mut second) = (Vec::new(), Vec::new());
        for class in 0..self.class_names.len() as u32 {
            let members: Vec<usize> = (0..self.len()).filter(|&i| labels[i] == class).collect();
            let n_second = (members.len() as f64 * fraction).round() as usize;
            let mut perm = permutation(members.len(), seed ^ class as u64);
            let rest = perm.split_off(members.len() - n_second.min(members.len().saturating_sub(1)));
            first.extend(perm.iter().map(|&k| members[k]));
            second.extend(rest.iter().map(|&k| members[k]));
        }
        first.sort_unstable();
        second.sort_unstable();
        Ok((self.subset(&first), self.subset(&second)))
    }

    /// Batches of `batch_size` in the stored order; the last one holds what is left.
    pub fn batches(&self, batch_size: usize) -> Batches<'_> {
        Batches { data: self, batch_size: batch_size.max(1), next: 0 }
    }

    /// The smallest and largest value over all samples.
    pub fn value_range(&self) -> (f32, f32) {
        self.samples.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    }
}

/// Iterator over [`Batch`]es; see [`Dataset::batches`].
pub struct Batches<'a> {
    data: &'a Dataset,
    batch_size: usize,
    next: usize,
}

impl<'a> Iterator for Batches<'a> {
    type Item = Batch<'a>;
    fn next(&mut self) -> Option<Batch<'a>> {
        let len = self.data.len();
        if self.next >= len {
            return None;
        }
        let start = self.next;
        let end = (start + self.batch_size).min(len);
        self.next = end;
        let d = self.data.sample_len();
        Some(Batch {
            x: &self.data.samples[start * d..end * d],
            labels: self.data.labels.as_ref().map(|l| &l[start..end]),
            n: end - start,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.data.len() - self.next.min(self.data.len())).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Dataset {
        let samples = (0..n * 2).map(|v| v as f32).collect();
        let labels = Some((0..n as u32).map(|i| i % 2).collect());
        Dataset::new("toy", samples, vec![2], labels, vec!["a".into(), "b".into()]).unwrap()
    }

    #[test]
    fn batches_cover_every_sample_once_with_a_partial_last_batch() {
        let d = toy(10);
        let sizes: Vec<usize> = d.batches(4).map(|b| b.n).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        let all: Vec<f32> = d.batches(4).flat_map(|b| b.x.to_vec()).collect();
        assert_eq!(all, d.samples);
    }

    #[test]
    fn split_is_disjoint_and_complete() {
        let d = toy(100);
        let (a, b) = d.split(0.2, 1).unwrap();
        assert_eq!((a.len(), b.len()), (80, 20));
        let mut firsts: Vec<f32> = a.samples.iter().chain(&b.samples).copied().collect();
        firsts.sort_by(f32::total_cmp);
        assert_eq!(firsts, d.samples);
        assert!(d.split(1.0, 1).is_err());
    }

    #[test]
    fn rejects_nan_and_mismatched_labels() {
        let e = Dataset::new("x", vec![0.0, f32::NAN], vec![1], None, vec![]).unwrap_err();
        assert!(e.to_string().contains("sample 1, feature 0 is NaN"), "{e}");
        let e = Dataset::new("x", vec![0.0; 4], vec![2], Some(vec![0]), vec!["a".into()]);
        assert!(e.unwrap_err().to_string().contains("2 samples but 1 labels"));
    }
}
