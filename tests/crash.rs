//! Crash safety of `jrule run --state FILE`: the state is written beside
//! the file, synced and renamed over it, so a run killed at any moment
//! leaves the old state (or none, if there was none) or the complete new
//! one, never a torn file; and resuming from what is left gives the
//! decisions of an uninterrupted run.
//!
//! The test kills real runs with SIGKILL after a delay drawn from a seeded
//! generator: anywhere in the time of an uninterrupted run, late in it, or
//! just after the temporary file of the save appears (the save itself is a
//! small part of a run, which random delays alone rarely hit). Nothing
//! depends on where the kill lands: every outcome is checked.
#![cfg(unix)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_jrule");

/// Runs killed per test.
const ITERATIONS: u64 = 30;

/// Customers in the stream: enough for a state of a few MB, whose saving
/// takes a noticeable part of a run.
const CUSTOMERS: usize = 5_000;

const PROGRAM: &str = r#"customer { name: text = "", tier: text = "basic" }
signal joined { note: text }
signal bought { amount: int }
signal tick
action welcome(note: text)
action remind(note: text)
action thank(amount: int)
journey shop {
  stages new -> buyer
  rule join: when joined then welcome(event.note), move to new
  rule nudge: when no bought within 1h after joined in new then remind(event.note)
  rule buy: when bought in new then thank(event.amount), move to buyer
}
when tick then welcome("tick")
"#;

/// A small deterministic generator (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The first part of the stream: every customer joins (a profile, a stage
/// and a pending wait that keeps the event's long note).
fn first_events() -> String {
    let t0: i64 = 1_772_355_600_000;
    let note = "n".repeat(150);
    let mut out = String::new();
    for c in 0..CUSTOMERS {
        let tier = if c % 2 == 1 { "gold" } else { "silver" };
        let _ = writeln!(
            out,
            r#"{{"customer":"customer-{c:06}","signal":"joined","time":{},"data":{{"note":"{note}{c}"}},"profile":{{"name":"Customer Number {c} with a long name","tier":"{tier}"}}}}"#,
            t0 + c as i64
        );
    }
    out
}

/// The rest: a third of the customers buy; an hour later the others'
/// waits run out, which only the restored state knows about.
fn second_events() -> String {
    let t0: i64 = 1_772_355_600_000;
    let mut out = String::new();
    for c in (0..CUSTOMERS).step_by(3) {
        let _ = writeln!(
            out,
            r#"{{"customer":"customer-{c:06}","signal":"bought","time":{},"data":{{"amount":{c}}}}}"#,
            t0 + 1_800_000 + c as i64
        );
    }
    let _ = writeln!(
        out,
        r#"{{"customer":"zz","signal":"tick","time":{}}}"#,
        t0 + 7_200_000
    );
    out
}

struct Paths {
    dir: PathBuf,
    program: PathBuf,
    first: PathBuf,
    second: PathBuf,
}

fn setup(name: &str) -> Paths {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let paths = Paths {
        program: dir.join("shop.jr"),
        first: dir.join("first.jsonl"),
        second: dir.join("second.jsonl"),
        dir,
    };
    std::fs::write(&paths.program, PROGRAM).expect("write the program");
    std::fs::write(&paths.first, first_events()).expect("write events");
    std::fs::write(&paths.second, second_events()).expect("write events");
    paths
}

/// Starts `jrule run PROGRAM --events EVENTS --state STATE`, its decisions
/// going to `out`.
fn start(paths: &Paths, events: &Path, state: &Path, out: &Path) -> std::process::Child {
    Command::new(BIN)
        .arg("run")
        .arg(&paths.program)
        .arg("--events")
        .arg(events)
        .arg("--state")
        .arg(state)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).expect("decisions file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start jrule")
}

/// An uninterrupted run: its decisions, the state it leaves, how long it took.
fn complete(
    paths: &Paths,
    events: &Path,
    state: &Path,
    before: Option<&[u8]>,
) -> (Vec<u8>, Vec<u8>, Duration) {
    match before {
        Some(bytes) => std::fs::write(state, bytes).expect("write the old state"),
        None => {
            let _ = std::fs::remove_file(state);
        }
    }
    let out = paths.dir.join("complete.out");
    let started = Instant::now();
    let status = start(paths, events, state, &out)
        .wait()
        .expect("jrule runs");
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "an uninterrupted run succeeds");
    (
        std::fs::read(&out).expect("decisions"),
        std::fs::read(state).expect("the saved state"),
        took,
    )
}

/// Leftover temporary files of killed saves, removed; how many there were.
fn sweep_temporaries(dir: &Path, state_name: &str) -> usize {
    let prefix = format!(".{state_name}.tmp-");
    let mut found = 0;
    for entry in std::fs::read_dir(dir).expect("list the scratch directory") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(&prefix) {
            found += 1;
            std::fs::remove_file(entry.path()).expect("remove a temporary file");
        }
    }
    found
}

#[test]
fn a_killed_run_leaves_the_old_state_or_the_new_one_and_resumes() {
    let paths = setup("crash");
    let state = paths.dir.join("state.json");
    let state_name = "state.json";

    // Uninterrupted: the first part from nothing, then the rest from its state.
    let (first_decisions, first_state, first_took) = complete(&paths, &paths.first, &state, None);
    let (second_decisions, second_state, second_took) =
        complete(&paths, &paths.second, &state, Some(&first_state));
    assert!(
        first_state.len() > 2_000_000,
        "the state should be a few MB, not {} bytes",
        first_state.len()
    );
    assert_ne!(first_state, second_state);
    assert!(!second_decisions.is_empty());
    // Both parts in one run end in the same state.
    let whole = paths.dir.join("whole.jsonl");
    let mut both = std::fs::read(&paths.first).expect("events");
    both.extend(std::fs::read(&paths.second).expect("events"));
    std::fs::write(&whole, both).expect("write events");
    let (whole_decisions, whole_state, _) = complete(&paths, &whole, &state, None);
    assert_eq!(
        whole_state, second_state,
        "one run or two end in the same state"
    );
    assert_eq!(
        whole_decisions,
        [&first_decisions[..], &second_decisions[..]].concat(),
        "one run or two decide the same"
    );

    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    let mut resumed = std::collections::BTreeMap::<&str, usize>::new();
    let mut torn_saves = 0;
    for iteration in 0..ITERATIONS {
        let mut rng = SplitMix64(0x6a72_756c_6500_0000 ^ iteration);
        // Even iterations start with no state, odd ones with the first part's.
        let (events, old, new, decisions, took) = if iteration % 2 == 0 {
            (
                &paths.first,
                None,
                &first_state,
                &first_decisions,
                first_took,
            )
        } else {
            (
                &paths.second,
                Some(&first_state),
                &second_state,
                &second_decisions,
                second_took,
            )
        };
        match old {
            Some(bytes) => std::fs::write(&state, bytes).expect("write the old state"),
            None => {
                let _ = std::fs::remove_file(&state);
            }
        }
        // Where to kill: anywhere in the run, late in it, or while the
        // state is being saved (once the temporary file appears).
        let span = took.as_micros() as u64 * 6 / 5;
        let out = paths.dir.join("killed.out");
        let mut child = start(&paths, events, &state, &out);
        let temporary = paths.dir.join(format!(".{state_name}.tmp-{}", child.id()));
        let when = match (iteration / 2) % 3 {
            0 => {
                let delay = rng.below(span);
                std::thread::sleep(Duration::from_micros(delay));
                format!("after {delay} µs")
            }
            1 => {
                let delay = span / 2 + rng.below(span / 2);
                std::thread::sleep(Duration::from_micros(delay));
                format!("after {delay} µs")
            }
            _ => {
                let started = Instant::now();
                while !temporary.exists() && child.try_wait().expect("poll jrule").is_none() {
                    std::thread::sleep(Duration::from_micros(100));
                }
                let delay = rng.below(span / 100);
                std::thread::sleep(Duration::from_micros(delay));
                format!(
                    "{delay} µs after the save began, {} µs in",
                    started.elapsed().as_micros()
                )
            }
        };
        let _ = child.kill();
        let status = child.wait().expect("wait for jrule");
        torn_saves += sweep_temporaries(&paths.dir, state_name);

        let left = std::fs::read(&state).ok();
        let printed = std::fs::read(&out).expect("decisions of the killed run");
        assert!(
            decisions.starts_with(&printed),
            "iteration {iteration}: a killed run printed what an uninterrupted one prints, or less"
        );
        let outcome = match (&left, old) {
            (None, None) => "none",
            (Some(bytes), Some(old)) if bytes == old => "old",
            (Some(bytes), _) if bytes == new => "new",
            (Some(bytes), _) => panic!(
                "iteration {iteration} (killed {when}, {status}): the state is \
                 neither the old nor the new one ({} bytes; old {:?}, new {} bytes)",
                bytes.len(),
                old.map(|o| o.len()),
                new.len()
            ),
            (None, Some(_)) => panic!("iteration {iteration}: the old state disappeared"),
        };
        *tally.entry(outcome).or_default() += 1;
        if outcome == "new" {
            // Decisions are all written before the state is saved.
            assert_eq!(
                &printed, decisions,
                "iteration {iteration}: a run whose state was saved printed every decision"
            );
            continue;
        }
        // Resume from what was left, a few times per outcome (each resumption
        // is a whole run).
        let count = resumed.entry(outcome).or_default();
        if *count < 2 {
            *count += 1;
            let again = paths.dir.join("again.out");
            let status = start(&paths, events, &state, &again)
                .wait()
                .expect("jrule runs");
            assert_eq!(status.code(), Some(0));
            assert_eq!(
                &std::fs::read(&again).expect("decisions"),
                decisions,
                "iteration {iteration}: resuming from the {outcome} state decides as an uninterrupted run"
            );
            assert_eq!(
                &std::fs::read(&state).expect("state"),
                new,
                "iteration {iteration}: resuming from the {outcome} state ends in the same state"
            );
        }
    }
    eprintln!(
        "crash: {ITERATIONS} killed runs; state left: {tally:?}; saves cut short: {torn_saves}; \
         resumed: {resumed:?}"
    );
}

/// `jrule run --store`: a run killed at any moment leaves the store at its
/// last complete checkpoint; the same command then resumes after the
/// checkpointed line, and ends with the metrics of an uninterrupted run and
/// the decisions after that line.
#[test]
fn a_killed_run_on_a_store_resumes_from_its_last_checkpoint() {
    let paths = setup("crash-store");
    let whole = paths.dir.join("whole-store.jsonl");
    let mut both = std::fs::read(&paths.first).expect("events");
    both.extend(std::fs::read(&paths.second).expect("events"));
    std::fs::write(&whole, both).expect("write events");
    let run = |store: &Path, out: &Path, metrics: &Path| {
        Command::new(BIN)
            .arg("run")
            .arg(&paths.program)
            .arg("--events")
            .arg(&whole)
            .arg("--store")
            .arg(store)
            .arg("--checkpoint-every")
            .arg("700")
            .arg("--metrics")
            .arg(metrics)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(out).expect("decisions file"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start jrule")
    };
    let clean = paths.dir.join("clean.redb");
    let expected_out = paths.dir.join("clean.out");
    let expected_metrics = paths.dir.join("clean-metrics.json");
    let started = Instant::now();
    let status = run(&clean, &expected_out, &expected_metrics)
        .wait()
        .expect("runs");
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0));
    let expected = std::fs::read(&expected_out).expect("decisions");
    let expected_metrics = std::fs::read(&expected_metrics).expect("metrics");
    let mut resumed_somewhere = 0;
    for iteration in 0..ITERATIONS / 2 {
        let mut rng = SplitMix64(0x5707_e000 ^ iteration);
        let store = paths.dir.join(format!("killed-{iteration}.redb"));
        let out = paths.dir.join("killed.out");
        let metrics = paths.dir.join("killed-metrics.json");
        let mut child = run(&store, &out, &metrics);
        let delay = rng.below(took.as_micros() as u64 + 1);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let status = child.wait().expect("the killed run");
        if status.code() == Some(0) {
            // It finished before the kill: nothing to resume.
            continue;
        }
        // The same command again, to the end.
        let resumed_out = paths.dir.join("resumed.out");
        let resumed_metrics = paths.dir.join("resumed-metrics.json");
        let child = run(&store, &resumed_out, &resumed_metrics);
        let output = child.wait_with_output().expect("resumes");
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(
            output.status.code(),
            Some(0),
            "iteration {iteration}: {stderr}"
        );
        if stderr.contains("resuming") {
            resumed_somewhere += 1;
        }
        assert_eq!(
            std::fs::read(&resumed_metrics).expect("metrics"),
            expected_metrics,
            "iteration {iteration}: the counters of an uninterrupted run ({stderr})"
        );
        let resumed = std::fs::read(&resumed_out).expect("decisions");
        assert!(
            expected.ends_with(&resumed),
            "iteration {iteration}: the resumed run decides what an uninterrupted run decides after the checkpoint ({stderr})"
        );
    }
    assert!(
        resumed_somewhere > 0,
        "some kill should land after a checkpoint"
    );
}
