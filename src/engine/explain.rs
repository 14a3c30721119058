//! Why each rule did or did not fire for one event (`jrule explain`).
//!
//! An explanation is a process that records what it saw and changes
//! nothing: the event runs through the engine's own evaluation
//! ([`Engine::process`]'s code path) with an [`Observer`] that records each
//! rule's verdict, in an engine holding copies of only the customers the
//! event involves (its own, and those with timers due before it).

use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use super::customers::View;
use super::event::value_to_json;
use super::{Decision, Engine, Event, EventError};
use crate::compile::{FieldDef, Filter, Program, Read, Scope};
use crate::ids::{ChannelId, FieldId, PlaceId, RuleId, SignalId, StageId};
use crate::types::{Base, Ty};

/// What evaluating an event's rules reports as it goes. `()` records
/// nothing and compiles away ([`Engine::process`]); a `Record` keeps a
/// verdict per rule ([`Engine::explain`]).
pub(crate) trait Observer {
    /// Visit every rule of the event's signal, with nothing proven by the
    /// index, rather than only the index's candidates. The decisions are
    /// the same: a rule the index leaves out stops at a gate.
    const EVERY_RULE: bool = false;

    /// The customer's state as the event's rules see it (profile merged).
    fn found(&mut self, _customer: View<'_>) {}

    /// A rule stopped at a gate.
    fn stopped(&mut self, _rule: RuleId, _gate: Gate<'_>) {}

    /// A rule fired (its outputs may still be dropped: [`Dropped`]).
    fn fired(&mut self, _rule: RuleId) {}

    /// An output of a fired rule was dropped.
    fn dropped(&mut self, _rule: RuleId, _why: Dropped) {}
}

impl Observer for () {}

/// Where a rule stopped, in the order the gates are checked.
pub(crate) enum Gate<'a> {
    /// The `at` of this filter.
    Place(&'a Filter),
    /// The `via` of this filter.
    Channel(&'a Filter),
    /// No `S2` (this filter) within `D` (milliseconds) before the event.
    NoEarlier(i64, &'a Filter),
    /// The customer's stage in the rule's journey.
    Stage(Option<StageId>),
    /// The `where` was false, read in this scope.
    WhereFalse(&'a Scope<'a>),
    /// The `where` could not be evaluated in this scope.
    WhereError(&'a Scope<'a>),
    Capped,
    /// An action's argument could not be computed.
    StepError,
}

/// Why an output of a fired rule was dropped.
pub(crate) enum Dropped {
    /// A call, by its action's `requires`.
    Requires,
    /// A call, by `exclusive` for a higher-priority rule.
    Exclusive,
    /// A move: no such edge from the stage, or another rule moved first.
    Move,
}

/// What happened to one rule triggered by the event's signal.
///
/// Serialized as an object whose `reason` names the variant (`fired`,
/// `place`, `channel`, `no_earlier`, `stage`, `where_false`, `error`,
/// `capped`) beside the variant's fields; durations are in milliseconds,
/// `values` is an object from each path the `where` reads to the value it
/// read (`null`: absent):
///
/// ```json
/// {"reason":"where_false","condition":"event.nights >= 3","values":{"event.nights":2}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
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
    #[serde(rename = "place")]
    WrongPlace {
        /// The event's place.
        got: Option<String>,
        /// The rule's places.
        wanted: Vec<String>,
    },
    /// The event's channel is not one of the rule's `via`.
    #[serde(rename = "channel")]
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
    #[serde(rename = "stage")]
    WrongStage {
        /// The customer's stage (`None`: not in the journey).
        stage: Option<String>,
        /// The stages of the `in` clause.
        wanted: Vec<String>,
    },
    /// The `where` is false.
    WhereFalse {
        /// The `where` as written (runs of spaces made one).
        condition: String,
        /// Each `event.F` and `customer.F` it reads, in order of first
        /// appearance, with the value it read (`Null`: absent).
        #[serde(serialize_with = "as_object")]
        values: Vec<(String, Json)>,
    },
    /// The rule could not be evaluated (division by zero, overflow).
    Error {
        /// The `where` as written, when it is what failed; `None` when an
        /// action's argument failed.
        condition: Option<String>,
        /// What the failed `where` reads, as for
        /// [`WhereFalse`](Verdict::WhereFalse) (empty when an argument failed).
        #[serde(serialize_with = "as_object")]
        values: Vec<(String, Json)>,
    },
    /// `limit N per D` was reached.
    Capped {
        /// `N`.
        count: usize,
        /// `D` in milliseconds.
        per: i64,
    },
}

/// One rule and its verdict. Serialized as `{"rule": …}` beside the
/// verdict's own fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Considered {
    /// `journey/rule`, or `rule` at top level.
    pub rule: String,
    /// What happened.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Everything `jrule explain` shows for one event.
///
/// Serialized as one object: `timers` and `decisions` are arrays of
/// decisions as [`Decision`] serializes them, `rules` an array of
/// [`Considered`], and `stages` (journey to stage or `null`), `event`
/// (field to value) and `profile` (field to value or `null`) are objects
/// in declaration order:
///
/// ```json
/// {"timers":[],"decisions":[],
///  "rules":[{"rule":"stay/long","reason":"where_false","condition":"event.nights >= 3","values":{"event.nights":2}}],
///  "stages":{"stay":"booked"},"event":{"nights":2},"profile":{"tier":"gold"}}
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// Decisions of timers that fell due before the event.
    pub timers: Vec<Decision>,
    /// The event's own decisions.
    pub decisions: Vec<Decision>,
    /// Every rule the event's signal triggers, in decision order.
    pub rules: Vec<Considered>,
    /// The customer's stage in each journey, as the event found it.
    #[serde(serialize_with = "as_object")]
    pub stages: Vec<(String, Option<String>)>,
    /// The event's fields (absent ones left out).
    #[serde(serialize_with = "as_object")]
    pub event: Vec<(String, Json)>,
    /// The customer's profile with the event's `profile` merged.
    #[serde(serialize_with = "as_object")]
    pub profile: Vec<(String, Json)>,
}

/// Pairs as one object, in their order.
fn as_object<S: Serializer, V: Serialize>(pairs: &[(String, V)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

impl Engine {
    /// Explains one event: runs it through the engine's own evaluation,
    /// recording for every rule its signal triggers whether it fired and
    /// if not, why, without changing this engine. Its cost is that of
    /// processing the event plus copying the customers it involves (its
    /// own, and those with timers due before it), whatever the number of
    /// customers. The decisions and timer decisions are exactly what
    /// [`process`](Engine::process) would give.
    pub fn explain(&self, event: &Event) -> Result<Explanation, EventError> {
        let mut run = self.involving(&event.customer, self.accept(event)?);
        let mut record = Record {
            program: &self.program,
            signal: event.signal,
            at: event.at,
            via: event.via,
            rules: Vec::new(),
            stages: Vec::new(),
            profile: Vec::new(),
        };
        let mut out = Vec::new();
        run.process_seen(event, &mut out, &mut record)?;
        let (timers, decisions): (Vec<_>, Vec<_>) =
            out.into_iter().partition(|d| d.timer.is_some());
        let p = &*self.program;
        let rules = record
            .rules
            .into_iter()
            .map(|(id, mut verdict)| {
                if let Verdict::Fired { decisions: n, .. } = &mut verdict {
                    *n = decisions.iter().filter(|d| d.rule == id).count() as u64;
                }
                Considered {
                    rule: p.rules[id].qualified.to_string(),
                    verdict,
                }
            })
            .collect();
        let names = &p.names;
        let event_fields = names.signals[event.signal]
            .fields
            .iter()
            .zip(&event.data)
            .filter_map(|(f, v)| {
                v.as_ref()
                    .map(|v| (f.name.to_string(), value_to_json(f.ty, v, names)))
            })
            .collect();
        Ok(Explanation {
            timers,
            decisions,
            rules,
            stages: record.stages,
            event: event_fields,
            profile: record.profile,
        })
    }

    /// A scratch engine holding copies of only the customers an event of
    /// `customer` processed at `until` involves: that customer, and those
    /// with timers due by then (which fire first). Same clock and lateness.
    fn involving(&self, customer: &str, until: i64) -> Engine {
        let mut run = Engine::new(Arc::clone(&self.program));
        run.clock = self.clock;
        run.lateness = self.lateness;
        let mut slots: Vec<u32> = self
            .timers
            .iter()
            .take_while(|k| k.0 <= until)
            .map(|k| k.1)
            .chain(self.customers.find(customer))
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let Engine {
            program,
            customers,
            timers,
            ..
        } = &mut run;
        for slot in slots {
            if let Some(copy) = customers.copy_from(&self.customers, slot) {
                for timer in customers.view(copy).timers() {
                    timers.insert((timer.deadline, copy, program.rules[timer.rule].declared));
                }
            }
        }
        run
    }
}

/// The observer of an explanation: a verdict per rule, in the order the
/// rules were considered (decision order), and the state they saw.
struct Record<'p> {
    program: &'p Program,
    signal: SignalId,
    at: Option<PlaceId>,
    via: Option<ChannelId>,
    rules: Vec<(RuleId, Verdict)>,
    stages: Vec<(String, Option<String>)>,
    profile: Vec<(String, Json)>,
}

impl Record<'_> {
    /// The `where` of a rule as written, and the values it reads in `scope`.
    fn condition(&self, rule: RuleId, scope: &Scope<'_>) -> (String, Vec<(String, Json)>) {
        let Some(written) = &self.program.written[rule] else {
            return (String::new(), Vec::new());
        };
        let values = written
            .reads
            .iter()
            .map(|&read| self.value(read, scope))
            .collect();
        (written.text.to_string(), values)
    }

    /// A path as written (`event.room`), and what it reads in `scope`, as
    /// JSON (`Null`: absent).
    fn value(&self, read: Read, scope: &Scope<'_>) -> (String, Json) {
        let names = &self.program.names;
        let field = |fields: &[FieldDef], f: FieldId| {
            fields
                .get(f.index())
                .map_or(("?".to_string(), Ty::UNKNOWN), |d| {
                    (d.name.to_string(), d.ty)
                })
        };
        let (name, ty) = match read {
            Read::Event(f) => {
                let (name, ty) = field(&names.signals[self.signal].fields, f);
                (format!("event.{name}"), ty)
            }
            Read::Customer(f) => {
                let (name, ty) = field(&names.customer, f);
                (format!("customer.{name}"), ty)
            }
            Read::EventAt => ("event.at".to_string(), Ty::scalar(Base::Place)),
            Read::EventVia => ("event.via".to_string(), Ty::scalar(Base::Channel)),
            Read::EventTime => ("event.time".to_string(), Ty::INT),
        };
        let expr = read.expr();
        let value = match expr.eval(scope).and_then(|v| v.to_value(scope)) {
            Ok(Some(v)) => value_to_json(ty, &v, names),
            _ => Json::Null,
        };
        (name, value)
    }
}

impl Observer for Record<'_> {
    const EVERY_RULE: bool = true;

    fn found(&mut self, customer: View<'_>) {
        let p = self.program;
        self.stages = p
            .journeys
            .iter_ids()
            .map(|(j, def)| {
                let stage = customer.stage(j).map(|s| def.stages[s].to_string());
                (def.name.to_string(), stage)
            })
            .collect();
        let profile = customer.profile().unwrap_or(&p.default_profile);
        self.profile = p
            .names
            .customer
            .iter()
            .zip(profile)
            .map(|(f, v)| {
                let value = v
                    .as_ref()
                    .map_or(Json::Null, |v| value_to_json(f.ty, v, &p.names));
                (f.name.to_string(), value)
            })
            .collect();
    }

    fn stopped(&mut self, rule: RuleId, gate: Gate<'_>) {
        let p = self.program;
        let names = &p.names;
        let def = &p.rules[rule];
        let place = |at: PlaceId| names.places[at.index()].to_string();
        let channel = |via: ChannelId| names.channels[via.index()].to_string();
        let verdict = match gate {
            Gate::Place(filter) => Verdict::WrongPlace {
                got: self.at.map(place),
                wanted: filter.at.iter().copied().map(place).collect(),
            },
            Gate::Channel(filter) => Verdict::WrongChannel {
                got: self.via.map(channel),
                wanted: filter.via.iter().copied().map(channel).collect(),
            },
            Gate::NoEarlier(within, earlier) => Verdict::NoEarlier {
                signal: names.signals[earlier.signal].name.to_string(),
                within,
            },
            Gate::Stage(stage) => {
                let journey = def.journey.map(|j| &p.journeys[j]);
                Verdict::WrongStage {
                    stage: journey.zip(stage).map(|(j, s)| j.stages[s].to_string()),
                    wanted: journey
                        .zip(def.stages.as_ref())
                        .map(|(j, list)| list.iter().map(|&s| j.stages[s].to_string()).collect())
                        .unwrap_or_default(),
                }
            }
            Gate::WhereFalse(scope) => {
                let (condition, values) = self.condition(rule, scope);
                Verdict::WhereFalse { condition, values }
            }
            Gate::WhereError(scope) => {
                let (condition, values) = self.condition(rule, scope);
                Verdict::Error {
                    condition: Some(condition),
                    values,
                }
            }
            Gate::Capped => {
                let (count, per) = def.limit.unwrap_or_default();
                Verdict::Capped { count, per }
            }
            Gate::StepError => Verdict::Error {
                condition: None,
                values: Vec::new(),
            },
        };
        self.rules.push((rule, verdict));
    }

    fn fired(&mut self, rule: RuleId) {
        self.rules.push((
            rule,
            Verdict::Fired {
                decisions: 0,
                suppressed: 0,
                excluded: 0,
                move_dropped: false,
            },
        ));
    }

    fn dropped(&mut self, rule: RuleId, why: Dropped) {
        let Some((
            _,
            Verdict::Fired {
                suppressed,
                excluded,
                move_dropped,
                ..
            },
        )) = self.rules.iter_mut().rev().find(|(r, _)| *r == rule)
        else {
            return;
        };
        match why {
            Dropped::Requires => *suppressed += 1,
            Dropped::Exclusive => *excluded += 1,
            Dropped::Move => *move_dropped = true,
        }
    }
}
