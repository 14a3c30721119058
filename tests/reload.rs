//! Reloading a program while customers are in flight: the lenient
//! `reload_carrying` / `restore_carrying` carry every customer's state over
//! by name, drop what the new program lacks or changed, and report it by
//! what was dropped; the strict `restore` / `reload` still refuse.

use std::sync::Arc;

use jrule::{Engine, Event, Program, Source, State};

const STAY: &str = r#"
customer {
  tier: text = "bronze"
  nights: int = 0
  nickname: text?
}

channels app, email

signal booked { nights: int }
signal checked_in
signal opened_app
signal spa_visit
signal paid { amount: float }

action send(template: text)
action offer(code: text)

journey stay {
  stages booked -> checked_in -> in_room
  goal paid within 7d
  goal spa_visit within 7d

  rule book:
    when booked
    then move to booked

  rule check_in:
    when checked_in in booked
    then move to checked_in

  rule settle:
    when opened_app in checked_in
    then move to in_room

  rule remind:
    when in booked for 1d
    then send("remind")

  rule nudge:
    when no checked_in within 2d after booked
    then send("nudge")

  rule welcome:
    when opened_app in in_room
    limit 1 per 12h
    then send("welcome")

  rule spa_offer:
    when spa_visit in in_room
    then split {
      a 50%: offer("A")
      b 50%: offer("B")
    }
}

journey onboarding {
  stages new -> active

  rule start:
    when opened_app via email
    then move to new
}

rule followup:
  when paid within 1d after spa_visit
  then send("thanks")

rule hello:
  when opened_app via app
  limit 1 per 1d
  then send("hello")
"#;

/// Before the reload: c1 and c5 wait in `booked` (a stay and an absence
/// timer each; c1 has a profile), c2 is `in_room` with both goals
/// converted, a split exposure, a `within … after` memory and two cap
/// windows, c3 is in `checked_in` with a profile, c4 and c6 are only in
/// `onboarding`.
const BEFORE: &[&str] = &[
    r#"{"customer":"c1","signal":"booked","time":"2026-03-01T09:00:00Z","data":{"nights":3},"profile":{"nickname":"Al","nights":3,"tier":"gold"}}"#,
    r#"{"customer":"c5","signal":"booked","time":"2026-03-01T09:00:00Z","data":{"nights":1}}"#,
    r#"{"customer":"c2","signal":"booked","time":"2026-03-01T09:01:00Z","data":{"nights":2}}"#,
    r#"{"customer":"c3","signal":"booked","time":"2026-03-01T09:02:00Z","data":{"nights":1},"profile":{"nights":5}}"#,
    r#"{"customer":"c4","signal":"opened_app","time":"2026-03-01T09:10:00Z","via":"email"}"#,
    r#"{"customer":"c6","signal":"opened_app","time":"2026-03-01T09:11:00Z","via":"email"}"#,
    r#"{"customer":"c2","signal":"checked_in","time":"2026-03-01T10:00:00Z"}"#,
    r#"{"customer":"c3","signal":"checked_in","time":"2026-03-01T10:05:00Z"}"#,
    r#"{"customer":"c2","signal":"opened_app","time":"2026-03-01T11:00:00Z","via":"app"}"#,
    r#"{"customer":"c2","signal":"spa_visit","time":"2026-03-01T12:00:00Z"}"#,
    r#"{"customer":"c2","signal":"paid","time":"2026-03-01T13:00:00Z","data":{"amount":120.0}}"#,
    r#"{"customer":"c2","signal":"opened_app","time":"2026-03-01T14:00:00Z","via":"app"}"#,
];

/// After the reload, in terms both `STAY` and `changed()` read.
const AFTER: &[&str] = &[
    r#"{"customer":"c2","signal":"paid","time":"2026-03-01T15:00:00Z","data":{"amount":10.0}}"#,
    r#"{"customer":"c2","signal":"opened_app","time":"2026-03-01T16:00:00Z","via":"app"}"#,
    r#"{"customer":"c3","signal":"booked","time":"2026-03-01T16:01:00Z","data":{"nights":2}}"#,
    r#"{"customer":"c3","signal":"opened_app","time":"2026-03-01T16:02:00Z","via":"app"}"#,
    r#"{"customer":"c4","signal":"opened_app","time":"2026-03-01T16:03:00Z","via":"email"}"#,
    r#"{"customer":"c4","signal":"opened_app","time":"2026-03-01T16:04:00Z","via":"app"}"#,
    r#"{"customer":"c2","signal":"opened_app","time":"2026-03-02T02:30:00Z","via":"app"}"#,
    r#"{"customer":"c1","signal":"checked_in","time":"2026-03-02T10:00:00Z"}"#,
];

/// 2026-03-04T09:00:00Z: past every timer.
const UNTIL: i64 = 1_772_614_800_000;

fn compile(text: &str) -> Arc<Program> {
    match Program::compile(&[Source::new("stay.jr", text)]) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => panic!("does not compile: {e}"),
    }
}

/// `STAY` with each `(from, to)` replaced once.
fn edit(changes: &[(&str, &str)]) -> Arc<Program> {
    let mut text = STAY.to_string();
    for (from, to) in changes {
        assert_eq!(
            text.matches(from).count(),
            1,
            "`{from}` is not in STAY once"
        );
        text = text.replacen(from, to, 1);
    }
    compile(&text)
}

/// An engine that has run `BEFORE`.
fn in_flight() -> Engine {
    let program = compile(STAY);
    let mut engine = Engine::new(Arc::clone(&program));
    for line in BEFORE {
        feed(&mut engine, line);
    }
    engine
}

fn feed(engine: &mut Engine, line: &str) -> Vec<jrule::Decision> {
    let event = Event::from_json(engine.program(), line)
        .unwrap_or_else(|e| panic!("rejected: {e}\n{line}"));
    engine.process(&event).expect("in order")
}

/// Runs events, then advances to `UNTIL`; the decisions as JSON lines.
fn run(engine: &mut Engine, lines: &[&str]) -> Vec<String> {
    let mut out: Vec<_> = lines.iter().flat_map(|line| feed(engine, line)).collect();
    out.extend(engine.advance_to(UNTIL).expect("in order"));
    out.iter().map(|d| d.to_json()).collect()
}

fn of(customer: &str, lines: &[String]) -> Vec<String> {
    let key = format!(r#""customer":"{customer}""#);
    lines.iter().filter(|l| l.contains(&key)).cloned().collect()
}

/// The brief's program change: a stage renamed, a journey, a rule with
/// pending timers, a profile field, a goal and a split removed, a field's
/// type changed, a limit lifted.
fn changed() -> Arc<Program> {
    edit(&[
        ("  nickname: text?\n", ""),
        ("nights: int = 0", r#"nights: text = "none""#),
        ("booked -> checked_in -> in_room", "booked -> arrived -> in_room"),
        ("then move to checked_in", "then move to arrived"),
        ("when opened_app in checked_in", "when opened_app in arrived"),
        ("  goal spa_visit within 7d\n", ""),
        (
            "  rule nudge:\n    when no checked_in within 2d after booked\n    then send(\"nudge\")\n",
            "",
        ),
        (
            "  rule spa_offer:\n    when spa_visit in in_room\n    then split {\n      a 50%: offer(\"A\")\n      b 50%: offer(\"B\")\n    }\n",
            "",
        ),
        (
            "journey onboarding {\n  stages new -> active\n\n  rule start:\n    when opened_app via email\n    then move to new\n}\n",
            "",
        ),
        ("  limit 1 per 1d\n", ""),
    ])
}

#[test]
fn reloading_the_same_program_carries_everything() {
    let mut kept = in_flight();
    let mut reloaded = kept.clone();
    let carry = reloaded.reload_carrying(compile(STAY)).expect("own state");
    assert!(carry.is_empty(), "{carry}");
    assert_eq!(carry.to_string(), "");
    assert_eq!(carry.lines().count(), 0);
    assert_eq!(reloaded.save().to_json(), kept.save().to_json());
    let expected = run(&mut kept, AFTER);
    assert!(!expected.is_empty());
    assert_eq!(run(&mut reloaded, AFTER), expected);
    assert_eq!(reloaded.metrics(), kept.metrics());
}

#[test]
fn reloading_a_changed_program_reports_what_could_not_carry() {
    let mut engine = in_flight();
    assert_eq!(engine.customer_count(), 6);
    let carry = engine.reload_carrying(changed()).expect("own state");
    assert!(!carry.is_empty());
    assert_eq!(
        carry.to_string(),
        "\
goal `spa_visit within 7d` of journey `stay` is gone: 1 conversion dropped
goal `spa_visit within 7d` of journey `stay` is gone: its metrics dropped
journey `onboarding` is gone: 2 customers left it
journey `onboarding` is gone: its metrics dropped
profile field `nickname` is gone: dropped for 1 customer
profile field `nights` changed type: dropped for 2 customers
rule `hello` no longer has a limit: cap windows of 1 customer dropped
rule `onboarding/start` is gone: its metrics dropped
rule `stay/nudge` is gone: 2 pending timers dropped
rule `stay/nudge` is gone: its metrics dropped
rule `stay/spa_offer` is gone: its metrics dropped
split `stay/spa_offer` is gone: exposures of 1 customer dropped
split `stay/spa_offer` is gone: its metrics dropped
stage `stay.checked_in` is gone: 1 customer left journey `stay`
stage `stay.checked_in` is gone: its metrics dropped"
    );
    assert_eq!(
        carry.lines().collect::<Vec<_>>().join("\n"),
        carry.to_string()
    );
    // c4 and c6 were only in `onboarding`: nothing of them is left.
    assert_eq!(engine.customer_count(), 4);

    let after = run(&mut engine, AFTER);
    // c1 and c5 are still in `booked`: the stay timers carried fire, the
    // absence waits of the gone `nudge` do not, and `check_in` (in booked)
    // still moves c1 on, into the renamed stage.
    assert_eq!(
        of("c1", &after),
        [
            r#"{"time":"2026-03-02T09:00:00Z","customer":"c1","journey":"stay","rule":"remind","action":"send","args":{"template":"remind"}}"#,
            r#"{"time":"2026-03-02T10:00:00Z","customer":"c1","journey":"stay","rule":"check_in","action":"move","args":{"from":"booked","to":"arrived"}}"#,
        ]
    );
    assert_eq!(
        of("c5", &after),
        [
            r#"{"time":"2026-03-02T09:00:00Z","customer":"c5","journey":"stay","rule":"remind","action":"send","args":{"template":"remind"}}"#,
        ]
    );
    // c2 keeps its `within … after` memory (`followup` fires), its stage
    // and its `welcome` cap window (`welcome`, in in_room, is capped at
    // 16:00 and fires once the window has passed), and `hello` has no
    // limit now.
    assert_eq!(
        of("c2", &after),
        [
            r#"{"time":"2026-03-01T15:00:00Z","customer":"c2","journey":null,"rule":"followup","action":"send","args":{"template":"thanks"}}"#,
            r#"{"time":"2026-03-01T16:00:00Z","customer":"c2","journey":null,"rule":"hello","action":"send","args":{"template":"hello"}}"#,
            r#"{"time":"2026-03-02T02:30:00Z","customer":"c2","journey":"stay","rule":"welcome","action":"send","args":{"template":"welcome"}}"#,
            r#"{"time":"2026-03-02T02:30:00Z","customer":"c2","journey":null,"rule":"hello","action":"send","args":{"template":"hello"}}"#,
        ]
    );
    // c3 and c4 lost their journeys: they behave as new customers.
    let mut fresh = Engine::new(changed());
    let dropped: Vec<&str> = AFTER
        .iter()
        .copied()
        .filter(|l| l.contains(r#""c3""#) || l.contains(r#""c4""#))
        .collect();
    let as_new = run(&mut fresh, &dropped);
    assert_eq!(
        of("c3", &as_new)[0],
        r#"{"time":"2026-03-01T16:01:00Z","customer":"c3","journey":"stay","rule":"book","action":"move","args":{"from":null,"to":"booked"}}"#
    );
    assert_eq!(as_new.len(), 4, "{as_new:#?}");
    for c in ["c3", "c4"] {
        assert_eq!(of(c, &after), of(c, &as_new));
    }
}

#[test]
fn reloading_changed_rules_reports_what_could_not_carry() {
    let mut engine = in_flight();
    let carry = engine
        .reload_carrying(edit(&[
            // The event `nudge` keeps loses its field.
            (
                "signal booked { nights: int }",
                "signal booked { length: int? }",
            ),
            // The stay timer's rule waits for an event now.
            (
                "when in booked for 1d",
                "when no checked_in within 1d after booked",
            ),
            // The memory's rule no longer remembers.
            ("when paid within 1d after spa_visit", "when paid"),
            // The split gains an arm.
            (
                "b 50%: offer(\"B\")",
                "b 25%: offer(\"B\")\n      c 25%: skip",
            ),
        ]))
        .expect("own state");
    assert_eq!(
        carry.to_string(),
        "\
field `nights` of the event kept by rule `stay/nudge` is gone: 2 pending timers dropped
rule `followup` no longer has `within … after`: 1 `within … after` memory dropped
rule `stay/remind` changed its trigger: 2 pending timers dropped"
    );
    // Nothing is pending any more: no timer fires.
    let after = run(&mut engine, &[]);
    assert!(after.is_empty(), "{after:#?}");
}

#[test]
fn strict_restore_and_reload_still_refuse_a_changed_program() {
    let mut engine = in_flight();
    let state = engine.save();
    let error = Engine::restore(changed(), &state).expect_err("strict");
    assert_eq!(
        error.to_string(),
        "customers[0].profile: unknown field `nickname`"
    );
    let before = state.to_json();
    assert_eq!(engine.reload(changed()), Err(error));
    assert_eq!(
        engine.save().to_json(),
        before,
        "a failed reload changed the engine"
    );
}

#[test]
fn carrying_still_refuses_a_corrupt_state() {
    let text = in_flight().save().to_json();
    let cases = [
        // A journey the new program lacks, listed twice.
        (
            r#"[{"journey":"onboarding","stage":"new","#,
            r#"[{"journey":"onboarding","stage":"x","entered":0,"since":0,"converted":[],"exposures":[]},{"journey":"onboarding","stage":"new","#,
            "customers[3].journeys[1]: journey `onboarding` appears twice",
        ),
        // A timer of a gone rule, listed twice.
        (
            r#"{"rule":"stay/nudge","#,
            r#"{"rule":"stay/nudge","deadline":0,"event":null},{"rule":"stay/nudge","#,
            "customers[0].timers: two timers of rule `stay/nudge`",
        ),
        (
            r#"{"id":"c2""#,
            r#"{"id":"""#,
            "customers[1]: empty or repeated customer id ``",
        ),
        (
            r#""clock":"#,
            r#""clock":1e30,"ignored":"#,
            "malformed state",
        ),
    ];
    for (from, to, error) in cases {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        let outcome = State::from_json(&bad)
            .and_then(|state| Engine::restore_carrying(changed(), &state).map(|_| ()));
        let message = outcome.expect_err(error).to_string();
        assert!(message.starts_with(error), "{message}\nexpected: {error}");
    }
}

/// A host tells the kinds of state errors apart by matching, not by
/// reading messages.
#[test]
fn a_host_matches_on_the_kind_of_state_error() {
    use jrule::ProgramItem;
    use jrule::StateError;

    // A state file cut short: corrupt, at the line and column where the
    // text ends.
    let text = in_flight().save().to_json();
    let truncated = &text[..text.len() / 2];
    match State::from_json(truncated) {
        Err(
            ref e @ StateError::Corrupt {
                line, ref message, ..
            },
        ) => {
            assert_eq!(line, 1);
            assert!(message.starts_with("EOF while parsing"), "{message}");
            assert_eq!(e.code(), "jrule::state_corrupt");
            assert!(e
                .to_string()
                .starts_with("malformed state: EOF while parsing"));
        }
        other => panic!("not corrupt: {other:?}"),
    }
    let Err(StateError::Corrupt { column, .. }) = State::from_json(truncated) else {
        unreachable!()
    };
    assert_eq!(column, truncated.len(), "the column is where the text ends");

    // A state saved under a program with a journey the new one lacks: the
    // strict restore names the journey.
    let state = in_flight().save();
    let without_onboarding = edit(&[(
        "journey onboarding {\n  stages new -> active\n\n  rule start:\n    when opened_app via email\n    then move to new\n}\n",
        "",
    )]);
    let error = Engine::restore(without_onboarding, &state).expect_err("strict");
    match &error {
        StateError::Incompatible {
            item: ProgramItem::Journey { journey },
            missing: true,
            at,
            ..
        } => {
            assert_eq!(journey, "onboarding");
            assert!(at.starts_with("customers["), "{at}");
        }
        other => panic!("not an incompatible journey: {other:?}"),
    }
    assert_eq!(error.code(), "jrule::state_incompatible");
    assert!(
        error.to_string().ends_with("unknown journey `onboarding`"),
        "{error}"
    );

    // A state of another format or version.
    let other = text.replacen(r#""format":"jrule-state""#, r#""format":"x""#, 1);
    let e = State::from_json(&other).expect_err("another format");
    assert!(matches!(&e, StateError::NotAState { format } if format == "x"));
    assert_eq!(e.code(), "jrule::state_format");
    let newer = text.replacen(r#""version":2"#, r#""version":7"#, 1);
    let e = State::from_json(&newer).expect_err("a newer version");
    assert!(matches!(
        e,
        StateError::Version {
            version: 7,
            supported: 2
        }
    ));
    assert_eq!(e.code(), "jrule::state_version");
}

/// Goals, and counts by stage and by arm, are carried by name: removing the
/// first goal, reordering the stages and the arms gives every count to the
/// goal, stage and arm it was counted for.
#[test]
fn goals_stages_and_arms_carry_by_name() {
    let mut engine = in_flight();
    let goal = |engine: &Engine, name: &str| -> serde_json::Value {
        let state: serde_json::Value = serde_json::from_str(&engine.save().to_json()).unwrap();
        let goals = state["metrics"]["goals"].as_array().unwrap().clone();
        goals
            .into_iter()
            .find(|g| g["goal"] == name)
            .expect("the goal")
    };
    let arms = |engine: &Engine| -> serde_json::Value {
        let state: serde_json::Value = serde_json::from_str(&engine.save().to_json()).unwrap();
        let rules = state["metrics"]["rules"].as_array().unwrap().clone();
        let rule = rules.into_iter().find(|r| r["rule"] == "stay/spa_offer");
        rule.expect("the split")["arms"].clone()
    };
    let (spa, split) = (goal(&engine, "spa_visit within 7d"), arms(&engine));
    assert_ne!(spa["conversions"], 0);
    assert_ne!(split, serde_json::json!({"a": 0, "b": 0}));
    let carry = engine
        .reload_carrying(edit(&[
            // The first goal goes: the second is goal 0 now.
            ("  goal paid within 7d\n", ""),
            // `in_room` is the first stage now.
            (
                "stages booked -> checked_in -> in_room",
                "stages in_room\n  stages booked -> checked_in -> in_room",
            ),
            // The arms swap places.
            (
                "a 50%: offer(\"A\")\n      b 50%: offer(\"B\")",
                "b 50%: offer(\"B\")\n      a 50%: offer(\"A\")",
            ),
        ]))
        .expect("own state");
    assert_eq!(
        carry.to_string(),
        "goal `paid within 7d` of journey `stay` is gone: 1 conversion dropped\n\
         goal `paid within 7d` of journey `stay` is gone: its metrics dropped"
    );
    assert_eq!(goal(&engine, "spa_visit within 7d"), spa);
    assert_eq!(arms(&engine), split);
    assert_eq!(engine.metrics().goals[0].len(), 1);
}

/// A state written by an earlier jrule (version 1: goals by number, counts
/// by position) still restores into the program it was saved under.
#[test]
fn a_version_1_state_restores() {
    let engine = in_flight();
    let v2: serde_json::Value = serde_json::from_str(&engine.save().to_json()).unwrap();
    let mut v1 = v2.clone();
    v1["version"] = serde_json::json!(1);
    let goals = ["paid within 7d", "spa_visit within 7d"];
    for c in v1["customers"].as_array_mut().unwrap() {
        for j in c["journeys"].as_array_mut().unwrap() {
            let numbers: Vec<usize> = j["converted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| goals.iter().position(|x| g == x).unwrap())
                .collect();
            j["converted"] = serde_json::json!(numbers);
        }
    }
    for r in v1["metrics"]["rules"].as_array_mut().unwrap() {
        let arms: Vec<u64> = r["arms"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .collect();
        r["arms"] = serde_json::json!(arms);
    }
    for (i, g) in v1["metrics"]["goals"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        g["goal"] = serde_json::json!(i);
        let stages = ["booked", "checked_in", "in_room"];
        let by_stage: Vec<u64> = stages
            .iter()
            .map(|s| g["by_stage"][s].as_u64().unwrap())
            .collect();
        g["by_stage"] = serde_json::json!(by_stage);
        let by_arm: Vec<(String, Vec<u64>)> = g["by_arm"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(rule, arms)| {
                let counts = ["a", "b"]
                    .iter()
                    .map(|a| arms[a].as_u64().unwrap())
                    .collect();
                (rule.clone(), counts)
            })
            .collect();
        g["by_arm"] = serde_json::json!(by_arm);
    }
    let state = State::from_json(&v1.to_string()).expect("a version 1 state reads");
    let restored = Engine::restore(compile(STAY), &state).expect("and restores");
    assert_eq!(restored.save().to_json(), engine.save().to_json());
}
