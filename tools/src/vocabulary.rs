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

use journey::clinical::Worse;

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

/// The lab tests `text` names by their words (`LabTest::words`), in `LabTest::ALL`
/// order. A test's word with a plural "s" names it too ("the last 5 CRPs", "ESRs on
/// file").
pub fn lab_tests_named_in(text: &str) -> Vec<crate::LabTest> {
    let singular: Vec<String> = words_of(text)
        .into_iter()
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if crate::LabTest::ALL.iter().any(|t| t.words().contains(&stem)) => stem.to_owned(),
            _ => w,
        })
        .collect();
    let text = singular.join(" ");
    crate::LabTest::ALL.into_iter().filter(|t| Vocabulary::boosting(t.words()).matches(&text)).collect()
}

/// The look-back a question names, in days: "over the last two years" (730), "in the
/// past 6 months" (180), "this year" or "last year" (365). `None` when it names none,
/// so the tool's default window holds: a small model asked to fill `window_days`
/// writes short windows that drop the very readings asked about.
pub fn window_named_in(question: &str) -> Option<u32> {
    // Clinicians write months and weeks as fractions of a year: "3/12" is three
    // months, "6/52" six weeks ("higher than 3/12 ago?", "within 12/12").
    if let Some(days) = fraction_of_year_in(question) {
        return Some(days);
    }
    let words = words_of(question);
    // "six months ago", "a year earlier", "3 months back": the span before the latest.
    for (i, w) in words.iter().enumerate() {
        if !matches!(w.as_str(), "ago" | "earlier" | "before" | "back" | "prior") || i < 2 {
            continue;
        }
        if let (Some(n), Some(unit)) = (count_named(&words[i - 2]), unit_days(&words[i - 1])) {
            return Some(n * unit);
        }
    }
    for (i, w) in words.iter().enumerate() {
        if !matches!(w.as_str(), "last" | "past" | "this" | "previous" | "preceding" | "prior") {
            continue;
        }
        match (words.get(i + 1), words.get(i + 2)) {
            (Some(n), Some(unit)) if count_named(n).is_some() && unit_days(unit).is_some() => {
                return Some(count_named(n)? * unit_days(unit)?);
            }
            (Some(unit), _) if unit_days(unit).is_some() => return unit_days(unit),
            _ => {}
        }
    }
    None
}

/// A count before a unit of time: a number, or "a"/"one" ("a year ago", "one month").
fn count_named(word: &str) -> Option<u32> {
    if matches!(word, "a" | "one") { Some(1) } else { number_named(word) }
}

/// The time point a question names, in days: "at 9 months", "at one year", "a
/// year on", "day 270", "9/12"; `None` when it names none. What a cohort question
/// asks the DAS28 at ("mean DAS28 at 9 months?"), where a span asks a window.
pub fn time_point_named_in(question: &str) -> Option<u32> {
    if let Some(days) = fraction_of_year_in(question) {
        return Some(days);
    }
    let words = words_of(question);
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str);
        if w == "day" {
            if let Some(n) = next.and_then(number_named) {
                return Some(n);
            }
        }
        if let (Some(n), Some(unit)) = (count_named(w), next.and_then(unit_days)) {
            return Some(n * unit);
        }
    }
    None
}

/// The first "N/12" (months) or "N/52" (weeks) of `text`, in days; a date
/// ("3/12/2021") or a larger fraction is none.
fn fraction_of_year_in(text: &str) -> Option<u32> {
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('/') {
        let before = text[..i].chars().rev().take_while(char::is_ascii_digit).count();
        let after = text[i + 1..].chars().take_while(char::is_ascii_digit).count();
        let next = bytes.get(i + 1 + after).copied();
        let prev = i.checked_sub(before + 1).and_then(|j| bytes.get(j)).copied();
        if before == 0 || after == 0 || next == Some(b'/') || prev == Some(b'/') {
            continue;
        }
        let (Ok(n), denominator) = (text[i - before..i].parse::<u32>(), &text[i + 1..i + 1 + after]) else { continue };
        match denominator {
            "12" if (1..=12).contains(&n) => return Some(n * 30),
            "52" if (1..=52).contains(&n) => return Some(n * 7),
            _ => {}
        }
    }
    None
}

/// Days in a unit of time a question names ("day", "weeks", "month", "years").
fn unit_days(word: &str) -> Option<u32> {
    // With clinicians' abbreviations: "2 yrs", "6 mths", "3 wks".
    match word.trim_end_matches('s') {
        "day" | "d" => Some(1),
        "week" | "wk" => Some(7),
        "month" | "mo" | "mth" | "mnth" => Some(30),
        "year" | "yr" | "y" => Some(365),
        _ => None,
    }
}

/// Whether a word is a unit of time ("days", "week", "months", "year").
pub fn is_time_unit(word: &str) -> bool {
    unit_days(word).is_some()
}

/// The cohort size a question names: "the 10 most similar patients" (10), "thirty
/// nearest neighbours" (30). `None` when it names none or a size outside `range`, so
/// the tool's default holds: a small model asked to fill `k` writes one anyway
/// (docs/benchmarks/assistant.md: k 10 left a cohort too small for its rates).
pub fn cohort_size_named_in(question: &str, range: std::ops::RangeInclusive<usize>) -> Option<usize> {
    let words = words_of(question);
    let cohort_word = |w: &str| {
        matches!(
            w,
            "most" | "nearest" | "closest" | "similar" | "comparable" | "neighbours" | "neighbors" | "patients"
        )
    };
    words.iter().enumerate().find_map(|(i, w)| {
        let n = number_named(w)? as usize;
        let names_cohort = words[i + 1..].iter().take(2).any(|next| cohort_word(next));
        (names_cohort && range.contains(&n)).then_some(n)
    })
}

/// A count written in digits or as one of the words questions use ("six months",
/// "thirty nearest neighbours").
pub(crate) fn number_named(word: &str) -> Option<u32> {
    const WORDS: [(&str, u32); 16] = [
        ("one", 1), ("two", 2), ("three", 3), ("four", 4), ("five", 5), ("six", 6), ("seven", 7), ("eight", 8),
        ("nine", 9), ("ten", 10), ("twelve", 12), ("fifteen", 15), ("twenty", 20), ("thirty", 30), ("forty", 40),
        ("fifty", 50),
    ];
    WORDS.iter().find(|(w, _)| *w == word).map(|(_, n)| *n).or_else(|| word.parse().ok())
}

/// Words that state a categorical fact in RDT's sentences (a lab flag, a trend
/// direction, a DAS28 activity category), and the words a question or a model's lead
/// may say each with. The one list: the question reader reads what a yes/no question
/// asks with it ([`crate::Reading::categories_asked`]), the assistant's lead check what
/// a lead states. Words that judge a move ("improved", "worse") are not here: their
/// direction depends on the measure ([`JUDGED`]).
pub const CATEGORIES: &[(&str, &[&str])] = &[
    ("high", &["high", "raised", "elevated", "above"]),
    ("low", &["low", "below"]),
    // Not "within": "within 6 months" is a window, and "within normal limits" says
    // "normal" anyway.
    ("normal", &["normal"]),
    // A direction, over a window or from one value to the next ("higher" than the
    // previous one): the comparison's sentence states it in these words too.
    ("rising", &["rising", "increasing", "increased", "upward", "rose", "risen", "higher", "up", "climbing", "climbed"]),
    ("falling", &["falling", "decreasing", "decreased", "declining", "downward", "fell", "down", "lower", "dropped", "dropping"]),
    ("stable", &["stable", "unchanged", "steady"]),
    ("remission", &["remission"]),
    ("moderate", &["moderate"]),
];

/// The categories a trend's direction is stated in; the others state a level (a flag
/// or an activity category). A yes/no question about one kind is answered by the
/// facts' category of the same kind.
pub const DIRECTIONS: &[&str] = &["rising", "falling", "stable"];

/// A move in either direction, asked as such ("Has her ALT shifted?"): answered yes by
/// a rising or falling trend, no by a stable one. A category of questions only: a
/// lead's "changed" is no trend RDT states ("patients who changed treatment").
pub const CHANGED: &str = "changed";
const CHANGED_WORDS: &[&str] =
    &["changed", "changing", "shifted", "shifting", "moved", "fluctuated", "varied", "drift", "drifted", "drifting"];

/// Words that judge a move as better or worse, by which it is: the direction each
/// means is the measure's ([`journey::clinical::Worse`]: a falling DAS28 or CRP is
/// better, a falling haemoglobin worse).
pub const JUDGED: [(bool, &[&str]); 2] = [
    (true, &["better", "improving", "improved", "improve", "improvement", "calming", "settling", "settled"]),
    (false, &["worse", "worsening", "worsened", "deteriorating", "deteriorated"]),
];

/// The category `word` states, by [`CATEGORIES`]; for a word judging a move, by the
/// measure's worse direction (`None`: the word states no category).
pub fn category_of(word: &str, worse: Option<Worse>) -> Option<&'static str> {
    if let Some((category, _)) = CATEGORIES.iter().find(|(_, said)| said.contains(&word)) {
        return Some(category);
    }
    let better = JUDGED.iter().find(|(_, said)| said.contains(&word)).map(|(better, _)| *better)?;
    match (better, worse?) {
        (true, Worse::Higher) | (false, Worse::Lower) => Some("falling"),
        (true, Worse::Lower) | (false, Worse::Higher) => Some("rising"),
    }
}

/// The category a question's `word` asks after: [`category_of`], or [`CHANGED`].
pub fn category_asked_by(word: &str, worse: Option<Worse>) -> Option<&'static str> {
    category_of(word, worse).or_else(|| CHANGED_WORDS.contains(&word).then_some(CHANGED))
}

/// Verbs whose "up" or "down" is part of the verb and moves nothing: "ended up
/// switching", "followed up", "set up", "wrote down".
const PHRASAL_VERBS: &[&str] = &[
    "end", "ended", "ends", "ending", "follow", "followed", "following", "set", "pick", "picked", "show", "showed",
    "shown", "turn", "turned", "take", "took", "taken", "sum", "summed", "write", "wrote", "written", "break",
    "broke", "broken", "narrow", "narrowed", "shut", "look", "looked", "make", "made", "catch", "caught", "sign",
    "signed", "line", "lined", "check", "checked", "back", "backed", "hold", "held", "wind", "wound",
];

/// Whether `words[i]` is a particle of a phrasal verb ("ended up", "followed up") or
/// a bound ("up to 12 months"), not a direction.
fn is_particle(words: &[String], i: usize) -> bool {
    let word = words[i].as_str();
    if !matches!(word, "up" | "down") {
        return false;
    }
    let after_verb = i > 0 && PHRASAL_VERBS.contains(&words[i - 1].as_str());
    let bound = word == "up" && words.get(i + 1).is_some_and(|n| matches!(n.as_str(), "to" | "until"));
    after_verb || bound
}

/// The category `words[i]` states in its place: [`category_of`], except an "up" or
/// "down" that belongs to a verb or a bound ("ended up switching", "up to a year").
pub fn category_at(words: &[String], i: usize, worse: Option<Worse>) -> Option<&'static str> {
    if is_particle(words, i) {
        return None;
    }
    category_of(&words[i], worse)
}

/// The category a question's `words[i]` asks after: [`category_asked_by`], with
/// [`category_at`]'s particles left out.
pub fn category_asked_at(words: &[String], i: usize, worse: Option<Worse>) -> Option<&'static str> {
    if is_particle(words, i) {
        return None;
    }
    category_asked_by(&words[i], worse)
}

/// The question's words, lower case: letters, digits, `-` inside a word; a trailing
/// possessive `'s` dropped ("patient's" is "patient").
pub fn words_of(text: &str) -> Vec<String> {
    // "%" is a word ("what % of similar patients"), not punctuation.
    text.to_lowercase()
        .replace('%', " percent ")
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

    /// A time point named every way a clinician writes it.
    #[test]
    fn time_points_are_read_in_days() {
        assert_eq!(time_point_named_in("Matched cohort, mean DAS28 at 9 months?"), Some(270));
        assert_eq!(time_point_named_in("Where did their DAS28 land at one year?"), Some(365));
        assert_eq!(time_point_named_in("DAS28 at day 150 in similar patients?"), Some(150));
        assert_eq!(time_point_named_in("Similar pts DAS28 at 12/12?"), Some(360));
        assert_eq!(time_point_named_in("How did similar patients fare?"), None);
    }

    /// Months and weeks as fractions of a year; dates and other fractions are none.
    #[test]
    fn fractions_of_a_year_are_spans() {
        assert_eq!(window_named_in("ALT: higher than 3/12 ago?"), Some(90));
        assert_eq!(window_named_in("Flares within 6/52?"), Some(42));
        assert_eq!(window_named_in("Switched within 12/12?"), Some(360));
        assert_eq!(window_named_in("Seen on 3/12/2021?"), None, "a date");
        assert_eq!(window_named_in("A ratio of 1/2?"), None);
    }

    /// "up" and "down" of a phrasal verb or a bound are no direction; moved, they are.
    #[test]
    fn particles_are_not_directions() {
        let at = |text: &str, word: &str| {
            let words = words_of(text);
            let i = words.iter().position(|w| w == word).unwrap();
            category_at(&words, i, None)
        };
        assert_eq!(at("25% ended up switching within 12 months", "up"), None);
        let words = words_of("Followed up for up to a year");
        assert_eq!(words.iter().filter(|w| *w == "up").count(), 2);
        assert!((0..words.len()).all(|i| category_at(&words, i, None).is_none()), "a bound and a particle");
        assert_eq!(at("She was followed up in clinic", "up"), None);
        assert_eq!(at("Her CRP went up", "up"), Some("rising"));
        assert_eq!(at("The ESR has come down", "down"), Some("falling"));
        assert_eq!(at("Is the CRP up or down?", "up"), Some("rising"));
        let words = words_of("Did she end up on a biologic?");
        assert!((0..words.len()).all(|i| category_asked_at(&words, i, None).is_none()));
    }

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
    fn look_backs_in_days() {
        assert_eq!(window_named_in("How has creatinine changed over the last two years?"), Some(730));
        assert_eq!(window_named_in("Is the CRP going up or down over the last year?"), Some(365));
        assert_eq!(window_named_in("Any flares in the past 6 months?"), Some(180));
        assert_eq!(window_named_in("What is the latest CRP?"), None);
        assert_eq!(window_named_in("What was the last DAS28 score?"), None);
    }

    #[test]
    fn cohort_sizes_named_in_words_or_digits() {
        assert_eq!(cohort_size_named_in("How did the 10 most similar patients do?", 5..=50), Some(10));
        assert_eq!(cohort_size_named_in("Among the thirty nearest neighbours, who flared?", 5..=50), Some(30));
        assert_eq!(cohort_size_named_in("Did similar patients respond to methotrexate?", 5..=50), None);
        assert_eq!(cohort_size_named_in("How often do patients flare within 6 months?", 5..=50), None);
        assert_eq!(cohort_size_named_in("What did the 500 most similar patients do?", 5..=50), None, "out of range");
    }

    #[test]
    fn possessives_count_as_the_word() {
        assert_eq!(words_of("What is the patient's HLA-B27?"), vec!["what", "is", "the", "patient", "hla-b27"]);
        assert!(Vocabulary::required(&["patient"]).matches("The patient’s phone?"));
    }
}
