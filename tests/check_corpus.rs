//! The checker's corpus: every program under `tests/corpus/check/` carries
//! its expected diagnostics as `//~ SEVERITY CODE @COLUMN` comments on the
//! line the diagnostic points at (`//~^` for the line above). A file without
//! such comments must check clean. A folder is one program of several files.

use std::path::{Path, PathBuf};

use jrule::Source;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Expected {
    file: String,
    line: usize,
    column: usize,
    severity: String,
    code: String,
}

fn annotations(name: &str, text: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(at) = line.find("//~") else { continue };
        let rest = &line[at + 3..];
        let carets = rest.chars().take_while(|&c| c == '^').count();
        let mut words = rest[carets..].split_whitespace();
        let severity = words.next().expect("severity").to_string();
        let code = words.next().expect("code").to_string();
        let column = words
            .next()
            .and_then(|c| c.strip_prefix('@'))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("{name}:{}: annotation needs @COLUMN", i + 1));
        out.push(Expected {
            file: name.to_string(),
            line: i + 1 - carets,
            column,
            severity,
            code,
        });
    }
    out
}

fn program(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .expect("program folder")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "jr"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    }
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/check");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "jr"))
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 40,
        "the corpus has {} programs",
        entries.len()
    );
    let mut failures = Vec::new();
    for entry in &entries {
        let mut sources = Vec::new();
        let mut expected = Vec::new();
        for path in program(entry) {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).expect("corpus file");
            expected.extend(annotations(&name, &text));
            sources.push(Source::new(name, text));
        }
        let checked = jrule::check(&sources);
        let mut actual: Vec<Expected> = checked
            .diagnostics
            .iter()
            .map(|d| {
                let source = &sources[d.span.file as usize];
                let (line, column) = source.line_col(d.span.start as usize);
                Expected {
                    file: source.name.clone(),
                    line,
                    column,
                    severity: format!("{:?}", d.severity).to_lowercase(),
                    code: d.code.as_str().to_string(),
                }
            })
            .collect();
        actual.sort();
        expected.sort();
        if actual != expected {
            let show = |list: &[Expected]| {
                list.iter()
                    .map(|e| {
                        format!(
                            "    {}:{}:{} {} {}",
                            e.file, e.line, e.column, e.severity, e.code
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let messages: Vec<String> = checked
                .diagnostics
                .iter()
                .map(|d| format!("    {}", d.message))
                .collect();
            failures.push(format!(
                "{}\n  expected:\n{}\n  actual:\n{}\n  messages:\n{}",
                entry.display(),
                show(&expected),
                show(&actual),
                messages.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus programs differ:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
