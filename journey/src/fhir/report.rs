//! What an import did: per file, and totals over the files that were committed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::error::ImportError;
use super::map::SkipReason;
use super::parse::Layout;
use crate::event::{Modality, SourceName};

/// How many refused resources a report lists; the total counts them all.
pub const REFUSALS_LISTED: usize = 20;

/// Resources refused one by one while the rest of their file was imported: a Patient
/// another source holds, a resource about a patient of another source or of no import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Refusals {
    /// The first [`REFUSALS_LISTED`], in the order they were met.
    pub listed: Vec<ImportError>,
    pub total: u64,
}

impl Refusals {
    pub fn push(&mut self, refusal: ImportError) {
        if self.listed.len() < REFUSALS_LISTED {
            self.listed.push(refusal);
        }
        self.total += 1;
    }

    pub fn extend(&mut self, other: Refusals) {
        let room = REFUSALS_LISTED.saturating_sub(self.listed.len());
        self.listed.extend(other.listed.into_iter().take(room));
        self.total += other.total;
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

/// One input file's result. A failed file contributed nothing to the store.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    pub resources: u64,
    pub events: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ImportError>,
}

impl FileOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Resources of one type skipped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedCount {
    pub resource_type: String,
    pub reason: SkipReason,
    pub description: &'static str,
    pub count: u64,
}

/// The whole run. Totals count committed files only, so they describe the store.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// The source whose ids the files' ids are (`rdt import --source`).
    pub source: SourceName,
    pub files: Vec<FileOutcome>,
    /// Distinct patients that imported files had resources about.
    pub patients: u64,
    /// Resources read, by `resourceType` (imported or skipped).
    pub resources: BTreeMap<String, u64>,
    pub events: u64,
    pub events_by_modality: BTreeMap<Modality, u64>,
    pub skipped: Vec<SkippedCount>,
    /// Resources refused without failing their file (nothing of them was written).
    pub refused: Refusals,
}

impl ImportReport {
    pub fn failed(&self) -> impl Iterator<Item = &ImportError> {
        self.files.iter().filter_map(|f| f.error.as_ref())
    }

    /// Whether anything of the input did not get in: a failed file or a refused
    /// resource (`rdt import` then exits 1).
    pub fn has_failures(&self) -> bool {
        self.failed().next().is_some() || !self.refused.is_empty()
    }

    pub fn resources_total(&self) -> u64 {
        self.resources.values().sum()
    }

    /// The audit record of this run: per file its path, sha256, events and error, so
    /// the trail says exactly which bytes became which journeys (`rdt import`, the
    /// admin's upload).
    pub fn audit_record(&self) -> audit_log::ImportRecord {
        let files = self
            .files
            .iter()
            .map(|f| audit_log::ImportedFile {
                path: f.path.display().to_string(),
                sha256: audit_log::Digest::of_file(&f.path).ok(),
                events: f.events,
                error: f.error.as_ref().map(ToString::to_string),
            })
            .collect();
        audit_log::ImportRecord {
            files,
            patients: self.patients,
            events: self.events,
            source: Some(self.source.to_string()),
            refused: (!self.refused.is_empty()).then_some(self.refused.total),
        }
    }

    /// The run for people: files imported into `store`, patients, resources and events
    /// by type, what was skipped. (Failed files are listed by [`Self::failed`].)
    pub fn summary(&self, store: &dyn std::fmt::Display) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let ok = self.files.iter().filter(|f| f.succeeded()).count();
        let _ = writeln!(out, "Imported {ok} of {} files from source `{}` into {store}", self.files.len(), self.source);
        let _ = writeln!(out, "  patients: {}", self.patients);
        let _ = writeln!(out, "  resources: {}", self.resources_total());
        for (resource_type, n) in &self.resources {
            let _ = writeln!(out, "    {resource_type:<24} {n:>9}");
        }
        let _ = writeln!(out, "  events: {}", self.events);
        for (modality, n) in &self.events_by_modality {
            let _ = writeln!(out, "    {:<24} {n:>9}", modality.as_str());
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "  skipped (no events):");
            for s in &self.skipped {
                let _ = writeln!(out, "    {:<24} {:>9}  {}", s.resource_type, s.count, s.description);
            }
        }
        out
    }

    /// The files that failed and imported nothing, one per line after a count, then
    /// the resources refused (the first [`REFUSALS_LISTED`] and the total); empty when
    /// everything got in (`rdt import` prints it on standard error).
    pub fn failures(&self) -> String {
        let failed: Vec<_> = self.failed().map(|e| format!("  {e}\n")).collect();
        let mut out = match failed.len() {
            0 => String::new(),
            n => format!("{n} file(s) failed and imported nothing:\n{}", failed.concat()),
        };
        if !self.refused.is_empty() {
            out.push_str(&format!("{} resource(s) refused and not written:\n", self.refused.total));
            for e in &self.refused.listed {
                out.push_str(&format!("  {e}\n"));
            }
            let unlisted = self.refused.total - self.refused.listed.len() as u64;
            if unlisted > 0 {
                out.push_str(&format!("  ... and {unlisted} more\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::error::{Location, Problem};

    #[test]
    fn failures_count_and_list_the_failed_files_only() {
        let mut report = ImportReport::default();
        assert_eq!(report.failures(), "");
        let outcome = |error: Option<ImportError>| FileOutcome { path: "a.ndjson".into(), layout: None, resources: 0, events: 0, error };
        let error = ImportError {
            file: "a.ndjson".into(),
            location: Location::Line(3),
            resource_type: None,
            resource_id: None,
            field: None,
            problem: Problem::Json("expected value".into()),
        };
        report.files = vec![outcome(None), outcome(Some(error.clone()))];
        assert_eq!(report.failures(), format!("1 file(s) failed and imported nothing:\n  {error}\n"));
    }

    #[test]
    fn refusals_list_the_first_few_and_count_all() {
        let refusal = |i: usize| ImportError {
            file: "Observation.ndjson".into(),
            location: Location::Line(i),
            resource_type: Some("Observation".into()),
            resource_id: Some(format!("o{i}")),
            field: None,
            problem: Problem::UnknownPatient { patient: "zz".into(), importing: "default".into() },
        };
        let mut report = ImportReport::default();
        for i in 1..=(REFUSALS_LISTED + 5) {
            report.refused.push(refusal(i));
        }
        assert!(report.has_failures());
        let text = report.failures();
        assert!(text.starts_with("25 resource(s) refused and not written:\n"), "{text}");
        assert!(text.contains("  Observation.ndjson:7: Observation/o7: references Patient/zz, which no import of source `default` holds\n"), "{text}");
        assert!(!text.contains("Observation/o21"), "{text}");
        assert!(text.ends_with("  ... and 5 more\n"), "{text}");
        let mut more = Refusals::default();
        more.push(refusal(99));
        report.refused.extend(more);
        assert_eq!((report.refused.listed.len(), report.refused.total), (REFUSALS_LISTED, 26));
    }
}
