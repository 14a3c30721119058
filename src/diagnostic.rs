//! Diagnostics: what the parser and checker report, with codes and spans.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::source::{LineIndex, Source, Span};

mod render;

/// How bad a diagnostic is. Errors stop compilation; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The program is usable.
    Warning,
    /// The program cannot run.
    Error,
}

/// The stable code of a diagnostic (`jrule::…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum Code {
    Syntax,
    Limit,
    Duplicate,
    UnknownSignal,
    UnknownPlace,
    UnknownChannel,
    UnknownStage,
    UnknownAction,
    UnknownField,
    UnknownValue,
    UnknownType,
    TypeMismatch,
    Arity,
    StageOutsideJourney,
    InvalidMove,
    SplitTotal,
    BadLimit,
    EventFieldAmbiguous,
    PartialMove,
    UnreachableStage,
    Unused,
    NeverFires,
    ConflictingMoves,
    /// The checker accepted something it then could not resolve: a bug of
    /// jrule, reported instead of compiling a wrong program.
    Internal,
}

impl Code {
    /// The code as written in output, e.g. `jrule::unknown_signal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "jrule::syntax",
            Code::Limit => "jrule::limit",
            Code::Duplicate => "jrule::duplicate",
            Code::UnknownSignal => "jrule::unknown_signal",
            Code::UnknownPlace => "jrule::unknown_place",
            Code::UnknownChannel => "jrule::unknown_channel",
            Code::UnknownStage => "jrule::unknown_stage",
            Code::UnknownAction => "jrule::unknown_action",
            Code::UnknownField => "jrule::unknown_field",
            Code::UnknownValue => "jrule::unknown_value",
            Code::UnknownType => "jrule::unknown_type",
            Code::TypeMismatch => "jrule::type_mismatch",
            Code::Arity => "jrule::arity",
            Code::StageOutsideJourney => "jrule::stage_outside_journey",
            Code::InvalidMove => "jrule::invalid_move",
            Code::SplitTotal => "jrule::split_total",
            Code::BadLimit => "jrule::bad_limit",
            Code::EventFieldAmbiguous => "jrule::event_field_ambiguous",
            Code::PartialMove => "jrule::partial_move",
            Code::UnreachableStage => "jrule::unreachable_stage",
            Code::Unused => "jrule::unused",
            Code::NeverFires => "jrule::never_fires",
            Code::ConflictingMoves => "jrule::conflicting_moves",
            Code::Internal => "jrule::internal",
        }
    }

    /// The severity this code always has.
    pub fn severity(self) -> Severity {
        match self {
            Code::PartialMove
            | Code::UnreachableStage
            | Code::Unused
            | Code::NeverFires
            | Code::ConflictingMoves => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a program.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// A lowercase one-line message.
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// What to say under the primary span.
    pub label: Option<String>,
    /// Other places that help explain the problem.
    pub notes: Vec<(Span, String)>,
    /// How to fix it, where known.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's severity.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span,
            label: None,
            notes: Vec::new(),
            help: None,
        }
    }

    /// Adds the label under the primary span.
    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary labelled span.
    pub fn note(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.notes.push((span, label.into()));
        self
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a help line when there is one.
    pub fn maybe_help(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }
}

/// Everything reported about a program, in source order.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn from_vec(mut list: Vec<Diagnostic>) -> Diagnostics {
        list.sort_by_key(|d| (d.span.key(), d.code.as_str()));
        Diagnostics { list }
    }

    /// All diagnostics, ordered by file and position.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.list.iter()
    }

    /// Number of diagnostics.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.list.iter().filter(|d| d.severity == severity).count()
    }

    /// Turns every warning into an error (`--deny-warnings`).
    pub fn deny_warnings(&mut self) {
        for d in &mut self.list {
            d.severity = Severity::Error;
        }
    }

    /// The JSON form of `jrule check --format json`.
    pub fn to_json(&self, sources: &[Source]) -> serde_json::Value {
        let lines: Vec<LineIndex> = sources.iter().map(|s| LineIndex::new(&s.text)).collect();
        let list: Vec<JsonDiagnostic> = self
            .list
            .iter()
            .map(|d| JsonDiagnostic::new(d, sources, &lines))
            .collect();
        serde_json::json!({
            "diagnostics": list,
            "errors": self.errors(),
            "warnings": self.warnings(),
        })
    }

    /// Wraps each diagnostic with its source so that miette can render it.
    pub fn reports<'a>(&'a self, sources: &'a [Source]) -> impl Iterator<Item = Report<'a>> {
        let lines: Arc<Vec<LineIndex>> =
            Arc::new(sources.iter().map(|s| LineIndex::new(&s.text)).collect());
        self.list
            .iter()
            .map(move |d| Report::new(d, sources, Arc::clone(&lines)))
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    help: Option<&'a str>,
}

impl<'a> JsonDiagnostic<'a> {
    fn new(d: &'a Diagnostic, sources: &'a [Source], lines: &[LineIndex]) -> JsonDiagnostic<'a> {
        let source = &sources[d.span.file as usize];
        let index = &lines[d.span.file as usize];
        let (line, column) = index.line_col(&source.text, d.span.start as usize);
        let (end_line, end_column) = index.line_col(&source.text, d.span.end as usize);
        JsonDiagnostic {
            code: d.code.as_str(),
            severity: d.severity,
            message: &d.message,
            file: &source.name,
            line,
            column,
            end_line,
            end_column,
            help: d.help.as_deref(),
        }
    }
}

/// Lines longer than this are not quoted in rendered diagnostics.
const MAX_QUOTED_LINE: usize = 400;

/// A note further than this many lines from the primary span is not drawn
/// beside it (which would quote every line in between), but named in the
/// help with its position, like a note in another file.
const MAX_NOTE_DISTANCE: usize = 20;

/// A diagnostic together with its source, as a `miette::Diagnostic`.
#[derive(Debug)]
pub struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: Quoted<'a>,
    quote: bool,
    help: Option<String>,
    /// For each note, whether it is drawn as a label.
    drawn: Vec<bool>,
}

impl<'a> Report<'a> {
    fn new(d: &'a Diagnostic, sources: &'a [Source], lines: Arc<Vec<LineIndex>>) -> Report<'a> {
        let file = &sources[d.span.file as usize];
        let index = &lines[d.span.file as usize];
        let line = index.line(d.span.start as usize);
        let line_len = index.start(line + 1, &file.text) - index.start(line, &file.text);
        let quote = line_len <= MAX_QUOTED_LINE;
        // Notes in other files cannot be drawn, and notes far from the
        // primary span would quote every line in between: say where they
        // are instead.
        let mut help = d.help.clone();
        let drawn: Vec<bool> = d
            .notes
            .iter()
            .map(|(span, _)| {
                span.file == d.span.file
                    && index.line(span.start as usize).abs_diff(line) <= MAX_NOTE_DISTANCE
            })
            .collect();
        for ((span, label), _) in d.notes.iter().zip(&drawn).filter(|(_, &drawn)| !drawn) {
            let other = &sources[span.file as usize];
            let (line, column) =
                lines[span.file as usize].line_col(&other.text, span.start as usize);
            let note = format!("{label}: {}:{line}:{column}", other.name);
            help = Some(match help {
                Some(h) => format!("{h}\n{note}"),
                None => note,
            });
        }
        if !quote {
            let (line, column) = index.line_col(&file.text, d.span.start as usize);
            let at = format!("at {}:{line}:{column} (line too long to quote)", file.name);
            help = Some(match help {
                Some(h) => format!("{at}\n{h}"),
                None => at,
            });
        }
        Report {
            diagnostic: d,
            source: Quoted {
                name: &file.name,
                text: &file.text,
                lines,
                file: d.span.file as usize,
            },
            quote,
            help,
            drawn,
        }
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.quote
            .then_some(&self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if !self.quote {
            return None;
        }
        let d = self.diagnostic;
        let primary = miette::LabeledSpan::new_primary_with_span(
            d.label.clone(),
            miette::SourceSpan::from(d.span.range()),
        );
        let notes = d
            .notes
            .iter()
            .zip(&self.drawn)
            .filter(|(_, &drawn)| drawn)
            .map(|((span, label), _)| {
                miette::LabeledSpan::new_with_span(
                    Some(label.clone()),
                    miette::SourceSpan::from(span.range()),
                )
            });
        Some(Box::new(std::iter::once(primary).chain(notes)))
    }
}

/// A named source file as miette reads it, borrowed. Spans are read from
/// a window of lines found through the line index, so rendering many
/// diagnostics of a large file stays linear.
#[derive(Debug)]
struct Quoted<'a> {
    name: &'a str,
    text: &'a str,
    lines: Arc<Vec<LineIndex>>,
    file: usize,
}

impl miette::SourceCode for Quoted<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let index = &self.lines[self.file];
        let first = index
            .line(span.offset())
            .saturating_sub(context_lines_before);
        let last = index.line(span.offset() + span.len()) + context_lines_after + 2;
        let start = index.start(first, self.text);
        let end = index.start(last, self.text);
        let window = &self.text[start..end];
        let inner = miette::SourceSpan::from((span.offset().saturating_sub(start), span.len()));
        let contents = window.read_span(&inner, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            contents.data(),
            miette::SourceSpan::from((contents.span().offset() + start, contents.span().len())),
            contents.line() + first,
            contents.column(),
            contents.line_count() + first,
        )))
    }
}
