//! What the neighbour index holds and answers: journey snapshots ([`IndexPoint`]),
//! their stable ids ([`PointId`]), queries ([`NeighbourQuery`]) and answers
//! ([`Neighbour`]).
//!
//! A point is a *snapshot* of a journey, not a patient: the same patient appears once
//! as [`SnapshotKind::Live`] (their twin at their last event, what a clinician asks
//! about) and possibly several times as [`SnapshotKind::Historical`] (their twin at a
//! past date with `follow_up_days` of record after it, what cohort outcomes are
//! computed from).

use std::cmp::Ordering;

use audit_log::Digest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use journey::event::PatientId;

/// Which moment of a journey a point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    /// The patient's twin at their last event; replaced whenever an event is added.
    Live,
    /// The twin at a past index time, with record (follow-up) after it.
    Historical,
}

impl SnapshotKind {
    /// The stable name stored in files and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Live => "live",
            SnapshotKind::Historical => "historical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(SnapshotKind::Live),
            "historical" => Some(SnapshotKind::Historical),
            _ => None,
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            SnapshotKind::Live => 0,
            SnapshotKind::Historical => 1,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(SnapshotKind::Live),
            1 => Some(SnapshotKind::Historical),
            _ => None,
        }
    }
}

/// A point's id: the first 8 bytes (little-endian) of SHA-256 over
/// `patient \0 kind \0 index_time (µs since the epoch)`.
///
/// Stable across runs and backends (Qdrant wants u64 or UUID ids), so re-upserting
/// the same snapshot replaces it. A patient's live point keeps the id of its index
/// time: when the live point moves to a newer event the old one is removed first
/// ([`crate::index::NeighbourIndex::upsert`] does this for `Live` points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PointId(pub u64);

impl PointId {
    pub fn of(patient: &PatientId, kind: SnapshotKind, index_time: DateTime<Utc>) -> Self {
        let mut bytes = Vec::with_capacity(patient.as_str().len() + 24);
        bytes.extend_from_slice(patient.as_str().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(kind.as_str().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(&index_time.timestamp_micros().to_le_bytes());
        let digest = Digest::of(&bytes);
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        PointId(u64::from_le_bytes(first))
    }
}

/// One journey snapshot in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexPoint {
    pub patient: PatientId,
    /// The end of the journey window the twin was computed on.
    pub index_time: DateTime<Utc>,
    pub kind: SnapshotKind,
    /// Whole days of record after `index_time` (0 for a live point).
    pub follow_up_days: u32,
    /// The twin model (sha256 of its manifest) that computed `vector`; an index holds
    /// one version only.
    pub twin_version: Digest,
    /// The twin vector; the index L2-normalises it.
    pub vector: Vec<f32>,
}

impl IndexPoint {
    pub fn id(&self) -> PointId {
        PointId::of(&self.patient, self.kind, self.index_time)
    }
}

/// A neighbour found by a search: which snapshot, and how far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub id: PointId,
    pub patient: PatientId,
    pub index_time: DateTime<Utc>,
    pub kind: SnapshotKind,
    /// Cosine distance, `1 - cos`, in `[0, 2]`.
    pub distance: f32,
    pub follow_up_days: u32,
}

/// A k-nearest-neighbour query.
///
/// Results are ordered by distance, then by point id, so that every backend returns
/// the same ids in the same order on the same data. Filters never shrink the answer
/// below `k` while enough points pass them: backends over-fetch and refill.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourQuery {
    pub vector: Vec<f32>,
    pub k: usize,
    /// Leave this patient out (the patient asking about themselves).
    pub exclude_patient: Option<PatientId>,
    /// Only snapshots with at least this much record after them (outcomes need it).
    pub min_follow_up_days: u32,
    /// Only the nearest snapshot of each patient (so one long journey cannot fill the
    /// cohort). Default true.
    pub one_per_patient: bool,
    /// Only snapshots of this kind, when set.
    pub kind: Option<SnapshotKind>,
}

impl NeighbourQuery {
    /// The `k` nearest, one per patient, no other filter.
    pub fn new(vector: Vec<f32>, k: usize) -> Self {
        NeighbourQuery { vector, k, exclude_patient: None, min_follow_up_days: 0, one_per_patient: true, kind: None }
    }

    pub fn excluding(mut self, patient: PatientId) -> Self {
        self.exclude_patient = Some(patient);
        self
    }

    pub fn min_follow_up_days(mut self, days: u32) -> Self {
        self.min_follow_up_days = days;
        self
    }

    pub fn all_snapshots(mut self) -> Self {
        self.one_per_patient = false;
        self
    }

    pub fn kind(mut self, kind: SnapshotKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Whether a point's payload passes the filters (not `one_per_patient`, which
    /// depends on the other results).
    pub fn admits(&self, patient: &PatientId, kind: SnapshotKind, follow_up_days: u32) -> bool {
        self.exclude_patient.as_ref() != Some(patient)
            && follow_up_days >= self.min_follow_up_days
            && self.kind.is_none_or(|k| k == kind)
    }
}

/// The result order: distance, then point id. `total_cmp` keeps it total (a NaN
/// cannot appear: vectors are checked finite on upsert).
pub fn result_order(a: (f32, PointId), b: (f32, PointId)) -> Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// Cosine distance of two unit vectors. Eight independent accumulators let the
/// compiler vectorise the loop (a single running sum cannot be reordered), and every
/// backend's distances go through this one function so ties break identically.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    1.0 - dot(a, b)
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for i in chunks * 8..a.len() {
        tail += a[i] * b[i];
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `v` scaled to unit length, or `None` when it is zero or not finite.
pub fn normalised(v: &[f32]) -> Option<Vec<f32>> {
    if v.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let norm = dot(v, v).sqrt();
    (norm > 0.0 && norm.is_finite()).then(|| v.iter().map(|x| x / norm).collect())
}

/// Applies `one_per_patient` and `k` to candidates already filtered by
/// [`NeighbourQuery::admits`] and sorted by [`result_order`].
pub fn take_neighbours(query: &NeighbourQuery, sorted: impl IntoIterator<Item = Neighbour>) -> Vec<Neighbour> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(query.k);
    for n in sorted {
        if out.len() == query.k {
            break;
        }
        if query.one_per_patient && !seen.insert(n.patient.clone()) {
            continue;
        }
        out.push(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn point_ids_are_stable_and_tell_snapshots_apart() {
        let p = PatientId::new("p-1").unwrap();
        let t = Utc.with_ymd_and_hms(2021, 3, 4, 5, 6, 7).unwrap();
        let id = PointId::of(&p, SnapshotKind::Live, t);
        assert_eq!(id, PointId::of(&p, SnapshotKind::Live, t));
        assert_ne!(id, PointId::of(&p, SnapshotKind::Historical, t));
        assert_ne!(id, PointId::of(&p, SnapshotKind::Live, t + chrono::Duration::seconds(1)));
        assert_ne!(id, PointId::of(&PatientId::new("p-2").unwrap(), SnapshotKind::Live, t));
        // The id is a function of the bytes named in its doc, nothing else.
        let mut bytes = b"p-1\0live\0".to_vec();
        bytes.extend_from_slice(&t.timestamp_micros().to_le_bytes());
        let digest = Digest::of(&bytes);
        assert_eq!(id.0, u64::from_le_bytes(digest.as_bytes()[..8].try_into().unwrap()));
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..67).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..67).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((dot(&a, &b) as f64 - plain).abs() < 1e-4);
        let n = normalised(&a).unwrap();
        assert!((dot(&n, &n) - 1.0).abs() < 1e-5);
        assert!(normalised(&[0.0, 0.0]).is_none() && normalised(&[f32::NAN, 1.0]).is_none());
    }
}
