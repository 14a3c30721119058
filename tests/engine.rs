//! The engine through its public API: save/restore at every position of a
//! stream, split distribution and stability, rejected events, corrupt
//! states, sharding over threads, metrics, and the cost of empty customers.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use jrule::{Decision, Engine, Event, EventBuilder, EventError, Program, Source, State, Value};
use serde_json::{json, Value as Json};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const HOTEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/spec/examples/hotel.jr"
);
const HOTEL_EVENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/spec/examples/hotel.events.jsonl"
);

/// 2026-03-01T09:00:00Z.
const T0: i64 = 1_772_355_600_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn compile(name: &str, text: &str) -> Arc<Program> {
    match Program::compile(&[Source::new(name, text)]) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => panic!("{name} does not compile: {e}"),
    }
}

fn hotel() -> Arc<Program> {
    let text = std::fs::read_to_string(HOTEL).expect("hotel.jr");
    compile("hotel.jr", &text)
}

fn hotel_lines() -> Vec<String> {
    std::fs::read_to_string(HOTEL_EVENTS)
        .expect("hotel.events.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_all(program: &Program, lines: &[String]) -> Vec<Event> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Event::from_json(program, l).unwrap_or_else(|e| panic!("event {i} rejected: {e}\n{l}"))
        })
        .collect()
}

/// Parses and processes one line, as a host would.
fn feed(engine: &mut Engine, program: &Program, line: &str) -> Result<Vec<Decision>, EventError> {
    let event = Event::from_json(program, line)?;
    engine.process(&event)
}

fn run_events(engine: &mut Engine, events: &[Event]) -> Vec<Decision> {
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        out.extend(
            engine
                .process(e)
                .unwrap_or_else(|err| panic!("event {i} rejected by the engine: {err}")),
        );
    }
    out
}

/// Save → text → parse → restore.
fn round_trip(program: &Arc<Program>, engine: &Engine) -> (Engine, String) {
    let text = engine.save().to_json();
    let state = State::from_json(&text).unwrap_or_else(|e| panic!("own state unreadable: {e}"));
    let restored = Engine::restore(Arc::clone(program), &state)
        .unwrap_or_else(|e| panic!("own state does not restore: {e}"));
    (restored, text)
}

fn lines_of(decisions: &[Decision]) -> Vec<String> {
    decisions.iter().map(Decision::to_json).collect()
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------
// The generated stream's program: timers (absence and stay), caps, splits,
// `within … after` memory, exclusive offers, `requires`, profile updates,
// journey and top-level rules.
// ---------------------------------------------------------------------------

const SHOP: &str = r#"
places store, online
channels app, web, email, sms

enum tier { bronze, silver, gold }

customer {
  tier: tier = bronze
  consent: bool = false
  spend: float = 0.0
  email: text?
}

signal visit { page: text }
signal cart_add { sku: text, price: float }
signal purchase { amount: float, items: int }
signal support_call { topic: text? }

action send(channel: channel, template: text) requires customer.consent
action offer(code: text) exclusive
action alert(team: text, note: text)

journey shop {
  stages browsing -> carting -> bought -> loyal
  stages carting -> carting
  stages carting -> browsing
  stages browsing -> bought
  stages bought -> browsing
  goal purchase within 2d

  rule arrive:
    when visit in carting, bought
    then move to browsing

  rule enter:
    when visit
    where not (customer has email) or customer.tier != gold
    priority -1
    then move to browsing

  rule add:
    when cart_add in browsing, carting
    then move to carting

  rule cart_stall:
    when in carting for 3h
    then alert("sales", "cart_stalled")

  rule abandon:
    when no purchase within 6h after cart_add
    in carting
    where event.price > 20.0
    then send(email, event.sku), move to browsing

  rule quick_buy:
    when purchase within 1h after cart_add via app, web
    priority 5
    then offer("FAST10")

  rule buy:
    when purchase in carting, browsing
    then move to bought

  rule exp:
    when purchase in bought
    then split {
      a 50%: offer("A")
      b 30%: offer("B"), send(sms, "b_arm")
      c 20%: skip
    }

  rule vip:
    when purchase in bought
    where customer.tier == gold or event.amount * 2 >= 150.0
    priority 2
    then move to loyal

  rule idle:
    when in bought for 1d
    then send(sms, "come_back"), move to browsing

  rule loyal_check:
    when in loyal for 2d
    then alert("vip_team", "two_days_loyal")

  rule hello_cap:
    when visit via app
    limit 1 per 12h
    then offer("WELCOME")
}

rule support:
  when support_call
  limit 1 per 1h
  then alert("support", "call")

rule followup:
  when visit within 30m after support_call via sms
  then alert("support", "followup")

rule bulk:
  when purchase
  where event.items >= 4
  then offer("BULK")

rule no_buy:
  when no purchase within 2d after visit at store
  where event.page starts_with "p"
  then send(email, "miss_you")
"#;

fn shop() -> Arc<Program> {
    compile("shop.jr", SHOP)
}

/// A deterministic stream of `n` events over `customers` customers. Times
/// never go back; many events share a time (so timers tie), customers come
/// back in bursts (so `within … after` and caps matter), and some events
/// carry profile updates.
fn shop_stream(n: usize, customers: u64, seed: u64) -> (Vec<String>, i64) {
    let mut rng = Rng(seed | 1);
    let mut t = T0;
    let mut recent: Vec<u64> = Vec::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        t += match rng.below(10) {
            0 | 1 => 0,
            2..=6 => rng.below(60) as i64 * MINUTE,
            7 | 8 => rng.below(8 * 60) as i64 * MINUTE,
            _ => rng.below(30) as i64 * HOUR,
        };
        if rng.below(20) == 0 {
            t += rng.below(1000) as i64; // a fraction of a second now and then
        }
        let c = if !recent.is_empty() && rng.below(2) == 0 {
            *rng.pick(&recent)
        } else {
            rng.below(customers)
        };
        recent.push(c);
        if recent.len() > 3 {
            recent.remove(0);
        }
        let mut e = serde_json::Map::new();
        e.insert("customer".into(), json!(format!("u{c}")));
        let (signal, data) = match rng.below(100) {
            0..=34 => (
                "visit",
                json!({"page": *rng.pick(&["home", "product", "promo", "help"])}),
            ),
            35..=59 => (
                "cart_add",
                json!({"sku": format!("sku{}", rng.below(7)),
                       "price": rng.below(200) as f64 / 2.0}),
            ),
            60..=84 => (
                "purchase",
                json!({"amount": rng.below(400) as f64 / 4.0, "items": rng.below(5) + 1}),
            ),
            _ => match rng.below(3) {
                0 => ("support_call", json!({})),
                1 => ("support_call", json!({"topic": null})),
                _ => ("support_call", json!({"topic": "billing"})),
            },
        };
        e.insert("signal".into(), json!(signal));
        // Times as integer milliseconds or as RFC 3339 text.
        if rng.below(3) == 0 {
            e.insert("time".into(), json!(jrule::time::format_rfc3339(t)));
        } else {
            e.insert("time".into(), json!(t));
        }
        match rng.below(4) {
            0 => {}
            1 => {
                e.insert("at".into(), json!("store"));
            }
            2 => {
                e.insert("at".into(), json!("online"));
            }
            _ => {
                e.insert("at".into(), Json::Null);
            }
        }
        if rng.below(5) != 0 {
            e.insert(
                "via".into(),
                json!(*rng.pick(&["app", "web", "email", "sms"])),
            );
        }
        e.insert("data".into(), data);
        if rng.below(6) == 0 {
            let mut p = serde_json::Map::new();
            if rng.below(2) == 0 {
                p.insert(
                    "tier".into(),
                    json!(*rng.pick(&["bronze", "silver", "gold"])),
                );
            }
            if rng.below(2) == 0 {
                p.insert("consent".into(), json!(rng.below(3) != 0));
            }
            if rng.below(3) == 0 {
                p.insert("spend".into(), json!(rng.below(1000) as f64 / 8.0));
            }
            match rng.below(4) {
                0 => {
                    p.insert("email".into(), Json::Null);
                }
                1 => {
                    p.insert("email".into(), json!(format!("u{c}@example.com")));
                }
                _ => {}
            }
            e.insert("profile".into(), Json::Object(p));
        }
        out.push(Json::Object(e).to_string());
    }
    (out, t + 5 * DAY)
}

const SHOP_EVENTS: usize = 400;
const SHOP_CUSTOMERS: u64 = 50;
const SHOP_SEED: u64 = 0x5EED_1234_ABCD;

/// An uninterrupted run: decisions, final metrics and final state text.
fn uninterrupted(program: &Arc<Program>, events: &[Event], until: i64) -> (Vec<Decision>, Engine) {
    let mut engine = Engine::new(Arc::clone(program));
    let mut decisions = run_events(&mut engine, events);
    decisions.extend(engine.advance_to(until).expect("advance_to"));
    (decisions, engine)
}

/// For every k: run k events, save/serialize/parse/restore, run the rest;
/// the result must be that of the uninterrupted run.
fn check_restore_everywhere(program: &Arc<Program>, events: &[Event], until: i64) {
    let (expected, whole) = uninterrupted(program, events, until);
    let expected_state = whole.save().to_json();
    let mut prefix = Engine::new(Arc::clone(program));
    let mut before: Vec<Decision> = Vec::new();
    for k in 0..=events.len() {
        if k > 0 {
            before.extend(prefix.process(&events[k - 1]).expect("good event"));
        }
        let (mut restored, text) = round_trip(program, &prefix);
        assert_eq!(
            restored.clock(),
            prefix.clock(),
            "clock after restore at k={k}"
        );
        assert_eq!(
            restored.customer_count(),
            prefix.customer_count(),
            "customers after restore at k={k}"
        );
        assert_eq!(
            restored.metrics(),
            prefix.metrics(),
            "metrics after restore at k={k}"
        );
        // save → to_json → from_json → restore → save → to_json is the identity.
        let again = restored.save().to_json();
        assert_eq!(again, text, "state text changed by a round trip at k={k}");

        let mut all = before.clone();
        all.extend(run_events(&mut restored, &events[k..]));
        all.extend(restored.advance_to(until).expect("advance_to"));
        if all != expected {
            let (a, b) = (lines_of(&all), lines_of(&expected));
            let first = a.iter().zip(&b).position(|(x, y)| x != y);
            panic!(
                "decisions differ after a restore at k={k}: {} vs {} decisions; first difference at {:?}:\n  restored: {:?}\n  expected: {:?}",
                a.len(),
                b.len(),
                first,
                first.and_then(|i| a.get(i)),
                first.and_then(|i| b.get(i)),
            );
        }
        assert_eq!(
            restored.metrics(),
            whole.metrics(),
            "final metrics at k={k}"
        );
        assert_eq!(
            restored.save().to_json(),
            expected_state,
            "final state at k={k}"
        );
    }
}

// ---------------------------------------------------------------------------
// 1. Save/restore at every position
// ---------------------------------------------------------------------------

#[test]
fn hotel_run_gives_the_documented_decisions() {
    let program = hotel();
    let events = parse_all(&program, &hotel_lines());
    let mut engine = Engine::new(Arc::clone(&program));
    let got = lines_of(&run_events(&mut engine, &events));
    let want: Vec<String> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/examples/hotel.decisions.jsonl"
    ))
    .expect("hotel.decisions.jsonl")
    .lines()
    .filter(|l| !l.trim().is_empty())
    .map(str::to_string)
    .collect();
    assert_eq!(got, want);
}

#[test]
fn hotel_save_restore_at_every_position() {
    let program = hotel();
    let events = parse_all(&program, &hotel_lines());
    let last = events.last().expect("events").time();
    check_restore_everywhere(&program, &events, last + 7 * DAY);
}

#[test]
fn generated_stream_exercises_every_feature() {
    // Guards the value of the save/restore test: the generated stream must
    // really exercise timers, caps, splits, memory, waits and `requires`.
    let program = shop();
    let (lines, until) = shop_stream(SHOP_EVENTS, SHOP_CUSTOMERS, SHOP_SEED);
    let events = parse_all(&program, &lines);
    let (decisions, engine) = uninterrupted(&program, &events, until);
    let metrics = engine.metrics().to_json(&program);
    let rule = |name: &str| -> Json {
        metrics["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|r| r["rule"] == name)
            .unwrap_or_else(|| panic!("no rule {name}"))
            .clone()
    };
    let fired = |name: &str| rule(name)["fired"].as_u64().expect("fired");
    for name in [
        "arrive",
        "enter",
        "add",
        "cart_stall",
        "abandon",
        "quick_buy",
        "buy",
        "exp",
        "vip",
        "idle",
        "loyal_check",
        "hello_cap",
        "support",
        "followup",
        "no_buy",
        "bulk",
    ] {
        assert!(fired(name) > 0, "rule {name} never fired: {metrics:#}");
    }
    assert!(
        rule("hello_cap")["capped"].as_u64().unwrap() > 0,
        "no cap hit: {metrics:#}"
    );
    assert!(
        rule("support")["capped"].as_u64().unwrap() > 0,
        "no cap hit: {metrics:#}"
    );
    let suppressed: u64 = ["abandon", "exp", "idle", "no_buy"]
        .iter()
        .map(|r| rule(r)["suppressed"].as_u64().unwrap())
        .sum();
    assert!(suppressed > 0, "no `requires` suppression");
    let excluded: u64 = ["exp", "hello_cap", "bulk", "quick_buy"]
        .iter()
        .map(|r| rule(r)["excluded"].as_u64().unwrap())
        .sum();
    assert!(excluded > 0, "no `exclusive` exclusion");
    for arm in ["a", "b"] {
        assert!(
            rule("exp")["arms"][arm].as_u64().unwrap() > 0,
            "arm {arm} unused"
        );
    }
    assert!(
        metrics["journeys"][0]["goals"][0]["conversions"]
            .as_u64()
            .unwrap()
            > 0,
        "no goal conversion"
    );
    // Timers fired at their deadlines, between events.
    let event_times: std::collections::HashSet<i64> = events.iter().map(Event::time).collect();
    assert!(
        decisions.iter().any(|d| !event_times.contains(&d.time())),
        "no decision made by a timer between events"
    );
    assert!(decisions.len() > 200, "only {} decisions", decisions.len());
}

#[test]
fn generated_stream_save_restore_at_every_position() {
    let program = shop();
    let (lines, until) = shop_stream(SHOP_EVENTS, SHOP_CUSTOMERS, SHOP_SEED);
    let events = parse_all(&program, &lines);
    check_restore_everywhere(&program, &events, until);
}

#[test]
fn restore_then_advance_fires_pending_timers() {
    // A restore with timers pending, then only `advance_to`: the timers must
    // come out exactly as in an uninterrupted run.
    let program = shop();
    let (lines, _) = shop_stream(SHOP_EVENTS, SHOP_CUSTOMERS, SHOP_SEED);
    let events = parse_all(&program, &lines);
    let half = events.len() / 2;
    let mut a = Engine::new(Arc::clone(&program));
    run_events(&mut a, &events[..half]);
    let (mut b, _) = round_trip(&program, &a);
    let mut t = events[half - 1].time();
    for _ in 0..20 {
        t += 7 * HOUR;
        let da = a.advance_to(t).expect("advance a");
        let db = b.advance_to(t).expect("advance b");
        assert_eq!(da, db, "advance_to({t})");
        assert_eq!(a.save().to_json(), b.save().to_json());
    }
    assert_eq!(a.metrics(), b.metrics());
}

// ---------------------------------------------------------------------------
// 2. Split distribution
// ---------------------------------------------------------------------------

const SPLIT: &str = r#"
signal ping
action show(variant: text)

journey exp {
  stages seen
  rule pick:
    when ping
    then split {
      big   50%: show("big")
      mid   30%: show("mid")
      small 20%: show("small")
    }
}
"#;

/// The documented bucket: FNV-1a 64 of `customer 0xFF journey 0xFF rule`, mod 100.
fn documented_bucket(customer: &str, journey: &str, rule: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(customer.as_bytes());
    bytes.push(0xFF);
    bytes.extend_from_slice(journey.as_bytes());
    bytes.push(0xFF);
    bytes.extend_from_slice(rule.as_bytes());
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % 100
}

fn arms_for(program: &Arc<Program>, order: &[usize]) -> BTreeMap<String, String> {
    let mut engine = Engine::new(Arc::clone(program));
    let mut arms = BTreeMap::new();
    for &i in order {
        let customer = format!("c{i}");
        let event = EventBuilder::new(program, &customer, "ping", T0)
            .and_then(EventBuilder::build)
            .expect("event");
        let decisions = engine.process(&event).expect("process");
        assert_eq!(decisions.len(), 1, "{customer}: {decisions:?}");
        let d = &decisions[0];
        assert_eq!(d.customer(), customer);
        let arm = d.arm().expect("an arm").to_string();
        let json: Json = serde_json::from_str(&d.to_json()).expect("decision JSON");
        let shown = json["args"]["variant"].as_str().expect("text").to_string();
        assert_eq!(arm, shown, "the arm's own action");
        assert!(arms.insert(customer, arm).is_none());
    }
    arms
}

#[test]
fn split_distribution_and_stability() {
    let program = compile("split.jr", SPLIT);
    const N: usize = 10_000;
    let forward: Vec<usize> = (0..N).collect();
    let first = arms_for(&program, &forward);
    assert_eq!(first.len(), N);

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for arm in first.values() {
        *counts.entry(arm.as_str()).or_default() += 1;
    }
    for (arm, pct) in [("big", 50.0), ("mid", 30.0), ("small", 20.0)] {
        let share = *counts.get(arm).unwrap_or(&0) as f64 * 100.0 / N as f64;
        assert!(
            (share - pct).abs() <= 3.0,
            "arm {arm}: {share:.2}% instead of {pct}% ({counts:?})"
        );
    }

    // The documented hash decides.
    for (customer, arm) in &first {
        let b = documented_bucket(customer, "exp", "pick");
        let want = if b < 50 {
            "big"
        } else if b < 80 {
            "mid"
        } else {
            "small"
        };
        assert_eq!(arm, want, "{customer}: bucket {b}");
    }

    // A second run, and runs with other arrival orders, agree.
    assert_eq!(arms_for(&program, &forward), first, "second run");
    let reverse: Vec<usize> = (0..N).rev().collect();
    assert_eq!(arms_for(&program, &reverse), first, "reverse order");
    let mut rng = Rng(42);
    let mut shuffled = forward.clone();
    for i in (1..shuffled.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        shuffled.swap(i, j);
    }
    assert_eq!(arms_for(&program, &shuffled), first, "shuffled order");

    // Metrics count decisions per arm.
    let mut engine = Engine::new(Arc::clone(&program));
    for i in 0..N {
        let e = EventBuilder::new(&program, &format!("c{i}"), "ping", T0)
            .and_then(EventBuilder::build)
            .expect("event");
        engine.process(&e).expect("process");
    }
    let rule = &engine.metrics().rules[0];
    assert_eq!(rule.fired, N as u64);
    assert_eq!(rule.decisions, N as u64);
    assert_eq!(
        rule.arms,
        vec![
            counts["big"] as u64,
            counts["mid"] as u64,
            counts["small"] as u64
        ]
    );
}

#[test]
fn split_of_a_top_level_rule_hashes_an_empty_journey() {
    // Unnamed top-level rule on line 4: named `L4`, journey "".
    let program = compile(
        "top_split.jr",
        "signal ping\naction show(variant: text)\n\nwhen ping then split {\n  x 50%: show(\"x\")\n  y 50%: show(\"y\")\n}\n",
    );
    let mut engine = Engine::new(Arc::clone(&program));
    for i in 0..500 {
        let customer = format!("k{i}");
        let e = EventBuilder::new(&program, &customer, "ping", T0)
            .and_then(EventBuilder::build)
            .expect("event");
        let d = engine.process(&e).expect("process");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].rule(), "L4");
        let want = if documented_bucket(&customer, "", "L4") < 50 {
            "x"
        } else {
            "y"
        };
        assert_eq!(d[0].arm(), Some(want), "{customer}");
    }
}

// ---------------------------------------------------------------------------
// 3. Bad events change nothing
// ---------------------------------------------------------------------------

fn snapshot(engine: &Engine) -> (String, jrule::Metrics, Option<i64>, usize) {
    (
        engine.save().to_json(),
        engine.metrics().clone(),
        engine.clock(),
        engine.customer_count(),
    )
}

#[test]
fn bad_events_change_nothing() {
    let program = hotel();
    let good = hotel_lines();
    // Bad events, with a word their error must contain.
    let bad: Vec<(&str, String, &str)> = vec![
        ("malformed JSON", r#"{"customer":"c1","signal":"#.into(), "malformed"),
        ("not JSON at all", "key_used c1".into(), "malformed"),
        ("not an object", r#"["c1","key_used"]"#.into(), "object"),
        (
            "unknown key",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":1},"dta":{}}"#.into(),
            "dta",
        ),
        (
            "unknown signal",
            r#"{"customer":"c1","signal":"key_usd","time":"2026-03-02T16:00:00Z"}"#.into(),
            "key_usd",
        ),
        (
            "signal not a string",
            r#"{"customer":"c1","signal":7,"time":"2026-03-02T16:00:00Z"}"#.into(),
            "signal",
        ),
        (
            "unknown place",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"motel","data":{"room":1}}"#.into(),
            "motel",
        ),
        (
            "unknown channel",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","via":"fax","data":{"room":1}}"#.into(),
            "fax",
        ),
        (
            "unknown field",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":1,"floor":3}}"#.into(),
            "floor",
        ),
        (
            "missing field",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel"}"#.into(),
            "room",
        ),
        (
            "required field null",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":null}}"#.into(),
            "room",
        ),
        (
            "wrong type (text for int)",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":"1204"}}"#.into(),
            "room",
        ),
        (
            "wrong type (float for int)",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":12.5}}"#.into(),
            "room",
        ),
        (
            "wrong type (text for float)",
            r#"{"customer":"c9","signal":"booking_made","time":"2026-03-02T16:00:00Z","data":{"hotel_id":"x","nights":1,"amount":"120"}}"#.into(),
            "amount",
        ),
        (
            "data not an object",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":[1204]}"#.into(),
            "data",
        ),
        (
            "unknown profile field",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":1},"profile":{"loyalty":"high"}}"#.into(),
            "loyalty",
        ),
        (
            "profile wrong type",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":1},"profile":{"marketing_consent":"yes"}}"#.into(),
            "marketing_consent",
        ),
        (
            "profile unknown enum value",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":1},"profile":{"tier":"platinum"}}"#.into(),
            "tier",
        ),
        (
            "missing customer",
            r#"{"signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":1}}"#.into(),
            "customer",
        ),
        (
            "empty customer",
            r#"{"customer":"","signal":"key_used","time":"2026-03-02T16:00:00Z","at":"hotel","data":{"room":1}}"#.into(),
            "customer",
        ),
        (
            "missing time",
            r#"{"customer":"c1","signal":"key_used","at":"hotel","data":{"room":1}}"#.into(),
            "time",
        ),
        (
            "invalid time",
            r#"{"customer":"c1","signal":"key_used","time":"2026-02-30T16:00:00Z","at":"hotel","data":{"room":1}}"#.into(),
            "time",
        ),
        (
            "fractional milliseconds",
            r#"{"customer":"c1","signal":"key_used","time":1772467200000.5,"at":"hotel","data":{"room":1}}"#.into(),
            "time",
        ),
        (
            "out of order (RFC 3339)",
            r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T15:29:59Z","at":"hotel","data":{"room":1}}"#.into(),
            "older",
        ),
        (
            "out of order (ms, new customer)",
            r#"{"customer":"c77","signal":"booking_made","time":1772355600000,"data":{"hotel_id":"x","nights":1,"amount":1}}"#.into(),
            "older",
        ),
    ];
    // Put the bad events after the fifth good one (clock 2026-03-02T15:30Z,
    // with c2's nudge pending and c1 in a stage).
    let mut engine = Engine::new(Arc::clone(&program));
    let mut decisions = Vec::new();
    for line in &good[..5] {
        decisions.extend(feed(&mut engine, &program, line).expect("good event"));
    }
    for (what, line, word) in &bad {
        let before = snapshot(&engine);
        match feed(&mut engine, &program, line) {
            Ok(d) => panic!("{what}: accepted, giving {d:?}"),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(word),
                    "{what}: the error `{message}` does not name `{word}`"
                );
            }
        }
        let after = snapshot(&engine);
        assert_eq!(before.0, after.0, "{what}: state changed");
        assert_eq!(before.1, after.1, "{what}: metrics changed");
        assert_eq!(before.2, after.2, "{what}: clock changed");
        assert_eq!(before.3, after.3, "{what}: customer count changed");
    }
    // advance_to into the past is rejected too, and changes nothing.
    let before = snapshot(&engine);
    let err = engine.advance_to(T0).expect_err("advance_to the past");
    assert!(err.to_string().contains("older"), "{err}");
    assert_eq!(
        before,
        snapshot(&engine),
        "advance_to the past changed something"
    );
    // An event built for another program is rejected by process.
    let other = compile(
        "other.jr",
        "signal zzz { a: int, b: int, c: int, d: int, e: int }\naction x\nwhen zzz then x",
    );
    let foreign = EventBuilder::new(&other, "c1", "zzz", T0 + 3 * DAY)
        .and_then(|b| b.field("a", Value::Int(1)))
        .and_then(|b| b.field("b", Value::Int(1)))
        .and_then(|b| b.field("c", Value::Int(1)))
        .and_then(|b| b.field("d", Value::Int(1)))
        .and_then(|b| b.field("e", Value::Int(1)))
        .and_then(EventBuilder::build)
        .expect("foreign event");
    let before = snapshot(&engine);
    assert!(
        engine.process(&foreign).is_err(),
        "a foreign event was accepted"
    );
    assert_eq!(
        before,
        snapshot(&engine),
        "a foreign event changed something"
    );

    // The rest of the stream gives what it gives without the bad events.
    decisions.extend(feed(&mut engine, &program, &good[5]).expect("good event"));
    let mut clean = Engine::new(Arc::clone(&program));
    let mut want = Vec::new();
    for line in &good {
        want.extend(feed(&mut clean, &program, line).expect("good event"));
    }
    assert_eq!(decisions, want);
    assert_eq!(engine.metrics(), clean.metrics());
    assert_eq!(engine.save().to_json(), clean.save().to_json());
}

#[test]
fn same_time_as_the_clock_is_accepted() {
    let program = hotel();
    let good = hotel_lines();
    let mut engine = Engine::new(Arc::clone(&program));
    for line in &good[..5] {
        feed(&mut engine, &program, line).expect("good event");
    }
    let clock = engine.clock().expect("clock");
    let same = format!(
        r#"{{"customer":"c3","signal":"app_opened","time":{clock},"data":{{"screen":"x"}}}}"#
    );
    feed(&mut engine, &program, &same).expect("an event at the clock's time");
    // RFC 3339 with an offset naming the same instant.
    let offset = r#"{"customer":"c3","signal":"app_opened","time":"2026-03-02T16:30:00+01:00","data":{"screen":"x"}}"#;
    feed(&mut engine, &program, offset).expect("same instant, other offset");
    assert_eq!(engine.clock(), Some(clock));
}

#[test]
fn profile_null_for_a_required_field_is_rejected() {
    let program = hotel();
    let good = hotel_lines();
    let mut engine = Engine::new(Arc::clone(&program));
    for line in &good[..5] {
        feed(&mut engine, &program, line).expect("good event");
    }
    let before = snapshot(&engine);
    let line = r#"{"customer":"c1","signal":"app_opened","time":"2026-03-02T16:00:00Z","data":{"screen":"x"},"profile":{"tier":null}}"#;
    let result = feed(&mut engine, &program, line);
    assert!(
        result.is_err(),
        "`tier` is not optional, yet `null` was accepted; profile now: {}",
        engine.save().to_json()
    );
    assert!(result.unwrap_err().to_string().contains("tier"));
    assert_eq!(before, snapshot(&engine));
}

// ---------------------------------------------------------------------------
// 4. Truncated or corrupt state
// ---------------------------------------------------------------------------

/// Reading and restoring `text` must fail, and never panic.
fn restore_fails(program: &Arc<Program>, text: &str) -> Result<String, String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        State::from_json(text)
            .and_then(|s| Engine::restore(Arc::clone(program), &s))
            .map(|_| ())
    }));
    match outcome {
        Err(_) => Err("panicked".into()),
        Ok(Ok(())) => Err("accepted".into()),
        Ok(Err(e)) => Ok(e.to_string()),
    }
}

/// A saved state with every kind of entry: profile, journeys with
/// exposures and conversions, memory, caps, stay and absence timers.
fn rich_state(program: &Arc<Program>) -> String {
    let (lines, _) = shop_stream(SHOP_EVENTS, SHOP_CUSTOMERS, SHOP_SEED);
    let events = parse_all(program, &lines);
    // Find a point where the state holds every kind of entry.
    let mut engine = Engine::new(Arc::clone(program));
    for (i, e) in events.iter().enumerate() {
        engine.process(e).expect("good event");
        if i < 50 {
            continue;
        }
        let text = engine.save().to_json();
        let v: Json = serde_json::from_str(&text).unwrap();
        let customers = v["customers"].as_array().unwrap();
        let any = |f: &dyn Fn(&Json) -> bool| customers.iter().any(f);
        let has_list = |key: &'static str| move |c: &Json| !c[key].as_array().unwrap().is_empty();
        if any(&has_list("memory"))
            && any(&has_list("caps"))
            && any(&|c| {
                c["timers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["event"].is_null())
            })
            && any(&|c| {
                c["timers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| !t["event"].is_null())
            })
            && any(&|c| {
                c["journeys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| !j["exposures"].as_array().unwrap().is_empty())
            })
            && any(&|c| !c["profile"].is_null())
        {
            return text;
        }
    }
    panic!("no point of the stream holds every kind of state entry");
}

fn mutate(text: &str, f: impl FnOnce(&mut Json)) -> String {
    let mut v: Json = serde_json::from_str(text).unwrap();
    f(&mut v);
    v.to_string()
}

/// The first customer for which `pick` holds.
fn customer_with(v: &mut Json, pick: impl Fn(&Json) -> bool) -> &mut Json {
    v["customers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| pick(c))
        .expect("a customer with that entry")
}

fn nonempty(c: &Json, key: &str) -> bool {
    c[key].as_array().is_some_and(|a| !a.is_empty())
}

#[test]
fn truncated_state_is_an_error_never_a_panic() {
    let program = shop();
    let text = rich_state(&program);
    // The untouched text restores.
    let state = State::from_json(&text).expect("the state reads");
    Engine::restore(Arc::clone(&program), &state).expect("the state restores");
    let n = text.len();
    let lengths: Vec<usize> = (0..n)
        .step_by(7)
        .chain(n.saturating_sub(50)..n)
        .filter(|&l| text.is_char_boundary(l))
        .collect();
    assert!(lengths.len() > 100);
    for l in lengths {
        if let Err(why) = restore_fails(&program, &text[..l]) {
            panic!(
                "a prefix of {l} of {n} bytes was {why}: …{}",
                &text[l.saturating_sub(40)..l]
            );
        }
    }
}

#[test]
fn corrupt_state_is_an_error_never_a_panic() {
    let program = shop();
    let text = rich_state(&program);
    type Corruption = Box<dyn FnOnce(&mut Json)>;
    let cases: Vec<(&str, Corruption, &str)> = vec![
        (
            "wrong format",
            Box::new(|v| v["format"] = json!("jrule-stats")),
            "format",
        ),
        (
            "version 3",
            Box::new(|v| v["version"] = json!(3)),
            "version",
        ),
        (
            "version 0",
            Box::new(|v| v["version"] = json!(0)),
            "version",
        ),
        (
            "clock as text",
            Box::new(|v| v["clock"] = json!("2026-03-01T00:00:00Z")),
            "",
        ),
        (
            "customers not a list",
            Box::new(|v| v["customers"] = json!({})),
            "",
        ),
        (
            "missing metrics",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("metrics");
            }),
            "metrics",
        ),
        ("extra key", Box::new(|v| v["extra"] = json!(1)), "extra"),
        ("not an object", Box::new(|v| *v = json!([1, 2, 3])), ""),
        (
            "unknown rule in caps",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "caps"))["caps"][0]["rule"] =
                    json!("shop/hello_capp")
            }),
            "hello_capp",
        ),
        (
            "unknown rule in timers",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "timers"))["timers"][0]["rule"] =
                    json!("shop/nope")
            }),
            "nope",
        ),
        (
            "unqualified journey rule in memory",
            Box::new(|v| {
                let c = customer_with(v, |c| nonempty(c, "memory"));
                let rule = c["memory"][0]["rule"].as_str().unwrap().to_string();
                let short = rule.rsplit('/').next().unwrap().to_string();
                c["memory"][0]["rule"] = json!(if short == rule {
                    format!("shop/{rule}")
                } else {
                    short
                });
            }),
            "rule",
        ),
        (
            "unknown rule in metrics",
            Box::new(|v| v["metrics"]["rules"][0]["rule"] = json!("shop/ghost")),
            "ghost",
        ),
        (
            "unknown rule in exposures",
            Box::new(|v| {
                let c = customer_with(v, |c| {
                    c["journeys"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|j| nonempty(j, "exposures"))
                });
                let j = c["journeys"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|j| nonempty(j, "exposures"))
                    .unwrap();
                j["exposures"][0] = json!("shop/expp");
            }),
            "expp",
        ),
        (
            "unknown stage",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "journeys"))["journeys"][0]["stage"] =
                    json!("checkout")
            }),
            "checkout",
        ),
        (
            "unknown journey",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "journeys"))["journeys"][0]["journey"] =
                    json!("stay")
            }),
            "stay",
        ),
        (
            "journey twice",
            Box::new(|v| {
                let c = customer_with(v, |c| nonempty(c, "journeys"));
                let j = c["journeys"][0].clone();
                c["journeys"].as_array_mut().unwrap().push(j);
            }),
            "twice",
        ),
        (
            "goal out of range",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "journeys"))["journeys"][0]["converted"] =
                    json!([5])
            }),
            "goal",
        ),
        (
            "goal 64",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "journeys"))["journeys"][0]["converted"] =
                    json!([64])
            }),
            "goal",
        ),
        (
            "unknown stage in metrics",
            Box::new(|v| {
                v["metrics"]["stages"][0]["entered"]["limbo"] = json!(1);
            }),
            "limbo",
        ),
        (
            "an arm the rule lacks",
            Box::new(|v| {
                let rules = v["metrics"]["rules"].as_array_mut().unwrap();
                let r = rules
                    .iter_mut()
                    .find(|r| r["arms"].as_object().is_some_and(|a| !a.is_empty()))
                    .expect("a split rule");
                r["arms"]["nope"] = json!(0);
            }),
            "no split arm `nope`",
        ),
        (
            "version 1 arms of another length",
            Box::new(|v| {
                let rules = v["metrics"]["rules"].as_array_mut().unwrap();
                let r = rules
                    .iter_mut()
                    .find(|r| r["arms"].as_object().is_some_and(|a| !a.is_empty()))
                    .expect("a split rule");
                r["arms"] = json!([0, 0, 0, 0, 0, 0, 0]);
            }),
            "arms",
        ),
        (
            "negative count",
            Box::new(|v| v["metrics"]["rules"][0]["counts"][0] = json!(-1)),
            "",
        ),
        (
            "goal metrics out of range",
            Box::new(|v| v["metrics"]["goals"][0]["goal"] = json!(3)),
            "goal",
        ),
        (
            "goal metrics by an unknown name",
            Box::new(|v| v["metrics"]["goals"][0]["goal"] = json!("paid within 1d")),
            "paid within 1d",
        ),
        (
            "by_stage with a stage the journey lacks",
            Box::new(|v| v["metrics"]["goals"][0]["by_stage"]["limbo"] = json!(1)),
            "limbo",
        ),
        (
            "version 1 by_stage of another length",
            Box::new(|v| v["metrics"]["goals"][0]["by_stage"] = json!([0])),
            "goal",
        ),
        (
            "wrong profile type",
            Box::new(|v| {
                customer_with(v, |c| !c["profile"].is_null())["profile"]["tier"] = json!(5)
            }),
            "tier",
        ),
        (
            "unknown enum value in profile",
            Box::new(|v| {
                customer_with(v, |c| !c["profile"].is_null())["profile"]["tier"] = json!("platinum")
            }),
            "tier",
        ),
        (
            "unknown profile field",
            Box::new(|v| {
                customer_with(v, |c| !c["profile"].is_null())["profile"]["shoe_size"] = json!(42)
            }),
            "shoe_size",
        ),
        (
            "duplicate customer id",
            Box::new(|v| {
                let list = v["customers"].as_array_mut().unwrap();
                let c = list[0].clone();
                list.push(c);
            }),
            "customer",
        ),
        (
            "empty customer id",
            Box::new(|v| v["customers"][0]["id"] = json!("")),
            "customer",
        ),
        (
            "stay timer with an event",
            Box::new(|v| {
                let c = customer_with(v, |c| {
                    c["timers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|t| t["event"].is_null())
                });
                let t = c["timers"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .find(|t| t["event"].is_null())
                    .unwrap();
                t["event"] = json!({"time": 0, "at": null, "via": null, "data": {}});
            }),
            "trigger",
        ),
        (
            "absence timer without its event",
            Box::new(|v| {
                let t = kept_event_timer(v);
                t["event"] = Json::Null;
            }),
            "trigger",
        ),
        (
            "absence timer event with an unknown field",
            Box::new(|v| {
                let t = kept_event_timer(v);
                t["event"]["data"]["colour"] = json!("red");
            }),
            "colour",
        ),
        (
            "absence timer event with an unknown channel",
            Box::new(|v| {
                let t = kept_event_timer(v);
                t["event"]["via"] = json!("pigeon");
            }),
            "pigeon",
        ),
        (
            "two timers of one rule",
            Box::new(|v| {
                let c = customer_with(v, |c| nonempty(c, "timers"));
                let t = c["timers"][0].clone();
                c["timers"].as_array_mut().unwrap().push(t);
            }),
            "two timers",
        ),
        (
            "memory of a rule without `within … after`",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "memory"))["memory"][0]["rule"] = json!("shop/buy")
            }),
            "buy",
        ),
        (
            "cap of a rule without `limit`",
            Box::new(|v| {
                customer_with(v, |c| nonempty(c, "caps"))["caps"][0]["rule"] = json!("shop/buy")
            }),
            "buy",
        ),
    ];
    let mut failures = Vec::new();
    for (what, corrupt, word) in cases {
        let bad = mutate(&text, corrupt);
        assert_ne!(bad, text, "{what}: the corruption changed nothing");
        match restore_fails(&program, &bad) {
            Ok(message) if message.contains(word) => {}
            Ok(message) => {
                failures.push(format!("{what}: error `{message}` does not name `{word}`"))
            }
            Err(why) => failures.push(format!("{what}: {why}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn corrupt_bytes_never_panic() {
    // Flip single bytes of a real state: whatever happens, no panic.
    let program = shop();
    let text = rich_state(&program);
    let bytes = text.as_bytes();
    let mut rng = Rng(7);
    for _ in 0..2000 {
        let mut b = bytes.to_vec();
        let i = rng.below(b.len() as u64) as usize;
        b[i] = *rng.pick(b"{}[]\":,0123456789-.eEtrufalsn x/");
        let Ok(s) = String::from_utf8(b) else {
            continue;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(state) = State::from_json(&s) {
                if let Ok(mut engine) = Engine::restore(Arc::clone(&program), &state) {
                    let clock = engine.clock().unwrap_or(T0);
                    let _ = engine.advance_to(clock.saturating_add(10 * DAY));
                    let _ = engine.save().to_json();
                }
            }
        }));
        assert!(outcome.is_ok(), "panicked on a state with byte {i} changed");
    }
}

#[test]
fn timer_event_missing_a_required_field_is_rejected() {
    let program = shop();
    let text = rich_state(&program);
    let bad = mutate(&text, |v| {
        let c = customer_with(v, |c| {
            c["timers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| !t["event"].is_null())
        });
        let t = c["timers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|t| !t["event"].is_null())
            .unwrap();
        t["event"]["data"] = json!({});
    });
    assert!(restore_fails(&program, &bad).is_ok(), "accepted: {bad}");
}

// ---------------------------------------------------------------------------
// 5. Engine is Send: shards on threads
// ---------------------------------------------------------------------------

fn assert_send<T: Send>() {}

#[allow(dead_code)]
fn engine_and_friends_are_send() {
    assert_send::<Engine>();
    assert_send::<State>();
    assert_send::<Event>();
    assert_send::<Decision>();
    assert_send::<Arc<Program>>();
}

fn shard_of(customer: &str, shards: u64) -> usize {
    (documented_bucket(customer, "", "") % shards) as usize
}

#[test]
fn four_engines_on_four_threads_match_one() {
    assert_send::<Engine>();
    let program = shop();
    let (lines, until) = shop_stream(2_000, 200, 99);
    let events = parse_all(&program, &lines);
    let (one, single) = uninterrupted(&program, &events, until);
    let mut want = lines_of(&one);
    want.sort();

    let mut shards: Vec<Vec<Event>> = vec![Vec::new(); 4];
    for e in &events {
        shards[shard_of(e.customer(), 4)].push(e.clone());
    }
    assert!(shards.iter().all(|s| !s.is_empty()));
    let handles: Vec<_> = shards
        .into_iter()
        .map(|shard| {
            let program = Arc::clone(&program);
            let mut engine = Engine::new(Arc::clone(&program));
            std::thread::spawn(move || {
                let mut out = run_events(&mut engine, &shard);
                out.extend(engine.advance_to(until).expect("advance_to"));
                (out, engine)
            })
        })
        .collect();
    let mut got = Vec::new();
    let mut engines = Vec::new();
    for h in handles {
        let (out, engine) = h.join().expect("shard thread");
        for d in &out {
            assert_eq!(
                shard_of(d.customer(), 4),
                engines.len(),
                "decision in the wrong shard"
            );
        }
        got.extend(lines_of(&out));
        engines.push(engine);
    }
    got.sort();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);

    // The shards' counters add up to the single engine's.
    let m = single.metrics();
    for (r, counts) in m.rules.iter().enumerate() {
        let sum = |f: fn(&jrule::RuleCounts) -> u64| -> u64 {
            engines.iter().map(|e| f(&e.metrics().rules[r])).sum()
        };
        assert_eq!(sum(|c| c.fired), counts.fired, "rule {r} fired");
        assert_eq!(sum(|c| c.capped), counts.capped, "rule {r} capped");
        assert_eq!(
            sum(|c| c.suppressed),
            counts.suppressed,
            "rule {r} suppressed"
        );
        assert_eq!(sum(|c| c.excluded), counts.excluded, "rule {r} excluded");
        assert_eq!(sum(|c| c.errors), counts.errors, "rule {r} errors");
        assert_eq!(sum(|c| c.decisions), counts.decisions, "rule {r} decisions");
        for (a, n) in counts.arms.iter().enumerate() {
            let s: u64 = engines.iter().map(|e| e.metrics().rules[r].arms[a]).sum();
            assert_eq!(s, *n, "rule {r} arm {a}");
        }
    }
    for (j, stages) in m.stages.iter().enumerate() {
        for (s, n) in stages.iter().enumerate() {
            let sum: u64 = engines.iter().map(|e| e.metrics().stages[j][s]).sum();
            assert_eq!(sum, *n, "journey {j} stage {s}");
        }
    }
    for (j, goals) in m.goals.iter().enumerate() {
        for (g, c) in goals.iter().enumerate() {
            let sum: u64 = engines
                .iter()
                .map(|e| e.metrics().goals[j][g].conversions)
                .sum();
            assert_eq!(sum, c.conversions, "journey {j} goal {g}");
        }
    }
    let customers: usize = engines.iter().map(Engine::customer_count).sum();
    assert_eq!(customers, single.customer_count());
}

// ---------------------------------------------------------------------------
// 6. Metrics on the hotel stream, derived by hand
// ---------------------------------------------------------------------------

#[test]
fn hotel_metrics_by_hand() {
    // c1: booked (move), app_opened (cancels c1's nudge), welcome (send +
    // move to arrived, which starts `stalled` for 21:00), key at 15:30
    // (room_service offer as a gold guest; first_key moves to in_room,
    // cancelling `stalled`; spa_test does not fire: the event found c1 in
    // `arrived`), checked_out (goodbye's `where` is false: 0 nights;
    // checkout moves to checked_out).
    // c2: booked (move); its nudge falls due 2026-03-03T13:00Z, before
    // c1's checkout, fires, and is suppressed: no marketing consent.
    let program = hotel();
    let events = parse_all(&program, &hotel_lines());
    let mut engine = Engine::new(Arc::clone(&program));
    let decisions = run_events(&mut engine, &events);
    assert_eq!(decisions.len(), 7);
    let m = engine.metrics().to_json(&program);
    let rule = |name: &str| -> Json {
        m["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == name && r["journey"] == "stay")
            .unwrap_or_else(|| panic!("no rule {name}"))
            .clone()
    };
    let counts = |name: &str| -> [u64; 6] {
        let r = rule(name);
        [
            "fired",
            "capped",
            "suppressed",
            "excluded",
            "errors",
            "decisions",
        ]
        .map(|k| r[k].as_u64().unwrap_or_else(|| panic!("{name}.{k}")))
    };
    //                               fired capped supp excl err dec
    assert_eq!(counts("booked"), [2, 0, 0, 0, 0, 2]);
    assert_eq!(counts("nudge_app"), [1, 0, 1, 0, 0, 0]);
    assert_eq!(counts("welcome"), [1, 0, 0, 0, 0, 2]);
    assert_eq!(counts("room_service"), [1, 0, 0, 0, 0, 1]);
    assert_eq!(counts("first_key"), [1, 0, 0, 0, 0, 1]);
    assert_eq!(counts("spa_test"), [0, 0, 0, 0, 0, 0]);
    assert_eq!(
        rule("spa_test")["arms"],
        json!({"treatment": 0, "control": 0})
    );
    assert_eq!(counts("stalled"), [0, 0, 0, 0, 0, 0]);
    assert_eq!(counts("goodbye"), [0, 0, 0, 0, 0, 0]);
    assert_eq!(counts("checkout"), [1, 0, 0, 0, 0, 1]);

    let stay = &m["journeys"][0];
    assert_eq!(stay["journey"], "stay");
    assert_eq!(
        stay["entered"],
        json!({"booked": 2, "arrived": 1, "in_room": 1, "checked_out": 1})
    );
    assert_eq!(stay["goals"][0]["conversions"], 0);

    // The same through the typed counters.
    let typed = engine.metrics();
    let total_fired: u64 = typed.rules.iter().map(|r| r.fired).sum();
    assert_eq!(total_fired, 2 + 1 + 1 + 1 + 1 + 1);
    let total_suppressed: u64 = typed.rules.iter().map(|r| r.suppressed).sum();
    assert_eq!(total_suppressed, 1);
    let total_decisions: u64 = typed.rules.iter().map(|r| r.decisions).sum();
    assert_eq!(total_decisions, decisions.len() as u64);
    assert_eq!(typed.stages, vec![vec![2, 1, 1, 1]]);
}

#[test]
fn hotel_room_service_cap_and_stall() {
    // Extends the hotel stream: a second key use within 24h is capped; one
    // exactly 24h after the first is allowed again; a guest who arrives and
    // never uses a key is stalled after 6h.
    let program = hotel();
    let mut lines = hotel_lines();
    lines.truncate(5); // up to c1's key at 2026-03-02T15:30Z
    lines.push(r#"{"customer":"c1","signal":"key_used","time":"2026-03-02T20:00:00Z","at":"hotel","data":{"room":1204}}"#.into());
    lines.push(r#"{"customer":"c3","signal":"booking_made","time":"2026-03-02T21:00:00Z","data":{"hotel_id":"sf1","nights":2,"amount":300.0},"profile":{"marketing_consent":true}}"#.into());
    lines.push(r#"{"customer":"c3","signal":"arrived_at_hotel","time":"2026-03-02T22:00:00Z","at":"hotel","data":{"hotel_id":"sf1"}}"#.into());
    lines.push(r#"{"customer":"c1","signal":"key_used","time":"2026-03-03T15:30:00Z","at":"hotel","data":{"room":1204}}"#.into());
    let events = parse_all(&program, &lines);
    let mut engine = Engine::new(Arc::clone(&program));
    let decisions = run_events(&mut engine, &events);
    let at = |t: &str| -> Vec<String> {
        decisions
            .iter()
            .filter(|d| jrule::time::format_rfc3339(d.time()) == t)
            .map(|d| format!("{}:{}:{}", d.customer(), d.rule(), d.action()))
            .collect()
    };
    // 20:00: capped; spa_test fires in in_room (offer is exclusive, but
    // room_service was capped so the spa offer, if any, survives).
    let spa_arm = documented_bucket("c1", "stay", "spa_test") < 50;
    let want_20 = if spa_arm {
        vec!["c1:spa_test:offer".to_string()]
    } else {
        vec![]
    };
    assert_eq!(at("2026-03-02T20:00:00Z"), want_20);
    // c3 stalls at 04:00 (6h after arriving), fired before c1's next key.
    assert_eq!(at("2026-03-03T04:00:00Z"), vec!["c3:stalled:notify_staff"]);
    // Exactly 24h later: room_service fires again and wins the exclusive
    // offer over spa_test.
    assert_eq!(at("2026-03-03T15:30:00Z"), vec!["c1:room_service:offer"]);
    let m = engine.metrics().to_json(&program);
    let r = m["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "room_service")
        .unwrap()
        .clone();
    assert_eq!(
        (r["fired"].as_u64(), r["capped"].as_u64()),
        (Some(2), Some(1))
    );
    let spa = m["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "spa_test")
        .unwrap()
        .clone();
    assert_eq!(spa["fired"].as_u64(), Some(2));
    assert_eq!(
        spa["excluded"].as_u64(),
        Some(if spa_arm { 1 } else { 0 }),
        "spa offer excluded by room_service at 2026-03-03T15:30Z"
    );
}

// ---------------------------------------------------------------------------
// 7. Customers cost nothing when empty
// ---------------------------------------------------------------------------

#[test]
fn empty_customers_are_not_stored() {
    let program = compile(
        "top.jr",
        "signal ping { n: int }\naction hi(n: int)\nwhen ping where event.n % 2 == 0 then hi(event.n)\n",
    );
    let mut engine = Engine::new(Arc::clone(&program));
    let mut decisions = 0;
    for i in 0..1_000i64 {
        let line = format!(
            r#"{{"customer":"c{i}","signal":"ping","time":{},"data":{{"n":{i}}}}}"#,
            T0 + i * 1000
        );
        decisions += feed(&mut engine, &program, &line)
            .expect("good event")
            .len();
    }
    assert_eq!(decisions, 500);
    assert_eq!(engine.customer_count(), 0);
    let state: Json = serde_json::from_str(&engine.save().to_json()).unwrap();
    assert_eq!(state["customers"], json!([]));
    assert_eq!(state["clock"], json!(T0 + 999_000));
}

#[test]
fn customers_without_state_left_are_dropped() {
    // A journey customer who never enters, and whose wait is cancelled,
    // leaves nothing behind.
    let program = hotel();
    let mut engine = Engine::new(Arc::clone(&program));
    for i in 0..200 {
        let line = format!(
            r#"{{"customer":"g{i}","signal":"app_opened","time":{},"data":{{"screen":"home"}}}}"#,
            T0 + i
        );
        feed(&mut engine, &program, &line).expect("good event");
    }
    assert_eq!(engine.customer_count(), 0);
}

// ---------------------------------------------------------------------------
// Edges found along the way
// ---------------------------------------------------------------------------

#[test]
fn builder_int_for_a_float_field_survives_save_and_restore() {
    let program = compile(
        "floats.jr",
        "customer { spend: float = 0.0 }\nsignal pay { amount: float }\nsignal ask\naction show(amount: float, spend: float)\n\
         rule remind: when no ask within 1h after pay then show(event.amount, customer.spend)\n",
    );
    let mut a = Engine::new(Arc::clone(&program));
    let e = EventBuilder::new(&program, "c1", "pay", T0)
        .and_then(|b| b.field("amount", Value::Int(3)))
        .and_then(|b| b.profile("spend", Some(Value::Int(5))))
        .and_then(EventBuilder::build)
        .expect("an int fits a float field");
    assert!(a.process(&e).expect("process").is_empty());
    let (mut b, text) = round_trip(&program, &a);
    assert_eq!(
        b.save().to_json(),
        text,
        "save → restore → save changed the text"
    );
    let da = a.advance_to(T0 + 2 * HOUR).expect("advance");
    let db = b.advance_to(T0 + 2 * HOUR).expect("advance");
    assert_eq!(lines_of(&da), lines_of(&db));
}

#[test]
fn builder_non_finite_float_is_rejected_or_round_trips() {
    let program = compile(
        "floats.jr",
        "signal pay { amount: float }\nsignal ask\naction show(amount: float)\n\
         rule remind: when no ask within 1h after pay then show(event.amount)\n",
    );
    let built = EventBuilder::new(&program, "c1", "pay", T0)
        .and_then(|b| b.field("amount", Value::Float(f64::NAN)))
        .and_then(EventBuilder::build);
    let Ok(event) = built else { return }; // rejecting it is fine
    let mut a = Engine::new(Arc::clone(&program));
    a.process(&event).expect("process");
    let text = a.save().to_json();
    let restored = State::from_json(&text).and_then(|s| Engine::restore(Arc::clone(&program), &s));
    assert!(
        restored.is_ok(),
        "own state does not restore: {:?}\n{text}",
        restored.err()
    );
}

#[test]
fn extreme_times_do_not_panic() {
    // Times are any integer milliseconds: the far past and far future must
    // be rejected or processed, never crash the engine.
    let program = shop();
    for (first, second) in [
        (i64::MIN, i64::MIN),
        (i64::MIN, i64::MAX),
        (i64::MIN + 1, 0),
        (0, i64::MAX),
    ] {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut engine = Engine::new(Arc::clone(&program));
            for (t, c) in [(first, "x"), (first, "x"), (second, "x"), (second, "x")] {
                for line in [
                    format!(
                        r#"{{"customer":"{c}","signal":"visit","time":{t},"at":"store","via":"app","data":{{"page":"promo"}}}}"#
                    ),
                    format!(
                        r#"{{"customer":"{c}","signal":"support_call","time":{t},"via":"sms"}}"#
                    ),
                    format!(
                        r#"{{"customer":"{c}","signal":"cart_add","time":{t},"data":{{"sku":"s","price":50.0}}}}"#
                    ),
                    format!(
                        r#"{{"customer":"{c}","signal":"purchase","time":{t},"via":"app","data":{{"amount":90.0,"items":1}}}}"#
                    ),
                ] {
                    if let Ok(ds) = feed(&mut engine, &program, &line) {
                        for d in ds {
                            let _ = d.to_json();
                        }
                    }
                }
            }
            let _ = engine.advance_to(i64::MAX);
            let text = engine.save().to_json();
            let _ = State::from_json(&text).and_then(|s| Engine::restore(Arc::clone(&program), &s));
        }));
        assert!(outcome.is_ok(), "panicked with times {first} then {second}");
    }
}

/// The first timer, of any customer, that keeps an event (`no … after`).
fn kept_event_timer(v: &mut Json) -> &mut Json {
    let c = customer_with(v, |c| {
        c["timers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| !t["event"].is_null())
    });
    c["timers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| !t["event"].is_null())
        .unwrap()
}

#[test]
fn counts_past_any_real_run_are_a_corrupt_state() {
    let program = Arc::new(
        Program::compile(&[Source::new("p.jr", "signal s\naction a\nwhen s then a")])
            .expect("compiles")
            .program,
    );
    let mut engine = Engine::new(Arc::clone(&program));
    let event =
        Event::from_json(&program, r#"{"customer":"c","signal":"s","time":1}"#).expect("event");
    engine.process(&event).expect("processed");
    let text = engine.save().to_json();
    let near_max = text.replace(
        "\"counts\":[1,0,0,0,0,1]",
        &format!("\"counts\":[{},0,0,0,0,1]", u64::MAX),
    );
    assert_ne!(near_max, text);
    let state = State::from_json(&near_max).expect("well-formed");
    let error = Engine::restore(program, &state).expect_err("corrupt");
    assert!(error.to_string().contains("corrupt"), "{error}");
}

/// A required profile field with no default that no event has set is
/// absent, saved as `null`; restoring it is no error (found writing
/// examples/grocer.jr).
#[test]
fn an_unset_required_field_survives_save_and_restore() {
    let program = compile(
        "unset.jr",
        "customer { n: int, t: text, d: int = 1 }\nsignal s\naction a(n: int)\nwhen s then a(customer.n)\n",
    );
    let mut engine = Engine::new(program.clone());
    let first = r#"{"customer":"c1","signal":"s","time":"2026-03-01T09:00:00Z","profile":{"n":3}}"#;
    assert_eq!(
        lines_of(&feed(&mut engine, &program, first).expect("accepted")).len(),
        1
    );
    let (mut restored, text) = round_trip(&program, &engine);
    assert!(text.contains(r#""t":null"#), "{text}");
    assert_eq!(restored.save().to_json(), text);
    let second = r#"{"customer":"c1","signal":"s","time":"2026-03-01T10:00:00Z"}"#;
    assert_eq!(
        lines_of(&feed(&mut restored, &program, second).expect("accepted")),
        lines_of(&feed(&mut engine, &program, second).expect("accepted"))
    );
    // A field with a default is never absent: null there is a corrupt state.
    let corrupt = text.replace(r#""d":1"#, r#""d":null"#);
    let state = State::from_json(&corrupt).expect("JSON");
    let err = Engine::restore(program.clone(), &state).expect_err("d cannot be null");
    assert_eq!(
        err.to_string(),
        "customers[0].profile.d: a required field with a default cannot be null"
    );
}

/// An event older than the clock is rejected with both times as numbers;
/// the message shows them in RFC 3339.
#[test]
fn an_event_out_of_order_carries_both_times_as_numbers() {
    let program = hotel();
    let mut engine = Engine::new(Arc::clone(&program));
    let at = |time: &str| {
        format!(
            r#"{{"customer":"c1","signal":"key_used","time":"{time}","at":"hotel","data":{{"room":1}}}}"#
        )
    };
    feed(&mut engine, &program, &at("2026-03-01T10:08:00Z")).expect("first");
    let error = feed(&mut engine, &program, &at("2026-03-01T10:07:59.500Z")).expect_err("older");
    let jrule::EventError::OutOfOrder { time, clock } = error else {
        panic!("not out of order: {error:?}")
    };
    assert_eq!(clock - time, 500);
    assert_eq!(Some(clock), engine.clock());
    assert_eq!(error.code(), "jrule::event_out_of_order");
    assert_eq!(
        error.to_string(),
        "event at 2026-03-01T10:07:59.500Z is older than the engine's clock 2026-03-01T10:08:00Z: events must come in time order"
    );
    // Other kinds have their own codes; a time past year 9999 keeps its
    // number.
    let far = feed(
        &mut engine,
        &program,
        r#"{"customer":"c1","signal":"key_used","time":253402300800000,"at":"hotel","data":{"room":1}}"#,
    )
    .expect_err("past 9999");
    assert_eq!(
        far,
        EventError::TimeOutOfRange {
            time: 253402300800000
        }
    );
    assert_eq!(far.code(), "jrule::event_time_out_of_range");
    let unknown = feed(
        &mut engine,
        &program,
        r#"{"customer":"c1","signal":"nope","time":0}"#,
    )
    .expect_err("unknown signal");
    assert_eq!(unknown.code(), "jrule::event_unknown_signal");
    let malformed = feed(&mut engine, &program, "{\"customer\":").expect_err("malformed");
    assert!(
        matches!(
            malformed,
            EventError::Json {
                line: 1,
                column: 12,
                ..
            }
        ),
        "{malformed:?}"
    );
    assert_eq!(malformed.code(), "jrule::event_malformed");
}
