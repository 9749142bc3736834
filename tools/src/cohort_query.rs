//! Cohort queries from outside a chat (`rdt cohort`, one patient or `--batch`; `rdt
//! options`): each one a `similar_patients` (or `compare_treatments`) call through the audited door ([`invoke_tool`]), scoped to
//! that patient, so the role and scope checks and the audit entry are the tool's.
//!
//! A batch line is `patient_id[,YYYY-MM-DD]`; its answer is one JSON object,
//! `{"patient", "at", "report"}` or `{"patient", "at", "error"}`.

use std::path::Path;
use std::sync::Arc;

use audit_log::{AuditLog, ModelRegistry, Principal};
use chrono::NaiveDate;
use journey::{JourneyStore, PatientId};
use serde_json::json;
use twin_core::cohort::{CohortReport, QueryOptions};
use twin_core::encode::{NoteError, NoteVectorSource};
use twin_core::index::IndexConfig;

use crate::cohort::{CohortHandles, CohortUnavailable};

use crate::compare_treatments::{CompareTreatments, CompareTreatmentsOutput};
use crate::similar_patients::SimilarPatients;
use crate::{cause_chain, invoke_tool, Caller, InvokeError, Scope, ToolContext};

/// Why one cohort query gave no report.
#[derive(Debug, thiserror::Error)]
pub enum CohortQueryError {
    #[error("the patient id is empty")]
    EmptyPatient,
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    #[error("the similar_patients tool returned no report")]
    NoReport,
    #[error("the compare_treatments tool returned no report")]
    NoOptionsReport,
}

/// Why [`CohortQueries::for_install`] has no cohort to query.
#[derive(Debug, thiserror::Error)]
pub enum CohortSetupError {
    #[error(transparent)]
    Cohort(#[from] CohortUnavailable),
    #[error(transparent)]
    Notes(#[from] NoteError),
}

/// A batch line whose date does not parse.
#[derive(Debug, thiserror::Error)]
#[error("`{date}` is not a date (YYYY-MM-DD)")]
pub struct BadBatchDate {
    pub date: String,
    #[source]
    pub source: chrono::ParseError,
}

/// The tools over an install's cohort, and who asks.
pub struct CohortQueries {
    pub tools: ToolContext,
    pub log: AuditLog,
    pub principal: Principal,
    /// Neighbours per query.
    pub k: usize,
}

impl CohortQueries {
    /// Queries over the cohort of the install at `data_dir` (active twin, neighbour
    /// `index`, population, pseudonym key) with `options`, note vectors when `notes`
    /// (needs MiniLM pinned), asked by `principal` and recorded in `registry`'s log.
    pub async fn for_install(
        store: JourneyStore,
        data_dir: &Path,
        index: &IndexConfig,
        registry: &ModelRegistry,
        options: QueryOptions,
        notes: bool,
        principal: Principal,
    ) -> Result<Self, CohortSetupError> {
        let mut handles = CohortHandles::load(&store, data_dir, index, registry).await?;
        handles.options = options;
        if notes {
            handles = handles.with_notes(NoteVectorSource::load(data_dir, registry).await?);
        }
        let tools = ToolContext::new(store).with_cohort(Arc::new(handles));
        Ok(CohortQueries { tools, log: registry.log().clone(), principal, k: options.k })
    }

    /// One query, scoped to `patient`; the tool records it.
    pub async fn query(&self, patient: &str, at: Option<NaiveDate>) -> Result<CohortReport, CohortQueryError> {
        let id = PatientId::new(patient.to_owned()).ok_or(CohortQueryError::EmptyPatient)?;
        let scope = Scope::patients([id]);
        let caller = Caller { principal: &self.principal, scope: &scope, session: None };
        let arguments = json!({"patient": patient, "at": at, "k": self.k});
        let (out, _) = invoke_tool(SimilarPatients, &self.tools, &self.log, caller, &arguments).await?;
        out.value.report.ok_or(CohortQueryError::NoReport)
    }

    /// The treatment options of `patient` at `at` (`rdt options`), scoped to that
    /// patient; the tool records it (the neighbours per option in its audit entry).
    pub async fn options(&self, patient: &str, at: Option<NaiveDate>) -> Result<CompareTreatmentsOutput, CohortQueryError> {
        let id = PatientId::new(patient.to_owned()).ok_or(CohortQueryError::EmptyPatient)?;
        let scope = Scope::patients([id]);
        let caller = Caller { principal: &self.principal, scope: &scope, session: None };
        let arguments = json!({"patient": patient, "at": at});
        let (out, _) = invoke_tool(CompareTreatments, &self.tools, &self.log, caller, &arguments).await?;
        if out.value.report.is_none() {
            return Err(CohortQueryError::NoOptionsReport);
        }
        Ok(out.value)
    }

    /// The answer to one batch line, or `None` for a blank line. A failed query is an
    /// answer (its `error` is the whole cause chain); only a bad date is an error.
    pub async fn batch_line(&self, line: &str) -> Result<Option<serde_json::Value>, BadBatchDate> {
        let Some((patient, at)) = parse_batch_line(line)? else { return Ok(None) };
        Ok(Some(match self.query(patient, at).await {
            Ok(report) => json!({"patient": patient, "at": at, "report": report}),
            Err(e) => json!({"patient": patient, "at": at, "error": cause_chain(&e)}),
        }))
    }
}

/// `patient_id[,YYYY-MM-DD]`, trimmed; `None` for a blank line.
pub fn parse_batch_line(line: &str) -> Result<Option<(&str, Option<NaiveDate>)>, BadBatchDate> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    Ok(Some(match line.split_once(',') {
        Some((p, d)) => {
            let date = d.trim().parse().map_err(|source| BadBatchDate { date: d.trim().to_owned(), source })?;
            (p.trim(), Some(date))
        }
        None => (line, None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines_name_a_patient_and_maybe_a_date() {
        assert_eq!(parse_batch_line("  \t").unwrap(), None);
        assert_eq!(parse_batch_line(" p-1 ").unwrap(), Some(("p-1", None)));
        let date = NaiveDate::from_ymd_opt(2024, 3, 1);
        assert_eq!(parse_batch_line("p-1 , 2024-03-01").unwrap(), Some(("p-1", date)));
        let bad = parse_batch_line("p-1,March").unwrap_err();
        assert_eq!(bad.date, "March");
        assert!(bad.to_string().contains("`March` is not a date"));
    }

    #[test]
    fn the_cause_chain_joins_each_source() {
        let bad = parse_batch_line("p,2024-13-01").unwrap_err();
        assert_eq!(cause_chain(&bad), format!("`2024-13-01` is not a date (YYYY-MM-DD): {}", bad.source));
    }
}
