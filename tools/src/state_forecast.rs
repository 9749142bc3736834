//! `state_forecast`: the disease-state model's forecast for one patient: the chance of
//! remission, low, moderate and high DAS28 activity 150, 270 and 360 days on, with
//! 95% bootstrap intervals and the expected days in each state over the year, from
//! their latest DAS28 under their current treatment (`twin_core::state`).
//!
//! The model is the install's fitted [`StateModel`], handed to the tool through
//! [`ToolContext::with_state_model`]; its version (SHA-256 of the model file) is in
//! every result, so an audit entry names the counts a forecast came from.

use audit_log::{Principal, Role};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::clinical::ActivityCategory;
use twin_core::state::{patient_forecast, Treatment};
use journey::PatientId;

use crate::bounded::{Bounded, Trimmer};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::{said, Facts};
use crate::record::PatientArg;
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::tool::Tool;
use crate::vocabulary::Vocabulary;

pub struct StateForecast;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateForecastInput {
    pub patient: PatientArg,
    /// The date to forecast from (YYYY-MM-DD); omitted: the patient's last recorded day.
    #[serde(default)]
    pub at: Option<NaiveDate>,
}

/// The treatment the forecast holds fixed, as the state model groups regimens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentClass {
    None,
    Csdmard,
    TnfInhibitor,
    OtherAdvanced,
}

impl From<Treatment> for TreatmentClass {
    fn from(t: Treatment) -> Self {
        match t {
            Treatment::None => TreatmentClass::None,
            Treatment::Csdmard => TreatmentClass::Csdmard,
            Treatment::TnfInhibitor => TreatmentClass::TnfInhibitor,
            Treatment::OtherAdvanced => TreatmentClass::OtherAdvanced,
        }
    }
}

/// A probability with its 95% interval, rounded to 3 decimals.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StateChance {
    pub state: ActivityCategory,
    pub probability: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct HorizonChances {
    /// Days after `as_of`.
    pub days: i64,
    pub states: Vec<StateChance>,
}

/// Expected days in a state, with its 95% interval, rounded to whole days.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DaysInState {
    pub state: ActivityCategory,
    pub days: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct StateForecastOutput {
    pub patient: String,
    /// SHA-256 of the state model file the forecast used; absent when there is no model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_model_version: Option<String>,
    /// Why there is no forecast (no model fitted, no recent DAS28); the other fields
    /// are then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insufficient_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_das28: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_das28_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<ActivityCategory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treatment: Option<TreatmentClass>,
    pub horizons: Vec<HorizonChances>,
    /// Over the longest horizon.
    pub expected_days_in_state: Vec<DaysInState>,
    /// Transitions the first step rests on (from this state under this treatment).
    pub transitions_from_state: u32,
    /// Patients the model was estimated from.
    pub model_patients: usize,
    /// What the forecast assumes.
    pub assumption: &'static str,
}

const ASSUMPTION: &str = "Markov chain over DAS28 states estimated from the cohort's readings, 90-day steps; the \
current treatment continues unchanged; intervals are 95% bootstrap over patients.";

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl StateForecastOutput {
    fn empty(patient: &PatientId, version: Option<String>, reason: String) -> Self {
        StateForecastOutput {
            patient: patient.to_string(),
            state_model_version: version,
            insufficient_data: Some(reason),
            as_of: None,
            latest_das28: None,
            latest_das28_date: None,
            current_state: None,
            treatment: None,
            horizons: Vec::new(),
            expected_days_in_state: Vec::new(),
            transitions_from_state: 0,
            model_patients: 0,
            assumption: ASSUMPTION,
        }
    }
}

impl Tool for StateForecast {
    const NAME: ToolName = ToolName::StateForecast;
    const DESCRIPTION: &'static str = "Forecast of one patient's disease activity from the state model: the chance of \
DAS28 remission, low, moderate and high activity in 150, 270 and 360 days with 95% intervals, and expected days in \
each state over the year, from the latest DAS28 if the current treatment continues.";
    const EXAMPLES: &'static [&'static str] = &[
        "What is the chance she is in remission in a year?",
        "How likely is high disease activity in 6 months on the current treatment?",
        "Forecast his DAS28 state",
        "How many days of the next year will she likely spend in remission?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::required(&[
        "chance", "chances", "likely", "likelihood", "probability", "will", "forecast", "predict", "predicted",
        "prognosis", "expect", "expected", "next", "future", "in a year", "going to",
    ]);
    const READINGS: &'static [crate::reading::Asks] = &[crate::reading::Asks::Forecast];

    /// A forecast of disease activity (the state model forecasts DAS28 states, not a
    /// lab value or a drug): named, or asked of the patient ("will she ...?"); a
    /// future that is not the patient's ("will the stock market rise?") is not one.
    fn answers(reading: &crate::reading::Reading) -> bool {
        use crate::reading::{Asks, Concept};
        reading.asks == Asks::Forecast
            && match reading.concept {
                Some(Concept::DiseaseActivity | Concept::Flare) => true,
                None => reading.about_record,
                _ => false,
            }
    }

    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 4;
    const MAX_BYTES: usize = 4 * 1024;

    type Input = StateForecastInput;
    type Output = StateForecastOutput;

    fn facts(output: &Self::Output) -> Facts {
        forecast_facts(output)
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
        let trimmer = Trimmer::default();
        let Some((model, version)) = ctx.state_model() else {
            let reason = match ctx.state_model_refused() {
                Some(refused) => refused.to_owned(),
                None => "no state model is fitted in this install (`rdt forecast --refit` fits one)".to_owned(),
            };
            return Ok(Bounded::new(StateForecastOutput::empty(&journey.patient.id, None, reason), trimmer));
        };
        let version = Some(version.to_hex());
        let f = match patient_forecast(model, &journey.events, input.at) {
            Ok(f) => f,
            Err(e) => {
                return Ok(Bounded::new(
                    StateForecastOutput::empty(&journey.patient.id, version, e.to_string()),
                    trimmer,
                ));
            }
        };
        let horizons = f
            .forecast
            .horizons
            .iter()
            .map(|h| HorizonChances {
                days: h.days,
                states: h
                    .states
                    .iter()
                    .map(|s| StateChance {
                        state: s.state,
                        probability: r3(s.probability.value),
                        low: r3(s.probability.low),
                        high: r3(s.probability.high),
                    })
                    .collect(),
            })
            .collect();
        let days = f
            .forecast
            .time_in_state
            .iter()
            .map(|t| DaysInState {
                state: t.state,
                days: t.days.value.round(),
                low: t.days.low.round(),
                high: t.days.high.round(),
            })
            .collect();
        let output = StateForecastOutput {
            patient: journey.patient.id.to_string(),
            state_model_version: version,
            insufficient_data: None,
            as_of: Some(f.as_of),
            latest_das28: Some(f.start.das28),
            latest_das28_date: Some(f.start.date),
            current_state: Some(f.start.state),
            treatment: Some(f.treatment.into()),
            horizons,
            expected_days_in_state: days,
            transitions_from_state: f.forecast.transitions_from_state,
            model_patients: f.forecast.patients,
            assumption: ASSUMPTION,
        };
        Ok(Bounded::new(output, trimmer))
    }
}

/// A forecast result's JSON (`{"value": StateForecastOutput, ..}`'s value) as a table
/// for a terminal (`rdt forecast`): the latest reading, the model, each horizon's
/// chances with intervals, the expected days in each state and the assumption.
pub fn forecast_table(v: &serde_json::Value) -> String {
    use serde_json::Value;
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(reason) = v.get("insufficient_data") {
        return format!("{}: no forecast: {}\n", s(&v["patient"]), s(reason));
    }
    let mut out = format!(
        "{} as of {}: DAS28 {} on {} ({}), treatment {}\n",
        s(&v["patient"]),
        s(&v["as_of"]),
        s(&v["latest_das28"]),
        s(&v["latest_das28_date"]),
        s(&v["current_state"]),
        s(&v["treatment"])
    );
    out += &format!(
        "state model {} ({} patients; {} transitions from this state under this treatment)\n",
        s(&v["state_model_version"]).get(..16).unwrap_or_default(),
        s(&v["model_patients"]),
        s(&v["transitions_from_state"])
    );
    out += &format!("{:>9}  {:<20}{:<20}{:<20}{:<20}\n", "", "remission", "low", "moderate", "high");
    for h in v["horizons"].as_array().into_iter().flatten() {
        out += &format!("{:>4} days  ", s(&h["days"]));
        for st in h["states"].as_array().into_iter().flatten() {
            let cell = format!(
                "{:.2} ({:.2}-{:.2})",
                st["probability"].as_f64().unwrap_or(f64::NAN),
                st["low"].as_f64().unwrap_or(f64::NAN),
                st["high"].as_f64().unwrap_or(f64::NAN)
            );
            out += &format!("{cell:<20}");
        }
        out += "\n";
    }
    let days: Vec<String> = v["expected_days_in_state"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| format!("{} {} ({}-{})", s(&d["state"]), s(&d["days"]), s(&d["low"]), s(&d["high"])))
        .collect();
    out += &format!("expected days in each state over 360 days: {}\n", days.join(", "));
    out += &format!("{}\n", s(&v["assumption"]));
    out
}

/// The chance of each DAS28 state at the last horizon, with its interval.
fn forecast_facts(v: &StateForecastOutput) -> Facts {
    let patient = said(&v.patient);
    if let Some(reason) = &v.insufficient_data {
        return Facts::stated(format!("No state-model forecast for {patient}: {reason}."));
    }
    let Some(last) = v.horizons.last() else {
        return Facts::stated(format!("No state-model forecast for {patient}."));
    };
    let states: Vec<String> = last
        .states
        .iter()
        .map(|s| format!("{} {} ({} to {})", said(&s.state), said(&s.probability), said(&s.low), said(&s.high)))
        .collect();
    Facts::stated(format!(
        "State-model forecast for {patient} from DAS28 {} on {} ({}), {} continued: in {} days {}.",
        said(&v.latest_das28),
        said(&v.latest_das28_date),
        said(&v.current_state),
        said(&v.treatment),
        last.days,
        states.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testutil::*;
    use twin_core::state::{PatientSteps, StateModel, StateModelConfig, Step};

    fn model() -> StateModel {
        let t = Treatment::Csdmard;
        let steps = vec![
            Step { treatment: t, from: ActivityCategory::High, to: ActivityCategory::Moderate },
            Step { treatment: t, from: ActivityCategory::Moderate, to: ActivityCategory::Low },
        ];
        let data: Vec<PatientSteps> =
            (0..20).map(|i| PatientSteps { patient: pid(&format!("c{i}")), steps: steps.clone() }).collect();
        StateModel::fit(&data, StateModelConfig { resamples: 20, ..Default::default() })
    }

    fn chart() -> Chart {
        Chart::new("p1", "female", date(1970, 1, 1)).das28(day(2023, 1, 2), 5.8, 12.0, 8.0, 70.0).course(
            "6851",
            "methotrexate",
            day(2023, 1, 2),
            None,
        )
    }

    fn input(patient: &str) -> StateForecastInput {
        StateForecastInput { patient: PatientArg(pid(patient)), at: Some(date(2023, 2, 1)) }
    }

    #[tokio::test]
    async fn forecast_with_intervals_and_the_model_version() {
        let (_dir, ctx) = store_with(vec![chart()]).await;
        let model = model();
        let version = model.version();
        let ctx = ctx.with_state_model(Arc::new(model), version);
        let out = StateForecast.call(&ctx, &clinician(), &scope(&["p1"]), input("p1")).await.unwrap().value;
        assert_eq!(out.state_model_version, Some(version.to_hex()));
        assert_eq!((out.current_state, out.treatment), (Some(ActivityCategory::High), Some(TreatmentClass::Csdmard)));
        assert_eq!(out.horizons.iter().map(|h| h.days).collect::<Vec<_>>(), vec![150, 270, 360]);
        for h in &out.horizons {
            let total: f64 = h.states.iter().map(|s| s.probability).sum();
            assert!((total - 1.0).abs() < 0.005, "{total}");
            assert!(h.states.iter().all(|s| s.low <= s.probability && s.probability <= s.high));
        }
        assert!(serde_json::to_vec(&out).unwrap().len() <= StateForecast::MAX_BYTES);
    }

    /// An install's state model file edited after it was registered is refused by
    /// the registry: the tools of the install load without it (the other tools keep
    /// working), and the forecast states the refusal instead of forecasting.
    #[tokio::test]
    async fn a_tampered_install_state_model_is_refused_and_said() {
        use audit_log::{AuditLog, ModelRegistry, Role};
        let (dir, ctx) = store_with(vec![chart()]).await;
        let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
        let registry = ModelRegistry::new(AuditLog::open(&url).await.unwrap());
        let model = model();
        let path = StateModel::install_path(dir.path());
        model.save(&path).unwrap();
        model.register(&registry, &Principal::new("gov", Role::Governance), "test").await.unwrap();
        let index = twin_core::index::IndexConfig::local(dir.path());
        let tools = ToolContext::for_install(ctx.store().clone(), dir.path(), &index, &registry).await.unwrap();
        let out = StateForecast.call(&tools, &clinician(), &scope(&["p1"]), input("p1")).await.unwrap().value;
        assert_eq!(out.state_model_version, Some(model.version().to_hex()), "the registered file loads");

        let mut bytes = std::fs::read(&path).unwrap();
        bytes.push(b' ');
        std::fs::write(&path, &bytes).unwrap();
        assert!(ctx.clone().with_install_state_model(dir.path(), &registry).await.is_err(), "refused when asked for");
        let tools = ToolContext::for_install(ctx.store().clone(), dir.path(), &index, &registry).await.unwrap();
        let out = StateForecast.call(&tools, &clinician(), &scope(&["p1"]), input("p1")).await.unwrap().value;
        assert!(out.horizons.is_empty() && out.state_model_version.is_none());
        let said = serde_json::to_string(&out).unwrap();
        assert!(said.contains("refusing to load the state model") && said.contains("rdt forecast --refit"), "{said}");
    }

    #[tokio::test]
    async fn refuses_other_roles_and_patients_out_of_scope() {
        let (_dir, ctx) = store_with(vec![chart()]).await;
        let model = model();
        let version = model.version();
        let ctx = ctx.with_state_model(Arc::new(model), version);
        let err = StateForecast.call(&ctx, &clinician(), &scope(&["p2"]), input("p1")).await.unwrap_err();
        assert!(matches!(err, ToolError::OutOfScope { .. }), "{err}");
        let auditor = Principal::new("aud", Role::Auditor);
        let err = StateForecast.call(&ctx, &auditor, &scope(&["p1"]), input("p1")).await.unwrap_err();
        assert!(matches!(err, ToolError::WrongRole { .. }), "{err}");
    }

    #[tokio::test]
    async fn without_a_model_or_a_reading_it_says_so() {
        let (_dir, ctx) = store_with(vec![chart(), Chart::new("p2", "male", date(1960, 1, 1))]).await;
        let out = StateForecast.call(&ctx, &clinician(), &scope(&["p1"]), input("p1")).await.unwrap().value;
        assert!(out.insufficient_data.unwrap().contains("no state model"));
        assert!(out.horizons.is_empty());
        let model = model();
        let version = model.version();
        let ctx = ctx.with_state_model(Arc::new(model), version);
        let out = StateForecast.call(&ctx, &clinician(), &scope(&["p2"]), input("p2")).await.unwrap().value;
        assert!(out.insufficient_data.unwrap().contains("no DAS28"));
    }
}
