//! Differential fuzzing: the fuzzer's bytes choose a program and an event
//! stream (`jrule::reference::gen`, one byte per choice, then a generator
//! seeded from the bytes), which run on the compiled engine, saved and
//! restored at random points, and on the reference interpreter. Any
//! difference in decisions, rejections or metrics panics with the program
//! and the events.
#![no_main]

use jrule::reference::{diff, gen};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let case = gen::case(&mut gen::Rng::from_bytes(data));
    if let Err(report) = diff::run(&case) {
        panic!("engine and reference differ\n{report}");
    }
});
