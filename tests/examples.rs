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
