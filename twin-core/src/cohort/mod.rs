//! The in silico cohort (DESIGN.md "In silico cohort: what it reports"): for a patient
//! at an index date, the outcomes of its k nearest historical snapshots, each with n,
//! estimate and 95% interval, beside the whole population's figure and the snapshot
//! baseline.
//!
//! - [`record`]: a journey read once ([`ClinicalRecord`]) for the many index dates the
//!   cohort looks at it from.
//! - [`outcomes`]: one patient's outcomes after an index date ([`PatientOutcomes`]),
//!   on the definitions of [`journey::clinical`].
//! - [`features`]: the latest-visit features of the snapshot baseline.
//! - [`regression`]: ridge logistic / linear regression for that baseline.
//! - [`stats`]: Wilson and t intervals, and the refusal below a minimum n.
//! - [`population`]: every historical snapshot, its outcomes and the fitted baseline.
//! - [`pseudonym`]: keyed pseudonyms of neighbours.
//! - [`pooling`]: the neighbours' rate read as this patient's chance, pooled with the
//!   usual rate of this twin's neighbourhoods ([`NeighbourhoodPrior`]).
//! - [`report`]: [`CohortReport`] over the neighbours a search returned.
//! - [`sequence`]: the recurrent baseline, a GRU over event tokens up to a cut.
//! - [`query`]: one query end to end: the patient's twin at a date, its nearest
//!   historical snapshots in the neighbour index, the report.
//!
//! Invariants: a neighbour's outcomes are read after its own snapshot's index time;
//! below `min_n` neighbours with data an outcome carries no rate or mean (an enum
//! variant, not a number); a report's JSON never holds a neighbour's real id (only
//! [`CohortAudit`], which is not serialised, does).

pub mod boosting;
pub mod features;
pub mod history;
pub mod outcomes;
pub mod pooling;
pub mod population;
pub mod pseudonym;
pub mod query;
pub mod record;
pub mod regression;
pub mod report;
pub mod sequence;
pub mod stats;

#[cfg(test)]
pub(crate) mod testutil;

pub use outcomes::{Outcome, PatientOutcomes};
pub use pooling::{Moment, NeighbourhoodPrior, Pooled};
pub use population::Population;
pub use pseudonym::{Pseudonym, PseudonymKey};
pub use query::{index_twin, query_cohort, twin_at, CohortError, CohortSources, QueryOptions};
pub use record::ClinicalRecord;
pub use report::{CohortAudit, CohortReport, NeighbourRef, OutcomeRow, DEFAULT_MIN_N};
pub use stats::{Estimate, Interval};
