//! The ground truth: what the virtual hospital knows and its export does not say.
//!
//! One JSON object per line and patient in `ground_truth.ldjson`: the hidden subtype, the index
//! dates, and the outcomes of docs/DESIGN.md computed with [`crate::outcomes`] from the
//! patient's *recorded* DAS28 series and medication courses (so the cohort analytics,
//! run on the imported journeys, must reproduce them), plus DAS28 at days 150/270/360
//! from the *latent* course (what a perfect forecaster would predict).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::chart::Chart;
use crate::codes::Measure;
use crate::das28::Das28Variant;
use crate::medications::{Drug, DrugClass};
use crate::notes::ExtraArticular;
use crate::outcomes::{flare_within, response_at, switch_within, Das28Reading, EularResponse, SIX_MONTHS};
use crate::patient::{DiseaseRun, Setup};
use crate::subtype::{Disease, Subtype};

/// Days after the index date at which the latent DAS28 is reported.
pub const LATENT_DAYS: [i32; 3] = [150, 270, 360];
/// The flare and switch windows, in days (DESIGN.md's "within 6 months", "within 12
/// months"), as the cohort analytics use them.
pub use crate::outcomes::{FLARE_WINDOW_DAYS, SWITCH_WINDOW_DAYS};

/// One patient's hidden truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub patient_id: String,
    pub disease: Disease,
    pub subtype: Subtype,
    pub first_visit: NaiveDate,
    /// The last recorded visit: the end of what the record can tell.
    pub last_visit: NaiveDate,
    pub lost_to_follow_up: bool,
    /// The analytic index date: the first methotrexate start if there is one, else the
    /// first DMARD start. Reference date of the flare and switch outcomes.
    pub index_date: Option<NaiveDate>,
    pub index_drug: Option<Drug>,
    pub mtx_start: Option<NaiveDate>,
    pub tnfi_start: Option<NaiveDate>,
    pub das28_variant: Option<Das28Variant>,
    pub outcomes: Outcomes,
    /// Onset dates of the latent flares (whether or not a visit caught them).
    pub latent_flares: Vec<NaiveDate>,
    /// Date methotrexate was stopped for hepatotoxicity.
    pub mtx_hepatotoxicity: Option<NaiveDate>,
    pub extra_articular: Vec<ExtraArticular>,
    /// High interferon signature, for patients with an omics panel.
    pub ifn_high: Option<bool>,
    pub has_imaging: bool,
    pub has_omics: bool,
    pub has_notes: bool,
}

/// The outcomes of docs/DESIGN.md; `None` where the record cannot tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcomes {
    /// EULAR response to methotrexate at 6 months (from the MTX start).
    pub mtx_response_6m: Option<EularResponse>,
    /// EULAR response to the first TNF inhibitor at 6 months (from its start).
    pub tnfi_response_6m: Option<EularResponse>,
    /// A recorded DAS28 flare within 182 days after the index date.
    pub flare_6m: Option<bool>,
    /// Another DMARD started within 365 days after the index date.
    pub switch_12m: Option<bool>,
    /// Latent DAS28 at 150, 270 and 360 days after the index date (two decimals).
    pub das28_latent_150: Option<f64>,
    pub das28_latent_270: Option<f64>,
    pub das28_latent_360: Option<f64>,
}

/// The recorded DAS28 series of a chart (either variant), in time order.
pub fn das28_series(chart: &Chart) -> Vec<Das28Reading> {
    let mut series: Vec<Das28Reading> = chart
        .measurements
        .iter()
        .filter(|m| matches!(m.measure, Measure::Das28Esr | Measure::Das28Crp))
        .map(|m| Das28Reading { date: chart.date(m.when.day), score: m.value, scale: journey::clinical::Scale::Das28 })
        .collect();
    series.sort_by_key(|r| r.date);
    series
}

pub(crate) fn ground_truth(chart: &Chart, setup: &Setup, run: &DiseaseRun, lost: bool) -> GroundTruth {
    let first_start = |pred: &dyn Fn(Drug) -> bool| {
        chart.medications.iter().filter(|c| pred(c.drug)).map(|c| c.start.day).min()
    };
    let mtx_day = first_start(&|d| d == Drug::Methotrexate);
    let tnfi_day = first_start(&|d| d.class() == DrugClass::Tnfi);
    let dmard_day = first_start(&|d| d.is_dmard());
    let index_day = mtx_day.or(dmard_day);
    let index_drug = index_day.and_then(|day| {
        let starts = chart.medications.iter().filter(|c| c.start.day == day && c.drug.is_dmard());
        let mut drugs: Vec<Drug> = starts.map(|c| c.drug).collect();
        drugs.sort();
        drugs.first().copied()
    });
    let last_visit = chart.visits.last().map_or(chart.first_visit, |v| chart.date(v.when.day));
    let date = |day: i32| chart.date(day);
    let is_ra = setup.subtype.disease() == Disease::RheumatoidArthritis;

    let series = das28_series(chart);
    let dmard_starts: Vec<NaiveDate> =
        chart.medications.iter().filter(|c| c.drug.is_dmard()).map(|c| date(c.start.day)).collect();
    // A therapy fails when it is stopped, or when another DMARD is started after it.
    let failed_on = |drug_is: &dyn Fn(Drug) -> bool, start: i32| -> Option<NaiveDate> {
        let stopped = chart
            .medications
            .iter()
            .filter(|c| drug_is(c.drug) && c.start.day == start)
            .filter_map(|c| c.end.map(|e| e.day))
            .min();
        let other = chart
            .medications
            .iter()
            .filter(|c| c.drug.is_dmard() && !drug_is(c.drug) && c.start.day > start)
            .map(|c| c.start.day)
            .min();
        [stopped, other].into_iter().flatten().min().map(date)
    };
    let outcomes = if is_ra {
        let mtx_response_6m = mtx_day.and_then(|d| {
            response_at(&series, date(d), SIX_MONTHS, failed_on(&|x| x == Drug::Methotrexate, d))
        });
        let tnfi_response_6m = tnfi_day.and_then(|d| {
            response_at(&series, date(d), SIX_MONTHS, failed_on(&|x| x.class() == DrugClass::Tnfi, d))
        });
        let latent_at = |offset: i32| {
            let day = index_day? + offset;
            run.latent.get(usize::try_from(day).ok()?).map(|v| (*v as f64 * 100.0).round() / 100.0)
        };
        Outcomes {
            mtx_response_6m,
            tnfi_response_6m,
            flare_6m: index_day.and_then(|d| flare_within(&series, date(d), FLARE_WINDOW_DAYS)),
            switch_12m: index_day.and_then(|d| switch_within(&dmard_starts, date(d), SWITCH_WINDOW_DAYS, last_visit)),
            das28_latent_150: latent_at(LATENT_DAYS[0]),
            das28_latent_270: latent_at(LATENT_DAYS[1]),
            das28_latent_360: latent_at(LATENT_DAYS[2]),
        }
    } else {
        Outcomes {
            mtx_response_6m: None,
            tnfi_response_6m: None,
            flare_6m: None,
            switch_12m: index_day.and_then(|d| switch_within(&dmard_starts, date(d), SWITCH_WINDOW_DAYS, last_visit)),
            das28_latent_150: None,
            das28_latent_270: None,
            das28_latent_360: None,
        }
    };
    GroundTruth {
        patient_id: chart.patient_id.clone(),
        disease: setup.subtype.disease(),
        subtype: setup.subtype,
        first_visit: chart.first_visit,
        last_visit,
        lost_to_follow_up: lost,
        index_date: index_day.map(date),
        index_drug,
        mtx_start: mtx_day.map(date),
        tnfi_start: tnfi_day.map(date),
        das28_variant: run.das28_variant,
        outcomes,
        latent_flares: run.flare_onsets.iter().map(|d| date(*d)).collect(),
        mtx_hepatotoxicity: run.hepatotoxicity_day.map(date),
        extra_articular: run.extra_articular.clone(),
        ifn_high: run.ifn_high,
        has_imaging: chart.measurements.iter().any(|m| m.measure.def().category == crate::codes::Category::Imaging),
        has_omics: chart.measurements.iter().any(|m| m.measure.def().category == crate::codes::Category::Omics),
        has_notes: !chart.notes.is_empty(),
    }
}
