//! [`Vocabulary`]: the words that mark a question as one tool's.
//!
//! The sentence encoder that narrows the tools (MiniLM) ranks by wording more than by
//! subject: "What is the current treatment?" lands nearer the cohort tool than the
//! medication history. A tool's domain words (lab names, drug names, "flare",
//! "similar patients") are a sharper signal, so retrieval adds a fixed boost to a tool
//! whose vocabulary the question uses, and drops a tool whose vocabulary is
//! *required* (the cohort tools need a question about other patients; the forecast
//! needs one about the future) when the question uses none of it.
//!
//! Matching is on whole words, case-insensitive; a phrase matches as consecutive
//! words. English only, like the prompts.

/// A tool's domain words and whether a question must use one for the tool to be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Vocabulary {
    /// Words or phrases (lower case; a phrase is words separated by single spaces).
    pub words: &'static [&'static str],
    /// Offer the tool only to questions that use one of `words`.
    pub required: bool,
}

impl Vocabulary {
    /// No vocabulary: ranked by the encoder alone.
    pub const NONE: Vocabulary = Vocabulary { words: &[], required: false };

    /// Words that raise the tool's rank when a question uses one.
    pub const fn boosting(words: &'static [&'static str]) -> Self {
        Vocabulary { words, required: false }
    }

    /// Words of which a question must use one for the tool to be offered at all.
    pub const fn required(words: &'static [&'static str]) -> Self {
        Vocabulary { words, required: true }
    }

    /// Whether `question` uses one of the words (whole words, case-insensitive).
    pub fn matches(&self, question: &str) -> bool {
        let asked = words_of(question);
        self.words.iter().any(|phrase| {
            let phrase: Vec<&str> = phrase.split(' ').collect();
            !phrase.is_empty() && asked.windows(phrase.len()).any(|w| w.iter().zip(&phrase).all(|(a, b)| a == b))
        })
    }
}

/// The question's words, lower case: letters, digits, `-` inside a word; a trailing
/// possessive `'s` dropped ("patient's" is "patient").
pub fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(|c| c == '-' || c == '\'' || c == '’'))
        .map(|w| w.strip_suffix("'s").or_else(|| w.strip_suffix("’s")).unwrap_or(w))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_and_phrases_case_insensitive() {
        let v = Vocabulary::boosting(&["alt", "similar patients", "disease-modifying"]);
        assert!(v.matches("Is the ALT rising?"));
        assert!(!v.matches("Is she on an alternative drug?"), "alt inside a word is not alt");
        assert!(v.matches("What share of similar patients responded?"));
        assert!(!v.matches("Are the patients similar?"), "a phrase is consecutive words");
        assert!(v.matches("How many disease-modifying drugs?"));
        assert!(!v.matches(""));
    }

    #[test]
    fn possessives_count_as_the_word() {
        assert_eq!(words_of("What is the patient's HLA-B27?"), vec!["what", "is", "the", "patient", "hla-b27"]);
        assert!(Vocabulary::required(&["patient"]).matches("The patient’s phone?"));
    }
}
