//! The comments of a source file, which the parser skips: found again in
//! the text, with the small searches the printer needs to place them.

/// One comment as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Comment {
    /// Offset of its first byte (`/`).
    pub start: usize,
    /// Offset one past its last byte (a line comment's trailing spaces and
    /// `\r` are not part of it).
    pub end: usize,
    /// Its text, with trailing whitespace removed from each of its lines.
    pub text: String,
    /// A `// …` comment: nothing may follow it on its line.
    pub line: bool,
}

/// The comments of a text that parsed, in order, and the text itself.
pub(super) struct Comments<'s> {
    pub text: &'s str,
    pub list: Vec<Comment>,
}

impl<'s> Comments<'s> {
    /// Finds every comment of `text`, skipping text literals (where `//` and
    /// `/*` are characters, not comments).
    pub fn scan(text: &'s str) -> Comments<'s> {
        let bytes = text.as_bytes();
        let mut list = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    let line_end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                    let body = text[i..line_end].trim_end();
                    list.push(Comment {
                        start: i,
                        end: i + body.len(),
                        text: body.to_string(),
                        line: true,
                    });
                    i = line_end;
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    let end = text[i + 2..].find("*/").map_or(bytes.len(), |n| i + n + 4);
                    list.push(Comment {
                        start: i,
                        end,
                        text: normalize_block(&text[i..end]),
                        line: false,
                    });
                    i = end;
                }
                _ => i += 1,
            }
        }
        Comments { text, list }
    }

    /// No source: no comments.
    pub fn none() -> Comments<'static> {
        Comments {
            text: "",
            list: Vec::new(),
        }
    }

    /// True when a comment starts in `start..end`.
    pub fn any_in(&self, start: usize, end: usize) -> bool {
        let first = self.list.partition_point(|c| c.start < start);
        self.list.get(first).is_some_and(|c| c.start < end)
    }

    /// The comment that ends exactly at `pos`, if any.
    fn ending_at(&self, pos: usize) -> Option<&Comment> {
        let i = self.list.partition_point(|c| c.end < pos);
        self.list.get(i).filter(|c| c.end == pos)
    }

    /// The comment that starts exactly at `pos`, if any.
    fn starting_at(&self, pos: usize) -> Option<&Comment> {
        let i = self.list.partition_point(|c| c.start < pos);
        self.list.get(i).filter(|c| c.start == pos)
    }

    /// `pos` moved back over the whitespace and comments before it.
    pub fn trim_end(&self, pos: usize) -> usize {
        let mut at = pos.min(self.text.len());
        loop {
            at = self
                .text
                .get(..at)
                .map_or(at, |before| before.trim_end().len());
            match self.ending_at(at) {
                Some(c) => at = c.start,
                None => return at,
            }
        }
    }

    /// Where the keyword `word` starts when it stands right before `pos`
    /// (with only whitespace and comments between); `pos` if it does not.
    pub fn keyword_before(&self, pos: usize, word: &str) -> usize {
        let at = self.trim_end(pos);
        match self.text.get(..at) {
            Some(before) if before.ends_with(word) => at - word.len(),
            _ => pos,
        }
    }

    /// The offset just past `token` when it comes next after `pos` (with
    /// only whitespace, commas and comments between); `pos` if it does not.
    pub fn past(&self, pos: usize, token: &str) -> usize {
        let mut at = pos;
        while let Some(rest) = self.text.get(at..) {
            if rest.starts_with(token) {
                return at + token.len();
            }
            if let Some(c) = self.starting_at(at) {
                at = c.end;
                continue;
            }
            match rest.chars().next() {
                Some(ch) if ch.is_whitespace() || ch == ',' => at += ch.len_utf8(),
                _ => break,
            }
        }
        pos
    }

    /// True when the text right before `pos` holds an empty line: only
    /// whitespace back to the previous token or comment, with two line breaks.
    pub fn blank_line_before(&self, pos: usize) -> bool {
        let before = self.text.get(..pos).unwrap_or("");
        let gap = &before[before.trim_end().len()..];
        gap.matches('\n').count() >= 2
    }

    /// True when the comment `c` follows `pos` on the same line, with only
    /// spaces, commas and other comments between.
    pub fn follows_on_line(&self, pos: usize, c: &Comment) -> bool {
        let Some(gap) = self.text.get(pos..c.start) else {
            return false;
        };
        let mut at = 0;
        while at < gap.len() {
            if let Some(other) = self.starting_at(pos + at) {
                if other.line {
                    return false;
                }
                at = other.end - pos;
                continue;
            }
            match gap[at..].chars().next() {
                Some('\n') | None => return false,
                Some(ch) if ch.is_whitespace() || ch == ',' => at += ch.len_utf8(),
                Some(_) => return false,
            }
        }
        true
    }
}

/// A block comment with `\r\n` turned into `\n` and no trailing whitespace
/// on its lines (the formatted file has none anywhere).
fn normalize_block(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_but_not_inside_text() {
        let text = "a // one\nb \"// no /* no\" /* two\n  lines */ c \"\\\"//\" // three  \n";
        let c = Comments::scan(text);
        let texts: Vec<&str> = c.list.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["// one", "/* two\n  lines */", "// three"]);
    }

    #[test]
    fn searches() {
        let text = "places /* x */ a\n\n  // y\nb";
        let c = Comments::scan(text);
        assert_eq!(c.keyword_before(15, "places"), 0);
        assert_eq!(c.keyword_before(15, "stages"), 15);
        assert!(c.blank_line_before(20));
        assert!(!c.blank_line_before(25));
        assert_eq!(c.past(6, "a"), 16);
        assert!(c.any_in(0, 16));
        assert!(c.any_in(7, 8));
        assert!(!c.any_in(8, 16));
    }
}
