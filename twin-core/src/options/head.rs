//! The counterfactual head: one model of what follows a decision with the option as an
//! input, asked once per option ("what if she started a TNF inhibitor?").
//!
//! Boosted trees (`cohort::boosting`, RDT's fixed budget) on the decision's
//! covariates (`units::covariates`: measurements at the decision, treatment before
//! it), the aggregated history up to the day before (`cohort::history`) and the
//! option taken, one-hot; fitted on the population's decisions (each snapshot with an
//! option taken and the outcome known) for DAS28 at day 270 (squared loss) and EULAR
//! response at 6 months (log loss). Asked for a patient with each option in turn: the
//! differences between the answers are what the record says the options change, for
//! patients like this one; like any model of observational data it adjusts for what
//! its features hold, not for what they do not.
//!
//! An install's head ([`OptionHead::fit_install`], at `rdt embed`) is fitted on the
//! train part of the frozen split and measured on the tuning part's decisions, each
//! with the option actually taken: a DAS28's interval is the held-out residuals' 95%
//! range (per option where [`MIN_CALIBRATION_ROWS`] held-out patients took it, else
//! all options pooled), a probability's is the observed rate among held-out patients
//! given a figure in the same band; below that many, or with a calibration slope
//! outside [`crate::heads::CALIBRATED_SLOPE`], the head shows no figure and says why.
//! The file is pinned in the model registry (kind `option_head`) and read only when
//! active, like every artifact.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, Digest, GovernanceError, ModelRegistry, Principal};
use chrono::{DateTime, Utc};
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use serde::{Deserialize, Serialize};

use super::units::{covariates, OptionsPopulation};
use crate::artifact::{read_active, save_pinned, ArtifactFileError};
use crate::cohort::boosting::{fit_booster, BoostingError};
use crate::cohort::history::history_features;
use crate::cohort::population::Population;
use crate::cohort::record::ClinicalRecord;
use crate::eval::split::Part;
use crate::heads::{Calibration, HeadFigure, MIN_CALIBRATION_ROWS};
use crate::index::build::SnapshotPlan;
use journey::clinical::{OptionOutcome, TreatmentOption};
use journey::event::{Event, PatientId};

/// Why an option head could not be fitted, saved or read.
#[derive(Debug, thiserror::Error)]
pub enum OptionHeadError {
    #[error(transparent)]
    Boosting(#[from] BoostingError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not an option head: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{source}; refit and register the option head with `rdt embed`")]
    Governance { source: GovernanceError },
}

impl From<ArtifactFileError> for OptionHeadError {
    fn from(e: ArtifactFileError) -> Self {
        match e {
            ArtifactFileError::Io { path, source } => OptionHeadError::Io { path, source },
            ArtifactFileError::Governance(source) => OptionHeadError::Governance { source },
        }
    }
}

/// The outcomes the head predicts, in the order [`OptionHead::predict`] returns them.
pub const HEAD_OUTCOMES: [OptionOutcome; 2] = [OptionOutcome::Das28Day270, OptionOutcome::Response6m];

/// Fewest train-part decisions with an outcome for an install to fit a head: boosted
/// trees on a few dozen decisions would give figures nobody should be shown.
pub const MIN_HEAD_DECISIONS: usize = crate::cohort::population::MIN_BASELINE_SNAPSHOTS;

const REGISTER_REASON: &str = "fitted by rdt embed on the train part's decisions, measured on the tuning part's";

/// The counterfactual head's two models, and how they did on held-out decisions.
#[derive(Serialize, Deserialize)]
pub struct OptionHead {
    features: usize,
    das28_270: PerpetualBooster,
    /// `None` when too few training decisions had a response to read (it needs a
    /// DAS28 within 30 days before the option's start): the head then gives DAS28 only.
    response_6m: Option<PerpetualBooster>,
    /// Decisions fitted on (with a DAS28 at day 270 or a response).
    pub fitted_decisions: usize,
    /// DAS28 at day 270 on held-out decisions, per option taken.
    das28_by_option: BTreeMap<TreatmentOption, Calibration>,
    /// DAS28 at day 270 on every held-out decision (the interval of an option too
    /// rare in the held-out part for its own).
    das28_pooled: Option<Calibration>,
    /// Response at 6 months on every held-out decision (the bands need them all).
    response: Option<Calibration>,
}

/// What a decision's features read from the record, whatever the option: covariates
/// and the aggregated history up to the day before. Read once per decision; each
/// option only appends its one-hot ([`with_option`]).
pub fn record_features(record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>) -> Vec<f64> {
    let before = crate::cohort::query::end_of_day(at.date_naive() - chrono::Days::new(1));
    let mut x = covariates(record, at);
    x.extend(history_features(record, events, before));
    x
}

/// `record` (from [`record_features`]) with `option` one-hot appended: the head's row.
pub fn with_option(record: &[f64], option: TreatmentOption) -> Vec<f64> {
    let mut x = record.to_vec();
    x.extend(TreatmentOption::ALL.iter().map(|o| if *o == option { 1.0 } else { 0.0 }));
    x
}

/// One of the head's figures for an option, or why it shows none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionHeadFigure {
    pub outcome: OptionOutcome,
    pub figure: Option<HeadFigure>,
    /// Why `figure` is empty.
    pub withheld: Option<String>,
    /// Where the interval comes from: held-out patients who took this option, or
    /// held-out decisions of every option pooled.
    pub interval_from: Option<String>,
}

/// Rows of features and outcomes read from a population's decisions.
struct DecisionRows {
    x_das: Vec<Vec<f64>>,
    y_das: Vec<f64>,
    o_das: Vec<TreatmentOption>,
    x_resp: Vec<Vec<f64>>,
    y_resp: Vec<f64>,
}

impl DecisionRows {
    fn read(decisions: &OptionsPopulation, population: &Population, journeys: &HashMap<&PatientId, &[Event]>) -> Self {
        let mut rows = DecisionRows { x_das: vec![], y_das: vec![], o_das: vec![], x_resp: vec![], y_resp: vec![] };
        // A fixed order (patient, time): the same rows fit the same trees in every run.
        let mut units: Vec<_> = decisions.units().collect();
        units.sort_by(|a, b| (&a.patient, a.index_time).cmp(&(&b.patient, b.index_time)));
        for unit in units {
            let (Some(record), Some(events)) = (population.record(&unit.patient), journeys.get(&unit.patient)) else {
                continue;
            };
            let das = unit.outcomes.get(OptionOutcome::Das28Day270);
            let resp = unit.outcomes.get(OptionOutcome::Response6m);
            if das.is_none() && resp.is_none() {
                continue;
            }
            let x = with_option(&record_features(record, events, unit.index_time), unit.option);
            if let Some(v) = das {
                rows.x_das.push(x.clone());
                rows.y_das.push(v);
                rows.o_das.push(unit.option);
            }
            if let Some(v) = resp {
                rows.x_resp.push(x);
                rows.y_resp.push(v);
            }
        }
        rows
    }
}

impl OptionHead {
    /// Fits on every decision of `decisions` whose patient's record `population` and
    /// events `journeys` hold (no held-out measurement: see [`OptionHead::fit_install`]).
    pub fn fit(
        decisions: &OptionsPopulation,
        population: &Population,
        journeys: &HashMap<&PatientId, &[Event]>,
    ) -> Result<Self, BoostingError> {
        Self::fit_rows(&DecisionRows::read(decisions, population, journeys), 1)
    }

    /// An install's head: fitted on the train part's decisions (its historical
    /// snapshots by `plan`), measured on the tuning part's. `None` when the train part
    /// holds fewer than [`MIN_HEAD_DECISIONS`] decisions with an outcome.
    pub fn fit_install(journeys: &[(PatientId, Vec<Event>)], plan: &SnapshotPlan) -> Result<Option<Self>, BoostingError> {
        let of_part = |part: Part| {
            let mine: Vec<(&PatientId, &[Event])> =
                journeys.iter().filter(|(p, _)| Part::of(p) == part).map(|(p, e)| (p, e.as_slice())).collect();
            let population =
                Population::build(mine.iter().copied(), &|e: &[Event]| crate::index::build::historical_times_of(e, plan));
            let decisions = OptionsPopulation::build(&population);
            let events: HashMap<&PatientId, &[Event]> = mine.into_iter().collect();
            DecisionRows::read(&decisions, &population, &events)
        };
        let train = of_part(Part::Train);
        if train.x_das.len() < MIN_HEAD_DECISIONS {
            return Ok(None);
        }
        let mut head = Self::fit_rows(&train, MIN_HEAD_DECISIONS)?;
        drop(train);
        head.measure(&of_part(Part::Tuning));
        Ok(Some(head))
    }

    /// Both models on `rows`; the response model only with at least `min_response`
    /// decisions with a response.
    fn fit_rows(rows: &DecisionRows, min_response: usize) -> Result<Self, BoostingError> {
        let features = rows.x_das.first().or(rows.x_resp.first()).map(Vec::len).ok_or(BoostingError::Empty("option head"))?;
        let response_6m = if rows.x_resp.len() < min_response.max(1) {
            None
        } else {
            Some(fit_booster(&rows.x_resp, &rows.y_resp, Objective::LogLoss, "option head: response at 6 months")?)
        };
        Ok(OptionHead {
            features,
            das28_270: fit_booster(&rows.x_das, &rows.y_das, Objective::SquaredLoss, "option head: DAS28 at day 270")?,
            response_6m,
            fitted_decisions: rows.x_das.len().max(rows.x_resp.len()),
            das28_by_option: BTreeMap::new(),
            das28_pooled: None,
            response: None,
        })
    }

    /// The head's calibration on held-out `rows`.
    fn measure(&mut self, rows: &DecisionRows) {
        let mut pooled = Vec::new();
        let mut by_option: BTreeMap<TreatmentOption, Vec<(f64, f64)>> = BTreeMap::new();
        for ((x, y), option) in rows.x_das.iter().zip(&rows.y_das).zip(&rows.o_das) {
            let Some((das, _)) = self.predict(x) else { continue };
            pooled.push((das, *y));
            by_option.entry(*option).or_default().push((das, *y));
        }
        self.das28_by_option = by_option.iter().map(|(o, pairs)| (*o, Calibration::of_values(pairs))).collect();
        self.das28_pooled = (!pooled.is_empty()).then(|| Calibration::of_values(&pooled));
        let (p, y): (Vec<f64>, Vec<bool>) =
            rows.x_resp.iter().zip(&rows.y_resp).filter_map(|(x, y)| Some((self.predict(x)?.1?, *y > 0.5))).unzip();
        self.response = (!p.is_empty()).then(|| Calibration::of_rates(&p, &y));
    }

    /// DAS28 at day 270 (kept on 0-10) and the response probability (when a
    /// response model was fitted), were the patient of `features` (from
    /// [`with_option`]) to take the option they name.
    pub fn predict(&self, features: &[f64]) -> Option<(f64, Option<f64>)> {
        if features.len() != self.features {
            return None;
        }
        let m = Matrix::new(features, 1, self.features);
        let das = self.das28_270.predict(&m, false).first().copied().filter(|v| v.is_finite())?.clamp(0.0, 10.0);
        let p = self.response_6m.as_ref().and_then(|r| r.predict_proba(&m, false, false).first().copied());
        Some((das, p.filter(|p| p.is_finite()).map(|p| p.clamp(0.0, 1.0))))
    }

    /// The held-out calibration behind `outcome`'s figures for `option`, and what it
    /// was measured on.
    fn calibration(&self, option: TreatmentOption, outcome: OptionOutcome) -> Option<(&Calibration, String)> {
        match outcome {
            OptionOutcome::Das28Day270 => match self.das28_by_option.get(&option).filter(|c| c.n >= MIN_CALIBRATION_ROWS) {
                Some(c) => Some((c, format!("{} held-out decisions where it was taken", c.n))),
                None => self.das28_pooled.as_ref().map(|c| (c, format!("{} held-out decisions, every option pooled", c.n))),
            },
            OptionOutcome::Response6m => {
                self.response.as_ref().map(|c| (c, format!("{} held-out decisions, every option pooled", c.n)))
            }
            _ => None,
        }
    }

    /// [`Self::predict`] for a patient whose [`record_features`] are `record`, were it
    /// to take `option`.
    pub fn ask(&self, record: &[f64], option: TreatmentOption) -> Option<(f64, Option<f64>)> {
        self.predict(&with_option(record, option))
    }

    /// The figures shown for `predicted` (from [`Self::ask`]) under `option`: DAS28
    /// at day 270 and response at 6 months, each with its interval from held-out
    /// patients, or why none is shown.
    pub fn figures(&self, predicted: Option<(f64, Option<f64>)>, option: TreatmentOption) -> Vec<OptionHeadFigure> {
        HEAD_OUTCOMES
            .iter()
            .enumerate()
            .map(|(i, outcome)| {
                let value = predicted.and_then(|(das, p)| if i == 0 { Some(das) } else { p });
                let unfitted = *outcome == OptionOutcome::Response6m && self.response_6m.is_none();
                let (figure, withheld, interval_from) = match (self.calibration(option, *outcome), value) {
                    _ if unfitted => (
                        None,
                        Some(format!("fewer than {MIN_HEAD_DECISIONS} training decisions with a response at 6 months: no model")),
                        None,
                    ),
                    (None, _) => (None, Some("the head was not measured on held-out patients".to_owned()), None),
                    (Some(_), None) => (None, Some("the head gives no figure for this record".to_owned()), None),
                    (Some((c, from)), Some(v)) => match c.withheld(outcome.is_rate()) {
                        Some(why) => (None, Some(why), Some(from)),
                        None => match c.figure(v, outcome.is_rate()) {
                            Some(f) => (Some(f), None, Some(from)),
                            None => (None, Some("no held-out patient was given a figure in this band".to_owned()), Some(from)),
                        },
                    },
                };
                OptionHeadFigure { outcome: *outcome, figure, withheld, interval_from }
            })
            .collect()
    }

    /// The head's version: the SHA-256 of the bytes [`Self::save_and_register`] writes.
    pub fn version(&self) -> Digest {
        Digest::of(&self.to_bytes())
    }

    fn to_bytes(&self) -> Vec<u8> {
        // Numbers, strings and maps of them serialise.
        crate::artifact::canonical_json(self).expect("an option head serialises")
    }

    /// Where an install keeps its option head.
    pub fn install_path(data_dir: &Path) -> PathBuf {
        crate::twin::install::models_dir(data_dir).join("option-head.json")
    }

    /// Writes the head to `path` (whole: never half a file), pins its bytes and makes
    /// them the active option head, each step audited as `by`. Returns its version
    /// (SHA-256 of the bytes).
    pub async fn save_and_register(&self, path: &Path, registry: &ModelRegistry, by: &Principal) -> Result<Digest, OptionHeadError> {
        Ok(save_pinned(path, &self.to_bytes(), registry, by, ArtifactKind::OptionHead, REGISTER_REASON).await?)
    }

    /// Reads the head at `path`, refusing its bytes unless their SHA-256 is the
    /// registry's active option head. Returns it with its version.
    pub async fn load_active(path: &Path, registry: &ModelRegistry) -> Result<(Self, Digest), OptionHeadError> {
        let (bytes, version) = read_active(path, registry, ArtifactKind::OptionHead, "the option head").await?;
        let head = serde_json::from_slice(&bytes).map_err(|source| OptionHeadError::Parse { path: path.to_owned(), source })?;
        Ok((head, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{das28, drug, Journey};
    use chrono::Duration;

    /// 80 patients decided at day 100: those who started adalimumab went from 5.6 to
    /// 2.4, those who kept methotrexate stayed at 5.6. Asked for an active patient,
    /// the head answers inside the scales for every option, and the TNF inhibitor
    /// lower than continuing.
    #[test]
    fn the_head_answers_per_option_inside_the_scales() {
        let journeys: Vec<(PatientId, Vec<Event>)> = (0..80)
            .map(|i| {
                let id = PatientId::new(format!("p{i:02}")).unwrap();
                let mut parts = vec![das28(0, 6.0), drug(0, None, "6851"), das28(100, 5.6)];
                if i % 2 == 0 {
                    parts.extend([drug(100, None, "327361"), das28(282, 2.6), das28(370, 2.4), das28(460, 2.4)]);
                } else {
                    parts.extend([das28(282, 5.5), das28(370, 5.6), das28(460, 5.6)]);
                }
                let mut events = Journey::new(parts).events;
                events.iter_mut().for_each(|e| e.patient = id.clone());
                (id, events)
            })
            .collect();
        let decision = |e: &[Event]| vec![crate::cohort::query::end_of_day(e[0].time.date_naive() + Duration::days(100))];
        let population = Population::build(journeys.iter().map(|(p, e)| (p, e.as_slice())), &decision);
        let decisions = OptionsPopulation::build(&population);
        let events: HashMap<&PatientId, &[Event]> = journeys.iter().map(|(p, e)| (p, e.as_slice())).collect();
        let head = OptionHead::fit(&decisions, &population, &events).expect("a fitted head");
        let (p, e) = (&journeys[1].0, &journeys[1].1);
        let record = population.record(p).unwrap();
        let at = crate::cohort::query::end_of_day(e[0].time.date_naive() + Duration::days(100));
        let ask = |o| {
            let (das, p) = head.ask(&record_features(record, e, at), o).unwrap();
            (das, p.expect("a response model"))
        };
        for o in TreatmentOption::ALL {
            let (das, resp) = ask(o);
            assert!((0.0..=10.0).contains(&das) && (0.0..=1.0).contains(&resp), "{o}: {das} {resp}");
        }
        assert!(ask(TreatmentOption::TnfInhibitor).0 < ask(TreatmentOption::Continue).0);
        assert_eq!(head.predict(&[1.0, 2.0]), None, "a row of the wrong width");
    }

    /// `n` patients on methotrexate from day 0 (DAS28 6.0, 5.6 by day 150), read
    /// every 30 days to day 720; every other one starts adalimumab at day 200 and
    /// falls to 2.4, the others stay near 5.6.
    fn install_cohort(n: usize) -> Vec<(PatientId, Vec<Event>)> {
        (0..n)
            .map(|i| {
                let id = PatientId::new(format!("q{i:04}")).unwrap();
                let switched = i % 2 == 0;
                let mut parts = vec![drug(0, None, "6851"), das28(0, 6.0)];
                for day in (30..=720).step_by(30) {
                    let noise = ((i * 7 + day as usize) % 5) as f64 * 0.1;
                    let v = if day < 150 { 6.0 - 0.4 * day as f64 / 150.0 } else if switched && day > 200 { 2.4 } else { 5.6 };
                    parts.push(das28(day, v + noise));
                }
                if switched {
                    parts.push(drug(200, None, "327361"));
                }
                let mut events = Journey::new(parts).events;
                events.iter_mut().for_each(|e| e.patient = id.clone());
                (id, events)
            })
            .collect()
    }

    /// An install's head: fitted on the train part, measured on the tuning part; each
    /// shown figure has an interval from held-out patients that holds it, inside the
    /// scale; the TNF inhibitor is answered lower than continuing. Pinned, it loads
    /// only as the active version; a handful of patients fit none.
    #[tokio::test]
    async fn an_install_head_is_measured_pinned_and_answers_with_intervals() {
        use audit_log::{AuditLog, Role};
        let journeys = install_cohort(700);
        let head = OptionHead::fit_install(&journeys, &SnapshotPlan::default()).unwrap().expect("a head");
        assert!(head.fitted_decisions >= MIN_HEAD_DECISIONS, "{}", head.fitted_decisions);
        let again = OptionHead::fit_install(&journeys, &SnapshotPlan::default()).unwrap().unwrap();
        assert_eq!(again.version(), head.version(), "the same decisions fit the same head, byte for byte");
        let (p, events) = journeys.iter().find(|(p, _)| Part::of(p) == Part::Test).unwrap();
        let _ = p;
        let at = crate::cohort::query::end_of_day(events[0].time.date_naive() + chrono::Days::new(180));
        let upto: Vec<Event> = events.iter().filter(|e| e.time <= at).cloned().collect();
        let record = record_features(&ClinicalRecord::read(&upto), &upto, at);
        let das = |o| {
            let figures = head.figures(head.ask(&record, o), o);
            assert_eq!(figures.len(), HEAD_OUTCOMES.len());
            for f in &figures {
                match &f.figure {
                    Some(fig) => {
                        let i = fig.interval.expect("an interval");
                        let (lo, hi) = if f.outcome.is_rate() { (0.0, 1.0) } else { (0.0, 10.0) };
                        assert!(lo <= i.low && i.high <= hi && (lo..=hi).contains(&fig.value), "{f:?}");
                        assert!(fig.n >= MIN_CALIBRATION_ROWS && f.interval_from.is_some(), "{f:?}");
                    }
                    None => assert!(f.withheld.as_deref().is_some_and(|w| !w.is_empty()), "{f:?}"),
                }
            }
            let f = figures[0].figure.clone().expect("a DAS28 figure");
            let i = f.interval.unwrap();
            // Held-out residuals on both sides (up to rounding: these trees fit the
            // switched patients almost exactly).
            assert!(i.low <= f.value + 1e-6 && f.value <= i.high + 1e-6, "{f:?}");
            f.value
        };
        assert!(das(TreatmentOption::TnfInhibitor) + 1.0 < das(TreatmentOption::Continue));

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
        let registry = ModelRegistry::new(AuditLog::open(&url).await.unwrap());
        let by = Principal::new("gov", Role::Governance);
        let path = OptionHead::install_path(dir.path());
        let version = head.save_and_register(&path, &registry, &by).await.unwrap();
        assert_eq!(version, head.version());
        let (loaded, loaded_version) = OptionHead::load_active(&path, &registry).await.unwrap();
        assert_eq!(loaded_version, version);
        let continuing = |h: &OptionHead| h.figures(h.ask(&record, TreatmentOption::Continue), TreatmentOption::Continue);
        assert_eq!(continuing(&loaded), continuing(&head));
        let mut bytes = std::fs::read(&path).unwrap();
        let at_digit = bytes.iter().position(|b| b.is_ascii_digit()).unwrap();
        bytes[at_digit] = if bytes[at_digit] == b'9' { b'8' } else { bytes[at_digit] + 1 };
        std::fs::write(&path, &bytes).unwrap();
        let err = OptionHead::load_active(&path, &registry).await.err().expect("refused");
        assert!(matches!(err, OptionHeadError::Governance { .. }) && err.to_string().contains("rdt embed"), "{err}");

        assert!(OptionHead::fit_install(&install_cohort(20), &SnapshotPlan::default()).unwrap().is_none());
    }
}
