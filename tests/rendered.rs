//! Snapshots of rendered diagnostics: each corpus program `NAME.jr` with
//! diagnostics has `NAME.stderr` beside it, the exact text of
//! `jrule::cli::check::render` without colour: the diagnostics
//! `jrule check` prints, and the count line that its summary
//! (`checked 1 file: …`) replaces there. Run with `JRULE_BLESS=1` to write the snapshots
//! after an intended change, and review the diff.

use std::path::Path;

use jrule::cli::check::render;
use jrule::Source;

#[test]
fn rendered_diagnostics_match_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/check");
    let bless = std::env::var_os("JRULE_BLESS").is_some();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jr"))
        .collect();
    entries.sort();
    let mut stale = Vec::new();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let sources = vec![Source::new(
            name,
            std::fs::read_to_string(&path).expect("file"),
        )];
        let checked = jrule::check(&sources);
        let snapshot = path.with_extension("stderr");
        let text = render(&checked.diagnostics, &sources, false);
        if bless {
            if text.is_empty() {
                let _ = std::fs::remove_file(&snapshot);
            } else {
                std::fs::write(&snapshot, &text).expect("write snapshot");
            }
            continue;
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
        if expected != text {
            stale.push(format!(
                "{}\n--- expected\n{expected}\n--- actual\n{text}",
                snapshot.display()
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots differ (JRULE_BLESS=1 to update):\n{}",
        stale.join("\n")
    );
}
