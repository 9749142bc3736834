//! The FHIR R4 endpoint a hospital system pushes records to.
//!
//! - `POST /fhir`: a `transaction` or `batch` Bundle (`application/fhir+json`);
//! - `POST /fhir/$import`: FHIR NDJSON, one resource per line (`application/fhir+ndjson`),
//!   as a Bulk Data export writes it.
//!
//! Each request is authenticated by an integration token (`Authorization: Bearer
//! rdt_it_...`, [`crate::auth::tokens`]): the role that writes records and nothing
//! else; sessions and cookies are not accepted here. The body streams to a private
//! folder under `<data-dir>/uploads/` (counted against the server's upload limit) and
//! goes through the same importer as `rdt import`, reading ids within the token's
//! source, **all or nothing**: a resource that fails or is refused (another source's
//! patient, a patient no import holds) rolls the whole request back, and the answer is
//! an `OperationOutcome` with one issue per problem and where it is. Entries that
//! delete or patch are refused up front: the record is corrected by sending the
//! resource again.
//!
//! Requests apply one at a time in arrival order ([`AppState::store_writes`]); each is
//! audited (an `import` entry by the token's name, role `integration`, with the
//! body's sha256, also when it was rolled back), and the touched patients' twins catch
//! up before the answer ([`crate::twins`]): the answer's `X-RDT-Twins` header says how.

use std::path::{Path, PathBuf};

use audit_log::{EntryBody, ImportRecord, NewEntry};
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use journey::fhir::{ImportError, ImportReport, Importer, Location, NoProgress};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::auth::tokens::IntegrationToken;

/// FHIR's JSON media type.
const FHIR_JSON: &str = "application/fhir+json";

/// An `OperationOutcome` answer: `status`, and one issue per `(code, diagnostics,
/// location)`; `code` is from FHIR's IssueType value set.
fn outcome(status: StatusCode, severity: &str, issues: Vec<(&str, String, Option<String>)>) -> Response {
    let issue: Vec<Value> = issues
        .into_iter()
        .map(|(code, diagnostics, location)| {
            let mut i = json!({"severity": severity, "code": code, "diagnostics": diagnostics});
            if let Some(location) = location {
                i["expression"] = json!([location]);
            }
            i
        })
        .collect();
    fhir_json(status, &json!({"resourceType": "OperationOutcome", "issue": issue}))
}

fn error(status: StatusCode, code: &str, diagnostics: impl Into<String>) -> Response {
    outcome(status, "error", vec![(code, diagnostics.into(), None)])
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    res
}

/// The integration token a request presents (else a 401 `OperationOutcome`).
pub struct Integration(pub IntegrationToken);

impl FromRequestParts<AppState> for Integration {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorised = |why: &str| {
            let mut res = error(StatusCode::UNAUTHORIZED, "login", why);
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"rdt-fhir\""));
            res
        };
        let Some(value) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return Err(unauthorised("send an integration token: Authorization: Bearer rdt_it_... (`rdt user token add`)"));
        };
        let Some(bearer) = value.strip_prefix("Bearer ").map(str::trim) else {
            return Err(unauthorised("the Authorization header must be `Bearer` and an integration token"));
        };
        match state.users().token(bearer).await {
            Ok(Some(token)) => Ok(Integration(token)),
            Ok(None) => Err(unauthorised("the integration token is unknown or disabled")),
            Err(e) => {
                tracing::error!("integration token lookup: {e}");
                Err(error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the token could not be checked"))
            }
        }
    }
}

/// `POST /fhir`: a transaction or batch Bundle.
pub async fn post_bundle(State(state): State<AppState>, Integration(token): Integration, body: Body) -> Response {
    let request = match Request::receive(&state, body, "request.json").await {
        Ok(r) => r,
        Err(res) => return res,
    };
    let shape = match BundleShape::read(&request.file) {
        Ok(shape) => shape,
        Err(res) => return res,
    };
    let answer = request.import(&state, &token, "POST /fhir").await;
    match answer {
        Ok(done) => {
            let entry: Vec<Value> = shape
                .locations
                .iter()
                .map(|l| {
                    let mut response = json!({"status": "200 OK"});
                    if let Some(l) = l {
                        response["location"] = json!(l);
                    }
                    json!({"response": response})
                })
                .collect();
            let kind = format!("{}-response", shape.kind);
            done.answer(fhir_json(StatusCode::OK, &json!({"resourceType": "Bundle", "type": kind, "entry": entry})))
        }
        Err(res) => res,
    }
}

/// `POST /fhir/$import`: FHIR NDJSON, one resource per line.
pub async fn post_ndjson(State(state): State<AppState>, Integration(token): Integration, body: Body) -> Response {
    let request = match Request::receive(&state, body, "request.ndjson").await {
        Ok(r) => r,
        Err(res) => return res,
    };
    match request.import(&state, &token, "POST /fhir/$import").await {
        Ok(done) => {
            let text = format!(
                "imported {} resources about {} patients: {} events (audit entry {})",
                done.report.resources_total(),
                done.report.patients,
                done.report.events,
                done.seq
            );
            done.answer(outcome(StatusCode::OK, "information", vec![("informational", text, None)]))
        }
        Err(res) => res,
    }
}

/// A request body on disk, in a folder removed when this is dropped.
struct Request {
    dir: PathBuf,
    file: PathBuf,
}

impl Drop for Request {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A request imported and committed: its report, audit entry and the twins' catch-up.
struct Imported {
    report: ImportReport,
    seq: audit_log::Seq,
    twins: Result<twin_core::index::catch_up::CatchUp, String>,
}

impl Imported {
    /// `res` with the `X-RDT-Twins` header saying how the twins caught up.
    fn answer(self, mut res: Response) -> Response {
        let twins = match &self.twins {
            Ok(c) => c.text(),
            Err(why) => format!("the twins did not catch up ({why}); the next write or cohort load retries"),
        };
        if let Ok(v) = HeaderValue::from_str(&twins.replace(['\r', '\n'], " ")) {
            res.headers_mut().insert("x-rdt-twins", v);
        }
        res
    }
}

impl Request {
    /// Streams `body` to `<data-dir>/uploads/.fhir-<random>/<name>` against the
    /// server's upload limit.
    async fn receive(state: &AppState, body: Body, name: &str) -> Result<Request, Response> {
        use tokio::io::AsyncWriteExt as _;
        use tokio_stream::StreamExt as _;
        let internal = |e: &dyn std::fmt::Display| {
            tracing::error!("receiving a FHIR request: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the request could not be stored")
        };
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).map_err(|e| internal(&e))?;
        let dir = state.config().data_dir.join("uploads").join(format!(".fhir-{}", hex::encode(random)));
        tokio::fs::create_dir_all(&dir).await.map_err(|e| internal(&e))?;
        let request = Request { file: dir.join(name), dir };
        let mut file = tokio::fs::File::create(&request.file).await.map_err(|e| internal(&e))?;
        let (limit, mut total) = (state.config().max_upload_bytes, 0u64);
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| error(StatusCode::BAD_REQUEST, "incomplete", format!("reading the body: {e}")))?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-costly",
                    format!("the request is larger than this server's limit of {limit} bytes; send it in parts"),
                ));
            }
            file.write_all(&chunk).await.map_err(|e| internal(&e))?;
        }
        file.sync_all().await.map_err(|e| internal(&e))?;
        if total == 0 {
            return Err(error(StatusCode::BAD_REQUEST, "required", "the request has no body"));
        }
        Ok(request)
    }

    /// Imports the body all or nothing as `token`'s source, in the store's write turn,
    /// audits it as `what`, and catches the twins up; a rolled-back request is a 422
    /// `OperationOutcome` naming each problem.
    async fn import(&self, state: &AppState, token: &IntegrationToken, what: &str) -> Result<Imported, Response> {
        let hide = |text: &str| crate::admin::without_server_paths_as(text, &self.dir, "the request");
        let failed = |e: &dyn std::fmt::Display| {
            tracing::error!("{what}: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the store failed; nothing of the request was kept")
        };
        let _turn = state.store_writes().lock().await;
        let mut importer = Importer::for_source(state.store().clone(), token.source.clone()).await.map_err(|e| failed(&e))?;
        let (report, committed) =
            importer.import_all_or_nothing(std::slice::from_ref(&self.dir), &NoProgress).await.map_err(|e| failed(&e))?;
        let mut record: ImportRecord = report.audit_record();
        for f in &mut record.files {
            f.path = format!("{what} ({})", hide(&f.path));
            f.error = f.error.as_deref().map(hide);
        }
        if !committed {
            // Nothing was kept: the trail says what was sent and why it was refused.
            record.patients = 0;
            record.events = 0;
            record.files.iter_mut().for_each(|f| f.events = 0);
        }
        let entry = NewEntry::new(token.principal(), EntryBody::Import { import: record });
        let seq = state.audit().append(entry).await.map_err(|e| failed(&e))?;
        if !committed {
            let issues = problems(&report).into_iter().map(|(code, text, at)| (code, hide(&text), at)).collect();
            return Err(outcome(StatusCode::UNPROCESSABLE_ENTITY, "error", issues));
        }
        let twins = crate::twins::catch_up_after_write(state).await;
        Ok(Imported { report, seq, twins })
    }
}

/// One issue per failed file and refused resource: (IssueType code, what, where).
fn problems(report: &ImportReport) -> Vec<(&'static str, String, Option<String>)> {
    let at = |e: &ImportError| match e.location {
        Location::Entry(i) => Some(format!("Bundle.entry[{i}]")),
        Location::Line(n) => Some(format!("line {n}")),
        Location::Text { line, column } => Some(format!("line {line}, column {column}")),
        Location::File => None,
    };
    let mut out: Vec<_> = report.failed().map(|e| ("invalid", e.to_string(), at(e))).collect();
    out.extend(report.refused.listed.iter().map(|e| ("business-rule", e.to_string(), at(e))));
    let unlisted = report.refused.total.saturating_sub(report.refused.listed.len() as u64);
    if unlisted > 0 {
        out.push(("business-rule", format!("and {unlisted} more refused resources"), None));
    }
    out
}

/// What `POST /fhir` checks of a Bundle before importing it: its type, and that every
/// entry writes a resource; with each entry's `Type/id` for the answer.
struct BundleShape {
    kind: String,
    locations: Vec<Option<String>>,
}

#[derive(Deserialize)]
struct ShapeDoc {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    entry: Vec<ShapeEntry>,
}

#[derive(Deserialize)]
struct ShapeEntry {
    resource: Option<ShapeResource>,
    request: Option<ShapeRequest>,
}

#[derive(Deserialize)]
struct ShapeResource {
    #[serde(rename = "resourceType")]
    resource_type: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
struct ShapeRequest {
    method: Option<String>,
}

impl BundleShape {
    fn read(path: &Path) -> Result<BundleShape, Response> {
        let file = std::fs::File::open(path).map_err(|e| {
            tracing::error!("reopening a FHIR request: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "exception", "the request could not be read back")
        })?;
        let doc: ShapeDoc = serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
            error(StatusCode::BAD_REQUEST, "structure", format!("the body is not a FHIR JSON resource: {e}"))
        })?;
        if doc.resource_type.as_deref() != Some("Bundle") {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "structure",
                format!(
                    "POST /fhir takes a Bundle of type transaction or batch; got {} (NDJSON goes to POST /fhir/$import)",
                    doc.resource_type.as_deref().unwrap_or("no resourceType")
                ),
            ));
        }
        let kind = doc.kind.unwrap_or_default();
        if kind != "transaction" && kind != "batch" {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "value",
                format!("Bundle.type must be transaction or batch; got `{kind}`"),
            ));
        }
        let mut issues = Vec::new();
        let mut locations = Vec::with_capacity(doc.entry.len());
        for (i, e) in doc.entry.iter().enumerate() {
            let method = e.request.as_ref().and_then(|r| r.method.as_deref()).unwrap_or("POST");
            if method != "POST" && method != "PUT" {
                issues.push((
                    "not-supported",
                    format!("{method} is not supported: send the corrected resource again (PUT or POST)"),
                    Some(format!("Bundle.entry[{i}].request.method")),
                ));
            }
            let Some(resource) = &e.resource else {
                issues.push(("required", "the entry has no resource".to_owned(), Some(format!("Bundle.entry[{i}]"))));
                locations.push(None);
                continue;
            };
            locations.push(match (&resource.resource_type, &resource.id) {
                (Some(t), Some(id)) => Some(format!("{t}/{id}")),
                _ => None,
            });
        }
        if !issues.is_empty() {
            return Err(outcome(StatusCode::UNPROCESSABLE_ENTITY, "error", issues));
        }
        Ok(BundleShape { kind, locations })
    }
}
