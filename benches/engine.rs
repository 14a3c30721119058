//! Engine throughput: the hotel program with 100,000 customers, and a
//! generated program of 10,000 rules.

use std::fmt::Write;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jrule::{Engine, Event, Program, Source};

const HOTEL: &str = include_str!("../examples/hotel.jr");
const START: i64 = 1_772_355_600_000; // 2026-03-01T09:00:00Z

/// Four events per customer (book, open the app, arrive, use the key),
/// interleaved over customers and in time order.
fn hotel_events(program: &Program, customers: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(customers * 4);
    let steps: [(&str, &str, &str); 4] = [
        (
            "booking_made",
            r#""via":"web","data":{"hotel_id":"sf1","nights":3,"amount":540.0}"#,
            r#","profile":{"tier":"gold","marketing_consent":true}"#,
        ),
        ("app_opened", r#""via":"app","data":{"screen":"home"}"#, ""),
        (
            "arrived_at_hotel",
            r#""at":"hotel","data":{"hotel_id":"sf1"}"#,
            "",
        ),
        ("key_used", r#""at":"hotel","data":{"room":1204}"#, ""),
    ];
    for (s, (signal, body, profile)) in steps.iter().enumerate() {
        for c in 0..customers {
            let time = START + (s as i64) * 3_600_000 + c as i64;
            let profile = if c % 2 == 0 { *profile } else { "" };
            let line = format!(
                r#"{{"customer":"c{c}","signal":"{signal}","time":{time},{body}{profile}}}"#
            );
            events.push(Event::from_json(program, &line).expect("a valid event"));
        }
    }
    events
}

/// `rules` top-level rules over 100 signals and 16 values of an enum,
/// each `when sN where event.k == vM and event.n > X then act(...)`.
fn generated(rules: usize) -> (String, Vec<String>) {
    let mut src = String::from("enum key { ");
    for v in 0..16 {
        let _ = write!(src, "v{v} ");
    }
    src.push_str("}\naction act(n: int)\n");
    for s in 0..100 {
        let _ = writeln!(src, "signal s{s} {{ k: key, n: int }}");
    }
    for r in 0..rules {
        let _ = writeln!(
            src,
            "when s{} where event.k == v{} and event.n > {} then act({r})",
            r % 100,
            (r / 100) % 16,
            r % 50
        );
    }
    let events = (0..10_000)
        .map(|i| {
            format!(
                r#"{{"customer":"c{}","signal":"s{}","time":{},"data":{{"k":"v{}","n":{}}}}}"#,
                i % 1000,
                (i * 7) % 100,
                START + i as i64,
                i % 16,
                i % 60
            )
        })
        .collect();
    (src, events)
}

fn hotel(c: &mut Criterion) {
    let program = Arc::new(
        Program::compile(&[Source::new("hotel.jr", HOTEL)])
            .expect("hotel compiles")
            .program,
    );
    let events = hotel_events(&program, 100_000);
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("hotel, 100k customers", |b| {
        b.iter_batched(
            || Engine::new(Arc::clone(&program)),
            |mut engine| {
                let mut out = Vec::new();
                for e in &events {
                    out.clear();
                    let _ = engine.process_into(e, &mut out);
                }
                black_box(engine.customer_count());
                engine
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn many_rules(c: &mut Criterion) {
    let (src, lines) = generated(10_000);
    let program = Arc::new(
        Program::compile(&[Source::new("gen.jr", src)])
            .expect("generated program compiles")
            .program,
    );
    let events: Vec<Event> = lines
        .iter()
        .map(|l| Event::from_json(&program, l).expect("valid"))
        .collect();
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("10k rules", |b| {
        b.iter_batched(
            || Engine::new(Arc::clone(&program)),
            |mut engine| {
                let mut out = Vec::new();
                let mut n = 0;
                for e in &events {
                    out.clear();
                    let _ = engine.process_into(e, &mut out);
                    n += out.len();
                }
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, hotel, many_rules);
criterion_main!(benches);
