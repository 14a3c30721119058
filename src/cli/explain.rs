//! `jrule explain`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::{json, Value as Json};

use crate::engine::{Considered, Explanation, Verdict};
use crate::{Engine, Event, EventError, Program, State};

use super::failure::Failure;
use super::run::state_failure;
use super::{read_sources, Format, OK, TROUBLE};

/// Arguments of `jrule explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The program's files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The event, as one JSON object (as in an events file).
    #[arg(long, value_name = "JSON")]
    pub event: String,
    /// Explain against this saved state instead of a fresh one.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Human-readable, or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Explains one event: every rule its signal triggers, fired or why not.
pub fn run(args: &ExplainArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match explain(args) {
        Ok(text) => match out.write_all(text.as_bytes()) {
            Ok(()) => OK,
            Err(e) => {
                let _ = writeln!(err, "error: cannot write: {e}");
                TROUBLE
            }
        },
        Err(Trouble::Message(failure)) => {
            let _ = writeln!(err, "{failure}");
            TROUBLE
        }
        Err(Trouble::Diagnostics(rendered)) => {
            let _ = err.write_all(rendered.as_bytes());
            let _ = writeln!(err, "error: the program does not check");
            TROUBLE
        }
    }
}

enum Trouble {
    Message(Failure),
    Diagnostics(String),
}

impl From<String> for Trouble {
    fn from(message: String) -> Self {
        Trouble::Message(message.into())
    }
}

impl From<Failure> for Trouble {
    fn from(failure: Failure) -> Self {
        Trouble::Message(failure)
    }
}

fn explain(args: &ExplainArgs) -> Result<String, Trouble> {
    let sources = read_sources(&args.files)?;
    let program = match Program::compile(&sources) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => {
            return Err(Trouble::Diagnostics(super::check::render(
                &e.diagnostics,
                &e.sources,
                false,
            )))
        }
    };
    let engine = match &args.state {
        Some(path) => {
            let text = super::run::read_state(path)?;
            let state = State::from_json(&text).map_err(|e| state_failure(path, &e))?;
            Engine::restore(Arc::clone(&program), &state).map_err(|e| state_failure(path, &e))?
        }
        None => Engine::new(Arc::clone(&program)),
    };
    let rejected =
        |e: EventError| Failure::coded(e.code(), format!("--event: event rejected: {e}"));
    let event = Event::from_json(&program, &args.event).map_err(rejected)?;
    let explanation = engine.explain(&event).map_err(rejected)?;
    let signal: Json = serde_json::from_str(&args.event).unwrap_or(Json::Null);
    let header = Header {
        customer: event.customer(),
        signal: signal["signal"].as_str().unwrap_or(""),
        time: crate::time::format_rfc3339(event.time()),
        at: signal["at"].as_str(),
        via: signal["via"].as_str(),
    };
    Ok(match args.format {
        Format::Json => {
            let mut text = to_json(&header, &explanation).to_string();
            text.push('\n');
            text
        }
        Format::Human => human(&header, &explanation),
    })
}

struct Header<'a> {
    customer: &'a str,
    signal: &'a str,
    time: String,
    at: Option<&'a str>,
    via: Option<&'a str>,
}

/// The `where` of a rule stopped by it, and the values it read.
fn condition(v: &Verdict) -> Option<(&str, &[(String, Json)])> {
    match v {
        Verdict::WhereFalse { condition, values }
        | Verdict::Error {
            condition: Some(condition),
            values,
        } => Some((condition, values)),
        _ => None,
    }
}

fn names(list: &[String]) -> String {
    list.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reason code and the sentence for one rule.
fn why(c: &Considered, customer: &str) -> (&'static str, String) {
    match &c.verdict {
        Verdict::Fired {
            decisions,
            suppressed,
            excluded,
            move_dropped,
        } => {
            let mut s = format!(
                "fired: {decisions} decision{}",
                if *decisions == 1 { "" } else { "s" }
            );
            if *suppressed > 0 {
                s.push_str(&format!(
                    "; {suppressed} call{} dropped by `requires`",
                    if *suppressed == 1 { "" } else { "s" }
                ));
            }
            if *excluded > 0 {
                s.push_str(&format!(
                    "; {excluded} call{} dropped by `exclusive` for a higher-priority rule",
                    if *excluded == 1 { "" } else { "s" }
                ));
            }
            if *move_dropped {
                s.push_str("; its move was not made (no such edge from the stage, or another rule moved first)");
            }
            ("fired", s)
        }
        Verdict::WrongPlace { got, wanted } => (
            "place",
            format!(
                "not fired: the event is {}; the rule wants `at` {}",
                got.as_ref()
                    .map_or("at no place".to_string(), |p| format!("at `{p}`")),
                names(wanted)
            ),
        ),
        Verdict::WrongChannel { got, wanted } => (
            "channel",
            format!(
                "not fired: the event came {}; the rule wants `via` {}",
                got.as_ref()
                    .map_or("via no channel".to_string(), |c| format!("via `{c}`")),
                names(wanted)
            ),
        ),
        Verdict::NoEarlier { signal, within } => (
            "no_earlier",
            format!(
                "not fired: no `{signal}` within {} before this event",
                crate::time::format_duration(*within)
            ),
        ),
        Verdict::WrongStage { stage, wanted } => (
            "stage",
            format!(
                "not fired: {customer} is {}; the rule needs {}",
                stage
                    .as_ref()
                    .map_or("not in the journey".to_string(), |s| format!(
                        "in stage `{s}`"
                    )),
                names(wanted)
            ),
        ),
        Verdict::WhereFalse { .. } => ("where_false", "not fired: `where` is false".to_string()),
        Verdict::Error {
            condition: Some(_), ..
        } => (
            "error",
            "not fired: `where` could not be evaluated (division by zero or overflow)".to_string(),
        ),
        Verdict::Error { .. } => (
            "error",
            "not fired: an action's argument could not be computed (division by zero or overflow)"
                .to_string(),
        ),
        Verdict::Capped { count, per } => (
            "capped",
            format!(
                "not fired: capped, `limit {count} per {}` already reached",
                crate::time::format_duration(*per)
            ),
        ),
    }
}

fn decision_json(d: &crate::Decision) -> Json {
    serde_json::from_str(&d.to_json()).unwrap_or(Json::Null)
}

fn to_json(h: &Header<'_>, x: &Explanation) -> Json {
    let rules: Vec<Json> = x
        .rules
        .iter()
        .map(|c| {
            let (reason, sentence) = why(c, h.customer);
            let mut rule = json!({
                "rule": c.rule,
                "fired": matches!(c.verdict, Verdict::Fired { .. }),
                "reason": reason,
                "why": sentence,
            });
            if let Some((text, values)) = condition(&c.verdict) {
                rule["where"] = json!(text);
                rule["values"] = Json::Object(values.iter().cloned().collect());
            }
            rule
        })
        .collect();
    json!({
        "customer": h.customer,
        "signal": h.signal,
        "time": h.time,
        "at": h.at,
        "via": h.via,
        "stages": Json::Object(x.stages.iter().map(|(j, s)| (j.clone(), json!(s))).collect()),
        "timers": x.timers.iter().map(decision_json).collect::<Vec<_>>(),
        "rules": rules,
        "decisions": x.decisions.iter().map(decision_json).collect::<Vec<_>>(),
    })
}

fn human(h: &Header<'_>, x: &Explanation) -> String {
    let mut s = format!(
        "event `{}` for customer {} at {}",
        h.signal, h.customer, h.time
    );
    if let Some(at) = h.at {
        s.push_str(&format!(" at `{at}`"));
    }
    if let Some(via) = h.via {
        s.push_str(&format!(" via `{via}`"));
    }
    s.push('\n');
    for (journey, stage) in &x.stages {
        s.push_str(&format!(
            "  journey `{journey}`: {}\n",
            stage
                .as_ref()
                .map_or("not in it".to_string(), |st| format!("in stage `{st}`"))
        ));
    }
    if !x.timers.is_empty() {
        s.push_str("\ntimers due first:\n");
        for d in &x.timers {
            s.push_str(&format!("  {}\n", d.to_json()));
        }
    }
    s.push_str("\nrules of this signal, in decision order:\n");
    if x.rules.is_empty() {
        s.push_str("  (none)\n");
    }
    let width = x.rules.iter().map(|c| c.rule.len()).max().unwrap_or(0);
    for c in &x.rules {
        let (_, sentence) = why(c, h.customer);
        let mark = if matches!(c.verdict, Verdict::Fired { .. }) {
            "+"
        } else {
            "-"
        };
        s.push_str(&format!("  {mark} {:width$}  {sentence}\n", c.rule));
        if let Some((text, values)) = condition(&c.verdict) {
            s.push_str(&format!("      where {text}\n"));
            let seen: Vec<String> = values
                .iter()
                .map(|(k, v)| {
                    if v.is_null() {
                        format!("{k} is absent")
                    } else {
                        format!("{k} = {v}")
                    }
                })
                .collect();
            if !seen.is_empty() {
                s.push_str(&format!("      saw {}\n", seen.join(", ")));
            }
        }
    }
    s.push_str("\ndecisions:\n");
    if x.decisions.is_empty() {
        s.push_str("  (none)\n");
    }
    for d in &x.decisions {
        s.push_str(&format!("  {}\n", d.to_json()));
    }
    s
}
