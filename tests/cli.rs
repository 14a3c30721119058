//! `jrule check` as a user runs it: the real binary, its exit status, its
//! JSON on stdout and its rendered diagnostics on stderr (CLI.md).

use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_jrule");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

const EXAMPLES: [&str; 3] = [
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/examples/hotel.jr"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/examples/bank_loan.jr"
    ),
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/examples/retail.jr"
    ),
];

/// Runs `jrule ARGS…` in the fixtures folder (so that file names in the
/// output are as short as the user typed them), without colour.
fn jrule(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(FIXTURES)
        .env("NO_COLOR", "1")
        .output()
        .expect("run jrule")
}

fn status(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| {
        panic!(
            "jrule was killed by a signal: {}\n{}",
            output.status,
            stderr(output)
        )
    })
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Runs `jrule check --format json ARGS…`; returns the status and the JSON.
fn check_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let output = jrule(&all);
    let json = serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| {
        panic!(
            "stdout of `jrule {}` is not JSON ({e}):\n{}\nstderr:\n{}",
            all.join(" "),
            stdout(&output),
            stderr(&output)
        )
    });
    (status(&output), json)
}

fn clean() -> Value {
    json!({"diagnostics": [], "errors": 0, "warnings": 0})
}

// ------------------------------------------------------------ clean input

#[test]
fn each_spec_example_checks_clean() {
    for example in EXAMPLES {
        let human = jrule(&["check", example]);
        assert_eq!(status(&human), 0, "{example}:\n{}", stderr(&human));
        assert_eq!(
            stderr(&human),
            "checked 1 file: 0 errors, 0 warnings\n",
            "{example}: a clean program prints only the summary"
        );
        let quiet = jrule(&["check", "--quiet", example]);
        assert_eq!(status(&quiet), 0, "{example}");
        assert_eq!(stderr(&quiet), "", "{example}: --quiet prints nothing");
        assert_eq!(
            stdout(&human),
            "",
            "{example}: human output never goes to stdout"
        );

        let (code, json) = check_json(&[example]);
        assert_eq!(code, 0, "{example}: {json:#}");
        assert_eq!(json, clean(), "{example}");

        let output = jrule(&["check", "--format", "json", example]);
        assert_eq!(
            stderr(&output),
            "",
            "{example}: JSON mode writes nothing to stderr"
        );
        assert_eq!(
            stdout(&output).trim_end(),
            r#"{"diagnostics":[],"errors":0,"warnings":0}"#,
            "{example}"
        );
    }
}

#[test]
fn spec_examples_check_clean_with_deny_warnings() {
    for example in EXAMPLES {
        let (code, json) = check_json(&["--deny-warnings", example]);
        assert_eq!(code, 0, "{example}: {json:#}");
        assert_eq!(json, clean(), "{example}");
    }
}

#[test]
fn two_file_program_checks_clean_in_either_order() {
    for files in [["decls.jr", "journey.jr"], ["journey.jr", "decls.jr"]] {
        let (code, json) = check_json(&files);
        assert_eq!(code, 0, "{files:?}: {json:#}");
        assert_eq!(json, clean(), "{files:?}");

        let human = jrule(&["check", files[0], files[1]]);
        assert_eq!(status(&human), 0, "{files:?}");
        assert_eq!(
            stderr(&human),
            "checked 2 files: 0 errors, 0 warnings\n",
            "{files:?}"
        );
    }
}

#[test]
fn journey_without_its_declarations_file_has_unknown_signals() {
    let (code, json) = check_json(&["journey.jr"]);
    assert_eq!(code, 1, "{json:#}");
    let list = json["diagnostics"].as_array().expect("diagnostics");
    assert!(
        list.iter()
            .all(|d| d["severity"] == "error" && d["file"] == "journey.jr"),
        "{json:#}"
    );
    assert_eq!(json["errors"], list.len(), "{json:#}");
    assert_eq!(json["warnings"], 0, "{json:#}");

    let signals: Vec<_> = list
        .iter()
        .filter(|d| d["code"] == "jrule::unknown_signal")
        .map(|d| {
            (
                d["message"].as_str().unwrap(),
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        signals,
        vec![
            ("unknown signal `key_used`", 6, 10),
            ("unknown signal `checked_out`", 11, 10)
        ],
        "{json:#}"
    );
    // The other names it lacks are reported too, each as what it is.
    let codes: Vec<_> = list.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"jrule::unknown_place"), "{json:#}");
    assert!(codes.contains(&"jrule::unknown_action"), "{json:#}");
}

// ------------------------------------------------------------- JSON shape

#[test]
fn unknown_signal_typo_json_is_exact() {
    let (code, json) = check_json(&["typo.jr"]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        json,
        json!({
            "diagnostics": [{
                "code": "jrule::unknown_signal",
                "severity": "error",
                "message": "unknown signal `key_usd`",
                "file": "typo.jr",
                "line": 7,
                "column": 6,
                "end_line": 7,
                "end_column": 13,
                "help": "did you mean `key_used`?"
            }],
            "errors": 1,
            "warnings": 0
        })
    );
}

#[test]
fn json_is_one_object_on_one_line_and_nothing_on_stderr() {
    let output = jrule(&["check", "--format", "json", "typo.jr"]);
    assert_eq!(status(&output), 1);
    assert_eq!(stderr(&output), "");
    let out = stdout(&output);
    assert!(out.ends_with('\n'), "{out:?}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
}

#[test]
fn json_file_is_the_path_as_given() {
    let path = format!("{FIXTURES}/typo.jr");
    let (code, json) = check_json(&[&path]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["diagnostics"][0]["file"], path.as_str(), "{json:#}");
}

// ------------------------------------------------------------ human output

#[test]
fn human_output_without_colour() {
    let output = jrule(&["check", "typo.jr"]);
    assert_eq!(status(&output), 1);
    assert!(output.stdout.is_empty(), "stdout: {:?}", stdout(&output));
    let err = stderr(&output);
    assert!(
        !err.contains('\u{1b}'),
        "NO_COLOR=1 but stderr has an escape:\n{err}"
    );
    assert!(err.contains("typo.jr:7:6"), "file, line and column:\n{err}");
    assert!(err.contains("jrule::unknown_signal"), "the code:\n{err}");
    assert!(
        err.contains("unknown signal `key_usd`"),
        "the message:\n{err}"
    );
    assert!(err.contains("did you mean `key_used`?"), "the help:\n{err}");
    assert!(
        err.contains("when key_usd at hotel then offer room_service"),
        "the source line:\n{err}"
    );
    assert!(err.contains("1 error, 0 warnings"), "the summary:\n{err}");
}

#[test]
fn human_output_is_not_coloured_when_stderr_is_not_a_terminal() {
    // Even without NO_COLOR: stderr is a pipe here.
    let output = Command::new(BIN)
        .args(["check", "typo.jr"])
        .current_dir(FIXTURES)
        .env_remove("NO_COLOR")
        .output()
        .expect("run jrule");
    assert_eq!(status(&output), 1);
    let err = stderr(&output);
    assert!(
        !err.contains('\u{1b}'),
        "stderr is a pipe but has an escape:\n{err}"
    );
    assert!(err.contains("jrule::unknown_signal"), "{err}");
}

#[test]
fn library_run_colours_only_when_asked() {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: jrule::cli::check::CheckArgs,
    }
    let path = format!("{FIXTURES}/typo.jr");
    let args = Wrapper::parse_from(["check", path.as_str()]).args;
    for colour in [false, true] {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = jrule::cli::check::run(&args, &mut out, &mut err, colour);
        assert_eq!(code, 1);
        assert!(out.is_empty());
        let err = String::from_utf8(err).unwrap();
        assert_eq!(err.contains('\u{1b}'), colour, "colour {colour}:\n{err}");
        assert!(err.contains("unknown signal `key_usd`"), "{err}");
    }
}

// ------------------------------------------------------------- exit codes

#[test]
fn warnings_alone_exit_zero() {
    let (code, json) = check_json(&["warning_only.jr"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["errors"], 0, "{json:#}");
    assert_eq!(json["warnings"], 1, "{json:#}");
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "jrule::unused", "{json:#}");
    assert_eq!(d["severity"], "warning", "{json:#}");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(4), Some(8)),
        "{json:#}"
    );

    let human = jrule(&["check", "warning_only.jr"]);
    assert_eq!(status(&human), 0);
    let err = stderr(&human);
    assert!(err.contains("jrule::unused"), "{err}");
    assert!(err.contains("0 errors, 1 warning"), "{err}");
}

#[test]
fn deny_warnings_turns_warnings_into_errors() {
    let (code, json) = check_json(&["--deny-warnings", "warning_only.jr"]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(
        json,
        json!({
            "diagnostics": [{
                "code": "jrule::unused",
                "severity": "error",
                "message": "signal `never_sent` is never used",
                "file": "warning_only.jr",
                "line": 4,
                "column": 8,
                "end_line": 4,
                "end_column": 18,
                "help": "use it in a trigger or goal, or remove it"
            }],
            "errors": 1,
            "warnings": 0
        })
    );

    // The flag may come after the file, too.
    let human = jrule(&["check", "warning_only.jr", "--deny-warnings"]);
    assert_eq!(status(&human), 1);
    assert!(
        stderr(&human).contains("1 error, 0 warnings"),
        "{}",
        stderr(&human)
    );
}

#[test]
fn missing_file_is_an_io_problem() {
    for format in ["human", "json"] {
        let output = jrule(&["check", "--format", format, "no_such_file.jr"]);
        assert_eq!(status(&output), 2, "{format}");
        assert!(
            stderr(&output).contains("no_such_file.jr"),
            "{format}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{format}: {}", stdout(&output));
    }
    // One missing file among good ones is still an I/O problem.
    let output = jrule(&["check", "decls.jr", "missing_journey.jr"]);
    assert_eq!(status(&output), 2);
    assert!(
        stderr(&output).contains("missing_journey.jr"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn directory_is_an_io_problem() {
    let output = jrule(&["check", "."]);
    assert_eq!(status(&output), 2, "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "error: cannot read `.`: it is a directory\n"
    );
}

#[test]
fn io_problems_are_worded_exactly() {
    let output = jrule(&["check", "decls.jr", "missing_journey.jr"]);
    assert_eq!(status(&output), 2);
    assert_eq!(
        stderr(&output),
        "error: cannot read `missing_journey.jr`: no such file\n"
    );
    // The library reads sources with the same messages.
    let e = jrule::Source::read(format!("{FIXTURES}/missing_journey.jr")).unwrap_err();
    assert!(matches!(e, jrule::SourceError::NotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("cannot read `{FIXTURES}/missing_journey.jr`: no such file")
    );
    let read = jrule::Source::read_all(&[format!("{FIXTURES}/decls.jr")]).expect("readable");
    assert_eq!(read[0].name, format!("{FIXTURES}/decls.jr"));
}

// ---------------------------------------------------------------- summary

#[test]
fn summary_replaces_the_count_after_diagnostics() {
    let output = jrule(&["check", "typo.jr"]);
    assert_eq!(status(&output), 1);
    let err = stderr(&output);
    assert!(
        err.ends_with("\nchecked 1 file: 1 error, 0 warnings\n"),
        "{err}"
    );
    assert_eq!(err.matches("1 error, 0 warnings").count(), 1, "{err}");

    let output = jrule(&["check", "warning_only.jr"]);
    let err = stderr(&output);
    assert_eq!(status(&output), 0, "{err}");
    assert!(
        err.ends_with("\nchecked 1 file: 0 errors, 1 warning\n"),
        "{err}"
    );
}

#[test]
fn quiet_prints_diagnostics_without_the_summary() {
    for flag in ["--quiet", "-q"] {
        let output = jrule(&["check", flag, "typo.jr"]);
        assert_eq!(status(&output), 1, "{flag}");
        let err = stderr(&output);
        assert!(err.contains("unknown signal `key_usd`"), "{flag}: {err}");
        assert!(!err.contains("checked"), "{flag}: {err}");
        assert!(!err.contains("1 error"), "{flag}: {err}");
        assert!(output.stdout.is_empty(), "{flag}");

        let output = jrule(&["check", flag, "decls.jr", "journey.jr"]);
        assert_eq!(status(&output), 0, "{flag}");
        assert_eq!(stderr(&output), "", "{flag}");
    }
    // JSON output has no summary to silence.
    let output = jrule(&["check", "-q", "--format", "json", "typo.jr"]);
    assert_eq!(status(&output), 1);
    assert_eq!(stderr(&output), "");
    let json: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(json["errors"], 1);
}

#[test]
fn usage_problems_exit_two() {
    let cases: [&[&str]; 6] = [
        &[],
        &["check"],
        &["check", "--format", "json"],
        &["check", "--no-such-flag", "typo.jr"],
        &["check", "--format", "xml", "typo.jr"],
        &["no-such-command"],
    ];
    for args in cases {
        let output = jrule(args);
        assert_eq!(status(&output), 2, "jrule {args:?}: {}", stderr(&output));
        assert!(
            !stderr(&output).is_empty(),
            "jrule {args:?} explains itself"
        );
        assert!(
            output.stdout.is_empty(),
            "jrule {args:?}: {}",
            stdout(&output)
        );
    }
    let output = jrule(&["check", "--format", "xml", "typo.jr"]);
    assert!(stderr(&output).contains("xml"), "{}", stderr(&output));
}

#[test]
fn help_and_version_exit_zero() {
    for args in [&["--help"][..], &["check", "--help"], &["--version"]] {
        let output = jrule(args);
        assert_eq!(status(&output), 0, "jrule {args:?}: {}", stderr(&output));
        assert!(!output.stdout.is_empty(), "jrule {args:?}");
    }
}
