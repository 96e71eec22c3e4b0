//! The `autoencoders` command line: train, evaluate, encode and draw autoencoders.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use autoencoders::apps;
use autoencoders::apps::sweep::Axis;
use autoencoders::data::class_stream::PHASE_OVERLAP;
use autoencoders::data::stream::Part;
use autoencoders::data::{
    prepare_data, DataConfig, DataSource, ImageSize, NormalizeKind, Prepared, SourceOptions, Split, StreamOrder, Window,
};
use autoencoders::hub::Hub;
use autoencoders::model_dir::RunConfig;
use autoencoders::models::{
    AaeConfig, AdaptiveConfig, BuildOptions, Contractive, ModelConfig, PriorKind, ReconLoss, Sparsity, VaeConfig,
    Variant, FAMILIES, VARIANTS,
};
use autoencoders::nn::Activation;
use autoencoders::pretrained::ModelSource;
use autoencoders::train::{AdamConfig, InputNoise, LrSchedule, Noise, Progress, TrainConfig};
use clap::builder::PossibleValue;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Build, train, inspect and apply autoencoders.
///
/// Data: built-in sets are read from $AUTOENCODERS_DATA (a folder with mnist/, fashion-mnist/,
/// digits/, ecg5000/, orl-faces/, adbench/), or ./datasets when it is unset; your own data is a
/// file (.csv .tsv .parquet .npz .npy), a folder of images, or hf:owner/name on the hub.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an autoencoder and write a model directory.
    Train(TrainArgs),
    /// Evaluate a model on its dataset's test split; a local directory also gets
    /// DIR/metrics.json.
    Eval {
        /// A model directory (config.json + model.safetensors) or a hub repository `owner/name`.
        model: String,
        /// Hub revision (branch, tag or commit).
        #[arg(long)]
        revision: Option<String>,
        /// Evaluate on this data source instead of the test split, read as the training data
        /// was (same columns by name, image size, normalisation); writes no metrics.json.
        #[arg(long, value_name = "SOURCE")]
        input: Option<DataSource>,
        /// A VAE's importance draws per test sample for its IWAE estimate of log p(x) (0: skip
        /// it; each draw is one more decoder pass over the test split).
        #[arg(long, default_value_t = 100)]
        iw_samples: usize,
        /// Also generate 10,000 samples (a VAE's from its prior; a plain autoencoder's from a
        /// Gaussian fitted to its training codes) and report their Parzen-window
        /// log-likelihood and Fréchet distance to the test images (in the features of a
        /// classifier it trains on the training split: needs labelled images).
        #[arg(long)]
        sample_quality: bool,
    },
    /// Decode codes drawn from a generative model's prior (a VAE, an AAE): a grid of new samples.
    Sample {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// How many samples.
        #[arg(long, default_value_t = 64)]
        n: usize,
        /// Seed of the draws: the same seed gives the same samples.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The figure to write (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
        /// Also (or instead, with --n 0) decode a GRID×GRID grid over the first two code units
        /// at the prior's quantiles: a 2-D VAE's whole latent space (Kingma & Welling's figure 4).
        #[arg(long, value_name = "GRID")]
        manifold: Option<usize>,
    },
    /// Decode the path between the codes of two test samples: spherical for a VAE (its codes
    /// lie near a shell of the Gaussian prior), straight for a plain autoencoder.
    Interpolate {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// Index of the first test sample.
        #[arg(long, default_value_t = 0)]
        from: usize,
        /// Index of the last test sample.
        #[arg(long, default_value_t = 1)]
        to: usize,
        /// Decoded points along the path, both ends included.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// The figure to write (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Download a model from the Hugging Face hub into its cache, check it, print its path.
    ///
    /// Honours HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE and HF_TOKEN.
    Pull {
        /// The hub repository, `owner/name`.
        repo: String,
        /// Hub revision (branch, tag or commit).
        #[arg(long)]
        revision: Option<String>,
    },
    /// Write a hub-ready folder from a model directory: config and weights (unchanged),
    /// metrics, history, figures and a model card (README.md with the hub's metadata).
    ///
    /// Upload it with `huggingface-cli upload OWNER/NAME OUT .`; metrics come from
    /// DIR/metrics.json, or are computed on the test split when it is missing.
    Export {
        /// The model directory.
        dir: PathBuf,
        /// The folder to write; it must not exist, or be empty.
        #[arg(long)]
        to: PathBuf,
        /// The hub id it will be uploaded to (`owner/name`), for the card's usage lines.
        #[arg(long)]
        repo_id: Option<String>,
        /// Licence of the weights, for the card's metadata (e.g. mit, apache-2.0, cc-by-4.0).
        #[arg(long)]
        license: Option<String>,
    },
    /// Train every combination of a grid of `train` settings; gather one results table.
    ///
    /// Each --grid KEY=V1,V2,… names a train flag (without --) and its values: an empty value
    /// leaves the flag at its default (`noise=,gaussian:0.5`: plain and denoising), a value
    /// with commas is bracketed (`hidden=[128,64],[256]`). Every other train flag applies to all
    /// cells. Each cell trains into OUT/KEY=VALUE_…; a finished cell is kept and an interrupted
    /// one resumed, so running the same command again continues the sweep. Writes
    /// OUT/results.parquet, OUT/results.csv and OUT/results.svg (--metric against the first
    /// numeric axis).
    Sweep(SweepArgs),
    /// Draw the loss curve, reconstructions and latent space of a model.
    Figures {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// Where to write the PNG and SVG files [default: DIR/figures].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the codes of a dataset split as a parquet table (z0…z{k-1}, label, class).
    Encode {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// The parquet file to write.
        #[arg(long, short)]
        output: PathBuf,
        /// Which split to encode.
        #[arg(long, value_enum, default_value_t = SplitArg::Test, conflicts_with = "input")]
        split: SplitArg,
        /// Encode this data source instead, read as the training data was (same columns by
        /// name, image size, normalisation).
        #[arg(long, value_name = "SOURCE")]
        input: Option<DataSource>,
    },
    /// Compress images to an `.aec` file through the model's code: each code unit quantised to
    /// 2^bits levels and entropy-coded under a prior fitted on the training split (the first
    /// call fits it into the model directory as codec-{bits}bit.json). Prints sizes and PSNR as
    /// JSON.
    Compress {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// The images: a data source (`mnist@test`, an image folder, …), read as the training
        /// data was (the same image size and channels).
        #[arg(long, value_name = "SOURCE")]
        input: DataSource,
        /// Bits per code unit (1–16).
        #[arg(long, default_value_t = 8)]
        bits: u8,
        /// The `.aec` file to write.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Decompress an `.aec` file into PNGs (00000.png, …) with the model that compressed it.
    Decompress {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// The `.aec` file.
        file: PathBuf,
        /// The folder to write the PNGs into.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Rate against distortion: bytes per image against PSNR and SSIM for the autoencoders
    /// given (each at every --bits), PCA of their code sizes through the same quantiser and
    /// coder, JPEG at every --jpeg-quality (whole files and payload) and PNG (lossless). Writes
    /// the points as CSV and the curves beside it (.png), and prints how far the best
    /// autoencoder curve lies above JPEG's payload and PCA between 16 and 100 bytes per image.
    Rd {
        /// Model directories (or hub repositories) trained on the same data.
        #[arg(required = true)]
        dirs: Vec<String>,
        /// The images: a data source (`mnist@test`, an image folder, …).
        #[arg(long, value_name = "SOURCE")]
        input: DataSource,
        /// Bits per code unit, for the autoencoders and PCA.
        #[arg(long, value_name = "B,B,…", value_delimiter = ',', default_value = "2,3,4,5,6,8")]
        bits: Vec<u8>,
        /// JPEG qualities (1–100).
        #[arg(long, value_name = "Q,Q,…", value_delimiter = ',', default_value = "5,10,20,30,40,50,60,70,80,90,95")]
        jpeg_quality: Vec<u8>,
        /// The CSV to write; the figure is written beside it as .png.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Denoise images with the model: an image file into an image file (its format from the
    /// extension), or every image under a folder into a new folder of PNGs at the same relative
    /// paths. Images must have the model's size and channel count.
    Denoise {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// An image file or a folder of images.
        #[arg(long)]
        input: PathBuf,
        /// The image file, or the new folder, to write.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Denoising against the classic filters: Gaussian noise of each --sigma on the test
    /// images, then each autoencoder given, the 3×3 and 5×5 median filters, the Gaussian blur
    /// and PCA projection (their settings chosen on validation images of the training split).
    /// Writes PSNR and SSIM as CSV, JSON beside it, and PSNR against σ (.png); prints how far
    /// the best autoencoder lies above the best filter at each σ.
    DenoiseEval {
        /// Model directories (or hub repositories) trained on the same data.
        #[arg(required = true)]
        dirs: Vec<String>,
        /// The test images: a data source (`mnist@test`, an image folder, …).
        #[arg(long, value_name = "SOURCE")]
        input: DataSource,
        /// Noise standard deviations, in the model's [0, 1] units.
        #[arg(long, value_name = "S,S,…", value_delimiter = ',', default_value = "0.1,0.2,0.3,0.5,0.7")]
        sigma: Vec<f32>,
        /// Seeds the noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The CSV to write; .json and .png are written beside it.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Anomaly detection: score every row or image of a data source by the model's
    /// reconstruction error and flag those above a threshold fitted on the validation part of
    /// the model's training data (its normal data). Writes a parquet table (row, score, flag,
    /// and label, class, anomaly when labelled) and prints a JSON summary. For a model trained
    /// with --normal-class on labelled input, the summary reports ROC AUC, average precision,
    /// and precision, recall and F1 at the threshold, and the ROC and precision–recall curves
    /// are drawn beside the table (-roc.png, -pr.png).
    Detect {
        /// A model directory or a hub repository `owner/name`.
        dir: String,
        /// The data to score, read as the training data was (same columns by name, image size,
        /// label column, normalisation) [default: the model's test split].
        #[arg(long, value_name = "SOURCE")]
        input: Option<DataSource>,
        /// percentile:P (of the validation scores), mean-sd:K (their mean + K standard
        /// deviations) or value:X (a fixed score) [default: percentile:99, as stored in
        /// config.json when training ended; another rule is fitted on the training data again]
        #[arg(long, value_name = "RULE")]
        threshold: Option<apps::detect::Threshold>,
        /// The anomaly score: recon (mean squared reconstruction error); complexity (images:
        /// that error divided by the image's total variation per pixel); code (the squared
        /// Mahalanobis distance of the sample's code under the Gaussian of the training codes);
        /// neighbours:K (the mean squared distance from its code to the K nearest training
        /// codes, whitened by that Gaussian; neighbours = neighbours:5); or for a VAE elbo (its
        /// −ELBO in nats) or iwae:K (its −IWAE bound on log p(x) from K draws; iwae = iwae:100)
        #[arg(long, value_name = "SCORE", default_value = "recon")]
        score: apps::detect::Score,
        /// The parquet table to write.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Anomaly detection on tables: on every ADBench set in the data folder (or those named),
    /// an autoencoder (one hidden layer of 64, a code of half the features, 2–32), PCA
    /// reconstruction error (the components keeping 95 % of the variance) and an Isolation
    /// Forest (100 trees of 256 rows), each fitted on the normal rows of the training split and
    /// scored on the test split. Prints AUROC and average precision per set, their means and
    /// mean AUROC ranks; writes CSV and JSON, and each autoencoder as a model directory.
    DetectEval {
        /// ADBench sets by name (cardio, thyroid, …) [default: every set in the data folder].
        sets: Vec<String>,
        /// Epochs of each autoencoder (early stopping on its validation rows may stop sooner).
        #[arg(long, default_value_t = 100)]
        epochs: usize,
        /// Seeds the autoencoders and the forest.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the autoencoders are trained, one model directory per set.
        #[arg(long, value_name = "DIR")]
        models: PathBuf,
        /// The CSV to write; .json is written beside it.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Anomaly detection on images, one class at a time (Ruff et al. 2018): per class and seed, a
    /// conv autoencoder trains on that class's training images only; every test image is scored
    /// (the class's own normal, every other class's anomalous) by its reconstruction error, by
    /// its code's Mahalanobis distance to the training codes, by its code's 5 nearest training
    /// codes, by the first two summed, and by its reconstruction error over its total variation.
    /// Prints each class's AUROC (median over seeds) beside PCA's reconstruction error (95 % of
    /// the class's variance) and the means; writes DIR/one-class.csv (every seed) and .json.
    OneClass {
        /// Where the models (DIR/class-K-seed-S, read by `detect`) and the report go.
        dir: PathBuf,
        /// Labelled images: mnist, fashion-mnist, or an image folder of a conv size.
        #[arg(long, value_name = "SOURCE", default_value = "mnist")]
        dataset: DataSource,
        /// Normal classes by name or number [default: every class].
        #[arg(long, value_name = "K,K,…", value_delimiter = ',')]
        classes: Vec<String>,
        /// Seeds: one model per class and seed; the table gives medians.
        #[arg(long, value_name = "S,S,…", value_delimiter = ',', default_value = "0,1,2")]
        seeds: Vec<u64>,
        /// Epochs of each model (no early stopping).
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        /// Code size of each model.
        #[arg(long, default_value_t = 32)]
        code: usize,
        /// Train each model as a VAE (β = 1): scored through its means μ and their decoding.
        #[arg(long)]
        vae: bool,
        /// Train each model as a denoising autoencoder on inputs corrupted by KIND:STRENGTH
        /// (as `train --noise`: gaussian:SIGMA, mask:P, salt-pepper:P, shift:PIXELS).
        #[arg(long, value_name = "KIND:STRENGTH")]
        noise: Option<autoencoders::train::Noise>,
    },
    /// Face recognition on ORL (orl-faces/5-5: images 1–5 of each of 40 people train, 6–10
    /// test): a conv autoencoder at the faces' full 112×92 per code size and seed, trained on
    /// the training faces without their names; each test face identified by the nearest
    /// training face's code (1-NN, Euclidean and cosine), and every pair of test faces verified
    /// (ROC, equal error rate). Eigenfaces (PCA, same sizes) and raw pixels on the same split.
    /// The reported setting is chosen by leave-one-out on the training faces. Writes DIR/faces.json,
    /// .csv and figures. With --query IMAGE: the training faces nearest a face image, by the
    /// model in DIR (a model directory, or a study's chosen one).
    Faces {
        /// Where the models and the report go (with --query: a model directory or a study's).
        dir: PathBuf,
        /// A face image (92×112 grey): print the nearest training faces instead of a study.
        #[arg(long, value_name = "IMAGE")]
        query: Option<PathBuf>,
        /// How many nearest faces --query prints.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// The distance for --query [default: the study's chosen one, else cosine].
        #[arg(long, value_enum)]
        metric: Option<apps::faces::Metric>,
        /// Code sizes (eigenfaces get as many components).
        #[arg(long, value_name = "K,K,…", value_delimiter = ',', default_value = "16,32,64,128")]
        codes: Vec<usize>,
        /// Seeds: one model per seed and code size; results are medians.
        #[arg(long, value_name = "S,S,…", value_delimiter = ',', default_value = "0,1,2")]
        seeds: Vec<u64>,
        /// Epochs of each model.
        #[arg(long, default_value_t = apps::faces::FacesOptions::default().epochs)]
        epochs: usize,
        /// Input corruption while training: shift:PIXELS (random moves the model undoes),
        /// gaussian:SIGMA, mask:P or salt-pepper:P.
        #[arg(long, value_name = "KIND:STRENGTH", default_value = "shift:4", conflicts_with = "plain")]
        noise: autoencoders::train::Noise,
        /// Train plain autoencoders (no input corruption), for comparison.
        #[arg(long)]
        plain: bool,
    },
    /// Feature extraction: how much of the labels each model's code keeps. A classifier trained
    /// on the codes of a few labelled training samples is scored on the test split, at each label
    /// budget, averaged over seeded draws of the labelled subset (the same draws for every feature
    /// set); its setting (L2 weight, k) is chosen by cross-validation on the labelled subset only.
    /// PCA of each code size (fitted on the unlabelled training split) and the raw input are
    /// probed alike. Prints a table; writes JSON, CSV and accuracy against labels (.png).
    Probe {
        /// Model directories (or hub repositories) trained on the same labelled data.
        #[arg(required = true)]
        dirs: Vec<String>,
        /// Label budgets: numbers of labelled training samples, or `all`.
        #[arg(long, value_name = "N,N,…", value_delimiter = ',', default_value = "100,1000,10000,all")]
        labels: Vec<apps::probe::Budget>,
        /// The classifiers: logistic (multinomial logistic regression), knn (k nearest neighbours).
        #[arg(long, value_name = "C,C,…", value_delimiter = ',', default_value = "logistic,knn")]
        classifier: Vec<apps::probe::ProbeClassifier>,
        /// Random labelled subsets per budget.
        #[arg(long, default_value_t = 5)]
        draws: usize,
        /// Cross-validation folds choosing each classifier's setting (one 80/20 hold-out above
        /// 2,000 labels).
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Leave out PCA and the raw input.
        #[arg(long)]
        no_baselines: bool,
        /// Seeds the draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The JSON to write; .csv and .png are written beside it.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// The main job on embedded data: train a small dense autoencoder on the 8×8 digits shipped
    /// with the crate (no download, no data folder), evaluate it and draw every figure.
    Demo {
        /// Where to write the figures.
        #[arg(long, default_value = "figures")]
        figures: PathBuf,
        /// Where to write the model directory.
        #[arg(long, default_value = "runs/demo")]
        model_dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SplitArg {
    Train,
    Test,
}

/// `--variant`: the objectives, with their descriptions for `--help`.
fn variant_names() -> Vec<PossibleValue> {
    VARIANTS.iter().map(|(name, about)| PossibleValue::new(*name).help(*about)).collect()
}

/// `--model`: the registered model families, with their descriptions for `--help`.
fn family_names() -> Vec<PossibleValue> {
    FAMILIES.iter().map(|(name, about)| PossibleValue::new(*name).help(*about)).collect()
}

#[derive(Args)]
struct TrainArgs {
    /// The data: a built-in set (mnist, fashion-mnist, digits, ecg5000, orl-faces, orl-faces/5-5, adbench/<set>,
    /// optionally NAME@train or NAME@test), a file (.csv .tsv .parquet .npz .npy), a folder of
    /// images (root/<class>/*.png|jpg|pgm, or flat), a folder of parquet files, or a hub dataset
    /// hf:owner/name[:config][@split].
    #[arg(long, value_name = "SOURCE")]
    dataset: DataSource,
    /// A separate test set, read like --dataset [default: the dataset's own test split, or
    /// --test-split of it].
    #[arg(long, value_name = "SOURCE")]
    test: Option<DataSource>,
    /// Fraction held out for testing when the data has no test split of its own (seeded;
    /// stratified by class when there are labels) [default: 0.2].
    #[arg(long, value_name = "F", conflicts_with = "test")]
    test_split: Option<f64>,
    /// Normalisation, fitted on the training rows only: auto (images min-max to [0, 1], tables
    /// standardised; built-in sets as documented), minmax, standard or none.
    #[arg(long, value_enum, default_value_t = NormalizeKind::Auto)]
    normalize: NormalizeKind,
    /// Feature columns of a table, comma-separated [default: every column but the label; each
    /// must be numeric].
    #[arg(long, value_name = "A,B,…", value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// The class column of a table (integers or text), kept out of the features.
    #[arg(long, value_name = "NAME")]
    label_column: Option<String>,
    /// A CSV/TSV file without a header line (columns are then column_1, column_2, …).
    #[arg(long)]
    no_header: bool,
    /// Resize every image to WIDTHxHEIGHT (e.g. 64x64); needed when images differ in size.
    #[arg(long, value_name = "WxH")]
    image_size: Option<ImageSize>,
    /// Image channels: 1 (grey) or 3 (RGB) [default: as the first image].
    #[arg(long, value_name = "1|3")]
    channels: Option<usize>,
    /// Skip rows with missing, NaN or infinite values and unreadable images (and say how many)
    /// instead of stopping at the first.
    #[arg(long)]
    drop_invalid: bool,
    /// Cut a series (a table with one row per time point) into windows of this many points:
    /// the samples of an LSTM (one column) or dense model. The test part is the series' last
    /// --test-split; eval adds test_point_auroc with --normal-class and a --label-column.
    #[arg(long, value_name = "LENGTH")]
    window: Option<usize>,
    /// Time points between the starts of consecutive windows.
    #[arg(long, default_value_t = 1, requires = "window")]
    stride: usize,
    /// Stream a parquet file (or folder of them) from disk instead of loading it: for tables
    /// larger than memory. Rows go to train/validation/test by a seeded hash of their index;
    /// batches are shuffled within a bounded buffer across row groups; eval and encode stream
    /// too.
    #[arg(long)]
    stream: bool,
    /// Model family.
    #[arg(long, default_value = "dense", value_parser = clap::builder::PossibleValuesParser::new(family_names()))]
    model: String,
    /// What the model is trained as: a plain autoencoder, a VAE or an adversarial autoencoder.
    #[arg(long, default_value = "plain", value_parser = clap::builder::PossibleValuesParser::new(variant_names()))]
    variant: String,
    /// A VAE's KL weight: 1 trains on the ELBO, more pulls codes closer to the prior (β-VAE).
    #[arg(long, default_value_t = 1.0)]
    beta: f32,
    /// Raise a VAE's KL weight linearly from 0 to --beta over this many epochs (batch by batch).
    #[arg(long, value_name = "EPOCHS")]
    kl_warmup: Option<f64>,
    /// The prior an adversarial autoencoder's codes are matched to (circle10 needs --code 2).
    #[arg(long, value_enum)]
    prior: Option<PriorKind>,
    /// An adversarial autoencoder's learning rate for its discriminator and generator phases
    /// (Adam, β₁ 0.5) [default: 1e-3].
    #[arg(long, value_name = "LR")]
    adversarial_lr: Option<f64>,
    /// An adversarial autoencoder's discriminator updates per batch, each on fresh prior draws
    /// [default: 1].
    #[arg(long, value_name = "K")]
    discriminator_steps: Option<usize>,
    /// Width of an adversarial autoencoder's two hidden discriminator layers [default: 256].
    #[arg(long, value_name = "H")]
    discriminator: Option<usize>,
    /// An adversarial autoencoder (Gaussian prior): after the last epoch, refit the code layer
    /// so the training codes have mean 0 and covariance I exactly, the decoder's first layer
    /// taking the inverse map (reconstructions unchanged).
    #[arg(long)]
    whiten_codes: bool,
    /// Code (bottleneck) size: how many numbers each sample is squeezed into (an adaptive
    /// model's starting features; --start-features says the same).
    #[arg(long, default_value_t = 32, alias = "start-features")]
    code: usize,
    /// The order training batches arrive in: shuffled each epoch, or class-incremental (classes
    /// in phases of --classes-per-phase by class index, neighbouring phases overlapping by 20 %;
    /// the same order every epoch; needs labels).
    #[arg(long, value_enum, value_name = "ORDER")]
    stream_order: Option<StreamOrderArg>,
    /// Classes per phase of a class-incremental stream.
    #[arg(long, default_value_t = 2, value_name = "K")]
    classes_per_phase: usize,
    /// An adaptive model's pool: hard examples collected before each adaptation [default: 1000].
    #[arg(long, value_name = "N")]
    pool: Option<usize>,
    /// Features an adaptive model adds at its first adaptation [default: 10].
    #[arg(long, value_name = "N")]
    first_add: Option<usize>,
    /// The most features an adaptive model may grow to [default: 2000].
    #[arg(long, value_name = "N")]
    max_features: Option<usize>,
    /// An adaptive model's control: the same hard pool and passes over it (so the same number
    /// of updates), but no merges or additions — a fixed-width denoising autoencoder to compare.
    #[arg(long)]
    fixed_width: bool,
    /// Hidden widths from input towards the code, comma-separated (e.g. 128,64); empty for none.
    #[arg(long, default_value = "", value_parser = parse_widths)]
    hidden: Widths,
    /// Activation of the hidden layers.
    #[arg(long, value_enum, default_value_t = Activation::Relu)]
    activation: Activation,
    /// Activation of the code layer (identity: a linear code; relu as in the Keras blog)
    /// [default: identity; sigmoid for --variant adaptive, as in Zhou et al.].
    #[arg(long, value_enum)]
    code_activation: Option<Activation>,
    /// Output activation [default: sigmoid for images, identity otherwise].
    #[arg(long, value_enum)]
    output_activation: Option<Activation>,
    /// Reconstruction loss [default: bce for images, mse otherwise].
    #[arg(long, value_enum)]
    loss: Option<ReconLoss>,
    /// Passes over the training data.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Samples per optimiser step.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Learning-rate schedule over the run.
    #[arg(long, value_enum, default_value_t = LrSchedule::Constant)]
    schedule: LrSchedule,
    /// Adam β₁.
    #[arg(long, default_value_t = 0.9)]
    beta1: f64,
    /// Adam β₂.
    #[arg(long, default_value_t = 0.999)]
    beta2: f64,
    /// Decoupled weight decay (AdamW); 0 for plain Adam.
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Seed for initialisation, the validation split and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of the training split held out for validation and early stopping.
    #[arg(long, default_value_t = 0.1)]
    val_split: f64,
    /// Stop after this many epochs without a better validation loss (0: never stop early).
    #[arg(long, default_value_t = 5)]
    patience: usize,
    /// Train a denoising autoencoder: corrupt its inputs with gaussian:SIGMA (added, clipped
    /// to the data's range; the Keras blog uses 0.5), mask:P (a fraction P of values set to the
    /// low end), salt-pepper:P, or shift:PIXELS (images moved up to PIXELS each way, edges
    /// repeated; conv sizes only); the clean data stays the target. `eval` then measures it on
    /// the corrupted test split and reports the noisy input's PSNR beside the reconstruction's.
    #[arg(long, value_name = "KIND:STRENGTH")]
    noise: Option<Noise>,
    /// Train a sparse autoencoder: l1:WEIGHT adds WEIGHT · Σ|code| per sample (the Keras
    /// blog's activity regulariser; try l1:1e-5 with --code-activation relu), kl:RHO:WEIGHT
    /// pulls each code unit's mean activation toward RHO (needs --code-activation sigmoid).
    /// `eval` reports the code's mean |activation|, its zero fraction and Hoyer sparsity.
    #[arg(long, value_name = "l1:W|kl:RHO:W")]
    sparsity: Option<Sparsity>,
    /// Train a contractive autoencoder: add WEIGHT · ‖J‖²_F, the encoder's Jacobian's squared
    /// norm (Rifai et al. 2011) — exact for a one-layer dense encoder, else Hutchinson's
    /// estimator (force one with WEIGHT:exact or WEIGHT:hutchinson). Dense and conv models.
    /// `eval` reports the mean ‖J‖_F and the relative code sensitivity to small noise.
    #[arg(long, value_name = "WEIGHT[:METHOD]")]
    contractive: Option<Contractive>,
    /// Train on this class only (by name, e.g. 1 for ECG5000's normal beats, 7 for MNIST
    /// sevens, or by number when no class has that name: 0 for Fashion-MNIST's T-shirt/top):
    /// `eval` then also reports test_auroc, how well reconstruction error tells the other
    /// classes (anomalies) from it on the test split, and `detect` judges its flags.
    #[arg(long, value_name = "K")]
    normal_class: Option<String>,
    /// The model directory to write.
    #[arg(long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue training the model directory DIR up to --epochs (same model and dataset).
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Also checkpoint every N batches within an epoch, so a killed run continues from there
    /// [default: 10000 with --stream (about 13 s at 100,000 rows/s), else at epoch ends only].
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<usize>,
    /// Print one line per epoch instead of a progress bar.
    #[arg(long)]
    quiet: bool,
    /// Write into an --out that is not empty: replace the model it holds, or add one beside
    /// other files (without it such an --out is refused; --resume continues a model).
    #[arg(long, alias = "overwrite", conflicts_with = "resume")]
    force: bool,
}

/// `autoencoders sweep`: the train flags every cell shares, and the grid.
#[derive(Args)]
struct SweepArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// One axis of the grid: a train flag and its values (repeat for more axes).
    #[arg(long = "grid", value_name = "KEY=V1,V2,…", required = true)]
    grid: Vec<Axis>,
    /// The metric the plot shows (a metrics.json name; nested ones joined by _, as
    /// code_hoyer or jacobian_sensitivity).
    #[arg(long, default_value = "test_loss")]
    metric: String,
}

/// Layer widths parsed from `128,64` (empty: none).
#[derive(Clone)]
struct Widths(Vec<usize>);

fn parse_widths(s: &str) -> std::result::Result<Widths, String> {
    let parts = s.split(',').map(str::trim).filter(|p| !p.is_empty());
    let w: std::result::Result<Vec<usize>, _> = parts.map(|p| p.parse::<usize>()).collect();
    w.map(Widths).map_err(|e| format!("expected comma-separated layer widths such as 128,64: {e}"))
}

/// A local model directory for `spec` (a directory, checked first, or a hub id, downloaded
/// into the hub cache), and whether it is the user's own directory.
fn model_dir(spec: &str, revision: Option<&str>) -> Result<(PathBuf, bool)> {
    let source = ModelSource::parse(spec, revision)?;
    let local = matches!(source, ModelSource::Dir(_));
    Ok((source.local_dir(&Hub::from_env())?, local))
}

fn main() -> Result<()> {
    autoencoders::nn::tune_allocator();
    // A file-size limit (`ulimit -f`) would kill the process with SIGXFSZ in the middle of a
    // checkpoint write, without a word; ignored, the write fails with EFBIG instead and the
    // error names the file (and the temporary file is removed).
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN before any thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // The matches are kept to tell flags the user gave from defaults (`--resume`).
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Train(a) => train(a, matches.subcommand_matches("train").expect("the train subcommand")),
        Command::Eval { model, revision, input, iw_samples, sample_quality } => {
            let (dir, local) = model_dir(&model, revision.as_deref())?;
            let m = match &input {
                Some(src) => apps::input_metrics(&dir, src),
                None => apps::test_metrics_with(&dir, &apps::EvalOptions { iw_samples, sample_quality }),
            }
            .with_context(|| format!("evaluating {model}"))?;
            println!("{}", serde_json::to_string_pretty(&m)?);
            if local && input.is_none() {
                // A model folder the user may not write to (read-only media, someone else's)
                // still gets its metrics printed; only the saved copy is skipped.
                match autoencoders::model_dir::write_metrics(&dir, &m) {
                    Ok(()) => eprintln!("wrote {}", dir.join("metrics.json").display()),
                    Err(e) => eprintln!("warning: metrics not saved ({e}); the figures above are complete"),
                }
            }
            Ok(())
        }
        Command::Pull { repo, revision } => {
            let (dir, _) = model_dir(&repo, revision.as_deref())?;
            let about = apps::check_model(&dir).with_context(|| format!("checking {repo}"))?;
            eprintln!("{repo}: {about}");
            println!("{}", dir.display());
            Ok(())
        }
        Command::Export { dir, to, repo_id, license } => {
            let opts = autoencoders::export::ExportOptions { repo_id, license };
            let written = autoencoders::export::export(&dir, &to, &opts)
                .with_context(|| format!("exporting {} to {}", dir.display(), to.display()))?;
            for p in written {
                println!("{}", p.display());
            }
            Ok(())
        }
        Command::Figures { dir: model, out } => {
            let (dir, local) = model_dir(&model, None)?;
            let out = match (out, local) {
                (Some(out), _) => out,
                (None, true) => dir.join("figures"),
                (None, false) => PathBuf::from(format!("{}-figures", model.replace('/', "--"))),
            };
            for p in apps::figures(&dir)?.save_all(&out)? {
                println!("{}", p.display());
            }
            Ok(())
        }
        Command::Encode { dir: model, output, split, input } => {
            let (dir, _) = model_dir(&model, None)?;
            let split = match split {
                SplitArg::Train => Split::Train,
                SplitArg::Test => Split::Test,
            };
            let rows = apps::encode_to_parquet(&dir, split, input.as_ref(), &output)?;
            eprintln!("wrote {} ({rows} rows)", output.display());
            Ok(())
        }
        Command::Compress { dir: model, input, bits, output } => {
            let (dir, _) = model_dir(&model, None)?;
            let report = apps::compress::compress_to_file(&dir, &input, bits, &output)
                .with_context(|| format!("compressing {input} with {model}"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!(
                "wrote {} ({} images, {:.1} bytes each)",
                output.display(),
                report.images,
                report.bytes_per_image
            );
            Ok(())
        }
        Command::Decompress { dir: model, file, output } => {
            let (dir, _) = model_dir(&model, None)?;
            let written = apps::compress::decompress_to_folder(&dir, &file, &output)
                .with_context(|| format!("decompressing {}", file.display()))?;
            eprintln!("wrote {written} images to {}", output.display());
            Ok(())
        }
        Command::Rd { dirs, input, bits, jpeg_quality, output } => {
            let dirs = dirs.iter().map(|m| Ok(model_dir(m, None)?.0)).collect::<Result<Vec<_>>>()?;
            let opts = apps::rd::RdOptions { bits, jpeg_qualities: jpeg_quality, ..apps::rd::RdOptions::new(input) };
            let points = apps::rd::rd(&dirs, &opts)?;
            autoencoders::fs::write_atomic(&output, apps::rd::to_csv(&points).as_bytes())?;
            let figure = output.with_extension("png");
            autoencoders::viz::Figure::save(&apps::rd::figure(&points), &figure)?;
            print!("{}", apps::rd::to_csv(&points));
            let ae = apps::rd::envelope(&points, |p| p.method == "autoencoder");
            for (name, method) in [("JPEG's payload", "jpeg payload"), ("PCA", "pca")] {
                let other = apps::rd::envelope(&points, |p| p.method == method);
                match apps::rd::gain(&ae, &other, 16.0, 100.0) {
                    Some(((lo, hi), (from, to))) => println!(
                        "best autoencoder over {name}: {lo:+.2} to {hi:+.2} dB PSNR between {from:.1} and {to:.1} bytes per image"
                    ),
                    None => println!("best autoencoder over {name}: the curves do not overlap within 16–100 bytes per image"),
                }
            }
            let jpeg = points.iter().filter(|p| p.method == "jpeg payload");
            if let Some(p) = jpeg.min_by(|a, b| a.bytes_per_image.total_cmp(&b.bytes_per_image)) {
                let (bytes, q) = (p.bytes_per_image, p.quality.unwrap_or(0));
                println!("JPEG's payload curve starts at {bytes:.1} bytes per image (quality {q}).");
            }
            eprintln!("wrote {} and {}", output.display(), figure.display());
            Ok(())
        }
        Command::Denoise { dir: model, input, output } => {
            let (dir, _) = model_dir(&model, None)?;
            let n = apps::denoise::denoise_path(&dir, &input, &output)
                .with_context(|| format!("denoising {} with {model}", input.display()))?;
            eprintln!("wrote {n} image(s) to {}", output.display());
            Ok(())
        }
        Command::DenoiseEval { dirs, input, sigma, seed, output } => {
            let dirs = dirs.iter().map(|m| Ok(model_dir(m, None)?.0)).collect::<Result<Vec<_>>>()?;
            let opts = apps::denoise::StudyOptions { sigmas: sigma, seed, ..apps::denoise::StudyOptions::new(input) };
            let points = apps::denoise::study(&dirs, &opts)?;
            let csv = apps::denoise::to_csv(&points);
            autoencoders::fs::write_atomic(&output, csv.as_bytes())?;
            let json = output.with_extension("json");
            autoencoders::fs::write_atomic(&json, serde_json::to_string_pretty(&points)?.as_bytes())?;
            let figure = output.with_extension("png");
            autoencoders::viz::Figure::save(&apps::denoise::figure(&points), &figure)?;
            print!("{csv}");
            for (s, gain) in apps::denoise::gains(&points) {
                println!("σ = {s}: best autoencoder {gain:+.2} dB PSNR over the best filter");
            }
            eprintln!("wrote {}, {} and {}", output.display(), json.display(), figure.display());
            Ok(())
        }
        Command::Detect { dir: model, input, threshold, score, output } => {
            let (dir, _) = model_dir(&model, None)?;
            let what = input.as_ref().map_or("the test split".to_string(), |i| i.to_string());
            let opts = apps::detect::DetectOptions { input, threshold, score };
            let (d, set) =
                apps::detect::detect_with(&dir, &opts).with_context(|| format!("scoring {what} with {model}"))?;
            apps::write_parquet(&mut apps::detect::scores_table(&d, &set)?, &output)?;
            println!("{}", serde_json::to_string_pretty(&d)?);
            let mut wrote = vec![output.display().to_string()];
            if let Some((roc, pr)) = apps::detect::figures(&d) {
                for (fig, suffix) in [(roc, "-roc"), (pr, "-pr")] {
                    let path = suffixed(&output.with_extension("png"), suffix);
                    autoencoders::viz::Figure::save(&fig, &path)?;
                    wrote.push(path.display().to_string());
                }
            }
            eprintln!("flagged {} of {} samples; wrote {}", d.flagged, d.samples, wrote.join(", "));
            Ok(())
        }
        Command::DetectEval { sets, epochs, seed, models, output } => {
            let opts = apps::table_study::TableStudyOptions { sets, models, epochs, seed };
            let points = apps::table_study::study(&opts, |set| {
                let row: Vec<String> =
                    set.iter().map(|p| format!("{} {:.3}/{:.3}", p.method, p.auroc, p.average_precision)).collect();
                eprintln!(
                    "{} ({} features, {} anomalies of {}): {}",
                    set[0].set,
                    set[0].features,
                    set[0].anomalies,
                    set[0].test_rows,
                    row.join(", ")
                );
            })?;
            let csv = apps::table_study::to_csv(&points);
            autoencoders::fs::write_atomic(&output, csv.as_bytes())?;
            let json = output.with_extension("json");
            autoencoders::fs::write_atomic(&json, serde_json::to_string_pretty(&points)?.as_bytes())?;
            print!("{csv}");
            println!("method,mean_auroc,mean_average_precision,mean_auroc_rank");
            for (m, auroc, ap, rank) in apps::table_study::summary(&points) {
                println!("{m},{auroc:.4},{ap:.4},{rank:.2}");
            }
            eprintln!("wrote {} and {}", output.display(), json.display());
            Ok(())
        }
        Command::OneClass { dir, dataset, classes, seeds, epochs, code, vae, noise } => {
            let models = dir.clone();
            let opts = apps::one_class::OneClassOptions { dataset, classes, seeds, epochs, code, vae, noise, models };
            let points = apps::one_class::study(&opts, |pts| {
                let row: Vec<String> = pts.iter().map(|p| format!("{} {:.3}", p.method, p.auroc)).collect();
                eprintln!("class {} ({}): AUROC {}", pts[0].class, pts[0].name, row.join(", "));
            })?;
            let csv = dir.join("one-class.csv");
            autoencoders::fs::write_atomic(&csv, apps::one_class::to_csv(&points).as_bytes())?;
            let json = dir.join("one-class.json");
            autoencoders::fs::write_atomic(&json, serde_json::to_string_pretty(&points)?.as_bytes())?;
            let png = dir.join("one-class.png");
            let title = format!("One-class anomaly detection on {}", opts.dataset);
            save_figure(&apps::one_class::auroc_figure(&points, &title), &png)?;
            print!("{}", apps::one_class::table(&points));
            eprintln!("wrote {}, {} and {}", csv.display(), json.display(), png.display());
            Ok(())
        }
        Command::Faces { dir, query: Some(image), top, metric, .. } => {
            let (model, chosen) = apps::faces::query_model(&dir)?;
            let metric = metric.or(chosen).unwrap_or(apps::faces::Metric::Cosine);
            println!("person,training_face,{}_distance", metric.name());
            for m in apps::faces::query(&model, &image, top, metric)? {
                println!("{},{},{:.4}", m.person, m.index, m.distance);
            }
            Ok(())
        }
        Command::Faces { dir, query: None, codes, seeds, epochs, noise, plain, .. } => {
            let noise = (!plain).then_some(noise);
            let opts =
                apps::faces::FacesOptions { models: dir.clone(), codes, seeds, epochs, noise, ..Default::default() };
            let report = apps::faces::study(&opts, |pts| {
                let row: Vec<String> = pts.iter().map(|p| format!("{} {:.3}", p.metric.name(), p.accuracy)).collect();
                let seed = pts[0].seed.map_or(String::new(), |s| format!(" seed {s}"));
                eprintln!("{} {}{seed}: accuracy {}", pts[0].method, pts[0].code, row.join(", "));
            })?;
            apps::faces::write_report(&report, &dir)?;
            print!("{}", apps::faces::table(&report));
            eprintln!("wrote {}", dir.join(apps::faces::REPORT).display());
            Ok(())
        }
        Command::Probe { dirs, labels, classifier, draws, folds, no_baselines, seed, output } => {
            let dirs = dirs.iter().map(|m| Ok(model_dir(m, None)?.0)).collect::<Result<Vec<_>>>()?;
            let opts = apps::probe::ProbeOptions {
                budgets: labels,
                classifiers: classifier,
                draws,
                folds,
                baselines: !no_baselines,
                seed,
            };
            let points = apps::probe::probe(&dirs, &opts)?;
            autoencoders::fs::write_atomic(&output, serde_json::to_string_pretty(&points)?.as_bytes())?;
            let csv = output.with_extension("csv");
            autoencoders::fs::write_atomic(&csv, apps::probe::to_csv(&points).as_bytes())?;
            let mut figures = Vec::new();
            for &c in &opts.classifiers {
                let path = suffixed(&output.with_extension("png"), &format!("-{c}"));
                let title = format!("A {c} probe on each feature set");
                autoencoders::viz::Figure::save(&apps::probe::figure(&points, c, &title), &path)?;
                figures.push(path.display().to_string());
            }
            println!("{}", apps::probe::table(&points));
            for (c, labels, model, ae, pca) in apps::probe::against_pca(&points, 64) {
                let model = apps::probe::short_name(&model);
                println!(
                    "{c}, {labels} labels: best code ≤ 64 ({model}) {:+.1} points over PCA of its size",
                    100.0 * (ae - pca)
                );
            }
            eprintln!("wrote {}, {} and {}", output.display(), csv.display(), figures.join(", "));
            Ok(())
        }
        Command::Sample { dir: model, n, seed, output, manifold } => {
            let (dir, _) = model_dir(&model, None)?;
            let mut written = Vec::new();
            if n > 0 {
                let samples = apps::generate::sample(&dir, n, seed).with_context(|| format!("sampling {model}"))?;
                save_figure(&samples.grid(), &output)?;
                written.push(output.clone());
            }
            if let Some(side) = manifold {
                let grid = apps::generate::manifold(&dir, side).with_context(|| format!("sampling {model}"))?;
                let path = if n > 0 { suffixed(&output, "-manifold") } else { output.clone() };
                save_figure(&grid.grid(), &path)?;
                written.push(path);
            }
            for p in written {
                println!("{}", p.display());
            }
            Ok(())
        }
        Command::Interpolate { dir: model, from, to, steps, output } => {
            let (dir, _) = model_dir(&model, None)?;
            let path = apps::generate::interpolate(&dir, &[(from, to)], steps.max(2))
                .with_context(|| format!("interpolating with {model}"))?;
            save_figure(&path.grid(), &output)?;
            println!("{}", output.display());
            Ok(())
        }
        Command::Demo { figures, model_dir } => demo(&figures, &model_dir),
        Command::Sweep(a) => sweep(&a),
    }
}

/// Writes a figure, creating its folder.
fn save_figure(figure: &impl autoencoders::viz::Figure, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    figure.save(path).with_context(|| format!("writing {}", path.display()))
}

/// `samples.png` → `samples-manifold.png`.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}{suffix}{ext}"))
}

fn train(a: TrainArgs, given: &ArgMatches) -> Result<()> {
    let (cfg, prepared) = run_config(&a)?;
    let (dir, resume) = match (&a.out, &a.resume) {
        (_, Some(dir)) => (dir.clone(), true),
        (Some(dir), None) => (dir.clone(), false),
        (None, None) => bail!("give --out DIR (or --resume DIR)"),
    };
    if resume {
        refuse_changed_settings(&cfg, &dir, given)?;
    }
    if !resume && !a.force {
        refuse_occupied(&dir)?;
    }
    eprintln!("training {} on {}", cfg.describe(), cfg.data.dataset);
    let progress = if a.quiet { Progress::Lines } else { Progress::Bar };
    let h = match prepared {
        Some(data) => apps::train_prepared(&cfg, data, &dir, progress)?,
        None => apps::train(&cfg, &dir, resume, progress)?,
    };
    if let (Variant::Aae(_), Some(last)) = (cfg.variant, h.records.last()) {
        // An adversarial run keeps its last epoch (its reconstruction rises as the codes are
        // matched to the prior), not its best-reconstructing one.
        let loss = autoencoders::train::score(last);
        eprintln!("kept the last epoch, {} (reconstruction loss {loss:.5}); model in {}", last.epoch, dir.display());
    } else if let Some(best) = h.best() {
        let loss = autoencoders::train::score(best);
        eprintln!("best epoch {} (loss {loss:.5}); model in {}", best.epoch, dir.display());
    }
    Ok(())
}

/// The flags a sweep sets per cell, or itself: removed from the shared ones.
const SWEEP_OWN: [(&str, bool); 6] = [
    ("--grid", true),
    ("--metric", true),
    ("--out", true),
    ("--quiet", false),
    ("--force", false),
    ("--overwrite", false),
];

fn sweep(a: &SweepArgs) -> Result<()> {
    let out = a.train.out.clone().context("give --out DIR, the sweep's folder")?;
    if a.train.resume.is_some() {
        bail!("a sweep resumes its cells itself: run the same command again instead of --resume");
    }
    let shared = sweep_shared_args(std::env::args().skip(2).collect());
    for axis in &a.grid {
        let flag = format!("--{}", axis.key);
        if shared.iter().any(|s| *s == flag || s.starts_with(&format!("{flag}="))) {
            bail!("{flag} is both a flag and a --grid axis; give it once");
        }
    }
    let rows = apps::sweep::sweep(&a.grid, &out, |cell, dir, resume| -> Result<()> {
        let mut argv: Vec<String> = vec!["autoencoders".into(), "train".into()];
        argv.extend(shared.iter().cloned());
        for (k, v) in cell.iter().filter(|(_, v)| !v.is_empty()) {
            argv.extend([format!("--{k}"), v.clone()]);
        }
        let dir = dir.display().to_string();
        argv.extend(if resume { vec!["--resume".into(), dir] } else { vec!["--out".into(), dir, "--force".into()] });
        argv.push("--quiet".into());
        let matches = Cli::command().try_get_matches_from(&argv).map_err(|e| anyhow::anyhow!("{}", e.render()))?;
        match Cli::from_arg_matches(&matches)?.command {
            Command::Train(t) => train(t, matches.subcommand_matches("train").expect("the train subcommand")),
            _ => unreachable!("built as a train command"),
        }
    })?;
    let mut frame = apps::sweep::results_frame(&a.grid, &rows)?;
    for p in apps::sweep::write_results(&mut frame, &out)? {
        println!("{}", p.display());
    }
    let plot = apps::sweep::plot(&a.grid, &rows, &a.metric)?;
    let svg = out.join("results.svg");
    autoencoders::viz::Figure::save(&plot, &svg)?;
    println!("{}", svg.display());
    println!("{frame}");
    Ok(())
}

/// The sweep's command line less the flags it sets itself (`--grid X`, `--out X`,
/// `--metric X`, `--quiet`, `--force`, in either `--flag X` or `--flag=X` form).
fn sweep_shared_args(args: Vec<String>) -> Vec<String> {
    let mut shared = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let own = SWEEP_OWN.iter().find(|(f, _)| arg == *f || arg.starts_with(&format!("{f}=")));
        match own {
            Some((f, true)) if arg == *f => {
                it.next();
            }
            Some(_) => {}
            None => shared.push(arg),
        }
    }
    shared
}

/// Refuses an `--out` that holds a model, or files of the user's: only what a run killed before
/// writing `config.json` leaves (its lock, temporary files) may be there.
fn refuse_occupied(dir: &Path) -> Result<()> {
    if dir.join(autoencoders::model_dir::CONFIG).exists() {
        bail!(
            "{} already holds a model (config.json); --resume {} continues it, --force replaces it, or choose another --out",
            dir.display(),
            dir.display()
        );
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    let mut others: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock" && !n.starts_with(".tmp-"))
        .collect();
    if !others.is_empty() {
        others.sort();
        let more = if others.len() > 3 { format!(" and {} more", others.len() - 3) } else { String::new() };
        bail!(
            "{} is not empty (it holds {}{more}); choose a new --out, or pass --force to write the model among those files",
            dir.display(),
            others.iter().take(3).map(String::as_str).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// Batches between checkpoints within a streamed epoch, unless `--checkpoint-every` says.
const STREAM_CHECKPOINT_BATCHES: usize = 10_000;

/// A setting a resumed run takes from `config.json`: its flag's id, the flag, and its value.
type Setting = (&'static str, &'static str, fn(&RunConfig) -> String);

/// What `--resume` keeps from the saved run, so that it ends bit-identical to an
/// uninterrupted one; only `--epochs` and `--patience` may change. (The model and dataset are
/// checked by `apps::train` itself.)
const KEPT_ON_RESUME: [Setting; 18] = [
    ("batch_size", "--batch-size", |c| c.train.batch_size.to_string()),
    ("lr", "--lr", |c| c.train.adam.lr.to_string()),
    ("schedule", "--schedule", |c| format!("{:?}", c.train.schedule).to_lowercase()),
    ("beta1", "--beta1", |c| c.train.adam.beta1.to_string()),
    ("beta2", "--beta2", |c| c.train.adam.beta2.to_string()),
    ("weight_decay", "--weight-decay", |c| c.train.adam.weight_decay.to_string()),
    ("seed", "--seed", |c| c.train.seed.to_string()),
    ("val_split", "--val-split", |c| c.train.val_split.to_string()),
    ("checkpoint_every", "--checkpoint-every", |c| c.train.checkpoint_every.map_or("none".into(), |k| k.to_string())),
    ("test_split", "--test-split", |c| c.data.test_split.map_or("default".into(), |v| v.to_string())),
    ("normalize", "--normalize", |c| format!("{:?}", c.data.normalize).to_lowercase()),
    ("normal_class", "--normal-class", |c| c.data.normal_class.clone().unwrap_or("none".into())),
    ("sparsity", "--sparsity", |c| c.train.sparsity.map_or("none".into(), |s| s.to_string())),
    ("contractive", "--contractive", |c| c.train.contractive.map_or("none".into(), |s| s.to_string())),
    ("kl_warmup", "--kl-warmup", |c| c.train.kl_warmup.map_or("none".into(), |w| w.to_string())),
    ("adversarial_lr", "--adversarial-lr", |c| c.train.adversarial_lr.map_or("none".into(), |w| w.to_string())),
    ("discriminator_steps", "--discriminator-steps", |c| {
        c.train.discriminator_steps.map_or("none".into(), |k| k.to_string())
    }),
    ("stream_order", "--stream-order", |c| format!("{:?}", c.train.stream_order)),
];

/// `--stream-order`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum StreamOrderArg {
    /// Every sample in a random order, reshuffled each epoch.
    Shuffled,
    /// Classes in phases (--classes-per-phase), neighbours overlapping.
    ClassIncremental,
}

/// Refuses a flag given with `--resume` that would change a kept setting (it used to be
/// ignored without a word).
fn refuse_changed_settings(cfg: &RunConfig, dir: &Path, given: &ArgMatches) -> Result<()> {
    let saved = RunConfig::load(dir).with_context(|| format!("resuming {}", dir.display()))?;
    for (id, flag, value) in KEPT_ON_RESUME {
        if given.value_source(id) == Some(ValueSource::CommandLine) && value(cfg) != value(&saved) {
            bail!(
                "{flag} {} differs from the {} that {} was trained with: a resumed run keeps its settings so \
                 that it ends exactly as an uninterrupted run would (only --epochs and --patience may change). \
                 Drop {flag}, or train a new model with --out NEW_DIR",
                value(cfg),
                value(&saved),
                dir.display()
            );
        }
    }
    Ok(())
}

/// The config.json that `train`'s options describe, and the data of a new in-memory run.
fn run_config(a: &TrainArgs) -> Result<(RunConfig, Option<Prepared>)> {
    let source = SourceOptions {
        columns: a.columns.clone(),
        label_column: a.label_column.clone(),
        no_header: a.no_header,
        image_size: a.image_size,
        channels: a.channels,
        drop_invalid: a.drop_invalid,
        window: a.window.map(|length| Window { length, stride: a.stride }),
        stream: a.stream,
    };
    let data = DataConfig {
        source,
        test: a.test.clone(),
        test_split: a.test_split,
        normalize: a.normalize,
        normal_class: a.normal_class.clone(),
        ..DataConfig::new(a.dataset.clone())
    };
    // A new in-memory run reads its data once: the model's input shape comes from the copy it
    // then trains on. A streamed or resumed run only probes a sample.
    let prepared = if a.stream || a.resume.is_some() { None } else { Some(prepare_data(&data)?) };
    let shape = match &prepared {
        Some(p) => p.train.shape.clone(),
        None if data.source.stream => data.open_stream(Part::Test, 0.0)?.head(1)?.shape,
        None => data.load_raw(Split::Test)?.data.shape,
    };
    let model = model_config(a, &data, &shape)?;
    let variant = match Variant::from_name(&a.variant)? {
        Variant::Vae(_) => Variant::Vae(VaeConfig { beta: a.beta }),
        Variant::Aae(c) => Variant::Aae(AaeConfig {
            prior: a.prior.unwrap_or_default(),
            discriminator: a.discriminator.unwrap_or(c.discriminator),
            whiten: a.whiten_codes,
        }),
        Variant::Adaptive(c) => Variant::Adaptive(AdaptiveConfig {
            pool: a.pool.unwrap_or(c.pool),
            first_add: a.first_add.unwrap_or(c.first_add),
            max_features: a.max_features.unwrap_or(c.max_features),
            fixed_width: a.fixed_width,
        }),
        v => v,
    };
    if !matches!(variant, Variant::Adaptive(_))
        && (a.pool.is_some() || a.first_add.is_some() || a.max_features.is_some() || a.fixed_width)
    {
        bail!(
            "--pool, --first-add, --max-features and --fixed-width set an adaptive autoencoder; add --variant adaptive"
        );
    }
    if !matches!(variant, Variant::Vae(_)) && a.beta != 1.0 {
        bail!("--beta weighs a VAE's KL term; add --variant vae");
    }
    if !matches!(variant, Variant::Aae(_)) && a.prior.is_some() {
        bail!("--prior sets an adversarial autoencoder's prior; add --variant aae");
    }
    if !matches!(variant, Variant::Aae(_)) && a.whiten_codes {
        bail!("--whiten-codes whitens an adversarial autoencoder's codes; add --variant aae");
    }
    if !matches!(variant, Variant::Aae(_)) && a.discriminator.is_some() {
        bail!("--discriminator sets an adversarial autoencoder's discriminator width; add --variant aae");
    }
    let command = command_line(std::env::args().skip(1));
    let cfg = RunConfig { command, ..RunConfig::new(model, data, train_config(a)) }.with_variant(variant);
    Ok((cfg, prepared))
}

/// The command as a user would type it: `autoencoders` and the arguments, quoted where the
/// shell needs it — never the path of the binary that ran (a published model card would leak
/// a local path).
fn command_line(args: impl Iterator<Item = String>) -> String {
    let quote = |a: String| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c)) {
            a
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    std::iter::once("autoencoders".to_string()).chain(args.map(quote)).collect::<Vec<_>>().join(" ")
}

/// The model options, with the defaults that depend on the data (images: sigmoid and BCE).
/// `shape`: one sample's.
fn model_config(a: &TrainArgs, data: &DataConfig, shape: &[usize]) -> Result<ModelConfig> {
    let fits_unit_range = match data.normalize {
        NormalizeKind::Auto => match &data.dataset {
            DataSource::Builtin { id, .. } => id.is_image(),
            _ => shape.len() == 3,
        },
        NormalizeKind::Minmax => true,
        _ => false,
    };
    let image = fits_unit_range && shape.len() == 3;
    let opts = BuildOptions {
        input: shape.iter().product(),
        shape: shape.to_vec(),
        code: a.code,
        hidden: a.hidden.0.clone(),
        activation: a.activation,
        code_activation: a.code_activation.unwrap_or(if a.variant == "adaptive" {
            Activation::Sigmoid
        } else {
            Activation::Identity
        }),
        output_activation: a.output_activation.unwrap_or(if image {
            Activation::Sigmoid
        } else {
            Activation::Identity
        }),
        loss: a.loss.unwrap_or(if image { ReconLoss::Bce } else { ReconLoss::Mse }),
    };
    Ok(ModelConfig::from_options(&a.model, &opts)?)
}

fn train_config(a: &TrainArgs) -> TrainConfig {
    let adam =
        AdamConfig { lr: a.lr, beta1: a.beta1, beta2: a.beta2, weight_decay: a.weight_decay, ..Default::default() };
    TrainConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        adam,
        seed: a.seed,
        val_split: a.val_split,
        patience: (a.patience > 0).then_some(a.patience),
        schedule: a.schedule,
        noise: a.noise.map(InputNoise::new),
        sparsity: a.sparsity,
        contractive: a.contractive,
        kl_warmup: a.kl_warmup,
        adversarial_lr: a.adversarial_lr,
        discriminator_steps: a.discriminator_steps,
        checkpoint_every: a.checkpoint_every.or(a.stream.then_some(STREAM_CHECKPOINT_BATCHES)),
        stream_order: a.stream_order.map(|o| match o {
            StreamOrderArg::Shuffled => StreamOrder::Shuffled,
            StreamOrderArg::ClassIncremental => {
                StreamOrder::ClassIncremental { classes_per_phase: a.classes_per_phase, overlap: PHASE_OVERLAP }
            }
        }),
    }
}

fn demo(figures: &Path, model_dir: &Path) -> Result<()> {
    let start = Instant::now();
    eprintln!("demo: training {} on the embedded 8×8 digits", apps::demo_config().describe());
    let (m, written) = apps::demo::run_demo(figures, model_dir)?;
    println!(
        "test MSE {:.4}, BCE {:.4}, PSNR {:.1} dB on {} test digits",
        m.test_mse,
        m.test_bce.unwrap_or(f64::NAN),
        m.test_psnr,
        m.n_test
    );
    for p in written {
        println!("wrote {}", p.display());
    }
    println!("model directory: {} ({:.1} s)", model_dir.display(), start.elapsed().as_secs_f64());
    Ok(())
}
