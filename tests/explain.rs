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

// ------------------------------------------------------------ the library

use std::sync::Arc;

use jrule::{Decision, Engine, Event, Explanation, Program, Source, Verdict};

fn compile(name: &str, text: &str) -> Arc<Program> {
    let compiled = Program::compile(&[Source::new(name, text)]).expect("compiles");
    Arc::new(compiled.program)
}

fn example(name: &str) -> (Arc<Program>, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = std::fs::read_to_string(dir.join(format!("{name}.jr"))).expect("program");
    let events = std::fs::read_to_string(dir.join(format!("{name}.events.jsonl")))
        .expect("events")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    (compile(&format!("{name}.jr"), &text), events)
}

fn lines(decisions: &[Decision]) -> Vec<String> {
    decisions.iter().map(Decision::to_json).collect()
}

/// Explains `event` against `engine`, then processes it, and checks that
/// the explanation gave exactly the decisions processing gives (timers'
/// apart), or the same error.
fn explain_then_process(engine: &mut Engine, event: &Event, context: &str) {
    let explained = engine.explain(event);
    let processed = engine.process(event);
    match (explained, processed) {
        (Ok(x), Ok(ds)) => {
            let (timers, own): (Vec<_>, Vec<_>) = ds
                .into_iter()
                .partition(|d| d.cause() != jrule::Cause::Event);
            assert_eq!(lines(&x.timers), lines(&timers), "{context}: timers");
            assert_eq!(lines(&x.decisions), lines(&own), "{context}: decisions");
            let made: u64 = x
                .rules
                .iter()
                .map(|c| match c.verdict {
                    Verdict::Fired { decisions, .. } => decisions,
                    _ => 0,
                })
                .sum();
            assert_eq!(made, own.len() as u64, "{context}: fired rules' decisions");
            for d in &own {
                let name = match d.journey() {
                    Some(j) => format!("{j}/{}", d.rule()),
                    None => d.rule().to_string(),
                };
                assert!(
                    x.rules.iter().any(|c| c.rule == name
                        && matches!(c.verdict, Verdict::Fired { decisions, .. } if decisions > 0)),
                    "{context}: {name} decided but has no verdict that it fired"
                );
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "{context}: errors"),
        (a, b) => panic!("{context}: explain gave {a:?}, process gave {b:?}"),
    }
}

#[test]
fn explain_agrees_with_process_on_the_hotel_stream() {
    for name in ["hotel", "airline", "grocer"] {
        let (program, events) = example(name);
        let mut engine = Engine::new(Arc::clone(&program));
        for (i, line) in events.iter().enumerate() {
            let event = Event::from_json(&program, line).expect("event");
            explain_then_process(&mut engine, &event, &format!("{name} event {}", i + 1));
        }
    }
}

#[test]
fn explain_agrees_with_process_on_generated_streams() {
    use jrule::reference::gen::{case_from_seed, Step};
    let cases = 300;
    let mut explained = 0;
    for seed in 0..cases {
        let case = case_from_seed(seed);
        let sources: Vec<Source> = (case.files.iter().enumerate())
            .map(|(i, text)| Source::new(format!("gen{i}.jr"), text.as_str()))
            .collect();
        let program = Arc::new(Program::compile(&sources).expect("compiles").program);
        let mut engine = Engine::new(Arc::clone(&program));
        for (i, step) in case.steps.iter().enumerate() {
            match step {
                Step::Event(line) => {
                    if let Ok(event) = Event::from_json(&program, line) {
                        explain_then_process(&mut engine, &event, &format!("seed {seed} step {i}"));
                        explained += 1;
                    }
                }
                Step::Advance(t) => {
                    let _ = engine.advance_to(*t);
                }
                Step::Restore => {}
            }
        }
    }
    assert!(explained > 1000, "only {explained} events explained");
}

#[test]
fn explaining_changes_nothing() {
    let (program, events) = example("hotel");
    let mut engine = Engine::new(Arc::clone(&program));
    let mut twin = Engine::new(Arc::clone(&program));
    for (i, line) in events.iter().enumerate() {
        let event = Event::from_json(&program, line).expect("event");
        let (state, metrics) = (engine.save().to_json(), engine.metrics());
        let (clock, count) = (engine.clock(), engine.customer_count());
        engine.explain(&event).expect("explains");
        assert_eq!(engine.save().to_json(), state, "event {}: state", i + 1);
        assert_eq!(engine.metrics(), metrics, "event {}: metrics", i + 1);
        assert_eq!(engine.clock(), clock);
        assert_eq!(engine.customer_count(), count);
        let a = engine.process(&event).expect("processes");
        let b = twin.process(&event).expect("processes");
        assert_eq!(lines(&a), lines(&b), "event {}", i + 1);
    }
    assert_eq!(engine.metrics(), twin.metrics());
    assert_eq!(engine.save().to_json(), twin.save().to_json());
}

/// The `verdicts` corpus case, through the library.
fn verdicts() -> Explanation {
    let dir = Path::new(CORPUS).join("verdicts");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect(f);
    let program = compile("program.jr", &read("program.jr"));
    let mut engine = Engine::new(Arc::clone(&program));
    for line in read("events.jsonl").lines() {
        let event = Event::from_json(&program, line).expect("event");
        engine.process(&event).expect("processes");
    }
    let event = Event::from_json(&program, read("event.json").trim()).expect("event");
    engine.explain(&event).expect("explains")
}

#[test]
fn a_false_where_comes_with_its_text_and_the_values_it_read() {
    let x = verdicts();
    let verdict = |rule: &str| {
        &x.rules
            .iter()
            .find(|c| c.rule == rule)
            .unwrap_or_else(|| panic!("{rule}"))
            .verdict
    };
    assert_eq!(
        verdict("shop/where_false"),
        &Verdict::WhereFalse {
            condition: r#"event.page == "pricing" and customer.tier == "gold""#.to_string(),
            values: vec![
                ("event.page".to_string(), serde_json::json!("pricing")),
                ("customer.tier".to_string(), serde_json::json!("basic")),
            ],
        }
    );
    assert_eq!(
        verdict("shop/broken"),
        &Verdict::Error {
            condition: Some("10 / (event.minutes - event.minutes) > 1".to_string()),
            values: vec![("event.minutes".to_string(), serde_json::json!(3))],
        }
    );
}

#[test]
fn an_explanation_serializes_to_the_documented_shape() {
    let x = verdicts();
    let json = serde_json::to_value(&x).expect("serializes");
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["decisions", "event", "profile", "rules", "stages", "timers"]
    );
    assert_eq!(json["stages"], serde_json::json!({"shop": "browsing"}));
    assert_eq!(
        json["event"],
        serde_json::json!({"page": "pricing", "minutes": 3})
    );
    assert_eq!(
        json["profile"],
        serde_json::json!({"tier": "basic", "consent": false})
    );
    assert_eq!(json["timers"], serde_json::json!([]));
    assert_eq!(
        json["decisions"][0],
        serde_json::json!({"time": "2026-03-01T09:10:00Z", "customer": "c1", "journey": "shop",
            "rule": "winner", "action": "greet", "args": {"name": "high"}})
    );
    // In field order (a `Value` would sort the keys).
    let text: Vec<String> = x
        .rules
        .iter()
        .map(|c| serde_json::to_string(c).expect("serializes"))
        .collect();
    assert_eq!(
        text,
        [
            r#"{"rule":"shop/winner","reason":"fired","decisions":1,"suppressed":0,"excluded":0,"move_dropped":true}"#,
            r#"{"rule":"shop/wrong_place","reason":"place","got":"web_shop","wanted":["store"]}"#,
            r#"{"rule":"shop/wrong_channel","reason":"channel","got":"app","wanted":["email"]}"#,
            r#"{"rule":"shop/no_visit_first","reason":"no_earlier","signal":"visit","within":60000}"#,
            r#"{"rule":"shop/wrong_stage","reason":"stage","stage":"browsing","wanted":["loyal"]}"#,
            r#"{"rule":"shop/where_false","reason":"where_false","condition":"event.page == \"pricing\" and customer.tier == \"gold\"","values":{"event.page":"pricing","customer.tier":"basic"}}"#,
            r#"{"rule":"shop/broken","reason":"error","condition":"10 / (event.minutes - event.minutes) > 1","values":{"event.minutes":3}}"#,
            r#"{"rule":"shop/capped","reason":"capped","count":1,"per":86400000}"#,
            r#"{"rule":"shop/excluded","reason":"fired","decisions":0,"suppressed":0,"excluded":1,"move_dropped":false}"#,
            r#"{"rule":"shop/suppressed","reason":"fired","decisions":1,"suppressed":1,"excluded":0,"move_dropped":false}"#,
        ]
    );
}
