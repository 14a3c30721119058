//! The compiler: turns a checked program into an indexed rule set in which
//! every name is a small integer.

pub(crate) mod expr;
pub(crate) mod index;

use std::collections::HashMap;
use std::sync::Arc;

use crate::check::{Checked, Symbols};
use crate::diagnostic::Diagnostics;
use crate::source::Source;
use crate::syntax::ast::{self, Action, Filtered, Item, Trigger};
use crate::types::{Base, Ty};

pub(crate) use expr::{CExpr, EvalError, Scope};

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
    pub default: Option<crate::value::Value>,
}

impl FieldDef {
    fn declared(name: &str, info: &crate::check::FieldInfo) -> FieldDef {
        FieldDef {
            name: Arc::from(name),
            ty: info.ty,
            optional: info.optional,
            default: None,
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
pub(crate) struct GoalDef {
    pub signal: usize,
    pub within: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct JourneyDef {
    pub name: Arc<str>,
    pub stages: Vec<Arc<str>>,
    /// `edges[from]` lists the stages `from` may move to.
    pub edges: Vec<Vec<usize>>,
    pub entry: Vec<bool>,
    pub goals: Vec<GoalDef>,
    /// `stay_rules[stage]`: the `when in STAGE for D` rules of each stage.
    pub stay_rules: Vec<Vec<usize>>,
    /// The arguments of each allowed move (from outside: `None`), shared
    /// by every decision that makes it.
    pub moves: HashMap<(Option<usize>, usize), MoveArgs>,
}

/// The `from`/`to` arguments of a move decision.
pub(crate) type MoveArgs = Arc<[(Arc<str>, crate::engine::Arg)]>;

impl JourneyDef {
    /// The arguments of a move decision (shared when the move is allowed).
    pub(crate) fn move_args(&self, from: Option<usize>, to: usize, words: &Words) -> MoveArgs {
        if let Some(args) = self.moves.get(&(from, to)) {
            return Arc::clone(args);
        }
        self.make_move_args(from, to, words)
    }

    fn make_move_args(&self, from: Option<usize>, to: usize, words: &Words) -> MoveArgs {
        use crate::engine::Arg;
        let from = from.map_or(Arg::Null, |f| Arg::Text(Arc::clone(&self.stages[f])));
        Arc::from(vec![
            (Arc::clone(&words.from), from),
            (
                Arc::clone(&words.to),
                Arg::Text(Arc::clone(&self.stages[to])),
            ),
        ])
    }

    pub(crate) fn allows(&self, from: Option<usize>, to: usize) -> bool {
        match from {
            None => self.entry[to],
            Some(f) => self.edges[f].contains(&to),
        }
    }
}

/// A signal with its `at`/`via` filters (empty: any).
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub signal: usize,
    pub at: Vec<u32>,
    pub via: Vec<u32>,
}

impl Filter {
    pub(crate) fn passes(&self, at: Option<u32>, via: Option<u32>) -> bool {
        let ok = |list: &Vec<u32>, v: Option<u32>| {
            list.is_empty() || v.is_some_and(|v| list.contains(&v))
        };
        ok(&self.at, at) && ok(&self.via, via)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum TriggerDef {
    Signal {
        event: Filter,
        after: Option<(i64, Filter)>,
    },
    Absence {
        absent: Filter,
        within: i64,
        after: Filter,
    },
    Stay {
        stage: usize,
        duration: i64,
    },
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
    Const(crate::engine::Arg),
    Expr(CExpr, Ty),
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Call {
        action: usize,
        args: CallArgs,
    },
    Move {
        stage: usize,
    },
    /// `first`: the index of its first arm among all the rule's arms.
    Split {
        first: usize,
        arms: Vec<ArmDef>,
    },
    Skip,
}

#[derive(Debug, Clone)]
pub(crate) struct ArmDef {
    pub name: Arc<str>,
    /// Buckets `[low, high)` of 0..100 that fall in this arm.
    pub low: u32,
    pub high: u32,
    pub steps: Vec<Step>,
}

/// A compiled rule. Rules are numbered in decision order: journeys in
/// declaration order (top-level rules last), then priority, then
/// declaration order.
#[derive(Debug, Clone)]
pub(crate) struct RuleDef {
    pub name: Arc<str>,
    /// `journey/rule`, or `rule` for a top-level rule: its name in state files.
    pub qualified: Arc<str>,
    pub journey: Option<usize>,
    /// Position in declaration order over the whole program.
    pub declared: usize,
    pub priority: i64,
    pub trigger: TriggerDef,
    /// `in` clause: its stages, sorted.
    pub stages: Option<Vec<u32>>,
    pub condition: Option<CExpr>,
    pub limit: Option<(usize, i64)>,
    pub steps: Vec<Step>,
    /// The names of the arms of the rule's splits, in order.
    pub arms: Vec<Arc<str>>,
}

impl RuleDef {
    pub(crate) fn in_stage(&self, stage: Option<usize>) -> bool {
        match (&self.stages, stage) {
            (None, _) => true,
            (Some(list), Some(s)) => list.binary_search(&(s as u32)).is_ok(),
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
    pub starts_wait: Vec<usize>,
    /// Rules `no S …` whose wait this signal cancels.
    pub cancels_wait: Vec<usize>,
    /// Rules `S within D after S2` that remember this signal as `S2`.
    pub remembered_by: Vec<usize>,
    /// Goals `(journey, goal)` this signal converts.
    pub goals: Vec<(usize, usize)>,
}

/// The names of a program, resolved to indexes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    pub places: Vec<Arc<str>>,
    pub channels: Vec<Arc<str>>,
    pub enums: Vec<Vec<Arc<str>>>,
    pub customer: Vec<FieldDef>,
    pub signals: Vec<SignalDef>,
    /// Positions by name: places, channels, each enum's values, signals.
    place_ids: HashMap<Arc<str>, u32>,
    channel_ids: HashMap<Arc<str>, u32>,
    value_ids: Vec<HashMap<Arc<str>, u32>>,
    signal_ids: HashMap<Arc<str>, usize>,
}

fn positions(names: &[Arc<str>]) -> HashMap<Arc<str>, u32> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (Arc::clone(n), i as u32))
        .collect()
}

impl Names {
    fn from_symbols(s: &Symbols) -> Names {
        let arc = |k: &String| Arc::<str>::from(k.as_str());
        let mut names = Names {
            places: s.places.keys().map(arc).collect(),
            channels: s.channels.keys().map(arc).collect(),
            enums: s
                .enums
                .values()
                .map(|e| e.values.keys().map(arc).collect())
                .collect(),
            customer: Vec::new(),
            signals: s
                .signals
                .iter()
                .map(|(name, info)| SignalDef {
                    name: arc(name),
                    fields: info
                        .fields
                        .iter()
                        .map(|(n, f)| FieldDef::declared(n, f))
                        .collect(),
                })
                .collect(),
            ..Names::default()
        };
        names.place_ids = positions(&names.places);
        names.channel_ids = positions(&names.channels);
        names.value_ids = names.enums.iter().map(|v| positions(v)).collect();
        names.signal_ids = names
            .signals
            .iter()
            .enumerate()
            .map(|(i, s)| (Arc::clone(&s.name), i))
            .collect();
        names
    }

    /// The index of a named value of type `ty` (enum value, place, channel).
    pub(crate) fn symbol(&self, ty: Ty, name: &str) -> u32 {
        self.symbol_id(ty, name).unwrap_or(0)
    }

    /// The index of a named value of type `ty`, if it is one.
    pub(crate) fn symbol_id(&self, ty: Ty, name: &str) -> Option<u32> {
        let ids = match ty.base {
            Base::Enum(i) => self.value_ids.get(i as usize),
            Base::Place => Some(&self.place_ids),
            Base::Channel => Some(&self.channel_ids),
            _ => None,
        };
        ids.and_then(|m| m.get(name)).copied()
    }

    pub(crate) fn place(&self, name: &str) -> Option<u32> {
        self.place_ids.get(name).copied()
    }

    pub(crate) fn channel(&self, name: &str) -> Option<u32> {
        self.channel_ids.get(name).copied()
    }

    pub(crate) fn names_of(&self, ty: Ty) -> &[Arc<str>] {
        match ty.base {
            Base::Enum(i) => self.enums.get(i as usize).map_or(&[], |v| v.as_slice()),
            Base::Place => &self.places,
            Base::Channel => &self.channels,
            _ => &[],
        }
    }

    pub(crate) fn customer_field(&self, name: &str) -> usize {
        self.customer
            .iter()
            .position(|f| &*f.name == name)
            .unwrap_or(usize::MAX)
    }

    pub(crate) fn signal_field(&self, signal: Option<usize>, name: &str) -> usize {
        signal
            .and_then(|s| self.signals.get(s))
            .and_then(|s| s.fields.iter().position(|f| &*f.name == name))
            .unwrap_or(usize::MAX)
    }

    pub(crate) fn signal(&self, name: &str) -> Option<usize> {
        self.signal_ids.get(name).copied()
    }
}

/// A compiled program, ready to run in an [`Engine`](crate::Engine).
///
/// ```
/// let source = jrule::Source::new("p.jr", "signal hello\naction greet\nwhen hello then greet");
/// let program = jrule::Program::compile(&[source]).expect("compiles");
/// assert_eq!(program.rule_count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) names: Names,
    pub(crate) actions: Vec<ActionDef>,
    pub(crate) journeys: Vec<JourneyDef>,
    pub(crate) rules: Vec<RuleDef>,
    pub(crate) index: Vec<SignalIndex>,
    /// Rule numbers in declaration order.
    pub(crate) by_declaration: Vec<usize>,
    /// Rule numbers by qualified name (`journey/rule`), as state files name them.
    pub(crate) rule_ids: HashMap<Arc<str>, usize>,
    /// The profile of a customer no event has set anything for.
    pub(crate) default_profile: Vec<Option<crate::value::Value>>,
    /// Words of move decisions, shared rather than allocated per decision.
    pub(crate) words: Words,
    /// Constant argument lists of calls, referred to by decisions.
    pub(crate) fixed_args: Vec<FixedArgs>,
    /// What deciding needs of each rule, packed: read for every firing.
    pub(crate) info: Vec<RuleInfo>,
}

/// A constant argument list.
pub(crate) type FixedArgs = Box<[(Arc<str>, crate::engine::Arg)]>;

/// The facts about a rule that every firing reads, packed in 20 bytes so
/// that firing a rule touches one small record instead of its definition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleInfo {
    /// Position in (priority, highest first; then declaration) order: what
    /// `exclusive` compares.
    pub rank: u32,
    /// The journey, or `u32::MAX` for a top-level rule.
    pub journey: u32,
    /// For a rule that only calls one action with constant arguments and has
    /// no filter, memory, stage clause or limit: that action, else `u32::MAX`.
    pub fast_action: u32,
    /// Its constant arguments (index in `fixed_args`).
    pub fast_args: u32,
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
                Some((*action as u32, *i))
            }
            _ => None,
        };
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        RuleInfo {
            rank: 0,
            journey: rule.journey.map_or(u32::MAX, |j| j as u32),
            fast_action: fast.map_or(u32::MAX, |f| f.0),
            fast_args: fast.map_or(0, |f| f.1),
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

    pub(crate) fn journey(&self) -> Option<usize> {
        (self.journey != u32::MAX).then_some(self.journey as usize)
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
    /// Parses, checks and compiles a program. Warnings are allowed; any
    /// error returns every diagnostic.
    pub fn compile(sources: &[Source]) -> Result<Program, CompileError> {
        let checked = crate::check(sources);
        if !checked.is_ok() {
            return Err(CompileError {
                diagnostics: checked.diagnostics,
                sources: sources.to_vec(),
            });
        }
        Ok(Program::from_checked(&checked, sources))
    }

    /// Compiles a program that checked without errors (`sources` are the
    /// ones it was checked from: unnamed rules are named after their line).
    pub fn from_checked(checked: &Checked, sources: &[Source]) -> Program {
        Compiler::new(&checked.symbols, sources).program(checked)
    }

    /// The number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

struct Compiler<'a> {
    symbols: &'a Symbols,
    /// Constant argument lists, collected while compiling actions.
    fixed_args: std::cell::RefCell<Vec<FixedArgs>>,
    /// Byte offsets where each line of each source starts.
    lines: Vec<Vec<usize>>,
    names: Names,
}

/// A rule before sorting into decision order.
struct Pending<'a> {
    rule: &'a ast::Rule,
    journey: Option<usize>,
    declared: usize,
}

impl<'a> Compiler<'a> {
    fn new(symbols: &'a Symbols, sources: &'a [Source]) -> Compiler<'a> {
        let lines = sources
            .iter()
            .map(|s| {
                std::iter::once(0)
                    .chain(s.text.match_indices('\n').map(|(i, _)| i + 1))
                    .collect()
            })
            .collect();
        Compiler {
            symbols,
            fixed_args: Default::default(),
            lines,
            names: Names::from_symbols(symbols),
        }
    }

    fn program(mut self, checked: &'a Checked) -> Program {
        let items: Vec<&Item> = checked.modules.iter().flat_map(|m| &m.items).collect();
        // The profile, with defaults.
        let mut customer: Vec<FieldDef> = self
            .symbols
            .customer
            .iter()
            .map(|(n, f)| FieldDef::declared(n, f))
            .collect();
        for item in &items {
            if let Item::Customer(c) = item {
                for field in &c.fields {
                    if let (Some(default), Some(def)) = (
                        &field.default,
                        customer.iter_mut().find(|d| *d.name == field.name.name),
                    ) {
                        let scope = Scope {
                            data: &[],
                            at: None,
                            via: None,
                            time: 0,
                            event_time: 0,
                            profile: &[],
                        };
                        let value = CExpr::compile(default, &self.names, None)
                            .eval(&scope)
                            .ok()
                            .and_then(|v| v.to_value(&scope).ok().flatten());
                        // An int literal is a float where a float is declared.
                        def.default = value.map(|v| v.widened(def.ty));
                    }
                }
                break;
            }
        }
        self.names.customer = customer;
        let actions: Vec<ActionDef> = self
            .symbols
            .actions
            .iter()
            .map(|(name, info)| ActionDef {
                name: Arc::from(name.as_str()),
                requires: None,
                exclusive: info.exclusive,
            })
            .collect();
        let mut program = Program {
            names: Names::default(),
            actions,
            journeys: Vec::new(),
            rules: Vec::new(),
            index: Vec::new(),
            by_declaration: Vec::new(),
            rule_ids: HashMap::new(),
            default_profile: Vec::new(),
            words: Words::new(),
            fixed_args: Vec::new(),
            info: Vec::new(),
        };
        for item in &items {
            if let Item::Action(a) = item {
                if let (Some(req), Some(i)) =
                    (&a.requires, self.symbols.actions.get_index_of(&a.name.name))
                {
                    program.actions[i].requires = Some(CExpr::compile(req, &self.names, None));
                }
            }
        }
        // Journeys and rules, in declaration order.
        let mut pending: Vec<Pending<'_>> = Vec::new();
        for item in &items {
            match item {
                Item::Journey(j) => {
                    let Some(index) = self.symbols.journeys.get_index_of(&j.name.name) else {
                        continue;
                    };
                    if program.journeys.len() != index {
                        continue; // a duplicate: impossible in a checked program
                    }
                    program.journeys.push(self.journey(j));
                    for rule in &j.rules {
                        pending.push(Pending {
                            rule,
                            journey: Some(index),
                            declared: pending.len(),
                        });
                    }
                }
                Item::Rule(rule) => pending.push(Pending {
                    rule,
                    journey: None,
                    declared: pending.len(),
                }),
                _ => {}
            }
        }
        pending.sort_by_key(|p| {
            let priority = p.rule.priority.as_ref().map_or(0, |p| p.value);
            (
                p.journey.unwrap_or(usize::MAX),
                std::cmp::Reverse(priority),
                p.declared,
            )
        });
        program.rules = pending
            .iter()
            .map(|p| self.rule(p, &program.journeys))
            .collect();
        program.rule_ids = program
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (Arc::clone(&r.qualified), i))
            .collect();
        program.by_declaration = vec![0; program.rules.len()];
        for (id, rule) in program.rules.iter().enumerate() {
            program.by_declaration[rule.declared] = id;
        }
        program.info = program.rules.iter().map(RuleInfo::of).collect();
        let mut by_rank: Vec<usize> = (0..program.rules.len()).collect();
        by_rank.sort_by_key(|&r| {
            (
                std::cmp::Reverse(program.rules[r].priority),
                program.rules[r].declared,
            )
        });
        for (rank, r) in by_rank.into_iter().enumerate() {
            program.info[r].rank = rank as u32;
        }
        self.index(&mut program);
        program.default_profile = self
            .names
            .customer
            .iter()
            .map(|f| f.default.clone())
            .collect();
        program.fixed_args = self.fixed_args.take();
        program.names = self.names;
        program
    }

    fn journey(&self, j: &ast::Journey) -> JourneyDef {
        let info = &self.symbols.journeys[&j.name.name];
        let n = info.stages.len();
        let mut edges = vec![Vec::new(); n];
        let mut sorted: Vec<&(usize, usize)> = info.edges.iter().collect();
        sorted.sort();
        for &&(from, to) in &sorted {
            edges[from].push(to);
        }
        let mut def = JourneyDef {
            name: Arc::from(j.name.name.as_str()),
            stages: info.stages.keys().map(|s| Arc::from(s.as_str())).collect(),
            edges,
            entry: info.entry.clone(),
            goals: j
                .goals
                .iter()
                .filter_map(|g| {
                    Some(GoalDef {
                        signal: self.names.signal(&g.signal.name)?,
                        within: g.within.ms as i64,
                    })
                })
                .collect(),
            stay_rules: vec![Vec::new(); n],
            moves: HashMap::new(),
        };
        let words = Words::new();
        let allowed: Vec<(Option<usize>, usize)> = (0..n)
            .filter(|&s| def.entry[s])
            .map(|s| (None, s))
            .chain(
                def.edges
                    .iter()
                    .enumerate()
                    .flat_map(|(f, tos)| tos.iter().map(move |&t| (Some(f), t))),
            )
            .collect();
        for (from, to) in allowed {
            let args = def.make_move_args(from, to, &words);
            def.moves.insert((from, to), args);
        }
        def
    }

    fn filter(&self, f: &Filtered) -> Filter {
        Filter {
            signal: self.names.signal(&f.signal.name).unwrap_or(0),
            at: f
                .at
                .iter()
                .map(|p| self.names.place(&p.name).unwrap_or(0))
                .collect(),
            via: f
                .via
                .iter()
                .map(|c| self.names.channel(&c.name).unwrap_or(0))
                .collect(),
        }
    }

    fn rule(&self, p: &Pending<'_>, journeys: &[JourneyDef]) -> RuleDef {
        let rule = p.rule;
        let journey = p.journey.map(|j| &journeys[j]);
        let info = journey.and_then(|j| self.symbols.journeys.get(&*j.name));
        let stage_of = |name: &str| info.and_then(|i| i.stages.get_index_of(name)).unwrap_or(0);
        let (trigger, signal) = match &rule.trigger {
            Trigger::Signal { event, after } => {
                let event = self.filter(event);
                let signal = event.signal;
                let after = after.as_ref().map(|(d, f)| (d.ms as i64, self.filter(f)));
                (TriggerDef::Signal { event, after }, Some(signal))
            }
            Trigger::Absence {
                absent,
                within,
                after,
            } => {
                let after = self.filter(after);
                let signal = after.signal;
                (
                    TriggerDef::Absence {
                        absent: self.filter(absent),
                        within: within.ms as i64,
                        after,
                    },
                    Some(signal),
                )
            }
            Trigger::Stay {
                stage, duration, ..
            } => (
                TriggerDef::Stay {
                    stage: stage_of(&stage.name),
                    duration: duration.ms as i64,
                },
                None,
            ),
        };
        let stages = rule
            .stages
            .as_ref()
            .filter(|_| journey.is_some())
            .map(|clause| {
                let mut list: Vec<u32> = clause
                    .stages
                    .iter()
                    .map(|s| stage_of(&s.name) as u32)
                    .collect();
                list.sort_unstable();
                list.dedup();
                list
            });
        let name: Arc<str> = match &rule.name {
            Some(n) => Arc::from(n.name.as_str()),
            None => {
                let starts = self
                    .lines
                    .get(rule.when.file as usize)
                    .map_or(&[][..], |l| l.as_slice());
                let line = starts.partition_point(|&start| start <= rule.when.start as usize);
                Arc::from(format!("L{line}").as_str())
            }
        };
        let qualified: Arc<str> = match journey {
            Some(j) => Arc::from(format!("{}/{}", j.name, name).as_str()),
            None => name.clone(),
        };
        let steps = self.steps(&rule.actions, journey, signal);
        let arms = steps
            .iter()
            .flat_map(|s| match s {
                Step::Split { arms, .. } => arms.iter().map(|a| a.name.clone()).collect(),
                _ => Vec::new(),
            })
            .collect();
        RuleDef {
            name,
            qualified,
            journey: p.journey,
            declared: p.declared,
            priority: rule.priority.as_ref().map_or(0, |p| p.value),
            trigger,
            stages,
            condition: rule
                .condition
                .as_ref()
                .map(|c| CExpr::compile(c, &self.names, signal)),
            limit: rule
                .limit
                .as_ref()
                .map(|l| (l.count.max(1) as usize, l.per.ms as i64)),
            steps,
            arms,
        }
    }

    fn steps(
        &self,
        actions: &[Action],
        journey: Option<&JourneyDef>,
        signal: Option<usize>,
    ) -> Vec<Step> {
        let mut first = 0;
        actions
            .iter()
            .map(|a| match a {
                Action::Call(call) => {
                    let action = self
                        .symbols
                        .actions
                        .get_index_of(&call.name.name)
                        .unwrap_or(0);
                    let params: Vec<(Arc<str>, Ty)> = self
                        .symbols
                        .actions
                        .get_index(action)
                        .map(|(_, a)| {
                            a.params
                                .iter()
                                .map(|(n, p)| (Arc::from(n.as_str()), p.ty))
                                .collect()
                        })
                        .unwrap_or_default();
                    let args: Vec<(Arc<str>, CArg)> = call
                        .args
                        .iter()
                        .zip(params)
                        .map(|(e, (name, ty))| {
                            let arg = match CExpr::compile(e, &self.names, signal) {
                                CExpr::Const(v) => {
                                    CArg::Const(crate::engine::to_arg(ty, &v, &self.names))
                                }
                                other => CArg::Expr(other, ty),
                            };
                            (name, arg)
                        })
                        .collect();
                    let fixed: Option<Vec<(Arc<str>, crate::engine::Arg)>> = args
                        .iter()
                        .map(|(n, a)| match a {
                            CArg::Const(v) => Some((Arc::clone(n), v.clone())),
                            CArg::Expr(..) => None,
                        })
                        .collect();
                    let args = match fixed {
                        Some(values) => {
                            let mut table = self.fixed_args.borrow_mut();
                            table.push(values.into_boxed_slice());
                            CallArgs::Fixed((table.len() - 1) as u32)
                        }
                        None => CallArgs::Computed(args),
                    };
                    Step::Call { action, args }
                }
                Action::Move { stage, .. } => Step::Move {
                    stage: journey
                        .and_then(|j| self.symbols.journeys.get(&*j.name))
                        .and_then(|info| info.stages.get_index_of(&stage.name))
                        .unwrap_or(0),
                },
                Action::Skip(_) => Step::Skip,
                Action::Split(split) => {
                    let mut low: u32 = 0;
                    first += split.arms.len();
                    Step::Split {
                        first: first - split.arms.len(),
                        arms: split
                            .arms
                            .iter()
                            .map(|arm| {
                                let high = low.saturating_add(arm.percent);
                                let def = ArmDef {
                                    name: Arc::from(arm.name.name.as_str()),
                                    low,
                                    high,
                                    steps: self.steps(&arm.actions, journey, signal),
                                };
                                low = high;
                                def
                            })
                            .collect(),
                    }
                }
            })
            .collect()
    }

    fn index(&self, program: &mut Program) {
        let mut index = vec![SignalIndex::default(); self.names.signals.len()];
        // Rules fired by each signal, grouped by journey (top-level last).
        let mut groups: Vec<Vec<(Option<usize>, Vec<usize>)>> = vec![Vec::new(); index.len()];
        for (id, rule) in program.rules.iter().enumerate() {
            match &rule.trigger {
                TriggerDef::Signal { event, after } => {
                    let group = &mut groups[event.signal];
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
                        program.journeys[j].stay_rules[*stage].push(id);
                    }
                }
            }
        }
        for (signal, group) in groups.into_iter().enumerate() {
            for (journey, ids) in group {
                let mut bucket = index::Bucket::new(journey);
                bucket.build(
                    &program.rules,
                    &program.info,
                    &ids,
                    &self.names.signals[signal].fields,
                );
                index[signal].buckets.push(bucket);
            }
        }
        for (j, journey) in program.journeys.iter().enumerate() {
            for (g, goal) in journey.goals.iter().enumerate() {
                index[goal.signal].goals.push((j, g));
            }
        }
        program.index = index;
    }
}
