//! `jrule run`: exit codes, stdin, `--strict`, `--state` and `--metrics`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/spec/examples");

fn jrule(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jrule"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jrule runs");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("jrule finishes")
}

/// Asserts exit status 0, showing stderr otherwise.
fn assert_ok(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// The standard output of two runs, one after the other.
fn stdout_of(runs: &[&Output]) -> String {
    runs.iter()
        .map(|o| String::from_utf8_lossy(&o.stdout))
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("run_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn hotel() -> (String, String, String) {
    (
        format!("{EXAMPLES}/hotel.jr"),
        std::fs::read_to_string(format!("{EXAMPLES}/hotel.events.jsonl")).expect("events"),
        std::fs::read_to_string(format!("{EXAMPLES}/hotel.decisions.jsonl")).expect("decisions"),
    )
}

#[test]
fn events_from_stdin_give_the_expected_decisions() {
    let (program, events, decisions) = hotel();
    let out = jrule(&["run", &program, "--events", "-"], Some(&events));
    assert_ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), decisions);
    assert!(out.stderr.is_empty());
}

#[test]
fn a_rejected_line_is_reported_with_its_number_and_the_run_goes_on() {
    let (program, events, decisions) = hotel();
    let mut lines: Vec<&str> = events.lines().collect();
    lines.insert(
        2,
        r#"{"customer":"c9","signal":"key_usd","time":"2026-03-01T12:30:00Z"}"#,
    );
    let out = jrule(&["run", &program, "--events", "-"], Some(&lines.join("\n")));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), decisions);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "-:3: event rejected[jrule::event_unknown_signal]: unknown signal `key_usd`\n"
    );
}

#[test]
fn strict_stops_at_the_first_rejected_event() {
    let (program, events, decisions) = hotel();
    let mut lines: Vec<&str> = events.lines().collect();
    lines.insert(1, "{not json");
    let out = jrule(
        &["run", &program, "--events", "-", "--strict"],
        Some(&lines.join("\n")),
    );
    assert_eq!(out.status.code(), Some(1));
    let first = decisions.lines().next().expect("a decision");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{first}\n"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("-:2: event rejected[jrule::event_malformed]: malformed JSON"),
        "{err}"
    );
}

#[test]
fn state_carries_over_between_runs() {
    let (program, events, decisions) = hotel();
    let dir = scratch("state");
    let state = dir.join("state.json");
    let state = state.to_str().expect("path");
    let lines: Vec<&str> = events.lines().collect();
    let (first, rest) = lines.split_at(3);
    let a = jrule(
        &["run", &program, "--events", "-", "--state", state],
        Some(&first.join("\n")),
    );
    assert_eq!(a.status.code(), Some(0));
    assert!(Path::new(state).exists());
    let b = jrule(
        &["run", &program, "--events", "-", "--state", state],
        Some(&rest.join("\n")),
    );
    assert_ok(&b);
    let both = stdout_of(&[&a, &b]);
    assert_eq!(both, decisions);
    // The state knows the clock: replaying the first part again is out of order.
    let again = jrule(
        &["run", &program, "--events", "-", "--state", state],
        Some(first[0]),
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("older than the engine's clock"));
}

#[test]
fn a_corrupt_state_file_is_a_clear_error_and_is_left_alone() {
    let (program, events, _) = hotel();
    let dir = scratch("corrupt");
    let state = dir.join("state.json");
    std::fs::write(
        &state,
        r#"{"format":"jrule-state","version":1,"clock":5,"custo"#,
    )
    .expect("write");
    let out = jrule(
        &[
            "run",
            &program,
            "--events",
            "-",
            "--state",
            state.to_str().expect("path"),
        ],
        Some(&events),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("state") && err.contains("malformed state"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let kept = std::fs::read_to_string(&state).expect("state");
    assert!(kept.ends_with("\"custo"));
}

#[test]
fn until_fires_the_timers_due_by_then() {
    let (program, events, decisions) = hotel();
    let c2_only: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(r#""customer":"c2""#))
        .collect();
    let out = jrule(
        &[
            "run",
            &program,
            "--events",
            "-",
            "--until",
            "2026-03-10T00:00:00Z",
        ],
        Some(&c2_only.join("\n")),
    );
    assert_eq!(out.status.code(), Some(0));
    let expected: Vec<&str> = decisions
        .lines()
        .filter(|l| l.contains(r#""customer":"c2""#))
        .collect();
    // c2's app nudge falls due but is suppressed by `requires`: no new decision.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", expected.join("\n"))
    );
    let bad = jrule(
        &["run", &program, "--events", "-", "--until", "tomorrow"],
        Some(""),
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn metrics_count_rules_stages_and_goals() {
    let (program, events, _) = hotel();
    let dir = scratch("metrics");
    let metrics = dir.join("metrics.json");
    let out = jrule(
        &[
            "run",
            &program,
            "--events",
            "-",
            "--until",
            "2026-03-10T00:00:00Z",
            "--metrics",
            metrics.to_str().expect("path"),
        ],
        Some(&events),
    );
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&metrics).expect("metrics")).expect("json");
    let rule = |name: &str| {
        json["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["rule"] == name)
            .cloned()
            .expect("rule")
    };
    assert_eq!(rule("booked")["fired"], 2);
    assert_eq!(rule("booked")["decisions"], 2);
    assert_eq!(rule("nudge_app")["fired"], 1);
    assert_eq!(rule("nudge_app")["suppressed"], 1);
    assert_eq!(rule("nudge_app")["decisions"], 0);
    assert_eq!(rule("room_service")["decisions"], 1);
    let stay = &json["journeys"][0];
    assert_eq!(stay["journey"], "stay");
    assert_eq!(stay["entered"]["booked"], 2);
    assert_eq!(stay["entered"]["in_room"], 1);
    assert_eq!(stay["goals"][0]["signal"], "room_service_ordered");
}

#[test]
fn usage_and_io_problems_exit_2() {
    let (program, _, _) = hotel();
    assert_eq!(jrule(&["run", &program], None).status.code(), Some(2));
    assert_eq!(
        jrule(&["run", &program, "--events", "/no/such/file.jsonl"], None)
            .status
            .code(),
        Some(2)
    );
    let broken = jrule(&["run", "/no/such/program.jr", "--events", "-"], Some(""))
        .status
        .code();
    assert_eq!(broken, Some(2));
    let dir = scratch("bad_program");
    let bad = dir.join("bad.jr");
    std::fs::write(&bad, "when nothing then nobody\n").expect("write");
    let out = jrule(
        &["run", bad.to_str().expect("path"), "--events", "-"],
        Some(""),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jrule::unknown_signal"));
}

#[test]
fn threads_give_the_same_decisions_and_a_state_any_thread_count_resumes() {
    let (program, events, _) = hotel();
    let dir = scratch("threads");
    let lines: Vec<&str> = events.lines().collect();
    let (first, rest) = lines.split_at(3);
    let whole = jrule(
        &[
            "run",
            &program,
            "--events",
            "-",
            "--until",
            "2026-03-10T00:00:00Z",
        ],
        Some(&events),
    );
    for (a, b) in [("2", "1"), ("1", "3"), ("3", "2")] {
        let state = dir.join(format!("state-{a}-{b}.json"));
        let state = state.to_str().expect("path");
        let one = jrule(
            &[
                "run",
                &program,
                "--events",
                "-",
                "--threads",
                a,
                "--state",
                state,
            ],
            Some(&first.join("\n")),
        );
        let two = jrule(
            &[
                "run",
                &program,
                "--events",
                "-",
                "--threads",
                b,
                "--state",
                state,
                "--until",
                "2026-03-10T00:00:00Z",
            ],
            Some(&rest.join("\n")),
        );
        assert_ok(&two);
        let both = stdout_of(&[&one, &two]);
        assert_eq!(
            both,
            String::from_utf8_lossy(&whole.stdout),
            "threads {a} then {b}"
        );
    }
}

#[test]
fn bench_reports_every_figure_as_json() {
    let out = jrule(
        &[
            "bench",
            "--synthetic",
            "--rules",
            "100",
            "--events",
            "20000",
            "--workload",
            "w1",
            "--format",
            "json",
        ],
        None,
    );
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for field in [
        "rules",
        "customers",
        "events",
        "events_per_sec",
        "p50_ns",
        "p99_ns",
        "p999_ns",
        "allocations_per_event",
        "bytes_per_customer",
        "compile_ms",
    ] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    assert_eq!(json["rules"], 100);
    assert_eq!(json["events"], 20000);
    // Nothing per event (a buffer may grow once while warming up).
    assert!(json["allocations_per_event"]
        .as_f64()
        .is_some_and(|a| a < 0.001));
    assert!(json["events_per_sec"].as_f64().is_some_and(|v| v > 0.0));
    let (program, events, _) = hotel();
    let dir = scratch("bench");
    let path = dir.join("events.jsonl");
    std::fs::write(&path, events).expect("events");
    let file = jrule(
        &[
            "bench",
            &program,
            "--events",
            path.to_str().expect("path"),
            "--format",
            "json",
        ],
        None,
    );
    assert_ok(&file);
    let json: serde_json::Value = serde_json::from_slice(&file.stdout).expect("json");
    assert_eq!(json["events"], 6);
    assert_eq!(json["customers"], 2);
    let bad = jrule(&["bench", "--synthetic", "--workload", "w9"], None);
    assert_eq!(bad.status.code(), Some(2));
}

/// Every example with events, with 1, 2 and 3 threads, with and without
/// `--causes`: the same bytes for every thread count, and `--causes` adds
/// a `cause` member and nothing else.
#[test]
fn threads_are_byte_identical_and_causes_only_add_a_member() {
    let ours = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    for stem in ["airline", "bank_loan", "fund", "grocer", "hotel", "solar"] {
        let program = format!("{ours}/{stem}.jr");
        let events = format!("{ours}/{stem}.events.jsonl");
        let run = |threads: &str, causes: bool| {
            let mut args = vec![
                "run",
                &program,
                "--events",
                &events,
                "--until",
                "2026-12-31T00:00:00Z",
                "--threads",
                threads,
            ];
            if causes {
                args.push("--causes");
            }
            let out = jrule(&args, None);
            assert_ne!(out.status.code(), Some(2), "{stem}");
            out.stdout
        };
        let plain = run("1", false);
        let caused = run("1", true);
        for threads in ["2", "3"] {
            assert_eq!(run(threads, false), plain, "{stem} with {threads} threads");
            assert_eq!(
                run(threads, true),
                caused,
                "{stem} --causes, {threads} threads"
            );
        }
        let plain = String::from_utf8(plain).unwrap();
        let caused = String::from_utf8(caused).unwrap();
        assert_eq!(plain.lines().count(), caused.lines().count());
        for (p, c) in plain.lines().zip(caused.lines()) {
            let mut c: serde_json::Value = serde_json::from_str(c).unwrap();
            let cause = c.as_object_mut().unwrap().remove("cause").expect("a cause");
            assert!(["event", "timer"].contains(&cause["kind"].as_str().unwrap()));
            assert_eq!(c, serde_json::from_str::<serde_json::Value>(p).unwrap());
        }
    }
    // The hotel's stream has both kinds.
    let (program, events) = (
        format!("{ours}/hotel.jr"),
        format!("{ours}/hotel.events.jsonl"),
    );
    let out = jrule(
        &[
            "run",
            &program,
            "--events",
            &events,
            "--causes",
            "--threads",
            "2",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""cause":{"kind":"event"}"#), "{text}");
    assert!(
        text.contains(r#""cause":{"kind":"timer","rule":"stay/nudge_app","deadline":"#),
        "{text}"
    );
}

#[test]
fn lateness_accepts_late_events_at_the_clock() {
    let dir = scratch("lateness");
    let program = dir.join("ping.jr");
    std::fs::write(&program, "signal ping\naction pong\nwhen ping then pong\n").unwrap();
    let program = program.to_str().unwrap();
    let events = [
        r#"{"customer":"a","signal":"ping","time":"2026-03-01T09:00:10Z"}"#,
        r#"{"customer":"b","signal":"ping","time":"2026-03-01T09:00:05Z"}"#,
        r#"{"customer":"c","signal":"ping","time":"2026-03-01T08:00:00Z"}"#,
    ]
    .join("\n");
    let strict = jrule(&["run", program, "--events", "-"], Some(&events));
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&strict.stdout).lines().count(), 1);
    for threads in ["1", "2"] {
        let late = jrule(
            &[
                "run",
                program,
                "--events",
                "-",
                "--lateness",
                "5s",
                "--threads",
                threads,
            ],
            Some(&events),
        );
        assert_eq!(
            late.status.code(),
            Some(1),
            "the hour-late event is rejected"
        );
        let out = String::from_utf8_lossy(&late.stdout);
        assert_eq!(
            out.lines().nth(1).unwrap(),
            r#"{"time":"2026-03-01T09:00:10Z","customer":"b","journey":null,"rule":"L3","action":"pong","args":{}}"#
        );
        let err = String::from_utf8_lossy(&late.stderr);
        assert!(
            err.contains("-:3: event rejected[jrule::event_out_of_order]"),
            "{err}"
        );
    }
    let bad = jrule(
        &["run", program, "--events", "-", "--lateness", "5 s"],
        Some(""),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`--lateness 5 s` is not a duration"));
}
