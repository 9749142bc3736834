//! From journeys to index points: which snapshots of a journey the index holds, and
//! their twins.
//!
//! A journey gives one [`SnapshotKind::Live`] point (its twin at the last event) and
//! [`SnapshotKind::Historical`] points every [`SnapshotPlan::every_days`] from its
//! first clinical event (not the birth record: a journey imported from FHIR starts at
//! birth, decades before care), wherever at least [`SnapshotPlan::min_follow_up_days`]
//! of record follow (a cohort's outcomes are read from that follow-up).

use chrono::{DateTime, Duration, Utc};

use super::point::{IndexPoint, SnapshotKind};
use journey::event::{Event, Modality, PatientId};
use journey::store::{JourneyStore, StoreError};
use crate::progress::Progress;
use crate::twin::{PatientInputs, TwinError, TwinModel};

/// Which snapshots of a journey are indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPlan {
    /// Days between historical snapshots, from the first clinical event.
    pub every_days: u32,
    /// A historical snapshot needs at least this much record after it.
    pub min_follow_up_days: u32,
    /// Also historical snapshots where decisions happen, so a neighbour's outcomes
    /// after its own decision are there to compare.
    pub decisions: DecisionSnapshots,
}

/// Which decision points a journey also gets historical snapshots at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionSnapshots {
    /// The cadence only.
    #[default]
    None,
    /// Each DMARD start.
    Starts,
    /// Each DMARD start and each activity reading (a visit):
    /// `twin::pipeline::decision_points`.
    Visits,
}

impl std::str::FromStr for DecisionSnapshots {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(DecisionSnapshots::None),
            "starts" => Ok(DecisionSnapshots::Starts),
            "visits" => Ok(DecisionSnapshots::Visits),
            other => Err(format!("`{other}`: expected none, starts or visits")),
        }
    }
}

impl Default for SnapshotPlan {
    /// Every 180 days with at least 180 days of follow-up: the cohort's outcomes look
    /// 6-12 months ahead.
    fn default() -> Self {
        SnapshotPlan { every_days: 180, min_follow_up_days: 180, decisions: DecisionSnapshots::default() }
    }
}

/// One snapshot of a journey, before its twin is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub kind: SnapshotKind,
    pub index_time: DateTime<Utc>,
    pub follow_up_days: u32,
}

/// The snapshots of a time-ordered journey: historical ones by the plan, counted from
/// the first clinical event (the first that is not demographic: birth, gender and
/// death records carry no state of the disease), then the live one at the last event.
/// A journey of demographics only has the live one; an empty journey none.
pub fn snapshots(events: &[Event], plan: &SnapshotPlan) -> Vec<Snapshot> {
    let Some(last) = events.last() else {
        return vec![];
    };
    let mut out = Vec::new();
    if let Some(first) = events.iter().find(|e| e.modality != Modality::Demographic) {
        let follow_up = |t: DateTime<Utc>| (last.time - t).num_days().clamp(0, u32::MAX as i64) as u32;
        let step = Duration::days(plan.every_days.max(1) as i64);
        let mut t = first.time + step;
        while t < last.time && follow_up(t) >= plan.min_follow_up_days {
            out.push(Snapshot { kind: SnapshotKind::Historical, index_time: t, follow_up_days: follow_up(t) });
            t += step;
        }
        if plan.decisions != DecisionSnapshots::None {
            let record = crate::cohort::ClinicalRecord::read(events);
            let days: Vec<chrono::NaiveDate> = match plan.decisions {
                DecisionSnapshots::Visits => crate::twin::pipeline::decision_points(&record),
                _ => record.courses.iter().filter(|c| c.is_dmard()).map(|c| c.start.date_naive()).collect(),
            };
            for day in days {
                let t = crate::cohort::query::end_of_day(day);
                let taken = out.iter().any(|s| s.index_time.date_naive() == day);
                if t < last.time && !taken && follow_up(t) >= plan.min_follow_up_days {
                    out.push(Snapshot { kind: SnapshotKind::Historical, index_time: t, follow_up_days: follow_up(t) });
                }
            }
            out.sort_by_key(|s| s.index_time);
        }
    }
    out.push(Snapshot { kind: SnapshotKind::Live, index_time: last.time, follow_up_days: 0 });
    out
}

/// The historical snapshot times of a journey under the default plan: where the
/// index (built by `rdt embed`) holds its historical points, so the population the
/// cohort reads outcomes from is the index's.
pub fn historical_times(events: &[Event]) -> Vec<DateTime<Utc>> {
    historical_times_of(events, &SnapshotPlan::default())
}

/// The historical snapshot times of a journey under `plan`.
pub fn historical_times_of(events: &[Event], plan: &SnapshotPlan) -> Vec<DateTime<Utc>> {
    snapshots(events, plan)
        .into_iter()
        .filter(|s| s.kind == SnapshotKind::Historical)
        .map(|s| s.index_time)
        .collect()
}

/// The note texts the twin reads at each of a journey's snapshots (so a caller embeds
/// exactly those with MiniLM first).
pub fn snapshot_note_texts<'a>(events: &'a [Event], plan: &SnapshotPlan) -> Vec<&'a str> {
    snapshots(events, plan).iter().flat_map(|s| crate::twin::features::note_texts(events, Some(s.index_time))).collect()
}

/// A note text's vector, when the twin reads notes (`&|_| None` when it does not).
pub type NoteLookup<'a> = &'a (dyn Fn(&str) -> Option<Vec<f32>> + Sync);

/// The index points of several journeys, in one batched forward pass per chunk.
/// `on_journey` is called once per journey done (a progress bar).
pub fn embed_journeys(
    model: &TwinModel,
    journeys: &[(PatientId, Vec<Event>)],
    plan: &SnapshotPlan,
    notes: NoteLookup<'_>,
    mut on_journey: impl FnMut(),
) -> Result<Vec<IndexPoint>, TwinError> {
    let mut points = Vec::new();
    // Chunks bound the memory of inputs in flight; the encoder batches by length
    // inside a chunk.
    for chunk in journeys.chunks(256) {
        let mut planned: Vec<(&PatientId, Snapshot)> = Vec::new();
        let mut inputs: Vec<PatientInputs> = Vec::new();
        for (patient, events) in chunk {
            for s in snapshots(events, plan) {
                let until = match s.kind {
                    SnapshotKind::Live => None,
                    SnapshotKind::Historical => Some(s.index_time),
                };
                inputs.push(model.manifest.spec.inputs(events, until, notes));
                planned.push((patient, s));
            }
        }
        let twins = model.embed(&inputs, None)?;
        for ((patient, s), vector) in planned.into_iter().zip(twins) {
            points.push(IndexPoint {
                patient: patient.clone(),
                index_time: s.index_time,
                kind: s.kind,
                follow_up_days: s.follow_up_days,
                twin_version: model.version,
                vector,
            });
        }
        for _ in chunk {
            on_journey();
        }
    }
    Ok(points)
}

/// Every patient's journey, events in time order, patients by id. `on_patient` is
/// called once per patient read (a progress bar).
pub async fn load_journeys(
    store: &JourneyStore,
    max: Option<usize>,
    mut on_patient: impl FnMut(usize),
) -> Result<Vec<(PatientId, Vec<Event>)>, StoreError> {
    let patients = store.patients().await?;
    let n = max.unwrap_or(patients.len()).min(patients.len());
    let mut out = Vec::with_capacity(n);
    for p in patients.into_iter().take(n) {
        if let Some(journey) = store.journey(&p.patient.id).await? {
            let mut events = journey.events;
            events.sort_by_key(|e| e.time);
            out.push((p.patient.id, events));
        }
        on_patient(n);
    }
    Ok(out)
}

/// [`load_journeys`] as a "reading journeys" stage of `progress`.
pub async fn load_journeys_with(
    store: &JourneyStore,
    max: Option<usize>,
    progress: &dyn Progress,
) -> Result<Vec<(PatientId, Vec<Event>)>, StoreError> {
    progress.stage("reading journeys", 0);
    let journeys = load_journeys(store, max, |n| {
        progress.set_len(n as u64);
        progress.advance(1);
    })
    .await?;
    progress.done();
    Ok(journeys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::event::{Code, Phase, Source};
    use chrono::TimeZone;

    fn journey(days: &[i64]) -> Vec<Event> {
        days.iter().map(|&d| event(d, Modality::Lab)).collect()
    }

    fn event(d: i64, modality: Modality) -> Event {
        let start = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        Event {
            patient: PatientId::new("p").unwrap(),
            time: start + Duration::days(d),
            code: Code { system: "s".into(), code: "c".into(), display: None },
            value: None,
            text: None,
            modality,
            phase: Phase::Point,
            source: Source {
                name: Default::default(),
                file: String::new(),
                resource_type: "Observation".into(),
                resource_id: d.to_string(),
                part: String::new(),
            },
            concept: None,
        }
    }

    /// A 1000-day journey: historical snapshots at 180, 360, 540, 720 (each with >= 180
    /// days after it; 900 has only 100), then the live one at day 1000.
    #[test]
    fn snapshots_follow_the_plan() {
        let events = journey(&[0, 30, 400, 1000]);
        let got = snapshots(&events, &SnapshotPlan::default());
        let days: Vec<i64> = got.iter().map(|s| (s.index_time - events[0].time).num_days()).collect();
        assert_eq!(days, vec![180, 360, 540, 720, 1000]);
        let follow: Vec<u32> = got.iter().map(|s| s.follow_up_days).collect();
        assert_eq!(follow, vec![820, 640, 460, 280, 0]);
        assert_eq!(got.last().unwrap().kind, SnapshotKind::Live);
        assert!(got[..4].iter().all(|s| s.kind == SnapshotKind::Historical));
        // A short journey is live only; an empty one has no snapshot.
        assert_eq!(snapshots(&journey(&[0, 100]), &SnapshotPlan::default()).len(), 1);
        assert!(snapshots(&[], &SnapshotPlan::default()).is_empty());
    }

    /// A journey imported from FHIR starts with the birth record decades before
    /// care: snapshots count from the first clinical event (day 10000 here), not from
    /// birth, and a death record at the end is still the last event.
    /// A methotrexate start and DAS28 visits add snapshots at the end of their days
    /// (each once, each with the plan's follow-up); the 180-day cadence stays.
    #[test]
    fn decision_points_are_snapshots_too() {
        use crate::cohort::testutil::{das28, drug, Journey};
        let j = Journey::new(vec![das28(0, 5.0), drug(10, None, "6851"), das28(100, 4.0), das28(180, 3.5), das28(700, 3.0)]);
        let start = j.events[0].time;
        let visits = SnapshotPlan { decisions: DecisionSnapshots::Visits, ..Default::default() };
        let got = snapshots(&j.events, &visits);
        let days: Vec<i64> = got.iter().map(|s| (s.index_time - start).num_days()).collect();
        // Cadence 180 and 360; decisions at 0 (reading), 10 (start), 100 (reading); the
        // reading on day 180 shares the cadence's day; 700 is the live point.
        assert_eq!(days, vec![0, 10, 100, 180, 360, 700]);
        assert!(got[..5].iter().all(|s| s.kind == SnapshotKind::Historical && s.follow_up_days >= 180));
        let starts = SnapshotPlan { decisions: DecisionSnapshots::Starts, ..Default::default() };
        let days: Vec<i64> = snapshots(&j.events, &starts).iter().map(|s| (s.index_time - start).num_days()).collect();
        assert_eq!(days, vec![10, 180, 360, 700]);
        assert_eq!(snapshots(&j.events, &SnapshotPlan::default()).len(), 3);
    }

    #[test]
    fn snapshots_start_at_the_first_clinical_event() {
        let mut events = vec![event(0, Modality::Demographic), event(0, Modality::Demographic)];
        events.extend([event(10_000, Modality::Diagnosis), event(10_400, Modality::Lab), event(10_700, Modality::Lab)]);
        events.push(event(10_800, Modality::Demographic));
        let got = snapshots(&events, &SnapshotPlan::default());
        let days: Vec<i64> = got.iter().map(|s| (s.index_time - events[0].time).num_days()).collect();
        // 10180, 10360, 10540 (each >= 180 days before day 10800; 10720 has 80), live at 10800.
        assert_eq!(days, vec![10_180, 10_360, 10_540, 10_800]);
        assert_eq!(got[0].follow_up_days, 620);
        // Demographics only: the live point alone.
        let only = [event(0, Modality::Demographic), event(5000, Modality::Demographic)];
        let got = snapshots(&only, &SnapshotPlan::default());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, SnapshotKind::Live);
    }
}
