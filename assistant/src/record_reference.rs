//! Whether a question is about the open patient's record or about what a term means.
//!
//! The definition step (a glossary term, answered with vetted text) must not take a
//! question about the patient's own values: "Is the ALT rising?" ranks the glossary's
//! ALT entry close to the lab tool, and a small model asked "is this a definition?"
//! says yes too often (docs/benchmarks/assistant.md). A question that points at the
//! record — a pronoun or "patient", a time word ("latest", "now"), a record word
//! ("readings", "tried"), or a yes/no question about "the" thing ("Is the ESR
//! raised?") — is the patient's; a definition question has none of these ("What
//! DAS28 counts as remission?"). English only, like the prompts.

use tools::vocabulary::words_of;

/// Words that point at one patient's record.
const RECORD_WORDS: &[&str] = &[
    // the patient
    "she", "he", "her", "his", "him", "hers", "they", "their", "them", "patient", "patients",
    // time in the record
    "current", "currently", "now", "latest", "last", "recent", "recently", "today", "still", "ever", "previous",
    "previously", "since", "ago",
    // the record itself
    "record", "recorded", "reading", "readings", "visit", "visits", "tried", "taking", "received", "had",
];

/// Openers of a yes/no question about a particular thing ("Is the ESR raised?").
const STATE_OPENERS: &[&str] = &["is", "are", "has", "have", "was", "were", "did", "does"];

/// Whether `question` asks about the open patient's record rather than what a term means.
pub fn refers_to_record(question: &str) -> bool {
    let words = words_of(question);
    let opener_the =
        matches!(words.as_slice(), [first, second, ..] if STATE_OPENERS.contains(&first.as_str()) && second == "the");
    opener_the || words.iter().any(|w| RECORD_WORDS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_questions_point_at_the_record() {
        for q in [
            "Is the ALT rising?",
            "Is the haemoglobin low?",
            "What is the latest CRP?",
            "What is the current disease activity category?",
            "How many DAS28 readings are in the record?",
            "How many flares did he have?",
            "Is the patient in remission?",
            "Has the ESR been falling?",
            "How many DMARDs has she tried?",
        ] {
            assert!(refers_to_record(q), "{q}");
        }
    }

    #[test]
    fn definition_questions_do_not() {
        for q in [
            "What is DAS28?",
            "What DAS28 counts as remission?",
            "How is a flare defined?",
            "What counts as a good EULAR response?",
            "What is a csDMARD?",
            "At what ALT level is methotrexate withheld?",
            "How does rituximab act?",
            "Is DAS28 a composite score?",
        ] {
            assert!(!refers_to_record(q), "{q}");
        }
    }
}
