//! The soundness property: for any source, either the check reports an
//! error, or the program compiles and its engine runs without panicking.
//!
//! The bytes are one source, or two when they hold a NUL byte (split at
//! the first), so that programs spread over several files are covered. The
//! check must make a resolved program exactly when it reports no error, and
//! never report `jrule::internal` (a name it accepted but cannot resolve: a
//! checker bug); a resolved program must compile, and an engine running it
//! must process events of every declared signal and advance its clock far
//! ahead without panicking (see `common/sound.rs`).
#![no_main]

#[path = "common/sound.rs"]
mod sound;

use jrule::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sources = match data.iter().position(|&b| b == 0) {
        Some(at) => vec![
            Source::from_bytes("a.jr", data[..at].to_vec()),
            Source::from_bytes("b.jr", data[at + 1..].to_vec()),
        ],
        None => vec![Source::from_bytes("fuzz.jr", data.to_vec())],
    };
    sound::assert_sound(&sources);
});
