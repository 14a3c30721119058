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
pub use partition::{KEY_MISMATCH, NO_KEY, NO_VALUE};
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

/// Why the worker stopped: a fatal error. Each kind has a stable
/// [`code`](StreamError::code) (`jrule::stream_…`), which `jrule stream`
/// prints with the message. More kinds may be added: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The program could not be read, or does not check.
    #[error("{0}")]
    Load(LoadError),
    /// A call to the broker failed: what the worker was doing, and
    /// librdkafka's reason.
    #[error("{doing}: {reason}")]
    Kafka {
        /// What the worker was doing, like ``cannot create the producer``.
        doing: String,
        /// The client's error.
        reason: String,
    },
    /// The input topic does not exist.
    #[error("the input topic `{topic}` does not exist")]
    NoInputTopic {
        /// The topic.
        topic: String,
    },
    /// The state topic has fewer partitions than the input.
    #[error(
        "the state topic `{topic}` has {partitions} partitions, fewer than the input's {input}"
    )]
    StateTopicTooSmall {
        /// The state topic.
        topic: String,
        /// Its partitions.
        partitions: usize,
        /// The input's partitions.
        input: usize,
    },
    /// A record could not be written.
    #[error("cannot write to `{topic}`: {reason}")]
    Write {
        /// The topic.
        topic: String,
        /// The client's error.
        reason: String,
    },
    /// A checkpoint's records were not acknowledged in time.
    #[error("partition {partition}: the checkpoint was not written: {messages} messages not acknowledged in {seconds} s")]
    NotAcknowledged {
        /// The input partition.
        partition: i32,
        /// The messages still in flight.
        messages: usize,
        /// How long the worker waited.
        seconds: u64,
    },
    /// The state topic was not read to its end in time.
    #[error("the state topic `{topic}` was not read to its end in {seconds} s (partitions {partitions:?})")]
    StateTopicTimeout {
        /// The state topic.
        topic: String,
        /// How long the worker waited.
        seconds: u64,
        /// The partitions not read to their end.
        partitions: Vec<i32>,
    },
    /// A partition's last snapshot is damaged: missing, altered or
    /// unreadable records, or a state that does not read.
    #[error("state topic `{topic}` partition {partition}: {reason}")]
    Snapshot {
        /// The state topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What is wrong with the snapshot.
        reason: String,
    },
    /// A partition's snapshot could not be restored under the program.
    #[error("partition {partition}: cannot restore the snapshot: {error}")]
    Restore {
        /// The input partition.
        partition: i32,
        /// Why.
        error: crate::StateError,
    },
    /// A new program could not take a partition's state.
    #[error("partition {partition}: cannot carry the state over: {error}")]
    Carry {
        /// The input partition.
        partition: i32,
        /// Why.
        error: crate::StateError,
    },
}

impl StreamError {
    /// The stable code of this kind of error, like `jrule::stream_kafka`.
    /// Codes are never renamed or reused.
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::Load(LoadError::Check(_)) => "jrule::stream_program_check",
            StreamError::Load(_) => "jrule::stream_program_read",
            StreamError::Kafka { .. } => "jrule::stream_kafka",
            StreamError::NoInputTopic { .. } => "jrule::stream_no_input_topic",
            StreamError::StateTopicTooSmall { .. } => "jrule::stream_state_topic_too_small",
            StreamError::Write { .. } => "jrule::stream_write",
            StreamError::NotAcknowledged { .. } => "jrule::stream_not_acknowledged",
            StreamError::StateTopicTimeout { .. } => "jrule::stream_state_topic_timeout",
            StreamError::Snapshot { .. } => "jrule::stream_snapshot",
            StreamError::Restore { .. } => "jrule::stream_restore",
            StreamError::Carry { .. } => "jrule::stream_carry",
        }
    }

    /// A failed call to the broker.
    pub(crate) fn kafka(doing: impl Into<String>, reason: impl std::fmt::Display) -> StreamError {
        StreamError::Kafka {
            doing: doing.into(),
            reason: reason.to_string(),
        }
    }
}

/// Reads and compiles the program.
pub fn load_program(files: &[PathBuf]) -> Result<Versioned, LoadError> {
    let sources = Source::read_all(files).map_err(|e| LoadError::Io(e.to_string()))?;
    let hash = program_hash(&sources);
    compile(&sources, hash).map_err(LoadError::Check)
}

/// Compiles sources already read, whose hash is `hash`; the error is the
/// rendered diagnostics.
fn compile(sources: &[Source], hash: String) -> Result<Versioned, String> {
    let program = Program::compile(sources)
        .map_err(|e| e.diagnostics.render(&e.sources))?
        .program;
    Ok(Versioned {
        program: Arc::new(program),
        hash,
    })
}
