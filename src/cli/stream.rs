//! `jrule stream`: run as a worker of a Kafka consumer group.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::failure::Failure;
use super::{OK, TROUBLE};
use crate::stream::{Config, LoadError, StreamError};

/// Arguments of `jrule stream`.
#[derive(Args, Debug)]
pub struct StreamArgs {
    /// The program's files; read again every `--reload-secs` for a new program.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Kafka bootstrap servers, `HOST:PORT[,HOST:PORT…]`.
    #[arg(long, value_name = "LIST")]
    pub brokers: String,
    /// The topic of events, keyed by customer id.
    #[arg(long, value_name = "TOPIC")]
    pub input: String,
    /// The consumer group the workers share.
    #[arg(long, default_value = "jrule", value_name = "GROUP")]
    pub group: String,
    /// The topic of decisions [default: INPUT.decisions].
    #[arg(long, value_name = "TOPIC")]
    pub output: Option<String>,
    /// The topic of messages the engine could not take [default: INPUT.dead].
    #[arg(long, value_name = "TOPIC")]
    pub dead_letter: Option<String>,
    /// The compacted topic of snapshots [default: GROUP.state].
    #[arg(long, value_name = "TOPIC")]
    pub state_topic: Option<String>,
    /// Checkpoint a partition after this many messages.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub checkpoint_events: u64,
    /// …or this many seconds after its last checkpoint.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    pub checkpoint_secs: f64,
    /// How often to look for a new program in the files.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub reload_secs: f64,
    /// The most bytes of state in one record of the state topic.
    #[arg(long, default_value_t = 512 * 1024, value_name = "BYTES")]
    pub chunk_bytes: usize,
    /// This worker's name, in the `worker` header of what it writes [default: HOST-PID].
    #[arg(long, value_name = "NAME")]
    pub worker: Option<String>,
    /// A librdkafka setting for the consumer and the producer (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = key_value)]
    pub kafka: Vec<(String, String)>,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

fn seconds(name: &str, s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("`--{name} {s}` is not a number of seconds"))
}

/// Runs the worker until SIGTERM or SIGINT; exit 2 on a fatal error.
pub fn run(args: &StreamArgs, err: &mut dyn Write) -> u8 {
    let config = || -> Result<Config, String> {
        Ok(Config {
            files: args.files.clone(),
            brokers: args.brokers.clone(),
            output: args
                .output
                .clone()
                .unwrap_or_else(|| format!("{}.decisions", args.input)),
            dead_letter: args
                .dead_letter
                .clone()
                .unwrap_or_else(|| format!("{}.dead", args.input)),
            state: args
                .state_topic
                .clone()
                .unwrap_or_else(|| format!("{}.state", args.group)),
            input: args.input.clone(),
            group: args.group.clone(),
            checkpoint_events: args.checkpoint_events.max(1),
            checkpoint_every: seconds("checkpoint-secs", args.checkpoint_secs)?,
            reload_every: seconds("reload-secs", args.reload_secs)?,
            chunk_bytes: args.chunk_bytes.max(1024),
            worker: args.worker.clone().unwrap_or_else(|| {
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_else(|_| "worker".to_string());
                format!("{host}-{}", std::process::id())
            }),
            kafka: args.kafka.clone(),
        })
    };
    let config = match config() {
        Ok(config) => config,
        Err(message) => {
            let _ = writeln!(err, "{}", Failure::from(message));
            return TROUBLE;
        }
    };
    match crate::stream::run(config) {
        Ok(()) => OK,
        Err(e) => {
            if let StreamError::Load(LoadError::Check(diagnostics)) = &e {
                let _ = err.write_all(diagnostics.as_bytes());
            }
            let _ = writeln!(err, "{}", Failure::coded(e.code(), e.to_string()));
            TROUBLE
        }
    }
}
