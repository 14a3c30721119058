//! The subcommands of `jrule`, one function each, testable without a process.

pub mod bench;
pub mod check;
mod diff;
pub mod explain;
mod failure;
pub mod fmt;
pub mod graph;
mod progress;
pub mod run;
#[cfg(feature = "stream")]
pub mod stream;
pub mod test;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::source::Source;

/// Exit status: success.
pub const OK: u8 = 0;
/// Exit status: the input has problems (diagnostics, rejected events).
pub const FAILED: u8 = 1;
/// Exit status: usage or I/O problem.
pub const TROUBLE: u8 = 2;

/// jrule: typed customer-journey rules.
#[derive(Parser, Debug)]
#[command(name = "jrule", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log messages at LEVEL and above on stderr [default: `RUST_LOG` if set, else warn].
    #[arg(long, global = true, value_enum, value_name = "LEVEL")]
    log: Option<LogLevel>,
}

/// The levels of `--log`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and type-check a program; print every diagnostic.
    Check(check::CheckArgs),
    /// Replay events through a program; write decisions as JSON Lines.
    Run(run::RunArgs),
    /// Measure throughput, latency, allocations and memory.
    Bench(bench::BenchArgs),
    /// Draw the journeys' stage graphs, with the rules on their edges.
    Graph(graph::GraphArgs),
    /// For one event: every rule its signal triggers, and why it fired or not.
    Explain(explain::ExplainArgs),
    /// Run the `test` blocks written in the program's files.
    Test(test::TestArgs),
    /// Rewrite files in the canonical layout, keeping comments.
    Fmt(fmt::FmtArgs),
    /// Run as a worker of a Kafka consumer group (events in, decisions out).
    #[cfg(feature = "stream")]
    Stream(stream::StreamArgs),
}

impl Cli {
    /// True for the commands that report heap use (`bench`).
    pub fn measures_heap(&self) -> bool {
        matches!(self.command, Command::Bench(_))
    }

    /// Sends the library's `tracing` events to stderr, one plain line each
    /// (level, module, message; no time, no colour), at the level of
    /// `--log`, else as `RUST_LOG` says, else `warn` and above. Does
    /// nothing if a subscriber is installed already.
    pub fn install_logging(&self) {
        use tracing_subscriber::EnvFilter;
        let filter = match self.log {
            Some(level) => EnvFilter::new(match level {
                LogLevel::Error => "error",
                LogLevel::Warn => "warn",
                LogLevel::Info => "info",
                LogLevel::Debug => "debug",
                LogLevel::Trace => "trace",
            }),
            None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        };
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .without_time()
            .with_ansi(false)
            .try_init();
    }
}

/// Heap counters the binary's allocator keeps: allocations so far, and
/// bytes live now.
pub type HeapStats = fn() -> (u64, i64);

/// Output format of diagnostics.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Rendered like rustc, on stderr.
    #[default]
    Human,
    /// One JSON object on stdout.
    Json,
}

/// Runs a parsed command line; returns the exit status. `heap` reads the
/// allocator's counters, when the binary keeps them.
pub fn run(cli: Cli, heap: Option<HeapStats>) -> u8 {
    match cli.command {
        Command::Check(args) => check::run(
            &args,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
            colour(),
        ),
        Command::Run(args) => {
            run::run(&args, &mut std::io::stdout().lock(), &mut std::io::stderr())
        }
        Command::Bench(args) => {
            bench::run(&args, &mut std::io::stdout(), &mut std::io::stderr(), heap)
        }
        Command::Graph(args) => graph::run(&args, &mut std::io::stdout(), &mut std::io::stderr()),
        Command::Test(args) => test::run(&args, &mut std::io::stdout(), &mut std::io::stderr()),
        Command::Explain(args) => {
            explain::run(&args, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Fmt(args) => fmt::run(
            &args,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
            &mut std::io::stderr(),
            colour(),
        ),
        #[cfg(feature = "stream")]
        Command::Stream(args) => stream::run(&args, &mut std::io::stderr()),
    }
}

/// Colour on stderr only when it is a terminal and `NO_COLOR` is not set.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Reads the program's files; an unreadable file is an I/O problem, whose
/// message is returned.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>, String> {
    Source::read_all(paths).map_err(|e| e.to_string())
}
