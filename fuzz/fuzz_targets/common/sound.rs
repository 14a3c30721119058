//! The soundness property, shared by the `compile` fuzz target and
//! `tests/soundness.rs` (which includes this file with `#[path]`; it uses
//! nothing but `jrule`): for any sources, either the check reports an
//! error, or the program compiles, and its engine processes events and
//! advances its clock without panicking.
#![allow(dead_code)]

use std::sync::Arc;

use jrule::check::Symbols;
use jrule::types::{Base, Ty};
use jrule::{Code, Engine, EventBuilder, Program, Source, Value};

/// 2026-03-01T09:00:00Z, when the events start.
pub const T0: i64 = 1_772_355_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Checks `sources` and asserts the property: `resolved()` is `Some`
/// exactly when there is no error, no diagnostic is `jrule::internal`,
/// `Program::compile` agrees with the check, and a resolved program
/// compiles and runs (see [`run`]). Returns whether it resolved.
pub fn assert_sound(sources: &[Source]) -> bool {
    let checked = jrule::check(sources);
    let errors = checked.diagnostics.errors();
    assert_eq!(
        checked.resolved().is_some(),
        errors == 0,
        "resolved() is Some exactly when there is no error ({errors} errors)"
    );
    if let Some(d) = checked
        .diagnostics
        .iter()
        .find(|d| d.code == Code::Internal)
    {
        panic!(
            "the checker accepted what it cannot resolve: {}: {} at {:?}",
            d.code, d.message, d.span
        );
    }
    let compiled = Program::compile(sources);
    assert_eq!(
        compiled.is_ok(),
        errors == 0,
        "Program::compile succeeds exactly when the check has no error"
    );
    let Some(resolved) = checked.resolved() else {
        return false;
    };
    let program = Arc::new(Program::new(resolved));
    run(&checked.symbols, program);
    true
}

/// Runs a compiled program: for each of a few variants of the values, one
/// event of every declared signal for each of two customers (with and
/// without place, channel, optional fields and profile), an hour apart,
/// then the clock far ahead to fire every timer. Rejected events are fine;
/// a panic is not.
pub fn run(symbols: &Symbols, program: Arc<Program>) {
    let mut engine = Engine::new(Arc::clone(&program));
    let mut time = T0;
    for variant in 0..4 {
        for (signal, info) in &symbols.signals {
            for (c, customer) in ["c1", "c2"].into_iter().enumerate() {
                let full = (variant + c) % 2 == 0;
                let mut event = EventBuilder::new(&program, customer, signal, time)
                    .unwrap_or_else(|e| panic!("an event of the declared signal `{signal}`: {e}"));
                if full {
                    if let Some(place) = symbols.places.keys().nth(variant % 2) {
                        event = event.at(place).unwrap_or_else(|e| panic!("{e}"));
                    }
                    if let Some(channel) = symbols.channels.keys().next() {
                        event = event.via(channel).unwrap_or_else(|e| panic!("{e}"));
                    }
                    for (name, field) in &symbols.customer {
                        if let Some(v) = value(symbols, field.ty, variant) {
                            event = match event.profile(name, Some(v)) {
                                Ok(e) => e,
                                Err(e) => panic!("profile `{name}`: {e}"),
                            };
                        }
                    }
                }
                for (name, field) in &info.fields {
                    if field.optional && !full {
                        continue;
                    }
                    if let Some(v) = value(symbols, field.ty, variant) {
                        event = match event.field(name, v) {
                            Ok(e) => e,
                            Err(e) => panic!("field `{name}` of `{signal}`: {e}"),
                        };
                    }
                }
                // A required field of a type without values (an empty enum)
                // cannot be built: that event is skipped.
                if let Ok(event) = event.build() {
                    let _ = engine.process(&event);
                }
                time += HOUR;
            }
        }
        time += 3 * DAY;
        let _ = engine.advance_to(time);
    }
    let _ = engine.advance_to(time + 400 * DAY);
    let _ = engine.metrics();
    let _ = engine.save().to_json();
}

/// A value of type `ty`, one of a few per variant (zero, one, minus one
/// and an extreme, to reach division by zero and overflow); `None` for a
/// symbol of a type that has no values.
fn value(symbols: &Symbols, ty: Ty, variant: usize) -> Option<Value> {
    if ty.list {
        let item = value(symbols, ty.element(), variant)?;
        return Some(Value::List(match variant % 3 {
            0 => Vec::new(),
            1 => vec![item],
            _ => vec![item.clone(), item],
        }));
    }
    let symbol = |count: usize| (count > 0).then(|| Value::Symbol((variant % count) as u32));
    Some(match ty.base {
        Base::Int => Value::Int([0, 1, -1, i64::MAX][variant % 4]),
        Base::Float => Value::Float([0.0, 1.5, -1.0, 1e308][variant % 4]),
        Base::Text => Value::Text(["", "a", "text", "é"][variant % 4].to_string()),
        Base::Bool => Value::Bool(variant % 2 == 0),
        Base::Duration => Value::Duration([0, 60_000, DAY, i64::MAX][variant % 4]),
        Base::Place => symbol(symbols.places.len())?,
        Base::Channel => symbol(symbols.channels.len())?,
        Base::Enum(i) => symbol(symbols.enums.get_index(i.index())?.1.values.len())?,
        // Unknown, and whatever a later version adds.
        _ => return None,
    })
}
