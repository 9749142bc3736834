//! The in-process index's points: one contiguous row-major matrix of unit vectors
//! plus their payloads, and exact search over it.
//!
//! The matrix is contiguous so a scan is a stream of 64-float dot products the CPU
//! prefetches and vectorises ([`super::point::dot`]); large scans split across threads
//! with rayon. Removal swaps the last row into the hole, so rows stay dense.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::point::{dot, result_order, take_neighbours, Neighbour, NeighbourQuery, PointId, SnapshotKind};
use journey::event::PatientId;

/// A point's payload (everything but its vector).
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub id: PointId,
    pub patient: PatientId,
    pub index_time: DateTime<Utc>,
    pub kind: SnapshotKind,
    pub follow_up_days: u32,
}

impl Payload {
    pub fn neighbour(&self, distance: f32) -> Neighbour {
        Neighbour {
            id: self.id,
            patient: self.patient.clone(),
            index_time: self.index_time,
            kind: self.kind,
            distance,
            follow_up_days: self.follow_up_days,
        }
    }
}

/// Below this many rows a scan runs on the calling thread (spawning costs more).
const PARALLEL_FROM: usize = 32_768;

#[derive(Debug, Clone, Default)]
pub struct PointTable {
    dim: usize,
    vectors: Vec<f32>,
    payloads: Vec<Payload>,
    rows: HashMap<PointId, usize>,
    /// Each patient's live point, so a newer one replaces it.
    live: HashMap<PatientId, PointId>,
    /// Each patient's points, so removing a patient does not scan the table.
    by_patient: HashMap<PatientId, Vec<PointId>>,
}

impl PointTable {
    pub fn new(dim: usize) -> Self {
        PointTable { dim, ..Default::default() }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.payloads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }

    pub fn payloads(&self) -> &[Payload] {
        &self.payloads
    }

    pub fn vector(&self, row: usize) -> &[f32] {
        &self.vectors[row * self.dim..(row + 1) * self.dim]
    }

    pub fn row(&self, id: PointId) -> Option<usize> {
        self.rows.get(&id).copied()
    }

    pub fn payload(&self, id: PointId) -> Option<&Payload> {
        self.row(id).map(|r| &self.payloads[r])
    }

    /// Inserts or replaces a point (`vector` already unit length, of width `dim`).
    /// A live point replaces the patient's previous live point; the ids removed so
    /// are returned (so a graph over the table can drop them too).
    pub fn upsert(&mut self, payload: Payload, vector: &[f32]) -> Vec<PointId> {
        debug_assert_eq!(vector.len(), self.dim);
        let mut removed = Vec::new();
        if payload.kind == SnapshotKind::Live {
            if let Some(old) = self.live.insert(payload.patient.clone(), payload.id) {
                if old != payload.id && self.remove(old) {
                    removed.push(old);
                }
            }
        }
        match self.rows.get(&payload.id) {
            Some(&row) => {
                self.vectors[row * self.dim..(row + 1) * self.dim].copy_from_slice(vector);
                self.payloads[row] = payload;
            }
            None => {
                self.by_patient.entry(payload.patient.clone()).or_default().push(payload.id);
                self.rows.insert(payload.id, self.payloads.len());
                self.vectors.extend_from_slice(vector);
                self.payloads.push(payload);
            }
        }
        removed
    }

    /// Removes one point; false when it was not there.
    pub fn remove(&mut self, id: PointId) -> bool {
        let Some(row) = self.rows.remove(&id) else {
            return false;
        };
        let last = self.payloads.len() - 1;
        let patient = &self.payloads[row].patient;
        if self.live.get(patient) == Some(&id) {
            self.live.remove(patient);
        }
        if let Some(ids) = self.by_patient.get_mut(patient) {
            ids.retain(|&i| i != id);
            if ids.is_empty() {
                self.by_patient.remove(patient);
            }
        }
        if row != last {
            let (head, tail) = self.vectors.split_at_mut(last * self.dim);
            head[row * self.dim..(row + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            self.payloads.swap(row, last);
            self.rows.insert(self.payloads[row].id, row);
        }
        self.payloads.pop();
        self.vectors.truncate(last * self.dim);
        true
    }

    /// Removes every point of a patient, returning their ids.
    pub fn remove_patient(&mut self, patient: &PatientId) -> Vec<PointId> {
        let ids = self.by_patient.get(patient).cloned().unwrap_or_default();
        for id in &ids {
            self.remove(*id);
        }
        ids
    }

    pub fn clear(&mut self, dim: usize) {
        *self = PointTable::new(dim);
    }

    /// Exact search: every admitted point's distance, the nearest first.
    pub fn search(&self, query: &NeighbourQuery, unit_query: &[f32]) -> Vec<Neighbour> {
        let score = |row: usize| {
            let p = &self.payloads[row];
            query
                .admits(&p.patient, p.kind, p.follow_up_days)
                .then(|| (1.0 - dot(unit_query, self.vector(row)), p.id, row))
        };
        let mut candidates: Vec<(f32, PointId, usize)> = if self.len() >= PARALLEL_FROM {
            (0..self.len()).into_par_iter().with_min_len(4096).filter_map(score).collect()
        } else {
            (0..self.len()).filter_map(score).collect()
        };
        // Sort only a prefix large enough for k (one per patient may skip some);
        // fall back to sorting everything when it was not.
        let order = |a: &(f32, PointId, usize), b: &(f32, PointId, usize)| result_order((a.0, a.1), (b.0, b.1));
        let mut prefix = (query.k * 8 + 32).min(candidates.len());
        loop {
            if prefix < candidates.len() {
                candidates.select_nth_unstable_by(prefix, order);
            }
            candidates[..prefix].sort_unstable_by(order);
            let found =
                take_neighbours(query, candidates[..prefix].iter().map(|&(d, _, row)| self.payloads[row].neighbour(d)));
            if found.len() == query.k || prefix == candidates.len() {
                return found;
            }
            prefix = (prefix * 4).min(candidates.len());
        }
    }
}
