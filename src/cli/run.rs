//! `jrule run`: replay events, write decisions.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::failure::{rejected as rejected_label, Failure, LINE_TOO_LONG};
use super::{read_sources, FAILED, OK, TROUBLE};
use crate::store::write_atomically;
use crate::{LineOptions, PendingLines, Program, Runtime, State};

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
    /// Keep state per customer in the redb database PATH: resume from its last
    /// checkpoint (customers loaded as they come), checkpoint into it as the
    /// run goes and at the end.
    #[arg(long, value_name = "PATH", conflicts_with = "state")]
    pub store: Option<PathBuf>,
    /// With `--store`: checkpoint after every N events (and at the end).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub checkpoint_every: usize,
    /// With `--store`: checkpoint also when DURATION (like `1s`) of wall-clock time has passed since the last.
    #[arg(long, value_name = "DURATION")]
    pub checkpoint_interval: Option<String>,
    /// Write per-rule, per-stage, per-arm and per-goal counts as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Shard customers over N engines on N threads (same decisions, same order).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: usize,
    /// Give each decision line a `cause` member: the event, or the timer that fired it.
    #[arg(long)]
    pub causes: bool,
    /// Accept events up to DURATION (like `5s`, `2m`) older than the clock, processed at the clock.
    #[arg(long, value_name = "DURATION")]
    pub lateness: Option<String>,
}

/// Runs the events through the program.
pub fn run(args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match run_inner(args, out, err) {
        Ok(code) => code,
        Err(failure) => {
            let _ = writeln!(err, "{failure}");
            TROUBLE
        }
    }
}

fn run_inner(args: &RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, Failure> {
    let sources = read_sources(&args.files)?;
    let until = match &args.until {
        Some(t) => Some(
            crate::time::parse_rfc3339(t)
                .ok_or_else(|| format!("`--until {t}` is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    let program = match Program::compile(&sources) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => {
            let _ =
                err.write_all(super::check::render(&e.diagnostics, &e.sources, false).as_bytes());
            return Err("the program does not check".into());
        }
    };
    let lateness = match &args.lateness {
        Some(d) => crate::time::parse_duration(d).ok_or_else(|| {
            format!("`--lateness {d}` is not a duration like `5s`, `2m`, `1h` or `1d`")
        })?,
        None => 0,
    };
    let threads = args.threads.max(1);
    let name = args.events.display().to_string();
    let interval = match &args.checkpoint_interval {
        Some(d) => Some(crate::time::parse_duration(d).ok_or_else(|| {
            format!("`--checkpoint-interval {d}` is not a duration like `1s` or `5m`")
        })?),
        None => None,
    };
    let mut resume_after = 0usize;
    let mut runtime = match (&args.state, &args.store) {
        (_, Some(path)) => {
            let failed = |e: crate::store::StoreError| {
                Failure::coded(e.code(), format!("store `{}`: {e}", path.display()))
            };
            let store: Arc<dyn crate::store::StateStore> =
                Arc::new(crate::store::RedbStore::open(path).map_err(failed)?);
            if let Some(position) = store
                .header()
                .map_err(failed)?
                .as_ref()
                .and_then(|h| h.position().and_then(Position::read))
            {
                if position.events == name && position.line > 0 {
                    resume_after = position.line;
                    let _ = writeln!(
                        err,
                        "resuming `{name}` after line {} (the store's last checkpoint)",
                        position.line
                    );
                }
            }
            Runtime::open(Arc::clone(&program), store, threads).map_err(failed)?
        }
        (Some(path), None) if path.exists() => {
            let text = read_state(path)?;
            let state = State::from_json(&text).map_err(|e| state_failure(path, &e))?;
            Runtime::restore(Arc::clone(&program), &state, threads)
                .map_err(|e| state_failure(path, &e))?
        }
        _ => Runtime::new(Arc::clone(&program), threads),
    };
    let stored = args.store.is_some();
    let mut last_line = resume_after;
    let mut since_checkpoint = 0usize;
    let mut last_checkpoint = std::time::Instant::now();
    runtime.set_lateness(lateness);
    // `--strict` stops exactly at the first rejected event: the engines
    // stop there too, whatever the batch.
    let options = LineOptions::new()
        .causes(args.causes)
        .stop_at_rejection(args.strict);
    let input: Box<dyn BufRead + Send> = if args.events.as_os_str() == "-" {
        Box::new(std::io::BufReader::with_capacity(1 << 16, std::io::stdin()))
    } else {
        let file = std::fs::File::open(&args.events)
            .map_err(|e| format!("cannot read `{}`: {e}", args.events.display()))?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, file))
    };
    // Lines are read on a thread of their own, a batch ahead of the engines.
    // With a store, a batch ends where a checkpoint is due.
    let size = if stored {
        BATCH.min(args.checkpoint_every.max(1))
    } else {
        BATCH
    };
    let batches = read_batches(input, name.clone(), size);
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut rejected = 0usize;
    let mut stop = false;
    let size = std::fs::metadata(&args.events)
        .ok()
        .map(|m| m.len())
        .filter(|_| args.events.as_os_str() != "-");
    let mut progress = super::progress::Progress::new("events", size, true);
    // One batch in the engines' hands while the last one's answers are
    // written and the next one read; with `--strict` one at a time, since
    // nothing after the first rejected line may be processed.
    let mut in_flight: Option<Sent> = None;
    loop {
        let sent = if stop {
            None
        } else {
            let batch = batches
                .recv()
                .map_err(|_| "the reading thread stopped".to_string())??;
            progress.set(batch.bytes);
            stop = batch.end;
            let mut batch = batch;
            if resume_after > 0 {
                // Lines up to the store's checkpoint were processed before.
                let keep = batch
                    .numbers
                    .iter()
                    .take_while(|&&n| n <= resume_after)
                    .count();
                batch.lines.drain(..keep);
                batch.numbers.drain(..keep);
                batch.too_long = batch.too_long.filter(|&n| n > resume_after);
            }
            since_checkpoint += batch.numbers.len();
            Some(Sent {
                answers: (!batch.lines.is_empty())
                    .then(|| runtime.submit_lines(batch.lines, options)),
                numbers: batch.numbers,
                too_long: batch.too_long,
            })
        };
        // With a store, a checkpoint must hold exactly the lines answered:
        // one batch at a time.
        let done = if args.strict || stored {
            sent
        } else {
            std::mem::replace(&mut in_flight, sent)
        };
        let Some(done) = done else {
            if in_flight.is_none() {
                break;
            }
            continue;
        };
        let answers = done.answers.map(PendingLines::wait).unwrap_or_default();
        for (&line, result) in done.numbers.iter().zip(answers) {
            match result {
                Ok(json) => out
                    .write_all(&json)
                    .map_err(|e| format!("cannot write decisions: {e}"))?,
                Err(e) => {
                    rejected += 1;
                    let _ = writeln!(err, "{name}:{line}: {}: {e}", rejected_label(e.code()));
                    if args.strict {
                        stop = true;
                        break;
                    }
                }
            }
            last_line = line;
        }
        if let (Some(line), false) = (done.too_long, args.strict && rejected > 0) {
            rejected += 1;
            let _ = writeln!(
                err,
                "{name}:{line}: {}: the line is longer than the limit of {MAX_EVENT_LINE} bytes (16 MiB)",
                rejected_label(LINE_TOO_LONG)
            );
            stop |= args.strict;
            if !args.strict {
                last_line = last_line.max(line);
            }
        }
        let due = since_checkpoint >= args.checkpoint_every.max(1)
            || interval.is_some_and(|i| last_checkpoint.elapsed().as_millis() >= i as u128);
        if stored && due && !stop {
            out.flush()
                .map_err(|e| format!("cannot write decisions: {e}"))?;
            checkpoint(&mut runtime, &args.store, &name, last_line)?;
            since_checkpoint = 0;
            last_checkpoint = std::time::Instant::now();
        }
    }
    progress.finish();
    if let (Some(until), false) = (until, args.strict && rejected > 0) {
        let decisions = runtime
            .advance_to(until)
            .map_err(|e| Failure::coded(e.code(), format!("--until: {e}")))?;
        for d in &decisions {
            let written = if args.causes {
                serde_json::to_writer(&mut out, &d.with_cause())
            } else {
                serde_json::to_writer(&mut out, d)
            };
            written
                .map_err(|e| e.to_string())
                .and_then(|()| out.write_all(b"\n").map_err(|e| e.to_string()))
                .map_err(|e| format!("cannot write decisions: {e}"))?;
        }
    }
    out.flush()
        .map_err(|e| format!("cannot write decisions: {e}"))?;
    if let Some(path) = &args.state {
        let state = runtime.save();
        write_atomically(path, state.to_json().as_bytes())
            .map_err(|e| format!("cannot save state `{}`: {e}", path.display()))?;
    }
    if stored {
        checkpoint(&mut runtime, &args.store, &name, last_line)?;
        if let Some(carry) = runtime.carry().filter(|c| !c.is_empty()) {
            let _ = writeln!(err, "the store was written by another program; carrying its customers dropped:\n{carry}");
        }
    }
    if let Some(path) = &args.metrics {
        let metrics = runtime.metrics();
        let text =
            serde_json::to_string_pretty(&metrics.to_json(&program)).map_err(|e| e.to_string())?;
        write_atomically(path, text.as_bytes())
            .map_err(|e| format!("cannot write metrics `{}`: {e}", path.display()))?;
    }
    Ok(if rejected > 0 { FAILED } else { OK })
}

/// Where `jrule run --store` was in its input at a checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
struct Position {
    events: String,
    /// The last line answered.
    line: usize,
}

impl Position {
    fn read(text: &str) -> Option<Position> {
        serde_json::from_str(text).ok()
    }
}

fn checkpoint(
    runtime: &mut Runtime,
    path: &Option<PathBuf>,
    events: &str,
    line: usize,
) -> Result<(), Failure> {
    let position = Position {
        events: events.to_string(),
        line,
    };
    let position = serde_json::to_string(&position).map_err(|e| e.to_string())?;
    runtime.checkpoint(Some(position)).map(drop).map_err(|e| {
        let shown = path.as_deref().unwrap_or(Path::new("")).display();
        Failure::coded(e.code(), format!("store `{shown}`: {e}"))
    })
}

/// A state that cannot be read or restored, with its code.
pub(super) fn state_failure(path: &Path, e: &crate::StateError) -> Failure {
    Failure::coded(e.code(), format!("state `{}`: {e}", path.display()))
}

/// Lines read and processed together: the engines' threads read a batch
/// in parallel, then decide it.
const BATCH: usize = 8192;

/// The longest line of events read, in bytes, without its line break. A
/// longer line is rejected like a malformed event, without being kept in
/// memory.
pub const MAX_EVENT_LINE: usize = 16 * 1024 * 1024;

/// The largest state file read by `--state`, in bytes.
pub const MAX_STATE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// A batch handed to the runtime: its answers to come, and what the
/// reading found.
struct Sent {
    answers: Option<PendingLines>,
    numbers: Vec<usize>,
    too_long: Option<usize>,
}

/// Lines read for one batch, and their numbers.
struct Batch {
    lines: Vec<Vec<u8>>,
    numbers: Vec<usize>,
    /// A line too long to read ends the batch; it is rejected after it.
    too_long: Option<usize>,
    /// Bytes read so far.
    bytes: u64,
    /// The input ended.
    end: bool,
}

/// Reads batches of at most `size` lines on a thread, one batch ahead:
/// blank lines are skipped and trailing white space cut. The thread stops
/// at the end of the input, at an error, or when the batches are no
/// longer received; it is not joined, since stdin may never end.
fn read_batches(
    mut input: Box<dyn BufRead + Send>,
    name: String,
    size: usize,
) -> std::sync::mpsc::Receiver<Result<Batch, String>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let read = move || {
        let mut number = 0usize;
        let mut bytes = 0u64;
        loop {
            let mut batch = Batch {
                lines: Vec::with_capacity(size),
                numbers: Vec::with_capacity(size),
                too_long: None,
                bytes: 0,
                end: false,
            };
            while batch.lines.len() < size {
                let mut line = Vec::new();
                let kind = match read_line(&mut *input, &mut line, MAX_EVENT_LINE) {
                    Ok(kind) => kind,
                    Err(e) => {
                        let _ = tx.send(Err(format!("cannot read `{name}`: {e}")));
                        return;
                    }
                };
                if kind == Line::End {
                    batch.end = true;
                    break;
                }
                bytes += line.len() as u64 + 1;
                number += 1;
                if kind == Line::TooLong {
                    batch.too_long = Some(number);
                    break;
                }
                let end = line
                    .iter()
                    .rposition(|b| !b.is_ascii_whitespace())
                    .map_or(0, |i| i + 1);
                if end > 0 {
                    line.truncate(end);
                    batch.lines.push(line);
                    batch.numbers.push(number);
                }
            }
            batch.bytes = bytes;
            let end = batch.end;
            if tx.send(Ok(batch)).is_err() || end {
                return;
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("jrule-read".into())
        .spawn(read)
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let _ = tx.send(Err(format!("cannot start the reading thread: {e}")));
        return rx;
    }
    rx
}

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// A line (with its line break, if it had one).
    Read,
    /// A line longer than the limit, read past and dropped.
    TooLong,
    /// The end of the input.
    End,
}

/// Reads one line into `line` (which must be empty), like `read_until`,
/// but keeps at most `max` bytes before the line break: a longer line is
/// read to its end and dropped.
fn read_line(input: &mut dyn BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    let n = (&mut *input).take(max as u64 + 1).read_until(b'\n', line)?;
    if n == 0 {
        return Ok(Line::End);
    }
    let content = line.len() - usize::from(line.last() == Some(&b'\n'));
    if content <= max {
        return Ok(Line::Read);
    }
    *line = Vec::new();
    input.skip_until(b'\n')?;
    Ok(Line::TooLong)
}

/// Reads a state file: a regular file of at most [`MAX_STATE_BYTES`].
pub(super) fn read_state(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read state `{shown}`: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read state `{shown}`: {e}"))?;
    if !meta.is_file() {
        return Err(format!("state `{shown}` is not a regular file"));
    }
    if meta.len() > MAX_STATE_BYTES {
        return Err(format!(
            "state `{shown}` is {} bytes, larger than the limit of {MAX_STATE_BYTES} bytes (4 GiB)",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read state `{shown}`: {e}"))?;
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(format!(
            "state `{shown}` grew past the limit of {MAX_STATE_BYTES} bytes (4 GiB) while it was read"
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("state `{shown}`: not UTF-8 text"))
}
