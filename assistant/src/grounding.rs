//! The grounding check: every number an answer states must appear in a tool result
//! or the question, or follow from them by a simple computation (rounding, a
//! difference, a share as a percentage).
//!
//! A small model invents values when it has none and misreads the ones it has
//! (../shared/MODELS.md), so the loop never trusts a number it cannot trace. Numbers
//! are compared by value, not by text: "12" is grounded by a result of 12.4 (rounded
//! to the answer's precision), "0.3" by a slope of -0.3 (signs are words in prose:
//! "fell by 0.3"). Digits glued to a preceding letter are names, not claims
//! ("DAS28", "TJC28", "p104"), and are skipped on both sides. A percentage is a
//! share, and only a share grounds it: "26%" needs a source percentage or a 0..1
//! share, not a count of 26 patients (a 1.5B model read "26 patients, effective 26"
//! as "effective in 26%").

use serde::Serialize;
use serde_json::Value;

/// A number as written in a text, with its decimals (the precision it claims).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatedNumber {
    pub text: String,
    pub value: f64,
    pub decimals: u32,
    /// Written as a percentage ("26%", "26 %", "26 percent", "26 per cent").
    pub percent: bool,
}

/// The numbers of `text`: runs of digits with at most one decimal point, thousands
/// written `1,234` read as 1234. Skipped: digits glued to a preceding letter (names
/// such as DAS28) and list markers ("1." or "2)" opening a line).
pub fn numbers_in(text: &str) -> Vec<StatedNumber> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut raw = String::new();
        let mut seen_point = false;
        while i < chars.len() {
            let c = chars[i];
            let next_digit = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if c.is_ascii_digit() {
                raw.push(c);
            } else if c == '.' && !seen_point && next_digit {
                seen_point = true;
                raw.push(c);
            } else if c == ',' && !seen_point && is_thousands_group(&chars, i) {
                // `1,234`: a thousands separator, not a list comma.
            } else {
                break;
            }
            i += 1;
        }
        let glued_to_name = start > 0 && (chars[start - 1].is_alphabetic() || chars[start - 1] == '_');
        let line_start = chars[..start].iter().rev().take_while(|c| **c != '\n').all(|c| c.is_whitespace());
        let list_marker = line_start && matches!(chars.get(i), Some('.') | Some(')')) && !seen_point;
        if glued_to_name || list_marker {
            continue;
        }
        if let Ok(value) = raw.parse::<f64>() {
            let decimals = raw.split_once('.').map_or(0, |(_, d)| d.len() as u32);
            let percent = followed_by_percent(&chars[i..]);
            out.push(StatedNumber { text: raw, value, decimals, percent });
        }
    }
    out
}

/// Whether `rest` (the text after a number) opens with a percent sign or word.
fn followed_by_percent(rest: &[char]) -> bool {
    let after: String = rest.iter().take(10).collect::<String>().to_ascii_lowercase();
    let after = after.trim_start();
    after.starts_with('%') || after.starts_with("percent") || after.starts_with("per cent")
}

/// Whether the comma at `at` separates thousands: exactly three digits follow and
/// then no further digit.
fn is_thousands_group(chars: &[char], at: usize) -> bool {
    let group = chars.get(at + 1..at + 4);
    group.is_some_and(|g| g.iter().all(char::is_ascii_digit))
        && !chars.get(at + 4).is_some_and(|c| c.is_ascii_digit())
        && at > 0
        && chars[at - 1].is_ascii_digit()
}

/// Every number a JSON value holds: its numbers, and the numbers written inside its
/// strings (dates, definitions, record text).
pub fn numbers_of_json(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) => out.extend(n.as_f64()),
        Value::String(s) => out.extend(numbers_in(s).into_iter().map(|n| n.value)),
        Value::Array(items) => items.iter().for_each(|v| numbers_of_json(v, out)),
        Value::Object(map) => map.values().for_each(|v| numbers_of_json(v, out)),
        _ => {}
    }
}

/// The percentages a JSON value states: numbers under a key naming a percent
/// (`percent`, `low_percent`), numbers of an object whose `unit` is "%", and numbers
/// written with a percent sign inside its strings. Shares (0..1) are read apart.
fn json_percents(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::String(s) => out.extend(numbers_in(s).into_iter().filter(|n| n.percent).map(|n| n.value)),
        Value::Array(items) => items.iter().for_each(|v| json_percents(v, out)),
        Value::Object(map) => {
            let in_percent = map.get("unit").and_then(Value::as_str).is_some_and(|u| u.trim() == "%");
            for (key, v) in map {
                match v {
                    Value::Number(n) if in_percent || key.contains("percent") || key.ends_with("_pct") => {
                        out.extend(n.as_f64())
                    }
                    _ => json_percents(v, out),
                }
            }
        }
        _ => {}
    }
}

/// The non-integer JSON numbers of `value`, as absolute values.
fn json_measurements(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) => out.extend(n.as_f64().filter(|x| x.is_finite() && x.fract() != 0.0).map(f64::abs)),
        Value::Array(items) => items.iter().for_each(|v| json_measurements(v, out)),
        Value::Object(map) => map.values().for_each(|v| json_measurements(v, out)),
        _ => {}
    }
}

/// The numbers an answer may state: those of the tool results and of the question.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    values: Vec<f64>,
    /// The non-integer numbers of the results (measurements): only these enter
    /// differences, so a count or a date part cannot make up a value.
    measurements: Vec<f64>,
    /// The percentages the results and the question state ([`json_percents`]): with
    /// the 0..1 shares, all that grounds a number stated as a percentage.
    percents: Vec<f64>,
    /// The session's patient: any other id of the same shape in an answer is refused,
    /// but for one the question names ([`Sources::question`]).
    patient: Option<String>,
    /// The question: its numbers ground an answer's, and a patient id it names may be
    /// said back (the refusal "This question names patient X, but ..." names X).
    question: String,
}

impl Sources {
    pub fn new<'a>(results: impl IntoIterator<Item = &'a Value>, question: &str) -> Self {
        let mut values = Vec::new();
        let mut measurements = Vec::new();
        let mut percents = Vec::new();
        for r in results {
            numbers_of_json(r, &mut values);
            json_measurements(r, &mut measurements);
            json_percents(r, &mut percents);
        }
        measurements.sort_by(f64::total_cmp);
        measurements.dedup();
        let asked = numbers_in(question);
        percents.extend(asked.iter().filter(|n| n.percent).map(|n| n.value));
        values.extend(asked.into_iter().map(|n| n.value));
        let finite = |v: Vec<f64>| {
            let mut v: Vec<f64> = v.into_iter().filter(|v| v.is_finite()).map(f64::abs).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let (values, percents) = (finite(values), finite(percents));
        Sources { values, measurements, percents, patient: None, question: question.to_owned() }
    }

    /// Also refuse answers naming a patient other than `patient` (see [`foreign_patients`]).
    pub fn with_patient(mut self, patient: Option<&str>) -> Self {
        self.patient = patient.map(str::to_owned);
        self
    }

    /// Whether `n` is a source value, rounded to `n`'s decimals; a difference of two
    /// source values, rounded; or a source share (0..1) as a percentage. A number
    /// stated as a percentage is grounded only by a source percentage or share.
    pub fn grounds(&self, n: &StatedNumber) -> bool {
        let matches = |x: f64| round_to(x.abs(), n.decimals) == round_to(n.value, n.decimals);
        if n.percent {
            return self.percents.iter().any(|&v| matches(v))
                || self.values.iter().filter(|v| **v <= 1.0).any(|&v| matches(v * 100.0));
        }
        if self.values.iter().any(|&v| matches(v)) {
            return true;
        }
        if self.values.iter().filter(|v| **v <= 1.0).any(|&v| matches(v * 100.0)) {
            return true;
        }
        let m = &self.measurements;
        m.iter().enumerate().any(|(i, &a)| m[i + 1..].iter().any(|&b| matches(b - a)))
    }
}

fn round_to(x: f64, decimals: u32) -> i64 {
    let scale = 10f64.powi(decimals.min(9) as i32);
    (x * scale).round() as i64
}

/// The verdict on one answer text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub stated: Vec<StatedNumber>,
    /// The stated numbers no source grounds, as written.
    pub ungrounded: Vec<String>,
}

impl Check {
    pub fn is_grounded(&self) -> bool {
        self.ungrounded.is_empty()
    }
}

/// Checks every number of `answer` against `sources`, and that it names no patient
/// but the session's. A patient's id is a name, not a claim: the digits of an id are
/// not stated numbers (the refusal "this conversation is about patient syn7-000012",
/// written before any tool ran, states no 12); an id other than the session's is
/// ungrounded as a whole, unless the question names it.
pub fn check(answer: &str, sources: &Sources) -> Check {
    let ids = sources.patient.as_deref().map(|p| patient_ids(answer, p)).unwrap_or_default();
    let mut names_masked = answer.to_owned();
    for (at, id) in ids.iter().rev() {
        names_masked.replace_range(*at..at + id.len(), "patient");
    }
    let stated = numbers_in(&names_masked);
    let mut ungrounded: Vec<String> = stated.iter().filter(|n| !sources.grounds(n)).map(|n| n.text.clone()).collect();
    if let Some(patient) = &sources.patient {
        let named_in_question = foreign_patients(&sources.question, patient);
        let foreign = ids.into_iter().map(|(_, id)| id).filter(|id| id != patient && !named_in_question.contains(id));
        ungrounded.extend(foreign);
    }
    ungrounded.dedup();
    Check { stated, ungrounded }
}

/// Ids shaped like `patient` (the same letters before its first digit, then digits)
/// that are not `patient`: an answer about one patient names no other, whatever a
/// note told the model.
pub fn foreign_patients(answer: &str, patient: &str) -> Vec<String> {
    patient_ids(answer, patient).into_iter().map(|(_, id)| id).filter(|id| id != patient).collect()
}

/// Every id in `text` shaped like `patient`, `patient` included, with its byte offset:
/// the same letters before its first digit, not glued to a preceding letter or
/// digit, then letters, digits, `-` or `_` holding a digit ("p-value" is no id). An id
/// with no letters before its digits (a hospital's numeric record number) has no shape
/// to tell another by: only `patient` itself is found, as a whole word.
fn patient_ids(text: &str, patient: &str) -> Vec<(usize, String)> {
    let prefix: String = patient.chars().take_while(|c| !c.is_ascii_digit()).collect();
    if patient.is_empty() {
        return Vec::new();
    }
    if prefix.is_empty() || prefix.len() == patient.len() {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
        return text
            .match_indices(patient)
            .filter(|(at, _)| !word(text[..*at].chars().next_back()) && !word(text[at + patient.len()..].chars().next()))
            .map(|(at, id)| (at, id.to_owned()))
            .collect();
    }
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(found_at) = text[from..].find(&prefix) {
        let at = from + found_at;
        let glued = text[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric());
        let token: String =
            text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        let token = token.trim_end_matches(['-', '_']).to_owned();
        if !glued && token.chars().any(|c| c.is_ascii_digit()) {
            from = at + token.len();
            found.push((at, token));
        } else {
            from = at + prefix.len();
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn values(text: &str) -> Vec<f64> {
        numbers_in(text).into_iter().map(|n| n.value).collect()
    }

    #[test]
    fn names_list_markers_and_separators_are_read_as_prose_reads_them() {
        assert_eq!(values("DAS28 was 3.41 on 2023-04-05, TJC28 of 4."), vec![3.41, 2023.0, 4.0, 5.0, 4.0]);
        assert_eq!(values("1. CRP 12 mg/L\n2) ESR 1,250 mm/h, 3, 4"), vec![12.0, 1250.0, 3.0, 4.0]);
        assert_eq!(values("patient p104 and p-0042"), vec![42.0]);
        assert_eq!(numbers_in("value 7.50.")[0].decimals, 2);
    }

    #[test]
    fn values_rounding_differences_and_percentages_are_grounded() {
        let result = json!({"latest": {"value": 12.44, "date": "2023-04-05"}, "first": 20.5, "share": 0.35,
                            "text": "Remission: DAS28 below 2.6"});
        let sources = Sources::new([&result], "What is the CRP of p-0042?");
        for ok in ["12.44", "12.4", "12", "2023", "April 5", "8.06", "35%", "35.0%", "2.6", "p-0042 has 42"] {
            assert!(check(ok, &sources).is_grounded(), "{ok}");
        }
        // A count grounds no percentage: "26 patients" is not "26%".
        let counts = json!({"n": 26, "percent": 31, "text": "95% CI 17% to 50%", "share": 0.04,
                            "hct": {"value": 42.0, "unit": "%"}});
        let counts = Sources::new([&counts], "");
        for ok in ["31%", "17 %", "50 percent", "95%", "4%", "42%", "26 patients"] {
            assert!(check(ok, &counts).is_grounded(), "{ok}");
        }
        assert_eq!(check("effective in 26% of patients", &counts).ungrounded, vec!["26"]);
        let c = check("The CRP was 1.2 mg/L, down from 19 (0.3 per month).", &sources);
        assert_eq!(c.ungrounded, vec!["1.2", "19", "0.3"]);
        assert!(!c.is_grounded());
    }

    #[test]
    fn another_patients_id_is_grounded_only_where_the_question_names_it() {
        let sources = Sources::new([&json!({"patient": "syn7-000012"})], "").with_patient(Some("syn7-000012"));
        assert!(check("Patient syn7-000012 is well.", &sources).is_grounded());
        let c = check("Also syn7-000013 and syn7-12.", &sources);
        assert!(c.ungrounded.ends_with(&["syn7-000013".to_owned(), "syn7-12".to_owned()]), "{:?}", c.ungrounded);
        assert!(foreign_patients("a p-value of p-1", "p-1").is_empty());
        assert_eq!(foreign_patients("see p-2.", "p-1"), vec!["p-2"]);
        // The patient a question names may be said back (a refusal naming it); any
        // other is still refused.
        let question = "What is syn7-000031's latest CRP?";
        let sources = Sources::new([&json!({"patient": "syn7-000012"})], question).with_patient(Some("syn7-000012"));
        let (asked, open) = (journey::PatientId::new("syn7-000031").unwrap(), journey::PatientId::new("syn7-000012").unwrap());
        let refusal = crate::patient_reference::named_other_patient_text(&asked, Some(&open));
        assert!(check(&refusal, &sources).is_grounded(), "{:?}", check(&refusal, &sources).ungrounded);
        // The refusal is written before any tool runs: no result holds the open id's
        // digits, and an id is a name, not a number stated.
        let before_any_tool = Sources::new(std::iter::empty(), question).with_patient(Some("syn7-000012"));
        assert!(check(&refusal, &before_any_tool).is_grounded(), "{:?}", check(&refusal, &before_any_tool).ungrounded);
        let c = check("syn7-000012's CRP was 12.", &before_any_tool);
        assert_eq!(c.ungrounded, vec!["12"], "the open id grounds no number stated beside it");
        // A numeric record number is a name too, as a whole word only.
        let numeric = Sources::new(std::iter::empty(), "").with_patient(Some("4471"));
        assert!(check("This conversation is about patient 4471.", &numeric).is_grounded());
        assert_eq!(check("Patient 4471 had 44710 mg.", &numeric).ungrounded, vec!["44710"]);
        let third = check("syn7-000044 had a CRP of 3.", &sources).ungrounded;
        assert!(third.contains(&"syn7-000044".to_owned()) && third.contains(&"3".to_owned()), "{third:?}");
    }
}
