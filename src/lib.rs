//! jrule: a typed language and embeddable engine for customer-journey rules.
//!
//! The pipeline, each layer importing only the ones before it: [`source`],
//! [`diagnostic`], [`types`] and values → [`syntax`] (parse) → [`mod@check`]
//! (names, types, diagnostics; a program without errors is
//! [`Resolved`]) → compile ([`Program`]) → engine ([`Engine`]) → the tools
//! on top ([`fmt`], [`graph`]) → the command line.
//!
//! A host compiles a program and runs one engine per shard of customers:
//!
//! ```
//! use std::sync::Arc;
//! use jrule::{Engine, Event, Program, Source};
//!
//! let text = "signal hello\naction greet(name: text)\nwhen hello then greet(\"world\")";
//! let compiled = Program::compile(&[Source::new("hello.jr", text)])?;
//! assert_eq!(compiled.warnings.warnings(), 0);
//! let program = Arc::new(compiled.program);
//! let mut engine = Engine::new(Arc::clone(&program));
//! let line = r#"{"customer":"c1","signal":"hello","time":"2026-03-01T09:00:00Z"}"#;
//! let decisions = engine.process(&Event::from_json(&program, line)?)?;
//! assert_eq!(decisions[0].action(), "greet");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With `default-features = false` the library pulls no command-line,
//! allocator or terminal crates.
#![forbid(unsafe_code)]

pub mod check;
pub mod diagnostic;
pub mod fmt;
pub mod graph;
pub mod ids;
pub mod source;
pub mod store;
pub mod syntax;
pub mod time;
pub mod types;

mod compile;
mod engine;
mod runtime;
mod value;

pub use check::{check, Checked, Resolved};
pub use compile::{CompileError, Compiled, Program};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity};
pub use engine::{
    shard_of, Carry, Cause, Considered, CustomerState, Decision, Engine, Event, EventBuilder,
    EventError, Explanation, GoalCounts, Metrics, ProgramItem, RuleCounts, State, StateError,
    Verdict, WithCause,
};
pub use runtime::{LineOptions, PendingLines, ReloadError, ReloadPlan, Runtime};
pub use source::{Source, SourceError, Span};
pub use value::{Arg, Value};

/// The command line (`jrule`): not part of the library's API.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
/// The Kafka worker of `jrule stream`: not part of the library's API.
#[cfg(feature = "stream")]
#[doc(hidden)]
pub mod stream;

/// The reference interpreter, written straight from the language
/// description, that the engine is tested against (feature `harness`):
/// not part of the library's API.
#[cfg(feature = "harness")]
#[doc(hidden)]
pub mod reference;
/// The runner of a program's `test` blocks (`jrule test`; feature
/// `harness`): not part of the library's API.
#[cfg(feature = "harness")]
#[doc(hidden)]
pub mod testing;
/// Synthetic programs and events for benchmarks (`jrule bench`; feature
/// `harness`): not part of the library's API.
#[cfg(feature = "harness")]
#[doc(hidden)]
pub mod workload;
