//! The resolved program: what a successful check hands the compiler. Every
//! name is an id, decided once here from the checker's own tables; nothing
//! downstream looks a name up again.
//!
//! A [`Resolved`] is made only by [`check`](crate::check) when the program
//! has no errors, so a program that does not check cannot be compiled.

use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::ids::{ActionId, ChannelId, FieldId, Id, JourneyId, PlaceId, SignalId, StageId};
use crate::source::{LineIndex, Source, Span};
use crate::syntax::ast::{self, BinaryOp, ExprKind, Item, Module, Root, Trigger, UnaryOp};
use crate::types::{Base, Ty};
use crate::value::Value;

use super::Symbols;

/// A checked program with every name resolved: the only input of the
/// compiler. Only a check without errors makes one
/// ([`Checked::resolved`](super::Checked::resolved)).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub(crate) places: Vec<Arc<str>>,
    pub(crate) channels: Vec<Arc<str>>,
    /// Each enum's values, in order.
    pub(crate) enums: Vec<Vec<Arc<str>>>,
    pub(crate) customer: Vec<FieldDecl>,
    pub(crate) signals: Vec<SignalDecl>,
    pub(crate) actions: Vec<ActionDecl>,
    pub(crate) journeys: Vec<JourneyDecl>,
    /// Every rule, journeys' and top-level, in declaration order.
    pub(crate) rules: Vec<RuleDecl>,
}

/// A field of the profile or of a signal's data.
#[derive(Debug, Clone)]
pub(crate) struct FieldDecl {
    pub name: Arc<str>,
    pub ty: Ty,
    pub optional: bool,
    /// `= literal` (profile fields only).
    pub default: Option<CExpr>,
}

#[derive(Debug, Clone)]
pub(crate) struct SignalDecl {
    pub name: Arc<str>,
    pub fields: Vec<FieldDecl>,
}

#[derive(Debug, Clone)]
pub(crate) struct ActionDecl {
    pub name: Arc<str>,
    pub params: Vec<(Arc<str>, Ty)>,
    pub exclusive: bool,
    pub requires: Option<CExpr>,
}

#[derive(Debug, Clone)]
pub(crate) struct JourneyDecl {
    pub name: Arc<str>,
    pub stages: Vec<Arc<str>>,
    /// Edges `from -> to`, sorted.
    pub edges: Vec<(StageId, StageId)>,
    /// Whether each stage may be entered from outside the journey.
    pub entry: Vec<bool>,
    pub goals: Vec<GoalDef>,
}

/// A goal. The compiled journey keeps it as it is.
#[derive(Debug, Clone)]
pub(crate) struct GoalDef {
    /// `SIGNAL within D`: unique in its journey (state files name goals so).
    pub name: Arc<str>,
    pub signal: SignalId,
    pub within: i64,
}

/// A signal with its `at`/`via` filters (empty: any). The compiled rule
/// keeps it as it is.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub signal: SignalId,
    pub at: Vec<PlaceId>,
    pub via: Vec<ChannelId>,
}

/// What makes a rule fire. The compiled rule keeps it as it is.
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
        stage: StageId,
        duration: i64,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum StepDecl {
    Call { action: ActionId, args: Vec<CExpr> },
    Move { stage: StageId },
    Split { arms: Vec<ArmDecl> },
    Skip,
}

#[derive(Debug, Clone)]
pub(crate) struct ArmDecl {
    pub name: Arc<str>,
    pub percent: u32,
    pub steps: Vec<StepDecl>,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleDecl {
    /// The rule's name, or `L<line>` for an unnamed one; unique in its
    /// journey (or among top-level rules), which the checker enforces.
    pub name: Arc<str>,
    pub journey: Option<JourneyId>,
    pub priority: i64,
    pub trigger: TriggerDef,
    /// `in` clause: its stages, sorted, without repeats.
    pub stages: Option<Vec<StageId>>,
    pub condition: Option<CExpr>,
    /// The `where` as written and what it reads, for explanations.
    pub written: Option<Written>,
    /// `limit N per D`: N (at least 1) and D.
    pub limit: Option<(usize, i64)>,
    pub steps: Vec<StepDecl>,
}

/// A rule's `where` as written, and what it reads: what an explanation
/// shows of a `where` that was false or could not be evaluated.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// The source text, runs of spaces and line breaks made one space.
    pub text: Box<str>,
    /// Each `event.F` and `customer.F` it reads (`customer has F` reads
    /// `customer.F`), in order of first appearance.
    pub reads: Box<[Read]>,
}

/// A path a `where` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// `event.F`, a field of the rule's signal.
    Event(FieldId),
    EventAt,
    EventVia,
    EventTime,
    /// `customer.F`.
    Customer(FieldId),
}

impl Read {
    /// The expression that reads it.
    pub(crate) fn expr(self) -> CExpr {
        match self {
            Read::Event(f) => CExpr::EventField(f),
            Read::EventAt => CExpr::EventAt,
            Read::EventVia => CExpr::EventVia,
            Read::EventTime => CExpr::EventTime,
            Read::Customer(f) => CExpr::CustomerField(f),
        }
    }
}

/// An expression with every name resolved: what the engine evaluates.
#[derive(Debug, Clone)]
pub(crate) enum CExpr {
    Const(Value),
    List(Vec<CExpr>),
    EventField(FieldId),
    EventAt,
    EventVia,
    EventTime,
    CustomerField(FieldId),
    HasEvent(FieldId),
    HasCustomer(FieldId),
    Not(Box<CExpr>),
    Neg(Box<CExpr>),
    Binary(BinaryOp, Box<CExpr>, Box<CExpr>),
}

/// The name of an unnamed rule: `L` and the line of its `when`.
pub(crate) fn line_name(when: Span, lines: &[LineIndex]) -> String {
    let line = lines
        .get(when.file as usize)
        .map_or(0, |l| l.line(when.start as usize) + 1);
    format!("L{line}")
}

/// A goal's name: `SIGNAL within D`, with `D` as `jrule fmt` writes it.
pub(crate) fn goal_name(g: &ast::Goal) -> String {
    format!(
        "{} within {}",
        g.signal.name,
        crate::time::duration_literal(g.within.ms)
    )
}

/// Resolves a checked program without errors. An `Err` is a name the
/// checker accepted but cannot be found: a bug of the checker, reported as
/// `jrule::internal` rather than compiled into a wrong program.
pub(super) fn resolve(
    modules: &[Module],
    symbols: &Symbols,
    lines: &[LineIndex],
    sources: &[Source],
) -> Result<Resolved, Diagnostic> {
    let r = Resolver { symbols };
    let arc = |k: &String| Arc::<str>::from(k.as_str());
    let items: Vec<&Item> = modules.iter().flat_map(|m| &m.items).collect();
    let declared = |name: &str, info: &super::FieldInfo| FieldDecl {
        name: Arc::from(name),
        ty: info.ty,
        optional: info.optional,
        default: None,
    };
    let mut customer: Vec<FieldDecl> = symbols
        .customer
        .iter()
        .map(|(n, f)| declared(n, f))
        .collect();
    if let Some(c) = items.iter().find_map(|i| match i {
        Item::Customer(c) => Some(c),
        _ => None,
    }) {
        for field in &c.fields {
            if let Some(default) = &field.default {
                let i: FieldId = found(
                    symbols.customer.get_index_of(&field.name.name),
                    &field.name,
                    "profile field",
                )?;
                customer[i.index()].default = Some(r.expr(default, None)?);
            }
        }
    }
    let signals = symbols
        .signals
        .iter()
        .map(|(name, info)| SignalDecl {
            name: arc(name),
            fields: info.fields.iter().map(|(n, f)| declared(n, f)).collect(),
        })
        .collect();
    let mut actions: Vec<ActionDecl> = symbols
        .actions
        .iter()
        .map(|(name, info)| ActionDecl {
            name: arc(name),
            params: info.params.iter().map(|(n, p)| (arc(n), p.ty)).collect(),
            exclusive: info.exclusive,
            requires: None,
        })
        .collect();
    let mut journeys = Vec::new();
    let mut rules = Vec::new();
    for item in &items {
        match item {
            Item::Action(a) => {
                if let Some(requires) = &a.requires {
                    let i: ActionId = found(
                        symbols.actions.get_index_of(&a.name.name),
                        &a.name,
                        "action",
                    )?;
                    actions[i.index()].requires = Some(r.expr(requires, None)?);
                }
            }
            Item::Journey(j) => {
                let id = JourneyId::new(journeys.len());
                journeys.push(r.journey(j)?);
                for rule in &j.rules {
                    rules.push(r.rule(rule, Some((id, j)), lines, sources)?);
                }
            }
            Item::Rule(rule) => rules.push(r.rule(rule, None, lines, sources)?),
            _ => {}
        }
    }
    Ok(Resolved {
        places: symbols.places.keys().map(arc).collect(),
        channels: symbols.channels.keys().map(arc).collect(),
        enums: symbols
            .enums
            .values()
            .map(|e| e.values.keys().map(arc).collect())
            .collect(),
        customer,
        signals,
        actions,
        journeys,
        rules,
    })
}

/// The id of what `name` was found at (its position in the checker's
/// table), or the internal error of a name the checker let through.
fn found<I: Id>(position: Option<usize>, name: &ast::Ident, what: &str) -> Result<I, Diagnostic> {
    position
        .map(I::new)
        .ok_or_else(|| unresolved(name.span, what))
}

fn unresolved(span: Span, what: &str) -> Diagnostic {
    Diagnostic::new(
        Code::Internal,
        span,
        format!("internal error: this {what} passed the checker but could not be resolved"),
    )
    .label("not resolved")
    .help("please report this program to the jrule developers")
}

struct Resolver<'a> {
    symbols: &'a Symbols,
}

impl Resolver<'_> {
    fn journey(&self, j: &ast::Journey) -> Result<JourneyDecl, Diagnostic> {
        let info = self
            .symbols
            .journeys
            .get(&j.name.name)
            .filter(|info| info.span.key() == j.name.span.key())
            .ok_or_else(|| unresolved(j.name.span, "journey"))?;
        let mut edges: Vec<(StageId, StageId)> = info
            .edges
            .iter()
            .map(|&(f, t)| (StageId::new(f), StageId::new(t)))
            .collect();
        edges.sort_unstable();
        let goals = j
            .goals
            .iter()
            .map(|g| {
                Ok(GoalDef {
                    name: Arc::from(goal_name(g).as_str()),
                    signal: self.signal(&g.signal)?,
                    within: g.within.ms as i64,
                })
            })
            .collect::<Result<_, Diagnostic>>()?;
        Ok(JourneyDecl {
            name: Arc::from(j.name.name.as_str()),
            stages: info.stages.keys().map(|s| Arc::from(s.as_str())).collect(),
            edges,
            entry: info.entry.clone(),
            goals,
        })
    }

    fn signal(&self, name: &ast::Ident) -> Result<SignalId, Diagnostic> {
        found(
            self.symbols.signals.get_index_of(&name.name),
            name,
            "signal",
        )
    }

    fn filter(&self, f: &ast::Filtered) -> Result<Filter, Diagnostic> {
        let place = |p: &ast::Ident| -> Result<PlaceId, _> {
            found(self.symbols.places.get_index_of(&p.name), p, "place")
        };
        let channel = |c: &ast::Ident| -> Result<ChannelId, _> {
            found(self.symbols.channels.get_index_of(&c.name), c, "channel")
        };
        Ok(Filter {
            signal: self.signal(&f.signal)?,
            at: f.at.iter().map(place).collect::<Result<_, _>>()?,
            via: f.via.iter().map(channel).collect::<Result<_, _>>()?,
        })
    }

    fn rule(
        &self,
        rule: &ast::Rule,
        journey: Option<(JourneyId, &ast::Journey)>,
        lines: &[LineIndex],
        sources: &[Source],
    ) -> Result<RuleDecl, Diagnostic> {
        let info = journey.and_then(|(_, j)| self.symbols.journeys.get(&j.name.name));
        let stage = |name: &ast::Ident| -> Result<StageId, _> {
            found(
                info.and_then(|i| i.stages.get_index_of(&name.name)),
                name,
                "stage",
            )
        };
        let (trigger, signal) = match &rule.trigger {
            Trigger::Signal { event, after } => {
                let event = self.filter(event)?;
                let signal = event.signal;
                let after = match after {
                    Some((d, f)) => Some((d.ms as i64, self.filter(f)?)),
                    None => None,
                };
                (TriggerDef::Signal { event, after }, Some(signal))
            }
            Trigger::Absence {
                absent,
                within,
                after,
            } => {
                let after = self.filter(after)?;
                let signal = after.signal;
                let trigger = TriggerDef::Absence {
                    absent: self.filter(absent)?,
                    within: within.ms as i64,
                    after,
                };
                (trigger, Some(signal))
            }
            Trigger::Stay {
                stage: s, duration, ..
            } => (
                TriggerDef::Stay {
                    stage: stage(s)?,
                    duration: duration.ms as i64,
                },
                None,
            ),
        };
        let stages = match &rule.stages {
            Some(clause) => {
                let mut list = clause
                    .stages
                    .iter()
                    .map(stage)
                    .collect::<Result<Vec<_>, _>>()?;
                list.sort_unstable();
                list.dedup();
                Some(list)
            }
            None => None,
        };
        let name = match &rule.name {
            Some(n) => n.name.clone(),
            None => line_name(rule.when, lines),
        };
        let (condition, written) = match &rule.condition {
            Some(c) => {
                let mut reads = Vec::new();
                self.reads(c, signal, &mut reads)?;
                let written = Written {
                    text: Source::snippet(sources, c.span).into(),
                    reads: reads.into(),
                };
                (Some(self.expr(c, signal)?), Some(written))
            }
            None => (None, None),
        };
        Ok(RuleDecl {
            name: Arc::from(name.as_str()),
            journey: journey.map(|(id, _)| id),
            priority: rule.priority.as_ref().map_or(0, |p| p.value),
            trigger,
            stages,
            condition,
            written,
            limit: rule.limit.as_ref().map(|l| {
                (
                    usize::try_from(l.count.max(1)).unwrap_or(1),
                    l.per.ms as i64,
                )
            }),
            steps: self.steps(&rule.actions, &stage, signal)?,
        })
    }

    fn steps(
        &self,
        actions: &[ast::Action],
        stage: &dyn Fn(&ast::Ident) -> Result<StageId, Diagnostic>,
        signal: Option<SignalId>,
    ) -> Result<Vec<StepDecl>, Diagnostic> {
        actions
            .iter()
            .map(|a| {
                Ok(match a {
                    ast::Action::Call(call) => StepDecl::Call {
                        action: found(
                            self.symbols.actions.get_index_of(&call.name.name),
                            &call.name,
                            "action",
                        )?,
                        args: call
                            .args
                            .iter()
                            .map(|e| self.expr(e, signal))
                            .collect::<Result<_, _>>()?,
                    },
                    ast::Action::Move { stage: s, .. } => StepDecl::Move { stage: stage(s)? },
                    ast::Action::Skip(_) => StepDecl::Skip,
                    ast::Action::Split(split) => StepDecl::Split {
                        arms: split
                            .arms
                            .iter()
                            .map(|arm| {
                                Ok(ArmDecl {
                                    name: Arc::from(arm.name.name.as_str()),
                                    percent: arm.percent,
                                    steps: self.steps(&arm.actions, stage, signal)?,
                                })
                            })
                            .collect::<Result<_, Diagnostic>>()?,
                    },
                })
            })
            .collect()
    }

    /// Resolves a checked expression; `signal` is what `event` means.
    /// A profile field, or a field of the event's signal.
    fn field(
        &self,
        root: Root,
        f: &ast::Ident,
        signal: Option<SignalId>,
    ) -> Result<FieldId, Diagnostic> {
        let position = match root {
            Root::Customer => self.symbols.customer.get_index_of(&f.name),
            Root::Event => signal
                .and_then(|s| self.symbols.signals.get_index(s.index()))
                .and_then(|(_, info)| info.fields.get_index_of(&f.name)),
        };
        found(position, f, "field")
    }

    /// `customer.F` or `event.F` (including `event.at`, `.via`, `.time`).
    fn path(
        &self,
        root: Root,
        f: &ast::Ident,
        signal: Option<SignalId>,
    ) -> Result<Read, Diagnostic> {
        Ok(match (root, f.name.as_str()) {
            (Root::Event, "at") => Read::EventAt,
            (Root::Event, "via") => Read::EventVia,
            (Root::Event, "time") => Read::EventTime,
            (Root::Customer, _) => Read::Customer(self.field(root, f, signal)?),
            (Root::Event, _) => Read::Event(self.field(root, f, signal)?),
        })
    }

    /// What a `where` reads, in order of first appearance (see [`Written`]).
    fn reads(
        &self,
        e: &ast::Expr,
        signal: Option<SignalId>,
        out: &mut Vec<Read>,
    ) -> Result<(), Diagnostic> {
        match &e.kind {
            ExprKind::Path(root, f) | ExprKind::Has(root, f) => {
                let read = self.path(*root, f, signal)?;
                if !out.contains(&read) {
                    out.push(read);
                }
            }
            ExprKind::List(items) => {
                for item in items {
                    self.reads(item, signal, out)?;
                }
            }
            ExprKind::Unary(_, x) => self.reads(x, signal, out)?,
            ExprKind::Binary(_, a, b) => {
                self.reads(a, signal, out)?;
                self.reads(b, signal, out)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn expr(&self, e: &ast::Expr, signal: Option<SignalId>) -> Result<CExpr, Diagnostic> {
        Ok(match &e.kind {
            ExprKind::Int(i) => CExpr::Const(if e.ty.base == Base::Float {
                Value::Float(*i as f64)
            } else {
                Value::Int(*i)
            }),
            ExprKind::Float(f) => CExpr::Const(Value::Float(*f)),
            ExprKind::Text(t) => CExpr::Const(Value::Text(t.clone())),
            ExprKind::Bool(b) => CExpr::Const(Value::Bool(*b)),
            ExprKind::Duration(ms) => CExpr::Const(Value::Duration(*ms as i64)),
            ExprKind::List(items) => {
                let items = items
                    .iter()
                    .map(|i| self.expr(i, signal))
                    .collect::<Result<Vec<_>, _>>()?;
                let constant: Option<Vec<Value>> = items
                    .iter()
                    .map(|i| match i {
                        CExpr::Const(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                match constant {
                    Some(values) => CExpr::Const(Value::List(values)),
                    None => CExpr::List(items),
                }
            }
            ExprKind::Name(ident) => CExpr::Const(Value::Symbol(
                self.symbols
                    .symbol(e.ty, &ident.name)
                    .ok_or_else(|| unresolved(ident.span, "name"))?,
            )),
            ExprKind::Path(root, f) => self.path(*root, f, signal)?.expr(),
            ExprKind::Has(Root::Customer, f) => {
                CExpr::HasCustomer(self.field(Root::Customer, f, signal)?)
            }
            ExprKind::Has(Root::Event, f) => CExpr::HasEvent(self.field(Root::Event, f, signal)?),
            ExprKind::Unary(UnaryOp::Not, inner) => CExpr::Not(Box::new(self.expr(inner, signal)?)),
            ExprKind::Unary(UnaryOp::Neg, inner) => CExpr::Neg(Box::new(self.expr(inner, signal)?)),
            ExprKind::Binary(op, a, b) => CExpr::Binary(
                *op,
                Box::new(self.expr(a, signal)?),
                Box::new(self.expr(b, signal)?),
            ),
        })
    }
}

impl Symbols {
    /// The position of a named value of type `ty` (an enum value, a place
    /// or a channel) among the values of that type.
    pub(crate) fn symbol(&self, ty: Ty, name: &str) -> Option<u32> {
        let index = match ty.base {
            Base::Enum(i) => self.enums.get_index(i.index())?.1.values.get_index_of(name),
            Base::Place => self.places.get_index_of(name),
            Base::Channel => self.channels.get_index_of(name),
            _ => None,
        }?;
        u32::try_from(index).ok()
    }
}

/// Resolves a constant expression of a checked test block (a value given
/// to a field or an argument): `None` if it reads anything.
#[cfg(feature = "harness")]
pub(crate) fn constant(symbols: &Symbols, e: &ast::Expr) -> Option<CExpr> {
    Resolver { symbols }.expr(e, None).ok()
}
