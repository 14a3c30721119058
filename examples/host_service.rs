//! A host service embedding jrule: it compiles the hotel program once,
//! shards customers over worker threads (one engine each), feeds them
//! events, prints decisions, and saves each shard's state.
//!
//! ```text
//! cargo run --example host_service                  # the built-in demo stream
//! cargo run --example host_service -- events.jsonl  # your own events
//! ```

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{mpsc, Arc};
use std::thread;

use jrule::{Engine, Event, Program, Source};

const PROGRAM: &str = include_str!("hotel.jr");
const DEMO: &str = r#"{"customer":"c1","signal":"booking_made","time":"2026-03-01T09:00:00Z","via":"web","data":{"hotel_id":"sf1","nights":3,"amount":540.0},"profile":{"tier":"gold","marketing_consent":true}}
{"customer":"c2","signal":"booking_made","time":"2026-03-01T10:00:00Z","via":"web","data":{"hotel_id":"ny2","nights":1,"amount":120.0}}
{"customer":"c1","signal":"arrived_at_hotel","time":"2026-03-02T15:00:00Z","at":"hotel","data":{"hotel_id":"sf1"}}
{"customer":"c1","signal":"key_used","time":"2026-03-02T15:30:00Z","at":"hotel","data":{"room":1204}}
{"customer":"c2","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":7}}"#;

const SHARDS: usize = 2;

fn shard_of(customer: &str) -> usize {
    let mut h = DefaultHasher::new();
    customer.hash(&mut h);
    (h.finish() % SHARDS as u64) as usize
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let program = match Program::compile(&[Source::new("hotel.jr", PROGRAM)]) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => return Err(e.into()),
    };
    let text = match std::env::args().nth(1) {
        Some(path) => std::fs::read_to_string(path)?,
        None => DEMO.to_string(),
    };

    // One engine per worker thread; events for a customer always go to the same shard.
    let (decisions_tx, decisions_rx) = mpsc::channel::<String>();
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for shard in 0..SHARDS {
        let (tx, rx) = mpsc::channel::<Event>();
        senders.push(tx);
        let program = Arc::clone(&program);
        let out = decisions_tx.clone();
        workers.push(thread::spawn(move || {
            let mut engine = Engine::new(program);
            let mut buffer = Vec::new();
            for event in rx {
                buffer.clear();
                match engine.process_into(&event, &mut buffer) {
                    Ok(()) => buffer.iter().for_each(|d| {
                        let _ = out.send(d.to_json());
                    }),
                    Err(e) => eprintln!("shard {shard}: event rejected: {e}"),
                }
            }
            (
                shard,
                engine.save().to_json().len(),
                engine.customer_count(),
            )
        }));
    }
    drop(decisions_tx);

    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match Event::from_json(&program, line) {
            Ok(event) => senders[shard_of(event.customer())].send(event)?,
            Err(e) => eprintln!("line {}: event rejected: {e}", n + 1),
        }
    }
    drop(senders);
    for decision in decisions_rx {
        println!("{decision}");
    }
    for worker in workers {
        let (shard, bytes, customers) = worker.join().map_err(|_| "a worker panicked")?;
        eprintln!("shard {shard}: {customers} customers, state of {bytes} bytes");
    }
    Ok(())
}
