//! Model artifacts the twin loads: where packaged weights are cached on this machine
//! ([`cache`]; the assistant's GGUF files in [`llm`]) and the rule that nothing loads unless its sha256 is pinned in the
//! install's model registry (`audit_log::ModelRegistry`).

pub mod cache;
pub mod llm;

pub use cache::{CacheError, FetchOutcome, ModelCache, ModelFiles, PackagedModel, MINILM};
pub use llm::{GgufFile, GgufProgress, PackagedGguf, ALL_LLMS, QWEN_CODER_0_5B, QWEN_CODER_1_5B, SMOLLM2_135M};
