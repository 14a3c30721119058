//! The compiler: turns a resolved program (what a successful check makes)
//! into an indexed rule set.

pub(crate) mod expr;
pub(crate) mod index;

use std::collections::HashMap;
use std::sync::Arc;

use crate::check::resolved::{ArmDecl, FieldDecl, JourneyDecl, Resolved, RuleDecl, StepDecl};
use crate::diagnostic::Diagnostics;
use crate::ids::{
    ActionId, ArmId, ChannelId, GoalId, JourneyId, PlaceId, RuleId, RuleOrder, SignalId, StageId,
    Table,
};
use crate::source::Source;
use crate::types::{Base, Ty};
use crate::value::{Arg, Value};

pub(crate) use crate::check::resolved::{CExpr, Filter, GoalDef, Read, TriggerDef, Written};
pub(crate) use expr::{EvalError, Scope};

/// A program that failed to compile, with its diagnostics and sources for
/// rendering them.
#[derive(Debug)]
pub struct CompileError {
    /// Everything reported (at least one error).
    pub diagnostics: Diagnostics,
    /// The program's sources.
    pub sources: Vec<Source>,
}

impl std::fmt::Display for CompileError {
    /// Every error, one a line (`FILE:LINE:COLUMN: error[CODE]: MESSAGE`,
    /// columns in characters), then their count.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut lines: Vec<Option<crate::source::LineIndex>> = vec![None; self.sources.len()];
        let mut errors = 0;
        for d in self.diagnostics.iter() {
            if d.severity != crate::Severity::Error {
                continue;
            }
            errors += 1;
            let file = d.span.file as usize;
            match (self.sources.get(file), lines.get_mut(file)) {
                (Some(source), Some(index)) => {
                    let index =
                        index.get_or_insert_with(|| crate::source::LineIndex::new(&source.text));
                    let (line, column) = index.line_col(&source.text, d.span.start as usize);
                    write!(f, "{}:{line}:{column}: ", source.name)?;
                }
                _ => f.write_str("?: ")?,
            }
            writeln!(f, "error[{}]: {}", d.code, d.message)?;
        }
        match errors {
            0 => write!(f, "the program does not compile"),
            1 => write!(f, "1 error"),
            n => write!(f, "{n} errors"),
        }
    }
}

impl std::error::Error for CompileError {}

/// A declared field: name, type, whether it may be absent.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub name: Arc<str>,
    pub ty: Ty,
    pub optional: bool,
    pub default: Option<Value>,
}

impl FieldDef {
    fn of(decl: &FieldDecl) -> FieldDef {
        // A default is a literal: evaluating it needs no event nor profile.
        let scope = Scope::without_event(0, &[]);
        let default = decl
            .default
            .as_ref()
            .and_then(|e| e.eval(&scope).ok()?.to_value(&scope).ok().flatten())
            // An int literal is a float where a float is declared.
            .map(|v| v.widened(decl.ty));
        FieldDef {
            name: Arc::clone(&decl.name),
            ty: decl.ty,
            optional: decl.optional,
            default,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SignalDef {
    pub name: Arc<str>,
    pub fields: Vec<FieldDef>,
}

#[derive(Debug, Clone)]
pub(crate) struct ActionDef {
    pub name: Arc<str>,
    pub requires: Option<CExpr>,
    pub exclusive: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct JourneyDef {
    pub name: Arc<str>,
    pub stages: Table<StageId, Arc<str>>,
    /// `edges[from]` lists the stages `from` may move to.
    pub edges: Table<StageId, Vec<StageId>>,
    pub entry: Table<StageId, bool>,
    pub goals: Table<GoalId, GoalDef>,
    /// `stay_rules[stage]`: the `when in STAGE for D` rules of each stage.
    pub stay_rules: Table<StageId, Vec<RuleId>>,
    /// The arguments of each allowed move (from outside: `None`), shared
    /// by every decision that makes it.
    pub moves: HashMap<(Option<StageId>, StageId), MoveArgs>,
}

/// The `from`/`to` arguments of a move decision.
pub(crate) type MoveArgs = Arc<[(Arc<str>, Arg)]>;

impl JourneyDef {
    fn of(decl: &JourneyDecl, words: &Words) -> JourneyDef {
        let n = decl.stages.len();
        let mut edges: Table<StageId, Vec<StageId>> = vec![Vec::new(); n].into();
        for &(from, to) in &decl.edges {
            edges[from].push(to);
        }
        let mut def = JourneyDef {
            name: Arc::clone(&decl.name),
            stages: decl.stages.iter().cloned().collect(),
            edges,
            entry: decl.entry.iter().copied().collect(),
            goals: decl.goals.iter().cloned().collect(),
            stay_rules: vec![Vec::new(); n].into(),
            moves: HashMap::new(),
        };
        let entries = crate::ids::all::<StageId>(n).filter(|&s| def.entry[s]);
        let allowed: Vec<(Option<StageId>, StageId)> = entries
            .map(|s| (None, s))
            .chain(decl.edges.iter().map(|&(from, to)| (Some(from), to)))
            .collect();
        for (from, to) in allowed {
            let args = def.make_move_args(from, to, words);
            def.moves.insert((from, to), args);
        }
        def
    }

    /// The arguments of a move decision (shared when the move is allowed).
    pub(crate) fn move_args(&self, from: Option<StageId>, to: StageId, words: &Words) -> MoveArgs {
        if let Some(args) = self.moves.get(&(from, to)) {
            return Arc::clone(args);
        }
        self.make_move_args(from, to, words)
    }

    fn make_move_args(&self, from: Option<StageId>, to: StageId, words: &Words) -> MoveArgs {
        let from = from.map_or(Arg::Null, |f| Arg::Text(Arc::clone(&self.stages[f])));
        Arc::from(vec![
            (Arc::clone(&words.from), from),
            (
                Arc::clone(&words.to),
                Arg::Text(Arc::clone(&self.stages[to])),
            ),
        ])
    }

    pub(crate) fn allows(&self, from: Option<StageId>, to: StageId) -> bool {
        match from {
            None => self.entry[to],
            Some(f) => self.edges[f].contains(&to),
        }
    }

    /// The journey's stage named `name`.
    pub(crate) fn stage(&self, name: &str) -> Option<StageId> {
        self.stages.find(|s| **s == *name)
    }
}

impl Filter {
    pub(crate) fn passes(&self, at: Option<PlaceId>, via: Option<ChannelId>) -> bool {
        self.passes_at(at) && self.passes_via(via)
    }

    /// The `at` filter alone.
    pub(crate) fn passes_at(&self, at: Option<PlaceId>) -> bool {
        self.at.is_empty() || at.is_some_and(|p| self.at.contains(&p))
    }

    /// The `via` filter alone.
    pub(crate) fn passes_via(&self, via: Option<ChannelId>) -> bool {
        self.via.is_empty() || via.is_some_and(|c| self.via.contains(&c))
    }
}

/// A call's arguments, named by parameter.
#[derive(Debug, Clone)]
pub(crate) enum CallArgs {
    /// All constant: computed once, in the program's table of fixed arguments.
    Fixed(u32),
    /// Some computed per decision.
    Computed(Vec<(Arc<str>, CArg)>),
}

/// An action's argument: computed once when constant.
#[derive(Debug, Clone)]
pub(crate) enum CArg {
    Const(Arg),
    Expr(CExpr, Ty),
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Call {
        action: ActionId,
        args: CallArgs,
    },
    Move {
        stage: StageId,
    },
    /// `first`: its first arm among all the rule's arms.
    Split {
        first: ArmId,
        arms: Vec<ArmDef>,
    },
    Skip,
}

#[derive(Debug, Clone)]
pub(crate) struct ArmDef {
    /// Buckets `[low, high)` of 0..100 that fall in this arm.
    pub low: u32,
    pub high: u32,
    pub steps: Vec<Step>,
}

/// A compiled rule. Rules are numbered in decision order ([`RuleId`]).
#[derive(Debug, Clone)]
pub(crate) struct RuleDef {
    pub name: Arc<str>,
    /// `journey/rule`, or `rule` for a top-level rule: its name in state files.
    pub qualified: Arc<str>,
    pub journey: Option<JourneyId>,
    /// Position in declaration order over the whole program.
    pub declared: RuleOrder,
    pub priority: i64,
    pub trigger: TriggerDef,
    /// `in` clause: its stages, sorted.
    pub stages: Option<Vec<StageId>>,
    pub condition: Option<CExpr>,
    pub limit: Option<(usize, i64)>,
    pub steps: Vec<Step>,
    /// The names of the arms of the rule's splits, in order.
    pub arms: Vec<Arc<str>>,
}

impl RuleDef {
    pub(crate) fn in_stage(&self, stage: Option<StageId>) -> bool {
        match (&self.stages, stage) {
            (None, _) => true,
            (Some(list), Some(s)) => list.binary_search(&s).is_ok(),
            (Some(_), None) => false,
        }
    }
}

/// What an event of one signal touches.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignalIndex {
    /// The rules it can fire: per journey with such rules in declaration
    /// order, then the top-level rules.
    pub buckets: Vec<index::Bucket>,
    /// Rules `no … after S2` whose wait this signal starts.
    pub starts_wait: Vec<RuleId>,
    /// Rules `no S …` whose wait this signal cancels.
    pub cancels_wait: Vec<RuleId>,
    /// Rules `S within D after S2` that remember this signal as `S2`.
    pub remembered_by: Vec<RuleId>,
    /// Goals this signal converts.
    pub goals: Vec<(JourneyId, GoalId)>,
}

/// The names of a program, for reading events and writing decisions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    pub places: Vec<Arc<str>>,
    pub channels: Vec<Arc<str>>,
    pub enums: Vec<Vec<Arc<str>>>,
    pub customer: Vec<FieldDef>,
    pub signals: Table<SignalId, SignalDef>,
    /// Positions by name: places, channels, each enum's values, signals.
    place_ids: HashMap<Arc<str>, u32>,
    channel_ids: HashMap<Arc<str>, u32>,
    value_ids: Vec<HashMap<Arc<str>, u32>>,
    signal_ids: HashMap<Arc<str>, SignalId>,
    /// A fingerprint of everything an [`Event`](crate::Event) refers to by
    /// number (signals and their fields, places, channels, enum values,
    /// profile fields): events carry it, and an engine refuses an event
    /// whose fingerprint is not its program's.
    pub layout: u64,
}

/// FNV-1a 64 over the parts, each ended by 0xFF: the same on every machine.
pub(crate) fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0xFF]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn positions(names: &[Arc<str>]) -> HashMap<Arc<str>, u32> {
    (0u32..)
        .zip(names)
        .map(|(i, n)| (Arc::clone(n), i))
        .collect()
}

impl Names {
    fn of(r: &Resolved) -> Names {
        let signals: Table<SignalId, SignalDef> = r
            .signals
            .iter()
            .map(|s| SignalDef {
                name: Arc::clone(&s.name),
                fields: s.fields.iter().map(FieldDef::of).collect(),
            })
            .collect();
        let mut parts: Vec<String> = Vec::new();
        let field = |f: &FieldDef| format!("{}:{:?}:{}", f.name, f.ty, f.optional);
        for s in signals.iter() {
            parts.push(format!("signal {}", s.name));
            parts.extend(s.fields.iter().map(field));
        }
        parts.push("places".into());
        parts.extend(r.places.iter().map(|p| p.to_string()));
        parts.push("channels".into());
        parts.extend(r.channels.iter().map(|c| c.to_string()));
        for values in &r.enums {
            parts.push("enum".into());
            parts.extend(values.iter().map(|v| v.to_string()));
        }
        let customer: Vec<FieldDef> = r.customer.iter().map(FieldDef::of).collect();
        parts.push("customer".into());
        parts.extend(customer.iter().map(field));
        Names {
            layout: fingerprint(parts.iter().map(|p| p.as_bytes())),
            place_ids: positions(&r.places),
            channel_ids: positions(&r.channels),
            value_ids: r.enums.iter().map(|v| positions(v)).collect(),
            signal_ids: signals
                .iter_ids()
                .map(|(i, s)| (Arc::clone(&s.name), i))
                .collect(),
            places: r.places.clone(),
            channels: r.channels.clone(),
            enums: r.enums.clone(),
            customer,
            signals,
        }
    }

    /// The index of a named value of type `ty` (enum value, place, channel).
    pub(crate) fn symbol_id(&self, ty: Ty, name: &str) -> Option<u32> {
        let ids = match ty.base {
            Base::Enum(i) => self.value_ids.get(i.index()),
            Base::Place => Some(&self.place_ids),
            Base::Channel => Some(&self.channel_ids),
            _ => None,
        };
        ids.and_then(|m| m.get(name)).copied()
    }

    pub(crate) fn place(&self, name: &str) -> Option<PlaceId> {
        self.place_ids.get(name).map(|&i| PlaceId::new(i as usize))
    }

    pub(crate) fn channel(&self, name: &str) -> Option<ChannelId> {
        self.channel_ids
            .get(name)
            .map(|&i| ChannelId::new(i as usize))
    }

    pub(crate) fn names_of(&self, ty: Ty) -> &[Arc<str>] {
        match ty.base {
            Base::Enum(i) => self.enums.get(i.index()).map_or(&[], |v| v.as_slice()),
            Base::Place => &self.places,
            Base::Channel => &self.channels,
            _ => &[],
        }
    }

    pub(crate) fn signal(&self, name: &str) -> Option<SignalId> {
        self.signal_ids.get(name).copied()
    }

    /// A value as a decision argument of type `ty` (names for symbols).
    pub(crate) fn arg(&self, ty: Ty, value: &Value) -> Arg {
        match value {
            Value::Int(i) if ty.base == Base::Float => Arg::Float(*i as f64),
            Value::Int(i) => Arg::Int(*i),
            Value::Float(f) => Arg::Float(*f),
            Value::Bool(b) => Arg::Bool(*b),
            Value::Duration(d) => Arg::Duration(*d),
            Value::Text(t) => Arg::Text(Arc::from(t.as_str())),
            Value::Symbol(s) => self
                .names_of(ty)
                .get(*s as usize)
                .map_or(Arg::Null, |n| Arg::Text(Arc::clone(n))),
            Value::List(items) => {
                Arg::List(items.iter().map(|v| self.arg(ty.element(), v)).collect())
            }
        }
    }
}

/// A program that compiled, with the warnings its check reported.
#[derive(Debug)]
pub struct Compiled {
    /// The program.
    pub program: Program,
    /// The warnings (no errors), in source order.
    pub warnings: Diagnostics,
}

/// A compiled program, ready to run in an [`Engine`](crate::Engine).
///
/// ```
/// let source = jrule::Source::new("p.jr", "signal hello\naction greet\nwhen hello then greet");
/// let program = jrule::Program::compile(&[source]).expect("compiles").program;
/// assert_eq!(program.rule_count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) names: Names,
    pub(crate) actions: Table<ActionId, ActionDef>,
    pub(crate) journeys: Table<JourneyId, JourneyDef>,
    pub(crate) rules: Table<RuleId, RuleDef>,
    pub(crate) index: Table<SignalId, SignalIndex>,
    /// Rules in declaration order.
    pub(crate) by_declaration: Table<RuleOrder, RuleId>,
    /// Rules by qualified name (`journey/rule`), as state files name them.
    pub(crate) rule_ids: HashMap<Arc<str>, RuleId>,
    /// Each rule's `where` as written and what it reads, for explanations
    /// (apart from the rules, which deciding reads).
    pub(crate) written: Table<RuleId, Option<Written>>,
    /// The profile of a customer no event has set anything for.
    pub(crate) default_profile: Vec<Option<Value>>,
    /// Words of move decisions, shared rather than allocated per decision.
    pub(crate) words: Words,
    /// Constant argument lists of calls, referred to by decisions.
    pub(crate) fixed_args: Vec<FixedArgs>,
    /// What deciding needs of each rule, packed: read for every firing.
    pub(crate) info: Table<RuleId, RuleInfo>,
}

/// A constant argument list.
pub(crate) type FixedArgs = Box<[(Arc<str>, Arg)]>;

/// The facts about a rule that every firing reads, packed in 20 bytes so
/// that firing a rule touches one small record instead of its definition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleInfo {
    /// Position in (priority, highest first; then declaration) order: what
    /// `exclusive` compares.
    pub rank: u32,
    /// The journey, or `None` for a top-level rule.
    pub journey: Option<JourneyId>,
    /// For a rule that only calls one action with constant arguments and has
    /// no filter, memory, stage clause or limit: that action, and its
    /// constant arguments (index in `fixed_args`).
    pub fast: Option<(ActionId, u32)>,
    flags: u8,
}

const HAS_WHERE: u8 = 1;
const LIMITED: u8 = 2;
const SPLIT: u8 = 4;

impl RuleInfo {
    fn of(rule: &RuleDef) -> RuleInfo {
        let plain_trigger = matches!(&rule.trigger, TriggerDef::Signal { event, after: None } if event.at.is_empty() && event.via.is_empty());
        let fast = match rule.steps.as_slice() {
            [Step::Call {
                action,
                args: CallArgs::Fixed(i),
            }] if plain_trigger && rule.stages.is_none() && rule.limit.is_none() => {
                Some((*action, *i))
            }
            _ => None,
        };
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        RuleInfo {
            rank: 0,
            journey: rule.journey,
            fast,
            flags: flag(rule.condition.is_some(), HAS_WHERE)
                | flag(rule.limit.is_some(), LIMITED)
                | flag(!rule.arms.is_empty(), SPLIT),
        }
    }

    pub(crate) fn has_where(&self) -> bool {
        self.flags & HAS_WHERE != 0
    }

    pub(crate) fn limited(&self) -> bool {
        self.flags & LIMITED != 0
    }

    pub(crate) fn split(&self) -> bool {
        self.flags & SPLIT != 0
    }
}

/// `move`, `from`, `to`.
#[derive(Debug, Clone)]
pub(crate) struct Words {
    pub move_: Arc<str>,
    pub from: Arc<str>,
    pub to: Arc<str>,
}

impl Words {
    fn new() -> Words {
        Words {
            move_: Arc::from("move"),
            from: Arc::from("from"),
            to: Arc::from("to"),
        }
    }
}

impl Program {
    /// Parses, checks and compiles a program. Warnings are allowed, and
    /// returned with the program; any error returns every diagnostic.
    pub fn compile(sources: &[Source]) -> Result<Compiled, CompileError> {
        let checked = crate::check(sources);
        match checked.resolved() {
            Some(resolved) => Ok(Compiled {
                program: Program::new(resolved),
                warnings: checked.diagnostics,
            }),
            None => Err(CompileError {
                diagnostics: checked.diagnostics,
                sources: sources.to_vec(),
            }),
        }
    }

    /// Compiles a resolved program: what a check without errors makes
    /// ([`Checked::resolved`](crate::Checked::resolved)).
    pub fn new(resolved: &Resolved) -> Program {
        Compiler::default().program(resolved)
    }

    /// The number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The journey named `name`.
    pub(crate) fn journey(&self, name: &str) -> Option<JourneyId> {
        self.journeys.find(|j| *j.name == *name)
    }
}

#[derive(Default)]
struct Compiler {
    /// Constant argument lists, collected while compiling actions.
    fixed_args: Vec<FixedArgs>,
}

impl Compiler {
    fn program(mut self, r: &Resolved) -> Program {
        let names = Names::of(r);
        let words = Words::new();
        let actions = r
            .actions
            .iter()
            .map(|a| ActionDef {
                name: Arc::clone(&a.name),
                requires: a.requires.clone(),
                exclusive: a.exclusive,
            })
            .collect();
        let mut journeys: Table<JourneyId, JourneyDef> = r
            .journeys
            .iter()
            .map(|j| JourneyDef::of(j, &words))
            .collect();
        // Decision order: journeys in declaration order (top-level rules
        // last), then priority, highest first, then declaration order.
        let mut order: Vec<RuleOrder> = crate::ids::all::<RuleOrder>(r.rules.len()).collect();
        order.sort_by_key(|&d| {
            let rule = &r.rules[d.index()];
            (
                rule.journey.map_or(usize::MAX, JourneyId::index),
                std::cmp::Reverse(rule.priority),
                d,
            )
        });
        let rules: Table<RuleId, RuleDef> = order
            .iter()
            .map(|&d| self.rule(r, &r.rules[d.index()], d, &journeys, &names))
            .collect();
        let mut by_declaration: Table<RuleOrder, RuleId> = vec![RuleId::new(0); rules.len()].into();
        for (id, rule) in rules.iter_ids() {
            by_declaration[rule.declared] = id;
        }
        let written = order
            .iter()
            .map(|&d| r.rules[d.index()].written.clone())
            .collect();
        let rule_ids = rules
            .iter_ids()
            .map(|(id, r)| (Arc::clone(&r.qualified), id))
            .collect();
        let mut info: Table<RuleId, RuleInfo> = rules.iter().map(RuleInfo::of).collect();
        let mut by_rank: Vec<RuleId> = rules.ids().collect();
        by_rank.sort_by_key(|&id| (std::cmp::Reverse(rules[id].priority), rules[id].declared));
        for (rank, id) in (0u32..).zip(by_rank) {
            info[id].rank = rank;
        }
        let index = index_signals(&rules, &info, &mut journeys, &names);
        Program {
            default_profile: names.customer.iter().map(|f| f.default.clone()).collect(),
            names,
            actions,
            journeys,
            rules,
            index,
            by_declaration,
            written,
            rule_ids,
            words,
            fixed_args: self.fixed_args,
            info,
        }
    }

    fn rule(
        &mut self,
        r: &Resolved,
        rule: &RuleDecl,
        declared: RuleOrder,
        journeys: &Table<JourneyId, JourneyDef>,
        names: &Names,
    ) -> RuleDef {
        let qualified: Arc<str> = match rule.journey {
            Some(j) => Arc::from(format!("{}/{}", journeys[j].name, rule.name).as_str()),
            None => Arc::clone(&rule.name),
        };
        let mut arms = Vec::new();
        let steps = self.steps(r, &rule.steps, names, &mut arms);
        RuleDef {
            name: Arc::clone(&rule.name),
            qualified,
            journey: rule.journey,
            declared,
            priority: rule.priority,
            trigger: rule.trigger.clone(),
            stages: rule.stages.clone(),
            condition: rule.condition.clone(),
            limit: rule.limit,
            steps,
            arms,
        }
    }

    /// Compiles a list of steps; the arms of its splits are numbered on
    /// from the `arms` seen so far in the rule.
    fn steps(
        &mut self,
        r: &Resolved,
        steps: &[StepDecl],
        names: &Names,
        arms: &mut Vec<Arc<str>>,
    ) -> Vec<Step> {
        steps
            .iter()
            .map(|step| match step {
                StepDecl::Call { action, args } => Step::Call {
                    action: *action,
                    args: self.call_args(&r.actions[action.index()].params, args, names),
                },
                StepDecl::Move { stage } => Step::Move { stage: *stage },
                StepDecl::Skip => Step::Skip,
                StepDecl::Split { arms: decls } => {
                    let first = ArmId::new(arms.len());
                    arms.extend(decls.iter().map(|a| Arc::clone(&a.name)));
                    Step::Split {
                        first,
                        arms: self.arms(r, decls, names),
                    }
                }
            })
            .collect()
    }

    fn arms(&mut self, r: &Resolved, decls: &[ArmDecl], names: &Names) -> Vec<ArmDef> {
        let mut low: u32 = 0;
        decls
            .iter()
            .map(|arm| {
                let high = low.saturating_add(arm.percent);
                // Splits do not nest: an arm's steps add no arms.
                let steps = self.steps(r, &arm.steps, names, &mut Vec::new());
                let def = ArmDef { low, high, steps };
                low = high;
                def
            })
            .collect()
    }

    fn call_args(&mut self, params: &[(Arc<str>, Ty)], args: &[CExpr], names: &Names) -> CallArgs {
        let args: Vec<(Arc<str>, CArg)> = params
            .iter()
            .zip(args)
            .map(|((name, ty), e)| {
                let arg = match e {
                    CExpr::Const(v) => CArg::Const(names.arg(*ty, v)),
                    other => CArg::Expr(other.clone(), *ty),
                };
                (Arc::clone(name), arg)
            })
            .collect();
        let fixed: Option<Vec<(Arc<str>, Arg)>> = args
            .iter()
            .map(|(n, a)| match a {
                CArg::Const(v) => Some((Arc::clone(n), v.clone())),
                CArg::Expr(..) => None,
            })
            .collect();
        match fixed {
            Some(values) => {
                self.fixed_args.push(values.into_boxed_slice());
                CallArgs::Fixed(u32::try_from(self.fixed_args.len() - 1).unwrap_or(u32::MAX))
            }
            None => CallArgs::Computed(args),
        }
    }
}

/// Builds each signal's index, and each journey's stay rules.
fn index_signals(
    rules: &Table<RuleId, RuleDef>,
    info: &Table<RuleId, RuleInfo>,
    journeys: &mut Table<JourneyId, JourneyDef>,
    names: &Names,
) -> Table<SignalId, SignalIndex> {
    let mut index: Table<SignalId, SignalIndex> =
        vec![SignalIndex::default(); names.signals.len()].into();
    // Rules fired by each signal, grouped by journey (top-level last).
    let mut groups: Vec<Vec<(Option<JourneyId>, Vec<RuleId>)>> = vec![Vec::new(); index.len()];
    for (id, rule) in rules.iter_ids() {
        match &rule.trigger {
            TriggerDef::Signal { event, after } => {
                let group = &mut groups[event.signal.index()];
                match group.last_mut() {
                    Some((j, ids)) if *j == rule.journey => ids.push(id),
                    _ => group.push((rule.journey, vec![id])),
                }
                if let Some((_, after)) = after {
                    index[after.signal].remembered_by.push(id);
                }
            }
            TriggerDef::Absence { absent, after, .. } => {
                index[after.signal].starts_wait.push(id);
                index[absent.signal].cancels_wait.push(id);
            }
            TriggerDef::Stay { stage, .. } => {
                if let Some(j) = rule.journey {
                    journeys[j].stay_rules[*stage].push(id);
                }
            }
        }
    }
    for ((signal, group), at) in names.signals.iter().zip(groups).zip(index.iter_mut()) {
        for (journey, ids) in group {
            let mut bucket = index::Bucket::new(journey);
            bucket.build(rules, info, &ids, &signal.fields);
            at.buckets.push(bucket);
        }
    }
    for (j, journey) in journeys.iter_ids() {
        for (g, goal) in journey.goals.iter_ids() {
            index[goal.signal].goals.push((j, g));
        }
    }
    index
}
