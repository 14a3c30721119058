//! Feeds arbitrary bytes to the parser and checker. Nothing may panic: not
//! checking, not the JSON form of the diagnostics, not rendering them as
//! `jrule check` does, nor as plain text (`Diagnostics::render`). For UTF-8 input, every diagnostic's spans (primary
//! and notes) must lie inside the text, on character boundaries.
#![no_main]

use jrule::{Source, Span};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let sources = [Source::from_bytes("fuzz.jr", data.to_vec())];
    let checked = jrule::check(&sources);
    let diagnostics = &checked.diagnostics;

    let _ = diagnostics.to_json(&sources);
    let _ = diagnostics.render(&sources);
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut rendered = String::new();
    for report in diagnostics.reports(&sources) {
        let _ = handler.render_report(&mut rendered, &report);
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(sources[0].text, text, "a UTF-8 source keeps its text");
    let inside = |span: &Span, what: &dyn Fn() -> String| {
        let (start, end) = (span.start as usize, span.end as usize);
        assert_eq!(
            span.file,
            0,
            "{}: span in an unknown file: {span:?}",
            what()
        );
        assert!(
            start <= end,
            "{}: span ends before it starts: {span:?}",
            what()
        );
        assert!(
            end <= text.len(),
            "{}: span past the end ({} bytes): {span:?}",
            what(),
            text.len()
        );
        assert!(
            text.is_char_boundary(start) && text.is_char_boundary(end),
            "{}: span splits a character: {span:?}",
            what()
        );
    };
    for d in diagnostics.iter() {
        inside(&d.span, &|| format!("{} {:?}", d.code, d.message));
        for (span, label) in &d.notes {
            inside(span, &|| {
                format!("{} {:?}, note {label:?}", d.code, d.message)
            });
        }
    }
});
