//! Journeys as pictures: each journey's stage graph with the rules that
//! move customers drawn on its edges, as Graphviz DOT or Mermaid.

use std::fmt::Write;

use crate::check::Checked;
use crate::source::Source;
use crate::syntax::ast::{Action, Item, Journey, Trigger};

/// One journey, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyGraph {
    /// The journey's name.
    pub name: String,
    /// Its stages in order of first mention.
    pub stages: Vec<StageNode>,
    /// Moves and timers, in rule order; then edges no rule uses.
    pub edges: Vec<Edge>,
}

/// A stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageNode {
    /// The stage's name.
    pub name: String,
    /// A customer can enter the journey here.
    pub entry: bool,
    /// No rule can move a customer here (customers only enter by moves).
    pub unreachable: bool,
}

/// An arrow between stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// `None`: from outside the journey.
    pub from: Option<usize>,
    /// Target stage.
    pub to: usize,
    /// What the arrow means.
    pub kind: EdgeKind,
}

/// What an arrow means.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EdgeKind {
    /// A rule moves customers along it: its name and trigger.
    Move {
        /// The rule's name (`L12` for an unnamed rule on line 12).
        rule: String,
        /// The trigger as written, e.g. `key_used at hotel`.
        trigger: String,
        /// Fired by a timer (`no … after`, `in … for`) rather than an event.
        timer: bool,
    },
    /// A timer rule that acts but does not move: drawn as a loop on the stage.
    Timer {
        /// The rule's name.
        rule: String,
        /// The trigger as written.
        trigger: String,
        /// The actions it takes, e.g. `notify_staff`.
        actions: String,
    },
    /// An edge of the graph that no rule moves along.
    Unused,
}

/// The stage graphs of every journey (or only `only`) of a checked program.
pub fn journeys(sources: &[Source], checked: &Checked, only: Option<&str>) -> Vec<JourneyGraph> {
    let mut out = Vec::new();
    for item in checked.modules.iter().flat_map(|m| &m.items) {
        let Item::Journey(journey) = item else {
            continue;
        };
        if only.is_some_and(|n| n != journey.name.name) {
            continue;
        }
        if let Some(info) = checked.symbols.journeys.get(&journey.name.name) {
            out.push(journey_graph(sources, journey, info));
        }
    }
    out
}

fn journey_graph(
    sources: &[Source],
    journey: &Journey,
    info: &crate::check::JourneyInfo,
) -> JourneyGraph {
    let stage = |name: &str| info.stages.get_index_of(name);
    let n = info.stages.len();
    let mut edges = Vec::new();
    let mut used = vec![vec![false; n + 1]; n + 1];
    for rule in &journey.rules {
        let name = rule.display_name(sources);
        let text = trigger(sources, &rule.trigger);
        let timer = !matches!(rule.trigger, Trigger::Signal { .. });
        // Where the rule can fire: its `in` clause, its stay stage, or anywhere.
        let from: Vec<Option<usize>> = match (&rule.trigger, &rule.stages) {
            (Trigger::Stay { stage: s, .. }, _) => stage(&s.name).map(Some).into_iter().collect(),
            (_, Some(clause)) => clause
                .stages
                .iter()
                .filter_map(|s| stage(&s.name))
                .map(Some)
                .collect(),
            (_, None) => std::iter::once(None).chain((0..n).map(Some)).collect(),
        };
        let mut targets = Vec::new();
        moves(&rule.actions, &mut targets);
        for to in targets.iter().filter_map(|t| stage(t)) {
            for &f in &from {
                if info.allows(f, to) {
                    used[f.unwrap_or(n)][to] = true;
                    edges.push(Edge {
                        from: f,
                        to,
                        kind: EdgeKind::Move {
                            rule: name.clone(),
                            trigger: text.clone(),
                            timer,
                        },
                    });
                }
            }
        }
        if timer && targets.is_empty() {
            let acts = actions(&rule.actions);
            for f in from.iter().flatten() {
                edges.push(Edge {
                    from: Some(*f),
                    to: *f,
                    kind: EdgeKind::Timer {
                        rule: name.clone(),
                        trigger: text.clone(),
                        actions: acts.clone(),
                    },
                });
            }
        }
    }
    let mut declared: Vec<(usize, usize)> = info.edges.iter().copied().collect();
    declared.sort_unstable();
    for (from, to) in declared {
        if !used[from][to] {
            edges.push(Edge {
                from: Some(from),
                to,
                kind: EdgeKind::Unused,
            });
        }
    }
    let entered: Vec<bool> = (0..n)
        .map(|s| {
            edges
                .iter()
                .any(|e| e.to == s && matches!(e.kind, EdgeKind::Move { .. }))
        })
        .collect();
    let stages = info
        .stages
        .keys()
        .enumerate()
        .map(|(i, name)| StageNode {
            name: name.clone(),
            entry: info.entry[i],
            unreachable: !entered[i],
        })
        .collect();
    JourneyGraph {
        name: journey.name.name.clone(),
        stages,
        edges,
    }
}

fn moves(actions: &[Action], out: &mut Vec<String>) {
    for a in actions {
        match a {
            Action::Move { stage, .. } => {
                if !out.contains(&stage.name) {
                    out.push(stage.name.clone());
                }
            }
            Action::Split(split) => {
                for arm in &split.arms {
                    moves(&arm.actions, out);
                }
            }
            Action::Call(_) | Action::Skip(_) => {}
        }
    }
}

fn actions(list: &[Action]) -> String {
    let mut names = Vec::new();
    for a in list {
        match a {
            Action::Call(call) => names.push(call.name.name.clone()),
            Action::Split(split) => names.push(format!(
                "split {}",
                split
                    .arms
                    .iter()
                    .map(|a| a.name.name.as_str())
                    .collect::<Vec<_>>()
                    .join("/")
            )),
            Action::Move { .. } | Action::Skip(_) => {}
        }
    }
    names.join(", ")
}

/// A trigger as written, with its spaces and line breaks collapsed.
fn trigger(sources: &[Source], t: &Trigger) -> String {
    let (prefix, span) = match t {
        Trigger::Signal { event, after } => (
            "",
            after
                .as_ref()
                .map_or(event.span, |(_, a)| event.span.to(a.span)),
        ),
        Trigger::Absence { absent, after, .. } => ("no ", absent.span.to(after.span)),
        Trigger::Stay {
            keyword, duration, ..
        } => ("", keyword.to(duration.span)),
    };
    format!("{prefix}{}", Source::snippet(sources, span))
}

/// Graphviz DOT: one `digraph` with a cluster per journey.
pub fn dot(graphs: &[JourneyGraph]) -> String {
    let mut s = String::from(
        "digraph jrule {\n  rankdir=LR;\n  fontname=\"Helvetica\";\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f5f7fa\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (j, g) in graphs.iter().enumerate() {
        let id = |i: usize| format!("j{j}_s{i}");
        let _ = writeln!(s, "  subgraph cluster_{j} {{");
        let _ = writeln!(s, "    label={};", quote(&format!("journey {}", g.name)));
        let _ = writeln!(s, "    style=rounded; color=\"#9aa5b1\";");
        let _ = writeln!(
            s,
            "    j{j}_start [label=\"\", shape=circle, width=0.2, style=filled, fillcolor=black];"
        );
        for (i, st) in g.stages.iter().enumerate() {
            let mut attrs = format!("label={}", quote(&st.name));
            if st.entry {
                attrs.push_str(", penwidth=2");
            }
            if st.unreachable {
                attrs = format!(
                    "label={}, style=\"rounded,dashed,filled\", fillcolor=\"#fde8e8\", color=\"#c81e1e\", fontcolor=\"#c81e1e\"",
                    quote(&format!("{}\n(unreachable)", st.name))
                );
            }
            let _ = writeln!(s, "    {} [{attrs}];", id(i));
        }
        for e in &g.edges {
            let from = e.from.map_or(format!("j{j}_start"), id);
            let attrs = match &e.kind {
                EdgeKind::Move {
                    rule,
                    trigger,
                    timer,
                } => {
                    let style = if *timer { ", style=dashed" } else { "" };
                    let clock = if *timer { " (timer)" } else { "" };
                    format!("label={}{style}", quote(&format!("{rule}{clock}\n{trigger}")))
                }
                EdgeKind::Timer {
                    rule,
                    trigger,
                    actions,
                } => format!(
                    "label={}, style=dashed, color=\"#7b8794\", fontcolor=\"#52606d\"",
                    quote(&format!("{rule} (timer)\n{trigger}\n→ {actions}"))
                ),
                EdgeKind::Unused => {
                    "style=dotted, color=\"#9aa5b1\", arrowhead=empty, tooltip=\"no rule moves along this edge\"".to_string()
                }
            };
            let _ = writeln!(s, "    {from} -> {} [{attrs}];", id(e.to));
        }
        s.push_str("  }\n");
    }
    s.push_str("}\n");
    s
}

/// Mermaid: a `stateDiagram-v2` per journey, one after another.
pub fn mermaid(graphs: &[JourneyGraph]) -> String {
    let mut s = String::new();
    for (j, g) in graphs.iter().enumerate() {
        if j > 0 {
            s.push('\n');
        }
        let _ = writeln!(s, "---\ntitle: journey {}\n---", g.name);
        s.push_str("stateDiagram-v2\n");
        s.push_str("  classDef unreachable fill:#fde8e8,stroke:#c81e1e,stroke-dasharray:4 4\n");
        let id = |i: usize| format!("s{i}");
        for (i, st) in g.stages.iter().enumerate() {
            let _ = writeln!(s, "  state \"{}\" as {}", mermaid_text(&st.name), id(i));
        }
        for e in &g.edges {
            let from = e.from.map_or("[*]".to_string(), id);
            let label = match &e.kind {
                EdgeKind::Move {
                    rule,
                    trigger,
                    timer,
                } => format!(
                    " : {}{}: {}",
                    rule,
                    if *timer { " (timer)" } else { "" },
                    trigger
                ),
                EdgeKind::Timer {
                    rule,
                    trigger,
                    actions,
                } => format!(" : {rule} (timer): {trigger} → {actions}"),
                EdgeKind::Unused => " : (no rule)".to_string(),
            };
            let _ = writeln!(s, "  {from} --> {}{}", id(e.to), mermaid_text(&label));
        }
        for (i, st) in g.stages.iter().enumerate() {
            if st.unreachable {
                let _ = writeln!(s, "  class {} unreachable", id(i));
            }
        }
    }
    s
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "'").replace(['\n', ';'], " ")
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
