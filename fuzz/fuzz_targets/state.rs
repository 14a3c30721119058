//! Feeds arbitrary bytes as a saved state to `Engine::restore` for one of
//! the embedded programs (the first byte picks it: see `build.rs`; the rest
//! is the state's JSON).
//!
//! Reading and restoring must give an error or an engine, never panic. An
//! engine restored from it must save a state that restores and saves to the
//! same text (also split and merged), and must then process events without
//! panicking: the program's own stream, its customers replaced by those of
//! the state and its times moved to the state's clock, then an advance of
//! 30 days. A rejected event changes nothing; decisions serialise; a second
//! engine restored from the first one's save decides the same throughout.
#![no_main]

mod common;

use jrule::{Engine, Event, State};
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

/// How far the clock moves at the end.
const DRAIN: i64 = 30 * 86_400_000;

fuzz_target!(|data: &[u8]| {
    let Some((compiled, rest)) = common::pick(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(state) = State::from_json(text) else {
        return;
    };
    let whole = Engine::restore(compiled.program.clone(), &state);
    // `jrule run --threads N` restores the parts of a split state: they
    // restore exactly when the whole does.
    for n in [2, 3] {
        let parts_ok = state
            .split(n)
            .iter()
            .all(|part| Engine::restore(compiled.program.clone(), part).is_ok());
        assert_eq!(
            parts_ok,
            whole.is_ok(),
            "the parts of a state split {n} ways restore exactly when the whole does: {:?}",
            whole.as_ref().err()
        );
    }
    let Ok(engine) = whole else {
        return;
    };
    let mut run = common::Checked::restored(engine);
    run.checkpoint();

    // The saved customers, to address the program's events to them.
    let saved: Json = serde_json::from_str(&run.engine.save().to_json()).expect("a state is JSON");
    let ids: Vec<Json> = saved["customers"]
        .as_array()
        .map(|cs| cs.iter().map(|c| c["id"].clone()).collect())
        .unwrap_or_default();
    let start = run.engine.clock();
    for (i, original) in compiled.stream.iter().enumerate() {
        let mut json = original.clone();
        if let (Some(object), false) = (json.as_object_mut(), ids.is_empty()) {
            if i % 3 != 2 {
                object.insert("customer".into(), ids[i % ids.len()].clone());
            }
            if let Some(clock) = start {
                let t = clock.saturating_add(60_000 * i as i64);
                object.insert("time".into(), Json::from(t));
            }
        }
        if let Ok(event) = Event::from_value(&run.program, &json) {
            let _ = run.process(&event);
        }
    }
    if let Some(clock) = run.engine.clock() {
        let _ = run.advance_to(clock.saturating_add(DRAIN));
    }
    run.finish();
});
