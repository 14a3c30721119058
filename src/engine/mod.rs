//! The engine: per-customer state, timers, and the processing of events
//! into decisions.

mod customers;
mod decision;
mod event;
mod explain;
mod metrics;
mod state;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::compile::index::Entry;
use crate::compile::{CArg, CallArgs, Program, RuleDef, Scope, Step, TriggerDef};
use crate::ids::{ActionId, ArmId, JourneyId, RuleId, RuleOrder, StageId, Table};

use customers::{Customer, Customers, JourneyState, TimerEvent, View};
use decision::Args;
pub use decision::{Arg, Cause, Decision, WithCause};
pub(crate) use event::split_position;
pub use event::{Event, EventBuilder, EventError};
pub use explain::{Considered, Explanation, Verdict};
use explain::{Dropped, Gate, Observer};
pub use metrics::{GoalCounts, Metrics, RuleCounts};
pub use state::{shard_of, Carry, CustomerState, ProgramItem, State, StateError};

/// Runs a compiled program over a stream of events, keeping every
/// customer's state. One engine serves one shard of customers; it is
/// `Send`, so a host can run one per thread.
///
/// ```
/// use std::sync::Arc;
/// use jrule::{Engine, Event, Program, Source};
///
/// let program = Arc::new(Program::compile(&[Source::new(
///     "hello.jr",
///     "signal hello\naction greet(name: text)\nwhen hello then greet(\"world\")",
/// )])?.program);
/// let mut engine = Engine::new(program.clone());
/// let event = Event::from_json(&program, r#"{"customer":"c1","signal":"hello","time":"2026-03-01T09:00:00Z"}"#)?;
/// let decisions = engine.process(&event)?;
/// assert_eq!(
///     decisions[0].to_json(),
///     r#"{"time":"2026-03-01T09:00:00Z","customer":"c1","journey":null,"rule":"L3","action":"greet","args":{"name":"world"}}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    program: Arc<Program>,
    clock: Option<i64>,
    /// How much older than the clock an event may be and still be accepted.
    lateness: i64,
    /// The customers changed since the last [`take_changes`](Engine::take_changes),
    /// when tracked.
    changed: Option<state::Changed>,
    customers: Customers,
    /// Every pending timer: deadline, customer slot, rule declaration order.
    timers: BTreeSet<TimerKey>,
    /// Counters, but for the two that every firing touches.
    metrics: Metrics,
    /// Per rule: fired, decisions — dense, as they are counted on the hot path.
    hot: Table<RuleId, [u64; 2]>,
    scratch: Scratch,
}

/// Buffers reused from event to event, so that deciding allocates nothing.
#[derive(Debug, Clone, Default)]
struct Scratch {
    /// What the firing rules produced, before `requires`, `exclusive` and moves.
    outs: Vec<Out>,
    /// The moves made: journey, from, to.
    moved: Vec<(JourneyId, Option<StageId>, StageId)>,
    /// Timers due at one instant, to fire in customer-id order.
    due: Vec<TimerKey>,
}

/// A timer in the queue: deadline, customer slot, rule declaration order.
/// Timers due at the same instant fire by customer id, not slot.
type TimerKey = (i64, u32, RuleOrder);

/// One output of a fired rule, before `requires`, `exclusive` and the
/// one-move-per-journey rule are applied.
#[derive(Debug, Clone)]
enum Out {
    Fired {
        rule: RuleId,
        /// No limit and no split: nothing to record but the count.
        plain: bool,
    },
    Call {
        rule: RuleId,
        action: ActionId,
        args: Args,
        arm: Option<ArmId>,
    },
    Move {
        rule: RuleId,
        journey: JourneyId,
        to: StageId,
        arm: Option<ArmId>,
    },
    Dropped,
}

impl Engine {
    /// A fresh engine with no customers and no clock.
    pub fn new(program: Arc<Program>) -> Engine {
        let metrics = Metrics::new(&program);
        let hot = vec![[0; 2]; program.rules.len()].into();
        Engine {
            hot,
            program,
            clock: None,
            lateness: 0,
            changed: None,
            customers: Customers::default(),
            timers: BTreeSet::new(),
            metrics,
            scratch: Scratch {
                outs: Vec::with_capacity(16),
                moved: Vec::with_capacity(4),
                due: Vec::new(),
            },
        }
    }

    /// Swaps in another program, carrying every customer's state over by
    /// name (journeys, stages, rules, fields); fails, changing nothing, when
    /// some state names what the new program lacks.
    pub fn reload(&mut self, program: Arc<Program>) -> Result<(), StateError> {
        let state = self.save();
        let lateness = self.lateness;
        *self = Engine::restore(program, &state)?;
        self.lateness = lateness;
        Ok(())
    }

    /// Swaps in another program like [`reload`](Engine::reload), but drops
    /// what the new program lacks or changed instead of failing, and
    /// reports it (see [`Engine::restore_carrying`]). Fails, changing
    /// nothing, only if the state is corrupt.
    pub fn reload_carrying(&mut self, program: Arc<Program>) -> Result<Carry, StateError> {
        let state = self.save();
        let (engine, carry) = Engine::restore_carrying(program, &state)?;
        let lateness = self.lateness;
        *self = engine;
        self.lateness = lateness;
        Ok(carry)
    }

    /// Accepts events up to `ms` milliseconds older than the clock (0, the
    /// default, accepts none). A late event is processed as if it came at
    /// the clock: its decisions carry the clock's time, and windows and
    /// timers count from it, since the timers that fell due after its own
    /// time have already fired. Older events are rejected as out of order.
    pub fn set_lateness(&mut self, ms: i64) {
        self.lateness = ms.max(0);
    }

    /// The allowed lateness set by [`set_lateness`](Engine::set_lateness).
    pub fn lateness(&self) -> i64 {
        self.lateness
    }

    /// The program this engine runs.
    pub fn program(&self) -> &Arc<Program> {
        &self.program
    }

    /// The time of the last event or timer processed (ms since the epoch).
    pub fn clock(&self) -> Option<i64> {
        self.clock
    }

    /// The counters so far.
    pub fn metrics(&self) -> Metrics {
        let mut m = self.metrics.clone();
        for (counts, [fired, decisions]) in m.rules.iter_mut().zip(self.hot.iter()) {
            counts.fired = *fired;
            counts.decisions = *decisions;
        }
        m
    }

    /// The number of customers with any state.
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// Processes one event: fires due timers, then the event's rules.
    /// A rejected event changes nothing.
    pub fn process(&mut self, event: &Event) -> Result<Vec<Decision>, EventError> {
        let mut out = Vec::new();
        self.process_into(event, &mut out)?;
        Ok(out)
    }

    /// Like [`process`](Engine::process), appending decisions to `out`.
    pub fn process_into(
        &mut self,
        event: &Event,
        out: &mut Vec<Decision>,
    ) -> Result<(), EventError> {
        self.process_seen(event, out, &mut ())
    }

    /// Processes one event, reporting to `seen` what the rules' evaluation
    /// saw: the one evaluation behind both [`process`](Engine::process)
    /// (which sees nothing: `()`) and [`explain`](Engine::explain).
    fn process_seen<O: Observer>(
        &mut self,
        event: &Event,
        out: &mut Vec<Decision>,
        seen: &mut O,
    ) -> Result<(), EventError> {
        let t = self.accept(event)?;
        self.fire_due(t, out);
        self.clock = Some(t);
        let Engine {
            program,
            customers,
            metrics,
            hot,
            scratch,
            timers,
            changed,
            ..
        } = self;
        // A new customer keeps its slot only if the event leaves it some state.
        let (slot, is_new) = customers.enter(&event.customer);
        let mut cust = if is_new {
            customers.fresh()
        } else {
            customers.get(slot)
        };
        if !event.profile.is_empty() {
            let profile = cust.profile_mut(&program.default_profile);
            for (i, v) in &event.profile {
                profile[i.index()] = v.clone();
            }
        }
        cust.prune(program, t);
        seen.found(cust.view());
        let index = &program.index[event.signal];
        // Goals, against the stages as the event found them.
        for &(j, g) in &index.goals {
            let within = program.journeys[j].goals[g].within;
            let Some(js) = cust.journey_mut(j) else {
                continue;
            };
            let bit = 1u64 << g.index();
            if js.converted & bit != 0 || t.saturating_sub(js.entered) > within {
                continue;
            }
            js.converted |= bit;
            let stage = js.stage;
            let view = cust.view();
            metrics.convert(program, j, g, stage, view.exposures(), view.id());
        }
        // Rules, by journey, then top-level.
        scratch.outs.clear();
        {
            let view = cust.view();
            let profile = view.profile().unwrap_or(&program.default_profile);
            let scope = Scope {
                data: &event.data,
                at: event.at,
                via: event.via,
                time: t,
                event_time: t,
                profile,
            };
            for bucket in &index.buckets {
                let firing = Firing {
                    program,
                    cust: view,
                    scope: &scope,
                    stage: bucket.journey.and_then(|j| view.stage(j)),
                };
                let consider = |entry| firing.consider(entry, metrics, &mut scratch.outs, seen);
                if O::EVERY_RULE {
                    bucket.every(consider);
                } else {
                    bucket.visit(firing.stage, event.at, &event.data, consider);
                }
            }
        }
        let who = (slot, &event.customer);
        resolve(
            program, &mut cust, who, t, None, scratch, metrics, hot, timers, out, seen,
        );
        // Waits and memories that this event starts or ends.
        for &rule in &index.cancels_wait {
            if let TriggerDef::Absence { absent, .. } = &program.rules[rule].trigger {
                if absent.passes(event.at, event.via) {
                    cancel_timers(&mut cust, slot, timers, |r| r == rule, program);
                }
            }
        }
        for &rule in &index.starts_wait {
            if let TriggerDef::Absence { within, after, .. } = &program.rules[rule].trigger {
                if after.passes(event.at, event.via) {
                    cancel_timers(&mut cust, slot, timers, |r| r == rule, program);
                    let stored = TimerEvent {
                        time: t,
                        at: event.at,
                        via: event.via,
                        data: event.data.as_slice().into(),
                    };
                    let deadline = t.saturating_add(*within);
                    start_timer(
                        &mut cust,
                        slot,
                        rule,
                        deadline,
                        Some(stored),
                        program,
                        timers,
                    );
                }
            }
        }
        for &rule in &index.remembered_by {
            if let TriggerDef::Signal {
                after: Some((_, after)),
                ..
            } = &program.rules[rule].trigger
            {
                if after.passes(event.at, event.via) {
                    cust.remember(rule, t);
                }
            }
        }
        customers.settle(slot, is_new);
        if let Some(changed) = changed {
            if !is_new || customers.find(&event.customer).is_some() {
                changed.insert(Arc::clone(&event.customer));
            }
        }
        Ok(())
    }

    /// The time an event is processed at, if this engine accepts it: one
    /// read for its program, at an admitted time.
    fn accept(&self, event: &Event) -> Result<i64, EventError> {
        if event.layout != self.program.names.layout {
            return Err(EventError::OtherProgram);
        }
        self.admit(event.time)
    }

    /// The time an event at `time` is processed at: its own, or the clock
    /// for an event late by at most the allowed lateness.
    fn admit(&self, time: i64) -> Result<i64, EventError> {
        if !crate::time::IN_RANGE.contains(&time) {
            return Err(EventError::TimeOutOfRange { time });
        }
        match self.clock {
            Some(clock) if time < clock && clock - time > self.lateness => {
                Err(EventError::OutOfOrder { time, clock })
            }
            Some(clock) => Ok(time.max(clock)),
            None => Ok(time),
        }
    }

    /// Advances the clock to `time`, firing every timer due by then. A
    /// time behind the clock by at most the allowed lateness changes nothing.
    pub fn advance_to(&mut self, time: i64) -> Result<Vec<Decision>, EventError> {
        let mut out = Vec::new();
        self.advance_into(time, &mut out)?;
        Ok(out)
    }

    /// Like [`advance_to`](Engine::advance_to), appending decisions to `out`.
    pub fn advance_into(&mut self, time: i64, out: &mut Vec<Decision>) -> Result<(), EventError> {
        let time = self.admit(time)?;
        self.fire_due(time, out);
        self.clock = Some(time);
        Ok(())
    }

    fn fire_due(&mut self, until: i64, out: &mut Vec<Decision>) {
        let mut due = std::mem::take(&mut self.scratch.due);
        while let Some(&(deadline, _, _)) = self.timers.first() {
            if deadline > until {
                break;
            }
            // Every timer due at this instant, by customer id, then rule.
            // (Durations are positive: firing one never adds another here.)
            due.clear();
            while self.timers.first().is_some_and(|k| k.0 == deadline) {
                due.extend(self.timers.pop_first());
            }
            if due.len() > 1 {
                let customers = &self.customers;
                due.sort_unstable_by(|a, b| {
                    customers
                        .id(a.1)
                        .cmp(&customers.id(b.1))
                        .then(a.2.cmp(&b.2))
                });
            }
            for &key in &due {
                self.fire_timer(key, out);
            }
        }
        self.scratch.due = due;
    }

    fn fire_timer(&mut self, (t, slot, declared): TimerKey, out: &mut Vec<Decision>) {
        self.clock = Some(self.clock.map_or(t, |c| c.max(t)));
        let Engine {
            program,
            customers,
            metrics,
            hot,
            scratch,
            timers,
            ..
        } = self;
        let Some(rule_id) = program.by_declaration.get(declared).copied() else {
            return;
        };
        let Some(id) = customers.id(slot).cloned() else {
            return;
        };
        let mut cust = customers.get(slot);
        let Some(timer) = cust.take_timer(rule_id, t) else {
            return;
        };
        cust.prune(program, t);
        let rule = &program.rules[rule_id];
        scratch.outs.clear();
        {
            let view = cust.view();
            let stage = rule.journey.and_then(|j| view.stage(j));
            let profile = view.profile().unwrap_or(&program.default_profile);
            let stay_ok = match rule.trigger {
                TriggerDef::Stay { stage: s, .. } => stage == Some(s),
                _ => true,
            };
            if stay_ok {
                let scope = match &timer.event {
                    Some(e) => Scope {
                        data: &e.data,
                        at: e.at,
                        via: e.via,
                        time: t,
                        event_time: e.time,
                        profile,
                    },
                    None => Scope::without_event(t, profile),
                };
                let firing = Firing {
                    program,
                    cust: view,
                    scope: &scope,
                    stage,
                };
                firing.fire(rule_id, false, metrics, &mut scratch.outs, &mut ());
            }
        }
        resolve(
            program,
            &mut cust,
            (slot, &id),
            t,
            Some(t),
            scratch,
            metrics,
            hot,
            timers,
            out,
            &mut (),
        );
        customers.settle(slot, false);
        if let Some(changed) = &mut self.changed {
            changed.insert(id);
        }
    }
}

/// What a rule is evaluated against: one customer at one moment.
struct Firing<'a> {
    program: &'a Program,
    cust: View<'a>,
    scope: &'a Scope<'a>,
    /// The customer's stage in the rule's journey, as the event found it.
    stage: Option<StageId>,
}

impl Firing<'_> {
    /// Checks an event-triggered rule's filters, then fires it if it holds.
    fn consider<O: Observer>(
        &self,
        entry: Entry,
        metrics: &mut Metrics,
        outs: &mut Vec<Out>,
        seen: &mut O,
    ) {
        let rule_id = entry.rule();
        if let Some((action, args)) = entry.fast() {
            // One constant call, nothing to check: the index entry is enough.
            outs.push(Out::Fired {
                rule: rule_id,
                plain: true,
            });
            outs.push(Out::Call {
                rule: rule_id,
                action,
                args: Args::Fixed(args),
                arm: None,
            });
            seen.fired(rule_id);
            return;
        }
        let proven = entry.proven();
        let rule = &self.program.rules[rule_id];
        let TriggerDef::Signal { event, after } = &rule.trigger else {
            return;
        };
        if !event.passes_at(self.scope.at) {
            return seen.stopped(rule_id, Gate::Place(event));
        }
        if !event.passes_via(self.scope.via) {
            return seen.stopped(rule_id, Gate::Channel(event));
        }
        if let Some((within, earlier)) = after {
            let remembered = self.cust.remembered(rule_id);
            if remembered.is_none_or(|when| self.scope.time.saturating_sub(when) > *within) {
                return seen.stopped(rule_id, Gate::NoEarlier(*within, earlier));
            }
        }
        self.fire(rule_id, proven, metrics, outs, seen);
    }

    /// Evaluates a rule whose trigger matched: stage, condition, cap, actions.
    fn fire<O: Observer>(
        &self,
        rule_id: RuleId,
        proven: bool,
        metrics: &mut Metrics,
        outs: &mut Vec<Out>,
        seen: &mut O,
    ) {
        let rule = &self.program.rules[rule_id];
        if !rule.in_stage(self.stage) {
            return seen.stopped(rule_id, Gate::Stage(self.stage));
        }
        if let (Some(condition), false) = (&rule.condition, proven) {
            match condition.holds(self.scope) {
                Ok(true) => {}
                Ok(false) => return seen.stopped(rule_id, Gate::WhereFalse(self.scope)),
                Err(_) => {
                    metrics.rules[rule_id.index()].errors += 1;
                    return seen.stopped(rule_id, Gate::WhereError(self.scope));
                }
            }
        }
        if let Some((count, per)) = rule.limit {
            let since = self.scope.time.saturating_sub(per);
            if self.cust.cap_count(rule_id, since) >= count {
                metrics.rules[rule_id.index()].capped += 1;
                return seen.stopped(rule_id, Gate::Capped);
            }
        }
        let mark = outs.len();
        outs.push(Out::Fired {
            rule: rule_id,
            plain: false,
        });
        if steps(
            self.program,
            rule_id,
            rule,
            &rule.steps,
            None,
            self.scope,
            self.cust.id(),
            outs,
        )
        .is_err()
        {
            outs.truncate(mark);
            metrics.rules[rule_id.index()].errors += 1;
            seen.stopped(rule_id, Gate::StepError);
        } else {
            seen.fired(rule_id);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn steps(
    program: &Program,
    rule_id: RuleId,
    rule: &RuleDef,
    list: &[Step],
    arm: Option<ArmId>,
    scope: &Scope<'_>,
    customer: &str,
    outs: &mut Vec<Out>,
) -> Result<(), crate::compile::EvalError> {
    for step in list {
        match step {
            Step::Skip => {}
            Step::Move { stage } => {
                if let Some(journey) = rule.journey {
                    outs.push(Out::Move {
                        rule: rule_id,
                        journey,
                        to: *stage,
                        arm,
                    });
                }
            }
            Step::Call { action, args } => {
                let args = match args {
                    CallArgs::Fixed(i) => Args::Fixed(*i),
                    CallArgs::Computed(list) => {
                        let mut values = Vec::with_capacity(list.len());
                        for (name, arg) in list {
                            let value = match arg {
                                CArg::Const(a) => a.clone(),
                                CArg::Expr(e, ty) => match e.eval(scope)?.to_value(scope)? {
                                    Some(v) => program.names.arg(*ty, &v),
                                    None => Arg::Null,
                                },
                            };
                            values.push((Arc::clone(name), value));
                        }
                        Args::Owned(values.into())
                    }
                };
                outs.push(Out::Call {
                    rule: rule_id,
                    action: *action,
                    args,
                    arm,
                });
            }
            Step::Split { first, arms } => {
                let journey = rule.journey.map_or("", |j| &*program.journeys[j].name);
                let bucket = bucket(customer, journey, &rule.name);
                if let Some((i, chosen)) = arms
                    .iter()
                    .enumerate()
                    .find(|(_, a)| a.low <= bucket && bucket < a.high)
                {
                    steps(
                        program,
                        rule_id,
                        rule,
                        &chosen.steps,
                        Some(ArmId::new(first.index() + i)),
                        scope,
                        customer,
                        outs,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// The split bucket (0..100) of a customer for a rule: FNV-1a 64 of
/// `customer 0xFF journey 0xFF rule`, modulo 100. Stable everywhere.
pub(crate) fn bucket(customer: &str, journey: &str, rule: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in [customer, journey, rule].iter().enumerate() {
        if i > 0 {
            h ^= 0xFF;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for &b in part.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (h % 100) as u32
}

/// Applies `requires`, `exclusive` and one move per journey; emits the
/// decisions; records firings; applies the moves.
#[allow(clippy::too_many_arguments)]
fn resolve<O: Observer>(
    program: &Arc<Program>,
    cust: &mut Customer<'_>,
    (slot, customer): (u32, &Arc<str>),
    t: i64,
    timer: Option<i64>,
    scratch: &mut Scratch,
    metrics: &mut Metrics,
    hot: &mut Table<RuleId, [u64; 2]>,
    timers: &mut BTreeSet<TimerKey>,
    out: &mut Vec<Decision>,
    seen: &mut O,
) {
    let Scratch { outs, moved, .. } = scratch;
    if outs.is_empty() {
        return;
    }
    let info = &program.info;
    {
        let profile = cust.view().profile().unwrap_or(&program.default_profile);
        let consent = Scope::without_event(t, profile);
        // requires, then exclusive: the highest priority wins, then the first declared.
        let mut exclusive = false;
        for o in outs.iter_mut() {
            if let Out::Call { rule, action, .. } = o {
                let def = &program.actions[*action];
                exclusive |= def.exclusive;
                if let Some(requires) = &def.requires {
                    if !requires.holds(&consent).unwrap_or(false) {
                        metrics.rules[rule.index()].suppressed += 1;
                        seen.dropped(*rule, Dropped::Requires);
                        *o = Out::Dropped;
                    }
                }
            }
        }
        if exclusive {
            exclude(program, outs, metrics, seen);
        }
    }
    // One move per journey: the first allowed one in decision order.
    moved.clear();
    for o in outs.iter_mut() {
        if let Out::Move {
            rule, journey, to, ..
        } = *o
        {
            let from = cust.view().stage(journey);
            if moved.iter().any(|m| m.0 == journey) || !program.journeys[journey].allows(from, to) {
                seen.dropped(rule, Dropped::Move);
                *o = Out::Dropped;
            } else {
                moved.push((journey, from, to));
            }
        }
    }
    for o in outs.iter() {
        let (rule, action, args, arm) = match o {
            Out::Fired { rule, plain } => {
                hot[*rule][0] += 1;
                if *plain {
                    continue;
                }
                let def = &info[*rule];
                if def.limited() {
                    cust.add_firing(*rule, t);
                }
                if let (Some(j), true) = (def.journey, def.split()) {
                    if cust.view().stage(j).is_some() {
                        cust.expose(*rule);
                    }
                }
                continue;
            }
            Out::Dropped => continue,
            Out::Call {
                rule,
                action,
                args,
                arm,
            } => (*rule, Some(*action), args.clone(), *arm),
            Out::Move {
                rule,
                journey,
                to,
                arm,
            } => {
                let from = moved.iter().find(|m| m.0 == *journey).and_then(|m| m.1);
                let args = program.journeys[*journey].move_args(from, *to, &program.words);
                (*rule, None, Args::Owned(args), *arm)
            }
        };
        hot[rule][1] += 1;
        if let Some(a) = arm {
            metrics.rules[rule.index()].arms[a.index()] += 1;
        }
        out.push(Decision {
            time: t,
            customer: Arc::clone(customer),
            program: Arc::clone(program),
            rule,
            action,
            args,
            arm,
            timer,
        });
    }
    // Apply the moves; restart the stay timers of the journeys that moved.
    for &(journey, _, to) in moved.iter() {
        match cust.journey_mut(journey) {
            Some(js) => {
                js.stage = to;
                js.since = t;
            }
            None => cust.enter_journey(JourneyState {
                journey,
                stage: to,
                entered: t,
                since: t,
                converted: 0,
            }),
        }
        metrics.stages[journey.index()][to.index()] += 1;
        cancel_timers(
            cust,
            slot,
            timers,
            |r| {
                let rule = &program.rules[r];
                rule.journey == Some(journey) && matches!(rule.trigger, TriggerDef::Stay { .. })
            },
            program,
        );
        for &rule in &program.journeys[journey].stay_rules[to] {
            if let TriggerDef::Stay { duration, .. } = program.rules[rule].trigger {
                start_timer(
                    cust,
                    slot,
                    rule,
                    t.saturating_add(duration),
                    None,
                    program,
                    timers,
                );
            }
        }
    }
}

/// `exclusive`: of the calls of one exclusive action, only the one from the
/// rule that comes first (priority, then declaration) survives.
fn exclude<O: Observer>(program: &Program, outs: &mut [Out], metrics: &mut Metrics, seen: &mut O) {
    let key = |rule: RuleId| program.info[rule].rank;
    for (a, action) in program.actions.iter_ids() {
        if !action.exclusive {
            continue;
        }
        let winner = outs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Out::Call { rule, action, .. } if *action == a => Some((key(*rule), i)),
                _ => None,
            })
            .min();
        if let Some((_, keep)) = winner {
            for (i, o) in outs.iter_mut().enumerate() {
                if let Out::Call { rule, action, .. } = o {
                    if *action == a && i != keep {
                        metrics.rules[rule.index()].excluded += 1;
                        seen.dropped(*rule, Dropped::Exclusive);
                        *o = Out::Dropped;
                    }
                }
            }
        }
    }
}

/// Cancels a customer's timers of the rules that `cancel` selects.
fn cancel_timers(
    cust: &mut Customer<'_>,
    slot: u32,
    timers: &mut BTreeSet<TimerKey>,
    cancel: impl Fn(RuleId) -> bool,
    program: &Program,
) {
    cust.remove_timers(
        |timer| cancel(timer.rule),
        |timer| {
            let declared = program.rules[timer.rule].declared;
            timers.remove(&(timer.deadline, slot, declared));
        },
    );
}

fn start_timer(
    cust: &mut Customer<'_>,
    slot: u32,
    rule: RuleId,
    deadline: i64,
    event: Option<TimerEvent>,
    program: &Program,
    timers: &mut BTreeSet<TimerKey>,
) {
    cust.add_timer(rule, deadline, event);
    timers.insert((deadline, slot, program.rules[rule].declared));
}
