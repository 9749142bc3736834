//! The generator's errors: bad parameters, or a file that could not be written.

use std::path::PathBuf;

/// Why a cohort could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A parameter is out of its range (a share above 1, no patients, dates out of order).
    #[error("invalid parameter `{name}`: {why}")]
    InvalidParams { name: &'static str, why: String },
    /// The output directory or one of its files could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A resource could not be serialised; a bug, since every resource is a typed struct.
    #[error("cannot serialise a {resource_type}: {source}")]
    Serialize {
        resource_type: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl SynthError {
    pub(crate) fn invalid(name: &'static str, why: impl Into<String>) -> Self {
        SynthError::InvalidParams { name, why: why.into() }
    }
}
