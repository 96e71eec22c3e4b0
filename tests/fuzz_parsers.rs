//! A bounded, seeded mutation run of every parser of user files (`fuzz/targets.rs`): no panic,
//! no hang, no allocation beyond what the input's size justifies. The coverage-guided
//! campaign with AFL++ (`scripts/fuzz.sh`) runs the same targets for minutes; this run keeps
//! what it found fixed, in the time `cargo test` can spend.
//!
//! `FUZZ_ITERATIONS=N` runs N inputs per target instead of the default; `FUZZ_REPLAY=fuzz/out`
//! also runs every input AFL++ saved as a crash or hang (see [`replayed`]).

mod common;

#[path = "../fuzz/targets.rs"]
#[allow(dead_code)]
mod targets;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts the bytes held, and the most held since the last reset. Signed: memory that some
/// dependency frees through the global allocator but got elsewhere (seen at start-up) only
/// shifts the count, and each parse is measured from its own start.
struct Counting;

static HELD: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

fn grew(by: usize) {
    let by = by as i64;
    PEAK.fetch_max(HELD.fetch_add(by, Relaxed).wrapping_add(by), Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        HELD.fetch_sub(l.size() as i64, Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new > l.size() {
                grew(new - l.size());
            } else {
                HELD.fetch_sub((l.size() - new) as i64, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// One parse at a time: the allocation peak is process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A parse still running after this long is a hang (the slowest seen: a few ms).
const HANG: Duration = Duration::from_secs(20);

/// splitmix64: a tiny seeded generator, so every run mutates the same way.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four of AFL's classic mutations: bit flips, interesting bytes and words (both byte
/// orders), text tokens, deletions, duplications, insertions, truncation and splices.
fn mutate(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    const WORDS: [u32; 8] = [0, 1, 0x7f, 0xff, 0x8000, 0xffff, 0x7fff_ffff, 0xffff_ffff];
    const TOKENS: &[u8] = b",;\n\t\"{}[]:-.eE0123456789NnaIi ";
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        let at = rng.below(len);
        match rng.below(10) {
            0 | 1 if len > 0 => b[at] ^= 1 << rng.below(8),
            2 if len > 0 => b[at] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)],
            3 if len >= 4 => {
                let w = WORDS[rng.below(WORDS.len())];
                let at = rng.below(len - 3);
                let bytes = if rng.below(2) == 0 { w.to_le_bytes() } else { w.to_be_bytes() };
                b[at..at + 4].copy_from_slice(&bytes);
            }
            4 if len > 0 => b[at] = TOKENS[rng.below(TOKENS.len())],
            5 if len > 1 => {
                let n = 1 + rng.below((len - at).min(64));
                b.drain(at..at + n);
            }
            6 if len > 1 => {
                let n = 1 + rng.below((len - at).min(64));
                let chunk = b[at..at + n].to_vec();
                let to = rng.below(len);
                b.splice(to..to, chunk);
            }
            7 => {
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(at..at, bytes);
            }
            8 if len > 0 => b.truncate(at),
            9 if !other.is_empty() => {
                let from = rng.below(other.len());
                b.truncate(at);
                b.extend_from_slice(&other[from..]);
            }
            _ => {}
        }
    }
    b
}

/// When the parse in progress started (ms since the watchdog's start; 0: none), and its target.
static RUNNING_SINCE: AtomicU64 = AtomicU64::new(0);
static RUNNING: Mutex<&str> = Mutex::new("");

/// One thread for the whole run: aborts the process when a parse runs past [`HANG`].
fn watchdog() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        let start = Instant::now();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let since = RUNNING_SINCE.load(Relaxed);
            if since > 0 && start.elapsed().as_millis() as u64 > since + HANG.as_millis() as u64 {
                let name = *RUNNING.lock().unwrap_or_else(|e| e.into_inner());
                eprintln!("fuzz target `{name}` hung for more than {HANG:?}");
                std::process::abort();
            }
        });
        start
    })
}

/// Runs `target` on `input` under the hang watchdog; the panic message (if any) and the
/// bytes held at the peak.
fn parse(target: &targets::Target, scratch: &std::path::Path, input: &[u8]) -> (Option<String>, usize) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let start = watchdog();
    *RUNNING.lock().unwrap_or_else(|e| e.into_inner()) = target.name;
    RUNNING_SINCE.store(start.elapsed().as_millis() as u64 + 1, Relaxed);
    let base = HELD.load(Relaxed);
    PEAK.store(base, Relaxed);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (target.run)(scratch, input)));
    let peak = PEAK.load(Relaxed).wrapping_sub(base).max(0) as usize;
    RUNNING_SINCE.store(0, Relaxed);
    let panic = outcome.err().map(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    });
    (panic, peak)
}

/// Mutates the target's seeds `iterations` times; every failing input is saved under
/// `target/fuzz-failures/` and named in the panic message.
fn fuzz(name: &str, iterations: usize) {
    let target = targets::target(name).expect("a registered target");
    let data = common::data_dir();
    if data.is_none() {
        eprintln!("fuzz `{name}`: AUTOENCODERS_DATA not set — fuzzing from the synthetic seeds only");
    }
    let mut seeds = targets::seeds(name, data.as_deref());
    assert!(!seeds.is_empty(), "no seeds for `{name}`");
    seeds.extend(replayed(name));
    let scratch = tempfile::tempdir().unwrap();
    let iterations = std::env::var("FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(iterations);
    let mut rng = Rng(0xF022 ^ name.bytes().fold(0u64, |h, c| h.wrapping_mul(31).wrapping_add(c as u64)));
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    for i in 0..iterations + seeds.len() {
        let input = match seeds.get(i) {
            Some(seed) => seed.clone(), // every seed once as it is
            None => mutate(&seeds[rng.below(seeds.len())], &seeds[rng.below(seeds.len())], &mut rng),
        };
        let (panic, peak) = parse(target, scratch.path(), &input);
        let budget = (target.budget)(input.len() as u64);
        worst = worst.max(peak as f64 / budget as f64);
        let why = match panic {
            Some(msg) => format!("panicked: {msg}"),
            None if peak as u64 > budget => {
                format!("held {peak} bytes for a {}-byte input (budget {budget})", input.len())
            }
            None => continue,
        };
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("input-{i}"));
        std::fs::write(&file, &input).unwrap();
        failures.push(format!("{}: {why}", file.display()));
    }
    eprintln!(
        "fuzz `{name}`: {} inputs, peak memory at most {:.1} % of the budget",
        iterations + seeds.len(),
        100.0 * worst
    );
    assert!(failures.is_empty(), "fuzz target `{name}` ({}):\n{}", target.about, failures.join("\n"));
}

/// With `FUZZ_REPLAY=fuzz/out` (an AFL++ output folder of `scripts/fuzz.sh`), the crashes and
/// hangs AFL++ saved for the target are run once each, as seeds: the triage of a campaign.
fn replayed(name: &str) -> Vec<Vec<u8>> {
    let Some(root) = std::env::var_os("FUZZ_REPLAY") else { return Vec::new() };
    let mut out = Vec::new();
    for kind in ["crashes", "hangs"] {
        let dir = std::path::Path::new(&root).join(name).join("default").join(kind);
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("id:") {
                out.push(std::fs::read(entry.path()).unwrap());
            }
        }
    }
    eprintln!("fuzz `{name}`: replaying {} saved input(s) from {}", out.len(), root.to_string_lossy());
    out
}

#[test]
fn fuzz_idx() {
    fuzz("idx", 3000);
}

#[test]
fn fuzz_image() {
    fuzz("image", 1500);
}

#[test]
fn fuzz_csv() {
    fuzz("csv", 1500);
}

#[test]
fn fuzz_ucr() {
    fuzz("ucr", 3000);
}

#[test]
fn fuzz_parquet() {
    fuzz("parquet", 1500);
}

#[test]
fn fuzz_npz() {
    fuzz("npz", 600);
}

#[test]
fn fuzz_npy() {
    fuzz("npy", 3000);
}

#[test]
fn fuzz_config() {
    fuzz("config", 1500);
}

#[test]
fn fuzz_checkpoint() {
    fuzz("checkpoint", 1500);
}

#[test]
fn every_target_has_a_test_and_seeds() {
    let source = include_str!("fuzz_parsers.rs");
    for t in targets::TARGETS {
        assert!(source.contains(&format!("fuzz(\"{}\",", t.name)), "no test runs the target `{}`", t.name);
        assert!(!targets::seeds(t.name, None).is_empty(), "`{}` has no synthetic seed", t.name);
    }
}

/// Inputs the fuzzers found that used to panic, kept in `tests/fixtures/fuzz/`: each is now an
/// error that names the file and says what is wrong.
#[test]
fn what_fuzzing_found_stays_fixed() {
    use autoencoders::data::tabular::{parse_table, TableFormat};
    use autoencoders::data::{DataSource, SourceOptions, Split};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let cases = [
        // polars' dictionary-page decoder asserted ("offset + length <= self.length"); now our
        // check of the page headers refuses it first.
        ("parquet-dictionary-page.parquet", "declares 7 values in a row group of 3 rows"),
        // polars allocated 2^61 bytes (an abort) for a bogus length in a page header or in the
        // footer; found by AFL++ (`scripts/fuzz.sh`), refused by `data::parquet_check`.
        ("parquet-alloc-page-1.parquet", "page at byte 4 declares a negative size or count"),
        ("parquet-alloc-page-2.parquet", "page at byte 4 declares a negative size or count"),
        ("parquet-alloc-page-3.parquet", "page at byte 313 declares a negative size or count"),
        ("parquet-alloc-footer.parquet", "footer: a varint overflows 64 bits"),
        // A column decoded shorter than the frame's height: our row loop indexed past it.
        ("parquet-short-column.parquet", "column `label` holds 0 values for 3 rows; the file is damaged"),
    ];
    // polars' CSV reader sliced a one-byte quoted field as if it had both quotes
    // (polars-io 0.55.2, csv/read/builder.rs:141); found by AFL++ in the UCR target.
    let ucr = dir.join("ucr-quoted-field.tsv");
    let bytes = std::fs::read(&ucr).unwrap();
    let e = std::panic::catch_unwind(|| parse_table(&bytes, TableFormat::UCR_TSV, "x", &ucr))
        .unwrap_or_else(|_| panic!("ucr-quoted-field.tsv: panicked"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("ucr-quoted-field.tsv") && e.contains("the reader failed on this file"), "{e}");
    // npyz's header parser backtracked exponentially on nested brackets: 2 s for this file's
    // eleven `{`, hours for a few more (an AFL++ hang in the NPY target).
    let started = std::time::Instant::now();
    let path = dir.join("npy-nested-header.npy");
    let e = DataSource::Path(path).load(Split::Train, &SourceOptions::default()).unwrap_err().to_string();
    assert!(e.contains("npy-nested-header.npy") && e.contains("nests brackets 12 deep"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_millis(500), "{:?}", started.elapsed());
    for (file, says) in cases {
        let path = dir.join(file);
        let e =
            std::panic::catch_unwind(|| DataSource::Path(path.clone()).load(Split::Train, &SourceOptions::default()))
                .unwrap_or_else(|_| panic!("{file}: panicked"))
                .err()
                .unwrap_or_else(|| panic!("{file}: loaded"))
                .to_string();
        assert!(e.contains(file) && e.contains(says), "{file}: {e}");
    }
}
