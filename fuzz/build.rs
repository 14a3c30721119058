//! Writes `$OUT_DIR/programs.rs`: every program the engine targets run,
//! embedded with `include_str!`, each with an event stream written for it
//! (if there is one; `include_bytes!`, as a stream may hold lines that are
//! not UTF-8). The order is fixed, so that the first byte of a seed
//! keeps naming the same program (`fuzz/seeds.sh` lists them in the same
//! order):
//!
//! 1. `examples/*.jr`, by name, with `fuzz/streams/NAME.events.jsonl` or
//!    the spec's `NAME.events.jsonl`;
//! 2. `../shared/spec/examples/*.jr` (when that directory exists) whose text
//!    is not already in `examples/`;
//! 3. `fuzz/programs/*.jr`, programs written for the fuzzer, with
//!    `fuzz/programs/NAME.events.jsonl`;
//! 4. `tests/corpus/run/*/program.jr`, by directory, with its `events.jsonl`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn sorted(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| keep(p))
        .collect();
    paths.sort();
    paths
}

fn is_jr(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "jr")
}

fn main() {
    let fuzz = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let root = fuzz.parent().expect("the repository").to_path_buf();
    let spec = root.join("../shared/spec/examples");
    let spec = spec.canonicalize().unwrap_or(spec);
    let mut programs: Vec<(String, PathBuf, Option<PathBuf>)> = Vec::new();
    let mut seen = HashSet::new();
    let stream_for = |stem: &str| {
        [
            fuzz.join("streams").join(format!("{stem}.events.jsonl")),
            spec.join(format!("{stem}.events.jsonl")),
        ]
        .into_iter()
        .find(|p| p.is_file())
    };
    for (prefix, dir) in [
        ("examples", root.join("examples")),
        ("spec", spec.clone()),
        ("fuzz", fuzz.join("programs")),
    ] {
        for p in sorted(&dir, is_jr) {
            let text = std::fs::read(&p).expect("read a program");
            if !seen.insert(text) {
                continue;
            }
            let stem = p.file_stem().unwrap().to_string_lossy().to_string();
            let own = dir.join(format!("{stem}.events.jsonl"));
            let stream = if own.is_file() {
                Some(own)
            } else {
                stream_for(&stem)
            };
            programs.push((format!("{prefix}/{stem}"), p, stream));
        }
    }
    for d in sorted(&root.join("tests/corpus/run"), |p| p.is_dir()) {
        let program = d.join("program.jr");
        if program.is_file() {
            let name = d.file_name().unwrap().to_string_lossy().to_string();
            let events = d.join("events.jsonl");
            programs.push((
                format!("run/{name}"),
                program,
                events.is_file().then_some(events),
            ));
        }
    }
    let mut out = String::from(
        "/// (name, program text, an event stream for it, possibly empty).\n\
         pub const PROGRAMS: &[(&str, &str, &[u8])] = &[\n",
    );
    for (name, program, stream) in &programs {
        let stream = match stream {
            Some(s) => format!("include_bytes!({:?})", s.display().to_string()),
            None => "b\"\"".to_string(),
        };
        writeln!(
            out,
            "    ({name:?}, include_str!({:?}), {stream}),",
            program.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("programs.rs");
    std::fs::write(dest, out).expect("write programs.rs");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=streams");
    println!("cargo:rerun-if-changed=programs");
    println!("cargo:rerun-if-changed={}", root.join("examples").display());
    println!("cargo:rerun-if-changed={}", spec.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("tests/corpus/run").display()
    );
}
