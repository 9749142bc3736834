//! The consult summary of one patient, printable: the journey in brief, the current
//! status, the in silico cohort (similar historical patients' outcomes with 95%
//! intervals beside the population and the snapshot baseline) and the state-model
//! forecast, all from the typed tools (each call audited like the assistant's, the
//! cohort's real ids in its entry only), with the facts each tool returned under a
//! disclosure. When the install has no twin, index or state model yet, those sections
//! say what is missing instead of failing the page.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tools::disease_activity::DiseaseActivityHistory;
use tools::medication_history::MedicationHistory;
use tools::patient_summary::PatientSummary;
use tools::similar_patients::{Figure, HeadOut, SimilarPatients, SimilarPatientsOutput};
use tools::state_forecast::{StateForecast, StateForecastOutput};
use tools::{invoke_tool, Caller, InvokeError, Scope, Tool, ToolError};
use journey::PatientId;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{render, AppError};
use crate::journey::{plot_of, readable_journey};
use crate::layout::Chrome;

/// A tool's call as shown on the page: its name, arguments and the facts it returned.
pub struct ToolFacts {
    pub name: String,
    pub arguments: String,
    pub facts: String,
    pub audit_seq: u64,
}

pub struct LabRow {
    pub test: String,
    pub date: String,
    pub value: String,
    pub flag: String,
}

/// One outcome of the in silico cohort: similar patients, population, snapshot baseline.
pub struct CohortRow {
    pub label: String,
    pub similar: String,
    /// The twin head's figure with its calibration interval, or why there is none.
    pub head: String,
    pub population: String,
    pub snapshot: String,
}

/// The in silico cohort section: its rows, or why there are none.
pub struct CohortSection {
    pub found: usize,
    pub index_date: String,
    pub twin_version: String,
    pub rows: Vec<CohortRow>,
    /// Plain sentences where the twin head and the similar patients disagree.
    pub disagreements: Vec<String>,
    /// Why the twin head column is empty, when it is.
    pub head_unavailable: Option<String>,
    /// The twin head's reliability plots (SVG), one per yes/no outcome.
    pub reliability_svgs: Vec<String>,
    pub method: String,
}

/// One horizon of the forecast: the chance of each DAS28 state with its interval.
pub struct ForecastRow {
    pub days: i64,
    pub cells: Vec<String>,
}

pub struct ForecastSection {
    pub as_of: String,
    pub current_state: String,
    pub treatment: String,
    pub states: Vec<String>,
    pub rows: Vec<ForecastRow>,
    pub assumption: String,
    pub model_patients: usize,
}

pub struct CourseRow {
    pub drug: String,
    pub class: String,
    pub start: String,
    pub stop: String,
    pub response: String,
}

#[derive(Template)]
#[template(path = "consult.html")]
struct ConsultPage {
    chrome: Chrome,
    id: String,
    /// `id` for the page's links ([`crate::href::path_segment`]).
    id_path: String,
    name: String,
    generated: String,
    sex: String,
    age: String,
    follow_up: String,
    diagnoses: Vec<String>,
    current_medications: Vec<String>,
    dmards_tried: usize,
    das28_latest: String,
    das28_category: String,
    das28_trend: String,
    flares: usize,
    readings: usize,
    labs: Vec<LabRow>,
    courses: Vec<CourseRow>,
    latest_note: String,
    plot_svg: String,
    cohort: Result<CohortSection, String>,
    forecast: Result<ForecastSection, String>,
    calls: Vec<ToolFacts>,
}

/// An enum's snake_case serde name (`moderate`, `high`), for labels and CSS classes.
pub fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_owned)).unwrap_or_default()
}

fn tool_error(e: ToolError, id: &str) -> AppError {
    if e.is_refusal() {
        AppError::NotFound { what: "patient", id: id.to_owned() }
    } else {
        AppError::internal(e)
    }
}

/// Runs one typed tool as the user, on this one patient, through the one audited door
/// (`tools::invoke_tool`: role, arguments, scope, bound, the `tool_call` entry).
async fn run<T: Tool>(
    state: &AppState,
    user: &CurrentUser,
    tool: T,
    patient: &PatientId,
    arguments: serde_json::Value,
) -> Result<(T::Output, ToolFacts), AppError> {
    run_optional(state, user, tool, patient, arguments).await?.map_err(AppError::Internal)
}

/// [`run`] for a tool that may be unavailable on this install (no twin, index or
/// state model yet): that is the inner `Err` with the tool's reason, for the section
/// to show, not a failure of the page. Scope refusals and faults still fail the page.
async fn run_optional<T: Tool>(
    state: &AppState,
    user: &CurrentUser,
    tool: T,
    patient: &PatientId,
    arguments: serde_json::Value,
) -> Result<Result<(T::Output, ToolFacts), String>, AppError> {
    let principal = user.principal();
    // The session's scope for this call: the one patient the user may read (checked
    // before, by `readable_journey`).
    let scope = Scope::patients([patient.clone()]);
    let caller = Caller { principal: &principal, scope: &scope, session: Some(user.session.as_str()) };
    let (out, invoked) = match invoke_tool(tool, &state.tools(), state.audit(), caller, &arguments).await {
        Ok(done) => done,
        Err(InvokeError::Tool { error: ToolError::Unavailable { reason, .. }, .. }) => return Ok(Err(reason)),
        Err(InvokeError::Tool { error, .. }) => return Err(tool_error(error, patient.as_str())),
        Err(InvokeError::Audit(e)) => return Err(e.into()),
    };
    let facts = ToolFacts {
        name: T::NAME.as_str().to_owned(),
        arguments: arguments.to_string(),
        facts: serde_json::to_string_pretty(&invoked.result.result).unwrap_or_default(),
        audit_seq: invoked.audit_seq.0,
    };
    Ok(Ok((out.value, facts)))
}

pub async fn consult_show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let journey = readable_journey(&state, &user, &id).await?;
    let patient = journey.patient.id.clone();
    // Every section asks for the defaults (no window, the last recorded day, the
    // default cohort size): the arguments are the patient alone.
    let args = serde_json::json!({ "patient": patient.as_str() });
    let (summary, f1) = run(&state, &user, PatientSummary, &patient, args.clone()).await?;
    let (activity, f2) = run(&state, &user, DiseaseActivityHistory, &patient, args.clone()).await?;
    let (meds, f3) = run(&state, &user, MedicationHistory, &patient, args.clone()).await?;
    let mut calls = vec![f1, f2, f3];
    let cohort = match run_optional(&state, &user, SimilarPatients, &patient, args.clone()).await? {
        Ok((out, facts)) => {
            calls.push(facts);
            Ok(cohort_section(&out))
        }
        Err(why) => Err(why),
    };
    let forecast = match run_optional(&state, &user, StateForecast, &patient, args).await? {
        Ok((out, facts)) => {
            calls.push(facts);
            forecast_section(&out)
        }
        Err(why) => Err(why),
    };

    let page = ConsultPage {
        chrome: Chrome::new(&user, "/patients"),
        id_path: crate::href::path_segment(&id),
        id: id.clone(),
        name: journey.patient.name.clone().unwrap_or_else(|| id.clone()),
        generated: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        sex: summary.sex.clone().unwrap_or_else(|| "unknown".into()),
        age: summary.age_at_last_event.map(|a| a.to_string()).unwrap_or_else(|| "?".into()),
        follow_up: summary.follow_up_years.map(|y| format!("{y:.1} years")).unwrap_or_else(|| "—".into()),
        diagnoses: summary
            .diagnoses
            .iter()
            .map(|d| {
                let name = d.display.as_ref().map(|t| t.record_text.clone()).unwrap_or_else(|| d.code.clone());
                format!("{name} (since {})", d.first_recorded)
            })
            .collect(),
        current_medications: summary.current_medications.clone(),
        dmards_tried: summary.dmards_tried,
        das28_latest: activity
            .latest
            .as_ref()
            .map(|p| format!("{:.2} on {}", p.das28, p.date))
            .unwrap_or_else(|| "no readings".into()),
        das28_category: activity.latest.as_ref().map(|p| label(&p.category)).unwrap_or_default(),
        das28_trend: match activity.trend.slope_per_30_days {
            Some(s) => format!("{} ({s:+.3} per 30 days, n = {})", label(&activity.trend.direction), activity.trend.n),
            None => format!("{} (n = {})", label(&activity.trend.direction), activity.trend.n),
        },
        flares: activity.flares.len(),
        readings: activity.readings_in_record,
        labs: summary
            .latest_labs
            .iter()
            .map(|l| LabRow {
                test: l.test.name().to_owned(),
                date: l.date.to_string(),
                value: format!("{} {}", l.value, l.unit),
                flag: label(&l.flag),
            })
            .collect(),
        courses: meds
            .courses
            .iter()
            .map(|c| CourseRow {
                drug: c.drug.clone(),
                class: c.class.as_ref().map(label).unwrap_or_default(),
                start: c.start.to_string(),
                stop: c.stop.map(|d| d.to_string()).unwrap_or_else(|| "ongoing".into()),
                response: c
                    .eular_response_6m
                    .as_ref()
                    .map(|r| {
                        format!(
                            "{} ({:.2} → {:.2}){}",
                            label(&r.response),
                            r.baseline_das28,
                            r.follow_up_das28,
                            if r.stopped_before_follow_up { ", stopped before follow-up" } else { "" }
                        )
                    })
                    .unwrap_or_else(|| "—".into()),
            })
            .collect(),
        latest_note: summary
            .latest_note
            .as_ref()
            .map(|n| format!("{}: {}", n.date, n.text.record_text))
            .unwrap_or_default(),
        plot_svg: plot_of(&journey).to_svg(),
        cohort,
        forecast,
        calls,
    };
    Ok(render(&page)?.into_response())
}

fn figure(f: &Figure, rate: bool) -> String {
    match f {
        Figure::Rate { n, events, percent, low_percent, high_percent } => {
            format!("{percent:.0}% ({low_percent:.0}–{high_percent:.0}%), {events} of {n}")
        }
        Figure::Mean { n, mean, low, high } => format!("{mean:.2} ({low:.2}–{high:.2}), n = {n}"),
        Figure::KaplanMeier { n, events, censored, percent, low_percent, high_percent } => format!(
            "{percent:.0}% ({low_percent:.0}–{high_percent:.0}%), Kaplan-Meier: {events} events, {n} followed, {censored} censored"
        ),
        Figure::WeightedRate { n, effective_n, percent, low_percent, high_percent } => {
            format!("{percent:.0}% ({low_percent:.0}–{high_percent:.0}%), weighted: {n} patients, effective {effective_n}")
        }
        Figure::WeightedMean { n, effective_n, mean, low, high } => {
            format!("{mean:.2} ({low:.2}–{high:.2}), weighted: {n} patients, effective {effective_n}")
        }
        Figure::NotEnoughComparablePatients { n, min_n } => {
            let what = if rate { "patients" } else { "readings" };
            format!("not enough comparable {what} ({n} < {min_n})")
        }
    }
}

fn cohort_section(out: &SimilarPatientsOutput) -> CohortSection {
    CohortSection {
        found: out.similar_patients_found,
        index_date: out.index_date.to_string(),
        twin_version: out.twin_version.chars().take(12).collect(),
        rows: out
            .outcomes
            .iter()
            .map(|o| {
                let rate = o.snapshot_baseline_das28.is_none();
                CohortRow {
                    label: o.label.clone(),
                    similar: figure(&o.similar_patients, rate),
                    head: match &o.twin_head {
                        Some(HeadOut::Rate { percent, observed_percent, low_percent, high_percent, n }) => format!(
                            "{percent}% (held-out patients given a similar figure: {observed_percent}%, \
                             {low_percent}–{high_percent}%, n = {n})"
                        ),
                        Some(HeadOut::Value { das28, low, high, n }) => format!("{das28:.2} ({low:.2}–{high:.2}), n = {n}"),
                        None => o.twin_head_withheld.as_ref().map_or_else(|| "—".into(), |why| format!("— ({why})")),
                    },
                    population: figure(&o.population, rate),
                    snapshot: match (o.snapshot_baseline_percent, o.snapshot_baseline_das28) {
                        (Some(p), _) => format!("{p:.0}%"),
                        (_, Some(d)) => format!("{d:.2}"),
                        _ => "—".into(),
                    },
                }
            })
            .collect(),
        disagreements: out.outcomes.iter().filter_map(|o| o.disagreement.clone()).collect(),
        head_unavailable: out.twin_head_unavailable.clone(),
        reliability_svgs: out
            .head_reliability
            .iter()
            .map(|(label, bins, slope)| twin_core::heads::reliability_svg(label, bins, *slope))
            .collect(),
        method: out.method.to_owned(),
    }
}

fn forecast_section(out: &StateForecastOutput) -> Result<ForecastSection, String> {
    if let Some(why) = &out.insufficient_data {
        return Err(why.clone());
    }
    let states: Vec<String> =
        out.horizons.first().map(|h| h.states.iter().map(|s| label(&s.state)).collect()).unwrap_or_default();
    Ok(ForecastSection {
        as_of: out.as_of.map(|d| d.to_string()).unwrap_or_default(),
        current_state: out.current_state.as_ref().map(label).unwrap_or_default(),
        treatment: out.treatment.as_ref().map(label).unwrap_or_default().replace('_', " "),
        rows: out
            .horizons
            .iter()
            .map(|h| ForecastRow {
                days: h.days,
                cells: h
                    .states
                    .iter()
                    .map(|s| {
                        format!("{:.0}% ({:.0}–{:.0}%)", 100.0 * s.probability, 100.0 * s.low, 100.0 * s.high)
                    })
                    .collect(),
            })
            .collect(),
        states,
        assumption: out.assumption.to_owned(),
        model_patients: out.model_patients,
    })
}
