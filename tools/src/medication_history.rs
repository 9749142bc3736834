//! `medication_history`: drug courses with start, stop, duration, stop reason and,
//! for DMARDs, the EULAR response at 6 months computed from the recorded DAS28.

use audit_log::{Principal, Role};
use chrono::{Duration, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use journey::PatientId;

use crate::bounded::{Bounded, Trimmer};
use crate::context::ToolContext;
use crate::das28::{eular_response, round2, EularResponse};
use crate::drugs::DrugClass;
use crate::error::ToolError;
use crate::facts::{names_or_none, said, Aspect, DrugFacts, Facts};
use crate::reading::{class_label, Asks, Concept, DrugGroup, Reading};
use crate::record::{self, Course, Das28Reading, PatientArg, RecordText};
use crate::registry::ToolName;
use crate::scope::Scope;
use crate::tool::Tool;
use crate::vocabulary::Vocabulary;

pub struct MedicationHistory;

/// Characters of a stop reason or dosage kept.
pub const MAX_TEXT_CHARS: usize = 200;
/// Baseline: the latest DAS28 in the 30 days up to and including the start.
pub const BASELINE_LOOKBACK_DAYS: i64 = 30;
/// "At 6 months": the reading nearest day 182 after the start, within +/-45 days.
pub const RESPONSE_DAY: i64 = 182;
pub const RESPONSE_TOLERANCE_DAYS: i64 = 45;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicationHistoryInput {
    pub patient: PatientArg,
    /// A drug, class or group the question asks about ("a biologic", {"class":
    /// "tnf_inhibitor"}, {"drug": "tocilizumab"}): the result then says whether the
    /// record holds one, and which.
    #[serde(default)]
    pub drug_group: Option<DrugGroup>,
}

/// Whether the record holds a drug of the asked group: its first course, how many
/// courses, and those still running.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct GroupOnRecord {
    pub group: DrugGroup,
    /// The group as the sentences name it ("a TNF inhibitor").
    pub label: String,
    /// The group's first course: drug and start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<DrugStart>,
    pub courses: usize,
    /// The group's drugs running at the record's last event.
    pub current: Vec<String>,
}

/// A drug and the day its first course started.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DrugStart {
    pub drug: String,
    pub start: NaiveDate,
}

/// A drug class the record holds, with its first drug and start.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ClassStart {
    pub class: DrugClass,
    pub first: DrugStart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CourseStatus {
    Ongoing,
    Stopped,
}

/// EULAR response of a DMARD course, from recorded DAS28 readings.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CourseResponse {
    pub baseline_date: NaiveDate,
    pub baseline_das28: f64,
    pub follow_up_date: NaiveDate,
    pub follow_up_das28: f64,
    /// Baseline minus follow-up (positive = better).
    pub improvement: f64,
    pub response: EularResponse,
    /// True when the course was stopped before the follow-up reading: the response
    /// is then not this drug's alone (trials count such a patient as a non-responder).
    pub stopped_before_follow_up: bool,
}

/// How a course's response is measured ([`MedicationHistoryOutput::response_measured`]).
pub const RESPONSE_MEASURED: &str = "at 6 months: the DAS28 nearest day 182 after the start (within 45 days) against \
the latest in the 30 days up to the start";

/// One course of a drug.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CourseFact {
    pub drug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rxnorm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<DrugClass>,
    pub start: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<NaiveDate>,
    pub status: CourseStatus,
    /// Stop minus start, in days (stopped courses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_days: Option<i64>,
    /// Days from start to the record's last event (ongoing courses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_on_to_last_record: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<RecordText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dosage: Option<RecordText>,
    /// DMARDs only; absent when the record has no baseline or no reading near 6 months.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eular_response_6m: Option<CourseResponse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct MedicationHistoryOutput {
    pub patient: String,
    /// Courses by start date, most recent last (the oldest are cut first).
    pub courses: Vec<CourseFact>,
    pub courses_in_record: usize,
    /// Drugs running at the record's last event.
    pub current: Vec<String>,
    /// Distinct DMARDs ever started.
    pub dmards_tried: usize,
    /// Their names, by first start: the answer to "which DMARDs has she tried?",
    /// complete even when old courses are cut from `courses`.
    pub dmards: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_record_date: Option<NaiveDate>,
    /// Every drug class ever started, by first start, with its first drug: what "was a
    /// TNF inhibitor ever started?" reads, complete even when old courses are cut.
    pub classes_started: Vec<ClassStart>,
    /// The asked group ([`MedicationHistoryInput::drug_group`]) on the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asked: Option<GroupOnRecord>,
    /// What a course's "EULAR response at 6 months" means, in the result itself (once,
    /// not per course): the facts say it, and every number RDT states is one the
    /// result holds.
    pub response_measured: &'static str,
}

/// The classes of `courses` by first start, each with its first drug.
fn classes_started(courses: &[Course]) -> Vec<ClassStart> {
    let mut by_start: Vec<&Course> = courses.iter().filter(|c| c.drug.is_some()).collect();
    by_start.sort_by_key(|c| c.start);
    let mut classes: Vec<ClassStart> = Vec::new();
    for c in by_start {
        let Some(drug) = c.drug else { continue };
        if !classes.iter().any(|k| k.class == drug.class) {
            classes.push(ClassStart { class: drug.class, first: DrugStart { drug: c.name(), start: c.start.date_naive() } });
        }
    }
    classes
}

/// The asked group on the record: its first course, count and current drugs.
fn group_on_record(group: DrugGroup, courses: &[Course], current: &[String]) -> GroupOnRecord {
    let mut held: Vec<&Course> = courses.iter().filter(|c| group.holds(&c.name(), c.drug)).collect();
    held.sort_by_key(|c| c.start);
    let mut running: Vec<String> =
        held.iter().map(|c| c.name()).filter(|name| current.contains(name)).collect();
    running.dedup();
    GroupOnRecord {
        label: group.label(),
        first: held.first().map(|c| DrugStart { drug: c.name(), start: c.start.date_naive() }),
        courses: held.len(),
        current: running,
        group,
    }
}

/// The EULAR response of a course: baseline in the 30 days up to the start, follow-up
/// nearest day 182 (+/-45, earlier on a tie). The response is as measured; whether
/// the course was stopped before is in the course's own fields.
pub(crate) fn response(course: &Course, readings: &[Das28Reading]) -> Option<CourseResponse> {
    let start = course.start.date_naive();
    let baseline = readings
        .iter()
        .filter(|r| {
            let d = r.time.date_naive();
            d <= start && (start - d).num_days() <= BASELINE_LOOKBACK_DAYS
        })
        .max_by_key(|r| r.time)?;
    let target = start + Duration::days(RESPONSE_DAY);
    let follow = readings
        .iter()
        .filter(|r| (r.time.date_naive() - target).num_days().abs() <= RESPONSE_TOLERANCE_DAYS)
        .min_by_key(|r| ((r.time.date_naive() - target).num_days().abs(), r.time))?;
    Some(CourseResponse {
        baseline_date: baseline.time.date_naive(),
        baseline_das28: baseline.score,
        follow_up_date: follow.time.date_naive(),
        follow_up_das28: follow.score,
        improvement: round2(baseline.score - follow.score),
        response: eular_response(baseline.score, follow.score),
        stopped_before_follow_up: course.stop.is_some_and(|stop| stop < follow.time),
    })
}

pub(crate) fn course_fact(course: &Course, readings: &[Das28Reading], last: Option<NaiveDate>) -> CourseFact {
    let start = course.start.date_naive();
    let stop = course.stop.map(|s| s.date_naive());
    CourseFact {
        drug: course.name(),
        rxnorm: course.drug.map(|d| d.rxnorm.to_owned()),
        class: course.drug.map(|d| d.class),
        start,
        stop,
        status: if stop.is_some() { CourseStatus::Stopped } else { CourseStatus::Ongoing },
        duration_days: stop.map(|s| (s - start).num_days()),
        days_on_to_last_record: match (stop, last) {
            (None, Some(last)) => Some((last - start).num_days().max(0)),
            _ => None,
        },
        stop_reason: course.stop_reason.as_deref().map(|t| RecordText::bounded(t, MAX_TEXT_CHARS)),
        dosage: course.dosage.as_deref().map(|t| RecordText::bounded(t, MAX_TEXT_CHARS)),
        eular_response_6m: course.is_dmard().then(|| response(course, readings)).flatten(),
    }
}

/// Drugs running on `date`, by name, each once.
pub(crate) fn current(courses: &[Course], date: Option<NaiveDate>) -> Vec<String> {
    let Some(date) = date else { return Vec::new() };
    let mut names: Vec<String> = courses.iter().filter(|c| c.ongoing_on(date)).map(Course::name).collect();
    names.sort();
    names.dedup();
    names
}

pub(crate) fn dmards_tried(courses: &[Course]) -> usize {
    let mut codes: Vec<&str> = courses.iter().filter(|c| c.is_dmard()).map(|c| c.code.code.as_str()).collect();
    codes.sort();
    codes.dedup();
    codes.len()
}

/// The distinct DMARDs of `courses` by first start (one name per drug code).
pub(crate) fn dmard_names(courses: &[Course]) -> Vec<String> {
    let mut dmards: Vec<&Course> = courses.iter().filter(|c| c.is_dmard()).collect();
    dmards.sort_by_key(|c| c.start);
    let mut seen: Vec<&str> = Vec::new();
    let mut names = Vec::new();
    for c in dmards {
        if !seen.contains(&c.code.code.as_str()) {
            seen.push(c.code.code.as_str());
            names.push(c.name());
        }
    }
    names
}

impl Tool for MedicationHistory {
    const NAME: ToolName = ToolName::MedicationHistory;
    const DESCRIPTION: &'static str = "Medication history of one patient: each drug course with start, stop, duration in days, \
stop reason as recorded, drug class, the drugs current at the last record, and for DMARDs the EULAR response at 6 months \
computed from recorded DAS28.";
    const EXAMPLES: &'static [&'static str] = &[
        "What medication is she taking at the moment?",
        "Why was methotrexate stopped?",
        "How long was she on adalimumab?",
        "Did the patient respond to methotrexate?",
        "How many DMARDs has he tried?",
    ];
    const VOCABULARY: Vocabulary = Vocabulary::boosting(&[
        "drug", "drugs", "medication", "medications", "medicine", "medicines", "treatment", "treatments", "treated",
        "therapy", "therapies", "dmard", "dmards", "disease-modifying", "csdmard", "csdmards", "biologic", "biologics",
        "taking", "prescribed", "stopped", "started", "dose", "methotrexate", "mtx", "hydroxychloroquine",
        "sulfasalazine", "leflunomide", "prednisone", "adalimumab", "etanercept", "tocilizumab", "rituximab",
        "tofacitinib", "folic acid",
    ]);
    const READINGS: &'static [Asks] = &[Asks::Value, Asks::Existence, Asks::Count, Asks::Comparison];

    /// A record fact about drugs: named, by class, or in general.
    fn answers(reading: &Reading) -> bool {
        Self::READINGS.contains(&reading.asks) && matches!(reading.concept, Some(Concept::Drugs { .. }))
    }

    /// The drug, brand or class the question names, as the group to look for.
    fn arguments_read(reading: &Reading) -> serde_json::Map<String, serde_json::Value> {
        let mut named = serde_json::Map::new();
        if let Some(group) = reading.drug_group() {
            if let Ok(value) = serde_json::to_value(group) {
                named.insert("drug_group".to_owned(), value);
            }
        }
        named
    }

    const REQUIRED_ROLE: Role = Role::Clinician;
    const MAX_ITEMS: usize = 30;
    const MAX_BYTES: usize = 24 * 1024;

    type Input = MedicationHistoryInput;
    type Output = MedicationHistoryOutput;

    fn facts(output: &Self::Output) -> Facts {
        medication_facts(output)
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
        let courses = record::courses(&journey);
        let readings = record::das28_readings(&journey);
        let last = record::last_event_date(&journey);
        let facts: Vec<CourseFact> = courses.iter().map(|c| course_fact(c, &readings, last)).collect();
        let mut trimmer = Trimmer::default();
        let running = current(&courses, last);
        let output = MedicationHistoryOutput {
            patient: journey.patient.id.to_string(),
            courses_in_record: facts.len(),
            courses: trimmer.keep_last(facts, Self::MAX_ITEMS),
            classes_started: classes_started(&courses),
            asked: input.drug_group.map(|group| group_on_record(group, &courses, &running)),
            current: trimmer.keep_first(running, Self::MAX_ITEMS),
            dmards_tried: dmards_tried(&courses),
            dmards: trimmer.keep_first(dmard_names(&courses), Self::MAX_ITEMS),
            last_record_date: last,
            response_measured: RESPONSE_MEASURED,
        };
        Ok(Bounded::new(output, trimmer))
    }
}

/// Courses the sentences describe: the most recent, as many as a prompt shows.
pub const COURSES_STATED: usize = 4;

/// Current drugs, DMARDs tried, and the most recent courses with their dates, stop
/// reasons (quoted from the record) and EULAR response at 6 months.
fn medication_facts(v: &MedicationHistoryOutput) -> Facts {
    let tried = match names_or_none(&v.dmards).as_str() {
        "none" => String::new(),
        list => format!(" ({list})"),
    };
    let opening = format!(
        "Medication history of {}: current drugs: {}; courses in the record: {}.",
        said(&v.patient),
        names_or_none(&v.current),
        v.courses_in_record,
    );
    // The DMARDs tried, a part of their own: the lead of a count ("How many DMARDs has
    // she tried?") is written from it alone, and a current-drugs lead never sees it
    // (a small model listed the drugs tried as current).
    let mut each = vec![(Aspect::Count, format!("DMARDs tried: {}{tried}.", v.dmards_tried))];
    if let Some(asked) = &v.asked {
        each.push((Aspect::Asked, asked_sentence(asked, &v.current).trim_start().to_owned()));
    }
    if !v.classes_started.is_empty() {
        let classes: Vec<String> = v
            .classes_started
            .iter()
            .map(|k| {
                let label = class_label(k.class);
                let label = label.split_once(' ').map_or(label, |(_, noun)| noun);
                format!("{label} ({} from {})", said(&k.first.drug), said(&k.first.start))
            })
            .collect();
        each.push((Aspect::Courses, format!("Drug classes ever started: {}.", classes.join(", "))));
    }
    let recent = &v.courses[v.courses.len().saturating_sub(COURSES_STATED)..];
    let described: Vec<String> = recent
        .iter()
        .map(|c| {
            let (drug, start) = (said(&c.drug), said(&c.start));
            let mut d = match (c.stop, c.duration_days) {
                (Some(stop), Some(days)) => format!("{drug} {start} to {} ({days} days)", said(&stop)),
                (Some(stop), None) => format!("{drug} {start} to {}", said(&stop)),
                (None, _) => format!("{drug} since {start} (ongoing)"),
            };
            if let Some(reason) = &c.stop_reason {
                d.push_str(&format!(", stop reason quoted from the record: \"{}\"", reason.record_text));
            }
            if let Some(r) = &c.eular_response_6m {
                d.push_str(&format!(", EULAR response at 6 months: {}", said(&r.response)));
            }
            d
        })
        .collect();
    if !described.is_empty() {
        let which = if recent.len() < v.courses.len() { "Most recent courses" } else { "Courses" };
        each.push((Aspect::Courses, format!("{which}: {}.", described.join("; "))));
    }
    let mut facts = Facts::in_parts(opening, each);
    facts.nothing_found = v.courses_in_record == 0;
    facts.with_drugs(DrugFacts {
        current: v.current.clone(),
        courses: v.courses.iter().map(|c| c.drug.clone()).collect(),
        dmards_tried: v.dmards.clone(),
    })
}

/// Whether the asked group is on the record: "Ever started a TNF inhibitor: yes,
/// adalimumab from 2021-03-02 (2 courses; running now: adalimumab)." or "Ever started
/// a biologic: no, never on record; current: methotrexate." (the same opening either
/// way, so the answer reads as yes or no to the question asked)
fn asked_sentence(asked: &GroupOnRecord, current: &[String]) -> String {
    match &asked.first {
        Some(first) => {
            let running = match asked.current.as_slice() {
                [] => "none running now".to_owned(),
                names => format!("running now: {}", names.join(", ")),
            };
            format!(
                " Ever started {}: yes, {} from {} ({} courses; {running}).",
                asked.label,
                said(&first.drug),
                said(&first.start),
                asked.courses
            )
        }
        None => format!(" Ever started {}: no, never on record; current: {}.", asked.label, names_or_none(current)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    /// The result's own words for "at 6 months" name the constants the response is
    /// computed with, so they cannot drift apart.
    #[test]
    fn the_response_says_how_it_was_measured() {
        assert!(RESPONSE_MEASURED.contains(&format!("day {RESPONSE_DAY}")));
        assert!(RESPONSE_MEASURED.contains(&format!("within {RESPONSE_TOLERANCE_DAYS} days")));
        assert!(RESPONSE_MEASURED.contains(&format!("the {BASELINE_LOOKBACK_DAYS} days")));
    }

    fn input() -> MedicationHistoryInput {
        MedicationHistoryInput { patient: PatientArg(pid("p1")), drug_group: None }
    }

    /// A patient on methotrexate, then tocilizumab: asked for a biologic, by brand or
    /// by target, the result names tocilizumab with its start; asked for a TNF
    /// inhibitor, it says none is on record and what is current.
    #[tokio::test]
    async fn an_asked_group_is_found_by_class_brand_or_target() {
        let chart = Chart::new("p1", "female", date(1970, 1, 1))
            .course("6851", "methotrexate", day(2021, 1, 4), None)
            .course("612865", "tocilizumab", day(2022, 6, 1), None)
            .das28(day(2023, 1, 2), 3.1, 2.0, 1.0, 30.0);
        let (_dir, ctx) = store_with(vec![chart]).await;
        let asked = |group: DrugGroup| {
            let ctx = &ctx;
            async move {
                let input = MedicationHistoryInput { patient: PatientArg(pid("p1")), drug_group: Some(group) };
                MedicationHistory.call(ctx, &clinician(), &scope(&["p1"]), input).await.unwrap().value
            }
        };
        for group in [
            DrugGroup::Biologic,
            DrugGroup::Drug("tocilizumab".into()),
            DrugGroup::Target(crate::drugs::Target::Il6Receptor),
        ] {
            let out = asked(group.clone()).await;
            let on = out.asked.as_ref().unwrap();
            assert_eq!(on.first.as_ref().map(|f| (f.drug.as_str(), f.start)), Some(("tocilizumab", date(2022, 6, 1))));
            let text = MedicationHistory::facts(&out).text;
            assert!(text.contains(&format!("Ever started {}: yes, tocilizumab from 2022-06-01", group.label())), "{text}");
        }
        let out = asked(DrugGroup::Class(DrugClass::TnfInhibitor)).await;
        assert!(out.asked.as_ref().unwrap().first.is_none());
        let text = MedicationHistory::facts(&out).text;
        assert!(text.contains("Ever started a TNF inhibitor: no, never on record; current: methotrexate, tocilizumab."), "{text}");
        assert!(text.contains("Drug classes ever started: csDMARD (methotrexate from 2021-01-04), non-TNF biologic (tocilizumab from 2022-06-01)."), "{text}");
    }

    /// Methotrexate 2023-01-02 .. 2023-03-15 stopped for ALT, leflunomide since then
    /// with a good response (5.6 -> 2.9 near day 182), folic acid ongoing.
    #[tokio::test]
    async fn courses_with_durations_reasons_and_response() {
        let reason = "Stopped for adverse event: ALT 160 U/L, more than 3x the upper limit of normal";
        let chart = Chart::new("p1", "female", date(1970, 1, 1))
            .course("6851", "methotrexate", day(2023, 1, 2), Some((day(2023, 3, 15), reason)))
            .course("4511", "folic acid", day(2023, 1, 2), None)
            .das28(day(2023, 3, 15), 5.6, 10.0, 6.0, 60.0)
            .course("27169", "leflunomide", day(2023, 3, 15), None)
            .das28(day(2023, 9, 20), 2.9, 2.0, 0.0, 20.0);
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = MedicationHistory.call(&ctx, &clinician(), &scope(&["p1"]), input()).await.unwrap().value;
        assert_eq!(out.courses_in_record, 3);
        let mtx = out.courses.iter().find(|c| c.drug == "methotrexate").unwrap();
        assert_eq!(mtx.status, CourseStatus::Stopped);
        assert_eq!(mtx.duration_days, Some((date(2023, 3, 15) - date(2023, 1, 2)).num_days()));
        assert_eq!(mtx.stop_reason.as_ref().unwrap().record_text, reason);
        assert_eq!(mtx.class, Some(DrugClass::Csdmard));
        assert!(mtx.eular_response_6m.is_none(), "no baseline DAS28 before methotrexate");
        let lef = out.courses.iter().find(|c| c.drug == "leflunomide").unwrap();
        assert_eq!(lef.status, CourseStatus::Ongoing);
        assert_eq!(lef.days_on_to_last_record, Some((date(2023, 9, 20) - date(2023, 3, 15)).num_days()));
        let r = lef.eular_response_6m.as_ref().unwrap();
        assert_eq!(
            (r.baseline_das28, r.follow_up_das28, r.improvement, r.response),
            (5.6, 2.9, 2.7, EularResponse::Good)
        );
        assert!(!r.stopped_before_follow_up);
        let folic = out.courses.iter().find(|c| c.drug == "folic acid").unwrap();
        assert!(folic.eular_response_6m.is_none(), "not a DMARD");
        assert_eq!(out.current, vec!["folic acid".to_owned(), "leflunomide".to_owned()]);
        assert_eq!(out.dmards_tried, 2);
        assert_eq!(out.dmards.len(), 2, "{:?}", out.dmards);
    }

    /// Methotrexate stopped at 3 months, the 6-month reading taken on the next drug:
    /// the response is computed and marked as not methotrexate's alone.
    #[tokio::test]
    async fn a_response_after_the_course_stopped_says_so() {
        let chart = Chart::new("p1", "male", date(1960, 1, 1))
            .das28(day(2023, 1, 2), 5.5, 9.0, 6.0, 60.0)
            .course("6851", "methotrexate", day(2023, 1, 2), Some((day(2023, 4, 3), "Stopped: intolerance")))
            .course("327361", "adalimumab", day(2023, 4, 3), None)
            .das28(day(2023, 7, 3), 4.5, 5.0, 3.0, 45.0);
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = MedicationHistory.call(&ctx, &clinician(), &scope(&["p1"]), input()).await.unwrap().value;
        let mtx = out.courses.iter().find(|c| c.drug == "methotrexate").unwrap();
        let r = mtx.eular_response_6m.as_ref().unwrap();
        assert_eq!((r.improvement, r.response), (1.0, EularResponse::Moderate));
        assert!(r.stopped_before_follow_up);
        let ada = out.courses.iter().find(|c| c.drug == "adalimumab").unwrap();
        assert!(ada.eular_response_6m.is_none(), "no baseline in the 30 days before adalimumab");
    }

    #[tokio::test]
    async fn long_histories_keep_the_latest_courses_and_long_reasons_are_cut() {
        let long = "x".repeat(1000);
        let mut chart = Chart::new("p1", "female", date(1970, 1, 1));
        for i in 0..40 {
            let start = day(2010, 1, 1) + Duration::days(60 * i);
            chart = chart.course("8640", "prednisone", start, Some((start + Duration::days(30), long.as_str())));
        }
        let (_dir, ctx) = store_with(vec![chart]).await;
        let out = MedicationHistory.call(&ctx, &clinician(), &scope(&["p1"]), input()).await.unwrap();
        assert!(out.truncated);
        assert_eq!(out.omitted, 10);
        assert_eq!(out.value.courses.len(), MedicationHistory::MAX_ITEMS);
        assert_eq!(out.value.courses.last().unwrap().start, (day(2010, 1, 1) + Duration::days(60 * 39)).date_naive());
        let reason = out.value.courses[0].stop_reason.as_ref().unwrap();
        assert_eq!((reason.record_text.len(), reason.omitted_chars), (MAX_TEXT_CHARS, 1000 - MAX_TEXT_CHARS));
        assert!(serde_json::to_vec(&out).unwrap().len() <= MedicationHistory::MAX_BYTES);
    }
}
