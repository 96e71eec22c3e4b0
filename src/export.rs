//! A hub-ready folder from a trained model directory: the config and weights byte for byte,
//! `metrics.json`, `history.csv`, figures, and a model card (`README.md` whose YAML header is
//! the hub's metadata: library, datasets, tags, and the test metrics as a `model-index`).
//! Upload it with `huggingface-cli upload OWNER/NAME OUT .`; load it back with
//! `from_pretrained("OWNER/NAME")` or `autoencoders pull OWNER/NAME`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::apps::{self, figures::SaveDyn};
use crate::data::Normalizer;
use crate::fs::write_atomic;
use crate::model_dir::{read_metrics, RunConfig, CONFIG, HISTORY, METRICS, WEIGHTS};
use crate::models::Variant;
use crate::train::{History, Metrics};
use crate::{Error, Result};

/// What the model card says beyond what the model directory holds.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The hub id the folder will be uploaded to (`owner/name`), for the usage lines of the
    /// card; a placeholder when unset.
    pub repo_id: Option<String>,
    /// The licence of the weights (an SPDX id or a hub licence id such as `mit`).
    pub license: Option<String>,
}

/// Writes the hub-ready folder `out` (which must not exist, or be empty) from the model in
/// `dir`; returns the files written. Everything is assembled in a temporary folder beside
/// `out` and renamed into place, so `out` is either complete or absent.
pub fn export(dir: &Path, out: &Path, opts: &ExportOptions) -> Result<Vec<PathBuf>> {
    let about = apps::check_model(dir)?; // config and every tensor checked before anything is written
    let cfg = RunConfig::load(dir)?;
    let metrics = match read_metrics(dir)? {
        Some(m) => m,
        None => apps::test_metrics(dir)?,
    };
    let history = History::load_csv(&dir.join(HISTORY))?;
    refuse_non_empty(out)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = tempfile::Builder::new().prefix(".export-").tempdir_in(&parent).map_err(|e| Error::io(&parent, e))?;
    let mut names = Vec::new();
    // An adaptive model's log of adaptations travels with it when there is one.
    let log = Some(crate::train::ADAPTIVE_LOG).filter(|f| dir.join(f).is_file());
    for file in [CONFIG, WEIGHTS, HISTORY].into_iter().chain(log) {
        let bytes = std::fs::read(dir.join(file)).map_err(|e| Error::io(dir.join(file), e))?;
        write_atomic(&tmp.path().join(file), &bytes)?;
        names.push(file.to_string());
    }
    let text = serde_json::to_string_pretty(&metrics).expect("metrics serialise");
    write_atomic(&tmp.path().join(METRICS), text.as_bytes())?;
    names.push(METRICS.into());
    let figures = apps::figures(dir)?;
    for (name, fig) in
        [("loss_curve.png", &figures.loss as &dyn SaveDyn), ("reconstructions.png", &figures.reconstructions)]
    {
        fig.save_dyn(&tmp.path().join(name))?;
        names.push(name.into());
    }
    // The card's title: the hub name it will have, else the folder's.
    let name = match opts.repo_id.as_deref().and_then(|r| r.rsplit('/').next()) {
        Some(n) => n.to_string(),
        None => out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into()),
    };
    let card =
        model_card(&CardInput { cfg: &cfg, metrics: &metrics, history: &history, about: &about, name: &name }, opts);
    write_atomic(&tmp.path().join("README.md"), card.as_bytes())?;
    names.push("README.md".into());
    if out.exists() {
        std::fs::remove_dir(out).map_err(|e| Error::io(out, e))?; // empty, checked above
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, out).map_err(|e| Error::io(out, e))?;
    Ok(names.into_iter().map(|n| out.join(n)).collect())
}

fn refuse_non_empty(out: &Path) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
    if entries.next().is_some() {
        return Err(Error::config(
            "to",
            format!("{} already exists and is not empty; remove it or choose another folder", out.display()),
        ));
    }
    Ok(())
}

/// The facts a model card is written from.
pub struct CardInput<'a> {
    /// The model directory's config.
    pub cfg: &'a RunConfig,
    /// Its test metrics.
    pub metrics: &'a Metrics,
    /// Its training history.
    pub history: &'a History,
    /// One line about the model (`dense 64→32→8→32→64 (…) (2,440 parameters), trained on digits`).
    pub about: &'a str,
    /// The card's title.
    pub name: &'a str,
}

/// The model card: YAML metadata the hub reads, then what the model is, how well it
/// reconstructs, how to load it, and how it was trained.
pub fn model_card(input: &CardInput, opts: &ExportOptions) -> String {
    let repo = opts.repo_id.clone().unwrap_or_else(|| "OWNER/NAME".into());
    let metrics = metric_rows(input.cfg, input.metrics);
    let mut s = card_metadata(input, &metrics, opts);
    s += &card_results(input, &metrics);
    s += &card_usage(input.cfg, &repo);
    s += &card_training(input.cfg, input.history);
    s
}

/// (hub metric type, label, value) for each test metric the card reports. PSNR is left out
/// for standardised data: its "peak" would be the test data's range, a number that says
/// nothing about the reconstruction.
fn metric_rows(cfg: &RunConfig, m: &Metrics) -> Vec<(&'static str, &'static str, f64)> {
    let mut rows = vec![("mse", "Test MSE", m.test_mse)];
    if let Some(bce) = m.test_bce {
        rows.push(("bce", "Test BCE", bce));
    }
    if !matches!(cfg.data.normalizer, Some(Normalizer::Standardize { .. })) {
        rows.push(("psnr", "Test PSNR (dB)", m.test_psnr));
    }
    if let Some(auroc) = m.test_auroc {
        rows.push(("roc_auc", "Test ROC AUC, the other classes as anomalies", auroc));
    }
    if let Some(v) = &m.variational {
        rows.push(("neg_elbo", "Test −ELBO (nats per sample)", v.neg_elbo));
        if let Some(lp) = v.iw_log_px {
            rows.push(("log_likelihood", "Test log p(x), IWAE bound (nats)", lp));
        }
        rows.push(("active_units", "Active latent units", v.active_units as f64));
    }
    rows
}

/// The YAML header: library, licence, tags, dataset and the metrics as a `model-index`.
fn card_metadata(input: &CardInput, metrics: &[(&str, &str, f64)], opts: &ExportOptions) -> String {
    let cfg = input.cfg;
    let dataset = cfg.data.dataset.to_string();
    let hub_dataset = cfg.data.hub_dataset();
    let task = if cfg.data.is_image() { "image-to-image" } else { "feature-extraction" };
    let mut s = String::from("---\nlibrary_name: autoencoders\n");
    if let Some(l) = &opts.license {
        let _ = writeln!(s, "license: {}", yaml(l));
    }
    let _ = writeln!(s, "tags:\n- autoencoder\n- {}\n- dfdx\n- rust", cfg.model.card().tag);
    match cfg.variant {
        Variant::Vae(_) => s += "- variational-autoencoder\n- generative\n",
        Variant::Aae(_) => s += "- adversarial-autoencoder\n- generative\n",
        Variant::Adaptive(_) => s += "- adaptive-autoencoder\n- denoising-autoencoder\n",
        Variant::Plain => {}
    }
    if let Some(d) = &hub_dataset {
        let _ = writeln!(s, "datasets:\n- {}", yaml(d));
    }
    let _ = writeln!(s, "model-index:\n- name: {}\n  results:\n  - task:", yaml(input.name));
    let _ = writeln!(s, "      type: {task}\n      name: Reconstruction");
    let _ = writeln!(
        s,
        "    dataset:\n      type: {}\n      name: {}\n      split: test",
        yaml(hub_dataset.as_deref().unwrap_or(&dataset)),
        yaml(&dataset)
    );
    s += "    metrics:\n";
    for (kind, label, v) in metrics {
        let _ = writeln!(s, "    - type: {kind}\n      value: {}\n      name: {}", finite(*v), yaml(label));
    }
    s += "---\n\n";
    s
}

/// The title, what the model is, and its test metrics.
fn card_results(input: &CardInput, metrics: &[(&str, &str, f64)]) -> String {
    let (cfg, m) = (input.cfg, input.metrics);
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", input.name);
    let _ = writeln!(
        s,
        "{} {}, made with the Rust library `autoencoders` (on [dfdx](https://github.com/coreylowman/dfdx)).\n",
        if input.about.starts_with(['a', 'e', 'i', 'o', 'u']) { "An" } else { "A" },
        input.about
    );
    let _ = writeln!(s, "## Reconstruction on the {} test split ({} samples)\n", cfg.data.dataset, m.n_test);
    s += "| metric | value |\n|---|---|\n";
    for (_, label, v) in metrics {
        let _ = writeln!(s, "| {label} | {v:.5} |");
    }
    let loss = match cfg.variant {
        Variant::Vae(_) => "−ELBO, nats".to_string(),
        Variant::Plain | Variant::Aae(_) | Variant::Adaptive(_) => cfg.model.card().loss.name().to_string(),
    };
    let _ = writeln!(s, "| training loss ({loss}) on test | {:.5} |\n", m.test_loss);
    s += "Values are in the model's normalised units (see `data.normalizer` in `config.json`).\n\n";
    if let Some(k) = &cfg.data.normal_class {
        let _ = writeln!(
            s,
            "Trained on class `{k}` only, as a model of normal data: the ROC AUC scores each test sample by its \
             reconstruction error, the samples of the other classes counting as anomalies \
             (`autoencoders detect` flags them with a threshold).\n"
        );
    }
    s += "![Test images (top) and their reconstructions (bottom)](reconstructions.png)\n\n";
    s
}

/// How to load it (Rust and CLI) and what each file holds.
fn card_usage(cfg: &RunConfig, repo: &str) -> String {
    if cfg.variant.is_generative() {
        return generative_usage(cfg, repo);
    }
    if let Variant::Adaptive(_) = cfg.variant {
        return adaptive_usage(cfg, repo);
    }
    let card = cfg.model.card();
    let (rust_type, module) = (&card.rust_type, card.module);
    let mut s = String::from("## Use\n\n```rust\n");
    let _ = writeln!(s, "use autoencoders::models::{module}::{rust_type};\nuse autoencoders::prelude::*;\n");
    let _ = writeln!(s, "let model = {rust_type}::from_pretrained({})?;", yaml(repo));
    s += "// one sample, normalised as `data.normalizer` in config.json says\n";
    s += "let x = Dev::default().tensor_from_vec(sample, model.input_shape(1));\n";
    s += "let code = model.encode(x.clone());\nlet reconstruction = model.reconstruct(x);\n```\n\n";
    let _ = writeln!(s, "```sh\nautoencoders pull {repo}\nautoencoders eval {repo}\nautoencoders encode {repo} --output codes.parquet\n```\n");
    s += "## Files\n\n";
    s += "- `config.json`: model, data (with the fitted normaliser) and training settings; needed to rebuild the model.\n";
    let _ = writeln!(s, "- `model.safetensors`: f32 weights: {}", card.weight_layout);
    s += "- `metrics.json`, `history.csv`: test metrics and the per-epoch losses.\n\n";
    s
}

/// How to use a generative model (a VAE): through its directory, which every variant loads from.
fn generative_usage(cfg: &RunConfig, repo: &str) -> String {
    let card = cfg.model.card();
    let mut s = String::from("## Use\n\n```rust\n");
    s += "use autoencoders::{apps, hub::Hub, pretrained::ModelSource};\n\n";
    let _ = writeln!(s, "let dir = ModelSource::parse({}, None)?.local_dir(&Hub::from_env())?;", yaml(repo));
    s += "let samples = apps::generate::sample(&dir, 64, 0)?; // 64 decoded draws from the prior, seed 0\n";
    s += "samples.grid().save(\"samples.png\".as_ref())?;\n```\n\n";
    let _ = writeln!(
        s,
        "```sh\nautoencoders pull {repo}\nautoencoders eval {repo}\nautoencoders sample {repo} --n 64 --output samples.png\n\
         autoencoders interpolate {repo} --from 0 --to 1 --output path.png\n```\n"
    );
    s += "## Files\n\n";
    s += "- `config.json`: the backbone (`model`), the variant (`variant`: a VAE and its β, or an AAE and its prior), \
          data and training settings.\n";
    let extra = match cfg.variant {
        Variant::Vae(_) => {
            "The encoder's last layer has 2 × code outputs: the means of q(z|x), then their log-variances."
        }
        _ => "`discriminator.{0,1,2}.weight` / `.bias`: the discriminator on codes (code → h → h → 1, ReLU).",
    };
    let _ = writeln!(s, "- `model.safetensors`: f32 weights: {} {extra}", card.weight_layout);
    s += "- `metrics.json`, `history.csv`: test metrics (with `variational`: −ELBO, its parts, active units, the IWAE \
          estimate of log p(x)) and the per-epoch losses.\n\n";
    s
}

/// How to use an adaptive model: through its directory, which sizes it from its weights.
fn adaptive_usage(cfg: &RunConfig, repo: &str) -> String {
    let card = cfg.model.card();
    let mut s = String::from("## Use\n\n");
    let _ = writeln!(
        s,
        "```sh\nautoencoders pull {repo}\nautoencoders eval {repo}\nautoencoders encode {repo} --output codes.parquet\n```\n"
    );
    s += "## Files\n\n";
    s += "- `config.json`: the model it started as (`model.code` = the starting features), the variant (`variant`: \
          adaptive, its pool and limits), data and training settings.\n";
    let _ = writeln!(
        s,
        "- `model.safetensors`: f32 weights: {} The number of features is the rows of `encoder.0.weight`: it changed \
         while the model trained, and loading takes it from the file.",
        card.weight_layout
    );
    s += "- `adaptive.csv`: every adaptation (features merged and added, the width, the hard pool's loss).\n\n";
    s
}

/// Epochs, batch, optimiser and the command that trained it.
fn card_training(cfg: &RunConfig, history: &History) -> String {
    let mut s = String::from("## Training\n\n");
    let epochs = history.records.len();
    let best = history.best().map(|b| format!(", best validation epoch {}", b.epoch)).unwrap_or_default();
    let _ = writeln!(s, "{epochs} epochs{best}, batch {}, Adam lr {}.\n", cfg.train.batch_size, cfg.train.adam.lr);
    if !cfg.command.is_empty() {
        let _ = writeln!(s, "```sh\n{}\n```\n", cfg.command);
    }
    s += "![Loss per epoch](loss_curve.png)\n";
    s
}

/// A YAML scalar: JSON's double-quoted strings are valid YAML and escape everything needed.
fn yaml(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// A number YAML and the hub accept (no NaN/inf).
fn finite(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}
