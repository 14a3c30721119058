//! Why each rule did or did not fire for one event (`jrule explain`).
//!
//! The event runs through a copy of the engine, so what fired, was capped,
//! suppressed or excluded is what the engine did, read from its counters;
//! the rules that did not fire are then checked gate by gate, in the order
//! the engine checks them, against the state the event found.

use serde_json::Value as Json;

use super::event::value_to_json;
use super::{Decision, Engine, Event, EventError};
use crate::compile::{Scope, Step, TriggerDef};
use crate::ids::JourneyId;

/// What happened to one rule triggered by the event's signal.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Verdict {
    /// It fired and made `decisions`; `suppressed` and `excluded` count
    /// its calls that `requires` and `exclusive` dropped; `move_dropped`
    /// when its move was not made (no such edge from the customer's stage,
    /// or another rule moved first).
    Fired {
        /// Decisions it made.
        decisions: u64,
        /// Calls dropped because the action's `requires` was false.
        suppressed: u64,
        /// Calls dropped by `exclusive` for a higher-priority rule.
        excluded: u64,
        /// Its move was not made.
        move_dropped: bool,
    },
    /// The event's place is not one of the rule's `at`.
    WrongPlace {
        /// The event's place.
        got: Option<String>,
        /// The rule's places.
        wanted: Vec<String>,
    },
    /// The event's channel is not one of the rule's `via`.
    WrongChannel {
        /// The event's channel.
        got: Option<String>,
        /// The rule's channels.
        wanted: Vec<String>,
    },
    /// `S within D after S2`: no `S2` within `D` before the event.
    NoEarlier {
        /// `S2`.
        signal: String,
        /// `D` in milliseconds.
        within: i64,
    },
    /// The customer's stage is not one of the rule's `in` clause.
    WrongStage {
        /// The customer's stage (`None`: not in the journey).
        stage: Option<String>,
        /// The stages of the `in` clause.
        wanted: Vec<String>,
    },
    /// The `where` is false.
    WhereFalse,
    /// The `where` could not be evaluated (division by zero, overflow).
    Error,
    /// `limit N per D` was reached.
    Capped {
        /// `N`.
        count: usize,
        /// `D` in milliseconds.
        per: i64,
    },
}

/// One rule and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Considered {
    /// `journey/rule`, or `rule` at top level.
    pub rule: String,
    /// What happened.
    pub verdict: Verdict,
}

/// Everything `jrule explain` shows for one event.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// Decisions of timers that fell due before the event.
    pub timers: Vec<Decision>,
    /// The event's own decisions.
    pub decisions: Vec<Decision>,
    /// Every rule the event's signal triggers, in decision order.
    pub rules: Vec<Considered>,
    /// The customer's stage in each journey, as the event found it.
    pub stages: Vec<(String, Option<String>)>,
    /// The event's fields (absent ones left out).
    pub event: Vec<(String, Json)>,
    /// The customer's profile with the event's `profile` merged.
    pub profile: Vec<(String, Json)>,
}

impl Engine {
    /// Runs one event through a copy of this engine and explains, for
    /// every rule its signal triggers, whether it fired and if not, why.
    /// The engine itself is not changed.
    pub fn explain(&self, event: &Event) -> Result<Explanation, EventError> {
        let mut run = self.clone();
        let timers = run.advance_to(event.time)?;
        let before = run.metrics();
        // The state the event finds, profile merged.
        let p = &*self.program;
        let names = &p.names;
        let view = run
            .customers
            .find(&event.customer)
            .map(|slot| run.customers.view(slot));
        let mut profile: Vec<_> = view
            .and_then(|v| v.profile())
            .map_or_else(|| p.default_profile.clone(), |x| x.to_vec());
        for (i, v) in &event.profile {
            profile[i.index()] = v.clone();
        }
        let stage_of = |j: JourneyId| view.and_then(|v| v.stage(j));
        let stages = p
            .journeys
            .iter_ids()
            .map(|(j, def)| {
                let stage = stage_of(j).map(|s| def.stages[s].to_string());
                (def.name.to_string(), stage)
            })
            .collect();
        let scope = Scope {
            data: &event.data,
            at: event.at,
            via: event.via,
            time: event.time,
            event_time: event.time,
            profile: &profile,
        };
        let mut rules = Vec::new();
        for (id, rule) in p.rules.iter_ids() {
            let TriggerDef::Signal {
                event: filter,
                after,
            } = &rule.trigger
            else {
                continue;
            };
            if filter.signal != event.signal {
                continue;
            }
            let named = |i: usize, all: &[std::sync::Arc<str>]| all[i].to_string();
            let verdict = if !filter.at.is_empty()
                && !event.at.is_some_and(|a| filter.at.contains(&a))
            {
                Verdict::WrongPlace {
                    got: event.at.map(|p| named(p.index(), &names.places)),
                    wanted: filter
                        .at
                        .iter()
                        .map(|p| named(p.index(), &names.places))
                        .collect(),
                }
            } else if !filter.via.is_empty() && !event.via.is_some_and(|c| filter.via.contains(&c))
            {
                Verdict::WrongChannel {
                    got: event.via.map(|c| named(c.index(), &names.channels)),
                    wanted: filter
                        .via
                        .iter()
                        .map(|c| named(c.index(), &names.channels))
                        .collect(),
                }
            } else if let Some((within, earlier)) = after.as_ref().filter(|(within, _)| {
                view.and_then(|v| v.remembered(id))
                    .is_none_or(|when| event.time.saturating_sub(when) > *within)
            }) {
                Verdict::NoEarlier {
                    signal: names.signals[earlier.signal].name.to_string(),
                    within: *within,
                }
            } else if !rule.in_stage(rule.journey.and_then(stage_of)) {
                let def = rule.journey.map(|j| &p.journeys[j]);
                Verdict::WrongStage {
                    stage: def
                        .zip(rule.journey.and_then(stage_of))
                        .map(|(d, s)| d.stages[s].to_string()),
                    wanted: def
                        .zip(rule.stages.as_ref())
                        .map(|(d, list)| list.iter().map(|&s| d.stages[s].to_string()).collect())
                        .unwrap_or_default(),
                }
            } else {
                Verdict::WhereFalse
            };
            rules.push(Considered {
                rule: rule.qualified.to_string(),
                verdict,
            });
        }
        let decisions = run.process(event)?;
        let after = run.metrics();
        for c in &mut rules {
            let Some(&id) = p.rule_ids.get(c.rule.as_str()) else {
                continue;
            };
            let rule = &p.rules[id];
            let (a, b) = (&before.rules[id.index()], &after.rules[id.index()]);
            if b.fired > a.fired {
                let moves = rule.steps.iter().any(|s| matches!(s, Step::Move { .. }));
                let moved = decisions.iter().any(|d| d.rule == id && d.action.is_none());
                c.verdict = Verdict::Fired {
                    decisions: b.decisions - a.decisions,
                    suppressed: b.suppressed - a.suppressed,
                    excluded: b.excluded - a.excluded,
                    move_dropped: moves && !moved,
                };
            } else if b.capped > a.capped {
                let (count, per) = rule.limit.unwrap_or_default();
                c.verdict = Verdict::Capped { count, per };
            } else if b.errors > a.errors {
                c.verdict = Verdict::Error;
            } else if c.verdict == Verdict::WhereFalse {
                // Every gate before the `where` passed and the rule did not
                // fire: its `where` was false (or could not be evaluated).
                if let Some(condition) = &rule.condition {
                    if condition.holds(&scope).is_err() {
                        c.verdict = Verdict::Error;
                    }
                }
            }
        }
        let event_fields = names.signals[event.signal]
            .fields
            .iter()
            .zip(&event.data)
            .filter_map(|(f, v)| {
                v.as_ref()
                    .map(|v| (f.name.to_string(), value_to_json(f.ty, v, names)))
            })
            .collect();
        let profile = names
            .customer
            .iter()
            .zip(&profile)
            .map(|(f, v)| {
                (
                    f.name.to_string(),
                    v.as_ref()
                        .map_or(Json::Null, |v| value_to_json(f.ty, v, names)),
                )
            })
            .collect();
        Ok(Explanation {
            timers,
            decisions,
            rules,
            stages,
            event: event_fields,
            profile,
        })
    }
}
