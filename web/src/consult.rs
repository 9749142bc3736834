//! The consult summary of one patient, printable: the journey in brief, the current
//! status, the in silico cohort (similar historical patients' outcomes with 95%
//! intervals beside the population and the snapshot baseline), the treatment options
//! (per option first the counterfactual head's figures for this patient with their
//! ranges from held-out patients, then the similar patients who started it, as they
//! were and weighted for who got it, beside the population, with the covariate
//! balance, two plots and the observational caveat) and the state-model forecast, all
//! from the typed tools (each call audited like the assistant's, the cohort's real ids
//! in its entry only), with the facts each tool returned under a disclosure. When the install has no twin, index or state model yet, those sections
//! say what is missing instead of failing the page.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tools::compare_treatments::{CompareTreatments, CompareTreatmentsOutput, OptionHeadOut, OptionOut};
use tools::disease_activity::DiseaseActivityHistory;
use tools::medication_history::MedicationHistory;
use tools::patient_summary::PatientSummary;
use tools::similar_patients::{Figure, HeadOut, SimilarPatients, SimilarPatientsOutput};
use tools::state_forecast::{StateForecast, StateForecastOutput};
use tools::{invoke_tool, Caller, InvokeError, Scope, Tool, ToolError};
use journey::PatientId;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{render, AppError};
use crate::journey::{plot_of, readable_journey};
use crate::layout::Chrome;
use crate::options_plot::{options_svg, Basis, Interval, OptionMarks, DAS28_270, RESPONSE};

/// A tool's call as shown on the page: its name, arguments and the facts it returned.
pub struct ToolFacts {
    pub name: String,
    pub arguments: String,
    pub facts: String,
    pub audit_seq: u64,
}

pub struct LabRow {
    pub test: String,
    pub date: String,
    pub value: String,
    pub flag: String,
}

/// One outcome of the in silico cohort: similar patients, population, snapshot baseline.
pub struct CohortRow {
    pub label: String,
    pub similar: String,
    /// The twin head's figure with its calibration interval, or why there is none.
    pub head: String,
    pub population: String,
    pub snapshot: String,
}

/// The in silico cohort section: its rows, or why there are none.
pub struct CohortSection {
    pub found: usize,
    pub index_date: String,
    pub twin_version: String,
    pub rows: Vec<CohortRow>,
    /// Plain sentences where the twin head and the similar patients disagree.
    pub disagreements: Vec<String>,
    /// Why the twin head column is empty, when it is.
    pub head_unavailable: Option<String>,
    /// Why no similar-patient rate is read for this patient, when none is.
    pub pooling_unavailable: Option<String>,
    /// The twin head's reliability plots (SVG), one per yes/no outcome.
    pub reliability_svgs: Vec<String>,
    pub method: String,
}

/// One of the counterfactual head's figures in an option's row.
pub struct HeadLine {
    /// "" for the DAS28 at day 270 (the column's own outcome), else the outcome's label.
    pub label: String,
    /// The figure with its range from held-out patients ([`head_figure`]), `None`
    /// when withheld.
    pub figure: Option<String>,
    /// What the figure's interval was measured on, or why it is withheld (shown muted).
    pub note: String,
}

/// One treatment option: its patients and figures, or why it has none.
pub struct OptionRow {
    pub label: String,
    pub enough: bool,
    /// Similar patients who started it and the neighbourhood they came from.
    pub patients: usize,
    pub neighbourhood: usize,
    /// The neighbourhood sizes tried: "50 → 100 → 200".
    pub widening: String,
    /// "not enough comparable patients (7 of 20)" when `!enough`.
    pub not_enough: String,
    /// The counterfactual head's figures for this patient, the DAS28 at day 270
    /// first; empty without a head and for an option without enough patients.
    pub head: Vec<HeadLine>,
    pub response_similar: String,
    pub response_weighted: String,
    pub response_population: String,
    /// (similar patients, weighted) for DAS28 at day 270, flare and a stop for an
    /// adverse event.
    pub das28_270: (String, String),
    pub flare: (String, String),
    pub adverse_event_stop: (String, String),
    /// The disease-state model's chance of remission or low activity under the
    /// option's treatment class, or "—".
    pub state_model: String,
    /// The option RDT ranks first: the head's lowest DAS28 at day 270, or without
    /// a head the highest weighted response, among options with enough patients.
    pub best: bool,
}

/// One covariate's standardised difference per option with enough patients.
pub struct BalanceRow {
    pub covariate: String,
    /// Per option (in `OptionsSection::balance_options` order): "0.32 → 0.05".
    pub cells: Vec<String>,
}

/// The treatment options section: its rows, balance and plot, or why there are none.
pub struct OptionsSection {
    pub decision_date: String,
    pub current_treatment: String,
    pub min_n: usize,
    pub twin_version: String,
    /// The counterfactual head's version (12 hex digits), when one is active.
    pub head_version: Option<String>,
    /// Why there is no counterfactual head, when there is none.
    pub head_unavailable: Option<String>,
    pub rows: Vec<OptionRow>,
    /// The option with the head's lowest DAS28 at day 270 (what RDT shows first).
    pub best_by_head: Option<String>,
    /// The option with the highest weighted response.
    pub best: Option<String>,
    pub balance_options: Vec<String>,
    pub balance: Vec<BalanceRow>,
    /// The response panel, then the DAS28 at day 270 panel with the head's figures.
    pub plot_svg: String,
    pub das28_plot_svg: String,
    pub method: String,
    pub caveat: String,
}

/// One horizon of the forecast: the chance of each DAS28 state with its interval.
pub struct ForecastRow {
    pub days: i64,
    pub cells: Vec<String>,
}

pub struct ForecastSection {
    pub as_of: String,
    pub current_state: String,
    pub treatment: String,
    pub states: Vec<String>,
    pub rows: Vec<ForecastRow>,
    pub assumption: String,
    pub model_patients: usize,
}

pub struct CourseRow {
    pub drug: String,
    pub class: String,
    pub start: String,
    pub stop: String,
    pub response: String,
}

#[derive(Template)]
#[template(path = "consult.html")]
struct ConsultPage {
    chrome: Chrome,
    id: String,
    /// `id` for the page's links ([`crate::href::path_segment`]).
    id_path: String,
    name: String,
    generated: String,
    sex: String,
    age: String,
    follow_up: String,
    diagnoses: Vec<String>,
    current_medications: Vec<String>,
    dmards_tried: usize,
    das28_latest: String,
    das28_category: String,
    das28_trend: String,
    flares: usize,
    readings: usize,
    labs: Vec<LabRow>,
    courses: Vec<CourseRow>,
    latest_note: String,
    plot_svg: String,
    cohort: Result<CohortSection, String>,
    options: Result<OptionsSection, String>,
    forecast: Result<ForecastSection, String>,
    calls: Vec<ToolFacts>,
}

/// An enum's snake_case serde name (`moderate`, `high`), for labels and CSS classes.
pub fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|j| j.as_str().map(str::to_owned)).unwrap_or_default()
}

fn tool_error(e: ToolError, id: &str) -> AppError {
    if e.is_refusal() {
        AppError::NotFound { what: "patient", id: id.to_owned() }
    } else {
        AppError::internal(e)
    }
}

/// Runs one typed tool as the user, on this one patient, through the one audited door
/// (`tools::invoke_tool`: role, arguments, scope, bound, the `tool_call` entry).
async fn run<T: Tool>(
    state: &AppState,
    user: &CurrentUser,
    tool: T,
    patient: &PatientId,
    arguments: serde_json::Value,
) -> Result<(T::Output, ToolFacts), AppError> {
    run_optional(state, user, tool, patient, arguments, false).await?.map_err(AppError::Internal)
}

/// [`run`] for a tool that may be unavailable on this install (no twin, index or
/// state model yet): that is the inner `Err` with the tool's reason, for the section
/// to show, not a failure of the page. Scope refusals and faults still fail the page,
/// unless `lenient`: then any error but a refusal or the trail's is the section's
/// reason (a section the page can do without, as the treatment options).
async fn run_optional<T: Tool>(
    state: &AppState,
    user: &CurrentUser,
    tool: T,
    patient: &PatientId,
    arguments: serde_json::Value,
    lenient: bool,
) -> Result<Result<(T::Output, ToolFacts), String>, AppError> {
    let principal = user.principal();
    // The session's scope for this call: the one patient the user may read (checked
    // before, by `readable_journey`).
    let scope = Scope::patients([patient.clone()]);
    let caller = Caller { principal: &principal, scope: &scope, session: Some(user.session.as_str()) };
    let (out, invoked) = match invoke_tool(tool, &state.tools(), state.audit(), caller, &arguments).await {
        Ok(done) => done,
        Err(InvokeError::Tool { error: ToolError::Unavailable { reason, .. }, .. }) => return Ok(Err(reason)),
        Err(InvokeError::Tool { error, .. }) if lenient && !error.is_refusal() => {
            return Ok(Err(tools::cause_chain(&error)))
        }
        Err(InvokeError::Tool { error, .. }) => return Err(tool_error(error, patient.as_str())),
        Err(InvokeError::Audit(e)) => return Err(e.into()),
    };
    let facts = ToolFacts {
        name: T::NAME.as_str().to_owned(),
        arguments: arguments.to_string(),
        facts: serde_json::to_string_pretty(&invoked.result.result).unwrap_or_default(),
        audit_seq: invoked.audit_seq.0,
    };
    Ok(Ok((out.value, facts)))
}

pub async fn consult_show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let journey = readable_journey(&state, &user, &id).await?;
    let patient = journey.patient.id.clone();
    // Every section asks for the defaults (no window, the last recorded day, the
    // default cohort size): the arguments are the patient alone.
    let args = serde_json::json!({ "patient": patient.as_str() });
    let (summary, f1) = run(&state, &user, PatientSummary, &patient, args.clone()).await?;
    let (activity, f2) = run(&state, &user, DiseaseActivityHistory, &patient, args.clone()).await?;
    let (meds, f3) = run(&state, &user, MedicationHistory, &patient, args.clone()).await?;
    let mut calls = vec![f1, f2, f3];
    let cohort = match run_optional(&state, &user, SimilarPatients, &patient, args.clone(), false).await? {
        Ok((out, facts)) => {
            calls.push(facts);
            Ok(cohort_section(&out))
        }
        Err(why) => Err(why),
    };
    let options = match run_optional(&state, &user, CompareTreatments, &patient, args.clone(), true).await? {
        Ok((out, facts)) => {
            calls.push(facts);
            Ok(options_section(&out))
        }
        Err(why) => Err(why),
    };
    let forecast = match run_optional(&state, &user, StateForecast, &patient, args, false).await? {
        Ok((out, facts)) => {
            calls.push(facts);
            forecast_section(&out)
        }
        Err(why) => Err(why),
    };

    let page = ConsultPage {
        chrome: Chrome::new(&user, "/patients"),
        id_path: crate::href::path_segment(&id),
        id: id.clone(),
        name: journey.patient.name.clone().unwrap_or_else(|| id.clone()),
        generated: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        sex: summary.sex.clone().unwrap_or_else(|| "unknown".into()),
        age: summary.age_at_last_event.map(|a| a.to_string()).unwrap_or_else(|| "?".into()),
        follow_up: summary.follow_up_years.map(|y| format!("{y:.1} years")).unwrap_or_else(|| "—".into()),
        diagnoses: summary
            .diagnoses
            .iter()
            .map(|d| {
                let name = d.display.as_ref().map(|t| t.record_text.clone()).unwrap_or_else(|| d.code.clone());
                format!("{name} (since {})", d.first_recorded)
            })
            .collect(),
        current_medications: summary.current_medications.clone(),
        dmards_tried: summary.dmards_tried,
        das28_latest: activity
            .latest
            .as_ref()
            .map(|p| format!("{:.2} on {}", p.das28, p.date))
            .unwrap_or_else(|| "no readings".into()),
        das28_category: activity.latest.as_ref().map(|p| label(&p.category)).unwrap_or_default(),
        das28_trend: match activity.trend.slope_per_30_days {
            Some(s) => format!("{} ({s:+.3} per 30 days, n = {})", label(&activity.trend.direction), activity.trend.n),
            None => format!("{} (n = {})", label(&activity.trend.direction), activity.trend.n),
        },
        flares: activity.flares.len(),
        readings: activity.readings_in_record,
        labs: summary
            .latest_labs
            .iter()
            .map(|l| LabRow {
                test: l.test.name().to_owned(),
                date: l.date.to_string(),
                value: format!("{} {}", l.value, l.unit),
                flag: label(&l.flag),
            })
            .collect(),
        courses: meds
            .courses
            .iter()
            .map(|c| CourseRow {
                drug: c.drug.clone(),
                class: c.class.as_ref().map(label).unwrap_or_default(),
                start: c.start.to_string(),
                stop: c.stop.map(|d| d.to_string()).unwrap_or_else(|| "ongoing".into()),
                response: c
                    .eular_response_6m
                    .as_ref()
                    .map(|r| {
                        format!(
                            "{} ({:.2} → {:.2}){}",
                            label(&r.response),
                            r.baseline_das28,
                            r.follow_up_das28,
                            if r.stopped_before_follow_up { ", stopped before follow-up" } else { "" }
                        )
                    })
                    .unwrap_or_else(|| "—".into()),
            })
            .collect(),
        latest_note: summary
            .latest_note
            .as_ref()
            .map(|n| format!("{}: {}", n.date, n.text.record_text))
            .unwrap_or_default(),
        plot_svg: plot_of(&journey).to_svg(),
        cohort,
        options,
        forecast,
        calls,
    };
    Ok(render(&page)?.into_response())
}

fn figure(f: &Figure, rate: bool) -> String {
    match f {
        Figure::Rate { n, events, percent, low_percent, high_percent } => {
            format!("{percent:.0}% ({low_percent:.0}–{high_percent:.0}%), {events} of {n}")
        }
        Figure::Mean { n, mean, low, high } => format!("{mean:.2} ({low:.2}–{high:.2}), n = {n}"),
        Figure::KaplanMeier { n, events, censored, percent, low_percent, high_percent } => format!(
            "{percent:.0}% ({low_percent:.0}–{high_percent:.0}%), Kaplan-Meier: {events} events, {n} followed, {censored} censored"
        ),
        Figure::WeightedRate { n, effective_n, percent, low_percent, high_percent } => {
            format!("{percent}% ({low_percent}–{high_percent}%), n = {n}, effective sample size {effective_n}")
        }
        Figure::WeightedMean { n, effective_n, mean, low, high } => {
            format!("{mean:.2} ({low:.2}–{high:.2}), n = {n}, effective sample size {effective_n}")
        }
        Figure::NotEnoughComparablePatients { n, min_n } => {
            let what = if rate { "patients" } else { "readings" };
            format!("not enough comparable {what} ({n} < {min_n})")
        }
    }
}

fn cohort_section(out: &SimilarPatientsOutput) -> CohortSection {
    CohortSection {
        found: out.similar_patients_found,
        index_date: out.index_date.to_string(),
        twin_version: out.twin_version.chars().take(12).collect(),
        rows: out
            .outcomes
            .iter()
            .map(|o| {
                let rate = o.snapshot_baseline_das28.is_none();
                CohortRow {
                    label: o.label.clone(),
                    similar: match &o.pooled {
                        Some(p) => format!(
                            "{}; for this patient, pooled with the usual {}%{} ({} patients' weight): {}% ({}–{}%)",
                            figure(&o.similar_patients, rate),
                            p.usual_percent,
                            if p.usual_at_decision_points { " at decision points" } else { "" },
                            p.weight_patients,
                            p.percent,
                            p.low_percent,
                            p.high_percent
                        ),
                        None => match &o.pooled_withheld {
                            Some(why) => format!("{}; not read for this patient ({why})", figure(&o.similar_patients, rate)),
                            None => figure(&o.similar_patients, rate),
                        },
                    },
                    head: match &o.twin_head {
                        Some(h) => head_figure(h),
                        None => o.twin_head_withheld.as_ref().map_or_else(|| "—".into(), |why| format!("— ({why})")),
                    },
                    population: figure(&o.population, rate),
                    snapshot: match (o.snapshot_baseline_percent, o.snapshot_baseline_das28) {
                        (Some(p), _) => format!("{p:.0}%"),
                        (_, Some(d)) => format!("{d:.2}"),
                        _ => "—".into(),
                    },
                }
            })
            .collect(),
        disagreements: out.outcomes.iter().filter_map(|o| o.disagreement.clone()).collect(),
        head_unavailable: out.twin_head_unavailable.clone(),
        pooling_unavailable: out.pooling_unavailable.clone(),
        reliability_svgs: out
            .head_reliability
            .iter()
            .map(|(label, bins, slope)| twin_core::heads::reliability_svg(label, bins, *slope))
            .collect(),
        method: out.method.to_owned(),
    }
}

/// A head's figure (the twin head's or the counterfactual head's) as a table cell,
/// with the range held-out patients give it: "3.10 (95% of 412 held-out within
/// 1.90–4.60)", "62%; of 380 held-out given a similar figure 58% (53–63%)".
fn head_figure(h: &HeadOut) -> String {
    match h {
        HeadOut::Value { das28, low, high, n } => format!("{das28:.2} (95% of {n} held-out within {low:.2}–{high:.2})"),
        HeadOut::Rate { percent, observed_percent, low_percent, high_percent, n } => format!(
            "{percent}%; of {n} held-out given a similar figure {observed_percent}% ({low_percent}–{high_percent}%)"
        ),
    }
}

/// An option's figure as a table cell: the page's [`figure`] ("45% (30–60%), 9 of 20",
/// a weighted one with its effective n, a mean DAS28), or, for an outcome too few of
/// an option's patients have, that.
fn option_figure(f: &Figure) -> String {
    match f {
        Figure::NotEnoughComparablePatients { n, min_n } => format!("too few with data ({n} < {min_n})"),
        other => figure(other, true),
    }
}

/// A figure as a point with its interval on a plot, in its own unit (a percent or a
/// DAS28); `None` without a figure.
fn interval(f: &Figure) -> Option<Interval> {
    let percent = |p: &u32| f64::from(*p);
    let patients = |n: &usize, effective_n: Option<f64>| Basis::Patients { n: *n, effective_n };
    let (value, low, high, basis) = match f {
        Figure::Rate { n, percent: p, low_percent, high_percent, .. }
        | Figure::KaplanMeier { n, percent: p, low_percent, high_percent, .. } => {
            (percent(p), percent(low_percent), percent(high_percent), patients(n, None))
        }
        Figure::WeightedRate { n, effective_n, percent: p, low_percent, high_percent } => {
            (percent(p), percent(low_percent), percent(high_percent), patients(n, Some(*effective_n)))
        }
        Figure::Mean { n, mean, low, high } => (*mean, *low, *high, patients(n, None)),
        Figure::WeightedMean { n, effective_n, mean, low, high } => (*mean, *low, *high, patients(n, Some(*effective_n))),
        Figure::NotEnoughComparablePatients { .. } => return None,
    };
    Some(Interval { value, low, high, basis })
}

/// The counterfactual head's DAS28 as a point with the range 95% of held-out
/// patients' errors fell in; `None` for a rate or no figure.
fn head_interval(h: &HeadOut) -> Option<Interval> {
    match h {
        HeadOut::Value { das28, low, high, n } => {
            Some(Interval { value: *das28, low: *low, high: *high, basis: Basis::HeldOut { n: *n } })
        }
        HeadOut::Rate { .. } => None,
    }
}

const RESPONSE_6M: &str = "response_6m";
const DAS28_DAY_270: &str = "das28_day_270";

fn option_outcome<'a>(o: &'a OptionOut, key: &str) -> Option<&'a tools::compare_treatments::OptionOutcomeOut> {
    o.outcomes.iter().find(|r| r.outcome == key)
}

/// The counterfactual head's figures of an option as shown: none for an option
/// without enough patients (never a figure below the minimum n, whatever the tool
/// gave), the DAS28 at day 270 first.
fn option_head(o: &OptionOut) -> Vec<&OptionHeadOut> {
    let mut head: Vec<&OptionHeadOut> = o.counterfactual_head.iter().filter(|_| o.enough_patients).collect();
    head.sort_by_key(|h| h.outcome != DAS28_DAY_270);
    head
}

/// An option's head figures as table lines: each figure with what its interval was
/// measured on, or why it is withheld.
fn head_lines(o: &OptionOut) -> Vec<HeadLine> {
    option_head(o)
        .into_iter()
        .map(|h| HeadLine {
            label: if h.outcome == DAS28_DAY_270 { String::new() } else { h.label.clone() },
            figure: h.figure.as_ref().map(head_figure),
            note: match (&h.figure, &h.withheld, &h.interval_from) {
                (Some(_), _, Some(from)) => format!("measured on {from}"),
                (None, Some(why), _) => format!("no figure: {why}"),
                (None, None, _) => "no figure".into(),
                (Some(_), _, None) => String::new(),
            },
        })
        .collect()
}

/// The label of the option `key` names, if it is one of the output's.
fn option_label(out: &CompareTreatmentsOutput, key: Option<&str>) -> Option<String> {
    key.and_then(|key| out.options.iter().find(|o| o.option == key)).map(|o| o.label.clone())
}

fn options_section(out: &CompareTreatmentsOutput) -> OptionsSection {
    let pair = |o: &OptionOut, key: &str| {
        option_outcome(o, key)
            .map(|r| (option_figure(&r.similar_patients), option_figure(&r.weighted)))
            .unwrap_or_else(|| ("—".into(), "—".into()))
    };
    let one = |o: &OptionOut, pick: fn(&tools::compare_treatments::OptionOutcomeOut) -> &Figure| {
        option_outcome(o, RESPONSE_6M).map(|r| option_figure(pick(r))).unwrap_or_else(|| "—".into())
    };
    // RDT ranks by the head when it names a best option, else by the weighted response.
    let best = out.best_by_head_das28_270.as_deref().or(out.best_weighted_response.as_deref());
    let rows = out
        .options
        .iter()
        .map(|o| OptionRow {
            label: o.label.clone(),
            enough: o.enough_patients,
            patients: o.patients,
            neighbourhood: o.neighbourhood,
            widening: o.widening.iter().map(|w| w.k.to_string()).collect::<Vec<_>>().join(" → "),
            not_enough: format!("not enough comparable patients ({} of {})", o.patients, out.min_n),
            head: head_lines(o),
            response_similar: one(o, |r| &r.similar_patients),
            response_weighted: one(o, |r| &r.weighted),
            response_population: one(o, |r| &r.population),
            das28_270: pair(o, DAS28_DAY_270),
            flare: pair(o, "flare_6m"),
            adverse_event_stop: pair(o, "adverse_event_stop_6m"),
            state_model: o.state_model.as_ref().map_or_else(
                || "—".into(),
                |m| {
                    format!(
                        "{}% ({}–{}%) at day {}, {} class",
                        m.remission_or_low_percent,
                        m.low_percent,
                        m.high_percent,
                        m.days,
                        m.treatment_class.replace('_', " ")
                    )
                },
            ),
            best: best == Some(o.option.as_str()),
        })
        .collect();
    let balanced: Vec<&OptionOut> = out.options.iter().filter(|o| o.enough_patients && !o.balance.is_empty()).collect();
    let covariates: Vec<String> = balanced.first().map(|o| o.balance.iter().map(|b| b.covariate.clone()).collect()).unwrap_or_default();
    let balance = covariates
        .iter()
        .map(|c| BalanceRow {
            covariate: c.clone(),
            cells: balanced
                .iter()
                .map(|o| match o.balance.iter().find(|b| &b.covariate == c) {
                    Some(b) => match b.after_weighting {
                        Some(a) => format!("{:.2} → {a:.2}", b.before),
                        None => format!("{:.2} → —", b.before),
                    },
                    None => "—".into(),
                })
                .collect(),
        })
        .collect();
    let marks = |o: &OptionOut, first: Option<Interval>, key: &str| {
        let outcome = option_outcome(o, key);
        OptionMarks {
            label: o.label.clone(),
            enough: o.enough_patients,
            patients: o.patients,
            neighbourhood: o.neighbourhood,
            min_n: out.min_n,
            marks: [first, outcome.and_then(|r| interval(&r.weighted))],
            population: outcome.and_then(|r| interval(&r.population)).map(|p| p.value),
        }
    };
    let response: Vec<OptionMarks> = out
        .options
        .iter()
        .map(|o| marks(o, option_outcome(o, RESPONSE_6M).and_then(|r| interval(&r.similar_patients)), RESPONSE_6M))
        .collect();
    let das28: Vec<OptionMarks> = out
        .options
        .iter()
        .map(|o| {
            let head = option_head(o).into_iter().find(|h| h.outcome == DAS28_DAY_270);
            marks(o, head.and_then(|h| h.figure.as_ref()).and_then(head_interval), DAS28_DAY_270)
        })
        .collect();
    OptionsSection {
        decision_date: out.decision_date.to_string(),
        current_treatment: if out.current_treatment.is_empty() {
            "none".into()
        } else {
            out.current_treatment.join(", ")
        },
        min_n: out.min_n,
        twin_version: out.twin_version.chars().take(12).collect(),
        head_version: out.head_version.as_ref().map(|v| v.chars().take(12).collect()),
        head_unavailable: out.head_unavailable.clone(),
        rows,
        best_by_head: option_label(out, out.best_by_head_das28_270.as_deref()),
        best: option_label(out, out.best_weighted_response.as_deref()),
        balance_options: balanced.iter().map(|o| o.label.clone()).collect(),
        balance,
        plot_svg: options_svg(&RESPONSE, &response),
        das28_plot_svg: options_svg(&DAS28_270, &das28),
        method: out.method.to_owned(),
        caveat: out.caveat.to_owned(),
    }
}

fn forecast_section(out: &StateForecastOutput) -> Result<ForecastSection, String> {
    if let Some(why) = &out.insufficient_data {
        return Err(why.clone());
    }
    let states: Vec<String> =
        out.horizons.first().map(|h| h.states.iter().map(|s| label(&s.state)).collect()).unwrap_or_default();
    Ok(ForecastSection {
        as_of: out.as_of.map(|d| d.to_string()).unwrap_or_default(),
        current_state: out.current_state.as_ref().map(label).unwrap_or_default(),
        treatment: out.treatment.as_ref().map(label).unwrap_or_default().replace('_', " "),
        rows: out
            .horizons
            .iter()
            .map(|h| ForecastRow {
                days: h.days,
                cells: h
                    .states
                    .iter()
                    .map(|s| {
                        format!("{:.0}% ({:.0}–{:.0}%)", 100.0 * s.probability, 100.0 * s.low, 100.0 * s.high)
                    })
                    .collect(),
            })
            .collect(),
        states,
        assumption: out.assumption.to_owned(),
        model_patients: out.model_patients,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use tools::compare_treatments::{BalanceOut, OptionOutcomeOut, StateOutlookOut, WideningOut};

    use crate::layout::Chrome;

    use super::*;

    fn rate(percent: u32) -> Figure {
        Figure::Rate { n: 30, events: 30 * percent as usize / 100, percent, low_percent: percent - 15, high_percent: percent + 15 }
    }

    fn weighted(percent: u32) -> Figure {
        Figure::WeightedRate { n: 30, effective_n: 21.4, percent, low_percent: percent - 20, high_percent: percent + 20 }
    }

    fn option(key: &str, label: &str, patients: usize, response: Option<(u32, u32, u32)>) -> OptionOut {
        let enough = response.is_some();
        let none = Figure::NotEnoughComparablePatients { n: patients, min_n: 20 };
        let (similar, weighted_fig, population) = match response {
            Some((s, w, p)) => (rate(s), weighted(w), rate(p)),
            None => (none.clone(), none.clone(), rate(40)),
        };
        let das28 = if enough {
            (Figure::Mean { n: 28, mean: 3.41, low: 3.1, high: 3.72 }, Figure::WeightedMean { n: 28, effective_n: 20.0, mean: 3.35, low: 3.0, high: 3.7 })
        } else {
            (none.clone(), none.clone())
        };
        OptionOut {
            option: key.into(),
            label: label.into(),
            enough_patients: enough,
            patients,
            neighbourhood: if enough { 200 } else { 1600 },
            widening: vec![WideningOut { k: 50, patients: patients / 4 }, WideningOut { k: 200, patients }],
            counterfactual_head: vec![],
            outcomes: vec![
                OptionOutcomeOut { outcome: "response_6m".into(), label: "response".into(), similar_patients: similar, weighted: weighted_fig, population },
                OptionOutcomeOut {
                    outcome: "das28_day_270".into(),
                    label: "DAS28 at day 270".into(),
                    similar_patients: das28.0,
                    weighted: das28.1,
                    population: Figure::Mean { n: 900, mean: 3.6, low: 3.5, high: 3.7 },
                },
            ],
            effective_n: enough.then_some(21.4),
            balance: if enough {
                vec![
                    BalanceOut { covariate: "DAS28".into(), before: 0.42, after_weighting: Some(0.05) },
                    BalanceOut { covariate: "age".into(), before: -0.2, after_weighting: None },
                ]
            } else {
                vec![]
            },
            state_model: enough.then(|| StateOutlookOut {
                treatment_class: "tnf_inhibitor".into(),
                days: 150,
                remission_or_low_percent: 44,
                low_percent: 38,
                high_percent: 51,
            }),
        }
    }

    fn output() -> CompareTreatmentsOutput {
        CompareTreatmentsOutput {
            patient: "p-1".into(),
            decision_date: NaiveDate::from_ymd_opt(2023, 5, 2).unwrap(),
            current_treatment: vec!["methotrexate".into()],
            min_n: 20,
            twin_version: "0123456789abcdef0123".into(),
            options: vec![
                option("continue", "continue the current treatment", 40, Some((35, 38, 33))),
                option("tnf_inhibitor", "TNF inhibitor", 30, Some((55, 61, 48))),
                option("rituximab", "rituximab", 7, None),
            ],
            best_by_head_das28_270: None,
            head_version: None,
            head_unavailable: Some("no option head loaded".into()),
            best_weighted_response: Some("tnf_inhibitor".into()),
            method: "the method",
            caveat: "Observational: not randomised.",
            audit: None,
            report: None,
        }
    }

    /// Options with enough patients get their figures, a mark pair on the plot and a
    /// balance column; one without says how many of the minimum started it, with no
    /// figure anywhere; the best weighted response is named.
    #[test]
    fn the_options_section_shows_figures_only_where_there_are_enough_patients() {
        let section = options_section(&output());
        assert_eq!(section.rows.len(), 3);
        let tnf = &section.rows[1];
        assert!(tnf.enough && tnf.best);
        assert_eq!(tnf.response_similar, "55% (40–70%), 16 of 30");
        assert_eq!(tnf.response_weighted, "61% (41–81%), n = 30, effective sample size 21.4");
        assert_eq!(tnf.response_population, "48% (33–63%), 14 of 30");
        assert_eq!(tnf.das28_270.0, "3.41 (3.10–3.72), n = 28");
        assert_eq!(tnf.widening, "50 → 200");
        assert_eq!(tnf.state_model, "44% (38–51%) at day 150, tnf inhibitor class");
        let few = &section.rows[2];
        assert!(!few.enough && !few.best);
        assert_eq!(few.not_enough, "not enough comparable patients (7 of 20)");
        assert_eq!(section.best.as_deref(), Some("TNF inhibitor"));
        assert_eq!(section.balance_options, vec!["continue the current treatment", "TNF inhibitor"]);
        assert_eq!(section.balance[0].cells, vec!["0.42 → 0.05", "0.42 → 0.05"]);
        assert_eq!(section.balance[1].cells[1], "-0.20 → —");
        let svg = &section.plot_svg;
        assert_eq!(svg.matches("class=\"similar\"").count(), 2);
        assert_eq!(svg.matches("class=\"weighted\"").count(), 2);
        assert_eq!(svg.matches("class=\"population\"").count(), 2);
        assert!(svg.contains("rituximab: not enough patients (7 of 20)."), "{svg}");
        assert!(!svg.contains("rituximab: similar"), "no figure for it");
        if let Ok(path) = std::env::var("RDT_OPTIONS_SVG_SAMPLE") {
            std::fs::write(path, svg).unwrap();
        }
    }

    /// The counterfactual head's DAS28 at day 270: `das28` with 95% of 412 held-out
    /// patients' errors within -1.2..+1.5 of it.
    fn head_das28(das28: f64) -> OptionHeadOut {
        OptionHeadOut {
            outcome: "das28_day_270".into(),
            label: "DAS28 at day 270".into(),
            figure: Some(HeadOut::Value { das28, low: das28 - 1.2, high: das28 + 1.5, n: 412 }),
            withheld: None,
            interval_from: Some("412 held-out decisions where it was taken".into()),
        }
    }

    /// The head's response: `percent`, among 380 held-out patients given a similar
    /// figure 4 points fewer responded (95% CI -9..+1).
    fn head_response(figure: Option<u32>) -> OptionHeadOut {
        OptionHeadOut {
            outcome: "response_6m".into(),
            label: "EULAR response at 6 months (good/moderate)".into(),
            figure: figure.map(|percent| HeadOut::Rate {
                percent,
                observed_percent: percent - 4,
                low_percent: percent - 9,
                high_percent: percent + 1,
                n: 380,
            }),
            withheld: figure.is_none().then(|| "not calibrated on held-out patients: calibration slope 0.41".into()),
            interval_from: Some("380 held-out decisions, every option pooled".into()),
        }
    }

    /// [`output`] with a head: continue (response listed before the DAS28, which must
    /// still come first) and TNF (its response withheld) have figures; rituximab, below
    /// the minimum n, carries some that must never be shown. The head ranks continue
    /// first, the weighted response TNF.
    fn output_with_head() -> CompareTreatmentsOutput {
        let mut out = output();
        let heads = [
            vec![head_response(Some(62)), head_das28(2.6)],
            vec![head_das28(3.3), head_response(None)],
            vec![head_das28(2.2), head_response(Some(70))],
        ];
        for (o, head) in out.options.iter_mut().zip(heads) {
            o.counterfactual_head = head;
        }
        out.best_by_head_das28_270 = Some("continue".into());
        out.head_version = Some("fedcba9876543210fedcba".into());
        out.head_unavailable = None;
        out
    }

    /// The whole consult page around an options section, as a clinician gets it.
    fn page_with(options: OptionsSection) -> String {
        let none = || String::new();
        let page = ConsultPage {
            chrome: Chrome { user: "dr-a".into(), role: "clinician", csrf: "t".into(), nav: vec![], active: "/patients" },
            id: "p-1".into(),
            id_path: "p-1".into(),
            name: "P".into(),
            generated: none(),
            sex: none(),
            age: none(),
            follow_up: none(),
            diagnoses: vec![],
            current_medications: vec![],
            dmards_tried: 0,
            das28_latest: none(),
            das28_category: none(),
            das28_trend: none(),
            flares: 0,
            readings: 0,
            labs: vec![],
            courses: vec![],
            latest_note: none(),
            plot_svg: none(),
            cohort: Err("no cohort".into()),
            options: Ok(options),
            forecast: Err("no forecast".into()),
            calls: vec![],
        };
        page.render().expect("the consult page renders")
    }

    /// The table row (`<tr ...> ... </tr>`) of the option labelled `label` in a rendered page.
    fn row_of<'a>(html: &'a str, label: &str) -> &'a str {
        let name = html.find(&format!("<strong>{label}</strong>")).expect("a row per option");
        let start = html[..name].rfind("<tr").expect("the row starts");
        &html[start..name + html[name..].find("</tr>").expect("the row ends")]
    }

    /// Each option with enough patients shows the head's DAS28 first, with the range
    /// from held-out patients and what it was measured on, then its response (a rate
    /// with the held-out patients' observed rate) or, muted, why it is withheld; the
    /// neighbours' figures follow; rituximab, below the minimum n, shows no head.
    #[test]
    fn the_options_section_shows_the_counterfactual_head_first() {
        let section = options_section(&output_with_head());
        let cont = &section.rows[0];
        assert_eq!(cont.head.len(), 2);
        assert_eq!(cont.head[0].label, "", "the DAS28 at day 270 is the column's own");
        assert_eq!(cont.head[0].figure.as_deref(), Some("2.60 (95% of 412 held-out within 1.40–4.10)"));
        assert_eq!(cont.head[0].note, "measured on 412 held-out decisions where it was taken");
        assert_eq!(cont.head[1].label, "EULAR response at 6 months (good/moderate)");
        assert_eq!(cont.head[1].figure.as_deref(), Some("62%; of 380 held-out given a similar figure 58% (53–63%)"));
        let tnf = &section.rows[1];
        assert_eq!(tnf.head[0].figure.as_deref(), Some("3.30 (95% of 412 held-out within 2.10–4.80)"));
        assert_eq!(tnf.head[1].figure, None);
        assert_eq!(tnf.head[1].note, "no figure: not calibrated on held-out patients: calibration slope 0.41");
        assert!(section.rows[2].head.is_empty(), "not enough patients: no head figure");
        assert_eq!(section.head_version.as_deref(), Some("fedcba987654"));

        let html = page_with(section);
        let cont = row_of(&html, "continue the current treatment");
        let head_at = cont.find("2.60 (95% of 412 held-out within 1.40–4.10)").expect("the head's DAS28");
        let response_at = cont.find("62%; of 380 held-out").expect("the head's response");
        let weighted_at = cont.find("38% (18–58%), n = 30, effective sample size 21.4").expect("the weighted response");
        assert!(head_at < response_at && response_at < weighted_at, "{cont}");
        assert!(cont.contains("<span class=\"muted\">measured on 412 held-out decisions where it was taken</span>"));
        let tnf = row_of(&html, "TNF inhibitor");
        assert!(tnf.contains("<span class=\"muted\">no figure: not calibrated on held-out patients"), "{tnf}");
        let few = row_of(&html, "rituximab");
        assert!(!few.contains("held-out") && few.contains("not enough comparable patients (7 of 20)"), "{few}");
        let th_head = html.find("<th>For this patient (counterfactual head): DAS28 at day 270</th>").expect("the head column");
        assert!(th_head < html.find("<th>Response at 6 months, weighted for who got it</th>").unwrap());
        assert!(html.contains("counterfactual head <code>fedcba987654</code>"));
    }

    /// With a head, the best line names the head's lowest DAS28 at day 270 before the
    /// weighted response, and the head's option is the row marked best; without one,
    /// a muted line says why and the weighted response marks the row.
    #[test]
    fn the_best_line_and_row_follow_the_head_when_there_is_one() {
        let with = options_section(&output_with_head());
        assert_eq!(with.best_by_head.as_deref(), Some("continue the current treatment"));
        assert_eq!(with.best.as_deref(), Some("TNF inhibitor"));
        assert_eq!(with.rows.iter().map(|r| r.best).collect::<Vec<_>>(), vec![true, false, false]);
        assert_eq!(with.head_unavailable, None);
        let html = page_with(with);
        let head_line = html
            .find("Lowest DAS28 at day 270 for this patient by the counterfactual head: <strong id=\"options-best-head\">continue the current treatment</strong>")
            .expect("the head's best line");
        assert!(head_line < html.find("Highest weighted response").expect("the weighted line"));
        assert!(row_of(&html, "continue the current treatment").starts_with("<tr class=\"best\">"));
        assert!(!row_of(&html, "TNF inhibitor").starts_with("<tr class=\"best\">"));
        assert!(!html.contains("id=\"options-head-missing\""));

        let without = options_section(&output());
        assert_eq!(without.best_by_head, None);
        assert_eq!(without.rows.iter().map(|r| r.best).collect::<Vec<_>>(), vec![false, true, false]);
        assert!(without.rows.iter().all(|r| r.head.is_empty()));
        let html = page_with(without);
        assert!(html.contains("<p class=\"muted\" id=\"options-head-missing\">No counterfactual head: no option head loaded</p>"));
        assert!(!html.contains("options-best-head"));
        let tnf = row_of(&html, "TNF inhibitor");
        assert!(tnf.starts_with("<tr class=\"best\">") && tnf.contains("<td data-label=\"Counterfactual head\" class=\"head\">—</td>"));
    }

    /// The DAS28 panel has a head mark for each option with a head DAS28 and enough
    /// patients (not rituximab's), the weighted mean beside it and the population's
    /// tick; its desc words every figure; without a head it draws no head mark.
    #[test]
    fn the_das28_panel_draws_the_head_only_where_it_has_a_figure() {
        let svg = options_section(&output_with_head()).das28_plot_svg;
        assert_eq!(svg.matches("class=\"head\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("class=\"weighted\"").count(), 2);
        assert_eq!(svg.matches("class=\"population\"").count(), 2);
        let desc = &svg[svg.find("<desc").unwrap()..svg.find("</desc>").unwrap()];
        assert!(desc.contains(
            "continue the current treatment: counterfactual head for this patient 2.60 (95% of 412 held-out patients \
             within 1.40 to 4.10); weighted for who got it 3.35 (95% interval 3.00 to 3.70; 28 patients, effective sample size 20); \
             population 3.60."
        ), "{desc}");
        assert!(desc.contains("TNF inhibitor: counterfactual head for this patient 3.30"), "{desc}");
        assert!(desc.contains("rituximab: not enough patients (7 of 20).") && !desc.contains("2.20"), "{desc}");
        if let Ok(path) = std::env::var("RDT_OPTIONS_DAS28_SVG_SAMPLE") {
            std::fs::write(path, &svg).unwrap();
        }

        let svg = options_section(&output()).das28_plot_svg;
        assert_eq!(svg.matches("class=\"head\"").count(), 0, "no head, no head mark");
        assert_eq!(svg.matches("counterfactual head: no figure").count(), 2);
        assert_eq!(svg.matches("class=\"weighted\"").count(), 2);
    }
}
