//! The checker: resolves every name and type of a parsed program and
//! reports every problem as a diagnostic.

mod expr;
mod lint;
pub(crate) mod resolved;
mod rules;
mod testing;

pub use resolved::Resolved;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ids::EnumId;
use crate::source::{LineIndex, Source, Span};
use crate::syntax::ast::{Field, Item, Module, Rule, TypeExpr};
use crate::syntax::{self};
use crate::types::{Base, Ty};

/// A checked program: its syntax trees annotated with types, its symbol
/// tables, and everything reported about it.
#[derive(Debug)]
pub struct Checked {
    /// One module per source file, in order.
    pub modules: Vec<Module>,
    /// Every declared name.
    pub symbols: Symbols,
    /// Errors and warnings, in source order.
    pub diagnostics: Diagnostics,
    /// The program with every name resolved, when it has no errors.
    resolved: Option<Resolved>,
}

impl Checked {
    /// True when the program has no errors (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.diagnostics.errors() == 0
    }

    /// The resolved program, which the compiler takes: `Some` exactly when
    /// the program has no errors (warnings allowed).
    pub fn resolved(&self) -> Option<&Resolved> {
        self.resolved.as_ref().filter(|_| self.is_ok())
    }
}

/// A declared field (profile, signal data, or action parameter).
#[derive(Debug, Clone)]
pub struct FieldInfo {
    /// Where the field is declared.
    pub span: Span,
    /// Its type.
    pub ty: Ty,
    /// Declared with `?`.
    pub optional: bool,
}

/// A declared enum.
#[derive(Debug, Clone)]
pub struct EnumInfo {
    /// Where its name is declared.
    pub span: Span,
    /// Its values in order.
    pub values: IndexMap<String, Span>,
}

/// A declared signal.
#[derive(Debug, Clone)]
pub struct SignalInfo {
    /// Where its name is declared.
    pub span: Span,
    /// Its data fields.
    pub fields: IndexMap<String, FieldInfo>,
}

/// A declared action.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    /// Where its name is declared.
    pub span: Span,
    /// Its parameters in order.
    pub params: IndexMap<String, FieldInfo>,
    /// At most one decision of it per event.
    pub exclusive: bool,
}

/// A journey's stage graph.
#[derive(Debug, Clone, Default)]
pub struct JourneyInfo {
    /// Where its name is declared.
    pub span: Span,
    /// Stages in order of first mention, with that mention.
    pub stages: IndexMap<String, Span>,
    /// Edges `from -> to` as stage indexes.
    pub edges: HashSet<(usize, usize)>,
    /// Whether each stage is an entry stage.
    pub entry: Vec<bool>,
}

impl JourneyInfo {
    /// True when a move from `from` (`None`: outside the journey) to `to` is allowed.
    pub fn allows(&self, from: Option<usize>, to: usize) -> bool {
        match from {
            Some(from) => self.edges.contains(&(from, to)),
            None => self.entry.get(to).copied().unwrap_or(false),
        }
    }
}

/// Every name a program declares, in declaration order.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    /// `places`.
    pub places: IndexMap<String, Span>,
    /// `channels`.
    pub channels: IndexMap<String, Span>,
    /// `enum`s.
    pub enums: IndexMap<String, EnumInfo>,
    /// The `customer` block's fields.
    pub customer: IndexMap<String, FieldInfo>,
    /// `signal`s.
    pub signals: IndexMap<String, SignalInfo>,
    /// `action`s.
    pub actions: IndexMap<String, ActionInfo>,
    /// `journey`s.
    pub journeys: IndexMap<String, JourneyInfo>,
}

impl Symbols {
    /// Enum names by index, for printing types.
    pub fn enum_names(&self) -> Vec<String> {
        self.enums.keys().cloned().collect()
    }
}

/// Parses and checks a program made of `sources`.
pub fn check(sources: &[Source]) -> Checked {
    let mut diagnostics = Vec::new();
    let mut modules = Vec::with_capacity(sources.len());
    let mut broken = false;
    for (i, source) in sources.iter().enumerate() {
        let parsed = syntax::parse(source, u32::try_from(i).unwrap_or(u32::MAX));
        broken |= parsed.broken;
        diagnostics.extend(parsed.diagnostics);
        modules.push(parsed.module);
    }
    let mut symbols = Symbols::default();
    let lines: Vec<LineIndex> = sources.iter().map(|s| LineIndex::new(&s.text)).collect();
    if !broken {
        let mut checker = Checker::new(&mut symbols, &lines);
        checker.program(&mut modules);
        diagnostics.append(&mut checker.diagnostics);
    }
    let errors = diagnostics
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error);
    let resolved = if errors {
        None
    } else {
        match resolved::resolve(&modules, &symbols, &lines, sources) {
            Ok(resolved) => Some(resolved),
            Err(internal) => {
                tracing::error!(message = %internal.message, "the checker missed an error");
                diagnostics.push(internal);
                None
            }
        }
    };
    Checked {
        modules,
        symbols,
        diagnostics: Diagnostics::from_vec(diagnostics),
        resolved,
    }
}

/// The most rules a program may have, journeys' and top-level rules
/// together: past it, `jrule::limit` at the first rule too many.
pub const MAX_RULES: usize = 1_000_000;

/// Names longer than this (in characters) get no "did you mean", and are
/// never suggested: comparing two names costs the product of their lengths.
pub const MAX_SUGGESTED_NAME: usize = 64;

/// The work "did you mean" may do for one program: one unit per candidate
/// looked at, plus one per pair of characters compared. A program with many
/// unknown names among many declared ones gets its first suggestions, then
/// none, instead of a check that takes quadratic time.
pub const SUGGESTION_BUDGET: u64 = 20_000_000;

/// The most names a help line lists (the values of an enum, the parameters
/// of an action); the rest are counted.
pub const MAX_LISTED_NAMES: usize = 20;

impl Checker<'_> {
    /// "did you mean `x`?" for the candidate nearest to `name`, if near
    /// enough, while the program's suggestion budget lasts.
    pub(crate) fn suggest<'a>(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        let chars = |s: &str| {
            if s.len() > 4 * MAX_SUGGESTED_NAME {
                usize::MAX
            } else {
                s.chars().count()
            }
        };
        let len = chars(name);
        if len > MAX_SUGGESTED_NAME || self.suggestions.get() == 0 {
            return None;
        }
        let limit = (len / 3).max(1);
        let mut best: Option<(usize, &str)> = None;
        for c in candidates {
            let clen = chars(c);
            let near = clen <= MAX_SUGGESTED_NAME && clen.abs_diff(len) <= limit;
            let cost = 1 + if near { (len * clen) as u64 } else { 0 };
            let left = self.suggestions.get();
            if left < cost {
                self.suggestions.set(0);
                return None;
            }
            self.suggestions.set(left - cost);
            if !near || c == name {
                continue;
            }
            let d = strsim::osa_distance(name, c);
            if d <= limit && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, c));
            }
        }
        best.map(|(_, c)| format!("did you mean `{c}`?"))
    }
}

/// Names in backticks, separated by commas; past [`MAX_LISTED_NAMES`], the
/// rest are counted.
pub(crate) fn list_names<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    let mut out = names
        .take(MAX_LISTED_NAMES)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if total > MAX_LISTED_NAMES {
        out.push_str(&format!(" and {} more", total - MAX_LISTED_NAMES));
    }
    out
}

const BUILTIN_TYPES: [&str; 7] = [
    "int", "float", "text", "bool", "duration", "place", "channel",
];

pub(crate) struct Checker<'s> {
    symbols: &'s mut Symbols,
    /// Each source's lines, for the names of unnamed rules (`L<line>`).
    lines: &'s [LineIndex],
    enum_names: Vec<String>,
    diagnostics: Vec<Diagnostic>,
    used_signals: HashSet<String>,
    used_actions: HashSet<String>,
    /// For each enum value, the first enum that declares it.
    value_enums: HashMap<String, EnumId>,
    /// What is left of [`SUGGESTION_BUDGET`].
    suggestions: Cell<u64>,
    /// What is left of [`MAX_MOVE_COMPARISONS`](lint::MAX_MOVE_COMPARISONS).
    move_comparisons: u64,
}

impl<'s> Checker<'s> {
    fn new(symbols: &'s mut Symbols, lines: &'s [LineIndex]) -> Checker<'s> {
        Checker {
            symbols,
            lines,
            enum_names: Vec::new(),
            diagnostics: Vec::new(),
            used_signals: HashSet::new(),
            used_actions: HashSet::new(),
            value_enums: HashMap::new(),
            suggestions: Cell::new(SUGGESTION_BUDGET),
            move_comparisons: lint::MAX_MOVE_COMPARISONS,
        }
    }

    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn program(&mut self, modules: &mut [Module]) {
        self.declare_names(modules);
        self.declare_typed(modules);
        self.check_bodies(modules);
        self.unused(modules);
    }

    /// Declares a name in a namespace, reporting a duplicate.
    fn declare(&mut self, kind: &str, first: Option<Span>, name: &str, here: Span) -> bool {
        match first {
            Some(first) => {
                self.report(duplicate(kind, name, here, first));
                false
            }
            None => true,
        }
    }

    /// Pass 1: places, channels, enums and journeys' stage graphs.
    fn declare_names(&mut self, modules: &[Module]) {
        for item in modules.iter().flat_map(|m| &m.items) {
            match item {
                Item::Places(names) | Item::Channels(names) => {
                    let is_place = matches!(item, Item::Places(_));
                    for n in names {
                        let table = if is_place {
                            &self.symbols.places
                        } else {
                            &self.symbols.channels
                        };
                        let first = table.get(&n.name).copied();
                        let kind = if is_place { "place" } else { "channel" };
                        if self.declare(kind, first, &n.name, n.span) {
                            let table = if is_place {
                                &mut self.symbols.places
                            } else {
                                &mut self.symbols.channels
                            };
                            table.insert(n.name.clone(), n.span);
                        }
                    }
                }
                Item::Enum(e) => {
                    if BUILTIN_TYPES.contains(&e.name.name.as_str()) {
                        self.report(
                            Diagnostic::new(
                                Code::Duplicate,
                                e.name.span,
                                format!("enum `{}` has the name of a built-in type", e.name.name),
                            )
                            .label("built-in type")
                            .help("rename the enum"),
                        );
                        continue;
                    }
                    let first = self.symbols.enums.get(&e.name.name).map(|i| i.span);
                    if !self.declare("enum", first, &e.name.name, e.name.span) {
                        continue;
                    }
                    let mut values: IndexMap<String, Span> = IndexMap::new();
                    for v in &e.values {
                        let first = values.get(&v.name).copied();
                        if self.declare("enum value", first, &v.name, v.span) {
                            values.insert(v.name.clone(), v.span);
                        }
                    }
                    self.symbols.enums.insert(
                        e.name.name.clone(),
                        EnumInfo {
                            span: e.name.span,
                            values,
                        },
                    );
                }
                Item::Journey(j) => {
                    let first = self.symbols.journeys.get(&j.name.name).map(|i| i.span);
                    if self.declare("journey", first, &j.name.name, j.name.span) {
                        let info = stage_graph(j);
                        self.symbols.journeys.insert(j.name.name.clone(), info);
                    }
                }
                _ => {}
            }
        }
        self.enum_names = self.symbols.enum_names();
        for (i, e) in self.symbols.enums.values().enumerate() {
            for v in e.values.keys() {
                self.value_enums.entry(v.clone()).or_insert(EnumId::new(i));
            }
        }
    }

    /// Pass 2: the profile, signals and actions, whose types name enums.
    fn declare_typed(&mut self, modules: &mut [Module]) {
        let mut customer_at: Option<Span> = None;
        for item in modules.iter_mut().flat_map(|m| &mut m.items) {
            match item {
                Item::Customer(c) => {
                    if let Some(first) = customer_at {
                        self.report(
                            Diagnostic::new(
                                Code::Duplicate,
                                c.keyword,
                                "the `customer` profile is declared twice",
                            )
                            .label("second profile")
                            .note(first, "first declared here")
                            .help("a program has one `customer` block: merge the two"),
                        );
                        continue;
                    }
                    customer_at = Some(c.keyword);
                    let fields = self.fields("field", &mut c.fields);
                    self.symbols.customer = fields;
                }
                Item::Signal(s) => {
                    let first = self.symbols.signals.get(&s.name.name).map(|i| i.span);
                    let fields = self.fields("field", &mut s.fields);
                    if self.declare("signal", first, &s.name.name, s.name.span) {
                        self.symbols.signals.insert(
                            s.name.name.clone(),
                            SignalInfo {
                                span: s.name.span,
                                fields,
                            },
                        );
                    }
                }
                Item::Action(a) => {
                    let first = self.symbols.actions.get(&a.name.name).map(|i| i.span);
                    let params = self.fields("parameter", &mut a.params);
                    if self.declare("action", first, &a.name.name, a.name.span) {
                        self.symbols.actions.insert(
                            a.name.name.clone(),
                            ActionInfo {
                                span: a.name.span,
                                params,
                                exclusive: a.exclusive,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn fields(&mut self, kind: &str, fields: &mut [Field]) -> IndexMap<String, FieldInfo> {
        let mut out: IndexMap<String, FieldInfo> = IndexMap::new();
        for f in fields {
            let ty = self.resolve_type(&f.ty);
            if let Some(default) = &mut f.default {
                self.check_default(default, ty);
            }
            let first = out.get(&f.name.name).map(|i| i.span);
            if self.declare(kind, first, &f.name.name, f.name.span) {
                out.insert(
                    f.name.name.clone(),
                    FieldInfo {
                        span: f.name.span,
                        ty,
                        optional: f.ty.optional,
                    },
                );
            }
        }
        out
    }

    fn resolve_type(&mut self, t: &TypeExpr) -> Ty {
        let base = match t.name.name.as_str() {
            "int" => Base::Int,
            "float" => Base::Float,
            "text" => Base::Text,
            "bool" => Base::Bool,
            "duration" => Base::Duration,
            "place" => Base::Place,
            "channel" => Base::Channel,
            name => match self.symbols.enums.get_index_of(name) {
                Some(i) => Base::Enum(EnumId::new(i)),
                None => {
                    let help = self.suggest(
                        name,
                        BUILTIN_TYPES
                            .iter()
                            .copied()
                            .chain(self.symbols.enums.keys().map(|s| s.as_str())),
                    );
                    self.report(
                        Diagnostic::new(Code::UnknownType, t.name.span, format!("unknown type `{name}`"))
                            .label("not a type")
                            .maybe_help(help.or_else(|| {
                                Some("the types are int, float, text, bool, duration, place, channel and the declared enums".into())
                            })),
                    );
                    Base::Unknown
                }
            },
        };
        Ty { base, list: t.list }
    }

    /// Pass 3: action conditions, journeys and rules.
    fn check_bodies(&mut self, modules: &mut [Module]) {
        self.count_rules(modules, MAX_RULES);
        let mut top_rules: IndexMap<String, (Span, bool)> = IndexMap::new();
        let mut moves = Vec::new();
        let mut tests = Vec::new();
        for item in modules.iter_mut().flat_map(|m| &mut m.items) {
            match item {
                Item::Action(a) => {
                    if let Some(requires) = &mut a.requires {
                        self.check_condition(requires, &expr::Scope::Requires, "requires");
                    }
                }
                Item::Journey(j) => {
                    let journey_moves = self.journey(j);
                    moves.push(journey_moves);
                }
                Item::Test(t) => tests.push(t),
                Item::Rule(r) => {
                    self.rule_name(r, &mut top_rules);
                    self.rule(r, None);
                }
                _ => {}
            }
        }
        for journey_moves in moves {
            self.journey_lints(journey_moves);
        }
        let mut names = HashMap::new();
        for test in tests {
            self.test(test, &mut names);
        }
    }
}

impl Checker<'_> {
    /// Reports the first rule past `max` ([`MAX_RULES`]), counting
    /// journeys' rules and top-level rules in the order they are written.
    fn count_rules(&mut self, modules: &[Module], max: usize) {
        let mut count = 0usize;
        for item in modules.iter().flat_map(|m| &m.items) {
            let rules: &[Rule] = match item {
                Item::Journey(j) => &j.rules,
                Item::Rule(r) => std::slice::from_ref(r),
                _ => continue,
            };
            if let Some(extra) = rules.get(max.saturating_sub(count)) {
                let span = extra.name.as_ref().map_or(extra.when, |n| n.span);
                self.report(
                    Diagnostic::new(
                        Code::Limit,
                        span,
                        format!("the program has more than the limit of {max} rules"),
                    )
                    .label("one rule too many")
                    .help("split the rules into several programs, or merge rules that differ only in a value"),
                );
                return;
            }
            count += rules.len();
        }
    }
}

impl Checker<'_> {
    /// Declares a rule's name among the rules of its journey (or the
    /// top-level rules), reporting a collision: an unnamed rule is called
    /// `L<line>` after the line of its `when`, and that name is unique too,
    /// because state files and metrics know rules by name.
    fn rule_name(&mut self, rule: &Rule, names: &mut IndexMap<String, (Span, bool)>) {
        let (name, span, named) = match &rule.name {
            Some(n) => (n.name.clone(), n.span, true),
            None => (resolved::line_name(rule.when, self.lines), rule.when, false),
        };
        match names.get(&name).copied() {
            None => {
                names.insert(name, (span, named));
            }
            Some((first, first_named)) => {
                let mut d = duplicate("rule", &name, span, first);
                if !(named && first_named) {
                    d = d.help(
                        "an unnamed rule is called `L<line>` after the line of its `when`: name one of the two with `rule NAME:`",
                    );
                }
                self.report(d);
            }
        }
    }
}

fn duplicate(kind: &str, name: &str, here: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::Duplicate,
        here,
        format!("{kind} `{name}` is declared twice"),
    )
    .label("declared again here")
    .note(first, "first declared here")
    .help(format!("rename one of the two or remove the second {kind}"))
}

/// Builds a journey's stage graph from its `stages` lines.
fn stage_graph(j: &syntax::ast::Journey) -> JourneyInfo {
    let mut info = JourneyInfo {
        span: j.name.span,
        ..Default::default()
    };
    for line in &j.stages {
        let mut prev: Option<usize> = None;
        for s in line {
            let (i, _) = info.stages.insert_full(s.name.clone(), s.span);
            let i = info.stages.get_index_of(&s.name).unwrap_or(i);
            if let Some(p) = prev {
                info.edges.insert((p, i));
            }
            prev = Some(i);
        }
    }
    // `insert_full` replaced spans of repeated stages: restore first mentions.
    for line in j.stages.iter().rev() {
        for s in line.iter().rev() {
            if let Some(span) = info.stages.get_mut(&s.name) {
                *span = s.span;
            }
        }
    }
    let mut incoming = vec![false; info.stages.len()];
    for &(_, to) in &info.edges {
        incoming[to] = true;
    }
    info.entry = incoming.iter().map(|&has| !has).collect();
    if let Some(first) = info.entry.first_mut() {
        *first = true;
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule limit, with a limit small enough to reach: the program of
    /// `tests/bounds.rs` that reaches `MAX_RULES` takes a minute to parse
    /// in a debug build.
    #[test]
    fn the_first_rule_past_the_limit_is_reported() {
        let text = "signal s\naction a\nwhen s then a\njourney j {\n  stages x\n  rule r1: when s then a\n  rule r2: when s then a\n}\nrule top: when s then a\n";
        let module = syntax::parse(&Source::new("p.jr", text), 0).module;
        let modules = std::slice::from_ref(&module);
        for (max, at) in [
            (0, Some("when")),
            (1, Some("r1")),
            (2, Some("r2")),
            (3, Some("top")),
            (4, None),
        ] {
            let mut symbols = Symbols::default();
            let mut checker = Checker::new(&mut symbols, &[]);
            checker.count_rules(modules, max);
            let found: Vec<_> = checker
                .diagnostics
                .iter()
                .map(|d| (d.code, &text[d.span.range()], d.message.clone()))
                .collect();
            match at {
                Some(at) => assert_eq!(
                    found,
                    [(
                        Code::Limit,
                        at,
                        format!("the program has more than the limit of {max} rules")
                    )],
                    "max {max}"
                ),
                None => assert!(found.is_empty(), "max {max}: {found:?}"),
            }
        }
    }
}
