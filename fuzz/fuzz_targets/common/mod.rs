//! What the engine targets share: the embedded programs (see `build.rs`),
//! the choice of one by the input's first byte, and an engine wrapper that
//! asserts the engine's invariants on every step.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use jrule::{Decision, Engine, Event, EventError, Program, Source, State};
use serde_json::Value as Json;

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// A compiled program and the events written for it.
pub struct Compiled {
    pub name: &'static str,
    pub program: Arc<Program>,
    /// The lines of its event stream, parsed (empty if it has none).
    pub stream: Vec<Json>,
}

/// Every embedded program that compiles, in `PROGRAMS` order (a program
/// that does not compile is `None`, so that indexes stay put).
pub fn programs() -> &'static [Option<Compiled>] {
    static ALL: OnceLock<Vec<Option<Compiled>>> = OnceLock::new();
    ALL.get_or_init(|| {
        PROGRAMS
            .iter()
            .map(|&(name, text, stream)| {
                let program = Program::compile(&[Source::new(name, text)]).ok()?.program;
                let stream = lines(stream)
                    .filter_map(|l| serde_json::from_slice(l).ok())
                    .collect();
                Some(Compiled {
                    name,
                    program: Arc::new(program),
                    stream,
                })
            })
            .collect()
    })
}

/// The program the first byte names, and the rest of the input.
pub fn pick(data: &[u8]) -> Option<(&'static Compiled, &[u8])> {
    let (&first, rest) = data.split_first()?;
    let all = programs();
    let p = all.get(first as usize % all.len())?.as_ref()?;
    Some((p, rest))
}

/// Checks one decision's serialisations: `to_json` is a JSON object that
/// `serde` writes the same way, naming the decision's customer, rule and
/// action, at its time.
pub fn check_decision(d: &Decision) {
    let text = d.to_json();
    assert_eq!(
        serde_json::to_string(d).expect("a decision serialises"),
        text,
        "to_json and Serialize agree"
    );
    let json: Json = serde_json::from_str(&text).expect("a decision is JSON");
    let object = json.as_object().expect("a decision is a JSON object");
    assert_eq!(object["customer"], d.customer(), "{text}");
    assert_eq!(object["rule"], d.rule(), "{text}");
    assert_eq!(object["action"], d.action(), "{text}");
    assert_eq!(
        object["time"],
        jrule::time::format_rfc3339(d.time()),
        "{text}"
    );
}

/// The decisions of a step as comparable text.
fn texts(result: &Result<Vec<Decision>, EventError>) -> Result<Vec<String>, String> {
    match result {
        Ok(ds) => Ok(ds.iter().map(Decision::to_json).collect()),
        Err(e) => Err(e.to_string()),
    }
}

/// An engine whose every step is checked: a rejected event or advance
/// changes nothing that `save` shows; decisions serialise. After a
/// [`checkpoint`](Checked::checkpoint), a second engine restored from the
/// saved state follows along and must decide exactly the same.
pub struct Checked {
    pub program: Arc<Program>,
    pub engine: Engine,
    shadow: Option<Engine>,
}

impl Checked {
    pub fn new(program: Arc<Program>) -> Checked {
        Checked {
            engine: Engine::new(Arc::clone(&program)),
            program,
            shadow: None,
        }
    }

    /// An engine restored from a state, without a shadow.
    pub fn restored(engine: Engine) -> Checked {
        Checked {
            program: Arc::clone(engine.program()),
            engine,
            shadow: None,
        }
    }

    /// Reads one line as an event (both ways of reading must agree) and
    /// processes it; `None` when it is not an event of this program.
    pub fn line(&mut self, line: &[u8]) -> Option<Vec<Decision>> {
        let from_bytes = Event::from_json_bytes(&self.program, line);
        if let Ok(text) = std::str::from_utf8(line) {
            let from_text = Event::from_json(&self.program, text);
            assert_eq!(from_text, from_bytes, "from_json and from_json_bytes agree");
        }
        self.process(&from_bytes.ok()?).ok()
    }

    /// Processes an event with every check.
    pub fn process(&mut self, event: &Event) -> Result<Vec<Decision>, EventError> {
        let before = self.engine.save().to_json();
        let result = self.engine.process(event);
        self.after(before, &result, "event");
        if let Some(shadow) = &mut self.shadow {
            let mirrored = shadow.process(event);
            assert_eq!(
                texts(&mirrored),
                texts(&result),
                "a restored engine decides as the original"
            );
        }
        result
    }

    /// Advances the clock with every check.
    pub fn advance_to(&mut self, time: i64) -> Result<Vec<Decision>, EventError> {
        let before = self.engine.save().to_json();
        let result = self.engine.advance_to(time);
        self.after(before, &result, "advance");
        if let Some(shadow) = &mut self.shadow {
            let mirrored = shadow.advance_to(time);
            assert_eq!(
                texts(&mirrored),
                texts(&result),
                "a restored engine advances as the original"
            );
        }
        result
    }

    fn after(&self, before: String, result: &Result<Vec<Decision>, EventError>, what: &str) {
        match result {
            Ok(decisions) => decisions.iter().for_each(check_decision),
            Err(e) => {
                let _ = e.to_string();
                assert_eq!(
                    self.engine.save().to_json(),
                    before,
                    "a rejected {what} ({e}) changed the state"
                );
            }
        }
    }

    /// Saves, checks the state round-trips, and from here on runs a second
    /// engine restored from it alongside.
    pub fn checkpoint(&mut self) {
        if let Some(shadow) = &self.shadow {
            assert_eq!(
                shadow.save().to_json(),
                self.engine.save().to_json(),
                "a restored engine ends in the state of the original"
            );
        }
        let restored = round_trip(&self.engine);
        self.shadow = Some(restored);
    }

    /// Compares the shadow's state with the engine's, if there is one.
    pub fn finish(&self) {
        if let Some(shadow) = &self.shadow {
            assert_eq!(
                shadow.save().to_json(),
                self.engine.save().to_json(),
                "a restored engine ends in the state of the original"
            );
        }
    }
}

/// Saves an engine and restores the text: it must restore, save the same
/// text again, and split and merge back to the same state. Returns the
/// restored engine.
pub fn round_trip(engine: &Engine) -> Engine {
    let program = Arc::clone(engine.program());
    let state = engine.save();
    let text = state.to_json();
    let read =
        State::from_json(&text).unwrap_or_else(|e| panic!("a saved state reads back: {e}\n{text}"));
    assert_eq!(read, state, "a saved state reads back as itself");
    let restored = Engine::restore(Arc::clone(&program), &read)
        .unwrap_or_else(|e| panic!("a saved state restores: {e}\n{text}"));
    assert_eq!(
        restored.save().to_json(),
        text,
        "restoring a saved state and saving it gives the same text"
    );
    for n in [2, 3] {
        let parts: Vec<State> = read
            .split(n)
            .iter()
            .map(|part| {
                Engine::restore(Arc::clone(&program), part)
                    .unwrap_or_else(|e| panic!("a part of a saved state restores: {e}"))
                    .save()
            })
            .collect();
        let merged = State::merge(&parts).expect("parts to merge");
        assert_eq!(
            merged.to_json(),
            text,
            "a state split {n} ways and merged is the same state"
        );
    }
    restored
}

/// Reads a time as integer milliseconds or RFC 3339.
pub fn time(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    text.parse::<i64>()
        .ok()
        .or_else(|| jrule::time::parse_rfc3339(text))
}

/// The lines of a byte string, trailing whitespace removed, empty ones skipped.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split(|&b| b == b'\n').filter_map(|line| {
        let end = line.iter().rposition(|b| !b.is_ascii_whitespace())? + 1;
        Some(&line[..end])
    })
}
