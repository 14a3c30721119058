//! Saving and restoring an engine's state.
//!
//! The state is a JSON document, format `jrule-state` version 1, that names
//! journeys, stages, rules (`journey/rule`, or `rule` at top level) and
//! fields by name, so that it stays readable and is checked against the
//! program on restore. Times are milliseconds since the epoch. See
//! `docs/engine.md`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use foldhash::fast::FixedState;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::customers::View;
use super::event::{value_from_json, value_to_json};
use super::{Engine, JourneyState, Metrics, TimerEvent};
use crate::compile::{Program, TriggerDef};
use crate::ids::{ChannelId, FieldId, GoalId, JourneyId, PlaceId, RuleId, StageId};
use crate::value::Value;

const FORMAT: &str = "jrule-state";
/// Version 2 names goals (`SIGNAL within D`), and the metrics' counts by
/// stage and by split arm; version 1 numbered them, and is still read (its
/// numbers and positions taken against the program restored into).
const VERSION: u32 = 2;

/// Why a state could not be read or restored.
///
/// Each kind has a stable [`code`](StateError::code) (`jrule::state_…`),
/// which the command line prints with the message. More kinds may be
/// added: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The text is not a state: truncated, not JSON, or a key or value of
    /// the wrong shape. `line` and `column` (1-based) are where the reading
    /// stopped.
    #[error("malformed state: {}", super::event::at_position(message, *line, *column))]
    Corrupt {
        /// What went wrong, without the position.
        message: String,
        /// The line where reading stopped (1-based; 0 when unknown).
        line: usize,
        /// The column where reading stopped (1-based; 0 when unknown).
        column: usize,
    },
    /// A JSON document of another format.
    #[error("not a jrule state (format `{format}`)")]
    NotAState {
        /// The document's `format`.
        format: String,
    },
    /// A state of a version this jrule does not read.
    #[error("state version {version} is not supported (this jrule reads version {supported})")]
    Version {
        /// The state's version.
        version: u32,
        /// The version this jrule reads.
        supported: u32,
    },
    /// The state's clock (milliseconds since the epoch) is outside years
    /// 0000 to 9999.
    #[error("clock: {clock} is outside the times jrule reads (years 0000 to 9999)")]
    ClockOutOfRange {
        /// The clock.
        clock: i64,
    },
    /// A count of the metrics so large that no real run reaches it.
    #[error("metrics: the count {count} is past any real run: the state is corrupt")]
    CountOutOfRange {
        /// The count.
        count: u64,
    },
    /// The state contradicts itself: a customer or an item of a customer
    /// listed twice, an exposure to a split of another journey. `at` is
    /// where, as a path like `customers[3].journeys[0]`.
    #[error("{at}: {reason}")]
    Inconsistent {
        /// Where in the state.
        at: String,
        /// What is wrong there.
        reason: String,
    },
    /// The state names an item the program lacks or has changed (a strict
    /// restore or reload only; [`Engine::restore_carrying`] drops it
    /// instead). `at` is where in the state, as a path like
    /// `customers[3].journeys[0]` or `metrics`.
    #[error("{at}: {reason}")]
    Incompatible {
        /// Where in the state.
        at: String,
        /// The item of the program.
        item: ProgramItem,
        /// True when the program lacks the item; false when it has it but
        /// changed (a rule without its `limit`, a field of another type).
        missing: bool,
        /// What does not fit, in words.
        reason: String,
    },
}

impl StateError {
    /// The stable code of this kind of error, like `jrule::state_corrupt`.
    /// Codes are never renamed or reused.
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Corrupt { .. } => "jrule::state_corrupt",
            StateError::NotAState { .. } => "jrule::state_format",
            StateError::Version { .. } => "jrule::state_version",
            StateError::ClockOutOfRange { .. } => "jrule::state_clock_out_of_range",
            StateError::CountOutOfRange { .. } => "jrule::state_count_out_of_range",
            StateError::Inconsistent { .. } => "jrule::state_inconsistent",
            StateError::Incompatible { .. } => "jrule::state_incompatible",
        }
    }

    pub(crate) fn inconsistent(at: impl Into<String>, reason: String) -> StateError {
        StateError::Inconsistent {
            at: at.into(),
            reason,
        }
    }
}

/// An item of a program that a state names, in a
/// [`StateError::Incompatible`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgramItem {
    /// A journey.
    Journey {
        /// Its name.
        journey: String,
    },
    /// A stage of a journey.
    Stage {
        /// The journey.
        journey: String,
        /// The stage.
        stage: String,
    },
    /// A goal of a journey, by its name (`SIGNAL within D`; a number in
    /// a version 1 state).
    Goal {
        /// The journey.
        journey: String,
        /// The goal.
        goal: String,
    },
    /// A rule, by its qualified name (`journey/rule`, or `rule`).
    Rule {
        /// The rule.
        rule: String,
    },
    /// A field of the customer profile.
    ProfileField {
        /// The field.
        field: String,
    },
    /// A field of the event kept by an absence rule's pending timer.
    EventField {
        /// The rule.
        rule: String,
        /// The field.
        field: String,
    },
    /// A place named by the event an absence rule's timer keeps.
    Place {
        /// The place.
        place: String,
    },
    /// A channel named by the event an absence rule's timer keeps.
    Channel {
        /// The channel.
        channel: String,
    },
}

/// What a lenient restore ([`Engine::restore_carrying`]) could not carry
/// over to a new program, grouped by what was dropped: a journey, stage,
/// goal, split, profile field or rule the program lacks or changed, with
/// how many customers or items each cost. Empty when everything carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carry {
    dropped: BTreeMap<(String, Unit), u64>,
}

/// What one line of a [`Carry`] counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    /// Customers who left the line's journey (`None`) or the one named.
    Left(Option<Arc<str>>),
    Conversions,
    Exposures,
    /// Customers whose profile lost a value.
    Profiles,
    Memories,
    CapWindows,
    Timers,
    Metrics,
    ArmCounts,
}

impl Carry {
    /// Adds another report's counts to this one (reports of several
    /// engines or customers).
    pub fn add(&mut self, other: &Carry) {
        for (key, n) in &other.dropped {
            *self.dropped.entry(key.clone()).or_default() += n;
        }
    }

    /// Whether everything carried over.
    pub fn is_empty(&self) -> bool {
        self.dropped.is_empty()
    }

    /// Adds the report of another engine that shared the customers out
    /// with this one: counts of customers and their items add up; the
    /// metrics' lines, which every engine reports alike, are kept once.
    pub(crate) fn add_engine(&mut self, other: &Carry) {
        for (key, &n) in &other.dropped {
            let count = self.dropped.entry(key.clone()).or_default();
            match key.1 {
                Unit::Metrics | Unit::ArmCounts => *count = (*count).max(n),
                _ => *count += n,
            }
        }
    }

    /// One line per thing dropped and kind of state, sorted: what is gone
    /// or changed, then what that cost, as in ``journey `onboarding` is
    /// gone: 12 customers left it``.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.dropped
            .iter()
            .map(|((what, unit), &n)| format!("{what}: {}", unit.cost(n)))
    }
}

/// The [`lines`](Carry::lines), one per line.
impl std::fmt::Display for Carry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, line) in self.lines().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(&line)?;
        }
        Ok(())
    }
}

impl Unit {
    fn cost(&self, n: u64) -> String {
        let count = |one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let customers = || count("customer", "customers");
        match self {
            Unit::Left(None) => format!("{} left it", customers()),
            Unit::Left(Some(journey)) => format!("{} left journey `{journey}`", customers()),
            Unit::Conversions => format!("{} dropped", count("conversion", "conversions")),
            Unit::Exposures => format!("exposures of {} dropped", customers()),
            Unit::Profiles => format!("dropped for {}", customers()),
            Unit::Memories => format!(
                "{} dropped",
                count("`within … after` memory", "`within … after` memories")
            ),
            Unit::CapWindows => format!("cap windows of {} dropped", customers()),
            Unit::Timers => format!("{} dropped", count("pending timer", "pending timers")),
            Unit::Metrics => "its metrics dropped".to_string(),
            Unit::ArmCounts => "its counts by arm dropped".to_string(),
        }
    }
}

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

/// One customer's saved state — profile, journeys, memories, cap windows
/// and timers — naming everything by name, as a customer of a [`State`]
/// does. What a [`StateStore`](crate::store::StateStore) keeps per customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerState {
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
    converted: Vec<GoalRef>,
    exposures: Vec<String>,
}

/// A goal: by name (`SIGNAL within D`), or by number in a version 1 state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum GoalRef {
    Name(String),
    Number(usize),
}

impl GoalRef {
    /// The goal as a `ProgramItem` names it: its name, or its number.
    fn label(&self) -> String {
        match self {
            GoalRef::Name(name) => name.clone(),
            GoalRef::Number(n) => n.to_string(),
        }
    }
}

impl std::fmt::Display for GoalRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GoalRef::Name(name) => write!(f, "`{name}`"),
            GoalRef::Number(n) => write!(f, "{n}"),
        }
    }
}

/// Counts by stage or by arm: by name, or by position in a version 1 state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Counts {
    Named(BTreeMap<String, u64>),
    Positional(Vec<u64>),
}

impl Counts {
    fn named<'a>(names: impl Iterator<Item = &'a Arc<str>>, counts: &[u64]) -> Counts {
        Counts::Named(
            names
                .zip(counts)
                .map(|(n, c)| (n.to_string(), *c))
                .collect(),
        )
    }

    fn values(&self) -> Box<dyn Iterator<Item = &u64> + '_> {
        match self {
            Counts::Named(m) => Box::new(m.values()),
            Counts::Positional(v) => Box::new(v.iter()),
        }
    }

    fn zero(&mut self) {
        match self {
            Counts::Named(m) => m.values_mut().for_each(|x| *x = 0),
            Counts::Positional(v) => v.iter_mut().for_each(|x| *x = 0),
        }
    }

    fn add(&mut self, other: &Counts) {
        match (self, other) {
            (Counts::Named(a), Counts::Named(b)) => {
                for (k, v) in b {
                    *a.entry(k.clone()).or_default() += v;
                }
            }
            (Counts::Positional(a), Counts::Positional(b)) => {
                a.iter_mut().zip(b).for_each(|(p, q)| *p += q);
            }
            // The parts of one state have one version.
            _ => {}
        }
    }
}

/// A goal's conversions by split rule and arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum ByArm {
    Named(BTreeMap<String, BTreeMap<String, u64>>),
    Positional(Vec<(String, Vec<u64>)>),
}

impl ByArm {
    fn values(&self) -> Box<dyn Iterator<Item = &u64> + '_> {
        match self {
            ByArm::Named(m) => Box::new(m.values().flat_map(|a| a.values())),
            ByArm::Positional(v) => Box::new(v.iter().flat_map(|(_, a)| a)),
        }
    }

    fn zero(&mut self) {
        match self {
            ByArm::Named(m) => m
                .values_mut()
                .flat_map(|a| a.values_mut())
                .for_each(|x| *x = 0),
            ByArm::Positional(v) => v
                .iter_mut()
                .flat_map(|(_, a)| a.iter_mut())
                .for_each(|x| *x = 0),
        }
    }

    fn add(&mut self, other: &ByArm) {
        match (self, other) {
            (ByArm::Named(a), ByArm::Named(b)) => {
                for (rule, arms) in b {
                    let mine = a.entry(rule.clone()).or_default();
                    for (arm, n) in arms {
                        *mine.entry(arm.clone()).or_default() += n;
                    }
                }
            }
            (ByArm::Positional(a), ByArm::Positional(b)) => {
                for ((_, p), (_, q)) in a.iter_mut().zip(b) {
                    p.iter_mut().zip(q).for_each(|(m, n)| *m += n);
                }
            }
            _ => {}
        }
    }
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
    arms: Counts,
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
    goal: GoalRef,
    conversions: u64,
    by_stage: Counts,
    by_arm: ByArm,
}

/// Customers changed since changes were last taken.
pub(super) type Changed = hashbrown::HashSet<Arc<str>, FixedState>;

impl CustomerState {
    /// The customer's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The earliest deadline of the customer's timers, if any: when the
    /// customer must be in an engine for its timers to fire.
    pub fn next_deadline(&self) -> Option<i64> {
        self.timers.iter().map(|t| t.deadline).min()
    }

    /// The state as JSON text (one customer of a state file).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a customer's state from JSON text; a truncated or corrupt text
    /// is an error.
    pub fn from_json(text: &[u8]) -> Result<CustomerState, StateError> {
        serde_json::from_slice(text).map_err(|e| {
            let (message, line, column) = super::event::split_position(&e);
            StateError::Corrupt {
                message,
                line,
                column,
            }
        })
    }
}

impl State {
    /// The state as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a state from JSON text; a truncated or corrupt text is an error.
    pub fn from_json(text: &str) -> Result<State, StateError> {
        let state: State = serde_json::from_str(text).map_err(|e| {
            let (message, line, column) = super::event::split_position(&e);
            StateError::Corrupt {
                message,
                line,
                column,
            }
        })?;
        if state.format != FORMAT {
            return Err(StateError::NotAState {
                format: state.format,
            });
        }
        if !(1..=VERSION).contains(&state.version) {
            return Err(StateError::Version {
                version: state.version,
                supported: VERSION,
            });
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

    /// The clock and metrics of this state, without its customers.
    pub(crate) fn without_customers(self) -> State {
        State {
            customers: Vec::new(),
            ..self
        }
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
        r.arms.zero();
    }
    for s in &mut z.stages {
        s.entered.values_mut().for_each(|x| *x = 0);
    }
    for g in &mut z.goals {
        g.conversions = 0;
        g.by_stage.zero();
        g.by_arm.zero();
    }
    z
}

fn add_metrics(a: &mut MetricsState, b: &MetricsState) {
    for (x, y) in a.rules.iter_mut().zip(&b.rules) {
        x.counts
            .iter_mut()
            .zip(&y.counts)
            .for_each(|(p, q)| *p += q);
        x.arms.add(&y.arms);
    }
    for (x, y) in a.stages.iter_mut().zip(&b.stages) {
        for (k, v) in &y.entered {
            *x.entered.entry(k.clone()).or_default() += v;
        }
    }
    for (x, y) in a.goals.iter_mut().zip(&b.goals) {
        x.conversions += y.conversions;
        x.by_stage.add(&y.by_stage);
        x.by_arm.add(&y.by_arm);
    }
}

impl Engine {
    /// The state of one customer, or `None` if it has none.
    pub fn customer(&self, id: &str) -> Option<CustomerState> {
        let slot = self.customers.find(id)?;
        Some(save_customer(&self.program, self.customers.view(slot)))
    }

    /// Whether the engine has state for a customer.
    pub fn has_customer(&self, id: &str) -> bool {
        self.customers.find(id).is_some()
    }

    /// Puts one customer's state in, replacing what the engine had for it,
    /// checked against the program like [`restore`](Engine::restore): on an
    /// error nothing changes. Timers due before the clock fire at the next
    /// event or advance. Not recorded as a change.
    pub fn put_customer(&mut self, customer: &CustomerState) -> Result<(), StateError> {
        self.put_customer_into(customer, &mut None)
    }

    /// Like [`put_customer`](Engine::put_customer), but carries what it can
    /// (like [`restore_carrying`](Engine::restore_carrying)) and adds what it
    /// dropped to `carry`.
    pub fn put_customer_carrying(
        &mut self,
        customer: &CustomerState,
        carry: &mut Carry,
    ) -> Result<(), StateError> {
        let mut mine = Some(Carry::default());
        self.put_customer_into(customer, &mut mine)?;
        carry.add(&mine.unwrap_or_default());
        Ok(())
    }

    fn put_customer_into(
        &mut self,
        customer: &CustomerState,
        carry: &mut Option<Carry>,
    ) -> Result<(), StateError> {
        let at = format!("customer `{}`", customer.id);
        if customer.id.is_empty() {
            return Err(StateError::inconsistent(at, "empty customer id".into()));
        }
        let mut listed = HashSet::with_hasher(FixedState::default());
        let built = build_customer(&self.program, customer, &at, carry, &mut listed)?;
        self.install(built);
        Ok(())
    }

    /// Records, from now on, which customers each event or timer changes,
    /// for [`take_changes`](Engine::take_changes); `false` stops. Off by
    /// default: recording costs a set insertion per event.
    pub fn track_changes(&mut self, on: bool) {
        self.changed = on.then(Changed::default);
    }

    /// The customers changed since tracking started or changes were last
    /// taken, sorted by id, each with its state now (`None`: it has none
    /// left, and a store deletes it). What an incremental checkpoint writes.
    pub fn take_changes(&mut self) -> Vec<(Arc<str>, Option<CustomerState>)> {
        let Some(changed) = &mut self.changed else {
            return Vec::new();
        };
        let mut ids: Vec<Arc<str>> = changed.drain().collect();
        ids.sort_unstable();
        ids.into_iter()
            .map(|id| {
                let state = self.customer(&id);
                (id, state)
            })
            .collect()
    }

    /// Records customers as changed again (after a failed checkpoint); only
    /// those this engine has state for or tracked, when tracking.
    pub(crate) fn mark_changed<'a>(&mut self, ids: impl Iterator<Item = &'a Arc<str>>) {
        if let Some(changed) = &mut self.changed {
            changed.extend(ids.cloned());
        }
    }

    /// Takes the ids recorded as changed, without their states.
    pub(crate) fn take_changed_ids(&mut self) -> Vec<Arc<str>> {
        self.changed
            .as_mut()
            .map(|c| c.drain().collect())
            .unwrap_or_default()
    }

    /// Records every customer as changed, when tracking.
    pub(crate) fn mark_all_changed(&mut self) {
        if let Some(changed) = &mut self.changed {
            changed.extend(self.customers.iter().map(|c| Arc::clone(c.id())));
        }
    }

    /// The engine-wide part of the state — clock and metrics — without any
    /// customer: what a store keeps beside the customers.
    pub fn save_header(&self) -> State {
        State {
            format: FORMAT.to_string(),
            version: VERSION,
            clock: self.clock,
            customers: Vec::new(),
            metrics: save_metrics(&self.program, &self.metrics()),
        }
    }

    /// Saves the whole state: clock, customers, timers and metrics.
    pub fn save(&self) -> State {
        let p = &*self.program;
        let mut all: Vec<_> = self.customers.iter().collect();
        all.sort_by(|a, b| a.id().cmp(b.id()));
        let customers = all.into_iter().map(|c| save_customer(p, c)).collect();
        State {
            format: FORMAT.to_string(),
            version: VERSION,
            clock: self.clock,
            customers,
            metrics: save_metrics(p, &self.metrics()),
        }
    }

    /// An engine with a saved state, checked against the program: anything
    /// the state names that the program lacks or changed is an error.
    pub fn restore(program: Arc<Program>, state: &State) -> Result<Engine, StateError> {
        Engine::restore_into(program, state, &mut None)
    }

    /// Like [`restore`](Engine::restore), but carries what it can: state
    /// the program lacks or changed (a journey, stage, goal, split, profile
    /// field or rule) is dropped and reported in the [`Carry`]. A corrupt
    /// state is still an error.
    pub fn restore_carrying(
        program: Arc<Program>,
        state: &State,
    ) -> Result<(Engine, Carry), StateError> {
        let mut carry = Some(Carry::default());
        let engine = Engine::restore_into(program, state, &mut carry)?;
        Ok((engine, carry.unwrap_or_default()))
    }

    /// Both restores: strict when `carry` is `None`.
    fn restore_into(
        program: Arc<Program>,
        state: &State,
        carry: &mut Option<Carry>,
    ) -> Result<Engine, StateError> {
        let mut engine = Engine::new(Arc::clone(&program));
        let p = &*program;
        if let Some(clock) = state.clock.filter(|c| !crate::time::IN_RANGE.contains(c)) {
            return Err(StateError::ClockOutOfRange { clock });
        }
        engine.clock = state.clock;
        let mut seen = BTreeSet::new();
        // The names in one of a customer's lists, to find one listed twice
        // (whether or not the program still has it).
        let mut listed = HashSet::with_hasher(FixedState::default());
        for (ci, c) in state.customers.iter().enumerate() {
            let at = format!("customers[{ci}]");
            if c.id.is_empty() || !seen.insert(c.id.as_str()) {
                return Err(StateError::inconsistent(
                    at,
                    format!("empty or repeated customer id `{}`", c.id),
                ));
            }
            let built = build_customer(p, c, &at, carry, &mut listed)?;
            engine.install(built);
        }
        let mut metrics = restore_metrics(p, &state.metrics, carry)?;
        for (counts, hot) in metrics.rules.iter_mut().zip(engine.hot.iter_mut()) {
            *hot = [counts.fired, counts.decisions];
            counts.fired = 0;
            counts.decisions = 0;
        }
        engine.metrics = metrics;
        Ok(engine)
    }
}

/// One customer's state, by name.
fn save_customer(p: &Program, c: View<'_>) -> CustomerState {
    let rule = |r: RuleId| p.rules[r].qualified.to_string();
    let declared = |r: &RuleId| p.rules[*r].declared;
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
                let def = &p.journeys[j.journey];
                JourneyEntry {
                    journey: def.name.to_string(),
                    stage: def.stages[j.stage].to_string(),
                    entered: j.entered,
                    since: j.since,
                    converted: def
                        .goals
                        .iter_ids()
                        .filter(|(g, _)| j.converted & (1 << g.index()) != 0)
                        .map(|(_, goal)| GoalRef::Name(goal.name.to_string()))
                        .collect(),
                    exposures: c
                        .exposures()
                        .iter()
                        .filter(|&&r| p.rules[r].journey == Some(j.journey))
                        .map(|&r| rule(r))
                        .collect(),
                }
            })
            .collect(),
        memory: memory
            .into_iter()
            .map(|(r, time)| RuleTime {
                rule: rule(r),
                time,
            })
            .collect(),
        caps: caps
            .into_iter()
            .map(|(r, times)| CapEntry {
                rule: rule(r),
                times: times.to_vec(),
            })
            .collect(),
        timers: timers
            .into_iter()
            .map(|t| TimerEntry {
                rule: rule(t.rule),
                deadline: t.deadline,
                event: t.event.as_ref().map(|e| {
                    // Only the wait of a `no … after` keeps an event.
                    let fields = match &p.rules[t.rule].trigger {
                        TriggerDef::Absence { after, .. } => {
                            &p.names.signals[after.signal].fields[..]
                        }
                        _ => &[],
                    };
                    StoredEvent {
                        time: e.time,
                        at: e.at.map(|i| p.names.places[i.index()].to_string()),
                        via: e.via.map(|i| p.names.channels[i.index()].to_string()),
                        data: fields
                            .iter()
                            .zip(&e.data)
                            .filter_map(|(f, v)| {
                                v.as_ref()
                                    .map(|v| (f.name.to_string(), value_to_json(f.ty, v, &p.names)))
                            })
                            .collect(),
                    }
                }),
            })
            .collect(),
    }
}

/// A customer's state read against the program, ready to install: reading
/// can fail, installing cannot, so a failure leaves the engine as it was.
struct Built {
    id: Arc<str>,
    profile: Option<Box<[Option<Value>]>>,
    journeys: Vec<(JourneyState, Vec<RuleId>)>,
    memory: Vec<(RuleId, i64)>,
    caps: Vec<(RuleId, Vec<i64>)>,
    timers: Vec<(RuleId, i64, Option<TimerEvent>)>,
}

/// Reads one customer's state against the program (`at` names it in errors).
fn build_customer<'c>(
    p: &Program,
    c: &'c CustomerState,
    at: &str,
    carry: &mut Option<Carry>,
    listed: &mut HashSet<&'c str, FixedState>,
) -> Result<Built, StateError> {
    let mut built = Built {
        id: Arc::from(c.id.as_str()),
        profile: None,
        journeys: Vec::new(),
        memory: Vec::new(),
        caps: Vec::new(),
        timers: Vec::new(),
    };
    if let Some(profile) = &c.profile {
        let mut values = p.default_profile.clone();
        for (name, json) in profile {
            if let Some((i, value)) = keep(carry, profile_value(p, at, name, json))? {
                values[i.index()] = value;
            }
        }
        built.profile = Some(values.into_boxed_slice());
    }
    listed.clear();
    for (ji, j) in c.journeys.iter().enumerate() {
        let at = format!("{at}.journeys[{ji}]");
        let placed = keep(carry, journey_stage(p, &at, j))?;
        if !listed.insert(j.journey.as_str()) {
            return Err(StateError::inconsistent(
                at,
                format!("journey `{}` appears twice", j.journey),
            ));
        }
        let Some((journey, stage)) = placed else {
            continue;
        };
        let mut converted = 0u64;
        for g in &j.converted {
            if let Some(g) = keep(carry, goal_named(p, &at, journey, g, Unit::Conversions))? {
                converted |= 1 << g.index();
            }
        }
        let mut exposures = Vec::new();
        for r in &j.exposures {
            let Some(rule) = keep(carry, split_named(p, &at, r))? else {
                continue;
            };
            if p.rules[rule].journey != Some(journey) {
                return Err(StateError::inconsistent(
                    at,
                    format!("rule `{r}` is not a split of journey `{}`", j.journey),
                ));
            }
            exposures.push(rule);
        }
        built.journeys.push((
            JourneyState {
                journey,
                stage,
                entered: j.entered,
                since: j.since,
                converted,
            },
            exposures,
        ));
    }
    listed.clear();
    for m in &c.memory {
        let rule = keep(carry, remembering_rule(p, at, &m.rule))?;
        if !listed.insert(m.rule.as_str()) {
            return Err(StateError::inconsistent(
                format!("{at}.memory"),
                format!("rule `{}` appears twice", m.rule),
            ));
        }
        if let Some(rule) = rule {
            built.memory.push((rule, m.time));
        }
    }
    listed.clear();
    for cap in &c.caps {
        let rule = keep(carry, limited_rule(p, at, &cap.rule))?;
        if !listed.insert(cap.rule.as_str()) {
            return Err(StateError::inconsistent(
                format!("{at}.caps"),
                format!("rule `{}` appears twice", cap.rule),
            ));
        }
        if let Some(rule) = rule {
            built.caps.push((rule, cap.times.clone()));
        }
    }
    listed.clear();
    for t in &c.timers {
        let timer = keep(carry, timer(p, at, t))?;
        if !listed.insert(t.rule.as_str()) {
            return Err(StateError::inconsistent(
                format!("{at}.timers"),
                format!("two timers of rule `{}`", t.rule),
            ));
        }
        if let Some((rule, event)) = timer {
            built.timers.push((rule, t.deadline, event));
        }
    }
    Ok(built)
}

impl Engine {
    /// Installs a customer read by [`build_customer`], replacing any state
    /// the engine has for it.
    fn install(&mut self, built: Built) {
        self.forget(&built.id);
        let p = &*self.program;
        let (slot, _) = self.customers.enter(&built.id);
        let mut cust = self.customers.fresh();
        if let Some(profile) = built.profile {
            cust.set_profile(profile);
        }
        for (journey, exposures) in built.journeys {
            for rule in exposures {
                cust.expose(rule);
            }
            cust.enter_journey(journey);
        }
        for (rule, time) in built.memory {
            cust.remember(rule, time);
        }
        for (rule, times) in built.caps {
            for time in times {
                cust.add_firing(rule, time);
            }
        }
        for (rule, deadline, event) in built.timers {
            self.timers.insert((deadline, slot, p.rules[rule].declared));
            cust.add_timer(rule, deadline, event);
        }
        self.customers.settle(slot, true);
    }

    /// Drops a customer's state and its timers from the queue.
    fn forget(&mut self, id: &str) -> bool {
        let Some(slot) = self.customers.find(id) else {
            return false;
        };
        let Engine {
            program,
            customers,
            timers,
            ..
        } = self;
        let mut cust = customers.get(slot);
        cust.remove_timers(
            |_| true,
            |timer| {
                timers.remove(&(timer.deadline, slot, program.rules[timer.rule].declared));
            },
        );
        customers.clear(slot);
        true
    }
}

/// An item of a state that names what the program lacks or changed: an
/// error when restoring strictly, dropped and counted when carrying.
struct Gone {
    /// What is gone or changed, and what the report counts; `None` when
    /// nothing is lost (an absent profile value).
    lost: Option<(String, Unit)>,
    /// The error of a strict restore (boxed: a `Gone` is returned on
    /// every path that finds an item, and most find it).
    error: Box<StateError>,
}

/// The error of a strict restore for an item of the program that is
/// missing or changed.
fn unfit(
    at: impl Into<String>,
    item: ProgramItem,
    missing: bool,
    reason: String,
) -> Box<StateError> {
    Box::new(StateError::Incompatible {
        at: at.into(),
        item,
        missing,
        reason,
    })
}

fn gone(what: String, unit: Unit, error: Box<StateError>) -> Gone {
    Gone {
        lost: Some((what, unit)),
        error,
    }
}

/// The item if it fits; if not, `None` when carrying (counting it in
/// `carry`), else the strict error.
fn keep<T>(carry: &mut Option<Carry>, item: Result<T, Gone>) -> Result<Option<T>, StateError> {
    match (item, carry) {
        (Ok(item), _) => Ok(Some(item)),
        (Err(gone), Some(carry)) => {
            if let Some(lost) = gone.lost {
                *carry.dropped.entry(lost).or_default() += 1;
            }
            Ok(None)
        }
        (Err(gone), None) => Err(*gone.error),
    }
}

// The state names what it holds; these find it in the program, or say what
// is gone.

fn journey_named(p: &Program, at: &str, name: &str, unit: Unit) -> Result<JourneyId, Gone> {
    p.journey(name).ok_or_else(|| {
        gone(
            format!("journey `{name}` is gone"),
            unit,
            unfit(
                at,
                ProgramItem::Journey {
                    journey: name.to_string(),
                },
                true,
                format!("unknown journey `{name}`"),
            ),
        )
    })
}

fn stage_named(
    p: &Program,
    at: &str,
    journey: JourneyId,
    name: &str,
    unit: Unit,
) -> Result<StageId, Gone> {
    let def = &p.journeys[journey];
    def.stage(name).ok_or_else(|| {
        gone(
            format!("stage `{}.{name}` is gone", def.name),
            unit,
            unfit(
                at,
                ProgramItem::Stage {
                    journey: def.name.to_string(),
                    stage: name.to_string(),
                },
                true,
                format!("journey `{}` has no stage `{name}`", def.name),
            ),
        )
    })
}

fn goal_named(
    p: &Program,
    at: &str,
    journey: JourneyId,
    goal: &GoalRef,
    unit: Unit,
) -> Result<GoalId, Gone> {
    let def = &p.journeys[journey];
    let found = match goal {
        GoalRef::Name(name) => def.goals.find(|g| *g.name == **name),
        GoalRef::Number(n) => (*n < def.goals.len()).then(|| GoalId::new(*n)),
    };
    found.ok_or_else(|| {
        gone(
            format!("goal {goal} of journey `{}` is gone", def.name),
            unit,
            unfit(
                at,
                ProgramItem::Goal {
                    journey: def.name.to_string(),
                    goal: goal.label(),
                },
                true,
                format!("journey `{}` has no goal {goal}", def.name),
            ),
        )
    })
}

/// Version 1 counts of a goal whose stages or splits changed in number.
fn goal_misfit(journey: &str, goal: &GoalRef) -> Gone {
    gone(
        format!("goal {goal} of journey `{journey}` no longer matches the program"),
        Unit::Metrics,
        unfit(
            "metrics",
            ProgramItem::Goal {
                journey: journey.to_string(),
                goal: goal.label(),
            },
            false,
            format!("goal {goal} of journey `{journey}` does not match the program"),
        ),
    )
}

fn rule_named(p: &Program, at: &str, name: &str, unit: Unit) -> Result<RuleId, Gone> {
    p.rule_ids.get(name).copied().ok_or_else(|| {
        gone(
            format!("rule `{name}` is gone"),
            unit,
            unfit(
                at,
                ProgramItem::Rule {
                    rule: name.to_string(),
                },
                true,
                format!("unknown rule `{name}`"),
            ),
        )
    })
}

/// A journey entry's journey and stage.
fn journey_stage(p: &Program, at: &str, j: &JourneyEntry) -> Result<(JourneyId, StageId), Gone> {
    let journey = journey_named(p, at, &j.journey, Unit::Left(None))?;
    let left = Unit::Left(Some(Arc::clone(&p.journeys[journey].name)));
    Ok((journey, stage_named(p, at, journey, &j.stage, left)?))
}

/// A split rule that assigned the customer an arm.
fn split_named(p: &Program, at: &str, name: &str) -> Result<RuleId, Gone> {
    rule_named(p, at, name, Unit::Exposures).map_err(|gone| Gone {
        lost: Some((format!("split `{name}` is gone"), Unit::Exposures)),
        ..gone
    })
}

/// An arm of a split rule, by name (its position in the rule's arms).
fn arm_named(p: &Program, rule: RuleId, arm: &str, unit: Unit) -> Result<usize, Gone> {
    let def = &p.rules[rule];
    def.arms.iter().position(|a| **a == *arm).ok_or_else(|| {
        gone(
            format!("arm `{arm}` of rule `{}` is gone", def.qualified),
            unit,
            unfit(
                "metrics",
                ProgramItem::Rule {
                    rule: def.qualified.to_string(),
                },
                false,
                format!("rule `{}` has no split arm `{arm}`", def.qualified),
            ),
        )
    })
}

/// A profile field's slot and value.
fn profile_value(
    p: &Program,
    at: &str,
    name: &str,
    json: &Json,
) -> Result<(FieldId, Option<Value>), Gone> {
    let field_gone = |what: &str, at: String, reason: String| Gone {
        // An absent value loses nothing: not reported.
        lost: (!json.is_null()).then(|| (format!("profile field `{name}` {what}"), Unit::Profiles)),
        error: unfit(
            at,
            ProgramItem::ProfileField {
                field: name.to_string(),
            },
            what == "is gone",
            reason,
        ),
    };
    let i = p
        .names
        .customer
        .iter()
        .position(|f| &*f.name == name)
        .ok_or_else(|| {
            field_gone(
                "is gone",
                format!("{at}.profile"),
                format!("unknown field `{name}`"),
            )
        })?;
    let f = &p.names.customer[i];
    if json.is_null() {
        // Absent: optional, or required with no default and never set.
        if !f.optional && p.default_profile[i].is_some() {
            return Err(field_gone(
                "changed type",
                format!("{at}.profile.{name}"),
                "a required field with a default cannot be null".to_string(),
            ));
        }
        return Ok((FieldId::new(i), None));
    }
    let value = value_from_json(f.ty, json, &p.names).ok_or_else(|| {
        field_gone(
            "changed type",
            format!("{at}.profile.{name}"),
            "wrong type".to_string(),
        )
    })?;
    Ok((FieldId::new(i), Some(value)))
}

/// The rule of a sequence memory: one with `within … after`.
fn remembering_rule(p: &Program, at: &str, name: &str) -> Result<RuleId, Gone> {
    let rule = rule_named(p, at, name, Unit::Memories)?;
    match p.rules[rule].trigger {
        TriggerDef::Signal { after: Some(_), .. } => Ok(rule),
        _ => Err(gone(
            format!("rule `{name}` no longer has `within … after`"),
            Unit::Memories,
            unfit(
                format!("{at}.memory"),
                ProgramItem::Rule {
                    rule: name.to_string(),
                },
                false,
                format!("rule `{name}` has no `within … after`"),
            ),
        )),
    }
}

/// The rule of a cap window: one with a `limit`.
fn limited_rule(p: &Program, at: &str, name: &str) -> Result<RuleId, Gone> {
    let rule = rule_named(p, at, name, Unit::CapWindows)?;
    if p.rules[rule].limit.is_some() {
        return Ok(rule);
    }
    Err(gone(
        format!("rule `{name}` no longer has a limit"),
        Unit::CapWindows,
        unfit(
            format!("{at}.caps"),
            ProgramItem::Rule {
                rule: name.to_string(),
            },
            false,
            format!("rule `{name}` has no `limit`"),
        ),
    ))
}

/// A pending timer's rule, and the event an absence wait keeps.
fn timer(p: &Program, at: &str, t: &TimerEntry) -> Result<(RuleId, Option<TimerEvent>), Gone> {
    let rule = rule_named(p, at, &t.rule, Unit::Timers)?;
    let timer_gone = |what: String, item: ProgramItem, missing: bool, reason: String| {
        gone(
            what,
            Unit::Timers,
            unfit(format!("{at}.timers"), item, missing, reason),
        )
    };
    let (signal, e) = match (&p.rules[rule].trigger, &t.event) {
        (TriggerDef::Absence { after, .. }, Some(e)) => (after.signal, e),
        (TriggerDef::Stay { .. }, None) => return Ok((rule, None)),
        _ => {
            return Err(timer_gone(
                format!("rule `{}` changed its trigger", t.rule),
                ProgramItem::Rule {
                    rule: t.rule.clone(),
                },
                false,
                format!("timer of rule `{}` does not match its trigger", t.rule),
            ))
        }
    };
    // A part of the kept event that the rule's signal no longer fits.
    let misfit = |part: String, item: ProgramItem, change: &str, reason: String| {
        timer_gone(
            format!("{part} of the event kept by rule `{}` {change}", t.rule),
            item,
            change == "is gone",
            reason,
        )
    };
    let field_item = |field: &str| ProgramItem::EventField {
        rule: t.rule.clone(),
        field: field.to_string(),
    };
    let fields = &p.names.signals[signal].fields;
    let mut data = vec![None; fields.len()];
    for (name, json) in &e.data {
        let field = || format!("field `{name}`");
        let i = fields
            .iter()
            .position(|f| &*f.name == name)
            .ok_or_else(|| {
                misfit(
                    field(),
                    field_item(name),
                    "is gone",
                    format!("unknown field `{name}`"),
                )
            })?;
        let value = value_from_json(fields[i].ty, json, &p.names).ok_or_else(|| {
            misfit(
                field(),
                field_item(name),
                "changed type",
                format!("field `{name}` has the wrong type"),
            )
        })?;
        data[i] = Some(value);
    }
    if let Some((f, _)) = fields
        .iter()
        .zip(&data)
        .find(|(f, v)| v.is_none() && !f.optional)
    {
        return Err(misfit(
            format!("required field `{}`", f.name),
            field_item(&f.name),
            "is new",
            format!("the kept event lacks required field `{}`", f.name),
        ));
    }
    let find = |kind: &str, name: &Option<String>, list: &[Arc<str>]| {
        name.as_ref()
            .map(|n| {
                list.iter().position(|x| **x == **n).ok_or_else(|| {
                    let item = if kind == "place" {
                        ProgramItem::Place { place: n.clone() }
                    } else {
                        ProgramItem::Channel { channel: n.clone() }
                    };
                    misfit(
                        format!("{kind} `{n}`"),
                        item,
                        "is gone",
                        format!("unknown place or channel `{n}`"),
                    )
                })
            })
            .transpose()
    };
    let event = TimerEvent {
        time: e.time,
        at: find("place", &e.at, &p.names.places)?.map(PlaceId::new),
        via: find("channel", &e.via, &p.names.channels)?.map(ChannelId::new),
        data: data.into_boxed_slice(),
    };
    Ok((rule, Some(event)))
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
                arms: Counts::named(r.arms.iter(), &c.arms),
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
                j.goals.iter().zip(goals).map(move |(g, c)| GoalMetrics {
                    journey: j.name.to_string(),
                    goal: GoalRef::Name(g.name.to_string()),
                    conversions: c.conversions,
                    by_stage: Counts::named(j.stages.iter(), &c.by_stage),
                    by_arm: ByArm::Named(
                        c.by_arm
                            .iter()
                            .map(|(r, n)| {
                                let rule = &p.rules[*r];
                                let arms = rule.arms.iter().zip(n);
                                let arms = arms.map(|(a, n)| (a.to_string(), *n)).collect();
                                (rule.qualified.to_string(), arms)
                            })
                            .collect(),
                    ),
                })
            })
            .collect(),
    }
}

/// Counts past this are corrupt: no real run reaches them, and counting on
/// from one could overflow.
const MAX_COUNT: u64 = 1 << 62;

fn restore_metrics(
    p: &Program,
    s: &MetricsState,
    carry: &mut Option<Carry>,
) -> Result<Metrics, StateError> {
    let counts = s
        .rules
        .iter()
        .flat_map(|r| r.counts.iter().chain(r.arms.values()))
        .chain(s.stages.iter().flat_map(|st| st.entered.values()))
        .chain(s.goals.iter().flat_map(|g| {
            std::iter::once(&g.conversions)
                .chain(g.by_stage.values())
                .chain(g.by_arm.values())
        }));
    if let Some(n) = counts.into_iter().find(|&&n| n > MAX_COUNT) {
        return Err(StateError::CountOutOfRange { count: *n });
    }
    let mut m = Metrics::new(p);
    for r in &s.rules {
        let Some(i) = keep(carry, rule_named(p, "metrics", &r.rule, Unit::Metrics))? else {
            continue;
        };
        let c = &mut m.rules[i.index()];
        [
            c.fired,
            c.capped,
            c.suppressed,
            c.excluded,
            c.errors,
            c.decisions,
        ] = r.counts;
        match &r.arms {
            Counts::Named(saved) => {
                for (arm, n) in saved {
                    if let Some(a) = keep(carry, arm_named(p, i, arm, Unit::ArmCounts))? {
                        c.arms[a] = *n;
                    }
                }
            }
            Counts::Positional(saved) => {
                let arms = if saved.len() == c.arms.len() {
                    Ok(saved)
                } else {
                    Err(gone(
                        format!("rule `{}` changed its split arms", r.rule),
                        Unit::ArmCounts,
                        unfit(
                            "metrics",
                            ProgramItem::Rule {
                                rule: r.rule.clone(),
                            },
                            false,
                            format!(
                                "rule `{}` has {} arms, not {}",
                                r.rule,
                                c.arms.len(),
                                saved.len()
                            ),
                        ),
                    ))
                };
                if let Some(arms) = keep(carry, arms)? {
                    c.arms.clone_from(arms);
                }
            }
        }
    }
    for st in &s.stages {
        let Some(j) = keep(
            carry,
            journey_named(p, "metrics", &st.journey, Unit::Metrics),
        )?
        else {
            continue;
        };
        for (stage, n) in &st.entered {
            if let Some(i) = keep(carry, stage_named(p, "metrics", j, stage, Unit::Metrics))? {
                m.stages[j.index()][i.index()] = *n;
            }
        }
    }
    for g in &s.goals {
        let Some(j) = keep(
            carry,
            journey_named(p, "metrics", &g.journey, Unit::Metrics),
        )?
        else {
            continue;
        };
        let Some(goal) = keep(carry, goal_named(p, "metrics", j, &g.goal, Unit::Metrics))? else {
            continue;
        };
        let journey = &p.journeys[j];
        let counts = &mut m.goals[j.index()][goal.index()];
        counts.conversions = g.conversions;
        match &g.by_stage {
            Counts::Named(saved) => {
                for (stage, n) in saved {
                    if let Some(st) =
                        keep(carry, stage_named(p, "metrics", j, stage, Unit::Metrics))?
                    {
                        counts.by_stage[st.index()] = *n;
                    }
                }
            }
            Counts::Positional(saved) => {
                let fits = if saved.len() == counts.by_stage.len() {
                    Ok(saved)
                } else {
                    Err(goal_misfit(&g.journey, &g.goal))
                };
                if let Some(saved) = keep(carry, fits)? {
                    counts.by_stage.clone_from(saved);
                }
            }
        }
        match &g.by_arm {
            ByArm::Named(saved) => {
                for (rule, arms) in saved {
                    let found = counts
                        .by_arm
                        .iter_mut()
                        .find(|(r, _)| *p.rules[*r].qualified == **rule);
                    let Some((r, mine)) = found else {
                        let lost = gone(
                            format!("split `{rule}` is gone"),
                            Unit::Metrics,
                            unfit(
                                "metrics",
                                ProgramItem::Rule { rule: rule.clone() },
                                true,
                                format!("journey `{}` has no split rule `{rule}`", journey.name),
                            ),
                        );
                        keep::<()>(carry, Err(lost))?;
                        continue;
                    };
                    for (arm, n) in arms {
                        if let Some(a) = keep(carry, arm_named(p, *r, arm, Unit::Metrics))? {
                            mine[a] = *n;
                        }
                    }
                }
            }
            ByArm::Positional(saved) => {
                let fits = saved.len() == counts.by_arm.len()
                    && (saved.iter().zip(&counts.by_arm))
                        .all(|((_, a), (_, b))| a.len() == b.len());
                let fits = if fits {
                    Ok(saved)
                } else {
                    Err(goal_misfit(&g.journey, &g.goal))
                };
                if let Some(saved) = keep(carry, fits)? {
                    for ((_, saved), (_, mine)) in saved.iter().zip(counts.by_arm.iter_mut()) {
                        mine.clone_from(saved);
                    }
                }
            }
        }
    }
    Ok(m)
}
