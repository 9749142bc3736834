//! The clinician's patient list and search (htmx: the table body is re-rendered as
//! the user types).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use journey::Modality;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{render, AppError};
use crate::layout::Chrome;

/// Rows shown at most; the page says how many more matched.
const MAX_ROWS: usize = 200;

pub struct PatientRow {
    pub id: String,
    /// `id` for the row's link ([`crate::href::path_segment`]).
    pub id_path: String,
    pub name: String,
    pub sex: String,
    pub birth_date: String,
    pub events: u64,
    pub das28: u64,
    pub notes: u64,
    pub last_event: String,
    /// Open (unacknowledged) early alerts.
    pub alerts: usize,
}

#[derive(Template)]
#[template(path = "patients.html")]
struct PatientsPage {
    chrome: Chrome,
    q: String,
    rows: Vec<PatientRow>,
    matched: usize,
}

#[derive(Template)]
#[template(path = "patients_rows.html")]
struct PatientRows {
    rows: Vec<PatientRow>,
    matched: usize,
}

#[derive(Deserialize)]
pub struct PatientSearch {
    #[serde(default)]
    q: String,
}

pub async fn patients_list(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    Query(search): Query<PatientSearch>,
) -> Result<Response, AppError> {
    let q = search.q.trim().to_lowercase();
    let all = state.store().patients().await?;
    let matching: Vec<_> = all
        .into_iter()
        .filter(|p| user.may_read(&p.patient.id))
        .filter(|p| {
            q.is_empty()
                || p.patient.id.as_str().to_lowercase().contains(&q)
                || p.patient.name.as_deref().is_some_and(|n| n.to_lowercase().contains(&q))
        })
        .collect();
    let matched = matching.len();
    // A list or a search shows who is in the store: recorded, with the query.
    let detail = if q.is_empty() { format!("{matched} patients") } else { format!("search `{q}`: {matched} patients") };
    let entry = audit_log::NewEntry::new(
        user.principal(),
        audit_log::EntryBody::Access { action: "patient_list".into(), detail: Some(detail) },
    )
    .session(user.session.clone());
    state.audit().append(entry).await?;
    let alerts = state.store().open_alert_counts().await?;
    let rows = matching
        .into_iter()
        .take(MAX_ROWS)
        .map(|p| PatientRow {
            id_path: crate::href::path_segment(p.patient.id.as_str()),
            id: p.patient.id.as_str().to_owned(),
            name: p.patient.name.clone().unwrap_or_default(),
            sex: p.patient.sex.clone().unwrap_or_default(),
            birth_date: p.patient.birth_date.map(|d| d.to_string()).unwrap_or_default(),
            events: p.events,
            das28: p.events_by_modality.get(&Modality::DiseaseActivity).copied().unwrap_or(0),
            notes: p.events_by_modality.get(&Modality::Note).copied().unwrap_or(0),
            last_event: p.last_event.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default(),
            alerts: alerts.get(&p.patient.id).copied().unwrap_or(0),
        })
        .collect();
    if headers.contains_key("hx-request") {
        return Ok(render(&PatientRows { rows, matched })?.into_response());
    }
    let page = PatientsPage { chrome: Chrome::new(&user, "/patients"), q: search.q, rows, matched };
    let Html(body) = render(&page)?;
    Ok(Html(body).into_response())
}
