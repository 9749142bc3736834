//! FHIR R4 import: Bundles and Bulk Data NDJSON -> journey events.
//!
//! The stages a resource passes through: file text -> [`parse`] (layout, then
//! `resourceType`/`id`) -> [`map`] (one mapper per resource type) -> events ->
//! [`import::Importer`] (one store transaction per file) -> [`ImportReport`].
//!
//! Every id is read within the run's source ([`crate::SourceName`]): see
//! [`import`] for what that guarantees.
//!
//! Any code system is kept as written, including a hospital's local `urn:oid:` one.
//! Errors name the file, the NDJSON line or Bundle entry, the resource and the field.

pub mod classify;
pub mod datatypes;
pub mod error;
pub mod import;
pub mod map;
pub mod parse;
pub mod report;
pub mod resource_types;
pub mod time;

pub use error::{ImportError, Location, Problem};
pub use import::{import_recorded, ImportProgress, Importer, NoProgress, RecordedImportError};
pub use map::SkipReason;
pub use report::{FileOutcome, ImportReport, Refusals, SkippedCount, REFUSALS_LISTED};
