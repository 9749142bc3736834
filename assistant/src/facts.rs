//! Tool results as the model reads them, and as RDT states them itself.
//!
//! - [`compact`]: the result cut for a follow-up choice (`AssistantConfig::follow_up`).
//!   Every prompt token costs about 12 ms on the default model (../shared/MODELS.md),
//!   so long lists keep their most recent items and say how many were left out. The
//!   grounding check still reads the full result.
//! - [`fact_template`]: the product's own wording of a result: what the model's lead
//!   sentence is written from, and what follows it in every answer. Deterministic,
//!   built from the result's fields only, so every number it states is grounded by
//!   construction.
//! - [`lead_sentence`], [`contradicting_categories`]: the model's sentence as shown,
//!   and whether it states a flag, trend or category the facts do not.
//! - [`finds_nothing`]: whether a result holds no fact at all (no value of the test,
//!   no DAS28 reading, no course), so the loop says so without asking the model.

use serde_json::{Map, Value};
use tools::ToolName;

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

/// The `value` of a `Bounded` result.
fn value_of(result: &Value) -> &Value {
    result.get("value").unwrap_or(result)
}

/// Whether the tool found nothing to state.
pub fn finds_nothing(tool: ToolName, result: &Value) -> bool {
    let v = value_of(result);
    match tool {
        ToolName::LabTrend | ToolName::DiseaseActivityHistory => v.get("latest").is_none_or(Value::is_null),
        ToolName::MedicationHistory => v.get("courses_in_record").and_then(Value::as_u64) == Some(0),
        _ => false,
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.replace('_', " ")),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn names(v: &Value, key: &str) -> String {
    let list: Vec<String> = v
        .get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

/// RDT's own sentence(s) for one result.
pub fn fact_template(tool: ToolName, result: &Value) -> String {
    let v = value_of(result);
    let patient = text(v, "patient").unwrap_or_default();
    let mut out = match tool {
        ToolName::LabTrend => lab_sentence(v, &patient),
        ToolName::DiseaseActivityHistory => das28_sentence(v, &patient),
        ToolName::MedicationHistory => medication_sentence(v, &patient),
        ToolName::PatientSummary => summary_sentence(v, &patient),
        ToolName::StateForecast => forecast_sentence(v, &patient),
        ToolName::SimilarPatients => cohort_sentence(v, &patient),
        ToolName::ExplainNeighbourhood => neighbourhood_sentence(v, &patient),
        ToolName::Glossary => format!(
            "{}: {} (Source: {}.)",
            text(v, "title").unwrap_or_default(),
            v.get("definition").and_then(Value::as_str).unwrap_or_default(),
            v.get("source").and_then(Value::as_str).unwrap_or_default()
        ),
        // Tools without a sentence of their own: their top-level facts, as written.
        _ => generic_sentence(tool, v),
    };
    if result.get("truncated").and_then(Value::as_bool) == Some(true) {
        out.push_str(" (The list was shortened.)");
    }
    out
}

/// The state model's chance of each DAS28 state at the last horizon, with intervals.
fn forecast_sentence(v: &Value, patient: &str) -> String {
    if let Some(reason) = v.get("insufficient_data").and_then(Value::as_str) {
        return format!("No state-model forecast for {patient}: {reason}.");
    }
    let Some(last) = v.get("horizons").and_then(Value::as_array).and_then(|h| h.last()) else {
        return format!("No state-model forecast for {patient}.");
    };
    let states: Vec<String> = last["states"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|s| {
                    format!(
                        "{} {} ({} to {})",
                        text(s, "state").unwrap_or_default(),
                        text(s, "probability").unwrap_or_default(),
                        text(s, "low").unwrap_or_default(),
                        text(s, "high").unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "State-model forecast for {patient} from DAS28 {} on {} ({}), {} continued: in {} days {}.",
        text(v, "latest_das28").unwrap_or_default(),
        text(v, "latest_das28_date").unwrap_or_default(),
        text(v, "current_state").unwrap_or_default(),
        text(v, "treatment").unwrap_or_default(),
        text(last, "days").unwrap_or_default(),
        states.join(", ")
    )
}

/// One figure of a cohort outcome: "45% (9 of 20; 95% CI 26% to 66%)", a mean with
/// its interval, or "not enough comparable patients (n 4, minimum 10)".
fn figure_text(f: &Value) -> String {
    let t = |k: &str| text(f, k).unwrap_or_default();
    match f.get("kind").and_then(Value::as_str) {
        Some("rate") => format!(
            "{}% ({} of {}; 95% CI {}% to {}%)",
            t("percent"),
            t("events"),
            t("n"),
            t("low_percent"),
            t("high_percent")
        ),
        Some("mean") => format!("{} (n {}; 95% CI {} to {})", t("mean"), t("n"), t("low"), t("high")),
        _ => format!("not enough comparable patients (n {}, minimum {})", t("n"), t("min_n")),
    }
}

/// The in silico cohort: each outcome over the similar patients beside the population.
fn cohort_sentence(v: &Value, patient: &str) -> String {
    let outcomes: Vec<String> = v
        .get("outcomes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|o| {
            format!(
                "{}: {} among similar patients, population {}",
                o.get("label").and_then(Value::as_str).unwrap_or_default(),
                figure_text(&o["similar_patients"]),
                figure_text(&o["population"])
            )
        })
        .collect();
    format!(
        "In silico cohort of {patient} at {}: {} most similar historical patients. {}.",
        text(v, "index_date").unwrap_or_default(),
        text(v, "similar_patients_found").unwrap_or_default(),
        outcomes.join("; ")
    )
}

/// What the neighbours share, with counts and ratios.
fn neighbourhood_sentence(v: &Value, patient: &str) -> String {
    let shared: Vec<String> = v
        .get("shared")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let name = s["name"].get("record_text").and_then(Value::as_str).or_else(|| s["name"].as_str());
            format!(
                "{} {} ({} neighbours, {}% vs {}% of the population, {} times as common)",
                text(s, "kind").unwrap_or_default(),
                name.unwrap_or_default(),
                text(s, "neighbours").unwrap_or_default(),
                text(s, "neighbours_percent").unwrap_or_default(),
                text(s, "population_percent").unwrap_or_default(),
                text(s, "ratio").unwrap_or_default()
            )
        })
        .collect();
    let found = text(v, "similar_patients_found").unwrap_or_default();
    if shared.is_empty() {
        return format!(
            "The {found} most similar historical patients of {patient} share nothing more often than the population does."
        );
    }
    format!(
        "What the {found} most similar historical patients of {patient} share more than the population: {}.",
        shared.join("; ")
    )
}

fn generic_sentence(tool: ToolName, v: &Value) -> String {
    let facts: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, x)| match x {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                Some(format!("{}: {}", k.replace('_', " "), text(v, k)?))
            }
            _ => None,
        })
        .collect();
    format!("{} found: {}.", tool.as_str().replace('_', " "), facts.join("; "))
}

fn lab_sentence(v: &Value, patient: &str) -> String {
    let name = text(v, "test_name").unwrap_or_else(|| "this test".into());
    let unit = v["reference_range"].get("unit").and_then(Value::as_str).unwrap_or_default();
    let Some(latest) = v.get("latest").filter(|l| !l.is_null()) else {
        return format!("The record of {patient} has no {name} value.");
    };
    let mut s = format!(
        "Latest {name} of {patient}: {} {unit} on {}, flagged {}.",
        text(latest, "value").unwrap_or_default(),
        text(latest, "date").unwrap_or_default(),
        text(latest, "flag").unwrap_or_default()
    );
    let trend = &v["trend"];
    let direction = text(trend, "direction").unwrap_or_default();
    if direction != "insufficient data" && !direction.is_empty() {
        s.push_str(&format!(
            " Trend over the last {} days: {direction} ({} values).",
            text(v, "window_days").unwrap_or_default(),
            text(trend, "n").unwrap_or_default()
        ));
    } else {
        s.push_str(" Too few values for a trend.");
    }
    s
}

fn das28_sentence(v: &Value, patient: &str) -> String {
    let Some(latest) = v.get("latest").filter(|l| !l.is_null()) else {
        return format!("The record of {patient} has no DAS28 reading.");
    };
    let mut s = format!(
        "Latest DAS28 of {patient}: {} on {} ({} activity).",
        text(latest, "das28").unwrap_or_default(),
        text(latest, "date").unwrap_or_default(),
        text(latest, "category").unwrap_or_default()
    );
    if let Some(direction) = text(&v["trend"], "direction").filter(|d| d != "insufficient data") {
        s.push_str(&format!(" Trend: {direction}."));
    }
    s.push_str(&format!(
        " Flares: {}; readings in the record: {}.",
        text(v, "flares_in_window").unwrap_or_else(|| "0".into()),
        text(v, "readings_in_record").unwrap_or_default()
    ));
    s
}

fn summary_sentence(v: &Value, patient: &str) -> String {
    let diagnoses: Vec<String> = v
        .get("diagnoses")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter_map(|x| {
                    x.get("display").and_then(|t| t.get("record_text")).and_then(Value::as_str).map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut s = format!(
        "Patient {patient}: {}, {} years at the last event; diagnoses: {}; current drugs: {}; DMARDs tried: {}.",
        text(v, "sex").unwrap_or_else(|| "sex unknown".into()),
        text(v, "age_at_last_event").unwrap_or_else(|| "age unknown".into()),
        if diagnoses.is_empty() { "none recorded".into() } else { diagnoses.join(", ") },
        names(v, "current_medications"),
        text(v, "dmards_tried").unwrap_or_default()
    );
    if let Some(d) = v.get("latest_das28").filter(|d| !d.is_null()) {
        s.push_str(&format!(
            " Latest DAS28: {} on {} ({}).",
            text(d, "das28").unwrap_or_default(),
            text(d, "date").unwrap_or_default(),
            text(d, "category").unwrap_or_default()
        ));
    }
    let abnormal: Vec<String> = v
        .get("latest_labs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|l| l.get("flag").and_then(Value::as_str).is_some_and(|f| f != "normal"))
        .map(|l| {
            format!(
                "{} {} {} {}",
                lab_name(&text(l, "test").unwrap_or_default()),
                text(l, "value").unwrap_or_default(),
                text(l, "unit").unwrap_or_default(),
                text(l, "flag").unwrap_or_default()
            )
        })
        .collect();
    s.push_str(&format!(" Abnormal latest labs: {}", text(v, "latest_labs_abnormal").unwrap_or_else(|| "0".into())));
    if !abnormal.is_empty() {
        s.push_str(&format!(" ({})", abnormal.join(", ")));
    }
    s.push('.');
    if let Some(note) = v.get("latest_note").filter(|n| !n.is_null()) {
        // Quoted as the record wrote it: data, never instructions (system prompt rule 4).
        let quoted = note["text"].get("record_text").and_then(Value::as_str).unwrap_or_default();
        let date = text(note, "date").unwrap_or_default();
        s.push_str(&format!(" Latest note, {date}, quoted from the record: \"{quoted}\""));
        if note["text"].get("omitted_chars").and_then(Value::as_u64).is_some_and(|n| n > 0) {
            s.push_str(" (shortened)");
        }
        s.push('.');
    }
    s
}

/// A lab's name as clinicians write it: short codes upper case ("crp" is "CRP").
fn lab_name(test: &str) -> String {
    if test.len() <= 4 {
        test.to_uppercase()
    } else {
        test.to_owned()
    }
}

/// Current drugs, DMARDs tried, and the most recent courses with their dates, stop
/// reasons (quoted from the record) and EULAR response at 6 months.
fn medication_sentence(v: &Value, patient: &str) -> String {
    let tried = match names(v, "dmards").as_str() {
        "none" => String::new(),
        list => format!(" ({list})"),
    };
    let mut s = format!(
        "Medication history of {patient}: current drugs: {}; DMARDs tried: {}{tried}; courses in the record: {}.",
        names(v, "current"),
        text(v, "dmards_tried").unwrap_or_else(|| "unknown".into()),
        text(v, "courses_in_record").unwrap_or_else(|| "unknown".into()),
    );
    let courses: Vec<&Value> = v.get("courses").and_then(Value::as_array).into_iter().flatten().collect();
    let recent = &courses[courses.len().saturating_sub(ITEMS_IN_PROMPT)..];
    let described: Vec<String> = recent
        .iter()
        .map(|c| {
            let drug = text(c, "drug").unwrap_or_default();
            let start = text(c, "start").unwrap_or_default();
            let mut d = match (text(c, "stop"), text(c, "duration_days")) {
                (Some(stop), Some(days)) => format!("{drug} {start} to {stop} ({days} days)"),
                (Some(stop), None) => format!("{drug} {start} to {stop}"),
                (None, _) => format!("{drug} since {start} (ongoing)"),
            };
            if let Some(reason) = c.get("stop_reason").and_then(|r| r.get("record_text")).and_then(Value::as_str) {
                d.push_str(&format!(", stop reason quoted from the record: \"{reason}\""));
            }
            if let Some(r) = c.get("eular_response_6m").filter(|r| !r.is_null()) {
                d.push_str(&format!(", EULAR response at 6 months: {}", text(r, "response").unwrap_or_default()));
            }
            d
        })
        .collect();
    if !described.is_empty() {
        let which = if recent.len() < courses.len() { "most recent courses" } else { "courses" };
        s.push_str(&format!(" {}: {}.", capitalised(which), described.join("; ")));
    }
    s
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
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

/// Words that state a categorical fact in RDT's sentences (a lab flag, a trend
/// direction, a DAS28 activity category), and the words a lead may say each with.
/// "Improving" is read as falling and "worsening" as rising, as for DAS28, CRP and
/// ESR; for a lab where falling is worse (haemoglobin) that drops a right lead, which
/// costs only the lead: RDT's sentences still state the trend.
const CATEGORIES: &[(&str, &[&str])] = &[
    ("high", &["high", "raised", "elevated", "above"]),
    ("low", &["low", "below"]),
    ("normal", &["normal", "within"]),
    ("rising", &["rising", "increasing", "worsening", "worse", "upward", "rose", "risen"]),
    ("falling", &["falling", "decreasing", "improving", "improved", "better", "declining", "downward", "fell"]),
    ("stable", &["stable", "unchanged", "steady"]),
    ("remission", &["remission"]),
    ("moderate", &["moderate"]),
];

/// The categories `lead` states that RDT's sentences `facts` do not ("raised" beside
/// "flagged normal", "improving" beside "stable"), and those it denies that the facts
/// state ("not raised" beside "flagged high"): a small model answers a yes/no
/// question about a flag or a trend wrongly often enough (docs/benchmarks/assistant.md)
/// that such a lead is dropped. Whole words, case-insensitive; a word is denied when
/// "not", "no", "never", "nor" or a "n't" word comes within the two words before it.
pub fn contradicting_categories(lead: &str, facts: &str) -> Vec<&'static str> {
    let lead_words = tools::vocabulary::words_of(lead);
    let fact_words = tools::vocabulary::words_of(facts);
    let negated = |i: usize| negated_within(&lead_words, i, 2);
    let mut out: Vec<&'static str> = Vec::new();
    for (i, word) in lead_words.iter().enumerate() {
        let Some((category, _)) = CATEGORIES.iter().find(|(_, said)| said.contains(&word.as_str())) else {
            continue;
        };
        let in_facts = fact_words.iter().any(|f| f == category);
        if in_facts == negated(i) && !out.contains(category) {
            out.push(category);
        }
    }
    out
}

/// Whether `words[i]` is denied: "not", "no", "never", "nor" or a "n't" word within
/// the `span` words before it.
fn negated_within(words: &[String], i: usize, span: usize) -> bool {
    words[i.saturating_sub(span)..i]
        .iter()
        .any(|w| matches!(w.as_str(), "not" | "no" | "never" | "nor") || w.ends_with("n't"))
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
/// is not a question word (a drug, "CRP", "remission", "flares") or a number they hold. A
/// lead citing nothing ("The patient was born at the hospital where the record was
/// found.") is the model's own story and is dropped.
pub fn cites_facts(lead: &str, facts: &str) -> bool {
    let fact_words = tools::vocabulary::words_of(facts);
    tools::vocabulary::words_of(lead).iter().any(|w| {
        let telling = w.chars().count() >= 3 && !GENERIC_WORDS.contains(&w.as_str());
        let number = w.chars().any(|c| c.is_ascii_digit());
        (telling || number) && fact_words.contains(w)
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
    question: &str,
    results: impl IntoIterator<Item = (ToolName, &'a Value)>,
) -> bool {
    let asked = tools::vocabulary::words_of(question);
    if asked.iter().any(|w| PAST_WORDS.contains(&w.as_str())) {
        return misstates_tried_drugs(lead, &asked, results);
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(Value::as_str).map(drug_key).collect()
    };
    let (mut current, mut known): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for (tool, result) in results {
        let v = value_of(result);
        let list = match tool {
            ToolName::MedicationHistory => &v["current"],
            ToolName::PatientSummary => &v["current_medications"],
            _ => continue,
        };
        current.extend(strings(list));
        known.extend(strings(list));
        let courses = v.get("courses").and_then(Value::as_array).into_iter().flatten();
        known.extend(courses.filter_map(|c| c.get("drug").and_then(Value::as_str)).map(drug_key));
    }
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
fn misstates_tried_drugs<'a>(
    lead: &str,
    asked: &[String],
    results: impl IntoIterator<Item = (ToolName, &'a Value)>,
) -> bool {
    let tried: Vec<String> = results
        .into_iter()
        .filter(|(tool, _)| *tool == ToolName::MedicationHistory)
        .flat_map(|(_, r)| value_of(r)["dmards"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d.as_str().map(drug_key))
        .collect();
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
    fn a_lead_may_not_state_a_category_the_facts_do_not() {
        let facts = "Latest ESR of p: 23.0 mm/h on 2019-07-23, flagged normal. Trend over the last 365 days: stable (4 values).";
        assert_eq!(contradicting_categories("Yes, the ESR is high and rising.", facts), vec!["high", "rising"]);
        assert_eq!(contradicting_categories("The ESR is raised.", facts), vec!["high"], "a synonym counts");
        assert_eq!(contradicting_categories("The disease activity is improving.", facts), vec!["falling"]);
        assert_eq!(contradicting_categories("The ESR is not normal.", facts), vec!["normal"], "denying a fact");
        assert!(contradicting_categories("No, the ESR is not rising: it is stable at 23.0 mm/h.", facts).is_empty());
        assert!(contradicting_categories("The ESR, 23.0 mm/h, is normal.", facts).is_empty());
        assert!(contradicting_categories("The ESR isn't raised.", facts).is_empty());
        assert!(says_not_in_results("The patient's blood type is not mentioned in the provided information."));
        assert!(says_not_in_results("The patient's blood type is not shown in the record."));
        assert!(!says_not_in_results("The latest CRP is 4.5 mg/L, flagged normal."));
    }

    #[test]
    fn a_lead_must_name_the_current_drugs_and_only_them() {
        let meds = json!({"value": {"patient": "p", "current": ["tofacitinib 5 mg"], "dmards_tried": 2,
            "courses": [{"drug": "prednisone"}, {"drug": "methotrexate"}, {"drug": "tofacitinib 5 mg"}]}});
        let r = [(ToolName::MedicationHistory, &meds)];
        let q = "Which drugs is the patient on?";
        assert!(misstates_current_drugs("The patient is on tofacitinib and prednisone.", q, r));
        assert!(!misstates_current_drugs("The patient is on tofacitinib.", q, r));
        assert!(!misstates_current_drugs("Tofacitinib.", q, r));
        assert!(!misstates_current_drugs("The record shows one current drug.", q, r), "no drug named");
        let tried = "Which DMARDs has the patient tried?";
        assert!(!misstates_current_drugs("The patient has tried methotrexate and tofacitinib.", tried, r));
        let listed = json!({"value": {"patient": "p", "current": ["tofacitinib 5 mg"], "dmards_tried": 2,
            "dmards": ["methotrexate", "tofacitinib 5 mg"], "courses": []}});
        let r2 = [(ToolName::MedicationHistory, &listed)];
        assert!(misstates_current_drugs("The patient has tried tofacitinib.", tried, r2), "one of two");
        assert!(!misstates_current_drugs("The patient has tried methotrexate and tofacitinib.", tried, r2));
        assert!(!misstates_current_drugs("Methotrexate was stopped for nausea.", "Why was methotrexate stopped?", r2));
        let both = json!({"value": {"patient": "p", "current_medications": ["folic acid", "methotrexate"]}});
        let r = [(ToolName::PatientSummary, &both)];
        assert!(misstates_current_drugs("The current treatment is methotrexate.", "What is the current treatment?", r));
        let on_mtx = "Is the patient on methotrexate?";
        assert!(!misstates_current_drugs("Yes, the patient is on methotrexate.", on_mtx, r), "one drug asked");
        let on_pred = "Is the patient on prednisone?";
        let r = [(ToolName::MedicationHistory, &meds)];
        assert!(!misstates_current_drugs("No, the patient is not on prednisone.", on_pred, r));
        assert!(misstates_current_drugs("Yes, the patient is on prednisone.", on_pred, r));
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
    }

    #[test]
    fn a_lead_is_its_first_line_cut_at_a_whole_sentence() {
        assert_eq!(lead_sentence("  The CRP is 4.5 mg/L.\nMore text."), "The CRP is 4.5 mg/L.");
        assert_eq!(lead_sentence("The DAS28 is 2.16. It is in remission and the trend is"), "The DAS28 is 2.16.");
        assert_eq!(lead_sentence("The DAS28 is 2.16 and"), "The DAS28 is 2.16 and", "no whole sentence: as is");
        assert_eq!(lead_sentence(""), "");
    }

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

    /// A template states only the result's own numbers, so it always passes the check.
    #[test]
    fn templates_are_grounded_by_construction() {
        let glossary = json!({"value": {"term": "das28", "title": "DAS28 (Disease Activity Score, 28 joints)",
            "definition": "Remission below 2.6.", "source": "Prevoo 1995"}, "truncated": false, "omitted": 0});
        let das = json!({"value": {"patient": "p-1", "latest": {"date": "2022-01-03", "das28": 3.41,
            "category": "moderate"}, "trend": {"direction": "falling"}, "flares_in_window": 1,
            "readings_in_record": 9}, "truncated": true, "omitted": 2});
        let empty = json!({"value": {"patient": "p-1", "test_name": "ALT", "latest": null}});
        let forecast = json!({"value": {"patient": "p-1", "latest_das28": 4.2, "latest_das28_date": "2023-01-05",
            "current_state": "moderate", "treatment": "csdmard", "horizons": [{"days": 360, "states": [
                {"state": "remission", "probability": 0.31, "low": 0.22, "high": 0.4},
                {"state": "moderate", "probability": 0.44, "low": 0.35, "high": 0.52}]}]},
            "truncated": false, "omitted": 0});
        for (tool, r) in [
            (ToolName::StateForecast, forecast.clone()),
            (ToolName::LabTrend, lab()),
            (ToolName::Glossary, glossary),
            (ToolName::DiseaseActivityHistory, das),
            (ToolName::LabTrend, empty.clone()),
        ] {
            let text = fact_template(tool, &r);
            assert!(check(&text, &Sources::new([&r], "")).is_grounded(), "{text}");
        }
        assert!(fact_template(ToolName::LabTrend, &lab()).contains("12.4 mg/L on 2023-05-02, flagged high"));
        let sentence = fact_template(ToolName::StateForecast, &forecast);
        assert!(sentence.contains("in 360 days remission 0.31 (0.22 to 0.4)"), "{sentence}");
        assert!(finds_nothing(ToolName::LabTrend, &empty) && !finds_nothing(ToolName::LabTrend, &lab()));
    }

    /// The cohort tools' sentences: rates with n and interval, the refusal below the
    /// minimum n in words (no number made up), shared traits with counts and ratios.
    #[test]
    fn cohort_templates_state_figures_and_refusals_grounded() {
        let cohort = json!({"value": {"patient": "p-1", "index_date": "2023-02-01", "similar_patients_found": 20,
            "min_n": 10, "twin_version": "ab", "method": "rates with 95% Wilson intervals", "outcomes": [
                {"outcome": "flare_6m", "label": "flare within 6 months",
                 "similar_patients": {"kind": "rate", "n": 18, "events": 5, "percent": 28, "low_percent": 12,
                    "high_percent": 51},
                 "population": {"kind": "rate", "n": 400, "events": 96, "percent": 24, "low_percent": 20,
                    "high_percent": 28}},
                {"outcome": "tnfi_response_6m", "label": "TNFi response at 6 months (EULAR good/moderate)",
                 "similar_patients": {"kind": "not_enough_comparable_patients", "n": 3, "min_n": 10},
                 "population": {"kind": "rate", "n": 40, "events": 22, "percent": 55, "low_percent": 40,
                    "high_percent": 69}}],
            "neighbours": [{"pseudonym": "nb-1a2b", "distance": 0.012}]}, "truncated": false, "omitted": 0});
        let text = fact_template(ToolName::SimilarPatients, &cohort);
        assert!(check(&text, &Sources::new([&cohort], "")).is_grounded(), "{text}");
        assert!(text.contains("flare within 6 months: 28% (5 of 18; 95% CI 12% to 51%)"), "{text}");
        assert!(text.contains("not enough comparable patients (n 3, minimum 10)"), "{text}");
        let shared = json!({"value": {"patient": "p-1", "index_date": "2023-02-01", "similar_patients_found": 20,
            "population_snapshots": 400, "shared": [{"kind": "drug", "name": {"record_text": "adalimumab"},
            "neighbours": 9, "neighbours_percent": 45, "population_percent": 10, "ratio": 4.5},
            {"kind": "feature", "name": "female", "neighbours": 16, "neighbours_percent": 80,
            "population_percent": 70, "ratio": 1.1}]}, "truncated": false, "omitted": 0});
        let text = fact_template(ToolName::ExplainNeighbourhood, &shared);
        assert!(check(&text, &Sources::new([&shared], "")).is_grounded(), "{text}");
        assert!(text.contains("drug adalimumab (9 neighbours, 45% vs 10% of the population, 4.5 times"), "{text}");
        assert!(text.contains("feature female (16 neighbours"), "{text}");
    }
}
