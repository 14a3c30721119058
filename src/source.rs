//! Source files and positions in them.

use std::fmt;

/// The largest source file accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// One source file of a program: its name (as shown in diagnostics) and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name shown in diagnostics, usually the path as given.
    pub name: String,
    /// The file's text.
    pub text: String,
    /// Offset of the first byte that is not UTF-8, for a source read from bytes.
    pub invalid_utf8: Option<usize>,
}

impl Source {
    /// A source from a name and its text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
            invalid_utf8: None,
        }
    }

    /// A source from raw bytes; bytes that are not UTF-8 are replaced and
    /// reported when the program is checked.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Source {
        match String::from_utf8(bytes) {
            Ok(text) => Source::new(name, text),
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                Source {
                    invalid_utf8: Some(offset),
                    ..Source::new(name, text)
                }
            }
        }
    }

    /// The 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A byte range in one file of a program.
///
/// Spans compare equal to each other whatever they cover, so syntax trees
/// that differ only in layout compare equal.
#[derive(Clone, Copy, Default)]
pub struct Span {
    /// Index of the file in the program's sources.
    pub file: u32,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span of `file` from `start` to `end` (byte offsets).
    pub fn new(file: u32, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The span from the start of `self` to the end of `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            end: other.end.max(self.start),
            ..self
        }
    }

    /// Byte offsets as a range.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Orders spans by file, then position (spans are otherwise all equal).
    pub fn key(self) -> (u32, u32, u32) {
        (self.file, self.start, self.end)
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}..{}", self.file, self.start, self.end)
    }
}
