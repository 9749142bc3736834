//! `lab_trend`: one lab test over time, flagged against its reference range, with a
//! trend (slope per 30 days, 95% interval, direction) over a window.

use audit_log::{Principal, Role};
use chrono::{Duration, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::PatientId;

use crate::bounded::{Bounded, Trimmer};
use crate::change::{Change, CompareTo};
use crate::context::ToolContext;
use crate::error::ToolError;
use crate::facts::{said, Aspect, Facts};
use crate::reading::{Asks, Reading};
use crate::record::{self, PatientArg};
use crate::reference::{Flag, LabTest, ReferenceRange, ALT_ULN};
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::tool::Tool;
use crate::trend::{trend, TrendFacts};
use crate::vocabulary::Vocabulary;

pub struct LabTrend;

/// Days looked back from the latest value when the caller names no window.
pub const DEFAULT_WINDOW_DAYS: u32 = 365;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabTrendInput {
    pub patient: PatientArg,
    pub test: LabTest,
    /// Days before the latest value that the trend and the listed values cover
    /// (default 365, at most 3650).
    #[serde(default)]
    #[schemars(range(min = 1, max = 3650))]
    pub window_days: Option<u32>,
    /// The last this many values instead of a window in days ("over the last three
    /// visits"): the trend and the listed values cover exactly those (at most 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub last_n: Option<u32>,
    /// Also compare the latest value with an earlier one: the previous value, or the
    /// one nearest a number of days before ("than a year ago").
    #[serde(default)]
    pub compare_to: Option<CompareTo>,
}

/// One value with its flag.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LabPoint {
    pub date: NaiveDate,
    pub value: f64,
    pub flag: Flag,
    /// The value as a multiple of the upper limit of normal (ALT only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times_uln: Option<f64>,
}

/// How many values in the window had each flag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct FlagCounts {
    pub critical_low: usize,
    pub low: usize,
    pub normal: usize,
    pub high: usize,
    pub critical_high: usize,
}

impl FlagCounts {
    fn add(&mut self, flag: Flag) {
        match flag {
            Flag::CriticalLow => self.critical_low += 1,
            Flag::Low => self.low += 1,
            Flag::Normal => self.normal += 1,
            Flag::High => self.high += 1,
            Flag::CriticalHigh => self.critical_high += 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LabTrendOutput {
    pub patient: String,
    pub test: LabTest,
    pub test_name: &'static str,
    pub loinc: &'static str,
    pub reference_range: ReferenceRange,
    /// The most recent value, flagged; absent when the record has none.
    pub latest: Option<LabPoint>,
    /// Days the window covers: the asked or default look-back, or with `last_n` the
    /// days from the first to the latest of those values.
    pub window_days: u32,
    /// The window is the last this many values (asked as `last_n`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_n: Option<u32>,
    /// Trend over the window ending at the latest value.
    pub trend: TrendFacts,
    pub flags_in_window: FlagCounts,
    /// Values in the window, most recent last (the oldest are cut first).
    pub values: Vec<LabPoint>,
    pub values_in_window: usize,
    pub values_in_record: usize,
    /// Values recorded in a unit the test is not read in (CRP in mg/dL is converted;
    /// nothing else is): left out.
    pub values_in_other_units: usize,
    /// The latest value against the earlier one asked (`compare_to`); absent when not
    /// asked or with fewer than two values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

impl Tool for LabTrend {
    const NAME: ToolName = ToolName::LabTrend;
    const DESCRIPTION: &'static str = "One lab test of one patient over time: latest value flagged against the reference range \
(low/normal/high/critical), the trend (slope per 30 days with 95% interval, rising/falling/stable) and flag counts over a window.";
    const EXAMPLES: &'static [&'static str] = &[
        "What is the latest CRP of this patient?",
        "Is the ESR going up?",
        "Has the ALT been above three times the upper limit on methotrexate?",
        "Is she anaemic?",
        "How has creatinine changed over the last two years?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::boosting(&[
        "crp", "c-reactive", "esr", "sedimentation", "haemoglobin", "hemoglobin", "hb", "anaemic", "anemic", "anaemia",
        "anemia", "alt", "alanine", "transaminase", "liver enzyme", "liver enzymes", "creatinine", "kidney function",
        "rheumatoid factor", "rf", "anti-ccp", "ccp", "acpa", "c3", "c4", "complement", "lab", "blood test",
        "inflammation", "inflammatory", "marker", "markers",
    ]);
    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 24;
    const MAX_BYTES: usize = 8 * 1024;

    type Input = LabTrendInput;
    type Output = LabTrendOutput;

    fn facts(output: &Self::Output) -> Facts {
        lab_facts(output)
    }

    const READINGS: &'static [Asks] = &[Asks::Value, Asks::Existence, Asks::Count, Asks::Trend, Asks::Comparison];

    /// A record fact about one named lab test.
    fn answers(reading: &Reading) -> bool {
        Self::READINGS.contains(&reading.asks) && reading.lab_test().is_some()
    }

    /// The test, when the question names exactly one, and the span it names: a
    /// look-back in days, or the last N values.
    fn arguments_read(reading: &Reading) -> serde_json::Map<String, serde_json::Value> {
        let mut named = serde_json::Map::new();
        if let Some(test) = reading.lab_test() {
            named.insert("test".to_owned(), serde_json::json!(test));
        }
        named.extend(crate::change::span_arguments(reading));
        named
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
        let test = input.test;
        let sex = record::sex(&journey);
        // The range at a value's date: ESR's limit grows with age.
        let range_on = |date| test.range(sex, record::age_on_date(&journey, date));
        let (values, other_units) = record::lab_values(&journey, test);
        let range =
            range_on(values.last().map_or_else(|| record::last_event_date(&journey), |v| Some(v.time.date_naive())));
        let point = |v: &record::LabValue| LabPoint {
            date: v.time.date_naive(),
            value: v.value,
            flag: range_on(Some(v.time.date_naive())).flag(v.value),
            times_uln: (test == LabTest::Alt).then(|| crate::reference::round(v.value / ALT_ULN, 2)),
        };
        let last_n = input.last_n.map(|n| n.clamp(1, 100));
        let (in_window, window_days) = window(&values, input.window_days, last_n);
        let series: Vec<_> = in_window.iter().map(|v| (v.time, v.value)).collect();
        let mut flags = FlagCounts::default();
        let points: Vec<LabPoint> = in_window.iter().map(|v| point(v)).collect();
        points.iter().for_each(|p| flags.add(p.flag));
        let mut trimmer = Trimmer::default();
        let output = LabTrendOutput {
            patient: journey.patient.id.to_string(),
            test,
            test_name: test.name(),
            loinc: test.loinc(),
            latest: values.last().map(point),
            window_days,
            last_n,
            trend: trend(&series, test.stable_slope_per_30_days()),
            flags_in_window: flags,
            values_in_window: points.len(),
            values: trimmer.keep_last(points, Self::MAX_ITEMS),
            values_in_record: values.len(),
            values_in_other_units: other_units,
            change: input.compare_to.and_then(|to| {
                let all: Vec<_> = values.iter().map(|v| (v.time, v.value)).collect();
                Change::of(&all, to)
            }),
            reference_range: range,
        };
        Ok(Bounded::new(output, trimmer))
    }
}

/// The values a call covers, and the days they span: the last `last_n` values when
/// asked, else those in the `window_days` (default [`DEFAULT_WINDOW_DAYS`]) before the
/// latest value.
fn window(
    values: &[record::LabValue],
    window_days: Option<u32>,
    last_n: Option<u32>,
) -> (Vec<&record::LabValue>, u32) {
    let Some(last) = values.last() else {
        return (Vec::new(), window_days.unwrap_or(DEFAULT_WINDOW_DAYS).clamp(1, 3650));
    };
    if let Some(n) = last_n {
        let kept: Vec<&record::LabValue> = values[values.len().saturating_sub(n as usize)..].iter().collect();
        let span = kept.first().map_or(0, |first| (last.time - first.time).num_days());
        return (kept, u32::try_from(span).unwrap_or(u32::MAX).max(1));
    }
    let days = window_days.unwrap_or(DEFAULT_WINDOW_DAYS).clamp(1, 3650);
    let from = last.time - Duration::days(i64::from(days));
    (values.iter().filter(|v| v.time >= from).collect(), days)
}

/// The latest value with its date and flag, the trend over the window (days or the
/// last N values), and how many values the record and the window hold.
fn lab_facts(v: &LabTrendOutput) -> Facts {
    let (patient, name, unit) = (said(&v.patient), said(v.test_name), v.reference_range.unit);
    let Some(latest) = &v.latest else {
        return Facts::nothing(format!("The record of {patient} has no {name} value."));
    };
    let opening = format!(
        "Latest {name} of {patient}: {} {unit} on {}, flagged {}.",
        said(&latest.value),
        said(&latest.date),
        said(&latest.flag)
    );
    let span = match (v.last_n, v.values.first()) {
        (Some(_), Some(first)) => {
            format!("the last {} values ({} to {})", v.values_in_window, said(&first.date), said(&latest.date))
        }
        _ => format!("the last {} days", v.window_days),
    };
    let trend = if v.trend.direction != crate::trend::Trend::InsufficientData {
        format!("Trend over {span}: {} ({} values).", said(&v.trend.direction), v.trend.n)
    } else {
        "Too few values for a trend.".to_owned()
    };
    // Counts only: flag words here would read as the latest value's flag to the
    // check of a model's lead (`flags_in_window` holds them per flag). The record's
    // count and the span's apart: a count question naming no span is answered by the
    // record's.
    let count = format!("The record holds {} {name} values.", v.values_in_record);
    let in_span = format!("Over {span}: {} {name} values.", v.values_in_window);
    let mut parts = vec![(Aspect::Trend, trend), (Aspect::Count, count), (Aspect::SpanCount, in_span)];
    if let Some(change) = &v.change {
        parts.insert(0, (Aspect::Change, change.sentence(unit, v.test.worse_when())));
    }
    Facts::in_parts(opening, parts).comparing(v.change.as_ref().map(|c| c.span(unit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_a_question_names_is_an_argument() {
        let named = |q: &str| LabTrend::arguments_named_in(q).get("test").cloned();
        assert_eq!(named("What is the latest haemoglobin?"), Some(serde_json::json!("haemoglobin")));
        assert_eq!(named("Is the C-reactive protein rising?"), Some(serde_json::json!("crp")));
        assert_eq!(named("Is she anaemic?"), Some(serde_json::json!("haemoglobin")));
        assert_eq!(named("Compare the CRP and the ESR"), None, "two tests: the model chooses");
        assert_eq!(named("How is she doing?"), None);
    }
    use crate::testutil::*;
    use crate::trend::Trend;

    fn input(patient: &str, test: LabTest, window_days: Option<u32>) -> LabTrendInput {
        LabTrendInput { patient: PatientArg(pid(patient)), test, window_days, last_n: None, compare_to: None }
    }

    /// CRP rising by 3 mg/L a month: the latest is flagged high, the trend rising with
    /// the exact slope, and a value in a unit RDT does not convert is left out and counted.
    #[tokio::test]
    async fn flags_the_latest_value_and_reads_the_trend() {
        let mut chart = Chart::new("p1", "female", date(1970, 5, 1));
        for i in 0..5 {
            chart = chart.lab(day(2024, 1, 1) + Duration::days(30 * i), "1988-5", 2.0 + 3.0 * i as f64, "mg/L");
        }
        chart = chart.lab(day(2023, 12, 1), "1988-5", 1.0, "nmol/L");
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), input("p1", LabTest::Crp, None)).await.unwrap();
        assert!(!out.truncated);
        let v = out.value;
        assert_eq!(v.latest.as_ref().unwrap().value, 14.0);
        assert_eq!(v.latest.as_ref().unwrap().flag, Flag::High);
        assert_eq!(v.trend.direction, Trend::Rising);
        assert_eq!(v.trend.slope_per_30_days, Some(3.0));
        assert_eq!(v.flags_in_window.normal, 2); // 2 and 5 mg/L
        assert_eq!(v.flags_in_window.high, 3);
        assert_eq!(v.values_in_other_units, 1);
        assert_eq!(v.values_in_record, 5);
    }

    /// The last three values, asked as `last_n`: the trend is theirs (falling) though
    /// the year holds an earlier low value (rising over the year), and the facts say
    /// "over the last 3 values" with their dates and the counts.
    #[tokio::test]
    async fn the_last_n_values_make_the_trend() {
        let chart = Chart::new("p1", "female", date(1970, 5, 1))
            .lab(day(2023, 6, 1), "1988-5", 2.0, "mg/L")
            .lab(day(2024, 1, 10), "1988-5", 30.0, "mg/L")
            .lab(day(2024, 3, 10), "1988-5", 20.0, "mg/L")
            .lab(day(2024, 5, 2), "1988-5", 10.0, "mg/L");
        let (_dir, ctx) = store_with(vec![chart]).await;
        let year = LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), input("p1", LabTest::Crp, None)).await.unwrap();
        assert_eq!((year.value.values_in_window, year.value.last_n), (4, None));
        let last = LabTrendInput { last_n: Some(3), ..input("p1", LabTest::Crp, None) };
        let v = LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), last).await.unwrap().value;
        assert_eq!((v.values_in_window, v.last_n, v.trend.direction), (3, Some(3), Trend::Falling));
        assert_eq!(v.window_days, (date(2024, 5, 2) - date(2024, 1, 10)).num_days() as u32);
        let text = LabTrend::facts(&v).text;
        assert!(text.contains("Trend over the last 3 values (2024-01-10 to 2024-05-02): falling (3 values)."), "{text}");
        assert!(text.contains("The record holds 4 CRP values. Over the last 3 values (2024-01-10 to 2024-05-02): 3 CRP values."), "{text}");
    }

    /// A CRP recorded in mg/dL is read in mg/L (x10), flagged as such and counted among
    /// the values, not the other units.
    #[tokio::test]
    async fn crp_in_mg_per_decilitre_is_read_in_mg_per_litre() {
        let chart = Chart::new("p1", "female", date(1970, 5, 1))
            .lab(day(2024, 1, 1), "1988-5", 3.0, "mg/L")
            .lab(day(2024, 2, 1), "1988-5", 0.8, "mg/dL");
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), input("p1", LabTest::Crp, None)).await.unwrap();
        let v = out.value;
        assert_eq!(v.latest.as_ref().map(|p| (p.value, p.flag)), Some((8.0, Flag::High)));
        assert_eq!((v.values_in_record, v.values_in_other_units), (2, 0));
        assert_eq!(v.reference_range.unit, "mg/L");
    }

    #[tokio::test]
    async fn alt_above_three_times_the_limit_is_critical_with_its_multiple() {
        let chart = Chart::new("p1", "male", date(1960, 1, 1)).lab(day(2024, 1, 1), "1742-6", 35.0, "U/L").lab(
            day(2024, 3, 1),
            "1742-6",
            160.0,
            "U/L",
        );
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), input("p1", LabTest::Alt, None)).await.unwrap();
        let latest = out.value.latest.unwrap();
        assert_eq!(latest.flag, Flag::CriticalHigh);
        assert_eq!(latest.times_uln, Some(4.0));
        assert_eq!(out.value.trend.direction, Trend::InsufficientData);
    }

    /// Haemoglobin 12.5 g/dL is normal for a woman and low for a man.
    #[tokio::test]
    async fn haemoglobin_is_read_against_the_patients_sex() {
        let f = Chart::new("f", "female", date(1970, 1, 1)).lab(day(2024, 1, 1), "718-7", 12.5, "g/dL");
        let m = Chart::new("m", "male", date(1970, 1, 1)).lab(day(2024, 1, 1), "718-7", 12.5, "g/dL");
        let (_dir, ctx) = store_with(vec![f, m]).await;
        let s = scope(&["f", "m"]);
        let flag = |p: &'static str| {
            let (ctx, s) = (&ctx, &s);
            async move {
                LabTrend
                    .call(ctx, &clinician(), s, input(p, LabTest::Haemoglobin, None))
                    .await
                    .unwrap()
                    .value
                    .latest
                    .unwrap()
                    .flag
            }
        };
        assert_eq!(flag("f").await, Flag::Normal);
        assert_eq!(flag("m").await, Flag::Low);
    }

    /// 400 values over 400 days: the window keeps a year, the list keeps the bound and
    /// says how many it cut, and the output stays under the byte bound.
    #[tokio::test]
    async fn long_series_are_windowed_and_bounded() {
        let mut chart = Chart::new("p1", "female", date(1970, 1, 1));
        for i in 0..400 {
            chart = chart.lab(day(2023, 1, 1) + Duration::days(i), "4537-7", 20.0 + (i % 7) as f64, "mm/h");
        }
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out =
            LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), input("p1", LabTest::Esr, Some(99))).await.unwrap();
        assert_eq!(out.value.values_in_window, 100);
        assert_eq!(out.value.values.len(), LabTrend::MAX_ITEMS);
        assert!(out.truncated);
        assert_eq!(out.omitted, 100 - LabTrend::MAX_ITEMS);
        assert_eq!(out.value.values.last().unwrap().date, out.value.latest.as_ref().unwrap().date);
        assert!(serde_json::to_vec(&out).unwrap().len() <= LabTrend::MAX_BYTES);
    }

    /// A woman born 1960: ESR 34 mm/h is high at 55 (limit 32.5) and normal at 60
    /// (limit 35): each value is read against the range at its own date.
    #[tokio::test]
    async fn esr_is_read_against_the_age_at_the_value() {
        let chart = Chart::new("p1", "female", date(1960, 1, 1)).lab(day(2015, 6, 1), "4537-7", 34.0, "mm/h").lab(
            day(2020, 6, 1),
            "4537-7",
            34.0,
            "mm/h",
        );
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out =
            LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), input("p1", LabTest::Esr, Some(3650))).await.unwrap();
        let flags: Vec<Flag> = out.value.values.iter().map(|p| p.flag).collect();
        assert_eq!(flags, [Flag::High, Flag::Normal]);
        assert_eq!(out.value.reference_range.high, Some(35.0));
    }

    #[tokio::test]
    async fn a_patient_without_the_test_gets_no_latest_and_no_trend() {
        let (_dir, ctx) = store_with(vec![Chart::new("p1", "female", date(1970, 1, 1))]).await;
        let out = LabTrend.call(&ctx, &clinician(), &scope(&["p1"]), input("p1", LabTest::Crp, None)).await.unwrap();
        assert!(out.value.latest.is_none());
        assert_eq!(out.value.trend.direction, Trend::InsufficientData);
        assert_eq!(out.value.values_in_record, 0);
    }

    #[tokio::test]
    async fn out_of_scope_and_wrong_role_are_refused_before_reading() {
        let (_dir, ctx) = store_with(vec![Chart::new("p1", "female", date(1970, 1, 1))]).await;
        let err =
            LabTrend.call(&ctx, &clinician(), &scope(&["p2"]), input("p1", LabTest::Crp, None)).await.unwrap_err();
        assert!(matches!(err, ToolError::OutOfScope { .. }), "{err}");
        // an unknown patient outside scope gets the same refusal as a known one
        let err =
            LabTrend.call(&ctx, &clinician(), &scope(&["p2"]), input("nobody", LabTest::Crp, None)).await.unwrap_err();
        assert!(matches!(err, ToolError::OutOfScope { .. }), "{err}");
        let err = LabTrend
            .call(&ctx, &clinician(), &scope(&["nobody"]), input("nobody", LabTest::Crp, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::UnknownPatient(_)), "{err}");
        let auditor = Principal::new("aud", Role::Auditor);
        let err = LabTrend.call(&ctx, &auditor, &scope(&["p1"]), input("p1", LabTest::Crp, None)).await.unwrap_err();
        assert!(matches!(err, ToolError::WrongRole { .. }), "{err}");
    }
}
