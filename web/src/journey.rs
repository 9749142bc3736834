//! One patient's journey: the plot (DAS28, CRP/ESR, medication bars, note and imaging
//! markers on one time axis), then the courses, notes and imaging in tables. Reading
//! a journey is recorded in the audit log (`access`, action `journey`).

use askama::Template;
use audit_log::{EntryBody, NewEntry};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tools::LabTest;
use journey::{Journey, Modality, PatientId};

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{render, AppError};
use crate::layout::Chrome;
use crate::plot::{Bar, JourneyPlot, Marker, Point};

/// Notes shown on the page (latest first); the rest are counted.
const MAX_NOTES: usize = 20;

pub struct CourseRow {
    pub drug: String,
    pub start: String,
    pub stop: String,
    pub dosage: String,
    pub stop_reason: String,
}

/// A stored early alert as the page shows it.
pub struct AlertRow {
    pub id: i64,
    pub title: String,
    pub raised_on: String,
    pub message: String,
    /// "acknowledged by X on D", or empty while open.
    pub acknowledged: String,
}

pub struct DatedText {
    pub date: String,
    pub title: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "journey.html")]
struct JourneyPage {
    chrome: Chrome,
    id: String,
    /// `id` for the page's links ([`crate::href::path_segment`]).
    id_path: String,
    name: String,
    sex: String,
    birth_date: String,
    age: String,
    events: usize,
    plot_svg: String,
    courses: Vec<CourseRow>,
    notes: Vec<DatedText>,
    notes_total: usize,
    imaging: Vec<DatedText>,
    diagnoses: Vec<DatedText>,
    alerts: Vec<AlertRow>,
}

/// The journey of `id` when this user may read it. An out-of-scope patient gets the
/// same 404 as a missing one, so scope leaks nothing.
pub async fn readable_journey(state: &AppState, user: &CurrentUser, id: &str) -> Result<Journey, AppError> {
    let not_found = || AppError::NotFound { what: "patient", id: id.to_owned() };
    let patient = PatientId::new(id).ok_or_else(not_found)?;
    if !user.may_read(&patient) {
        // The user sees a 404; the trail records the attempt on that patient.
        let reason = format!("{id} is outside {}'s scope", user.name);
        let entry = NewEntry::new(user.principal(), EntryBody::Refusal { reason })
            .session(user.session.clone())
            .patients([id.to_owned()]);
        state.audit().append(entry).await?;
        return Err(not_found());
    }
    state.store().journey(&patient).await?.ok_or_else(not_found)
}

/// Records that `user` read `what` of `patient`.
pub async fn record_access(state: &AppState, user: &CurrentUser, patient: &str, action: &str) -> Result<(), AppError> {
    let entry = NewEntry::new(user.principal(), EntryBody::Access { action: action.to_owned(), detail: None })
        .session(user.session.clone())
        .patients([patient.to_owned()]);
    state.audit().append(entry).await?;
    Ok(())
}

/// The plot's series, read with the same record functions the tools use.
pub fn plot_of(journey: &Journey) -> JourneyPlot {
    let lab = |test: LabTest| -> Vec<Point> {
        tools::record::lab_values(journey, test).0.into_iter().map(|v| Point { time: v.time, value: v.value }).collect()
    };
    // DAS28 when recorded; a record without DAS28 shows its CDAI or SDAI.
    let (scale, scores) = ::journey::clinical::activity::primary_scores(&journey.events).unwrap_or_default();
    JourneyPlot {
        scale,
        das28: scores.iter().map(|r| Point { time: r.time, value: r.score }).collect(),
        crp: lab(LabTest::Crp),
        esr: lab(LabTest::Esr),
        medications: tools::record::courses(journey)
            .iter()
            .map(|c| Bar { label: c.name(), start: c.start, stop: c.stop })
            .collect(),
        notes: journey
            .events
            .iter()
            .filter(|e| e.modality == Modality::Note)
            .map(|e| Marker { time: e.time, label: e.text.as_deref().map(|t| snippet(t, 80)).unwrap_or_default() })
            .collect(),
        imaging: journey
            .events
            .iter()
            .filter(|e| e.modality == Modality::Imaging)
            .map(|e| Marker { time: e.time, label: describe(e) })
            .collect(),
    }
}

fn describe(e: &journey::Event) -> String {
    let name = e.code.display.clone().unwrap_or_else(|| e.code.code.clone());
    match &e.value {
        Some(q) => format!("{name} {}{}", q.value, q.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default()),
        None => name,
    }
}

fn snippet(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max).collect::<String>())
    }
}

pub async fn journey_show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let journey = readable_journey(&state, &user, &id).await?;
    record_access(&state, &user, &id, "journey").await?;
    let p = &journey.patient;
    let notes_all: Vec<_> = journey.events.iter().filter(|e| e.modality == Modality::Note).collect();
    let alerts = state
        .store()
        .alerts_of(&p.id)
        .await?
        .into_iter()
        .map(|a| AlertRow {
            id: a.id,
            title: twin_core::alerts::AlertKind::parse(&a.kind).map_or(a.kind.clone(), |k| k.title().to_owned()),
            raised_on: a.raised_on.to_string(),
            message: a.message,
            acknowledged: a
                .acknowledged
                .map(|(by, at)| format!("acknowledged by {by} on {}", at.format("%Y-%m-%d %H:%M")))
                .unwrap_or_default(),
        })
        .collect();
    let page = JourneyPage {
        alerts,
        chrome: Chrome::new(&user, "/patients"),
        id_path: crate::href::path_segment(&id),
        id: id.clone(),
        name: p.name.clone().unwrap_or_else(|| id.clone()),
        sex: p.sex.clone().unwrap_or_else(|| "unknown".into()),
        birth_date: p.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "unknown".into()),
        age: tools::record::age(&journey).map(|a| a.to_string()).unwrap_or_else(|| "?".into()),
        events: journey.events.len(),
        plot_svg: plot_of(&journey).to_svg(),
        courses: tools::record::courses(&journey)
            .iter()
            .map(|c| CourseRow {
                drug: c.name(),
                start: c.start.format("%Y-%m-%d").to_string(),
                stop: c.stop.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "ongoing".into()),
                dosage: c.dosage.clone().unwrap_or_default(),
                stop_reason: c.stop_reason.clone().unwrap_or_default(),
            })
            .collect(),
        notes_total: notes_all.len(),
        notes: notes_all
            .iter()
            .rev()
            .take(MAX_NOTES)
            .map(|e| DatedText {
                date: e.time.format("%Y-%m-%d").to_string(),
                title: e.code.display.clone().unwrap_or_default(),
                text: e.text.clone().unwrap_or_default(),
            })
            .collect(),
        imaging: journey
            .events
            .iter()
            .filter(|e| e.modality == Modality::Imaging)
            .map(|e| DatedText { date: e.time.format("%Y-%m-%d").to_string(), title: describe(e), text: String::new() })
            .collect(),
        diagnoses: journey
            .events
            .iter()
            .filter(|e| e.modality == Modality::Diagnosis)
            .map(|e| DatedText {
                date: e.time.format("%Y-%m-%d").to_string(),
                title: e.code.display.clone().unwrap_or_else(|| e.code.code.clone()),
                text: format!("{} {}", e.code.system, e.code.code),
            })
            .collect(),
    };
    Ok(render(&page)?.into_response())
}

/// `POST /patients/{id}/alerts/{alert}/acknowledge`: the clinician has seen the alert;
/// recorded in the audit trail (`access`, action `alert_acknowledged`, with the alert).
pub async fn alert_acknowledge(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, alert)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let journey = readable_journey(&state, &user, &id).await?;
    let acked = state
        .store()
        .acknowledge_alert(&journey.patient.id, alert, &user.name)
        .await?
        .ok_or_else(|| AppError::NotFound { what: "open alert", id: alert.to_string() })?;
    let detail = format!("alert {} ({}, {}): {}", acked.id, acked.kind, acked.raised_on, acked.message);
    let entry = NewEntry::new(user.principal(), EntryBody::Access { action: "alert_acknowledged".into(), detail: Some(detail) })
        .session(user.session.clone())
        .patients([id.clone()]);
    state.audit().append(entry).await?;
    Ok(axum::response::Redirect::to(&format!("/patients/{}#alerts", crate::href::path_segment(&id))).into_response())
}

/// The plot alone, as an SVG file (for saving or embedding elsewhere).
pub async fn journey_plot(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let journey = readable_journey(&state, &user, &id).await?;
    record_access(&state, &user, &id, "journey_plot").await?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], plot_of(&journey).to_svg()).into_response())
}
