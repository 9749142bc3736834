//! Which index backend an install uses, and where it lives.

use std::path::{Path, PathBuf};

pub use super::graph::{GraphParams, GraphScalar};

/// Where the neighbour index of one install lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexConfig {
    /// In-process, persisted under a directory (`<data-dir>/index/` by default).
    Local(LocalConfig),
    /// A Qdrant server (gRPC, port 6334).
    Qdrant(QdrantConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    pub dir: PathBuf,
    /// Below this many points search is exact (a scan); at or above it a HNSW graph
    /// answers. Chosen by measurement (docs/benchmarks/index.md).
    pub exact_below: usize,
    /// The HNSW graph's parameters (`RDT_INDEX_EF` overrides the search breadth).
    pub graph: GraphParams,
}

impl LocalConfig {
    /// The index under `dir` with the default switch-over and graph.
    pub fn new(dir: PathBuf) -> Self {
        LocalConfig { dir, exact_below: DEFAULT_EXACT_BELOW, graph: GraphParams::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QdrantConfig {
    /// gRPC URL, e.g. `http://127.0.0.1:6334`.
    pub url: String,
    /// One collection per install (`RDT_QDRANT_COLLECTION`, default `rdt_twins`).
    pub collection: String,
    /// Search exactly (a full scan on the server) instead of with its HNSW graph.
    /// Exact search returns the same ids as the in-process backend.
    pub exact: bool,
}

/// Default size from which the in-process index searches a HNSW graph. Measured
/// side by side (docs/benchmarks/index.md): the exact scan takes 2.7 ms p50 at 100k
/// points and grows linearly (47 ms at 1M); the graph (M 32, f32, ef 256, saved beside
/// the snapshot) answers in 0.2-0.8 ms at 100k with recall@10 0.98-1.00. Below this
/// size answers are exact and no graph is built.
pub const DEFAULT_EXACT_BELOW: usize = 100_000;

pub const DEFAULT_COLLECTION: &str = "rdt_twins";

impl IndexConfig {
    /// The in-process index under `<data_dir>/index/`.
    pub fn local(data_dir: &Path) -> Self {
        IndexConfig::Local(LocalConfig::new(data_dir.join("index")))
    }

    /// Qdrant when `RDT_QDRANT_URL` is set (collection `RDT_QDRANT_COLLECTION`,
    /// default `rdt_twins`; `RDT_QDRANT_EXACT=1` for exact search), else the
    /// in-process index under `<data_dir>/index/` (`RDT_INDEX_EXACT_BELOW` overrides
    /// the exact/HNSW switch-over size).
    pub fn from_env(data_dir: &Path) -> Self {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        match var("RDT_QDRANT_URL") {
            Some(url) => IndexConfig::Qdrant(QdrantConfig {
                url,
                collection: var("RDT_QDRANT_COLLECTION").unwrap_or_else(|| DEFAULT_COLLECTION.to_owned()),
                exact: var("RDT_QDRANT_EXACT").as_deref() == Some("1"),
            }),
            None => {
                let mut local = LocalConfig::new(data_dir.join("index"));
                if let Some(n) = var("RDT_INDEX_EXACT_BELOW").and_then(|v| v.parse().ok()) {
                    local.exact_below = n;
                }
                if let Some(ef) = var("RDT_INDEX_EF").and_then(|v| v.parse().ok()) {
                    local.graph.expansion_search = ef;
                }
                IndexConfig::Local(local)
            }
        }
    }
}
