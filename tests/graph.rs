//! `jrule graph`: the exact DOT and Mermaid of programs under
//! `tests/corpus/graph` (`NAME.jr` → `NAME.dot`, `NAME.mmd`; regenerate with
//! `JRULE_BLESS=1`), and its exit statuses.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_jrule");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/graph");

fn jrule(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(CORPUS)
        .output()
        .expect("run jrule")
}

fn expect(args: &[&str], file: &str) {
    let output = jrule(args);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
    let actual = String::from_utf8(output.stdout).expect("UTF-8");
    let path = Path::new(CORPUS).join(file);
    if std::env::var_os("JRULE_BLESS").is_some() {
        std::fs::write(&path, &actual).expect("bless");
    }
    let expected = std::fs::read_to_string(&path).expect("expected output");
    assert_eq!(actual, expected, "jrule {args:?} differs from {file}");
}

#[test]
fn dot_and_mermaid_of_every_corpus_program() {
    let mut seen = 0;
    for entry in std::fs::read_dir(CORPUS).expect("corpus") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "jr") {
            let name = path.file_name().and_then(|n| n.to_str()).expect("name");
            let stem = name.trim_end_matches(".jr");
            expect(&["graph", name], &format!("{stem}.dot"));
            expect(
                &["graph", name, "--format", "mermaid"],
                &format!("{stem}.mmd"),
            );
            seen += 1;
        }
    }
    assert!(seen >= 2);
}

#[test]
fn the_shop_graph_draws_moves_timers_unused_edges_and_unreachable_stages() {
    let dot = String::from_utf8(jrule(&["graph", "shop.jr"]).stdout).expect("UTF-8");
    // Entry from outside, and a move drawn from every stage the rule can fire in.
    assert!(dot.contains("j0_start -> j0_s0 [label=\"start\\nvisit\"];"));
    assert!(dot.contains("j0_s1 -> j0_s0 [label=\"start\\nvisit\"];"));
    // A stay timer that moves: dashed; a wait that only acts: a loop.
    assert!(
        dot.contains("j0_s1 -> j0_s0 [label=\"drop (timer)\\nin carting for 1h\", style=dashed];")
    );
    assert!(dot.contains(
        "j0_s0 -> j0_s0 [label=\"remind (timer)\\nno click within 30m after visit\\n→ nudge\""
    ));
    // An edge no rule takes, into a stage no rule reaches.
    assert!(dot.contains("j0_s1 -> j0_s2 [style=dotted"));
    assert!(dot.contains("j0_s2 [label=\"bought\\n(unreachable)\""));
}

#[test]
fn one_journey_by_name() {
    let output = jrule(&[
        "graph",
        "hotel.jr",
        "--journey",
        "stay",
        "--format",
        "mermaid",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("---\ntitle: journey stay\n"));
    let output = jrule(&["graph", "hotel.jr", "--journey", "stai"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: the program has no journey `stai`\n"
    );
}

#[test]
fn a_program_that_does_not_check_draws_nothing() {
    let dir = std::env::temp_dir().join(format!("jrule-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.jr");
    std::fs::write(
        &file,
        "journey j {\n  stages a -> b\n  rule r: when nope then move to b\n}\n",
    )
    .expect("write");
    let output = jrule(&["graph", file.to_str().expect("path")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("jrule::unknown_signal"), "{stderr}");
    assert!(
        stderr.ends_with("error: the program does not check\n"),
        "{stderr}"
    );
    let output = jrule(&["graph", "missing.jr"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn svg_through_graphviz_or_a_way_to_install_it() {
    let output = jrule(&["graph", "hotel.jr", "--format", "svg"]);
    let has_dot = Command::new("dot").arg("-V").output().is_ok();
    if has_dot {
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let svg = String::from_utf8_lossy(&output.stdout);
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("journey stay"));
    } else {
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("install Graphviz"), "{stderr}");
    }
}

#[test]
fn output_file_is_replaced_only_on_success() {
    let dir = std::env::temp_dir().join(format!("jrule-graph-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let target = dir.join("hotel.svg");
    let target_arg = target.to_str().expect("UTF-8 path");

    // DOT always draws: the file gets exactly what stdout would.
    let output = jrule(&["graph", "hotel.jr", "--output", target_arg]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stdout.is_empty());
    let stdout = jrule(&["graph", "hotel.jr"]).stdout;
    assert_eq!(std::fs::read(&target).expect("written"), stdout);

    // SVG: written when Graphviz draws it; without `dot` the existing file
    // is left as it was, with the usual error.
    std::fs::write(&target, "old picture").expect("write");
    let output = jrule(&["graph", "hotel.jr", "--format", "svg", "-o", target_arg]);
    let after = std::fs::read_to_string(&target).expect("still there");
    if Command::new("dot").arg("-V").output().is_ok() {
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert!(after.contains("<svg"), "{after}");
    } else {
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("install Graphviz"), "{stderr}");
        assert_eq!(after, "old picture");
    }

    // A program that does not check leaves the file alone too.
    let output = jrule(&["graph", "missing.jr", "--output", target_arg]);
    assert_eq!(output.status.code(), Some(2));
    // Nothing else is left in the folder (no temporary file).
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["hotel.svg"]);

    // A folder that does not exist is an I/O problem, reported as such.
    let nowhere = dir.join("no/such/dir/x.dot");
    let output = jrule(&["graph", "hotel.jr", "-o", nowhere.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "error: cannot write the graph: `{}`: no such file\n",
            nowhere.display()
        )
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
