//! Twin synchronisation: a new event reaches the store, the patient's twin and the
//! index in one call, with no retraining.
//!
//! [`add_event`] writes the event through the journey store (ground truth first),
//! re-reads the journey, recomputes that patient's snapshots in one batched forward
//! pass, replaces the patient's points and makes the index durable. The next
//! [`super::NeighbourIndex::search`] sees the new vectors. [`add_recorded`] is that
//! as a user's act (`rdt event add`): the event described ([`EventInput`]), its note
//! vectors, and the `import` audit entry naming its digest.

use std::path::Path;

use audit_log::{AuditError, Digest, EntryBody, ImportRecord, ImportedFile, ModelRegistry, NewEntry, Principal, Seq};
use chrono::{DateTime, NaiveDate, Utc};
use journey::event::{Code, Event, Modality, PatientId, Phase, Quantity, Source};
use journey::store::{ChangedPatient, JourneyStore, StoreError};

use super::build::{embed_journeys, snapshot_note_texts, NoteLookup, SnapshotPlan};
use super::point::{IndexPoint, Neighbour, NeighbourQuery, SnapshotKind};
use super::{IndexConfig, IndexError, NeighbourIndex};
use crate::encode::note::{note_vectors, NoteError, NoteVectors};
use crate::progress::NoProgress;
use crate::twin::{TwinError, TwinModel};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("no patient `{0}` in the journey store (import the patient first)")]
    UnknownPatient(PatientId),
    #[error(
        "the index holds twins of model {index} but the active twin is {active}: \
         re-run `rdt embed` to rebuild the index with the active twin"
    )]
    VersionMismatch { index: audit_log::Digest, active: audit_log::Digest },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{0}")]
    BadEvent(String),
    #[error(transparent)]
    Notes(#[from] NoteError),
    #[error("cannot record the event in the audit log: {0}")]
    Audit(#[from] AuditError),
}

/// Stores `event`, re-embeds its patient and upserts the patient's points; returns
/// the new live point.
///
/// The event is identified, as every event, by its source's `(resource_type,
/// resource_id, part)`: adding an event with the key of an existing one replaces it.
/// The version check runs before anything is written, so a stale index never
/// silently receives vectors of another model.
pub async fn add_event(
    store: &JourneyStore,
    model: &TwinModel,
    index: &mut NeighbourIndex,
    event: Event,
    plan: &SnapshotPlan,
    notes: NoteLookup<'_>,
) -> Result<IndexPoint, SyncError> {
    if let Some(v) = index.twin_version().filter(|v| *v != model.version) {
        return Err(SyncError::VersionMismatch { index: v, active: model.version });
    }
    let patient = event.patient.clone();
    if store.journey(&patient).await?.is_none() {
        return Err(SyncError::UnknownPatient(patient));
    }
    let mut batch = store.begin().await?;
    let mut write = batch.file().await?;
    write.replace_events(std::slice::from_ref(&event)).await?;
    write.commit().await?;
    batch.commit().await?;
    // The write put the patient in the store's change feed; once their points are
    // fresh, their changes up to now are acknowledged (a crash before that leaves them
    // for the next catch-up, `super::catch_up`).
    let through = store.latest_change().await?;
    let live = sync_patient(store, model, index, &patient, plan, notes).await?;
    if let Some(through) = through {
        store.acknowledge_changes(&[ChangedPatient { patient, through }]).await?;
    }
    Ok(live)
}

/// Recomputes one patient's points from the store and replaces them in the index
/// (durably); returns the live point.
pub async fn sync_patient(
    store: &JourneyStore,
    model: &TwinModel,
    index: &mut NeighbourIndex,
    patient: &PatientId,
    plan: &SnapshotPlan,
    notes: NoteLookup<'_>,
) -> Result<IndexPoint, SyncError> {
    let journey = store.journey(patient).await?.ok_or_else(|| SyncError::UnknownPatient(patient.clone()))?;
    let mut events = journey.events;
    events.sort_by_key(|e| e.time);
    let points = embed_journeys(model, &[(patient.clone(), events)], plan, notes, || {})?;
    let live = points
        .iter()
        .find(|p| p.kind == SnapshotKind::Live)
        .cloned()
        .ok_or_else(|| SyncError::UnknownPatient(patient.clone()))?;
    // Historical follow-up grows with every event, and a back-dated event changes
    // later snapshots: the patient's points are replaced, not patched.
    index.remove_patient(patient).await?;
    index.upsert(&points).await?;
    index.flush().await?;
    Ok(live)
}

/// An event as a person describes it (`rdt event add`): a code `SYSTEM|CODE` (a code
/// system as written, local ones too), an optional value, unit and text, a time (RFC
/// 3339 or a date, midnight UTC; default now), a modality and a phase by name.
#[derive(Debug, Clone, Default)]
pub struct EventInput {
    pub patient: String,
    pub code: String,
    pub display: Option<String>,
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub text: Option<String>,
    pub time: Option<String>,
    pub modality: String,
    pub phase: String,
}

impl EventInput {
    /// The event described. Its source key is a digest of what it says, so adding the
    /// same event twice replaces it instead of duplicating it.
    pub fn event(&self) -> Result<Event, SyncError> {
        let bad = |what: String| SyncError::BadEvent(what);
        let patient = PatientId::new(self.patient.clone()).ok_or_else(|| bad("patient: empty patient id".into()))?;
        let (system, code) = self
            .code
            .split_once('|')
            .filter(|(s, c)| !s.trim().is_empty() && !c.trim().is_empty())
            .ok_or_else(|| bad(format!("code `{}`: expected SYSTEM|CODE, e.g. http://loinc.org|1988-5", self.code)))?;
        let modality: Modality = self.modality.parse().map_err(|e| bad(format!("modality: {e}")))?;
        let phase: Phase = self.phase.parse().map_err(|e| bad(format!("phase: {e}")))?;
        if self.value.is_some_and(|v| !v.is_finite()) {
            return Err(bad("value must be a finite number".into()));
        }
        let time = match &self.time {
            Some(t) => parse_time(t).ok_or_else(|| {
                bad(format!("time `{t}`: expected RFC 3339 (2024-05-01T09:30:00Z) or a date (2024-05-01)"))
            })?,
            None => Utc::now(),
        };
        let mut event = Event {
            patient,
            time,
            code: Code { system: system.trim().into(), code: code.trim().into(), display: self.display.clone() },
            value: self.value.map(|value| Quantity { value, unit: self.unit.clone() }),
            text: self.text.clone(),
            modality,
            phase,
            source: Source {
                name: Default::default(),
                file: "rdt event add".into(),
                resource_type: "RdtEvent".into(),
                resource_id: String::new(),
                part: String::new(),
            },
            concept: None,
        };
        event.source.resource_id = Digest::of(&event_bytes(&event)).to_hex()[..32].to_owned();
        Ok(event)
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0)?.and_utc())
}

fn event_bytes(event: &Event) -> Vec<u8> {
    // An `Event` is plain data (strings, numbers, a time): it serialises.
    serde_json::to_vec(event).expect("an event serialises")
}

/// Whether `model` was trained with notes (and so reads their vectors).
pub fn reads_notes(model: &TwinModel) -> bool {
    model.manifest.training.get("notes").and_then(|v| v.as_bool()).unwrap_or(false)
}

/// The note vectors `model` reads for the snapshots of `journeys` (time-ordered
/// events) under `plan`: MiniLM's, cached under `data_dir`, weighed as the twin's
/// training weighed them; none when the twin reads no notes. The one door for every
/// incremental re-embedding (`rdt event add`, the catch-up).
pub async fn twin_note_vectors<'a>(
    data_dir: &Path,
    registry: &ModelRegistry,
    model: &TwinModel,
    journeys: impl IntoIterator<Item = &'a [Event]>,
    plan: &SnapshotPlan,
) -> Result<NoteVectors, NoteError> {
    if !reads_notes(model) {
        return Ok(NoteVectors::new());
    }
    let texts = journeys.into_iter().flat_map(|events| snapshot_note_texts(events, plan)).collect();
    Ok(note_vectors(data_dir, registry, texts, &NoProgress).await?.weighted_by(model.manifest.spec.note_weights.clone()))
}

/// [`add_event`] as a user's act on an install: note vectors for the notes the twin
/// reads (when it was trained with notes: MiniLM pinned in `registry`, vectors cached
/// under `data_dir`), the event through store, twin and index, and an `import` audit
/// entry by `by` naming the event's digest. Returns the live point and the entry.
pub async fn add_recorded(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    model: &TwinModel,
    index: &mut NeighbourIndex,
    event: &Event,
    by: Principal,
) -> Result<(IndexPoint, Seq), SyncError> {
    let plan = SnapshotPlan::default();
    let notes = match (reads_notes(model), store.journey(&event.patient).await?) {
        (true, Some(journey)) => {
            let mut events = journey.events;
            events.push(event.clone());
            events.sort_by_key(|e| e.time);
            twin_note_vectors(data_dir, registry, model, [events.as_slice()], &plan).await?
        }
        _ => NoteVectors::new(),
    };
    let lookup = |t: &str| notes.vector(t);
    let live = add_event(store, model, index, event.clone(), &plan, &lookup).await?;
    let record = ImportRecord {
        files: vec![ImportedFile {
            path: format!("rdt event add ({}/{})", event.source.resource_type, event.source.resource_id),
            sha256: Some(Digest::of(&event_bytes(event))),
            events: 1,
            error: None,
        }],
        patients: 1,
        events: 1,
        source: None,
        refused: None,
    };
    let entry = NewEntry::new(by, EntryBody::Import { import: record }).patients([event.patient.as_str()]);
    let seq = registry.log().append(entry).await?;
    Ok((live, seq))
}

/// What [`add_to_install`] did (`rdt event add`): the event, the patient's new live
/// point, the index before and after, the nearest neighbours by the new twin, and
/// the audit entry.
#[derive(Debug, Clone)]
pub struct EventAdded {
    pub event: Event,
    pub live: IndexPoint,
    /// The active twin's version, which computed `live`.
    pub twin_version: Digest,
    /// Where the index is ([`NeighbourIndex::describe`]), its points before and after.
    pub index: String,
    pub points_before: usize,
    pub points: usize,
    pub neighbours: Vec<Neighbour>,
    pub seq: Seq,
}

impl EventAdded {
    pub fn json(&self) -> serde_json::Value {
        let live = &self.live;
        serde_json::json!({
            "patient": live.patient,
            "event": self.event,
            "live": {"index_time": live.index_time, "twin_version": live.twin_version, "vector": live.vector},
            "index": {"where": self.index, "points_before": self.points_before, "points": self.points},
            "neighbours": self.neighbours,
            "audit_seq": self.seq,
        })
    }

    /// For a terminal: the event and twin, the index, one line per neighbour, the entry.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "event added for {} at {}; twin updated ({})\n  index: {} ({} points)\n",
            self.live.patient, self.event.time, self.twin_version, self.index, self.points
        );
        for n in &self.neighbours {
            let _ = writeln!(out, "  neighbour {} at {} (distance {:.4})", n.patient, n.index_time.date_naive(), n.distance);
        }
        let _ = writeln!(out, "  audit entry: {}", self.seq);
        out
    }
}

/// [`add_recorded`] on the install's active twin (verified against `registry`) and
/// the index at `index`, then the patient's `k` nearest other patients by the new twin.
pub async fn add_to_install(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    index: &IndexConfig,
    event: Event,
    by: Principal,
    k: usize,
) -> Result<EventAdded, SyncError> {
    let model = crate::twin::load_active(data_dir, registry).await?;
    let _writer = super::IndexWriter::acquire(data_dir).await?;
    let mut index = NeighbourIndex::open(index).await?;
    let points_before = index.len().await?;
    let (live, seq) = add_recorded(store, data_dir, registry, &model, &mut index, &event, by).await?;
    // The patient's early alerts, from the same journey and new twin.
    if let Some(journey) = store.journey(&live.patient).await? {
        let mut events = journey.events;
        events.sort_by_key(|e| e.time);
        let alerts = super::catch_up::AlertModels::of_install(data_dir, registry, &model).await;
        alerts.refresh(store, &live.patient, &events, Some(&live.vector)).await?;
    }
    let query = NeighbourQuery::new(live.vector.clone(), k).excluding(live.patient.clone());
    let neighbours = index.search(&query).await?;
    let (index, points) = (index.describe(), index.len().await?);
    Ok(EventAdded { event, live, twin_version: model.version, index, points_before, points, neighbours, seq })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::build::load_journeys;
    use crate::index::PointId;
    use journey::store::Database;
    use crate::twin::model::{register, save};
    use crate::twin::{train_twin, TrainOptions};
    use audit_log::{AuditLog, ModelRegistry, Principal, Role};
    use chrono::{Duration, TimeZone, Utc};

    fn event(p: usize, day: i64, code: &str, value: f64) -> Event {
        Event {
            patient: PatientId::new(format!("p{p}")).unwrap(),
            time: Utc.with_ymd_and_hms(2020, 1, 1, 9, 0, 0).unwrap() + Duration::days(day),
            code: Code { system: "s".into(), code: code.into(), display: None },
            value: Some(Quantity { value, unit: None }),
            text: None,
            modality: if code == "das28" { Modality::DiseaseActivity } else { Modality::Lab },
            phase: Phase::Point,
            source: Source {
                name: Default::default(),
                file: "test".into(),
                resource_type: "Observation".into(),
                resource_id: format!("{p}-{code}-{day}"),
                part: String::new(),
            },
            concept: None,
        }
    }

    #[test]
    fn an_added_event_reports_twin_index_neighbours_and_entry() {
        let e = event(1, 0, "crp", 3.0);
        let live = IndexPoint {
            patient: e.patient.clone(),
            index_time: e.time,
            kind: SnapshotKind::Live,
            follow_up_days: 0,
            twin_version: Digest::of(b"twin"),
            vector: vec![0.5, 0.5],
        };
        let near = Neighbour {
            id: PointId::of(&PatientId::new("p2").unwrap(), SnapshotKind::Live, e.time),
            patient: PatientId::new("p2").unwrap(),
            index_time: e.time,
            kind: SnapshotKind::Live,
            distance: 0.125,
            follow_up_days: 0,
        };
        let added = EventAdded {
            event: e.clone(),
            live,
            twin_version: Digest::of(b"twin"),
            index: "local index at /x".into(),
            points_before: 10,
            points: 11,
            neighbours: vec![near],
            seq: Seq(7),
        };
        let text = added.text();
        assert!(text.starts_with(&format!("event added for p1 at {}; twin updated ({})\n", e.time, Digest::of(b"twin"))));
        assert!(text.contains("  index: local index at /x (11 points)\n  neighbour p2 at 2020-01-01 (distance 0.1250)\n"));
        assert!(text.ends_with("  audit entry: #7\n"));
        let json = added.json();
        assert_eq!(json["index"]["points_before"], 10);
        assert_eq!(json["patient"], "p1");
        assert_eq!(json["neighbours"][0]["patient"], "p2");
    }

    /// Sixteen journeys of two years: CRP and DAS28 every 60 days.
    fn journeys() -> Vec<Event> {
        (0..16)
            .flat_map(|p| {
                (0..12).flat_map(move |v| {
                    [
                        event(p, 60 * v, "crp", (p * 2 + v as usize) as f64),
                        event(p, 60 * v, "das28", 2.0 + (p % 4) as f64),
                    ]
                })
            })
            .collect()
    }

    /// An event added through `add_event` is in the store, changes the patient's live
    /// twin, and the very next search finds the patient by the new twin (distance 0),
    /// not by the old one; a twin of another version is refused before anything is
    /// written.
    #[tokio::test]
    async fn added_event_reaches_store_twin_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
        let mut batch = store.begin().await.unwrap();
        let mut file = batch.file().await.unwrap();
        let patients: Vec<_> = journeys().iter().map(|e| journey::PatientRecord::new(e.patient.clone())).collect();
        file.upsert_patients(&patients).await.unwrap();
        file.replace_events(&journeys()).await.unwrap();
        file.commit().await.unwrap();
        batch.commit().await.unwrap();

        let cohort = load_journeys(&store, None, |_| {}).await.unwrap();
        let refs: Vec<&[Event]> = cohort.iter().map(|(_, e)| e.as_slice()).collect();
        let trained = train_twin(&refs, &TrainOptions::tiny(), &|_| None, |_, _| {}).unwrap();
        let saved =
            save(&dir.path().join("models"), trained.manifest.clone(), &trained.encoder_vars, &trained.fusion_vars)
                .unwrap();
        let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
        let registry = ModelRegistry::new(log);
        register(&registry, &Principal::new("t", Role::Governance), &saved, "test").await.unwrap();
        let model = TwinModel::load(&saved.dir, &registry).await.unwrap();

        let plan = SnapshotPlan::default();
        let points = embed_journeys(&model, &cohort, &plan, &|_| None, || {}).unwrap();
        let mut index = NeighbourIndex::open(&IndexConfig::local(dir.path())).await.unwrap();
        index.upsert(&points).await.unwrap();
        let before = points.len();
        let patient = PatientId::new("p3").unwrap();
        let old = points.iter().find(|p| p.patient == patient && p.kind == SnapshotKind::Live).unwrap().clone();

        let new_event = event(3, 800, "crp", 95.0);
        let live = add_event(&store, &model, &mut index, new_event.clone(), &plan, &|_| None).await.unwrap();
        let stored = store.journey(&patient).await.unwrap().unwrap();
        assert!(stored.events.contains(&new_event));
        assert_eq!(live.index_time, new_event.time);
        assert_ne!(live.vector, old.vector);
        // 800 days of record: one more historical snapshot than before (at day 540).
        assert_eq!(index.len().await.unwrap(), before + 1);

        let by_new = index.search(&NeighbourQuery::new(live.vector.clone(), 1).kind(SnapshotKind::Live)).await.unwrap();
        assert_eq!((&by_new[0].patient, by_new[0].index_time), (&patient, new_event.time));
        assert!(by_new[0].distance.abs() < 1e-5);
        let by_old = index.search(&NeighbourQuery::new(old.vector.clone(), 16).kind(SnapshotKind::Live)).await.unwrap();
        let p3 = by_old.iter().find(|n| n.patient == patient).unwrap();
        assert!(p3.distance > 1e-4 && p3.index_time == new_event.time, "the old live point is gone");

        // The reopened index has the update (it was flushed).
        let reopened = NeighbourIndex::open(&IndexConfig::local(dir.path())).await.unwrap();
        let again =
            reopened.search(&NeighbourQuery::new(live.vector.clone(), 1).kind(SnapshotKind::Live)).await.unwrap();
        assert_eq!(again[0].id, by_new[0].id);

        // An index of another twin refuses the update before the store is touched.
        let mut stale = NeighbourIndex::open(&IndexConfig::local(&dir.path().join("other"))).await.unwrap();
        let mut foreign = old.clone();
        foreign.twin_version = audit_log::Digest([9; 32]);
        stale.upsert(&[foreign]).await.unwrap();
        let late = event(3, 900, "crp", 1.0);
        let err = add_event(&store, &model, &mut stale, late.clone(), &plan, &|_| None).await.unwrap_err();
        assert!(matches!(err, SyncError::VersionMismatch { .. }) && err.to_string().contains("rdt embed"), "{err}");
        assert!(!store.journey(&patient).await.unwrap().unwrap().events.contains(&late));
        // An unknown patient is refused.
        let err = add_event(&store, &model, &mut index, event(99, 10, "crp", 1.0), &plan, &|_| None).await.unwrap_err();
        assert!(matches!(err, SyncError::UnknownPatient(_)), "{err}");
    }

    /// A described event: its code split at `|`, a date read as midnight UTC, and a
    /// source key that is a digest of what it says (the same description twice is the
    /// same event); a malformed code, modality or value is refused with its field named.
    #[test]
    fn an_event_input_becomes_an_event_keyed_by_what_it_says() {
        let input = EventInput {
            patient: "p1".into(),
            code: "http://loinc.org|1988-5".into(),
            value: Some(42.0),
            unit: Some("mg/L".into()),
            time: Some("2024-05-01".into()),
            modality: "lab".into(),
            phase: "point".into(),
            ..Default::default()
        };
        let event = input.event().unwrap();
        assert_eq!((event.code.system.as_str(), event.code.code.as_str()), ("http://loinc.org", "1988-5"));
        assert_eq!(event.time, Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap());
        assert_eq!(event.source.resource_id.len(), 32);
        assert_eq!(input.event().unwrap().source, event.source);
        let other = EventInput { value: Some(43.0), ..input.clone() };
        assert_ne!(other.event().unwrap().source.resource_id, event.source.resource_id);
        for (bad, field) in [
            (EventInput { code: "1988-5".into(), ..input.clone() }, "code"),
            (EventInput { modality: "x-ray".into(), ..input.clone() }, "modality"),
            (EventInput { value: Some(f64::NAN), ..input.clone() }, "value"),
            (EventInput { time: Some("yesterday".into()), ..input.clone() }, "time"),
        ] {
            let err = bad.event().unwrap_err().to_string();
            assert!(err.starts_with(field), "{err}");
        }
    }
}
