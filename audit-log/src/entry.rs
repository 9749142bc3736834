//! What an audit entry records: [`AuditEntry`] and the typed parts it is made of.
//!
//! A caller builds a [`NewEntry`] (who, which session, which patients, and an
//! [`EntryBody`] saying what happened); the log gives it its [`Seq`], the leaf hash of
//! the entry before it (`prev`) and a time, and stores its canonical bytes
//! (`canonical.rs`). The fields are those of DESIGN.md "Audit entry": question text,
//! tool name + arguments + bounded result + result digest, model sha256, prompt
//! version, cohort (neighbour ids, distances, index and encoder versions), answer.
//!
//! Optional fields are left out of the serialised form when absent, so adding a new
//! optional field never changes the bytes (and hashes) of entries written before it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Digest;

/// The version of the canonical entry form, written into every entry as `"v"`.
pub const FORMAT_VERSION: u32 = 1;

/// Position of an entry in the log: 0, 1, 2, ... without gaps. It is also the
/// entry's leaf index in the Merkle tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The roles of DESIGN.md "Roles", plus `system` for work no person started
/// (a scheduled import, the log itself) and `integration` for a hospital system that
/// pushes records (`POST /fhir` with its token): it writes data and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Clinician,
    Auditor,
    Governance,
    Admin,
    System,
    Integration,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Clinician, Role::Auditor, Role::Governance, Role::Admin, Role::System, Role::Integration];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clinician => "clinician",
            Role::Auditor => "auditor",
            Role::Governance => "governance",
            Role::Admin => "admin",
            Role::System => "system",
            Role::Integration => "integration",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: expected clinician, auditor, governance, admin, system or integration")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// Who acted, in which role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user: String,
    pub role: Role,
}

impl Principal {
    pub fn new(user: impl Into<String>, role: Role) -> Self {
        Principal { user: user.into(), role }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.user, self.role)
    }
}

/// One chat or CLI session: ties a question to the tool calls and the answer it led to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

/// The kinds of entry, the tag `"kind"` of the canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Question,
    ToolCall,
    Answer,
    Refusal,
    Access,
    Import,
    TerminologyImported,
    ModelPinned,
    ModelActivated,
    ModelRolledBack,
    ModelRetired,
    ModelLoaded,
    DriftNotice,
}

impl EntryKind {
    pub const ALL: [EntryKind; 13] = [
        EntryKind::Question,
        EntryKind::ToolCall,
        EntryKind::Answer,
        EntryKind::Refusal,
        EntryKind::Access,
        EntryKind::Import,
        EntryKind::TerminologyImported,
        EntryKind::ModelPinned,
        EntryKind::ModelActivated,
        EntryKind::ModelRolledBack,
        EntryKind::ModelRetired,
        EntryKind::ModelLoaded,
        EntryKind::DriftNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Question => "question",
            EntryKind::ToolCall => "tool_call",
            EntryKind::Answer => "answer",
            EntryKind::Refusal => "refusal",
            EntryKind::Access => "access",
            EntryKind::Import => "import",
            EntryKind::TerminologyImported => "terminology_imported",
            EntryKind::ModelPinned => "model_pinned",
            EntryKind::ModelActivated => "model_activated",
            EntryKind::ModelRolledBack => "model_rolled_back",
            EntryKind::ModelRetired => "model_retired",
            EntryKind::ModelLoaded => "model_loaded",
            EntryKind::DriftNotice => "drift_notice",
        }
    }

    /// Entries that change the model registry (`governance.rs` folds over them).
    pub fn is_governance(self) -> bool {
        matches!(
            self,
            EntryKind::ModelPinned | EntryKind::ModelActivated | EntryKind::ModelRolledBack | EntryKind::ModelRetired
        )
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tool run by the assistant or the web: its input, its bounded output, and the
/// digest of the full output so a truncated result can still be matched later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
    /// The result as shown to the model or user, within the tool's size bound.
    pub result: Value,
    /// True when `result` was cut to the bound.
    #[serde(default)]
    pub result_truncated: bool,
    /// SHA-256 of the canonical form of the full, untruncated result.
    pub result_digest: Digest,
}

impl ToolCall {
    /// Records a tool call, keeping at most `max_result_bytes` of canonical result
    /// text; the digest is always of the full result.
    pub fn bounded(name: impl Into<String>, arguments: Value, result: Value, max_result_bytes: usize) -> Self {
        let full = crate::canonical::to_canonical_bytes(&result);
        let result_digest = Digest::of(&full);
        let (result, result_truncated) = if full.len() <= max_result_bytes {
            (result, false)
        } else {
            let text = String::from_utf8_lossy(&full);
            let mut cut = max_result_bytes.min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            (Value::String(text[..cut].to_owned()), true)
        };
        ToolCall { name: name.into(), arguments, result, result_truncated, result_digest }
    }
}

/// The versions an answer (or tool) was produced with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersions {
    /// SHA-256 of the LLM weights (GGUF) that answered.
    pub model_sha256: Digest,
    /// The prompt template's version (the SHA-256 of its bytes).
    pub prompt_version: Digest,
    /// The inference engine that ran the weights (e.g. `llama-cpp`, `mistralrs`):
    /// the same weights can answer differently on another engine. Absent in entries
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// One neighbour of an in silico cohort: a pseudonymous id and its distance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub id: String,
    pub distance: f64,
    /// The group the neighbour was counted in, when the call grouped its neighbours
    /// (the treatment option a neighbour took, in a comparison of options). Absent in
    /// entries written before it was recorded, and for ungrouped cohorts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl Neighbour {
    /// An ungrouped neighbour.
    pub fn new(id: impl Into<String>, distance: f64) -> Self {
        Neighbour { id: id.into(), distance, group: None }
    }
}

/// The cohort a tool or answer used, with the versions that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRecord {
    pub neighbours: Vec<Neighbour>,
    /// Version of the neighbour index (e.g. a digest of its contents or build).
    pub index_version: String,
    /// SHA-256 of the encoder checkpoint(s) that made the twin vectors.
    pub encoder_version: Digest,
}

/// Model artifacts the registry governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// LLM weights (GGUF).
    Llm,
    /// A twin encoder or fusion checkpoint (safetensors).
    Encoder,
    /// A prompt template.
    Prompt,
    /// The disease-state model's file (`state-model.json`, counts of the Markov chain).
    StateModel,
    /// The twin's predictive head (`twin-head.json`: boosted trees on the twin and the
    /// aggregated history, with their calibration).
    TwinHead,
    /// The counterfactual head of treatment options (`option-head.json`: boosted trees
    /// with the option as an input, with their held-out calibration).
    OptionHead,
    /// The neighbourhood prior the cohort's counts are pooled with
    /// (`neighbourhood-prior.json`: each outcome's usual rate, weight and measured
    /// calibration among one twin's neighbourhoods).
    NeighbourhoodPrior,
}

impl ArtifactKind {
    pub const ALL: [ArtifactKind; 7] = [
        ArtifactKind::Llm,
        ArtifactKind::Encoder,
        ArtifactKind::Prompt,
        ArtifactKind::StateModel,
        ArtifactKind::TwinHead,
        ArtifactKind::OptionHead,
        ArtifactKind::NeighbourhoodPrior,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Llm => "llm",
            ArtifactKind::Encoder => "encoder",
            ArtifactKind::Prompt => "prompt",
            ArtifactKind::StateModel => "state_model",
            ArtifactKind::TwinHead => "twin_head",
            ArtifactKind::OptionHead => "option_head",
            ArtifactKind::NeighbourhoodPrior => "neighbourhood_prior",
        }
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown artifact kind `{0}`: expected llm, encoder, prompt, state_model, twin_head, option_head or neighbourhood_prior")]
pub struct UnknownArtifactKind(pub String);

impl FromStr for ArtifactKind {
    type Err = UnknownArtifactKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArtifactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| UnknownArtifactKind(s.to_owned()))
    }
}

/// A model artifact as the registry names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub kind: ArtifactKind,
    pub sha256: Digest,
    /// A human name (file name, model card name).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// A change to the model registry: which artifact, the active one it replaced (for
/// activation and rollback), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceChange {
    pub artifact: ArtifactRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_active: Option<Digest>,
    pub reason: String,
}

/// A running process switched the model it answers with, because the registry's
/// active artifact changed: which artifact now runs, which ran before, and the
/// registry entry (activation or rollback) that made it active. Recorded by the
/// process (principal `System`), so the trail shows when a governance decision took
/// effect, not only when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelLoad {
    pub artifact: ArtifactRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
    /// The governance entry that made `artifact` active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Seq>,
    pub reason: String,
}

/// A drift notice: the twin it concerns, how many new patients were compared with how
/// large a reference population, the quantities that shifted (name and PSI, as text),
/// and the notice as governance reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftNoticeRecord {
    pub twin_version: Digest,
    pub new_patients: u64,
    pub reference_patients: u64,
    pub shifted: Vec<String>,
    pub notice: String,
}

/// One file of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedFile {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
    pub events: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What an import brought in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub files: Vec<ImportedFile>,
    pub patients: u64,
    pub events: u64,
    /// The import source whose ids the files carry (absent in entries written before
    /// sources existed, and for `rdt event add`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Resources refused without failing their file (a patient of another source or
    /// of no import); absent when none were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
}

/// Which ConceptMap an install imported: its url and version, the file, its sha256
/// and how many mappings it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminologyRecord {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub file: String,
    pub sha256: String,
    pub entries: u64,
}

/// How a question links the one before it in its conversation: that question's
/// entry by place and by leaf hash, so the link names those exact bytes (an entry
/// rewritten or moved after the fact no longer matches it), and, when RDT read this
/// question against an earlier turn ("and the ESR?" after "What is the latest CRP?"),
/// which turn's question entry that was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnLink {
    /// The conversation's previous question entry.
    pub seq: Seq,
    /// The leaf hash of that entry's stored bytes.
    pub entry: Digest,
    /// The question entry whose reading this one was resolved against, when it was a
    /// follow-up (usually `seq`; an earlier turn when the one between read as nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_against: Option<Seq>,
}

/// What happened: the kind and its own fields, tagged by `"kind"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryBody {
    /// A clinician's question to the assistant, with how RDT read it (what is asked,
    /// about what, over which span: the assistant's typed reading), when it did.
    Question {
        question: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reading: Option<serde_json::Value>,
        /// The question before it in its conversation (a follow-up's chat or `rdt
        /// chat` turn): absent for a conversation's first question and in entries
        /// written before conversations existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        follows: Option<TurnLink>,
    },
    /// A typed tool ran.
    ToolCall {
        tool: ToolCall,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cohort: Option<CohortRecord>,
    },
    /// The assistant's answer, with the versions that produced it.
    Answer {
        answer: String,
        model: ModelVersions,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cohort: Option<CohortRecord>,
    },
    /// The assistant or a tool declined (out of role or scope, ungrounded answer).
    Refusal { reason: String },
    /// Someone read something: a journey, a page, the audit trail.
    Access {
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// FHIR data came into the journey store.
    Import { import: ImportRecord },
    /// An install-level ConceptMap was imported (or replaced by a new version).
    TerminologyImported { map: TerminologyRecord },
    ModelPinned { change: GovernanceChange },
    ModelActivated { change: GovernanceChange },
    ModelRolledBack { change: GovernanceChange },
    ModelRetired { change: GovernanceChange },
    /// A running server switched its model to the registry's active one.
    ModelLoaded { load: ModelLoad },
    /// The patients arriving differ from those the twin was built on (`rdt eval
    /// drift`): a notice for governance.
    DriftNotice { drift: DriftNoticeRecord },
}

impl EntryBody {
    pub fn kind(&self) -> EntryKind {
        match self {
            EntryBody::Question { .. } => EntryKind::Question,
            EntryBody::ToolCall { .. } => EntryKind::ToolCall,
            EntryBody::Answer { .. } => EntryKind::Answer,
            EntryBody::Refusal { .. } => EntryKind::Refusal,
            EntryBody::Access { .. } => EntryKind::Access,
            EntryBody::Import { .. } => EntryKind::Import,
            EntryBody::TerminologyImported { .. } => EntryKind::TerminologyImported,
            EntryBody::ModelPinned { .. } => EntryKind::ModelPinned,
            EntryBody::ModelActivated { .. } => EntryKind::ModelActivated,
            EntryBody::ModelRolledBack { .. } => EntryKind::ModelRolledBack,
            EntryBody::ModelRetired { .. } => EntryKind::ModelRetired,
            EntryBody::ModelLoaded { .. } => EntryKind::ModelLoaded,
            EntryBody::DriftNotice { .. } => EntryKind::DriftNotice,
        }
    }
}

/// An entry as a caller hands it to the log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub principal: Principal,
    pub session: Option<SessionId>,
    /// Ids of the patients whose data this step read or wrote.
    pub patients: Vec<String>,
    pub body: EntryBody,
    /// When it happened; `None` means now (at append).
    pub time: Option<DateTime<Utc>>,
}

impl NewEntry {
    pub fn new(principal: Principal, body: EntryBody) -> Self {
        NewEntry { principal, session: None, patients: Vec::new(), body, time: None }
    }

    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(SessionId(session.into()));
        self
    }

    pub fn patients<I, S>(mut self, patients: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.patients = patients.into_iter().map(Into::into).collect();
        self
    }

    pub fn at(mut self, time: DateTime<Utc>) -> Self {
        self.time = Some(time);
        self
    }
}

/// An entry as stored: a [`NewEntry`] with its place in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// [`FORMAT_VERSION`] when written.
    pub v: u32,
    pub seq: Seq,
    /// Leaf hash of entry `seq - 1` (absent for entry 0): a second, cheap chain
    /// beside the tree, so `verify` can name the exact entry that was changed,
    /// removed or inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Digest>,
    #[serde(with = "time_format")]
    pub time: DateTime<Utc>,
    pub principal: Principal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    #[serde(default)]
    pub patients: Vec<String>,
    #[serde(flatten)]
    pub body: EntryBody,
}

impl AuditEntry {
    /// Places `entry` at `seq` after the entry whose leaf hash is `prev`.
    pub fn place(entry: NewEntry, seq: Seq, prev: Option<Digest>, now: DateTime<Utc>) -> Self {
        AuditEntry {
            v: FORMAT_VERSION,
            seq,
            prev,
            // Microseconds: the canonical text form holds no more, so a parsed
            // entry re-serialises to the same bytes.
            time: entry.time.unwrap_or(now).trunc_subsecs(6),
            principal: entry.principal,
            session: entry.session,
            patients: entry.patients,
            body: entry.body,
        }
    }

    pub fn kind(&self) -> EntryKind {
        self.body.kind()
    }
}

/// Times as fixed-width UTC text with microseconds (`2024-05-01T09:30:00.000000Z`):
/// one spelling per instant, so the canonical bytes are unique.
pub mod time_format {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(t: &DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }

    pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s: std::borrow::Cow<'de, str> = Deserialize::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), Value::String(role.as_str().into()));
        }
        for kind in ArtifactKind::ALL {
            assert_eq!(kind.as_str().parse::<ArtifactKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), Value::String(kind.as_str().into()));
        }
        for kind in EntryKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), Value::String(kind.as_str().into()));
        }
        assert!("nurse".parse::<Role>().is_err());
    }

    #[test]
    fn body_kind_tag_matches_entry_kind() {
        let body = EntryBody::Access { action: "journey".into(), detail: None };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["kind"], body.kind().as_str());
    }

    #[test]
    fn bounded_tool_call_keeps_digest_of_full_result() {
        let result = serde_json::json!({"values": (0..1000).collect::<Vec<_>>()});
        let full = crate::canonical::to_canonical_bytes(&result);
        let small = ToolCall::bounded("lab_trend", serde_json::json!({"patient": "p1"}), result.clone(), 100);
        assert!(small.result_truncated);
        assert_eq!(small.result.as_str().unwrap().len(), 100);
        assert_eq!(small.result_digest, Digest::of(&full));
        let whole = ToolCall::bounded("lab_trend", serde_json::json!({}), result.clone(), full.len());
        assert!(!whole.result_truncated);
        assert_eq!(whole.result, result);
        assert_eq!(whole.result_digest, small.result_digest);
    }
}
