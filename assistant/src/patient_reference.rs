//! Which patients a question names, so a question about someone else is never
//! answered from the open patient's record.
//!
//! A conversation is about one patient (the session's scope); the tools are given
//! that patient whatever the model says. So "What is the latest CRP of p-104?" asked
//! on p-7's page would silently get p-7's CRP. Before any tool is chosen, the
//! question's id-like words (letters, digits, `-` and `.`, with at least one digit:
//! FHIR id syntax) are read: one the store holds as a patient, or one written right
//! after "patient", that is not the open patient is a named other patient, and the
//! question is answered by saying so.

use journey::{JourneyStore, PatientId, StoreError};

/// At most this many words are looked up per question.
const MAX_LOOKUPS: usize = 8;

/// The words of `question` that could be patient ids, with whether each follows the
/// word "patient" (in order, each once).
fn id_like_words(question: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut after_patient = false;
    for raw in question.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.')) {
        let word = raw.trim_matches(|c| c == '.' || c == '-');
        if word.is_empty() {
            continue;
        }
        let is_id = word.len() <= 64 && word.chars().any(|c| c.is_ascii_digit());
        if is_id && !out.iter().any(|(w, _)| w == word) {
            out.push((word.to_owned(), after_patient));
        }
        after_patient = word.eq_ignore_ascii_case("patient");
    }
    out
}

/// A patient the question names who is not `open` (the first such), or `None`.
pub async fn other_patient_named(
    store: &JourneyStore,
    question: &str,
    open: Option<&PatientId>,
) -> Result<Option<PatientId>, StoreError> {
    for (word, after_patient) in id_like_words(question).into_iter().take(MAX_LOOKUPS) {
        let Some(id) = PatientId::new(word.as_str()) else { continue };
        if Some(&id) == open {
            continue;
        }
        if after_patient || store.has_patient(&id).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// What the assistant says instead of answering about `named`.
pub fn named_other_patient_text(named: &PatientId, open: Option<&PatientId>) -> String {
    match open {
        Some(open) => format!(
            "This question names patient {named}, but this conversation is about patient {open}; \
             RDT answers only about the open patient. Open {named}'s record to ask about them."
        ),
        None => format!("No patient is open: open patient {named}'s record (or pass --patient {named}) to ask about them."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_like_words_have_a_digit_and_remember_a_preceding_patient() {
        let words = id_like_words("Is the DAS28 of patient p-104 higher than 5.1 for 8f2e-11.x?");
        assert_eq!(
            words,
            [("DAS28".to_owned(), false), ("p-104".to_owned(), true), ("5.1".to_owned(), false), ("8f2e-11.x".to_owned(), false)]
        );
        assert!(id_like_words("What is the latest CRP?").is_empty());
    }

    #[test]
    fn the_text_names_both_patients() {
        let (named, open) = (PatientId::new("p-104").unwrap(), PatientId::new("p-7").unwrap());
        let text = named_other_patient_text(&named, Some(&open));
        assert!(text.contains("p-104") && text.contains("about patient p-7"), "{text}");
        assert!(named_other_patient_text(&named, None).contains("--patient p-104"));
    }
}
