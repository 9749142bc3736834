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
}
