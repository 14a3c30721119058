//! Resource bounds for hostile input: every limit of `jrule check` and
//! `jrule run`, and inputs that would take super-linear time or unbounded
//! memory if a bound were missing. Each case runs under a watchdog (60 s,
//! generous: they take a second or two in a debug build) and asserts the
//! clear error and exit status; nothing else here depends on timing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jrule::{Engine, EventBuilder, Program, Source};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_jrule");

/// How long any one case may take before it counts as unbounded.
const WATCHDOG: Duration = Duration::from_secs(60);

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bounds")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// What a finished `jrule` printed.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); stderr: {}",
                &self.stderr[..self.stderr.len().min(2000)]
            )
        })
    }

    fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a decision is JSON"))
            .collect()
    }
}

/// Writes a child's standard input.
type Feed = Box<dyn FnOnce(&mut dyn std::io::Write) + Send>;

/// Runs a command to its end under the watchdog, its output going to files
/// in `dir` (so that a full pipe never stalls it); `feed` writes its stdin.
fn finish(mut command: Command, dir: &Path, feed: Option<Feed>) -> Run {
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    command
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .stdin(if feed.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let shown = format!("{command:?}");
    let mut child = command.spawn().expect("start jrule");
    let writer = feed.map(|feed| {
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || feed(&mut stdin))
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll jrule") {
            break status;
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {WATCHDOG:?}: a bound is missing");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(writer) = writer {
        writer.join().expect("the stdin writer");
    }
    Run {
        code: status.code(),
        stdout: std::fs::read(out).expect("stdout"),
        stderr: String::from_utf8_lossy(&std::fs::read(err).expect("stderr")).into_owned(),
    }
}

fn jrule(dir: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(BIN);
    command.args(args).env("NO_COLOR", "1");
    finish(command, dir, None)
}

/// `jrule check --format json` on one file holding `text`.
fn check(name: &str, text: &str) -> (Run, PathBuf) {
    let dir = scratch(name);
    let file = dir.join(format!("{name}.jr"));
    std::fs::write(&file, text).expect("write the program");
    let run = jrule(&dir, &["check", "--format", "json", file.to_str().unwrap()]);
    (run, file)
}

/// The codes of a JSON report, with how many times each appears.
fn codes(report: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for d in report["diagnostics"].as_array().expect("diagnostics") {
        *out.entry(d["code"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

/// Runs a closure on a thread under the watchdog.
fn within_watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {WATCHDOG:?}: a bound is missing")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

// ---- rules per program ------------------------------------------------------

/// The limit itself: a million rules parse in about 15 s in a release build
/// and a minute in a debug one, too slow for every `cargo test`. The check
/// of the count is also unit-tested with a small limit (src/check/mod.rs).
#[test]
#[ignore = "parses a million rules: run with `cargo test --release --test bounds -- --ignored`"]
fn a_rule_past_a_million_is_a_limit_error() {
    let head = "signal s\naction a\n";
    let mut text = String::from(head);
    text.push_str(&"when s then a\n".repeat(jrule::check::MAX_RULES));
    let (run, _) = check("million_rules", &text);
    assert_eq!(
        run.code,
        Some(0),
        "exactly the limit is fine: {}",
        run.stderr
    );
    text.push_str("rule extra: when s then a\n");
    let (run, _) = check("million_rules_and_one", &text);
    assert_eq!(run.code, Some(1));
    let report = run.json();
    let d = &report["diagnostics"][0];
    assert_eq!(d["code"], "jrule::limit");
    assert_eq!(
        d["message"],
        "the program has more than the limit of 1000000 rules"
    );
    assert_eq!(d["line"], jrule::check::MAX_RULES + 3);
    assert_eq!(d["column"], 6, "at the name of the rule too many");
}

// ---- timers per customer ----------------------------------------------------

const TIMERS: &str = "signal start
signal done
action nudge(n: int)
journey j {
  stages a -> a
  rule enter: when start then move to a
  rule stay: when in a for 1h then nudge(1)
  rule wait: when no done within 1d after start then nudge(2)
}
";

#[test]
fn a_wait_restarted_100k_times_leaves_one_timer_per_rule() {
    let (state, later) = within_watchdog("100k restarts", || {
        let program = Arc::new(
            Program::compile(&[Source::new("timers.jr", TIMERS)])
                .expect("the program checks")
                .program,
        );
        let mut engine = Engine::new(Arc::clone(&program));
        let t0: i64 = 1_772_355_600_000;
        // Each event restarts the wait and, by moving `a -> a`, the stay.
        for i in 0..100_000i64 {
            let event = EventBuilder::new(&program, "c1", "start", t0 + i * 1_000)
                .and_then(|b| b.build())
                .expect("a valid event");
            engine.process(&event).expect("accepted");
        }
        let state = engine.save().to_json();
        let later = engine
            .advance_to(t0 + 100_000 * 1_000 + 2 * 86_400_000)
            .expect("advance");
        let later: Vec<String> = later.iter().map(|d| d.to_json()).collect();
        (state, later)
    });
    let json: Value = serde_json::from_str(&state).expect("a state is JSON");
    let customers = json["customers"].as_array().expect("customers");
    assert_eq!(customers.len(), 1);
    let timers: Vec<&str> = customers[0]["timers"]
        .as_array()
        .expect("timers")
        .iter()
        .map(|t| t["rule"].as_str().expect("a rule"))
        .collect();
    let mut sorted = timers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["j/stay", "j/wait"], "one timer per timer rule");
    assert!(
        state.len() < 4_096,
        "the state stays small: {} bytes",
        state.len()
    );
    // Only the last of each fires.
    assert_eq!(later.len(), 2, "{later:?}");
    assert!(later[0].contains(r#""rule":"stay""#), "{later:?}");
    assert!(later[1].contains(r#""rule":"wait""#), "{later:?}");
}

// ---- state files --------------------------------------------------------------

const HELLO: &str = "signal hello\naction greet\nwhen hello then greet\n";
const HELLO_EVENT: &str = r#"{"customer":"c1","signal":"hello","time":"2026-03-01T09:00:00Z"}"#;

/// `jrule run` of the hello program and event in `dir` with `--state state`.
fn run_hello_with_state(dir: &Path, state: &Path) -> Run {
    let program = dir.join("hello.jr");
    let events = dir.join("events.jsonl");
    std::fs::write(&program, HELLO).expect("write");
    std::fs::write(&events, format!("{HELLO_EVENT}\n")).expect("write");
    jrule(
        dir,
        &[
            "run",
            program.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
    )
}

#[test]
fn a_state_file_past_the_limit_is_refused_and_left_alone() {
    let dir = scratch("state_limit");
    let state = dir.join("huge.state");
    // Sparse: 4 GiB and one byte that take no room on disk.
    let file = std::fs::File::create(&state).expect("create");
    file.set_len(jrule::cli::run::MAX_STATE_BYTES + 1)
        .expect("a sparse file");
    drop(file);
    let run = run_hello_with_state(&dir, &state);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "error: state `{}` is 4294967297 bytes, larger than the limit of 4294967296 bytes (4 GiB)\n",
            state.display()
        )
    );
    assert!(run.stdout.is_empty(), "nothing runs");
    assert_eq!(
        std::fs::metadata(&state).expect("still there").len(),
        jrule::cli::run::MAX_STATE_BYTES + 1,
        "the file is not replaced"
    );
}

#[test]
fn a_state_that_is_not_a_regular_file_is_refused() {
    let dir = scratch("state_directory");
    let state = dir.join("a_directory");
    std::fs::create_dir(&state).expect("a directory");
    let run = run_hello_with_state(&dir, &state);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("state `{}`", state.display())),
        "{}",
        run.stderr
    );
    assert!(state.is_dir());
}

// ---- event lines --------------------------------------------------------------

/// A line of events of `n` bytes that is not an event.
fn junk_line(n: usize) -> Vec<u8> {
    let mut line = vec![b'x'; n];
    line.push(b'\n');
    line
}

#[test]
fn an_event_line_past_the_limit_is_rejected_and_the_rest_runs() {
    let dir = scratch("long_line");
    let program = dir.join("hello.jr");
    std::fs::write(&program, HELLO).expect("write");
    let limit = jrule::cli::run::MAX_EVENT_LINE;
    let event = |c: &str, hour: u32| {
        format!(r#"{{"customer":"{c}","signal":"hello","time":"2026-03-01T{hour:02}:00:00Z"}}"#)
            .into_bytes()
    };
    let mut bytes = event("c1", 9);
    bytes.push(b'\n');
    bytes.extend(junk_line(limit)); // at the limit: read, and malformed
    bytes.extend(junk_line(limit + 1)); // past it
    bytes.extend(event("c2", 10)); // the last line has no line break
    let events = dir.join("events.jsonl");
    std::fs::write(&events, &bytes).expect("write");
    let args = |strict: bool| {
        let mut args = vec![
            "run",
            program.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ];
        if strict {
            args.push("--strict");
        }
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let name = events.display().to_string();

    let run = jrule(
        &dir,
        &args(false).iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let stderr: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    assert!(
        stderr[0].starts_with(&format!(
            "{name}:2: event rejected[jrule::event_malformed]: malformed JSON"
        )),
        "{stderr:?}"
    );
    assert_eq!(
        stderr[1],
        format!(
            "{name}:3: event rejected[jrule::event_too_long]: the line is longer than the limit of {limit} bytes (16 MiB)"
        )
    );
    let customers: Vec<Value> = run.lines().iter().map(|d| d["customer"].clone()).collect();
    assert_eq!(customers, ["c1", "c2"], "the lines around it run");

    // With --strict, the first rejected line stops the run.
    std::fs::write(
        &events,
        [
            &event("c1", 9)[..],
            b"\n",
            &junk_line(limit + 1),
            &event("c2", 10),
        ]
        .concat(),
    )
    .expect("write");
    let run = jrule(
        &dir,
        &args(true).iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "{name}:2: event rejected[jrule::event_too_long]: the line is longer than the limit of {limit} bytes (16 MiB)\n"
        )
    );
    assert_eq!(run.lines().len(), 1, "only the first line ran");
}

/// A gigabyte without a line break, from a pipe, under a 200 MB address
/// space limit: read in bounded memory, rejected, and the next line runs.
/// Without the bound, jrule would need the whole line in memory and abort.
#[test]
#[cfg(target_os = "linux")]
fn an_endless_event_line_is_read_in_bounded_memory() {
    let dir = scratch("endless_line");
    let program = dir.join("hello.jr");
    std::fs::write(&program, HELLO).expect("write");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -v 200000 && exec "$0" "$@""#)
        .arg(BIN)
        .args(["run", program.to_str().unwrap(), "--events", "-"]);
    let run = finish(
        command,
        &dir,
        Some(Box::new(|stdin: &mut dyn std::io::Write| {
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..1024 {
                if stdin.write_all(&chunk).is_err() {
                    return; // jrule died: the assertions below say so
                }
            }
            let _ = stdin.write_all(b"\n");
            let _ = writeln!(stdin, "{HELLO_EVENT}");
        })),
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "-:1: event rejected[jrule::event_too_long]: the line is longer than the limit of 16777216 bytes (16 MiB)\n"
    );
    assert_eq!(run.lines().len(), 1, "the line after it runs");
}

// ---- super-linear checks ------------------------------------------------------

const PRE: &str = "signal s { n: int }\naction a\n";

#[test]
fn a_long_or_chain_is_a_limit_error() {
    let text = format!(
        "{PRE}when s where {} then a\n",
        vec!["event.n > 0"; 20_000].join(" or ")
    );
    let (run, _) = check("or_chain", &text);
    assert_eq!(run.code, Some(1));
    assert_eq!(codes(&run.json()).get("jrule::limit"), Some(&1));
}

#[test]
fn a_deep_not_chain_and_deep_brackets_are_limit_errors() {
    for (name, text) in [
        (
            "not_chain",
            format!("{PRE}when s where {}true then a\n", "not ".repeat(100_000)),
        ),
        (
            "brackets",
            format!(
                "{PRE}when s where {}true{} then a\n",
                "(".repeat(100_000),
                ")".repeat(100_000)
            ),
        ),
    ] {
        let (run, _) = check(name, &text);
        assert_eq!(run.code, Some(1), "{name}");
        assert_eq!(codes(&run.json()).get("jrule::limit"), Some(&1), "{name}");
    }
}

/// 50,000 rules of one journey move on the same signal (the conflicting-moves
/// warning compares moves of one signal), and 2,000 more whose stages are
/// all different; then `run` sends events through them.
#[test]
fn many_rules_on_one_signal_check_and_run() {
    let mut text = String::from("signal s { n: int }\nsignal t\naction a(n: int)\n");
    text.push_str("journey same {\n  stages x -> x\n");
    text.push_str(&"  when s then move to x\n".repeat(50_000));
    text.push_str("}\njourney apart {\n");
    for i in 0..2_000 {
        let _ = writeln!(text, "  stages x{i} -> y{i}");
    }
    for i in 0..2_000 {
        let _ = writeln!(text, "  when t in x{i} then move to y{i}");
    }
    text.push_str("  when s then move to x0\n}\n");
    let (run, file) = check("one_signal", &text);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let dir = file.parent().unwrap().to_path_buf();
    let events = dir.join("events.jsonl");
    let mut lines = String::new();
    for (i, signal) in ["s", "t", "s", "t"].iter().enumerate() {
        let _ = writeln!(
            lines,
            r#"{{"customer":"c1","signal":"{signal}","time":{},"data":{}}}"#,
            1_772_355_600_000i64 + i as i64,
            if *signal == "s" { r#"{"n":1}"# } else { "{}" }
        );
    }
    std::fs::write(&events, lines).expect("write");
    let run = jrule(
        &dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let moves: Vec<(String, String)> = run
        .lines()
        .iter()
        .map(|d| {
            (
                d["journey"].as_str().unwrap().to_string(),
                d["args"]["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("same", "x"),
        ("apart", "x0"),
        ("apart", "y0"),
        ("same", "x"),
    ];
    assert_eq!(
        moves,
        expected.map(|(j, s)| (j.to_string(), s.to_string())),
        "one move per journey and event"
    );
}

/// An enum of 100,000 values: unknown values get a help line of bounded
/// length (not every value), and an event can use the last value.
#[test]
fn a_huge_enum() {
    let values: Vec<String> = (0..100_000).map(|i| format!("v{i}")).collect();
    let mut text = format!(
        "enum e {{ {} }}\ncustomer {{ f: e = v0 }}\nsignal s\naction a(n: int)\n",
        values.join(" ")
    );
    text.push_str("when s where customer.f == v99999 then a(1)\n");
    for i in 0..2_000 {
        let _ = writeln!(text, "when s where customer.f == zz{i} then a(2)");
    }
    let (run, _) = check("huge_enum", &text);
    assert_eq!(run.code, Some(1));
    let report = run.json();
    assert_eq!(report["errors"], 2_000);
    for d in report["diagnostics"].as_array().unwrap() {
        let help = d["help"].as_str().unwrap_or("");
        assert!(help.len() < 1_000, "a help line of {} bytes", help.len());
    }
    assert!(
        report["diagnostics"][0]["help"]
            .as_str()
            .unwrap()
            .ends_with("and 99980 more"),
        "{}",
        report["diagnostics"][0]["help"]
    );

    // Without the unknown values, it runs.
    let text = text.lines().take(5).collect::<Vec<_>>().join("\n");
    let (run, file) = check("huge_enum_ok", &text);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let dir = file.parent().unwrap();
    let events = dir.join("events.jsonl");
    std::fs::write(
        &events,
        r#"{"customer":"c1","signal":"s","time":0,"profile":{"f":"v99999"}}
{"customer":"c2","signal":"s","time":1,"profile":{"f":"v5"}}
"#,
    )
    .expect("write");
    let run = jrule(
        dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let customers: Vec<Value> = run.lines().iter().map(|d| d["customer"].clone()).collect();
    assert_eq!(customers, ["c1"]);
}

/// 10,000 unknown signals among 10,000 declared ones: "did you mean" has a
/// budget; the first ones get their suggestion.
#[test]
fn many_unknown_names_among_many_declared() {
    let mut text = String::new();
    for i in 0..10_000 {
        let _ = writeln!(text, "signal sig{i:05}");
    }
    text.push_str("action a\n");
    for i in 0..10_000 {
        let _ = writeln!(text, "when zig{i:05} then a");
    }
    let (run, _) = check("unknown_names", &text);
    assert_eq!(run.code, Some(1));
    let report = run.json();
    assert_eq!(report["errors"], 10_000);
    let first = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "jrule::unknown_signal")
        .expect("an unknown signal");
    assert_eq!(first["help"], "did you mean `sig00000`?");
}

/// A name of a million characters, declared and misspelt: no suggestion
/// (comparing them would take 10^12 steps).
#[test]
fn a_very_long_name_gets_no_suggestion() {
    let name = "A".repeat(1_000_000);
    let text = format!("signal {name}\naction a\nwhen {}B then a\n", &name[1..]);
    let (run, _) = check("long_name", &text);
    assert_eq!(run.code, Some(1));
    let report = run.json();
    let d = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "jrule::unknown_signal")
        .expect("an unknown signal");
    assert!(
        !d["help"].as_str().unwrap_or("").contains("did you mean"),
        "no suggestion"
    );
}

/// 40,000 errors on one line of 300 KB: positions are found in constant
/// time each, in both output formats. (20,000 unknown signals, and 19,999
/// unnamed rules that share the name `L3` of the first.)
#[test]
fn many_diagnostics_on_one_long_line() {
    let text = format!("signal s\naction a\n{}\n", "when zz then a ".repeat(20_000));
    let (run, file) = check("long_line_diagnostics", &text);
    assert_eq!(run.code, Some(1));
    let report = run.json();
    assert_eq!(report["errors"], 39_999);
    let last = report["diagnostics"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["line"], 3);
    assert_eq!(last["column"], 19_999 * 15 + 6);

    let dir = file.parent().unwrap();
    let run = jrule(dir, &["check", file.to_str().unwrap()]);
    assert_eq!(run.code, Some(1));
    // The help wraps a long path: look for its parts.
    assert!(
        run.stderr.contains(&format!(":3:{} ", 19_999 * 15 + 6))
            || run.stderr.contains(&format!(":3:{}\n", 19_999 * 15 + 6)),
        "{}",
        &run.stderr[run.stderr.len().saturating_sub(500)..]
    );
    assert!(run.stderr.contains("(line too long to quote)"));
}

/// 20,000 enums and 20,000 rules comparing bare names: each name is looked
/// up once, not in every enum.
#[test]
fn many_bare_names_among_many_enums() {
    let mut text = String::new();
    for i in 0..20_000 {
        let _ = writeln!(text, "enum e{i} {{ v{i} }}");
    }
    text.push_str("signal s\naction a\n");
    for i in 0..20_000 {
        let _ = writeln!(text, "when s where v{i} == v{} then a", 19_999 - i);
    }
    let (run, _) = check("bare_names", &text);
    assert_eq!(run.code, Some(1));
    // Each rule compares values of two different enums.
    let report = run.json();
    assert_eq!(report["errors"], 20_000);
    assert_eq!(codes(&report).get("jrule::unknown_value"), Some(&20_000));
}

/// An action of 5,000 parameters called 5,000 times with none: each report
/// quotes a bounded signature.
#[test]
fn wrong_calls_of_an_action_with_many_parameters() {
    let params: Vec<String> = (0..5_000).map(|i| format!("p{i}: int")).collect();
    let text = format!(
        "signal s\naction a({})\n{}",
        params.join(", "),
        "when s then a\n".repeat(5_000)
    );
    let (run, _) = check("wide_action", &text);
    assert_eq!(run.code, Some(1));
    let report = run.json();
    assert_eq!(codes(&report).get("jrule::arity"), Some(&5_000));
    let help = report["diagnostics"][0]["help"].as_str().unwrap();
    assert!(help.len() < 1_000 && help.ends_with(", …)`"), "{help}");
}

/// A journey of `n` stages in a chain, a rule per stage, and a rule that
/// moves into the first stage from outside.
fn stage_chain(n: usize) -> String {
    let stages: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    let mut text = format!(
        "signal step\naction a\njourney j {{\n  stages {}\n",
        stages.join(" -> ")
    );
    text.push_str("  rule start: when step then move to s0\n");
    for i in 0..n - 1 {
        let _ = writeln!(text, "  when step in s{i} then move to s{}", i + 1);
    }
    text.push_str("}\n");
    text
}

/// 20,000 stages, each with an edge back to the first, so that `start`
/// can move from every stage but the first and conflicts with the rule of
/// each: checking and rendering the warnings (each names a rule up to
/// 20,000 lines away) stays linear.
#[test]
fn a_long_chain_of_stages_checks() {
    let n = 20_000;
    let back: String = (1..n).map(|i| format!("  stages s{i} -> s0\n")).collect();
    let text = stage_chain(n).replacen("  rule start:", &format!("{back}  rule start:"), 1);
    let (run, file) = check("stage_chain", &text);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        codes(&report).get("jrule::conflicting_moves"),
        Some(&(n - 2))
    );
    let dir = file.parent().unwrap();
    let run = jrule(dir, &["check", file.to_str().unwrap()]);
    assert_eq!(run.code, Some(0));
    assert!(
        run.stderr.len() < 20_000 * 1_000,
        "{} bytes of warnings",
        run.stderr.len()
    );
    assert!(run.stderr.contains("conflicts with this one: "));
}

/// A customer walks the first steps of a chain of 2,000 stages.
#[test]
fn a_long_chain_of_stages_runs() {
    let (run, file) = check("stage_chain_run", &stage_chain(2_000));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let dir = file.parent().unwrap();
    let events = dir.join("events.jsonl");
    let mut lines = String::new();
    for t in 0..3 {
        let _ = writeln!(lines, r#"{{"customer":"c1","signal":"step","time":{t}}}"#);
    }
    std::fs::write(&events, lines).expect("write");
    let run = jrule(
        dir,
        &[
            "run",
            file.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let to: Vec<Value> = run
        .lines()
        .iter()
        .map(|d| d["args"]["to"].clone())
        .collect();
    assert_eq!(to, ["s0", "s1", "s2"]);
}

/// Compiling kept, for each rule with an `in` clause, a flag per stage of
/// its journey, and found stages by name in a list: a chain of 60,000
/// stages took 3.6 GB and minutes. Now each rule keeps its own stages and
/// names are hashed: it runs under a 1.5 GB address space limit.
#[test]
#[cfg(target_os = "linux")]
fn compiling_a_long_chain_of_stages_is_not_quadratic() {
    let dir = scratch("stage_chain_compile");
    let program = dir.join("chain.jr");
    std::fs::write(&program, stage_chain(60_000)).expect("write");
    let events = dir.join("events.jsonl");
    std::fs::write(
        &events,
        "{\"customer\":\"c1\",\"signal\":\"step\",\"time\":0}\n",
    )
    .expect("write");
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -v 1500000 && exec "$0" "$@""#)
        .arg(BIN)
        .args([
            "run",
            program.to_str().unwrap(),
            "--events",
            events.to_str().unwrap(),
        ]);
    let run = finish(command, &dir, None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.lines().len(), 1);
}
