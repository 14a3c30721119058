//! The runtime (N engines on N threads) against one engine: the same
//! decisions, causes and order on the differential generator's streams and
//! on the examples, the same saved state, lateness across shards, reloads
//! that change everything or nothing, and events of another program refused.

use std::path::Path;
use std::sync::Arc;

use jrule::reference::gen::{self, Step};
use jrule::{
    Decision, Engine, Event, EventError, LineOptions, Program, ReloadError, Runtime, Source,
    StateError,
};

/// Decisions as JSON lines with their causes, or the rejection.
fn shown(result: Result<Vec<Decision>, EventError>) -> Result<String, EventError> {
    result.map(|ds| {
        ds.iter()
            .map(|d| format!("{}\n", serde_json::to_string(&d.with_cause()).unwrap()))
            .collect()
    })
}

fn compile(files: &[String]) -> Option<Arc<Program>> {
    let sources: Vec<Source> = files
        .iter()
        .enumerate()
        .map(|(i, text)| Source::new(format!("gen{i}.jr"), text.as_str()))
        .collect();
    Program::compile(&sources).ok().map(|c| Arc::new(c.program))
}

fn compile_one(text: &str) -> Arc<Program> {
    Arc::new(
        Program::compile(&[Source::new("test.jr", text)])
            .expect("the program compiles")
            .program,
    )
}

/// Runs a generated case through one engine and through a runtime of
/// `threads`, event by event (`batch` false) or in batches of the events
/// between other steps (JSON lines read on the workers), with `lateness`;
/// panics at the first difference.
fn same_as_one_engine(seed: u64, threads: usize, batch: bool, lateness: i64) {
    let case = gen::case_from_seed(seed);
    let Some(program) = compile(&case.files) else {
        return;
    };
    let mut engine = Engine::new(Arc::clone(&program));
    engine.set_lateness(lateness);
    let mut runtime = Runtime::new(Arc::clone(&program), threads);
    runtime.set_lateness(lateness);
    let at = |i: usize| format!("seed {seed}, {threads} threads, batch {batch}, step {i}");
    let mut i = 0;
    while i < case.steps.len() {
        match &case.steps[i] {
            Step::Event(_) if batch => {
                let mut lines = Vec::new();
                let mut expected = Vec::new();
                while let Some(Step::Event(line)) = case.steps.get(i) {
                    lines.push(line.as_bytes().to_vec());
                    expected.push(shown(
                        Event::from_json(&program, line).and_then(|e| engine.process(&e)),
                    ));
                    i += 1;
                }
                let options = LineOptions::new().causes(true);
                let actual: Vec<_> = runtime
                    .process_lines(lines, options)
                    .into_iter()
                    .map(|r| r.map(|bytes| String::from_utf8(bytes).unwrap()))
                    .collect();
                assert_eq!(actual, expected, "{}", at(i));
                continue;
            }
            Step::Event(line) => {
                let expected =
                    shown(Event::from_json(&program, line).and_then(|e| engine.process(&e)));
                let actual = shown(
                    Event::from_json(runtime.program(), line).and_then(|e| runtime.process(&e)),
                );
                assert_eq!(actual, expected, "{}", at(i));
            }
            Step::Advance(t) => {
                assert_eq!(
                    shown(runtime.advance_to(*t)),
                    shown(engine.advance_to(*t)),
                    "{}",
                    at(i)
                );
            }
            Step::Restore => {
                let state = runtime.save();
                assert_eq!(state, engine.save(), "{}", at(i));
                // Resume with another number of threads.
                runtime = Runtime::restore(Arc::clone(&program), &state, threads % 4 + 1)
                    .expect("the runtime's state restores");
                runtime.set_lateness(lateness);
            }
        }
        assert_eq!(runtime.clock(), engine.clock(), "{}", at(i));
        i += 1;
    }
    assert_eq!(runtime.save(), engine.save(), "seed {seed}: saved state");
    assert_eq!(runtime.metrics(), engine.metrics(), "seed {seed}: metrics");
    assert_eq!(runtime.customer_count(), engine.customer_count());
}

#[test]
fn the_runtime_gives_one_engines_decisions_on_generated_streams() {
    for seed in 0..120 {
        for threads in 1..=4 {
            same_as_one_engine(seed, threads, threads % 2 == 0, 0);
        }
    }
}

#[test]
fn batches_give_one_engines_decisions_on_generated_streams() {
    for seed in 120..200 {
        for threads in [1, 3] {
            same_as_one_engine(seed, threads, true, 0);
        }
    }
}

#[test]
fn lateness_gives_one_engines_decisions_across_shards() {
    // The generated streams go back in time now and then: with a lateness
    // those events are processed at the clock, on whichever shard.
    for seed in 200..300 {
        for (threads, lateness) in [(2, 3_600_000), (3, 86_400_000), (4, 60_000)] {
            same_as_one_engine(seed, threads, seed % 2 == 0, lateness);
        }
    }
}

#[test]
fn lateness_accepts_a_late_event_at_the_clock_on_another_shard() {
    let program = compile_one(
        "signal ping\naction pong(n: int)\nwhen ping then pong(1)\n\
         journey j { stages a\n rule enter: when ping then move to a\n rule wait: when in a for 1m then pong(2) }",
    );
    let ev = |c: &str, t: &str| {
        Event::from_json(
            &program,
            &format!(r#"{{"customer":"{c}","signal":"ping","time":"2026-03-01T09:{t}Z"}}"#),
        )
        .unwrap()
    };
    let mut runtime = Runtime::new(Arc::clone(&program), 3);
    let mut engine = Engine::new(Arc::clone(&program));
    runtime.set_lateness(30_000);
    engine.set_lateness(30_000);
    let stream = [
        ev("a", "00:00"),
        ev("b", "01:10"),
        ev("c", "00:50"), // 20 s late: processed at 09:01:10
        ev("d", "00:30"), // 40 s late: out of order
        ev("e", "02:20"),
    ];
    for e in &stream {
        assert_eq!(shown(runtime.process(e)), shown(engine.process(e)));
    }
    let late = shown(runtime.process(&ev("f", "02:00"))).unwrap();
    assert!(late.contains("2026-03-01T09:02:20Z"), "{late}");
    assert!(matches!(
        runtime.process(&ev("g", "01:00")),
        Err(EventError::OutOfOrder { .. })
    ));
    assert_eq!(runtime.save(), {
        engine.process(&ev("f", "02:00")).unwrap();
        engine.save()
    });
}

#[test]
fn the_examples_give_one_engines_decisions_and_state() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".events.jsonl") else {
            continue;
        };
        seen += 1;
        let program =
            compile_one(&std::fs::read_to_string(dir.join(format!("{stem}.jr"))).unwrap());
        let events = std::fs::read_to_string(&path).unwrap();
        let mut engine = Engine::new(Arc::clone(&program));
        let expected: Vec<_> = events
            .lines()
            .map(|l| shown(Event::from_json(&program, l).and_then(|e| engine.process(&e))))
            .collect();
        let until = jrule::time::parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
        let expected_until = shown(engine.advance_to(until));
        for threads in 1..=4 {
            let mut runtime = Runtime::new(Arc::clone(&program), threads);
            let lines = events.lines().map(|l| l.as_bytes().to_vec()).collect();
            let actual: Vec<_> = runtime
                .process_lines(lines, LineOptions::new().causes(true))
                .into_iter()
                .map(|r| r.map(|b| String::from_utf8(b).unwrap()))
                .collect();
            assert_eq!(actual, expected, "{stem} with {threads} threads");
            assert_eq!(
                shown(runtime.advance_to(until)),
                expected_until,
                "{stem} with {threads} threads: until"
            );
            assert_eq!(runtime.save(), engine.save(), "{stem}: state");
            assert_eq!(runtime.metrics(), engine.metrics(), "{stem}: metrics");
        }
    }
    assert!(seen >= 6, "the examples with events: {seen}");
}

#[test]
fn causes_tell_the_events_decisions_from_timers() {
    let program = compile_one(&std::fs::read_to_string(hotel_path()).unwrap());
    let events = hotel_events(&program);
    let mut runtime = Runtime::new(Arc::clone(&program), 2);
    let (mut own, mut timers) = (0, 0);
    for e in &events {
        for d in runtime.process(e).unwrap() {
            match d.cause() {
                jrule::Cause::Event => {
                    own += 1;
                    assert_eq!((d.customer(), d.time()), (e.customer(), e.time()));
                }
                jrule::Cause::Timer { rule, deadline } => {
                    timers += 1;
                    assert_eq!(deadline, d.time());
                    assert!(rule.starts_with("stay/"), "{rule}");
                }
            }
        }
    }
    assert!(own > 0 && timers > 0, "{own} own, {timers} timers");
}

fn hotel_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hotel.jr")
}

fn hotel_events(program: &Program) -> Vec<Event> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hotel.events.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| Event::from_json(program, l).unwrap())
        .collect()
}

/// The hotel program without its `stalled` rule and with a field more: a
/// state of the hotel carries over to it with losses.
fn hotel_changed() -> String {
    let text = std::fs::read_to_string(hotel_path()).unwrap();
    let text = text.replace(
        "  rule stalled:\n    when in arrived for 6h\n    then notify_staff(\"front_desk\")\n",
        "",
    );
    assert!(!text.contains("rule stalled"));
    text.replace("  email: text?\n", "  email: text?\n  vip: bool = false\n")
}

#[test]
fn a_reload_dry_run_reports_the_merged_carry_and_changes_nothing() {
    let program = compile_one(&std::fs::read_to_string(hotel_path()).unwrap());
    let changed = compile_one(&hotel_changed());
    let events = hotel_events(&program);
    let half = events.len() / 2;
    for threads in 1..=4 {
        let mut engine = Engine::new(Arc::clone(&program));
        let mut runtime = Runtime::new(Arc::clone(&program), threads);
        for e in &events[..half] {
            assert_eq!(shown(runtime.process(e)), shown(engine.process(e)));
        }
        let before = runtime.save();
        let plan = runtime.plan_reload(Arc::clone(&changed)).unwrap();
        assert_eq!(runtime.save(), before, "a plan changes nothing");
        assert!(Arc::ptr_eq(runtime.program(), &program));
        let mut one = engine.clone();
        let carry = one.reload_carrying(Arc::clone(&changed)).unwrap();
        assert!(!carry.is_empty());
        assert_eq!(plan.carry(), &carry, "{threads} threads: the merged carry");
        // Dropping a plan changes nothing either.
        drop(plan);
        assert_eq!(runtime.save(), before);
        // A stale plan is refused.
        let stale = runtime.plan_reload(Arc::clone(&changed)).unwrap();
        let e = &events[half];
        assert_eq!(shown(runtime.process(e)), shown(engine.process(e)));
        let after_event = runtime.save();
        assert_eq!(runtime.apply_reload(stale).unwrap_err(), ReloadError::Stale);
        assert_eq!(runtime.save(), after_event);
        // A fresh plan swaps every engine.
        engine.reload_carrying(Arc::clone(&changed)).unwrap();
        let plan = runtime.plan_reload(Arc::clone(&changed)).unwrap();
        runtime.apply_reload(plan).unwrap();
        assert!(Arc::ptr_eq(runtime.program(), &changed));
        assert_eq!(runtime.save(), engine.save());
        for line in std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hotel.events.jsonl"),
        )
        .unwrap()
        .lines()
        .skip(half + 1)
        {
            let e = Event::from_json(runtime.program(), line).unwrap();
            assert_eq!(shown(runtime.process(&e)), shown(engine.process(&e)));
        }
        assert_eq!(runtime.save(), engine.save());
    }
}

#[test]
fn a_failed_reload_changes_nothing_on_any_shard() {
    let program = compile_one(&std::fs::read_to_string(hotel_path()).unwrap());
    let changed = compile_one(&hotel_changed());
    let events = hotel_events(&program);
    for threads in 1..=4 {
        let mut runtime = Runtime::new(Arc::clone(&program), threads);
        runtime.set_lateness(1_000);
        for e in &events {
            runtime.process(e).unwrap();
        }
        let before = runtime.save();
        let error = runtime.reload(Arc::clone(&changed)).unwrap_err();
        assert!(
            matches!(error, StateError::Incompatible { .. }),
            "{error:?}"
        );
        assert_eq!(runtime.save(), before);
        assert!(Arc::ptr_eq(runtime.program(), &program));
        assert_eq!(runtime.lateness(), 1_000);
        // Events of the program still run, on every shard.
        let until = jrule::time::parse_rfc3339("2026-04-01T00:00:00Z").unwrap();
        let mut engine = Engine::restore(Arc::clone(&program), &before).unwrap();
        assert_eq!(
            shown(runtime.advance_to(until)),
            shown(engine.advance_to(until))
        );
        // A strict reload to the same program succeeds and keeps the lateness.
        runtime.reload(Arc::clone(&program)).unwrap();
        assert_eq!(runtime.save(), engine.save());
        assert_eq!(runtime.lateness(), 1_000);
    }
}

#[test]
fn events_of_another_program_are_refused() {
    let program = compile_one(&std::fs::read_to_string(hotel_path()).unwrap());
    let other = compile_one(&hotel_changed());
    let line = r#"{"customer":"ana","signal":"booking_made","time":"2026-03-01T09:00:00Z","data":{"hotel_id":"sf1","nights":3,"amount":540.0}}"#;
    let mut runtime = Runtime::new(Arc::clone(&program), 3);
    let foreign = Event::from_json(&other, line).unwrap();
    assert_eq!(runtime.process(&foreign), Err(EventError::OtherProgram));
    assert_eq!(runtime.customer_count(), 0);
    assert_eq!(runtime.clock(), None);
    // After a reload, the old program's events are refused; read again, accepted.
    let old = Event::from_json(runtime.program(), line).unwrap();
    let plan = runtime.plan_reload(Arc::clone(&other)).unwrap();
    runtime.apply_reload(plan).unwrap();
    assert_eq!(runtime.process(&old), Err(EventError::OtherProgram));
    let again = Event::from_json(runtime.program(), line).unwrap();
    assert_eq!(runtime.process(&again).unwrap().len(), 1);
    let later = line.replace("09:00:00Z", "10:00:00Z").replace("ana", "zoe");
    let later = Event::from_json(runtime.program(), &later).unwrap();
    // Read for the program now running, `foreign` is no longer foreign.
    let answers = runtime.process_batch(vec![old, later, foreign]);
    assert_eq!(answers[0], Err(EventError::OtherProgram));
    assert_eq!(answers[1].as_ref().map(Vec::len), Ok(1));
    assert!(matches!(answers[2], Err(EventError::OutOfOrder { .. })));
}

#[test]
fn stopping_at_the_first_rejection_leaves_the_rest_unprocessed() {
    let program = compile_one("signal ping\naction pong\nwhen ping then pong");
    let line = |c: &str, t: &str| {
        format!(r#"{{"customer":"{c}","signal":"ping","time":"2026-03-01T09:00:{t}Z"}}"#)
            .into_bytes()
    };
    let lines = vec![
        line("a", "01"),
        line("b", "03"),
        line("c", "02"),
        line("d", "04"),
    ];
    let mut runtime = Runtime::new(Arc::clone(&program), 2);
    let answers = runtime.process_lines(lines.clone(), LineOptions::new().stop_at_rejection(true));
    assert_eq!(answers.len(), 3);
    assert!(matches!(answers[2], Err(EventError::OutOfOrder { .. })));
    assert_eq!(
        runtime.clock(),
        jrule::time::parse_rfc3339("2026-03-01T09:00:03Z")
    );
    let mut runtime = Runtime::new(program, 2);
    let answers = runtime.process_lines(lines, LineOptions::new());
    assert_eq!(answers.len(), 4);
    assert_eq!(
        String::from_utf8(answers[3].clone().unwrap()).unwrap(),
        "{\"time\":\"2026-03-01T09:00:04Z\",\"customer\":\"d\",\"journey\":null,\"rule\":\"L3\",\"action\":\"pong\",\"args\":{}}\n"
    );
}

#[test]
fn the_live_clock_advances_to_now_and_never_back() {
    let program = compile_one(
        "signal ping\naction pong\njourney j { stages a\n rule enter: when ping then move to a\n rule wait: when in a for 1m then pong }",
    );
    let mut runtime = Runtime::new(Arc::clone(&program), 2);
    let e = Event::from_json(
        &program,
        r#"{"customer":"a","signal":"ping","time":"2026-03-01T09:00:00Z"}"#,
    )
    .unwrap();
    runtime.process(&e).unwrap();
    let timers = runtime.advance_to_now().unwrap();
    assert_eq!(timers.len(), 1);
    assert!(runtime.clock().unwrap() > e.time() + 60_000);
    // A clock ahead of the wall clock stays where it is.
    let ahead = jrule::time::parse_rfc3339("9000-01-01T00:00:00Z").unwrap();
    runtime.advance_to(ahead).unwrap();
    assert!(runtime.advance_to_now().unwrap().is_empty());
    assert_eq!(runtime.clock(), Some(ahead));
}

#[test]
fn submitted_batches_in_flight_give_the_same_answers() {
    let program = compile_one(&std::fs::read_to_string(hotel_path()).unwrap());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hotel.events.jsonl");
    let lines: Vec<Vec<u8>> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.as_bytes().to_vec())
        .collect();
    let mut one = Runtime::new(Arc::clone(&program), 1);
    let expected = one.process_lines(lines.clone(), LineOptions::new());
    for threads in 2..=3 {
        let mut runtime = Runtime::new(Arc::clone(&program), threads);
        let mut answers = Vec::new();
        let mut in_flight = None;
        for chunk in lines.chunks(4) {
            let sent = runtime.submit_lines(chunk.to_vec(), LineOptions::new());
            if let Some(pending) = in_flight.replace(sent) {
                answers.extend(jrule::PendingLines::wait(pending));
            }
        }
        answers.extend(in_flight.map(jrule::PendingLines::wait).unwrap_or_default());
        assert_eq!(answers, expected, "{threads} threads");
        assert_eq!(runtime.save(), one.save());
        assert_eq!(runtime.clock(), one.clock());
    }
}
