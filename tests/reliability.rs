//! A model directory stays one consistent unit: one writer at a time, no silent overwrite,
//! leftovers of a killed run cleaned up, and a run killed between its epoch-end files resumes
//! to exactly what an uninterrupted run writes.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ok, run};

use autoencoders::model_dir::DirLock;

fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autoencoders"));
    c.env_remove("AUTOENCODERS_DATA").env_remove("RUST_BACKTRACE").current_dir(dir);
    c
}

fn train(dir: &Path, out: &str, epochs: &str, extra: &[&str]) -> Command {
    let mut c = bin(dir);
    c.args(["train", "--dataset", "digits", "--hidden", "16", "--code", "4", "--epochs", epochs, "--quiet"]);
    c.args(["--patience", "0", "--out", out]).args(extra);
    c
}

fn resume(dir: &Path, model: &str, epochs: &str) -> Command {
    let mut c = bin(dir);
    c.args(["train", "--dataset", "digits", "--hidden", "16", "--code", "4", "--epochs", epochs, "--quiet"]);
    c.args(["--patience", "0", "--resume", model]);
    c
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

/// Two safetensors files with the same tensors (bit for bit) and metadata — the order of the
/// header's keys is a hash map's, different in every process.
fn same_state(a: &Path, b: &Path) -> bool {
    use safetensors::SafeTensors;
    let (a, b) = (bytes(a), bytes(b));
    let (ta, tb) = (SafeTensors::deserialize(&a).unwrap(), SafeTensors::deserialize(&b).unwrap());
    let meta = |x: &[u8]| SafeTensors::read_metadata(x).unwrap().1.metadata().clone();
    let (mut names, mut other) = (ta.names(), tb.names());
    names.sort();
    other.sort();
    names == other
        && names.iter().all(|n| ta.tensor(n).unwrap().data() == tb.tensor(n).unwrap().data())
        && meta(&a) == meta(&b)
}

#[test]
fn a_second_writer_and_an_accidental_overwrite_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    ok(&mut train(dir.path(), "m", "1", &[]));
    let (success, text) = run(&mut train(dir.path(), "m", "1", &[]));
    assert!(
        !success && text.contains("m already holds a model (config.json); --resume m continues it, --force"),
        "{text}"
    );
    let _held = DirLock::acquire(&dir.path().join("m")).unwrap();
    let (success, text) = run(&mut train(dir.path(), "m", "1", &["--force"]));
    assert!(!success && text.contains("m is being written by another process"), "{text}");
    drop(_held);
    ok(&mut train(dir.path(), "m", "1", &["--force"]));

    // A folder of the user's own files is not taken over without --force (or its alias
    // --overwrite); a folder a run left before its config.json (only its lock) is.
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/notes.txt"), "mine").unwrap();
    let (success, text) = run(&mut train(dir.path(), "docs", "1", &[]));
    assert!(!success && text.contains("docs is not empty (it holds notes.txt)") && text.contains("--force"), "{text}");
    assert!(!dir.path().join("docs/config.json").exists());
    ok(&mut train(dir.path(), "docs", "1", &["--overwrite"]));
    assert_eq!(std::fs::read_to_string(dir.path().join("docs/notes.txt")).unwrap(), "mine");
    std::fs::create_dir(dir.path().join("early")).unwrap();
    std::fs::write(dir.path().join("early/.lock"), "").unwrap();
    ok(&mut train(dir.path(), "early", "1", &[]));
}

#[test]
fn a_run_killed_between_its_epoch_files_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&mut train(d, "whole", "3", &[]));
    // Killed after epoch 2's history.csv but before its resume state: the history has one
    // epoch more than the resume state, and a temporary file is left over.
    ok(&mut train(d, "killed", "1", &[]));
    let whole_history = std::fs::read_to_string(d.join("whole/history.csv")).unwrap();
    let two: Vec<&str> = whole_history.lines().take(3).collect();
    std::fs::write(d.join("killed/history.csv"), two.join("\n") + "\n").unwrap();
    std::fs::write(d.join("killed/.tmp-Ab12Cd"), b"half a checkpoint").unwrap();
    let text = ok(&mut resume(d, "killed", "3"));
    assert!(text.contains("removed 1 temporary file(s)"), "{text}");
    assert!(!d.join("killed/.tmp-Ab12Cd").exists());
    assert_eq!(bytes(&d.join("whole/model.safetensors")), bytes(&d.join("killed/model.safetensors")));
    assert!(same_state(&d.join("whole/resume.safetensors"), &d.join("killed/resume.safetensors")));
    let strip = |s: String| s.lines().map(|l| l.rsplit_once(',').map_or(l, |x| x.0).to_string()).collect::<Vec<_>>();
    let killed_history = std::fs::read_to_string(d.join("killed/history.csv")).unwrap();
    assert_eq!(strip(killed_history), strip(whole_history.clone()), "same losses (the seconds column differs)");

    // Killed during epoch 1: config.json and no resume state. --resume starts over.
    ok(&mut train(d, "early", "3", &[]));
    for f in ["resume.safetensors", "history.csv", "model.safetensors"] {
        std::fs::remove_file(d.join("early").join(f)).unwrap();
    }
    let text = ok(&mut resume(d, "early", "3"));
    assert!(text.contains("no resume.safetensors yet"), "{text}");
    assert_eq!(bytes(&d.join("whole/model.safetensors")), bytes(&d.join("early/model.safetensors")));

    // A history shorter than the resume state cannot be made whole: an error naming it.
    std::fs::write(d.join("killed/history.csv"), whole_history.lines().next().unwrap().to_string() + "\n").unwrap();
    let (success, text) = run(&mut resume(d, "killed", "4"));
    assert!(!success && text.contains("history.csv: holds 0 epochs but resume.safetensors has 3"), "{text}");
}

#[test]
fn nan_weights_and_a_degenerate_normaliser_are_errors_not_null_metrics() {
    use safetensors::tensor::{serialize_to_file, Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&mut train(d, "m", "1", &[]));
    // issue 17 (10): every weight NaN.
    let path = d.join("m/model.safetensors");
    let raw = bytes(&path);
    let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
    let nan: Vec<(String, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.shape().to_vec(), f32::NAN.to_le_bytes().repeat(t.data().len() / 4)))
        .collect();
    let views: Vec<(String, TensorView)> =
        nan.iter().map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap())).collect();
    let good = raw.clone();
    serialize_to_file(views, &None, &path).unwrap();
    let (success, text) = run(bin(d).args(["eval", "m"]));
    assert!(!success && text.contains("model.safetensors: the reconstructions are not finite"), "{text}");
    assert!(!d.join("m/metrics.json").exists(), "no metrics of null are written");
    std::fs::write(&path, good).unwrap();
    // A normaliser edited to min == max.
    let cfg = d.join("m/config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let edited = text.replace("\"max\": 16.0", "\"max\": 0.0");
    assert_ne!(text, edited, "{text}");
    std::fs::write(&cfg, edited).unwrap();
    let (success, text) = run(bin(d).args(["eval", "m"]));
    assert!(!success && text.contains("min 0 and max 0 are not a range"), "{text}");
}

/// Issue 17 item 12: `--resume` with another `--lr`, `--batch-size` or `--seed` used to train on
/// with the saved settings without a word. The saved value given again is accepted.
#[test]
fn resume_refuses_flags_that_would_change_the_saved_settings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&mut train(d, "m", "1", &["--lr", "0.002", "--batch-size", "64"]));
    for (flag, value, saved) in [("--lr", "0.01", "0.002"), ("--batch-size", "32", "64"), ("--seed", "7", "0")] {
        let (success, text) = run(resume(d, "m", "2").args([flag, value]));
        let said = format!("{flag} {value} differs from the {saved} that m was trained with");
        assert!(!success && text.contains(&said) && text.contains("Drop"), "{flag}: {text}");
    }
    let history = || std::fs::read_to_string(d.join("m/history.csv")).unwrap().lines().count();
    assert_eq!(history(), 2, "a refused resume trained");
    ok(resume(d, "m", "2").args(["--lr", "0.002", "--batch-size", "64"]));
    assert_eq!(history(), 3);
}

/// Issue 17 item 14: under `ulimit -f` the process was killed by SIGXFSZ in the middle of a
/// checkpoint write, without a message, leaving a temporary file; a resumed run had already
/// rewritten config.json with epochs it never reached.
#[cfg(unix)]
#[test]
fn a_file_size_limit_is_an_error_naming_the_file_and_leaves_the_directory_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 256 hidden units: ~130 KB of weights, over a 16-block limit (8 or 16 KB: a block is 512
    // or 1024 bytes depending on the shell); config.json and history.csv fit.
    let wide = |epochs: &str, dir_flag: &str, model: &str| {
        let mut c = bin(d);
        c.args(["train", "--dataset", "digits", "--hidden", "256", "--code", "4", "--epochs", epochs, "--quiet"]);
        c.args(["--patience", "0", dir_flag, model]);
        c
    };
    let limited = |c: Command| {
        let args: Vec<String> = std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect();
        let mut sh = Command::new("sh");
        sh.current_dir(d).env_remove("RUST_BACKTRACE");
        sh.arg("-c").arg(format!("ulimit -f 16; exec {}", args.join(" ")));
        sh
    };
    let leftovers = |m: &str| {
        let names = std::fs::read_dir(d.join(m)).unwrap().map(|e| e.unwrap().file_name());
        names.filter(|n| n.to_string_lossy().starts_with(".tmp-")).count()
    };
    let (success, text) = run(&mut limited(wide("2", "--out", "m")));
    assert!(!success && text.contains("model.safetensors") && text.contains("File too large"), "{text}");
    assert_eq!(leftovers("m"), 0);

    ok(&mut wide("1", "--out", "r"));
    let config = bytes(&d.join("r/config.json"));
    let (success, text) = run(&mut limited(wide("3", "--resume", "r")));
    assert!(!success && text.contains("File too large"), "{text}");
    assert_eq!(bytes(&d.join("r/config.json")), config, "config.json was rewritten by a run that failed");
    assert_eq!(leftovers("r"), 0);
}

/// Issue 17 item 17: `eval` of a model folder it cannot write to failed instead of printing
/// the metrics. (As root a read-only mode does not stop writes, so the unwritable
/// `metrics.json` is also made a non-empty folder, which no rename can replace.)
#[test]
fn eval_of_a_folder_it_cannot_write_prints_the_metrics_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&mut train(d, "m", "1", &[]));
    std::fs::create_dir_all(d.join("m/metrics.json/x")).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(d.join("m"), std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let out = bin(d).args(["eval", "m"]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    #[cfg(unix)]
    std::fs::set_permissions(d.join("m"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert!(out.status.success(), "{stderr}");
    let m: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(m["test_mse"].as_f64().unwrap().is_finite(), "{stdout}");
    assert!(stderr.contains("warning: metrics not saved"), "{stderr}");
}

/// Issue 17: SIGKILL at 24 seeded moments of a run (the epochs, the checkpoint writes between
/// them, start-up): every time the directory either evaluates or is refused with a message,
/// and continuing it ends bit-identical to the uninterrupted run.
#[test]
fn killed_at_any_moment_a_run_resumes_to_the_uninterrupted_result() {
    const KILLS: u64 = 24;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 2,048 hidden units: ~4 MB of weights and Adam moments per epoch end, so a good share of
    // the run is spent writing (and syncing) checkpoints: on a 2-core Xeon a run took ~0.45 s
    // and 2–4 of the 24 kills landed in a write (a temporary file left), 4–5 before
    // config.json existed.
    let wide = |dir_flag: &str, m: &str| {
        let mut c = bin(d);
        c.args(["train", "--dataset", "digits", "--hidden", "2048", "--code", "4", "--batch-size", "256"]);
        c.args(["--epochs", "6", "--patience", "0", "--quiet", dir_flag, m]);
        c
    };
    let start = std::time::Instant::now();
    ok(&mut wide("--out", "whole"));
    let span = start.elapsed();
    let history = |m: &str| -> Vec<String> {
        // Every column but the epoch's seconds.
        let text = std::fs::read_to_string(d.join(m).join("history.csv")).unwrap();
        text.lines().map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string()).collect()
    };
    let (mut mid_write, mut before_config) = (0, 0);
    for k in 0..KILLS {
        let m = format!("k{k}");
        // Kill moments spread over the whole run (splitmix64 of k; the run's own timing varies).
        let mut z = (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let at = span.mul_f64((z >> 11) as f64 / (1u64 << 53) as f64);
        let mut child =
            wide("--out", &m).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(at);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let path = d.join(&m);
        let tmp = path.exists()
            && std::fs::read_dir(&path).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".tmp-"));
        mid_write += tmp as usize;
        // The directory as the kill left it: it evaluates, or is refused with a message.
        if path.join("config.json").exists() {
            run(bin(d).args(["eval", &m]));
            ok(&mut wide("--resume", &m));
        } else {
            before_config += 1;
            let (success, text) = run(bin(d).args(["eval", &m]));
            assert!(!success && text.contains(&m), "{text}");
            ok(&mut wide("--out", &m));
        }
        assert!(
            same_state(&d.join("whole/resume.safetensors"), &path.join("resume.safetensors")),
            "kill {k} at {at:?}"
        );
        assert_eq!(bytes(&d.join("whole/model.safetensors")), bytes(&path.join("model.safetensors")), "kill {k}");
        assert_eq!(history("whole"), history(&m), "kill {k} at {at:?}");
    }
    eprintln!(
        "{KILLS} kills over a {span:?} run: {mid_write} left a temporary file, {before_config} came before config.json"
    );
}
