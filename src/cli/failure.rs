//! What a command reports when it fails: a message and, for the library's
//! typed errors, their stable code, printed as `error[CODE]: message`
//! (without a code, `error: message`).

use std::fmt;

/// A failure of a command, reported on one `error` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The code of the error's kind (`jrule::state_corrupt`), if it has one.
    pub code: Option<&'static str>,
    /// The message, one line.
    pub message: String,
}

impl Failure {
    /// A failure of a kind with a stable code.
    pub fn coded(code: &'static str, message: String) -> Failure {
        Failure {
            code: Some(code),
            message,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            code: None,
            message,
        }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::from(message.to_string())
    }
}

/// The `error` line, without its line break.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "error[{code}]: {}", self.message),
            None => write!(f, "error: {}", self.message),
        }
    }
}

/// The label of a rejected event's line: `event rejected[CODE]`.
pub(crate) fn rejected(code: &str) -> String {
    format!("event rejected[{code}]")
}

/// The code of an event line longer than `jrule run` reads.
pub const LINE_TOO_LONG: &str = "jrule::event_too_long";
