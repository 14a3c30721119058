//! `jrule test`: the test blocks of `tests/corpus/test/NAME.jr` run with
//! exactly the report `NAME.expected` (regenerate with `JRULE_BLESS=1`), and
//! the exit status is 1 when a test fails; the examples' own tests pass.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_jrule");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/test");

fn jrule(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run jrule")
}

#[test]
fn reports_of_the_corpus() {
    let dir = Path::new(CORPUS);
    let mut cases = 0;
    for entry in std::fs::read_dir(dir).expect("corpus") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "jr") {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let output = jrule(dir, &["test", name]);
        let report = String::from_utf8_lossy(&output.stdout).to_string();
        let expected_path = path.with_extension("expected");
        if std::env::var_os("JRULE_BLESS").is_some() {
            std::fs::write(&expected_path, &report).expect("bless");
        }
        let expected = std::fs::read_to_string(&expected_path).expect("NAME.expected");
        assert_eq!(report, expected, "report of {name}");
        let failing = expected.contains("test result: FAILED");
        assert_eq!(
            output.status.code(),
            Some(if failing { 1 } else { 0 }),
            "{name}"
        );
        cases += 1;
    }
    assert!(cases >= 1);
}

#[test]
fn a_program_that_does_not_check_runs_no_test() {
    let dir = std::env::temp_dir().join(format!("jrule-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("bad.jr"),
        "signal s\naction a\nwhen s then a\ntest \"t\" {\n  when s\n  then b\n}\n",
    )
    .expect("write");
    let output = jrule(&dir, &["test", "bad.jr"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("jrule::unknown_action"), "{stderr}");
    let output = jrule(&dir, &["test", "missing.jr"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_file_without_tests_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/graph");
    let output = jrule(&dir, &["test", "shop.jr"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "running 0 tests\n\ntest result: ok. 0 passed; 0 failed\n"
    );
}

#[test]
fn every_example_passes_its_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(&dir).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "jr") {
            let name = path.file_name().and_then(|n| n.to_str()).expect("name");
            let output = jrule(&dir, &["test", name]);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{name}:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
