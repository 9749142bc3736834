//! `compare_patients`: two patients side by side, as computed facts, with their
//! differences stated (DAS28 difference, same category or not, shared drugs and
//! diagnoses). Both patients must be in the caller's scope.

use audit_log::{Principal, Role};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::{Journey, Modality, PatientId};

use crate::bounded::{Bounded, Trimmer};
use crate::context::ToolContext;
use crate::das28::round2;
use crate::disease_activity::{das28_trend, point, Das28Point};
use crate::error::ToolError;
use crate::facts::Facts;
use crate::medication_history::{current, dmards_tried};
use crate::patient_summary::{latest_labs, LatestLab};
use crate::record::{self, PatientArg};
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::tool::Tool;
use crate::trend::Trend;

pub struct ComparePatients;

/// The window of each patient's DAS28 trend.
pub const TREND_WINDOW_DAYS: u32 = 365;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComparePatientsInput {
    pub patient_a: PatientArg,
    pub patient_b: PatientArg,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PatientSnapshot {
    pub patient: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_at_last_event: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_das28: Option<Das28Point>,
    /// DAS28 trend over the last year of readings.
    pub das28_trend: Trend,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub das28_slope_per_30_days: Option<f64>,
    pub current_medications: Vec<String>,
    pub dmards_tried: usize,
    pub latest_labs: Vec<LatestLab>,
    /// Diagnosis codes (distinct).
    pub diagnoses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Differences {
    /// Latest DAS28 of A minus that of B; absent unless both have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub das28_a_minus_b: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_activity_category: Option<bool>,
    pub shared_current_medications: Vec<String>,
    pub shared_diagnoses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ComparePatientsOutput {
    pub a: PatientSnapshot,
    pub b: PatientSnapshot,
    pub differences: Differences,
}

fn snapshot(journey: &Journey, trimmer: &mut Trimmer, max: usize) -> PatientSnapshot {
    let readings = record::das28_readings(journey);
    let (_, trend) = das28_trend(&readings, Some(TREND_WINDOW_DAYS));
    let courses = record::courses(journey);
    let mut diagnoses: Vec<String> =
        journey.events.iter().filter(|e| e.modality == Modality::Diagnosis).map(|e| e.code.code.clone()).collect();
    diagnoses.sort();
    diagnoses.dedup();
    PatientSnapshot {
        patient: journey.patient.id.to_string(),
        sex: journey.patient.sex.clone(),
        age_at_last_event: record::age(journey),
        latest_das28: readings.last().map(point),
        das28_trend: trend.direction,
        das28_slope_per_30_days: trend.slope_per_30_days,
        current_medications: trimmer.keep_first(current(&courses, record::last_event_date(journey)), max),
        dmards_tried: dmards_tried(&courses),
        latest_labs: latest_labs(journey),
        diagnoses: trimmer.keep_first(diagnoses, max),
    }
}

fn shared(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}

impl Tool for ComparePatients {
    const NAME: ToolName = ToolName::ComparePatients;
    const DESCRIPTION: &'static str =
        "Compare two patients side by side: age, sex, latest DAS28 and category, DAS28 trend over \
the last year, current drugs, DMARDs tried, latest flagged labs and diagnoses, with the differences computed.";
    const EXAMPLES: &'static [&'static str] = &[
        "Compare p-104 with p-221.",
        "Which of these two patients has more active disease?",
        "Are these two patients on the same treatment?",
    ];
    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 20;
    const MAX_BYTES: usize = 12 * 1024;

    type Input = ComparePatientsInput;
    type Output = ComparePatientsOutput;

    /// The assistant never calls this tool (a session's scope is one patient), so it
    /// has no sentence of its own yet: its top-level fields are all objects, and the
    /// fallback that listed top-level values listed none.
    fn facts(_output: &Self::Output) -> Facts {
        Facts::stated(format!("{} found: .", Self::NAME.as_str().replace('_', " ")))
    }

    fn patients(input: &Self::Input) -> Vec<PatientId> {
        vec![input.patient_a.0.clone(), input.patient_b.0.clone()]
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        principal: &Principal,
        scope: &Scope,
        input: Self::Input,
    ) -> Result<Bounded<Self::Output>, ToolError> {
        // Both checked before either is read.
        ctx.authorize::<Self>(principal, scope, [&input.patient_a.0, &input.patient_b.0])?;
        let a = ctx.journey::<Self>(principal, scope, &input.patient_a.0).await?;
        let b = ctx.journey::<Self>(principal, scope, &input.patient_b.0).await?;
        let mut trimmer = Trimmer::default();
        let a = snapshot(&a, &mut trimmer, Self::MAX_ITEMS);
        let b = snapshot(&b, &mut trimmer, Self::MAX_ITEMS);
        let differences = Differences {
            das28_a_minus_b: a
                .latest_das28
                .as_ref()
                .zip(b.latest_das28.as_ref())
                .map(|(x, y)| round2(x.das28 - y.das28)),
            same_activity_category: a
                .latest_das28
                .as_ref()
                .zip(b.latest_das28.as_ref())
                .map(|(x, y)| x.category == y.category),
            shared_current_medications: shared(&a.current_medications, &b.current_medications),
            shared_diagnoses: shared(&a.diagnoses, &b.diagnoses),
        };
        Ok(Bounded::new(ComparePatientsOutput { a, b, differences }, trimmer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn input(a: &str, b: &str) -> ComparePatientsInput {
        ComparePatientsInput { patient_a: PatientArg(pid(a)), patient_b: PatientArg(pid(b)) }
    }

    #[tokio::test]
    async fn compares_and_states_the_differences() {
        let a = Chart::new("a", "female", date(1960, 1, 1))
            .diagnosis(day(2020, 1, 1), "M05.79", "RA")
            .course("6851", "methotrexate", day(2020, 1, 1), None)
            .das28(day(2024, 1, 1), 5.5, 10.0, 6.0, 70.0);
        let b = Chart::new("b", "male", date(1970, 1, 1))
            .diagnosis(day(2021, 1, 1), "M05.79", "RA")
            .diagnosis(day(2021, 1, 1), "I10", "Hypertension")
            .course("6851", "methotrexate", day(2021, 1, 1), None)
            .course("327361", "adalimumab", day(2022, 1, 1), None)
            .das28(day(2024, 1, 1), 2.3, 0.0, 0.0, 10.0);
        let (_dir, ctx) = store_with(vec![a, b]).await;
        let out = ComparePatients.call(&ctx, &clinician(), &scope(&["a", "b"]), input("a", "b")).await.unwrap().value;
        assert_eq!(out.differences.das28_a_minus_b, Some(3.2));
        assert_eq!(out.differences.same_activity_category, Some(false));
        assert_eq!(out.differences.shared_current_medications, vec!["methotrexate".to_owned()]);
        assert_eq!(out.differences.shared_diagnoses, vec!["M05.79".to_owned()]);
        assert_eq!((out.a.dmards_tried, out.b.dmards_tried), (1, 2));
    }

    /// One patient out of scope refuses the whole comparison.
    #[tokio::test]
    async fn both_patients_must_be_in_scope() {
        let (_dir, ctx) =
            store_with(vec![Chart::new("a", "female", date(1960, 1, 1)), Chart::new("b", "male", date(1970, 1, 1))])
                .await;
        for (x, y) in [("a", "b"), ("b", "a")] {
            let err = ComparePatients.call(&ctx, &clinician(), &scope(&["a"]), input(x, y)).await.unwrap_err();
            assert!(matches!(&err, ToolError::OutOfScope { patient } if patient == "b"), "{err}");
        }
    }
}
