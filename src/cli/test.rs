//! `jrule test`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::testing::Outcome;
use crate::Program;

use super::{read_sources, FAILED, OK, TROUBLE};

/// Arguments of `jrule test`.
#[derive(Args, Debug)]
pub struct TestArgs {
    /// The program's files; the `test` blocks in them run.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Runs the program's tests; reports like a test runner on `out`.
pub fn run(args: &TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let sources = match read_sources(&args.files) {
        Ok(s) => s,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return TROUBLE;
        }
    };
    let program = match Program::compile(&sources) {
        Ok(compiled) => Arc::new(compiled.program),
        Err(e) => {
            let _ =
                err.write_all(super::check::render(&e.diagnostics, &e.sources, false).as_bytes());
            let _ = writeln!(err, "error: the program does not check");
            return TROUBLE;
        }
    };
    let checked = crate::check(&sources);
    let outcomes = crate::testing::run(&sources, &checked, &program);
    let _ = out.write_all(report(&outcomes).as_bytes());
    if outcomes.iter().all(|o| o.failure.is_none()) {
        OK
    } else {
        FAILED
    }
}

/// The report: one line per test, then each failure with a diff of the
/// decisions expected (`-`) and made (`+`), then a summary.
pub fn report(outcomes: &[Outcome]) -> String {
    let mut s = format!(
        "running {} test{}\n",
        outcomes.len(),
        if outcomes.len() == 1 { "" } else { "s" }
    );
    for o in outcomes {
        let verdict = if o.failure.is_none() { "ok" } else { "FAILED" };
        s.push_str(&format!("test {} ... {verdict}\n", o.name));
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.failure.is_some()).collect();
    if !failed.is_empty() {
        s.push_str("\nfailures:\n");
        for o in &failed {
            let Some(f) = &o.failure else { continue };
            s.push_str(&format!("\n---- {} ({}:{}) ----\n", o.name, o.file, o.line));
            s.push_str(&format!("{}:{}: {}\n", o.file, f.line, f.message));
            if !f.expected.is_empty() || !f.actual.is_empty() {
                s.push_str("decisions (- expected, + made):\n");
                for (sign, line) in super::diff::lines(&f.expected, &f.actual).unwrap_or_default() {
                    s.push_str(&format!("  {sign} {line}\n"));
                }
                if f.expected.is_empty() {
                    s.push_str("  (expected none)\n");
                }
                if f.actual.is_empty() {
                    s.push_str("  (none were made)\n");
                }
            }
        }
    }
    s.push_str(&format!(
        "\ntest result: {}. {} passed; {} failed\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        outcomes.len() - failed.len(),
        failed.len()
    ));
    s
}
