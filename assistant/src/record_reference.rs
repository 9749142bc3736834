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

/// Whether `question` asks about the open patient's record rather than what a term
/// means. The word lists live with the question reader (`tools::reading`), whose
/// [`tools::reading::Reading::about_record`] the assistant routes by; this is the same
/// rule for a caller holding only the question.
pub use tools::reading::refers_to_record;

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
