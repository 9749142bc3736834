//! `rdt doctor`: is this install ready to answer, and if not, why and what to run.
//!
//! One check per thing an answer depends on, each with a status and a sentence: the
//! database (reachable, how many patients), the terminology (the concepts the cohorts
//! need are found; the codes that map to nothing), the packaged weights (present with
//! their sha256: MiniLM; the registry's active LLM and its GGUF in the cache), the
//! neighbour index (points for the store's patients), the active twin (one is
//! registered and loads) and the state model (its file is the registry's active
//! version). It reads and never writes.

use std::path::Path;

use audit_log::{ArtifactKind, AuditLog, ModelRegistry};
use journey::terminology::Coverage;
use journey::JourneyStore;
use serde::Serialize;
use twin_core::index::{IndexConfig, NeighbourIndex};
use twin_core::models::{ModelCache, MINILM};

use crate::governed::{gguf_path_of, NotServing};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Works, but something a user should know (an unmapped code, a stale index).
    Warning,
    /// Blocks part of the product.
    Failed,
}

/// One check: what was checked, how it came out, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

/// Every check, and the terminology's coverage behind the terminology check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
}

impl DoctorReport {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Failed)
    }

    /// The report for a terminal: one line per check, then the unmapped codes.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Ok => "ok     ",
                Status::Warning => "warning",
                Status::Failed => "FAILED ",
            };
            out.push_str(&format!("{mark}  {:<12} {}\n", c.name, c.detail));
        }
        if let Some(coverage) = self.coverage.as_ref().filter(|c| !c.unmapped.is_empty()) {
            out.push_str("codes with values that map to no concept (most frequent first):\n");
            for u in coverage.unmapped.iter().take(10) {
                out.push_str(&format!("  {}\n", u.line()));
            }
        }
        out
    }
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check { name, status, detail: detail.into() }
}

/// Runs every check on the install in `data_dir` with this store, log and index.
pub async fn doctor(data_dir: &Path, store: &JourneyStore, log: AuditLog, index: &IndexConfig) -> DoctorReport {
    let registry = ModelRegistry::new(log);
    let mut checks = Vec::new();
    let mut coverage = None;
    let patients = match store.counts().await {
        Ok(counts) => {
            checks.push(check(
                "database",
                Status::Ok,
                format!("{}: {} patients, {} events", store.database(), counts.patients, counts.events),
            ));
            Some(counts.patients as usize)
        }
        Err(e) => {
            checks.push(check("database", Status::Failed, e.to_string()));
            None
        }
    };
    if patients.is_some() {
        match journey::store::owner::owns_audit_trail(store).await {
            Ok(Some(true)) => checks.push(check(
                "audit roles",
                Status::Warning,
                "this role owns the audit trail's tables, so it could drop their append-only triggers: \
                 serve as an application role granted by `rdt db migrate --owner-url URL --app-role ROLE`",
            )),
            Ok(Some(false)) => checks.push(check(
                "audit roles",
                Status::Ok,
                "this role does not own the audit trail's tables: it can read and append, not change or drop them",
            )),
            Ok(None) => {}
            Err(e) => checks.push(check("audit roles", Status::Failed, e.to_string())),
        }
        match store.coverage().await {
            Ok(c) => {
                let blocking: Vec<&str> = c.blocking_problems().collect();
                let problems: Vec<&str> = c.problems().collect();
                let maps = store.concept_maps().await.map(|m| m.len()).unwrap_or(0);
                let (status, detail) = if !blocking.is_empty() {
                    (Status::Failed, problems.join(" "))
                } else if !problems.is_empty() {
                    (Status::Warning, problems.join(" "))
                } else if !c.unmapped.is_empty() {
                    (
                        Status::Warning,
                        format!(
                            "{maps} ConceptMaps; every needed concept is found; {} codes with values map to no concept",
                            c.unmapped.len()
                        ),
                    )
                } else {
                    (Status::Ok, format!("{maps} ConceptMaps; every code with values maps to a concept"))
                };
                checks.push(check("terminology", status, detail));
                coverage = Some(c);
            }
            Err(e) => checks.push(check("terminology", Status::Failed, e.to_string())),
        }
    }
    match ModelCache::from_env() {
        Ok(cache) => {
            match cache.check(&MINILM) {
                Ok(files) => checks.push(check(
                    "weights",
                    Status::Ok,
                    format!("{} verified (sha256 {})", MINILM.name, files.version().short()),
                )),
                Err(e) => checks.push(check("weights", Status::Failed, e.to_string())),
            }
            checks.push(assistant_check(&cache, &registry).await);
        }
        Err(e) => checks.push(check("weights", Status::Failed, e.to_string())),
    }
    match NeighbourIndex::open(index).await {
        Ok(ix) => match (ix.len().await, patients) {
            (Ok(0), _) => checks.push(check("index", Status::Failed, "empty: run `rdt embed`")),
            (Ok(n), Some(p)) if n < p => checks.push(check(
                "index",
                Status::Warning,
                format!("{n} points for {p} patients: some twins are not indexed; run `rdt embed`"),
            )),
            (Ok(n), _) => checks.push(check("index", Status::Ok, format!("{n} points"))),
            (Err(e), _) => checks.push(check("index", Status::Failed, e.to_string())),
        },
        Err(e) => checks.push(check("index", Status::Failed, e.to_string())),
    }
    // The living twin: patients written since the index last caught up (the next
    // import, cohort load or `rdt embed --changed` catches up; waiting ones stay).
    match store.changes_waiting().await {
        Ok(0) => checks.push(check("twins", Status::Ok, "every written patient's twin is up to date")),
        Ok(n) => checks.push(check(
            "twins",
            Status::Warning,
            format!("{n} patients' records changed since their twins were computed: `rdt embed --changed` updates them"),
        )),
        Err(e) => checks.push(check("twins", Status::Failed, e.to_string())),
    }
    let drift = twin_core::monitor::drift::DriftReference::install_path(data_dir);
    if !drift.exists() {
        checks.push(check(
            "drift",
            Status::Warning,
            format!("no drift reference at {}: the next `rdt embed` writes it (`rdt eval drift` needs it)", drift.display()),
        ));
    }
    match twin_core::twin::install::load_active(data_dir, &registry).await {
        Ok(twin) => checks.push(check("twin", Status::Ok, format!("active twin {}", twin.version.short()))),
        Err(e) => checks.push(check("twin", Status::Failed, format!("{e}: run `rdt train`"))),
    }
    let state_path = twin_core::state::StateModel::install_path(data_dir);
    if state_path.exists() {
        match twin_core::state::StateModel::load_active(&state_path, &registry).await {
            Ok((_, version)) => checks.push(check("state model", Status::Ok, format!("active state model {}", version.short()))),
            Err(e) => checks.push(check("state model", Status::Failed, e.to_string())),
        }
    }
    DoctorReport { checks, coverage }
}

/// The registry's active LLM and whether its GGUF is in the cache (not hashed here:
/// every load hashes the bytes it loads).
async fn assistant_check(cache: &ModelCache, registry: &ModelRegistry) -> Check {
    let state = match registry.state().await {
        Ok(state) => state,
        Err(e) => return check("assistant", Status::Failed, e.to_string()),
    };
    let Some(active) = state.active(ArtifactKind::Llm) else {
        return check("assistant", Status::Warning, format!("{} (rdt ask needs one)", NotServing::from_state(&state)));
    };
    match gguf_path_of(cache, active) {
        Ok(path) => check(
            "assistant",
            Status::Ok,
            format!("active llm {} {} at {}", active.name, active.sha256.short(), path.display()),
        ),
        Err(e) => check("assistant", Status::Warning, format!("{e} (rdt ask needs it)")),
    }
}
