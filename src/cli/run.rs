//! `jrule run`: replay events, write decisions.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::failure::{rejected as rejected_label, Failure, LINE_TOO_LONG};
use super::{read_sources, FAILED, OK, TROUBLE};
use crate::{Engine, Program, State};

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
    /// Shard customers over N engines on N threads (same decisions, same order).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: usize,
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
    // `--strict` must stop exactly at the first rejected event: one engine.
    let threads = if args.strict { 1 } else { args.threads.max(1) };
    let mut shards: Vec<Engine> = match &args.state {
        Some(path) if path.exists() => {
            let text = read_state(path)?;
            let state = State::from_json(&text).map_err(|e| state_failure(path, &e))?;
            state
                .split(threads)
                .iter()
                .map(|s| Engine::restore(own_copy(&program, threads), s))
                .collect::<Result<_, _>>()
                .map_err(|e| state_failure(path, &e))?
        }
        _ => (0..threads)
            .map(|_| Engine::new(own_copy(&program, threads)))
            .collect(),
    };
    let mut input: Box<dyn BufRead> = if args.events.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.events)
            .map_err(|e| format!("cannot read `{}`: {e}", args.events.display()))?;
        Box::new(std::io::BufReader::with_capacity(1 << 16, file))
    };
    let name = args.events.display().to_string();
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut rejected = 0usize;
    let mut number = 0usize;
    let batch_size = if threads == 1 { 1 } else { BATCH };
    let mut stop = false;
    let size = std::fs::metadata(&args.events)
        .ok()
        .map(|m| m.len())
        .filter(|_| args.events.as_os_str() != "-");
    let mut progress = super::progress::Progress::new("events", size, true);
    let mut bytes = 0u64;
    while !stop {
        // A batch of lines, with their numbers.
        let mut batch: Vec<(usize, Vec<u8>)> = Vec::with_capacity(batch_size);
        // A line too long to read ends the batch; it is rejected after it.
        let mut too_long = None;
        while batch.len() < batch_size {
            let mut line = Vec::new();
            let kind = read_line(&mut *input, &mut line, MAX_EVENT_LINE)
                .map_err(|e| format!("cannot read `{name}`: {e}"))?;
            if kind == Line::End {
                stop = true;
                break;
            }
            bytes += line.len() as u64 + 1;
            number += 1;
            if number % 4096 == 0 {
                progress.set(bytes);
            }
            if kind == Line::TooLong {
                too_long = Some(number);
                break;
            }
            let end = line
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            if end > 0 {
                line.truncate(end);
                batch.push((number, line));
            }
        }
        for (line, result) in shard::run_batch(&program, &mut shards, &batch) {
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
        }
        if let (Some(line), false) = (too_long, args.strict && rejected > 0) {
            rejected += 1;
            let _ = writeln!(
                err,
                "{name}:{line}: {}: the line is longer than the limit of {MAX_EVENT_LINE} bytes (16 MiB)",
                rejected_label(LINE_TOO_LONG)
            );
            stop |= args.strict;
        }
    }
    progress.finish();
    if let (Some(until), false) = (until, args.strict && rejected > 0) {
        let decisions = shard::advance_all(&mut shards, until)
            .map_err(|e| Failure::coded(e.code(), format!("--until: {e}")))?;
        let mut json = Vec::new();
        shard::write_json(&mut json, &decisions);
        out.write_all(&json)
            .map_err(|e| format!("cannot write decisions: {e}"))?;
    }
    out.flush()
        .map_err(|e| format!("cannot write decisions: {e}"))?;
    if let Some(path) = &args.state {
        let parts: Vec<State> = shards.iter().map(Engine::save).collect();
        let state = State::merge(&parts).ok_or("no engine to save")?;
        write_atomically(path, state.to_json().as_bytes())
            .map_err(|e| format!("cannot save state `{}`: {e}", path.display()))?;
    }
    if let Some(path) = &args.metrics {
        let mut metrics = shards[0].metrics();
        for shard in &shards[1..] {
            metrics.add(&shard.metrics());
        }
        let text =
            serde_json::to_string_pretty(&metrics.to_json(&program)).map_err(|e| e.to_string())?;
        write_atomically(path, text.as_bytes())
            .map_err(|e| format!("cannot write metrics `{}`: {e}", path.display()))?;
    }
    Ok(if rejected > 0 { FAILED } else { OK })
}

/// A state that cannot be read or restored, with its code.
pub(super) fn state_failure(path: &Path, e: &crate::StateError) -> Failure {
    Failure::coded(e.code(), format!("state `{}`: {e}", path.display()))
}

/// Each engine of several gets its own copy of the program: decisions hold
/// a reference to it, and a count shared between threads would bounce
/// between their cores on every decision.
fn own_copy(program: &Arc<Program>, threads: usize) -> Arc<Program> {
    if threads == 1 {
        Arc::clone(program)
    } else {
        Arc::new(Program::clone(program))
    }
}

/// Lines read and processed together when customers are sharded.
const BATCH: usize = 8192;

/// The longest line of events read, in bytes, without its line break. A
/// longer line is rejected like a malformed event, without being kept in
/// memory.
pub const MAX_EVENT_LINE: usize = 16 * 1024 * 1024;

/// The largest state file read by `--state`, in bytes.
pub const MAX_STATE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

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

/// Sharding customers over engines on threads, with the decisions of a
/// single engine, in the same order.
mod shard {
    use std::sync::Arc;

    use crate::engine::shard_of;
    use crate::{Decision, Engine, Event, EventError, Program};

    /// Decisions as JSON Lines.
    pub(super) fn write_json(buf: &mut Vec<u8>, decisions: &[Decision]) {
        for d in decisions {
            if serde_json::to_writer(&mut *buf, d).is_ok() {
                buf.push(b'\n');
            }
        }
    }

    /// The decisions of one line: its timers' (time, customer, JSON), and
    /// its own event's JSON or why it was rejected.
    type Step = (
        Vec<(i64, Arc<str>, Vec<u8>)>,
        Option<Result<Vec<u8>, EventError>>,
    );

    /// Every engine advances to each event's time (so timers fire where a
    /// single engine fires them), and the owner of the event's customer
    /// processes it. Timer decisions of one instant are merged by time,
    /// then customer; a customer's decisions all come from one engine.
    /// Parsing, deciding and writing JSON happen on the engines' threads.
    pub(super) fn run_batch(
        program: &Arc<Program>,
        shards: &mut [Engine],
        batch: &[(usize, Vec<u8>)],
    ) -> Vec<(usize, Result<Vec<u8>, EventError>)> {
        let n = shards.len();
        if n == 1 {
            let engine = &mut shards[0];
            let mut out = Vec::new();
            return batch
                .iter()
                .map(|(line, bytes)| {
                    out.clear();
                    let result = Event::from_json_bytes(program, bytes)
                        .and_then(|e| engine.process_into(&e, &mut out));
                    (
                        *line,
                        result.map(|()| {
                            let mut json = Vec::new();
                            write_json(&mut json, &out);
                            json
                        }),
                    )
                })
                .collect();
        }
        // Parse in parallel.
        let chunk = batch.len().div_ceil(n).max(1);
        let events: Vec<Result<Event, EventError>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(_, b)| Event::from_json_bytes(program, b))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        // Decide in parallel.
        let per_shard: Vec<Vec<Step>> = std::thread::scope(|s| {
            let events = &events;
            let handles: Vec<_> = shards
                .iter_mut()
                .enumerate()
                .map(|(w, engine)| {
                    s.spawn(move || {
                        let mut out = Vec::new();
                        events
                            .iter()
                            .map(|e| {
                                let Ok(event) = e else {
                                    return (Vec::new(), None);
                                };
                                let owner = shard_of(event.customer(), n) == w;
                                match engine.advance_to(event.time()) {
                                    Ok(timers) => {
                                        let timers = timers
                                            .iter()
                                            .map(|d| {
                                                let mut json = Vec::new();
                                                write_json(&mut json, std::slice::from_ref(d));
                                                (d.time(), Arc::clone(&d.customer), json)
                                            })
                                            .collect();
                                        let own = owner.then(|| {
                                            out.clear();
                                            engine.process_into(event, &mut out).map(|()| {
                                                let mut json = Vec::new();
                                                write_json(&mut json, &out);
                                                json
                                            })
                                        });
                                        (timers, own)
                                    }
                                    Err(e) => (Vec::new(), owner.then_some(Err(e))),
                                }
                            })
                            .collect::<Vec<Step>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut columns: Vec<std::vec::IntoIter<Step>> =
            per_shard.into_iter().map(Vec::into_iter).collect();
        let mut results = Vec::with_capacity(batch.len());
        for ((line, _), parsed) in batch.iter().zip(events) {
            let mut timers = Vec::new();
            let mut own: Option<Result<Vec<u8>, EventError>> = None;
            for column in &mut columns {
                if let Some((t, o)) = column.next() {
                    timers.extend(t);
                    if o.is_some() {
                        own = o;
                    }
                }
            }
            timers.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            let mut json: Vec<u8> = timers.into_iter().flat_map(|t| t.2).collect();
            let result = match (parsed, own) {
                (Err(e), _) => Err(e),
                (Ok(_), Some(Err(e))) => Err(e),
                (Ok(_), Some(Ok(mine))) => {
                    json.extend(mine);
                    Ok(json)
                }
                (Ok(_), None) => Ok(json),
            };
            results.push((*line, result));
        }
        results
    }

    /// Advances every engine to `time`; the timer decisions merged by time,
    /// then customer.
    pub(super) fn advance_all(
        shards: &mut [Engine],
        time: i64,
    ) -> Result<Vec<Decision>, EventError> {
        let mut all = Vec::new();
        for engine in shards.iter_mut() {
            all.extend(engine.advance_to(time)?);
        }
        all.sort_by(|a, b| (a.time(), a.customer()).cmp(&(b.time(), b.customer())));
        Ok(all)
    }
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
