//! Runs a case on the compiled engine and on the reference, and compares
//! every step's output (decision lines or rejection text) and, at the end,
//! the metrics.

use std::sync::Arc;

use super::gen::{Case, Step};
use super::Reference;
use crate::store::{checkpoint, Loader, MemoryStore, StateStore};
use crate::{Engine, Event, Program, Source, State};

/// What one case did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Lines processed.
    pub events: usize,
    /// Of those, lines rejected.
    pub rejected: usize,
    /// Decisions made.
    pub decisions: usize,
    /// Times the engine was saved and restored (the first time whole, then
    /// through a store, customers loaded as their events and timers come).
    pub restores: usize,
}

/// Runs `case` on both; on a difference, a report with everything needed to
/// reproduce it.
pub fn run(case: &Case) -> Result<Outcome, String> {
    let sources: Vec<Source> = (case.files.iter().enumerate())
        .map(|(i, text)| Source::new(format!("gen{i}.jr"), text.as_str()))
        .collect();
    let checked = crate::check(&sources);
    if !checked.is_ok() {
        let problems: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::Severity::Error)
            .map(|d| format!("  {} {} at {:?}", d.code, d.message, d.span))
            .collect();
        return Err(report(
            case,
            None,
            &format!(
                "generator bug: the program does not check:\n{}",
                problems.join("\n")
            ),
        ));
    }
    let program = Arc::new(
        Program::compile(&sources)
            .map_err(|e| report(case, None, &format!("does not compile: {e}")))?
            .program,
    );
    let mut reference = Reference::new(&checked, &sources);
    let mut engine = Engine::new(Arc::clone(&program));
    engine.track_changes(true);
    // Restores after the first go through a store: a checkpoint of what
    // changed, then an engine that loads customers as they are needed.
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let mut loader: Option<Loader> = None;
    let mut outcome = Outcome::default();
    let lines = |r: Result<Vec<crate::Decision>, crate::EventError>| {
        r.map(|ds| ds.iter().map(|d| d.to_json()).collect::<Vec<_>>())
            .map_err(|e| e.to_string())
    };
    for (i, step) in case.steps.iter().enumerate() {
        let (actual, expected) = match step {
            Step::Event(line) => {
                outcome.events += 1;
                let event = Event::from_json(&program, line);
                if let (Some(loader), Ok(e)) = (&mut loader, &event) {
                    loader
                        .prepare(&mut engine, Some(e.customer()), e.time())
                        .map_err(|e| report(case, Some(i), &format!("cannot load: {e}")))?;
                }
                let actual = lines(event.and_then(|e| engine.process(&e)));
                (actual, reference.process_line(line))
            }
            Step::Advance(t) => {
                if let Some(loader) = &mut loader {
                    loader
                        .prepare(&mut engine, None, *t)
                        .map_err(|e| report(case, Some(i), &format!("cannot load: {e}")))?;
                }
                (lines(engine.advance_to(*t)), reference.advance_to(*t))
            }
            Step::Restore if outcome.restores > 0 => {
                outcome.restores += 1;
                checkpoint(std::slice::from_mut(&mut engine), &*store, None)
                    .map_err(|e| report(case, Some(i), &format!("cannot checkpoint: {e}")))?;
                let (mut opened, from_store) =
                    Loader::open(Arc::clone(&program), Arc::clone(&store), 0, 1)
                        .map_err(|e| report(case, Some(i), &format!("cannot open: {e}")))?;
                opened.track_changes(true);
                engine = opened;
                loader = Some(from_store);
                continue;
            }
            Step::Restore => {
                outcome.restores += 1;
                let text = engine.save().to_json();
                let restored = State::from_json(&text)
                    .and_then(|state| Engine::restore(Arc::clone(&program), &state));
                engine = restored
                    .map_err(|e| report(case, Some(i), &format!("cannot restore: {e}\n{text}")))?;
                // The store is empty: its first checkpoint writes everyone.
                engine.track_changes(true);
                engine.mark_all_changed();
                continue;
            }
        };
        compare(case, i, &actual, &expected)?;
        match expected {
            Ok(d) => outcome.decisions += d.len(),
            Err(_) => outcome.rejected += 1,
        }
    }
    let i = case.steps.len().saturating_sub(1);
    let actual = engine.metrics().to_json(&program);
    let expected = reference.metrics();
    if actual != expected {
        let message = format!("metrics differ\n  engine:    {actual}\n  reference: {expected}");
        return Err(report(case, Some(i), &message));
    }
    Ok(outcome)
}

type Output = Result<Vec<String>, String>;

fn compare(case: &Case, i: usize, actual: &Output, expected: &Output) -> Result<(), String> {
    if actual == expected {
        return Ok(());
    }
    let show = |o: &Output| match o {
        Ok(lines) if lines.is_empty() => "    (no decision)".to_string(),
        Ok(lines) => lines
            .iter()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("    rejected: {e}"),
    };
    let message = format!(
        "outputs differ\n  engine:\n{}\n  reference:\n{}",
        show(actual),
        show(expected)
    );
    Err(report(case, Some(i), &message))
}

/// The program, the steps up to `at`, and what went wrong.
fn report(case: &Case, at: Option<usize>, message: &str) -> String {
    let mut text = String::new();
    for (i, file) in case.files.iter().enumerate() {
        text.push_str(&format!("--- gen{i}.jr\n{file}"));
    }
    text.push_str("--- steps\n");
    let last = at.map_or(0, |i| i + 1).min(case.steps.len());
    for step in &case.steps[..last] {
        match step {
            Step::Event(line) => text.push_str(&format!("{line}\n")),
            Step::Advance(t) => text.push_str(&format!(
                "# advance_to {}\n",
                crate::time::format_rfc3339(*t)
            )),
            Step::Restore => text.push_str("# save and restore the engine\n"),
        }
    }
    text.push_str(&format!("--- at the last step: {message}\n"));
    text
}
