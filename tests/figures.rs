//! Figures for every kind of sample: 1-D series (ECG5000), non-square images (ORL faces).

mod common;

use autoencoders::apps;
use autoencoders::data::DataConfig;
use autoencoders::model_dir::RunConfig;
use autoencoders::models::dense::DenseConfig;
use autoencoders::prelude::*;
use autoencoders::viz::Figure;

fn quick(dataset: DatasetId, model: DenseConfig, dir: &std::path::Path) {
    let cfg = RunConfig {
        model: ModelConfig::Dense(model),
        data: DataConfig::new(dataset),
        train: TrainConfig { epochs: 2, batch_size: 64, ..Default::default() },
        command: String::new(),
        threshold: None,
        format_version: autoencoders::model_dir::FORMAT_VERSION,
        variant: Default::default(),
    };
    apps::train(&cfg, dir, false, Progress::Quiet).unwrap();
}

#[test]
fn series_and_face_figures_render_as_png_and_svg() {
    let _root = require_data!();
    let dir = tempfile::tempdir().unwrap();
    let ecg = dir.path().join("ecg");
    let mse =
        DenseConfig { output_activation: Activation::Identity, loss: ReconLoss::Mse, ..DenseConfig::shallow(140, 8) };
    quick(DatasetId::Ecg5000, mse.with_hidden(&[32]), &ecg);
    let faces = dir.path().join("faces");
    quick(DatasetId::OrlFaces, DenseConfig::shallow(112 * 92, 16), &faces);
    for model in [&ecg, &faces] {
        let figs = apps::figures(model).unwrap();
        let written = figs.save_all(&model.join("figures")).unwrap();
        assert_eq!(written.len(), 6);
        let png = figs.reconstructions.to_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{}", model.display());
        assert!(figs.reconstructions.to_svg().unwrap().contains("<svg"));
    }
    // Faces keep their 92×112 aspect ratio in the grid.
    let grid = apps::figures(&faces).unwrap().reconstructions;
    let (w, h) = grid.size();
    assert!(h > 2 * 80 && w > 10 * 72, "{w}×{h}");
}
