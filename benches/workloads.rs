//! The generated workloads of docs/performance.md under criterion:
//! events per second of the engine (events built beforehand), and the
//! compile time of 100,000 rules. `jrule bench --synthetic` measures the
//! same workloads with latency percentiles and allocation counts.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jrule::workload::{self, Workload};
use jrule::{Decision, Engine, Program, Source};

const EVENTS: usize = 100_000;

fn compile(w: Workload, rules: usize) -> Arc<Program> {
    let text = workload::program(w, rules);
    Arc::new(
        Program::compile(&[Source::new(format!("{w}.jr"), text)])
            .expect("the workload compiles")
            .program,
    )
}

fn run(c: &mut Criterion, w: Workload, sizes: &[usize], customers: usize) {
    let mut group = c.benchmark_group(format!("workload {w}"));
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    for &rules in sizes {
        let program = compile(w, rules);
        let events = workload::events(&program, w, rules, customers, EVENTS, 7);
        let reload = (w == Workload::W5).then(|| compile(w, rules));
        group.bench_function(format!("{rules} rules"), |b| {
            b.iter_batched(
                || Engine::new(Arc::clone(&program)),
                |mut engine| {
                    let mut out: Vec<Decision> = Vec::with_capacity(64);
                    for (k, e) in events.iter().enumerate() {
                        if let (Some(next), true) = (&reload, k > 0 && k % (EVENTS / 4) == 0) {
                            let _ = engine.reload(Arc::clone(next));
                        }
                        out.clear();
                        let _ = engine.process_into(e, &mut out);
                    }
                    black_box(out.len());
                    engine
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn workloads(c: &mut Criterion) {
    run(c, Workload::W1, &[10, 100, 1_000, 10_000, 100_000], 10_000);
    run(c, Workload::W2, &[100, 10_000], 10_000);
    run(c, Workload::W3 { percent: 1 }, &[1_000, 10_000], 10_000);
    run(c, Workload::W4, &[10, 10_000], 100_000);
    run(c, Workload::W5, &[10_000], 10_000);
}

fn compile_100k(c: &mut Criterion) {
    let text = workload::program(Workload::W1, 100_000);
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function("100k rules (parse, check, index)", |b| {
        b.iter(|| {
            Program::compile(&[Source::new("w1.jr", text.as_str())])
                .expect("compiles")
                .program
        })
    });
    group.finish();
}

criterion_group!(benches, workloads, compile_100k);
criterion_main!(benches);
