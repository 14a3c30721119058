//! A reference interpreter: runs the checked syntax tree directly, written
//! from LANGUAGE.md, docs/language.md and docs/engine.md for clarity, not
//! speed. For every event it scans every rule; state lives in plain maps
//! keyed by names. It shares nothing with `compile` or `engine`, so the
//! differential tests (`tests/differential.rs`) can hold the two against
//! each other.
//!
//! ```
//! use jrule::{reference::Reference, Source};
//! let sources = [Source::new("p.jr", "signal hi\naction greet\nwhen hi then greet")];
//! let mut reference = Reference::new(&jrule::check(&sources), &sources);
//! let out = reference.process_line(r#"{"customer":"c1","signal":"hi","time":0}"#);
//! assert_eq!(
//!     out.unwrap(),
//!     [r#"{"time":"1970-01-01T00:00:00Z","customer":"c1","journey":null,"rule":"L3","action":"greet","args":{}}"#]
//! );
//! ```

mod eval;
mod event;
mod model;

#[doc(hidden)]
pub mod diff;
#[doc(hidden)]
pub mod gen;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value as Json};

use crate::check::Checked;
use crate::source::Source;
use crate::syntax::ast::{Action, Arm, Filtered, Split, Trigger};
use eval::{holds, EventView, Scope, Val};
use model::Model;

/// The reference interpreter of one checked program.
pub struct Reference {
    model: Model,
    /// The time of the last event or timer processed.
    clock: Option<i64>,
    customers: BTreeMap<String, Customer>,
    metrics: Metrics,
}

/// Everything kept about one customer.
#[derive(Default)]
struct Customer {
    /// Profile fields set by events (`None`: made absent).
    profile: BTreeMap<String, Option<Val>>,
    /// By journey number: where the customer is.
    journeys: BTreeMap<usize, InJourney>,
    /// `S within D after S2` rules: when a passing `S2` last happened.
    memory: BTreeMap<usize, i64>,
    /// Rules with a `limit`: the times they fired.
    caps: BTreeMap<usize, Vec<i64>>,
    /// `no … after` and `in … for` rules: the pending timer.
    timers: BTreeMap<usize, Timer>,
    /// By journey number: its split rules that assigned this customer an arm.
    exposures: BTreeMap<usize, BTreeSet<usize>>,
}

struct InJourney {
    stage: String,
    entered: i64,
    /// Goal numbers converted since entering.
    converted: BTreeSet<usize>,
}

struct Timer {
    deadline: i64,
    /// For `no … after S2`: the `S2` event, which `event.…` reads.
    event: Option<EventView>,
}

/// One output of a firing rule, before `requires`, `exclusive` and the
/// one-move-per-journey rule.
struct Out {
    rule: usize,
    arm: Option<String>,
    kind: OutKind,
}

enum OutKind {
    Call {
        action: String,
        args: Vec<(String, Json)>,
    },
    Move {
        journey: usize,
        to: String,
    },
}

#[derive(Default)]
struct Metrics {
    /// Per rule number: fired, capped, suppressed, excluded, errors, decisions.
    rules: BTreeMap<usize, [u64; 6]>,
    /// Per rule number and arm name: decisions.
    arms: BTreeMap<(usize, String), u64>,
    /// Per journey and stage: customers moved in.
    entered: BTreeMap<(usize, String), u64>,
    /// Per journey and goal number.
    goals: BTreeMap<(usize, usize), Conversions>,
}

#[derive(Default)]
struct Conversions {
    total: u64,
    by_stage: BTreeMap<String, u64>,
    /// Per split rule and arm name.
    by_arm: BTreeMap<(usize, String), u64>,
}

const FIRED: usize = 0;
const CAPPED: usize = 1;
const SUPPRESSED: usize = 2;
const EXCLUDED: usize = 3;
const ERRORS: usize = 4;
const DECISIONS: usize = 5;

impl Reference {
    /// The reference for a program that checked without errors; `sources`
    /// are the files it was checked from (unnamed rules are named by line).
    pub fn new(checked: &Checked, sources: &[Source]) -> Reference {
        Reference {
            model: Model::new(checked, sources),
            clock: None,
            customers: BTreeMap::new(),
            metrics: Metrics::default(),
        }
    }

    /// Processes one event (a JSON object): the decisions as JSON lines, or
    /// why the event was rejected (then nothing changed).
    pub fn process_line(&mut self, line: &str) -> Result<Vec<String>, String> {
        let event = event::parse(&self.model.symbols, line)?;
        let t = event.view.time;
        self.check_time(t)?;
        let mut out = self.fire_timers(t);
        self.clock = Some(t);
        self.event(event, &mut out);
        Ok(out)
    }

    /// Moves the clock to `t`, firing every timer due by then.
    pub fn advance_to(&mut self, t: i64) -> Result<Vec<String>, String> {
        self.check_time(t)?;
        let out = self.fire_timers(t);
        self.clock = Some(t);
        Ok(out)
    }

    fn check_time(&self, t: i64) -> Result<(), String> {
        match self.clock {
            Some(clock) if t < clock => Err(format!(
                "event at {} is older than the engine's clock {}: events must come in time order",
                crate::time::format_rfc3339(t),
                crate::time::format_rfc3339(clock)
            )),
            _ => Ok(()),
        }
    }

    /// Fires, one at a time, every timer due at or before `until`: by
    /// deadline, then customer id, then rule declaration order.
    fn fire_timers(&mut self, until: i64) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let due = self
                .customers
                .iter()
                .flat_map(|(id, c)| {
                    c.timers
                        .iter()
                        .map(move |(&r, timer)| (timer.deadline, id, r))
                })
                .filter(|&(deadline, _, _)| deadline <= until)
                .min();
            let Some((deadline, id, r)) = due else { break };
            let id = id.clone();
            self.clock = Some(self.clock.map_or(deadline, |c| c.max(deadline)));
            let Reference {
                model,
                customers,
                metrics,
                ..
            } = self;
            let cust = customers.get_mut(&id).expect("a timer's customer");
            let timer = cust.timers.remove(&r).expect("the due timer");
            let profile = cust.profile(model);
            let scope = Scope {
                profile: &profile,
                event: timer.event.as_ref(),
            };
            let mut outs = Vec::new();
            fire(model, metrics, cust, &id, r, &scope, deadline, &mut outs);
            resolve(model, metrics, cust, &id, deadline, outs, &mut out);
        }
        out
    }

    /// Steps 2 to 7 of docs/engine.md "Processing one event".
    fn event(&mut self, event: event::Event, out: &mut Vec<String>) {
        let Reference {
            model,
            customers,
            metrics,
            ..
        } = self;
        let id = event.customer;
        let ev = &event.view;
        let t = ev.time;
        let cust = customers.entry(id.clone()).or_default();
        cust.profile.extend(event.profile);
        // Goals.
        for (j, journey) in model.journeys.iter().enumerate() {
            let Some(state) = cust.journeys.get_mut(&j) else {
                continue;
            };
            for (g, (signal, within)) in journey.goals.iter().enumerate() {
                let in_time = i128::from(t) - i128::from(state.entered) <= i128::from(*within);
                if *signal == event.signal && in_time && state.converted.insert(g) {
                    let counts = metrics.goals.entry((j, g)).or_default();
                    counts.total += 1;
                    *counts.by_stage.entry(state.stage.clone()).or_default() += 1;
                    for &r in cust.exposures.get(&j).into_iter().flatten() {
                        for arm in arms_of(model, &id, r) {
                            *counts.by_arm.entry((r, arm)).or_default() += 1;
                        }
                    }
                }
            }
        }
        // Rules, in decision order, against the stages the event found.
        let profile = cust.profile(model);
        let scope = Scope {
            profile: &profile,
            event: Some(ev),
        };
        let mut outs = Vec::new();
        for &r in &model.order {
            let Trigger::Signal { event: s, after } = &model.rules[r].rule.trigger else {
                continue;
            };
            if s.signal.name != event.signal || !passes(s, ev) {
                continue;
            }
            if let Some((within, _)) = after {
                let recent = cust
                    .memory
                    .get(&r)
                    .is_some_and(|&when| i128::from(t) - i128::from(when) <= i128::from(within.ms));
                if !recent {
                    continue;
                }
            }
            fire(model, metrics, cust, &id, r, &scope, t, &mut outs);
        }
        resolve(model, metrics, cust, &id, t, outs, out);
        // Waits this event cancels, then those it (re)starts; then memories.
        for (r, def) in model.rules.iter().enumerate() {
            if let Trigger::Absence { absent, .. } = &def.rule.trigger {
                if absent.signal.name == event.signal && passes(absent, ev) {
                    cust.timers.remove(&r);
                }
            }
        }
        for (r, def) in model.rules.iter().enumerate() {
            if let Trigger::Absence { within, after, .. } = &def.rule.trigger {
                if after.signal.name == event.signal && passes(after, ev) {
                    let timer = Timer {
                        deadline: t.saturating_add_unsigned(within.ms),
                        event: Some(ev.clone()),
                    };
                    cust.timers.insert(r, timer);
                }
            }
        }
        for (r, def) in model.rules.iter().enumerate() {
            if let Trigger::Signal {
                after: Some((_, s2)),
                ..
            } = &def.rule.trigger
            {
                if s2.signal.name == event.signal && passes(s2, ev) {
                    cust.memory.insert(r, t);
                }
            }
        }
    }

    /// The counters as `jrule run --metrics` writes them: per rule in
    /// decision order (and per split arm), per journey in declaration order
    /// the customers moved into each stage and each goal's conversions (by
    /// stage, and by split rule and arm).
    pub fn metrics(&self) -> Json {
        let model = &self.model;
        let m = &self.metrics;
        let arms = |r: usize, count: &dyn Fn(&str) -> u64| -> Json {
            arm_names(model, r)
                .iter()
                .map(|a| (a.clone(), json!(count(a))))
                .collect()
        };
        let rules: Vec<Json> = model
            .order
            .iter()
            .map(|&r| {
                let def = &model.rules[r];
                let c = m.rules.get(&r).copied().unwrap_or_default();
                let mut o = json!({
                    "journey": def.journey.map(|j| &model.journeys[j].name),
                    "rule": def.name,
                    "fired": c[FIRED], "capped": c[CAPPED], "suppressed": c[SUPPRESSED],
                    "excluded": c[EXCLUDED], "errors": c[ERRORS], "decisions": c[DECISIONS],
                });
                if def.has_split() {
                    o["arms"] = arms(r, &|a| {
                        m.arms.get(&(r, a.to_string())).copied().unwrap_or(0)
                    });
                }
                o
            })
            .collect();
        let journeys: Vec<Json> = (model.journeys.iter().enumerate())
            .map(|(j, journey)| {
                let by_stage = |count: &dyn Fn(&str) -> u64| -> Json {
                    journey.stages.iter().map(|s| (s.clone(), json!(count(s)))).collect()
                };
                let goals: Vec<Json> = (journey.goals.iter().enumerate())
                    .map(|(g, (signal, _))| {
                        let none = Conversions::default();
                        let c = m.goals.get(&(j, g)).unwrap_or(&none);
                        let by_arm: serde_json::Map<String, Json> = (model.rules.iter().enumerate())
                            .filter(|(_, def)| def.journey == Some(j) && def.has_split())
                            .map(|(r, def)| {
                                let count = |a: &str| c.by_arm.get(&(r, a.to_string())).copied().unwrap_or(0);
                                (def.name.clone(), arms(r, &count))
                            })
                            .collect();
                        json!({
                            "signal": signal,
                            "conversions": c.total,
                            "by_stage": by_stage(&|s| c.by_stage.get(s).copied().unwrap_or(0)),
                            "by_arm": by_arm,
                        })
                    })
                    .collect();
                json!({
                    "journey": journey.name,
                    "entered": by_stage(&|s| m.entered.get(&(j, s.to_string())).copied().unwrap_or(0)),
                    "goals": goals,
                })
            })
            .collect();
        json!({ "rules": rules, "journeys": journeys })
    }
}

impl Customer {
    /// Every profile field: as last set, else its default, else absent.
    fn profile(&self, model: &Model) -> BTreeMap<String, Option<Val>> {
        let mut profile = model.defaults.clone();
        profile.extend(self.profile.clone());
        profile
    }

    fn stage(&self, journey: Option<usize>) -> Option<&str> {
        journey
            .and_then(|j| self.journeys.get(&j))
            .map(|s| s.stage.as_str())
    }
}

/// An event passes a filter when its place is one of the `at` (if any are
/// written) and its channel one of the `via` (likewise).
fn passes(f: &Filtered, ev: &EventView) -> bool {
    let member = |list: &[crate::syntax::ast::Ident], v: &Option<String>| {
        list.is_empty() || list.iter().any(|i| Some(&i.name) == v.as_ref())
    };
    member(&f.at, &ev.at) && member(&f.via, &ev.via)
}

/// A rule whose trigger matched: its `in` clause, `where`, `limit`, then
/// its actions. Counts what happened; pushes the firing's outputs.
#[allow(clippy::too_many_arguments)]
fn fire(
    model: &Model,
    metrics: &mut Metrics,
    cust: &mut Customer,
    customer: &str,
    r: usize,
    scope: &Scope<'_>,
    t: i64,
    outs: &mut Vec<Out>,
) {
    let def = &model.rules[r];
    let count = |metrics: &mut Metrics, what: usize| metrics.rules.entry(r).or_default()[what] += 1;
    if let Some(clause) = &def.rule.stages {
        let stage = cust.stage(def.journey);
        if !clause.stages.iter().any(|s| Some(s.name.as_str()) == stage) {
            return;
        }
    }
    if let Some(condition) = &def.rule.condition {
        match holds(condition, scope) {
            Ok(true) => {}
            Ok(false) => return,
            Err(_) => return count(metrics, ERRORS),
        }
    }
    if let Some(limit) = &def.rule.limit {
        // Firings in the window (t - D, t].
        let since = i128::from(t) - i128::from(limit.per.ms);
        let recent = cust.caps.get(&r).map_or(0, |times| {
            times.iter().filter(|&&x| i128::from(x) > since).count()
        });
        if recent as i64 >= limit.count {
            return count(metrics, CAPPED);
        }
    }
    let mut made = Vec::new();
    if actions(
        model,
        r,
        &def.rule.actions,
        None,
        scope,
        customer,
        &mut made,
    )
    .is_err()
    {
        return count(metrics, ERRORS);
    }
    count(metrics, FIRED);
    if def.rule.limit.is_some() {
        cust.caps.entry(r).or_default().push(t);
    }
    if let (Some(j), true) = (def.journey, def.has_split()) {
        cust.exposures.entry(j).or_default().insert(r);
    }
    outs.extend(made);
}

/// A rule's actions as outputs, in the order written.
fn actions(
    model: &Model,
    r: usize,
    list: &[Action],
    arm: Option<&str>,
    scope: &Scope<'_>,
    customer: &str,
    outs: &mut Vec<Out>,
) -> Result<(), eval::EvalError> {
    let def = &model.rules[r];
    for action in list {
        match action {
            Action::Skip(_) => {}
            Action::Move { stage, .. } => outs.push(Out {
                rule: r,
                arm: arm.map(str::to_string),
                kind: OutKind::Move {
                    journey: def.journey.expect("checked: moves are in journeys"),
                    to: stage.name.clone(),
                },
            }),
            Action::Call(call) => {
                let params = &model.symbols.actions[&call.name.name].params;
                let mut args = Vec::new();
                for (arg, (name, param)) in call.args.iter().zip(params) {
                    let value = eval::eval(arg, scope)?;
                    let json = value.map_or(Json::Null, |v| v.to_json(param.ty));
                    args.push((name.clone(), json));
                }
                outs.push(Out {
                    rule: r,
                    arm: arm.map(str::to_string),
                    kind: OutKind::Call {
                        action: call.name.name.clone(),
                        args,
                    },
                });
            }
            Action::Split(split) => {
                if let Some(a) = arm_for(split, bucket(model, customer, r)) {
                    let name = Some(a.name.name.as_str());
                    actions(model, r, &a.actions, name, scope, customer, outs)?;
                }
            }
        }
    }
    Ok(())
}

/// A customer's split bucket for a rule, 0..100: FNV-1a 64 of
/// `customer 0xFF journey 0xFF rule` (no journey for a top-level rule).
fn bucket(model: &Model, customer: &str, r: usize) -> u32 {
    let def = &model.rules[r];
    let journey = def.journey.map_or("", |j| &model.journeys[j].name);
    let rule = &def.name;
    let bytes = [
        customer.as_bytes(),
        &[0xFF],
        journey.as_bytes(),
        &[0xFF],
        rule.as_bytes(),
    ]
    .concat();
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (h % 100) as u32
}

/// The arm whose share of 0..100, in the order written, holds `bucket`.
fn arm_for(split: &Split, bucket: u32) -> Option<&Arm> {
    let mut high = 0;
    split.arms.iter().find(|a| {
        high += a.percent;
        bucket < high
    })
}

/// Every arm name of a rule's splits, in the order written.
fn arm_names(model: &Model, r: usize) -> Vec<String> {
    let mut names = Vec::new();
    for a in &model.rules[r].rule.actions {
        if let Action::Split(split) = a {
            for arm in &split.arms {
                if !names.contains(&arm.name.name) {
                    names.push(arm.name.name.clone());
                }
            }
        }
    }
    names
}

/// The arms a customer is assigned to by a rule's splits.
fn arms_of(model: &Model, customer: &str, r: usize) -> Vec<String> {
    let b = bucket(model, customer, r);
    (model.rules[r].rule.actions.iter())
        .filter_map(|a| match a {
            Action::Split(split) => arm_for(split, b).map(|a| a.name.name.clone()),
            _ => None,
        })
        .collect()
}

/// Applies `requires`, `exclusive` and one move per journey to a step's
/// outputs; emits the decisions; then makes the moves (step 7).
fn resolve(
    model: &Model,
    metrics: &mut Metrics,
    cust: &mut Customer,
    customer: &str,
    t: i64,
    outs: Vec<Out>,
    out: &mut Vec<String>,
) {
    let mut keep = vec![true; outs.len()];
    let profile = cust.profile(model);
    let consent = Scope {
        profile: &profile,
        event: None,
    };
    for (i, o) in outs.iter().enumerate() {
        if let OutKind::Call { action, .. } = &o.kind {
            if let Some(requires) = &model.actions[action].requires {
                if !holds(requires, &consent).unwrap_or(false) {
                    keep[i] = false;
                    metrics.rules.entry(o.rule).or_default()[SUPPRESSED] += 1;
                }
            }
        }
    }
    for (name, decl) in &model.actions {
        if !decl.exclusive {
            continue;
        }
        let of_action = |i: &usize| {
            keep[*i] && matches!(&outs[*i].kind, OutKind::Call { action, .. } if action == name)
        };
        let candidates: Vec<usize> = (0..outs.len()).filter(of_action).collect();
        // Highest priority, then declared first, then written first.
        let winner = candidates.iter().copied().min_by_key(|&i| {
            let r = outs[i].rule;
            (std::cmp::Reverse(model.rules[r].priority), r, i)
        });
        for i in candidates {
            if Some(i) != winner {
                keep[i] = false;
                metrics.rules.entry(outs[i].rule).or_default()[EXCLUDED] += 1;
            }
        }
    }
    let mut moves: Vec<(usize, Option<String>, String)> = Vec::new();
    for (i, o) in outs.iter().enumerate() {
        if let OutKind::Move { journey, to } = &o.kind {
            let from = cust.stage(Some(*journey));
            if moves.iter().any(|m| m.0 == *journey) || !model.journeys[*journey].allows(from, to) {
                keep[i] = false;
            } else {
                moves.push((*journey, from.map(str::to_string), to.clone()));
            }
        }
    }
    for (o, _) in outs.iter().zip(&keep).filter(|(_, k)| **k) {
        let def = &model.rules[o.rule];
        let (action, args) = match &o.kind {
            OutKind::Call { action, args } => (action.as_str(), args.clone()),
            OutKind::Move { journey, to } => {
                let from = moves
                    .iter()
                    .find(|m| m.0 == *journey)
                    .and_then(|m| m.1.clone());
                let args = vec![
                    ("from".to_string(), from.map_or(Json::Null, Json::from)),
                    ("to".to_string(), Json::from(to.as_str())),
                ];
                ("move", args)
            }
        };
        metrics.rules.entry(o.rule).or_default()[DECISIONS] += 1;
        if let Some(arm) = &o.arm {
            *metrics.arms.entry((o.rule, arm.clone())).or_default() += 1;
        }
        let journey = def.journey.map(|j| model.journeys[j].name.as_str());
        out.push(decision(
            t,
            customer,
            journey,
            &def.name,
            action,
            &args,
            o.arm.as_deref(),
        ));
    }
    for (j, _, to) in moves {
        match cust.journeys.get_mut(&j) {
            Some(state) => state.stage = to.clone(),
            None => {
                cust.journeys.insert(
                    j,
                    InJourney {
                        stage: to.clone(),
                        entered: t,
                        converted: BTreeSet::new(),
                    },
                );
            }
        }
        *metrics.entered.entry((j, to.clone())).or_default() += 1;
        // Every move restarts the journey's stay timers.
        for (r, def) in model.rules.iter().enumerate() {
            let Trigger::Stay {
                stage, duration, ..
            } = &def.rule.trigger
            else {
                continue;
            };
            if def.journey == Some(j) {
                cust.timers.remove(&r);
                if stage.name == to {
                    let deadline = t.saturating_add_unsigned(duration.ms);
                    cust.timers.insert(
                        r,
                        Timer {
                            deadline,
                            event: None,
                        },
                    );
                }
            }
        }
    }
}

/// A decision as one line of JSON, keys in the order of LANGUAGE.md §5.
fn decision(
    t: i64,
    customer: &str,
    journey: Option<&str>,
    rule: &str,
    action: &str,
    args: &[(String, Json)],
    arm: Option<&str>,
) -> String {
    let text = |s: &str| Json::from(s).to_string();
    let args: Vec<String> = args
        .iter()
        .map(|(k, v)| format!("{}:{v}", text(k)))
        .collect();
    let mut line = format!(
        "{{\"time\":{},\"customer\":{},\"journey\":{},\"rule\":{},\"action\":{},\"args\":{{{}}}",
        text(&crate::time::format_rfc3339(t)),
        text(customer),
        journey.map_or("null".to_string(), text),
        text(rule),
        text(action),
        args.join(",")
    );
    if let Some(arm) = arm {
        line.push_str(&format!(",\"arm\":{}", text(arm)));
    }
    line.push('}');
    line
}
