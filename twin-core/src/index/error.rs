//! The index's errors: each names what went wrong and where (file, collection,
//! dimension, version).

use std::path::PathBuf;

use audit_log::Digest;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    #[error("neighbour index file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("neighbour index file {path} is damaged: {message}; rebuild it with `rdt embed`")]
    Corrupt { path: PathBuf, message: String },
    #[error("neighbour index {place} holds {expected}-dimensional vectors; got one of {actual} dimensions ({what})")]
    Dimension { place: String, expected: usize, actual: usize, what: String },
    #[error(
        "neighbour index {place} holds twins of model {index}, but these were computed with model {points}: \
         vectors of two models cannot be compared; re-run `rdt embed` to rebuild the index with the active twin"
    )]
    VersionMismatch { place: String, index: Digest, points: Digest },
    #[error("invalid vector for {what}: zero length or not finite")]
    BadVector { what: String },
    #[error("Qdrant at {url}, collection `{collection}`: {message}")]
    Qdrant { url: String, collection: String, message: String },
    #[error("invalid index configuration: {0}")]
    Config(String),
}

/// `map_err` helper for file errors.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io { path: path.to_path_buf(), source }
}
