//! Generated, seeded workloads for measuring throughput
//! (`jrule bench --synthetic`, the criterion benches, the peers harness).
//! Each is described in `docs/performance.md`.

use std::fmt::Write;
use std::str::FromStr;
use std::sync::Arc;

use crate::compile::Program;
use crate::engine::Event;
use crate::value::Value;

/// The kinds of generated workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Equality-anchored rules `when sX where event.tier == tY`: each event
    /// matches exactly one rule.
    W1,
    /// W1 with 20% of rules that have no equality anchor (ranges, `or`,
    /// `contains`).
    W2,
    /// Match-heavy: each event matches this percentage of the rules.
    W3 {
        /// 1 or 10 in the documented runs.
        percent: u32,
    },
    /// Stateful journeys: stages, timers and caps over many customers on a
    /// simulated clock, plus W1 rules that the events never fire.
    W4,
    /// W1 while the program is reloaded every `reload_every` events.
    W5,
}

impl FromStr for Workload {
    type Err = String;

    fn from_str(s: &str) -> Result<Workload, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "w1" => Workload::W1,
            "w2" => Workload::W2,
            "w3" | "w3-1" => Workload::W3 { percent: 1 },
            "w3-10" => Workload::W3 { percent: 10 },
            "w4" => Workload::W4,
            "w5" => Workload::W5,
            other => {
                return Err(format!(
                    "unknown workload `{other}` (w1, w2, w3-1, w3-10, w4, w5)"
                ))
            }
        })
    }
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Workload::W1 => f.write_str("w1"),
            Workload::W2 => f.write_str("w2"),
            Workload::W3 { percent } => write!(f, "w3-{percent}"),
            Workload::W4 => f.write_str("w4"),
            Workload::W5 => f.write_str("w5"),
        }
    }
}

/// A small, seeded generator (SplitMix64): the same seed gives the same
/// workload everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The W1 grid for `rules` rules: `signals` signals by `tiers` tiers; rule
/// `i` is `when s{i % signals} where event.tier == t{i / signals}`.
pub fn grid(rules: usize) -> (usize, usize) {
    let signals = ((rules as f64).sqrt().ceil() as usize).clamp(1, 1000);
    let tiers = rules.div_ceil(signals).max(1);
    (signals, tiers)
}

/// The program text of a workload with `rules` rules.
pub fn program(workload: Workload, rules: usize) -> String {
    let mut src = String::new();
    match workload {
        Workload::W1 | Workload::W5 => anchored(&mut src, rules, 0, "act"),
        Workload::W2 => {
            let plain = rules * 4 / 5;
            anchored(&mut src, plain, 0, "act");
            let (signals, _) = grid(plain.max(1));
            for j in 0..rules - plain {
                let s = j % signals;
                let i = plain + j;
                let _ = match j % 3 {
                    0 => writeln!(
                        src,
                        "when s{s} where event.amount > {} and event.amount < {} then act({i})",
                        j % 950,
                        j % 950 + 50
                    ),
                    1 => writeln!(
                        src,
                        "when s{s} where event.amount == {} or event.amount == {} then act({i})",
                        j % 1000,
                        (j * 7) % 1000
                    ),
                    _ => writeln!(
                        src,
                        "when s{s} where event.label contains \"{}\" then act({i})",
                        j % 100
                    ),
                };
            }
        }
        Workload::W3 { percent } => {
            let buckets = (100 / percent.clamp(1, 100)).max(1);
            let _ = writeln!(
                src,
                "signal s0 {{ bucket: int, amount: int }}\naction act(id: int)"
            );
            for i in 0..rules {
                let _ = writeln!(
                    src,
                    "when s0 where event.bucket == {} then act({i})",
                    i as u32 % buckets
                );
            }
        }
        Workload::W4 => {
            src.push_str(JOURNEY);
            let filler = rules.saturating_sub(JOURNEY_RULES);
            if filler > 0 {
                anchored(&mut src, filler, 0, "act");
            }
        }
    }
    src
}

/// The journey of W4: six rules over stages, timers and a cap.
const JOURNEY: &str = "signal visit
signal click
signal buy
action reward
action nudge
journey life {
  stages new -> active -> engaged -> lapsed
  stages lapsed -> active
  goal buy within 1d
  rule enter: when visit then move to new
  rule activate: when click in new, lapsed then move to active
  rule engage: when buy in active limit 1 per 1h then reward, move to engaged
  rule remind: when no buy within 30m after click in active then nudge
  rule lapse: when in engaged for 2h then move to lapsed
  rule back: when visit in lapsed priority 1 then move to active
}
";
const JOURNEY_RULES: usize = 6;

fn anchored(src: &mut String, rules: usize, first: usize, action: &str) {
    let (signals, tiers) = grid(rules.max(1));
    src.push_str("enum tier {");
    for t in 0..tiers {
        let _ = write!(src, " t{t}");
    }
    src.push_str(" }\n");
    for s in 0..signals {
        let _ = writeln!(
            src,
            "signal s{s} {{ tier: tier, amount: int, label: text }}"
        );
    }
    let _ = writeln!(src, "action {action}(id: int)");
    for i in 0..rules {
        let _ = writeln!(
            src,
            "when s{} where event.tier == t{} then {action}({})",
            i % signals,
            i / signals,
            first + i
        );
    }
}

/// Generates `count` events of a workload for `customers` customers.
/// Events are built directly (no JSON), in time order, one millisecond
/// apart; customer ids are shared, so processing them allocates nothing
/// on their account.
pub fn events(
    program: &Program,
    workload: Workload,
    rules: usize,
    customers: usize,
    count: usize,
    seed: u64,
) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let ids: Vec<Arc<str>> = (0..customers.max(1))
        .map(|c| Arc::from(format!("c{c}").as_str()))
        .collect();
    let names = &program.names;
    // The workload's own programs declare every signal it sends; another
    // program gets no events.
    let signal = |name: &str| names.signal(name);
    let start = 1_772_355_600_000; // 2026-03-01T09:00:00Z
    let mut out = Vec::with_capacity(count);
    match workload {
        Workload::W4 => {
            let (Some(visit), Some(click), Some(buy)) =
                (signal("visit"), signal("click"), signal("buy"))
            else {
                return out;
            };
            let cycle = [visit, click, buy, click];
            for k in 0..count {
                let c = k % ids.len();
                let step = (k / ids.len() + c) % cycle.len();
                out.push(Event {
                    layout: program.names.layout,
                    customer: Arc::clone(&ids[c]),
                    signal: cycle[step],
                    time: start + k as i64,
                    at: None,
                    via: None,
                    data: Vec::new(),
                    profile: Vec::new(),
                });
            }
        }
        Workload::W3 { percent } => {
            let buckets = u64::from((100 / percent.clamp(1, 100)).max(1));
            let Some(s0) = signal("s0") else {
                return out;
            };
            for k in 0..count {
                out.push(Event {
                    layout: program.names.layout,
                    customer: Arc::clone(&ids[rng.below(ids.len() as u64) as usize]),
                    signal: s0,
                    time: start + k as i64,
                    at: None,
                    via: None,
                    data: vec![
                        Some(Value::Int(rng.below(buckets) as i64)),
                        Some(Value::Int(rng.below(1000) as i64)),
                    ],
                    profile: Vec::new(),
                });
            }
        }
        Workload::W1 | Workload::W2 | Workload::W5 => {
            let plain = if workload == Workload::W2 {
                rules * 4 / 5
            } else {
                rules
            };
            let (signals, _) = grid(plain.max(1));
            let Some(signal_ids) = (0..signals)
                .map(|s| signal(&format!("s{s}")))
                .collect::<Option<Vec<_>>>()
            else {
                return out;
            };
            for k in 0..count {
                let i = rng.below(plain.max(1) as u64) as usize;
                out.push(Event {
                    layout: program.names.layout,
                    customer: Arc::clone(&ids[rng.below(ids.len() as u64) as usize]),
                    signal: signal_ids[i % signals],
                    time: start + k as i64,
                    at: None,
                    via: None,
                    data: vec![
                        Some(Value::Symbol((i / signals) as u32)),
                        Some(Value::Int(rng.below(1000) as i64)),
                        Some(Value::Text(format!("label {}", rng.below(100)))),
                    ],
                    profile: Vec::new(),
                });
            }
        }
    }
    out
}
