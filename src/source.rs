//! Source files and positions in them.

use std::fmt;
use std::path::Path;

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

    /// The text of `span` in `sources`, with runs of spaces and line
    /// breaks made one space (for labels: a trigger, a `where`).
    pub fn snippet(sources: &[Source], span: Span) -> String {
        sources
            .get(span.file as usize)
            .and_then(|s| s.text.get(span.range()))
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads a source file; its name is the path as given. Bytes that are
    /// not UTF-8 are replaced (see [`Source::from_bytes`]); a file larger
    /// than [`MAX_SOURCE_BYTES`] is read one byte past the limit, so that
    /// checking it reports the limit without reading it all.
    pub fn read(path: impl AsRef<Path>) -> Result<Source, SourceError> {
        use std::io::Read;
        let path = path.as_ref();
        let name = path.display().to_string();
        let fail = |error: std::io::Error| SourceError::new(name.clone(), error);
        let file = std::fs::File::open(path).map_err(fail)?;
        let mut bytes = Vec::new();
        file.take(MAX_SOURCE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(fail)?;
        Ok(Source::from_bytes(name, bytes))
    }

    /// Reads the files of a program, in order; stops at the first that
    /// cannot be read.
    pub fn read_all<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Source>, SourceError> {
        paths.iter().map(Source::read).collect()
    }

    /// The 1-based line and character column of a byte offset. For many
    /// lookups in one file, build a [`LineIndex`] once.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        LineIndex::new(&self.text).line_col(&self.text, offset)
    }
}

/// A source file that cannot be read. Its message names the file as given:
/// ``cannot read `hotel.jr`: no such file``.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceError {
    /// The file does not exist.
    NotFound {
        /// The path as given.
        name: String,
    },
    /// The file may not be read.
    PermissionDenied {
        /// The path as given.
        name: String,
    },
    /// The path names a directory.
    IsADirectory {
        /// The path as given.
        name: String,
    },
    /// Any other failure to read it.
    Io {
        /// The path as given.
        name: String,
        /// What the system said.
        error: std::io::Error,
    },
}

impl SourceError {
    fn new(name: String, error: std::io::Error) -> SourceError {
        match error.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound { name },
            std::io::ErrorKind::PermissionDenied => SourceError::PermissionDenied { name },
            std::io::ErrorKind::IsADirectory => SourceError::IsADirectory { name },
            _ => SourceError::Io { name, error },
        }
    }

    /// The path of the file, as given.
    pub fn name(&self) -> &str {
        match self {
            SourceError::NotFound { name }
            | SourceError::PermissionDenied { name }
            | SourceError::IsADirectory { name }
            | SourceError::Io { name, .. } => name,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read `{}`: ", self.name())?;
        match self {
            SourceError::NotFound { .. } => f.write_str("no such file"),
            SourceError::PermissionDenied { .. } => f.write_str("permission denied"),
            SourceError::IsADirectory { .. } => f.write_str("it is a directory"),
            SourceError::Io { error, .. } => f.write_str(&io_reason(error)),
        }
    }
}

/// Why a file could not be read or written, in the words of the messages
/// above (`no such file`, `permission denied`, …).
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => e.to_string().to_lowercase(),
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SourceError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Where each line of a text starts, for positions in O(log n).
///
/// Columns count characters from the start of the line. So that finding
/// the column of many positions in one very long line stays linear, the
/// index also keeps the number of characters before every
/// 256th byte.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    /// `(byte, characters before it)` at each char boundary at or just
    /// below a multiple of `CHAR_STRIDE`.
    chars: Vec<(usize, usize)>,
}

/// Bytes between two character-count checkpoints of a [`LineIndex`].
const CHAR_STRIDE: usize = 256;

impl LineIndex {
    /// Indexes the lines of `text`.
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut chars = Vec::with_capacity(text.len() / CHAR_STRIDE + 1);
        let (mut at, mut count) = (0, 0);
        for k in 0..=text.len() / CHAR_STRIDE {
            let next = floor_char_boundary(text, k * CHAR_STRIDE);
            count += text[at..next].chars().count();
            at = next;
            chars.push((at, count));
        }
        LineIndex { starts, chars }
    }

    /// The 0-based line holding a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1)
    }

    /// The byte offset where a 0-based line starts (the text's end past the last).
    pub fn start(&self, line: usize, text: &str) -> usize {
        self.starts.get(line).copied().unwrap_or(text.len())
    }

    /// The 1-based line and character column of a byte offset in `text`.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.line(offset);
        let column =
            self.chars_before(text, offset) - self.chars_before(text, self.starts[line]) + 1;
        (line + 1, column)
    }

    /// Characters in `text` before a byte offset on a char boundary.
    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let (at, count) = self
            .chars
            .get(offset / CHAR_STRIDE)
            .copied()
            .filter(|&(at, _)| at <= offset)
            .unwrap_or((0, 0));
        count + text[at..offset].chars().count()
    }
}

pub(crate) fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A byte range in one file of a program.
///
/// Two spans are equal when they cover the same bytes of the same file. To
/// compare syntax trees whatever their layout, compare them without spans
/// (`syntax::ast::Module::without_spans`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
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

    /// Orders spans by file, then position.
    pub fn key(self) -> (u32, u32, u32) {
        (self.file, self.start, self.end)
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}..{}", self.file, self.start, self.end)
    }
}
