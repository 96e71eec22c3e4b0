//! The AFL++ harness: `fuzz TARGET` parses stdin with one target of `targets.rs` (AFL++
//! feeds it), `fuzz seeds DIR` writes every target's seeds to `DIR/<target>/`, `fuzz list`
//! names the targets. Run it through `scripts/fuzz.sh`.

#[path = "../targets.rs"]
#[allow(dead_code)] // the memory budgets are for `cargo test`
mod targets;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["list"] => targets::TARGETS.iter().for_each(|t| println!("{}\t{}", t.name, t.about)),
        ["seeds", dir] => {
            let data = std::env::var_os("AUTOENCODERS_DATA").map(std::path::PathBuf::from);
            for t in targets::TARGETS {
                let out = std::path::Path::new(dir).join(t.name);
                std::fs::create_dir_all(&out).expect("seed folder");
                for (i, seed) in targets::seeds(t.name, data.as_deref()).iter().enumerate() {
                    std::fs::write(out.join(format!("seed-{i}")), seed).expect("seed file");
                }
            }
        }
        [name] => {
            let target = targets::target(name).unwrap_or_else(|| panic!("no target `{name}`; see `fuzz list`"));
            let scratch = tempfile_dir();
            // nohook: a panic that our code catches (a third-party reader's, turned into an error
            // by `data::guarded`) is not a crash; one that escapes still aborts.
            afl::fuzz_nohook!(|data: &[u8]| (target.run)(&scratch, data));
        }
        _ => eprintln!("usage: fuzz list | fuzz seeds DIR | fuzz TARGET (input on stdin, under afl-fuzz)"),
    }
}

/// A scratch folder of this process's own (AFL++ runs one process per core).
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("autoencoders-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}
