//! RDT tools: the typed functions the assistant and the web call into the journey store.
//!
//! A tool takes a typed input (its JSON schema derived with schemars), checks the
//! caller's role and patient scope itself, and returns computed facts (flags against
//! reference ranges, trends with slopes and intervals, durations, counts) inside a
//! [`Bounded`] that says when it cut something. A small model misreads raw numbers
//! (../shared/MODELS.md), so tools do the reading and the model only relays.
//!
//! Map:
//! - `tool.rs`: the [`Tool`] trait (name, description, examples, role, bound, facts, call).
//! - `facts.rs`: [`Facts`], a result in RDT's own sentences, which each tool states from
//!   its typed output; [`ToolResult::facts`] carries them.
//! - `registry.rs`: [`ToolName`], [`ToolSpec`] with schemas ([`specs`], per role
//!   [`specs_for`], as prompt text [`catalogue`]), and the dynamic entry [`call_json`]
//!   returning a [`ToolResult`].
//! - `scope.rs`: [`Scope`] and the role/scope checks; `context.rs`: [`ToolContext`],
//!   the one door from a tool to a journey.
//! - `bounded.rs`: [`Bounded`], output bounds. `error.rs`: [`ToolError`].
//! - `invoke.rs`: the one audited door ([`invoke`], [`invoke_tool`]): every product
//!   caller runs tools through it, so each call is checked, bounded and recorded alike.
//! - `audit.rs`: a tool invocation as an `audit_log` entry (the one builder).
//! - Clinical definitions live in `journey::clinical` (one home: the cohort analytics
//!   and the virtual cohort read them too); `reference.rs` (lab tests, reference
//!   ranges, [`Flag`]), `das28.rs` (activity categories, EULAR response, flare) and
//!   `drugs.rs` (RxNorm ingredients and classes) re-export them under the tools' paths.
//!   `trend.rs` ([`Trend`], least squares) is the tools' statistic; `record.rs` reads a
//!   journey with those definitions ([`RecordText`] carries record text out).
//! - One tool per file: `patient_summary.rs`, `lab_trend.rs`, `disease_activity.rs`,
//!   `medication_history.rs`, `compare_patients.rs`, `glossary.rs`, `state_forecast.rs`
//!   (the disease-state model's forecast; the model comes with [`ToolContext`]),
//!   `similar_patients.rs` (the in silico cohort: nearest historical patients and
//!   their outcomes), `explain_neighbourhood.rs` (what those neighbours share) and
//!   `compare_treatments.rs` (the treatment options: how similar patients who started
//!   each fared, weighted for who got it), all over `cohort.rs`
//!   ([`cohort::CohortHandles`]: twin, index, population, its decisions per option).
//!
//! Architecture invariants: a tool's scope comes from the caller's principal and
//! session, never from model output; text from the record (notes, stop reasons) is
//! returned as data in its own field, never followed; this crate depends on
//! `twin-core` and `audit-log` only.

mod audit;
mod bounded;
pub mod change;
pub mod cohort;
pub mod cohort_query;
mod context;
pub mod das28;
pub mod drugs;
mod error;
pub mod facts;
mod invoke;
pub mod record;
pub mod reference;
mod registry;
mod scope;
mod tool;
pub mod reading;
pub mod trend;
pub mod vocabulary;

pub mod compare_patients;
pub mod compare_treatments;
pub mod disease_activity;
pub mod explain_neighbourhood;
pub mod glossary;
pub mod lab_trend;
pub mod medication_history;
pub mod patient_alerts;
pub mod patient_summary;
pub mod similar_patients;
pub mod state_forecast;

#[cfg(test)]
mod testutil;

pub use audit::{refusal_entry, tool_call_entry, tool_call_record};
pub use bounded::{Bounded, Trimmer};
pub use context::ToolContext;
pub use error::{cause_chain, ToolError};
pub use facts::{facts_of, Aspect, CategoryVerdict, DrugFacts, FactParts, Facts};
pub use invoke::{invoke, invoke_tool, Caller, InvokeError, Invoked};
pub use record::{PatientArg, RecordText};
pub use reference::{Flag, LabTest};
pub use registry::{call_json, catalogue, spec_of, specs, specs_for, ToolName, ToolResult, ToolSpec};
pub use scope::Scope;
pub use tool::Tool;
pub use trend::Trend;
pub use vocabulary::Vocabulary;
