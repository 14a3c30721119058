//! `jrule stream`: a Kafka consumer-group worker. It reads events keyed by
//! customer id, runs one engine per assigned partition, writes decisions
//! (with ids) to an output topic and bad messages to a dead-letter topic,
//! and checkpoints each partition to a compacted state topic before it
//! commits the input offset. See `docs/scaling.md`.

mod kafka;
mod partition;
mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use kafka::run;
pub use partition::{Message, Output, Partition};
pub use snapshot::Slots;

use crate::source::Source;
use crate::Program;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The program's files.
    pub files: Vec<PathBuf>,
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The consumer group.
    pub group: String,
    /// Events, keyed by customer id.
    pub input: String,
    /// Decisions, keyed by customer id.
    pub output: String,
    /// Messages the engine could not take, with the reason.
    pub dead_letter: String,
    /// Snapshots, compacted; as many partitions as the input.
    pub state: String,
    /// Checkpoint a partition after this many messages…
    pub checkpoint_events: u64,
    /// …or this long after its last checkpoint, if it took any.
    pub checkpoint_every: Duration,
    /// How often the program's files are read again for a new program.
    pub reload_every: Duration,
    /// The most bytes of state in one record of the state topic.
    pub chunk_bytes: usize,
    /// Names this worker in the `worker` header of what it writes.
    pub worker: String,
    /// More librdkafka settings, for the consumer and the producer.
    pub kafka: Vec<(String, String)>,
}

/// A compiled program and the SHA-256 of its files' text, in order.
#[derive(Debug, Clone)]
pub struct Versioned {
    /// The program.
    pub program: Arc<Program>,
    /// 64 hex digits.
    pub hash: String,
}

/// The hash of a program's files: their text in order, not their names, so
/// the same program deployed under other paths has the same hash.
pub fn program_hash(sources: &[Source]) -> String {
    let mut h = Sha256::new();
    for s in sources {
        h.update((s.text.len() as u64).to_le_bytes());
        h.update(s.text.as_bytes());
    }
    snapshot::hex(&h.finalize())
}

/// Why a program could not be loaded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read.
    Io(String),
    /// The program does not check: its diagnostics, rendered.
    Check(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(message) => f.write_str(message),
            LoadError::Check(_) => f.write_str("the program does not check"),
        }
    }
}

/// Reads and compiles the program.
pub fn load_program(files: &[PathBuf]) -> Result<Versioned, LoadError> {
    let sources = crate::cli::read_sources(files).map_err(LoadError::Io)?;
    let hash = program_hash(&sources);
    compile(&sources, hash).map_err(LoadError::Check)
}

/// Compiles sources already read, whose hash is `hash`; the error is the
/// rendered diagnostics.
fn compile(sources: &[Source], hash: String) -> Result<Versioned, String> {
    let program = Program::compile(sources)
        .map_err(|e| crate::cli::check::render(&e.diagnostics, &e.sources, false))?;
    Ok(Versioned {
        program: Arc::new(program),
        hash,
    })
}
