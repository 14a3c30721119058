//! jrule against other rule engines on workload W1 (see
//! `docs/performance.md`, section "Peers").
//!
//! ```text
//! cargo run --release -- [--rules 10,100,1000,10000,100000] [--events 20000]
//!     [--seconds 5] [--check 200] [--seed 1] [--customers 1000]
//!     [--engines jrule,cel,rhai,cedar,regorus,zen] [--max-setup 120] [--out DIR]
//! ```
//!
//! For each number of rules and each engine and form: checks that the
//! engine finds, for each of the first `--check` events, the same set of
//! rules as jrule (and stops with an error if not), then measures events per
//! second for at most `--seconds`. Writes `results.csv` and `results.md`
//! into `--out` (default: this package's folder).

mod peers;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use peers::{Cedar, Cel, Ev, Jrule, Peer, Rego, Rhai, Setup, Zen};

/// The engines and forms, in the order they run and are reported.
const CONFIGS: &[(&str, &str)] = &[
    ("jrule", "natural"),
    ("cel", "natural"),
    ("cel", "best"),
    ("rhai", "natural"),
    ("rhai", "best"),
    ("cedar", "natural"),
    ("cedar", "best"),
    ("regorus", "natural"),
    ("regorus", "best"),
    ("zen", "natural"),
    ("zen", "best"),
];

/// What each form is, for the report.
const FORMS: &[(&str, &str, &str)] = &[
    ("jrule", "natural", "the W1 program (`when sX where event.tier == tY`), `Engine::process_into` per event"),
    ("cel", "natural", "`cel` crate: N compiled programs `signal == \"sX\" && tier == \"tY\"`, all evaluated per event"),
    ("cel", "best", "the same programs grouped by signal in a `HashMap` by hand; only the event's signal's programs are evaluated"),
    ("rhai", "natural", "N compiled ASTs `signal == \"sX\" && tier == \"tY\"` over a `Scope`, all evaluated per event"),
    ("rhai", "best", "the same ASTs grouped by signal in a `HashMap` by hand"),
    ("cedar", "natural", "N policies `permit(principal, action == Action::\"sX\", resource) when { context.tier == \"tY\" };` in one `PolicySet`, one `is_authorized` per event; matches = determining policies"),
    ("cedar", "best", "one `PolicySet` per action (signal), grouped by hand; only the event's action's set is asked"),
    ("regorus", "natural", "one Rego module, N rules `matches contains i if { input.signal == \"sX\"; input.tier == \"tY\" }`, `eval_rule(\"data.w1.matches\")` per event"),
    ("regorus", "best", "one package per signal (`data.w1.sX.matches`), grouped by hand, each compiled for regorus's virtual machine (`compile_with_entrypoint`, `Compiler::compile_from_policy`, `RegoVM::execute`); only the event's signal's program runs"),
    ("zen", "natural", "one decision table (inputs signal, tier; output rule; N rows; hit policy `collect`), `Decision::evaluate` as loaded, as in the crate's quick start"),
    ("zen", "best", "the same table after `Decision::compile()`, which precompiles the cells and builds the table's column indexes"),
];

struct Opts {
    rules: Vec<usize>,
    events: usize,
    seconds: f64,
    check: usize,
    seed: u64,
    customers: usize,
    engines: Option<Vec<String>>,
    max_setup: f64,
    out: PathBuf,
}

fn usage() -> &'static str {
    "usage: jrule-peers [--rules 10,100,1000,10000,100000] [--events 20000] [--seconds 5] \
     [--check 200] [--seed 1] [--customers 1000] [--engines jrule,cel,...] [--max-setup 120] [--out DIR]"
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        rules: vec![10, 100, 1_000, 10_000, 100_000],
        events: 20_000,
        seconds: 5.0,
        check: 200,
        seed: 1,
        customers: 1000,
        engines: None,
        max_setup: 120.0,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{}", usage());
            std::process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--rules" => {
                o.rules = value
                    .split(',')
                    .map(|n| n.trim().replace('_', "").parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad(&e))?;
            }
            "--events" => o.events = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => o.seconds = value.parse().map_err(|e| bad(&e))?,
            "--check" => o.check = value.parse().map_err(|e| bad(&e))?,
            "--seed" => o.seed = value.parse().map_err(|e| bad(&e))?,
            "--customers" => o.customers = value.parse().map_err(|e| bad(&e))?,
            "--max-setup" => o.max_setup = value.parse().map_err(|e| bad(&e))?,
            "--engines" => {
                o.engines = Some(value.split(',').map(|s| s.trim().to_string()).collect())
            }
            "--out" => o.out = PathBuf::from(value),
            other => return Err(format!("unknown option {other}\n{}", usage())),
        }
    }
    if o.rules.is_empty() || o.rules.contains(&0) || o.events == 0 || o.seconds <= 0.0 {
        return Err(format!(
            "rules, events and seconds must be positive\n{}",
            usage()
        ));
    }
    Ok(o)
}

fn build(engine: &str, form: &str, setup: &Setup, o: &Opts) -> Box<dyn Peer> {
    let best = form == "best";
    match engine {
        "jrule" => Box::new(Jrule::new(setup, o.customers, o.seed)),
        "cel" => Box::new(Cel::new(setup, best)),
        "rhai" => Box::new(Rhai::new(setup, best)),
        "cedar" => Box::new(Cedar::new(setup, best)),
        "regorus" => Box::new(Rego::new(setup, best, best)),
        "zen" => Box::new(Zen::new(setup, best)),
        other => unreachable!("no engine {other}"),
    }
}

/// Runs passes over the events for `seconds` spent in `matches` (stopping
/// mid-pass; `reset` between passes is not counted). The time is cut into
/// slices of about a sixth of it (at least a quarter of a second); the
/// result is the median slice's rate when there are three slices or more,
/// so that a burst of other work on the machine does not count, else the
/// overall rate. Returns (events per second, events, seconds).
fn measure(peer: &mut dyn Peer, events: usize, seconds: f64) -> (f64, u64, f64) {
    let slice = (seconds / 6.0).max(0.25);
    let mut rates = Vec::new();
    let mut slice_start = (0.0, 0u64);
    let mut out = Vec::with_capacity(8);
    let mut done = 0u64;
    let mut spent = 0.0;
    let mut stride = 1usize;
    'passes: loop {
        peer.reset();
        let start = Instant::now();
        let mut last = 0.0;
        let mut until_check = stride;
        for k in 0..events {
            out.clear();
            peer.matches(k, &mut out);
            black_box(&out);
            done += 1;
            until_check -= 1;
            if until_check == 0 {
                let now = start.elapsed().as_secs_f64();
                // Look at the clock about every millisecond.
                if now - last < 0.001 {
                    stride = (stride * 2).min(4096);
                } else if stride > 1 {
                    stride /= 2;
                }
                last = now;
                until_check = stride;
                let total = spent + now;
                if total - slice_start.0 >= slice {
                    rates.push((done - slice_start.1) as f64 / (total - slice_start.0));
                    slice_start = (total, done);
                }
                if total >= seconds {
                    spent = total;
                    break 'passes;
                }
            }
        }
        spent += start.elapsed().as_secs_f64();
        if spent >= seconds {
            break;
        }
    }
    let rate = if rates.len() >= 3 {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    } else {
        done as f64 / spent
    };
    (rate, done, spent)
}

/// The matching rules of the first events, by jrule; fails if one is not
/// exactly the rule the event was drawn for (the harness's events would
/// then differ from jrule's).
fn expected(
    jrule: &mut dyn Peer,
    events: &[Ev],
    count: usize,
) -> Result<Vec<BTreeSet<u32>>, String> {
    jrule.reset();
    let mut out = Vec::new();
    let mut sets = Vec::new();
    for (k, e) in events.iter().take(count).enumerate() {
        out.clear();
        jrule.matches(k, &mut out);
        let set: BTreeSet<u32> = out.iter().copied().collect();
        if set != BTreeSet::from([e.rule]) || out.len() != 1 {
            return Err(format!(
                "jrule matched {out:?} for event {k} (signal s{}, tier t{}), expected [{}]: \
                 the harness does not draw jrule's events",
                e.signal, e.tier, e.rule
            ));
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Checks a peer on the first events against jrule's answers, for at most
/// `seconds` once 20 events are checked. Returns how many were checked.
fn check(
    peer: &mut dyn Peer,
    name: &str,
    expected: &[BTreeSet<u32>],
    events: &[Ev],
    seconds: f64,
) -> Result<usize, String> {
    peer.reset();
    let start = Instant::now();
    let mut out = Vec::new();
    for (k, want) in expected.iter().enumerate() {
        if k >= 20 && start.elapsed().as_secs_f64() > seconds {
            return Ok(k);
        }
        out.clear();
        peer.matches(k, &mut out);
        let got: BTreeSet<u32> = out.iter().copied().collect();
        if &got != want || got.len() != out.len() {
            let e = events[k];
            return Err(format!(
                "{name}: event {k} (signal s{}, tier t{}) matched rules {out:?}, jrule matched {want:?}",
                e.signal, e.tier
            ));
        }
    }
    Ok(expected.len())
}

#[derive(Clone, Copy)]
struct Cell {
    eps: Option<f64>,
    setup: f64,
    checked: usize,
}

fn main() -> ExitCode {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let configs: Vec<(&str, &str)> = CONFIGS
        .iter()
        .copied()
        .filter(|(e, _)| {
            *e == "jrule" || o.engines.as_ref().is_none_or(|l| l.iter().any(|x| x == e))
        })
        .collect();
    let mut cells: HashMap<(&str, &str, usize), Cell> = HashMap::new();
    // The last measured size of each engine and form: (rules, events/s, setup s).
    let mut last: HashMap<(&str, &str), (usize, f64, f64)> = HashMap::new();
    let mut skipped: HashMap<(&str, &str), String> = HashMap::new();
    let started = Instant::now();

    for &n in &o.rules {
        let (signals, tiers) = jrule::workload::grid(n);
        let events = peers::w1_events(n, o.customers, o.events, o.seed);
        let setup = Setup {
            rules: n,
            signals,
            events: &events,
        };
        eprintln!(
            "== {n} rules ({signals} signals x {tiers} tiers), {} events",
            events.len()
        );
        let mut want = Vec::new();
        for &(engine, form) in &configs {
            let key = (engine, form);
            if let Some(why) = skipped.get(&key) {
                eprintln!("{engine:>8} {form:<8} skipped ({why})");
                continue;
            }
            if let Some(&(n0, eps0, setup0)) = last.get(&key) {
                let scale = n as f64 / n0 as f64;
                let eps = eps0 / scale;
                let build = setup0 * scale;
                let why = if eps * o.seconds < 20.0 {
                    Some(format!("about {eps:.1} events/s expected at {n} rules"))
                } else if build > o.max_setup {
                    Some(format!("about {build:.0} s of setup expected at {n} rules"))
                } else {
                    None
                };
                if let Some(why) = why {
                    eprintln!("{engine:>8} {form:<8} skipped ({why})");
                    skipped.insert(key, why);
                    continue;
                }
            }
            let t = Instant::now();
            let mut peer = build(engine, form, &setup, &o);
            let setup_s = t.elapsed().as_secs_f64();
            let checked = if engine == "jrule" {
                match expected(peer.as_mut(), &events, o.check) {
                    Ok(w) => want = w,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                want.len()
            } else {
                match check(
                    peer.as_mut(),
                    &format!("{engine} ({form})"),
                    &want,
                    &events,
                    o.seconds,
                ) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            };
            let (eps, done, secs) = measure(peer.as_mut(), events.len(), o.seconds);
            eprintln!(
                "{engine:>8} {form:<8} setup {setup_s:>7.2} s, checked {checked:>4}, {done:>9} events in {secs:.2} s: {:>12} events/s",
                human(eps)
            );
            let t = Instant::now();
            drop(peer);
            let drop_s = t.elapsed().as_secs_f64();
            last.insert(key, (n, eps, setup_s + drop_s));
            cells.insert(
                (engine, form, n),
                Cell {
                    eps: Some(eps),
                    setup: setup_s,
                    checked,
                },
            );
        }
    }
    let total = started.elapsed().as_secs_f64();
    eprintln!("total {total:.0} s");

    if let Err(e) = write_results(&o, &configs, &cells, total) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn write_results(
    o: &Opts,
    configs: &[(&str, &str)],
    cells: &HashMap<(&str, &str, usize), Cell>,
    total: f64,
) -> std::io::Result<()> {
    std::fs::create_dir_all(&o.out)?;
    let mut csv = String::from("engine,form,rules,events_per_sec\n");
    for &(engine, form) in configs {
        for &n in &o.rules {
            let eps = cells.get(&(engine, form, n)).and_then(|c| c.eps);
            let _ = writeln!(
                csv,
                "{engine},{form},{n},{}",
                eps.map(|e| format!("{e:.1}")).unwrap_or_default()
            );
        }
    }
    std::fs::write(o.out.join("results.csv"), csv)?;
    let md = markdown(o, configs, cells, total);
    std::fs::write(o.out.join("results.md"), &md)?;
    println!("{md}");
    eprintln!(
        "wrote {} and {}",
        o.out.join("results.csv").display(),
        o.out.join("results.md").display()
    );
    Ok(())
}

/// Events per second, short: 1.23 M, 45.6 k, 789.
fn human(eps: f64) -> String {
    if eps >= 1e6 {
        format!("{:.2} M", eps / 1e6)
    } else if eps >= 1e4 {
        format!("{:.0} k", eps / 1e3)
    } else if eps >= 1e3 {
        format!("{:.1} k", eps / 1e3)
    } else if eps >= 10.0 {
        format!("{eps:.0}")
    } else {
        format!("{eps:.1}")
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(r: f64) -> String {
    if r >= 1000.0 {
        thousands(r.round() as usize)
    } else if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let processors = info.lines().filter(|l| l.starts_with("processor")).count();
    let usable = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| {
                    l.strip_prefix("MemTotal:")
                        .map(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                })
                .flatten()
        })
        .map(|kb| format!(", {:.0} GiB memory", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    let rustc =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("-V")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "rustc (unknown version)".into());
    format!(
        "{model}, {processors} logical cores ({usable} usable){memory}; {rustc}, release profile"
    )
}

/// The versions of the peer crates, from this package's Cargo.lock.
fn versions() -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .unwrap_or_default();
    let mut found = Vec::new();
    let mut name = "";
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = line.strip_prefix("version = ") {
            if [
                "jrule",
                "cel",
                "rhai",
                "cedar-policy",
                "regorus",
                "zen-engine",
            ]
            .contains(&name)
            {
                found.push(format!("{name} {}", v.trim_matches('"')));
            }
        }
    }
    found.join(", ")
}

fn markdown(
    o: &Opts,
    configs: &[(&str, &str)],
    cells: &HashMap<(&str, &str, usize), Cell>,
    total: f64,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "Machine: {}.  ", machine());
    let _ = writeln!(md, "Crates: {}.  ", versions());
    let _ = writeln!(
        md,
        "Run: `--rules {} --events {} --seconds {} --check {} --seed {} --customers {}` ({total:.0} s in all).\n",
        o.rules.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(","),
        o.events,
        o.seconds,
        o.check,
        o.seed,
        o.customers
    );
    let _ = writeln!(md, "Events per second, one thread (in brackets: how many times faster jrule is); — = not run, too slow at that size.\n");
    let mut header = String::from("| engine | form |");
    let mut rule = String::from("| --- | --- |");
    for &n in &o.rules {
        let _ = write!(header, " {} rules |", thousands(n));
        rule.push_str(" ---: |");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for &(engine, form) in configs {
        let _ = write!(md, "| {engine} | {form} |");
        for &n in &o.rules {
            let eps = cells.get(&(engine, form, n)).and_then(|c| c.eps);
            let base = cells.get(&("jrule", "natural", n)).and_then(|c| c.eps);
            let text = match (eps, base) {
                (Some(e), _) if engine == "jrule" => human(e),
                (Some(e), Some(b)) => format!("{} (×{})", human(e), ratio(b / e)),
                (Some(e), None) => human(e),
                (None, _) => "—".to_string(),
            };
            let _ = write!(md, " {text} |");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "\nSetup, seconds: from the rules' text to an engine ready to run, with the inputs prepared in the engine's own form (for jrule: compiling the program and generating the events):\n");
    let _ = writeln!(md, "{header}\n{rule}");
    for &(engine, form) in configs {
        let _ = write!(md, "| {engine} | {form} |");
        for &n in &o.rules {
            match cells.get(&(engine, form, n)) {
                Some(c) => {
                    let _ = write!(md, " {:.2} |", c.setup);
                }
                None => md.push_str(" — |"),
            }
        }
        md.push('\n');
    }
    let _ = writeln!(md, "\nForms:\n");
    for &(engine, form) in configs {
        if let Some((_, _, what)) = FORMS.iter().find(|(e, f, _)| *e == engine && *f == form) {
            let _ = writeln!(md, "- {engine} ({form}): {what}.");
        }
    }
    let partial: Vec<String> = configs
        .iter()
        .flat_map(|&(e, f)| o.rules.iter().map(move |&n| (e, f, n)))
        .filter_map(|k| {
            cells.get(&k).filter(|c| c.checked < o.check).map(|c| {
                format!(
                    "{} ({}) at {} rules: {}",
                    k.0,
                    k.1,
                    thousands(k.2),
                    c.checked
                )
            })
        })
        .collect();
    if partial.is_empty() {
        let _ = writeln!(md, "\nEvery engine matched exactly jrule's rules on the first {} events of every size it ran.", o.check);
    } else {
        let _ = writeln!(
            md,
            "\nEvery engine matched exactly jrule's rules on the first {} events of every size it ran, except where checking was cut short by time: {}.",
            o.check,
            partial.join("; ")
        );
    }
    md
}
