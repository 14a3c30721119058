//! The soundness property: for any source, either the check reports an
//! error, or the program compiles and its engine runs without panicking.
//!
//! Every program of `examples/`, `tests/corpus/check/` and the spec's
//! examples (`../shared/spec/examples`, when present) is mutated at random
//! (seeded, so a failure is reproducible): an identifier replaced by
//! another of the same program, a token or a line deleted or duplicated,
//! two lines swapped, the text truncated, a keyword inserted. Each mutant
//! goes through `fuzz/fuzz_targets/common/sound.rs`, the property the
//! `compile` fuzz target checks.

#[path = "../fuzz/fuzz_targets/common/sound.rs"]
mod sound;

use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use jrule::{Code, Program, Source};

/// Mutants per program: about 90 programs make some 5,000 mutants.
const MUTANTS: u64 = 60;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (which must not be 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The byte ranges of the tokens of `text`: identifiers (with digits, so
/// that `30m` is one token), and every other non-blank character alone.
fn tokens(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = start + c.len_utf8();
        if c.is_alphanumeric() || c == '_' {
            while let Some(&(i, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_') {
                    break;
                }
                end = i + d.len_utf8();
                chars.next();
            }
        }
        out.push(start..end);
    }
    out
}

fn is_identifier(word: &str) -> bool {
    word.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// One random mutation of `text` (which may leave it unchanged).
fn mutate(text: &str, rng: &mut Rng) -> String {
    let toks = tokens(text);
    let idents: Vec<&Range<usize>> = toks
        .iter()
        .filter(|t| is_identifier(&text[(*t).clone()]))
        .collect();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let splice = |range: Range<usize>, with: &str| {
        format!("{}{with}{}", &text[..range.start], &text[range.end..])
    };
    match rng.below(8) {
        // Another identifier of the same program in place of one.
        0 | 1 if idents.len() > 1 => {
            let at = idents[rng.below(idents.len())].clone();
            let with = &text[idents[rng.below(idents.len())].clone()];
            splice(at, with)
        }
        2 if !toks.is_empty() => splice(toks[rng.below(toks.len())].clone(), ""),
        3 if !toks.is_empty() => {
            let t = toks[rng.below(toks.len())].clone();
            let copy = format!(" {}", &text[t.clone()]);
            splice(t.end..t.end, &copy)
        }
        4 if !lines.is_empty() => {
            let mut lines = lines.clone();
            let i = rng.below(lines.len());
            if rng.below(2) == 0 {
                lines.remove(i);
            } else {
                lines.insert(i, lines[i]);
            }
            lines.concat()
        }
        5 if lines.len() > 1 => {
            let mut lines = lines.clone();
            let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
            lines.swap(i, j);
            if !lines.last().is_some_and(|l| l.ends_with('\n')) {
                // The last line had no newline: keep the lines apart.
                return lines.join("\n");
            }
            lines.concat()
        }
        6 if !text.is_empty() => {
            let mut at = rng.below(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
        _ => {
            let at = toks
                .get(rng.below(toks.len() + 1))
                .map_or(text.len(), |t| t.start);
            let keyword = jrule::syntax::KEYWORDS[rng.below(jrule::syntax::KEYWORDS.len())];
            splice(at..at, &format!("{keyword} "))
        }
    }
}

/// The programs to mutate: name and text, without repeated texts.
fn programs() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, String)> = Vec::new();
    for dir in ["examples", "tests/corpus/check", "../shared/spec/examples"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "jr"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).expect("a program");
            if out.iter().all(|(_, t)| *t != text) {
                out.push((
                    format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                    text,
                ));
            }
        }
    }
    out
}

#[test]
fn every_mutant_either_fails_to_check_or_compiles_and_runs() {
    let programs = programs();
    assert!(
        programs.len() >= 50,
        "the corpus is there ({} programs)",
        programs.len()
    );
    let (mut total, mut resolved) = (0u64, 0u64);
    let mut failures = Vec::new();
    for (p, (name, text)) in programs.iter().enumerate() {
        for m in 0..MUTANTS {
            let seed = (p as u64) << 32 | m;
            let mut rng = Rng::new(seed);
            let mut mutant = text.clone();
            for _ in 0..1 + rng.below(2) {
                mutant = mutate(&mutant, &mut rng);
            }
            let sources = [Source::new(name.as_str(), mutant.as_str())];
            total += 1;
            match panic::catch_unwind(AssertUnwindSafe(|| sound::assert_sound(&sources))) {
                Ok(true) => resolved += 1,
                Ok(false) => {}
                Err(e) => {
                    let message = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!(
                        "{name}, seed {seed:#x}: {message}\n--- mutant ---\n{mutant}\n--- end ---"
                    ));
                }
            }
        }
    }
    eprintln!(
        "{total} mutants of {} programs, {resolved} resolved, {} failures",
        programs.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} mutants break the property:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The mutations must leave some programs that still compile, or the
    // engine half of the property is never exercised.
    assert!(
        resolved * 20 > total,
        "only {resolved} of {total} mutants resolved"
    );
}

/// A program in two files: declarations in one, rules in the other.
#[test]
fn a_program_in_two_files_is_sound() {
    for (decls, rules) in [
        ("signal hi\naction greet\n", "when hi then greet\n"),
        ("signal hi\n", "action greet\nwhen ho then greet\n"),
        ("action greet\n", "when hi then greet\n"),
    ] {
        sound::assert_sound(&[Source::new("a.jr", decls), Source::new("b.jr", rules)]);
    }
}

fn unknown_signal(text: &str, help: &str) {
    let sources = [Source::new("probe.jr", text)];
    let checked = jrule::check(&sources);
    let found: Vec<_> = checked
        .diagnostics
        .iter()
        .map(|d| (d.code, &text[d.span.range()], d.help.as_deref()))
        .collect();
    assert!(
        found.contains(&(Code::UnknownSignal, "hoo", Some(help))),
        "{found:?}"
    );
    assert!(checked.diagnostics.errors() > 0);
    assert!(checked.resolved().is_none());
    let err = Program::compile(&sources).expect_err("an unknown signal does not compile");
    assert!(
        err.to_string()
            .contains("error[jrule::unknown_signal]: unknown signal `hoo`"),
        "{err}"
    );
    assert!(!sound::assert_sound(&sources));
}

/// The probe: a rule on a signal that is not declared, with two
/// near names declared.
#[test]
fn an_unknown_signal_near_two_declared_ones_is_an_error_with_a_suggestion() {
    unknown_signal(
        "signal hi\nsignal ho\naction greet\nwhen hoo then greet\n",
        "did you mean `ho`?",
    );
}

/// The same with no signal declared at all, which used to compile and
/// panic in the compiler.
#[test]
fn an_unknown_signal_with_no_signal_declared_is_an_error() {
    unknown_signal(
        "action greet\nwhen hoo then greet\n",
        "declare it with `signal hoo`",
    );
}

/// Warnings do not stop a program: it resolves, compiles and runs.
#[test]
fn a_program_with_only_warnings_resolves() {
    let text = "signal hi\nsignal unused\naction greet\nwhen hi then greet\n";
    let sources = [Source::new("warn.jr", text)];
    let checked = jrule::check(&sources);
    assert_eq!(checked.diagnostics.errors(), 0);
    let codes: Vec<Code> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::Unused]);
    assert!(checked.resolved().is_some());
    assert!(Program::compile(&sources).is_ok());
    assert!(sound::assert_sound(&sources));
}
