//! The SQLite backend: one file under the data directory, WAL journal.
//!
//! Bulk writes are multi-row `INSERT ... VALUES` statements of a fixed row count, so
//! sqlx's statement cache prepares each shape once per connection.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::{
    distinct_resources, Database, Journey, MedicationConcept, PatientRecord, PatientSummary, StoreCounts,
    StoreError,
};
use crate::event::{Code, Event, Modality, PatientId, Phase, Quantity, Source, SourceName};
use crate::terminology::{coverage::CodeRow, Concept, MapEntry, Terminology};

/// Rows per multi-row `VALUES` statement: 6 columns x 500 rows stays far below
/// SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 500;



pub(super) async fn open(path: &Path, database: &Database) -> Result<SqlitePool, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir { path: dir.to_owned(), source })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL + NORMAL: a commit survives a process crash; only an OS crash can lose
        // the last transactions, never corrupt the file.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        // Imports touch index pages all over a growing file: a 64 MiB page cache (the
        // default is 2 MiB) keeps them in memory instead of re-reading them, and
        // savepoint journals stay in memory rather than in temporary files.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory");
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open { database: database.to_string(), source })?;
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    // Other crates (the audit log) keep their own migrations in the same database.
    migrator.set_ignore_missing(true);
    migrator
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate { database: database.to_string(), source })?;
    Ok(pool)
}

/// Fixed-width UTC text (always six fractional digits): lexical order is time order.
fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time `{s}`: {e}")))
}

fn read_source(stored: String) -> Result<SourceName, StoreError> {
    stored.parse().map_err(|e: crate::event::InvalidSourceName| StoreError::Corrupt(e.to_string()))
}

pub(super) async fn upsert_patients(conn: &mut SqliteConnection, patients: &[&PatientRecord]) -> Result<(), StoreError> {
    for chunk in patients.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO patients (id, source, name, birth_date, sex, deceased_at, source_file) ",
        );
        q.push_values(chunk, |mut row, p| {
            row.push_bind(p.id.as_str())
                .push_bind(p.source.as_str())
                .push_bind(p.name.as_deref())
                .push_bind(p.birth_date.map(|d| d.to_string()))
                .push_bind(p.sex.as_deref())
                .push_bind(p.deceased_at.as_ref().map(time_text))
                .push_bind(p.source_file.as_deref());
        });
        q.push(
            " ON CONFLICT (id) DO UPDATE SET \
               name = COALESCE(excluded.name, patients.name), \
               birth_date = COALESCE(excluded.birth_date, patients.birth_date), \
               sex = COALESCE(excluded.sex, patients.sex), \
               deceased_at = COALESCE(excluded.deceased_at, patients.deceased_at), \
               source_file = COALESCE(excluded.source_file, patients.source_file) \
             WHERE patients.source = excluded.source",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn patient_sources(
    conn: &mut SqliteConnection,
    ids: &[&PatientId],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut found = Vec::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id, source FROM patients WHERE id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(id.as_str());
        }
        q.push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            found.push((row.get(0), row.get(1)));
        }
    }
    Ok(found)
}

pub(super) async fn upsert_medications(conn: &mut SqliteConnection, meds: &[&MedicationConcept]) -> Result<(), StoreError> {
    for chunk in meds.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO medications (source, resource_id, code_system, code, code_display) ",
        );
        q.push_values(chunk, |mut row, m| {
            row.push_bind(m.source.as_str())
                .push_bind(m.resource_id.as_str())
                .push_bind(m.code.system.as_str())
                .push_bind(m.code.code.as_str())
                .push_bind(m.code.display.as_deref());
        });
        q.push(
            " ON CONFLICT (source, resource_id) DO UPDATE SET code_system = excluded.code_system, \
               code = excluded.code, code_display = excluded.code_display",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Deletes every earlier event of the same resources of the same source, and inserts
/// the events.
///
/// The bulk of an import, so it bypasses sqlx's per-value binding (several copies and
/// a lock per value, measured as the import's bottleneck): it borrows the connection's
/// raw handle, inside the transaction sqlx opened, and runs prepared statements
/// through rusqlite on it. rusqlite links the same `libsqlite3-sys` as sqlx.
pub(super) async fn replace_events(
    conn: &mut SqliteConnection,
    events: &[&Event],
) -> Result<Vec<String>, StoreError> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is a live connection that sqlx keeps open and idle while we
    // hold the lock; `from_handle` neither closes it nor outlives this scope (the
    // rusqlite connection and its statements are dropped before `handle`).
    let db = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }?;
    // Statements that run for seconds on a large file: not on an async worker, where
    // they would stall every other request the server is answering.
    // The patients whose earlier events a replace removed: a corrected resource may
    // name another patient than before, and both records changed.
    let replaced = off_the_workers(|| -> Result<Vec<String>, StoreError> {
        let mut delete = db.prepare(
            "DELETE FROM events WHERE source = ?1 AND resource_type = ?2 AND resource_id = ?3 RETURNING patient_id",
        )?;
        let mut replaced = Vec::new();
        for (source, resource_type, resource_id) in distinct_resources(events) {
            let mut rows = delete.query([source, resource_type, resource_id])?;
            while let Some(row) = rows.next()? {
                replaced.push(row.get::<_, String>(0)?);
            }
        }
        let mut insert = db.prepare(
            "INSERT INTO events (patient_id, time, code_system, code, code_display, value, unit, text, \
             modality, phase, source, source_file, resource_type, resource_id, part) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for e in events {
            insert.execute(rusqlite::params![
                e.patient.as_str(),
                time_text(&e.time),
                e.code.system,
                e.code.code,
                e.code.display,
                e.value.as_ref().map(|v| v.value),
                e.value.as_ref().and_then(|v| v.unit.as_deref()),
                e.text,
                e.modality.as_str(),
                e.phase.as_str(),
                e.source.name.as_str(),
                e.source.file,
                e.source.resource_type,
                e.source.resource_id,
                e.source.part,
            ])?;
        }
        Ok(replaced)
    })?;
    drop(db);
    drop(handle);
    Ok(replaced)
}

/// Appends one change-feed row per patient (see `migrations/sqlite/0004_patient_changes.sql`).
pub(super) async fn record_changes(conn: &mut SqliteConnection, patients: &[&str]) -> Result<(), StoreError> {
    let at = time_text(&Utc::now());
    for chunk in patients.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO patient_changes (patient_id, changed_at) ");
        q.push_values(chunk, |mut row, p| {
            row.push_bind(*p).push_bind(&at);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Runs blocking database work without stalling the async workers: on a
/// multi-threaded runtime the worker first hands its other tasks to the rest
/// (`block_in_place`); a current-thread runtime has no other worker to stall, and
/// there the work runs as it is.
fn off_the_workers<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

pub(super) async fn medications(pool: &SqlitePool, source: &SourceName) -> Result<HashMap<String, Code>, StoreError> {
    let rows = sqlx::query("SELECT resource_id, code_system, code, code_display FROM medications WHERE source = ?")
        .bind(source.as_str())
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let code = Code { system: r.get(1), code: r.get(2), display: r.get(3) };
            (r.get::<String, _>(0), code)
        })
        .collect())
}

fn patient_from_row(row: &SqliteRow) -> Result<PatientRecord, StoreError> {
    let id: String = row.get("id");
    let birth_date: Option<String> = row.get("birth_date");
    let deceased_at: Option<String> = row.get("deceased_at");
    Ok(PatientRecord {
        id: PatientId::new(id).ok_or_else(|| StoreError::Corrupt("empty patient id".into()))?,
        source: read_source(row.get("source"))?,
        name: row.get("name"),
        birth_date: birth_date
            .map(|d| NaiveDate::from_str(&d).map_err(|e| StoreError::Corrupt(format!("birth date `{d}`: {e}"))))
            .transpose()?,
        sex: row.get("sex"),
        deceased_at: deceased_at.as_deref().map(parse_time).transpose()?,
        source_file: row.get("source_file"),
    })
}

pub(super) async fn patients(pool: &SqlitePool, terminology: &Terminology) -> Result<Vec<PatientSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.id, p.source, p.name, p.birth_date, p.sex, p.deceased_at, p.source_file, \
                COUNT(e.id) AS events, MIN(e.time) AS first_event, MAX(e.time) AS last_event \
         FROM patients p LEFT JOIN events e ON e.patient_id = p.id \
         GROUP BY p.id ORDER BY p.id",
    )
    .fetch_all(pool)
    .await?;
    let by_modality = sqlx::query(
        "SELECT patient_id, modality, \
                CASE WHEN modality = 'observation' THEN code_system END, \
                CASE WHEN modality = 'observation' THEN code END, COUNT(*) \
         FROM events GROUP BY 1, 2, 3, 4",
    )
    .fetch_all(pool)
    .await?;
    let mut modality_counts: HashMap<String, BTreeMap<Modality, u64>> = HashMap::new();
    for r in by_modality {
        let modality = super::read_modality(terminology, r.get(1), r.get(2), r.get(3))?;
        let n: i64 = r.get(4);
        *modality_counts.entry(r.get(0)).or_default().entry(modality).or_default() += n as u64;
    }
    rows.iter()
        .map(|row| {
            let patient = patient_from_row(row)?;
            let first: Option<String> = row.get("first_event");
            let last: Option<String> = row.get("last_event");
            Ok(PatientSummary {
                events: row.get::<i64, _>("events") as u64,
                events_by_modality: modality_counts.remove(patient.id.as_str()).unwrap_or_default(),
                first_event: first.as_deref().map(parse_time).transpose()?,
                last_event: last.as_deref().map(parse_time).transpose()?,
                patient,
            })
        })
        .collect()
}

pub(super) async fn journey(pool: &SqlitePool, patient: &PatientId, terminology: &Terminology) -> Result<Option<Journey>, StoreError> {
    let Some(row) = sqlx::query("SELECT id, source, name, birth_date, sex, deceased_at, source_file FROM patients WHERE id = ?")
        .bind(patient.as_str())
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let record = patient_from_row(&row)?;
    let rows = sqlx::query(
        "SELECT time, code_system, code, code_display, value, unit, text, modality, phase, \
                source, source_file, resource_type, resource_id, part \
         FROM events WHERE patient_id = ? ORDER BY time, id",
    )
    .bind(patient.as_str())
    .fetch_all(pool)
    .await?;
    let events = rows
        .iter()
        .map(|r| {
            let time: String = r.get("time");
            let value: Option<f64> = r.get("value");
            let modality: String = r.get("modality");
            let phase: String = r.get("phase");
            Ok(Event {
                patient: record.id.clone(),
                time: parse_time(&time)?,
                code: Code { system: r.get("code_system"), code: r.get("code"), display: r.get("code_display") },
                value: value.map(|value| Quantity { value, unit: r.get("unit") }),
                text: r.get("text"),
                modality: modality.parse()?,
                phase: phase.parse::<Phase>()?,
                source: Source {
                    name: read_source(r.get("source"))?,
                    file: r.get("source_file"),
                    resource_type: r.get("resource_type"),
                    resource_id: r.get("resource_id"),
                    part: r.get("part"),
                },
                concept: None,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut events = events;
    terminology.apply(&mut events);
    Ok(Some(Journey { patient: record, events }))
}

pub(super) async fn counts(pool: &SqlitePool, terminology: &Terminology) -> Result<StoreCounts, StoreError> {
    let patients: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM patients").fetch_one(pool).await?;
    let rows = sqlx::query(
        "SELECT modality, CASE WHEN modality = 'observation' THEN code_system END, \
                CASE WHEN modality = 'observation' THEN code END, COUNT(*) \
         FROM events GROUP BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await?;
    let mut counts = StoreCounts { patients: patients as u64, ..Default::default() };
    for r in rows {
        let modality = super::read_modality(terminology, r.get(0), r.get(1), r.get(2))?;
        let n = r.get::<i64, _>(3) as u64;
        counts.events += n;
        *counts.events_by_modality.entry(modality).or_default() += n;
    }
    Ok(counts)
}

pub(super) async fn map_version(pool: &SqlitePool) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM concept_maps").fetch_one(pool).await?;
    Ok((row.get(0), row.get(1)))
}

pub(super) async fn map_entries(pool: &SqlitePool) -> Result<Vec<MapEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT source_system, source_code, display, concept FROM concept_mappings ORDER BY map_id, rowid",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(map_entry_from_row).collect()
}

fn map_entry_from_row(r: &SqliteRow) -> Result<MapEntry, StoreError> {
    let concept: String = r.get(3);
    Ok(MapEntry {
        system: r.get(0),
        code: r.get(1),
        display: r.get(2),
        concept: concept.parse::<Concept>().map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

pub(super) async fn insert_concept_map(
    pool: &SqlitePool,
    map: &super::ConceptMapRecord,
    entries: &[MapEntry],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM concept_mappings WHERE map_id IN (SELECT id FROM concept_maps WHERE url = ?)")
        .bind(&map.url)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM concept_maps WHERE url = ?").bind(&map.url).execute(&mut *tx).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO concept_maps (url, name, version, sha256, file, imported_at, imported_by) \
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&map.url)
    .bind(&map.name)
    .bind(&map.version)
    .bind(&map.sha256)
    .bind(&map.file)
    .bind(time_text(&map.imported_at))
    .bind(&map.imported_by)
    .fetch_one(&mut *tx)
    .await?;
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO concept_mappings (map_id, source_system, source_code, display, concept) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(id).push_bind(&e.system).push_bind(&e.code).push_bind(&e.display).push_bind(e.concept.id());
        });
        q.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn concept_maps(pool: &SqlitePool) -> Result<Vec<super::ConceptMapRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.url, m.name, m.version, m.sha256, m.file, m.imported_at, m.imported_by, \
                (SELECT COUNT(*) FROM concept_mappings c WHERE c.map_id = m.id) \
         FROM concept_maps m ORDER BY m.id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let at: String = r.get(5);
            Ok(super::ConceptMapRecord {
                url: r.get(0),
                name: r.get(1),
                version: r.get(2),
                sha256: r.get(3),
                file: r.get(4),
                imported_at: parse_time(&at)?,
                imported_by: r.get(6),
                entries: r.get::<i64, _>(7) as u64,
            })
        })
        .collect()
}

pub(super) async fn code_rows(pool: &SqlitePool) -> Result<Vec<CodeRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT patient_id, code_system, code, MIN(code_display), unit, COUNT(*) FROM events \
         WHERE resource_type = 'Observation' AND value IS NOT NULL \
         GROUP BY patient_id, code_system, code, unit",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| CodeRow {
            patient: r.get(0),
            code: Code { system: r.get(1), code: r.get(2), display: r.get(3) },
            unit: r.get(4),
            values: r.get::<i64, _>(5) as usize,
        })
        .collect())
}
