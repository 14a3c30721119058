//! Inputs the fuzz targets (fuzz/) found, each with the clean behaviour
//! expected of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jrule::{Engine, Event, Program, Source, State};

const BIN: &str = env!("CARGO_BIN_EXE_jrule");

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz_found")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Runs jrule to its end, killing it after 60 s; exit status and stderr.
fn jrule(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout"))
        .stderr(std::fs::File::create(&err).expect("stderr"))
        .spawn()
        .expect("start jrule");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("jrule {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (
        status.code(),
        std::fs::read_to_string(out).expect("stdout"),
        std::fs::read_to_string(err).expect("stderr"),
    )
}

const RETAIL: &str = include_str!("../examples/retail.jr");

/// Found by `state` and `events` (the `$` checkpoint): a profile field that
/// is required but has no default (`interests: [text]` in retail.jr) is
/// absent until an event sets it; `save` writes it as `null`, and
/// `restore` refuses that `null` ("a required field cannot be null"), so
/// such a state can never be resumed, not even by `jrule run --state`.
#[test]
fn a_profile_without_its_required_list_saves_and_restores() {
    let program = Arc::new(
        Program::compile(&[Source::new("retail.jr", RETAIL)])
            .expect("retail checks")
            .program,
    );
    let mut engine = Engine::new(Arc::clone(&program));
    let event = Event::from_json(
        &program,
        r#"{"customer":"r2","signal":"basket_updated","time":"2026-03-01T09:20:00Z","data":{"items":1,"value":42.0},"profile":{"marketing_consent":true}}"#,
    )
    .expect("a valid event");
    engine.process(&event).expect("accepted");
    let text = engine.save().to_json();
    let state = State::from_json(&text).expect("reads back");
    let restored = Engine::restore(Arc::clone(&program), &state)
        .unwrap_or_else(|e| panic!("a saved state must restore: {e}\n{text}"));
    assert_eq!(restored.save().to_json(), text);

    // The same through the command line: a second run resumes the first.
    let dir = scratch("retail_resume");
    let (program_file, first, second, state_file) = (
        dir.join("retail.jr"),
        dir.join("first.jsonl"),
        dir.join("second.jsonl"),
        dir.join("state.json"),
    );
    std::fs::write(&program_file, RETAIL).expect("write");
    std::fs::write(
        &first,
        r#"{"customer":"r2","signal":"basket_updated","time":"2026-03-01T09:20:00Z","data":{"items":1,"value":42.0},"profile":{"marketing_consent":true}}
"#,
    )
    .expect("write");
    std::fs::write(
        &second,
        r#"{"customer":"r2","signal":"order_placed","time":"2026-03-01T09:30:00Z","data":{"value":42.0}}
"#,
    )
    .expect("write");
    for events in [&first, &second] {
        let (code, _, stderr) = jrule(
            &dir,
            &[
                "run",
                program_file.to_str().unwrap(),
                "--events",
                events.to_str().unwrap(),
                "--state",
                state_file.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{stderr}");
    }
}

/// Found by `events` (a timeout): event times are integer milliseconds of
/// any size, while the clock's range is years 0000 to 9999. A timer due
/// past the end of time saturates at the largest time; a stay timer that
/// moves back into its own stage then restarts at that same deadline and
/// fires again, forever, growing the decisions without bound. An event at
/// such a time should be rejected ("`time` must be …"), like one older than
/// the clock; so should `advance_to` past year 9999 (`~9223372036854775807`
/// in the fuzz target's input).
#[test]
fn an_event_at_the_end_of_time_is_rejected() {
    let dir = scratch("end_of_time");
    let program = dir.join("loop.jr");
    let events = dir.join("events.jsonl");
    std::fs::write(
        &program,
        "signal go\njourney j {\n  stages a -> a\n  rule enter: when go then move to a\n  rule again: when in a for 1d then move to a\n}\n",
    )
    .expect("write");
    std::fs::write(
        &events,
        r#"{"customer":"c","signal":"go","time":9223372036854775000}
{"customer":"c","signal":"go","time":9223372036854775807}
"#,
    )
    .expect("write");
    let (code, stdout, stderr) = jrule(
        &dir,
        &[
            "run",
            program.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(
        stderr
            .lines()
            .all(|l| l.contains("event rejected") && l.contains("`time`")),
        "{stderr}"
    );
}

#[test]
fn a_syntax_error_after_a_comment_names_the_token_before_the_comment() {
    // Found by the `check` target: naming the token before a syntax error
    // cut a comment's text in the middle of the two-byte `ܞ`, and panicked.
    for (text, message) in [
        (
            "signal s // aܞb\n@\n",
            "expected `{`, a declaration, a rule or end of file after `s`, found `@`",
        ),
        (
            "action x\nsignal s\nwhen s then x() // a \"note\n/* and ܞ more */\n@\n",
            "expected a declaration, a rule or end of file after `)`, found `@`",
        ),
    ] {
        let checked = jrule::check(&[Source::new("t.jr", text)]);
        let messages: Vec<&str> = checked
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(messages, [message], "{text:?}");
    }
}
