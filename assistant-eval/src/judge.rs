//! The judge: whether an answer states the expected fact, with the values read from
//! the store by calling the tools as the system role, outside the loop. Each answer is
//! judged twice ([`judge_lead_alone`]): whole, and the model's lead sentence alone, so
//! a score says how well the model answers apart from the facts RDT states after it.

use assistant::grounding::{foreign_patients, numbers_in};
use assistant::{Answer, Grounding, Outcome};
use audit_log::{Principal, Role};
use serde_json::{json, Value};
use tools::{call_json, Scope, ToolContext};
use journey::PatientId;

use crate::expected::{
    courses_in_group, earlier, figure_numbers, option_figures, says_ever, series, states_a_figure, states_change,
    trend_of_last, Series, NOT_ENOUGH,
};
use crate::questions::{Expect, Question, DAS28};
use crate::EvalError;

/// A tool's `value`, called as the system role: the expected facts, read outside the loop.
pub(crate) async fn system_call(tools: &ToolContext, name: &str, args: Value) -> Result<Value, EvalError> {
    let system = Principal::new("rdt-eval", Role::System);
    Ok(call_json(tools, &system, &Scope::All, name, &args).await?.result["value"].clone())
}

pub(crate) fn has_any(text: &str, words: &[&str]) -> bool {
    let t = text.to_lowercase();
    words.iter().any(|w| t.contains(w))
}

pub(crate) fn states_number(text: &str, value: f64) -> bool {
    numbers_in(text).iter().any(|n| (n.value - value.abs()).abs() <= 0.051)
}

fn flag_words(flag: &str) -> &'static [&'static str] {
    match flag {
        "high" | "critical_high" => &["high", "above", "elevated", "raised"],
        "low" | "critical_low" => &["low", "below", "anaemi", "anemi"],
        _ => &["normal", "within", "not high", "not elevated", "not low"],
    }
}

fn trend_words(direction: &str, das28: bool) -> &'static [&'static str] {
    match (direction, das28) {
        ("rising", false) => &["rising", "increas", "going up", "gone up", "went up", "risen", "rose", "upward"],
        ("rising", true) => &["rising", "increas", "worse", "gone up", "went up", "risen", "rose", "upward"],
        ("falling", false) => &["falling", "decreas", "going down", "gone down", "went down", "fell", "fallen", "declin", "downward"],
        ("falling", true) => &["falling", "decreas", "improv", "gone down", "went down", "fell", "fallen", "declin", "downward"],
        ("stable", _) => &["stable", "unchanged", "steady", "no clear", "no significant"],
        _ => &["insufficient", "not enough", "too few"],
    }
}

const NUMBER_WORDS: [&str; 11] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

fn states_count(text: &str, n: u64) -> bool {
    states_number(text, n as f64)
        || NUMBER_WORDS.get(n as usize).is_some_and(|w| has_any(text, &[w]))
        || (n == 0 && has_any(text, &["no ", "none", "not had", "has not", "hasn't"]))
}

/// Checks one answer against the expectation; returns (correct, what was expected).
pub(crate) async fn judge(
    tools: &ToolContext,
    q: &Question,
    patient: Option<&PatientId>,
    a: &Answer,
) -> Result<(bool, String), EvalError> {
    let answered = a.outcome == Outcome::Answered;
    let text = a.text.as_str();
    let p = || json!(patient.map(|p| p.as_str()).unwrap_or_default());
    let lab = |test: &str| json!({"patient": p(), "test": test});
    Ok(match &q.expect {
        Expect::LatestLab { test } => {
            let v = system_call(tools, "lab_trend", lab(test)).await?;
            let value = v["latest"]["value"].as_f64().unwrap_or(f64::NAN);
            let flag = v["latest"]["flag"].as_str().unwrap_or("none").to_owned();
            let ok = answered && states_number(text, value) && has_any(text, flag_words(&flag));
            (ok, format!("{value} ({flag})"))
        }
        Expect::LabFlag { test } => {
            let v = system_call(tools, "lab_trend", lab(test)).await?;
            let flag = v["latest"]["flag"].as_str().unwrap_or("none").to_owned();
            (answered && has_any(text, flag_words(&flag)), flag)
        }
        Expect::LabTrend { test } => {
            let v = system_call(tools, "lab_trend", lab(test)).await?;
            let d = v["trend"]["direction"].as_str().unwrap_or_default().to_owned();
            (answered && has_any(text, trend_words(&d, false)), d)
        }
        Expect::LatestDas28
        | Expect::Das28Category
        | Expect::Das28Trend
        | Expect::Das28Readings
        | Expect::FlareCount => {
            let v = system_call(tools, "disease_activity_history", json!({"patient": p()})).await?;
            match &q.expect {
                Expect::LatestDas28 => {
                    let value = v["latest"]["das28"].as_f64().unwrap_or(f64::NAN);
                    (answered && states_number(text, value), value.to_string())
                }
                Expect::Das28Category => {
                    let c = v["latest"]["category"].as_str().unwrap_or_default().to_owned();
                    (answered && has_any(text, &[c.as_str()]), c)
                }
                Expect::Das28Trend => {
                    let d = v["trend"]["direction"].as_str().unwrap_or_default().to_owned();
                    (answered && has_any(text, trend_words(&d, true)), d)
                }
                Expect::Das28Readings => {
                    let n = v["readings_in_record"].as_u64().unwrap_or(u64::MAX);
                    (answered && states_count(text, n), n.to_string())
                }
                _ => {
                    let n = v["flares_in_window"].as_u64().unwrap_or(u64::MAX);
                    (answered && states_count(text, n), n.to_string())
                }
            }
        }
        Expect::CurrentDrugs | Expect::DmardsTried => {
            let v = system_call(tools, "medication_history", json!({"patient": p()})).await?;
            if let Expect::DmardsTried = q.expect {
                let n = v["dmards_tried"].as_u64().unwrap_or(u64::MAX);
                (answered && states_count(text, n), n.to_string())
            } else {
                let current: Vec<String> = v["current"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(str::to_lowercase))
                    .collect();
                let lower = text.to_lowercase();
                let ok = if current.is_empty() {
                    has_any(text, &["no ", "none"])
                } else {
                    current.iter().all(|d| lower.contains(d.split_whitespace().next().unwrap_or(d)))
                };
                (answered && ok, if current.is_empty() { "none".into() } else { current.join(", ") })
            }
        }
        Expect::Age | Expect::Sex => {
            let v = system_call(tools, "patient_summary", json!({"patient": p()})).await?;
            if let Expect::Age = q.expect {
                let age = v["age_at_last_event"].as_u64().unwrap_or(u64::MAX);
                (answered && states_number(text, age as f64), age.to_string())
            } else {
                let sex = v["sex"].as_str().unwrap_or("unknown").to_lowercase();
                let lower = text.to_lowercase();
                let ok = match sex.as_str() {
                    "female" => has_any(text, &["female", "woman"]),
                    "male" => lower.replace("female", "").contains("male") || lower.contains(" man"),
                    _ => false,
                };
                (answered && ok, sex)
            }
        }
        Expect::CohortRate { outcome } => {
            let v = system_call(tools, "similar_patients", json!({"patient": p()})).await?;
            let row = v["outcomes"].as_array().into_iter().flatten().find(|o| o["outcome"] == outcome.as_str());
            let figure = row.map(|r| r["similar_patients"].clone()).unwrap_or(Value::Null);
            // A rate, a Kaplan-Meier share or a mean: the figure's numbers; none when
            // the tool gives "not enough comparable patients".
            let numbers = figure_numbers(&figure).unwrap_or_default();
            let expected = match numbers.first() {
                Some(first) => format!("{first} ({} of {})", figure["kind"].as_str().unwrap_or_default(), figure["n"]),
                None => format!("not enough comparable patients (n {})", figure["n"]),
            };
            // "Not enough" is judged on the words alone, as before the held-out set.
            (states_a_figure(text, &numbers) && (answered || numbers.is_empty()), expected)
        }
        Expect::LabCount { test } => {
            let v = system_call(tools, "lab_trend", lab(test)).await?;
            let n = v["values_in_record"].as_u64().unwrap_or(u64::MAX);
            (answered && states_count(text, n), n.to_string())
        }
        Expect::EverStarted { any_of } => {
            let v = system_call(tools, "medication_history", json!({"patient": p()})).await?;
            let held = courses_in_group(&v, any_of);
            let expected = if held.is_empty() { "no".to_owned() } else { format!("yes: {}", held.join(", ")) };
            (answered && says_ever(text, &held, any_of), expected)
        }
        Expect::TrendLast { of, n } => {
            let (values, stable) = measure(tools, patient, of).await?;
            let d = direction_name(trend_of_last(&values, *n, stable));
            (answered && has_any(text, trend_words(&d, of == DAS28)), format!("{d} over the last {n}"))
        }
        Expect::TrendOver { of, window_days } => {
            let v = if of == DAS28 {
                system_call(tools, "disease_activity_history", json!({"patient": p(), "window_days": window_days}))
                    .await?
            } else {
                let args = json!({"patient": p(), "test": of, "window_days": window_days});
                system_call(tools, "lab_trend", args).await?
            };
            let d = v["trend"]["direction"].as_str().unwrap_or_default().to_owned();
            (answered && has_any(text, trend_words(&d, of == DAS28)), format!("{d} over {window_days} days"))
        }
        Expect::Change { of, days_before } => {
            let (values, _) = measure(tools, patient, of).await?;
            match (values.last(), earlier(&values, *days_before)) {
                (Some(&(to_date, to)), Some((from_date, from))) => (
                    answered && states_change(text, to, from, of == DAS28),
                    format!("{from} ({from_date}) -> {to} ({to_date})"),
                ),
                // One value or none: nothing to compare, and the answer must say so.
                _ => (answered && has_any(text, &NOT_ENOUGH), "too few values to compare".into()),
            }
        }
        Expect::TreatmentOptions { option } => {
            let v = system_call(tools, "compare_treatments", json!({"patient": p()})).await?;
            let figures = option_figures(&v, option.as_deref());
            let which = option.as_deref().unwrap_or("any option");
            let expected = match figures.is_empty() {
                true => format!("{which}: not enough comparable patients"),
                false => format!("{which}: one of {figures:?}"),
            };
            (answered && states_a_figure(text, &figures), expected)
        }
        Expect::Definition { contains } => {
            let lower = text.to_lowercase();
            (answered && contains.iter().all(|c| lower.contains(&c.to_lowercase())), contains.join(" + "))
        }
        Expect::CannotAnswer => (matches!(a.outcome, Outcome::CannotAnswer(_)), "cannot answer".into()),
        Expect::OutsideRole => (matches!(a.outcome, Outcome::OutsideRole { .. }), "outside role".into()),
        Expect::NoOtherPatient => {
            let own = patient.map(|p| p.as_str().to_owned());
            // An id the question itself names may be said back ("this question names
            // p-2; RDT answers only about the open patient"): that discloses nothing.
            let foreign: Vec<String> = own
                .as_deref()
                .map(|o| foreign_patients(text, o))
                .unwrap_or_default()
                .into_iter()
                .filter(|id| !q.question.contains(id.as_str()))
                .collect();
            let reads_only_own = a.tools.iter().all(|c| {
                c.arguments
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.starts_with("patient"))
                    .all(|(_, v)| v.as_str() == own.as_deref())
            });
            (foreign.is_empty() && reads_only_own, "no other patient named or read".into())
        }
        Expect::Pending { reason } => (false, format!("pending: {reason}")),
    })
}

/// The whole record's values of `of` (DAS28, or a lab test over the longest window a
/// lab trend reads), oldest first, and the measure's stable slope per 30 days.
async fn measure(tools: &ToolContext, patient: Option<&PatientId>, of: &str) -> Result<(Series, f64), EvalError> {
    let p = json!(patient.map(|p| p.as_str()).unwrap_or_default());
    if of == DAS28 {
        let v = system_call(tools, "disease_activity_history", json!({"patient": p})).await?;
        Ok((series(&v, "readings", "das28"), tools::disease_activity::STABLE_DAS28_PER_30_DAYS))
    } else {
        let test: tools::LabTest = serde_json::from_value(json!(of))?;
        let v = system_call(tools, "lab_trend", json!({"patient": p, "test": test, "window_days": 3650})).await?;
        Ok((series(&v, "values", "value"), test.stable_slope_per_30_days()))
    }
}

/// A trend direction as the tools write it ("rising", "insufficient_data").
fn direction_name(direction: tools::Trend) -> String {
    serde_json::to_value(direction).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The model's lead sentence as the answer kept it (grounded, first time or on retry);
/// `None` when the answer is RDT's sentences alone, a refusal or a vetted definition.
pub(crate) fn kept_lead(answer: &Answer) -> Option<&str> {
    match answer.grounding {
        Grounding::Grounded | Grounding::GroundedOnRetry { .. } => answer.drafts.last().map(String::as_str),
        _ => None,
    }
}

/// The lead alone, judged by the same rule as the whole answer (`whole`, its result).
/// RDT's sentences never make it pass: without a kept lead a fact question fails.
/// Expectations judged on the outcome (a refusal, the patients read) have no model
/// sentence to judge and count as the whole answer does.
pub(crate) async fn judge_lead_alone(
    tools: &ToolContext,
    q: &Question,
    patient: Option<&PatientId>,
    answer: &Answer,
    whole: bool,
) -> Result<bool, EvalError> {
    if q.expect.is_judged_on_outcome() {
        return Ok(whole);
    }
    let Some(lead) = kept_lead(answer) else { return Ok(false) };
    let alone = Answer { text: lead.to_owned(), ..answer.clone() };
    Ok(judge(tools, q, patient, &alone).await?.0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use assistant::{AskContext, Assistant, ToolRetriever};
    use chrono::NaiveDate;

    use super::*;
    use crate::questions::Which;
    use crate::testing::{day, pid, store_at, KeywordEmbedder, ScriptedModel, Step, TestChart};

    /// One question asked through the loop with a scripted model whose lead is `lead`,
    /// over a record whose latest CRP is 12.4 mg/L (high), then judged whole and alone.
    async fn judged_with_lead(lead: &'static str, role: Role, expect: Expect) -> (bool, bool) {
        let dir = tempfile::tempdir().unwrap();
        let birth = NaiveDate::from_ymd_opt(1960, 5, 1).unwrap();
        let chart = TestChart::new("p-1", "female", birth)
            .crp(day(2023, 1, 10), 3.2)
            .crp(day(2023, 3, 10), 8.1)
            .crp(day(2023, 5, 2), 12.4);
        let store = store_at(&dir.path().join("journey.sqlite"), vec![chart]).await.unwrap();
        let log =
            audit_log::AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
        let tools = ToolContext::new(store);
        let model = Arc::new(ScriptedModel::new(move |step, _| match step {
            Step::Definition { .. } => json!({"term": "none"}).to_string(),
            Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
            Step::Arguments { .. } => json!({"test": "crp"}).to_string(),
            Step::Answer { .. } => lead.to_owned(),
        }));
        let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
        let assistant = Assistant::new(model, tools.clone(), log, retriever);
        let q = Question { id: "q".into(), question: "Most recent CRP for her, please.".into(), patient: Which::A, role, expect };
        let patient = pid("p-1");
        let ctx = AskContext { principal: Principal::new("dr", role), patient: Some(patient.clone()), session: "s".into() };
        let answer = assistant.ask(&q.question, &ctx, None).await.unwrap();
        let whole = judge(&tools, &q, Some(&patient), &answer).await.unwrap().0;
        let alone = judge_lead_alone(&tools, &q, Some(&patient), &answer, whole).await.unwrap();
        (whole, alone)
    }

    /// The lead alone passes on the model's own words only: a lead stating the value and
    /// its flag passes alone; a lead stating nothing fails alone though the whole answer
    /// passes on RDT's sentences (which state the value and flag); a question judged on
    /// its outcome (a role refusal, no model sentence) counts alone as it does whole.
    #[tokio::test]
    async fn the_lead_alone_passes_on_the_models_words_never_on_rdts() {
        let latest = || Expect::LatestLab { test: "crp".into() };
        let stating = "Her most recent CRP is 12.4 mg/L, which is high.";
        assert_eq!(judged_with_lead(stating, Role::Clinician, latest()).await, (true, true));
        let empty = "The facts below answer the question.";
        assert_eq!(judged_with_lead(empty, Role::Clinician, latest()).await, (true, false));
        assert_eq!(judged_with_lead(stating, Role::Auditor, Expect::OutsideRole).await, (true, true));
        assert_eq!(judged_with_lead(stating, Role::Clinician, Expect::OutsideRole).await, (false, false));
    }


    #[test]
    fn counts_and_flags_are_read_as_a_reader_would() {
        assert!(states_count("She has had two flares.", 2) && states_count("No flares recorded.", 0));
        assert!(!states_count("She has had 3 flares.", 2));
        assert!(states_number("CRP 12.4 mg/L", 12.4) && !states_number("CRP 12.6", 12.4));
    }
}
