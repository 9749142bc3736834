//! `similar_patients`: the in silico cohort of the open patient (DESIGN.md "In silico
//! cohort"): the k nearest historical patients by twin at an index date, and over
//! them each outcome's n, rate or mean and 95% interval (Wilson for rates, t for
//! means), beside the whole population's figure and the snapshot baseline; below the
//! minimum n an outcome says "not enough comparable patients", never a number.
//!
//! Neighbours appear as pseudonyms and distances. Their real ids leave this tool only
//! in [`Tool::cohort_record`], which the audit entry of the call holds.

use audit_log::{CohortRecord, Principal, Role};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use twin_core::cohort::{CohortReport, Estimate, Moment, Outcome, OutcomeRow, Pooled};
use twin_core::heads::{HeadFigure, ReliabilityBin, MIN_CALIBRATION_ROWS};
use journey::PatientId;

use crate::bounded::{Bounded, Trimmer};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::{said, Aspect, FactParts, Facts};
use crate::reading::OutcomeAsked;
use crate::record::PatientArg;
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::tool::Tool;
use crate::vocabulary::Vocabulary;

pub struct SimilarPatients;

/// Neighbours a query may ask for.
pub const MIN_K: usize = 5;
pub const MAX_K: usize = 50;
pub const DEFAULT_K: usize = 20;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarPatientsInput {
    pub patient: PatientArg,
    /// The index date (YYYY-MM-DD); omitted: the patient's last recorded day.
    #[serde(default)]
    pub at: Option<NaiveDate>,
    /// How many nearest historical patients (5 to 50; default 20).
    #[serde(default)]
    #[schemars(range(min = 5, max = 50))]
    pub k: Option<usize>,
}

/// An outcome's figure over a group: a share in percent, a mean DAS28, or none.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figure {
    /// `events` of `n` patients, in percent with its 95% Wilson interval (whole percents).
    Rate { n: usize, events: usize, percent: u32, low_percent: u32, high_percent: u32 },
    /// Mean DAS28 over `n` patients with its 95% t interval (2 decimals).
    Mean { n: usize, mean: f64, low: f64, high: f64 },
    /// The share with the event by the window's end by Kaplan-Meier, in percent with
    /// its 95% interval: `n` patients followed for any part of the window, `events`
    /// seen, `censored` followed for less than the window without one.
    KaplanMeier { n: usize, events: usize, censored: usize, percent: u32, low_percent: u32, high_percent: u32 },
    /// A share weighted for who got a treatment (inverse propensity), in percent with
    /// its 95% interval at the weights' effective sample size (1 decimal), over `n`.
    WeightedRate { n: usize, effective_n: f64, percent: u32, low_percent: u32, high_percent: u32 },
    /// A weighted mean DAS28 (2 decimals), likewise.
    WeightedMean { n: usize, effective_n: f64, mean: f64, low: f64, high: f64 },
    /// Fewer than `min_n` patients with data: no figure, by design.
    NotEnoughComparablePatients { n: usize, min_n: usize },
}

pub(crate) fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// A share in [0, 1] as a whole percent.
pub(crate) fn percent(share: f64) -> u32 {
    (100.0 * share.clamp(0.0, 1.0)).round() as u32
}

impl From<&Estimate> for Figure {
    fn from(e: &Estimate) -> Self {
        match e {
            Estimate::Rate { n, events, rate, ci } => Figure::Rate {
                n: *n,
                events: *events,
                percent: percent(*rate),
                low_percent: percent(ci.low),
                high_percent: percent(ci.high),
            },
            Estimate::Mean { n, mean, ci } => {
                Figure::Mean { n: *n, mean: round(*mean, 2), low: round(ci.low, 2), high: round(ci.high, 2) }
            }
            Estimate::KaplanMeier { n, events, censored, rate, ci } => Figure::KaplanMeier {
                n: *n,
                events: *events,
                censored: *censored,
                percent: percent(*rate),
                low_percent: percent(ci.low),
                high_percent: percent(ci.high),
            },
            Estimate::Weighted { n, effective_n, is_rate: true, value, ci } => Figure::WeightedRate {
                n: *n,
                effective_n: round(*effective_n, 1),
                percent: percent(*value),
                low_percent: percent(ci.low),
                high_percent: percent(ci.high),
            },
            Estimate::Weighted { n, effective_n, value, ci, .. } => Figure::WeightedMean {
                n: *n,
                effective_n: round(*effective_n, 1),
                mean: round(*value, 2),
                low: round(ci.low, 2),
                high: round(ci.high, 2),
            },
            Estimate::NotEnoughComparablePatients { n, min_n } => {
                Figure::NotEnoughComparablePatients { n: *n, min_n: *min_n }
            }
        }
    }
}

/// One outcome over the similar patients, the population and the snapshot baseline.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CohortOutcome {
    /// `mtx_response_6m`, `tnfi_response_6m`, `flare_6m`, `das28_day_150`/`270`/`360`,
    /// `switch_12m`.
    pub outcome: String,
    pub label: String,
    pub similar_patients: Figure,
    /// The similar patients' rate read as this patient's chance: their count pooled
    /// with the usual rate of this twin's neighbourhoods (empirical Bayes; a count of
    /// 20 alone is over-confident). Yes/no outcomes with enough patients only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooled: Option<PooledOut>,
    /// Why the similar patients' rate is not read as this patient's chance here: the
    /// pooled figure was not calibrated where its prior was measured (slope outside
    /// 0.8-1.2, the twin head's rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooled_withheld: Option<String>,
    /// Every historical snapshot of the population with data.
    pub population: Figure,
    /// The latest-visit regression's prediction for this patient: percent for a
    /// yes/no outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_baseline_percent: Option<u32>,
    /// ... or the DAS28 it predicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_baseline_das28: Option<f64>,
    /// The twin head's figure for this patient, with its calibration interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twin_head: Option<HeadOut>,
    /// Why the twin head gives no figure here (not calibrated on held-out patients,
    /// too few of them, ...), when it is loaded and gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twin_head_withheld: Option<String>,
    /// A plain sentence when the twin head and the similar patients disagree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreement: Option<String>,
}

/// A pooled rate as a clinician may see it: whole percents, with the usual rate and
/// the weight (in patients, 1 decimal) it was drawn toward.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PooledOut {
    pub percent: u32,
    pub low_percent: u32,
    pub high_percent: u32,
    pub usual_percent: u32,
    pub weight_patients: f64,
    /// Whether the usual rate is that of groups at a decision point (60-120 days
    /// into a DMARD), as this question is, rather than at any date.
    pub usual_at_decision_points: bool,
}

impl From<&Pooled> for PooledOut {
    fn from(p: &Pooled) -> Self {
        PooledOut {
            percent: percent(p.value),
            low_percent: percent(p.ci.low),
            high_percent: percent(p.ci.high),
            usual_percent: percent(p.prior_rate),
            weight_patients: round(p.prior_weight, 1),
            usual_at_decision_points: p.prior_moment == Moment::Decision,
        }
    }
}

/// The twin head's figure as a clinician may see it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HeadOut {
    /// A probability: the head's percent; among the calibration patients (never used
    /// to fit it) given a figure in the same band, `observed_percent` had the outcome
    /// (95% Wilson interval, of `n`).
    Rate { percent: u32, observed_percent: u32, low_percent: u32, high_percent: u32, n: usize },
    /// A DAS28 with the calibration patients' 95% residual range around it.
    Value { das28: f64, low: f64, high: f64, n: usize },
}

impl HeadOut {
    /// The figure in RDT's words, with what its interval rests on: a head's one
    /// sentence form, for every head.
    pub(crate) fn words(&self) -> String {
        match self {
            HeadOut::Rate { percent, observed_percent, low_percent, high_percent, n } => format!(
                "{percent}% (of {n} held-out patients given a similar figure, {observed_percent}% had it; 95% CI \
                 {low_percent}% to {high_percent}%)"
            ),
            HeadOut::Value { das28, low, high, n } => {
                format!("{} (95% range {} to {}, from {n} held-out patients)", said(das28), said(low), said(high))
            }
        }
    }

    /// The figure as shown, `None` without an interval (never shown bare).
    pub(crate) fn of(rate: bool, h: &HeadFigure) -> Option<Self> {
        let ci = h.interval?;
        Some(if rate {
            HeadOut::Rate {
                percent: percent(h.value),
                observed_percent: percent(h.observed?),
                low_percent: percent(ci.low),
                high_percent: percent(ci.high),
                n: h.n,
            }
        } else {
            HeadOut::Value { das28: round(h.value, 2), low: round(ci.low, 2), high: round(ci.high, 2), n: h.n }
        })
    }
}

impl From<&OutcomeRow> for CohortOutcome {
    fn from(r: &OutcomeRow) -> Self {
        let rate = r.outcome.is_rate();
        CohortOutcome {
            outcome: r.outcome.key().to_owned(),
            label: r.label.clone(),
            similar_patients: Figure::from(&r.neighbours),
            pooled: r.pooled.as_ref().map(PooledOut::from),
            pooled_withheld: r.pooled_withheld.clone(),
            population: Figure::from(&r.population),
            snapshot_baseline_percent: r.snapshot_baseline.filter(|_| rate).map(percent),
            snapshot_baseline_das28: r.snapshot_baseline.filter(|_| !rate).map(|v| round(v, 2)),
            twin_head: r.twin_head.as_ref().and_then(|h| HeadOut::of(rate, h)),
            twin_head_withheld: r.twin_head_withheld.clone(),
            disagreement: r.disagreement(),
        }
    }
}

/// A neighbour as a clinician may see it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct NeighbourOut {
    /// Keyed pseudonym: stable in this install, never the patient's id.
    pub pseudonym: String,
    /// Cosine distance between twins (0 = same), 3 decimals.
    pub distance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SimilarPatientsOutput {
    pub patient: String,
    pub index_date: NaiveDate,
    /// Nearest historical patients found (one snapshot each).
    pub similar_patients_found: usize,
    /// Below this many with data an outcome has no figure.
    pub min_n: usize,
    /// SHA-256 of the twin model the neighbours were found with.
    pub twin_version: String,
    pub outcomes: Vec<CohortOutcome>,
    /// Nearest first.
    pub neighbours: Vec<NeighbourOut>,
    pub method: &'static str,
    /// Why no twin head figure is shown, when none is (no head fitted for this twin,
    /// or its file refused by the registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twin_head_unavailable: Option<String>,
    /// Why no rate is pooled for the patient, when none is (no neighbourhood prior
    /// measured for this twin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pooling_unavailable: Option<String>,
    /// The twin head's reliability on its calibration patients per yes/no outcome
    /// (label, bins, calibration slope), for a page that plots it; never serialised.
    #[serde(skip)]
    #[schemars(skip)]
    pub head_reliability: Vec<(String, Vec<ReliabilityBin>, Option<f64>)>,
    /// Real ids for the audit entry; never serialised.
    #[serde(skip)]
    #[schemars(skip)]
    pub audit: Option<CohortRecord>,
    /// The whole report this output was read from (unrounded figures, intervals), for
    /// a caller that renders it (`rdt cohort`); never serialised, it holds real ids.
    #[serde(skip)]
    #[schemars(skip)]
    pub report: Option<CohortReport>,
}

const METHOD: &str = "k nearest historical snapshots of other patients by cosine distance between twins (the \
learned journey, the record's aggregated readings and, for a twin that carries it, each outcome as the twin's own \
trees expect it: look-alike patients expected to fare alike; each part weighed equally); each \
neighbour's outcomes read after its own snapshot; rates with 95% Wilson intervals, flare and switch by Kaplan-Meier (a patient followed for part of \
the window counts for that part) with log-log intervals, means with 95% t intervals; each rate also read as this \
patient's chance: its count pooled with the usual rate of this twin's neighbourhoods by a weight measured on them \
(empirical Bayes, beta posterior and its 95% interval; at a decision point, 60-120 days into a DMARD, the usual \
rate and weight of neighbourhoods at decision points); \
population = every historical snapshot; snapshot baseline = regression on the latest visit; twin head = a model \
fitted on the training patients' twins and records (boosted trees, a ridge and a GRU over the events, stacked and \
recalibrated on patients it was not fitted on, separately at 60-120 days after a DMARD start), its interval what \
happened to held-out calibration patients given a similar figure.";

/// The `k` of an input, checked against its bounds.
pub(crate) fn checked_k(tool: ToolName, k: Option<usize>) -> Result<usize, ToolError> {
    let k = k.unwrap_or(DEFAULT_K);
    if (MIN_K..=MAX_K).contains(&k) {
        Ok(k)
    } else {
        Err(ToolError::BadArguments {
            tool,
            field: "k".into(),
            message: format!("{k} is not between {MIN_K} and {MAX_K}"),
        })
    }
}

impl SimilarPatientsOutput {
    fn from_report(patient: &PatientId, report: &CohortReport, twin_version: String, trimmer: &mut Trimmer) -> Self {
        let neighbours = report
            .neighbours
            .iter()
            .map(|n| NeighbourOut {
                pseudonym: n.pseudonym.as_str().to_owned(),
                distance: round(f64::from(n.distance), 3),
            })
            .collect();
        SimilarPatientsOutput {
            patient: patient.to_string(),
            index_date: report.index_date,
            similar_patients_found: report.k,
            min_n: report.min_n,
            twin_version,
            outcomes: report.outcomes.iter().map(CohortOutcome::from).collect(),
            neighbours: trimmer.keep_first(neighbours, SimilarPatients::MAX_ITEMS),
            method: METHOD,
            twin_head_unavailable: None,
            pooling_unavailable: report.pooling_unavailable.clone(),
            head_reliability: vec![],
            audit: None,
            report: None,
        }
    }
}

/// The cohort size a reading names, when within [`MIN_K`]..=[`MAX_K`]; else none, so
/// the tool's default holds, never a size the model makes up.
pub(crate) fn cohort_size_argument(reading: &crate::reading::Reading) -> serde_json::Map<String, serde_json::Value> {
    reading
        .cohort_size
        .filter(|k| (MIN_K..=MAX_K).contains(k))
        .map(|k| serde_json::Map::from_iter([("k".to_owned(), serde_json::json!(k))]))
        .unwrap_or_default()
}

impl Tool for SimilarPatients {
    const NAME: ToolName = ToolName::SimilarPatients;
    const DESCRIPTION: &'static str = "In silico cohort of this patient: the most similar historical patients by \
digital twin and how they did: share responding to methotrexate or a TNF inhibitor at 6 months, share flaring within \
6 months, share switching treatment within 12 months, mean DAS28 at 150/270/360 days, each with n and a 95% interval, \
beside the whole population's figure.";
    const EXAMPLES: &'static [&'static str] = &[
        "Did similar patients respond to methotrexate?",
        "How often do patients like her flare within 6 months?",
        "How did comparable patients do on a TNF inhibitor?",
        "What happened to similar patients?",
        "How many similar patients switched treatment within a year?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::required(&[
        "similar", "comparable", "patients like", "people like", "others like", "cohort", "in silico",
        "historical patients", "other patients", "neighbours", "neighbors",
    ]);
    const REQUIRED_ROLE: Role = Role::Clinician;
    /// Neighbours listed (outcomes are a fixed seven).
    const MAX_ITEMS: usize = 20;
    const MAX_BYTES: usize = 8 * 1024;

    type Input = SimilarPatientsInput;
    type Output = SimilarPatientsOutput;

    fn facts(output: &Self::Output) -> Facts {
        cohort_facts(output)
    }

    /// The cohort size the question names ("the 10 most similar patients"); else the
    /// default, never a size the model makes up.
    fn arguments_read(reading: &crate::reading::Reading) -> serde_json::Map<String, serde_json::Value> {
        cohort_size_argument(reading)
    }

    const READINGS: &'static [crate::reading::Asks] = &[crate::reading::Asks::CohortOutcome];

    fn patients(input: &Self::Input) -> Vec<PatientId> {
        vec![input.patient.0.clone()]
    }

    fn cohort_record(output: &Self::Output) -> Option<CohortRecord> {
        output.audit.clone()
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        principal: &Principal,
        scope: &Scope,
        input: Self::Input,
    ) -> Result<Bounded<Self::Output>, ToolError> {
        let k = checked_k(Self::NAME, input.k)?;
        let journey = ctx.journey::<Self>(principal, scope, &input.patient.0).await?;
        let cohort = ctx.cohort(Self::NAME).await?;
        let report = cohort.report(Self::NAME, &journey.patient.id, &journey.events, input.at, k).await?;
        let mut trimmer = Trimmer::default();
        let mut out = SimilarPatientsOutput::from_report(
            &journey.patient.id,
            &report,
            cohort.model.version.to_hex(),
            &mut trimmer,
        );
        out.twin_head_unavailable = cohort.head_unavailable().map(str::to_owned);
        if let Some(head) = cohort.head() {
            out.head_reliability = head
                .calibration
                .iter()
                .filter(|(o, c)| o.is_rate() && c.n >= MIN_CALIBRATION_ROWS)
                .map(|(o, c)| (o.label().to_owned(), c.bins.clone(), c.slope))
                .collect();
        }
        out.audit = Some(cohort.audit_record(&report));
        out.report = Some(report);
        Ok(Bounded::new(out, trimmer))
    }
}

/// One figure of an outcome: "45% (9 of 20; 95% CI 26% to 66%)", a mean with its
/// interval, or "not enough comparable patients (n 4, minimum 10)".
pub(crate) fn figure_text(f: &Figure) -> String {
    match f {
        Figure::Rate { n, events, percent, low_percent, high_percent } => {
            format!("{percent}% ({events} of {n}; 95% CI {low_percent}% to {high_percent}%)")
        }
        Figure::Mean { n, mean, low, high } => {
            format!("{} (n {n}; 95% CI {} to {})", said(mean), said(low), said(high))
        }
        Figure::KaplanMeier { n, events, censored, percent, low_percent, high_percent } => format!(
            "{percent}% by Kaplan-Meier ({events} events among {n} followed, {censored} followed for less of the \
             window; 95% CI {low_percent}% to {high_percent}%)"
        ),
        Figure::WeightedRate { n, effective_n, percent, low_percent, high_percent } => format!(
            "{percent}% weighted for who got the treatment ({n} patients, effective sample size {effective_n}; 95% CI \
             {low_percent}% to {high_percent}%)"
        ),
        Figure::WeightedMean { n, effective_n, mean, low, high } => format!(
            "{} weighted for who got the treatment ({n} patients, effective sample size {effective_n}; 95% CI {} to {})",
            said(mean),
            said(low),
            said(high)
        ),
        Figure::NotEnoughComparablePatients { n, min_n } => {
            format!("not enough comparable patients (n {n}, minimum {min_n})")
        }
    }
}

/// Each outcome over the similar patients beside the population.
fn cohort_facts(v: &SimilarPatientsOutput) -> Facts {
    let outcomes: Vec<(Option<OutcomeAsked>, String)> = v
        .outcomes
        .iter()
        .map(|o| {
            let head = match &o.twin_head {
                Some(h) => format!(", twin head {}", h.words()),
                None => String::new(),
            };
            // The similar patients' figure first, named as theirs, then the population's
            // as its own clause: a small model read "not enough comparable patients ...
            // among similar patients, population 46%" as 46% among similar patients.
            let pooled = match &o.pooled {
                Some(p) => format!(
                    " (read as this patient's chance, pooled with the usual {}% of such groups{}: {}%, 95% CI {}% to {}%)",
                    p.usual_percent,
                    if p.usual_at_decision_points { " at a decision point" } else { "" },
                    p.percent,
                    p.low_percent,
                    p.high_percent
                ),
                None => match &o.pooled_withheld {
                    Some(why) => format!(" (not read as this patient's chance: {why})"),
                    None => String::new(),
                },
            };
            let sentence = format!(
                "{} among similar patients: {}{pooled}; in the whole population: {}{head}",
                o.label,
                figure_text(&o.similar_patients),
                figure_text(&o.population)
            );
            (outcome_asked(&o.outcome), sentence)
        })
        .collect();
    let disagreements: Vec<&str> = v.outcomes.iter().filter_map(|o| o.disagreement.as_deref()).collect();
    let disagreements = if disagreements.is_empty() { String::new() } else { format!(" {}", disagreements.join(" ")) };
    let opening = format!(
        "In silico cohort of {} at {}: {} most similar historical patients.",
        said(&v.patient),
        said(&v.index_date),
        v.similar_patients_found
    );
    let all: Vec<&str> = outcomes.iter().map(|(_, s)| s.as_str()).collect();
    // An outcome is withheld when every figure of it among similar patients is (the
    // DAS28 at any day: when all three days are).
    let withheld: Vec<Aspect> = outcomes
        .iter()
        .filter_map(|(o, _)| *o)
        .chain([OutcomeAsked::Das28])
        .filter(|asked| {
            let mut figures = v.outcomes.iter().filter(|o| outcome_asked(&o.outcome).is_some_and(|o| asked.covers(o))).peekable();
            figures.peek().is_some()
                && figures.all(|o| matches!(o.similar_patients, Figure::NotEnoughComparablePatients { .. }))
        })
        .map(Aspect::Outcome)
        .collect();
    let mut facts = Facts::stated(format!("{opening} {}.{disagreements}", all.join("; "))).withholding(withheld);
    facts.parts = Some(FactParts {
        opening,
        each: outcomes.into_iter().filter_map(|(o, s)| o.map(|o| (Aspect::Outcome(o), format!("{s}.")))).collect(),
    });
    facts
}

/// The outcome a cohort figure is of, by the key the cohort report gives it.
fn outcome_asked(key: &str) -> Option<OutcomeAsked> {
    let outcome = Outcome::ALL.into_iter().find(|o| o.key() == key)?;
    Some(match outcome {
        Outcome::MtxResponse6m => OutcomeAsked::MtxResponse,
        Outcome::TnfiResponse6m => OutcomeAsked::TnfiResponse,
        Outcome::Flare6m => OutcomeAsked::Flare,
        Outcome::Das28Day150 | Outcome::Das28Day270 | Outcome::Das28Day360 => OutcomeAsked::Das28At(outcome.das28_day()?),
        Outcome::Switch12m => OutcomeAsked::Switch,
    })
}
