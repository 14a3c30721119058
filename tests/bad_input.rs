//! Hostile input: whatever the bytes, `jrule check` never crashes, never
//! overflows its stack, and answers with a diagnostic (exit status 1).
//!
//! Library checks run on a thread with a 2 MiB stack, so that unbounded
//! recursion shows up as a failed test rather than passing by luck on the
//! main thread's larger stack. Other cases run the real binary.

use std::path::PathBuf;
use std::process::Command;

use jrule::{Severity, Source};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_jrule");

/// Declarations that the rules below use, on lines 1 and 2, so that the
/// rule under test always stands on line 3.
const PRE: &str = "signal s { n: int, b: bool }\naction a\n";

/// One diagnostic, flattened for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Diag {
    code: String,
    severity: Severity,
    line: usize,
    column: usize,
    message: String,
}

/// Checks one file with the library on a thread with a small stack.
fn check_lib(bytes: Vec<u8>) -> Vec<Diag> {
    std::thread::Builder::new()
        .name("check-small-stack".into())
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let source = Source::from_bytes("input.jr", bytes);
            let checked = jrule::check(std::slice::from_ref(&source));
            checked
                .diagnostics
                .iter()
                .map(|d| {
                    let (line, column) = source.line_col(d.span.start as usize);
                    Diag {
                        code: d.code.as_str().to_string(),
                        severity: d.severity,
                        line,
                        column,
                        message: d.message.clone(),
                    }
                })
                .collect()
        })
        .expect("spawn the checking thread")
        .join()
        .expect("the checker must not panic")
}

fn check_lib_text(text: impl Into<String>) -> Vec<Diag> {
    check_lib(text.into().into_bytes())
}

/// A fresh file under Cargo's scratch directory for integration tests.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad_input");
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the scratch file");
    path
}

/// Runs `jrule check --format json` on one file holding `bytes`; returns
/// the exit status and the parsed JSON.
fn check_bin(name: &str, bytes: &[u8]) -> (i32, Value) {
    let path = temp_file(name, bytes);
    let output = Command::new(BIN)
        .arg("check")
        .arg("--format")
        .arg("json")
        .arg(&path)
        .output()
        .expect("run jrule");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or_else(|| {
        panic!(
            "jrule was killed by a signal: {}\nstderr: {stderr}",
            output.status
        )
    });
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}), status {code}\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&output.stdout[..output.stdout.len().min(2000)])
        )
    });
    (code, json)
}

/// Runs `jrule check` (human output, no colour) on one file; returns the
/// exit status and stderr.
fn check_bin_human(name: &str, bytes: &[u8]) -> (i32, String) {
    let path = temp_file(name, bytes);
    let output = Command::new(BIN)
        .arg("check")
        .arg(&path)
        .env("NO_COLOR", "1")
        .output()
        .expect("run jrule");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let code = output.status.code().unwrap_or_else(|| {
        panic!(
            "jrule was killed by a signal: {}\nstderr: {stderr}",
            output.status
        )
    });
    assert!(output.stdout.is_empty(), "human output goes to stderr only");
    (code, stderr)
}

/// Asserts exactly one error diagnostic with `code` at `line` (and `column`
/// when given) and returns it.
fn single_error(diags: &[Diag], code: &str, line: usize, column: Option<usize>) -> Diag {
    assert_eq!(
        diags.len(),
        1,
        "expected exactly one diagnostic, got {diags:#?}"
    );
    let d = diags[0].clone();
    assert_eq!(d.code, code, "{d:#?}");
    assert_eq!(d.severity, Severity::Error, "{d:#?}");
    assert_eq!(d.line, line, "{d:#?}");
    if let Some(column) = column {
        assert_eq!(d.column, column, "{d:#?}");
    }
    d
}

/// The single diagnostic of a JSON answer, after checking the totals.
fn single_json_error(json: &Value) -> &Value {
    let list = json["diagnostics"].as_array().expect("a diagnostics array");
    assert_eq!(list.len(), 1, "expected exactly one diagnostic: {json:#}");
    assert_eq!(json["errors"], 1, "{json:#}");
    assert_eq!(json["warnings"], 0, "{json:#}");
    assert_eq!(list[0]["severity"], "error", "{json:#}");
    &list[0]
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const SEEDS: [u64; 4] = [1, 42, 0xDEAD_BEEF, 0x0123_4567_89AB_CDEF];

// ------------------------------------------------------------ deep nesting

#[test]
fn hundred_thousand_nested_parentheses_hit_the_nesting_limit() {
    let text = format!(
        "{PRE}when s where {}event.b{} then a\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let diags = check_lib_text(text);
    // "when s where " is 13 characters: the 65th `(` is at column 14 + 64.
    let d = single_error(&diags, "jrule::limit", 3, Some(14 + 64));
    assert!(
        d.message.contains("64"),
        "the message names the limit: {d:#?}"
    );
}

#[test]
fn hundred_thousand_open_brackets_hit_the_nesting_limit() {
    let text = format!("{PRE}when s where event.n in {}\n", "[".repeat(100_000));
    let (code, json) = check_bin("brackets.jr", text.as_bytes());
    assert_eq!(code, 1, "{json:#}");
    let d = single_json_error(&json);
    assert_eq!(d["code"], "jrule::limit", "{json:#}");
    assert_eq!(d["line"], 3, "{json:#}");
    // "when s where event.n in " is 24 characters: the 65th `[` is at 25 + 64.
    assert_eq!(d["column"], 25 + 64, "{json:#}");

    // Same answer from the library, on a small stack.
    single_error(&check_lib_text(text), "jrule::limit", 3, Some(25 + 64));
}

#[test]
fn hundred_thousand_not_prefixes_hit_the_expression_limit() {
    let text = format!("{PRE}when s where {}true then a\n", "not ".repeat(100_000));
    let diags = check_lib_text(text.clone());
    // The 257th `not` (column 14 + 256 * 4) is the first one past the limit.
    let d = single_error(&diags, "jrule::limit", 3, Some(14 + 256 * 4));
    assert!(
        d.message.contains("256"),
        "the message names the limit: {d:#?}"
    );

    let (code, json) = check_bin("nots.jr", text.as_bytes());
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(single_json_error(&json)["code"], "jrule::limit");
}

#[test]
fn hundred_thousand_negations_hit_the_expression_limit() {
    let text = format!(
        "{PRE}when s where {}event.n > 0 then a\n",
        "- ".repeat(100_000)
    );
    single_error(&check_lib_text(text), "jrule::limit", 3, None);
}

#[test]
fn million_term_sum_is_a_limit_not_a_crash() {
    // A 5 MB line: `1 + 1 + … + 1`, one million terms.
    let text = format!(
        "{PRE}when s where event.n == {}1 then a\n",
        "1 + ".repeat(999_999)
    );
    assert!(text.len() > 4_000_000);
    single_error(&check_lib_text(text), "jrule::limit", 3, None);
}

#[test]
fn expressions_at_the_limits_check_clean_on_a_small_stack() {
    let cases = [
        // 64 levels of brackets.
        format!(
            "{PRE}when s where {}event.b{} then a\n",
            "(".repeat(64),
            ")".repeat(64)
        ),
        // 63 levels of brackets, each under three `not`s: depth 1 + 63 * 3.
        format!(
            "{PRE}when s where {}event.b{} then a\n",
            "not not not (".repeat(63),
            ")".repeat(63)
        ),
        // 255 `not`s over one value: depth 256.
        format!("{PRE}when s where {}event.b then a\n", "not ".repeat(255)),
        // 255 terms of a sum compared with a value: depth 255.
        format!(
            "{PRE}when s where event.n == {}1 then a\n",
            "1 + ".repeat(254)
        ),
        // 256 operands of `and`: depth 256.
        format!(
            "{PRE}when s where {}true then a\n",
            "event.b and ".repeat(255)
        ),
    ];
    for text in cases {
        let diags = check_lib_text(text.clone());
        assert!(
            diags.is_empty(),
            "{diags:#?}\nfor {}…",
            &text[..text.len().min(200)]
        );
    }
}

#[test]
fn comparison_chain_of_nots_is_a_limit_not_a_stack_overflow() {
    let text = format!(
        "{PRE}when s where true{} then a\n",
        " == not true".repeat(100_000)
    );
    let (code, json) = check_bin("eq_not_chain.jr", text.as_bytes());
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(single_json_error(&json)["code"], "jrule::limit", "{json:#}");

    let short = format!(
        "{PRE}when s where true{} then a\n",
        " == not true".repeat(3_000)
    );
    single_error(&check_lib_text(short), "jrule::limit", 3, None);
}

// ------------------------------------------------------------- long lines

#[test]
fn five_megabyte_line_of_letters_is_a_syntax_error_at_its_start() {
    let text = "x".repeat(5 * 1024 * 1024);
    let (code, json) = check_bin("letters.jr", text.as_bytes());
    assert_eq!(code, 1, "{json:#}");
    let d = single_json_error(&json);
    assert_eq!(d["code"], "jrule::syntax", "{json:#}");
    assert_eq!(d["line"], 1, "{json:#}");
    assert_eq!(d["column"], 1, "{json:#}");
    // The message quotes the word, but not five megabytes of it.
    assert!(d["message"].as_str().unwrap().len() < 200, "{json:#}");

    // The human renderer does not quote the line either, and does not choke.
    let (code, stderr) = check_bin_human("letters.jr", text.as_bytes());
    assert_eq!(code, 1);
    assert!(stderr.contains("jrule::syntax"), "{stderr}");
    assert!(
        stderr.len() < 10_000,
        "the 5 MB line is not quoted: {} bytes",
        stderr.len()
    );

    single_error(&check_lib_text(text), "jrule::syntax", 1, Some(1));
}

// ----------------------------------------------------------- random bytes

#[test]
fn random_bytes_give_an_error_not_a_crash() {
    for seed in SEEDS {
        let bytes = Rng(seed).bytes(64 * 1024);
        let diags = check_lib(bytes);
        assert!(
            diags.iter().any(|d| d.severity == Severity::Error),
            "seed {seed}: {diags:#?}"
        );
    }
    let (code, json) = check_bin("random.jr", &Rng(SEEDS[1]).bytes(64 * 1024));
    assert_eq!(code, 1, "{json:#}");
    assert!(json["errors"].as_u64().unwrap() >= 1, "{json:#}");
}

#[test]
fn random_ascii_gives_an_error_not_a_crash() {
    // Valid UTF-8 all through, so the scanner and parser really run.
    for seed in SEEDS {
        let mut rng = Rng(seed);
        let bytes: Vec<u8> = (0..64 * 1024).map(|_| (rng.next() % 128) as u8).collect();
        let diags = check_lib(bytes.clone());
        assert!(
            diags.iter().any(|d| d.severity == Severity::Error),
            "seed {seed}: {diags:#?}"
        );
        let (code, json) = check_bin(&format!("ascii_{seed}.jr"), &bytes);
        assert_eq!(code, 1, "seed {seed}: {json:#}");
    }
}

#[test]
fn random_token_soup_gives_an_error_not_a_crash() {
    // The language's own words in random order: deeper into the parser
    // and the checker than random characters get.
    const OTHERS: &[&str] = &[
        "customer.tier",
        "event.n",
        "s",
        "a",
        "x",
        "hotel",
        "app",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ",",
        ":",
        "->",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "=",
        "?",
        ".",
        "0",
        "1",
        "-3",
        "2.5",
        "30s",
        "15m",
        "2h",
        "7d",
        "50%",
        "\"text\"",
        "\"\\u{1F600}\"",
        "int",
        "float",
        "text",
        "bool",
        "[text]",
        "// comment\n",
        "/* block */",
        "\n",
        "\n",
        "\n",
    ];
    let words: Vec<&str> = jrule::syntax::KEYWORDS
        .iter()
        .chain(OTHERS)
        .copied()
        .collect();
    for seed in SEEDS {
        let mut rng = Rng(seed);
        let mut text = String::from(PRE);
        while text.len() < 64 * 1024 {
            text.push_str(words[rng.below(words.len())]);
            text.push(' ');
        }
        let diags = check_lib_text(text);
        assert!(
            diags.iter().any(|d| d.severity == Severity::Error),
            "seed {seed}: {diags:#?}"
        );
    }
}

// ------------------------------------------------------ encoding and bytes

#[test]
fn bytes_that_are_not_utf8_are_a_syntax_error_where_they_stand() {
    let bytes = b"signal s\naction a\n// caf\xFF au lait\nwhen s then a\n".to_vec();
    // "// caf" is six characters: the bad byte is at column 7.
    let d = single_error(&check_lib(bytes.clone()), "jrule::syntax", 3, Some(7));
    assert!(d.message.contains("UTF-8"), "{d:#?}");

    let (code, json) = check_bin("latin1.jr", &bytes);
    assert_eq!(code, 1, "{json:#}");
    let d = single_json_error(&json);
    assert_eq!(d["code"], "jrule::syntax", "{json:#}");
    assert_eq!(d["line"], 3, "{json:#}");
    assert_eq!(d["column"], 7, "{json:#}");

    // Rendering the replaced byte does not trip the human renderer.
    let (code, stderr) = check_bin_human("latin1.jr", &bytes);
    assert_eq!(code, 1);
    assert!(stderr.contains("jrule::syntax"), "{stderr}");
}

#[test]
fn truncated_utf8_sequence_at_end_of_file_is_a_syntax_error() {
    // The first two bytes of `€` (E2 82 AC), then the file ends.
    let bytes = b"signal s\naction a\nwhen s then a // \xE2\x82".to_vec();
    single_error(&check_lib(bytes), "jrule::syntax", 3, Some(18));
}

#[test]
fn nul_byte_in_a_rule_is_a_syntax_error() {
    let text = format!("{PRE}when s \0where event.n > 1 then a\n");
    let d = single_error(&check_lib_text(text.clone()), "jrule::syntax", 3, Some(8));
    assert!(d.message.contains("found `\\0`"), "{d:#?}");

    let (code, json) = check_bin("nul.jr", text.as_bytes());
    assert_eq!(code, 1, "{json:#}");
    let d = single_json_error(&json);
    assert_eq!(d["code"], "jrule::syntax", "{json:#}");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(3), Some(8)),
        "{json:#}"
    );

    let (code, stderr) = check_bin_human("nul.jr", text.as_bytes());
    assert_eq!(code, 1);
    assert!(stderr.contains("jrule::syntax"), "{stderr}");
}

#[test]
fn nul_byte_inside_a_word_is_a_syntax_error() {
    let text = format!("{PRE}when s wh\0ere event.n > 1 then a\n");
    single_error(&check_lib_text(text), "jrule::syntax", 3, Some(8));
}

// ------------------------------------------------------------ integer range

#[test]
fn integer_one_past_i64_max_is_a_syntax_error() {
    let text = format!("{PRE}when s where event.n > 9223372036854775808 then a\n");
    let d = single_error(&check_lib_text(text.clone()), "jrule::syntax", 3, Some(24));
    assert!(d.message.contains("9223372036854775808"), "{d:#?}");

    let (code, json) = check_bin("int_max_plus_one.jr", text.as_bytes());
    assert_eq!(code, 1, "{json:#}");
    let d = single_json_error(&json);
    assert_eq!(d["code"], "jrule::syntax", "{json:#}");
    assert_eq!(d["line"], 3);
    assert_eq!(d["column"], 24);
    assert_eq!(d["end_column"], 24 + 19);
}

#[test]
fn i64_min_and_max_are_accepted() {
    for literal in ["-9223372036854775808", "9223372036854775807"] {
        let text = format!("{PRE}when s where event.n > {literal} then a\n");
        let diags = check_lib_text(text.clone());
        assert!(diags.is_empty(), "{literal}: {diags:#?}");
        let (code, json) = check_bin("int_bounds.jr", text.as_bytes());
        assert_eq!(code, 0, "{literal}: {json:#}");
        assert_eq!(
            json,
            serde_json::json!({"diagnostics": [], "errors": 0, "warnings": 0})
        );
    }
    let text = format!("{PRE}when s priority -9223372036854775808 then a\n");
    assert_eq!(check_lib_text(text), vec![]);
}

#[test]
fn out_of_range_integers_elsewhere_are_syntax_errors() {
    let cases = [
        (
            format!("{PRE}when s where event.n > -9223372036854775809 then a\n"),
            3,
            24,
        ),
        (
            format!("{PRE}when s limit 9223372036854775808 per 1h then a\n"),
            3,
            14,
        ),
        (
            format!("{PRE}when s priority 9223372036854775808 then a\n"),
            3,
            17,
        ),
        (
            "customer { x: int = 9223372036854775808 }\n".to_string(),
            1,
            21,
        ),
        (
            format!("{PRE}when s limit 1 per 999999999999999d then a\n"),
            3,
            20,
        ),
    ];
    for (text, line, column) in cases {
        let diags = check_lib_text(text.clone());
        assert!(
            diags.iter().any(|d| d.code == "jrule::syntax"
                && d.severity == Severity::Error
                && (d.line, d.column) == (line, column)),
            "{text}: {diags:#?}"
        );
    }
}

// ------------------------------------------------------------------- size

#[test]
fn source_over_16_mib_is_a_limit() {
    const MIB16: usize = 16 * 1024 * 1024;
    // One byte over, through the library.
    let text = format!("//{}", "a".repeat(MIB16 - 1));
    assert_eq!(text.len(), MIB16 + 1);
    let d = single_error(&check_lib_text(text), "jrule::limit", 1, Some(1));
    assert!(d.message.contains("16 MiB"), "{d:#?}");

    // Well over, through the binary (which stops reading past the limit).
    let mut bytes = b"// ".to_vec();
    bytes.resize(MIB16 + 1024 * 1024, b'a');
    let (code, json) = check_bin("huge.jr", &bytes);
    assert_eq!(code, 1, "{json:#}");
    let d = single_json_error(&json);
    assert_eq!(d["code"], "jrule::limit", "{json:#}");
    assert_eq!(d["line"], 1);
    assert_eq!(d["column"], 1);
}

#[test]
fn source_of_exactly_16_mib_is_accepted() {
    let text = format!("//{}", "a".repeat(16 * 1024 * 1024 - 2));
    assert_eq!(check_lib_text(text), vec![]);
}

// ------------------------------------------------------------ empty input

#[test]
fn empty_and_comment_only_files_check_clean() {
    let cases: [(&str, &[u8]); 4] = [
        ("empty.jr", b""),
        ("blank.jr", b" \n\t\r\n\n"),
        (
            "comments.jr",
            b"// only comments here\n/* a block\n   over lines */\n// last, no newline",
        ),
        ("crlf.jr", b"// windows\r\n/* line endings */\r\n"),
    ];
    for (name, bytes) in cases {
        let (code, json) = check_bin(name, bytes);
        assert_eq!(code, 0, "{name}: {json:#}");
        assert_eq!(
            json,
            serde_json::json!({"diagnostics": [], "errors": 0, "warnings": 0}),
            "{name}"
        );
        assert_eq!(check_lib(bytes.to_vec()), vec![], "{name}");
    }
}

// ------------------------------------------------------- several errors

#[test]
fn three_broken_items_give_three_syntax_errors() {
    let text = "\
signal s { n: int }
action a

signal = 3
when s then a
when s where then a
places hotel
action 5 exclusive
when s at hotel then a
";
    let diags = check_lib_text(text);
    let got: Vec<_> = diags
        .iter()
        .map(|d| (d.code.as_str(), d.severity, d.line, d.column))
        .collect();
    assert_eq!(
        got,
        vec![
            ("jrule::syntax", Severity::Error, 4, 8),
            ("jrule::syntax", Severity::Error, 6, 14),
            ("jrule::syntax", Severity::Error, 8, 8),
        ],
        "{diags:#?}"
    );

    let (code, json) = check_bin("three.jr", text.as_bytes());
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["errors"], 3, "{json:#}");
    let lines: Vec<_> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            ("jrule::syntax".to_string(), 4),
            ("jrule::syntax".to_string(), 6),
            ("jrule::syntax".to_string(), 8),
        ]
    );
}

#[test]
fn syntax_errors_are_capped_per_file() {
    let text = "signal = 1\n".repeat(100);
    let diags = check_lib_text(text);
    assert_eq!(diags.len(), jrule::syntax::MAX_SYNTAX_ERRORS, "{diags:#?}");
    for (i, d) in diags.iter().enumerate() {
        assert_eq!(
            (d.code.as_str(), d.line, d.column),
            ("jrule::syntax", i + 1, 8),
            "{d:#?}"
        );
    }
}

// ------------------------------------------------------------ many errors

#[test]
fn many_diagnostics_are_reported_in_linear_time() {
    let text = format!("action a\n{}", "when q then a\n".repeat(20_000));
    let start = std::time::Instant::now();
    let (code, json) = check_bin("many.jr", text.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(json["errors"], 20_000);
    let (code, _) = check_bin_human("many.jr", text.as_bytes());
    assert_eq!(code, 1);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(120),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn more_than_64_goals_in_a_journey_is_a_limit() {
    let goals: String = (0..65).map(|_| "  goal s within 1d\n").collect();
    let text = format!(
        "signal s\naction a\njourney j {{\n  stages x\n{goals}  rule r: when s then a\n}}\n"
    );
    let diags = check_lib_text(text);
    let limits: Vec<_> = diags.iter().filter(|d| d.code == "jrule::limit").collect();
    assert_eq!(limits.len(), 1, "{}", diags.len());
    assert_eq!(limits[0].line, 69);
    assert_eq!(limits[0].severity, Severity::Error);
}
