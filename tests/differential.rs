//! Differential tests: the compiled engine against the reference
//! interpreter (`jrule::reference`) on random well-typed programs and
//! event streams (`jrule::reference::gen`), with the engine saved and
//! restored at random points. The reference itself is first held against
//! the hand-written run corpus.
//!
//! A short run is part of `cargo test`. A long one:
//!
//! ```text
//! JRULE_DIFF_CASES=1000000 cargo test --release --test differential -- --nocapture
//! ```
//!
//! `JRULE_DIFF_SEED=S` starts at seed `S` (case `k` uses seed `S + k`), so
//! `JRULE_DIFF_SEED=S JRULE_DIFF_CASES=1` replays the case a failure names.

use std::path::Path;
use std::time::Instant;

use jrule::reference::{diff, gen, Reference};
use jrule::Source;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

#[test]
fn engine_and_reference_agree() {
    let cases = env_u64("JRULE_DIFF_CASES").unwrap_or(2_500);
    let first = env_u64("JRULE_DIFF_SEED").unwrap_or(0);
    let started = Instant::now();
    let mut total = diff::Outcome::default();
    for seed in first..first + cases {
        let case = gen::case_from_seed(seed);
        match diff::run(&case) {
            Ok(o) => {
                total.events += o.events;
                total.rejected += o.rejected;
                total.decisions += o.decisions;
                total.restores += o.restores;
            }
            Err(report) => panic!(
                "engine and reference differ on seed {seed} \
                 (replay: JRULE_DIFF_SEED={seed} JRULE_DIFF_CASES=1)\n{report}"
            ),
        }
    }
    println!(
        "differential: {cases} cases from seed {first} agree in {:.1?}: {} lines ({} rejected), {} decisions, {} restores",
        started.elapsed(),
        total.events,
        total.rejected,
        total.decisions,
        total.restores
    );
}

/// The reference gives exactly the run corpus's expected decisions and
/// rejections (as `jrule run` prints them).
#[test]
fn reference_runs_the_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/run");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("the run corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in &dirs {
        let read = |name: &str| std::fs::read(dir.join(name)).ok();
        let text = String::from_utf8(read("program.jr").expect("program.jr")).expect("UTF-8");
        let sources = [Source::new("program.jr", text)];
        let checked = jrule::check(&sources);
        assert!(checked.is_ok(), "{}: does not check", dir.display());
        let mut reference = Reference::new(&checked, &sources);
        let (mut decisions, mut rejected) = (String::new(), String::new());
        let events = read("events.jsonl").expect("events.jsonl");
        for (i, line) in events.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // `jrule run` reads bytes: a line that is not UTF-8 is malformed JSON.
            let result = match std::str::from_utf8(line) {
                Ok(line) => reference.process_line(line),
                Err(_) => Err(format!(
                    "malformed JSON: {}",
                    serde_json::from_slice::<serde_json::Value>(line).unwrap_err()
                )),
            };
            match result {
                Ok(lines) => lines
                    .iter()
                    .for_each(|l| decisions.push_str(&format!("{l}\n"))),
                Err(e) => {
                    rejected.push_str(&format!("events.jsonl:{}: event rejected: {e}\n", i + 1))
                }
            }
        }
        if let Some(until) = read("until") {
            let until = String::from_utf8(until).expect("UTF-8");
            let t = jrule::time::parse_rfc3339(until.trim()).expect("an RFC 3339 time");
            for l in reference.advance_to(t).expect("until is after the events") {
                decisions.push_str(&format!("{l}\n"));
            }
        }
        let expected = |name: &str| {
            let text = read(name)
                .map(|b| String::from_utf8(b).expect("UTF-8"))
                .unwrap_or_default();
            text.lines().map(|l| format!("{l}\n")).collect::<String>()
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if decisions != expected("decisions.jsonl") {
            failures.push(format!(
                "{name}: decisions\n  expected:\n{}  reference:\n{decisions}",
                expected("decisions.jsonl")
            ));
        }
        // The reference gives the messages, not the codes `jrule run`
        // prints with them: compare without the codes.
        let uncoded = |text: String| {
            text.lines()
                .map(|l| match l.split_once(" event rejected[") {
                    Some((head, rest)) => match rest.split_once("]: ") {
                        Some((_, message)) => format!("{head} event rejected: {message}\n"),
                        None => format!("{l}\n"),
                    },
                    None => format!("{l}\n"),
                })
                .collect::<String>()
        };
        if rejected != uncoded(expected("rejected")) {
            failures.push(format!(
                "{name}: rejections\n  expected:\n{}  reference:\n{rejected}",
                expected("rejected")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
