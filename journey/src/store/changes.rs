//! The change feed: which patients' records changed since what RDT derives from them
//! (each patient's twin and index points) last caught up.
//!
//! Every write that changes a record appends the patient to the feed in the same
//! transaction ([`super::FileWrite::replace_events`], [`super::FileWrite::upsert_patients`]):
//! the feed cannot miss a committed write, and a rolled-back write leaves no row. A
//! consumer reads the oldest changed patients ([`JourneyStore::changed_patients`]),
//! brings their derived state up to date, and only then acknowledges them
//! ([`JourneyStore::acknowledge_changes`]), which removes each patient's rows up to
//! the one it read: a write that lands meanwhile keeps its row and is read next time.
//! A process killed anywhere between the write and the acknowledgement leaves the
//! rows in place, so the next consumer redoes the work (it is idempotent: a twin is a
//! function of the journey).

use serde::Serialize;

use super::{Backend, JourneyStore, StoreError};
use crate::event::PatientId;

/// A position in the change feed: later writes have larger ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ChangeSeq(pub i64);

/// A patient with changes waiting, and the latest of them when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedPatient {
    pub patient: PatientId,
    /// Acknowledging covers the patient's changes up to here, not later ones.
    pub through: ChangeSeq,
}

impl JourneyStore {
    /// Up to `limit` patients with changes waiting, those waiting longest first.
    pub async fn changed_patients(&self, limit: usize) -> Result<Vec<ChangedPatient>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, i64)> = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_as(
                    "SELECT patient_id, MAX(seq) FROM patient_changes GROUP BY patient_id ORDER BY MIN(seq) LIMIT ?",
                )
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT patient_id, MAX(seq) FROM patient_changes GROUP BY patient_id ORDER BY MIN(seq) LIMIT $1",
                )
                .bind(limit)
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter()
            .map(|(patient, seq)| {
                let patient = PatientId::new(patient)
                    .ok_or_else(|| StoreError::Corrupt("an empty patient id in the change feed".into()))?;
                Ok(ChangedPatient { patient, through: ChangeSeq(seq) })
            })
            .collect()
    }

    /// Marks `done` as caught up, in one transaction: each patient's changes up to
    /// its `through` go; changes written after it was read stay.
    pub async fn acknowledge_changes(&self, done: &[ChangedPatient]) -> Result<(), StoreError> {
        if done.is_empty() {
            return Ok(());
        }
        let patients: Vec<&str> = done.iter().map(|c| c.patient.as_str()).collect();
        let through: Vec<i64> = done.iter().map(|c| c.through.0).collect();
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                for (patient, seq) in patients.iter().zip(&through) {
                    sqlx::query("DELETE FROM patient_changes WHERE patient_id = ? AND seq <= ?")
                        .bind(patient)
                        .bind(seq)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            Backend::Postgres(pool) => {
                sqlx::query(
                    "DELETE FROM patient_changes c USING UNNEST($1::text[], $2::bigint[]) AS done (patient_id, seq) \
                     WHERE c.patient_id = done.patient_id AND c.seq <= done.seq",
                )
                .bind(patients)
                .bind(through)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// The latest change written, if any is waiting. A rebuild from the whole store
    /// takes it before reading and acknowledges up to it afterwards
    /// ([`Self::acknowledge_changes_through`]).
    pub async fn latest_change(&self) -> Result<Option<ChangeSeq>, StoreError> {
        let seq: Option<i64> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar("SELECT MAX(seq) FROM patient_changes").fetch_one(pool).await?,
            Backend::Postgres(pool) => {
                sqlx::query_scalar("SELECT MAX(seq) FROM patient_changes").fetch_one(pool).await?
            }
        };
        Ok(seq.map(ChangeSeq))
    }

    /// Marks every change up to `through` as caught up (after a rebuild that read the
    /// store after `through` was written).
    pub async fn acknowledge_changes_through(&self, through: ChangeSeq) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                drop(sqlx::query("DELETE FROM patient_changes WHERE seq <= ?").bind(through.0).execute(pool).await?)
            }
            Backend::Postgres(pool) => {
                drop(sqlx::query("DELETE FROM patient_changes WHERE seq <= $1").bind(through.0).execute(pool).await?)
            }
        };
        Ok(())
    }

    /// How many patients have changes waiting.
    pub async fn changes_waiting(&self) -> Result<u64, StoreError> {
        let n: i64 = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_scalar("SELECT COUNT(DISTINCT patient_id) FROM patient_changes").fetch_one(pool).await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar("SELECT COUNT(DISTINCT patient_id) FROM patient_changes").fetch_one(pool).await?
            }
        };
        Ok(n as u64)
    }
}
