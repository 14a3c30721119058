//! Plain-text rendering of diagnostics in rustc's layout: no colour, no
//! terminal code, no miette `fancy` feature, so any host can log it.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Diagnostic, Diagnostics, Severity, MAX_QUOTED_LINE};
use crate::source::{floor_char_boundary, LineIndex, Source, Span};

/// How wide a tab is drawn (columns in the `file:line:column` header still
/// count it as one character).
const TAB_WIDTH: usize = 4;

impl Diagnostics {
    /// Renders every diagnostic as plain text in rustc's layout, followed
    /// by a count line; the empty string when there is nothing to report.
    ///
    /// Lines and columns are 1-based and count characters. The primary span
    /// is underlined with `^`, secondary labels with `-` (in another file,
    /// under a `:::` header of their own); lines between labels that are not
    /// next to each other are elided as `...`.
    ///
    /// ```
    /// use jrule::{check, Source};
    ///
    /// let sources = [Source::new(
    ///     "hotel.jr",
    ///     "places hotel\nsignal key_used {}\naction offer(what: text)\n\
    ///      when key_usd at hotel then offer(\"tea\")\n",
    /// )];
    /// let text = check(&sources).diagnostics.render(&sources);
    /// assert_eq!(
    ///     text,
    ///     r#"warning[jrule::unused]: signal `key_used` is never used
    ///  --> hotel.jr:2:8
    ///   |
    /// 2 | signal key_used {}
    ///   |        ^^^^^^^^ unused
    ///   |
    ///   = help: use it in a trigger or goal, or remove it
    ///
    /// error[jrule::unknown_signal]: unknown signal `key_usd`
    ///  --> hotel.jr:4:6
    ///   |
    /// 4 | when key_usd at hotel then offer("tea")
    ///   |      ^^^^^^^ not a declared signal
    ///   |
    ///   = help: did you mean `key_used`?
    ///
    /// 1 error, 1 warning
    /// "#
    /// );
    /// ```
    pub fn render(&self, sources: &[Source]) -> String {
        if self.is_empty() {
            return String::new();
        }
        let lines: Vec<LineIndex> = sources.iter().map(|s| LineIndex::new(&s.text)).collect();
        let mut out = String::new();
        for d in self {
            render_one(&mut out, d, sources, &lines);
            out.push('\n');
        }
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let _ = writeln!(
            out,
            "{}, {}",
            count(self.errors(), "error"),
            count(self.warnings(), "warning")
        );
        out
    }
}

/// A span to draw, with its label.
struct Mark<'a> {
    span: Span,
    label: Option<&'a str>,
    primary: bool,
}

/// One underline under a quoted line: display column, width, character
/// and label.
struct Underline<'a> {
    column: usize,
    width: usize,
    mark: char,
    label: Option<&'a str>,
}

/// The labels of one file: where the header points, and the quoted lines
/// (0-based) with their underlines.
struct Group<'a> {
    header: String,
    rows: BTreeMap<usize, (&'a str, Vec<Underline<'a>>)>,
}

fn render_one(out: &mut String, d: &Diagnostic, sources: &[Source], lines: &[LineIndex]) {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{severity}[{}]: {}", d.code, d.message);

    // The primary span's file first, then the others in the order of
    // their first note.
    let mut by_file: Vec<(u32, Vec<Mark<'_>>)> = vec![(
        d.span.file,
        vec![Mark {
            span: d.span,
            label: d.label.as_deref(),
            primary: true,
        }],
    )];
    for (span, label) in &d.notes {
        let mark = Mark {
            span: *span,
            label: Some(label.as_str()),
            primary: false,
        };
        match by_file.iter_mut().find(|(file, _)| *file == span.file) {
            Some((_, marks)) => marks.push(mark),
            None => by_file.push((span.file, vec![mark])),
        }
    }

    // Labels that cannot be drawn (unknown file, line too long to quote).
    let mut notes: Vec<String> = Vec::new();
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut widest = 1;
    for (file, marks) in &by_file {
        let (Some(source), Some(index)) = (sources.get(*file as usize), lines.get(*file as usize))
        else {
            notes.extend(marks.iter().filter_map(|m| m.label.map(str::to_string)));
            continue;
        };
        let text = source.text.as_str();
        let (line, column) = marks
            .first()
            .map_or((1, 1), |m| index.line_col(text, m.span.start as usize));
        let mut group = Group {
            header: format!("{}:{line}:{column}", source.name),
            rows: BTreeMap::new(),
        };
        for mark in marks {
            let last = place(&mut group, mark, text, index, &mut notes);
            widest = widest.max(digits(last + 1));
        }
        groups.push(group);
    }

    let pad = " ".repeat(widest);
    for (i, group) in groups.iter().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "{pad}--> {}", group.header);
        } else {
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{pad}::: {}", group.header);
        }
        if group.rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{pad} |");
        let mut previous: Option<usize> = None;
        for (&line, (text, underlines)) in &group.rows {
            if previous.is_some_and(|p| line > p + 1) {
                out.push_str("...\n");
            }
            previous = Some(line);
            let quoted = text.replace('\t', &" ".repeat(TAB_WIDTH));
            if quoted.is_empty() {
                let _ = writeln!(out, "{:>widest$} |", line + 1);
            } else {
                let _ = writeln!(out, "{:>widest$} | {quoted}", line + 1);
            }
            for u in underlines {
                let marks: String = std::iter::repeat_n(u.mark, u.width).collect();
                let _ = write!(out, "{pad} | {}{marks}", " ".repeat(u.column));
                match u.label {
                    Some(label) => {
                        let _ = writeln!(out, " {label}");
                    }
                    None => out.push('\n'),
                }
            }
        }
    }
    if !notes.is_empty() || d.help.is_some() {
        let _ = writeln!(out, "{pad} |");
    }
    for note in &notes {
        let _ = writeln!(out, "{pad} = note: {note}");
    }
    if let Some(help) = &d.help {
        let mut first = true;
        for line in help.lines() {
            if first {
                let _ = writeln!(out, "{pad} = help: {line}");
                first = false;
            } else {
                let _ = writeln!(out, "{pad}         {line}");
            }
        }
    }
}

/// Adds the underlines of `mark` to `group` (a span over several lines
/// underlines the rest of its first line and the start of its last, with
/// the label on the last); returns the last 0-based line it covers.
fn place<'a>(
    group: &mut Group<'a>,
    mark: &Mark<'a>,
    text: &'a str,
    index: &LineIndex,
    notes: &mut Vec<String>,
) -> usize {
    let start = floor_char_boundary(text, (mark.span.start as usize).min(text.len()));
    let mut end = floor_char_boundary(text, (mark.span.end as usize).clamp(start, text.len()));
    let first = index.line(start);
    let mut last = index.line(end);
    // A span that ends with its line break ends on that line.
    if last > first && end == index.start(last, text) {
        last -= 1;
        end -= 1;
    }
    let line_text = |line: usize| {
        let from = index.start(line, text);
        let to = index.start(line + 1, text);
        text.get(from..to)
            .unwrap_or("")
            .trim_end_matches('\n')
            .trim_end_matches('\r')
    };
    let (mark_char, label) = (if mark.primary { '^' } else { '-' }, mark.label);
    let mut underline = |line: usize, from: usize, to: Option<usize>, label: Option<&'a str>| {
        let quoted = line_text(line);
        if quoted.len() > MAX_QUOTED_LINE {
            if let Some(label) = label {
                notes.push(format!("{label} (line {} too long to quote)", line + 1));
            }
            return;
        }
        let from = floor_char_boundary(quoted, from.min(quoted.len()));
        let to = to.map_or(quoted.len(), |t| {
            floor_char_boundary(quoted, t.clamp(from, quoted.len()))
        });
        let column = width(&quoted[..from]);
        let underline = Underline {
            column,
            width: width(&quoted[from..to]).max(1),
            mark: mark_char,
            label,
        };
        group
            .rows
            .entry(line)
            .or_insert_with(|| (quoted, Vec::new()))
            .1
            .push(underline);
    };
    let first_start = index.start(first, text);
    if first == last {
        underline(first, start - first_start, Some(end - first_start), label);
    } else {
        underline(first, start - first_start, None, None);
        let last_start = index.start(last, text);
        let indent = line_text(last).len() - line_text(last).trim_start().len();
        underline(last, indent, Some(end - last_start), label);
    }
    last
}

/// Display width: characters, with a tab as [`TAB_WIDTH`].
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if c == '\t' { TAB_WIDTH } else { 1 })
        .sum()
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    fn render(sources: &[Source], list: Vec<Diagnostic>) -> String {
        Diagnostics::from_vec(list).render(sources)
    }

    fn at(text: &str, what: &str) -> Span {
        let start = text.find(what).expect("in the text");
        Span::new(0, start, start + what.len())
    }

    #[test]
    fn nothing_to_report_is_empty() {
        assert_eq!(render(&[Source::new("t.jr", "")], vec![]), "");
    }

    #[test]
    fn single_line_span() {
        let text = "signal key_used {}\nwhen key_usd then x\n";
        let d = Diagnostic::new(
            Code::UnknownSignal,
            at(text, "key_usd"),
            "unknown signal `key_usd`",
        )
        .label("not a declared signal")
        .help("did you mean `key_used`?");
        assert_eq!(
            render(&[Source::new("t.jr", text)], vec![d]),
            "\
error[jrule::unknown_signal]: unknown signal `key_usd`
 --> t.jr:2:6
  |
2 | when key_usd then x
  |      ^^^^^^^ not a declared signal
  |
  = help: did you mean `key_used`?

1 error, 0 warnings
"
        );
    }

    #[test]
    fn note_on_another_line() {
        let text = "signal s {}\nsignal t {}\n\nsignal s {}\n";
        let (first, second) = (text.find("s {").unwrap(), text.rfind("s {").unwrap());
        let d = Diagnostic::new(
            Code::Duplicate,
            Span::new(0, second, second + 1),
            "signal `s` is declared twice",
        )
        .label("declared again here")
        .note(Span::new(0, first, first + 1), "first declared here")
        .help("remove one\nor rename it");
        assert_eq!(
            render(&[Source::new("a.jr", text)], vec![d]),
            "\
error[jrule::duplicate]: signal `s` is declared twice
 --> a.jr:4:8
  |
1 | signal s {}
  |        - first declared here
...
4 | signal s {}
  |        ^ declared again here
  |
  = help: remove one
          or rename it

1 error, 0 warnings
"
        );
    }

    #[test]
    fn multi_byte_characters_and_tabs() {
        let text = "when s where customer.name == \"h\u{e9}llo\"\tand x then y\n";
        let d = Diagnostic::new(Code::UnknownField, at(text, "x"), "unknown `x`").label("here");
        // Column 43 counts `é` and the tab as one character each; the tab
        // is drawn as four spaces, above and below.
        assert_eq!(
            render(&[Source::new("b.jr", text)], vec![d]),
            "\
error[jrule::unknown_field]: unknown `x`
 --> b.jr:1:43
  |
1 | when s where customer.name == \"h\u{e9}llo\"    and x then y
  |                                              ^ here

1 error, 0 warnings
"
        );
    }

    #[test]
    fn span_at_and_past_the_end_of_the_file() {
        let text = "when s then";
        let end = Diagnostic::new(
            Code::Syntax,
            Span::new(0, text.len(), text.len()),
            "expected an action after `then`, found the end of the file",
        );
        let past =
            Diagnostic::new(Code::Syntax, Span::new(0, 500, 900), "past the end").label("here");
        assert_eq!(
            render(&[Source::new("c.jr", text)], vec![end, past]),
            "\
error[jrule::syntax]: expected an action after `then`, found the end of the file
 --> c.jr:1:12
  |
1 | when s then
  |            ^

error[jrule::syntax]: past the end
 --> c.jr:1:12
  |
1 | when s then
  |            ^ here

2 errors, 0 warnings
"
        );
        // After a final line break, the end is on an empty last line.
        let d = Diagnostic::new(Code::Syntax, Span::new(0, 4, 4), "end").label("here");
        assert_eq!(
            render(&[Source::new("g.jr", "a\nb\n")], vec![d]),
            "error[jrule::syntax]: end\n --> g.jr:3:1\n  |\n3 |\n  | ^ here\n\n1 error, 0 warnings\n"
        );
    }

    #[test]
    fn warning() {
        let text = "signal never {}\n";
        let d = Diagnostic::new(
            Code::Unused,
            at(text, "never"),
            "signal `never` is never used",
        )
        .label("not used")
        .help("use it in a trigger or goal, or remove it");
        assert_eq!(
            render(&[Source::new("d.jr", text)], vec![d]),
            "\
warning[jrule::unused]: signal `never` is never used
 --> d.jr:1:8
  |
1 | signal never {}
  |        ^^^^^ not used
  |
  = help: use it in a trigger or goal, or remove it

0 errors, 1 warning
"
        );
    }

    #[test]
    fn multi_line_span_and_notes_elsewhere() {
        let text = "rule r:\n  when s\n  then x\n  extra\n";
        let other = "signal s {}\n";
        let d = Diagnostic::new(
            Code::ConflictingMoves,
            Span::new(0, 0, text.len()),
            "two moves",
        )
        .label("this rule")
        .note(Span::new(1, 7, 11), "the other")
        .note(Span::new(7, 0, 1), "in no file");
        let sources = [Source::new("e.jr", text), Source::new("a.jr", other)];
        assert_eq!(
            render(&sources, vec![d]),
            "\
warning[jrule::conflicting_moves]: two moves
 --> e.jr:1:1
  |
1 | rule r:
  | ^^^^^^^
...
4 |   extra
  |   ^^^^^ this rule
  |
 ::: a.jr:1:8
  |
1 | signal s {}
  |        ---- the other
  |
  = note: in no file

0 errors, 1 warning
"
        );
    }

    #[test]
    fn long_lines_are_not_quoted() {
        let text = format!("when s where {} then x\n", "a or ".repeat(100));
        let d = Diagnostic::new(Code::Syntax, Span::new(0, 5, 6), "long")
            .label("this")
            .help("h");
        assert_eq!(
            render(&[Source::new("f.jr", text)], vec![d]),
            "\
error[jrule::syntax]: long
 --> f.jr:1:6
  |
  = note: this (line 1 too long to quote)
  = help: h

1 error, 0 warnings
"
        );
    }
}
