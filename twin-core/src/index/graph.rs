//! The HNSW graph the in-process index searches once it is large (usearch: a
//! well-kept single-header C++ HNSW with SIMD distances, keys are our u64 point ids).
//!
//! The graph holds f16 copies of the vectors (half the memory of the table's f32
//! ones); its candidates are re-ranked with the table's exact f32 distances, so
//! distances and tie-breaking are the same as an exact search's. Filters run inside
//! the graph walk (usearch's filtered search asks a predicate per key); one per
//! patient is applied after re-ranking, fetching more candidates while fewer than k
//! remain.

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::error::IndexError;
use super::point::{dot, result_order, take_neighbours, Neighbour, NeighbourQuery, PointId};
use super::table::PointTable;

/// Graph degree; 16 is the usual default for tens of dimensions.
const CONNECTIVITY: usize = 16;
/// Candidate list while inserting (build quality).
const EXPANSION_ADD: usize = 128;
/// Candidate list while searching (recall vs speed; see docs/benchmarks/index.md).
pub const EXPANSION_SEARCH: usize = 96;

pub struct Graph {
    index: Index,
}

fn graph_error(e: impl std::fmt::Display) -> IndexError {
    IndexError::Config(format!("HNSW graph: {e}"))
}

impl Graph {
    /// Builds the graph over every point of the table, on all cores.
    pub fn build(table: &PointTable) -> Result<Self, IndexError> {
        let options = IndexOptions {
            dimensions: table.dim(),
            metric: MetricKind::IP,
            quantization: ScalarKind::F16,
            connectivity: CONNECTIVITY,
            expansion_add: EXPANSION_ADD,
            expansion_search: EXPANSION_SEARCH,
            multi: false,
        };
        let index = Index::new(&options).map_err(graph_error)?;
        let threads = rayon::current_num_threads();
        index.reserve_capacity_and_threads(table.len().max(1024) * 2, threads).map_err(graph_error)?;
        let graph = Graph { index };
        use rayon::prelude::*;
        (0..table.len())
            .into_par_iter()
            .try_for_each(|row| graph.index.add(table.payloads()[row].id.0, table.vector(row)).map_err(graph_error))?;
        Ok(graph)
    }

    /// Adds or replaces one point.
    pub fn insert(&mut self, id: PointId, vector: &[f32]) {
        if self.index.contains(id.0) {
            // The key is known (checked just above), so removal cannot fail.
            let _ = self.index.remove(id.0);
        }
        if self.index.size() + 1 >= self.index.capacity() {
            // Growing by doubling keeps inserts amortised O(1) in allocation.
            let _ = self.index.reserve(self.index.capacity() * 2);
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

    /// The k nearest admitted points: graph candidates re-ranked exactly.
    pub fn search(
        &self,
        table: &PointTable,
        query: &NeighbourQuery,
        unit: &[f32],
    ) -> Result<Vec<Neighbour>, IndexError> {
        let admits =
            |key: u64| table.payload(PointId(key)).is_some_and(|p| query.admits(&p.patient, p.kind, p.follow_up_days));
        let mut count = (query.k * 4).max(32);
        loop {
            let matches = self.index.filtered_search(unit, count, admits).map_err(graph_error)?;
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
