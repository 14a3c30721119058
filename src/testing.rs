//! Running the `test` blocks of a program (`jrule test`).
//!
//! Each test runs on a fresh engine, starting at 2026-01-01T00:00:00Z with
//! the customer `customer` (or the id its `customer "…"` step gives). A
//! `customer { … }` step's fields are merged into the profile of the next
//! event; `after D` moves the clock on, firing the timers due; `when …` is
//! an event at the current time. A `then` compares the decisions made since
//! the previous `then` (or the start), exactly and in order.

use std::sync::Arc;

use crate::check::Checked;
use crate::compile::Scope;
use crate::engine::{Arg, Decision, Engine, EventBuilder};
use crate::source::Source;
use crate::syntax::ast::{Action, Expr, FieldValue, Item, Test, TestStep};
use crate::value::Value;
use crate::Program;

/// When every test starts: 2026-01-01T00:00:00Z, in ms since the epoch.
pub const START: i64 = 1_767_225_600_000;

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The test's name.
    pub name: String,
    /// Where it is written: file, line, column.
    pub file: String,
    /// 1-based line of `test`.
    pub line: usize,
    /// `None` when it passed.
    pub failure: Option<Failure>,
}

/// Where and how a test failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// 1-based line of the failing step.
    pub line: usize,
    /// What failed, e.g. "`then` at 2026-01-02T00:00:00Z: the decisions differ".
    pub message: String,
    /// The decisions expected, as `send(channel: "sms")` / `move to arrived`.
    pub expected: Vec<String>,
    /// The decisions made.
    pub actual: Vec<String>,
}

/// Runs every test of a program that checked clean.
pub fn run(sources: &[Source], checked: &Checked, program: &Arc<Program>) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (m, module) in checked.modules.iter().enumerate() {
        for item in &module.items {
            if let Item::Test(test) = item {
                let source = &sources[m];
                let line = source.line_col(test.keyword.start as usize).0;
                out.push(Outcome {
                    name: test.name.clone(),
                    file: source.name.clone(),
                    line,
                    failure: run_one(source, checked, program, test).err(),
                });
            }
        }
    }
    out
}

fn run_one(
    source: &Source,
    checked: &Checked,
    program: &Arc<Program>,
    test: &Test,
) -> Result<(), Failure> {
    let mut engine = Engine::new(Arc::clone(program));
    let mut customer = "customer".to_string();
    let mut profile: Vec<(String, Value)> = Vec::new();
    let mut time = START;
    let mut made: Vec<Decision> = Vec::new();
    let line = |span: crate::source::Span| source.line_col(span.start as usize).0;
    let fail = |line: usize, message: String| Failure {
        line,
        message,
        expected: Vec::new(),
        actual: Vec::new(),
    };
    for step in &test.steps {
        match step {
            TestStep::Customer { id, values, .. } => {
                if let Some((id, _)) = id {
                    customer = id.clone();
                }
                for v in values {
                    profile.retain(|(n, _)| *n != v.name.name);
                    profile.push((v.name.name.clone(), constant(checked, &v.value)));
                }
            }
            TestStep::After(d) => {
                time = time.saturating_add(d.ms as i64);
                let fired = engine
                    .advance_to(time)
                    .map_err(|e| fail(line(d.span), format!("`after`: {e}")))?;
                made.extend(fired);
            }
            TestStep::Event(event) => {
                let rejected = |e: crate::EventError| {
                    fail(line(event.span), format!("the event was rejected: {e}"))
                };
                let mut b = EventBuilder::new(program, &customer, &event.signal.name, time)
                    .map_err(rejected)?;
                if let Some(at) = &event.at {
                    b = b.at(&at.name).map_err(rejected)?;
                }
                if let Some(via) = &event.via {
                    b = b.via(&via.name).map_err(rejected)?;
                }
                for FieldValue { name, value, .. } in &event.values {
                    b = b
                        .field(&name.name, constant(checked, value))
                        .map_err(rejected)?;
                }
                for (name, value) in profile.drain(..) {
                    b = b.profile(&name, Some(value)).map_err(rejected)?;
                }
                let e = b.build().map_err(rejected)?;
                made.extend(engine.process(&e).map_err(rejected)?);
            }
            TestStep::Expect {
                keyword, decisions, ..
            } => {
                let expected: Vec<String> = decisions
                    .iter()
                    .flatten()
                    .map(|a| expectation(checked, program, a))
                    .collect();
                let actual: Vec<String> = made.iter().map(render).collect();
                made.clear();
                if expected != actual {
                    let at = line(*keyword);
                    return Err(Failure {
                        line: at,
                        message: format!(
                            "`then` at {}: the decisions differ",
                            crate::time::format_rfc3339(time)
                        ),
                        expected,
                        actual,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The value of a constant expression (the checker made sure it is one).
fn constant(checked: &Checked, e: &Expr) -> Value {
    let scope = Scope::without_event(START, &[]);
    crate::check::resolved::constant(&checked.symbols, e)
        .and_then(|c| c.eval(&scope).and_then(|v| v.to_value(&scope)).ok())
        .flatten()
        .unwrap_or(Value::Bool(false))
}

/// An expected decision, written as [`render`] writes a decision.
fn expectation(checked: &Checked, program: &Program, action: &Action) -> String {
    match action {
        Action::Move { stage, .. } => format!("move to {}", stage.name),
        Action::Call(call) => {
            let params = checked
                .symbols
                .actions
                .get(&call.name.name)
                .map(|a| a.params.iter().collect::<Vec<_>>())
                .unwrap_or_default();
            let args: Vec<String> = params
                .iter()
                .zip(&call.args)
                .map(|((name, field), e)| {
                    let arg = program.names.arg(field.ty, &constant(checked, e));
                    format!("{name}: {}", show(&arg))
                })
                .collect();
            format!("{}({})", call.name.name, args.join(", "))
        }
        Action::Split(_) | Action::Skip(_) => String::new(),
    }
}

/// A decision as a test writes it: `send(channel: "sms")`, `move to arrived`.
pub fn render(d: &Decision) -> String {
    if d.is_move() {
        let to =
            d.args()
                .iter()
                .find(|(k, _)| &**k == "to")
                .map_or(String::new(), |(_, v)| match v {
                    Arg::Text(t) => t.to_string(),
                    other => show(other),
                });
        return format!("move to {to}");
    }
    let args: Vec<String> = d
        .args()
        .iter()
        .map(|(k, v)| format!("{k}: {}", show(v)))
        .collect();
    format!("{}({})", d.action(), args.join(", "))
}

/// An argument as JSON, but a duration as the language writes it.
fn show(arg: &Arg) -> String {
    match arg {
        Arg::Duration(ms) => crate::time::format_duration(*ms),
        Arg::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}
