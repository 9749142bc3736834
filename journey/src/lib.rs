//! RDT journey: what a patient's record is made of, how it gets in, where it is kept,
//! and what its clinical measures mean.
//!
//! - [`event`]: the journey's unit, a MEDS-compatible time-stamped event.
//! - [`fhir`]: FHIR R4 import (Bundles, Bulk NDJSON) into events.
//! - [`store`]: the journey store (SQLite by default, PostgreSQL when configured).
//! - [`clinical`]: DESIGN.md's clinical definitions (DAS28, EULAR response, flare,
//!   switch), lab tests with their reference ranges, drugs by class; reading CRP, ESR,
//!   DAS28 and courses out of a journey, one function per datum.
//!
//! Everything built on a journey (the twin, the index, cohorts, tools) lives in the
//! crates above this one and reads journeys from the store; none of them writes to it
//! except through [`store::JourneyStore`]. This crate depends on no other RDT crate
//! but `audit-log` (an import run's audit record, [`fhir::ImportReport::audit_record`]).
//! [`terminology`] reads a hospital's codes and units as RDT's concepts when a
//! journey is read (ConceptMap mappings, UCUM units, coverage). [`text`] renders journeys for a terminal.

pub mod clinical;
pub mod event;
pub mod fhir;
pub mod store;
pub mod terminology;
pub mod text;

pub use event::{Code, Event, Modality, PatientId, Phase, Quantity, Source, SourceName};
pub use store::{ConceptMapRecord, Database, Journey, JourneyStore, PatientRecord, PatientSummary, StoreCounts, StoreError};
