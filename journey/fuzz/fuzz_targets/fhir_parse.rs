//! Any bytes as a FHIR file, both layouts: the parser and every resource mapper must
//! answer with events or errors naming where, never panic.
#![no_main]

use journey::fhir::parse::{ndjson_lines, parse_document, parse_ndjson_block};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let source = journey::SourceName::default();
    let _ = parse_document(text, "fuzz.json", &source);
    let lines = ndjson_lines(text);
    let _ = parse_ndjson_block(text, &lines, "fuzz.ndjson", &source);
});
