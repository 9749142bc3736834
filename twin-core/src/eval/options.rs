//! Treatment options against counterfactual truth (`rdt eval options`): only a
//! simulator can say what would have happened to the same patient on another option,
//! so the virtual cohort writes it (`counterfactuals.ldjson` from `rdt synth`: per
//! rheumatoid arthritis patient, its decision visit and the outcomes under every
//! option). Each held-out patient's options are compared at that visit (its record up
//! to the visit, the decision taken there left out) and each estimator is scored:
//!
//! - **response rate**: per option, the estimated EULAR response rate against the
//!   patient's realised counterfactual response (Brier) and against its true response
//!   probability (mean absolute error), over the cases where the option has a figure;
//! - **DAS28 at day 270**: absolute error against the latent counterfactual DAS28;
//! - **ranking**: how often the option an estimator ranks best (highest response) is
//!   truly best (highest true response probability; ties count as best), and the
//!   regret (true probability of the best minus that of the one picked), over the same
//!   options for every estimator (those with a neighbourhood figure and a truth).
//!
//! Estimators: the neighbours weighted for who got the option, the neighbours as they
//! were, the population's rate per option, and (in the ranking only) the disease-state
//! model's chance of remission or low activity under the option's treatment class. Neighbours and the population come from
//! the train part of the frozen split only (`super::split`); the scored part is
//! `tuning` while choosing, `test` for the report.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::split::Part;
use super::{EvalError, EvalReport};
use crate::cohort::population::Population;
use crate::cohort::query::{index_twin, nearest_historical, QueryOptions};
use crate::cohort::report::NeighbourRef;
use crate::index::build::{historical_times, SnapshotPlan};
use crate::index::NeighbourIndex;
use crate::options::{
    add_state_outlooks, options_from_neighbours, OptionComparison, OptionsPopulation, OptionsQuery, OptionsReport,
};
use crate::cohort::record::ClinicalRecord;
use crate::options::head::{record_features, OptionHead};
use crate::state::{patient_steps, StateModel, StateModelConfig};
use crate::progress::Progress;
use crate::twin::TwinModel;
use journey::clinical::{EularResponse, OptionOutcome, TreatmentOption};
use journey::event::{Event, Modality, PatientId};

/// What `rdt eval options` asks.
#[derive(Debug, Clone)]
pub struct OptionsEvalOptions {
    /// `counterfactuals.ldjson` from `rdt synth`.
    pub truth: PathBuf,
    pub scored: Part,
    pub max_cases: Option<usize>,
    pub query: OptionsQuery,
}

/// One option's outcomes under the simulator (the fields the evaluation reads).
#[derive(Debug, Clone, Deserialize)]
struct TrueOutcomes {
    response_6m: Option<EularResponse>,
    das28_latent_270: Option<f64>,
    response_probability: f64,
}

/// One line of the counterfactual file.
#[derive(Debug, Clone, Deserialize)]
struct TruthLine {
    patient_id: String,
    decision_date: NaiveDate,
    options: BTreeMap<String, TrueOutcomes>,
}

fn read_truth(path: &Path) -> Result<HashMap<String, TruthLine>, EvalError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EvalError::Truth { path: path.to_owned(), message: format!("reading it: {e}") })?;
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let t: TruthLine = serde_json::from_str(line)
            .map_err(|e| EvalError::Truth { path: path.to_owned(), message: format!("line {}: {e}", n + 1) })?;
        for key in t.options.keys() {
            if key.parse::<TreatmentOption>().is_err() {
                return Err(EvalError::Truth { path: path.to_owned(), message: format!("line {}: unknown option `{key}`", n + 1) });
            }
        }
        out.insert(t.patient_id.clone(), t);
    }
    Ok(out)
}

/// The estimators scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    WeightedNeighbours,
    Neighbours,
    Population,
    /// The disease-state model's chance of remission or low activity at day 150 under
    /// the option's class: a different quantity from a response rate, so it is scored
    /// in the ranking only.
    StateModel,
    /// The counterfactual head: boosted trees with the option as an input.
    OptionHead,
}

impl Estimator {
    /// The first is what RDT shows first (protocol version 2: the counterfactual
    /// head, chosen on seed 19's tuning part); the paired differences are against it.
    pub const ALL: [Estimator; 5] = [
        Estimator::OptionHead,
        Estimator::WeightedNeighbours,
        Estimator::Neighbours,
        Estimator::Population,
        Estimator::StateModel,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Estimator::WeightedNeighbours => "similar patients, weighted for who got it",
            Estimator::Neighbours => "similar patients, as they were",
            Estimator::Population => "population rate per option",
            Estimator::StateModel => "state model: remission or low at day 150 under the option's class (ranking only)",
            Estimator::OptionHead => "counterfactual head (boosted trees, the option as an input)",
        }
    }

    /// Whether the estimator's figure is a response rate (scored per option too).
    fn is_response_rate(self) -> bool {
        self != Estimator::StateModel
    }

    /// The estimator's figure for `outcome` of an option (`head`: the counterfactual
    /// head's DAS28 at day 270 and response probability for it).
    fn value(self, option: &OptionComparison, outcome: OptionOutcome, head: Option<(f64, Option<f64>)>) -> Option<f64> {
        let row = option.row(outcome);
        match self {
            Estimator::WeightedNeighbours => row?.adjusted.value(),
            Estimator::Neighbours => row?.unadjusted.value(),
            Estimator::Population => row?.population.value(),
            Estimator::StateModel => (outcome == OptionOutcome::Response6m).then_some(option.state_model?.share),
            Estimator::OptionHead => match outcome {
                OptionOutcome::Das28Day270 => head.map(|h| h.0),
                OptionOutcome::Response6m => head.and_then(|h| h.1),
                _ => None,
            },
        }
    }
}

/// One scored case: per option with a truth, each estimator's response rate and DAS28
/// at day 270 (`None` without a figure) and the truth.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionCase {
    pub option: TreatmentOption,
    /// Whether the option had `min_n` neighbours (the ranking's choice set).
    pub enough: bool,
    pub response: Vec<Option<f64>>,
    pub das28_270: Vec<Option<f64>>,
    pub true_responded: Option<bool>,
    pub true_probability: f64,
    pub true_das28_270: Option<f64>,
    /// The head's 95% interval for DAS28 at day 270 as the product shows it.
    #[serde(default)]
    pub head_das28_interval: Option<[f64; 2]>,
}

/// One estimator's scores on one option.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionScore {
    pub estimator: Estimator,
    /// Cases with a figure and a realised response.
    pub n: usize,
    pub brier: Option<f64>,
    /// Mean |estimate - true response probability| over cases with a figure.
    pub probability_mae: Option<f64>,
    pub mean_estimate: Option<f64>,
    pub das28_270_mae: Option<f64>,
    pub das28_270_n: usize,
}

/// The ranking scores of one estimator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankingScore {
    pub estimator: Estimator,
    /// Cases with at least two options to choose from.
    pub cases: usize,
    pub top_is_best: Option<f64>,
    /// 95% bootstrap interval of `top_is_best`.
    pub top_is_best_interval: Option<[f64; 2]>,
    pub mean_regret: Option<f64>,
}

/// The first-shown estimator against another on the same cases: the difference in
/// "top option truly best" (positive: the first-shown is better) and in regret
/// (positive: the first-shown has less), with paired 95% bootstrap intervals.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairedRanking {
    pub against: Estimator,
    pub top_is_best_difference: Option<f64>,
    pub top_is_best_interval: Option<[f64; 2]>,
    pub regret_difference: Option<f64>,
    pub regret_interval: Option<[f64; 2]>,
}

/// One option over the cases: the truth's mean response probability and realised
/// rate, and each response-rate estimator's scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionSummary {
    pub option: TreatmentOption,
    pub cases: usize,
    pub true_probability: f64,
    pub realised: Option<f64>,
    pub scores: Vec<OptionScore>,
    /// Cases where the head showed a DAS28 interval, and the share of them holding
    /// the latent counterfactual DAS28 at day 270.
    #[serde(default)]
    pub head_interval_cases: usize,
    #[serde(default)]
    pub head_interval_coverage: Option<f64>,
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptionsEvaluation {
    pub scored: Part,
    pub cases: usize,
    pub skipped_no_events: usize,
    pub min_n: usize,
    pub per_option: Vec<OptionSummary>,
    /// By DAS28 at day 270 (the protocol's primary), then by response.
    pub rankings: Vec<Ranking>,
}

/// One ranking criterion's scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ranking {
    /// What "truly best" means here.
    pub by: String,
    pub scores: Vec<RankingScore>,
    /// The first-shown estimator against each other estimator.
    pub paired: Vec<PairedRanking>,
    /// Cases where the first-shown estimator and the population pick different options.
    pub disagreements: usize,
}

/// The query patient's record as it stood when deciding at the visit on `date`:
/// everything up to the end of that day except the treatment changes made that day.
pub fn decision_view(events: &[Event], date: NaiveDate) -> Vec<Event> {
    let end = crate::cohort::query::end_of_day(date);
    events
        .iter()
        .filter(|e| e.time <= end && !(e.modality == Modality::Medication && e.time.date_naive() == date))
        .cloned()
        .collect()
}

/// Scores the options comparison of every scored patient with a counterfactual truth.
pub async fn evaluate_options(
    model: &TwinModel,
    index: &NeighbourIndex,
    journeys: &[(PatientId, Vec<Event>)],
    options: &OptionsEvalOptions,
    progress: &dyn Progress,
) -> Result<EvalReport, EvalError> {
    let truth = read_truth(&options.truth)?;
    let train = |p: &PatientId| Part::of(p) == Part::Train;
    let population =
        Population::build(journeys.iter().filter(|(p, _)| train(p)).map(|(p, e)| (p, e.as_slice())), &historical_times);
    let decisions = OptionsPopulation::build(&population);
    let config = StateModelConfig::default();
    let steps: Vec<_> = journeys
        .iter()
        .filter(|(p, _)| train(p))
        .map(|(p, e)| patient_steps(p.clone(), e, config.step_days))
        .collect();
    let state = StateModel::fit(&steps, config);
    // The head as an install fits it at `rdt embed` (train part, measured on tuning).
    let head = OptionHead::fit_install(journeys, &SnapshotPlan::default())
        .map_err(|e| EvalError::Cohort(crate::cohort::query::CohortError::Baseline(e.to_string())))?
        .ok_or_else(|| {
            EvalError::Cohort(crate::cohort::query::CohortError::Baseline(
                "too few train-part decisions for the option head".to_owned(),
            ))
        })?;
    let scored: Vec<(&PatientId, &Vec<Event>, &TruthLine)> = journeys
        .iter()
        .filter(|(p, _)| Part::of(p) == options.scored)
        .filter_map(|(p, e)| truth.get(p.as_str()).map(|t| (p, e, t)))
        .take(options.max_cases.unwrap_or(usize::MAX))
        .collect();
    progress.stage("options eval", scored.len() as u64);
    let k = options.query.steps.iter().copied().max().unwrap_or(1600);
    let query = QueryOptions { k, min_n: options.query.min_n, min_follow_up_days: options.query.min_follow_up_days };
    let mut cases: Vec<Vec<OptionCase>> = Vec::new();
    let mut skipped = 0;
    for (patient, events, t) in scored {
        progress.advance(1);
        let view = decision_view(events, t.decision_date);
        let twin = index_twin(model, index, patient, &view, Some(t.decision_date), &|_| None);
        let (_, vector) = match twin {
            Ok(v) => v,
            Err(crate::cohort::query::CohortError::NoEvents(..)) => {
                skipped += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let neighbours: Vec<NeighbourRef> = nearest_historical(index, vector, patient, &query, &|p| !train(p)).await?;
        let (mut report, _) = options_from_neighbours(&neighbours, &decisions, t.decision_date, vec![], &options.query);
        add_state_outlooks(&mut report, &state, &view, Some(t.decision_date));
        let record = ClinicalRecord::read(&view);
        let at = crate::cohort::query::end_of_day(t.decision_date);
        let features = record_features(&record, &view, at);
        let asked = |option| {
            let value = head.ask(&features, option);
            let interval = head
                .figures(value, option)
                .into_iter()
                .find(|f| f.outcome == OptionOutcome::Das28Day270)
                .and_then(|f| f.figure?.interval)
                .map(|i| [i.low, i.high]);
            (value, interval)
        };
        cases.push(case_of(&report, t, &asked));
    }
    progress.done();
    let evaluation = summarise(&cases, options.scored, skipped, options.query.min_n);
    let mut json = serde_json::to_value(&evaluation).expect("an options evaluation serialises");
    json["option_head_version"] = serde_json::json!(head.version().to_hex());
    Ok(EvalReport { json, markdown: markdown(&evaluation), figures: vec![] })
}

/// The head's answer for an option: its DAS28 at day 270 and response probability,
/// and the 95% DAS28 interval it shows.
type HeadAnswer = (Option<(f64, Option<f64>)>, Option<[f64; 2]>);

fn case_of(report: &OptionsReport, truth: &TruthLine, head: &dyn Fn(TreatmentOption) -> HeadAnswer) -> Vec<OptionCase> {
    report
        .options
        .iter()
        .filter_map(|o| {
            let t = truth.options.get(o.option.key())?;
            let (h, interval) = head(o.option);
            Some(OptionCase {
                option: o.option,
                enough: o.enough,
                response: Estimator::ALL.iter().map(|e| e.value(o, OptionOutcome::Response6m, h)).collect(),
                das28_270: Estimator::ALL.iter().map(|e| e.value(o, OptionOutcome::Das28Day270, h)).collect(),
                true_responded: t.response_6m.map(|r| r.responded()),
                true_probability: t.response_probability,
                true_das28_270: t.das28_latent_270,
                head_das28_interval: interval,
            })
        })
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn summarise(cases: &[Vec<OptionCase>], scored: Part, skipped: usize, min_n: usize) -> OptionsEvaluation {
    let mut per_option = Vec::new();
    for option in TreatmentOption::ALL {
        let of: Vec<&OptionCase> = cases.iter().flatten().filter(|c| c.option == option).collect();
        if of.is_empty() {
            continue;
        }
        let true_probability = mean(of.iter().map(|c| c.true_probability)).unwrap_or(0.0);
        let realised = mean(of.iter().filter_map(|c| c.true_responded.map(|r| if r { 1.0 } else { 0.0 })));
        let scores = Estimator::ALL
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_response_rate())
            .map(|(i, e)| {
                let with: Vec<&&OptionCase> = of.iter().filter(|c| c.response[i].is_some()).collect();
                let brier_terms: Vec<f64> = with
                    .iter()
                    .filter_map(|c| c.true_responded.map(|r| (c.response[i].unwrap_or(0.0) - if r { 1.0 } else { 0.0 }).powi(2)))
                    .collect();
                let das: Vec<f64> =
                    of.iter().filter_map(|c| Some((c.das28_270[i]? - c.true_das28_270?).abs())).collect();
                OptionScore {
                    estimator: *e,
                    n: brier_terms.len(),
                    brier: mean(brier_terms.iter().copied()),
                    probability_mae: mean(with.iter().map(|c| (c.response[i].unwrap_or(0.0) - c.true_probability).abs())),
                    mean_estimate: mean(with.iter().filter_map(|c| c.response[i])),
                    das28_270_mae: mean(das.iter().copied()),
                    das28_270_n: das.len(),
                }
            })
            .collect();
        let covered: Vec<f64> = of
            .iter()
            .filter_map(|c| {
                let [lo, hi] = c.head_das28_interval?;
                let truth = c.true_das28_270?;
                Some(if (lo..=hi).contains(&truth) { 1.0 } else { 0.0 })
            })
            .collect();
        per_option.push(OptionSummary {
            option,
            cases: of.len(),
            true_probability,
            realised,
            scores,
            head_interval_cases: covered.len(),
            head_interval_coverage: mean(covered.iter().copied()),
        });
    }

    // Two rankings over the same choice set for every estimator (options with a
    // neighbourhood figure and, from each estimator, a figure to rank by).
    let by_das28 = rank(
        cases,
        "lowest DAS28 at day 270 (the latent counterfactual)",
        // The state model ranks by its chance of remission or low activity.
        &|c, i| if Estimator::ALL[i] == Estimator::StateModel { c.response[i] } else { c.das28_270[i].map(|v| -v) },
        &|c| c.true_das28_270.map(|v| -v),
    );
    let by_response = rank(
        cases,
        "highest true response probability",
        &|c, i| c.response[i],
        &|c| Some(c.true_probability),
    );
    OptionsEvaluation {
        scored,
        cases: cases.len(),
        skipped_no_events: skipped,
        min_n,
        per_option,
        rankings: vec![by_das28, by_response],
    }
}

/// One ranking: per case, the option each estimator scores highest among the options
/// every estimator scores (and the truth knows), against the truly best by `truth`
/// (higher is better; an exact tie counts as best).
fn rank(
    cases: &[Vec<OptionCase>],
    by: &str,
    score: &dyn Fn(&OptionCase, usize) -> Option<f64>,
    truth: &dyn Fn(&OptionCase) -> Option<f64>,
) -> Ranking {
    let n_est = Estimator::ALL.len();
    let picks: Vec<Vec<(f64, f64, TreatmentOption)>> = cases
        .iter()
        .filter_map(|case| {
            let set: Vec<&OptionCase> = case
                .iter()
                .filter(|c| c.enough && truth(c).is_some() && (0..n_est).all(|i| score(c, i).is_some()))
                .collect();
            (set.len() >= 2).then(|| {
                let best = set.iter().filter_map(|c| truth(c)).fold(f64::NEG_INFINITY, f64::max);
                (0..n_est)
                    .map(|i| {
                        let top = set
                            .iter()
                            .max_by(|a, b| score(a, i).unwrap_or(f64::MIN).total_cmp(&score(b, i).unwrap_or(f64::MIN)))
                            .expect("two options");
                        let got = truth(top).unwrap_or(f64::NEG_INFINITY);
                        (if got >= best - 1e-9 { 1.0 } else { 0.0 }, best - got, top.option)
                    })
                    .collect()
            })
        })
        .collect();
    let scores = Estimator::ALL
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let hits: Vec<f64> = picks.iter().map(|p| p[i].0).collect();
            RankingScore {
                estimator: *e,
                cases: picks.len(),
                top_is_best: mean(hits.iter().copied()),
                top_is_best_interval: bootstrap_mean(&hits),
                mean_regret: mean(picks.iter().map(|p| p[i].1)),
            }
        })
        .collect();
    let paired = (1..n_est)
        .map(|j| {
            let hits: Vec<f64> = picks.iter().map(|p| p[0].0 - p[j].0).collect();
            let regrets: Vec<f64> = picks.iter().map(|p| p[j].1 - p[0].1).collect();
            PairedRanking {
                against: Estimator::ALL[j],
                top_is_best_difference: mean(hits.iter().copied()),
                top_is_best_interval: bootstrap_mean(&hits),
                regret_difference: mean(regrets.iter().copied()),
                regret_interval: bootstrap_mean(&regrets),
            }
        })
        .collect();
    let population = Estimator::ALL.iter().position(|e| *e == Estimator::Population).expect("the population is scored");
    let disagreements = picks.iter().filter(|p| p[0].2 != p[population].2).count();
    Ranking { by: by.to_owned(), scores, paired, disagreements }
}

/// 95% percentile bootstrap interval of a mean (1,000 seeded resamples).
fn bootstrap_mean(values: &[f64]) -> Option<[f64; 2]> {
    if values.len() < 2 {
        return None;
    }
    let mut rng = crate::encode::init::SplitMix64::new(20);
    let mut means: Vec<f64> = (0..1000)
        .map(|_| (0..values.len()).map(|_| values[rng.below(values.len())]).sum::<f64>() / values.len() as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    Some([means[25], means[974]])
}

fn markdown(e: &OptionsEvaluation) -> String {
    let mut s = String::new();
    let f = |v: Option<f64>, d: usize| v.map_or("-".to_owned(), |v| format!("{v:.d$}"));
    let _ = writeln!(s, "# Treatment options against counterfactual truth\n");
    let _ = writeln!(
        s,
        "Scored part: {}; {} patients at their decision visit ({} skipped without events); an option has a \
         neighbourhood figure with at least {} similar patients who started it.\n",
        e.scored.as_str(),
        e.cases,
        e.skipped_no_events,
        e.min_n
    );
    let _ = writeln!(s, "## Response at 6 months, per option\n");
    let _ = writeln!(
        s,
        "| option | cases | true response probability (mean) | realised | estimator | n with a figure | mean estimate | Brier | MAE vs true probability | DAS28 day 270 MAE (n) |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    for OptionSummary { option, cases: n, true_probability: p, realised, scores, .. } in &e.per_option {
        for (i, sc) in scores.iter().enumerate() {
            let head = if i == 0 {
                format!("| {} | {n} | {p:.3} | {} ", option.label(), f(*realised, 3))
            } else {
                "| | | | ".to_owned()
            };
            let _ = writeln!(
                s,
                "{head}| {} | {} | {} | {} | {} | {} ({}) |",
                sc.estimator.label(),
                sc.n,
                f(sc.mean_estimate, 3),
                f(sc.brier, 3),
                f(sc.probability_mae, 3),
                f(sc.das28_270_mae, 2),
                sc.das28_270_n
            );
        }
    }
    let _ = writeln!(s, "\n## The head's 95% interval of DAS28 at day 270 against the latent counterfactual\n");
    let _ = writeln!(s, "| option | cases with an interval | interval holds the truth |");
    let _ = writeln!(s, "|---|---|---|");
    for o in &e.per_option {
        let _ = writeln!(s, "| {} | {} | {} |", o.option.label(), o.head_interval_cases, f(o.head_interval_coverage, 3));
    }
    for r in &e.rankings {
        let _ = writeln!(s, "\n## Ranking: is the option ranked best truly best? (by {})\n", r.by);
        let _ = writeln!(s, "Over the options each patient's neighbourhood gives a figure for (the same set for every estimator); an exact tie counts as best. Regret: how much worse the picked option truly is than the best, in the criterion's unit.\n");
        let _ = writeln!(s, "| estimator | cases | top option truly best (95% CI) | mean regret |");
        let _ = writeln!(s, "|---|---|---|---|");
        for sc in &r.scores {
            let ci = sc.top_is_best_interval.map_or(String::new(), |[lo, hi]| format!(" ({lo:.3}-{hi:.3})"));
            let _ = writeln!(s, "| {} | {} | {}{ci} | {} |", sc.estimator.label(), sc.cases, f(sc.top_is_best, 3), f(sc.mean_regret, 3));
        }
        let _ = writeln!(s, "\nPaired, on the same cases (positive: {} is better):\n", Estimator::ALL[0].label());
        let _ = writeln!(s, "| against | top option truly best: difference (95% CI) | regret: difference (95% CI) |");
        let _ = writeln!(s, "|---|---|---|");
        for p in &r.paired {
            let ci = |i: Option<[f64; 2]>| i.map_or(String::new(), |[lo, hi]| format!(" ({lo:+.3} to {hi:+.3})"));
            let signed = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:+.3}"));
            let _ = writeln!(
                s,
                "| {} | {}{} | {}{} |",
                p.against.label(),
                signed(p.top_is_best_difference),
                ci(p.top_is_best_interval),
                signed(p.regret_difference),
                ci(p.regret_interval)
            );
        }
        let _ = writeln!(s, "\n{} and the population pick a different option in {} cases.", Estimator::ALL[0].label(), r.disagreements);
    }
    s
}

/// The options evaluation of an install (`rdt eval options`): its active twin and index,
/// every journey of `store`.
pub async fn run_options_evaluation(
    store: &journey::store::JourneyStore,
    data_dir: &Path,
    registry: &audit_log::ModelRegistry,
    index: &crate::index::IndexConfig,
    options: &OptionsEvalOptions,
    progress: &dyn Progress,
) -> Result<EvalReport, EvalError> {
    let started = std::time::Instant::now();
    let model = crate::twin::load_active(data_dir, registry).await?;
    let index = NeighbourIndex::open(index).await?;
    let journeys = crate::index::build::load_journeys(store, None, |_| {}).await?;
    let mut report = evaluate_options(&model, &index, &journeys, options, progress).await?;
    report.json["twin_version"] = serde_json::json!(model.version.to_hex());
    report.json["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case where the head, the weighted, the unweighted neighbours and the
    /// population give `estimates` (in [`Estimator::ALL`]'s order) and the state model
    /// ranks as the head does.
    fn case(option: TreatmentOption, estimates: [f64; 4], responded: bool, probability: f64) -> OptionCase {
        OptionCase {
            option,
            enough: true,
            response: estimates.iter().chain(&estimates[..1]).map(|e| Some(*e)).collect(),
            das28_270: vec![Some(3.0), Some(3.0), Some(3.5), None, None],
            true_responded: Some(responded),
            true_probability: probability,
            true_das28_270: Some(3.2),
            head_das28_interval: Some([2.0, 4.0]),
        }
    }

    /// By DAS28 at day 270: the head's lower DAS28 is truly lower, the weighted and
    /// unweighted neighbours and the population pick the other; regret in DAS28
    /// points; the head's interval coverage per option.
    #[test]
    fn the_das28_ranking_picks_the_lowest_estimate() {
        use TreatmentOption::{Continue, TnfInhibitor};
        let with = |option, das: [f64; 4], truth: f64, share: f64| OptionCase {
            das28_270: das.iter().map(|v| Some(*v)).chain([None]).collect(),
            true_das28_270: Some(truth),
            response: vec![Some(0.5), Some(0.5), Some(0.5), Some(0.5), Some(share)],
            head_das28_interval: Some([das[0] - 0.5, das[0] + 0.5]),
            ..case(option, [0.5; 4], true, 0.5)
        };
        let cases = vec![vec![with(Continue, [3.0, 3.0, 3.5, 3.1], 3.4, 0.6), with(TnfInhibitor, [2.5, 3.6, 3.6, 3.3], 2.6, 0.3)]];
        let e = summarise(&cases, Part::Tuning, 0, 20);
        let hits: Vec<Option<f64>> = e.rankings[0].scores.iter().map(|r| r.top_is_best).collect();
        assert_eq!(hits, vec![Some(1.0), Some(0.0), Some(0.0), Some(0.0), Some(0.0)]);
        let regret = e.rankings[0].scores[3].mean_regret.unwrap();
        assert!((regret - 0.8).abs() < 1e-12, "{regret}");
        let against_population = e.rankings[0].paired.iter().find(|p| p.against == Estimator::Population).unwrap();
        assert_eq!(against_population.top_is_best_difference, Some(1.0));
        // Continue: 3.4 lies within 2.5-3.5; TNF: 2.6 within 2.0-3.0.
        assert!(e.per_option.iter().all(|o| o.head_interval_cases == 1 && o.head_interval_coverage == Some(1.0)));
        assert!(markdown(&e).contains("| TNF inhibitor | 1 | 1.000 |"), "{}", markdown(&e));
    }

    /// Two patients, two options each: the head ranks the truly better option first
    /// both times, the population (the same figures for everyone) once.
    #[test]
    fn ranking_and_errors_are_scored_against_the_truth() {
        use TreatmentOption::{Continue, TnfInhibitor};
        let cases = vec![
            vec![case(Continue, [0.2, 0.2, 0.3, 0.5], false, 0.1), case(TnfInhibitor, [0.7, 0.7, 0.6, 0.6], true, 0.7)],
            vec![case(Continue, [0.8, 0.8, 0.7, 0.5], true, 0.95), case(TnfInhibitor, [0.6, 0.6, 0.5, 0.6], true, 0.7)],
        ];
        let e = summarise(&cases, Part::Tuning, 0, 20);
        let by_response = &e.rankings[1];
        let top = |est: Estimator| by_response.scores.iter().find(|r| r.estimator == est).unwrap().top_is_best.unwrap();
        assert_eq!(top(Estimator::OptionHead), 1.0);
        assert_eq!(top(Estimator::Population), 0.5);
        let regret = by_response.scores.iter().find(|r| r.estimator == Estimator::Population).unwrap().mean_regret.unwrap();
        assert!((regret - 0.125).abs() < 1e-12, "{regret}"); // (0 + 0.25) / 2
        assert_eq!(by_response.disagreements, 1);
        // No population DAS28 here: no case to rank by DAS28.
        assert_eq!(e.rankings[0].scores[0].cases, 0);
        let against_population = by_response.paired.iter().find(|p| p.against == Estimator::Population).unwrap();
        assert_eq!(against_population.top_is_best_difference, Some(0.5));
        assert!((against_population.regret_difference.unwrap() - 0.125).abs() < 1e-12);
        let kept = e.per_option.iter().find(|o| o.option == Continue).unwrap();
        assert_eq!((kept.cases, kept.realised), (2, Some(0.5)));
        assert!((kept.true_probability - 0.525).abs() < 1e-12);
        let (scores, weighted) = (&kept.scores, &kept.scores[1]);
        assert_eq!(weighted.estimator, Estimator::WeightedNeighbours);
        // Brier: ((0.2 - 0)^2 + (0.8 - 1)^2) / 2 = 0.04; MAE vs probability: (0.1 + 0.15) / 2.
        assert!((weighted.brier.unwrap() - 0.04).abs() < 1e-12);
        assert!((weighted.probability_mae.unwrap() - 0.125).abs() < 1e-12);
        assert!((weighted.das28_270_mae.unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(scores[3].das28_270_n, 0);
        assert!(markdown(&e).contains("| continue the current treatment | 2 |"));
    }

    /// The decision visit's treatment change is the decision: the query's view leaves
    /// it out, keeps the visit's readings, and stops at the end of that day.
    #[test]
    fn the_decision_view_leaves_out_that_days_treatment_changes() {
        use crate::cohort::testutil::{das28, drug, Journey};
        let j = Journey::new(vec![das28(0, 6.0), drug(0, None, "6851"), das28(90, 5.5), drug(90, None, "327361"), das28(200, 3.0)]);
        let date = j.events[0].time.date_naive() + chrono::Days::new(90);
        let view = decision_view(&j.events, date);
        assert_eq!(view.len(), 3, "{view:?}");
        assert!(view.iter().filter(|e| e.modality == Modality::Medication).all(|e| e.time.date_naive() < date));
        assert!(view.iter().any(|e| e.time.date_naive() == date));
    }
}
