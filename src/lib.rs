//! jrule: a typed language and embeddable engine for customer-journey rules.
#![forbid(unsafe_code)]

pub mod check;
pub mod diagnostic;
pub mod fmt;
pub mod ids;
pub mod source;
pub mod syntax;
pub mod types;

pub use check::{check, Checked};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity};
pub use source::{Source, SourceError, Span};

#[cfg(feature = "cli")]
pub mod cli;
pub mod compile;
pub mod graph;
pub mod testing;
pub mod time;
pub mod value;

pub use compile::{CompileError, Program};
pub mod engine;

pub use engine::{
    Carry, Decision, Engine, Event, EventBuilder, EventError, Metrics, State, StateError,
};
pub use value::Value;
pub mod reference;
#[cfg(feature = "stream")]
pub mod stream;
pub mod workload;
