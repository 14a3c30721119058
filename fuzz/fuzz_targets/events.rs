//! Feeds arbitrary bytes, as JSON Lines of events, to an engine running one
//! of the embedded programs (the first byte picks it: see `build.rs`).
//!
//! Each further line is an event, or:
//! - `~TIME` advances the clock to TIME (integer milliseconds or RFC 3339);
//! - `$` saves the state, checks that it reads back, restores and saves to
//!   the same text (also split and merged), and from then on runs a second
//!   engine restored from it next to the first: both must decide the same.
//!
//! Nothing may panic; a rejected event or advance leaves `save()` exactly as
//! it was; every decision serialises. At the end the clock advances 30 days
//! to fire the timers still pending.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

/// How far the clock moves at the end of the input.
const DRAIN: i64 = 30 * 86_400_000;

fuzz_target!(|data: &[u8]| {
    let Some((compiled, rest)) = common::pick(data) else {
        return;
    };
    let mut run = common::Checked::new(compiled.program.clone());
    for line in common::lines(rest) {
        match line[0] {
            b'~' => {
                if let Some(t) = common::time(&line[1..]) {
                    let _ = run.advance_to(t);
                }
            }
            b'$' if line.len() == 1 => run.checkpoint(),
            _ => {
                let _ = run.line(line);
            }
        }
    }
    if let Some(clock) = run.engine.clock() {
        let _ = run.advance_to(clock.saturating_add(DRAIN));
    }
    run.finish();
});
