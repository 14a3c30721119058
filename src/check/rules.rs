//! Journeys and rules: triggers, clauses, actions and moves.

use indexmap::IndexMap;

use super::expr::Scope;
use super::lint::{JourneyMoves, Move};
use super::{Checker, JourneyInfo, MAX_LISTED_NAMES};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{Action, Call, Duration, Filtered, Ident, Journey, Rule, Trigger};

/// The most goals a journey may have (the engine keeps a bit per goal).
pub const MAX_GOALS: usize = 64;

/// What a rule sees while its actions are checked.
struct RuleContext<'a> {
    journey: Option<(&'a str, &'a JourneyInfo)>,
    scope: Scope<'a>,
    from: Option<Vec<usize>>,
}

impl Checker<'_> {
    pub(super) fn journey(&mut self, j: &mut Journey) -> JourneyMoves {
        let mut out = JourneyMoves {
            journey: j.name.name.clone(),
            moves: Vec::new(),
        };
        // A duplicate journey is reported; its body is still checked alone.
        let own = super::stage_graph(j);
        let info = match self.symbols.journeys.get(&j.name.name) {
            Some(info) if info.span.key() == j.name.span.key() => info.clone(),
            _ => own,
        };
        let mut goals: IndexMap<String, Span> = IndexMap::new();
        for goal in &j.goals {
            self.signal(&goal.signal);
            self.positive(&goal.within, "a goal's window");
            // Goals are known by signal and window (in state files, metrics).
            let name = super::resolved::goal_name(goal);
            match goals.get(&name).copied() {
                None => {
                    goals.insert(name, goal.span);
                }
                Some(first) => self.report(
                    super::duplicate("goal", &name, goal.span, first)
                        .help("a goal is known by its signal and window: remove the second"),
                ),
            }
        }
        if let Some(extra) = j.goals.get(MAX_GOALS) {
            self.report(
                Diagnostic::new(
                    Code::Limit,
                    extra.span,
                    format!(
                        "journey `{}` has more than the limit of {MAX_GOALS} goals",
                        j.name.name
                    ),
                )
                .label("one goal too many")
                .help("measure the other conversions in another journey"),
            );
        }
        let mut names: IndexMap<String, (Span, bool)> = IndexMap::new();
        for (index, rule) in j.rules.iter_mut().enumerate() {
            self.rule_name(rule, &mut names);
            let moves = self.rule(rule, Some((&j.name.name, &info)));
            out.moves.extend(moves.into_iter().map(|mut m| {
                m.rule = index;
                m
            }));
        }
        out
    }

    /// Checks one rule; returns its valid moves.
    pub(super) fn rule(
        &mut self,
        rule: &mut Rule,
        journey: Option<(&str, &JourneyInfo)>,
    ) -> Vec<Move> {
        let (scope, signal) = self.trigger(&rule.trigger, journey);
        let mut from = match &rule.trigger {
            Trigger::Stay { stage, .. } => journey
                .and_then(|(_, j)| j.stages.get_index_of(&stage.name))
                .map(|i| vec![i]),
            _ => None,
        };
        if let Some(clause) = &rule.stages {
            match journey {
                None => self.outside(clause.keyword, "an `in` clause"),
                Some((name, info)) => {
                    let stages: Vec<usize> = clause
                        .stages
                        .iter()
                        .filter_map(|s| self.stage(s, name, info))
                        .collect();
                    if from.is_none() && stages.len() == clause.stages.len() {
                        from = Some(stages);
                    }
                }
            }
        }
        if let Some(condition) = &mut rule.condition {
            self.check_condition(condition, &scope, "where");
            if condition.ty == crate::types::Ty::BOOL && super::lint::always_false(condition) {
                self.report(
                    Diagnostic::new(
                        Code::NeverFires,
                        condition.span,
                        "this rule never fires: its `where` is always false",
                    )
                    .label("always false")
                    .help("fix the condition or remove the rule"),
                );
            }
        }
        if let Some(limit) = &rule.limit {
            if limit.count <= 0 {
                self.report(
                    Diagnostic::new(
                        Code::BadLimit,
                        limit.count_span,
                        format!("`limit {}` lets the rule fire no time at all", limit.count),
                    )
                    .label("must be at least 1")
                    .help("remove the rule, or allow at least one decision per window"),
                );
            }
            self.positive(&limit.per, "a limit's window");
        }
        let (at, via) = match &rule.trigger {
            Trigger::Signal { event, .. } => (names(&event.at), names(&event.via)),
            _ => (Vec::new(), Vec::new()),
        };
        let ctx = RuleContext {
            journey,
            scope,
            from,
        };
        let targets = self.actions(&mut rule.actions, &ctx);
        let priority = rule.priority.as_ref().map_or(0, |p| p.value);
        targets
            .into_iter()
            .map(|(to, span)| Move {
                rule: 0,
                priority,
                signal: signal.clone(),
                at: at.clone(),
                via: via.clone(),
                from: ctx.from.clone(),
                to,
                span,
            })
            .collect()
    }

    /// Checks a trigger; returns what `event` means and the firing signal.
    fn trigger<'a>(
        &mut self,
        trigger: &'a Trigger,
        journey: Option<(&str, &JourneyInfo)>,
    ) -> (Scope<'a>, Option<String>) {
        match trigger {
            Trigger::Signal { event, after } => {
                let known = self.filtered(event);
                if let Some((within, after)) = after {
                    self.positive(within, "`within`");
                    self.filtered(after);
                }
                let scope = if known {
                    Scope::Signal(&event.signal.name)
                } else {
                    Scope::Unknown
                };
                (scope, Some(event.signal.name.clone()))
            }
            Trigger::Absence {
                absent,
                within,
                after,
            } => {
                self.filtered(absent);
                self.positive(within, "`within`");
                let known = self.filtered(after);
                let scope = if known {
                    Scope::Signal(&after.signal.name)
                } else {
                    Scope::Unknown
                };
                (scope, None)
            }
            Trigger::Stay {
                keyword,
                stage,
                duration,
            } => {
                match journey {
                    None => self.outside(*keyword, "a `when in … for` trigger"),
                    Some((name, info)) => {
                        self.stage(stage, name, info);
                    }
                }
                self.positive(duration, "`for`");
                (Scope::Timer, None)
            }
        }
    }

    /// Checks a signal and its filters; true when the signal is known.
    fn filtered(&mut self, f: &Filtered) -> bool {
        for p in &f.at {
            self.member(p, true);
        }
        for c in &f.via {
            self.member(c, false);
        }
        self.signal(&f.signal)
    }

    pub(super) fn member(&mut self, name: &Ident, place: bool) {
        let (table, kind, code) = if place {
            (&self.symbols.places, "place", Code::UnknownPlace)
        } else {
            (&self.symbols.channels, "channel", Code::UnknownChannel)
        };
        if table.contains_key(&name.name) {
            return;
        }
        let help = self
            .suggest(&name.name, table.keys().map(|s| s.as_str()))
            .or_else(|| Some(format!("declare it with `{kind}s {}`", name.name)));
        self.report(
            Diagnostic::new(code, name.span, format!("unknown {kind} `{}`", name.name))
                .label(format!("not a declared {kind}"))
                .maybe_help(help),
        );
    }

    /// Resolves a signal name; true when declared.
    pub(super) fn signal(&mut self, name: &Ident) -> bool {
        if self.symbols.signals.contains_key(&name.name) {
            self.used_signals.insert(name.name.clone());
            return true;
        }
        let help = self
            .suggest(&name.name, self.symbols.signals.keys().map(|s| s.as_str()))
            .or_else(|| Some(format!("declare it with `signal {}`", name.name)));
        self.report(
            Diagnostic::new(
                Code::UnknownSignal,
                name.span,
                format!("unknown signal `{}`", name.name),
            )
            .label("not a declared signal")
            .maybe_help(help),
        );
        false
    }

    fn stage(&mut self, name: &Ident, journey: &str, info: &JourneyInfo) -> Option<usize> {
        if let Some(i) = info.stages.get_index_of(&name.name) {
            return Some(i);
        }
        let help = self
            .suggest(&name.name, info.stages.keys().map(|s| s.as_str()))
            .or_else(|| {
                Some(format!(
                    "add it to the journey's graph, e.g. `stages {} -> …`",
                    name.name
                ))
            });
        self.report(
            Diagnostic::new(
                Code::UnknownStage,
                name.span,
                format!("journey `{journey}` has no stage `{}`", name.name),
            )
            .label("unknown stage")
            .maybe_help(help),
        );
        None
    }

    fn outside(&mut self, span: Span, what: &str) {
        self.report(
            Diagnostic::new(
                Code::StageOutsideJourney,
                span,
                format!("{what} needs a journey, but this rule stands outside any journey"),
            )
            .label("top-level rules have no stages")
            .help("move the rule into the journey whose stages it reads"),
        );
    }

    /// Reports a zero duration.
    pub(super) fn positive(&mut self, d: &Duration, what: &str) {
        if d.ms == 0 {
            self.report(
                Diagnostic::new(
                    Code::BadLimit,
                    d.span,
                    format!("{what} must be longer than zero"),
                )
                .label("zero")
                .help("use a positive duration like `1h`"),
            );
        }
    }

    /// Checks actions; returns the stages moved to, with their spans.
    fn actions(&mut self, actions: &mut [Action], ctx: &RuleContext<'_>) -> Vec<(usize, Span)> {
        let mut moves = Vec::new();
        for action in actions {
            match action {
                Action::Call(call) => self.call(call, &ctx.scope),
                Action::Skip(_) => {}
                Action::Move { keyword, stage } => match ctx.journey {
                    None => self.outside(*keyword, "`move`"),
                    Some((name, info)) => {
                        if let Some(to) = self.stage(stage, name, info) {
                            if self.move_allowed(stage, to, ctx, info) {
                                moves.push((to, stage.span));
                            }
                        }
                    }
                },
                Action::Split(split) => {
                    let total: u64 = split.arms.iter().map(|a| u64::from(a.percent)).sum();
                    if total != 100 {
                        let arms = split
                            .arms
                            .iter()
                            .map(|a| format!("{}%", a.percent))
                            .collect::<Vec<_>>()
                            .join(" + ");
                        self.report(
                            Diagnostic::new(
                                Code::SplitTotal,
                                split.keyword,
                                format!("split percentages sum to {total}%, not 100%"),
                            )
                            .label(format!("{arms} = {total}%"))
                            .help("make the arms add up to exactly 100%"),
                        );
                    }
                    let mut arm_names: IndexMap<String, Span> = IndexMap::new();
                    for arm in &mut split.arms {
                        let first = arm_names.get(&arm.name.name).copied();
                        if self.declare("split arm", first, &arm.name.name, arm.name.span) {
                            arm_names.insert(arm.name.name.clone(), arm.name.span);
                        }
                        moves.extend(self.actions(&mut arm.actions, ctx));
                    }
                }
            }
        }
        moves
    }

    /// Reports a move that some or every stage of the rule cannot make.
    fn move_allowed(
        &mut self,
        stage: &Ident,
        to: usize,
        ctx: &RuleContext<'_>,
        info: &JourneyInfo,
    ) -> bool {
        let Some(from) = &ctx.from else { return true };
        let blocked: Vec<&str> = from
            .iter()
            .filter(|&&f| !info.allows(Some(f), to))
            .filter_map(|&f| info.stages.get_index(f).map(|(n, _)| n.as_str()))
            .collect();
        if blocked.is_empty() {
            return true;
        }
        let list = blocked
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let edge = format!("add an edge like `stages {} -> {}`", blocked[0], stage.name);
        if blocked.len() == from.len() {
            self.report(
                Diagnostic::new(
                    Code::InvalidMove,
                    stage.span,
                    format!(
                        "`move to {}` is never allowed: no edge leads there from {list}",
                        stage.name
                    ),
                )
                .label("no edge to this stage")
                .help(edge),
            );
            false
        } else {
            self.report(
                Diagnostic::new(
                    Code::PartialMove,
                    stage.span,
                    format!("`move to {}` is not allowed from {list}", stage.name),
                )
                .label("ignored in some stages")
                .help(format!("{edge}, or drop those stages from the `in` clause")),
            );
            true
        }
    }

    pub(super) fn call(&mut self, call: &mut Call, scope: &Scope<'_>) {
        let Some(info) = self.symbols.actions.get(&call.name.name) else {
            let help = self
                .suggest(
                    &call.name.name,
                    self.symbols.actions.keys().map(|s| s.as_str()),
                )
                .or_else(|| Some(format!("declare it with `action {}(…)`", call.name.name)));
            self.report(
                Diagnostic::new(
                    Code::UnknownAction,
                    call.name.span,
                    format!("unknown action `{}`", call.name.name),
                )
                .label("not a declared action")
                .maybe_help(help),
            );
            return;
        };
        self.used_actions.insert(call.name.name.clone());
        // The arity first: a call of an action with many parameters costs
        // nothing more than its own arguments.
        if info.params.len() != call.args.len() {
            let mut signature = info
                .params
                .iter()
                .take(MAX_LISTED_NAMES)
                .map(|(n, f)| format!("{n}: {}", f.ty.display(&self.enum_names)))
                .collect::<Vec<_>>()
                .join(", ");
            if info.params.len() > MAX_LISTED_NAMES {
                signature.push_str(", …");
            }
            let takes = plural(info.params.len(), "argument");
            let given = call.args.len();
            self.report(
                Diagnostic::new(
                    Code::Arity,
                    call.name.span,
                    format!(
                        "action `{}` takes {takes}, but {given} {} given",
                        call.name.name,
                        if given == 1 { "was" } else { "were" }
                    ),
                )
                .label(format!("expects {takes}"))
                .help(format!("call it as `{}({signature})`", call.name.name)),
            );
            return;
        }
        let params: Vec<(String, crate::types::Ty)> = self.symbols.actions[&call.name.name]
            .params
            .iter()
            .map(|(n, f)| (n.clone(), f.ty))
            .collect();
        for (arg, (name, ty)) in call.args.iter_mut().zip(params) {
            let what = format!("argument `{name}` of `{}`", call.name.name);
            self.check_value(arg, ty, scope, &what);
        }
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The names of a filter, sorted, without repeats (for the overlap test of
/// the conflicting-moves warning).
fn names(list: &[Ident]) -> Vec<String> {
    let mut names: Vec<String> = list.iter().map(|i| i.name.clone()).collect();
    names.sort_unstable();
    names.dedup();
    names
}
