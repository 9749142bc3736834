//! In-process tests of the router (no server, no browser): `app(state).oneshot(..)`.
//! A 20-patient virtual cohort (fixed seed) is imported into a temporary install;
//! sessions are made in the users store directly, so each check is one request.
//!
//! What they prove: the route x role table (every protected route answers only its
//! role; anonymous requests go to the login page or get 401), CSRF rejection, login
//! failure and success (cookie flags), session expiry, patient scope, and that the
//! pages audit what they read.

use std::time::Duration;

use audit_log::{ArtifactKind, ArtifactRef, Digest, EntryBody, NewEntry, Principal, Role};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use tower::ServiceExt;
use journey::fhir::{Importer, NoProgress};
use journey::{Database, JourneyStore};
use web::{app, AppState, WebConfig};

const PASSWORD: &str = "a long test password";

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    patient: String,
    other_patient: String,
}

struct Session {
    cookie: String,
    csrf: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    synth::generate(&synth::Params { patients: 20, seed: 7, ..Default::default() }, &export).unwrap();
    let database = Database::Sqlite(dir.path().join("journey.sqlite"));
    let store = JourneyStore::open(&database).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let patients = store.patients().await.unwrap();
    store.close().await;
    let state = AppState::open(WebConfig::new(dir.path().to_owned(), database)).await.unwrap();
    for (name, role) in
        [("clin", Role::Clinician), ("aud", Role::Auditor), ("gov", Role::Governance), ("adm", Role::Admin)]
    {
        state.users().add(name, role, PASSWORD, &web::auth::PatientAccess::All, false).await.unwrap();
    }
    let patient = patients[0].patient.id.as_str().to_owned();
    let other_patient = patients[1].patient.id.as_str().to_owned();
    // A scoped clinician who may read the first patient only.
    let scoped = journey::PatientId::new(patient.as_str()).unwrap();
    state.users().add("scoped", Role::Clinician, PASSWORD, &web::auth::PatientAccess::Only([scoped].into()), false).await.unwrap();
    // Two activations of an encoder, so there is something to roll back to.
    let gov = Principal::new("gov", Role::Governance);
    let registry = state.registry();
    for (i, name) in ["twin-a", "twin-b"].iter().enumerate() {
        let sha256 = Digest::of(name.as_bytes());
        let artifact = ArtifactRef { kind: ArtifactKind::Encoder, sha256, name: (*name).into(), size_bytes: None };
        registry.pin(&gov, artifact, "test artifact").await.unwrap();
        registry.activate(&gov, ArtifactKind::Encoder, &sha256, &format!("activation {i}")).await.unwrap();
    }
    Fixture { _dir: dir, state, patient, other_patient }
}

impl Fixture {
    async fn session(&self, user: &str, ttl: Duration) -> Session {
        let s = self.state.users().create_session(user, ttl).await.unwrap();
        Session { cookie: format!("rdt_session={}", s.cookie_value), csrf: s.csrf }
    }

    async fn send(&self, req: Request<Body>) -> Response {
        app(self.state.clone()).oneshot(req).await.unwrap()
    }
}

/// A whole login as a browser makes it: the form (for its CSRF cookie), then the
/// post with `name` and `password`.
async fn log_in(f: &Fixture, name: &str, password: &str) -> Response {
    let form = f.send(get("/login", None)).await;
    let cookie = form.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let mut req = post_form("/login", None, Some(&token), &format!("name={name}&password={password}&next="));
    req.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
    f.send(req).await
}

fn get(uri: &str, session: Option<&Session>) -> Request<Body> {
    let mut b = Request::builder().method(Method::GET).uri(uri);
    if let Some(s) = session {
        b = b.header(header::COOKIE, &s.cookie);
    }
    b.body(Body::empty()).unwrap()
}

/// A form post; `csrf` is put in the form's `csrf` field when given.
fn post_form(uri: &str, session: Option<&Session>, csrf: Option<&str>, fields: &str) -> Request<Body> {
    let mut body = fields.to_owned();
    if let Some(token) = csrf {
        body = if body.is_empty() { format!("csrf={token}") } else { format!("{body}&csrf={token}") };
    }
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(s) = session {
        b = b.header(header::COOKIE, &s.cookie);
    }
    b.body(Body::from(body)).unwrap()
}

async fn body_text(res: Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn location(res: &Response) -> String {
    res.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// Every protected route, the role it needs, and what that role gets. Other roles must
/// get 403; anonymous page views a redirect to the login form.
#[tokio::test]
async fn every_route_answers_only_its_role() {
    let f = fixture().await;
    let p = f.patient.clone();
    let sessions = [
        (Role::Clinician, f.session("clin", Duration::from_secs(600)).await),
        (Role::Auditor, f.session("aud", Duration::from_secs(600)).await),
        (Role::Governance, f.session("gov", Duration::from_secs(600)).await),
        (Role::Admin, f.session("adm", Duration::from_secs(600)).await),
    ];
    let gets: Vec<(String, Role, StatusCode)> = vec![
        ("/patients".into(), Role::Clinician, StatusCode::OK),
        ("/patients?q=a".into(), Role::Clinician, StatusCode::OK),
        (format!("/patients/{p}"), Role::Clinician, StatusCode::OK),
        (format!("/patients/{p}/plot.svg"), Role::Clinician, StatusCode::OK),
        (format!("/patients/{p}/consult"), Role::Clinician, StatusCode::OK),
        ("/audit".into(), Role::Auditor, StatusCode::OK),
        ("/audit?kind=model_activated".into(), Role::Auditor, StatusCode::OK),
        ("/audit/entries/0".into(), Role::Auditor, StatusCode::OK),
        ("/governance".into(), Role::Governance, StatusCode::OK),
        ("/admin".into(), Role::Admin, StatusCode::OK),
        ("/admin/import/status".into(), Role::Admin, StatusCode::OK),
        ("/metrics".into(), Role::Admin, StatusCode::OK),
    ];
    for (uri, role, expected) in &gets {
        for (r, s) in &sessions {
            let res = f.send(get(uri, Some(s))).await;
            let want = if r == role { *expected } else { StatusCode::FORBIDDEN };
            assert_eq!(res.status(), want, "GET {uri} as {}", r.as_str());
        }
        let res = f.send(get(uri, None)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "GET {uri} anonymous");
        assert!(location(&res).starts_with("/login?next="), "GET {uri} anonymous goes to the login form");
    }
    // State-changing routes: every other role is refused before anything changes.
    let acknowledge = format!("/patients/{p}/alerts/1/acknowledge");
    let posts: [(&str, Role, &str); 9] = [
        (acknowledge.as_str(), Role::Clinician, ""),
        ("/audit/verify", Role::Auditor, ""),
        ("/audit/sign", Role::Auditor, ""),
        ("/governance/rollback", Role::Governance, "kind=encoder&reason=r"),
        ("/governance/activate", Role::Governance, "kind=encoder&sha256=00&reason=r"),
        ("/governance/pin", Role::Governance, "kind=llm&sha256=00&name=n&reason=r"),
        ("/governance/retire", Role::Governance, "kind=llm&sha256=00&reason=r"),
        ("/admin/users", Role::Admin, "name=x&role=auditor&password=p"),
        ("/admin/backup", Role::Admin, ""),
    ];
    for (uri, role, fields) in posts {
        for (r, s) in &sessions {
            if *r == role {
                continue;
            }
            let res = f.send(post_form(uri, Some(s), Some(&s.csrf), fields)).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "POST {uri} as {}", r.as_str());
        }
        let res = f.send(post_form(uri, None, None, fields)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "POST {uri} anonymous");
    }
    // What needs no login.
    for uri in ["/login", "/healthz", "/static/htmx.min.js", "/static/app.css"] {
        assert_eq!(f.send(get(uri, None)).await.status(), StatusCode::OK, "GET {uri} anonymous");
    }
    // `/` sends each role home.
    for (r, s) in &sessions {
        let res = f.send(get("/", Some(s))).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(!location(&res).is_empty(), "home of {}", r.as_str());
    }
}

#[tokio::test]
async fn htmx_requests_without_a_session_get_401_not_a_redirect() {
    let f = fixture().await;
    let req = Request::builder().uri("/patients?q=x").header("hx-request", "true").body(Body::empty()).unwrap();
    assert_eq!(f.send(req).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn non_get_requests_need_the_sessions_csrf_token() {
    let f = fixture().await;
    let s = f.session("aud", Duration::from_secs(600)).await;
    // No token, a wrong one, another session's.
    assert_eq!(f.send(post_form("/audit/verify", Some(&s), None, "")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(f.send(post_form("/audit/verify", Some(&s), Some("0000"), "")).await.status(), StatusCode::FORBIDDEN);
    let other = f.session("gov", Duration::from_secs(600)).await;
    assert_eq!(f.send(post_form("/audit/verify", Some(&s), Some(&other.csrf), "")).await.status(), StatusCode::FORBIDDEN);
    let mut bad_header = post_form("/audit/verify", Some(&s), None, "");
    bad_header.headers_mut().insert("x-csrf-token", "nope".parse().unwrap());
    assert_eq!(f.send(bad_header).await.status(), StatusCode::FORBIDDEN);
    // The form field and the htmx header both pass.
    let res = f.send(post_form("/audit/verify", Some(&s), Some(&s.csrf), "")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("Verified"));
    let mut htmx = post_form("/audit/verify", Some(&s), None, "");
    htmx.headers_mut().insert("x-csrf-token", s.csrf.parse().unwrap());
    assert_eq!(f.send(htmx).await.status(), StatusCode::OK);
    // Logout is a POST too.
    assert_eq!(f.send(post_form("/logout", Some(&s), None, "")).await.status(), StatusCode::FORBIDDEN);
}

/// The login form's token is a double-submit cookie; a wrong password is a 401 with
/// no session cookie; the right one sets an HttpOnly, SameSite=Strict session cookie.
#[tokio::test]
async fn login_fails_with_a_wrong_password_and_succeeds_with_the_right_one() {
    let f = fixture().await;
    let form = f.send(get("/login", None)).await;
    let set_cookie = form.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    let token = set_cookie.split(';').next().unwrap().trim_start_matches("rdt_login_csrf=").to_owned();
    assert!(body_text(form).await.contains(&token));
    let login = |password: &str, csrf: &str, cookie: bool| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if cookie {
            b = b.header(header::COOKIE, format!("rdt_login_csrf={token}"));
        }
        b.body(Body::from(format!("name=clin&password={}&csrf={csrf}&next=", password.replace(' ', "+")))).unwrap()
    };
    let res = f.send(login("wrong password!!", &token, true)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!res.headers().get_all(header::SET_COOKIE).iter().any(|c| c.to_str().unwrap().starts_with("rdt_session=")));
    assert!(body_text(res).await.contains("Unknown user or wrong password"));
    // The right password without the login cookie, or with another token: refused.
    assert_eq!(f.send(login(PASSWORD, &token, false)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(f.send(login(PASSWORD, "forged", true)).await.status(), StatusCode::FORBIDDEN);

    let res = f.send(login(PASSWORD, &token, true)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/patients");
    let session_cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("rdt_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Strict"));
    let value = session_cookie.split(';').next().unwrap().to_owned();
    let s = Session { cookie: value, csrf: String::new() };
    assert_eq!(f.send(get("/patients", Some(&s))).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_expired_session_goes_back_to_the_login_form() {
    let f = fixture().await;
    let expired = f.session("clin", Duration::ZERO).await;
    let res = f.send(get("/patients", Some(&expired))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?next=/patients");
    let live = f.session("clin", Duration::from_secs(600)).await;
    assert_eq!(f.send(get("/patients", Some(&live))).await.status(), StatusCode::OK);
    // Logging out ends the session.
    let res = f.send(post_form("/logout", Some(&live), Some(&live.csrf), "")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(f.send(get("/patients", Some(&live))).await.status(), StatusCode::SEE_OTHER);
}

/// A scoped clinician sees their patient and gets the same 404 for another patient
/// as for one that does not exist.
#[tokio::test]
async fn a_scoped_clinician_reaches_only_their_patients() {
    let f = fixture().await;
    let s = f.session("scoped", Duration::from_secs(600)).await;
    assert_eq!(f.send(get(&format!("/patients/{}", f.patient), Some(&s))).await.status(), StatusCode::OK);
    let other = f.send(get(&format!("/patients/{}", f.other_patient), Some(&s))).await;
    let missing = f.send(get("/patients/no-such-patient", Some(&s))).await;
    assert_eq!((other.status(), missing.status()), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(f.send(get(&format!("/patients/{}/consult", f.other_patient), Some(&s))).await.status(), StatusCode::NOT_FOUND);
    let list = body_text(f.send(get("/patients", Some(&s))).await).await;
    assert!(list.contains(&f.patient) && !list.contains(&f.other_patient));
    // The trail holds each out-of-scope attempt on the other patient (a missing one
    // too), and the list view with what it showed.
    let entries: Vec<audit_log::AuditEntry> =
        f.state.audit().range(0, 1000).await.unwrap().iter().map(|e| e.parse().unwrap()).collect();
    let refusals: Vec<&audit_log::AuditEntry> =
        entries.iter().filter(|e| matches!(e.body, EntryBody::Refusal { .. }) && e.principal.user == "scoped").collect();
    assert_eq!(refusals.len(), 3, "journey and consult of the other patient, and the missing one");
    assert!(refusals.iter().filter(|e| e.patients == vec![f.other_patient.clone()]).count() == 2);
    assert!(entries.iter().any(|e| matches!(&e.body, EntryBody::Access { action, detail: Some(d) }
        if action == "patient_list" && d == "1 patients")));
}

#[tokio::test]
async fn a_journey_page_draws_the_plot_and_is_audited() {
    let f = fixture().await;
    let s = f.session("clin", Duration::from_secs(600)).await;
    let before = f.state.audit().size().await.unwrap();
    let res = f.send(get(&format!("/patients/{}", f.patient), Some(&s))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(res.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
    let html = body_text(res).await;
    assert!(html.contains("<svg") && html.contains("DAS28"));
    assert_eq!(f.state.audit().size().await.unwrap(), before + 1);
    let entry = f.state.audit().entry(audit_log::Seq(before)).await.unwrap().unwrap().parse().unwrap();
    assert_eq!(entry.patients, vec![f.patient.clone()]);
    assert!(matches!(entry.body, EntryBody::Access { ref action, .. } if action == "journey"));
    // The consult summary records its tool calls: summary, disease activity, medications
    // and the state forecast (which says it has no model here); this install has no twin
    // or index, so the cohort and treatment options sections say what is missing and no
    // cohort or options call is recorded.
    let res = f.send(get(&format!("/patients/{}/consult", f.patient), Some(&s))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = body_text(res).await;
    assert!(html.contains("id=\"cohort-missing\""), "the cohort section names what is missing");
    assert!(html.contains("id=\"options-missing\""), "the treatment options section names what is missing");
    assert!(html.contains("id=\"forecast-missing\""), "the forecast section names what is missing");
    assert_eq!(f.state.audit().size().await.unwrap(), before + 5);
}

#[tokio::test]
async fn a_trace_shows_the_exchange_with_a_verified_proof() {
    let f = fixture().await;
    let who = Principal::new("clin", Role::Clinician);
    let log = f.state.audit();
    let q = log
        .append(NewEntry::new(who.clone(), EntryBody::Question { question: "How is the CRP?".into(), reading: None, follows: None }).session("s1"))
        .await
        .unwrap();
    let call = audit_log::ToolCall::bounded("lab_trend", serde_json::json!({"patient": f.patient, "test": "crp"}), serde_json::json!({"latest": 3.1}), 4096);
    log.append(NewEntry::new(who.clone(), EntryBody::ToolCall { tool: call, cohort: None }).session("s1")).await.unwrap();
    let model = audit_log::ModelVersions {
        model_sha256: Digest::of(b"model"),
        prompt_version: Digest::of(b"prompt"),
        engine: Some("llama-cpp".into()),
    };
    let answer = log
        .append(
            NewEntry::new(who, EntryBody::Answer { answer: "CRP is 3.1 mg/L.".into(), model, cohort: None }).session("s1"),
        )
        .await
        .unwrap();
    log.sign_head().await.unwrap();
    let s = f.session("aud", Duration::from_secs(600)).await;
    let html = body_text(f.send(get(&format!("/audit/entries/{}", answer.0), Some(&s))).await).await;
    assert!(html.contains("id=\"proof-status\">verified"), "{html}");
    assert!(html.contains("How is the CRP?") && html.contains("lab_trend") && html.contains("CRP is 3.1 mg/L."));
    assert!(html.contains(&Digest::of(b"model").to_string()));
    assert!(html.contains(&format!("/audit/entries/{}", q.0)));
}

#[tokio::test]
async fn governance_rolls_back_with_a_reason_and_is_refused_without_one() {
    let f = fixture().await;
    let s = f.session("gov", Duration::from_secs(600)).await;
    let res = f.send(post_form("/governance/rollback", Some(&s), Some(&s.csrf), "kind=encoder&reason=")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(res).await.contains("reason is required"));
    let res = f.send(post_form("/governance/rollback", Some(&s), Some(&s.csrf), "kind=encoder&reason=bad+drift")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let state = f.state.registry().state().await.unwrap();
    assert_eq!(state.active(ArtifactKind::Encoder).unwrap().name, "twin-a");
    let page = body_text(f.send(get("/governance", Some(&s))).await).await;
    assert!(page.contains("bad drift") && page.contains("rolled back"));
}

#[tokio::test]
async fn metrics_count_requests_per_route() {
    let f = fixture().await;
    let s = f.session("adm", Duration::from_secs(600)).await;
    let health = body_text(f.send(get("/healthz", None)).await).await;
    assert_eq!(health, "ok\n", "public: no patient count");
    f.send(get("/healthz", None)).await;
    let text = body_text(f.send(get("/metrics", Some(&s))).await).await;
    assert!(text.contains("rdt_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"), "{text}");
    assert!(text.contains("rdt_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 2"));
}

/// The chat panel with a scripted model (the real model's browser run is in the
/// root `tests/web_browser.rs`): the question starts, its answer streams over SSE to
/// the asking session only and once, carries its audit entry, and the patient asked
/// about is the page's patient; bad questions, other roles and out-of-scope patients
/// are refused before the assistant is asked.
#[tokio::test]
async fn a_question_streams_its_answer_to_the_asking_session_once() {
    use std::sync::Arc;

    let f = fixture().await;
    let (model, assistant) = scripted_chat(&f, "The latest CRP and its flag are in the facts below.").await;
    let clin = f.session("clin", Duration::from_secs(600)).await;
    let ask_uri = format!("/patients/{}/ask", f.patient);

    // Before the model is loaded the panel says so; nothing is asked.
    let res = f.send(post_form(&ask_uri, Some(&clin), Some(&clin.csrf), "question=What+is+the+latest+CRP%3F")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body_text(res).await.contains("still loading"));
    f.state.set_assistant(web::AssistantSlot::Ready(Arc::new(assistant)));

    let res = f.send(post_form(&ask_uri, Some(&clin), Some(&clin.csrf), "question=What+is+the+latest+CRP%3F")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let fragment = body_text(res).await;
    let start = fragment.find("data-sse=\"").expect("the fragment names its stream") + "data-sse=\"".len();
    let stream = fragment[start..].split('"').next().unwrap().to_owned();
    assert!(stream.starts_with("/chat/") && stream.ends_with("/events"), "{stream}");

    // Another clinician's session (one who may read this patient) does not get the answer.
    let other = f.session("scoped", Duration::from_secs(600)).await;
    assert_eq!(f.send(get(&stream, Some(&other))).await.status(), StatusCode::NOT_FOUND);

    let res = f.send(get(&stream, Some(&clin))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let events = body_text(res).await;
    assert!(events.contains("event: token"), "tokens stream before the answer: {events}");
    let answer = &events[events.find("event: answer").expect("the answer event ends the stream")..];
    assert!(answer.contains("lab_trend"), "the tool called is shown: {answer}");
    let seq: u64 = answer
        .split("/audit/entries/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("the answer links its audit entry");
    let entry = f.state.audit().entry(audit_log::Seq(seq)).await.unwrap().expect("the linked entry exists");
    assert_eq!(entry.kind, "answer");
    assert!(entry.text.contains(&f.patient), "the answer is recorded against the page's patient");
    assert_eq!(f.send(get(&stream, Some(&clin))).await.status(), StatusCode::NOT_FOUND, "a stream is read once");
    let asked = model.requests().len();

    // Refused before the model is asked: an empty question, another role, a patient out of scope.
    let res = f.send(post_form(&ask_uri, Some(&clin), Some(&clin.csrf), "question=+")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let aud = f.session("aud", Duration::from_secs(600)).await;
    let res = f.send(post_form(&ask_uri, Some(&aud), Some(&aud.csrf), "question=CRP%3F")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let scoped = other;
    let out_of_scope = format!("/patients/{}/ask", f.other_patient);
    let res = f.send(post_form(&out_of_scope, Some(&scoped), Some(&scoped.csrf), "question=CRP%3F")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(model.requests().len(), asked, "no refused question reached the model");
}

/// Follow-ups on the chat panel (issue 21): "And the ESR?" after a CRP question on
/// one patient's page is read against it (the panel says as what, and the question's
/// entry links the one before), while the same words on another patient's page in
/// the same session start a conversation of their own, with nothing carried.
#[tokio::test]
async fn a_follow_up_on_the_panel_reads_against_the_turn_before_on_that_page_only() {
    let f = fixture().await;
    let (_model, governed) = scripted_chat(&f, "The record does not show that.").await;
    f.state.set_assistant(web::AssistantSlot::Ready(std::sync::Arc::new(governed)));
    let clin = f.session("clin", Duration::from_secs(600)).await;
    let (_, first) = ask_on_the_page(&f, &clin, &f.patient, "What is the latest CRP?").await.expect("answered");
    let (first_question, first_leaf) = question_of(&f, &first).await;
    assert!(matches!(first_question.body, EntryBody::Question { follows: None, .. }));
    let (html, second) = ask_on_the_page(&f, &clin, &f.patient, "And the ESR?").await.expect("answered");
    let read_as = format!("A follow-up of question #{}, read as: the latest ESR", first_question.seq.0);
    assert!(html.contains(&read_as), "{html}");
    let (second_question, _) = question_of(&f, &second).await;
    let EntryBody::Question { follows: Some(link), reading: Some(reading), .. } = &second_question.body else {
        panic!("the follow-up links the question before: {:?}", second_question.body);
    };
    assert_eq!((link.seq, link.entry, link.read_against), (first_question.seq, first_leaf, Some(first_question.seq)));
    assert_eq!(reading["concept"]["test"], "esr");

    let (html, other) = ask_on_the_page(&f, &clin, &f.other_patient, "And the ESR?").await.expect("answered");
    assert!(!html.contains("A follow-up of question"), "{html}");
    let (other_question, _) = question_of(&f, &other).await;
    assert!(matches!(other_question.body, EntryBody::Question { follows: None, .. }), "{:?}", other_question.body);
    assert_eq!(other_question.patients, vec![f.other_patient.clone()]);
}

/// The question entry of an answer (the latest question of its session before it),
/// and that entry's leaf hash.
async fn question_of(f: &Fixture, answer: &audit_log::AuditEntry) -> (audit_log::AuditEntry, Digest) {
    let entries = f.state.audit().page(-1, 10_000).await.unwrap();
    let question = entries
        .iter()
        .map(|e| e.parse().unwrap())
        .filter(|e| e.seq < answer.seq && e.session == answer.session && e.kind() == audit_log::EntryKind::Question)
        .last()
        .expect("the answer's question");
    let leaf = entries[question.seq.0 as usize].computed_leaf_hash();
    (question, leaf)
}

/// The chat panel's assistant on a scripted model that picks the CRP trend and leads
/// with `lead`, the registry's active LLM as `rdt setup` leaves it (the slot is the
/// caller's to fill), and the model, whose requests a test reads.
async fn scripted_chat(
    f: &Fixture,
    lead: &'static str,
) -> (std::sync::Arc<assistant_eval::testing::ScriptedModel>, assistant::GovernedAssistant) {
    use std::sync::Arc;

    use assistant::{Assistant, ChatModel as _, GovernedAssistant, ModelPolicy, ToolRetriever};
    use assistant_eval::testing::{KeywordEmbedder, ScriptedModel, Step, VersionedLoader};
    use serde_json::json;

    let model = Arc::new(ScriptedModel::new(move |step, _| match step {
        Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
        Step::Arguments { .. } => json!({"test": "crp"}).to_string(),
        Step::Answer { .. } => lead.into(),
        _ => json!({"term": "none"}).to_string(),
    }));
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let assistant = Assistant::new(model.clone(), f.state.tools(), f.state.audit().clone(), retriever);
    let version: Digest = model.model_sha256().parse().unwrap();
    pin_and_activate_llm(f, "scripted.gguf", version).await;
    let loader = Arc::new(VersionedLoader::new(vec![model.clone()]));
    (model, GovernedAssistant::new(assistant, f.state.registry(), loader, ModelPolicy::FollowActive))
}

/// Pins an LLM artifact of `version` and makes it the active one.
async fn pin_and_activate_llm(f: &Fixture, name: &str, version: Digest) {
    let gov = Principal::new("gov", Role::Governance);
    let artifact = ArtifactRef { kind: ArtifactKind::Llm, sha256: version, name: name.into(), size_bytes: None };
    f.state.registry().pin(&gov, artifact, "test double").await.unwrap();
    f.state.registry().activate(&gov, ArtifactKind::Llm, &version, "test double").await.unwrap();
}

/// What the chat panel gave for one question: the answer's audit entry, or the
/// notice shown instead.
async fn ask_on_the_panel(f: &Fixture, clin: &Session, question: &str) -> Result<audit_log::AuditEntry, String> {
    ask_on_the_page(f, clin, &f.patient, question).await.map(|(_, entry)| entry)
}

/// What the chat panel of `patient`'s page gave for one question: the rendered answer
/// and its audit entry, or the notice shown instead.
async fn ask_on_the_page(
    f: &Fixture,
    clin: &Session,
    patient: &str,
    question: &str,
) -> Result<(String, audit_log::AuditEntry), String> {
    let ask_uri = format!("/patients/{patient}/ask");
    let form = format!("question={}", web_form_escape(question));
    let res = f.send(post_form(&ask_uri, Some(clin), Some(&clin.csrf), &form)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let fragment = body_text(res).await;
    let Some(start) = fragment.find("data-sse=\"") else {
        return Err(fragment);
    };
    let stream = fragment[start + "data-sse=\"".len()..].split('"').next().unwrap().to_owned();
    let events = body_text(f.send(get(&stream, Some(clin))).await).await;
    let answer = &events[events.find("event: answer").expect("the answer event ends the stream")..];
    let seq: u64 = answer
        .split("/audit/entries/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the answer links its audit entry: {answer}"));
    let entry = f.state.audit().entry(audit_log::Seq(seq)).await.unwrap().expect("the linked entry exists");
    Ok((answer.to_owned(), entry.parse().unwrap()))
}

fn web_form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The model version an answer entry records.
fn answered_by(entry: &audit_log::AuditEntry) -> Digest {
    match &entry.body {
        EntryBody::Answer { model, .. } => model.model_sha256,
        other => panic!("expected an answer entry, got {other:?}"),
    }
}

/// Issue 18, "governance governs the running model": the running server's next
/// answer comes from the registry's active LLM. Two versions (test doubles keyed by
/// version, behind the same `GovernedAssistant` and chat route `rdt serve` uses) are
/// pinned; A is active and answers. A rollback on the governance page makes B the
/// active one, and the next question is answered by B without a restart, the switch
/// recorded as a `model_loaded` entry naming A -> B and the rollback that caused it.
/// Retiring B from another handle on the same database (as `rdt models retire` in
/// another process does) leaves none active: the next question is refused with a
/// message saying so, audited, and never reaches B. Activating A answers again.
#[tokio::test]
async fn rolling_back_the_llm_changes_what_answers_next() {
    use std::sync::Arc;

    use assistant::{Assistant, ChatModel, GovernedAssistant, ModelPolicy, ToolRetriever};
    use assistant_eval::testing::{KeywordEmbedder, ScriptedModel, Step, VersionedLoader};
    use serde_json::json;

    let f = fixture().await;
    let script = |step: &Step, _: &assistant::ChatRequest| match step {
        Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
        Step::Arguments { .. } => json!({"test": "crp"}).to_string(),
        Step::Answer { .. } => "The latest CRP and its flag are in the facts below.".into(),
        _ => json!({"term": "none"}).to_string(),
    };
    let (version_a, version_b) = (Digest::of(b"llm version a"), Digest::of(b"llm version b"));
    let model_a = Arc::new(ScriptedModel::new(script).with_sha256(&version_a));
    let model_b = Arc::new(ScriptedModel::new(script).with_sha256(&version_b));
    // B was active before A, so rolling back from A restores B.
    pin_and_activate_llm(&f, "b.gguf", version_b).await;
    pin_and_activate_llm(&f, "a.gguf", version_a).await;

    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let first = Assistant::new(model_a.clone(), f.state.tools(), f.state.audit().clone(), retriever);
    let models: Vec<Arc<dyn ChatModel>> = vec![model_a.clone(), model_b.clone()];
    let loader = Arc::new(VersionedLoader::new(models));
    let governed = GovernedAssistant::new(first, f.state.registry(), loader.clone(), ModelPolicy::FollowActive);
    f.state.set_assistant(web::AssistantSlot::Ready(Arc::new(governed)));
    let clin = f.session("clin", Duration::from_secs(600)).await;

    let answer = ask_on_the_panel(&f, &clin, "What is the latest CRP?").await.expect("A answers");
    assert_eq!(answered_by(&answer), version_a);
    assert!(loader.loads().is_empty(), "A was running already");
    let asked_a = model_a.requests().len();

    // Roll back on the governance page: B is active, and answers the next question.
    let gov = f.session("gov", Duration::from_secs(600)).await;
    let res = f.send(post_form("/governance/rollback", Some(&gov), Some(&gov.csrf), "kind=llm&reason=A+misreads+CRP")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let rollback = f.state.registry().state().await.unwrap().last_change(ArtifactKind::Llm).unwrap();
    let answer = ask_on_the_panel(&f, &clin, "What is the latest CRP?").await.expect("B answers");
    assert_eq!(answered_by(&answer), version_b, "the rollback changed what answers next");
    assert_eq!(model_a.requests().len(), asked_a, "A was not asked again");
    assert!(!model_b.requests().is_empty());
    assert_eq!(loader.loads(), vec![version_b.to_hex()], "B was loaded once");

    // The switch is in the trail: which version ran before, which runs now, and why.
    let loaded = f.state.audit().entries_of_kinds(&[audit_log::EntryKind::ModelLoaded]).await.unwrap();
    assert_eq!(loaded.len(), 1);
    let switch = loaded[0].parse().unwrap();
    assert_eq!(switch.principal.role, Role::System);
    match &switch.body {
        EntryBody::ModelLoaded { load } => {
            assert_eq!((load.previous, load.artifact.sha256, load.cause), (Some(version_a), version_b, Some(rollback)));
            assert!(load.reason.contains("rolled back by gov") && load.reason.contains("A misreads CRP"), "{}", load.reason);
        }
        other => panic!("expected a model_loaded entry, got {other:?}"),
    }
    assert!(switch.seq < answer.seq, "switched before B answered");
    let page = body_text(f.send(get("/governance", Some(&gov))).await).await;
    let running = &page[page.find("id=\"running-llm\"").expect("the page shows what answers here")..];
    assert!(running[..200].contains(&version_b.to_hex()[..12]), "{}", &running[..200]);

    // Retire B from another handle on the same database, as `rdt models retire` does.
    let cli_log = audit_log::AuditLog::open_for_data_dir(&f.state.config().database.url(), &f.state.config().data_dir)
        .await
        .unwrap();
    let cli = audit_log::ModelRegistry::new(cli_log.clone());
    let governance = Principal::new("grace", Role::Governance);
    cli.retire(&governance, ArtifactKind::Llm, &version_b, "B withdrawn").await.unwrap();
    let asked_b = model_b.requests().len();
    let notice = ask_on_the_panel(&f, &clin, "What is the latest CRP?").await.expect_err("refused");
    assert!(notice.contains("the active model was retired"), "{notice}");
    assert!(notice.contains("must activate another"), "{notice}");
    assert_eq!(model_b.requests().len(), asked_b, "the retired version was not asked");
    let last_seq = audit_log::Seq(f.state.audit().size().await.unwrap() - 1);
    let last = f.state.audit().entry(last_seq).await;
    let last = last.unwrap().unwrap().parse().unwrap();
    assert!(matches!(&last.body, EntryBody::Refusal { reason } if reason.contains("retired")), "{last:?}");

    // Until a governance user activates one: then it answers again.
    cli.activate(&governance, ArtifactKind::Llm, &version_a, "A fixed").await.unwrap();
    cli_log.close().await;
    let answer = ask_on_the_panel(&f, &clin, "What is the latest CRP?").await.expect("A answers again");
    assert_eq!(answered_by(&answer), version_a);
}

/// A server started before any LLM is active waits: questions are refused saying
/// none is active, and the first question after a governance user activates one is
/// answered by it (no restart), the load recorded.
#[tokio::test]
async fn a_server_with_no_active_llm_answers_once_one_is_activated() {
    use std::sync::Arc;

    use assistant::{AssistantBase, ChatModel, GovernedAssistant, ToolRetriever};
    use assistant_eval::testing::{KeywordEmbedder, ScriptedModel, Step, VersionedLoader};
    use serde_json::json;

    let f = fixture().await;
    let version = Digest::of(b"llm version a");
    let model = Arc::new(
        ScriptedModel::new(|step, _| match step {
            Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
            Step::Arguments { .. } => json!({"test": "crp"}).to_string(),
            Step::Answer { .. } => "The latest CRP and its flag are in the facts below.".into(),
            _ => json!({"term": "none"}).to_string(),
        })
        .with_sha256(&version),
    );
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let base = AssistantBase::new(f.state.tools(), f.state.audit().clone(), retriever);
    let models: Vec<Arc<dyn ChatModel>> = vec![model.clone()];
    let governed = GovernedAssistant::waiting(base, f.state.registry(), Arc::new(VersionedLoader::new(models)));
    f.state.set_assistant(web::AssistantSlot::Ready(Arc::new(governed)));
    let clin = f.session("clin", Duration::from_secs(600)).await;

    let notice = ask_on_the_panel(&f, &clin, "What is the latest CRP?").await.expect_err("none active");
    assert!(notice.contains("no LLM is active"), "{notice}");
    assert!(model.requests().is_empty());

    pin_and_activate_llm(&f, "a.gguf", version).await;
    let answer = ask_on_the_panel(&f, &clin, "What is the latest CRP?").await.expect("answered once active");
    assert_eq!(answered_by(&answer), version);
    let loaded = f.state.audit().entries_of_kinds(&[audit_log::EntryKind::ModelLoaded]).await.unwrap();
    assert_eq!(loaded.len(), 1, "the first load is recorded");
}

/// A multipart upload of one file under `name`, with the htmx CSRF header.
fn upload(uri: &str, session: &Session, name: &str, bytes: &[u8]) -> Request<Body> {
    let boundary = "rdt-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"conceptmap\"; filename=\"{name}\"\r\n\
         Content-Type: application/json\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::COOKIE, &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .body(Body::from(body))
        .unwrap()
}

/// An admin uploads a hospital's ConceptMap: it is imported, audited as that admin
/// with its sha256, listed on the admin page with the coverage; a bad one is refused
/// naming the element and field; a clinician may not upload.
#[tokio::test]
async fn an_admin_uploads_a_concept_map() {
    let f = fixture().await;
    let map = br#"{"resourceType":"ConceptMap","url":"urn:example:hospital","version":"3",
      "group":[{"source":"urn:oid:1.2.3","target":"urn:rdt:code","element":[
        {"code":"D28","display":"DAS 28","target":[{"code":"das28-esr","equivalence":"equivalent"}]}]}]}"#;
    let adm = f.session("adm", Duration::from_secs(600)).await;
    let res = f.send(upload("/admin/terminology", &adm, "hospital-map.json", map)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = body_text(res).await;
    assert!(text.contains("Imported ConceptMap urn:example:hospital (1 mappings"), "{text}");
    let page = body_text(f.send(get("/admin", Some(&adm))).await).await;
    assert!(page.contains("urn:example:hospital") && page.contains("id=\"coverage\""), "the map and the coverage are listed");

    let entries = f.state.audit().entries_of_kinds(&[audit_log::EntryKind::TerminologyImported]).await.unwrap();
    let entry: audit_log::AuditEntry = entries.last().expect("the upload is audited").parse().unwrap();
    assert_eq!(entry.principal.user, "adm");
    match &entry.body {
        EntryBody::TerminologyImported { map: record } => {
            use sha2::Digest as _;
            assert_eq!(record.sha256, hex::encode(sha2::Sha256::digest(map)));
            assert_eq!(record.url, "urn:example:hospital");
        }
        other => panic!("{other:?}"),
    }

    let bad = String::from_utf8_lossy(map).replace("das28-esr", "das28");
    let text = body_text(f.send(upload("/admin/terminology", &adm, "bad.json", bad.as_bytes())).await).await;
    assert!(text.contains("group[0].element[0]") && text.contains("target[0].code"), "{text}");

    let clin = f.session("clin", Duration::from_secs(600)).await;
    assert_eq!(f.send(upload("/admin/terminology", &clin, "m.json", map)).await.status(), StatusCode::FORBIDDEN);
}

/// Wrong passwords are throttled per account (429 with Retry-After, unhashed) and, at
/// the 20th attempt in the window, lock the account even for the right password until
/// an admin unlocks it; every attempt is in the audit trail.
#[tokio::test]
async fn failed_logins_are_throttled_locked_and_audited() {
    let f = fixture().await;
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let res = log_in(&f, "clin", "wrong-password").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key(header::RETRY_AFTER));
        }
        statuses.push(res.status());
    }
    assert!(statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert!(statuses[5..20].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!(statuses[20], StatusCode::FORBIDDEN, "locked after 20 attempts");
    // The right password does not open a locked account.
    assert_eq!(log_in(&f, "clin", PASSWORD).await.status(), StatusCode::FORBIDDEN);

    let actions: Vec<String> = f
        .state
        .audit()
        .entries_of_kinds(&[audit_log::EntryKind::Access])
        .await
        .unwrap()
        .iter()
        .filter_map(|e| match e.parse().unwrap().body {
            EntryBody::Access { action, .. } if action.starts_with("login") || action == "account_locked" => Some(action),
            _ => None,
        })
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "login_failed").count(), 5);
    assert_eq!(actions.iter().filter(|a| *a == "login_throttled").count(), 15);
    assert_eq!(actions.iter().filter(|a| *a == "account_locked").count(), 1);
    assert_eq!(actions.iter().filter(|a| *a == "login_locked").count(), 2);

    // An admin unlocks it; the right password works again and that login is audited.
    let adm = f.session("adm", Duration::from_secs(600)).await;
    let res = f.send(post_form("/admin/users/unlock", Some(&adm), Some(&adm.csrf), "name=clin")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(log_in(&f, "clin", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let last = f.state.audit().entries_of_kinds(&[audit_log::EntryKind::Access]).await.unwrap();
    let last: audit_log::AuditEntry = last.last().unwrap().parse().unwrap();
    assert!(matches!(last.body, EntryBody::Access { ref action, .. } if action == "login"), "{last:?}");
    assert_eq!(last.principal.user, "clin");
}

/// An admin disables a user from the admin page: the user's open session ends at
/// once, the right password no longer logs in (after it is checked, so a stranger
/// learns nothing), and both are audited; enabling lets them in again. Adding a user
/// without choosing a scope is refused.
#[tokio::test]
async fn a_disabled_user_is_out_at_once_and_the_admin_must_choose_a_scope() {
    let f = fixture().await;
    let clin = f.session("clin", Duration::from_secs(600)).await;
    assert_eq!(f.send(get("/patients", Some(&clin))).await.status(), StatusCode::OK);
    let adm = f.session("adm", Duration::from_secs(600)).await;
    let res = f.send(post_form("/admin/users/disable", Some(&adm), Some(&adm.csrf), "name=clin&action=disable")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("Disabled"), "{}", location(&res));
    assert_eq!(f.send(get("/patients", Some(&clin))).await.status(), StatusCode::SEE_OTHER, "the session ended");
    let refused = log_in(&f, "clin", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(body_text(refused).await.contains("disabled"));
    let res = f.send(post_form("/admin/users/disable", Some(&adm), Some(&adm.csrf), "name=clin&action=enable")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(log_in(&f, "clin", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let actions: Vec<String> = f
        .state
        .audit()
        .entries_of_kinds(&[audit_log::EntryKind::Access])
        .await
        .unwrap()
        .iter()
        .filter_map(|e| match e.parse().unwrap().body {
            EntryBody::Access { action, .. } if action.starts_with("user_") || action.starts_with("login") => Some(action),
            _ => None,
        })
        .collect();
    assert_eq!(actions, ["user_disabled", "login_disabled", "user_enabled", "login"]);

    // No patients named and "all patients" unchecked: refused, nobody added.
    let fields = "name=newbie&role=clinician&password=a+long+password&patients=";
    let res = f.send(post_form("/admin/users", Some(&adm), Some(&adm.csrf), fields)).await;
    assert!(location(&res).contains("error=") && location(&res).contains("which%20patients"), "{}", location(&res));
    assert!(f.state.users().user("newbie").await.unwrap().is_none());
    let res = f.send(post_form("/admin/users", Some(&adm), Some(&adm.csrf), &format!("{fields}&all_patients=1"))).await;
    assert!(location(&res).contains("Added"), "{}", location(&res));
}

fn fhir_upload_body(boundary: &str, name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n\
         Content-Type: application/fhir+json\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

fn import_request(session: &Session, body: Body) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/admin/import")
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=rdt-import")
        .header(header::COOKIE, &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .body(body)
        .unwrap()
}

/// Waits (yielding, bounded) until the background import has finished; its status.
async fn finished_import(state: &AppState, adm: &Session) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let text = body_text(app(state.clone()).oneshot(get("/admin/import/status", Some(adm))).await.unwrap()).await;
        if !text.contains("hx-trigger") || std::time::Instant::now() > deadline {
            return text;
        }
        tokio::task::yield_now().await;
    }
}

/// Uploads stream to disk: one import at a time even when two start together (the
/// second is refused while the first is still arriving), an upload over the limit is
/// refused with 413 and leaves nothing behind, and what the import says names the
/// uploaded file, never where the server keeps it.
#[tokio::test]
async fn uploads_stream_one_at_a_time_within_the_limit_and_hide_server_paths() {
    let f = fixture().await;
    let adm = f.session("adm", Duration::from_secs(600)).await;
    let bad_fhir = br#"{"resourceType":"Bundle","type":"collection","entry":[{"resource": oops"#;
    let body = fhir_upload_body("rdt-import", "ward-export.json", bad_fhir);
    let (head, tail) = body.split_at(60);

    // The first upload arrives slowly: its second chunk is accepted only once the
    // handler has read the first, i.e. holds the import slot.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let slow = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let first = tokio::spawn(app(f.state.clone()).oneshot(import_request(&adm, slow)));
    tx.send(Ok(axum::body::Bytes::copy_from_slice(head))).await.unwrap();
    tx.send(Ok(axum::body::Bytes::copy_from_slice(&tail[..10]))).await.unwrap();
    let second = f.send(import_request(&adm, Body::from(body.clone()))).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert!(body_text(second).await.contains("already running"));
    tx.send(Ok(axum::body::Bytes::copy_from_slice(&tail[10..]))).await.unwrap();
    drop(tx);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::ACCEPTED);
    let status = finished_import(&f.state, &adm).await;
    let data_dir = f._dir.path().display().to_string();
    assert!(status.contains("ward-export.json"), "{status}");
    assert!(!status.contains(&data_dir) && !status.contains("uploads/"), "a server path is shown: {status}");

    // A server with a 1 KiB limit: a 4 KiB upload is refused, nothing is left behind,
    // and the slot is free again for an upload within the limit.
    let mut config = WebConfig::new(f._dir.path().to_owned(), Database::Sqlite(f._dir.path().join("journey.sqlite")));
    config.max_upload_bytes = 1024;
    let small = AppState::open(config).await.unwrap();
    let uploads = f._dir.path().join("uploads");
    let before: Vec<_> = std::fs::read_dir(&uploads).unwrap().map(|e| e.unwrap().file_name()).collect();
    let big = fhir_upload_body("rdt-import", "big.ndjson", &vec![b'x'; 4096]);
    let res = app(small.clone()).oneshot(import_request(&adm, Body::from(big))).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let text = body_text(res).await;
    assert!(text.contains("limit of 1024 bytes") && text.contains("rdt import"), "{text}");
    let after: Vec<_> = std::fs::read_dir(&uploads).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "the refused upload left files behind");
    let res = app(small.clone()).oneshot(import_request(&adm, Body::from(body))).await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    finished_import(&small, &adm).await;
}

/// A patient id from a store an earlier version filled (no FHIR id syntax then) goes
/// into the pages' links percent-encoded, so the link leads to that patient and
/// nowhere else, and the id is shown HTML-escaped (hardening issue 18).
#[tokio::test]
async fn ids_from_earlier_versions_are_encoded_in_links() {
    let f = fixture().await;
    let id = journey::PatientId::new("old id/1?x=\"y\"").unwrap();
    let mut batch = f.state.store().begin().await.unwrap();
    let mut file = batch.file().await.unwrap();
    file.upsert_patients(&[journey::PatientRecord::new(id.clone())]).await.unwrap();
    file.commit().await.unwrap();
    batch.commit().await.unwrap();
    let encoded = "old%20id%2F1%3Fx%3D%22y%22";

    let clin = f.session("clin", Duration::from_secs(600)).await;
    let list = body_text(f.send(get("/patients", Some(&clin))).await).await;
    assert!(list.contains(&format!("href=\"/patients/{encoded}\"")), "{list}");
    assert!(list.contains("<code>old id/1?x=&#34;y&#34;</code>") || list.contains("<code>old id/1?x=&quot;y&quot;</code>"), "{list}");

    let res = f.send(get(&format!("/patients/{encoded}"), Some(&clin))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = body_text(res).await;
    assert!(page.contains(&format!("href=\"/patients/{encoded}/consult\"")), "{page}");
    assert!(page.contains(&format!("hx-post=\"/patients/{encoded}/ask\"")), "{page}");
}
