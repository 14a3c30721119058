//! One input partition: its engine, where it is in the partition, and what
//! each message becomes — decisions with ids, or a dead letter.

use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::snapshot::{hex, Slots};
use crate::{Decision, Engine, Event, Program};

/// A message of the input topic.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The input topic.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its key: the customer id.
    pub key: Option<&'a [u8]>,
    /// Its value: one event as JSON.
    pub payload: Option<&'a [u8]>,
}

/// What a message became.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// A decision for the output topic: key (the customer) and value.
    Decision(String, String),
    /// A message the engine could not take, for the dead-letter topic:
    /// the message's key and a JSON record of it and of the reason.
    Dead(Option<Vec<u8>>, String),
}

/// One assigned partition.
#[derive(Debug)]
pub struct Partition {
    /// The engine of the partition's customers.
    pub engine: Engine,
    /// The offset of the next message to process; those before it are in
    /// the engine's state.
    pub next: i64,
    /// Messages processed since the last snapshot.
    pub pending: u64,
    /// When the last snapshot was written (or the partition assigned).
    pub checkpointed: Instant,
    /// The snapshot slots of the state topic.
    pub slots: Slots,
    decisions: Vec<Decision>,
}

impl Partition {
    /// A partition that starts at `next` with `engine`.
    pub fn new(engine: Engine, next: i64, slots: Slots) -> Partition {
        Partition {
            engine,
            next,
            pending: 0,
            checkpointed: Instant::now(),
            slots,
            decisions: Vec::new(),
        }
    }

    /// Runs one message; returns false, doing nothing, for a message the
    /// state already holds (one before `next`, as after a restore).
    pub fn process(&mut self, m: &Message<'_>, out: &mut Vec<Output>) -> bool {
        if m.offset < self.next {
            return false;
        }
        self.next = m.offset + 1;
        self.pending += 1;
        if let Err((code, reason)) = self.decide(m) {
            out.push(Output::Dead(
                m.key.map(<[u8]>::to_vec),
                dead_letter(m, code, &reason),
            ));
            return true;
        }
        for (i, d) in self.decisions.iter().enumerate() {
            let nth = self.decisions[..i]
                .iter()
                .filter(|e| e.customer() == d.customer() && e.rule() == d.rule())
                .count();
            let id = decision_id(d, m, nth);
            let json = d.to_json();
            out.push(Output::Decision(
                d.customer().to_string(),
                format!("{{\"id\":\"{id}\",{}", &json[1..]),
            ));
        }
        true
    }

    /// Runs the message's event; a message the engine cannot take is the
    /// code and message of why.
    fn decide(&mut self, m: &Message<'_>) -> Result<(), (&'static str, String)> {
        let rejected = |e: crate::EventError| (e.code(), e.to_string());
        let program: &Arc<Program> = self.engine.program();
        let payload = m
            .payload
            .ok_or((NO_VALUE, "the message has no value".to_string()))?;
        let event = Event::from_json_bytes(program, payload).map_err(rejected)?;
        match m.key {
            None => {
                return Err((
                    NO_KEY,
                    "the message has no key (events are keyed by customer id)".into(),
                ))
            }
            Some(key) if key != event.customer().as_bytes() => {
                return Err((
                    KEY_MISMATCH,
                    format!(
                        "the key `{}` is not the event's customer `{}`",
                        String::from_utf8_lossy(key),
                        event.customer()
                    ),
                ))
            }
            Some(_) => {}
        }
        self.decisions.clear();
        self.engine
            .process_into(&event, &mut self.decisions)
            .map_err(rejected)
    }
}

/// The id of a decision: 32 hex digits of the SHA-256 of its customer, its
/// rule, the event it came of (topic, partition, offset) and how many of
/// the same customer and rule that event made before it. A replay after a
/// crash makes the same ids, so a consumer can drop the duplicates.
pub fn decision_id(d: &Decision, m: &Message<'_>, nth: usize) -> String {
    let mut h = Sha256::new();
    for part in [d.customer(), d.rule(), m.topic] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(m.partition.to_le_bytes());
    h.update(m.offset.to_le_bytes());
    h.update((nth as u64).to_le_bytes());
    hex(&h.finalize()[..16])
}

/// The code of a dead letter whose message has no value.
pub const NO_VALUE: &str = "jrule::message_no_value";
/// The code of a dead letter whose message has no key.
pub const NO_KEY: &str = "jrule::message_no_key";
/// The code of a dead letter whose key is not its event's customer.
pub const KEY_MISMATCH: &str = "jrule::message_key_mismatch";

/// The dead-letter record of a message: where it was, what it held, why
/// (the stable code of the reason, and its message).
fn dead_letter(m: &Message<'_>, code: &str, reason: &str) -> String {
    serde_json::json!({
        "topic": m.topic,
        "partition": m.partition,
        "offset": m.offset,
        "key": m.key.map(String::from_utf8_lossy),
        "value": m.payload.map(String::from_utf8_lossy),
        "code": code,
        "error": reason,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    fn partition() -> Partition {
        let program = Program::compile(&[Source::new(
            "t.jr",
            "signal s { n: int }\naction a(n: int)\nrule r: when s then a(event.n), a(event.n + 1)",
        )])
        .unwrap()
        .program;
        Partition::new(Engine::new(Arc::new(program)), 0, Slots::default())
    }

    fn msg<'a>(offset: i64, key: Option<&'a str>, payload: &'a str) -> Message<'a> {
        Message {
            topic: "ev",
            partition: 2,
            offset,
            key: key.map(str::as_bytes),
            payload: Some(payload.as_bytes()),
        }
    }

    const EV: &str =
        r#"{"customer":"c1","signal":"s","time":"2026-01-01T00:00:00Z","data":{"n":1}}"#;

    #[test]
    fn decisions_carry_ids_that_a_replay_repeats() {
        let mut p = partition();
        let mut out = Vec::new();
        assert!(p.process(&msg(7, Some("c1"), EV), &mut out));
        let [Output::Decision(k1, v1), Output::Decision(_, v2)] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(k1, "c1");
        assert!(
            v1.starts_with("{\"id\":\"")
                && v1.contains(r#""rule":"r","action":"a","args":{"n":1}"#)
        );
        assert_ne!(v1[..40], v2[..40]);
        let mut again = Vec::new();
        partition().process(&msg(7, Some("c1"), EV), &mut again);
        assert_eq!(out, again);
        let mut elsewhere = Vec::new();
        partition().process(&msg(8, Some("c1"), EV), &mut elsewhere);
        assert_ne!(out, elsewhere);
        assert!(
            !p.process(&msg(7, Some("c1"), EV), &mut out),
            "already held"
        );
        assert_eq!((p.next, p.pending), (8, 1));
    }

    #[test]
    fn bad_messages_become_dead_letters_and_the_partition_goes_on() {
        let mut p = partition();
        let mut out = Vec::new();
        p.process(&msg(0, Some("c1"), "{not json"), &mut out);
        p.process(
            &msg(
                1,
                Some("c1"),
                r#"{"customer":"c1","signal":"nope","time":"2026-01-01T00:00:00Z"}"#,
            ),
            &mut out,
        );
        p.process(&msg(2, Some("c2"), EV), &mut out);
        p.process(&msg(3, None, EV), &mut out);
        p.process(&msg(4, Some("c1"), EV), &mut out);
        let reasons: Vec<String> = out
            .iter()
            .filter_map(|o| match o {
                Output::Dead(_, v) => {
                    let v: serde_json::Value = serde_json::from_str(v).unwrap();
                    Some(format!(
                        "{} {} {}",
                        v["offset"],
                        v["code"].as_str().unwrap(),
                        v["error"].as_str().unwrap()
                    ))
                }
                Output::Decision(..) => None,
            })
            .collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(
            reasons[0].starts_with("0 jrule::event_malformed malformed JSON"),
            "{reasons:?}"
        );
        assert_eq!(
            reasons[1],
            "1 jrule::event_unknown_signal unknown signal `nope`"
        );
        assert_eq!(
            reasons[2],
            "2 jrule::message_key_mismatch the key `c2` is not the event's customer `c1`"
        );
        assert_eq!(
            reasons[3],
            "3 jrule::message_no_key the message has no key (events are keyed by customer id)"
        );
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, Output::Decision(..)))
                .count(),
            2
        );
        assert_eq!(p.next, 5);
    }
}
