//! `explain_neighbourhood`: what the open patient's nearest historical patients share
//! that the population does not: diagnoses and drugs their records show by their
//! snapshot, and latest-visit features (sex, age, DAS28 level, CRP, drugs running),
//! each with the count among the neighbours, the share among them and in the whole
//! population of historical snapshots, and the ratio of the two shares.
//!
//! It reads the same neighbours as `similar_patients` (same twin, index, k); like it,
//! it shows no neighbour's identity (counts only) and records the real ids in the
//! audit entry of the call.

use audit_log::{CohortRecord, Principal, Role};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use journey::PatientId;

use crate::bounded::{Bounded, Trimmer};
use crate::cohort::RecordTrait;
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::{said, Facts};
use crate::record::{PatientArg, RecordText};
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::similar_patients::{checked_k, percent};
use crate::tool::Tool;
use crate::vocabulary::Vocabulary;

pub struct ExplainNeighbourhood;

/// A trait counts as shared when at least this many neighbours show it.
pub const MIN_NEIGHBOURS: usize = 2;
/// Characters of a diagnosis or drug name kept.
const MAX_NAME_CHARS: usize = 80;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainNeighbourhoodInput {
    pub patient: PatientArg,
    /// The index date (YYYY-MM-DD); omitted: the patient's last recorded day.
    #[serde(default)]
    pub at: Option<NaiveDate>,
    /// How many nearest historical patients (5 to 50; default 20).
    #[serde(default)]
    #[schemars(range(min = 5, max = 50))]
    pub k: Option<usize>,
}

/// What is shared.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SharedWhat {
    /// A diagnosis the records show by the snapshot (its display, from the record).
    Diagnosis { name: RecordText },
    /// A drug started by the snapshot (the drug table's name, else the record's).
    Drug { name: RecordText },
    /// A latest-visit feature, in RDT's words.
    Feature { name: &'static str },
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SharedTrait {
    #[serde(flatten)]
    pub what: SharedWhat,
    /// Neighbours showing it.
    pub neighbours: usize,
    /// Their share of the neighbours, whole percent.
    pub neighbours_percent: u32,
    /// The share of the population's historical snapshots showing it, whole percent.
    pub population_percent: u32,
    /// Neighbours' share over the population's, 1 decimal (above 1: over-represented).
    pub ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ExplainNeighbourhoodOutput {
    pub patient: String,
    pub index_date: NaiveDate,
    pub similar_patients_found: usize,
    pub population_snapshots: usize,
    /// Over-represented among the neighbours, most over-represented first.
    pub shared: Vec<SharedTrait>,
    pub method: &'static str,
    #[serde(skip)]
    #[schemars(skip)]
    pub audit: Option<CohortRecord>,
}

const METHOD: &str = "traits of each neighbour's snapshot (diagnoses and drugs recorded by then, latest-visit \
features) counted over the neighbours and over every historical snapshot of the population; listed when at least \
2 neighbours show one and its share among them exceeds the population's.";

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

/// Traits over-represented among `neighbours` snapshots (each a set of traits)
/// against `population(trait) -> (count, total)`, most over-represented first.
pub fn over_represented(
    neighbours: &[std::collections::BTreeSet<RecordTrait>],
    population: impl Fn(&RecordTrait) -> (usize, usize),
) -> Vec<SharedTrait> {
    let k = neighbours.len();
    let mut counts: BTreeMap<&RecordTrait, usize> = BTreeMap::new();
    for set in neighbours {
        for t in set {
            *counts.entry(t).or_default() += 1;
        }
    }
    let mut out: Vec<SharedTrait> = counts
        .into_iter()
        .filter(|(_, n)| *n >= MIN_NEIGHBOURS)
        .filter_map(|(t, n)| {
            let (count, total) = population(t);
            let share = n as f64 / k as f64;
            // A trait no population snapshot shows (the neighbours' own snapshots may
            // fall outside it) is compared with one snapshot in the population.
            let population_share = count.max(1) as f64 / total.max(1) as f64;
            let ratio = share / population_share;
            // Compared as shown (1 decimal), so a listed trait never reads "1.0 times".
            (round(ratio, 1) > 1.0).then(|| SharedTrait {
                what: match t {
                    RecordTrait::Diagnosis(s) => SharedWhat::Diagnosis { name: RecordText::bounded(s, MAX_NAME_CHARS) },
                    RecordTrait::Drug(s) => SharedWhat::Drug { name: RecordText::bounded(s, MAX_NAME_CHARS) },
                    RecordTrait::Feature(s) => SharedWhat::Feature { name: s },
                },
                neighbours: n,
                neighbours_percent: percent(share),
                population_percent: percent(count as f64 / total.max(1) as f64),
                ratio: round(ratio, 1),
            })
        })
        .collect();
    out.sort_by(|a, b| b.ratio.total_cmp(&a.ratio).then(b.neighbours.cmp(&a.neighbours)));
    out
}

impl Tool for ExplainNeighbourhood {
    const NAME: ToolName = ToolName::ExplainNeighbourhood;
    const DESCRIPTION: &'static str = "Explains this patient's in silico cohort: what the most similar historical \
patients have in common that the whole population does not (diagnoses, drugs, sex, age, DAS28 level, CRP), with \
counts, shares and how many times more common it is among them.";
    const EXAMPLES: &'static [&'static str] = &[
        "What do the similar patients have in common?",
        "Why are these patients considered similar to her?",
        "What characterises the neighbourhood of this patient?",
        "Which drugs are over-represented among comparable patients?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::required(&[
        "similar", "comparable", "patients like", "cohort", "in silico", "neighbourhood", "neighborhood",
        "neighbours", "neighbors", "in common", "other patients",
    ]);
    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 10;
    const MAX_BYTES: usize = 6 * 1024;

    type Input = ExplainNeighbourhoodInput;
    type Output = ExplainNeighbourhoodOutput;

    fn facts(output: &Self::Output) -> Facts {
        neighbourhood_facts(output)
    }

    /// The cohort size the question names ("the 10 most similar patients"); else the
    /// default, never a size the model makes up.
    fn arguments_read(reading: &crate::reading::Reading) -> serde_json::Map<String, serde_json::Value> {
        crate::similar_patients::cohort_size_argument(reading)
    }

    const READINGS: &'static [crate::reading::Asks] = &[crate::reading::Asks::CohortProfile];

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
        let sets: Vec<_> = report
            .audit
            .neighbour_ids
            .iter()
            .zip(&report.audit.neighbour_index_times)
            .map(|(p, t)| cohort.traits_at(p, *t))
            .collect();
        let shared = over_represented(&sets, |t| cohort.population_count(t));
        let mut trimmer = Trimmer::default();
        let population_snapshots = cohort.population_snapshots();
        let out = ExplainNeighbourhoodOutput {
            patient: journey.patient.id.to_string(),
            index_date: report.index_date,
            similar_patients_found: report.k,
            population_snapshots,
            shared: trimmer.keep_first(shared, Self::MAX_ITEMS),
            method: METHOD,
            audit: Some(cohort.audit_record(&report)),
        };
        Ok(Bounded::new(out, trimmer))
    }
}

/// What the neighbours share more than the population, with counts and ratios.
fn neighbourhood_facts(v: &ExplainNeighbourhoodOutput) -> Facts {
    let shared: Vec<String> = v
        .shared
        .iter()
        .map(|s| {
            let (kind, name) = match &s.what {
                SharedWhat::Diagnosis { name } => ("diagnosis", name.record_text.as_str()),
                SharedWhat::Drug { name } => ("drug", name.record_text.as_str()),
                SharedWhat::Feature { name } => ("feature", *name),
            };
            format!(
                "{kind} {name} ({} neighbours, {}% vs {}% of the population, {} times as common)",
                s.neighbours,
                s.neighbours_percent,
                s.population_percent,
                said(&s.ratio)
            )
        })
        .collect();
    let (found, patient) = (v.similar_patients_found, said(&v.patient));
    if shared.is_empty() {
        return Facts::stated(format!(
            "The {found} most similar historical patients of {patient} share nothing more often than the population does."
        ));
    }
    Facts::stated(format!(
        "What the {found} most similar historical patients of {patient} share more than the population: {}.",
        shared.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn lists_what_the_neighbours_share_more_than_the_population() {
        let set = |items: &[RecordTrait]| items.iter().cloned().collect::<BTreeSet<_>>();
        let tnfi = RecordTrait::Drug("adalimumab".into());
        let female = RecordTrait::Feature("female");
        let rare = RecordTrait::Diagnosis("systemic sclerosis".into());
        // 4 neighbours: all female, 3 on adalimumab, 1 with the rare diagnosis.
        let neighbours = vec![
            set(&[female.clone(), tnfi.clone()]),
            set(&[female.clone(), tnfi.clone()]),
            set(&[female.clone(), tnfi.clone(), rare.clone()]),
            set(&[female.clone()]),
        ];
        // Population of 100: 75 female (as common as among the neighbours: ratio 1.33),
        // 10 on adalimumab (ratio 7.5), the diagnosis in 1.
        let population = |t: &RecordTrait| match t {
            t if *t == female => (75, 100),
            t if *t == tnfi => (10, 100),
            _ => (1, 100),
        };
        let shared = over_represented(&neighbours, population);
        assert_eq!(shared.len(), 2, "a trait of one neighbour is not shared: {shared:?}");
        assert_eq!(shared[0].what, SharedWhat::Drug { name: RecordText::bounded("adalimumab", 80) });
        assert_eq!((shared[0].neighbours, shared[0].neighbours_percent, shared[0].population_percent), (3, 75, 10));
        assert_eq!(shared[0].ratio, 7.5);
        assert_eq!((shared[1].neighbours, shared[1].ratio), (4, 1.3));
        // As common as in the population: not over-represented.
        let shared = over_represented(&neighbours, |_| (100, 100));
        assert!(shared.is_empty(), "{shared:?}");
    }
}
