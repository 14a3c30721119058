//! Warnings: conditions that are always false, moves that conflict, stages
//! nobody reaches, declarations nobody uses.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use super::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{BinaryOp, Expr, ExprKind, Item, Module, Root, UnaryOp};

/// A `move to` of a journey rule, kept for the journey-wide warnings.
pub(super) struct Move {
    /// Rule order within the journey.
    pub rule: usize,
    /// The rule's priority.
    pub priority: i64,
    /// The signal whose event fires the rule (`None` for timers).
    pub signal: Option<String>,
    /// `at` filter, sorted (empty: any).
    pub at: Vec<String>,
    /// `via` filter, sorted (empty: any).
    pub via: Vec<String>,
    /// The stages the rule fires in (`None`: any, or outside).
    pub from: Option<Vec<usize>>,
    /// The target stage.
    pub to: usize,
    /// The target's name in the `move to`.
    pub span: Span,
}

/// What the journey-wide warnings need to know of one journey.
pub(super) struct JourneyMoves {
    pub journey: String,
    pub moves: Vec<Move>,
}

/// True when a bool expression can never be true.
pub(super) fn always_false(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Bool(b) => !b,
        ExprKind::Unary(UnaryOp::Not, inner) => always_true(inner),
        ExprKind::Binary(BinaryOp::Or, a, b) => always_false(a) && always_false(b),
        ExprKind::Binary(BinaryOp::And, a, b) => {
            always_false(a) || always_false(b) || {
                let mut facts = Vec::new();
                conjuncts(e, &mut facts);
                contradictory(&facts)
            }
        }
        ExprKind::Binary(op, a, b) => constant_comparison(*op, a, b) == Some(false),
        _ => false,
    }
}

fn always_true(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Bool(b) => *b,
        ExprKind::Unary(UnaryOp::Not, inner) => always_false(inner),
        ExprKind::Binary(BinaryOp::Or, a, b) => always_true(a) || always_true(b),
        ExprKind::Binary(BinaryOp::And, a, b) => always_true(a) && always_true(b),
        ExprKind::Binary(op, a, b) => constant_comparison(*op, a, b) == Some(true),
        _ => false,
    }
}

/// A literal value, as far as contradictions go.
#[derive(Clone, PartialEq)]
enum Const {
    Num(f64),
    Text(String),
    Bool(bool),
    Name(String),
}

fn constant(e: &Expr) -> Option<Const> {
    Some(match &e.kind {
        ExprKind::Int(i) => Const::Num(*i as f64),
        ExprKind::Float(f) => Const::Num(*f),
        ExprKind::Duration(d) => Const::Num(*d as f64),
        ExprKind::Text(t) => Const::Text(t.clone()),
        ExprKind::Bool(b) => Const::Bool(*b),
        ExprKind::Name(n) => Const::Name(n.name.clone()),
        ExprKind::Unary(UnaryOp::Neg, inner) => match constant(inner)? {
            Const::Num(n) => Const::Num(-n),
            _ => return None,
        },
        _ => return None,
    })
}

fn constant_comparison(op: BinaryOp, a: &Expr, b: &Expr) -> Option<bool> {
    let (a, b) = (constant(a)?, constant(b)?);
    match op {
        BinaryOp::Eq => Some(a == b),
        BinaryOp::Ne => Some(a != b),
        _ => match (a, b) {
            (Const::Num(x), Const::Num(y)) => Some(match op {
                BinaryOp::Lt => x < y,
                BinaryOp::Le => x <= y,
                BinaryOp::Gt => x > y,
                BinaryOp::Ge => x >= y,
                _ => return None,
            }),
            _ => None,
        },
    }
}

/// `path op constant`, normalised with the path on the left.
struct Fact {
    path: (Root, String),
    op: BinaryOp,
    value: Const,
}

fn conjuncts(e: &Expr, out: &mut Vec<Fact>) {
    match &e.kind {
        ExprKind::Binary(BinaryOp::And, a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        ExprKind::Binary(op, a, b) => {
            let flipped = match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::Le => BinaryOp::Ge,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::Ge => BinaryOp::Le,
                BinaryOp::Eq | BinaryOp::Ne => *op,
                _ => return,
            };
            let fact = match (&a.kind, &b.kind) {
                (ExprKind::Path(root, f), _) => constant(b).map(|value| Fact {
                    path: (*root, f.name.clone()),
                    op: *op,
                    value,
                }),
                (_, ExprKind::Path(root, f)) => constant(a).map(|value| Fact {
                    path: (*root, f.name.clone()),
                    op: flipped,
                    value,
                }),
                _ => None,
            };
            out.extend(fact);
        }
        _ => {}
    }
}

/// True when the facts cannot all hold for one value of each path.
fn contradictory(facts: &[Fact]) -> bool {
    let mut by_path: HashMap<&(Root, String), Vec<&Fact>> = HashMap::new();
    for f in facts {
        by_path.entry(&f.path).or_default().push(f);
    }
    by_path.values().any(|facts| {
        let mut low = (f64::NEG_INFINITY, false); // (bound, strict)
        let mut high = (f64::INFINITY, false);
        let mut equal: Option<&Const> = None;
        for f in facts {
            match (&f.op, &f.value) {
                (BinaryOp::Eq, v) => {
                    if equal.is_some_and(|e| e != v) {
                        return true;
                    }
                    equal = Some(v);
                }
                (BinaryOp::Gt | BinaryOp::Ge, Const::Num(n)) => {
                    let strict = f.op == BinaryOp::Gt;
                    if *n > low.0 || (*n == low.0 && strict) {
                        low = (*n, strict);
                    }
                }
                (BinaryOp::Lt | BinaryOp::Le, Const::Num(n)) => {
                    let strict = f.op == BinaryOp::Lt;
                    if *n < high.0 || (*n == high.0 && strict) {
                        high = (*n, strict);
                    }
                }
                _ => {}
            }
        }
        if let Some(v) = equal {
            if facts.iter().any(|f| f.op == BinaryOp::Ne && &f.value == v) {
                return true;
            }
            if let Const::Num(n) = v {
                let above = *n > low.0 || (*n == low.0 && !low.1);
                let below = *n < high.0 || (*n == high.0 && !high.1);
                return !(above && below);
            }
        }
        low.0 > high.0 || (low.0 == high.0 && (low.1 || high.1))
    })
}

/// The work the conflicting-moves warning may do in one program: one unit
/// per pair of moves compared, plus one per place and channel of their
/// filters. Moves that cannot conflict are skipped without comparing, so
/// only a program built to defeat that gets near it; past it, no more
/// conflicts are reported.
pub const MAX_MOVE_COMPARISONS: u64 = 20_000_000;

impl Checker<'_> {
    /// Unreachable stages and conflicting moves of one journey.
    pub(super) fn journey_lints(&mut self, journey: JourneyMoves) {
        let Some(info) = self.symbols.journeys.get(&journey.journey).cloned() else {
            return;
        };
        // Where each move can be made from: its `in` stages with an edge to
        // the target; with no `in` clause, every such stage, and outside the
        // journey (`None`) when the target is an entry stage. Sorted.
        let mut into: Vec<Vec<usize>> = vec![Vec::new(); info.stages.len()];
        for &(from, to) in &info.edges {
            into[to].push(from);
        }
        let sources: Vec<Vec<Option<usize>>> = journey
            .moves
            .iter()
            .map(|m| {
                let mut from: Vec<Option<usize>> = match &m.from {
                    Some(list) => list
                        .iter()
                        .filter(|&&s| info.edges.contains(&(s, m.to)))
                        .map(|&s| Some(s))
                        .collect(),
                    None => into[m.to]
                        .iter()
                        .map(|&s| Some(s))
                        .chain(info.entry[m.to].then_some(None))
                        .collect(),
                };
                from.sort_unstable();
                from.dedup();
                from
            })
            .collect();
        // A stage no move can be made into is never occupied, entry or not:
        // customers only enter a journey by a move.
        let entered: HashSet<usize> = journey
            .moves
            .iter()
            .zip(&sources)
            .filter(|(_, from)| !from.is_empty())
            .map(|(m, _)| m.to)
            .collect();
        let unreachable: Vec<(String, crate::source::Span)> = info
            .stages
            .iter()
            .enumerate()
            .filter(|(i, _)| !entered.contains(i))
            .map(|(_, (name, span))| (name.clone(), *span))
            .collect();
        for (name, span) in unreachable {
            self.report(
                Diagnostic::new(
                    Code::UnreachableStage,
                    span,
                    format!("no rule moves a customer into stage `{name}`"),
                )
                .label("unreachable")
                .help(format!(
                    "add a rule with `move to {name}`, or remove the stage"
                )),
            );
        }
        // Rules that move on the same event, grouped by signal and priority.
        let mut groups: IndexMap<(&str, i64), Vec<usize>> = IndexMap::new();
        for (i, m) in journey.moves.iter().enumerate() {
            if let Some(signal) = &m.signal {
                groups.entry((signal, m.priority)).or_default().push(i);
            }
        }
        // Each move is reported with the first earlier move it conflicts
        // with. Only earlier moves that could be that first one are looked
        // at: of moves of the same shape (target, filters, stages), the
        // first two of different rules (a third conflicts only where one
        // of those does), and of those, the ones whose stages meet.
        let mut conflicts = Vec::new();
        'groups: for members in groups.values() {
            type Shape<'m> = (usize, &'m [String], &'m [String], &'m [Option<usize>]);
            let mut shapes: HashMap<Shape<'_>, Vec<usize>> = HashMap::new();
            let mut by_source: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
            let mut meeting: Vec<usize> = Vec::new();
            for &j in members {
                let b = &journey.moves[j];
                meeting.clear();
                for s in &sources[j] {
                    meeting.extend(by_source.get(s).into_iter().flatten());
                }
                meeting.sort_unstable();
                meeting.dedup();
                let pool: &[usize] = &meeting;
                let mut first = None;
                for &i in pool {
                    let a = &journey.moves[i];
                    let cost = 1 + (a.at.len() + a.via.len() + b.at.len() + b.via.len()) as u64;
                    if self.move_comparisons < cost {
                        self.move_comparisons = 0;
                        break 'groups;
                    }
                    self.move_comparisons -= cost;
                    // The pool holds only moves that can be made from where b's can.
                    if a.rule != b.rule
                        && a.to != b.to
                        && overlap(&a.at, &b.at)
                        && overlap(&a.via, &b.via)
                    {
                        first = Some(a);
                        break;
                    }
                }
                if let Some(a) = first {
                    conflicts.push((a.span, a.to, b.span, b.to));
                }
                let shape = (b.to, &b.at[..], &b.via[..], &sources[j][..]);
                let rules = shapes.entry(shape).or_default();
                if rules.len() < 2 && !rules.contains(&b.rule) {
                    rules.push(b.rule);
                    for s in &sources[j] {
                        by_source.entry(*s).or_default().push(j);
                    }
                }
            }
        }
        let names: Vec<String> = info.stages.keys().cloned().collect();
        for (first, first_to, span, to) in conflicts {
            self.report(
                Diagnostic::new(
                    Code::ConflictingMoves,
                    span,
                    format!(
                        "two rules of the same priority can move on the same event, to `{}` and to `{}`",
                        names[first_to], names[to]
                    ),
                )
                .label("this move")
                .note(first, "conflicts with this one")
                .help("give one rule a higher `priority`, or make their `in` clauses disjoint"),
            );
        }
    }

    /// Signals and actions that nothing uses.
    pub(super) fn unused(&mut self, modules: &[Module]) {
        for item in modules.iter().flat_map(|m| &m.items) {
            let (kind, name, used) = match item {
                Item::Signal(s) => ("signal", &s.name, self.used_signals.contains(&s.name.name)),
                Item::Action(a) => ("action", &a.name, self.used_actions.contains(&a.name.name)),
                _ => continue,
            };
            if !used {
                let use_it = if kind == "signal" {
                    "a trigger or goal"
                } else {
                    "a rule"
                };
                self.report(
                    Diagnostic::new(
                        Code::Unused,
                        name.span,
                        format!("{kind} `{}` is never used", name.name),
                    )
                    .label("unused")
                    .help(format!("use it in {use_it}, or remove it")),
                );
            }
        }
    }
}

/// True when two filters (sorted, no repeats; empty: any) let one value through.
fn overlap(a: &[String], b: &[String]) -> bool {
    if a.is_empty() || b.is_empty() {
        return true;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}
