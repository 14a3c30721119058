//! `jrule bench`: throughput, latency, allocations and memory of the engine
//! on a file of events or on a generated workload.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::failure::Failure;
use super::{read_sources, Format, HeapStats, OK, TROUBLE};
use crate::workload::{self, Workload};
use crate::{Decision, Engine, Event, Program, Source};

/// Arguments of `jrule bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The program's files (not with `--synthetic`).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// With files: the events (JSON Lines). With `--synthetic`: how many to generate.
    #[arg(long, value_name = "EVENTS")]
    pub events: Option<String>,
    /// Generate the program and the events.
    #[arg(long)]
    pub synthetic: bool,
    /// Rules in the generated program.
    #[arg(long, default_value_t = 1000)]
    pub rules: usize,
    /// Customers in the generated events.
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Seed of the generated events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// w1, w2, w3-1, w3-10, w4, w5 (see docs/performance.md).
    #[arg(long, default_value = "w1")]
    pub workload: String,
    /// Human-readable lines, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Runs the benchmark.
pub fn run(
    args: &BenchArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    heap: Option<HeapStats>,
) -> u8 {
    match bench(args, heap) {
        Ok(report) => {
            let text = match args.format {
                Format::Json => report.to_string(),
                Format::Human => human(&report),
            };
            if writeln!(out, "{text}").is_err() {
                return TROUBLE;
            }
            OK
        }
        Err(failure) => {
            let _ = writeln!(err, "{failure}");
            TROUBLE
        }
    }
}

fn live(heap: Option<HeapStats>) -> (u64, i64) {
    heap.map_or((0, 0), |f| f())
}

fn bench(args: &BenchArgs, heap: Option<HeapStats>) -> Result<serde_json::Value, Failure> {
    let (sources, workload) = if args.synthetic {
        if !args.files.is_empty() {
            return Err("give either program files or --synthetic, not both".into());
        }
        let w: Workload = args.workload.parse()?;
        (
            vec![Source::new(
                format!("{w}.jr"),
                workload::program(w, args.rules),
            )],
            Some(w),
        )
    } else {
        if args.files.is_empty() {
            return Err("give the program's files, or --synthetic".into());
        }
        (read_sources(&args.files)?, None)
    };
    let before = live(heap).1;
    let start = Instant::now();
    let program = Program::compile(&sources)
        .map_err(|e| format!("the program does not check: {e}"))?
        .program;
    let compile = start.elapsed();
    let program_bytes = live(heap).1 - before;
    let program = Arc::new(program);
    let rules = program.rule_count();

    let (events, customers) = match workload {
        Some(w) => {
            let count = match &args.events {
                Some(n) => n.parse::<usize>().map_err(|_| {
                    format!("--events `{n}`: with --synthetic, give a number of events")
                })?,
                None => 1_000_000,
            };
            (
                workload::events(&program, w, args.rules, args.customers, count, args.seed),
                args.customers,
            )
        }
        None => {
            let path = args.events.as_ref().ok_or("give --events FILE")?;
            let events = read_events(&program, path)?;
            let mut ids: Vec<&str> = events.iter().map(|e| e.customer()).collect();
            ids.sort_unstable();
            ids.dedup();
            let n = ids.len();
            (events, n)
        }
    };
    if events.is_empty() {
        return Err("no events to measure".into());
    }
    // A second copy of the program for W5's reloads, compiled beforehand.
    let reload = match workload {
        Some(Workload::W5) => Some((
            Arc::new(
                Program::compile(&sources)
                    .map_err(|e| e.to_string())?
                    .program,
            ),
            (events.len() / 4).max(1),
        )),
        _ => None,
    };

    // Throughput: one pass, no per-event timing.
    let mut engine = Engine::new(Arc::clone(&program));
    let empty = live(heap).1;
    let mut out: Vec<Decision> = Vec::with_capacity(64);
    let mut decisions = 0usize;
    let total = Some(2 * events.len() as u64);
    let mut progress = super::progress::Progress::new("measuring", total, false);
    let start = Instant::now();
    for (k, e) in events.iter().enumerate() {
        if k % 65_536 == 0 {
            progress.set(k as u64);
        }
        if let Some((next, every)) = &reload {
            if k > 0 && k % every == 0 {
                let target = if k / every % 2 == 1 { next } else { &program };
                engine
                    .reload(Arc::clone(target))
                    .map_err(|e| e.to_string())?;
            }
        }
        out.clear();
        if engine.process_into(e, &mut out).is_ok() {
            decisions += out.len();
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let state_bytes = live(heap).1 - empty;
    let tracked = engine.customer_count();
    drop(engine);

    // Latency and allocations: a second pass timing each event.
    let mut engine = Engine::new(Arc::clone(&program));
    let mut nanos: Vec<u64> = Vec::with_capacity(events.len());
    let mut allocations = 0u64;
    for (k, e) in events.iter().enumerate() {
        if k % 65_536 == 0 {
            progress.set((events.len() + k) as u64);
        }
        out.clear();
        let a0 = live(heap).0;
        let t0 = Instant::now();
        let _ = engine.process_into(e, &mut out);
        let t = t0.elapsed().as_nanos() as u64;
        allocations += live(heap).0 - a0;
        nanos.push(t);
    }
    progress.finish();
    nanos.sort_unstable();
    let pct = |p: f64| nanos[((nanos.len() as f64 - 1.0) * p).round() as usize];
    let n = events.len() as f64;
    Ok(json!({
        "workload": workload.map_or("file".to_string(), |w| w.to_string()),
        "rules": rules,
        "customers": customers,
        "events": events.len(),
        "events_per_sec": (n / elapsed).round(),
        "decisions_per_sec": (decisions as f64 / elapsed).round(),
        "p50_ns": pct(0.5),
        "p99_ns": pct(0.99),
        "p999_ns": pct(0.999),
        "allocations_per_event": if heap.is_some() { json!(allocations as f64 / n) } else { json!(null) },
        "bytes_per_rule": if heap.is_some() { json!(program_bytes / rules.max(1) as i64) } else { json!(null) },
        "bytes_per_customer": if heap.is_some() && tracked > 0 { json!(state_bytes / tracked as i64) } else { json!(null) },
        "tracked_customers": tracked,
        "compile_ms": (compile.as_secs_f64() * 1e6).round() / 1e3,
    }))
}

fn read_events(program: &Program, path: &str) -> Result<Vec<Event>, Failure> {
    let input: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut events = Vec::new();
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(|e| format!("cannot read `{path}`: {e}"))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let event = Event::from_json_bytes(program, &line).map_err(|e| {
            Failure::coded(e.code(), format!("{path}:{}: event rejected: {e}", i + 1))
        })?;
        events.push(event);
    }
    Ok(events)
}

fn human(r: &serde_json::Value) -> String {
    let num = |k: &str| r[k].as_f64().unwrap_or(0.0);
    let thousands = |x: f64| {
        let s = format!("{:.0}", x);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    let measured = |k: &str, show: &dyn Fn(f64) -> String| match r[k].as_f64() {
        Some(v) => show(v),
        None => "not measured (the library does not count heap use)".to_string(),
    };
    let bytes_per_rule = measured("bytes_per_rule", &|v| format!("{v:.0} bytes per rule"));
    let allocations = measured("allocations_per_event", &|v| format!("{v:.2} per event"));
    let state = if r["tracked_customers"].as_u64() == Some(0) {
        "no customer keeps any state".to_string()
    } else {
        let per = measured("bytes_per_customer", &|v| {
            format!("{v:.0} bytes per customer")
        });
        format!("{per} ({} customers tracked)", r["tracked_customers"])
    };
    format!(
        "workload      {} — {} rules, {} customers, {} events\n\
         compile       {:.1} ms, {}\n\
         throughput    {} events/s, {} decisions/s\n\
         latency       p50 {} ns, p99 {} ns, p99.9 {} ns\n\
         allocations   {}\n\
         state         {}",
        r["workload"].as_str().unwrap_or("?"),
        r["rules"],
        r["customers"],
        r["events"],
        num("compile_ms"),
        bytes_per_rule,
        thousands(num("events_per_sec")),
        thousands(num("decisions_per_sec")),
        r["p50_ns"],
        r["p99_ns"],
        r["p999_ns"],
        allocations,
        state,
    )
}
