//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod hub_server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The real datasets (`$AUTOENCODERS_DATA`). Off CI, a missing folder skips the calling test
/// with a loud message; on CI (`CI` set) it fails, so data tests can never be skipped there.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AUTOENCODERS_DATA").map(PathBuf::from);
    match dir {
        Some(d) if d.join("mnist").is_dir() => Some(d),
        other => {
            let why = match other {
                Some(d) => format!("AUTOENCODERS_DATA={} has no mnist/ folder", d.display()),
                None => "AUTOENCODERS_DATA is not set".to_string(),
            };
            if std::env::var_os("CI").is_some() {
                panic!("real-data test cannot run on CI: {why}");
            }
            // Written to the stderr handle directly: libtest captures `eprintln!` of passing
            // tests, and a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {}: {why}; point it at the shared datasets folder to run it ***",
                std::thread::current().name().unwrap_or("test")
            );
            None
        }
    }
}

/// Skips (returns from) the calling test when the real data is not available.
#[macro_export]
macro_rules! require_data {
    () => {
        match common::data_dir() {
            Some(d) => d,
            None => return,
        }
    };
}

/// Runs a command of the CLI: whether it succeeded, and its stdout and stderr together. A
/// panic is never an acceptable answer, so it fails the test.
pub fn run(c: &mut std::process::Command) -> (bool, String) {
    let out = c.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "{c:?} panicked:\n{text}");
    (out.status.success(), text)
}

/// [`run`], which must succeed; its output.
pub fn ok(c: &mut std::process::Command) -> String {
    let (success, text) = run(c);
    assert!(success, "{c:?} failed:\n{text}");
    text
}

/// A batch source that fails, as a disk read might, at batch `at` (from 0) of epoch `epoch`;
/// the batches before are `source`'s.
pub struct FailingAt<'a> {
    pub source: &'a dyn autoencoders::data::BatchSource,
    pub epoch: usize,
    pub at: usize,
}

impl autoencoders::data::BatchSource for FailingAt<'_> {
    fn len(&self) -> usize {
        self.source.len()
    }
    fn sample_len(&self) -> usize {
        self.source.sample_len()
    }
    fn epoch_batches(
        &self,
        epoch: usize,
        size: usize,
        seed: u64,
    ) -> Box<dyn Iterator<Item = autoencoders::Result<Vec<f32>>> + '_> {
        let (fail_epoch, at) = (self.epoch, self.at);
        Box::new(self.source.epoch_batches(epoch, size, seed).enumerate().map(move |(b, batch)| {
            if epoch == fail_epoch && b == at {
                Err(autoencoders::Error::config("disk", "read failed"))
            } else {
                batch
            }
        }))
    }
}

/// The CLI, run in `dir` with no data folder and no backtraces, and a hub that cannot be
/// reached: an endpoint nothing listens on, and a cache inside `dir`.
pub fn cli_in(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_autoencoders"));
    c.env_remove("AUTOENCODERS_DATA").env_remove("RUST_BACKTRACE").current_dir(dir);
    c.env("HF_ENDPOINT", "http://127.0.0.1:9").env("HF_HOME", dir.join("hf-home"));
    c
}

/// Fails if `dir` holds a temporary file or folder (`.tmp…`) an atomic write left behind.
pub fn assert_no_temporaries(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// [`run`], which must fail with `want` in its output.
pub fn fails(c: &mut Command, want: &str) {
    let (success, text) = run(c);
    assert!(!success && text.contains(want), "{c:?}: wanted an error with {want:?}, got:\n{text}");
}
