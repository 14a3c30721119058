//! Saving and restoring an engine's state.
//!
//! The state is a JSON document, format `jrule-state` version 1, that names
//! journeys, stages, rules (`journey/rule`, or `rule` at top level) and
//! fields by name, so that it stays readable and is checked against the
//! program on restore. Times are milliseconds since the epoch. See
//! `docs/engine.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::event::{value_from_json, value_to_json};
use super::{Engine, JourneyState, Metrics, TimerEvent};
use crate::compile::{Program, TriggerDef};

const FORMAT: &str = "jrule-state";
const VERSION: u32 = 1;

/// Why a state could not be restored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(String);

/// A saved engine state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    format: String,
    version: u32,
    clock: Option<i64>,
    customers: Vec<CustomerState>,
    metrics: MetricsState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerState {
    id: String,
    profile: Option<BTreeMap<String, Json>>,
    journeys: Vec<JourneyEntry>,
    memory: Vec<RuleTime>,
    caps: Vec<CapEntry>,
    timers: Vec<TimerEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JourneyEntry {
    journey: String,
    stage: String,
    entered: i64,
    since: i64,
    converted: Vec<usize>,
    exposures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleTime {
    rule: String,
    time: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapEntry {
    rule: String,
    times: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimerEntry {
    rule: String,
    deadline: i64,
    event: Option<StoredEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredEvent {
    time: i64,
    at: Option<String>,
    via: Option<String>,
    data: BTreeMap<String, Json>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsState {
    rules: Vec<RuleMetrics>,
    stages: Vec<StageMetrics>,
    goals: Vec<GoalMetrics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleMetrics {
    rule: String,
    counts: [u64; 6],
    arms: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageMetrics {
    journey: String,
    entered: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalMetrics {
    journey: String,
    goal: usize,
    conversions: u64,
    by_stage: Vec<u64>,
    by_arm: Vec<(String, Vec<u64>)>,
}

impl State {
    /// The state as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a state from JSON text; a truncated or corrupt text is an error.
    pub fn from_json(text: &str) -> Result<State, StateError> {
        let state: State =
            serde_json::from_str(text).map_err(|e| StateError(format!("malformed state: {e}")))?;
        if state.format != FORMAT {
            return Err(StateError(format!(
                "not a jrule state (format `{}`)",
                state.format
            )));
        }
        if state.version != VERSION {
            return Err(StateError(format!(
                "state version {} is not supported (this jrule reads version {VERSION})",
                state.version
            )));
        }
        Ok(state)
    }
}

impl State {
    /// Splits the state among `n` engines that each own the customers
    /// [`shard_of`] gives them; the counters go to the first.
    pub fn split(&self, n: usize) -> Vec<State> {
        let mut parts: Vec<State> = (0..n.max(1))
            .map(|i| State {
                customers: Vec::new(),
                metrics: if i == 0 {
                    self.metrics.clone()
                } else {
                    zero(&self.metrics)
                },
                ..self.clone_empty()
            })
            .collect();
        let n = parts.len();
        for c in &self.customers {
            parts[shard_of(&c.id, n)].customers.push(c.clone());
        }
        parts
    }

    /// Joins the states of engines that shared the customers out; the
    /// inverse of [`split`](State::split).
    pub fn merge(parts: &[State]) -> Option<State> {
        let first = parts.first()?;
        let mut all = State {
            customers: Vec::new(),
            ..first.clone_empty()
        };
        all.metrics = first.metrics.clone();
        for part in parts {
            all.customers.extend(part.customers.iter().cloned());
            all.clock = all.clock.max(part.clock);
        }
        for part in &parts[1..] {
            add_metrics(&mut all.metrics, &part.metrics);
        }
        all.customers.sort_by(|a, b| a.id.cmp(&b.id));
        Some(all)
    }

    fn clone_empty(&self) -> State {
        State {
            format: self.format.clone(),
            version: self.version,
            clock: self.clock,
            customers: Vec::new(),
            metrics: zero(&self.metrics),
        }
    }
}

/// The engine (of `n`) that owns a customer: FNV-1a 64 of the id, modulo
/// `n`. Stable on every run and machine.
pub fn shard_of(customer: &str, n: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in customer.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % n.max(1) as u64) as usize
}

fn zero(m: &MetricsState) -> MetricsState {
    let mut z = m.clone();
    for r in &mut z.rules {
        r.counts = [0; 6];
        r.arms.iter_mut().for_each(|x| *x = 0);
    }
    for s in &mut z.stages {
        s.entered.values_mut().for_each(|x| *x = 0);
    }
    for g in &mut z.goals {
        g.conversions = 0;
        g.by_stage.iter_mut().for_each(|x| *x = 0);
        g.by_arm
            .iter_mut()
            .for_each(|(_, v)| v.iter_mut().for_each(|x| *x = 0));
    }
    z
}

fn add_metrics(a: &mut MetricsState, b: &MetricsState) {
    for (x, y) in a.rules.iter_mut().zip(&b.rules) {
        x.counts
            .iter_mut()
            .zip(&y.counts)
            .for_each(|(p, q)| *p += q);
        x.arms.iter_mut().zip(&y.arms).for_each(|(p, q)| *p += q);
    }
    for (x, y) in a.stages.iter_mut().zip(&b.stages) {
        for (k, v) in &y.entered {
            *x.entered.entry(k.clone()).or_default() += v;
        }
    }
    for (x, y) in a.goals.iter_mut().zip(&b.goals) {
        x.conversions += y.conversions;
        x.by_stage
            .iter_mut()
            .zip(&y.by_stage)
            .for_each(|(p, q)| *p += q);
        for ((_, p), (_, q)) in x.by_arm.iter_mut().zip(&y.by_arm) {
            p.iter_mut().zip(q).for_each(|(m, n)| *m += n);
        }
    }
}

impl Engine {
    /// Saves the whole state: clock, customers, timers and metrics.
    pub fn save(&self) -> State {
        let p = &*self.program;
        let rule = |r: usize| p.rules[r].qualified.to_string();
        let declared = |r: &u32| p.rules[*r as usize].declared;
        let mut all: Vec<_> = self.customers.iter().collect();
        all.sort_by(|a, b| a.id().cmp(b.id()));
        let customers = all
            .into_iter()
            .map(|c| {
                let mut memory = c.memory().to_vec();
                memory.sort_by_key(|m| declared(&m.0));
                let mut caps: Vec<_> = c.caps().collect();
                caps.sort_by_key(|c| declared(&c.0));
                let mut timers: Vec<_> = c.timers().collect();
                timers.sort_by_key(|t| declared(&t.rule));
                CustomerState {
                    id: c.id().to_string(),
                    profile: c.profile().map(|values| {
                        p.names
                            .customer
                            .iter()
                            .zip(values.iter())
                            .map(|(f, v)| {
                                (
                                    f.name.to_string(),
                                    v.as_ref()
                                        .map_or(Json::Null, |v| value_to_json(f.ty, v, &p.names)),
                                )
                            })
                            .collect()
                    }),
                    journeys: c
                        .journeys()
                        .map(|j| {
                            let def = &p.journeys[j.journey as usize];
                            JourneyEntry {
                                journey: def.name.to_string(),
                                stage: def.stages[j.stage as usize].to_string(),
                                entered: j.entered,
                                since: j.since,
                                converted: (0..def.goals.len())
                                    .filter(|g| j.converted & (1 << g) != 0)
                                    .collect(),
                                exposures: c
                                    .exposures()
                                    .iter()
                                    .filter(|&&r| {
                                        p.rules[r as usize].journey == Some(j.journey as usize)
                                    })
                                    .map(|&r| rule(r as usize))
                                    .collect(),
                            }
                        })
                        .collect(),
                    memory: memory
                        .into_iter()
                        .map(|(r, time)| RuleTime {
                            rule: rule(r as usize),
                            time,
                        })
                        .collect(),
                    caps: caps
                        .into_iter()
                        .map(|(r, times)| CapEntry {
                            rule: rule(r as usize),
                            times: times.to_vec(),
                        })
                        .collect(),
                    timers: timers
                        .into_iter()
                        .map(|t| TimerEntry {
                            rule: rule(t.rule as usize),
                            deadline: t.deadline,
                            event: t.event.as_ref().map(|e| {
                                let signal = match &p.rules[t.rule as usize].trigger {
                                    TriggerDef::Absence { after, .. } => after.signal,
                                    _ => 0,
                                };
                                let fields = &p.names.signals[signal].fields;
                                StoredEvent {
                                    time: e.time,
                                    at: e.at.map(|i| p.names.places[i as usize].to_string()),
                                    via: e.via.map(|i| p.names.channels[i as usize].to_string()),
                                    data: fields
                                        .iter()
                                        .zip(&e.data)
                                        .filter_map(|(f, v)| {
                                            v.as_ref().map(|v| {
                                                (
                                                    f.name.to_string(),
                                                    value_to_json(f.ty, v, &p.names),
                                                )
                                            })
                                        })
                                        .collect(),
                                }
                            }),
                        })
                        .collect(),
                }
            })
            .collect();
        State {
            format: FORMAT.to_string(),
            version: VERSION,
            clock: self.clock,
            customers,
            metrics: save_metrics(p, &self.metrics()),
        }
    }

    /// An engine with a saved state, checked against the program.
    pub fn restore(program: Arc<Program>, state: &State) -> Result<Engine, StateError> {
        let mut engine = Engine::new(Arc::clone(&program));
        let p = &*program;
        let rules = &p.rule_ids;
        let find_rule = |name: &str, at: &str| {
            rules
                .get(name)
                .copied()
                .ok_or_else(|| StateError(format!("{at}: unknown rule `{name}`")))
        };
        if let Some(clock) = state.clock.filter(|c| !crate::time::IN_RANGE.contains(c)) {
            return Err(StateError(format!(
                "clock: {clock} is outside the times jrule reads (years 0000 to 9999)"
            )));
        }
        engine.clock = state.clock;
        let mut seen = BTreeSet::new();
        for (ci, c) in state.customers.iter().enumerate() {
            let at = format!("customers[{ci}]");
            if c.id.is_empty() || !seen.insert(c.id.as_str()) {
                return Err(StateError(format!(
                    "{at}: empty or repeated customer id `{}`",
                    c.id
                )));
            }
            let id: Arc<str> = Arc::from(c.id.as_str());
            let (slot, _) = engine.customers.enter(&id);
            let mut cust = engine.customers.fresh();
            if let Some(profile) = &c.profile {
                let mut values = p.default_profile.clone();
                for (name, json) in profile {
                    let i = p
                        .names
                        .customer
                        .iter()
                        .position(|f| &*f.name == name)
                        .ok_or_else(|| {
                            StateError(format!("{at}.profile: unknown field `{name}`"))
                        })?;
                    let f = &p.names.customer[i];
                    values[i] = if json.is_null() {
                        // Absent: optional, or required with no default and never set.
                        if !f.optional && p.default_profile[i].is_some() {
                            return Err(StateError(format!(
                                "{at}.profile.{name}: a required field with a default cannot be null"
                            )));
                        }
                        None
                    } else {
                        Some(value_from_json(f.ty, json, &p.names).ok_or_else(|| {
                            StateError(format!("{at}.profile.{name}: wrong type"))
                        })?)
                    };
                }
                cust.set_profile(values.into_boxed_slice());
            }
            for (ji, j) in c.journeys.iter().enumerate() {
                let at = format!("{at}.journeys[{ji}]");
                let journey = p
                    .journeys
                    .iter()
                    .position(|d| *d.name == j.journey)
                    .ok_or_else(|| StateError(format!("{at}: unknown journey `{}`", j.journey)))?;
                let def = &p.journeys[journey];
                let stage = def
                    .stages
                    .iter()
                    .position(|s| **s == j.stage)
                    .ok_or_else(|| {
                        StateError(format!(
                            "{at}: journey `{}` has no stage `{}`",
                            j.journey, j.stage
                        ))
                    })?;
                if cust.view().stage(journey).is_some() {
                    return Err(StateError(format!(
                        "{at}: journey `{}` appears twice",
                        j.journey
                    )));
                }
                let mut converted = 0u64;
                for &g in &j.converted {
                    if g >= def.goals.len() {
                        return Err(StateError(format!(
                            "{at}: journey `{}` has no goal {g}",
                            j.journey
                        )));
                    }
                    converted |= 1 << g;
                }
                for r in &j.exposures {
                    let rule = find_rule(r, &at)?;
                    if p.rules[rule].journey != Some(journey) {
                        return Err(StateError(format!(
                            "{at}: rule `{r}` is not a split of journey `{}`",
                            j.journey
                        )));
                    }
                    cust.expose(rule);
                }
                cust.enter_journey(JourneyState {
                    journey: journey as u32,
                    stage: stage as u32,
                    entered: j.entered,
                    since: j.since,
                    converted,
                });
            }
            for m in &c.memory {
                let rule = find_rule(&m.rule, &at)?;
                if !matches!(
                    p.rules[rule].trigger,
                    TriggerDef::Signal { after: Some(_), .. }
                ) {
                    return Err(StateError(format!(
                        "{at}.memory: rule `{}` has no `within … after`",
                        m.rule
                    )));
                }
                if cust.view().remembered(rule).is_some() {
                    return Err(StateError(format!(
                        "{at}.memory: rule `{}` appears twice",
                        m.rule
                    )));
                }
                cust.remember(rule, m.time);
            }
            for cap in &c.caps {
                let rule = find_rule(&cap.rule, &at)?;
                if p.rules[rule].limit.is_none() {
                    return Err(StateError(format!(
                        "{at}.caps: rule `{}` has no `limit`",
                        cap.rule
                    )));
                }
                if cust.view().caps().any(|(r, _)| r as usize == rule) {
                    return Err(StateError(format!(
                        "{at}.caps: rule `{}` appears twice",
                        cap.rule
                    )));
                }
                for &time in &cap.times {
                    cust.add_firing(rule, time);
                }
            }
            for t in &c.timers {
                let rule = find_rule(&t.rule, &at)?;
                let event =
                    match (&p.rules[rule].trigger, &t.event) {
                        (TriggerDef::Absence { after, .. }, Some(e)) => {
                            let fields = &p.names.signals[after.signal].fields;
                            let mut data = vec![None; fields.len()];
                            for (name, json) in &e.data {
                                let i = fields.iter().position(|f| &*f.name == name).ok_or_else(
                                    || StateError(format!("{at}.timers: unknown field `{name}`")),
                                )?;
                                data[i] = Some(
                                    value_from_json(fields[i].ty, json, &p.names).ok_or_else(
                                        || {
                                            StateError(format!(
                                                "{at}.timers: field `{name}` has the wrong type"
                                            ))
                                        },
                                    )?,
                                );
                            }
                            if let Some(missing) = fields
                                .iter()
                                .zip(&data)
                                .find(|(f, v)| v.is_none() && !f.optional)
                            {
                                return Err(StateError(format!(
                                    "{at}.timers: the kept event lacks required field `{}`",
                                    missing.0.name
                                )));
                            }
                            let place = |n: &Option<String>,
                                     list: &[Arc<str>]|
                         -> Result<Option<u32>, StateError> {
                            n.as_ref()
                                .map(|n| {
                                    list.iter()
                                        .position(|x| **x == **n)
                                        .map(|i| i as u32)
                                        .ok_or_else(|| {
                                            StateError(format!(
                                                "{at}.timers: unknown place or channel `{n}`"
                                            ))
                                        })
                                })
                                .transpose()
                        };
                            Some(TimerEvent {
                                time: e.time,
                                at: place(&e.at, &p.names.places)?,
                                via: place(&e.via, &p.names.channels)?,
                                data: data.into_boxed_slice(),
                            })
                        }
                        (TriggerDef::Stay { .. }, None) => None,
                        _ => {
                            return Err(StateError(format!(
                                "{at}.timers: timer of rule `{}` does not match its trigger",
                                t.rule
                            )))
                        }
                    };
                if cust.view().timers().any(|x| x.rule as usize == rule) {
                    return Err(StateError(format!(
                        "{at}.timers: two timers of rule `{}`",
                        t.rule
                    )));
                }
                engine
                    .timers
                    .insert((t.deadline, slot, p.rules[rule].declared as u32));
                cust.add_timer(rule, t.deadline, event);
            }
            engine.customers.settle(slot, true);
        }
        let mut metrics = restore_metrics(p, &state.metrics)?;
        for (counts, hot) in metrics.rules.iter_mut().zip(engine.hot.iter_mut()) {
            *hot = [counts.fired, counts.decisions];
            counts.fired = 0;
            counts.decisions = 0;
        }
        engine.metrics = metrics;
        Ok(engine)
    }
}

fn save_metrics(p: &Program, m: &Metrics) -> MetricsState {
    MetricsState {
        rules: p
            .rules
            .iter()
            .zip(&m.rules)
            .map(|(r, c)| RuleMetrics {
                rule: r.qualified.to_string(),
                counts: [
                    c.fired,
                    c.capped,
                    c.suppressed,
                    c.excluded,
                    c.errors,
                    c.decisions,
                ],
                arms: c.arms.clone(),
            })
            .collect(),
        stages: p
            .journeys
            .iter()
            .zip(&m.stages)
            .map(|(j, counts)| StageMetrics {
                journey: j.name.to_string(),
                entered: j
                    .stages
                    .iter()
                    .zip(counts)
                    .map(|(s, n)| (s.to_string(), *n))
                    .collect(),
            })
            .collect(),
        goals: p
            .journeys
            .iter()
            .zip(&m.goals)
            .flat_map(|(j, goals)| {
                goals.iter().enumerate().map(move |(g, c)| GoalMetrics {
                    journey: j.name.to_string(),
                    goal: g,
                    conversions: c.conversions,
                    by_stage: c.by_stage.clone(),
                    by_arm: c
                        .by_arm
                        .iter()
                        .map(|(r, n)| (p.rules[*r].qualified.to_string(), n.clone()))
                        .collect(),
                })
            })
            .collect(),
    }
}

/// Counts past this are corrupt: no real run reaches them, and counting on
/// from one could overflow.
const MAX_COUNT: u64 = 1 << 62;

fn restore_metrics(p: &Program, s: &MetricsState) -> Result<Metrics, StateError> {
    let counts = s
        .rules
        .iter()
        .flat_map(|r| r.counts.iter().chain(&r.arms))
        .chain(s.stages.iter().flat_map(|st| st.entered.values()))
        .chain(s.goals.iter().flat_map(|g| {
            std::iter::once(&g.conversions)
                .chain(&g.by_stage)
                .chain(g.by_arm.iter().flat_map(|(_, a)| a))
        }));
    if let Some(n) = counts.into_iter().find(|&&n| n > MAX_COUNT) {
        return Err(StateError(format!(
            "metrics: the count {n} is past any real run: the state is corrupt"
        )));
    }
    let mut m = Metrics::new(p);
    let rules = &p.rule_ids;
    for r in &s.rules {
        let i = *rules
            .get(r.rule.as_str())
            .ok_or_else(|| StateError(format!("metrics: unknown rule `{}`", r.rule)))?;
        let c = &mut m.rules[i];
        [
            c.fired,
            c.capped,
            c.suppressed,
            c.excluded,
            c.errors,
            c.decisions,
        ] = r.counts;
        if r.arms.len() != c.arms.len() {
            return Err(StateError(format!(
                "metrics: rule `{}` has {} arms, not {}",
                r.rule,
                c.arms.len(),
                r.arms.len()
            )));
        }
        c.arms.clone_from(&r.arms);
    }
    for st in &s.stages {
        let j = p
            .journeys
            .iter()
            .position(|d| *d.name == st.journey)
            .ok_or_else(|| StateError(format!("metrics: unknown journey `{}`", st.journey)))?;
        for (stage, n) in &st.entered {
            let i = p.journeys[j]
                .stages
                .iter()
                .position(|x| **x == *stage)
                .ok_or_else(|| {
                    StateError(format!(
                        "metrics: journey `{}` has no stage `{stage}`",
                        st.journey
                    ))
                })?;
            m.stages[j][i] = *n;
        }
    }
    for g in &s.goals {
        let j = p
            .journeys
            .iter()
            .position(|d| *d.name == g.journey)
            .ok_or_else(|| StateError(format!("metrics: unknown journey `{}`", g.journey)))?;
        let counts = m.goals[j].get_mut(g.goal).ok_or_else(|| {
            StateError(format!(
                "metrics: journey `{}` has no goal {}",
                g.journey, g.goal
            ))
        })?;
        if g.by_stage.len() != counts.by_stage.len() || g.by_arm.len() != counts.by_arm.len() {
            return Err(StateError(format!(
                "metrics: goal {} of journey `{}` does not match the program",
                g.goal, g.journey
            )));
        }
        counts.conversions = g.conversions;
        counts.by_stage.clone_from(&g.by_stage);
        for ((_, saved), (_, mine)) in g.by_arm.iter().zip(counts.by_arm.iter_mut()) {
            if saved.len() != mine.len() {
                return Err(StateError(format!(
                    "metrics: goal {} of journey `{}` does not match the program",
                    g.goal, g.journey
                )));
            }
            mine.clone_from(saved);
        }
    }
    Ok(m)
}
