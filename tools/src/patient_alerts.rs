//! `patient_alerts`: the early alerts RDT raised on one patient's record (issue 22):
//! disease activity above the state model's forecast band, a methotrexate course the
//! twin head says is failing. Each with the date of the data that raised it, why in
//! numbers (RDT's own sentence, computed when the patient's twin last caught up), and
//! whether a clinician acknowledged it. Read from the journey store
//! (`JourneyStore::alerts_of`), never recomputed here.

use audit_log::{Principal, Role};
use chrono::NaiveDate;
use journey::PatientId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bounded::{Bounded, Trimmer};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::{said, Facts};
use crate::reading::Asks;
use crate::record::PatientArg;
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::tool::Tool;
use crate::vocabulary::Vocabulary;

pub struct PatientAlerts;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientAlertsInput {
    /// The patient's id.
    pub patient: PatientArg,
}

/// One alert as the record holds it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AlertFact {
    /// The rule: `activity_above_band` or `failing_course`.
    pub kind: String,
    pub title: String,
    /// The date of the data that raised it.
    pub raised_on: NaiveDate,
    /// Why, in RDT's sentence with the numbers.
    pub message: String,
    /// Who acknowledged it; absent while it is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PatientAlertsOutput {
    pub patient: String,
    /// Open alerts, newest data first.
    pub open: Vec<AlertFact>,
    pub open_total: usize,
    /// Acknowledged alerts, newest data first.
    pub acknowledged: Vec<AlertFact>,
}

impl Tool for PatientAlerts {
    const NAME: ToolName = ToolName::PatientAlerts;
    const DESCRIPTION: &'static str = "Early alerts RDT raised on one patient's record: disease activity above the state \
model's 90% forecast band, or a methotrexate course the twin head says is failing; each with its date, why in numbers, \
and whether a clinician acknowledged it.";
    const EXAMPLES: &'static [&'static str] = &[
        "Are there any alerts for this patient?",
        "Has RDT raised an early warning on her?",
        "Why is this patient flagged with an alert?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::boosting(&["alert", "alerts", "warning", "warnings", "early warning", "acknowledged"]);
    const READINGS: &'static [Asks] = &[Asks::Alerts];

    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 10;
    const MAX_BYTES: usize = 12 * 1024;

    type Input = PatientAlertsInput;
    type Output = PatientAlertsOutput;

    fn facts(output: &Self::Output) -> Facts {
        alert_facts(output)
    }

    fn patients(input: &Self::Input) -> Vec<PatientId> {
        vec![input.patient.0.clone()]
    }

    async fn call(
        &self,
        ctx: &ToolContext,
        principal: &Principal,
        scope: &Scope,
        input: Self::Input,
    ) -> Result<Bounded<Self::Output>, ToolError> {
        let journey = ctx.journey::<Self>(principal, scope, &input.patient.0).await?;
        let stored = ctx.store().alerts_of(&journey.patient.id).await?;
        let fact = |a: &journey::store::StoredAlert| AlertFact {
            kind: a.kind.clone(),
            title: twin_core::alerts::AlertKind::parse(&a.kind).map_or_else(|| a.kind.replace('_', " "), |k| k.title().to_owned()),
            raised_on: a.raised_on,
            message: a.message.clone(),
            acknowledged_by: a.acknowledged.as_ref().map(|(by, _)| by.clone()),
        };
        let open: Vec<AlertFact> = stored.iter().filter(|a| a.acknowledged.is_none()).map(fact).collect();
        let acknowledged: Vec<AlertFact> = stored.iter().filter(|a| a.acknowledged.is_some()).map(fact).collect();
        let mut trimmer = Trimmer::default();
        let output = PatientAlertsOutput {
            patient: journey.patient.id.to_string(),
            open_total: open.len(),
            open: trimmer.keep_first(open, Self::MAX_ITEMS),
            acknowledged: trimmer.keep_first(acknowledged, Self::MAX_ITEMS),
        };
        Ok(Bounded::new(output, trimmer))
    }
}

/// The open alerts with their reasons, then how many were acknowledged; "no open
/// alert" when none is, which is a fact the record states, not a gap.
fn alert_facts(v: &PatientAlertsOutput) -> Facts {
    let mut s = match v.open_total {
        0 => format!("No early alert is open for patient {}.", said(&v.patient)),
        n => format!("{n} early alert(s) open for patient {}:", said(&v.patient)),
    };
    for a in &v.open {
        s.push_str(&format!(" {} ({}): {}", a.title, said(&a.raised_on), a.message));
    }
    if !v.acknowledged.is_empty() {
        s.push_str(&format!(" {} earlier alert(s) acknowledged.", v.acknowledged.len()));
    }
    Facts::stated(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{clinician, date, scope, store_with, Chart};
    use journey::store::NewAlert;

    /// Open and acknowledged alerts are told apart, each with its reason; a patient
    /// with none gets the sentence that says so; the scope check runs first.
    #[tokio::test]
    async fn states_open_and_acknowledged_alerts() {
        let charts = vec![Chart::new("p1", "female", date(1970, 1, 1)), Chart::new("p2", "male", date(1960, 1, 1))];
        let (_dir, ctx) = store_with(charts).await;
        let p1 = PatientId::new("p1").unwrap();
        let raised = |kind: &str, day: u32, message: &str| NewAlert {
            kind: kind.into(),
            raised_on: NaiveDate::from_ymd_opt(2024, 2, day).unwrap(),
            message: message.into(),
        };
        ctx.store()
            .replace_alerts(&p1, &[raised("activity_above_band", 3, "DAS28 6.1 (high) on 2024-02-03 is above ..."), raised("failing_course", 9, "On methotrexate since ...")])
            .await
            .unwrap();
        let band = ctx.store().alerts_of(&p1).await.unwrap().into_iter().find(|a| a.kind == "activity_above_band").unwrap();
        ctx.store().acknowledge_alert(&p1, band.id, "dr-a").await.unwrap();

        let input = PatientAlertsInput { patient: PatientArg(p1.clone()) };
        let out = PatientAlerts.call(&ctx, &clinician(), &scope(&["p1"]), input).await.unwrap().value;
        assert_eq!((out.open_total, out.open[0].kind.as_str()), (1, "failing_course"));
        assert_eq!(out.acknowledged[0].acknowledged_by.as_deref(), Some("dr-a"));
        let text = PatientAlerts::facts(&out).text;
        assert!(text.starts_with("1 early alert(s) open for patient p1: Methotrexate course failing (2024-02-09): On methotrexate"), "{text}");
        assert!(text.ends_with("1 earlier alert(s) acknowledged."), "{text}");

        let none = PatientAlertsInput { patient: PatientArg(PatientId::new("p2").unwrap()) };
        let out = PatientAlerts.call(&ctx, &clinician(), &scope(&["p2"]), none).await.unwrap().value;
        assert_eq!(PatientAlerts::facts(&out).text, "No early alert is open for patient p2.");

        let outside = PatientAlertsInput { patient: PatientArg(p1) };
        assert!(PatientAlerts.call(&ctx, &clinician(), &scope(&["p2"]), outside).await.is_err());
    }
}
