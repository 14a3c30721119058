//! Every example program, ours and the design's, checks with no diagnostic.

use std::path::Path;

use jrule::Source;

fn check_clean(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("examples folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "jr") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("example");
        let sources = [Source::new(path.display().to_string(), text)];
        let checked = jrule::check(&sources);
        let found: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        assert!(found.is_empty(), "{}: {found:?}", path.display());
        n += 1;
    }
    n
}

#[test]
fn our_examples_check_clean() {
    assert!(check_clean(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")) >= 4);
}

#[test]
fn the_design_examples_check_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/examples");
    assert_eq!(check_clean(&dir), 3);
}

/// Every `examples/NAME.events.jsonl`, replayed with `jrule run
/// examples/NAME.jr`, prints exactly `examples/NAME.decisions.jsonl` and
/// exits 0 (every event accepted).
#[test]
fn example_event_streams_give_their_decisions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut streams = 0;
    for entry in std::fs::read_dir(&dir).expect("examples folder") {
        let path = entry.expect("entry").path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".events.jsonl"))
        else {
            continue;
        };
        let program = dir.join(format!("{name}.jr"));
        let expected = std::fs::read(dir.join(format!("{name}.decisions.jsonl")))
            .unwrap_or_else(|e| panic!("{name}.decisions.jsonl: {e}"));
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_jrule"))
            .arg("run")
            .arg(&program)
            .arg("--events")
            .arg(&path)
            .output()
            .expect("run jrule");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.stdout == expected,
            "{name}: the decisions differ from {name}.decisions.jsonl:\n{}",
            String::from_utf8_lossy(&output.stdout)
        );
        streams += 1;
    }
    assert!(streams >= 6, "found {streams} event streams");
}
