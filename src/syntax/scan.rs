//! A quick pass over the raw text before parsing: finds unterminated text
//! and comments, bad escapes and nesting deeper than the parser allows, so
//! that they get precise messages and the parser never recurses too deep.

use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;

/// The deepest nesting of `(`, `[` and `{` accepted.
pub const MAX_NESTING: usize = 64;

/// Reports the first lexical problem of `text`, or returns where items
/// start: the lines, outside brackets, comments and text, that begin with
/// a word only an item can begin with. The parser parses the text in
/// pieces cut there, so that its memory stays small on large files.
pub(super) fn scan(text: &str, file: u32) -> Result<Vec<usize>, Diagnostic> {
    let mut starts = Vec::new();
    match scan_into(text, file, &mut starts) {
        Some(d) => Err(d),
        None => Ok(starts),
    }
}

/// True when a line starting at `at` begins a top-level item.
fn begins_item(text: &str, at: usize) -> bool {
    let line = &text[at..];
    let word_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len());
    match &line[..word_end] {
        "places" | "channels" | "enum" | "signal" | "action" | "journey" | "rule" | "when"
        | "test" => true,
        "customer" => line[word_end..].trim_start().starts_with('{'),
        _ => false,
    }
}

fn scan_into(text: &str, file: u32, starts: &mut Vec<usize>) -> Option<Diagnostic> {
    let bytes = text.as_bytes();
    let span = |start: usize, len: usize| Span::new(file, start, start + len);
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(n) => i += n + 4,
                None => {
                    return Some(
                        Diagnostic::new(Code::Syntax, span(i, 2), "unterminated block comment")
                            .label("this comment is never closed")
                            .help("close it with `*/`"),
                    )
                }
            },
            b'"' => match text_end(text, i) {
                Ok(end) => i = end,
                Err((at, diagnostic)) => return Some(diagnostic(span(at.0, at.1))),
            },
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::new(
                            Code::Limit,
                            span(i, 1),
                            format!("brackets nested deeper than the limit of {MAX_NESTING}"),
                        )
                        .label("too deep")
                        .help("split the expression into simpler rules"),
                    );
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'\n' => {
                i += 1;
                if depth == 0 && i < bytes.len() && begins_item(text, i) {
                    starts.push(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

type Problem = ((usize, usize), fn(Span) -> Diagnostic);

/// The offset just past the text literal starting at `start`.
fn text_end(text: &str, start: usize) -> Result<usize, Problem> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    loop {
        match bytes.get(i) {
            None | Some(b'\n') => return Err(((start, 1), unterminated)),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'n' | b't') => i += 2,
                Some(b'u') => match unicode_escape(&text[i..]) {
                    Some(len) => i += len,
                    None => return Err(((i, 2), bad_unicode)),
                },
                _ => return Err(((i, 1 + next_char_len(&text[i + 1..])), bad_escape)),
            },
            Some(_) => i += 1,
        }
    }
}

fn next_char_len(rest: &str) -> usize {
    rest.chars().next().map_or(0, char::len_utf8)
}

/// The length of a valid `\u{…}` escape at the start of `s`.
fn unicode_escape(s: &str) -> Option<usize> {
    let body = s.strip_prefix("\\u{")?;
    let close = body.find('}')?;
    let hex = &body[..close];
    if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    Some(3 + close + 1)
}

fn unterminated(span: Span) -> Diagnostic {
    Diagnostic::new(Code::Syntax, span, "unterminated text")
        .label("this text is never closed")
        .help("close it with `\"` on the same line; write a line break as `\\n`")
}

fn bad_escape(span: Span) -> Diagnostic {
    Diagnostic::new(Code::Syntax, span, "invalid escape in text")
        .label("not an escape")
        .help("the escapes are `\\\"`, `\\\\`, `\\n`, `\\t` and `\\u{1F600}`")
}

fn bad_unicode(span: Span) -> Diagnostic {
    Diagnostic::new(Code::Syntax, span, "invalid unicode escape")
        .label("not a character")
        .help("write a unicode escape as `\\u{…}` with 1 to 6 hex digits of a valid character")
}
