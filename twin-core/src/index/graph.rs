//! The HNSW graph the in-process index searches once it is large (usearch: a
//! well-kept single-header C++ HNSW with SIMD distances, keys are our u64 point ids).
//!
//! The graph holds copies of the vectors ([`GraphParams::scalar`]); its candidates are
//! re-ranked with the table's exact f32 distances, so distances and tie-breaking are
//! the same as an exact search's. Filters run inside the graph walk (usearch's
//! filtered search asks a predicate per key); one per patient is applied after
//! re-ranking, fetching more candidates while fewer than k remain.
//!
//! On disk (`graph.hnsw`, beside the snapshot) the graph is tied to the snapshot it
//! holds: magic, a JSON header naming the snapshot's SHA-256 and the graph's
//! parameters, usearch's serialised index, SHA-256 of all before it. A file whose
//! checksum, snapshot or parameters do not match is never loaded; the index rebuilds
//! the graph instead (see [`super::local`]).

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::error::{io, IndexError};
use super::point::{dot, result_order, take_neighbours, Neighbour, NeighbourQuery, PointId};
use super::table::PointTable;

pub const GRAPH_FILE: &str = "graph.hnsw";
const GRAPH_MAGIC: &[u8; 8] = b"RDTHNSW1";

/// How the graph stores its copies of the vectors (the exact f32 ones stay in the
/// table for re-ranking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphScalar {
    F32,
    F16,
}

/// The graph's shape and search breadth. The defaults were chosen by measurement
/// on twin-like vectors at 100k and 1M points (docs/benchmarks/index.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphParams {
    /// Graph degree (M): more links, better recall, slower build, more memory.
    pub connectivity: usize,
    /// Candidate list while inserting (build quality).
    pub expansion_add: usize,
    /// Candidate list while searching (recall against speed); not part of the
    /// graph on disk, so it can change without a rebuild.
    pub expansion_search: usize,
    pub scalar: GraphScalar,
}

impl Default for GraphParams {
    /// M 32, ef_add 128, f32 copies, ef 256: on the harder mixture data at 100k points
    /// recall@10 0.98 against 0.92 for the earlier M 16 / f16 graph at the same ef,
    /// 0.8 ms p50 (docs/benchmarks/index.md); twin-like data reaches 1.00 at any ef.
    fn default() -> Self {
        GraphParams { connectivity: 32, expansion_add: 128, expansion_search: 256, scalar: GraphScalar::F32 }
    }
}

impl GraphParams {
    /// Whether a graph built with `self` is the graph `other` would build (search
    /// breadth aside).
    fn same_graph(&self, other: &GraphParams) -> bool {
        (self.connectivity, self.expansion_add, self.scalar) == (other.connectivity, other.expansion_add, other.scalar)
    }

    fn options(&self, dim: usize) -> IndexOptions {
        IndexOptions {
            dimensions: dim,
            metric: MetricKind::IP,
            quantization: match self.scalar {
                GraphScalar::F32 => ScalarKind::F32,
                GraphScalar::F16 => ScalarKind::F16,
            },
            connectivity: self.connectivity,
            expansion_add: self.expansion_add,
            expansion_search: self.expansion_search,
            multi: false,
        }
    }
}

/// The header of a saved graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GraphHeader {
    /// SHA-256 of the snapshot (`points.bin`) the graph holds the points of, hex.
    snapshot: String,
    params: GraphParams,
    dim: usize,
    count: usize,
}

pub struct Graph {
    index: Index,
    params: GraphParams,
}

fn graph_error(e: impl std::fmt::Display) -> IndexError {
    IndexError::Config(format!("HNSW graph: {e}"))
}

impl Graph {
    /// Builds the graph over every point of the table, on all cores.
    pub fn build(table: &PointTable, params: &GraphParams) -> Result<Self, IndexError> {
        let index = Index::new(&params.options(table.dim())).map_err(graph_error)?;
        let threads = rayon::current_num_threads();
        index.reserve_capacity_and_threads(table.len().max(1024) * 2, threads).map_err(graph_error)?;
        let graph = Graph { index, params: *params };
        use rayon::prelude::*;
        (0..table.len())
            .into_par_iter()
            .try_for_each(|row| graph.index.add(table.payloads()[row].id.0, table.vector(row)).map_err(graph_error))?;
        Ok(graph)
    }

    pub fn len(&self) -> usize {
        self.index.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Memory the graph holds (vectors and links), in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_usage()
    }

    /// Adds or replaces one point.
    pub fn insert(&mut self, id: PointId, vector: &[f32]) {
        if self.index.contains(id.0) {
            // The key is known (checked just above), so removal cannot fail.
            let _ = self.index.remove(id.0);
        }
        if self.index.size() + 1 >= self.index.capacity() {
            // Growing by doubling keeps inserts amortised O(1) in allocation.
            let _ = self.index.reserve((self.index.capacity() * 2).max(1024));
        }
        // An add fails only on allocation failure, which reserve just ruled out; the
        // table stays authoritative either way.
        let _ = self.index.add(id.0, vector);
    }

    pub fn remove(&mut self, id: PointId) {
        let _ = self.index.remove(id.0);
    }

    pub fn set_expansion(&self, ef: usize) {
        self.index.change_expansion_search(ef);
    }

    /// Writes the graph beside the snapshot whose SHA-256 is `snapshot`, atomically
    /// (temporary file, fsync, rename).
    pub fn save(&self, dir: &Path, snapshot: &[u8; 32]) -> Result<(), IndexError> {
        let path = dir.join(GRAPH_FILE);
        let header = GraphHeader {
            snapshot: hex(snapshot),
            params: self.params,
            dim: self.index.dimensions(),
            count: self.index.size(),
        };
        let header_json = serde_json::to_vec(&header).expect("the header serialises");
        let mut bytes = Vec::with_capacity(8 + 4 + header_json.len() + self.index.serialized_length() + 32);
        bytes.extend_from_slice(GRAPH_MAGIC);
        bytes.extend_from_slice(&(header_json.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header_json);
        let at = bytes.len();
        bytes.resize(at + self.index.serialized_length(), 0);
        self.index.save_to_buffer(&mut bytes[at..]).map_err(graph_error)?;
        let checksum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&checksum);
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
        tmp.as_file().write_all(&bytes).map_err(io(&path))?;
        tmp.as_file().sync_all().map_err(io(&path))?;
        tmp.persist(&path).map_err(|e| IndexError::Io { path: path.clone(), source: e.error })?;
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    }

    /// Loads the graph saved beside the snapshot whose SHA-256 is `snapshot`.
    /// `Ok(None)` when there is none; `Err(reason)` when there is one that must not
    /// be trusted (damaged, of another snapshot, of other parameters): the caller
    /// rebuilds it.
    pub fn load(
        dir: &Path,
        snapshot: &[u8; 32],
        params: &GraphParams,
        dim: usize,
        count: usize,
    ) -> Result<Option<Self>, String> {
        let path = dir.join(GRAPH_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        if bytes.len() < 8 + 4 + 32 || &bytes[..8] != GRAPH_MAGIC {
            return Err(format!("{} is not an RDT graph file", path.display()));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(format!("{}: checksum mismatch (damaged or truncated)", path.display()));
        }
        let header_len = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes")) as usize;
        let header: GraphHeader = body
            .get(12..12 + header_len)
            .and_then(|h| serde_json::from_slice(h).ok())
            .ok_or_else(|| format!("{}: unreadable header", path.display()))?;
        if header.snapshot != hex(snapshot) {
            return Err(format!("{} was built from another snapshot", path.display()));
        }
        if !header.params.same_graph(params) || header.dim != dim || header.count != count {
            return Err(format!(
                "{} has other parameters ({:?}, {} dims, {} points; wanted {:?}, {dim} dims, {count} points)",
                path.display(),
                header.params,
                header.dim,
                header.count,
                params
            ));
        }
        let index = Index::new(&params.options(dim)).map_err(|e| e.to_string())?;
        index.load_from_buffer(&body[12 + header_len..]).map_err(|e| format!("{}: {e}", path.display()))?;
        if index.size() != count || index.dimensions() != dim {
            return Err(format!("{}: holds {} points, the snapshot {count}", path.display(), index.size()));
        }
        index.change_expansion_search(params.expansion_search);
        let threads = rayon::current_num_threads();
        index.reserve_capacity_and_threads(count.max(1024) * 2, threads).map_err(|e| e.to_string())?;
        Ok(Some(Graph { index, params: *params }))
    }

    /// The k nearest admitted points: graph candidates re-ranked exactly.
    pub fn search(
        &self,
        table: &PointTable,
        query: &NeighbourQuery,
        unit: &[f32],
    ) -> Result<Vec<Neighbour>, IndexError> {
        let admits =
            |key: u64| table.payload(PointId(key)).is_some_and(|p| query.admits(&p.patient, p.kind, p.follow_up_days));
        let filtered = query.exclude_patient.is_some() || query.min_follow_up_days > 0 || query.kind.is_some();
        // The walk keeps `expansion_search` candidates whatever `count` is, so asking
        // for all of them costs no extra distance computations and leaves room for
        // one per patient.
        let mut count = (query.k * 4).max(self.index.expansion_search()).max(32);
        loop {
            let matches =
                if filtered { self.index.filtered_search(unit, count, admits) } else { self.index.search(unit, count) }
                    .map_err(graph_error)?;
            let mut ranked: Vec<(f32, PointId, usize)> = matches
                .keys
                .iter()
                .filter_map(|&key| {
                    table.row(PointId(key)).map(|row| (1.0 - dot(unit, table.vector(row)), PointId(key), row))
                })
                .collect();
            ranked.sort_unstable_by(|a, b| result_order((a.0, a.1), (b.0, b.1)));
            let exhausted = matches.keys.len() < count;
            let found = take_neighbours(query, ranked.iter().map(|&(d, _, row)| table.payloads()[row].neighbour(d)));
            if found.len() == query.k {
                return Ok(found);
            }
            if exhausted || count >= table.len() {
                // The graph gave everything it reaches under the filter and still
                // fewer than k: a filtered graph walk can miss admitted points, so
                // the scan (every admitted point) is the answer.
                return Ok(table.search(query, unit));
            }
            count *= 4;
        }
    }
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
