//! The in-process backend: the points in memory ([`PointTable`]), exact search
//! below a size and a HNSW graph ([`Graph`]) from it, persisted under a directory
//! ([`super::file`]).

use std::path::Path;

use audit_log::Digest;

use super::config::LocalConfig;
use super::error::IndexError;
use super::file::{self, Header, Op};
use super::graph::Graph;
use super::point::{normalised, IndexPoint, Neighbour, NeighbourQuery, PointId};
use super::table::{Payload, PointTable};
use journey::event::PatientId;

/// Changes waiting for [`LocalIndex::flush`]; a flush appends them to the log unless
/// a whole snapshot is due (the log has grown to a quarter of the points, or the
/// index was cleared).
#[derive(Debug, Default)]
struct Pending {
    ops: Vec<Op>,
    snapshot_due: bool,
    logged_since_snapshot: usize,
}

pub struct LocalIndex {
    config: LocalConfig,
    table: PointTable,
    twin_version: Option<Digest>,
    pending: Pending,
    /// Present while the index holds at least `exact_below` points.
    graph: Option<Graph>,
    /// Where the graph came from when the index was opened.
    graph_origin: Option<GraphOrigin>,
}

/// Where an opened index's HNSW graph came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphOrigin {
    /// Read back from `graph.hnsw`: it was saved with the snapshot just read.
    Loaded,
    /// Built from the points (none was saved, or the saved one did not match).
    Built,
}

impl LocalIndex {
    /// Opens the index under `config.dir` (an empty one when nothing is there yet):
    /// the snapshot, then the log replayed over it.
    pub fn open(config: &LocalConfig) -> Result<Self, IndexError> {
        let mut index = LocalIndex {
            config: config.clone(),
            table: PointTable::new(0),
            twin_version: None,
            pending: Pending::default(),
            graph: None,
            graph_origin: None,
        };
        if let Some(snapshot) = file::read_snapshot(&config.dir)? {
            index.table = PointTable::new(snapshot.header.dim);
            index.twin_version = snapshot.header.twin_version;
            for op in snapshot.ops {
                index.apply(op);
            }
            // The graph of the snapshot's points, before the log is replayed over
            // both: loaded when the saved one is this snapshot's, else built and saved.
            if index.wants_graph() {
                let (graph, origin) = index.snapshot_graph(&snapshot.checksum)?;
                index.graph = Some(graph);
                index.graph_origin = Some(origin);
            }
        }
        if index.table.dim() > 0 {
            let log = file::read_log(&config.dir, index.table.dim())?;
            index.pending.logged_since_snapshot = log.len();
            for op in log {
                index.apply(op);
            }
        }
        if index.graph.is_none() && index.wants_graph() {
            index.graph_origin = Some(GraphOrigin::Built);
        }
        index.sync_graph()?;
        Ok(index)
    }

    /// Where the graph came from when the index was opened (`None`: no graph then).
    pub fn graph_origin(&self) -> Option<GraphOrigin> {
        self.graph_origin
    }

    /// The graph of the points just read from the snapshot whose SHA-256 is
    /// `checksum`: the saved one when it belongs to that snapshot, else a new build
    /// (saved for the next open). A saved graph that does not match is never
    /// trusted: it is rebuilt, with a warning naming why.
    fn snapshot_graph(&self, checksum: &[u8; 32]) -> Result<(Graph, GraphOrigin), IndexError> {
        let (dir, params) = (&self.config.dir, &self.config.graph);
        match Graph::load(dir, checksum, params, self.table.dim(), self.table.len()) {
            Ok(Some(graph)) => return Ok((graph, GraphOrigin::Loaded)),
            Ok(None) => {
                tracing::info!(dir = %dir.display(), points = self.table.len(), "building the HNSW graph")
            }
            Err(reason) => tracing::warn!(%reason, "saved HNSW graph not used; rebuilding it"),
        }
        let graph = Graph::build(&self.table, params)?;
        graph.save(dir, checksum)?;
        Ok((graph, GraphOrigin::Built))
    }

    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn dim(&self) -> Option<usize> {
        (self.table.dim() > 0).then_some(self.table.dim())
    }

    pub fn twin_version(&self) -> Option<Digest> {
        self.twin_version
    }

    /// The graph's search breadth (recall against speed); no effect while exact.
    pub fn set_search_expansion(&mut self, ef: usize) {
        if let Some(g) = &self.graph {
            g.set_expansion(ef);
        }
    }

    /// Whether searches go through the HNSW graph (else they scan).
    pub fn uses_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// The graph's memory in bytes (`None` while exact).
    pub fn graph_memory_bytes(&self) -> Option<usize> {
        self.graph.as_ref().map(Graph::memory_bytes)
    }

    fn place(&self) -> String {
        self.config.dir.display().to_string()
    }

    /// Applies one op to the table (and the graph, when there is one).
    fn apply(&mut self, op: Op) {
        match op {
            Op::Upsert(payload, vector) => {
                let id = payload.id;
                let removed = self.table.upsert(payload, &vector);
                if let Some(graph) = &mut self.graph {
                    for old in removed {
                        graph.remove(old);
                    }
                    graph.insert(id, &vector);
                }
            }
            Op::RemovePatient(patient) => {
                let removed = self.table.remove_patient(&patient);
                if let Some(graph) = &mut self.graph {
                    for id in removed {
                        graph.remove(id);
                    }
                }
            }
        }
    }

    fn wants_graph(&self) -> bool {
        self.table.len() >= self.config.exact_below && !self.table.is_empty()
    }

    /// Builds or drops the graph when the size crosses `exact_below`. A graph built
    /// here is saved with the next snapshot.
    fn sync_graph(&mut self) -> Result<(), IndexError> {
        match (self.wants_graph(), self.graph.is_some()) {
            (true, false) => {
                self.graph = Some(Graph::build(&self.table, &self.config.graph)?);
                self.pending.snapshot_due = true;
            }
            (false, true) => self.graph = None,
            _ => {}
        }
        Ok(())
    }

    /// Checks a batch against the index (dimension, twin version, finite vectors)
    /// and returns it as unit vectors.
    pub fn check(&self, points: &[IndexPoint]) -> Result<Vec<(Payload, Vec<f32>)>, IndexError> {
        check_points(&self.place(), self.dim(), self.twin_version, points)
    }

    pub fn upsert(&mut self, points: &[IndexPoint]) -> Result<(), IndexError> {
        let checked = self.check(points)?;
        let Some(first) = points.first() else {
            return Ok(());
        };
        if self.table.dim() == 0 {
            self.table = PointTable::new(first.vector.len());
            self.pending.snapshot_due = true;
        }
        if self.twin_version.is_none() {
            self.twin_version = Some(first.twin_version);
            self.pending.snapshot_due = true;
        }
        for (payload, vector) in checked {
            let op = Op::Upsert(payload, vector);
            self.pending.ops.push(op.clone());
            self.apply(op);
        }
        self.sync_graph()
    }

    pub fn remove_patient(&mut self, patient: &PatientId) -> Result<usize, IndexError> {
        let before = self.table.len();
        let op = Op::RemovePatient(patient.clone());
        self.apply(op.clone());
        let removed = before - self.table.len();
        if removed > 0 {
            self.pending.ops.push(op);
        }
        self.sync_graph()?;
        Ok(removed)
    }

    /// Empties the index and forgets its dimension and twin version (before
    /// re-embedding everyone with a new model).
    pub fn clear(&mut self) {
        self.table.clear(0);
        self.twin_version = None;
        self.graph = None;
        self.graph_origin = None;
        self.pending = Pending { snapshot_due: true, ..Pending::default() };
    }

    pub fn search(&self, query: &NeighbourQuery) -> Result<Vec<Neighbour>, IndexError> {
        if self.table.is_empty() || query.k == 0 {
            return Ok(vec![]);
        }
        let unit = check_query(&self.place(), self.table.dim(), query)?;
        match &self.graph {
            Some(graph) => graph.search(&self.table, query, &unit),
            None => Ok(self.table.search(query, &unit)),
        }
    }

    /// Exact search whatever the size (the reference for recall).
    pub fn search_exact(&self, query: &NeighbourQuery) -> Result<Vec<Neighbour>, IndexError> {
        if self.table.is_empty() || query.k == 0 {
            return Ok(vec![]);
        }
        let unit = check_query(&self.place(), self.table.dim(), query)?;
        Ok(self.table.search(query, &unit))
    }

    /// Makes every change so far durable: appended to the log, or a new snapshot
    /// when one is due.
    pub fn flush(&mut self) -> Result<(), IndexError> {
        let logged = self.pending.logged_since_snapshot + self.pending.ops.len();
        if self.pending.snapshot_due || logged > 1024.max(self.table.len() / 4) {
            let header =
                Header { format: 1, dim: self.table.dim(), twin_version: self.twin_version, count: self.table.len() };
            let points = self.table.payloads().iter().enumerate().map(|(row, p)| (p, self.table.vector(row)));
            let checksum = file::write_snapshot(&self.config.dir, &header, points)?;
            self.pending = Pending::default();
            match &self.graph {
                Some(graph) => graph.save(&self.config.dir, &checksum)?,
                None => remove_stale_graph(&self.config.dir)?,
            }
        } else if !self.pending.ops.is_empty() {
            std::fs::create_dir_all(&self.config.dir).map_err(super::error::io(&self.config.dir))?;
            file::append_log(&self.config.dir, &self.pending.ops)?;
            self.pending.logged_since_snapshot = logged;
            self.pending.ops.clear();
        }
        Ok(())
    }

    pub fn payload(&self, id: PointId) -> Option<&Payload> {
        self.table.payload(id)
    }
}

/// Removes a graph file left from when the index was larger (it belongs to an older
/// snapshot and would never be loaded; this only frees the disk).
fn remove_stale_graph(dir: &Path) -> Result<(), IndexError> {
    let path = dir.join(super::graph::GRAPH_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(IndexError::Io { path, source: e }),
    }
}

/// Checks points against an index's dimension and twin version (either unset on an
/// empty index: the first point sets them) and unit-normalises them.
pub fn check_points(
    place: &str,
    dim: Option<usize>,
    version: Option<Digest>,
    points: &[IndexPoint],
) -> Result<Vec<(Payload, Vec<f32>)>, IndexError> {
    let Some(first) = points.first() else {
        return Ok(vec![]);
    };
    let dim = dim.unwrap_or(first.vector.len());
    let version = version.unwrap_or(first.twin_version);
    points
        .iter()
        .map(|p| {
            let what = || format!("{} point of patient {} at {}", p.kind.as_str(), p.patient, p.index_time);
            if p.vector.len() != dim {
                return Err(IndexError::Dimension {
                    place: place.into(),
                    expected: dim,
                    actual: p.vector.len(),
                    what: what(),
                });
            }
            if p.twin_version != version {
                return Err(IndexError::VersionMismatch {
                    place: place.into(),
                    index: version,
                    points: p.twin_version,
                });
            }
            let unit = normalised(&p.vector).ok_or_else(|| IndexError::BadVector { what: what() })?;
            let payload = Payload {
                id: p.id(),
                patient: p.patient.clone(),
                index_time: p.index_time,
                kind: p.kind,
                follow_up_days: p.follow_up_days,
            };
            Ok((payload, unit))
        })
        .collect()
}

/// The query vector, unit length, checked against the index's dimension.
pub fn check_query(place: &str, dim: usize, query: &NeighbourQuery) -> Result<Vec<f32>, IndexError> {
    if query.vector.len() != dim {
        return Err(IndexError::Dimension {
            place: place.into(),
            expected: dim,
            actual: query.vector.len(),
            what: "query".into(),
        });
    }
    normalised(&query.vector).ok_or_else(|| IndexError::BadVector { what: "query".into() })
}
