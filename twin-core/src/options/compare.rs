//! One comparison of treatment options end to end: the patient's twin at the decision,
//! its nearest historical snapshots, and per option the neighbours who took it
//! (widening the neighbourhood in steps until the option has `min_n` patients), their
//! outcomes unadjusted and weighted for who got the option, the covariate balance, and
//! the population's figure per option beside.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::head::{OptionHead, OptionHeadFigure};
use super::units::{DecisionUnit, OptionsPopulation, COVARIATE_NAMES};
use super::weighting::{standardised_difference, takers_weights};
use crate::cohort::population::estimate_values;
use crate::cohort::query::{index_twin, nearest_historical, CohortError, CohortSources, QueryOptions};
use crate::cohort::record::ClinicalRecord;
use crate::cohort::report::NeighbourRef;
use crate::cohort::stats::Estimate;
use crate::heads::HeadFigure;
use crate::state::{starting_reading, treatment_at, StateModel, Treatment};
use journey::clinical::activity::Scale;
use journey::clinical::{OptionOutcome, OptionOutcomes, TreatmentOption};
use journey::event::{Event, PatientId};

/// The neighbourhood sizes tried, in order, until an option has `min_n` patients.
pub const K_STEPS: [usize; 6] = [50, 100, 200, 400, 800, 1600];
/// Fewest patients who took an option for it to get a figure.
pub const DEFAULT_OPTION_MIN_N: usize = 20;

/// What a comparison asks.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionsQuery {
    pub min_n: usize,
    /// Neighbourhood sizes tried, increasing.
    pub steps: Vec<usize>,
    /// Neighbour snapshots need at least this much record after them.
    pub min_follow_up_days: u32,
    /// The propensity model's ridge penalty ([`super::weighting::PROPENSITY_L2`]).
    pub propensity_l2: f64,
}

impl Default for OptionsQuery {
    fn default() -> Self {
        OptionsQuery {
            min_n: DEFAULT_OPTION_MIN_N,
            steps: K_STEPS.to_vec(),
            min_follow_up_days: 180,
            propensity_l2: super::weighting::PROPENSITY_L2,
        }
    }
}

/// One step of the widening: the `k` nearest snapshots held `patients` who took the option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WideningStep {
    pub k: usize,
    pub patients: usize,
}

/// One covariate's standardised mean difference between the option's patients and
/// the neighbourhood, before and after weighting (|d| < 0.1 is the usual "balanced").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    pub covariate: String,
    pub before: f64,
    /// `None` without a fitted propensity model.
    pub after: Option<f64>,
}

/// One outcome of an option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionRow {
    pub outcome: OptionOutcome,
    pub label: String,
    /// The neighbours who took the option, as they were.
    pub unadjusted: Estimate,
    /// The same neighbours weighted for who got the option (inverse propensity).
    pub adjusted: Estimate,
    /// Every patient of the population who took the option (each once).
    pub population: Estimate,
}

/// Days ahead at which the state model's outlook per option is read (the design's
/// horizon nearest the 6-month response).
pub const STATE_OUTLOOK_DAYS: i64 = 150;

/// The disease-state model's outlook under an option: the chance of remission or low
/// activity [`STATE_OUTLOOK_DAYS`] after the patient's latest DAS28, were the option's
/// treatment class to continue, with its 95% bootstrap interval. The state model
/// groups regimens by class (an IL-6, a JAK inhibitor, rituximab and abatacept are one
/// "other advanced" class), which the `treatment` field names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StateOutlook {
    pub treatment: Treatment,
    pub days: i64,
    pub share: f64,
    pub low: f64,
    pub high: f64,
}

/// The state model's treatment class for an option, given the class running now: a
/// csDMARD option keeps a more advanced regimen; an advanced option is its class.
pub fn option_treatment(option: TreatmentOption, current: Treatment) -> Treatment {
    match option {
        TreatmentOption::Continue => current,
        TreatmentOption::Methotrexate | TreatmentOption::CsdmardCombination => current.max(Treatment::Csdmard),
        TreatmentOption::TnfInhibitor => Treatment::TnfInhibitor,
        _ => Treatment::OtherAdvanced,
    }
}

/// Fills each option's [`StateOutlook`] from `model`, for a journey as of `at` (its
/// last event when `None`); leaves them empty without a DAS28 recent enough to start
/// from.
pub fn add_state_outlooks(report: &mut OptionsReport, model: &StateModel, events: &[Event], at: Option<NaiveDate>) {
    let Ok((as_of, start)) = starting_reading(events, at) else { return };
    let cut = crate::cohort::query::end_of_day(as_of);
    let current = treatment_at(&journey::clinical::courses(events), cut);
    for o in &mut report.options {
        let treatment = option_treatment(o.option, current);
        let e = model.controlled_share(start.state, treatment, STATE_OUTLOOK_DAYS + start.age_days);
        o.state_model = Some(StateOutlook { treatment, days: STATE_OUTLOOK_DAYS, share: e.value, low: e.low, high: e.high });
    }
}

/// One option of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionComparison {
    pub option: TreatmentOption,
    pub label: String,
    /// The neighbourhood the figures are read from (the last step of `widening`).
    pub k: usize,
    /// Patients in it who took the option.
    pub patients: usize,
    pub widening: Vec<WideningStep>,
    /// Whether the option has `min_n` patients (else no row carries a figure).
    pub enough: bool,
    /// Kish effective sample size of the weights.
    pub effective_n: Option<f64>,
    pub rows: Vec<OptionRow>,
    pub balance: Vec<Balance>,
    /// The state model's outlook under the option, when a state model is fitted and
    /// the patient has a recent DAS28.
    #[serde(default)]
    pub state_model: Option<StateOutlook>,
    /// The counterfactual head's figures for the option (shown first: it ranked
    /// options best on the tuning part, `docs/benchmarks/options-protocol.md`
    /// version 2), only when the option has `min_n` similar patients who took it;
    /// empty without an active head.
    #[serde(default)]
    pub head: Vec<OptionHeadFigure>,
}

impl OptionComparison {
    pub fn row(&self, outcome: OptionOutcome) -> Option<&OptionRow> {
        self.rows.iter().find(|r| r.outcome == outcome)
    }

    /// The counterfactual head's figure for `outcome`, when it shows one.
    pub fn head_figure(&self, outcome: OptionOutcome) -> Option<&HeadFigure> {
        self.head.iter().find(|h| h.outcome == outcome)?.figure.as_ref()
    }
}

/// The comparison of every option at one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionsReport {
    pub index_date: NaiveDate,
    pub min_n: usize,
    /// The DMARDs running at the decision (what "continue" keeps).
    pub current_treatment: Vec<String>,
    pub options: Vec<OptionComparison>,
    /// The version (SHA-256) of the counterfactual head behind the options' `head`
    /// figures, or why there are none.
    #[serde(default)]
    pub head_version: Option<String>,
    #[serde(default)]
    pub head_unavailable: Option<String>,
}

impl OptionsReport {
    pub fn option(&self, option: TreatmentOption) -> Option<&OptionComparison> {
        self.options.iter().find(|o| o.option == option)
    }

    /// The option with the best figure on `outcome` by `pick` (an estimate of a row),
    /// among the options with enough patients; `None` when none has a figure.
    pub fn best_by(&self, outcome: OptionOutcome, pick: impl Fn(&OptionRow) -> &Estimate) -> Option<TreatmentOption> {
        self.best_of(outcome, |o| o.row(outcome).and_then(|r| pick(r).value()))
    }

    /// The option the counterfactual head gives the best figure on `outcome`, among
    /// the options with enough patients; `None` when it shows none.
    pub fn best_by_head(&self, outcome: OptionOutcome) -> Option<TreatmentOption> {
        self.best_of(outcome, |o| o.head_figure(outcome).map(|f| f.value))
    }

    /// The option with the best `value` on `outcome` among those with enough patients.
    fn best_of(&self, outcome: OptionOutcome, value: impl Fn(&OptionComparison) -> Option<f64>) -> Option<TreatmentOption> {
        let better = |a: f64, b: f64| if outcome.higher_is_better() { a > b } else { a < b };
        let mut best: Option<(TreatmentOption, f64)> = None;
        for o in self.options.iter().filter(|o| o.enough) {
            let Some(v) = value(o) else { continue };
            if best.is_none_or(|(_, b)| better(v, b)) {
                best = Some((o.option, v));
            }
        }
        best.map(|(o, _)| o)
    }
}

/// Fills each option's counterfactual-head figures (only the options with enough
/// comparable patients: the head answers where the record holds patients like this
/// one who took the option, never for an option nobody near took), for a journey
/// `events` (read as `record`) as of the end of `date`, and the head's version. The
/// record's features are read once for every option.
pub fn add_head_figures(
    report: &mut OptionsReport,
    head: &OptionHead,
    version: &str,
    record: &ClinicalRecord,
    events: &[Event],
    date: NaiveDate,
) {
    let features = super::head::record_features(record, events, crate::cohort::query::end_of_day(date));
    for o in report.options.iter_mut().filter(|o| o.enough) {
        o.head = head.figures(head.ask(&features, o.option), o.option);
    }
    report.head_version = Some(version.to_owned());
    report.head_unavailable = None;
}

impl OptionsReport {
    /// The comparison for a terminal (`rdt options`): per option its patients and
    /// neighbourhood, then per outcome the similar patients as they were, weighted, and
    /// the population; the largest covariate imbalance before and after weighting.
    pub fn table(&self, patient: &str) -> String {
        use std::fmt::Write as _;
        let mut t = String::new();
        let current = if self.current_treatment.is_empty() { "none".to_owned() } else { self.current_treatment.join(", ") };
        let _ = writeln!(t, "Treatment options of {patient} at {} (current: {current}); minimum {} patients\n", self.index_date, self.min_n);
        for o in &self.options {
            let steps: Vec<String> = o.widening.iter().map(|s| format!("{} in {}", s.patients, s.k)).collect();
            let _ = writeln!(t, "{} — {} similar patients started it (widening: {})", o.label, o.patients, steps.join(", "));
            if let Some(s) = &o.state_model {
                let _ = writeln!(
                    t,
                    "  state model ({}): remission or low activity at day {}: {:.0}% ({:.0}-{:.0}%)",
                    s.treatment,
                    s.days,
                    100.0 * s.share,
                    100.0 * s.low,
                    100.0 * s.high
                );
            }
            if !o.enough {
                let _ = writeln!(t, "  not enough comparable patients: no figure\n");
                continue;
            }
            for h in &o.head {
                let what = h.outcome.label();
                match (&h.figure, &h.withheld) {
                    (Some(f), _) => {
                        let _ = writeln!(t, "  counterfactual head: {what}: {} ({})", head_figure_text(h.outcome, f), h.interval_from.as_deref().unwrap_or(""));
                    }
                    (None, Some(why)) => {
                        let _ = writeln!(t, "  counterfactual head: {what}: no figure ({why})");
                    }
                    (None, None) => {}
                }
            }
            let _ = writeln!(t, "  {:<46} {:<26} {:<26} population", "outcome", "weighted for who got it", "as they were");
            for r in &o.rows {
                let _ = writeln!(t, "  {:<46} {:<26} {:<26} {}", r.label, r.adjusted.short(), r.unadjusted.short(), r.population.short());
            }
            let worst = |pick: fn(&Balance) -> Option<f64>| {
                o.balance.iter().filter_map(|b| pick(b).map(|d| (d.abs(), b.covariate.as_str()))).fold(None, |m: Option<(f64, &str)>, x| match m {
                    Some(m) if m.0 >= x.0 => Some(m),
                    _ => Some(x),
                })
            };
            match (worst(|b| Some(b.before)), worst(|b| b.after)) {
                (Some((before, what)), Some((after, what_after))) => {
                    let _ = writeln!(t, "  largest imbalance: {what} {before:.2} standardised difference before weighting; {what_after} {after:.2} after (effective n {:.1})\n", o.effective_n.unwrap_or(0.0));
                }
                (Some((before, what)), None) => {
                    let _ = writeln!(t, "  largest imbalance: {what} {before:.2} standardised difference; no propensity model\n");
                }
                _ => {
                    let _ = writeln!(t);
                }
            }
        }
        match (&self.head_version, &self.head_unavailable) {
            (Some(v), _) => {
                let _ = writeln!(t, "Counterfactual head {}: boosted trees on the record at the decision with the option as an input; intervals from held-out patients.", &v[..v.len().min(12)]);
            }
            (None, Some(why)) => {
                let _ = writeln!(t, "No counterfactual head: {why}.");
            }
            _ => {}
        }
        let _ = writeln!(t, "Observational: patients were not randomised to these options; weighting balances what the record shows at the decision, not what it does not.");
        t
    }
}

/// A head figure in words: a DAS28 with its 95% range, or a probability with the
/// observed rate of held-out patients given a similar one.
pub fn head_figure_text(outcome: OptionOutcome, f: &HeadFigure) -> String {
    match (outcome.is_rate(), f.interval) {
        (true, Some(i)) => format!(
            "{:.0}%; of {} held-out patients given a similar figure {:.0}% ({:.0}-{:.0}%)",
            100.0 * f.value,
            f.n,
            100.0 * f.observed.unwrap_or(f.value),
            100.0 * i.low,
            100.0 * i.high
        ),
        (true, None) => format!("{:.0}%", 100.0 * f.value),
        (false, Some(i)) => format!("{:.1} (95% of held-out patients within {:.1}-{:.1})", f.value, i.low, i.high),
        (false, None) => format!("{:.1}", f.value),
    }
}

/// What the audit records of a comparison: per option, the neighbours who took it in
/// the neighbourhood its figures were read from. Never part of the report's JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptionsAudit {
    pub per_option: Vec<(TreatmentOption, Vec<NeighbourRef>)>,
}

/// The models a comparison reads beside the neighbours: the disease-state model, and
/// the counterfactual head with its version (or why there is none).
#[derive(Clone, Copy)]
pub struct OptionModels<'a> {
    pub state: Option<&'a StateModel>,
    pub head: Result<(&'a OptionHead, &'a str), &'a str>,
}

/// The comparison for `patient` (time-ordered `events`) at the end of `at` (its last
/// event when `None`).
#[allow(clippy::too_many_arguments)]
pub async fn compare_options(
    sources: CohortSources<'_>,
    population: &OptionsPopulation,
    patient: &PatientId,
    events: &[Event],
    at: Option<NaiveDate>,
    query: &OptionsQuery,
    models: OptionModels<'_>,
    note_vector: &(dyn Fn(&str) -> Option<Vec<f32>> + Sync),
    excluded: &(dyn Fn(&PatientId) -> bool + Sync),
) -> Result<(OptionsReport, OptionsAudit), CohortError> {
    let (index_time, vector) = index_twin(sources.model, sources.index, patient, events, at, note_vector)?;
    let k = query.steps.iter().copied().max().unwrap_or(K_STEPS[K_STEPS.len() - 1]);
    let options = QueryOptions { k, min_n: query.min_n, min_follow_up_days: query.min_follow_up_days };
    let neighbours = nearest_historical(sources.index, vector, patient, &options, excluded).await?;
    let record = ClinicalRecord::read(events);
    let date = index_time.date_naive();
    let current = record.courses.iter().filter(|c| c.is_dmard() && c.ongoing_on(date)).map(|c| c.name()).collect();
    let (mut report, audit) = options_from_neighbours(&neighbours, population, date, current, query);
    if let Some(model) = models.state {
        add_state_outlooks(&mut report, model, events, Some(date));
    }
    match models.head {
        Ok((head, version)) => add_head_figures(&mut report, head, version, &record, events, date),
        Err(why) => report.head_unavailable = Some(why.to_owned()),
    }
    Ok((report, audit))
}

/// The comparison over neighbours already found (nearest first).
pub fn options_from_neighbours(
    neighbours: &[NeighbourRef],
    population: &OptionsPopulation,
    index_date: NaiveDate,
    current_treatment: Vec<String>,
    query: &OptionsQuery,
) -> (OptionsReport, OptionsAudit) {
    // Each neighbour with a decision, with its position in the search's order.
    let units: Vec<Unit> = neighbours
        .iter()
        .enumerate()
        .filter_map(|(i, n)| population.unit(&n.patient, n.index_time).map(|u| (i, n, u)))
        .collect();
    let mut audit = OptionsAudit::default();
    let mut options = Vec::new();
    for option in TreatmentOption::ALL {
        let (comparison, takers) = compare_one(option, &units, population, query);
        audit.per_option.push((option, takers));
        options.push(comparison);
    }
    let report = OptionsReport {
        index_date,
        min_n: query.min_n,
        current_treatment,
        options,
        head_version: None,
        head_unavailable: None,
    };
    (report, audit)
}

/// A neighbour's decision: its position in the search's order, the neighbour, the unit.
type Unit<'a> = (usize, &'a NeighbourRef, &'a DecisionUnit);

/// Each patient's first unit among `units` (nearest first) that `keep` accepts.
fn first_per_patient<'a>(units: &[Unit<'a>], keep: impl Fn(&DecisionUnit) -> bool) -> Vec<Unit<'a>> {
    let mut seen: std::collections::HashSet<&PatientId> = std::collections::HashSet::new();
    units.iter().filter(|(_, _, u)| keep(u)).filter(|(_, n, _)| seen.insert(&n.patient)).copied().collect()
}

fn compare_one(
    option: TreatmentOption,
    units: &[Unit],
    population: &OptionsPopulation,
    query: &OptionsQuery,
) -> (OptionComparison, Vec<NeighbourRef>) {
    // Widen until the option has min_n patients (or the largest step is reached).
    let mut widening = Vec::new();
    let mut chosen = 0;
    for &k in &query.steps {
        let within = units.partition_point(|(i, _, _)| *i < k);
        let takers = first_per_patient(&units[..within], |u| u.option == option).len();
        widening.push(WideningStep { k, patients: takers });
        chosen = within;
        if takers >= query.min_n {
            break;
        }
    }
    let k = widening.last().map_or(0, |s| s.k);
    let window = &units[..chosen];
    let takers = first_per_patient(window, |u| u.option == option);
    let taker_ids: std::collections::HashSet<&PatientId> = takers.iter().map(|(_, n, _)| &n.patient).collect();
    let others = first_per_patient(window, |u| !taker_ids.contains(&u.patient));
    let enough = takers.len() >= query.min_n;

    // The propensity model over the neighbourhood's patients (each once).
    let rows: Vec<(&[f64], bool)> = takers
        .iter()
        .map(|(_, _, u)| (u.covariates.as_slice(), true))
        .chain(others.iter().map(|(_, _, u)| (u.covariates.as_slice(), false)))
        .collect();
    // Everyone in the neighbourhood took it: nothing to adjust for, equal weights.
    let weights = match (enough, others.is_empty()) {
        (false, _) => None,
        (true, true) => Some(vec![1.0; takers.len()]),
        (true, false) => takers_weights(&rows, query.propensity_l2),
    };
    let effective_n = weights.as_ref().map(|w| crate::cohort::stats::weight_totals(w.iter().copied()).1);
    let balance = COVARIATE_NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let of_takers: Vec<f64> = takers.iter().map(|(_, _, u)| u.covariates[i]).collect();
            let all: Vec<f64> = rows.iter().map(|(c, _)| c[i]).collect();
            Balance {
                covariate: (*name).to_owned(),
                before: if all.is_empty() { 0.0 } else { standardised_difference(&of_takers, None, &all) },
                after: weights.as_deref().map(|w| standardised_difference(&of_takers, Some(w), &all)),
            }
        })
        .collect();

    let min_n = query.min_n;
    let rows = OptionOutcome::ALL
        .into_iter()
        .map(|outcome| {
            let seen: Vec<(f64, f64)> = takers
                .iter()
                .enumerate()
                .filter_map(|(i, (_, _, u))| {
                    let w = weights.as_ref().map_or(1.0, |w| w[i]);
                    u.outcomes.get(outcome).map(|v| (v, w))
                })
                .collect();
            let values: Vec<f64> = seen.iter().map(|(v, _)| *v).collect();
            let unadjusted = if enough { estimate_values(outcome.is_rate(), &values, min_n) } else { refuse(values.len(), min_n) };
            let adjusted = match (&weights, enough) {
                (Some(_), true) => weighted(outcome, &seen, min_n),
                _ => refuse(values.len(), min_n),
            };
            let pop: Vec<f64> = population.outcomes_of(option).iter().filter_map(|o: &OptionOutcomes| o.get(outcome)).collect();
            OptionRow {
                outcome,
                label: outcome.label().to_owned(),
                unadjusted,
                adjusted,
                population: estimate_values(outcome.is_rate(), &pop, min_n),
            }
        })
        .collect();
    let audit = takers.iter().map(|(_, n, _)| (*n).clone()).collect();
    let comparison = OptionComparison {
        option,
        label: option.label().to_owned(),
        k,
        patients: takers.len(),
        widening,
        enough,
        effective_n,
        rows,
        balance,
        state_model: None,
        head: vec![],
    };
    (comparison, audit)
}

fn refuse(n: usize, min_n: usize) -> Estimate {
    Estimate::NotEnoughComparablePatients { n, min_n }
}

fn weighted(outcome: OptionOutcome, seen: &[(f64, f64)], min_n: usize) -> Estimate {
    if outcome.is_rate() {
        let values: Vec<(bool, f64)> = seen.iter().map(|(v, w)| (*v > 0.5, *w)).collect();
        Estimate::weighted_rate(&values, min_n)
    } else {
        Estimate::weighted_mean_within(seen, min_n, Scale::Das28.range())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::population::Population;
    use crate::cohort::testutil::{das28, drug, Journey};
    use chrono::{DateTime, Duration, Utc};
    use journey::clinical::drugs::METHOTREXATE;

    const ADALIMUMAB: &str = "327361";

    /// Each option's state-model outlook is read under its class, inside 0-1 with its
    /// interval around it; no recent DAS28, no outlook.
    #[test]
    fn state_outlooks_follow_each_options_class() {
        use crate::state::{patient_steps, StateModel, StateModelConfig};
        assert_eq!(option_treatment(TreatmentOption::CsdmardCombination, Treatment::TnfInhibitor), Treatment::TnfInhibitor);
        assert_eq!(option_treatment(TreatmentOption::Methotrexate, Treatment::None), Treatment::Csdmard);
        assert_eq!(option_treatment(TreatmentOption::Abatacept, Treatment::Csdmard), Treatment::OtherAdvanced);
        let journeys: Vec<Vec<Event>> = (0..30)
            .map(|i| {
                let mut parts = vec![das28(0, 6.0), drug(0, None, METHOTREXATE), das28(90, 4.0 + (i % 3) as f64), das28(180, 3.0)];
                if i % 2 == 0 {
                    parts.extend([drug(180, None, ADALIMUMAB), das28(270, 2.4), das28(360, 2.2)]);
                }
                Journey::new(parts).events
            })
            .collect();
        let config = StateModelConfig { resamples: 20, ..Default::default() };
        let steps: Vec<_> =
            journeys.iter().enumerate().map(|(i, e)| patient_steps(PatientId::new(format!("s{i}")).unwrap(), e, config.step_days)).collect();
        let model = StateModel::fit(&steps, config);
        let (population, neighbours) = population();
        let options = OptionsPopulation::build(&population);
        let date = population.snapshots()[0].index_time.date_naive();
        let query = OptionsQuery { min_n: 20, steps: vec![60], min_follow_up_days: 0, ..OptionsQuery::default() };
        let (mut report, _) = options_from_neighbours(&neighbours, &options, date, vec![], &query);
        let events = &journeys[1];
        add_state_outlooks(&mut report, &model, events, Some(date));
        for o in &report.options {
            let s = o.state_model.expect("a recent DAS28: an outlook");
            assert!(0.0 <= s.low && s.low <= s.share && s.share <= s.high && s.high <= 1.0, "{s:?}");
            assert_eq!(s.treatment, option_treatment(o.option, Treatment::Csdmard));
        }
        let mut stale = report.clone();
        stale.options.iter_mut().for_each(|o| o.state_model = None);
        add_state_outlooks(&mut stale, &model, events, Some(date + Duration::days(400)));
        assert!(stale.options.iter().all(|o| o.state_model.is_none()), "the latest DAS28 is over 180 days old");
    }

    /// 60 patients on methotrexate, decided at day 100: the 30 with active disease
    /// (DAS28 5.6) started adalimumab and reached 2.9; the 30 in low activity (3.0)
    /// kept methotrexate and stayed there.
    fn population() -> (Population, Vec<NeighbourRef>) {
        let journeys: Vec<(PatientId, Vec<Event>)> = (0..60)
            .map(|i| {
                let id = PatientId::new(format!("p{i:02}")).unwrap();
                let active = i % 2 == 0;
                let mut parts = vec![das28(0, 6.0), drug(0, None, METHOTREXATE), das28(400, 3.0)];
                if active {
                    parts.extend([das28(100, 5.6), drug(100, None, ADALIMUMAB), das28(282, 2.9)]);
                } else {
                    parts.extend([das28(100, 3.0), das28(282, 3.1)]);
                }
                let mut events = Journey::new(parts).events;
                for e in &mut events {
                    e.patient = id.clone();
                }
                (id, events)
            })
            .collect();
        let decision = |events: &[Event]| vec![crate::cohort::query::end_of_day(events[0].time.date_naive() + Duration::days(100))];
        let population = Population::build(journeys.iter().map(|(p, e)| (p, e.as_slice())), &decision);
        let time: DateTime<Utc> = population.snapshots()[0].index_time;
        let neighbours = journeys
            .iter()
            .enumerate()
            .map(|(i, (p, _))| NeighbourRef { patient: p.clone(), index_time: time, distance: i as f32 })
            .collect();
        (population, neighbours)
    }

    #[test]
    fn options_widen_until_enough_patients_and_refuse_below() {
        let (population, neighbours) = population();
        let options = OptionsPopulation::build(&population);
        assert_eq!(options.len(), 60);
        let query = OptionsQuery { min_n: 20, steps: vec![10, 40, 60], min_follow_up_days: 0, ..OptionsQuery::default() };
        let date = population.snapshots()[0].index_time.date_naive();
        let (report, audit) = options_from_neighbours(&neighbours, &options, date, vec!["methotrexate".into()], &query);

        let tnfi = report.option(TreatmentOption::TnfInhibitor).unwrap();
        // 5 of the 10 nearest, 20 of the 40 nearest took it: widened once.
        assert_eq!(tnfi.widening, vec![WideningStep { k: 10, patients: 5 }, WideningStep { k: 40, patients: 20 }]);
        assert!(tnfi.enough && tnfi.patients == 20 && tnfi.k == 40);
        let response = tnfi.row(OptionOutcome::Response6m).unwrap();
        assert!(matches!(response.unadjusted, Estimate::Rate { n: 20, events: 20, .. }), "{:?}", response.unadjusted);
        assert!(matches!(response.population, Estimate::Rate { n: 30, events: 30, .. }));
        // Who got it differs in DAS28: the balance table shows it.
        let das = &tnfi.balance[0];
        assert_eq!(das.covariate, "DAS28");
        assert!(das.before > 0.5, "{das:?}");
        let das150 = tnfi.row(OptionOutcome::Das28Day150).unwrap();
        let (low, high) = das150.unadjusted.interval().map(|i| (i.low, i.high)).unwrap();
        assert!((0.0..=10.0).contains(&low) && (0.0..=10.0).contains(&high));

        let kept = report.option(TreatmentOption::Continue).unwrap();
        assert!(kept.enough && kept.patients == 20);
        // 3.0 -> 3.1: no EULAR response; the TNF inhibitor is the best by response.
        assert!(matches!(kept.row(OptionOutcome::Response6m).unwrap().unadjusted, Estimate::Rate { events: 0, .. }));
        assert_eq!(report.best_by(OptionOutcome::Response6m, |r| &r.unadjusted), Some(TreatmentOption::TnfInhibitor));

        // Nobody took rituximab: widened to the end, no figure anywhere.
        let rtx = report.option(TreatmentOption::Rituximab).unwrap();
        assert!(!rtx.enough && rtx.patients == 0 && rtx.k == 60);
        assert_eq!(rtx.widening.len(), 3);
        for row in &rtx.rows {
            assert_eq!(row.unadjusted, Estimate::NotEnoughComparablePatients { n: 0, min_n: 20 });
            assert_eq!(row.adjusted, Estimate::NotEnoughComparablePatients { n: 0, min_n: 20 });
            assert!(row.unadjusted.value().is_none() && row.population.value().is_none());
        }
        // The audit names the 20 takers of the TNF inhibitor, none of rituximab.
        let named = |o| audit.per_option.iter().find(|(p, _)| *p == o).map(|(_, n)| n.len());
        assert_eq!((named(TreatmentOption::TnfInhibitor), named(TreatmentOption::Rituximab)), (Some(20), Some(0)));
        assert!(!serde_json::to_string(&report).unwrap().contains("\"p0"), "no neighbour id in the report");
    }
}
