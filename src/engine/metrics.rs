//! Counters per rule, stage, split arm and goal.

use serde_json::{json, Map, Value as Json};

use crate::compile::Program;
use crate::ids::{GoalId, JourneyId, RuleId, StageId};

/// Counters of one rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    /// Times the rule matched and was not capped.
    pub fired: u64,
    /// Times the rule matched but its `limit` was reached.
    pub capped: u64,
    /// Decisions dropped because the action's `requires` was false.
    pub suppressed: u64,
    /// Decisions dropped by `exclusive` in favour of a higher-priority rule.
    pub excluded: u64,
    /// Evaluations that failed (division by zero, overflow).
    pub errors: u64,
    /// Decisions emitted.
    pub decisions: u64,
    /// Decisions emitted per split arm, in the order the arms are written.
    pub arms: Vec<u64>,
}

/// Conversions of one goal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoalCounts {
    /// Customers who converted.
    pub conversions: u64,
    /// Conversions by the stage the customer was in.
    pub by_stage: Vec<u64>,
    /// Conversions by split rule of the journey (the journey's split rules
    /// in rule order) and arm.
    pub by_arm: Vec<(RuleId, Vec<u64>)>,
}

/// Every counter of an engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Per rule, in rule order (indexed by [`RuleId::index`]).
    pub rules: Vec<RuleCounts>,
    /// Per journey, per stage: customers moved into it.
    pub stages: Vec<Vec<u64>>,
    /// Per journey, per goal.
    pub goals: Vec<Vec<GoalCounts>>,
}

impl Metrics {
    pub(crate) fn new(program: &Program) -> Metrics {
        Metrics {
            rules: program
                .rules
                .iter()
                .map(|r| RuleCounts {
                    arms: vec![0; r.arms.len()],
                    ..RuleCounts::default()
                })
                .collect(),
            stages: program
                .journeys
                .iter()
                .map(|j| vec![0; j.stages.len()])
                .collect(),
            goals: program
                .journeys
                .iter_ids()
                .map(|(ji, j)| {
                    let splits: Vec<(RuleId, Vec<u64>)> = program
                        .rules
                        .iter_ids()
                        .filter(|(_, r)| r.journey == Some(ji) && !r.arms.is_empty())
                        .map(|(i, r)| (i, vec![0; r.arms.len()]))
                        .collect();
                    j.goals
                        .iter()
                        .map(|_| GoalCounts {
                            conversions: 0,
                            by_stage: vec![0; j.stages.len()],
                            by_arm: splits.clone(),
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// Adds another engine's counters (of the same program): the totals of
    /// engines that share customers out between them.
    pub fn add(&mut self, other: &Metrics) {
        for (a, b) in self.rules.iter_mut().zip(&other.rules) {
            a.fired += b.fired;
            a.capped += b.capped;
            a.suppressed += b.suppressed;
            a.excluded += b.excluded;
            a.errors += b.errors;
            a.decisions += b.decisions;
            a.arms.iter_mut().zip(&b.arms).for_each(|(x, y)| *x += y);
        }
        for (a, b) in self.stages.iter_mut().zip(&other.stages) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        for (a, b) in self
            .goals
            .iter_mut()
            .flatten()
            .zip(other.goals.iter().flatten())
        {
            a.conversions += b.conversions;
            a.by_stage
                .iter_mut()
                .zip(&b.by_stage)
                .for_each(|(x, y)| *x += y);
            for ((_, x), (_, y)) in a.by_arm.iter_mut().zip(&b.by_arm) {
                x.iter_mut().zip(y).for_each(|(p, q)| *p += q);
            }
        }
    }

    pub(crate) fn convert(
        &mut self,
        program: &Program,
        journey: JourneyId,
        goal: GoalId,
        stage: StageId,
        exposures: &[RuleId],
        customer: &str,
    ) {
        let counts = &mut self.goals[journey.index()][goal.index()];
        counts.conversions += 1;
        counts.by_stage[stage.index()] += 1;
        for &rule in exposures {
            let def = &program.rules[rule];
            if def.journey != Some(journey) {
                continue;
            }
            let bucket = super::bucket(customer, &program.journeys[journey].name, &def.name);
            let Some((_, arms)) = counts.by_arm.iter_mut().find(|(r, _)| *r == rule) else {
                continue;
            };
            for step in &def.steps {
                if let crate::compile::Step::Split { first, arms: split } = step {
                    if let Some(pos) = split
                        .iter()
                        .position(|a| a.low <= bucket && bucket < a.high)
                    {
                        if let Some(count) = arms.get_mut(first.index() + pos) {
                            *count += 1;
                        }
                    }
                }
            }
        }
    }

    /// The counters as JSON, with names: what `jrule run --metrics` writes.
    pub fn to_json(&self, program: &Program) -> Json {
        let rules: Vec<Json> = program
            .rules
            .iter()
            .zip(&self.rules)
            .map(|(r, c)| {
                let mut o = json!({
                    "journey": r.journey.map(|j| program.journeys[j].name.to_string()),
                    "rule": r.name.to_string(),
                    "fired": c.fired,
                    "capped": c.capped,
                    "suppressed": c.suppressed,
                    "excluded": c.excluded,
                    "errors": c.errors,
                    "decisions": c.decisions,
                });
                if !r.arms.is_empty() {
                    let arms: Map<String, Json> = r
                        .arms
                        .iter()
                        .zip(&c.arms)
                        .map(|(a, n)| (a.to_string(), json!(n)))
                        .collect();
                    o["arms"] = Json::Object(arms);
                }
                o
            })
            .collect();
        let journeys: Vec<Json> = program
            .journeys
            .iter()
            .zip(self.stages.iter().zip(&self.goals))
            .map(|(j, (stage_counts, goal_counts))| {
                let stages: Map<String, Json> = j
                    .stages
                    .iter()
                    .zip(stage_counts)
                    .map(|(s, n)| (s.to_string(), json!(n)))
                    .collect();
                let goals: Vec<Json> = j
                    .goals
                    .iter()
                    .zip(goal_counts)
                    .map(|(g, c)| {
                        let by_stage: Map<String, Json> = j
                            .stages
                            .iter()
                            .zip(&c.by_stage)
                            .map(|(s, n)| (s.to_string(), json!(n)))
                            .collect();
                        let by_arm: Map<String, Json> = c
                            .by_arm
                            .iter()
                            .map(|(rule, counts)| {
                                let def = &program.rules[*rule];
                                let arms: Map<String, Json> = def
                                    .arms
                                    .iter()
                                    .zip(counts)
                                    .map(|(a, n)| (a.to_string(), json!(n)))
                                    .collect();
                                (def.name.to_string(), Json::Object(arms))
                            })
                            .collect();
                        json!({
                            "signal": program.names.signals[g.signal].name.to_string(),
                            "conversions": c.conversions,
                            "by_stage": by_stage,
                            "by_arm": by_arm,
                        })
                    })
                    .collect();
                json!({ "journey": j.name.to_string(), "entered": stages, "goals": goals })
            })
            .collect();
        json!({ "rules": rules, "journeys": journeys })
    }
}
