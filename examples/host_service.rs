//! A host service embedding jrule on the runtime: customers sharded over
//! worker threads, each request answered with its event's own decisions,
//! timer decisions routed to a notifier, a wall-clock ticker, a reload with
//! a dry run, and the state kept per customer in a redb store.
//!
//! ```text
//! cargo run --example host_service                  # the hotel example's events
//! cargo run --example host_service -- events.jsonl  # your own events
//! ```
//!
//! The demo replays a stream of the past as requests, then starts the
//! ticker, which fires every timer due by now. A live service starts the
//! ticker first, and its clients stamp events with the current time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jrule::store::{RedbStore, StateStore};
use jrule::{Cause, Decision, Event, EventError, Program, Runtime, Source};

const PROGRAM: &str = include_str!("hotel.jr");
const EVENTS: &str = include_str!("hotel.events.jsonl");

fn compile(text: &str) -> Result<Arc<Program>, Box<dyn std::error::Error>> {
    Ok(Arc::new(
        Program::compile(&[Source::new("hotel.jr", text)])?.program,
    ))
}

/// Decisions nobody asked for (timers) go elsewhere: a queue, a notifier.
fn route(timers: impl IntoIterator<Item = Decision>) {
    for d in timers {
        println!(
            "notify   {}",
            serde_json::to_string(&d.with_cause()).unwrap_or_default()
        );
    }
}

/// A request: one event as JSON. The answer is the event's own decisions;
/// timers that fell due before it are routed.
fn handle(runtime: &mut Runtime, line: &str) -> Result<Vec<Decision>, EventError> {
    // Read with the runtime's current program; an event read before a
    // reload is refused (`OtherProgram`) and must be read again.
    let event = Event::from_json(runtime.program(), line)?;
    let (own, timers): (Vec<_>, Vec<_>) = runtime
        .process(&event)?
        .into_iter()
        .partition(|d| d.cause() == Cause::Event);
    route(timers);
    Ok(own)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(path)?,
        None => EVENTS.to_string(),
    };
    // State lives in a redb file: customers are loaded as their events and
    // timers come, and checkpoints write only those that changed.
    let path = std::env::temp_dir().join(format!("host-service-{}.redb", std::process::id()));
    let store: Arc<dyn StateStore> = Arc::new(RedbStore::open(&path)?);
    let mut runtime = Runtime::open(compile(PROGRAM)?, store, 2)?;
    // Accept events up to 5 s older than the clock (clients' clocks skew).
    runtime.set_lateness(5_000);
    let runtime = Arc::new(Mutex::new(runtime));

    for line in events.lines().filter(|l| !l.trim().is_empty()) {
        let mut runtime = runtime.lock().map_err(|_| "poisoned")?;
        match handle(&mut runtime, line) {
            Ok(own) => own
                .iter()
                .for_each(|d| println!("answer   {}", d.to_json())),
            Err(e) => eprintln!("rejected [{}]: {e}", e.code()),
        }
    }

    // Reload: a dry run first (what the state would lose), then the swap.
    {
        let mut runtime = runtime.lock().map_err(|_| "poisoned")?;
        let stalled =
            "  rule stalled:\n    when in arrived for 6h\n    then notify_staff(\"front_desk\")\n";
        let next = compile(&PROGRAM.replace(stalled, ""))?;
        let plan = runtime.plan_reload(next)?;
        for line in plan.carry().lines() {
            eprintln!("reload would drop: {line}");
        }
        runtime.apply_reload(plan)?; // or drop the plan: nothing changed
    }

    // The live clock: every interval, fire the timers due by the wall clock.
    let ticker = {
        let runtime = Arc::clone(&runtime);
        std::thread::spawn(move || {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(100));
                let Ok(mut runtime) = runtime.lock() else {
                    return;
                };
                match runtime.advance_to_now() {
                    Ok(timers) => route(timers),
                    Err(e) => eprintln!("ticker: {e}"),
                }
            }
        })
    };
    ticker.join().map_err(|_| "the ticker panicked")?;

    // Checkpoint (a host does it every few seconds, and at shutdown): one
    // transaction with the customers changed since the last one.
    let mut runtime = runtime.lock().map_err(|_| "poisoned")?;
    let written = runtime.checkpoint(None)?;
    eprintln!(
        "{} customers on {} threads; the checkpoint wrote {written}",
        runtime.customer_count(),
        runtime.threads(),
    );
    drop(runtime);
    let _ = std::fs::remove_file(&path);
    Ok(())
}
