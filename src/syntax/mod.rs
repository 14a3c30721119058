//! The front end: the pest grammar, and the lowering of its parse tree into
//! the owned syntax tree of [`ast`]. No pest type leaves this module.

pub mod ast;
mod error;
mod lower;
mod scan;

use pest::Parser;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{Source, Span, MAX_SOURCE_BYTES};

pub use error::KEYWORDS;
pub(crate) use lower::{duration_ms, unescape};
pub use scan::MAX_NESTING;

/// The most syntax errors reported for one file.
pub const MAX_SYNTAX_ERRORS: usize = 20;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/jrule.pest"]
struct JruleParser;

/// The result of parsing one file.
pub struct Parsed {
    /// The syntax tree (of the parts that parsed).
    pub module: ast::Module,
    /// Problems found while parsing.
    pub diagnostics: Vec<Diagnostic>,
    /// True when the file has syntax errors: its tree is incomplete.
    pub broken: bool,
}

/// Parses one source file (`file` is its index in the program).
pub fn parse(source: &Source, file: u32) -> Parsed {
    let text = source.text.as_str();
    let mut parsed = Parsed {
        module: ast::Module {
            file,
            span: Span::new(file, 0, text.len()),
            items: Vec::new(),
        },
        diagnostics: Vec::new(),
        broken: true,
    };
    if text.len() > MAX_SOURCE_BYTES {
        parsed.diagnostics.push(
            Diagnostic::new(
                Code::Limit,
                Span::new(file, 0, 0),
                format!(
                    "source file is larger than the limit of {MAX_SOURCE_BYTES} bytes (16 MiB)"
                ),
            )
            .help("split the program into several files"),
        );
        return parsed;
    }
    if let Some(at) = source.invalid_utf8 {
        parsed.diagnostics.push(
            Diagnostic::new(
                Code::Syntax,
                Span::new(file, at, at + 1),
                "the file is not valid UTF-8",
            )
            .label("this byte is not UTF-8")
            .help("save the file as UTF-8"),
        );
        return parsed;
    }
    let starts = match scan::scan(text, file) {
        Ok(starts) => starts,
        Err(d) => {
            parsed.diagnostics.push(d);
            return parsed;
        }
    };
    let mut errors = 0;
    for (start, end) in pieces(text.len(), &starts) {
        if !parse_piece(text, start, end, file, &mut parsed, &mut errors) {
            break;
        }
    }
    parsed.broken = parsed
        .diagnostics
        .iter()
        .any(|d| matches!(d.code, Code::Syntax | Code::Limit));
    parsed
}

/// Bytes of source parsed at a time, cut where items start.
const PIECE: usize = 64 * 1024;

/// Ranges of at least [`PIECE`] bytes (but the last), cut at item starts.
fn pieces(len: usize, starts: &[usize]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    for &s in starts {
        if s - from >= PIECE {
            out.push((from, s));
            from = s;
        }
    }
    out.push((from, len));
    out
}

/// Parses `text[start..end]`, recovering after errors at the next item;
/// false once too many errors were reported.
fn parse_piece(
    text: &str,
    start: usize,
    end: usize,
    file: u32,
    parsed: &mut Parsed,
    errors: &mut usize,
) -> bool {
    let mut offset = start;
    loop {
        match JruleParser::parse(Rule::file, &text[offset..end]) {
            Ok(mut pairs) => {
                if let Some(pair) = pairs.next() {
                    let mut lower = lower::Lower::new(file, offset);
                    let items = lower.file(pair);
                    if *errors == 0 {
                        parsed.module.items.extend(items);
                    }
                    parsed.diagnostics.append(&mut lower.diagnostics);
                }
                return true;
            }
            Err(e) => {
                let d = error::syntax_error(e, text, offset, file);
                let at = d.span.end as usize;
                parsed.diagnostics.push(d);
                *errors += 1;
                if *errors == MAX_SYNTAX_ERRORS {
                    return false;
                }
                match resume_point(text, at.max(offset + 1)).filter(|&next| next < end) {
                    Some(next) => offset = next,
                    None => return true,
                }
            }
        }
    }
}

/// The start of the next line after `pos` that begins a top-level item.
fn resume_point(text: &str, pos: usize) -> Option<usize> {
    const STARTS: [&str; 10] = [
        "places", "channels", "enum", "customer", "signal", "action", "journey", "rule", "when",
        "test",
    ];
    let mut at = text.get(pos..)?.find('\n')? + pos + 1;
    loop {
        let line = &text[at..];
        let word_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        if STARTS.contains(&&line[..word_end]) {
            return Some(at);
        }
        at += line.find('\n')? + 1;
    }
}
