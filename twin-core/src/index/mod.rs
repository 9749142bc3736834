//! The neighbour index: journey snapshots' twin vectors, searched by cosine distance.
//!
//! - [`point`]: what it holds and answers: [`IndexPoint`] (a journey snapshot,
//!   [`SnapshotKind::Live`] or [`SnapshotKind::Historical`]), [`PointId`],
//!   [`NeighbourQuery`], [`Neighbour`]; the distance and result order every backend
//!   shares.
//! - [`config`]: [`IndexConfig`]: in-process under `<data-dir>/index/`, or Qdrant when
//!   `RDT_QDRANT_URL` is set.
//! - [`local`]: the in-process backend: [`table`] (exact scan over a contiguous
//!   matrix), [`graph`] (HNSW, usearch, once the index is large), [`file`] (snapshot +
//!   log, crash-safe).
//! - [`qdrant`]: the Qdrant backend (gRPC).
//! - [`build`]: which snapshots of a journey are indexed ([`SnapshotPlan`]) and their
//!   twins; [`rebuild`]: the whole index from the store and the active twin (`rdt
//!   embed`); [`sync`]: [`sync::add_event`], a new event through store, twin and index.
//! - [`error`] holds [`IndexError`].
//!
//! Invariants, whatever the backend:
//! - one index holds the twins of one twin model version; a point of another version
//!   is refused ([`IndexError::VersionMismatch`]), and so is a vector of another width;
//! - results are ordered by distance, then point id, so backends agree on ids and
//!   order; filters never return fewer than k while k points pass them;
//! - a patient has at most one live point: upserting a newer one replaces it.

pub mod build;
pub mod catch_up;
pub mod config;
pub mod error;
pub mod file;
pub mod graph;
pub mod local;
pub mod point;
pub mod qdrant;
pub mod rebuild;
pub mod sync;
pub mod table;
pub mod writer;

use audit_log::Digest;

pub use build::SnapshotPlan;
pub use config::{GraphParams, GraphScalar, IndexConfig, LocalConfig, QdrantConfig};
pub use error::IndexError;
pub use local::{GraphOrigin, LocalIndex};
pub use point::{IndexPoint, Neighbour, NeighbourQuery, PointId, SnapshotKind};
pub use qdrant::QdrantIndex;
pub use writer::IndexWriter;

use journey::event::PatientId;

/// The index of one install, whichever backend holds it.
///
/// Methods are async because the Qdrant backend is a network service; the in-process
/// backend answers without awaiting. Writes take `&mut self`; a server that shares
/// the index wraps it in a `tokio::sync::RwLock`.
pub enum NeighbourIndex {
    Local(LocalIndex),
    Qdrant(QdrantIndex),
}

impl NeighbourIndex {
    /// Opens (creating on first use) the index `config` names.
    pub async fn open(config: &IndexConfig) -> Result<Self, IndexError> {
        match config {
            IndexConfig::Local(local) => Ok(NeighbourIndex::Local(LocalIndex::open(local)?)),
            IndexConfig::Qdrant(q) => Ok(NeighbourIndex::Qdrant(QdrantIndex::open(q).await?)),
        }
    }

    /// Inserts or replaces points (same id = same snapshot). Refuses the whole batch
    /// when one point has another width or twin version than the index.
    pub async fn upsert(&mut self, points: &[IndexPoint]) -> Result<(), IndexError> {
        match self {
            NeighbourIndex::Local(i) => i.upsert(points),
            NeighbourIndex::Qdrant(q) => q.upsert(points).await,
        }
    }

    /// Removes every snapshot of a patient; returns how many there were.
    pub async fn remove_patient(&mut self, patient: &PatientId) -> Result<usize, IndexError> {
        match self {
            NeighbourIndex::Local(i) => i.remove_patient(patient),
            NeighbourIndex::Qdrant(q) => q.remove_patient(patient).await,
        }
    }

    /// The k nearest snapshots that pass the query's filters.
    pub async fn search(&self, query: &NeighbourQuery) -> Result<Vec<Neighbour>, IndexError> {
        match self {
            NeighbourIndex::Local(i) => i.search(query),
            NeighbourIndex::Qdrant(q) => q.search(query).await,
        }
    }

    /// How many points the index holds.
    pub async fn len(&self) -> Result<usize, IndexError> {
        match self {
            NeighbourIndex::Local(i) => Ok(i.len()),
            NeighbourIndex::Qdrant(q) => q.len().await,
        }
    }

    pub async fn is_empty(&self) -> Result<bool, IndexError> {
        Ok(self.len().await? == 0)
    }

    /// Makes every change so far durable (the in-process backend writes its log or
    /// a snapshot; Qdrant writes are durable when acknowledged).
    pub async fn flush(&mut self) -> Result<(), IndexError> {
        match self {
            NeighbourIndex::Local(i) => i.flush(),
            NeighbourIndex::Qdrant(_) => Ok(()),
        }
    }

    /// Removes every point and forgets the twin version and width (before
    /// re-embedding everyone with another model).
    pub async fn clear(&mut self) -> Result<(), IndexError> {
        match self {
            NeighbourIndex::Local(i) => {
                i.clear();
                Ok(())
            }
            NeighbourIndex::Qdrant(q) => q.clear().await,
        }
    }

    /// The twin model version the index's vectors come from (`None` while empty).
    pub fn twin_version(&self) -> Option<Digest> {
        match self {
            NeighbourIndex::Local(i) => i.twin_version(),
            NeighbourIndex::Qdrant(q) => q.twin_version(),
        }
    }

    /// The vectors' width (`None` while empty).
    pub fn dim(&self) -> Option<usize> {
        match self {
            NeighbourIndex::Local(i) => i.dim(),
            NeighbourIndex::Qdrant(q) => q.dim(),
        }
    }

    /// Where the index lives, for messages and audit entries.
    pub fn describe(&self) -> String {
        match self {
            NeighbourIndex::Local(i) => format!("in-process index {}", i.dir().display()),
            NeighbourIndex::Qdrant(q) => q.describe(),
        }
    }
}
