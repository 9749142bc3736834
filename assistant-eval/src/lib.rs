//! The assistant's evaluation harness, for tests and `rdt eval assistant` only: no
//! product crate depends on it but through dev-dependencies. It holds the question
//! set, its runner and judge, the scratch install the set runs over, and the test
//! doubles the assistant's and the web's tests share.
//!
//! Map:
//! - `questions.rs`: the question sets ([`QuestionSet`], [`SetName`]): the tuning sets
//!   `questions/virtual-cohort.json`, `questions/readings.json` and
//!   `questions/wording.json`, and the frozen held-out set `questions/held-out.json`
//!   (docs/benchmarks/assistant-heldout-protocol.md); each question with what a right
//!   answer holds ([`Expect`]), as kinds of fact, and what it asks ([`Reading`]).
//! - `judge.rs`: whether an answer states the expected fact, the values read from the
//!   store through the tools as the system role; the whole answer and the model's lead
//!   sentence alone.
//! - `expected.rs`: the held-out readings' expected facts (ever started, trend over the
//!   last N values, change, treatment options' figures) from the tools' outputs, and
//!   whether a text states them.
//! - `run.rs`: every question asked through `Assistant::ask` and judged; the run's
//!   figures ([`EvalReport`]: share correct, with the lead alone, per reading,
//!   ungrounded numbers, refusals, seconds).
//! - `scratch.rs`: the scratch install `rdt eval assistant` runs over (virtual cohort,
//!   store, audit log with pinned weights, tiny twin, index, state model):
//!   [`run_on_scratch`].
//! - `testing`: the assistant's test doubles (re-exported from `assistant::testing`, feature `test-doubles`): a scripted chat-model double, injected retrieval vectors, test
//!   stores, MiniLM for tests.
//! - `error.rs`: [`EvalError`], [`ScratchError`].

mod error;
mod expected;
mod judge;
pub mod questions;
pub mod run;
pub mod scratch;
/// The assistant's test doubles, compiled in by its `test-doubles` feature.
pub use assistant::testing;

pub use error::{EvalError, ScratchError};
pub use questions::{Expect, Question, QuestionSet, Reading, SetName, Which, HELD_OUT_SET, VIRTUAL_COHORT_SET};
pub use run::{pick_patients, run, EvalReport, Progress, Scored};
pub use scratch::{run_on_scratch, ScratchOptions, Subset};
