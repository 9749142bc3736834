//! RDT prompts: versioned prompt templates. A template's version is the sha256 of its
//! bytes, so every answer can name exactly the text that produced it.
//!
//! No templates exist before the assistant issue; this crate holds no code yet.
