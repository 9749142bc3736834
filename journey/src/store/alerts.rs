//! Stored early alerts: what the twin's rules raised for a patient (computed in
//! `twin_core::alerts` when the patient's twin catches up), and who acknowledged them.
//!
//! An alert is identified by patient, rule and the date of the data that raised it.
//! [`JourneyStore::replace_alerts`] writes a patient's current alerts: one still
//! raised keeps its id and its acknowledgement (the message is refreshed), one no
//! longer raised goes unless someone acknowledged it (the acknowledgement is part of
//! the record of care), a new one is added. The store does not interpret the rule
//! names or messages.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use super::{Backend, JourneyStore, StoreError};
use crate::event::PatientId;

/// An alert to store: its rule, the date of the data that raised it, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub kind: String,
    pub raised_on: NaiveDate,
    pub message: String,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAlert {
    pub id: i64,
    pub patient: PatientId,
    pub kind: String,
    pub raised_on: NaiveDate,
    pub message: String,
    pub computed_at: DateTime<Utc>,
    /// Who acknowledged it and when; `None` while it is open.
    pub acknowledged: Option<(String, DateTime<Utc>)>,
}

type Row = (i64, String, String, String, String, String, Option<String>, Option<String>);

fn text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn read(row: Row) -> Result<StoredAlert, StoreError> {
    let (id, patient, kind, raised_on, message, computed_at, by, at) = row;
    let time = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("alert {id}: time `{s}`: {e}")))
    };
    Ok(StoredAlert {
        id,
        patient: PatientId::new(patient).ok_or_else(|| StoreError::Corrupt(format!("alert {id}: empty patient id")))?,
        kind,
        raised_on: raised_on
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("alert {id}: date `{raised_on}`: {e}")))?,
        message,
        computed_at: time(&computed_at)?,
        acknowledged: match (by, at) {
            (Some(by), Some(at)) => Some((by, time(&at)?)),
            _ => None,
        },
    })
}

const COLUMNS: &str = "id, patient_id, kind, raised_on, message, computed_at, acknowledged_by, acknowledged_at";

impl JourneyStore {
    /// Writes `patient`'s current alerts (see the module doc), in one transaction.
    pub async fn replace_alerts(&self, patient: &PatientId, alerts: &[NewAlert]) -> Result<(), StoreError> {
        let now = text(&Utc::now());
        let keep = |kind: &str, raised_on: &str| alerts.iter().any(|a| a.kind == kind && a.raised_on.to_string() == raised_on);
        match &self.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let open: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT id, kind, raised_on FROM patient_alerts WHERE patient_id = ? AND acknowledged_at IS NULL",
                )
                .bind(patient.as_str())
                .fetch_all(&mut *tx)
                .await?;
                for (id, kind, raised_on) in open {
                    if !keep(&kind, &raised_on) {
                        sqlx::query("DELETE FROM patient_alerts WHERE id = ?").bind(id).execute(&mut *tx).await?;
                    }
                }
                for a in alerts {
                    sqlx::query(
                        "INSERT INTO patient_alerts (patient_id, kind, raised_on, message, computed_at) VALUES (?, ?, ?, ?, ?) \
                         ON CONFLICT (patient_id, kind, raised_on) DO UPDATE SET message = excluded.message, \
                         computed_at = excluded.computed_at",
                    )
                    .bind(patient.as_str())
                    .bind(&a.kind)
                    .bind(a.raised_on.to_string())
                    .bind(&a.message)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let open: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT id, kind, raised_on FROM patient_alerts WHERE patient_id = $1 AND acknowledged_at IS NULL",
                )
                .bind(patient.as_str())
                .fetch_all(&mut *tx)
                .await?;
                for (id, kind, raised_on) in open {
                    if !keep(&kind, &raised_on) {
                        sqlx::query("DELETE FROM patient_alerts WHERE id = $1").bind(id).execute(&mut *tx).await?;
                    }
                }
                for a in alerts {
                    sqlx::query(
                        "INSERT INTO patient_alerts (patient_id, kind, raised_on, message, computed_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (patient_id, kind, raised_on) DO UPDATE SET message = excluded.message, \
                         computed_at = excluded.computed_at",
                    )
                    .bind(patient.as_str())
                    .bind(&a.kind)
                    .bind(a.raised_on.to_string())
                    .bind(&a.message)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// A patient's alerts, newest data first (acknowledged ones too).
    pub async fn alerts_of(&self, patient: &PatientId) -> Result<Vec<StoredAlert>, StoreError> {
        let rows: Vec<Row> = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM patient_alerts WHERE patient_id = ? ORDER BY raised_on DESC, id DESC"
                ))
                .bind(patient.as_str())
                .fetch_all(pool)
                .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM patient_alerts WHERE patient_id = $1 ORDER BY raised_on DESC, id DESC"
                ))
                .bind(patient.as_str())
                .fetch_all(pool)
                .await?
            }
        };
        rows.into_iter().map(read).collect()
    }

    /// How many open (unacknowledged) alerts each patient has (patients with none are
    /// absent).
    pub async fn open_alert_counts(&self) -> Result<HashMap<PatientId, usize>, StoreError> {
        let sql = "SELECT patient_id, COUNT(*) FROM patient_alerts WHERE acknowledged_at IS NULL GROUP BY patient_id";
        let rows: Vec<(String, i64)> = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
            Backend::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await?,
        };
        Ok(rows.into_iter().filter_map(|(p, n)| Some((PatientId::new(p)?, n as usize))).collect())
    }

    /// Acknowledges `patient`'s open alert `id` as `by`; the alert as it is now, or
    /// `None` when the patient has no open alert of that id.
    pub async fn acknowledge_alert(&self, patient: &PatientId, id: i64, by: &str) -> Result<Option<StoredAlert>, StoreError> {
        let now = text(&Utc::now());
        let row: Option<Row> = match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query_as(&format!(
                    "UPDATE patient_alerts SET acknowledged_by = ?, acknowledged_at = ? \
                     WHERE id = ? AND patient_id = ? AND acknowledged_at IS NULL RETURNING {COLUMNS}"
                ))
                .bind(by)
                .bind(&now)
                .bind(id)
                .bind(patient.as_str())
                .fetch_optional(pool)
                .await?
            }
            Backend::Postgres(pool) => {
                sqlx::query_as(&format!(
                    "UPDATE patient_alerts SET acknowledged_by = $1, acknowledged_at = $2 \
                     WHERE id = $3 AND patient_id = $4 AND acknowledged_at IS NULL RETURNING {COLUMNS}"
                ))
                .bind(by)
                .bind(&now)
                .bind(id)
                .bind(patient.as_str())
                .fetch_optional(pool)
                .await?
            }
        };
        row.map(read).transpose()
    }
}
