//! What the cohort tools (`similar_patients`, `explain_neighbourhood`) read besides
//! the journey store: the active twin model, the neighbour index built with it, the
//! population of historical snapshots (outcomes and the snapshot baseline), the
//! pseudonym key, and what each patient's record held at which time (for the traits
//! a neighbourhood shares). Loaded once per process ([`CohortHandles::load`]) and handed
//! to [`crate::ToolContext::with_cohort`].
//!
//! Neighbours' real ids stay inside: the tools return pseudonyms, and the real ids go
//! only to the audit entry of the call ([`audit_log::CohortRecord`]).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use audit_log::{CohortRecord, ModelRegistry};
use chrono::{DateTime, NaiveDate, Utc};
use twin_core::cohort::features::{snapshot_features, FEATURE_NAMES};
use twin_core::cohort::query::{query_cohort, CohortSources};
use twin_core::heads::TwinHead;
use twin_core::options::{compare_options, OptionHead, OptionModels, OptionsAudit, OptionsPopulation, OptionsQuery, OptionsReport};
use twin_core::cohort::{ClinicalRecord, CohortReport, NeighbourhoodPrior, Population, PseudonymKey, QueryOptions};
use twin_core::encode::NoteVectorSource;
use twin_core::index::build::{historical_times, load_journeys};
use twin_core::index::catch_up::catch_up_install;
use twin_core::index::{IndexConfig, NeighbourIndex};
use twin_core::progress::NoProgress;
use twin_core::twin::features::note_texts;
use twin_core::twin::{models_dir, TwinModel};
use journey::clinical::{crp_raised, ActivityCategory};
use journey::{Event, JourneyStore, Modality, PatientId};

use crate::error::ToolError;
use crate::registry::ToolName;

/// Why the cohort tools cannot run in this install: what is missing and where, and
/// the command that makes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CohortUnavailable(pub String);

/// A fact of a snapshot that a neighbourhood can share: a diagnosis or a drug the
/// record shows by then (record text), or a latest-visit feature (RDT's own words).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordTrait {
    Diagnosis(String),
    Drug(String),
    Feature(&'static str),
}

/// The latest-visit features that count as traits, from the snapshot baseline's
/// columns (`twin_core::cohort::features::FEATURE_NAMES`): (label, test on the row).
/// The column indices are those of `FEATURE_NAMES` (checked by a test); DAS28 is
/// categorised by `journey::clinical`'s thresholds. CRP is read from the record
/// instead ([`CRP_RAISED`]).
type FeatureTest = fn(&[f64]) -> bool;
const FEATURE_TRAITS: [(&str, FeatureTest); 11] = [
    ("female", |f| f[15] > 0.5 && f[14] > 0.5),
    ("male", |f| f[15] > 0.5 && f[14] < 0.5),
    ("age 65 or over", |f| f[13] > 0.5 && f[12] >= 65.0),
    ("DAS28 above 5.1 (high activity)", |f| f[1] > 0.5 && ActivityCategory::of(f[0]) == ActivityCategory::High),
    ("DAS28 below 2.6 (remission)", |f| f[1] > 0.5 && ActivityCategory::of(f[0]) == ActivityCategory::Remission),
    ("disease duration under 2 years", |f| f[17] > 0.5 && f[16] < 2.0),
    ("on methotrexate", |f| f[18] > 0.5),
    ("on a TNF inhibitor", |f| f[20] > 0.5),
    ("on another biologic", |f| f[21] > 0.5),
    ("on a JAK inhibitor", |f| f[22] > 0.5),
    ("on a glucocorticoid", |f| f[24] > 0.5),
];

/// The CRP trait: the latest CRP by then (mg/L, as `journey::clinical::crp_mg_l` reads
/// it) is raised by the tools' own limit (`journey::clinical::crp_raised`).
const CRP_RAISED: &str = "CRP above 5 mg/L";

fn crp_raised_at(record: &ClinicalRecord, at: DateTime<Utc>) -> bool {
    record.crp_at(at).is_some_and(crp_raised)
}

/// Everything a cohort query reads, loaded once.
pub struct CohortHandles {
    pub model: TwinModel,
    pub index: NeighbourIndex,
    pub population: Population,
    /// Every population snapshot as a decision between treatment options: read on the
    /// first comparison of options, so loads that never compare them (a cohort query,
    /// the assistant's other tools) do not pay for it.
    options_population: std::sync::OnceLock<OptionsPopulation>,
    pub key: PseudonymKey,
    /// The query's defaults: `k` (a call's own `k` wins), `min_n`, follow-up days.
    pub options: QueryOptions,
    /// MiniLM and the note-vector cache, when the twin reads notes (`rdt cohort
    /// --notes`); without it a cohort is the twin of the structured record.
    notes: Option<Arc<NoteVectorSource>>,
    /// Per patient, each diagnosis and drug with the first time the record shows it.
    traits: HashMap<PatientId, Vec<(DateTime<Utc>, RecordTrait)>>,
    /// How many of the population's snapshots show each trait, and how many there are.
    population_traits: HashMap<RecordTrait, usize>,
    population_snapshots: usize,
    /// The twin head fitted for this twin (`rdt embed`), or why there is none.
    head: Result<TwinHead, String>,
    /// The counterfactual head of treatment options (`rdt embed`) with its version,
    /// or why there is none.
    option_head: Result<(OptionHead, String), String>,
    /// The prior the neighbours' rates are pooled with (`rdt embed`), or why none.
    prior: Result<NeighbourhoodPrior, String>,
}

fn traits_of(events: &[Event]) -> Vec<(DateTime<Utc>, RecordTrait)> {
    let mut first: HashMap<RecordTrait, DateTime<Utc>> = HashMap::new();
    for e in events {
        let t = match e.modality {
            Modality::Diagnosis => {
                RecordTrait::Diagnosis(e.code.display.clone().unwrap_or_else(|| e.code.code.clone()))
            }
            _ => continue,
        };
        first.entry(t).and_modify(|when| *when = (*when).min(e.time)).or_insert(e.time);
    }
    for c in journey::clinical::courses(events) {
        first.entry(RecordTrait::Drug(c.name())).and_modify(|when| *when = (*when).min(c.start)).or_insert(c.start);
    }
    let mut out: Vec<(DateTime<Utc>, RecordTrait)> = first.into_iter().map(|(t, w)| (w, t)).collect();
    out.sort();
    out
}

impl CohortHandles {
    /// Builds the handles from parts already loaded (tests, `rdt eval assistant`).
    pub fn new(
        model: TwinModel,
        index: NeighbourIndex,
        journeys: &[(PatientId, Vec<Event>)],
        key: PseudonymKey,
        options: QueryOptions,
    ) -> Self {
        let population = Population::build(journeys.iter().map(|(p, e)| (p, e.as_slice())), &historical_times);
        let traits = journeys.iter().map(|(p, e)| (p.clone(), traits_of(e))).collect();
        let mut handles = CohortHandles {
            model,
            index,
            population,
            options_population: std::sync::OnceLock::new(),
            key,
            options,
            notes: None,
            traits,
            population_traits: HashMap::new(),
            population_snapshots: 0,
            head: Err("no twin head loaded".to_owned()),
            option_head: Err("no option head loaded".to_owned()),
            prior: Err("no neighbourhood prior loaded".to_owned()),
        };
        let mut counts: HashMap<RecordTrait, usize> = HashMap::new();
        for s in handles.population.snapshots() {
            for t in handles.traits_at(&s.patient, s.index_time) {
                *counts.entry(t).or_default() += 1;
            }
        }
        handles.population_snapshots = handles.population.snapshots().len();
        handles.population_traits = counts;
        handles
    }

    /// The population's historical snapshots.
    pub fn population_snapshots(&self) -> usize {
        self.population_snapshots
    }

    /// How many population snapshots show `t`, of how many.
    pub fn population_count(&self, t: &RecordTrait) -> (usize, usize) {
        (self.population_traits.get(t).copied().unwrap_or(0), self.population_snapshots)
    }

    /// The install's cohort: the active twin in `registry` (checkpoints under
    /// `<data_dir>/models`), the index `index` (built by `rdt embed` with that twin),
    /// every journey of `store`, the key `<data_dir>/keys/cohort-pseudonym.key`.
    /// Each missing piece is an error naming it, where it was looked for, and the
    /// command that makes it.
    pub async fn load(
        store: &JourneyStore,
        data_dir: &Path,
        index: &IndexConfig,
        registry: &ModelRegistry,
    ) -> Result<Self, CohortUnavailable> {
        // Patients written since the index last caught up (an import, an upload, a
        // FHIR post, a process killed before its catch-up) get fresh points first: the
        // cohort reads the store as it is. Waiting (no twin or index yet) is reported
        // below by what is missing.
        catch_up_install(store, data_dir, registry, index, |_| {})
            .await
            .map_err(|e| CohortUnavailable(format!("cannot bring the changed patients' twins up to date: {e}")))?;
        let models = models_dir(data_dir);
        let dir = twin_core::twin::model::active_dir(registry, &models)
            .await
            .map_err(|e| CohortUnavailable(format!("cannot read the model registry: {e}")))?
            .ok_or_else(|| {
                CohortUnavailable(format!(
                    "no active twin model in the model registry (checkpoints under {}): run `rdt train`",
                    models.display()
                ))
            })?;
        let model = TwinModel::load(&dir, registry)
            .await
            .map_err(|e| CohortUnavailable(format!("the twin model at {} does not load: {e}", dir.display())))?;
        let index = NeighbourIndex::open(index)
            .await
            .map_err(|e| CohortUnavailable(format!("the neighbour index does not open: {e}")))?;
        match index.twin_version() {
            None => {
                return Err(CohortUnavailable(format!(
                    "the neighbour index ({}) is empty: run `rdt embed`",
                    index.describe()
                )))
            }
            Some(v) if v != model.version => {
                return Err(CohortUnavailable(format!(
                    "the neighbour index ({}) holds twins of model {}, the active twin is {}: run `rdt embed`",
                    index.describe(),
                    v.to_hex(),
                    model.version.to_hex()
                )))
            }
            Some(_) => {}
        }
        let journeys = load_journeys(store, None, |_| {})
            .await
            .map_err(|e| CohortUnavailable(format!("cannot read the journeys for the population: {e}")))?;
        let key_path = data_dir.join("keys").join("cohort-pseudonym.key");
        let key = PseudonymKey::load_or_create(&key_path)
            .map_err(|e| CohortUnavailable(format!("cannot read or create {}: {e}", key_path.display())))?;
        let head_path = TwinHead::install_path(data_dir);
        let head = if head_path.exists() {
            TwinHead::load_active(&head_path, registry, model.version).await.map_err(|e| e.to_string())
        } else {
            Err(format!("no twin head at {}: run `rdt embed`", head_path.display()))
        };
        let option_head_path = OptionHead::install_path(data_dir);
        let option_head = if option_head_path.exists() {
            OptionHead::load_active(&option_head_path, registry)
                .await
                .map(|(h, v)| (h, v.to_hex()))
                .map_err(|e| e.to_string())
        } else {
            Err(format!("no option head at {}: run `rdt embed`", option_head_path.display()))
        };
        let prior_path = NeighbourhoodPrior::install_path(data_dir);
        let prior = if prior_path.exists() {
            NeighbourhoodPrior::load_active(&prior_path, registry, model.version).await.map_err(|e| e.to_string())
        } else {
            Err(format!("no neighbourhood prior at {}: run `rdt embed`", prior_path.display()))
        };
        Ok(CohortHandles {
            head,
            option_head,
            prior,
            ..CohortHandles::new(model, index, &journeys, key, QueryOptions::default())
        })
    }

    /// The same handles with a fitted twin head (tests; an install's is loaded by
    /// [`CohortHandles::load`]).
    pub fn with_head(mut self, head: TwinHead) -> Self {
        self.head = Ok(head);
        self
    }

    /// The same handles with a fitted counterfactual head of version `version` (tests;
    /// an install's is loaded by [`CohortHandles::load`]).
    pub fn with_option_head(mut self, head: OptionHead, version: impl Into<String>) -> Self {
        self.option_head = Ok((head, version.into()));
        self
    }

    /// The same handles pooling the neighbours' rates with `prior` (tests; an
    /// install's is loaded by [`CohortHandles::load`]).
    pub fn with_prior(mut self, prior: NeighbourhoodPrior) -> Self {
        self.prior = Ok(prior);
        self
    }

    /// The twin head, when one is loaded.
    pub fn head(&self) -> Option<&TwinHead> {
        self.head.as_ref().ok()
    }

    /// Why the cohort shows no twin head figures, when it does not.
    pub fn head_unavailable(&self) -> Option<&str> {
        self.head.as_ref().err().map(String::as_str)
    }

    /// The same handles reading note vectors from `notes` (MiniLM and the install's
    /// cache): the twin of a journey with its notes, for a twin trained with them.
    pub fn with_notes(mut self, notes: NoteVectorSource) -> Self {
        self.notes = Some(Arc::new(notes));
        self
    }

    /// The cohort report of a journey at `at` (its last event when `None`), with `k`
    /// neighbours, by `twin_core::cohort::query_cohort`. Note vectors only with
    /// [`CohortHandles::with_notes`]: the assistant and the pages answer from the twin
    /// of the structured record. Every failure is the tool's `Unavailable`, with the
    /// query's own message (which names the command that fixes it).
    pub async fn report(
        &self,
        tool: ToolName,
        patient: &PatientId,
        events: &[Event],
        at: Option<NaiveDate>,
        k: usize,
    ) -> Result<CohortReport, ToolError> {
        let unavailable = |reason: String| ToolError::Unavailable { tool, reason };
        let vectors = self.note_vectors(tool, events, at)?;
        let options = QueryOptions { k, ..self.options };
        let note_vector = |t: &str| vectors.vector(t);
        let mut report = query_cohort(self.sources(), patient, events, at, &options, &note_vector, &|_| false)
            .await
            .map_err(|e| unavailable(format!("{e} ({})", self.index.describe())))?;
        report.twin_head_unavailable = self.head_unavailable().map(str::to_owned);
        report.pooling_unavailable = self.prior.as_ref().err().cloned();
        Ok(report)
    }

    /// The comparison of treatment options of a journey at `at` (its last event when
    /// `None`), by `twin_core::options::compare_options`, with the state model's outlook
    /// per option when `state` is given; like [`Self::report`], every
    /// failure is the tool's `Unavailable` with the query's own message.
    pub async fn options(
        &self,
        tool: ToolName,
        patient: &PatientId,
        events: &[Event],
        at: Option<NaiveDate>,
        state: Option<&twin_core::state::StateModel>,
    ) -> Result<(OptionsReport, OptionsAudit), ToolError> {
        let unavailable = |reason: String| ToolError::Unavailable { tool, reason };
        let vectors = self.note_vectors(tool, events, at)?;
        let note_vector = |t: &str| vectors.vector(t);
        let query = OptionsQuery { min_follow_up_days: self.options.min_follow_up_days, ..OptionsQuery::default() };
        let population = self.options_population.get_or_init(|| OptionsPopulation::build(&self.population));
        let models = OptionModels {
            state,
            head: match &self.option_head {
                Ok((head, version)) => Ok((head, version.as_str())),
                Err(why) => Err(why.as_str()),
            },
        };
        compare_options(self.sources(), population, patient, events, at, &query, models, &note_vector, &|_| false)
            .await
            .map_err(|e| unavailable(format!("{e} ({})", self.index.describe())))
    }

    /// The vectors of the note texts the twin of `events` at `at` reads, when the
    /// handles read notes ([`Self::with_notes`]); none otherwise.
    fn note_vectors(
        &self,
        tool: ToolName,
        events: &[Event],
        at: Option<NaiveDate>,
    ) -> Result<twin_core::encode::note::NoteVectors, ToolError> {
        let Some(notes) = &self.notes else { return Ok(Default::default()) };
        notes
            .vectors(note_texts(events, at.map(twin_core::cohort::query::end_of_day)), &NoProgress)
            .map(|v| v.weighted_by(self.model.manifest.spec.note_weights.clone()))
            .map_err(|e| ToolError::Unavailable { tool, reason: format!("note vectors: {e}") })
    }

    fn sources(&self) -> CohortSources<'_> {
        CohortSources {
            model: &self.model,
            index: &self.index,
            population: &self.population,
            key: &self.key,
            head: self.head.as_ref().ok(),
            prior: self.prior.as_ref().ok(),
        }
    }

    /// What the audit entry of a comparison of options records: per option, the
    /// neighbours who took it (real ids, distances, the option as their group).
    pub fn options_audit_record(&self, audit: &OptionsAudit) -> CohortRecord {
        CohortRecord {
            neighbours: audit
                .per_option
                .iter()
                .flat_map(|(option, list)| {
                    list.iter().map(move |n| audit_log::Neighbour {
                        id: n.patient.as_str().to_owned(),
                        distance: f64::from(n.distance),
                        group: Some(option.key().to_owned()),
                    })
                })
                .collect(),
            index_version: format!("{} (twin {})", self.index.describe(), self.model.version.to_hex()),
            encoder_version: self.model.version,
        }
    }

    /// The traits a record showed at its snapshot `at`: diagnoses and drugs by then,
    /// and the latest-visit features then.
    pub fn traits_at(&self, patient: &PatientId, at: DateTime<Utc>) -> BTreeSet<RecordTrait> {
        let mut out: BTreeSet<RecordTrait> = self
            .traits
            .get(patient)
            .map(|list| list.iter().take_while(|(t, _)| *t <= at).map(|(_, x)| x.clone()).collect())
            .unwrap_or_default();
        if let Some(record) = self.population.record(patient) {
            let f = snapshot_features(record, at);
            if f.len() == FEATURE_NAMES.len() {
                out.extend(
                    FEATURE_TRAITS.iter().filter(|(_, test)| test(&f)).map(|(name, _)| RecordTrait::Feature(name)),
                );
            }
            if crp_raised_at(record, at) {
                out.insert(RecordTrait::Feature(CRP_RAISED));
            }
        }
        out
    }

    /// What the audit entry of a cohort call records: neighbours' real ids and
    /// distances, the index and the twin version.
    pub fn audit_record(&self, report: &CohortReport) -> CohortRecord {
        CohortRecord {
            neighbours: report
                .audit
                .neighbour_ids
                .iter()
                .zip(&report.audit.distances)
                .map(|(p, d)| audit_log::Neighbour::new(p.as_str(), f64::from(*d)))
                .collect(),
            index_version: format!("{} (twin {})", self.index.describe(), self.model.version.to_hex()),
            encoder_version: self.model.version,
        }
    }
}

/// The cohort a [`crate::ToolContext`] carries: loaded, why not, or loaded on the
/// first cohort tool call (and reloaded after writes, [`CohortOnDemand::refresh`]).
#[derive(Clone)]
pub enum CohortState {
    Loaded(Arc<CohortHandles>),
    Missing(CohortUnavailable),
    OnDemand(Arc<CohortOnDemand>),
}

/// The install's cohort, loaded by the first call that needs it and then kept until
/// [`Self::refresh`] loads it again.
/// Loading reads every journey for the population and opens the neighbour index
/// (seconds on a few thousand patients): a one-question process (`rdt ask`, `rdt
/// tool`) whose question reads one patient's record should not pay that. Every clone
/// of a [`crate::ToolContext`] shares one `CohortOnDemand`, so a refresh reaches the
/// pages and the chat's assistant alike.
pub struct CohortOnDemand {
    store: JourneyStore,
    data_dir: std::path::PathBuf,
    index: IndexConfig,
    registry: ModelRegistry,
    /// The handles loaded last, or why they did not load; `None` before the first load.
    loaded: tokio::sync::RwLock<Option<Result<Arc<CohortHandles>, CohortUnavailable>>>,
    /// One load at a time (concurrent first calls wait for one load).
    loading: tokio::sync::Mutex<()>,
    /// A reload was asked for and has not started yet: writes in quick succession
    /// share one reload instead of queueing one each.
    dirty: std::sync::atomic::AtomicBool,
}

impl CohortOnDemand {
    /// What [`CohortHandles::load`] will read, when first asked.
    pub fn new(store: JourneyStore, data_dir: &Path, index: &IndexConfig, registry: &ModelRegistry) -> Self {
        CohortOnDemand {
            store,
            data_dir: data_dir.to_path_buf(),
            index: index.clone(),
            registry: registry.clone(),
            loaded: tokio::sync::RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            dirty: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The handles, loaded on the first call; a load that failed stays failed, with
    /// its reason, until a [`Self::refresh`].
    pub async fn get(&self) -> Result<Arc<CohortHandles>, CohortUnavailable> {
        if let Some(loaded) = self.loaded.read().await.as_ref() {
            return loaded.clone();
        }
        let one = self.loading.lock().await;
        if let Some(loaded) = self.loaded.read().await.as_ref() {
            return loaded.clone();
        }
        let loaded = CohortHandles::load(&self.store, &self.data_dir, &self.index, &self.registry).await.map(Arc::new);
        *self.loaded.write().await = Some(loaded.clone());
        drop(one);
        // A write during this first load asked for a reload that found the lock taken.
        if self.dirty.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = self.refresh().await;
            if let Some(now) = self.loaded.read().await.as_ref() {
                return now.clone();
            }
        }
        loaded
    }

    /// Loads the handles again (which first catches the index up with the store's
    /// change feed) and swaps them in: after a write, the next cohort call reads the
    /// store as it is. Calls during the reload answer from the previous handles.
    /// Requests that arrive while a reload runs share the one reload that follows it
    /// (and return at once, `Ok`): a burst of writes costs two reloads, not one each.
    pub async fn refresh(&self) -> Result<(), CohortUnavailable> {
        use std::sync::atomic::Ordering::SeqCst;
        self.dirty.store(true, SeqCst);
        let mut outcome = Ok(());
        loop {
            // Whoever holds the lock reloads again after its load if asked meanwhile.
            let Ok(one) = self.loading.try_lock() else { return outcome };
            if !self.dirty.swap(false, SeqCst) {
                return outcome;
            }
            let loaded =
                CohortHandles::load(&self.store, &self.data_dir, &self.index, &self.registry).await.map(Arc::new);
            outcome = loaded.as_ref().map(|_| ()).map_err(Clone::clone);
            *self.loaded.write().await = Some(loaded);
            drop(one);
            if !self.dirty.load(SeqCst) {
                return outcome;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trait tests read the snapshot baseline's columns by index: these are them.
    #[test]
    fn feature_traits_read_the_columns_they_name() {
        let names = [
            (0, "das28"),
            (1, "das28_measured"),
            (8, "log_crp"),
            (9, "crp_measured"),
            (12, "age_years"),
            (13, "age_known"),
            (14, "female"),
            (15, "sex_known"),
            (16, "disease_years"),
            (17, "disease_known"),
            (18, "on_methotrexate"),
            (20, "on_tnf_inhibitor"),
            (21, "on_other_biologic"),
            (22, "on_jak_inhibitor"),
            (24, "on_glucocorticoid"),
        ];
        for (i, name) in names {
            assert_eq!(FEATURE_NAMES[i], name);
        }
        let mut row = vec![0.0; FEATURE_NAMES.len()];
        (row[14], row[15], row[18]) = (1.0, 1.0, 1.0);
        let on: Vec<&str> = FEATURE_TRAITS.iter().filter(|(_, t)| t(&row)).map(|(n, _)| *n).collect();
        assert_eq!(on, vec!["female", "on methotrexate"]);
    }

    /// The cohort's "CRP above 5 mg/L" and `lab_trend`'s flag read one CRP the same way:
    /// around the limit, in mg/L and in mg/dL, the trait holds exactly when the tools
    /// flag the latest value high, and its label names the limit it tests.
    #[test]
    fn crp_trait_agrees_with_the_tools_flag() {
        use crate::reference::{Flag, LabTest};
        use crate::testutil::{date, day, Chart};
        let cases = [(4.9, "mg/L"), (5.0, "mg/L"), (5.1, "mg/L"), (0.5, "mg/dL"), (0.52, "mg/dL"), (40.0, "mg/L")];
        for (value, unit) in cases {
            let chart = Chart::new("p1", "female", date(1970, 1, 1)).lab(day(2024, 1, 1), "1988-5", value, unit);
            let record = journey::Journey { patient: chart.patient, events: chart.events };
            let cohort = crp_raised_at(&ClinicalRecord::read(&record.events), day(2024, 2, 1));
            let (values, _) = crate::record::lab_values(&record, LabTest::Crp);
            assert_eq!(values.len(), 1, "{value} {unit} is read");
            let flag = LabTest::Crp.range(None, None).flag(values[0].value);
            assert_eq!(cohort, flag == Flag::High, "{value} {unit}: {flag:?}");
        }
        assert_eq!(CRP_RAISED, format!("CRP above {} mg/L", journey::clinical::labs::CRP_ULN_MG_L));
    }

    /// The DAS28 traits' labels name the thresholds their categories are cut at.
    #[test]
    fn das28_trait_labels_name_their_thresholds() {
        use journey::clinical::das28::{HIGH, REMISSION};
        let labels: Vec<&str> = FEATURE_TRAITS.iter().map(|(n, _)| *n).collect();
        assert!(labels.contains(&format!("DAS28 above {HIGH} (high activity)").as_str()));
        assert!(labels.contains(&format!("DAS28 below {REMISSION} (remission)").as_str()));
    }
}
