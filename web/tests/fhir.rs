//! The FHIR endpoint and the living twin through the server (issue 22), in process:
//! a 20-patient virtual cohort is imported, a tiny twin trained and the index built;
//! then a hospital system posts with its integration token.
//!
//! What they prove: only an active integration token is let in (no session, no other
//! scheme); a body that is not a transaction or batch Bundle, or that deletes, is
//! refused before anything is read into the store; a Bundle with one bad resource keeps
//! nothing and says which entry and why, in an `OperationOutcome`, and is audited; a
//! good Bundle, an NDJSON `$import` and an admin's upload each move the touched
//! patient's live point in the index to the new observation without `rdt embed`, and
//! the pages' cohort is reloaded with it.

use std::time::Duration;

use audit_log::{EntryBody, Principal, Role};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Days, NaiveDate, Utc};
use journey::fhir::{Importer, NoProgress};
use journey::{Database, JourneyStore, PatientId, SourceName};
use serde_json::{json, Value};
use tower::ServiceExt;
use twin_core::index::rebuild::rebuild;
use twin_core::index::{IndexConfig, NeighbourIndex, NeighbourQuery, SnapshotKind, SnapshotPlan};
use twin_core::progress::NoProgress as NoTrainProgress;
use twin_core::twin::{load_active, train_and_register, TrainOptions, TrainRequest};
use web::{app, AppState, WebConfig};

struct Fixture {
    dir: tempfile::TempDir,
    state: AppState,
    token: String,
    patients: Vec<String>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    synth::generate(&synth::Params { patients: 20, seed: 7, ..Default::default() }, &export).unwrap();
    let database = Database::Sqlite(dir.path().join("journey.sqlite"));
    let store = JourneyStore::open(&database).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let patients = store.patients().await.unwrap().iter().map(|p| p.patient.id.as_str().to_owned()).collect();

    let state = AppState::open(WebConfig::new(dir.path().to_owned(), database)).await.unwrap();
    let registry = state.registry();
    let by = Principal::new("gov", Role::Governance);
    let request =
        TrainRequest { options: TrainOptions::tiny(), max_patients: None, notes: false, by: by.clone(), until: None };
    train_and_register(&store, dir.path(), &registry, &request, &NoTrainProgress).await.unwrap();
    let model = load_active(dir.path(), &registry).await.unwrap();
    let (index, twins) = (IndexConfig::local(dir.path()), dir.path().join("twins.jsonl"));
    let plan = SnapshotPlan::default();
    rebuild(&store, dir.path(), &registry, &model, &index, &plan, false, &twins, &by, &NoTrainProgress).await.unwrap();
    twin_core::state::StateModel::fit_install(&store, dir.path(), &registry, &by, &NoTrainProgress).await.unwrap();
    store.close().await;
    assert_eq!(state.store().changes_waiting().await.unwrap(), 0, "the rebuild acknowledged the import");

    let source: SourceName = "default".parse().unwrap();
    let token = state.users().add_token("lab-feed", &source).await.unwrap();
    Fixture { dir, state, token, patients }
}

impl Fixture {
    async fn send(&self, req: Request<Body>) -> Response {
        app(self.state.clone()).oneshot(req).await.unwrap()
    }

    fn post(&self, uri: &str, token: Option<&str>, body: String) -> Request<Body> {
        let mut b = Request::builder().method(Method::POST).uri(uri).header(header::CONTENT_TYPE, "application/fhir+json");
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Body::from(body)).unwrap()
    }

    /// The time of `patient`'s live point in the index on disk.
    async fn live_point(&self, patient: &str) -> DateTime<Utc> {
        live_point_in(&NeighbourIndex::open(&IndexConfig::local(self.dir.path())).await.unwrap(), patient).await
    }

    /// The day after which `patient`'s record has nothing yet, plus `days`.
    async fn day_after_last(&self, patient: &str, days: u64) -> NaiveDate {
        let journey = self.state.store().journey(&PatientId::new(patient).unwrap()).await.unwrap().unwrap();
        journey.events.iter().map(|e| e.time).max().unwrap().date_naive() + Days::new(days)
    }
}

async fn live_point_in(index: &NeighbourIndex, patient: &str) -> DateTime<Utc> {
    let (n, dim) = (index.len().await.unwrap(), index.dim().unwrap());
    let query = NeighbourQuery::new(vec![1.0 / (dim as f32).sqrt(); dim], n).kind(SnapshotKind::Live);
    let all = index.search(&query).await.unwrap();
    all.into_iter().find(|p| p.patient.as_str() == patient).map(|p| p.index_time).expect("the patient has a live point")
}

fn crp(id: &str, patient: &str, day: NaiveDate, value: f64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1988-5", "display": "C reactive protein"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": format!("{day}T09:00:00Z"),
        "valueQuantity": {"value": value, "unit": "mg/L", "system": "http://unitsofmeasure.org", "code": "mg/L"}})
}

fn transaction(resources: &[Value]) -> String {
    let entry: Vec<Value> = resources
        .iter()
        .map(|r| {
            let url = format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap());
            json!({"resource": r, "request": {"method": "PUT", "url": url}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entry}).to_string()
}

async fn json_of(res: Response) -> Value {
    let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

fn twins_header(res: &Response) -> String {
    res.headers().get("x-rdt-twins").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Only an active integration token opens `/fhir`: none, another scheme, an unknown
/// token, a session cookie and a disabled token all get 401 with an OperationOutcome.
#[tokio::test]
async fn only_an_active_integration_token_may_post() {
    let f = fixture().await;
    let body = transaction(&[]);
    let res = f.send(f.post("/fhir", None, body.clone())).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get(header::WWW_AUTHENTICATE).unwrap().to_str().unwrap().starts_with("Bearer"));
    assert_eq!(json_of(res).await["resourceType"], "OperationOutcome");
    let mut basic = f.post("/fhir", None, body.clone());
    basic.headers_mut().insert(header::AUTHORIZATION, "Basic YWRtOnB3".parse().unwrap());
    assert_eq!(f.send(basic).await.status(), StatusCode::UNAUTHORIZED);
    let wrong = format!("rdt_it_{}", "0".repeat(64));
    assert_eq!(f.send(f.post("/fhir", Some(&wrong), body.clone())).await.status(), StatusCode::UNAUTHORIZED);
    // An admin's session is not a token.
    f.state.users().add("adm", Role::Admin, "a long test password", &web::auth::PatientAccess::All, false).await.unwrap();
    let s = f.state.users().create_session("adm", Duration::from_secs(600)).await.unwrap();
    let mut with_session = f.post("/fhir", None, body.clone());
    with_session.headers_mut().insert(header::COOKIE, format!("rdt_session={}", s.cookie_value).parse().unwrap());
    assert_eq!(f.send(with_session).await.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(f.send(f.post("/fhir", Some(&f.token), body.clone())).await.status(), StatusCode::OK);
    assert!(f.state.users().disable_token("lab-feed").await.unwrap());
    assert_eq!(f.send(f.post("/fhir", Some(&f.token), body)).await.status(), StatusCode::UNAUTHORIZED);
}

/// What `/fhir` refuses before the store is touched, and a transaction with one
/// refused resource: nothing of it kept, the entry named, the refusal audited.
#[tokio::test]
async fn a_bad_request_keeps_nothing_and_says_where() {
    let f = fixture().await;
    let token = Some(f.token.as_str());
    let res = f.send(f.post("/fhir", token, crp("o", &f.patients[0], NaiveDate::MIN, 1.0).to_string())).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(json_of(res).await["issue"][0]["diagnostics"].as_str().unwrap().contains("got Observation"));
    let collection = json!({"resourceType": "Bundle", "type": "collection", "entry": []}).to_string();
    assert_eq!(f.send(f.post("/fhir", token, collection)).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(f.send(f.post("/fhir", token, "{not json".into())).await.status(), StatusCode::BAD_REQUEST);
    let delete = json!({"resourceType": "Bundle", "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Observation/o1"}}]})
    .to_string();
    let res = f.send(f.post("/fhir", token, delete)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let issue = &json_of(res).await["issue"][0];
    assert_eq!((issue["code"].as_str(), issue["expression"][0].as_str()), (Some("not-supported"), Some("Bundle.entry[0].request.method")));

    // One good observation and one about a patient no import holds: all or nothing.
    let patient = &f.patients[0];
    let day = f.day_after_last(patient, 30).await;
    let body = transaction(&[crp("good-crp", patient, day, 40.0), crp("stray-crp", "nobody-here", day, 2.0)]);
    let res = f.send(f.post("/fhir", token, body)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let outcome = json_of(res).await;
    let issue = &outcome["issue"][0];
    assert_eq!(issue["code"], "business-rule", "{outcome}");
    assert_eq!(issue["expression"][0], "Bundle.entry[1]", "{outcome}");
    let text = issue["diagnostics"].as_str().unwrap();
    assert!(text.contains("nobody-here") && !text.contains(&f.dir.path().display().to_string()), "{text}");
    let journey = f.state.store().journey(&PatientId::new(patient.as_str()).unwrap()).await.unwrap().unwrap();
    assert!(journey.events.iter().all(|e| e.source.resource_id != "good-crp"), "the good half was kept");
    assert_eq!(f.state.store().changes_waiting().await.unwrap(), 0);
    let imports = f.state.audit().entries_of_kinds(&[audit_log::EntryKind::Import]).await.unwrap();
    let last = imports.last().unwrap().parse().unwrap();
    assert_eq!((last.principal.user.as_str(), last.principal.role), ("lab-feed", Role::Integration));
    match &last.body {
        EntryBody::Import { import } => {
            assert_eq!((import.events, import.refused), (0, Some(1)));
            assert!(import.files[0].path.starts_with("POST /fhir") && import.files[0].sha256.is_some(), "{import:?}");
        }
        other => panic!("not an import entry: {other:?}"),
    }
    let leftovers: Vec<_> = std::fs::read_dir(f.dir.path().join("uploads")).unwrap().collect();
    assert!(leftovers.is_empty(), "the request's folder is removed");
}

/// A Bundle, an NDJSON `$import` and an admin's upload each bring the touched
/// patient's twin to the new observation before they answer, and the pages' cohort is
/// reloaded to read it.
#[tokio::test]
async fn every_write_updates_the_touched_twins_without_embed() {
    let f = fixture().await;
    let registry = f.state.registry();
    let tools = tools::ToolContext::for_install(f.state.store().clone(), f.dir.path(), &f.state.config().index, &registry)
        .await
        .unwrap();
    f.state.set_tools(tools);

    // A transaction Bundle.
    let first = &f.patients[0];
    let day = f.day_after_last(first, 30).await;
    let res = f.send(f.post("/fhir", Some(&f.token), transaction(&[crp("push-1", first, day, 55.0)]))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let points = points_of(&f, first).await;
    assert_eq!(twins_header(&res), format!("twins updated: 1 patient re-embedded ({points} index points, 1 batch)"));
    let answer = json_of(res).await;
    assert_eq!((answer["type"].as_str(), answer["entry"][0]["response"]["location"].as_str()), (Some("transaction-response"), Some("Observation/push-1")));
    assert_eq!(f.live_point(first).await.date_naive(), day);

    // The pages' cohort (reloaded in the background) reads the new point.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let cohort = f.state.tools().cohort(tools::ToolName::SimilarPatients).await.unwrap();
        if live_point_in(&cohort.index, first).await.date_naive() == day {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the pages' cohort was not reloaded");
        tokio::task::yield_now().await;
    }

    // NDJSON, as a Bulk export writes it.
    let second = &f.patients[1];
    let day = f.day_after_last(second, 20).await;
    let res = f.send(f.post("/fhir/$import", Some(&f.token), format!("{}\n", crp("push-2", second, day, 12.0)))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(twins_header(&res).starts_with("twins updated: 1 patient re-embedded"), "{}", twins_header(&res));
    let outcome = json_of(res).await;
    assert!(outcome["issue"][0]["diagnostics"].as_str().unwrap().starts_with("imported 1 resources about 1 patients: 1 events"), "{outcome}");
    assert_eq!(f.live_point(second).await.date_naive(), day);

    // An admin's upload on the admin page.
    let third = &f.patients[2];
    let day = f.day_after_last(third, 40).await;
    f.state.users().add("adm", Role::Admin, "a long test password", &web::auth::PatientAccess::All, false).await.unwrap();
    let s = f.state.users().create_session("adm", Duration::from_secs(600)).await.unwrap();
    let cookie = format!("rdt_session={}", s.cookie_value);
    let bytes = format!("{}\n", crp("upload-1", third, day, 70.0));
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"ward.ndjson\"\r\n\
         Content-Type: application/fhir+ndjson\r\n\r\n{bytes}\r\n--b--\r\n"
    );
    let upload = Request::builder()
        .method(Method::POST)
        .uri("/admin/import")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=b")
        .header(header::COOKIE, &cookie)
        .header("x-csrf-token", &s.csrf)
        .body(Body::from(body))
        .unwrap();
    assert_eq!(f.send(upload).await.status(), StatusCode::ACCEPTED);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        let status = Request::builder().uri("/admin/import/status").header(header::COOKIE, &cookie).body(Body::empty());
        let res = f.send(status.unwrap()).await;
        let text = String::from_utf8(axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        if !text.contains("hx-trigger") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "the upload did not finish");
        tokio::task::yield_now().await;
    };
    assert!(status.contains("Twins updated: 1 patient re-embedded"), "{status}");
    assert_eq!(f.live_point(third).await.date_naive(), day);
    assert_eq!(f.state.store().changes_waiting().await.unwrap(), 0);
}

/// How many index points `patient` has now.
async fn points_of(f: &Fixture, patient: &str) -> usize {
    let index = NeighbourIndex::open(&IndexConfig::local(f.dir.path())).await.unwrap();
    let n = index.len().await.unwrap();
    let dim = index.dim().unwrap();
    let mut query = NeighbourQuery::new(vec![1.0 / (dim as f32).sqrt(); dim], n);
    query.one_per_patient = false;
    index.search(&query).await.unwrap().iter().filter(|p| p.patient.as_str() == patient).count()
}

/// A DAS28 reading far above the state model's forecast band, pushed by a hospital
/// system, raises an alert when the patient's twin catches up; the patient list counts
/// it, the journey page says why with the numbers, and a clinician acknowledges it,
/// which the audit trail records.
#[tokio::test]
async fn a_pushed_reading_outside_the_forecast_band_raises_an_alert_a_clinician_acknowledges() {
    use twin_core::state::{distribution_at, point_mass, readings, DiseaseState, StateModel};
    let f = fixture().await;
    let (model, _) = StateModel::load(&StateModel::install_path(f.dir.path())).unwrap();
    // A patient whose latest reading is remission or low, from which high 60 days later
    // is outside the model's 90% band (the rule's precondition, read off the model).
    let mut chosen = None;
    for id in &f.patients {
        let journey = f.state.store().journey(&PatientId::new(id.as_str()).unwrap()).await.unwrap().unwrap();
        let Some(last) = readings(&journey.events).pop() else { continue };
        if !matches!(last.state, DiseaseState::Remission | DiseaseState::Low) {
            continue;
        }
        let p = distribution_at(&model.matrix(last.treatment), point_mass(last.state), 60.0, model.config.step_days);
        if p[0] + p[1] + p[2] >= 0.9 {
            chosen = Some((id.clone(), last.time.date_naive() + Days::new(60)));
            break;
        }
    }
    let (patient, day) = chosen.expect("a patient in low activity");
    let das28 = json!({"resourceType": "Observation", "id": "push-das28", "status": "final",
        "code": {"coding": [{"system": "urn:rdt:code", "code": "das28-esr", "display": "DAS28-ESR score"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": format!("{day}T10:00:00Z"), "valueQuantity": {"value": 8.0, "unit": "{score}"}});
    let res = f.send(f.post("/fhir", Some(&f.token), transaction(&[das28]))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let id = PatientId::new(patient.as_str()).unwrap();
    let alerts = f.state.store().alerts_of(&id).await.unwrap();
    let alert = alerts.iter().find(|a| a.kind == "activity_above_band").unwrap_or_else(|| panic!("{alerts:?}"));
    assert_eq!(alert.raised_on, day);
    assert!(alert.message.starts_with("DAS28 8.0 (high) on"), "{}", alert.message);

    f.state.users().add("clin", Role::Clinician, "a long test password", &web::auth::PatientAccess::All, false).await.unwrap();
    let s = f.state.users().create_session("clin", Duration::from_secs(600)).await.unwrap();
    let cookie = format!("rdt_session={}", s.cookie_value);
    let page = |uri: String| Request::builder().uri(uri).header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
    let text = |res: Response| async move {
        String::from_utf8(axum::body::to_bytes(res.into_body(), 4 << 20).await.unwrap().to_vec()).unwrap()
    };
    let list = text(f.send(page(format!("/patients?q={patient}"))).await).await;
    assert!(list.contains("alert-badge"), "the list counts the open alert");
    let journey_page = text(f.send(page(format!("/patients/{patient}"))).await).await;
    assert!(journey_page.contains("Disease activity above the forecast") && journey_page.contains("DAS28 8.0 (high)"));
    let ack = Request::builder()
        .method(Method::POST)
        .uri(format!("/patients/{patient}/alerts/{}/acknowledge", alert.id))
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}", s.csrf)))
        .unwrap();
    assert_eq!(f.send(ack).await.status(), StatusCode::SEE_OTHER);
    let now = f.state.store().alerts_of(&id).await.unwrap();
    let seen = now.iter().find(|a| a.id == alert.id).unwrap();
    assert_eq!(seen.acknowledged.as_ref().map(|(by, _)| by.as_str()), Some("clin"));
    let access = f.state.audit().entries_of_kinds(&[audit_log::EntryKind::Access]).await.unwrap();
    let last = access.last().unwrap().parse().unwrap();
    match last.body {
        EntryBody::Access { action, detail } => {
            assert_eq!(action, "alert_acknowledged");
            assert!(detail.unwrap().contains("activity_above_band"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(last.patients, [patient.clone()]);
}
