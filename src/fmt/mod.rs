//! The formatter behind `jrule fmt`: prints a file's syntax tree in the one
//! canonical layout (docs/language.md, "Formatting"), with its comments put
//! back where they were.
//!
//! The parser skips comments, so they are found again in the text
//! (`comments.rs`). The printer (`print.rs`) turns the tree into lines, each
//! remembering where its last token ends in the source; `assemble` then
//! writes every comment before the first line that ends after it (a
//! *leading* comment, on a line of its own), or after a line when it
//! followed that line's last token on the same source line (a *trailing*
//! comment). A comment inside a line that stays on one line (inside an
//! expression, a list of names, a one-line rule) therefore moves to the
//! line before it; none is ever dropped, and [`format()`] checks that, and
//! that the result parses to the same tree, before returning it.
//!
//! Where a node has a one-line and a broken form, the broken form is taken
//! when the line is too long or a comment would fall inside it. For a text
//! whose nodes come in the canonical order that choice reads the same in
//! the output, so formatting the output changes nothing. Clauses written
//! out of order are the exception (their comments are placed as well as
//! the first pass can), so [`format()`] runs the printer twice.
//!
//! Blank lines: one is kept before an item (a declaration, a journey's
//! stages, goals and rules, a field, an enum value, a split arm) or a
//! comment before it, where the source had one or more; none elsewhere.

mod comments;
mod expr;
mod print;

use crate::diagnostic::Diagnostics;
use crate::source::{LineIndex, Source};
use crate::syntax::{self, ast};

use comments::Comments;
use expr::Exprs;
use print::{Line, Printer};

/// Lines are kept within this many columns where the layout allows it.
pub const WIDTH: usize = 100;

/// A formatted file.
#[derive(Debug, Clone)]
pub struct Formatted {
    /// The canonical text.
    pub text: String,
    /// Unnamed rules whose `when` moved to another line: their names
    /// (`L<line>`) change with it.
    pub renamed: Vec<Renamed>,
}

impl Formatted {
    /// True when the text differs from `source`'s.
    pub fn changes(&self, source: &Source) -> bool {
        self.text != source.text
    }
}

/// An unnamed rule that formatting moves to another line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renamed {
    /// The line of its `when` before (1-based): it was named `L<from>`.
    pub from: usize,
    /// The line after: it is named `L<to>`.
    pub to: usize,
}

/// Why a file was not formatted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FmtError {
    /// The file has syntax errors (or clauses written twice, which the tree
    /// does not keep): the diagnostics say where.
    #[error("the file does not parse")]
    Syntax(Diagnostics),
    /// A bug: the formatted text would not read back as the same program,
    /// or would lose a comment. Nothing should be written.
    #[error("the formatted text would {0}")]
    Unfaithful(&'static str),
}

/// Formats one source file.
///
/// ```
/// use jrule::Source;
/// let source = Source::new("t.jr", "signal ping   action note(n:int)\nwhen ping then note( (1) )");
/// let formatted = jrule::fmt::format(&source).unwrap();
/// assert_eq!(formatted.text, "signal ping\naction note(n: int)\nwhen ping then note(1)\n");
/// ```
pub fn format(source: &Source) -> Result<Formatted, FmtError> {
    let parsed = syntax::parse(source, 0);
    if parsed.broken || !parsed.diagnostics.is_empty() {
        return Err(FmtError::Syntax(Diagnostics::from_vec(parsed.diagnostics)));
    }
    // Clauses written out of the canonical order come out reordered, and
    // their comments where the first pass could put them; a second pass
    // over the (now ordered) text settles them, and then the text is stable.
    let once = layout(&source.text, &parsed.module);
    let once_parsed = reparse(source, &once, &parsed.module)?;
    let text = layout(&once, &once_parsed);
    let again = reparse(source, &text, &parsed.module)?;

    let mut before: Vec<String> = Comments::scan(&source.text)
        .list
        .into_iter()
        .map(|c| c.text)
        .collect();
    let mut after: Vec<String> = Comments::scan(&text)
        .list
        .into_iter()
        .map(|c| c.text)
        .collect();
    before.sort_unstable();
    after.sort_unstable();
    if before != after {
        return Err(FmtError::Unfaithful("lose or change a comment"));
    }
    let renamed = renamed(&source.text, &parsed.module, &text, &again);
    Ok(Formatted { text, renamed })
}

/// One pass of the printer over a parsed text.
fn layout(text: &str, module: &ast::Module) -> String {
    let comments = Comments::scan(text);
    let printer = Printer {
        comments: &comments,
        exprs: Exprs { text },
    };
    assemble(&printer.module(module), &comments)
}

/// Parses formatted text; it must read back as `module`.
fn reparse(source: &Source, text: &str, module: &ast::Module) -> Result<ast::Module, FmtError> {
    let parsed = syntax::parse(&Source::new(source.name.clone(), text), 0);
    if !parsed.diagnostics.is_empty() || parsed.module.without_spans() != module.without_spans() {
        return Err(FmtError::Unfaithful("not read back as the same program"));
    }
    Ok(parsed.module)
}

/// Prints a syntax tree in the canonical layout, without comments (a tree
/// does not hold them) and with literals in their canonical spelling.
/// Recursion follows the depth of expressions, which the parser bounds.
pub fn print(module: &ast::Module) -> String {
    let comments = Comments::none();
    let printer = Printer {
        comments: &comments,
        exprs: Exprs { text: "" },
    };
    assemble(&printer.module(module), &comments)
}

/// Writes the lines with the comments put back (see the module's doc).
fn assemble(lines: &[Line], comments: &Comments<'_>) -> String {
    let list = &comments.list;
    let mut out = String::new();
    let mut next = 0;
    // No blank line at the top of the file or right after an opening line.
    let mut after_open = true;
    for line in lines {
        let mut item_blank = line.item && comments.blank_line_before(line.start);
        while let Some(c) = list.get(next).filter(|c| c.start < line.end) {
            let blank = if line.item && c.start >= line.start {
                // A comment from inside the item: the item's blank line
                // goes before it.
                std::mem::take(&mut item_blank)
            } else {
                (line.item || line.close) && comments.blank_line_before(c.start)
            };
            if blank && !after_open {
                out.push('\n');
            }
            indented(&mut out, line.indent + usize::from(line.close), &c.text);
            after_open = false;
            next += 1;
        }
        if item_blank && !after_open {
            out.push('\n');
        }
        out.extend(std::iter::repeat_n("  ", line.indent));
        out.push_str(&line.text);
        while let Some(c) = list
            .get(next)
            .filter(|c| comments.follows_on_line(line.end, c))
        {
            out.push(' ');
            out.push_str(&c.text);
            next += 1;
        }
        out.push('\n');
        after_open = line.open;
    }
    for c in list.get(next..).unwrap_or(&[]) {
        if !after_open && comments.blank_line_before(c.start) {
            out.push('\n');
        }
        indented(&mut out, 0, &c.text);
        after_open = false;
    }
    out
}

fn indented(out: &mut String, indent: usize, text: &str) {
    out.extend(std::iter::repeat_n("  ", indent));
    out.push_str(text);
    out.push('\n');
}

/// The unnamed rules of `old` whose `when` is on another line in `new`.
fn renamed(old_text: &str, old: &ast::Module, new_text: &str, new: &ast::Module) -> Vec<Renamed> {
    let (old_lines, new_lines) = (LineIndex::new(old_text), LineIndex::new(new_text));
    rules(old)
        .zip(rules(new))
        .filter(|(a, _)| a.name.is_none())
        .filter_map(|(a, b)| {
            let from = old_lines.line(a.when.start as usize) + 1;
            let to = new_lines.line(b.when.start as usize) + 1;
            (from != to).then_some(Renamed { from, to })
        })
        .collect()
}

/// Every rule of a module, in written order.
fn rules(m: &ast::Module) -> impl Iterator<Item = &ast::Rule> {
    m.items.iter().flat_map(|item| {
        let rules: Box<dyn Iterator<Item = &ast::Rule>> = match item {
            ast::Item::Rule(r) => Box::new(std::iter::once(&**r)),
            ast::Item::Journey(j) => Box::new(j.rules.iter()),
            _ => Box::new(std::iter::empty()),
        };
        rules
    })
}
