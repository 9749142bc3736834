//! The registry: every tool by [`ToolName`], its [`ToolSpec`] (description, examples,
//! role, bounds, JSON schemas), and [`call_json`], the dynamic entry the assistant
//! uses with the arguments a model wrote.

use std::fmt;
use std::str::FromStr;

use audit_log::{CohortRecord, Principal, Role};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use journey::PatientId;

use crate::bounded::Bounded;
use crate::compare_patients::ComparePatients;
use crate::compare_treatments::CompareTreatments;
use crate::context::ToolContext;
use crate::disease_activity::DiseaseActivityHistory;
use crate::error::ToolError;
use crate::explain_neighbourhood::ExplainNeighbourhood;
use crate::facts::{facts_of, Facts};
use crate::glossary::Glossary;
use crate::lab_trend::LabTrend;
use crate::medication_history::MedicationHistory;
use crate::patient_alerts::PatientAlerts;
use crate::patient_summary::PatientSummary;
use crate::scope::{check_role, role_permits, Scope};
use crate::similar_patients::SimilarPatients;
use crate::state_forecast::StateForecast;
use crate::tool::Tool;

/// Every tool, by the name the model writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolName {
    PatientSummary,
    LabTrend,
    DiseaseActivityHistory,
    MedicationHistory,
    ComparePatients,
    Glossary,
    StateForecast,
    SimilarPatients,
    ExplainNeighbourhood,
    CompareTreatments,
    PatientAlerts,
}

impl ToolName {
    pub const ALL: [ToolName; 11] = [
        ToolName::PatientSummary,
        ToolName::LabTrend,
        ToolName::DiseaseActivityHistory,
        ToolName::MedicationHistory,
        ToolName::ComparePatients,
        ToolName::Glossary,
        ToolName::StateForecast,
        ToolName::SimilarPatients,
        ToolName::ExplainNeighbourhood,
        ToolName::CompareTreatments,
        ToolName::PatientAlerts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::PatientSummary => "patient_summary",
            ToolName::LabTrend => "lab_trend",
            ToolName::DiseaseActivityHistory => "disease_activity_history",
            ToolName::MedicationHistory => "medication_history",
            ToolName::ComparePatients => "compare_patients",
            ToolName::Glossary => "glossary",
            ToolName::StateForecast => "state_forecast",
            ToolName::SimilarPatients => "similar_patients",
            ToolName::ExplainNeighbourhood => "explain_neighbourhood",
            ToolName::CompareTreatments => "compare_treatments",
            ToolName::PatientAlerts => "patient_alerts",
        }
    }

    fn known() -> String {
        ToolName::ALL.map(ToolName::as_str).join(", ")
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for ToolName {
    type Err = ToolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ToolName::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| ToolError::UnknownTool { name: s.to_owned(), known: ToolName::known() })
    }
}

/// What the assistant (and `rdt tools list`) knows about a tool without running it.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    pub name: ToolName,
    pub description: &'static str,
    pub examples: &'static [&'static str],
    pub vocabulary: crate::vocabulary::Vocabulary,
    /// The arguments a question names ([`Tool::arguments_named_in`]).
    #[serde(skip)]
    pub arguments_named_in: fn(&str) -> serde_json::Map<String, serde_json::Value>,
    /// The arguments a reading names ([`Tool::arguments_read`]).
    #[serde(skip)]
    pub arguments_read: fn(&crate::reading::Reading) -> serde_json::Map<String, serde_json::Value>,
    /// The kinds of reading the tool answers ([`Tool::READINGS`]).
    pub readings: &'static [crate::reading::Asks],
    /// Whether the tool answers a reading ([`Tool::answers`]).
    #[serde(skip)]
    pub answers: fn(&crate::reading::Reading) -> bool,
    pub required_role: Role,
    pub max_items: usize,
    pub max_bytes: usize,
    /// JSON schema of the arguments, subschemas inlined (no `$ref`), so it can
    /// constrain a model's generation directly.
    pub input_schema: Value,
    /// JSON schema of the result: [`Bounded`] around the tool's output.
    pub output_schema: Value,
}

/// The spec of one tool type.
pub fn spec_of<T: Tool>() -> ToolSpec {
    let inline = |s: SchemaSettings| s.with(|s| s.inline_subschemas = true);
    let input =
        inline(SchemaSettings::draft2020_12().for_deserialize()).into_generator().into_root_schema_for::<T::Input>();
    let output =
        SchemaSettings::draft2020_12().for_serialize().into_generator().into_root_schema_for::<Bounded<T::Output>>();
    ToolSpec {
        name: T::NAME,
        description: T::DESCRIPTION,
        examples: T::EXAMPLES,
        vocabulary: T::VOCABULARY,
        arguments_named_in: T::arguments_named_in,
        arguments_read: T::arguments_read,
        readings: T::READINGS,
        answers: T::answers,
        required_role: T::REQUIRED_ROLE,
        max_items: T::MAX_ITEMS,
        max_bytes: T::MAX_BYTES,
        input_schema: input.to_value(),
        output_schema: output.to_value(),
    }
}

/// Every tool's spec, in [`ToolName::ALL`] order.
pub fn specs() -> Vec<ToolSpec> {
    ToolName::ALL.into_iter().map(spec_by_name).collect()
}

/// The specs of the tools `role` may call: what an assistant offers that user, so a
/// model is never shown a tool the caller could not run.
pub fn specs_for(role: Role) -> Vec<ToolSpec> {
    specs().into_iter().filter(|s| role_permits(s.required_role, role)).collect()
}

impl ToolSpec {
    /// One line for people (`rdt tools list`): name, role, bounds, description.
    pub fn list_line(&self) -> String {
        let (name, role) = (self.name.as_str(), self.required_role.as_str());
        format!("{name:<26} {role:<10} max {:>2} items, {:>5} bytes  {}", self.max_items, self.max_bytes, self.description)
    }

    /// One line for a tool-choice prompt: name, description, and the arguments as
    /// compact JSON schema properties (required ones listed).
    pub fn catalogue_line(&self) -> String {
        let properties = self.input_schema.get("properties").cloned().unwrap_or(Value::Null);
        let required = self.input_schema.get("required").cloned().unwrap_or(Value::Array(Vec::new()));
        format!(
            "- {}: {} Arguments: {} required: {}",
            self.name.as_str(),
            self.description,
            strip_descriptions(properties),
            required
        )
    }
}

/// The tool list for the `tool_choice` prompt, one line per tool.
pub fn catalogue(specs: &[ToolSpec]) -> String {
    specs.iter().map(ToolSpec::catalogue_line).collect::<Vec<_>>().join("\n")
}

/// Schema properties without their long descriptions and formats (the enum values and
/// types are what a model needs; the descriptions repeat the tool's).
fn strip_descriptions(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "description" | "format" | "default"))
                .map(|(k, v)| (k, strip_descriptions(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_descriptions).collect()),
        other => other,
    }
}

fn spec_by_name(name: ToolName) -> ToolSpec {
    match name {
        ToolName::PatientSummary => spec_of::<PatientSummary>(),
        ToolName::LabTrend => spec_of::<LabTrend>(),
        ToolName::DiseaseActivityHistory => spec_of::<DiseaseActivityHistory>(),
        ToolName::MedicationHistory => spec_of::<MedicationHistory>(),
        ToolName::ComparePatients => spec_of::<ComparePatients>(),
        ToolName::Glossary => spec_of::<Glossary>(),
        ToolName::StateForecast => spec_of::<StateForecast>(),
        ToolName::SimilarPatients => spec_of::<SimilarPatients>(),
        ToolName::ExplainNeighbourhood => spec_of::<ExplainNeighbourhood>(),
        ToolName::CompareTreatments => spec_of::<CompareTreatments>(),
        ToolName::PatientAlerts => spec_of::<PatientAlerts>(),
    }
}

/// One completed call, ready to show and to audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResult {
    pub tool: ToolName,
    pub arguments: Value,
    /// The [`Bounded`] output as JSON: `{"value": ..., "truncated": .., "omitted": ..}`.
    pub result: Value,
    pub truncated: bool,
    /// What the result states, in RDT's sentences ([`Tool::facts`], the cut said).
    pub facts: Facts,
    /// The patients the call read (from the validated input).
    pub patients: Vec<PatientId>,
    /// The tool's byte bound, for the audit record.
    pub max_bytes: usize,
    /// A cohort tool's neighbours with their real ids, for the audit entry only
    /// (never serialised: a clinician sees pseudonyms).
    #[serde(skip)]
    pub cohort: Option<CohortRecord>,
}

/// Runs the tool named `name` on arguments a model wrote, without recording it:
/// product callers go through [`crate::invoke`], which records every call; this is
/// for harnesses that read expected facts as the system.
///
/// Order: the name must be a known tool; the principal's role must fit it (before the
/// arguments are even read); the arguments must deserialize into the tool's input
/// (unknown fields refused, the bad field named); then the tool runs and checks scope
/// itself. `principal` and `scope` come from the caller's session, never from the
/// model.
pub async fn call_json(
    ctx: &ToolContext,
    principal: &Principal,
    scope: &Scope,
    name: &str,
    arguments: &Value,
) -> Result<ToolResult, ToolError> {
    let name: ToolName = name.parse()?;
    match name {
        ToolName::PatientSummary => call_typed(PatientSummary, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::LabTrend => call_typed(LabTrend, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::DiseaseActivityHistory => {
            call_typed(DiseaseActivityHistory, ctx, principal, scope, arguments).await.map(|(_, r)| r)
        }
        ToolName::MedicationHistory => call_typed(MedicationHistory, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::ComparePatients => call_typed(ComparePatients, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::Glossary => call_typed(Glossary, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::StateForecast => call_typed(StateForecast, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::SimilarPatients => call_typed(SimilarPatients, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::ExplainNeighbourhood => {
            call_typed(ExplainNeighbourhood, ctx, principal, scope, arguments).await.map(|(_, r)| r)
        }
        ToolName::CompareTreatments => call_typed(CompareTreatments, ctx, principal, scope, arguments).await.map(|(_, r)| r),
        ToolName::PatientAlerts => call_typed(PatientAlerts, ctx, principal, scope, arguments).await.map(|(_, r)| r),
    }
}

/// Runs one typed tool on JSON arguments: role first, then the arguments into the
/// tool's input, then the call (which checks scope). Returns the typed output beside
/// the [`ToolResult`] built from it, so a caller that renders the output (the web)
/// and the audit record see the same value.
pub(crate) async fn call_typed<T: Tool>(
    tool: T,
    ctx: &ToolContext,
    principal: &Principal,
    scope: &Scope,
    arguments: &Value,
) -> Result<(Bounded<T::Output>, ToolResult), ToolError> {
    check_role(T::NAME, T::REQUIRED_ROLE, principal)?;
    let input = parse_arguments::<T>(arguments)?;
    let patients = T::patients(&input);
    let output = tool.call(ctx, principal, scope, input).await?;
    let truncated = output.truncated;
    let cohort = T::cohort_record(&output.value);
    let facts = facts_of::<T>(&output);
    let result = serde_json::to_value(&output).map_err(|source| ToolError::Serialize { tool: T::NAME, source })?;
    let call = ToolResult {
        tool: T::NAME,
        arguments: arguments.clone(),
        result,
        truncated,
        facts,
        patients,
        max_bytes: T::MAX_BYTES,
        cohort,
    };
    Ok((output, call))
}

/// The typed input from JSON; `null` counts as `{}` (a tool without arguments).
pub(crate) fn parse_arguments<T: Tool>(arguments: &Value) -> Result<T::Input, ToolError> {
    let value = match arguments {
        Value::Null => Value::Object(Default::default()),
        v => v.clone(),
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ToolError::BadArguments {
            tool: T::NAME,
            field: if path == "." { "(arguments)".into() } else { path },
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_tools() {
        for t in ToolName::ALL {
            assert_eq!(t.as_str().parse::<ToolName>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), Value::String(t.as_str().into()));
        }
        let err = "show_all_patients".parse::<ToolName>().unwrap_err().to_string();
        assert!(err.contains("show_all_patients") && err.contains("lab_trend"), "{err}");
    }

    #[test]
    fn every_spec_has_an_inlined_object_input_schema_and_examples() {
        let specs = specs();
        assert_eq!(specs.len(), ToolName::ALL.len());
        for spec in &specs {
            assert_eq!(spec.input_schema["type"], "object", "{}", spec.name);
            let text = spec.input_schema.to_string();
            assert!(!text.contains("$ref"), "{}: {text}", spec.name);
            assert!(!spec.examples.is_empty() && !spec.description.is_empty());
            assert!(spec.output_schema["properties"]["truncated"].is_object(), "{}", spec.name);
            assert!(spec.max_items > 0 && spec.max_bytes > 0);
        }
    }

    #[test]
    fn a_role_is_offered_only_the_tools_it_may_call() {
        assert_eq!(specs_for(Role::Clinician).len(), ToolName::ALL.len());
        assert_eq!(specs_for(Role::System).len(), ToolName::ALL.len());
        for role in [Role::Auditor, Role::Governance, Role::Admin] {
            assert!(specs_for(role).is_empty(), "{role}");
        }
    }

    /// The catalogue names every tool with its argument names and allowed values, and
    /// stays small enough for a small model's prompt.
    #[test]
    fn the_catalogue_lists_tools_with_their_arguments() {
        let text = catalogue(&specs());
        assert_eq!(text.lines().count(), ToolName::ALL.len());
        for t in ToolName::ALL {
            assert!(text.contains(&format!("- {}: ", t.as_str())), "{t}");
        }
        let lab = text.lines().find(|l| l.starts_with("- lab_trend:")).unwrap();
        assert!(
            lab.contains("\"crp\"")
                && lab.contains("\"window_days\"")
                && lab.contains("required: [\"patient\",\"test\"]"),
            "{lab}"
        );
        assert!(text.len() < 8_000, "{} bytes", text.len());
    }

    #[test]
    fn bad_arguments_name_the_field() {
        let e = parse_arguments::<LabTrend>(&serde_json::json!({"patient": "p1", "test": "cholesterol"})).unwrap_err();
        match e {
            ToolError::BadArguments { field, message, .. } => {
                assert_eq!(field, "test");
                assert!(message.contains("cholesterol"), "{message}");
            }
            other => panic!("{other}"),
        }
        let e = parse_arguments::<PatientSummary>(&serde_json::json!({"patient": "p1", "scope": "all"})).unwrap_err();
        assert!(e.to_string().contains("unknown field `scope`"), "{e}");
        let e = parse_arguments::<PatientSummary>(&Value::Null).unwrap_err();
        assert!(e.to_string().contains("missing field `patient`"), "{e}");
        let e = parse_arguments::<PatientSummary>(&serde_json::json!({"patient": " "})).unwrap_err();
        assert!(matches!(e, ToolError::BadArguments { ref field, .. } if field == "patient"), "{e}");
    }
}
