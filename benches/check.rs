//! Parser and checker throughput.
//!
//! `parse+check 10k rules` checks a generated program of 10,000 rules: two
//! dozen journeys with stage graphs of 4–8 stages, 50 signals with fields,
//! enums, places, channels, a customer profile and ten actions, and rules
//! that use every trigger form, every clause and most of the expression
//! language. The program is made by a small deterministic generator (an
//! LCG, no `rand`), so every run checks the same text, and it is asserted to
//! check with no error and no warning before it is measured.
//!
//! `parse+check hotel` checks the design's hotel example.
//!
//! Run: `cargo bench --bench check -- --warm-up-time 1 --measurement-time 5`.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jrule::Source;

/// Rules in the generated program.
const RULES: usize = 10_000;
/// Journeys in it; the rules not in a journey stand at the top level.
const JOURNEYS: usize = 24;
/// Top-level rules.
const TOP_LEVEL_RULES: usize = 400;

// ------------------------------------------------------------------ random

/// Knuth's MMIX linear congruential generator: deterministic and small.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`%.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `k` distinct indexes of `0..n`, in random order.
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k.min(n));
        all
    }

    /// Between 1 and `max` distinct indexes of `0..n`.
    fn some(&mut self, n: usize, max: usize) -> Vec<usize> {
        let k = 1 + self.below(max);
        self.sample(n, k)
    }
}

// ------------------------------------------------------------ declarations

const PLACES: &[&str] = &[
    "hotel", "airport", "home", "branch", "store", "lounge", "gate", "office",
];
const CHANNELS: &[&str] = &["app", "web", "sms", "email", "push", "call_center"];
const ITEMS: &[&str] = &[
    "room_service",
    "late_checkout",
    "spa_discount",
    "upgrade",
    "voucher",
    "lounge_pass",
];
const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];
const RISKS: &[&str] = &["low", "medium", "high"];

const NOUNS: &[&str] = &[
    "booking",
    "app",
    "key",
    "room_service",
    "checkout",
    "payment",
    "loan",
    "card",
    "basket",
    "order",
    "review",
    "flight",
    "bag",
    "lounge",
    "survey",
    "login",
    "transfer",
    "deposit",
    "ticket",
    "visit",
    "coupon",
    "referral",
    "claim",
    "upgrade",
    "support_call",
];
const VERBS: &[&str] = &["started", "completed"];
const SIGNALS: usize = 50;

const WORDS: &[&str] = &[
    "spa",
    "golf",
    "wine",
    "family",
    "business",
    "refund",
    "vip",
    "promo",
    "baking",
    "travel",
    "late",
    "breakfast",
    "pool",
    "gym",
    "kids",
    "pets",
];
const TEAMS: &[&str] = &[
    "front_desk",
    "concierge",
    "risk_desk",
    "sales",
    "housekeeping",
    "loans",
];
const WITHINS: &[&str] = &["90s", "30m", "2h", "6h", "24h", "48h", "3d", "7d"];
const STAGES: &[&str] = &[
    "awareness",
    "consideration",
    "purchase",
    "retention",
    "advocacy",
    "need",
    "seek",
    "choose",
    "booked",
    "arrived",
    "in_room",
    "checked_out",
    "applied",
    "approved",
    "funded",
    "repaying",
    "closed",
    "browsing",
    "basket",
    "ordered",
    "delivered",
    "returned",
    "lapsed",
    "dormant",
];

/// The data fields of a signal, by shape.
#[derive(Clone, Copy)]
enum Shape {
    /// `{ amount: float, count: int, reference: text }`
    Purchase,
    /// `{ amount: float, tags: [text] }`
    Tagged,
    /// `{ count: int, level: risk, note: text? }`
    Scored,
    /// `{ reference: text, count: int, delay: duration }`
    Delayed,
    /// no fields
    Bare,
}

impl Shape {
    fn of(signal: usize) -> Shape {
        match signal % 5 {
            0 => Shape::Purchase,
            1 => Shape::Tagged,
            2 => Shape::Scored,
            3 => Shape::Delayed,
            _ => Shape::Bare,
        }
    }

    fn fields(self) -> &'static str {
        match self {
            Shape::Purchase => " { amount: float, count: int, reference: text }",
            Shape::Tagged => " { amount: float, tags: [text] }",
            Shape::Scored => " { count: int, level: risk, note: text? }",
            Shape::Delayed => " {\n  reference: text\n  count: int\n  delay: duration\n}",
            Shape::Bare => "",
        }
    }

    fn has_count(self) -> bool {
        matches!(self, Shape::Purchase | Shape::Scored | Shape::Delayed)
    }

    fn has_amount(self) -> bool {
        matches!(self, Shape::Purchase | Shape::Tagged)
    }
}

fn signal_name(i: usize) -> String {
    format!("{}_{}", NOUNS[i / 2], VERBS[i % 2])
}

const ACTIONS: &[&str] = &[
    "action offer(item: item) exclusive",
    "action send(channel: channel, template: text) requires customer.marketing_consent",
    "action notify_staff(team: text)",
    "action grant_points(points: int, reason: text)",
    "action schedule_call(delay: duration)",
    "action flag(level: risk) exclusive",
    "action tag_customer(tag: text)",
    "action log_visit",
    "action adjust_balance(amount: float) requires customer.vip and customer.balance >= 0.0",
    "action remind(channel: channel, wait: duration)",
];

fn declarations(out: &mut String) {
    out.push_str("// A generated program: the checker's throughput benchmark.\n\n");
    let _ = writeln!(out, "places {}", PLACES.join(", "));
    let _ = writeln!(out, "channels {}\n", CHANNELS.join(", "));
    let _ = writeln!(out, "enum tier {{ {} }}", TIERS.join(", "));
    let _ = writeln!(out, "enum item {{ {} }}", ITEMS.join(", "));
    out.push_str("enum segment { mass, affluent, private_client }\n");
    let _ = writeln!(out, "enum risk {{\n  {}\n}}\n", RISKS.join(",\n  "));
    out.push_str(
        "customer {\n  tier: tier = bronze\n  segment: segment = mass\n  nights_this_year: int = 0\n  \
         age: int = 30\n  balance: float = 0.0\n  marketing_consent: bool = false\n  vip: bool = false\n  \
         name: text = \"guest\"\n  email: text?\n  interests: [text]\n  scores: [int]\n}\n\n",
    );
    for i in 0..SIGNALS {
        let _ = writeln!(out, "signal {}{}", signal_name(i), Shape::of(i).fields());
    }
    out.push('\n');
    for a in ACTIONS {
        out.push_str(a);
        out.push('\n');
    }
    out.push('\n');
}

// ------------------------------------------------------------- expressions

/// A condition on the customer; each index reads a different field, so that
/// a conjunction of distinct indexes is never contradictory.
fn customer_atom(r: &mut Lcg, which: usize) -> String {
    match which {
        0 => match r.below(2) {
            0 => format!("customer.tier == {}", r.pick(&TIERS[1..])),
            _ => "customer.tier in [silver, gold, platinum]".to_string(),
        },
        1 => match r.below(2) {
            0 => "customer.segment != mass".to_string(),
            _ => "customer.segment in [affluent, private_client]".to_string(),
        },
        2 => format!("customer.nights_this_year >= {}", 1 + r.below(30)),
        3 => match r.below(2) {
            0 => format!("customer.age < {}", 18 + r.below(60)),
            _ => format!("customer.age * 12 > {}", 200 + r.below(500)),
        },
        4 => match r.below(2) {
            0 => format!("customer.balance > {}.{}", r.below(10_000), r.below(100)),
            _ => format!("customer.balance - {}.5 >= 0.0", r.below(5000)),
        },
        5 => match r.below(2) {
            0 => "customer.marketing_consent".to_string(),
            _ => "not customer.vip".to_string(),
        },
        6 => match r.below(2) {
            0 => "customer has email".to_string(),
            _ => "customer.email ends_with \"@example.com\"".to_string(),
        },
        7 => format!("customer.interests contains \"{}\"", r.pick(WORDS)),
        8 => format!("{} in customer.scores", r.below(100)),
        _ => match r.below(2) {
            0 => format!(
                "customer.name starts_with \"{}\"",
                (b'A' + r.below(26) as u8) as char
            ),
            _ => "customer.name != \"guest\"".to_string(),
        },
    }
}

const CUSTOMER_ATOMS: usize = 10;

/// A condition on the event of signal `signal`.
fn event_atom(r: &mut Lcg, signal: usize) -> String {
    let shape = Shape::of(signal);
    let general = |r: &mut Lcg| match r.below(4) {
        0 => format!("event.at == {}", r.pick(PLACES)),
        1 => format!(
            "event.via in [{}, {}]",
            CHANNELS[r.below(3)],
            CHANNELS[3 + r.below(3)]
        ),
        2 => "event.time % 1000 == 0".to_string(),
        _ => format!(
            "event.at in [{}, {}]",
            PLACES[r.below(4)],
            PLACES[4 + r.below(4)]
        ),
    };
    if r.chance(20) {
        return general(r);
    }
    match shape {
        Shape::Purchase | Shape::Tagged if r.chance(50) => match r.below(3) {
            0 => format!("event.amount >= {}.{}", r.below(1000), r.below(10)),
            1 => format!("event.amount + {} > customer.balance * 0.5", r.below(100)),
            _ => format!("(event.amount - 10) * 2.0 <= {}.0", 100 + r.below(900)),
        },
        Shape::Purchase | Shape::Delayed if r.chance(50) => match r.below(2) {
            0 => format!("event.reference starts_with \"INV-{}\"", r.below(10)),
            _ => format!("event.reference contains \"{}\"", r.pick(WORDS)),
        },
        Shape::Tagged => format!("event.tags contains \"{}\"", r.pick(WORDS)),
        Shape::Scored if r.chance(40) => match r.below(3) {
            0 => "event.level == high".to_string(),
            1 => "event.level in [medium, high]".to_string(),
            _ => "(event has note) and event.note != \"\"".to_string(),
        },
        Shape::Delayed if r.chance(40) => match r.below(2) {
            0 => "event.delay + 30m >= 2h".to_string(),
            _ => format!("event.delay < {}", r.pick(WITHINS)),
        },
        Shape::Purchase | Shape::Scored | Shape::Delayed => match r.below(4) {
            0 => format!("event.count > {}", r.below(20)),
            1 => format!("event.count % {} == 0", 2 + r.below(5)),
            2 => format!(
                "event.count in [{}, {}, {}]",
                r.below(5),
                5 + r.below(5),
                10 + r.below(5)
            ),
            _ => format!("event.count * 2 - 1 >= {}", r.below(40)),
        },
        Shape::Bare => general(r),
    }
}

/// A `where` condition; `event` is the event of `signal`, or none for timers.
fn condition(r: &mut Lcg, signal: Option<usize>) -> String {
    let c = r.sample(CUSTOMER_ATOMS, 3);
    let (c1, c2, c3) = (
        customer_atom(r, c[0]),
        customer_atom(r, c[1]),
        customer_atom(r, c[2]),
    );
    match signal {
        Some(s) => {
            let e = event_atom(r, s);
            match r.below(7) {
                0 => e,
                1 => format!("{e} and {c1}"),
                2 => format!("{c1} or {c2}"),
                3 => format!("({e} or {c1}) and {c2}"),
                4 => format!("{e} and ({c1} or not ({c2}))"),
                5 => format!("{c1} and {c2} and {e}"),
                _ => format!("{e}\n    and ({c1} or {c2} or {c3})"),
            }
        }
        None => match r.below(4) {
            0 => c1,
            1 => format!("{c1} and {c2}"),
            2 => format!("{c1} or ({c2} and {c3})"),
            _ => format!("not ({c1}) and {c2}"),
        },
    }
}

// ----------------------------------------------------------------- actions

/// One action call; `event` is the event of `signal`, or none.
fn call(r: &mut Lcg, which: usize, signal: Option<usize>) -> String {
    let shape = signal.map(Shape::of);
    match which {
        0 => match r.below(2) {
            0 => format!("offer {}", r.pick(ITEMS)),
            _ => format!("offer({})", r.pick(ITEMS)),
        },
        1 => {
            let template = match r.below(8) {
                0 => "say \\\"hello\\\"\\n".to_string(),
                1 => "welcome \\u{1F600}".to_string(),
                _ => format!("{}_{}", r.pick(WORDS), r.below(100)),
            };
            format!("send({}, \"{template}\")", r.pick(CHANNELS))
        }
        2 => format!("notify_staff(\"{}\")", r.pick(TEAMS)),
        3 => match shape {
            Some(s) if s.has_count() && r.chance(60) => {
                format!(
                    "grant_points(event.count * 10 + {}, \"bonus\")",
                    r.below(50)
                )
            }
            _ => format!(
                "grant_points({}, \"{}\")",
                10 * (1 + r.below(50)),
                r.pick(WORDS)
            ),
        },
        4 => match shape {
            Some(Shape::Delayed) if r.chance(60) => "schedule_call(event.delay + 1h)".to_string(),
            _ => format!("schedule_call({})", r.pick(WITHINS)),
        },
        5 => match shape {
            Some(Shape::Scored) if r.chance(60) => "flag(event.level)".to_string(),
            _ => format!("flag {}", r.pick(RISKS)),
        },
        6 => format!("tag_customer(\"{}\")", r.pick(WORDS)),
        7 => match r.below(2) {
            0 => "log_visit".to_string(),
            _ => "log_visit()".to_string(),
        },
        8 => match shape {
            Some(s) if s.has_amount() && r.chance(60) => {
                "adjust_balance(event.amount * 0.1)".to_string()
            }
            _ => format!("adjust_balance({}.25)", r.below(100)),
        },
        _ => format!("remind({}, {})", r.pick(CHANNELS), r.pick(WITHINS)),
    }
}

/// A split of two or three arms.
fn split(r: &mut Lcg, signal: Option<usize>) -> String {
    let first = r.below(ACTIONS.len());
    let a = call(r, first, signal);
    if r.chance(50) {
        let pct = 10 * (1 + r.below(9));
        format!(
            "split {{\n      treatment {pct}%: {a}\n      control {}%: skip\n    }}",
            100 - pct
        )
    } else {
        let second = r.below(ACTIONS.len());
        let b = call(r, second, signal);
        format!("split {{\n      a 34%: {a}\n      b 33%: {b}, log_visit\n      control 33%: skip\n    }}")
    }
}

// ------------------------------------------------------------------- rules

/// A trigger and the signal whose event `event.*` reads, if any.
enum Trigger {
    Signal(usize),
    WithinAfter(usize, usize),
    Absence(usize, usize),
    Stay(usize),
}

fn filters(r: &mut Lcg) -> String {
    let mut out = String::new();
    if r.chance(35) {
        let places = r.some(PLACES.len(), 2);
        let names: Vec<&str> = places.iter().map(|&i| PLACES[i]).collect();
        let _ = write!(out, " at {}", names.join(", "));
    }
    if r.chance(25) {
        let channels = r.some(CHANNELS.len(), 3);
        let names: Vec<&str> = channels.iter().map(|&i| CHANNELS[i]).collect();
        let _ = write!(out, " via {}", names.join(", "));
    }
    out
}

fn trigger_text(r: &mut Lcg, trigger: &Trigger, stages: &[&str]) -> String {
    match trigger {
        Trigger::Signal(s) => format!("when {}{}", signal_name(*s), filters(r)),
        Trigger::WithinAfter(s, s2) => format!(
            "when {} within {} after {}{}",
            signal_name(*s),
            r.pick(WITHINS),
            signal_name(*s2),
            filters(r)
        ),
        Trigger::Absence(s, s2) => format!(
            "when no {} within {} after {}{}",
            signal_name(*s),
            r.pick(WITHINS),
            signal_name(*s2),
            filters(r)
        ),
        Trigger::Stay(stage) => format!("when in {} for {}", stages[*stage], r.pick(WITHINS)),
    }
}

/// Everything that varies between rules.
struct RuleSpec {
    name: Option<String>,
    trigger: Trigger,
    /// Stage indexes of the `in` clause.
    stages_in: Option<Vec<usize>>,
    priority: Option<i64>,
    /// First action to call (to cycle through every action).
    first_action: usize,
    /// Target stage of a `move to`.
    move_to: Option<usize>,
}

struct Counters {
    signal: usize,
    action: usize,
    rule: usize,
}

impl Counters {
    fn next_signal(&mut self) -> usize {
        self.signal = (self.signal + 1) % SIGNALS;
        self.signal
    }

    fn next_action(&mut self) -> usize {
        self.action = (self.action + 1) % ACTIONS.len();
        self.action
    }
}

fn write_rule(out: &mut String, r: &mut Lcg, spec: &RuleSpec, stages: &[&str]) {
    let event = match spec.trigger {
        Trigger::Signal(s) | Trigger::WithinAfter(s, _) => Some(s),
        Trigger::Absence(_, s2) => Some(s2),
        Trigger::Stay(_) => None,
    };
    let indent = if stages.is_empty() { "" } else { "  " };
    let _ = writeln!(out);
    if let Some(name) = &spec.name {
        let _ = writeln!(out, "{indent}rule {name}:");
    }
    let _ = writeln!(out, "{indent}  {}", trigger_text(r, &spec.trigger, stages));
    // Clauses in a random order.
    let mut clauses: Vec<String> = Vec::new();
    if let Some(list) = &spec.stages_in {
        let names: Vec<&str> = list.iter().map(|&i| stages[i]).collect();
        clauses.push(format!("in {}", names.join(", ")));
    }
    if r.chance(60) {
        clauses.push(format!("where {}", condition(r, event)));
    }
    if r.chance(30) {
        clauses.push(format!(
            "limit {} per {}",
            1 + r.below(5),
            r.pick(&WITHINS[1..])
        ));
    }
    if let Some(p) = spec.priority {
        clauses.push(format!("priority {p}"));
    }
    let order = r.sample(clauses.len(), clauses.len());
    for i in order {
        let _ = writeln!(out, "{indent}  {}", clauses[i]);
    }
    // Actions.
    let mut actions = vec![call(r, spec.first_action, event)];
    for _ in 0..r.below(3) {
        let which = r.below(ACTIONS.len());
        actions.push(call(r, which, event));
    }
    if r.chance(12) {
        actions.push(split(r, event));
    }
    if let Some(to) = spec.move_to {
        let at = r.below(actions.len() + 1);
        actions.insert(at, format!("move to {}", stages[to]));
    }
    let _ = writeln!(out, "{indent}  then {}", actions.join(", "));
}

/// A signal trigger of any form but `in … for`.
fn signal_trigger(r: &mut Lcg, n: &mut Counters) -> Trigger {
    let s = n.next_signal();
    match r.below(10) {
        0..=5 => Trigger::Signal(s),
        6 | 7 => Trigger::WithinAfter(s, r.below(SIGNALS)),
        _ => Trigger::Absence(r.below(SIGNALS), s),
    }
}

fn rule_name(r: &mut Lcg, n: &mut Counters) -> Option<String> {
    n.rule += 1;
    if r.chance(85) {
        const VERBS: &[&str] = &[
            "welcome",
            "nudge",
            "offer",
            "remind",
            "escalate",
            "reward",
            "follow_up",
            "check",
        ];
        Some(format!("{}_{}", r.pick(VERBS), n.rule))
    } else {
        None
    }
}

fn journey(out: &mut String, r: &mut Lcg, index: usize, rules: usize, n: &mut Counters) {
    let count = 4 + r.below(5);
    let stages: Vec<&str> = r
        .sample(STAGES.len(), count)
        .into_iter()
        .map(|i| STAGES[i])
        .collect();
    // Edges: a chain, some skips, and a loop back to the start.
    let mut edges: Vec<(usize, usize)> = (1..count).map(|i| (i - 1, i)).collect();
    for i in 0..count - 2 {
        if r.chance(40) {
            edges.push((i, i + 2));
        }
    }
    if r.chance(70) {
        edges.push((count - 1, 0));
    }
    let preds =
        |t: usize| -> Vec<usize> { edges.iter().filter(|e| e.1 == t).map(|e| e.0).collect() };
    let succs =
        |f: usize| -> Vec<usize> { edges.iter().filter(|e| e.0 == f).map(|e| e.1).collect() };

    let _ = writeln!(out, "\n/* Journey {index}: {} stages. */", count);
    let _ = writeln!(out, "journey journey_{index} {{");
    let _ = writeln!(out, "  stages {}", stages.join(" -> "));
    for &(a, b) in &edges[count - 1..] {
        let _ = writeln!(out, "  stages {} -> {}", stages[a], stages[b]);
    }
    let goal = n.next_signal();
    let _ = writeln!(
        out,
        "  goal {} within {}",
        signal_name(goal),
        r.pick(&WITHINS[3..])
    );

    // Each moving rule gets its own priority, so no two can conflict.
    let mut move_priority = 100i64;
    for k in 0..rules {
        let name = rule_name(r, n);
        let first_action = n.next_action();
        // The first rules enter the journey and reach every stage.
        let spec = if k < count {
            move_priority += 1;
            let (trigger, stages_in) = if k == 0 {
                (Trigger::Signal(n.next_signal()), None)
            } else {
                let from = preds(k);
                let subset = r.some(from.len(), from.len());
                let subset: Vec<usize> = subset.into_iter().map(|i| from[i]).collect();
                (signal_trigger(r, n), Some(subset))
            };
            RuleSpec {
                name,
                trigger,
                stages_in,
                priority: Some(move_priority),
                first_action,
                move_to: Some(k),
            }
        } else {
            let kind = r.below(10);
            let moving = r.chance(25);
            if kind == 0 {
                // `when in STAGE for D`, moving along an edge out of STAGE.
                let stage = r.below(count);
                let out_edges = succs(stage);
                let move_to = (moving && !out_edges.is_empty()).then(|| *r.pick(&out_edges));
                let priority = if r.chance(30) {
                    Some(r.below(20) as i64)
                } else {
                    None
                };
                RuleSpec {
                    name,
                    trigger: Trigger::Stay(stage),
                    stages_in: None,
                    priority,
                    first_action,
                    move_to,
                }
            } else if moving {
                move_priority += 1;
                let to = r.below(count);
                let from = preds(to);
                let stages_in = if from.is_empty() || r.chance(20) {
                    None
                } else {
                    let subset = r.some(from.len(), from.len());
                    Some(subset.into_iter().map(|i| from[i]).collect())
                };
                let trigger = signal_trigger(r, n);
                RuleSpec {
                    name,
                    trigger,
                    stages_in,
                    priority: Some(move_priority),
                    first_action,
                    move_to: Some(to),
                }
            } else {
                let stages_in = r.chance(60).then(|| r.some(count, 3));
                let priority = if r.chance(40) {
                    Some(r.below(20) as i64)
                } else {
                    None
                };
                let trigger = signal_trigger(r, n);
                RuleSpec {
                    name,
                    trigger,
                    stages_in,
                    priority,
                    first_action,
                    move_to: None,
                }
            }
        };
        write_rule(out, r, &spec, &stages);
    }
    out.push_str("}\n");
}

/// The benchmark's program: `RULES` rules, deterministic.
fn generate() -> String {
    let mut r = Lcg(0x6a72_756c_6521);
    let mut n = Counters {
        signal: 0,
        action: 0,
        rule: 0,
    };
    let mut out = String::with_capacity(4 << 20);
    declarations(&mut out);
    let per_journey = (RULES - TOP_LEVEL_RULES) / JOURNEYS;
    let mut written = 0;
    for j in 0..JOURNEYS {
        let rules = if j + 1 == JOURNEYS {
            RULES - TOP_LEVEL_RULES - written
        } else {
            per_journey
        };
        journey(&mut out, &mut r, j, rules, &mut n);
        written += rules;
    }
    out.push_str("\n// Rules outside any journey.\n");
    for _ in 0..TOP_LEVEL_RULES {
        let spec = RuleSpec {
            name: rule_name(&mut r, &mut n),
            trigger: signal_trigger(&mut r, &mut n),
            stages_in: None,
            priority: r.chance(30).then(|| r.below(10) as i64),
            first_action: n.next_action(),
            move_to: None,
        };
        write_rule(&mut out, &mut r, &spec, &[]);
    }
    out
}

// --------------------------------------------------------------- benchmark

/// Checks `text` once and fails loudly on any diagnostic.
fn assert_clean(name: &str, text: &str) {
    let checked = jrule::check(&[Source::new(name, text)]);
    let d = &checked.diagnostics;
    if d.errors() + d.warnings() > 0 {
        let source = Source::new(name, text);
        for diag in d.iter().take(20) {
            let (line, col) = source.line_col(diag.span.start as usize);
            let text_line = text.lines().nth(line - 1).unwrap_or("");
            eprintln!(
                "{name}:{line}:{col}: {} {}\n    {text_line}",
                diag.code, diag.message
            );
        }
        panic!(
            "{name}: {} errors and {} warnings",
            d.errors(),
            d.warnings()
        );
    }
}

fn benches(c: &mut Criterion) {
    let source = generate();
    let rules = source.matches(" then ").count();
    assert_eq!(rules, RULES, "the generator should write {RULES} rules");
    assert_clean("generated.jr", &source);
    eprintln!(
        "generated program: {} bytes, {} lines, {RULES} rules; checks clean",
        source.len(),
        source.lines().count()
    );
    // `JRULE_BENCH_DUMP=path` saves it, e.g. for profiling `jrule check`.
    if let Ok(path) = std::env::var("JRULE_BENCH_DUMP") {
        std::fs::write(path, &source).expect("write the generated program");
    }

    let mut group = c.benchmark_group("parse+check 10k rules");
    group.throughput(Throughput::Bytes(source.len() as u64));
    group.sample_size(10);
    group.bench_function("check", |b| {
        b.iter_batched(
            || vec![Source::new("generated.jr", source.as_str())],
            |sources| jrule::check(black_box(&sources)),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/examples/hotel.jr"
    );
    let hotel = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_clean("hotel.jr", &hotel);
    let mut group = c.benchmark_group("parse+check hotel");
    group.throughput(Throughput::Bytes(hotel.len() as u64));
    group.bench_function("check", |b| {
        b.iter_batched(
            || vec![Source::new("hotel.jr", hotel.as_str())],
            |sources| jrule::check(black_box(&sources)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(check, benches);
criterion_main!(check);
