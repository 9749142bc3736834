//! Model artifacts the twin loads: where packaged weights are cached on this machine
//! ([`cache`]; the assistant's GGUF files use the same cache, in `assistant::gguf`) and the rule that nothing loads unless its sha256 is pinned in the
//! install's model registry (`audit_log::ModelRegistry`).

pub mod cache;

pub use cache::{CacheError, FetchOutcome, ModelCache, ModelFiles, PackagedModel, MINILM};
