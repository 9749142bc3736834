//! The harness's errors: [`EvalError`] for the question set's run and its report,
//! [`ScratchError`] for the scratch install it runs over.

use std::path::PathBuf;

use assistant::AskError;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("question set: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the cohort has no patient with DAS28 readings, labs and drugs to ask about")]
    NoPatient,
    #[error("reading the expected facts: {0}")]
    Tool(#[from] tools::ToolError),
    #[error("journey store: {0}")]
    Store(#[from] journey::StoreError),
    #[error(transparent)]
    Ask(#[from] AskError),
    #[error("writing the report {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// What failed while building the scratch install, by stage.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error("scratch directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("generating the scratch cohort: {0}")]
    Synth(#[from] synth::SynthError),
    #[error("the scratch cohort's generator stopped: {0}")]
    Generator(#[from] tokio::task::JoinError),
    #[error("scratch journey store: {0}")]
    Store(#[from] journey::StoreError),
    #[error("the scratch cohort did not import cleanly")]
    Import,
    #[error("scratch audit log: {0}")]
    Audit(#[from] audit_log::AuditError),
    #[error("model cache: {0}")]
    Cache(#[from] twin_core::models::CacheError),
    #[error("{0}; run `rdt setup` first")]
    NotSetUp(#[source] twin_core::models::CacheError),
    #[error("training the scratch twin: {0}")]
    Train(#[from] candle_core::Error),
    #[error("scratch twin: {0}")]
    Twin(#[from] twin_core::twin::TwinError),
    #[error("scratch neighbour index: {0}")]
    Index(#[from] twin_core::index::IndexError),
    #[error("scratch state model: {0}")]
    StateModel(#[from] twin_core::state::StateModelError),
    #[error("the held-out set is scored over its frozen cohort only: seed {seed}, {patients} patients")]
    NotTheFrozenCohort { seed: u64, patients: usize },
    #[error("the held-out set is asked whole: --limit and --only are for the tuning sets")]
    HeldOutPart,
    #[error("no question of the {set} set has the id {}", ids.join(", "))]
    UnknownQuestions { set: &'static str, ids: Vec<String> },
    #[error("building the assistant")]
    Assistant(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Eval(#[from] EvalError),
}
