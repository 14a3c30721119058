//! The engine's corpus: every folder under `tests/corpus/run/` holds a
//! program (`program.jr`), an event stream (`events.jsonl`) and the exact
//! decisions `jrule run` must print for it (`decisions.jsonl`). Optional
//! files: `until` (one RFC 3339 time, passed as `--until`) and `rejected`
//! (the exact stderr, one `events.jsonl:LINE: event rejected: …` line per
//! bad event; its presence also means the exit status must be 1).
//!
//! The binary runs with the folder as its current directory, so file names
//! in messages are the bare `events.jsonl`. Every folder is run; all that
//! fail are listed together at the end.

use std::path::{Path, PathBuf};
use std::process::Command;

fn read_optional(path: &Path) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Compares two texts line by line; describes the first difference.
fn first_difference(what: &str, expected: &str, actual: &str) -> Option<String> {
    let exp: Vec<&str> = expected.lines().collect();
    let act: Vec<&str> = actual.lines().collect();
    for i in 0..exp.len().max(act.len()) {
        let e = exp.get(i).copied();
        let a = act.get(i).copied();
        if e != a {
            return Some(format!(
                "{what} line {}:\n      expected: {}\n      actual:   {}",
                i + 1,
                e.unwrap_or("<end of output>"),
                a.unwrap_or("<end of output>"),
            ));
        }
    }
    if expected != actual {
        // Same lines, different bytes: a missing final newline or a `\r`.
        return Some(format!(
            "{what}: same lines but different text (line endings?): expected {:?}, actual {:?}",
            expected, actual
        ));
    }
    None
}

fn normalise(text: &str) -> String {
    // Expected files are written by hand; tolerate a missing final newline.
    let mut out: String = text.lines().map(|l| format!("{l}\n")).collect();
    if text.is_empty() {
        out.clear();
    }
    out
}

fn run_folder(dir: &Path) -> Result<(), String> {
    let expected_stdout = read_optional(&dir.join("decisions.jsonl"))
        .ok_or_else(|| "missing decisions.jsonl".to_string())?;
    if !dir.join("program.jr").is_file() || !dir.join("events.jsonl").is_file() {
        return Err("missing program.jr or events.jsonl".to_string());
    }
    let until = read_optional(&dir.join("until")).map(|t| t.trim().to_string());
    let rejected = read_optional(&dir.join("rejected"));

    // One engine, and customers sharded over three: the same output.
    let mut problems = Vec::new();
    for threads in ["1", "3"] {
        if let Err(p) = check_run(
            dir,
            until.as_deref(),
            threads,
            &expected_stdout,
            rejected.as_deref(),
        ) {
            problems.push(format!("with --threads {threads}: {p}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

fn check_run(
    dir: &Path,
    until: Option<&str>,
    threads: &str,
    expected_stdout: &str,
    rejected: Option<&str>,
) -> Result<(), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jrule"));
    cmd.current_dir(dir).env("NO_COLOR", "1").args([
        "run",
        "program.jr",
        "--events",
        "events.jsonl",
        "--threads",
        threads,
    ]);
    if let Some(t) = until {
        cmd.args(["--until", t]);
    }
    let out = cmd.output().map_err(|e| format!("cannot run jrule: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();

    let mut problems = Vec::new();
    if let Some(d) = first_difference("stdout", &normalise(expected_stdout), &stdout) {
        problems.push(d);
    }
    let expected_stderr = rejected.map(normalise).unwrap_or_default();
    if let Some(d) = first_difference("stderr", &expected_stderr, &stderr) {
        problems.push(d);
    }
    let expected_code = if rejected.is_some() { 1 } else { 0 };
    if out.status.code() != Some(expected_code) {
        problems.push(format!(
            "exit status: expected {expected_code}, actual {:?}",
            out.status.code()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

#[test]
fn run_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/run");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no folders under {}", root.display());

    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(why) = run_folder(dir) {
            failures.push(format!("  {name}:\n    {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} run corpus folders failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}
