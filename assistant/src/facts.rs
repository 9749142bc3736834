//! The model's lead sentence against RDT's facts, and results as a follow-up prompt
//! reads them. RDT's own sentences of a result are the tool's ([`tools::Facts`],
//! stated by each tool from its typed output); what stays here is about the lead.
//!
//! - [`compact`], [`prompt_facts`]: the result cut for a follow-up choice
//!   (`AssistantConfig::follow_up`). Every prompt token costs about 12 ms on the
//!   default model (../shared/MODELS.md), so long lists keep their most recent items
//!   and say how many were left out. The grounding check still reads the full result.
//! - [`lead_sentence`]: the model's sentence as shown.
//! - [`contradicting_categories`], [`contradicts_verdict`], [`misstates_current_drugs`]:
//!   whether it states a flag, trend or category the facts do not, answers a yes/no
//!   question otherwise than the facts' verdict ([`tools::CategoryVerdict`]), or names
//!   the current drugs otherwise than the facts ([`tools::DrugFacts`]).
//! - [`cites_facts`], [`says_not_in_results`], [`says_too_few`], [`facts_address`]:
//!   whether it cites the facts, says they do not answer or that too few patients do, and whether they address the question at all.

use serde_json::{Map, Value};
use journey::clinical::Worse;
use tools::{CategoryVerdict, DrugFacts, Facts, ToolName};

/// Items kept per list in the answer prompt.
pub const ITEMS_IN_PROMPT: usize = 4;

/// `result` with every list cut to its last [`ITEMS_IN_PROMPT`] items (a note says
/// how many were left out) and the bookkeeping fields dropped.
pub fn compact(result: &Value) -> Value {
    match result {
        Value::Array(items) if items.len() > ITEMS_IN_PROMPT => {
            let cut = items.len() - ITEMS_IN_PROMPT;
            let mut kept: Vec<Value> = vec![Value::String(format!("({cut} earlier items not shown)"))];
            kept.extend(items[cut..].iter().map(compact));
            Value::Array(kept)
        }
        Value::Array(items) => Value::Array(items.iter().map(compact).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "loinc" | "rxnorm" | "stable_threshold_per_30_days" | "system"))
                .map(|(k, v)| (k.clone(), compact(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Many results as one JSON array for the answer prompt: `[{"tool": .., "result": ..}]`.
pub fn prompt_facts<'a>(results: impl IntoIterator<Item = (ToolName, &'a Value)>) -> String {
    let list: Vec<Value> = results
        .into_iter()
        .map(|(tool, r)| {
            let mut m = Map::new();
            m.insert("tool".into(), Value::String(tool.as_str().into()));
            m.insert("result".into(), compact(r));
            Value::Object(m)
        })
        .collect();
    Value::Array(list).to_string()
}

/// The categories `lead` states that RDT's sentences `facts` do not ("raised" beside
/// "flagged normal", "improving" beside "stable"), and those it denies that the facts
/// state ("not raised" beside "flagged high"): a small model answers a yes/no
/// question about a flag or a trend wrongly often enough (docs/benchmarks/assistant.md)
/// that such a lead is dropped. A word judging a move ("improved", "worse") states the
/// direction the measure's `worse` gives it (a haemoglobin that "improved" rose), and
/// none for a measure with no worse direction. Whole words, case-insensitive; a word
/// is denied when "not", "no", "never", "nor", "neither" or a "n't" word comes within the two
/// words before it.
pub fn contradicting_categories(lead: &str, facts: &str, worse: Option<Worse>) -> Vec<&'static str> {
    let lead_words = tools::vocabulary::words_of(without_answer_word(lead));
    let fact_words = tools::vocabulary::words_of(facts);
    let negated = |i: usize| negated_within(&lead_words, i, 2);
    let mut out: Vec<&'static str> = Vec::new();
    let fact_categories: Vec<&'static str> =
        (0..fact_words.len()).filter_map(|i| tools::vocabulary::category_at(&fact_words, i, worse)).collect();
    for i in 0..lead_words.len() {
        let Some(category) = tools::vocabulary::category_at(&lead_words, i, worse) else {
            continue;
        };
        // The facts state a category in any of its words ("lower (better)" is falling).
        let in_facts = fact_categories.contains(&category);
        if in_facts == negated(i) && !out.contains(&category) {
            out.push(category);
        }
    }
    out
}

/// `lead` without its opening "Yes," or "No," (a yes/no question's answer word, set
/// off by a comma, colon or dash): it denies nothing after it ("No, rising, not
/// falling." states rising).
fn without_answer_word(lead: &str) -> &str {
    let trimmed = lead.trim_start();
    for word in ["yes", "no"] {
        let Some(head) = trimmed.get(..word.len()) else { continue };
        let rest = &trimmed[word.len()..];
        if head.eq_ignore_ascii_case(word) && rest.starts_with([',', ':', ';', '-', '\u{2013}', '\u{2014}']) {
            return &rest[1..];
        }
    }
    lead
}

/// Whether `lead` answers yes where `verdict` says no, or no where it says yes: its
/// first word ("Yes, her ALT shifted." over a stable ALT). A lead not opening with yes
/// or no is judged by its categories ([`contradicting_categories`]).
pub fn contradicts_verdict(lead: &str, verdict: &CategoryVerdict) -> bool {
    let said = match tools::vocabulary::words_of(lead).first().map(String::as_str) {
        Some("yes") => true,
        Some("no") => false,
        _ => return false,
    };
    verdict.yes.is_some_and(|yes| yes != said)
}

/// Whether `words[i]` is denied: "not", "no", "never", "nor", "neither" or a "n't" word within
/// the `span` words before it.
fn negated_within(words: &[String], i: usize, span: usize) -> bool {
    words[i.saturating_sub(span)..i]
        .iter()
        .any(|w| matches!(w.as_str(), "not" | "no" | "never" | "nor" | "neither") || w.ends_with("n't"))
}

/// A drug as the lead checks compare it: the first word of its name, lower case
/// ("tofacitinib 5 mg" is "tofacitinib").
fn drug_key(name: &str) -> String {
    name.split_whitespace().next().unwrap_or_default().to_lowercase()
}

/// Words of a question that say nothing about what it asks for.
const GENERIC_WORDS: &[&str] = &[
    "what", "which", "when", "where", "who", "whom", "how", "many", "much", "does", "did", "have", "has", "had",
    "been", "the", "this", "that", "these", "those", "patient", "patients", "record", "latest", "last", "current",
    "currently", "right", "now", "today", "there", "their", "they", "with", "from", "about", "show", "tell", "give",
    "please", "her", "his", "him", "she", "are", "was", "were", "any", "some", "for", "and", "value", "level",
    "most", "recent", "ever", "yet", "still", "our", "can", "you", "its",
];

/// Whether RDT's sentences `facts` speak to `question`: one of its telling words (not
/// a question word, a pronoun or "patient") shares its first five letters with a word
/// of the facts ("active" and "activity", "flares" and "Flares"). A model's "the
/// record does not show this" is believed only when they do not (a blood type, a
/// birthplace against a summary); otherwise the facts are the answer.
pub fn facts_address(question: &str, facts: &str) -> bool {
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    let fact_stems: Vec<String> = tools::vocabulary::words_of(facts).iter().map(|w| stem(w)).collect();
    tools::vocabulary::words_of(question)
        .iter()
        .filter(|w| w.chars().count() >= 3 && !GENERIC_WORDS.contains(&w.as_str()))
        .any(|w| fact_stems.contains(&stem(w)))
}

/// Whether `lead` states something of `facts`: a word of three letters or more that
/// is not a question word (a drug, "CRP", "remission", "flares"), a category they
/// state in any of its words, or a number they hold. A
/// lead citing nothing ("The patient was born at the hospital where the record was
/// found.") is the model's own story and is dropped.
pub fn cites_facts(lead: &str, facts: &str) -> bool {
    use tools::vocabulary::category_of;
    let fact_words = tools::vocabulary::words_of(facts);
    // A category in other words than the facts' ("falling" for "is lower") cites them.
    let stated = |w: &str| category_of(w, None).is_some_and(|c| fact_words.iter().any(|f| category_of(f, None) == Some(c)));
    // A drug by its brand or abbreviation cites the facts' ingredient ("Actemra" for
    // tocilizumab): the terminology's one door from a word to a drug.
    let ingredient = |w: &str| {
        tools::drugs::by_word(w)
            .and_then(|d| d.name.split(' ').next())
            .is_some_and(|first| fact_words.iter().any(|f| f == first))
    };
    tools::vocabulary::words_of(lead).iter().any(|w| {
        let telling = w.chars().count() >= 3 && !GENERIC_WORDS.contains(&w.as_str());
        let number = w.chars().any(|c| c.is_ascii_digit());
        (telling || number) && (fact_words.contains(w) || stated(w) || ingredient(w))
    })
}

/// Words that ask about drugs taken before, not only the current ones.
const PAST_WORDS: &[&str] = &[
    "tried", "previous", "previously", "past", "stopped", "stop", "before", "history", "ever", "earlier", "courses",
    "course", "switched", "why",
];

/// Whether `lead` misstates the current drugs of `results` for a question about them:
/// it names as current a drug the results hold that is not ("The patient is on
/// tofacitinib and prednisone." beside "current drugs: tofacitinib", a past prednisone
/// course listed after), denies a current one ("not on methotrexate"), or, asked for
/// the current drugs with none named in the question, leaves one out. A question about
/// drugs tried, stopped or ever taken is not checked: its answer names past drugs.
/// Drug names compare on their first word, case-insensitive.
pub fn misstates_current_drugs<'a>(
    lead: &str,
    reading: &tools::reading::Reading,
    results: impl IntoIterator<Item = &'a Facts>,
) -> bool {
    let drugs: Vec<&DrugFacts> = results.into_iter().filter_map(|f| f.drugs.as_ref()).collect();
    let asked = &reading.words;
    // Whether a named drug, class or group was ever started: the lead answers for
    // that group ("Yes, tofacitinib" for a JAK inhibitor), not for every drug tried.
    // "Which DMARDs has she tried?" asks for the list: checked as drugs tried.
    let lists = asked.first().is_some_and(|w| matches!(w.as_str(), "which" | "what"));
    let group = reading.drug_group().filter(|g| **g != tools::reading::DrugGroup::Dmard);
    if reading.asks == tools::reading::Asks::Existence && group.is_some() && !lists {
        return false;
    }
    // How many drugs she has been through counts the drugs tried, not the current ones.
    let counts = reading.asks == tools::reading::Asks::Count;
    if counts || asked.iter().any(|w| PAST_WORDS.contains(&w.as_str())) {
        return misstates_tried_drugs(lead, asked, &drugs);
    }
    let keys = |names: &[String]| -> Vec<String> { names.iter().map(|n| drug_key(n)).collect() };
    let current: Vec<String> = drugs.iter().flat_map(|d| keys(&d.current)).collect();
    let known: Vec<String> =
        drugs.iter().flat_map(|d| keys(&d.current).into_iter().chain(keys(&d.courses))).collect();
    let said = tools::vocabulary::words_of(lead);
    let denied = |i: usize| negated_within(&said, i, 3);
    let mut named = false;
    for (i, word) in said.iter().enumerate() {
        if known.contains(word) {
            named = true;
            // "on prednisone" must be current; "not on prednisone" must not be.
            if current.contains(word) == denied(i) {
                return true;
            }
        }
    }
    // Asked for the current drugs (no drug named in the question): all of them.
    let asks_one = known.iter().any(|d| asked.contains(d));
    named && !asks_one && current.iter().any(|d| !said.contains(d))
}

/// For a question about drugs tried, naming none: a lead naming DMARDs must name every
/// DMARD the results list as tried ("The patient has tried tofacitinib." beside five).
fn misstates_tried_drugs(lead: &str, asked: &[String], drugs: &[&DrugFacts]) -> bool {
    let tried: Vec<String> = drugs.iter().flat_map(|d| d.dmards_tried.iter().map(|n| drug_key(n))).collect();
    let said = tools::vocabulary::words_of(lead);
    let names_some = tried.iter().any(|d| said.contains(d));
    let asks_one = tried.iter().any(|d| asked.contains(d));
    names_some && !asks_one && tried.iter().any(|d| !said.contains(d))
}

/// The model's lead as shown: its first line, cut after the last complete sentence
/// when generation stopped mid-sentence (the token cap), trimmed.
pub fn lead_sentence(draft: &str) -> String {
    let line = draft.trim().lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    if line.ends_with(['.', '?', '!']) {
        return line.to_owned();
    }
    // The last ". " (or "? ", "! "): a decimal point is never followed by a space.
    let ends = line.char_indices().zip(line.chars().skip(1)).filter(|((_, c), next)| {
        matches!(c, '.' | '?' | '!') && next.is_whitespace()
    });
    match ends.last() {
        Some(((i, _), _)) => line[..=i].to_owned(),
        None => line.to_owned(),
    }
}

/// What a lead over observational figures (the treatment options: similar patients
/// who chose each treatment, `tools::compare_treatments`) says to carry their caveat:
/// that the figures are of similar patients, not of this one.
const OBSERVATIONAL_HEDGES: &[&str] = &[
    "similar patients",
    "similar historical",
    "comparable patients",
    "historical patients",
    "patients like",
    "people like",
    "others like",
    "observational",
    "not randomised",
    "not randomized",
];

/// Words that state what will happen to the patient: a prediction, which figures of
/// similar patients who chose their treatment cannot support.
const PREDICTING_WORDS: &[&str] = &["will", "would", "won't", "wouldn't", "shall", "guarantees", "guaranteed"];

/// Whether `lead` carries the observational caveat in its own words: it speaks of
/// similar (or comparable, historical) patients or says the figures are observational,
/// and it predicts nothing for this patient ("she will respond", "he would do better").
/// A lead over the treatment options that does not is dropped: RDT's sentences, which
/// end with the caveat, are the answer.
pub fn carries_observational_caveat(lead: &str) -> bool {
    let lower = lead.to_lowercase();
    let hedged = OBSERVATIONAL_HEDGES.iter().any(|h| lower.contains(h));
    let words = tools::vocabulary::words_of(lead);
    let predicts = words.iter().any(|w| PREDICTING_WORDS.contains(&w.as_str()))
        || ["going to", "is expected to", "are expected to", "can expect"].iter().any(|p| lower.contains(p));
    hedged && !predicts
}

/// The categories a lead over the treatment options may use in comparing them, which
/// are no flag, trend or activity category of the record there: "did better", "a
/// moderate or good response" (EULAR), "improved".
pub const OPTION_COMPARISON_WORDS: &[&str] = &["rising", "falling", "stable", "moderate"];

/// Whether `lead` says there are too few comparable patients for a figure ("not
/// enough comparable patients", "too few similar patients"): what a lead must say when
/// every figure asked is withheld ([`tools::Facts::withholds_asked`]).
pub fn says_too_few(lead: &str) -> bool {
    let lower = lead.to_lowercase();
    ["not enough", "too few", "insufficient", "no comparable", "not sufficient"].iter().any(|p| lower.contains(p))
}

/// Whether a draft says the results do not hold the answer.
pub fn says_not_in_results(draft: &str) -> bool {
    let lower = draft.to_lowercase();
    [
        "does not show",
        "not mentioned",
        "not available",
        "not provided",
        "not recorded",
        "no information",
        "not in the record",
        "not included",
        "cannot be determined",
        "not shown",
        "not stated",
        "not specified",
        "not listed",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_options_lead_speaks_of_similar_patients_and_predicts_nothing() {
        assert!(carries_observational_caveat(
            "Among similar patients, 55% of those who started a TNF inhibitor responded at 6 months."
        ));
        assert!(carries_observational_caveat("Patients like him did best on a TNF inhibitor (observational)."));
        assert!(!carries_observational_caveat("A TNF inhibitor gives a 55% response at 6 months."), "no hedge");
        assert!(!carries_observational_caveat("Among similar patients, she would respond to a TNF inhibitor."));
        assert!(!carries_observational_caveat("Similar patients suggest he will respond."));
        assert!(!carries_observational_caveat("Among similar patients she is going to respond."));
    }

    #[test]
    fn a_lead_may_not_state_a_category_the_facts_do_not() {
        let facts = "Latest ESR of p: 23.0 mm/h on 2019-07-23, flagged normal. Trend over the last 365 days: stable (4 values).";
        let esr = Some(Worse::Higher);
        assert_eq!(contradicting_categories("Yes, the ESR is high and rising.", facts, esr), vec!["high", "rising"]);
        assert_eq!(contradicting_categories("The ESR is raised.", facts, esr), vec!["high"], "a synonym counts");
        assert_eq!(contradicting_categories("The ESR is improving.", facts, esr), vec!["falling"]);
        assert_eq!(contradicting_categories("The ESR is not normal.", facts, esr), vec!["normal"], "denying a fact");
        assert!(contradicting_categories("No, the ESR is not rising: it is stable at 23.0 mm/h.", facts, esr).is_empty());
        assert!(contradicting_categories("The ESR, 23.0 mm/h, is normal.", facts, esr).is_empty());
        assert!(contradicting_categories("The ESR isn't raised.", facts, esr).is_empty());
        assert!(contradicting_categories("The ESR is normal, neither high nor low.", facts, esr).is_empty());
        assert!(contradicting_categories("No, stable, not rising.", facts, esr).is_empty(), "an answer word denies nothing");
        assert_eq!(contradicting_categories("No rising trend; it is stable.", facts, esr), Vec::<&str>::new());
        assert_eq!(contradicting_categories("No, it is not stable.", facts, esr), vec!["stable"]);
        // "going down" states a trend, even where the facts say there are too few values.
        let few = "Latest CRP of p-1: 0.5 mg/L on 2021-02-16, flagged normal. Too few values for a trend.";
        assert_eq!(contradicting_categories("The CRP is going down over the last year.", few, esr), vec!["falling"]);
        // A haemoglobin that fell got worse: "improved" is a rise the facts do not state.
        let hb = "Against the value before it (13.1 g/dL on 2021-02-16), the latest (12.2 g/dL on 2021-07-26) is lower \
                  (worse), by 0.9 g/dL.";
        let hb_worse = Some(Worse::Lower);
        assert_eq!(contradicting_categories("Yes, her haemoglobin improved.", hb, hb_worse), vec!["rising"]);
        assert!(contradicting_categories("No, her haemoglobin got worse: it is lower.", hb, hb_worse).is_empty());
        assert!(contradicting_categories("Her rheumatoid factor improved.", facts, None).is_empty(), "no judgement");
        // A window is no flag.
        let cohort = "In silico cohort of p-1 at 2021-07-26: 20 most similar historical patients. flare within 6 \
                      months: 38% by Kaplan-Meier (6 events among 16 followed; 95% CI 19% to 65%) among similar patients.";
        assert!(contradicting_categories("38% of similar patients flare within 6 months.", cohort, None).is_empty());
        assert!(says_not_in_results("The patient's blood type is not mentioned in the provided information."));
        assert!(says_too_few("Among similar patients there are not enough comparable patients for a methotrexate response."));
        assert!(!says_too_few("Among the 20 most similar historical patients, 46% achieved a methotrexate response."));
    }

    /// A lead's yes or no is held to the facts' answer to a yes/no question.
    #[test]
    fn a_lead_answering_yes_or_no_is_held_to_the_verdict() {
        use tools::reading::Reading;
        use tools::{Aspect, Facts};
        let facts = Facts::in_parts(
            "Latest ALT of p-1: 22.0 U/L on 2021-07-26, flagged normal.".into(),
            vec![(Aspect::Trend, "Trend over the last 4 values: stable (4 values).".into())],
        );
        let verdict = facts.verdict(&Reading::of("Has her ALT shifted during her final four checks?")).unwrap();
        assert!(contradicts_verdict("Yes, her ALT shifted during her final four checks.", &verdict));
        assert!(!contradicts_verdict("No, her ALT has been stable over the last 4 values.", &verdict));
        assert!(!contradicts_verdict("Her ALT has been stable.", &verdict), "no yes or no: judged by categories");
        let either = facts.verdict(&Reading::of("Is her ALT going up or down?")).unwrap();
        assert!(!contradicts_verdict("No, it is stable.", &either), "an either/or question has no yes or no");
        assert!(says_not_in_results("The patient's blood type is not shown in the record."));
        assert!(!says_not_in_results("The latest CRP is 4.5 mg/L, flagged normal."));
    }

    /// A result's drugs, as a medication history (`dmards_tried` named) or a summary
    /// (none named) states them.
    fn drugs(current: &[&str], courses: &[&str], dmards_tried: &[&str]) -> Facts {
        let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect();
        Facts::stated(String::new()).with_drugs(DrugFacts {
            current: names(current),
            courses: names(courses),
            dmards_tried: names(dmards_tried),
        })
    }

    /// The check as the session calls it, over the question's reading.
    fn misstates<'a>(lead: &str, question: &str, results: impl IntoIterator<Item = &'a Facts>) -> bool {
        misstates_current_drugs(lead, &tools::reading::Reading::of(question), results)
    }

    #[test]
    fn a_lead_must_name_the_current_drugs_and_only_them() {
        let meds = drugs(&["tofacitinib 5 mg"], &["prednisone", "methotrexate", "tofacitinib 5 mg"], &[]);
        let r = [&meds];
        let q = "Which drugs is the patient on?";
        assert!(misstates("The patient is on tofacitinib and prednisone.", q, r));
        assert!(!misstates("The patient is on tofacitinib.", q, r));
        assert!(!misstates("Tofacitinib.", q, r));
        assert!(!misstates("The record shows one current drug.", q, r), "no drug named");
        let tried = "Which DMARDs has the patient tried?";
        assert!(!misstates("The patient has tried methotrexate and tofacitinib.", tried, r));
        let listed = drugs(&["tofacitinib 5 mg"], &[], &["methotrexate", "tofacitinib 5 mg"]);
        let r2 = [&listed];
        assert!(misstates("The patient has tried tofacitinib.", tried, r2), "one of two");
        // Asked whether a class was ever started, the lead answers for the class.
        assert!(!misstates("Yes, tofacitinib was started in 2019.", "Any JAK inhibitor in his history?", r2));
        assert!(!misstates("The patient has tried methotrexate and tofacitinib.", tried, r2));
        assert!(!misstates("Methotrexate was stopped for nausea.", "Why was methotrexate stopped?", r2));
        // Asked how many DMARDs, the lead names the ones tried, past ones too.
        let how_many = "DMARDs he has gone through - how many?";
        assert!(!misstates("He has tried 2 DMARDs, methotrexate and tofacitinib.", how_many, r2));
        assert!(misstates("He has tried 2 DMARDs, including tofacitinib.", how_many, r2), "one of two named");
        let both = drugs(&["folic acid", "methotrexate"], &[], &[]);
        let r = [&both];
        assert!(misstates("The current treatment is methotrexate.", "What is the current treatment?", r));
        let on_mtx = "Is the patient on methotrexate?";
        assert!(!misstates("Yes, the patient is on methotrexate.", on_mtx, r), "one drug asked");
        let on_pred = "Is the patient on prednisone?";
        let r = [&meds];
        assert!(!misstates("No, the patient is not on prednisone.", on_pred, r));
        assert!(misstates("Yes, the patient is on prednisone.", on_pred, r));
        let no_drugs = Facts::stated("Latest CRP of p: 4.5 mg/L.".into());
        assert!(!misstates("The patient is on prednisone.", q, [&no_drugs]), "no drugs stated");
    }

    #[test]
    fn facts_address_a_question_by_its_telling_words() {
        let das = "Latest DAS28 of p: 1.99 on 2021-08-11 (remission activity). Trend: stable. Flares: 2; readings: 20.";
        assert!(facts_address("How active is her rheumatoid arthritis right now?", das));
        assert!(facts_address("How many flares did he have?", das));
        let summary = "Patient p: female, 55 years at the last event; diagnoses: Rheumatoid arthritis; current drugs: \
                       methotrexate. Abnormal latest labs: 0.";
        assert!(!facts_address("What is the patient's blood type?", summary));
        assert!(!facts_address("In which hospital was the patient born?", summary));
        assert!(facts_address("Is the patient on methotrexate?", summary));
        assert!(cites_facts("The patient takes methotrexate.", summary));
        assert!(cites_facts("She is 55.", summary));
        assert!(!cites_facts("The patient was born at the hospital where the record was found.", summary));
        let change = "Against the value before it (13.1 g/dL on 2021-02-16), the latest (12.2 g/dL on 2021-07-26) is lower.";
        assert!(cites_facts("No, falling, not rising.", change), "a category in other words");
        let ever = "Ever started tocilizumab: no, never on record; current: methotrexate.";
        assert!(cites_facts("No Actemra on record.", ever), "a brand cites its ingredient");
        assert!(!cites_facts("No Humira on record.", ever), "another drug's brand does not");
    }

    #[test]
    fn a_lead_is_its_first_line_cut_at_a_whole_sentence() {
        assert_eq!(lead_sentence("  The CRP is 4.5 mg/L.\nMore text."), "The CRP is 4.5 mg/L.");
        assert_eq!(lead_sentence("The DAS28 is 2.16. It is in remission and the trend is"), "The DAS28 is 2.16.");
        assert_eq!(lead_sentence("The DAS28 is 2.16 and"), "The DAS28 is 2.16 and", "no whole sentence: as is");
        assert_eq!(lead_sentence(""), "");
    }

    use chrono::NaiveDate;
    use tools::das28::ActivityCategory;
    use tools::disease_activity::{CategoryCounts, Das28Point, DiseaseActivityHistory, DiseaseActivityOutput};
    use tools::explain_neighbourhood::{ExplainNeighbourhood, ExplainNeighbourhoodOutput, SharedTrait, SharedWhat};
    use tools::glossary::{Glossary, GlossaryOutput, Term};
    use tools::lab_trend::{FlagCounts, LabPoint, LabTrend, LabTrendOutput};
    use tools::record::Das28Variant;
    use tools::reference::{Flag, LabTest, ReferenceRange};
    use tools::similar_patients::{CohortOutcome, Figure, NeighbourOut, SimilarPatients, SimilarPatientsOutput};
    use tools::state_forecast::{HorizonChances, StateChance, StateForecast, StateForecastOutput, TreatmentClass};
    use tools::trend::{Trend, TrendFacts};
    use tools::{facts_of, Bounded, RecordText, Tool};

    use crate::grounding::{check, Sources};

    fn lab() -> Value {
        json!({"value": {"patient": "p-1", "test": "crp", "test_name": "C-reactive protein", "loinc": "1988-5",
            "reference_range": {"unit": "mg/L", "high": 5.0, "basis": "any"},
            "latest": {"date": "2023-05-02", "value": 12.4, "flag": "high"}, "window_days": 365,
            "trend": {"direction": "rising", "slope_per_30_days": 0.8, "n": 6, "stable_threshold_per_30_days": 0.5},
            "values": [1, 2, 3, 4, 5, 6]}, "truncated": false, "omitted": 0})
    }

    #[test]
    fn compact_keeps_recent_items_and_says_how_many_went() {
        let c = compact(&lab());
        assert_eq!(c["value"]["values"], json!(["(2 earlier items not shown)", 3, 4, 5, 6]));
        assert!(c["value"].get("loinc").is_none() && c["value"]["trend"].get("stable_threshold_per_30_days").is_none());
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a valid test date")
    }

    /// A tool's facts of `output` beside its bounded result as JSON, the grounding
    /// check's source.
    fn stated<T: Tool>(output: T::Output, truncated: bool) -> (Facts, Value) {
        let bounded = Bounded { value: output, truncated, omitted: if truncated { 2 } else { 0 } };
        (facts_of::<T>(&bounded), serde_json::to_value(&bounded).expect("an output serialises"))
    }

    fn trend(direction: Trend, n: usize) -> TrendFacts {
        TrendFacts {
            direction,
            slope_per_30_days: None,
            slope_interval_95: None,
            stable_threshold_per_30_days: 0.5,
            n,
            first: None,
            last: None,
        }
    }

    /// CRP 12.4 mg/L on 2023-05-02, flagged high, rising over 6 values (or no value).
    fn crp(latest: bool) -> LabTrendOutput {
        let point = LabPoint { date: date(2023, 5, 2), value: 12.4, flag: Flag::High, times_uln: None };
        let range = ReferenceRange {
            unit: "mg/L",
            low: None,
            high: Some(5.0),
            critical_low: None,
            critical_high: None,
            basis: "any".into(),
        };
        LabTrendOutput {
            patient: "p-1".into(),
            test: LabTest::Crp,
            test_name: if latest { "C-reactive protein" } else { "ALT" },
            loinc: "1988-5",
            reference_range: range,
            latest: latest.then(|| point.clone()),
            window_days: 365,
            last_n: None,
            trend: if latest { trend(Trend::Rising, 6) } else { trend(Trend::InsufficientData, 0) },
            flags_in_window: FlagCounts::default(),
            values: if latest { vec![point] } else { Vec::new() },
            values_in_window: usize::from(latest),
            values_in_record: usize::from(latest),
            values_in_other_units: 0,
            change: None,
        }
    }

    /// A template states only the result's own numbers, so it always passes the check.
    #[test]
    fn templates_are_grounded_by_construction() {
        let glossary = GlossaryOutput {
            term: Term::Das28,
            title: "DAS28 (Disease Activity Score, 28 joints)",
            definition: "Remission below 2.6.",
            source: "Prevoo 1995",
        };
        let latest = Das28Point {
            date: date(2022, 1, 3),
            das28: 3.41,
            variant: Das28Variant::Esr,
            category: ActivityCategory::Moderate,
            tjc28: None,
            sjc28: None,
            patient_global_vas: None,
        };
        let das = DiseaseActivityOutput {
            patient: "p-1".into(),
            latest: Some(latest.clone()),
            window_days: None,
            last_n: None,
            trend: trend(Trend::Falling, 9),
            categories_in_window: CategoryCounts::default(),
            flares: Vec::new(),
            flares_in_window: 1,
            readings: vec![latest],
            readings_in_window: 9,
            readings_in_record: 9,
            other_indices: Vec::new(),
            change: None,
        };
        let chance = |state, probability, low, high| StateChance { state, probability, low, high };
        let forecast = StateForecastOutput {
            patient: "p-1".into(),
            state_model_version: None,
            insufficient_data: None,
            as_of: Some(date(2023, 1, 5)),
            latest_das28: Some(4.2),
            latest_das28_date: Some(date(2023, 1, 5)),
            current_state: Some(ActivityCategory::Moderate),
            treatment: Some(TreatmentClass::Csdmard),
            horizons: vec![HorizonChances {
                days: 360,
                states: vec![
                    chance(ActivityCategory::Remission, 0.31, 0.22, 0.4),
                    chance(ActivityCategory::Moderate, 0.44, 0.35, 0.52),
                ],
            }],
            expected_days_in_state: Vec::new(),
            transitions_from_state: 12,
            model_patients: 400,
            assumption: "the current treatment continues",
        };
        let (forecast_facts, forecast) = stated::<StateForecast>(forecast, false);
        let (lab_facts, lab) = stated::<LabTrend>(crp(true), false);
        let (empty_facts, empty) = stated::<LabTrend>(crp(false), false);
        for (facts, r) in [
            (forecast_facts.clone(), forecast),
            (lab_facts.clone(), lab),
            stated::<Glossary>(glossary, false),
            stated::<DiseaseActivityHistory>(das, true),
            (empty_facts.clone(), empty),
        ] {
            assert!(check(&facts.text, &Sources::new([&r], "")).is_grounded(), "{}", facts.text);
        }
        assert!(lab_facts.text.contains("12.4 mg/L on 2023-05-02, flagged high"));
        let sentence = &forecast_facts.text;
        assert!(sentence.contains("in 360 days remission 0.31 (0.22 to 0.4)"), "{sentence}");
        assert!(empty_facts.nothing_found && !lab_facts.nothing_found);
    }

    /// The cohort tools' sentences: rates with n and interval, the refusal below the
    /// minimum n in words (no number made up), shared traits with counts and ratios.
    #[test]
    fn cohort_templates_state_figures_and_refusals_grounded() {
        let rate = |n, events, percent, low_percent, high_percent| Figure::Rate {
            n,
            events,
            percent,
            low_percent,
            high_percent,
        };
        let outcome = |outcome: &str, label: &str, similar_patients, population| CohortOutcome {
            outcome: outcome.into(),
            label: label.into(),
            similar_patients,
            pooled: None,
            pooled_withheld: None,
            population,
            snapshot_baseline_percent: None,
            snapshot_baseline_das28: None,
            twin_head: None,
            twin_head_withheld: None,
            disagreement: None,
        };
        let cohort = SimilarPatientsOutput {
            patient: "p-1".into(),
            index_date: date(2023, 2, 1),
            similar_patients_found: 20,
            min_n: 10,
            twin_version: "ab".into(),
            outcomes: vec![
                outcome("flare_6m", "flare within 6 months", rate(18, 5, 28, 12, 51), rate(400, 96, 24, 20, 28)),
                outcome(
                    "tnfi_response_6m",
                    "TNFi response at 6 months (EULAR good/moderate)",
                    Figure::NotEnoughComparablePatients { n: 3, min_n: 10 },
                    rate(40, 22, 55, 40, 69),
                ),
            ],
            neighbours: vec![NeighbourOut { pseudonym: "nb-1a2b".into(), distance: 0.012 }],
            method: "rates with 95% Wilson intervals",
            twin_head_unavailable: None,
            pooling_unavailable: None,
            head_reliability: vec![],
            audit: None,
            report: None,
        };
        let (facts, cohort) = stated::<SimilarPatients>(cohort, false);
        let text = facts.text.clone();
        assert!(check(&text, &Sources::new([&cohort], "")).is_grounded(), "{text}");
        assert!(text.contains("flare within 6 months among similar patients: 28% (5 of 18; 95% CI 12% to 51%)"), "{text}");
        assert!(text.contains("not enough comparable patients (n 3, minimum 10); in the whole population: 55%"), "{text}");
        assert_eq!(facts.withheld, [tools::Aspect::Outcome(tools::reading::OutcomeAsked::TnfiResponse)]);
        let shared = ExplainNeighbourhoodOutput {
            patient: "p-1".into(),
            index_date: date(2023, 2, 1),
            similar_patients_found: 20,
            population_snapshots: 400,
            shared: vec![
                SharedTrait {
                    what: SharedWhat::Drug { name: RecordText::bounded("adalimumab", 120) },
                    neighbours: 9,
                    neighbours_percent: 45,
                    population_percent: 10,
                    ratio: 4.5,
                },
                SharedTrait {
                    what: SharedWhat::Feature { name: "female" },
                    neighbours: 16,
                    neighbours_percent: 80,
                    population_percent: 70,
                    ratio: 1.1,
                },
            ],
            method: "counts over neighbours and population",
            audit: None,
        };
        let (facts, shared) = stated::<ExplainNeighbourhood>(shared, false);
        let text = facts.text;
        assert!(check(&text, &Sources::new([&shared], "")).is_grounded(), "{text}");
        assert!(text.contains("drug adalimumab (9 neighbours, 45% vs 10% of the population, 4.5 times"), "{text}");
        assert!(text.contains("feature female (16 neighbours"), "{text}");
    }
}
