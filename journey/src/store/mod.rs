//! The journey store: patients and their events, in SQLite (the embedded default) or
//! PostgreSQL (when configured).
//!
//! One public type, [`JourneyStore`], hides which database is behind it. The two
//! backends live in sibling files with the same functions; SQL differs only where the
//! databases do (bulk insert: multi-row `VALUES` on SQLite, `UNNEST` arrays on
//! PostgreSQL; time: fixed-width UTC text on SQLite, `TIMESTAMPTZ` on PostgreSQL).
//!
//! Writes go through a [`WriteBatch`] (a database transaction, committed durably) and,
//! inside it, one [`FileWrite`] per input file (a savepoint): a file that fails half-way
//! is rolled back to its savepoint and leaves nothing behind, while many small files
//! share one durable commit instead of paying an fsync each.
//!
//! Every write also appends the patients it changed to the change feed, in the same
//! transaction ([`changes`]): what RDT derives from a journey catches up from there.

mod alerts;
mod changes;
pub mod owner;
mod postgres;
mod sqlite;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
// Hashing every event's key is on the import's hot path; SipHash's DoS resistance
// buys nothing for keys read from the user's own files.
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use std::sync::{Arc, Mutex};

use crate::event::{Code, Event, Modality, PatientId, SourceName, UnknownName};
use crate::terminology::{ConceptMapping, Coverage, Terminology};

pub use alerts::{NewAlert, StoredAlert};
pub use changes::{ChangeSeq, ChangedPatient};

/// Where the store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created with its directory on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:pass@host/db`).
    Postgres(String),
}

impl Database {
    /// The store of one install: `url` when given (`RDT_DATABASE_URL`), otherwise the
    /// SQLite file `journey.sqlite` inside the data directory.
    pub fn resolve(url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Database::Sqlite(data_dir.join("journey.sqlite"))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Database::Postgres(u.to_owned()))
            }
            Some(u) if u.starts_with("sqlite://") => {
                let path = u.trim_start_matches("sqlite://");
                let path = path.split('?').next().unwrap_or(path);
                Ok(Database::Sqlite(PathBuf::from(path)))
            }
            Some(u) => Err(StoreError::UnsupportedUrl(redact(u))),
        }
    }

    /// A URL other crates (the audit log) can open to reach the same database.
    pub fn url(&self) -> String {
        match self {
            Database::Sqlite(path) => format!("sqlite://{}", path.display()),
            Database::Postgres(url) => url.clone(),
        }
    }
}

impl fmt::Display for Database {
    /// Shown to users: the file, or the PostgreSQL URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "SQLite {}", path.display()),
            Database::Postgres(url) => write!(f, "PostgreSQL {}", redact(url)),
        }
    }
}

/// Hides the password of a connection URL, so errors and logs never carry it.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: expected postgres://... or sqlite://...")]
    UnsupportedUrl(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the journey store ({database}): {source}")]
    Open { database: String, source: sqlx::Error },
    #[error("cannot migrate the journey store ({database}): {source} (a PostgreSQL role that may not change the schema needs its owner to run `rdt db migrate --owner-url URL --app-role ROLE` first)")]
    Migrate { database: String, source: sqlx::migrate::MigrateError },
    #[error("journey store: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("journey store (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("journey store holds a value this version cannot read: {0}")]
    Corrupt(String),
}

impl From<UnknownName> for StoreError {
    fn from(e: UnknownName) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// What the store keeps of a FHIR Patient besides its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientRecord {
    pub id: PatientId,
    /// The import source that holds the patient: only a Patient resource of that
    /// source may update the record, and only that source's resources may add to the
    /// journey (patients stored before sources existed belong to the default source).
    pub source: SourceName,
    pub name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<String>,
    pub deceased_at: Option<DateTime<Utc>>,
    pub source_file: Option<String>,
}

impl PatientRecord {
    /// A record saying nothing but the id, held by the default source (charts built
    /// in code; an import always has the Patient resource).
    pub fn new(id: PatientId) -> Self {
        PatientRecord {
            id,
            source: SourceName::default(),
            name: None,
            birth_date: None,
            sex: None,
            deceased_at: None,
            source_file: None,
        }
    }
}

/// A Medication resource, kept so that a MedicationRequest in another file (or a
/// later import of the same source) that points to it can be given its code.
#[derive(Debug, Clone, PartialEq)]
pub struct MedicationConcept {
    /// The source whose id `resource_id` is: another source's `Medication/m1` is
    /// another drug.
    pub source: SourceName,
    pub resource_id: String,
    pub code: Code,
}

/// One row of `rdt patients`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientSummary {
    #[serde(flatten)]
    pub patient: PatientRecord,
    pub events: u64,
    pub events_by_modality: BTreeMap<Modality, u64>,
    pub first_event: Option<DateTime<Utc>>,
    pub last_event: Option<DateTime<Utc>>,
}

/// A patient with their events in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Journey {
    pub patient: PatientRecord,
    pub events: Vec<Event>,
}

/// Totals over the whole store.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreCounts {
    pub patients: u64,
    pub events: u64,
    pub events_by_modality: BTreeMap<Modality, u64>,
}

/// The journey store of one install.
#[derive(Clone)]
pub struct JourneyStore {
    backend: Backend,
    database: Database,
    /// The install's terminology with the version of the maps it was read from
    /// (highest map id, number of maps): re-read when another process imported a map.
    terminology: Arc<Mutex<Option<((i64, i64), Arc<Terminology>)>>>,
}

/// An imported ConceptMap, as `rdt terminology list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConceptMapRecord {
    pub url: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub sha256: String,
    /// The file it was imported from.
    pub file: String,
    pub imported_at: DateTime<Utc>,
    pub imported_by: String,
    pub entries: u64,
}

/// A stored modality, with an Observation's modality read from its concept when the
/// record gave it no category (as [`Terminology::apply`] does for a journey).
fn read_modality(
    terminology: &Terminology,
    stored: String,
    system: Option<String>,
    code: Option<String>,
) -> Result<Modality, StoreError> {
    let modality: Modality = stored.parse()?;
    if let (Modality::Observation, Some(system), Some(code)) = (modality, system, code) {
        if let Some(concept) = terminology.concept_of(&Code { system, code, display: None }) {
            return Ok(concept.modality());
        }
    }
    Ok(modality)
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl JourneyStore {
    /// Opens (and on first use creates and migrates) the store.
    pub async fn open(database: &Database) -> Result<Self, StoreError> {
        let backend = match database {
            Database::Sqlite(path) => Backend::Sqlite(sqlite::open(path, database).await?),
            Database::Postgres(url) => Backend::Postgres(postgres::open(url, database).await?),
        };
        Ok(JourneyStore { backend, database: database.clone(), terminology: Arc::default() })
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Starts a batch of writes that become durable together at [`WriteBatch::commit`].
    pub async fn begin(&self) -> Result<WriteBatch, StoreError> {
        Ok(match &self.backend {
            Backend::Sqlite(pool) => WriteBatch::Sqlite(pool.begin().await?),
            Backend::Postgres(pool) => WriteBatch::Postgres(pool.begin().await?),
        })
    }

    /// Every Medication resource `source` imported so far, by resource id.
    pub async fn medications(&self, source: &SourceName) -> Result<HashMap<String, Code>, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::medications(pool, source).await,
            Backend::Postgres(pool) => postgres::medications(pool, source).await,
        }
    }

    /// All patients with their event counts (modalities as the terminology reads
    /// them), ordered by id.
    pub async fn patients(&self) -> Result<Vec<PatientSummary>, StoreError> {
        let terminology = self.terminology().await?;
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::patients(pool, &terminology).await,
            Backend::Postgres(pool) => postgres::patients(pool, &terminology).await,
        }
    }

    /// One patient's journey, or `None` when the store has no such patient. Its
    /// events carry their concepts ([`Terminology::apply`]): the install's current
    /// maps apply to all history.
    pub async fn journey(&self, patient: &PatientId) -> Result<Option<Journey>, StoreError> {
        let terminology = self.terminology().await?;
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::journey(pool, patient, &terminology).await,
            Backend::Postgres(pool) => postgres::journey(pool, patient, &terminology).await,
        }
    }

    pub async fn counts(&self) -> Result<StoreCounts, StoreError> {
        let terminology = self.terminology().await?;
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::counts(pool, &terminology).await,
            Backend::Postgres(pool) => postgres::counts(pool, &terminology).await,
        }
    }

    /// The install's terminology: the concept table plus every imported map. One small
    /// query checks the maps' version, so a map imported by another process (the CLI
    /// while the server runs) applies from the next read on.
    pub async fn terminology(&self) -> Result<Arc<Terminology>, StoreError> {
        let version = match &self.backend {
            Backend::Sqlite(pool) => sqlite::map_version(pool).await?,
            Backend::Postgres(pool) => postgres::map_version(pool).await?,
        };
        if let Some((cached, t)) = self.terminology.lock().expect("terminology lock").as_ref() {
            if *cached == version {
                return Ok(t.clone());
            }
        }
        let entries = match &self.backend {
            Backend::Sqlite(pool) => sqlite::map_entries(pool).await?,
            Backend::Postgres(pool) => postgres::map_entries(pool).await?,
        };
        let t = Arc::new(Terminology::with_entries(&entries));
        *self.terminology.lock().expect("terminology lock") = Some((version, t.clone()));
        Ok(t)
    }

    /// Stores a validated map (replacing an earlier map with the same url) in one
    /// transaction, and returns what `rdt terminology list` will show of it.
    pub async fn import_concept_map(
        &self,
        file: &str,
        mapping: &ConceptMapping,
        imported_by: &str,
    ) -> Result<ConceptMapRecord, StoreError> {
        let record = ConceptMapRecord {
            url: mapping.url.clone(),
            name: mapping.name.clone(),
            version: mapping.version.clone(),
            sha256: mapping.sha256.clone(),
            file: file.to_owned(),
            imported_at: Utc::now(),
            imported_by: imported_by.to_owned(),
            entries: mapping.entries.len() as u64,
        };
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::insert_concept_map(pool, &record, &mapping.entries).await?,
            Backend::Postgres(pool) => postgres::insert_concept_map(pool, &record, &mapping.entries).await?,
        }
        Ok(record)
    }

    /// The imported maps, oldest first.
    pub async fn concept_maps(&self) -> Result<Vec<ConceptMapRecord>, StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => sqlite::concept_maps(pool).await,
            Backend::Postgres(pool) => postgres::concept_maps(pool).await,
        }
    }

    /// The terminology's coverage of the whole store (grouped in the database; no
    /// journey is loaded).
    pub async fn coverage(&self) -> Result<Coverage, StoreError> {
        let terminology = self.terminology().await?;
        // The patient count alone: `counts` would group every event by modality too.
        let (rows, patients): (_, i64) = match &self.backend {
            Backend::Sqlite(pool) => {
                (sqlite::code_rows(pool).await?, sqlx::query_scalar("SELECT COUNT(*) FROM patients").fetch_one(pool).await?)
            }
            Backend::Postgres(pool) => {
                (postgres::code_rows(pool).await?, sqlx::query_scalar("SELECT COUNT(*) FROM patients").fetch_one(pool).await?)
            }
        };
        Ok(Coverage::of(&terminology, patients as usize, rows))
    }

    /// Whether the database answers: one trivial query, reading no table (a health
    /// check must be cheap and tell an anonymous caller nothing about the data).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => drop(sqlx::query("SELECT 1").execute(pool).await?),
            Backend::Postgres(pool) => drop(sqlx::query("SELECT 1").execute(pool).await?),
        }
        Ok(())
    }

    /// Whether the store holds a patient with this id (one indexed lookup).
    pub async fn has_patient(&self, patient: &PatientId) -> Result<bool, StoreError> {
        Ok(match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query("SELECT 1 FROM patients WHERE id = ?").bind(patient.as_str()).fetch_optional(pool).await?.is_some()
            }
            Backend::Postgres(pool) => {
                sqlx::query("SELECT 1 FROM patients WHERE id = $1").bind(patient.as_str()).fetch_optional(pool).await?.is_some()
            }
        })
    }

    /// Whether the connected role owns `table`: `None` on SQLite (no roles) or when
    /// the table does not exist. See [`owner::owns_audit_trail`].
    pub(crate) async fn owns_table(&self, table: &str) -> Result<Option<bool>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pool) => Ok(sqlx::query_scalar(
                "SELECT tableowner = current_user FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1",
            )
            .bind(table)
            .fetch_optional(pool)
            .await?),
        }
    }

    /// Closes the connections, waiting for them to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// An open database transaction. Dropping it without [`WriteBatch::commit`] rolls back
/// everything written in it.
pub enum WriteBatch {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl WriteBatch {
    /// Starts one all-or-nothing unit (a savepoint) inside the batch.
    pub async fn file(&mut self) -> Result<FileWrite<'_>, StoreError> {
        Ok(match self {
            WriteBatch::Sqlite(tx) => FileWrite::Sqlite(sqlx::Acquire::begin(&mut **tx).await?),
            WriteBatch::Postgres(tx) => FileWrite::Postgres(sqlx::Acquire::begin(&mut **tx).await?),
        })
    }

    /// Makes every released [`FileWrite`] of the batch durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            WriteBatch::Sqlite(tx) => tx.commit().await?,
            WriteBatch::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// One all-or-nothing unit of a [`WriteBatch`]. Dropping it without
/// [`FileWrite::commit`] undoes what it wrote, and only that.
pub enum FileWrite<'b> {
    Sqlite(sqlx::Transaction<'b, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'b, sqlx::Postgres>),
}

impl FileWrite<'_> {
    /// Inserts or updates patients. Fields a record leaves empty keep their stored
    /// value. A stored patient is updated only by a record of its own source: the
    /// database itself refuses to let another source's Patient with the same id
    /// overwrite it (the importer reports such a record as a conflict beforehand,
    /// [`Self::patient_sources`]).
    pub async fn upsert_patients(&mut self, patients: &[PatientRecord]) -> Result<(), StoreError> {
        if patients.is_empty() {
            return Ok(());
        }
        let patients = last_by_key(patients, |p| p.id.as_str());
        match self {
            FileWrite::Sqlite(tx) => sqlite::upsert_patients(&mut **tx, &patients).await?,
            FileWrite::Postgres(tx) => postgres::upsert_patients(&mut **tx, &patients).await?,
        }
        let ids: Vec<&str> = patients.iter().map(|p| p.id.as_str()).collect();
        self.record_changes(ids).await
    }

    /// Appends the patients (each once) to the change feed, inside this unit: the feed
    /// holds a write exactly when the write is committed.
    async fn record_changes(&mut self, mut patients: Vec<&str>) -> Result<(), StoreError> {
        let mut seen = FxHashSet::default();
        patients.retain(|p| seen.insert(*p));
        match self {
            FileWrite::Sqlite(tx) => sqlite::record_changes(&mut **tx, &patients).await,
            FileWrite::Postgres(tx) => postgres::record_changes(&mut **tx, &patients).await,
        }
    }

    /// Which of `ids` the store holds, and under which source (as seen inside this
    /// unit, so patients it wrote count).
    pub async fn patient_sources(&mut self, ids: &[&PatientId]) -> Result<FxHashMap<PatientId, SourceName>, StoreError> {
        if ids.is_empty() {
            return Ok(FxHashMap::default());
        }
        let rows = match self {
            FileWrite::Sqlite(tx) => sqlite::patient_sources(&mut **tx, ids).await?,
            FileWrite::Postgres(tx) => postgres::patient_sources(&mut **tx, ids).await?,
        };
        rows.into_iter()
            .map(|(id, source)| {
                let id = PatientId::new(id).ok_or_else(|| StoreError::Corrupt("empty patient id".into()))?;
                let source = source.parse::<SourceName>().map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((id, source))
            })
            .collect()
    }

    pub async fn upsert_medications(&mut self, meds: &[MedicationConcept]) -> Result<(), StoreError> {
        if meds.is_empty() {
            return Ok(());
        }
        let meds = last_by_key(meds, |m| (m.source.as_str(), m.resource_id.as_str()));
        match self {
            FileWrite::Sqlite(tx) => sqlite::upsert_medications(&mut **tx, &meds).await,
            FileWrite::Postgres(tx) => postgres::upsert_medications(&mut **tx, &meds).await,
        }
    }

    /// Writes events, replacing every event previously imported from the same FHIR
    /// resources of the same source (so a re-import neither duplicates nor leaves
    /// stale parts behind, and another source's resource with the same type and id is
    /// left alone). The events' patients must already be stored: no patient is ever
    /// made up from a reference (the database refuses an event of an unknown patient).
    /// Every patient whose events changed (those written, and those whose replaced
    /// events are gone) joins the change feed.
    pub async fn replace_events(&mut self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        // A file may carry the same resource twice; the later copy wins, as in a FHIR
        // transaction (and PostgreSQL refuses to touch one row twice in a statement).
        let events = last_by_key(events, |e| {
            (
                e.source.name.as_str(),
                e.source.resource_type.as_str(),
                e.source.resource_id.as_str(),
                e.source.part.as_str(),
            )
        });
        let replaced = match self {
            FileWrite::Sqlite(tx) => sqlite::replace_events(&mut **tx, &events).await?,
            FileWrite::Postgres(tx) => postgres::replace_events(&mut **tx, &events).await?,
        };
        let changed = events.iter().map(|e| e.patient.as_str()).chain(replaced.iter().map(String::as_str)).collect();
        self.record_changes(changed).await
    }

    /// Keeps what this unit wrote as part of its batch (releases the savepoint).
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            FileWrite::Sqlite(tx) => tx.commit().await?,
            FileWrite::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Keeps the last item per key, in first-seen order.
fn last_by_key<'a, T, K: std::hash::Hash + Eq>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut index: FxHashMap<K, usize> = FxHashMap::default();
    let mut kept: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        match index.entry(key(item)) {
            std::collections::hash_map::Entry::Occupied(slot) => kept[*slot.get()] = item,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(kept.len());
                kept.push(item);
            }
        }
    }
    kept
}

/// The distinct `(source, resource_type, resource_id)` of a batch, for the delete that
/// precedes a replace.
fn distinct_resources<'a>(events: &[&'a Event]) -> Vec<(&'a str, &'a str, &'a str)> {
    let mut seen = FxHashSet::default();
    events
        .iter()
        .map(|e| (e.source.name.as_str(), e.source.resource_type.as_str(), e.source.resource_id.as_str()))
        .filter(|r| seen.insert(*r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_the_database_from_url_or_data_dir() {
        let dir = Path::new("/var/lib/rdt");
        assert_eq!(Database::resolve(None, dir).unwrap(), Database::Sqlite(dir.join("journey.sqlite")));
        assert_eq!(Database::resolve(Some(" "), dir).unwrap(), Database::Sqlite(dir.join("journey.sqlite")));
        assert_eq!(
            Database::resolve(Some("postgres://rdt:pw@db/rdt"), dir).unwrap(),
            Database::Postgres("postgres://rdt:pw@db/rdt".into())
        );
        assert_eq!(
            Database::resolve(Some("sqlite:///tmp/x.sqlite?mode=rwc"), dir).unwrap(),
            Database::Sqlite("/tmp/x.sqlite".into())
        );
        let err = Database::resolve(Some("mysql://u:secret@h/db"), dir).unwrap_err().to_string();
        assert!(err.contains("mysql://u:***@h/db"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn display_hides_the_password() {
        let db = Database::Postgres("postgres://rdt:hunter2@localhost:5432/rdt".into());
        assert_eq!(db.to_string(), "PostgreSQL postgres://rdt:***@localhost:5432/rdt");
    }
}
