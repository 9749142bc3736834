//! `disease_activity_history`: DAS28 readings with their parts and categories, flares
//! between consecutive readings, and the trend of the score; CDAI and SDAI scores (for
//! clinics that record them) with their own categories and flares
//! (`journey::clinical::activity`).

use audit_log::{Principal, Role};
use chrono::{Duration, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::clinical::{score_readings, Scale};
use journey::PatientId;

use crate::bounded::{Bounded, Trimmer};
use crate::change::{Change, CompareTo};
use crate::context::ToolContext;
use crate::das28::{is_flare, round2, ActivityCategory};
use crate::error::ToolError;
use crate::facts::{said, Aspect, Facts};
use crate::reading::{Asks, Concept, Reading};
use crate::record::{self, Das28Reading, Das28Variant, PatientArg};
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::tool::Tool;
use crate::trend::{trend, TrendFacts};
use crate::vocabulary::Vocabulary;

pub struct DiseaseActivityHistory;

/// A DAS28 slope smaller than this per 30 days is stable (the measurement's
/// short-term variability is about 0.6 over months; 0.1 a month adds up to that in a
/// half-year).
pub const STABLE_DAS28_PER_30_DAYS: f64 = 0.1;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiseaseActivityInput {
    pub patient: PatientArg,
    /// Days before the latest reading that the trend and the listed readings cover;
    /// omitted: the whole record.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub window_days: Option<u32>,
    /// The last this many readings instead of a window in days ("over the last three
    /// visits"): the trend, readings and flares cover exactly those (at most 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub last_n: Option<u32>,
    /// Also compare the latest DAS28 with an earlier one: the previous reading, or the
    /// one nearest a number of days before ("than a year ago").
    #[serde(default)]
    pub compare_to: Option<CompareTo>,
}

/// One DAS28 assessment.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Das28Point {
    pub date: NaiveDate,
    pub das28: f64,
    pub variant: Das28Variant,
    pub category: ActivityCategory,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tjc28: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sjc28: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_global_vas: Option<f64>,
}

/// A flare: a rise > 1.2, or > 0.6 to a DAS28 > 3.2, between consecutive readings.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Flare {
    pub date: NaiveDate,
    pub previous_date: NaiveDate,
    pub from: f64,
    pub to: f64,
    pub rise: f64,
}

/// Readings per category in the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct CategoryCounts {
    pub remission: usize,
    pub low: usize,
    pub moderate: usize,
    pub high: usize,
}

/// A CDAI or SDAI score, with the category of its own scale.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct IndexScore {
    pub date: NaiveDate,
    pub scale: Scale,
    pub score: f64,
    pub category: ActivityCategory,
}

/// The CDAI or SDAI series of a record: latest, flares by that scale's rule, count.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct IndexHistory {
    pub scale: Scale,
    pub latest: IndexScore,
    pub flares: usize,
    pub readings_in_record: usize,
    /// Most recent last (the oldest are cut first).
    pub readings: Vec<IndexScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DiseaseActivityOutput {
    pub patient: String,
    pub latest: Option<Das28Point>,
    /// The whole record when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_days: Option<u32>,
    /// The window is the last this many readings (asked as `last_n`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_n: Option<u32>,
    pub trend: TrendFacts,
    pub categories_in_window: CategoryCounts,
    /// Flares in the window, most recent last.
    pub flares: Vec<Flare>,
    pub flares_in_window: usize,
    /// Readings in the window, most recent last (the oldest are cut first).
    pub readings: Vec<Das28Point>,
    pub readings_in_window: usize,
    pub readings_in_record: usize,
    /// CDAI and SDAI, each on its own scale, when the record has them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_indices: Vec<IndexHistory>,
    /// The latest DAS28 against the earlier one asked (`compare_to`); absent when not
    /// asked or with fewer than two readings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// The CDAI and SDAI histories of a journey (DAS28 is the tool's main series).
fn index_histories(events: &[journey::Event], trimmer: &mut Trimmer, max_items: usize) -> Vec<IndexHistory> {
    let scores = score_readings(events);
    [Scale::Cdai, Scale::Sdai]
        .into_iter()
        .filter_map(|scale| {
            let series: Vec<IndexScore> = scores
                .iter()
                .filter(|r| r.scale == scale)
                .map(|r| IndexScore {
                    date: r.time.date_naive(),
                    scale,
                    score: r.score,
                    category: scale.category(r.score),
                })
                .collect();
            let latest = series.last()?.clone();
            let flares = series.windows(2).filter(|w| scale.is_flare(w[0].score, w[1].score)).count();
            Some(IndexHistory {
                scale,
                latest,
                flares,
                readings_in_record: series.len(),
                readings: trimmer.keep_last(series, max_items),
            })
        })
        .collect()
}

pub(crate) fn point(r: &Das28Reading) -> Das28Point {
    Das28Point {
        date: r.time.date_naive(),
        das28: r.score,
        variant: r.variant,
        category: ActivityCategory::of(r.score),
        tjc28: r.tjc28,
        sjc28: r.sjc28,
        patient_global_vas: r.patient_global_vas,
    }
}

/// The DAS28 trend over the last `window_days` (whole record when `None`).
pub(crate) fn das28_trend(readings: &[Das28Reading], window_days: Option<u32>) -> (Vec<&Das28Reading>, TrendFacts) {
    let in_window: Vec<&Das28Reading> = match (readings.last(), window_days) {
        // A window reaching before any representable date is the whole record (checked:
        // a question's "last 99999999 days" must not overflow the date arithmetic).
        (Some(last), Some(days)) => match last.time.checked_sub_signed(Duration::days(i64::from(days))) {
            Some(from) => readings.iter().filter(|r| r.time >= from).collect(),
            None => readings.iter().collect(),
        },
        _ => readings.iter().collect(),
    };
    let series: Vec<_> = in_window.iter().map(|r| (r.time, r.score)).collect();
    (in_window, trend(&series, STABLE_DAS28_PER_30_DAYS))
}

impl Tool for DiseaseActivityHistory {
    const NAME: ToolName = ToolName::DiseaseActivityHistory;
    const DESCRIPTION: &'static str = "This patient's recorded disease activity: their DAS28 readings with tender and swollen joint \
counts and patient global, the activity category of each (remission/low/moderate/high), their flares between visits, and \
their DAS28 trend; CDAI and SDAI (for clinics that record them) with their own categories and flares. Not for what a score \
or threshold means.";
    const EXAMPLES: &'static [&'static str] = &[
        "What was her DAS28 at the last visit?",
        "Is his arthritis in remission now?",
        "Has she had any flares this year?",
        "How many times has the DAS28 been recorded?",
        "How has disease activity changed since starting methotrexate?",
        "How many swollen joints at the last visit?",
        "What is her latest CDAI?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::boosting(&[
        "das28", "das-28", "disease activity", "flare", "flares", "flared", "remission", "active", "activity",
        "swollen", "tender", "joint", "joints", "patient global", "cdai", "sdai",
    ]);
    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 24;
    const MAX_BYTES: usize = 12 * 1024;

    type Input = DiseaseActivityInput;
    type Output = DiseaseActivityOutput;

    fn facts(output: &Self::Output) -> Facts {
        das28_facts(output)
    }

    /// The look-back the question names.
    const READINGS: &'static [Asks] = &[Asks::Value, Asks::Existence, Asks::Count, Asks::Trend, Asks::Comparison];

    /// A record fact about DAS28 (or CDAI, SDAI, joint counts) or flares.
    fn answers(reading: &Reading) -> bool {
        Self::READINGS.contains(&reading.asks)
            && matches!(reading.concept, Some(Concept::DiseaseActivity | Concept::Flare))
    }

    /// The span the question names: a look-back in days, or the last N readings.
    fn arguments_read(reading: &Reading) -> serde_json::Map<String, serde_json::Value> {
        crate::change::span_arguments(reading)
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
        let readings = record::das28_readings(&journey);
        let last_n = input.last_n.map(|n| n.clamp(1, 100));
        let (in_window, trend) = match last_n {
            Some(n) => {
                let kept: Vec<&Das28Reading> = readings[readings.len().saturating_sub(n as usize)..].iter().collect();
                let series: Vec<_> = kept.iter().map(|r| (r.time, r.score)).collect();
                (kept, trend(&series, STABLE_DAS28_PER_30_DAYS))
            }
            None => das28_trend(&readings, input.window_days),
        };
        let mut categories = CategoryCounts::default();
        for r in &in_window {
            match ActivityCategory::of(r.score) {
                ActivityCategory::Remission => categories.remission += 1,
                ActivityCategory::Low => categories.low += 1,
                ActivityCategory::Moderate => categories.moderate += 1,
                ActivityCategory::High => categories.high += 1,
            }
        }
        let first_in_window = in_window.first().map(|r| r.time);
        let flares: Vec<Flare> = readings
            .windows(2)
            .filter(|w| is_flare(w[0].score, w[1].score) && first_in_window.is_some_and(|t| w[1].time >= t))
            .map(|w| Flare {
                date: w[1].time.date_naive(),
                previous_date: w[0].time.date_naive(),
                from: w[0].score,
                to: w[1].score,
                rise: round2(w[1].score - w[0].score),
            })
            .collect();
        let points: Vec<Das28Point> = in_window.iter().map(|r| point(r)).collect();
        let mut trimmer = Trimmer::default();
        let output = DiseaseActivityOutput {
            patient: journey.patient.id.to_string(),
            latest: readings.last().map(point),
            window_days: input.window_days.filter(|_| last_n.is_none()),
            last_n,
            trend,
            categories_in_window: categories,
            flares_in_window: flares.len(),
            flares: trimmer.keep_last(flares, Self::MAX_ITEMS),
            readings_in_window: points.len(),
            readings: trimmer.keep_last(points, Self::MAX_ITEMS),
            readings_in_record: readings.len(),
            other_indices: index_histories(&journey.events, &mut trimmer, Self::MAX_ITEMS),
            change: input.compare_to.and_then(|to| {
                let all: Vec<_> = readings.iter().map(|r| (r.time, r.score)).collect();
                Change::of(&all, to)
            }),
        };
        Ok(Bounded::new(output, trimmer))
    }
}

/// The latest DAS28 with its date and category, the trend, flares and readings.
fn das28_facts(v: &DiseaseActivityOutput) -> Facts {
    let patient = said(&v.patient);
    let others: String = v
        .other_indices
        .iter()
        .map(|h| {
            format!(
                " Latest {} of {patient}: {} on {} ({} activity); {} readings, flares: {}.",
                h.scale.name(),
                said(&h.latest.score),
                said(&h.latest.date),
                said(&h.latest.category),
                h.readings_in_record,
                h.flares
            )
        })
        .collect();
    let Some(latest) = &v.latest else {
        if !others.is_empty() {
            return Facts::stated(format!("The record of {patient} has no DAS28 reading.{others}"));
        }
        return Facts::nothing(format!("The record of {patient} has no DAS28 reading."));
    };
    let opening = format!(
        "Latest DAS28 of {patient}: {} on {} ({} activity).",
        said(&latest.das28),
        said(&latest.date),
        said(&latest.category)
    );
    // The span the trend, flares and counts cover: the whole record unless asked.
    let span = match (v.last_n, v.window_days, v.readings.first()) {
        (Some(_), _, Some(first)) => Some(format!(
            "the last {} readings ({} to {})",
            v.readings_in_window,
            said(&first.date),
            said(&latest.date)
        )),
        (None, Some(days), _) => Some(format!("the last {days} days")),
        _ => None,
    };
    let mut each = Vec::new();
    if let Some(change) = &v.change {
        each.push((Aspect::Change, change.sentence("", Some(journey::clinical::das28::WORSE))));
    }
    match (&span, v.trend.direction) {
        (Some(span), crate::trend::Trend::InsufficientData) => {
            each.push((Aspect::Trend, format!("Too few readings for a trend over {span}.")))
        }
        (None, crate::trend::Trend::InsufficientData) => {
            each.push((Aspect::Trend, "Too few readings for a trend.".to_owned()))
        }
        (Some(span), direction) => {
            each.push((Aspect::Trend, format!("Trend over {span}: {} ({} readings).", said(&direction), v.trend.n)))
        }
        (None, direction) => each.push((Aspect::Trend, format!("Trend: {}.", said(&direction)))),
    }
    let count = match &span {
        Some(span) => format!(
            "Over {span}: {} DAS28 readings, flares: {}; the record holds {} DAS28 readings.",
            v.readings_in_window, v.flares_in_window, v.readings_in_record
        ),
        None => format!("Flares: {}; the record holds {} DAS28 readings.", v.flares_in_window, v.readings_in_record),
    };
    each.push((Aspect::Count, count));
    // The other indices (CDAI, SDAI) go with the opening: latest values.
    Facts::in_parts(format!("{opening}{others}"), each).comparing(v.change.as_ref().map(|c| c.span("")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::trend::Trend;

    fn input(window_days: Option<u32>) -> DiseaseActivityInput {
        DiseaseActivityInput { patient: PatientArg(pid("p1")), window_days, last_n: None, compare_to: None }
    }

    /// 5.8 -> 4.0 -> 2.4 -> 3.3 (a flare: +0.9 to above 3.2) -> 2.5.
    #[tokio::test]
    async fn readings_categories_flares_and_trend() {
        let chart = Chart::new("p1", "female", date(1970, 1, 1))
            .das28(day(2023, 1, 2), 5.8, 12.0, 8.0, 70.0)
            .das28(day(2023, 4, 3), 4.0, 5.0, 3.0, 40.0)
            .das28(day(2023, 7, 3), 2.4, 0.0, 0.0, 15.0)
            .das28(day(2023, 10, 2), 3.3, 3.0, 1.0, 30.0)
            .das28(day(2024, 1, 8), 2.5, 0.0, 0.0, 12.0);
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = DiseaseActivityHistory.call(&ctx, &clinician(), &scope(&["p1"]), input(None)).await.unwrap().value;
        let latest = out.latest.unwrap();
        assert_eq!((latest.das28, latest.category), (2.5, ActivityCategory::Remission));
        assert_eq!(latest.tjc28, Some(0.0));
        assert_eq!(out.readings_in_record, 5);
        assert_eq!(out.categories_in_window, CategoryCounts { remission: 2, low: 0, moderate: 2, high: 1 });
        assert_eq!(out.flares.len(), 1);
        assert_eq!((out.flares[0].from, out.flares[0].to, out.flares[0].rise), (2.4, 3.3, 0.9));
        assert_eq!(out.trend.direction, Trend::Falling);
        assert!(out.trend.slope_per_30_days.unwrap() < 0.0);

        // a 100-day window holds the last two readings and the flare between them... not
        // the earlier ones
        let out =
            DiseaseActivityHistory.call(&ctx, &clinician(), &scope(&["p1"]), input(Some(100))).await.unwrap().value;
        assert_eq!(out.readings_in_window, 2);
        assert_eq!(out.flares_in_window, 1);
        assert_eq!(out.trend.direction, Trend::InsufficientData);
    }

    /// The last three readings, asked as `last_n`: trend, readings and flares are
    /// theirs, and the facts say so with their dates.
    #[tokio::test]
    async fn the_last_n_readings_make_the_trend() {
        let chart = Chart::new("p1", "female", date(1970, 1, 1))
            .das28(day(2023, 1, 2), 2.0, 1.0, 0.0, 10.0)
            .das28(day(2023, 4, 3), 2.4, 1.0, 0.0, 12.0)
            .das28(day(2023, 7, 3), 5.0, 8.0, 6.0, 60.0)
            .das28(day(2023, 10, 2), 4.2, 6.0, 4.0, 50.0)
            .das28(day(2024, 1, 8), 3.1, 3.0, 1.0, 30.0);
        let (_dir, ctx) = store_with(vec![chart]).await;
        let input = DiseaseActivityInput { patient: PatientArg(pid("p1")), window_days: Some(3650), last_n: Some(3), compare_to: None };
        let out = DiseaseActivityHistory.call(&ctx, &clinician(), &scope(&["p1"]), input).await.unwrap().value;
        assert_eq!((out.readings_in_window, out.last_n, out.window_days), (3, Some(3), None));
        assert_eq!(out.trend.direction, Trend::Falling);
        assert_eq!(out.flares_in_window, 1, "the rise to 5.0 is the third reading's");
        let text = DiseaseActivityHistory::facts(&out).text;
        assert!(text.contains("Trend over the last 3 readings (2023-07-03 to 2024-01-08): falling (3 readings)."), "{text}");
        assert!(text.contains("Over the last 3 readings (2023-07-03 to 2024-01-08): 3 DAS28 readings, flares: 1; the record holds 5 DAS28 readings."), "{text}");
    }

    /// A clinic that records CDAI (LOINC 75847-4) and SDAI (75845-8): each series on its
    /// own scale, with its categories and flares, and stated in the facts.
    #[tokio::test]
    async fn cdai_and_sdai_are_read_on_their_own_scales() {
        let chart = Chart::new("p1", "female", date(1970, 1, 1))
            .lab(day(2023, 1, 2), "75847-4", 24.0, "{score}")
            .lab(day(2023, 4, 3), "75847-4", 8.0, "{score}")
            .lab(day(2023, 7, 3), "75847-4", 16.5, "{score}")
            .lab(day(2023, 7, 3), "75845-8", 18.0, "{score}");
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = DiseaseActivityHistory.call(&ctx, &clinician(), &scope(&["p1"]), input(None)).await.unwrap().value;
        assert!(out.latest.is_none(), "no DAS28");
        let cdai = &out.other_indices[0];
        assert_eq!((cdai.scale, cdai.readings_in_record, cdai.flares), (Scale::Cdai, 3, 1));
        assert_eq!((cdai.latest.score, cdai.latest.category), (16.5, ActivityCategory::Moderate));
        assert_eq!(out.other_indices[1].latest.category, ActivityCategory::Moderate);
        let facts = DiseaseActivityHistory::facts(&out);
        assert!(facts.text.contains("Latest CDAI of p1: 16.5 on 2023-07-03 (moderate activity)"), "{facts:?}");
    }

    /// The largest window a question can give is the whole record, not a panic.
    #[tokio::test]
    async fn an_extreme_window_is_the_whole_record() {
        let chart = Chart::new("p1", "female", date(1970, 1, 1))
            .das28(day(2023, 1, 2), 5.8, 12.0, 8.0, 70.0)
            .das28(day(2023, 4, 3), 4.0, 5.0, 3.0, 40.0);
        let (_dir, ctx) = store_with(vec![chart]).await;
        for days in [u32::MAX, 99_999_999, 1] {
            let out =
                DiseaseActivityHistory.call(&ctx, &clinician(), &scope(&["p1"]), input(Some(days))).await.unwrap().value;
            assert_eq!(out.readings_in_window, if days == 1 { 1 } else { 2 }, "{days} days");
        }
    }

    #[tokio::test]
    async fn no_readings_is_said_not_guessed() {
        let (_dir, ctx) = store_with(vec![Chart::new("p1", "female", date(1970, 1, 1))]).await;
        let out = DiseaseActivityHistory.call(&ctx, &clinician(), &scope(&["p1"]), input(None)).await.unwrap();
        assert!(out.value.latest.is_none());
        assert_eq!(out.value.readings_in_record, 0);
        assert_eq!(out.value.trend.direction, Trend::InsufficientData);
        assert!(!out.truncated);
    }

    #[tokio::test]
    async fn many_readings_are_bounded() {
        let mut chart = Chart::new("p1", "female", date(1970, 1, 1));
        for i in 0..100 {
            // alternate 2.0 / 3.5: every rise is a flare
            let score = if i % 2 == 0 { 2.0 } else { 3.5 };
            chart = chart.das28(day(2020, 1, 1) + Duration::days(20 * i), score, 4.0, 2.0, 50.0);
        }
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = DiseaseActivityHistory.call(&ctx, &clinician(), &scope(&["p1"]), input(None)).await.unwrap();
        assert_eq!(out.value.readings.len(), DiseaseActivityHistory::MAX_ITEMS);
        assert_eq!(out.value.flares_in_window, 50);
        assert_eq!(out.omitted, (100 - 24) + (50 - 24));
        assert!(serde_json::to_vec(&out).unwrap().len() <= DiseaseActivityHistory::MAX_BYTES);
    }
}
