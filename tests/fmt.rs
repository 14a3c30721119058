//! `jrule fmt`: the formatted text parses to the same tree, formatting it
//! again changes nothing, no comment is lost; over every program of the
//! repository and the design, over generated programs, against expected
//! outputs (`tests/corpus/fmt`), and through the command line.
//!
//! Set `JRULE_BLESS=1` to write the expected outputs from the current ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use jrule::fmt::{format, print, FmtError};
use jrule::syntax::{ast::Module, parse};
use jrule::Source;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The tree of a text that parses without any diagnostic.
fn tree(name: &str, text: &str) -> Option<Module> {
    let parsed = parse(&Source::new(name, text), 0);
    parsed.diagnostics.is_empty().then_some(parsed.module)
}

/// The comments of a text (the formatter's own scan is private).
fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['"', '/']) {
        let after = &rest[i..];
        if after.starts_with('"') {
            let mut end = 1;
            let bytes = after.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' && bytes[end] != b'\n' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            rest = &after[(end + 1).min(after.len())..];
        } else if after.starts_with("//") {
            let end = after.find('\n').unwrap_or(after.len());
            out.push(after[..end].trim_end().to_string());
            rest = &after[end..];
        } else if after.starts_with("/*") {
            let end = after.find("*/").map_or(after.len(), |e| e + 2);
            let lines: Vec<&str> = after[..end].split('\n').map(str::trim_end).collect();
            out.push(lines.join("\n"));
            rest = &after[end..];
        } else {
            rest = &after[1..];
        }
    }
    out
}

/// Formats `text` and checks the properties; returns the formatted text.
fn check_properties(name: &str, text: &str) -> String {
    let before = tree(name, text).unwrap_or_else(|| panic!("{name} does not parse"));
    let formatted = match format(&Source::new(name, text)) {
        Ok(f) => f.text,
        Err(e) => panic!("{name}: {e}\n{text}"),
    };
    let after = tree(name, &formatted)
        .unwrap_or_else(|| panic!("{name}: the formatted text does not parse:\n{formatted}"));
    assert!(
        before.without_spans() == after.without_spans(),
        "{name}: the tree changed:\n--- source\n{text}\n--- formatted\n{formatted}"
    );
    let again = format(&Source::new(name, formatted.as_str()))
        .unwrap_or_else(|e| panic!("{name}: formatting twice: {e}"))
        .text;
    assert!(
        again == formatted,
        "{name}: not idempotent:\n--- source\n{text}\n--- once\n{formatted}\n--- twice\n{again}"
    );
    let mut want = comments(text);
    let mut got = comments(&formatted);
    want.sort();
    got.sort();
    assert_eq!(want, got, "{name}: comments differ:\n{formatted}");
    assert!(formatted.is_empty() || formatted.ends_with('\n'));
    assert!(
        !formatted.lines().any(|l| l.ends_with([' ', '\t'])),
        "{name}: trailing whitespace:\n{formatted}"
    );
    // The tree alone prints as the same program, with canonical literals.
    let printed = print(&before);
    assert!(
        tree(name, &printed).is_some_and(|t| t.without_spans() == before.without_spans()),
        "{name}: the printed tree differs:\n{printed}"
    );
    let reprinted = format(&Source::new(name, printed.as_str())).map(|f| f.text);
    assert!(
        reprinted.as_deref().ok() == Some(printed.as_str()),
        "{name}: the printed tree is not in the canonical layout:\n{printed}"
    );
    formatted
}

fn jr_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jr"))
        .collect();
    files.sort();
    files
}

/// Checks every file that parses; returns how many did.
fn check_files(files: &[PathBuf]) -> usize {
    let mut n = 0;
    for path in files {
        let text = std::fs::read_to_string(path).expect("read");
        let name = path.display().to_string();
        if tree(&name, &text).is_none() {
            assert!(matches!(
                format(&Source::new(name.as_str(), text.as_str())),
                Err(FmtError::Syntax(_))
            ));
            continue;
        }
        check_properties(&name, &text);
        n += 1;
    }
    n
}

#[test]
fn check_corpus() {
    let files = jr_files(&Path::new(ROOT).join("tests/corpus/check"));
    let n = check_files(&files);
    assert!(n >= 50, "only {n} files of the check corpus parse");
    // A clause written twice parses, but the tree keeps one: not formatted.
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("tests/corpus/check/duplicate_clause.jr"))
            .expect("read");
    assert!(matches!(
        format(&Source::new("d.jr", text)),
        Err(FmtError::Syntax(_))
    ));
}

#[test]
fn run_corpus() {
    let dir = Path::new(ROOT).join("tests/corpus/run");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("run corpus")
        .map(|e| e.expect("entry").path().join("program.jr"))
        .filter(|p| p.exists())
        .collect();
    files.sort();
    assert_eq!(check_files(&files), files.len());
    assert!(files.len() >= 40);
}

#[test]
fn examples_and_design_examples() {
    let ours = jr_files(&Path::new(ROOT).join("examples"));
    assert_eq!(check_files(&ours), ours.len());
    let design = jr_files(&Path::new(ROOT).join("../shared/spec/examples"));
    assert_eq!(check_files(&design), design.len());
    assert!(ours.len() >= 4 && design.len() >= 3);
}

#[test]
fn our_examples_are_formatted() {
    for path in jr_files(&Path::new(ROOT).join("examples")) {
        let text = std::fs::read_to_string(&path).expect("read");
        let formatted = format(&Source::new("x.jr", text.as_str())).expect("formats");
        assert!(
            formatted.text == text,
            "{} is not formatted: run `jrule fmt {}`",
            path.display(),
            path.display()
        );
    }
}

/// `tests/corpus/fmt/NAME.jr` formats to `NAME.expected.jr`.
#[test]
fn expected_outputs() {
    let dir = Path::new(ROOT).join("tests/corpus/fmt");
    let bless = std::env::var_os("JRULE_BLESS").is_some();
    let mut n = 0;
    for path in jr_files(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".jr") else {
            continue;
        };
        if stem.ends_with(".expected") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let formatted = check_properties(&name, &text);
        let expected_path = dir.join(format!("{stem}.expected.jr"));
        if bless {
            std::fs::write(&expected_path, &formatted).expect("write");
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        assert!(
            formatted == expected,
            "{name}: formatted text differs from {stem}.expected.jr:\n{formatted}"
        );
        n += 1;
    }
    assert!(n >= 4);
}

#[test]
fn small_cases() {
    let cases = [
        ("", ""),
        ("// only a comment", "// only a comment\n"),
        ("\n\n/* a */\n\n\n// b\n\n", "/* a */\n\n// b\n"),
        (
            "signal s {}\naction a()\nwhen s then a()",
            "signal s\naction a\nwhen s then a\n",
        ),
        (
            "when s where a == (not b) then x",
            "when s where a == (not b) then x\n",
        ),
        (
            "when s where (not a) == b then x",
            "when s where (not a) == b then x\n",
        ),
        (
            "when s where not (a and b) or c then x",
            "when s where not (a and b) or c then x\n",
        ),
        (
            "when s where (a or b) and (c or d) then x",
            "when s where (a or b) and (c or d) then x\n",
        ),
        (
            "when s where a - (b + c) then x",
            "when s where a - (b + c) then x\n",
        ),
        (
            "when s where - (1) < - ( - 2.5 ) then x",
            "when s where -(1) < --(2.5) then x\n",
        ),
        (
            "when s where -(-2.5) < 0 then x",
            "when s where --2.5 < 0 then x\n",
        ),
        (
            "when s where x in customer . tags then x",
            "when s where x in customer.tags then x\n",
        ),
        ("when s then offer (1 + 2)", "when s then offer(1 + 2)\n"),
        (
            "when s then offer [1, 2], offer customer has x",
            "when s then offer [1, 2], offer customer has x\n",
        ),
        ("when s then offer (x)", "when s then offer(x)\n"),
        ("when s then offer x", "when s then offer x\n"),
        ("when s then offer(-1)", "when s then offer(-1)\n"),
        ("when s then offer -1", "when s then offer -1\n"),
        ("when s\r\nthen x // crlf\r\n", "when s then x // crlf\n"),
    ];
    for (source, expected) in cases {
        assert_eq!(check_properties("t.jr", source), expected, "{source:?}");
    }
}

#[test]
fn broken_files_are_refused() {
    for text in [
        "when s then",
        "when s then x /* unterminated",
        "enum tier { 1 }",
        "when s where event.n == 99999999999999999999 then x",
        "when s limit 1 per 1d limit 2 per 1d then x",
    ] {
        assert!(
            matches!(format(&Source::new("t.jr", text)), Err(FmtError::Syntax(_))),
            "{text}"
        );
    }
}

#[test]
fn unnamed_rules_that_move_are_reported() {
    let text =
        "signal s\naction a\n\n\n\nwhen s\nthen a\nrule named: when s then a\nwhen s then a\n";
    let f = format(&Source::new("t.jr", text)).expect("formats");
    let moves: Vec<(usize, usize)> = f.renamed.iter().map(|r| (r.from, r.to)).collect();
    assert_eq!(moves, [(6, 4), (9, 8)]);
}

// ------------------------------------------------------ generated programs

/// xorshift64*: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A token, and whether a comment may follow it (not inside `x in [..]`'s
/// lookahead, which allows only spaces).
struct Tok(String, bool);

struct Gen {
    rng: Rng,
    toks: Vec<Tok>,
    comment: usize,
}

const NAMES: [&str; 8] = ["a", "b", "gold", "x_1", "in_room", "Tier", "_n", "spa"];
/// Field names after `customer.` / `event.` (keywords allowed there).
const FIELDS: [&str; 6] = ["room", "tier", "at", "via", "time", "tags"];
/// Declared field names and names after `has` (no keywords).
const DECLARED: [&str; 4] = ["room", "tier", "tags", "n"];

impl Gen {
    fn t(&mut self, s: impl Into<String>) {
        self.toks.push(Tok(s.into(), true));
    }

    /// A token after which only spaces may come.
    fn tight(&mut self, s: impl Into<String>) {
        self.toks.push(Tok(s.into(), false));
    }

    fn name(&mut self) -> &'static str {
        self.rng.pick(&NAMES)
    }

    fn names(&mut self, max: usize) {
        let n = 1 + self.rng.below(max);
        for i in 0..n {
            if i > 0 {
                self.t(",");
            }
            let name = self.name();
            self.t(name);
        }
    }

    fn duration(&mut self) -> &'static str {
        self.rng
            .pick(&["30s", "15m", "2h", "24h", "7d", "60m", "0s", "90m"])
    }

    fn separator(&mut self, comments_ok: bool) -> String {
        let r = self.rng.below(100);
        if comments_ok && r < 12 {
            self.comment += 1;
            let n = self.comment;
            return match r % 4 {
                0 => format!(" /* c{n} */ "),
                1 => format!(" // c{n}\n"),
                2 => format!("\n\n// c{n}\n"),
                _ => format!("\n/* c{n}\n   two lines */\n"),
            };
        }
        match r % 8 {
            0 => "\n".into(),
            7 => "\r\n".into(),
            1 => "\n\n".into(),
            2 => "  ".into(),
            3 => "\t".into(),
            4 => "\n\n\n    ".into(),
            _ => " ".into(),
        }
    }

    fn text(&mut self) -> String {
        let mut out = String::new();
        for i in 0..self.toks.len() {
            out.push_str(&self.toks[i].0);
            let ok = self.toks[i].1;
            let sep = self.separator(ok);
            out.push_str(&sep);
        }
        out
    }

    // ------------------------------------------------------ expressions

    fn literal(&mut self) {
        let v = match self.rng.below(5) {
            0 => self
                .rng
                .pick(&["42", "-3", "007", "0", "-9223372036854775808"]),
            1 => self
                .rng
                .pick(&["2.5", "-0.75", "1.5e3", "1.0E-2", "20.00", "-0.0"]),
            2 => self.rng.pick(&[
                r#""""#,
                r#""a // not a comment""#,
                r#""/* nor this */""#,
                r#""q\"b\\s\n\t\u{1F600}""#,
            ]),
            3 => self.rng.pick(&["true", "false"]),
            _ => self.duration(),
        };
        self.t(v);
    }

    fn primary(&mut self, depth: usize) {
        match self.rng.below(12) {
            0..5 => self.literal(),
            5 if depth > 0 => self.list(depth),
            6 => {
                let root = self.rng.pick(&["customer", "event"]);
                let field = self.rng.pick(&FIELDS);
                let spaced = self.rng.chance(20);
                self.t(if spaced {
                    format!("{root} . {field}")
                } else {
                    format!("{root}.{field}")
                })
            }
            7 => {
                let root = self.rng.pick(&["customer", "event"]);
                self.t(root);
                self.t("has");
                let f = self.rng.pick(&DECLARED);
                self.t(f)
            }
            _ => {
                let n = self.name();
                self.t(n)
            }
        }
    }

    fn list(&mut self, depth: usize) {
        self.t("[");
        let n = self.rng.below(3);
        for i in 0..n {
            if i > 0 {
                self.t(",");
            }
            self.expr(depth - 1);
        }
        self.t("]");
    }

    /// An expression, maybe in parentheses.
    fn operand(&mut self, depth: usize) {
        if self.rng.chance(40) {
            self.t("(");
            self.expr(depth);
            self.t(")");
        } else {
            self.expr(depth);
        }
    }

    fn expr(&mut self, depth: usize) {
        if depth == 0 || self.rng.chance(30) {
            return self.primary(depth);
        }
        match self.rng.below(10) {
            0 => {
                self.t("not");
                self.operand(depth - 1);
            }
            1 => {
                self.t("-");
                // `-` right before a digit would make a negative literal.
                if self.rng.chance(50) {
                    self.t("(");
                    self.expr(depth - 1);
                    self.t(")");
                } else {
                    let root = self.rng.pick(&["customer", "event"]);
                    self.t(format!("{root}.room"));
                }
            }
            2 => {
                self.operand(depth - 1);
                self.tight("in");
                if self.rng.chance(50) {
                    self.list(depth);
                } else {
                    self.t("customer.tags");
                }
            }
            _ => {
                self.operand(depth - 1);
                let op = self.rng.pick(&[
                    "or",
                    "and",
                    "==",
                    "!=",
                    "<",
                    "<=",
                    ">",
                    ">=",
                    "contains",
                    "starts_with",
                    "ends_with",
                    "+",
                    "-",
                    "*",
                    "/",
                    "%",
                ]);
                self.t(op);
                self.operand(depth - 1);
            }
        }
    }

    // ----------------------------------------------------- declarations

    fn type_expr(&mut self) {
        let base = self
            .rng
            .pick(&["int", "float", "text", "bool", "duration", "tier"]);
        if self.rng.chance(25) {
            self.t("[");
            self.t(base);
            self.t("]");
        } else {
            self.t(base);
        }
        if self.rng.chance(25) {
            self.t("?");
        }
    }

    fn fields(&mut self, defaults: bool) {
        let n = self.rng.below(4);
        for _ in 0..n {
            let name = self.rng.pick(&DECLARED);
            self.t(name);
            self.t(":");
            self.type_expr();
            if defaults && self.rng.chance(50) {
                self.t("=");
                match self.rng.below(3) {
                    0 => self.literal(),
                    1 => self.list(2),
                    _ => {
                        let n = self.name();
                        self.t(n)
                    }
                }
            }
            if self.rng.chance(60) {
                self.t(",");
            }
        }
    }

    fn declaration(&mut self) {
        match self.rng.below(6) {
            0 => {
                let k = self.rng.pick(&["places", "channels"]);
                self.t(k);
                self.names(3);
            }
            1 => {
                self.t("enum");
                let n = self.name();
                self.t(n);
                self.t("{");
                let n = self.rng.below(4);
                for _ in 0..n {
                    let v = self.name();
                    self.t(v);
                    if self.rng.chance(50) {
                        self.t(",");
                    }
                }
                self.t("}");
            }
            2 => {
                self.t("customer");
                self.t("{");
                self.fields(true);
                self.t("}");
            }
            3 => {
                self.t("signal");
                let n = self.name();
                self.t(n);
                if self.rng.chance(70) {
                    self.t("{");
                    self.fields(false);
                    self.t("}");
                }
            }
            _ => {
                self.t("action");
                let n = self.name();
                self.t(n);
                if self.rng.chance(70) {
                    self.t("(");
                    self.fields(false);
                    self.t(")");
                }
                let requires = self.rng.chance(50);
                let exclusive = self.rng.chance(50);
                let first = self.rng.chance(50);
                if exclusive && first {
                    self.t("exclusive");
                }
                if requires {
                    self.t("requires");
                    self.expr(3);
                }
                if exclusive && !first {
                    self.t("exclusive");
                }
            }
        }
    }

    // ------------------------------------------------------------ rules

    fn filtered(&mut self) {
        let n = self.name();
        self.t(n);
        if self.rng.chance(30) {
            self.t("at");
            self.names(2);
        }
        if self.rng.chance(30) {
            self.t("via");
            self.names(2);
        }
    }

    fn simple_action(&mut self) {
        match self.rng.below(6) {
            0 => {
                self.t("move");
                self.t("to");
                let n = self.name();
                self.t(n);
            }
            1 => self.t("skip"),
            2 => {
                let n = self.name();
                self.t(n);
                if self.rng.chance(50) {
                    self.primary(1);
                } else {
                    self.t("(");
                    self.expr(2);
                    self.t(")");
                }
            }
            _ => {
                let n = self.name();
                self.t(n);
                self.t("(");
                let k = self.rng.below(3);
                for i in 0..k {
                    if i > 0 {
                        self.t(",");
                    }
                    self.expr(2);
                }
                self.t(")");
            }
        }
    }

    fn rule(&mut self) {
        if self.rng.chance(50) {
            self.t("rule");
            let n = self.name();
            self.t(n);
            self.t(":");
        }
        self.t("when");
        match self.rng.below(4) {
            0 => {
                self.t("no");
                self.filtered();
                self.t("within");
                let d = self.duration();
                self.t(d);
                self.t("after");
                self.filtered();
            }
            1 => {
                self.t("in");
                let n = self.name();
                self.t(n);
                self.t("for");
                let d = self.duration();
                self.t(d);
            }
            2 => {
                self.filtered();
                self.t("within");
                let d = self.duration();
                self.t(d);
                self.t("after");
                self.filtered();
            }
            _ => self.filtered(),
        }
        let mut clauses = [0, 1, 2, 3];
        for i in (1..clauses.len()).rev() {
            clauses.swap(i, self.rng.below(i + 1));
        }
        for c in clauses {
            if !self.rng.chance(45) {
                continue;
            }
            match c {
                0 => {
                    self.t("in");
                    self.names(3);
                }
                1 => {
                    self.t("where");
                    self.expr(4);
                }
                2 => {
                    self.t("limit");
                    let n = self.rng.pick(&["1", "3", "-2"]);
                    self.t(n);
                    self.t("per");
                    let d = self.duration();
                    self.t(d);
                }
                _ => {
                    self.t("priority");
                    let n = self.rng.pick(&["10", "-5", "0"]);
                    self.t(n);
                }
            }
        }
        self.t("then");
        let n = 1 + self.rng.below(3);
        for i in 0..n {
            if i > 0 {
                self.t(",");
            }
            if self.rng.chance(15) {
                self.t("split");
                self.t("{");
                let arms = 1 + self.rng.below(3);
                for _ in 0..arms {
                    let n = self.rng.pick(&["a", "treatment", "control_group"]);
                    self.t(n);
                    let p = self.rng.pick(&["50%", "30%", "020%"]);
                    self.t(p);
                    self.t(":");
                    let k = 1 + self.rng.below(2);
                    for j in 0..k {
                        if j > 0 {
                            self.t(",");
                        }
                        self.simple_action();
                    }
                }
                self.t("}");
            } else {
                self.simple_action();
            }
        }
    }

    fn journey(&mut self) {
        self.t("journey");
        let n = self.name();
        self.t(n);
        self.t("{");
        let n = self.rng.below(5);
        for _ in 0..n {
            match self.rng.below(4) {
                0 => {
                    self.t("stages");
                    let n = self.name();
                    self.t(n);
                    for _ in 0..self.rng.below(3) {
                        self.t("->");
                        let n = self.name();
                        self.t(n);
                    }
                }
                1 => {
                    self.t("goal");
                    let n = self.name();
                    self.t(n);
                    self.t("within");
                    let d = self.duration();
                    self.t(d);
                }
                _ => self.rule(),
            }
        }
        self.t("}");
    }

    fn program(seed: u64) -> String {
        let mut g = Gen {
            rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            toks: Vec::new(),
            comment: 0,
        };
        let n = 1 + g.rng.below(8);
        for _ in 0..n {
            match g.rng.below(4) {
                0 => g.journey(),
                1 => g.rule(),
                _ => g.declaration(),
            }
        }
        g.text()
    }
}

#[test]
fn generated_programs() {
    // `JRULE_FMT_CASES=N` runs more.
    let cases = std::env::var("JRULE_FMT_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    for seed in 0..cases {
        let text = Gen::program(seed);
        let parsed = parse(&Source::new("gen.jr", text.as_str()), 0);
        let problems: Vec<String> = parsed
            .diagnostics
            .iter()
            .map(|d| format!("{} at {:?}", d.message, d.span))
            .collect();
        assert!(
            problems.is_empty(),
            "seed {seed}: the generator wrote a program that does not parse: {problems:?}\n{text}"
        );
        check_properties(&format!("seed {seed}"), &text);
    }
}

// ------------------------------------------------------------ the command

const BIN: &str = env!("CARGO_BIN_EXE_jrule");

fn jrule(dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run jrule");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

const MESSY: &str = "signal s   action a(n:int)\nwhen s then a( (1) ) // one\n";
const TIDY: &str = "signal s\naction a(n: int)\nwhen s then a(1) // one\n";

#[test]
fn cli_formats_in_place_and_checks() {
    let dir = scratch("fmt_cli");
    std::fs::write(dir.join("messy.jr"), MESSY).unwrap();
    std::fs::write(dir.join("tidy.jr"), TIDY).unwrap();

    let out = jrule(&dir, &["fmt", "--check", "tidy.jr"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());

    let out = jrule(&dir, &["fmt", "--check", "tidy.jr", "messy.jr"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "messy.jr\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("-signal s   action a(n:int)"), "{stderr}");
    assert!(stderr.contains("+action a(n: int)"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("messy.jr")).unwrap(),
        MESSY
    );

    let out = jrule(&dir, &["fmt", "messy.jr", "tidy.jr"], "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(dir.join("messy.jr")).unwrap(), TIDY);
    assert_eq!(std::fs::read_to_string(dir.join("tidy.jr")).unwrap(), TIDY);
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 2, "a temporary file was left behind");

    let out = jrule(&dir, &["fmt", "--check", "messy.jr"], "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn cli_refuses_broken_and_missing_files() {
    let dir = scratch("fmt_cli_broken");
    let broken = "signal s\nwhen s then\n";
    std::fs::write(dir.join("broken.jr"), broken).unwrap();
    std::fs::write(dir.join("messy.jr"), MESSY).unwrap();

    for args in [&["fmt", "broken.jr"][..], &["fmt", "--check", "broken.jr"]] {
        let out = jrule(&dir, args, "");
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("jrule::syntax"), "{stderr}");
        assert!(stderr.contains("`broken.jr` is not formatted"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(dir.join("broken.jr")).unwrap(),
            broken
        );
    }

    // The other files are still formatted; the status tells of the trouble.
    let out = jrule(&dir, &["fmt", "missing.jr", "messy.jr"], "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read `missing.jr`: no such file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("messy.jr")).unwrap(), TIDY);

    let out = jrule(&dir, &["fmt", "--check", "missing.jr"], "");
    assert_eq!(out.status.code(), Some(2));

    let out = jrule(&dir, &["fmt"], "");
    assert_eq!(out.status.code(), Some(2), "no file is a usage error");
}

#[test]
fn cli_stdin() {
    let dir = scratch("fmt_cli_stdin");
    let out = jrule(&dir, &["fmt", "-"], MESSY);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), TIDY);

    let out = jrule(&dir, &["fmt", "--check", "-"], MESSY);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "<stdin>\n");

    let out = jrule(&dir, &["fmt", "--check", "-"], TIDY);
    assert_eq!(out.status.code(), Some(0));

    let out = jrule(&dir, &["fmt", "-"], "when s then");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn cli_warns_when_an_unnamed_rule_moves() {
    let dir = scratch("fmt_cli_moves");
    let out = jrule(
        &dir,
        &["fmt", "-"],
        "signal s action a\n\n\n\nwhen s then a\n",
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the unnamed rule `L5` moves to line 4, so its name becomes `L4`"),
        "{stderr}"
    );
}

#[test]
fn print_uses_canonical_literals() {
    let text = "when s where x == (007) and y > 24h and z == 2.50 and t == \"\\u{41}\" then a";
    let module = tree("t.jr", text).expect("parses");
    assert_eq!(
        print(&module),
        "when s where x == 7 and y > 1d and z == 2.5 and t == \"A\" then a\n"
    );
}

#[test]
fn deep_expressions_format() {
    // Near the parser's limits (depth 256, brackets 64), in a debug build.
    let nots = format!("when s where {}x then a", "not ".repeat(250));
    let chain = format!("when s where {}x then a", "x or ".repeat(250));
    let sums = format!("when s where {}1 > 0 then a", "1 + ".repeat(250));
    let parens = format!("when s where {}x{} then a", "(".repeat(60), ")".repeat(60));
    let lists = format!(
        "when s where x in {}x{} then a",
        "[".repeat(60),
        "]".repeat(60)
    );
    for text in [nots, chain, sums, parens, lists] {
        check_properties("deep.jr", &text);
    }
}
