//! `autoencoders sweep`: every cell trained once, a rerun keeps finished cells and resumes an
//! interrupted one, and the results table has a row per cell.

mod common;

use std::process::Command;

fn sweep(out: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autoencoders"));
    c.args(["sweep", "--dataset", "digits", "--epochs", "2", "--grid", "code=2,8", "--grid", "noise=,mask:0.2"]);
    c.args(extra).arg("--out").arg(out);
    common::run(&mut c)
}

#[test]
fn a_sweep_trains_each_cell_once_and_a_rerun_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    let (ok, text) = sweep(&out, &["--metric", "test_psnr"]);
    assert!(ok, "{text}");
    assert_eq!(text.matches("(training)").count(), 4, "{text}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("code,noise,epochs,seconds,") && lines[0].contains("test_psnr_input"), "{}", lines[0]);
    assert!(lines[1].starts_with("2,\"\",2,") && lines[4].starts_with("8,mask:0.2,2,"), "{csv}");
    assert!(out.join("results.parquet").exists() && out.join("results.svg").exists());

    // Every cell finished: a rerun trains nothing and writes the same table.
    let (ok, text) = sweep(&out, &["--metric", "test_psnr"]);
    assert!(ok && text.matches("(done, kept)").count() == 4, "{text}");
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).unwrap(), csv);

    // A cell interrupted after its config was written is resumed, to the same model.
    let cell = out.join("code=8_noise=mask:0.2");
    let weights = std::fs::read(cell.join("model.safetensors")).unwrap();
    std::fs::remove_file(cell.join("metrics.json")).unwrap();
    let (ok, text) = sweep(&out, &[]);
    assert!(ok && text.matches("(resuming)").count() == 1, "{text}");
    assert_eq!(std::fs::read(cell.join("model.safetensors")).unwrap(), weights);

    // A flag that is also an axis is ambiguous.
    let (ok, text) = sweep(&dir.path().join("other"), &["--code", "4"]);
    assert!(!ok && text.contains("--code is both a flag and a --grid axis"), "{text}");
}
