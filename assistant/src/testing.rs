//! Test doubles for the loop, for the assistant's and the web's tests:
//! [`ScriptedModel`], a `ChatModel` whose replies a test scripts per step;
//! [`KeywordEmbedder`], injected vectors for retrieval (a keyword count, for tests
//! only: the product ranks with MiniLM); [`TestChart`] and [`store_at`], small hand-built
//! journeys in a SQLite store; [`minilm`], the real MiniLM for tests that skip without it.

use std::sync::Mutex;

use async_trait::async_trait;
use audit_log::Digest;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;
use journey::{Code, Database, Event, JourneyStore, Modality, PatientId, PatientRecord, Phase, Quantity, Source};

use crate::retrieval::RetrievalError;
use crate::{ChatError, ChatModel, ChatRequest, Completion, Constraint, EngineKind, Speaker, TextEmbedder, TokenSink};

/// Which step of the loop a request is, read from its constraint and prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `{"tool": ...}` with these allowed names (the last is "none").
    ChooseTool { offered: Vec<String> },
    /// Whether the question asks for a definition: `{"term": ...}` with these terms
    /// (the last is "none").
    Definition { terms: Vec<String> },
    /// A tool's arguments under this schema.
    Arguments { schema: Value },
    /// The free-text answer; `retry` after a grounding failure.
    Answer { retry: bool },
}

impl Step {
    pub fn of(request: &ChatRequest) -> Step {
        match &request.constraint {
            Constraint::JsonSchema(schema) => {
                let names = |key: &str| {
                    schema["properties"][key]["enum"]
                        .as_array()
                        .map(|n| n.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect::<Vec<String>>())
                };
                match (names("tool"), names("term")) {
                    (Some(offered), _) => Step::ChooseTool { offered },
                    (None, Some(terms)) if terms.last().is_some_and(|t| t == "none") => Step::Definition { terms },
                    _ => Step::Arguments { schema: schema.clone() },
                }
            }
            Constraint::Free => Step::Answer {
                retry: request.messages.iter().filter(|m| m.speaker == Speaker::Assistant).count() > 0
                    && request.messages.last().is_some_and(|m| m.content.contains("the facts do not contain")),
            },
        }
    }
}

type Script = dyn Fn(&Step, &ChatRequest) -> String + Send + Sync;

/// A `ChatModel` that replies what its script says, records every request, and
/// streams its answers word by word.
pub struct ScriptedModel {
    script: Box<Script>,
    requests: Mutex<Vec<ChatRequest>>,
    sha256: String,
}

impl ScriptedModel {
    pub fn new(script: impl Fn(&Step, &ChatRequest) -> String + Send + Sync + 'static) -> Self {
        ScriptedModel {
            script: Box::new(script),
            requests: Mutex::new(Vec::new()),
            sha256: Digest::of(b"scripted test double").to_hex(),
        }
    }

    /// The same double reporting `sha256` as its model version, so a test can tell
    /// versions apart (the registry, the audit entries).
    pub fn with_sha256(mut self, sha256: &Digest) -> Self {
        self.sha256 = sha256.to_hex();
        self
    }

    /// A model that declines everything: "none" for tools and terms, `{}` for
    /// arguments, and a lead saying the record does not show it. What such a model is
    /// asked still answers only by RDT's reading of the question and its own sentences.
    pub fn declining() -> Self {
        ScriptedModel::new(|step, _| match step {
            Step::ChooseTool { .. } => serde_json::json!({"tool": "none"}).to_string(),
            Step::Definition { .. } => serde_json::json!({"term": "none"}).to_string(),
            Step::Arguments { .. } => serde_json::json!({}).to_string(),
            Step::Answer { .. } => "The record does not show that.".into(),
        })
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

#[async_trait]
impl ChatModel for ScriptedModel {
    fn engine(&self) -> EngineKind {
        EngineKind::Scripted
    }

    fn model_sha256(&self) -> &str {
        &self.sha256
    }

    async fn complete(&self, request: &ChatRequest, sink: TokenSink) -> Result<Completion, ChatError> {
        self.requests.lock().expect("not poisoned").push(request.clone());
        let text = (self.script)(&Step::of(request), request);
        if let Some(sink) = sink {
            for piece in text.split_inclusive(' ') {
                let _ = sink.send(piece.to_owned());
            }
        }
        Ok(Completion {
            text,
            prompt_tokens: request.messages.iter().map(|m| m.content.len() / 4).sum(),
            generated_tokens: 1,
            prompt_seconds: 0.0,
            generate_seconds: 0.0,
        })
    }
}

/// An [`LlmLoader`](crate::LlmLoader) over models held in memory, keyed by the
/// version they report: loading an artifact gives the model of its sha256, and every
/// load is counted.
pub struct VersionedLoader {
    models: Vec<std::sync::Arc<dyn ChatModel>>,
    loads: Mutex<Vec<String>>,
}

impl VersionedLoader {
    pub fn new(models: Vec<std::sync::Arc<dyn ChatModel>>) -> Self {
        VersionedLoader { models, loads: Mutex::new(Vec::new()) }
    }

    /// The versions loaded so far, in order.
    pub fn loads(&self) -> Vec<String> {
        self.loads.lock().expect("not poisoned").clone()
    }
}

#[async_trait]
impl crate::LlmLoader for VersionedLoader {
    async fn load(&self, artifact: &audit_log::Artifact) -> Result<std::sync::Arc<dyn ChatModel>, ChatError> {
        let wanted = artifact.sha256.to_hex();
        self.loads.lock().expect("not poisoned").push(wanted.clone());
        self.models.iter().find(|m| m.model_sha256() == wanted).cloned().ok_or_else(|| ChatError::Load {
            path: artifact.name.clone(),
            reason: format!("the test loader holds no model of version {wanted}"),
        })
    }
}

/// Keyword-count vectors: one dimension per keyword, 1 when the text holds it, plus
/// a constant so no vector is zero; unit length. For tests only.
pub struct KeywordEmbedder {
    keywords: Vec<&'static str>,
}

impl Default for KeywordEmbedder {
    fn default() -> Self {
        KeywordEmbedder {
            keywords: vec![
                "crp",
                "esr",
                "alt",
                "creatinine",
                "haemoglobin",
                "lab",
                "das28",
                "cdai",
                "disease activity",
                "flare",
                "remission",
                "drug",
                "methotrexate",
                "medication",
                "stopped",
                "summar",
                "diagnos",
                "note",
                "compare",
                "what is",
                "defin",
                "term",
            ],
        }
    }
}

impl TextEmbedder for KeywordEmbedder {
    fn version(&self) -> Digest {
        Digest::of(self.keywords.join(",").as_bytes())
    }

    fn embed_cached(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RetrievalError> {
        self.embed(texts)
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RetrievalError> {
        Ok(texts
            .iter()
            .map(|t| {
                let t = t.to_lowercase();
                let mut v: Vec<f32> = self.keywords.iter().map(|k| f32::from(u8::from(t.contains(k)))).collect();
                v.push(0.1);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

pub fn pid(s: &str) -> PatientId {
    PatientId::new(s).expect("a test id is not empty")
}

pub fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).single().expect("a valid test date")
}

/// One patient's events, built by hand.
pub struct TestChart {
    pub patient: PatientRecord,
    pub events: Vec<Event>,
}

impl TestChart {
    pub fn new(id: &str, sex: &str, birth: NaiveDate) -> Self {
        let patient = PatientRecord {
            id: pid(id),
            source: Default::default(),
            name: Some(format!("Test {id}")),
            birth_date: Some(birth),
            sex: Some(sex.to_owned()),
            deceased_at: None,
            source_file: None,
        };
        TestChart { patient, events: Vec::new() }
    }

    fn push(&mut self, time: DateTime<Utc>, code: Code, modality: Modality, value: Option<f64>, text: Option<&str>) {
        let n = self.events.len();
        self.events.push(Event {
            patient: self.patient.id.clone(),
            time,
            code,
            value: value.map(|v| Quantity { value: v, unit: None }),
            text: text.map(str::to_owned),
            modality,
            phase: Phase::Point,
            source: Source {
                name: Default::default(),
                file: "test.ndjson".into(),
                resource_type: "Observation".into(),
                resource_id: format!("{}-{n}", self.patient.id),
                part: String::new(),
            },
            concept: None,
        });
    }

    pub fn lab(mut self, time: DateTime<Utc>, loinc: &str, value: f64, unit: &str) -> Self {
        let code = Code { system: "http://loinc.org".into(), code: loinc.into(), display: None };
        self.push(time, code, Modality::Lab, Some(value), None);
        if let Some(q) = self.events.last_mut().and_then(|e| e.value.as_mut()) {
            q.unit = Some(unit.into());
        }
        self
    }

    /// A CRP value in mg/L.
    pub fn crp(self, time: DateTime<Utc>, value: f64) -> Self {
        self.lab(time, "1988-5", value, "mg/L")
    }

    pub fn das28(mut self, time: DateTime<Utc>, score: f64) -> Self {
        let code = Code { system: "urn:rdt:code".into(), code: "das28-esr".into(), display: None };
        self.push(time, code, Modality::DiseaseActivity, Some(score), None);
        self
    }

    /// A medication course of the RxNorm ingredient `rxnorm`, from `start`, stopped at
    /// `stop` when given (a start and a stop event of one MedicationStatement).
    pub fn course(mut self, rxnorm: &str, display: &str, start: DateTime<Utc>, stop: Option<DateTime<Utc>>) -> Self {
        let code = Code {
            system: journey::clinical::drugs::RXNORM.into(),
            code: rxnorm.into(),
            display: Some(display.into()),
        };
        let n = self.events.len();
        self.push(start, code, Modality::Medication, None, Some("weekly"));
        let resource_id = format!("{}-course-{n}", self.patient.id);
        if let Some(e) = self.events.last_mut() {
            e.phase = Phase::Start;
            e.source.resource_type = "MedicationStatement".into();
            e.source.resource_id = resource_id.clone();
            e.source.part = "start".into();
        }
        if let (Some(stop), Some(start_event)) = (stop, self.events.last().cloned()) {
            let mut s = start_event;
            s.time = stop;
            s.phase = Phase::Stop;
            s.text = Some("Stopped: lack of effect".into());
            s.source.part = "stop".into();
            self.events.push(s);
        }
        self
    }

    pub fn note(mut self, time: DateTime<Utc>, text: &str) -> Self {
        let code =
            Code { system: "http://loinc.org".into(), code: "11506-3".into(), display: Some("Progress note".into()) };
        self.push(time, code, Modality::Note, None, Some(text));
        if let Some(e) = self.events.last_mut() {
            e.source.resource_type = "DocumentReference".into();
        }
        self
    }
}

/// A SQLite journey store at `path` holding `charts`.
pub async fn store_at(path: &std::path::Path, charts: Vec<TestChart>) -> Result<JourneyStore, journey::StoreError> {
    let store = JourneyStore::open(&Database::Sqlite(path.to_path_buf())).await?;
    let mut batch = store.begin().await?;
    {
        let mut file = batch.file().await?;
        let patients: Vec<PatientRecord> = charts.iter().map(|c| c.patient.clone()).collect();
        file.upsert_patients(&patients).await?;
        let events: Vec<Event> = charts.into_iter().flat_map(|c| c.events).collect();
        file.replace_events(&events).await?;
        file.commit().await?;
    }
    batch.commit().await?;
    Ok(store)
}

/// MiniLM from the model cache, pinned in a throwaway registry, for tests; `None`
/// (the test skips, saying so) when the cache lacks it and `RDT_REQUIRE_MODELS` is
/// not `1`.
pub async fn minilm() -> Option<std::sync::Arc<dyn TextEmbedder>> {
    use audit_log::{AuditLog, ModelRegistry, Principal, Role};
    use twin_core::models::{cache, ModelCache, MINILM};
    let files = match ModelCache::from_env().and_then(|c| c.check(&MINILM)) {
        Ok(files) => files,
        Err(e) if std::env::var("RDT_REQUIRE_MODELS").as_deref() == Ok("1") => {
            panic!("MiniLM required: {e}")
        }
        Err(e) => {
            eprintln!("skipping: MiniLM not in the model cache ({e}); run `rdt setup`");
            return None;
        }
    };
    // A test helper: a failure past the cache check is the test's failure.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
    let registry = ModelRegistry::new(AuditLog::open(&url).await.expect("a throwaway audit log"));
    let by = Principal::new("test", Role::Governance);
    cache::pin_model(&registry, &by, &MINILM, &files, "test").await.expect("MiniLM pinned");
    let m = crate::MiniLm::load(&files, &registry, None).await.expect("the pinned MiniLM loads");
    Some(std::sync::Arc::new(m))
}
