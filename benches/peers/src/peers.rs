//! The engines under test, jrule and its peers, each behind [`Peer`].
//!
//! Every peer gets the same events (their signal and tier) and answers, per
//! event, the numbers of the rules that match it. Inputs are converted to
//! each engine's own form once, before measuring, wherever the engine lets
//! an input be reused; what an engine must do per event (bind variables,
//! build a context) is measured.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use jrule::Arg;
use jrule::workload::Workload;
use jrule::{Decision, Engine, Event, Program, Source};

/// One generated event: its rule number and its signal and tier.
#[derive(Debug, Clone, Copy)]
pub struct Ev {
    /// The rule the event was drawn for (the one rule that matches it).
    pub rule: u32,
    /// Signal number: the event's signal is `s{signal}`.
    pub signal: u32,
    /// Tier number: the event's tier is `t{tier}`.
    pub tier: u32,
}

/// The W1 events as (rule, signal, tier), drawn with the same calls on the
/// same generator as [`jrule::workload::events`]: per event the rule `i`,
/// then the customer, the amount and the label.
pub fn w1_events(rules: usize, customers: usize, count: usize, seed: u64) -> Vec<Ev> {
    let mut rng = jrule::workload::Rng::new(seed);
    let (signals, _) = jrule::workload::grid(rules.max(1));
    let customers = customers.max(1) as u64;
    (0..count)
        .map(|_| {
            let i = rng.below(rules.max(1) as u64) as usize;
            let _customer = rng.below(customers);
            let _amount = rng.below(1000);
            let _label = rng.below(100);
            Ev {
                rule: i as u32,
                signal: (i % signals) as u32,
                tier: (i / signals) as u32,
            }
        })
        .collect()
}

/// A rule engine that answers which rules match event number `k`.
pub trait Peer {
    /// Prepares a pass over the events from the first (not measured).
    fn reset(&mut self) {}
    /// Appends the numbers of the rules matching event `k` to `out`.
    fn matches(&mut self, k: usize, out: &mut Vec<u32>);
}

/// What the harness needs to build every peer for one size.
pub struct Setup<'a> {
    pub rules: usize,
    pub signals: usize,
    pub events: &'a [Ev],
}

impl Setup<'_> {
    /// The signal and tier of rule `i`.
    pub fn rule(&self, i: usize) -> (usize, usize) {
        (i % self.signals, i / self.signals)
    }
}

// ---------------------------------------------------------------- jrule

pub struct Jrule {
    program: Arc<Program>,
    engine: Engine,
    events: Vec<Event>,
    out: Vec<Decision>,
}

impl Jrule {
    pub fn new(setup: &Setup, customers: usize, seed: u64) -> Jrule {
        let text = jrule::workload::program(Workload::W1, setup.rules);
        let program = Program::compile(&[Source::new("w1.jr", text)])
            .unwrap_or_else(|e| panic!("the W1 program does not compile: {e:?}")).program;
        let program = Arc::new(program);
        let events = jrule::workload::events(
            &program,
            Workload::W1,
            setup.rules,
            customers,
            setup.events.len(),
            seed,
        );
        Jrule {
            engine: Engine::new(program.clone()),
            program,
            events,
            out: Vec::new(),
        }
    }
}

impl Peer for Jrule {
    fn reset(&mut self) {
        // Events are in time order: a new pass needs a new clock.
        self.engine = Engine::new(self.program.clone());
    }

    fn matches(&mut self, k: usize, out: &mut Vec<u32>) {
        self.out.clear();
        self.engine
            .process_into(&self.events[k], &mut self.out)
            .expect("jrule accepts its own events");
        for d in &self.out {
            // The W1 action has one parameter, the rule's number (named
            // `rule` or `id` depending on the jrule version).
            if let Some(i) = d.args().iter().find_map(|(_, arg)| match arg {
                Arg::Int(i) => Some(*i),
                _ => None,
            }) {
                out.push(i as u32);
            }
        }
    }
}

// ---------------------------------------------------------------- CEL

/// CEL (`cel`): one compiled program per rule, evaluated against a context
/// holding the event's `signal` and `tier`; `indexed` evaluates only the
/// programs of the event's signal (grouped by hand in a map).
pub struct Cel {
    programs: Vec<(u32, cel::Program)>,
    by_signal: Option<HashMap<String, Vec<usize>>>,
    context: cel::Context<'static, 'static>,
    inputs: Vec<(String, Arc<String>, Arc<String>)>,
}

impl Cel {
    pub fn new(setup: &Setup, indexed: bool) -> Cel {
        let mut programs = Vec::with_capacity(setup.rules);
        let mut by_signal: HashMap<String, Vec<usize>> = HashMap::new();
        for i in 0..setup.rules {
            let (s, t) = setup.rule(i);
            let text = format!("signal == \"s{s}\" && tier == \"t{t}\"");
            let program = cel::Program::compile(&text).expect("a CEL program");
            by_signal
                .entry(format!("s{s}"))
                .or_default()
                .push(programs.len());
            programs.push((i as u32, program));
        }
        let inputs = setup
            .events
            .iter()
            .map(|e| {
                let s = format!("s{}", e.signal);
                (s.clone(), Arc::new(s), Arc::new(format!("t{}", e.tier)))
            })
            .collect();
        Cel {
            programs,
            by_signal: indexed.then_some(by_signal),
            context: cel::Context::default(),
            inputs,
        }
    }

    fn eval(&self, p: usize, out: &mut Vec<u32>) {
        let (rule, program) = &self.programs[p];
        match program.execute(&self.context) {
            Ok(cel::Value::Bool(true)) => out.push(*rule),
            Ok(cel::Value::Bool(false)) => {}
            other => panic!("CEL rule {rule}: {other:?}"),
        }
    }
}

impl Peer for Cel {
    fn matches(&mut self, k: usize, out: &mut Vec<u32>) {
        let (key, signal, tier) = &self.inputs[k];
        self.context
            .add_variable_from_value("signal", cel::Value::String(signal.clone()));
        self.context
            .add_variable_from_value("tier", cel::Value::String(tier.clone()));
        match &self.by_signal {
            None => {
                for p in 0..self.programs.len() {
                    self.eval(p, out);
                }
            }
            Some(map) => {
                if let Some(ps) = map.get(key.as_str()) {
                    for &p in ps {
                        self.eval(p, out);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- Rhai

/// Rhai: one compiled expression per rule over the scope variables
/// `signal` and `tier`; `indexed` as for CEL.
pub struct Rhai {
    engine: rhai::Engine,
    asts: Vec<(u32, rhai::AST)>,
    by_signal: Option<HashMap<String, Vec<usize>>>,
    scope: rhai::Scope<'static>,
    inputs: Vec<(String, rhai::ImmutableString, rhai::ImmutableString)>,
}

impl Rhai {
    pub fn new(setup: &Setup, indexed: bool) -> Rhai {
        let engine = rhai::Engine::new();
        let mut asts = Vec::with_capacity(setup.rules);
        let mut by_signal: HashMap<String, Vec<usize>> = HashMap::new();
        for i in 0..setup.rules {
            let (s, t) = setup.rule(i);
            let text = format!("signal == \"s{s}\" && tier == \"t{t}\"");
            let ast = engine.compile_expression(&text).expect("a Rhai expression");
            by_signal
                .entry(format!("s{s}"))
                .or_default()
                .push(asts.len());
            asts.push((i as u32, ast));
        }
        let mut scope = rhai::Scope::new();
        scope.push("signal", rhai::ImmutableString::new());
        scope.push("tier", rhai::ImmutableString::new());
        let inputs = setup
            .events
            .iter()
            .map(|e| {
                let s = format!("s{}", e.signal);
                (s.clone(), s.into(), format!("t{}", e.tier).into())
            })
            .collect();
        Rhai {
            engine,
            asts,
            by_signal: indexed.then_some(by_signal),
            scope,
            inputs,
        }
    }
}

fn rhai_eval(
    engine: &rhai::Engine,
    scope: &mut rhai::Scope<'static>,
    (rule, ast): &(u32, rhai::AST),
    out: &mut Vec<u32>,
) {
    match engine.eval_ast_with_scope::<bool>(scope, ast) {
        Ok(true) => out.push(*rule),
        Ok(false) => {}
        Err(e) => panic!("Rhai rule {rule}: {e}"),
    }
}

impl Peer for Rhai {
    fn matches(&mut self, k: usize, out: &mut Vec<u32>) {
        let Rhai {
            engine,
            asts,
            by_signal,
            scope,
            inputs,
        } = self;
        let (key, signal, tier) = &inputs[k];
        scope.set_value("signal", signal.clone());
        scope.set_value("tier", tier.clone());
        match by_signal {
            None => asts.iter().for_each(|a| rhai_eval(engine, scope, a, out)),
            Some(map) => {
                if let Some(group) = map.get(key.as_str()) {
                    group
                        .iter()
                        .for_each(|&a| rhai_eval(engine, scope, &asts[a], out));
                }
            }
        }
    }
}

// ---------------------------------------------------------------- Cedar

/// Cedar: one policy per rule,
/// `permit(principal, action == Action::"sX", resource) when { context.tier == "tY" };`,
/// one authorization per event; the matches are the determining policies.
/// `indexed` keeps one policy set per action (signal) and asks only that.
pub struct Cedar {
    authorizer: cedar_policy::Authorizer,
    all: cedar_policy::PolicySet,
    by_signal: Option<HashMap<u32, cedar_policy::PolicySet>>,
    entities: cedar_policy::Entities,
    requests: Vec<(u32, cedar_policy::Request)>,
}

impl Cedar {
    pub fn new(setup: &Setup, indexed: bool) -> Cedar {
        use cedar_policy::{
            Context, Entities, EntityUid, Policy, PolicyId, PolicySet, Request,
            RestrictedExpression,
        };
        let mut all = PolicySet::new();
        let mut by_signal: HashMap<u32, PolicySet> = HashMap::new();
        for i in 0..setup.rules {
            let (s, t) = setup.rule(i);
            let text = format!(
                "permit(principal, action == Action::\"s{s}\", resource) when {{ context.tier == \"t{t}\" }};"
            );
            let policy =
                Policy::parse(Some(PolicyId::new(format!("r{i}"))), &text).expect("a Cedar policy");
            if indexed {
                by_signal
                    .entry(s as u32)
                    .or_default()
                    .add(policy)
                    .expect("unique ids");
            } else {
                all.add(policy).expect("unique ids");
            }
        }
        let principal = EntityUid::from_str("User::\"c\"").expect("a uid");
        let resource = EntityUid::from_str("Journey::\"j\"").expect("a uid");
        let requests = setup
            .events
            .iter()
            .map(|e| {
                let action =
                    EntityUid::from_str(&format!("Action::\"s{}\"", e.signal)).expect("a uid");
                let context = Context::from_pairs([(
                    "tier".to_string(),
                    RestrictedExpression::new_string(format!("t{}", e.tier)),
                )])
                .expect("a context");
                let request =
                    Request::new(principal.clone(), action, resource.clone(), context, None)
                        .expect("a request");
                (e.signal, request)
            })
            .collect();
        Cedar {
            authorizer: cedar_policy::Authorizer::new(),
            all,
            by_signal: indexed.then_some(by_signal),
            entities: Entities::empty(),
            requests,
        }
    }
}

impl Peer for Cedar {
    fn matches(&mut self, k: usize, out: &mut Vec<u32>) {
        let (signal, request) = &self.requests[k];
        let set = match &self.by_signal {
            None => &self.all,
            Some(map) => match map.get(signal) {
                Some(set) => set,
                None => return,
            },
        };
        let response = self.authorizer.is_authorized(request, set, &self.entities);
        if let Some(e) = response.diagnostics().errors().next() {
            panic!("Cedar: {e}");
        }
        for id in response.diagnostics().reason() {
            let id: &str = id.as_ref();
            out.push(id[1..].parse().expect("a policy id r<number>"));
        }
    }
}

// ---------------------------------------------------------------- Rego

/// Rego (`regorus`): rules `matches contains i if { input.signal == "sX";
/// input.tier == "tY" }`, one module, `data.w1.matches` evaluated per event.
/// `grouped` puts each signal's rules in a package of their own,
/// `data.w1.sX`, and evaluates only that package's `matches`. `rvm` runs
/// the rules compiled for regorus's virtual machine instead of its
/// interpreter.
pub struct Rego {
    engine: regorus::Engine,
    vms: Vec<regorus::rvm::vm::RegoVM>,
    inputs: Vec<(regorus::Value, String, usize)>,
}

impl Rego {
    pub fn new(setup: &Setup, grouped: bool, rvm: bool) -> Rego {
        // The text of each module and the rule it is asked for.
        let mut modules: Vec<(String, String)> = Vec::new();
        if grouped {
            modules = (0..setup.signals)
                .map(|s| {
                    (
                        format!("package w1.s{s}\nimport rego.v1\n"),
                        format!("data.w1.s{s}.matches"),
                    )
                })
                .collect();
            for i in 0..setup.rules {
                let (s, t) = setup.rule(i);
                modules[s].0.push_str(&format!(
                    "matches contains {i} if {{ input.signal == \"s{s}\"; input.tier == \"t{t}\" }}\n"
                ));
            }
        } else {
            let mut text = String::from("package w1\nimport rego.v1\n");
            for i in 0..setup.rules {
                let (s, t) = setup.rule(i);
                text.push_str(&format!(
                    "matches contains {i} if {{ input.signal == \"s{s}\"; input.tier == \"t{t}\" }}\n"
                ));
            }
            modules.push((text, "data.w1.matches".to_string()));
        }
        let mut engine = regorus::Engine::new();
        let mut vms = Vec::new();
        let paths: Vec<String> = modules.iter().map(|(_, p)| p.clone()).collect();
        for (m, (text, path)) in modules.into_iter().enumerate() {
            if !rvm {
                engine
                    .add_policy(format!("w1_{m}.rego"), text)
                    .expect("a Rego module");
                continue;
            }
            // An engine per module: an RVM program holds at most 256
            // sources, and compiling one entry point visits every module.
            let mut one = regorus::Engine::new();
            one.add_policy(format!("w1_{m}.rego"), text)
                .expect("a Rego module");
            let compiled = one
                .compile_with_entrypoint(&path.as_str().into())
                .expect("a compiled policy");
            let program = regorus::languages::rego::compiler::Compiler::compile_from_policy(
                &compiled,
                &[path.as_str()],
            )
            .expect("an RVM program");
            let mut vm = regorus::rvm::vm::RegoVM::new();
            vm.load_program(program);
            vms.push(vm);
        }
        let inputs = setup
            .events
            .iter()
            .map(|e| {
                let json = format!("{{\"signal\":\"s{}\",\"tier\":\"t{}\"}}", e.signal, e.tier);
                let which = if grouped { e.signal as usize } else { 0 };
                (
                    regorus::Value::from_json_str(&json).expect("an input"),
                    paths[which].clone(),
                    which,
                )
            })
            .collect();
        Rego {
            engine,
            vms,
            inputs,
        }
    }
}

impl Peer for Rego {
    fn matches(&mut self, k: usize, out: &mut Vec<u32>) {
        let (input, path, which) = &self.inputs[k];
        let value = if self.vms.is_empty() {
            self.engine.set_input(input.clone());
            self.engine.eval_rule(path.clone()).expect("Rego evaluates")
        } else {
            let vm = &mut self.vms[*which];
            vm.set_input(input.clone());
            vm.execute().expect("Rego evaluates")
        };
        if value == regorus::Value::Undefined {
            return;
        }
        for v in value.as_set().expect("a set of rule numbers").iter() {
            out.push(v.as_u64().expect("a rule number") as u32);
        }
    }
}

// ---------------------------------------------------------------- ZEN

/// GoRules ZEN (`zen-engine`): one decision table, inputs `signal` and
/// `tier`, output `rule`, one row per rule, hit policy `collect`.
/// The natural form evaluates the decision as loaded (as in the crate's
/// quick start); `compiled` calls `Decision::compile` first, which
/// precompiles the cells and builds the table's column indexes.
pub struct Zen {
    decision: zen_engine::Decision,
    runtime: tokio::runtime::Runtime,
    inputs: Vec<zen_engine::Variable>,
}

impl Zen {
    pub fn new(setup: &Setup, compiled: bool) -> Zen {
        use serde_json::{json, Value};
        let rules: Vec<Value> = (0..setup.rules)
            .map(|i| {
                let (s, t) = setup.rule(i);
                json!({
                    "_id": format!("r{i}"),
                    "sig": format!("\"s{s}\""),
                    "tier": format!("\"t{t}\""),
                    "rule": format!("{i}"),
                })
            })
            .collect();
        let content = json!({
            "nodes": [
                { "id": "in", "name": "request", "type": "inputNode", "content": {} },
                { "id": "dt", "name": "w1", "type": "decisionTableNode", "content": {
                    "hitPolicy": "collect",
                    "inputs": [
                        { "id": "sig", "name": "Signal", "field": "signal" },
                        { "id": "tier", "name": "Tier", "field": "tier" }
                    ],
                    "outputs": [ { "id": "rule", "name": "Rule", "field": "rule" } ],
                    "rules": rules,
                    "passThrough": false,
                    "inputField": null,
                    "outputPath": null,
                    "executionMode": "single"
                } },
                { "id": "out", "name": "response", "type": "outputNode", "content": {} }
            ],
            "edges": [
                { "id": "e1", "sourceId": "in", "targetId": "dt" },
                { "id": "e2", "sourceId": "dt", "targetId": "out" }
            ]
        });
        let content: zen_engine::model::DecisionContent =
            serde_json::from_value(content).expect("a decision graph");
        let engine = zen_engine::DecisionEngine::default();
        let mut decision = engine
            .create_decision(Arc::new(content))
            .expect("a decision graph");
        if compiled {
            decision.compile();
        }
        let inputs = setup
            .events
            .iter()
            .map(|e| {
                json!({ "signal": format!("s{}", e.signal), "tier": format!("t{}", e.tier) }).into()
            })
            .collect();
        Zen {
            decision,
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
            inputs,
        }
    }
}

fn rule_numbers(value: &serde_json::Value, out: &mut Vec<u32>) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|v| rule_numbers(v, out)),
        serde_json::Value::Object(map) => {
            if let Some(n) = map.get("rule").and_then(serde_json::Value::as_u64) {
                out.push(n as u32);
            } else {
                map.values().for_each(|v| rule_numbers(v, out));
            }
        }
        _ => {}
    }
}

impl Peer for Zen {
    fn matches(&mut self, k: usize, out: &mut Vec<u32>) {
        let input = self.inputs[k].deep_clone();
        let response = self
            .runtime
            .block_on(self.decision.evaluate(input))
            .unwrap_or_else(|e| panic!("ZEN: {e:?}"));
        rule_numbers(&response.result.to_value(), out);
    }
}
