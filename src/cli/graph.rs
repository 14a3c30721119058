//! `jrule graph`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};

use super::{read_sources, OK, TROUBLE};

/// Arguments of `jrule graph`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The program's files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Only this journey.
    #[arg(long, value_name = "NAME")]
    pub journey: Option<String>,
    /// Graphviz DOT, Mermaid, or SVG rendered by Graphviz's `dot`.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Write the picture to FILE (replaced only when drawing succeeds)
    /// instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Output format of `jrule graph`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid state diagram.
    Mermaid,
    /// SVG, rendered by the `dot` program.
    Svg,
}

/// Writes the stage graphs of the program's journeys to `out`.
pub fn run(args: &GraphArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let sources = match read_sources(&args.files) {
        Ok(s) => s,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return TROUBLE;
        }
    };
    let checked = crate::check(&sources);
    if !checked.is_ok() {
        let _ =
            err.write_all(super::check::render(&checked.diagnostics, &sources, false).as_bytes());
        let _ = writeln!(err, "error: the program does not check");
        return TROUBLE;
    }
    let graphs = crate::graph::journeys(&sources, &checked, args.journey.as_deref());
    if let (Some(name), true) = (&args.journey, graphs.is_empty()) {
        let _ = writeln!(err, "error: the program has no journey `{name}`");
        return TROUBLE;
    }
    let text = match args.format {
        GraphFormat::Dot | GraphFormat::Svg => crate::graph::dot(&graphs),
        GraphFormat::Mermaid => crate::graph::mermaid(&graphs),
    };
    let bytes = if args.format == GraphFormat::Svg {
        match render_svg(&text) {
            Ok(svg) => svg,
            Err(message) => {
                let _ = writeln!(err, "error: {message}");
                return TROUBLE;
            }
        }
    } else {
        text.into_bytes()
    };
    let written = match &args.output {
        Some(path) => replace(path, &bytes),
        None => out.write_all(&bytes).map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => OK,
        Err(e) => {
            let _ = writeln!(err, "error: cannot write the graph: {e}");
            TROUBLE
        }
    }
}

/// Writes `bytes` to a new file beside `path`, then renames it over `path`:
/// a failure leaves `path` as it was.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.display();
    let file_name = path
        .file_name()
        .ok_or_else(|| format!("`{name}` is not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let reason = |e: std::io::Error| format!("`{name}`: {}", crate::source::io_reason(&e));
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            reason(e)
        })
}

/// Runs `dot -Tsvg` on DOT text.
fn render_svg(dot: &str) -> Result<Vec<u8>, String> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                "`--format svg` needs Graphviz's `dot` program, which is not installed; \
                 install Graphviz (`apt-get install graphviz`, `brew install graphviz`, \
                 `dnf install graphviz`), or use `--format dot` and render it elsewhere"
                    .to_string(),
            )
        }
        Err(e) => return Err(format!("cannot run `dot`: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| format!("cannot write to `dot`: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("cannot run `dot`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`dot` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}
