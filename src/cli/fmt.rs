//! `jrule fmt`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::fmt::{format, FmtError, Formatted};
use crate::source::{io_reason, Source, MAX_SOURCE_BYTES};

use super::{FAILED, OK, TROUBLE};

/// Arguments of `jrule fmt`.
#[derive(Args, Debug)]
pub struct FmtArgs {
    /// The files to format in place (`-` formats stdin onto stdout).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write nothing: print the files that would change (a short diff on
    /// stderr) and exit with 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

/// Formats the files: 0 when done (or, with `--check`, when none would
/// change), 1 with `--check` when some would, 2 when a file cannot be read,
/// parsed or written. The other files are still handled.
pub fn run(
    args: &FmtArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    colour: bool,
) -> u8 {
    let mut status = OK;
    for path in &args.files {
        let one = if path.as_os_str() == "-" {
            stdin_file(args.check, stdin, out, err, colour)
        } else {
            one_file(args.check, path, out, err, colour)
        };
        status = status.max(one);
    }
    status
}

fn one_file(
    check: bool,
    path: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
    colour: bool,
) -> u8 {
    let source = match Source::read(path) {
        Ok(s) => s,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return TROUBLE;
        }
    };
    let Some(formatted) = formatted(&source, check, err, colour) else {
        return TROUBLE;
    };
    if !formatted.changes(&source) {
        return OK;
    }
    if check {
        let _ = writeln!(out, "{}", source.name);
        let _ = err.write_all(short_diff(&source.name, &source.text, &formatted.text).as_bytes());
        return FAILED;
    }
    match write_in_place(path, &formatted.text) {
        Ok(()) => OK,
        Err(e) => {
            let _ = writeln!(
                err,
                "error: cannot write `{}`: {}",
                source.name,
                io_reason(&e)
            );
            TROUBLE
        }
    }
}

fn stdin_file(
    check: bool,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    colour: bool,
) -> u8 {
    let mut bytes = Vec::new();
    if let Err(e) = stdin
        .take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
    {
        let _ = writeln!(err, "error: cannot read stdin: {}", io_reason(&e));
        return TROUBLE;
    }
    let source = Source::from_bytes("<stdin>", bytes);
    let Some(formatted) = formatted(&source, check, err, colour) else {
        return TROUBLE;
    };
    let changes = formatted.changes(&source);
    if check {
        if changes {
            let _ = writeln!(out, "{}", source.name);
            let _ =
                err.write_all(short_diff(&source.name, &source.text, &formatted.text).as_bytes());
            return FAILED;
        }
        return OK;
    }
    match out.write_all(formatted.text.as_bytes()) {
        Ok(()) => OK,
        Err(_) => TROUBLE,
    }
}

/// Formats a source, reporting on `err` why it cannot be, and the unnamed
/// rules whose names change.
fn formatted(source: &Source, check: bool, err: &mut dyn Write, colour: bool) -> Option<Formatted> {
    match format(source) {
        Ok(f) => {
            for r in &f.renamed {
                let _ = writeln!(
                    err,
                    "warning: `{}`: the unnamed rule `L{}` {} to line {}, so its name becomes \
                     `L{}`; name it (`rule NAME:`) to keep its decisions, split arms and \
                     saved state",
                    source.name,
                    r.from,
                    if check { "would move" } else { "moves" },
                    r.to,
                    r.to
                );
            }
            Some(f)
        }
        Err(FmtError::Syntax(diagnostics)) => {
            let rendered = super::check::render(&diagnostics, std::slice::from_ref(source), colour);
            let _ = err.write_all(rendered.as_bytes());
            let _ = writeln!(
                err,
                "error: `{}` is not formatted: it does not parse",
                source.name
            );
            None
        }
        Err(e @ FmtError::Unfaithful(_)) => {
            let _ = writeln!(
                err,
                "error: `{}` is not formatted: {e} (a bug in `jrule fmt`; please report it)",
                source.name
            );
            None
        }
    }
}

/// Writes beside the file (through a symbolic link, to its target), with
/// the file's permissions, then renames over it: the file is never left
/// half written.
fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let permissions = std::fs::metadata(&target)?.permissions();
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.fmt-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::set_permissions(&temp, permissions)?;
        std::fs::rename(&temp, &target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The most lines of each side a diff shows.
const DIFF_LINES: usize = 12;

/// One hunk from the first changed line to the last, cut short.
pub fn short_diff(name: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (old_mid, new_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut text = format!(
        "--- {name}\n+++ {name} (formatted)\n@@ -{},{} +{},{} @@\n",
        prefix + 1,
        old_mid.len(),
        prefix + 1,
        new_mid.len()
    );
    if old_mid.is_empty() && new_mid.is_empty() {
        text.push_str("  (only line endings or the end of the file differ)\n");
    }
    if let Some(ops) = super::diff::lines(old_mid, new_mid) {
        for (sign, line) in ops.iter().take(2 * DIFF_LINES) {
            text.push(*sign);
            text.push_str(line);
            text.push('\n');
        }
        if ops.len() > 2 * DIFF_LINES {
            text.push_str(&format!("… {} more lines\n", ops.len() - 2 * DIFF_LINES));
        }
        return text;
    }
    for (sign, side) in [('-', old_mid), ('+', new_mid)] {
        for line in side.iter().take(DIFF_LINES) {
            text.push(sign);
            text.push_str(line);
            text.push('\n');
        }
        if side.len() > DIFF_LINES {
            text.push_str(&format!("{sign}… {} more lines\n", side.len() - DIFF_LINES));
        }
    }
    text
}
