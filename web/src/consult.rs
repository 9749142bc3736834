//! The consult summary of one patient, printable: the journey in brief and the current
//! status, all from the typed tools (each call audited like the assistant's), with
//! the facts each tool returned under a disclosure. The in silico cohort and the
//! state-model forecast join this page when `twin-core::cohort` and the state model land.

use askama::Template;
use audit_log::{EntryBody, NewEntry};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tools::disease_activity::{DiseaseActivityHistory, DiseaseActivityInput};
use tools::medication_history::{MedicationHistory, MedicationHistoryInput};
use tools::patient_summary::{PatientSummary, PatientSummaryInput};
use tools::{Bounded, PatientArg, Scope, Tool, ToolError};
use twin_core::PatientId;

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

/// Runs one typed tool as the user, on this one patient, and records the call.
async fn run<T: Tool>(
    state: &AppState,
    user: &CurrentUser,
    tool: T,
    patient: &PatientId,
    input: T::Input,
    arguments: serde_json::Value,
) -> Result<(T::Output, ToolFacts), AppError> {
    let principal = user.principal();
    // The session's scope for this call: the one patient the user may read (checked
    // before, by `readable_journey`).
    let scope = Scope::patients([patient.clone()]);
    let out: Bounded<T::Output> =
        tool.call(state.tools(), &principal, &scope, input).await.map_err(|e| tool_error(e, patient.as_str()))?;
    let result = serde_json::to_value(&out).map_err(AppError::internal)?;
    let record = tools::tool_call_record(T::NAME.as_str(), arguments.clone(), result.clone(), T::MAX_BYTES);
    let entry = NewEntry::new(principal, EntryBody::ToolCall { tool: record, cohort: None })
        .session(user.session.clone())
        .patients([patient.as_str().to_owned()]);
    let seq = state.audit().append(entry).await?;
    let facts = ToolFacts {
        name: T::NAME.as_str().to_owned(),
        arguments: arguments.to_string(),
        facts: serde_json::to_string_pretty(&result).unwrap_or_default(),
        audit_seq: seq.0,
    };
    Ok((out.value, facts))
}

pub async fn consult_show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let journey = readable_journey(&state, &user, &id).await?;
    let patient = journey.patient.id.clone();
    let args = serde_json::json!({ "patient": patient.as_str() });
    let arg = || PatientArg(patient.clone());
    let (summary, f1) =
        run(&state, &user, PatientSummary, &patient, PatientSummaryInput { patient: arg() }, args.clone()).await?;
    let (activity, f2) = run(
        &state,
        &user,
        DiseaseActivityHistory,
        &patient,
        DiseaseActivityInput { patient: arg(), window_days: None },
        args.clone(),
    )
    .await?;
    let (meds, f3) =
        run(&state, &user, MedicationHistory, &patient, MedicationHistoryInput { patient: arg() }, args).await?;

    let page = ConsultPage {
        chrome: Chrome::new(&user, "/patients"),
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
        calls: vec![f1, f2, f3],
    };
    Ok(render(&page)?.into_response())
}
