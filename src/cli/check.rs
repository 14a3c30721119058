//! `jrule check`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::{Diagnostics, Source};

use super::{read_sources, Format, FAILED, OK, TROUBLE};

/// Arguments of `jrule check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The program's files (declarations are shared between them).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Count warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Print no summary line (diagnostics still print).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Checks the files; writes JSON to `out`, or rendered diagnostics to `err`
/// followed (unless `--quiet`) by a summary such as
/// `checked 2 files: 0 errors, 1 warning`.
pub fn run(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write, colour: bool) -> u8 {
    let sources = match read_sources(&args.files) {
        Ok(s) => s,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return TROUBLE;
        }
    };
    let mut checked = crate::check(&sources);
    if args.deny_warnings {
        checked.diagnostics.deny_warnings();
    }
    let diagnostics = &checked.diagnostics;
    let written = match args.format {
        Format::Json => writeln!(out, "{}", diagnostics.to_json(&sources)),
        Format::Human => {
            let mut text = render_reports(diagnostics, &sources, colour);
            if !args.quiet {
                let files = sources.len();
                let s = if files == 1 { "" } else { "s" };
                let counts = summary(diagnostics.errors(), diagnostics.warnings());
                text.push_str(&format!("checked {files} file{s}: {counts}\n"));
            }
            err.write_all(text.as_bytes())
        }
    };
    if written.is_err() {
        return TROUBLE;
    }
    if diagnostics.errors() > 0 {
        FAILED
    } else {
        OK
    }
}

/// Renders diagnostics like rustc, followed by a count (empty when clean).
pub fn render(diagnostics: &Diagnostics, sources: &[Source], colour: bool) -> String {
    let mut text = render_reports(diagnostics, sources, colour);
    if !diagnostics.is_empty() {
        text.push_str(&summary(diagnostics.errors(), diagnostics.warnings()));
        text.push('\n');
    }
    text
}

/// Renders each diagnostic with miette's graphical handler, without a count.
fn render_reports(diagnostics: &Diagnostics, sources: &[Source], colour: bool) -> String {
    let theme = if colour {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut text = String::new();
    for report in diagnostics.reports(sources) {
        let _ = handler.render_report(&mut text, &report);
        text.push('\n');
    }
    text
}

fn summary(errors: usize, warnings: usize) -> String {
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!("{}, {}", count(errors, "error"), count(warnings, "warning"))
}
