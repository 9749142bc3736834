//! What an import did: per file, and totals over the files that were committed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::error::ImportError;
use super::map::SkipReason;
use super::parse::Layout;
use crate::event::Modality;

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
    pub files: Vec<FileOutcome>,
    /// Distinct patients that imported files had resources about.
    pub patients: u64,
    /// Resources read, by `resourceType` (imported or skipped).
    pub resources: BTreeMap<String, u64>,
    pub events: u64,
    pub events_by_modality: BTreeMap<Modality, u64>,
    pub skipped: Vec<SkippedCount>,
}

impl ImportReport {
    pub fn failed(&self) -> impl Iterator<Item = &ImportError> {
        self.files.iter().filter_map(|f| f.error.as_ref())
    }

    pub fn has_failures(&self) -> bool {
        self.failed().next().is_some()
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
        audit_log::ImportRecord { files, patients: self.patients, events: self.events }
    }

    /// The run for people: files imported into `store`, patients, resources and events
    /// by type, what was skipped. (Failed files are listed by [`Self::failed`].)
    pub fn summary(&self, store: &dyn std::fmt::Display) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let ok = self.files.iter().filter(|f| f.succeeded()).count();
        let _ = writeln!(out, "Imported {ok} of {} files into {store}", self.files.len());
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
}
