//! The [`Tool`] trait: what every tool declares and how it is called.

use std::future::Future;

use audit_log::{CohortRecord, Principal, Role};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use journey::PatientId;

use crate::bounded::Bounded;
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::Facts;
use crate::reading::{Asks, Reading};
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::vocabulary::Vocabulary;

/// A typed tool. Implementations are unit structs; the registry dispatches on
/// [`ToolName`] with static calls (no trait objects), so `call` can be an `async fn`.
pub trait Tool {
    const NAME: ToolName;
    /// What the tool answers, for the model's tool list and for narrowing candidates
    /// by embedding similarity to the question.
    const DESCRIPTION: &'static str;
    /// Questions this tool answers, embedded beside the description.
    const EXAMPLES: &'static [&'static str];
    /// The tool's domain words: a question using one ranks it higher, and a required
    /// vocabulary left unused keeps the tool off the candidates ([`Vocabulary`]).
    const VOCABULARY: Vocabulary = Vocabulary::NONE;
    /// The role a caller needs (`System` may call every tool).
    const REQUIRED_ROLE: Role;
    /// At most this many items in any list of the output; longer lists are cut and
    /// the cut is reported in [`Bounded`].
    const MAX_ITEMS: usize;
    /// A hard bound on the serialised output; the tests check it on overfull journeys,
    /// and the audit helper keeps results up to it.
    const MAX_BYTES: usize;

    type Input: DeserializeOwned + JsonSchema;
    type Output: Serialize + JsonSchema;

    /// The kinds of reading ([`Asks`]) the tool answers, for its spec and the default
    /// [`Tool::answers`].
    const READINGS: &'static [Asks] = &[];

    /// Whether the tool states the fact `reading` asks for: then routing offers it
    /// whatever the question's wording, and "The record can't answer that." is never
    /// said while a tool that answers the reading could run. The default: the kind is
    /// one of [`Tool::READINGS`]; tools that need a concept (a lab test, a drug) say so.
    fn answers(reading: &Reading) -> bool {
        Self::READINGS.contains(&reading.asks)
    }

    /// Arguments the question's reading names, which override the model's: a small
    /// model filling `{"test": ...}` for "What is the latest haemoglobin?" can write
    /// `alt` (docs/benchmarks/assistant.md), while the question names the test without
    /// doubt. Empty unless a tool knows how to read one of its fields from a reading.
    fn arguments_read(_reading: &Reading) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }

    /// [`Tool::arguments_read`] of the question's reading.
    fn arguments_named_in(question: &str) -> serde_json::Map<String, serde_json::Value> {
        Self::arguments_read(&Reading::of(question))
    }

    /// The patients a call with this input reads, for the scope check and the audit
    /// entry. From the input only: the scope, never the input, says whether they may
    /// be read.
    fn patients(input: &Self::Input) -> Vec<PatientId>;

    /// The cohort a call retrieved (neighbours' real ids, distances, index and twin
    /// versions), for its audit entry only: never part of the serialised output.
    fn cohort_record(_output: &Self::Output) -> Option<CohortRecord> {
        None
    }

    /// What `output` states, in RDT's own sentences, with the typed parts a check of a
    /// model's lead needs: each tool states its own result, from its own fields.
    fn facts(output: &Self::Output) -> Facts;

    /// Runs the tool. The tool checks role and scope itself (through
    /// [`ToolContext::journey`]), whoever calls it.
    fn call(
        &self,
        ctx: &ToolContext,
        principal: &Principal,
        scope: &Scope,
        input: Self::Input,
    ) -> impl Future<Output = Result<Bounded<Self::Output>, ToolError>> + Send;
}
