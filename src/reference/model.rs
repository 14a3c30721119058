//! What the reference reads off the checked syntax tree: rules with their
//! names and orders, journeys' stage graphs, actions, profile defaults.

use std::collections::{BTreeMap, BTreeSet};

use super::eval::{eval, Scope, Val};
use crate::check::{Checked, Symbols};
use crate::source::Source;
use crate::syntax::ast::{Action, ActionDecl, Item, Rule};

/// A checked program, as plain data.
pub(crate) struct Model {
    pub symbols: Symbols,
    /// Every rule, in declaration order (files in order, then text order).
    pub rules: Vec<RuleDef>,
    /// Rule numbers in decision order: journeys in declaration order,
    /// top-level rules last; then priority, highest first; then declaration.
    pub order: Vec<usize>,
    pub journeys: Vec<JourneyDef>,
    pub actions: BTreeMap<String, ActionDecl>,
    /// The profile of a customer nobody set a field for: defaults, or absent.
    pub defaults: BTreeMap<String, Option<Val>>,
}

pub(crate) struct RuleDef {
    /// Index into `Model::journeys`; `None` for a top-level rule.
    pub journey: Option<usize>,
    /// `rule NAME:`, or `L<line of its when>`.
    pub name: String,
    pub priority: i64,
    pub rule: Rule,
}

impl RuleDef {
    /// True when one of its actions is a `split`.
    pub fn has_split(&self) -> bool {
        self.rule
            .actions
            .iter()
            .any(|a| matches!(a, Action::Split(_)))
    }
}

pub(crate) struct JourneyDef {
    pub name: String,
    /// In order of first mention.
    pub stages: Vec<String>,
    pub edges: BTreeSet<(String, String)>,
    /// The first stage named, and every stage with no incoming edge.
    pub entry: BTreeSet<String>,
    /// `goal S within D`: the signal and the window in milliseconds.
    pub goals: Vec<(String, u64)>,
}

impl JourneyDef {
    /// A move from `from` (`None`: outside the journey) to `to` is allowed.
    pub fn allows(&self, from: Option<&str>, to: &str) -> bool {
        match from {
            Some(from) => self.edges.contains(&(from.to_string(), to.to_string())),
            None => self.entry.contains(to),
        }
    }
}

impl Model {
    pub fn new(checked: &Checked, sources: &[Source]) -> Model {
        let symbols = checked.symbols.clone();
        let mut rules = Vec::new();
        let mut journeys = Vec::new();
        let mut actions = BTreeMap::new();
        let mut defaults = BTreeMap::new();
        for module in &checked.modules {
            let text = sources
                .get(module.file as usize)
                .map_or("", |s| s.text.as_str());
            let name_of = |rule: &Rule| match &rule.name {
                Some(n) => n.name.clone(),
                None => format!(
                    "L{}",
                    1 + text[..rule.when.start as usize].matches('\n').count()
                ),
            };
            for item in &module.items {
                match item {
                    Item::Journey(j) => {
                        let mut def = JourneyDef {
                            name: j.name.name.clone(),
                            stages: Vec::new(),
                            edges: BTreeSet::new(),
                            entry: BTreeSet::new(),
                            goals: j
                                .goals
                                .iter()
                                .map(|g| (g.signal.name.clone(), g.within.ms))
                                .collect(),
                        };
                        for line in &j.stages {
                            for s in line {
                                if !def.stages.contains(&s.name) {
                                    def.stages.push(s.name.clone());
                                }
                            }
                            for pair in line.windows(2) {
                                def.edges
                                    .insert((pair[0].name.clone(), pair[1].name.clone()));
                            }
                        }
                        for (i, s) in def.stages.iter().enumerate() {
                            if i == 0 || !def.edges.iter().any(|(_, to)| to == s) {
                                def.entry.insert(s.clone());
                            }
                        }
                        for rule in &j.rules {
                            rules.push(RuleDef {
                                journey: Some(journeys.len()),
                                name: name_of(rule),
                                priority: rule.priority.as_ref().map_or(0, |p| p.value),
                                rule: rule.clone(),
                            });
                        }
                        journeys.push(def);
                    }
                    Item::Rule(rule) => rules.push(RuleDef {
                        journey: None,
                        name: name_of(rule),
                        priority: rule.priority.as_ref().map_or(0, |p| p.value),
                        rule: (**rule).clone(),
                    }),
                    Item::Action(a) => {
                        actions.insert(a.name.name.clone(), a.clone());
                    }
                    Item::Customer(c) => {
                        let none = BTreeMap::new();
                        let scope = Scope {
                            profile: &none,
                            event: None,
                        };
                        for f in &c.fields {
                            let ty = symbols.customer[&f.name.name].ty;
                            let value = f
                                .default
                                .as_ref()
                                .and_then(|d| eval(d, &scope).ok().flatten())
                                .map(|v| v.widen(ty));
                            defaults.insert(f.name.name.clone(), value);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by_key(|&r| {
            let def = &rules[r];
            (
                def.journey.unwrap_or(usize::MAX),
                std::cmp::Reverse(def.priority),
                r,
            )
        });
        Model {
            symbols,
            rules,
            order,
            journeys,
            actions,
            defaults,
        }
    }
}
