//! `jrule explain`: for each folder of `tests/corpus/explain`, the events of
//! `events.jsonl` (if any) are run with `--state`, then the event of
//! `event.json` is explained against that state; the output must be exactly
//! `expected.txt` (human) and `expected.json` (`--format json`). Regenerate
//! with `JRULE_BLESS=1`.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_jrule");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/explain");

fn jrule(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run jrule")
}

fn compare(dir: &Path, file: &str, actual: &str) {
    let path = dir.join(file);
    if std::env::var_os("JRULE_BLESS").is_some() {
        std::fs::write(&path, actual).expect("bless");
    }
    let expected = std::fs::read_to_string(&path).expect("expected output");
    assert_eq!(actual, expected, "{} differs", path.display());
}

#[test]
fn every_corpus_case() {
    let mut cases = 0;
    for entry in std::fs::read_dir(CORPUS).expect("corpus") {
        let dir = entry.expect("entry").path();
        let state = std::env::temp_dir().join(format!(
            "jrule-explain-{}-{}.json",
            std::process::id(),
            dir.file_name().and_then(|n| n.to_str()).expect("name")
        ));
        let _ = std::fs::remove_file(&state);
        let state_arg = state.to_str().expect("path").to_string();
        let mut args = vec!["explain", "program.jr", "--event"];
        let event = std::fs::read_to_string(dir.join("event.json")).expect("event.json");
        let event = event.trim().to_string();
        args.push(&event);
        if dir.join("events.jsonl").exists() {
            let run = jrule(
                &dir,
                &[
                    "run",
                    "program.jr",
                    "--events",
                    "events.jsonl",
                    "--state",
                    &state_arg,
                ],
            );
            assert_eq!(run.status.code(), Some(0), "{run:?}");
            args.extend(["--state", &state_arg]);
        }
        let human = jrule(&dir, &args);
        assert_eq!(human.status.code(), Some(0), "{human:?}");
        compare(
            &dir,
            "expected.txt",
            &String::from_utf8_lossy(&human.stdout),
        );
        args.extend(["--format", "json"]);
        let json = jrule(&dir, &args);
        assert_eq!(json.status.code(), Some(0), "{json:?}");
        let text = String::from_utf8_lossy(&json.stdout);
        let value: serde_json::Value = serde_json::from_str(&text).expect("one JSON object");
        assert!(value["rules"].is_array());
        compare(&dir, "expected.json", &text);
        let _ = std::fs::remove_file(&state);
        cases += 1;
    }
    assert!(cases >= 3);
}

#[test]
fn a_rejected_event_or_state_is_an_error_that_says_why() {
    let dir = Path::new(CORPUS).join("fresh");
    let output = jrule(
        &dir,
        &[
            "explain",
            "program.jr",
            "--event",
            r#"{"customer":"c1","signal":"key_usd","time":"2026-03-01T22:15:00Z"}"#,
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error[jrule::event_unknown_signal]: --event: event rejected: unknown signal `key_usd`\n"
    );
    let output = jrule(
        &dir,
        &[
            "explain",
            "program.jr",
            "--event",
            "{}",
            "--state",
            "no-such-state.json",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr)
        .starts_with("error: cannot read state `no-such-state.json`"));
}

#[test]
fn explaining_changes_no_state_file() {
    let dir = Path::new(CORPUS).join("verdicts");
    let state =
        std::env::temp_dir().join(format!("jrule-explain-keep-{}.json", std::process::id()));
    let state_arg = state.to_str().expect("path");
    let _ = std::fs::remove_file(&state);
    let run = jrule(
        &dir,
        &[
            "run",
            "program.jr",
            "--events",
            "events.jsonl",
            "--state",
            state_arg,
        ],
    );
    assert_eq!(run.status.code(), Some(0));
    let before = std::fs::read(&state).expect("state");
    let event = std::fs::read_to_string(dir.join("event.json")).expect("event");
    let output = jrule(
        &dir,
        &[
            "explain",
            "program.jr",
            "--event",
            event.trim(),
            "--state",
            state_arg,
        ],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(std::fs::read(&state).expect("state"), before);
    let _ = std::fs::remove_file(&state);
}
