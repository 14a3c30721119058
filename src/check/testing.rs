//! `test` blocks: the names, values and expected decisions they give.

use std::collections::HashMap;

use super::expr::Scope;
use super::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{Action, FieldValue, Test, TestEvent, TestStep};

impl Checker<'_> {
    /// Checks one test block; `seen` holds the names of the tests before it.
    pub(super) fn test(&mut self, test: &mut Test, seen: &mut HashMap<String, Span>) {
        let first = seen.get(&test.name).copied();
        if self.declare("test", first, &test.name, test.name_span) {
            seen.insert(test.name.clone(), test.name_span);
        }
        // What a test names is not a use: keep the unused-name lint honest.
        let (signals, actions) = (self.used_signals.clone(), self.used_actions.clone());
        for step in &mut test.steps {
            match step {
                TestStep::Customer { values, .. } => self.profile_values(values),
                TestStep::After(d) => self.positive(d, "`after`"),
                TestStep::Event(event) => self.test_event(event),
                TestStep::Expect {
                    decisions: Some(list),
                    ..
                } => {
                    for action in list {
                        self.expectation(action);
                    }
                }
                TestStep::Expect { .. } => {}
            }
        }
        self.used_signals = signals;
        self.used_actions = actions;
    }

    fn profile_values(&mut self, values: &mut [FieldValue]) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for v in values {
            let first = seen.get(&v.name.name).copied();
            if !self.declare("field", first, &v.name.name, v.name.span) {
                continue;
            }
            seen.insert(v.name.name.clone(), v.name.span);
            let Some(field) = self.symbols.customer.get(&v.name.name) else {
                let help = self
                    .suggest(
                        &v.name.name,
                        self.symbols.customer.keys().map(|s| s.as_str()),
                    )
                    .or_else(|| Some("declare it in the `customer` block".into()));
                self.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        v.name.span,
                        format!("the customer profile has no field `{}`", v.name.name),
                    )
                    .label("unknown field")
                    .maybe_help(help),
                );
                continue;
            };
            let ty = field.ty;
            let what = format!("profile field `{}`", v.name.name);
            self.check_value(&mut v.value, ty, &Scope::Test, &what);
        }
    }

    fn test_event(&mut self, event: &mut TestEvent) {
        if let Some(at) = &event.at {
            self.member(at, true);
        }
        if let Some(via) = &event.via {
            self.member(via, false);
        }
        if !self.signal(&event.signal) {
            return;
        }
        let Some(info) = self.symbols.signals.get(&event.signal.name) else {
            return;
        };
        let fields = info.fields.clone();
        let mut seen: HashMap<String, Span> = HashMap::new();
        for v in &mut event.values {
            let first = seen.get(&v.name.name).copied();
            if !self.declare("field", first, &v.name.name, v.name.span) {
                continue;
            }
            seen.insert(v.name.name.clone(), v.name.span);
            let Some(field) = fields.get(&v.name.name) else {
                let help = self.suggest(&v.name.name, fields.keys().map(|s| s.as_str()));
                self.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        v.name.span,
                        format!(
                            "signal `{}` has no field `{}`",
                            event.signal.name, v.name.name
                        ),
                    )
                    .label("unknown field")
                    .maybe_help(help),
                );
                continue;
            };
            let what = format!("field `{}`", v.name.name);
            self.check_value(&mut v.value, field.ty, &Scope::Test, &what);
        }
        let missing: Vec<&String> = fields
            .iter()
            .filter(|(name, f)| !f.optional && !seen.contains_key(*name))
            .map(|(name, _)| name)
            .collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.report(
                Diagnostic::new(
                    Code::Arity,
                    event.signal.span,
                    format!(
                        "an event `{}` needs {} {list}",
                        event.signal.name,
                        if missing.len() == 1 {
                            "field"
                        } else {
                            "fields"
                        }
                    ),
                )
                .label("fields missing")
                .help(format!(
                    "give them: `when {} {{ {} }}`",
                    event.signal.name,
                    missing
                        .iter()
                        .map(|m| format!("{m}: …"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }

    fn expectation(&mut self, action: &mut Action) {
        match action {
            Action::Call(call) => self.call(call, &Scope::Test),
            Action::Move { stage, .. } => {
                let known = self
                    .symbols
                    .journeys
                    .values()
                    .any(|j| j.stages.contains_key(&stage.name));
                if !known {
                    let all: Vec<&str> = self
                        .symbols
                        .journeys
                        .values()
                        .flat_map(|j| j.stages.keys().map(|s| s.as_str()))
                        .collect();
                    let help = self.suggest(&stage.name, all);
                    self.report(
                        Diagnostic::new(
                            Code::UnknownStage,
                            stage.span,
                            format!("no journey has a stage `{}`", stage.name),
                        )
                        .label("unknown stage")
                        .maybe_help(help),
                    );
                }
            }
            // The grammar allows only calls and moves here.
            Action::Split(_) | Action::Skip(_) => {}
        }
    }
}
