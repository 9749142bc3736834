//! The PostgreSQL backend, used when `RDT_DATABASE_URL=postgres://...` is set.
//!
//! Bulk writes bind one array per column and `UNNEST` them: one statement, prepared
//! once, whatever the batch size, and no bound-parameter limit to chunk around.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};

use super::{
    distinct_resources, Database, Journey, MedicationConcept, PatientRecord, PatientSummary, StoreCounts,
    StoreError,
};
use crate::event::{Code, Event, Modality, PatientId, Phase, Quantity, Source, SourceName};
use crate::terminology::{coverage::CodeRow, Concept, MapEntry, Terminology};

pub(super) async fn open(url: &str, database: &Database) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|source| StoreError::Open { database: database.to_string(), source })?
        // A generic plan made while `events` was nearly empty (a fresh install's first
        // import) would keep scanning the whole table for every replace; planning each
        // execution for its real arguments costs far less than one such scan.
        .options([("plan_cache_mode", "force_custom_plan")]);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open { database: database.to_string(), source })?;
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    // Other crates (the audit log) keep their own migrations in the same database.
    migrator.set_ignore_missing(true);
    // A current schema is opened without DDL: the application role of an install whose
    // owner migrated (`rdt db migrate`) may not change it.
    if audit_log::postgres_migrations_pending(&pool, &migrator).await? {
        migrator
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate { database: database.to_string(), source })?;
    }
    Ok(pool)
}

fn read_source(stored: String) -> Result<SourceName, StoreError> {
    stored.parse().map_err(|e: crate::event::InvalidSourceName| StoreError::Corrupt(e.to_string()))
}

pub(super) async fn upsert_patients(
    conn: &mut PgConnection,
    patients: &[&PatientRecord],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = patients.iter().map(|p| p.id.as_str()).collect();
    let sources: Vec<&str> = patients.iter().map(|p| p.source.as_str()).collect();
    let names: Vec<Option<&str>> = patients.iter().map(|p| p.name.as_deref()).collect();
    let births: Vec<Option<NaiveDate>> = patients.iter().map(|p| p.birth_date).collect();
    let sexes: Vec<Option<&str>> = patients.iter().map(|p| p.sex.as_deref()).collect();
    let deaths: Vec<Option<DateTime<Utc>>> = patients.iter().map(|p| p.deceased_at).collect();
    let files: Vec<Option<&str>> = patients.iter().map(|p| p.source_file.as_deref()).collect();
    sqlx::query(
        "INSERT INTO patients (id, name, birth_date, sex, deceased_at, source_file, source) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[], $4::text[], $5::timestamptz[], $6::text[], \
                              $7::text[]) \
         ON CONFLICT (id) DO UPDATE SET \
           name = COALESCE(EXCLUDED.name, patients.name), \
           birth_date = COALESCE(EXCLUDED.birth_date, patients.birth_date), \
           sex = COALESCE(EXCLUDED.sex, patients.sex), \
           deceased_at = COALESCE(EXCLUDED.deceased_at, patients.deceased_at), \
           source_file = COALESCE(EXCLUDED.source_file, patients.source_file) \
         WHERE patients.source = EXCLUDED.source",
    )
    .bind(ids)
    .bind(names)
    .bind(births)
    .bind(sexes)
    .bind(deaths)
    .bind(files)
    .bind(sources)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn patient_sources(
    conn: &mut PgConnection,
    ids: &[&PatientId],
) -> Result<Vec<(String, String)>, StoreError> {
    let ids: Vec<&str> = ids.iter().map(|p| p.as_str()).collect();
    let rows = sqlx::query("SELECT id, source FROM patients WHERE id = ANY($1::text[])")
        .bind(ids)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) async fn upsert_medications(
    conn: &mut PgConnection,
    meds: &[&MedicationConcept],
) -> Result<(), StoreError> {
    let sources: Vec<&str> = meds.iter().map(|m| m.source.as_str()).collect();
    let ids: Vec<&str> = meds.iter().map(|m| m.resource_id.as_str()).collect();
    let systems: Vec<&str> = meds.iter().map(|m| m.code.system.as_str()).collect();
    let codes: Vec<&str> = meds.iter().map(|m| m.code.code.as_str()).collect();
    let displays: Vec<Option<&str>> = meds.iter().map(|m| m.code.display.as_deref()).collect();
    sqlx::query(
        "INSERT INTO medications (resource_id, code_system, code, code_display, source) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT (source, resource_id) DO UPDATE SET code_system = EXCLUDED.code_system, \
           code = EXCLUDED.code, code_display = EXCLUDED.code_display",
    )
    .bind(ids)
    .bind(systems)
    .bind(codes)
    .bind(displays)
    .bind(sources)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn replace_events(
    conn: &mut PgConnection,
    events: &[&Event],
) -> Result<Vec<String>, StoreError> {
    let resources = distinct_resources(events);
    // The patients whose earlier events a replace removed: a corrected resource may
    // name another patient than before, and both records changed.
    let replaced: Vec<String> = sqlx::query_scalar(
        "DELETE FROM events e \
         USING UNNEST($1::text[], $2::text[], $3::text[]) AS gone (source, resource_type, resource_id) \
         WHERE e.source = gone.source AND e.resource_type = gone.resource_type \
           AND e.resource_id = gone.resource_id \
         RETURNING e.patient_id",
    )
    .bind(resources.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(resources.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(resources.iter().map(|r| r.2).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    // Large files arrive in batches already; this bound only keeps one statement's
    // arrays at a size PostgreSQL handles comfortably.
    for chunk in events.chunks(10_000) {
        sqlx::query(
            "INSERT INTO events (patient_id, time, code_system, code, code_display, value, unit, text, \
                                 modality, phase, source_file, resource_type, resource_id, part, source) \
             SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], \
                                  $6::float8[], $7::text[], $8::text[], $9::text[], $10::text[], \
                                  $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])",
        )
        .bind(chunk.iter().map(|e| e.patient.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.time).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.code.system.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.code.code.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.code.display.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.value.as_ref().map(|v| v.value)).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.value.as_ref().and_then(|v| v.unit.as_deref())).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.text.as_deref()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.modality.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.phase.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.source.file.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.source.resource_type.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.source.resource_id.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.source.part.as_str()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.source.name.as_str()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(replaced)
}

/// Appends one change-feed row per patient (see `migrations/postgres/0004_patient_changes.sql`).
pub(super) async fn record_changes(conn: &mut PgConnection, patients: &[&str]) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO patient_changes (patient_id) SELECT * FROM UNNEST($1::text[])")
        .bind(patients)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn medications(pool: &PgPool, source: &SourceName) -> Result<HashMap<String, Code>, StoreError> {
    let rows = sqlx::query("SELECT resource_id, code_system, code, code_display FROM medications WHERE source = $1")
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

fn patient_from_row(row: &PgRow) -> Result<PatientRecord, StoreError> {
    let id: String = row.get("id");
    Ok(PatientRecord {
        id: PatientId::new(id).ok_or_else(|| StoreError::Corrupt("empty patient id".into()))?,
        source: read_source(row.get("source"))?,
        name: row.get("name"),
        birth_date: row.get("birth_date"),
        sex: row.get("sex"),
        deceased_at: row.get("deceased_at"),
        source_file: row.get("source_file"),
    })
}

pub(super) async fn patients(pool: &PgPool, terminology: &Terminology) -> Result<Vec<PatientSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.id, p.source, p.name, p.birth_date, p.sex, p.deceased_at, p.source_file, \
                COUNT(e.id) AS events, MIN(e.time) AS first_event, MAX(e.time) AS last_event \
         FROM patients p LEFT JOIN events e ON e.patient_id = p.id \
         GROUP BY p.id ORDER BY p.id",
    )
    .fetch_all(pool)
    .await?;
    let by_modality =
        sqlx::query("SELECT patient_id, modality, \
                CASE WHEN modality = 'observation' THEN code_system END, \
                CASE WHEN modality = 'observation' THEN code END, COUNT(*) \
         FROM events GROUP BY 1, 2, 3, 4")
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
            Ok(PatientSummary {
                events: row.get::<i64, _>("events") as u64,
                events_by_modality: modality_counts.remove(patient.id.as_str()).unwrap_or_default(),
                first_event: row.get("first_event"),
                last_event: row.get("last_event"),
                patient,
            })
        })
        .collect()
}

pub(super) async fn journey(pool: &PgPool, patient: &PatientId, terminology: &Terminology) -> Result<Option<Journey>, StoreError> {
    let Some(row) =
        sqlx::query("SELECT id, source, name, birth_date, sex, deceased_at, source_file FROM patients WHERE id = $1")
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
         FROM events WHERE patient_id = $1 ORDER BY time, id",
    )
    .bind(patient.as_str())
    .fetch_all(pool)
    .await?;
    let events = rows
        .iter()
        .map(|r| {
            let value: Option<f64> = r.get("value");
            let modality: String = r.get("modality");
            let phase: String = r.get("phase");
            Ok(Event {
                patient: record.id.clone(),
                time: r.get("time"),
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

pub(super) async fn counts(pool: &PgPool, terminology: &Terminology) -> Result<StoreCounts, StoreError> {
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

pub(super) async fn map_version(pool: &PgPool) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0)::BIGINT, COUNT(*) FROM concept_maps").fetch_one(pool).await?;
    Ok((row.get(0), row.get(1)))
}

pub(super) async fn map_entries(pool: &PgPool) -> Result<Vec<MapEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT source_system, source_code, display, concept FROM concept_mappings ORDER BY map_id, ctid",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let concept: String = r.get(3);
            Ok(MapEntry {
                system: r.get(0),
                code: r.get(1),
                display: r.get(2),
                concept: concept.parse::<Concept>().map_err(|e| StoreError::Corrupt(e.to_string()))?,
            })
        })
        .collect()
}

pub(super) async fn insert_concept_map(
    pool: &PgPool,
    map: &super::ConceptMapRecord,
    entries: &[MapEntry],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM concept_maps WHERE url = $1").bind(&map.url).execute(&mut *tx).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO concept_maps (url, name, version, sha256, file, imported_at, imported_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&map.url)
    .bind(&map.name)
    .bind(&map.version)
    .bind(&map.sha256)
    .bind(&map.file)
    .bind(map.imported_at)
    .bind(&map.imported_by)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO concept_mappings (map_id, source_system, source_code, display, concept) \
         SELECT $1, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[])",
    )
    .bind(id)
    .bind(entries.iter().map(|e| e.system.as_str()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.code.as_str()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.display.as_deref()).collect::<Vec<_>>())
    .bind(entries.iter().map(|e| e.concept.id()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn concept_maps(pool: &PgPool) -> Result<Vec<super::ConceptMapRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.url, m.name, m.version, m.sha256, m.file, m.imported_at, m.imported_by, \
                (SELECT COUNT(*) FROM concept_mappings c WHERE c.map_id = m.id) \
         FROM concept_maps m ORDER BY m.id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| super::ConceptMapRecord {
            url: r.get(0),
            name: r.get(1),
            version: r.get(2),
            sha256: r.get(3),
            file: r.get(4),
            imported_at: r.get(5),
            imported_by: r.get(6),
            entries: r.get::<i64, _>(7) as u64,
        })
        .collect())
}

pub(super) async fn code_rows(pool: &PgPool) -> Result<Vec<CodeRow>, StoreError> {
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
