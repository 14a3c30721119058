//! State per customer in a store: incremental checkpoints, an engine that
//! loads customers as their events and timers come, the redb file across
//! reopening, damaged files, and a store written by another program.

use std::path::PathBuf;
use std::sync::Arc;

use jrule::store::{checkpoint, Loader, MemoryStore, RedbStore, StateStore, StoreError};
use jrule::{Decision, Engine, Event, Program, Source, State};

const HOTEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/spec/examples/hotel.jr"
);
const HOTEL_EVENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/spec/examples/hotel.events.jsonl"
);

fn compile(text: &str) -> Arc<Program> {
    match Program::compile(&[Source::new("hotel.jr", text)]) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => panic!("does not compile: {e}"),
    }
}

fn hotel() -> Arc<Program> {
    compile(&std::fs::read_to_string(HOTEL).expect("hotel.jr"))
}

fn events(program: &Program) -> Vec<Event> {
    std::fs::read_to_string(HOTEL_EVENTS)
        .expect("events")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Event::from_json(program, l).expect("event"))
        .collect()
}

fn lines(decisions: &[Decision]) -> Vec<String> {
    decisions.iter().map(Decision::to_json).collect()
}

/// 2026-03-10: after every timer of the stream.
const UNTIL: i64 = 1_773_100_800_000;

fn uninterrupted(program: &Arc<Program>, events: &[Event]) -> (Vec<String>, Engine) {
    let mut engine = Engine::new(Arc::clone(program));
    let mut out = Vec::new();
    for e in events {
        out.extend(lines(&engine.process(e).expect("processed")));
    }
    out.extend(lines(&engine.advance_to(UNTIL).expect("advanced")));
    (out, engine)
}

/// Runs the stream, checkpointing after each event in `checkpoints` and
/// going on from an engine reopened on the store.
fn through_store(
    program: &Arc<Program>,
    events: &[Event],
    checkpoints: &[usize],
    store: &Arc<dyn StateStore>,
) -> (Vec<String>, Engine, Loader) {
    let (mut engine, mut loader) =
        Loader::open(Arc::clone(program), Arc::clone(store), 0, 1).expect("open");
    engine.track_changes(true);
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        loader
            .prepare(&mut engine, Some(e.customer()), e.time())
            .expect("load");
        out.extend(lines(&engine.process(e).expect("processed")));
        if checkpoints.contains(&(i + 1)) {
            checkpoint(
                std::slice::from_mut(&mut engine),
                &**store,
                Some(format!("{}", i + 1)),
            )
            .expect("checkpoint");
            (engine, loader) =
                Loader::open(Arc::clone(program), Arc::clone(store), 0, 1).expect("reopen");
            engine.track_changes(true);
        }
    }
    loader.prepare(&mut engine, None, UNTIL).expect("load");
    out.extend(lines(&engine.advance_to(UNTIL).expect("advanced")));
    (out, engine, loader)
}

#[test]
fn reopening_from_a_store_at_every_position_continues_exactly() {
    let program = hotel();
    let events = events(&program);
    let (expected, whole) = uninterrupted(&program, &events);
    for k in 0..=events.len() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let (got, engine, _) = through_store(&program, &events, &[k], &store);
        assert_eq!(got, expected, "checkpoint after event {k}");
        assert_eq!(
            engine.metrics(),
            whole.metrics(),
            "metrics, checkpoint after {k}"
        );
    }
    // Checkpoints after every event, each reopening: only what the
    // customers needed is ever loaded.
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let all: Vec<usize> = (1..=events.len()).collect();
    let (got, _, _) = through_store(&program, &events, &all, &store);
    assert_eq!(got, expected);
}

#[test]
fn a_checkpoint_writes_only_the_customers_that_changed() {
    let program = hotel();
    let events = events(&program);
    let store = MemoryStore::new();
    let mut engine = Engine::new(Arc::clone(&program));
    engine.track_changes(true);
    for e in &events {
        engine.process(e).expect("processed");
    }
    let customers = engine.customer_count();
    assert!(customers > 1);
    let written = checkpoint(std::slice::from_mut(&mut engine), &store, None).expect("ok");
    assert_eq!(written, customers);
    assert_eq!(
        checkpoint(std::slice::from_mut(&mut engine), &store, None).expect("ok"),
        0,
        "nothing changed since"
    );
    let last = events.last().expect("an event");
    let again = Event::from_json(
        &program,
        &format!(
            r#"{{"customer":"{}","signal":"app_opened","time":{},"data":{{"screen":"home"}}}}"#,
            last.customer(),
            last.time()
        ),
    )
    .expect("event");
    engine.process(&again).expect("processed");
    assert_eq!(
        checkpoint(std::slice::from_mut(&mut engine), &store, None).expect("ok"),
        1
    );
    // The store holds what the engine holds.
    for c in engine.save().to_json().split("\"id\":\"").skip(1) {
        let id = &c[..c.find('"').expect("quote")];
        assert_eq!(store.get(id).expect("read"), engine.customer(id), "{id}");
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jrule-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("state.redb")
}

#[test]
fn the_redb_file_survives_reopening() {
    let program = hotel();
    let events = events(&program);
    let (expected, _) = uninterrupted(&program, &events);
    let path = temp("reopen");
    let half = events.len() / 2;
    let mut out = Vec::new();
    {
        let store: Arc<dyn StateStore> = Arc::new(RedbStore::open(&path).expect("open"));
        let (mut engine, mut loader) =
            Loader::open(Arc::clone(&program), Arc::clone(&store), 0, 1).expect("open");
        engine.track_changes(true);
        for e in &events[..half] {
            loader
                .prepare(&mut engine, Some(e.customer()), e.time())
                .expect("load");
            out.extend(lines(&engine.process(e).expect("processed")));
        }
        checkpoint(
            std::slice::from_mut(&mut engine),
            &*store,
            Some("half".into()),
        )
        .expect("ok");
    }
    let store: Arc<dyn StateStore> = Arc::new(RedbStore::open(&path).expect("reopen"));
    let header = store.header().expect("read").expect("a header");
    assert_eq!(header.position(), Some("half"));
    assert!(header.written_for(&program));
    let (mut engine, mut loader) =
        Loader::open(Arc::clone(&program), Arc::clone(&store), 0, 1).expect("open");
    assert_eq!(engine.customer_count(), 0, "nothing is loaded up front");
    for e in &events[half..] {
        loader
            .prepare(&mut engine, Some(e.customer()), e.time())
            .expect("load");
        out.extend(lines(&engine.process(e).expect("processed")));
    }
    loader.prepare(&mut engine, None, UNTIL).expect("load");
    out.extend(lines(&engine.advance_to(UNTIL).expect("advanced")));
    assert_eq!(out, expected);
    assert!(loader.loaded() > 0);
}

#[test]
fn a_damaged_store_is_an_error_never_a_fresh_start() {
    let program = hotel();
    let events = events(&program);
    let path = temp("damaged");
    {
        let store = RedbStore::open(&path).expect("open");
        let mut engine = Engine::new(Arc::clone(&program));
        engine.track_changes(true);
        for e in &events {
            engine.process(e).expect("processed");
        }
        checkpoint(std::slice::from_mut(&mut engine), &store, None).expect("ok");
    }
    let good = std::fs::read(&path).expect("read");
    // Truncated, or its bytes overwritten: opening or reading fails.
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("truncated to half", good[..good.len() / 2].to_vec()),
        ("truncated to 100 bytes", good[..100].to_vec()),
        ("garbage", vec![0x5a; good.len()]),
        ("not a database", b"{\"format\":\"jrule-state\"}".to_vec()),
    ];
    for (what, bytes) in damages {
        std::fs::write(&path, &bytes).expect("write");
        let outcome = RedbStore::open(&path).and_then(|store| {
            let store: Arc<dyn StateStore> = Arc::new(store);
            Loader::open(Arc::clone(&program), store, 0, 1).map(|(engine, _)| engine)
        });
        match outcome {
            Err(e) => assert!(
                matches!(
                    e,
                    StoreError::Open { .. } | StoreError::Io(_) | StoreError::Damaged { .. }
                ),
                "{what}: {e}"
            ),
            Ok(engine) => panic!(
                "{what}: opened as a fresh store (clock {:?})",
                engine.clock()
            ),
        }
    }
}

#[test]
fn a_damaged_record_is_an_error_naming_the_customer() {
    let program = hotel();
    let events = events(&program);
    let store = MemoryStore::new();
    let mut engine = Engine::new(Arc::clone(&program));
    engine.track_changes(true);
    engine.process(&events[0]).expect("processed");
    let mut changes = engine.take_changes();
    let (id, _) = changes[0].clone();
    // A record that names a stage the program lacks.
    let text = engine
        .customer(&id)
        .expect("state")
        .to_json()
        .replace("\"booked\"", "\"nowhere\"");
    changes[0].1 = Some(jrule::CustomerState::from_json(text.as_bytes()).expect("json"));
    let header = jrule::store::Header::new(&program, engine.save_header(), None);
    store
        .commit(&jrule::store::Checkpoint { header, changes })
        .expect("commit");
    let store: Arc<dyn StateStore> = Arc::new(store);
    let (mut engine, mut loader) = Loader::open(Arc::clone(&program), store, 0, 1).expect("open");
    let e = loader
        .prepare(&mut engine, Some(&id), events[1].time())
        .expect_err("refused");
    assert!(e.to_string().contains(&format!("customer `{id}`")), "{e}");
    assert_eq!(e.code(), "jrule::state_incompatible", "{e}");
    assert!(!engine.has_customer(&id), "nothing half-loaded");
}

#[test]
fn a_store_written_by_another_program_is_carried_like_a_state_file() {
    let program = hotel();
    let events = events(&program);
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let mut engine = Engine::new(Arc::clone(&program));
    engine.track_changes(true);
    for e in &events {
        engine.process(e).expect("processed");
    }
    checkpoint(std::slice::from_mut(&mut engine), &*store, None).expect("ok");
    let state: State = engine.save();
    // The same program without its `stalled` rule and `spa_test` split.
    let text = std::fs::read_to_string(HOTEL).expect("hotel.jr");
    let changed = compile(&text.replace("rule stalled:", "rule stalled_again:"));
    let (_, expected) = Engine::restore_carrying(Arc::clone(&changed), &state).expect("carry");
    let (mut reopened, mut loader) =
        Loader::open(Arc::clone(&changed), Arc::clone(&store), 0, 1).expect("open");
    let ids: Vec<String> = state
        .to_json()
        .split("\"id\":\"")
        .skip(1)
        .map(|c| c[..c.find('"').expect("quote")].to_string())
        .collect();
    for id in &ids {
        loader
            .prepare(
                &mut reopened,
                Some(id),
                events.last().expect("event").time(),
            )
            .expect("carried");
    }
    assert_eq!(loader.carry(), Some(&expected));
    assert!(!expected.is_empty());
}

#[test]
fn a_runtime_on_a_store_checkpoints_and_reopens_with_any_number_of_threads() {
    let program = hotel();
    let events = events(&program);
    let (expected, whole) = uninterrupted(&program, &events);
    for (before, after) in [(1, 2), (2, 3), (3, 1)] {
        for k in 0..=events.len() {
            let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
            let mut runtime =
                jrule::Runtime::open(Arc::clone(&program), Arc::clone(&store), before)
                    .expect("open");
            let mut out = Vec::new();
            for e in &events[..k] {
                out.extend(lines(&runtime.process(e).expect("processed")));
            }
            runtime
                .checkpoint(Some(format!("{k}")))
                .expect("checkpoint");
            drop(runtime);
            let mut runtime = jrule::Runtime::open(Arc::clone(&program), Arc::clone(&store), after)
                .expect("reopen");
            for e in &events[k..] {
                out.extend(lines(&runtime.process(e).expect("processed")));
            }
            out.extend(lines(&runtime.advance_to(UNTIL).expect("advanced")));
            assert_eq!(
                out, expected,
                "{before} then {after} threads, checkpoint after {k}"
            );
            assert_eq!(runtime.metrics(), whole.metrics());
        }
    }
}
