//! What a host relies on beyond processing: events bound to their program,
//! the cause of every decision, and the allowed lateness of live clocks.

use std::sync::Arc;

use jrule::{Cause, Engine, Event, EventError, Program, Source};

/// 2026-03-01T09:00:00Z.
const T0: i64 = 1_772_355_600_000;
const MINUTE: i64 = 60_000;

fn compile(text: &str) -> Arc<Program> {
    match Program::compile(&[Source::new("p.jr", text)]) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => panic!("does not compile: {e}"),
    }
}

const SHOP: &str = r#"signal joined
signal bought
action welcome
action remind
journey shop {
  stages new -> buyer
  rule join: when joined then welcome, move to new
  rule nudge: when no bought within 10m after joined in new then remind
  rule buy: when bought in new then move to buyer
}
"#;

fn event(program: &Program, customer: &str, signal: &str, time: i64) -> Event {
    let line = format!(r#"{{"customer":"{customer}","signal":"{signal}","time":{time}}}"#);
    Event::from_json(program, &line).expect("event")
}

#[test]
fn an_event_read_for_another_program_is_refused() {
    let a = compile("signal arrived\nsignal key_used\naction greet\nwhen key_used then greet");
    // The same signals, in another order: an event of `a` would read as the other signal.
    let b = compile("signal key_used\nsignal arrived\naction greet\nwhen key_used then greet");
    let mut engine = Engine::new(Arc::clone(&b));
    let arrived = event(&a, "c1", "arrived", T0);
    assert_eq!(engine.process(&arrived), Err(EventError::OtherProgram));
    assert_eq!(
        EventError::OtherProgram.code(),
        "jrule::event_other_program"
    );
    assert_eq!(engine.customer_count(), 0);
    assert_eq!(engine.clock(), None);
    // Read again with the engine's program, it is processed as itself.
    assert!(engine
        .process(&event(&b, "c1", "arrived", T0))
        .expect("ok")
        .is_empty());
    // A program compiled again from the same text reads events the same way.
    let again = compile("signal key_used\nsignal arrived\naction greet\nwhen key_used then greet");
    let decisions = engine
        .process(&event(&again, "c1", "key_used", T0))
        .expect("same layout");
    assert_eq!(decisions.len(), 1);
    // After a reload to another program, the old program's events are refused.
    engine.reload(Arc::clone(&a)).expect("reload");
    assert_eq!(
        engine.process(&event(&b, "c1", "key_used", T0)),
        Err(EventError::OtherProgram)
    );
}

#[test]
fn decisions_say_what_caused_them() {
    let program = compile(SHOP);
    let mut engine = Engine::new(Arc::clone(&program));
    let own = engine
        .process(&event(&program, "c1", "joined", T0))
        .expect("ok");
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|d| d.cause() == Cause::Event));
    // c2's event at T0+11m first fires c1's timer (due at T0+10m), then its own rules.
    let mixed = engine
        .process(&event(&program, "c2", "joined", T0 + 11 * MINUTE))
        .expect("ok");
    let causes: Vec<(String, Cause)> = mixed
        .iter()
        .map(|d| (format!("{} {}", d.customer(), d.action()), d.cause()))
        .collect();
    assert_eq!(
        causes,
        vec![
            (
                "c1 remind".to_string(),
                Cause::Timer {
                    rule: "shop/nudge",
                    deadline: T0 + 10 * MINUTE
                }
            ),
            ("c2 welcome".to_string(), Cause::Event),
            ("c2 move".to_string(), Cause::Event),
        ]
    );
    // The JSON line stays the spec's unless the cause is asked for.
    assert!(!mixed[0].to_json().contains("cause"));
    let with = serde_json::to_string(&mixed[0].with_cause()).expect("json");
    assert!(
        with.ends_with(
            r#","cause":{"kind":"timer","rule":"shop/nudge","deadline":"2026-03-01T09:10:00Z"}}"#
        ),
        "{with}"
    );
    let with = serde_json::to_string(&mixed[1].with_cause()).expect("json");
    assert!(with.ends_with(r#","cause":{"kind":"event"}}"#), "{with}");
    // Advancing the clock gives timer decisions only.
    let later = engine.advance_to(T0 + 30 * MINUTE).expect("advance");
    assert_eq!(later.len(), 1);
    assert!(matches!(later[0].cause(), Cause::Timer { .. }));
}

#[test]
fn a_late_event_within_the_lateness_is_processed_at_the_clock() {
    let program = compile(SHOP);
    let mut engine = Engine::new(Arc::clone(&program));
    engine
        .process(&event(&program, "c1", "joined", T0))
        .expect("ok");
    engine
        .process(&event(&program, "c2", "joined", T0 + 5 * MINUTE))
        .expect("ok");
    // By default an event older than the clock is rejected, changing nothing.
    let late = event(&program, "c1", "bought", T0 + 4 * MINUTE);
    assert_eq!(
        engine.process(&late),
        Err(EventError::OutOfOrder {
            time: T0 + 4 * MINUTE,
            clock: T0 + 5 * MINUTE
        })
    );
    engine.set_lateness(2 * MINUTE);
    assert_eq!(engine.lateness(), 2 * MINUTE);
    let decisions = engine.process(&late).expect("late but accepted");
    assert_eq!(decisions.len(), 1);
    assert_eq!(
        decisions[0].time(),
        T0 + 5 * MINUTE,
        "processed at the clock"
    );
    assert_eq!(engine.clock(), Some(T0 + 5 * MINUTE));
    // c1 bought: its nudge is cancelled; c2's still fires.
    let timers = engine.advance_to(T0 + 20 * MINUTE).expect("advance");
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].customer(), "c2");
    // Older than the lateness: rejected as before.
    let too_late = event(&program, "c3", "joined", T0 + 17 * MINUTE);
    assert!(matches!(
        engine.process(&too_late),
        Err(EventError::OutOfOrder { .. })
    ));
    // Advancing to a time within the lateness changes nothing.
    assert!(engine.advance_to(T0 + 19 * MINUTE).expect("ok").is_empty());
    assert_eq!(engine.clock(), Some(T0 + 20 * MINUTE));
    // A reload keeps the lateness.
    engine.reload(Arc::clone(&program)).expect("reload");
    assert_eq!(engine.lateness(), 2 * MINUTE);
}
