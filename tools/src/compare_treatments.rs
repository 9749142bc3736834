//! `compare_treatments`: the treatment options of the open patient at a decision
//! (issue 20): per option a rheumatologist weighs (continue, methotrexate, another
//! csDMARD, TNF, IL-6 and JAK inhibitors, rituximab, abatacept), first the
//! counterfactual head's figures for this patient on it (boosted trees with the option
//! as an input, intervals from held-out patients; shown first because it ranked
//! options best on the tuning part, docs/benchmarks/options-protocol.md version 2),
//! then how the most similar historical patients who started it fared (EULAR response at 6 months, flare within
//! 6 months, DAS28 at 150/270/360 days, a stop for an adverse event), as they were and
//! weighted for who got the option, beside the population's figure per option. Below
//! the minimum n an option says "not enough comparable patients", never a number.
//!
//! Observational: patients chose, or were chosen for, each option; the weighting
//! balances what the record holds at the decision (the balance table says how well),
//! not what it does not. The output says so in its `caveat`.
//!
//! Neighbours' real ids leave this tool only in [`Tool::cohort_record`] (each with the
//! option it took), which the audit entry of the call holds.

use audit_log::{CohortRecord, Principal, Role};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::clinical::{OptionOutcome, TreatmentOption};
use journey::PatientId;
use twin_core::options::{OptionComparison, OptionsReport};

use crate::bounded::{Bounded, Trimmer};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::{said, Aspect, Facts};
use crate::record::PatientArg;
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::similar_patients::{figure_text, percent, round, Figure, HeadOut};
use crate::tool::Tool;
use crate::vocabulary::Vocabulary;

pub struct CompareTreatments;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareTreatmentsInput {
    pub patient: PatientArg,
    /// The decision date (YYYY-MM-DD); omitted: the patient's last recorded day.
    #[serde(default)]
    pub at: Option<NaiveDate>,
}

/// One outcome of an option.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OptionOutcomeOut {
    /// `response_6m`, `flare_6m`, `das28_day_150`/`270`/`360`, `adverse_event_stop_6m`.
    pub outcome: String,
    pub label: String,
    /// The similar patients who started the option, weighted for who got it: what RDT
    /// shows first (it ranked options better than the unweighted figure on the tuning
    /// part, docs/benchmarks/options.md).
    pub weighted: Figure,
    /// The same patients as they were.
    pub similar_patients: Figure,
    /// Every patient of the population who started it.
    pub population: Figure,
}

/// One of the counterfactual head's figures for an option.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OptionHeadOut {
    /// `das28_day_270` or `response_6m`.
    pub outcome: String,
    pub label: String,
    /// The head's figure with its interval from held-out patients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figure: Option<HeadOut>,
    /// Why there is no figure (too few held-out patients, not calibrated, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    /// What the interval was measured on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_from: Option<String>,
}

/// A covariate's standardised difference (takers vs the neighbourhood), 2 decimals.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct BalanceOut {
    pub covariate: String,
    pub before: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_weighting: Option<f64>,
}

/// One step of the widening: among the `k` nearest snapshots, `patients` started the option.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct WideningOut {
    pub k: usize,
    pub patients: usize,
}

/// One option.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct OptionOut {
    /// `continue`, `methotrexate`, `csdmard_combination`, `tnf_inhibitor`,
    /// `il6_inhibitor`, `jak_inhibitor`, `rituximab`, `abatacept`.
    pub option: String,
    pub label: String,
    /// Whether enough similar patients started it for a figure.
    pub enough_patients: bool,
    /// Similar patients who started it, among the `neighbourhood` nearest snapshots.
    pub patients: usize,
    pub neighbourhood: usize,
    /// The neighbourhood sizes tried, in order, and how many similar patients had
    /// started the option in each (the last is the one the figures come from).
    pub widening: Vec<WideningOut>,
    /// The counterfactual head's figures for this patient on the option (shown
    /// first); empty when the option has too few similar patients or no head is active.
    pub counterfactual_head: Vec<OptionHeadOut>,
    pub outcomes: Vec<OptionOutcomeOut>,
    /// Effective sample size of the weights (1 decimal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_n: Option<f64>,
    pub balance: Vec<BalanceOut>,
    /// The disease-state model's chance of remission or low activity under the
    /// option's treatment class, in percent with its 95% interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_model: Option<StateOutlookOut>,
}

/// The state model's outlook under an option (whole percents).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StateOutlookOut {
    /// The state model's treatment class (`csdmard`, `tnf_inhibitor`, `other_advanced`, `none`).
    pub treatment_class: String,
    pub days: i64,
    pub remission_or_low_percent: u32,
    pub low_percent: u32,
    pub high_percent: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CompareTreatmentsOutput {
    pub patient: String,
    pub decision_date: NaiveDate,
    /// What "continue" keeps: the DMARDs running then.
    pub current_treatment: Vec<String>,
    /// Below this many patients an option has no figure.
    pub min_n: usize,
    /// SHA-256 of the twin model the neighbours were found with.
    pub twin_version: String,
    pub options: Vec<OptionOut>,
    /// The option the counterfactual head gives the lowest DAS28 at day 270, among
    /// those with enough patients (what RDT ranks first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_by_head_das28_270: Option<String>,
    /// SHA-256 of the counterfactual head, or why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_unavailable: Option<String>,
    /// The option with the highest weighted response among those with enough patients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_weighted_response: Option<String>,
    pub method: &'static str,
    pub caveat: &'static str,
    /// Real ids for the audit entry; never serialised.
    #[serde(skip)]
    #[schemars(skip)]
    pub audit: Option<CohortRecord>,
    /// The whole report, unrounded, for a caller that renders it (`rdt options`, the
    /// consult page); never serialised.
    #[serde(skip)]
    #[schemars(skip)]
    pub report: Option<OptionsReport>,
}

const METHOD: &str = "counterfactual head (shown first) = boosted trees fitted on historical patients' decisions \
(DAS28, CRP, age, sex, disease duration, DMARDs tried, the treatment before, the aggregated history) with the option \
as an input, asked once per option for this patient, only for options with at least min_n similar patients who \
started them; a DAS28's range = 95% of held-out patients' errors, a probability's interval = the observed rate among \
held-out patients given a similar figure (Wilson); state model = the disease-state Markov model's chance of remission or low activity 150 days \
ahead under the option's treatment class (its classes: csDMARD, TNF inhibitor, other advanced therapy), with a \
bootstrap interval; neighbours = nearest historical snapshots of other patients by cosine distance between twins, widened (50, \
100, 200, ... 1,600) until at least min_n patients started the option within 90 days after their snapshot; each \
patient counted once per option; outcomes read from the start of the option (for continue, from the snapshot); rates \
with 95% Wilson intervals, means with t intervals; weighted = inverse propensity of starting the option (ridge \
logistic regression inside the neighbourhood on DAS28, CRP, age, sex, disease duration, DMARDs tried and the \
treatment before the decision), intervals at the weights' effective sample size; population = every patient who \
started the option.";

const CAVEAT: &str = "Observational: these patients were not randomised to their treatments. Weighting balances what \
the record shows at the decision, not what it does not; a figure is a comparison of similar patients, not a \
prediction for this one.";

impl From<&OptionComparison> for OptionOut {
    fn from(o: &OptionComparison) -> Self {
        OptionOut {
            option: o.option.key().to_owned(),
            label: o.label.clone(),
            enough_patients: o.enough,
            patients: o.patients,
            neighbourhood: o.k,
            widening: o.widening.iter().map(|w| WideningOut { k: w.k, patients: w.patients }).collect(),
            counterfactual_head: o
                .head
                .iter()
                .map(|h| OptionHeadOut {
                    outcome: h.outcome.key().to_owned(),
                    label: h.outcome.label().to_owned(),
                    figure: h.figure.as_ref().and_then(|f| HeadOut::of(h.outcome.is_rate(), f)),
                    withheld: h.withheld.clone(),
                    interval_from: h.interval_from.clone(),
                })
                .collect(),
            outcomes: o
                .rows
                .iter()
                .map(|r| OptionOutcomeOut {
                    outcome: r.outcome.key().to_owned(),
                    label: r.label.clone(),
                    similar_patients: Figure::from(&r.unadjusted),
                    weighted: Figure::from(&r.adjusted),
                    population: Figure::from(&r.population),
                })
                .collect(),
            effective_n: o.effective_n.map(|n| round(n, 1)),
            balance: o
                .balance
                .iter()
                .map(|b| BalanceOut {
                    covariate: b.covariate.clone(),
                    before: round(b.before, 2),
                    after_weighting: b.after.map(|a| round(a, 2)),
                })
                .collect(),
            state_model: o.state_model.map(|s| StateOutlookOut {
                treatment_class: s.treatment.as_str().to_owned(),
                days: s.days,
                remission_or_low_percent: percent(s.share),
                low_percent: percent(s.low),
                high_percent: percent(s.high),
            }),
        }
    }
}

impl CompareTreatmentsOutput {
    fn from_report(patient: &PatientId, report: &OptionsReport, twin_version: String) -> Self {
        CompareTreatmentsOutput {
            patient: patient.to_string(),
            decision_date: report.index_date,
            current_treatment: report.current_treatment.clone(),
            min_n: report.min_n,
            twin_version,
            options: report.options.iter().map(OptionOut::from).collect(),
            best_by_head_das28_270: report.best_by_head(OptionOutcome::Das28Day270).map(|o| o.key().to_owned()),
            head_version: report.head_version.clone(),
            head_unavailable: report.head_unavailable.clone(),
            best_weighted_response: report
                .best_by(OptionOutcome::Response6m, |r| &r.adjusted)
                .map(|o| o.key().to_owned()),
            method: METHOD,
            caveat: CAVEAT,
            audit: None,
            report: None,
        }
    }
}

impl Tool for CompareTreatments {
    const NAME: ToolName = ToolName::CompareTreatments;
    const DESCRIPTION: &'static str = "Treatment options for this patient now: for continuing the current \
treatment, methotrexate, another csDMARD, a TNF inhibitor, an IL-6 inhibitor, a JAK inhibitor, rituximab and \
abatacept, how similar historical patients who started each option did (response at 6 months, flare, DAS28 at \
150/270/360 days, stop for an adverse event), each with n and a 95% interval, weighted for who got it, beside the \
population; says when too few similar patients took an option.";
    const EXAMPLES: &'static [&'static str] = &[
        "What if we switch her to a TNF inhibitor?",
        "On which option did patients like him do best?",
        "Should we add a biologic or continue methotrexate?",
        "What would happen on each treatment option?",
        "Compare the treatment options for this patient.",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::required(&[
        "option", "options", "what if", "switch", "instead", "which treatment", "which drug", "best treatment",
        "compare treatment", "compare the treatment", "add a", "escalate", "step up",
    ]);
    const READINGS: &'static [crate::reading::Asks] = &[crate::reading::Asks::TreatmentOption];

    /// A treatment choice, or how similar patients fared on a named drug or class
    /// (each option's figures are of similar patients who started it).
    fn answers(reading: &crate::reading::Reading) -> bool {
        use crate::reading::{Asks, Concept};
        match reading.asks {
            Asks::TreatmentOption => true,
            Asks::CohortOutcome => matches!(reading.concept, Some(Concept::Drugs { group: Some(_) })),
            _ => false,
        }
    }

    const REQUIRED_ROLE: Role = Role::Clinician;
    /// Options (a fixed eight).
    const MAX_ITEMS: usize = 8;
    const MAX_BYTES: usize = 24 * 1024;

    type Input = CompareTreatmentsInput;
    type Output = CompareTreatmentsOutput;

    fn facts(output: &Self::Output) -> Facts {
        options_facts(output)
    }

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
        let journey = ctx.journey::<Self>(principal, scope, &input.patient.0).await?;
        let cohort = ctx.cohort(Self::NAME).await?;
        let state = ctx.state_model().map(|(m, _)| m);
        let (report, audit) = cohort.options(Self::NAME, &journey.patient.id, &journey.events, input.at, state).await?;
        let mut out = CompareTreatmentsOutput::from_report(&journey.patient.id, &report, cohort.model.version.to_hex());
        out.audit = Some(cohort.options_audit_record(&audit));
        out.report = Some(report);
        Ok(Bounded::new(out, Trimmer::default()))
    }
}

/// Each option's figures (every outcome that has one, then those that have none), the
/// ranking ([`comparison_text`]), and the caveat, in RDT's sentences.
///
/// Why every outcome: an option's response may have too few similar patients while its
/// flare or DAS28 has enough; stating only the response would say "not enough" about an
/// option whose other figures the record does give.
fn options_facts(v: &CompareTreatmentsOutput) -> Facts {
    let options: Vec<(Aspect, String)> = v
        .options
        .iter()
        .map(|o| {
            let aspect = o.option.parse::<TreatmentOption>().map_or(Aspect::Caveat, Aspect::TreatmentOption);
            if !o.enough_patients {
                // "None of", not "0 of": a small model read "0 of the 1600 most similar
                // started it" as a comparison of 1600 patients with 0.
                let started = match o.patients {
                    0 => format!("none of the {} most similar started it", o.neighbourhood),
                    n => format!("{n} of the {} most similar started it", o.neighbourhood),
                };
                let text = format!("{}: not enough comparable patients ({started}; minimum {}).", o.label, v.min_n);
                return (aspect, text);
            }
            // "Continue" names what it keeps, so a lead about it names the drugs; those
            // who continued started nothing: they stayed on what they had.
            let continuing = o.option == TreatmentOption::Continue.key();
            let label = if continuing && !v.current_treatment.is_empty() {
                format!("{} ({})", o.label, v.current_treatment.join(", "))
            } else {
                o.label.clone()
            };
            let took = if continuing { "stayed on their treatment" } else { "started it" };
            let text = format!(
                "{label}: {}{} similar patients {took} (among the {} nearest){}.",
                head_text(o),
                o.patients,
                o.neighbourhood,
                outcomes_text(o)
            );
            (aspect, text)
        })
        .collect();
    let best = comparison_text(v);
    let current = if v.current_treatment.is_empty() { "none".to_owned() } else { v.current_treatment.join(", ") };
    let opening = format!("Treatment options of {} at {} (current: {current}).", said(&v.patient), said(&v.decision_date));
    // Each option its own sentence, so a lead about one option is written from it.
    let withheld: Vec<Aspect> = v
        .options
        .iter()
        .filter(|o| !o.enough_patients)
        .filter_map(|o| o.option.parse::<TreatmentOption>().ok().map(Aspect::TreatmentOption))
        .collect();
    let mut each = options;
    each.push((Aspect::Ranking, best));
    each.push((Aspect::Caveat, v.caveat.to_owned()));
    Facts::in_parts(opening, each).withholding(withheld)
}

/// What the comparison finds, with the figure behind it: the option the counterfactual
/// head gives the lowest DAS28 at day 270 and the one with the highest weighted
/// response (among options with enough patients), else which options have enough
/// similar patients at all. Why the figures: a lead answering "how did the options
/// compare?" states the winning option's figure, not its name alone.
fn comparison_text(v: &CompareTreatmentsOutput) -> String {
    let option = |key: &str| v.options.iter().find(|o| o.option == key);
    let mut text = String::new();
    if let Some(o) = v.best_by_head_das28_270.as_deref().and_then(option) {
        let figure = o
            .counterfactual_head
            .iter()
            .find(|h| h.outcome == OptionOutcome::Das28Day270.key())
            .and_then(|h| h.figure.as_ref())
            .map(|f| format!(", {}", f.words()))
            .unwrap_or_default();
        text += &format!("Lowest DAS28 at day 270 by the counterfactual head among options with enough patients: {}{figure}. ", o.label);
    }
    match v.best_weighted_response.as_deref().and_then(option) {
        Some(o) => {
            let figure = o
                .outcomes
                .iter()
                .find(|r| r.outcome == OptionOutcome::Response6m.key())
                .map(|r| format!(", {}", figure_text(&r.weighted)))
                .unwrap_or_default();
            text += &format!("Highest weighted response among options with enough patients: {}{figure}.", o.label);
        }
        None => {
            let enough: Vec<&str> = v.options.iter().filter(|o| o.enough_patients).map(|o| o.label.as_str()).collect();
            text += &if enough.is_empty() {
                "No option has enough comparable patients.".to_owned()
            } else {
                format!(
                    "No option has enough comparable patients for a weighted response; options with enough similar \
                     patients for their other figures: {}.",
                    enough.join(", ")
                )
            };
        }
    }
    text
}

/// An option's outcomes in RDT's words, each led by "; ": those with a figure (weighted
/// for who got it, then as they were), then those without one, then the population's
/// response.
fn outcomes_text(o: &OptionOut) -> String {
    let has = |f: &Figure| !matches!(f, Figure::NotEnoughComparablePatients { .. });
    let mut stated = String::new();
    let mut without = Vec::new();
    for r in &o.outcomes {
        // "Of them" ties each figure to the patients just counted; "label: figure"
        // keeps each outcome's figure beside its name.
        let lead = if stated.is_empty() { "; among them, " } else { "; " };
        match (has(&r.weighted), has(&r.similar_patients)) {
            (true, true) => {
                stated += &format!(
                    "{lead}{}: {}, as they were {}",
                    r.label,
                    figure_text(&r.weighted),
                    figure_text(&r.similar_patients)
                )
            }
            (true, false) => stated += &format!("{lead}{}: {}", r.label, figure_text(&r.weighted)),
            (false, true) => stated += &format!("{lead}{}: as they were {}", r.label, figure_text(&r.similar_patients)),
            (false, false) => {
                let n = match r.similar_patients {
                    Figure::NotEnoughComparablePatients { n, .. } => format!(" (n {n})"),
                    _ => String::new(),
                };
                without.push(format!("{}{n}", r.label));
            }
        }
    }
    if !without.is_empty() {
        stated += &format!("; not enough comparable patients for {}", without.join(", "));
    }
    if let Some(r) = o.outcomes.iter().find(|r| r.outcome == OptionOutcome::Response6m.key()) {
        stated += &format!("; the population's {}: {}", r.label, figure_text(&r.population));
    }
    stated
}

/// The counterfactual head's figures for an option in RDT's words ("" without any).
fn head_text(o: &OptionOut) -> String {
    let parts: Vec<String> = o
        .counterfactual_head
        .iter()
        .filter_map(|h| Some(format!("{} {}", h.label, h.figure.as_ref()?.words())))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("counterfactual head for this patient: {}; ", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: OptionOutcome, weighted: Figure, similar: Figure) -> OptionOutcomeOut {
        let population = Figure::Rate { n: 200, events: 90, percent: 45, low_percent: 38, high_percent: 52 };
        OptionOutcomeOut { outcome: outcome.key().into(), label: outcome.label().into(), weighted, similar_patients: similar, population }
    }

    fn option(key: TreatmentOption, enough: bool, outcomes: Vec<OptionOutcomeOut>) -> OptionOut {
        OptionOut {
            option: key.key().into(),
            label: key.label().into(),
            enough_patients: enough,
            patients: if enough { 34 } else { 3 },
            neighbourhood: 50,
            widening: vec![],
            counterfactual_head: vec![],
            outcomes,
            effective_n: None,
            balance: vec![],
            state_model: None,
        }
    }

    fn output(options: Vec<OptionOut>, best_weighted_response: Option<&str>) -> CompareTreatmentsOutput {
        CompareTreatmentsOutput {
            patient: "p-1".into(),
            decision_date: NaiveDate::from_ymd_opt(2023, 5, 2).unwrap(),
            current_treatment: vec!["methotrexate".into()],
            min_n: 20,
            twin_version: "t".into(),
            options,
            best_by_head_das28_270: None,
            head_version: None,
            head_unavailable: None,
            best_weighted_response: best_weighted_response.map(str::to_owned),
            method: METHOD,
            caveat: CAVEAT,
            audit: None,
            report: None,
        }
    }

    const FEW: Figure = Figure::NotEnoughComparablePatients { n: 2, min_n: 20 };

    /// An option whose response has too few patients but whose flare has a figure:
    /// the facts state the flare figure and name the outcomes without one, and the
    /// comparison's sentence says which options have figures at all.
    #[test]
    fn every_outcome_with_a_figure_is_stated_and_the_rest_named() {
        let flare = Figure::WeightedRate { n: 25, effective_n: 25.0, percent: 24, low_percent: 11, high_percent: 43 };
        let flare_as_were = Figure::KaplanMeier { n: 25, events: 6, censored: 0, percent: 24, low_percent: 11, high_percent: 43 };
        let cont = option(
            TreatmentOption::Continue,
            true,
            vec![row(OptionOutcome::Response6m, FEW, FEW), row(OptionOutcome::Flare6m, flare, flare_as_were)],
        );
        let tnf = option(TreatmentOption::TnfInhibitor, false, vec![]);
        let facts = options_facts(&output(vec![cont, tnf], None));
        let text = &facts.text;
        assert!(text.contains("continue the current treatment (methotrexate): 34 similar patients stayed on their treatment"), "{text}");
        assert!(text.contains("among them, flare within 6 months: 24% weighted for who got the treatment"), "{text}");
        assert!(text.contains("not enough comparable patients for EULAR response at 6 months (good/moderate) (n 2)"), "{text}");
        assert!(text.contains("the population's EULAR response at 6 months (good/moderate): 45%"), "{text}");
        assert!(text.contains("TNF inhibitor: not enough comparable patients (3 of the 50 most similar started it"), "{text}");
        assert!(
            text.contains("options with enough similar patients for their other figures: continue the current treatment."),
            "{text}"
        );
        // An option nobody near started says "none of", never a "0 of" to misread.
        let jak = OptionOut { patients: 0, ..option(TreatmentOption::JakInhibitor, false, vec![]) };
        let text = options_facts(&output(vec![jak], None)).text;
        assert!(text.contains("JAK inhibitor: not enough comparable patients (none of the 50 most similar started it"), "{text}");
    }

    /// The option with the highest weighted response is named with its figure.
    #[test]
    fn the_best_option_is_named_with_its_figure() {
        let response = Figure::WeightedRate { n: 30, effective_n: 21.4, percent: 48, low_percent: 28, high_percent: 68 };
        let as_were = Figure::Rate { n: 30, events: 15, percent: 50, low_percent: 33, high_percent: 67 };
        let jak = option(TreatmentOption::JakInhibitor, true, vec![row(OptionOutcome::Response6m, response, as_were)]);
        let facts = options_facts(&output(vec![jak], Some("jak_inhibitor")));
        assert!(
            facts.text.contains(
                "Highest weighted response among options with enough patients: JAK inhibitor, 48% weighted for who got \
                 the treatment (30 patients, effective sample size 21.4; 95% CI 28% to 68%)."
            ),
            "{}",
            facts.text
        );
        assert!(facts.text.contains("as they were 50% (15 of 30"), "{}", facts.text);
        // Which option did best answers "which option?", not a question about one.
        let lead = |q: &str| facts.for_lead(&crate::reading::Reading::of(q));
        let one = lead("What would adding a JAK inhibitor do for her?");
        assert!(one.contains("JAK inhibitor: 34 similar patients started it") && !one.contains("Highest"), "{one}");
        assert!(lead("Which therapy options look best for her now?").contains("Highest weighted response"));
    }
}
