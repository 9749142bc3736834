//! Any bytes as a ConceptMap upload: validated into mappings or refused naming the
//! element and field, never a panic.
#![no_main]

use journey::terminology::ConceptMapping;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ConceptMapping::parse("fuzz.json", data);
});
