//! `jrule run`: replay events, write decisions.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::{read_sources, FAILED, OK, TROUBLE};
use crate::{Engine, Event, Program, State};

/// Arguments of `jrule run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The program's files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Events as JSON Lines (`-` for stdin).
    #[arg(long, value_name = "EVENTS")]
    pub events: PathBuf,
    /// Stop at the first rejected event.
    #[arg(long)]
    pub strict: bool,
    /// After the last event, advance the clock to TIME (RFC 3339) and fire due timers.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Load the state from FILE if it exists; save it back atomically at the end.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Write per-rule, per-stage, per-arm and per-goal counts as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
}

/// Runs the events through the program.
pub fn run(args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match run_inner(args, out, err) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            TROUBLE
        }
    }
}

fn run_inner(args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, String> {
    let sources = read_sources(&args.files)?;
    let until = match &args.until {
        Some(t) => Some(
            crate::time::parse_rfc3339(t)
                .ok_or_else(|| format!("`--until {t}` is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    let program = match Program::compile(&sources) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            let _ =
                err.write_all(super::check::render(&e.diagnostics, &e.sources, false).as_bytes());
            return Err("the program does not check".to_string());
        }
    };
    let mut engine = match &args.state {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read state `{}`: {e}", path.display()))?;
            let state =
                State::from_json(&text).map_err(|e| format!("state `{}`: {e}", path.display()))?;
            Engine::restore(Arc::clone(&program), &state)
                .map_err(|e| format!("state `{}`: {e}", path.display()))?
        }
        _ => Engine::new(Arc::clone(&program)),
    };
    let input: Box<dyn BufRead> = if args.events.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.events)
            .map_err(|e| format!("cannot read `{}`: {e}", args.events.display()))?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, file))
    };
    let name = args.events.display().to_string();
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut decisions = Vec::new();
    let mut rejected = 0usize;
    let mut line = Vec::new();
    let mut input = input;
    let mut number = 0usize;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read `{name}`: {e}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        let end = line
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        if end == 0 {
            continue;
        }
        let result = Event::from_json_bytes(&program, &line[..end])
            .and_then(|event| engine.process_into(&event, &mut decisions));
        if let Err(e) = result {
            rejected += 1;
            let _ = writeln!(err, "{name}:{number}: event rejected: {e}");
            if args.strict {
                break;
            }
            continue;
        }
        for d in decisions.drain(..) {
            serde_json::to_writer(&mut out, &d).map_err(|e| e.to_string())?;
            out.write_all(b"\n").map_err(|e| e.to_string())?;
        }
    }
    if let (Some(until), false) = (until, args.strict && rejected > 0) {
        match engine.advance_to(until) {
            Ok(ds) => {
                for d in ds {
                    serde_json::to_writer(&mut out, &d).map_err(|e| e.to_string())?;
                    out.write_all(b"\n").map_err(|e| e.to_string())?;
                }
            }
            Err(e) => return Err(format!("--until: {e}")),
        }
    }
    out.flush()
        .map_err(|e| format!("cannot write decisions: {e}"))?;
    if let Some(path) = &args.state {
        write_atomically(path, engine.save().to_json().as_bytes())
            .map_err(|e| format!("cannot save state `{}`: {e}", path.display()))?;
    }
    if let Some(path) = &args.metrics {
        let json = engine.metrics().to_json(&program);
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        write_atomically(path, text.as_bytes())
            .map_err(|e| format!("cannot write metrics `{}`: {e}", path.display()))?;
    }
    Ok(if rejected > 0 { FAILED } else { OK })
}

/// Writes beside the target, syncs, then renames over it: a crash leaves
/// either the old file or the new one, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
