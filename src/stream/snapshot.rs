//! Checkpoints of one input partition, as records of the state topic.
//!
//! A snapshot is the engine's saved state (JSON) cut into chunks, written
//! first, then a head that names them: input topic, partition, the last
//! offset the state includes, the program's hash, a generation number, the
//! number of chunks, their length and SHA-256. Chunks go to one of two
//! slots by generation, so a crash while a snapshot is written leaves the
//! slot that the last head names whole, also after compaction. Keys:
//! `TOPIC/PARTITION` for the head, `TOPIC/PARTITION/SLOT/INDEX` for a chunk.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::State;

const FORMAT: &str = "jrule-snapshot";
const VERSION: u32 = 1;

/// The record that completes a snapshot and names its chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    format: String,
    version: u32,
    /// The input topic.
    pub topic: String,
    /// The input partition.
    pub partition: i32,
    /// The last input offset whose effects the state holds.
    pub offset: i64,
    /// The SHA-256 of the program the state was saved under.
    pub program: String,
    /// Counts the partition's snapshots; its parity is the chunks' slot.
    pub generation: u64,
    chunks: u32,
    bytes: u64,
    sha256: String,
}

/// A record for the state topic; `None` is a tombstone.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The record's key.
    pub key: String,
    /// The record's value.
    pub value: Option<Vec<u8>>,
}

/// What a partition remembers of its snapshots between two writes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Slots {
    /// The generation of the last snapshot written, if any.
    pub generation: Option<u64>,
    /// The chunks each slot holds now.
    pub chunks: [u32; 2],
}

/// The records of a new snapshot: its chunks, tombstones for the chunks of
/// the slot's older snapshot past the new ones, then the head.
pub fn encode(
    head: (&str, i32, i64, &str),
    state: &[u8],
    chunk_bytes: usize,
    slots: &mut Slots,
) -> Vec<Record> {
    let (topic, partition, offset, program) = head;
    let generation = slots.generation.map_or(0, |g| g + 1);
    let slot = (generation % 2) as usize;
    let pieces: Vec<&[u8]> = state.chunks(chunk_bytes.max(1)).collect();
    let mut records = Vec::with_capacity(pieces.len() + 1);
    for (i, piece) in pieces.iter().enumerate() {
        let mut value = format!("{generation}\n").into_bytes();
        value.extend_from_slice(piece);
        records.push(Record {
            key: chunk_key(topic, partition, slot, i as u32),
            value: Some(value),
        });
    }
    let n = pieces.len() as u32;
    for i in n..slots.chunks[slot] {
        records.push(Record {
            key: chunk_key(topic, partition, slot, i),
            value: None,
        });
    }
    let head = Head {
        format: FORMAT.to_string(),
        version: VERSION,
        topic: topic.to_string(),
        partition,
        offset,
        program: program.to_string(),
        generation,
        chunks: n,
        bytes: state.len() as u64,
        sha256: hex(&Sha256::digest(state)),
    };
    records.push(Record {
        key: format!("{topic}/{partition}"),
        value: Some(serde_json::to_vec(&head).unwrap_or_default()),
    });
    slots.generation = Some(generation);
    slots.chunks[slot] = n;
    records
}

fn chunk_key(topic: &str, partition: i32, slot: usize, i: u32) -> String {
    format!("{topic}/{partition}/{slot}/{i}")
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A snapshot read back.
#[derive(Debug)]
pub struct Loaded {
    /// Its head.
    pub head: Head,
    /// The engine state it holds.
    pub state: State,
    /// What the partition's next snapshot continues from.
    pub slots: Slots,
}

/// Reads one partition's records of the state topic and keeps, of each key,
/// the value of the highest generation: what compaction keeps, without
/// depending on the order in which the log holds them.
#[derive(Debug)]
pub struct Loader {
    topic: String,
    partition: i32,
    head: Option<Head>,
    /// A head that did not parse, if no good one came after it.
    malformed: Option<String>,
    chunks: HashMap<(usize, u32), (u64, Vec<u8>)>,
}

impl Loader {
    /// A loader for the snapshots of `topic`'s `partition`.
    pub fn new(topic: &str, partition: i32) -> Loader {
        Loader {
            topic: topic.to_string(),
            partition,
            head: None,
            malformed: None,
            chunks: HashMap::new(),
        }
    }

    /// Takes the next record; records of other partitions are ignored.
    pub fn add(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Ok(key) = std::str::from_utf8(key) else {
            return;
        };
        let mut parts = key.split('/');
        if parts.next() != Some(&self.topic)
            || parts.next() != Some(self.partition.to_string().as_str())
        {
            return;
        }
        match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => match value.map(serde_json::from_slice::<Head>) {
                Some(Ok(head))
                    if self
                        .head
                        .as_ref()
                        .is_none_or(|h| h.generation <= head.generation) =>
                {
                    self.head = Some(head);
                    self.malformed = None;
                }
                Some(Err(e)) => self.malformed = Some(e.to_string()),
                _ => {}
            },
            (Some(slot), Some(i), None) => {
                let (Ok(slot @ 0..=1), Ok(i)) = (slot.parse::<usize>(), i.parse::<u32>()) else {
                    return;
                };
                let Some(value) = value else {
                    self.chunks.remove(&(slot, i));
                    return;
                };
                let Some((generation, bytes)) = split_chunk(value) else {
                    return;
                };
                if self
                    .chunks
                    .get(&(slot, i))
                    .is_none_or(|(g, _)| *g <= generation)
                {
                    self.chunks.insert((slot, i), (generation, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }

    /// The last complete snapshot, `None` when there is none; a head whose
    /// chunks are missing, altered or unreadable is an error naming it.
    pub fn finish(self) -> Result<Option<Loaded>, String> {
        if let Some(e) = self.malformed {
            return Err(format!("the snapshot head is malformed: {e}"));
        }
        let Some(head) = self.head else {
            return Ok(None);
        };
        if head.format != FORMAT || head.version != VERSION {
            return Err(format!(
                "the snapshot head has format `{}` version {} (this jrule reads `{FORMAT}` version {VERSION})",
                head.format, head.version
            ));
        }
        let slot = (head.generation % 2) as usize;
        // Not `head.bytes`: a damaged head must not reserve memory.
        let mut state = Vec::new();
        for i in 0..head.chunks {
            let (generation, bytes) = self.chunks.get(&(slot, i)).ok_or_else(|| {
                format!(
                    "snapshot generation {} lacks chunk {i} of {}",
                    head.generation, head.chunks
                )
            })?;
            if *generation != head.generation {
                return Err(format!(
                    "snapshot generation {}: chunk {i} belongs to another generation",
                    head.generation
                ));
            }
            state.extend_from_slice(bytes);
        }
        if state.len() as u64 != head.bytes || hex(&Sha256::digest(&state)) != head.sha256 {
            return Err(format!(
                "snapshot generation {}: the chunks do not match the head's length and SHA-256",
                head.generation
            ));
        }
        let text = std::str::from_utf8(&state)
            .map_err(|_| format!("snapshot generation {}: not UTF-8", head.generation))?;
        let state = State::from_json(text)
            .map_err(|e| format!("snapshot generation {}: {e}", head.generation))?;
        let mut chunks = [0u32; 2];
        for &(s, i) in self.chunks.keys() {
            chunks[s] = chunks[s].max(i + 1);
        }
        Ok(Some(Loaded {
            slots: Slots {
                generation: Some(head.generation),
                chunks,
            },
            head,
            state,
        }))
    }
}

/// A chunk's generation and bytes; `None` for a value that is no chunk.
fn split_chunk(chunk: &[u8]) -> Option<(u64, &[u8])> {
    let n = chunk.iter().position(|&b| b == b'\n')?;
    let generation = std::str::from_utf8(&chunk[..n]).ok()?.parse().ok()?;
    Some((generation, &chunk[n + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Program, Source};
    use std::sync::Arc;

    fn state_json() -> Vec<u8> {
        let program = Arc::new(
            Program::compile(&[Source::new(
                "t.jr",
                "signal s\naction a\njourney j {\n  stages x -> y\n  when s then move to x\n}",
            )])
            .unwrap()
            .program,
        );
        let mut engine = Engine::new(program.clone());
        for i in 0..50 {
            let e = crate::Event::from_json(
                &program,
                &format!(r#"{{"customer":"c{i}","signal":"s","time":"2026-01-01T00:00:00Z"}}"#),
            )
            .unwrap();
            engine.process(&e).unwrap();
        }
        engine.save().to_json().into_bytes()
    }

    fn load(records: &[Record]) -> Result<Option<Loaded>, String> {
        let mut loader = Loader::new("ev", 3);
        for r in records {
            loader.add(r.key.as_bytes(), r.value.as_deref());
        }
        loader.finish()
    }

    #[test]
    fn a_snapshot_reads_back_over_its_chunks() {
        let state = state_json();
        let mut slots = Slots::default();
        let records = encode(("ev", 3, 41, "abc"), &state, 100, &mut slots);
        assert!(records.len() > 3);
        let loaded = load(&records).unwrap().unwrap();
        assert_eq!(loaded.head.offset, 41);
        assert_eq!(loaded.head.program, "abc");
        assert_eq!(loaded.state.to_json().as_bytes(), &state[..]);
        assert_eq!(loaded.slots, slots);
    }

    #[test]
    fn a_snapshot_cut_short_leaves_the_one_before() {
        let state = state_json();
        let mut slots = Slots::default();
        let mut records = encode(("ev", 3, 41, "abc"), &state, 100, &mut slots);
        let second = encode(
            ("ev", 3, 99, "abc"),
            &state[..state.len() / 2],
            100,
            &mut slots,
        );
        // Every chunk of the second written, but not its head.
        records.extend(second[..second.len() - 1].iter().cloned());
        let loaded = load(&records).unwrap().unwrap();
        assert_eq!(loaded.head.offset, 41);
        assert_eq!(loaded.head.generation, 0);
    }

    #[test]
    fn the_highest_generation_wins_whatever_the_order() {
        let state = state_json();
        let mut slots = Slots::default();
        let first = encode(("ev", 3, 10, "p"), &state, 100, &mut slots);
        let second = encode(("ev", 3, 20, "p"), &state, 100, &mut slots);
        let third = encode(("ev", 3, 30, "p"), &state, 100, &mut slots);
        // A log in which the third stands where the first stood, before
        // the second.
        let records: Vec<Record> = third.iter().chain(&second).cloned().collect();
        let loaded = load(&records).unwrap().unwrap();
        assert_eq!((loaded.head.offset, loaded.head.generation), (30, 2));
        let records: Vec<Record> = first.iter().chain(&second).chain(&third).cloned().collect();
        assert_eq!(load(&records).unwrap().unwrap().head.offset, 30);
    }

    #[test]
    fn a_smaller_snapshot_tombstones_the_slots_old_chunks() {
        let state = state_json();
        let mut slots = Slots::default();
        encode(("ev", 3, 1, "p"), &state, 100, &mut slots);
        encode(("ev", 3, 2, "p"), &state, 100, &mut slots);
        let big = slots.chunks[0];
        let third = encode(("ev", 3, 3, "p"), &state[..150], 100, &mut slots);
        let tombstones = third.iter().filter(|r| r.value.is_none()).count();
        assert_eq!(tombstones as u32, big - 2);
        assert_eq!(slots.chunks[0], 2);
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_naming_it() {
        let state = state_json();
        let mut slots = Slots::default();
        let mut records = encode(("ev", 3, 41, "abc"), &state, 100, &mut slots);
        records.remove(2);
        assert_eq!(
            load(&records).unwrap_err(),
            format!(
                "snapshot generation 0 lacks chunk 2 of {}",
                records.len() // one chunk removed, one head
            )
        );
        let mut records = encode(("ev", 3, 41, "abc"), &state, 100, &mut Slots::default());
        records[0].value.as_mut().unwrap()[5] ^= 1;
        assert_eq!(
            load(&records).unwrap_err(),
            "snapshot generation 0: the chunks do not match the head's length and SHA-256"
        );
        assert_eq!(load(&[]).unwrap().map(|l| l.head), None);
        let other = encode(("ev", 4, 41, "abc"), &state, 100, &mut Slots::default());
        assert_eq!(load(&other).unwrap().map(|l| l.head), None);
    }
}
